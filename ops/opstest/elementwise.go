package opstest

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// elemShapes are the shapes of the elementwise kernels: a single element, lengths that are not a
// multiple of any vector width, a 4-D tensor and one large enough to be split across threads.
var elemShapes = []struct {
	name  string
	shape ops.Shape
}{
	{"1", ops.Shape{1}},
	{"17", ops.Shape{17}},
	{"3x5x7", ops.Shape{3, 5, 7}},
	{"NCHW", ops.Shape{2, 3, 5, 7}},
	{"100003", ops.Shape{100003}},
}

// reluInput is normal data with every fifth element exactly zero (ReLU's boundary).
func (e *env) reluInput(n int) []float32 {
	x := e.randn(n)
	for i := 0; i < n; i += 5 {
		x[i] = 0
	}
	return x
}

// spread repeats the special values vs 67 times after four plain ones (4 + 67*len(vs) elements, past several
// vectors of any width), shifting each copy by one, so that every value reaches every lane of a
// vectorised loop as well as its tail.
func spread(vs []float32) []float32 {
	out := make([]float32, 0, 4+67*len(vs))
	out = append(out, 1, -1, 2, -2)
	for i := range 67 {
		for j := range vs {
			out = append(out, vs[(i+j)%len(vs)])
		}
	}
	return out
}

func testReLU(t *testing.T, b ops.Backend) {
	// NaN stays NaN (so that an overflow still reaches AllFinite), infinities and signed zeros.
	run(t, b, "special_values", func(e *env) {
		x := spread([]float32{-1, 0, float32(math.Copysign(0, -1)), 2.5, nan, pinf, ninf})
		shape := ops.Shape{len(x)}
		X, Y := e.tensor(shape, x), e.out(shape)
		b.ReLU(X, Y)
		e.exact("y", e.read(Y), refReLU(f64(x)))
		b.ReLU(X, X)
		e.exact("y in place", e.read(X), refReLU(f64(x)))
	})
	for _, c := range elemShapes {
		run(t, b, c.name, func(e *env) {
			x := e.reluInput(c.shape.Numel())
			X, Y := e.tensor(c.shape, x), e.out(c.shape)
			b.ReLU(X, Y)
			e.exact("y", e.read(Y), refReLU(f64(x)))
			e.unchanged("x", X, x)
			e.sync()
		})
		run(t, b, c.name+"/in_place", func(e *env) {
			x := e.reluInput(c.shape.Numel())
			X := e.tensor(c.shape, x)
			b.ReLU(X, X)
			e.exact("y", e.read(X), refReLU(f64(x)))
		})
	}
}

func testReLUBackward(t *testing.T, b ops.Backend) {
	// dx is 0 where y <= 0 (both zeros) and dy elsewhere, NaN included, as PyTorch's
	// threshold_backward does.
	run(t, b, "special_values", func(e *env) {
		y := spread([]float32{nan, 0, float32(math.Copysign(0, -1)), pinf, 2.5})
		shape := ops.Shape{len(y)}
		dy := e.randn(len(y))
		DY, Y, DX := e.tensor(shape, dy), e.tensor(shape, y), e.out(shape)
		b.ReLUBackward(DY, Y, DX)
		e.exact("dx", e.read(DX), refReLUBackward(f64(dy), f64(y)))
		b.ReLUBackward(DY, Y, DY)
		e.exact("dx in place", e.read(DY), refReLUBackward(f64(dy), f64(y)))
	})
	for _, c := range elemShapes {
		run(t, b, c.name, func(e *env) {
			y := f32(refReLU(f64(e.reluInput(c.shape.Numel()))))
			dy := e.randn(c.shape.Numel())
			DY, Y, DX := e.tensor(c.shape, dy), e.tensor(c.shape, y), e.out(c.shape)
			b.ReLUBackward(DY, Y, DX)
			e.exact("dx", e.read(DX), refReLUBackward(f64(dy), f64(y)))
			e.unchanged("dy", DY, dy)
			e.unchanged("y", Y, y)
			e.sync()
		})
		run(t, b, c.name+"/in_place", func(e *env) {
			y := f32(refReLU(f64(e.reluInput(c.shape.Numel()))))
			dy := e.randn(c.shape.Numel())
			DY := e.tensor(c.shape, dy)
			b.ReLUBackward(DY, e.tensor(c.shape, y), DY)
			e.exact("dx", e.read(DY), refReLUBackward(f64(dy), f64(y)))
		})
	}
}

func testAdd(t *testing.T, b ops.Backend) {
	for _, c := range elemShapes {
		for _, alpha := range []float64{1, -1, 0.5, 0} {
			run(t, b, fmt.Sprintf("%s/alpha_%g", c.name, alpha), func(e *env) {
				n := c.shape.Numel()
				a, bv := e.randn(n), e.randn(n)
				A, B, Y := e.tensor(c.shape, a), e.tensor(c.shape, bv), e.out(c.shape)
				b.Add(A, B, Y, alpha)
				e.near("y", e.read(Y), refAdd(f64(a), f64(bv), alpha), tolElem)
				e.unchanged("a", A, a)
				e.unchanged("b", B, bv)
				e.sync()
			})
		}
		run(t, b, c.name+"/in_place_y_is_a", func(e *env) {
			n := c.shape.Numel()
			a, bv := e.randn(n), e.randn(n)
			A := e.tensor(c.shape, a)
			b.Add(A, e.tensor(c.shape, bv), A, 0.5)
			e.near("y", e.read(A), refAdd(f64(a), f64(bv), 0.5), tolElem)
		})
		run(t, b, c.name+"/in_place_y_is_b", func(e *env) {
			n := c.shape.Numel()
			a, bv := e.randn(n), e.randn(n)
			B := e.tensor(c.shape, bv)
			b.Add(e.tensor(c.shape, a), B, B, -2)
			e.near("y", e.read(B), refAdd(f64(a), f64(bv), -2), tolElem)
		})
		run(t, b, c.name+"/in_place_a_b_and_y_one_tensor", func(e *env) {
			a := e.randn(c.shape.Numel())
			A := e.tensor(c.shape, a)
			b.Add(A, A, A, 0.5)
			e.near("y", e.read(A), refAdd(f64(a), f64(a), 0.5), tolElem)
		})
	}
}

func testScale(t *testing.T, b ops.Backend) {
	for _, c := range elemShapes {
		for _, alpha := range []float64{2, -0.5, 0, 1.0 / 1024} {
			run(t, b, fmt.Sprintf("%s/alpha_%g", c.name, alpha), func(e *env) {
				x := e.randn(c.shape.Numel())
				X, Y := e.tensor(c.shape, x), e.out(c.shape)
				b.Scale(X, Y, alpha)
				e.near("y", e.read(Y), refScale(f64(x), alpha), tolElem)
				e.unchanged("x", X, x)
				e.sync()
			})
		}
		run(t, b, c.name+"/in_place", func(e *env) {
			x := e.randn(c.shape.Numel())
			X := e.tensor(c.shape, x)
			b.Scale(X, X, -3)
			e.near("y", e.read(X), refScale(f64(x), -3), tolElem)
		})
	}
}
