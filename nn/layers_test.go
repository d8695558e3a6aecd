package nn_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// randomize fills every parameter of l with values a gradient check can see: weights from
// N(0, 0.5²), gamma in [0.5, 1.5], beta and biases from N(0, 0.3²).
func randomize(b ops.Backend, l nn.Layer, r *rand.Rand) {
	for _, p := range l.Params() {
		n := p.Value.Shape().Numel()
		var v []float32
		switch {
		case !p.Trainable:
			continue
		case strings.HasSuffix(p.Name, "gamma"):
			v = make([]float32, n)
			for i := range v {
				v[i] = float32(0.5 + r.Float64())
			}
		case strings.HasSuffix(p.Name, "beta"), strings.HasSuffix(p.Name, "bias"):
			v = testutil.Randn(r, n, 0.3)
		default:
			v = testutil.Randn(r, n, 0.5)
		}
		b.Write(p.Value, ops.Bytes(v))
	}
}

// awayFromKinks sets every batch norm to gamma in [0.1, 0.2] and beta = ±2, so that the ReLUs after
// them see values far from 0 and a finite-difference step never crosses a kink; the weights get
// randomize's values. The two batch norms whose outputs a bottleneck sums (bn3 and down_sample.1)
// get beta in {1, -3} instead, so that their sum is 2, -2 or -6, never near 0; the identity branch
// needs a small x for the same reason. The per-layer tests check the kinks themselves.
func awayFromKinks(b ops.Backend, l nn.Layer, r *rand.Rand) {
	randomize(b, l, r)
	for _, p := range l.Params() {
		v := make([]float32, p.Value.Shape().Numel())
		summed := strings.HasPrefix(p.Name, "bn3.") || strings.HasPrefix(p.Name, "down_sample.1.")
		switch {
		case strings.HasSuffix(p.Name, "gamma"):
			for i := range v {
				v[i] = float32(0.1 + 0.1*r.Float64())
			}
		case strings.HasSuffix(p.Name, "beta") && summed:
			for i := range v {
				v[i] = float32(4*r.IntN(2) - 3)
			}
		case strings.HasSuffix(p.Name, "beta"):
			for i := range v {
				v[i] = float32(4*r.IntN(2) - 2)
			}
		default:
			continue
		}
		b.Write(p.Value, ops.Bytes(v))
	}
}

