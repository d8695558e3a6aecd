//go:build unix

package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Bounds of the log tail a failure reports.
const (
	tailLines   = 20
	tailBytes   = 64 << 10
	tailLineLen = 400
	// orphanWait is how long, after SIGKILL, Run waits for a group's last processes to go.
	orphanWait = 5 * time.Second
)

func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

func run(ctx context.Context, o resolved) (err error) {
	log := o.Log
	if o.StartScheduler != nil && o.NodeRank == 0 {
		addr := joinHostPort(o.MasterAddr, o.MasterPort)
		c, serr := o.StartScheduler(addr)
		if serr != nil {
			return fmt.Errorf("msrun: starting the scheduler on %s: %w", addr, serr)
		}
		log.Info("scheduler listening", zap.String("addr", addr))
		defer func() {
			if cerr := c.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("msrun: closing the scheduler: %w", cerr)
			}
		}()
	}
	// Orphaned grandchildren of the workers come to this process, which reaps them, rather than to init
	// (which, in a container, may not).
	becomeSubreaper(log)
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("msrun: stopped: %w", err)
		}
		fails, err := runAttempt(ctx, o, attempt, o.Join || attempt < o.MaxRestarts)
		if err != nil {
			return err
		}
		if len(fails) == 0 {
			log.Info("all workers exited 0", zap.Int("workers", o.LocalWorkerNum), zap.Int("attempt", attempt))
			return nil
		}
		if attempt < o.MaxRestarts {
			log.Warn(fmt.Sprintf("restart %d of %d after rank %d %s", attempt+1, o.MaxRestarts, fails[0].Rank, fails[0].What()),
				zap.Int("rank", fails[0].Rank), zap.String("log", fails[0].Log))
			continue
		}
		return &Error{Failures: fails, Attempts: attempt + 1}
	}
}

type worker struct {
	i, rank  int
	cmd      *exec.Cmd
	pgid     int
	log      string
	logStart int64 // where this attempt's output starts in log
}

type exited struct {
	w     *worker
	state *os.ProcessState
	err   error
}

// runAttempt starts the local workers once and waits for them: for all of them, or, with stopOnFail, until
// the first fails. The workers' process groups are empty when it returns.
func runAttempt(ctx context.Context, o resolved, attempt int, stopOnFail bool) ([]Failure, error) {
	log := o.Log
	dir := o.LogDir
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("msrun: --log_dir: %w", err)
	}
	var allowed []int
	if o.BindCore {
		var err error
		if allowed, err = allowedCores(); err != nil {
			return nil, fmt.Errorf("msrun: --bind_core: %w", err)
		}
	}
	exits := make(chan exited, o.LocalWorkerNum)
	var workers []*worker
	running := 0
	defer func() { stopAll(workers, exits, running, o.GracePeriod, log) }()

	base := os.Environ()
	for i := range o.LocalWorkerNum {
		w := &worker{i: i, rank: o.NodeRank*o.LocalWorkerNum + i}
		w.log = filepath.Join(dir, fmt.Sprintf("worker_%d.log", w.rank))
		f, err := os.OpenFile(w.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("msrun: rank %d: %w", w.rank, err)
		}
		fmt.Fprintf(f, "==== msrun: rank %d, attempt %d, started %s: %s\n", w.rank, attempt,
			time.Now().Format(time.RFC3339), strings.Join(o.Command, " "))
		if st, err := f.Stat(); err == nil {
			w.logStart = st.Size()
		}
		cmd := exec.Command(o.path, o.Command[1:]...)
		cmd.Args[0] = o.Command[0]
		cmd.Env = append(append([]string(nil), base...), o.workerEnv(i, attempt)...)
		cmd.Stdout, cmd.Stderr = f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var cores []int
		if o.BindCore {
			cores = coreRange(allowed, i, o.LocalWorkerNum)
			err = startPinned(cmd, cores)
		} else {
			err = cmd.Start()
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("msrun: starting rank %d (%s): %w", w.rank, o.Command[0], err)
		}
		w.cmd, w.pgid = cmd, cmd.Process.Pid
		workers = append(workers, w)
		running++
		go func() {
			err := cmd.Wait()
			exits <- exited{w: w, state: cmd.ProcessState, err: err}
		}()
		fields := []zap.Field{zap.Int("rank", w.rank), zap.Int("pid", w.pgid), zap.String("log", w.log), zap.Int("attempt", attempt)}
		if cores != nil {
			fields = append(fields, zap.Ints("cores", cores))
		}
		log.Info("worker started", fields...)
	}

	var fails []Failure
	for running > 0 {
		select {
		case <-ctx.Done():
			log.Warn("stopping the workers", zap.Error(ctx.Err()))
			return nil, fmt.Errorf("msrun: stopped: %w", ctx.Err())
		case x := <-exits:
			running--
			f, failed := failureOf(x)
			if !failed {
				log.Info("worker exited 0", zap.Int("rank", x.w.rank))
				continue
			}
			log.Warn("worker failed", zap.Int("rank", f.Rank), zap.String("how", f.What()), zap.String("log", f.Log))
			fails = append(fails, f)
			if stopOnFail {
				return fails, nil
			}
		}
	}
	return fails, nil
}

