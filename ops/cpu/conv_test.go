package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnext/resnext/ops"
)

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

// TestIm2colCol2im checks im2col against its definition (row (c, r, s) of the column matrix holds
// the input under filter tap (r, s) of channel c at every output position, zero in the padding)
// and col2im as its adjoint, <im2col(x), c> = <x, col2im(c)>, over small geometries with every
// combination of kernel size, stride, padding and dilation up to 3.
func TestIm2colCol2im(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, hw := range [][2]int{{1, 1}, {4, 5}, {7, 6}} {
		for kernel := 1; kernel <= 3; kernel++ {
			for stride := 1; stride <= 3; stride++ {
				for pad := 0; pad <= 3; pad++ {
					for dil := 1; dil <= 3; dil++ {
						p := ops.Conv2dParams{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad + 1,
							DilationH: dil, DilationW: dil, Groups: 1}
						xs, ws := ops.Shape{1, 2, hw[0], hw[1]}, ops.Shape{1, 2, kernel, kernel + 1}
						if oh, ow := p.OutSize(hw[0], hw[1], ws[2], ws[3]); oh <= 0 || ow <= 0 {
							continue
						}
						checkIm2col(t, newConvShape(xs, ws, p), rng)
					}
				}
			}
		}
	}
}

func checkIm2col(t *testing.T, g *convShape, rng *rand.Rand) {
	t.Helper()
	x := gemmTestRandom(rng, g.cg*g.h*g.w)
	col := make([]float32, g.rows()*g.plane())
	for i := range col {
		col[i] = float32(math.NaN())
	}
	g.im2col(x, col)
	for ci := range g.cg {
		for r := range g.kh {
			for s := range g.kw {
				for p := range g.oh {
					for q := range g.ow {
						var want float32
						h, w := p*g.StrideH-g.PadH+r*g.DilationH, q*g.StrideW-g.PadW+s*g.DilationW
						if h >= 0 && h < g.h && w >= 0 && w < g.w {
							want = x[(ci*g.h+h)*g.w+w]
						}
						if got := col[((ci*g.kh+r)*g.kw+s)*g.plane()+p*g.ow+q]; got != want {
							t.Fatalf("im2col %+v: tap (%d, %d, %d) at (%d, %d) = %v, want %v", g, ci, r, s, p, q, got, want)
						}
					}
				}
			}
		}
	}
	c := gemmTestRandom(rng, len(col))
	back := make([]float32, len(x))
	g.col2im(c, back)
	var lhs, rhs, size float64
	for i := range col {
		lhs += float64(col[i]) * float64(c[i])
		size += math.Abs(float64(col[i]) * float64(c[i]))
	}
	for i := range x {
		rhs += float64(x[i]) * float64(back[i])
	}
	if math.Abs(lhs-rhs) > 1e-5*(size+1e-6) {
		t.Fatalf("col2im %+v is not the adjoint of im2col: %v != %v", g, rhs, lhs)
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
