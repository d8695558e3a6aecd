package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// bnRef is a float64 reference for batch normalisation over n samples, c channels and hw values
// per (sample, channel) plane; element (i, ch, j) sits at (i*c + ch)*hw + j.
type bnRef struct{ n, c, hw int }

func bnRefOf(s ops.Shape) bnRef {
	r := bnRef{n: s[0], c: s[1], hw: 1}
	if len(s) == 4 {
		r.hw = s[2] * s[3]
	}
	return r
}

// each calls f with the flat index of every element of channel ch.
func (r bnRef) each(ch int, f func(k int)) {
	for i := range r.n {
		for j := range r.hw {
			f((i*r.c+ch)*r.hw + j)
		}
	}
}

// stats is the per-channel mean and biased variance of x.
func (r bnRef) stats(x []float64) (mean, variance []float64) {
	m := float64(r.n * r.hw)
	mean, variance = make([]float64, r.c), make([]float64, r.c)
	for ch := range r.c {
		r.each(ch, func(k int) { mean[ch] += x[k] })
		mean[ch] /= m
		r.each(ch, func(k int) { variance[ch] += (x[k] - mean[ch]) * (x[k] - mean[ch]) })
		variance[ch] /= m
	}
	return mean, variance
}

// normalize is (x - mean)/sqrt(variance + eps)*gamma + beta.
func (r bnRef) normalize(x, gamma, beta, mean, variance []float64, eps float64) []float64 {
	y := make([]float64, len(x))
	for ch := range r.c {
		r.each(ch, func(k int) { y[k] = (x[k]-mean[ch])/math.Sqrt(variance[ch]+eps)*gamma[ch] + beta[ch] })
	}
	return y
}

// backward is the gradient of training-mode normalisation, written from its definition:
// dx = gamma*invStd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)).
func (r bnRef) backward(dy, x, gamma, mean, invStd []float64) (dx, dgamma, dbeta []float64) {
	m := float64(r.n * r.hw)
	dx, dgamma, dbeta = make([]float64, len(x)), make([]float64, r.c), make([]float64, r.c)
	for ch := range r.c {
		xhat := func(k int) float64 { return (x[k] - mean[ch]) * invStd[ch] }
		r.each(ch, func(k int) {
			dbeta[ch] += dy[k]
			dgamma[ch] += dy[k] * xhat(k)
		})
		r.each(ch, func(k int) {
			dx[k] = gamma[ch] * invStd[ch] / m * (m*dy[k] - dbeta[ch] - xhat(k)*dgamma[ch])
		})
	}
	return dx, dgamma, dbeta
}

// bnShapes covers batch 1, C = 1, 1x1 planes, odd sizes, [N, C] and one shape large enough to run
// on several threads.
var bnShapes = []ops.Shape{
	{2, 3, 4, 5}, {1, 1, 1, 2}, {1, 3, 3, 3}, {5, 7, 1, 1}, {3, 5, 7, 9}, {6, 4}, {1, 1, 5, 1}, {8, 16, 32, 32},
}

// bnInput is random data with a different offset and spread per channel.
func (k *kit) bnInput(r bnRef) []float32 {
	x := k.randn(r.n*r.c*r.hw, 1)
	for ch := range r.c {
		off, scale := float32(k.rng.NormFloat64()*3), float32(0.1+2*k.rng.Float64())
		r.each(ch, func(i int) { x[i] = x[i]*scale + off })
	}
	return x
}

