package opstest

import (
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// convCase is one convolution geometry: x [n, c, h, w], w [k, c/groups, r, s].
type convCase struct {
	name       string
	n, c, h, w int
	k, r, s    int
	p          ops.Conv2dParams
}

func (c convCase) geom() convGeom { return newConvGeom(c.n, c.c, c.h, c.w, c.k, c.r, c.s, c.p) }

// convCases covers the shapes ResNeXt uses (the 7x7 stem, 1x1 and grouped 3x3 convolutions, stride-2
// downsampling) and the edges: batches of 0, 1, 3 and 4, odd sizes, 1x1 inputs and outputs, groups
// of 1, 2, 32, 64 and equal to the channels, stride 3, padding as large as the kernel or larger
// (output positions that see only padding), dilation, rectangular kernels with different
// attributes per axis, zero attributes meaning 1, matrices larger than a typical GEMM block
// (2304 output positions, 136 filters), and many filters on small planes over a batch (the 7x7
// and 14x14 stages).
var convCases = []convCase{
	{"1x1", 2, 8, 5, 5, 16, 1, 1, ops.Conv(1, 0, 1)},
	{"1x1_stride2_odd_7x7", 2, 8, 7, 7, 16, 1, 1, ops.Conv(2, 0, 1)},
	{"3x3_pad1_odd_7x9", 2, 6, 7, 9, 4, 3, 3, ops.Conv(1, 1, 1)},
	{"3x3_stride2_pad1_odd_9x9", 2, 8, 9, 9, 8, 3, 3, ops.Conv(2, 1, 1)},
	{"3x3_stride2_pad1_even_8x8", 1, 4, 8, 8, 4, 3, 3, ops.Conv(2, 1, 1)},
	{"stem_7x7_stride2_pad3", 1, 3, 15, 17, 8, 7, 7, ops.Conv(2, 3, 1)},
	{"stem_7x7_stride2_pad3_batch2", 2, 3, 32, 32, 16, 7, 7, ops.Conv(2, 3, 1)},
	{"batch1_5x5", 1, 4, 5, 5, 6, 3, 3, ops.Conv(1, 1, 1)},
	{"1x1_output", 2, 4, 3, 3, 5, 3, 3, ops.Conv(1, 0, 1)},
	{"1x1_input_1x1_kernel", 3, 16, 1, 1, 8, 1, 1, ops.Conv(1, 0, 1)},
	{"groups2", 2, 8, 6, 6, 8, 3, 3, ops.Conv(1, 1, 2)},
	{"groups32_4_per_group", 1, 128, 6, 6, 128, 3, 3, ops.Conv(1, 1, 32)},
	{"groups32_stride2_odd_7x7", 2, 128, 7, 7, 128, 3, 3, ops.Conv(2, 1, 32)},
	{"groups32_64ch_14x14", 2, 64, 14, 14, 64, 3, 3, ops.Conv(1, 1, 32)},
	{"groups_eq_channels", 2, 8, 7, 7, 8, 3, 3, ops.Conv(1, 1, 8)},
	{"groups_eq_channels_multiplier2_stride2", 1, 4, 5, 5, 8, 3, 3, ops.Conv(2, 1, 4)},
	{"dilation2", 2, 4, 9, 9, 4, 3, 3, ops.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilationH: 2, DilationW: 2, Groups: 1}},
	{"dilation2_stride2_groups2", 1, 4, 11, 10, 6, 3, 3, ops.Conv2dParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 2, DilationH: 2, DilationW: 2, Groups: 2}},
	{"rect_kernel_per_axis_attributes", 2, 3, 8, 7, 4, 3, 2, ops.Conv2dParams{StrideH: 2, StrideW: 1, PadH: 1, PadW: 2, DilationH: 1, DilationW: 2, Groups: 1}},
	{"zero_attributes_mean_1", 1, 3, 5, 6, 2, 3, 3, ops.Conv2dParams{}},
	{"pad_wider_than_kernel_reach", 1, 2, 4, 4, 3, 3, 3, ops.Conv(1, 2, 1)},
	{"1x1_dense_64_to_128_14x14", 2, 64, 14, 14, 128, 1, 1, ops.Conv(1, 0, 1)},
	{"groups32_128ch_stride2_28x28", 2, 128, 28, 28, 128, 3, 3, ops.Conv(2, 1, 32)},
	{"stem_7x7_stride2_pad3_64x64", 1, 3, 64, 64, 64, 7, 7, ops.Conv(2, 3, 1)},
	{"groups2_odd_8x11", 1, 6, 8, 11, 4, 3, 3, ops.Conv(1, 1, 2)},
	{"groups64_2_per_group_stride2", 1, 128, 5, 5, 128, 3, 3, ops.Conv(2, 1, 64)},
	{"1x1_groups2", 2, 8, 5, 5, 8, 1, 1, ops.Conv(1, 0, 2)},
	{"1x1_stride3", 1, 4, 10, 10, 4, 1, 1, ops.Conv(3, 0, 1)},
	{"1x1_pad1", 1, 4, 3, 5, 4, 1, 1, ops.Conv(1, 1, 1)},
	{"1x1_pad2_exceeds_kernel", 1, 4, 3, 5, 4, 1, 1, ops.Conv(1, 2, 1)},
	{"2x2_pad2", 1, 2, 3, 3, 2, 2, 2, ops.Conv(1, 2, 1)},
	{"3x3_pad1_1x1_input", 1, 4, 1, 1, 4, 3, 3, ops.Conv(1, 1, 1)},
	{"rect_kernel_groups2_dilation1x3", 2, 4, 11, 10, 4, 3, 2, ops.Conv2dParams{StrideH: 2, StrideW: 1, PadH: 0, PadW: 1, DilationH: 1, DilationW: 3, Groups: 2}},
	{"1x1_wide_48x48", 1, 4, 48, 48, 8, 1, 1, ops.Conv(1, 0, 1)},
	{"3x3_136_filters", 1, 32, 6, 6, 136, 3, 3, ops.Conv(1, 1, 1)},
	{"batch3", 3, 8, 7, 7, 8, 3, 3, ops.Conv(1, 1, 1)},
	{"batch4", 4, 16, 10, 10, 16, 3, 3, ops.Conv(1, 1, 1)},
	{"batch0", 0, 4, 5, 5, 4, 3, 3, ops.Conv(1, 1, 1)},
	{"1x1_stride2_72_filters_batch3", 3, 8, 9, 9, 72, 1, 1, ops.Conv(2, 0, 1)},
	{"3x3_stride2_80_filters_batch2", 2, 4, 9, 9, 80, 3, 3, ops.Conv(2, 1, 1)},
	{"1x1_96_filters_7x7_batch2_groups2", 2, 8, 7, 7, 192, 1, 1, ops.Conv(1, 0, 2)},
}

