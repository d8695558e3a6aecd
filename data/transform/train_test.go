package transform

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }

var (
	defScale = [2]float64{0.08, 1}
	defRatio = [2]float64{0.75, 1.333}
)

func TestRandomResizedCropBoxReproducible(t *testing.T) {
	for _, size := range [][2]int{{500, 375}, {37, 91}, {1, 1}, {2, 300}} {
		for seed := range uint64(20) {
			x, y, w, h := RandomResizedCropBox(size[0], size[1], defScale, defRatio, newRand(seed))
			x2, y2, w2, h2 := RandomResizedCropBox(size[0], size[1], defScale, defRatio, newRand(seed))
			if [4]int{x, y, w, h} != [4]int{x2, y2, w2, h2} {
				t.Fatalf("%v seed %d: %v then %v", size, seed, [4]int{x, y, w, h}, [4]int{x2, y2, w2, h2})
			}
			if x < 0 || y < 0 || w < 1 || h < 1 || x+w > size[0] || y+h > size[1] {
				t.Fatalf("%v seed %d: box %v outside the image", size, seed, [4]int{x, y, w, h})
			}
		}
	}
}

func TestRandomResizedCropBoxRange(t *testing.T) {
	const W, H = 500, 400
	rng := newRand(1)
	minScale, maxScale := 2.0, 0.0
	seen := map[[2]int]bool{}
	for range 2000 {
		x, y, w, h := RandomResizedCropBox(W, H, defScale, defRatio, rng)
		seen[[2]int{x, y}] = true
		s := float64(w*h) / (W * H)
		// Rounding each side moves the area and ratio by at most about one pixel per side.
		slackS := float64(w+h+1) / (W * H)
		slackR := 1.0/float64(h) + float64(w)/float64(h*h)
		if s < defScale[0]-slackS || s > defScale[1]+slackS {
			t.Fatalf("box %dx%d has scale %v outside %v", w, h, s, defScale)
		}
		if r := float64(w) / float64(h); r < defRatio[0]-slackR || r > defRatio[1]+slackR {
			t.Fatalf("box %dx%d has ratio %v outside %v", w, h, r, defRatio)
		}
		minScale, maxScale = min(minScale, s), max(maxScale, s)
	}
	if minScale > 0.12 || maxScale < 0.9 {
		t.Errorf("scales over 2000 draws span only [%v, %v] of [0.08, 1]", minScale, maxScale)
	}
	if len(seen) < 1000 {
		t.Errorf("only %d distinct positions in 2000 draws", len(seen))
	}
}

func TestRandomResizedCropBoxFallback(t *testing.T) {
	cases := []struct {
		w, h int
		want [4]int
	}{
		// Far wider than 4:3: no box of ratio <= 1.333 and area >= 8% fits, so the centre crop of
		// full height and width round(10*1.333) = 13.
		{1000, 10, [4]int{493, 0, 13, 10}},
		{10, 1000, [4]int{0, 493, 10, 13}}, // height round(10/0.75) = 13
	}
	for _, c := range cases {
		for seed := range uint64(10) {
			x, y, w, h := RandomResizedCropBox(c.w, c.h, defScale, defRatio, newRand(seed))
			if got := [4]int{x, y, w, h}; got != c.want {
				t.Errorf("%dx%d seed %d: got %v, want %v", c.w, c.h, seed, got, c.want)
			}
		}
	}
	// A scale above 1 never fits: the fallback keeps the whole image when its ratio is in range.
	if x, y, w, h := RandomResizedCropBox(40, 30, [2]float64{2, 3}, defRatio, newRand(0)); [4]int{x, y, w, h} != [4]int{0, 0, 40, 30} {
		t.Errorf("scale 2-3 on 40x30: got %v, want the whole image", [4]int{x, y, w, h})
	}
}

func pixels(img *RGB) [][3]uint8 {
	out := make([][3]uint8, img.W*img.H)
	for i := range out {
		copy(out[i][:], img.Pix[3*i:])
	}
	return out
}

