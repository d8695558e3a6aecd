/*
 * shim.h: hand-written prototypes of the CANN functions package acl binds, and the C wrappers the Go
 * side calls.
 *
 * The aclnn headers are C++ only, so the prototypes are written here by hand (the functions are
 * extern "C"). Every bound symbol is one line of RX_SYMBOLS: its name, the library it lives in,
 * whether it is optional, its return type and its parameters. From that one list come the symbol
 * table the loader fills with dlsym, a function-pointer typedef per symbol, (under the ascend_headers
 * build tag, in header_check.cc) a static_assert per symbol comparing the typedef with the
 * declaration in the real CANN headers, and, through its mirror testruntime/csrc/cann_symbols.h, the
 * declarations the test runtime's stand-ins are compiled against.
 *
 * In C (the cgo build) the CANN typedefs below stand in for the real headers: the enums are int
 * (same size and calling convention as the real enums on every supported ABI) and the aclnn objects
 * are incomplete structs. With RX_REAL_HEADERS defined (C++ only) the real headers are used instead.
 */
#ifndef RESNEXT_ACL_SHIM_H
#define RESNEXT_ACL_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef RX_REAL_HEADERS
#include <acl/acl.h>
#include <aclnn/acl_meta.h>
#include <aclnnop/aclnn_add.h>
#include <aclnnop/aclnn_mul.h>
#include <aclnnop/aclnn_relu.h>
#include <aclnnop/aclnn_cast.h>
#include <aclnnop/aclnn_convolution.h>
#include <aclnnop/aclnn_convolution_backward.h>
#include <aclnnop/aclnn_batch_norm.h>
#include <aclnnop/aclnn_batch_norm_backward.h>
#include <aclnnop/aclnn_threshold_backward.h>
#include <aclnnop/aclnn_max_pool2d_with_indices.h>
#include <aclnnop/aclnn_max_pool2d_with_indices_backward.h>
#include <aclnnop/aclnn_mean.h>
#include <aclnnop/aclnn_reduce_sum.h>
#include <aclnnop/aclnn_mm.h>
#include <aclnnop/aclnn_logsoftmax.h>
#include <aclnnop/aclnn_logsoftmax_backward.h>
#include <aclnnop/aclnn_nll_loss.h>
#include <aclnnop/aclnn_nll_loss_backward.h>
#include <aclnnop/aclnn_fill_scalar.h>
#include <aclnnop/aclnn_eq_scalar.h>
#include <aclnnop/aclnn_copy.h>
#include <hccl/hccl.h>
#include <hccl/hccl_types.h>
#ifdef RESNEXT_ACL_SKIP_OPTIONAL
/* Headers without the optional symbols (CANN before 8.1) lack graph capture's types as well. */
typedef void *aclmdlRI;
typedef int aclmdlRICaptureMode;
#endif
#else
#include <stdbool.h>
typedef int aclError;
typedef int32_t aclnnStatus;
typedef void *aclrtStream;
typedef void *aclrtEvent;
typedef void *aclrtContext;
typedef int aclDataType;
typedef int aclFormat;
typedef int aclrtMemcpyKind;
typedef int aclrtMemMallocPolicy;
typedef int aclrtMemAttr;
typedef struct aclTensor aclTensor;
typedef struct aclScalar aclScalar;
typedef struct aclIntArray aclIntArray;
typedef struct aclBoolArray aclBoolArray;
typedef struct aclOpExecutor aclOpExecutor;
typedef void *aclmdlRI;
typedef int aclmdlRICaptureMode;
/* HCCL (hccl/hccl_types.h): the enums as int, the root info as its 4108 bytes. */
typedef int HcclResult;
typedef void *HcclComm;
typedef int HcclDataType;
typedef int HcclReduceOp;
typedef struct HcclRootInfoDef {
    char internal[4108];
} HcclRootInfo;
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Libraries, in load order. The op symbols are looked up in libopapi.so, or in the split packages.
 * libhccl.so is optional: without it (or with one that lacks a symbol) the rest loads and the HCCL
 * wrappers report why HCCL is unavailable. */
