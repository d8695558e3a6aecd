package opstest

import (
	"slices"
	"testing"

	"github.com/resnext/resnext/ops"
)

// poolData is how a max-pool case fills x.
type poolData int

const (
	distinctData   poolData = iota // distinct values: no ties
	negativeData                   // distinct and all negative: padding must act as -inf, not 0
	tiedData                       // only 0s and 1s: ties go to the first element in row-major window order
	constantData                   // one negative value everywhere
	tiedNegInfData                 // 0 to 3 and a tenth -inf, the first plane all -inf: windows with nothing finite
	nanData                        // distinct, a tenth NaN: a window holding NaN gives NaN (forward only)
)

// poolCase is one max-pool geometry: x [n, c, h, w].
type poolCase struct {
	name       string
	n, c, h, w int
	p          ops.Pool2dParams
	data       poolData
}

func (c poolCase) geom() poolGeom { return newPoolGeom(c.n, c.c, c.h, c.w, c.p) }

// poolCases covers ResNeXt's stem pool under torchvision padding (3x3 s2 p1) and MindCV's "same"
// padding (bottom/right only where the total is odd), odd inputs, windows that overlap or leave
// input rows unused, 1x1 inputs and outputs, per-axis attributes, negative inputs, ties, -inf and
// NaN.
var poolCases = []poolCase{
	{"3x3_stride2_pad1", 2, 3, 8, 8, ops.Pool(3, 2, 1), distinctData},
	{"3x3_stride2_pad1_odd_7x9", 1, 2, 7, 9, ops.Pool(3, 2, 1), distinctData},
	{"same_3x3_stride2_112_to_56", 1, 2, 112, 112, ops.SamePool(3, 2, 112, 112), distinctData},
	{"same_3x3_stride2_odd_13x10", 2, 3, 13, 10, ops.SamePool(3, 2, 13, 10), distinctData},
	{"same_3x3_stride2_odd_6x11", 1, 2, 6, 11, ops.SamePool(3, 2, 6, 11), distinctData},
	{"2x2_stride2", 2, 3, 6, 6, ops.Pool(2, 2, 0), distinctData},
	{"3x3_stride1_pad1_overlap", 1, 2, 5, 5, ops.Pool(3, 1, 1), distinctData},
	{"3x3_stride2_unused_last_row", 1, 2, 6, 6, ops.Pool(3, 2, 0), distinctData},
	{"1x1_output", 2, 2, 3, 3, ops.Pool(3, 2, 0), distinctData},
	{"batch1_1_channel", 1, 1, 5, 7, ops.Pool(3, 2, 1), distinctData},
	{"per_axis_attributes", 1, 2, 7, 8, ops.Pool2dParams{KernelH: 3, KernelW: 2, StrideH: 2, StrideW: 1,
		PadTop: 1, PadBottom: 0, PadLeft: 0, PadRight: 1}, distinctData},
	{"negative_input_pad1", 2, 2, 7, 7, ops.Pool(3, 2, 1), negativeData},
	{"same_padding_negative_input", 1, 2, 6, 11, ops.SamePool(3, 2, 6, 11), negativeData},
	{"ties", 2, 3, 9, 9, ops.Pool(3, 2, 1), tiedData},
	{"ties_constant", 1, 2, 7, 6, ops.Pool(3, 2, 1), constantData},
	{"64ch_28x28", 4, 64, 28, 28, ops.Pool(3, 2, 1), distinctData},
	{"ties_neg_inf_3x3_stride2_pad1", 2, 3, 9, 9, ops.Pool(3, 2, 1), tiedNegInfData},
	{"ties_neg_inf_same_odd_57x31", 1, 2, 57, 31, ops.SamePool(3, 2, 57, 31), tiedNegInfData},
	{"ties_neg_inf_1_channel_odd_7x5", 1, 1, 7, 5, ops.Pool(3, 2, 1), tiedNegInfData},
	{"ties_neg_inf_2x2_stride2_drops_last_row_9x9", 3, 2, 9, 9, ops.Pool(2, 2, 0), tiedNegInfData},
	{"ties_neg_inf_1x1_input_pad1", 2, 1, 1, 1, ops.Pool(3, 2, 1), tiedNegInfData},
	{"ties_neg_inf_3x3_stride1_overlap", 1, 3, 6, 6, ops.Pool(3, 1, 1), tiedNegInfData},
	{"ties_neg_inf_per_axis_attributes", 2, 2, 8, 7, ops.Pool2dParams{KernelH: 3, KernelW: 2, StrideH: 1, StrideW: 2,
		PadTop: 1, PadRight: 1}, tiedNegInfData},
	{"ties_neg_inf_64ch_28x28", 2, 64, 28, 28, ops.Pool(3, 2, 1), tiedNegInfData},
	{"nan_3x3_stride2_pad1", 2, 2, 9, 9, ops.Pool(3, 2, 1), nanData},
	{"nan_3x3_stride1_overlap", 1, 2, 7, 7, ops.Pool(3, 1, 1), nanData},
	{"nan_same_odd_13x10", 1, 3, 13, 10, ops.SamePool(3, 2, 13, 10), nanData},
}

