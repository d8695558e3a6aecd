package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSet is a data set whose sample i holds i in its first value and draws from the
// augmentation generator into the others, so tests can see which sample went where and with
// which draws.
type fakeSet struct {
	n     int
	bad   map[int]bool // samples whose Load fails
	panic map[int]bool // samples whose Load panics
	loads atomic.Int64
	delay time.Duration
}

func (s *fakeSet) Len() int             { return s.n }
func (s *fakeSet) Classes() []string    { return []string{"a", "b", "c", "d", "e", "f", "g"} }
func (s *fakeSet) Shape() (c, h, w int) { return 1, 1, 3 }
func (s *fakeSet) Label(i int) int      { return i % 7 }
func (s *fakeSet) Name(i int) string    { return fmt.Sprintf("fake[%d]", i) }
func (s *fakeSet) Load(i int, rng *rand.Rand, dst []float32) error {
	s.loads.Add(1)
	time.Sleep(s.delay)
	if s.bad[i] {
		return errors.New("unreadable")
	}
	if s.panic[i] {
		panic("decoder bug")
	}
	dst[0] = float32(i)
	dst[1] = rng.Float32()
	dst[2] = rng.Float32()
	return nil
}

// epoch collects the batches of one epoch as copies.
func epoch(t *testing.T, l *Loader, e, skip int) []Batch {
	t.Helper()
	it := l.Epoch(e, skip)
	defer it.Close()
	var out []Batch
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		out = append(out, Batch{X: slices.Clone(b.X), Labels: slices.Clone(b.Labels), N: b.N, Index: b.Index})
		l.Release(b)
	}
	if err := it.Err(); err != nil {
		t.Fatalf("epoch %d: %v", e, err)
	}
	return out
}

// samples lists the sample indices of batches made from a fakeSet.
func samples(bs []Batch) []int {
	var out []int
	for _, b := range bs {
		for j := range b.N {
			out = append(out, int(b.X[3*j]))
			if int(b.Labels[j]) != int(b.X[3*j])%7 {
				panic(fmt.Sprintf("label %d for sample %v", b.Labels[j], b.X[3*j]))
			}
		}
	}
	return out
}

