package transform

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// A sample is made in two steps, so that the decoder does only the work the transform needs:
// Plan, from the picture's size alone, says which region is resized to what size (drawing the
// random crop and flip); the decoder then decodes that region, at 1/s of the picture's size
// where MaxScale allows; Finish resizes, flips, adjusts colours, normalises and writes the
// sample straight into the batch buffer. Finish allocates nothing once its Scratch has grown.

// Plan is what one sample takes from its picture.
type Plan struct {
	// Box is the region resized to Out, in picture coordinates.
	Box Box
	// Clip is the rectangle of pixels the resize clamps its taps to: the crop of a train
	// sample, the whole picture for an eval sample.
	Clip image.Rectangle
	// Out is the output size.
	Out image.Point
	// Flip mirrors the output left to right.
	Flip bool
}

// MaxScale is the largest decoding scale (1, 2, 4 or 8) that keeps the plan's region at least
// as large as its output.
func (p Plan) MaxScale() int { return MaxScale(p.Box.W, p.Box.H, p.Out.X, p.Out.Y) }

// At is the plan for the picture decoded at 1/s, whose size is w x h (libjpeg's rounded-up
// size).
func (p Plan) At(s, w, h int) Plan {
	if s == 1 {
		return p
	}
	q := p
	q.Box = p.Box.Scaled(s)
	q.Clip = image.Rect(p.Clip.Min.X/s, p.Clip.Min.Y/s, (p.Clip.Max.X+s-1)/s, (p.Clip.Max.Y+s-1)/s).Intersect(image.Rect(0, 0, w, h))
	return q
}

// Need is the rectangle of pixels the resize reads: the box's pixels and one more on each side
// for the bilinear taps, inside Clip.
func (p Plan) Need() image.Rectangle {
	return p.Box.Cover().Inset(-1).Intersect(p.Clip)
}

// Scratch is one goroutine's buffers for Finish. The zero value is ready to use.
type Scratch struct {
	res     Resampler
	out     RGB
	tmp     RGB // RandAugment's second buffer
	lut     [3][256]float32
	lutMean [3]float32
	lutStd  [3]float32
	// jittered is lut after the jitter's last point adjustments.
	jittered [3][256]float32
}

// normaliser returns the table of (v - mean)/std per channel and value.
func (s *Scratch) normaliser(mean, std [3]float32) *[3][256]float32 {
	if s.lutMean != mean || s.lutStd != std { // a new Scratch's zero std is no transform's
		for c := range 3 {
			for v := range 256 {
				s.lut[c][v] = (float32(v) - mean[c]) / std[c]
			}
		}
		s.lutMean, s.lutStd = mean, std
	}
	return &s.lut
}

// resized resizes the plan's box of src into the scratch image.
func (s *Scratch) resized(src Window, p Plan) *RGB {
	n := 3 * p.Out.X * p.Out.Y
	if cap(s.out.Pix) < n {
		s.out.Pix = make([]uint8, n)
	}
	s.out.W, s.out.H, s.out.Pix = p.Out.X, p.Out.Y, s.out.Pix[:n]
	s.res.Resize(src, p.Box, p.Clip, &s.out, p.Flip)
	return &s.out
}

// normaliseInto writes img, normalised by lut, into dst in CHW order.
func normaliseInto(img *RGB, lut *[3][256]float32, dst []float32) {
	plane := img.W * img.H
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	lr, lg, lb := &lut[0], &lut[1], &lut[2]
	pix := img.Pix[:3*plane]
	for i := range r {
		p := pix[3*i : 3*i+3 : 3*i+3]
		r[i], g[i], b[i] = lr[p[0]], lg[p[1]], lb[p[2]]
	}
}

// checkDst reports a destination that does not hold one 3 x size x size sample.
func checkDst(name string, dst []float32, size int) error {
	if len(dst) != 3*size*size {
		return fmt.Errorf("%s transform: %d values for a 3x%dx%d image", name, len(dst), size, size)
	}
	return nil
}

// Train is MindCV's training transform for ImageNet-style sets (transforms_imagenet_train):
// random resized crop to ImageSize x ImageSize (bilinear), horizontal flip with probability
// HFlip, RandAugment when set or else the colour jitter, normalise on the 0-255 scale, HWC to
// CHW, random erasing when Erasing.Prob > 0.
type Train struct {
	ImageSize    int
	Scale, Ratio [2]float64
	HFlip        float64
	Jitter       Jitter
	RandAugment  *RandAugment
	Erasing      RandomErasing
	Mean, Std    [3]float32
}

// Validate reports a setting the transform cannot run with, naming MindCV's key.
func (t Train) Validate() error {
	switch {
	case t.ImageSize < 1:
		return fmt.Errorf("train transform: image_resize %d: want a positive size", t.ImageSize)
	case !(t.Scale[0] > 0 && t.Scale[0] <= t.Scale[1]) || math.IsInf(t.Scale[1], 0):
		return fmt.Errorf("train transform: scale %v: want 0 < scale[0] <= scale[1] (MindCV's default is [0.08, 1.0])", t.Scale)
	case !(t.Ratio[0] > 0 && t.Ratio[0] <= t.Ratio[1]) || math.IsInf(t.Ratio[1], 0):
		return fmt.Errorf("train transform: ratio %v: want 0 < ratio[0] <= ratio[1] (MindCV's default is [0.75, 1.333])", t.Ratio)
	case !(t.HFlip >= 0 && t.HFlip <= 1):
		return fmt.Errorf("train transform: hflip %v: want a probability in [0, 1]", t.HFlip)
	}
	if err := t.Jitter.Validate(); err != nil {
		return fmt.Errorf("train transform: %w", err)
	}
	if t.Erasing.Prob > 0 {
		if err := t.Erasing.Validate(); err != nil {
			return fmt.Errorf("train transform: %w", err)
		}
	}
	return checkStd(t.Std)
}

