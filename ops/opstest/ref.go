package opstest

import (
	"math"

	"github.com/resnext/resnext/ops"
)

// The float64 reference: naive loops written straight from the definitions in ops.Backend, sharing
// nothing with any backend. Layout is NCHW, C order, like the interface. Each backward is proven
// against central differences of its forward in ref_test.go.

// convGeom is the geometry of one convolution: x [N, C, H, W], w [K, C/G, R, S], y [N, K, P, Q].
type convGeom struct {
	N, C, H, W, K, R, S, P, Q int
	p                         ops.Conv2dParams // normalised
}

func newConvGeom(n, c, h, w, k, r, s int, p ops.Conv2dParams) convGeom {
	p = p.Normalized()
	ph, pw := p.OutSize(h, w, r, s)
	return convGeom{N: n, C: c, H: h, W: w, K: k, R: r, S: s, P: ph, Q: pw, p: p}
}

func (g convGeom) xShape() ops.Shape { return ops.Shape{g.N, g.C, g.H, g.W} }
func (g convGeom) wShape() ops.Shape { return ops.Shape{g.K, g.C / g.p.Groups, g.R, g.S} }
func (g convGeom) yShape() ops.Shape { return ops.Shape{g.N, g.K, g.P, g.Q} }

// each calls fn for every (output, input, weight) index triple that contributes to the convolution.
func (g convGeom) each(fn func(yi, xi, wi int)) {
	cg, kg := g.C/g.p.Groups, g.K/g.p.Groups
	for n := 0; n < g.N; n++ {
		for k := 0; k < g.K; k++ {
			grp := k / kg
			for p := 0; p < g.P; p++ {
				for q := 0; q < g.Q; q++ {
					yi := ((n*g.K+k)*g.P+p)*g.Q + q
					for ci := 0; ci < cg; ci++ {
						c := grp*cg + ci
						for r := 0; r < g.R; r++ {
							h := p*g.p.StrideH - g.p.PadH + r*g.p.DilationH
							if h < 0 || h >= g.H {
								continue
							}
							for s := 0; s < g.S; s++ {
								w := q*g.p.StrideW - g.p.PadW + s*g.p.DilationW
								if w < 0 || w >= g.W {
									continue
								}
								fn(yi, ((n*g.C+c)*g.H+h)*g.W+w, ((k*cg+ci)*g.R+r)*g.S+s)
							}
						}
					}
				}
			}
		}
	}
}

func refConv2d(x, w []float64, g convGeom) []float64 {
	y := make([]float64, g.yShape().Numel())
	g.each(func(yi, xi, wi int) { y[yi] += x[xi] * w[wi] })
	return y
}

func refConv2dBackward(dy, x, w []float64, g convGeom) (dx, dw []float64) {
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	g.each(func(yi, xi, wi int) {
		dx[xi] += dy[yi] * w[wi]
		dw[wi] += dy[yi] * x[xi]
	})
	return dx, dw
}

// bnGeom views x as [N, C, HW] (HW = 1 for [N, C]).
type bnGeom struct{ N, C, HW int }

func bnGeomOf(s ops.Shape) bnGeom {
	g := bnGeom{N: s[0], C: s[1], HW: 1}
	for _, d := range s[2:] {
		g.HW *= d
	}
	return g
}

// channel calls fn with the flat index of every element of channel c.
func (g bnGeom) channel(c int, fn func(i int)) {
	for n := 0; n < g.N; n++ {
		base := (n*g.C + c) * g.HW
		for j := 0; j < g.HW; j++ {
			fn(base + j)
		}
	}
}

// refBNStats is the per-channel batch mean and biased variance.
func refBNStats(x []float64, g bnGeom) (mean, variance []float64) {
	mean, variance = make([]float64, g.C), make([]float64, g.C)
	m := float64(g.N * g.HW)
	for c := 0; c < g.C; c++ {
		g.channel(c, func(i int) { mean[c] += x[i] })
		mean[c] /= m
		g.channel(c, func(i int) { d := x[i] - mean[c]; variance[c] += d * d })
		variance[c] /= m
	}
	return mean, variance
}

// refBNTrain returns y, the saved mean and inverse std, and the biased batch variance.
func refBNTrain(x, gamma, beta []float64, g bnGeom, eps float64) (y, mean, invStd, variance []float64) {
	mean, variance = refBNStats(x, g)
	invStd = make([]float64, g.C)
	for c := range invStd {
		invStd[c] = 1 / math.Sqrt(variance[c]+eps)
	}
	return refBNNormalize(x, gamma, beta, mean, invStd, g), mean, invStd, variance
}

