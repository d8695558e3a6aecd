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
type SGD struct {
	b      ops.Backend
	opt    Options
	params []*nn.Param
	decay  []float64
	accum  []ops.Tensor
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
	}
	return s, nil
}

// Step updates every trainable parameter with learning rate lr (>= 0) from grads, one per
// parameter in the order of Params, or from each parameter's Grad when grads is nil. The
// gradients are multiplied by gradScale first (1/loss_scale; 0 means 1). A parameter frozen
// since New (Trainable false) or without a gradient (nil) is left alone, its accumulator too.
func (s *SGD) Step(lr, gradScale float64, grads []ops.Tensor) {
	if grads != nil && len(grads) != len(s.params) {
		panic(fmt.Sprintf("optim.SGD.Step: %d gradients for %d trainable parameters", len(grads), len(s.params)))
	}
	p := ops.SGDParams{LR: lr, Momentum: s.opt.Momentum, Nesterov: s.opt.Nesterov, GradScale: gradScale}
	for i, param := range s.params {
		g := param.Grad
		if grads != nil {
			g = grads[i]
		}
		if !param.Trainable || g == nil {
			continue
		}
		p.WeightDecay = s.decay[i]
		s.b.SGDMomentum(param.Value, g, s.accum[i], p)
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
}
