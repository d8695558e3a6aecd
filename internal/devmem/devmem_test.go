package devmem

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// setup returns an allocator over a fresh fake, with the fake's Sync.
func setup(t testing.TB, o Options) (*Allocator, *fakeRaw, *owners) {
	raw := newFake(t)
	o.Sync = raw.Sync
	return New(raw, o), raw, newOwners(t, raw)
}

// alloc is Alloc that must succeed.
func alloc(t testing.TB, a *Allocator, o *owners, n uint64) Block {
	t.Helper()
	b, err := a.Alloc(n)
	if err != nil {
		t.Fatalf("Alloc(%d): %v", n, err)
	}
	o.got(b, n)
	return b
}

func free(a *Allocator, o *owners, b Block) {
	o.free(b)
	a.Free(b)
}

func TestRoundSize(t *testing.T) {
	for _, c := range []struct{ n, want uint64 }{
		{0, 512},
		{1, 512},
		{511, 512},
		{512, 512},
		{513, 1024},
		{4000, 4096},
		{MiB - 512, MiB - 512},
		{MiB - 1, MiB},
		{MiB, 2 * MiB},
		{2*MiB - 1, 2 * MiB},
		{2 * MiB, 2 * MiB},
		{2*MiB + 1, 4 * MiB},
		{3 * MiB, 4 * MiB},
		{1610612736, 1610612736},
		{maxRequest, maxRequest},
	} {
		got, ok := RoundSize(c.n)
		if !ok || got != c.want {
			t.Errorf("RoundSize(%d) = %d, %v; want %d", c.n, got, ok, c.want)
		}
	}
	if _, ok := RoundSize(maxRequest + 1); ok {
		t.Errorf("RoundSize(%d): ok, want overflow", uint64(maxRequest+1))
	}
}

// TestRounding: the block Raw gives and Alloc hands out has the rounded size.
func TestRounding(t *testing.T) {
	for _, c := range []struct{ n, want uint64 }{{1, 512}, {1000, 1024}, {MiB, 2 * MiB}, {5*MiB + 3, 6 * MiB}} {
		a, raw, o := setup(t, Options{})
		b := alloc(t, a, o, c.n)
		if b.Size != c.want {
			t.Errorf("Alloc(%d).Size = %d, want %d", c.n, b.Size, c.want)
		}
		if ev := raw.log(); !slices.Equal(ev, []string{fmt.Sprintf("malloc %d", c.want)}) {
			t.Errorf("Alloc(%d): Raw saw %v", c.n, ev)
		}
	}
}

func TestZeroBytes(t *testing.T) {
	a, raw, o := setup(t, Options{})
	b1 := alloc(t, a, o, 0)
	b2 := alloc(t, a, o, 0)
	if b1.Size != 512 || b2.Size != 512 {
		t.Errorf("Alloc(0) sizes %d, %d; want 512", b1.Size, b2.Size)
	}
	if b1.Ptr == b2.Ptr {
		t.Errorf("two Alloc(0) share address %#x", b1.Ptr)
	}
	free(a, o, b1)
	b3 := alloc(t, a, o, 0)
	if b3 != b1 {
		t.Errorf("Alloc(0) after freeing %v got %v, want the cached block", b1, b3)
	}
	if raw.mallocs != 2 {
		t.Errorf("Raw.Malloc called %d times, want 2", raw.mallocs)
	}
}

// TestReuse: a freed block is handed out again, at once and without Raw or Sync.
func TestReuse(t *testing.T) {
	for _, n := range []uint64{100, 4096, 3 * MiB, 64 * MiB} {
		a, raw, o := setup(t, Options{})
		b := alloc(t, a, o, n)
		free(a, o, b)
		raw.log()
		b2 := alloc(t, a, o, n)
		if b2 != b {
			t.Errorf("Alloc(%d) after Free: %v, want the cached %v", n, b2, b)
		}
		if ev := raw.log(); len(ev) != 0 {
			t.Errorf("Alloc(%d) from the cache called %v", n, ev)
		}
		s := a.Stats()
		if s.Allocs != 2 || s.Hits != 1 || s.RawMallocs != 1 {
			t.Errorf("Alloc(%d): stats %+v, want 2 allocs, 1 hit, 1 Raw.Malloc", n, s)
		}
	}
}

