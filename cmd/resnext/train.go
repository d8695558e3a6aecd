package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resnext/resnext/configs"
	"github.com/resnext/resnext/train"
	"github.com/resnext/resnext/train/config"
	"github.com/resnext/resnext/train/metrics"
)

const trainLong = `train runs MindCV's training recipe: the same YAML files and keys as MindCV's train.py
(-c/--config), every key also a flag with MindCV's name (--data_dir, --batch_size, --lr, ...), the
command line over the file over the defaults. Booleans are written as MindCV writes them
(--distribute False) or as --distribute=false.

With no --config, train runs the newcomer's job: configs/cpu/fashion_mnist.yaml (built in), a small
ResNeXt on the Fashion-MNIST sample embedded in the binary, reporting test accuracy at the end in
about a minute. --data_dir /usr/share/datasets/fashion-mnist trains on the full set (Debian's
dataset-fashion-mnist package).

Checkpoints {model}-{epoch}_{step}.ckpt go to ckpt_save_dir as ckpt_save_policy says, holding the
optimizer's state as MindSpore does; --ckpt_path FILE --resume_opt True resumes a run where it
stopped. SIGINT and SIGTERM write a checkpoint of the exact position, then stop. Metrics go to
ckpt_save_dir/metrics.jsonl (resnext plot draws them) and, with --metrics_addr, to Prometheus.`

func newTrainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train [-c CONFIG.yaml] [--key value ...]",
		Short: "Train a ResNeXt with MindCV's recipe and configs",
		Long:  trainLong,
		Example: `  resnext train
  resnext train -c configs/cpu/fashion_mnist.yaml --data_dir /usr/share/datasets/fashion-mnist
  resnext train --config configs/resnext/resnext50_32x4d_ascend.yaml --data_dir /path/to/imagenet --distribute False
  resnext train -c configs/resnext/resnext50_32x4d_ascend.yaml --data_dir D --ckpt_path ckpt/resnext50_32x4d-10_1251.ckpt --resume_opt True`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrainCmd(cmd, false) },
	}
	config.Register(cmd.Flags())
	return cmd
}

const finetuneLong = `finetune adapts pretrained weights to a new set of classes on one device: it loads the
weights of --ckpt_path (a MindCV .ckpt, a torchvision/timm .pth or a .safetensors file; MindCV's
--pretrained True alongside is accepted), takes the classes from the ImageFolder in --data_dir
(train/ and val/, one folder per class), puts a new classifier on top (initialised from --seed),
and trains with the configuration's recipe. --freeze_backbone True trains the classifier alone
(the frozen batch norms stay in evaluation mode); --trainable_stages N also trains the last N of
layer1..layer4. The checkpoints record the class names, so predict prints them.

Without --config the fine-tuning defaults apply (configs/finetune/resnext50_32x4d_finetune.yaml:
lr 0.01, a short cosine schedule, MindCV's augmentation); any key can be set on the command line.`

func newFinetuneCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "finetune --ckpt_path WEIGHTS --data_dir FOLDER [--model NAME] [-c CONFIG.yaml] [--key value ...]",
		Short: "Fine-tune pretrained weights on an ImageFolder of your own classes",
		Long:  finetuneLong,
		Example: `  resnext finetune --model resnext50_32x4d --ckpt_path resnext50_32x4d.pth --data_dir flowers/ --device_target CPU
  resnext finetune -c configs/finetune/resnext50_32x4d_finetune.yaml --ckpt_path resnext50_32x4d.ckpt --data_dir D --freeze_backbone True`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrainCmd(cmd, true) },
	}
	config.Register(cmd.Flags())
	return cmd
}

// resolveConfig resolves the configuration of a command: the file -c names, else the built-in
// default of the command (base, a file of configs/).
func resolveConfig(cmd *cobra.Command, base string) (config.Config, *config.Report, error) {
	fs := cmd.Flags()
	if !fs.Changed("config") && base != "" {
		return config.ResolveWith(fs, base, configs.File(base))
	}
	return config.Resolve(fs)
}

func runTrainCmd(cmd *cobra.Command, finetune bool) error {
	base := "cpu/fashion_mnist.yaml"
	if finetune {
		base = "finetune/resnext50_32x4d_finetune.yaml"
	}
	cfg, rep, err := resolveConfig(cmd, base)
	if err != nil {
		return err
	}
	return logged(cfg.LogFormat, func(log *zap.Logger) error {
		logConfig(log, rep)
		b, err := openDevice(cfg.DeviceTarget, cfg.Threads, log)
		if err != nil {
			return err
		}
		defer b.Close()
		if cfg.AmpLevel == "O2" && b.Name() == "cpu" {
			log.Info("amp_level O2 computes in float16 on Ascend; the CPU backend computes in float32 (the loss scale still applies)")
		}
		var prom *metrics.Prom
		if cfg.MetricsAddr != "" {
			prom = metrics.NewProm()
			srv, err := prom.Serve(cfg.MetricsAddr)
			if err != nil {
				return err
			}
			defer srv.Close()
			log.Info("serving Prometheus metrics", zap.String("addr", "http://"+srv.Addr()+"/metrics"))
		}
		t, err := train.New(train.Options{Config: cfg, Backend: b, Log: log, Prom: prom, Progress: newProgress(), Finetune: finetune})
		if err != nil {
			return err
		}
		defer t.Close()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		sum, err := t.Run(ctx)
		if errors.Is(err, train.ErrInterrupted) {
			return exitError{code: 130, err: err}
		}
		if err != nil {
			return err
		}
		if sum.BestEpoch > 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "test top-1 %.2f%%, top-5 %.2f%% after %d epochs (best %.2f%% at epoch %d); checkpoint %s\n",
				100*sum.Last.Top1, 100*sum.Last.Top5, sum.Epochs, 100*sum.Best.Top1, sum.BestEpoch, sum.Checkpoint)
		}
		return nil
	})
}

// logConfig says once which file was read and which keys only MindSpore's graph mode uses.
func logConfig(log *zap.Logger, rep *config.Report) {
	if rep == nil {
		return
	}
	if rep.File != "" {
		log.Info("config", zap.String("file", rep.File))
	}
	if len(rep.Ignored) > 0 {
		log.Info("ignored: these keys only mean something to MindSpore's graph mode", zap.Strings("keys", rep.Ignored))
	}
}

// exitError ends the process with a status of its own (130 after an interrupted run).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
