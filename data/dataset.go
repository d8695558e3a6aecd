package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Dataset is an indexed set of labelled samples that a Loader turns into batches. Load writes
// sample i, transformed, into dst (C*H*W float32, CHW, normalised), drawing any augmentation from
// rng. It must be safe to call from several goroutines at once.
type Dataset interface {
	// Len is the number of samples.
	Len() int
	// Classes are the class names by label.
	Classes() []string
	// Shape is the shape of every sample after the transform.
	Shape() (c, h, w int)
	// Label is the label of sample i, known without decoding it.
	Label(i int) int
	// Name identifies sample i in messages: its file path, or "<set>[i]".
	Name(i int) string
	// Load writes sample i, transformed, into dst.
	Load(i int, rng *rand.Rand, dst []float32) error
}

// Worker loads the samples of a Dataset on one goroutine, keeping its decoders and buffers from
// sample to sample. Close releases them.
type Worker interface {
	// Load is Dataset.Load.
	Load(i int, rng *rand.Rand, dst []float32) error
	// Close releases the worker; it is not used after.
	Close()
}

// WorkerSource is a Dataset whose loading keeps per-goroutine state: a Loader gives each of its
// goroutines a Worker of its own.
type WorkerSource interface {
	NewWorker() (Worker, error)
}

// Options choose and configure a data set; the fields follow MindCV's config keys.
//
// A zero ImageSize, Scale, Ratio or CropPct and an empty Interpolation take MindCV's defaults (the
// ImageSize default is 224 for image folders and 28 for MNIST-format sets); a zero HFlip or
// ColorJitter turns that augmentation off, so start from DefaultOptions to get MindCV's.
type Options struct {
	// Dataset is "imagenet" (any other name but the ones below also reads an ImageFolder, as
	// MindCV does), "mnist" or "fashion_mnist"; case-insensitive, "" means imagenet.
	Dataset string
	// DataDir holds the set: data_dir/<split>/<class>/<image> for image folders, the idx files
	// for MNIST-format sets. For fashion_mnist "" means the embedded sample; mnist needs it.
	DataDir string
	// Split is the sub-folder of an image folder (MindCV's train_split/val_split, "." for DataDir
	// itself), or "train" or "val"/"test" (the t10k files) for MNIST-format sets. "" means "train"
	// when Train is set, else "val".
	Split string
	// Train chooses the augmenting train transform; false gives the eval transform.
	Train bool

	// ImageSize is image_resize: the side of the output images (224; 28 for MNIST-format sets,
	// which are resized bilinearly to any other size).
	ImageSize int
	// Scale and Ratio bound the random resized crop's area fraction and aspect ratio:
	// (0.08, 1.0) and (0.75, 1.333).
	Scale, Ratio [2]float64
	// HFlip is the probability of a horizontal flip (0.5).
	HFlip float64
	// ColorJitter is MindCV's color_jitter: one strength for brightness, contrast and saturation
	// (0.4), each by a factor in [max(0, 1-j), 1+j], or three, or four with the hue's (a turn of
	// at most j, j <= 0.5); empty turns the jitter off. Image folders only.
	ColorJitter []float64
	// JPEGDecoder chooses the image folders' JPEG decoder: "auto" (or ""), "libjpeg-turbo" or
	// "go" (see DecoderAuto).
	JPEGDecoder string
	// ExifOrientation turns JPEGs upright by their EXIF orientation tag before the transform.
	// MindSpore's decoder, and torchvision's ImageFolder, ignore the tag.
	ExifOrientation bool
	// Interpolation is the resize's: "bilinear" (OpenCV's INTER_LINEAR) is the one supported.
	Interpolation string
	// CropPct is the eval transform's crop fraction (0.875): resize the shorter side to
	// floor(ImageSize/CropPct), then centre crop ImageSize.
	CropPct float64
	// Mean and Std normalise on the 0-255 scale, one value per channel; nil means the set's
	// (ImageNet's for image folders, MNIST's or Fashion-MNIST's).
	Mean, Std []float64
	// CropPadding is the MNIST-format train transform's zero padding on each side before a
	// random crop back to the original size (0: no crop).
	CropPadding int
	// AutoAugment is MindCV's auto_augment: "" for none, or a RandAugment policy such as
	// "randaug-m9-mstd0.5" (image folders; it replaces the colour jitter, as in MindCV).
	AutoAugment string
	// REProb is the probability of random erasing on the normalised image (re_prob; 0: none),
	// with REScale, RERatio, REValue and REMaxAttempts (re_scale, re_ratio, re_value,
	// re_max_attempts; zero values take MindCV's defaults). Image folders only.
	REProb           float64
	REScale, RERatio [2]float64
	REValue          string
	REMaxAttempts    int
}