// TestLastFreedFirst: among cached blocks of one size, the last freed is taken first.
func TestLastFreedFirst(t *testing.T) {
	a, _, o := setup(t, Options{})
	x, y := alloc(t, a, o, 4096), alloc(t, a, o, 4096)
	free(a, o, x)
	free(a, o, y)
	if b := alloc(t, a, o, 4096); b != y {
		t.Errorf("got %v, want the last freed %v", b, y)
	}
	if b := alloc(t, a, o, 4096); b != x {
		t.Errorf("got %v, want %v", b, x)
	}
}

// TestSmallExactClass: requests under 1 MiB reuse only blocks of their own size class.
func TestSmallExactClass(t *testing.T) {
	a, raw, o := setup(t, Options{})
	big := alloc(t, a, o, 1024)
	free(a, o, big)
	small := alloc(t, a, o, 512)
	if small.Ptr == big.Ptr || small.Size != 512 {
		t.Errorf("Alloc(512) = %v with a cached 1024-byte block %v: want a new 512-byte block", small, big)
	}
	mid := alloc(t, a, o, MiB-512) // the largest small class
	if mid.Size != MiB-512 {
		t.Errorf("Alloc(%d).Size = %d", MiB-512, mid.Size)
	}
	if raw.mallocs != 3 {
		t.Errorf("Raw.Malloc called %d times, want 3", raw.mallocs)
	}
	if b := alloc(t, a, o, 1000); b != big {
		t.Errorf("Alloc(1000) = %v, want the cached 1024-byte block %v", b, big)
	}
}

// TestLargeTwiceRule: a large request takes the smallest cached block that fits, of at most twice
// its rounded size.
func TestLargeTwiceRule(t *testing.T) {
	for _, c := range []struct {
		cached []uint64 // sizes of the cached blocks, freed in this order
		n      uint64
		want   uint64 // size of the block handed out; 0: a new one from Raw
	}{
		{[]uint64{8 * MiB}, 4 * MiB, 8 * MiB},   // exactly twice
		{[]uint64{8 * MiB}, 3 * MiB, 8 * MiB},   // rounds to 4 MiB: twice
		{[]uint64{8 * MiB}, 4*MiB - 1, 8 * MiB}, // rounds to 4 MiB too
		{[]uint64{8 * MiB}, 2 * MiB, 0},         // four times: not taken
		{[]uint64{8 * MiB}, MiB, 0},             // rounds to 2 MiB: four times
		{[]uint64{1 * GiB}, 4 * MiB, 0},         // a 4 MiB request does not pin 1 GiB
		{[]uint64{2 * MiB}, 4 * MiB, 0},         // too small
		{[]uint64{10 * MiB, 6 * MiB, 8 * MiB}, 5 * MiB, 6 * MiB},
		{[]uint64{10 * MiB, 8 * MiB}, 5 * MiB, 8 * MiB}, // smallest that fits
		{[]uint64{10 * MiB, 14 * MiB}, 5 * MiB, 10 * MiB},
		{[]uint64{14 * MiB, 16 * MiB}, 5 * MiB, 0}, // fit but are more than twice 6 MiB
		{[]uint64{512 * KiB}, MiB, 0},              // small blocks never serve large requests
		{[]uint64{MiB - 1}, MiB, 0},                // not even the largest small class
		{[]uint64{2 * MiB}, MiB - 1, 0},            // nor large blocks small requests
		{[]uint64{MiB - 1}, MiB - 1, MiB},          // MiB - 1 rounds to the small class of 1 MiB
	} {
		a, raw, o := setup(t, Options{})
		var cached []Block
		for _, n := range c.cached {
			cached = append(cached, alloc(t, a, o, n))
		}
		for _, b := range cached {
			free(a, o, b)
		}
		before := raw.mallocs
		b := alloc(t, a, o, c.n)
		fromRaw := raw.mallocs > before
		switch {
		case c.want == 0 && !fromRaw:
			t.Errorf("cached %v, Alloc(%d) took a cached block of %d bytes; want a new one", c.cached, c.n, b.Size)
		case c.want != 0 && (fromRaw || b.Size != c.want):
			t.Errorf("cached %v, Alloc(%d) = %d bytes (from Raw: %v); want the cached block of %d", c.cached, c.n, b.Size, fromRaw, c.want)
		}
		want, _ := RoundSize(c.n)
		if c.want != 0 {
			want = c.want
		}
		if s := a.Stats(); s.InUse != want {
			t.Errorf("cached %v, Alloc(%d): InUse %d, want %d", c.cached, c.n, s.InUse, want)
		}
	}
}

