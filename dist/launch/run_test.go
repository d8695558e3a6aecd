//go:build linux

package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The test binary is also the worker: "launchtestworker ACT0 ACT1 ..." runs the action of its LOCAL_RANK
// (the last one for the ranks beyond).
const workerArg = "launchtestworker"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == workerArg {
		os.Exit(testWorker(os.Args[2:]))
	}
	os.Exit(m.Run())
}

var workerVars = []string{"RANK_ID", "RANK_SIZE", "MS_WORKER_NUM", "MS_LOCAL_WORKER", "MS_SCHED_HOST", "MS_SCHED_PORT",
	"MS_ROLE", "MS_TOPO_TIMEOUT", "LOCAL_RANK", "DEVICE_ID", "RESNEXT_RESTART", "RESNEXT_BIND_CORE", "LAUNCH_TEST_INHERITED"}

func testWorker(acts []string) int {
	local, _ := strconv.Atoi(os.Getenv("LOCAL_RANK"))
	act := acts[min(local, len(acts)-1)]
	name, arg, _ := strings.Cut(act, "=")
	code, _ := strconv.Atoi(arg)
	sleep := func() int { time.Sleep(1000 * time.Second); return 0 }
	switch name {
	case "env":
		for _, k := range workerVars {
			fmt.Printf("%s=%s\n", k, os.Getenv(k))
		}
		fmt.Fprintln(os.Stderr, "to stderr")
		return 0
	case "fail": // 30 lines, then exit with the code
		for k := range 30 {
			fmt.Printf("line %d\n", k)
		}
		return code
	case "failonce": // fail on the first attempt only
		if os.Getenv(EnvRestart) == "0" {
			return code
		}
		return 0
	case "signal":
		syscall.Kill(os.Getpid(), syscall.Signal(code))
		return sleep()
	case "sleep":
		return sleep()
	case "ignore": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		return sleep()
	case "grandchild", "grandchildexit": // start a grandchild sleeping 1000 s, write both pids to the file
		gc := exec.Command(os.Args[0], workerArg, "sleep")
		gc.Env = append(os.Environ(), "LOCAL_RANK=0")
		if err := gc.Start(); err != nil {
			fmt.Println(err)
			return 1
		}
		os.WriteFile(arg+".tmp", fmt.Appendf(nil, "%d %d", os.Getpid(), gc.Process.Pid), 0o644)
		os.Rename(arg+".tmp", arg)
		if name == "grandchildexit" {
			return 0
		}
		return sleep()
	case "failwhen":
		for {
			if _, err := os.Stat(arg); err == nil {
				return 1
			}
			time.Sleep(5 * time.Millisecond)
		}
	case "waitfile":
		for {
			if _, err := os.Stat(arg); err == nil {
				return 0
			}
			time.Sleep(5 * time.Millisecond)
		}
	case "affinity":
		cores, err := allowedCores()
		if err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Printf("cores %v\n", cores)
		return 0
	}
	fmt.Println("unknown action", act)
	return 99
}

func testOptions(t *testing.T, n int, acts ...string) Options {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.WorkerNum, o.LocalWorkerNum = n, n
	o.LogDir = t.TempDir()
	o.GracePeriod = 5 * time.Second
	o.Command = append([]string{exe, workerArg}, acts...)
	return o
}

