//go:build cgo

/*
 * shim.c: the C side of package acl. Each wrapper calls one CANN function through the symbol table
 * of a loaded library set, and on failure copies aclGetRecentErrMsg in the same C call (the message
 * is per OS thread, and a goroutine may change threads between two cgo calls).
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define RX_FN(L, name) ((rx_##name##_t)(L)->sym[RX_SYM_##name])

#define RX_NAME_ENTRY(name, lib, opt, ret, params) #name,
static const char *const rx_names[RX_NSYM] = {RX_SYMBOLS(RX_NAME_ENTRY)};
#undef RX_NAME_ENTRY

#define RX_LIB_ENTRY(name, lib, opt, ret, params) lib,
static const int rx_libs[RX_NSYM] = {RX_SYMBOLS(RX_LIB_ENTRY)};
#undef RX_LIB_ENTRY

#define REQ 0
#define OPT 1
#define RX_OPT_ENTRY(name, lib, opt, ret, params) opt,
static const int rx_opts[RX_NSYM] = {RX_SYMBOLS(RX_OPT_ENTRY)};
#undef RX_OPT_ENTRY
#undef REQ
#undef OPT

const char *rx_sym_name(int i) { return rx_names[i]; }
int rx_sym_lib(int i) { return rx_libs[i]; }
int rx_sym_optional(int i) { return rx_opts[i]; }

static void rx_copy_err(char *err, size_t errlen) {
    const char *e = dlerror();
    if (errlen == 0) {
        return;
    }
    err[0] = 0;
    if (e != NULL) {
        strncpy(err, e, errlen - 1);
        err[errlen - 1] = 0;
    }
}

void *rx_dlopen(const char *path, char *err, size_t errlen) {
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL) {
        rx_copy_err(err, errlen);
    }
    return h;
}

void *rx_dlsym(void *handle, const char *name, char *err, size_t errlen) {
    dlerror();
    void *p = dlsym(handle, name);
    if (p == NULL) {
        rx_copy_err(err, errlen);
    }
    return p;
}

/* The context this package last made current on this OS thread, by process-unique id (0: unknown).
 * Ids are never reused, so a destroyed context can never be mistaken for a new one. */
static __thread uint64_t rx_tls_ctx;

static rx_ret rx_ok(void) {
    rx_ret r;
    memset(&r, 0, sizeof r);
    return r;
}

static rx_ret rx_fail(const rx_lib *L, int32_t rc, int32_t stage) {
    rx_ret r = rx_ok();
    r.rc = rc;
    r.stage = stage;
    if (L->sym[RX_SYM_aclGetRecentErrMsg] != NULL) {
        const char *m = RX_FN(L, aclGetRecentErrMsg)();
        if (m != NULL && m[0] != 0) {
            r.msg = strdup(m);
        }
    }
    return r;
}

static rx_ret rx_result(const rx_lib *L, int32_t rc) {
    return rc == 0 ? rx_ok() : rx_fail(L, rc, RX_STAGE_CALL);
}

static int32_t rx_ensure(const rx_lib *L, aclrtContext ctx, uint64_t id) {
    if (id != 0 && rx_tls_ctx == id) {
        return 0;
    }
    int32_t rc = RX_FN(L, aclrtSetCurrentContext)(ctx);
    rx_tls_ctx = rc == 0 ? id : 0;
    return rc;
}

#define RX_ENSURE(L, ctx, id)                          \
    do {                                               \
        int32_t rc_ = rx_ensure(L, ctx, id);           \
        if (rc_ != 0) {                                \
            return rx_fail(L, rc_, RX_STAGE_CTX);      \
        }                                              \
    } while (0)

rx_ret rx_init(const rx_lib *L, const char *configPath) { return rx_result(L, RX_FN(L, aclInit)(configPath)); }

rx_ret rx_finalize(const rx_lib *L) {
    rx_tls_ctx = 0;
    return rx_result(L, RX_FN(L, aclFinalize)());
}

