package transform

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// cropTries is how many random boxes a random resized crop draws before it falls back to a
// centre crop, as MindSpore's RandomCropDecodeResize and torchvision's RandomResizedCrop.
const cropTries = 10

// RandomResizedCropBox chooses the window of a width x height image that a random resized crop
// keeps, as torchvision's RandomResizedCrop.get_params: up to 10 times it draws an area of
// U(scale[0], scale[1]) times the image's and an aspect ratio (w/h) log-uniform in ratio, and
// keeps the first box of that area and ratio that fits, at a uniformly drawn position. When none
// fits it returns the centre crop of the whole image, its aspect ratio clamped to ratio.
// Sides are rounded half to even, as Python's round. The box always lies inside the image and is at
// least 1 x 1 when the image is.
func RandomResizedCropBox(width, height int, scale, ratio [2]float64, rng *rand.Rand) (x, y, w, h int) {
	area := float64(width) * float64(height)
	logLo, logHi := math.Log(ratio[0]), math.Log(ratio[1])
	for range cropTries {
		target := area * uniform(rng, scale[0], scale[1])
		aspect := math.Exp(uniform(rng, logLo, logHi))
		w = int(math.RoundToEven(math.Sqrt(target * aspect)))
		h = int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < w && w <= width && 0 < h && h <= height {
			y = rng.IntN(height - h + 1)
			x = rng.IntN(width - w + 1)
			return x, y, w, h
		}
	}
	inRatio := float64(width) / float64(height)
	switch {
	case inRatio < min(ratio[0], ratio[1]):
		w = width
		h = int(math.RoundToEven(float64(w) / min(ratio[0], ratio[1])))
	case inRatio > max(ratio[0], ratio[1]):
		h = height
		w = int(math.RoundToEven(float64(h) * max(ratio[0], ratio[1])))
	default:
		w, h = width, height
	}
	w, h = min(max(w, 1), width), min(max(h, 1), height)
	return (width - w) / 2, (height - h) / 2, w, h
}

// uniform draws from U(lo, hi).
func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

// FlipHorizontal mirrors img left to right in place.
func FlipHorizontal(img *RGB) {
	for y := range img.H {
		row := img.Pix[3*y*img.W:][:3*img.W]
		for l, r := 0, img.W-1; l < r; l, r = l+1, r-1 {
			row[3*l], row[3*r] = row[3*r], row[3*l]
			row[3*l+1], row[3*r+1] = row[3*r+1], row[3*l+1]
			row[3*l+2], row[3*r+2] = row[3*r+2], row[3*l+2]
		}
	}
}

// luma is the ITU-R 601-2 grey level of an RGB pixel, L = R*299/1000 + G*587/1000 + B*114/1000
// rounded to the nearest integer, as PIL's convert("L").
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*299 + uint32(g)*587 + uint32(b)*114 + 500) / 1000)
}

// to8 rounds v to the nearest integer and clamps it to 0..255.
func to8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// AdjustBrightness multiplies every value of img by f in place (f = 0 gives black, 1 the image).
// Results are rounded and clamped to 0..255, as MindSpore's AdjustBrightness (and, up to the
// rounding, PIL's ImageEnhance.Brightness).
func AdjustBrightness(img *RGB, f float64) {
	ff := float32(f)
	for i, v := range img.Pix {
		img.Pix[i] = to8(float32(v) * ff)
	}
}

// AdjustContrast blends img in place with a grey image holding the mean of its luma: f = 0 gives
// that mean everywhere, 1 the image, more than 1 stretches the values away from it. Results are
// rounded and clamped to 0..255.
func AdjustContrast(img *RGB, f float64) {
	var sum uint64
	for i := 0; i < len(img.Pix); i += 3 {
		sum += uint64(luma(img.Pix[i], img.Pix[i+1], img.Pix[i+2]))
	}
	n := max(len(img.Pix)/3, 1)
	mean := float32(float64(sum) / float64(n))
	ff := float32(f)
	for i, v := range img.Pix {
		img.Pix[i] = to8(mean + ff*(float32(v)-mean))
	}
}