func readLog(t *testing.T, o Options, rank int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(o.LogDir, fmt.Sprintf("worker_%d.log", rank)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type closer struct{ closed *atomic.Int32 }

func (c closer) Close() error { c.closed.Add(1); return nil }

func TestRunEnvironmentAndLogs(t *testing.T) {
	t.Parallel()
	for _, node := range []int{0, 1} {
		o := testOptions(t, 4, "env")
		o.LocalWorkerNum, o.NodeRank = 2, node
		o.MasterAddr, o.MasterPort, o.ClusterTimeout = "10.1.2.3", 9000, -1
		var started []string
		var closed atomic.Int32
		o.StartScheduler = func(addr string) (io.Closer, error) {
			started = append(started, addr)
			return closer{&closed}, nil
		}
		os.Setenv("LAUNCH_TEST_INHERITED", "yes") // no t.Setenv: the test is parallel; the name is the test's own
		if err := Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		if node == 0 && (len(started) != 1 || started[0] != "10.1.2.3:9000" || closed.Load() != 1) {
			t.Errorf("node 0: scheduler started %q, closed %d times; want once on 10.1.2.3:9000, closed once", started, closed.Load())
		}
		if node == 1 && (len(started) != 0 || closed.Load() != 0) {
			t.Errorf("node 1: scheduler started %q, closed %d times; want never", started, closed.Load())
		}
		for i := range 2 {
			rank := node*2 + i
			log := readLog(t, o, rank)
			want := fmt.Sprintf("RANK_ID=%d\nRANK_SIZE=4\nMS_WORKER_NUM=4\nMS_LOCAL_WORKER=2\nMS_SCHED_HOST=10.1.2.3\nMS_SCHED_PORT=9000\n"+
				"MS_ROLE=MS_WORKER\nMS_TOPO_TIMEOUT=-1\nLOCAL_RANK=%d\nDEVICE_ID=%d\nRESNEXT_RESTART=0\nRESNEXT_BIND_CORE=0\nLAUNCH_TEST_INHERITED=yes\nto stderr\n", rank, i, i)
			if !strings.HasPrefix(log, fmt.Sprintf("==== msrun: rank %d, attempt 0,", rank)) || !strings.HasSuffix(log, want) {
				t.Errorf("node %d: worker_%d.log:\n%s\nwant a header, then\n%s", node, rank, log, want)
			}
		}
		if _, err := os.Stat(filepath.Join(o.LogDir, fmt.Sprintf("worker_%d.log", (1-node)*2))); err == nil {
			t.Errorf("node %d wrote another node's log", node)
		}
	}
}

func TestRunJoinStopsOthers(t *testing.T) {
	t.Parallel()
	o := testOptions(t, 3, "sleep", "fail=3", "sleep")
	o.Join = true
	start := time.Now()
	err := Run(context.Background(), o)
	took := time.Since(start)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Run = %v, want an *Error", err)
	}
	if took > 2*time.Second {
		t.Errorf("Run took %v to stop workers that exit on SIGTERM (grace %v)", took, o.GracePeriod)
	}
	if len(e.Failures) != 1 || e.Attempts != 1 {
		t.Fatalf("failures %+v, attempts %d; want rank 1 only, 1 attempt", e.Failures, e.Attempts)
	}
	f := e.Failures[0]
	if f.Rank != 1 || f.ExitCode != 3 || f.Signal != 0 || len(f.Tail) != tailLines || f.Tail[tailLines-1] != "line 29" || f.Tail[0] != "line 10" {
		t.Errorf("failure %+v", f)
	}
	msg := err.Error()
	for _, want := range []string{"rank 1 exited with status 3", filepath.Join(o.LogDir, "worker_1.log"), "\n    line 29"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if e.ExitCode() != 3 {
		t.Errorf("ExitCode = %d", e.ExitCode())
	}
}

func TestRunJoinKillsAfterGrace(t *testing.T) {
	t.Parallel()
	o := testOptions(t, 3)
	dir := o.LogDir
	// Rank 2 fails once the others have set SIGTERM aside.
	o.Command = append(o.Command, "ignore", "ignore", "failwhen="+filepath.Join(dir, "go"))
	o.Join = true
	o.GracePeriod = 300 * time.Millisecond
	go func() {
		for !strings.Contains(readLogQuiet(dir, 0), "ignoring") || !strings.Contains(readLogQuiet(dir, 1), "ignoring") {
			time.Sleep(5 * time.Millisecond)
		}
		os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	}()
	var failedAt atomic.Int64
	core, logs := observer.New(zap.InfoLevel)
	o.Log = zap.New(core).WithOptions(zap.Hooks(func(e zapcore.Entry) error {
		if e.Message == "worker failed" {
			failedAt.Store(time.Now().UnixNano())
		}
		return nil
	}))
	err := Run(context.Background(), o)
	end := time.Now()
	var e *Error
	if !errors.As(err, &e) || e.Failures[0].Rank != 2 || e.Failures[0].ExitCode != 1 {
		t.Fatalf("Run = %v, want rank 2's failure", err)
	}
	took := end.Sub(time.Unix(0, failedAt.Load()))
	if took < o.GracePeriod || took > o.GracePeriod+2*time.Second {
		t.Errorf("workers ignoring SIGTERM stopped %v after the failure, want SIGKILL after the grace period %v", took, o.GracePeriod)
	}
	if logs.FilterMessageSnippet("SIGKILL").Len() != 1 {
		t.Errorf("no SIGKILL logged: %v", logs.All())
	}
}

func readLogQuiet(dir string, rank int) string {
	b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("worker_%d.log", rank)))
	return string(b)
}

