package data

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"

	"github.com/resnext/resnext/data/internal/alloctest"
	"github.com/resnext/resnext/data/transform"
)

// memCap is what decoding one hostile or extreme picture may allocate in these tests.
const memCap = 64 << 20

// pngClaiming is a tiny PNG whose header claims a w x h picture of the given bit depth and colour
// type, its IDAT holding one row's worth of data.
func pngClaiming(t testing.TB, w, h int, depth, colourType byte) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// The IHDR chunk follows the 8-byte signature: length, "IHDR", width, height, depth, colour type...
	ihdr := b[8+8 : 8+8+13]
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, colourType
	binary.BigEndian.PutUint32(b[8+8+13:], crc32.ChecksumIEEE(b[8+4:8+8+13]))
	return b
}

// jpegClaiming is a small baseline JPEG whose SOF claims a w x h picture.
func jpegClaiming(t testing.TB, w, h int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(b[i+5:], uint16(h))
	binary.BigEndian.PutUint16(b[i+7:], uint16(w))
	return b
}

// gifClaiming is a small GIF whose screen and frame claim a w x h picture.
func gifClaiming(t testing.TB, w, h int) []byte {
	var buf bytes.Buffer
	if err := gif.Encode(&buf, image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint16(b[6:], uint16(w))
	binary.LittleEndian.PutUint16(b[8:], uint16(h))
	i := bytes.IndexByte(b[13:], 0x2C) + 13 // the image descriptor
	binary.LittleEndian.PutUint16(b[i+5:], uint16(w))
	binary.LittleEndian.PutUint16(b[i+7:], uint16(h))
	return b
}

// bmpClaiming is a BMP header claiming a w x h 24-bit picture, with one row of pixels.
func bmpClaiming(t testing.TB, w, h int) []byte {
	var buf bytes.Buffer
	if err := bmp.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint32(b[18:], uint32(w))
	binary.LittleEndian.PutUint32(b[22:], uint32(h))
	return b
}

// testDecoder is a picture decoder with JPEG decoder dec.
func testDecoder(t testing.TB, dec string) *pictureDecoder {
	t.Helper()
	be, err := chooseJPEG(dec)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newPictureDecoder(be, false)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pad appends zeros to b (after a PNG's IEND, which Go's decoder does not read), making the file
// n bytes long.
func pad(b []byte, n int) []byte { return append(b, make([]byte, n-len(b))...) }

// planFunc is a planner made of a function.
type planFunc func(w, h int) (transform.Plan, error)

func (f planFunc) plan(w, h int) (transform.Plan, error) { return f(w, h) }

var (
	testEval  = transform.Eval{ImageSize: 224, CropPct: 0.875, Std: [3]float32{1, 1, 1}}
	testTrain = transform.Train{ImageSize: 224, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{0.75, 4.0 / 3},
		HFlip: 0.5, Std: [3]float32{1, 1, 1}}
)

// sample decodes and transforms picture b as the eval or the train transform would, with decoder
// dec, through a file (so errors name it), and returns what it allocated.
func sample(t *testing.T, dec string, b []byte, train bool) (uint64, error) {
	t.Helper()
	d := testDecoder(t, dec)
	defer d.close()
	path := filepath.Join(t.TempDir(), "picture")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	rng := rand.New(rand.NewPCG(1, 2))
	var s transform.Scratch
	dst := make([]float32, 3*224*224)
	n := alloctest.Bytes(func() {
		var win transform.Window
		var p transform.Plan
		if train {
			win, p, err = d.decode(path, planFunc(func(w, h int) (transform.Plan, error) { return testTrain.Plan(w, h, rng), nil }))
			if err == nil {
				err = testTrain.Finish(win, p, rng, &s, dst)
			}
		} else {
			win, p, err = d.decode(path, planFunc(testEval.Plan))
			if err == nil {
				err = testEval.Finish(win, p, &s, dst)
			}
		}
	})
	return n, err
}

// Pictures whose headers claim far more pixels than their files hold (the reporter's 74-byte PNG
// asked for 2 GiB) are refused from the header, naming the file and the sizes, with every decoder.
func TestHeaderBombs(t *testing.T) {
	bombs := map[string]struct {
		b    []byte
		want string
	}{
		"png 16384x16384 16-bit RGBA": {pngClaiming(t, 16384, 16384, 16, 6), "16384x16384 pixels in"},
		"png 65535x65535":             {pngClaiming(t, 65535, 65535, 8, 2), "jpeg.MaxPixels"},
		"png 1x2^30":                  {pngClaiming(t, 1, 1<<30, 8, 2), "jpeg.MaxPixels"},
		"jpeg 16384x16384":            {jpegClaiming(t, 16384, 16384), "jpeg.MaxPixelsPerByte"},
		"jpeg 65535x4096":             {jpegClaiming(t, 65535, 4096), "jpeg.MaxPixelsPerByte"},
		"gif 16384x16383":             {gifClaiming(t, 16384, 16383), "jpeg.MaxPixelsPerByte"},
		"bmp 16384x16384":             {bmpClaiming(t, 16384, 16384), "jpeg.MaxPixelsPerByte"},
		// 1 GiB of 16-bit RGBA (128 Mi pixels) from a 16 KiB file: few enough pixels per byte,
		// too many decoded bytes.
		"png 16-bit RGBA in 16 KiB": {pad(pngClaiming(t, 16384, 8192, 16, 6), 16<<10), "decoded bytes per byte"},
		"png 0x5":                   {pngClaiming(t, 0, 5, 8, 2), "picture"},
		"jpeg 0x16":                 {jpegClaiming(t, 0, 16), "picture"},
	}
	for _, dec := range decoders(t) {
		for name, c := range bombs {
			for _, train := range []bool{false, true} {
				n, err := sample(t, dec, c.b, train)
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "picture:") {
					t.Errorf("%s, %s: got %v, want an error naming the file and containing %q", dec, name, err, c.want)
				}
				if n > memCap {
					t.Errorf("%s, %s: %d MiB allocated", dec, name, n>>20)
				}
			}
		}
	}
}

// Extreme but valid aspect ratios make ordinary samples with a bounded amount of memory.
func TestExtremeAspectRatios(t *testing.T) {
	for _, size := range []image.Point{{1, 30000}, {100000, 1}, {3, 70000}, {1, 1}, {2, 1}} {
		img := image.NewGray(image.Rect(0, 0, size.X, size.Y))
		for i := range img.Pix {
			img.Pix[i] = uint8(i)
		}
		var png1, jpg bytes.Buffer
		if err := png.Encode(&png1, img); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{"png": png1.Bytes()}
		if size.X < 65536 && size.Y < 65536 {
			if err := jpeg.Encode(&jpg, img, nil); err != nil {
				t.Fatal(err)
			}
			files["jpeg"] = jpg.Bytes()
		}
		for _, dec := range decoders(t) {
			for kind, b := range files {
				for _, train := range []bool{false, true} {
					n, err := sample(t, dec, b, train)
					if err != nil {
						t.Errorf("%s, %s %v, train %v: %v", dec, kind, size, train, err)
					}
					if n > memCap {
						t.Errorf("%s, %s %v, train %v: %d MiB allocated", dec, kind, size, train, n>>20)
					}
				}
			}
		}
	}
}