enum { RX_LIB_ACL = 0, RX_LIB_NNOPBASE = 1, RX_LIB_OPAPI = 2, RX_LIB_HCCL = 3, RX_NLIB = 4 };

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

typedef aclnnStatus(*rx_launch_t) RX_LAUNCH_PARAMS;

#define RX_ENUM_ENTRY(name, lib, opt, ret, params) RX_SYM_##name,
enum { RX_SYMBOLS(RX_ENUM_ENTRY) RX_NSYM };
#undef RX_ENUM_ENTRY

#define RX_TYPEDEF_ENTRY(name, lib, opt, ret, params) typedef ret(*rx_##name##_t) params;
RX_SYMBOLS(RX_TYPEDEF_ENTRY)
#undef RX_TYPEDEF_ENTRY

/* rx_lib: the symbols of one loaded CANN installation (NULL where an optional one is missing). */
typedef struct rx_lib {
    void *sym[RX_NSYM];
} rx_lib;

/* rx_ret: what every wrapper returns. rc is the aclError or aclnnStatus (0 on success); stage says
 * which call of the wrapper failed (RX_STAGE_*); msg is a malloc'd copy of aclGetRecentErrMsg taken
 * on the failing thread right after the failure (NULL on success or when there was none), to be
 * freed by the caller; p, v and v2 carry the results. */
typedef struct rx_ret {
    int32_t rc;
    int32_t stage;
    char *msg;
    void *p;
    uint64_t v;
    uint64_t v2;
} rx_ret;

enum {
    RX_STAGE_CALL = 0,   /* the wrapped call itself */
    RX_STAGE_CTX = 1,    /* aclrtSetCurrentContext before it */
    RX_STAGE_SECOND = 2, /* the second call of a two-call wrapper */
    RX_STAGE_NULL = 3    /* a create function returned NULL */
};

/* Symbol table metadata. */
const char *rx_sym_name(int i);
int rx_sym_lib(int i);
int rx_sym_optional(int i);

/* dlopen/dlsym that copy dlerror's text (thread-local) into err in the same call. */
void *rx_dlopen(const char *path, char *err, size_t errlen);
void *rx_dlsym(void *handle, const char *name, char *err, size_t errlen);

/* Runtime, no context needed. */
rx_ret rx_init(const rx_lib *L, const char *configPath);
rx_ret rx_finalize(const rx_lib *L);
char *rx_recent_err_msg(const rx_lib *L);
rx_ret rx_device_count(const rx_lib *L);
rx_ret rx_set_device(const rx_lib *L, int32_t dev);
rx_ret rx_reset_device(const rx_lib *L, int32_t dev);
rx_ret rx_get_device(const rx_lib *L);
rx_ret rx_create_context(const rx_lib *L, int32_t dev);
rx_ret rx_destroy_context(const rx_lib *L, aclrtContext ctx);
rx_ret rx_set_current_context(const rx_lib *L, aclrtContext ctx, uint64_t id);
rx_ret rx_open_device(const rx_lib *L, int32_t dev);
rx_ret rx_close_device(const rx_lib *L, aclrtContext ctx, int32_t dev);

/* Runtime calls bound to a context: the context (id is its process-unique number) is made current
 * on the calling OS thread first, in the same C call, unless this thread already has it. */
rx_ret rx_synchronize_device(const rx_lib *L, aclrtContext ctx, uint64_t id);
rx_ret rx_create_stream(const rx_lib *L, aclrtContext ctx, uint64_t id);
rx_ret rx_destroy_stream(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s);
rx_ret rx_synchronize_stream(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s);
rx_ret rx_create_event(const rx_lib *L, aclrtContext ctx, uint64_t id);
rx_ret rx_record_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtEvent e, aclrtStream s);
rx_ret rx_synchronize_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtEvent e);
rx_ret rx_destroy_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtEvent e);
rx_ret rx_malloc(const rx_lib *L, aclrtContext ctx, uint64_t id, size_t size, int32_t policy);
rx_ret rx_free(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t p);
rx_ret rx_malloc_host(const rx_lib *L, aclrtContext ctx, uint64_t id, size_t size);
rx_ret rx_free_host(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t p);
rx_ret rx_memcpy(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t dst, size_t destMax,
                 uintptr_t src, size_t count, int32_t kind);
