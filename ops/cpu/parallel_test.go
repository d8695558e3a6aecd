package cpu

import (
	"sync"
	"testing"
)

// TestParallelFor checks that parallelFor covers [0, n) exactly once, in at most Threads
// contiguous ranges, for thread counts above and below the number of items and for work too
// small to split.
func TestParallelFor(t *testing.T) {
	for threads := 1; threads <= 5; threads++ {
		b := New(Options{Threads: threads})
		for _, n := range []int{0, 1, 2, 3, 7, 64, 1000} {
			for _, cost := range []int{0, 1, minGrain} {
				var mu sync.Mutex
				seen := make([]int, n)
				calls := 0
				b.parallelFor(n, cost, func(lo, hi int) {
					mu.Lock()
					defer mu.Unlock()
					calls++
					if lo >= hi {
						t.Errorf("threads=%d n=%d cost=%d: empty range [%d, %d)", threads, n, cost, lo, hi)
					}
					for i := lo; i < hi; i++ {
						seen[i]++
					}
				})
				for i, c := range seen {
					if c != 1 {
						t.Fatalf("threads=%d n=%d cost=%d: item %d done %d times", threads, n, cost, i, c)
					}
				}
				if calls > threads || n*max(cost, 1) < minGrain && calls > 1 {
					t.Errorf("threads=%d n=%d cost=%d: %d ranges", threads, n, cost, calls)
				}
			}
		}
	}
}
