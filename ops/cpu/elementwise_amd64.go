//go:build !purego

package cpu

import "unsafe"

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

// avx2Loops are the loops in AVX2 with FMA: ReLU and Add (elementwise_amd64.s), batch norm
// (batchnorm_amd64.s) and the tap convolutions (conv_taps_amd64.s). Both assembly SGEMM kernels
// run them: every CPU with AVX-512F has AVX2 and FMA.
var avx2Loops = vecLoops{relu: reluVec, reluGrad: reluGradVec, taps: tapsAVX2, tapDot: tapDotAVX2,
	poolRow3s2: poolRow3s2Vec, poolCol3: poolCol3Vec,
	bnStats: bnStatsVec, bnNormalize: bnNormalizeVec, bnBackSums: bnBackSumsVec, bnBackDx: bnBackDxVec, add: addVec}
