package opstest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/resnext/resnext/ops"
)

// Tolerances. Every float comparison uses one metric: the largest absolute difference between the
// backend's output and the float64 reference, relative to the largest magnitude of the reference,
//
//	max|got - want| <= tol * max(max|want|, 1e-6),
//
// so a kernel is judged against the scale of its whole output, not element by element (an element
// that cancels to nearly zero may carry the rounding of its large neighbours). Any NaN or Inf the
// reference does not have fails at once: outputs are filled with NaN before each call, so an element
// a kernel forgets to write shows up as NaN.
const (
	// tolReduce is for kernels that sum many float32 terms (convolution, matmul, batch norm,
	// pooling averages, cross-entropy).
	tolReduce = 1e-4
	// tolElem is for elementwise kernels: a few roundings per element.
	tolElem = 1e-5
	// tolFD is for directional finite differences of the backend in float32 (see directional).
	tolFD = 2e-2
)

// env is the context of one subtest: the backend, a random source seeded from the subtest's name
// (so every run sees the same data) and the tensors to free when the subtest ends.
type env struct {
	t    *testing.T
	b    ops.Backend
	rng  *rand.Rand
	live map[ops.Tensor]bool
}

// run runs fn as the subtest name of t with a fresh env. A panic (a kernel that is missing or
// broken) becomes a failure of that subtest only, and every tensor the subtest allocated through
// the env is freed when it ends, whatever the outcome.
func run(t *testing.T, b ops.Backend, name string, fn func(e *env)) {
	t.Helper()
	// The seed is the kernel's group and the case (not the full name, which holds the caller's
	// test and backend variant), so every backend configuration sees the same data for a case.
	group := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
	seed := group + "/" + name
	t.Run(name, func(t *testing.T) {
		e := newEnv(t, b, seed)
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panic: %v\n%s", r, shortStack())
			}
		}()
		fn(e)
	})
}

func newEnv(t *testing.T, b ops.Backend, seed string) *env {
	h := fnv.New64a()
	h.Write([]byte(seed))
	e := &env{t: t, b: b, rng: rand.New(rand.NewPCG(h.Sum64(), 0x9e3779b97f4a7c15)), live: map[ops.Tensor]bool{}}
	t.Cleanup(e.freeAll)
	return e
}

// shortStack is the stack of a recovered panic, cut to the frames that locate it.
func shortStack() string {
	s := string(debug.Stack())
	const limit = 3000
	if len(s) > limit {
		s = s[:limit] + "\n\t..."
	}
	return s
}

func (e *env) track(t ops.Tensor) ops.Tensor {
	e.live[t] = true
	return t
}

// free releases tensors before the subtest ends (in loops that allocate many).
func (e *env) free(ts ...ops.Tensor) {
	for _, t := range ts {
		if t == nil || !e.live[t] {
			continue
		}
		delete(e.live, t)
		e.b.Free(t)
	}
}

func (e *env) freeAll() {
	for t := range e.live {
		if msg, bad := catch(func() { e.b.Free(t) }); bad {
			e.t.Errorf("Free %v %v: %s", t.Shape(), t.DType(), msg)
		}
	}
	clear(e.live)
}

// alloc allocates a tensor with undefined contents.
func (e *env) alloc(dt ops.DType, shape ops.Shape) ops.Tensor {
	return e.track(e.b.Alloc(dt, shape))
}

// tensor uploads float32 data.
func (e *env) tensor(shape ops.Shape, data []float32) ops.Tensor {
	return e.tensorOf(ops.Float32, shape, data)
}

// tensorOf uploads data converted to the floating-point type dt.
func (e *env) tensorOf(dt ops.DType, shape ops.Shape, data []float32) ops.Tensor {
	return e.track(ops.FromFloat32(e.b, dt, shape, data))
}

// labels uploads Int32 labels.
func (e *env) labels(data []int32) ops.Tensor {
	return e.track(ops.FromInt32(e.b, ops.Shape{len(data)}, data))
}

// out allocates a float32 output and fills it with NaN, so that any element the kernel does not
// write is caught.
func (e *env) out(shape ops.Shape) ops.Tensor {
	t := e.alloc(ops.Float32, shape)
	e.b.Fill(t, math.NaN())
	return t
}

// read downloads a floating-point tensor as float32.
func (e *env) read(t ops.Tensor) []float32 {
	e.t.Helper()
	v, err := ops.ToFloat32(e.b, t)
	if err != nil {
		e.t.Fatalf("read %v %v: %v", t.Shape(), t.DType(), err)
	}
	return v
}