char *rx_recent_err_msg(const rx_lib *L) {
    const char *m = RX_FN(L, aclGetRecentErrMsg)();
    return m == NULL ? NULL : strdup(m);
}

char *rx_soc_name(const rx_lib *L) {
    if (L->sym[RX_SYM_aclrtGetSocName] == NULL) return NULL;
    const char *m = RX_FN(L, aclrtGetSocName)();
    return m == NULL ? NULL : strdup(m);
}

rx_ret rx_device_count(const rx_lib *L) {
    uint32_t n = 0;
    rx_ret r = rx_result(L, RX_FN(L, aclrtGetDeviceCount)(&n));
    r.v = n;
    return r;
}

rx_ret rx_set_device(const rx_lib *L, int32_t dev) {
    rx_tls_ctx = 0; /* aclrtSetDevice makes the device's default context current */
    return rx_result(L, RX_FN(L, aclrtSetDevice)(dev));
}

rx_ret rx_reset_device(const rx_lib *L, int32_t dev) {
    rx_tls_ctx = 0;
    return rx_result(L, RX_FN(L, aclrtResetDevice)(dev));
}

rx_ret rx_get_device(const rx_lib *L) {
    int32_t dev = -1;
    rx_ret r = rx_result(L, RX_FN(L, aclrtGetDevice)(&dev));
    r.v = (uint64_t)(int64_t)dev;
    return r;
}

rx_ret rx_create_context(const rx_lib *L, int32_t dev) {
    aclrtContext ctx = NULL;
    rx_tls_ctx = 0; /* a new context becomes current on the calling thread */
    rx_ret r = rx_result(L, RX_FN(L, aclrtCreateContext)(&ctx, dev));
    r.p = ctx;
    return r;
}

rx_ret rx_destroy_context(const rx_lib *L, aclrtContext ctx) {
    rx_tls_ctx = 0;
    return rx_result(L, RX_FN(L, aclrtDestroyContext)(ctx));
}

rx_ret rx_set_current_context(const rx_lib *L, aclrtContext ctx, uint64_t id) {
    rx_tls_ctx = 0;
    int32_t rc = RX_FN(L, aclrtSetCurrentContext)(ctx);
    if (rc == 0) {
        rx_tls_ctx = id;
    }
    return rx_result(L, rc);
}

rx_ret rx_open_device(const rx_lib *L, int32_t dev) {
    rx_tls_ctx = 0;
    int32_t rc = RX_FN(L, aclrtSetDevice)(dev);
    if (rc != 0) {
        return rx_fail(L, rc, RX_STAGE_CALL);
    }
    aclrtContext ctx = NULL;
    rc = RX_FN(L, aclrtCreateContext)(&ctx, dev);
    if (rc != 0) {
        rx_ret r = rx_fail(L, rc, RX_STAGE_SECOND);
        RX_FN(L, aclrtResetDevice)(dev);
        return r;
    }
    rx_ret r = rx_ok();
    r.p = ctx;
    return r;
}

rx_ret rx_close_device(const rx_lib *L, aclrtContext ctx, int32_t dev) {
    rx_tls_ctx = 0;
    int32_t rc = RX_FN(L, aclrtDestroyContext)(ctx);
    if (rc != 0) {
        return rx_fail(L, rc, RX_STAGE_CALL);
    }
    rc = RX_FN(L, aclrtResetDevice)(dev);
    return rc == 0 ? rx_ok() : rx_fail(L, rc, RX_STAGE_SECOND);
}

rx_ret rx_synchronize_device(const rx_lib *L, aclrtContext ctx, uint64_t id) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtSynchronizeDevice)());
}

rx_ret rx_create_stream(const rx_lib *L, aclrtContext ctx, uint64_t id) {
    RX_ENSURE(L, ctx, id);
    aclrtStream s = NULL;
    rx_ret r = rx_result(L, RX_FN(L, aclrtCreateStream)(&s));
    r.p = s;
    return r;
}

