package ops

import "testing"

// plain is a backend without the Float16Compute capability (its kernels are never called).
type plain struct{ Backend }

// half is a backend that reports whether it computes in float16.
type half struct {
	Backend
	yes bool
}

func (h half) ComputesFloat16() bool { return h.yes }

func TestCanCompute(t *testing.T) {
	for _, c := range []struct {
		name string
		b    Backend
		dt   DType
		want bool
	}{
		{"float32 anywhere", plain{}, Float32, true},
		{"float16 without the capability", plain{}, Float16, false},
		{"float16 with it", half{yes: true}, Float16, true},
		{"float16 when the backend says no", half{yes: false}, Float16, false},
		{"float32 when the backend says no to float16", half{yes: false}, Float32, true},
		{"bfloat16", half{yes: true}, BFloat16, false},
		{"int32", half{yes: true}, Int32, false},
		{"invalid", half{yes: true}, Invalid, false},
	} {
		if got := CanCompute(c.b, c.dt); got != c.want {
			t.Errorf("%s: CanCompute(%v) = %v, want %v", c.name, c.dt, got, c.want)
		}
	}
}
