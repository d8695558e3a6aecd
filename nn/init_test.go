package nn_test

import (
	"math"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

func TestFans(t *testing.T) {
	for _, c := range []struct {
		shape       ops.Shape
		fanIn, fanO int
	}{
		{ops.Shape{1000, 2048}, 2048, 1000},
		{ops.Shape{64, 3, 7, 7}, 3 * 49, 64 * 49},
		{ops.Shape{128, 4, 3, 3}, 4 * 9, 128 * 9}, // grouped: in/groups
	} {
		if in, out := nn.Fans(c.shape); in != c.fanIn || out != c.fanO {
			t.Errorf("Fans(%v) = %d, %d, want %d, %d", c.shape, in, out, c.fanIn, c.fanO)
		}
	}
}

// moments returns the mean, the standard deviation and the largest magnitude of v.
func moments(v []float32) (mean, std, maxAbs float64) {
	for _, x := range v {
		mean += float64(x)
		maxAbs = max(maxAbs, math.Abs(float64(x)))
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(std / float64(len(v))), maxAbs
}

func TestInitialisers(t *testing.T) {
	b := testutil.CPU(t, 2)

	// HeNormal(fan_out, relu): N(0, 2/(out*k*k)).
	conv := b.Alloc(ops.Float32, ops.Shape{256, 64, 3, 3})
	defer b.Free(conv)
	nn.HeNormal(b, conv, nn.NewRand(1))
	v := testutil.Download(t, b, conv)
	mean, std, _ := moments(v)
	wantStd := math.Sqrt(2.0 / (256 * 9))
	if math.Abs(mean) > 3*wantStd/math.Sqrt(float64(len(v))) || math.Abs(std/wantStd-1) > 0.01 {
		t.Errorf("HeNormal: mean %v std %v, want 0 and %v", mean, std, wantStd)
	}

	// HeUniform(fan_in, sigmoid): U(-sqrt(3/in), sqrt(3/in)), whose std is bound/sqrt(3).
	fc := b.Alloc(ops.Float32, ops.Shape{100, 512})
	defer b.Free(fc)
	nn.HeUniform(b, fc, nn.NewRand(2))
	v = testutil.Download(t, b, fc)
	mean, std, maxAbs := moments(v)
	bound := math.Sqrt(3.0 / 512)
	if maxAbs > bound || maxAbs < 0.99*bound || math.Abs(std/(bound/math.Sqrt(3))-1) > 0.02 || math.Abs(mean) > 0.01*bound {
		t.Errorf("HeUniform: mean %v std %v max %v, want U(-%v, %v)", mean, std, maxAbs, bound, bound)
	}

	// The same seed gives the same values; another seed does not.
	again := b.Alloc(ops.Float32, ops.Shape{100, 512})
	defer b.Free(again)
	nn.HeUniform(b, again, nn.NewRand(2))
	testutil.AssertClose(t, "same seed", testutil.Download(t, b, again), v, 0)
	nn.HeUniform(b, again, nn.NewRand(3))
	if w := testutil.Download(t, b, again); w[0] == v[0] && w[1] == v[1] {
		t.Errorf("seeds 2 and 3 gave the same values")
	}

	nn.Zeros(b, again)
	if w := testutil.Download(t, b, again); w[0] != 0 || w[len(w)-1] != 0 {
		t.Errorf("Zeros left %v", w[0])
	}
	nn.Ones(b, again)
	if w := testutil.Download(t, b, again); w[0] != 1 || w[len(w)-1] != 1 {
		t.Errorf("Ones left %v", w[0])
	}
}

func TestConstructorDefaults(t *testing.T) {
	b := testutil.CPU(t, 2)
	conv := nn.NewConv2d(b, 64, 128, 3, 2, 1, 32)
	defer conv.Free()
	if s := conv.Weight.Value.Shape(); !s.Equal(ops.Shape{128, 2, 3, 3}) || conv.Weight.Name != "weight" {
		t.Errorf("grouped conv weight %q %v, want \"weight\" [128, 2, 3, 3]", conv.Weight.Name, s)
	}
	lin := nn.NewLinear(b, 2048, 10)
	defer lin.Free()
	if !lin.Weight.Value.Shape().Equal(ops.Shape{10, 2048}) || !lin.Bias.Value.Shape().Equal(ops.Shape{10}) {
		t.Errorf("linear shapes %v %v", lin.Weight.Value.Shape(), lin.Bias.Value.Shape())
	}
	bn := nn.NewBatchNorm2d(b, 4, nn.MindCVMomentum)
	defer bn.Free()
	for _, c := range []struct {
		p    *nn.Param
		name string
		v    float32
	}{{bn.Gamma, "gamma", 1}, {bn.Beta, "beta", 0}, {bn.MovingMean, "moving_mean", 0}, {bn.MovingVariance, "moving_variance", 1}} {
		if got := testutil.Download(t, b, c.p.Value); c.p.Name != c.name || got[0] != c.v || got[3] != c.v || c.p.Grad != nil {
			t.Errorf("%s: name %q values %v grad %v", c.name, c.p.Name, got, c.p.Grad)
		}
	}
	if bn.Eps != 1e-5 {
		t.Errorf("eps %v, want 1e-5", bn.Eps)
	}
}
