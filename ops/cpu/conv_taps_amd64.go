//go:build !purego

package cpu

import "unsafe"

// The kernels of the tap path (see conv_taps.go) in AVX2 and FMA (conv_taps_amd64.s), written in
// assembly for the reason the SGEMM kernels are: Go does not vectorise.
//
//go:noescape
func convTapsAVX2(k int, a, base *float32, offs *int, c *float32, ldc int)

//go:noescape
func convTapDotAVX2(k int, a *float32, lda int, base *float32, offs *int, out *float32)

// tapsAVX2 is tapsGo in assembly.
func tapsAVX2(k int, a, base []float32, offs []int, reach int, c []float32, ldc int) {
	checkTaps(k, a, base, offs, reach, c, ldc)
	convTapsAVX2(k, unsafe.SliceData(a), unsafe.SliceData(base), unsafe.SliceData(offs), unsafe.SliceData(c), ldc)
}

// tapDotAVX2 is tapDotGo in assembly.
func tapDotAVX2(k int, a []float32, lda int, base []float32, offs []int, reach int, out []float32) {
	checkTapDot(k, a, lda, base, offs, reach, out)
	if k == 0 {
		clear(out[:tapRows*tapDots])
		return
	}
	convTapDotAVX2(k, unsafe.SliceData(a), lda, unsafe.SliceData(base), unsafe.SliceData(offs), unsafe.SliceData(out))
}
