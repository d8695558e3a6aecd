// Package ops is the spine of resnext: the Backend interface that every device implements, the opaque
// Tensor it owns, element types and shapes, and the shape rules every kernel checks.
//
// The interface mirrors aclnn. Every kernel is explicit (forward and backward are separate calls), takes
// its outputs from the caller (so layers keep their buffers across steps), and may run asynchronously:
// a device failure is sticky and comes back from Sync or Read, naming the kernel and its shapes.
// Misuse (a shape, dtype or argument the kernel cannot take) panics at once with a message that names
// the kernel and the shapes; the checks live in this package (check.go) so every backend enforces the
// same rules. Layout is NCHW at the interface; a backend may keep another inside.
//
// Host memory moves only through Write and Read. Nothing above ops touches a tensor's storage.
package ops

// Tensor is a handle to an n-dimensional array held by a Backend, in the backend's memory (device
// memory on an accelerator). Only the backend that allocated it can use it. A Tensor is not safe for
// concurrent use by kernels that write it.
type Tensor interface {
	// Shape is the tensor's dimensions. The caller must not modify the returned slice.
	Shape() Shape
	// DType is the element type.
	DType() DType
}

// Backend executes the kernels ResNeXt training and inference needs, on one device.
//
// Conventions: inputs come first and outputs last; an output may not alias an input unless the method
// says so; outputs are fully overwritten (their previous contents never matter) unless the method says
// it accumulates. Scalars (the loss) have the empty shape. Labels are Int32.
type Backend interface {
	// Name is the registry name of the backend ("cpu", "ascend").
	Name() string
	// Device describes the device, for logs ("cpu: 2 threads, avx512").
	Device() string

	// Alloc returns a tensor of the given type and shape with undefined contents. Memory is pooled:
	// Free gives it back for reuse.
	Alloc(dt DType, shape Shape) Tensor
	// Free releases t. Using t afterwards, or freeing it twice, is misuse.
	Free(t Tensor)
	// Write copies host bytes (little-endian, C order, exactly Numel*Size long) into dst. src may be
	// reused as soon as Write returns.
	Write(dst Tensor, src []byte)
	// Read waits for pending work on src, then copies its bytes into dst (exactly Numel*Size long).
	// It returns the first runtime error the backend met, if any.
	Read(src Tensor, dst []byte) error
	// Copy copies src into dst; both have the same dtype and shape.
	Copy(src, dst Tensor)
	// Fill sets every element of t to v (converted to t's dtype).
	Fill(t Tensor, v float64)
	// Sync waits for all queued work and returns the first runtime error met so far (sticky: once set,
	// every later Sync and Read returns it).
	Sync() error
	// Close releases the device. The backend and its tensors must not be used afterwards.
	Close() error

	// Conv2d computes y = conv(x, w): x [N, C, H, W], w [K, C/groups, R, S], y [N, K, P, Q]
	// (see Conv2dParams.OutSize). There is no bias: add one with BiasAdd.
	Conv2d(x, w, y Tensor, p Conv2dParams)
	// Conv2dBackward computes the gradients of Conv2d from dy: dx (shape of x) and dw (shape of w).
	// Either output may be nil when it is not wanted (aclnn's output mask). The batch may be empty
	// (N = 0): dw is then zero.
	Conv2dBackward(dy, x, w, dx, dw Tensor, p Conv2dParams)

	// BatchNormTrain normalises x [N, C, H, W] (or [N, C]) with the batch statistics per channel:
	// y = (x - mean) * invStd * gamma + beta, invStd = 1/sqrt(var + eps) with the biased variance.
	// It writes saveMean and saveInvStd [C] for the backward and updates the running statistics in
	// place with PyTorch's convention: running = (1-momentum)*running + momentum*batch, the variance
	// unbiased (N*H*W/(N*H*W-1)). MindSpore's momentum m is PyTorch's 1-m.
	BatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd Tensor, momentum, eps float64)
	// BatchNormInfer normalises x with the given statistics: y = (x - mean)/sqrt(variance + eps)*gamma + beta.
	BatchNormInfer(x, gamma, beta, mean, variance, y Tensor, eps float64)
	// BatchNormBackward is the gradient of BatchNormTrain, from the saved statistics: dx, dgamma and
	// dbeta. dgamma and dbeta may be nil when not wanted.
	BatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta Tensor)

	// ReLU computes y = max(x, 0); NaN stays NaN. y may be x (in place).
	ReLU(x, y Tensor)
	// ReLUBackward computes dx = 0 where y <= 0, else dy (a NaN in y passes dy, as PyTorch's
	// threshold_backward does), from the forward output y. dx may be dy.
	ReLUBackward(dy, y, dx Tensor)

	// MaxPool2dMask is the shape and dtype of the mask that MaxPool2d writes for input shape x: the
	// layout is the backend's own.
	MaxPool2dMask(x Shape, p Pool2dParams) (Shape, DType)
	// MaxPool2d computes y = max over each window of x (padding is -inf) and records the winners in
	// mask (see MaxPool2dMask). Ties go to the first element in row-major window order; a window
	// holding NaN gives NaN (which NaN the mask records is the backend's choice). A backend may not
	// take NaN or -Inf in x at all (FiniteMaxPool).
	MaxPool2d(x, y, mask Tensor, p Pool2dParams)
	// MaxPool2dBackward routes dy to the winners recorded in mask by MaxPool2d(x, ...): dx has x's
	// shape. x is the forward input, unchanged since (aclnn's backward takes it; a backend may
	// read only its shape).
	MaxPool2dBackward(dy, x, mask, dx Tensor, p Pool2dParams)

	// GlobalAvgPool averages x [N, C, H, W] over H and W into y [N, C].
	GlobalAvgPool(x, y Tensor)
	// GlobalAvgPoolBackward spreads dy [N, C] evenly over dx [N, C, H, W].
	GlobalAvgPoolBackward(dy, dx Tensor)

	// MatMul computes c = op(a) @ op(b), op transposing 2-D matrices when asked: op(a) [M, K],
	// op(b) [K, N], c [M, N].
	MatMul(a, b, c Tensor, transA, transB bool)
	// BiasAdd computes y = x + bias broadcast along dimension 1: x [N, C, ...], bias [C]. y may be x.
	BiasAdd(x, bias, y Tensor)
	// BiasGrad sums dy over every dimension but 1 into db [C].
	BiasGrad(dy, db Tensor)

	// CrossEntropy computes the softmax cross-entropy of logits [N, C] against labels [N] (Int32,
	// each in [0, C)), averaged over the batch, with label smoothing eps: the target is
	// (1-eps)*onehot + eps/C, as PyTorch and MindSpore define it. It writes the log-probabilities
	// logProb [N, C] for the backward and the scalar loss (shape []).
	CrossEntropy(logits, labels, logProb, loss Tensor, smoothing float64)
	// CrossEntropyBackward computes dlogits = scale * (softmax - target) / N from the saved logProb,
	// where scale is the gradient of the loss (the loss scale under mixed precision, else 1).
	CrossEntropyBackward(logProb, labels, dlogits Tensor, smoothing, scale float64)

	// Add computes y = a + alpha*b elementwise (same shapes). y may be a or b.
	Add(a, b, y Tensor, alpha float64)
	// Scale computes y = alpha*x. y may be x.
	Scale(x, y Tensor, alpha float64)

	// SGDMomentum does one momentum-SGD step in place on param and accum from grad (MindSpore's
	// Momentum and PyTorch's SGD agree): g = grad*GradScale + WeightDecay*param;
	// accum = Momentum*accum + g; param -= LR*accum, or with Nesterov param -= LR*(g + Momentum*accum).
	SGDMomentum(param, grad, accum Tensor, p SGDParams)
	// AllFinite writes 1 into out (a Bool scalar) when every element of every tensor in ts is finite,
	// else 0. It does not wait: read out to get the answer.
	AllFinite(ts []Tensor, out Tensor)
	// Cast converts x into y's dtype (same shape). Into a float type it rounds to nearest even, once
	// (even from a wide integer), overflowing to infinity; float to integer truncates toward zero,
	// saturating at the type's limits, with NaN giving 0; integer to integer wraps around (two's
	// complement); into Bool any nonzero value, NaN included, is true, and true is 1.
	Cast(x, y Tensor)
}

