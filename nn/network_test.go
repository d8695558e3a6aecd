package nn_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// tinyResNeXt is a small network with MindCV's layout and names: stem, max pool, layer1 holding one
// block (a 1x1 and a grouped 3x3 convolution with batch norms; the residual join is package resnext's
// and is tested there), global average pool, classifier.
func tinyResNeXt(b ops.Backend, classes int) (*nn.Sequential, *nn.Conv2d) {
	m := nn.MindCVMomentum
	stem := nn.NewConv2d(b, 3, 8, 7, 2, 3, 1)
	stem.NoInputGrad = true
	return nn.NewNamedSequential(
		nn.Named{Name: "conv1", Layer: stem},
		nn.Named{Name: "bn1", Layer: nn.NewBatchNorm2d(b, 8, m)},
		nn.Named{Name: "relu", Layer: nn.NewReLU(b, true)},
		nn.Named{Name: "max_pool", Layer: nn.NewMaxPool2dSame(b, 3, 2)},
		nn.Named{Name: "layer1", Layer: nn.NewSequential(nn.NewNamedSequential(
			nn.Named{Name: "conv1", Layer: nn.NewConv2d(b, 8, 8, 1, 1, 0, 1)},
			nn.Named{Name: "bn1", Layer: nn.NewBatchNorm2d(b, 8, m)},
			nn.Named{Name: "relu1", Layer: nn.NewReLU(b, true)},
			nn.Named{Name: "conv2", Layer: nn.NewConv2d(b, 8, 16, 3, 1, 1, 4)},
			nn.Named{Name: "bn2", Layer: nn.NewBatchNorm2d(b, 16, m)},
			nn.Named{Name: "relu2", Layer: nn.NewReLU(b, true)},
		))},
		nn.Named{Name: "pool", Layer: nn.NewGlobalAvgPool(b)},
		nn.Named{Name: "classifier", Layer: nn.NewLinear(b, 16, classes)},
	), stem
}

func TestParamNames(t *testing.T) {
	b := testutil.CPU(t, 2)
	net, _ := tinyResNeXt(b, 5)
	defer net.Free()
	var names []string
	trainable := 0
	for _, p := range net.Params() {
		names = append(names, p.Name)
		if p.Trainable {
			trainable++
		}
	}
	want := []string{"conv1.weight", "bn1.gamma", "bn1.beta", "bn1.moving_mean", "bn1.moving_variance"}
	for _, blk := range []string{"conv1", "bn1", "conv2", "bn2"} {
		if blk[:2] == "bn" {
			for _, s := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
				want = append(want, "layer1.0."+blk+"."+s)
			}
		} else {
			want = append(want, "layer1.0."+blk+".weight")
		}
	}
	want = append(want, "classifier.weight", "classifier.bias")
	if !slices.Equal(names, want) {
		t.Errorf("names\n got %q\nwant %q", names, want)
	}
	if trainable != 1+2+2*(1+2)+2 {
		t.Errorf("%d trainable parameters, want 11", trainable)
	}
}

