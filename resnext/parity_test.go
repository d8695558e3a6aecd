package resnext

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// The whole-model fixtures of scripts/gen_model_fixtures.py: one tiny ResNeXt built from
// torchvision's ResNet and Bottleneck classes, its weights in three files, and its eval-mode logits
// with torchvision's symmetric max pool and with MindCV's "same" one.
const (
	parityExpected    = "testdata/tiny_expected.safetensors"
	parityTorchPTH    = "testdata/tiny_torchvision.pth"
	paritySafeTensors = "testdata/tiny_torchvision.safetensors"
	parityMindCVCkpt  = "testdata/tiny_mindcv.ckpt"
)

// tinyParity is the fixtures' network: planes 8, stages of 8, 16, 32, 64 planes with 3x3 widths
// 4, 8, 16, 32, 256 features, 10 classes, an identity block in layer1.
func tinyParity(maxPool nn.PoolPadding) Config {
	return Config{Name: "tiny", Blocks: [4]int{2, 1, 1, 1}, Groups: 2, BaseWidth: 16, Planes: 8, NumClasses: 10,
		InChannels: 3, Stem: ImageNetStem, MaxPool: maxPool}
}

// parityData is the input and the expected logits.
type parityData struct {
	xShape          ops.Shape
	x               []float32
	symmetric, same []float32
}

func readParity(t *testing.T) parityData {
	t.Helper()
	f, err := safetensors.Read(parityExpected)
	if err != nil {
		t.Fatalf("%v (regenerate it with scripts/gen_model_fixtures.py)", err)
	}
	var meta struct {
		Blocks     [4]int `json:"blocks"`
		Groups     int    `json:"groups"`
		BaseWidth  int    `json:"base_width"`
		Planes     int    `json:"planes"`
		NumClasses int    `json:"num_classes"`
		InChannels int    `json:"in_channels"`
	}
	if err := json.Unmarshal([]byte(f.Metadata["config"]), &meta); err != nil {
		t.Fatalf("%s: metadata config: %v", parityExpected, err)
	}
	cfg := tinyParity("")
	if meta.Blocks != cfg.Blocks || meta.Groups != cfg.Groups || meta.BaseWidth != cfg.BaseWidth ||
		meta.Planes != cfg.Planes || meta.NumClasses != cfg.NumClasses || meta.InChannels != cfg.InChannels {
		t.Fatalf("%s was made for %+v, the test builds %+v", parityExpected, meta, cfg)
	}
	var d parityData
	d.x, d.xShape = testutil.Fixture(t, f, "x")
	var ls ops.Shape
	d.symmetric, ls = testutil.Fixture(t, f, "logits_symmetric")
	d.same, _ = testutil.Fixture(t, f, "logits_same")
	if want := (ops.Shape{d.xShape[0], cfg.NumClasses}); !ls.Equal(want) {
		t.Fatalf("logits shape %v, want %v", ls, want)
	}
	return d
}

// TestTorchvisionParity loads the same weights from a PyTorch state dict, a safetensors file with
// torchvision's names and a MindSpore checkpoint with MindCV's names (some tensors in slices), each
// into a model built with the max-pool padding the checkpoint implies (torchvision's names:
// symmetric; MindCV's: "same"), and compares the eval-mode logits with torchvision's and with the
// "same"-pooling reference to 1e-4 relative. Each model is then switched to the other padding and
// must match the other reference.
func TestTorchvisionParity(t *testing.T) {
	d := readParity(t)
	if maxDiff(d.same, d.symmetric) <= 1e-2 {
		t.Fatal("the two references nearly agree: the test would not tell the paddings apart")
	}
	b := testutil.CPU(t, 2)
	x := testutil.Upload(b, d.xShape, d.x)
	defer b.Free(x)
	want := map[nn.PoolPadding][]float32{nn.PoolSymmetric: d.symmetric, nn.PoolSame: d.same}

	for _, c := range []struct {
		path   string
		format ckpt.Format
		naming ckpt.Naming
		pool   nn.PoolPadding
	}{
		{parityTorchPTH, ckpt.PyTorch, ckpt.NamingTorch, nn.PoolSymmetric},
		{paritySafeTensors, ckpt.SafeTensors, ckpt.NamingTorch, nn.PoolSymmetric},
		{parityMindCVCkpt, ckpt.MindSpore, ckpt.NamingMindCV, nn.PoolSame},
	} {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			ck, err := ckpt.Read(c.path)
			if err != nil {
				t.Fatalf("%v (regenerate it with scripts/gen_model_fixtures.py)", err)
			}
			if ck.Format != c.format {
				t.Errorf("format %v, want %v", ck.Format, c.format)
			}
			choice, err := ck.PoolPadding()
			if err != nil {
				t.Fatal(err)
			}
			if choice.Style != c.pool || choice.Source != ckpt.FromNames {
				t.Fatalf("pool padding %q from %s, want %q from the names (%s)", choice.Style, choice.Source, c.pool, choice.Reason)
			}
			m, err := Build(b, tinyParity(choice.Style))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			rep, err := ckpt.Load(m.Params(), b, ck, ckpt.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Naming != c.naming || len(rep.Loaded) != len(m.Params()) {
				t.Errorf("naming %v, %d of %d parameters loaded; want %v and all", rep.Naming, len(rep.Loaded), len(m.Params()), c.naming)
			}
			m.SetTraining(false)
			other := nn.PoolSame
			if c.pool == nn.PoolSame {
				other = nn.PoolSymmetric
			}
			for i, pool := range []nn.PoolPadding{c.pool, other} {
				if i > 0 {
					if err := m.SetMaxPoolPadding(pool); err != nil {
						t.Fatal(err)
					}
				}
				got := testutil.Download(t, b, m.Forward(x))
				testutil.AssertClose(t, "logits ("+string(pool)+")", got, want[pool], 1e-4)
				t.Logf("%s pooling: max |got-want| %.3g (max |want| %.3g)", pool, maxDiff(got, want[pool]), maxAbs(want[pool]))
			}
		})
	}
}

