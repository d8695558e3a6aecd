//go:build !purego

package cpu

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The micro-kernels in Go assembly for amd64, generated from one template by internal/asmgen.
// They exist for speed: Go's compiler does not vectorise, so the portable kernel reaches a few
// percent of what the FMA units do, and no SGEMM library is usable from Go without cgo, which
// the backend avoids so that binaries stay static.
//
//go:generate go run -C internal/asmgen . -dir ../..

// sgemmKernelAVX2 is the 6x16 micro-kernel on 12 ymm accumulators (gemm_avx2_amd64.s); see
// microKernel.fn for what it computes, with pointers to the first element of each operand.
//
//go:noescape
func sgemmKernelAVX2(kc int, a, b, c *float32, ldc int, beta float32)

// sgemmKernelAVX512 is the 12x32 micro-kernel on 24 zmm accumulators (gemm_avx512_amd64.s).
//
//go:noescape
func sgemmKernelAVX512(kc int, a, b, c *float32, ldc int, beta float32)

// The packing routines of gemm_pack_amd64.s; see microKernel.packA6, packAT6 and packB.
//
//go:noescape
func sgemmPackA6(kb int, a *float32, lda int, dst *float32, stride int, alpha float32)

//go:noescape
func sgemmPackAT6(kb int, a *float32, lda int, dst *float32, stride int, alpha float32)

//go:noescape
func sgemmPackBT8(kb int, b *float32, ldb int, dst *float32, stride int)

//go:noescape
func sgemmPackB16(kb, panels int, b *float32, ldb int, dst *float32)

//go:noescape
func sgemmPackB32(kb, panels int, b *float32, ldb int, dst *float32)

func packA6(kb int, a []float32, lda int, dst []float32, stride int, alpha float32) {
	if kb < 0 || kb > 0 && (lda < kb || len(a) < 5*lda+kb || stride < 6 || len(dst) < (kb-1)*stride+6) {
		panic("ops/cpu: packA6 operands too short")
	}
	sgemmPackA6(kb, unsafe.SliceData(a), lda, unsafe.SliceData(dst), stride, alpha)
}

func packAT6(kb int, a []float32, lda int, dst []float32, stride int, alpha float32) {
	if kb < 0 || kb > 0 && (lda < 6 || len(a) < (kb-1)*lda+6 || stride < 6 || len(dst) < (kb-1)*stride+6) {
		panic("ops/cpu: packAT6 operands too short")
	}
	sgemmPackAT6(kb, unsafe.SliceData(a), lda, unsafe.SliceData(dst), stride, alpha)
}

// checkPackB panics unless b and dst hold kb rows of panels micro-panels of nr columns.
func checkPackB(nr, kb, panels int, b []float32, ldb int, dst []float32) {
	if kb < 0 || panels < 0 || kb > 0 && panels > 0 && (ldb < panels*nr || len(b) < (kb-1)*ldb+panels*nr || len(dst) < kb*panels*nr) {
		panic("ops/cpu: packB operands too short")
	}
}

// packBT8 packs eight columns of a transposed B (gemm_packt_amd64.s): dst[p*stride+j] =
// b[j*ldb+p] for j < 8 and p < kb, kb a multiple of 8.
func packBT8(kb int, b []float32, ldb int, dst []float32, stride int) {
	if kb < 0 || kb%8 != 0 || kb > 0 && (ldb < kb || len(b) < 7*ldb+kb || stride < 8 || len(dst) < (kb-1)*stride+8) {
		panic("ops/cpu: packBT8 operands too short")
	}
	if kb > 0 {
		sgemmPackBT8(kb, unsafe.SliceData(b), ldb, unsafe.SliceData(dst), stride)
	}
}

func packB16(kb, panels int, b []float32, ldb int, dst []float32) {
	checkPackB(16, kb, panels, b, ldb, dst)
	sgemmPackB16(kb, panels, unsafe.SliceData(b), ldb, unsafe.SliceData(dst))
}

func packB32(kb, panels int, b []float32, ldb int, dst []float32) {
	checkPackB(32, kb, panels, b, ldb, dst)
	sgemmPackB32(kb, panels, unsafe.SliceData(b), ldb, unsafe.SliceData(dst))
}

// Blocking for the AVX2 kernel, from Zen 3's and Haswell's to Raptor Lake's caches (L1 32-48
// KiB, L2 256 KiB to 2 MiB): a B micro-panel (kc x 16, 16 KiB) fills half of L1, a packed A block
// (mc x kc, 144 KiB) sits in L2, a packed B block (kc x nc, 4 MiB) in L3.
var avx2Kernel = microKernel{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 144, nc: 4096,
	fn: func(kc int, a, b, c []float32, ldc int, beta float32) {
		checkTile(6, 16, kc, a, b, c, ldc)
		sgemmKernelAVX2(kc, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, beta)
	},
	packA6: packA6, packAT6: packAT6, packB: packB16, packBT8: packBT8, vec: &avx2Loops}

// Blocking for the AVX-512 kernel (Skylake-SP to Sapphire Rapids, Zen 4 and 5): a B micro-panel
// (kc x 32, 24 KiB) within L1, a packed A block (mc x kc, 180 KiB) in L2 (1-2 MiB).
var avx512Kernel = microKernel{name: "avx512", mr: 12, nr: 32, kc: 192, mc: 240, nc: 4096,
	fn: func(kc int, a, b, c []float32, ldc int, beta float32) {
		checkTile(12, 32, kc, a, b, c, ldc)
		sgemmKernelAVX512(kc, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, beta)
	},
	packA6: packA6, packAT6: packAT6, packB: packB32, packBT8: packBT8, vec: &avx2Loops}

// checkTile panics unless the operands of an mr x nr micro-kernel hold what the assembly reads and
// writes: it does no bounds checks of its own.
func checkTile(mr, nr, kc int, a, b, c []float32, ldc int) {
	if kc < 0 || len(a) < kc*mr || len(b) < kc*nr || ldc < nr || len(c) < (mr-1)*ldc+nr {
		panic("ops/cpu: micro-kernel operands too short")
	}
}

// archKernels are the assembly kernels this CPU runs, fastest first. x/sys/cpu reports AVX2 and
// AVX-512F only when the operating system also saves their registers.
func archKernels() []microKernel {
	var ks []microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return ks
}