func (e *env) poolInput(c poolCase) []float32 {
	n := c.geom().xShape().Numel()
	switch c.data {
	case negativeData:
		x := e.distinct(n, 0.05)
		top := slices.Max(x)
		for i := range x {
			x[i] -= top + 1
		}
		return x
	case tiedData:
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(e.rng.IntN(2))
		}
		return x
	case constantData:
		x := make([]float32, n)
		for i := range x {
			x[i] = -3
		}
		return x
	case tiedNegInfData:
		x := make([]float32, n)
		plane := c.h * c.w
		for i := range x {
			x[i] = float32(e.rng.IntN(4))
			if i < plane || e.rng.IntN(10) == 0 {
				x[i] = ninf
			}
		}
		return x
	case nanData:
		x := e.distinct(n, 0.05)
		for i := range x {
			if e.rng.IntN(10) == 0 {
				x[i] = nan
			}
		}
		return x
	}
	return e.distinct(n, 0.05)
}

// maxPool runs the backend's MaxPool2d on x and returns y and the mask (in the backend's layout).
func (e *env) maxPool(g poolGeom, X ops.Tensor) (y, mask ops.Tensor) {
	ms, mt := e.b.MaxPool2dMask(g.xShape(), g.p)
	y, mask = e.out(g.yShape()), e.alloc(mt, ms)
	e.b.MaxPool2d(X, y, mask, g.p)
	return y, mask
}

// skipNonFinite skips a case whose input holds NaN or -Inf on a backend whose max pool does not
// take them (ops.FiniteMaxPool).
func skipNonFinite(t *testing.T, b ops.Backend, c poolCase) bool {
	if (c.data == tiedNegInfData || c.data == nanData) && !ops.MaxPoolTakesNonFinite(b) {
		t.Run(c.name, func(t *testing.T) { t.Skip("the backend's max pool does not take NaN or -Inf input") })
		return true
	}
	return false
}

func testMaxPool2d(t *testing.T, b ops.Backend) {
	for _, c := range poolCases {
		if skipNonFinite(t, b, c) {
			continue
		}
		run(t, b, c.name, func(e *env) {
			g := c.geom()
			x := e.poolInput(c)
			X := e.tensor(g.xShape(), x)
			Y, _ := e.maxPool(g, X)
			want, _ := refMaxPool(f64(x), g)
			e.exact("y", e.read(Y), want)
			e.unchanged("x", X, x)
			e.sync()
		})
	}
}

