package config

import (
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// clearEnv unsets every RESNEXT_<KEY> variable (and RESNEXT_CONFIG) for the test, so the machine's
// environment cannot change what Resolve sees.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range append(Keys(), ConfigFlag) {
		name := EnvPrefix + strings.ToUpper(k)
		if _, ok := os.LookupEnv(name); ok {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

// resolveArgs parses args on a new flag set with every key registered, then resolves.
func resolveArgs(t *testing.T, args ...string) (Config, *Report, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return Resolve(fs)
}

// writeFile writes content to a file in a new temporary folder and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mindcvRecipe is MindCV's configs/resnext/<model>_ascend.yaml resolved over MindCV's defaults.
func mindcvRecipe(model string) Config {
	c := Default()
	c.Mode = 0
	c.Distribute = true
	c.NumParallelWorkers = 8
	c.ValWhileTrain = true
	c.Dataset = "imagenet"
	c.DataDir = "/path/to/imagenet"
	c.Shuffle = true
	c.DatasetDownload = false
	c.BatchSize = 32
	c.DropRemainder = true
	c.ImageResize = 224
	c.Scale = []float64{0.08, 1.0}
	c.Ratio = []float64{0.75, 1.333}
	c.Hflip = 0.5
	c.Interpolation = "bilinear"
	c.CropPct = 0.875
	c.Model = model
	c.NumClasses = 1000
	c.Pretrained = false
	c.CkptPath = ""
	c.KeepCheckpointMax = 30
	c.CkptSaveDir = "./ckpt"
	c.EpochSize = 150
	c.DatasetSinkMode = true
	c.AmpLevel = "O2"
	c.Loss = "CE"
	c.LabelSmoothing = 0.1
	c.Scheduler = "cosine_decay"
	c.MinLR = 0.0
	c.LR = 0.1
	c.WarmupEpochs = 0
	c.DecayEpochs = 150
	c.Opt = "momentum"
	c.Momentum = 0.9
	c.WeightDecay = 0.0001
	c.LossScale = 1024
	c.UseNesterov = false
	return c
}

func TestConfigFiles(t *testing.T) {
	clearEnv(t)
	var files []string
	err := filepath.WalkDir("../../configs", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Fatalf("found %d YAML files under configs/, want at least 6: %v", len(files), files)
	}
	for _, p := range files {
		c, rep, err := resolveArgs(t, "-c", p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if rep.File != p {
			t.Errorf("%s: Report.File = %q", p, rep.File)
		}
		if c.Validate() != nil {
			t.Errorf("%s: resolved but Validate fails: %v", p, c.Validate())
		}
	}

	for _, model := range []string{"resnext50_32x4d", "resnext101_32x4d", "resnext101_64x4d", "resnext152_64x4d"} {
		p := "../../configs/resnext/" + model + "_ascend.yaml"
		c, rep, err := resolveArgs(t, "--config", p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if want := mindcvRecipe(model); !reflect.DeepEqual(c, want) {
			got, w := c.Values(), want.Values()
			for _, k := range Keys() {
				if !reflect.DeepEqual(got[k], w[k]) {
					t.Errorf("%s: %s = %v, want %v", p, k, got[k], w[k])
				}
			}
		}
		// Keys the file does not name keep MindCV's defaults.
		for key, want := range map[string]any{
			"color_jitter": []float64{0.4}, "seed": 42, "ckpt_save_policy": "latest_k", "log_interval": 100,
			"weight_decay_filter": "disable", "loss_scale_type": "fixed", "warmup_factor": 0.0,
			"lr_epoch_stair": false, "val_amp_level": "O0", "device_target": "Ascend",
			"train_split": "train", "val_split": "val",
		} {
			if got := c.Values()[key]; !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s = %v, want MindCV's default %v", p, key, got, want)
			}
			if rep.Set[key] != SourceDefault {
				t.Errorf("%s: Report.Set[%s] = %q, want default", p, key, rep.Set[key])
			}
		}
		if rep.Set["batch_size"] != SourceYAML || rep.Set["model"] != SourceYAML {
			t.Errorf("%s: Report.Set batch_size %q, model %q, want yaml", p, rep.Set["batch_size"], rep.Set["model"])
		}
		if want := []string{"dataset_sink_mode=True", "mode=0"}; !reflect.DeepEqual(rep.Ignored, want) {
			t.Errorf("%s: Ignored = %q, want %q", p, rep.Ignored, want)
		}
	}

	c, _, err := resolveArgs(t, "-c", "../../configs/cpu/fashion_mnist.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "resnext14_small" || c.DataDir != "" || c.DeviceTarget != "CPU" || c.BatchSize != 64 ||
		c.NumClasses != 10 || c.WarmupEpochs != 1 || c.DecayEpochs != 9 || c.ImageResize != 28 || c.LossScale != 1 {
		t.Errorf("fashion_mnist.yaml resolved to %+v", c)
	}
	c, _, err = resolveArgs(t, "-c", "../../configs/finetune/resnext50_32x4d_finetune.yaml",
		"--ckpt_path", "resnext50_32x4d.pth", "--data_dir", "/data/flowers")
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "resnext50_32x4d" || c.Distribute || c.LR != 0.01 || c.WarmupEpochs != 0 || c.FreezeBackbone ||
		c.NumClasses != 0 || c.CkptPath != "resnext50_32x4d.pth" || c.DataDir != "/data/flowers" || c.Hflip != 0.5 {
		t.Errorf("resnext50_32x4d_finetune.yaml resolved to %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	clearEnv(t)
	p := writeFile(t, "run.yaml", "batch_size: 16\nlr: 0.2\nseed: 1\nmodel: resnext50_32x4d\ndistribute: True\n")
	t.Setenv("RESNEXT_LR", "0.3")
	t.Setenv("RESNEXT_SEED", "2")
	t.Setenv("RESNEXT_EPOCH_SIZE", "7")
	t.Setenv("RESNEXT_DISTRIBUTE", "no")
	c, rep, err := resolveArgs(t, "-c", p, "--seed", "3", "--epoch_size", "8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key    string
		want   any
		source string
	}{
		{"batch_size", 16, SourceYAML},
		{"model", "resnext50_32x4d", SourceYAML},
		{"lr", 0.3, SourceEnv},
		{"distribute", false, SourceEnv},
		{"seed", 3, SourceFlag},
		{"epoch_size", 8, SourceFlag},
		{"weight_decay", 1e-6, SourceDefault},
	}
	v := c.Values()
	for _, tt := range tests {
		if !reflect.DeepEqual(v[tt.key], tt.want) || rep.Set[tt.key] != tt.source {
			t.Errorf("%s = %v from %q, want %v from %q", tt.key, v[tt.key], rep.Set[tt.key], tt.want, tt.source)
		}
	}
	if len(rep.Set) != len(Keys()) {
		t.Errorf("Report.Set has %d keys, want %d", len(rep.Set), len(Keys()))
	}

	// The file may come from the environment too; the flag wins over it.
	other := writeFile(t, "other.yaml", "batch_size: 8\n")
	t.Setenv("RESNEXT_CONFIG", other)
	if c, rep, err := resolveArgs(t); err != nil || c.BatchSize != 8 || rep.File != other {
		t.Errorf("RESNEXT_CONFIG: batch_size %d, file %q, err %v; want 8 from %s", c.BatchSize, rep.File, err, other)
	}
	if c, rep, err := resolveArgs(t, "-c", p); err != nil || c.BatchSize != 16 || rep.File != p {
		t.Errorf("-c over RESNEXT_CONFIG: batch_size %d, file %q, err %v; want 16 from %s", c.BatchSize, rep.File, err, p)
	}
}

func TestBoolFlags(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		args          []string
		distribute    bool
		valWhileTrain bool
		errHas        []string // parse error must contain all of these; nil: no error
	}{
		{[]string{"--distribute", "False"}, false, false, nil},
		{[]string{"--distribute", "True"}, true, false, nil},
		{[]string{"--distribute=false"}, false, false, nil},
		{[]string{"--distribute=TRUE"}, true, false, nil},
		{[]string{"--distribute", "yes", "--val_while_train", "1"}, true, true, nil},
		{[]string{"--val_while_train", "True"}, false, true, nil},
		{[]string{"--val_while_train", "True", "--distribute", "no"}, false, true, nil},
		{[]string{"--distribute", "maybe"}, false, false, []string{"--distribute", "maybe", "True or False"}},
		{[]string{"--val_while_train", "True", "--distribute"}, false, false, []string{"--distribute", "needs an argument"}},
		{[]string{"--distribute", "--val_while_train", "True"}, false, false, []string{"--distribute", "--val_while_train"}},
	}
	for _, tt := range tests {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		fs.SetOutput(&strings.Builder{})
		Register(fs)
		err := fs.Parse(tt.args)
		if tt.errHas != nil {
			if err == nil {
				t.Errorf("%q: no error", tt.args)
				continue
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q: error %q does not contain %q", tt.args, err, s)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		c, _, err := Resolve(fs)
		if err != nil || c.Distribute != tt.distribute || c.ValWhileTrain != tt.valWhileTrain {
			t.Errorf("%q: distribute %v, val_while_train %v, err %v; want %v, %v", tt.args, c.Distribute, c.ValWhileTrain, err, tt.distribute, tt.valWhileTrain)
		}
	}
}

func TestListFlags(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		args []string
		key  string
		want any
	}{
		{[]string{"--scale", "0.08,1.0"}, "scale", []float64{0.08, 1}},
		{[]string{"--scale", "[0.25, 0.9]"}, "scale", []float64{0.25, 0.9}},
		{[]string{"--ratio=(0.5,2)"}, "ratio", []float64{0.5, 2}},
		{[]string{"--mean", "0.5,0.5,0.5", "--std", "1,2,3"}, "std", []float64{1, 2, 3}},
		{[]string{"--multi_step_decay_milestones", "10,20,30"}, "multi_step_decay_milestones", []int{10, 20, 30}},
		{[]string{"--multi_step_decay_milestones", ""}, "multi_step_decay_milestones", []int{}},
		{[]string{"--color_jitter", "0.3"}, "color_jitter", []float64{0.3}},
		{[]string{"--color_jitter", "0.1,0.2,0.3,0.4"}, "color_jitter", []float64{0.1, 0.2, 0.3, 0.4}},
		{[]string{"--re_value", "random"}, "re_value", "random"},
	}
	for _, tt := range tests {
		c, _, err := resolveArgs(t, tt.args...)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if got := c.Values()[tt.key]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: %s = %v, want %v", tt.args, tt.key, got, tt.want)
		}
	}

	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	Register(fs)
	err := fs.Parse([]string{"--scale", "0.08,big"})
	if err == nil || !strings.Contains(err.Error(), "--scale") || !strings.Contains(err.Error(), `"big"`) {
		t.Errorf("--scale 0.08,big: error %v, want one naming the flag and the word", err)
	}
	// A list of the wrong length parses, then fails validation naming the flag.
	_, _, err = resolveArgs(t, "--scale", "0.08,0.5,1")
	if err == nil || !strings.Contains(err.Error(), "flag --scale: scale = 0.08,0.5,1: want two numbers") {
		t.Errorf("--scale 0.08,0.5,1: error %v", err)
	}
}

// TestYAMLErrors: every problem of a file is reported, one a line, naming the key, the value, the
// file and the line.
func TestYAMLErrors(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name    string
		content string
		lineHas [][]string // each must be found, in this order, in one line of the error
	}{
		{"unknown key", "batch_size: 32\nbatchsize: 32\n", [][]string{{":2:", `unknown key "batchsize"`, `did you mean "batch_size"`}}},
		{"unknown renamed key", "filter_bias_and_bn: True\n", [][]string{{":1:", `"filter_bias_and_bn"`, `did you mean "weight_decay_filter"`}}},
		{"unknown far key", "zzzzzzzz: 1\n", [][]string{{":1:", `unknown key "zzzzzzzz"`, "--help lists the keys"}}},
		{"string for int", "batch_size: \"32\"\n", [][]string{{":1:", "batch_size", `"32"`, "a string", "want an integer"}}},
		{"float for int", "epoch_size: 1.5\n", [][]string{{":1:", "epoch_size", "1.5", "want an integer"}}},
		{"list for float", "lr: [0.1, 0.2]\n", [][]string{{":1:", "lr", "[0.1, 0.2]", "a list", "want a number"}}},
		{"mapping for string", "model: {name: resnext50_32x4d}\n", [][]string{{":1:", "model", `{"name": "resnext50_32x4d"}`, "a mapping", "want a string"}}},
		{"bool for ints", "multi_step_decay_milestones: [30, true]\n", [][]string{{":1:", "multi_step_decay_milestones", "[30, true]", "a list", "want a list of integers"}}},
		{"jitter string", "color_jitter: strong\n", [][]string{{":1:", "color_jitter", `"strong"`, "want a number or a list of numbers"}}},
		{"bad bool", "distribute: yes please\n", [][]string{{":1:", "distribute", `"yes please"`, "want a boolean"}}},
		{"string list", "scale: \"0.08,1.0\"\n", [][]string{{":1:", "scale", "want a list of numbers"}}},
		{"null for required", "lr:\n", [][]string{{":1:", "lr", "empty (null)", "want a number"}}},
		{"nan lr", "lr: .nan\n", [][]string{{":1:", "lr = NaN", "finite"}}},
		{"inf loss_scale", "loss_scale: .inf\n", [][]string{{":1:", "loss_scale = +Inf", "finite"}}},
		{"out of range", "momentum: 1.5\nbatch_size: 0\n", [][]string{
			{":1:", "momentum = 1.5", "[0, 1)"},
			{":2:", "batch_size = 0", "from 1 to 65536"},
		}},
		{"bad choice", "opt: adamax\n", [][]string{{":1:", `opt = "adamax"`, "want one of", "momentum"}}},
		{"repeated key", "lr: 0.1\nlr: 0.2\n", [][]string{{":2:", `"lr"`, "twice", "line 1"}}},
		{"not a mapping", "- lr\n- 0.1\n", [][]string{{":1:", "want a mapping"}}},
		{"bad yaml", "lr: [0.1\n", [][]string{{"not valid YAML"}}},
		{"all at once", "batchsize: 1\nlr: abc\nhflip: 2\ndistribute: maybe\n", [][]string{
			{":1:", "batchsize"}, {":2:", "lr", `"abc"`}, {":3:", "hflip = 2", "[0, 1]"}, {":4:", "distribute", `"maybe"`},
		}},
	}
	for _, tt := range tests {
		p := writeFile(t, "bad.yaml", tt.content)
		_, rep, err := resolveArgs(t, "-c", p)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if rep == nil || rep.File != p {
			t.Errorf("%s: Report %+v, want File %s", tt.name, rep, p)
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != len(tt.lineHas) {
			t.Errorf("%s: %d lines, want %d:\n%v", tt.name, len(lines), len(tt.lineHas), err)
		}
		for i, has := range tt.lineHas {
			if i >= len(lines) {
				break
			}
			if !strings.Contains(lines[i], p) {
				t.Errorf("%s: line %q does not name the file", tt.name, lines[i])
			}
			rest := lines[i]
			for _, s := range has {
				j := strings.Index(rest, s)
				if j < 0 {
					t.Errorf("%s: line %q lacks %q (in order)", tt.name, lines[i], s)
					break
				}
				rest = rest[j+len(s):]
			}
		}
	}

	_, _, err := resolveArgs(t, "-c", filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml does not exist") {
		t.Errorf("missing file: %v", err)
	}
}

func TestYAMLValues(t *testing.T) {
	clearEnv(t)
	p := writeFile(t, "ok.yaml", `# a comment only
weight_decay: 1e-4          # a float without a dot
loss_scale: 1024            # an integer for a float
distribute: "yes"           # str2bool words as strings
shuffle: 0
color_jitter: [0.4, 0.4, 0.4]
re_value: [0.1, 0.2, 0.3]
num_classes: null           # MindCV's None
auto_augment: ~
ckpt_save_policy: null      # keep every checkpoint
loss: ce
opt: SGD
multi_step_decay_milestones: [30, 60]
`)
	c, _, err := resolveArgs(t, "-c", p)
	if err != nil {
		t.Fatal(err)
	}
	if c.WeightDecay != 1e-4 || c.LossScale != 1024 || !c.Distribute || c.Shuffle ||
		!reflect.DeepEqual(c.ColorJitter, []float64{0.4, 0.4, 0.4}) || c.ReValue != "0.1,0.2,0.3" ||
		c.NumClasses != 0 || c.AutoAugment != "" || c.CkptSavePolicy != "" || c.Loss != "ce" || c.Opt != "SGD" ||
		!reflect.DeepEqual(c.MultiStepDecayMilestones, []int{30, 60}) {
		t.Errorf("resolved to %+v", c)
	}
	// An empty file (or one of comments only) sets nothing.
	for _, content := range []string{"", "# nothing\n"} {
		c, _, err := resolveArgs(t, "-c", writeFile(t, "empty.yaml", content))
		if err != nil || !reflect.DeepEqual(c, Default()) {
			t.Errorf("file %q: err %v, config differs from the defaults", content, err)
		}
	}
}

func TestEnvErrors(t *testing.T) {
	clearEnv(t)
	t.Setenv("RESNEXT_BATCH_SIZE", "many")
	t.Setenv("RESNEXT_LR", "NaN")
	_, rep, err := resolveArgs(t)
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{`environment RESNEXT_BATCH_SIZE: batch_size = "many": want an integer`, "environment RESNEXT_LR: lr = NaN: must be a finite number"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if rep.Set["lr"] != SourceEnv {
		t.Errorf("Report.Set[lr] = %q, want env", rep.Set["lr"])
	}
}

func TestIgnored(t *testing.T) {
	clearEnv(t)
	if _, rep, _ := resolveArgs(t); len(rep.Ignored) != 0 {
		t.Errorf("nothing given, Ignored = %q", rep.Ignored)
	}
	p := writeFile(t, "graph.yaml", "mode: 1\ndataset_sink_mode: False\nenable_modelarts: True\nbatch_size: 8\n")
	t.Setenv("RESNEXT_AMP_CAST_LIST", "[nn.Conv2d]")
	c, rep, err := resolveArgs(t, "-c", p, "--jit_level", "O0")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"amp_cast_list=[nn.Conv2d]", "dataset_sink_mode=False", "enable_modelarts=True", "jit_level=O0", "mode=1"}
	if !reflect.DeepEqual(rep.Ignored, want) {
		t.Errorf("Ignored = %q, want %q", rep.Ignored, want)
	}
	if c.Mode != 1 || c.BatchSize != 8 {
		t.Errorf("mode %d, batch_size %d", c.Mode, c.BatchSize)
	}
	// Ignored keys are still type-checked.
	_, _, err = resolveArgs(t, "-c", writeFile(t, "graph.yaml", "mode: graph\n"))
	if err == nil || !strings.Contains(err.Error(), `mode: "graph" is a string, want an integer`) {
		t.Errorf("mode: graph: error %v", err)
	}
}

// TestRoundTrip: a resolved Config written out from Values, as a YAML file or as flags, resolves
// to itself, and Values has exactly the keys Keys lists.
func TestRoundTrip(t *testing.T) {
	clearEnv(t)
	c, _, err := resolveArgs(t, "-c", "../../configs/resnext/resnext50_32x4d_ascend.yaml",
		"--color_jitter", "0.1,0.2,0.3", "--re_value", "random", "--metrics_addr", ":9090",
		"--freeze_backbone", "True", "--trainable_stages", "2", "--num_classes", "5", "--min_lr", "1e-7")
	if err != nil {
		t.Fatal(err)
	}
	vals := c.Values()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, Keys()) {
		t.Fatalf("Values has keys %v, Keys() %v", keys, Keys())
	}
	if !sort.StringsAreSorted(Keys()) || len(Keys()) != reflect.TypeOf(Config{}).NumField() {
		t.Errorf("Keys() has %d keys (sorted %v), Config %d fields", len(Keys()), sort.StringsAreSorted(Keys()), reflect.TypeOf(Config{}).NumField())
	}

	data, err := yaml.Marshal(vals)
	if err != nil {
		t.Fatal(err)
	}
	back, rep, err := resolveArgs(t, "-c", writeFile(t, "all.yaml", string(data)))
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("through YAML:\n got %+v\nwant %+v", back, c)
	}
	for k, s := range rep.Set {
		if s != SourceYAML {
			t.Errorf("through YAML: %s from %q", k, s)
		}
	}

	var args []string
	for _, k := range Keys() {
		args = append(args, "--"+k, formatValue(vals[k]))
	}
	back, _, err = resolveArgs(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("through flags:\n got %+v\nwant %+v", back, c)
	}

	// Values hands out copies.
	vals["scale"].([]float64)[0] = 0.5
	if c.Scale[0] != 0.08 {
		t.Error("changing a slice from Values changed the Config")
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		errHas string // "" means valid
	}{
		{"batch_size 0", func(c *Config) { c.BatchSize = 0 }, "batch_size = 0: must be from 1 to 65536"},
		{"epoch_size -1", func(c *Config) { c.EpochSize = -1 }, "epoch_size = -1"},
		{"lr negative", func(c *Config) { c.LR = -0.1 }, "lr = -0.1: must be at least 0"},
		{"lr NaN", func(c *Config) { c.LR = math.NaN() }, "lr = NaN: must be a finite number"},
		{"lr Inf", func(c *Config) { c.LR = math.Inf(1) }, "lr = +Inf: must be a finite number"},
		{"mean Inf", func(c *Config) { c.Mean = []float64{1, math.Inf(-1), 3} }, "mean = 1,-Inf,3: every element must be a finite number"},
		{"min_lr", func(c *Config) { c.MinLR = -1 }, "min_lr = -1"},
		{"momentum 1", func(c *Config) { c.Momentum = 1 }, "momentum = 1: must be in [0, 1)"},
		{"weight_decay", func(c *Config) { c.WeightDecay = -1e-4 }, "weight_decay = -0.0001"},
		{"label_smoothing 1", func(c *Config) { c.LabelSmoothing = 1 }, "label_smoothing = 1"},
		{"crop_pct 0", func(c *Config) { c.CropPct = 0 }, "crop_pct = 0: must be in (0, 1]"},
		{"crop_pct 1", func(c *Config) { c.CropPct = 1 }, ""},
		{"image_resize 0", func(c *Config) { c.ImageResize = 0 }, "image_resize = 0"},
		{"scale reversed", func(c *Config) { c.Scale = []float64{1, 0.08} }, "scale = 1,0.08: the lower bound must not exceed"},
		{"ratio zero", func(c *Config) { c.Ratio = []float64{0, 1} }, "ratio = 0,1: the lower bound must be greater than 0"},
		{"hflip 1.5", func(c *Config) { c.Hflip = 1.5 }, "hflip = 1.5: must be in [0, 1]"},
		{"loss_scale 0", func(c *Config) { c.LossScale = 0 }, "loss_scale = 0: must be greater than 0"},
		{"keep_checkpoint_max 0", func(c *Config) { c.KeepCheckpointMax = 0 }, "keep_checkpoint_max = 0"},
		{"ckpt_save_policy", func(c *Config) { c.CkptSavePolicy = "best" }, `ckpt_save_policy = "best": want one of latest_k, top_k`},
		{"ckpt_save_policy top_k", func(c *Config) { c.CkptSavePolicy = "top_k" }, ""},
		{"loss_scale_type", func(c *Config) { c.LossScaleType = "static" }, `loss_scale_type = "static"`},
		{"amp_level", func(c *Config) { c.AmpLevel = "O4" }, `amp_level = "O4": want one of O0, O1, O2, O3`},
		{"scheduler", func(c *Config) { c.Scheduler = "cosine" }, `scheduler = "cosine"`},
		{"scheduler warmup_cosine_decay", func(c *Config) { c.Scheduler = "warmup_cosine_decay" }, ""},
		{"opt", func(c *Config) { c.Opt = "adamax" }, `opt = "adamax"`},
		{"opt adamw", func(c *Config) { c.Opt = "AdamW" }, ""},
		{"mixup", func(c *Config) { c.Mixup, c.Cutmix, c.ReProb, c.AutoAugment = 0.2, 1.0, 0.25, "randaug-m9-mstd0.5" }, ""},
		{"log_format", func(c *Config) { c.LogFormat = "xml" }, `log_format = "xml": want one of console, json`},
		{"trainable_stages 5", func(c *Config) { c.TrainableStages, c.FreezeBackbone = 5, true }, "trainable_stages = 5: must be from 0 to 4"},
		{"trainable_stages without freeze", func(c *Config) { c.TrainableStages = 2 }, "trainable_stages = 2: has an effect only with freeze_backbone True"},
		{"trainable_stages with freeze", func(c *Config) { c.TrainableStages, c.FreezeBackbone = 4, true }, ""},
		{"pool_padding", func(c *Config) { c.PoolPadding = "valid" }, `pool_padding = "valid"`},
		{"metrics_addr", func(c *Config) { c.MetricsAddr = "9090" }, `metrics_addr = "9090": want HOST:PORT`},
		{"metrics_addr ok", func(c *Config) { c.MetricsAddr = "127.0.0.1:9090" }, ""},
		{"device_target", func(c *Config) { c.DeviceTarget = "TPU" }, `device_target = "TPU"`},
		{"device_target cpu", func(c *Config) { c.DeviceTarget = "cpu" }, ""},
		{"std length", func(c *Config) { c.Std = []float64{1, 2} }, "std = 1,2: want as many numbers as mean has (3)"},
		{"color_jitter length", func(c *Config) { c.ColorJitter = []float64{0.4, 0.4} }, "color_jitter = 0.4,0.4"},
		{"color_jitter negative", func(c *Config) { c.ColorJitter = []float64{-0.4} }, "color_jitter = -0.4: every factor must be at least 0"},
		{"re_value", func(c *Config) { c.ReValue = "noise" }, `re_value = "noise"`},
		{"milestones", func(c *Config) { c.MultiStepDecayMilestones = []int{60, 30} }, "multi_step_decay_milestones = 60,30: want increasing"},
		{"decay_epochs 0 cosine", func(c *Config) { c.DecayEpochs = 0 }, "decay_epochs = 0: must be at least 1 with scheduler cosine_decay"},
		{"decay_epochs 0 constant", func(c *Config) { c.DecayEpochs, c.Scheduler = 0, "constant" }, ""},
		{"aug_splits", func(c *Config) { c.AugSplits = 2 }, "aug_splits = 2"},
		{"model empty", func(c *Config) { c.Model = " " }, `model = " ": must not be empty`},
		{"graph-mode keys unchecked", func(c *Config) { c.Mode, c.JitLevel = 7, "O9" }, ""},
		// Sizes and counts that would reach the allocator or run for ever are refused with the limit.
		{"batch_size huge", func(c *Config) { c.BatchSize = 1_000_000_000 }, "batch_size = 1000000000: must be from 1 to 65536"},
		{"eval_batch_size huge", func(c *Config) { c.EvalBatchSize = 99999999999 }, "eval_batch_size = 99999999999: must be from 0 to 65536"},
		{"image_resize 0", func(c *Config) { c.ImageResize = 0 }, "image_resize = 0: must be from 1 to 4096"},
		{"image_resize huge", func(c *Config) { c.ImageResize = 1_000_000_000 }, "image_resize = 1000000000: must be from 1 to 4096"},
		{"num_classes huge", func(c *Config) { c.NumClasses = 1_000_000_000 }, "num_classes = 1000000000: must be from 0 to 100000"},
		{"num_classes negative", func(c *Config) { c.NumClasses = -1 }, "num_classes = -1: must be from 0 to 100000"},
		{"in_channels huge", func(c *Config) { c.InChannels = 1 << 20 }, "in_channels = 1048576: must be from 1 to 64"},
		{"epoch_size huge", func(c *Config) { c.EpochSize = 99999999999 }, "epoch_size = 99999999999: must be from 1 to 100000"},
		{"warmup_epochs huge", func(c *Config) { c.WarmupEpochs = 99999999999 }, "warmup_epochs = 99999999999: must be from 0 to 100000"},
		{"decay_epochs huge", func(c *Config) { c.DecayEpochs = 99999999999 }, "decay_epochs = 99999999999: must be from 0 to 100000"},
		{"milestones huge", func(c *Config) { c.MultiStepDecayMilestones = []int{30, 99999999999} }, "multi_step_decay_milestones = 30,99999999999: want increasing epochs, each from 0 to 100000"},
		{"num_cycles huge", func(c *Config) { c.NumCycles = 99999999999 }, "num_cycles = 99999999999: must be from 1 to 100000"},
		{"num_parallel_workers huge", func(c *Config) { c.NumParallelWorkers = 99999999999 }, "num_parallel_workers = 99999999999: must be from 1 to 1024"},
		{"threads huge", func(c *Config) { c.Threads = 99999999999 }, "threads = 99999999999: must be from 0 to 4096"},
		{"threads negative", func(c *Config) { c.Threads = -1 }, "threads = -1: must be from 0 to 4096"},
		{"re_max_attempts huge", func(c *Config) { c.ReMaxAttempts = 99999999999 }, "re_max_attempts = 99999999999: must be from 1 to 10000"},
		{"aug_repeats huge", func(c *Config) { c.AugRepeats = 99999999999 }, "aug_repeats = 99999999999: must be from 0 to 64"},
		{"gradient_accumulation_steps huge", func(c *Config) { c.GradientAccumulationSteps = 99999999999 }, "gradient_accumulation_steps = 99999999999: must be from 1 to 65536"},
		// Out-of-range or NaN fractions name their own key.
		{"label_smoothing 1", func(c *Config) { c.LabelSmoothing = 1 }, "label_smoothing = 1: must be in [0, 1)"},
		{"label_smoothing negative", func(c *Config) { c.LabelSmoothing = -0.1 }, "label_smoothing = -0.1: must be in [0, 1)"},
		{"label_smoothing NaN", func(c *Config) { c.LabelSmoothing = math.NaN() }, "label_smoothing = NaN: must be a finite number"},
		{"crop_pct 0", func(c *Config) { c.CropPct = 0 }, "crop_pct = 0: must be in (0, 1]"},
		{"crop_pct above 1", func(c *Config) { c.CropPct = 1.5 }, "crop_pct = 1.5: must be in (0, 1]"},
		{"crop_pct NaN", func(c *Config) { c.CropPct = math.NaN() }, "crop_pct = NaN: must be a finite number"},
		{"momentum NaN", func(c *Config) { c.Momentum = math.NaN() }, "momentum = NaN: must be a finite number"},
		{"weight_decay NaN", func(c *Config) { c.WeightDecay = math.NaN() }, "weight_decay = NaN: must be a finite number"},
		{"weight_decay Inf", func(c *Config) { c.WeightDecay = math.Inf(1) }, "weight_decay = +Inf: must be a finite number"},
		{"mean NaN, std left alone", func(c *Config) { c.Mean = []float64{math.NaN()} }, "mean = NaN: every element must be a finite number"},
		{"bucket_cap_mb NaN", func(c *Config) { c.BucketCapMB = math.NaN() }, "bucket_cap_mb = NaN: must be a finite number"},
	}
	for _, tt := range tests {
		c := Default()
		tt.change(&c)
		err := c.Validate()
		switch {
		case tt.errHas == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.errHas != "" && err == nil:
			t.Errorf("%s: no error", tt.name)
		case tt.errHas != "" && !strings.Contains(err.Error(), tt.errHas):
			t.Errorf("%s: error %q lacks %q", tt.name, err, tt.errHas)
		case tt.errHas != "" && strings.Count(err.Error(), "\n") != 0:
			t.Errorf("%s: one change, several problems: %v", tt.name, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct{ unknown, want string }{
		{"batchsize", "batch_size"},
		{"Batch_Size", "batch_size"},
		{"epoch", "epoch_size"},
		{"nesterov", "use_nesterov"},
		{"shceduler", "scheduler"},
		{"warmup_epoch", "warmup_epochs"},
		{"learning_rate", "lr"},
		{"use_ema", "ema"},
		{"qqqqqqqqqq", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.unknown); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.unknown, got, tt.want)
		}
	}
}

func TestRegister(t *testing.T) {
	clearEnv(t)
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	threads := fs.Int("threads", 0, "a command's own flag")
	Register(fs)
	for _, k := range Keys() {
		if fs.Lookup(k) == nil {
			t.Errorf("no flag --%s", k)
		}
	}
	if fs.ShorthandLookup("c") == nil || fs.ShorthandLookup("c").Name != ConfigFlag {
		t.Error("no -c shorthand for --config")
	}
	usage := fs.FlagUsages()
	for _, s := range []string{"--distribute True|False", "(default False)", "--scale floats", "(default 0.08,1)", "--batch_size int", "(default 128)"} {
		if !strings.Contains(usage, s) {
			t.Errorf("usage lacks %q", s)
		}
	}
	if err := fs.Parse([]string{"--threads", "3"}); err != nil {
		t.Fatal(err)
	}
	c, rep, err := Resolve(fs)
	if err != nil || c.Threads != 3 || *threads != 3 || rep.Set["threads"] != SourceFlag {
		t.Errorf("a command's own --threads: %d, %v, %q", c.Threads, err, rep.Set["threads"])
	}
	// With no flag set at all, Resolve gives the defaults.
	if c, _, err := Resolve(nil); err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("Resolve(nil): %v", err)
	}
}

func TestResolveWith(t *testing.T) {
	clearEnv(t)
	builtin := []byte("model: resnext14_small\nbatch_size: 64\nlr: 0.1\n")
	resolveWith := func(args ...string) (Config, *Report, error) {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return ResolveWith(fs, "cpu/small.yaml", builtin)
	}
	c, rep, err := resolveWith("--lr", "0.05")
	if err != nil || c.Model != "resnext14_small" || c.BatchSize != 64 || c.LR != 0.05 ||
		rep.File != "cpu/small.yaml (built in)" || rep.Set["batch_size"] != SourceYAML {
		t.Errorf("built-in file: model %q, batch_size %d, lr %v, file %q, err %v", c.Model, c.BatchSize, c.LR, rep.File, err)
	}
	// A file given by -c (or $RESNEXT_CONFIG) replaces the built-in one.
	p := writeFile(t, "mine.yaml", "batch_size: 8\n")
	for _, viaEnv := range []bool{false, true} {
		var args []string
		if viaEnv {
			t.Setenv("RESNEXT_CONFIG", p)
		} else {
			args = []string{"-c", p}
		}
		c, rep, err := resolveWith(args...)
		if err != nil || c.Model != Default().Model || c.BatchSize != 8 || rep.File != p {
			t.Errorf("env %v: model %q, batch_size %d, file %q, err %v", viaEnv, c.Model, c.BatchSize, rep.File, err)
		}
	}
	// Problems in the built-in file name it.
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Register(fs)
	os.Unsetenv("RESNEXT_CONFIG")
	_, _, err = ResolveWith(fs, "cpu/bad.yaml", []byte("lr: -1\n"))
	if err == nil || err.Error() != "cpu/bad.yaml (built in):1: lr = -1: must be at least 0" {
		t.Errorf("error %v", err)
	}
}

// TestFlagGetters: the flags' types match pflag's own, so a command can read them with GetBool,
// GetInt, GetFloat64 and GetString.
func TestFlagGetters(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Register(fs)
	if err := fs.Parse([]string{"--distribute", "True", "--batch_size", "4", "--lr", "0.5", "--model", "resnet50"}); err != nil {
		t.Fatal(err)
	}
	b, err1 := fs.GetBool("distribute")
	n, err2 := fs.GetInt("batch_size")
	x, err3 := fs.GetFloat64("lr")
	s, err4 := fs.GetString("model")
	if !b || n != 4 || x != 0.5 || s != "resnet50" || err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		t.Errorf("got %v %d %v %q (%v %v %v %v)", b, n, x, s, err1, err2, err3, err4)
	}
}

// TestForeignFlag: a flag a command defined itself with the wrong type for its key is reported
// naming the flag and the value.
func TestForeignFlag(t *testing.T) {
	clearEnv(t)
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String("threads", "", "a command's own flag, as a string")
	Register(fs)
	if err := fs.Parse([]string{"--threads", "many"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := Resolve(fs)
	if err == nil || err.Error() != `flag --threads: threads = "many": want an integer` {
		t.Errorf("error %v", err)
	}
}

// TestNaNEachKeyNamed: NaN momentum and weight decay are two problems, each naming its own key,
// and neither is reported as a learning-rate problem.
func TestNaNEachKeyNamed(t *testing.T) {
	c := Default()
	c.Momentum, c.WeightDecay = math.NaN(), math.NaN()
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "momentum = NaN") || !strings.HasPrefix(lines[1], "weight_decay = NaN") {
		t.Errorf("got %q, want one line for momentum and one for weight_decay", err)
	}
	if strings.Contains(err.Error(), "lr") || strings.Contains(err.Error(), "learning rate") {
		t.Errorf("got %q: names the learning rate", err)
	}
}
