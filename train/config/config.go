// Package config is the one place that knows every configuration key of a training, fine-tuning or
// validation run: MindCV's keys (mindcv's config.py, every argument group) with MindCV's defaults,
// plus a few of this project's own.
//
// A run's configuration comes from four layers, each overriding the one before, key by key:
// the defaults (Default), the YAML file given by -c/--config (MindCV's flat files work unchanged),
// RESNEXT_<KEY> environment variables (RESNEXT_BATCH_SIZE=64) and the flags set on the command line
// (--batch_size 64). Resolve applies them and validates the result, reporting every problem at once.
//
// Booleans take a word, as MindCV's str2bool does: --distribute False, --val_while_train=true
// (True/False, true/false, 1/0, yes/no in any case). Lists are comma-separated on the command line
// and in the environment (--scale 0.08,1.0) and YAML lists in files.
//
// Keys that only mean something to MindSpore's graph mode or its runtime (mode, dataset_sink_mode,
// jit_level, amp_cast_list and the ModelArts keys) are accepted and type-checked so that MindCV's
// files load unchanged, then ignored; Resolve lists the ones a run sets in Report.Ignored.
package config

// Config holds every configuration key. Field names are the key in CamelCase (data_dir is DataDir,
// lr is LR); the struct tag `key` is the key's name in YAML files, flags and Values. Keys MindCV
// declares with a default of None take the zero value here, and their comment says what zero means.
type Config struct {
	// ---- System ----

	// Mode is MindSpore's execution mode, 0 for GRAPH_MODE and 1 for PYNATIVE_MODE. This project
	// runs kernels one by one and has no graph compiler: the key is accepted and ignored.
	Mode int `key:"mode" ignored:"true" help:"MindSpore's GRAPH_MODE (0) or PYNATIVE_MODE (1); ignored here"`
	// Distribute runs data-parallel training over every device of the job (msrun workers).
	Distribute bool `key:"distribute" help:"run data-parallel over all workers of the job"`
	// ValWhileTrain evaluates on the validation split during training.
	ValWhileTrain bool `key:"val_while_train" help:"evaluate on the validation split while training"`
	// ValInterval is the number of epochs between two evaluations while training.
	ValInterval int `key:"val_interval" help:"epochs between evaluations while training"`
	// LogInterval is the number of steps between two training log lines.
	LogInterval int `key:"log_interval" help:"steps between training log lines"`
	// Seed seeds every random generator of the run (initialisation, shuffling, augmentation).
	Seed int `key:"seed" help:"seed of every random generator of the run"`
	// DeviceTarget is where kernels run: Ascend, CPU or GPU (MindCV's names, any case), or this
	// project's auto (Ascend when a card is usable, else the CPU).
	DeviceTarget string `key:"device_target" help:"device to run on: Ascend, CPU, GPU or auto (Ascend when usable, else CPU)"`

	// ---- Dataset ----

	// Dataset is the kind of dataset: imagenet (an ImageFolder tree), fashion_mnist, mnist, ...
	Dataset string `key:"dataset" help:"type of dataset"`
	// DataDir is the dataset's root folder (holding the train and val splits).
	DataDir string `key:"data_dir" help:"path to the dataset"`
	// TrainSplit is the name of the training split (a sub-folder of DataDir for ImageFolder).
	TrainSplit string `key:"train_split" help:"name of the training split"`
	// ValSplit is the name of the validation split.
	ValSplit string `key:"val_split" help:"name of the validation split"`
	// DatasetDownload downloads the dataset into DataDir first (MindCV: MNIST, CIFAR-10/100 only).
	DatasetDownload bool `key:"dataset_download" help:"download the dataset first (MNIST, CIFAR-10 and CIFAR-100 only)"`
	// NumParallelWorkers is the number of workers decoding and augmenting images.
	NumParallelWorkers int `key:"num_parallel_workers" help:"number of data-loading workers"`
	// Shuffle shuffles the training data every epoch.
	Shuffle bool `key:"shuffle" help:"shuffle the training data"`
	// NumSamples is the number of samples to take from the dataset; 0 (MindCV's None) takes all.
	NumSamples int `key:"num_samples" null:"true" help:"number of samples to use (0: all)"`
	// BatchSize is the batch size per device; the global batch is BatchSize times the device count.
	BatchSize int `key:"batch_size" help:"batch size per device"`
	// DropRemainder drops the last incomplete batch of an epoch.
	DropRemainder bool `key:"drop_remainder" help:"drop the last incomplete batch"`

	// ---- Augmentation ----

	// ImageResize is the side of the square training crop and evaluation input.
	ImageResize int `key:"image_resize" help:"side of the image crop"`
	// Scale is the [min, max] area fraction of the random resized crop.
	Scale []float64 `key:"scale" help:"random resized crop: area fraction min,max"`
	// Ratio is the [min, max] aspect ratio of the random resized crop.
	Ratio []float64 `key:"ratio" help:"random resized crop: aspect ratio min,max"`
	// Hflip is the probability of a horizontal flip in training.
	Hflip float64 `key:"hflip" help:"probability of a horizontal flip"`
	// Vflip is the probability of a vertical flip in training.
	Vflip float64 `key:"vflip" help:"probability of a vertical flip"`
	// ColorJitter is the colour jitter: one factor for brightness, contrast and saturation, or
	// three (brightness, contrast, saturation) or four (and hue) values, as MindCV's files write
	// either 0.4 or [0.4, 0.4, 0.4].
	ColorJitter []float64 `key:"color_jitter" scalar:"true" help:"colour jitter: one factor, or brightness,contrast,saturation[,hue]"`
	// Interpolation is the resize interpolation: bilinear, bicubic, nearest, area, ... (any case).
	Interpolation string `key:"interpolation" help:"resize interpolation: bilinear, bicubic, nearest, area, ..."`
	// AutoAugment is the automatic augmentation policy (randaug-m9-mstd0.5, autoaug, augmix,
	// trivialaugwide, 3a, ...); "" (MindCV's None) applies none.
	AutoAugment string `key:"auto_augment" null:"true" help:"automatic augmentation policy, such as randaug-m9-mstd0.5 (empty: none)"`
	// AugSplits is the number of augmentation splits (JSD loss); 0 is off, and MindCV supports 3.
	AugSplits int `key:"aug_splits" help:"number of augmentation splits (0: off; MindCV supports 3)"`
	// ReProb is the probability of random erasing.
	ReProb float64 `key:"re_prob" help:"probability of random erasing"`
	// ReScale is the [min, max] area fraction of the erased region.
	ReScale []float64 `key:"re_scale" help:"random erasing: area fraction min,max"`
	// ReRatio is the [min, max] aspect ratio of the erased region.
	ReRatio []float64 `key:"re_ratio" help:"random erasing: aspect ratio min,max"`
	// ReValue fills the erased region: one number, three numbers (one per channel, comma-separated)
	// or "random".
	ReValue string `key:"re_value" text:"true" help:"random erasing fill: a number, r,g,b, or random"`
	// ReMaxAttempts is the number of tries to place an erased region.
	ReMaxAttempts int `key:"re_max_attempts" help:"random erasing: tries to place the region"`
	// Mean is the per-channel mean subtracted from pixels on the 0-255 scale.
	Mean []float64 `key:"mean" help:"per-channel mean on the 0-255 scale"`
	// Std is the per-channel standard deviation pixels are divided by, on the 0-255 scale.
	Std []float64 `key:"std" help:"per-channel standard deviation on the 0-255 scale"`
	// CropPct is the evaluation center crop's share of the resized image (resize to
	// ImageResize/CropPct, then crop ImageResize).
	CropPct float64 `key:"crop_pct" help:"evaluation center crop fraction"`
	// Mixup is mixup's beta-distribution parameter; 0 is off.
	Mixup float64 `key:"mixup" help:"mixup alpha (0: off)"`
	// Cutmix is cutmix's beta-distribution parameter; 0 is off.
	Cutmix float64 `key:"cutmix" help:"cutmix alpha (0: off)"`
	// CutmixProb is the probability of applying mixup or cutmix to a batch.
	CutmixProb float64 `key:"cutmix_prob" help:"probability of applying mixup or cutmix"`
	// AugRepeats is the number of repeated augmentations of each sample; 0 or 1 is off.
	AugRepeats int `key:"aug_repeats" help:"repeated augmentation count (0 or 1: off)"`

	// ---- Model ----

	// Model is the registered model name, such as resnext50_32x4d.
	Model string `key:"model" help:"model name, such as resnext50_32x4d"`
	// NumClasses is the number of classes; 0 (MindCV's None) takes it from the dataset.
	NumClasses int `key:"num_classes" null:"true" help:"number of classes (0: from the dataset)"`
	// InChannels is the number of input image channels.
	InChannels int `key:"in_channels" help:"number of input channels"`
	// DropRate is the dropout rate before the classifier; 0 (MindCV's None) is the model's default,
	// which for ResNeXt is no dropout.
	DropRate float64 `key:"drop_rate" null:"true" help:"dropout rate before the classifier (0: the model's default)"`
	// DropPathRate is the stochastic depth rate; 0 (MindCV's None) is the model's default, none for
	// ResNeXt.
	DropPathRate float64 `key:"drop_path_rate" null:"true" help:"drop path rate (0: the model's default)"`
	// Pretrained starts from the model's published pretrained weights.
	Pretrained bool `key:"pretrained" help:"start from the model's pretrained weights"`
	// CkptPath is a checkpoint to initialise the model from, or to resume from; "" starts afresh.
	CkptPath string `key:"ckpt_path" help:"checkpoint to initialise or resume from"`
	// ResumeOpt also restores the optimizer state (moments, learning rate, step) from CkptPath.
	ResumeOpt bool `key:"resume_opt" help:"resume the optimizer state too (moments, step, learning rate)"`
	// KeepCheckpointMax is the number of checkpoints kept in CkptSaveDir.
	KeepCheckpointMax int `key:"keep_checkpoint_max" help:"number of checkpoints to keep"`
	// CkptSaveDir is the folder checkpoints (and the run's logs) are written to.
	CkptSaveDir string `key:"ckpt_save_dir" help:"folder for checkpoints"`
	// CkptSaveInterval is the number of epochs between two checkpoints.
	CkptSaveInterval int `key:"ckpt_save_interval" help:"epochs between checkpoints"`
	// CkptSavePolicy chooses the checkpoints kept: latest_k (the newest) or top_k (the best by
	// validation accuracy); "" (MindCV's None, YAML null) keeps every checkpoint.
	CkptSavePolicy string `key:"ckpt_save_policy" null:"true" help:"checkpoints kept: latest_k or top_k"`
	// EpochSize is the number of training epochs.
	EpochSize int `key:"epoch_size" help:"number of training epochs"`
	// DatasetSinkMode is MindSpore's dataset sinking into the device graph. No meaning here: the
	// key is accepted and ignored.
	DatasetSinkMode bool `key:"dataset_sink_mode" ignored:"true" help:"MindSpore's dataset sink mode; ignored here"`
	// Ema keeps an exponential moving average of the weights for evaluation and checkpoints.
	Ema bool `key:"ema" help:"keep an exponential moving average of the weights"`
	// EmaDecay is the EMA's decay per step.
	EmaDecay float64 `key:"ema_decay" help:"EMA decay"`
	// ClipGrad clips gradients by global norm.
	ClipGrad bool `key:"clip_grad" help:"clip gradients by global norm"`
	// ClipValue is the global-norm bound of ClipGrad.
	ClipValue float64 `key:"clip_value" help:"global norm bound for clip_grad"`
	// LayerDecay is the layer-wise learning-rate decay; 0 (MindCV's None) is off.
	LayerDecay float64 `key:"layer_decay" null:"true" help:"layer-wise learning rate decay (0: off)"`
	// GradientAccumulationSteps is the number of batches whose gradients are summed per update.
	GradientAccumulationSteps int `key:"gradient_accumulation_steps" help:"batches accumulated per optimizer update"`

	// ---- Optimizer ----

	// Opt is the optimizer: sgd, momentum, nesterov, adam, adamw, lion, nadam, adan, rmsprop,
	// adagrad or lamb (MindCV's names, any case).
	Opt string `key:"opt" help:"optimizer: momentum, sgd, adam, adamw, lion, rmsprop, adagrad, lamb, nadam, ..."`
	// Momentum is the momentum of momentum SGD (and of rmsprop).
	Momentum float64 `key:"momentum" help:"momentum coefficient"`
	// WeightDecay is the L2 weight decay added to gradients.
	WeightDecay float64 `key:"weight_decay" help:"weight decay"`
	// UseNesterov selects Nesterov momentum.
	UseNesterov bool `key:"use_nesterov" help:"use Nesterov momentum"`
	// WeightDecayFilter chooses the parameters without weight decay: disable (none), auto or
	// norm_and_bias (batch-norm parameters and biases).
	WeightDecayFilter string `key:"weight_decay_filter" help:"parameters without weight decay: disable, auto or norm_and_bias"`
	// Eps is the term added to denominators by the adaptive optimizers.
	Eps float64 `key:"eps" help:"epsilon of the adaptive optimizers"`

	// ---- Learning-rate schedule ----

	// Scheduler is the learning-rate schedule: constant, cosine_decay, warmup_cosine_decay,
	// exponential_decay, polynomial_decay, step_decay, multi_step_decay, one_cycle or cyclic.
	Scheduler string `key:"scheduler" help:"learning rate schedule: cosine_decay, constant, step_decay, multi_step_decay, ..."`
	// LR is the peak learning rate (per the global batch this recipe was tuned for).
	LR float64 `key:"lr" help:"learning rate"`
	// MinLR is the learning rate the decaying schedules end at.
	MinLR float64 `key:"min_lr" help:"minimum learning rate of the decaying schedules"`
	// WarmupEpochs is the number of epochs of linear warm-up before the schedule.
	WarmupEpochs int `key:"warmup_epochs" help:"epochs of linear warm-up"`
	// WarmupFactor is the warm-up's starting fraction of LR.
	WarmupFactor float64 `key:"warmup_factor" help:"starting fraction of lr during warm-up"`
	// DecayEpochs is the length of the cosine decay, or the step of step_decay, in epochs.
	DecayEpochs int `key:"decay_epochs" help:"epochs of cosine decay (step of step_decay)"`
	// DecayRate is the factor of the step, multi-step and exponential schedules (the power of the
	// polynomial one).
	DecayRate float64 `key:"decay_rate" help:"decay factor of the step, multi-step and exponential schedules"`
	// MultiStepDecayMilestones are the epochs at which multi_step_decay multiplies the learning
	// rate by DecayRate, increasing.
	MultiStepDecayMilestones []int `key:"multi_step_decay_milestones" help:"epochs where multi_step_decay decays the learning rate"`
	// LREpochStair keeps the learning rate constant within an epoch (updated at each epoch's first
	// step) instead of every step.
	LREpochStair bool `key:"lr_epoch_stair" help:"update the learning rate once per epoch instead of every step"`
	// NumCycles is the number of cycles of cosine_decay and cyclic.
	NumCycles int `key:"num_cycles" help:"cycles of cosine_decay and cyclic"`
	// CycleDecay multiplies the peak learning rate at each new cosine cycle.
	CycleDecay float64 `key:"cycle_decay" help:"decay of the peak learning rate per cosine cycle"`

	// ---- Loss ----

	// Loss is the loss function: CE (cross-entropy) or BCE (binary cross-entropy), any case;
	// MindCV also knows asl_single_label, asl_multi_label and jsd.
	Loss string `key:"loss" help:"loss: CE or BCE"`
	// LabelSmoothing is the label-smoothing factor of the loss.
	LabelSmoothing float64 `key:"label_smoothing" help:"label smoothing factor"`
	// AuxFactor weighs the auxiliary classifier's loss (models with one; ResNeXt has none).
	AuxFactor float64 `key:"aux_factor" help:"auxiliary loss factor"`
	// Reduction is how per-sample losses are combined: mean, sum or none.
	Reduction string `key:"reduction" help:"loss reduction: mean, sum or none"`

	// ---- Mixed precision and loss scaling ----

	// AmpLevel is the training precision: O0 all float32; O1 listed ops in float16; O2 all but
	// batch norm in float16 with float32 master weights; O3 all float16.
	AmpLevel string `key:"amp_level" help:"training precision: O0, O1, O2 or O3"`
	// ValAmpLevel is the precision of evaluation, as AmpLevel.
	ValAmpLevel string `key:"val_amp_level" help:"evaluation precision: O0, O1, O2 or O3"`
	// AmpCastList lists MindSpore cell classes to cast (such as "[nn.Conv2d]"). It names
	// MindSpore's Python classes, which have no meaning here: accepted and ignored.
	AmpCastList string `key:"amp_cast_list" null:"true" ignored:"true" help:"MindSpore cells to cast to float16; ignored here"`
	// LossScaleType is the loss scaling: fixed, dynamic (lowered on overflow) or auto.
	LossScaleType string `key:"loss_scale_type" help:"loss scaling: fixed, dynamic or auto"`
	// LossScale is the loss scale (the initial one when dynamic).
	LossScale float64 `key:"loss_scale" help:"loss scale (initial value when dynamic)"`
	// DropOverflowUpdate skips the optimizer step when gradients overflow under fixed loss
	// scaling. (MindCV parses this flag with Python's bool(), which takes any word as True; here
	// it is a boolean like the others.)
	DropOverflowUpdate bool `key:"drop_overflow_update" help:"skip the update when gradients overflow"`
	// EvalShuffle shuffles the evaluation data. (MindCV parses it with Python's bool(); here it is
	// a boolean like the others.)
	EvalShuffle bool `key:"eval_shuffle" help:"shuffle the evaluation data"`

	// ---- MindSpore graph mode and ModelArts (accepted and ignored) ----

	// JitLevel is MindSpore's graph compilation level (jit_config jit_level O0, O1 or O2; MindCV's
	// train.py sets O2 in graph mode). No graph compiler here: accepted and ignored.
	JitLevel string `key:"jit_level" ignored:"true" help:"MindSpore's graph jit_level; ignored here"`
	// EnableModelarts ran the job on Huawei Cloud's ModelArts (older MindCV versions). Accepted
	// and ignored, as the four URL keys below: data and checkpoints are local paths here.
	EnableModelarts bool `key:"enable_modelarts" ignored:"true" help:"ModelArts platform (older MindCV); ignored here"`
	// MultiDataURL is a ModelArts multi-dataset path (older MindCV). Accepted and ignored.
	MultiDataURL string `key:"multi_data_url" ignored:"true" help:"ModelArts multi-dataset path; ignored here"`
	// DataURL is a ModelArts dataset path (older MindCV). Accepted and ignored.
	DataURL string `key:"data_url" ignored:"true" help:"ModelArts dataset path; ignored here"`
	// CkptURL is a ModelArts pretrained-model path (older MindCV). Accepted and ignored.
	CkptURL string `key:"ckpt_url" ignored:"true" help:"ModelArts pretrained model path; ignored here"`
	// TrainURL is a ModelArts output path (older MindCV). Accepted and ignored.
	TrainURL string `key:"train_url" ignored:"true" help:"ModelArts output path; ignored here"`

	// ---- This project's own keys ----

	// Threads is the number of CPU kernel threads; 0 uses all cores.
	Threads int `key:"threads" help:"CPU kernel threads (0: all cores)"`
	// LogFormat is the log encoding: console or json.
	LogFormat string `key:"log_format" help:"log format: console or json"`
	// MetricsAddr is the HOST:PORT to serve Prometheus metrics on; "" serves none.
	MetricsAddr string `key:"metrics_addr" help:"HOST:PORT to serve Prometheus metrics on (empty: off)"`
	// FreezeBackbone (fine-tuning) trains only the classifier, with the backbone's batch norms in
	// evaluation mode.
	FreezeBackbone bool `key:"freeze_backbone" help:"fine-tuning: train only the classifier (batch norm in evaluation mode)"`
	// TrainableStages (fine-tuning with FreezeBackbone) also trains the last N of layer1..layer4,
	// 0 to 4.
	TrainableStages int `key:"trainable_stages" help:"fine-tuning with freeze_backbone: also train the last N stages (0-4)"`
	// PoolPadding is the stem max pool's padding: same (MindCV's), symmetric (torchvision's) or
	// auto (as the checkpoint records or its names imply; same for a new model).
	PoolPadding string `key:"pool_padding" help:"stem max-pool padding: auto, same (MindCV) or symmetric (torchvision)"`
	// EvalBatchSize is the evaluation batch size per device; 0 uses BatchSize.
	EvalBatchSize int `key:"eval_batch_size" help:"evaluation batch size per device (0: batch_size)"`
	// JPEGDecoder chooses the image folders' JPEG decoder: auto (libjpeg-turbo when installed,
	// else the Go decoder), libjpeg-turbo (required) or go.
	JPEGDecoder string `key:"jpeg_decoder" help:"JPEG decoder: auto (libjpeg-turbo when installed, else Go), libjpeg-turbo or go"`
	// ExifOrientation turns JPEGs upright by their EXIF orientation tag (MindSpore's decoder
	// ignores the tag, so MindCV's recipe does).
	ExifOrientation bool `key:"exif_orientation" help:"turn JPEGs upright by their EXIF orientation tag (MindCV ignores it)"`
	// BucketCapMB bounds the gradient buckets of data-parallel training, in MiB (PyTorch DDP's
	// bucket_cap_mb): a bucket is averaged over the ranks as soon as its gradients are computed,
	// while the backward pass goes on.
	BucketCapMB float64 `key:"bucket_cap_mb" help:"distribute: MiB of gradients averaged at a time while backward goes on"`
}