rx_ret rx_memcpy_async(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t dst, size_t destMax,
                       uintptr_t src, size_t count, int32_t kind, aclrtStream s);
rx_ret rx_copy_to_device(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t dst, const void *src,
                         size_t count);
rx_ret rx_copy_to_host(const rx_lib *L, aclrtContext ctx, uint64_t id, void *dst, uintptr_t src, size_t count);
rx_ret rx_memset(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t p, size_t maxCount,
                 int32_t value, size_t count);
rx_ret rx_memset_async(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t p, size_t maxCount,
                       int32_t value, size_t count, aclrtStream s);
rx_ret rx_get_mem_info(const rx_lib *L, aclrtContext ctx, uint64_t id, int32_t attr);

/* aclnn objects (no context needed). */
rx_ret rx_create_tensor(const rx_lib *L, const int64_t *viewDims, uint64_t viewDimsNum, int32_t dtype,
                        const int64_t *stride, int64_t offset, int32_t format, const int64_t *storageDims,
                        uint64_t storageDimsNum, uintptr_t data);
rx_ret rx_destroy_tensor(const rx_lib *L, aclTensor *t);
rx_ret rx_create_scalar(const rx_lib *L, void *value, int32_t dtype);
rx_ret rx_destroy_scalar(const rx_lib *L, aclScalar *s);
rx_ret rx_create_int_array(const rx_lib *L, const int64_t *value, uint64_t size);
rx_ret rx_destroy_int_array(const rx_lib *L, aclIntArray *a);
rx_ret rx_create_bool_array(const rx_lib *L, const bool *value, uint64_t size);
rx_ret rx_destroy_bool_array(const rx_lib *L, aclBoolArray *a);
rx_ret rx_destroy_executor(const rx_lib *L, aclOpExecutor *e);
rx_ret rx_set_executor_repeatable(const rx_lib *L, aclOpExecutor *e);
rx_ret rx_set_input_tensor_addr(const rx_lib *L, aclOpExecutor *e, size_t index, aclTensor *t, uintptr_t addr);
rx_ret rx_set_output_tensor_addr(const rx_lib *L, aclOpExecutor *e, size_t index, aclTensor *t, uintptr_t addr);
rx_ret rx_set_raw_tensor_addr(const rx_lib *L, aclTensor *t, uintptr_t addr);

/* The second phase of any op: sym is the RX_SYM_ index of its launch symbol. */
rx_ret rx_launch(const rx_lib *L, aclrtContext ctx, uint64_t id, int sym, uintptr_t workspace,
                 uint64_t workspaceSize, aclOpExecutor *e, aclrtStream s);

/* Phase one of each op: v is the workspace size, p the executor. One line per op in shim.c. */
rx_ret rx_ws_aclnnAdd(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self,
                      const aclTensor *other, const aclScalar *alpha, aclTensor *out);
rx_ret rx_ws_aclnnMuls(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self,
                       const aclScalar *other, aclTensor *out);
rx_ret rx_ws_aclnnRelu(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self, aclTensor *out);
rx_ret rx_ws_aclnnCast(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self,
                       int32_t dtype, aclTensor *out);
rx_ret rx_ws_aclnnConvolution(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *input,
                              const aclTensor *weight, const aclTensor *bias, const aclIntArray *stride,
                              const aclIntArray *padding, const aclIntArray *dilation, bool transposed,
                              const aclIntArray *outputPadding, int64_t groups, aclTensor *output,
                              int8_t cubeMathType);
rx_ret rx_ws_aclnnConvolutionBackward(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *gradOutput,
                                      const aclTensor *input, const aclTensor *weight, const aclIntArray *biasSizes,
                                      const aclIntArray *stride, const aclIntArray *padding,
                                      const aclIntArray *dilation, bool transposed,
                                      const aclIntArray *outputPadding, int groups, const aclBoolArray *outputMask,
                                      int8_t cubeMathType, aclTensor *gradInput, aclTensor *gradWeight,
                                      aclTensor *gradBias);
