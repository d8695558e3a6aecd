package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnext/resnext/ops"
)

// convTestRef computes, in float64 and straight from the definition, the forward output y and the
// gradients dx and dw of a convolution for the output gradient dy.
func convTestRef(xs, ws, dys []float32, x, w ops.Shape, p ops.Conv2dParams) (y, dx, dw []float64) {
	p = p.Normalized()
	n, c, h, wd := x.NCHW("ref")
	k, cg, r, s := w.NCHW("ref")
	oh, ow := p.OutSize(h, wd, r, s)
	kg := k / p.Groups
	y = make([]float64, n*k*oh*ow)
	dx = make([]float64, len(xs))
	dw = make([]float64, len(ws))
	for in := range n {
		for ko := range k {
			g := ko / kg
			for po := range oh {
				for qo := range ow {
					yi := ((in*k+ko)*oh+po)*ow + qo
					for ci := range cg {
						for ri := range r {
							ih := po*p.StrideH - p.PadH + ri*p.DilationH
							if ih < 0 || ih >= h {
								continue
							}
							for si := range s {
								iw := qo*p.StrideW - p.PadW + si*p.DilationW
								if iw < 0 || iw >= wd {
									continue
								}
								xi := ((in*c+g*cg+ci)*h+ih)*wd + iw
								wi := ((ko*cg+ci)*r+ri)*s + si
								y[yi] += float64(xs[xi]) * float64(ws[wi])
								dx[xi] += float64(dys[yi]) * float64(ws[wi])
								dw[wi] += float64(dys[yi]) * float64(xs[xi])
							}
						}
					}
				}
			}
		}
	}
	return y, dx, dw
}

var convTestCases = []struct {
	name string
	x, w ops.Shape
	p    ops.Conv2dParams
}{
	{"3x3", ops.Shape{2, 8, 9, 9}, ops.Shape{16, 8, 3, 3}, ops.Conv(1, 1, 1)},
	{"3x3/groups=2/odd", ops.Shape{1, 6, 8, 11}, ops.Shape{4, 3, 3, 3}, ops.Conv(1, 1, 2)},
	{"3x3/groups=32x4", ops.Shape{2, 128, 7, 7}, ops.Shape{128, 4, 3, 3}, ops.Conv(1, 1, 32)},
	{"3x3/groups=32x4/stride=2", ops.Shape{2, 128, 8, 8}, ops.Shape{128, 4, 3, 3}, ops.Conv(2, 1, 32)},
	{"3x3/groups=64/stride=2", ops.Shape{1, 128, 5, 5}, ops.Shape{128, 2, 3, 3}, ops.Conv(2, 1, 64)},
	{"3x3/depthwise", ops.Shape{2, 16, 11, 11}, ops.Shape{16, 1, 3, 3}, ops.Conv(1, 1, 16)},
	{"3x3/depthwise/multiplier=2/stride=2", ops.Shape{1, 8, 9, 9}, ops.Shape{16, 1, 3, 3}, ops.Conv(2, 1, 8)},
	{"3x3/stride=2", ops.Shape{2, 8, 15, 15}, ops.Shape{12, 8, 3, 3}, ops.Conv(2, 1, 1)},
	{"7x7/stride=2/pad=3", ops.Shape{1, 3, 23, 23}, ops.Shape{8, 3, 7, 7}, ops.Conv(2, 3, 1)},
	{"1x1", ops.Shape{2, 16, 7, 9}, ops.Shape{24, 16, 1, 1}, ops.Conv(1, 0, 1)},
	{"1x1/groups=2", ops.Shape{2, 8, 5, 5}, ops.Shape{8, 4, 1, 1}, ops.Conv(1, 0, 2)},
	{"1x1/stride=2", ops.Shape{2, 16, 9, 9}, ops.Shape{8, 16, 1, 1}, ops.Conv(2, 0, 1)},
	{"1x1/stride=3", ops.Shape{1, 4, 10, 10}, ops.Shape{4, 4, 1, 1}, ops.Conv(3, 0, 1)},
	{"1x1/pad=1", ops.Shape{1, 4, 3, 5}, ops.Shape{4, 4, 1, 1}, ops.Conv(1, 1, 1)},
	{"1x1/wide", ops.Shape{1, 4, 48, 48}, ops.Shape{8, 4, 1, 1}, ops.Conv(1, 0, 1)},
	{"3x3/dilation=2", ops.Shape{1, 4, 12, 12}, ops.Shape{6, 4, 3, 3},
		ops.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilationH: 2, DilationW: 2, Groups: 1}},
	{"3x2/mixed", ops.Shape{2, 4, 11, 10}, ops.Shape{4, 2, 3, 2},
		ops.Conv2dParams{StrideH: 2, StrideW: 1, PadH: 0, PadW: 1, DilationH: 1, DilationW: 3, Groups: 2}},
	{"2x2/pad>kernel", ops.Shape{1, 2, 3, 3}, ops.Shape{2, 2, 2, 2}, ops.Conv(1, 2, 1)},
	{"3x3/output=1x1", ops.Shape{2, 8, 3, 3}, ops.Shape{4, 8, 3, 3}, ops.Conv(1, 0, 1)},
	{"3x3/input=1x1", ops.Shape{1, 4, 1, 1}, ops.Shape{4, 4, 3, 3}, ops.Conv(1, 1, 1)},
	{"3x3/batch=0", ops.Shape{0, 4, 5, 5}, ops.Shape{4, 4, 3, 3}, ops.Conv(1, 1, 1)},
	{"3x3/batch=3", ops.Shape{3, 8, 7, 7}, ops.Shape{8, 8, 3, 3}, ops.Conv(1, 1, 1)},
	{"3x3/batch=4", ops.Shape{4, 16, 10, 10}, ops.Shape{16, 16, 3, 3}, ops.Conv(1, 1, 1)},
	{"3x3/gemm-blocks", ops.Shape{1, 32, 6, 6}, ops.Shape{136, 32, 3, 3}, ops.Conv(1, 1, 1)},
}

