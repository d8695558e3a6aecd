package data

import (
	"bufio"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/resnext/resnext/data/imagenet"
	"github.com/resnext/resnext/data/transform"
)

// imageExts are the file extensions (lower case) an ImageFolder reads: JPEG and PNG, and the
// other formats transform.DecodeFile decodes.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".gif": true, ".webp": true}

// maxPixels bounds the images an ImageFolder decodes (a 16384 x 16384 image), so one odd file
// cannot take gigabytes; a larger one is skipped as unreadable.
const maxPixels = 1 << 28

// maxDepth bounds how deep an ImageFolder looks for images inside a class folder (symbolic links
// are followed, and could loop).
const maxDepth = 16

// ImageFolder is MindCV's (and torchvision's) ImageFolder: split/<class>/<image>, the classes
// sorted by name, label = index of the class. It reads JPEG, PNG, BMP, GIF and WebP files
// (extensions case-insensitive) anywhere below a class folder and ignores other files.
type ImageFolder struct {
	root    string
	classes []string
	paths   []string
	labels  []int32
	train   bool
	trainT  transform.Train
	evalT   transform.Eval
	size    int
}

// NewImageFolder reads the file list of split o.Split of the image folder at root (the images are
// under root/<o.Split>/<class>/, or root/<class>/ when o.Split is "" or "."), with the train
// transform when o.Train is set, else the eval transform.
func NewImageFolder(root string, o Options) (*ImageFolder, error) {
	name := setName(o)
	if err := o.checkCommon(224); err != nil {
		return nil, err
	}
	mean, std, err := o.normalisation(3, f64(imagenet.Mean[:]), f64(imagenet.Std[:]))
	if err != nil {
		return nil, err
	}
	f := &ImageFolder{root: filepath.Join(root, o.Split), train: o.Train, size: o.ImageSize}
	var m, s [3]float32
	for c := range 3 {
		m[c], s[c] = float32(mean[c]), float32(std[c])
	}
	f.trainT = transform.Train{ImageSize: o.ImageSize, Scale: o.Scale, Ratio: o.Ratio, HFlip: o.HFlip,
		ColorJitter: o.ColorJitter, Mean: m, Std: s}
	f.evalT = transform.Eval{ImageSize: o.ImageSize, CropPct: o.CropPct, Mean: m, Std: s}
	if o.Train {
		if err := f.trainT.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}

	layout := "MindCV's layout is data_dir/train/<class>/<image> and data_dir/val/<class>/<image>"
	if st, err := os.Stat(f.root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s: the split folder %s does not exist or is not a folder: %s (check --data_dir, train_split and val_split)", name, f.root, layout)
	}
	entries, err := os.ReadDir(f.root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, e := range entries {
		if isDir(f.root, e) {
			f.classes = append(f.classes, e.Name())
		}
	}
	if len(f.classes) == 0 {
		return nil, fmt.Errorf("%s: %s holds no class folders: %s", name, f.root, layout)
	}
	sort.Strings(f.classes)
	for label, class := range f.classes {
		dir := filepath.Join(f.root, class)
		paths, err := listImages(dir, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("%s: the class folder %s holds no images (%s): add images or remove the folder", name, dir, extList())
		}
		f.paths = append(f.paths, paths...)
		for range paths {
			f.labels = append(f.labels, int32(label))
		}
	}
	return f, nil
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func extList() string {
	exts := make([]string, 0, len(imageExts))
	for e := range imageExts {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return strings.Join(exts, " ")
}

// isDir reports whether the entry of dir is a folder or a symbolic link to one.
func isDir(dir string, e os.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&os.ModeSymlink == 0 {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, e.Name()))
	return err == nil && st.IsDir()
}

// listImages returns the image files below dir: its own, sorted by name, then those of its
// sub-folders in name order.
func listImages(dir string, depth int) ([]string, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: folders nested more than %d deep (a symbolic link loop?)", dir, maxDepth)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files, subdirs []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case isDir(dir, e):
			subdirs = append(subdirs, p)
		case imageExts[strings.ToLower(filepath.Ext(e.Name()))]:
			files = append(files, p)
		}
	}
	for _, d := range subdirs {
		more, err := listImages(d, depth+1)
		if err != nil {
			return nil, err
		}
		files = append(files, more...)
	}
	return files, nil
}

// Root is the split folder the set reads.
func (f *ImageFolder) Root() string { return f.root }

// Len is the number of images.
func (f *ImageFolder) Len() int { return len(f.paths) }

// Classes are the class folder names, by label.
func (f *ImageFolder) Classes() []string { return f.classes }

// Shape is 3 x ImageSize x ImageSize.
func (f *ImageFolder) Shape() (c, h, w int) { return 3, f.size, f.size }

// Label is the label of image i.
func (f *ImageFolder) Label(i int) int { return int(f.labels[i]) }

// Name is the path of image i.
func (f *ImageFolder) Name(i int) string { return f.paths[i] }

// Load decodes image i and writes it, transformed, into dst; the train transform draws from rng
// (which the eval transform does not need).
func (f *ImageFolder) Load(i int, rng *rand.Rand, dst []float32) error {
	if i < 0 || i >= len(f.paths) {
		return errIndex(f.root, i, len(f.paths))
	}
	if len(dst) != 3*f.size*f.size {
		return errDst(f.root, len(dst), 3, f.size, f.size)
	}
	if f.train && rng == nil {
		return fmt.Errorf("%s: the train transform needs a random generator", f.root)
	}
	img, err := decode(f.paths[i])
	if err != nil {
		return err
	}
	if f.train {
		err = f.trainT.Apply(img, rng, dst)
	} else {
		err = f.evalT.Apply(img, dst)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.paths[i], err)
	}
	return nil
}

// decode reads an image file as RGB, refusing images of more than maxPixels pixels before
// decoding them.
func decode(path string) (*transform.RGB, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(file))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot decode the image (%s): %w", path, extList(), err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fmt.Errorf("%s: the %s image is %dx%d: want between 1 and %d pixels", path, format, cfg.Width, cfg.Height, maxPixels)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	img, format, err := image.Decode(bufio.NewReader(file))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot decode the %s image: %w", path, format, err)
	}
	return transform.ToRGB(img), nil
}
