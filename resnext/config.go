package resnext

import (
	"fmt"
	"sort"
	"strings"

	"github.com/resnext/resnext/nn"
)

// Expansion is the ratio of a bottleneck block's output channels to its planes.
const Expansion = 4

// Stem selects the layers in front of layer1.
type Stem int

const (
	// ImageNetStem is MindCV's and torchvision's stem: a 7x7 convolution with stride 2 and padding
	// 3, batch norm and ReLU, then a 3x3 max pool with stride 2 (224 -> 112 -> 56).
	ImageNetStem Stem = iota
	// SmallStem is for images of 28 to 32 pixels (Fashion-MNIST, CIFAR): a 3x3 convolution with
	// stride 1 and padding 1, batch norm and ReLU, and no max pool, so that layer1 sees the full
	// resolution (28 -> 28 -> 14 -> 7 -> 4 through the stages).
	SmallStem
)

// String names the stem: "imagenet" or "small".
func (s Stem) String() string {
	switch s {
	case ImageNetStem:
		return "imagenet"
	case SmallStem:
		return "small"
	}
	return fmt.Sprintf("Stem(%d)", int(s))
}

// Config describes a network of the ResNeXt family (ResNet-50 included).
type Config struct {
	// Name is the model's name, such as "resnext50_32x4d"; it appears in errors.
	Name string
	// Blocks is the number of bottleneck blocks in layer1..layer4: {3, 4, 6, 3} for a 50-layer net.
	Blocks [4]int
	// Groups is the cardinality: the groups of every 3x3 convolution (32 in a 32x4d net, 1 in a ResNet).
	Groups int
	// BaseWidth is MindCV's base_width: each group of a stage's 3x3 convolution has
	// int(planes*BaseWidth/64) channels (4 in a 32x4d net, 64 in a ResNet).
	BaseWidth int
	// Planes is the stem's output channels and the planes of layer1; layer k has Planes*2^(k-1)
	// planes and Expansion times as many output channels. It is 64 in every MindCV model.
	Planes int
	// NumClasses is the classifier's output size.
	NumClasses int
	// InChannels is the image channels: 3 for RGB, 1 for grey-scale.
	InChannels int
	// Stem selects the ImageNet stem or the one for small images.
	Stem Stem
	// MaxPool is the ImageNet stem's max-pool padding ("" means nn.PoolSame, MindCV's); the small
	// stem has no max pool and ignores it.
	MaxPool nn.PoolPadding
}

// BlockSpec is the geometry of one bottleneck block.
type BlockSpec struct {
	// In and Out are the block's input and output channels.
	In, Out int
	// Width is the channels of the grouped 3x3 convolution (and of conv1's output).
	Width int
	// Stride is the stride of the 3x3 convolution and of the down_sample branch.
	Stride int
	// Groups is the groups of the 3x3 convolution.
	Groups int
}

// DownSample reports whether the block needs a down_sample branch (a strided 1x1 convolution and a
// batch norm) in place of the identity: when its stride is not 1 or its channels change.
func (s BlockSpec) DownSample() bool { return s.Stride != 1 || s.In != s.Out }

// planes is the planes of stage k (0-based): Planes, 2*Planes, 4*Planes, 8*Planes.
func (c Config) planes(k int) int { return c.Planes << k }

// width is the channels of stage k's 3x3 convolutions, as MindCV computes them:
// int(planes * base_width / 64) * groups.
func (c Config) width(k int) int { return c.planes(k) * c.BaseWidth / 64 * c.Groups }

// NumFeatures is the number of features the classifier sees: the last stage's output channels
// (2048 in every MindCV model).
func (c Config) NumFeatures() int { return c.planes(3) * Expansion }

// Stages lists the blocks of layer1..layer4 (MindCV's _make_layer): stage k has Blocks[k] blocks
// of planes 64*2^(k-1) (for Planes 64); its first block has stride 1 in layer1 and 2 in the others,
// takes the previous stage's channels and has a down_sample branch; the other blocks keep the
// channels and the resolution. Stages assumes a valid Config.
func (c Config) Stages() [4][]BlockSpec {
	var stages [4][]BlockSpec
	in := c.Planes
	for k := range stages {
		stride := 2
		if k == 0 {
			stride = 1
		}
		out := c.planes(k) * Expansion
		for range c.Blocks[k] {
			stages[k] = append(stages[k], BlockSpec{In: in, Out: out, Width: c.width(k), Stride: stride, Groups: c.Groups})
			in, stride = out, 1
		}
	}
	return stages
}

// Limits on the sizes a run may ask for. They are far above any real use (ImageNet-21k has 21,843
// classes, MindCV's largest input is 448 pixels) and keep a mistyped value from reaching the
// allocator: a value above one is refused with its name and the limit, not an out-of-memory crash.
const (
	// MaxNumClasses is the most classifier outputs a model may have.
	MaxNumClasses = 100_000
	// MaxInChannels is the most input channels a model may have.
	MaxInChannels = 64
	// MaxImageSize is the largest image height and width a model is run on.
	MaxImageSize = 4096
	// MaxBatchSize is the largest batch a model is run on.
	MaxBatchSize = 65536
)

// FeatureSize is the height (or width) of the last stage's output for an input image of side size
// (at least 1): the stem, then one halving (rounded up) per strided stage.
func (c Config) FeatureSize(size int) int {
	if c.Stem == ImageNetStem {
		size = (size + 1) / 2 // 7x7 convolution, stride 2, padding 3
		size = (size + 1) / 2 // 3x3 max pool, stride 2
	}
	for k := 1; k < 4; k++ {
		size = (size + 1) / 2 // 3x3 convolution, stride 2, padding 1
	}
	return size
}

