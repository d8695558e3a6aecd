// Package train is the training engine. This file holds the optimizer: MindCV's "momentum".
package train

import (
	"fmt"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// SGDOptions are the hyper-parameters of SGD that stay fixed during a run (the learning rate comes
// with each step, from the schedule).
type SGDOptions struct {
	// Momentum is the momentum coefficient (MindCV: 0.9).
	Momentum float64
	// WeightDecay is added to every gradient as WeightDecay*param (MindCV: 1e-4, on every
	// parameter, batch norm and bias included, as weight_decay_filter "disable" does).
	WeightDecay float64
	// Nesterov selects Nesterov momentum (MindCV's use_nesterov).
	Nesterov bool
	// LossScale is the factor the loss was multiplied by before the backward (MindCV's fixed
	// loss_scale, 1024 in the recipe): gradients are divided by it in the step. 0 means 1.
	LossScale float64
}

// SGD is momentum SGD as MindSpore's Momentum optimizer computes it, through the backend's fused
// step: g = grad/LossScale + WeightDecay*param; accum = Momentum*accum + g; param -= lr*accum
// (Nesterov: param -= lr*(g + Momentum*accum)). It keeps one float32 accumulator per trainable
// parameter, MindSpore's "moments.<name>".
type SGD struct {
	opt    SGDOptions
	b      ops.Backend
	params []*nn.Param
	accum  []ops.Tensor
}

// NewSGD returns an optimizer for the trainable parameters among params, with zero accumulators.
func NewSGD(b ops.Backend, params []*nn.Param, o SGDOptions) (*SGD, error) {
	if o.Momentum < 0 || o.WeightDecay < 0 || o.LossScale < 0 {
		return nil, fmt.Errorf("momentum %v, weight_decay %v and loss_scale %v must not be negative", o.Momentum, o.WeightDecay, o.LossScale)
	}
	s := &SGD{opt: o, b: b}
	for _, p := range params {
		if !p.Trainable {
			continue
		}
		a := b.Alloc(ops.Float32, p.Value.Shape())
		b.Fill(a, 0)
		s.params, s.accum = append(s.params, p), append(s.accum, a)
	}
	return s, nil
}

// Step updates every trainable parameter from its gradient with learning rate lr. A parameter
// frozen since NewSGD (Trainable false) is left alone.
func (s *SGD) Step(lr float64) {
	p := ops.SGDParams{LR: lr, Momentum: s.opt.Momentum, WeightDecay: s.opt.WeightDecay, Nesterov: s.opt.Nesterov}
	if s.opt.LossScale != 0 {
		p.GradScale = 1 / s.opt.LossScale
	}
	for i, param := range s.params {
		if param.Trainable && param.Grad != nil {
			s.b.SGDMomentum(param.Value, param.Grad, s.accum[i], p)
		}
	}
}

// Moments returns the accumulators with their MindSpore names ("moments.<param name>"), in the
// parameters' order, for checkpoints.
func (s *SGD) Moments() ([]string, []ops.Tensor) {
	names := make([]string, len(s.params))
	for i, p := range s.params {
		names[i] = "moments." + p.Name
	}
	return names, s.accum
}

// Free releases the accumulators.
func (s *SGD) Free() {
	for _, a := range s.accum {
		s.b.Free(a)
	}
	s.accum = nil
}
