//go:build cgo

package ascend

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/train/optim"
)

// captureSteps trains the small ResNeXt of stepConfig for steps steps, a new batch written into the
// same input tensors before each, and returns the losses and the parameters. With capture, the
// first step runs as it is, the second is captured, and every step from the second on is a replay
// of it.
func captureSteps(t *testing.T, b *Backend, steps int, capture bool) ([]float32, map[string][]float32) {
	t.Helper()
	tr := newStepTrainer(t, b, optim.Options{Opt: "momentum", Momentum: 0.9, WeightDecay: 1e-4}, 0.1)
	defer tr.Free()
	m, ce, opt := tr.m, tr.ce, tr.opt
	const n = 8
	x, y := b.Alloc(ops.Float32, ops.Shape{n, 3, 64, 64}), b.Alloc(ops.Int32, ops.Shape{n})
	defer b.Free(x)
	defer b.Free(y)
	var loss ops.Tensor
	step := func() {
		loss = ce.Forward(m.Forward(x), y)
		m.Backward(ce.Backward(1))
		opt.Step(0.05, 1, nil)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	var losses []float32
	var g ops.Graph
	for i := range steps {
		b.Write(x, ops.Bytes(testutil.Randn(rng, n*3*64*64, 1)))
		labels := make([]int32, n)
		for j := range labels {
			labels[j] = int32(rng.IntN(10))
		}
		b.Write(y, ops.Bytes(labels))
		switch {
		case !capture || i == 0:
			step()
		case g == nil:
			if err := b.BeginCapture(); err != nil {
				t.Fatal(err)
			}
			step()
			var err error
			if g, err = b.EndCapture(); err != nil {
				t.Fatal(err)
			}
			defer g.Free()
			fallthrough
		default:
			if err := g.Replay(); err != nil {
				t.Fatal(err)
			}
		}
		losses = append(losses, testutil.Download(t, b, loss)...)
	}
	params := map[string][]float32{}
	for _, p := range m.Params() {
		params[p.Name] = testutil.Download(t, b, p.Value)
	}
	return losses, params
}

// TestCapture: where the chip captures (910B, 910_93), replaying a captured training step with a
// new batch each time gives the losses and parameters of running every step, bit for bit; on the
// first-generation 910 BeginCapture says it cannot, and nothing is left half begun.
func TestCapture(t *testing.T) {
	b := open(t, Options{Device: 0})
	if b.soc.gen == soc910 {
		err := b.BeginCapture()
		if !errors.Is(err, acl.ErrRTFeatureNotSupport) {
			t.Fatalf("BeginCapture on %v: %v, want the chip's refusal", b.soc, err)
		}
		if _, err := b.EndCapture(); err == nil {
			t.Error("EndCapture after a refused BeginCapture succeeded")
		}
		x := testutil.Upload(b, ops.Shape{3}, []float32{-1, 0, 2})
		b.ReLU(x, x)
		if got := testutil.Download(t, b, x); fmt.Sprint(got) != "[0 0 2]" {
			t.Errorf("after the refused capture: %v", got)
		}
		b.Free(x)
		return
	}
	const steps = 4
	wantLoss, wantParams := captureSteps(t, open(t, Options{Device: 0}), steps, false)
	gotLoss, gotParams := captureSteps(t, b, steps, true)
	testutil.AssertClose(t, "losses", gotLoss, wantLoss, 0)
	for name, want := range wantParams {
		testutil.AssertClose(t, name, gotParams[name], want, 0)
	}
	if wantLoss[steps-1] == wantLoss[1] {
		t.Errorf("the replays did not see the new batches: losses %v", wantLoss)
	}
	if os.Getenv(envSoC) == "" {
		t.Log("capture is checked under the 910B and 910_93 (runPerSoC)")
	}
}

// TestCaptureKeepsAddresses: while a captured graph lives, the group optimizer step does not pack
// (moving tensors would leave the graph's replays on their old memory); once it is freed, it packs.
func TestCaptureKeepsAddresses(t *testing.T) {
	b := open(t, Options{Device: 0})
	if b.soc.gen == soc910 {
		t.Skip("the first-generation 910 cannot capture")
	}
	x := testutil.Upload(b, ops.Shape{3}, []float32{-1, 0, 2})
	defer b.Free(x)
	if err := b.BeginCapture(); err != nil {
		t.Fatal(err)
	}
	b.ReLU(x, x)
	g, err := b.EndCapture()
	if err != nil {
		t.Fatal(err)
	}
	params, grads, accums := sgdLists(b, 3)
	p := ops.SGDParams{LR: 0.1, Momentum: 0.9}
	b.SGDMomentumGroup(params, grads, accums, p)
	if get("test", params[0]).pack != nil {
		t.Error("the group step packed while a graph was alive")
	}
	if err := g.Free(); err != nil {
		t.Fatal(err)
	}
	b.SGDMomentumGroup(params, grads, accums, p)
	if get("test", params[0]).pack == nil {
		t.Error("the group step did not pack once the graph was freed")
	}
	for _, l := range [][]ops.Tensor{params, grads, accums} {
		for _, t := range l {
			b.Free(t)
		}
	}
}
