package testutil

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// WriteImageFolder writes an ImageFolder root/{train,val}/<class>/ with n images per class in each
// split, size pixels high and size+3i wide (JPEG, PNG and upper-case .JPEG in turn): noise around a
// colour of the class's own, so the classes can be told apart.
func WriteImageFolder(t testing.TB, root string, classes []string, n, size int) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	for _, split := range []string{"train", "val"} {
		for k, class := range classes {
			d := filepath.Join(root, split, class)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			base := color.RGBA{uint8(40 * k), uint8(255 - 25*k), uint8(100 + 15*k), 255}
			for i := range n {
				img := image.NewRGBA(image.Rect(0, 0, size+3*i, size))
				jitter := func(v uint8) uint8 { return uint8(min(255, max(0, int(v)+r.IntN(41)-20))) }
				for y := range img.Bounds().Dy() {
					for x := range img.Bounds().Dx() {
						img.Set(x, y, color.RGBA{jitter(base.R), jitter(base.G), jitter(base.B), 255})
					}
				}
				f, err := os.Create(filepath.Join(d, []string{"a", "b", "c"}[i%3]+string(rune('0'+i/3))+[]string{".jpg", ".png", ".JPEG"}[i%3]))
				if err != nil {
					t.Fatal(err)
				}
				if i%3 == 1 {
					err = png.Encode(f, img)
				} else {
					err = jpeg.Encode(f, img, &jpeg.Options{Quality: 90})
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
