package transform

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// RandAugment follows MindCV's rand_augment_transform (mindcv/data/auto_augment.py, itself timm's):
// for every image it picks N operations from a table of 14, and applies each with probability 0.5
// at a magnitude drawn around M. Operations and their magnitude-to-argument functions are MindCV's.
// Brightness, Contrast and Color are MindSpore's RandomColorAdjust and RandomColor, as MindCV runs
// them: the colour jitter's OpenCV arithmetic (AdjustBrightness, AdjustContrast, AdjustSaturation).
// The other operations' pixel arithmetic is Pillow 9.4's (ImageOps, ImageEnhance.Sharpness,
// Image.rotate and Image.transform with AFFINE), integer rounding included; MindSpore's own
// versions of those may round a level differently.
//
// Where MindCV's arguments carry a meaning of their own, this follows MindCV, not timm:
//   - Posterize keeps max(8-k, 1) bits for the level's k (MindCV's pilPosterize), capped at 8;
//   - ShearX and ShearY shear by an angle in degrees, level/10*0.3 (MindSpore's RandomAffine takes
//     shear in degrees), about the image centre;
//   - TranslateX and TranslateY move by level/10*translate_pct of the image side (0.45 by default);
//   - Solarize inverts the values at or above the threshold (RandomSolarize with min = max).
//
// A RandAugment is read-only after NewRandAugment: one value may serve many goroutines.
type RandAugment struct {
	table     []raOp
	weights   []float64 // nil: uniform choice with replacement; else weighted, without replacement
	magnitude float64
	layers    int
	std       float64 // magnitude_std; +Inf draws the magnitude uniformly from [0, magnitude]
	max       float64 // magnitude_max: magnitudes are clamped to [0, max]
	prob      float64
	fill      [3]uint8
	filter    AffineFilter
	translate float64
}

// RandAugmentParams are the hparams MindCV's transforms_imagenet_train passes to
// rand_augment_transform. (It also passes translate_const, int(0.45*image_resize), which the
// RandAugment table does not use: its translations are relative, see TranslatePct.)
type RandAugmentParams struct {
	// ImgMean fills the area a geometric operation uncovers: MindCV's img_mean, the
	// normalisation mean rounded to integers (FillFromMean computes it).
	ImgMean [3]uint8
	// Filter resamples the geometric operations. MindCV passes the configuration's interpolation
	// (ParseAffineFilter reads its names); AffineRandom draws one per operation, as MindCV does
	// when hparams carry none.
	Filter AffineFilter
	// TranslatePct is hparams translate_pct, the largest translation as a fraction of the image
	// side; 0 means MindCV's default, 0.45.
	TranslatePct float64
}

// AffineFilter is the resampling filter of the geometric operations, with Pillow's pilAffine
// semantics (no antialiasing).
type AffineFilter int

// The filters. AffineRandom chooses uniformly per operation among MindCV's
// _RANDOM_INTERPOLATION (bilinear, nearest, bicubic, area), area sampling as bilinear does in an
// affine warp.
const (
	AffineBilinear AffineFilter = iota
	AffineNearest
	AffineBicubic
	AffineRandom
)

// ParseAffineFilter maps MindCV's interpolation setting to a filter: "bilinear" (or "linear"),
// "nearest", "bicubic" (or "cubic", "pilcubic"), "area" (bilinear in an pilAffine warp), and
// "random" for a random choice per operation.
func ParseAffineFilter(name string) (AffineFilter, error) {
	switch strings.ToLower(name) {
	case "bilinear", "linear", "area":
		return AffineBilinear, nil
	case "nearest":
		return AffineNearest, nil
	case "bicubic", "cubic", "pilcubic":
		return AffineBicubic, nil
	case "random":
		return AffineRandom, nil
	}
	return 0, fmt.Errorf("interpolation %q: want bilinear, nearest, bicubic, area or random", name)
}

// FillFromMean is MindCV's img_mean for a normalisation mean on the 0-255 scale:
// min(255, round(m)) per channel, rounding half to even as Python. ImageNet's mean gives
// (124, 116, 104).
func FillFromMean(mean [3]float32) [3]uint8 {
	var out [3]uint8
	for c, m := range mean {
		out[c] = uint8(min(max(math.RoundToEven(float64(m)), 0), 255))
	}
	return out
}

