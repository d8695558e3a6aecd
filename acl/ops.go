//go:build cgo

package acl

/*
#include "shim.h"
*/
import "C"

// The aclnn operators. Each has a Prepare form, which runs phase one and returns the Executor (for
// reuse: SetRepeatable, rebinding addresses), and a direct form, which runs both phases: workspace
// from a (nil is allowed when the op needs none), launch on s (nil: the default stream). Tensors,
// scalars and memory must outlive the queued kernel. Adding an op: its two symbols in RX_SYMBOLS
// (then go test ./acl -run TestCANNSymbolsMirrored -update-cann-symbols, which mirrors them for the
// test runtime) and its phase-one trampoline (RX_WS) in the C shim, an opInfo and these two methods.

var (
	opAdd  = opInfo{"aclnnAdd", C.RX_SYM_aclnnAdd}
	opMuls = opInfo{"aclnnMuls", C.RX_SYM_aclnnMuls}
	opRelu = opInfo{"aclnnRelu", C.RX_SYM_aclnnRelu}
	opCast = opInfo{"aclnnCast", C.RX_SYM_aclnnCast}

	opConvolution         = opInfo{"aclnnConvolution", C.RX_SYM_aclnnConvolution}
	opConvolutionBackward = opInfo{"aclnnConvolutionBackward", C.RX_SYM_aclnnConvolutionBackward}
	opBatchNorm           = opInfo{"aclnnBatchNorm", C.RX_SYM_aclnnBatchNorm}
	opBatchNormBackward   = opInfo{"aclnnBatchNormBackward", C.RX_SYM_aclnnBatchNormBackward}
	opThresholdBackward   = opInfo{"aclnnThresholdBackward", C.RX_SYM_aclnnThresholdBackward}

	opMaxPool2dWithMask         = opInfo{"aclnnMaxPool2dWithMask", C.RX_SYM_aclnnMaxPool2dWithMask}
	opMaxPool2dWithMaskBackward = opInfo{"aclnnMaxPool2dWithMaskBackward", C.RX_SYM_aclnnMaxPool2dWithMaskBackward}
	opMean                      = opInfo{"aclnnMean", C.RX_SYM_aclnnMean}
	opReduceSum                 = opInfo{"aclnnReduceSum", C.RX_SYM_aclnnReduceSum}
	opMm                        = opInfo{"aclnnMm", C.RX_SYM_aclnnMm}
	opLogSoftmax                = opInfo{"aclnnLogSoftmax", C.RX_SYM_aclnnLogSoftmax}
	opLogSoftmaxBackward        = opInfo{"aclnnLogSoftmaxBackward", C.RX_SYM_aclnnLogSoftmaxBackward}
	opNLLLoss                   = opInfo{"aclnnNLLLoss", C.RX_SYM_aclnnNLLLoss}
	opNLLLossBackward           = opInfo{"aclnnNLLLossBackward", C.RX_SYM_aclnnNLLLossBackward}

	opInplaceAdd        = opInfo{"aclnnInplaceAdd", C.RX_SYM_aclnnInplaceAdd}
	opInplaceAdds       = opInfo{"aclnnInplaceAdds", C.RX_SYM_aclnnInplaceAdds}
	opInplaceMuls       = opInfo{"aclnnInplaceMuls", C.RX_SYM_aclnnInplaceMuls}
	opMul               = opInfo{"aclnnMul", C.RX_SYM_aclnnMul}
	opInplaceFillScalar = opInfo{"aclnnInplaceFillScalar", C.RX_SYM_aclnnInplaceFillScalar}
	opEqScalar          = opInfo{"aclnnEqScalar", C.RX_SYM_aclnnEqScalar}
	opInplaceCopy       = opInfo{"aclnnInplaceCopy", C.RX_SYM_aclnnInplaceCopy}
	opInplaceRsqrt      = opInfo{"aclnnInplaceRsqrt", C.RX_SYM_aclnnInplaceRsqrt}
	opInplaceReciprocal = opInfo{"aclnnInplaceReciprocal", C.RX_SYM_aclnnInplaceReciprocal}
)

// PrepareAdd is phase one of aclnnAdd: out = self + alpha*other (broadcasting).
func (d *Device) PrepareAdd(self, other *Tensor, alpha *Scalar, out *Tensor) (*Executor, error) {
	return d.prepare(opAdd, C.rx_ws_aclnnAdd(d.l(), d.ctx.h, d.ctx.id, self.ptr(), other.ptr(), alpha.ptr(), out.ptr()))
}

