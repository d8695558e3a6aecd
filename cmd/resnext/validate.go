package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resnext/resnext/train"
	"github.com/resnext/resnext/train/config"
)

func newValidateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate [-c CONFIG.yaml] --ckpt_path FILE [--key value ...]",
		Short: "Measure a checkpoint's top-1, top-5 and loss on a validation set (MindCV's validate.py)",
		Long: `validate loads the weights of --ckpt_path into --model and evaluates them on the val_split of
--data_dir with MindCV's evaluation transform (resize the shorter side to image_resize/crop_pct,
centre crop, normalise), reporting top-1 and top-5 accuracy and the mean cross-entropy. It takes
MindCV's configs and flags, as train does. As MindCV's validate.py, when the number of images is not
a multiple of batch_size, the batch size is lowered to the largest divisor, so every batch is full.
With no --config, the Fashion-MNIST recipe's data and model apply (configs/cpu/fashion_mnist.yaml).`,
		Example: `  resnext validate -c configs/resnext/resnext50_32x4d_ascend.yaml --data_dir /path/to/imagenet --ckpt_path resnext50_32x4d.ckpt
  resnext validate -c configs/cpu/fashion_mnist.yaml --data_dir /usr/share/datasets/fashion-mnist --ckpt_path runs/fashion_mnist/resnext14_small-10_937.ckpt --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, rep, err := resolveConfig(cmd, configBase(cmd.Name()))
			if err != nil {
				return err
			}
			return logged(cfg.LogFormat, func(log *zap.Logger) error {
				logConfig(log, rep)
				res, err := runValidate(cfg, log)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "top-1 %.4f%%  top-5 %.4f%%  loss %.6f  images %d\n", 100*res.Top1, 100*res.Top5, res.Loss, res.Images)
				return nil
			})
		},
	}
	config.Register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON object (top1, top5, loss, images)")
	return cmd
}

func runValidate(cfg config.Config, log *zap.Logger) (train.EvalResult, error) {
	if cfg.CkptPath == "" {
		return train.EvalResult{}, fmt.Errorf("validate needs the weights: give --ckpt_path")
	}
	b, err := openDevice(cfg.DeviceTarget, cfg.Threads, log)
	if err != nil {
		return train.EvalResult{}, err
	}
	defer b.Close()
	if err := checkRunMemory(b, cfg, false); err != nil {
		return train.EvalResult{}, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return train.Validate(ctx, train.Options{Config: cfg, Backend: b, Log: log})
}
