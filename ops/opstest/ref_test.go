package opstest

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/resnext/resnext/ops"
)

// The reference proves itself here, without any backend: each backward against central differences
// of its forward in float64, element by element, and each forward against a few results worked out
// by hand.

// checkGradient compares grads with the central differences of loss at inputs, for every element:
// |fd - grad| <= 1e-6*max|grad| + 1e-9, the max taken over the input's gradient.
func checkGradient(t *testing.T, inputs, grads [][]float64, loss func(in [][]float64) float64) {
	t.Helper()
	const h = 1e-5
	for i, x := range inputs {
		scale := 0.0
		for _, g := range grads[i] {
			scale = max(scale, math.Abs(g))
		}
		for j := range x {
			orig := x[j]
			x[j] = orig + h
			up := loss(inputs)
			x[j] = orig - h
			down := loss(inputs)
			x[j] = orig
			fd := (up - down) / (2 * h)
			if d := math.Abs(fd - grads[i][j]); d > 1e-6*scale+1e-9 || math.IsNaN(fd) {
				t.Fatalf("input %d element %d: finite difference %.10g, backward %.10g", i, j, fd, grads[i][j])
			}
		}
	}
}

func newRand(t *testing.T) *rand.Rand { return rand.New(rand.NewPCG(uint64(len(t.Name())), 7)) }

func normal(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

func TestReferenceConvGradient(t *testing.T) {
	geoms := []struct {
		name string
		g    convGeom
	}{
		{"1x1", newConvGeom(2, 3, 3, 4, 2, 1, 1, ops.Conv(1, 0, 1))},
		{"3x3_stride2_pad1_odd", newConvGeom(1, 2, 5, 7, 3, 3, 3, ops.Conv(2, 1, 1))},
		{"7x7_stride2_pad3", newConvGeom(1, 2, 9, 8, 2, 7, 7, ops.Conv(2, 3, 1))},
		{"groups2", newConvGeom(2, 4, 4, 4, 4, 3, 3, ops.Conv(1, 1, 2))},
		{"depthwise", newConvGeom(1, 3, 5, 5, 3, 3, 3, ops.Conv(1, 1, 3))},
		{"dilation2_per_axis", newConvGeom(1, 2, 7, 6, 2, 3, 2,
			ops.Conv2dParams{StrideH: 2, StrideW: 1, PadH: 1, PadW: 2, DilationH: 2, DilationW: 1, Groups: 1})},
	}
	for _, c := range geoms {
		t.Run(c.name, func(t *testing.T) {
			r := newRand(t)
			x, w := normal(r, c.g.xShape().Numel()), normal(r, c.g.wShape().Numel())
			dy := normal(r, c.g.yShape().Numel())
			dx, dw := refConv2dBackward(dy, x, w, c.g)
			checkGradient(t, [][]float64{x, w}, [][]float64{dx, dw}, func(in [][]float64) float64 {
				return dot(dy, refConv2d(in[0], in[1], c.g))
			})
		})
	}
}

func TestReferenceBatchNormGradient(t *testing.T) {
	for _, s := range []ops.Shape{{4, 3}, {2, 2, 3, 3}, {1, 2, 2, 3}} {
		t.Run(s.String(), func(t *testing.T) {
			r := newRand(t)
			g := bnGeomOf(s)
			x, dy := normal(r, s.Numel()), normal(r, s.Numel())
			gamma, beta := normal(r, g.C), normal(r, g.C)
			_, mean, invStd, _ := refBNTrain(x, gamma, beta, g, 1e-5)
			dx, dgamma, dbeta := refBNBackward(dy, x, gamma, mean, invStd, g)
			checkGradient(t, [][]float64{x, gamma, beta}, [][]float64{dx, dgamma, dbeta}, func(in [][]float64) float64 {
				y, _, _, _ := refBNTrain(in[0], in[1], in[2], g, 1e-5)
				return dot(dy, y)
			})
		})
	}
}

func TestReferenceReLUGradient(t *testing.T) {
	r := newRand(t)
	x := normal(r, 40)
	for i := range x {
		if math.Abs(x[i]) < 1e-3 {
			x[i] = 0.5
		}
	}
	dy := normal(r, len(x))
	dx := refReLUBackward(dy, refReLU(x))
	checkGradient(t, [][]float64{x}, [][]float64{dx}, func(in [][]float64) float64 { return dot(dy, refReLU(in[0])) })
}

func TestReferenceMaxPoolGradient(t *testing.T) {
	for _, c := range []struct {
		name string
		g    poolGeom
	}{
		{"3x3_stride2_pad1", newPoolGeom(1, 2, 7, 6, ops.Pool(3, 2, 1))},
		{"same_padding", newPoolGeom(1, 1, 6, 11, ops.SamePool(3, 2, 6, 11))},
		{"overlap_stride1", newPoolGeom(1, 1, 4, 5, ops.Pool(3, 1, 1))},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRand(t)
			n := c.g.xShape().Numel()
			x := make([]float64, n)
			for i, p := range r.Perm(n) {
				x[i] = float64(p) * 0.1
			}
			dy := normal(r, c.g.yShape().Numel())
			_, arg := refMaxPool(x, c.g)
			dx := refMaxPoolBackward(dy, arg, n)
			checkGradient(t, [][]float64{x}, [][]float64{dx}, func(in [][]float64) float64 {
				y, _ := refMaxPool(in[0], c.g)
				return dot(dy, y)
			})
		})
	}
}

