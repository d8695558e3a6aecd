package resnext

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// tiny is a few-thousand-parameter ResNeXt with the given stem, for checks that run the whole
// network many times: planes 8, 2 groups of 4 channels, two blocks in layer1 (so one block without
// down_sample), one in the other stages, 5 classes of RGB images.
func tiny(stem Stem) Config {
	return Config{Name: "tiny_" + stem.String(), Blocks: [4]int{2, 1, 1, 1}, Groups: 2, BaseWidth: 32, Planes: 8,
		NumClasses: 5, InChannels: 3, Stem: stem}
}

func newModel(t testing.TB, b ops.Backend, cfg Config, seed uint64) *Model {
	t.Helper()
	m, err := New(b, cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestForwardBackward runs a training step of each small variant on a batch of 28x28 images: the
// logits have shape [N, 10] and are finite, Backward returns nil (the stem computes no input
// gradient), and every trainable parameter has a finite gradient that is not all zero.
func TestForwardBackward(t *testing.T) {
	for _, name := range []string{"resnext14_small", "resnext26_small"} {
		t.Run(name, func(t *testing.T) {
			b := testutil.CPU(t, 2)
			cfg, _ := Variant(name)
			m := newModel(t, b, cfg, 1)
			defer m.Free()
			x := testutil.Upload(b, ops.Shape{2, 1, 28, 28}, testutil.Randn(rand.New(rand.NewPCG(1, 2)), 2*28*28, 1))
			defer b.Free(x)
			y := m.Forward(x)
			if !y.Shape().Equal(ops.Shape{2, 10}) {
				t.Fatalf("logits have shape %v, want [2, 10]", y.Shape())
			}
			if v := testutil.Download(t, b, y); !testutil.AllFinite(v) {
				t.Fatalf("logits %v", v)
			}
			dy := testutil.Upload(b, y.Shape(), testutil.Randn(rand.New(rand.NewPCG(3, 4)), y.Shape().Numel(), 1))
			defer b.Free(dy)
			if dx := m.Backward(dy); dx != nil {
				t.Errorf("Backward returned %v, want nil", dx.Shape())
			}
			for _, p := range m.Params() {
				if !p.Trainable {
					if p.Grad != nil {
						t.Errorf("%s is not trainable but has a gradient", p.Name)
					}
					continue
				}
				if p.Grad == nil {
					t.Errorf("%s: no gradient", p.Name)
					continue
				}
				g := testutil.Download(t, b, p.Grad)
				if !testutil.AllFinite(g) || !slices.ContainsFunc(g, func(v float32) bool { return v != 0 }) {
					t.Errorf("%s: gradient not finite or all zero", p.Name)
				}
			}
		})
	}
}

// TestMindCV50 runs resnext50_32x4d forward and backward in training mode on two 64x64 images (the
// architecture takes any size; 224x224 would take seconds on the CPU).
func TestMindCV50(t *testing.T) {
	if testing.Short() {
		t.Skip("a 25M-parameter network")
	}
	b := testutil.CPU(t, 2)
	cfg, _ := Variant("resnext50_32x4d")
	m := newModel(t, b, cfg, 42)
	defer m.Free()
	x := testutil.Upload(b, ops.Shape{2, 3, 64, 64}, testutil.Randn(rand.New(rand.NewPCG(5, 6)), 2*3*64*64, 1))
	defer b.Free(x)
	y := m.Forward(x)
	if !y.Shape().Equal(ops.Shape{2, 1000}) {
		t.Fatalf("logits have shape %v, want [2, 1000]", y.Shape())
	}
	if !testutil.AllFinite(testutil.Download(t, b, y)) {
		t.Fatal("logits not finite")
	}
	dy := testutil.Upload(b, y.Shape(), testutil.Randn(rand.New(rand.NewPCG(7, 8)), 2000, 1))
	defer b.Free(dy)
	m.Backward(dy)
	if g := testutil.Download(t, b, m.Params()[0].Grad); !testutil.AllFinite(g) {
		t.Fatal("conv1.weight gradient not finite")
	}
}

// TestGradient checks Backward against central finite differences of L = <w, logits(x)>, w random
// and fixed, along random directions: of the input (with the stem's input gradient switched on for
// the test), of all the trainable parameters at once, and of the stem's weight alone; both stems,
// training mode. A direction perturbs each tensor in proportion to its root mean square, and the
// error is measured against the spread of the directional derivative over random directions
// (sqrt(sum |grad|^2 rms^2)): at init, with batch statistics over a few values and many ReLU kinks,
// the network is rough, and the difference quotient converges only for small steps. A wrong wiring
// (a dropped residual gradient, say) gives errors of 0.3 to 1 on that scale, the correct network
// under 0.1.
func TestGradient(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		size int
	}{
		{tiny(SmallStem), 16},    // 16 -> 16, 8, 4, 2
		{tiny(ImageNetStem), 64}, // 64 -> 32 -> 16 -> 16, 8, 4, 2
	} {
		t.Run(c.cfg.Name, func(t *testing.T) {
			b := testutil.CPU(t, 2)
			m := newModel(t, b, c.cfg, 3)
			defer m.Free()
			m.conv1.NoInputGrad = false
			r := rand.New(rand.NewPCG(11, 3))
			const n = 8
			shape := ops.Shape{n, 3, c.size, c.size}
			xv := testutil.Randn(r, shape.Numel(), 1)
			x := testutil.Upload(b, shape, xv)
			defer b.Free(x)
			w := testutil.Randn(r, n*c.cfg.NumClasses, 1)
			wt := testutil.Upload(b, ops.Shape{n, c.cfg.NumClasses}, w)
			defer b.Free(wt)

			loss := func() float64 { return testutil.Dot(w, testutil.Download(t, b, m.Forward(x))) }
			loss()
			input := testutil.Probe{Set: func(v []float32) { b.Write(x, ops.Bytes(v)) }, Value: xv,
				Grad: testutil.Download(t, b, m.Backward(wt))}
			var params []testutil.Probe
			for _, p := range m.Params() {
				if p.Trainable {
					params = append(params, testutil.Probe{Set: func(v []float32) { b.Write(p.Value, ops.Bytes(v)) },
						Value: testutil.Download(t, b, p.Value), Grad: testutil.Download(t, b, p.Grad)})
				}
			}
			checkDirectional(t, r, "input", loss, input)
			checkDirectional(t, r, "conv1.weight", loss, params[0])
			checkDirectional(t, r, "all parameters", loss, params...)
		})
	}
}

// checkDirectional compares the directional derivative of loss along a random direction over the
// probes with the central difference quotient at a step of 1e-4 of each tensor's root mean square.
func checkDirectional(t *testing.T, r *rand.Rand, what string, loss func() float64, probes ...testutil.Probe) {
	t.Helper()
	const h, tol = 1e-4, 0.15
	dirs := make([][]float32, len(probes))
	var spread float64
	for i, p := range probes {
		rms := math.Sqrt(testutil.Dot(p.Value, p.Value) / float64(len(p.Value)))
		if rms == 0 { // a batch norm's beta at init
			rms = 1
		}
		dirs[i] = testutil.Randn(r, len(p.Value), rms)
		spread += testutil.Dot(p.Grad, p.Grad) * rms * rms
	}
	analytic, fd := testutil.Directional(loss, h, probes, dirs)
	err := math.Abs(fd-analytic) / math.Sqrt(spread)
	t.Logf("%s: directional derivative %.6g, finite difference %.6g, error %.3f", what, analytic, fd, err)
	if !(err <= tol) {
		t.Errorf("%s: error %.3f of the spread %.4g, over the limit %v", what, err, math.Sqrt(spread), tol)
	}
}

// TestBufferReuse runs training passes (forward, loss, backward). By default Backward gives the
// buffers back as it goes, so each pass allocates as many tensors as it frees, and from the third a
// pool keyed by size serves them all (the first Backward allocates the parameter gradients, which
// can take sizes a second pass needs again); with KeepBuffers(true) the second pass allocates
// nothing. The same parameters give the same loss, and Free gives back everything. (The
// optimizer's own test in package train checks its step allocates nothing.)
func TestBufferReuse(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep %v", keep), func(t *testing.T) {
			inner := testutil.CPU(t, 2)
			b := &testutil.Counting{Backend: inner}
			cfg := tiny(ImageNetStem)
			m := newModel(t, b, cfg, 5)
			m.KeepBuffers(keep)
			ce := nn.NewSoftmaxCrossEntropy(b, 0.1)
			x := testutil.Upload(inner, ops.Shape{4, 3, 32, 32}, testutil.Randn(rand.New(rand.NewPCG(1, 1)), 4*3*32*32, 1))
			defer inner.Free(x)
			labels := ops.FromInt32(inner, ops.Shape{4}, []int32{0, 1, 2, 3})
			defer inner.Free(labels)
			step := func() float32 {
				loss := testutil.Download(t, b, ce.Forward(m.Forward(x), labels))[0]
				m.Backward(ce.Backward(1))
				return loss
			}

			first := step()
			allocs, frees := b.Allocs, b.Frees
			if second := step(); second != first {
				t.Errorf("loss %v, then %v from the same parameters", first, second)
			}
			switch {
			case keep && (b.Allocs != allocs || b.Frees != frees):
				t.Errorf("second step: %d allocations and %d frees, want none", b.Allocs-allocs, b.Frees-frees)
			case !keep && (b.Allocs == allocs || b.Allocs-allocs != b.Frees-frees):
				t.Errorf("second step: %d allocations and %d frees, want the same number, not 0", b.Allocs-allocs, b.Frees-frees)
			}
			fresh := b.Fresh
			step()
			if b.Fresh != fresh {
				t.Errorf("third step: %d allocations a pool could not serve", b.Fresh-fresh)
			}
			if err := m.SetMaxPoolPadding(nn.PoolSymmetric); err != nil {
				t.Fatal(err)
			}
			step()
			ce.Free()
			m.Free()
			if b.Allocs != b.Frees {
				t.Errorf("after Free: %d allocations, %d frees", b.Allocs, b.Frees)
			}
		})
	}
}

