package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

func TestMomentumConventions(t *testing.T) {
	for _, c := range []struct {
		m                nn.Momentum
		torch, mindspore float64
	}{
		{nn.MindSporeMomentum(0.9), 0.1, 0.9},
		{nn.TorchMomentum(0.1), 0.1, 0.9},
		{nn.MindCVMomentum, 0.1, 0.9},
		{nn.MindSporeMomentum(0.99), 0.01, 0.99},
		{nn.TorchMomentum(1), 1, 0},
	} {
		if math.Abs(c.m.Torch()-c.torch) > 1e-15 || math.Abs(c.m.MindSpore()-c.mindspore) > 1e-15 {
			t.Errorf("%v: Torch %v MindSpore %v, want %v and %v", c.m, c.m.Torch(), c.m.MindSpore(), c.torch, c.mindspore)
		}
	}
}

// bnStats returns the per-channel mean and biased variance of x [N, C, H, W].
func bnStats(x []float32, s ops.Shape) (mean, variance []float64) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	mean, variance = make([]float64, c), make([]float64, c)
	for ch := range c {
		var sum, sq float64
		for i := range n {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				sum += float64(v)
				sq += float64(v) * float64(v)
			}
		}
		m := float64(n * hw)
		mean[ch] = sum / m
		variance[ch] = sq/m - mean[ch]*mean[ch]
	}
	return mean, variance
}

// bnRef normalises x per channel with the given statistics, gamma and beta.
func bnRef(x []float32, s ops.Shape, mean, variance []float64, gamma, beta []float32, eps float64) []float32 {
	c, hw := s[1], s[2]*s[3]
	y := make([]float32, len(x))
	for i, v := range x {
		ch := i / hw % c
		y[i] = float32((float64(v)-mean[ch])/math.Sqrt(variance[ch]+eps)*float64(gamma[ch]) + float64(beta[ch]))
	}
	return y
}

// TestBatchNormModes checks training (batch statistics, moving-statistic update with either
// momentum convention) against evaluation (moving statistics, no update).
func TestBatchNormModes(t *testing.T) {
	b := testutil.CPU(t, 2)
	r := rand.New(rand.NewPCG(21, 22))
	shape := ops.Shape{4, 3, 2, 5}
	x := testutil.Randn(r, shape.Numel(), 2)
	for i := range x {
		x[i] += float32(i / 10 % 3) // channel c has mean about c
	}
	xt := testutil.Upload(b, shape, x)
	defer b.Free(xt)
	gamma, beta := []float32{0.5, 1, 2}, []float32{-1, 0, 1}
	mean, variance := bnStats(x, shape)
	count := float64(shape.Numel() / shape[1])

	for _, c := range []struct {
		name  string
		m     nn.Momentum
		torch float64
	}{
		{"MindSpore 0.9", nn.MindSporeMomentum(0.9), 0.1},
		{"PyTorch 0.1", nn.TorchMomentum(0.1), 0.1},
		{"MindSpore 0.7", nn.MindSporeMomentum(0.7), 0.3},
		{"PyTorch 0.3", nn.TorchMomentum(0.3), 0.3},
	} {
		t.Run(c.name, func(t *testing.T) {
			bn := nn.NewBatchNorm2d(b, 3, c.m)
			defer bn.Free()
			if got := testutil.Download(t, b, bn.MovingMean.Value); got[0] != 0 || got[1] != 0 || got[2] != 0 {
				t.Fatalf("initial moving_mean %v, want 0", got)
			}
			if got := testutil.Download(t, b, bn.MovingVariance.Value); got[0] != 1 || got[1] != 1 || got[2] != 1 {
				t.Fatalf("initial moving_variance %v, want 1", got)
			}
			if bn.MovingMean.Trainable || bn.MovingVariance.Trainable || !bn.Gamma.Trainable || !bn.Beta.Trainable {
				t.Fatalf("trainable flags: moving statistics must be frozen, gamma and beta trainable")
			}
			b.Write(bn.Gamma.Value, ops.Bytes(gamma))
			b.Write(bn.Beta.Value, ops.Bytes(beta))

			// Training: batch statistics; moving = (1-m)*moving + m*batch, variance unbiased.
			y := testutil.Download(t, b, bn.Forward(xt))
			testutil.AssertClose(t, "train y", y, bnRef(x, shape, mean, variance, gamma, beta, 1e-5), 1e-5)
			wantMean, wantVar := make([]float32, 3), make([]float32, 3)
			for ch := range 3 {
				wantMean[ch] = float32(c.torch * mean[ch])
				wantVar[ch] = float32(1 - c.torch + c.torch*variance[ch]*count/(count-1))
			}
			gotMean, gotVar := testutil.Download(t, b, bn.MovingMean.Value), testutil.Download(t, b, bn.MovingVariance.Value)
			testutil.AssertClose(t, "moving_mean", gotMean, wantMean, 1e-6)
			testutil.AssertClose(t, "moving_variance", gotVar, wantVar, 1e-6)

			// Evaluation: the moving statistics, which stay as they are.
			bn.SetTraining(false)
			mm, mv := make([]float64, 3), make([]float64, 3)
			for ch := range 3 {
				mm[ch], mv[ch] = float64(gotMean[ch]), float64(gotVar[ch])
			}
			y = testutil.Download(t, b, bn.Forward(xt))
			testutil.AssertClose(t, "eval y", y, bnRef(x, shape, mm, mv, gamma, beta, 1e-5), 1e-5)
			testutil.AssertClose(t, "moving_mean after eval", testutil.Download(t, b, bn.MovingMean.Value), gotMean, 0)
			testutil.AssertClose(t, "moving_variance after eval", testutil.Download(t, b, bn.MovingVariance.Value), gotVar, 0)

			// Back to training: a second update from the first.
			bn.SetTraining(true)
			bn.Forward(xt)
			for ch := range 3 {
				wantMean[ch] = float32((1-c.torch)*mm[ch] + c.torch*mean[ch])
				wantVar[ch] = float32((1-c.torch)*mv[ch] + c.torch*variance[ch]*count/(count-1))
			}
			testutil.AssertClose(t, "moving_mean, second step", testutil.Download(t, b, bn.MovingMean.Value), wantMean, 1e-6)
			testutil.AssertClose(t, "moving_variance, second step", testutil.Download(t, b, bn.MovingVariance.Value), wantVar, 1e-6)
		})
	}
}