// Default returns MindCV's defaults (config.py's create_parser) and this project's.
func Default() Config {
	return Config{
		Mode:          0,
		Distribute:    false,
		ValWhileTrain: false,
		ValInterval:   1,
		LogInterval:   100,
		Seed:          42,
		DeviceTarget:  "Ascend",

		Dataset:            "imagenet",
		DataDir:            "./",
		TrainSplit:         "train",
		ValSplit:           "val",
		DatasetDownload:    false,
		NumParallelWorkers: 8,
		Shuffle:            true,
		NumSamples:         0,
		BatchSize:          128,
		DropRemainder:      true,

		ImageResize:   224,
		Scale:         []float64{0.08, 1.0},
		Ratio:         []float64{0.75, 1.333},
		Hflip:         0.5,
		Vflip:         0.0,
		ColorJitter:   []float64{0.4},
		Interpolation: "bilinear",
		AutoAugment:   "",
		AugSplits:     0,
		ReProb:        0.0,
		ReScale:       []float64{0.02, 0.33},
		ReRatio:       []float64{0.3, 3.3},
		ReValue:       "0",
		ReMaxAttempts: 10,
		Mean:          []float64{123.675, 116.28, 103.53},
		Std:           []float64{58.395, 57.12, 57.375},
		CropPct:       0.875,
		Mixup:         0.0,
		Cutmix:        0.0,
		CutmixProb:    1.0,
		AugRepeats:    0,

		Model:                     "mobilenet_v2_035_224",
		NumClasses:                0,
		InChannels:                3,
		DropRate:                  0,
		DropPathRate:              0,
		Pretrained:                false,
		CkptPath:                  "",
		ResumeOpt:                 false,
		KeepCheckpointMax:         10,
		CkptSaveDir:               "./ckpt",
		CkptSaveInterval:          1,
		CkptSavePolicy:            "latest_k",
		EpochSize:                 90,
		DatasetSinkMode:           true,
		Ema:                       false,
		EmaDecay:                  0.9999,
		ClipGrad:                  false,
		ClipValue:                 15.0,
		LayerDecay:                0,
		GradientAccumulationSteps: 1,

		Opt:               "adam",
		Momentum:          0.9,
		WeightDecay:       1e-6,
		UseNesterov:       false,
		WeightDecayFilter: "disable",
		Eps:               1e-10,

		Scheduler:                "cosine_decay",
		LR:                       0.001,
		MinLR:                    1e-6,
		WarmupEpochs:             3,
		WarmupFactor:             0.0,
		DecayEpochs:              100,
		DecayRate:                0.9,
		MultiStepDecayMilestones: []int{30, 60, 90},
		LREpochStair:             false,
		NumCycles:                1,
		CycleDecay:               1.0,

		Loss:           "CE",
		LabelSmoothing: 0.0,
		AuxFactor:      0.0,
		Reduction:      "mean",

		AmpLevel:           "O0",
		ValAmpLevel:        "O0",
		AmpCastList:        "",
		LossScaleType:      "fixed",
		LossScale:          1.0,
		DropOverflowUpdate: false,
		EvalShuffle:        false,

		JitLevel:        "O2",
		EnableModelarts: false,
		MultiDataURL:    "/cache/data/",
		DataURL:         "/cache/data/",
		CkptURL:         "/cache/output/",
		TrainURL:        "/cache/output/",

		Threads:         0,
		LogFormat:       "console",
		MetricsAddr:     "",
		FreezeBackbone:  false,
		TrainableStages: 0,
		PoolPadding:     "auto",
		EvalBatchSize:   0,
		JPEGDecoder:     "auto",
		BucketCapMB:     25, // dist.DefaultBucketCapMB
	}
}

// Keys returns every configuration key, sorted.
func Keys() []string {
	keys := make([]string, 0, len(fieldTable().sorted))
	for _, f := range fieldTable().sorted {
		keys = append(keys, f.key)
	}
	return keys
}

// Values returns every key with its value: an int, float64, string, bool, []float64 or []int (the
// slices are copies). It is meant for logging the effective configuration.
func (c Config) Values() map[string]any {
	m := make(map[string]any, len(fieldTable().fields))
	for _, f := range fieldTable().fields {
		m[f.key] = f.get(&c)
	}
	return m
}
