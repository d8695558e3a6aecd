package resnext

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// TestParamCounts builds every registered model without storage and counts its parameters:
// MindCV's tables for the ResNeXts (trainable exactly, and with the moving statistics in millions
// rounded to two decimals), torchvision's 25,557,032 for ResNet-50, and this project's small nets.
func TestParamCounts(t *testing.T) {
	for _, c := range []struct {
		name      string
		trainable int
		millions  string // with the moving statistics
		tensors   int
	}{
		{"resnext50_32x4d", 25_028_904, "25.10", 267},
		{"resnext101_32x4d", 44_177_704, "44.32", 522},
		{"resnext101_64x4d", 83_455_272, "83.66", 522},
		{"resnext152_64x4d", 114_971_944, "115.27", 777},
		{"resnet50", 25_557_032, "25.61", 267},
		{"resnext14_small", 162_914, "0.17", 87},
		{"resnext26_small", 992_570, "1.00", 147},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := build(t, shapeOnly{}, c.name)
			trainable, total := m.NumParams()
			if trainable != c.trainable {
				t.Errorf("%d trainable parameters, want %d", trainable, c.trainable)
			}
			if got := fmt.Sprintf("%.2f", float64(total)/1e6); got != c.millions {
				t.Errorf("%d parameters with the moving statistics = %sM, want %sM", total, got, c.millions)
			}
			if n := len(m.Params()); n != c.tensors {
				t.Errorf("%d parameter tensors, want %d", n, c.tensors)
			}
		})
	}
}

