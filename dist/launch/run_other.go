//go:build !unix

package launch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"syscall"
)

func canBindCore() error {
	return errors.New("binding workers to cores needs Linux (sched_setaffinity); this is " + runtime.GOOS)
}

func signalName(s syscall.Signal) string { return fmt.Sprintf("signal %d", int(s)) }

func run(context.Context, resolved) error {
	return errors.New("msrun: launching workers needs process groups (Linux or another Unix); this is " + runtime.GOOS)
}