// TestTrainingReleases trains two copies of the tiny model with MindCV's optimizer for a few
// steps, one releasing buffers in Backward (the default) and one keeping them all: logits, losses,
// gradients, updated parameters and moving statistics are the same to the bit, the logits are
// still valid after Backward, and the releasing model holds far fewer bytes at its peak and, after
// a step, nothing but its parameters, their gradients and moments, the logits and the loss's
// buffers.
func TestTrainingReleases(t *testing.T) {
	inner := testutil.CPU(t, 2)
	type run struct {
		b   *testutil.Counting
		m   *Model
		ce  *nn.SoftmaxCrossEntropy
		opt *sgd
		// fixed counts the tensors and bytes of the parameters, their gradients and moments.
		fixed, fixedBytes int
	}
	runs := make([]*run, 2) // releasing, keeping
	for i := range runs {
		b := &testutil.Counting{Backend: inner}
		m := newModel(t, b, tiny(ImageNetStem), 8)
		defer m.Free()
		m.KeepBuffers(i == 1)
		ce := nn.NewSoftmaxCrossEntropy(b, 0.1)
		defer ce.Free()
		opt := newSGD(b, m.Params(), 0.9, 1e-4, true)
		defer opt.Free()
		c := &run{b: b, m: m, ce: ce, opt: opt}
		for _, p := range m.Params() {
			n := 1
			if p.Trainable {
				n = 3
			}
			c.fixed += n
			c.fixedBytes += n * testutil.Bytes(p.Value)
		}
		runs[i] = c
	}
	const n = 4
	r := rand.New(rand.NewPCG(6, 6))
	labels := ops.FromInt32(inner, ops.Shape{n}, []int32{4, 0, 2, 2})
	defer inner.Free(labels)
	for step := range 4 {
		x := testutil.Upload(inner, ops.Shape{n, 3, 32, 32}, testutil.Randn(r, n*3*32*32, 1))
		var got [2][][]float32 // per run: logits, loss, logits after Backward, gradients, parameters
		var peakBytes, after [2]int
		for i, c := range runs {
			c.b.ResetPeaks()
			logits := c.m.Forward(x)
			before := testutil.Download(t, c.b, logits)
			loss := testutil.Download(t, c.b, c.ce.Forward(logits, labels))
			c.m.Backward(c.ce.Backward(1))
			got[i] = append(got[i], before, loss, testutil.Download(t, c.b, logits))
			for _, p := range c.m.Params() {
				if p.Trainable {
					got[i] = append(got[i], testutil.Download(t, c.b, p.Grad))
				}
			}
			c.opt.Step(0.1)
			for _, p := range c.m.Params() {
				got[i] = append(got[i], testutil.Download(t, c.b, p.Value))
			}
			peakBytes[i], after[i] = c.b.PeakBytes-c.fixedBytes, c.b.Live-c.fixed
		}
		inner.Free(x)
		for k := range got[0] {
			if !slices.Equal(got[0][k], got[1][k]) {
				t.Errorf("step %d: value %d differs between releasing and keeping", step, k)
			}
		}
		if !slices.Equal(got[0][0], got[0][2]) {
			t.Errorf("step %d: the logits changed in Backward", step)
		}
		if step == 0 {
			continue // the gradients appear during the first Backward
		}
		t.Logf("step %d, beyond the parameters, gradients and moments: at the peak %d bytes releasing, %d keeping; "+
			"after the step %d tensors and %d", step, peakBytes[0], peakBytes[1], after[0], after[1])
		if peakBytes[0]*10 > peakBytes[1]*6 {
			t.Errorf("step %d: releasing peaks at %d bytes, keeping at %d: want at most 60%%", step, peakBytes[0], peakBytes[1])
		}
		if after[0] != 4 {
			t.Errorf("step %d: releasing holds %d tensors after the step, want 4 (the logits and the loss's log-probabilities, loss and gradient)", step, after[0])
		}
	}
}

