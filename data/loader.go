package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// LoaderOptions configure a Loader; the fields follow MindCV's config keys.
type LoaderOptions struct {
	// BatchSize is the number of samples per batch (batch_size), at least 1.
	BatchSize int
	// Shuffle draws a new order of the samples each epoch.
	Shuffle bool
	// DropRemainder leaves out the last batch of an epoch when it is not full.
	DropRemainder bool
	// Seed chooses the orders and the augmentation.
	Seed uint64
	// NumSamples keeps only the first NumSamples of each epoch's order (num_samples); 0 keeps all.
	NumSamples int
	// Workers is the number of goroutines decoding (num_parallel_workers); 0 means 1.
	Workers int
	// Prefetch is the number of batches made ready ahead of the consumer; 0 means 2. The loader
	// holds at most Workers+Prefetch batches that the consumer has not taken.
	Prefetch int
	// Rank and Size shard the set as PyTorch's DistributedSampler: each epoch's order is padded,
	// repeating from its start, to a multiple of Size, and rank r takes positions r, r+Size, ...
	// Size 0 or 1 means no sharding.
	Rank, Size int
	// Uneven shards without padding: rank r takes the positions r, r+Size, ... of the order that
	// exist, so every sample is taken once and the ranks' shares differ by at most one (a rank may
	// have none). It is for evaluation, whose counts the ranks sum; training needs even shards, so
	// that every rank takes the same number of steps.
	Uneven bool
	// OnSkip is called once for each unreadable sample (the first time it fails), with its name
	// and the error. Calls come from the loader's goroutines, one at a time.
	OnSkip func(name string, err error)
	// Buffers supplies the batches' sample buffers (pinned host memory for a device backend);
	// nil allocates them on the Go heap.
	Buffers Buffers
}

// Buffers supplies batch buffers from memory of the caller's choosing: pinned host memory, from
// which a device backend copies without staging.
type Buffers interface {
	// Alloc returns a buffer of n values.
	Alloc(n int) ([]float32, error)
	// Reuse waits until buf, handed back by Release, may be written again (a copy out of it may
	// still be queued). It is called from the loader's goroutines.
	Reuse(buf []float32) error
	// Free releases buf; the loader no longer uses it.
	Free(buf []float32)
}

// errStopped tells a worker that its iterator was closed.
var errStopped = errors.New("data loader: the iterator was closed")

// maxSkipRun bounds how many unreadable samples in a row a batch slot looks past before the
// epoch stops with an error.
const maxSkipRun = 1000

// Loader turns a Dataset into batches: shuffled per epoch, sharded, decoded by several
// goroutines, delivered in order. The batches of an epoch, augmentation included, depend only on
// the seed and the epoch number, not on the number of workers.
//
// An unreadable sample is reported (OnSkip), counted (Skipped) and replaced by the next readable
// one in the epoch's order, so every batch keeps its size.
type Loader struct {
	ds       Dataset
	o        LoaderOptions
	n        int // samples in the set
	m        int // samples per epoch, before sharding
	shards   int
	perRank  int
	steps    int
	chw      int
	inFlight int
	pool     chan *Batch
	skipped  atomic.Int64
	skipMu   sync.Mutex
	reported map[int]bool
	idle     chan Worker // workers of finished epochs, for the next
}

// Batch is a batch of samples, CHW each, with their labels.
type Batch struct {
	// X holds the N samples, N*C*H*W values.
	X []float32
	// Labels holds the N labels.
	Labels []int32
	// N is the number of samples: BatchSize, or fewer in the last batch of an epoch.
	N int
	// Index is the batch number within the epoch.
	Index int
	// Wait is how long Next blocked for this batch.
	Wait time.Duration
}

