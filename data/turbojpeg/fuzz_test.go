//go:build cgo

package turbojpeg

import (
	"image"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/resnext/resnext/data/jpeg"
)

var fuzzDecoders sync.Pool

// FuzzDecode feeds arbitrary bytes, scales and crops to Decode: no crash, no hang, and a window that
// holds what it says whenever there is no error.
func FuzzDecode(f *testing.F) {
	l := testLib(f)
	// Pictures of at most 4 Mi pixels, so that an input costs little memory.
	old := jpeg.MaxPixels
	jpeg.MaxPixels = 1 << 22
	f.Cleanup(func() { jpeg.MaxPixels = old })
	files, _ := filepath.Glob("testdata/*.jpg")
	for i, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i), uint16(3*i), uint16(i), uint16(20+i), uint16(9))
	}
	f.Fuzz(func(t *testing.T, b []byte, s uint8, x, y, w, h uint16) {
		d, _ := fuzzDecoders.Get().(*Decoder)
		if d == nil {
			var err error
			if d, err = l.NewDecoder(); err != nil {
				t.Fatal(err)
			}
		}
		defer fuzzDecoders.Put(d)
		scale := []int{1, 2, 4, 8}[s%4]
		hdr, err := d.ReadHeader(b)
		if err != nil {
			return
		}
		var crop image.Rectangle
		if hdr.Width > 0 && hdr.Height > 0 && s&4 != 0 {
			sw, sh := (hdr.Width+scale-1)/scale, (hdr.Height+scale-1)/scale
			x0, y0 := int(x)%sw, int(y)%sh
			crop = image.Rect(x0, y0, x0+1+int(w)%(sw-x0), y0+1+int(h)%(sh-y0))
		}
		m, err := d.Decode(b, scale, crop)
		if err != nil {
			return
		}
		if !crop.In(m.Rect) || m.Stride < 3*m.Rect.Dx() || len(m.Pix) != (m.Rect.Dy()-1)*m.Stride+3*m.Rect.Dx() {
			t.Fatalf("crop %v: window %v, stride %d, %d bytes", crop, m.Rect, m.Stride, len(m.Pix))
		}
	})
}
