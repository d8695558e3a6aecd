package cpu

import (
	"math"
	"unsafe"

	"github.com/resnext/resnext/ops"
)

// Max pooling and global average pooling, one (sample, channel) plane at a time.

// MaxPool2dMask is the shape and dtype of MaxPool2d's mask: Int32 with y's shape [N, C, Ho, Wo],
// each element the flat index h*W + w of its window's winner within the input plane (PyTorch's
// indices).
func (b *Backend) MaxPool2dMask(x ops.Shape, p ops.Pool2dParams) (ops.Shape, ops.DType) {
	return ops.PoolOutShape("MaxPool2dMask", x, p), ops.Int32
}

// checkPool runs the shared checks of a max pool whose input (or input gradient, named name) is x.
func checkPool(op, name string, x, y, mask ops.Tensor, p ops.Pool2dParams) {
	if x == nil {
		ops.Misuse(op, "%s is nil", name)
	}
	ops.CheckMaxPool2d(op, x, y, mask, p, ops.PoolOutShape(op, x.Shape(), p), ops.Int32)
}

// MaxPool2d computes the maximum of each window of x (padding counts as -inf) into y and the
// winner's index into mask. Ties go to the first element in row-major window order; a NaN wins
// over any number, as in PyTorch.
func (b *Backend) MaxPool2d(x, y, mask ops.Tensor, p ops.Pool2dParams) {
	const op = "MaxPool2d"
	checkPool(op, "x", x, y, mask, p)
	xs, ys, ms := f32(op, x), f32(op, y), get(op, mask).i32()
	_, _, h, w := x.Shape().NCHW(op)
	_, _, ho, wo := y.Shape().NCHW(op)
	in, out := h*w, ho*wo
	if p.KernelH == 3 && p.KernelW == 3 && p.StrideH == 2 && p.StrideW == 2 {
		v := b.vec()
		b.parallelClaim(len(xs)/in, out*9, func(next func() (int, bool)) {
			// One scratch for the row, the row winners' values and their columns.
			size, rl := h*wo+8, poolRowLen(w, p)
			work := b.scratch(rl + 2*size)
			row, hv := work[:rl], work[rl:rl+size]
			hc := unsafe.Slice((*int32)(unsafe.Pointer(&work[rl+size])), size)
			for pl, ok := next(); ok; pl, ok = next() {
				maxPoolPlane3s2(v, xs[pl*in:(pl+1)*in], h, w, ys[pl*out:(pl+1)*out], ms[pl*out:(pl+1)*out], ho, wo, p, row, hv, hc)
			}
			b.release(work)
		})
		return
	}
	b.parallelFor(len(xs)/in, out*p.KernelH*p.KernelW, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			maxPoolPlane(xs[pl*in:(pl+1)*in], h, w, ys[pl*out:(pl+1)*out], ms[pl*out:(pl+1)*out], ho, wo, p)
		}
	})
}

// maxPoolPlane pools one h x w plane x into the ho x wo plane y and its mask. The checks guarantee
// that every window holds at least one element of x.
func maxPoolPlane(x []float32, h, w int, y []float32, mask []int32, ho, wo int, p ops.Pool2dParams) {
	for oh := range ho {
		h0 := oh*p.StrideH - p.PadTop
		hs, he := max(h0, 0), min(h0+p.KernelH, h)
		for ow := range wo {
			w0 := ow*p.StrideW - p.PadLeft
			ws, we := max(w0, 0), min(w0+p.KernelW, w)
			best := hs*w + ws
			m := x[best]
			for i := hs; i < he; i++ {
				for j, v := range x[i*w+ws : i*w+we] {
					if beats(v, m) {
						m, best = v, i*w+ws+j
					}
				}
			}
			y[oh*wo+ow] = m
			mask[oh*wo+ow] = int32(best)
		}
	}
}

// MaxPool2dBackward zeroes dx and adds each element of dy to the input element that won its
// window, so overlapping windows accumulate.
func (b *Backend) MaxPool2dBackward(dy, x, mask, dx ops.Tensor, p ops.Pool2dParams) {
	const op = "MaxPool2dBackward"
	checkPool(op, "dx", dx, dy, mask, p)
	ops.CheckMaxPool2dInput(op, x, dx)
	dys, ms, dxs := f32(op, dy), get(op, mask).i32(), f32(op, dx)
	_, _, h, w := dx.Shape().NCHW(op)
	_, _, ho, wo := dy.Shape().NCHW(op)
	in, out := h*w, ho*wo
	b.parallelFor(len(dxs)/in, in+out, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			dxp, mp := dxs[pl*in:(pl+1)*in], ms[pl*out:(pl+1)*out]
			clear(dxp)
			for i, g := range dys[pl*out : (pl+1)*out] {
				dxp[mp[i]] += g
			}
		}
	})
}

// GlobalAvgPool averages each H x W plane of x [N, C, H, W] into y [N, C].
func (b *Backend) GlobalAvgPool(x, y ops.Tensor) {
	const op = "GlobalAvgPool"
	ops.CheckGlobalAvgPool(op, x, y)
	xs, ys := f32(op, x), f32(op, y)
	_, _, h, w := x.Shape().NCHW(op)
	hw := h * w
	b.parallelFor(len(ys), hw, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			ys[pl] = float32(sum64(xs[pl*hw:(pl+1)*hw]) / float64(hw))
		}
	})
}