rx_ret rx_destroy_stream(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtDestroyStream)(s));
}

rx_ret rx_synchronize_stream(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtSynchronizeStream)(s));
}

rx_ret rx_create_event(const rx_lib *L, aclrtContext ctx, uint64_t id) {
    RX_ENSURE(L, ctx, id);
    aclrtEvent e = NULL;
    rx_ret r = rx_result(L, RX_FN(L, aclrtCreateEvent)(&e));
    r.p = e;
    return r;
}

rx_ret rx_record_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtEvent e, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtRecordEvent)(e, s));
}

rx_ret rx_synchronize_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtEvent e) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtSynchronizeEvent)(e));
}

rx_ret rx_destroy_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtEvent e) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtDestroyEvent)(e));
}

rx_ret rx_malloc(const rx_lib *L, aclrtContext ctx, uint64_t id, size_t size, int32_t policy) {
    RX_ENSURE(L, ctx, id);
    void *p = NULL;
    rx_ret r = rx_result(L, RX_FN(L, aclrtMalloc)(&p, size, policy));
    r.v = (uint64_t)(uintptr_t)p;
    return r;
}

rx_ret rx_free(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t p) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtFree)((void *)p));
}

rx_ret rx_malloc_host(const rx_lib *L, aclrtContext ctx, uint64_t id, size_t size) {
    RX_ENSURE(L, ctx, id);
    void *p = NULL;
    rx_ret r = rx_result(L, RX_FN(L, aclrtMallocHost)(&p, size));
    r.v = (uint64_t)(uintptr_t)p;
    return r;
}

rx_ret rx_free_host(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t p) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtFreeHost)((void *)p));
}

rx_ret rx_memcpy(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t dst, size_t destMax,
                 uintptr_t src, size_t count, int32_t kind) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtMemcpy)((void *)dst, destMax, (const void *)src, count, kind));
}

rx_ret rx_memcpy_async(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t dst, size_t destMax,
                       uintptr_t src, size_t count, int32_t kind, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtMemcpyAsync)((void *)dst, destMax, (const void *)src, count, kind, s));
}

rx_ret rx_copy_to_device(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t dst, const void *src,
                         size_t count) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtMemcpy)((void *)dst, count, src, count, 1 /* HOST_TO_DEVICE */));
}

rx_ret rx_copy_to_host(const rx_lib *L, aclrtContext ctx, uint64_t id, void *dst, uintptr_t src, size_t count) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtMemcpy)(dst, count, (const void *)src, count, 2 /* DEVICE_TO_HOST */));
}

rx_ret rx_memset(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t p, size_t maxCount,
                 int32_t value, size_t count) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtMemset)((void *)p, maxCount, value, count));
}

rx_ret rx_memset_async(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t p, size_t maxCount,
                       int32_t value, size_t count, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtMemsetAsync)((void *)p, maxCount, value, count, s));
}

rx_ret rx_get_mem_info(const rx_lib *L, aclrtContext ctx, uint64_t id, int32_t attr) {
    RX_ENSURE(L, ctx, id);
    size_t freeBytes = 0, total = 0;
    rx_ret r = rx_result(L, RX_FN(L, aclrtGetMemInfo)(attr, &freeBytes, &total));
    r.v = freeBytes;
    r.v2 = total;
    return r;
}

static rx_ret rx_created(const rx_lib *L, void *p) {
    if (p == NULL) {
        return rx_fail(L, 0, RX_STAGE_NULL);
    }
    rx_ret r = rx_ok();
    r.p = p;
    return r;
}

rx_ret rx_create_tensor(const rx_lib *L, const int64_t *viewDims, uint64_t viewDimsNum, int32_t dtype,
                        const int64_t *stride, int64_t offset, int32_t format, const int64_t *storageDims,
                        uint64_t storageDimsNum, uintptr_t data) {
    return rx_created(L, RX_FN(L, aclCreateTensor)(viewDims, viewDimsNum, dtype, stride, offset, format,
                                                   storageDims, storageDimsNum, (void *)data));
}