// NewLoader returns a loader of ds. It fails when the batch size is below 1, the set is empty,
// the shard is out of range, or a sharded or drop_remainder run would have no full batch.
func NewLoader(ds Dataset, o LoaderOptions) (*Loader, error) {
	if ds == nil {
		return nil, fmt.Errorf("data loader: no data set")
	}
	switch {
	case o.BatchSize < 1:
		return nil, fmt.Errorf("data loader: batch_size %d: want at least 1", o.BatchSize)
	case o.NumSamples < 0:
		return nil, fmt.Errorf("data loader: num_samples %d: want 0 (all) or more", o.NumSamples)
	case o.Workers < 0:
		return nil, fmt.Errorf("data loader: num_parallel_workers %d: want 0 or more", o.Workers)
	case o.Prefetch < 0:
		return nil, fmt.Errorf("data loader: prefetch %d: want 0 or more batches", o.Prefetch)
	case o.Size < 0:
		return nil, fmt.Errorf("data loader: %d shards (the device count): want 0 or more", o.Size)
	}
	l := &Loader{ds: ds, o: o, n: ds.Len(), shards: max(o.Size, 1), reported: map[int]bool{}}
	if o.Rank < 0 || o.Rank >= l.shards {
		return nil, fmt.Errorf("data loader: rank %d is outside 0..%d for %d shards", o.Rank, l.shards-1, l.shards)
	}
	if l.n < 1 {
		return nil, fmt.Errorf("data loader: the data set is empty")
	}
	c, h, w := ds.Shape()
	if c < 1 || h < 1 || w < 1 {
		return nil, fmt.Errorf("data loader: samples of shape %dx%dx%d", c, h, w)
	}
	l.chw = c * h * w
	l.m = l.n
	if o.NumSamples > 0 {
		l.m = min(o.NumSamples, l.n)
	}
	l.perRank = (l.m + l.shards - 1) / l.shards
	if o.Uneven {
		l.perRank = (l.m - o.Rank + l.shards - 1) / l.shards
	}
	sizes := func() string {
		s := fmt.Sprintf("%d samples", l.n)
		if l.m != l.n {
			s += fmt.Sprintf(", %d taken (num_samples)", l.m)
		}
		if l.shards > 1 {
			s += fmt.Sprintf(", %d per rank over %d ranks", l.perRank, l.shards)
		}
		return s
	}
	if l.perRank < o.BatchSize && (o.DropRemainder || l.shards > 1 && !o.Uneven) {
		why := "drop_remainder is set"
		if !o.DropRemainder {
			why = "the set is sharded"
		}
		return nil, fmt.Errorf("data loader: %s: no full batch of batch_size %d, and %s: lower batch_size or use a larger set", sizes(), o.BatchSize, why)
	}
	l.steps = (l.perRank + o.BatchSize - 1) / o.BatchSize
	if o.DropRemainder {
		l.steps = l.perRank / o.BatchSize
	}
	workers := max(o.Workers, 1)
	prefetch := o.Prefetch
	if prefetch == 0 {
		prefetch = 2
	}
	l.inFlight = workers + prefetch
	l.pool = make(chan *Batch, l.inFlight+2)
	l.idle = make(chan Worker, workers)
	return l, nil
}

// sampleLoader loads samples: a Dataset, or one goroutine's Worker of it.
type sampleLoader interface {
	Load(i int, rng *rand.Rand, dst []float32) error
}

// worker returns a loader of samples for one goroutine: an idle Worker, a new one when the set
// is a WorkerSource, else the set itself.
func (l *Loader) worker() sampleLoader {
	ws, ok := l.ds.(WorkerSource)
	if !ok {
		return l.ds
	}
	select {
	case w := <-l.idle:
		return w
	default:
	}
	w, err := ws.NewWorker()
	if err != nil {
		return l.ds // each sample then reports the error, or loads by the set's own path
	}
	return w
}

// putWorker keeps a goroutine's Worker for the next epoch.
func (l *Loader) putWorker(s sampleLoader) {
	w, ok := s.(Worker)
	if !ok {
		return
	}
	select {
	case l.idle <- w:
	default:
		w.Close()
	}
}

// Close releases the workers the loader keeps between epochs (their decoders) and the batch
// buffers it holds (to Buffers). Call it when the loader is no longer used, after closing its
// iterators and releasing its batches.
func (l *Loader) Close() {
	for {
		select {
		case w := <-l.idle:
			w.Close()
		case b := <-l.pool:
			l.freeBatch(b)
		default:
			return
		}
	}
}

// StepsPerEpoch is the number of batches in an epoch.
func (l *Loader) StepsPerEpoch() int { return l.steps }

// Len is the number of samples per epoch for this rank (after num_samples and sharding; a last
// partial batch dropped by drop_remainder included).
func (l *Loader) Len() int { return l.perRank }

// Skipped is the number of unreadable samples skipped since NewLoader (a sample that fails in
// several epochs counts once in each).
func (l *Loader) Skipped() int64 { return l.skipped.Load() }

// Release hands the buffers of b back to the loader for reuse. b must not be used after.
func (l *Loader) Release(b *Batch) {
	if b == nil || cap(b.X) != l.o.BatchSize*l.chw || cap(b.Labels) != l.o.BatchSize {
		return
	}
	b.X, b.Labels = b.X[:cap(b.X)], b.Labels[:cap(b.Labels)]
	select {
	case l.pool <- b:
	default:
		l.freeBatch(b)
	}
}

