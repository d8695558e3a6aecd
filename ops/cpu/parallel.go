package cpu

import (
	"sync"
	"sync/atomic"
)

// minGrain is the least work (in rough multiply-adds) worth handing to another goroutine.
const minGrain = 1 << 15

// parallelFor splits [0, n) into at most b.threads contiguous ranges and runs fn on each, in parallel
// when n*cost (cost: work per item) is large enough to pay for the goroutines. It returns when all
// ranges are done.
func (b *Backend) parallelFor(n, cost int, fn func(lo, hi int)) {
	workers := b.workers(n, cost)
	if workers <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, n/workers)
	wg.Wait()
}

// workers is how many goroutines n items of cost each are worth: b.threads, fewer when the work is
// too small to pay for them, and never more than n.
func (b *Backend) workers(n, cost int) int {
	workers := b.threads
	if total := n * max(cost, 1); total/minGrain < workers {
		workers = max(total/minGrain, 1)
	}
	return min(workers, n)
}

// parallelClaim runs worker on as many goroutines as parallelFor would, each of which takes the
// items of [0, n) one at a time from next until none are left, so that a goroutine that runs slower
// (a busy core, another virtual machine on it) takes fewer items instead of holding the others back
// at the end, as fixed shares would. worker sets up its goroutine's working memory once. Items must
// be independent: which goroutine runs which must not matter.
func (b *Backend) parallelClaim(n, cost int, worker func(next func() (int, bool))) {
	var claimed atomic.Int64
	next := func() (int, bool) {
		i := claimed.Add(1) - 1
		return int(i), i < int64(n)
	}
	workers := b.workers(n, cost)
	if workers <= 1 {
		if n > 0 {
			worker(next)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for range workers - 1 {
		go func() {
			defer wg.Done()
			worker(next)
		}()
	}
	worker(next)
	wg.Wait()
}
