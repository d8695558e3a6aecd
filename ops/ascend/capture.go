//go:build cgo

package ascend

import (
	"errors"
	"fmt"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/internal/devmem"
	"github.com/resnext/resnext/ops"
)

// Graph capture (aclmdlRICaptureBegin/End, replayed with aclmdlRIExecuteAsync: CANN 8.1 and later,
// Atlas A2 and A3; torch_npu's NPUGraph uses it). While the backend captures, the stream records
// what is queued instead of running it, and the memory the recorded work uses must stay the
// graph's until it is freed: blocks freed during capture (scratch tensors, kernel workspaces) go to
// a pool private to the graph, from which later allocations of the captured step are served, as
// torch_npu's private memory pool does, and the host objects the recorded kernels use (descriptors,
// pinned staging) are kept with the graph.

// capturePool holds the device blocks freed while capturing.
type capturePool struct {
	free []devmem.Block // free for reuse within the capture
	all  []devmem.Block // every block the pool ever held
}

// take returns the smallest free block of at least n bytes.
func (p *capturePool) take(n uint64) (devmem.Block, bool) {
	best := -1
	for i, blk := range p.free {
		if blk.Size >= n && (best < 0 || blk.Size < p.free[best].Size) {
			best = i
		}
	}
	if best < 0 {
		return devmem.Block{}, false
	}
	blk := p.free[best]
	p.free = append(p.free[:best], p.free[best+1:]...)
	return blk, true
}

func (p *capturePool) put(blk devmem.Block) {
	p.free = append(p.free, blk)
	for _, b := range p.all {
		if b.Ptr == blk.Ptr {
			return
		}
	}
	p.all = append(p.all, blk)
}

// allocBlock is the device allocation of tensors and workspaces: from the capture's pool while
// capturing, when it has a block large enough.
func (b *Backend) allocBlock(n uint64) (devmem.Block, error) {
	if b.capture != nil {
		if blk, ok := b.capture.take(n); ok {
			return blk, nil
		}
	}
	return b.mem.Alloc(n)
}

// freeBlock gives a block back: to the capture's pool while capturing, to the allocator otherwise.
func (b *Backend) freeBlock(blk devmem.Block) {
	if b.capture != nil {
		b.capture.put(blk)
		return
	}
	b.mem.Free(blk)
}

// errCapturing is the error of an operation that has to wait for the device while capturing.
var errCapturing = errors.New("the backend is capturing a graph: nothing can be waited for or read back until EndCapture")

// BeginCapture waits for the queued work, then records instead of running until EndCapture, which
// must be called from the same goroutine (CANN ties a capture to its thread). It fails where CANN
// cannot capture: no aclmdlRI symbols (before CANN 8.1), or the first-generation 910.
func (b *Backend) BeginCapture() error {
	switch {
	case b.capture != nil:
		return errors.New("ascend: BeginCapture: already capturing")
	case !b.lib.CanCapture():
		return fmt.Errorf("ascend: graph capture: %w (it needs CANN 8.1 or later)", acl.ErrUnsupported)
	}
	if err := b.drain(); err != nil {
		return err
	}
	if err := b.stream.BeginCapture(acl.CaptureGlobal); err != nil {
		return fmt.Errorf("ascend: graph capture on %v: %w", b.soc, err)
	}
	b.capture = &capturePool{}
	return nil
}

// EndCapture stops recording and returns the graph.
func (b *Backend) EndCapture() (ops.Graph, error) {
	if b.capture == nil {
		return nil, errors.New("ascend: EndCapture without BeginCapture")
	}
	pool := b.capture
	g, err := b.stream.EndCapture()
	b.capture = nil
	b.mu.Lock()
	held, staged := b.pending, b.staged
	b.pending, b.staged, b.stagedB = nil, nil, 0
	b.mu.Unlock()
	gr := &graph{b: b, g: g, pool: pool.all, held: held, staged: staged}
	b.graphs++
	if err == nil {
		err = b.failedErr()
	}
	if err != nil {
		gr.Free()
		return nil, fmt.Errorf("ascend: EndCapture: %w", err)
	}
	return gr, nil
}

// graph is a captured step with what its recorded work uses.
type graph struct {
	b      *Backend
	g      *acl.Graph
	pool   []devmem.Block
	held   []interface{ Destroy() error }
	staged []devmem.Block
	freed  bool
}

// Replay queues the recorded work on the backend's stream.
func (g *graph) Replay() error {
	b := g.b
	switch {
	case g.freed:
		return errors.New("ascend: Replay of a freed graph")
	case b.capture != nil:
		return errors.New("ascend: Replay while capturing")
	case b.failed():
		return b.failedErr()
	}
	b.launches++
	b.fail("Replay", g.g.Launch(b.stream))
	return b.failedErr()
}

// Free waits for the replays queued, then releases the graph, its host objects and its blocks.
func (g *graph) Free() error {
	b := g.b
	if g.freed {
		return nil
	}
	g.freed = true
	b.graphs--
	err := b.stream.Synchronize()
	if e := g.g.Destroy(); err == nil {
		err = e
	}
	g.g = nil
	for _, o := range g.held {
		if e := o.Destroy(); err == nil {
			err = e
		}
	}
	for _, blk := range g.staged {
		b.pinned.Free(blk)
	}
	for _, blk := range g.pool {
		b.mem.Free(blk)
	}
	g.held, g.staged, g.pool = nil, nil, nil
	return err
}

var _ ops.Capturer = (*Backend)(nil)