// AdjustSaturation blends every pixel of img in place with its own luma: f = 0 gives the grey
// image, 1 the image, more than 1 saturates. Results are rounded and clamped to 0..255.
func AdjustSaturation(img *RGB, f float64) {
	ff := float32(f)
	for i := 0; i < len(img.Pix); i += 3 {
		p := img.Pix[i : i+3 : i+3]
		l := float32(luma(p[0], p[1], p[2]))
		p[0] = to8(l + ff*(float32(p[0])-l))
		p[1] = to8(l + ff*(float32(p[1])-l))
		p[2] = to8(l + ff*(float32(p[2])-l))
	}
}

// Jitter is a random colour adjustment as torchvision's ColorJitter and MindSpore's
// RandomColorAdjust with hue 0: each of brightness, contrast and saturation by a factor drawn
// uniformly from [max(0, 1-j), 1+j], applied in a random order. A zero strength leaves that
// adjustment out.
type Jitter struct {
	Brightness, Contrast, Saturation float64
}

// Apply adjusts img in place. It draws from rng a permutation of the three adjustments, then the
// brightness, contrast and saturation factors (those with a non-zero strength), and applies them
// in the permuted order. With all strengths zero it draws nothing.
func (j Jitter) Apply(img *RGB, rng *rand.Rand) {
	if j.Brightness == 0 && j.Contrast == 0 && j.Saturation == 0 {
		return
	}
	order := [3]int{0, 1, 2}
	rng.Shuffle(3, func(a, b int) { order[a], order[b] = order[b], order[a] })
	strength := [3]float64{j.Brightness, j.Contrast, j.Saturation}
	var factor [3]float64
	for k, s := range strength {
		if s != 0 {
			factor[k] = uniform(rng, max(0, 1-s), 1+s)
		}
	}
	for _, k := range order {
		if strength[k] == 0 {
			continue
		}
		switch k {
		case 0:
			AdjustBrightness(img, factor[k])
		case 1:
			AdjustContrast(img, factor[k])
		case 2:
			AdjustSaturation(img, factor[k])
		}
	}
}

// Train is MindCV's training transform for ImageNet-style sets: random resized crop to
// ImageSize x ImageSize (bilinear), horizontal flip with probability HFlip, colour jitter of
// strength ColorJitter for brightness, contrast and saturation, normalise on the 0-255 scale,
// HWC to CHW.
type Train struct {
	ImageSize    int
	Scale, Ratio [2]float64
	HFlip        float64
	ColorJitter  float64
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
	case !(t.ColorJitter >= 0) || math.IsInf(t.ColorJitter, 0):
		return fmt.Errorf("train transform: color_jitter %v: want a finite value >= 0", t.ColorJitter)
	}
	for c, s := range t.Std {
		if s == 0 {
			return fmt.Errorf("train transform: std[%d] is 0", c)
		}
	}
	return nil
}

// Apply transforms img into dst (3*ImageSize*ImageSize values, CHW), drawing the crop box, then
// the flip, then the colour jitter from rng. img is not changed.
func (t Train) Apply(img *RGB, rng *rand.Rand, dst []float32) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if len(dst) != 3*t.ImageSize*t.ImageSize {
		return fmt.Errorf("train transform: %d values for a 3x%dx%d image", len(dst), t.ImageSize, t.ImageSize)
	}
	if img.W < 1 || img.H < 1 {
		return fmt.Errorf("train transform: the image is empty (%dx%d)", img.W, img.H)
	}
	x, y, w, h := RandomResizedCropBox(img.W, img.H, t.Scale, t.Ratio, rng)
	out := CropResize(img, x, y, w, h, t.ImageSize, t.ImageSize)
	if rng.Float64() < t.HFlip {
		FlipHorizontal(out)
	}
	Jitter{t.ColorJitter, t.ColorJitter, t.ColorJitter}.Apply(out, rng)
	Normalize(out, t.Mean, t.Std, dst)
	return nil
}
