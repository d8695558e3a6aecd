package cpu

import "github.com/resnext/resnext/ops"

// MatMul computes c = op(a) @ op(b) for float32 matrices with the package's SGEMM.
func (b *Backend) MatMul(a, bm, c ops.Tensor, transA, transB bool) {
	const op = "MatMul"
	m, n, k := ops.CheckMatMul(a, bm, c, transA, transB)
	b.gemm(gemmOp{m: m, n: n, k: k,
		a: f32(op, a), lda: a.Shape()[1], transA: transA,
		b: f32(op, bm), ldb: bm.Shape()[1], transB: transB,
		c: f32(op, c), ldc: n, alpha: 1})
}