func newLoader(t *testing.T, ds Dataset, o LoaderOptions) *Loader {
	t.Helper()
	l, err := NewLoader(ds, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLoaderEverySampleOnce(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		l := newLoader(t, &fakeSet{n: 103}, LoaderOptions{BatchSize: 10, Shuffle: shuffle, Seed: 1, Workers: 3})
		if l.StepsPerEpoch() != 11 || l.Len() != 103 {
			t.Fatalf("steps %d, len %d; want 11 and 103", l.StepsPerEpoch(), l.Len())
		}
		bs := epoch(t, l, 0, 0)
		if len(bs) != 11 || bs[10].N != 3 || len(bs[10].X) != 9 || len(bs[10].Labels) != 3 {
			t.Fatalf("shuffle %v: %d batches, the last of %d", shuffle, len(bs), bs[len(bs)-1].N)
		}
		for k, b := range bs {
			if b.Index != k {
				t.Errorf("batch %d has index %d", k, b.Index)
			}
		}
		got := samples(bs)
		if shuffle == slices.IsSorted(got) {
			t.Errorf("shuffle %v: order sorted %v", shuffle, slices.IsSorted(got))
		}
		slices.Sort(got)
		for i, v := range got {
			if v != i {
				t.Fatalf("shuffle %v: samples %v, want each of 0..102 once", shuffle, got)
			}
		}
	}
}

func TestLoaderDropRemainder(t *testing.T) {
	l := newLoader(t, &fakeSet{n: 103}, LoaderOptions{BatchSize: 10, Shuffle: true, DropRemainder: true, Seed: 2})
	bs := epoch(t, l, 0, 0)
	if l.StepsPerEpoch() != 10 || len(bs) != 10 {
		t.Fatalf("steps %d, %d batches; want 10", l.StepsPerEpoch(), len(bs))
	}
	got := samples(bs)
	seen := map[int]bool{}
	for _, v := range got {
		seen[v] = true
	}
	if len(got) != 100 || len(seen) != 100 {
		t.Errorf("%d samples, %d distinct; want 100 and 100", len(got), len(seen))
	}
}

func TestLoaderShards(t *testing.T) {
	const n, size = 103, 4
	full := samples(epoch(t, newLoader(t, &fakeSet{n: n}, LoaderOptions{BatchSize: 5, Shuffle: true, Seed: 3}), 2, 0))
	count := map[int]int{}
	steps := -1
	for r := range size {
		l := newLoader(t, &fakeSet{n: n}, LoaderOptions{BatchSize: 5, Shuffle: true, Seed: 3, Rank: r, Size: size})
		if l.Len() != 26 {
			t.Fatalf("rank %d: %d samples, want 26", r, l.Len())
		}
		if steps != -1 && l.StepsPerEpoch() != steps {
			t.Errorf("rank %d has %d steps, rank 0 %d", r, l.StepsPerEpoch(), steps)
		}
		steps = l.StepsPerEpoch()
		got := samples(epoch(t, l, 2, 0))
		for k, v := range got {
			// Rank r takes positions r, r+4, ... of the epoch's order, padded from its start.
			if want := full[(r+k*size)%n]; v != want {
				t.Fatalf("rank %d position %d: sample %d, want %d", r, k, v, want)
			}
			count[v]++
		}
	}
	if len(count) != n {
		t.Errorf("the shards cover %d of %d samples", len(count), n)
	}
	for v, c := range count {
		if c != 1 && !(c == 2 && v == full[0]) {
			t.Errorf("sample %d is in %d shards (only the padding, the order's first sample %d, may repeat)", v, c, full[0])
		}
	}
}

// TestLoaderUnevenShards: evaluation's shards take every sample once, without padding, and a rank
// past the end of a small set gets none.
func TestLoaderUnevenShards(t *testing.T) {
	for _, tc := range []struct{ n, size int }{{103, 4}, {3, 5}} {
		count := map[int]int{}
		for r := range tc.size {
			l := newLoader(t, &fakeSet{n: tc.n}, LoaderOptions{BatchSize: 5, Rank: r, Size: tc.size, Uneven: true})
			want := (tc.n - r + tc.size - 1) / tc.size
			if l.Len() != want {
				t.Fatalf("%d samples over %d: rank %d has %d, want %d", tc.n, tc.size, r, l.Len(), want)
			}
			for k, v := range samples(epoch(t, l, 0, 0)) {
				if v != r+k*tc.size {
					t.Fatalf("%d samples over %d: rank %d position %d: sample %d, want %d", tc.n, tc.size, r, k, v, r+k*tc.size)
				}
				count[v]++
			}
		}
		if len(count) != tc.n {
			t.Errorf("%d samples over %d: the shards cover %d", tc.n, tc.size, len(count))
		}
		for v, c := range count {
			if c != 1 {
				t.Errorf("%d samples over %d: sample %d taken %d times", tc.n, tc.size, v, c)
			}
		}
	}
}

func TestLoaderDeterministicAcrossWorkers(t *testing.T) {
	run := func(workers, e int) []Batch {
		// A slow Load makes the workers take turns.
		l := newLoader(t, &fakeSet{n: 57, delay: 100 * time.Microsecond}, LoaderOptions{BatchSize: 8, Shuffle: true, Seed: 9, Workers: workers, Prefetch: 1})
		return epoch(t, l, e, 0)
	}
	one, four := run(1, 0), run(4, 0)
	if !sameBatches(one, four) {
		t.Error("1 and 4 workers gave different batches")
	}
	if other := run(4, 1); slices.Equal(samples(one), samples(other)) {
		t.Error("epochs 0 and 1 have the same order")
	}
	l := newLoader(t, &fakeSet{n: 57}, LoaderOptions{BatchSize: 8, Shuffle: true, Seed: 10, Workers: 2})
	if slices.Equal(samples(one), samples(epoch(t, l, 0, 0))) {
		t.Error("seeds 9 and 10 give the same order")
	}
}

func sameBatches(a, b []Batch) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k].N != b[k].N || a[k].Index != b[k].Index || !slices.Equal(a[k].X, b[k].X) || !slices.Equal(a[k].Labels, b[k].Labels) {
			return false
		}
	}
	return true
}

func TestLoaderSkipResumes(t *testing.T) {
	l := newLoader(t, &fakeSet{n: 50}, LoaderOptions{BatchSize: 4, Shuffle: true, Seed: 4, Workers: 3})
	whole := epoch(t, l, 5, 0)
	resumed := epoch(t, l, 5, 6)
	if !sameBatches(whole[6:], resumed) {
		t.Error("resuming at batch 6 gives other batches than an uninterrupted epoch")
	}
	if len(epoch(t, l, 5, 13)) != 0 || len(epoch(t, l, 5, 99)) != 0 {
		t.Error("skipping the whole epoch still gave batches")
	}
}

