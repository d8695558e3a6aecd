//go:build cgo

package ascend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/resnext"
)

// amp_level O2 on the test runtime: a whole ResNeXt computing in float16 (resnext.Model's
// SetComputeType), its batch norms in float32, float32 master weights and gradients, against the
// same network in float32 on the CPU backend.

// ampTol is the relative tolerance of float16 against float32 (float16 keeps 11 significant bits,
// 4.9e-4 relative per rounding, and a forward pass rounds a few dozen times on the way).
const ampTol = 2e-2

// ampLR is the learning rate of the training comparisons. A ReLU network's gradient is not smooth
// in its inputs: rounding the activations to float16 moves some of them across a ReLU's kink or
// changes a max pool's winner, which changes the gradient by about the square root of the rounding
// error, here some 10% (rounding only the images and weights of a float32 run to float16 does as
// much). Each step carries that difference into the parameters, so the steps are kept small enough
// (the loss still falls by a fifth in two of them) for three of them to stay within ampTol.
const ampLR = 5e-4

// ampBatch is the training batch: 8 images of 3x64x64 (so that layer4's batch norms see 32 values
// per channel) and their labels.
type ampBatch struct {
	x      []float32
	labels []int32
}

func newAMPBatch() ampBatch {
	const n = 8
	rng := rand.New(rand.NewPCG(5, 6))
	return ampBatch{x: testutil.Randn(rng, n*3*64*64, 1), labels: []int32{3, 1, 4, 1, 5, 9, 2, 6}}
}

func (d ampBatch) upload(b ops.Backend) (x, labels ops.Tensor) {
	n := len(d.labels)
	return testutil.Upload(b, ops.Shape{n, 3, 64, 64}, d.x), ops.FromInt32(b, ops.Shape{n}, d.labels)
}