// Add runs aclnnAdd: out = self + alpha*other.
func (d *Device) Add(s *Stream, a WorkspaceAllocator, self, other *Tensor, alpha *Scalar, out *Tensor) error {
	return d.run(s, a, opAdd, C.rx_ws_aclnnAdd(d.l(), d.ctx.h, d.ctx.id, self.ptr(), other.ptr(), alpha.ptr(), out.ptr()))
}

// PrepareMuls is phase one of aclnnMuls: out = self * scalar.
func (d *Device) PrepareMuls(self *Tensor, scalar *Scalar, out *Tensor) (*Executor, error) {
	return d.prepare(opMuls, C.rx_ws_aclnnMuls(d.l(), d.ctx.h, d.ctx.id, self.ptr(), scalar.ptr(), out.ptr()))
}

// Muls runs aclnnMuls: out = self * scalar.
func (d *Device) Muls(s *Stream, a WorkspaceAllocator, self *Tensor, scalar *Scalar, out *Tensor) error {
	return d.run(s, a, opMuls, C.rx_ws_aclnnMuls(d.l(), d.ctx.h, d.ctx.id, self.ptr(), scalar.ptr(), out.ptr()))
}

// PrepareRelu is phase one of aclnnRelu: out = max(self, 0).
func (d *Device) PrepareRelu(self, out *Tensor) (*Executor, error) {
	return d.prepare(opRelu, C.rx_ws_aclnnRelu(d.l(), d.ctx.h, d.ctx.id, self.ptr(), out.ptr()))
}

// Relu runs aclnnRelu: out = max(self, 0).
func (d *Device) Relu(s *Stream, a WorkspaceAllocator, self, out *Tensor) error {
	return d.run(s, a, opRelu, C.rx_ws_aclnnRelu(d.l(), d.ctx.h, d.ctx.id, self.ptr(), out.ptr()))
}

// PrepareCast is phase one of aclnnCast: out = self converted to dt (out's type).
func (d *Device) PrepareCast(self *Tensor, dt DataType, out *Tensor) (*Executor, error) {
	return d.prepare(opCast, C.rx_ws_aclnnCast(d.l(), d.ctx.h, d.ctx.id, self.ptr(), C.int32_t(dt), out.ptr()))
}

// Cast runs aclnnCast: out = self converted to dt (out's type).
func (d *Device) Cast(s *Stream, a WorkspaceAllocator, self *Tensor, dt DataType, out *Tensor) error {
	return d.run(s, a, opCast, C.rx_ws_aclnnCast(d.l(), d.ctx.h, d.ctx.id, self.ptr(), C.int32_t(dt), out.ptr()))
}

// ConvParams holds the attributes shared by aclnnConvolution and aclnnConvolutionBackward.
// Stride, Padding and Dilation hold one value per spatial dimension; OutputPadding is used only by
// transposed convolutions and may be nil otherwise. CubeMathType is CANN's cube unit mode: 0
// KEEP_DTYPE, 1 ALLOW_FP32_DOWN_PRECISION (needed for float32 on first-generation 910), 2 USE_FP16,
// 3 USE_HF32. The ops take a non-nil *ConvParams.
type ConvParams struct {
	Stride, Padding, Dilation *IntArray
	Transposed                bool
	OutputPadding             *IntArray
	Groups                    int64
	CubeMathType              int8
}

func (c *ConvParams) forward(d *Device, input, weight, bias, output *Tensor) C.rx_ret {
	return C.rx_ws_aclnnConvolution(d.l(), d.ctx.h, d.ctx.id, input.ptr(), weight.ptr(), bias.ptr(), c.Stride.ptr(),
		c.Padding.ptr(), c.Dilation.ptr(), C.bool(c.Transposed), c.OutputPadding.ptr(), C.int64_t(c.Groups),
		output.ptr(), C.int8_t(c.CubeMathType))
}

func (c *ConvParams) backward(d *Device, gradOutput, input, weight *Tensor, biasSizes *IntArray, mask *BoolArray,
	gradInput, gradWeight, gradBias *Tensor) C.rx_ret {
	groups := c.Groups
	if groups != int64(int32(groups)) {
		groups = -1 // CANN takes an int here: out of range is passed as invalid rather than truncated
	}
	return C.rx_ws_aclnnConvolutionBackward(d.l(), d.ctx.h, d.ctx.id, gradOutput.ptr(), input.ptr(), weight.ptr(),
		biasSizes.ptr(), c.Stride.ptr(), c.Padding.ptr(), c.Dilation.ptr(), C.bool(c.Transposed),
		c.OutputPadding.ptr(), C.int(groups), mask.ptr(), C.int8_t(c.CubeMathType), gradInput.ptr(),
		gradWeight.ptr(), gradBias.ptr())
}

