package resnext

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/cpu"
)

func newBackend(t testing.TB) ops.Backend {
	t.Helper()
	b := cpu.New(cpu.Options{Threads: 2})
	t.Cleanup(func() { b.Close() })
	return b
}

// counting wraps a backend and counts Alloc and Free calls.
type counting struct {
	ops.Backend
	allocs, frees int
}

func (c *counting) Alloc(dt ops.DType, s ops.Shape) ops.Tensor {
	c.allocs++
	return c.Backend.Alloc(dt, s)
}

func (c *counting) Free(t ops.Tensor) {
	c.frees++
	c.Backend.Free(t)
}

// shapeOnly is a backend that allocates no storage: its tensors are shapes and it accepts only the
// calls that building a model makes (Alloc, Fill, Free), so the largest variants build in
// microseconds for counting and naming their parameters. Any other kernel panics (the embedded nil
// interface).
type shapeOnly struct{ ops.Backend }

type shapeTensor struct {
	shape ops.Shape
	dt    ops.DType
}

func (s *shapeTensor) Shape() ops.Shape { return s.shape }
func (s *shapeTensor) DType() ops.DType { return s.dt }

func (shapeOnly) Name() string                               { return "shapes" }
func (shapeOnly) Alloc(dt ops.DType, s ops.Shape) ops.Tensor { return &shapeTensor{s.Clone(), dt} }
func (shapeOnly) Fill(ops.Tensor, float64)                   {}
func (shapeOnly) Free(ops.Tensor)                            {}

func upload(b ops.Backend, shape ops.Shape, v []float32) ops.Tensor {
	return ops.FromFloat32(b, ops.Float32, shape, v)
}

func download(t testing.TB, b ops.Backend, x ops.Tensor) []float32 {
	t.Helper()
	v, err := ops.ToFloat32(b, x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func randn(r *rand.Rand, n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	return v
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// axpy returns x + alpha*v.
func axpy(x []float32, alpha float64, v []float32) []float32 {
	out := make([]float32, len(x))
	for i := range x {
		out[i] = float32(float64(x[i]) + alpha*float64(v[i]))
	}
	return out
}

// assertClose checks max|got-want| <= rtol*(1+max|want|).
func assertClose(t testing.TB, what string, got, want []float32, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	var diff, scale float64
	at := 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > diff || math.IsNaN(d) {
			diff, at = d, i
		}
		scale = max(scale, math.Abs(float64(want[i])))
	}
	if !(diff <= rtol*(1+scale)) {
		t.Errorf("%s: max |got-want| = %.3g at %d (got %v, want %v), limit %.3g", what, diff, at, got[at], want[at], rtol*(1+scale))
	}
}

func allFinite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// sgd is momentum SGD with MindCV's hyper-parameters on a model's trainable parameters.
type sgd struct {
	b      ops.Backend
	params []*nn.Param
	accum  []ops.Tensor
}

func newSGD(b ops.Backend, params []*nn.Param) *sgd {
	o := &sgd{b: b}
	for _, p := range params {
		if p.Trainable {
			a := b.Alloc(ops.Float32, p.Value.Shape())
			b.Fill(a, 0)
			o.params, o.accum = append(o.params, p), append(o.accum, a)
		}
	}
	return o
}

func (o *sgd) step(lr float64) {
	for i, p := range o.params {
		o.b.SGDMomentum(p.Value, p.Grad, o.accum[i], ops.SGDParams{LR: lr, Momentum: 0.9, WeightDecay: 1e-4})
	}
}

func (o *sgd) free() {
	for _, a := range o.accum {
		o.b.Free(a)
	}
}
