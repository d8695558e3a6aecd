package opstest

import (
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

var sgdCases = []struct {
	name string
	p    ops.SGDParams
}{
	{"momentum", ops.SGDParams{LR: 0.1, Momentum: 0.9, GradScale: 1}},
	{"nesterov", ops.SGDParams{LR: 0.1, Momentum: 0.9, Nesterov: true, GradScale: 1}},
	{"weight_decay", ops.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-2, GradScale: 1}},
	{"nesterov_weight_decay_grad_scale", ops.SGDParams{LR: 0.05, Momentum: 0.9, WeightDecay: 1e-2, Nesterov: true, GradScale: 1.0 / 1024}},
	{"grad_scale_zero_means_1", ops.SGDParams{LR: 0.1, Momentum: 0.9}},
	{"no_momentum", ops.SGDParams{LR: 0.1, WeightDecay: 1e-2, GradScale: 1}},
}

// testSGDMomentum runs three steps (the accumulator carries over) and compares the accumulator and
// the change of the parameters, not the parameters themselves, so that a small term such as the
// weight decay is not lost in the rounding of parameters much larger than one step.
func testSGDMomentum(t *testing.T, b ops.Backend) {
	for _, c := range sgdCases {
		for _, shape := range []ops.Shape{{3, 5}, {100003}} {
			run(t, b, c.name+"/"+dims(shape), func(e *env) {
				n := shape.Numel()
				param, accum := e.randn(n), e.randnScaled(n, 0, 0.1)
				P, A := e.tensor(shape, param), e.tensor(shape, accum)
				wantP, wantA := f64(param), f64(accum)
				gs := c.p.GradScale
				if gs == 0 {
					gs = 1
				}
				for range 3 {
					grad := e.randnScaled(n, 0, 1/gs)
					G := e.tensor(shape, grad)
					b.SGDMomentum(P, G, A, c.p)
					e.unchanged("grad", G, grad)
					e.free(G)
					wantP, wantA = refSGD(wantP, f64(grad), wantA, c.p)
				}
				gotP := e.read(P)
				gotStep, wantStep := make([]float32, n), make([]float64, n)
				for i := range gotP {
					gotStep[i] = float32(float64(gotP[i]) - float64(param[i]))
					wantStep[i] = wantP[i] - float64(param[i])
				}
				e.near("param change", gotStep, wantStep, tolElem)
				e.near("accum", e.read(A), wantA, tolElem)
				e.sync()
			})
		}
	}
}

// finiteCase is one AllFinite input: tensors given by dtype and values.
type finiteCase struct {
	name    string
	tensors []finiteTensor
	want    bool
}

type finiteTensor struct {
	dt     ops.DType
	values []float32
}

func ramp(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%97) - 48
	}
	return v
}

// with returns a copy of v with v[i] = x.
func with(v []float32, i int, x float32) []float32 {
	v = append([]float32(nil), v...)
	if i < 0 {
		i += len(v)
	}
	v[i] = x
	return v
}

var (
	nan  = float32(math.NaN())
	pinf = float32(math.Inf(1))
	ninf = float32(math.Inf(-1))
)

var finiteCases = []finiteCase{
	{"no_tensors", nil, true},
	{"finite", []finiteTensor{{ops.Float32, ramp(33)}}, true},
	{"finite_extremes", []finiteTensor{{ops.Float32, []float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0}}}, true},
	{"nan_first", []finiteTensor{{ops.Float32, with(ramp(33), 0, nan)}}, false},
	{"nan_last", []finiteTensor{{ops.Float32, with(ramp(33), -1, nan)}}, false},
	{"pos_inf", []finiteTensor{{ops.Float32, with(ramp(17), 9, pinf)}}, false},
	{"neg_inf", []finiteTensor{{ops.Float32, with(ramp(17), 3, ninf)}}, false},
	{"large_finite", []finiteTensor{{ops.Float32, ramp(100003)}}, true},
	{"large_nan_last", []finiteTensor{{ops.Float32, with(ramp(100003), -1, nan)}}, false},
	{"several_finite", []finiteTensor{{ops.Float32, ramp(5)}, {ops.Float32, ramp(1)}, {ops.Float32, ramp(300)}}, true},
	{"several_inf_in_last", []finiteTensor{{ops.Float32, ramp(5)}, {ops.Float32, ramp(1)}, {ops.Float32, with(ramp(300), 123, pinf)}}, false},
	{"several_nan_in_first", []finiteTensor{{ops.Float32, with(ramp(5), 2, nan)}, {ops.Float32, ramp(300)}}, false},
	{"float16_finite_max", []finiteTensor{{ops.Float16, []float32{65504, -65504, 1, 0}}}, true},
	{"float16_inf", []finiteTensor{{ops.Float16, with(ramp(19), 7, pinf)}}, false},
	{"float16_overflow_to_inf", []finiteTensor{{ops.Float16, with(ramp(19), 7, 70000)}}, false},
	{"float16_nan", []finiteTensor{{ops.Float16, with(ramp(19), -1, nan)}}, false},
	{"bfloat16_finite", []finiteTensor{{ops.BFloat16, []float32{3e38, -1, 0}}}, true},
	{"bfloat16_neg_inf", []finiteTensor{{ops.BFloat16, with(ramp(9), 0, ninf)}}, false},
	{"mixed_dtypes_nan_in_float16", []finiteTensor{{ops.Float32, ramp(10)}, {ops.Float16, with(ramp(10), 4, nan)}}, false},
}

func testAllFinite(t *testing.T, b ops.Backend) {
	for _, c := range finiteCases {
		run(t, b, c.name, func(e *env) {
			ts := make([]ops.Tensor, len(c.tensors))
			for i, ft := range c.tensors {
				ts[i] = e.tensorOf(ft.dt, ops.Shape{len(ft.values)}, ft.values)
			}
			out := e.alloc(ops.Bool, ops.Shape{})
			// Start from the wrong answer so that an out the kernel does not write is caught.
			if c.want {
				b.Fill(out, 0)
			} else {
				b.Fill(out, 1)
			}
			b.AllFinite(ts, out)
			got, err := ops.ToBool(b, out)
			if err != nil {
				e.t.Fatalf("read out: %v", err)
			}
			if got[0] != c.want {
				e.t.Errorf("AllFinite = %v, want %v", got[0], c.want)
			}
			e.sync()
		})
	}
}
