//go:build cgo

package ascend

import (
	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/ops"
)

// poolPlan is how a max pool with per-side padding runs on aclnnMaxPool2dWithMask, whose padding is
// symmetric.
type poolPlan struct {
	padH, padW int64 // aclnn's symmetric padding
	ceil       bool  // aclnn's ceil mode
	rowOff     int   // the wanted output starts at this row and column of aclnn's
	colOff     int
	explicit   bool // pool a copy of x padded with the lowest finite value as p says, with no padding of aclnn's
	inH, inW   int  // the size of the plane aclnn pools (padded when explicit)
	poolH      int  // aclnn's output size
	poolW      int
	outH, outW int // the wanted output size
}

// cropped reports whether aclnn's output is larger than the wanted one.
func (pl poolPlan) cropped() bool { return pl.poolH != pl.outH || pl.poolW != pl.outW }

// planPool chooses how to run a pool with padding p on input x [N, C, H, W]. Window i of the wanted
// pool covers rows from i*stride - PadTop. aclnn with symmetric padding P (at most half the kernel,
// aclnn's limit) puts its window j at j*stride - P: when P - PadTop is a multiple of the stride, its
// window j = i + (P-PadTop)/stride is the same window, and every row it reads past the input is -inf
// in both. So the wanted output is a block of aclnn's, in floor or ceil mode, whenever aclnn's is
// large enough; MindCV's "same" stem pool (112 -> 56) is exactly aclnn's with P = 0 in ceil mode, and
// symmetric pools run as they are. Padding wider than half the kernel pools an explicitly padded
// copy of x (there, a window whose values all equal the lowest finite value may pick a padding element,
// which passes no gradient).
func planPool(x ops.Shape, p ops.Pool2dParams) poolPlan {
	_, _, h, w := x.NCHW("MaxPool2d")
	ho, wo := p.OutSize(h, w)
	best := poolPlan{explicit: true, inH: h + p.PadTop + p.PadBottom, inW: w + p.PadLeft + p.PadRight,
		poolH: ho, poolW: wo, outH: ho, outW: wo}
	found := false
	for _, ceil := range []bool{false, true} {
		ph, rh, oh, okH := poolAxis(h, p.KernelH, p.StrideH, p.PadTop, ho, ceil)
		pw, rw, ow, okW := poolAxis(w, p.KernelW, p.StrideW, p.PadLeft, wo, ceil)
		if !okH || !okW {
			continue
		}
		pl := poolPlan{padH: int64(ph), padW: int64(pw), ceil: ceil, rowOff: rh, colOff: rw, inH: h, inW: w,
			poolH: oh, poolW: ow, outH: ho, outW: wo}
		if !found || best.cropped() && !pl.cropped() {
			best, found = pl, true
		}
	}
	return best
}

// poolAxis finds, for one axis, the smallest symmetric padding pad >= before that places aclnn's
// windows on the wanted ones and gives at least off+want outputs; it returns the padding, the offset
// of the wanted outputs and aclnn's output count.
func poolAxis(in, k, s, before, want int, ceil bool) (pad, off, out int, ok bool) {
	for pad = before; 2*pad <= k; pad += s {
		off = (pad - before) / s
		out = (in+2*pad-k)/s + 1
		if ceil {
			out = ceilOut(in, k, s, pad)
		}
		if out >= off+want {
			return pad, off, out, true
		}
	}
	return 0, 0, 0, false
}

// ceilOut is PyTorch's (and aclnn's) pooled size in ceil mode with symmetric padding pad: the last
// window must start inside the input or its leading padding.
func ceilOut(in, k, s, pad int) int {
	out := (in+2*pad-k+s-1)/s + 1
	if (out-1)*s >= in+pad {
		out--
	}
	return out
}

// maskShape is the aclnn mask for a plan: per plane, one bit per output position for each of the
// kernel's taps, in 16-bit granules plus one spare granule, in bytes.
func maskShape(x ops.Shape, p ops.Pool2dParams, pl poolPlan) ops.Shape {
	n, c, _, _ := x.NCHW("MaxPool2dMask")
	words := (pl.poolH*pl.poolW+15)/16 + 1
	return ops.Shape{n, c, p.KernelH * p.KernelW, words * 32}
}

// MaxPool2dMask is CANN's mask layout, Uint8 (INT8 to aclnn), for aclnn's output size.
func (b *Backend) MaxPool2dMask(x ops.Shape, p ops.Pool2dParams) (ops.Shape, ops.DType) {
	_, ms := planFor("MaxPool2dMask", x, p)
	return ms, ops.Uint8
}

// planFor checks p against the input shape x and returns the plan and the mask's shape.
func planFor(op string, x ops.Shape, p ops.Pool2dParams) (poolPlan, ops.Shape) {
	ops.PoolOutShape(op, x, p)
	pl := planPool(x, p)
	return pl, maskShape(x, p, pl)
}

// poolAttrs adds the aclnn attributes of a plan to c: kernel, stride, padding and dilation arrays
// and the ceil mode.
func poolAttrs(c *call, p ops.Pool2dParams, pl poolPlan, ceil bool) (kernel, stride, pad, dilation int) {
	kernel, stride = c.intArray(int64(p.KernelH), int64(p.KernelW)), c.intArray(int64(p.StrideH), int64(p.StrideW))
	pad, dilation = c.intArray(pl.padH, pl.padW), c.intArray(1, 1)
	cm := int64(0)
	if ceil {
		cm = 1
	}
	c.attr(cm)
	return
}

// maskOperand adds the mask to c as aclnn's INT8, an input or an output.
func maskOperand(c *call, m *tensor, out bool) int {
	d := dims64(m.shape)
	return c.viewOf(m, !out, out, acl.Int8, d, contiguous(d), 0)
}

