package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/data/npy"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/cpu"
	"github.com/resnext/resnext/resnext"
)

// run executes the command line args and returns what it printed and its error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetArgs(append(args, "--log_format", "json"))
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	err := root.Execute()
	return out.String(), err
}

// savedModel initialises a model from cfg, saves it at path and returns it (on b) for reference.
func savedModel(t *testing.T, b ops.Backend, cfg resnext.Config, path string) *resnext.Model {
	t.Helper()
	m, err := resnext.New(b, cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	if err := ckpt.Save(m.Params(), b, path, ckpt.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	m.SetTraining(false)
	return m
}

func randomBatch(n, c, h, w int) []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestPredictArray runs `predict --input X.npy --output Y.npy` on a saved model and checks the
// logits against the model's own forward pass.
func TestPredictArray(t *testing.T) {
	dir := t.TempDir()
	b := cpu.New(cpu.Options{})
	cfg, _ := resnext.Variant("resnext14_small")
	w := filepath.Join(dir, "w.ckpt")
	m := savedModel(t, b, cfg, w)

	x := randomBatch(5, 1, 28, 28)
	a, _ := npy.FromFloat32([]int{5, 1, 28, 28}, x)
	in, out := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := a.Write(in); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "predict", "--model", "resnext14_small", "--ckpt_path", w, "--input", in, "--output", out, "--batch_size", "2"); err != nil {
		t.Fatal(err)
	}
	y, err := npy.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(y.Shape) != 2 || y.Shape[0] != 5 || y.Shape[1] != 10 || y.DType != "<f4" {
		t.Fatalf("output %s %v, want <f4 [5, 10]", y.DType, y.Shape)
	}
	xt := ops.FromFloat32(b, ops.Float32, ops.Shape{5, 1, 28, 28}, x)
	defer b.Free(xt)
	want, _ := ops.ToFloat32(b, m.Forward(xt))
	// Batches of 2 and of 5 give the same numbers in evaluation mode, up to rounding.
	if d := maxAbsDiff(y.Float32(), want); d > 1e-5 {
		t.Errorf("logits differ from the model's by %g", d)
	}
}

func writePNG(t *testing.T, path string, w, h int, c color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{c.R + uint8(x), c.G, c.B + uint8(y), 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// TestPredictImages classifies image files and a folder with a tiny RGB model, as a table and as JSON.
func TestPredictImages(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "more"), 0o755)
	writePNG(t, filepath.Join(dir, "a.png"), 40, 30, color.RGBA{200, 10, 10, 255})
	writePNG(t, filepath.Join(dir, "more", "b.png"), 50, 50, color.RGBA{10, 200, 10, 255})
	os.WriteFile(filepath.Join(dir, "more", "notes.txt"), []byte("not an image"), 0o644)

	b := cpu.New(cpu.Options{})
	cfg := resnext.Config{Name: "tiny_rgb", Blocks: [4]int{1, 1, 1, 1}, Groups: 2, BaseWidth: 16, Planes: 8,
		NumClasses: 4, InChannels: 3, Stem: resnext.ImageNetStem}
	m, err := resnext.New(b, cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	m.SetTraining(false)
	lm := &loadedModel{Model: m}
	classes := filepath.Join(dir, "classes.txt")
	os.WriteFile(classes, []byte("red\ngreen\nblue\ngrey\n"), 0o644)
	o := predictOptions{batchSize: 1, imageSize: 32, cropPct: 0.875, topK: 3, classesFile: classes}

	var table bytes.Buffer
	if err := predictImages(b, lm, o, []string{filepath.Join(dir, "a.png"), filepath.Join(dir, "more")}, &table, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 1+2*3 || !strings.Contains(lines[0], "probability") || !strings.Contains(table.String(), "b.png") {
		t.Errorf("table:\n%s", table.String())
	}

	o.json = true
	var js bytes.Buffer
	if err := predictImages(b, lm, o, []string{dir}, &js, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&js)
	n := 0
	for dec.More() {
		var p prediction
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		sum := 0.0
		for i, c := range p.Top {
			sum += c.Prob
			if c.Name == "" || (i > 0 && c.Prob > p.Top[i-1].Prob) {
				t.Errorf("%s: top %+v: want named classes in decreasing probability", p.Path, p.Top)
			}
		}
		if len(p.Top) != 3 || sum > 1+1e-9 || sum <= 0 {
			t.Errorf("%s: top %+v", p.Path, p.Top)
		}
	}
	if n != 2 {
		t.Errorf("%d predictions, want 2 (the text file is not an image)", n)
	}
	if err := predictImages(b, lm, o, []string{filepath.Join(dir, "more", "notes.txt")}, &js, zap.NewNop()); err == nil ||
		!strings.Contains(err.Error(), "cannot decode") {
		t.Errorf("a text file given as an image: %v", err)
	}
}

// TestConvert converts a MindCV .ckpt to torchvision-named safetensors and back, and checks that the
// weights survive and the padding style is recorded.
func TestConvert(t *testing.T) {
	dir := t.TempDir()
	b := cpu.New(cpu.Options{})
	cfg, _ := resnext.Variant("resnext14_small")
	src := filepath.Join(dir, "w.ckpt")
	savedModel(t, b, cfg, src)
	st := filepath.Join(dir, "w.safetensors")
	if _, err := run(t, "convert", src, st, "--naming", "torchvision"); err != nil {
		t.Fatal(err)
	}
	c, err := ckpt.Read(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Tensor("fc.weight"); !ok || c.Metadata[ckpt.MetaPoolPadding] != "same" {
		t.Errorf("converted: fc.weight present %v, metadata %v", ok, c.Metadata)
	}
	back := filepath.Join(dir, "back.ckpt")
	if _, err := run(t, "convert", st, back, "--slice_bytes", "1024"); err != nil {
		t.Fatal(err)
	}
	orig, _ := ckpt.Read(src)
	again, err := ckpt.Read(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Tensors) != len(orig.Tensors) {
		t.Fatalf("%d tensors after the round trip, want %d", len(again.Tensors), len(orig.Tensors))
	}
	for _, want := range orig.Tensors {
		got, ok := again.Tensor(want.Name)
		if !ok || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %s changed in the round trip", want.Name)
		}
	}
}

// TestCommandErrors checks that bad input ends in one clear line, never a panic.
func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	b := cpu.New(cpu.Options{})
	cfg, _ := resnext.Variant("resnext14_small")
	w := filepath.Join(dir, "w.ckpt")
	savedModel(t, b, cfg, w)
	rgb, _ := npy.FromFloat32([]int{1, 3, 28, 28}, make([]float32, 3*28*28))
	x3 := filepath.Join(dir, "rgb.npy")
	rgb.Write(x3)
	flat, _ := npy.FromFloat32([]int{1, 1, 0, 28}, nil)
	x0 := filepath.Join(dir, "flat.npy")
	flat.Write(x0)
	trunc := filepath.Join(dir, "trunc.ckpt")
	raw, _ := os.ReadFile(w)
	os.WriteFile(trunc, raw[:len(raw)/2], 0o644)
	garbage := filepath.Join(dir, "garbage.safetensors")
	os.WriteFile(garbage, []byte("hello, world, this is not a checkpoint"), 0o644)
	// One tensor missing, and one of the wrong shape.
	c, _ := ckpt.Read(w)
	c.Tensors = c.Tensors[1:]
	missing := filepath.Join(dir, "missing.ckpt")
	if err := c.Write(missing); err != nil {
		t.Fatal(err)
	}
	c, _ = ckpt.Read(w)
	c.Tensors[0].Shape = []int{c.Tensors[0].Shape[0], 1, 1, c.Tensors[0].Numel() / c.Tensors[0].Shape[0]}
	reshaped := filepath.Join(dir, "reshaped.ckpt")
	if err := c.Write(reshaped); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "--ckpt_path", w, dir}, `"model" not set`},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", filepath.Join(dir, "none.ckpt"), dir}, "none.ckpt"},
		{[]string{"predict", "--model", "nonet", "--ckpt_path", w, dir}, "nonet"},
		{[]string{"predict", "--model", "resnext26_small", "--ckpt_path", w, "--input", x3, "--output", "y.npy"}, "does not fit"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--input", x3, "--output", "y.npy"}, "want [N, 1, H, W]"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--input", x3}, "go together"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w}, "nothing to predict"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", trunc, "--input", x3, "--output", "y.npy"}, "trunc.ckpt"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", garbage, "--input", x3, "--output", "y.npy"}, "garbage.safetensors"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--pool_padding", "valid", dir}, "--pool_padding"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", missing, "--input", x3, "--output", "y.npy"}, "conv1.weight"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", reshaped, "--input", x3, "--output", "y.npy"}, "conv1.weight"},
		// An input of height 0 gave all-zero logits and status 0; absurd sizes reached the allocator.
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--input", x0, "--output", "y.npy"}, "want a height and width from 1 to 4096"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--image_size", "0", dir}, "--image_size 0: want pixels from 1 to 4096"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--image_size", "1000000000", dir}, "--image_size 1000000000"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--batch_size", "99999999999", dir}, "--batch_size 99999999999: want images per forward pass from 1 to 65536"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--num_classes", "1000000000", dir}, "--num_classes 1000000000: want classifier outputs (0: from the checkpoint) from 0 to 100000"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--crop_pct", "0", dir}, "--crop_pct 0: want a number in (0, 1]"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--crop_pct", "NaN", dir}, "--crop_pct NaN"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--crop_pct", "1.5", dir}, "--crop_pct 1.5"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--topk", "0", dir}, "--topk 0"},
		{[]string{"predict", "--model", "resnext14_small", "--ckpt_path", w, "--threads", "-1", dir}, "--threads -1"},
		{[]string{"convert", w, filepath.Join(dir, "o.safetensors"), "--naming", "keras"}, "--naming"},
		{[]string{"convert", w, filepath.Join(dir, "o.pth")}, ".pth"},
		{[]string{"convert", w}, "accepts 2 arg"},
	} {
		_, err := run(t, c.args...)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine") {
			t.Errorf("%v: got %q, want one line containing %q", c.args, msg, c.want)
		}
	}
}