func failureOf(x exited) (Failure, bool) {
	f := Failure{Rank: x.w.rank, ExitCode: -1, Log: x.w.log}
	if x.state == nil {
		// Wait itself failed: no status to report.
		f.ExitCode = 1
	} else if ws, ok := x.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		f.Signal = ws.Signal()
	} else if x.state.ExitCode() == 0 {
		return Failure{}, false
	} else {
		f.ExitCode = x.state.ExitCode()
	}
	f.Tail = logTail(x.w.log, x.w.logStart)
	return f, true
}

// logTail reads the last lines of the log from offset from (this attempt's output).
func logTail(path string, from int64) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	start := max(from, st.Size()-tailBytes)
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(f, tailBytes))
	if start > from {
		// Started mid-line: drop the partial line.
		if k := bytes.IndexByte(b, '\n'); k >= 0 {
			b = b[k+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	for k, l := range lines {
		l = strings.TrimRight(l, "\r")
		if len(l) > tailLineLen {
			l = l[:tailLineLen] + "..."
		}
		lines[k] = l
	}
	return lines
}

// groupAlive reports whether process group pgid still holds a process (a zombie counts).
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) != syscall.ESRCH
}

// stopAll empties the workers' process groups: SIGTERM to each group still holding a process, SIGKILL to
// those left after grace; it waits for the running workers (their exits arrive on exits) and reaps
// orphaned grandchildren that came to this process.
func stopAll(workers []*worker, exits chan exited, running int, grace time.Duration, log *zap.Logger) {
	signalAll := func(sig syscall.Signal) {
		for _, w := range workers {
			if groupAlive(w.pgid) {
				if err := syscall.Kill(-w.pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
					log.Warn("signalling a worker's process group", zap.Int("rank", w.rank), zap.String("signal", signalName(sig)), zap.Error(err))
				}
			}
		}
	}
	some := false
	for _, w := range workers {
		some = some || groupAlive(w.pgid)
	}
	if !some && running == 0 {
		return
	}
	if running > 0 {
		log.Info("stopping the workers", zap.Int("running", running), zap.Duration("grace", grace))
	}
	signalAll(syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	killed := false
	for running > 0 {
		select {
		case <-exits:
			running--
		case <-timer.C:
			log.Warn("workers still running after the grace period: SIGKILL", zap.Int("running", running), zap.Duration("grace", grace))
			signalAll(syscall.SIGKILL)
			killed = true
		}
	}
	// The workers are reaped; what is left in their groups are their descendants.
	for {
		alive := false
		for _, w := range workers {
			reapGroup(w.pgid)
			if groupAlive(w.pgid) {
				alive = true
			}
		}
		if !alive {
			return
		}
		now := time.Now()
		if !killed && now.After(deadline) {
			signalAll(syscall.SIGKILL)
			killed = true
		}
		if now.After(deadline.Add(orphanWait)) {
			log.Warn("processes of the workers' groups outlived SIGKILL (zombies of another parent?)")
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reapGroup reaps this process's exited children in process group pgid: the workers' orphans, once
// they have come to this process.
func reapGroup(pgid int) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
