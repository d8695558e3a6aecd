package data

import (
	"bytes"
	"compress/gzip"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"

	gojpeg "github.com/resnext/resnext/data/jpeg"
	"github.com/resnext/resnext/data/transform"
)

// FuzzReadIDX reads arbitrary IDX data, plain or (gzipped set) gzipped by the target: no panic, and
// what it returns is what the header says.
func FuzzReadIDX(f *testing.F) {
	good := idxBytes([]int{2, 3, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	for _, b := range [][]byte{
		good, idxBytes([]int{3}, []byte{0, 1, 2}), good[:len(good)-3], good[:7],
		idxBytes([]int{60000, 256, 256}, nil), idxBytes([]int{1<<32 - 1, 1<<32 - 1}, nil),
		idxBytes([]int{0, 28, 28}, nil), {0, 0, 8, 0}, {0, 0, 0x0d, 1}, gz(good)[:12],
	} {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add(gz(good), false)
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	f.Fuzz(func(t *testing.T, b []byte, gzipped bool) {
		if gzipped {
			zbuf.Reset()
			zw.Reset(&zbuf)
			zw.Write(b)
			zw.Close()
			b = zbuf.Bytes()
		}
		x, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			return
		}
		n := 1
		for _, d := range x.Dims {
			if d < 1 {
				t.Fatalf("dimensions %v accepted", x.Dims)
			}
			n *= d
		}
		if len(x.Data) != n {
			t.Fatalf("dimensions %v, %d bytes of data", x.Dims, len(x.Data))
		}
	})
}

// fuzzMaxPixels caps the pictures the fuzz targets decode, so that an input costs little memory
// (4 Mi pixels: at most 32 MiB for a 16-bit RGBA PNG, and 12 MiB as RGB).
const fuzzMaxPixels = 1 << 22

// pictureSeeds are small valid pictures of every format the decoders read, and broken ones.
func pictureSeeds(f *testing.F) [][]byte {
	img := image.NewNRGBA(image.Rect(0, 0, 9, 7))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 37)
	}
	var seeds [][]byte
	var buf bytes.Buffer
	for _, enc := range []func() error{
		func() error { return png.Encode(&buf, img) },
		func() error { return jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}) },
		func() error { return gif.Encode(&buf, img, nil) },
		func() error { return bmp.Encode(&buf, img) },
		func() error { return png.Encode(&buf, image.NewGray16(image.Rect(0, 0, 1, 40))) },
		func() error {
			return gif.Encode(&buf, image.NewPaletted(image.Rect(0, 0, 30, 1), color.Palette{color.Black, color.White}), nil)
		},
	} {
		buf.Reset()
		if err := enc(); err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, bytes.Clone(buf.Bytes()))
	}
	files, _ := filepath.Glob(filepath.Join("jpeg", "testdata", "*.jpg"))
	for _, name := range files[:min(len(files), 6)] {
		if b, err := os.ReadFile(name); err == nil && len(b) < 16<<10 {
			seeds = append(seeds, b)
		}
	}
	return append(seeds, pngClaiming(f, 16384, 16384, 16, 6), jpegClaiming(f, 16384, 16384), gifClaiming(f, 4000, 4000),
		bmpClaiming(f, 3000, 3000), pngClaiming(f, 0, 5, 8, 2), []byte("\x89PNG\r\n\x1a\nbroken"), seeds[1][:len(seeds[1])/2])
}

// FuzzDecodePicture decodes arbitrary files as an image folder does (the Go JPEG decoder, Go's
// PNG, GIF, BMP and WebP decoders, image/jpeg for the JPEGs the Go decoder refuses) and makes the
// eval or the train sample of each picture decoded: no panic, and a sample of finite values.
func FuzzDecodePicture(f *testing.F) {
	for i, b := range pictureSeeds(f) {
		f.Add(b, i%2 == 0, uint64(i))
	}
	old := gojpeg.MaxPixels
	gojpeg.MaxPixels = fuzzMaxPixels
	f.Cleanup(func() { gojpeg.MaxPixels = old })
	d := &pictureDecoder{}
	const size = 32
	eval := transform.Eval{ImageSize: size, CropPct: 0.875, Std: [3]float32{1, 1, 1}}
	train := transform.Train{ImageSize: size, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{0.75, 4.0 / 3}, HFlip: 0.5,
		Jitter: transform.Jitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}, Std: [3]float32{1, 1, 1}}
	var s transform.Scratch
	dst := make([]float32, 3*size*size)
	f.Fuzz(func(t *testing.T, b []byte, isTrain bool, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var pl planner = planFunc(eval.Plan)
		if isTrain {
			pl = planFunc(func(w, h int) (transform.Plan, error) { return train.Plan(w, h, rng), nil })
		}
		win, p, err := d.decodeBytes(b, pl)
		if err != nil {
			return
		}
		if !p.Need().In(win.Rect) {
			t.Fatalf("window %v does not hold the plan's %v", win.Rect, p.Need())
		}
		if isTrain {
			err = train.Finish(win, p, rng, &s, dst)
		} else {
			err = eval.Finish(win, p, &s, dst)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range dst {
			if v != v || v < -1 || v > 256 {
				t.Fatalf("sample value %v", v)
			}
		}
	})
}
