package data

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/data/imagenet"
	"github.com/resnext/resnext/data/transform"
)

// writeImage writes a w x h image of one colour, PNG or JPEG by the name's extension, creating
// its folder.
func writeImage(t *testing.T, path string, w, h int, c color.NRGBA) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			// A little texture, so crops and flips change the result.
			img.SetNRGBA(x, y, color.NRGBA{c.R + uint8(3*x), c.G + uint8(2*y), c.B, 255})
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(path), ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// makeFolder writes an image folder with train and val splits under a temporary root.
func makeFolder(t *testing.T) string {
	root := t.TempDir()
	for _, p := range []string{
		"train/zebra/z1.png", "train/zebra/z2.PNG", "train/zebra/nested/z3.jpg",
		"train/apple/a1.JPEG", "train/apple/a2.jpeg",
		"train/mango/m1.png",
		"val/apple/v1.png", "val/mango/v2.png", "val/zebra/v3.png",
	} {
		writeImage(t, filepath.Join(root, p), 40, 30, color.NRGBA{R: 50, G: 100, B: 150})
	}
	os.WriteFile(filepath.Join(root, "train/apple/notes.txt"), []byte("not an image"), 0o644)
	os.WriteFile(filepath.Join(root, "train/README"), []byte("a file beside the classes"), 0o644)
	return root
}

func evalOptions(split string) Options {
	o := DefaultOptions()
	o.Split, o.Train, o.ImageSize = split, false, 16
	return o
}

func TestImageFolder(t *testing.T) {
	root := makeFolder(t)
	f, err := NewImageFolder(root, evalOptions("train"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Classes(), []string{"apple", "mango", "zebra"}) {
		t.Errorf("classes %v, want apple mango zebra", f.Classes())
	}
	want := []struct {
		name  string
		label int
	}{{"apple/a1.JPEG", 0}, {"apple/a2.jpeg", 0}, {"mango/m1.png", 1}, {"zebra/z1.png", 2}, {"zebra/z2.PNG", 2}, {"zebra/nested/z3.jpg", 2}}
	if f.Len() != len(want) {
		t.Fatalf("%d images, want %d", f.Len(), len(want))
	}
	for i, w := range want {
		if f.Name(i) != filepath.Join(root, "train", w.name) || f.Label(i) != w.label {
			t.Errorf("image %d: %s label %d, want %s label %d", i, f.Name(i), f.Label(i), w.name, w.label)
		}
	}
	if c, h, w := f.Shape(); c != 3 || h != 16 || w != 16 {
		t.Errorf("shape %dx%dx%d", c, h, w)
	}
	val, err := NewImageFolder(root, evalOptions("val"))
	if err != nil {
		t.Fatal(err)
	}
	if val.Len() != 3 || val.Label(2) != 2 || !strings.HasSuffix(val.Name(0), filepath.Join("val", "apple", "v1.png")) {
		t.Errorf("val split: %d images, %s", val.Len(), val.Name(0))
	}
	// The eval transform of image 2 (a PNG): normalised values, rows kept in order.
	dst := make([]float32, 3*16*16)
	if err := f.Load(2, nil, dst); err != nil {
		t.Fatal(err)
	}
	for c, v := range []float32{dst[0], dst[256], dst[512]} {
		if math.IsNaN(float64(v)) || v < (0-imagenet.Mean[c])/imagenet.Std[c] || v > (255-imagenet.Mean[c])/imagenet.Std[c] {
			t.Errorf("channel %d: %v is not a normalised pixel", c, v)
		}
	}
	file, err := os.Open(f.Name(2))
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := png.Decode(file)
	file.Close()
	if err != nil {
		t.Fatal(err)
	}
	img := new(transform.RGB)
	transform.ToRGBInto(decoded, img)
	ref := make([]float32, len(dst))
	if err := (transform.Eval{ImageSize: 16, CropPct: 0.875, Mean: imagenet.Mean, Std: imagenet.Std}).Apply(img, ref); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dst, ref) {
		t.Error("Load differs from the eval transform of the decoded file")
	}
	// Green grows by 2 per row: the bottom row's green is above the top row's.
	if dst[256+15*16] <= dst[256] {
		t.Errorf("green at the bottom %v, at the top %v: the image lost its rows", dst[256+15*16], dst[256])
	}
	if err := f.Load(99, nil, dst); err == nil {
		t.Error("an index out of range was accepted")
	}
	if err := f.Load(0, nil, dst[:7]); err == nil {
		t.Error("a short destination was accepted")
	}
	// Split "." reads root itself as the class folder.
	if g, err := NewImageFolder(filepath.Join(root, "val"), evalOptions(".")); err != nil || g.Len() != 3 {
		t.Errorf("split \".\": %v", err)
	}
}