// TestEvalMode switches to evaluation: each sample's logits no longer depend on the rest of the
// batch (they do in training, through the batch statistics), and the moving statistics stay as
// they were.
func TestEvalMode(t *testing.T) {
	b := testutil.CPU(t, 2)
	m := newModel(t, b, tiny(SmallStem), 7)
	defer m.Free()
	x := testutil.Randn(rand.New(rand.NewPCG(3, 3)), 3*3*12*12, 1)
	batch := testutil.Upload(b, ops.Shape{3, 3, 12, 12}, x)
	defer b.Free(batch)
	pair := testutil.Upload(b, ops.Shape{2, 3, 12, 12}, x[:2*3*12*12])
	defer b.Free(pair)

	trainBatch := testutil.Download(t, b, m.Forward(batch))
	trainPair := testutil.Download(t, b, m.Forward(pair))
	if d := maxDiff(trainPair, trainBatch[:10]); d < 1e-4 {
		t.Errorf("training mode: the first two samples' logits do not depend on the third (max difference %g)", d)
	}
	before := map[string][]float32{}
	for _, p := range m.Params() {
		if !p.Trainable {
			before[p.Name] = testutil.Download(t, b, p.Value)
			if p.Name == "layer4.0.bn3.moving_mean" && maxDiff(before[p.Name], make([]float32, len(before[p.Name]))) == 0 {
				t.Errorf("%s still 0 after training-mode forwards", p.Name)
			}
		}
	}
	m.SetTraining(false)
	evalBatch := testutil.Download(t, b, m.Forward(batch))
	evalPair := testutil.Download(t, b, m.Forward(pair))
	testutil.AssertClose(t, "evaluation: two samples alone vs in a batch of three", evalPair, evalBatch[:10], 1e-5)
	for _, p := range m.Params() {
		if !p.Trainable {
			testutil.AssertClose(t, p.Name+" after evaluation", testutil.Download(t, b, p.Value), before[p.Name], 0)
		}
	}
	m.SetTraining(true)
	testutil.AssertClose(t, "training mode again", testutil.Download(t, b, m.Forward(pair)), trainPair, 1e-2)
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestMaxPoolPadding checks that the ImageNet stem's max pool is ops.SamePool (MindCV) or
// ops.Pool(3, 2, 1) (torchvision) as set, that switching at run time changes the logits, and that
// the small stem refuses a padding.
func TestMaxPoolPadding(t *testing.T) {
	b := testutil.CPU(t, 2)
	cfg := tiny(ImageNetStem)
	m := newModel(t, b, cfg, 9)
	defer m.Free()
	m.SetTraining(false)
	x := testutil.Upload(b, ops.Shape{2, 3, 32, 32}, testutil.Randn(rand.New(rand.NewPCG(9, 9)), 2*3*32*32, 1))
	defer b.Free(x)

	same, sym := ops.SamePool(3, 2, 16, 16), ops.Pool(3, 2, 1)
	if same == sym {
		t.Fatalf("the two paddings agree at 16x16 (%+v): the test needs a size where they differ", same)
	}
	logits := map[nn.PoolPadding][]float32{}
	for _, c := range []struct {
		padding nn.PoolPadding
		want    ops.Pool2dParams
	}{{nn.PoolSame, same}, {nn.PoolSymmetric, sym}, {nn.PoolSame, same}} {
		if err := m.SetMaxPoolPadding(c.padding); err != nil {
			t.Fatal(err)
		}
		if got := m.Config().MaxPool; got != c.padding {
			t.Errorf("Config().MaxPool = %v after setting %v", got, c.padding)
		}
		stem := m.bn1.Forward(m.conv1.Forward(x)) // relu(bn1(conv1(x))) [2, 8, 16, 16]
		got := testutil.Download(t, b, m.maxPool.Forward(stem))
		ref := b.Alloc(ops.Float32, ops.Shape{2, 8, 8, 8})
		ms, mt := b.MaxPool2dMask(stem.Shape(), c.want)
		mask := b.Alloc(mt, ms)
		b.MaxPool2d(stem, ref, mask, c.want)
		testutil.AssertClose(t, string(c.padding)+" max pool", got, testutil.Download(t, b, ref), 0)
		b.Free(ref)
		b.Free(mask)

		y := testutil.Download(t, b, m.Forward(x))
		if prev, ok := logits[c.padding]; ok {
			testutil.AssertClose(t, string(c.padding)+" logits after switching back", y, prev, 0)
		}
		logits[c.padding] = y
	}
	if d := maxDiff(logits[nn.PoolSame], logits[nn.PoolSymmetric]); d == 0 {
		t.Error("the logits do not depend on the max-pool padding")
	}

	cfg.MaxPool = nn.PoolSymmetric
	sm := newModel(t, b, cfg, 9)
	defer sm.Free()
	if sm.maxPool == nil || sm.Config().MaxPool != nn.PoolSymmetric {
		t.Error("Config.MaxPool = nn.PoolSymmetric did not reach the model")
	}
	small := newModel(t, b, tiny(SmallStem), 9)
	defer small.Free()
	if err := small.SetMaxPoolPadding(nn.PoolSymmetric); err == nil || !strings.Contains(err.Error(), "small stem") {
		t.Errorf("small stem: SetMaxPoolPadding error %v", err)
	}
	if err := m.SetMaxPoolPadding("valid"); err == nil {
		t.Error(`SetMaxPoolPadding("valid") accepted`)
	}
}

// TestInit checks MindCV's initialisation: reproducible from the seed, convolutions from
// N(0, 2/fan_out), the classifier from U(-sqrt(3/fan_in), sqrt(3/fan_in)) with a zero bias, batch
// norms at 1, 0, 0, 1, and Init resets a trained model.
func TestInit(t *testing.T) {
	b := testutil.CPU(t, 2)
	cfg, _ := Variant("resnext14_small")
	m1, m2, m3 := newModel(t, b, cfg, 1), newModel(t, b, cfg, 1), newModel(t, b, cfg, 2)
	defer m1.Free()
	defer m2.Free()
	defer m3.Free()
	for i, p := range m1.Params() {
		v := testutil.Download(t, b, p.Value)
		testutil.AssertClose(t, p.Name+" from the same seed", testutil.Download(t, b, m2.Params()[i].Value), v, 0)
		n := float64(len(v))
		var sum, sq, peak float64
		for _, x := range v {
			sum += float64(x)
			sq += float64(x) * float64(x)
			peak = max(peak, math.Abs(float64(x)))
		}
		std := math.Sqrt(sq / n)
		s := p.Value.Shape()
		switch {
		case s.Rank() == 4:
			want := math.Sqrt(2 / float64(s[0]*s[2]*s[3]))
			if n >= 2000 && math.Abs(std/want-1) > 0.1 {
				t.Errorf("%s: std %.4g, want %.4g (HeNormal fan_out)", p.Name, std, want)
			}
			if maxDiff(v, testutil.Download(t, b, m3.Params()[i].Value)) == 0 {
				t.Errorf("%s: the same from seeds 1 and 2", p.Name)
			}
		case s.Rank() == 2:
			bound := math.Sqrt(3 / float64(s[1]))
			if peak > bound || math.Abs(std/(bound/math.Sqrt(3))-1) > 0.1 {
				t.Errorf("%s: max %.4g, std %.4g; want HeUniform bound %.4g", p.Name, peak, std, bound)
			}
		default:
			want := 0.0
			if strings.HasSuffix(p.Name, ".gamma") || strings.HasSuffix(p.Name, ".moving_variance") {
				want = 1
			}
			if sum != want*n || sq != want*n {
				t.Errorf("%s: not all %v", p.Name, want)
			}
		}
	}

	x := testutil.Upload(b, ops.Shape{2, 1, 28, 28}, testutil.Randn(rand.New(rand.NewPCG(1, 1)), 2*28*28, 1))
	defer b.Free(x)
	m3.Forward(x) // moves the moving statistics
	m3.Init(1)
	for i, p := range m3.Params() {
		testutil.AssertClose(t, p.Name+" after Init(1)", testutil.Download(t, b, p.Value), testutil.Download(t, b, m1.Params()[i].Value), 0)
	}
}

// TestResetClassifier replaces the classifier for fine-tuning: new shapes and classes, the same
// names, a freshly initialised head, and a working forward and backward.
func TestResetClassifier(t *testing.T) {
	b := testutil.CPU(t, 2)
	cfg, _ := Variant("resnext14_small")
	m := newModel(t, b, cfg, 1)
	defer m.Free()
	before := slices.Clone(m.Params())
	if err := m.ResetClassifier(3, 4); err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	if len(ps) != len(before) || before[len(before)-1] == ps[len(ps)-1] {
		t.Fatalf("%d parameters after the reset, %d before; the old list changed", len(ps), len(before))
	}
	w, bias := ps[len(ps)-2], ps[len(ps)-1]
	if w.Name != "classifier.weight" || !w.Value.Shape().Equal(ops.Shape{3, 256}) ||
		bias.Name != "classifier.bias" || !bias.Value.Shape().Equal(ops.Shape{3}) || w != m.Classifier().Weight {
		t.Errorf("classifier after the reset: %s %v, %s %v", w.Name, w.Value.Shape(), bias.Name, bias.Value.Shape())
	}
	if m.Config().NumClasses != 3 {
		t.Errorf("Config().NumClasses = %d, want 3", m.Config().NumClasses)
	}
	if maxDiff(testutil.Download(t, b, bias.Value), make([]float32, 3)) != 0 {
		t.Error("the new bias is not zero")
	}
	x := testutil.Upload(b, ops.Shape{2, 1, 28, 28}, testutil.Randn(rand.New(rand.NewPCG(1, 1)), 2*28*28, 1))
	defer b.Free(x)
	y := m.Forward(x)
	if !y.Shape().Equal(ops.Shape{2, 3}) {
		t.Fatalf("logits %v, want [2, 3]", y.Shape())
	}
	// A frozen backbone: only the classifier gets gradients.
	m.Classifier().NoInputGrad = true
	dy := testutil.Upload(b, y.Shape(), []float32{1, 0, -1, 0, 1, -1})
	defer b.Free(dy)
	m.Backward(dy)
	if w.Grad == nil || ps[0].Grad != nil {
		t.Errorf("frozen backbone: classifier gradient %v, conv1 gradient %v", w.Grad != nil, ps[0].Grad != nil)
	}
	if err := m.ResetClassifier(0, 1); err == nil {
		t.Error("ResetClassifier(0) accepted")
	}
}

// TestEvalReleasesBuffers: in evaluation mode a forward pass gives each layer's buffers back once
// the next layer has read them, so it holds far fewer tensors than a training pass, gives the same
// logits twice in a row, and ReleaseBuffers leaves only the parameters.
func TestEvalReleasesBuffers(t *testing.T) {
	inner := testutil.CPU(t, 2)
	b := &testutil.Counting{Backend: inner}
	m := newModel(t, b, tiny(ImageNetStem), 5)
	defer m.Free()
	x := testutil.Upload(inner, ops.Shape{2, 3, 32, 32}, testutil.Randn(rand.New(rand.NewPCG(2, 2)), 2*3*32*32, 1))
	defer inner.Free(x)
	live := func() int { return b.Allocs - b.Frees }
	params := live()

	m.Forward(x) // training mode: every layer keeps its output for Backward
	train := live() - params
	m.ReleaseBuffers()
	if live() != params {
		t.Fatalf("after ReleaseBuffers %d tensors beyond the %d parameters are live", live()-params, params)
	}

	m.SetTraining(false)
	first := testutil.Download(t, b, m.Forward(x))
	eval := live() - params
	second := testutil.Download(t, b, m.Forward(x))
	if !slices.Equal(first, second) {
		t.Errorf("evaluation logits changed between two passes: %v, then %v", first, second)
	}
	if eval*3 > train {
		t.Errorf("an evaluation pass holds %d tensors, a training pass %d: want at most a third", eval, train)
	}
	t.Logf("live tensors beyond the parameters: training pass %d, evaluation pass %d", train, eval)
}

// TestOnGrads: Backward tells of every parameter once, the classifier first and the stem's conv1 last, each
// when its gradient is already what it is at the end of the pass; frozen layers tell of nothing.
func TestOnGrads(t *testing.T) {
	b := testutil.CPU(t, 2)
	cfg, _ := Variant("resnext14_small")
	m := newModel(t, b, cfg, 1)
	defer m.Free()
	x := testutil.Upload(b, ops.Shape{2, 1, 28, 28}, testutil.Randn(rand.New(rand.NewPCG(1, 2)), 2*28*28, 1))
	defer b.Free(x)
	dy := testutil.Upload(b, ops.Shape{2, 10}, testutil.Randn(rand.New(rand.NewPCG(3, 4)), 20, 1))
	defer b.Free(dy)
	for _, stages := range []int{-1, 1} { // -1: everything trains
		if stages >= 0 {
			if err := m.Freeze(stages); err != nil {
				t.Fatal(err)
			}
		}
		var order []string
		seen := map[*nn.Param][]float32{}
		calls := 0
		m.OnGrads(func(ps []*nn.Param) {
			calls++
			for _, p := range ps {
				if _, dup := seen[p]; dup {
					t.Errorf("%s told of twice", p.Name)
				}
				var g []float32
				if p.Grad != nil {
					g = testutil.Download(t, b, p.Grad)
				}
				seen[p] = g
				order = append(order, p.Name)
			}
		})
		m.Forward(x)
		m.Backward(dy)
		m.OnGrads(nil)
		for _, p := range m.Params() {
			g, told := seen[p]
			switch {
			case p.Trainable && !told:
				t.Errorf("frozen %d: %s (trainable) never told of", stages, p.Name)
			case p.Trainable && !slices.Equal(g, testutil.Download(t, b, p.Grad)):
				t.Errorf("frozen %d: %s told of before its gradient was final", stages, p.Name)
			case !p.Trainable && told && strings.HasPrefix(p.Name, "conv1"):
				t.Errorf("frozen %d: the frozen stem's %s told of", stages, p.Name)
			}
		}
		if !strings.HasPrefix(order[0], "classifier.") {
			t.Errorf("frozen %d: first told of %s, want the classifier", stages, order[0])
		}
		if stages < 0 && (!strings.HasPrefix(order[len(order)-1], "conv1.") || calls < 2+cfg.Blocks[0]) {
			t.Errorf("frozen %d: %d calls, last %s; want one per stem layer and block, the stem's conv1 last", stages, calls, order[len(order)-1])
		}
	}
}