// refBNNormalize is y = (x - mean)*invStd*gamma + beta per channel.
func refBNNormalize(x, gamma, beta, mean, invStd []float64, g bnGeom) []float64 {
	y := make([]float64, len(x))
	for c := 0; c < g.C; c++ {
		g.channel(c, func(i int) { y[i] = (x[i]-mean[c])*invStd[c]*gamma[c] + beta[c] })
	}
	return y
}

// refBNRunning is the running statistics after one training step (PyTorch's convention).
func refBNRunning(runMean, runVar, mean, variance []float64, m int, momentum float64) (newMean, newVar []float64) {
	newMean, newVar = make([]float64, len(mean)), make([]float64, len(mean))
	for c := range mean {
		unbiased := variance[c] * float64(m) / float64(m-1)
		newMean[c] = (1-momentum)*runMean[c] + momentum*mean[c]
		newVar[c] = (1-momentum)*runVar[c] + momentum*unbiased
	}
	return newMean, newVar
}

func refBNInfer(x, gamma, beta, mean, variance []float64, g bnGeom, eps float64) []float64 {
	y := make([]float64, len(x))
	for c := 0; c < g.C; c++ {
		s := gamma[c] / math.Sqrt(variance[c]+eps)
		g.channel(c, func(i int) { y[i] = (x[i]-mean[c])*s + beta[c] })
	}
	return y
}

// refBNBackward is the gradient of refBNTrain with respect to x, gamma and beta, where the batch
// statistics depend on x: with xhat = (x-mean)*invStd and M = N*HW,
// dx = gamma*invStd*(dy - mean(dy) - xhat*mean(dy*xhat)), dgamma = sum(dy*xhat), dbeta = sum(dy).
func refBNBackward(dy, x, gamma, mean, invStd []float64, g bnGeom) (dx, dgamma, dbeta []float64) {
	dx = make([]float64, len(x))
	dgamma, dbeta = make([]float64, g.C), make([]float64, g.C)
	m := float64(g.N * g.HW)
	for c := 0; c < g.C; c++ {
		g.channel(c, func(i int) {
			dbeta[c] += dy[i]
			dgamma[c] += dy[i] * (x[i] - mean[c]) * invStd[c]
		})
		g.channel(c, func(i int) {
			xhat := (x[i] - mean[c]) * invStd[c]
			dx[i] = gamma[c] * invStd[c] * (dy[i] - dbeta[c]/m - xhat*dgamma[c]/m)
		})
	}
	return dx, dgamma, dbeta
}

func refReLU(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = max(v, 0)
	}
	return y
}

func refReLUBackward(dy, y []float64) []float64 {
	dx := make([]float64, len(dy))
	for i := range dy {
		if !(y[i] <= 0) { // PyTorch's threshold_backward: a NaN output passes the gradient
			dx[i] = dy[i]
		}
	}
	return dx
}

// poolGeom is the geometry of a max pool: x [N, C, H, W] to y [N, C, P, Q].
type poolGeom struct {
	N, C, H, W, P, Q int
	p                ops.Pool2dParams
}

func newPoolGeom(n, c, h, w int, p ops.Pool2dParams) poolGeom {
	ph, pw := p.OutSize(h, w)
	return poolGeom{N: n, C: c, H: h, W: w, P: ph, Q: pw, p: p}
}

func (g poolGeom) xShape() ops.Shape { return ops.Shape{g.N, g.C, g.H, g.W} }
func (g poolGeom) yShape() ops.Shape { return ops.Shape{g.N, g.C, g.P, g.Q} }

// refMaxPool returns the pooled values and, for each output, the flat index of its winner in x:
// the first maximum in row-major window order, padding never winning. A NaN beats any number (the
// first NaN of the window is its winner here; which NaN a backend picks is not specified).
func refMaxPool(x []float64, g poolGeom) (y []float64, arg []int) {
	y = make([]float64, g.yShape().Numel())
	arg = make([]int, len(y))
	for nc := 0; nc < g.N*g.C; nc++ {
		for p := 0; p < g.P; p++ {
			for q := 0; q < g.Q; q++ {
				best, at := math.Inf(-1), -1
				for r := 0; r < g.p.KernelH; r++ {
					h := p*g.p.StrideH - g.p.PadTop + r
					if h < 0 || h >= g.H {
						continue
					}
					for s := 0; s < g.p.KernelW; s++ {
						w := q*g.p.StrideW - g.p.PadLeft + s
						if w < 0 || w >= g.W {
							continue
						}
						if i := (nc*g.H+h)*g.W + w; at < 0 || x[i] > best || x[i] != x[i] && best == best {
							best, at = x[i], i
						}
					}
				}
				yi := (nc*g.P+p)*g.Q + q
				y[yi], arg[yi] = best, at
			}
		}
	}
	return y, arg
}

