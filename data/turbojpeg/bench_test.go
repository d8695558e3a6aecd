//go:build cgo

package turbojpeg

import (
	"image"
	"os"
	"path/filepath"
	"testing"
)

// benchFolder is an ImageFolder of ImageNet-like JPEGs (about 500x375, quality 90, 4:2:0) written by
// scripts/make_jpeg_folder.py; the benchmark skips when it is absent.
const benchFolder = "/tmp/jf"

// BenchmarkDecodeFolder decodes the training pictures of benchFolder, one per iteration, and reports
// milliseconds per picture: whole pictures at 1/1 and 1/2, and a 224x224 centre crop at 1/1 (the
// TurboJPEG 3 API decodes only its rows and columns; the TurboJPEG 2 API decodes the whole picture).
func BenchmarkDecodeFolder(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(benchFolder, "train", "*", "*.JPEG"))
	if len(files) == 0 {
		b.Skipf("no JPEGs in %s/train (write them with scripts/make_jpeg_folder.py %s)", benchFolder, benchFolder)
	}
	if len(files) > 200 {
		files = files[:200]
	}
	data := make([][]byte, len(files))
	for i, f := range files {
		var err error
		if data[i], err = os.ReadFile(f); err != nil {
			b.Fatal(err)
		}
	}
	l := testLib(b)
	for _, bc := range []struct {
		name  string
		scale int
		crop  int
	}{{"scale1", 1, 0}, {"scale2", 2, 0}, {"scale1-crop224", 1, 224}} {
		b.Run(bc.name, func(b *testing.B) {
			d := newDecoder(b, l)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				buf := data[i%len(data)]
				i++
				var crop image.Rectangle
				if bc.crop > 0 {
					h, err := d.ReadHeader(buf)
					if err != nil {
						b.Fatal(err)
					}
					x0, y0 := (h.Width-bc.crop)/2, (h.Height-bc.crop)/2
					crop = image.Rect(x0, y0, x0+bc.crop, y0+bc.crop)
				}
				if _, err := d.Decode(buf, bc.scale, crop); err != nil {
					b.Fatalf("%s: %v", files[(i-1)%len(files)], err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/img")
		})
	}
}
