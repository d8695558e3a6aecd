//go:build !purego

package cpu

import "unsafe"

// The two passes of the 3x3 stride-2 max pool in AVX2 (pool_amd64.s): eight outputs at a time,
// with compares and blends instead of a branch per value, which random data makes a coin toss.
//
//go:noescape
func maxPoolRow3s2AVX2(x *float32, n int, c0 int, hv *float32, hc *int32)

//go:noescape
func maxPoolCol3AVX2(v0, v1, v2 *float32, c0, c1, c2 *int32, o0, o1, o2 int, n int, y *float32, mask *int32)

// poolRow3s2Vec is poolRow3s2Go in assembly; n must be a multiple of 8.
func poolRow3s2Vec(x []float32, n, c0 int, hv []float32, hc []int32) {
	if n < 0 || n%8 != 0 || c0 < 0 || n > 0 && (len(x) < c0+2*n+2 || len(hv) < n || len(hc) < n) {
		panic("ops/cpu: max pool row operands too short")
	}
	if n > 0 {
		maxPoolRow3s2AVX2(unsafe.SliceData(x), n, c0, unsafe.SliceData(hv), unsafe.SliceData(hc))
	}
}

// poolCol3Vec is poolCol3Go with AVX2 on the whole vectors and the portable loop on the tail.
func poolCol3Vec(v0, v1, v2 []float32, c0, c1, c2 []int32, o0, o1, o2 int, y []float32, mask []int32) {
	n := len(y)
	v0, v1, v2, c0, c1, c2, mask = v0[:n], v1[:n], v2[:n], c0[:n], c1[:n], c2[:n], mask[:n]
	if k := n &^ 7; k > 0 {
		maxPoolCol3AVX2(unsafe.SliceData(v0), unsafe.SliceData(v1), unsafe.SliceData(v2),
			unsafe.SliceData(c0), unsafe.SliceData(c1), unsafe.SliceData(c2), o0, o1, o2, k,
			unsafe.SliceData(y), unsafe.SliceData(mask))
		v0, v1, v2, c0, c1, c2, y, mask = v0[k:], v1[k:], v2[k:], c0[k:], c1[k:], c2[k:], y[k:], mask[k:]
	}
	poolCol3Go(v0, v1, v2, c0, c1, c2, o0, o1, o2, y, mask)
}
