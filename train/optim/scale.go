package optim

import (
	"fmt"
	"math"
	"strings"

	"github.com/resnext/resnext/ops"
)

// MindSpore's DynamicLossScaleManager as MindCV creates it (scale_factor 2, scale_window 2000),
// and the initial scale MindSpore's Model uses when MindCV leaves the manager to it ("auto").
const (
	DynamicScaleFactor = 2
	DynamicScaleWindow = 2000
	AutoInitScale      = 1 << 24
)

// LossScaler is a loss-scale policy: MindSpore's FixedLossScaleManager or DynamicLossScaleManager.
//
// Each step the engine multiplies the loss gradient by Scale (the backward's seed), passes
// 1/Scale to the optimizer as gradScale, and, when NeedsCheck, checks the (averaged) gradients
// for overflow (AllFinite) and calls Update with the result; the step's update is applied only
// when Update returns true.
type LossScaler interface {
	// Scale is the current loss scale: multiply the loss (the gradient's seed) by it.
	Scale() float64
	// NeedsCheck reports whether the engine must check the gradients for overflow every step.
	NeedsCheck() bool
	// Update takes the result of the overflow check (finite: no Inf or NaN in any gradient),
	// adjusts the scale, and reports whether the step's update is applied.
	Update(finite bool) (apply bool)
	// State returns what a checkpoint keeps of the scaler.
	State() ScalerState
	// SetState restores a State.
	SetState(ScalerState)
}

// ScalerState is a loss scaler's state for checkpoints.
type ScalerState struct {
	// Scale is the current loss scale.
	Scale float64
	// GoodSteps counts the steps without overflow since the dynamic scale last changed
	// (MindSpore's current_iterator_step - 1 - last_overflow_iterator_step); always 0 when fixed.
	GoodSteps int
}

// NewLossScaler returns the loss scaler for MindCV's loss_scale_type (kind), loss_scale (scale)
// and drop_overflow_update, as MindCV's create_trainer builds it:
//
//   - "fixed": the scale never changes. With dropOverflowUpdate a step whose gradients overflow
//     is skipped (MindSpore's FixedLossScaleUpdateCell); without, nothing is checked and every
//     step applies (the recipe: loss_scale 1024).
//   - "dynamic": starts at scale; an overflow skips the step and divides the scale by 2 (not
//     below 1); 2000 steps in a row without overflow double it (DynamicLossScaleUpdateCell with
//     MindCV's scale_factor 2 and scale_window 2000). MindCV requires dropOverflowUpdate with it.
//   - "auto": MindCV creates no manager and MindSpore's Model picks one from amp_level. This is
//     its choice for O2 (the recipe's amp level): dynamic from 2^24, whatever scale says. For O0,
//     O1 and O3 MindSpore uses no loss scale: ask for NewLossScaler("fixed", 1, false) instead.
//     MindCV refuses "auto" when it needs its own train step (ema, clip_grad or
//     gradient_accumulation_steps > 1).
//
// kind is not case-sensitive. scale must be at least 1 (except for "auto"). Errors name the key.
func NewLossScaler(kind string, scale float64, dropOverflowUpdate bool) (LossScaler, error) {
	k := strings.ToLower(kind)
	if k == "auto" {
		return &dynamicScaler{scale: AutoInitScale}, nil
	}
	if k != "fixed" && k != "dynamic" {
		return nil, fmt.Errorf("loss_scale_type %q is not known: use fixed, dynamic or auto", kind)
	}
	if !(scale >= 1) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("loss_scale %v: want a finite value of at least 1", scale)
	}
	if k == "fixed" {
		return &fixedScaler{scale: scale, drop: dropOverflowUpdate}, nil
	}
	if !dropOverflowUpdate {
		return nil, fmt.Errorf("loss_scale_type dynamic always skips the update of a step that overflowed: set drop_overflow_update True (MindCV refuses False)")
	}
	return &dynamicScaler{scale: float64(float32(scale))}, nil
}

// fixedScaler is MindSpore's FixedLossScaleManager.
type fixedScaler struct {
	scale float64
	drop  bool
}

func (f *fixedScaler) Scale() float64          { return f.scale }
func (f *fixedScaler) NeedsCheck() bool        { return f.drop }
func (f *fixedScaler) Update(finite bool) bool { return finite || !f.drop }
func (f *fixedScaler) State() ScalerState      { return ScalerState{Scale: f.scale} }
func (f *fixedScaler) SetState(s ScalerState) {
	if s.Scale >= 1 && !math.IsInf(s.Scale, 0) {
		f.scale = s.Scale
	}
}

