package nn_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

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
	x := testutil.Upload(b, c.shape, c.x)
	defer b.Free(x)
	y := c.layer.Forward(x)
	yShape := y.Shape().Clone()
	w := testutil.Randn(r, yShape.Numel(), 1)
	wt := testutil.Upload(b, yShape, w)
	defer b.Free(wt)
	dx := testutil.Download(t, b, c.layer.Backward(wt))
	grads := map[*nn.Param][]float32{}
	for _, p := range c.layer.Params() {
		if p.Trainable {
			grads[p] = testutil.Download(t, b, p.Grad)
		}
	}

	loss := func() float64 {
		y := c.layer.Forward(x)
		if !y.Shape().Equal(yShape) {
			t.Fatalf("output shape changed from %v to %v", yShape, y.Shape())
		}
		return testutil.Dot(w, testutil.Download(t, b, y))
	}
	// along checks one tensor: set(v) writes the perturbed values, grad is Backward's gradient.
	along := func(what string, orig, grad []float32, set func([]float32)) {
		t.Helper()
		probe := []testutil.Probe{{Value: orig, Grad: grad, Set: set}}
		for range 3 {
			an, fd := testutil.Directional(loss, c.h, probe, [][]float32{testutil.Uniform(r, len(orig))})
			if math.Abs(fd-an) > c.tol*(1+math.Abs(an)) {
				t.Errorf("%s: directional derivative %.6g, finite difference %.6g", what, an, fd)
			}
		}
	}
	along("input", c.x, dx, func(v []float32) { b.Write(x, ops.Bytes(v)) })
	for _, p := range c.layer.Params() {
		if g, ok := grads[p]; ok {
			orig := testutil.Download(t, b, p.Value)
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
