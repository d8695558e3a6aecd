package cpu

import (
	"math"

	"github.com/resnext/resnext/ops"
)

// Batch normalisation over the channels of x [N, C, H, W] or [N, C]. A channel's values sit in N
// planes of H*W contiguous elements, one per sample, C*H*W apart. Statistics are summed in float64,
// so they stay accurate for large N*H*W, in one pass over the channel as a rule: the sums of d and
// d*d with d = x - K, K the channel's first value (see bnLayout.stats). The inner loops are the Backend's
// vecLoops: AVX2 assembly on amd64 (batchnorm_amd64.s), else the portable loops below.

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

// stride is the distance between two planes of a channel.
func (l bnLayout) stride() int { return l.c * l.hw }

// channel is s from the first value of channel ch on: the slice the loops of vecLoops take.
func (l bnLayout) channel(s []float32, ch int) []float32 { return s[ch*l.hw:] }

// plane is the i-th plane of a channel that starts at s[0] (see channel).
func (l bnLayout) plane(s []float32, i int) []float32 {
	off := i * l.stride()
	return s[off : off+l.hw]
}

// check panics unless every slice holds a channel (l.n planes of l.hw values, l.stride() apart)
// from its start: the assembly loops do no bounds checks of their own.
func (l bnLayout) check(ss ...[]float32) {
	if l.n < 0 || l.hw < 0 || l.c < 1 {
		panic("ops/cpu: bad batch-norm layout")
	}
	if l.n == 0 || l.hw == 0 {
		return
	}
	for _, s := range ss {
		if len(s) < (l.n-1)*l.stride()+l.hw {
			panic("ops/cpu: batch-norm operand too short")
		}
	}
}

// BatchNormTrain normalises x with its batch statistics, saves the mean and inverse standard
// deviation for the backward and updates the running statistics (PyTorch's momentum convention,
// unbiased variance).
func (b *Backend) BatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd ops.Tensor, momentum, eps float64) {
	b.bnTrain("BatchNormTrain", x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd, momentum, eps, false)
}

// BatchNormReLUTrain is BatchNormTrain with a ReLU on each channel of y as soon as it is written,
// while it is in cache (ops.BatchNormReLU).
func (b *Backend) BatchNormReLUTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd ops.Tensor, momentum, eps float64) {
	b.bnTrain("BatchNormReLUTrain", x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd, momentum, eps, true)
}

// reluChannel applies ReLU in place to the channel that starts at y[0].
func (l bnLayout) reluChannel(v *vecLoops, y []float32) {
	for i := range l.n {
		p := l.plane(y, i)
		v.relu(p, p)
	}
}

// reluGradChannel writes the ReLU's gradient over the channel of dy that starts at dy[0], from
// the channel of the ReLU's output that starts at y[0].
func (l bnLayout) reluGradChannel(v *vecLoops, dy, y []float32) {
	for i := range l.n {
		d := l.plane(dy, i)
		v.reluGrad(d, l.plane(y, i), d)
	}
}

func (b *Backend) bnTrain(op string, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd ops.Tensor, momentum, eps float64, relu bool) {
	ops.CheckBatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd, momentum, eps)
	xs, ys := f32(op, x), f32(op, y)
	gs, bs := f32(op, gamma), f32(op, beta)
	rm, rv := f32(op, runMean), f32(op, runVar)
	sm, si := f32(op, saveMean), f32(op, saveInvStd)
	l := bnLayoutOf(x.Shape())
	m := float64(l.count())
	v := b.vec()
	b.parallelClaim(l.c, 3*l.count(), func(next func() (int, bool)) {
		for ch, ok := next(); ok; ch, ok = next() {
			xc := l.channel(xs, ch)
			mean, sq := l.stats(v, xc)
			invStd := 1 / math.Sqrt(sq/m+eps)
			sm[ch], si[ch] = float32(mean), float32(invStd)
			rm[ch] = float32((1-momentum)*float64(rm[ch]) + momentum*mean)
			rv[ch] = float32((1-momentum)*float64(rv[ch]) + momentum*sq/(m-1))
			yc := l.channel(ys, ch)
			v.bnNormalize(l, xc, yc, float32(mean), float32(invStd*float64(gs[ch])), bs[ch])
			if relu {
				l.reluChannel(v, yc)
			}
		}
	})
}

