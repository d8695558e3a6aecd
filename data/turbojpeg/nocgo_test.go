//go:build !cgo

package turbojpeg

import (
	"errors"
	"image"
	"testing"
)

func TestNoCgo(t *testing.T) {
	l, err := Load()
	if !errors.Is(err, ErrNoCgo) {
		t.Fatalf("Load: %v", err)
	}
	if _, err := l.NewDecoder(); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("NewDecoder: %v", err)
	}
	var d Decoder
	if _, err := d.Decode([]byte{0xFF, 0xD8}, 1, image.Rectangle{}); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("Decode: %v", err)
	}
}
