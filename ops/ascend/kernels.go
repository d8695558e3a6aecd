//go:build cgo

package ascend

import (
	"math"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/ops"
)

// convParams are the aclnn attributes of p (normalised).
func (b *Backend) convParams(p ops.Conv2dParams) *acl.ConvParams {
	return &acl.ConvParams{
		Stride:        b.intArray(int64(p.StrideH), int64(p.StrideW)),
		Padding:       b.intArray(int64(p.PadH), int64(p.PadW)),
		Dilation:      b.intArray(int64(p.DilationH), int64(p.DilationW)),
		OutputPadding: b.intArray(0, 0),
		Groups:        int64(p.Groups),
		CubeMathType:  b.cube,
	}
}

// Conv2d runs aclnnConvolution without bias.
func (b *Backend) Conv2d(x, w, y ops.Tensor, p ops.Conv2dParams) {
	p = ops.CheckConv2d(x, w, y, p)
	X, W, Y := get("Conv2d", x), get("Conv2d", w), get("Conv2d", y)
	if Y.shape.Numel() == 0 {
		return
	}
	b.run("Conv2d", func() error {
		return b.dev.Convolution(b.stream, b, b.desc(X), b.desc(W), nil, b.convParams(p), b.desc(Y))
	})
}

// Conv2dBackward runs aclnnConvolutionBackward with the output mask of the wanted gradients.
func (b *Backend) Conv2dBackward(dy, x, w, dx, dw ops.Tensor, p ops.Conv2dParams) {
	p = ops.CheckConv2dBackward(dy, x, w, dx, dw, p)
	DY, X, W := get("Conv2dBackward", dy), get("Conv2dBackward", x), get("Conv2dBackward", w)
	if dx == nil && dw == nil {
		return
	}
	if X.shape[0] == 0 { // an empty batch: no gradient flows
		if dw != nil {
			b.Fill(dw, 0)
		}
		return
	}
	var DX, DW *acl.Tensor
	if dx != nil {
		DX = b.desc(get("Conv2dBackward", dx))
	}
	if dw != nil {
		DW = b.desc(get("Conv2dBackward", dw))
	}
	b.run("Conv2dBackward", func() error {
		return b.dev.ConvolutionBackward(b.stream, b, b.desc(DY), b.desc(X), b.desc(W), nil, b.convParams(p),
			b.boolArray(dx != nil, dw != nil, false), DX, DW, nil)
	})
}

// BatchNormTrain runs aclnnBatchNorm in training mode (momentum is PyTorch's, as the interface's).
func (b *Backend) BatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd ops.Tensor, momentum, eps float64) {
	ops.CheckBatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd, momentum, eps)
	const op = "BatchNormTrain"
	X, Y := get(op, x), get(op, y)
	G, B, RM, RV := get(op, gamma), get(op, beta), get(op, runMean), get(op, runVar)
	SM, SI := get(op, saveMean), get(op, saveInvStd)
	b.run(op, func() error {
		return b.dev.BatchNorm(b.stream, b, b.desc(X), b.desc(G), b.desc(B), b.desc(RM), b.desc(RV), true, momentum, eps,
			b.desc(Y), b.desc(SM), b.desc(SI))
	})
}

// BatchNormInfer runs aclnnBatchNorm in evaluation mode. The saved statistics it does not write go
// to scratch vectors (some CANN releases want them even then).
func (b *Backend) BatchNormInfer(x, gamma, beta, mean, variance, y ops.Tensor, eps float64) {
	ops.CheckBatchNormInfer(x, gamma, beta, mean, variance, y, eps)
	const op = "BatchNormInfer"
	X, Y := get(op, x), get(op, y)
	G, B, M, V := get(op, gamma), get(op, beta), get(op, mean), get(op, variance)
	c := G.shape[0]
	sm, si := b.scratch(ops.Float32, c), b.scratch(ops.Float32, c)
	defer b.Free(sm)
	defer b.Free(si)
	b.run(op, func() error {
		return b.dev.BatchNorm(b.stream, b, b.desc(X), b.desc(G), b.desc(B), b.desc(M), b.desc(V), false, 0, eps,
			b.desc(Y), b.desc(sm), b.desc(si))
	})
}

// BatchNormBackward runs aclnnBatchNormBackward in training mode, from the saved statistics.
func (b *Backend) BatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta ops.Tensor) {
	ops.CheckBatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	const op = "BatchNormBackward"
	DY, X, G, SM, SI, DX := get(op, dy), get(op, x), get(op, gamma), get(op, saveMean), get(op, saveInvStd), get(op, dx)
	var DG, DB *acl.Tensor
	if dgamma != nil {
		DG = b.desc(get(op, dgamma))
	}
	if dbeta != nil {
		DB = b.desc(get(op, dbeta))
	}
	b.run(op, func() error {
		// eps is not used in training mode: the saved 1/sqrt(var+eps) carries it.
		return b.dev.BatchNormBackward(b.stream, b, b.desc(DY), b.desc(X), b.desc(G), nil, nil, b.desc(SM), b.desc(SI),
			true, 1e-5, b.boolArray(true, dgamma != nil, dbeta != nil), b.desc(DX), DG, DB)
	})
}