rx_ret rx_destroy_tensor(const rx_lib *L, aclTensor *t) { return rx_result(L, RX_FN(L, aclDestroyTensor)(t)); }

rx_ret rx_create_scalar(const rx_lib *L, void *value, int32_t dtype) {
    return rx_created(L, RX_FN(L, aclCreateScalar)(value, dtype));
}

rx_ret rx_destroy_scalar(const rx_lib *L, aclScalar *s) { return rx_result(L, RX_FN(L, aclDestroyScalar)(s)); }

rx_ret rx_create_int_array(const rx_lib *L, const int64_t *value, uint64_t size) {
    return rx_created(L, RX_FN(L, aclCreateIntArray)(value, size));
}

rx_ret rx_destroy_int_array(const rx_lib *L, aclIntArray *a) {
    return rx_result(L, RX_FN(L, aclDestroyIntArray)(a));
}

rx_ret rx_create_bool_array(const rx_lib *L, const bool *value, uint64_t size) {
    return rx_created(L, RX_FN(L, aclCreateBoolArray)(value, size));
}

rx_ret rx_destroy_bool_array(const rx_lib *L, aclBoolArray *a) {
    return rx_result(L, RX_FN(L, aclDestroyBoolArray)(a));
}

rx_ret rx_destroy_executor(const rx_lib *L, aclOpExecutor *e) {
    return rx_result(L, RX_FN(L, aclDestroyAclOpExecutor)(e));
}

rx_ret rx_set_executor_repeatable(const rx_lib *L, aclOpExecutor *e) {
    return rx_result(L, RX_FN(L, aclSetAclOpExecutorRepeatable)(e));
}

rx_ret rx_set_input_tensor_addr(const rx_lib *L, aclOpExecutor *e, size_t index, aclTensor *t, uintptr_t addr) {
    return rx_result(L, RX_FN(L, aclSetInputTensorAddr)(e, index, t, (void *)addr));
}

rx_ret rx_set_output_tensor_addr(const rx_lib *L, aclOpExecutor *e, size_t index, aclTensor *t, uintptr_t addr) {
    return rx_result(L, RX_FN(L, aclSetOutputTensorAddr)(e, index, t, (void *)addr));
}

rx_ret rx_set_raw_tensor_addr(const rx_lib *L, aclTensor *t, uintptr_t addr) {
    return rx_result(L, RX_FN(L, aclSetRawTensorAddr)(t, (void *)addr));
}

rx_ret rx_launch(const rx_lib *L, aclrtContext ctx, uint64_t id, int sym, uintptr_t workspace,
                 uint64_t workspaceSize, aclOpExecutor *e, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    rx_launch_t fn = (rx_launch_t)L->sym[sym];
    return rx_result(L, fn((void *)workspace, workspaceSize, e, s));
}

rx_ret rx_rebind_launch(const rx_lib *L, aclrtContext ctx, uint64_t id, int sym, uintptr_t workspace,
                        uint64_t workspaceSize, aclOpExecutor *e, aclrtStream s, const rx_bind *b, size_t n) {
    RX_ENSURE(L, ctx, id);
    for (size_t i = 0; i < n; i++) {
        for (int side = 0; side < 2; side++) {
            int32_t index = side ? b[i].out : b[i].in;
            if (index < 0) continue;
            int32_t rc = side ? RX_FN(L, aclSetOutputTensorAddr)(e, (size_t)index, b[i].t, (void *)b[i].addr)
                              : RX_FN(L, aclSetInputTensorAddr)(e, (size_t)index, b[i].t, (void *)b[i].addr);
            if (rc != 0) {
                rx_ret r = rx_fail(L, rc, RX_STAGE_CALL);
                r.v = i;
                r.v2 = (uint64_t)side;
                return r;
            }
        }
    }
    rx_launch_t fn = (rx_launch_t)L->sym[sym];
    int32_t rc = fn((void *)workspace, workspaceSize, e, s);
    return rc == 0 ? rx_ok() : rx_fail(L, rc, RX_STAGE_SECOND);
}

