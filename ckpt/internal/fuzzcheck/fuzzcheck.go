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
	// MaxTime is the longest a reader may take over one fuzz input.
	MaxTime = time.Second
)

// Result fails t when err is empty or longer than MaxError, or when the decoding that started at
// start took longer than MaxTime.
func Result(t testing.TB, start time.Time, err error) {
	t.Helper()
	if d := time.Since(start); d > MaxTime {
		t.Fatalf("decoding took %v, more than %v", d, MaxTime)
	}
	if err == nil {
		return
	}
	switch msg := err.Error(); {
	case msg == "":
		t.Fatal("empty error message")
	case len(msg) > MaxError:
		t.Fatalf("error message of %d bytes: %.300s...", len(msg), msg)
	}
}