// TestLimitReleasesAndRetries: an allocation past the limit first returns the cache to Raw, after
// Sync, and then succeeds.
func TestLimitReleasesAndRetries(t *testing.T) {
	a, raw, o := setup(t, Options{Limit: 8 * MiB, Name: "device 0"})
	x := alloc(t, a, o, 4*MiB)
	y := alloc(t, a, o, 1000)
	free(a, o, x)
	free(a, o, y)
	raw.log()
	z := alloc(t, a, o, 6*MiB) // 4 MiB cached is too small, and 4 MiB + 6 MiB > 8 MiB
	ev := raw.log()
	want := []string{"sync", "free", "free", "malloc 6291456"}
	if len(ev) != len(want) {
		t.Fatalf("Raw and Sync saw %v, want %v", ev, want)
	}
	for i := range ev {
		if !strings.HasPrefix(ev[i], want[i]) {
			t.Fatalf("Raw and Sync saw %v, want %v (Sync before any Raw.Free)", ev, want)
		}
	}
	s := a.Stats()
	if s.Releases != 1 || s.RawFrees != 2 || s.Cached != 0 || s.InUse != 6*MiB || s.Held != 6*MiB || s.OutOfMemory != 0 {
		t.Errorf("stats %+v", s)
	}
	free(a, o, z)
	if err := a.Close(); err != nil {
		t.Error(err)
	}
	if raw.liveCount() != 0 {
		t.Errorf("%d blocks left with Raw after Close", raw.liveCount())
	}
}

// TestRawFailureReleasesAndRetries: when Raw.Malloc fails, the cache goes back to Raw and the
// allocation is tried again.
func TestRawFailureReleasesAndRetries(t *testing.T) {
	a, raw, o := setup(t, Options{})
	raw.capacity = 10 * MiB
	x := alloc(t, a, o, 6*MiB)
	free(a, o, x)
	raw.log()
	y := alloc(t, a, o, 8*MiB)
	if ev := raw.log(); !slices.Equal(ev, []string{"malloc 8388608 failed", "sync", "free 6291456", "malloc 8388608"}) {
		t.Errorf("events %v", ev)
	}
	free(a, o, y)
}

