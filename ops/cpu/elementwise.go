package cpu

import "github.com/resnext/resnext/ops"

// Elementwise kernels, the bias broadcast and the float64 reductions the other kernels share.

// vecLoops are the inner loops of the kernels besides SGEMM, on one vector unit: AVX2 assembly on
// amd64 (avx2Loops), else the portable loops (goLoops). Each SGEMM micro-kernel carries the loops of
// its vector unit (microKernel.vec), so that forcing a kernel forces the whole code path, and
// forcing "go" the portable one everywhere. The batch norm loops work on one channel (see
// bnLayout.channel).
type vecLoops struct {
	// relu writes y = max(x, 0) (see reluGo); reluGrad writes dx = dy where y > 0, else 0 (see
	// reluGradGo).
	relu     func(x, y []float32)
	reluGrad func(dy, y, dx []float32)
	// poolRow3s2 and poolCol3 are the two passes of the 3x3 stride-2 max pool (see poolRow3s2Go
	// and poolCol3Go).
	poolRow3s2 func(x []float32, n, c0 int, hv []float32, hc []int32)
	poolCol3   func(v0, v1, v2 []float32, c0, c1, c2 []int32, o0, o1, o2 int, y []float32, mask []int32)
	// taps and tapDot are the kernels of the convolutions by taps (see tapsGo and tapDotGo).
	taps   func(k int, a, base []float32, offs []int, reach int, c []float32, ldc int)
	tapDot func(k int, a []float32, lda int, base []float32, offs []int, reach int, out []float32)
	// bnStats returns the sums of d and d*d, d = x - shift, in float64.
	bnStats func(l bnLayout, x []float32, shift float64) (s1, s2 float64)
	// bnNormalize writes y = (x - mean)*scale + shift.
	bnNormalize func(l bnLayout, x, y []float32, mean, scale, shift float32)
	// bnBackSums returns the sums of dy and of dy*(x - mean), in float64.
	bnBackSums func(l bnLayout, dy, x []float32, mean float64) (sdy, sdyx float64)
	// bnBackDx writes dx = a*(dy - mdy - (x - mean)*k).
	bnBackDx func(l bnLayout, dy, x, dx []float32, mean, a, mdy, k float32)
	// add writes y = a + alpha*b over y's length.
	add func(a, b, y []float32, alpha float32)
}

// goLoops are the portable loops, for every CPU.
var goLoops = vecLoops{relu: reluGo, reluGrad: reluGradGo, taps: tapsGo, tapDot: tapDotGo,
	poolRow3s2: poolRow3s2Go, poolCol3: poolCol3Go,
	bnStats: bnStatsGo, bnNormalize: bnNormalizeGo, bnBackSums: bnBackSumsGo, bnBackDx: bnBackDxGo, add: addGo}

// vec returns the loops that go with the Backend's SGEMM kernel.
func (b *Backend) vec() *vecLoops { return b.kernel.vec }

// ReLU computes y = max(x, 0). NaN stays NaN, as in PyTorch. y may be x.
func (b *Backend) ReLU(x, y ops.Tensor) {
	const op = "ReLU"
	ops.CheckUnary(op, x, y)
	xs, ys := f32(op, x), f32(op, y)
	relu := b.vec().relu
	b.parallelFor(len(xs), 1, func(lo, hi int) { relu(xs[lo:hi], ys[lo:hi]) })
}

// reluGo is the portable ReLU loop: y = x where x >= 0 or NaN, else 0 (-0 stays -0).
func reluGo(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		y[i] = v
	}
}

// reluGradGo is the portable ReLU gradient loop: dx = dy unless y <= 0.
func reluGradGo(dy, y, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		g := dy[i]
		if v <= 0 {
			g = 0
		}
		dx[i] = g
	}
}

// ReLUBackward computes dx = 0 where y <= 0, else dy (a NaN in y passes dy, as in PyTorch). dx may
// be dy.
func (b *Backend) ReLUBackward(dy, y, dx ops.Tensor) {
	const op = "ReLUBackward"
	ops.CheckReLUBackward(dy, y, dx)
	dys, ys, dxs := f32(op, dy), f32(op, y), f32(op, dx)
	grad := b.vec().reluGrad
	b.parallelFor(len(ys), 1, func(lo, hi int) { grad(dys[lo:hi], ys[lo:hi], dxs[lo:hi]) })
}

// Add computes y = a + alpha*b. y may be a or b.
func (b *Backend) Add(a, bb, y ops.Tensor, alpha float64) {
	const op = "Add"
	ops.CheckBinary(op, a, bb, y)
	as, bs, ys := f32(op, a), f32(op, bb), f32(op, y)
	k := float32(alpha)
	add := b.vec().add
	b.parallelFor(len(ys), 1, func(lo, hi int) { add(as[lo:hi], bs[lo:hi], ys[lo:hi], k) })
}

// addGo is the portable loop of Add: y = a + alpha*b, over y's length.
func addGo(a, b, y []float32, alpha float32) {
	a, b = a[:len(y)], b[:len(y)]
	for i := range y {
		y[i] = a[i] + alpha*b[i]
	}
}

// Scale computes y = alpha*x. y may be x.
func (b *Backend) Scale(x, y ops.Tensor, alpha float64) {
	const op = "Scale"
	ops.CheckUnary(op, x, y)
	xs, ys := f32(op, x), f32(op, y)
	k := float32(alpha)
	b.parallelFor(len(ys), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] = k * xs[i]
		}
	})
}

// BiasAdd computes y = x + bias along dimension 1 of x [N, C, ...]. y may be x.
func (b *Backend) BiasAdd(x, bias, y ops.Tensor) {
	const op = "BiasAdd"
	ops.CheckBias(op, x, bias, y)
	xs, bs, ys := f32(op, x), f32(op, bias), f32(op, y)
	c, inner := dim1(x.Shape())
	b.parallelFor(len(xs)/max(inner, 1), inner, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			v := bs[p%c]
			for i := p * inner; i < (p+1)*inner; i++ {
				ys[i] = xs[i] + v
			}
		}
	})
}

// BiasGrad sums dy [N, C, ...] over every dimension but 1 into db [C].
func (b *Backend) BiasGrad(dy, db ops.Tensor) {
	const op = "BiasGrad"
	ops.CheckBias(op, dy, db, nil)
	dys, dbs := f32(op, dy), f32(op, db)
	c, inner := dim1(dy.Shape())
	n := dy.Shape()[0]
	b.parallelFor(c, n*inner, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := range n {
				off := (i*c + ch) * inner
				s += sum64(dys[off : off+inner])
			}
			dbs[ch] = float32(s)
		}
	})
}

// dim1 splits a shape [N, C, ...] into C and the number of elements behind one (n, c) pair.
func dim1(s ops.Shape) (c, inner int) {
	c, inner = s[1], 1
	for _, d := range s[2:] {
		inner *= d
	}
	return c, inner
}

// sum64 is the sum of s, accumulated in float64 (four lanes, to keep the adds independent).
func sum64(s []float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a0 += float64(s[i])
		a1 += float64(s[i+1])
		a2 += float64(s[i+2])
		a3 += float64(s[i+3])
	}
	for ; i < len(s); i++ {
		a0 += float64(s[i])
	}
	return (a0 + a1) + (a2 + a3)
}