// readBytes downloads the raw bytes of any tensor.
func (e *env) readBytes(t ops.Tensor) []byte {
	e.t.Helper()
	out := make([]byte, t.Shape().Numel()*t.DType().Size())
	if err := e.b.Read(t, out); err != nil {
		e.t.Fatalf("read %v %v: %v", t.Shape(), t.DType(), err)
	}
	return out
}

// randn returns n standard normal values.
func (e *env) randn(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(e.rng.NormFloat64())
	}
	return v
}

// randnScaled returns n normal values with the given mean and standard deviation.
func (e *env) randnScaled(n int, mean, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(mean + std*e.rng.NormFloat64())
	}
	return v
}

// distinct returns n distinct values step apart in random order, centred on zero: max pooling has
// no ties on them, and a perturbation smaller than step/2 never changes a window's winner.
func (e *env) distinct(n int, step float64) []float32 {
	v := make([]float32, n)
	for i, p := range e.rng.Perm(n) {
		v[i] = float32((float64(p) - float64(n)/2) * step)
	}
	return v
}

// randLabels returns n labels in [0, c), with 0 and c-1 among them when n allows.
func (e *env) randLabels(n, c int) []int32 {
	l := make([]int32, n)
	for i := range l {
		l[i] = int32(e.rng.IntN(c))
	}
	l[0] = 0
	if n > 1 {
		l[n-1] = int32(c - 1)
	}
	return l
}

// f64 widens float32 values for the reference.
func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// f32 rounds reference values to float32 (for inputs computed by the reference).
func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// near checks got against the reference want with the suite's metric (see the tolerances above).
func (e *env) near(what string, got []float32, want []float64, tol float64) {
	e.t.Helper()
	e.nearScale(what, got, want, tol, 0)
}

// nearScale is near for an output that is a sum of terms that cancel: the scale is at least
// minScale, the size of the terms (max|want| alone would ask for more precision than the terms
// carry).
func (e *env) nearScale(what string, got []float32, want []float64, tol, minScale float64) {
	e.t.Helper()
	if len(got) != len(want) {
		e.t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	scale := minScale
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	worst, at := 0.0, 0
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			e.t.Errorf("%s[%d] = %v, want %.7g (an element the kernel did not write, or a non-finite result)", what, i, g, w)
			return
		}
		if d := math.Abs(g - w); d > worst {
			worst, at = d, i
		}
	}
	if bound := tol * max(scale, 1e-6); worst > bound {
		e.t.Errorf("%s: max |got-want| = %.3g at [%d] (got %.7g, want %.7g), over %.0e x scale %.4g",
			what, worst, at, got[at], want[at], tol, scale)
	}
}

// exact checks that got equals want bit for bit as float32 (kernels that only select or copy).
func (e *env) exact(what string, got []float32, want []float64) {
	e.t.Helper()
	if len(got) != len(want) {
		e.t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	bad := 0
	for i := range want {
		if g, w := got[i], float32(want[i]); g != w && !(g != g && w != w) {
			if bad < 5 {
				e.t.Errorf("%s[%d] = %v, want %v", what, i, g, w)
			}
			bad++
		}
	}
	if bad > 5 {
		e.t.Errorf("%s: %d elements differ in all", what, bad)
	}
}

// unchanged checks that a kernel left its input t as it was uploaded.
func (e *env) unchanged(what string, t ops.Tensor, orig []float32) {
	e.t.Helper()
	got := e.read(t)
	for i := range orig {
		if math.Float32bits(got[i]) != math.Float32bits(orig[i]) {
			e.t.Errorf("input %s was modified: [%d] = %v, uploaded %v", what, i, got[i], orig[i])
			return
		}
	}
}

// catch runs fn and returns the message of its panic, if any.
func catch(fn func()) (msg string, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			msg, panicked = fmt.Sprint(r), true
		}
	}()
	fn()
	return "", false
}

// panics checks that fn panics with a message naming ops.<op>, as ops.Misuse writes it, and
// containing each of mentions.
func (e *env) panics(op string, fn func(), mentions ...string) {
	e.t.Helper()
	msg, ok := catch(fn)
	if !ok {
		e.t.Errorf("misuse of %s did not panic", op)
		return
	}
	for _, want := range append([]string{"ops." + op + ":"}, mentions...) {
		if !strings.Contains(msg, want) {
			e.t.Errorf("misuse of %s panicked with %q, want a message containing %q", op, msg, want)
		}
	}
}

// sync checks that the backend reports no runtime error after the subtest's work.
func (e *env) sync() {
	e.t.Helper()
	if err := e.b.Sync(); err != nil {
		e.t.Errorf("Sync after successful work: %v", err)
	}
}

func sqrt32(v float32) float32 { return float32(math.Sqrt(float64(v))) }

// dims names a shape in a subtest name: "3x5x7", or "scalar".
func dims(s ops.Shape) string {
	if len(s) == 0 {
		return "scalar"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}