// PrepareConvolution is phase one of aclnnConvolution: output = conv(input, weight) + bias (bias may
// be nil).
func (d *Device) PrepareConvolution(input, weight, bias *Tensor, conv *ConvParams, output *Tensor) (*Executor, error) {
	return d.prepare(opConvolution, conv.forward(d, input, weight, bias, output))
}

// Convolution runs aclnnConvolution: output = conv(input, weight) + bias (bias may be nil).
func (d *Device) Convolution(s *Stream, a WorkspaceAllocator, input, weight, bias *Tensor, conv *ConvParams, output *Tensor) error {
	return d.run(s, a, opConvolution, conv.forward(d, input, weight, bias, output))
}

// PrepareConvolutionBackward is phase one of aclnnConvolutionBackward. outputMask has three entries
// (gradInput, gradWeight, gradBias); an output whose entry is false may be nil. biasSizes (the bias
// shape, [out channels]) may be nil. The groups of conv are passed as a C int, as CANN declares them.
func (d *Device) PrepareConvolutionBackward(gradOutput, input, weight *Tensor, biasSizes *IntArray, conv *ConvParams,
	outputMask *BoolArray, gradInput, gradWeight, gradBias *Tensor) (*Executor, error) {
	return d.prepare(opConvolutionBackward,
		conv.backward(d, gradOutput, input, weight, biasSizes, outputMask, gradInput, gradWeight, gradBias))
}

// ConvolutionBackward runs aclnnConvolutionBackward (see PrepareConvolutionBackward).
func (d *Device) ConvolutionBackward(s *Stream, a WorkspaceAllocator, gradOutput, input, weight *Tensor,
	biasSizes *IntArray, conv *ConvParams, outputMask *BoolArray, gradInput, gradWeight, gradBias *Tensor) error {
	return d.run(s, a, opConvolutionBackward,
		conv.backward(d, gradOutput, input, weight, biasSizes, outputMask, gradInput, gradWeight, gradBias))
}

func (d *Device) wsBatchNorm(input, weight, bias, runningMean, runningVar *Tensor, training bool, momentum, eps float64,
	output, saveMean, saveInvstd *Tensor) C.rx_ret {
	return C.rx_ws_aclnnBatchNorm(d.l(), d.ctx.h, d.ctx.id, input.ptr(), weight.ptr(), bias.ptr(), runningMean.ptr(),
		runningVar.ptr(), C.bool(training), C.double(momentum), C.double(eps), output.ptr(), saveMean.ptr(),
		saveInvstd.ptr())
}

// PrepareBatchNorm is phase one of aclnnBatchNorm over input [N, C, ...]. Training: normalizes with
// the batch statistics, writes saveMean and saveInvstd (1/sqrt(biased variance + eps)) and updates
// runningMean and runningVar in place with momentum as PyTorch does (new = (1-momentum)*old +
// momentum*batch, the variance unbiased). Otherwise normalizes with the running statistics (which
// are then required); saveMean and saveInvstd are not written and may be nil.
func (d *Device) PrepareBatchNorm(input, weight, bias, runningMean, runningVar *Tensor, training bool, momentum, eps float64,
	output, saveMean, saveInvstd *Tensor) (*Executor, error) {
	return d.prepare(opBatchNorm, d.wsBatchNorm(input, weight, bias, runningMean, runningVar, training, momentum, eps,
		output, saveMean, saveInvstd))
}

// BatchNorm runs aclnnBatchNorm (see PrepareBatchNorm).
func (d *Device) BatchNorm(s *Stream, a WorkspaceAllocator, input, weight, bias, runningMean, runningVar *Tensor,
	training bool, momentum, eps float64, output, saveMean, saveInvstd *Tensor) error {
	return d.run(s, a, opBatchNorm, d.wsBatchNorm(input, weight, bias, runningMean, runningVar, training, momentum, eps,
		output, saveMean, saveInvstd))
}

