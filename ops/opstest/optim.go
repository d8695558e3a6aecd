package opstest

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// sgdCases are every combination of plain and Nesterov momentum, momentum 0 and 0.9, weight decay
// 0 and 0.01, and gradient scale 0 (meaning 1), 1 and 1/1024 (gradients come scaled up, as under a
// loss scale).
var sgdCases = func() (cases []ops.SGDParams) {
	for _, nesterov := range []bool{false, true} {
		for _, momentum := range []float64{0, 0.9} {
			for _, wd := range []float64{0, 1e-2} {
				for _, gs := range []float64{0, 1, 1.0 / 1024} {
					cases = append(cases, ops.SGDParams{LR: 0.1, Momentum: momentum, WeightDecay: wd, Nesterov: nesterov, GradScale: gs})
				}
			}
		}
	}
	return cases
}()

func sgdName(p ops.SGDParams) string {
	kind := "plain"
	if p.Nesterov {
		kind = "nesterov"
	}
	return fmt.Sprintf("%s/momentum_%g/weight_decay_%g/grad_scale_%g", kind, p.Momentum, p.WeightDecay, p.GradScale)
}

// sgdShapes are the shapes of every SGD case: a small one and one long enough to be split across
// threads; the case with every feature on also runs on a larger one.
func sgdShapes(p ops.SGDParams) []ops.Shape {
	if p.Nesterov && p.Momentum != 0 && p.WeightDecay != 0 && p.GradScale != 0 && p.GradScale != 1 {
		return []ops.Shape{{3, 5}, {20011}, {100003}}
	}
	return []ops.Shape{{3, 5}, {20011}}
}

// testSGDMomentum runs three steps (the accumulator carries over) and compares the accumulator and
// the change of the parameters, not the parameters themselves, so that a small term such as the
// weight decay is not lost in the rounding of parameters much larger than one step.
func testSGDMomentum(t *testing.T, b ops.Backend) {
	for _, p := range sgdCases {
		for _, shape := range sgdShapes(p) {
			run(t, b, sgdName(p)+"/"+dims(shape), func(e *env) {
				n := shape.Numel()
				param, accum := e.randn(n), e.randnScaled(n, 0, 0.1)
				P, A := e.tensor(shape, param), e.tensor(shape, accum)
				wantP, wantA := f64(param), f64(accum)
				gs := p.GradScale
				if gs == 0 {
					gs = 1
				}
				for range 3 {
					grad := e.randnScaled(n, 0, 1/gs)
					G := e.tensor(shape, grad)
					b.SGDMomentum(P, G, A, p)
					e.unchanged("grad", G, grad)
					e.free(G)
					wantP, wantA = refSGD(wantP, f64(grad), wantA, p)
				}
				gotP := e.read(P)
				gotStep, wantStep := make([]float32, n), make([]float64, n)
				for i := range gotP {
					gotStep[i] = float32(float64(gotP[i]) - float64(param[i]))
					wantStep[i] = wantP[i] - float64(param[i])
				}
				e.near("param change", gotStep, wantStep, tolElem)
				e.near("accum", e.read(A), wantA, tolElem)
				e.sync()
			})
		}
	}
	t.Run("Group", func(t *testing.T) { testSGDMomentumGroup(t, b) })
}

// groupShapes are the parameters of a group step: odd sizes (none a multiple of 512 bytes but
// the last), a single element and an empty tensor among them.
var groupShapes = []ops.Shape{{3, 5}, {129}, {1}, {2, 3, 3, 3}, {0}, {7, 11}, {1000}, {128}}

// sgdSet is a list of parameters with their gradients and accumulators.
type sgdSet struct{ params, grads, accums []ops.Tensor }

// sgdSets uploads the same parameters and accumulators twice: one set for the group step, one
// for SGDMomentum on each triple, which is what the group step must equal.
func (e *env) sgdSets(shapes []ops.Shape, gradType ops.DType) (group, each sgdSet) {
	for _, shape := range shapes {
		n := shape.Numel()
		param, accum := e.randn(n), e.randnScaled(n, 0, 0.1)
		for _, s := range []*sgdSet{&group, &each} {
			s.params = append(s.params, e.tensor(shape, param))
			s.accums = append(s.accums, e.tensor(shape, accum))
			s.grads = append(s.grads, e.alloc(gradType, shape))
		}
	}
	return group, each
}

// slice is the members i to j of s.
func (s sgdSet) slice(i, j int) sgdSet {
	return sgdSet{s.params[i:j], s.grads[i:j], s.accums[i:j]}
}

