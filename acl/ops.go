//go:build cgo

package acl

/*
#include "shim.h"
*/
import "C"

// The aclnn operators. Each has a Prepare form, which runs phase one and returns the Executor (for
// reuse: SetRepeatable, rebinding addresses), and a direct form, which runs both phases: workspace
// from a (nil is allowed when the op needs none), launch on s (nil: the default stream). Tensors,
// scalars and memory must outlive the queued kernel. Adding an op: its two symbols in RX_SYMBOLS and
// its phase-one trampoline (RX_WS) in the C shim, an opInfo and these two methods.

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