static rx_ret rx_phase_one(const rx_lib *L, int32_t rc, uint64_t workspaceSize, aclOpExecutor *e) {
    rx_ret r = rx_result(L, rc);
    r.v = workspaceSize;
    r.p = e;
    return r;
}

/* RX_WS(op, (parameters), (arguments)) defines rx_ws_<op>: phase one of op, run with the context
 * current. Adding an op is one line here, its two lines in RX_SYMBOLS and its prototype in shim.h. */
#define RX_WS(op, params, ...)                                                                     \
    rx_ret rx_ws_##op(const rx_lib *L, aclrtContext ctx, uint64_t id, RX_UNPAREN params) {         \
        RX_ENSURE(L, ctx, id);                                                                     \
        uint64_t ws_ = 0;                                                                          \
        aclOpExecutor *ex_ = NULL;                                                                 \
        int32_t rc_ = RX_FN(L, op##GetWorkspaceSize)(__VA_ARGS__, &ws_, &ex_);                    \
        return rx_phase_one(L, rc_, ws_, ex_);                                                     \
    }
#define RX_UNPAREN(...) __VA_ARGS__

RX_WS(aclnnAdd, (const aclTensor *self, const aclTensor *other, const aclScalar *alpha, aclTensor *out),
      self, other, alpha, out)
RX_WS(aclnnMuls, (const aclTensor *self, const aclScalar *other, aclTensor *out), self, other, out)
RX_WS(aclnnRelu, (const aclTensor *self, aclTensor *out), self, out)
RX_WS(aclnnCast, (const aclTensor *self, int32_t dtype, aclTensor *out), self, dtype, out)
RX_WS(aclnnConvolution,
      (const aclTensor *input, const aclTensor *weight, const aclTensor *bias, const aclIntArray *stride,
       const aclIntArray *padding, const aclIntArray *dilation, bool transposed, const aclIntArray *outputPadding,
       int64_t groups, aclTensor *output, int8_t cubeMathType),
      input, weight, bias, stride, padding, dilation, transposed, outputPadding, groups, output, cubeMathType)
RX_WS(aclnnConvolutionBackward,
      (const aclTensor *gradOutput, const aclTensor *input, const aclTensor *weight, const aclIntArray *biasSizes,
       const aclIntArray *stride, const aclIntArray *padding, const aclIntArray *dilation, bool transposed,
       const aclIntArray *outputPadding, int groups, const aclBoolArray *outputMask, int8_t cubeMathType,
       aclTensor *gradInput, aclTensor *gradWeight, aclTensor *gradBias),
      gradOutput, input, weight, biasSizes, stride, padding, dilation, transposed, outputPadding, groups, outputMask,
      cubeMathType, gradInput, gradWeight, gradBias)
RX_WS(aclnnBatchNorm,
      (const aclTensor *input, const aclTensor *weight, const aclTensor *bias, aclTensor *runningMean,
       aclTensor *runningVar, bool training, double momentum, double eps, aclTensor *output, aclTensor *saveMean,
       aclTensor *saveInvstd),
      input, weight, bias, runningMean, runningVar, training, momentum, eps, output, saveMean, saveInvstd)
RX_WS(aclnnBatchNormBackward,
      (const aclTensor *gradOut, const aclTensor *input, const aclTensor *weight, const aclTensor *runningMean,
       const aclTensor *runningVar, const aclTensor *saveMean, const aclTensor *saveInvstd, bool training,
       double eps, const aclBoolArray *outputMask, aclTensor *gradInput, aclTensor *gradWeight,
       aclTensor *gradBias),
      gradOut, input, weight, runningMean, runningVar, saveMean, saveInvstd, training, eps, outputMask, gradInput,
      gradWeight, gradBias)