// ReLU runs aclnnRelu (in place when y is x).
func (b *Backend) ReLU(x, y ops.Tensor) {
	ops.CheckUnary("ReLU", x, y)
	X, Y := get("ReLU", x), get("ReLU", y)
	if X.shape.Numel() == 0 {
		return
	}
	b.run("ReLU", func() error { return b.dev.Relu(b.stream, b, b.desc(X), b.desc(Y)) })
}

// ReLUBackward runs aclnnThresholdBackward with threshold 0: dx = y <= 0 ? 0 : dy.
func (b *Backend) ReLUBackward(dy, y, dx ops.Tensor) {
	ops.CheckReLUBackward(dy, y, dx)
	DY, Y, DX := get("ReLUBackward", dy), get("ReLUBackward", y), get("ReLUBackward", dx)
	if DY.shape.Numel() == 0 {
		return
	}
	b.run("ReLUBackward", func() error {
		return b.dev.ThresholdBackward(b.stream, b, b.desc(DY), b.desc(Y), b.scalar(0), b.desc(DX))
	})
}

// GlobalAvgPool runs aclnnMean over H and W.
func (b *Backend) GlobalAvgPool(x, y ops.Tensor) {
	ops.CheckGlobalAvgPool("GlobalAvgPool", x, y)
	X, Y := get("GlobalAvgPool", x), get("GlobalAvgPool", y)
	if Y.shape.Numel() == 0 {
		return
	}
	b.run("GlobalAvgPool", func() error {
		return b.dev.Mean(b.stream, b, b.desc(X), b.intArray(2, 3), false, aclType(Y.dtype), b.desc(Y))
	})
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
	b.run("GlobalAvgPoolBackward", func() error {
		return b.dev.Mul(b.stream, b, b.reshaped(DY, int64(n), int64(c), 1, 1), b.desc(plane), b.desc(DX))
	})
}

// matrix describes t [rows, cols] as op(t): transposed, a view with swapped strides.
func (b *Backend) matrix(t *tensor, trans bool) *acl.Tensor {
	if !trans {
		return b.desc(t)
	}
	r, c := int64(t.shape[0]), int64(t.shape[1])
	return b.view(t, aclType(t.dtype), []int64{c, r}, []int64{1, c}, 0)
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
	b.run("MatMul", func() error {
		return b.dev.Mm(b.stream, b, b.matrix(A, transA), b.matrix(B, transB), b.desc(C), b.cube)
	})
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
	b.run("BiasAdd", func() error {
		return b.dev.Add(b.stream, b, b.desc(X), b.reshaped(BI, shape...), b.scalar(1), b.desc(Y))
	})
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
	b.run("BiasGrad", func() error {
		return b.dev.ReduceSum(b.stream, b, b.desc(DY), b.intArray(dims...), false, aclType(DB.dtype), b.desc(DB))
	})
}

// Add runs aclnnAdd: y = a + alpha*b.
func (b *Backend) Add(a, bt, y ops.Tensor, alpha float64) {
	ops.CheckBinary("Add", a, bt, y)
	A, B, Y := get("Add", a), get("Add", bt), get("Add", y)
	if A.shape.Numel() == 0 {
		return
	}
	b.run("Add", func() error { return b.dev.Add(b.stream, b, b.desc(A), b.desc(B), b.scalar(alpha), b.desc(Y)) })
}

// Scale runs aclnnMuls: y = alpha*x.
func (b *Backend) Scale(x, y ops.Tensor, alpha float64) {
	ops.CheckUnary("Scale", x, y)
	X, Y := get("Scale", x), get("Scale", y)
	if X.shape.Numel() == 0 {
		return
	}
	b.run("Scale", func() error { return b.dev.Muls(b.stream, b, b.desc(X), b.scalar(alpha), b.desc(Y)) })
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
	b.run("Cast", func() error { return b.dev.Cast(b.stream, b, b.desc(X), aclType(Y.dtype), b.desc(Y)) })
}

