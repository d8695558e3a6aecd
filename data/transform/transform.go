// Package transform turns image files into normalised CHW float32 tensors as MindCV's input
// pipeline does: decode to RGB, resize, crop, normalise.
package transform

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // decoders register themselves with image.Decode
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
)

// RGB is an 8-bit RGB image, row-major HWC: the pixel at (x, y) is Pix[3*(y*W+x):][:3].
type RGB struct {
	W, H int
	Pix  []uint8
}

// NewRGB returns a black w x h image.
func NewRGB(w, h int) *RGB { return &RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)} }

// DecodeFile reads a JPEG, PNG, GIF, BMP or WebP file as RGB (grey and palette images are expanded,
// alpha is dropped), as PIL's Image.convert("RGB") does.
func DecodeFile(path string) (*RGB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot decode the image (JPEG, PNG, GIF, BMP and WebP are supported): %w", path, err)
	}
	b := img.Bounds()
	if b.Dx() == 0 || b.Dy() == 0 {
		return nil, fmt.Errorf("%s: the %s image is empty", path, format)
	}
	return ToRGB(img), nil
}

// ToRGB converts any image to RGB, dropping alpha (straight colour, not premultiplied onto black,
// for opaque images the two agree). JPEG's YCbCr, grey, NRGBA and opaque RGBA images convert
// directly; other kinds go through image/draw, with the same results.
func ToRGB(img image.Image) *RGB {
	b := img.Bounds()
	out := NewRGB(b.Dx(), b.Dy())
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
		return out
	case *image.Gray:
		for y := range out.H {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:out.W]
			o := out.Pix[3*y*out.W:][:3*out.W]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
		return out
	case *image.RGBA:
		if src.Opaque() {
			copyRGB(out, src.Pix[src.PixOffset(b.Min.X, b.Min.Y):], src.Stride)
			return out
		}
	case *image.NRGBA:
		copyRGB(out, src.Pix[src.PixOffset(b.Min.X, b.Min.Y):], src.Stride)
		return out
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	copyRGB(out, rgba.Pix, rgba.Stride)
	return out
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

// ResizeBilinear returns src scaled to w x h by bilinear interpolation with half-pixel centres and
// no antialiasing: OpenCV's INTER_LINEAR, which MindSpore's Resize uses. (golang.org/x/image/draw's
// scalers widen the kernel when shrinking, as PIL does, and so give other numbers.)
func ResizeBilinear(src *RGB, w, h int) *RGB {
	return CropResize(src, 0, 0, src.W, src.H, w, h)
}

// CropResize returns the cw x ch window of src whose top-left pixel is (x, y), scaled to w x h as
// ResizeBilinear does (the crop of a random resized crop and its resize in one pass). The window
// must lie inside src.
func CropResize(src *RGB, x, y, cw, ch, w, h int) *RGB {
	dst := NewRGB(w, h)
	resize(src.Pix, 3*src.W, 3, x, y, cw, ch, dst.Pix, w, h)
	return dst
}

// ResizeGrey scales a w x h single-channel 8-bit image (row-major) to outW x outH as
// ResizeBilinear does.
func ResizeGrey(src []uint8, w, h, outW, outH int) []uint8 {
	dst := make([]uint8, outW*outH)
	resize(src, w, 1, 0, 0, w, h, dst, outW, outH)
	return dst
}

// resize writes the bilinear resize of the w x h window at (x0, y0) of an nc-channel 8-bit image
// (stride bytes per row) into dst, an outW x outH image with nc channels and no row padding.
func resize(src []uint8, stride, nc, x0, y0, w, h int, dst []uint8, outW, outH int) {
	resizeTaps(src, stride, nc, x0, y0, bilinearTaps(w, outW), bilinearTaps(h, outH), dst)
}

// resizeTaps writes into dst (len(xs) x len(ys) pixels of nc channels, no row padding) the
// bilinear samples that xs and ys name, relative to pixel (x0, y0) of src (stride bytes per row).
// Passing a sub-range of a resize's taps computes only that window of the resized image.
func resizeTaps(src []uint8, stride, nc, x0, y0 int, xs, ys []tap, dst []uint8) {
	outW := len(xs)
	for y, ty := range ys {
		r0 := src[(y0+ty.i0)*stride+nc*x0:]
		r1 := src[(y0+ty.i1)*stride+nc*x0:]
		o := dst[y*outW*nc:][:outW*nc]
		for x, tx := range xs {
			a, b := nc*tx.i0, nc*tx.i1
			for c := range nc {
				top := float32(r0[a+c])*(1-tx.f) + float32(r0[b+c])*tx.f
				bot := float32(r1[a+c])*(1-tx.f) + float32(r1[b+c])*tx.f
				v := top*(1-ty.f) + bot*ty.f
				o[nc*x+c] = uint8(min(max(math.Round(float64(v)), 0), 255))
			}
		}
	}
}

// tap is where one output coordinate samples the input: between i0 and i1, weight f on i1.
type tap struct {
	i0, i1 int
	f      float32
}

// bilinearTaps maps each of out coordinates to its two input neighbours: the centre of output
// pixel o sits at input coordinate (o+0.5)*in/out - 0.5, clamped to the edges.
func bilinearTaps(in, out int) []tap { return bilinearTapsRange(in, out, 0, out) }

// bilinearTapsRange is bilinearTaps(in, out)[from : from+n] without the rest.
func bilinearTapsRange(in, out, from, n int) []tap {
	taps := make([]tap, n)
	scale := float64(in) / float64(out)
	for k := range taps {
		s := (float64(from+k)+0.5)*scale - 0.5
		i := int(math.Floor(s))
		f := s - float64(i)
		switch {
		case i < 0:
			i, f = 0, 0
		case i >= in-1:
			i, f = in-1, 0
		}
		taps[k] = tap{i0: i, i1: min(i+1, in-1), f: float32(f)}
	}
	return taps
}

// ResizeShorter scales src so that its shorter side is size, keeping the aspect ratio (the longer
// side is truncated: int(long*size/short)), as MindSpore's and torchvision's Resize(int) do.
func ResizeShorter(src *RGB, size int) *RGB {
	w, h := shorterTo(src.W, src.H, size)
	return ResizeBilinear(src, w, h)
}

// shorterTo is the size of a w x h image whose shorter side is scaled to size.
func shorterTo(w, h, size int) (int, int) {
	if w > h {
		return int(float64(w) * float64(size) / float64(h)), size
	}
	return size, int(float64(h) * float64(size) / float64(w))
}

// ResizeShorterCenterCrop is CenterCrop(ResizeShorter(src, size), w, h) computed without the
// margins: only the kept window of the resized image is interpolated, so time and memory follow
// the crop, not the resized image (which for a very long image could be huge).
func ResizeShorterCenterCrop(src *RGB, size, w, h int) (*RGB, error) {
	rw, rh := shorterTo(src.W, src.H, size)
	if rw < w || rh < h {
		return nil, fmt.Errorf("center crop %dx%d of a %dx%d image: the image is smaller", w, h, rw, rh)
	}
	x0, y0 := (rw-w)/2, (rh-h)/2
	dst := NewRGB(w, h)
	resizeTaps(src.Pix, 3*src.W, 3, 0, 0, bilinearTapsRange(src.W, rw, x0, w), bilinearTapsRange(src.H, rh, y0, h), dst.Pix)
	return dst, nil
}

// CenterCrop returns the w x h window at the centre of src (offsets rounded down where the margin
// is odd, as MindSpore's CenterCrop), or an error when src is smaller.
func CenterCrop(src *RGB, w, h int) (*RGB, error) {
	if src.W < w || src.H < h {
		return nil, fmt.Errorf("center crop %dx%d of a %dx%d image: the image is smaller", w, h, src.W, src.H)
	}
	x0, y0 := (src.W-w)/2, (src.H-h)/2
	dst := NewRGB(w, h)
	for y := range h {
		copy(dst.Pix[3*y*w:][:3*w], src.Pix[3*((y0+y)*src.W+x0):][:3*w])
	}
	return dst, nil
}

// Normalize writes (pixel - mean)/std per channel into dst in CHW order (len 3*W*H).
func Normalize(src *RGB, mean, std [3]float32, dst []float32) {
	plane := src.W * src.H
	for i := range plane {
		for c := range 3 {
			dst[c*plane+i] = (float32(src.Pix[3*i+c]) - mean[c]) / std[c]
		}
	}
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

// Apply transforms img into dst, which holds 3*ImageSize*ImageSize values.
func (e Eval) Apply(img *RGB, dst []float32) error {
	if e.ImageSize <= 0 || !(e.CropPct > 0 && e.CropPct <= 1) {
		return fmt.Errorf("eval transform: image_size %d and crop_pct %v: want a positive size and 0 < crop_pct <= 1", e.ImageSize, e.CropPct)
	}
	if len(dst) != 3*e.ImageSize*e.ImageSize {
		return fmt.Errorf("eval transform: %d values for a 3x%dx%d image", len(dst), e.ImageSize, e.ImageSize)
	}
	crop, err := ResizeShorterCenterCrop(img, e.ResizeTo(), e.ImageSize, e.ImageSize)
	if err != nil {
		return err
	}
	Normalize(crop, e.Mean, e.Std, dst)
	return nil
}