// ampModel builds stepConfig's ResNeXt (the ImageNet stem with MindCV's "same" max pool, grouped
// bottlenecks, down-sampling in every stage) from seed 3 on b, computing in dt.
func ampModel(t *testing.T, b ops.Backend, dt ops.DType) *resnext.Model {
	t.Helper()
	m, err := resnext.New(b, stepConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	if err := m.SetComputeType(dt); err != nil {
		t.Fatal(err)
	}
	if got := m.ComputeType(); got != dt {
		t.Fatalf("ComputeType() = %v after SetComputeType(%v)", got, dt)
	}
	return m
}

// ampRun is what training steps leave: per step the logits, the loss and every trainable
// parameter's gradient as Param.Grad holds it (times the loss scale), the parameters at the end
// (moving statistics included), and whether AllFinite found every gradient finite at each step.
type ampRun struct {
	logits [][]float32
	loss   []float32
	grads  []map[string][]float32
	params map[string][]float32
	finite []bool
}

// ampTrain runs steps of MindCV's training step on m: forward, label-smoothed cross-entropy on
// float32 logits, backward with the loss scaled by scale, the all-finite check of the gradients,
// and momentum SGD dividing the gradients by scale (skipped when they are not finite, as a loss
// scale manager does).
func ampTrain(t *testing.T, b ops.Backend, m *resnext.Model, steps int, scale float64) ampRun {
	t.Helper()
	x, labels := newAMPBatch().upload(b)
	defer b.Free(x)
	defer b.Free(labels)
	ce := nn.NewSoftmaxCrossEntropy(b, 0.1)
	defer ce.Free()
	var params []*nn.Param
	var accum []ops.Tensor
	for _, p := range m.Params() {
		if p.Trainable {
			a := b.Alloc(ops.Float32, p.Value.Shape())
			b.Fill(a, 0)
			params, accum = append(params, p), append(accum, a)
		}
	}
	defer func() {
		for _, a := range accum {
			b.Free(a)
		}
	}()
	ok := b.Alloc(ops.Bool, ops.Shape{})
	defer b.Free(ok)
	sgd := ops.SGDParams{LR: ampLR, Momentum: 0.9, WeightDecay: 1e-4, Nesterov: true, GradScale: 1 / scale}
	var r ampRun
	for range steps {
		logits := m.Forward(x)
		if logits.DType() != ops.Float32 {
			t.Fatalf("logits are %v under %v compute, want float32", logits.DType(), m.ComputeType())
		}
		r.logits = append(r.logits, testutil.Download(t, b, logits))
		r.loss = append(r.loss, testutil.Download(t, b, ce.Forward(logits, labels))...)
		m.Backward(ce.Backward(scale))
		grads := map[string][]float32{}
		gs := make([]ops.Tensor, len(params))
		for i, p := range params {
			if p.Grad == nil || p.Grad.DType() != ops.Float32 || p.Value.DType() != ops.Float32 {
				t.Fatalf("%s: value %v, gradient %v, want both float32", p.Name, p.Value.DType(), p.Grad)
			}
			grads[p.Name], gs[i] = testutil.Download(t, b, p.Grad), p.Grad
		}
		r.grads = append(r.grads, grads)
		b.AllFinite(gs, ok)
		var fin [1]byte
		if err := b.Read(ok, fin[:]); err != nil {
			t.Fatal(err)
		}
		r.finite = append(r.finite, fin[0] == 1)
		if fin[0] == 1 {
			for i, p := range params {
				b.SGDMomentum(p.Value, p.Grad, accum[i], sgd)
			}
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	r.params = map[string][]float32{}
	for _, p := range m.Params() {
		if p.Value.DType() != ops.Float32 {
			t.Errorf("%s: value %v after training, want float32", p.Name, p.Value.DType())
		}
		r.params[p.Name] = testutil.Download(t, b, p.Value)
	}
	return r
}

// relDiff is max|got-want| / (1 + max|want|), the measure testutil.AssertClose bounds.
func relDiff(got, want []float32) float64 {
	var d, s float64
	for i := range want {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
		s = max(s, math.Abs(float64(want[i])))
	}
	return d / (1 + s)
}

// TestAMPTrainingMatchesCPU trains the same small ResNeXt for three steps with a loss scale of 1024
// in float16 on the test runtime and in float32 on the CPU backend: every step's logits and loss
// agree within float16's tolerance, the loss falls, the parameters (moving statistics included)
// stay float32 and end close, and every gradient is finite.
func TestAMPTrainingMatchesCPU(t *testing.T) {
	const steps, scale = 3, 1024
	b := open(t, Options{Device: 0})
	cpu := testutil.CPU(t, 2)
	got := ampTrain(t, b, ampModel(t, b, ops.Float16), steps, scale)
	want := ampTrain(t, cpu, ampModel(t, cpu, ops.Float32), steps, scale)
	for i := range steps {
		t.Logf("step %d: logits differ by %.2g, loss %.5f (float16) and %.5f (float32)", i,
			relDiff(got.logits[i], want.logits[i]), got.loss[i], want.loss[i])
		testutil.AssertClose(t, fmt.Sprintf("step %d logits", i), got.logits[i], want.logits[i], ampTol)
		if !got.finite[i] || !want.finite[i] {
			t.Errorf("step %d: AllFinite says %v (float16) and %v (float32), want true", i, got.finite[i], want.finite[i])
		}
	}
	testutil.AssertClose(t, "losses", got.loss, want.loss, ampTol)
	if got.loss[steps-1] >= got.loss[0] {
		t.Errorf("the float16 loss did not fall: %v", got.loss)
	}
	var worst float64
	for name, w := range want.params {
		worst = max(worst, relDiff(got.params[name], w))
		testutil.AssertClose(t, name+" after training", got.params[name], w, ampTol)
	}
	t.Logf("parameters after %d steps differ by at most %.2g", steps, worst)
}

// TestAMPLossScale: under float16 compute Param.Grad holds the loss scale times the gradient (the
// optimizer divides), 1024 times the float32 gradient: the classifier's exactly to float16's
// tolerance (no ReLU sits above it), the whole gradient in length and, the kinks' flips aside
// (see ampLR), in direction. A scale of 1e9 overflows float16 (the float32 run takes it), and
// AllFinite over the gradients reports it.
func TestAMPLossScale(t *testing.T) {
	b := open(t, Options{Device: 0})
	cpu := testutil.CPU(t, 2)
	want := ampTrain(t, cpu, ampModel(t, cpu, ops.Float32), 1, 1).grads[0]
	m := ampModel(t, b, ops.Float16)
	scaled := ampTrain(t, b, m, 1, 1024)
	if !scaled.finite[0] {
		t.Error("scale 1024: AllFinite reports a non-finite gradient")
	}
	var dot, got2, want2 float64 // over every trainable parameter
	for _, p := range m.Params() {
		if !p.Trainable {
			continue
		}
		g, w := scaled.grads[0][p.Name], want[p.Name]
		w1024 := make([]float32, len(w))
		for i, v := range w {
			w1024[i] = 1024 * v
			dot += float64(g[i]) * float64(w1024[i])
			got2 += float64(g[i]) * float64(g[i])
			want2 += float64(w1024[i]) * float64(w1024[i])
		}
		if strings.HasPrefix(p.Name, "classifier.") {
			testutil.AssertClose(t, p.Name+" gradient at scale 1024", g, w1024, ampTol)
		}
	}
	ratio, cos := math.Sqrt(got2/want2), dot/math.Sqrt(got2*want2)
	t.Logf("scale 1024: the gradient's length is %.4f times 1024 times float32's, the cosine between them %.4f", ratio, cos)
	if math.Abs(ratio-1) > ampTol {
		t.Errorf("scale 1024: the gradient is %.4f times 1024 times the float32 gradient in length, want 1 within %g", ratio, ampTol)
	}
	if cos < 0.98 {
		t.Errorf("scale 1024: the cosine between the float16 and float32 gradients is %.4f, want at least 0.98", cos)
	}

	huge := ampTrain(t, b, m, 1, 1e9)
	if huge.finite[0] {
		t.Error("scale 1e9: AllFinite reports every float16-computed gradient finite, want an overflow")
	}
	var overflowed int
	for _, g := range huge.grads[0] {
		if !testutil.AllFinite(g) {
			overflowed++
		}
	}
	if overflowed == 0 {
		t.Error("scale 1e9: every gradient downloaded is finite, want overflows")
	}
	if f32 := ampTrain(t, cpu, ampModel(t, cpu, ops.Float32), 1, 1e9); !f32.finite[0] {
		t.Error("scale 1e9 in float32: AllFinite reports a non-finite gradient, want none (the overflow is float16's)")
	}
}

// TestAMPEvaluationMatchesCPU trains a network for two steps on the CPU backend (so that its
// moving statistics are its own), loads its parameters into the same network on the test runtime
// and compares evaluation-mode logits, float16 against float32. Evaluation gives every buffer back
// as it goes: afterwards the model holds its parameters, the float16 copies of its weights and the
// float32 logits.
func TestAMPEvaluationMatchesCPU(t *testing.T) {
	cpu := testutil.CPU(t, 2)
	src := ampModel(t, cpu, ops.Float32)
	ampTrain(t, cpu, src, 2, 1)
	inner := open(t, Options{Device: 0})
	b := &countingHalf{Counting: testutil.Counting{Backend: inner}}
	m := ampModel(t, b, ops.Float16)
	var paramBytes, copyBytes int
	for i, p := range m.Params() {
		v := testutil.Download(t, cpu, src.Params()[i].Value)
		b.Write(p.Value, ops.Bytes(v))
		paramBytes += testutil.Bytes(p.Value)
		if p.Trainable && p.Value.Shape().Rank() != 1 || strings.HasPrefix(p.Name, "classifier.") {
			copyBytes += testutil.Bytes(p.Value) / 2 // the float16 copies of conv and classifier weights
		}
	}
	x, labels := newAMPBatch().upload(b)
	b.Free(labels)
	defer b.Free(x)
	xc, labelsc := newAMPBatch().upload(cpu)
	cpu.Free(labelsc)
	defer cpu.Free(xc)
	src.SetTraining(false)
	m.SetTraining(false)
	want := testutil.Download(t, cpu, src.Forward(xc))
	for run := range 2 { // the second pass runs on the weight copies of the first
		logits := m.Forward(x)
		if logits.DType() != ops.Float32 {
			t.Fatalf("evaluation logits are %v, want float32", logits.DType())
		}
		got := testutil.Download(t, b, logits)
		t.Logf("pass %d: evaluation logits differ by %.2g", run, relDiff(got, want))
		testutil.AssertClose(t, fmt.Sprintf("pass %d: evaluation logits", run), got, want, ampTol)
		held := b.LiveBytes - paramBytes - testutil.Bytes(x) - copyBytes
		if logitBytes := testutil.Bytes(logits); held != logitBytes {
			t.Errorf("pass %d: after an evaluation Forward the model holds %d bytes beyond its parameters and "+
				"their float16 copies, want the logits' %d", run, held, logitBytes)
		}
	}
}

// countingHalf is a counting backend around the Ascend backend that passes on its float16
// capability and, while watch is set, records every 4-D floating-point tensor allocated in another
// dtype than float16 (an activation or gradient that float16 compute should hold in float16).
type countingHalf struct {
	testutil.Counting
	watch bool
	wide  []string
}

func (c *countingHalf) ComputesFloat16() bool { return ops.CanCompute(c.Backend, ops.Float16) }

func (c *countingHalf) Alloc(dt ops.DType, s ops.Shape) ops.Tensor {
	if c.watch && dt.IsFloat() && dt != ops.Float16 && s.Rank() == 4 {
		c.wide = append(c.wide, fmt.Sprintf("%v %v", dt, s))
	}
	return c.Counting.Alloc(dt, s)
}

// TestAMPBuffers trains in float16 with every allocation counted. Releasing buffers (the
// default), the third step needs no memory the second did not give back, no activation or
// gradient buffer is allocated in float32 once the first step has allocated the parameters'
// gradients, and after a step the model holds its parameters (float32), their gradients (float32),
// the float16 copies of the convolution and classifier weights, and the logits. Keeping buffers
// (KeepBuffers(true)), the second step allocates nothing at all. Freeing the model gives back
// everything, the weights' copies included.
func TestAMPBuffers(t *testing.T) {
	inner := open(t, Options{Device: 0})
	for _, keep := range []bool{false, true} {
		b := &countingHalf{Counting: testutil.Counting{Backend: inner}}
		x, labels := newAMPBatch().upload(b)
		m, err := resnext.New(b, stepConfig(), 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SetComputeType(ops.Float16); err != nil {
			t.Fatal(err)
		}
		m.KeepBuffers(keep)
		ce := nn.NewSoftmaxCrossEntropy(b, 0.1)
		var params, grads, copies int
		for _, p := range m.Params() {
			params++
			if p.Trainable {
				grads++
			}
			if p.Value.Shape().Rank() == 4 || strings.HasPrefix(p.Name, "classifier.") {
				copies++
			}
		}
		steps := 3
		if keep {
			steps = 2
		}
		var fresh, allocs int
		for step := range steps {
			fresh, allocs = b.Fresh, b.Allocs
			b.watch = step > 0
			ce.Forward(m.Forward(x), labels)
			m.Backward(ce.Backward(1024))
			if keep && step == 1 && b.Allocs != allocs {
				t.Errorf("keeping buffers, the second step made %d allocations, want none", b.Allocs-allocs)
			}
		}
		b.watch = false
		if len(b.wide) > 0 {
			t.Errorf("keep %v: float16 training allocated %d 4-D tensors in another type: %v", keep, len(b.wide), b.wide)
		}
		if fresh != b.Fresh {
			t.Errorf("keep %v: the last step made %d allocations a pool by size could not serve, want none", keep, b.Fresh-fresh)
		}
		for _, p := range m.Params() {
			if p.Value.DType() != ops.Float32 || p.Trainable && p.Grad.DType() != ops.Float32 {
				t.Errorf("%s: value %v, gradient %v, want float32", p.Name, p.Value.DType(), p.Grad.DType())
			}
		}
		// Besides the model: the batch, the labels and the loss's log-probabilities, loss and gradient.
		if want := params + grads + copies + 1 + 2 + 3; !keep && b.Live != want {
			t.Errorf("after a step %d tensors are live, want %d: %d parameters, %d gradients, %d float16 copies, "+
				"the logits, the batch and labels, and the loss's 3 buffers", b.Live, want, params, grads, copies)
		}
		m.Free()
		ce.Free()
		b.Free(x)
		b.Free(labels)
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		if b.Live != 0 || b.LiveBytes != 0 {
			t.Errorf("keep %v: after freeing everything %d tensors (%d bytes) are live, want none", keep, b.Live, b.LiveBytes)
		}
	}
}