// newGrads writes the same random gradients, scaled up by 1/GradScale as a scaled loss gives
// them, into both sets.
func (e *env) newGrads(p ops.SGDParams, a, b sgdSet) {
	gs := p.GradScale
	if gs == 0 {
		gs = 1
	}
	for i, g := range a.grads {
		v := e.randnScaled(g.Shape().Numel(), 0, 1/gs)
		raw := ops.Bytes(v)
		if g.DType() != ops.Float32 {
			h := ops.FromFloat32(e.b, g.DType(), g.Shape(), v)
			e.b.Copy(h, g)
			e.b.Copy(h, b.grads[i])
			e.b.Free(h)
			continue
		}
		e.b.Write(g, raw)
		e.b.Write(b.grads[i], raw)
	}
}

// groupStep writes new gradients into g and each, runs the group step on lists (members of g)
// and the reference on eachLists (the same members of each), and checks that g and each agree.
func (e *env) groupStep(what string, p ops.SGDParams, g, each, lists, eachLists sgdSet) {
	e.t.Helper()
	e.newGrads(p, g, each)
	ops.SGDMomentumGroup(e.b, lists.params, lists.grads, lists.accums, p)
	stepEach(e.b, eachLists, p)
	e.sameSets(what, g, each)
}

// stepEach is the reference: SGDMomentum on each triple of s in turn.
func stepEach(b ops.Backend, s sgdSet, p ops.SGDParams) {
	for i := range s.params {
		b.SGDMomentum(s.params[i], s.grads[i], s.accums[i], p)
	}
}

// sameSets checks that two sets hold the same values bit for bit.
func (e *env) sameSets(when string, got, want sgdSet) {
	e.t.Helper()
	for i := range got.params {
		shape := dims(got.params[i].Shape())
		e.exact(fmt.Sprintf("%s: param %d (%s)", when, i, shape), e.read(got.params[i]), f64(e.read(want.params[i])))
		e.exact(fmt.Sprintf("%s: accum %d (%s)", when, i, shape), e.read(got.accums[i]), f64(e.read(want.accums[i])))
		e.exact(fmt.Sprintf("%s: grad %d (%s)", when, i, shape), e.read(got.grads[i]), f64(e.read(want.grads[i])))
	}
}

