package ops

// The shape rules of every kernel. Backends call these first, so that misuse panics the same way
// everywhere, naming the kernel and the shapes involved.

func want(op, name string, t Tensor, shape Shape) {
	if t == nil {
		Misuse(op, "%s is nil, want shape %v", name, shape)
	}
	if !t.Shape().Equal(shape) {
		Misuse(op, "%s has shape %v, want %v", name, t.Shape(), shape)
	}
}

func wantType(op, name string, t Tensor, dt DType) {
	if t.DType() != dt {
		Misuse(op, "%s has dtype %v, want %v", name, t.DType(), dt)
	}
}

func wantFloat(op, name string, t Tensor) {
	if t == nil {
		Misuse(op, "%s is nil", name)
	}
	if !t.DType().IsFloat() {
		Misuse(op, "%s has dtype %v, want a floating-point type", name, t.DType())
	}
}

// CheckAlloc checks the dtype and shape of an Alloc.
func CheckAlloc(dt DType, shape Shape) {
	if dt.Size() == 0 {
		Misuse("Alloc", "invalid dtype %v", dt)
	}
	for _, d := range shape {
		if d < 0 {
			Misuse("Alloc", "negative dimension in shape %v", shape)
		}
	}
}

// CheckConv2d checks the operands of Conv2d and returns the normalised parameters.
func CheckConv2d(x, w, y Tensor, p Conv2dParams) Conv2dParams {
	const op = "Conv2d"
	p = checkConvGeometry(op, x, w, p)
	want(op, "y", y, convOut(op, x.Shape(), w.Shape(), p))
	wantType(op, "w", w, x.DType())
	wantType(op, "y", y, x.DType())
	return p
}

// CheckConv2dBackward checks the operands of Conv2dBackward (dx and dw may be nil) and returns the
// normalised parameters.
func CheckConv2dBackward(dy, x, w, dx, dw Tensor, p Conv2dParams) Conv2dParams {
	const op = "Conv2dBackward"
	p = checkConvGeometry(op, x, w, p)
	want(op, "dy", dy, convOut(op, x.Shape(), w.Shape(), p))
	wantType(op, "dy", dy, x.DType())
	wantType(op, "w", w, x.DType())
	if dx != nil {
		want(op, "dx", dx, x.Shape())
		wantType(op, "dx", dx, x.DType())
	}
	if dw != nil {
		want(op, "dw", dw, w.Shape())
		wantType(op, "dw", dw, x.DType())
	}
	return p
}

func checkConvGeometry(op string, x, w Tensor, p Conv2dParams) Conv2dParams {
	wantFloat(op, "x", x)
	wantFloat(op, "w", w)
	p = p.Normalized()
	_, c, _, _ := x.Shape().NCHW(op)
	k, cg, _, _ := w.Shape().NCHW(op)
	if p.StrideH < 0 || p.StrideW < 0 || p.DilationH < 0 || p.DilationW < 0 || p.Groups < 0 || p.PadH < 0 || p.PadW < 0 {
		Misuse(op, "negative attribute in %+v", p)
	}
	if c%p.Groups != 0 || k%p.Groups != 0 || cg*p.Groups != c {
		Misuse(op, "x %v and w %v do not fit groups=%d: want C and K divisible by groups and w[1] = C/groups",
			x.Shape(), w.Shape(), p.Groups)
	}
	return p
}

func convOut(op string, x, w Shape, p Conv2dParams) Shape {
	ho, wo := p.OutSize(x[2], x[3], w[2], w[3])
	if ho <= 0 || wo <= 0 {
		Misuse(op, "x %v with kernel %v and %+v gives an empty output %dx%d", x, w, p, ho, wo)
	}
	return Shape{x[0], w[0], ho, wo}
}