// stats returns the mean of the channel that starts at x[0] and the sum of squared deviations from
// it, from shifted sums: with S1 = sum(x-K) and S2 = sum((x-K)^2) over M values, the mean is
// K + S1/M and the sum of squares S2 - S1^2/M. Unlike the textbook one-pass formula (K = 0), this
// loses nothing to cancellation while K is near the mean: S2 is the sum of squares plus
// M*(mean-K)^2. So one pass takes the channel's first value for K (0 when that is not finite, so
// that an infinity still gives an infinite mean), which is within a few standard deviations of the
// mean unless it is an outlier; when S2 comes out more than 16 times the result, a second pass
// takes the mean for K, which is the two-pass algorithm with its rounding corrected.
func (l bnLayout) stats(v *vecLoops, x []float32) (mean, sq float64) {
	k := 0.0
	if l.count() > 0 {
		if x0 := float64(x[0]); !math.IsInf(x0, 0) && !math.IsNaN(x0) {
			k = x0
		}
	}
	mean, sq, s2 := l.shiftedStats(v, x, k)
	if s2 > 16*sq {
		mean, sq, _ = l.shiftedStats(v, x, mean)
	}
	return mean, sq
}

// shiftedStats returns the mean and the sum of squared deviations of the channel from its sums
// shifted by k (see stats), and the sum of the squares of x-k.
func (l bnLayout) shiftedStats(v *vecLoops, x []float32, k float64) (mean, sq, s2 float64) {
	s1, s2 := v.bnStats(l, x, k)
	d := s1 / float64(l.count())
	return k + d, max(s2-s1*d, 0), s2
}

// BatchNormInfer normalises x with the given mean and variance.
func (b *Backend) BatchNormInfer(x, gamma, beta, mean, variance, y ops.Tensor, eps float64) {
	b.bnInfer("BatchNormInfer", x, gamma, beta, mean, variance, y, eps, false)
}

// BatchNormReLUInfer is BatchNormInfer with a ReLU on each channel of y while it is in cache.
func (b *Backend) BatchNormReLUInfer(x, gamma, beta, mean, variance, y ops.Tensor, eps float64) {
	b.bnInfer("BatchNormReLUInfer", x, gamma, beta, mean, variance, y, eps, true)
}

func (b *Backend) bnInfer(op string, x, gamma, beta, mean, variance, y ops.Tensor, eps float64, relu bool) {
	ops.CheckBatchNormInfer(x, gamma, beta, mean, variance, y, eps)
	xs, ys := f32(op, x), f32(op, y)
	gs, bs := f32(op, gamma), f32(op, beta)
	ms, vs := f32(op, mean), f32(op, variance)
	l := bnLayoutOf(x.Shape())
	v := b.vec()
	b.parallelClaim(l.c, 2*l.count(), func(next func() (int, bool)) {
		for ch, ok := next(); ok; ch, ok = next() {
			invStd := 1 / math.Sqrt(float64(vs[ch])+eps)
			yc := l.channel(ys, ch)
			v.bnNormalize(l, l.channel(xs, ch), yc, ms[ch], float32(invStd*float64(gs[ch])), bs[ch])
			if relu {
				l.reluChannel(v, yc)
			}
		}
	})
}

