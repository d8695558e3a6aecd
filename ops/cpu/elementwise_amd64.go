//go:build !purego

package cpu

import "unsafe"

// The elementwise kernels of elementwise_amd64.s. ReLU and its gradient are a pass over memory each;
// the portable loops branch on the sign of every element, which random activations make a coin
// toss for the branch predictor, and Go does not vectorise them.
//
//go:noescape
func reluAVX2(n int, x, y *float32)

//go:noescape
func reluGradAVX2(n int, dy, y, dx *float32)

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
