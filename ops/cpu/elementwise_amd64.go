//go:build !purego

package cpu

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The elementwise kernels of elementwise_amd64.s. ReLU and its gradient are a pass over memory each;
// the portable loops branch on the sign of every element, which random activations make a coin
// toss for the branch predictor, and Go does not vectorise them. Add is a pass too, which the
// portable loop does one element at a time.
//
//go:noescape
func reluAVX2(n int, x, y *float32)

//go:noescape
func reluGradAVX2(n int, dy, y, dx *float32)

//go:noescape
func addAVX2(n int, a, b, y *float32, alpha float32)

// reluVec is ReLU with AVX2 on the whole vectors and the portable loop on the tail.
func reluVec(x, y []float32) {
	n := len(x) &^ 7
	y = y[:len(x)]
	if n > 0 {
		reluAVX2(n, unsafe.SliceData(x), unsafe.SliceData(y))
	}
	reluGo(x[n:], y[n:])
}

// reluGradVec is the ReLU gradient with AVX2 on the whole vectors and the portable loop on the tail.
func reluGradVec(dy, y, dx []float32) {
	n := len(y) &^ 7
	dy, dx = dy[:len(y)], dx[:len(y)]
	if n > 0 {
		reluGradAVX2(n, unsafe.SliceData(dy), unsafe.SliceData(y), unsafe.SliceData(dx))
	}
	reluGradGo(dy[n:], y[n:], dx[n:])
}

// addVec is Add's loop with AVX2 on the whole vectors and the portable loop on the tail.
func addVec(a, b, y []float32, alpha float32) {
	n := len(y) &^ 7
	a, b = a[:len(y)], b[:len(y)]
	if n > 0 {
		addAVX2(n, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(y), alpha)
	}
	addGo(a[n:], b[n:], y[n:], alpha)
}

// avx2Loops are the loops of batch norm (batchnorm_amd64.s) and Add in AVX2 with FMA.
var avx2Loops = vecLoops{bnStats: bnStatsVec, bnNormalize: bnNormalizeVec, bnBackSums: bnBackSumsVec,
	bnBackDx: bnBackDxVec, add: addVec}

// vecLoopsFor returns the AVX2 loops for the assembly SGEMM kernels (the AVX-512 one included, as
// for ReLU) on a CPU with AVX2 and FMA, and the portable loops for the "go" kernel.
func vecLoopsFor(kernel string) *vecLoops {
	if kernel != goKernel.name && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return &avx2Loops
	}
	return &goLoops
}
