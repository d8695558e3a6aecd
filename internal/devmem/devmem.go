// Package devmem is a caching allocator for memory that is slow to get and unsafe to give back
// early: Ascend device memory (aclrtMalloc, aclrtFree) and pinned host memory for staging copies.
// It is modelled on PyTorch's CUDA caching allocator, without block splitting.
//
// # Size classes
//
// A request is rounded up to a multiple of 512 bytes; a request of 1 MiB or more is rounded up to a
// multiple of 2 MiB. Blocks are never split, so every pointer handed out is one Raw returned, and
// Raw's alignment is the blocks' alignment: the allocator checks that it is at least 32 bytes, what
// aclnn requires of a tensor's address. A zero-byte request gets a 512-byte block of its own, since
// an empty aclnn tensor still needs an address.
//
// # Reuse
//
// Free puts a block in a free list for its size; nothing goes back to Raw until Release (or Close,
// or an allocation that cannot be met otherwise). Alloc takes the smallest cached block that fits:
// for requests under 1 MiB only a block of exactly the rounded size; for larger requests any block of
// up to twice the rounded size, so that a 4 MiB request cannot pin a cached 1 GiB block while the
// next 1 GiB request goes to Raw. Among blocks of one size the last one freed is taken first.
//
// Blocks are not split because the workloads this serves allocate the same shapes step after step
// (networks give their layers' buffers back as a step goes and take the same shapes again in the
// next), so exact size classes reach nearly every request from the cache after the first step. Splitting would add the
// bookkeeping of segments (aclrtFree takes only the address aclrtMalloc returned), the merging of
// neighbours on Free and the fragmentation that comes with it, for memory the rounding rules
// already bound: under 512 bytes per small block, and under 2 MiB, or the 2x reuse margin, per large
// one. If Raw's own granularity makes many small blocks expensive, carving the small classes out of
// 2 MiB segments, as PyTorch's small pool does, is the step to take.
//
// # Stream order
//
// Free may be called as soon as the last kernel that uses the block has been queued, without waiting
// for it to run, and the block may be handed out again at once. That is safe because the backend
// queues every kernel and copy on one stream: work queued after the Free, which is all the new owner
// can queue, runs after the work queued before it. The allocator relies on this. Raw.Free is
// different: the memory leaves the stream's order, so every return to Raw is preceded by
// Options.Sync, which waits for the queued work.
//
// With several streams this no longer holds: a block freed after use on stream A and reused on
// stream B could be written by B while A still reads it. Each block would then carry the streams
// that used it (PyTorch's recordStream); Free would record an event on each of them, and the block
// would return to the free lists, or to Raw, only once its events have completed (queried at Alloc,
// waited for at Release), instead of the one Sync of the whole queue used here.
//
// Stream order covers only the device's own accesses. Memory the host writes, such as a pinned
// staging buffer filled by the host and read by a queued copy, must not be freed until that copy has
// run: the caller keeps such blocks until its next synchronisation and frees them then.
//
// # Limit and out of memory
//
// Options.Limit bounds the bytes held from Raw, in use and cached. When an allocation would pass
// the limit, or Raw.Malloc fails (every failure is taken to be a lack of memory, and Raw's error is
// kept), the allocator releases its cache to Raw (after Options.Sync) and tries once more. If the
// cache was empty there is nothing to gain and no Sync. If the second try fails too, Alloc returns an
// *OutOfMemoryError, which matches ErrOutOfMemory with errors.Is and says how much was asked, held,
// in use and cached, the limit, and the device's free and total memory when Options.Free is set.
//
// # Misuse and concurrency
//
// Freeing a block twice, a block of another allocator or one with the wrong size, and using the
// allocator after Close panic with a message that says so. All methods may be called from several
// goroutines; one mutex guards the allocator, and it is held while Raw and Options.Sync run, so
// they must not call back into the allocator.
package devmem

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Raw is the memory the allocator carves: device memory (aclrtMalloc/aclrtFree) or pinned host
// memory (aclrtMallocHost/aclrtFreeHost). Malloc must return memory aligned to at least Align bytes.
type Raw interface {
	Malloc(n uint64) (uintptr, error)
	Free(p uintptr) error
}