rx_ret rx_ws_aclnnBatchNorm(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *input,
                            const aclTensor *weight, const aclTensor *bias, aclTensor *runningMean,
                            aclTensor *runningVar, bool training, double momentum, double eps, aclTensor *output,
                            aclTensor *saveMean, aclTensor *saveInvstd);
rx_ret rx_ws_aclnnBatchNormBackward(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *gradOut,
                                    const aclTensor *input, const aclTensor *weight, const aclTensor *runningMean,
                                    const aclTensor *runningVar, const aclTensor *saveMean,
                                    const aclTensor *saveInvstd, bool training, double eps,
                                    const aclBoolArray *outputMask, aclTensor *gradInput, aclTensor *gradWeight,
                                    aclTensor *gradBias);
rx_ret rx_ws_aclnnThresholdBackward(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *gradOutput,
                                    const aclTensor *self, const aclScalar *threshold, aclTensor *out);
rx_ret rx_ws_aclnnMaxPool2dWithMask(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self,
                                    const aclIntArray *kernelSize, const aclIntArray *stride,
                                    const aclIntArray *padding, const aclIntArray *dilation, bool ceilMode,
                                    aclTensor *out, aclTensor *indices);
rx_ret rx_ws_aclnnMaxPool2dWithMaskBackward(const rx_lib *L, aclrtContext ctx, uint64_t id,
                                            const aclTensor *gradOutput, const aclTensor *self,
                                            const aclTensor *indices, const aclIntArray *kernelSize,
                                            const aclIntArray *stride, const aclIntArray *padding,
                                            const aclIntArray *dilation, bool ceilMode, aclTensor *gradInput);
rx_ret rx_ws_aclnnMean(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self, const aclIntArray *dim,
                       bool keepDim, int32_t dtype, aclTensor *out);
rx_ret rx_ws_aclnnReduceSum(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self,
                            const aclIntArray *dims, bool keepDims, int32_t dtype, aclTensor *out);
rx_ret rx_ws_aclnnMm(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self, const aclTensor *mat2,
                     aclTensor *out, int8_t cubeMathType);
rx_ret rx_ws_aclnnLogSoftmax(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self, int64_t dim,
                             aclTensor *out);
rx_ret rx_ws_aclnnLogSoftmaxBackward(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *gradOutput,
                                     const aclTensor *output, int64_t dim, aclTensor *out);
rx_ret rx_ws_aclnnNLLLoss(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self,
                          const aclTensor *target, const aclTensor *weight, int64_t reduction, int64_t ignoreIndex,
                          aclTensor *out, aclTensor *totalWeightOut);
rx_ret rx_ws_aclnnNLLLossBackward(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *gradOutput,
                                  const aclTensor *self, const aclTensor *target, const aclTensor *weight,
                                  int64_t reduction, int64_t ignoreIndex, const aclTensor *totalWeight,
                                  aclTensor *out);
rx_ret rx_ws_aclnnInplaceAdd(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *selfRef,
                             const aclTensor *other, const aclScalar *alpha);
rx_ret rx_ws_aclnnInplaceAdds(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *selfRef,
                              const aclScalar *other, const aclScalar *alpha);
rx_ret rx_ws_aclnnInplaceMuls(const rx_lib *L, aclrtContext ctx, uint64_t id, aclTensor *selfRef,
                              const aclScalar *other);
rx_ret rx_ws_aclnnMul(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self, const aclTensor *other,
                      aclTensor *out);
rx_ret rx_ws_aclnnInplaceFillScalar(const rx_lib *L, aclrtContext ctx, uint64_t id, aclTensor *selfRef,
                                    const aclScalar *value);
rx_ret rx_ws_aclnnEqScalar(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *self,
                           const aclScalar *other, aclTensor *out);
rx_ret rx_ws_aclnnInplaceCopy(const rx_lib *L, aclrtContext ctx, uint64_t id, aclTensor *selfRef,
                              const aclTensor *src);