// newBatch returns a free batch buffer: a released one, once Buffers says it may be written, or a
// new one.
func (l *Loader) newBatch() (*Batch, error) {
	select {
	case b := <-l.pool:
		if l.o.Buffers != nil {
			if err := l.o.Buffers.Reuse(b.X); err != nil {
				l.freeBatch(b)
				return nil, fmt.Errorf("data loader: batch buffer: %w", err)
			}
		}
		return b, nil
	default:
	}
	n := l.o.BatchSize * l.chw
	if l.o.Buffers == nil {
		return &Batch{X: make([]float32, n), Labels: make([]int32, l.o.BatchSize)}, nil
	}
	x, err := l.o.Buffers.Alloc(n)
	if err != nil {
		return nil, fmt.Errorf("data loader: batch buffer of %d values: %w", n, err)
	}
	return &Batch{X: x, Labels: make([]int32, l.o.BatchSize)}, nil
}

// freeBatch gives b's sample buffer back to Buffers.
func (l *Loader) freeBatch(b *Batch) {
	if l.o.Buffers != nil && b.X != nil {
		l.o.Buffers.Free(b.X[:cap(b.X)])
		b.X = nil
	}
}

// splitmix64 is a bijective mixer of 64-bit values (Steele et al.'s SplitMix64 finaliser).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// orderSeeds seed the generator of an epoch's order.
func (l *Loader) orderSeeds(epoch int) (uint64, uint64) {
	return splitmix64(l.o.Seed ^ 0x5851f42d4c957f2d), splitmix64(uint64(epoch) ^ 0x14057b7ef767814f)
}

// sampleSeeds seed the augmentation of the sample at position pos of an epoch's (padded) order.
func (l *Loader) sampleSeeds(epoch, pos int) (uint64, uint64) {
	e := splitmix64(l.o.Seed + 0x9e3779b97f4a7c15*uint64(epoch+1))
	return splitmix64(e ^ uint64(pos)), splitmix64(uint64(pos) ^ 0xd1b54a32d192ed03)
}

// order returns this rank's samples of an epoch, in order.
func (l *Loader) order(epoch int) []int32 {
	all := make([]int32, l.n)
	for i := range all {
		all[i] = int32(i)
	}
	if l.o.Shuffle {
		rng := rand.New(rand.NewPCG(l.orderSeeds(epoch)))
		rng.Shuffle(l.n, func(i, j int) { all[i], all[j] = all[j], all[i] })
	}
	all = all[:l.m]
	if l.shards == 1 {
		return all
	}
	mine := make([]int32, l.perRank)
	for k := range mine {
		mine[k] = all[(l.o.Rank+k*l.shards)%l.m]
	}
	return mine
}

// skip records that sample i failed to load.
func (l *Loader) skip(i int, err error, count bool) {
	if count {
		l.skipped.Add(1)
	}
	l.skipMu.Lock()
	defer l.skipMu.Unlock()
	if l.reported[i] {
		return
	}
	l.reported[i] = true
	if l.o.OnSkip != nil {
		l.o.OnSkip(l.ds.Name(i), err)
	}
}

// Iter delivers the batches of one epoch. Next is for one goroutine; Close may be called from
// any, and must be called to stop the workers of an epoch that is left before its end.
type Iter struct {
	l       *Loader
	epoch   int
	order   []int32
	next    int
	claimed atomic.Int64
	tokens  chan struct{}
	slots   []chan result
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	err     error
}

// result is a finished batch, or why it could not be made.
type result struct {
	b   *Batch
	err error
}

// Epoch starts delivering the batches of epoch (0-based) from batch skip on (a resumed run skips
// the batches it already trained on). The order and the augmentation depend only on the seed and
// epoch: the same seed gives the same batches on any number of workers.
func (l *Loader) Epoch(epoch, skip int) *Iter {
	skip = min(max(skip, 0), l.steps)
	it := &Iter{l: l, epoch: epoch, order: l.order(epoch), next: skip,
		tokens: make(chan struct{}, l.inFlight), slots: make([]chan result, l.inFlight), stop: make(chan struct{})}
	for k := range it.slots {
		it.slots[k] = make(chan result, 1)
	}
	it.claimed.Store(int64(skip))
	workers := min(max(l.o.Workers, 1), l.steps-skip)
	it.wg.Add(workers)
	for range workers {
		go it.work()
	}
	return it
}

