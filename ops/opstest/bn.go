package opstest

import (
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// bnCase is one batch-norm input: x of the given shape, normal with the given mean and standard
// deviation per element.
type bnCase struct {
	name      string
	shape     ops.Shape
	mean, std float64
	eps       float64
}

var bnCases = []bnCase{
	{"NCHW_5x5", ops.Shape{2, 6, 5, 5}, 0, 1, 1e-5},
	{"NC", ops.Shape{8, 5}, 0, 1, 1e-5},
	{"NC_two_rows", ops.Shape{2, 3}, 0, 1, 1e-5},
	{"batch1_odd_7x9", ops.Shape{1, 4, 7, 9}, 0, 1, 1e-5},
	{"1x1_spatial", ops.Shape{4, 3, 1, 1}, 0, 1, 1e-5},
	{"offset_mean", ops.Shape{4, 3, 6, 6}, 4, 0.5, 1e-5},
	{"small_variance_eps_matters", ops.Shape{2, 4, 3, 3}, 0, 0.01, 1e-3},
	{"64ch_14x14", ops.Shape{8, 64, 14, 14}, 0, 1, 1e-5},
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
			x := e.randnScaled(c.shape.Numel(), c.mean, c.std)
			p := e.bnParams(g.C)
			cs := ops.Shape{g.C}
			X, gamma, beta := e.tensor(c.shape, x), e.tensor(cs, p.gamma), e.tensor(cs, p.beta)
			runMean, runVar := e.tensor(cs, p.runMean), e.tensor(cs, p.runVar)
			Y, saveMean, saveInvStd := e.out(c.shape), e.out(cs), e.out(cs)
			b.BatchNormTrain(X, gamma, beta, runMean, runVar, Y, saveMean, saveInvStd, momentum, c.eps)

			y, mean, invStd, variance := refBNTrain(f64(x), f64(p.gamma), f64(p.beta), g, c.eps)
			e.near("y", e.read(Y), y, tolReduce)
			e.near("saveMean", e.read(saveMean), mean, tolReduce)
			e.near("saveInvStd", e.read(saveInvStd), invStd, tolReduce)
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

func testBatchNormInfer(t *testing.T, b ops.Backend) {
	for _, c := range bnCases {
		run(t, b, c.name, func(e *env) {
			g := bnGeomOf(c.shape)
			x := e.randnScaled(c.shape.Numel(), c.mean, c.std)
			p := e.bnParams(g.C)
			mean := e.randnScaled(g.C, c.mean, 0.1)
			variance := make([]float32, g.C)
			for i := range variance {
				variance[i] = float32(c.std * c.std * (0.5 + e.rng.Float64()))
			}
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
			x := e.randnScaled(c.shape.Numel(), c.mean, c.std)
			dy := e.randn(c.shape.Numel())
			gamma := e.bnParams(g.C).gamma
			mean, invStd := bnSaved(x, g, c.eps)
			cs := ops.Shape{g.C}
			DY, X := e.tensor(c.shape, dy), e.tensor(c.shape, x)
			DX, dgamma, dbeta := e.out(c.shape), e.out(cs), e.out(cs)
			b.BatchNormBackward(DY, X, e.tensor(cs, gamma), e.tensor(cs, mean), e.tensor(cs, invStd), DX, dgamma, dbeta)
			dx, dg, db := refBNBackward(f64(dy), f64(x), f64(gamma), f64(mean), f64(invStd), g)
			e.nearScale("dx", e.read(DX), dx, tolReduce, bnTermScale(dy, gamma, invStd, g))
			e.near("dgamma", e.read(dgamma), dg, tolReduce)
			e.near("dbeta", e.read(dbeta), db, tolReduce)
			e.unchanged("dy", DY, dy)
			e.unchanged("x", X, x)
			e.sync()
		})
	}
	run(t, b, "dx_only", func(e *env) {
		shape := ops.Shape{2, 3, 4, 5}
		g := bnGeomOf(shape)
		x, dy := e.randn(shape.Numel()), e.randn(shape.Numel())
		gamma := e.bnParams(g.C).gamma
		mean, invStd := bnSaved(x, g, 1e-5)
		cs := ops.Shape{g.C}
		DX := e.out(shape)
		b.BatchNormBackward(e.tensor(shape, dy), e.tensor(shape, x), e.tensor(cs, gamma), e.tensor(cs, mean), e.tensor(cs, invStd), DX, nil, nil)
		dx, _, _ := refBNBackward(f64(dy), f64(x), f64(gamma), f64(mean), f64(invStd), g)
		e.nearScale("dx", e.read(DX), dx, tolReduce, bnTermScale(dy, gamma, invStd, g))
	})
	// Finite differences of the backend's BatchNormTrain, through x, gamma and beta.
	for _, c := range bnCases {
		if c.shape.Numel() > 8192 || c.std < 0.1 {
			continue
		}
		run(t, b, c.name+"/finite_difference", func(e *env) {
			g := bnGeomOf(c.shape)
			x := e.randnScaled(c.shape.Numel(), c.mean, c.std)
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