rx_ret rx_ws_aclnnInplaceRsqrt(const rx_lib *L, aclrtContext ctx, uint64_t id, aclTensor *selfRef);
rx_ret rx_ws_aclnnInplaceReciprocal(const rx_lib *L, aclrtContext ctx, uint64_t id, const aclTensor *selfRef);
/* rx_bind: one operand of a repeatable executor to rebind: the tensor it was built with, its new
 * address, and its input and output index (-1 when it is not one). */
typedef struct rx_bind {
    aclTensor *t;
    uintptr_t addr;
    int32_t in, out;
} rx_bind;
/* Rebinds n operands of e (aclSetInputTensorAddr, aclSetOutputTensorAddr), then launches e as
 * rx_launch does: one call from Go per kernel. A failed rebinding returns stage RX_STAGE_CALL with v
 * the index of the operand and v2 1 for its output side (0 for its input side); a failed launch
 * returns stage RX_STAGE_SECOND. */
rx_ret rx_rebind_launch(const rx_lib *L, aclrtContext ctx, uint64_t id, int sym, uintptr_t workspace,
                        uint64_t workspaceSize, aclOpExecutor *e, aclrtStream s, const rx_bind *b, size_t n);
/* The chip's name, or NULL when aclrtGetSocName is absent or returns NULL; a malloc'd copy. */
char *rx_soc_name(const rx_lib *L);

/* Graph capture, with the context made current first as for the other stream calls. The symbols
 * are optional: the caller checks that the one a wrapper calls is present. rx_capture_end returns
 * the graph in p. */
rx_ret rx_capture_begin(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s, int32_t mode);
rx_ret rx_capture_end(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s);
rx_ret rx_graph_launch(const rx_lib *L, aclrtContext ctx, uint64_t id, aclmdlRI g, aclrtStream s);
rx_ret rx_graph_destroy(const rx_lib *L, aclrtContext ctx, uint64_t id, aclmdlRI g);

/* Cross-stream ordering: s waits (device-side) for e's last record; e is reset on s afterwards. */
rx_ret rx_stream_wait_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s, aclrtEvent e);
rx_ret rx_reset_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtEvent e, aclrtStream s);

/* HCCL, with the device's context made current first (a communicator belongs to the current
 * device). The caller checks that libhccl.so loaded. rc is the HcclResult (or, at RX_STAGE_CTX, the
 * aclError of aclrtSetCurrentContext); msg is aclGetRecentErrMsg's text, where CANN reports HCCL's
 * errors too. The init wrappers return the communicator in p, its size in v and its rank in v2
 * (RX_STAGE_SECOND when HcclGetRankSize or HcclGetRankId failed). */
rx_ret rx_hccl_get_root_info(const rx_lib *L, aclrtContext ctx, uint64_t id, HcclRootInfo *rootInfo);
rx_ret rx_hccl_init_root_info(const rx_lib *L, aclrtContext ctx, uint64_t id, uint32_t nRanks,
                              const HcclRootInfo *rootInfo, uint32_t rank);
rx_ret rx_hccl_init_cluster_info(const rx_lib *L, aclrtContext ctx, uint64_t id, const char *clusterInfo,
                                 uint32_t rank);
rx_ret rx_hccl_all_reduce(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t sendBuf, uintptr_t recvBuf,
                          uint64_t count, int32_t dataType, int32_t op, HcclComm comm, aclrtStream s);
rx_ret rx_hccl_broadcast(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t buf, uint64_t count,
                         int32_t dataType, uint32_t root, HcclComm comm, aclrtStream s);
rx_ret rx_hccl_barrier(const rx_lib *L, aclrtContext ctx, uint64_t id, HcclComm comm, aclrtStream s);
rx_ret rx_hccl_comm_destroy(const rx_lib *L, aclrtContext ctx, uint64_t id, HcclComm comm);
/* HcclGetErrorString's text for code (a malloc'd copy), or NULL when the symbol is absent. */
char *rx_hccl_error_string(const rx_lib *L, int32_t code);

#ifdef __cplusplus
}
#endif

#endif /* RESNEXT_ACL_SHIM_H */
