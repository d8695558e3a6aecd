package cpu_test

import (
	"fmt"
	"testing"

	"github.com/resnext/resnext/ops/cpu"
	"github.com/resnext/resnext/ops/opstest"
)

// TestConformance runs the backend conformance suite on one thread and on two, so that both the
// serial path and the split of work across goroutines are checked.
func TestConformance(t *testing.T) {
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			b := cpu.New(cpu.Options{Threads: threads})
			defer b.Close()
			opstest.Run(t, b)
		})
	}
}
