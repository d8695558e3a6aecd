// Package lr builds MindCV's learning-rate schedules: the per-step list that MindCV's
// create_scheduler returns and MindSpore's optimizer indexes by its global step.
//
// A schedule is a linear warmup over WarmupEpochs (only when WarmupEpochs > 0), followed by the
// main schedule over the remaining NumEpochs-WarmupEpochs epochs, whose step index starts again at
// zero where the warmup ends. With S steps per epoch, W warmup epochs, f the warmup factor and i the
// step (counted from the start of the phase):
//
//	warmup:            lr*f + min(i/S, W)/W * (lr - lr*f)
//	cosine_decay:      min_lr + 0.5*(lr*cycle_decay^c - min_lr) * (1 + cos(pi*min(i/S, D)/D)),
//	                   restarting every D = decay_epochs epochs for num_cycles cycles (c counts them),
//	                   then min_lr until the end
//	constant:          lr
//	step_decay:        lr * decay_rate^floor(floor(i/S)/decay_epochs)
//	multi_step_decay:  lr * decay_rate^(number of milestones <= floor(i/S))
//	exponential_decay: lr * decay_rate^(i/S)
//	polynomial_decay:  lr * (1 - min(i/S, M)/M)^decay_rate, M the main phase's epochs
//	one_cycle:         PyTorch's OneCycleLR (cosine, pct_start 0.3, div_factor 25) from lr/25 up to lr
//	                   and down to min_lr; no warmup, no lr_epoch_stair
//	cyclic:            PyTorch's triangular CyclicLR between min_lr and lr, num_cycles cycles;
//	                   no warmup, no lr_epoch_stair
//
// With LREpochStair, i/S is floor(i/S) in the warmup, cosine_decay, exponential_decay and
// polynomial_decay, so the value changes once per epoch (step_decay and multi_step_decay always
// change once per epoch). The arithmetic follows MindCV's expressions operation by operation, so the
// values agree with MindCV's to the last bit or two of a float64 (math.Cos and math.Pow may round
// differently from C's libm).
package lr

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Schedule holds MindCV's scheduler keys. The zero value of a field is not a default: callers fill
// in MindCV's defaults (scheduler cosine_decay, lr 0.001, min_lr 1e-6, warmup_epochs 3,
// warmup_factor 0, decay_epochs 100, decay_rate 0.9, multi_step_decay_milestones [30, 60, 90],
// num_cycles 1, cycle_decay 1.0, lr_epoch_stair False) before calling Build.
type Schedule struct {
	// Scheduler is the schedule's name (MindCV's scheduler key): one of Schedulers.
	Scheduler string
	// LR is the base (peak) learning rate (lr); MinLR the floor of cosine_decay, the end of
	// one_cycle and the bottom of cyclic (min_lr).
	LR, MinLR float64
	// WarmupEpochs is the length of the linear warmup in epochs (warmup_epochs); 0 means none.
	WarmupEpochs int
	// WarmupFactor is the fraction of LR the warmup starts from (warmup_factor).
	WarmupFactor float64
	// DecayEpochs is the length of one cosine cycle, or the period of step_decay (decay_epochs).
	DecayEpochs int
	// DecayRate is the factor of step_decay, multi_step_decay and exponential_decay, and the power
	// of polynomial_decay (decay_rate).
	DecayRate float64
	// Milestones are the epochs at which multi_step_decay multiplies by DecayRate
	// (multi_step_decay_milestones), in any order.
	Milestones []int
	// NumEpochs is the number of training epochs (epoch_size).
	NumEpochs int
	// LREpochStair makes the value change once per epoch instead of every step (lr_epoch_stair).
	LREpochStair bool
	// NumCycles is the number of cosine_decay or cyclic cycles (num_cycles, MindCV's default 1).
	NumCycles int
	// CycleDecay multiplies the peak of each cosine cycle after the first (cycle_decay, MindCV's
	// default 1.0).
	CycleDecay float64
}

// Schedulers lists the names Build accepts, as MindCV's create_scheduler does
// (warmup_cosine_decay is another name for cosine_decay).
var Schedulers = []string{
	"constant", "cosine_decay", "warmup_cosine_decay", "step_decay", "multi_step_decay",
	"exponential_decay", "polynomial_decay", "one_cycle", "cyclic",
}

