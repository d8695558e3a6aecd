package train

import (
	"math"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// TestSGD checks two steps of the optimizer on a linear layer against the update rule computed on
// the host, with a loss scale, weight decay, Nesterov and a frozen parameter.
func TestSGD(t *testing.T) {
	for _, nesterov := range []bool{false, true} {
		b := testutil.CPU(t, 1)
		l := nn.NewLinear(b, 3, 2)
		defer l.Free()
		b.Write(l.Weight.Value, ops.Bytes([]float32{1, -2, 3, 0.5, 0, -1}))
		b.Fill(l.Bias.Value, 0.25)
		x := testutil.Upload(b, ops.Shape{1, 3}, []float32{1, 2, 3})
		defer b.Free(x)
		dy := testutil.Upload(b, ops.Shape{1, 2}, []float32{1024, -2048}) // gradients times the loss scale
		defer b.Free(dy)
		o := SGDOptions{Momentum: 0.9, WeightDecay: 0.1, Nesterov: nesterov, LossScale: 1024}
		s, err := NewSGD(b, l.Params(), o)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Free()
		l.Bias.Trainable = false // frozen after NewSGD: Step leaves it alone

		w := []float64{1, -2, 3, 0.5, 0, -1}
		accum := make([]float64, 6)
		for range 2 {
			l.Forward(x)
			l.Backward(dy)
			s.Step(0.5)
			for i := range w {
				g := []float64{1, 2, 3, -2, -4, -6}[i] + 0.1*w[i] // dW = dy^T x / 1024, plus decay
				accum[i] = 0.9*accum[i] + g
				if nesterov {
					w[i] -= 0.5 * (g + 0.9*accum[i])
				} else {
					w[i] -= 0.5 * accum[i]
				}
			}
		}
		got := testutil.Download(t, b, l.Weight.Value)
		for i := range w {
			if math.Abs(float64(got[i])-w[i]) > 1e-4*(1+math.Abs(w[i])) {
				t.Errorf("nesterov %v: weight[%d] = %v, want %v", nesterov, i, got[i], w[i])
			}
		}
		if bias := testutil.Download(t, b, l.Bias.Value); bias[0] != 0.25 || bias[1] != 0.25 {
			t.Errorf("the frozen bias moved to %v", bias)
		}
		names, moments := s.Moments()
		if len(names) != 2 || names[0] != "moments.weight" || names[1] != "moments.bias" || len(moments) != 2 {
			t.Errorf("moments %v", names)
		}
	}
	// A step allocates nothing.
	b := &testutil.Counting{Backend: testutil.CPU(t, 1)}
	l := nn.NewLinear(b, 4, 3)
	defer l.Free()
	x := testutil.Upload(b, ops.Shape{2, 4}, make([]float32, 8))
	defer b.Free(x)
	s, _ := NewSGD(b, l.Params(), SGDOptions{Momentum: 0.9})
	defer s.Free()
	l.Backward(l.Forward(x))
	allocs := b.Allocs
	s.Step(0.1)
	if b.Allocs != allocs {
		t.Errorf("Step allocated %d tensors", b.Allocs-allocs)
	}
	if _, err := NewSGD(testutil.CPU(t, 1), nil, SGDOptions{Momentum: -1}); err == nil {
		t.Error("a negative momentum was accepted")
	}
}