func TestLoaderNumSamples(t *testing.T) {
	l := newLoader(t, &fakeSet{n: 100}, LoaderOptions{BatchSize: 7, Shuffle: true, Seed: 5, NumSamples: 30})
	if l.Len() != 30 || l.StepsPerEpoch() != 5 {
		t.Fatalf("len %d, steps %d; want 30 and 5", l.Len(), l.StepsPerEpoch())
	}
	full := samples(epoch(t, newLoader(t, &fakeSet{n: 100}, LoaderOptions{BatchSize: 7, Shuffle: true, Seed: 5}), 1, 0))
	if got := samples(epoch(t, l, 1, 0)); !slices.Equal(got, full[:30]) {
		t.Errorf("num_samples 30 gave %v, want the first 30 of the epoch's order %v", got, full[:30])
	}
	if l := newLoader(t, &fakeSet{n: 10}, LoaderOptions{BatchSize: 3, NumSamples: 50}); l.Len() != 10 {
		t.Errorf("num_samples above the set size: len %d, want 10", l.Len())
	}
}

func TestLoaderErrors(t *testing.T) {
	cases := []struct {
		n    int
		o    LoaderOptions
		want string
	}{
		{10, LoaderOptions{BatchSize: 0}, "batch_size 0"},
		{0, LoaderOptions{BatchSize: 1}, "empty"},
		{10, LoaderOptions{BatchSize: 11, DropRemainder: true}, "10 samples: no full batch of batch_size 11, and drop_remainder"},
		{10, LoaderOptions{BatchSize: 4, Rank: 1, Size: 4}, "3 per rank over 4 ranks: no full batch of batch_size 4, and the set is sharded"},
		{10, LoaderOptions{BatchSize: 5, NumSamples: 4, DropRemainder: true}, "4 taken (num_samples)"},
		{10, LoaderOptions{BatchSize: 1, Rank: 4, Size: 4}, "rank 4"},
		{10, LoaderOptions{BatchSize: 1, NumSamples: -1}, "num_samples"},
		{10, LoaderOptions{BatchSize: 1, Workers: -1}, "num_parallel_workers"},
	}
	for _, c := range cases {
		if _, err := NewLoader(&fakeSet{n: c.n}, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error containing %q", c.o, err, c.want)
		}
	}
	// Without sharding or drop_remainder, a set smaller than a batch is one partial batch.
	if l := newLoader(t, &fakeSet{n: 3}, LoaderOptions{BatchSize: 8}); l.StepsPerEpoch() != 1 {
		t.Errorf("3 samples at batch 8: %d steps, want 1", l.StepsPerEpoch())
	}
}

func TestLoaderUnreadable(t *testing.T) {
	set := &fakeSet{n: 20, bad: map[int]bool{3: true, 4: true, 11: true}, panic: map[int]bool{15: true}}
	var mu sync.Mutex
	var names []string
	o := LoaderOptions{BatchSize: 5, Seed: 6, Workers: 3, OnSkip: func(name string, err error) {
		mu.Lock()
		defer mu.Unlock()
		names = append(names, name)
	}}
	l := newLoader(t, set, o)
	bs := epoch(t, l, 0, 0)
	// Unshuffled: 3 and 4 become 5, 11 becomes 12, 15 becomes 16.
	want := []int{0, 1, 2, 5, 5, 5, 6, 7, 8, 9, 10, 12, 12, 13, 14, 16, 16, 17, 18, 19}
	if got := samples(bs); !slices.Equal(got, want) {
		t.Errorf("got samples %v, want %v", got, want)
	}
	if l.Skipped() != 4 {
		t.Errorf("skipped %d, want 4", l.Skipped())
	}
	epoch(t, l, 1, 0)
	if l.Skipped() != 8 {
		t.Errorf("after two epochs skipped %d, want 8", l.Skipped())
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"fake[11]", "fake[15]", "fake[3]", "fake[4]"}) {
		t.Errorf("OnSkip reported %v, want each unreadable sample once", names)
	}
	// The replacement's augmentation is the slot's, whichever worker makes it.
	o.Workers = 1
	if !sameBatches(bs, epoch(t, newLoader(t, set, o), 0, 0)) {
		t.Error("1 and 3 workers differ around unreadable samples")
	}
	// Nothing readable: the epoch ends with an error instead of hanging.
	all := &fakeSet{n: 6, bad: map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 5: true}}
	it := newLoader(t, all, LoaderOptions{BatchSize: 2, Workers: 2}).Epoch(0, 0)
	defer it.Close()
	if _, ok := it.Next(); ok || it.Err() == nil || !strings.Contains(it.Err().Error(), "6 samples in a row") {
		t.Errorf("an unreadable set: ok %v, err %v", ok, it.Err())
	}
}

func TestLoaderCloseStopsWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	set := &fakeSet{n: 1000, delay: time.Millisecond}
	l := newLoader(t, set, LoaderOptions{BatchSize: 4, Shuffle: true, Workers: 4, Prefetch: 2})
	it := l.Epoch(0, 0)
	b, ok := it.Next()
	if !ok || b.N != 4 {
		t.Fatal("no first batch")
	}
	if b.Wait <= 0 {
		t.Errorf("the first batch waited %v", b.Wait)
	}
	l.Release(b)
	it.Close()
	it.Close()
	if _, ok := it.Next(); ok {
		t.Error("Next after Close gave a batch")
	}
	// A worker has finished when Close returns; its goroutine may take a moment to be gone.
	if after := settle(before); after > before {
		t.Errorf("%d goroutines after Close, %d before", after, before)
	}
	// At the end of an epoch the workers have returned by themselves.
	small := newLoader(t, &fakeSet{n: 9}, LoaderOptions{BatchSize: 2, Workers: 4})
	it = small.Epoch(0, 0)
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		small.Release(b)
	}
	if after := settle(before); after > before {
		t.Errorf("%d goroutines after the end of an epoch, %d before", after, before)
	}
	it.Close()
}

// settle waits up to two seconds for the number of goroutines to fall to want and returns it.
func settle(want int) int {
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return runtime.NumGoroutine()
}

func TestLoaderBoundedAhead(t *testing.T) {
	set := &fakeSet{n: 1000}
	l := newLoader(t, set, LoaderOptions{BatchSize: 4, Workers: 2, Prefetch: 1})
	it := l.Epoch(0, 0)
	defer it.Close()
	// Workers+Prefetch = 3 batches of 4 at most are made before the consumer takes any.
	loaded := func(want int64) int64 {
		deadline := time.Now().Add(2 * time.Second)
		for set.loads.Load() < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // time to overshoot, if it would
		return set.loads.Load()
	}
	if n := loaded(12); n != 12 {
		t.Errorf("%d samples loaded ahead of the consumer, want 12", n)
	}
	b, _ := it.Next()
	l.Release(b)
	if n := loaded(16); n != 16 {
		t.Errorf("%d samples loaded after one batch taken, want 16", n)
	}
}

func TestLoaderReusesBuffers(t *testing.T) {
	l := newLoader(t, &fakeSet{n: 40}, LoaderOptions{BatchSize: 4, Workers: 1, Prefetch: 1})
	seen := map[*float32]bool{}
	it := l.Epoch(0, 0)
	defer it.Close()
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		seen[&b.X[0]] = true
		l.Release(b)
	}
	// One worker and one batch ahead: two or three buffers serve the ten batches.
	if len(seen) > 3 {
		t.Errorf("%d distinct buffers for 10 batches", len(seen))
	}
}

// countingBuffers is a Buffers that counts its calls and checks that the loader writes a buffer
// only after Reuse.
type countingBuffers struct {
	mu                   sync.Mutex
	allocs, reuses, free int
	live                 map[*float32]bool
}

func (c *countingBuffers) Alloc(n int) ([]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.allocs++
	x := make([]float32, n)
	c.live[&x[0]] = true
	return x, nil
}

func (c *countingBuffers) Reuse(buf []float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reuses++
	if !c.live[&buf[0]] {
		return fmt.Errorf("Reuse of a buffer not from Alloc")
	}
	return nil
}

func (c *countingBuffers) Free(buf []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.free++
	delete(c.live, &buf[0])
}

// Batch buffers come from Buffers, are waited on before reuse, and all go back at Close.
func TestLoaderBuffers(t *testing.T) {
	bufs := &countingBuffers{live: map[*float32]bool{}}
	l, err := NewLoader(&fakeSet{n: 40}, LoaderOptions{BatchSize: 4, Workers: 2, Prefetch: 1, Buffers: bufs})
	if err != nil {
		t.Fatal(err)
	}
	for epoch := range 2 {
		it := l.Epoch(epoch, 0)
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			l.Release(b)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		it.Close()
	}
	l.Close()
	if bufs.allocs > 2+1+2 || bufs.allocs+bufs.reuses != 20 || bufs.free != bufs.allocs || len(bufs.live) != 0 {
		t.Errorf("%d allocations, %d reuses, %d frees for 20 batches (%d still live)", bufs.allocs, bufs.reuses, bufs.free, len(bufs.live))
	}
	failing := &failingBuffers{}
	l, err = NewLoader(&fakeSet{n: 8}, LoaderOptions{BatchSize: 4, Buffers: failing})
	if err != nil {
		t.Fatal(err)
	}
	it := l.Epoch(0, 0)
	if _, ok := it.Next(); ok || it.Err() == nil || !strings.Contains(it.Err().Error(), "no pinned memory") {
		t.Errorf("a failing Alloc: %v", it.Err())
	}
	it.Close()
}

type failingBuffers struct{}

func (failingBuffers) Alloc(int) ([]float32, error) { return nil, fmt.Errorf("no pinned memory left") }
func (failingBuffers) Reuse([]float32) error        { return nil }
func (failingBuffers) Free([]float32)               {}