// raOp is one operation of the RandAugment tables.
type raOp uint8

const (
	raAutoContrast raOp = iota
	raEqualize
	raInvert
	raRotate
	raPosterize
	raSolarize
	raColor
	raContrast
	raBrightness
	raSharpness
	raShearX
	raShearY
	raTranslateX
	raTranslateY
	raPosterizeIncreasing
	raSolarizeIncreasing
	raColorIncreasing
	raContrastIncreasing
	raBrightnessIncreasing
	raSharpnessIncreasing
)

var raOpNames = [...]string{
	"AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "Color", "Contrast",
	"Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY", "PosterizeIncreasing",
	"SolarizeIncreasing", "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing",
}

func (o raOp) String() string { return raOpNames[o] }

// raTransforms and raIncreasingTransforms are MindCV's _RAND_TRANSFORMS and
// _RAND_INCREASING_TRANSFORMS, in its order.
var (
	raTransforms = []raOp{
		raAutoContrast, raEqualize, raInvert, raRotate, raPosterize, raSolarize, raColor,
		raContrast, raBrightness, raSharpness, raShearX, raShearY, raTranslateX, raTranslateY,
	}
	raIncreasingTransforms = []raOp{
		raAutoContrast, raEqualize, raInvert, raRotate, raPosterizeIncreasing, raSolarizeIncreasing,
		raColorIncreasing, raContrastIncreasing, raBrightnessIncreasing, raSharpnessIncreasing,
		raShearX, raShearY, raTranslateX, raTranslateY,
	}
	// raChoiceWeights0 is _RAND_CHOICE_WEIGHTS_0 in raTransforms' order (they sum to 1).
	raChoiceWeights0 = []float64{0.025, 0.005, 0, 0.3, 0.005, 0.005, 0.025, 0.005, 0.005, 0.025, 0.2, 0.2, 0.1, 0.1}
)

// MindCV's constants: levels are fractions of raLevelDenom; each chosen operation runs with
// probability raOpProb.
const (
	raLevelDenom  = 10.0
	raOpProb      = 0.5
	raDefaultStd  = 0.5
	raDefaultPct  = 0.45
	raUniformFrom = 100 // an mstd above this draws magnitudes uniformly
)

// NewRandAugment parses a MindCV RandAugment spec: "randaug" then dash-separated parts in any
// order, each a key and its value:
//
//	m<int>     magnitude (default 10)
//	n<int>     operations per image (default 2)
//	mstd<f>    standard deviation of the Gaussian noise on the magnitude (default 0.5; above 100
//	           the magnitude is drawn uniformly from [0, m])
//	mmax<int>  upper clamp of the magnitude (default 10; 0 also means 10)
//	inc<int>   non-zero: the "increasing" table, whose colour operations raGrow with the magnitude
//	w<int>     0: choose operations by MindCV's fixed weights, without replacement
//
// such as "randaug-m9-mstd0.5" or "randaug-m9-n3-mstd0.5-inc1". Two deliberate differences from
// MindCV's parser: a part without a value is an error (MindCV skips it), and mstd takes effect
// (MindCV's code sets magnitude_std to 0.5 before reading mstd, so its mstd is always 0.5).
func NewRandAugment(spec string, p RandAugmentParams) (*RandAugment, error) {
	parts := strings.Split(spec, "-")
	if parts[0] != "randaug" {
		return nil, fmt.Errorf("auto_augment %q: a RandAugment spec starts with \"randaug\", e.g. randaug-m9-mstd0.5", spec)
	}
	r := &RandAugment{
		table: raTransforms, magnitude: raLevelDenom, layers: 2, std: raDefaultStd, max: raLevelDenom,
		prob: raOpProb, fill: p.ImgMean, filter: p.Filter, translate: p.TranslatePct,
	}
	if r.translate == 0 {
		r.translate = raDefaultPct
	}
	if !(r.translate > 0 && r.translate <= 1) {
		return nil, fmt.Errorf("auto_augment %q: translate_pct %v: want a fraction in (0, 1]", spec, p.TranslatePct)
	}
	if p.Filter < AffineBilinear || p.Filter > AffineRandom {
		return nil, fmt.Errorf("auto_augment %q: unknown interpolation %d", spec, p.Filter)
	}
	for _, part := range parts[1:] {
		if err := r.setPart(part); err != nil {
			return nil, fmt.Errorf("auto_augment %q: part %q: %w", spec, part, err)
		}
	}
	if r.weights != nil && r.layers > 13 {
		return nil, fmt.Errorf("auto_augment %q: n%d with w0: weighted choice without replacement has only 13 operations of non-zero weight", spec, r.layers)
	}
	return r, nil
}