// CheckBatchNormTrain checks the operands of BatchNormTrain.
func CheckBatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd Tensor, momentum, eps float64) {
	const op = "BatchNormTrain"
	c := checkBNInput(op, x)
	if x.Shape().Numel()/c < 2 {
		Misuse(op, "x %v has one value per channel: batch statistics need at least two", x.Shape())
	}
	checkChannelVectors(op, c, []string{"gamma", "beta", "runMean", "runVar", "saveMean", "saveInvStd"},
		gamma, beta, runMean, runVar, saveMean, saveInvStd)
	want(op, "y", y, x.Shape())
	wantType(op, "y", y, x.DType())
	if momentum < 0 || momentum > 1 || eps <= 0 {
		Misuse(op, "momentum %v must be in [0, 1] and eps %v positive", momentum, eps)
	}
}

// CheckBatchNormInfer checks the operands of BatchNormInfer.
func CheckBatchNormInfer(x, gamma, beta, mean, variance, y Tensor, eps float64) {
	const op = "BatchNormInfer"
	c := checkBNInput(op, x)
	checkChannelVectors(op, c, []string{"gamma", "beta", "mean", "variance"}, gamma, beta, mean, variance)
	want(op, "y", y, x.Shape())
	wantType(op, "y", y, x.DType())
	if eps <= 0 {
		Misuse(op, "eps %v must be positive", eps)
	}
}

// CheckBatchNormBackward checks the operands of BatchNormBackward (dgamma and dbeta may be nil).
func CheckBatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta Tensor) {
	const op = "BatchNormBackward"
	c := checkBNInput(op, x)
	want(op, "dy", dy, x.Shape())
	want(op, "dx", dx, x.Shape())
	wantType(op, "dy", dy, x.DType())
	wantType(op, "dx", dx, x.DType())
	names := []string{"gamma", "saveMean", "saveInvStd"}
	vs := []Tensor{gamma, saveMean, saveInvStd}
	if dgamma != nil {
		names, vs = append(names, "dgamma"), append(vs, dgamma)
	}
	if dbeta != nil {
		names, vs = append(names, "dbeta"), append(vs, dbeta)
	}
	checkChannelVectors(op, c, names, vs...)
}

func checkBNInput(op string, x Tensor) int {
	wantFloat(op, "x", x)
	s := x.Shape()
	if len(s) != 2 && len(s) != 4 {
		Misuse(op, "x has shape %v, want [N, C] or [N, C, H, W]", s)
	}
	if !s.Valid() {
		Misuse(op, "x has an empty shape %v", s)
	}
	return s[1]
}

// checkChannelVectors checks that every tensor is a float32 vector [c]: statistics and affine
// parameters stay in float32 even under mixed precision.
func checkChannelVectors(op string, c int, names []string, ts ...Tensor) {
	for i, t := range ts {
		want(op, names[i], t, Shape{c})
		wantType(op, names[i], t, Float32)
	}
}

// CheckUnary checks an elementwise kernel from x to y of the same shape and dtype.
func CheckUnary(op string, x, y Tensor) {
	wantFloat(op, "x", x)
	want(op, "y", y, x.Shape())
	wantType(op, "y", y, x.DType())
}

// CheckBatchNormReLUBackward checks the operands of BatchNormReLUBackward: those of
// BatchNormBackward and y, the forward output, of x's shape and dtype.
func CheckBatchNormReLUBackward(dy, x, y, gamma, saveMean, saveInvStd, dx, dgamma, dbeta Tensor) {
	CheckBatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	want("BatchNormReLUBackward", "y", y, x.Shape())
	wantType("BatchNormReLUBackward", "y", y, x.DType())
}

// CheckReLUBackward checks dy, the forward output y and dx: one shape and dtype.
func CheckReLUBackward(dy, y, dx Tensor) {
	const op = "ReLUBackward"
	wantFloat(op, "dy", dy)
	want(op, "y", y, dy.Shape())
	want(op, "dx", dx, dy.Shape())
	wantType(op, "y", y, dy.DType())
	wantType(op, "dx", dx, dy.DType())
}

