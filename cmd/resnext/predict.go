package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resnext/resnext/data"
	"github.com/resnext/resnext/data/imagenet"
	"github.com/resnext/resnext/data/npy"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/resnext"
)

// predictOptions are the flags of `resnext predict`.
type predictOptions struct {
	model, ckptPath, poolPadding, input, output, classesFile, logFormat string
	jpegDecoder                                                         string
	numClasses, batchSize, imageSize, topK                              int
	cropPct                                                             float64
	json                                                                bool
	device                                                              deviceOptions
}

func newPredictCmd() *cobra.Command {
	o := predictOptions{}
	cmd := &cobra.Command{
		Use:   "predict --model NAME --ckpt_path FILE (--input X.npy --output Y.npy | IMAGE_OR_FOLDER...)",
		Short: "Classify images, or run a batch of arrays, with a trained ResNeXt",
		Long: `predict loads a model's weights (MindSpore .ckpt, .safetensors, or a PyTorch .pth state
dict; MindCV or torchvision/timm names) and runs it in evaluation mode.

With --input X.npy --output Y.npy, X is an NCHW float32 batch, already normalised, and Y receives
the float32 logits [N, num_classes].

With image files or folders (searched recursively for .jpg, .jpeg, .png, .bmp, .gif, .webp), each
image goes through MindCV's evaluation transform (resize the shorter side to image_size/crop_pct,
center crop image_size, normalise) and predict prints the top-k classes with their probabilities,
as a table or, with --json, one JSON object per line. Class names are those of --classes (one name
per line), else those the checkpoint records (train and finetune write them), else ImageNet's when
the model has 1000 classes, else the class indices.

The max-pool padding follows the weights: MindCV's "same" for MindCV checkpoints, torchvision's
"symmetric" for torchvision/timm ones, as the checkpoint records or its names imply; --pool_padding
overrides it.`,
		Example: `  resnext predict --model resnext50_32x4d --ckpt_path resnext50.ckpt photos/
  resnext predict --model resnext50_32x4d --ckpt_path resnext50_32x4d.pth --input x.npy --output logits.npy`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return logged(o.logFormat, func(log *zap.Logger) error { return runPredict(o, args, cmd.OutOrStdout(), log) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model name (resnext50_32x4d, resnext101_32x4d, resnext101_64x4d, resnext152_64x4d, resnet50, ...)")
	f.StringVar(&o.ckptPath, "ckpt_path", "", "weights: .ckpt, .safetensors or .pth")
	f.IntVar(&o.numClasses, "num_classes", 0, "classifier outputs (0: from the checkpoint)")
	f.StringVar(&o.poolPadding, "pool_padding", "auto", "stem max-pool padding: same (MindCV), symmetric (torchvision) or auto (from the checkpoint)")
	f.StringVar(&o.input, "input", "", "NCHW float32 .npy batch to run instead of images")
	f.StringVar(&o.output, "output", "", "where --input's logits go (.npy)")
	f.IntVar(&o.batchSize, "batch_size", 16, "images per forward pass")
	f.IntVar(&o.imageSize, "image_size", 224, "crop size of the evaluation transform")
	f.Float64Var(&o.cropPct, "crop_pct", 0.875, "the crop's share of the resized image (256 = 224/0.875)")
	f.StringVar(&o.jpegDecoder, "jpeg_decoder", "auto", "JPEG decoder: auto (libjpeg-turbo when installed, else Go), libjpeg-turbo or go")
	f.IntVar(&o.topK, "topk", 5, "classes to show per image")
	f.StringVar(&o.classesFile, "classes", "", "file of class names, one per line, in label order")
	f.BoolVar(&o.json, "json", false, "print one JSON object per image instead of a table")
	o.device.register(f)
	f.StringVar(&o.logFormat, "log_format", "console", "log format: console or json")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("ckpt_path")
	return cmd
}

func runPredict(o predictOptions, args []string, out io.Writer, log *zap.Logger) error {
	switch {
	case o.input != "" && o.output == "", o.input == "" && o.output != "":
		return fmt.Errorf("--input and --output go together")
	case o.input != "" && len(args) > 0:
		return fmt.Errorf("give either --input X.npy or images, not both")
	case o.input == "" && len(args) == 0:
		return fmt.Errorf("nothing to predict: give image files or folders, or --input X.npy --output Y.npy")
	}
	if err := o.validate(); err != nil {
		return err
	}
	b, err := o.device.open(log)
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := loadModel(b, log, o.model, o.ckptPath, o.numClasses, o.poolPadding)
	if err != nil {
		return err
	}
	defer m.Free()
	if o.input != "" {
		return predictArray(b, m, o, log)
	}
	return predictImages(b, m, o, args, out, log)
}

// validate checks the numeric flags against their ranges.
func (o predictOptions) validate() error {
	return firstErr(
		intFlag("batch_size", o.batchSize, 1, resnext.MaxBatchSize, "images per forward pass"),
		intFlag("topk", o.topK, 1, resnext.MaxNumClasses, "classes per image"),
		intFlag("image_size", o.imageSize, 1, resnext.MaxImageSize, "pixels"),
		intFlag("num_classes", o.numClasses, 0, resnext.MaxNumClasses, "classifier outputs (0: from the checkpoint)"),
		floatFlag("crop_pct", o.cropPct, 0, true, 1),
		o.device.validate(),
	)
}

// forward runs the model on a batch of host values [n, c, h, w] and returns the logits.
func forward(b ops.Backend, m *loadedModel, shape ops.Shape, x []float32) ([]float32, error) {
	t := ops.FromFloat32(b, ops.Float32, shape, x)
	defer b.Free(t)
	return ops.ToFloat32(b, m.Forward(t))
}

func predictArray(b ops.Backend, m *loadedModel, o predictOptions, log *zap.Logger) error {
	a, err := npy.Read(o.input)
	if err != nil {
		return err
	}
	cfg := m.Config()
	if len(a.Shape) != 4 || a.Shape[1] != cfg.InChannels || a.Shape[0] == 0 {
		return fmt.Errorf("--input %s has shape %v: want [N, %d, H, W] with N > 0 (NCHW, normalised)", o.input, a.Shape, cfg.InChannels)
	}
	if h, w := a.Shape[2], a.Shape[3]; h < 1 || w < 1 || h > resnext.MaxImageSize || w > resnext.MaxImageSize {
		return fmt.Errorf("--input %s has shape %v: want a height and width from 1 to %d", o.input, a.Shape, resnext.MaxImageSize)
	}
	if err := checkMemory(b, cfg, min(o.batchSize, a.Shape[0]), max(a.Shape[2], a.Shape[3]), false, "batch_size", "input's side"); err != nil {
		return err
	}
	if a.DType != "<f4" {
		return fmt.Errorf("--input %s is %s: want float32 (<f4); convert with x.astype(numpy.float32)", o.input, a.DType)
	}
	n, per := a.Shape[0], a.Shape[1]*a.Shape[2]*a.Shape[3]
	x := a.Float32()
	logits := make([]float32, 0, n*cfg.NumClasses)
	for lo := 0; lo < n; lo += o.batchSize {
		hi := min(lo+o.batchSize, n)
		y, err := forward(b, m, ops.Shape{hi - lo, a.Shape[1], a.Shape[2], a.Shape[3]}, x[lo*per:hi*per])
		if err != nil {
			return err
		}
		logits = append(logits, y...)
	}
	res, err := npy.FromFloat32([]int{n, cfg.NumClasses}, logits)
	if err != nil {
		return err
	}
	if err := res.Write(o.output); err != nil {
		return err
	}
	log.Info("logits written", zap.String("output", o.output), zap.Int("images", n), zap.Int("classes", cfg.NumClasses))
	return nil
}

// imageExtensions are the files a folder argument contributes.
var imageExtensions = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".gif": true, ".webp": true}

// imagePaths expands the arguments: files as given, folders walked recursively in lexical order.
func imagePaths(args []string) ([]string, error) {
	var paths []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			paths = append(paths, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && imageExtensions[strings.ToLower(filepath.Ext(p))] {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no images in %s (looked for %s)", strings.Join(args, ", "), "jpg, jpeg, png, bmp, gif, webp")
	}
	return paths, nil
}

// classNames returns the label names: from --classes, else those the checkpoint records (train and
// finetune write them), else ImageNet's for 1000 classes, else nil.
func classNames(file string, n int, recorded []string) ([]string, error) {
	if file == "" {
		if len(recorded) == n {
			return recorded, nil
		}
		if n == len(imagenet.Classes) {
			return imagenet.Classes, nil
		}
		return nil, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--classes: %w", err)
	}
	names := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(names) != n {
		return nil, fmt.Errorf("--classes %s has %d names for a model with %d classes", file, len(names), n)
	}
	return names, nil
}

// prediction is one image's top classes.
type prediction struct {
	Path string  `json:"path"`
	Top  []class `json:"top"`
}

type class struct {
	Label int     `json:"label"`
	Name  string  `json:"name,omitempty"`
	Prob  float64 `json:"prob"`
}

func predictImages(b ops.Backend, m *loadedModel, o predictOptions, args []string, out io.Writer, log *zap.Logger) error {
	cfg := m.Config()
	if cfg.InChannels != 3 {
		return fmt.Errorf("--model %s takes %d-channel input; images are RGB: use --input X.npy for it", cfg.Name, cfg.InChannels)
	}
	if err := checkMemory(b, cfg, o.batchSize, o.imageSize, false, "batch_size", "image_size"); err != nil {
		return err
	}
	paths, err := imagePaths(args)
	if err != nil {
		return err
	}
	names, err := classNames(o.classesFile, cfg.NumClasses, m.classes)
	if err != nil {
		return err
	}
	opt := data.DefaultOptions()
	opt.Train, opt.ImageSize, opt.CropPct, opt.JPEGDecoder = false, o.imageSize, o.cropPct, o.jpegDecoder
	files, err := data.NewFileLoader(opt)
	if err != nil {
		return err
	}
	defer files.Close()
	log.Info("JPEG decoding", zap.String("decoder", files.JPEGDecoder()))
	per := 3 * o.imageSize * o.imageSize
	var preds []prediction
	for lo := 0; lo < len(paths); lo += o.batchSize {
		batch := paths[lo:min(lo+o.batchSize, len(paths))]
		x := make([]float32, len(batch)*per)
		for i, p := range batch {
			if err := files.Load(p, x[i*per:(i+1)*per]); err != nil {
				return err
			}
		}
		logits, err := forward(b, m, ops.Shape{len(batch), 3, o.imageSize, o.imageSize}, x)
		if err != nil {
			return err
		}
		for i, p := range batch {
			preds = append(preds, prediction{Path: p, Top: topK(logits[i*cfg.NumClasses:(i+1)*cfg.NumClasses], o.topK, names)})
		}
	}
	log.Info("predicted", zap.Int("images", len(preds)))
	if o.json {
		enc := json.NewEncoder(out)
		for _, p := range preds {
			if err := enc.Encode(p); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "image\trank\tlabel\tclass\tprobability")
	for _, p := range preds {
		for r, c := range p.Top {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.4f\n", p.Path, r+1, c.Label, c.Name, c.Prob)
		}
	}
	return tw.Flush()
}

// topK returns the k most probable classes of one row of logits (softmax in float64).
func topK(logits []float32, k int, names []string) []class {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	probs := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		probs[i] = math.Exp(float64(v) - mx)
		sum += probs[i]
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	top := make([]class, min(k, len(idx)))
	for r := range top {
		c := class{Label: idx[r], Prob: probs[idx[r]] / sum}
		if names != nil {
			c.Name = names[idx[r]]
		}
		top[r] = c
	}
	return top
}