func TestGradients(t *testing.T) {
	b := testutil.CPU(t, 2)
	r := rand.New(rand.NewPCG(1, 2))
	mom := nn.MindCVMomentum
	cases := []struct {
		name  string
		layer func() nn.Layer
		shape ops.Shape
		x     func(n int) []float32
		h     float64
		// kinks marks a composite with ReLUs after batch norms: keep them away from their kinks, and
		// use a small step, whose float32 rounding noise needs a looser tolerance.
		kinks bool
	}{
		{"conv 1x1", func() nn.Layer { return nn.NewConv2d(b, 4, 6, 1, 1, 0, 1) }, ops.Shape{2, 4, 5, 5}, nil, 0.1, false},
		{"conv 3x3 stride 2 groups 2", func() nn.Layer { return nn.NewConv2d(b, 4, 6, 3, 2, 1, 2) }, ops.Shape{2, 4, 7, 6}, nil, 0.1, false},
		{"conv 7x7 stride 2 pad 3", func() nn.Layer { return nn.NewConv2d(b, 3, 4, 7, 2, 3, 1) }, ops.Shape{1, 3, 9, 9}, nil, 0.1, false},
		{"conv depthwise", func() nn.Layer { return nn.NewConv2d(b, 4, 4, 3, 1, 1, 4) }, ops.Shape{2, 4, 4, 4}, nil, 0.1, false},
		{"batchnorm", func() nn.Layer { return nn.NewBatchNorm2d(b, 3, mom) }, ops.Shape{3, 3, 4, 5}, nil, 1e-2, false},
		{"batchnorm with relu", func() nn.Layer {
			bn := nn.NewBatchNorm2d(b, 3, mom)
			bn.ReLU = true
			return bn
		}, ops.Shape{3, 3, 4, 5}, nil, 1e-3, true},
		{"relu", func() nn.Layer { return nn.NewReLU(b, false) }, ops.Shape{2, 3, 4, 4}, func(n int) []float32 { return awayFromZero(r, n) }, 1e-2, false},
		{"relu in place", func() nn.Layer { return nn.NewReLU(b, true) }, ops.Shape{2, 3, 4, 4}, func(n int) []float32 { return awayFromZero(r, n) }, 1e-2, false},
		{"maxpool pad 1", func() nn.Layer { return nn.NewMaxPool2d(b, 3, 2, 1) }, ops.Shape{2, 3, 7, 7}, func(n int) []float32 { return distinct(r, n) }, 1e-2, false},
		{"maxpool same", func() nn.Layer { return nn.NewMaxPool2dSame(b, 3, 2) }, ops.Shape{2, 3, 8, 6}, func(n int) []float32 { return distinct(r, n) }, 1e-2, false},
		{"global avg pool", func() nn.Layer { return nn.NewGlobalAvgPool(b) }, ops.Shape{2, 3, 4, 5}, nil, 0.1, false},
		{"linear", func() nn.Layer { return nn.NewLinear(b, 6, 5) }, ops.Shape{4, 6}, nil, 0.1, false},
		{"sequential", func() nn.Layer {
			return nn.NewSequential(nn.NewConv2d(b, 3, 8, 3, 1, 1, 1), nn.NewBatchNorm2d(b, 8, mom), nn.NewReLU(b, true),
				nn.NewGlobalAvgPool(b), nn.NewLinear(b, 8, 4))
		}, ops.Shape{3, 3, 6, 6}, nil, 1e-3, true},
		{"sequential with fused relu", func() nn.Layer {
			bn := nn.NewBatchNorm2d(b, 8, mom)
			bn.ReLU = true
			return nn.NewSequential(nn.NewConv2d(b, 3, 8, 3, 1, 1, 1), bn, nn.NewGlobalAvgPool(b), nn.NewLinear(b, 8, 4))
		}, ops.Shape{3, 3, 6, 6}, nil, 1e-3, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := c.layer()
			defer l.Free()
			if c.kinks {
				awayFromKinks(b, l, r)
			} else {
				randomize(b, l, r)
			}
			x := testutil.Randn(r, c.shape.Numel(), 1)
			if c.x != nil {
				x = c.x(c.shape.Numel())
			}
			tol := 2e-3
			if c.kinks {
				tol = 1e-2
			}
			checkGrads(t, b, gradCase{layer: l, shape: c.shape, x: x, h: c.h, tol: tol})
		})
	}
}

func TestLinearForward(t *testing.T) {
	b := testutil.CPU(t, 2)
	r := rand.New(rand.NewPCG(3, 4))
	l := nn.NewLinear(b, 3, 2)
	defer l.Free()
	w, bias, x := testutil.Randn(r, 6, 1), testutil.Randn(r, 2, 1), testutil.Randn(r, 12, 1)
	b.Write(l.Weight.Value, ops.Bytes(w))
	b.Write(l.Bias.Value, ops.Bytes(bias))
	xt := testutil.Upload(b, ops.Shape{4, 3}, x)
	defer b.Free(xt)
	want := make([]float32, 8)
	for n := range 4 {
		for o := range 2 {
			s := float64(bias[o])
			for i := range 3 {
				s += float64(x[n*3+i]) * float64(w[o*3+i])
			}
			want[n*2+o] = float32(s)
		}
	}
	testutil.AssertClose(t, "y", testutil.Download(t, b, l.Forward(xt)), want, 1e-6)
}

