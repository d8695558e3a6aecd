// Package cpu is the pure-Go backend: every kernel of ops.Backend on the host's cores, computing in
// float32 (Float16 and BFloat16 tensors are storage types here: Cast converts them).
//
// Kernels run synchronously on the calling goroutine, split across Threads goroutines where the work
// is large enough. Memory comes from a pool keyed by size, so a training step that frees what it
// allocates reuses the same buffers and does not churn the garbage collector.
package cpu

import (
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"

	"github.com/resnext/resnext/ops"
)

func init() {
	ops.Register("cpu", func() (ops.Backend, error) { return New(Options{}), nil })
}

// Options configure a CPU backend.
type Options struct {
	// Threads is the number of goroutines a kernel may use; 0 means GOMAXPROCS.
	Threads int
}

// Backend is the CPU implementation of ops.Backend.
type Backend struct {
	threads int
	pool    pool
}

// New returns a CPU backend.
func New(o Options) *Backend {
	t := o.Threads
	if t <= 0 {
		t = runtime.GOMAXPROCS(0)
	}
	return &Backend{threads: t}
}

var _ ops.Backend = (*Backend)(nil)

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// Threads is the number of goroutines kernels use.
func (b *Backend) Threads() int { return b.threads }

// Device describes the processor: thread count and the vector extensions found at run time.
func (b *Backend) Device() string {
	var feats []string
	if cpu.X86.HasAVX512F {
		feats = append(feats, "avx512f")
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		feats = append(feats, "avx2+fma")
	}
	if cpu.ARM64.HasASIMD {
		feats = append(feats, "neon")
	}
	if len(feats) == 0 {
		feats = append(feats, "generic")
	}
	return fmt.Sprintf("cpu: %s/%s, %d threads, %s", runtime.GOOS, runtime.GOARCH, b.threads, strings.Join(feats, " "))
}

// Sync returns nil: CPU kernels finish before they return and cannot fail at run time.
func (b *Backend) Sync() error { return nil }

// Close drops the buffer pool.
func (b *Backend) Close() error {
	b.pool.drain()
	return nil
}