// testSGDMomentumGroup checks ops.SGDMomentumGroup against SGDMomentum on each triple, bit for bit
// (the step is elementwise, so a backend that runs many parameters as one tensor gets the same
// values): several steps with the same lists, then a subset of them, the tensors written, copied
// and filled between steps, lists that share tensors with another, a tensor twice in one list,
// float16 gradients, and members freed. A backend may move the tensors of a group it runs often;
// everything else must see them as before.
func testSGDMomentumGroup(t *testing.T, b ops.Backend) {
	for _, p := range sgdCases {
		run(t, b, sgdName(p), func(e *env) {
			g, each := e.sgdSets(groupShapes, ops.Float32)
			for step := range 3 {
				e.groupStep(fmt.Sprintf("step %d", step+1), p, g, each, g, each)
			}

			// A subset of the lists (a layer frozen): the members step alone.
			sub, subEach := g.slice(1, 6), each.slice(1, 6)
			e.groupStep("subset", p, sub, subEach, sub, subEach)

			// The tensors stay usable as tensors: Write, Copy both ways and Fill, then the whole
			// group again.
			v := e.randn(groupShapes[0].Numel())
			b.Write(g.params[0], ops.Bytes(v))
			b.Write(each.params[0], ops.Bytes(v))
			e.exact("written param", e.read(g.params[0]), f64(v))
			out := e.alloc(ops.Float32, groupShapes[1])
			b.Copy(g.params[1], out)
			e.exact("param copied out", e.read(out), f64(e.read(each.params[1])))
			in := e.tensor(groupShapes[3], e.randn(groupShapes[3].Numel()))
			b.Copy(in, g.params[3])
			b.Copy(in, each.params[3])
			b.Fill(g.accums[5], 0.5)
			b.Fill(each.accums[5], 0.5)
			e.groupStep("after Write, Copy and Fill", p, g, each, g, each)

			// Members freed: the others still step, alone and as a smaller list.
			for _, s := range []sgdSet{g, each} {
				e.free(s.params[0], s.grads[0], s.accums[0], s.params[6], s.grads[6], s.accums[6])
			}
			rest, restEach := g.slice(1, 6), each.slice(1, 6)
			e.newGrads(p, rest, restEach)
			stepEach(b, rest, p)
			stepEach(b, restEach, p)
			e.groupStep("after freeing members", p, rest, restEach, rest, restEach)
			e.sync()
		})
	}

	p := ops.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-2, GradScale: 1.0 / 1024}
	run(t, b, "overlapping_lists", func(e *env) {
		g, each := e.sgdSets(groupShapes, ops.Float32)
		a, aEach := g.slice(0, 4), each.slice(0, 4)
		c, cEach := g.slice(3, 8), each.slice(3, 8)
		for step := range 3 {
			e.groupStep(fmt.Sprintf("step %d, first list", step+1), p, a, aEach, a, aEach)
			e.groupStep(fmt.Sprintf("step %d, second list", step+1), p, c, cEach, c, cEach)
		}
		e.sync()
	})
	run(t, b, "tensor_twice", func(e *env) {
		g, each := e.sgdSets(groupShapes[:3], ops.Float32)
		twice := sgdSet{append(g.params, g.params[0]), append(g.grads, g.grads[0]), append(g.accums, g.accums[0])}
		twiceEach := sgdSet{append(each.params, each.params[0]), append(each.grads, each.grads[0]), append(each.accums, each.accums[0])}
		for step := range 2 {
			e.groupStep(fmt.Sprintf("step %d", step+1), p, g, each, twice, twiceEach)
		}
		e.sync()
	})
	run(t, b, "float16_grads", func(e *env) {
		if !ops.CanCompute(b, ops.Float16) {
			e.t.Skipf("%s computes in float32 only", b.Name())
		}
		g, each := e.sgdSets(groupShapes, ops.Float16)
		for step := range 2 {
			e.groupStep(fmt.Sprintf("step %d", step+1), p, g, each, g, each)
		}
		e.sync()
	})
	run(t, b, "empty", func(e *env) {
		ops.SGDMomentumGroup(b, nil, nil, nil, p)
		e.sync()
	})
	run(t, b, "misuse", func(e *env) {
		g, _ := e.sgdSets(groupShapes[:3], ops.Float32)
		e.panics("SGDMomentumGroup", func() { ops.SGDMomentumGroup(b, g.params, g.grads[:2], g.accums, p) },
			"3 params, 2 grads and 3 accums")
		bad := sgdSet{g.params, []ops.Tensor{g.grads[0], g.grads[2], g.grads[2]}, g.accums}
		e.panics("SGDMomentumGroup", func() { ops.SGDMomentumGroup(b, bad.params, bad.grads, bad.accums, p) },
			"index 1", "grad", "[1]", "[129]")
		e.panics("SGDMomentumGroup", func() {
			ops.SGDMomentumGroup(b, g.params, g.grads, g.accums, ops.SGDParams{LR: 0.1, Momentum: -1})
		}, "negative")
		half := e.alloc(ops.Float16, groupShapes[1])
		e.panics("SGDMomentumGroup", func() {
			ops.SGDMomentumGroup(b, []ops.Tensor{g.params[0], half}, g.grads[:2], g.accums[:2], p)
		}, "index 1", "param", "float16")
		e.sync()
	})
}

// finiteCase is one AllFinite input: tensors given by dtype and values.
type finiteCase struct {
	name    string
	tensors []finiteTensor
	want    bool
}

// finiteTensor is a tensor of dtype dt holding values (converted to dt) or, for the half types,
// the raw bit patterns raw.
type finiteTensor struct {
	dt     ops.DType
	values []float32
	raw    []uint16
}

func ramp(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%97) - 48
	}
	return v
}

// with returns a copy of v with v[i] = x.
func with(v []float32, i int, x float32) []float32 {
	v = append([]float32(nil), v...)
	if i < 0 {
		i += len(v)
	}
	v[i] = x
	return v
}

var (
	nan  = float32(math.NaN())
	pinf = float32(math.Inf(1))
	ninf = float32(math.Inf(-1))
)

