package cpu

import (
	"math"
	"math/rand/v2"
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

// TestMaxPoolPlane3s2 checks the two-pass 3x3 stride-2 max pool, with each set of loops this
// machine runs, against maxPoolPlane, which scans each window in row-major order: values and
// winners must be identical, on planes narrow and wide (vector runs and scalar edges), with every
// padding the stem uses and more, on data full of ties (few distinct values), NaNs and infinities.
func TestMaxPoolPlane3s2(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	for _, name := range Kernels() {
		k, err := kernelNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, hw := range [][2]int{{1, 1}, {3, 3}, {5, 17}, {8, 18}, {9, 19}, {7, 35}, {20, 40}, {33, 57}, {112, 112}} {
			for _, pad := range [][4]int{{0, 0, 0, 0}, {1, 1, 1, 1}, {0, 1, 0, 1}, {1, 0, 1, 0}, {2, 2, 2, 2}, {0, 2, 1, 0}} {
				p := ops.Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: pad[0], PadBottom: pad[1], PadLeft: pad[2], PadRight: pad[3]}
				h, w := hw[0], hw[1]
				ho, wo := (h+pad[0]+pad[1]-3)/2+1, (w+pad[2]+pad[3]-3)/2+1
				if ho <= 0 || wo <= 0 || pad[0] > 2 || pad[2] > 2 {
					continue
				}
				x := make([]float32, h*w)
				for i := range x {
					switch r := rng.IntN(20); {
					case r < 2:
						x[i] = special[rng.IntN(len(special))]
					default:
						x[i] = float32(rng.IntN(4)) // ties
					}
				}
				wantY, wantM := make([]float32, ho*wo), make([]int32, ho*wo)
				maxPoolPlane(x, h, w, wantY, wantM, ho, wo, p)
				gotY, gotM := make([]float32, ho*wo), make([]int32, ho*wo)
				row, hv, hc := make([]float32, poolRowLen(w, p)), make([]float32, h*wo+8), make([]int32, h*wo+8)
				maxPoolPlane3s2(k.vec, x, h, w, gotY, gotM, ho, wo, p, row, hv, hc)
				for i := range wantY {
					same := gotY[i] == wantY[i] || gotY[i] != gotY[i] && wantY[i] != wantY[i]
					if !same || gotM[i] != wantM[i] {
						t.Fatalf("%s %dx%d pad %v: output %d = %v at %d, want %v at %d", name, h, w, pad, i, gotY[i], gotM[i], wantY[i], wantM[i])
					}
				}
			}
		}
	}
}

// BenchmarkMaxPool2dStem times the ResNeXt stem's max pool at batch 16 (x [16, 64, 112, 112], 3x3
// stride 2, "same" padding), forward and backward, in GB/s of the input read.
func BenchmarkMaxPool2dStem(bm *testing.B) {
	b := New(Options{})
	xs, p := ops.Shape{16, 64, 112, 112}, ops.SamePool(3, 2, 112, 112)
	rng := rand.New(rand.NewPCG(41, 42))
	x := gemmTestTensor(b, xs, gemmTestRandom(rng, xs.Numel()))
	ys, mt := b.MaxPool2dMask(xs, p)
	y, mask, dx := b.Alloc(ops.Float32, ys), b.Alloc(mt, ys), b.Alloc(ops.Float32, xs)
	rate := func(bm *testing.B) {
		bm.ReportMetric(float64(4*xs.Numel())*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GB/s")
	}
	bm.Run("forward", func(bm *testing.B) {
		for bm.Loop() {
			b.MaxPool2d(x, y, mask, p)
		}
		rate(bm)
	})
	bm.Run("backward", func(bm *testing.B) {
		for bm.Loop() {
			b.MaxPool2dBackward(y, x, mask, dx, p)
		}
		rate(bm)
	})
}
