package main

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train"
)

// loadedModel is a model built from a registered variant and a checkpoint's weights.
type loadedModel struct {
	*resnext.Model
	pool nn.PoolPadding
	// classes are the class names the checkpoint records (nil when it records none).
	classes []string
}

// loadModel reads the checkpoint at path, builds the variant named model with numClasses outputs
// (0: as many as the checkpoint's classifier has) and the max-pool padding poolFlag ("auto": what
// the checkpoint records or its names imply), and loads the weights.
func loadModel(b ops.Backend, log *zap.Logger, model, path string, numClasses int, poolFlag string) (*loadedModel, error) {
	cfg, err := resnext.Variant(model)
	if err != nil {
		return nil, fmt.Errorf("--model: %w", err)
	}
	c, err := ckpt.Read(path)
	if err != nil {
		return nil, err
	}
	if numClasses == 0 {
		if numClasses, err = classifierOutputs(c); err != nil {
			return nil, err
		}
		if numClasses < 1 || numClasses > resnext.MaxNumClasses {
			return nil, fmt.Errorf("ckpt %s: the classifier has %d outputs: want 1 to %d classes", path, numClasses, resnext.MaxNumClasses)
		}
	}
	cfg.NumClasses = numClasses
	choice, err := c.ChoosePoolPadding(poolFlag, "--pool_padding")
	if err != nil {
		return nil, err
	}
	cfg.MaxPool = choice.Style
	m, err := resnext.Build(b, cfg)
	if err != nil {
		return nil, err
	}
	rep, err := ckpt.Load(m.Params(), b, c, ckpt.LoadOptions{})
	if err != nil {
		m.Free()
		return nil, fmt.Errorf("--model %s: %w", cfg.Name, err)
	}
	m.SetTraining(false)
	fields := []zap.Field{zap.String("model", cfg.Name), zap.String("ckpt", path), zap.String("format", string(c.Format)),
		zap.String("names", rep.Naming.String()), zap.Int("tensors", len(rep.Loaded)), zap.Int("classes", numClasses)}
	if cfg.Stem == resnext.ImageNetStem {
		fields = append(fields, zap.String("pool_padding", choice.Reason))
	}
	for dt, n := range rep.Converted {
		fields = append(fields, zap.Int("converted_from_"+dt, n))
	}
	log.Info("weights loaded", fields...)
	classes, err := train.ClassNames(c)
	if err != nil {
		m.Free()
		return nil, err
	}
	return &loadedModel{Model: m, pool: choice.Style, classes: classes}, nil
}

// classifierOutputs is the number of classes of the checkpoint's classifier, under either naming.
func classifierOutputs(c *ckpt.Checkpoint) (int, error) {
	for _, name := range []string{"classifier.weight", "fc.weight"} {
		if t, ok := c.Tensor(name); ok && len(t.Shape) == 2 {
			return t.Shape[0], nil
		}
	}
	return 0, fmt.Errorf("ckpt %s: no classifier.weight (or fc.weight) [classes, features] to take the number of classes from: give --num_classes", c.Path)
}