// block adds to c the [N, C, h, w] block of big [N, C, H, W] that starts at row top and column
// left, as an input, an output or both.
func block(c *call, big *tensor, in, out bool, h, w, top, left int) int {
	n, ch, bh, bw := big.shape.NCHW("MaxPool2d")
	hw := int64(bh) * int64(bw)
	return c.viewOf(big, in, out, aclType(big.dtype), []int64{int64(n), int64(ch), int64(h), int64(w)},
		[]int64{int64(ch) * hw, hw, int64(bw), 1}, int64(top)*int64(bw)+int64(left))
}

// copyBlock queues aclnnInplaceCopy between a block and a whole tensor: into the block of big at
// (top, left) from small when into is true, else from that block into small.
func (b *Backend) copyBlock(op string, big, small *tensor, into bool, top, left int) {
	_, _, h, w := small.shape.NCHW(op)
	c := b.newCall(op)
	var di, si int
	if into {
		di = block(c, big, true, true, h, w, top, left) // selfRef: input 0 and output 0
		si = c.in(small)
	} else {
		di = c.inout(small)
		si = block(c, big, true, false, h, w, top, left)
	}
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareInplaceCopy(c.t(di), c.t(si)) })
}

// padded returns a scratch copy of x with the lowest finite value of its type around it as p says
// (aclnnMaxPool2dWithMask does not take -inf).
func (b *Backend) padded(x *tensor, p ops.Pool2dParams, pl poolPlan) *tensor {
	n, c, _, _ := x.shape.NCHW("MaxPool2d")
	xp := b.scratch(x.dtype, n, c, pl.inH, pl.inW)
	b.Fill(xp, x.dtype.Lowest())
	b.copyBlock("MaxPool2d", xp, x, true, p.PadTop, p.PadLeft)
	return xp
}

// MaxPool2d runs aclnnMaxPool2dWithMask as planPool decides, into a scratch output whose block is
// copied out when aclnn's output is larger than the wanted one.
func (b *Backend) MaxPool2d(x, y, mask ops.Tensor, p ops.Pool2dParams) {
	const op = "MaxPool2d"
	if x == nil {
		ops.Misuse(op, "x is nil")
	}
	pl, ms := planFor(op, x.Shape(), p)
	ops.CheckMaxPool2d(op, x, y, mask, p, ms, ops.Uint8)
	X, Y, M := get(op, x), get(op, y), get(op, mask)
	if Y.shape.Numel() == 0 {
		return
	}
	src := X
	if pl.explicit {
		src = b.padded(X, p, pl)
		defer b.Free(src)
	}
	out := Y
	if pl.cropped() {
		n, c, _, _ := X.shape.NCHW(op)
		out = b.scratch(Y.dtype, n, c, pl.poolH, pl.poolW)
		defer b.Free(out)
	}
	c := b.newCall(op)
	si, oi, mi := c.in(src), c.out(out), maskOperand(c, M, true)
	k, s, pad, dil := poolAttrs(c, p, pl, pl.ceil)
	c.run(func(c *call) (*acl.Executor, error) {
		return b.dev.PrepareMaxPool2dWithMask(c.t(si), c.ia(k), c.ia(s), c.ia(pad), c.ia(dil), pl.ceil, c.t(oi), c.t(mi))
	})
	if out != Y {
		b.copyBlock(op, out, Y, false, pl.rowOff, pl.colOff)
	}
}

// MaxPool2dBackward runs aclnnMaxPool2dWithMaskBackward: dy goes into a zero gradient of aclnn's
// output size when that is larger, and with explicit padding the backward runs on the padded copy of
// x and the inside of its gradient is copied out.
func (b *Backend) MaxPool2dBackward(dy, x, mask, dx ops.Tensor, p ops.Pool2dParams) {
	const op = "MaxPool2dBackward"
	if dx == nil {
		ops.Misuse(op, "dx is nil")
	}
	pl, ms := planFor(op, dx.Shape(), p)
	ops.CheckMaxPool2d(op, dx, dy, mask, p, ms, ops.Uint8)
	ops.CheckMaxPool2dInput(op, x, dx)
	DY, X, M, DX := get(op, dy), get(op, x), get(op, mask), get(op, dx)
	if DX.shape.Numel() == 0 {
		return
	}
	n, c, _, _ := X.shape.NCHW(op)
	grad := DY
	if pl.cropped() {
		grad = b.scratch(DY.dtype, n, c, pl.poolH, pl.poolW)
		defer b.Free(grad)
		b.Fill(grad, 0)
		b.copyBlock(op, grad, DY, true, pl.rowOff, pl.colOff)
	}
	src, dst := X, DX
	if pl.explicit {
		src = b.padded(X, p, pl)
		defer b.Free(src)
		dst = b.scratch(DX.dtype, n, c, pl.inH, pl.inW)
		defer b.Free(dst)
	}
	k := b.newCall(op)
	gi, si, mi := k.in(grad), k.in(src), maskOperand(k, M, false)
	di := k.out(dst)
	ks, s, pad, dil := poolAttrs(k, p, pl, pl.ceil)
	k.run(func(k *call) (*acl.Executor, error) {
		return b.dev.PrepareMaxPool2dWithMaskBackward(k.t(gi), k.t(si), k.t(mi), k.ia(ks), k.ia(s), k.ia(pad), k.ia(dil),
			pl.ceil, k.t(di))
	})
	if pl.explicit {
		b.copyBlock(op, dst, DX, false, p.PadTop, p.PadLeft)
	}
}