// TestOutOfMemoryError: the error's text, errors.Is and errors.As, Raw's error kept.
func TestOutOfMemoryError(t *testing.T) {
	devFree := func() (uint64, uint64, error) { return 820 * MiB, 32 * GiB, nil }

	t.Run("limit", func(t *testing.T) {
		a, raw, o := setup(t, Options{Limit: 15 * GiB, Name: "device 0", Free: devFree})
		keep := alloc(t, a, o, 14*GiB)
		raw.log()
		_, err := a.Alloc(1610612736)
		want := "devmem: device 0: out of memory: asked 1.50 GiB (1610612736 bytes); held 14.0 GiB (in use 14.0 GiB, cached 0.0 GiB); limit 15.0 GiB; device free 0.8 GiB of 32.0 GiB"
		if err == nil || err.Error() != want {
			t.Fatalf("error\n%v\nwant\n%s", err, want)
		}
		if !errors.Is(err, ErrOutOfMemory) {
			t.Errorf("errors.Is(%v, ErrOutOfMemory) is false", err)
		}
		var oom *OutOfMemoryError
		if !errors.As(err, &oom) || oom.Asked != 1610612736 || oom.Held != 14*GiB || oom.Err != nil {
			t.Errorf("errors.As: %+v", oom)
		}
		if ev := raw.log(); len(ev) != 0 {
			t.Errorf("with nothing cached, the failed Alloc called %v; want neither Raw nor Sync", ev)
		}
		if s := a.Stats(); s.OutOfMemory != 1 || s.Allocs != 1 || s.Held != 14*GiB {
			t.Errorf("stats %+v", s)
		}
		free(a, o, keep)
	})

	t.Run("raw", func(t *testing.T) {
		a, raw, o := setup(t, Options{Name: "device 3"})
		raw.capacity = 13 * MiB
		keep := alloc(t, a, o, 10*MiB)
		cached := alloc(t, a, o, 2*MiB) // too small for the request
		free(a, o, cached)
		raw.log()
		_, err := a.Alloc(2*MiB + 1)
		want := "devmem: device 3: out of memory: asked 2.00 MiB (2097153 bytes, rounded up to 4.00 MiB); held 10.0 MiB (in use 10.0 MiB, cached 0.0 MiB): " +
			"fake: out of device memory: 4194304 bytes asked, 10485760 of 13631488 in use"
		if err == nil || err.Error() != want {
			t.Fatalf("error\n%v\nwant\n%s", err, want)
		}
		if !errors.Is(err, ErrOutOfMemory) || !errors.Is(err, errFakeOOM) {
			t.Errorf("%v: does not match both ErrOutOfMemory and Raw's error", err)
		}
		if ev := raw.log(); !slices.Equal(ev, []string{"malloc 4194304 failed", "sync", "free 2097152", "malloc 4194304 failed"}) {
			t.Errorf("events %v: want a release between the two tries", ev)
		}
		free(a, o, keep)
	})

	t.Run("sync fails", func(t *testing.T) {
		a, raw, o := setup(t, Options{Limit: 15 * GiB, Name: "device 0", Free: devFree})
		keep := alloc(t, a, o, 14*GiB)
		cached := alloc(t, a, o, 205*MiB) // rounds to 206 MiB
		free(a, o, cached)
		syncErr := errors.New("stream failed")
		raw.syncErr = syncErr
		raw.log()
		_, err := a.Alloc(1610612736)
		want := "devmem: device 0: out of memory: asked 1.50 GiB (1610612736 bytes); held 14.2 GiB (in use 14.0 GiB, cached 0.2 GiB); limit 15.0 GiB; device free 0.8 GiB of 32.0 GiB; " +
			"the cache could not be released: devmem: device 0: releasing 206 MiB of cached blocks: waiting for the queued work: stream failed"
		if err == nil || err.Error() != want {
			t.Fatalf("error\n%v\nwant\n%s", err, want)
		}
		if !errors.Is(err, ErrOutOfMemory) || !errors.Is(err, syncErr) {
			t.Errorf("%v: does not match ErrOutOfMemory and the Sync error", err)
		}
		if ev := raw.log(); !slices.Equal(ev, []string{"sync"}) {
			t.Errorf("events %v: want a Sync and no Raw.Free after it failed", ev)
		}
		raw.syncErr = nil
		free(a, o, keep)
	})

	t.Run("too large", func(t *testing.T) {
		a, raw, _ := setup(t, Options{})
		_, err := a.Alloc(^uint64(0))
		if !errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), "larger than any memory") {
			t.Errorf("Alloc(max uint64): %v", err)
		}
		if raw.mallocs != 0 {
			t.Errorf("Raw.Malloc called for an impossible size")
		}
	})
}

// TestAllocAfterFailure: the allocator works after an out-of-memory error.
func TestAllocAfterFailure(t *testing.T) {
	a, _, o := setup(t, Options{Limit: 4 * MiB})
	keep := alloc(t, a, o, 3*MiB)
	if _, err := a.Alloc(3 * MiB); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("Alloc past the limit: %v", err)
	}
	free(a, o, keep)
	b := alloc(t, a, o, 3*MiB)
	if b != keep {
		t.Errorf("got %v, want the cached %v", b, keep)
	}
	free(a, o, b)
}

// TestBadRawPointer: an unaligned or null pointer from Raw is refused (and an unaligned one freed),
// not handed out, and is not an out-of-memory error.
func TestBadRawPointer(t *testing.T) {
	raw := newFake(t)
	raw.align = 16
	raw.next = 1<<32 + 16
	a := New(raw, Options{Name: "pinned host"})
	_, err := a.Alloc(100)
	if err == nil || errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), fmt.Sprintf("not %d-byte aligned", Align)) {
		t.Errorf("Alloc from an unaligned Raw: %v", err)
	}
	if raw.liveCount() != 0 {
		t.Errorf("the refused block was not given back to Raw")
	}
	if s := a.Stats(); s.Held != 0 || s.Allocs != 0 {
		t.Errorf("stats %+v", s)
	}

	a = New(nullRaw{}, Options{})
	if _, err := a.Alloc(100); err == nil || !strings.Contains(err.Error(), "null pointer") {
		t.Errorf("Alloc from a Raw returning 0: %v", err)
	}
}