// CheckBinary checks an elementwise kernel from a and b to y, all of one shape and dtype.
func CheckBinary(op string, a, b, y Tensor) {
	wantFloat(op, "a", a)
	want(op, "b", b, a.Shape())
	want(op, "y", y, a.Shape())
	wantType(op, "b", b, a.DType())
	wantType(op, "y", y, a.DType())
}

// PoolOutShape checks p against the input shape x and returns the output shape [N, C, Ho, Wo].
func PoolOutShape(op string, x Shape, p Pool2dParams) Shape {
	n, c, h, w := x.NCHW(op)
	if p.KernelH <= 0 || p.KernelW <= 0 || p.StrideH <= 0 || p.StrideW <= 0 ||
		p.PadTop < 0 || p.PadBottom < 0 || p.PadLeft < 0 || p.PadRight < 0 {
		Misuse(op, "bad attributes %+v", p)
	}
	if p.PadTop >= p.KernelH || p.PadBottom >= p.KernelH || p.PadLeft >= p.KernelW || p.PadRight >= p.KernelW {
		Misuse(op, "padding in %+v must be smaller than the kernel, or a window could hold only padding", p)
	}
	if h <= 0 || w <= 0 {
		Misuse(op, "x has shape %v: empty planes", x)
	}
	ho, wo := p.OutSize(h, w)
	if ho <= 0 || wo <= 0 {
		Misuse(op, "x %v with %+v gives an empty output", x, p)
	}
	return Shape{n, c, ho, wo}
}

// CheckMaxPool2d checks the operands of MaxPool2d and its backward: x is the input (or dx), y the
// output (or dy), and mask must have the shape and dtype the backend's MaxPool2dMask gives.
func CheckMaxPool2d(op string, x, y, mask Tensor, p Pool2dParams, maskShape Shape, maskType DType) {
	wantFloat(op, "x", x)
	want(op, "y", y, PoolOutShape(op, x.Shape(), p))
	wantType(op, "y", y, x.DType())
	want(op, "mask", mask, maskShape)
	wantType(op, "mask", mask, maskType)
}

// CheckMaxPool2dInput checks the forward input x that MaxPool2dBackward takes against dx: the same
// shape and dtype.
func CheckMaxPool2dInput(op string, x, dx Tensor) {
	if x == nil {
		Misuse(op, "x is nil, want the forward input %v", dx.Shape())
	}
	want(op, "x", x, dx.Shape())
	wantType(op, "x", x, dx.DType())
}

// CheckGlobalAvgPool checks x [N, C, H, W] against y [N, C] (forward, or dx against dy).
func CheckGlobalAvgPool(op string, x, y Tensor) {
	wantFloat(op, "x", x)
	n, c, _, _ := x.Shape().NCHW(op)
	want(op, "y", y, Shape{n, c})
	wantType(op, "y", y, x.DType())
}

// CheckMatMul checks the operands of MatMul and returns M, N, K.
func CheckMatMul(a, b, c Tensor, transA, transB bool) (m, n, k int) {
	const op = "MatMul"
	wantFloat(op, "a", a)
	wantFloat(op, "b", b)
	as, bs := a.Shape(), b.Shape()
	if len(as) != 2 || len(bs) != 2 {
		Misuse(op, "a %v and b %v must be matrices", as, bs)
	}
	m, k = as[0], as[1]
	if transA {
		m, k = k, m
	}
	kb, n := bs[0], bs[1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		Misuse(op, "inner dimensions differ: a %v (transA=%v), b %v (transB=%v)", as, transA, bs, transB)
	}
	want(op, "c", c, Shape{m, n})
	wantType(op, "b", b, a.DType())
	wantType(op, "c", c, a.DType())
	return m, n, k
}

