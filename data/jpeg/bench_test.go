package jpeg

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// benchFolder is the folder of realistic JPEGs the benchmarks decode (scripts/make_jpeg_folder.py).
const benchFolder = "/tmp/jf"

// loadBench reads up to 200 JPEGs of the benchmark folder into memory, or skips.
func loadBench(b *testing.B) [][]byte {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join(benchFolder, "train", "*", "*.JPEG"))
	if len(files) == 0 {
		b.Skipf("no JPEGs in %s: make them with /usr/bin/python3 scripts/make_jpeg_folder.py %s", benchFolder, benchFolder)
	}
	sort.Strings(files)
	if len(files) > 200 {
		files = files[:200]
	}
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// benchDecode decodes every image of the set per iteration at the given scale, with crop giving
// the window from the picture size; it reports ms per image.
func benchDecode(b *testing.B, scale int, crop func(w, h int) image.Rectangle) {
	set := loadBench(b)
	var d Decoder
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, data := range set {
			h, err := ReadHeader(data)
			if err != nil {
				b.Fatal(err)
			}
			w, ht := ScaledSize(h.Width, h.Height, scale)
			if _, err := d.Decode(data, scale, crop(w, ht)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N*len(set)), "ms/image")
}

func whole(w, h int) image.Rectangle { return image.Rectangle{} }

// halfArea is a centred window of half the picture's area.
func halfArea(w, h int) image.Rectangle {
	cw, ch := w*7/10, h*7/10
	return image.Rect((w-cw)/2, (h-ch)/2, (w-cw)/2+cw, (h-ch)/2+ch)
}

func BenchmarkDecodeFull(b *testing.B)     { benchDecode(b, 1, whole) }
func BenchmarkDecodeHalfArea(b *testing.B) { benchDecode(b, 1, halfArea) }
func BenchmarkDecodeScale2(b *testing.B)   { benchDecode(b, 2, whole) }
func BenchmarkDecodeScale4(b *testing.B)   { benchDecode(b, 4, whole) }
func BenchmarkDecodeScale8(b *testing.B)   { benchDecode(b, 8, whole) }

// BenchmarkStdlib is image/jpeg's Decode followed by the conversion of its YCbCr image to
// packed RGB, the work Decode replaces.
func BenchmarkStdlib(b *testing.B) { benchStdlib(b, true) }

// BenchmarkStdlibDecodeOnly is image/jpeg's Decode alone.
func BenchmarkStdlibDecodeOnly(b *testing.B) { benchStdlib(b, false) }

func benchStdlib(b *testing.B, convert bool) {
	set := loadBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, data := range set {
			img, err := stdjpeg.Decode(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			if convert {
				toRGB(img)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N*len(set)), "ms/image")
}

// toRGB converts a decoded image to packed RGB.
func toRGB(img image.Image) []uint8 {
	r := img.Bounds()
	out := make([]uint8, 0, 3*r.Dx()*r.Dy())
	if yc, ok := img.(*image.YCbCr); ok {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c := yc.YCbCrAt(x, y)
				rr, gg, bb, _ := c.RGBA()
				out = append(out, uint8(rr>>8), uint8(gg>>8), uint8(bb>>8))
			}
		}
		return out
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			rr, gg, bb, _ := img.At(x, y).RGBA()
			out = append(out, uint8(rr>>8), uint8(gg>>8), uint8(bb>>8))
		}
	}
	return out
}