func refMaxPoolBackward(dy []float64, arg []int, nx int) []float64 {
	dx := make([]float64, nx)
	for i, a := range arg {
		dx[a] += dy[i]
	}
	return dx
}

func refGlobalAvgPool(x []float64, nc, hw int) []float64 {
	y := make([]float64, nc)
	for i := range y {
		for j := 0; j < hw; j++ {
			y[i] += x[i*hw+j]
		}
		y[i] /= float64(hw)
	}
	return y
}

func refGlobalAvgPoolBackward(dy []float64, hw int) []float64 {
	dx := make([]float64, len(dy)*hw)
	for i, v := range dy {
		for j := 0; j < hw; j++ {
			dx[i*hw+j] = v / float64(hw)
		}
	}
	return dx
}

// refMatMul computes op(a) @ op(b) for a stored [M, K] (or [K, M] when transA) and b stored [K, N]
// (or [N, K] when transB).
func refMatMul(a, b []float64, m, n, k int, transA, transB bool) []float64 {
	at := func(i, j int) float64 { // op(a)[i, j]
		if transA {
			return a[j*m+i]
		}
		return a[i*k+j]
	}
	bt := func(i, j int) float64 { // op(b)[i, j]
		if transB {
			return b[j*k+i]
		}
		return b[i*n+j]
	}
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for l := 0; l < k; l++ {
				c[i*n+j] += at(i, l) * bt(l, j)
			}
		}
	}
	return c
}

// biasIndex is the channel of flat index i of x [N, C, inner...].
func biasIndex(i, c, inner int) int { return i / inner % c }

func refBiasAdd(x, bias []float64, c, inner int) []float64 {
	y := make([]float64, len(x))
	for i := range x {
		y[i] = x[i] + bias[biasIndex(i, c, inner)]
	}
	return y
}

func refBiasGrad(dy []float64, c, inner int) []float64 {
	db := make([]float64, c)
	for i, v := range dy {
		db[biasIndex(i, c, inner)] += v
	}
	return db
}

// refCETarget is the smoothed target probability of class j for label l among c classes.
func refCETarget(j, l, c int, smoothing float64) float64 {
	t := smoothing / float64(c)
	if j == l {
		t += 1 - smoothing
	}
	return t
}

// refCrossEntropy returns the log-probabilities and the batch-mean smoothed cross-entropy.
func refCrossEntropy(logits []float64, labels []int32, n, c int, smoothing float64) (logProb []float64, loss float64) {
	logProb = make([]float64, n*c)
	for i := 0; i < n; i++ {
		row := logits[i*c : (i+1)*c]
		top := math.Inf(-1)
		for _, v := range row {
			top = max(top, v)
		}
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(v - top)
		}
		lse := top + math.Log(sum)
		for j, v := range row {
			logProb[i*c+j] = v - lse
			loss -= refCETarget(j, int(labels[i]), c, smoothing) * (v - lse)
		}
	}
	return logProb, loss / float64(n)
}

func refCrossEntropyBackward(logProb []float64, labels []int32, n, c int, smoothing, scale float64) []float64 {
	d := make([]float64, n*c)
	for i := 0; i < n; i++ {
		for j := 0; j < c; j++ {
			d[i*c+j] = scale * (math.Exp(logProb[i*c+j]) - refCETarget(j, int(labels[i]), c, smoothing)) / float64(n)
		}
	}
	return d
}

func refAdd(a, b []float64, alpha float64) []float64 {
	y := make([]float64, len(a))
	for i := range a {
		y[i] = a[i] + alpha*b[i]
	}
	return y
}

func refScale(x []float64, alpha float64) []float64 {
	y := make([]float64, len(x))
	for i := range x {
		y[i] = alpha * x[i]
	}
	return y
}

// refSGD returns param and accum after one SGDMomentum step.
func refSGD(param, grad, accum []float64, p ops.SGDParams) (newParam, newAccum []float64) {
	gs := p.GradScale
	if gs == 0 {
		gs = 1
	}
	newParam, newAccum = make([]float64, len(param)), make([]float64, len(param))
	for i := range param {
		g := grad[i]*gs + p.WeightDecay*param[i]
		a := p.Momentum*accum[i] + g
		step := a
		if p.Nesterov {
			step = g + p.Momentum*a
		}
		newParam[i] = param[i] - p.LR*step
		newAccum[i] = a
	}
	return newParam, newAccum
}