func (d *Device) wsBatchNormBackward(gradOut, input, weight, runningMean, runningVar, saveMean, saveInvstd *Tensor,
	training bool, eps float64, outputMask *BoolArray, gradInput, gradWeight, gradBias *Tensor) C.rx_ret {
	return C.rx_ws_aclnnBatchNormBackward(d.l(), d.ctx.h, d.ctx.id, gradOut.ptr(), input.ptr(), weight.ptr(),
		runningMean.ptr(), runningVar.ptr(), saveMean.ptr(), saveInvstd.ptr(), C.bool(training), C.double(eps),
		outputMask.ptr(), gradInput.ptr(), gradWeight.ptr(), gradBias.ptr())
}

// PrepareBatchNormBackward is phase one of aclnnBatchNormBackward. Training uses saveMean and
// saveInvstd from the forward; otherwise runningMean and runningVar. outputMask has three entries
// (gradInput, gradWeight, gradBias); an output whose entry is false may be nil.
func (d *Device) PrepareBatchNormBackward(gradOut, input, weight, runningMean, runningVar, saveMean, saveInvstd *Tensor,
	training bool, eps float64, outputMask *BoolArray, gradInput, gradWeight, gradBias *Tensor) (*Executor, error) {
	return d.prepare(opBatchNormBackward, d.wsBatchNormBackward(gradOut, input, weight, runningMean, runningVar, saveMean,
		saveInvstd, training, eps, outputMask, gradInput, gradWeight, gradBias))
}

// BatchNormBackward runs aclnnBatchNormBackward (see PrepareBatchNormBackward).
func (d *Device) BatchNormBackward(s *Stream, a WorkspaceAllocator, gradOut, input, weight, runningMean, runningVar,
	saveMean, saveInvstd *Tensor, training bool, eps float64, outputMask *BoolArray, gradInput, gradWeight,
	gradBias *Tensor) error {
	return d.run(s, a, opBatchNormBackward, d.wsBatchNormBackward(gradOut, input, weight, runningMean, runningVar,
		saveMean, saveInvstd, training, eps, outputMask, gradInput, gradWeight, gradBias))
}

// PrepareThresholdBackward is phase one of aclnnThresholdBackward: out = gradOutput where self >
// threshold, else 0 (the ReLU gradient with threshold 0).
func (d *Device) PrepareThresholdBackward(gradOutput, self *Tensor, threshold *Scalar, out *Tensor) (*Executor, error) {
	return d.prepare(opThresholdBackward, C.rx_ws_aclnnThresholdBackward(d.l(), d.ctx.h, d.ctx.id, gradOutput.ptr(),
		self.ptr(), threshold.ptr(), out.ptr()))
}

// ThresholdBackward runs aclnnThresholdBackward: out = gradOutput where self > threshold, else 0.
func (d *Device) ThresholdBackward(s *Stream, a WorkspaceAllocator, gradOutput, self *Tensor, threshold *Scalar, out *Tensor) error {
	return d.run(s, a, opThresholdBackward, C.rx_ws_aclnnThresholdBackward(d.l(), d.ctx.h, d.ctx.id, gradOutput.ptr(),
		self.ptr(), threshold.ptr(), out.ptr()))
}

// Pooling.

func (d *Device) wsMaxPool2dWithMask(self *Tensor, kernelSize, stride, padding, dilation *IntArray, ceilMode bool,
	out, indices *Tensor) C.rx_ret {
	return C.rx_ws_aclnnMaxPool2dWithMask(d.l(), d.ctx.h, d.ctx.id, self.ptr(), kernelSize.ptr(), stride.ptr(),
		padding.ptr(), dilation.ptr(), C.bool(ceilMode), out.ptr(), indices.ptr())
}

// PrepareMaxPool2dWithMask is phase one of aclnnMaxPool2dWithMask, the max pooling of first-generation
// 910 over self [N, C, H, W] (or [C, H, W]): out gets each window's maximum, indices (INT8, shape
// [N, C, kh*kw, (ceil(Ho*Wo/16)+1)*32]) a bit mask of the winning kernel taps that only
// MaxPool2dWithMaskBackward reads; its contents differ between chip generations. kernelSize has 1 or 2
// values, stride 0 (the kernel size), 1 or 2, padding 1 or 2 (symmetric, at most half the kernel,
// padded positions -inf), dilation 1 or 2 values equal to 1. ceilMode rounds the output size up as
// PyTorch does. indices must be a contiguous tensor at offset 0.
func (d *Device) PrepareMaxPool2dWithMask(self *Tensor, kernelSize, stride, padding, dilation *IntArray, ceilMode bool,
	out, indices *Tensor) (*Executor, error) {
	return d.prepare(opMaxPool2dWithMask, d.wsMaxPool2dWithMask(self, kernelSize, stride, padding, dilation, ceilMode,
		out, indices))
}

