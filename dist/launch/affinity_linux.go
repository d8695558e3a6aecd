package launch

import (
	"fmt"
	"os/exec"
	"runtime"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

func canBindCore() error { return nil }

// allowedCores lists the cores this process may run on, in order.
func allowedCores() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("reading this process's CPU affinity: %w", err)
	}
	var cores []int
	for c, n := 0, set.Count(); len(cores) < n; c++ {
		if set.IsSet(c) {
			cores = append(cores, c)
		}
	}
	if len(cores) == 0 {
		return nil, fmt.Errorf("this process may run on no core")
	}
	return cores, nil
}

// startPinned starts cmd with its affinity set to cores. The child inherits the affinity of the thread
// that forks it, so the fork happens on a thread locked to this goroutine whose affinity is set to cores
// for the moment of the fork, then restored: the worker is pinned from its first instruction, threads
// included, without a window in which it runs elsewhere and without a trampoline process.
func startPinned(cmd *exec.Cmd, cores []int) error {
	var set unix.CPUSet
	for _, c := range cores {
		set.Set(c)
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var old unix.CPUSet
		if err := unix.SchedGetaffinity(0, &old); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("reading the CPU affinity: %w", err)
			return
		}
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("pinning to cores %v: %w", cores, err)
			return
		}
		err := cmd.Start()
		// Should restoring fail, the goroutine ends still locked and the runtime retires the thread.
		if unix.SchedSetaffinity(0, &old) == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// becomeSubreaper makes the orphans of this process's descendants its children (PR_SET_CHILD_SUBREAPER),
// so that Run can reap the workers' grandchildren.
func becomeSubreaper(log *zap.Logger) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		log.Warn("cannot become a subreaper: orphaned grandchildren of the workers go to init", zap.Error(err))
	}
}
