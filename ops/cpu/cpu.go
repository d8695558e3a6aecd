// Package cpu is the host backend, without cgo: every kernel of ops.Backend on the host's cores,
// computing in float32 (Float16 and BFloat16 tensors are storage types here: Cast converts them).
// Everything is Go but the innermost loops (SGEMM and its packing, the tap convolutions, batch
// norm, ReLU, Add, the stem's max pool), which on amd64 are Go assembly for AVX2+FMA and AVX-512F,
// chosen at run time
// with the SGEMM kernel (Kernels, Options.Kernel, $RESNEXT_CPU_KERNEL); other CPUs and the purego
// build tag use portable Go.
//
// Kernels run synchronously on the calling goroutine, split across Threads goroutines where the work
// is large enough. Memory comes from a pool keyed by size, so a training step that frees what it
// allocates reuses the same buffers and does not churn the garbage collector.
package cpu

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"

	"github.com/resnext/resnext/ops"
)

func init() {
	ops.Register("cpu", func() (ops.Backend, error) {
		if _, err := kernelFor(Options{}); err != nil {
			return nil, err
		}
		return New(Options{}), nil
	})
}

// KernelEnv is the environment variable that chooses the SGEMM micro-kernel of backends whose
// Options.Kernel is empty: one of Kernels(), or empty for the fastest.
const KernelEnv = "RESNEXT_CPU_KERNEL"

// Options configure a CPU backend.
type Options struct {
	// Threads is the number of goroutines a kernel may use; 0 means GOMAXPROCS.
	Threads int
	// Kernel names the SGEMM micro-kernel, one of Kernels() ("avx512", "avx2", "go"); empty
	// means $RESNEXT_CPU_KERNEL, and when that is empty too, the fastest this machine runs.
	Kernel string
}

// Backend is the CPU implementation of ops.Backend.
type Backend struct {
	threads     int
	kernel      microKernel
	gemmMinWork int // see the constant
	pool        pool
}

// New returns a CPU backend. It panics, saying why, when the kernel asked for (in o.Kernel or
// $RESNEXT_CPU_KERNEL) is unknown or needs what this machine lacks; ops.Open("cpu") returns
// that as an error instead.
func New(o Options) *Backend {
	t := o.Threads
	if t <= 0 {
		t = runtime.GOMAXPROCS(0)
	}
	k, err := kernelFor(o)
	if err != nil {
		panic(err)
	}
	return &Backend{threads: t, kernel: k, gemmMinWork: gemmMinWork}
}

// kernelFor is the micro-kernel o asks for, directly or through $RESNEXT_CPU_KERNEL.
func kernelFor(o Options) (microKernel, error) {
	if o.Kernel != "" {
		return kernelNamed(o.Kernel)
	}
	name := os.Getenv(KernelEnv)
	k, err := kernelNamed(name)
	if err != nil {
		return k, fmt.Errorf("%s=%s: %w", KernelEnv, name, err)
	}
	return k, nil
}

var (
	_ ops.Backend       = (*Backend)(nil)
	_ ops.BatchNormReLU = (*Backend)(nil)
)

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// Threads is the number of goroutines kernels use.
func (b *Backend) Threads() int { return b.threads }

// Kernel is the name of the SGEMM micro-kernel in use, one of Kernels().
func (b *Backend) Kernel() string { return b.kernel.name }

// Device describes the processor: thread count, the vector extensions found at run time and the
// SGEMM micro-kernel in use with its tile.
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
	return fmt.Sprintf("cpu: %s/%s, %d threads, %s, sgemm kernel %v", runtime.GOOS, runtime.GOARCH, b.threads,
		strings.Join(feats, " "), b.kernel)
}

// Sync returns nil: CPU kernels finish before they return and cannot fail at run time.
func (b *Backend) Sync() error { return nil }

// Close drops the buffer pool.
func (b *Backend) Close() error {
	b.pool.drain()
	return nil
}