func TestImageFolderErrors(t *testing.T) {
	root := makeFolder(t)
	noClasses := t.TempDir()
	os.MkdirAll(filepath.Join(noClasses, "train"), 0o755)
	os.WriteFile(filepath.Join(noClasses, "train", "x.png"), nil, 0o644)
	emptyClass := makeFolder(t)
	os.MkdirAll(filepath.Join(emptyClass, "train", "empty"), 0o755)
	os.WriteFile(filepath.Join(emptyClass, "train", "empty", "x.txt"), nil, 0o644)
	cases := []struct {
		root  string
		split string
		want  []string
	}{
		{root, "dev", []string{filepath.Join(root, "dev"), "does not exist", "data_dir/train/<class>/<image>", "data_dir/val"}},
		{noClasses, "train", []string{filepath.Join(noClasses, "train"), "no class folders"}},
		{emptyClass, "train", []string{filepath.Join(emptyClass, "train", "empty"), "holds no images"}},
	}
	for _, c := range cases {
		_, err := NewImageFolder(c.root, evalOptions(c.split))
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s/%s: got %v, want an error containing %q", c.root, c.split, err, w)
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	root := makeFolder(t)
	cases := []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.DataDir = "" }, "--data_dir"},
		{func(o *Options) { o.Interpolation = "bicubic" }, `interpolation "bicubic"`},
		{func(o *Options) { o.AutoAugment = "augmix" }, "auto_augment"},
		{func(o *Options) { o.REProb = -0.25 }, "re_prob"},
		{func(o *Options) { o.ColorJitter = []float64{0.4, 0.4} }, "color_jitter"},
		{func(o *Options) { o.ColorJitter = []float64{0.4, 0.4, 0.4, 0.7} }, "hue"},
		{func(o *Options) { o.JPEGDecoder = "pil" }, "jpeg_decoder"},
		{func(o *Options) { o.Mean = []float64{1, 2} }, "mean"},
		{func(o *Options) { o.Std = []float64{1, 0, 1} }, "std"},
		{func(o *Options) { o.ImageSize = -3 }, "image_resize"},
		{func(o *Options) { o.CropPct = 1.2 }, "crop_pct"},
		{func(o *Options) { o.Scale = [2]float64{0.9, 0.1} }, "scale"},
		{func(o *Options) { o.HFlip = 2 }, "hflip"},
		{func(o *Options) { o.Dataset = "CIFAR10" }, "CIFAR"},
		{func(o *Options) { o.Dataset = "mnist"; o.DataDir = "" }, "--data_dir"},
		{func(o *Options) { o.Dataset = "fashion_mnist"; o.DataDir = ""; o.Split = "dev" }, `split "dev"`},
		{func(o *Options) { o.Dataset = "fashion_mnist"; o.DataDir = ""; o.Mean = []float64{1, 2, 3} }, "1 channels"},
	}
	for _, c := range cases {
		o := DefaultOptions()
		o.DataDir = root
		c.mod(&o)
		if _, err := Open(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
	for _, name := range []string{"", "ImageNet", "my_flowers"} {
		o := DefaultOptions()
		o.Dataset, o.DataDir, o.Split = name, root, ""
		ds, err := Open(o)
		if err != nil || ds.Len() != 6 {
			t.Errorf("dataset %q: %v", name, err)
		}
	}
}

func TestImageFolderTrainLoader(t *testing.T) {
	root := makeFolder(t)
	o := DefaultOptions()
	o.DataDir, o.ImageSize = root, 12
	ds, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	run := func(workers int) []Batch {
		l := newLoader(t, ds, LoaderOptions{BatchSize: 4, Shuffle: true, Seed: 42, Workers: workers})
		return append(epoch(t, l, 0, 0), epoch(t, l, 1, 0)...)
	}
	one, four := run(1), run(4)
	if !sameBatches(one, four) {
		t.Error("1 and 4 workers gave different batches")
	}
	if len(one) != 4 || one[1].N != 2 || len(one[0].X) != 4*3*12*12 {
		t.Fatalf("%d batches, the second of %d", len(one), one[1].N)
	}
	// The augmentation differs between epochs: the same image gives other values.
	if slices.Equal(one[0].X, one[2].X) {
		t.Error("epochs 0 and 1 gave the same first batch")
	}
	// The training transform draws from its generator: two draws differ.
	a, b := make([]float32, 3*12*12), make([]float32, 3*12*12)
	ds.Load(0, rand.New(rand.NewPCG(1, 2)), a)
	ds.Load(0, rand.New(rand.NewPCG(3, 4)), b)
	if slices.Equal(a, b) {
		t.Error("two generators gave the same augmentation")
	}
}

func TestImageFolderUnreadableFile(t *testing.T) {
	root := makeFolder(t)
	bad := filepath.Join(root, "train", "apple", "a0.jpg") // sorts first
	os.WriteFile(bad, []byte("not a JPEG"), 0o644)
	o := evalOptions("train")
	o.DataDir = root
	ds, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	l := newLoader(t, ds, LoaderOptions{BatchSize: 7, OnSkip: func(name string, err error) {
		skipped = append(skipped, name)
		if !strings.Contains(err.Error(), "cannot decode") {
			t.Errorf("skip error %v", err)
		}
	}})
	bs := epoch(t, l, 0, 0)
	if len(bs) != 1 || bs[0].N != 7 || l.Skipped() != 1 || !slices.Equal(skipped, []string{bad}) {
		t.Fatalf("%d batches of %d, skipped %d %v", len(bs), bs[0].N, l.Skipped(), skipped)
	}
	// The bad file's slot holds the next image, a1.JPEG, as does the slot after it.
	n := 3 * 16 * 16
	if !slices.Equal(bs[0].X[:n], bs[0].X[n:2*n]) || bs[0].Labels[0] != 0 {
		t.Error("the unreadable image was not replaced by the next one")
	}
}