// MaxPool2dWithMask runs aclnnMaxPool2dWithMask (see PrepareMaxPool2dWithMask).
func (d *Device) MaxPool2dWithMask(s *Stream, a WorkspaceAllocator, self *Tensor, kernelSize, stride, padding,
	dilation *IntArray, ceilMode bool, out, indices *Tensor) error {
	return d.run(s, a, opMaxPool2dWithMask, d.wsMaxPool2dWithMask(self, kernelSize, stride, padding, dilation,
		ceilMode, out, indices))
}

func (d *Device) wsMaxPool2dWithMaskBackward(gradOutput, self, indices *Tensor, kernelSize, stride, padding,
	dilation *IntArray, ceilMode bool, gradInput *Tensor) C.rx_ret {
	return C.rx_ws_aclnnMaxPool2dWithMaskBackward(d.l(), d.ctx.h, d.ctx.id, gradOutput.ptr(), self.ptr(),
		indices.ptr(), kernelSize.ptr(), stride.ptr(), padding.ptr(), dilation.ptr(), C.bool(ceilMode),
		gradInput.ptr())
}

// PrepareMaxPool2dWithMaskBackward is phase one of aclnnMaxPool2dWithMaskBackward: gradInput (self's
// shape) gets gradOutput routed to the taps indices recorded, summed where windows overlap. self,
// indices and the attributes are the forward's.
func (d *Device) PrepareMaxPool2dWithMaskBackward(gradOutput, self, indices *Tensor, kernelSize, stride, padding,
	dilation *IntArray, ceilMode bool, gradInput *Tensor) (*Executor, error) {
	return d.prepare(opMaxPool2dWithMaskBackward, d.wsMaxPool2dWithMaskBackward(gradOutput, self, indices, kernelSize,
		stride, padding, dilation, ceilMode, gradInput))
}

// MaxPool2dWithMaskBackward runs aclnnMaxPool2dWithMaskBackward (see PrepareMaxPool2dWithMaskBackward).
func (d *Device) MaxPool2dWithMaskBackward(s *Stream, a WorkspaceAllocator, gradOutput, self, indices *Tensor,
	kernelSize, stride, padding, dilation *IntArray, ceilMode bool, gradInput *Tensor) error {
	return d.run(s, a, opMaxPool2dWithMaskBackward, d.wsMaxPool2dWithMaskBackward(gradOutput, self, indices,
		kernelSize, stride, padding, dilation, ceilMode, gradInput))
}

// Reductions and the matrix product.

// PrepareMean is phase one of aclnnMean: out = the mean of self over the axes in dim (negative values
// count from the end; an empty dim reduces every axis), computed in dtype, which is out's type.
// keepDim keeps the reduced axes with size 1.
func (d *Device) PrepareMean(self *Tensor, dim *IntArray, keepDim bool, dtype DataType, out *Tensor) (*Executor, error) {
	return d.prepare(opMean, C.rx_ws_aclnnMean(d.l(), d.ctx.h, d.ctx.id, self.ptr(), dim.ptr(), C.bool(keepDim),
		C.int32_t(dtype), out.ptr()))
}

// Mean runs aclnnMean (see PrepareMean).
func (d *Device) Mean(s *Stream, a WorkspaceAllocator, self *Tensor, dim *IntArray, keepDim bool, dtype DataType, out *Tensor) error {
	return d.run(s, a, opMean, C.rx_ws_aclnnMean(d.l(), d.ctx.h, d.ctx.id, self.ptr(), dim.ptr(), C.bool(keepDim),
		C.int32_t(dtype), out.ptr()))
}

// PrepareReduceSum is phase one of aclnnReduceSum: out = the sum of self over the axes in dims, as
// PrepareMean.
func (d *Device) PrepareReduceSum(self *Tensor, dims *IntArray, keepDim bool, dtype DataType, out *Tensor) (*Executor, error) {
	return d.prepare(opReduceSum, C.rx_ws_aclnnReduceSum(d.l(), d.ctx.h, d.ctx.id, self.ptr(), dims.ptr(),
		C.bool(keepDim), C.int32_t(dtype), out.ptr()))
}

