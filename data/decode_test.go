package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/data/imagenet"
	"github.com/resnext/resnext/data/jpeg"
	"github.com/resnext/resnext/data/npy"
	"github.com/resnext/resnext/data/transform"
	"github.com/resnext/resnext/internal/testutil"
)

// decoders are the jpeg_decoder settings to test: go always, libjpeg-turbo where it is installed.
func decoders(t *testing.T) []string {
	names := []string{DecoderGo}
	if _, err := chooseJPEG(DecoderTurbo); err == nil {
		names = append(names, DecoderTurbo)
	} else {
		t.Logf("libjpeg-turbo is not installed (apt-get install libturbojpeg0): only the Go decoder is tested: %v", err)
	}
	return names
}

// The eval samples of the fixture pictures against torchvision with MindSpore's arithmetic
// (scripts/gen_pipeline_fixtures.py: bilinear without antialiasing, rounded to 8 bits), and
// against torchvision's usual antialiased resize. Both decoders decode as PIL does, so the
// difference is the resize's rounding alone: at most one 8-bit level (OpenCV's 11-bit fixed-point
// weights against torch's float ones), on at most 2% of the values. The antialiased resize is a
// different filter: the mean difference is 3 to 4.4 levels on these textured pictures, under 5.
func TestEvalAgainstTorchvision(t *testing.T) {
	root := filepath.Join("testdata", "pipeline")
	for _, dec := range decoders(t) {
		for _, upright := range []bool{false, true} {
			o := DefaultOptions()
			o.DataDir, o.Split, o.Train, o.ImageSize, o.JPEGDecoder, o.ExifOrientation = root, "val", false, 48, dec, upright
			ds, err := Open(o)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, 3*48*48)
			for i := range ds.Len() {
				stem := strings.TrimSuffix(filepath.Base(ds.Name(i)), filepath.Ext(ds.Name(i)))
				if upright && stem != "turned" {
					continue
				}
				if err := ds.Load(i, nil, got); err != nil {
					t.Fatal(err)
				}
				name := stem + ".npy"
				if upright {
					name = stem + ".upright.npy"
				}
				levels, off := diffLevels(t, got, filepath.Join(root, name))
				if slices.Max(levels) > 1.001 || off > 0.02 {
					t.Errorf("%s, %s: %.1f%% of the values differ from torchvision's, by up to %.2f levels", dec, name, 100*off, slices.Max(levels))
				}
				if upright {
					continue
				}
				levels, _ = diffLevels(t, got, filepath.Join(root, stem+".pil.npy"))
				if m := mean(levels); m > 5 {
					t.Errorf("%s, %s: %.2f levels from torchvision's antialiased pipeline on average", dec, stem, m)
				}
			}
		}
	}
}

