// Package optim holds the parameter update of MindCV's training step: momentum SGD with MindCV's
// weight-decay filters, loss scaling (MindSpore's fixed and dynamic loss-scale managers), the
// overflow check, clipping by global norm, the exponential moving average of the weights and
// gradient accumulation.
//
// All state lives on the backend as ops tensors; the package reads tensor memory only through
// ops.Backend.Read (the overflow flag, and the gradients in ClipByGlobalNorm).
//
// # MindCV's training step
//
// MindCV (train.py, mindcv/utils/trainer_factory.py and train_step.py) runs one of two steps:
//
//   - With loss_scale_type "fixed", drop_overflow_update False and no ema, clip_grad or
//     gradient_accumulation_steps > 1 (the ResNeXt recipe): MindSpore's TrainOneStepCell. The
//     loss gradient is seeded with loss_scale, the optimizer divides the gradients by loss_scale
//     (its loss_scale argument), nothing checks for overflow. Here: Step(lr, 1/scale, nil).
//   - Otherwise MindCV's TrainStep: the gradients are divided by the current scale, clipped by
//     global norm (clip_grad, clip_value) on each device before the gradients are averaged
//     across devices, then averaged; with a loss-scale manager (fixed with drop_overflow_update,
//     or dynamic) the averaged gradients are checked for overflow, the scale updated, and an
//     overflowed step skipped entirely (no update, no accumulation, no EMA update). The EMA is
//     updated after every step that was not skipped, including the micro-batches of gradient
//     accumulation that do not update the weights. The optimizer's global step (the index into
//     the learning-rate list) advances on every micro-batch, not once per update.
package optim