func TestMaxPoolPadding(t *testing.T) {
	b := testutil.CPU(t, 2)
	// A 4x4 plane holding 0..15: the largest value of a window is its bottom-right element.
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i)
	}
	xt := testutil.Upload(b, ops.Shape{1, 1, 4, 4}, x)
	defer b.Free(xt)
	for _, c := range []struct {
		name string
		pool *nn.MaxPool2d
		want []float32
	}{
		// torchvision, padding 1: windows start at -1 (rows -1..1 and 1..3).
		{"symmetric", nn.NewMaxPool2d(b, 3, 2, 1), []float32{5, 7, 13, 15}},
		// MindCV "same": 4 -> 2 pads one row and column at the bottom/right; windows start at 0.
		{"same", nn.NewMaxPool2dSame(b, 3, 2), []float32{10, 11, 14, 15}},
	} {
		y := c.pool.Forward(xt)
		if !y.Shape().Equal(ops.Shape{1, 1, 2, 2}) {
			t.Fatalf("%s: shape %v", c.name, y.Shape())
		}
		testutil.AssertClose(t, c.name, testutil.Download(t, b, y), c.want, 0)
		c.pool.Free()
	}

	// The stem's 112 -> 56: "same" pads 0 on top and 1 at the bottom, torchvision 1 and 1.
	p := nn.NewMaxPool2dSame(b, 3, 2)
	defer p.Free()
	big := b.Alloc(ops.Float32, ops.Shape{1, 1, 112, 112})
	defer b.Free(big)
	b.Fill(big, 0)
	if s := p.Forward(big).Shape(); !s.Equal(ops.Shape{1, 1, 56, 56}) {
		t.Errorf("same pool of 112: shape %v, want [1, 1, 56, 56]", s)
	}
}

func TestGlobalAvgPoolForward(t *testing.T) {
	b := testutil.CPU(t, 2)
	g := nn.NewGlobalAvgPool(b)
	defer g.Free()
	x := make([]float32, 2*2*3)
	for i := range x {
		x[i] = float32(i)
	}
	xt := testutil.Upload(b, ops.Shape{2, 2, 1, 3}, x)
	defer b.Free(xt)
	testutil.AssertClose(t, "y", testutil.Download(t, b, g.Forward(xt)), []float32{1, 4, 7, 10}, 1e-7)
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	b := testutil.CPU(t, 2)
	r := rand.New(rand.NewPCG(5, 6))
	const n, c, eps = 4, 5, 0.1
	logits := testutil.Randn(r, n*c, 2)
	labels := []int32{0, 3, 4, 3}
	lt := testutil.Upload(b, ops.Shape{n, c}, logits)
	defer b.Free(lt)
	yt := ops.FromInt32(b, ops.Shape{n}, labels)
	defer b.Free(yt)
	ce := nn.NewSoftmaxCrossEntropy(b, eps)
	defer ce.Free()

	// Reference: mean over rows of -sum_j target_j log softmax_j.
	ref := func(z []float32) float64 {
		var total float64
		for i := range n {
			row := z[i*c : (i+1)*c]
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v))
			}
			for j, v := range row {
				target := eps / c
				if int32(j) == labels[i] {
					target += 1 - eps
				}
				total -= target * (float64(v) - math.Log(s))
			}
		}
		return total / n
	}
	loss := testutil.Download(t, b, ce.Forward(lt, yt))
	if len(loss) != 1 || math.Abs(float64(loss[0])-ref(logits)) > 1e-5 {
		t.Fatalf("loss %v, want %v", loss, ref(logits))
	}
	d := testutil.Download(t, b, ce.Backward(1))
	d1024 := testutil.Download(t, b, ce.Backward(1024))
	for i := range d {
		d[i] *= 1024
	}
	testutil.AssertClose(t, "dlogits scaled by 1024", d1024, d, 1e-6)
	for i := range d {
		d[i] /= 1024
	}
	const h = 1e-2
	for range 3 {
		v := testutil.Uniform(r, len(logits))
		fd := (ref(testutil.Axpy(logits, h, v)) - ref(testutil.Axpy(logits, -h, v))) / (2 * h)
		if an := testutil.Dot(d, v); math.Abs(fd-an) > 1e-4*(1+math.Abs(an)) {
			t.Errorf("directional derivative %v, finite difference %v", an, fd)
		}
	}
}