func TestReferenceGlobalAvgPoolGradient(t *testing.T) {
	r := newRand(t)
	x, dy := normal(r, 2*3*5*4), normal(r, 2*3)
	dx := refGlobalAvgPoolBackward(dy, 20)
	checkGradient(t, [][]float64{x}, [][]float64{dx}, func(in [][]float64) float64 {
		return dot(dy, refGlobalAvgPool(in[0], 6, 20))
	})
}

func TestReferenceMatMulGradient(t *testing.T) {
	const m, n, k = 3, 4, 5
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		t.Run(transName(tr[0], tr[1]), func(t *testing.T) {
			r := newRand(t)
			a, b, dc := normal(r, m*k), normal(r, k*n), normal(r, m*n)
			// In operator form: d op(a) = dc @ op(b)^T, d op(b) = op(a)^T @ dc; stored transposed
			// when the operand is.
			opA, opB := a, b
			if tr[0] {
				opA = transpose(a, k, m)
			}
			if tr[1] {
				opB = transpose(b, n, k)
			}
			da := refMatMul(dc, opB, m, k, n, false, true)
			db := refMatMul(opA, dc, k, n, m, true, false)
			if tr[0] {
				da = transpose(da, m, k)
			}
			if tr[1] {
				db = transpose(db, k, n)
			}
			checkGradient(t, [][]float64{a, b}, [][]float64{da, db}, func(in [][]float64) float64 {
				return dot(dc, refMatMul(in[0], in[1], m, n, k, tr[0], tr[1]))
			})
		})
	}
}

func TestReferenceBiasGradient(t *testing.T) {
	r := newRand(t)
	const c, inner = 3, 4
	x, bias, dy := normal(r, 2*c*inner), normal(r, c), normal(r, 2*c*inner)
	checkGradient(t, [][]float64{x, bias}, [][]float64{dy, refBiasGrad(dy, c, inner)}, func(in [][]float64) float64 {
		return dot(dy, refBiasAdd(in[0], in[1], c, inner))
	})
}

