package transform

import (
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
