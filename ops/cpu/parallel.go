package cpu

import "sync"

// minGrain is the least work (in rough multiply-adds) worth handing to another goroutine.
const minGrain = 1 << 15

// parallelFor splits [0, n) into at most b.threads contiguous ranges and runs fn on each, in parallel
// when n*cost (cost: work per item) is large enough to pay for the goroutines. It returns when all
// ranges are done.
func (b *Backend) parallelFor(n, cost int, fn func(lo, hi int)) {
	workers := b.threads
	if total := n * max(cost, 1); total/minGrain < workers {
		workers = max(total/minGrain, 1)
	}
	workers = min(workers, n)
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