// MinTrainBatch is the smallest batch a training step can take on images of side size: batch norm
// in training needs at least two values per channel, and the last stage has FeatureSize(size)^2 per
// image.
func (c Config) MinTrainBatch(size int) int {
	if f := c.FeatureSize(size); f*f >= 2 {
		return 1
	}
	return 2
}

// Validate reports what is wrong with the configuration, if anything.
func (c Config) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for k, n := range c.Blocks {
		if n < 1 {
			bad("layer%d has %d blocks: want at least 1 in every stage", k+1, n)
		}
	}
	if c.Groups < 1 {
		bad("groups %d: want at least 1 (1 for a ResNet)", c.Groups)
	}
	if c.BaseWidth < 1 {
		bad("base width %d: want at least 1 (4 for a 32x4d net, 64 for a ResNet)", c.BaseWidth)
	}
	if c.Planes < 1 {
		bad("planes %d: want at least 1 (64 in MindCV's models)", c.Planes)
	}
	if c.Groups >= 1 && c.BaseWidth >= 1 && c.Planes >= 1 && c.width(0) == 0 {
		bad("planes %d and base width %d give int(%d*%d/64) = 0 channels per group in layer1: "+
			"want planes*base_width >= 64", c.Planes, c.BaseWidth, c.Planes, c.BaseWidth)
	}
	if c.NumClasses < 1 || c.NumClasses > MaxNumClasses {
		bad("num classes %d: want 1 to %d (the number of classes in the data)", c.NumClasses, MaxNumClasses)
	}
	if c.InChannels < 1 || c.InChannels > MaxInChannels {
		bad("in channels %d: want 1 to %d (3 for RGB, 1 for grey-scale)", c.InChannels, MaxInChannels)
	}
	if c.Stem != ImageNetStem && c.Stem != SmallStem {
		bad("stem %v: want ImageNetStem or SmallStem", c.Stem)
	}
	if c.MaxPool != "" {
		if _, err := nn.ParsePoolPadding(string(c.MaxPool)); err != nil {
			bad("%v", err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	name := c.Name
	if name == "" {
		name = "(unnamed)"
	}
	return fmt.Errorf("resnext config %s: %s", name, strings.Join(errs, "; "))
}

// variants are the registered models. The four ResNeXts and ResNet-50 are MindCV's, with its names;
// the small ones are this project's, for 28-32 pixel images on the CPU.
var variants = map[string]Config{
	"resnext50_32x4d":  imageNet("resnext50_32x4d", [4]int{3, 4, 6, 3}, 32, 4),
	"resnext101_32x4d": imageNet("resnext101_32x4d", [4]int{3, 4, 23, 3}, 32, 4),
	"resnext101_64x4d": imageNet("resnext101_64x4d", [4]int{3, 4, 23, 3}, 64, 4),
	"resnext152_64x4d": imageNet("resnext152_64x4d", [4]int{3, 8, 36, 3}, 64, 4),
	"resnet50":         imageNet("resnet50", [4]int{3, 4, 6, 3}, 1, 64),
	"resnext14_small":  small("resnext14_small", [4]int{1, 1, 1, 1}, 8, 4, 32),
	"resnext26_small":  small("resnext26_small", [4]int{2, 2, 2, 2}, 16, 8, 16),
}

// imageNet is a MindCV model: the ImageNet stem, 64 planes, 1000 classes of RGB images.
func imageNet(name string, blocks [4]int, groups, baseWidth int) Config {
	return Config{Name: name, Blocks: blocks, Groups: groups, BaseWidth: baseWidth, Planes: 64,
		NumClasses: 1000, InChannels: 3, Stem: ImageNetStem, MaxPool: nn.PoolSame}
}

// small is a net for 28x28 grey-scale images in 10 classes (Fashion-MNIST): the small stem, fewer
// planes than MindCV's 64, and groups of 4 channels in layer1's 3x3 convolutions ("Gx4d" in the
// paper's terms).
func small(name string, blocks [4]int, planes, groups, baseWidth int) Config {
	return Config{Name: name, Blocks: blocks, Groups: groups, BaseWidth: baseWidth, Planes: planes,
		NumClasses: 10, InChannels: 1, Stem: SmallStem, MaxPool: nn.PoolSame}
}

// Variant returns the configuration of a registered model by name (case-insensitive):
//
//	resnext50_32x4d, resnext101_32x4d, resnext101_64x4d, resnext152_64x4d, resnet50
//	    MindCV's models: ImageNet stem with MindCV's "same" max pool, 1000 classes, RGB.
//	resnext14_small, resnext26_small
//	    This project's nets for 28-32 pixel images (Fashion-MNIST; set InChannels to 3 for CIFAR):
//	    the small stem, 10 classes, 1 channel, and
//	    resnext14_small: 1 block per stage, planes 8, 4 groups of 4 channels in layer1
//	        (3x3 widths 16, 32, 64, 128; 256 features; 0.16M parameters; 7.8M multiply-adds
//	        per 28x28 image), quick enough to train in tests;
//	    resnext26_small: 2 blocks per stage, planes 16, 8 groups of 4 channels in layer1
//	        (3x3 widths 32, 64, 128, 256; 512 features; 0.99M parameters; 45M multiply-adds).
//
// Change NumClasses, InChannels or MaxPool on the result to fit the data and the weights.
func Variant(name string) (Config, error) {
	c, ok := variants[strings.ToLower(name)]
	if !ok {
		return Config{}, fmt.Errorf("unknown model %q: known models are %s", name, strings.Join(Variants(), ", "))
	}
	return c, nil
}

// Variants lists the names of the registered models, sorted.
func Variants() []string {
	names := make([]string, 0, len(variants))
	for n := range variants {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
