// Package ascend is the ops.Backend on Huawei Ascend NPUs, through package acl (the ACL runtime and
// the aclnn operators, found at run time).
//
// # Execution
//
// Every kernel is queued on one compute stream and returns at once; a failure is kept (the first
// one, naming the kernel and its shapes) and returned by Sync and Read, and the kernels after it are
// skipped. Write stages the host bytes in pinned memory and queues the copy on the same stream, so a
// Write never overtakes a queued kernel that still reads the tensor; from memory of AllocPinned
// (ops.PinnedHost) it copies in place instead, and WaitPinned says when the memory may change. Read
// queues the copy back and waits for it. The host objects a queued kernel refers to (aclnn descriptors, scalars, arrays,
// staging buffers) are released at the next synchronisation.
//
// Each aclnn call goes through the executor cache (exec.go): phase one runs once per operator,
// operand layout and attributes, and later calls rebind the addresses that moved and launch the
// kept repeatable executor again. The optimizer step runs over parameters packed in flat buffers
// (flat.go). Where the chip and CANN allow it (910B, 910_93; CANN 8.1), a whole step can be
// captured and replayed (capture.go, ops.Capturer).
//
// Data parallelism (collective.go, ops.Collectives): a Collective is one rank of an HCCL
// communicator. Its collectives run on a stream of their own, ordered against the compute stream by
// events recorded and waited for on the device, so a bucket's all-reduce overlaps the kernels queued
// after it until Wait; package dist's JoinHCCL makes one through the job's scheduler.
//
// # Chips
//
// The backend reads the chip from aclrtGetSocName (soc.go) and follows its rules: the cube math
// type (1 by default; the first generation takes only 1 or 2 with float32), batch norm's saved
// variance (aclnnBatchNorm writes the variance into saveInvstd on 910, 910B and 910_93; the backend
// keeps it with the forward's eps for aclnnBatchNormBackward and converts it to 1/sqrt(var + eps)
// only for other readers), and max pooling, which takes no NaN or -Inf (ops.FiniteMaxPool).
// docs/ASCEND.md says what each rests on.
//
// # Memory
//
// Device memory comes from a caching allocator (internal/devmem): size classes, reuse in stream
// order (every kernel runs on one stream, so a block freed on the host may be handed to the next
// kernel at once; a Collective's stream uses only memory it holds until the compute stream waited
// for it), an optional limit, and an out-of-memory error that says how much was asked and
// how much is held. Nothing goes back to the device until the stream has drained.
//
// # Kernels
//
// Each ops.Backend kernel maps onto aclnn operators that exist on first-generation Ascend 910 as well
// as 910B:
//
//	Conv2d, Conv2dBackward        aclnnConvolution, aclnnConvolutionBackward (cube math type from Options)
//	BatchNorm*                    aclnnBatchNorm, aclnnBatchNormBackward (aclnnInplaceAdds and
//	                              aclnnInplaceRsqrt when the saved variance is read as 1/sqrt(var+eps))
//	ReLU, ReLUBackward            aclnnRelu, aclnnThresholdBackward (threshold 0)
//	MaxPool2d, MaxPool2dBackward  aclnnMaxPool2dWithMask, aclnnMaxPool2dWithMaskBackward
//	GlobalAvgPool(+Backward)      aclnnMean over H and W; aclnnMul of dy by a constant 1/(H*W) plane
//	MatMul                        aclnnMm on transposed views
//	BiasAdd, BiasGrad             aclnnAdd with a broadcast view, aclnnReduceSum
//	CrossEntropy(+Backward)       aclnnLogSoftmax, aclnnNLLLoss, aclnnReduceSum for label smoothing;
//	                              aclnnNLLLossBackward, aclnnInplaceAdds, aclnnLogSoftmaxBackward
//	Add, Scale                    aclnnAdd, aclnnMuls
//	SGDMomentum(Group)            aclnnMuls, aclnnInplaceAdd, aclnnInplaceMuls (no fused optimizer op),
//	                              over flat buffers for a group
//	AllFinite                     aclnnMuls by 0 (a non-finite element gives NaN), aclnnReduceSum,
//	                              aclnnEqScalar against 0: the answer stays on the device
//	Cast, Fill, Copy              aclnnCast, aclnnInplaceFillScalar or aclrtMemsetAsync, aclrtMemcpyAsync
//
// The max pool's mask is CANN's: Uint8 here (INT8 to aclnn), [N, C, kH*kW, (ceil(Ho*Wo/16)+1)*32].
// aclnn pads symmetrically; MindCV's "same" padding (one more row or column at the bottom and right)
// is the same pool in ceil mode when the outputs agree, as for the ResNeXt stem, and otherwise runs on
// a copy of the input padded with the type's lowest finite value (aclnn takes no -Inf).
//
// Mixed precision (amp_level O2): Conv2d, ReLU, pooling, MatMul, BiasAdd and Add take Float16 tensors,
// BatchNorm takes a Float16 input with Float32 statistics and affine parameters, the optimizer keeps
// Float32 master weights, and AllFinite checks gradients for loss scaling without leaving the device.
package ascend