// Options configure an Allocator.
type Options struct {
	// Limit is the most bytes held from Raw (in use and cached); 0 means no limit but Raw's own.
	Limit uint64
	// Sync waits until no queued work uses memory handed out so far. It is called before any cached
	// block is returned to Raw (aclrtFree of a block a queued kernel still reads is an error). nil:
	// there is nothing to wait for.
	Sync func() error
	// Name names the memory in errors and panics: "device 0", "device 0 pinned host".
	Name string
	// Free, optional, reports the device's free and total memory, for out-of-memory errors.
	Free func() (free, total uint64, err error)
}

// Block is memory handed out by Alloc. Size is the rounded size actually reserved, at least the size
// asked for; the whole of it may be used.
type Block struct {
	Ptr  uintptr
	Size uint64
}

// Stats are an allocator's figures. Byte counts are of reserved (rounded) sizes.
type Stats struct {
	InUse     uint64 // bytes in blocks handed out and not freed
	Cached    uint64 // bytes in freed blocks kept for reuse
	Held      uint64 // bytes held from Raw: InUse + Cached
	PeakInUse uint64 // the most InUse has been (since New or ResetPeaks)
	PeakHeld  uint64 // the most Held has been (since New or ResetPeaks)

	Allocs      uint64 // successful Alloc calls
	Hits        uint64 // of which served from the cache
	RawMallocs  uint64 // successful Raw.Malloc calls
	RawFrees    uint64 // Raw.Free calls
	Releases    uint64 // times the cache was returned to Raw (Release, Close, out-of-memory retries)
	OutOfMemory uint64 // Alloc calls that failed for lack of memory
}

// Size classes.
const (
	// Align is the alignment every block's address has. aclnn needs 32 bytes of a tensor's
	// address and device-to-device copies 64; blocks are aligned to 512, as torch_npu's caching
	// allocator aligns them, which SmallRound keeps when a segment is split.
	Align = 512
	// SmallRound is the granule of requests under LargeMin.
	SmallRound = 512
	// LargeMin is the smallest request rounded to LargeRound.
	LargeMin = 1 << 20
	// LargeRound is the granule of requests of LargeMin bytes and more.
	LargeRound = 2 << 20
	// maxRequest is the largest request that can be rounded without overflow.
	maxRequest = ^uint64(0) - LargeRound + 1
)

// RoundSize is the size Alloc reserves for a request of n bytes: n rounded up to a multiple of
// SmallRound (SmallRound for 0), or, from LargeMin on, to a multiple of LargeRound. ok is false
// when the rounded size does not fit in a uint64.
func RoundSize(n uint64) (size uint64, ok bool) {
	switch {
	case n == 0:
		return SmallRound, true
	case n < LargeMin:
		return (n + SmallRound - 1) / SmallRound * SmallRound, true
	case n > maxRequest:
		return 0, false
	}
	return (n + LargeRound - 1) / LargeRound * LargeRound, true
}

// Allocator is a caching allocator over a Raw. Its methods are safe for concurrent use.
type Allocator struct {
	raw  Raw
	opts Options

	mu     sync.Mutex
	blocks map[uintptr]*entry   // every block held from Raw
	free   map[uint64][]uintptr // cached blocks by size, the last freed at the end (may be empty)
	large  []uint64             // the sizes of free's non-empty lists of large blocks, ascending
	stats  Stats
	closed bool
}

// entry is the allocator's record of a block.
type entry struct {
	size  uint64
	inUse bool
}

// New returns an allocator that carves raw as o says.
func New(raw Raw, o Options) *Allocator {
	return &Allocator{raw: raw, opts: o, blocks: map[uintptr]*entry{}, free: map[uint64][]uintptr{}}
}

// prefix starts every message: "devmem: device 0: ".
func (a *Allocator) prefix() string {
	if a.opts.Name == "" {
		return "devmem: "
	}
	return "devmem: " + a.opts.Name + ": "
}

