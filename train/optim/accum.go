package optim

import (
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// Accumulator gathers the gradients of several micro-batches for one update, as MindCV's
// GradientAccumulation (gradient_accumulation_steps) does. MindSpore adds each micro-batch's
// gradient divided by the number of steps, so the update uses the mean of the micro-batches'
// gradients; Grads returns that mean: with a loss averaged over each micro-batch, k equal
// micro-batches give the gradient of the whole batch of k micro-batches.
//
// Add the gradients of each micro-batch that was not skipped for overflow, call Grads for the
// update (SGD.Step), then Reset. Between updates MindCV still advances the learning-rate index
// every micro-batch, and updates the EMA.
type Accumulator struct {
	b        ops.Backend
	params   []*nn.Param
	sums     []ops.Tensor
	n        int  // micro-batches added since Reset
	averaged bool // the sums have been divided by n (Grads)
}

// NewAccumulator returns an accumulator for the parameters among params that are trainable now,
// in their order.
func NewAccumulator(b ops.Backend, params []*nn.Param) *Accumulator {
	a := &Accumulator{b: b}
	for _, p := range params {
		if !p.Trainable {
			continue
		}
		a.params = append(a.params, p)
		a.sums = append(a.sums, b.Alloc(ops.Float32, p.Value.Shape()))
	}
	return a
}

// Add adds every trainable parameter's Grad into its sum (a parameter without a gradient adds
// zero). The gradients are taken as they are, loss scale included: pass 1/loss_scale to SGD.Step.
// When the loss scale may change between micro-batches (a dynamic scaler after an overflow), use
// AddScaled(1/scale) instead and pass gradScale 1 to Step.
func (a *Accumulator) Add() { a.AddScaled(1) }

// AddScaled adds alpha times every trainable parameter's Grad into its sum.
func (a *Accumulator) AddScaled(alpha float64) {
	if a.averaged {
		for _, s := range a.sums {
			a.b.Scale(s, s, float64(a.n))
		}
		a.averaged = false
	}
	for i, p := range a.params {
		switch {
		case p.Grad == nil && a.n == 0:
			a.b.Fill(a.sums[i], 0)
		case p.Grad == nil:
		case a.n == 0:
			a.b.Scale(p.Grad, a.sums[i], alpha)
		default:
			a.b.Add(a.sums[i], p.Grad, a.sums[i], alpha)
		}
	}
	a.n++
}

// Grads returns the mean of the gradients added since Reset (zero when none were), one tensor per
// trainable parameter in order, for SGD.Step. The tensors belong to the accumulator and stay valid
// until Free; a later Add continues the same sum.
func (a *Accumulator) Grads() []ops.Tensor {
	switch {
	case a.n == 0:
		for _, s := range a.sums {
			a.b.Fill(s, 0)
		}
	case a.n > 1 && !a.averaged:
		for _, s := range a.sums {
			a.b.Scale(s, s, 1/float64(a.n))
		}
		a.averaged = true
	}
	return a.sums
}

// Count returns the number of micro-batches added since Reset.
func (a *Accumulator) Count() int { return a.n }

// Reset starts a new sum.
func (a *Accumulator) Reset() { a.n, a.averaged = 0, false }

// Free releases the sums. The accumulator must not be used afterwards.
func (a *Accumulator) Free() {
	for _, s := range a.sums {
		a.b.Free(s)
	}
	a.sums = nil
}
