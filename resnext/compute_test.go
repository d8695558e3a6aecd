package resnext

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops"
)

// TestSetComputeType: float32 is accepted everywhere; float16 only on a backend whose kernels take
// it, so the CPU backend refuses it with an error that names the backend and the way out, and
// every other type is refused. A refusal changes nothing: the model still computes in float32.
func TestSetComputeType(t *testing.T) {
	cpu := testutil.CPU(t, 1)
	for _, c := range []struct {
		name string
		b    ops.Backend
		dt   ops.DType
		want []string // nil: accepted
	}{
		{"float32 on the CPU", cpu, ops.Float32, nil},
		{"float16 on the CPU", cpu, ops.Float16, []string{"tiny_small", "float16", "amp_level O2", "cpu", "float32 only", "amp_level O0"}},
		{"bfloat16", cpu, ops.BFloat16, []string{"tiny_small", "bfloat16", "want float32", "float16"}},
		{"int32", cpu, ops.Int32, []string{"int32", "want float32"}},
		{"float16 where kernels take it", halfNoCompute{}, ops.Float16, nil},
		{"bfloat16 where kernels take float16", halfNoCompute{}, ops.BFloat16, []string{"bfloat16"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := Build(c.b, tiny(SmallStem))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			err = m.SetComputeType(c.dt)
			switch {
			case c.want == nil && err != nil:
				t.Fatalf("SetComputeType(%v): %v", c.dt, err)
			case c.want == nil:
				if got := m.ComputeType(); got != c.dt {
					t.Errorf("ComputeType() = %v, want %v", got, c.dt)
				}
				return
			case err == nil:
				t.Fatalf("SetComputeType(%v) accepted, want an error", c.dt)
			}
			for _, part := range c.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not mention %q", err, part)
				}
			}
			if got := m.ComputeType(); got != ops.Float32 {
				t.Errorf("after the refusal ComputeType() = %v, want float32", got)
			}
		})
	}
}

// casting counts the Cast calls of the backend it wraps.
type casting struct {
	ops.Backend
	casts int
}

func (c *casting) Cast(x, y ops.Tensor) {
	c.casts++
	c.Backend.Cast(x, y)
}

// TestFloat32MakesNoCast: computing in float32 (the default) on a float32 batch, a training step
// and an evaluation pass make no cast. A float16 batch is cast once on the way in, and gives the
// logits of the same values in float32.
func TestFloat32MakesNoCast(t *testing.T) {
	b := &casting{Backend: testutil.CPU(t, 2)}
	m := newModel(t, b, tiny(ImageNetStem), 4)
	defer m.Free()
	const n = 2
	v := testutil.Randn(rand.New(rand.NewPCG(2, 3)), n*3*32*32, 1)
	for i := range v { // values a float16 holds exactly
		v[i] = ops.Float16Value(ops.Float16Bits(v[i]))
	}
	x32 := ops.FromFloat32(b, ops.Float32, ops.Shape{n, 3, 32, 32}, v)
	defer b.Free(x32)
	x16 := ops.FromFloat32(b, ops.Float16, ops.Shape{n, 3, 32, 32}, v)
	defer b.Free(x16)
	dy := testutil.Upload(b, ops.Shape{n, 5}, testutil.Randn(rand.New(rand.NewPCG(4, 5)), n*5, 1))
	defer b.Free(dy)

	logits := m.Forward(x32)
	want := testutil.Download(t, b, logits)
	m.Backward(dy)
	m.SetTraining(false)
	m.Forward(x32)
	if b.casts != 0 {
		t.Errorf("a float32 training step and evaluation pass made %d casts, want none", b.casts)
	}

	m.SetTraining(true)
	logits = m.Forward(x16)
	if b.casts != 1 {
		t.Errorf("a float16 batch under float32 compute made %d casts, want 1 (the batch)", b.casts)
	}
	if logits.DType() != ops.Float32 {
		t.Fatalf("logits are %v, want float32", logits.DType())
	}
	if got := testutil.Download(t, b, logits); !slices.Equal(got, want) {
		t.Errorf("logits of the float16 batch differ from the float32 batch's: %v, want %v", got, want)
	}
	m.Backward(dy)
	for _, p := range m.Params() {
		if p.Value.DType() != ops.Float32 || p.Grad != nil && p.Grad.DType() != ops.Float32 {
			t.Errorf("%s: value %v, gradient %v, want float32", p.Name, p.Value.DType(), p.Grad.DType())
		}
	}
}