// convInputs returns random x and w for a geometry; w is scaled by 1/sqrt(fan-in) so outputs stay
// near unit size.
func (e *env) convInputs(g convGeom) (x, w []float32) {
	x = e.randn(g.xShape().Numel())
	w = e.randn(g.wShape().Numel())
	fan := float32(g.C / g.p.Groups * g.R * g.S)
	for i := range w {
		w[i] /= sqrt32(fan)
	}
	return x, w
}

func testConv2d(t *testing.T, b ops.Backend) {
	for _, c := range convCases {
		run(t, b, c.name, func(e *env) {
			g := c.geom()
			x, w := e.convInputs(g)
			X, W, Y := e.tensor(g.xShape(), x), e.tensor(g.wShape(), w), e.out(g.yShape())
			b.Conv2d(X, W, Y, c.p)
			e.near("y", e.read(Y), refConv2d(f64(x), f64(w), g), tolReduce)
			e.unchanged("x", X, x)
			e.unchanged("w", W, w)
			e.sync()
		})
	}
}

func testConv2dBackward(t *testing.T, b ops.Backend) {
	for _, c := range convCases {
		run(t, b, c.name, func(e *env) {
			g := c.geom()
			x, w := e.convInputs(g)
			dy := e.randn(g.yShape().Numel())
			X, W, DY := e.tensor(g.xShape(), x), e.tensor(g.wShape(), w), e.tensor(g.yShape(), dy)
			DX, DW := e.out(g.xShape()), e.out(g.wShape())
			b.Conv2dBackward(DY, X, W, DX, DW, c.p)
			dx, dw := refConv2dBackward(f64(dy), f64(x), f64(w), g)
			e.near("dx", e.read(DX), dx, tolReduce)
			e.near("dw", e.read(DW), dw, tolReduce)
			e.unchanged("dy", DY, dy)
			e.unchanged("x", X, x)
			e.unchanged("w", W, w)
			// The output mask: either gradient may be nil.
			b.Fill(DX, math.NaN())
			b.Conv2dBackward(DY, X, W, DX, nil, c.p)
			e.near("dx (dw nil)", e.read(DX), dx, tolReduce)
			b.Fill(DW, math.NaN())
			b.Conv2dBackward(DY, X, W, nil, DW, c.p)
			e.near("dw (dx nil)", e.read(DW), dw, tolReduce)
			e.sync()
		})
	}
	// Finite differences of the backend's own forward, on every geometry but the largest.
	for _, c := range convCases {
		if n := c.geom().xShape().Numel(); n == 0 || n > 8192 {
			continue
		}
		run(t, b, c.name+"/finite_difference", func(e *env) {
			g := c.geom()
			x, w := e.convInputs(g)
			r := e.randn(g.yShape().Numel())
			DX, DW := e.out(g.xShape()), e.out(g.wShape())
			b.Conv2dBackward(e.tensor(g.yShape(), r), e.tensor(g.xShape(), x), e.tensor(g.wShape(), w), DX, DW, c.p)
			e.directional([][]float32{x, w}, [][]float32{e.read(DX), e.read(DW)}, 1e-2, func(in [][]float32) float64 {
				X, W, Y := e.tensor(g.xShape(), in[0]), e.tensor(g.wShape(), in[1]), e.out(g.yShape())
				defer e.free(X, W, Y)
				b.Conv2d(X, W, Y, c.p)
				return weighted(r, e.read(Y))
			})
		})
	}
}