func TestFrozenAndNoInputGrad(t *testing.T) {
	b := testutil.CPU(t, 2)
	r := rand.New(rand.NewPCG(8, 9))
	conv := nn.NewConv2d(b, 2, 3, 3, 1, 1, 1)
	lin := nn.NewLinear(b, 3, 2)
	net := nn.NewSequential(conv, nn.NewGlobalAvgPool(b), lin)
	defer net.Free()
	randomize(b, net, r)
	x := testutil.Upload(b, ops.Shape{2, 2, 4, 4}, testutil.Randn(r, 64, 1))
	defer b.Free(x)
	dy := testutil.Upload(b, ops.Shape{2, 2}, testutil.Randn(r, 4, 1))
	defer b.Free(dy)

	conv.Weight.Trainable = false
	conv.NoInputGrad = true
	net.Forward(x)
	if dx := net.Backward(dy); dx != nil {
		t.Errorf("NoInputGrad on the first layer: Backward returned %v, want nil", dx.Shape())
	}
	if conv.Weight.Grad != nil || lin.Weight.Grad == nil || lin.Bias.Grad == nil {
		t.Errorf("frozen conv weight got a gradient, or the linear layer did not")
	}

	// A classifier with NoInputGrad stops the backward: nothing below it runs.
	conv.Weight.Trainable = true
	lin.NoInputGrad = true
	net.Forward(x)
	if dx := net.Backward(dy); dx != nil || conv.Weight.Grad != nil {
		t.Errorf("Backward went past a layer with NoInputGrad")
	}
}

func TestMisusePanics(t *testing.T) {
	b := testutil.CPU(t, 2)
	conv := nn.NewConv2d(b, 4, 8, 3, 1, 1, 2)
	block := nn.NewSequential(nn.NewSequential(conv))
	nn.Child("layer1", block)
	defer block.Free()
	x := b.Alloc(ops.Float32, ops.Shape{1, 3, 5, 5})
	defer b.Free(x)
	mustPanic(t, func() { conv.Forward(x) }, "Conv2d layer1.0.0", "[1, 3, 5, 5]", "[N, 4, H, W]")
	mustPanic(t, func() { conv.Backward(x) }, "Conv2d layer1.0.0", "Backward before Forward")
	// An image of height 0 gave all-zero logits, silently.
	flat := b.Alloc(ops.Float32, ops.Shape{1, 4, 0, 5})
	defer b.Free(flat)
	mustPanic(t, func() { conv.Forward(flat) }, "Conv2d layer1.0.0", "[1, 4, 0, 5]", "every dimension must be at least 1")

	bn := nn.NewBatchNorm2d(b, 4, nn.TorchMomentum(0.1))
	defer bn.Free()
	good := b.Alloc(ops.Float32, ops.Shape{2, 4, 3, 3})
	defer b.Free(good)
	b.Fill(good, 1)
	bn.SetTraining(false)
	y := bn.Forward(good)
	mustPanic(t, func() { bn.Backward(y) }, "BatchNorm2d", "evaluation")
	bn.SetTraining(true)
	bn.Forward(good)
	mustPanic(t, func() { bn.Backward(x) }, "BatchNorm2d", "[1, 3, 5, 5]", "[2, 4, 3, 3]")

	mustPanic(t, func() { nn.NewBatchNorm2d(b, 4, nn.Momentum{}) }, "NewBatchNorm2d", "MindSporeMomentum")
	mustPanic(t, func() { nn.MindSporeMomentum(1.5) }, "MindSporeMomentum", "1.5")
	mustPanic(t, func() { nn.NewConv2d(b, 6, 8, 3, 1, 1, 4) }, "NewConv2d", "groups 4")
	mustPanic(t, func() { nn.NewLinear(b, 3, 2).Forward(good) }, "Linear", "[2, 4, 3, 3]", "[N, 3]")
	mustPanic(t, func() { nn.NewAdd(b, false).Forward(good, x) }, "Add", "[2, 4, 3, 3]", "[1, 3, 5, 5]")
}

