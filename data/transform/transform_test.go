package transform

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnext/resnext/data/internal/alloctest"
)

func grey(w, h int, f func(x, y int) uint8) *RGB {
	img := NewRGB(w, h)
	for y := range h {
		for x := range w {
			v := f(x, y)
			copy(img.Pix[3*(y*w+x):], []uint8{v, v, v})
		}
	}
	return img
}

func row(img *RGB, y int) []uint8 {
	out := make([]uint8, img.W)
	for x := range out {
		out[x] = img.Pix[3*(y*img.W+x)]
	}
	return out
}

// The expected values follow OpenCV's INTER_LINEAR: the centre of output pixel o samples input
// coordinate (o+0.5)*in/out - 0.5, clamped at the edges.
func TestResizeBilinear(t *testing.T) {
	src := grey(2, 1, func(x, _ int) uint8 { return []uint8{0, 200}[x] })
	if got := row(resizeWhole(src, 4, 1), 0); string(got) != string([]uint8{0, 50, 150, 200}) {
		t.Errorf("2 -> 4: got %v, want [0 50 150 200]", got)
	}
	src = grey(6, 1, func(x, _ int) uint8 { return []uint8{10, 20, 30, 50, 100, 0}[x] })
	if got := row(resizeWhole(src, 3, 1), 0); string(got) != string([]uint8{15, 40, 50}) {
		t.Errorf("6 -> 3 (pairs averaged): got %v, want [15 40 50]", got)
	}
	same := grey(5, 3, func(x, y int) uint8 { return uint8(x*40 + y) })
	if got := resizeWhole(same, 5, 3); string(got.Pix) != string(same.Pix) {
		t.Error("resizing to the same size changed the image")
	}
	flat := grey(7, 9, func(int, int) uint8 { return 77 })
	for _, p := range resizeWhole(flat, 3, 20).Pix {
		if p != 77 {
			t.Fatalf("a constant image resized to %d", p)
		}
	}
}

func TestEval(t *testing.T) {
	e := Eval{ImageSize: 224, CropPct: 0.875, Mean: [3]float32{100, 110, 120}, Std: [3]float32{2, 4, 8}}
	if e.ResizeTo() != 256 {
		t.Errorf("ResizeTo = %d, want 256", e.ResizeTo())
	}
	img := NewRGB(320, 240)
	for i := 0; i < len(img.Pix); i += 3 {
		copy(img.Pix[i:], []uint8{100, 130, 200})
	}
	dst := make([]float32, 3*224*224)
	if err := e.Apply(img, dst); err != nil {
		t.Fatal(err)
	}
	plane := 224 * 224
	for c, want := range []float32{0, 5, 10} {
		for _, v := range dst[c*plane : (c+1)*plane] {
			if math.Abs(float64(v-want)) > 1e-6 {
				t.Fatalf("channel %d holds %v, want %v", c, v, want)
			}
		}
	}
	if err := e.Apply(img, dst[:10]); err == nil {
		t.Error("a short destination was accepted")
	}
	if err := (Eval{ImageSize: 224, CropPct: 1.5}).Apply(img, dst); err == nil {
		t.Error("crop_pct 1.5 was accepted")
	}
}

func TestToRGBPalette(t *testing.T) {
	dir := t.TempDir()
	pal := image.NewPaletted(image.Rect(0, 0, 3, 2), color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 100, 50, 255}})
	pal.SetColorIndex(2, 1, 1)
	path := filepath.Join(dir, "p.png")
	f, _ := os.Create(path)
	png.Encode(f, pal)
	f.Close()
	img, err := decodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if img.W != 3 || img.H != 2 || string(img.Pix[:3]) != string([]uint8{10, 20, 30}) || string(img.Pix[15:18]) != string([]uint8{200, 100, 50}) {
		t.Errorf("decoded %dx%d %v", img.W, img.H, img.Pix)
	}
	g := image.NewGray(image.Rect(0, 0, 1, 1))
	g.Pix[0] = 99
	if got := toRGB(g).Pix; string(got) != string([]uint8{99, 99, 99}) {
		t.Errorf("grey to RGB: %v", got)
	}
	bad := filepath.Join(dir, "bad.jpg")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	if _, err := decodeFile(bad); err == nil {
		t.Errorf("garbage: got %v", err)
	}
}

// decodeFile decodes an image file with Go's decoders into RGB.
func decodeFile(path string) (*RGB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, err
	}
	return toRGB(img), nil
}

// toRGB is ToRGBInto a new image.
func toRGB(img image.Image) *RGB {
	out := new(RGB)
	ToRGBInto(img, out)
	return out
}

// Extreme aspect ratios (the shorter side resized to 256 would make the longer one millions of
// pixels) cost memory of the output's size only: the plan works in the picture's coordinates.
func TestExtremeAspectRatiosBounded(t *testing.T) {
	eval := Eval{ImageSize: 224, CropPct: 0.875, Std: [3]float32{1, 1, 1}}
	train := Train{ImageSize: 224, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{0.75, 4.0 / 3}, HFlip: 0.5,
		Std: [3]float32{1, 1, 1}}
	dst := make([]float32, 3*224*224)
	for _, size := range [][2]int{{1, 30000}, {100000, 1}, {1, 1 << 22}, {1, 1}} {
		img := NewRGB(size[0], size[1])
		n := alloctest.Bytes(func() {
			if err := eval.Apply(img, dst); err != nil {
				t.Errorf("eval %v: %v", size, err)
			}
			if err := train.Apply(img, rand.New(rand.NewPCG(1, 2)), dst); err != nil {
				t.Errorf("train %v: %v", size, err)
			}
		})
		if n > 16<<20 {
			t.Errorf("%v: %d MiB allocated", size, n>>20)
		}
	}
	for _, size := range [][2]int{{0, 5}, {5, 0}, {0, 0}} {
		img := NewRGB(size[0], size[1])
		if err := eval.Apply(img, dst); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("eval %v: %v, want an error", size, err)
		}
		if err := train.Apply(img, rand.New(rand.NewPCG(1, 2)), dst); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("train %v: %v, want an error", size, err)
		}
	}
}
