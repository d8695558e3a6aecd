//go:build cgo

package ascend

import (
	"math"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/ops"
)

// convAttrs adds the aclnn attributes of p (normalised) to c and returns what makes them.
func (b *Backend) convAttrs(c *call, p ops.Conv2dParams) func() *acl.ConvParams {
	st, pd := c.intArray(int64(p.StrideH), int64(p.StrideW)), c.intArray(int64(p.PadH), int64(p.PadW))
	dl, op := c.intArray(int64(p.DilationH), int64(p.DilationW)), c.intArray(0, 0)
	groups, cube := int64(p.Groups), b.cube
	c.attr(groups, int64(cube))
	return func() *acl.ConvParams {
		return &acl.ConvParams{Stride: c.ia(st), Padding: c.ia(pd), Dilation: c.ia(dl), OutputPadding: c.ia(op),
			Groups: groups, CubeMathType: cube}
	}
}

// Conv2d runs aclnnConvolution without bias.
func (b *Backend) Conv2d(x, w, y ops.Tensor, p ops.Conv2dParams) {
	p = ops.CheckConv2d(x, w, y, p)
	X, W, Y := get("Conv2d", x), get("Conv2d", w), get("Conv2d", y)
	if Y.shape.Numel() == 0 {
		return
	}
	c := b.newCall("Conv2d")
	xi, wi, bi := c.in(X), c.in(W), c.opt(nil)
	yi := c.out(Y)
	conv := b.convAttrs(c, p)
	c.run(func(c *call) (*acl.Executor, error) {
		return b.dev.PrepareConvolution(c.t(xi), c.t(wi), c.t(bi), conv(), c.t(yi))
	})
}

// Conv2dBackward runs aclnnConvolutionBackward with the output mask of the wanted gradients.
func (b *Backend) Conv2dBackward(dy, x, w, dx, dw ops.Tensor, p ops.Conv2dParams) {
	const op = "Conv2dBackward"
	p = ops.CheckConv2dBackward(dy, x, w, dx, dw, p)
	DY, X, W := get(op, dy), get(op, x), get(op, w)
	if dx == nil && dw == nil {
		return
	}
	if X.shape[0] == 0 { // an empty batch: no gradient flows
		if dw != nil {
			b.Fill(dw, 0)
		}
		return
	}
	var DX, DW *tensor
	if dx != nil {
		DX = get(op, dx)
	}
	if dw != nil {
		DW = get(op, dw)
	}
	c := b.newCall(op)
	dyi, xi, wi := c.in(DY), c.in(X), c.in(W)
	dxi, dwi := c.optOut(DX), c.optOut(DW)
	conv := b.convAttrs(c, p)
	mask := c.boolArray(dx != nil, dw != nil, false)
	c.run(func(c *call) (*acl.Executor, error) {
		return b.dev.PrepareConvolutionBackward(c.t(dyi), c.t(xi), c.t(wi), nil, conv(), c.ba(mask), c.t(dxi), c.t(dwi), nil)
	})
}

// batchNorm queues aclnnBatchNorm: in training mean and variance are the running statistics it
// updates, in evaluation the statistics it normalises with.
func (b *Backend) batchNorm(op string, X, G, B, M, V *tensor, training bool, momentum, eps float64, Y, SM, SI *tensor) {
	c := b.newCall(op)
	xi, gi, bi, mi, vi := c.in(X), c.in(G), c.in(B), c.in(M), c.in(V)
	yi, smi, sii := c.out(Y), c.optOut(SM), c.optOut(SI)
	t := int64(0)
	if training {
		t = 1
	}
	c.attr(t)
	c.attrF(momentum)
	c.attrF(eps)
	c.run(func(c *call) (*acl.Executor, error) {
		return b.dev.PrepareBatchNorm(c.t(xi), c.t(gi), c.t(bi), c.t(mi), c.t(vi), training, momentum, eps,
			c.t(yi), c.t(smi), c.t(sii))
	})
}

