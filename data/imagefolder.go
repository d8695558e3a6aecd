package data

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/resnext/resnext/data/imagenet"
	"github.com/resnext/resnext/data/transform"
)

// imageExts are the file extensions (lower case) an ImageFolder reads: JPEG and PNG, and the
// other formats Go's image decoders read.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".gif": true, ".webp": true}

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
	jpeg    jpegBackend
	orient  bool
	pool    sync.Pool // *folderWorker, for Load
}

// NewImageFolder reads the file list of split o.Split of the image folder at root (the images are
// under root/<o.Split>/<class>/, or root/<class>/ when o.Split is "" or "."), with the train
// transform when o.Train is set, else the eval transform.
func NewImageFolder(root string, o Options) (*ImageFolder, error) {
	name := setName(o)
	f, err := newFolderBase(o)
	if err != nil {
		return nil, err
	}
	f.root = filepath.Join(root, o.Split)

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

// augmentations sets up the train transform's RandAugment (auto_augment) and random erasing
// (re_*), as MindCV's transforms_imagenet_train.
func (o Options) augmentations(t *transform.Train) error {
	if a := strings.TrimSpace(o.AutoAugment); a != "" {
		if !strings.HasPrefix(strings.ToLower(a), "randaug") {
			return fmt.Errorf("auto_augment %q: RandAugment (randaug-m9-mstd0.5 and the like) is the policy implemented; autoaug, trivialaugwide and augmix are not", a)
		}
		filter, err := transform.ParseAffineFilter(o.Interpolation)
		if err != nil {
			return err
		}
		ra, err := transform.NewRandAugment(a, transform.RandAugmentParams{ImgMean: transform.FillFromMean(t.Mean), Filter: filter})
		if err != nil {
			return err
		}
		t.RandAugment = ra
	}
	if o.REProb == 0 {
		return nil
	}
	e := transform.DefaultRandomErasing()
	e.Prob = o.REProb
	if o.REScale != [2]float64{} {
		e.Scale = o.REScale
	}
	if o.RERatio != [2]float64{} {
		e.Ratio = o.RERatio
	}
	if o.REMaxAttempts != 0 {
		e.MaxAttempts = o.REMaxAttempts
	}
	if v := strings.TrimSpace(o.REValue); v != "" {
		var raw any = v
		if parts := strings.Split(v, ","); len(parts) > 1 {
			list := make([]any, len(parts))
			for i, p := range parts {
				list[i] = strings.TrimSpace(p)
			}
			raw = list
		}
		val, err := transform.ParseErasingValue(raw)
		if err != nil {
			return err
		}
		e.Value = val
	}
	if err := e.Validate(); err != nil {
		return err
	}
	t.Erasing = e
	return nil
}

// newFolderBase checks o and sets up an ImageFolder's transforms and JPEG decoder: everything but
// its files.
func newFolderBase(o Options) (*ImageFolder, error) {
	name := setName(o)
	if err := o.checkCommon(224); err != nil {
		return nil, err
	}
	mean, std, err := o.normalisation(3, f64(imagenet.Mean[:]), f64(imagenet.Std[:]))
	if err != nil {
		return nil, err
	}
	f := &ImageFolder{train: o.Train, size: o.ImageSize, orient: o.ExifOrientation}
	var m, s [3]float32
	for c := range 3 {
		m[c], s[c] = float32(mean[c]), float32(std[c])
	}
	jitter, err := transform.JitterOf(o.ColorJitter)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.trainT = transform.Train{ImageSize: o.ImageSize, Scale: o.Scale, Ratio: o.Ratio, HFlip: o.HFlip,
		Jitter: jitter, Mean: m, Std: s}
	if o.Train {
		if err := o.augmentations(&f.trainT); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	f.evalT = transform.Eval{ImageSize: o.ImageSize, CropPct: o.CropPct, Mean: m, Std: s}
	check := f.evalT.Validate
	if o.Train {
		check = f.trainT.Validate
	}
	if err := check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if f.jpeg, err = chooseJPEG(o.JPEGDecoder); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
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

// JPEGDecoder says which JPEG decoder the set uses, and why.
func (f *ImageFolder) JPEGDecoder() string { return f.jpeg.desc }

// Load decodes image i and writes it, transformed, into dst; the train transform draws from rng
// (which the eval transform does not need). Load may be called from several goroutines; a
// Loader uses NewWorker instead, which keeps one decoder per goroutine.
func (f *ImageFolder) Load(i int, rng *rand.Rand, dst []float32) error {
	w, _ := f.pool.Get().(*folderWorker)
	if w == nil {
		nw, err := f.NewWorker()
		if err != nil {
			return err
		}
		w = nw.(*folderWorker)
	}
	defer f.pool.Put(w)
	return w.Load(i, rng, dst)
}

// NewWorker returns a loader of the set's samples for one goroutine: its decoder, buffers and
// transform scratch are reused from sample to sample.
func (f *ImageFolder) NewWorker() (Worker, error) {
	d, err := newPictureDecoder(f.jpeg, f.orient)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.root, err)
	}
	return &folderWorker{f: f, dec: d}, nil
}

// folderWorker loads an ImageFolder's samples on one goroutine.
type folderWorker struct {
	f       *ImageFolder
	dec     *pictureDecoder
	scratch transform.Scratch
	rng     *rand.Rand // the generator of the sample being loaded, for plan
}

// plan draws the train transform's crop and flip, or makes the eval transform's plan.
func (w *folderWorker) plan(width, height int) (transform.Plan, error) {
	if w.f.train {
		return w.f.trainT.Plan(width, height, w.rng), nil
	}
	return w.f.evalT.Plan(width, height)
}

// Load is ImageFolder.Load on the worker's goroutine.
func (w *folderWorker) Load(i int, rng *rand.Rand, dst []float32) error {
	f := w.f
	if i < 0 || i >= len(f.paths) {
		return errIndex(f.root, i, len(f.paths))
	}
	if len(dst) != 3*f.size*f.size {
		return errDst(f.root, len(dst), 3, f.size, f.size)
	}
	if f.train && rng == nil {
		return fmt.Errorf("%s: the train transform needs a random generator", f.root)
	}
	w.rng = rng
	win, p, err := w.dec.decode(f.paths[i], w)
	w.rng = nil
	if err != nil {
		return err
	}
	if f.train {
		err = f.trainT.Finish(win, p, rng, &w.scratch, dst)
	} else {
		err = f.evalT.Finish(win, p, &w.scratch, dst)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.paths[i], err)
	}
	return nil
}

