package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnext/resnext/ops"
)

// kit bundles a backend with several threads (so large kernels take their parallel path), a
// seeded random source and helpers that move data in and out and compare results.
type kit struct {
	t   *testing.T
	b   *Backend
	rng *rand.Rand
}

func newKit(t *testing.T) *kit {
	t.Helper()
	b := New(Options{Threads: 4})
	t.Cleanup(func() { b.Close() })
	return &kit{t: t, b: b, rng: rand.New(rand.NewPCG(7, uint64(len(t.Name()))))}
}

// tensor uploads float32 data.
func (k *kit) tensor(shape ops.Shape, data []float32) ops.Tensor {
	return ops.FromFloat32(k.b, ops.Float32, shape, data)
}

// out allocates a float32 tensor filled with NaN, so that an element a kernel forgets shows up.
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

// randn returns n normal values times scale.
func (k *kit) randn(n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(k.rng.NormFloat64() * scale)
	}
	return v
}

// ints returns n values drawn from {0, ..., m-1}: data full of ties.
func (k *kit) ints(n, m int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(k.rng.IntN(m))
	}
	return v
}

// close checks got against want elementwise: |got-want| <= tol*(1+|want|), NaN matching NaN.
func (k *kit) close(what string, got []float32, want []float64, tol float64) {
	k.t.Helper()
	k.closeScaled(what, got, want, tol, 1)
}

// closeScaled is close with the tolerance tol*(scale+|want|), for results whose error follows the
// size of intermediate terms (scale) rather than of the result.
func (k *kit) closeScaled(what string, got []float32, want []float64, tol, scale float64) {
	k.t.Helper()
	if len(got) != len(want) {
		k.t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i, w := range want {
		g := float64(got[i])
		ok := math.Abs(g-w) <= tol*(scale+math.Abs(w)) || (math.IsNaN(w) && math.IsNaN(g)) || g == w
		if !ok {
			if bad < 5 {
				k.t.Errorf("%s[%d] = %v, want %v", what, i, g, w)
			}
			bad++
		}
	}
	if bad > 0 {
		k.t.Fatalf("%s: %d of %d values differ", what, bad, len(want))
	}
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

func widen(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}

func TestReLU(t *testing.T) {
	k := newKit(t)
	special := []float32{-1, 0, float32(math.Copysign(0, -1)), 2.5, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for _, n := range []int{1, len(special), 200003} {
		data := k.randn(n, 1)
		if n == len(special) {
			copy(data, special)
		}
		want := make([]float64, n)
		for i, v := range data {
			want[i] = math.Max(float64(v), 0) // NaN stays NaN
			if math.IsNaN(float64(v)) {
				want[i] = math.NaN()
			}
		}
		x, y := k.tensor(ops.Shape{n}, data), k.out(n)
		k.b.ReLU(x, y)
		k.close("ReLU", k.read(y), want, 0)
		k.b.ReLU(x, x) // in place
		k.close("ReLU in place", k.read(x), want, 0)
	}
}

func TestReLUBackward(t *testing.T) {
	k := newKit(t)
	for _, shape := range []ops.Shape{{1}, {3, 5}, {4, 64, 30, 30}} {
		n := shape.Numel()
		ydata, dydata := k.randn(n, 1), k.randn(n, 1)
		if n > 2 {
			ydata[0], ydata[1] = float32(math.NaN()), 0
		}
		want := make([]float64, n)
		for i, v := range ydata {
			if v > 0 {
				want[i] = float64(dydata[i])
			}
		}
		dy, y, dx := k.tensor(shape, dydata), k.tensor(shape, ydata), k.out(shape...)
		k.b.ReLUBackward(dy, y, dx)
		k.close("dx", k.read(dx), want, 0)
		k.b.ReLUBackward(dy, y, dy) // dx may be dy
		k.close("dx in place", k.read(dy), want, 0)
	}
}

func TestAddScale(t *testing.T) {
	k := newKit(t)
	for _, n := range []int{1, 33, 150001} {
		for _, alpha := range []float64{1, -1, 0.5, 0} {
			ad, bd := k.randn(n, 1), k.randn(n, 3)
			want := make([]float64, n)
			scaled := make([]float64, n)
			for i := range want {
				want[i] = float64(ad[i]) + float64(float32(alpha))*float64(bd[i])
				scaled[i] = float64(float32(alpha)) * float64(ad[i])
			}
			a, b, y := k.tensor(ops.Shape{n}, ad), k.tensor(ops.Shape{n}, bd), k.out(n)
			k.b.Add(a, b, y, alpha)
			k.close("Add", k.read(y), want, 3e-6)
			k.b.Scale(a, y, alpha)
			k.close("Scale", k.read(y), scaled, 1e-6)
			k.b.Add(a, b, b, alpha) // y may be b
			k.close("Add into b", k.read(b), want, 3e-6)
			k.b.Add(a, a, a, alpha) // and a
			for i := range want {
				want[i] = float64(ad[i]) * (1 + float64(float32(alpha)))
			}
			k.close("Add into a", k.read(a), want, 1e-6)
			k.b.Scale(a, a, 2)
			for i := range want {
				want[i] *= 2
			}
			k.close("Scale in place", k.read(a), want, 1e-6)
		}
	}
}

func TestBiasAddGrad(t *testing.T) {
	k := newKit(t)
	for _, shape := range []ops.Shape{{1, 1}, {4, 10}, {3, 5, 7}, {2, 3, 4, 5}, {1, 1, 1, 1}, {16, 64, 32, 32}} {
		n, c := shape[0], shape[1]
		inner := shape.Numel() / (n * c)
		xd, bd := k.randn(shape.Numel(), 1), k.randn(c, 1)
		want := make([]float64, len(xd))
		sums := make([]float64, c)
		for i, v := range xd {
			ch := i / inner % c
			want[i] = float64(v) + float64(bd[ch])
			sums[ch] += float64(v)
		}
		x, bias, y := k.tensor(shape, xd), k.tensor(ops.Shape{c}, bd), k.out(shape...)
		k.b.BiasAdd(x, bias, y)
		k.close(fmt.Sprintf("BiasAdd %v", shape), k.read(y), want, 1e-6)
		db := k.out(c)
		k.b.BiasGrad(x, db)
		k.close(fmt.Sprintf("BiasGrad %v", shape), k.read(db), sums, 1e-5)
		k.b.BiasAdd(x, bias, x) // in place
		k.close("BiasAdd in place", k.read(x), want, 1e-6)
	}
}

func TestElementwiseMisuse(t *testing.T) {
	k := newKit(t)
	a, b := k.out(2, 3), k.out(3, 2)
	k.panics(func() { k.b.Add(a, b, a, 1) }, "ops.Add", "[3, 2]", "[2, 3]")
	k.panics(func() { k.b.BiasAdd(a, k.out(2), a) }, "ops.BiasAdd", "bias")
	k.panics(func() { k.b.BiasGrad(k.out(4), k.out(4)) }, "ops.BiasGrad", "[4]")
	h := k.b.Alloc(ops.Float16, ops.Shape{2, 3})
	k.panics(func() { k.b.Scale(h, h, 2) }, "ops.Scale", "float16")
	k.b.Free(b)
	k.panics(func() { k.b.ReLU(b, b) }, "after Free")
}
