package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// maxPoolRef pools every plane of x [n, c, h, w] by walking each whole window, padding included,
// in row-major order: padding is -inf and never a winner, a later element wins only when it is
// strictly greater or NaN (PyTorch's rule). It returns y and the winners' flat indices h*W + w.
func maxPoolRef(x []float32, s ops.Shape, p ops.Pool2dParams) ([]float64, []int32) {
	h, w := s[2], s[3]
	ho, wo := p.OutSize(h, w)
	planes := s[0] * s[1]
	y, mask := make([]float64, planes*ho*wo), make([]int32, planes*ho*wo)
	for pl := range planes {
		for oh := range ho {
			for ow := range wo {
				best, m := -1, math.Inf(-1)
				for kh := range p.KernelH {
					for kw := range p.KernelW {
						i, j := oh*p.StrideH-p.PadTop+kh, ow*p.StrideW-p.PadLeft+kw
						if i < 0 || i >= h || j < 0 || j >= w {
							continue // padding
						}
						v := float64(x[pl*h*w+i*w+j])
						if best < 0 || v > m || math.IsNaN(v) {
							best, m = i*w+j, v
						}
					}
				}
				o := pl*ho*wo + oh*wo + ow
				y[o], mask[o] = m, int32(best)
			}
		}
	}
	return y, mask
}

// maxPoolBackwardRef adds each dy to its winner in a zeroed dx.
func maxPoolBackwardRef(dy []float32, mask []int32, planes, hw int) []float64 {
	dx := make([]float64, planes*hw)
	per := len(dy) / planes
	for i, g := range dy {
		dx[i/per*hw+int(mask[i])] += float64(g)
	}
	return dx
}

var poolCases = []struct {
	name string
	x    ops.Shape
	p    ops.Pool2dParams
}{
	{"mindcv same 112", ops.Shape{2, 3, 112, 112}, ops.SamePool(3, 2, 112, 112)},
	{"torchvision pad 1", ops.Shape{2, 3, 112, 112}, ops.Pool(3, 2, 1)},
	{"same odd 57x31", ops.Shape{1, 2, 57, 31}, ops.SamePool(3, 2, 57, 31)},
	{"odd with pad 1", ops.Shape{1, 1, 7, 5}, ops.Pool(3, 2, 1)},
	{"2x2 stride 2 drops the last row", ops.Shape{3, 2, 9, 9}, ops.Pool(2, 2, 0)},
	{"1x1 input", ops.Shape{2, 1, 1, 1}, ops.Pool(3, 2, 1)},
	{"stride 1 overlap", ops.Shape{1, 3, 6, 6}, ops.Pool(3, 1, 1)},
	{"asymmetric", ops.Shape{2, 2, 8, 7}, ops.Pool2dParams{KernelH: 3, KernelW: 2, StrideH: 1, StrideW: 2, PadTop: 1, PadRight: 1}},
	{"large", ops.Shape{8, 64, 56, 56}, ops.Pool(3, 2, 1)},
}

func TestMaxPool2d(t *testing.T) {
	k := newKit(t)
	for _, tc := range poolCases {
		t.Run(tc.name, func(t *testing.T) {
			k.t = t
			ms, mt := k.b.MaxPool2dMask(tc.x, tc.p)
			ho, wo := tc.p.OutSize(tc.x[2], tc.x[3])
			if want := (ops.Shape{tc.x[0], tc.x[1], ho, wo}); !ms.Equal(want) || mt != ops.Int32 {
				t.Fatalf("MaxPool2dMask = %v %v, want %v int32", ms, mt, want)
			}
			// Small integers make many ties; a few -inf values test windows with nothing finite.
			xd := k.ints(tc.x.Numel(), 4)
			for i := range xd {
				if k.rng.IntN(10) == 0 {
					xd[i] = float32(math.Inf(-1))
				}
			}
			wantY, wantMask := maxPoolRef(xd, tc.x, tc.p)
			x, y, mask := k.tensor(tc.x, xd), k.out(ms...), k.b.Alloc(mt, ms)
			k.b.MaxPool2d(x, y, mask, tc.p)
			k.close("y", k.read(y), wantY, 0)
			if got := k.readInt32(mask); fmt.Sprint(got) != fmt.Sprint(wantMask) {
				t.Fatalf("mask differs:\n got %v\nwant %v", got, wantMask)
			}

			dyd := k.randn(ms.Numel(), 1)
			dx := k.out(tc.x...)
			k.b.MaxPool2dBackward(k.tensor(ms, dyd), mask, dx, tc.p)
			k.close("dx", k.read(dx), maxPoolBackwardRef(dyd, wantMask, tc.x[0]*tc.x[1], tc.x[2]*tc.x[3]), 1e-6)
		})
	}
}