// BatchNormTrain runs aclnnBatchNorm in training mode (momentum is PyTorch's, as the interface's).
// aclnnBatchNorm writes the biased batch variance into saveInvstd (see soc.supported), so saveInvStd
// keeps it, marked with eps: BatchNormBackward hands it to aclnnBatchNormBackward as it is, with that
// eps, and any other use converts it to 1/sqrt(var + eps) first (see invStd), so that it holds what the
// interface says.
func (b *Backend) BatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd ops.Tensor, momentum, eps float64) {
	ops.CheckBatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd, momentum, eps)
	const op = "BatchNormTrain"
	X, Y := get(op, x), get(op, y)
	G, B, RM, RV := get(op, gamma), get(op, beta), get(op, runMean), get(op, runVar)
	SM, SI := get(op, saveMean), getRaw(op, saveInvStd)
	SI.varEps = 0
	b.batchNorm(op, X, G, B, RM, RV, true, momentum, eps, Y, SM, SI)
	SI.varEps, SI.owner = eps, b
}

// BatchNormInfer runs aclnnBatchNorm in evaluation mode, without the saved statistics (aclnnBatchNorm
// requires them only in training).
func (b *Backend) BatchNormInfer(x, gamma, beta, mean, variance, y ops.Tensor, eps float64) {
	ops.CheckBatchNormInfer(x, gamma, beta, mean, variance, y, eps)
	const op = "BatchNormInfer"
	X, Y := get(op, x), get(op, y)
	G, B, M, V := get(op, gamma), get(op, beta), get(op, mean), get(op, variance)
	b.batchNorm(op, X, G, B, M, V, false, 0, eps, Y, nil, nil)
}

// BatchNormBackward runs aclnnBatchNormBackward in training mode, from the saved statistics. The
// operator reads saveInvstd as the batch variance and computes rsqrt(var + eps) itself: it gets the
// variance BatchNormTrain kept, with the forward's eps, and a saveInvStd that holds 1/sqrt(var + eps)
// (given by the caller, or converted) is turned back into a variance first, in a scratch vector.
func (b *Backend) BatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta ops.Tensor) {
	ops.CheckBatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	const op = "BatchNormBackward"
	DY, X, G, SM, SI, DX := get(op, dy), get(op, x), get(op, gamma), get(op, saveMean), getRaw(op, saveInvStd), get(op, dx)
	var DG, DB *tensor
	if dgamma != nil {
		DG = get(op, dgamma)
	}
	if dbeta != nil {
		DB = get(op, dbeta)
	}
	eps, stat := SI.varEps, SI
	if eps == 0 {
		eps = bnBackwardEps
		stat = b.varianceOf(SI, eps)
		defer b.Free(stat)
	}
	c := b.newCall(op)
	dyi, xi, gi := c.in(DY), c.in(X), c.in(G)
	rmi, rvi := c.opt(nil), c.opt(nil)
	smi, sii := c.in(SM), c.in(stat)
	dxi, dgi, dbi := c.out(DX), c.optOut(DG), c.optOut(DB)
	c.attrF(eps)
	mask := c.boolArray(true, dgamma != nil, dbeta != nil)
	c.run(func(c *call) (*acl.Executor, error) {
		return b.dev.PrepareBatchNormBackward(c.t(dyi), c.t(xi), c.t(gi), c.t(rmi), c.t(rvi), c.t(smi), c.t(sii),
			true, eps, c.ba(mask), c.t(dxi), c.t(dgi), c.t(dbi))
	})
}

// bnBackwardEps is the eps a variance is made with from a caller's 1/sqrt(var + eps) for
// aclnnBatchNormBackward (any positive value gives the same rsqrt(var + eps) back).
const bnBackwardEps = 1e-5

