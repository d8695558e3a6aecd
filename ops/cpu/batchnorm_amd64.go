//go:build !purego

package cpu

import "unsafe"

// The batch-norm loops of batchnorm_amd64.s, in AVX2 with FMA. They are passes over memory that
// the portable loops make one element at a time, converting each to float64 for the sums: Go does
// not vectorise, so those loops run at a fraction of the memory's speed, while eight floats to a
// vector (four for the float64 sums) keep up with it. Each call covers a whole channel, n planes
// of hw values stride elements apart, tails (hw not a multiple of the vector) and unaligned starts
// included, so that small planes (7x7) do not pay a call each.
//
//go:noescape
func bnStatsAVX2(x *float32, hw, n, stride int, shift float64) (s1, s2 float64)

//go:noescape
func bnNormalizeAVX2(x, y *float32, hw, n, stride int, mean, scale, shift float32)

//go:noescape
func bnBackSumsAVX2(dy, x *float32, hw, n, stride int, mean float64) (sdy, sdyx float64)

//go:noescape
func bnBackDxAVX2(dy, x, dx *float32, hw, n, stride int, mean, a, mdy, k float32)

// The vecLoops of batch norm in AVX2: see bnStatsGo, bnNormalizeGo, bnBackSumsGo and bnBackDxGo.

func bnStatsVec(l bnLayout, x []float32, shift float64) (s1, s2 float64) {
	l.check(x)
	return bnStatsAVX2(unsafe.SliceData(x), l.hw, l.n, l.stride(), shift)
}

func bnNormalizeVec(l bnLayout, x, y []float32, mean, scale, shift float32) {
	l.check(x, y)
	bnNormalizeAVX2(unsafe.SliceData(x), unsafe.SliceData(y), l.hw, l.n, l.stride(), mean, scale, shift)
}

func bnBackSumsVec(l bnLayout, dy, x []float32, mean float64) (sdy, sdyx float64) {
	l.check(dy, x)
	return bnBackSumsAVX2(unsafe.SliceData(dy), unsafe.SliceData(x), l.hw, l.n, l.stride(), mean)
}

func bnBackDxVec(l bnLayout, dy, x, dx []float32, mean, a, mdy, k float32) {
	l.check(dy, x, dx)
	bnBackDxAVX2(unsafe.SliceData(dy), unsafe.SliceData(x), unsafe.SliceData(dx), l.hw, l.n, l.stride(), mean, a, mdy, k)
}