func TestRunWithoutJoinReportsAll(t *testing.T) {
	t.Parallel()
	o := testOptions(t, 4)
	dir := o.LogDir
	// Rank 0 fails first; rank 2 fails once rank 3 has exited 0 and rank 0 failed; rank 1 is killed by SIGKILL.
	o.Command = append(o.Command, "fail=2", "signal=9", "failwhen="+filepath.Join(dir, "go"), "env")
	go func() {
		for !strings.Contains(readLogQuiet(dir, 3), "to stderr") || !strings.Contains(readLogQuiet(dir, 0), "line 29") {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	}()
	err := Run(context.Background(), o)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Run = %v, want an *Error", err)
	}
	if len(e.Failures) != 3 || e.Failures[2].Rank != 2 {
		t.Fatalf("failures %+v, want ranks 0 and 1 (either order) then 2", e.Failures)
	}
	for _, f := range e.Failures {
		switch f.Rank {
		case 0:
			if f.ExitCode != 2 {
				t.Errorf("rank 0: %+v", f)
			}
		case 1:
			if f.Signal != syscall.SIGKILL || f.What() != "was killed by SIGKILL" {
				t.Errorf("rank 1: %+v", f)
			}
		case 2:
			if f.ExitCode != 1 || f.Tail != nil {
				t.Errorf("rank 2: %+v", f)
			}
		}
	}
	msg := err.Error()
	if !strings.Contains(msg, "; also") || !strings.Contains(msg, "rank 2 exited with status 1") {
		t.Errorf("message %q does not list every failure", msg)
	}
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	o := testOptions(t, 3, "sleep")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run took %v to stop after the cancel", took)
	}
}

func pids(t *testing.T, file string) [2]int {
	t.Helper()
	var p [2]int
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(string(b), "%d %d", &p[0], &p[1]); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunNoOrphans(t *testing.T) {
	t.Parallel()
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		o := testOptions(t, 2)
		file := filepath.Join(o.LogDir, "pids")
		o.Command = append(o.Command, "grandchild="+file, "sleep")
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for {
				if _, err := os.Stat(file); err == nil {
					cancel()
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		if err := Run(ctx, o); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
		for _, p := range pids(t, file) {
			if err := syscall.Kill(p, 0); err != syscall.ESRCH {
				t.Errorf("process %d still there after Run (kill 0: %v)", p, err)
			}
		}
	})
	t.Run("worker exits 0", func(t *testing.T) {
		t.Parallel()
		o := testOptions(t, 1)
		file := filepath.Join(o.LogDir, "pids")
		o.Command = append(o.Command, "grandchildexit="+file)
		if err := Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		for _, p := range pids(t, file) {
			if err := syscall.Kill(p, 0); err != syscall.ESRCH {
				t.Errorf("process %d still there after Run (kill 0: %v)", p, err)
			}
		}
	})
	t.Run("join", func(t *testing.T) {
		t.Parallel()
		o := testOptions(t, 2)
		file := filepath.Join(o.LogDir, "pids")
		o.Command = append(o.Command, "grandchild="+file, "failwhen="+file)
		o.Join = true
		var e *Error
		if err := Run(context.Background(), o); !errors.As(err, &e) || e.Failures[0].Rank != 1 {
			t.Fatalf("Run = %v", err)
		}
		for _, p := range pids(t, file) {
			if err := syscall.Kill(p, 0); err != syscall.ESRCH {
				t.Errorf("process %d still there after Run (kill 0: %v)", p, err)
			}
		}
	})
}

func TestRunRestarts(t *testing.T) {
	t.Parallel()
	// Rank 0 may be stopped before it prints on attempt 0, when rank 1 fails first.
	o := testOptions(t, 2, "env", "failonce=2")
	o.MaxRestarts = 3
	core, logs := observer.New(zap.InfoLevel)
	o.Log = zap.New(core)
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessage("restart 1 of 3 after rank 1 exited with status 2").Len(); n != 1 {
		t.Errorf("restart logged %d times: %v", n, logs.All())
	}
	if n := logs.FilterMessageSnippet("restart").Len(); n != 1 {
		t.Errorf("%d restarts logged, want 1", n)
	}
	log := readLog(t, o, 0)
	if !strings.Contains(log, "rank 0, attempt 0,") || !strings.Contains(log, "rank 0, attempt 1,") ||
		!strings.Contains(log, "RESNEXT_RESTART=1\n") {
		t.Errorf("worker_0.log holds not both attempts:\n%s", log)
	}
}

func TestRunRestartsGiveUp(t *testing.T) {
	t.Parallel()
	o := testOptions(t, 2, "env", "fail=4")
	o.MaxRestarts = 2
	err := Run(context.Background(), o)
	var e *Error
	if !errors.As(err, &e) || e.Attempts != 3 || len(e.Failures) != 1 || e.Failures[0].Rank != 1 {
		t.Fatalf("Run = %v, want rank 1's failure after 3 attempts", err)
	}
	if !strings.Contains(err.Error(), "rank 1 exited with status 4 (gave up after 3 attempts)") {
		t.Errorf("message %q", err)
	}
	if n := strings.Count(readLog(t, o, 1), "==== msrun"); n != 3 {
		t.Errorf("worker_1.log has %d attempt headers, want 3", n)
	}
}

func TestRunBindCore(t *testing.T) {
	t.Parallel()
	allowed, err := allowedCores()
	if err != nil {
		t.Fatal(err)
	}
	if len(allowed) < 2 {
		t.Skipf("%d core(s)", len(allowed))
	}
	o := testOptions(t, 2, "affinity")
	o.BindCore = true
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		want := fmt.Sprintf("cores %v\n", coreRange(allowed, i, 2))
		if log := readLog(t, o, i); !strings.HasSuffix(log, want) {
			t.Errorf("worker %d saw\n%s\nwant %q", i, log, want)
		}
	}
	// The launcher's own affinity is untouched.
	if after, _ := allowedCores(); fmt.Sprint(after) != fmt.Sprint(allowed) {
		t.Errorf("launcher's cores %v, were %v", after, allowed)
	}
}