// Alloc returns a block of at least n bytes, from the cache when one fits, else from Raw. When the
// memory cannot be had, even after releasing the cache, the error is an *OutOfMemoryError.
func (a *Allocator) Alloc(n uint64) (Block, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		panic(fmt.Sprintf("%sAlloc(%d) after Close", a.prefix(), n))
	}
	size, ok := RoundSize(n)
	if !ok {
		a.stats.OutOfMemory++
		return Block{}, a.oom(n, n, errors.New("the request is larger than any memory"), nil)
	}
	if p, got, ok := a.takeCached(size); ok {
		a.stats.Allocs++
		a.stats.Hits++
		return Block{Ptr: p, Size: got}, nil
	}
	p, err := a.malloc(size)
	var relErr error
	if short(err) && a.stats.Cached > 0 {
		if relErr = a.release(); relErr == nil {
			p, err = a.malloc(size)
		}
	}
	if err != nil {
		if !short(err) {
			return Block{}, err
		}
		a.stats.OutOfMemory++
		if err == errLimit {
			err = nil
		}
		return Block{}, a.oom(n, size, err, relErr)
	}
	a.stats.Allocs++
	return Block{Ptr: p, Size: size}, nil
}

// large reports whether a size class is large (a multiple of LargeRound) rather than small (a
// multiple of SmallRound up to LargeMin, which requests just under LargeMin round to).
func large(size uint64) bool { return size > LargeMin }

// takeCached takes a cached block for a request rounded to size: one of that size exactly, or for a
// large size the smallest of at most twice size.
func (a *Allocator) takeCached(size uint64) (p uintptr, got uint64, ok bool) {
	got = size
	if large(size) {
		i, _ := slices.BinarySearch(a.large, size)
		if i == len(a.large) || a.large[i] > 2*size {
			return 0, 0, false
		}
		got = a.large[i]
	}
	list := a.free[got]
	if len(list) == 0 {
		return 0, 0, false
	}
	p = list[len(list)-1]
	a.setFree(got, list[:len(list)-1])
	a.blocks[p].inUse = true
	a.stats.Cached -= got
	a.stats.InUse += got
	a.peaks()
	return p, got, true
}

// setFree replaces the free list of size, keeping large's index of non-empty large lists.
func (a *Allocator) setFree(size uint64, list []uintptr) {
	was := len(a.free[size]) > 0
	a.free[size] = list // kept when empty, so that its capacity serves the next Free
	if !large(size) || was == (len(list) > 0) {
		return
	}
	i, found := slices.BinarySearch(a.large, size)
	if found {
		a.large = slices.Delete(a.large, i, i+1)
	} else {
		a.large = slices.Insert(a.large, i, size)
	}
}

// errLimit is malloc's failure when the limit leaves no room.
var errLimit = errors.New("over the limit")

// badPointerError is a pointer from Raw.Malloc that cannot be handed out.
type badPointerError struct{ msg string }

func (e *badPointerError) Error() string { return e.msg }

// short reports whether err is a lack of memory: the limit or a failure of Raw.Malloc.
func short(err error) bool {
	var bad *badPointerError
	return err != nil && !errors.As(err, &bad)
}

// malloc gets a block of size bytes from Raw, within the limit, and records it in use.
func (a *Allocator) malloc(size uint64) (uintptr, error) {
	if l := a.opts.Limit; l > 0 && (size > l || a.stats.Held > l-size) {
		return 0, errLimit
	}
	p, err := a.raw.Malloc(size)
	if err != nil {
		return 0, err
	}
	if p == 0 || p%Align != 0 || a.blocks[p] != nil {
		what := "a null pointer"
		switch {
		case p%Align != 0:
			what = fmt.Sprintf("%#x, not %d-byte aligned", p, Align)
		case p != 0:
			what = fmt.Sprintf("%#x, which is already allocated", p)
		}
		if p != 0 && a.blocks[p] == nil {
			a.stats.RawFrees++
			a.raw.Free(p) // the pointer is refused anyway; a failure to free it changes nothing
		}
		return 0, &badPointerError{fmt.Sprintf("%sRaw.Malloc(%d) returned %s", a.prefix(), size, what)}
	}
	a.blocks[p] = &entry{size: size, inUse: true}
	a.stats.RawMallocs++
	a.stats.InUse += size
	a.stats.Held += size
	a.peaks()
	return p, nil
}

