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

// TestTrainingMemoryFloat16 measures the same step under float16 compute (amp_level O2): the
// activations and gradients take half the bytes (the batch norms' statistics, a sliver, stay
// float32), so the step holds at most 55% of the float32 step's bytes beyond the parameters, their
// gradients and moments (the float16 copies of the weights counted in). The peak is still the end
// of the forward pass, the parameters and gradients stay float32, and freeing the model gives
// everything back.
func TestTrainingMemoryFloat16(t *testing.T) {
	const mib = 1 << 20
	cfg, err := Variant("resnext50_32x4d")
	if err != nil {
		t.Fatal(err)
	}
	var held [2]int // beyond the fixed tensors, at the end of the forward pass: float32, float16
	for i, dt := range []ops.DType{ops.Float32, ops.Float16} {
		c := &countingHalf{Counting: testutil.Counting{Backend: noCompute{}}}
		if dt == ops.Float16 {
			c.Counting.Backend = halfNoCompute{}
		}
		b := &c.Counting
		m, err := Build(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SetComputeType(dt); err != nil {
			t.Fatal(err)
		}
		ce := nn.NewSoftmaxCrossEntropy(c, 0.1)
		opt := newSGD(c, m.Params(), 0.9, 1e-4, false)
		x := c.Alloc(ops.Float32, ops.Shape{16, 3, 224, 224})
		labels := c.Alloc(ops.Int32, ops.Shape{16})
		fixed := testutil.Bytes(x) + testutil.Bytes(labels) // and the parameters, their gradients and moments
		for _, p := range m.Params() {
			if p.Trainable {
				fixed += 3 * testutil.Bytes(p.Value)
			} else {
				fixed += testutil.Bytes(p.Value)
			}
		}
		for step := range 3 {
			b.ResetPeaks()
			ce.Forward(m.Forward(x), labels)
			forward := b.LiveBytes
			m.Backward(ce.Backward(1024))
			opt.Step(0.1)
			if step == 0 {
				continue // the first Backward allocates the gradients
			}
			held[i] = forward - fixed
			t.Logf("%v, step %d: %.1f MiB held at the end of the forward pass beyond the parameters, gradients and moments, peak %.1f MiB",
				dt, step, float64(held[i])/mib, float64(b.PeakBytes-fixed)/mib)
			if b.PeakBytes > forward+forward/50 {
				t.Errorf("%v, step %d: the peak, %.1f MiB, is more than 2%% above the end of the forward pass, %.1f MiB",
					dt, step, float64(b.PeakBytes)/mib, float64(forward)/mib)
			}
		}
		for _, p := range m.Params() {
			if p.Value.DType() != ops.Float32 || p.Trainable && p.Grad.DType() != ops.Float32 {
				t.Errorf("%v: %s has value %v, gradient %v, want float32", dt, p.Name, p.Value.DType(), p.Grad.DType())
			}
		}
		m.Free()
		ce.Free()
		opt.Free()
		b.Free(x)
		b.Free(labels)
		if b.Live != 0 {
			t.Errorf("%v: %d tensors (%d bytes) live after freeing everything, want none", dt, b.Live, b.LiveBytes)
		}
	}
	if held[1]*100 > held[0]*55 {
		t.Errorf("float16 holds %.1f MiB beyond the fixed tensors, float32 %.1f MiB: want at most 55%%",
			float64(held[1])/mib, float64(held[0])/mib)
	}
}

// countingHalf is a counting backend that passes on the float16 capability of the backend it wraps.
type countingHalf struct{ testutil.Counting }

func (c *countingHalf) ComputesFloat16() bool { return ops.CanCompute(c.Backend, ops.Float16) }
