package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// DefaultGracePeriod is how long Run waits after SIGTERM before it sends SIGKILL.
const DefaultGracePeriod = 10 * time.Second

// Options configure Run. DefaultOptions gives msrun's defaults; in a zero Options, MasterAddr, MasterPort,
// ClusterTimeout and GracePeriod take their defaults too, but WorkerNum, LocalWorkerNum and NodeRank are
// taken as given.
type Options struct {
	// WorkerNum is the number of workers in the job (msrun's --worker_num, 8); LocalWorkerNum the number
	// started on this node (--local_worker_num, 8).
	WorkerNum, LocalWorkerNum int
	// MasterAddr and MasterPort locate the scheduler (--master_addr 127.0.0.1, --master_port 8118).
	MasterAddr string
	MasterPort int
	// NodeRank is this node's index (--node_rank); -1 means 0 when the job fits on one node
	// (WorkerNum == LocalWorkerNum), and is an error otherwise.
	NodeRank int
	// LogDir receives worker_<rank>.log (--log_dir); "" is the current directory.
	LogDir string
	// Join makes the first worker to fail stop the others at once (--join). Without it Run waits for
	// every worker and reports every failure.
	Join bool
	// ClusterTimeout is passed to the workers as MS_TOPO_TIMEOUT, in seconds (--cluster_time_out, 600 s;
	// negative: forever).
	ClusterTimeout time.Duration
	// BindCore pins each worker to its share of the cores (--bind_core; Linux only).
	BindCore bool
	// MaxRestarts is how many times the local workers are all stopped and started again after a failure
	// (0: never). The worker command resumes from its latest checkpoint itself; RESNEXT_RESTART tells it
	// which attempt it is.
	MaxRestarts int
	// GracePeriod is how long a worker's process group has between SIGTERM and SIGKILL (10 s).
	GracePeriod time.Duration
	// Command is the worker's argv; Command[0] is looked up in PATH.
	Command []string
	// StartScheduler, when not nil, is called on the master node (node rank 0) before the workers start,
	// with MasterAddr:MasterPort; Run closes what it returns when it ends. The scheduler lives across
	// restarts.
	StartScheduler func(addr string) (io.Closer, error)
	// Log receives the launcher's own lines; nil discards them.
	Log *zap.Logger
}

// DefaultOptions returns msrun's defaults, without a command.
func DefaultOptions() Options {
	return Options{
		WorkerNum: 8, LocalWorkerNum: 8,
		MasterAddr: DefaultMasterAddr, MasterPort: DefaultMasterPort,
		NodeRank:       -1,
		ClusterTimeout: DefaultClusterTimeout,
		GracePeriod:    DefaultGracePeriod,
	}
}

// resolved is a checked Options with its defaults filled in.
type resolved struct {
	Options
	path string // Command[0] found in PATH
}

func (o Options) resolve() (resolved, error) {
	if o.MasterAddr == "" {
		o.MasterAddr = DefaultMasterAddr
	}
	if o.MasterPort == 0 {
		o.MasterPort = DefaultMasterPort
	}
	if o.ClusterTimeout == 0 {
		o.ClusterTimeout = DefaultClusterTimeout
	}
	if o.GracePeriod == 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	switch {
	case o.WorkerNum < 1:
		return resolved{}, fmt.Errorf("msrun: --worker_num must be >= 1, got %d", o.WorkerNum)
	case o.LocalWorkerNum < 1 || o.LocalWorkerNum > o.WorkerNum:
		return resolved{}, fmt.Errorf("msrun: --local_worker_num must be in 1..%d (--worker_num), got %d", o.WorkerNum, o.LocalWorkerNum)
	case o.MasterPort < 1 || o.MasterPort > 65535:
		return resolved{}, fmt.Errorf("msrun: --master_port must be in 1..65535, got %d", o.MasterPort)
	case o.MaxRestarts < 0:
		return resolved{}, fmt.Errorf("msrun: --max_restarts must be >= 0, got %d", o.MaxRestarts)
	case o.GracePeriod < 0:
		return resolved{}, fmt.Errorf("msrun: the grace period must be >= 0, got %v", o.GracePeriod)
	case o.NodeRank < -1:
		return resolved{}, fmt.Errorf("msrun: --node_rank must be >= 0 (or -1 on a single node), got %d", o.NodeRank)
	}
	if o.NodeRank == -1 {
		if o.WorkerNum != o.LocalWorkerNum {
			return resolved{}, fmt.Errorf("msrun: --worker_num %d spans several nodes of --local_worker_num %d: give each node's launcher its --node_rank (0 on the master)",
				o.WorkerNum, o.LocalWorkerNum)
		}
		o.NodeRank = 0
	}
	if (o.NodeRank+1)*o.LocalWorkerNum > o.WorkerNum {
		return resolved{}, fmt.Errorf("msrun: --node_rank %d with --local_worker_num %d would start ranks %d..%d, beyond --worker_num %d (the job needs --worker_num = --local_worker_num * nodes)",
			o.NodeRank, o.LocalWorkerNum, o.NodeRank*o.LocalWorkerNum, (o.NodeRank+1)*o.LocalWorkerNum-1, o.WorkerNum)
	}
	if len(o.Command) == 0 || o.Command[0] == "" {
		return resolved{}, errors.New("msrun: no worker command given: put it after the flags, e.g. msrun --worker_num 2 -- resnext train -c config.yaml")
	}
	path, err := exec.LookPath(o.Command[0])
	if err != nil {
		return resolved{}, fmt.Errorf("msrun: command %q not found: %w", o.Command[0], err)
	}
	if o.BindCore {
		if err := canBindCore(); err != nil {
			return resolved{}, fmt.Errorf("msrun: --bind_core: %w", err)
		}
	}
	return resolved{Options: o, path: path}, nil
}