// Conv2dParams are the attributes of a 2-D convolution. Padding is symmetric (PadH rows on top and
// bottom, PadW columns left and right). Zero strides, dilations and groups mean 1.
type Conv2dParams struct {
	StrideH, StrideW     int
	PadH, PadW           int
	DilationH, DilationW int
	Groups               int
}

// Conv returns the parameters of a square convolution with the given stride, padding and groups.
func Conv(stride, pad, groups int) Conv2dParams {
	return Conv2dParams{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad, DilationH: 1, DilationW: 1, Groups: groups}
}

// Normalized returns p with zero strides, dilations and groups replaced by 1.
func (p Conv2dParams) Normalized() Conv2dParams {
	one := func(v *int) {
		if *v == 0 {
			*v = 1
		}
	}
	one(&p.StrideH)
	one(&p.StrideW)
	one(&p.DilationH)
	one(&p.DilationW)
	one(&p.Groups)
	return p
}

// OutSize is the output height and width for an input h x w and a kernel r x s.
func (p Conv2dParams) OutSize(h, w, r, s int) (int, int) {
	p = p.Normalized()
	return (h+2*p.PadH-p.DilationH*(r-1)-1)/p.StrideH + 1, (w+2*p.PadW-p.DilationW*(s-1)-1)/p.StrideW + 1
}