func rgbImage(w, h int, px ...[3]uint8) *RGB {
	img := NewRGB(w, h)
	for i, p := range px {
		copy(img.Pix[3*i:], p[:])
	}
	return img
}

func TestJitter(t *testing.T) {
	img := rgbImage(2, 1, [3]uint8{100, 50, 200}, [3]uint8{20, 40, 60})
	rng := newRand(3)
	Jitter{}.Apply(img, rng)
	if got := pixels(img); !slices.Equal(got, [][3]uint8{{100, 50, 200}, {20, 40, 60}}) {
		t.Errorf("zero jitter changed the image: %v", got)
	}
	if got, want := rng.Uint64(), newRand(3).Uint64(); got != want {
		t.Error("zero jitter drew from the generator")
	}
	// Brightness alone scales every value by one factor in [0.6, 1.4].
	for seed := range uint64(20) {
		img := rgbImage(1, 1, [3]uint8{100, 150, 50})
		Jitter{Brightness: 0.4}.Apply(img, newRand(seed))
		f := float64(img.Pix[0]) / 100
		if f < 0.595 || f > 1.405 || math.Abs(float64(img.Pix[2])-50*f) > 1.01 || math.Abs(float64(img.Pix[1])-150*f) > 1.51 {
			t.Fatalf("seed %d: brightness 0.4 gave %v from (100, 150, 50)", seed, img.Pix)
		}
	}
	// The draws: a permutation of the four, then the factors, applied in the permuted order.
	src := rgbImage(3, 1, [3]uint8{250, 10, 128}, [3]uint8{0, 255, 90}, [3]uint8{30, 60, 240})
	for seed := range uint64(30) {
		got := rgbImage(3, 1, pixels(src)...)
		Jitter{0.4, 0.4, 0.4, 0.2}.Apply(got, newRand(seed))
		rng := newRand(seed)
		order := [4]int{0, 1, 2, 3}
		rng.Shuffle(4, func(a, b int) { order[a], order[b] = order[b], order[a] })
		var f [4]float64
		for k := range 3 {
			f[k] = 0.6 + 0.8*rng.Float64()
		}
		f[3] = -0.2 + 0.4*rng.Float64()
		want := rgbImage(3, 1, pixels(src)...)
		for _, k := range order {
			[]func(*RGB, float64){AdjustBrightness, AdjustContrast, AdjustSaturation, AdjustHue}[k](want, f[k])
		}
		if !slices.Equal(pixels(got), pixels(want)) {
			t.Fatalf("seed %d: got %v, want %v (order %v, factors %v)", seed, pixels(got), pixels(want), order, f)
		}
	}
}

func gradient(w, h int) *RGB {
	img := NewRGB(w, h)
	for y := range h {
		for x := range w {
			copy(img.Pix[3*(y*w+x):], []uint8{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256)})
		}
	}
	return img
}

