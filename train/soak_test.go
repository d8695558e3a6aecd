package train

import (
	"runtime"
	"testing"
	"time"
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
	trainFlat(t, cfg)
	if n := settledGoroutines(before); n > before {
		t.Errorf("%d goroutines after the run, %d before", n, before)
	}

	// Two ranks: their loaders, rings and the scheduler end with the run.
	cfg.CkptSaveDir = t.TempDir()
	cfg.EpochSize, cfg.DecayEpochs = epochs/2, epochs/2
	res := runRanks(t, cfg, 2, nil)
	for r, x := range res {
		if x.err != nil {
			t.Fatalf("rank %d: %v", r, x.err)
		}
	}
	if n := settledGoroutines(before); n > before {
		t.Errorf("%d goroutines after the two-rank run, %d before", n, before)
	}
}
