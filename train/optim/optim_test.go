package optim

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// param makes a named float32 parameter on b holding v, with a zero gradient when trainable.
func param(b ops.Backend, name string, v []float32, trainable bool) *nn.Param {
	p := &nn.Param{Name: name, Value: testutil.Upload(b, ops.Shape{len(v)}, v), Trainable: trainable}
	if trainable {
		p.Grad = testutil.Upload(b, ops.Shape{len(v)}, make([]float32, len(v)))
	}
	return p
}

func freeParams(b ops.Backend, ps []*nn.Param) {
	for _, p := range ps {
		b.Free(p.Value)
		if p.Grad != nil {
			b.Free(p.Grad)
		}
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// assertNear checks got against a float64 reference within rtol*(1+|want|) per element.
func assertNear(t *testing.T, what string, got []float32, want []float64, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= rtol*(1+math.Abs(want[i]))) {
			t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestSGD runs three steps of each optimizer variant over a small named parameter set and checks
// every parameter and accumulator against the update rule computed in float64, and which
// parameters get weight decay under each filter.
func TestSGD(t *testing.T) {
	names := []string{"conv1.weight", "bn1.gamma", "bn1.beta", "classifier.weight", "classifier.bias"}
	tests := []struct {
		name      string
		o         Options
		gradScale float64
		explicit  bool            // pass the gradients to Step instead of using Param.Grad
		decayed   map[string]bool // the trainable parameters that get weight decay
	}{
		{"momentum, disable", Options{Opt: "momentum", Momentum: 0.9, WeightDecay: 0.1, WeightDecayFilter: "disable"}, 1.0 / 1024, false,
			map[string]bool{"conv1.weight": true, "bn1.gamma": true, "bn1.beta": true, "classifier.weight": true, "classifier.bias": true}},
		{"Momentum (any case), nesterov, auto", Options{Opt: "Momentum", Momentum: 0.9, WeightDecay: 0.1, Nesterov: true, WeightDecayFilter: "auto"}, 0, true,
			map[string]bool{"conv1.weight": true, "classifier.weight": true, "classifier.bias": true}},
		{"sgd, norm_and_bias", Options{Opt: "sgd", Momentum: 0.8, WeightDecay: 0.05, WeightDecayFilter: "norm_and_bias"}, 0.5, false,
			map[string]bool{"conv1.weight": true, "classifier.weight": true}},
		{"sgd without momentum, nesterov alias, empty filter", Options{Opt: "nesterov", WeightDecay: 0.01}, 1, true,
			map[string]bool{"conv1.weight": true, "bn1.gamma": true, "bn1.beta": true, "classifier.weight": true, "classifier.bias": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testutil.CPU(t, 1)
			r := rand.New(rand.NewPCG(1, 2))
			var ps []*nn.Param
			for _, n := range names {
				ps = append(ps, param(b, n, testutil.Uniform(r, 5), true))
			}
			stat := param(b, "bn1.moving_mean", []float32{1, 2, 3}, false)
			frozen := param(b, "frozen.weight", []float32{4, 5}, true)
			all := append(slices.Clone(ps), stat, frozen)
			defer freeParams(b, all)

			s, err := New(b, all, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Free()
			frozen.Trainable = false // frozen after New: Step leaves it alone
			if len(s.Params()) != 6 || s.Params()[5] != frozen {
				t.Fatalf("the optimizer holds %d parameters, want the 6 trainable ones in order", len(s.Params()))
			}
			for i, p := range ps {
				wantWD := 0.0
				if tt.decayed[p.Name] {
					wantWD = tt.o.WeightDecay
				}
				if got := s.WeightDecays()[i]; got != wantWD {
					t.Errorf("%s: weight decay %v, want %v", p.Name, got, wantWD)
				}
			}

			// The reference, in float64.
			w := make([][]float64, len(ps))
			acc := make([][]float64, len(ps))
			for i, p := range ps {
				w[i] = f64(testutil.Download(t, b, p.Value))
				acc[i] = make([]float64, len(w[i]))
			}
			gs := tt.gradScale
			if gs == 0 {
				gs = 1
			}
			for step, lr := range []float64{0.5, 0.25, 0.1} {
				var grads []ops.Tensor
				g := make([][]float64, len(ps))
				for i, p := range ps {
					v := testutil.Uniform(r, 5)
					for j := range v {
						v[j] *= 1 / float32(gs) // gradients as they come from a scaled loss
					}
					b.Write(p.Grad, ops.Bytes(v))
					g[i] = f64(v)
					grads = append(grads, p.Grad)
				}
				if tt.explicit {
					// Explicit gradients live elsewhere: Param.Grad must not be read.
					ex := make([]ops.Tensor, len(grads))
					for i, gr := range grads {
						ex[i] = b.Alloc(ops.Float32, gr.Shape())
						b.Copy(gr, ex[i])
						b.Fill(gr, math.NaN())
					}
					ex = append(ex, nil) // the frozen parameter
					s.Step(lr, tt.gradScale, ex)
					for _, e := range ex[:len(ps)] {
						b.Free(e)
					}
				} else {
					s.Step(lr, tt.gradScale, nil)
				}
				for i, p := range ps {
					wd := 0.0
					if tt.decayed[p.Name] {
						wd = tt.o.WeightDecay
					}
					for j := range w[i] {
						gj := g[i][j]*gs + wd*w[i][j]
						acc[i][j] = tt.o.Momentum*acc[i][j] + gj
						if tt.o.Nesterov {
							w[i][j] -= lr * (gj + tt.o.Momentum*acc[i][j])
						} else {
							w[i][j] -= lr * acc[i][j]
						}
					}
				}
				for i, p := range ps {
					assertNear(t, p.Name, testutil.Download(t, b, p.Value), w[i], 1e-5)
				}
				if t.Failed() {
					t.Fatalf("after step %d", step)
				}
			}
			mnames, moments := s.Moments()
			prefix := "moments."
			if strings.EqualFold(tt.o.Opt, "sgd") {
				prefix = "accum."
			}
			for i, p := range ps {
				if mnames[i] != prefix+p.Name {
					t.Errorf("moment %d is called %q, want %q", i, mnames[i], prefix+p.Name)
				}
				assertNear(t, mnames[i], testutil.Download(t, b, moments[i]), acc[i], 1e-5)
			}
			if v := testutil.Download(t, b, stat.Value); !slices.Equal(v, []float32{1, 2, 3}) {
				t.Errorf("the moving statistic changed to %v", v)
			}
			if v := testutil.Download(t, b, frozen.Value); !slices.Equal(v, []float32{4, 5}) {
				t.Errorf("the frozen weight changed to %v", v)
			}
		})
	}
}

// TestNewErrors checks that bad options are refused with an error naming the key.
func TestNewErrors(t *testing.T) {
	b := testutil.CPU(t, 1)
	tests := []struct {
		o    Options
		want string
	}{
		{Options{Opt: "adamw", Momentum: 0.9}, `opt "adamw"`},
		{Options{Opt: "momentum", Momentum: -0.1}, "momentum -0.1"},
		{Options{Opt: "momentum", Momentum: 0.9, WeightDecay: math.NaN()}, "weight_decay"},
		{Options{Opt: "momentum", Momentum: 0.9, WeightDecayFilter: "norm"}, `weight_decay_filter "norm"`},
		{Options{Opt: "sgd", Nesterov: true}, "use_nesterov"},
	}
	for _, tt := range tests {
		if _, err := New(b, nil, tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want one mentioning %q", tt.o, err, tt.want)
		}
	}
}

// TestStepAllocatesNothing checks that an optimizer step takes no memory.
func TestStepAllocatesNothing(t *testing.T) {
	b := &testutil.Counting{Backend: testutil.CPU(t, 1)}
	l := nn.NewLinear(b, 4, 3)
	defer l.Free()
	x := testutil.Upload(b, ops.Shape{2, 4}, make([]float32, 8))
	defer b.Free(x)
	s, err := New(b, l.Params(), Options{Opt: "momentum", Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Free()
	l.Backward(l.Forward(x))
	allocs := b.Allocs
	s.Step(0.1, 1.0/1024, nil)
	if b.Allocs != allocs {
		t.Errorf("Step allocated %d tensors", b.Allocs-allocs)
	}
}

// groupRecorder is a backend with a group step that records each call and steps the triples one
// by one.
type groupRecorder struct {
	ops.Backend
	calls []groupCall
}

// groupCall is one SGDMomentumGroup call: the weight decay, the lists and the address of their
// first element (the same address step after step when the lists are kept).
type groupCall struct {
	wd                    float64
	params, grads, accums []ops.Tensor
	first                 *ops.Tensor
}

func (r *groupRecorder) SGDMomentumGroup(params, grads, accums []ops.Tensor, p ops.SGDParams) {
	ops.CheckSGDGroup(params, grads, accums, p)
	r.calls = append(r.calls, groupCall{p.WeightDecay, slices.Clone(params), slices.Clone(grads), slices.Clone(accums), &params[0]})
	for i := range params {
		r.Backend.SGDMomentum(params[i], grads[i], accums[i], p)
	}
}

// TestSGDGroups checks that Step makes one group call per weight decay with the updated
// parameters in order, reuses the lists while nothing changes, makes them again when a parameter
// is frozen, loses or gets back its gradient, and that a steady step allocates nothing.
func TestSGDGroups(t *testing.T) {
	cpu := testutil.CPU(t, 1)
	b := &groupRecorder{Backend: cpu}
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"conv1.weight", "bn1.gamma", "bn1.beta", "layer1.conv.weight", "bn2.gamma", "classifier.weight", "classifier.bias"}
	var ps []*nn.Param
	for _, n := range names {
		ps = append(ps, param(cpu, n, testutil.Uniform(r, 3), true))
	}
	defer freeParams(cpu, ps)
	s, err := New(b, ps, Options{Opt: "momentum", Momentum: 0.9, WeightDecay: 1e-4, WeightDecayFilter: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Free()
	_, accum := s.Moments()

	// grads are the gradients Step is given (nil: each parameter's Grad).
	var grads []ops.Tensor
	// want lists the members of each group call by parameter index: decayed first (conv1 comes first).
	check := func(when string, want ...[]int) []groupCall {
		t.Helper()
		calls := b.calls
		b.calls = nil
		if len(calls) != len(want) {
			t.Fatalf("%s: %d group calls, want %d", when, len(calls), len(want))
		}
		for k, c := range calls {
			wantWD := 1e-4
			if strings.Contains(names[want[k][0]], "bn") {
				wantWD = 0
			}
			if c.wd != wantWD {
				t.Errorf("%s: call %d has weight decay %v, want %v", when, k, c.wd, wantWD)
			}
			if len(c.params) != len(want[k]) {
				t.Fatalf("%s: call %d has %d parameters, want %d", when, k, len(c.params), len(want[k]))
			}
			for j, i := range want[k] {
				g := ps[i].Grad
				if grads != nil {
					g = grads[i]
				}
				if c.params[j] != ps[i].Value || c.grads[j] != g || c.accums[j] != accum[i] {
					t.Errorf("%s: call %d member %d is not %s's triple", when, k, j, names[i])
				}
			}
		}
		return calls
	}
	decayed, norm := []int{0, 3, 5, 6}, []int{1, 2, 4}

	s.Step(0.1, 1, nil)
	first := check("first step", decayed, norm)
	s.Step(0.1, 1, nil)
	second := check("second step", decayed, norm)
	for k := range first {
		if first[k].first != second[k].first {
			t.Errorf("group %d: the lists moved though nothing changed", k)
		}
	}
	s.b = nopGroup{cpu} // no recording: what is left is Step's own
	if n := testing.AllocsPerRun(10, func() { s.Step(0.1, 1, nil) }); n != 0 {
		t.Errorf("a steady Step allocates %v times", n)
	}
	s.b = b
	ps[3].Trainable = false // frozen
	s.Step(0.1, 1, nil)
	check("layer1 frozen", []int{0, 5, 6}, norm)
	ps[3].Trainable = true

	g := ps[2].Grad
	ps[2].Grad = nil // no gradient: skipped
	s.Step(0.1, 1, nil)
	check("bn1.beta without a gradient", decayed, []int{1, 4})
	ps[2].Grad = g
	s.Step(0.1, 1, nil)
	check("gradient back", decayed, norm)

	other := cpu.Alloc(ops.Float32, ps[5].Value.Shape())
	defer cpu.Free(other)
	cpu.Fill(other, 0)
	grads = make([]ops.Tensor, len(ps))
	for i, p := range ps {
		grads[i] = p.Grad
	}
	grads[5] = other
	s.Step(0.1, 1, grads)
	check("an explicit gradient", decayed, norm)
	grads = nil

	for _, p := range ps[1:3] {
		p.Trainable = false
	}
	ps[4].Trainable = false
	s.Step(0.1, 1, nil)
	check("no parameter without decay updated", decayed)
}

// nopGroup is a backend whose group step does nothing.
type nopGroup struct{ ops.Backend }

func (nopGroup) SGDMomentumGroup(params, grads, accums []ops.Tensor, p ops.SGDParams) {}

// mindSporeDynamic is DynamicLossScaleUpdateCell's update as MindSpore writes it, with its
// iteration counters, as an independent reference.
type mindSporeDynamic struct {
	scale                 float64
	curIter, lastOverflow int
}

func (m *mindSporeDynamic) update(overflow bool) {
	scale := m.scale
	if overflow {
		scale = max(scale/2, 1)
	}
	shouldInc := m.curIter-m.lastOverflow >= 2000
	if overflow || shouldInc {
		m.lastOverflow = m.curIter
	}
	if shouldInc && !overflow {
		scale *= 2
	}
	m.scale = scale
	m.curIter++
}

// TestLossScalers checks the fixed and dynamic policies step by step.
func TestLossScalers(t *testing.T) {
	t.Run("fixed", func(t *testing.T) {
		for _, drop := range []bool{false, true} {
			s, err := NewLossScaler("fixed", 1024, drop)
			if err != nil {
				t.Fatal(err)
			}
			if s.NeedsCheck() != drop {
				t.Errorf("drop %v: NeedsCheck %v", drop, s.NeedsCheck())
			}
			if !s.Update(true) {
				t.Errorf("drop %v: a clean step was skipped", drop)
			}
			if got := s.Update(false); got != !drop {
				t.Errorf("drop %v: an overflowed step applies: %v, want %v", drop, got, !drop)
			}
			if s.Scale() != 1024 || s.State() != (ScalerState{Scale: 1024}) {
				t.Errorf("drop %v: scale %v, state %+v", drop, s.Scale(), s.State())
			}
		}
	})
	t.Run("dynamic", func(t *testing.T) {
		s, err := NewLossScaler("Dynamic", 1024, true)
		if err != nil {
			t.Fatal(err)
		}
		if !s.NeedsCheck() {
			t.Error("the dynamic scaler needs no check")
		}
		if s.Update(false) || s.Scale() != 512 {
			t.Fatalf("after an overflow: scale %v (want 512), or the step applied", s.Scale())
		}
		for i := 1; i < 2000; i++ {
			if !s.Update(true) {
				t.Fatalf("clean step %d skipped", i)
			}
		}
		if s.Scale() != 512 || s.State().GoodSteps != 1999 {
			t.Fatalf("after 1999 clean steps: %+v, want scale 512 and 1999 good steps", s.State())
		}
		saved := s.State()
		if !s.Update(true) || s.Scale() != 1024 || s.State().GoodSteps != 0 {
			t.Fatalf("the 2000th clean step: %+v, want scale 1024 and the count restarted", s.State())
		}
		// A scaler restored from the saved state does the same.
		r, _ := NewLossScaler("dynamic", 4, true)
		r.SetState(saved)
		if r.State() != saved || !r.Update(true) || r.Scale() != 1024 {
			t.Errorf("restored from %+v: now %+v, want scale 1024", saved, r.State())
		}
		// The scale does not go below 1.
		one, _ := NewLossScaler("dynamic", 1, true)
		one.Update(false)
		if one.Scale() != 1 {
			t.Errorf("an overflow at scale 1 gave %v", one.Scale())
		}
	})
	t.Run("dynamic against MindSpore's update cell", func(t *testing.T) {
		s, _ := NewLossScaler("dynamic", 65536, true)
		ref := &mindSporeDynamic{scale: 65536, curIter: 1}
		r := rand.New(rand.NewPCG(3, 4))
		for i := range 20000 {
			overflow := r.IntN(1500) == 0
			if apply := s.Update(!overflow); apply == overflow {
				t.Fatalf("step %d: apply %v with overflow %v", i, apply, overflow)
			}
			ref.update(overflow)
			if s.Scale() != ref.scale {
				t.Fatalf("step %d: scale %v, MindSpore's %v", i, s.Scale(), ref.scale)
			}
		}
	})
	t.Run("auto", func(t *testing.T) {
		s, err := NewLossScaler("auto", 1024, false)
		if err != nil || s.Scale() != 1<<24 || !s.NeedsCheck() {
			t.Errorf("auto: %v, scale %v", err, s.Scale())
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			kind  string
			scale float64
			drop  bool
			want  string
		}{
			{"static", 1024, false, "loss_scale_type"},
			{"fixed", 0.5, false, "loss_scale 0.5"},
			{"dynamic", 0, true, "loss_scale 0"},
			{"dynamic", 1024, false, "drop_overflow_update"},
		} {
			if _, err := NewLossScaler(c.kind, c.scale, c.drop); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: error %v, want one mentioning %q", c, err, c.want)
			}
		}
	})
}

// TestAllFinite checks the overflow check on finite values, NaN and both infinities.
func TestAllFinite(t *testing.T) {
	b := testutil.CPU(t, 1)
	inf := float32(math.Inf(1))
	tests := []struct {
		name string
		vals [][]float32
		want bool
	}{
		{"finite", [][]float32{{1, -2, 3e38}, {0, -0}}, true},
		{"NaN", [][]float32{{1, 2}, {3, float32(math.NaN())}}, false},
		{"+Inf", [][]float32{{inf}, {1}}, false},
		{"-Inf", [][]float32{{1}, {2, -inf}}, false},
		{"none", nil, true},
	}
	for _, tt := range tests {
		var ts []ops.Tensor
		for _, v := range tt.vals {
			ts = append(ts, testutil.Upload(b, ops.Shape{len(v)}, v))
		}
		got, err := AllFinite(b, ts)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
		for _, x := range ts {
			b.Free(x)
		}
	}
}

// TestClipByGlobalNorm checks clipping against a hand computation: gradients (3, 4) and (12)
// have the global norm 13.
func TestClipByGlobalNorm(t *testing.T) {
	b := testutil.CPU(t, 1)
	tests := []struct {
		name           string
		maxNorm, scale float64
		factor         float64 // the expected scaling of the gradients
	}{
		{"clipped", 6.5, 0, 0.5},
		{"clipped, loss scale 1024", 6.5, 1024, 0.5},
		{"clipped, loss scale 3", 3.25, 3, 0.25},
		{"below the threshold", 20, 0, 1},
		{"below the threshold, loss scale 1024", 13.5, 1024, 1},
	}
	for _, tt := range tests {
		s := tt.scale
		if s == 0 {
			s = 1
		}
		g1 := testutil.Upload(b, ops.Shape{2}, []float32{float32(3 * s), float32(4 * s)})
		g2 := testutil.Upload(b, ops.Shape{1, 1}, []float32{float32(12 * s)})
		norm, err := ClipByGlobalNorm(b, []ops.Tensor{g1, nil, g2}, tt.maxNorm, tt.scale)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(norm-13) > 1e-6 {
			t.Errorf("%s: norm %v, want 13", tt.name, norm)
		}
		assertNear(t, tt.name+": g1", testutil.Download(t, b, g1), []float64{3 * s * tt.factor, 4 * s * tt.factor}, 1e-6)
		assertNear(t, tt.name+": g2", testutil.Download(t, b, g2), []float64{12 * s * tt.factor}, 1e-6)
		b.Free(g1)
		b.Free(g2)
	}
	// An overflow is left for the overflow check.
	g := testutil.Upload(b, ops.Shape{2}, []float32{float32(math.Inf(1)), 1})
	defer b.Free(g)
	if norm, err := ClipByGlobalNorm(b, []ops.Tensor{g}, 1, 1); err != nil || !math.IsInf(norm, 1) {
		t.Errorf("overflow: norm %v, %v", norm, err)
	}
	if v := testutil.Download(t, b, g); v[1] != 1 {
		t.Errorf("overflowed gradients were scaled: %v", v)
	}
	if _, err := ClipByGlobalNorm(b, []ops.Tensor{g}, 0, 1); err == nil || !strings.Contains(err.Error(), "clip_value") {
		t.Errorf("clip_value 0: %v", err)
	}
}

// TestEMA checks the moving average against MindCV's formula over several updates, from the
// start and after a resume, and that Swap twice restores the parameters.
func TestEMA(t *testing.T) {
	b := testutil.CPU(t, 1)
	w := param(b, "fc.weight", []float32{1, 2, 3}, true)
	m := param(b, "bn.moving_mean", []float32{-1, 0.5}, false)
	ps := []*nn.Param{w, m}
	defer freeParams(b, ps)
	e := NewEMA(b, ps, 0.9)
	defer e.Free()

	names, ts := e.Tensors()
	if !slices.Equal(names, []string{"ema.fc.weight", "ema.bn.moving_mean"}) {
		t.Errorf("names %v", names)
	}
	ref := [][]float64{{1, 2, 3}, {-1, 0.5}}
	r := rand.New(rand.NewPCG(5, 6))
	check := func(when string) {
		t.Helper()
		for i := range ps {
			assertNear(t, when+" "+names[i], testutil.Download(t, b, ts[i]), ref[i], 1e-6)
		}
	}
	step := func() {
		for _, p := range ps { // the parameters move, then the average follows
			b.Write(p.Value, ops.Bytes(testutil.Uniform(r, p.Value.Shape().Numel())))
		}
		e.Update()
		n := float64(e.Updates())
		d := 0.9 * (1 - math.Exp(-n/2000))
		for i, p := range ps {
			v := testutil.Download(t, b, p.Value)
			for j := range ref[i] {
				ref[i][j] = ref[i][j]*d + float64(v[j])*(1-d)
			}
		}
	}
	for range 3 {
		step()
	}
	if e.Updates() != 3 {
		t.Errorf("%d updates, want 3", e.Updates())
	}
	check("from the start")
	e.SetUpdates(6000) // late in training: the decay is close to 0.9
	for range 3 {
		step()
	}
	check("after a resume")

	before := [][]float32{testutil.Download(t, b, w.Value), testutil.Download(t, b, m.Value)}
	avg := [][]float32{testutil.Download(t, b, ts[0]), testutil.Download(t, b, ts[1])}
	e.Swap()
	for i, p := range ps {
		if got := testutil.Download(t, b, p.Value); !slices.Equal(got, avg[i]) {
			t.Errorf("swapped %s = %v, want the average %v", p.Name, got, avg[i])
		}
		if got := testutil.Download(t, b, ts[i]); !slices.Equal(got, before[i]) {
			t.Errorf("swapped %s holds %v, want the parameter %v", names[i], got, before[i])
		}
	}
	e.Swap()
	for i, p := range ps {
		if got := testutil.Download(t, b, p.Value); !slices.Equal(got, before[i]) {
			t.Errorf("swapped twice, %s = %v, want %v", p.Name, got, before[i])
		}
	}
}

// TestAccumulator checks the mean of micro-batch gradients, and that SGD on two accumulated
// half-batches of a linear layer with the cross-entropy loss equals one step on the whole batch.
func TestAccumulator(t *testing.T) {
	b := testutil.CPU(t, 1)
	t.Run("sums", func(t *testing.T) {
		w := param(b, "w", []float32{0, 0}, true)
		m := param(b, "bn.moving_var", []float32{1}, false)
		defer freeParams(b, []*nn.Param{w, m})
		a := NewAccumulator(b, []*nn.Param{w, m})
		defer a.Free()
		if got := a.Grads(); len(got) != 1 || !slices.Equal(testutil.Download(t, b, got[0]), []float32{0, 0}) {
			t.Fatalf("with nothing added: %d tensors", len(got))
		}
		for _, g := range [][]float32{{1, 2}, {3, -6}} {
			b.Write(w.Grad, ops.Bytes(g))
			a.Add()
		}
		if a.Count() != 2 {
			t.Errorf("count %d", a.Count())
		}
		assertNear(t, "mean of two", testutil.Download(t, b, a.Grads()[0]), []float64{2, -2}, 1e-7)
		b.Write(w.Grad, ops.Bytes([]float32{5, 1}))
		a.Add() // continues the same sum
		assertNear(t, "mean of three", testutil.Download(t, b, a.Grads()[0]), []float64{3, -1}, 1e-7)
		a.Reset()
		b.Write(w.Grad, ops.Bytes([]float32{8, 4}))
		a.AddScaled(0.25)
		assertNear(t, "after Reset, scaled", testutil.Download(t, b, a.Grads()[0]), []float64{2, 1}, 1e-7)
	})

	t.Run("equals the whole batch", func(t *testing.T) {
		const n, in, out = 8, 5, 3
		r := rand.New(rand.NewPCG(7, 8))
		x := testutil.Randn(r, n*in, 1)
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(r.IntN(out))
		}
		w0, b0 := testutil.Uniform(r, out*in), testutil.Uniform(r, out)
		newNet := func() (*nn.Linear, *SGD) {
			l := nn.NewLinear(b, in, out)
			b.Write(l.Weight.Value, ops.Bytes(w0))
			b.Write(l.Bias.Value, ops.Bytes(b0))
			s, err := New(b, l.Params(), Options{Opt: "momentum", Momentum: 0.9, WeightDecay: 1e-2})
			if err != nil {
				t.Fatal(err)
			}
			return l, s
		}
		const scale = 1024
		backward := func(l *nn.Linear, loss *nn.SoftmaxCrossEntropy, lo, hi int) {
			xt := testutil.Upload(b, ops.Shape{hi - lo, in}, x[lo*in:hi*in])
			yt := ops.FromInt32(b, ops.Shape{hi - lo}, labels[lo:hi])
			loss.Forward(l.Forward(xt), yt)
			l.Backward(loss.Backward(scale))
			b.Free(xt)
			b.Free(yt)
		}
		loss := nn.NewSoftmaxCrossEntropy(b, 0.1)
		defer loss.Free()

		full, sFull := newNet()
		defer full.Free()
		defer sFull.Free()
		acc, sAcc := newNet()
		defer acc.Free()
		defer sAcc.Free()
		a := NewAccumulator(b, acc.Params())
		defer a.Free()
		for step := range 2 {
			backward(full, loss, 0, n)
			sFull.Step(0.5, 1.0/scale, nil)
			for _, half := range [][2]int{{0, n / 2}, {n / 2, n}} {
				backward(acc, loss, half[0], half[1])
				a.Add()
			}
			sAcc.Step(0.5, 1.0/scale, a.Grads())
			a.Reset()
			for i, p := range full.Params() {
				want := f64(testutil.Download(t, b, p.Value))
				assertNear(t, p.Name, testutil.Download(t, b, acc.Params()[i].Value), want, 1e-5)
			}
			if t.Failed() {
				t.Fatalf("after step %d", step)
			}
		}
		// The step changed the weights (the comparison is not between two untouched copies).
		if v := testutil.Download(t, b, full.Weight.Value); slices.Equal(v, w0) {
			t.Error("the weights did not move")
		}
	})
}
