package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resnext/resnext/data"
	"github.com/resnext/resnext/data/fashionmnist"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train"
)

// demoOptions are the flags of `resnext demo`.
type demoOptions struct {
	model                                     string
	epochs, batchSize, trainSize, logInterval int
	lr, momentum, weightDecay, smoothing      float64
	seed                                      uint64
	dataDir, logFormat                        string
	device                                    deviceOptions
}

func newDemoCmd() *cobra.Command {
	o := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Train a small ResNeXt on Fashion-MNIST (embedded sample)",
		Long: `demo trains a small ResNeXt (resnext14_small: MindCV's bottleneck blocks with grouped 3x3
convolutions, a 3x3 stem for 28x28 images), then reports validation accuracy. It runs where
--device_target says: by default on Ascend when a card is usable, else on the CPU.

With no --data_dir it uses the Fashion-MNIST sample embedded in the binary (2000 training and 500
validation images). --data_dir reads the full set in MNIST format, such as Debian's
dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist).

The optimizer is MindCV's: momentum SGD with weight decay on every parameter, a cosine learning-rate
decay per step, and cross-entropy with label smoothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return logged(o.logFormat, func(log *zap.Logger) error {
				_, err := runDemo(o, log)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "resnext14_small", "model to train: a small-image variant (resnext14_small, resnext26_small)")
	f.IntVar(&o.epochs, "epochs", 2, "passes over the training set")
	f.IntVar(&o.batchSize, "batch_size", 32, "images per step (the last partial batch is dropped)")
	f.Float64Var(&o.lr, "lr", 0.1, "peak learning rate, decayed to 0 by a cosine over all steps")
	f.Float64Var(&o.momentum, "momentum", 0.9, "SGD momentum")
	f.Float64Var(&o.weightDecay, "weight_decay", 1e-4, "L2 weight decay added to every gradient")
	f.Float64Var(&o.smoothing, "label_smoothing", 0.1, "label smoothing of the cross-entropy loss")
	o.device.register(f)
	f.Uint64Var(&o.seed, "seed", 42, "seed of the initialisation and the shuffling")
	f.StringVar(&o.dataDir, "data_dir", "", "MNIST-format Fashion-MNIST directory (default: the embedded sample)")
	f.IntVar(&o.trainSize, "train_size", 0, "use only the first N training images (0: all)")
	f.IntVar(&o.logInterval, "log_interval", 10, "steps between loss reports")
	f.StringVar(&o.logFormat, "log_format", "console", "log format: console or json")
	return cmd
}

// demoResult is what a demo run measured.
type demoResult struct {
	steps              int
	firstLoss, endLoss float64 // mean loss of the first and of the last logged interval
	valAccuracy        float64
	imagesPerSecond    float64
}

// batcher turns images into normalised float32 batches on a backend.
type batcher struct {
	b         ops.Backend
	set       *data.Images
	mean, std float32
	x, labels ops.Tensor
	hostX     []float32
	hostL     []int32
}

func newBatcher(b ops.Backend, set *data.Images, batch int) *batcher {
	return &batcher{
		b: b, set: set, mean: fashionmnist.Mean, std: fashionmnist.Std,
		x:      b.Alloc(ops.Float32, ops.Shape{batch, set.C, set.H, set.W}),
		labels: b.Alloc(ops.Int32, ops.Shape{batch}),
		hostX:  make([]float32, batch*set.C*set.H*set.W),
		hostL:  make([]int32, batch),
	}
}

// load fills the batch with the images at the given indices.
func (bt *batcher) load(idx []int) {
	per := bt.set.C * bt.set.H * bt.set.W
	for i, j := range idx {
		for k, p := range bt.set.Image(j) {
			bt.hostX[i*per+k] = (float32(p) - bt.mean) / bt.std
		}
		bt.hostL[i] = bt.set.Labels[j]
	}
	bt.b.Write(bt.x, ops.Bytes(bt.hostX))
	bt.b.Write(bt.labels, ops.Bytes(bt.hostL))
}

func (bt *batcher) free() {
	bt.b.Free(bt.x)
	bt.b.Free(bt.labels)
}

func loadDemoData(dir string) (trainSet, val *data.Images, err error) {
	load := fashionmnist.Sample
	if dir != "" {
		load = func(split string) (*data.Images, error) { return fashionmnist.Load(dir, split) }
	}
	if trainSet, err = load("train"); err != nil {
		return nil, nil, err
	}
	if val, err = load("val"); err != nil {
		return nil, nil, err
	}
	return trainSet, val, nil
}

func runDemo(o demoOptions, log *zap.Logger) (demoResult, error) {
	var res demoResult
	if o.epochs <= 0 || o.batchSize <= 0 || o.logInterval <= 0 || o.trainSize < 0 {
		return res, fmt.Errorf("--epochs %d, --batch_size %d, --log_interval %d and --train_size %d: want positive values (train_size 0 for all)",
			o.epochs, o.batchSize, o.logInterval, o.trainSize)
	}
	trainSet, val, err := loadDemoData(o.dataDir)
	if err != nil {
		return res, err
	}
	n := trainSet.N
	if o.trainSize > 0 {
		n = min(n, o.trainSize)
	}
	stepsPerEpoch := n / o.batchSize
	if stepsPerEpoch == 0 {
		return res, fmt.Errorf("--batch_size %d is larger than the %d training images", o.batchSize, n)
	}

	b, err := o.device.open(log)
	if err != nil {
		return res, err
	}
	defer b.Close()
	cfg, err := resnext.Variant(o.model)
	if err != nil {
		return res, err
	}
	if cfg.InChannels != trainSet.C || cfg.NumClasses != len(fashionmnist.Classes) {
		return res, fmt.Errorf("--model %s takes %d-channel images into %d classes: Fashion-MNIST needs 1 and 10 (try resnext14_small or resnext26_small)",
			o.model, cfg.InChannels, cfg.NumClasses)
	}
	net, err := resnext.New(b, cfg, o.seed)
	if err != nil {
		return res, err
	}
	defer net.Free()
	loss := nn.NewSoftmaxCrossEntropy(b, o.smoothing)
	defer loss.Free()
	opt, err := train.NewSGD(b, net.Params(), train.SGDOptions{Momentum: o.momentum, WeightDecay: o.weightDecay})
	if err != nil {
		return res, err
	}
	defer opt.Free()
	bt := newBatcher(b, trainSet, o.batchSize)
	defer bt.free()

	trainable, _ := net.NumParams()
	log.Info("demo", zap.String("model", cfg.Name), zap.String("device", b.Device()), zap.Int("train_images", n), zap.Int("val_images", val.N),
		zap.Int("epochs", o.epochs), zap.Int("batch_size", o.batchSize), zap.Int("steps_per_epoch", stepsPerEpoch),
		zap.Int("parameters", trainable))

	rng := rand.New(rand.NewPCG(o.seed, 1))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	total := o.epochs * stepsPerEpoch
	start := time.Now()
	var sum float64
	for epoch := range o.epochs {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for s := range stepsPerEpoch {
			step := epoch*stepsPerEpoch + s
			bt.load(order[s*o.batchSize : (s+1)*o.batchSize])
			l := loss.Forward(net.Forward(bt.x), bt.labels)
			net.Backward(loss.Backward(1))
			lr := cosineLR(o.lr, step, total)
			opt.Step(lr)
			v, err := ops.ToFloat32(b, l)
			if err != nil {
				return res, err
			}
			if math.IsNaN(float64(v[0])) || math.IsInf(float64(v[0]), 0) {
				return res, fmt.Errorf("step %d: the loss is %v: lower --lr (now %g)", step+1, v[0], o.lr)
			}
			sum += float64(v[0])
			if (step+1)%o.logInterval == 0 || step+1 == total {
				k := (step % o.logInterval) + 1
				mean := sum / float64(k)
				if res.firstLoss == 0 {
					res.firstLoss = mean
				}
				res.endLoss, sum = mean, 0
				log.Info("train", zap.Int("epoch", epoch+1), zap.Int("step", step+1), zap.Int("steps", total),
					zap.Float64("loss", round4(mean)), zap.Float64("lr", round4(lr)))
			}
		}
	}
	elapsed := time.Since(start)
	res.steps = total
	res.imagesPerSecond = float64(total*o.batchSize) / elapsed.Seconds()

	acc, err := evaluate(b, net, val, o.batchSize)
	if err != nil {
		return res, err
	}
	res.valAccuracy = acc
	log.Info("done", zap.Float64("val_top1", round4(acc)), zap.Duration("train_time", elapsed.Round(time.Millisecond)),
		zap.Float64("img_per_s", math.Round(res.imagesPerSecond)))
	return res, nil
}

// evaluate returns the top-1 accuracy of net on set, in evaluation mode (moving BN statistics).
func evaluate(b ops.Backend, net nn.Layer, set *data.Images, batch int) (float64, error) {
	net.SetTraining(false)
	defer net.SetTraining(true)
	correct := 0
	for lo := 0; lo < set.N; lo += batch {
		hi := min(lo+batch, set.N)
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		bt := newBatcher(b, set, hi-lo)
		bt.load(idx)
		logits, err := ops.ToFloat32(b, net.Forward(bt.x))
		bt.free()
		if err != nil {
			return 0, err
		}
		classes := len(logits) / len(idx)
		for i, j := range idx {
			if argmax(logits[i*classes:(i+1)*classes]) == int(set.Labels[j]) {
				correct++
			}
		}
	}
	return float64(correct) / float64(set.N), nil
}

// cosineLR is MindCV's cosine_decay with min_lr 0, per step: lr/2 * (1 + cos(pi * step/total)).
func cosineLR(lr float64, step, total int) float64 {
	return 0.5 * lr * (1 + math.Cos(math.Pi*float64(step)/float64(total)))
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
