package transform

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// The colour adjustments follow MindSpore's RandomColorAdjust, which MindCV's recipe runs: the
// arithmetic of the OpenCV calls it makes (cv::cvtColor RGB2GRAY with 14-bit fixed-point
// weights, cv::addWeighted in float32, cvRound, i.e. round half to even, and saturation to
// 0..255, the blends' multiply-add fused as OpenCV's vector path does; RGB2HSV_FULL and back for
// hue).

// grayCV is OpenCV's 8-bit RGB2GRAY: (9798 R + 19235 G + 3735 B + 2^14) >> 15.
func grayCV(r, g, b uint8) uint8 {
	return uint8((uint32(r)*9798 + uint32(g)*19235 + uint32(b)*3735 + 1<<14) >> 15)
}

// sat8 rounds v half to even and saturates it to 0..255, as OpenCV's saturate_cast<uchar>.
func sat8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	// Adding and taking away 1.5 * 2^23 rounds a float32 below 2^22 to an integer, half to even
	// (the conversion keeps the sum rounded to float32).
	return uint8(float32(v+0x1.8p23) - 0x1.8p23)
}

// applyLUT maps every value of img through lut.
func applyLUT(img *RGB, lut *[256]uint8) {
	for i, v := range img.Pix {
		img.Pix[i] = lut[v]
	}
}

// AdjustBrightness multiplies every value of img by f in place (f = 0 gives black, 1 the image),
// as MindSpore's AdjustBrightness (img * f).
func AdjustBrightness(img *RGB, f float64) {
	lut := identity
	brightness(&lut, f)
	applyLUT(img, &lut)
}

// AdjustContrast blends img in place with a grey image of its mean grey level (rounded to an
// integer): f = 0 gives that level everywhere, 1 the image, more stretches the values away from
// it. As MindSpore's AdjustContrast.
func AdjustContrast(img *RGB, f float64) {
	lut := identity
	contrast(&lut, img, f)
	applyLUT(img, &lut)
}

// identity is the table that maps every value to itself.
var identity = func() (t [256]uint8) {
	for v := range t {
		t[v] = uint8(v)
	}
	return
}()

// brightness follows the value table lut by the brightness adjustment by f.
func brightness(lut *[256]uint8, f float64) {
	for v, x := range lut {
		lut[v] = sat8(float32(float64(x) * f))
	}
}

// contrast follows the value table lut by the contrast adjustment by f of img seen through lut
// (its mean grey level is that of the image lut makes of img).
func contrast(lut *[256]uint8, img *RGB, f float64) {
	var sum uint64
	p := img.Pix
	for i := 0; i+2 < len(p); i += 3 {
		sum += uint64(grayCV(lut[p[i]], lut[p[i+1]], lut[p[i+2]]))
	}
	n := max(len(p)/3, 1)
	mean := float32(int(float64(sum)/float64(n) + 0.5))
	a, b := float32(1-f), float32(f)
	for v, x := range lut {
		lut[v] = sat8(blend(mean, a, float32(x)*b))
	}
}

// blend is OpenCV's addWeighted of one value: the grey value g times a, fused with the image's
// product vb, rounded once to float32 (OpenCV's vector path multiplies and adds in one step; the
// float64 sum of the exact product and vb is that step's result before its rounding).
func blend(g, a, vb float32) float32 {
	return float32(float64(g)*float64(a) + float64(vb))
}

// AdjustSaturation blends every pixel of img in place with its own grey level: f = 0 gives the
// grey image, 1 the image, more saturates. As MindSpore's AdjustSaturation.
func AdjustSaturation(img *RGB, f float64) { saturation(img, &identity, f) }

