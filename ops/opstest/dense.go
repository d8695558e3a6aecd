package opstest

import (
	"fmt"
	"testing"

	"github.com/resnext/resnext/ops"
)

// matMulCases are the sizes op(a) [m, k] @ op(b) [k, n]; each runs with all four transpose flags.
// The last ones are larger than a typical GEMM block in k (2048) or m (129).
var matMulCases = []struct {
	name    string
	m, n, k int
}{
	{"square_8", 8, 8, 8},
	{"odd_7x5_k13", 7, 5, 13},
	{"row_vector", 1, 9, 17},
	{"column_vector", 9, 1, 17},
	{"inner_1", 6, 4, 1},
	{"1x1_k1", 1, 1, 1},
	{"odd_3x17_k33", 3, 17, 33},
	{"classifier_16x100_k512", 16, 100, 512},
	{"64x96_k256", 64, 96, 256},
	{"64x10_k2048", 64, 10, 2048},
	{"129x65_k31", 129, 65, 31},
}

// stored returns the stored shape of an operand whose op() is rows x cols.
func stored(rows, cols int, trans bool) ops.Shape {
	if trans {
		return ops.Shape{cols, rows}
	}
	return ops.Shape{rows, cols}
}

func testMatMul(t *testing.T, b ops.Backend) {
	for _, c := range matMulCases {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			name := fmt.Sprintf("%s/%s", c.name, transName(tr[0], tr[1]))
			run(t, b, name, func(e *env) {
				as, bs := stored(c.m, c.k, tr[0]), stored(c.k, c.n, tr[1])
				a, bv := e.randn(as.Numel()), e.randn(bs.Numel())
				A, B, C := e.tensor(as, a), e.tensor(bs, bv), e.out(ops.Shape{c.m, c.n})
				b.MatMul(A, B, C, tr[0], tr[1])
				e.near("c", e.read(C), refMatMul(f64(a), f64(bv), c.m, c.n, c.k, tr[0], tr[1]), tolReduce)
				e.unchanged("a", A, a)
				e.unchanged("b", B, bv)
				e.sync()
			})
		}
	}
	// Finite differences of c = a @ b, with the gradients a linear layer's backward takes from
	// MatMul itself: da = dc @ b^T, db = a^T @ dc.
	for _, c := range matMulCases[:5] {
		run(t, b, c.name+"/finite_difference", func(e *env) {
			as, bs, cs := ops.Shape{c.m, c.k}, ops.Shape{c.k, c.n}, ops.Shape{c.m, c.n}
			a, bv, r := e.randn(as.Numel()), e.randn(bs.Numel()), e.randn(cs.Numel())
			A, B, R := e.tensor(as, a), e.tensor(bs, bv), e.tensor(cs, r)
			DA, DB := e.out(as), e.out(bs)
			b.MatMul(R, B, DA, false, true)
			b.MatMul(A, R, DB, true, false)
			e.directional([][]float32{a, bv}, [][]float32{e.read(DA), e.read(DB)}, 1e-2, func(in [][]float32) float64 {
				A, B, C := e.tensor(as, in[0]), e.tensor(bs, in[1]), e.out(cs)
				defer e.free(A, B, C)
				b.MatMul(A, B, C, false, false)
				return weighted(r, e.read(C))
			})
		})
	}
}

func transName(ta, tb bool) string {
	n := map[bool]string{false: "N", true: "T"}
	return "trans" + n[ta] + n[tb]
}

// biasShapes are the shapes of x for BiasAdd and BiasGrad: [N, C], [N, C, L] and [N, C, H, W].
var biasShapes = []struct {
	name  string
	shape ops.Shape
}{
	{"NC", ops.Shape{5, 7}},
	{"NC_batch1", ops.Shape{1, 3}},
	{"NC_1x1", ops.Shape{1, 1}},
	{"NCL", ops.Shape{2, 3, 7}},
	{"NCHW", ops.Shape{2, 3, 4, 5}},
	{"NCHW_1x1", ops.Shape{3, 4, 1, 1}},
	{"NCHW_256ch_7x7", ops.Shape{8, 256, 7, 7}},
}

func biasDims(s ops.Shape) (c, inner int) {
	return s[1], s.Numel() / (s[0] * s[1])
}

func testBiasAdd(t *testing.T, b ops.Backend) {
	for _, c := range biasShapes {
		run(t, b, c.name, func(e *env) {
			ch, inner := biasDims(c.shape)
			x, bias := e.randn(c.shape.Numel()), e.randn(ch)
			X, BIAS, Y := e.tensor(c.shape, x), e.tensor(ops.Shape{ch}, bias), e.out(c.shape)
			b.BiasAdd(X, BIAS, Y)
			e.near("y", e.read(Y), refBiasAdd(f64(x), f64(bias), ch, inner), tolElem)
			e.unchanged("x", X, x)
			e.unchanged("bias", BIAS, bias)
			e.sync()
		})
		run(t, b, c.name+"/in_place", func(e *env) {
			ch, inner := biasDims(c.shape)
			x, bias := e.randn(c.shape.Numel()), e.randn(ch)
			X := e.tensor(c.shape, x)
			b.BiasAdd(X, e.tensor(ops.Shape{ch}, bias), X)
			e.near("y", e.read(X), refBiasAdd(f64(x), f64(bias), ch, inner), tolElem)
		})
	}
}

func testBiasGrad(t *testing.T, b ops.Backend) {
	for _, c := range biasShapes {
		run(t, b, c.name, func(e *env) {
			ch, inner := biasDims(c.shape)
			dy := e.randn(c.shape.Numel())
			DY, DB := e.tensor(c.shape, dy), e.out(ops.Shape{ch})
			b.BiasGrad(DY, DB)
			e.near("db", e.read(DB), refBiasGrad(f64(dy), ch, inner), tolReduce)
			e.unchanged("dy", DY, dy)
			e.sync()
		})
	}
}