type nullRaw struct{}

func (nullRaw) Malloc(uint64) (uintptr, error) { return 0, nil }
func (nullRaw) Free(uintptr) error             { return nil }

// TestRelease: Release syncs, then gives every cached block back, keeps those in use, and does
// nothing when nothing is cached.
func TestRelease(t *testing.T) {
	a, raw, o := setup(t, Options{})
	in := alloc(t, a, o, 4096)
	var bs []Block
	for _, n := range []uint64{512, 4096, 3 * MiB, 3 * MiB, 100 * MiB} {
		bs = append(bs, alloc(t, a, o, n))
	}
	for _, b := range bs {
		free(a, o, b)
	}
	raw.log()
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	ev := raw.log()
	if len(ev) != 6 || ev[0] != "sync" {
		t.Errorf("Release: events %v, want a sync then 5 frees", ev)
	}
	s := a.Stats()
	if s.Cached != 0 || s.Held != 4096 || s.InUse != 4096 || s.Releases != 1 || s.RawFrees != 5 {
		t.Errorf("after Release: %+v", s)
	}
	if err := a.Release(); err != nil || len(raw.log()) != 0 || a.Stats().Releases != 1 {
		t.Errorf("Release with an empty cache: %v; want nothing done", err)
	}
	// The cache works after a release: large blocks included.
	b := alloc(t, a, o, 3*MiB)
	free(a, o, b)
	if b2 := alloc(t, a, o, 3*MiB); b2 != b {
		t.Errorf("after Release: got %v, want the cached %v", b2, b)
	}
	free(a, o, in)
}

// TestReleaseRawFreeFails: a block Raw cannot free is dropped from the books and the error returned.
func TestReleaseRawFreeFails(t *testing.T) {
	a, raw, o := setup(t, Options{Name: "device 0"})
	b := alloc(t, a, o, 4096)
	free(a, o, b)
	raw.freeErr = errors.New("aclrtFree failed")
	err := a.Release()
	if err == nil || !errors.Is(err, raw.freeErr) || !strings.Contains(err.Error(), "devmem: device 0: freeing block") {
		t.Errorf("Release: %v", err)
	}
	if s := a.Stats(); s.Held != 0 || s.Cached != 0 {
		t.Errorf("stats %+v", s)
	}
	raw.freeErr = nil
	if b2 := alloc(t, a, o, 4096); b2 == b {
		t.Errorf("the block Raw failed to free was handed out again")
	}
}

// TestStats: the figures and the peaks after a sequence of calls.
func TestStats(t *testing.T) {
	a, _, o := setup(t, Options{})
	x := alloc(t, a, o, 1000)  // 1024
	y := alloc(t, a, o, 3*MiB) // 4 MiB
	free(a, o, x)
	z := alloc(t, a, o, 1024) // hit
	free(a, o, y)
	free(a, o, z)
	want := Stats{
		InUse: 0, Cached: 4*MiB + 1024, Held: 4*MiB + 1024,
		PeakInUse: 4*MiB + 1024, PeakHeld: 4*MiB + 1024,
		Allocs: 3, Hits: 1, RawMallocs: 2,
	}
	if s := a.Stats(); s != want {
		t.Errorf("stats\n%+v\nwant\n%+v", s, want)
	}
	a.ResetPeaks()
	w := alloc(t, a, o, 512)
	if s := a.Stats(); s.PeakInUse != 512 || s.PeakHeld != 4*MiB+1024+512 {
		t.Errorf("after ResetPeaks: %+v", s)
	}
	free(a, o, w)
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	want = Stats{PeakInUse: 512, PeakHeld: 4*MiB + 1536, Allocs: 4, Hits: 1, RawMallocs: 3, RawFrees: 3, Releases: 1}
	if s := a.Stats(); s != want {
		t.Errorf("stats\n%+v\nwant\n%+v", s, want)
	}
}