// setPart applies one key-value part of a spec.
func (r *RandAugment) setPart(part string) error {
	i := strings.IndexAny(part, "0123456789")
	if i < 0 {
		return fmt.Errorf("no value: want one of m, n, mstd, mmax, inc, w followed by a number")
	}
	key, val := part[:i], part[i:]
	if key == "mstd" {
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("mstd wants a number, got %q", val)
		}
		r.std = f
		if f > raUniformFrom {
			r.std = math.Inf(1)
		}
		return nil
	}
	n, err := strconv.Atoi(val)
	if err != nil {
		return fmt.Errorf("%s wants an integer, got %q", key, val)
	}
	switch key {
	case "m":
		r.magnitude = float64(n)
	case "n":
		r.layers = n
	case "mmax":
		r.max = float64(n)
		if n == 0 {
			r.max = raLevelDenom
		}
	case "inc":
		r.table = raTransforms
		if n != 0 {
			r.table = raIncreasingTransforms
		}
	case "w":
		if n != 0 {
			return fmt.Errorf("MindCV has one set of choice weights, w0")
		}
		r.weights = raChoiceWeights0
	default:
		return fmt.Errorf("unknown key %q: want m, n, mstd, mmax, inc or w", key)
	}
	return nil
}

// Apply augments img; tmp is scratch the caller keeps per goroutine (grown as needed). It returns
// the result, which is img or tmp; img's pixels are not preserved. It draws all randomness from
// rng, in this order for each of the N layers: the operation, whether it runs, its magnitude
// noise, then the sign of its argument and the random filter where the operation has them.
// No allocation once tmp has grown to the image's size.
func (r *RandAugment) Apply(img, tmp *RGB, rng *rand.Rand) *RGB {
	var used uint32
	cur, other := img, tmp
	for range r.layers {
		op := r.table[r.choose(rng, &used)]
		if r.prob < 1 && rng.Float64() > r.prob {
			continue
		}
		if r.applyOp(op, r.sampleMagnitude(rng), cur, other, rng) {
			cur, other = other, cur
		}
	}
	return cur
}

// choose draws the index of the next operation: uniformly, or by the weights among those not
// used yet (numpy's choice without replacement picks each next one in proportion to its weight).
func (r *RandAugment) choose(rng *rand.Rand, used *uint32) int {
	if r.weights == nil {
		return rng.IntN(len(r.table))
	}
	total := 0.0
	for i, w := range r.weights {
		if *used&(1<<i) == 0 {
			total += w
		}
	}
	u := rng.Float64() * total
	pick := -1
	for i, w := range r.weights {
		if *used&(1<<i) != 0 || w == 0 {
			continue
		}
		pick = i
		if u < w {
			break
		}
		u -= w
	}
	*used |= 1 << pick
	return pick
}

// sampleMagnitude is AugmentOp's magnitude: M plus Gaussian noise of std (or uniform in [0, M]
// for an infinite std), clamped to [0, max].
func (r *RandAugment) sampleMagnitude(rng *rand.Rand) float64 {
	m := r.magnitude
	switch {
	case math.IsInf(r.std, 1):
		m = uniform(rng, 0, m)
	case r.std > 0:
		m += r.std * rng.NormFloat64()
	}
	return max(0, min(m, r.max))
}

