//go:build unix && !linux

package launch

import (
	"errors"
	"os/exec"
	"runtime"

	"go.uber.org/zap"
)

func canBindCore() error {
	return errors.New("binding workers to cores needs Linux (sched_setaffinity); this is " + runtime.GOOS)
}

func allowedCores() ([]int, error) { return nil, canBindCore() }

func startPinned(*exec.Cmd, []int) error { return canBindCore() }

func becomeSubreaper(*zap.Logger) {}