func TestBatchNormTrain(t *testing.T) {
	k := newKit(t)
	const momentum, eps = 0.1, 1e-5
	for _, shape := range bnShapes {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			k.t = t
			r := bnRefOf(shape)
			xd, gd, bd := k.bnInput(r), k.randn(r.c, 1), k.randn(r.c, 1)
			rmd, rvd := k.randn(r.c, 1), k.randn(r.c, 1)
			for i := range rvd {
				rvd[i] = 0.5 + rvd[i]*rvd[i]
			}
			mean, variance := r.stats(widen(xd))
			y := r.normalize(widen(xd), widen(gd), widen(bd), mean, variance, eps)
			m := float64(r.n * r.hw)
			invStd, wantRM, wantRV := make([]float64, r.c), make([]float64, r.c), make([]float64, r.c)
			for ch := range r.c {
				invStd[ch] = 1 / math.Sqrt(variance[ch]+eps)
				wantRM[ch] = (1-momentum)*float64(rmd[ch]) + momentum*mean[ch]
				wantRV[ch] = (1-momentum)*float64(rvd[ch]) + momentum*variance[ch]*m/(m-1)
			}

			x, gamma, beta := k.tensor(shape, xd), k.tensor(ops.Shape{r.c}, gd), k.tensor(ops.Shape{r.c}, bd)
			rm, rv := k.tensor(ops.Shape{r.c}, rmd), k.tensor(ops.Shape{r.c}, rvd)
			out, sm, si := k.out(shape...), k.out(r.c), k.out(r.c)
			k.b.BatchNormTrain(x, gamma, beta, rm, rv, out, sm, si, momentum, eps)
			k.close("y", k.read(out), y, 2e-5)
			k.close("saveMean", k.read(sm), mean, 1e-6)
			k.close("saveInvStd", k.read(si), invStd, 1e-6)
			k.close("runMean", k.read(rm), wantRM, 1e-6)
			k.close("runVar", k.read(rv), wantRV, 1e-6)
		})
	}
}

// TestBatchNormTrainAccuracy uses many values per channel, far from zero: statistics summed in
// float32 would be visibly off.
func TestBatchNormTrainAccuracy(t *testing.T) {
	k := newKit(t)
	shape := ops.Shape{2, 2, 256, 256}
	r := bnRefOf(shape)
	xd := k.randn(shape.Numel(), 0.05)
	for i := range xd {
		xd[i] += 1000
	}
	mean, variance := r.stats(widen(xd))
	invStd := make([]float64, r.c)
	for ch := range invStd {
		invStd[ch] = 1 / math.Sqrt(variance[ch]+1e-5)
	}
	ones, zeros := []float32{1, 1}, []float32{0, 0}
	x, sm, si, y := k.tensor(shape, xd), k.out(2), k.out(2), k.out(shape...)
	rm, rv := k.tensor(ops.Shape{2}, zeros), k.tensor(ops.Shape{2}, ones)
	k.b.BatchNormTrain(x, k.tensor(ops.Shape{2}, ones), k.tensor(ops.Shape{2}, zeros), rm, rv, y, sm, si, 0.1, 1e-5)
	k.close("saveMean", k.read(sm), mean, 1e-7)
	k.close("saveInvStd", k.read(si), invStd, 1e-5)
	k.close("y", k.read(y), r.normalize(widen(xd), []float64{1, 1}, []float64{0, 0}, mean, variance, 1e-5), 1e-3)
}

func TestBatchNormInfer(t *testing.T) {
	k := newKit(t)
	const eps = 1e-3
	for _, shape := range bnShapes {
		r := bnRefOf(shape)
		xd, gd, bd, md, vd := k.bnInput(r), k.randn(r.c, 1), k.randn(r.c, 1), k.randn(r.c, 2), k.randn(r.c, 1)
		for i := range vd {
			vd[i] *= vd[i]
		}
		want := r.normalize(widen(xd), widen(gd), widen(bd), widen(md), widen(vd), eps)
		y := k.out(shape...)
		c := ops.Shape{r.c}
		k.b.BatchNormInfer(k.tensor(shape, xd), k.tensor(c, gd), k.tensor(c, bd), k.tensor(c, md), k.tensor(c, vd), y, eps)
		k.close(fmt.Sprintf("y %v", shape), k.read(y), want, 1e-4)
	}
}

