//go:build !purego

package cpu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestArchKernels checks that the assembly kernels are offered exactly when the CPU (and the
// operating system) supports them, fastest first.
func TestArchKernels(t *testing.T) {
	var want []string
	if cpu.X86.HasAVX512F {
		want = append(want, "avx512")
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		want = append(want, "avx2")
	}
	want = append(want, "go")
	if got := Kernels(); !slices.Equal(got, want) {
		t.Errorf("Kernels() = %v, want %v", got, want)
	}
}

// TestAVX512Kernel checks the AVX-512 micro-kernel and a GEMM through it on every edge shape of
// its 12x32 tile. It needs a CPU with AVX-512F; elsewhere it is skipped (TestGEMMKernels and
// TestGEMMShapes cover it too, wherever it runs).
func TestAVX512Kernel(t *testing.T) {
	if !cpu.X86.HasAVX512F {
		t.Skip("this CPU (or its operating system) lacks AVX-512F: the avx512 kernel is built but cannot run here")
	}
	gemmTestKernel(t, avx512Kernel)
	for _, k := range []microKernel{avx512Kernel, gemmTestSmallBlocks(avx512Kernel)} {
		backends := gemmTestBackends(k)
		rng := rand.New(rand.NewPCG(11, 12))
		for _, transA := range []bool{false, true} {
			for _, transB := range []bool{false, true} {
				for _, m := range gemmTestSizes(k.mr) {
					for _, n := range gemmTestSizes(k.nr) {
						for _, kk := range []int{1, 7, 8, 9, 33} {
							o := gemmTestOp(rng, m, n, kk, transA, transB, 1, 1, 0.5)
							gemmTestCheck(t, backends, fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d", transA, transB, m, n, kk), o)
						}
					}
				}
			}
		}
	}
}

// TestAVX512Layout runs GEMMs with everything of the AVX-512 kernel but its assembly loop: its
// tile, blocking and packing routines (which need AVX only), with a Go stand-in for the
// micro-kernel. So the parts of that path that do not need AVX-512 are checked on any AVX CPU.
func TestAVX512Layout(t *testing.T) {
	if !cpu.X86.HasAVX {
		t.Skip("this CPU lacks AVX, which the packing routines use")
	}
	k := avx512Kernel
	k.name = "avx512-layout"
	k.fn = gemmTestKernelFunc(k.mr, k.nr)
	gemmTestKernel(t, k)
	for _, k := range []microKernel{k, gemmTestSmallBlocks(k)} {
		backends := gemmTestBackends(k)
		rng := rand.New(rand.NewPCG(13, 14))
		for _, transA := range []bool{false, true} {
			for _, transB := range []bool{false, true} {
				for _, m := range gemmTestSizes(k.mr) {
					for _, n := range gemmTestSizes(k.nr) {
						for _, kk := range []int{1, 9, 33} {
							o := gemmTestOp(rng, m, n, kk, transA, transB, 1, 0.5, 0)
							gemmTestCheck(t, backends, fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d", transA, transB, m, n, kk), o)
						}
					}
				}
			}
		}
	}
}

// gemmTestKernelFunc is a plain Go micro-kernel for any mr x nr tile (microKernel.fn).
func gemmTestKernelFunc(mr, nr int) func(kc int, a, b, c []float32, ldc int, beta float32) {
	return func(kc int, a, b, c []float32, ldc int, beta float32) {
		for i := range mr {
			for j := range nr {
				var s float32
				for p := range kc {
					s += a[p*mr+i] * b[p*nr+j]
				}
				if beta != 0 {
					s += beta * c[i*ldc+j]
				}
				c[i*ldc+j] = s
			}
		}
	}
}