// ReduceSum runs aclnnReduceSum (see PrepareReduceSum).
func (d *Device) ReduceSum(s *Stream, a WorkspaceAllocator, self *Tensor, dims *IntArray, keepDim bool, dtype DataType, out *Tensor) error {
	return d.run(s, a, opReduceSum, C.rx_ws_aclnnReduceSum(d.l(), d.ctx.h, d.ctx.id, self.ptr(), dims.ptr(),
		C.bool(keepDim), C.int32_t(dtype), out.ptr()))
}

// PrepareMm is phase one of aclnnMm: out [M, N] = self [M, K] x mat2 [K, N]. self and mat2 may be
// strided views (a transposed operand is its buffer described with swapped dims and strides); out is
// contiguous. cubeMathType as in ConvParams.
func (d *Device) PrepareMm(self, mat2, out *Tensor, cubeMathType int8) (*Executor, error) {
	return d.prepare(opMm, C.rx_ws_aclnnMm(d.l(), d.ctx.h, d.ctx.id, self.ptr(), mat2.ptr(), out.ptr(),
		C.int8_t(cubeMathType)))
}

// Mm runs aclnnMm (see PrepareMm).
func (d *Device) Mm(s *Stream, a WorkspaceAllocator, self, mat2, out *Tensor, cubeMathType int8) error {
	return d.run(s, a, opMm, C.rx_ws_aclnnMm(d.l(), d.ctx.h, d.ctx.id, self.ptr(), mat2.ptr(), out.ptr(),
		C.int8_t(cubeMathType)))
}

// The classifier loss.

// PrepareLogSoftmax is phase one of aclnnLogSoftmax: out = self - log(sum(exp(self))) along dim.
func (d *Device) PrepareLogSoftmax(self *Tensor, dim int64, out *Tensor) (*Executor, error) {
	return d.prepare(opLogSoftmax, C.rx_ws_aclnnLogSoftmax(d.l(), d.ctx.h, d.ctx.id, self.ptr(), C.int64_t(dim), out.ptr()))
}

// LogSoftmax runs aclnnLogSoftmax (see PrepareLogSoftmax).
func (d *Device) LogSoftmax(s *Stream, a WorkspaceAllocator, self *Tensor, dim int64, out *Tensor) error {
	return d.run(s, a, opLogSoftmax, C.rx_ws_aclnnLogSoftmax(d.l(), d.ctx.h, d.ctx.id, self.ptr(), C.int64_t(dim), out.ptr()))
}

// PrepareLogSoftmaxBackward is phase one of aclnnLogSoftmaxBackward: out = gradOutput -
// exp(output)*sum(gradOutput, dim), output being the forward's result.
func (d *Device) PrepareLogSoftmaxBackward(gradOutput, output *Tensor, dim int64, out *Tensor) (*Executor, error) {
	return d.prepare(opLogSoftmaxBackward, C.rx_ws_aclnnLogSoftmaxBackward(d.l(), d.ctx.h, d.ctx.id, gradOutput.ptr(),
		output.ptr(), C.int64_t(dim), out.ptr()))
}

// LogSoftmaxBackward runs aclnnLogSoftmaxBackward (see PrepareLogSoftmaxBackward).
func (d *Device) LogSoftmaxBackward(s *Stream, a WorkspaceAllocator, gradOutput, output *Tensor, dim int64, out *Tensor) error {
	return d.run(s, a, opLogSoftmaxBackward, C.rx_ws_aclnnLogSoftmaxBackward(d.l(), d.ctx.h, d.ctx.id,
		gradOutput.ptr(), output.ptr(), C.int64_t(dim), out.ptr()))
}

// NLL loss reductions (the reduction argument of NLLLoss and NLLLossBackward).
const (
	ReductionNone int64 = 0
	ReductionMean int64 = 1
	ReductionSum  int64 = 2
)

// PrepareNLLLoss is phase one of aclnnNLLLoss over log-probabilities self [N, C] (or [C]) and class
// indices target [N] (or []; INT64, INT32 or UINT8): l_n = -weight[t_n]*self[n, t_n], 0 where t_n is
// ignoreIndex. weight [C] is required. out is [N] for ReductionNone, else one element (sum, or sum
// divided by the summed weights of the targets for ReductionMean); totalWeightOut (one element) gets
// those summed weights.
func (d *Device) PrepareNLLLoss(self, target, weight *Tensor, reduction, ignoreIndex int64, out, totalWeightOut *Tensor) (*Executor, error) {
	return d.prepare(opNLLLoss, C.rx_ws_aclnnNLLLoss(d.l(), d.ctx.h, d.ctx.id, self.ptr(), target.ptr(), weight.ptr(),
		C.int64_t(reduction), C.int64_t(ignoreIndex), out.ptr(), totalWeightOut.ptr()))
}

