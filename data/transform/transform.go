// Package transform turns decoded pictures into normalised CHW float32 samples as MindCV's input
// pipeline does: a plan of the region a sample takes (Plan), then resize, flip, colour jitter or
// RandAugment, normalise and random erasing in one pass into the batch buffer (Finish).
package transform

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// RGB is an 8-bit RGB image, row-major HWC: the pixel at (x, y) is Pix[3*(y*W+x):][:3].
type RGB struct {
	W, H int
	Pix  []uint8
}

// NewRGB returns a black w x h image.
func NewRGB(w, h int) *RGB { return &RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)} }

// ToRGBInto converts any image to RGB into out, whose pixel buffer is reused when large enough,
// dropping alpha (straight colour, not premultiplied onto black; for opaque images the two agree).
// JPEG's YCbCr, grey, NRGBA and opaque RGBA images convert directly; other kinds go through
// image/draw, with the same results.
func ToRGBInto(img image.Image, out *RGB) {
	b := img.Bounds()
	n := 3 * b.Dx() * b.Dy()
	if cap(out.Pix) < n {
		out.Pix = make([]uint8, n)
	}
	out.W, out.H, out.Pix = b.Dx(), b.Dy(), out.Pix[:n]
	switch src := img.(type) {
	case *image.YCbCr:
		for y := range out.H {
			o := out.Pix[3*y*out.W:][:3*out.W]
			for x := range out.W {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				o[3*x], o[3*x+1], o[3*x+2] = color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
			}
		}
		return
	case *image.Gray:
		for y := range out.H {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:out.W]
			o := out.Pix[3*y*out.W:][:3*out.W]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
		return
	case *image.RGBA:
		if src.Opaque() {
			copyRGB(out, src.Pix[src.PixOffset(b.Min.X, b.Min.Y):], src.Stride)
			return
		}
	case *image.NRGBA:
		copyRGB(out, src.Pix[src.PixOffset(b.Min.X, b.Min.Y):], src.Stride)
		return
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	copyRGB(out, rgba.Pix, rgba.Stride)
}

// copyRGB fills out from 4-byte pixels (R, G, B, then alpha, which is dropped) with stride bytes
// between rows.
func copyRGB(out *RGB, pix []uint8, stride int) {
	for y := range out.H {
		row := pix[y*stride:][:4*out.W]
		o := out.Pix[3*y*out.W:][:3*out.W]
		for x := range out.W {
			o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}

// shorterTo is the size of a w x h image whose shorter side is scaled to size, keeping the aspect
// ratio (the longer side truncated: int(long*size/short)), as MindSpore's and torchvision's
// Resize(int).
func shorterTo(w, h, size int) (int, int) {
	if w > h {
		return int(float64(w) * float64(size) / float64(h)), size
	}
	return size, int(float64(h) * float64(size) / float64(w))
}

// Eval is MindCV's evaluation transform: resize the shorter side to floor(ImageSize/CropPct)
// (256 for 224 at crop_pct 0.875), center crop ImageSize, normalise, HWC to CHW.
type Eval struct {
	ImageSize int
	CropPct   float64
	Mean, Std [3]float32
}

// ResizeTo is the shorter side before the crop.
func (e Eval) ResizeTo() int { return int(math.Floor(float64(e.ImageSize) / e.CropPct)) }
