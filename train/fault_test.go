package train

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/internal/testutil"
)

// TestDivergenceStops: with a fixed loss scale, a run whose loss turns infinite or NaN (a learning
// rate far too high) stops at the next log line with an error naming the learning rate, and writes
// no checkpoint of the ruined weights; the checkpoint of the epoch before stays whole.
func TestDivergenceStops(t *testing.T) {
	cfg := smallConfig(t)
	cfg.LR, cfg.Scheduler, cfg.LogInterval = 1e8, "constant", 1
	cfg.EpochSize = 3
	err := run(t, cfg, 0).err
	if err == nil || !strings.Contains(err.Error(), "the loss is") || !strings.Contains(err.Error(), "--lr") || errors.Is(err, ErrInterrupted) {
		t.Fatalf("a diverging run returned %v, want an error naming the loss and --lr", err)
	}
	entries, _ := os.ReadDir(cfg.CkptSaveDir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".ckpt") {
			continue
		}
		c, err := ckpt.Read(filepath.Join(cfg.CkptSaveDir, e.Name()))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for _, x := range c.Tensors {
			v, _ := x.Float32()
			for _, f := range v {
				if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
					t.Fatalf("%s holds a non-finite %s", e.Name(), x.Name)
				}
			}
		}
	}
}

// deleteAt removes files when the first epoch reaches a step.
type deleteAt struct {
	at    int
	files []string
	epoch int
}

func (d *deleteAt) Start(epoch, epochs, steps, done int) { d.epoch = epoch }
func (d *deleteAt) Step(done int) {
	if d.epoch == 1 && done == d.at {
		for _, f := range d.files {
			os.Remove(f)
		}
	}
}
func (d *deleteAt) Report(float64, float64) {}
func (d *deleteAt) Done()                   {}

// TestDatasetFileDeleted: images deleted from an ImageFolder mid-run are reported, counted and
// replaced by readable ones; the run goes on and finishes.
func TestDatasetFileDeleted(t *testing.T) {
	cfg := smallConfig(t)
	dir := t.TempDir()
	testutil.WriteImageFolder(t, dir, []string{"a", "b", "c", "d"}, 8, 16)
	cfg.Dataset, cfg.DataDir, cfg.NumClasses, cfg.ImageResize = "imagenet", dir, 4, 16
	cfg.NumSamples, cfg.BatchSize, cfg.EpochSize, cfg.DecayEpochs = 0, 8, 2, 2
	gone, _ := filepath.Glob(filepath.Join(dir, "train", "a", "*"))
	if len(gone) != 8 {
		t.Fatalf("%d images of class a", len(gone))
	}
	tr, err := New(Options{Config: cfg, Backend: testutil.CPU(t, 2), Progress: &deleteAt{at: 1, files: gone}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sum, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 8 || sum.Steps != 8 {
		t.Errorf("%d images skipped in %d steps; want each of the 8 deleted counted once, and every step taken", sum.Skipped, sum.Steps)
	}
}

// TestCheckpointWriteFails: a checkpoint that cannot be written (here its name is taken by a
// directory; a full disk or a read-only directory fail the same write) stops the run with an error
// naming the checkpoint to resume from, which is whole, and leaves no temporary file.
func TestCheckpointWriteFails(t *testing.T) {
	cfg := smallConfig(t)
	cfg.EpochSize = 3
	if err := os.MkdirAll(filepath.Join(cfg.CkptSaveDir, "resnext14_small-2_4.ckpt", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := run(t, cfg, 0).err
	prev := filepath.Join(cfg.CkptSaveDir, "resnext14_small-1_4.ckpt")
	if err == nil || !strings.Contains(err.Error(), "resnext14_small-2_4.ckpt") || !strings.Contains(err.Error(), "--ckpt_path "+prev+" --resume_opt True") {
		t.Fatalf("Run = %v, want an error naming the failed checkpoint and how to resume from %s", err, prev)
	}
	if _, err := ckpt.Read(prev); err != nil {
		t.Errorf("the previous checkpoint: %v", err)
	}
	entries, _ := os.ReadDir(cfg.CkptSaveDir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestCheckpointDiskFull writes the checkpoints to a file system too small for the second one (a
// tmpfs of 3 MiB; the test needs root to mount it and is skipped otherwise): the run stops naming
// the first, which is whole, and the failed write leaves no temporary file.
func TestCheckpointDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	cfg := smallConfig(t)
	cfg.EpochSize, cfg.CkptSaveDir = 4, dir
	err := run(t, cfg, 0).err
	first := filepath.Join(dir, "resnext14_small-1_4.ckpt")
	if err == nil || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "--ckpt_path "+first) {
		t.Fatalf("Run on a full disk = %v, want an error saying so and naming %s", err, first)
	}
	if _, err := ckpt.Read(first); err != nil {
		t.Errorf("the checkpoint before the disk filled: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