import (
	"fmt"
	"math"
	"strings"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// Options are the optimizer's settings from MindCV's optimizer keys.
type Options struct {
	// Opt is the optimizer (opt): "momentum" (MindSpore's nn.Momentum; MindCV also accepts
	// "nesterov" for it, with Nesterov deciding the variant) or "sgd" (MindSpore's nn.SGD with
	// dampening 0, which updates the same way). Case does not matter, as in MindCV. MindCV's
	// adaptive optimizers (adam, adamw, lion, ...) are not implemented here.
	Opt string
	// Momentum is the momentum coefficient (momentum, >= 0).
	Momentum float64
	// WeightDecay is the L2 coefficient added to the gradient as WeightDecay*param (weight_decay,
	// >= 0), on the parameters WeightDecayFilter selects.
	WeightDecay float64
	// Nesterov selects Nesterov momentum (use_nesterov).
	Nesterov bool
	// WeightDecayFilter (weight_decay_filter) chooses the parameters that get weight decay:
	// "disable" (or ""): all of them, batch-norm gamma and beta and biases included; "auto":
	// all but those whose name contains "beta" or "gamma" (MindSpore's default filter, which
	// MindCV relies on); "norm_and_bias": all but those whose name contains "beta", "gamma" or
	// "bias". The names are MindCV's full parameter names, matched by substring as MindSpore does.
	WeightDecayFilter string
}

// Optimizers lists the values of Options.Opt that New accepts.
var Optimizers = []string{"momentum", "nesterov", "sgd"}

// WeightDecayFilters lists the values of Options.WeightDecayFilter that New accepts.
var WeightDecayFilters = []string{"disable", "auto", "norm_and_bias"}

// Decays reports whether the parameter called name gets weight decay under the filter (one of
// WeightDecayFilters, "" meaning "disable").
func Decays(filter, name string) bool {
	norm := strings.Contains(name, "beta") || strings.Contains(name, "gamma")
	switch filter {
	case "auto":
		return !norm
	case "norm_and_bias":
		return !norm && !strings.Contains(name, "bias")
	}
	return true
}

// SGD is momentum SGD over the trainable parameters, as MindSpore's Momentum optimizer computes
// it, through the backend's fused step (ops.Backend.SGDMomentum):
//
//	g = grad*gradScale + wd*param;  accum = momentum*accum + g;  param -= lr*accum
//	(Nesterov: param -= lr*(g + momentum*accum))
//
// with wd the weight decay of the parameter (Options.WeightDecayFilter). MindSpore's nn.SGD
// (dampening 0) gives the same update. It keeps one float32 accumulator per trainable parameter
// (see Moments), zero at the start.
//
// A step updates the parameters in groups of one weight decay (MindCV's two: the decayed
// weights, and with a filter the batch-norm parameters and biases without decay), one
// ops.SGDMomentumGroup call per group with the group's parameters, gradients and accumulators in
// parameter order. The result is the same as stepping each parameter on its own; a backend with a
// group step (the Ascend backend) runs a group in a few kernels instead of several per parameter.
// The lists are kept from step to step and made again only when the parameters updated, or their
// tensors, change (a parameter frozen, a gradient that appears or is replaced), so a steady
// training loop passes the backend the same lists every step and allocates nothing for them.
type SGD struct {
	b       ops.Backend
	opt     Options
	params  []*nn.Param
	decay   []float64
	accum   []ops.Tensor
	groupOf []int      // the index in groups of each parameter's weight decay
	groups  []sgdGroup // by weight decay, in the order the decays first appear in params
}

// sgdGroup is what one SGDMomentumGroup call of a step takes: the parameters of one weight decay
// that the step updates, in order.
type sgdGroup struct {
	wd                    float64
	params, grads, accums []ops.Tensor
	seen                  int // members matched so far (sameLists)
}

// New returns the optimizer for the parameters among params that are trainable now. The error
// names the key at fault.
func New(b ops.Backend, params []*nn.Param, o Options) (*SGD, error) {
	given := o.Opt
	o.Opt = strings.ToLower(o.Opt)
	switch {
	case o.Opt != "momentum" && o.Opt != "nesterov" && o.Opt != "sgd":
		return nil, fmt.Errorf("opt %q is not supported: use one of %s", given, strings.Join(Optimizers, ", "))
	case !(o.Momentum >= 0) || math.IsInf(o.Momentum, 0):
		return nil, fmt.Errorf("momentum %v: want a finite value >= 0", o.Momentum)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return nil, fmt.Errorf("weight_decay %v: want a finite value >= 0", o.WeightDecay)
	case o.Opt == "sgd" && o.Nesterov && o.Momentum == 0:
		return nil, fmt.Errorf("use_nesterov True with opt sgd needs momentum above 0 (MindSpore's nn.SGD refuses it): set momentum or use_nesterov False")
	}
	if o.WeightDecayFilter == "" {
		o.WeightDecayFilter = "disable"
	}
	known := false
	for _, f := range WeightDecayFilters {
		known = known || f == o.WeightDecayFilter
	}
	if !known {
		return nil, fmt.Errorf("weight_decay_filter %q is not known: use one of %s", o.WeightDecayFilter, strings.Join(WeightDecayFilters, ", "))
	}
	s := &SGD{b: b, opt: o}
	for _, p := range params {
		if !p.Trainable {
			continue
		}
		a := b.Alloc(ops.Float32, p.Value.Shape())
		b.Fill(a, 0)
		wd := 0.0
		if Decays(o.WeightDecayFilter, p.Name) {
			wd = o.WeightDecay
		}
		s.params, s.decay, s.accum = append(s.params, p), append(s.decay, wd), append(s.accum, a)
		k := 0
		for k < len(s.groups) && s.groups[k].wd != wd {
			k++
		}
		if k == len(s.groups) {
			s.groups = append(s.groups, sgdGroup{wd: wd})
		}
		s.groupOf = append(s.groupOf, k)
	}
	return s, nil
}

// Step updates every trainable parameter with learning rate lr (>= 0) from grads, one per
// parameter in the order of Params, or from each parameter's Grad when grads is nil. The
// gradients are multiplied by gradScale first (1/loss_scale; 0 means 1). A parameter frozen
// since New (Trainable false) or without a gradient (nil) is left alone, its accumulator too.
// The update is one ops.SGDMomentumGroup call per weight decay (see SGD).
func (s *SGD) Step(lr, gradScale float64, grads []ops.Tensor) {
	if grads != nil && len(grads) != len(s.params) {
		panic(fmt.Sprintf("optim.SGD.Step: %d gradients for %d trainable parameters", len(grads), len(s.params)))
	}
	if !s.sameLists(grads) {
		s.makeLists(grads)
	}
	p := ops.SGDParams{LR: lr, Momentum: s.opt.Momentum, Nesterov: s.opt.Nesterov, GradScale: gradScale}
	for i := range s.groups {
		g := &s.groups[i]
		if len(g.params) == 0 {
			continue
		}
		p.WeightDecay = g.wd
		ops.SGDMomentumGroup(s.b, g.params, g.grads, g.accums, p)
	}
}

// gradOf is parameter i's gradient for a Step given grads, or nil when the step leaves it alone.
func (s *SGD) gradOf(i int, grads []ops.Tensor) ops.Tensor {
	param := s.params[i]
	g := param.Grad
	if grads != nil {
		g = grads[i]
	}
	if !param.Trainable || g == nil {
		return nil
	}
	return g
}

// sameLists reports whether the groups' lists are what a Step given grads updates: the same
// parameters, gradients and accumulators, in order.
func (s *SGD) sameLists(grads []ops.Tensor) bool {
	for k := range s.groups {
		s.groups[k].seen = 0
	}
	for i, param := range s.params {
		g := s.gradOf(i, grads)
		if g == nil {
			continue
		}
		gr := &s.groups[s.groupOf[i]]
		j := gr.seen
		if j == len(gr.params) || gr.params[j] != param.Value || gr.grads[j] != g || gr.accums[j] != s.accum[i] {
			return false
		}
		gr.seen++
	}
	for k := range s.groups {
		if s.groups[k].seen != len(s.groups[k].params) {
			return false
		}
	}
	return true
}

// makeLists fills the groups' lists with what a Step given grads updates, reusing their memory.
func (s *SGD) makeLists(grads []ops.Tensor) {
	for k := range s.groups {
		g := &s.groups[k]
		g.params, g.grads, g.accums = g.params[:0], g.grads[:0], g.accums[:0]
	}
	for i, param := range s.params {
		g := s.gradOf(i, grads)
		if g == nil {
			continue
		}
		gr := &s.groups[s.groupOf[i]]
		gr.params, gr.grads, gr.accums = append(gr.params, param.Value), append(gr.grads, g), append(gr.accums, s.accum[i])
	}
}

// Params returns the trainable parameters the optimizer updates, in order. The caller must not
// modify the slice.
func (s *SGD) Params() []*nn.Param { return s.params }

// WeightDecays returns the weight decay of each parameter of Params (0 for those the filter
// skips). The caller must not modify the slice.
func (s *SGD) WeightDecays() []float64 { return s.decay }

// Moments returns the accumulators with their MindSpore checkpoint names, in the order of
// Params: "moments.<param name>" as nn.Momentum names them (opt momentum or nesterov), or
// "accum.<param name>" as nn.SGD does (opt sgd; MindSpore's nn.SGD also saves "stat.<param name>",
// 1 before its first update and 0 after, which this optimizer does not need). Writing into the
// tensors (to resume) is allowed.
func (s *SGD) Moments() ([]string, []ops.Tensor) {
	prefix := "moments."
	if s.opt.Opt == "sgd" {
		prefix = "accum."
	}
	names := make([]string, len(s.params))
	for i, p := range s.params {
		names[i] = prefix + p.Name
	}
	return names, s.accum
}

// Free releases the accumulators. The optimizer must not be used afterwards.
func (s *SGD) Free() {
	for _, a := range s.accum {
		s.b.Free(a)
	}
	s.accum = nil
	for k := range s.groups {
		g := &s.groups[k]
		g.params, g.grads, g.accums = nil, nil, nil
	}
}