// TestClose: Close releases the cache; blocks still in use are an error that counts them.
func TestClose(t *testing.T) {
	a, raw, o := setup(t, Options{Name: "device 1"})
	free(a, o, alloc(t, a, o, 4096))
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if raw.liveCount() != 0 {
		t.Errorf("Close left %d blocks with Raw", raw.liveCount())
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	a, raw, o = setup(t, Options{Name: "device 1"})
	alloc(t, a, o, 1000)
	alloc(t, a, o, 3*MiB)
	free(a, o, alloc(t, a, o, 8*MiB))
	err := a.Close()
	want := "devmem: device 1: closed with 2 block(s) still in use (4.00 MiB, 4195328 bytes); free them before Close"
	if err == nil || err.Error() != want {
		t.Errorf("Close with leaks: %v\nwant %s", err, want)
	}
	if raw.liveCount() != 2 {
		t.Errorf("Close left %d blocks with Raw, want the 2 in use", raw.liveCount())
	}
}

// TestMisuse: the panics and their messages.
func TestMisuse(t *testing.T) {
	a, _, o := setup(t, Options{Name: "device 0"})
	b := alloc(t, a, o, 4096)
	free(a, o, b)
	otherRaw := newFake(t)
	otherRaw.next = 1 << 40
	other := New(otherRaw, Options{})
	ob, _ := other.Alloc(4096)
	c := alloc(t, a, o, 8192)
	closed, _, _ := setup(t, Options{Name: "device 2"})
	closed.Close()
	for _, m := range []struct {
		name string
		f    func()
		want string
	}{
		{"double free", func() { a.Free(b) }, "devmem: device 0: Free of block " + fmt.Sprintf("%#x", b.Ptr) + " (4096 bytes), which was freed already"},
		{"foreign", func() { a.Free(ob) }, "which this allocator did not hand out"},
		{"zero", func() { a.Free(Block{}) }, "Free of block 0x0 (0 bytes), which this allocator did not hand out"},
		{"wrong size", func() { a.Free(Block{Ptr: c.Ptr, Size: 4096}) }, "with size 4096; it was handed out with size 8192"},
		{"alloc after close", func() { closed.Alloc(1) }, "devmem: device 2: Alloc(1) after Close"},
		{"free after close", func() { closed.Free(c) }, "devmem: device 2: Free of block"},
	} {
		t.Run(m.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, m.want) {
					t.Errorf("panic %v, want one containing %q", r, m.want)
				}
			}()
			m.f()
		})
	}
	free(a, o, c)
	if s := a.Stats(); s.InUse != 0 || s.Cached != 4096+8192 {
		t.Errorf("the misuse changed the books: %+v", s)
	}
}

// TestConcurrent: goroutines allocate, free, release and read stats together; every block handed
// out is aligned, inside a Raw block and held by one owner, nothing is given to Raw while queued
// work may use it, and the books balance at the end. Run with -race.
func TestConcurrent(t *testing.T) {
	a, raw, o := setup(t, Options{Limit: 96 * MiB, Name: "device 0"})
	sizes := []uint64{0, 100, 512, 4096, 50000, MiB - 1, MiB, 3 * MiB, 6 * MiB, 9 * MiB}
	const workers, steps = 8, 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var allocs, ooms uint64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []Block
			var ok, failed uint64
			for range steps {
				switch r := rng.IntN(100); {
				case r < 50 && len(mine) < 6:
					n := sizes[rng.IntN(len(sizes))]
					b, err := a.Alloc(n)
					if err != nil {
						if !errors.Is(err, ErrOutOfMemory) {
							t.Errorf("Alloc(%d): %v", n, err)
							return
						}
						failed++
						continue
					}
					ok++
					o.got(b, n)
					mine = append(mine, b)
				case r < 95:
					if len(mine) > 0 {
						i := rng.IntN(len(mine))
						free(a, o, mine[i])
						mine = slices.Delete(mine, i, i+1)
					}
				case r < 97:
					if err := a.Release(); err != nil {
						t.Error(err)
					}
				default:
					if s := a.Stats(); s.Held != s.InUse+s.Cached || s.Held > 96*MiB {
						t.Errorf("stats %+v", s)
					}
				}
			}
			for _, b := range mine {
				free(a, o, b)
			}
			mu.Lock()
			allocs += ok
			ooms += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	s := a.Stats()
	if s.InUse != 0 || s.Held != s.Cached || s.Allocs != allocs || s.OutOfMemory != ooms || s.PeakHeld > 96*MiB {
		t.Errorf("stats %+v; %d allocations and %d out-of-memory errors seen", s, allocs, ooms)
	}
	if got := uint64(raw.liveCount()); got != s.RawMallocs-s.RawFrees {
		t.Errorf("Raw holds %d blocks, the books say %d", got, s.RawMallocs-s.RawFrees)
	}
	if s.Hits == 0 {
		t.Errorf("no cache hits in %d allocations", s.Allocs)
	}
	t.Logf("%+v", s)
	if err := a.Close(); err != nil {
		t.Error(err)
	}
	if raw.liveCount() != 0 {
		t.Errorf("Close left %d blocks with Raw", raw.liveCount())
	}
}