// raNegate flips the sign of v with probability one half (_randomly_negate).
func raNegate(rng *rand.Rand, v float64) float64 {
	if rng.Float64() > 0.5 {
		return -v
	}
	return v
}

// raEnhanceArg is _enhance_level_to_arg: a blend factor in [0.1, 1.9].
func raEnhanceArg(level float64) float64 { return level/raLevelDenom*1.8 + 0.1 }

// raEnhanceIncreasingArg is _enhance_increasing_level_to_arg: 1 -/+ up to 0.9, at least 0.1.
func raEnhanceIncreasingArg(rng *rand.Rand, level float64) float64 {
	return max(0.1, 1+raNegate(rng, level/raLevelDenom*0.9))
}

// raPosterizeBits is MindCV's posterize: the level's k becomes max(8-k, 1) bits kept, capped at 8
// (where MindSpore would reject the argument).
func raPosterizeBits(k int) int { return min(max(8-k, 1), 8) }

// applyOp runs op at the magnitude level on src. Point operations change src in place and return
// false; the others write dst (grown to src's size) and return true.
func (r *RandAugment) applyOp(op raOp, level float64, src, dst *RGB, rng *rand.Rand) bool {
	switch op {
	case raAutoContrast:
		pilAutoContrast(src)
	case raEqualize:
		pilEqualize(src)
	case raInvert:
		pilSolarize(src, 0)
	case raPosterize:
		pilPosterize(src, raPosterizeBits(int(level/raLevelDenom*4)))
	case raPosterizeIncreasing:
		pilPosterize(src, raPosterizeBits(4-int(level/raLevelDenom*4)))
	case raSolarize:
		pilSolarize(src, int(level/raLevelDenom*255))
	case raSolarizeIncreasing:
		pilSolarize(src, 255-int(level/raLevelDenom*255))
	case raColor, raContrast, raBrightness:
		raEnhance(op, src, raEnhanceArg(level))
	case raColorIncreasing, raContrastIncreasing, raBrightnessIncreasing:
		raEnhance(op, src, raEnhanceIncreasingArg(rng, level))
	case raSharpness:
		pilSharpness(dst, src, raEnhanceArg(level))
		return true
	case raSharpnessIncreasing:
		pilSharpness(dst, src, raEnhanceIncreasingArg(rng, level))
		return true
	default:
		r.geometric(op, level, src, dst, rng)
		return true
	}
	return false
}

// raEnhance runs one of the colour enhancements in place. MindCV runs them as MindSpore's
// RandomColor (a blend with the grey image) and RandomColorAdjust, whose arithmetic is OpenCV's:
// the colour jitter's adjustments.
func raEnhance(op raOp, img *RGB, f float64) {
	switch op {
	case raColor, raColorIncreasing:
		AdjustSaturation(img, f)
	case raContrast, raContrastIncreasing:
		AdjustContrast(img, f)
	default:
		AdjustBrightness(img, f)
	}
}

// geometric runs Rotate, ShearX, ShearY, TranslateX or TranslateY from src into dst.
func (r *RandAugment) geometric(op raOp, level float64, src, dst *RGB, rng *rand.Rand) {
	var m [6]float64
	switch op {
	case raRotate:
		m = raRotateMatrix(src.W, src.H, raNegate(rng, level/raLevelDenom*30))
	case raShearX:
		m = raShearXMatrix(src.H, -raNegate(rng, level/raLevelDenom*0.3))
	case raShearY:
		m = raShearYMatrix(src.W, raNegate(rng, level/raLevelDenom*0.3))
	case raTranslateX:
		m = raTranslateMatrix(src.W, src.H, raNegate(rng, level/raLevelDenom*r.translate), 0)
	case raTranslateY:
		m = raTranslateMatrix(src.W, src.H, 0, raNegate(rng, level/raLevelDenom*r.translate))
	}
	f := r.filter
	if f == AffineRandom {
		f = [4]AffineFilter{AffineBilinear, AffineNearest, AffineBicubic, AffineBilinear}[rng.IntN(4)]
	}
	pilAffine(dst, src, m, f, r.fill)
}