// invStd turns a saveInvStd that BatchNormTrain left holding the batch variance into 1/sqrt(var +
// eps), in place, so that it means what the interface says; it does nothing to one that already does.
func (b *Backend) invStd(t *tensor) {
	if t.varEps == 0 {
		return
	}
	eps := t.varEps
	t.varEps = 0
	const op = "BatchNormTrain"
	c := b.freshCall(op)
	ti := c.inout(t)
	e, one := c.scalarF32(eps), c.scalarF32(1)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareInplaceAdds(c.t(ti), c.sc(e), c.sc(one)) })
	c = b.freshCall(op)
	ti = c.inout(t)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareInplaceRsqrt(c.t(ti)) })
}

// varianceOf returns a scratch vector var with rsqrt(var + eps) = s (1/s^2 - eps), for
// aclnnBatchNormBackward's variance path; the caller frees it.
func (b *Backend) varianceOf(s *tensor, eps float64) *tensor {
	const op = "BatchNormBackward"
	v := b.scratch(s.dtype, s.shape...)
	c := b.freshCall(op)
	si, si2, vi := c.in(s), c.in(s), c.out(v)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareMul(c.t(si), c.t(si2), c.t(vi)) })
	c = b.freshCall(op)
	vi = c.inout(v)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareInplaceReciprocal(c.t(vi)) })
	c = b.freshCall(op)
	vi = c.inout(v)
	e, one := c.scalarF32(-eps), c.scalarF32(1)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareInplaceAdds(c.t(vi), c.sc(e), c.sc(one)) })
	return v
}

// ReLU runs aclnnRelu (in place when y is x).
func (b *Backend) ReLU(x, y ops.Tensor) {
	ops.CheckUnary("ReLU", x, y)
	X, Y := get("ReLU", x), get("ReLU", y)
	if X.shape.Numel() == 0 {
		return
	}
	c := b.newCall("ReLU")
	xi, yi := c.in(X), c.out(Y)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareRelu(c.t(xi), c.t(yi)) })
}

// ReLUBackward runs aclnnThresholdBackward with threshold 0: dx = y <= 0 ? 0 : dy.
func (b *Backend) ReLUBackward(dy, y, dx ops.Tensor) {
	ops.CheckReLUBackward(dy, y, dx)
	DY, Y, DX := get("ReLUBackward", dy), get("ReLUBackward", y), get("ReLUBackward", dx)
	if DY.shape.Numel() == 0 {
		return
	}
	c := b.newCall("ReLUBackward")
	dyi, yi, dxi := c.in(DY), c.in(Y), c.out(DX)
	zero := c.scalarF32(0)
	c.run(func(c *call) (*acl.Executor, error) {
		return b.dev.PrepareThresholdBackward(c.t(dyi), c.t(yi), c.sc(zero), c.t(dxi))
	})
}

// GlobalAvgPool runs aclnnMean over H and W.
func (b *Backend) GlobalAvgPool(x, y ops.Tensor) {
	ops.CheckGlobalAvgPool("GlobalAvgPool", x, y)
	X, Y := get("GlobalAvgPool", x), get("GlobalAvgPool", y)
	if Y.shape.Numel() == 0 {
		return
	}
	b.reduce("GlobalAvgPool", true, X, Y, 2, 3)
}

// GlobalAvgPoolBackward multiplies dy, seen as [N, C, 1, 1], by a kept [1, 1, H, W] plane of
// 1/(H*W): aclnnMul broadcasts it over dx.
func (b *Backend) GlobalAvgPoolBackward(dy, dx ops.Tensor) {
	ops.CheckGlobalAvgPool("GlobalAvgPoolBackward", dx, dy)
	DY, DX := get("GlobalAvgPoolBackward", dy), get("GlobalAvgPoolBackward", dx)
	if DX.shape.Numel() == 0 {
		return
	}
	n, c, h, w := DX.shape.NCHW("GlobalAvgPoolBackward")
	plane := b.constant("avg", DX.dtype, ops.Shape{1, 1, h, w}, 1/float64(h*w))
	k := b.newCall("GlobalAvgPoolBackward")
	dyi, pi, dxi := k.inReshaped(DY, int64(n), int64(c), 1, 1), k.in(plane), k.out(DX)
	k.run(func(k *call) (*acl.Executor, error) { return b.dev.PrepareMul(k.t(dyi), k.t(pi), k.t(dxi)) })
}