func TestCoreRange(t *testing.T) {
	cores := []int{0, 1, 2, 3, 4, 5, 6, 7}
	for _, tc := range []struct {
		i, local int
		want     string
	}{
		{0, 8, "[0]"}, {7, 8, "[7]"}, {0, 2, "[0 1 2 3]"}, {1, 2, "[4 5 6 7]"}, {2, 3, "[4 5]"}, {9, 10, "[1]"},
	} {
		if got := fmt.Sprint(coreRange(cores, tc.i, tc.local)); got != tc.want {
			t.Errorf("coreRange(8 cores, %d, %d) = %s, want %s", tc.i, tc.local, got, tc.want)
		}
	}
	if got := fmt.Sprint(coreRange([]int{2, 5, 9, 11}, 1, 2)); got != "[9 11]" {
		t.Errorf("coreRange in a cpuset = %s", got)
	}
}

func TestRunSchedulerError(t *testing.T) {
	o := testOptions(t, 1, "env")
	o.StartScheduler = func(string) (io.Closer, error) { return nil, errors.New("address in use") }
	if err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "127.0.0.1:8118: address in use") {
		t.Errorf("Run = %v", err)
	}
	if _, err := os.Stat(filepath.Join(o.LogDir, "worker_0.log")); err == nil {
		t.Error("a worker started without its scheduler")
	}
}

func TestOptionErrors(t *testing.T) {
	ok := DefaultOptions()
	ok.Command = []string{"sh", "-c", "true"}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"worker_num", func(o *Options) { o.WorkerNum = 0 }, "--worker_num must be >= 1, got 0"},
		{"local_worker_num 0", func(o *Options) { o.LocalWorkerNum = 0 }, "--local_worker_num must be in 1..8"},
		{"local_worker_num big", func(o *Options) { o.LocalWorkerNum = 9 }, "--local_worker_num must be in 1..8 (--worker_num), got 9"},
		{"node_rank needed", func(o *Options) { o.WorkerNum = 16 }, "--node_rank"},
		{"node_rank beyond", func(o *Options) { o.WorkerNum, o.NodeRank = 16, 2 }, "--node_rank 2 with --local_worker_num 8 would start ranks 16..23, beyond --worker_num 16"},
		{"node_rank not a multiple", func(o *Options) { o.WorkerNum, o.LocalWorkerNum, o.NodeRank = 10, 4, 2 }, "beyond --worker_num 10"},
		{"node_rank negative", func(o *Options) { o.NodeRank = -2 }, "--node_rank must be >= 0"},
		{"master_port", func(o *Options) { o.MasterPort = 70000 }, "--master_port must be in 1..65535, got 70000"},
		{"master_port negative", func(o *Options) { o.MasterPort = -1 }, "--master_port"},
		{"max_restarts", func(o *Options) { o.MaxRestarts = -1 }, "--max_restarts"},
		{"no command", func(o *Options) { o.Command = nil }, "no worker command"},
		{"not found", func(o *Options) { o.Command = []string{"foo-not-a-command"} }, `msrun: command "foo-not-a-command" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want an error with %q", err, tc.want)
			}
		})
	}
	o := ok
	o.WorkerNum, o.LocalWorkerNum, o.NodeRank = 16, 8, 1
	if _, err := o.resolve(); err != nil {
		t.Errorf("node 1 of 2: %v", err)
	}
	if runtime.GOOS != "linux" {
		o.BindCore = true
		if _, err := o.resolve(); err == nil {
			t.Error("--bind_core accepted off Linux")
		}
	}
}
