package transform

import (
	"image"
	"math"
)

// Window is a decoded part of a picture: 8-bit RGB rows of Stride bytes. Rect places it in the
// picture, whose top-left pixel is (0, 0); the pixel at (x, y) inside Rect is
// Pix[(y-Rect.Min.Y)*Stride+3*(x-Rect.Min.X):][:3].
type Window struct {
	Pix    []uint8
	Stride int
	Rect   image.Rectangle
}

// WindowOf is the whole of img as a Window.
func WindowOf(img *RGB) Window {
	return Window{Pix: img.Pix, Stride: 3 * img.W, Rect: image.Rect(0, 0, img.W, img.H)}
}

// Box is a region of a picture in continuous coordinates: pixel (i, j) covers [i, i+1) x [j, j+1).
type Box struct{ X, Y, W, H float64 }

// BoxOf is the box of the pixels of r.
func BoxOf(r image.Rectangle) Box {
	return Box{float64(r.Min.X), float64(r.Min.Y), float64(r.Dx()), float64(r.Dy())}
}

// Scaled is b in the coordinates of the picture decoded at 1/s: pixel i there covers pixels
// [s*i, s*i+s) of the full picture.
func (b Box) Scaled(s int) Box {
	f := float64(s)
	return Box{b.X / f, b.Y / f, b.W / f, b.H / f}
}

// Cover is the smallest rectangle of whole pixels that holds b.
func (b Box) Cover() image.Rectangle {
	return image.Rect(int(math.Floor(b.X)), int(math.Floor(b.Y)), int(math.Ceil(b.X+b.W)), int(math.Ceil(b.Y+b.H)))
}

// resizeBits is the fixed-point precision of the bilinear weights: OpenCV's
// INTER_RESIZE_COEF_BITS, so that 8-bit results round as cv::resize's INTER_LINEAR.
const (
	resizeBits  = 11
	resizeOne   = 1 << resizeBits
	resizeRound = 1 << (2*resizeBits - 1)
)

// ftap is where one output coordinate samples the window: pixels i0 and i1 (offsets into a
// row or column of the window), weights w0 + w1 = resizeOne.
type ftap struct{ i0, i1, w0, w1 int32 }

// Resampler resizes windows by bilinear interpolation. It keeps its tap tables and row buffers
// between calls, so a Resampler per goroutine resizes without allocating.
type Resampler struct {
	xs, ys []ftap
	rows   [2][]int32
	rowOf  [2]int32
}

// Resize writes into out (out.W x out.H pixels, allocated by the caller) the bilinear resize of
// box of src. The centre of output pixel o samples the picture at box.X + (o+0.5)*box.W/out.W -
// 0.5 (and likewise down), clamped to the pixels of clip, which must lie inside src.Rect: OpenCV's
// INTER_LINEAR (half-pixel centres, no antialiasing) on the clip rectangle, with its 11-bit
// fixed-point weights. flip mirrors the result left to right.
func (r *Resampler) Resize(src Window, box Box, clip image.Rectangle, out *RGB, flip bool) {
	r.xs = fixedTaps(r.xs, box.X, box.W/float64(out.W), out.W, clip.Min.X, clip.Max.X, src.Rect.Min.X)
	r.ys = fixedTaps(r.ys, box.Y, box.H/float64(out.H), out.H, clip.Min.Y, clip.Max.Y, src.Rect.Min.Y)
	if flip {
		for l, k := 0, len(r.xs)-1; l < k; l, k = l+1, k-1 {
			r.xs[l], r.xs[k] = r.xs[k], r.xs[l]
		}
	}
	n := 3 * out.W
	for k := range r.rows {
		if cap(r.rows[k]) < n {
			r.rows[k] = make([]int32, n)
		}
		r.rows[k] = r.rows[k][:n]
		r.rowOf[k] = -1
	}
	for y, ty := range r.ys {
		a := r.row(src, ty.i0)
		b := r.row(src, ty.i1)
		o := out.Pix[y*n:][:n]
		a, b = a[:len(o)], b[:len(o)]
		w0, w1 := ty.w0, ty.w1
		for i := range o {
			o[i] = uint8((a[i]*w0 + b[i]*w1 + resizeRound) >> (2 * resizeBits))
		}
	}
}

// row returns window row i resampled across (values scaled by resizeOne), from the two-row cache
// when it holds it.
func (r *Resampler) row(src Window, i int32) []int32 {
	for k := range r.rowOf {
		if r.rowOf[k] == i {
			return r.rows[k]
		}
	}
	// Replace the row the next output row is least likely to need: the lower index.
	k := 0
	if r.rowOf[1] < r.rowOf[0] {
		k = 1
	}
	r.rowOf[k] = i
	dst := r.rows[k]
	line := src.Pix[int(i)*src.Stride:]
	dst = dst[:3*len(r.xs)]
	for o, t := range r.xs {
		a, b := 3*int(t.i0), 3*int(t.i1)
		p := line[a : a+3 : a+3]
		q := line[b : b+3 : b+3]
		d := dst[3*o : 3*o+3 : 3*o+3]
		w0, w1 := t.w0, t.w1
		d[0] = int32(p[0])*w0 + int32(q[0])*w1
		d[1] = int32(p[1])*w0 + int32(q[1])*w1
		d[2] = int32(p[2])*w0 + int32(q[2])*w1
	}
	return dst
}

// fixedTaps fills taps for n outputs sampling start + (o+0.5)*step - 0.5, clamped to [lo, hi),
// as offsets from origin.
func fixedTaps(taps []ftap, start, step float64, n, lo, hi, origin int) []ftap {
	if cap(taps) < n {
		taps = make([]ftap, n)
	}
	taps = taps[:n]
	for o := range taps {
		s := start + (float64(o)+0.5)*step - 0.5
		i := int(math.Floor(s))
		f := s - float64(i)
		switch {
		case i < lo:
			i, f = lo, 0
		case i >= hi-1:
			i, f = hi-1, 0
		}
		w0 := int32(math.Round((1 - f) * resizeOne))
		taps[o] = ftap{i0: int32(i - origin), i1: int32(min(i+1, hi-1) - origin), w0: w0, w1: resizeOne - w0}
	}
	return taps
}

// MaxScale is the largest of 1, 2, 4 and 8 that a picture may be decoded at (1/s of its size)
// while a region of w x h pixels that is resized to outW x outH keeps at least outW x outH
// pixels: the decoder's DCT-domain downscale then only does part of a downscale the resize
// would do anyway.
func MaxScale(w, h float64, outW, outH int) int {
	s := 1
	for s < 8 && w/float64(2*s) >= float64(outW) && h/float64(2*s) >= float64(outH) {
		s *= 2
	}
	return s
}
