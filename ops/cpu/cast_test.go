package cpu

import (
	"fmt"
	"testing"

	"github.com/resnext/resnext/ops"
)

// TestCastBoolBytes checks that a Bool element is true when its byte is nonzero, not only when it
// is 1: the byte value of a non-canonical Bool is the backend's choice.
func TestCastBoolBytes(t *testing.T) {
	k := newKit(t)
	x := k.b.Alloc(ops.Bool, ops.Shape{3})
	k.b.Write(x, []byte{0, 1, 2})
	f := k.out(3)
	k.b.Cast(x, f)
	if got := k.read(f); fmt.Sprint(got) != "[0 1 1]" {
		t.Errorf("Bool {0, 1, 2} to float32 = %v, want [0 1 1]", got)
	}
	i := k.b.Alloc(ops.Int64, ops.Shape{3})
	k.b.Cast(x, i)
	got := make([]int64, 3)
	if err := k.b.Read(i, ops.Bytes(got)); err != nil || fmt.Sprint(got) != "[0 1 1]" {
		t.Errorf("Bool {0, 1, 2} to int64 = %v (%v), want [0 1 1]", got, err)
	}
}