// convTestNaN returns a tensor of shape full of NaN, to prove that a kernel overwrites its output.
func convTestNaN(b *Backend, shape ops.Shape) ops.Tensor {
	t := b.Alloc(ops.Float32, shape)
	b.Fill(t, math.NaN())
	return t
}

func TestConv2d(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range convTestCases {
		xs, ws := gemmTestRandom(rng, c.x.Numel()), gemmTestRandom(rng, c.w.Numel())
		ho, wo := c.p.OutSize(c.x[2], c.x[3], c.w[2], c.w[3])
		ys := ops.Shape{c.x[0], c.w[0], ho, wo}
		dys := gemmTestRandom(rng, ys.Numel())
		wantY, wantDX, wantDW := convTestRef(xs, ws, dys, c.x, c.w, c.p)
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads=%d", c.name, threads), func(t *testing.T) {
				b := New(Options{Threads: threads})
				x, w, dy := gemmTestTensor(b, c.x, xs), gemmTestTensor(b, c.w, ws), gemmTestTensor(b, ys, dys)
				y, dx, dw := convTestNaN(b, ys), convTestNaN(b, c.x), convTestNaN(b, c.w)

				b.Conv2d(x, w, y, c.p)
				gemmTestClose(t, "y", get("test", y).f32(), wantY)

				b.Conv2dBackward(dy, x, w, dx, dw, c.p)
				gemmTestClose(t, "dx", get("test", dx).f32(), wantDX)
				gemmTestClose(t, "dw", get("test", dw).f32(), wantDW)

				// Each gradient on its own, again into garbage.
				b.Fill(dx, math.NaN())
				b.Conv2dBackward(dy, x, w, dx, nil, c.p)
				gemmTestClose(t, "dx alone", get("test", dx).f32(), wantDX)
				b.Fill(dw, math.NaN())
				b.Conv2dBackward(dy, x, w, nil, dw, c.p)
				gemmTestClose(t, "dw alone", get("test", dw).f32(), wantDW)
			})
		}
	}
}

func TestConv2dMisuse(t *testing.T) {
	b := New(Options{Threads: 1})
	x := b.Alloc(ops.Float32, ops.Shape{1, 4, 5, 5})
	w := b.Alloc(ops.Float32, ops.Shape{4, 4, 3, 3})
	y := b.Alloc(ops.Float32, ops.Shape{1, 4, 4, 4})
	defer func() {
		if recover() == nil {
			t.Fatal("Conv2d with a wrong output shape did not panic")
		}
	}()
	b.Conv2d(x, w, y, ops.Conv(1, 1, 1))
}

func TestConvSpan(t *testing.T) {
	// Against the definition: every o in [0, out) with 0 <= o*stride-pad+offset < in.
	for in := 1; in <= 6; in++ {
		for stride := 1; stride <= 3; stride++ {
			for pad := 0; pad <= 3; pad++ {
				for offset := 0; offset <= 6; offset++ {
					out := 5
					lo, hi := convSpan(in, out, stride, pad, offset)
					for o := range out {
						i := o*stride - pad + offset
						inside := i >= 0 && i < in
						if inside != (o >= lo && o < hi) {
							t.Fatalf("convSpan(in=%d, out=%d, stride=%d, pad=%d, offset=%d) = [%d, %d), wrong at o=%d",
								in, out, stride, pad, offset, lo, hi, o)
						}
					}
				}
			}
		}
	}
}

// BenchmarkConv2dResNeXt times the grouped 3x3 convolution of ResNeXt-50 32x4d's first stage.
func BenchmarkConv2dResNeXt(bm *testing.B) {
	xs, wsh, p := ops.Shape{8, 128, 28, 28}, ops.Shape{128, 4, 3, 3}, ops.Conv(1, 1, 32)
	b := New(Options{})
	rng := rand.New(rand.NewPCG(13, 14))
	x, w := gemmTestTensor(b, xs, gemmTestRandom(rng, xs.Numel())), gemmTestTensor(b, wsh, gemmTestRandom(rng, wsh.Numel()))
	y, dx, dw := b.Alloc(ops.Float32, xs), b.Alloc(ops.Float32, xs), b.Alloc(ops.Float32, wsh)
	// y has x's shape here, and each output element takes C/groups*3*3 multiply-adds.
	flops := 2 * float64(xs.Numel()) * float64(wsh[1]*wsh[2]*wsh[3])
	report := func(bm *testing.B, passes float64) {
		bm.ReportMetric(passes*flops*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	bm.Run("forward", func(bm *testing.B) {
		for bm.Loop() {
			b.Conv2d(x, w, y, p)
		}
		report(bm, 1)
	})
	bm.Run("backward", func(bm *testing.B) {
		for bm.Loop() {
			b.Conv2dBackward(y, x, w, dx, dw, p)
		}
		report(bm, 2)
	})
}
