package ckpt

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// tinyModel builds a stem and a head from nn layers, named as MindCV names them: conv1.weight
// [4, 3, 3, 3], bn1.{gamma, beta, moving_mean, moving_variance} [4], classifier.weight [classes, 4],
// classifier.bias [classes]. Every parameter is filled with fill.
func tinyModel(t *testing.T, b ops.Backend, classes int, fill float64) []*nn.Param {
	t.Helper()
	conv := nn.NewConv2d(b, 3, 4, 3, 2, 3, 1)
	bn := nn.NewBatchNorm2d(b, 4, nn.MindCVMomentum)
	fc := nn.NewLinear(b, 4, classes)
	t.Cleanup(func() { conv.Free(); bn.Free(); fc.Free() })
	var ps []*nn.Param
	ps = append(ps, nn.Child("conv1", conv)...)
	ps = append(ps, nn.Child("bn1", bn)...)
	ps = append(ps, nn.Child("classifier", fc)...)
	for _, p := range ps {
		b.Fill(p.Value, fill)
	}
	return ps
}

// setRamp gives every parameter distinct values: parameter i, element j holds i + j/100.
func setRamp(b ops.Backend, ps []*nn.Param) {
	for i, p := range ps {
		v := make([]float32, p.Value.Shape().Numel())
		for j := range v {
			v[j] = float32(i) + float32(j)/100
		}
		b.Write(p.Value, ops.Bytes(v))
	}
}

func values(t *testing.T, b ops.Backend, ps []*nn.Param) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, p := range ps {
		v, err := ops.ToFloat32(b, p.Value)
		if err != nil {
			t.Fatal(err)
		}
		out[p.Name] = v
	}
	return out
}

func paramNames(ps []*nn.Param) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestSaveLoadRoundTrip(t *testing.T) {
	b := testutil.CPU(t, 1)
	src := tinyModel(t, b, 5, 0)
	setRamp(b, src)
	want := values(t, b, src)
	step := safetensors.From("global_step", []int{1}, []int32{7})
	moments := safetensors.From("moments.classifier.bias", []int{5}, []float32{1, 2, 3, 4, 5})
	for _, ext := range []string{".ckpt", ".safetensors"} {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model"+ext)
			err := Save(src, b, path, SaveOptions{Extra: []Tensor{moments, step}, PoolPadding: nn.PoolSymmetric,
				Metadata: map[string]string{"epoch": "3"}, SliceBytes: 64})
			if err != nil {
				t.Fatal(err)
			}
			c, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(c.Tensors); !slices.Equal(got, sortedIf(ext == ".safetensors", paramNames(src))) {
				t.Errorf("tensors %q", got)
			}
			if got := names(c.Extra); !slices.Equal(got, sortedIf(ext == ".safetensors", []string{"moments.classifier.bias", "global_step"})) {
				t.Errorf("extra %q", got)
			}
			if c.Metadata["epoch"] != "3" || c.Metadata[MetaPoolPadding] != "symmetric" {
				t.Errorf("metadata %v", c.Metadata)
			}
			if ext == ".safetensors" && c.Metadata[MetaFormat] != "ms" {
				t.Errorf("safetensors metadata %v, want format ms", c.Metadata)
			}
			if pp, err := c.PoolPadding(); err != nil || pp.Style != nn.PoolSymmetric || pp.Source != FromMetadata {
				t.Errorf("PoolPadding = %+v, %v", pp, err)
			}

			dst := tinyModel(t, b, 5, -1)
			rep, err := Load(dst, b, c, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rep.Loaded, paramNames(dst)) || len(rep.Missing)+len(rep.Unused)+len(rep.Skipped) != 0 || rep.Naming != NamingMindCV {
				t.Errorf("report %+v", rep)
			}
			got := values(t, b, dst)
			for name, w := range want {
				if !slices.Equal(got[name], w) {
					t.Errorf("%s = %v, want %v", name, got[name], w)
				}
			}
		})
	}
}

func sortedIf(sort bool, s []string) []string {
	if sort {
		s = slices.Clone(s)
		slices.Sort(s)
	}
	return s
}