func checkStd(std [3]float32) error {
	for c, s := range std {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("std[%d] is %v: want a finite value above 0", c, s)
		}
	}
	return nil
}

// Plan draws the crop box of a width x height picture (RandomResizedCropBox), then the flip.
func (t Train) Plan(width, height int, rng *rand.Rand) Plan {
	x, y, w, h := RandomResizedCropBox(width, height, t.Scale, t.Ratio, rng)
	crop := image.Rect(x, y, x+w, y+h)
	return Plan{Box: BoxOf(crop), Clip: crop, Out: image.Pt(t.ImageSize, t.ImageSize), Flip: rng.Float64() < t.HFlip}
}

// Finish makes the sample of plan p (from Plan, scaled by At to the decoding scale) from src,
// which holds p.Need(), into dst (3*ImageSize*ImageSize values, CHW): the resize and flip,
// RandAugment or the colour jitter, the normalisation, random erasing (the random choices drawn
// from rng in that order).
func (t Train) Finish(src Window, p Plan, rng *rand.Rand, s *Scratch, dst []float32) error {
	if err := checkDst("train", dst, t.ImageSize); err != nil {
		return err
	}
	img := s.resized(src, p)
	norm := s.normaliser(t.Mean, t.Std)
	if t.RandAugment != nil {
		img = t.RandAugment.Apply(img, &s.tmp, rng)
	} else {
		lut := identity
		t.Jitter.applyTo(img, rng, &lut)
		if lut != identity {
			// The jitter's last point adjustments go into the normalisation table.
			for c := range 3 {
				for v, x := range lut {
					s.jittered[c][v] = norm[c][x]
				}
			}
			norm = &s.jittered
		}
	}
	normaliseInto(img, norm, dst)
	if t.Erasing.Prob > 0 {
		t.Erasing.Apply(dst, 3, t.ImageSize, t.ImageSize, rng)
	}
	return nil
}

// Apply transforms img into dst (3*ImageSize*ImageSize values, CHW): Plan, then Finish on the
// whole image. img is not changed.
func (t Train) Apply(img *RGB, rng *rand.Rand, dst []float32) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if img.W < 1 || img.H < 1 {
		return fmt.Errorf("train transform: the image is empty (%dx%d)", img.W, img.H)
	}
	return t.Finish(WindowOf(img), t.Plan(img.W, img.H, rng), rng, new(Scratch), dst)
}

// Validate reports a setting the transform cannot run with, naming MindCV's key.
func (e Eval) Validate() error {
	if e.ImageSize <= 0 || !(e.CropPct > 0 && e.CropPct <= 1) {
		return fmt.Errorf("eval transform: image_resize %d and crop_pct %v: want a positive size and 0 < crop_pct <= 1", e.ImageSize, e.CropPct)
	}
	return checkStd(e.Std)
}

// Plan is the centre crop of the picture resized so that its shorter side is ResizeTo(): the box
// of the picture that the crop covers, clamped to the whole picture. Only an empty picture is
// an error.
func (e Eval) Plan(width, height int) (Plan, error) {
	if width < 1 || height < 1 {
		return Plan{}, fmt.Errorf("eval transform: the image is empty (%dx%d)", width, height)
	}
	rw, rh := shorterTo(width, height, e.ResizeTo())
	sx, sy := float64(width)/float64(rw), float64(height)/float64(rh)
	x0, y0 := (rw-e.ImageSize)/2, (rh-e.ImageSize)/2
	box := Box{float64(x0) * sx, float64(y0) * sy, float64(e.ImageSize) * sx, float64(e.ImageSize) * sy}
	return Plan{Box: box, Clip: image.Rect(0, 0, width, height), Out: image.Pt(e.ImageSize, e.ImageSize)}, nil
}

// Finish makes the sample of plan p from src, which holds p.Need(), into dst.
func (e Eval) Finish(src Window, p Plan, s *Scratch, dst []float32) error {
	if err := checkDst("eval", dst, e.ImageSize); err != nil {
		return err
	}
	normaliseInto(s.resized(src, p), s.normaliser(e.Mean, e.Std), dst)
	return nil
}

// Apply transforms img into dst, which holds 3*ImageSize*ImageSize values.
func (e Eval) Apply(img *RGB, dst []float32) error {
	if err := e.Validate(); err != nil {
		return err
	}
	p, err := e.Plan(img.W, img.H)
	if err != nil {
		return err
	}
	return e.Finish(WindowOf(img), p, new(Scratch), dst)
}

// ResizeGrey scales a w x h single-channel 8-bit image (row-major) to outW x outH as Resize does.
func ResizeGrey(src []uint8, w, h, outW, outH int) []uint8 {
	rgb := NewRGB(w, h)
	for i, v := range src[:w*h] {
		rgb.Pix[3*i], rgb.Pix[3*i+1], rgb.Pix[3*i+2] = v, v, v
	}
	out := NewRGB(outW, outH)
	var r Resampler
	r.Resize(WindowOf(rgb), Box{0, 0, float64(w), float64(h)}, image.Rect(0, 0, w, h), out, false)
	grey := make([]uint8, outW*outH)
	for i := range grey {
		grey[i] = out.Pix[3*i]
	}
	return grey
}