func TestReferenceCrossEntropyGradient(t *testing.T) {
	for _, eps := range []float64{0, 0.1} {
		t.Run(fmt.Sprintf("smoothing_%g", eps), func(t *testing.T) {
			r := newRand(t)
			const n, c = 3, 5
			logits := normal(r, n*c)
			labels := []int32{0, 4, 2}
			logProb, _ := refCrossEntropy(logits, labels, n, c, eps)
			d := refCrossEntropyBackward(logProb, labels, n, c, eps, 1)
			checkGradient(t, [][]float64{logits}, [][]float64{d}, func(in [][]float64) float64 {
				_, loss := refCrossEntropy(in[0], labels, n, c, eps)
				return loss
			})
		})
	}
}

// Forward results worked out by hand.

func TestReferenceConvByHand(t *testing.T) {
	// x = 1..9 in a 3x3 image, w = 3x3 of ones, padding 1: each output sums its 3x3 neighbourhood.
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	w := []float64{1, 1, 1, 1, 1, 1, 1, 1, 1}
	y := refConv2d(x, w, newConvGeom(1, 1, 3, 3, 1, 3, 3, ops.Conv(1, 1, 1)))
	want := []float64{12, 21, 16, 27, 45, 33, 24, 39, 28}
	expectSlice(t, "3x3 pad 1", y, want)
	// Stride 2 keeps the corners.
	expectSlice(t, "stride 2", refConv2d(x, w, newConvGeom(1, 1, 3, 3, 1, 3, 3, ops.Conv(2, 1, 1))), []float64{12, 16, 24, 28})
	// Two groups of one channel: each output channel sees only its own input channel.
	x2 := []float64{1, 2, 3, 4, 10, 20, 30, 40}
	w2 := []float64{1, 2}
	expectSlice(t, "groups", refConv2d(x2, w2, newConvGeom(1, 2, 2, 2, 2, 1, 1, ops.Conv(1, 0, 2))),
		[]float64{1, 2, 3, 4, 20, 40, 60, 80})
	// Dilation 2 on a 1x5 row with a 1x2 kernel [1, -1]: y[q] = x[q] - x[q+2].
	row := []float64{1, 2, 4, 8, 16}
	expectSlice(t, "dilation", refConv2d(row, []float64{1, -1}, newConvGeom(1, 1, 1, 5, 1, 1, 2,
		ops.Conv2dParams{DilationW: 2})), []float64{-3, -6, -12})
}

func TestReferencePoolByHand(t *testing.T) {
	x := []float64{
		1, 5, 2, 0,
		3, 2, 2, 1,
		-1, 0, 2, 2,
		7, 0, 0, 2,
	}
	y, arg := refMaxPool(x, newPoolGeom(1, 1, 4, 4, ops.Pool(3, 2, 1)))
	expectSlice(t, "3x3 s2 p1", y, []float64{5, 5, 7, 2})
	// The last window (rows and columns 1..3) holds five 2s: the first in row-major order wins.
	if arg[3] != 5 {
		t.Errorf("tie went to element %d, want 5", arg[3])
	}
	expectSlice(t, "average", refGlobalAvgPool(x, 1, 16), []float64{28.0 / 16})
	// A NaN wins its window, even before a larger number; a window with nothing but -Inf gives -Inf
	// from a real element, not the padding.
	inf := math.Inf(-1)
	p := ops.Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 3, StrideW: 3, PadTop: 1, PadBottom: 1}
	y, arg = refMaxPool([]float64{1, math.NaN(), 9, inf, inf, inf}, newPoolGeom(1, 2, 1, 3, p))
	if !math.IsNaN(y[0]) || arg[0] != 1 || y[1] != inf || arg[1] != 3 {
		t.Errorf("NaN and -Inf windows: y %v at %v, want [NaN -Inf] at [1 3]", y, arg)
	}
}

