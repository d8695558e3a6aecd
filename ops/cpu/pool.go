package cpu

import "github.com/resnext/resnext/ops"

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
					if v > m || v != v {
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
