//go:build !cgo

package turbojpeg

import (
	"image"

	"github.com/resnext/resnext/data/jpeg"
)

// Lib is a loaded libturbojpeg. Without cgo none can be loaded.
type Lib struct{}

// Load reports that libjpeg-turbo needs a cgo build.
func Load() (*Lib, error) { return nil, ErrNoCgo }

// API reports 0: no library.
func (l *Lib) API() int { return 0 }

// String says that no library is loaded.
func (l *Lib) String() string { return "no libturbojpeg (CGO_ENABLED=0 build)" }

// NewDecoder reports that libjpeg-turbo needs a cgo build.
func (l *Lib) NewDecoder() (*Decoder, error) { return nil, ErrNoCgo }

// Decoder is a TurboJPEG decompressor. Without cgo none can be made.
type Decoder struct{}

// Close does nothing.
func (d *Decoder) Close() error { return nil }

// ReadHeader reports that libjpeg-turbo needs a cgo build.
func (d *Decoder) ReadHeader(b []byte) (Header, error) { return Header{}, ErrNoCgo }

// Decode reports that libjpeg-turbo needs a cgo build.
func (d *Decoder) Decode(b []byte, scale int, crop image.Rectangle) (jpeg.Image, error) {
	return jpeg.Image{}, ErrNoCgo
}
