//go:build cgo

package ascend

import (
	"math"

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
	explicit   bool // pool a copy of x padded with -inf as p says, with no padding of aclnn's
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
// copy of x (there, an all -inf window may pick a padding element, which passes no gradient).
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

// poolArgs are the aclnn attributes of a plan.
func (b *Backend) poolArgs(p ops.Pool2dParams, pl poolPlan) (kernel, stride, pad, dilation *acl.IntArray) {
	return b.intArray(int64(p.KernelH), int64(p.KernelW)), b.intArray(int64(p.StrideH), int64(p.StrideW)),
		b.intArray(pl.padH, pl.padW), b.intArray(1, 1)
}

// maskDesc describes the mask as aclnn's INT8.
func (b *Backend) maskDesc(m *tensor) *acl.Tensor {
	d := dims64(m.shape)
	return b.view(m, acl.Int8, d, contiguous(d), 0)
}

// block describes the [N, C, h, w] block of big [N, C, H, W] that starts at row top and column left.
func (b *Backend) block(big *tensor, h, w, top, left int) *acl.Tensor {
	n, c, bh, bw := big.shape.NCHW("MaxPool2d")
	hw := int64(bh) * int64(bw)
	return b.view(big, aclType(big.dtype), []int64{int64(n), int64(c), int64(h), int64(w)},
		[]int64{int64(c) * hw, hw, int64(bw), 1}, int64(top)*int64(bw)+int64(left))
}

// padded returns a scratch copy of x with -inf around it as p says.
func (b *Backend) padded(x *tensor, p ops.Pool2dParams, pl poolPlan) *tensor {
	n, c, h, w := x.shape.NCHW("MaxPool2d")
	xp := b.scratch(x.dtype, n, c, pl.inH, pl.inW)
	b.Fill(xp, math.Inf(-1))
	b.run("MaxPool2d", func() error {
		return b.dev.InplaceCopy(b.stream, b, b.block(xp, h, w, p.PadTop, p.PadLeft), b.desc(x))
	})
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
	k, s, pad, dil := b.poolArgs(p, pl)
	b.run(op, func() error {
		return b.dev.MaxPool2dWithMask(b.stream, b, b.desc(src), k, s, pad, dil, pl.ceil, b.desc(out), b.maskDesc(M))
	})
	if out != Y {
		b.run(op, func() error {
			return b.dev.InplaceCopy(b.stream, b, b.desc(Y), b.block(out, pl.outH, pl.outW, pl.rowOff, pl.colOff))
		})
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
	n, c, h, w := X.shape.NCHW(op)
	grad := DY
	if pl.cropped() {
		grad = b.scratch(DY.dtype, n, c, pl.poolH, pl.poolW)
		defer b.Free(grad)
		b.Fill(grad, 0)
		b.run(op, func() error {
			return b.dev.InplaceCopy(b.stream, b, b.block(grad, pl.outH, pl.outW, pl.rowOff, pl.colOff), b.desc(DY))
		})
	}
	k, s, pad, dil := b.poolArgs(p, pl)
	if !pl.explicit {
		b.run(op, func() error {
			return b.dev.MaxPool2dWithMaskBackward(b.stream, b, b.desc(grad), b.desc(X), b.maskDesc(M), k, s, pad, dil, pl.ceil, b.desc(DX))
		})
		return
	}
	xp := b.padded(X, p, pl)
	defer b.Free(xp)
	dxp := b.scratch(DX.dtype, n, c, pl.inH, pl.inW)
	defer b.Free(dxp)
	b.run(op, func() error {
		return b.dev.MaxPool2dWithMaskBackward(b.stream, b, b.desc(grad), b.desc(xp), b.maskDesc(M), k, s, pad, dil, false, b.desc(dxp))
	})
	b.run(op, func() error {
		return b.dev.InplaceCopy(b.stream, b, b.desc(DX), b.block(dxp, h, w, p.PadTop, p.PadLeft))
	})
}
