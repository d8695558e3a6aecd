package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resnext/resnext/configs"
	"github.com/resnext/resnext/dist"
	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/tcp"
	"github.com/resnext/resnext/ops/ascend"
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
ckpt_save_dir/metrics.jsonl (resnext plot draws them) and, with --metrics_addr, to Prometheus.

--distribute True under a launcher (resnext msrun, torchrun, Slurm's srun) trains with the job's
other workers: each reads its shard of the data and gradients are averaged over the workers (HCCL
on Ascend, a TCP ring on the CPU); the global batch is batch_size times the workers, and only rank 0
writes checkpoints and metrics. A job restarted after a failure resumes from the newest checkpoint
in ckpt_save_dir.`

func newTrainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train [-c CONFIG.yaml] [--key value ...]",
		Short: "Train a ResNeXt with MindCV's recipe and configs",
		Long:  trainLong,
		Example: `  resnext train
  resnext train -c configs/cpu/fashion_mnist.yaml --data_dir /usr/share/datasets/fashion-mnist
  resnext train --config configs/resnext/resnext50_32x4d_ascend.yaml --data_dir /path/to/imagenet --distribute False
  resnext msrun --worker_num 8 resnext train --config configs/resnext/resnext50_32x4d_ascend.yaml --data_dir /path/to/imagenet --distribute True
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

// configBase is the built-in configuration (a file of configs/) a command starts from without -c.
func configBase(command string) string {
	if command == "finetune" {
		return "finetune/resnext50_32x4d_finetune.yaml"
	}
	return "cpu/fashion_mnist.yaml"
}

func runTrainCmd(cmd *cobra.Command, finetune bool) error {
	cfg, rep, err := resolveConfig(cmd, configBase(cmd.Name()))
	if err != nil {
		return err
	}
	env, err := launch.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	return logged(cfg.LogFormat, func(log *zap.Logger) error {
		parallel := cfg.Distribute && env.Size > 1
		if parallel {
			log = log.With(zap.Int("rank", env.Rank))
		}
		logConfig(log, rep)
		switch {
		case parallel:
			log.Info("data-parallel training", zap.Int("ranks", env.Size), zap.String("launcher", env.Launcher),
				zap.String("scheduler", env.Addr()), zap.Int("device_id", env.DeviceID), zap.Int("restart", env.Restart),
				zap.Int("global_batch", cfg.BatchSize*env.Size))
		case env.Size > 1:
			log.Warn("the launcher started several workers but distribute is False: this one trains alone, on all the data; give --distribute True to train together",
				zap.Int("workers", env.Size), zap.Int("rank", env.Rank))
		}
		if env.Restart > 0 {
			if cfg, err = resumeAfterRestart(cfg, env, parallel, finetune, log); err != nil {
				return err
			}
		}
		threads := cfg.Threads
		if parallel && threads == 0 {
			threads = env.Threads(runtime.NumCPU())
		}
		b, err := openDeviceWith(cfg.DeviceTarget, threads, ascend.Options{Device: env.DeviceID}, log)
		if err != nil {
			return err
		}
		defer b.Close()
		if err := checkRunMemory(b, cfg, true); err != nil {
			return err
		}
		if cfg.AmpLevel == "O2" && b.Name() == "cpu" {
			log.Info("amp_level O2 computes in float16 on Ascend; the CPU backend computes in float32 (the loss scale still applies)")
		}
		// The first SIGINT or SIGTERM stops the run after the step under way, with a checkpoint; a
		// second one ends the process at once, leaving no temporary file.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		go func() {
			<-ctx.Done()
			removeTempsOnSignal()
			stop()
		}()
		var comm dist.Communicator
		if parallel {
			start := time.Now()
			if comm, err = dist.Join(ctx, b, env, tcp.Options{}); err != nil {
				return err
			}
			defer comm.Close()
			log.Info("the ranks met", zap.String("via", dist.Transport(b)), zap.Duration("took", time.Since(start).Round(time.Millisecond)))
		}
		var prom *metrics.Prom
		if cfg.MetricsAddr != "" && env.Rank == 0 {
			prom = metrics.NewProm()
			srv, err := prom.Serve(cfg.MetricsAddr)
			if err != nil {
				return err
			}
			defer srv.Close()
			log.Info("serving Prometheus metrics", zap.String("addr", "http://"+srv.Addr()+"/metrics"))
		}
		var bar train.Progress
		if env.Rank == 0 { // the other ranks of a job launched on a terminal (srun --pty) log lines
			bar = newProgress()
		}
		t, err := train.New(train.Options{Config: cfg, Backend: b, Log: log, Prom: prom, Progress: bar, Finetune: finetune, Comm: comm})
		if err != nil {
			return err
		}
		defer t.Close()
		sum, err := t.Run(ctx)
		if errors.Is(err, train.ErrInterrupted) {
			return exitError{code: 130, err: err}
		}
		if err != nil {
			return err
		}
		if sum.BestEpoch > 0 && env.Rank == 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "test top-1 %.2f%%, top-5 %.2f%% after %d epochs (best %.2f%% at epoch %d); checkpoint %s\n",
				100*sum.Last.Top1, 100*sum.Last.Top5, sum.Epochs, 100*sum.Best.Top1, sum.BestEpoch, sum.Checkpoint)
		}
		return nil
	})
}

// resumeAfterRestart points a restarted job (env.Restart > 0: resnext msrun --max_restarts, torchrun,
// a requeued Slurm job) at the newest checkpoint in ckpt_save_dir. Rank 0 reads it; the other ranks
// of a data-parallel run take everything from rank 0, so they need not see its disk. A job that
// failed before its first checkpoint starts again as its command line says; fine-tuning starts again
// from the pretrained weights.
func resumeAfterRestart(cfg config.Config, env launch.Env, parallel, finetune bool, log *zap.Logger) (config.Config, error) {
	if finetune {
		log.Warn("restarted: fine-tuning starts again from the pretrained weights", zap.Int("restart", env.Restart))
		return cfg, nil
	}
	if parallel && env.Rank != 0 {
		log.Info("restarted: rank 0 resumes from the latest checkpoint and this rank takes its state", zap.Int("restart", env.Restart))
		cfg.CkptPath, cfg.ResumeOpt = "", false
		return cfg, nil
	}
	path, err := train.LatestCheckpoint(cfg.CkptSaveDir, cfg.Model)
	if err != nil {
		return cfg, err
	}
	if path == "" {
		log.Warn("restarted, but ckpt_save_dir holds no checkpoint yet: training starts as the command line says",
			zap.Int("restart", env.Restart), zap.String("ckpt_save_dir", cfg.CkptSaveDir))
		return cfg, nil
	}
	log.Info("restarted: resuming from the latest checkpoint", zap.Int("restart", env.Restart), zap.String("ckpt", path))
	cfg.CkptPath, cfg.ResumeOpt = path, true
	return cfg, nil
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