RX_WS(aclnnThresholdBackward,
      (const aclTensor *gradOutput, const aclTensor *self, const aclScalar *threshold, aclTensor *out), gradOutput,
      self, threshold, out)
RX_WS(aclnnMaxPool2dWithMask,
      (const aclTensor *self, const aclIntArray *kernelSize, const aclIntArray *stride, const aclIntArray *padding,
       const aclIntArray *dilation, bool ceilMode, aclTensor *out, aclTensor *indices),
      self, kernelSize, stride, padding, dilation, ceilMode, out, indices)
RX_WS(aclnnMaxPool2dWithMaskBackward,
      (const aclTensor *gradOutput, const aclTensor *self, const aclTensor *indices, const aclIntArray *kernelSize,
       const aclIntArray *stride, const aclIntArray *padding, const aclIntArray *dilation, bool ceilMode,
       aclTensor *gradInput),
      gradOutput, self, indices, kernelSize, stride, padding, dilation, ceilMode, gradInput)
RX_WS(aclnnMean, (const aclTensor *self, const aclIntArray *dim, bool keepDim, int32_t dtype, aclTensor *out), self,
      dim, keepDim, dtype, out)
RX_WS(aclnnReduceSum, (const aclTensor *self, const aclIntArray *dims, bool keepDims, int32_t dtype, aclTensor *out),
      self, dims, keepDims, dtype, out)
RX_WS(aclnnMm, (const aclTensor *self, const aclTensor *mat2, aclTensor *out, int8_t cubeMathType), self, mat2, out,
      cubeMathType)
RX_WS(aclnnLogSoftmax, (const aclTensor *self, int64_t dim, aclTensor *out), self, dim, out)
RX_WS(aclnnLogSoftmaxBackward, (const aclTensor *gradOutput, const aclTensor *output, int64_t dim, aclTensor *out),
      gradOutput, output, dim, out)
RX_WS(aclnnNLLLoss,
      (const aclTensor *self, const aclTensor *target, const aclTensor *weight, int64_t reduction,
       int64_t ignoreIndex, aclTensor *out, aclTensor *totalWeightOut),
      self, target, weight, reduction, ignoreIndex, out, totalWeightOut)
RX_WS(aclnnNLLLossBackward,
      (const aclTensor *gradOutput, const aclTensor *self, const aclTensor *target, const aclTensor *weight,
       int64_t reduction, int64_t ignoreIndex, const aclTensor *totalWeight, aclTensor *out),
      gradOutput, self, target, weight, reduction, ignoreIndex, totalWeight, out)
RX_WS(aclnnInplaceAdd, (const aclTensor *selfRef, const aclTensor *other, const aclScalar *alpha), selfRef, other,
      alpha)
RX_WS(aclnnInplaceAdds, (const aclTensor *selfRef, const aclScalar *other, const aclScalar *alpha), selfRef, other,
      alpha)
RX_WS(aclnnInplaceMuls, (aclTensor *selfRef, const aclScalar *other), selfRef, other)
RX_WS(aclnnMul, (const aclTensor *self, const aclTensor *other, aclTensor *out), self, other, out)
RX_WS(aclnnInplaceFillScalar, (aclTensor *selfRef, const aclScalar *value), selfRef, value)
RX_WS(aclnnEqScalar, (const aclTensor *self, const aclScalar *other, aclTensor *out), self, other, out)
RX_WS(aclnnInplaceCopy, (aclTensor *selfRef, const aclTensor *src), selfRef, src)
RX_WS(aclnnInplaceRsqrt, (aclTensor *selfRef), selfRef)
RX_WS(aclnnInplaceReciprocal, (const aclTensor *selfRef), selfRef)

rx_ret rx_capture_begin(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s, int32_t mode) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclmdlRICaptureBegin)(s, mode));
}

rx_ret rx_capture_end(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    aclmdlRI g = NULL;
    rx_ret r = rx_result(L, RX_FN(L, aclmdlRICaptureEnd)(s, &g));
    r.p = g;
    return r;
}

