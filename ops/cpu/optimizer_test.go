package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// sgdRef is one momentum-SGD step in float64, in place on param and accum.
func sgdRef(param, grad, accum []float64, p ops.SGDParams) {
	scale := p.GradScale
	if scale == 0 {
		scale = 1
	}
	for i := range param {
		g := grad[i]*scale + p.WeightDecay*param[i]
		accum[i] = p.Momentum*accum[i] + g
		step := accum[i]
		if p.Nesterov {
			step = g + p.Momentum*accum[i]
		}
		param[i] -= p.LR * step
	}
}

func TestSGDMomentum(t *testing.T) {
	k := newKit(t)
	for _, n := range []int{1, 37, 70001} {
		for _, nesterov := range []bool{false, true} {
			for _, wd := range []float64{0, 1e-4} {
				for _, gs := range []float64{0, 1, 1.0 / 1024} {
					for _, mom := range []float64{0, 0.9} {
						p := ops.SGDParams{LR: 0.1, Momentum: mom, WeightDecay: wd, Nesterov: nesterov, GradScale: gs}
						k.checkSGD(n, p)
					}
				}
			}
		}
	}
}

// checkSGD runs three steps with fresh gradients from a nonzero accumulator and compares param and
// accum with the reference.
func (k *kit) checkSGD(n int, p ops.SGDParams) {
	k.t.Helper()
	gradScale := 1.0
	if p.GradScale != 0 {
		gradScale = 1 / p.GradScale // gradients come scaled up, as under a loss scale
	}
	pd, ad := k.randn(n, 1), k.randn(n, 0.1)
	param, accum := k.tensor(ops.Shape{n}, pd), k.tensor(ops.Shape{n}, ad)
	wantP, wantA := widen(pd), widen(ad)
	for step := range 3 {
		gd := k.randn(n, gradScale)
		k.b.SGDMomentum(param, k.tensor(ops.Shape{n}, gd), accum, p)
		sgdRef(wantP, widen(gd), wantA, p)
		what := fmt.Sprintf("n=%d %+v step %d", n, p, step)
		k.close("param "+what, k.read(param), wantP, 1e-6)
		k.close("accum "+what, k.read(accum), wantA, 1e-6)
	}
}

func TestSGDMomentumMisuse(t *testing.T) {
	k := newKit(t)
	p := ops.SGDParams{LR: 0.1, Momentum: 0.9}
	param, accum := k.out(4), k.out(4)
	k.panics(func() { k.b.SGDMomentum(param, k.b.Alloc(ops.Float16, ops.Shape{4}), accum, p) }, "ops.SGDMomentum", "float16")
	k.panics(func() { k.b.SGDMomentum(param, k.out(5), accum, p) }, "ops.SGDMomentum", "grad", "[5]")
	k.panics(func() { k.b.SGDMomentum(param, k.out(4), accum, ops.SGDParams{LR: -1}) }, "ops.SGDMomentum", "negative")
}

func TestAllFinite(t *testing.T) {
	k := newKit(t)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	big := k.randn(300001, 1e30)
	tests := []struct {
		name string
		dt   ops.DType
		vals [][]float32 // one slice per tensor
		bits [][]uint16  // raw float16/bfloat16 tensors, after vals
		want bool
	}{
		{"none", ops.Float32, nil, nil, true},
		{"finite float32", ops.Float32, [][]float32{{0, -1, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}, big}, nil, true},
		{"float32 NaN", ops.Float32, [][]float32{{1, 2}, {3, nan}}, nil, false},
		{"float32 +Inf", ops.Float32, [][]float32{{inf}}, nil, false},
		{"float32 -Inf", ops.Float32, [][]float32{{1, -inf, 2}}, nil, false},
		{"float32 NaN far into a large tensor", ops.Float32, [][]float32{withAt(big, 299999, nan)}, nil, false},
		{"float32 Inf early in a large tensor", ops.Float32, [][]float32{withAt(big, 3, -inf)}, nil, false},
		{"finite float16", ops.Float16, nil, [][]uint16{{0x7bff, 0xfbff, 0x0001, 0x8000}}, true},
		{"float16 +Inf", ops.Float16, nil, [][]uint16{{0x3c00}, {0x7c00}}, false},
		{"float16 -Inf", ops.Float16, nil, [][]uint16{{0xfc00, 0}}, false},
		{"float16 NaN", ops.Float16, nil, [][]uint16{{0, 0x7e00}}, false},
		{"float16 signalling NaN", ops.Float16, nil, [][]uint16{{0xfc01}}, false},
		{"finite bfloat16", ops.BFloat16, nil, [][]uint16{{0x7f7f, 0xff7f, 0x7c00}}, true},
		{"bfloat16 Inf", ops.BFloat16, nil, [][]uint16{{0x3f80, 0xff80}}, false},
		{"bfloat16 NaN", ops.BFloat16, nil, [][]uint16{{0x7fc0}}, false},
	}
	for _, tt := range tests {
		var ts []ops.Tensor
		for _, v := range tt.vals {
			ts = append(ts, k.tensor(ops.Shape{len(v)}, v))
		}
		for _, h := range tt.bits {
			x := k.b.Alloc(tt.dt, ops.Shape{len(h)})
			k.b.Write(x, ops.Bytes(h))
			ts = append(ts, x)
		}
		out := k.b.Alloc(ops.Bool, nil)
		k.b.Fill(out, 7)
		k.b.AllFinite(ts, out)
		got, err := ops.ToBool(k.b, out)
		if err != nil || got[0] != tt.want {
			t.Errorf("%s: AllFinite = %v (%v), want %v", tt.name, got, err, tt.want)
		}
	}
	// A finite tensor after a bad one does not reset the answer, and mixed dtypes are fine.
	h := k.b.Alloc(ops.Float16, ops.Shape{1})
	k.b.Fill(h, 1)
	out := k.b.Alloc(ops.Bool, nil)
	k.b.AllFinite([]ops.Tensor{k.tensor(ops.Shape{1}, []float32{nan}), h}, out)
	if got, _ := ops.ToBool(k.b, out); got[0] {
		t.Error("AllFinite forgot a NaN followed by a finite float16 tensor")
	}
	k.panics(func() { k.b.AllFinite([]ops.Tensor{k.b.Alloc(ops.Int32, ops.Shape{1})}, out) }, "ops.AllFinite", "ts[0]", "int32")
	k.panics(func() { k.b.AllFinite(nil, k.out()) }, "ops.AllFinite", "out", "bool")
}

// withAt returns a copy of v with v[i] = x.
func withAt(v []float32, i int, x float32) []float32 {
	w := append([]float32(nil), v...)
	w[i] = x
	return w
}