// BatchNormBackward computes dx, and dgamma and dbeta when they are not nil, from the statistics
// BatchNormTrain saved. With xhat = (x - mean)*invStd and M = N*H*W values per channel:
// dbeta = sum(dy), dgamma = sum(dy*xhat), dx = gamma*invStd*(dy - dbeta/M - xhat*dgamma/M).
func (b *Backend) BatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta ops.Tensor) {
	const op = "BatchNormBackward"
	ops.CheckBatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	b.bnBackward(op, dy, x, nil, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
}

// BatchNormReLUBackward is BatchNormBackward of the ReLU's gradient, which it writes over dy one
// channel at a time, just before the channel's sums read it back from cache (ops.BatchNormReLU).
func (b *Backend) BatchNormReLUBackward(dy, x, y, gamma, saveMean, saveInvStd, dx, dgamma, dbeta ops.Tensor) {
	const op = "BatchNormReLUBackward"
	ops.CheckBatchNormReLUBackward(dy, x, y, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	b.bnBackward(op, dy, x, f32(op, y), gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
}

// bnBackward is BatchNormBackward, after ReLUBackward(dy, y, dy) on each channel when y is set.
func (b *Backend) bnBackward(op string, dy, x ops.Tensor, ys []float32, gamma, saveMean, saveInvStd, dx, dgamma, dbeta ops.Tensor) {
	dys, xs, dxs := f32(op, dy), f32(op, x), f32(op, dx)
	gs, sm, si := f32(op, gamma), f32(op, saveMean), f32(op, saveInvStd)
	dgs, dbs := optF32(op, dgamma), optF32(op, dbeta)
	l := bnLayoutOf(x.Shape())
	m := float64(l.count())
	v := b.vec()
	b.parallelClaim(l.c, 4*l.count(), func(next func() (int, bool)) {
		for ch, ok := next(); ok; ch, ok = next() {
			dyc, xc := l.channel(dys, ch), l.channel(xs, ch)
			if ys != nil {
				l.reluGradChannel(v, dyc, l.channel(ys, ch))
			}
			invStd := float64(si[ch])
			sdy, sdyx := v.bnBackSums(l, dyc, xc, float64(sm[ch]))
			if dbs != nil {
				dbs[ch] = float32(sdy)
			}
			if dgs != nil {
				dgs[ch] = float32(sdyx * invStd)
			}
			a := float32(float64(gs[ch]) * invStd)
			mdy := float32(sdy / m)
			k := float32(sdyx * invStd * invStd / m)
			v.bnBackDx(l, dyc, xc, l.channel(dxs, ch), sm[ch], a, mdy, k)
		}
	})
}

// The portable loops of batch norm (vecLoops), on one channel: l.n planes of l.hw values,
// l.stride() apart, from the start of each slice (bnLayout.channel).

// bnStatsGo returns the sums of d and d*d over the channel, d = x - shift, in float64.
func bnStatsGo(l bnLayout, x []float32, shift float64) (s1, s2 float64) {
	l.check(x)
	var a0, a1, q0, q1 float64
	for i := range l.n {
		p := l.plane(x, i)
		j := 0
		for ; j+2 <= len(p); j += 2 {
			d0, d1 := float64(p[j])-shift, float64(p[j+1])-shift
			a0 += d0
			a1 += d1
			q0 += d0 * d0
			q1 += d1 * d1
		}
		if j < len(p) {
			d := float64(p[j]) - shift
			a0 += d
			q0 += d * d
		}
	}
	return a0 + a1, q0 + q1
}

// bnNormalizeGo writes y = (x - mean)*scale + shift over the channel.
func bnNormalizeGo(l bnLayout, x, y []float32, mean, scale, shift float32) {
	l.check(x, y)
	for i := range l.n {
		xp, yp := l.plane(x, i), l.plane(y, i)
		for j, v := range xp {
			yp[j] = (v-mean)*scale + shift
		}
	}
}

// bnBackSumsGo returns the sums of dy and of dy*(x - mean) over the channel, in float64.
func bnBackSumsGo(l bnLayout, dy, x []float32, mean float64) (sdy, sdyx float64) {
	l.check(dy, x)
	var a0, a1, b0, b1 float64
	for i := range l.n {
		dp, xp := l.plane(dy, i), l.plane(x, i)
		j := 0
		for ; j+2 <= len(dp); j += 2 {
			g0, g1 := float64(dp[j]), float64(dp[j+1])
			a0 += g0
			a1 += g1
			b0 += g0 * (float64(xp[j]) - mean)
			b1 += g1 * (float64(xp[j+1]) - mean)
		}
		if j < len(dp) {
			g := float64(dp[j])
			a0 += g
			b0 += g * (float64(xp[j]) - mean)
		}
	}
	return a0 + a1, b0 + b1
}

// bnBackDxGo writes dx = a*(dy - mdy - (x - mean)*k) over the channel.
func bnBackDxGo(l bnLayout, dy, x, dx []float32, mean, a, mdy, k float32) {
	l.check(dy, x, dx)
	for i := range l.n {
		dp, xp, dxp := l.plane(dy, i), l.plane(x, i), l.plane(dx, i)
		for j, g := range dp {
			dxp[j] = a * (g - mdy - (xp[j]-mean)*k)
		}
	}
}