// saturation writes the saturation adjustment by f of img seen through the value table lut.
func saturation(img *RGB, lut *[256]uint8, f float64) {
	var vb [256]float32 // the image's products of the blend, rounded to float32 as OpenCV's
	a, b := float32(1-f), float32(f)
	for v := range vb {
		vb[v] = float32(lut[v]) * b
	}
	p := img.Pix
	for i := 0; i+2 < len(p); i += 3 {
		q := p[i : i+3 : i+3]
		g := float32(grayCV(lut[q[0]], lut[q[1]], lut[q[2]]))
		q[0], q[1], q[2] = sat8(blend(g, a, vb[q[0]])), sat8(blend(g, a, vb[q[1]])), sat8(blend(g, a, vb[q[2]]))
	}
}

// AdjustHue turns the hue of every pixel of img in place by f of a full turn (f in [-0.5, 0.5]),
// as MindSpore's AdjustHue: to OpenCV's 8-bit HSV with the hue on 0..255, the hue plus
// uint8(f*255) modulo 256, and back.
func AdjustHue(img *RGB, f float64) {
	shift := uint8(int(f * 255)) // MindSpore's static_cast<uint8_t>, wrapping negative shifts
	if shift == 0 {
		return
	}
	p := img.Pix
	for i := 0; i+2 < len(p); i += 3 {
		q := p[i : i+3 : i+3]
		h, s, v := rgbToHSV(q[0], q[1], q[2])
		q[0], q[1], q[2] = hsvToRGB(h+shift, s, v)
	}
}

// hsvShift is the fixed-point precision of OpenCV's 8-bit RGB to HSV conversion.
const hsvShift = 12

// sdiv and hdiv are OpenCV's division tables for the saturation and the full-range (0..255) hue.
var sdiv, hdiv = func() (s, h [256]int32) {
	for i := 1; i < 256; i++ {
		s[i] = int32(math.RoundToEven(float64(255<<hsvShift) / float64(i)))
		h[i] = int32(math.RoundToEven(float64(256<<hsvShift) / (6 * float64(i))))
	}
	return
}()

// rgbToHSV is OpenCV's 8-bit COLOR_RGB2HSV_FULL: hue on 0..255 for the full circle.
func rgbToHSV(r, g, b uint8) (h, s, v uint8) {
	ri, gi, bi := int32(r), int32(g), int32(b)
	vi := max(ri, gi, bi)
	diff := vi - min(ri, gi, bi)
	si := (diff*sdiv[vi] + 1<<(hsvShift-1)) >> hsvShift
	var hi int32
	switch {
	case vi == ri:
		hi = gi - bi
	case vi == gi:
		hi = bi - ri + 2*diff
	default:
		hi = ri - gi + 4*diff
	}
	hi = (hi*hdiv[diff] + 1<<(hsvShift-1)) >> hsvShift
	if hi < 0 {
		hi += 256
	}
	return uint8(min(hi, 255)), uint8(si), uint8(vi)
}

// hsvSector maps the sector of the hue circle to the table entries of blue, green and red.
var hsvSector = [6][3]int{{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}}

// hsvToRGB is OpenCV's 8-bit COLOR_HSV2RGB_FULL, computed in float32 as OpenCV 4 does. (The way
// back divides the circle into 255 hue steps, not the 256 of the way there, as OpenCV does.)
func hsvToRGB(h, s, v uint8) (r, g, b uint8) {
	if s == 0 {
		return v, v, v
	}
	hf := float32(h) * (6.0 / 255)
	sf, vf := float32(s)*(1.0/255), float32(v)*(1.0/255)
	sector := int(hf)
	hf -= float32(sector)
	if sector >= 6 {
		sector, hf = 0, 0
	}
	tab := [4]float32{vf, vf * (1 - sf), vf * (1 - sf*hf), vf * (1 - sf*(1-hf))}
	k := hsvSector[sector]
	return trunc8(tab[k[2]] * 255), trunc8(tab[k[1]] * 255), trunc8(tab[k[0]] * 255)
}