// NLLLoss runs aclnnNLLLoss (see PrepareNLLLoss).
func (d *Device) NLLLoss(s *Stream, a WorkspaceAllocator, self, target, weight *Tensor, reduction, ignoreIndex int64,
	out, totalWeightOut *Tensor) error {
	return d.run(s, a, opNLLLoss, C.rx_ws_aclnnNLLLoss(d.l(), d.ctx.h, d.ctx.id, self.ptr(), target.ptr(), weight.ptr(),
		C.int64_t(reduction), C.int64_t(ignoreIndex), out.ptr(), totalWeightOut.ptr()))
}

func (d *Device) wsNLLLossBackward(gradOutput, self, target, weight *Tensor, reduction, ignoreIndex int64,
	totalWeight, out *Tensor) C.rx_ret {
	return C.rx_ws_aclnnNLLLossBackward(d.l(), d.ctx.h, d.ctx.id, gradOutput.ptr(), self.ptr(), target.ptr(),
		weight.ptr(), C.int64_t(reduction), C.int64_t(ignoreIndex), totalWeight.ptr(), out.ptr())
}

// PrepareNLLLossBackward is phase one of aclnnNLLLossBackward: out (self's shape) is
// -gradOutput*weight[t_n] at (n, t_n) (divided by totalWeight, the forward's totalWeightOut, for
// ReductionMean) and 0 elsewhere.
func (d *Device) PrepareNLLLossBackward(gradOutput, self, target, weight *Tensor, reduction, ignoreIndex int64,
	totalWeight, out *Tensor) (*Executor, error) {
	return d.prepare(opNLLLossBackward, d.wsNLLLossBackward(gradOutput, self, target, weight, reduction, ignoreIndex,
		totalWeight, out))
}

// NLLLossBackward runs aclnnNLLLossBackward (see PrepareNLLLossBackward).
func (d *Device) NLLLossBackward(s *Stream, a WorkspaceAllocator, gradOutput, self, target, weight *Tensor,
	reduction, ignoreIndex int64, totalWeight, out *Tensor) error {
	return d.run(s, a, opNLLLossBackward, d.wsNLLLossBackward(gradOutput, self, target, weight, reduction,
		ignoreIndex, totalWeight, out))
}

// Elementwise and in-place ops. The in-place ops list selfRef among the executor's inputs (first)
// and as its output 0: a repeatable executor rebinds it with both SetInputAddr(0, ...) and
// SetOutputAddr(0, ...).

// PrepareInplaceAdd is phase one of aclnnInplaceAdd: selfRef += alpha*other (other broadcast to
// selfRef's shape).
func (d *Device) PrepareInplaceAdd(selfRef, other *Tensor, alpha *Scalar) (*Executor, error) {
	return d.prepare(opInplaceAdd, C.rx_ws_aclnnInplaceAdd(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), other.ptr(), alpha.ptr()))
}

// InplaceAdd runs aclnnInplaceAdd: selfRef += alpha*other.
func (d *Device) InplaceAdd(s *Stream, a WorkspaceAllocator, selfRef, other *Tensor, alpha *Scalar) error {
	return d.run(s, a, opInplaceAdd, C.rx_ws_aclnnInplaceAdd(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), other.ptr(), alpha.ptr()))
}

// PrepareInplaceAdds is phase one of aclnnInplaceAdds: selfRef += alpha*other (a scalar).
func (d *Device) PrepareInplaceAdds(selfRef *Tensor, other, alpha *Scalar) (*Executor, error) {
	return d.prepare(opInplaceAdds, C.rx_ws_aclnnInplaceAdds(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), other.ptr(), alpha.ptr()))
}

// InplaceAdds runs aclnnInplaceAdds: selfRef += alpha*other.
func (d *Device) InplaceAdds(s *Stream, a WorkspaceAllocator, selfRef *Tensor, other, alpha *Scalar) error {
	return d.run(s, a, opInplaceAdds, C.rx_ws_aclnnInplaceAdds(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), other.ptr(), alpha.ptr()))
}