func testMaxPool2dBackward(t *testing.T, b ops.Backend) {
	for _, c := range poolCases {
		if c.data == nanData {
			continue // which NaN of a window receives the gradient is not specified
		}
		if skipNonFinite(t, b, c) {
			continue
		}
		run(t, b, c.name, func(e *env) {
			g := c.geom()
			x := e.poolInput(c)
			dy := e.randn(g.yShape().Numel())
			X := e.tensor(g.xShape(), x)
			_, mask := e.maxPool(g, X)
			DY, DX := e.tensor(g.yShape(), dy), e.out(g.xShape())
			b.MaxPool2dBackward(DY, X, mask, DX, c.p)
			_, arg := refMaxPool(f64(x), g)
			e.near("dx", e.read(DX), refMaxPoolBackward(f64(dy), arg, len(x)), tolElem)
			e.unchanged("dy", DY, dy)
			e.sync()
		})
	}
	for _, c := range poolCases {
		if c.data != distinctData || c.geom().xShape().Numel() > 8192 {
			continue
		}
		run(t, b, c.name+"/finite_difference", func(e *env) {
			g := c.geom()
			x := e.poolInput(c)
			r := e.randn(g.yShape().Numel())
			X0 := e.tensor(g.xShape(), x)
			_, mask := e.maxPool(g, X0)
			DX := e.out(g.xShape())
			b.MaxPool2dBackward(e.tensor(g.yShape(), r), X0, mask, DX, c.p)
			// The inputs are 0.05 apart: a step of at most 2e-3*12 never changes a winner.
			e.directional([][]float32{x}, [][]float32{e.read(DX)}, 2e-3, func(in [][]float32) float64 {
				X := e.tensor(g.xShape(), in[0])
				Y, M := e.maxPool(g, X)
				defer e.free(X, Y, M)
				return weighted(r, e.read(Y))
			})
		})
	}
}

// gapCases are the inputs of the global average pool.
var gapCases = []struct {
	name  string
	shape ops.Shape
}{
	{"5x5", ops.Shape{2, 3, 5, 5}},
	{"1x1_spatial", ops.Shape{2, 4, 1, 1}},
	{"batch1_odd_7x9", ops.Shape{1, 5, 7, 9}},
	{"head_2048ch_7x7", ops.Shape{2, 2048, 7, 7}},
}

func testGlobalAvgPool(t *testing.T, b ops.Backend) {
	for _, c := range gapCases {
		run(t, b, c.name, func(e *env) {
			nc, hw := c.shape[0]*c.shape[1], c.shape[2]*c.shape[3]
			x := e.randn(c.shape.Numel())
			X, Y := e.tensor(c.shape, x), e.out(c.shape[:2])
			b.GlobalAvgPool(X, Y)
			e.near("y", e.read(Y), refGlobalAvgPool(f64(x), nc, hw), tolReduce)
			e.unchanged("x", X, x)
			e.sync()
		})
	}
}

func testGlobalAvgPoolBackward(t *testing.T, b ops.Backend) {
	for _, c := range gapCases {
		run(t, b, c.name, func(e *env) {
			hw := c.shape[2] * c.shape[3]
			dy := e.randn(c.shape[0] * c.shape[1])
			DY, DX := e.tensor(c.shape[:2], dy), e.out(c.shape)
			b.GlobalAvgPoolBackward(DY, DX)
			e.near("dx", e.read(DX), refGlobalAvgPoolBackward(f64(dy), hw), tolElem)
			e.unchanged("dy", DY, dy)
			e.sync()
		})
	}
	for _, c := range gapCases[:3] {
		run(t, b, c.name+"/finite_difference", func(e *env) {
			x := e.randn(c.shape.Numel())
			r := e.randn(c.shape[0] * c.shape[1])
			DX := e.out(c.shape)
			b.GlobalAvgPoolBackward(e.tensor(c.shape[:2], r), DX)
			e.directional([][]float32{x}, [][]float32{e.read(DX)}, 1e-2, func(in [][]float32) float64 {
				X, Y := e.tensor(c.shape, in[0]), e.out(c.shape[:2])
				defer e.free(X, Y)
				b.GlobalAvgPool(X, Y)
				return weighted(r, e.read(Y))
			})
		})
	}
}
