// Package fuzzcheck holds the checks the fuzz targets of the checkpoint readers share: every input
// is decoded quickly, and an error says something in a bounded length.
package fuzzcheck

import (
	"testing"
	"time"
)

const (
	// MaxError is the longest error message a reader may return.
	MaxError = 2048
	// MaxTime is the longest a reader may take over one fuzz input (milliseconds in practice; the
	// margin is for a machine busy with other work).
	MaxTime = 5 * time.Second
)

// Run calls decode, which decodes one fuzz input, and returns its error. It fails t when the error
// is empty or longer than MaxError, or when decode takes longer than MaxTime twice in a row (once
// may be a loaded machine's doing).
func Run(t testing.TB, decode func() error) error {
	t.Helper()
	start := time.Now()
	err := decode()
	if d := time.Since(start); d > MaxTime {
		start = time.Now()
		decode()
		if again := time.Since(start); again > MaxTime {
			t.Fatalf("decoding took %v and %v, more than %v", d, again, MaxTime)
		}
	}
	if err == nil {
		return nil
	}
	switch msg := err.Error(); {
	case msg == "":
		t.Fatal("empty error message")
	case len(msg) > MaxError:
		t.Fatalf("error message of %d bytes: %.300s...", len(msg), msg)
	}
	return err
}