func TestTrainApply(t *testing.T) {
	tr := Train{ImageSize: 16, Scale: defScale, Ratio: defRatio, HFlip: 0.5, Jitter: Jitter{0.4, 0.4, 0.4, 0.1},
		Mean: [3]float32{10, 20, 30}, Std: [3]float32{2, 4, 5}}
	flat := NewRGB(50, 40)
	for i := range flat.Pix {
		flat.Pix[i] = 70
	}
	dst := make([]float32, 3*16*16)
	if err := (Train{ImageSize: 16, Scale: defScale, Ratio: defRatio, HFlip: 0.5,
		Mean: tr.Mean, Std: tr.Std}).Apply(flat, newRand(1), dst); err != nil {
		t.Fatal(err)
	}
	for i, v := range dst {
		c := i / 256
		if want := (70 - tr.Mean[c]) / tr.Std[c]; v != want {
			t.Fatalf("constant image: value %d is %v, want %v", i, v, want)
		}
	}
	img := gradient(64, 48)
	a, b := make([]float32, len(dst)), make([]float32, len(dst))
	if err := tr.Apply(img, newRand(5), a); err != nil {
		t.Fatal(err)
	}
	if err := tr.Apply(img, newRand(5), b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different outputs")
	}
	if err := tr.Apply(img, newRand(6), b); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a, b) {
		t.Error("different seeds gave the same output")
	}
	// Without jitter and flip, the output is the crop box resized and normalised.
	plain := Train{ImageSize: 16, Scale: defScale, Ratio: defRatio, Mean: [3]float32{}, Std: [3]float32{1, 1, 1}}
	if err := plain.Apply(img, newRand(9), a); err != nil {
		t.Fatal(err)
	}
	x, y, w, h := RandomResizedCropBox(64, 48, defScale, defRatio, newRand(9))
	crop := NewRGB(w, h)
	for r := range h {
		copy(crop.Pix[3*r*w:][:3*w], img.Pix[3*((y+r)*img.W+x):])
	}
	resized := resizeWhole(crop, 16, 16)
	for i, v := range resized.Pix {
		b[(i%3)*256+i/3] = float32(v)
	}
	if !slices.Equal(a, b) {
		t.Error("train transform without flip and jitter differs from crop, resize, normalise")
	}
	if err := tr.Apply(img, newRand(1), dst[:5]); err == nil {
		t.Error("a short destination was accepted")
	}
}

func TestTrainValidate(t *testing.T) {
	good := Train{ImageSize: 224, Scale: defScale, Ratio: defRatio, HFlip: 0.5, Jitter: Jitter{0.4, 0.4, 0.4, 0}, Std: [3]float32{1, 1, 1}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Train){
		"image_resize": func(t *Train) { t.ImageSize = 0 },
		"scale":        func(t *Train) { t.Scale = [2]float64{0.5, 0.1} },
		"ratio":        func(t *Train) { t.Ratio = [2]float64{0, 1} },
		"hflip":        func(t *Train) { t.HFlip = 1.5 },
		"color_jitter": func(t *Train) { t.Jitter.Contrast = -1 },
		"hue":          func(t *Train) { t.Jitter.Hue = 0.6 },
		"std":          func(t *Train) { t.Std[1] = 0 },
	}
	for key, mod := range cases {
		bad := good
		mod(&bad)
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: got %v", key, err)
		}
	}
}

// resizeWhole resizes the whole of img to w x h.
func resizeWhole(img *RGB, w, h int) *RGB {
	out := NewRGB(w, h)
	var r Resampler
	r.Resize(WindowOf(img), BoxOf(image.Rect(0, 0, img.W, img.H)), image.Rect(0, 0, img.W, img.H), out, false)
	return out
}

// A window holding a plan's Need gives the same pixels as the whole picture.
func TestResizeWindow(t *testing.T) {
	img := gradient(61, 37)
	rng := newRand(4)
	tr := Train{ImageSize: 13, Scale: defScale, Ratio: defRatio, HFlip: 0.5}
	ev := Eval{ImageSize: 20, CropPct: 0.875}
	for k := range 40 {
		p := tr.Plan(img.W, img.H, rng)
		if k%2 == 1 {
			var err error
			if p, err = ev.Plan(img.W, img.H); err != nil {
				t.Fatal(err)
			}
		}
		whole, part := NewRGB(p.Out.X, p.Out.Y), NewRGB(p.Out.X, p.Out.Y)
		var r Resampler
		r.Resize(WindowOf(img), p.Box, p.Clip, whole, p.Flip)
		need := p.Need()
		w := Window{Pix: img.Pix[3*(need.Min.Y*img.W+need.Min.X):], Stride: 3 * img.W, Rect: need}
		r.Resize(w, p.Box, p.Clip, part, p.Flip)
		if string(whole.Pix) != string(part.Pix) {
			t.Fatalf("plan %d %+v: the window %v gives other pixels than the whole picture", k, p, need)
		}
	}
	g := make([]uint8, 20*10)
	src := gradient(20, 10)
	for i := range g {
		g[i] = src.Pix[3*i]
	}
	r := resizeWhole(src, 7, 13)
	for i, v := range ResizeGrey(g, 20, 10, 7, 13) {
		if v != r.Pix[3*i] {
			t.Fatalf("ResizeGrey value %d is %d, the red channel of the RGB resize %d", i, v, r.Pix[3*i])
		}
	}
}