// workerEnv is what Run adds to worker i's environment for the given attempt.
func (o resolved) workerEnv(i, attempt int) []string {
	rank := o.NodeRank*o.LocalWorkerNum + i
	timeout := int(o.ClusterTimeout / time.Second)
	if o.ClusterTimeout < 0 {
		timeout = -1
	}
	return []string{
		fmt.Sprintf("RANK_ID=%d", rank),
		fmt.Sprintf("RANK_SIZE=%d", o.WorkerNum),
		fmt.Sprintf("MS_WORKER_NUM=%d", o.WorkerNum),
		fmt.Sprintf("%s=%d", EnvLocalWorker, o.LocalWorkerNum),
		"MS_SCHED_HOST=" + o.MasterAddr,
		fmt.Sprintf("MS_SCHED_PORT=%d", o.MasterPort),
		"MS_ROLE=MS_WORKER",
		fmt.Sprintf("MS_TOPO_TIMEOUT=%d", timeout),
		fmt.Sprintf("LOCAL_RANK=%d", i),
		fmt.Sprintf("DEVICE_ID=%d", i),
		fmt.Sprintf("%s=%d", EnvRestart, attempt),
		fmt.Sprintf("%s=%d", EnvBoundCores, boolInt(o.BindCore)),
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// coreRange is the share of the cores worker i of local gets with --bind_core, as msrun computes it:
// avg = ncpu/local (at least 1) cores from avg*i, counted in the launcher's own allowed cores (wrapping
// around when there are more workers than cores).
func coreRange(allowed []int, i, local int) []int {
	if len(allowed) == 0 {
		return nil
	}
	avg := max(len(allowed)/local, 1)
	out := make([]int, avg)
	for k := range avg {
		out[k] = allowed[(avg*i+k)%len(allowed)]
	}
	return out
}

// Failure is one worker's failure: a non-zero exit status or a signal.
type Failure struct {
	Rank int
	// ExitCode is the status the worker exited with, or -1 when a signal killed it.
	ExitCode int
	// Signal is the signal that killed it, 0 when it exited.
	Signal syscall.Signal
	// Log is the worker's log file, Tail its last lines from the failed attempt.
	Log  string
	Tail []string
}

// What says how the worker ended: "exited with status 2", "was killed by SIGSEGV".
func (f Failure) What() string {
	if f.Signal != 0 {
		return "was killed by " + signalName(f.Signal)
	}
	return fmt.Sprintf("exited with status %d", f.ExitCode)
}

// Error is Run's error when workers failed: every failure of the last attempt, the first one first.
type Error struct {
	Failures []Failure
	// Attempts is how many times the workers were started (1 + the restarts made).
	Attempts int
}

func (e *Error) Error() string {
	var b strings.Builder
	f := e.Failures[0]
	fmt.Fprintf(&b, "msrun: rank %d %s", f.Rank, f.What())
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (gave up after %d attempts)", e.Attempts)
	}
	if len(e.Failures) > 1 {
		b.WriteString("; also")
		for k, g := range e.Failures[1:] {
			if k > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " rank %d %s", g.Rank, g.What())
		}
	}
	if len(f.Tail) == 0 {
		fmt.Fprintf(&b, "; its log %s is empty", f.Log)
	} else {
		fmt.Fprintf(&b, "; the last %d lines of %s:", len(f.Tail), f.Log)
		for _, l := range f.Tail {
			b.WriteString("\n    ")
			b.WriteString(l)
		}
	}
	return b.String()
}

// ExitCode is a status for the launcher to exit with: the first failed worker's, or 128+signal.
func (e *Error) ExitCode() int {
	f := e.Failures[0]
	if f.Signal != 0 {
		return 128 + int(f.Signal)
	}
	if f.ExitCode > 0 && f.ExitCode < 256 {
		return f.ExitCode
	}
	return 1
}

// Run starts o.LocalWorkerNum workers on this node, each running o.Command with msrun's environment (and
// RESNEXT_RESTART), its stdout and stderr appended to LogDir/worker_<rank>.log, in its own process group, and
// waits for them. It returns nil when every worker exits 0, else an *Error naming the first failed rank, how
// it ended and the last lines of its log. When ctx is cancelled, or Run returns, every process group still
// holding a process gets SIGTERM, then SIGKILL after o.GracePeriod.
func Run(ctx context.Context, o Options) error {
	r, err := o.resolve()
	if err != nil {
		return err
	}
	return run(ctx, r)
}
