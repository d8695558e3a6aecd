//go:build !cgo

package acl

import (
	"errors"
	"testing"
)

func TestNoCgo(t *testing.T) {
	if _, err := Load(); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("Load: %v", err)
	}
	if err := Available(); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("Available: %v", err)
	}
}