// trunc8 truncates v toward zero into 0..255: OpenCV's 8-bit HSV to RGB truncates, where its
// other conversions round.
func trunc8(v float32) uint8 { return uint8(min(max(v, 0), 255)) }

// Jitter is a random colour adjustment as MindSpore's RandomColorAdjust (torchvision's
// ColorJitter): brightness, contrast and saturation each by a factor drawn uniformly from
// [max(0, 1-j), 1+j], the hue by a fraction of a turn drawn from [-j, j] (j at most 0.5),
// applied in a random order. A zero strength leaves that adjustment out.
type Jitter struct {
	Brightness, Contrast, Saturation, Hue float64
}

// JitterOf reads MindCV's color_jitter: one strength for brightness, contrast and saturation, or
// three, or four with the hue's; none turns the jitter off.
func JitterOf(v []float64) (Jitter, error) {
	switch len(v) {
	case 0:
		return Jitter{}, nil
	case 1:
		return Jitter{v[0], v[0], v[0], 0}, nil
	case 3:
		return Jitter{v[0], v[1], v[2], 0}, nil
	case 4:
		return Jitter{v[0], v[1], v[2], v[3]}, nil
	}
	return Jitter{}, fmt.Errorf("color_jitter %v: want one strength, or three (brightness, contrast, saturation), or four (and hue)", v)
}

// Validate reports a strength out of range, naming MindCV's key.
func (j Jitter) Validate() error {
	for _, s := range [...]float64{j.Brightness, j.Contrast, j.Saturation, j.Hue} {
		if !(s >= 0) || math.IsInf(s, 0) {
			return fmt.Errorf("color_jitter %v: want finite strengths >= 0", j.strengths())
		}
	}
	if j.Hue > 0.5 {
		return fmt.Errorf("color_jitter %v: the hue strength (the fourth value) must be at most 0.5", j.strengths())
	}
	return nil
}

func (j Jitter) strengths() []float64 {
	return []float64{j.Brightness, j.Contrast, j.Saturation, j.Hue}
}

// Off reports whether every strength is zero.
func (j Jitter) Off() bool { return j == Jitter{} }

// Apply adjusts img in place. It draws from rng a permutation of the four adjustments, then the
// factors of those with a non-zero strength (brightness, contrast, saturation, hue), and applies
// them in the permuted order. With all strengths zero it draws nothing.
func (j Jitter) Apply(img *RGB, rng *rand.Rand) {
	lut := identity
	j.applyTo(img, rng, &lut)
	if lut != identity {
		applyLUT(img, &lut)
	}
}

// applyTo is Apply that leaves the adjustments after the last saturation or hue, which map each
// value alone, as a value table in lut (which must come in as the identity): the caller applies it,
// or folds it into the normalisation. Brightness and contrast before a saturation or hue are read
// through the table on the way, not written: one pass over the pixels at most per saturation or
// hue, and none for the others.
func (j Jitter) applyTo(img *RGB, rng *rand.Rand, lut *[256]uint8) {
	if j.Off() {
		return
	}
	order := [4]int{0, 1, 2, 3}
	rng.Shuffle(4, func(a, b int) { order[a], order[b] = order[b], order[a] })
	strength := [4]float64{j.Brightness, j.Contrast, j.Saturation, j.Hue}
	var factor [4]float64
	for k, s := range strength {
		switch {
		case s == 0:
		case k == 3:
			factor[k] = uniform(rng, -s, s)
		default:
			factor[k] = uniform(rng, max(0, 1-s), 1+s)
		}
	}
	for _, k := range order {
		if strength[k] == 0 {
			continue
		}
		switch k {
		case 0:
			brightness(lut, factor[k])
		case 1:
			contrast(lut, img, factor[k])
		case 2:
			saturation(img, lut, factor[k])
			*lut = identity
		case 3:
			if *lut != identity {
				applyLUT(img, lut)
				*lut = identity
			}
			AdjustHue(img, factor[k])
		}
	}
}
