package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/resnext/resnext/resnext"
)

// problem is one key whose value is out of range.
type problem struct {
	key   string
	value any
	msg   string
}

func (p problem) String() string {
	return fmt.Sprintf("%s = %s: %s", p.key, quoteValue(p.value), p.msg)
}

// Names MindCV accepts for its choice keys. Opt, Loss, Interpolation and DeviceTarget are
// compared in any case, as MindCV (or MindSpore) lower-cases them.
var (
	optNames           = []string{"sgd", "momentum", "nesterov", "adam", "adamw", "lion", "nadam", "adan", "rmsprop", "adagrad", "lamb"}
	schedulerNames     = []string{"constant", "cosine_decay", "warmup_cosine_decay", "exponential_decay", "polynomial_decay", "step_decay", "multi_step_decay", "one_cycle", "cyclic"}
	lossNames          = []string{"ce", "bce", "asl_single_label", "asl_multi_label", "jsd"}
	interpolationNames = []string{"bilinear", "nearest", "bicubic", "area", "pilcubic", "linear", "antialias"}
	deviceNames        = []string{"ascend", "cpu", "gpu", "auto"}
	ampLevels          = []string{"O0", "O1", "O2", "O3"}
	lossScaleTypes     = []string{"fixed", "dynamic", "auto"}
	ckptSavePolicies   = []string{"latest_k", "top_k", ""}
	weightDecayFilters = []string{"disable", "auto", "norm_and_bias"}
	reductions         = []string{"mean", "sum", "none"}
	logFormats         = []string{"console", "json"}
	poolPaddings       = []string{"auto", "same", "symmetric"}
	jpegDecoders       = []string{"auto", "libjpeg-turbo", "go"}
)

// Upper limits of counts. They are far above any real run and keep a mistyped value from reaching
// the allocator or the clock: the learning-rate schedule holds one value per step of the run, a
// worker or thread is a goroutine with its own buffers. The sizes' limits (batch_size, image_resize,
// num_classes, in_channels) are the model's, resnext.MaxBatchSize and the others.
const (
	// MaxEpochs limits epoch_size, warmup_epochs, decay_epochs, num_cycles and the milestones.
	MaxEpochs = 100_000
	// MaxWorkers limits num_parallel_workers.
	MaxWorkers = 1024
	// MaxThreads limits threads.
	MaxThreads = 4096
	// maxAttempts limits re_max_attempts (random erasing tries per image).
	maxAttempts = 10_000
	// maxAugRepeats limits aug_repeats (copies of each sample per epoch).
	maxAugRepeats = 64
	// maxAccumulation limits gradient_accumulation_steps.
	maxAccumulation = 65536
)

// Validate checks every key's range: counts and sizes positive and within their limits, probabilities in [0, 1], every
// number finite, names among MindCV's choices, pairs ordered. Its error has one line per problem,
// each naming the key, the value and the valid range. Values MindCV accepts that this project does
// not implement (an optimizer other than momentum, mixup, ...) pass: the engine decides.
// Keys that only mean something to MindSpore's graph mode are not checked.
func (c Config) Validate() error {
	probs := c.problems()
	if len(probs) == 0 {
		return nil
	}
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = errors.New(p.String())
	}
	return errors.Join(errs...)
}

// checker collects problems, at most one per key.
type checker struct {
	probs []problem
	bad   map[string]bool
}

func (ch *checker) fail(key string, value any, format string, args ...any) {
	if ch.bad[key] {
		return
	}
	ch.bad[key] = true
	ch.probs = append(ch.probs, problem{key: key, value: value, msg: fmt.Sprintf(format, args...)})
}

func (ch *checker) intMin(key string, v, lo int) {
	if v < lo {
		ch.fail(key, v, "must be at least %d", lo)
	}
}

func (ch *checker) intRange(key string, v, lo, hi int) {
	if v < lo || v > hi {
		ch.fail(key, v, "must be from %d to %d", lo, hi)
	}
}

// floatRange checks lo <= v <= hi, or lo < v / v < hi when open says so ("(", ")", "[", "]").
func (ch *checker) floatRange(key string, v float64, lo float64, loOpen bool, hi float64, hiOpen bool) {
	if v < lo || loOpen && v == lo || v > hi || hiOpen && v == hi {
		l, h := "[", "]"
		if loOpen {
			l = "("
		}
		if hiOpen {
			h = ")"
		}
		ch.fail(key, v, "must be in %s%s, %s%s", l, formatValue(lo), formatValue(hi), h)
	}
}

func (ch *checker) floatMin(key string, v, lo float64, open bool) {
	if v < lo || open && v == lo {
		if open {
			ch.fail(key, v, "must be greater than %s", formatValue(lo))
		} else {
			ch.fail(key, v, "must be at least %s", formatValue(lo))
		}
	}
}

