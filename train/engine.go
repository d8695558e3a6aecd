// Package train is the training engine: MindCV's training loop on any ops.Backend, with its
// optimizer, learning-rate schedule, loss scaling, gradient accumulation and clipping, EMA of the
// weights, validation while training, checkpoints that resume where they stopped, and metrics.
//
// A Trainer is built from a resolved configuration (train/config, MindCV's keys) and a backend:
//
//	t, err := train.New(train.Options{Config: cfg, Backend: b, Log: log})
//	...
//	defer t.Close()
//	summary, err := t.Run(ctx)
//
// Cancelling ctx (the commands do on SIGINT and SIGTERM) finishes the step under way, writes a
// checkpoint of the exact position and returns ErrInterrupted.
package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/data"
	"github.com/resnext/resnext/dist"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train/config"
	"github.com/resnext/resnext/train/lr"
	"github.com/resnext/resnext/train/metrics"
	"github.com/resnext/resnext/train/optim"
)

// ErrInterrupted is returned by Run when its context was cancelled: the run stopped between two
// steps and wrote a checkpoint it can resume from.
var ErrInterrupted = errors.New("training interrupted")

// Progress shows the steps of an epoch (a progress bar on a terminal). The Trainer calls Start at
// the beginning of each epoch (epoch 1-based, steps in it, steps already done), Step after each step
// with the steps done, Report with the mean loss of the last steps and the learning rate, and Done
// at the epoch's end. With a Progress the Trainer logs one line per epoch instead of one every
// log_interval steps.
type Progress interface {
	Start(epoch, epochs, steps, done int)
	Step(done int)
	Report(loss, lr float64)
	Done()
}

// Options are what a Trainer is built from.
type Options struct {
	// Config is the resolved configuration (MindCV's keys).
	Config config.Config
	// Backend runs the kernels.
	Backend ops.Backend
	// Log receives the run's log lines.
	Log *zap.Logger
	// Prom, when set, receives the Prometheus metrics.
	Prom *metrics.Prom
	// Progress, when set, shows each epoch's steps.
	Progress Progress
	// Finetune starts from the weights of Config.CkptPath with a new classifier for the data's
	// classes (resnext finetune) instead of resuming a run.
	Finetune bool
	// Comm, when it has more than one rank, makes the run data-parallel (distribute True): every
	// rank starts from rank 0's weights and training state, reads its own shard of the data, and
	// averages the gradients of each step with the others (in buckets of bucket_cap_mb started while
	// the backward pass goes on), keeping its own batch-norm statistics as MindSpore does. The
	// global batch is batch_size times the ranks. Only rank 0 writes checkpoints and metrics.jsonl;
	// validation is sharded too and its counts summed. The Trainer does not close Comm.
	Comm dist.Communicator
}

// Summary is what a finished run reports.
type Summary struct {
	// Epochs and Steps are the epochs and optimizer updates done in all, resumed ones included.
	Epochs, Steps int
	// Last is the final validation (zero Images when there was none), Best the best top-1 seen.
	Last, Best EvalResult
	// BestEpoch is the epoch of Best (1-based; 0 with no validation).
	BestEpoch int
	// Checkpoint is the path of the last checkpoint written.
	Checkpoint string
	// ImagesPerSecond is the training throughput of this process (steps only, not validation).
	ImagesPerSecond float64
	// StepsPerSecond is the optimizer updates per second of this process.
	StepsPerSecond float64
	// Skipped counts the unreadable images skipped.
	Skipped int64
	// Overflows counts the updates skipped for overflowing gradients.
	Overflows int
}

// Trainer runs MindCV's training loop. Build it with New, Run it once, then Close it.
type Trainer struct {
	cfg      config.Config
	b        ops.Backend
	log      *zap.Logger
	prom     *metrics.Prom
	bar      Progress
	finetune bool

	trainSet, valSet       data.Dataset
	trainLoader, valLoader *data.Loader
	classes                []string

	net    *resnext.Model
	loss   *nn.SoftmaxCrossEntropy
	opt    *optim.SGD
	scaler optim.LossScaler
	ema    *optim.EMA
	accum  *optim.Accumulator
	lrs    []float64

	stepsPerEpoch int // batches per epoch

	// The position: the steps done (MindSpore's global_step: batches, less those skipped for
	// overflow; the schedule's index), the epoch under way (0-based) and its batches done.
	globalStep, epoch, batch int
	overflows, skippedInARow int
	lastLoss                 float64 // the mean loss of the last interval, for the metrics of each step

	par *parallel // data parallelism; nil for one process

	ckpts   *checkpointPolicy // rank 0 only
	jsonl   *metrics.Writer   // rank 0 only
	lossSum ops.Tensor        // the sum of the losses of the steps since the last log line, on the device
	pool    nn.PoolPadding
}