// Pool2dParams are the attributes of a 2-D max pool. Padding may differ per side: torchvision pads
// symmetrically, MindCV's "same" mode pads only bottom and right where the total is odd (SamePool2d).
type Pool2dParams struct {
	KernelH, KernelW  int
	StrideH, StrideW  int
	PadTop, PadBottom int
	PadLeft, PadRight int
}

// Pool returns a square pool with symmetric padding (torchvision's MaxPool2d(k, s, pad)).
func Pool(kernel, stride, pad int) Pool2dParams {
	return Pool2dParams{KernelH: kernel, KernelW: kernel, StrideH: stride, StrideW: stride,
		PadTop: pad, PadBottom: pad, PadLeft: pad, PadRight: pad}
}

// SamePool returns a square pool with TensorFlow/MindSpore "same" padding for an input h x w: the
// output is ceil(in/stride) and the total padding max((out-1)*stride+kernel-in, 0) is split with the
// smaller half on top/left.
func SamePool(kernel, stride, h, w int) Pool2dParams {
	top, bottom := SamePadding(h, kernel, stride)
	left, right := SamePadding(w, kernel, stride)
	return Pool2dParams{KernelH: kernel, KernelW: kernel, StrideH: stride, StrideW: stride,
		PadTop: top, PadBottom: bottom, PadLeft: left, PadRight: right}
}

// SamePadding is the padding before and after one dimension of size in under "same" mode.
func SamePadding(in, kernel, stride int) (before, after int) {
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+kernel-in, 0)
	return total / 2, total - total/2
}

// OutSize is the output height and width for an input h x w (floor mode).
func (p Pool2dParams) OutSize(h, w int) (int, int) {
	return (h+p.PadTop+p.PadBottom-p.KernelH)/p.StrideH + 1, (w+p.PadLeft+p.PadRight-p.KernelW)/p.StrideW + 1
}

// SGDParams are the hyper-parameters of one SGDMomentum step.
type SGDParams struct {
	LR          float64
	Momentum    float64
	WeightDecay float64
	Nesterov    bool
	// GradScale multiplies the gradient before anything else: 1/loss_scale under mixed precision.
	// Zero means 1.
	GradScale float64
}
