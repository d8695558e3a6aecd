package data

import (
	"embed"
	"fmt"
	"math/rand/v2"

	"github.com/resnext/resnext/data/transform"
)

// fashionSample is a small real data set embedded in the binary, so the project runs end to end
// with no download: the first 2000 training and 500 test images of Fashion-MNIST (28x28 grey,
// 10 classes; MIT licence, fashionmnist/sample/LICENSE; cut by scripts/make_fashion_mnist_sample.py
// from Debian's dataset-fashion-mnist package). Open reads it for fashion_mnist with no data_dir.
//
//go:embed fashionmnist/sample/*.gz
var fashionSample embed.FS

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs the full set.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses name Fashion-MNIST's labels.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// MNISTClasses name MNIST's labels, the digits.
var MNISTClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// Normalisation of the MNIST-format sets on the 0-255 scale: the training sets' statistics
// (Fashion-MNIST: 0.2860 and 0.3530 on the 0-1 scale; MNIST:
// 0.1307 and 0.3081).
const (
	FashionMNISTMean = 0.2860 * 255
	FashionMNISTStd  = 0.3530 * 255
	MNISTMean        = 0.1307 * 255
	MNISTStd         = 0.3081 * 255
)

// idxSet is an MNIST-format set in memory with its transform: grey images, zero padded and
// randomly cropped back and flipped when training, resized bilinearly when size is not theirs,
// then normalised.
type idxSet struct {
	name      string
	images    *Images
	train     bool
	size      int
	pad       int
	hflip     float64
	mean, std float32
}

// openIDX reads split o.Split of an MNIST-format set (kind mnist or fashion_mnist).
func openIDX(kind string, o Options) (*idxSet, error) {
	name := setName(o)
	if o.AutoAugment != "" || o.REProb != 0 {
		return nil, fmt.Errorf("%s: auto_augment %q and re_prob %v: RandAugment and random erasing apply to image folders; leave auto_augment empty and re_prob 0 for MNIST-format sets", setName(o), o.AutoAugment, o.REProb)
	}
	if err := o.checkCommon(28); err != nil {
		return nil, err
	}
	classes, defMean, defStd := MNISTClasses, MNISTMean, MNISTStd
	if kind == kindFashionMNIST {
		classes, defMean, defStd = FashionMNISTClasses, FashionMNISTMean, FashionMNISTStd
	}
	mean, std, err := o.normalisation(1, []float64{defMean}, []float64{defStd})
	if err != nil {
		return nil, err
	}
	if _, ok := MNISTSplits[o.Split]; !ok {
		return nil, fmt.Errorf("%s: split %q: want train, or val or test (the t10k files)", name, o.Split)
	}
	var images *Images
	switch {
	case o.DataDir != "":
		images, err = LoadMNIST(o.DataDir, o.Split, classes)
	case kind == kindFashionMNIST:
		images, err = LoadMNISTFS(fashionSample, "fashionmnist/sample", o.Split, classes)
	default:
		return nil, fmt.Errorf("%s: no data_dir: give --data_dir, the folder of {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if images.N == 0 || images.H == 0 || images.W == 0 {
		return nil, fmt.Errorf("%s: split %s holds no images", name, o.Split)
	}
	return &idxSet{name: fmt.Sprintf("%s/%s", name, o.Split), images: images, train: o.Train, size: o.ImageSize,
		pad: o.CropPadding, hflip: o.HFlip, mean: float32(mean[0]), std: float32(std[0])}, nil
}

// Len is the number of images.
func (s *idxSet) Len() int { return s.images.N }

// Classes are the label names.
func (s *idxSet) Classes() []string { return s.images.Classes }

// Shape is 1 x ImageSize x ImageSize.
func (s *idxSet) Shape() (c, h, w int) { return 1, s.size, s.size }

// Label is the label of image i.
func (s *idxSet) Label(i int) int { return int(s.images.Labels[i]) }

// Name is "<set>/<split>[i]".
func (s *idxSet) Name(i int) string { return fmt.Sprintf("%s[%d]", s.name, i) }

// Load writes image i, transformed, into dst. Training draws the crop's row offset, then its
// column offset (when padding), then the flip from rng, as torchvision's RandomCrop and
// RandomHorizontalFlip.
func (s *idxSet) Load(i int, rng *rand.Rand, dst []float32) error {
	if i < 0 || i >= s.images.N {
		return errIndex(s.name, i, s.images.N)
	}
	if len(dst) != s.size*s.size {
		return errDst(s.name, len(dst), 1, s.size, s.size)
	}
	if s.train && rng == nil {
		return fmt.Errorf("%s: the train transform needs a random generator", s.name)
	}
	w, h := s.images.W, s.images.H
	src := s.images.Image(i)
	img := src
	if s.train {
		dx, dy := s.pad, s.pad // the window of the padded image, as an offset into the original
		if s.pad > 0 {
			dy = rng.IntN(2*s.pad + 1)
			dx = rng.IntN(2*s.pad + 1)
		}
		flip := rng.Float64() < s.hflip
		img = make([]uint8, w*h)
		for y := range h {
			sy := y + dy - s.pad
			if sy < 0 || sy >= h {
				continue
			}
			row := img[y*w : (y+1)*w]
			for x := range w {
				sx := x + dx - s.pad
				if flip {
					sx = (w - 1 - x) + dx - s.pad
				}
				if sx >= 0 && sx < w {
					row[x] = src[sy*w+sx]
				}
			}
		}
	}
	if w != s.size || h != s.size {
		img = transform.ResizeGrey(img, w, h, s.size, s.size)
	}
	for k, v := range img {
		dst[k] = (float32(v) - s.mean) / s.std
	}
	return nil
}
