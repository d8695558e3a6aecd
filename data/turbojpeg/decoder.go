//go:build cgo

package turbojpeg

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"unsafe"

	"github.com/resnext/resnext/data/jpeg"
)

// Decoder is one TurboJPEG decompressor (a tjhandle). Use it from one goroutine at a time; use one
// Decoder per goroutine to decode in parallel. It owns the buffer Decode returns pixels in, reused by
// the next call, so decoding allocates nothing once the buffer has grown to the largest picture.
// Close frees the handle; a Decoder that becomes unreachable unclosed is freed by the garbage
// collector.
type Decoder struct {
	lib     *Lib
	h       C.tjhandle
	buf     []byte
	cleanup runtime.Cleanup
}

// handleRef is what the cleanup of an unclosed Decoder needs.
type handleRef struct {
	c *C.tjx_lib
	h C.tjhandle
}

// NewDecoder creates a decompressor that treats libjpeg's warnings (corrupt or truncated data) as
// errors and refuses progressive JPEGs of more than 500 scans.
func (l *Lib) NewDecoder() (*Decoder, error) {
	d := &Decoder{lib: l}
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

// open creates the decompressor and its cleanup.
func (d *Decoder) open() error {
	var errbuf [256]C.char
	h := C.tjx_init(d.lib.c, &errbuf[0], C.size_t(len(errbuf)))
	if h == nil {
		return &Error{Op: "init", Msg: C.GoString(&errbuf[0])}
	}
	d.h = h
	d.cleanup = runtime.AddCleanup(d, func(r handleRef) { C.tjx_destroy(r.c, r.h) }, handleRef{d.lib.c, h})
	return nil
}

// Close frees the decompressor. Further calls of the Decoder's methods return an error; Close is
// idempotent.
func (d *Decoder) Close() error {
	if d.h == nil {
		return nil
	}
	d.cleanup.Stop()
	C.tjx_destroy(d.lib.c, d.h)
	d.h = nil
	d.buf = nil
	return nil
}

var errClosed = errors.New("turbojpeg: Decoder used after Close")

// lockThread keeps the goroutine on its OS thread until the returned function runs: libjpeg-turbo 2
// keeps the message of some failures per thread (outside the handle), so a failed call and the
// reading of its message must run on one thread, or the message read is another thread's ("No
// error").
func lockThread() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// failReset returns the error of the failed call op, from the handle's message, and replaces the
// handle: after some failures (a header that does not parse) libjpeg-turbo leaves a decompressor
// mid-header, and its next call would fail on good data.
func (d *Decoder) failReset(op string) error {
	var buf [512]C.char
	code := C.tjx_error(d.lib.c, d.h, &buf[0], C.size_t(len(buf)))
	err := &Error{Op: op, Msg: C.GoString(&buf[0]), Warning: code == 0}
	d.cleanup.Stop()
	C.tjx_destroy(d.lib.c, d.h)
	d.h = nil
	if err2 := d.open(); err2 != nil {
		d.buf = nil
		return fmt.Errorf("%w; then making a new decompressor failed, so the Decoder is closed: %v", err, err2)
	}
	return err
}

// header reads b's header, with the precision and the lossless flag (known with the TurboJPEG 3 API).
func (d *Decoder) header(b []byte) (Header, C.tjx_header, error) {
	if d.h == nil {
		return Header{}, C.tjx_header{}, errClosed
	}
	if len(b) == 0 {
		return Header{}, C.tjx_header{}, errors.New("turbojpeg: empty input: no JPEG data to decode")
	}
	r := C.tjx_read_header(d.lib.c, d.h, (*C.uchar)(unsafe.Pointer(&b[0])), C.size_t(len(b)))
	if r.rc != 0 {
		return Header{}, r, d.failReset("read header")
	}
	return Header{Width: int(r.width), Height: int(r.height), Subsampling: int(r.subsamp), Colorspace: int(r.colorspace)}, r, nil
}

// ReadHeader reads the size, subsampling and colourspace from the JPEG header in b, without decoding.
// It reports any picture the header describes, including ones Decode refuses.
func (d *Decoder) ReadHeader(b []byte) (Header, error) {
	defer lockThread()()
	h, _, err := d.header(b)
	if err == nil && (h.Width < 1 || h.Height < 1) {
		return h, checkHeader(h, 8, false)
	}
	return h, err
}

// Decode decodes the JPEG in b at 1/scale (scale 1, 2, 4 or 8; the scaled picture is
// jpeg.ScaledSize(width, height, scale)) into RGB, and returns a window of the scaled picture that
// contains crop (in scaled-picture coordinates; an empty crop means the whole picture). With the
// TurboJPEG 2 API the window is the whole picture. With the TurboJPEG 3 API only the rows of crop are
// decoded, and its columns from a multiple of the scaled iMCU width (2 to 32 pixels) to one past its
// right edge; the window is crop widened on the left by less than an iMCU and on the right by at most
// one column (or the whole picture when the subsampling is unusual). Its pixels are exactly those of
// the whole picture's decode.
//
// The pixels live in the Decoder's buffer and are overwritten by its next Decode. Errors wrap
// ErrUnsupported (CMYK or YCCK, not 8-bit, lossless, or a scale the library lacks) or ErrTooLarge
// (more than jpeg.MaxPixels, or more than jpeg.MaxPixelsPerByte pixels per byte of b), or are an *Error from the library, corrupt or truncated data included.
func (d *Decoder) Decode(b []byte, scale int, crop image.Rectangle) (jpeg.Image, error) {
	defer lockThread()()
	if !validScale(scale) {
		return jpeg.Image{}, fmt.Errorf("turbojpeg: scale %d: use 1, 2, 4 or 8", scale)
	}
	if !d.lib.scales[scale] {
		return jpeg.Image{}, fmt.Errorf("%w: %s does not offer the scaling factor 1/%d", ErrUnsupported, d.lib, scale)
	}
	h, r, err := d.header(b)
	if err != nil {
		return jpeg.Image{}, err
	}
	if err := checkHeader(h, int(r.precision), r.lossless != 0); err != nil {
		return jpeg.Image{}, err
	}
	if err := jpeg.CheckSize("JPEG", h.Width, h.Height, len(b)); err != nil {
		return jpeg.Image{}, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	sw, sh := jpeg.ScaledSize(h.Width, h.Height, scale)
	region, win, err := window(sw, sh, crop, d.lib.c.api == 3, h.Subsampling, scale)
	if err != nil {
		return jpeg.Image{}, err
	}
	stride := 3 * region.Dx()
	if n := stride * region.Dy(); len(d.buf) < n {
		d.buf = make([]byte, n)
	}
	var x, y, w, hgt int
	if region != image.Rect(0, 0, sw, sh) {
		x, y, w, hgt = region.Min.X, region.Min.Y, region.Dx(), region.Dy()
	}
	rc := C.tjx_decode(d.lib.c, d.h, (*C.uchar)(unsafe.Pointer(&b[0])), C.size_t(len(b)),
		(*C.uchar)(unsafe.Pointer(&d.buf[0])), C.int(stride), C.int(scale), C.int(sw), C.int(sh),
		C.int(x), C.int(y), C.int(w), C.int(hgt))
	if rc != 0 {
		return jpeg.Image{}, d.failReset("decode")
	}
	off := 3 * (win.Min.X - region.Min.X)
	end := off + (win.Dy()-1)*stride + 3*win.Dx()
	return jpeg.Image{Pix: d.buf[off:end:end], Stride: stride, Rect: win}, nil
}