// ---- point operations (ImageOps), all through one lookup table per channel ----

// raLUT maps each channel through its own table.
type raLUT [3][256]uint8

// apply maps img through t in place.
func (t *raLUT) apply(img *RGB) {
	p := img.Pix[:len(img.Pix)/3*3]
	for i := 0; i < len(p); i += 3 {
		p[i], p[i+1], p[i+2] = t[0][p[i]], t[1][p[i+1]], t[2][p[i+2]]
	}
}

// raHistogram counts the values of each channel into h.
func raHistogram(img *RGB, h *[3][256]int) {
	p := img.Pix[:len(img.Pix)/3*3]
	for i := 0; i < len(p); i += 3 {
		h[0][p[i]]++
		h[1][p[i+1]]++
		h[2][p[i+2]]++
	}
}

// pilPosterize keeps the top bits of every value, as ImageOps.posterize.
func pilPosterize(img *RGB, bits int) {
	var t [256]uint8
	mask := ^(1<<(8-bits) - 1)
	for v := range t {
		t[v] = uint8(v & mask)
	}
	applyLUT(img, &t)
}

// pilSolarize inverts every value at or above threshold, as ImageOps.solarize (threshold 0 inverts
// all: ImageOps.invert).
func pilSolarize(img *RGB, threshold int) {
	t := identity
	for v := max(threshold, 0); v < 256; v++ {
		t[v] = uint8(255 - v)
	}
	applyLUT(img, &t)
}

// histogramLUT maps each channel of img through the table built from the channel's histogram:
// equalize's, or else autocontrast's.
func histogramLUT(img *RGB, equalize bool) {
	var h [3][256]int
	raHistogram(img, &h)
	var t raLUT
	for c := range 3 {
		for v := range 256 {
			t[c][v] = uint8(v)
		}
		if equalize {
			equalizeLUT(&h[c], &t[c])
		} else {
			autoContrastLUT(&h[c], &t[c])
		}
	}
	t.apply(img)
}

// pilAutoContrast stretches each channel so that its lowest value becomes 0 and its highest 255,
// as ImageOps.autocontrast with no cutoff.
func pilAutoContrast(img *RGB) { histogramLUT(img, false) }

// autoContrastLUT is autocontrast's table for one channel: lut[v] = int(v*scale - lo*scale),
// clamped, scale = 255/(hi-lo); the identity when the channel holds one value.
func autoContrastLUT(h *[256]int, t *[256]uint8) {
	lo, hi := 0, 255
	for lo < 255 && h[lo] == 0 {
		lo++
	}
	for hi > 0 && h[hi] == 0 {
		hi--
	}
	if hi <= lo {
		return
	}
	scale := 255.0 / float64(hi-lo)
	offset := -float64(lo) * scale
	for v := range t {
		t[v] = uint8(min(max(int(float64(float64(v)*scale)+offset), 0), 255))
	}
}

// pilEqualize flattens each channel's histogram, as ImageOps.equalize.
func pilEqualize(img *RGB) { histogramLUT(img, true) }

// equalizeLUT is equalize's table for one channel: with step the pixel count less the last
// occupied bin's, over 255, lut[v] = (step/2 + pixels below v) / step; the identity when step
// is 0.
func equalizeLUT(h *[256]int, t *[256]uint8) {
	total, last := 0, 0
	for _, n := range h {
		if n != 0 {
			total += n
			last = n
		}
	}
	step := (total - last) / 255
	if step == 0 {
		return
	}
	n := step / 2
	for v := range t {
		t[v] = uint8(min(n/step, 255))
		n += h[v]
	}
}

// ---- ImageEnhance: Image.blend(degenerate, img, f) ----

// pilBlend holds Pillow's blend products alpha*(b-a) in float32 for every difference b-a in
// -255..255, so that a blend is out = trunc(float32(a) + prod[b-a+255]), clamped to 0..255, as
// ImagingBlend computes it.
type pilBlend [511]float32

func newPILBlend(f float64) *pilBlend {
	var t pilBlend
	alpha := float32(f)
	for d := range t {
		t[d] = alpha * float32(d-255)
	}
	return &t
}