func TestLoadTorchNames(t *testing.T) {
	b := testutil.CPU(t, 1)
	src := tinyModel(t, b, 5, 0)
	setRamp(b, src)
	want := values(t, b, src)
	c, err := FromParams(src, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ConvertNames(NamingTorch); err != nil {
		t.Fatal(err)
	}
	c.Add(Tensor{Name: "bn1.num_batches_tracked", DType: "I64", Shape: []int{}, Data: make([]byte, 8)})
	if got := names(c.Tensors); !slices.Equal(got, []string{"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "fc.weight", "fc.bias", "bn1.num_batches_tracked"}) {
		t.Fatalf("torchvision names %q", got)
	}
	path := filepath.Join(t.TempDir(), "tv.safetensors")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	r, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Metadata[MetaFormat] != "pt" {
		t.Errorf("metadata %v, want format pt", r.Metadata)
	}
	dst := tinyModel(t, b, 5, -1)
	rep, err := Load(dst, b, r, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Naming != NamingTorch || len(rep.Loaded) != 7 {
		t.Errorf("report %+v", rep)
	}
	got := values(t, b, dst)
	for name, w := range want {
		if !slices.Equal(got[name], w) {
			t.Errorf("%s = %v, want %v", name, got[name], w)
		}
	}
}

// checkpointOf returns a checkpoint of the model's current values, edited by fn.
func checkpointOf(t *testing.T, b ops.Backend, ps []*nn.Param, fn func(c *Checkpoint)) *Checkpoint {
	t.Helper()
	c, err := FromParams(ps, b)
	if err != nil {
		t.Fatal(err)
	}
	c.Path = "test.ckpt"
	fn(c)
	return c
}

func drop(c *Checkpoint, name string) {
	c.Tensors = slices.DeleteFunc(c.Tensors, func(t Tensor) bool { return t.Name == name })
}

func replace(c *Checkpoint, t Tensor) {
	drop(c, t.Name)
	c.Tensors = append(c.Tensors, t)
}

func TestLoadProblems(t *testing.T) {
	b := testutil.CPU(t, 1)
	src := tinyModel(t, b, 5, 0.5)
	wrongHead := safetensors.From("classifier.weight", []int{7, 4}, make([]float32, 28))
	for _, tc := range []struct {
		name string
		edit func(c *Checkpoint)
		opt  LoadOptions
		want []string // substrings of the error; none: Load succeeds
	}{
		{"missing", func(c *Checkpoint) { drop(c, "bn1.gamma"); drop(c, "conv1.weight") }, LoadOptions{},
			[]string{"ckpt test.ckpt: the checkpoint does not fit the model: 2 missing from the checkpoint: conv1.weight, bn1.gamma"}},
		{"extra", func(c *Checkpoint) { c.Add(safetensors.From("layer9.conv.weight", []int{1}, []float32{1})) }, LoadOptions{},
			[]string{"1 in the checkpoint but not in the model: layer9.conv.weight"}},
		{"wrong shape", func(c *Checkpoint) { replace(c, wrongHead) }, LoadOptions{},
			[]string{"1 with the wrong shape: classifier.weight (checkpoint [7, 4], model [5, 4])", `skip the prefix "classifier."`}},
		{"all at once", func(c *Checkpoint) {
			drop(c, "bn1.beta")
			c.Add(safetensors.From("bn1.extra.weight", []int{1}, []float32{1}))
			replace(c, safetensors.From("conv1.weight", []int{4, 3, 1, 1}, make([]float32, 12)))
		}, LoadOptions{}, []string{
			"1 missing from the checkpoint: bn1.beta; 1 in the checkpoint but not in the model: bn1.extra.weight; " +
				"1 with the wrong shape: conv1.weight (checkpoint [4, 3, 1, 1], model [4, 3, 3, 3])"}},
		{"not float", func(c *Checkpoint) { replace(c, safetensors.From("classifier.bias", []int{5}, []int32{1, 2, 3, 4, 5})) }, LoadOptions{},
			[]string{"1 not floating point: classifier.bias (I32)"}},
		{"many missing", func(c *Checkpoint) {
			for i := range 12 {
				c.Add(safetensors.From("layer1."+string(rune('a'+i))+".weight", []int{1}, []float32{1}))
			}
		}, LoadOptions{}, []string{"12 in the checkpoint but not in the model: layer1.a.weight,", "layer1.j.weight and 2 more"}},
		{"missing allowed", func(c *Checkpoint) { drop(c, "bn1.gamma") }, LoadOptions{AllowMissing: true}, nil},
		{"extra allowed", func(c *Checkpoint) { c.Add(safetensors.From("head2.weight", []int{1}, []float32{1})) }, LoadOptions{AllowExtra: true}, nil},
		{"new head", func(c *Checkpoint) { replace(c, wrongHead); drop(c, "classifier.bias") }, LoadOptions{SkipPrefixes: []string{"classifier."}}, nil},
		{"skipping does not allow others", func(c *Checkpoint) { replace(c, wrongHead); drop(c, "bn1.gamma") }, LoadOptions{SkipPrefixes: []string{"classifier."}},
			[]string{"1 missing from the checkpoint: bn1.gamma"}},
		{"mixed names", func(c *Checkpoint) { c.Add(safetensors.From("fc.weight", []int{1}, []float32{1})) }, LoadOptions{},
			[]string{"ckpt test.ckpt: the names mix"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkpointOf(t, b, src, tc.edit)
			dst := tinyModel(t, b, 5, -1)
			rep, err := Load(dst, b, c, tc.opt)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded (%+v), want an error", rep)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q,\nwant it to contain %q", err, w)
				}
			}
			// Nothing was written.
			for name, v := range values(t, b, dst) {
				for _, x := range v {
					if x != -1 {
						t.Fatalf("%s was changed by a failed Load", name)
					}
				}
			}
		})
	}
}