// work makes batches until the epoch ends or the iterator is closed. A worker holds a token for
// each batch it claims until Next delivers it, so batches in flight are contiguous and at most
// inFlight: batch k always has slot k % inFlight to itself.
func (it *Iter) work() {
	defer it.wg.Done()
	ld := it.l.worker()
	defer it.l.putWorker(ld)
	pcg := rand.NewPCG(0, 0)
	rng := rand.New(pcg)
	for {
		select {
		case it.tokens <- struct{}{}:
		case <-it.stop:
			return
		}
		k := int(it.claimed.Add(1) - 1)
		if k >= it.l.steps {
			<-it.tokens
			return
		}
		b, err := it.l.newBatch()
		if err == nil {
			err = it.fill(ld, b, k, pcg, rng)
		}
		if err == errStopped {
			it.l.Release(b)
			return
		}
		it.slots[k%len(it.slots)] <- result{b, err}
	}
}

// fill makes batch k into b.
func (it *Iter) fill(ld sampleLoader, b *Batch, k int, pcg *rand.PCG, rng *rand.Rand) error {
	l := it.l
	bs := l.o.BatchSize
	n := min(bs, l.perRank-k*bs)
	b.X, b.Labels = b.X[:n*l.chw], b.Labels[:n]
	b.N, b.Index, b.Wait = n, k, 0
	for j := range n {
		select {
		case <-it.stop:
			return errStopped
		default:
		}
		i, err := it.load(ld, k*bs+j, b.X[j*l.chw:(j+1)*l.chw], pcg, rng)
		if err != nil {
			return err
		}
		b.Labels[j] = int32(l.ds.Label(i))
	}
	return nil
}

// load writes the sample at position p of this rank's order into dst, or, when it is unreadable,
// the next readable one (wrapping). Each attempt draws its augmentation from the generator of
// position p, so the result does not depend on which worker makes it. It returns the index of
// the sample it loaded.
func (it *Iter) load(ld sampleLoader, p int, dst []float32, pcg *rand.PCG, rng *rand.Rand) (int, error) {
	l := it.l
	pos := p // the position in the epoch's padded order, before sharding
	if l.shards > 1 {
		pos = l.o.Rank + p*l.shards
	}
	tries := min(len(it.order), maxSkipRun)
	var last error
	for a := range tries {
		i := int(it.order[(p+a)%len(it.order)])
		pcg.Seed(l.sampleSeeds(it.epoch, pos))
		err := safeLoad(ld, l.ds, i, rng, dst)
		if err == nil {
			return i, nil
		}
		l.skip(i, err, a == 0)
		last = err
	}
	return 0, fmt.Errorf("data loader: epoch %d: %d samples in a row from position %d could not be read (the last: %v): check data_dir", it.epoch, tries, p, last)
}

// safeLoad is ld.Load with a panic (a decoder's, say) turned into an error naming the sample.
func safeLoad(ld sampleLoader, ds Dataset, i int, rng *rand.Rand, dst []float32) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: loading failed: %v", ds.Name(i), r)
		}
	}()
	return ld.Load(i, rng, dst)
}

// Next blocks until the next batch of the epoch is ready and returns it; false at the end of the
// epoch, after Close, or after an error (see Err). Hand the batch back with Loader.Release when
// done with it.
func (it *Iter) Next() (*Batch, bool) {
	if it.next >= it.l.steps || it.err != nil {
		return nil, false
	}
	select {
	case <-it.stop:
		return nil, false
	default:
	}
	start := time.Now()
	select {
	case r := <-it.slots[it.next%len(it.slots)]:
		<-it.tokens
		if r.err != nil {
			it.err = r.err
			it.l.Release(r.b)
			return nil, false
		}
		r.b.Wait = time.Since(start)
		it.next++
		return r.b, true
	case <-it.stop:
		return nil, false
	}
}

// Err is why Next stopped before the end of the epoch: nil, or an error when a run of
// maxSkipRun samples could not be read.
func (it *Iter) Err() error { return it.err }

// Close stops the workers and waits for them to return. It is safe to call more than once and
// after the end of the epoch.
func (it *Iter) Close() {
	it.once.Do(func() {
		close(it.stop)
		it.wg.Wait()
		for _, s := range it.slots {
			select {
			case r := <-s:
				it.l.Release(r.b)
			default:
			}
		}
	})
}
