package transform

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// RandomErasing is MindSpore's vision.RandomErasing as MindCV's transforms_imagenet_train runs it:
// last, on the normalised CHW float32 image (after Normalize and HWC2CHW), when re_prob > 0.
// With probability Prob it tries up to MaxAttempts boxes: an area of U(Scale) times the image's
// and an aspect ratio (width/height) of U(Ratio) (uniform, not log-uniform), width
// round(sqrt(area*ratio)), height round(width/ratio) (half to even, as Python's round), and
// erases the first box strictly smaller than the image in both sides, at a uniform position.
// When no box fits, the image is left as it is.
type RandomErasing struct {
	Prob        float64      // re_prob (MindCV's default 0: off)
	Scale       [2]float64   // re_scale (default [0.02, 0.33])
	Ratio       [2]float64   // re_ratio (default [0.3, 3.3])
	Value       ErasingValue // re_value (default 0)
	MaxAttempts int          // re_max_attempts (default 10)
}

// ErasingValue is what an erased box holds: MindSpore's value argument.
type ErasingValue struct {
	// Random fills every element of the box (each channel of each pixel) with a draw from the
	// standard normal distribution ("random").
	Random bool
	// RGB is the constant per channel otherwise (an integer value sets all three). It is
	// written as is into the normalised image.
	RGB [3]int
}

// String writes the value as MindCV's configuration does: random, 0, or [r, g, b].
func (v ErasingValue) String() string {
	switch {
	case v.Random:
		return "random"
	case v.RGB[0] == v.RGB[1] && v.RGB[1] == v.RGB[2]:
		return strconv.Itoa(v.RGB[0])
	}
	return fmt.Sprintf("[%d, %d, %d]", v.RGB[0], v.RGB[1], v.RGB[2])
}

// ParseErasingValue reads re_value as a configuration gives it: an integer (also as a string, as
// a command line gives it), "random", or a list of three integers. Range checks are Validate's.
func ParseErasingValue(v any) (ErasingValue, error) {
	switch x := v.(type) {
	case string:
		if strings.EqualFold(x, "random") {
			return ErasingValue{Random: true}, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return ErasingValue{}, fmt.Errorf("re_value %q: want an integer in [0, 255], three of them, or \"random\"", x)
		}
		return ErasingValue{RGB: [3]int{n, n, n}}, nil
	case []any:
		if len(x) != 3 {
			break
		}
		var out ErasingValue
		for c, e := range x {
			n, ok := erasingInt(e)
			if !ok {
				return ErasingValue{}, fmt.Errorf("re_value %v: element %d is not an integer", v, c)
			}
			out.RGB[c] = n
		}
		return out, nil
	case []int:
		if len(x) == 3 {
			return ErasingValue{RGB: [3]int{x[0], x[1], x[2]}}, nil
		}
	default:
		if n, ok := erasingInt(v); ok {
			return ErasingValue{RGB: [3]int{n, n, n}}, nil
		}
	}
	return ErasingValue{}, fmt.Errorf("re_value %v: want an integer in [0, 255], three of them, or \"random\"", v)
}

// erasingInt reads an integer as YAML and JSON decoders give it.
func erasingInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case uint64:
		return int(x), x <= math.MaxInt32
	case float64:
		return int(x), x == math.Trunc(x) && math.Abs(x) <= math.MaxInt32
	}
	return 0, false
}

// DefaultRandomErasing is MindCV's defaults (re_prob 0: no erasing).
func DefaultRandomErasing() RandomErasing {
	return RandomErasing{Prob: 0, Scale: [2]float64{0.02, 0.33}, Ratio: [2]float64{0.3, 3.3}, MaxAttempts: 10}
}

// Validate reports a setting MindSpore's RandomErasing rejects, naming MindCV's key.
func (e RandomErasing) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !(e.Prob >= 0 && e.Prob <= 1):
		return fmt.Errorf("re_prob %v: want a probability in [0, 1]", e.Prob)
	case !(e.Scale[0] >= 0 && e.Scale[0] <= e.Scale[1] && e.Scale[1] > 0 && finite(e.Scale[1])):
		return fmt.Errorf("re_scale %v: want 0 <= re_scale[0] <= re_scale[1], re_scale[1] > 0 (MindCV's default is [0.02, 0.33])", e.Scale)
	case !(e.Ratio[0] > 0 && e.Ratio[0] <= e.Ratio[1] && finite(e.Ratio[1])):
		return fmt.Errorf("re_ratio %v: want 0 < re_ratio[0] <= re_ratio[1] (MindCV's default is [0.3, 3.3])", e.Ratio)
	case e.MaxAttempts < 1:
		return fmt.Errorf("re_max_attempts %d: want at least 1 (MindCV's default is 10)", e.MaxAttempts)
	}
	if !e.Value.Random {
		for _, v := range e.Value.RGB {
			if v < 0 || v > 255 {
				return fmt.Errorf("re_value %v: want integers in [0, 255] or \"random\"", e.Value)
			}
		}
	}
	return nil
}

// Box draws the box Apply erases in an h x w image: its top row, left column, height and width,
// and ok false when the draw for Prob says no or no attempt fits. It draws from rng the
// probability, then per attempt the area and the ratio, then the row and the column.
func (e RandomErasing) Box(h, w int, rng *rand.Rand) (top, left, bh, bw int, ok bool) {
	if !(e.Prob > rng.Float64()) {
		return 0, 0, 0, 0, false
	}
	area := float64(h) * float64(w)
	for range e.MaxAttempts {
		target := uniform(rng, e.Scale[0], e.Scale[1]) * area
		ratio := uniform(rng, e.Ratio[0], e.Ratio[1])
		bw = int(math.RoundToEven(math.Sqrt(target * ratio)))
		bh = int(math.RoundToEven(float64(bw) / ratio))
		if bh < h && bw < w {
			top = rng.IntN(h - bh + 1)
			left = rng.IntN(w - bw + 1)
			return top, left, bh, bw, true
		}
	}
	return 0, 0, 0, 0, false
}

// Apply erases, in place, a box of the c x h x w image chw (channel-major) as Box draws it, then
// fills it with Value: the constants, or standard normal draws in channel, row, column order.
// It panics when chw does not hold c*h*w values, or a per-channel value meets c != 3.
func (e RandomErasing) Apply(chw []float32, c, h, w int, rng *rand.Rand) {
	if len(chw) != c*h*w || c < 1 {
		panic(fmt.Sprintf("transform.RandomErasing.Apply: %d values for a %dx%dx%d image", len(chw), c, h, w))
	}
	v := e.Value
	if c != 3 && !v.Random && (v.RGB[0] != v.RGB[1] || v.RGB[1] != v.RGB[2]) {
		panic(fmt.Sprintf("transform.RandomErasing.Apply: re_value %v has 3 channels, the image %d", v, c))
	}
	top, left, bh, bw, ok := e.Box(h, w, rng)
	if !ok {
		return
	}
	for ch := range c {
		fill := float32(v.RGB[min(ch, 2)])
		for y := top; y < top+bh; y++ {
			row := chw[(ch*h+y)*w+left:][:bw]
			if !v.Random {
				for i := range row {
					row[i] = fill
				}
				continue
			}
			for i := range row {
				row[i] = float32(rng.NormFloat64())
			}
		}
	}
}