func TestLoadPartial(t *testing.T) {
	b := testutil.CPU(t, 1)
	src := tinyModel(t, b, 1000, 0.5)
	c := checkpointOf(t, b, src, func(c *Checkpoint) {
		drop(c, "bn1.moving_mean")
		c.Add(safetensors.From("layer1.0.conv1.weight", []int{1}, []float32{1}))
	})
	dst := tinyModel(t, b, 5, -1)
	rep, err := Load(dst, b, c, LoadOptions{SkipPrefixes: []string{"classifier."}, AllowMissing: true, AllowExtra: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Loaded, []string{"conv1.weight", "bn1.gamma", "bn1.beta", "bn1.moving_variance"}) ||
		!slices.Equal(rep.Skipped, []string{"classifier.weight", "classifier.bias"}) ||
		!slices.Equal(rep.Missing, []string{"bn1.moving_mean"}) ||
		!slices.Equal(rep.Unused, []string{"classifier.weight", "classifier.bias", "layer1.0.conv1.weight"}) {
		t.Errorf("report %+v", rep)
	}
	got := values(t, b, dst)
	for name, v := range got {
		want := float32(0.5)
		if name == "bn1.moving_mean" || strings.HasPrefix(name, "classifier.") {
			want = -1 // kept
		}
		if v[0] != want {
			t.Errorf("%s[0] = %v, want %v", name, v[0], want)
		}
	}
}

func TestLoadConvertsPrecision(t *testing.T) {
	b := testutil.CPU(t, 1)
	src := tinyModel(t, b, 2, 0)
	third := float32(1.0 / 3)
	c := checkpointOf(t, b, src, func(c *Checkpoint) {
		h := ops.Float16Bits(third)
		replace(c, Tensor{Name: "classifier.bias", DType: "F16", Shape: []int{2}, Data: []byte{byte(h), byte(h >> 8), 0x00, 0x3c}})
		bf := ops.BFloat16Bits(third)
		replace(c, Tensor{Name: "bn1.gamma", DType: "BF16", Shape: []int{4}, Data: []byte{byte(bf), byte(bf >> 8), 0x80, 0x3f, 0, 0, 0, 0}})
		replace(c, safetensors.From("bn1.beta", []int{4}, []float64{math.Pi, 1, 2, 3}))
	})
	dst := tinyModel(t, b, 2, -1)
	rep, err := Load(dst, b, c, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Converted["F16"] != 1 || rep.Converted["BF16"] != 1 || rep.Converted["F64"] != 1 || len(rep.Converted) != 3 {
		t.Errorf("converted %v", rep.Converted)
	}
	got := values(t, b, dst)
	for name, want := range map[string][]float32{
		"classifier.bias": {ops.Float16Value(ops.Float16Bits(third)), 1},
		"bn1.gamma":       {ops.BFloat16Value(ops.BFloat16Bits(third)), 1, 0, 0},
		"bn1.beta":        {float32(math.Pi), 1, 2, 3},
	} {
		if !slices.Equal(got[name], want) {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}

func TestLoadOptimizerEntriesKeptApart(t *testing.T) {
	// A training checkpoint written independently (scripts/gen_ckpt_fixture.py): the optimizer's
	// entries are Extra and never loaded as weights.
	c, err := Read(filepath.Join("mindspore", "testdata", "python.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	wantModel := []string{"conv1.weight", "bn1.gamma", "bn1.beta", "bn1.moving_mean", "bn1.moving_variance",
		"layer1.0.down_sample.0.weight", "classifier.weight", "classifier.bias"}
	if got := names(c.Tensors); !slices.Equal(got, wantModel) {
		t.Errorf("model tensors %q,\nwant %q", got, wantModel)
	}
	for _, name := range []string{"moments.conv1.weight", "learning_rate", "momentum", "global_step", "random_op"} {
		if _, ok := c.ExtraTensor(name); !ok {
			t.Errorf("%s is not among the extra entries %q", name, names(c.Extra))
		}
	}
	if lr, _ := c.ExtraTensor("learning_rate"); !slices.Equal(lr.Shape, []int{5}) {
		t.Errorf("learning_rate has shape %v, want the whole schedule [5]", lr.Shape)
	}
	if c.Format != MindSpore || c.Metadata["note"] == "" {
		t.Errorf("format %q, metadata %v", c.Format, c.Metadata)
	}

	// A model with the fixture's shapes loads it, half-precision tensors included.
	b := testutil.CPU(t, 1)
	conv := nn.NewConv2d(b, 1, 2, 2, 1, 0, 1)
	bn := nn.NewBatchNorm2d(b, 2, nn.MindCVMomentum)
	down := nn.NewConv2d(b, 2, 2, 1, 1, 0, 1)
	fc := nn.NewLinear(b, 3, 4)
	defer func() { conv.Free(); bn.Free(); down.Free(); fc.Free() }()
	var ps []*nn.Param
	ps = append(ps, nn.Child("conv1", conv)...)
	ps = append(ps, nn.Child("bn1", bn)...)
	ps = append(ps, nn.Child("layer1.0.down_sample.0", down)...)
	ps = append(ps, nn.Child("classifier", fc)...)
	rep, err := Load(ps, b, c, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Converted["F16"] != 1 || rep.Converted["BF16"] != 1 {
		t.Errorf("converted %v", rep.Converted)
	}
	got := values(t, b, ps)
	if v := got["classifier.bias"]; !slices.Equal(v, []float32{1, -2.5, 3.140625, float32(math.Ldexp(1, 127))}) {
		t.Errorf("classifier.bias = %v", v)
	}
	if v := got["layer1.0.down_sample.0.weight"]; v[2] != 65504 {
		t.Errorf("down_sample weight = %v", v)
	}
	if v := got["classifier.weight"]; v[11] != 5.5 {
		t.Errorf("classifier.weight = %v", v)
	}
	if pp, _ := c.PoolPadding(); pp.Style != nn.PoolSame || pp.Source != FromNames {
		t.Errorf("PoolPadding = %+v", pp)
	}
}

func TestSaveChecks(t *testing.T) {
	b := testutil.CPU(t, 1)
	ps := tinyModel(t, b, 2, 0)
	dir := t.TempDir()
	dup := append(slices.Clone(ps), ps[0])
	for _, tc := range []struct {
		name   string
		params []*nn.Param
		path   string
		opt    SaveOptions
		want   string
	}{
		{"duplicate", dup, "a.ckpt", SaveOptions{}, `two parameters are called "conv1.weight"`},
		{"pth", ps, "a.pth", SaveOptions{}, "writing PyTorch files is not supported"},
		{"unknown extension", ps, "a.npz", SaveOptions{}, `unknown extension ".npz"`},
		{"bad padding", ps, "a.ckpt", SaveOptions{PoolPadding: "valid"}, `max-pool padding "valid"`},
		{"extra clashes", ps, "a.safetensors", SaveOptions{Extra: []Tensor{safetensors.From("conv1.weight", []int{1}, []float32{1})}}, `tensor "conv1.weight" appears twice`},
	} {
		path := filepath.Join(dir, tc.path)
		err := Save(tc.params, b, path, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming %s and containing %q", tc.name, err, path, tc.want)
		}
	}
}