func TestFormatBytes(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{1023, "1023 B"},
		{1024, "1.00 KiB"},
		{1536, "1.50 KiB"},
		{100 * KiB, "100 KiB"},
		{10 * MiB, "10.0 MiB"},
		{1610612736, "1.50 GiB"},
		{15 * GiB, "15.0 GiB"},
		{14*GiB + 206*MiB, "14.2 GiB"},
		{3 << 40, "3.00 TiB"},
		{^uint64(0), "16.0 EiB"},
	} {
		if got := FormatBytes(c.n); got != c.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		ns   []uint64
		want []string
	}{
		{[]uint64{14*GiB + 206*MiB, 14 * GiB, 206 * MiB}, []string{"14.2 GiB", "14.0 GiB", "0.2 GiB"}},
		{[]uint64{32 * GiB, 820 * MiB}, []string{"32.0 GiB", "0.8 GiB"}},
		{[]uint64{32 * GiB, 2 * MiB}, []string{"32.0 GiB", "<0.1 GiB"}},
		{[]uint64{2 * GiB, 0}, []string{"2.00 GiB", "0.00 GiB"}},
		{[]uint64{1000, 24}, []string{"1000 B", "24 B"}},
	} {
		if got := formatGroup(c.ns...); !slices.Equal(got, c.want) {
			t.Errorf("formatGroup(%v) = %q, want %q", c.ns, got, c.want)
		}
	}
}

// discardRaw hands out distinct aligned addresses and frees nothing, for benchmarks.
type discardRaw struct {
	mu   sync.Mutex
	next uintptr
}

func (r *discardRaw) Malloc(n uint64) (uintptr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next += uintptr(n+4095) &^ 4095
	return r.next, nil
}
func (r *discardRaw) Free(uintptr) error { return nil }

// BenchmarkAllocFreeHit: one Alloc and one Free served by the cache, small and large, with other
// sizes cached alongside.
func BenchmarkAllocFreeHit(b *testing.B) {
	for _, n := range []uint64{4096, 24 * MiB} {
		b.Run(FormatBytes(n), func(b *testing.B) {
			a := New(&discardRaw{}, Options{})
			var others []Block
			for i := range uint64(64) {
				x, _ := a.Alloc(n/2 + i*LargeRound)
				others = append(others, x)
			}
			for _, x := range others {
				a.Free(x)
			}
			blk, _ := a.Alloc(n)
			a.Free(blk)
			b.ReportAllocs()
			for b.Loop() {
				x, err := a.Alloc(n)
				if err != nil {
					b.Fatal(err)
				}
				a.Free(x)
			}
			if s := a.Stats(); s.Hits < uint64(b.N) {
				b.Fatalf("%d hits in %d iterations", s.Hits, b.N)
			}
		})
	}
}

// BenchmarkAllocFreeHitParallel: the same from every P, through the one mutex.
func BenchmarkAllocFreeHitParallel(b *testing.B) {
	a := New(&discardRaw{}, Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			x, err := a.Alloc(4096)
			if err != nil {
				b.Error(err)
				return
			}
			a.Free(x)
		}
	})
}