// blend is Pillow's blend of degenerate value a towards image value b.
func (t *pilBlend) blend(a, b uint8) uint8 {
	v := float32(a) + t[int(b)-int(a)+255]
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v)
}

// pilSharpness is ImageEnhance.Sharpness into dst: a blend of src with its SMOOTH filtering (3x3
// kernel 1 1 1 / 1 5 1 / 1 1 1 over 13, rounded; the border pixels are left as they are, so
// they come out unchanged).
func pilSharpness(dst, src *RGB, f float64) {
	raGrow(dst, src.W, src.H)
	copy(dst.Pix, src.Pix)
	w, h := src.W, src.H
	if w < 3 || h < 3 {
		return
	}
	bt := newPILBlend(f)
	stride := 3 * w
	for y := 1; y < h-1; y++ {
		up, mid, down := src.Pix[(y-1)*stride:][:stride], src.Pix[y*stride:][:stride], src.Pix[(y+1)*stride:][:stride]
		out := dst.Pix[y*stride:][:stride]
		for i := 3; i < stride-3; i++ {
			s := int(up[i-3]) + int(up[i]) + int(up[i+3]) + int(mid[i-3]) + 5*int(mid[i]) + int(mid[i+3]) +
				int(down[i-3]) + int(down[i]) + int(down[i+3])
			// Pillow sums in float32 and adds 0.5 before truncating; s/13 + 0.5 is never within
			// 1/26 of an integer, so the integer form is exact.
			out[i] = bt.blend(uint8((2*s+13)/26), mid[i])
		}
	}
}

// ---- geometric operations: Image.transform(size, AFFINE, m, filter, fillcolor) ----

// raGrow sets img's size to w x h, reallocating only when its buffer is too small.
func raGrow(img *RGB, w, h int) {
	if n := 3 * w * h; cap(img.Pix) >= n {
		img.Pix = img.Pix[:n]
	} else {
		img.Pix = make([]uint8, n)
	}
	img.W, img.H = w, h
}

// raRotateMatrix is the inverse affine map of Image.rotate(deg) (counter-clockwise about the
// centre (w/2, h/2), same size), with its coefficients rounded to 15 decimals as Pillow does.
func raRotateMatrix(w, h int, deg float64) [6]float64 {
	deg = math.Mod(deg, 360) // Python's angle % 360.0: the result takes the divisor's sign
	if deg < 0 {
		deg += 360
	}
	rad := -pyRadians(deg)
	cos, sin := pyRound15(math.Cos(rad)), pyRound15(math.Sin(rad))
	m := [6]float64{cos, sin, 0, pyRound15(-math.Sin(rad)), cos, 0}
	cx, cy := float64(w)/2, float64(h)/2
	m[2] = float64(m[0]*-cx) + float64(m[1]*-cy) + m[2] + cx
	m[5] = float64(m[3]*-cx) + float64(m[4]*-cy) + m[5] + cy
	return m
}

// raPi is π as a float64 variable, so that pyRadians divides it at run time as Python does.
var raPi = math.Pi

// pyRadians is Python's math.radians: deg * (π/180), the factor rounded to float64 first.
func pyRadians(deg float64) float64 { return deg * (raPi / 180) }

// pyRound15 rounds v (|v| <= 1) to 15 decimals as Python's round(v, 15): the exact v*10^15
// (the product plus its FMA residual) rounded half to even, then divided back, which IEEE
// division rounds correctly, as Python's decimal-string round trip does.
func pyRound15(v float64) float64 {
	const scale = 1e15
	p := v * scale
	e := math.FMA(v, scale, -p) // v*scale == p + e exactly
	n := math.RoundToEven(p)
	switch f := p - n; {
	case f == 0.5 && e > 0:
		n++
	case f == -0.5 && e < 0:
		n--
	}
	return n / scale
}

// raShearXMatrix shears along x by deg degrees about the centre row: x_in = x + tan(deg)(y - h/2).
func raShearXMatrix(h int, deg float64) [6]float64 {
	t := math.Tan(pyRadians(deg))
	return [6]float64{1, t, -t * float64(h) / 2, 0, 1, 0}
}