func (a *Allocator) peaks() {
	a.stats.PeakInUse = max(a.stats.PeakInUse, a.stats.InUse)
	a.stats.PeakHeld = max(a.stats.PeakHeld, a.stats.Held)
}

// Free returns b to the cache, where later Alloc calls may take it at once: work queued on the
// stream after this call runs after the work queued before it (see the package documentation).
// Freeing a block twice, or one this allocator did not hand out, panics.
func (a *Allocator) Free(b Block) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		panic(fmt.Sprintf("%sFree of block %#x (%d bytes) after Close", a.prefix(), b.Ptr, b.Size))
	}
	e := a.blocks[b.Ptr]
	switch {
	case e == nil:
		panic(fmt.Sprintf("%sFree of block %#x (%d bytes), which this allocator did not hand out (or which was freed and released)", a.prefix(), b.Ptr, b.Size))
	case !e.inUse:
		panic(fmt.Sprintf("%sFree of block %#x (%d bytes), which was freed already", a.prefix(), b.Ptr, b.Size))
	case e.size != b.Size:
		panic(fmt.Sprintf("%sFree of block %#x with size %d; it was handed out with size %d", a.prefix(), b.Ptr, b.Size, e.size))
	}
	e.inUse = false
	a.setFree(e.size, append(a.free[e.size], b.Ptr))
	a.stats.InUse -= e.size
	a.stats.Cached += e.size
}

// Release waits for the queued work (Options.Sync), then returns every cached block to Raw. With
// nothing cached it does nothing. If Sync fails nothing is returned, and the error says so; a block
// Raw fails to free is forgotten all the same (its state is unknown, so it is never handed out
// again), and the errors are returned together.
func (a *Allocator) Release() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.release()
}

func (a *Allocator) release() error {
	if a.stats.Cached == 0 {
		return nil
	}
	if a.opts.Sync != nil {
		if err := a.opts.Sync(); err != nil {
			return fmt.Errorf("%sreleasing %s of cached blocks: waiting for the queued work: %w",
				a.prefix(), FormatBytes(a.stats.Cached), err)
		}
	}
	a.stats.Releases++
	var errs []error
	for size, list := range a.free {
		for _, p := range list {
			a.stats.RawFrees++
			if err := a.raw.Free(p); err != nil {
				errs = append(errs, fmt.Errorf("%sfreeing block %#x (%d bytes): %w", a.prefix(), p, size, err))
			}
			delete(a.blocks, p)
			a.stats.Cached -= size
			a.stats.Held -= size
		}
	}
	clear(a.free)
	a.large = a.large[:0]
	return errors.Join(errs...)
}

// Close releases the cache and closes the allocator; any later call but Stats and Close panics.
// Blocks still in use are an error naming how many there are and their bytes; they stay with Raw.
// Closing twice returns nil.
func (a *Allocator) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	err := a.release()
	if a.stats.InUse > 0 {
		n := 0
		for _, e := range a.blocks {
			if e.inUse {
				n++
			}
		}
		leak := fmt.Errorf("%sclosed with %d block(s) still in use (%s, %d bytes); free them before Close",
			a.prefix(), n, FormatBytes(a.stats.InUse), a.stats.InUse)
		err = errors.Join(leak, err)
	}
	return err
}

// Stats returns the allocator's figures.
func (a *Allocator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// ResetPeaks sets PeakInUse and PeakHeld to the current InUse and Held.
func (a *Allocator) ResetPeaks() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.PeakInUse = a.stats.InUse
	a.stats.PeakHeld = a.stats.Held
}