func TestBatchNormBackward(t *testing.T) {
	k := newKit(t)
	for _, shape := range bnShapes {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			k.t = t
			r := bnRefOf(shape)
			xd, dyd, gd := k.bnInput(r), k.randn(shape.Numel(), 1), k.randn(r.c, 1)
			mean, variance := r.stats(widen(xd))
			md, isd := make([]float32, r.c), make([]float32, r.c)
			for ch := range r.c {
				md[ch], isd[ch] = float32(mean[ch]), float32(1/math.Sqrt(variance[ch]+1e-5))
			}
			dx, dgamma, dbeta := r.backward(widen(dyd), widen(xd), widen(gd), widen(md), widen(isd))

			c := ops.Shape{r.c}
			x, dy, gamma, sm, si := k.tensor(shape, xd), k.tensor(shape, dyd), k.tensor(c, gd), k.tensor(c, md), k.tensor(c, isd)
			gotDx, gotDg, gotDb := k.out(shape...), k.out(r.c), k.out(r.c)
			k.b.BatchNormBackward(dy, x, gamma, sm, si, gotDx, gotDg, gotDb)
			// dx cancels three terms of similar size: compare it on the scale of gamma*invStd*dy.
			scale := 0.0
			for ch := range r.c {
				scale = math.Max(scale, math.Abs(float64(gd[ch]*isd[ch])))
			}
			k.closeScaled("dx", k.read(gotDx), dx, 1e-5, scale)
			k.close("dgamma", k.read(gotDg), dgamma, 1e-5)
			k.close("dbeta", k.read(gotDb), dbeta, 1e-5)

			k.b.Fill(gotDx, math.NaN())
			k.b.BatchNormBackward(dy, x, gamma, sm, si, gotDx, nil, nil)
			k.closeScaled("dx without dgamma and dbeta", k.read(gotDx), dx, 1e-5, scale)
		})
	}
}

// TestBatchNormBackwardReference checks the reference gradient itself against central finite
// differences of the reference forward (all in float64), for L = sum(y * r).
func TestBatchNormBackwardReference(t *testing.T) {
	k := newKit(t)
	shape := ops.Shape{2, 3, 2, 2}
	r := bnRefOf(shape)
	x, rr, gamma, beta := widen(k.bnInput(r)), widen(k.randn(shape.Numel(), 1)), widen(k.randn(3, 1)), widen(k.randn(3, 1))
	loss := func(x, gamma, beta []float64) float64 {
		mean, variance := r.stats(x)
		s := 0.0
		for i, v := range r.normalize(x, gamma, beta, mean, variance, 1e-5) {
			s += v * rr[i]
		}
		return s
	}
	mean, variance := r.stats(x)
	invStd := make([]float64, r.c)
	for ch := range invStd {
		invStd[ch] = 1 / math.Sqrt(variance[ch]+1e-5)
	}
	dx, dgamma, dbeta := r.backward(rr, x, gamma, mean, invStd)
	numeric := func(v []float64, i int) float64 {
		const h = 1e-5
		old := v[i]
		v[i] = old + h
		up := loss(x, gamma, beta)
		v[i] = old - h
		down := loss(x, gamma, beta)
		v[i] = old
		return (up - down) / (2 * h)
	}
	check := func(what string, v, grad []float64) {
		for i := range v {
			if n := numeric(v, i); math.Abs(n-grad[i]) > 1e-6*(1+math.Abs(n)) {
				t.Errorf("%s[%d]: analytic %v, numeric %v", what, i, grad[i], n)
			}
		}
	}
	check("dx", x, dx)
	check("dgamma", gamma, dgamma)
	check("dbeta", beta, dbeta)
}

func TestBatchNormMisuse(t *testing.T) {
	k := newKit(t)
	x, y, c3, c4 := k.out(2, 3, 4, 4), k.out(2, 3, 4, 4), k.out(3), k.out(4)
	k.panics(func() { k.b.BatchNormTrain(x, c4, c3, c3, c3, y, c3, c3, 0.1, 1e-5) }, "ops.BatchNormTrain", "gamma", "[4]", "[3]")
	k.panics(func() { k.b.BatchNormTrain(k.out(1, 3), c3, c3, c3, c3, k.out(1, 3), c3, c3, 0.1, 1e-5) }, "ops.BatchNormTrain", "one value per channel")
	k.panics(func() { k.b.BatchNormInfer(x, c3, c3, c3, c3, k.out(2, 3, 4, 5), 1e-5) }, "ops.BatchNormInfer", "y")
	k.panics(func() { k.b.BatchNormBackward(x, x, c3, c3, c3, y, c4, nil) }, "ops.BatchNormBackward", "dgamma")
	h := k.b.Alloc(ops.Float16, ops.Shape{2, 3, 4, 4})
	k.panics(func() { k.b.BatchNormInfer(h, c3, c3, c3, c3, k.b.Alloc(ops.Float16, ops.Shape{2, 3, 4, 4}), 1e-5) }, "ops.BatchNormInfer", "float16")
}
