//go:build cgo

package ascend

import (
	"fmt"
	"unsafe"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/internal/devmem"
)

// pinnedBuf is host memory AllocPinned handed out: its block, and the event recorded on the
// stream after the last copy queued from it.
type pinnedBuf struct {
	blk    devmem.Block
	n      int
	event  *acl.Event
	queued bool // a copy from the buffer was queued after the event's last wait
}

// AllocPinned returns n bytes of page-locked host memory (aclrtMallocHost, through the backend's
// pinned allocator). Write copies from it to the device without staging. Free it with the
// returned function, before the backend closes.
func (b *Backend) AllocPinned(n int) ([]byte, func(), error) {
	if n <= 0 {
		return nil, func() {}, nil
	}
	blk, err := b.pinned.Alloc(uint64(n))
	if err != nil {
		return nil, nil, fmt.Errorf("ascend: pinned host memory of %d bytes: %w", n, err)
	}
	ev, err := b.dev.NewEvent()
	if err != nil {
		b.pinned.Free(blk)
		return nil, nil, err
	}
	p := &pinnedBuf{blk: blk, n: n, event: ev}
	b.mu.Lock()
	if b.pinnedBufs == nil {
		b.pinnedBufs = map[uintptr]*pinnedBuf{}
	}
	b.pinnedBufs[blk.Ptr] = p
	b.mu.Unlock()
	free := func() {
		b.mu.Lock()
		_, live := b.pinnedBufs[blk.Ptr]
		delete(b.pinnedBufs, blk.Ptr)
		b.mu.Unlock()
		if !live {
			return
		}
		b.fail("AllocPinned", ev.Synchronize())
		b.fail("AllocPinned", ev.Destroy())
		b.pinned.Free(blk)
	}
	return acl.HostBytes(acl.Ptr(blk.Ptr), n), free, nil
}

// pinnedOf returns the pinned buffer that holds all of src, or nil.
func (b *Backend) pinnedOf(src []byte) *pinnedBuf {
	if len(src) == 0 {
		return nil
	}
	start := uintptr(unsafe.Pointer(&src[0]))
	b.mu.Lock()
	defer b.mu.Unlock()
	for base, p := range b.pinnedBufs {
		if start >= base && start+uintptr(len(src)) <= base+uintptr(p.n) {
			return p
		}
	}
	return nil
}

// writePinned queues the copy of src, which lies in pinned buffer p, into device memory at dst,
// and records p's event after it.
func (b *Backend) writePinned(dst acl.Ptr, src []byte, p *pinnedBuf) {
	from := acl.Ptr(uintptr(unsafe.Pointer(&src[0])))
	if err := b.stream.MemcpyAsync(dst, from, uint64(len(src)), acl.HostToDevice); err != nil {
		b.fail("Write", err)
		return
	}
	b.mu.Lock()
	p.queued = true
	b.mu.Unlock()
	b.fail("Write", p.event.Record(b.stream))
}

// WaitPinned waits until the copies queued from buf, memory of AllocPinned, have read it. Memory
// that is not the backend's pinned memory needs no wait. It may be called from any goroutine.
func (b *Backend) WaitPinned(buf []byte) error {
	p := b.pinnedOf(buf)
	if p == nil {
		return nil
	}
	b.mu.Lock()
	queued := p.queued
	p.queued = false
	b.mu.Unlock()
	if !queued {
		return nil
	}
	return p.event.Synchronize()
}