// SGDMomentum composes the step from elementwise aclnn ops (fused optimizer kernels are absent
// from first-generation 910):
//
//	g = grad*GradScale + WeightDecay*param   (a float32 scratch, unless g is grad itself)
//	accum = Momentum*accum + g
//	param -= LR*accum, or with Nesterov param -= LR*(g + Momentum*accum)
func (b *Backend) SGDMomentum(param, grad, accum ops.Tensor, p ops.SGDParams) {
	ops.CheckSGD(param, grad, accum, p)
	const op = "SGDMomentum"
	P, G, A := get(op, param), get(op, grad), get(op, accum)
	if P.shape.Numel() == 0 {
		return
	}
	gs := p.GradScale
	if gs == 0 {
		gs = 1
	}
	g := G
	if gs != 1 || p.WeightDecay != 0 || p.Nesterov || G.dtype != ops.Float32 {
		g = b.scratch(ops.Float32, P.shape...)
		defer b.Free(g)
		if G.dtype != ops.Float32 {
			b.run(op, func() error { return b.dev.Cast(b.stream, b, b.desc(G), acl.Float32, b.desc(g)) })
			if gs != 1 {
				b.run(op, func() error { return b.dev.InplaceMuls(b.stream, b, b.desc(g), b.scalar(gs)) })
			}
		} else {
			b.run(op, func() error { return b.dev.Muls(b.stream, b, b.desc(G), b.scalar(gs), b.desc(g)) })
		}
		if p.WeightDecay != 0 {
			b.run(op, func() error { return b.dev.InplaceAdd(b.stream, b, b.desc(g), b.desc(P), b.scalar(p.WeightDecay)) })
		}
	}
	b.run(op, func() error { return b.dev.InplaceMuls(b.stream, b, b.desc(A), b.scalar(p.Momentum)) })
	b.run(op, func() error { return b.dev.InplaceAdd(b.stream, b, b.desc(A), b.desc(g), b.scalar(1)) })
	step := A
	if p.Nesterov {
		b.run(op, func() error { return b.dev.InplaceAdd(b.stream, b, b.desc(g), b.desc(A), b.scalar(p.Momentum)) })
		step = g
	}
	b.run(op, func() error { return b.dev.InplaceAdd(b.stream, b, b.desc(P), b.desc(step), b.scalar(-p.LR)) })
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
		b.run(op, func() error { return b.dev.Muls(b.stream, b, b.reshaped(T, int64(n)), b.scalar(0), b.desc(z)) })
		b.run(op, func() error {
			return b.dev.ReduceSum(b.stream, b, b.desc(z), b.intArray(0), false, acl.Float32, b.desc(s))
		})
		b.run(op, func() error { return b.dev.InplaceAdd(b.stream, b, b.desc(acc), b.desc(s), b.scalar(1)) })
		b.Free(z)
		b.Free(s)
	}
	b.run(op, func() error { return b.dev.EqScalar(b.stream, b, b.desc(acc), b.scalar(0), b.desc(O)) })
}

// labels64 casts Int32 labels to the Int64 targets aclnnNLLLoss takes, into a scratch the caller
// frees.
func (b *Backend) labels64(op string, labels ops.Tensor) *tensor {
	L := get(op, labels)
	t := b.scratch(ops.Int64, L.shape...)
	if L.shape.Numel() > 0 {
		b.run(op, func() error { return b.dev.Cast(b.stream, b, b.desc(L), acl.Int64, b.desc(t)) })
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
	b.run(op, func() error { return b.dev.LogSoftmax(b.stream, b, b.desc(X), 1, b.desc(LP)) })
	tgt := b.labels64(op, labels)
	defer b.Free(tgt)
	ones := b.constant("ones", ops.Float32, ops.Shape{c}, 1)
	nll, tw := L, b.scratch(ops.Float32)
	defer b.Free(tw)
	if smoothing != 0 {
		nll = b.scratch(ops.Float32)
		defer b.Free(nll)
	}
	b.run(op, func() error {
		return b.dev.NLLLoss(b.stream, b, b.desc(LP), b.desc(tgt), b.desc(ones), nllReduction, nllIgnore, b.desc(nll), b.desc(tw))
	})
	if smoothing == 0 {
		return
	}
	sum := b.scratch(ops.Float32)
	defer b.Free(sum)
	b.run(op, func() error {
		return b.dev.ReduceSum(b.stream, b, b.desc(LP), b.intArray(0, 1), false, acl.Float32, b.desc(sum))
	})
	b.run(op, func() error { return b.dev.Muls(b.stream, b, b.desc(nll), b.scalar(1-smoothing), b.desc(L)) })
	b.run(op, func() error {
		return b.dev.InplaceAdd(b.stream, b, b.desc(L), b.desc(sum), b.scalar(-smoothing/float64(n*c)))
	})
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
	b.run(op, func() error {
		return b.dev.NLLLossBackward(b.stream, b, b.desc(gOut), b.desc(LP), b.desc(tgt), b.desc(ones), nllReduction,
			nllIgnore, b.desc(tw), b.desc(g))
	})
	if smoothing != 0 {
		b.run(op, func() error {
			return b.dev.InplaceAdds(b.stream, b, b.desc(g), b.scalar(-scale*smoothing/float64(n*c)), b.scalar(1))
		})
	}
	out := DL
	if DL.dtype != ops.Float32 {
		out = b.scratch(ops.Float32, n, c)
		defer b.Free(out)
	}
	b.run(op, func() error { return b.dev.LogSoftmaxBackward(b.stream, b, b.desc(g), b.desc(LP), 1, b.desc(out)) })
	if out != DL {
		b.Cast(out, DL)
	}
}
