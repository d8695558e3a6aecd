package opstest

import (
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// bnCase is one batch-norm input: x of the given shape, normal with the given mean and standard
// deviation per element, or, when perChannel is set, with a different offset and spread in each
// channel around them (so that mixing up channels shows).
type bnCase struct {
	name       string
	shape      ops.Shape
	mean, std  float64
	eps        float64
	perChannel bool
}

var bnCases = []bnCase{
	{"NCHW_5x5", ops.Shape{2, 6, 5, 5}, 0, 1, 1e-5, false},
	{"NC", ops.Shape{8, 5}, 0, 1, 1e-5, false},
	{"NC_two_rows", ops.Shape{2, 3}, 0, 1, 1e-5, false},
	{"batch1_odd_7x9", ops.Shape{1, 4, 7, 9}, 0, 1, 1e-5, false},
	{"1x1_spatial", ops.Shape{4, 3, 1, 1}, 0, 1, 1e-5, false},
	{"one_channel_two_values", ops.Shape{1, 1, 1, 2}, 0, 1, 1e-5, false},
	{"one_channel_batch1_5x1", ops.Shape{1, 1, 5, 1}, 0, 1, 1e-5, false},
	{"offset_mean", ops.Shape{4, 3, 6, 6}, 4, 0.5, 1e-5, false},
	{"small_variance_eps_matters", ops.Shape{2, 4, 3, 3}, 0, 0.01, 1e-3, false},
	{"per_channel_offsets_odd_3x5x7x9", ops.Shape{3, 5, 7, 9}, 0, 1, 1e-5, true},
	{"per_channel_offsets_NC", ops.Shape{6, 4}, 0, 1, 1e-5, true},
	{"per_channel_offsets_16ch_16x16", ops.Shape{4, 16, 16, 16}, 0, 1, 1e-5, true},
	{"64ch_14x14", ops.Shape{8, 64, 14, 14}, 0, 1, 1e-5, false},
	// 65536 values per channel with a mean 2000 times their spread: statistics summed in float32
	// are visibly off, while the float32 rounding of the mean itself stays well within tolerance.
	{"large_mean_many_values", ops.Shape{4, 2, 128, 128}, 1000, 0.5, 1e-5, false},
}

// bnInput returns x for case c.
func (e *env) bnInput(c bnCase) []float32 {
	if !c.perChannel {
		return e.randnScaled(c.shape.Numel(), c.mean, c.std)
	}
	g := bnGeomOf(c.shape)
	x := make([]float32, c.shape.Numel())
	for ch := 0; ch < g.C; ch++ {
		mean, std := c.mean+3*c.std*e.rng.NormFloat64(), c.std*(0.1+2*e.rng.Float64())
		g.channel(ch, func(i int) { x[i] = float32(mean + std*e.rng.NormFloat64()) })
	}
	return x
}

// bnParams holds random affine parameters and running statistics for c channels.
type bnParams struct{ gamma, beta, runMean, runVar []float32 }

func (e *env) bnParams(c int) bnParams {
	p := bnParams{gamma: e.randnScaled(c, 1, 0.2), beta: e.randnScaled(c, 0, 0.5),
		runMean: e.randnScaled(c, 0, 0.1), runVar: make([]float32, c)}
	for i := range p.runVar {
		p.runVar[i] = float32(1 + 0.5*math.Abs(e.rng.NormFloat64()))
	}
	return p
}

func testBatchNormTrain(t *testing.T, b ops.Backend) {
	const momentum = 0.1
	for _, c := range bnCases {
		run(t, b, c.name, func(e *env) {
			g := bnGeomOf(c.shape)
			x := e.bnInput(c)
			p := e.bnParams(g.C)
			cs := ops.Shape{g.C}
			X, gamma, beta := e.tensor(c.shape, x), e.tensor(cs, p.gamma), e.tensor(cs, p.beta)
			runMean, runVar := e.tensor(cs, p.runMean), e.tensor(cs, p.runVar)
			Y, saveMean, saveInvStd := e.out(c.shape), e.out(cs), e.out(cs)
			b.BatchNormTrain(X, gamma, beta, runMean, runVar, Y, saveMean, saveInvStd, momentum, c.eps)

			y, mean, invStd, variance := refBNTrain(f64(x), f64(p.gamma), f64(p.beta), g, c.eps)
			e.near("y", e.read(Y), y, tolReduce)
			gotMean, gotInvStd := e.read(saveMean), e.read(saveInvStd)
			e.near("saveMean", gotMean, mean, tolReduce)
			e.near("saveInvStd", gotInvStd, invStd, tolReduce)
			// The saved statistics are the ones y was normalised with: this holds the mean to the
			// scale of the data's spread, not of its offset.
			fromSaved := refBNNormalize(f64(x), f64(p.gamma), f64(p.beta), f64(gotMean), f64(gotInvStd), g)
			e.near("y from saveMean and saveInvStd", f32(fromSaved), y, tolReduce)
			// The running statistics are updated in place, with the unbiased variance.
			rm, rv := refBNRunning(f64(p.runMean), f64(p.runVar), mean, variance, g.N*g.HW, momentum)
			e.near("runMean", e.read(runMean), rm, tolReduce)
			e.near("runVar", e.read(runVar), rv, tolReduce)
			e.unchanged("x", X, x)
			e.unchanged("gamma", gamma, p.gamma)
			e.unchanged("beta", beta, p.beta)
			e.sync()
		})
	}
	// Running statistics over several steps and at the ends of the momentum range.
	for _, tc := range []struct {
		name     string
		momentum float64
		steps    int
	}{
		{"running_stats_three_steps", 0.1, 3},
		{"running_stats_momentum_0_keeps", 0, 1},
		{"running_stats_momentum_1_replaces", 1, 1},
	} {
		run(t, b, tc.name, func(e *env) {
			shape := ops.Shape{3, 4, 5, 3}
			g := bnGeomOf(shape)
			p := e.bnParams(g.C)
			cs := ops.Shape{g.C}
			gamma, beta := e.tensor(cs, p.gamma), e.tensor(cs, p.beta)
			runMean, runVar := e.tensor(cs, p.runMean), e.tensor(cs, p.runVar)
			Y, saveMean, saveInvStd := e.out(shape), e.out(cs), e.out(cs)
			rm, rv := f64(p.runMean), f64(p.runVar)
			for range tc.steps {
				x := e.randnScaled(shape.Numel(), e.rng.NormFloat64(), 1+e.rng.Float64())
				X := e.tensor(shape, x)
				b.BatchNormTrain(X, gamma, beta, runMean, runVar, Y, saveMean, saveInvStd, tc.momentum, 1e-5)
				e.free(X)
				mean, variance := refBNStats(f64(x), g)
				rm, rv = refBNRunning(rm, rv, mean, variance, g.N*g.HW, tc.momentum)
			}
			e.near("runMean", e.read(runMean), rm, tolReduce)
			e.near("runVar", e.read(runVar), rv, tolReduce)
		})
	}
}

// bnMoving returns moving statistics for c channels of case c: means near the case's, variances
// around its spread squared.
func (e *env) bnMoving(c bnCase, channels int) (mean, variance []float32) {
	mean, variance = e.randnScaled(channels, c.mean, 0.1), make([]float32, channels)
	for i := range variance {
		variance[i] = float32(c.std * c.std * (0.5 + e.rng.Float64()))
	}
	return mean, variance
}

func testBatchNormInfer(t *testing.T, b ops.Backend) {
	for _, c := range bnCases {
		run(t, b, c.name, func(e *env) {
			g := bnGeomOf(c.shape)
			x := e.bnInput(c)
			p := e.bnParams(g.C)
			mean, variance := e.bnMoving(c, g.C)
			cs := ops.Shape{g.C}
			X, Y := e.tensor(c.shape, x), e.out(c.shape)
			b.BatchNormInfer(X, e.tensor(cs, p.gamma), e.tensor(cs, p.beta), e.tensor(cs, mean), e.tensor(cs, variance), Y, c.eps)
			e.near("y", e.read(Y), refBNInfer(f64(x), f64(p.gamma), f64(p.beta), f64(mean), f64(variance), g, c.eps), tolReduce)
			e.unchanged("x", X, x)
			e.sync()
		})
	}
}

// bnSaved returns the saved statistics of x as float32, the way BatchNormTrain hands them to the
// backward, computed by the reference so the backward is tested on its own.
func bnSaved(x []float32, g bnGeom, eps float64) (mean, invStd []float32) {
	_, m, inv, _ := refBNTrain(f64(x), make([]float64, g.C), make([]float64, g.C), g, eps)
	return f32(m), f32(inv)
}

func testBatchNormBackward(t *testing.T, b ops.Backend) {
	for _, c := range bnCases {
		run(t, b, c.name, func(e *env) {
			g := bnGeomOf(c.shape)
			x := e.bnInput(c)
			dy := e.randn(c.shape.Numel())
			gamma := e.bnParams(g.C).gamma
			mean, invStd := bnSaved(x, g, c.eps)
			cs := ops.Shape{g.C}
			DY, X := e.tensor(c.shape, dy), e.tensor(c.shape, x)
			G, M, S := e.tensor(cs, gamma), e.tensor(cs, mean), e.tensor(cs, invStd)
			DX, dgamma, dbeta := e.out(c.shape), e.out(cs), e.out(cs)
			b.BatchNormBackward(DY, X, G, M, S, DX, dgamma, dbeta)
			dx, dg, db := refBNBackward(f64(dy), f64(x), f64(gamma), f64(mean), f64(invStd), g)
			terms := bnTermScale(dy, gamma, invStd, g)
			e.nearScale("dx", e.read(DX), dx, tolReduce, terms)
			e.near("dgamma", e.read(dgamma), dg, tolReduce)
			e.near("dbeta", e.read(dbeta), db, tolReduce)
			e.unchanged("dy", DY, dy)
			e.unchanged("x", X, x)
			// dgamma and dbeta are optional.
			b.Fill(DX, math.NaN())
			b.BatchNormBackward(DY, X, G, M, S, DX, nil, nil)
			e.nearScale("dx (dgamma and dbeta nil)", e.read(DX), dx, tolReduce, terms)
			e.sync()
		})
	}
	// Finite differences of the backend's BatchNormTrain, through x, gamma and beta.
	for _, c := range bnCases {
		if c.shape.Numel() > 8192 || c.std < 0.1 {
			continue
		}
		run(t, b, c.name+"/finite_difference", func(e *env) {
			g := bnGeomOf(c.shape)
			x := e.bnInput(c)
			p := e.bnParams(g.C)
			r := e.randn(c.shape.Numel())
			cs := ops.Shape{g.C}
			forward := func(x, gamma, beta []float32) (y, mean, invStd ops.Tensor) {
				X, G, B := e.tensor(c.shape, x), e.tensor(cs, gamma), e.tensor(cs, beta)
				rm, rv := e.tensor(cs, p.runMean), e.tensor(cs, p.runVar)
				y, mean, invStd = e.out(c.shape), e.out(cs), e.out(cs)
				b.BatchNormTrain(X, G, B, rm, rv, y, mean, invStd, 0.1, c.eps)
				e.free(X, G, B, rm, rv)
				return y, mean, invStd
			}
			_, mean, invStd := forward(x, p.gamma, p.beta)
			DX, dgamma, dbeta := e.out(c.shape), e.out(cs), e.out(cs)
			b.BatchNormBackward(e.tensor(c.shape, r), e.tensor(c.shape, x), e.tensor(cs, p.gamma), mean, invStd, DX, dgamma, dbeta)
			e.directional([][]float32{x, p.gamma, p.beta}, [][]float32{e.read(DX), e.read(dgamma), e.read(dbeta)},
				3e-3*c.std, func(in [][]float32) float64 {
					Y, m, s := forward(in[0], in[1], in[2])
					defer e.free(Y, m, s)
					return weighted(r, e.read(Y))
				})
		})
	}
}

// bnTermScale is the size of the terms of the batch-norm input gradient, max|gamma*invStd*dy|: dx
// is their difference, which cancels to nearly nothing when a channel has few values (with two,
// the output does not depend on x at all).
func bnTermScale(dy, gamma, invStd []float32, g bnGeom) float64 {
	s := 0.0
	for c := 0; c < g.C; c++ {
		g.channel(c, func(i int) { s = max(s, math.Abs(float64(gamma[c])*float64(invStd[c])*float64(dy[i]))) })
	}
	return s
}

// testBatchNormReLU checks batch norm with a ReLU on its output through ops.BatchNormReLUTrain,
// ops.BatchNormReLUInfer and ops.BatchNormReLUBackward: the backend's fused kernels when it has
// them (ops.BatchNormReLU), else batch norm and ReLU one after the other. Forward, the ReLU of the
// reference; backward, the reference backward of the ReLU's gradient, which also replaces dy.
func testBatchNormReLU(t *testing.T, b ops.Backend) {
	const momentum = 0.1
	for _, c := range bnCases {
		run(t, b, c.name+"/train", func(e *env) {
			g := bnGeomOf(c.shape)
			x := e.bnInput(c)
			p := e.bnParams(g.C)
			cs := ops.Shape{g.C}
			X, runMean, runVar := e.tensor(c.shape, x), e.tensor(cs, p.runMean), e.tensor(cs, p.runVar)
			Y, saveMean, saveInvStd := e.out(c.shape), e.out(cs), e.out(cs)
			ops.BatchNormReLUTrain(b, X, e.tensor(cs, p.gamma), e.tensor(cs, p.beta), runMean, runVar, Y, saveMean, saveInvStd, momentum, c.eps)
			y, mean, invStd, variance := refBNTrain(f64(x), f64(p.gamma), f64(p.beta), g, c.eps)
			e.near("y", e.read(Y), refReLU(y), tolReduce)
			e.near("saveMean", e.read(saveMean), mean, tolReduce)
			e.near("saveInvStd", e.read(saveInvStd), invStd, tolReduce)
			rm, rv := refBNRunning(f64(p.runMean), f64(p.runVar), mean, variance, g.N*g.HW, momentum)
			e.near("runMean", e.read(runMean), rm, tolReduce)
			e.near("runVar", e.read(runVar), rv, tolReduce)
			e.unchanged("x", X, x)
			e.sync()
		})
		run(t, b, c.name+"/infer", func(e *env) {
			g := bnGeomOf(c.shape)
			x := e.bnInput(c)
			p := e.bnParams(g.C)
			mean, variance := e.bnMoving(c, g.C)
			cs := ops.Shape{g.C}
			X, Y := e.tensor(c.shape, x), e.out(c.shape)
			ops.BatchNormReLUInfer(b, X, e.tensor(cs, p.gamma), e.tensor(cs, p.beta), e.tensor(cs, mean), e.tensor(cs, variance), Y, c.eps)
			e.near("y", e.read(Y), refReLU(refBNInfer(f64(x), f64(p.gamma), f64(p.beta), f64(mean), f64(variance), g, c.eps)), tolReduce)
			e.unchanged("x", X, x)
			e.sync()
		})
		run(t, b, c.name+"/backward", func(e *env) {
			g := bnGeomOf(c.shape)
			x := e.bnInput(c)
			p := e.bnParams(g.C)
			mean, invStd := bnSaved(x, g, c.eps)
			// The forward output: the ReLU of the normalised x, so about half of it is zero.
			y := f32(refReLU(refBNNormalize(f64(x), f64(p.gamma), f64(p.beta), f64(mean), f64(invStd), g)))
			dy := e.randn(c.shape.Numel())
			cs := ops.Shape{g.C}
			DY, X, Y := e.tensor(c.shape, dy), e.tensor(c.shape, x), e.tensor(c.shape, y)
			G, M, S := e.tensor(cs, p.gamma), e.tensor(cs, mean), e.tensor(cs, invStd)
			DX, dgamma, dbeta := e.out(c.shape), e.out(cs), e.out(cs)
			ops.BatchNormReLUBackward(b, DY, X, Y, G, M, S, DX, dgamma, dbeta)
			masked := refReLUBackward(f64(dy), f64(y))
			dx, dg, db := refBNBackward(masked, f64(x), f64(p.gamma), f64(mean), f64(invStd), g)
			e.nearScale("dx", e.read(DX), dx, tolReduce, bnTermScale(f32(masked), p.gamma, invStd, g))
			e.near("dgamma", e.read(dgamma), dg, tolReduce)
			e.near("dbeta", e.read(dbeta), db, tolReduce)
			e.exact("dy (the ReLU's gradient)", e.read(DY), masked)
			e.unchanged("x", X, x)
			e.unchanged("y", Y, y)
			e.sync()
		})
	}
}
