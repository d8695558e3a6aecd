package nn_test

import (
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// half is a backend whose kernels take float16 (ops.Float16Compute); none of them is called.
type half struct{ ops.Backend }

func (half) Name() string          { return "half" }
func (half) ComputesFloat16() bool { return true }

func TestCheckComputeType(t *testing.T) {
	cpu := testutil.CPU(t, 1)
	for _, c := range []struct {
		name string
		b    ops.Backend
		dt   ops.DType
		want []string // nil: accepted
	}{
		{"float32 on the CPU", cpu, ops.Float32, nil},
		{"float32 on a float16 backend", half{}, ops.Float32, nil},
		{"float16 on a float16 backend", half{}, ops.Float16, nil},
		{"float16 on the CPU", cpu, ops.Float16, []string{"float16", "amp_level O2", "cpu backend computes in float32 only", "use float32 (amp_level O0)", "ascend"}},
		{"bfloat16", half{}, ops.BFloat16, []string{"compute type bfloat16", "want float32 (amp_level O0) or float16 (amp_level O2)"}},
		{"uint8", cpu, ops.Uint8, []string{"compute type uint8"}},
	} {
		err := nn.CheckComputeType(c.b, c.dt)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted, want an error", c.name)
			continue
		}
		for _, part := range c.want {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, part)
			}
		}
	}
}
