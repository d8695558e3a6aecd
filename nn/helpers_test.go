package nn_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/cpu"
)

func newBackend(t *testing.T) ops.Backend {
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

func upload(b ops.Backend, shape ops.Shape, v []float32) ops.Tensor {
	return ops.FromFloat32(b, ops.Float32, shape, v)
}

func download(t *testing.T, b ops.Backend, x ops.Tensor) []float32 {
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

// uniform draws n values from U(-1, 1).
func uniform(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(2*r.Float64() - 1)
	}
	return v
}

// awayFromZero draws n values with magnitudes in [0.2, 1.2], so that a small step never crosses a
// ReLU's kink.
func awayFromZero(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(0.2 + r.Float64())
		if r.IntN(2) == 0 {
			v[i] = -v[i]
		}
	}
	return v
}

// distinct returns a random permutation of 0.1*i - n/20: values at least 0.1 apart, so that a small
// step never changes a max pool's winner.
func distinct(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i, j := range r.Perm(n) {
		v[i] = 0.1*float32(j) - float32(n)/20
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

func axpy(x []float32, alpha float64, v []float32) []float32 {
	out := make([]float32, len(x))
	for i := range x {
		out[i] = float32(float64(x[i]) + alpha*float64(v[i]))
	}
	return out
}

// assertClose checks max|got-want| <= rtol*(1+max|want|).
func assertClose(t *testing.T, what string, got, want []float32, rtol float64) {
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

// gradCase is a layer with an input for a gradient check.
type gradCase struct {
	layer nn.Layer
	shape ops.Shape
	x     []float32
	h     float64 // finite-difference step
	tol   float64 // relative tolerance of a directional derivative
}

// checkGrads compares Backward with central differences of the scalar L = <w, Forward(x)>, w random
// and fixed, along random directions: for the input and for every trainable parameter.
func checkGrads(t *testing.T, b ops.Backend, c gradCase) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	x := upload(b, c.shape, c.x)
	defer b.Free(x)
	y := c.layer.Forward(x)
	yShape := y.Shape().Clone()
	w := randn(r, yShape.Numel(), 1)
	wt := upload(b, yShape, w)
	defer b.Free(wt)
	dx := download(t, b, c.layer.Backward(wt))
	grads := map[*nn.Param][]float32{}
	for _, p := range c.layer.Params() {
		if p.Trainable {
			grads[p] = download(t, b, p.Grad)
		}
	}

	loss := func() float64 {
		y := c.layer.Forward(x)
		if !y.Shape().Equal(yShape) {
			t.Fatalf("output shape changed from %v to %v", yShape, y.Shape())
		}
		return dot(w, download(t, b, y))
	}
	// along checks one tensor: set(v) writes the perturbed values, grad is Backward's gradient.
	along := func(what string, orig, grad []float32, set func([]float32)) {
		t.Helper()
		for range 3 {
			v := uniform(r, len(orig))
			set(axpy(orig, c.h, v))
			lp := loss()
			set(axpy(orig, -c.h, v))
			lm := loss()
			set(orig)
			fd, an := (lp-lm)/(2*c.h), dot(grad, v)
			if math.Abs(fd-an) > c.tol*(1+math.Abs(an)) {
				t.Errorf("%s: directional derivative %.6g, finite difference %.6g", what, an, fd)
			}
		}
	}
	along("input", c.x, dx, func(v []float32) { b.Write(x, ops.Bytes(v)) })
	for _, p := range c.layer.Params() {
		if g, ok := grads[p]; ok {
			orig := download(t, b, p.Value)
			along(p.Name, orig, g, func(v []float32) { b.Write(p.Value, ops.Bytes(v)) })
		}
	}
}

// mustPanic runs f and checks that it panics with a message containing every one of parts.
func mustPanic(t *testing.T, f func(), parts ...string) {
	t.Helper()
	defer func() {
		t.Helper()
		msg, _ := recover().(string)
		if msg == "" {
			t.Errorf("no panic, want one mentioning %q", parts)
			return
		}
		for _, p := range parts {
			if !strings.Contains(msg, p) {
				t.Errorf("panic %q does not mention %q", msg, p)
			}
		}
	}()
	f()
}