// CheckBias checks x [N, C, ...] against bias [C] for BiasAdd (y = x's shape) or BiasGrad (y nil).
func CheckBias(op string, x, bias, y Tensor) {
	wantFloat(op, "x", x)
	if x.Shape().Rank() < 2 {
		Misuse(op, "x has shape %v, want at least [N, C]", x.Shape())
	}
	want(op, "bias", bias, Shape{x.Shape()[1]})
	wantType(op, "bias", bias, x.DType())
	if y != nil {
		want(op, "y", y, x.Shape())
		wantType(op, "y", y, x.DType())
	}
}

// CheckCrossEntropy checks the operands of CrossEntropy: logits [N, C], labels [N] Int32, logProb
// [N, C] Float32 and the Float32 scalar loss. It returns N and C.
func CheckCrossEntropy(logits, labels, logProb, loss Tensor, smoothing float64) (n, c int) {
	const op = "CrossEntropy"
	n, c = checkClassScores(op, "logits", logits, labels, smoothing)
	want(op, "logProb", logProb, logits.Shape())
	wantType(op, "logProb", logProb, Float32)
	want(op, "loss", loss, Shape{})
	wantType(op, "loss", loss, Float32)
	return n, c
}

// CheckCrossEntropyBackward checks the operands of CrossEntropyBackward: logProb [N, C] Float32
// (from the forward), labels [N] Int32 and dlogits [N, C]. It returns N and C.
func CheckCrossEntropyBackward(logProb, labels, dlogits Tensor, smoothing float64) (n, c int) {
	const op = "CrossEntropyBackward"
	n, c = checkClassScores(op, "logProb", logProb, labels, smoothing)
	wantType(op, "logProb", logProb, Float32)
	wantFloat(op, "dlogits", dlogits)
	want(op, "dlogits", dlogits, logProb.Shape())
	return n, c
}

// checkClassScores checks that scores (named name) is a float [N, C] matrix, labels an Int32 [N]
// vector, and the smoothing in [0, 1].
func checkClassScores(op, name string, scores, labels Tensor, smoothing float64) (n, c int) {
	wantFloat(op, name, scores)
	s := scores.Shape()
	if len(s) != 2 {
		Misuse(op, "%s have shape %v, want [N, C]", name, s)
	}
	want(op, "labels", labels, Shape{s[0]})
	wantType(op, "labels", labels, Int32)
	if smoothing < 0 || smoothing > 1 {
		Misuse(op, "label smoothing %v must be in [0, 1]", smoothing)
	}
	return s[0], s[1]
}

// CheckSGD checks the operands of SGDMomentum: param, grad and accum of one shape, float32.
func CheckSGD(param, grad, accum Tensor, p SGDParams) {
	const op = "SGDMomentum"
	wantFloat(op, "param", param)
	want(op, "grad", grad, param.Shape())
	want(op, "accum", accum, param.Shape())
	wantType(op, "param", param, Float32)
	wantType(op, "accum", accum, Float32)
	wantFloat(op, "grad", grad)
	if p.Momentum < 0 || p.WeightDecay < 0 || p.LR < 0 {
		Misuse(op, "negative hyper-parameter in %+v", p)
	}
}

// CheckAllFinite checks that every tensor is floating point and out a Bool scalar.
func CheckAllFinite(ts []Tensor, out Tensor) {
	const op = "AllFinite"
	for i, t := range ts {
		if t == nil {
			Misuse(op, "ts[%d] is nil", i)
		}
		if !t.DType().IsFloat() {
			Misuse(op, "ts[%d] has dtype %v, want a floating-point type", i, t.DType())
		}
	}
	want(op, "out", out, Shape{})
	wantType(op, "out", out, Bool)
}

// CheckCast checks that x and y have the same shape.
func CheckCast(x, y Tensor) {
	if x == nil || y == nil {
		Misuse("Cast", "nil tensor")
	}
	want("Cast", "y", y, x.Shape())
}

// CheckSame checks that dst has src's shape and dtype (Copy).
func CheckSame(op string, src, dst Tensor) {
	if src == nil {
		Misuse(op, "src is nil")
	}
	want(op, "dst", dst, src.Shape())
	wantType(op, "dst", dst, src.DType())
}