// dynamicScaler is MindSpore's DynamicLossScaleUpdateCell with scale_factor 2 and scale_window
// 2000. The scale is kept in float32, as MindSpore keeps it.
type dynamicScaler struct {
	scale float64
	good  int
}

func (d *dynamicScaler) Scale() float64   { return d.scale }
func (d *dynamicScaler) NeedsCheck() bool { return true }

// Update follows DynamicLossScaleUpdateCell.construct: on overflow the scale drops by the factor
// (not below 1) and the count of good steps restarts; otherwise the step counts, and the
// scale_window-th good step in a row raises the scale by the factor and restarts the count.
func (d *dynamicScaler) Update(finite bool) bool {
	if !finite {
		d.scale = float64(float32(max(d.scale/DynamicScaleFactor, 1)))
		d.good = 0
		return false
	}
	d.good++
	if d.good >= DynamicScaleWindow {
		d.scale = float64(float32(d.scale * DynamicScaleFactor))
		d.good = 0
	}
	return true
}

func (d *dynamicScaler) State() ScalerState { return ScalerState{Scale: d.scale, GoodSteps: d.good} }
func (d *dynamicScaler) SetState(s ScalerState) {
	if s.Scale >= 1 && !math.IsInf(s.Scale, 0) {
		d.scale = float64(float32(s.Scale))
	}
	d.good = min(max(s.GoodSteps, 0), DynamicScaleWindow-1)
}

// AllFinite reports whether every element of every tensor in ts is finite (no Inf, no NaN): the
// overflow check of loss scaling. It runs ops.Backend.AllFinite into a Bool scalar and reads that
// one byte back, which waits for the queued work. The error is the backend's sticky runtime error.
func AllFinite(b ops.Backend, ts []ops.Tensor) (bool, error) {
	var live []ops.Tensor
	for _, t := range ts {
		if t != nil {
			live = append(live, t)
		}
	}
	if len(live) == 0 {
		return true, nil
	}
	out := b.Alloc(ops.Bool, ops.Shape{})
	defer b.Free(out)
	b.AllFinite(live, out)
	v, err := ops.ToBool(b, out)
	if err != nil {
		return false, fmt.Errorf("overflow check: %w", err)
	}
	return v[0], nil
}

// ClipByGlobalNorm scales the gradients in place so that their global L2 norm, once unscaled, is
// at most maxNorm: MindCV's clip_grad with clip_value (MindSpore's ops.clip_by_global_norm, which
// MindCV applies to the gradients after dividing them by the loss scale). grads are still
// multiplied by the loss scale scale (0 means 1): the norm is computed on grads/scale and every
// gradient is multiplied by maxNorm/norm when norm > maxNorm, which scales grads/scale by the same
// factor. It returns the unscaled global norm. Nil gradients are skipped.
//
// The norm is computed on the host in float64: every gradient is read back, which costs a
// device-to-host copy of every gradient (the model's size) per step on a device backend and waits
// for the queued work. When the norm is not finite (an overflow), the gradients are left as they
// are and the norm is returned: the overflow check then skips the step, as in MindCV, where
// clipping an overflowed step yields NaN gradients that the check catches. The error is the
// backend's runtime error, or a bad maxNorm or scale.
func ClipByGlobalNorm(b ops.Backend, grads []ops.Tensor, maxNorm, scale float64) (float64, error) {
	if !(maxNorm > 0) || math.IsInf(maxNorm, 0) {
		return 0, fmt.Errorf("clip_value %v: want a finite value above 0", maxNorm)
	}
	if scale == 0 {
		scale = 1
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return 0, fmt.Errorf("clip by global norm: loss scale %v: want a finite value above 0", scale)
	}
	var sum float64
	for i, g := range grads {
		if g == nil {
			continue
		}
		v, err := ops.ToFloat32(b, g)
		if err != nil {
			return 0, fmt.Errorf("clip by global norm: gradient %d: %w", i, err)
		}
		for _, x := range v {
			sum += float64(x) * float64(x)
		}
	}
	norm := math.Sqrt(sum) / scale
	if math.IsNaN(norm) || math.IsInf(norm, 0) || norm <= maxNorm {
		return norm, nil
	}
	f := maxNorm / norm
	for _, g := range grads {
		if g != nil {
			b.Scale(g, g, f)
		}
	}
	return norm, nil
}
