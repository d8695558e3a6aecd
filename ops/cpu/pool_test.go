package cpu

import (
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// The mask's layout is the backend's own: here it is PyTorch's indices, Int32 with y's shape, each
// element the flat index h*W + w of its window's winner within the input plane.

// TestMaxPool2dMaskIndices checks where the two stem pools put their windows on a decreasing ramp
// (each window's winner is its top-left real element): with "same" padding the window of output
// (1, 1) starts at row and column 2, with torchvision's at 1. The second plane has the same
// indices as the first.
func TestMaxPool2dMaskIndices(t *testing.T) {
	k := newKit(t)
	const n = 112
	shape := ops.Shape{1, 2, n, n}
	xd := make([]float32, shape.Numel())
	for i := range xd {
		xd[i] = float32(-(i % (n * n)))
	}
	for _, tc := range []struct {
		p     ops.Pool2dParams
		first int32 // the winner of output (1, 1)
	}{
		{ops.SamePool(3, 2, n, n), 2*n + 2},
		{ops.Pool(3, 2, 1), 1*n + 1},
	} {
		ms, mt := k.b.MaxPool2dMask(shape, tc.p)
		if !ms.Equal(ops.Shape{1, 2, 56, 56}) || mt != ops.Int32 {
			t.Fatalf("%+v: mask %v %v, want [1, 2, 56, 56] int32", tc.p, ms, mt)
		}
		y, mask := k.out(ms...), k.b.Alloc(mt, ms)
		k.b.MaxPool2d(k.tensor(shape, xd), y, mask, tc.p)
		m := k.readInt32(mask)
		for plane := range 2 {
			if got := m[plane*56*56+56+1]; got != tc.first {
				t.Errorf("%+v: plane %d: winner of (1, 1) is %d, want %d", tc.p, plane, got, tc.first)
			}
		}
	}
}

// TestMaxPool2dMaskNaN checks that a NaN wins its window in the mask, as in PyTorch, even when a
// larger number follows it.
func TestMaxPool2dMaskNaN(t *testing.T) {
	k := newKit(t)
	// One 3x3 window (stride 3): NaN at index 4 beats the 9 that follows it.
	xd := []float32{1, 2, 3, 0, float32(math.NaN()), 5, 9, 0, 0}
	shape := ops.Shape{1, 1, 3, 3}
	p := ops.Pool(3, 3, 0)
	ms, mt := k.b.MaxPool2dMask(shape, p)
	y, mask := k.out(ms...), k.b.Alloc(mt, ms)
	k.b.MaxPool2d(k.tensor(shape, xd), y, mask, p)
	if got, m := k.read(y)[0], k.readInt32(mask)[0]; !math.IsNaN(float64(got)) || m != 4 {
		t.Errorf("y = %v at %d, want NaN at 4", got, m)
	}
}
