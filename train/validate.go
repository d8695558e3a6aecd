package train

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/data"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train/config"
)

// Validate is MindCV's validate.py: the weights of Config.CkptPath in Config.Model, evaluated on
// Config.ValSplit of the data with the evaluation transform. As validate.py, a batch size that
// does not divide the number of images is lowered to its largest divisor that does.
func Validate(ctx context.Context, o Options) (EvalResult, error) {
	cfg, b, log := o.Config, o.Backend, o.Log
	if log == nil {
		log = zap.NewNop()
	}
	ds, err := data.Open(dataOptions(cfg, cfg.ValSplit, false))
	if err != nil {
		return EvalResult{}, err
	}
	if err := checkNotEmpty(ds, cfg); err != nil {
		return EvalResult{}, err
	}
	batch := EvalBatchSize(ds.Len(), cfg.BatchSize)
	if batch != cfg.BatchSize {
		log.Info("batch size lowered to divide the number of images", zap.Int("batch_size", batch), zap.Int("images", ds.Len()))
	}
	logDecoder(log, ds)
	loader, err := newEvalLoader(ds, data.LoaderOptions{BatchSize: batch, Workers: cfg.NumParallelWorkers, OnSkip: skipWarner(log, nil), Buffers: batchBuffers(b)})
	if err != nil {
		return EvalResult{}, err
	}
	defer loader.Close()
	ck, err := ckpt.Read(cfg.CkptPath)
	if err != nil {
		return EvalResult{}, err
	}
	mc, err := modelConfig(cfg, ds)
	if err != nil {
		return EvalResult{}, err
	}
	choice, err := ck.ChoosePoolPadding(cfg.PoolPadding, "pool_padding")
	if err != nil {
		return EvalResult{}, err
	}
	mc.MaxPool = choice.Style
	net, err := resnext.Build(b, mc)
	if err != nil {
		return EvalResult{}, err
	}
	defer net.Free()
	if strings.EqualFold(cfg.ValAmpLevel, "O2") {
		if err := setCompute(b, net, log); err != nil {
			return EvalResult{}, err
		}
	}
	rep, err := ckpt.Load(net.Params(), b, ck, ckpt.LoadOptions{})
	if err != nil {
		return EvalResult{}, fmt.Errorf("--ckpt_path: %w", err)
	}
	log.Info("validating", zap.String("model", mc.Name), zap.String("ckpt", cfg.CkptPath), zap.String("names", rep.Naming.String()),
		zap.Int("images", ds.Len()), zap.Int("classes", mc.NumClasses), zap.Int("batch_size", batch), zap.String("device", b.Device()))
	res, err := Evaluate(ctx, b, net, ds, loader)
	if err != nil {
		return res, err
	}
	if n := loader.Skipped(); n > 0 {
		log.Warn("unreadable images were skipped and replaced", zap.Int64("skipped", n))
	}
	log.Info("validation", zap.Float64("top1", round4(res.Top1)), zap.Float64("top5", round4(res.Top5)),
		zap.Float64("loss", round4(res.Loss)), zap.Int("images", res.Images))
	return res, nil
}

// EvalBatchSize is the batch size MindCV's validate.py uses for n images asked to go by batch: batch
// when it divides n, else the largest divisor of n below it (50,000 images at 32 go by 25).
func EvalBatchSize(n, batch int) int {
	if n <= 0 || batch <= 0 {
		return batch
	}
	for d := min(batch, n); d > 1; d-- {
		if n%d == 0 {
			return d
		}
	}
	return 1
}

// checkNotEmpty refuses a validation split without images, naming it: an evaluation over none
// would report a top-1 of NaN.
func checkNotEmpty(ds data.Dataset, cfg config.Config) error {
	if ds.Len() > 0 {
		return nil
	}
	return fmt.Errorf("val_split %q of %s (data_dir %q) holds no images: nothing to evaluate", cfg.ValSplit, cfg.Dataset, cfg.DataDir)
}