// TestMaxPool2dSameVsTorchvision checks where the two stem pools put their windows on a ramp: with
// "same" padding the first window starts at row 0, with torchvision's it starts at row -1.
func TestMaxPool2dSameVsTorchvision(t *testing.T) {
	k := newKit(t)
	const n = 112
	xd := make([]float32, n*n)
	for i := range xd {
		xd[i] = float32(-i) // decreasing: each window's winner is its top-left real element
	}
	shape := ops.Shape{1, 1, n, n}
	for _, tc := range []struct {
		p     ops.Pool2dParams
		first int32 // the winner of output (1, 1)
	}{
		{ops.SamePool(3, 2, n, n), 2*n + 2},
		{ops.Pool(3, 2, 1), 1*n + 1},
	} {
		ms, mt := k.b.MaxPool2dMask(shape, tc.p)
		y, mask := k.out(ms...), k.b.Alloc(mt, ms)
		k.b.MaxPool2d(k.tensor(shape, xd), y, mask, tc.p)
		if !ms.Equal(ops.Shape{1, 1, 56, 56}) {
			t.Fatalf("%+v: mask shape %v", tc.p, ms)
		}
		if got := k.readInt32(mask)[56+1]; got != tc.first {
			t.Errorf("%+v: winner of (1, 1) is %d, want %d", tc.p, got, tc.first)
		}
	}
}

func TestMaxPool2dNaN(t *testing.T) {
	k := newKit(t)
	nan := float32(math.NaN())
	// One 3x3 window (stride 3): NaN at index 4 beats the 9 that follows it.
	xd := []float32{1, 2, 3, 0, nan, 5, 9, 0, 0}
	shape := ops.Shape{1, 1, 3, 3}
	p := ops.Pool(3, 3, 0)
	ms, mt := k.b.MaxPool2dMask(shape, p)
	y, mask := k.out(ms...), k.b.Alloc(mt, ms)
	k.b.MaxPool2d(k.tensor(shape, xd), y, mask, p)
	if got, m := k.read(y)[0], k.readInt32(mask)[0]; !math.IsNaN(float64(got)) || m != 4 {
		t.Errorf("y = %v at %d, want NaN at 4", got, m)
	}
}

func TestGlobalAvgPool(t *testing.T) {
	k := newKit(t)
	for _, shape := range []ops.Shape{{2, 3, 7, 7}, {1, 1, 1, 1}, {3, 5, 2, 3}, {4, 512, 7, 7}} {
		planes, hw := shape[0]*shape[1], shape[2]*shape[3]
		xd, dyd := k.randn(shape.Numel(), 1), k.randn(planes, 1)
		want, spread := make([]float64, planes), make([]float64, planes*hw)
		for i, v := range xd {
			want[i/hw] += float64(v) / float64(hw)
			spread[i] = float64(dyd[i/hw]) / float64(hw)
		}
		y, dx := k.out(shape[0], shape[1]), k.out(shape...)
		k.b.GlobalAvgPool(k.tensor(shape, xd), y)
		k.close(fmt.Sprintf("y %v", shape), k.read(y), want, 1e-6)
		k.b.GlobalAvgPoolBackward(k.tensor(ops.Shape{shape[0], shape[1]}, dyd), dx)
		k.close(fmt.Sprintf("dx %v", shape), k.read(dx), spread, 1e-6)
	}
}

func TestPoolMisuse(t *testing.T) {
	k := newKit(t)
	x, p := k.out(1, 2, 8, 8), ops.Pool(3, 2, 1)
	ms, _ := k.b.MaxPool2dMask(x.Shape(), p)
	y := k.out(ms...)
	k.panics(func() { k.b.MaxPool2d(x, y, k.out(ms...), p) }, "ops.MaxPool2d", "mask", "float32", "int32")
	k.panics(func() { k.b.MaxPool2d(x, k.out(1, 2, 3, 3), k.b.Alloc(ops.Int32, ms), p) }, "ops.MaxPool2d", "y", "[1, 2, 4, 4]")
	k.panics(func() { k.b.MaxPool2dMask(ops.Shape{1, 2, 8, 8}, ops.Pool2dParams{KernelH: 3, KernelW: 3}) }, "ops.MaxPool2dMask")
	k.panics(func() { k.b.MaxPool2dMask(ops.Shape{2, 8, 8}, p) }, "ops.MaxPool2dMask", "[2, 8, 8]")
	k.panics(func() { k.b.MaxPool2d(x, y, k.b.Alloc(ops.Int32, ms), ops.Pool(3, 2, 3)) }, "ops.MaxPool2d", "padding")
	k.panics(func() { k.b.MaxPool2dBackward(y, k.b.Alloc(ops.Int32, ms), nil, p) }, "ops.MaxPool2dBackward", "nil")
	k.panics(func() { k.b.GlobalAvgPool(x, k.out(2, 1)) }, "ops.GlobalAvgPool", "[2, 1]")
}