// diffLevels compares a sample with a .npy reference, in 8-bit levels (the normalised difference
// times the channel's std), and gives the fraction of values that differ by more than 0.01 level.
func diffLevels(t *testing.T, got []float32, path string) ([]float64, float64) {
	t.Helper()
	a, err := npy.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := a.Float32()
	if len(want) != len(got) {
		t.Fatalf("%s: %d values, the sample has %d", path, len(want), len(got))
	}
	std := imagenet.Std
	plane := len(got) / 3
	levels := make([]float64, len(got))
	off := 0
	for i := range got {
		levels[i] = math.Abs(float64(got[i]-want[i])) * float64(std[i/plane])
		if levels[i] > 0.01 {
			off++
		}
	}
	return levels, float64(off) / float64(len(got))
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// photo is a textured w x h picture, encoded as a JPEG of quality q.
func photo(t *testing.T, w, h, q int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			n := func(a float64) uint8 {
				v := 128 + 90*math.Sin(float64(x)/a+float64(y)/(a+4)) + r.NormFloat64()*10
				return uint8(min(max(v, 0), 255))
			}
			img.Set(x, y, color.RGBA{n(9), n(13), n(21), 255})
		}
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Decoding at 1/2, 1/4 or 1/8 in the DCT domain against decoding in full and averaging each s x s
// block (the downscale the DCT's does): within 1.5 levels on average, on each decoder. The
// pipeline then resizes the smaller picture; against resizing the full one by plain bilinear
// interpolation (which, shrinking by more than 2, skips pixels and aliases) the samples differ
// more, and the test logs by how much.
func TestScaledDecodingTolerance(t *testing.T) {
	dir := t.TempDir()
	sizes := [][2]int{{1000, 750}, {700, 1400}, {333, 500}}
	for i, size := range sizes {
		p := filepath.Join(dir, "train", "c", fmt.Sprintf("p%d.jpg", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, photo(t, size[0], size[1], 90, uint64(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dec := range decoders(t) {
		d := testDecoder(t, dec)
		decodeAt := func(b []byte, s int) jpeg.Image {
			t.Helper()
			img, err := d.decodeWindow(b, s, image.Rectangle{})
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
		for i := range sizes {
			b, err := os.ReadFile(filepath.Join(dir, "train", "c", fmt.Sprintf("p%d.jpg", i)))
			if err != nil {
				t.Fatal(err)
			}
			full := decodeAt(b, 1)
			fullPix := slices.Clone(full.Pix)
			for _, s := range []int{2, 4, 8} {
				small := decodeAt(b, s)
				w, h := full.Rect.Dx()/s, full.Rect.Dy()/s
				var sum float64
				for y := range h {
					for x := range w {
						for c := range 3 {
							box := 0
							for dy := range s {
								for dx := range s {
									box += int(fullPix[(s*y+dy)*full.Stride+3*(s*x+dx)+c])
								}
							}
							v := small.Pix[y*small.Stride+3*x+c]
							sum += math.Abs(float64(box)/float64(s*s) - float64(v))
						}
					}
				}
				if m := sum / float64(3*w*h); m > 1.5 {
					t.Errorf("%s, picture %d at 1/%d: %.2f levels from the full decode's %dx%d block means", dec, i, s, m, s, s)
				}
			}
		}
		d.close()
	}
	for _, dec := range decoders(t) {
		o := DefaultOptions()
		o.DataDir, o.Split, o.Train, o.ImageSize, o.JPEGDecoder, o.ColorJitter = dir, "train", true, 112, dec, nil
		ds, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		f := ds.(*ImageFolder)
		scaled, full := make([]float32, 3*112*112), make([]float32, 3*112*112)
		var worst float64
		used := 0
		for i := range f.Len() {
			for k := range 8 {
				w, err := f.NewWorker()
				if err != nil {
					t.Fatal(err)
				}
				fw := w.(*folderWorker)
				seed := uint64(10*i + k)
				if err := fw.Load(i, rand.New(rand.NewPCG(seed, 3)), scaled); err != nil {
					t.Fatal(err)
				}
				used = max(used, fw.dec.lastScale)
				fw.dec.maxScale = 1
				if err := fw.Load(i, rand.New(rand.NewPCG(seed, 3)), full); err != nil {
					t.Fatal(err)
				}
				w.Close()
				var sum float64
				for j := range scaled {
					sum += math.Abs(float64(scaled[j]-full[j])) * float64(imagenet.Std[j/(112*112)])
				}
				worst = max(worst, sum/float64(len(scaled)))
			}
		}
		if used < 2 {
			t.Errorf("%s: no train sample was decoded at a reduced scale", dec)
		}
		t.Logf("%s: train samples decoded at up to 1/%d differ from full decoding and plain bilinear resizing by up to %.2f levels on average", dec, used, worst)
	}
}

// Unreadable files in a class folder are skipped, each with a warning, and counted; the batches
// stay full.
func TestUnreadableKinds(t *testing.T) {
	good := photo(t, 64, 48, 90, 1)
	corrupt := slices.Clone(good)
	for i := len(corrupt) / 2; i < len(corrupt)-2; i++ {
		corrupt[i] = byte(i * 7)
	}
	files := map[string][]byte{
		"a_empty.jpg":     nil,
		"b_truncated.jpg": good[:len(good)/2],
		"c_corrupt.jpg":   corrupt,
		"d_text.jpg":      []byte("not an image at all"),
		"e_notpng.png":    []byte("\x89PNG\r\n\x1a\nbroken"),
		"f_header.jpg":    good[:20],
	}
	for _, dec := range decoders(t) {
		root := t.TempDir()
		d := filepath.Join(root, "train", "c")
		os.MkdirAll(d, 0o755)
		for name, b := range files {
			os.WriteFile(filepath.Join(d, name), b, 0o644)
		}
		for i := range 4 {
			os.WriteFile(filepath.Join(d, fmt.Sprintf("z%d.jpg", i)), photo(t, 64, 48, 90, uint64(i)), 0o644)
		}
		o := DefaultOptions()
		o.DataDir, o.ImageSize, o.JPEGDecoder = root, 32, dec
		ds, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		var warned []string
		l, err := NewLoader(ds, LoaderOptions{BatchSize: 5, Workers: 2, OnSkip: func(name string, err error) {
			warned = append(warned, filepath.Base(name))
		}})
		if err != nil {
			t.Fatal(err)
		}
		it := l.Epoch(0, 0)
		n := 0
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			n += b.N
			l.Release(b)
		}
		it.Close()
		l.Close()
		if it.Err() != nil || n != 10 || l.Skipped() != int64(len(files)) || len(warned) != len(files) {
			t.Errorf("%s: %d samples, %d skipped, warned %v (%v)", dec, n, l.Skipped(), warned, it.Err())
		}
	}
}

// auto_augment and re_* reach the train transform: RandAugment replaces the jitter, random erasing
// writes its box into the normalised sample, both reproducible from the generator; bad settings
// name their key.
func TestAugmentationOptions(t *testing.T) {
	root := makeFolder(t)
	load := func(o Options, seed uint64) []float32 {
		t.Helper()
		ds, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float32, 3*o.ImageSize*o.ImageSize)
		if err := ds.Load(3, rand.New(rand.NewPCG(seed, 9)), dst); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	o := DefaultOptions()
	o.DataDir, o.ImageSize = root, 24
	plain := load(o, 1)
	ra := o
	ra.AutoAugment = "randaug-m9-mstd0.5"
	a, b := load(ra, 1), load(ra, 1)
	if !slices.Equal(a, b) || slices.Equal(a, plain) {
		t.Error("RandAugment: not reproducible from the generator, or no different from the jitter")
	}
	er := o
	er.REProb, er.REValue = 1, "random"
	if slices.Equal(load(er, 1), plain) {
		t.Error("re_prob 1 erased nothing")
	}
	er.REValue = "7"
	got := load(er, 1)
	sevens := 0
	for _, v := range got {
		if v == 7 {
			sevens++
		}
	}
	if sevens < 3*24*24*2/100 {
		t.Errorf("re_value 7: %d values of 7", sevens)
	}
	for _, c := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.AutoAugment = "autoaug" }, "auto_augment"},
		{func(o *Options) { o.AutoAugment = "randaug-m9.5" }, "randaug-m9.5"},
		{func(o *Options) { o.REProb = 1.5 }, "re_prob"},
		{func(o *Options) { o.REProb, o.REValue = 0.5, "blue" }, "re_value"},
		{func(o *Options) { o.REProb, o.REScale = 0.5, [2]float64{0.5, 0.1} }, "re_scale"},
	} {
		bad := o
		c.mod(&bad)
		if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %s, got %v", c.want, err)
		}
	}
	m := DefaultOptions()
	m.Dataset, m.AutoAugment = "fashion_mnist", "randaug-m9-mstd0.5"
	if _, err := Open(m); err == nil || !strings.Contains(err.Error(), "image folders") {
		t.Errorf("RandAugment on Fashion-MNIST: got %v", err)
	}
}

// The EXIF orientations: storedPoint and uprightPoint undo each other, a stored rectangle turned
// upright and back is itself, and turn copies each pixel where the orientation puts it (checked on
// the corners PIL's exif_transpose moves: 6 puts the stored top-left at the top-right).
func TestOrientations(t *testing.T) {
	w, h := 7, 4
	for o := 1; o <= 8; o++ {
		uw, uh := upright(o, w, h)
		for y := range uh {
			for x := range uw {
				sx, sy := storedPoint(o, w, h, x, y)
				if sx < 0 || sx >= w || sy < 0 || sy >= h {
					t.Fatalf("orientation %d: upright (%d,%d) -> stored (%d,%d) outside %dx%d", o, x, y, sx, sy, w, h)
				}
				if ux, uy := uprightPoint(o, w, h, sx, sy); ux != x || uy != y {
					t.Fatalf("orientation %d: (%d,%d) -> (%d,%d) -> (%d,%d)", o, x, y, sx, sy, ux, uy)
				}
			}
		}
		pix := make([]uint8, 3*w*h)
		for i := range w * h {
			pix[3*i] = uint8(i)
		}
		var d pictureDecoder
		win := d.turn(o, w, h, transform.Window{Pix: pix, Stride: 3 * w, Rect: image.Rect(0, 0, w, h)})
		if win.Rect != image.Rect(0, 0, uw, uh) {
			t.Fatalf("orientation %d: turned window %v", o, win.Rect)
		}
		for y := range uh {
			for x := range uw {
				sx, sy := storedPoint(o, w, h, x, y)
				if got := win.Pix[y*win.Stride+3*x]; got != uint8(sy*w+sx) {
					t.Fatalf("orientation %d: upright (%d,%d) holds stored pixel %d, want %d", o, x, y, got, sy*w+sx)
				}
			}
		}
		if o == 6 && win.Pix[3*(uw-1)] != 0 {
			t.Error("orientation 6: the stored top-left pixel is not at the upright top-right")
		}
	}
}

// An image folder's epoch, augmentation included, is the same on any number of workers and with
// either decoder (both decode as libjpeg does).
func TestImageFolderEpochDeterministic(t *testing.T) {
	root := t.TempDir()
	testutil.WriteImageFolder(t, root, []string{"a", "b", "c"}, 7, 24)
	var first []float32
	for _, dec := range decoders(t) {
		for _, workers := range []int{1, 3} {
			o := DefaultOptions()
			o.DataDir, o.ImageSize, o.JPEGDecoder, o.ColorJitter = root, 20, dec, []float64{0.4, 0.4, 0.4, 0.1}
			ds, err := Open(o)
			if err != nil {
				t.Fatal(err)
			}
			l, err := NewLoader(ds, LoaderOptions{BatchSize: 4, Shuffle: true, Seed: 5, Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			var all []float32
			it := l.Epoch(1, 0)
			for b, ok := it.Next(); ok; b, ok = it.Next() {
				all = append(all, b.X...)
				l.Release(b)
			}
			it.Close()
			l.Close()
			if first == nil {
				first = all
			} else if !slices.Equal(all, first) {
				t.Errorf("%s decoder, %d workers: the epoch differs", dec, workers)
			}
		}
	}
}
