package train

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/train/config"
)

// settledGoroutines is the number of goroutines once those that are ending have ended (or after a
// second).
func settledGoroutines(limit int) int {
	deadline := time.Now().Add(time.Second)
	n := runtime.NumGoroutine()
	for n > limit && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// TestSoak runs many short epochs with validation, one process and then two ranks, and checks that
// the backend's memory and the Go heap stay flat from epoch to epoch and that no goroutine outlives
// the run (the loaders' workers, the ring's, the scheduler's).
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("many epochs")
	}
	if raceEnabled {
		t.Skip("slow under the race detector; its paths run there in TestDataParallel and TestMemoryStaysFlat")
	}
	const epochs = 30
	cfg := smallConfig(t)
	cfg.NumSamples, cfg.BatchSize = 64, 16
	cfg.ValWhileTrain = true
	cfg.EpochSize, cfg.DecayEpochs = epochs, epochs
	cfg.CkptSaveInterval = 5

	before := runtime.NumGoroutine()
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
	if n := settledGoroutines(before); n > before {
		t.Errorf("%d goroutines after the run, %d before", n, before)
	}

	// Two ranks: their loaders, rings and the scheduler end with the run.
	cfg.CkptSaveDir = t.TempDir()
	cfg.EpochSize, cfg.DecayEpochs = epochs/2, epochs/2
	res := runRanks(t, cfg, 2, func(int, *config.Config, *stepHashes) {})
	for r, x := range res {
		if x.err != nil {
			t.Fatalf("rank %d: %v", r, x.err)
		}
	}
	if n := settledGoroutines(before); n > before {
		t.Errorf("%d goroutines after the two-rank run, %d before", n, before)
	}
}