var finiteCases = []finiteCase{
	{"no_tensors", nil, true},
	{"finite", []finiteTensor{{dt: ops.Float32, values: ramp(33)}}, true},
	{"finite_extremes", []finiteTensor{{dt: ops.Float32, values: []float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0}}}, true},
	{"nan_first", []finiteTensor{{dt: ops.Float32, values: with(ramp(33), 0, nan)}}, false},
	{"nan_last", []finiteTensor{{dt: ops.Float32, values: with(ramp(33), -1, nan)}}, false},
	{"pos_inf", []finiteTensor{{dt: ops.Float32, values: with(ramp(17), 9, pinf)}}, false},
	{"neg_inf", []finiteTensor{{dt: ops.Float32, values: with(ramp(17), 3, ninf)}}, false},
	{"large_finite", []finiteTensor{{dt: ops.Float32, values: ramp(100003)}}, true},
	{"large_nan_last", []finiteTensor{{dt: ops.Float32, values: with(ramp(100003), -1, nan)}}, false},
	{"several_finite", []finiteTensor{{dt: ops.Float32, values: ramp(5)}, {dt: ops.Float32, values: ramp(1)}, {dt: ops.Float32, values: ramp(300)}}, true},
	{"several_inf_in_last", []finiteTensor{{dt: ops.Float32, values: ramp(5)}, {dt: ops.Float32, values: ramp(1)}, {dt: ops.Float32, values: with(ramp(300), 123, pinf)}}, false},
	{"several_nan_in_first", []finiteTensor{{dt: ops.Float32, values: with(ramp(5), 2, nan)}, {dt: ops.Float32, values: ramp(300)}}, false},
	{"float16_finite_max", []finiteTensor{{dt: ops.Float16, values: []float32{65504, -65504, 1, 0}}}, true},
	{"float16_inf", []finiteTensor{{dt: ops.Float16, values: with(ramp(19), 7, pinf)}}, false},
	{"float16_overflow_to_inf", []finiteTensor{{dt: ops.Float16, values: with(ramp(19), 7, 70000)}}, false},
	{"float16_nan", []finiteTensor{{dt: ops.Float16, values: with(ramp(19), -1, nan)}}, false},
	{"bfloat16_finite", []finiteTensor{{dt: ops.BFloat16, values: []float32{3e38, -1, 0}}}, true},
	{"bfloat16_neg_inf", []finiteTensor{{dt: ops.BFloat16, values: with(ramp(9), 0, ninf)}}, false},
	{"mixed_dtypes_nan_in_float16", []finiteTensor{{dt: ops.Float32, values: ramp(10)}, {dt: ops.Float16, values: with(ramp(10), 4, nan)}}, false},
	{"nan_then_finite_float16", []finiteTensor{{dt: ops.Float32, values: []float32{nan}}, {dt: ops.Float16, values: []float32{1}}}, false},
	{"large_neg_inf_early", []finiteTensor{{dt: ops.Float32, values: with(ramp(100003), 3, ninf)}}, false},
	{"float16_finite_max_subnormal_neg_zero", []finiteTensor{{dt: ops.Float16, raw: []uint16{0x7bff, 0xfbff, 0x0001, 0x8000}}}, true},
	{"float16_neg_inf", []finiteTensor{{dt: ops.Float16, raw: []uint16{0xfc00, 0}}}, false},
	{"float16_signalling_nan", []finiteTensor{{dt: ops.Float16, raw: []uint16{0x3c00, 0xfc01}}}, false},
	// 0x7c00 is a finite bfloat16 (2^121) whose bits are float16's +Inf.
	{"bfloat16_finite_max", []finiteTensor{{dt: ops.BFloat16, raw: []uint16{0x7f7f, 0xff7f, 0x7c00}}}, true},
	{"bfloat16_nan", []finiteTensor{{dt: ops.BFloat16, raw: []uint16{0x3f80, 0x7fc0}}}, false},
}

func testAllFinite(t *testing.T, b ops.Backend) {
	for _, c := range finiteCases {
		run(t, b, c.name, func(e *env) {
			ts := make([]ops.Tensor, len(c.tensors))
			for i, ft := range c.tensors {
				if ft.raw != nil {
					ts[i] = e.alloc(ft.dt, ops.Shape{len(ft.raw)})
					b.Write(ts[i], ops.Bytes(ft.raw))
					continue
				}
				ts[i] = e.tensorOf(ft.dt, ops.Shape{len(ft.values)}, ft.values)
			}
			out := e.alloc(ops.Bool, ops.Shape{})
			// Start from the wrong answer so that an out the kernel does not write is caught.
			if c.want {
				b.Fill(out, 0)
			} else {
				b.Fill(out, 1)
			}
			b.AllFinite(ts, out)
			got, err := ops.ToBool(b, out)
			if err != nil {
				e.t.Fatalf("read out: %v", err)
			}
			if got[0] != c.want {
				e.t.Errorf("AllFinite = %v, want %v", got[0], c.want)
			}
			e.sync()
		})
	}
}
