package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/resnext/resnext/internal/atomicfile"
)

// removeTempsOnSignal makes SIGINT and SIGTERM end the command at once, as they do by default
// (status 128 + the signal's number), after removing the temporary files of the writes under way
// (internal/atomicfile): an interrupted convert or plot leaves neither a partial file nor a temporary
// one, and the file it was replacing as it was. Commands with a graceful stop of their own (train
// writes a last checkpoint) do not use it. The returned function restores the default.
func removeTempsOnSignal() (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			atomicfile.RemovePending()
			os.Exit(128 + int(s.(syscall.Signal)))
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