// raShearYMatrix shears along y by deg degrees about the centre column: y_in = y + tan(deg)(x - w/2).
func raShearYMatrix(w int, deg float64) [6]float64 {
	t := math.Tan(pyRadians(deg))
	return [6]float64{1, 0, 0, t, 1, -t * float64(w) / 2}
}

// raTranslateMatrix moves the image by fx of its width and fy of its height: x_in = x + fx*w.
func raTranslateMatrix(w, h int, fx, fy float64) [6]float64 {
	return [6]float64{1, 0, fx * float64(w), 0, 1, fy * float64(h)}
}

// pilAffine writes into dst (grown to src's size) Pillow's affine transform of src: output pixel
// (x, y) samples src at (m0 X + m1 Y + m2, m3 X + m4 Y + m5), X = x+0.5, Y = y+0.5 (sums in
// Pillow's order), with the filter's kernel, and takes fill where that point lies outside src.
func pilAffine(dst, src *RGB, m [6]float64, f AffineFilter, fill [3]uint8) {
	raGrow(dst, src.W, src.H)
	w, h := float64(src.W), float64(src.H)
	for y := range src.H {
		out := dst.Pix[3*y*src.W:][:3*src.W]
		fy := float64(y) + 0.5
		m1y, m4y := m[1]*fy, m[4]*fy
		for x := range src.W {
			fx := float64(x) + 0.5
			xs := float64(m[0]*fx) + m1y + m[2]
			ys := float64(m[3]*fx) + m4y + m[5]
			o := out[3*x : 3*x+3 : 3*x+3]
			switch {
			case !(xs >= 0 && xs < w && ys >= 0 && ys < h):
				o[0], o[1], o[2] = fill[0], fill[1], fill[2]
			case f == AffineNearest:
				copy(o, src.Pix[3*(int(ys)*src.W+int(xs)):][:3])
			case f == AffineBicubic:
				sampleBicubic(o, src, xs-0.5, ys-0.5)
			default:
				sampleBilinear(o, src, xs-0.5, ys-0.5)
			}
		}
	}
}

// floorFrac splits v >= -1 into its floor and the fraction above it.
func floorFrac(v float64) (int, float64) {
	i := int(v)
	if v < float64(i) {
		i--
	}
	return i, v - float64(i)
}

// sampleBilinear is Pillow's bilinear_filter32RGB at (xs, ys), pixel centres at integers: a
// fast path where the 2x2 neighbourhood lies inside the image, pilBilinearAt at the edges.
func sampleBilinear(o []uint8, src *RGB, xs, ys float64) {
	xi, dx := floorFrac(xs)
	yi, dy := floorFrac(ys)
	if xi < 0 || xi >= src.W-1 || yi < 0 || yi >= src.H-1 {
		pilBilinearAt(o, src, xi, yi, dx, dy)
		return
	}
	i := 3 * (yi*src.W + xi)
	r0 := src.Pix[i : i+6 : i+6]
	i += 3 * src.W
	r1 := src.Pix[i : i+6 : i+6]
	o[0] = bilerp(r0[0], r0[3], r1[0], r1[3], dx, dy)
	o[1] = bilerp(r0[1], r0[4], r1[1], r1[4], dx, dy)
	o[2] = bilerp(r0[2], r0[5], r1[2], r1[5], dx, dy)
}

// bilerp is Pillow's BILINEAR of a 2x2 neighbourhood (a b over d e) at (dx, dy), truncated: the
// result lies between the four values, so no clamp is needed.
func bilerp(a, b, d, e uint8, dx, dy float64) uint8 {
	fa, fd := u8f[a], u8f[d]
	v1 := fa + float64((u8f[b]-fa)*dx)
	v2 := fd + float64((u8f[e]-fd)*dx)
	return uint8(v1 + float64((v2-v1)*dy))
}

// u8f converts 8-bit values to float64 by lookup (differences of its entries are exact, as
// Pillow's integer differences).
var u8f = func() (t [256]float64) {
	for i := range t {
		t[i] = float64(i)
	}
	return t
}()