// reduce queues aclnnMean (mean) or aclnnReduceSum over dims of X into Y, in Y's type.
func (b *Backend) reduce(op string, mean bool, X, Y *tensor, dims ...int64) {
	c := b.newCall(op)
	xi, yi := c.in(X), c.out(Y)
	d := c.intArray(dims...)
	dt := aclType(Y.dtype)
	m := int64(0)
	if mean {
		m = 1
	}
	c.attr(int64(dt), m)
	c.run(func(c *call) (*acl.Executor, error) {
		if mean {
			return b.dev.PrepareMean(c.t(xi), c.ia(d), false, dt, c.t(yi))
		}
		return b.dev.PrepareReduceSum(c.t(xi), c.ia(d), false, dt, c.t(yi))
	})
}

// matrix adds t [rows, cols] to c as the next input op(t): transposed, a view with swapped strides.
func matrix(c *call, t *tensor, trans bool) int {
	if !trans {
		return c.in(t)
	}
	r, n := int64(t.shape[0]), int64(t.shape[1])
	return c.inView(t, aclType(t.dtype), []int64{n, r}, []int64{1, n}, 0)
}

// MatMul runs aclnnMm on (transposed) views.
func (b *Backend) MatMul(a, bm, c ops.Tensor, transA, transB bool) {
	m, n, k := ops.CheckMatMul(a, bm, c, transA, transB)
	A, B, C := get("MatMul", a), get("MatMul", bm), get("MatMul", c)
	switch {
	case m == 0 || n == 0:
		return
	case k == 0:
		b.Fill(c, 0)
		return
	}
	mc := b.newCall("MatMul")
	ai, bi, ci := matrix(mc, A, transA), matrix(mc, B, transB), mc.out(C)
	cube := b.cube
	mc.attr(int64(cube))
	mc.run(func(mc *call) (*acl.Executor, error) { return b.dev.PrepareMm(mc.t(ai), mc.t(bi), mc.t(ci), cube) })
}

// BiasAdd runs aclnnAdd with bias seen as [1, C, 1, ...].
func (b *Backend) BiasAdd(x, bias, y ops.Tensor) {
	ops.CheckBias("BiasAdd", x, bias, y)
	X, BI, Y := get("BiasAdd", x), get("BiasAdd", bias), get("BiasAdd", y)
	if X.shape.Numel() == 0 {
		return
	}
	shape := make([]int64, len(X.shape))
	for i := range shape {
		shape[i] = 1
	}
	shape[1] = int64(X.shape[1])
	c := b.newCall("BiasAdd")
	xi, bi := c.in(X), c.inReshaped(BI, shape...)
	yi := c.out(Y)
	one := c.scalarF32(1)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareAdd(c.t(xi), c.t(bi), c.sc(one), c.t(yi)) })
}

// BiasGrad runs aclnnReduceSum over every dimension but 1.
func (b *Backend) BiasGrad(dy, db ops.Tensor) {
	ops.CheckBias("BiasGrad", dy, db, nil)
	DY, DB := get("BiasGrad", dy), get("BiasGrad", db)
	if DY.shape.Numel() == 0 {
		b.Fill(db, 0)
		return
	}
	var dims []int64
	for i := range DY.shape {
		if i != 1 {
			dims = append(dims, int64(i))
		}
	}
	b.reduce("BiasGrad", false, DY, DB, dims...)
}

// Add runs aclnnAdd: y = a + alpha*b.
func (b *Backend) Add(a, bt, y ops.Tensor, alpha float64) {
	ops.CheckBinary("Add", a, bt, y)
	A, B, Y := get("Add", a), get("Add", bt), get("Add", y)
	if A.shape.Numel() == 0 {
		return
	}
	c := b.newCall("Add")
	ai, bi, yi := c.in(A), c.in(B), c.out(Y)
	al := c.scalarF32(alpha)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareAdd(c.t(ai), c.t(bi), c.sc(al), c.t(yi)) })
}