// TestTorchvisionParityMismatch checks that weights that do not fit the model fail to load with an
// error naming the tensors at fault and leave the model as it was: the state dict into a model
// with other groups (every grouped convolution has the wrong shape) and into one with fewer blocks
// (layer1.1 is extra), and copies of it with a tensor deleted or reshaped.
func TestTorchvisionParityMismatch(t *testing.T) {
	b := testutil.CPU(t, 2)
	orig, err := ckpt.Read(parityTorchPTH)
	if err != nil {
		t.Fatalf("%v (regenerate it with scripts/gen_model_fixtures.py)", err)
	}

	// variant writes a safetensors copy of the state dict with edit applied to its tensors and
	// reads it back.
	variant := func(t *testing.T, edit func([]ckpt.Tensor) []ckpt.Tensor) *ckpt.Checkpoint {
		t.Helper()
		c := ckpt.New(edit(slices.Clone(orig.Tensors))...)
		path := filepath.Join(t.TempDir(), "edited.safetensors")
		if err := c.Write(path); err != nil {
			t.Fatal(err)
		}
		back, err := ckpt.Read(path)
		if err != nil {
			t.Fatal(err)
		}
		return back
	}
	index := func(ts []ckpt.Tensor, name string) int {
		i := slices.IndexFunc(ts, func(x ckpt.Tensor) bool { return x.Name == name })
		if i < 0 {
			t.Fatalf("%s has no tensor %q", parityTorchPTH, name)
		}
		return i
	}

	wrongGroups := tinyParity(nn.PoolSymmetric)
	wrongGroups.Groups = 4
	wrongGroups.BaseWidth = 8 // the same widths, half the channels per group
	fewerBlocks := tinyParity(nn.PoolSymmetric)
	fewerBlocks.Blocks[0] = 1

	for _, c := range []struct {
		name string
		cfg  Config
		ck   func(t *testing.T) *ckpt.Checkpoint
		want []string
	}{
		{"other_groups", wrongGroups, func(*testing.T) *ckpt.Checkpoint { return orig },
			[]string{"5 with the wrong shape: layer1.0.conv2.weight (checkpoint [4, 2, 3, 3], model [4, 1, 3, 3])"}},
		{"fewer_blocks", fewerBlocks, func(*testing.T) *ckpt.Checkpoint { return orig },
			[]string{"15 in the checkpoint but not in the model: layer1.1.conv1.weight", "and 5 more"}},
		{"tensor_deleted", tinyParity(nn.PoolSymmetric), func(t *testing.T) *ckpt.Checkpoint {
			return variant(t, func(ts []ckpt.Tensor) []ckpt.Tensor {
				return slices.Delete(ts, index(ts, "layer3.0.conv2.weight"), index(ts, "layer3.0.conv2.weight")+1)
			})
		}, []string{"1 missing from the checkpoint: layer3.0.conv2.weight"}},
		{"tensor_reshaped", tinyParity(nn.PoolSymmetric), func(t *testing.T) *ckpt.Checkpoint {
			return variant(t, func(ts []ckpt.Tensor) []ckpt.Tensor {
				i := index(ts, "layer2.0.bn1.running_mean")
				r := ts[i]
				r.Shape = []int{2, r.Shape[0] / 2}
				ts[i] = r
				return ts
			})
		}, []string{"1 with the wrong shape: layer2.0.bn1.moving_mean (checkpoint [2, 4], model [8])"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := Build(b, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			before := paramValues(t, b, m)
			ck := c.ck(t)
			_, err = ckpt.Load(m.Params(), b, ck, ckpt.LoadOptions{})
			if err == nil {
				t.Fatal("Load accepted weights that do not fit the model")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), ck.Path) {
				t.Errorf("error %q does not name the file %s", err, ck.Path)
			}
			after := paramValues(t, b, m)
			for i, p := range m.Params() {
				if maxDiff(before[i], after[i]) != 0 {
					t.Fatalf("a failed Load changed %s", p.Name)
				}
			}
		})
	}
}

func paramValues(t *testing.T, b ops.Backend, m *Model) [][]float32 {
	t.Helper()
	var vs [][]float32
	for _, p := range m.Params() {
		vs = append(vs, testutil.Download(t, b, p.Value))
	}
	return vs
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}
