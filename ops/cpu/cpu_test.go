package cpu

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/resnext/resnext/ops"
)

// The kernels' interface behaviour is checked by the conformance suite (conformance_test.go). The
// tests in this package cover what is the CPU backend's own: its internals (GEMM, the convolution's
// column matrices, parallelFor) and the choices the interface leaves to a backend (float32-only
// kernels, label values checked on the host, the mask layout, non-canonical Bool bytes).

// kit is a backend on two threads with helpers that move data in and out.
type kit struct {
	t *testing.T
	b *Backend
}

func newKit(t *testing.T) *kit {
	t.Helper()
	b := New(Options{Threads: 2})
	t.Cleanup(func() { b.Close() })
	return &kit{t: t, b: b}
}

// tensor uploads float32 data.
func (k *kit) tensor(shape ops.Shape, data []float32) ops.Tensor {
	return ops.FromFloat32(k.b, ops.Float32, shape, data)
}

// out allocates a float32 tensor filled with NaN.
func (k *kit) out(shape ...int) ops.Tensor {
	t := k.b.Alloc(ops.Float32, shape)
	k.b.Fill(t, math.NaN())
	return t
}

func (k *kit) read(t ops.Tensor) []float32 {
	k.t.Helper()
	v, err := ops.ToFloat32(k.b, t)
	if err != nil {
		k.t.Fatal(err)
	}
	return v
}

func (k *kit) readInt32(t ops.Tensor) []int32 {
	k.t.Helper()
	v, err := ops.ToInt32(k.b, t)
	if err != nil {
		k.t.Fatal(err)
	}
	return v
}

// panics checks that f panics with a message containing every one of the given fragments.
func (k *kit) panics(f func(), fragments ...string) {
	k.t.Helper()
	msg := func() (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		f()
		return "<no panic>"
	}()
	for _, s := range fragments {
		if !strings.Contains(msg, s) {
			k.t.Errorf("panic %q does not mention %q", msg, s)
		}
	}
}

// TestFloat32Only checks that kernels the interface allows in half precision panic here, naming
// the dtype: the CPU backend computes in float32 only (Cast first).
func TestFloat32Only(t *testing.T) {
	k := newKit(t)
	h := func(shape ...int) ops.Tensor { return k.b.Alloc(ops.Float16, shape) }
	c3 := k.out(3)
	k.panics(func() { k.b.BatchNormInfer(h(2, 3, 4, 4), c3, c3, c3, c3, h(2, 3, 4, 4), 1e-5) }, "ops.BatchNormInfer", "float16")
	k.panics(func() { k.b.Scale(h(2, 3), h(2, 3), 2) }, "ops.Scale", "float16")
	k.panics(func() { k.b.SGDMomentum(k.out(4), h(4), k.out(4), ops.SGDParams{LR: 0.1}) }, "ops.SGDMomentum", "float16")
}
