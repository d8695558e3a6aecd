/* cann_symbols.h: the CANN prototypes package acl binds, mirrored verbatim from the RX_SYMBOLS
 * block of acl/shim.h (the source; TestCANNSymbolsMirrored in package acl fails while the two
 * differ, and rewrites this file with -update-cann-symbols). Do not edit by hand.
 *
 * RX_SYMBOLS(X) expands X(name, library, REQ or OPT, return type, (parameters)) per symbol. The
 * includer defines the CANN types (aclTensor, aclDataType, aclrtStream, ...) first; the library and
 * REQ/OPT arguments are tokens for the binding's loader. testrt.h declares every symbol from it, so
 * the compiler checks each stand-in definition against the binding's prototype.
 */
#ifndef RESNEXT_CANN_SYMBOLS_H
#define RESNEXT_CANN_SYMBOLS_H

/* BEGIN RX_SYMBOLS: this block, up to END RX_SYMBOLS, is mirrored verbatim in
 * testruntime/csrc/cann_symbols.h, from which the test runtime declares its stand-ins, so the C
 * compiler checks every stand-in definition against these prototypes. After editing it, run
 * go test ./acl -run TestCANNSymbolsMirrored -update-cann-symbols (the test fails while they differ). */

/* RX_SYMBOLS(X): X(name, library, REQ or OPT, return type, (parameters)). */
#define RX_SYMBOLS(X)                                                                                  \
    /* Runtime: libascendcl.so (acl.h, acl_rt.h). */                                                   \
    X(aclInit, RX_LIB_ACL, REQ, aclError, (const char *configPath))                                    \
    X(aclFinalize, RX_LIB_ACL, REQ, aclError, (void))                                                  \
    X(aclGetRecentErrMsg, RX_LIB_ACL, REQ, const char *, (void))                                       \
    X(aclrtSetDevice, RX_LIB_ACL, REQ, aclError, (int32_t deviceId))                                   \
    X(aclrtResetDevice, RX_LIB_ACL, REQ, aclError, (int32_t deviceId))                                 \
    X(aclrtGetDevice, RX_LIB_ACL, REQ, aclError, (int32_t *deviceId))                                  \
    X(aclrtGetDeviceCount, RX_LIB_ACL, REQ, aclError, (uint32_t *count))                               \
    X(aclrtSynchronizeDevice, RX_LIB_ACL, REQ, aclError, (void))                                       \
    X(aclrtCreateContext, RX_LIB_ACL, REQ, aclError, (aclrtContext *context, int32_t deviceId))        \
    X(aclrtDestroyContext, RX_LIB_ACL, REQ, aclError, (aclrtContext context))                          \
    X(aclrtSetCurrentContext, RX_LIB_ACL, REQ, aclError, (aclrtContext context))                       \
    X(aclrtCreateStream, RX_LIB_ACL, REQ, aclError, (aclrtStream *stream))                             \
    X(aclrtDestroyStream, RX_LIB_ACL, REQ, aclError, (aclrtStream stream))                             \
    X(aclrtSynchronizeStream, RX_LIB_ACL, REQ, aclError, (aclrtStream stream))                         \
    X(aclrtCreateEvent, RX_LIB_ACL, REQ, aclError, (aclrtEvent *event))                                \
    X(aclrtRecordEvent, RX_LIB_ACL, REQ, aclError, (aclrtEvent event, aclrtStream stream))             \
    X(aclrtSynchronizeEvent, RX_LIB_ACL, REQ, aclError, (aclrtEvent event))                            \
    X(aclrtDestroyEvent, RX_LIB_ACL, REQ, aclError, (aclrtEvent event))                                \
    X(aclrtStreamWaitEvent, RX_LIB_ACL, REQ, aclError, (aclrtStream stream, aclrtEvent event))         \
    X(aclrtResetEvent, RX_LIB_ACL, REQ, aclError, (aclrtEvent event, aclrtStream stream))              \
    X(aclrtMalloc, RX_LIB_ACL, REQ, aclError, (void **devPtr, size_t size, aclrtMemMallocPolicy policy)) \
    X(aclrtFree, RX_LIB_ACL, REQ, aclError, (void *devPtr))                                            \
    X(aclrtMallocHost, RX_LIB_ACL, REQ, aclError, (void **hostPtr, size_t size))                       \
    X(aclrtFreeHost, RX_LIB_ACL, REQ, aclError, (void *hostPtr))                                       \
    X(aclrtMemcpy, RX_LIB_ACL, REQ, aclError,                                                          \
      (void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind))                \
    X(aclrtMemcpyAsync, RX_LIB_ACL, REQ, aclError,                                                     \
      (void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind,                 \
       aclrtStream stream))                                                                            \
    X(aclrtMemset, RX_LIB_ACL, REQ, aclError, (void *devPtr, size_t maxCount, int32_t value, size_t count)) \
    X(aclrtMemsetAsync, RX_LIB_ACL, REQ, aclError,                                                     \
      (void *devPtr, size_t maxCount, int32_t value, size_t count, aclrtStream stream))                \
    X(aclrtGetMemInfo, RX_LIB_ACL, REQ, aclError, (aclrtMemAttr attr, size_t *free, size_t *total))    \
    /* The chip's name ("Ascend910A", "Ascend910B1", ...): operators behave per chip. */              \
    X(aclrtGetSocName, RX_LIB_ACL, OPT, const char *, (void))                                          \
    /* Graph capture (a model run instance): acl/acl_rt.h in current CANN, acl/acl_mdl.h in older;   \
       absent from CANN 8.0.RC2, probed. */                                                          \
    X(aclmdlRICaptureBegin, RX_LIB_ACL, OPT, aclError, (aclrtStream stream, aclmdlRICaptureMode mode)) \
    X(aclmdlRICaptureEnd, RX_LIB_ACL, OPT, aclError, (aclrtStream stream, aclmdlRI *modelRI))          \
    X(aclmdlRIExecuteAsync, RX_LIB_ACL, OPT, aclError, (aclmdlRI modelRI, aclrtStream stream))         \
    X(aclmdlRIDestroy, RX_LIB_ACL, OPT, aclError, (aclmdlRI modelRI))                                  \
    /* aclnn base: libnnopbase.so (aclnn/acl_meta.h). */                                               \
    X(aclCreateTensor, RX_LIB_NNOPBASE, REQ, aclTensor *,                                              \
      (const int64_t *viewDims, uint64_t viewDimsNum, aclDataType dataType, const int64_t *stride,     \
       int64_t offset, aclFormat format, const int64_t *storageDims, uint64_t storageDimsNum,          \
       void *tensorData))                                                                              \
    X(aclDestroyTensor, RX_LIB_NNOPBASE, REQ, aclnnStatus, (const aclTensor *tensor))                  \
    X(aclCreateScalar, RX_LIB_NNOPBASE, REQ, aclScalar *, (void *value, aclDataType dataType))         \
    X(aclDestroyScalar, RX_LIB_NNOPBASE, REQ, aclnnStatus, (const aclScalar *scalar))                  \
    X(aclCreateIntArray, RX_LIB_NNOPBASE, REQ, aclIntArray *, (const int64_t *value, uint64_t size))   \
    X(aclDestroyIntArray, RX_LIB_NNOPBASE, REQ, aclnnStatus, (const aclIntArray *array))               \
    X(aclCreateBoolArray, RX_LIB_NNOPBASE, REQ, aclBoolArray *, (const bool *value, uint64_t size))    \
    X(aclDestroyBoolArray, RX_LIB_NNOPBASE, REQ, aclnnStatus, (const aclBoolArray *array))             \
    X(aclDestroyAclOpExecutor, RX_LIB_NNOPBASE, REQ, aclnnStatus, (aclOpExecutor *executor))           \
    /* Executor reuse: absent from older CANN, probed. */                                              \
    X(aclSetAclOpExecutorRepeatable, RX_LIB_NNOPBASE, OPT, aclnnStatus, (aclOpExecutor *executor))     \
    X(aclSetInputTensorAddr, RX_LIB_NNOPBASE, OPT, aclnnStatus,                                        \
      (aclOpExecutor *executor, const size_t index, aclTensor *tensor, void *addr))                    \
    X(aclSetOutputTensorAddr, RX_LIB_NNOPBASE, OPT, aclnnStatus,                                       \
      (aclOpExecutor *executor, const size_t index, aclTensor *tensor, void *addr))                    \
    X(aclSetRawTensorAddr, RX_LIB_NNOPBASE, OPT, aclnnStatus, (aclTensor *tensor, void *addr))         \
    /* Operators: libopapi.so (aclnnop/aclnn_*.h). Two symbols per op: phase one and the launch. */    \
    X(aclnnAddGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                        \
      (const aclTensor *self, const aclTensor *other, const aclScalar *alpha, aclTensor *out,          \
       uint64_t *workspaceSize, aclOpExecutor **executor))                                             \
    X(aclnnAdd, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                      \
    X(aclnnMulsGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                       \
      (const aclTensor *self, const aclScalar *other, aclTensor *out, uint64_t *workspaceSize,         \
       aclOpExecutor **executor))                                                                      \
    X(aclnnMuls, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                     \
    X(aclnnReluGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                       \
      (const aclTensor *self, aclTensor *out, uint64_t *workspaceSize, aclOpExecutor **executor))      \
    X(aclnnRelu, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                     \
    X(aclnnCastGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                       \
      (const aclTensor *self, const aclDataType dtype, aclTensor *out, uint64_t *workspaceSize,        \
       aclOpExecutor **executor))                                                                      \
    X(aclnnCast, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                     \
    X(aclnnConvolutionGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                \
      (const aclTensor *input, const aclTensor *weight, const aclTensor *bias, const aclIntArray *stride, \
       const aclIntArray *padding, const aclIntArray *dilation, bool transposed,                       \
       const aclIntArray *outputPadding, const int64_t groups, aclTensor *output, int8_t cubeMathType,  \
       uint64_t *workspaceSize, aclOpExecutor **executor))                                             \
    X(aclnnConvolution, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                              \
    X(aclnnConvolutionBackwardGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                        \
      (const aclTensor *gradOutput, const aclTensor *input, const aclTensor *weight,                   \
       const aclIntArray *biasSizes, const aclIntArray *stride, const aclIntArray *padding,            \
       const aclIntArray *dilation, bool transposed, const aclIntArray *outputPadding, int groups,     \
       const aclBoolArray *outputMask, int8_t cubeMathType, aclTensor *gradInput, aclTensor *gradWeight, \
       aclTensor *gradBias, uint64_t *workspaceSize, aclOpExecutor **executor))                        \
    X(aclnnConvolutionBackward, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                      \
    X(aclnnBatchNormGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                  \
      (const aclTensor *input, const aclTensor *weight, const aclTensor *bias, aclTensor *runningMean, \
       aclTensor *runningVar, bool training, double momentum, double eps, aclTensor *output,           \
       aclTensor *saveMean, aclTensor *saveInvstd, uint64_t *workspaceSize, aclOpExecutor **executor)) \
    X(aclnnBatchNorm, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                \
    X(aclnnBatchNormBackwardGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                          \
      (const aclTensor *gradOut, const aclTensor *input, const aclTensor *weight,                      \
       const aclTensor *runningMean, const aclTensor *runningVar, const aclTensor *saveMean,           \
       const aclTensor *saveInvstd, bool training, double eps, const aclBoolArray *outputMask,         \
       aclTensor *gradInput, aclTensor *gradWeight, aclTensor *gradBias, uint64_t *workspaceSize,      \
       aclOpExecutor **executor))                                                                      \
    X(aclnnBatchNormBackward, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                        \
    X(aclnnThresholdBackwardGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                          \
      (const aclTensor *gradOutput, const aclTensor *self, const aclScalar *threshold, aclTensor *out, \
       uint64_t *workspaceSize, aclOpExecutor **executor))                                             \
    X(aclnnThresholdBackward, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                         \
    /* aclnnop/aclnn_max_pool2d_with_indices.h and aclnn_max_pool2d_with_indices_backward.h. */        \
    X(aclnnMaxPool2dWithMaskGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                          \
      (const aclTensor *self, const aclIntArray *kernelSize, const aclIntArray *stride,                \
       const aclIntArray *padding, const aclIntArray *dilation, bool ceilMode, aclTensor *out,         \
       aclTensor *indices, uint64_t *workspaceSize, aclOpExecutor **executor))                         \
    X(aclnnMaxPool2dWithMask, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                        \
    X(aclnnMaxPool2dWithMaskBackwardGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                  \
      (const aclTensor *gradOutput, const aclTensor *self, const aclTensor *indices,                   \
       const aclIntArray *kernelSize, const aclIntArray *stride, const aclIntArray *padding,           \
       const aclIntArray *dilation, bool ceilMode, aclTensor *gradInput, uint64_t *workspaceSize,      \
       aclOpExecutor **executor))                                                                      \
    X(aclnnMaxPool2dWithMaskBackward, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                \
    /* aclnnop/aclnn_mean.h, aclnn_reduce_sum.h, aclnn_mm.h. */                                        \
    X(aclnnMeanGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                       \
      (const aclTensor *self, const aclIntArray *dim, bool keepDim, aclDataType dtype, aclTensor *out, \
       uint64_t *workspaceSize, aclOpExecutor **executor))                                             \
    X(aclnnMean, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                     \
    X(aclnnReduceSumGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                  \
      (const aclTensor *self, const aclIntArray *dims, bool keepDims, aclDataType dtype, aclTensor *out, \
       uint64_t *workspaceSize, aclOpExecutor **executor))                                             \
    X(aclnnReduceSum, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                \
    X(aclnnMmGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                         \
      (const aclTensor *self, const aclTensor *mat2, aclTensor *out, int8_t cubeMathType,              \
       uint64_t *workspaceSize, aclOpExecutor **executor))                                             \
    X(aclnnMm, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                       \
    /* aclnnop/aclnn_logsoftmax.h, aclnn_logsoftmax_backward.h. */                                     \
    X(aclnnLogSoftmaxGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                 \
      (const aclTensor *self, int64_t dim, aclTensor *out, uint64_t *workspaceSize,                    \
       aclOpExecutor **executor))                                                                      \
    X(aclnnLogSoftmax, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                               \
    X(aclnnLogSoftmaxBackwardGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                         \
      (const aclTensor *gradOutput, const aclTensor *output, int64_t dim, aclTensor *out,              \
       uint64_t *workspaceSize, aclOpExecutor **executor))                                             \
    X(aclnnLogSoftmaxBackward, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                       \
    /* aclnnop/aclnn_nll_loss.h, aclnn_nll_loss_backward.h. */                                         \
    X(aclnnNLLLossGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                    \
      (const aclTensor *self, const aclTensor *target, const aclTensor *weight, int64_t reduction,     \
       int64_t ignoreIndex, aclTensor *out, aclTensor *totalWeightOut, uint64_t *workspaceSize,        \
       aclOpExecutor **executor))                                                                      \
    X(aclnnNLLLoss, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                  \
    X(aclnnNLLLossBackwardGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                            \
      (const aclTensor *gradOutput, const aclTensor *self, const aclTensor *target,                    \
       const aclTensor *weight, int64_t reduction, int64_t ignoreIndex, const aclTensor *totalWeight,  \
       aclTensor *out, uint64_t *workspaceSize, aclOpExecutor **executor))                             \
    X(aclnnNLLLossBackward, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                          \
    /* aclnnop/aclnn_add.h (selfRef is const there), aclnn_mul.h. */                                   \
    X(aclnnInplaceAddGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                 \
      (const aclTensor *selfRef, const aclTensor *other, const aclScalar *alpha,                       \
       uint64_t *workspaceSize, aclOpExecutor **executor))                                             \
    X(aclnnInplaceAdd, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                               \
    X(aclnnInplaceAddsGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                \
      (const aclTensor *selfRef, const aclScalar *other, const aclScalar *alpha,                       \
       uint64_t *workspaceSize, aclOpExecutor **executor))                                             \
    X(aclnnInplaceAdds, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                              \
    X(aclnnInplaceMulsGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                \
      (aclTensor *selfRef, const aclScalar *other, uint64_t *workspaceSize, aclOpExecutor **executor)) \
    X(aclnnInplaceMuls, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                              \
    X(aclnnMulGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                        \
      (const aclTensor *self, const aclTensor *other, aclTensor *out, uint64_t *workspaceSize,         \
       aclOpExecutor **executor))                                                                      \
    X(aclnnMul, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                      \
    /* aclnnop/aclnn_fill_scalar.h, aclnn_eq_scalar.h, aclnn_copy.h. */                                \
    X(aclnnInplaceFillScalarGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                          \
      (aclTensor *selfRef, const aclScalar *value, uint64_t *workspaceSize, aclOpExecutor **executor)) \
    X(aclnnInplaceFillScalar, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                        \
    X(aclnnEqScalarGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                   \
      (const aclTensor *self, const aclScalar *other, aclTensor *out, uint64_t *workspaceSize,         \
       aclOpExecutor **executor))                                                                      \
    X(aclnnEqScalar, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                                 \
    X(aclnnInplaceCopyGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                                \
      (aclTensor *selfRef, const aclTensor *src, uint64_t *workspaceSize, aclOpExecutor **executor))   \
    X(aclnnInplaceCopy, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                              \
    /* aclnnop/aclnn_rsqrt.h, aclnn_reciprocal.h. */                                                   \
    X(aclnnInplaceRsqrtGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                               \
      (aclTensor *selfRef, uint64_t *workspaceSize, aclOpExecutor **executor))                         \
    X(aclnnInplaceRsqrt, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                             \
    X(aclnnInplaceReciprocalGetWorkspaceSize, RX_LIB_OPAPI, REQ, aclnnStatus,                          \
      (const aclTensor *selfRef, uint64_t *workspaceSize, aclOpExecutor **executor))                   \
    X(aclnnInplaceReciprocal, RX_LIB_OPAPI, REQ, aclnnStatus, RX_LAUNCH_PARAMS)                        \
    /* HCCL: libhccl.so (hccl/hccl.h), an optional library; REQ here means required of a libhccl.so. */ \
    X(HcclGetRootInfo, RX_LIB_HCCL, REQ, HcclResult, (HcclRootInfo *rootInfo))                         \
    X(HcclCommInitRootInfo, RX_LIB_HCCL, REQ, HcclResult,                                              \
      (uint32_t nRanks, const HcclRootInfo *rootInfo, uint32_t rank, HcclComm *comm))                  \
    X(HcclCommInitClusterInfo, RX_LIB_HCCL, REQ, HcclResult,                                           \
      (const char *clusterInfo, uint32_t rank, HcclComm *comm))                                        \
    X(HcclAllReduce, RX_LIB_HCCL, REQ, HcclResult,                                                     \
      (void *sendBuf, void *recvBuf, uint64_t count, HcclDataType dataType, HcclReduceOp op,           \
       HcclComm comm, aclrtStream stream))                                                             \
    X(HcclBroadcast, RX_LIB_HCCL, REQ, HcclResult,                                                     \
      (void *buf, uint64_t count, HcclDataType dataType, uint32_t root, HcclComm comm,                 \
       aclrtStream stream))                                                                            \
    X(HcclBarrier, RX_LIB_HCCL, REQ, HcclResult, (HcclComm comm, aclrtStream stream))                  \
    X(HcclCommDestroy, RX_LIB_HCCL, REQ, HcclResult, (HcclComm comm))                                  \
    X(HcclGetRankSize, RX_LIB_HCCL, REQ, HcclResult, (HcclComm comm, uint32_t *rankSize))              \
    X(HcclGetRankId, RX_LIB_HCCL, REQ, HcclResult, (HcclComm comm, uint32_t *rank))                    \
    /* Absent from older HCCL, probed. */                                                              \
    X(HcclGetErrorString, RX_LIB_HCCL, OPT, const char *, (HcclResult code))

/* The second phase of every aclnn op has this parameter list. */
#define RX_LAUNCH_PARAMS \
    (void *workspace, uint64_t workspaceSize, aclOpExecutor *executor, aclrtStream stream)

/* END RX_SYMBOLS */

#endif