// Close releases the worker's decoder.
func (w *folderWorker) Close() { w.dec.close() }

// FileLoader makes eval samples of image files named one by one (predict's), with the decoders
// and the eval transform of an image folder.
type FileLoader struct {
	w folderWorker
}

// NewFileLoader returns a loader of o's eval transform (o.ImageSize, CropPct, Mean, Std,
// JPEGDecoder, ExifOrientation). Close it when done.
func NewFileLoader(o Options) (*FileLoader, error) {
	o.Train = false
	f, err := newFolderBase(o)
	if err != nil {
		return nil, err
	}
	d, err := newPictureDecoder(f.jpeg, f.orient)
	if err != nil {
		return nil, err
	}
	return &FileLoader{w: folderWorker{f: f, dec: d}}, nil
}

// JPEGDecoder says which JPEG decoder the loader uses, and why.
func (l *FileLoader) JPEGDecoder() string { return l.w.f.jpeg.desc }

// Load writes the eval sample of the image file at path into dst (3*ImageSize*ImageSize values).
func (l *FileLoader) Load(path string, dst []float32) error {
	if len(dst) != 3*l.w.f.size*l.w.f.size {
		return errDst(path, len(dst), 3, l.w.f.size, l.w.f.size)
	}
	win, p, err := l.w.dec.decode(path, &l.w)
	if err != nil {
		return err
	}
	if err := l.w.f.evalT.Finish(win, p, &l.w.scratch, dst); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Close releases the loader's decoder.
func (l *FileLoader) Close() { l.w.Close() }