func TestParsePoolPadding(t *testing.T) {
	for _, p := range []nn.PoolPadding{nn.PoolSame, nn.PoolSymmetric} {
		if got, err := nn.ParsePoolPadding(strings.ToUpper(string(p))); got != p || err != nil {
			t.Errorf("nn.ParsePoolPadding(%q) = %v, %v", p, got, err)
		}
	}
	if _, err := nn.ParsePoolPadding("valid"); err == nil || !strings.Contains(err.Error(), "same") {
		t.Errorf("nn.ParsePoolPadding(valid): %v", err)
	}
}

// TestAddInPlace checks that Add writes the sum into a buffer of its own, or over its first
// operand when InPlace.
func TestAddInPlace(t *testing.T) {
	b := testutil.CPU(t, 1)
	for _, inPlace := range []bool{false, true} {
		a := nn.NewAdd(b, inPlace)
		x1 := testutil.Upload(b, ops.Shape{1, 2, 1, 2}, []float32{1, 2, 3, 4})
		x2 := testutil.Upload(b, ops.Shape{1, 2, 1, 2}, []float32{10, 20, 30, 40})
		y := a.Forward(x1, x2)
		testutil.AssertClose(t, "sum", testutil.Download(t, b, y), []float32{11, 22, 33, 44}, 0)
		if (y == x1) != inPlace {
			t.Errorf("InPlace %v: the sum is the first operand: %v", inPlace, y == x1)
		}
		testutil.AssertClose(t, "second operand", testutil.Download(t, b, x2), []float32{10, 20, 30, 40}, 0)
		a.Free()
		b.Free(x1)
		b.Free(x2)
	}
}

// TestPartialRelease checks what each layer keeps. ReleaseBackward leaves the output valid, and a
// layer that saved its input refuses Backward until the next Forward. A batch norm's
// ReleaseOutput (OutputReleaser) leaves Backward working, with the same gradients.
func TestPartialRelease(t *testing.T) {
	b := testutil.CPU(t, 2)
	r := rand.New(rand.NewPCG(5, 5))
	mom := nn.MindCVMomentum
	for _, c := range []struct {
		name       string
		layer      nn.Layer
		shape      ops.Shape
		savesInput bool
	}{
		{"conv", nn.NewConv2d(b, 3, 4, 3, 1, 1, 1), ops.Shape{2, 3, 5, 5}, true},
		{"batchnorm", nn.NewBatchNorm2d(b, 3, mom), ops.Shape{2, 3, 5, 5}, true},
		{"relu", nn.NewReLU(b, false), ops.Shape{2, 3, 5, 5}, false},
		{"maxpool", nn.NewMaxPool2d(b, 3, 2, 1), ops.Shape{2, 3, 5, 5}, true},
		{"global avg pool", nn.NewGlobalAvgPool(b), ops.Shape{2, 3, 5, 5}, false},
		{"linear", nn.NewLinear(b, 6, 4), ops.Shape{2, 6}, true},
		{"sequential", nn.NewSequential(nn.NewConv2d(b, 3, 4, 1, 1, 0, 1), nn.NewBatchNorm2d(b, 4, mom)), ops.Shape{2, 3, 5, 5}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := c.layer
			defer l.Free()
			randomize(b, l, r)
			x := testutil.Upload(b, c.shape, testutil.Randn(r, c.shape.Numel(), 1))
			defer b.Free(x)
			y := l.Forward(x)
			want := testutil.Download(t, b, y)
			dy := testutil.Upload(b, y.Shape(), testutil.Randn(r, y.Shape().Numel(), 1))
			defer b.Free(dy)
			dx := testutil.Download(t, b, l.Backward(dy))

			l.ReleaseBackward()
			testutil.AssertClose(t, "output after ReleaseBackward", testutil.Download(t, b, y), want, 0)
			if c.savesInput {
				mustPanic(t, func() { l.Backward(dy) }, "Backward before Forward")
			}

			if o, ok := l.(nn.OutputReleaser); ok {
				l.Forward(x)
				o.ReleaseOutput()
				testutil.AssertClose(t, "input gradient after ReleaseOutput", testutil.Download(t, b, l.Backward(dy)), dx, 0)
			}
		})
	}
}
