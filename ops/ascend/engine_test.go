//go:build cgo

package ascend

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/train"
	"github.com/resnext/resnext/train/config"
)

// engineConfig is a few steps of the training engine on a small ImageFolder (4 classes, 8 images
// of each per split, RGB at 16x16): resnext14_small, 4 steps of 8 images, then validation on the
// 32 validation images. (The test runtime computes on the host, one loop per element.)
func engineConfig(t *testing.T) config.Config {
	t.Helper()
	dir := t.TempDir()
	testutil.WriteImageFolder(t, dir, []string{"a", "b", "c", "d"}, 8, 16)
	c := config.Default()
	c.Dataset, c.DataDir, c.Model, c.NumClasses, c.ImageResize = "imagenet", dir, "resnext14_small", 4, 16
	c.BatchSize, c.NumSamples, c.EpochSize, c.DecayEpochs, c.WarmupEpochs = 8, 0, 1, 1, 0
	c.LR, c.AmpLevel, c.LossScaleType, c.LossScale = 0.05, "O0", "fixed", 1
	c.Opt, c.Momentum, c.WeightDecay = "momentum", 0.9, 1e-4
	c.Distribute, c.ValWhileTrain, c.EvalBatchSize = false, true, 16
	c.NumParallelWorkers, c.LogInterval, c.CkptSaveDir, c.DeviceTarget = 2, 2, t.TempDir(), "Ascend"
	return c
}

// engineRun trains cfg on b and returns the summary and the final parameters.
func engineRun(t *testing.T, b ops.Backend, cfg config.Config, finetune bool) (*train.Summary, map[string][]float32) {
	t.Helper()
	tr, err := train.New(train.Options{Config: cfg, Backend: b, Finetune: finetune})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sum, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	params := map[string][]float32{}
	for _, p := range tr.Model().Params() {
		params[p.Name] = testutil.Download(t, b, p.Value)
	}
	return sum, params
}

// TestEngineMatchesCPU runs train, validate and finetune on the test runtime and on the CPU
// backend and compares what they compute.
func TestEngineMatchesCPU(t *testing.T) {
	skipUnderRace(t)
	cfg := engineConfig(t)
	got, gotParams := engineRun(t, open(t, Options{Device: 0}), cfg, false)
	cpuCfg := cfg
	cpuCfg.CkptSaveDir, cpuCfg.DeviceTarget = t.TempDir(), "CPU"
	want, wantParams := engineRun(t, testutil.CPU(t, 2), cpuCfg, false)
	if got.Steps != want.Steps || got.Last.Images != 32 {
		t.Fatalf("Ascend: %d steps, %d images evaluated; CPU: %d steps", got.Steps, got.Last.Images, want.Steps)
	}
	// Four momentum steps at lr 0.05 on batches of 8 images amplify the two backends' float32
	// rounding (batch norm over 8 small images most): the weights agree to about 1e-3 of their
	// scale, which a wrong kernel would miss by orders of magnitude.
	for name, w := range wantParams {
		testutil.AssertClose(t, name, gotParams[name], w, 2e-3)
	}
	if d := got.Last.Loss - want.Last.Loss; d > 1e-3 || d < -1e-3 {
		t.Errorf("validation loss: Ascend %v, CPU %v", got.Last.Loss, want.Last.Loss)
	}

	// validate on Ascend with the CPU run's checkpoint.
	vcfg := cfg
	vcfg.CkptPath = want.Checkpoint
	vcfg.BatchSize = 16
	res, err := train.Validate(context.Background(), train.Options{Config: vcfg, Backend: open(t, Options{Device: 0})})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Loss - want.Last.Loss; d > 1e-3 || d < -1e-3 || res.Images != 32 {
		t.Errorf("validate on Ascend: %+v; the CPU run's evaluation %+v", res, want.Last)
	}

	// finetune on Ascend from the CPU run's checkpoint: a new classifier, the backbone frozen.
	fcfg := cfg
	fcfg.CkptPath, fcfg.FreezeBackbone, fcfg.CkptSaveDir = want.Checkpoint, true, t.TempDir()
	fsum, fparams := engineRun(t, open(t, Options{Device: 0}), fcfg, true)
	if fsum.Steps != 4 {
		t.Errorf("finetune: %d steps, want 4", fsum.Steps)
	}
	for name, w := range wantParams {
		if name == "classifier.weight" || name == "classifier.bias" {
			continue
		}
		testutil.AssertClose(t, "frozen "+name, fparams[name], w, 0)
	}
	c, err := ckpt.Read(filepath.Join(fcfg.CkptSaveDir, "resnext14_small-1_4.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	if names, err := train.ClassNames(c); err != nil || len(names) != 4 || names[3] != "d" {
		t.Errorf("the fine-tuned checkpoint's class names: %v (%v)", names, err)
	}
}

// TestEngineMixedPrecision trains with amp_level O2 (float16 compute) on the test runtime, with a
// fixed and a dynamic loss scale, the dynamic one starting high enough to overflow float16 until
// it has halved a few times.
func TestEngineMixedPrecision(t *testing.T) {
	skipUnderRace(t)
	for _, c := range []struct {
		kind         string
		scale        float64
		wantOverflow bool
	}{{"fixed", 1024, false}, {"dynamic", 1 << 22, true}} {
		t.Run(c.kind, func(t *testing.T) {
			cfg := engineConfig(t)
			cfg.AmpLevel, cfg.LossScaleType, cfg.LossScale, cfg.DropOverflowUpdate = "O2", c.kind, c.scale, c.kind == "dynamic"
			cfg.BatchSize, cfg.EpochSize, cfg.DecayEpochs = 4, 2, 2
			sum, params := engineRun(t, open(t, Options{Device: 0}), cfg, false)
			if got := sum.Overflows > 0; got != c.wantOverflow {
				t.Errorf("%d steps skipped for overflow", sum.Overflows)
			}
			if sum.Steps+sum.Overflows != 16 || sum.Steps == 0 {
				t.Errorf("%d steps and %d skipped, want 16 in all, some applied", sum.Steps, sum.Overflows)
			}
			for name, v := range params {
				if !testutil.AllFinite(v) {
					t.Fatalf("%s is not finite", name)
				}
			}
			if sum.Last.Images != 32 || !testutil.AllFinite([]float32{float32(sum.Last.Loss)}) {
				t.Errorf("validation after %d float16 steps: %+v", sum.Steps, sum.Last)
			}
		})
	}
}

// skipUnderRace skips a test of the engine's numbers under the race detector, where the test
// runtime's loops take minutes; the engine's concurrency is raced in package train's tests.
func skipUnderRace(t *testing.T) {
	if testutil.Race {
		t.Skip("numerical; the race detector makes the test runtime minutes slower")
	}
}
