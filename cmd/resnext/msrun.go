package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/rendezvous"
	"github.com/resnext/resnext/train/config"
)

// wordBool is a boolean flag written as MindSpore's launchers write it, with a word: --join True,
// --bind_core=False.
type wordBool struct{ v *bool }

func (b wordBool) Set(s string) error {
	v, err := config.ParseBool(s)
	if err != nil {
		return err
	}
	*b.v = v
	return nil
}

func (b wordBool) String() string {
	if b.v != nil && *b.v {
		return "True"
	}
	return "False"
}

func (b wordBool) Type() string { return "bool" }

func newMsrunCmd() *cobra.Command {
	o := launch.DefaultOptions()
	var clusterTimeout int
	var grace time.Duration
	logFormat := "console"
	cmd := &cobra.Command{
		Use:   "msrun [flags] COMMAND [ARGS...]",
		Short: "Start the workers of a data-parallel job on this node, as MindSpore's msrun does",
		Long: `msrun starts --local_worker_num workers of a job of --worker_num, each running COMMAND (resnext or
any executable) with msrun's environment: RANK_ID (node_rank * local_worker_num + i), RANK_SIZE,
MS_WORKER_NUM, MS_SCHED_HOST, MS_SCHED_PORT, MS_ROLE=MS_WORKER and MS_TOPO_TIMEOUT, plus DEVICE_ID and
LOCAL_RANK. On the master node (node rank 0) it runs the scheduler the workers meet through, on
--master_addr:--master_port. Each worker's output goes to worker_<rank>.log in --log_dir.

--join True stops the other workers as soon as one fails (SIGTERM, then SIGKILL after a grace period)
and exits non-zero naming the rank, how it ended and the end of its log; Ctrl-C stops every worker.
--bind_core True pins each worker to its share of the cores. --max_restarts N starts the workers
again after a failure, up to N times, each attempt resuming from the latest checkpoint (as
torchrun's elastic mode does). Several nodes: one msrun per node, each with its --node_rank and the
master node's --master_addr.`,
		Example: `  resnext msrun --bind_core=True --worker_num 8 resnext train -c configs/resnext/resnext50_32x4d_ascend.yaml --data_dir /path/to/imagenet --distribute True
  resnext msrun --worker_num 2 --local_worker_num 2 --join True --log_dir logs resnext train -c configs/cpu/fashion_mnist.yaml --data_dir /usr/share/datasets/fashion-mnist --distribute True`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Command = args
			o.ClusterTimeout = time.Duration(clusterTimeout) * time.Second
			if grace > 0 {
				o.GracePeriod = grace
			}
			return logged(logFormat, func(log *zap.Logger) error {
				o.Log = log
				o.StartScheduler = func(addr string) (io.Closer, error) {
					s, err := rendezvous.Listen(addr)
					if err != nil {
						return nil, fmt.Errorf("starting the scheduler on %s (--master_addr, --master_port): %w", addr, err)
					}
					log.Info("scheduler", zap.String("addr", s.Addr()))
					return s, nil
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				err := launch.Run(ctx, o)
				var le *launch.Error
				if errors.As(err, &le) {
					return exitError{code: le.ExitCode(), err: err}
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // everything after COMMAND is the command's
	f.IntVar(&o.WorkerNum, "worker_num", o.WorkerNum, "workers in the whole job")
	f.IntVar(&o.LocalWorkerNum, "local_worker_num", o.LocalWorkerNum, "workers started on this node")
	f.StringVar(&o.MasterAddr, "master_addr", o.MasterAddr, "the scheduler's host (the master node)")
	f.IntVar(&o.MasterPort, "master_port", o.MasterPort, "the scheduler's port")
	f.IntVar(&o.NodeRank, "node_rank", o.NodeRank, "this node's index (-1: 0 when the job fits on one node)")
	f.StringVar(&o.LogDir, "log_dir", o.LogDir, "where worker_<rank>.log go (empty: the current directory)")
	f.Var(wordBool{&o.Join}, "join", "stop every worker as soon as one fails, and exit naming it (True or False)")
	f.IntVar(&clusterTimeout, "cluster_time_out", int(o.ClusterTimeout/time.Second), "seconds the workers wait for each other to meet (negative: forever)")
	f.Var(wordBool{&o.BindCore}, "bind_core", "pin each worker to its share of the cores (True or False)")
	f.IntVar(&o.MaxRestarts, "max_restarts", 0, "start the workers again after a failure, up to this many times; each attempt resumes from the latest checkpoint")
	f.DurationVar(&grace, "grace_period", o.GracePeriod, "time a stopped worker has between SIGTERM and SIGKILL")
	f.StringVar(&logFormat, "log_format", logFormat, "log format of msrun's own lines: console or json")
	return cmd
}
