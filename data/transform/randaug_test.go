package transform

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// raCase is one entry of testdata/randaug/manifest.json (scripts/gen_randaug_fixtures.py).
type raCase struct {
	File     string  `json:"file"`
	Op       string  `json:"op"`
	Arg      float64 `json:"arg"`
	Resample string  `json:"resample"`
}

// raManifest is testdata/randaug/manifest.json.
type raManifest struct {
	Width  int      `json:"width"`
	Height int      `json:"height"`
	Fill   [3]uint8 `json:"fill"`
	Cases  []raCase `json:"cases"`
}

// raLoad reads the manifest and the input image of the fixtures.
func raLoad(t *testing.T) (raManifest, *RGB) {
	t.Helper()
	var m raManifest
	b, err := os.ReadFile(filepath.Join("testdata", "randaug", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m, raReadRGB(t, "input.rgb", m.Width, m.Height)
}

// raReadRGB reads a raw w x h RGB fixture.
func raReadRGB(t *testing.T, name string, w, h int) *RGB {
	t.Helper()
	pix, err := os.ReadFile(filepath.Join("testdata", "randaug", name))
	if err != nil {
		t.Fatal(err)
	}
	if len(pix) != 3*w*h {
		t.Fatalf("%s: %d bytes for a %dx%d RGB image", name, len(pix), w, h)
	}
	return &RGB{W: w, H: h, Pix: pix}
}

// raRun applies the operation a fixture names to a copy of in.
func raRun(t *testing.T, c raCase, in *RGB, fill [3]uint8) *RGB {
	t.Helper()
	img := &RGB{W: in.W, H: in.H, Pix: append([]uint8(nil), in.Pix...)}
	dst := &RGB{}
	filter, err := ParseAffineFilter(c.Resample)
	if c.Resample != "" && err != nil {
		t.Fatal(err)
	}
	geometric := map[string][6]float64{
		"rotate":     raRotateMatrix(in.W, in.H, c.Arg),
		"shearx":     raShearXMatrix(in.H, c.Arg),
		"sheary":     raShearYMatrix(in.W, c.Arg),
		"translatex": raTranslateMatrix(in.W, in.H, c.Arg, 0),
		"translatey": raTranslateMatrix(in.W, in.H, 0, c.Arg),
	}
	switch c.Op {
	case "autocontrast":
		pilAutoContrast(img)
	case "equalize":
		pilEqualize(img)
	case "invert":
		pilSolarize(img, 0)
	case "posterize":
		pilPosterize(img, int(c.Arg))
	case "solarize":
		pilSolarize(img, int(c.Arg))
	case "color":
		AdjustSaturation(img, c.Arg)
	case "contrast":
		AdjustContrast(img, c.Arg)
	case "brightness":
		AdjustBrightness(img, c.Arg)
	case "sharpness":
		pilSharpness(dst, img, c.Arg)
		return dst
	default:
		m, ok := geometric[c.Op]
		if !ok {
			t.Fatalf("%s: unknown op %q", c.File, c.Op)
		}
		pilAffine(dst, img, m, filter, fill)
		return dst
	}
	return img
}

// raDiff counts the values of a and b that differ and the largest difference.
func raDiff(a, b []uint8) (n, maxDiff int) {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d != 0 {
			n++
			maxDiff = max(maxDiff, d, -d)
		}
	}
	return n, maxDiff
}

// The point operations and enhancements (Pillow's, and OpenCV's for Brightness, Contrast and Color)
// are integer (or float32, reproduced step by step) arithmetic: they must match exactly. The
// pilAffine warps compute in float64 as Pillow does; the only differences allowed come from
// math.Tan/Sin/Cos against the C library's last bit, which can move a truncation by one: at most 1
// apart, in at most 0.5% of values (measured: none).
func TestRandAugmentOpsAgainstPillow(t *testing.T) {
	m, in := raLoad(t)
	for _, c := range m.Cases {
		t.Run(strings.TrimSuffix(c.File, ".rgb"), func(t *testing.T) {
			want := raReadRGB(t, c.File, m.Width, m.Height)
			got := raRun(t, c, in, m.Fill)
			n, maxDiff := raDiff(got.Pix, want.Pix)
			switch {
			case c.Resample == "" && n > 0:
				t.Errorf("%d of %d values differ from Pillow's (largest difference %d)", n, len(want.Pix), maxDiff)
			case c.Resample != "" && (maxDiff > 1 || float64(n) > 0.005*float64(len(want.Pix))):
				t.Errorf("%d of %d values differ from Pillow's, largest difference %d: want at most 1 in 0.5%%", n, len(want.Pix), maxDiff)
			}
			if n > 0 {
				t.Logf("%d values differ, largest by %d", n, maxDiff)
			}
		})
	}
}

// pyRound15 agrees with the correctly rounded decimal string (what Python's round does) on the
// sines and cosines rotations use and on ties.
func TestPyRound15(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	vals := []float64{0, 1, -1, 0.5, 1.0 / 65536, 3.0 / 65536, -5.0 / 131072, 0.1, 0.7071067811865476}
	for range 100000 {
		a := rng.Float64() * 720
		vals = append(vals, math.Cos(pyRadians(a)), math.Sin(-pyRadians(a)), rng.Float64()*2-1)
	}
	for _, v := range vals {
		want, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 15, 64), 64)
		if got := pyRound15(v); got != want {
			t.Fatalf("pyRound15(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestFillFromMean(t *testing.T) {
	got := FillFromMean([3]float32{0.485 * 255, 0.456 * 255, 0.406 * 255})
	if got != [3]uint8{124, 116, 104} {
		t.Errorf("FillFromMean(ImageNet mean) = %v, want MindCV's (124, 116, 104)", got)
	}
	if got := FillFromMean([3]float32{0.5, 1.5, 300}); got != [3]uint8{0, 2, 255} {
		t.Errorf("FillFromMean(0.5, 1.5, 300) = %v, want (0, 2, 255): half to even, capped", got)
	}
}

func TestNewRandAugmentSpec(t *testing.T) {
	p := RandAugmentParams{ImgMean: [3]uint8{124, 116, 104}}
	for _, tc := range []struct {
		spec                string
		m, std, max         float64
		n                   int
		increasing, weights bool
	}{
		{"randaug", 10, 0.5, 10, 2, false, false},
		{"randaug-m9-mstd0.5", 9, 0.5, 10, 2, false, false},
		{"randaug-m7-mstd0.5-inc1", 7, 0.5, 10, 2, true, false},
		{"randaug-inc0-n3-m5-mstd1", 5, 1, 10, 3, false, false},
		{"randaug-w0-n3-mstd0.5", 10, 0.5, 10, 3, false, true},
		{"randaug-m15-mmax20-mstd101", 15, math.Inf(1), 20, 2, false, false},
		{"randaug-m9-mmax0-mstd0", 9, 0, 10, 2, false, false},
	} {
		r, err := NewRandAugment(tc.spec, p)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		inc := &r.table[4] == &raIncreasingTransforms[4]
		if r.magnitude != tc.m || r.std != tc.std || r.max != tc.max || r.layers != tc.n || inc != tc.increasing || (r.weights != nil) != tc.weights {
			t.Errorf("%s: m %v std %v max %v n %d increasing %v weights %v, want %v %v %v %d %v %v", tc.spec,
				r.magnitude, r.std, r.max, r.layers, inc, r.weights != nil, tc.m, tc.std, tc.max, tc.n, tc.increasing, tc.weights)
		}
		if r.translate != 0.45 || r.prob != 0.5 || r.fill != p.ImgMean {
			t.Errorf("%s: translate_pct %v, prob %v, fill %v", tc.spec, r.translate, r.prob, r.fill)
		}
	}
	for _, tc := range []struct{ spec, want string }{
		{"autoaug-m9", `starts with "randaug"`},
		{"randaug-m9-x3", `part "x3": unknown key "x"`},
		{"randaug-m9-mstd", `part "mstd": no value`},
		{"randaug--m9", `part "": no value`},
		{"randaug-m9.5", `part "m9.5": m wants an integer, got "9.5"`},
		{"randaug-mstd0.5x", `part "mstd0.5x": mstd wants a number`},
		{"randaug-w1", `part "w1": MindCV has one set of choice weights, w0`},
		{"randaug-w0-n14", `n14 with w0`},
	} {
		_, err := NewRandAugment(tc.spec, p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.spec) {
			t.Errorf("%s: error %v, want one naming the spec and %s", tc.spec, err, tc.want)
		}
	}
	if _, err := NewRandAugment("randaug", RandAugmentParams{TranslatePct: 1.5}); err == nil || !strings.Contains(err.Error(), "translate_pct 1.5") {
		t.Errorf("translate_pct 1.5: error %v", err)
	}
}

func TestParseAffineFilter(t *testing.T) {
	for name, want := range map[string]AffineFilter{"bilinear": AffineBilinear, "BICUBIC": AffineBicubic, "nearest": AffineNearest, "area": AffineBilinear, "random": AffineRandom} {
		if got, err := ParseAffineFilter(name); err != nil || got != want {
			t.Errorf("ParseAffineFilter(%q) = %v, %v, want %v", name, got, err, want)
		}
	}
	if _, err := ParseAffineFilter("lanczos"); err == nil || !strings.Contains(err.Error(), `interpolation "lanczos"`) {
		t.Errorf("lanczos: error %v", err)
	}
}

// The operation choice is uniform over the table (chi-square over 14 cells, 13 degrees of
// freedom: the 99.9% quantile is 34.5), and weighted choice without replacement follows w0.
func TestRandAugmentChoice(t *testing.T) {
	r, err := NewRandAugment("randaug-m9-mstd0.5", RandAugmentParams{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const draws = 140000
	var counts [14]int
	var used uint32
	for range draws {
		counts[r.choose(rng, &used)]++
	}
	chi2 := 0.0
	for _, n := range counts {
		e := draws / 14.0
		chi2 += (float64(n) - e) * (float64(n) - e) / e
	}
	if chi2 > 34.5 {
		t.Errorf("uniform choice: chi-square %.1f over 13 degrees of freedom (counts %v)", chi2, counts)
	}

	w, err := NewRandAugment("randaug-w0-n2", RandAugmentParams{})
	if err != nil {
		t.Fatal(err)
	}
	var first [14]int
	const pairs = 100000
	for range pairs {
		var used uint32
		a, b := w.choose(rng, &used), w.choose(rng, &used)
		if a == b || raChoiceWeights0[a] == 0 || raChoiceWeights0[b] == 0 {
			t.Fatalf("weighted choice gave %v and %v", raTransforms[a], raTransforms[b])
		}
		first[a]++
	}
	for i, n := range first {
		p := raChoiceWeights0[i]
		if sd := math.Sqrt(p * (1 - p) / pairs); math.Abs(float64(n)/pairs-p) > 5*sd+1e-9 {
			t.Errorf("%v first with frequency %.4f, want %.4f", raTransforms[i], float64(n)/pairs, p)
		}
	}
}

// Magnitudes with mstd 0.5 around m5 have mean 5 and std 0.5 (the clamp, 10 standard deviations
// away, never acts); around m10 the clamp at 10 takes half of them.
func TestRandAugmentMagnitude(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	r, _ := NewRandAugment("randaug-m5-mstd0.5", RandAugmentParams{})
	const n = 200000
	var sum, sq float64
	for range n {
		m := r.sampleMagnitude(rng)
		sum += m
		sq += m * m
	}
	mean := sum / n
	std := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean-5) > 0.005 || math.Abs(std-0.5) > 0.005 {
		t.Errorf("m5 mstd0.5: mean %.4f std %.4f, want 5 and 0.5", mean, std)
	}
	r10, _ := NewRandAugment("randaug-m10-mstd0.5", RandAugmentParams{})
	atMax := 0
	for range n {
		m := r10.sampleMagnitude(rng)
		if m > 10 || m < 0 {
			t.Fatalf("magnitude %v outside [0, 10]", m)
		}
		if m == 10 {
			atMax++
		}
	}
	if f := float64(atMax) / n; math.Abs(f-0.5) > 0.01 {
		t.Errorf("m10 mstd0.5: %.3f of the magnitudes clamped to 10, want 0.5", f)
	}
	u, _ := NewRandAugment("randaug-m8-mstd200", RandAugmentParams{})
	sum = 0
	for range n {
		m := u.sampleMagnitude(rng)
		if m < 0 || m > 8 {
			t.Fatalf("uniform magnitude %v outside [0, 8]", m)
		}
		sum += m
	}
	if mean := sum / n; math.Abs(mean-4) > 0.03 {
		t.Errorf("mstd200: mean magnitude %.3f, want 4 (uniform in [0, 8])", mean)
	}
}

// raTestImage is a deterministic textured w x h image.
func raTestImage(w, h int, seed uint64) *RGB {
	rng := rand.New(rand.NewPCG(seed, 7))
	img := NewRGB(w, h)
	for i := range img.Pix {
		img.Pix[i] = uint8(20 + (i*37/(3*w))%150 + rng.IntN(64))
	}
	return img
}

// The same seed gives the same output, the result is img or tmp, and with every operation
// forced to run the output changes.
func TestRandAugmentApplyReproducible(t *testing.T) {
	r, err := NewRandAugment("randaug-m9-mstd0.5", RandAugmentParams{ImgMean: [3]uint8{124, 116, 104}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(seed uint64) []uint8 {
		img, tmp := raTestImage(64, 48, 5), &RGB{}
		out := r.Apply(img, tmp, rand.New(rand.NewPCG(seed, 0)))
		if out != img && out != tmp {
			t.Fatal("Apply returned neither img nor tmp")
		}
		if out.W != 64 || out.H != 48 {
			t.Fatalf("Apply gave a %dx%d image", out.W, out.H)
		}
		return append([]uint8(nil), out.Pix...)
	}
	for seed := range uint64(20) {
		if a, b := run(seed), run(seed); string(a) != string(b) {
			t.Fatalf("seed %d: two runs differ", seed)
		}
	}
	if string(run(1)) == string(run(2)) && string(run(2)) == string(run(3)) {
		t.Error("three seeds gave the same output")
	}
	always := *r
	always.prob, always.layers = 1, 1
	for op := range raOp(len(raOpNames)) {
		always.table = []raOp{op}
		img, tmp := raTestImage(64, 48, 5), &RGB{}
		before := append([]uint8(nil), img.Pix...)
		out := always.Apply(img, tmp, rand.New(rand.NewPCG(9, 9)))
		if string(out.Pix) == string(before) {
			t.Errorf("%v at m9 left the image unchanged", op)
		}
	}
}

// Each operation at the level MindCV maps it from gives the argument MindCV's level functions
// compute (checked through the operation's output against the primitive at that argument).
func TestRandAugmentLevels(t *testing.T) {
	cases := []struct {
		op   raOp
		want func(img *RGB, neg bool) *RGB
	}{
		{raPosterize, func(img *RGB, _ bool) *RGB { pilPosterize(img, 5); return img }},           // int(3.6) = 3 -> 8-3 bits
		{raPosterizeIncreasing, func(img *RGB, _ bool) *RGB { pilPosterize(img, 7); return img }}, // 4-3 = 1 -> 7 bits
		{raSolarize, func(img *RGB, _ bool) *RGB { pilSolarize(img, 229); return img }},           // int(0.9*255)
		{raSolarizeIncreasing, func(img *RGB, _ bool) *RGB { pilSolarize(img, 26); return img }},  // 255-229
		{raColor, func(img *RGB, _ bool) *RGB { AdjustSaturation(img, 0.9*1.8+0.1); return img }},
		{raContrastIncreasing, func(img *RGB, neg bool) *RGB { AdjustContrast(img, 1+raSign(neg)*0.81); return img }},
		{raRotate, func(img *RGB, neg bool) *RGB {
			return raWarp(img, raRotateMatrix(img.W, img.H, raSign(neg)*27))
		}},
		{raShearX, func(img *RGB, neg bool) *RGB { return raWarp(img, raShearXMatrix(img.H, -raSign(neg)*0.27)) }},
		{raTranslateY, func(img *RGB, neg bool) *RGB {
			return raWarp(img, raTranslateMatrix(img.W, img.H, 0, raSign(neg)*0.9*0.45))
		}},
	}
	r, _ := NewRandAugment("randaug-m9-mstd0", RandAugmentParams{ImgMean: [3]uint8{1, 2, 3}})
	r.prob = 1
	for _, tc := range cases {
		r.table = []raOp{tc.op}
		r.layers = 1
		// The draws: choice, then (prob is 1, mstd 0) the sign, then nothing else with a fixed filter.
		seed := rand.NewPCG(11, 12)
		probe := rand.New(seed)
		probe.IntN(1)
		neg := probe.Float64() > 0.5
		img := raTestImage(40, 30, 3)
		got := r.Apply(img, &RGB{}, rand.New(rand.NewPCG(11, 12)))
		want := tc.want(raTestImage(40, 30, 3), neg)
		if string(got.Pix) != string(want.Pix) {
			t.Errorf("%v at m9: output differs from the primitive at MindCV's argument", tc.op)
		}
	}
}

// raSign is -1 when neg, else 1.
func raSign(neg bool) float64 {
	if neg {
		return -1
	}
	return 1
}

// raWarp is pilAffine into a new image, bilinear, with the fill of TestRandAugmentLevels.
func raWarp(img *RGB, m [6]float64) *RGB {
	dst := &RGB{}
	pilAffine(dst, img, m, AffineBilinear, [3]uint8{1, 2, 3})
	return dst
}

// Apply allocates nothing once tmp is grown, whatever the operation and filter.
func TestRandAugmentNoAllocs(t *testing.T) {
	r, _ := NewRandAugment("randaug-m9-mstd0.5", RandAugmentParams{Filter: AffineRandom})
	img, tmp := raTestImage(32, 32, 1), NewRGB(32, 32)
	rng := rand.New(rand.NewPCG(5, 6))
	one := *r
	one.prob, one.layers = 1, 1
	for op := range raOp(len(raOpNames)) {
		one.table = []raOp{op}
		if n := testing.AllocsPerRun(20, func() { one.Apply(img, tmp, rng) }); n != 0 {
			t.Errorf("%v allocates %v times per call", op, n)
		}
	}
	if n := testing.AllocsPerRun(200, func() { r.Apply(img, tmp, rng) }); n != 0 {
		t.Errorf("Apply allocates %v times per call", n)
	}
}

func BenchmarkRandAugmentApply(b *testing.B) {
	for _, spec := range []string{"randaug-m9-mstd0.5", "randaug-m9-mstd0.5-inc1"} {
		b.Run(spec, func(b *testing.B) {
			r, err := NewRandAugment(spec, RandAugmentParams{ImgMean: [3]uint8{124, 116, 104}})
			if err != nil {
				b.Fatal(err)
			}
			src := raTestImage(224, 224, 1)
			img, tmp := NewRGB(224, 224), NewRGB(224, 224)
			rng := rand.New(rand.NewPCG(1, 1))
			b.ReportAllocs()
			for b.Loop() {
				copy(img.Pix, src.Pix)
				r.Apply(img, tmp, rng)
			}
		})
	}
}

// BenchmarkRandAugmentOp times every operation on its own on a 224x224 image.
func BenchmarkRandAugmentOp(b *testing.B) {
	r, _ := NewRandAugment("randaug-m9-mstd0", RandAugmentParams{})
	src := raTestImage(224, 224, 1)
	for op := range raOp(len(raOpNames)) {
		for _, f := range []AffineFilter{AffineBilinear, AffineBicubic} {
			if f == AffineBicubic && (op < raRotate || op > raTranslateY || (op > raRotate && op < raShearX)) {
				continue
			}
			name := op.String()
			if f == AffineBicubic {
				name += "/bicubic"
			}
			b.Run(name, func(b *testing.B) {
				img, tmp := NewRGB(224, 224), NewRGB(224, 224)
				rng := rand.New(rand.NewPCG(1, 1))
				rr := *r
				rr.filter = f
				for b.Loop() {
					copy(img.Pix, src.Pix)
					rr.applyOp(op, 9, img, tmp, rng)
				}
			})
		}
	}
}
