package train

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/data"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/train/config"
	"github.com/resnext/resnext/train/metrics"
)

// smallConfig is a quick run on the embedded Fashion-MNIST sample: resnext14_small, 128 training
// images by 32, validation on the 500 test images.
func smallConfig(t *testing.T) config.Config {
	t.Helper()
	c := config.Default()
	c.Dataset = "fashion_mnist"
	c.DataDir = ""
	c.Model = "resnext14_small"
	c.Opt, c.Momentum, c.WeightDecay = "momentum", 0.9, 1e-4
	c.NumClasses = 10
	c.ImageResize = 28
	c.BatchSize = 32
	c.NumSamples = 128
	c.EpochSize = 2
	c.LR = 0.05
	c.WarmupEpochs = 0
	c.DecayEpochs = 2
	c.Scheduler = "cosine_decay"
	c.AmpLevel = "O0"
	c.LossScale = 1
	c.LossScaleType = "fixed"
	c.Distribute = false
	c.ValWhileTrain = false
	c.NumParallelWorkers = 2
	c.KeepCheckpointMax = 10
	c.LogInterval = 2
	c.CkptSaveDir = t.TempDir()
	c.DeviceTarget = "CPU"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// runResult is what a test run left behind.
type runResult struct {
	sum    *Summary
	params map[string][]byte
	err    error
}

// run trains cfg on a fresh CPU backend; stopAt > 0 cancels the run once that many steps of the
// current epoch are done.
func run(t *testing.T, cfg config.Config, stopAt int) runResult {
	t.Helper()
	b := testutil.CPU(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var prog Progress
	if stopAt > 0 {
		prog = &cancelAt{at: stopAt, cancel: cancel}
	}
	tr, err := New(Options{Config: cfg, Backend: b, Progress: prog})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sum, err := tr.Run(ctx)
	params := map[string][]byte{}
	for _, p := range tr.Model().Params() {
		v, rerr := ops.ToFloat32(b, p.Value)
		if rerr != nil {
			t.Fatal(rerr)
		}
		params[p.Name] = append([]byte(nil), ops.Bytes(v)...)
	}
	return runResult{sum: sum, params: params, err: err}
}

// cancelAt cancels the run when the epoch's step count reaches at.
type cancelAt struct {
	at     int
	cancel func()
}

func (c *cancelAt) Start(epoch, epochs, steps, done int) {}
func (c *cancelAt) Step(done int) {
	if done == c.at {
		c.cancel()
	}
}
func (c *cancelAt) Report(loss, lr float64) {}
func (c *cancelAt) Done()                   {}

func TestTrainWritesMindCVCheckpoints(t *testing.T) {
	cfg := smallConfig(t)
	cfg.KeepCheckpointMax = 1
	r := run(t, cfg, 0)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.sum.Steps != 8 || r.sum.Epochs != 2 {
		t.Errorf("epochs %d, steps %d: want 2 and 8", r.sum.Epochs, r.sum.Steps)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.CkptSaveDir, "*.ckpt"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	slices.Sort(names)
	// latest_k with keep_checkpoint_max 1 keeps the last epoch's; MindCV's optim file is beside it.
	if want := []string{"optim_resnext14_small.ckpt", "resnext14_small-2_4.ckpt"}; !slices.Equal(names, want) {
		t.Errorf("checkpoints %v, want %v", names, want)
	}
	c, err := ckpt.Read(filepath.Join(cfg.CkptSaveDir, "resnext14_small-2_4.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	if gs, _, _ := entryNumber(c, keyGlobalStep); gs != 8 {
		t.Errorf("global_step %v, want 8", gs)
	}
	lrs, ok := c.ExtraTensor(keyLearningRate)
	if !ok || ops.Shape(lrs.Shape).Numel() != 8 {
		t.Errorf("learning_rate: %v, want the 8 steps' list", lrs.Shape)
	}
	for _, name := range []string{"moments.conv1.weight", "moments.classifier.bias", keyMomentum, keyScaleSense} {
		if _, ok := c.ExtraTensor(name); !ok {
			t.Errorf("the checkpoint has no %s", name)
		}
	}
	names2, err := ClassNames(c)
	if err != nil || len(names2) != 10 || names2[0] != "T-shirt/top" {
		t.Errorf("class names %v (%v)", names2, err)
	}
	recs, err := metrics.Read(filepath.Join(cfg.CkptSaveDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var train []float64
	for _, r := range recs {
		if r.Kind == "train" && r.Loss != nil {
			train = append(train, *r.Loss)
		}
	}
	if len(train) != 4 || !(train[len(train)-1] < train[0]) {
		t.Errorf("interval losses %v: want 4, falling", train)
	}
}

func TestSameSeedSameRun(t *testing.T) {
	cfg := smallConfig(t)
	cfg.EpochSize, cfg.DecayEpochs = 1, 1
	a := run(t, cfg, 0)
	cfg.CkptSaveDir = t.TempDir()
	b := run(t, cfg, 0)
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	for name, v := range a.params {
		if !bytes.Equal(v, b.params[name]) {
			t.Fatalf("%s differs between two runs with one seed", name)
		}
	}
	cfg.CkptSaveDir, cfg.Seed = t.TempDir(), cfg.Seed+1
	c := run(t, cfg, 0)
	if bytes.Equal(a.params["conv1.weight"], c.params["conv1.weight"]) {
		t.Error("another seed gave the same weights")
	}
}

// TestResumeContinuesExactly stops a run mid-epoch (as SIGINT does), resumes it from the checkpoint
// it wrote, and finds the weights of a run that was never stopped, bit for bit.
func TestResumeContinuesExactly(t *testing.T) {
	cfg := smallConfig(t)
	cfg.Momentum = 0.9
	whole := run(t, cfg, 0)
	if whole.err != nil {
		t.Fatal(whole.err)
	}

	cfg.CkptSaveDir = t.TempDir()
	first := run(t, cfg, 3) // stops after 3 of the first epoch's 4 steps
	if !errors.Is(first.err, ErrInterrupted) {
		t.Fatalf("the stopped run returned %v, want ErrInterrupted", first.err)
	}
	path := first.sum.Checkpoint
	if filepath.Base(path) != "resnext14_small-1_3.ckpt" {
		t.Fatalf("interrupted checkpoint %s, want resnext14_small-1_3.ckpt", path)
	}
	if !strings.Contains(first.err.Error(), "--ckpt_path "+path+" --resume_opt True") {
		t.Errorf("the error does not say how to resume: %v", first.err)
	}
	cfg.CkptPath, cfg.ResumeOpt = path, true
	second := run(t, cfg, 0)
	if second.err != nil {
		t.Fatal(second.err)
	}
	if second.sum.Steps != whole.sum.Steps {
		t.Errorf("global step %d after resuming, want %d", second.sum.Steps, whole.sum.Steps)
	}
	for name, v := range whole.params {
		if !bytes.Equal(v, second.params[name]) {
			t.Fatalf("%s differs from the uninterrupted run's", name)
		}
	}
	// The metrics file continues the curve: steps never go back.
	recs, err := metrics.Read(filepath.Join(cfg.CkptSaveDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	last := -1
	for _, r := range recs {
		if r.Kind == "train" {
			if r.Step < last {
				t.Fatalf("metrics go back from step %d to %d", last, r.Step)
			}
			last = r.Step
		}
	}
}

func TestResumeWithoutOptimizerState(t *testing.T) {
	cfg := smallConfig(t)
	c := ckpt.New()
	path := filepath.Join(t.TempDir(), "weights.ckpt")
	// Weights alone: a model's tensors, no global_step.
	tr, err := New(Options{Config: cfg, Backend: testutil.CPU(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	full, err := tr.state()
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	c.Tensors = full.Tensors
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	cfg.CkptPath, cfg.ResumeOpt = path, true
	_, err = New(Options{Config: cfg, Backend: testutil.CPU(t, 1)})
	if err == nil || !strings.Contains(err.Error(), "holds no optimizer state") {
		t.Errorf("resume_opt from weights alone: %v", err)
	}
	cfg.ResumeOpt = false
	if tr, err := New(Options{Config: cfg, Backend: testutil.CPU(t, 1)}); err != nil {
		t.Errorf("weights alone without resume_opt: %v", err)
	} else {
		tr.Close()
	}
}

func TestValidateAgreesWithTraining(t *testing.T) {
	cfg := smallConfig(t)
	cfg.ValWhileTrain = true
	cfg.EpochSize, cfg.DecayEpochs = 1, 1
	cfg.BatchSize = 50 // divides the 500 test images
	cfg.NumSamples = 200
	r := run(t, cfg, 0)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.sum.Last.Images != 500 {
		t.Fatalf("validation over %d images, want 500", r.sum.Last.Images)
	}
	cfg.CkptPath = r.sum.Checkpoint
	got, err := Validate(context.Background(), Options{Config: cfg, Backend: testutil.CPU(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Top1 != r.sum.Last.Top1 || got.Top5 != r.sum.Last.Top5 || math.Abs(got.Loss-r.sum.Last.Loss) > 1e-6 {
		t.Errorf("validate %+v, training's last evaluation %+v", got, r.sum.Last)
	}
}

func TestTopKKeepsTheBest(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t)
	cfg.CkptSaveDir, cfg.CkptSavePolicy, cfg.KeepCheckpointMax, cfg.ValWhileTrain = dir, "top_k", 2, true
	p, err := newCheckpointPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range []float64{0.5, 0.7, 0.6, 0.4, 0.8} {
		if !p.admit(m, zap.NewNop()) {
			continue
		}
		path := filepath.Join(dir, checkpointName("m", i+1, 4))
		os.WriteFile(path, nil, 0o644)
		p.added(savedCkpt{path: path, epoch: i + 1, metric: m})
	}
	var kept []float64
	for _, f := range p.files {
		kept = append(kept, f.metric)
	}
	if !slices.Equal(kept, []float64{0.8, 0.7}) {
		t.Errorf("top_k kept %v, want [0.8 0.7]", kept)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ckpt"))
	if len(files) != 2 {
		t.Errorf("%d files on disk, want 2", len(files))
	}
	cfg.ValWhileTrain = false
	if _, err := newCheckpointPolicy(cfg); err == nil {
		t.Error("top_k without validation was accepted")
	}
}

func TestDynamicLossScaleSkipsOverflow(t *testing.T) {
	cfg := smallConfig(t)
	cfg.EpochSize, cfg.DecayEpochs = 1, 1
	cfg.LossScaleType = "dynamic"
	cfg.LossScale = 1e300 // beyond float32: the scaled gradients are infinite
	cfg.DropOverflowUpdate = true
	r := run(t, cfg, 0)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.sum.Overflows == 0 {
		t.Fatal("no update was skipped with a loss scale of 1e300")
	}
	if r.sum.Steps+r.sum.Overflows != 4 {
		t.Errorf("%d updates and %d skipped, want 4 in all", r.sum.Steps, r.sum.Overflows)
	}
	for name, v := range r.params {
		for i := 0; i < len(v); i += 4 {
			x := float64(math.Float32frombits(binary.LittleEndian.Uint32(v[i:])))
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("%s holds %v after the overflow was skipped", name, x)
			}
		}
	}
}

// TestMemoryStaysFlat trains many short epochs and checks that neither the backend's memory (the
// allocations a pool keyed by size could not serve) nor the Go heap grow from epoch to epoch, and
// that closing the trainer gives every tensor back.
func TestMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("many epochs")
	}
	cfg := smallConfig(t)
	cfg.NumSamples, cfg.BatchSize = 64, 32
	cfg.ValWhileTrain = true
	cfg.EpochSize, cfg.DecayEpochs = 12, 12
	trainFlat(t, cfg)
}

// trainFlat trains cfg on a counting CPU backend and checks that from the third epoch on (two of
// training and one of validation have set up every buffer) the backend allocates nothing its pool
// cannot serve and the Go heap does not grow, and that closing the trainer gives every tensor back.
func trainFlat(t *testing.T, cfg config.Config) {
	t.Helper()
	epochs := cfg.EpochSize
	counting := &testutil.Counting{Backend: testutil.CPU(t, 2)}
	probe := &memoryProbe{b: counting}
	tr, err := New(Options{Config: cfg, Backend: counting, Progress: probe})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if len(probe.fresh) != epochs {
		t.Fatalf("%d epochs seen", len(probe.fresh))
	}
	if probe.fresh[2] != probe.fresh[epochs-1] {
		t.Errorf("backend memory grew: allocations a pool could not serve %v by epoch", probe.fresh)
	}
	if probe.heap[epochs-1] > probe.heap[2]+8<<20 {
		t.Errorf("Go heap grew from %d MiB at epoch 3 to %d MiB at epoch %d", probe.heap[2]>>20, probe.heap[epochs-1]>>20, epochs)
	}
	if counting.Live != 0 {
		t.Errorf("%d tensors (%d bytes) still live after Close", counting.Live, counting.LiveBytes)
	}
}

// memoryProbe records the backend's fresh allocations and the Go heap at the start of each epoch.
type memoryProbe struct {
	b     *testutil.Counting
	fresh []int
	heap  []uint64
}

func (p *memoryProbe) Start(epoch, epochs, steps, done int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.fresh = append(p.fresh, p.b.Fresh)
	p.heap = append(p.heap, m.HeapInuse)
}
func (p *memoryProbe) Step(int)                {}
func (p *memoryProbe) Report(float64, float64) {}
func (p *memoryProbe) Done()                   {}

func TestUnsupportedOptionsAreNamed(t *testing.T) {
	for _, c := range []struct {
		set  func(*config.Config)
		want string
	}{
		{func(c *config.Config) { c.Opt = "adamw" }, "opt"},
		{func(c *config.Config) { c.Loss = "BCE" }, "loss"},
		{func(c *config.Config) { c.Mixup = 0.2 }, "mixup"},
		{func(c *config.Config) { c.AmpLevel = "O3" }, "amp_level"},
		{func(c *config.Config) { c.Model = "resnext51" }, "resnext51"},
		{func(c *config.Config) { c.NumClasses = 5 }, "num_classes 5"},
		{func(c *config.Config) { c.DataDir = "/nonexistent" }, "/nonexistent"},
	} {
		cfg := smallConfig(t)
		c.set(&cfg)
		_, err := New(Options{Config: cfg, Backend: testutil.CPU(t, 1)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %q, got %v", c.want, err)
		}
	}
}

func TestEvalBatchSize(t *testing.T) {
	for _, c := range []struct{ n, batch, want int }{{50000, 32, 25}, {500, 50, 50}, {10000, 64, 50}, {7, 4, 1}, {3, 8, 3}} {
		if got := EvalBatchSize(c.n, c.batch); got != c.want {
			t.Errorf("EvalBatchSize(%d, %d) = %d, want %d", c.n, c.batch, got, c.want)
		}
	}
}

func TestRank(t *testing.T) {
	s := []float32{0.1, 0.5, 0.5, 0.2, 0.05, 0.3, float32(math.NaN())}
	for _, c := range []struct {
		label      int
		top1, top5 bool
	}{{1, true, true}, {2, false, true}, {0, false, true}, {4, false, false}, {5, false, true}, {6, false, false}, {9, false, false}} {
		t1, t5 := rank(s, c.label)
		if t1 != c.top1 || t5 != c.top5 {
			t.Errorf("label %d: top1 %v top5 %v, want %v %v", c.label, t1, t5, c.top1, c.top5)
		}
	}
}

// TestPrometheusEndpoint scrapes the metrics endpoint while a run trains.
func TestPrometheusEndpoint(t *testing.T) {
	cfg := smallConfig(t)
	cfg.EpochSize, cfg.DecayEpochs = 1, 1
	prom := metrics.NewProm()
	srv, err := prom.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	scrape := &scraper{url: "http://" + srv.Addr() + "/metrics", at: 3}
	tr, err := New(Options{Config: cfg, Backend: testutil.CPU(t, 2), Prom: prom, Progress: scrape})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if scrape.err != nil {
		t.Fatal(scrape.err)
	}
	for _, want := range []string{"resnext_train_loss ", "resnext_learning_rate ", "resnext_train_steps_total 3",
		"resnext_train_images_total 96", "resnext_train_step_seconds_count 3", "resnext_epoch 1", "resnext_data_wait_seconds_total"} {
		if !strings.Contains(scrape.body, want) {
			t.Errorf("the scrape after 3 steps has no %q", want)
		}
	}
}

// scraper fetches a URL once the epoch has done at steps.
type scraper struct {
	url  string
	at   int
	body string
	err  error
}

func (s *scraper) Start(epoch, epochs, steps, done int) {}
func (s *scraper) Step(done int) {
	if done != s.at {
		return
	}
	resp, err := http.Get(s.url)
	if err != nil {
		s.err = err
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	s.body, s.err = string(b), err
}
func (s *scraper) Report(float64, float64) {}
func (s *scraper) Done()                   {}

// TestBatchNormOneValueRefused: a training batch that leaves batch norm one value per channel
// (8-pixel images leave resnext14_small's last stage 1x1) was a Go panic in the first step, or in
// the last batch of an epoch with drop_remainder False; New refuses it, naming the keys.
func TestBatchNormOneValueRefused(t *testing.T) {
	for _, c := range []struct {
		set  func(*config.Config)
		want string
	}{
		{func(c *config.Config) { c.BatchSize = 1 }, "batch_size 1 with image_resize 8: want at least 2"},
		{func(c *config.Config) { c.NumSamples, c.DropRemainder = 33, false }, "drop_remainder False: the epoch's last batch has 1 image"},
		{func(c *config.Config) { c.NumSamples, c.DropRemainder = 33, true }, ""},
		{func(c *config.Config) { c.NumSamples, c.DropRemainder = 34, false }, ""},
	} {
		cfg := smallConfig(t)
		cfg.ImageResize = 8
		c.set(&cfg)
		tr, err := New(Options{Config: cfg, Backend: testutil.CPU(t, 1)})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("got %v, want one line containing %q", err, c.want)
		}
		if tr != nil {
			tr.Close()
		}
	}
}

// emptySet is a data set without samples.
type emptySet struct{ data.Dataset }

func (emptySet) Len() int { return 0 }

// TestEmptyValidationSplitRefused: an evaluation over no images reported a top-1 of NaN with
// status 0; the split is refused, named.
func TestEmptyValidationSplitRefused(t *testing.T) {
	cfg := smallConfig(t)
	cfg.ValSplit, cfg.DataDir = "holdout", "/data/x"
	err := checkNotEmpty(emptySet{}, cfg)
	if err == nil || !strings.Contains(err.Error(), `val_split "holdout" of fashion_mnist (data_dir "/data/x") holds no images`) {
		t.Errorf("got %v", err)
	}
}
