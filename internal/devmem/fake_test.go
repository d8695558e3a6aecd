package devmem

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// fakeRaw is a Raw over a made-up address space. It records every call in an event log it shares
// with its Sync, recycles freed addresses of the same size (as a real allocator would, so stale
// pointers alias new blocks), and reports through t: a Free of memory that is not live (double free
// or foreign pointer), live blocks that overlap, a size that is not a size class, and the hazard the
// allocator exists to avoid, a Free of a block that queued work may still use (marked by use,
// cleared by Sync).
type fakeRaw struct {
	t testing.TB

	mu       sync.Mutex
	next     uintptr
	align    uintptr              // alignment of the addresses handed out
	recycled map[uint64][]uintptr // freed addresses by size
	live     map[uintptr]uint64
	dirty    map[uintptr]bool // blocks queued work may still use
	used     uint64           // live bytes
	capacity uint64           // 0: unlimited
	events   []string
	mallocs  int
	frees    int
	syncErr  error
	freeErr  error
}

func newFake(t testing.TB) *fakeRaw {
	return &fakeRaw{t: t, next: 1 << 32, align: 4096, recycled: map[uint64][]uintptr{},
		live: map[uintptr]uint64{}, dirty: map[uintptr]bool{}}
}

// errFakeOOM is the fake's Malloc failure past its capacity.
var errFakeOOM = errors.New("fake: out of device memory")

func (f *fakeRaw) Malloc(n uint64) (uintptr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n == 0 || (n <= LargeMin && n%SmallRound != 0) || (n > LargeMin && n%LargeRound != 0) {
		f.t.Errorf("Raw.Malloc(%d): not a size class", n)
	}
	if f.capacity > 0 && f.used+n > f.capacity {
		f.events = append(f.events, fmt.Sprintf("malloc %d failed", n))
		return 0, fmt.Errorf("%w: %d bytes asked, %d of %d in use", errFakeOOM, n, f.used, f.capacity)
	}
	var p uintptr
	if l := f.recycled[n]; len(l) > 0 {
		p, f.recycled[n] = l[len(l)-1], l[:len(l)-1]
	} else {
		p = (f.next + f.align - 1) / f.align * f.align
		f.next = p + uintptr(n)
	}
	for q, m := range f.live {
		if p < q+uintptr(m) && q < p+uintptr(n) {
			f.t.Errorf("Raw.Malloc(%d) = %#x overlaps live block %#x (%d bytes)", n, p, q, m)
		}
	}
	f.live[p] = n
	f.used += n
	f.mallocs++
	f.events = append(f.events, fmt.Sprintf("malloc %d", n))
	return p, nil
}

func (f *fakeRaw) Free(p uintptr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.live[p]
	if !ok {
		f.t.Errorf("Raw.Free(%#x): not a live block (double free or foreign pointer)", p)
		return errors.New("fake: bad free")
	}
	if f.dirty[p] {
		f.t.Errorf("Raw.Free(%#x): queued work may still use it (no Sync since its last use)", p)
	}
	if f.freeErr != nil {
		f.events = append(f.events, fmt.Sprintf("free %d failed", n))
		return f.freeErr
	}
	delete(f.live, p)
	f.used -= n
	f.recycled[n] = append(f.recycled[n], p)
	f.frees++
	f.events = append(f.events, fmt.Sprintf("free %d", n))
	return nil
}

// Sync is the Options.Sync of the fake's allocators: the queued work is done.
func (f *fakeRaw) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, "sync")
	if f.syncErr != nil {
		return f.syncErr
	}
	clear(f.dirty)
	return nil
}

// use records that work queued now reads or writes b (a kernel), until the next Sync.
func (f *fakeRaw) use(b Block) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dirty[b.Ptr] = true
}

// log returns the events since the last call.
func (f *fakeRaw) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.events
	f.events = nil
	return e
}

func (f *fakeRaw) liveCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.live)
}

// within reports whether b lies inside one live Raw block.
func (f *fakeRaw) within(b Block) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.live[b.Ptr]
	return ok && b.Size <= n
}

// owners tracks the blocks handed out and not yet freed, as their users see them, and reports
// blocks handed to two owners at once.
type owners struct {
	t    testing.TB
	raw  *fakeRaw
	mu   sync.Mutex
	live map[uintptr]uint64
}

func newOwners(t testing.TB, raw *fakeRaw) *owners {
	return &owners{t: t, raw: raw, live: map[uintptr]uint64{}}
}

// got checks a block Alloc returned for a request of n bytes.
func (o *owners) got(b Block, n uint64) {
	o.t.Helper()
	if b.Ptr == 0 || b.Ptr%Align != 0 {
		o.t.Errorf("Alloc(%d) = %#x: not %d-byte aligned", n, b.Ptr, Align)
	}
	if b.Size < n || b.Size < SmallRound {
		o.t.Errorf("Alloc(%d) gave %d bytes", n, b.Size)
	}
	if !o.raw.within(b) {
		o.t.Errorf("Alloc(%d) = %#x (%d bytes): not inside a live Raw block", n, b.Ptr, b.Size)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for p, m := range o.live {
		if b.Ptr < p+uintptr(m) && p < b.Ptr+uintptr(b.Size) {
			o.t.Errorf("Alloc(%d) = %#x (%d bytes) overlaps block %#x (%d bytes), still in use", n, b.Ptr, b.Size, p, m)
		}
	}
	o.live[b.Ptr] = b.Size
}

// free records that b is given back; the caller then calls Allocator.Free.
func (o *owners) free(b Block) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.live, b.Ptr)
	o.raw.use(b)
}
