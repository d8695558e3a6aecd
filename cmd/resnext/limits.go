package main

import (
	"fmt"
	"math"

	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train/config"
)

// maxSteps limits the steps and warm-up steps of bench (each timed step keeps its time).
const maxSteps = 1_000_000

// intFlag checks lo <= v <= hi for the flag name; what says what the value counts.
func intFlag(name string, v, lo, hi int, what string) error {
	if v < lo || v > hi {
		return fmt.Errorf("--%s %d: want %s from %d to %d", name, v, what, lo, hi)
	}
	return nil
}

// floatFlag checks that v is a finite number with lo < v <= hi (loOpen) or lo <= v <= hi.
func floatFlag(name string, v, lo float64, loOpen bool, hi float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || loOpen && v == lo || v > hi {
		l := "["
		if loOpen {
			l = "("
		}
		return fmt.Errorf("--%s %v: want a number in %s%v, %v]", name, v, l, lo, hi)
	}
	return nil
}

// validate checks --threads (the target is checked when the device opens).
func (d deviceOptions) validate() error {
	return intFlag("threads", d.threads, 0, config.MaxThreads, "CPU threads (0: all cores)")
}

// firstErr returns the first error that is not nil.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// activationBytes estimates the float32 activations a model holds for a batch of batch images of
// side size: in training every layer's output (and its batch norm's) stays until the backward pass;
// in evaluation only a few layers' do, counted here as the largest one three times over.
func activationBytes(cfg resnext.Config, batch, size int, training bool) float64 {
	var sum, largest float64
	add := func(channels, h int) {
		n := float64(channels) * float64(h) * float64(h)
		sum += 2 * n // the convolution's output and its batch norm's
		largest = max(largest, n)
	}
	add(cfg.InChannels, size)
	h := size
	if cfg.Stem == resnext.ImageNetStem {
		h = (h + 1) / 2
		add(cfg.Planes, h)
		h = (h + 1) / 2
		add(cfg.Planes, h)
	} else {
		add(cfg.Planes, h)
	}
	for _, stage := range cfg.Stages() {
		for _, b := range stage {
			add(b.Width, h)
			if b.Stride > 1 {
				h = (h + 1) / 2
			}
			add(b.Width, h)
			add(b.Out, h)
			if b.DownSample() {
				add(b.Out, h)
			}
		}
	}
	per := 3 * largest
	if training {
		per = sum
	}
	return 4 * float64(batch) * per
}

// checkMemory refuses a CPU run whose activations alone would need more than the machine's memory,
// naming the flags that set the size: it would otherwise end in the runtime's out-of-memory crash.
func checkMemory(b ops.Backend, cfg resnext.Config, batch, size int, training bool, batchFlag, sizeFlag string) error {
	if b.Name() != "cpu" {
		return nil // a device's memory is the device's to report
	}
	need, have := activationBytes(cfg, batch, size, training), totalMemory()
	if have == 0 || need <= have {
		return nil
	}
	return fmt.Errorf("--%s %d with --%s %d: %s needs about %.1f GiB of activations, more than this machine's %.1f GiB: lower --%s or --%s",
		batchFlag, batch, sizeFlag, size, cfg.Name, need/(1<<30), have/(1<<30), batchFlag, sizeFlag)
}

// checkRunMemory is checkMemory for a train, finetune or validate run of cfg: its model, batch
// (eval_batch_size when validating, if set) and image_resize.
func checkRunMemory(b ops.Backend, cfg config.Config, training bool) error {
	mc, err := resnext.Variant(cfg.Model)
	if err != nil {
		return nil // the run names the model
	}
	mc.InChannels = cfg.InChannels
	batch, flag := cfg.BatchSize, "batch_size"
	if !training && cfg.EvalBatchSize > 0 {
		batch, flag = cfg.EvalBatchSize, "eval_batch_size"
	}
	return checkMemory(b, mc, batch, cfg.ImageResize, training, flag, "image_resize")
}