// Build returns the learning rate of every global step, as MindCV's create_scheduler builds its
// per-step list: the warmup (WarmupEpochs*stepsPerEpoch values) then the main schedule over the
// remaining epochs, cosine_decay padded with MinLR after NumCycles*DecayEpochs epochs. The list has
// NumEpochs*stepsPerEpoch values, or WarmupEpochs*stepsPerEpoch when the warmup is longer than
// the run (MindCV keeps the whole warmup then). Errors name the key at fault.
func Build(s Schedule, stepsPerEpoch int) ([]float64, error) {
	if err := check(s, stepsPerEpoch); err != nil {
		return nil, err
	}
	spe := stepsPerEpoch
	var out []float64
	if s.WarmupEpochs > 0 {
		out = warmup(s, spe)
	}
	main := s.NumEpochs - s.WarmupEpochs
	steps := max(spe*main, 0)
	// epoch is the schedule's time in epochs at step i: fractional, or whole with lr_epoch_stair.
	epoch := func(i int) float64 {
		if s.LREpochStair {
			return float64(i / spe)
		}
		return float64(i) / float64(spe)
	}
	switch s.Scheduler {
	case "constant":
		for range steps {
			out = append(out, s.LR)
		}
	case "cosine_decay", "warmup_cosine_decay":
		out = append(out, cosine(s, spe, main)...)
	case "step_decay":
		for i := range steps {
			out = append(out, s.LR*math.Pow(s.DecayRate, float64(i/spe/s.DecayEpochs)))
		}
	case "multi_step_decay":
		ms := append([]int(nil), s.Milestones...)
		sort.Ints(ms)
		for i := range steps {
			passed := sort.SearchInts(ms, i/spe+1) // milestones <= epoch (bisect_right)
			out = append(out, s.LR*math.Pow(s.DecayRate, float64(passed)))
		}
	case "exponential_decay":
		for i := range steps {
			out = append(out, s.LR*math.Pow(s.DecayRate, epoch(i)))
		}
	case "polynomial_decay":
		total := float64(main)
		for i := range steps {
			out = append(out, s.LR*math.Pow(1-math.Min(epoch(i), total)/total, s.DecayRate))
		}
	case "one_cycle":
		out = append(out, oneCycle(s, steps)...)
	case "cyclic":
		out = append(out, cyclic(s, steps)...)
	}
	return out, nil
}