// GlobalAvgPoolBackward spreads each dy [N, C] evenly over its H x W plane of dx.
func (b *Backend) GlobalAvgPoolBackward(dy, dx ops.Tensor) {
	const op = "GlobalAvgPoolBackward"
	ops.CheckGlobalAvgPool(op, dx, dy)
	dys, dxs := f32(op, dy), f32(op, dx)
	_, _, h, w := dx.Shape().NCHW(op)
	hw := h * w
	b.parallelFor(len(dys), hw, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			fill(dxs[pl*hw:(pl+1)*hw], float32(float64(dys[pl])/float64(hw)))
		}
	})
}

// maxPoolPlane3s2 is maxPoolPlane for 3x3 windows with stride 2 (the ResNeXt stem's), in two
// passes that vectorise: first along each input row, the winner of every output column's three
// values (hv, and its column in hc, both [h, wo]); then down each output column, the winner of its
// window's (up to) three rows. Taking the rows' winners in row order keeps maxPoolPlane's choice:
// the first largest value in row-major order, or the last NaN. row is working memory for a row
// with -inf past its end (poolRowLen long), so that eight outputs at a time reach the last column
// and padding on the right never wins (it comes after a real value, which it does not exceed);
// hv and hc have room for 8 outputs past the last row's.
func maxPoolPlane3s2(v *vecLoops, x []float32, h, w int, y []float32, mask []int32, ho, wo int, p ops.Pool2dParams, row, hv []float32, hc []int32) {
	// Left padding comes before a window's real values, where it could win a tie of -inf, so the
	// output columns whose windows start in it go the scalar way.
	first := min((p.PadLeft+1)/2, wo)
	n := roundUp(wo-first, 8)
	row = row[:poolRowLen(w, p)]
	for i := range h {
		copy(row, x[i*w:][:w])
		fill(row[w:], float32(math.Inf(-1)))
		rv, rc := hv[i*wo:][:wo], hc[i*wo:][:wo]
		for q := range first {
			m, best := runWinner(row, max(2*q-p.PadLeft, 0), min(2*q-p.PadLeft+3, w))
			rv[q], rc[q] = m, int32(best)
		}
		if n > 0 {
			v.poolRow3s2(row, n, 2*first-p.PadLeft, hv[i*wo+first:][:n], hc[i*wo+first:][:n])
		}
	}
	for q := range ho {
		r0 := max(2*q-p.PadTop, 0)
		r2 := min(2*q-p.PadTop+3, h) - 1 // the window's last row; r0 when it has one
		r1 := min(r0+1, r2)
		v.poolCol3(hv[r0*wo:][:wo], hv[r1*wo:][:wo], hv[r2*wo:][:wo], hc[r0*wo:][:wo], hc[r1*wo:][:wo], hc[r2*wo:][:wo],
			r0*w, r1*w, r2*w, y[q*wo:][:wo], mask[q*wo:][:wo])
	}
}

// poolRowLen is the length of maxPoolPlane3s2's row: the row, its right padding, and what eight
// outputs at a time read past the last (16 values at most).
func poolRowLen(w int, p ops.Pool2dParams) int { return w + p.PadRight + 18 }

// poolRow3s2Go is the first pass of maxPoolPlane3s2 along a row x: for k < n, hv[k] and hc[k] are
// the winner of x[c0+2k], x[c0+2k+1], x[c0+2k+2] and its column.
func poolRow3s2Go(x []float32, n, c0 int, hv []float32, hc []int32) {
	for k := range n {
		m, best := runWinner(x, c0+2*k, c0+2*k+3)
		hv[k], hc[k] = m, int32(best)
	}
}

// beats reports whether v takes a max pool window from m, the winner so far in row-major order:
// when it is larger, or NaN (so the first largest value wins, or the last NaN, as in PyTorch).
func beats(v, m float32) bool { return v > m || v != v }

// runWinner is the winner of the run x[lo:hi] (not empty) and its index.
func runWinner(x []float32, lo, hi int) (m float32, best int) {
	m, best = x[lo], lo
	for j := lo + 1; j < hi; j++ {
		if beats(x[j], m) {
			m, best = x[j], j
		}
	}
	return m, best
}

// poolCol3Go is the second pass of maxPoolPlane3s2 for one output row: for each k, the winner of
// the row winners v0[k], v1[k], v2[k] (in that order) into y[k], and its index in the plane,
// o + c[k] of its row, into mask[k]. A row given twice changes nothing.
func poolCol3Go(v0, v1, v2 []float32, c0, c1, c2 []int32, o0, o1, o2 int, y []float32, mask []int32) {
	for k := range y {
		m, best := v0[k], int32(o0)+c0[k]
		if u := v1[k]; beats(u, m) {
			m, best = u, int32(o1)+c1[k]
		}
		if u := v2[k]; beats(u, m) {
			m, best = u, int32(o2)+c2[k]
		}
		y[k], mask[k] = m, best
	}
}