func build(t testing.TB, b ops.Backend, name string) *Model {
	t.Helper()
	cfg, err := Variant(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestParamNames checks resnext50_32x4d's parameter names against MindCV's checkpoint: the first
// and last entries, a sample in the middle with shapes, no duplicates, and every name of the form
// MINDCV.md lists.
func TestParamNames(t *testing.T) {
	m := build(t, shapeOnly{}, "resnext50_32x4d")
	ps := m.Params()
	var names []string
	index := map[string]int{}
	for i, p := range ps {
		if _, dup := index[p.Name]; dup {
			t.Errorf("duplicate name %q", p.Name)
		}
		index[p.Name] = i
		names = append(names, p.Name)
	}
	first := []string{"conv1.weight", "bn1.gamma", "bn1.beta", "bn1.moving_mean", "bn1.moving_variance",
		"layer1.0.conv1.weight", "layer1.0.bn1.gamma", "layer1.0.bn1.beta", "layer1.0.bn1.moving_mean",
		"layer1.0.bn1.moving_variance", "layer1.0.conv2.weight"}
	if got := names[:len(first)]; !slices.Equal(got, first) {
		t.Errorf("first names\n got %q\nwant %q", got, first)
	}
	last := []string{"layer4.2.conv3.weight", "layer4.2.bn3.gamma", "layer4.2.bn3.beta", "layer4.2.bn3.moving_mean",
		"layer4.2.bn3.moving_variance", "classifier.weight", "classifier.bias"}
	if got := names[len(names)-len(last):]; !slices.Equal(got, last) {
		t.Errorf("last names\n got %q\nwant %q", got, last)
	}
	// A run in the middle: the end of layer1's first block, its down-sampling branch, the next block.
	middle := []string{"layer1.0.bn3.moving_variance", "layer1.0.down_sample.0.weight", "layer1.0.down_sample.1.gamma",
		"layer1.0.down_sample.1.beta", "layer1.0.down_sample.1.moving_mean", "layer1.0.down_sample.1.moving_variance",
		"layer1.1.conv1.weight"}
	if i := index[middle[0]]; !slices.Equal(names[i:i+len(middle)], middle) {
		t.Errorf("names after %s\n got %q\nwant %q", middle[0], names[i:i+len(middle)], middle)
	}
	for name, shape := range map[string]ops.Shape{
		"conv1.weight":                  {64, 3, 7, 7},
		"bn1.moving_variance":           {64},
		"layer1.0.conv1.weight":         {128, 64, 1, 1},
		"layer1.0.conv2.weight":         {128, 4, 3, 3},
		"layer1.0.conv3.weight":         {256, 128, 1, 1},
		"layer1.0.down_sample.0.weight": {256, 64, 1, 1},
		"layer2.0.conv1.weight":         {256, 256, 1, 1},
		"layer2.0.down_sample.0.weight": {512, 256, 1, 1},
		"layer3.5.conv2.weight":         {512, 16, 3, 3},
		"layer3.5.bn2.gamma":            {512},
		"layer4.0.conv2.weight":         {1024, 32, 3, 3},
		"layer4.2.bn3.moving_mean":      {2048},
		"classifier.weight":             {1000, 2048},
		"classifier.bias":               {1000},
	} {
		i, ok := index[name]
		if !ok {
			t.Errorf("no parameter %q", name)
			continue
		}
		if got := ps[i].Value.Shape(); !got.Equal(shape) {
			t.Errorf("%s: shape %v, want %v", name, got, shape)
		}
	}
	for _, k := range []string{"layer1.1", "layer2.1", "layer4.2"} {
		if _, ok := index[k+".down_sample.0.weight"]; ok {
			t.Errorf("%s has a down_sample branch: only a stage's first block has one", k)
		}
	}
	for _, p := range ps {
		moving := strings.HasSuffix(p.Name, ".moving_mean") || strings.HasSuffix(p.Name, ".moving_variance")
		if p.Trainable == moving {
			t.Errorf("%s: trainable %v", p.Name, p.Trainable)
		}
	}
}

// TestStages checks the block geometry MindCV's _make_layer gives resnext50_32x4d and resnet50.
func TestStages(t *testing.T) {
	cfg, _ := Variant("resnext50_32x4d")
	st := cfg.Stages()
	for k, want := range []BlockSpec{
		{In: 64, Out: 256, Width: 128, Stride: 1, Groups: 32},
		{In: 256, Out: 512, Width: 256, Stride: 2, Groups: 32},
		{In: 512, Out: 1024, Width: 512, Stride: 2, Groups: 32},
		{In: 1024, Out: 2048, Width: 1024, Stride: 2, Groups: 32},
	} {
		if len(st[k]) != cfg.Blocks[k] {
			t.Errorf("layer%d: %d blocks, want %d", k+1, len(st[k]), cfg.Blocks[k])
		}
		if st[k][0] != want || !want.DownSample() {
			t.Errorf("layer%d.0: %+v, want %+v", k+1, st[k][0], want)
		}
		rest := BlockSpec{In: want.Out, Out: want.Out, Width: want.Width, Stride: 1, Groups: 32}
		if st[k][1] != rest || rest.DownSample() {
			t.Errorf("layer%d.1: %+v, want %+v without down_sample", k+1, st[k][1], rest)
		}
	}
	r50, _ := Variant("resnet50")
	if got := r50.Stages()[2][0]; got != (BlockSpec{In: 512, Out: 1024, Width: 256, Stride: 2, Groups: 1}) {
		t.Errorf("resnet50 layer3.0: %+v", got)
	}
	if cfg.NumFeatures() != 2048 {
		t.Errorf("%d features, want 2048", cfg.NumFeatures())
	}
}

func TestVariant(t *testing.T) {
	want := []string{"resnet50", "resnext101_32x4d", "resnext101_64x4d", "resnext14_small", "resnext152_64x4d",
		"resnext26_small", "resnext50_32x4d"}
	if got := Variants(); !slices.Equal(got, want) {
		t.Errorf("Variants() = %q, want %q", got, want)
	}
	for _, name := range want {
		cfg, err := Variant(name)
		if err != nil || cfg.Name != name || cfg.Validate() != nil {
			t.Errorf("Variant(%q) = %+v, %v; Validate: %v", name, cfg, err, cfg.Validate())
		}
	}
	cfg, err := Variant("ResNeXt50_32x4d")
	if err != nil || cfg.Groups != 32 || cfg.BaseWidth != 4 || cfg.Blocks != [4]int{3, 4, 6, 3} ||
		cfg.Stem != ImageNetStem || cfg.MaxPool != nn.PoolSame || cfg.NumClasses != 1000 {
		t.Errorf("Variant(ResNeXt50_32x4d) = %+v, %v", cfg, err)
	}
	_, err = Variant("resnext50")
	if err == nil || !strings.Contains(err.Error(), `"resnext50"`) || !strings.Contains(err.Error(), strings.Join(want, ", ")) {
		t.Errorf("unknown name: error %v, want one naming it and listing %q", err, want)
	}
}

func TestValidate(t *testing.T) {
	good, _ := Variant("resnext14_small")
	for _, c := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Blocks[2] = 0 }, "layer3 has 0 blocks"},
		{func(c *Config) { c.Groups = 0 }, "groups 0"},
		{func(c *Config) { c.BaseWidth = -1 }, "base width -1"},
		{func(c *Config) { c.Planes = 0 }, "planes 0"},
		{func(c *Config) { c.BaseWidth = 3 }, "int(8*3/64) = 0 channels per group"},
		{func(c *Config) { c.NumClasses = 0 }, "num classes 0"},
		{func(c *Config) { c.InChannels = 0 }, "in channels 0"},
		{func(c *Config) { c.Stem = 7 }, "stem Stem(7)"},
		{func(c *Config) { c.MaxPool = "valid" }, `max-pool padding "valid"`},
	} {
		cfg := good
		c.change(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "resnext14_small") {
			t.Errorf("Validate() = %v, want an error naming the model and containing %q", err, c.want)
		}
		if _, err := Build(shapeOnly{}, cfg); err == nil {
			t.Errorf("Build accepted %+v", cfg)
		}
	}
	if err := (Config{}).Validate(); err == nil || strings.Count(err.Error(), ";") < 5 || strings.Contains(err.Error(), "\n") {
		t.Errorf("zero Config: %v, want every problem on one line", err)
	}
}

// TestMinTrainBatch runs a training forward pass of both stems at the smallest batch MinTrainBatch
// allows, for images from 1 pixel up, and checks that one image fewer is the batch norm misuse it
// guards against.
func TestMinTrainBatch(t *testing.T) {
	for _, name := range []string{"resnext14_small", "resnext50_32x4d"} {
		cfg, _ := Variant(name)
		m, err := Build(noCompute{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.SetTraining(true)
		forward := func(n, size int) (msg string) {
			defer func() {
				if r := recover(); r != nil {
					msg = fmt.Sprint(r)
				}
			}()
			m.Forward(noCompute{}.Alloc(ops.Float32, ops.Shape{n, cfg.InChannels, size, size}))
			return ""
		}
		for _, size := range []int{1, 2, 3, 7, 8, 9, 16, 17, 32, 33, 64} {
			n := cfg.MinTrainBatch(size)
			if msg := forward(n, size); msg != "" {
				t.Errorf("%s, %d pixels, batch %d: %s", name, size, n, msg)
			}
			if n > 1 {
				if msg := forward(n-1, size); !strings.Contains(msg, "one value per channel") {
					t.Errorf("%s, %d pixels, batch %d: %q, want the one-value misuse", name, size, n-1, msg)
				}
			}
		}
	}
}