// sampleBicubic is Pillow's bicubic_filter32RGB at (xs, ys): a fast path where the 4x4
// neighbourhood lies inside the image, pilBicubicAt at the edges.
func sampleBicubic(o []uint8, src *RGB, xs, ys float64) {
	xi, dx := floorFrac(xs)
	yi, dy := floorFrac(ys)
	if xi < 1 || xi >= src.W-2 || yi < 1 || yi >= src.H-2 {
		pilBicubicAt(o, src, xi-1, yi-1, dx, dy)
		return
	}
	stride := 3 * src.W
	p := src.Pix[(yi-1)*stride+3*(xi-1):][:3*stride+12]
	for c := range 3 {
		var v [4]float64
		for k := range 4 {
			q := p[k*stride+c:][:10]
			v[k] = pilCubicInt(int(q[0]), int(q[3]), int(q[6]), int(q[9]), dx)
		}
		o[c] = clampTrunc(pilCubic(v[0], v[1], v[2], v[3], dy))
	}
}

// clampTrunc truncates v to 0..255, saturating.
func clampTrunc(v float64) uint8 { return uint8(min(max(v, 0), 255)) }

// pilCubicInt is pilCubic of integer samples, its coefficients in integer arithmetic as Pillow's
// BICUBIC macro computes them on 8-bit values.
func pilCubicInt(v1, v2, v3, v4 int, d float64) float64 {
	p2 := float64(-v1 + v3)
	p3 := float64(2*(v1-v2) + v3 - v4)
	p4 := float64(-v1 + v2 - v3 + v4)
	return float64(v2) + d*(p2+d*(p3+d*p4))
}

// raClamp limits v to 0..n-1.
func raClamp(v, n int) int { return min(max(v, 0), n-1) }

// pilBilinearAt is Pillow's bilinear_filter32RGB anywhere: the 2x2 neighbourhood from column x,
// row y, at fractions (dx, dy); rows and columns outside the image repeat the edge, and the
// result is truncated.
func pilBilinearAt(o []uint8, src *RGB, x, y int, dx, dy float64) {
	x0, x1 := 3*raClamp(x, src.W), 3*raClamp(x+1, src.W)
	r0 := src.Pix[3*src.W*raClamp(y, src.H):][:3*src.W]
	r1 := r0
	if y+1 >= 0 && y+1 < src.H {
		r1 = src.Pix[3*src.W*(y+1):][:3*src.W]
	}
	for c := range 3 {
		o[c] = bilerp(r0[x0+c], r0[x1+c], r1[x0+c], r1[x1+c], dx, dy)
	}
}

// pilCubic is Pillow's BICUBIC interpolation of v1..v4 (at -1, 0, 1, 2) at d in [0, 1).
func pilCubic(v1, v2, v3, v4, d float64) float64 {
	p2 := -v1 + v3
	p3 := 2*(v1-v2) + v3 - v4
	p4 := -v1 + v2 - v3 + v4
	return v2 + d*(p2+d*(p3+d*p4))
}

// pilBicubicAt is Pillow's bicubic_filter32RGB anywhere: the 4x4 neighbourhood from column x,
// row y, at fractions (dx, dy); columns clamped to the image, rows past the edge repeating the
// previous row's value, the result clamped and truncated.
func pilBicubicAt(o []uint8, src *RGB, x, y int, dx, dy float64) {
	var cols [4]int
	for k := range cols {
		cols[k] = 3 * raClamp(x+k, src.W)
	}
	stride := 3 * src.W
	for c := range 3 {
		var v [4]float64
		for k := range 4 {
			yy := y + k
			if k > 0 && (yy < 0 || yy >= src.H) {
				v[k] = v[k-1]
				continue
			}
			row := src.Pix[stride*raClamp(yy, src.H):][:stride]
			v[k] = pilCubicInt(int(row[cols[0]+c]), int(row[cols[1]+c]), int(row[cols[2]+c]), int(row[cols[3]+c]), dx)
		}
		o[c] = clampTrunc(pilCubic(v[0], v[1], v[2], v[3], dy))
	}
}