func TestReferenceNormAndLossByHand(t *testing.T) {
	// One channel with values 1, 3: mean 2, biased variance 1; unbiased 2.
	y, mean, invStd, variance := refBNTrain([]float64{1, 3}, []float64{2}, []float64{0.5}, bnGeom{N: 2, C: 1, HW: 1}, 1e-12)
	expectSlice(t, "bn y", y, []float64{-1.5, 2.5})
	expectSlice(t, "bn stats", []float64{mean[0], invStd[0], variance[0]}, []float64{2, 1, 1})
	rm, rv := refBNRunning([]float64{0}, []float64{1}, mean, variance, 2, 0.1)
	expectSlice(t, "bn running", []float64{rm[0], rv[0]}, []float64{0.2, 1.1})
	// Equal logits: log-probabilities are -log C whatever the label and smoothing.
	lp, loss := refCrossEntropy([]float64{3, 3, 3, 3}, []int32{2}, 1, 4, 0.1)
	expectSlice(t, "ce uniform", append(lp, loss), []float64{-math.Log(4), -math.Log(4), -math.Log(4), -math.Log(4), math.Log(4)})
	// Smoothed target 0.1 over 4 classes: 0.925 on the label, 0.025 elsewhere.
	d := refCrossEntropyBackward(lp, []int32{2}, 1, 4, 0.1, 8)
	expectSlice(t, "ce backward", d, []float64{8 * (0.25 - 0.025), 8 * (0.25 - 0.025), 8 * (0.25 - 0.925), 8 * (0.25 - 0.025)})
	// SGD: g = 2*0.5 + 0.1*1 = 1.1; accum = 0.9*1 + 1.1 = 2; param = 1 - 0.1*2 (plain) or
	// 1 - 0.1*(1.1 + 0.9*2) (Nesterov).
	p := ops.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 0.1, GradScale: 0.5}
	np, na := refSGD([]float64{1}, []float64{2}, []float64{1}, p)
	expectSlice(t, "sgd", []float64{np[0], na[0]}, []float64{0.8, 2})
	p.Nesterov = true
	np, _ = refSGD([]float64{1}, []float64{2}, []float64{1}, p)
	expectSlice(t, "sgd nesterov", np, []float64{1 - 0.1*(1.1+0.9*2)})
}

// TestCastConstants checks the hand-written raw elements of the Cast cases against the rules of
// ops.Backend.Cast applied to the exactly decoded values: round to nearest even (big.Float at the
// target's precision, a fixed spacing among subnormals, overflow to infinity), truncation with
// saturation and NaN as 0 into integers, wrap-around between integers, nonzero as true.
func TestCastConstants(t *testing.T) {
	for _, c := range castCases {
		for i, in := range c.in {
			got, want := castRule(c.from, in, c.to), c.want[i]
			if isNaN(c.to, got) != isNaN(c.to, want) || !isNaN(c.to, want) && got != want {
				t.Errorf("%s: %#x is written as %s, the rules give %s", c.name, in, rawString(c.to, want), rawString(c.to, got))
			}
		}
	}
}

// castValue decodes a raw element of dt exactly, by hand from the formats; nan reports a NaN.
func castValue(dt ops.DType, raw uint64) (v *big.Float, nan bool) {
	var x float64
	switch dt {
	case ops.Float32:
		x = float64(math.Float32frombits(uint32(raw)))
	case ops.BFloat16:
		x = float64(math.Float32frombits(uint32(raw) << 16)) // the top half of a float32
	case ops.Float16:
		exp, frac := int(raw>>10&0x1f), float64(raw&0x3ff)
		switch exp {
		case 0:
			x = math.Ldexp(frac, -24)
		case 0x1f:
			x = math.Inf(1)
			if frac != 0 {
				x = math.NaN()
			}
		default:
			x = math.Ldexp(1024+frac, exp-25)
		}
		if raw&0x8000 != 0 {
			x = -x
		}
	case ops.Int32:
		return new(big.Float).SetInt64(int64(int32(raw))), false
	case ops.Uint8:
		return new(big.Float).SetInt64(int64(uint8(raw))), false
	case ops.Bool:
		return new(big.Float).SetInt64(int64(min(raw&0xff, 1))), false
	default:
		return new(big.Float).SetInt64(int64(raw)), false
	}
	if math.IsNaN(x) {
		return nil, true
	}
	return new(big.Float).SetFloat64(x), false
}

