package resnext

import (
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// TestTrainingMemory measures the tensors a training step of resnext50_32x4d holds at batch 16 on
// 224x224 images (MindCV's step: forward, loss, backward, momentum SGD), on a backend that
// allocates no storage and computes nothing. Releasing buffers in Backward, the default, the step
// peaks where PyTorch's does, at the end of the forward pass with every saved activation (backward
// adds at most a few gradients to that), and a pool keyed by exact size (the CPU backend's) needs
// under 60% of the memory it needs when every layer keeps its buffers.
func TestTrainingMemory(t *testing.T) {
	const mib = 1 << 20
	cfg, err := Variant("resnext50_32x4d")
	if err != nil {
		t.Fatal(err)
	}
	var pooled [2]int // releasing, keeping
	for i, keep := range []bool{false, true} {
		b := &testutil.Counting{Backend: noCompute{}}
		m, err := Build(b, cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.KeepBuffers(keep)
		ce := nn.NewSoftmaxCrossEntropy(b, 0.1)
		opt := newSGD(b, m.Params(), 0.9, 1e-4, false)
		x := b.Alloc(ops.Float32, ops.Shape{16, 3, 224, 224})
		labels := b.Alloc(ops.Int32, ops.Shape{16})
		for step := range 3 {
			b.ResetPeaks()
			ce.Forward(m.Forward(x), labels)
			forward := b.LiveBytes
			m.Backward(ce.Backward(1))
			opt.Step(0.1)
			t.Logf("keep %v, step %d: %.1f MiB live after the forward pass, %.1f MiB at the peak, %.1f MiB after the step; "+
				"a pool by size holds %.1f MiB", keep, step, float64(forward)/mib, float64(b.PeakBytes)/mib,
				float64(b.LiveBytes)/mib, float64(b.PooledBytes)/mib)
			if !keep && step > 0 && b.PeakBytes > forward+forward/50 {
				t.Errorf("step %d: the peak, %.1f MiB, is more than 2%% above the end of the forward pass, %.1f MiB",
					step, float64(b.PeakBytes)/mib, float64(forward)/mib)
			}
		}
		pooled[i] = b.PooledBytes
	}
	if pooled[0]*10 > pooled[1]*6 {
		t.Errorf("releasing, a pool by size holds %.1f MiB, keeping %.1f MiB: want at most 60%%", float64(pooled[0])/mib, float64(pooled[1])/mib)
	}
}
