package train

import (
	"sync"
	"unsafe"

	"github.com/resnext/resnext/data"
	"github.com/resnext/resnext/ops"
)

// pinnedBuffers gives a loader its batch buffers in the backend's pinned host memory, so that the
// batches go to the device without a staging copy (ops.PinnedHost).
type pinnedBuffers struct {
	p     ops.PinnedHost
	mu    sync.Mutex
	frees map[*float32]func()
}

// batchBuffers is the loaders' Buffers for backend b: its pinned memory when it has some, else
// nil (the Go heap).
func batchBuffers(b ops.Backend) data.Buffers {
	p, ok := b.(ops.PinnedHost)
	if !ok {
		return nil
	}
	return &pinnedBuffers{p: p, frees: map[*float32]func(){}}
}

func (pb *pinnedBuffers) Alloc(n int) ([]float32, error) {
	buf, free, err := pb.p.AllocPinned(4 * n)
	if err != nil {
		return nil, err
	}
	x := unsafe.Slice((*float32)(unsafe.Pointer(&buf[0])), n)
	pb.mu.Lock()
	pb.frees[&x[0]] = free
	pb.mu.Unlock()
	return x, nil
}

func (pb *pinnedBuffers) Reuse(buf []float32) error { return pb.p.WaitPinned(ops.Bytes(buf)) }

func (pb *pinnedBuffers) Free(buf []float32) {
	if len(buf) == 0 {
		return
	}
	pb.mu.Lock()
	free := pb.frees[&buf[0]]
	delete(pb.frees, &buf[0])
	pb.mu.Unlock()
	if free != nil {
		free()
	}
}