// castFloats are the significant bits, the exponent of the smallest normal number, the largest
// finite value and a NaN of the floating-point types.
var castFloats = map[ops.DType]struct {
	sig, minExp int
	max         float64
	nan         uint64
}{
	ops.Float32:  {24, -126, math.MaxFloat32, 0x7fc00000},
	ops.Float16:  {11, -14, 65504, 0x7e00},
	ops.BFloat16: {8, -126, math.Ldexp(255, 120), 0x7fc0},
}

// castInts are the ranges of the integer types.
var castInts = map[ops.DType][2]int64{
	ops.Int32: {math.MinInt32, math.MaxInt32},
	ops.Int64: {math.MinInt64, math.MaxInt64},
	ops.Uint8: {0, math.MaxUint8},
}

// castRule returns the raw element that the rules give for the raw element in of from, cast to to.
func castRule(from ops.DType, in uint64, to ops.DType) uint64 {
	v, nan := castValue(from, in)
	switch {
	case to == ops.Bool:
		if nan || v.Sign() != 0 {
			return 1
		}
		return 0
	case to.IsFloat() && nan:
		return castFloats[to].nan
	case nan:
		return 0
	case !to.IsFloat() && !from.IsFloat(): // wraps around
		i, _ := v.Int64()
		if to == ops.Uint8 {
			return uint64(uint8(i))
		}
		if to == ops.Int32 {
			return uint64(int64(int32(i)))
		}
		return uint64(i)
	case !to.IsFloat(): // truncates and saturates
		lim := castInts[to]
		if v.Cmp(new(big.Float).SetInt64(lim[1])) >= 0 {
			return uint64(lim[1])
		}
		if v.Cmp(new(big.Float).SetInt64(lim[0])) <= 0 {
			return uint64(lim[0])
		}
		i, _ := v.Int64() // toward zero
		return uint64(i)
	}
	f := castFloats[to]
	var r float64
	switch x, _ := v.Float64(); {
	case v.IsInf():
		r = x
	case math.Abs(x) < math.Ldexp(1, f.minExp): // zero or subnormal: a fixed spacing (x is exact here)
		q := math.Ldexp(1, f.minExp-f.sig+1)
		r = math.Copysign(math.RoundToEven(x/q)*q, x)
	default:
		r, _ = new(big.Float).SetPrec(uint(f.sig)).SetMode(big.ToNearestEven).Set(v).Float64()
		if math.Abs(r) > f.max {
			r = math.Inf(int(math.Copysign(1, r)))
		}
	}
	switch to {
	case ops.Float32:
		return uint64(math.Float32bits(float32(r)))
	case ops.BFloat16:
		return uint64(math.Float32bits(float32(r)) >> 16) // r has at most 8 significant bits
	}
	return float16Bits(r)
}

// float16Bits encodes a value that float16 holds exactly, by hand.
func float16Bits(v float64) uint64 {
	var sign uint64
	if math.Signbit(v) {
		sign, v = 0x8000, -v
	}
	switch {
	case math.IsInf(v, 0):
		return sign | 0x7c00
	case v < math.Ldexp(1, -14):
		return sign | uint64(math.Ldexp(v, 24))
	}
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	return sign | uint64(exp+14)<<10 | uint64(math.Ldexp(frac, 11))&0x3ff
}

func expectSlice(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-9*(1+math.Abs(want[i])) {
			t.Errorf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// transpose returns the [cols, rows] transpose of a [rows, cols] matrix.
func transpose(a []float64, rows, cols int) []float64 {
	t := make([]float64, len(a))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			t[j*rows+i] = a[i*cols+j]
		}
	}
	return t
}

// dot is the inner product of two vectors.
func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
