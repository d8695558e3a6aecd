package ops

import (
	"fmt"
	"strings"
	"testing"
)

// fakeTensor is a tensor of a shape and dtype, with no storage.
type fakeTensor struct {
	shape Shape
	dtype DType
}

func (f *fakeTensor) Shape() Shape { return f.shape }
func (f *fakeTensor) DType() DType { return f.dtype }

func f32(shape ...int) Tensor { return &fakeTensor{shape, Float32} }

// stepRecorder records the SGDMomentum calls it gets (its other kernels are never called).
type stepRecorder struct {
	Backend
	calls []string
}

func (r *stepRecorder) SGDMomentum(param, grad, accum Tensor, p SGDParams) {
	r.calls = append(r.calls, fmt.Sprintf("%p %p %p %v", param, grad, accum, p.LR))
}

// groupRecorder has the group step too.
type groupRecorder struct {
	stepRecorder
	groups int
}

func (r *groupRecorder) SGDMomentumGroup(params, grads, accums []Tensor, p SGDParams) { r.groups++ }

func TestSGDMomentumGroupDispatch(t *testing.T) {
	params, grads, accums := []Tensor{f32(3), f32(2, 2)}, []Tensor{f32(3), f32(2, 2)}, []Tensor{f32(3), f32(2, 2)}
	p := SGDParams{LR: 0.5, Momentum: 0.9}

	var r stepRecorder
	SGDMomentumGroup(&r, params, grads, accums, p)
	want := []string{
		fmt.Sprintf("%p %p %p 0.5", params[0], grads[0], accums[0]),
		fmt.Sprintf("%p %p %p 0.5", params[1], grads[1], accums[1]),
	}
	if strings.Join(r.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("fallback calls:\n%s\nwant, in order:\n%s", strings.Join(r.calls, "\n"), strings.Join(want, "\n"))
	}

	var g groupRecorder
	SGDMomentumGroup(&g, params, grads, accums, p)
	if g.groups != 1 || len(g.calls) != 0 {
		t.Errorf("a backend with SGDGroup: %d group calls and %d per-tensor calls, want 1 and 0", g.groups, len(g.calls))
	}

	var empty stepRecorder
	SGDMomentumGroup(&empty, nil, nil, nil, p)
	if len(empty.calls) != 0 {
		t.Errorf("empty lists: %d calls", len(empty.calls))
	}
}

func TestCheckSGDGroup(t *testing.T) {
	p := SGDParams{LR: 0.1, Momentum: 0.9}
	for _, c := range []struct {
		name                  string
		params, grads, accums []Tensor
		p                     SGDParams
		mentions              []string
	}{
		{"lengths", []Tensor{f32(3), f32(4)}, []Tensor{f32(3)}, []Tensor{f32(3), f32(4)}, p,
			[]string{"2 params, 1 grads and 2 accums"}},
		{"accums_length", []Tensor{f32(3)}, []Tensor{f32(3)}, nil, p, []string{"1 params, 1 grads and 0 accums"}},
		{"grad_shape_at_1", []Tensor{f32(3), f32(4), f32(5)}, []Tensor{f32(3), f32(5), f32(5)}, []Tensor{f32(3), f32(4), f32(5)}, p,
			[]string{"index 1:", "grad has shape [5], want [4]"}},
		{"float16_accum_at_2", []Tensor{f32(3), f32(4), f32(5)}, []Tensor{f32(3), f32(4), f32(5)},
			[]Tensor{f32(3), f32(4), &fakeTensor{Shape{5}, Float16}}, p, []string{"index 2:", "accum has dtype float16"}},
		{"nil_param_at_0", []Tensor{nil}, []Tensor{f32(3)}, []Tensor{f32(3)}, p, []string{"index 0:", "param is nil"}},
		{"negative_lr_empty_lists", nil, nil, nil, SGDParams{LR: -1}, []string{"negative hyper-parameter"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := func() (msg string) {
				defer func() { msg = fmt.Sprint(recover()) }()
				SGDMomentumGroup(&stepRecorder{}, c.params, c.grads, c.accums, c.p)
				return ""
			}()
			for _, want := range append([]string{"ops.SGDMomentumGroup: "}, c.mentions...) {
				if !strings.Contains(msg, want) {
					t.Errorf("panic %q, want it to contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "ops.SGDMomentum:") {
				t.Errorf("panic %q names the per-tensor kernel", msg)
			}
		})
	}
}