// toRGBSlow is the general conversion, through image/draw.
func toRGBSlow(img image.Image) *RGB {
	b := img.Bounds()
	n := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(n, n.Bounds(), img, b.Min, draw.Src)
	out := NewRGB(b.Dx(), b.Dy())
	copyRGB(out, n.Pix, n.Stride)
	return out
}

func TestToRGBFastPaths(t *testing.T) {
	rng := newRand(11)
	fill := func(p []uint8) {
		for i := range p {
			p[i] = uint8(rng.IntN(256))
		}
	}
	r := image.Rect(3, 2, 20, 15)
	var imgs []image.Image
	for _, ss := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		y := image.NewYCbCr(r, ss)
		fill(y.Y)
		fill(y.Cb)
		fill(y.Cr)
		imgs = append(imgs, y, y.SubImage(image.Rect(5, 4, 18, 13)))
	}
	g := image.NewGray(r)
	fill(g.Pix)
	n := image.NewNRGBA(r)
	fill(n.Pix)
	opaque := image.NewRGBA(r)
	fill(opaque.Pix)
	for i := 3; i < len(opaque.Pix); i += 4 {
		opaque.Pix[i] = 255
	}
	translucent := image.NewRGBA(r)
	for i := range translucent.Pix {
		translucent.Pix[i] = uint8(i % 4 * 60)
	}
	imgs = append(imgs, g, g.SubImage(image.Rect(4, 3, 9, 14)), n, n.SubImage(image.Rect(4, 3, 9, 14)),
		opaque, opaque.SubImage(image.Rect(4, 3, 9, 14)), translucent, image.NewCMYK(r))
	var buf bytes.Buffer
	src := image.NewNRGBA(image.Rect(0, 0, 33, 17))
	fill(src.Pix)
	if err := jpeg.Encode(&buf, src, nil); err != nil {
		t.Fatal(err)
	}
	dec, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	imgs = append(imgs, dec)
	for i, img := range imgs {
		got, want := toRGB(img), toRGBSlow(img)
		if got.W != want.W || got.H != want.H || string(got.Pix) != string(want.Pix) {
			t.Errorf("image %d (%T, %v): the direct conversion differs from image/draw's", i, img, img.Bounds())
		}
	}
	if _, ok := dec.(*image.YCbCr); !ok {
		t.Errorf("a decoded JPEG is %T, not YCbCr: the fast path is not tested on one", dec)
	}
}

func TestEvalPlan(t *testing.T) {
	e := Eval{ImageSize: 224, CropPct: 0.875}
	p, err := e.Plan(500, 375) // resized to 341x256, crop offsets 58 and 16
	if err != nil {
		t.Fatal(err)
	}
	sx, sy := 500.0/341, 375.0/256
	want := Box{58 * sx, 16 * sy, 224 * sx, 224 * sy}
	if math.Abs(p.Box.X-want.X)+math.Abs(p.Box.Y-want.Y)+math.Abs(p.Box.W-want.W)+math.Abs(p.Box.H-want.H) > 1e-9 ||
		p.Clip != image.Rect(0, 0, 500, 375) || p.Out != image.Pt(224, 224) || p.Flip {
		t.Errorf("500x375: plan %+v, want box %+v over the whole picture", p, want)
	}
	if _, err := e.Plan(0, 20); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("a 0x20 picture: got %v", err)
	}
	// A 1 x 100000 picture would resize to 40 x 4,000,000; the plan reads only the crop's rows.
	long, err := (Eval{ImageSize: 35, CropPct: 0.875}).Plan(1, 100000)
	if err != nil || long.Need().Dy() > 4 {
		t.Errorf("a 1 x 100000 picture: need %v (%v)", long.Need(), err)
	}
}