// Scale runs aclnnMuls: y = alpha*x.
func (b *Backend) Scale(x, y ops.Tensor, alpha float64) {
	ops.CheckUnary("Scale", x, y)
	X, Y := get("Scale", x), get("Scale", y)
	if X.shape.Numel() == 0 {
		return
	}
	b.muls("Scale", X, Y, alpha)
}

// Cast runs aclnnCast (a copy when the types agree).
func (b *Backend) Cast(x, y ops.Tensor) {
	ops.CheckCast(x, y)
	X, Y := get("Cast", x), get("Cast", y)
	if X.dtype == Y.dtype {
		b.Copy(x, y)
		return
	}
	if X.shape.Numel() == 0 {
		return
	}
	b.cast("Cast", X, Y)
}

// SGDMomentum composes the step from elementwise aclnn ops (fused optimizer kernels are absent
// from first-generation 910): see sgdStep.
func (b *Backend) SGDMomentum(param, grad, accum ops.Tensor, p ops.SGDParams) {
	ops.CheckSGD(param, grad, accum, p)
	const op = "SGDMomentum"
	b.sgdStep(op, get(op, param), get(op, grad), get(op, accum), p)
}

// AllFinite sums x*0 over every tensor into one float32 (an infinity or NaN anywhere makes it NaN,
// finite values make it exactly 0) and compares the sum with 0 into out, all on the device.
func (b *Backend) AllFinite(ts []ops.Tensor, out ops.Tensor) {
	ops.CheckAllFinite(ts, out)
	const op = "AllFinite"
	O := get(op, out)
	if b.finiteAc == nil {
		b.finiteAc = b.scratch(ops.Float32)
	}
	acc := b.finiteAc
	b.Fill(acc, 0)
	for _, t := range ts {
		T := get(op, t)
		n := T.shape.Numel()
		if n == 0 {
			continue
		}
		z, s := b.scratch(T.dtype, n), b.scratch(ops.Float32)
		c := b.newCall(op)
		ti, zi := c.inReshaped(T, int64(n)), c.out(z)
		zero := c.scalarF32(0)
		c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareMuls(c.t(ti), c.sc(zero), c.t(zi)) })
		b.reduce(op, false, z, s, 0)
		b.inplaceAdd(op, acc, s, 1)
		b.Free(z)
		b.Free(s)
	}
	c := b.newCall(op)
	ai, oi := c.in(acc), c.out(O)
	zero := c.scalarF32(0)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareEqScalar(c.t(ai), c.sc(zero), c.t(oi)) })
}

// labels64 casts Int32 labels to the Int64 targets aclnnNLLLoss takes, into a scratch the caller
// frees.
func (b *Backend) labels64(op string, labels ops.Tensor) *tensor {
	L := get(op, labels)
	t := b.scratch(ops.Int64, L.shape...)
	if L.shape.Numel() > 0 {
		b.cast(op, L, t)
	}
	return t
}

// nllReduction and nllIgnore are aclnnNLLLoss's reduction "mean" and PyTorch's default ignore index
// (no label here is negative, so nothing is ignored).
const (
	nllReduction = 1
	nllIgnore    = -100
)