// DefaultOptions returns MindCV's defaults: ImageNet, training split, image_resize 224, scale
// (0.08, 1), ratio (0.75, 1.333), hflip 0.5, color_jitter 0.4, bilinear, crop_pct 0.875.
func DefaultOptions() Options {
	return Options{
		Dataset: "imagenet", Split: "train", Train: true,
		ImageSize: 224, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{0.75, 1.333},
		HFlip: 0.5, ColorJitter: []float64{0.4}, Interpolation: "bilinear", CropPct: 0.875,
	}
}

// Names of the kinds of data set Open reads.
const (
	kindImageFolder  = "imagenet"
	kindMNIST        = "mnist"
	kindFashionMNIST = "fashion_mnist"
)

// kind maps a dataset name in any of its spellings to the reader: "mnist", "fashion_mnist", or
// the image folder's (any other name, as MindCV's create_dataset).
func kind(name string) (string, error) {
	n := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "-", "_")
	switch n {
	case "mnist":
		return kindMNIST, nil
	case "fashion_mnist", "fashionmnist":
		return kindFashionMNIST, nil
	case "cifar10", "cifar100":
		return "", fmt.Errorf("dataset %q: CIFAR's binary format is not supported; convert it to an image folder (data_dir/train/<class>/<image>) or use imagenet, mnist or fashion_mnist", name)
	}
	return kindImageFolder, nil
}

// setName is how messages name the set o chooses.
func setName(o Options) string {
	if o.Dataset == "" {
		return "imagenet"
	}
	return o.Dataset
}

// Open returns the data set o chooses, with its train or eval transform.
func Open(o Options) (Dataset, error) {
	k, err := kind(o.Dataset)
	if err != nil {
		return nil, err
	}
	if o.Split == "" {
		o.Split = "val"
		if o.Train {
			o.Split = "train"
		}
	}
	if k == kindImageFolder {
		if o.DataDir == "" {
			return nil, fmt.Errorf("%s: no data_dir: give --data_dir, a folder laid out as MindCV's data_dir/train/<class>/<image> and data_dir/val/<class>/<image>", setName(o))
		}
		return NewImageFolder(o.DataDir, o)
	}
	return openIDX(k, o)
}

// checkCommon checks the options every kind of set reads and fills in the defaults of the zero
// values. defaultSize is the set's ImageSize default.
func (o *Options) checkCommon(defaultSize int) error {
	name := setName(*o)
	switch strings.ToLower(o.Interpolation) {
	case "", "bilinear":
		o.Interpolation = "bilinear"
	default:
		return fmt.Errorf("%s: interpolation %q is not supported: use bilinear", name, o.Interpolation)
	}
	if o.ImageSize == 0 {
		o.ImageSize = defaultSize
	}
	if o.ImageSize < 1 {
		return fmt.Errorf("%s: image_resize %d: want a size of at least 1", name, o.ImageSize)
	}
	if o.Scale == [2]float64{} {
		o.Scale = DefaultOptions().Scale
	}
	if o.Ratio == [2]float64{} {
		o.Ratio = DefaultOptions().Ratio
	}
	if o.CropPct == 0 {
		o.CropPct = DefaultOptions().CropPct
	}
	if !(o.CropPct > 0 && o.CropPct <= 1) {
		return fmt.Errorf("%s: crop_pct %v: want 0 < crop_pct <= 1", name, o.CropPct)
	}
	if !(o.HFlip >= 0 && o.HFlip <= 1) {
		return fmt.Errorf("%s: hflip %v: want a probability in [0, 1]", name, o.HFlip)
	}
	if o.CropPadding < 0 {
		return fmt.Errorf("%s: crop padding %d: want 0 or more pixels", name, o.CropPadding)
	}
	return nil
}

// normalisation returns the per-channel mean and std for a set of c channels: o's, or def when
// o gives none.
func (o Options) normalisation(c int, defMean, defStd []float64) (mean, std []float64, err error) {
	name := setName(o)
	mean, std = o.Mean, o.Std
	if mean == nil {
		mean = defMean
	}
	if std == nil {
		std = defStd
	}
	if len(mean) != c {
		return nil, nil, fmt.Errorf("%s: mean %v has %d values, the images have %d channels", name, mean, len(mean), c)
	}
	if len(std) != c {
		return nil, nil, fmt.Errorf("%s: std %v has %d values, the images have %d channels", name, std, len(std), c)
	}
	for i := range c {
		if math.IsNaN(mean[i]) || math.IsInf(mean[i], 0) {
			return nil, nil, fmt.Errorf("%s: mean %v: want finite values", name, mean)
		}
		if !(std[i] > 0) || math.IsInf(std[i], 0) {
			return nil, nil, fmt.Errorf("%s: std %v: want finite values above 0", name, std)
		}
	}
	return mean, std, nil
}

// errIndex reports a sample index out of range.
func errIndex(name string, i, n int) error {
	return fmt.Errorf("%s: sample %d is out of range for %d samples", name, i, n)
}

// errDst reports a destination of the wrong size.
func errDst(name string, got, c, h, w int) error {
	return fmt.Errorf("%s: %d values for a %dx%dx%d sample", name, got, c, h, w)
}
