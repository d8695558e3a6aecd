package cpu

import (
	"math"

	"github.com/resnext/resnext/ops"
)

// Batch normalisation over the channels of x [N, C, H, W] or [N, C]. A channel's values sit in N
// planes of H*W contiguous elements, one per sample, C*H*W apart. Statistics are summed in float64
// (mean first, then squared deviations from it), so they stay accurate for large N*H*W.

// bnLayout is where the values of one channel sit in x.
type bnLayout struct {
	n, c, hw int
}

func bnLayoutOf(s ops.Shape) bnLayout {
	l := bnLayout{n: s[0], c: s[1], hw: 1}
	if len(s) == 4 {
		l.hw = s[2] * s[3]
	}
	return l
}

// count is the number of values per channel.
func (l bnLayout) count() int { return l.n * l.hw }

// plane is channel ch's plane of sample i in s.
func (l bnLayout) plane(s []float32, i, ch int) []float32 {
	off := (i*l.c + ch) * l.hw
	return s[off : off+l.hw]
}

// BatchNormTrain normalises x with its batch statistics, saves the mean and inverse standard
// deviation for the backward and updates the running statistics (PyTorch's momentum convention,
// unbiased variance).
func (b *Backend) BatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd ops.Tensor, momentum, eps float64) {
	const op = "BatchNormTrain"
	ops.CheckBatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd, momentum, eps)
	xs, ys := f32(op, x), f32(op, y)
	gs, bs := f32(op, gamma), f32(op, beta)
	rm, rv := f32(op, runMean), f32(op, runVar)
	sm, si := f32(op, saveMean), f32(op, saveInvStd)
	l := bnLayoutOf(x.Shape())
	m := float64(l.count())
	b.parallelFor(l.c, 3*l.count(), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean, sq := l.stats(xs, ch)
			invStd := 1 / math.Sqrt(sq/m+eps)
			sm[ch], si[ch] = float32(mean), float32(invStd)
			rm[ch] = float32((1-momentum)*float64(rm[ch]) + momentum*mean)
			rv[ch] = float32((1-momentum)*float64(rv[ch]) + momentum*sq/(m-1))
			l.normalize(xs, ys, ch, float32(mean), float32(invStd*float64(gs[ch])), bs[ch])
		}
	})
}

// stats returns the mean of channel ch and the sum of squared deviations from it.
func (l bnLayout) stats(xs []float32, ch int) (mean, sq float64) {
	var sum float64
	for i := range l.n {
		sum += sum64(l.plane(xs, i, ch))
	}
	mean = sum / float64(l.count())
	for i := range l.n {
		sq += sqDev64(l.plane(xs, i, ch), mean)
	}
	return mean, sq
}

// BatchNormInfer normalises x with the given mean and variance.
func (b *Backend) BatchNormInfer(x, gamma, beta, mean, variance, y ops.Tensor, eps float64) {
	const op = "BatchNormInfer"
	ops.CheckBatchNormInfer(x, gamma, beta, mean, variance, y, eps)
	xs, ys := f32(op, x), f32(op, y)
	gs, bs := f32(op, gamma), f32(op, beta)
	ms, vs := f32(op, mean), f32(op, variance)
	l := bnLayoutOf(x.Shape())
	b.parallelFor(l.c, 2*l.count(), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			invStd := 1 / math.Sqrt(float64(vs[ch])+eps)
			l.normalize(xs, ys, ch, ms[ch], float32(invStd*float64(gs[ch])), bs[ch])
		}
	})
}

// normalize writes y = (x - mean)*scale + shift for every value of channel ch.
func (l bnLayout) normalize(xs, ys []float32, ch int, mean, scale, shift float32) {
	for i := range l.n {
		xp, yp := l.plane(xs, i, ch), l.plane(ys, i, ch)
		for j, v := range xp {
			yp[j] = (v-mean)*scale + shift
		}
	}
}

// BatchNormBackward computes dx, and dgamma and dbeta when they are not nil, from the statistics
// BatchNormTrain saved. With xhat = (x - mean)*invStd and M = N*H*W values per channel:
// dbeta = sum(dy), dgamma = sum(dy*xhat), dx = gamma*invStd*(dy - dbeta/M - xhat*dgamma/M).
func (b *Backend) BatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta ops.Tensor) {
	const op = "BatchNormBackward"
	ops.CheckBatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	dys, xs, dxs := f32(op, dy), f32(op, x), f32(op, dx)
	gs, sm, si := f32(op, gamma), f32(op, saveMean), f32(op, saveInvStd)
	dgs, dbs := optF32(op, dgamma), optF32(op, dbeta)
	l := bnLayoutOf(x.Shape())
	m := float64(l.count())
	b.parallelFor(l.c, 4*l.count(), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean, invStd := float64(sm[ch]), float64(si[ch])
			var sdy, sdyx float64
			for i := range l.n {
				dyp := l.plane(dys, i, ch)
				sdy += sum64(dyp)
				sdyx += dotDev64(dyp, l.plane(xs, i, ch), mean)
			}
			if dbs != nil {
				dbs[ch] = float32(sdy)
			}
			if dgs != nil {
				dgs[ch] = float32(sdyx * invStd)
			}
			a := float32(float64(gs[ch]) * invStd)
			mdy := float32(sdy / m)
			k := float32(sdyx * invStd * invStd / m)
			for i := range l.n {
				dyp, xp, dxp := l.plane(dys, i, ch), l.plane(xs, i, ch), l.plane(dxs, i, ch)
				for j, g := range dyp {
					dxp[j] = a * (g - mdy - (xp[j]-sm[ch])*k)
				}
			}
		}
	})
}