// New builds everything a run needs: the data sets and loaders, the model (initialised from the
// seed, or from a checkpoint), the optimizer, the schedule and the loss scaler, and restores a run
// from Config.CkptPath when Config.ResumeOpt asks for it. Every configuration problem is reported
// here, before any work.
func New(o Options) (*Trainer, error) {
	cfg := o.Config
	t := &Trainer{cfg: cfg, b: o.Backend, log: o.Log, prom: o.Prom, bar: o.Progress, finetune: o.Finetune}
	if t.log == nil {
		t.log = zap.NewNop()
	}
	if err := checkSupported(cfg); err != nil {
		return nil, err
	}
	switch {
	case o.Comm != nil && o.Comm.Size() > 1:
		t.par = newParallel(t.b, o.Comm, cfg.BucketCapMB)
	case cfg.Distribute:
		t.log.Info("distribute True with no launcher around: this process trains as the only worker")
	}
	ok := false
	defer func() {
		if !ok {
			t.Close()
		}
	}()
	if err := t.openData(); err != nil {
		return nil, err
	}
	if err := t.buildModel(); err != nil {
		return nil, err
	}
	if err := t.buildOptimizer(); err != nil {
		return nil, err
	}
	if err := t.restore(); err != nil {
		return nil, err
	}
	if t.par != nil {
		if err := t.syncFromRank0(); err != nil {
			return nil, err
		}
		t.net.OnGrads(t.par.buckets.Ready)
	}
	if !t.leader() {
		ok = true
		return t, nil
	}
	if err := os.MkdirAll(cfg.CkptSaveDir, 0o755); err != nil {
		return nil, fmt.Errorf("ckpt_save_dir %s: %w", cfg.CkptSaveDir, err)
	}
	var err error
	if t.ckpts, err = newCheckpointPolicy(cfg); err != nil {
		return nil, err
	}
	metricsPath := filepath.Join(cfg.CkptSaveDir, "metrics.jsonl")
	if t.globalStep > 0 && !t.finetune {
		// A resumed run continues the curve from its checkpoint; what a killed run logged after
		// it is dropped.
		if err := metrics.Truncate(metricsPath, t.globalStep); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	} else if err := os.Remove(metricsPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if t.jsonl, err = metrics.Create(metricsPath); err != nil {
		return nil, err
	}
	ok = true
	return t, nil
}

// checkSupported rejects, by key, what MindCV allows and this engine does not do.
func checkSupported(cfg config.Config) error {
	var errs []string
	if cfg.Loss != "" && !strings.EqualFold(cfg.Loss, "ce") {
		errs = append(errs, fmt.Sprintf("loss %q: only CE (cross-entropy with label_smoothing) is implemented", cfg.Loss))
	}
	switch strings.ToLower(cfg.Opt) {
	case "momentum", "sgd", "nesterov":
	default:
		errs = append(errs, fmt.Sprintf("opt %q: only momentum (or nesterov) and sgd are implemented", cfg.Opt))
	}
	if cfg.LayerDecay > 0 {
		errs = append(errs, fmt.Sprintf("layer_decay %v: layer-wise learning-rate decay is not implemented; set 0", cfg.LayerDecay))
	}
	if cfg.DropRate > 0 || cfg.DropPathRate > 0 {
		errs = append(errs, fmt.Sprintf("drop_rate %v, drop_path_rate %v: ResNeXt has neither dropout nor drop path (MindCV's ResNet takes neither); set 0", cfg.DropRate, cfg.DropPathRate))
	}
	if cfg.DatasetDownload {
		errs = append(errs, "dataset_download True: nothing is downloaded; put the data in --data_dir (Debian's dataset-fashion-mnist has Fashion-MNIST) and set dataset_download False")
	}
	if cfg.Mixup > 0 || cfg.Cutmix > 0 {
		errs = append(errs, fmt.Sprintf("mixup %v, cutmix %v: mixing images is not implemented; set both to 0", cfg.Mixup, cfg.Cutmix))
	}
	switch strings.ToUpper(cfg.AmpLevel) {
	case "O0", "O2":
	default:
		errs = append(errs, fmt.Sprintf("amp_level %q: O0 (float32) and O2 (float16 but batch norm) are implemented", cfg.AmpLevel))
	}
	if cfg.Vflip > 0 {
		errs = append(errs, fmt.Sprintf("vflip %v: vertical flips are not implemented; set 0", cfg.Vflip))
	}
	if cfg.AugRepeats > 1 || cfg.AugSplits > 0 {
		errs = append(errs, fmt.Sprintf("aug_repeats %d, aug_splits %d: not implemented; set 0", cfg.AugRepeats, cfg.AugSplits))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// dataOptions are the data set options of split, with the train or the eval transform, from the
// configuration's keys.
func dataOptions(c config.Config, split string, train bool) data.Options {
	// MindCV's default mean and std are ImageNet's, for RGB; the grey MNIST-format sets keep their own
	// unless others are given.
	if d := config.Default(); strings.Contains(strings.ToLower(c.Dataset), "mnist") &&
		slices.Equal(c.Mean, d.Mean) && slices.Equal(c.Std, d.Std) {
		c.Mean, c.Std = nil, nil
	}
	return data.Options{
		Dataset: c.Dataset, DataDir: c.DataDir, Split: split, Train: train,
		ImageSize: c.ImageResize, Scale: pair(c.Scale), Ratio: pair(c.Ratio), HFlip: c.Hflip,
		ColorJitter: c.ColorJitter, Interpolation: c.Interpolation, CropPct: c.CropPct,
		Mean: c.Mean, Std: c.Std, AutoAugment: c.AutoAugment, REProb: c.ReProb,
		REScale: pair(c.ReScale), RERatio: pair(c.ReRatio), REValue: c.ReValue, REMaxAttempts: c.ReMaxAttempts,
		JPEGDecoder: c.JPEGDecoder, ExifOrientation: c.ExifOrientation,
	}
}

// setCompute makes net compute in float16 (amp_level O2) where the backend's kernels do, and says
// in the log that the CPU backend computes in float32.
func setCompute(b ops.Backend, net *resnext.Model, log *zap.Logger) error {
	if !ops.CanCompute(b, ops.Float16) {
		log.Info("amp_level O2: this backend computes in float32 (float16 compute is Ascend's); the loss scale still applies", zap.String("backend", b.Name()))
		return nil
	}
	if err := net.SetComputeType(ops.Float16); err != nil {
		return err
	}
	log.Info("amp_level O2: float16 compute, float32 batch norm and master weights")
	return nil
}

func pair(v []float64) [2]float64 {
	if len(v) != 2 {
		return [2]float64{}
	}
	return [2]float64{v[0], v[1]}
}

func (t *Trainer) openData() error {
	c := t.cfg
	var err error
	if t.trainSet, err = data.Open(dataOptions(c, c.TrainSplit, true)); err != nil {
		return err
	}
	t.classes = t.trainSet.Classes()
	logDecoder(t.log, t.trainSet)
	warn := skipWarner(t.log, t.prom)
	rank, size := t.shard()
	t.trainLoader, err = data.NewLoader(t.trainSet, data.LoaderOptions{
		BatchSize: c.BatchSize, Shuffle: c.Shuffle, DropRemainder: c.DropRemainder, Seed: uint64(c.Seed),
		NumSamples: c.NumSamples, Workers: c.NumParallelWorkers, OnSkip: warn, Buffers: batchBuffers(t.b),
		Rank: rank, Size: size,
	})
	if err != nil {
		return fmt.Errorf("training set: %w", err)
	}
	t.stepsPerEpoch = t.trainLoader.StepsPerEpoch()
	if c.ValWhileTrain {
		if t.valSet, err = data.Open(dataOptions(c, c.ValSplit, false)); err != nil {
			return fmt.Errorf("val_while_train: %w (or set --val_while_train False)", err)
		}
		if err := checkNotEmpty(t.valSet, c); err != nil {
			return fmt.Errorf("val_while_train: %w (or set --val_while_train False)", err)
		}
		if t.valLoader, err = newEvalLoader(t.valSet, data.LoaderOptions{BatchSize: t.evalBatch(), Workers: c.NumParallelWorkers,
			OnSkip: warn, Buffers: batchBuffers(t.b), Rank: rank, Size: size}); err != nil {
			return fmt.Errorf("validation set: %w", err)
		}
	}
	return nil
}

// evalBatch is the batch size of validation.
func (t *Trainer) evalBatch() int {
	if t.cfg.EvalBatchSize > 0 {
		return t.cfg.EvalBatchSize
	}
	return t.cfg.BatchSize
}

// logDecoder says which JPEG decoder an image folder uses.
func logDecoder(log *zap.Logger, ds data.Dataset) {
	if f, ok := ds.(interface{ JPEGDecoder() string }); ok {
		log.Info("JPEG decoding", zap.String("decoder", f.JPEGDecoder()))
	}
}

// skipWarner is the loaders' OnSkip: a warning naming the unreadable image, and the Prometheus
// count when prom is set.
func skipWarner(log *zap.Logger, prom *metrics.Prom) func(string, error) {
	return func(name string, err error) {
		log.Warn("unreadable image skipped", zap.String("file", name), zap.Error(err))
		if prom != nil {
			prom.Skipped(1)
		}
	}
}

// newEvalLoader is a loader that gives every image of ds once, in order: o's batch size, workers,
// buffers and shard (uneven: the ranks' shares add up to the set), with neither shuffling nor
// dropping.
func newEvalLoader(ds data.Dataset, o data.LoaderOptions) (*data.Loader, error) {
	o.Shuffle, o.DropRemainder, o.NumSamples, o.Uneven = false, false, 0, true
	return data.NewLoader(ds, o)
}

// shard is this process's rank and the number of ranks (0 and 1 for one process).
func (t *Trainer) shard() (rank, size int) {
	if t.par == nil {
		return 0, 1
	}
	return t.par.comm.Rank(), t.par.comm.Size()
}

// leader reports whether this process writes the run's files: checkpoints and metrics (rank 0).
func (t *Trainer) leader() bool {
	rank, _ := t.shard()
	return rank == 0
}

// syncFromRank0 gives every rank rank 0's weights, batch-norm statistics, optimizer state, loss
// scale, EMA and position, so that the ranks start equal whatever each read (only rank 0 needs to
// see the checkpoint a restarted run resumes from).
func (t *Trainer) syncFromRank0() error {
	var ts []ops.Tensor
	for _, p := range t.net.Params() {
		ts = append(ts, p.Value)
	}
	if err := t.par.broadcast("the weights", ts); err != nil {
		return err
	}
	_, moments := t.opt.Moments()
	if err := t.par.broadcast("the optimizer's state", moments); err != nil {
		return err
	}
	emaUpdates := 0
	if t.ema != nil {
		_, avg := t.ema.Tensors()
		if err := t.par.broadcast("the weights' average (ema)", avg); err != nil {
			return err
		}
		emaUpdates = t.ema.Updates()
	}
	st := t.scaler.State()
	if err := t.par.broadcastInts("the position", []*int{&t.globalStep, &t.epoch, &t.batch, &st.GoodSteps, &emaUpdates}); err != nil {
		return err
	}
	if err := t.par.broadcastFloat("the loss scale", &st.Scale); err != nil {
		return err
	}
	t.scaler.SetState(st)
	if t.ema != nil {
		t.ema.SetUpdates(emaUpdates)
	}
	return nil
}

// numClasses is num_classes, or the data's when it is 0; data with more classes than the model
// has outputs is an error.
func numClasses(cfg config.Config, classes []string) (int, error) {
	n := cfg.NumClasses
	if n == 0 {
		return len(classes), nil
	}
	if len(classes) > n {
		return 0, fmt.Errorf("num_classes %d: the data has %d classes (%s, ...): give --num_classes %d",
			n, len(classes), strings.Join(classes[:min(3, len(classes))], ", "), len(classes))
	}
	return n, nil
}

// modelConfig is the configuration of model for the data set ds: its channels, and num_classes
// outputs (the data's classes when 0).
func modelConfig(cfg config.Config, ds data.Dataset) (resnext.Config, error) {
	mc, err := resnext.Variant(cfg.Model)
	if err != nil {
		return mc, fmt.Errorf("model: %w", err)
	}
	mc.InChannels, _, _ = ds.Shape()
	mc.NumClasses, err = numClasses(cfg, ds.Classes())
	return mc, err
}

func (t *Trainer) buildModel() error {
	c := t.cfg
	if t.finetune {
		c.NumClasses = 0 // the classifier follows the data
	}
	mc, err := modelConfig(c, t.trainSet)
	if err != nil {
		return err
	}
	if err := t.checkTrainBatches(mc); err != nil {
		return err
	}
	if mc.NumClasses != len(t.classes) {
		t.log.Warn("num_classes differs from the data's classes", zap.Int("num_classes", mc.NumClasses), zap.Int("data_classes", len(t.classes)))
	}
	if t.net, err = resnext.New(t.b, mc, uint64(c.Seed)); err != nil {
		return err
	}
	// Without a checkpoint (yet: restore and loadPretrained follow theirs), MindCV's padding unless
	// pool_padding says otherwise.
	if err := t.setPoolPadding(ckpt.New()); err != nil {
		return err
	}
	if strings.EqualFold(c.AmpLevel, "O2") {
		if err := setCompute(t.b, t.net, t.log); err != nil {
			return err
		}
	}
	trainable, total := t.net.NumParams()
	t.log.Info("model", zap.String("model", mc.Name), zap.Int("classes", mc.NumClasses), zap.Int("in_channels", mc.InChannels),
		zap.Int("trainable_params", trainable), zap.Int("params", total))
	if t.finetune {
		return t.loadPretrained()
	}
	if c.Pretrained && c.CkptPath == "" {
		return errors.New("pretrained True: weights are not downloaded; give the file with --ckpt_path (MindCV .ckpt, torchvision .pth or .safetensors)")
	}
	t.loss = nn.NewSoftmaxCrossEntropy(t.b, c.LabelSmoothing)
	return nil
}

// checkTrainBatches refuses, before any step, a training batch on which batch norm would have one
// value per channel (MindSpore refuses it too): a batch_size below the model's minimum for
// image_resize, or, with drop_remainder False, an epoch's last batch that small. Only tiny images
// (a last stage of 1x1) need two images in a batch; a frozen backbone trains no batch norm.
func (t *Trainer) checkTrainBatches(mc resnext.Config) error {
	c := t.cfg
	if t.finetune && c.FreezeBackbone && c.TrainableStages == 0 {
		return nil
	}
	n, f := mc.MinTrainBatch(c.ImageResize), mc.FeatureSize(c.ImageResize)
	if c.BatchSize < n {
		return fmt.Errorf("batch_size %d with image_resize %d: want at least %d: %s's last stage is %dx%d, and batch norm in training needs two values per channel",
			c.BatchSize, c.ImageResize, n, mc.Name, f, f)
	}
	if last := t.trainLoader.Len() % c.BatchSize; !c.DropRemainder && last > 0 && last < n {
		return fmt.Errorf("drop_remainder False: the epoch's last batch has %d image (%d per worker, batch_size %d), and at image_resize %d %s's last stage is %dx%d: batch norm in training needs two values per channel; set drop_remainder True or another batch_size",
			last, t.trainLoader.Len(), c.BatchSize, c.ImageResize, mc.Name, f, f)
	}
	return nil
}

// loadPretrained loads the weights of ckpt_path into the model but for the classifier, which
// stays new (initialised from the seed) for the data's classes, and freezes what
// freeze_backbone and trainable_stages ask.
func (t *Trainer) loadPretrained() error {
	c := t.cfg
	if c.CkptPath == "" {
		return errors.New("finetune needs pretrained weights: give --ckpt_path (MindCV .ckpt, torchvision .pth or .safetensors)")
	}
	ck, err := ckpt.Read(c.CkptPath)
	if err != nil {
		return err
	}
	if err := t.setPoolPadding(ck); err != nil {
		return err
	}
	rep, err := ckpt.Load(t.net.Params(), t.b, ck, ckpt.LoadOptions{SkipPrefixes: []string{"classifier."}})
	if err != nil {
		return fmt.Errorf("--ckpt_path: %w", err)
	}
	t.log.Info("pretrained weights loaded; the classifier is new", zap.String("ckpt", c.CkptPath), zap.String("names", rep.Naming.String()),
		zap.Int("tensors", len(rep.Loaded)), zap.Int("classes", len(t.classes)), zap.Strings("skipped", rep.Unused))
	if c.FreezeBackbone {
		if err := t.net.Freeze(c.TrainableStages); err != nil {
			return err
		}
		trainable, _ := t.net.NumParams()
		t.log.Info("backbone frozen (its batch norms in evaluation mode)", zap.Int("trainable_stages", c.TrainableStages),
			zap.Int("trainable_params", trainable))
	}
	t.loss = nn.NewSoftmaxCrossEntropy(t.b, c.LabelSmoothing)
	return nil
}

// setPoolPadding sets the ImageNet stem's max-pool padding as pool_padding says, following the
// checkpoint ck's weights when it says auto (ckpt.Checkpoint.ChoosePoolPadding).
func (t *Trainer) setPoolPadding(ck *ckpt.Checkpoint) error {
	if t.net.Config().Stem != resnext.ImageNetStem {
		return nil
	}
	choice, err := ck.ChoosePoolPadding(t.cfg.PoolPadding, "pool_padding")
	if err != nil {
		return err
	}
	if err := t.net.SetMaxPoolPadding(choice.Style); err != nil {
		return err
	}
	t.pool = choice.Style
	if choice.Source != ckpt.FromDefault {
		t.log.Info("max-pool padding", zap.String("padding", choice.Reason))
	}
	return nil
}

func (t *Trainer) buildOptimizer() error {
	c := t.cfg
	var err error
	t.opt, err = optim.New(t.b, t.net.Params(), optim.Options{
		Opt: c.Opt, Momentum: c.Momentum, WeightDecay: c.WeightDecay, Nesterov: c.UseNesterov, WeightDecayFilter: c.WeightDecayFilter,
	})
	if err != nil {
		return err
	}
	if t.scaler, err = optim.NewLossScaler(c.LossScaleType, c.LossScale, c.DropOverflowUpdate); err != nil {
		return err
	}
	t.lrs, err = lr.Build(lr.Schedule{
		Scheduler: c.Scheduler, LR: c.LR, MinLR: c.MinLR, WarmupEpochs: c.WarmupEpochs, WarmupFactor: c.WarmupFactor,
		DecayEpochs: c.DecayEpochs, DecayRate: c.DecayRate, Milestones: c.MultiStepDecayMilestones, NumEpochs: c.EpochSize,
		LREpochStair: c.LREpochStair, NumCycles: c.NumCycles, CycleDecay: c.CycleDecay,
	}, t.stepsPerEpoch)
	if err != nil {
		return err
	}
	if c.Ema {
		t.ema = optim.NewEMA(t.b, t.net.Params(), c.EmaDecay)
	}
	if c.GradientAccumulationSteps > 1 {
		t.accum = optim.NewAccumulator(t.b, t.net.Params())
	}
	t.lossSum = t.b.Alloc(ops.Float32, ops.Shape{})
	t.b.Fill(t.lossSum, 0)
	return nil
}

// Model returns the network being trained.
func (t *Trainer) Model() *resnext.Model { return t.net }

// Classes returns the class names of the training data.
func (t *Trainer) Classes() []string { return t.classes }

// Close releases everything the Trainer holds.
func (t *Trainer) Close() {
	if t.par != nil {
		if t.net != nil {
			t.net.OnGrads(nil)
		}
		t.par.free()
	}
	if t.jsonl != nil {
		t.jsonl.Close()
	}
	for _, l := range []*data.Loader{t.trainLoader, t.valLoader} {
		if l != nil {
			l.Close()
		}
	}
	if t.accum != nil {
		t.accum.Free()
	}
	if t.ema != nil {
		t.ema.Free()
	}
	if t.opt != nil {
		t.opt.Free()
	}
	if t.loss != nil {
		t.loss.Free()
	}
	if t.lossSum != nil {
		t.b.Free(t.lossSum)
	}
	if t.net != nil {
		t.net.Free()
	}
	*t = Trainer{}
}

// checkpointName is MindCV's file name of a checkpoint: {model}-{epoch}_{batch}.ckpt, the epoch
// 1-based and the batch the number of batches done in it.
func checkpointName(model string, epoch, batch int) string {
	return fmt.Sprintf("%s-%d_%d.ckpt", model, epoch, batch)
}

// classNamesJSON is the class names as the checkpoint metadata records them.
func classNamesJSON(classes []string) string {
	b, _ := json.Marshal(classes)
	return string(b)
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// since is the seconds elapsed since start.
func since(start time.Time) float64 { return time.Since(start).Seconds() }
