package opstest

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// sgdCases are every combination of plain and Nesterov momentum, momentum 0 and 0.9, weight decay
// 0 and 0.01, and gradient scale 0 (meaning 1), 1 and 1/1024 (gradients come scaled up, as under a
// loss scale).
var sgdCases = func() (cases []ops.SGDParams) {
	for _, nesterov := range []bool{false, true} {
		for _, momentum := range []float64{0, 0.9} {
			for _, wd := range []float64{0, 1e-2} {
				for _, gs := range []float64{0, 1, 1.0 / 1024} {
					cases = append(cases, ops.SGDParams{LR: 0.1, Momentum: momentum, WeightDecay: wd, Nesterov: nesterov, GradScale: gs})
				}
			}
		}
	}
	return cases
}()

func sgdName(p ops.SGDParams) string {
	kind := "plain"
	if p.Nesterov {
		kind = "nesterov"
	}
	return fmt.Sprintf("%s/momentum_%g/weight_decay_%g/grad_scale_%g", kind, p.Momentum, p.WeightDecay, p.GradScale)
}

// sgdShapes are the shapes of every SGD case: a small one and one long enough to be split across
// threads; the case with every feature on also runs on a larger one.
func sgdShapes(p ops.SGDParams) []ops.Shape {
	if p.Nesterov && p.Momentum != 0 && p.WeightDecay != 0 && p.GradScale != 0 && p.GradScale != 1 {
		return []ops.Shape{{3, 5}, {20011}, {100003}}
	}
	return []ops.Shape{{3, 5}, {20011}}
}

// testSGDMomentum runs three steps (the accumulator carries over) and compares the accumulator and
// the change of the parameters, not the parameters themselves, so that a small term such as the
// weight decay is not lost in the rounding of parameters much larger than one step.
func testSGDMomentum(t *testing.T, b ops.Backend) {
	for _, p := range sgdCases {
		for _, shape := range sgdShapes(p) {
			run(t, b, sgdName(p)+"/"+dims(shape), func(e *env) {
				n := shape.Numel()
				param, accum := e.randn(n), e.randnScaled(n, 0, 0.1)
				P, A := e.tensor(shape, param), e.tensor(shape, accum)
				wantP, wantA := f64(param), f64(accum)
				gs := p.GradScale
				if gs == 0 {
					gs = 1
				}
				for range 3 {
					grad := e.randnScaled(n, 0, 1/gs)
					G := e.tensor(shape, grad)
					b.SGDMomentum(P, G, A, p)
					e.unchanged("grad", G, grad)
					e.free(G)
					wantP, wantA = refSGD(wantP, f64(grad), wantA, p)
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

// finiteTensor is a tensor of dtype dt holding values (converted to dt) or, for the half types,
// the raw bit patterns raw.
type finiteTensor struct {
	dt     ops.DType
	values []float32
	raw    []uint16
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
	{"finite", []finiteTensor{{dt: ops.Float32, values: ramp(33)}}, true},
	{"finite_extremes", []finiteTensor{{dt: ops.Float32, values: []float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0}}}, true},
	{"nan_first", []finiteTensor{{dt: ops.Float32, values: with(ramp(33), 0, nan)}}, false},
	{"nan_last", []finiteTensor{{dt: ops.Float32, values: with(ramp(33), -1, nan)}}, false},
	{"pos_inf", []finiteTensor{{dt: ops.Float32, values: with(ramp(17), 9, pinf)}}, false},
	{"neg_inf", []finiteTensor{{dt: ops.Float32, values: with(ramp(17), 3, ninf)}}, false},
	{"large_finite", []finiteTensor{{dt: ops.Float32, values: ramp(100003)}}, true},
	{"large_nan_last", []finiteTensor{{dt: ops.Float32, values: with(ramp(100003), -1, nan)}}, false},
	{"several_finite", []finiteTensor{{dt: ops.Float32, values: ramp(5)}, {dt: ops.Float32, values: ramp(1)}, {dt: ops.Float32, values: ramp(300)}}, true},
	{"several_inf_in_last", []finiteTensor{{dt: ops.Float32, values: ramp(5)}, {dt: ops.Float32, values: ramp(1)}, {dt: ops.Float32, values: with(ramp(300), 123, pinf)}}, false},
	{"several_nan_in_first", []finiteTensor{{dt: ops.Float32, values: with(ramp(5), 2, nan)}, {dt: ops.Float32, values: ramp(300)}}, false},
	{"float16_finite_max", []finiteTensor{{dt: ops.Float16, values: []float32{65504, -65504, 1, 0}}}, true},
	{"float16_inf", []finiteTensor{{dt: ops.Float16, values: with(ramp(19), 7, pinf)}}, false},
	{"float16_overflow_to_inf", []finiteTensor{{dt: ops.Float16, values: with(ramp(19), 7, 70000)}}, false},
	{"float16_nan", []finiteTensor{{dt: ops.Float16, values: with(ramp(19), -1, nan)}}, false},
	{"bfloat16_finite", []finiteTensor{{dt: ops.BFloat16, values: []float32{3e38, -1, 0}}}, true},
	{"bfloat16_neg_inf", []finiteTensor{{dt: ops.BFloat16, values: with(ramp(9), 0, ninf)}}, false},
	{"mixed_dtypes_nan_in_float16", []finiteTensor{{dt: ops.Float32, values: ramp(10)}, {dt: ops.Float16, values: with(ramp(10), 4, nan)}}, false},
	{"nan_then_finite_float16", []finiteTensor{{dt: ops.Float32, values: []float32{nan}}, {dt: ops.Float16, values: []float32{1}}}, false},
	{"large_neg_inf_early", []finiteTensor{{dt: ops.Float32, values: with(ramp(100003), 3, ninf)}}, false},
	{"float16_finite_max_subnormal_neg_zero", []finiteTensor{{dt: ops.Float16, raw: []uint16{0x7bff, 0xfbff, 0x0001, 0x8000}}}, true},
	{"float16_neg_inf", []finiteTensor{{dt: ops.Float16, raw: []uint16{0xfc00, 0}}}, false},
	{"float16_signalling_nan", []finiteTensor{{dt: ops.Float16, raw: []uint16{0x3c00, 0xfc01}}}, false},
	// 0x7c00 is a finite bfloat16 (2^121) whose bits are float16's +Inf.
	{"bfloat16_finite_max", []finiteTensor{{dt: ops.BFloat16, raw: []uint16{0x7f7f, 0xff7f, 0x7c00}}}, true},
	{"bfloat16_nan", []finiteTensor{{dt: ops.BFloat16, raw: []uint16{0x3f80, 0x7fc0}}}, false},
}

func testAllFinite(t *testing.T, b ops.Backend) {
	for _, c := range finiteCases {
		run(t, b, c.name, func(e *env) {
			ts := make([]ops.Tensor, len(c.tensors))
			for i, ft := range c.tensors {
				if ft.raw != nil {
					ts[i] = e.alloc(ft.dt, ops.Shape{len(ft.raw)})
					b.Write(ts[i], ops.Bytes(ft.raw))
					continue
				}
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
