// Package testutil holds what the tests of several packages share: a CPU backend, a backend that
// counts allocations, host transfers, random data, closeness checks and directional derivatives.
// Only tests import it.
package testutil

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/cpu"
)

// CPU returns a CPU backend with the given number of threads, closed when the test ends.
func CPU(t testing.TB, threads int) ops.Backend {
	t.Helper()
	b := cpu.New(cpu.Options{Threads: threads})
	t.Cleanup(func() { b.Close() })
	return b
}

// Counting wraps a backend and counts Alloc and Free calls, and what they leave live.
type Counting struct {
	ops.Backend
	Allocs, Frees int
	// Live and LiveBytes are the tensors allocated and not yet freed and their bytes; PeakLive and
	// PeakBytes are the most there have been (ResetPeaks starts them over from the current values).
	Live, LiveBytes, PeakLive, PeakBytes int
	// Fresh counts the allocations that a pool keyed by exact size, as the CPU backend's, could not
	// serve from storage freed before: those that took the live tensors of their size past their
	// earlier maximum. PooledBytes is the memory such a pool holds when it never gives any back:
	// for each size, the most tensors of that size that were live at once. A training step that adds
	// no Fresh allocation needs no new memory.
	Fresh, PooledBytes int

	bySize, mostBySize map[int]int // live tensors by byte size, and their maximum
}

// Alloc counts, then allocates on the wrapped backend.
func (c *Counting) Alloc(dt ops.DType, s ops.Shape) ops.Tensor {
	c.Allocs++
	t := c.Backend.Alloc(dt, s)
	n := Bytes(t)
	c.Live++
	c.LiveBytes += n
	c.PeakLive, c.PeakBytes = max(c.PeakLive, c.Live), max(c.PeakBytes, c.LiveBytes)
	c.initSizes()
	c.bySize[n]++
	if c.bySize[n] > c.mostBySize[n] {
		c.mostBySize[n] = c.bySize[n]
		c.Fresh++
		c.PooledBytes += n
	}
	return t
}

// Free counts, then frees on the wrapped backend.
func (c *Counting) Free(t ops.Tensor) {
	c.Frees++
	n := Bytes(t)
	c.Live--
	c.LiveBytes -= n
	c.initSizes()
	c.bySize[n]--
	c.Backend.Free(t)
}

func (c *Counting) initSizes() {
	if c.bySize == nil {
		c.bySize, c.mostBySize = map[int]int{}, map[int]int{}
	}
}

// ResetPeaks sets PeakLive and PeakBytes to the current Live and LiveBytes.
func (c *Counting) ResetPeaks() { c.PeakLive, c.PeakBytes = c.Live, c.LiveBytes }

// Bytes is the size of t's elements.
func Bytes(t ops.Tensor) int { return t.Shape().Numel() * t.DType().Size() }

// Upload allocates a float32 tensor on b holding v.
func Upload(b ops.Backend, shape ops.Shape, v []float32) ops.Tensor {
	return ops.FromFloat32(b, ops.Float32, shape, v)
}

// Download reads a floating-point tensor back, failing the test on a backend error.
func Download(t testing.TB, b ops.Backend, x ops.Tensor) []float32 {
	t.Helper()
	v, err := ops.ToFloat32(b, x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Randn draws n values from N(0, std²).
func Randn(r *rand.Rand, n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	return v
}

// Uniform draws n values from U(-1, 1).
func Uniform(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(2*r.Float64() - 1)
	}
	return v
}

// Dot is the inner product, summed in float64.
func Dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// Axpy returns x + alpha*v.
func Axpy(x []float32, alpha float64, v []float32) []float32 {
	out := make([]float32, len(x))
	for i := range x {
		out[i] = float32(float64(x[i]) + alpha*float64(v[i]))
	}
	return out
}

// AllFinite reports whether no value is NaN or infinite.
func AllFinite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// AssertClose checks max|got-want| <= rtol*(1+max|want|), reporting the worst element.
func AssertClose(t testing.TB, what string, got, want []float32, rtol float64) {
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

// Probe is one tensor of a gradient check: its value, the gradient Backward gave for it, and a way
// to overwrite the value.
type Probe struct {
	Value, Grad []float32
	Set         func([]float32)
}

// Directional moves every probe by ±h along its direction in dirs (one per probe), and returns
// the analytic directional derivative sum_i <Grad_i, dirs_i> and the central difference quotient
// of loss. The probes get their values back.
func Directional(loss func() float64, h float64, probes []Probe, dirs [][]float32) (analytic, fd float64) {
	step := func(alpha float64) {
		for i, p := range probes {
			p.Set(Axpy(p.Value, alpha, dirs[i]))
		}
	}
	step(h)
	lp := loss()
	step(-h)
	lm := loss()
	step(0)
	for i, p := range probes {
		analytic += Dot(p.Grad, dirs[i])
	}
	return analytic, (lp - lm) / (2 * h)
}

// Fixture returns the tensor called name in a safetensors fixture as float32 values with its
// shape, failing the test when it is missing or not floating point.
func Fixture(t testing.TB, f *safetensors.File, name string) ([]float32, ops.Shape) {
	t.Helper()
	ts, err := f.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ts.Float32()
	if err != nil {
		t.Fatal(err)
	}
	return v, ops.Shape(ts.Shape)
}