// TestBufferReuse runs training steps on a small network and loss. By default Backward gives the
// layers' buffers back as it goes, so every step allocates and frees the same tensors, and once
// two steps have run with a shape a pool keyed by size serves them all (the first Backward
// allocates the parameter gradients, which can share a size with buffers a second step needs
// while they are live); with KeepBuffers(true) a second step allocates nothing at all. Either way
// the output stays valid after Backward, the same step gives the same numbers (in both modes, to
// the bit), a new batch size works, and Free releases everything.
func TestBufferReuse(t *testing.T) {
	type result struct{ loss, grad []float32 }
	firsts := map[bool]result{}
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep %v", keep), func(t *testing.T) {
			inner := testutil.CPU(t, 2)
			b := &testutil.Counting{Backend: inner}
			net, stem := tinyResNeXt(b, 5)
			net.KeepBuffers(keep)
			ce := nn.NewSoftmaxCrossEntropy(b, 0.1)
			initTiny(b, net)

			step := func(n int) result {
				x := testutil.Upload(inner, ops.Shape{n, 3, 16, 16}, testutil.Randn(rand.New(rand.NewPCG(1, uint64(n))), n*3*16*16, 1))
				defer inner.Free(x)
				yt := ops.FromInt32(inner, ops.Shape{n}, tinyLabels(n))
				defer inner.Free(yt)
				y := net.Forward(x)
				out := testutil.Download(t, b, y)
				loss := ce.Forward(y, yt)
				if dx := net.Backward(ce.Backward(1024)); dx != nil {
					t.Errorf("the stem has NoInputGrad, but Backward returned %v", dx.Shape())
				}
				testutil.AssertClose(t, "output after Backward", testutil.Download(t, b, y), out, 0)
				return result{testutil.Download(t, b, loss), testutil.Download(t, b, stem.Weight.Grad)}
			}
			// again runs two more steps with n images after one with the same shape, checks what
			// they allocated, and returns the first's result.
			again := func(n int) result {
				t.Helper()
				allocs, frees := b.Allocs, b.Frees
				r := step(n)
				switch {
				case keep && b.Allocs != allocs:
					t.Errorf("batch %d, second step: %d allocations, want none", n, b.Allocs-allocs)
				case !keep && (b.Allocs == allocs || b.Allocs-allocs != b.Frees-frees):
					t.Errorf("batch %d, second step: %d allocations and %d frees, want the same number, not 0", n, b.Allocs-allocs, b.Frees-frees)
				}
				fresh := b.Fresh
				step(n)
				if b.Fresh != fresh {
					t.Errorf("batch %d, third step: %d allocations a pool could not serve", n, b.Fresh-fresh)
				}
				return r
			}

			first := step(4)
			firsts[keep] = first
			second := again(4)
			testutil.AssertClose(t, "loss of the same step", second.loss, first.loss, 0)
			testutil.AssertClose(t, "stem gradient of the same step", second.grad, first.grad, 0)

			fresh := b.Fresh
			other := step(2)
			if b.Fresh == fresh {
				t.Errorf("a new batch size took no new memory")
			}
			if len(other.loss) != 1 || other.loss[0] == first.loss[0] {
				t.Errorf("batch of 2: loss %v", other.loss)
			}
			again(2)

			net.Free()
			ce.Free()
			if b.Allocs != b.Frees {
				t.Errorf("after Free: %d allocations, %d frees", b.Allocs, b.Frees)
			}
		})
	}
	if r, k := firsts[false], firsts[true]; !slices.Equal(r.loss, k.loss) || !slices.Equal(r.grad, k.grad) {
		t.Errorf("releasing and keeping buffers, the first step gives different numbers")
	}
}

// initTiny draws tinyResNeXt's convolution and classifier weights.
func initTiny(b ops.Backend, net *nn.Sequential) {
	rng := nn.NewRand(42)
	for _, p := range net.Params() {
		if len(p.Value.Shape()) == 4 {
			nn.HeNormal(b, p.Value, rng)
		}
	}
	classifier := net.Layers()[6].Layer.(*nn.Linear)
	nn.HeUniform(b, classifier.Weight.Value, rng)
}

// tinyLabels are n labels of tinyResNeXt's 5 classes.
func tinyLabels(n int) []int32 {
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % 5)
	}
	return labels
}

// TestEvalMode switches a network to evaluation: the moving statistics stay as they are, and each
// sample's output no longer depends on the rest of the batch.
func TestEvalMode(t *testing.T) {
	b := testutil.CPU(t, 2)
	net, _ := tinyResNeXt(b, 3)
	defer net.Free()
	rng := nn.NewRand(7)
	for _, p := range net.Params() {
		if len(p.Value.Shape()) > 1 {
			nn.HeNormal(b, p.Value, rng)
		}
	}
	x := testutil.Randn(rand.New(rand.NewPCG(3, 3)), 2*3*16*16, 1)
	batch := testutil.Upload(b, ops.Shape{2, 3, 16, 16}, x)
	defer b.Free(batch)
	single := testutil.Upload(b, ops.Shape{1, 3, 16, 16}, x[:3*16*16])
	defer b.Free(single)

	net.Forward(batch) // training: moves the statistics away from 0 and 1
	before := map[string][]float32{}
	for _, p := range net.Params() {
		if !p.Trainable {
			before[p.Name] = testutil.Download(t, b, p.Value)
		}
	}
	net.SetTraining(false)
	both := testutil.Download(t, b, net.Forward(batch))
	one := testutil.Download(t, b, net.Forward(single))
	testutil.AssertClose(t, "first sample alone vs in the batch", one, both[:3], 1e-5)
	for _, p := range net.Params() {
		if !p.Trainable {
			testutil.AssertClose(t, p.Name+" after evaluation", testutil.Download(t, b, p.Value), before[p.Name], 0)
		}
	}
}