// check validates the keys Build uses, naming the one at fault.
func check(s Schedule, spe int) error {
	known := false
	for _, n := range Schedulers {
		known = known || n == s.Scheduler
	}
	switch {
	case !known:
		return fmt.Errorf("scheduler %q is not known: use one of %s", s.Scheduler, strings.Join(Schedulers, ", "))
	case spe <= 0:
		return fmt.Errorf("lr schedule: %d steps per epoch: the training set gives no full batch (check the dataset size, batch_size and drop_remainder)", spe)
	case s.NumEpochs <= 0:
		return fmt.Errorf("epoch_size %d: want at least 1", s.NumEpochs)
	case !finite(s.LR) || s.LR < 0:
		return fmt.Errorf("lr %v: want a finite value >= 0", s.LR)
	case !finite(s.MinLR) || s.MinLR < 0:
		return fmt.Errorf("min_lr %v: want a finite value >= 0", s.MinLR)
	case s.WarmupEpochs < 0:
		return fmt.Errorf("warmup_epochs %d: want 0 or more", s.WarmupEpochs)
	case !finite(s.WarmupFactor):
		return fmt.Errorf("warmup_factor %v: want a finite value", s.WarmupFactor)
	case !finite(s.DecayRate):
		return fmt.Errorf("decay_rate %v: want a finite value", s.DecayRate)
	case !finite(s.CycleDecay):
		return fmt.Errorf("cycle_decay %v: want a finite value", s.CycleDecay)
	}
	switch s.Scheduler {
	case "cosine_decay", "warmup_cosine_decay":
		if s.DecayEpochs < 0 {
			return fmt.Errorf("decay_epochs %d: want 0 or more for %s", s.DecayEpochs, s.Scheduler)
		}
		if s.NumCycles < 1 {
			return fmt.Errorf("num_cycles %d: want at least 1 for %s", s.NumCycles, s.Scheduler)
		}
	case "step_decay":
		if s.DecayEpochs < 1 {
			return fmt.Errorf("decay_epochs %d: step_decay needs at least 1 (the period of the decay, in epochs)", s.DecayEpochs)
		}
	case "exponential_decay":
		if s.DecayRate < 0 {
			return fmt.Errorf("decay_rate %v: exponential_decay needs a rate >= 0", s.DecayRate)
		}
	case "multi_step_decay":
		for _, m := range s.Milestones {
			if m < 0 {
				return fmt.Errorf("multi_step_decay_milestones %v: epochs must not be negative", s.Milestones)
			}
		}
	case "one_cycle", "cyclic":
		if s.LREpochStair || s.WarmupEpochs > 0 {
			return fmt.Errorf("scheduler %s: set lr_epoch_stair False and warmup_epochs 0 (it has its own warmup and changes every step)", s.Scheduler)
		}
		if s.Scheduler == "one_cycle" && s.MinLR == 0 {
			return fmt.Errorf("min_lr 0: one_cycle ends at min_lr and needs it above 0 (MindCV divides by it)")
		}
		if s.Scheduler == "cyclic" {
			if s.NumCycles < 1 {
				return fmt.Errorf("num_cycles %d: want at least 1 for cyclic", s.NumCycles)
			}
			if up := float64(spe*s.NumEpochs) / float64(s.NumCycles) / 2; int(up) < 1 {
				return fmt.Errorf("num_cycles %d: cyclic needs at least 2 steps per cycle, and %d epochs of %d steps give %g",
					s.NumCycles, s.NumEpochs, spe, 2*up)
			}
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// warmup is the linear warmup from LR*WarmupFactor to LR over WarmupEpochs epochs (MindCV's
// linear_refined_lr, or linear_lr with lr_epoch_stair).
func warmup(s Schedule, spe int) []float64 {
	w := s.WarmupEpochs
	start, end := s.LR*s.WarmupFactor, s.LR*1.0
	out := make([]float64, 0, spe*w)
	for i := range spe * w {
		e := float64(i) / float64(spe)
		if s.LREpochStair {
			e = float64(i / spe)
		}
		out = append(out, start+math.Min(e, float64(w))/float64(w)*(end-start))
	}
	return out
}

// cosine is cosine_decay over the main phase of main epochs (MindCV's cosine_decay_refined_lr, or
// cosine_decay_lr with lr_epoch_stair).
func cosine(s Schedule, spe, main int) []float64 {
	total := spe * main
	d := s.DecayEpochs
	var out []float64
	for c := range s.NumCycles {
		peak := s.LR * math.Pow(s.CycleDecay, float64(c))
		delta := 0.5 * (peak - s.MinLR)
		for i := range spe * d {
			if len(out) >= total {
				break
			}
			t := float64(i) / float64(spe)
			if s.LREpochStair {
				t = float64(i / spe)
			}
			t = math.Min(t, float64(d))
			out = append(out, s.MinLR+delta*(1.0+math.Cos(math.Pi*t/float64(d))))
		}
	}
	if main > s.NumCycles*d {
		for range (main - s.NumCycles*d) * spe {
			out = append(out, s.MinLR)
		}
	}
	return out
}

// oneCycle is PyTorch's two-phase OneCycleLR with cosine annealing, pct_start 0.3 and div_factor
// 25 over steps steps, ending at MinLR (MindCV's one_cycle_lr as create_scheduler calls it).
func oneCycle(s Schedule, steps int) []float64 {
	const pctStart, divFactor = 0.3, 25.0
	initial := s.LR / divFactor
	final := initial / (initial / s.MinLR) // MindCV passes final_div_factor = initial/min_lr
	anneal := func(start, end, pct float64) float64 {
		return end + (start-end)/2.0*(math.Cos(math.Pi*pct)+1)
	}
	up := pctStart*float64(steps) - 1
	last := float64(steps) - 1
	out := make([]float64, 0, steps)
	for i := range steps {
		x := float64(i)
		if x <= up {
			out = append(out, anneal(initial, s.LR, x/up))
		} else {
			out = append(out, anneal(s.LR, final, (x-up)/(last-up)))
		}
	}
	return out
}

// cyclic is PyTorch's triangular CyclicLR from MinLR to LR and back, NumCycles cycles over steps
// steps, the half cycle truncated to whole steps (MindCV's cyclic_lr as create_scheduler calls it).
func cyclic(s Schedule, steps int) []float64 {
	half := float64(int(float64(steps) / float64(s.NumCycles) / 2))
	total := half + half
	ratio := half / total
	out := make([]float64, 0, steps)
	for i := range steps {
		cycle := math.Floor(1 + float64(i)/total)
		x := 1.0 + float64(i)/total - cycle
		var f float64
		if x <= ratio {
			f = x / ratio
		} else {
			f = (x - 1) / (ratio - 1)
		}
		out = append(out, s.MinLR+(s.LR-s.MinLR)*f)
	}
	return out
}