// CrossEntropy is aclnnLogSoftmax, then aclnnNLLLoss (mean over the batch) and, with label
// smoothing eps, the mean of -logProb over classes from aclnnReduceSum:
// loss = (1-eps)*nll - eps/(N*C)*sum(logProb).
func (b *Backend) CrossEntropy(logits, labels, logProb, loss ops.Tensor, smoothing float64) {
	n, c := ops.CheckCrossEntropy(logits, labels, logProb, loss, smoothing)
	const op = "CrossEntropy"
	X, LP, L := get(op, logits), get(op, logProb), get(op, loss)
	if n == 0 || c == 0 {
		b.Fill(loss, math.NaN()) // the mean over no samples, as PyTorch gives
		return
	}
	if X.dtype != ops.Float32 {
		x32 := b.scratch(ops.Float32, n, c)
		defer b.Free(x32)
		b.Cast(X, x32)
		X = x32
	}
	k := b.newCall(op)
	xi, lpi := k.in(X), k.out(LP)
	k.run(func(k *call) (*acl.Executor, error) { return b.dev.PrepareLogSoftmax(k.t(xi), 1, k.t(lpi)) })
	tgt := b.labels64(op, labels)
	defer b.Free(tgt)
	ones := b.constant("ones", ops.Float32, ops.Shape{c}, 1)
	nll, tw := L, b.scratch(ops.Float32)
	defer b.Free(tw)
	if smoothing != 0 {
		nll = b.scratch(ops.Float32)
		defer b.Free(nll)
	}
	k = b.newCall(op)
	lpi, ti, wi := k.in(LP), k.in(tgt), k.in(ones)
	nlli, twi := k.out(nll), k.out(tw)
	k.run(func(k *call) (*acl.Executor, error) {
		return b.dev.PrepareNLLLoss(k.t(lpi), k.t(ti), k.t(wi), nllReduction, nllIgnore, k.t(nlli), k.t(twi))
	})
	if smoothing == 0 {
		return
	}
	sum := b.scratch(ops.Float32)
	defer b.Free(sum)
	b.reduce(op, false, LP, sum, 0, 1)
	b.muls(op, nll, L, 1-smoothing)
	b.inplaceAdd(op, L, sum, -smoothing/float64(n*c))
}

// CrossEntropyBackward builds the gradient with respect to logProb, g = -scale*target/N, from
// aclnnNLLLossBackward (the one-hot part, weighted by scale*(1-eps)) and aclnnInplaceAdds (the
// smoothing's uniform part), then aclnnLogSoftmaxBackward: g - softmax*sum(g) = scale*(softmax -
// target)/N.
func (b *Backend) CrossEntropyBackward(logProb, labels, dlogits ops.Tensor, smoothing, scale float64) {
	n, c := ops.CheckCrossEntropyBackward(logProb, labels, dlogits, smoothing)
	const op = "CrossEntropyBackward"
	LP, DL := get(op, logProb), get(op, dlogits)
	if n == 0 || c == 0 {
		return
	}
	tgt := b.labels64(op, labels)
	defer b.Free(tgt)
	ones := b.constant("ones", ops.Float32, ops.Shape{c}, 1)
	gOut, tw, g := b.scratch(ops.Float32), b.scratch(ops.Float32), b.scratch(ops.Float32, n, c)
	defer b.Free(gOut)
	defer b.Free(tw)
	defer b.Free(g)
	b.Fill(gOut, scale*(1-smoothing))
	b.Fill(tw, float64(n))
	k := b.newCall(op)
	goi, lpi, ti, wi, twi := k.in(gOut), k.in(LP), k.in(tgt), k.in(ones), k.in(tw)
	gi := k.out(g)
	k.run(func(k *call) (*acl.Executor, error) {
		return b.dev.PrepareNLLLossBackward(k.t(goi), k.t(lpi), k.t(ti), k.t(wi), nllReduction, nllIgnore, k.t(twi), k.t(gi))
	})
	if smoothing != 0 {
		b.inplaceAdds(op, g, -scale*smoothing/float64(n*c))
	}
	out := DL
	if DL.dtype != ops.Float32 {
		out = b.scratch(ops.Float32, n, c)
		defer b.Free(out)
	}
	k = b.newCall(op)
	gi, lpi, oi := k.in(g), k.in(LP), k.out(out)
	k.run(func(k *call) (*acl.Executor, error) {
		return b.dev.PrepareLogSoftmaxBackward(k.t(gi), k.t(lpi), 1, k.t(oi))
	})
	if out != DL {
		b.Cast(out, DL)
	}
}
