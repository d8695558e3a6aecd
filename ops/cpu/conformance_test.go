package cpu_test

import (
	"fmt"
	"testing"

	"github.com/resnext/resnext/ops/cpu"
	"github.com/resnext/resnext/ops/opstest"
)

// TestConformance runs the backend conformance suite with every SGEMM micro-kernel this machine
// runs (cpu.Kernels: the assembly ones for its vector extensions and the portable one), each on
// one thread and on two, so that every kernel path, the serial path and the split of work across
// goroutines are all checked.
func TestConformance(t *testing.T) {
	for _, kernel := range cpu.Kernels() {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("kernel=%s/threads=%d", kernel, threads), func(t *testing.T) {
				b := cpu.New(cpu.Options{Threads: threads, Kernel: kernel})
				defer b.Close()
				opstest.Run(t, b)
			})
		}
	}
}
