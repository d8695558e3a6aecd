package cpu

import (
	"fmt"
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
	g.im2col(x, col, g.plane())
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
	g.col2im(c, g.plane(), back)
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

// resnext50Convs lists the distinct convolutions of ResNeXt-50 32x4d on 224x224 images, each with
// the number of times it occurs in the network: the 7x7 stem, then per stage the first block's
// 1x1 reduction, grouped 3x3 (strided from the second stage on), 1x1 expansion and strided
// down-sample, and the later blocks' reduction and grouped 3x3 (their expansion is the first
// block's).
func resnext50Convs() []benchConv {
	convs := []benchConv{{"stem", 3, 64, 112 * 2, 7, 2, 3, 1, 1}}
	in, hw := 64, 56
	for stage, blocks := range []int{3, 4, 6, 3} {
		width, out, stride := 128<<stage, 256<<stage, min(stage, 1)+1
		name := func(s string) string { return fmt.Sprintf("layer%d.%s", stage+1, s) }
		convs = append(convs,
			benchConv{name("0.conv1"), in, width, hw, 1, 1, 0, 1, 1},
			benchConv{name("0.conv2"), width, width, hw, 3, stride, 1, 32, 1},
			benchConv{name("0.down_sample"), in, out, hw, 1, stride, 0, 1, 1})
		hw /= stride
		convs = append(convs,
			benchConv{name("0.conv3"), width, out, hw, 1, 1, 0, 1, blocks},
			benchConv{name("1.conv1"), out, width, hw, 1, 1, 0, 1, blocks - 1},
			benchConv{name("1.conv2"), width, width, hw, 3, 1, 1, 32, blocks - 1})
		in = out
	}
	return convs
}

// benchConv is one convolution layer: in and out channels, the input's height and width, the
// kernel size, stride, padding and groups, and how many layers of the network have this shape.
type benchConv struct {
	name                                        string
	in, out, hw, kernel, stride, pad, groups, n int
}

// BenchmarkConv2dResNeXt50 times every distinct convolution of ResNeXt-50 32x4d at batch 8 on
// 224x224 images: the forward pass, the input gradient and the weight gradient, each in GFLOP/s.
// The layers' ms/op times their count (the name's last number) add up to the convolutions' share
// of a training step.
func BenchmarkConv2dResNeXt50(bm *testing.B) {
	const batch = 8
	b := New(Options{})
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range resnext50Convs() {
		xs, wsh, p := ops.Shape{batch, c.in, c.hw, c.hw}, ops.Shape{c.out, c.in / c.groups, c.kernel, c.kernel}, ops.Conv(c.stride, c.pad, c.groups)
		oh, ow := p.OutSize(c.hw, c.hw, c.kernel, c.kernel)
		ys := ops.Shape{batch, c.out, oh, ow}
		x, w := gemmTestTensor(b, xs, gemmTestRandom(rng, xs.Numel())), gemmTestTensor(b, wsh, gemmTestRandom(rng, wsh.Numel()))
		y, dy := b.Alloc(ops.Float32, ys), gemmTestTensor(b, ys, gemmTestRandom(rng, ys.Numel()))
		dx, dw := b.Alloc(ops.Float32, xs), b.Alloc(ops.Float32, wsh)
		flops := 2 * float64(ys.Numel()) * float64(wsh[1]*wsh[2]*wsh[3])
		for _, pass := range []struct {
			name string
			run  func()
		}{
			{"forward", func() { b.Conv2d(x, w, y, p) }},
			{"data", func() { b.Conv2dBackward(dy, x, w, dx, nil, p) }},
			{"filter", func() { b.Conv2dBackward(dy, x, w, nil, dw, p) }},
		} {
			bm.Run(fmt.Sprintf("%s.x%d/%s", c.name, c.n, pass.name), func(bm *testing.B) {
				for bm.Loop() {
					pass.run()
				}
				bm.ReportMetric(flops*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
				bm.ReportMetric(bm.Elapsed().Seconds()*1e3/float64(bm.N), "ms/op")
			})
		}
		for _, t := range []ops.Tensor{x, w, y, dy, dx, dw} {
			b.Free(t)
		}
	}
}