rx_ret rx_graph_launch(const rx_lib *L, aclrtContext ctx, uint64_t id, aclmdlRI g, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclmdlRIExecuteAsync)(g, s));
}

rx_ret rx_graph_destroy(const rx_lib *L, aclrtContext ctx, uint64_t id, aclmdlRI g) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclmdlRIDestroy)(g));
}

rx_ret rx_stream_wait_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtStream s, aclrtEvent e) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtStreamWaitEvent)(s, e));
}

rx_ret rx_reset_event(const rx_lib *L, aclrtContext ctx, uint64_t id, aclrtEvent e, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, aclrtResetEvent)(e, s));
}

/* ---- HCCL ---- */

rx_ret rx_hccl_get_root_info(const rx_lib *L, aclrtContext ctx, uint64_t id, HcclRootInfo *rootInfo) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, HcclGetRootInfo)(rootInfo));
}

/* The size and rank of a new communicator c in r (r.p = c); a failure leaves c to the caller. */
static rx_ret rx_hccl_describe(const rx_lib *L, HcclComm c) {
    uint32_t size = 0, rank = 0;
    int32_t rc = RX_FN(L, HcclGetRankSize)(c, &size);
    if (rc == 0) rc = RX_FN(L, HcclGetRankId)(c, &rank);
    rx_ret r = rc == 0 ? rx_ok() : rx_fail(L, rc, RX_STAGE_SECOND);
    r.p = c;
    r.v = size;
    r.v2 = rank;
    return r;
}

rx_ret rx_hccl_init_root_info(const rx_lib *L, aclrtContext ctx, uint64_t id, uint32_t nRanks,
                              const HcclRootInfo *rootInfo, uint32_t rank) {
    RX_ENSURE(L, ctx, id);
    HcclComm c = NULL;
    int32_t rc = RX_FN(L, HcclCommInitRootInfo)(nRanks, rootInfo, rank, &c);
    if (rc != 0) return rx_fail(L, rc, RX_STAGE_CALL);
    return rx_hccl_describe(L, c);
}

rx_ret rx_hccl_init_cluster_info(const rx_lib *L, aclrtContext ctx, uint64_t id, const char *clusterInfo,
                                 uint32_t rank) {
    RX_ENSURE(L, ctx, id);
    HcclComm c = NULL;
    int32_t rc = RX_FN(L, HcclCommInitClusterInfo)(clusterInfo, rank, &c);
    if (rc != 0) return rx_fail(L, rc, RX_STAGE_CALL);
    return rx_hccl_describe(L, c);
}

rx_ret rx_hccl_all_reduce(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t sendBuf, uintptr_t recvBuf,
                          uint64_t count, int32_t dataType, int32_t op, HcclComm comm, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, HcclAllReduce)((void *)sendBuf, (void *)recvBuf, count, dataType, op, comm, s));
}

rx_ret rx_hccl_broadcast(const rx_lib *L, aclrtContext ctx, uint64_t id, uintptr_t buf, uint64_t count,
                         int32_t dataType, uint32_t root, HcclComm comm, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, HcclBroadcast)((void *)buf, count, dataType, root, comm, s));
}

rx_ret rx_hccl_barrier(const rx_lib *L, aclrtContext ctx, uint64_t id, HcclComm comm, aclrtStream s) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, HcclBarrier)(comm, s));
}

rx_ret rx_hccl_comm_destroy(const rx_lib *L, aclrtContext ctx, uint64_t id, HcclComm comm) {
    RX_ENSURE(L, ctx, id);
    return rx_result(L, RX_FN(L, HcclCommDestroy)(comm));
}

char *rx_hccl_error_string(const rx_lib *L, int32_t code) {
    if (L->sym[RX_SYM_HcclGetErrorString] == NULL) return NULL;
    const char *m = RX_FN(L, HcclGetErrorString)(code);
    return m == NULL ? NULL : strdup(m);
}