// PrepareInplaceMuls is phase one of aclnnInplaceMuls: selfRef *= other (a scalar).
func (d *Device) PrepareInplaceMuls(selfRef *Tensor, other *Scalar) (*Executor, error) {
	return d.prepare(opInplaceMuls, C.rx_ws_aclnnInplaceMuls(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), other.ptr()))
}

// InplaceMuls runs aclnnInplaceMuls: selfRef *= other.
func (d *Device) InplaceMuls(s *Stream, a WorkspaceAllocator, selfRef *Tensor, other *Scalar) error {
	return d.run(s, a, opInplaceMuls, C.rx_ws_aclnnInplaceMuls(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), other.ptr()))
}

// PrepareMul is phase one of aclnnMul: out = self * other (broadcasting, as Add).
func (d *Device) PrepareMul(self, other, out *Tensor) (*Executor, error) {
	return d.prepare(opMul, C.rx_ws_aclnnMul(d.l(), d.ctx.h, d.ctx.id, self.ptr(), other.ptr(), out.ptr()))
}

// Mul runs aclnnMul: out = self * other.
func (d *Device) Mul(s *Stream, a WorkspaceAllocator, self, other, out *Tensor) error {
	return d.run(s, a, opMul, C.rx_ws_aclnnMul(d.l(), d.ctx.h, d.ctx.id, self.ptr(), other.ptr(), out.ptr()))
}

// PrepareInplaceFillScalar is phase one of aclnnInplaceFillScalar: every element of selfRef = value
// (converted to selfRef's type).
func (d *Device) PrepareInplaceFillScalar(selfRef *Tensor, value *Scalar) (*Executor, error) {
	return d.prepare(opInplaceFillScalar, C.rx_ws_aclnnInplaceFillScalar(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), value.ptr()))
}

// InplaceFillScalar runs aclnnInplaceFillScalar: selfRef = value everywhere.
func (d *Device) InplaceFillScalar(s *Stream, a WorkspaceAllocator, selfRef *Tensor, value *Scalar) error {
	return d.run(s, a, opInplaceFillScalar, C.rx_ws_aclnnInplaceFillScalar(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), value.ptr()))
}

// PrepareEqScalar is phase one of aclnnEqScalar: out (self's shape, normally Bool) = self == other.
func (d *Device) PrepareEqScalar(self *Tensor, other *Scalar, out *Tensor) (*Executor, error) {
	return d.prepare(opEqScalar, C.rx_ws_aclnnEqScalar(d.l(), d.ctx.h, d.ctx.id, self.ptr(), other.ptr(), out.ptr()))
}

// EqScalar runs aclnnEqScalar: out = self == other.
func (d *Device) EqScalar(s *Stream, a WorkspaceAllocator, self *Tensor, other *Scalar, out *Tensor) error {
	return d.run(s, a, opEqScalar, C.rx_ws_aclnnEqScalar(d.l(), d.ctx.h, d.ctx.id, self.ptr(), other.ptr(), out.ptr()))
}

// PrepareInplaceCopy is phase one of aclnnInplaceCopy: selfRef = src, src broadcast to selfRef's shape
// and converted to its type. Either may be a strided view with an offset.
func (d *Device) PrepareInplaceCopy(selfRef, src *Tensor) (*Executor, error) {
	return d.prepare(opInplaceCopy, C.rx_ws_aclnnInplaceCopy(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), src.ptr()))
}

// InplaceCopy runs aclnnInplaceCopy: selfRef = src.
func (d *Device) InplaceCopy(s *Stream, a WorkspaceAllocator, selfRef, src *Tensor) error {
	return d.run(s, a, opInplaceCopy, C.rx_ws_aclnnInplaceCopy(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr(), src.ptr()))
}

// PrepareInplaceRsqrt is phase one of aclnnInplaceRsqrt: selfRef = 1/sqrt(selfRef).
func (d *Device) PrepareInplaceRsqrt(selfRef *Tensor) (*Executor, error) {
	return d.prepare(opInplaceRsqrt, C.rx_ws_aclnnInplaceRsqrt(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr()))
}

// PrepareInplaceReciprocal is phase one of aclnnInplaceReciprocal: selfRef = 1/selfRef.
func (d *Device) PrepareInplaceReciprocal(selfRef *Tensor) (*Executor, error) {
	return d.prepare(opInplaceReciprocal, C.rx_ws_aclnnInplaceReciprocal(d.l(), d.ctx.h, d.ctx.id, selfRef.ptr()))
}
