package train

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops"
)

// pinnedCPU is the CPU backend with pinned memory of its own: Go memory, whose buffers it counts,
// and whose Writes it records, so the test sees the engine's batches come from it.
type pinnedCPU struct {
	ops.Backend
	mu            sync.Mutex
	bufs          [][]byte
	freed, waited int
	fromPinned    int
}

func (p *pinnedCPU) AllocPinned(n int) ([]byte, func(), error) {
	buf := make([]byte, n)
	p.mu.Lock()
	p.bufs = append(p.bufs, buf)
	p.mu.Unlock()
	return buf, func() {
		p.mu.Lock()
		p.freed++
		p.mu.Unlock()
	}, nil
}

func (p *pinnedCPU) WaitPinned([]byte) error {
	p.mu.Lock()
	p.waited++
	p.mu.Unlock()
	return nil
}

func (p *pinnedCPU) Write(t ops.Tensor, src []byte) {
	p.mu.Lock()
	if slices.ContainsFunc(p.bufs, func(b []byte) bool { return len(src) > 0 && &b[0] == &src[0] }) {
		p.fromPinned++
	}
	p.mu.Unlock()
	p.Backend.Write(t, src)
}

// With a backend that has pinned memory, training and validation batches are built in it, waited
// on before reuse, and freed when the Trainer closes; the run's numbers are the same.
func TestBatchesInPinnedMemory(t *testing.T) {
	cfg := smallConfig(t)
	cfg.ValWhileTrain = true
	b := &pinnedCPU{Backend: testutil.CPU(t, 2)}
	tr, err := New(Options{Config: cfg, Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := tr.Run(context.Background())
	tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	steps := sum.Steps
	if len(b.bufs) == 0 || b.fromPinned < steps || b.waited == 0 || b.freed != len(b.bufs) {
		t.Errorf("%d pinned buffers, %d freed, %d batch writes from them over %d steps, %d waits", len(b.bufs), b.freed, b.fromPinned, steps, b.waited)
	}
	cfg2 := cfg
	cfg2.CkptSaveDir = t.TempDir()
	plain := run(t, cfg2, 0)
	if plain.err != nil {
		t.Fatal(plain.err)
	}
	if sum.Last.Loss != plain.sum.Last.Loss || sum.Last.Top1 != plain.sum.Last.Top1 {
		t.Errorf("pinned batches: validation loss %v top-1 %v; Go heap batches: %v %v", sum.Last.Loss, sum.Last.Top1, plain.sum.Last.Loss, plain.sum.Last.Top1)
	}
}