// oneOf checks v against names; fold compares in any case.
func (ch *checker) oneOf(key, v string, names []string, fold bool) {
	for _, n := range names {
		if v == n || fold && strings.EqualFold(v, n) {
			return
		}
	}
	shown := make([]string, 0, len(names))
	for _, n := range names {
		if n == "" {
			n = `"" (null)`
		}
		shown = append(shown, n)
	}
	ch.fail(key, v, "want one of %s", strings.Join(shown, ", "))
}

func (ch *checker) notEmpty(key, v string) {
	if strings.TrimSpace(v) == "" {
		ch.fail(key, v, "must not be empty")
	}
}

// pair checks a [lo, hi] list with 0 < lo <= hi.
func (ch *checker) pair(key string, v []float64) {
	switch {
	case len(v) != 2:
		ch.fail(key, v, "want two numbers, lo,hi")
	case v[0] <= 0:
		ch.fail(key, v, "the lower bound must be greater than 0")
	case v[0] > v[1]:
		ch.fail(key, v, "the lower bound must not exceed the upper one")
	}
}

// problems returns every value out of range, in Config's order.
func (c Config) problems() []problem {
	ch := &checker{bad: make(map[string]bool)}

	// Every number finite, first: the range checks below then see only finite values.
	for _, f := range fieldTable().fields {
		if f.ignored {
			continue
		}
		switch v := f.get(&c).(type) {
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				ch.fail(f.key, v, "must be a finite number")
			}
		case []float64:
			for _, x := range v {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					ch.fail(f.key, v, "every element must be a finite number")
					break
				}
			}
		}
	}

	// System.
	ch.intMin("val_interval", c.ValInterval, 1)
	ch.intMin("log_interval", c.LogInterval, 1)
	ch.intRange("seed", c.Seed, 0, math.MaxUint32)
	ch.oneOf("device_target", c.DeviceTarget, deviceNames, true)

	// Dataset.
	ch.notEmpty("dataset", c.Dataset)
	ch.notEmpty("train_split", c.TrainSplit)
	ch.notEmpty("val_split", c.ValSplit)
	ch.intRange("num_parallel_workers", c.NumParallelWorkers, 1, MaxWorkers)
	ch.intMin("num_samples", c.NumSamples, 0)
	ch.intRange("batch_size", c.BatchSize, 1, resnext.MaxBatchSize)

	// Augmentation.
	ch.intRange("image_resize", c.ImageResize, 1, resnext.MaxImageSize)
	ch.pair("scale", c.Scale)
	ch.pair("ratio", c.Ratio)
	ch.floatRange("hflip", c.Hflip, 0, false, 1, false)
	ch.floatRange("vflip", c.Vflip, 0, false, 1, false)
	switch n := len(c.ColorJitter); {
	case n != 1 && n != 3 && n != 4:
		ch.fail("color_jitter", c.ColorJitter, "want one factor, or three (brightness,contrast,saturation) or four (and hue) values")
	default:
		for i, x := range c.ColorJitter {
			if x < 0 {
				ch.fail("color_jitter", c.ColorJitter, "every factor must be at least 0")
			}
			if i == 3 && x > 0.5 {
				ch.fail("color_jitter", c.ColorJitter, "the hue factor (fourth) must be in [0, 0.5]")
			}
		}
	}
	ch.oneOf("interpolation", c.Interpolation, interpolationNames, true)
	if c.AugSplits != 0 && c.AugSplits != 3 {
		ch.fail("aug_splits", c.AugSplits, "want 0 (off) or 3, the only split count MindCV supports")
	} else if c.AugSplits == 3 && c.AutoAugment == "" {
		ch.fail("aug_splits", c.AugSplits, "needs an auto_augment policy")
	}
	ch.floatRange("re_prob", c.ReProb, 0, false, 1, false)
	ch.pair("re_scale", c.ReScale)
	ch.pair("re_ratio", c.ReRatio)
	if !validReValue(c.ReValue) {
		ch.fail("re_value", c.ReValue, "want a number, three comma-separated numbers (one per channel) or random")
	}
	ch.intRange("re_max_attempts", c.ReMaxAttempts, 1, maxAttempts)
	if len(c.Mean) == 0 {
		ch.fail("mean", c.Mean, "want one number per channel")
	}
	if len(c.Std) != len(c.Mean) && !ch.bad["mean"] { // a bad mean is the one problem
		ch.fail("std", c.Std, "want as many numbers as mean has (%d)", len(c.Mean))
	}
	for _, x := range c.Std {
		if x <= 0 {
			ch.fail("std", c.Std, "every element must be greater than 0")
		}
	}
	ch.floatRange("crop_pct", c.CropPct, 0, true, 1, false)
	ch.floatMin("mixup", c.Mixup, 0, false)
	ch.floatMin("cutmix", c.Cutmix, 0, false)
	ch.floatRange("cutmix_prob", c.CutmixProb, 0, false, 1, false)
	ch.intRange("aug_repeats", c.AugRepeats, 0, maxAugRepeats)

	// Model.
	ch.notEmpty("model", c.Model)
	ch.intRange("num_classes", c.NumClasses, 0, resnext.MaxNumClasses)
	ch.intRange("in_channels", c.InChannels, 1, resnext.MaxInChannels)
	ch.floatRange("drop_rate", c.DropRate, 0, false, 1, true)
	ch.floatRange("drop_path_rate", c.DropPathRate, 0, false, 1, true)
	ch.intMin("keep_checkpoint_max", c.KeepCheckpointMax, 1)
	ch.notEmpty("ckpt_save_dir", c.CkptSaveDir)
	ch.intMin("ckpt_save_interval", c.CkptSaveInterval, 1)
	ch.oneOf("ckpt_save_policy", c.CkptSavePolicy, ckptSavePolicies, false)
	ch.intRange("epoch_size", c.EpochSize, 1, MaxEpochs)
	ch.floatRange("ema_decay", c.EmaDecay, 0, false, 1, false)
	ch.floatMin("clip_value", c.ClipValue, 0, true)
	ch.floatRange("layer_decay", c.LayerDecay, 0, false, 1, false)
	ch.intRange("gradient_accumulation_steps", c.GradientAccumulationSteps, 1, maxAccumulation)

	// Optimizer.
	ch.oneOf("opt", c.Opt, optNames, true)
	ch.floatRange("momentum", c.Momentum, 0, false, 1, true)
	ch.floatMin("weight_decay", c.WeightDecay, 0, false)
	ch.oneOf("weight_decay_filter", c.WeightDecayFilter, weightDecayFilters, false)
	ch.floatMin("eps", c.Eps, 0, false)

	// Schedule.
	ch.oneOf("scheduler", c.Scheduler, schedulerNames, false)
	ch.floatMin("lr", c.LR, 0, false)
	ch.floatMin("min_lr", c.MinLR, 0, false)
	ch.intRange("warmup_epochs", c.WarmupEpochs, 0, MaxEpochs)
	ch.floatRange("warmup_factor", c.WarmupFactor, 0, false, 1, false)
	ch.intRange("decay_epochs", c.DecayEpochs, 0, MaxEpochs)
	switch c.Scheduler {
	case "cosine_decay", "warmup_cosine_decay", "step_decay":
		if c.DecayEpochs < 1 {
			ch.fail("decay_epochs", c.DecayEpochs, "must be at least 1 with scheduler %s", c.Scheduler)
		}
	}
	ch.floatMin("decay_rate", c.DecayRate, 0, true)
	for i, m := range c.MultiStepDecayMilestones {
		if m < 0 || m > MaxEpochs || i > 0 && m < c.MultiStepDecayMilestones[i-1] {
			ch.fail("multi_step_decay_milestones", c.MultiStepDecayMilestones, "want increasing epochs, each from 0 to %d", MaxEpochs)
		}
	}
	ch.intRange("num_cycles", c.NumCycles, 1, MaxEpochs)
	ch.floatMin("cycle_decay", c.CycleDecay, 0, true)

	// Loss.
	ch.oneOf("loss", c.Loss, lossNames, true)
	ch.floatRange("label_smoothing", c.LabelSmoothing, 0, false, 1, true)
	ch.floatMin("aux_factor", c.AuxFactor, 0, false)
	ch.oneOf("reduction", c.Reduction, reductions, false)

	// Precision.
	ch.oneOf("amp_level", c.AmpLevel, ampLevels, false)
	ch.oneOf("val_amp_level", c.ValAmpLevel, ampLevels, false)
	ch.oneOf("loss_scale_type", c.LossScaleType, lossScaleTypes, false)
	ch.floatMin("loss_scale", c.LossScale, 0, true)

	// This project's keys.
	ch.intRange("threads", c.Threads, 0, MaxThreads)
	ch.oneOf("log_format", c.LogFormat, logFormats, false)
	if c.MetricsAddr != "" {
		if err := checkAddr(c.MetricsAddr); err != nil {
			ch.fail("metrics_addr", c.MetricsAddr, "%v", err)
		}
	}
	ch.intRange("trainable_stages", c.TrainableStages, 0, 4)
	if c.TrainableStages > 0 && !c.FreezeBackbone {
		ch.fail("trainable_stages", c.TrainableStages, "has an effect only with freeze_backbone True (without it every stage trains); set freeze_backbone True or trainable_stages 0")
	}
	ch.oneOf("pool_padding", c.PoolPadding, poolPaddings, false)
	ch.intRange("eval_batch_size", c.EvalBatchSize, 0, resnext.MaxBatchSize)
	ch.oneOf("jpeg_decoder", c.JPEGDecoder, jpegDecoders, true)
	ch.floatRange("bucket_cap_mb", c.BucketCapMB, 0, true, 1<<16, false)

	return ch.probs
}

// validReValue says whether s is a random-erasing fill: a number, three numbers or "random".
func validReValue(s string) bool {
	if strings.TrimSpace(s) == "random" {
		return true
	}
	parts := splitList(s)
	if len(parts) != 1 && len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		x, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// checkAddr checks a HOST:PORT address to listen on.
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want HOST:PORT, such as :9090 or 127.0.0.1:9090")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("the port must be a number from 0 to 65535")
	}
	return nil
}
