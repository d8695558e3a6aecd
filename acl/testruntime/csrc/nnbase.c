/* nnbase.c: the aclnn base library: tensors, scalars, arrays, executors and the launch path every
 * operator shares. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t tr_numel(const aclTensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

static int64_t storage_elems(const aclTensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->sdim; i++) n *= t->sdims[i];
    return n;
}

size_t tr_storage_bytes(const aclTensor *t) { return (size_t)storage_elems(t) * tr_dtype_size(t->dtype); }

int64_t tr_view_index(const aclTensor *t, int64_t linear) {
    int64_t idx = t->offset;
    for (int i = t->ndim - 1; i >= 0; i--) {
        int64_t d = t->dims[i];
        idx += (linear % d) * t->strides[i];
        linear /= d;
    }
    return idx;
}

int tr_broadcastable(const aclTensor *in, const aclTensor *out) {
    if (in->ndim > out->ndim) return 0;
    for (int k = 1; k <= in->ndim; k++) {
        int64_t a = in->dims[in->ndim - k], b = out->dims[out->ndim - k];
        if (a != b && a != 1) return 0;
    }
    return 1;
}

int64_t tr_bcast_index(const aclTensor *in, const aclTensor *out, int64_t linear) {
    int64_t idx = in->offset;
    for (int k = 1; k <= out->ndim; k++) {
        int64_t d = out->dims[out->ndim - k];
        int64_t pos = linear % d;
        linear /= d;
        if (k <= in->ndim && in->dims[in->ndim - k] != 1) idx += pos * in->strides[in->ndim - k];
    }
    return idx;
}

int tr_same_shape(const aclTensor *a, const aclTensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

int tr_is_contiguous(const aclTensor *t) {
    int64_t want = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->dims[i] != 1 && t->strides[i] != want) return 0;
        want *= t->dims[i];
    }
    return 1;
}

int tr_is_float(aclDataType dt) {
    return dt == ACL_FLOAT || dt == ACL_FLOAT16 || dt == ACL_BF16 || dt == ACL_DOUBLE;
}

void tr_shape_str(const aclTensor *t, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)t->dims[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

aclnnStatus tr_check_dims(const aclTensor *t, const int64_t *want, int nd, const char *api, const char *name) {
    int ok = t->ndim == nd;
    for (int i = 0; ok && i < nd; i++)
        if (t->dims[i] != want[i]) ok = 0;
    if (ok) return 0;
    aclTensor w;
    memset(&w, 0, sizeof w);
    w.ndim = nd;
    for (int i = 0; i < nd; i++) w.dims[i] = want[i];
    char got[128], exp[128];
    tr_shape_str(t, got, sizeof got);
    tr_shape_str(&w, exp, sizeof exp);
    return tr_violation(ACLNN_ERR_PARAM_INVALID, "%sGetWorkspaceSize: %s has shape %s, expected %s", api, name, got,
                        exp);
}

aclnnStatus tr_check_dtype_as(const aclTensor *t, const aclTensor *ref, const char *api, const char *name,
                              const char *refname) {
    if (t->dtype == ref->dtype) return 0;
    return tr_violation(ACLNN_ERR_PARAM_INVALID, "%sGetWorkspaceSize: %s is %s but %s is %s", api, name,
                        tr_dtype_name(t->dtype), refname, tr_dtype_name(ref->dtype));
}

aclnnStatus tr_check_broadcast_out(const aclTensor *self, const aclTensor *other, const aclTensor *out,
                                   const char *api) {
    int nd = self->ndim > other->ndim ? self->ndim : other->ndim;
    int ok = out->ndim == nd && tr_broadcastable(self, out) && tr_broadcastable(other, out);
    for (int k = 1; ok && k <= nd; k++) {
        int64_t a = k <= self->ndim ? self->dims[self->ndim - k] : 1;
        int64_t b = k <= other->ndim ? other->dims[other->ndim - k] : 1;
        if (out->dims[out->ndim - k] != (a > b ? a : b)) ok = 0;
    }
    if (ok) return 0;
    return tr_violation(ACLNN_ERR_PARAM_INVALID, "%sGetWorkspaceSize: self, other and out shapes do not broadcast to out",
                        api);
}

aclnnStatus tr_arg_int_array(const aclIntArray *a, const char *api, const char *name) {
    char full[96];
    snprintf(full, sizeof full, "%sGetWorkspaceSize", api);
    return tr_arg_array(a, TR_INT_ARRAY, full, name);
}

int64_t tr_as_index(double v) {
    if (isnan(v) || v > 9.2e18 || v < -9.2e18) return INT64_MIN;
    return (int64_t)v;
}

/* ---- tensors ---- */

TR_EXPORT aclTensor *aclCreateTensor(const int64_t *viewDims, uint64_t viewDimsNum, aclDataType dataType,
                                     const int64_t *stride, int64_t offset, aclFormat format,
                                     const int64_t *storageDims, uint64_t storageDimsNum, void *tensorData) {
    const char *api = "aclCreateTensor";
    const int bad = ACLNN_ERR_PARAM_INVALID;
    if (viewDimsNum > TR_MAX_DIMS || storageDimsNum > TR_MAX_DIMS) {
        tr_violation(bad, "%s: %llu view dims / %llu storage dims, at most %d", api,
                     (unsigned long long)viewDimsNum, (unsigned long long)storageDimsNum, TR_MAX_DIMS);
        return NULL;
    }
    if ((viewDimsNum > 0 && (viewDims == NULL || stride == NULL)) || (storageDimsNum > 0 && storageDims == NULL)) {
        tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: viewDims, stride or storageDims is NULL", api);
        return NULL;
    }
    if (tr_dtype_size(dataType) == 0) {
        tr_violation(bad, "%s: unsupported aclDataType %d", api, (int)dataType);
        return NULL;
    }
    aclTensor t;
    memset(&t, 0, sizeof t);
    t.ndim = (int)viewDimsNum;
    t.sdim = (int)storageDimsNum;
    t.dtype = dataType;
    t.format = format;
    t.offset = offset;
    t.data = tensorData;
    for (int i = 0; i < t.ndim; i++) {
        t.dims[i] = viewDims[i];
        t.strides[i] = stride[i];
        if (viewDims[i] < 0 || stride[i] < 0) {
            tr_violation(bad, "%s: view dim %d is %lld with stride %lld: negative", api, i, (long long)viewDims[i],
                         (long long)stride[i]);
            return NULL;
        }
    }
    for (int i = 0; i < t.sdim; i++) {
        t.sdims[i] = storageDims[i];
        if (storageDims[i] < 0) {
            tr_violation(bad, "%s: storage dim %d is negative", api, i);
            return NULL;
        }
    }
    if (offset < 0) {
        tr_violation(bad, "%s: offset %lld is negative", api, (long long)offset);
        return NULL;
    }
    int64_t numel = tr_numel(&t), selems = storage_elems(&t);
    if (numel > 0) {
        int64_t last = offset;
        for (int i = 0; i < t.ndim; i++) last += (t.dims[i] - 1) * t.strides[i];
        if (last >= selems) {
            tr_violation(bad,
                         "%s: the view (offset %lld, strides reach element %lld) runs outside its storage of %lld "
                         "elements",
                         api, (long long)offset, (long long)last, (long long)selems);
            return NULL;
        }
    }
    tr_lock();
    int rc = 0;
    if (tensorData != NULL && selems > 0) {
        char what[128];
        snprintf(what, sizeof what, "%s: tensorData (storage of %lld %s elements)", api, (long long)selems,
                 tr_dtype_name(dataType));
        rc = tr_check_device(tensorData, tr_storage_bytes(&t), what, bad);
    }
    aclTensor *out = NULL;
    if (rc == 0) {
        out = malloc(sizeof *out);
        if (out == NULL) abort();
        *out = t;
        tr_handle_add(out, TR_TENSOR);
    }
    tr_unlock();
    return out;
}

/* Checks that p is a live handle of the kind; records a violation naming api otherwise. */
static aclnnStatus check_handle(const void *p, int kind, const char *api, const char *name) {
    if (p == NULL) return tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: %s is NULL", api, name);
    if (tr_handle_live(p, kind)) return 0;
    const char *why = tr_handle_gone(p, kind);
    if (why != NULL)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: %s %p (%s) %s", api, name, p, tr_kind_name(kind), why);
    return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: %s %p is not a live %s", api, name, p, tr_kind_name(kind));
}

static aclnnStatus destroy_handle(const void *p, int kind, const char *api) {
    tr_lock();
    aclnnStatus rc = check_handle(p, kind, api, tr_kind_name(kind));
    if (rc == 0) {
        tr_handle_remove(p, kind, kind == TR_EXECUTOR ? "was destroyed with aclDestroyAclOpExecutor" : "was destroyed");
        if (kind == TR_INT_ARRAY) free(((aclIntArray *)p)->v);
        if (kind == TR_FLOAT_ARRAY) free(((aclFloatArray *)p)->v);
        if (kind == TR_BOOL_ARRAY) free(((aclBoolArray *)p)->v);
        tr_free_later((void *)p);
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclnnStatus aclDestroyTensor(const aclTensor *tensor) {
    return destroy_handle(tensor, TR_TENSOR, "aclDestroyTensor");
}

TR_EXPORT aclnnStatus aclSetRawTensorAddr(aclTensor *tensor, void *addr) {
    tr_lock();
    aclnnStatus rc = check_handle(tensor, TR_TENSOR, "aclSetRawTensorAddr", "tensor");
    if (rc == 0 && addr != NULL && tr_storage_bytes(tensor) > 0)
        rc = tr_check_device(addr, tr_storage_bytes(tensor), "aclSetRawTensorAddr: addr", ACLNN_ERR_PARAM_INVALID);
    if (rc == 0) tensor->data = addr;
    tr_unlock();
    return rc;
}

/* ---- scalars and arrays ---- */

TR_EXPORT aclScalar *aclCreateScalar(void *value, aclDataType dataType) {
    if (value == NULL) {
        tr_violation(ACLNN_ERR_PARAM_NULLPTR, "aclCreateScalar: value is NULL");
        return NULL;
    }
    if (tr_dtype_size(dataType) == 0) {
        tr_violation(ACLNN_ERR_PARAM_INVALID, "aclCreateScalar: unsupported aclDataType %d", (int)dataType);
        return NULL;
    }
    aclTensor tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.dtype = dataType;
    tmp.data = value;
    aclScalar *s = malloc(sizeof *s);
    if (s == NULL) abort();
    s->dtype = dataType;
    s->value = tr_load(&tmp, 0);
    tr_lock();
    tr_handle_add(s, TR_SCALAR);
    tr_unlock();
    return s;
}

TR_EXPORT aclnnStatus aclDestroyScalar(const aclScalar *scalar) {
    return destroy_handle(scalar, TR_SCALAR, "aclDestroyScalar");
}

/* Allocates an array object of kind with n elements of size elem copied from value. */
static void *new_array(int kind, const void *value, uint64_t n, size_t elem, const char *api) {
    if (value == NULL && n > 0) {
        tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: value is NULL with size %llu", api, (unsigned long long)n);
        return NULL;
    }
    void *data = malloc(n * elem + 1);
    if (data == NULL) abort();
    if (n > 0) memcpy(data, value, n * elem);
    void *a;
    switch (kind) {
    case TR_INT_ARRAY: {
        aclIntArray *x = malloc(sizeof *x);
        if (x == NULL) abort();
        x->n = n;
        x->v = data;
        a = x;
        break;
    }
    case TR_FLOAT_ARRAY: {
        aclFloatArray *x = malloc(sizeof *x);
        if (x == NULL) abort();
        x->n = n;
        x->v = data;
        a = x;
        break;
    }
    default: {
        aclBoolArray *x = malloc(sizeof *x);
        if (x == NULL) abort();
        x->n = n;
        x->v = data;
        a = x;
        break;
    }
    }
    tr_lock();
    tr_handle_add(a, kind);
    tr_unlock();
    return a;
}

TR_EXPORT aclIntArray *aclCreateIntArray(const int64_t *value, uint64_t size) {
    return new_array(TR_INT_ARRAY, value, size, sizeof(int64_t), "aclCreateIntArray");
}

TR_EXPORT aclnnStatus aclDestroyIntArray(const aclIntArray *array) {
    return destroy_handle(array, TR_INT_ARRAY, "aclDestroyIntArray");
}

TR_EXPORT aclFloatArray *aclCreateFloatArray(const float *value, uint64_t size) {
    return new_array(TR_FLOAT_ARRAY, value, size, sizeof(float), "aclCreateFloatArray");
}

TR_EXPORT aclnnStatus aclDestroyFloatArray(const aclFloatArray *array) {
    return destroy_handle(array, TR_FLOAT_ARRAY, "aclDestroyFloatArray");
}

TR_EXPORT aclBoolArray *aclCreateBoolArray(const bool *value, uint64_t size) {
    return new_array(TR_BOOL_ARRAY, value, size, sizeof(bool), "aclCreateBoolArray");
}

TR_EXPORT aclnnStatus aclDestroyBoolArray(const aclBoolArray *array) {
    return destroy_handle(array, TR_BOOL_ARRAY, "aclDestroyBoolArray");
}

/* ---- first-phase argument checks ---- */

aclnnStatus tr_arg_tensor(const aclTensor *t, const char *op, const char *name) {
    tr_lock();
    aclnnStatus rc = check_handle(t, TR_TENSOR, op, name);
    tr_unlock();
    return rc;
}

aclnnStatus tr_arg_scalar(const aclScalar *s, const char *op, const char *name) {
    tr_lock();
    aclnnStatus rc = check_handle(s, TR_SCALAR, op, name);
    tr_unlock();
    return rc;
}

aclnnStatus tr_arg_array(const void *a, int kind, const char *op, const char *name) {
    tr_lock();
    aclnnStatus rc = check_handle(a, kind, op, name);
    tr_unlock();
    return rc;
}

aclnnStatus tr_arg_out(uint64_t *workspaceSize, aclOpExecutor **executor, const char *op) {
    if (workspaceSize == NULL || executor == NULL)
        return tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%sGetWorkspaceSize: workspaceSize or executor is NULL", op);
    return 0;
}

aclnnStatus tr_arg_dtype(const aclTensor *t, const aclDataType *allowed, int n, const char *op, const char *name) {
    for (int i = 0; i < n; i++)
        if (t->dtype == allowed[i]) return 0;
    return tr_violation(ACLNN_ERR_PARAM_INVALID, "%sGetWorkspaceSize: %s has dtype %s, which the test runtime's %s "
                                                 "does not support",
                        op, name, tr_dtype_name(t->dtype), op);
}

/* ---- executors ---- */

static const char *const launched_once =
    "was already launched once and is not repeatable (call aclSetAclOpExecutorRepeatable before the "
    "first launch to launch an executor again)";

aclOpExecutor *tr_executor_new(const tr_op *op) {
    aclOpExecutor *ex = calloc(1, sizeof *ex);
    if (ex == NULL) abort();
    ex->op = op;
    return ex;
}

void tr_executor_input(aclOpExecutor *ex, const aclTensor *t) {
    if (ex->nin < TR_MAX_IO) ex->in[ex->nin++] = *t;
}

void tr_executor_output(aclOpExecutor *ex, const aclTensor *t) {
    if (ex->nout < TR_MAX_IO) ex->out[ex->nout++] = *t;
}

aclnnStatus tr_executor_publish(aclOpExecutor *ex, uint64_t workspace, uint64_t *workspaceSize,
                                aclOpExecutor **executor) {
    ex->workspace = (workspace + 31) / 32 * 32;
    tr_lock();
    tr_handle_add(ex, TR_EXECUTOR);
    tr_unlock();
    *workspaceSize = ex->workspace;
    *executor = ex;
    return 0;
}

TR_EXPORT aclnnStatus aclSetAclOpExecutorRepeatable(aclOpExecutor *executor) {
    tr_lock();
    aclnnStatus rc = check_handle(executor, TR_EXECUTOR, "aclSetAclOpExecutorRepeatable", "executor");
    if (rc == 0) executor->repeatable = 1;
    tr_unlock();
    return rc;
}

TR_EXPORT aclnnStatus aclDestroyAclOpExecutor(aclOpExecutor *executor) {
    return destroy_handle(executor, TR_EXECUTOR, "aclDestroyAclOpExecutor");
}

static aclnnStatus set_addr(aclOpExecutor *ex, size_t index, aclTensor *tensor, void *addr, int output) {
    const char *api = output ? "aclSetOutputTensorAddr" : "aclSetInputTensorAddr";
    tr_lock();
    aclnnStatus rc = check_handle(ex, TR_EXECUTOR, api, "executor");
    size_t n = rc == 0 ? (size_t)(output ? ex->nout : ex->nin) : 0;
    if (rc == 0 && index >= n)
        rc = tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: index %zu, but the %s executor has %zu %s tensor(s)", api,
                          index, ex->op->name, n, output ? "output" : "input");
    if (rc == 0 && tensor != NULL) rc = check_handle(tensor, TR_TENSOR, api, "tensor");
    aclTensor *slot = rc == 0 ? (output ? &ex->out[index] : &ex->in[index]) : NULL;
    if (rc == 0 && addr != NULL && ((uintptr_t)addr % 32) != 0)
        rc = tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: address %p is not 32-byte aligned", api, addr);
    if (rc == 0 && addr != NULL && tr_storage_bytes(slot) > 0 && tr_device_room(addr) < tr_storage_bytes(slot)) {
        char what[96];
        snprintf(what, sizeof what, "%s: address for %s %zu", api, output ? "output" : "input", index);
        rc = tr_check_device(addr, tr_storage_bytes(slot), what, ACLNN_ERR_PARAM_INVALID);
    }
    if (rc == 0) {
        slot->data = addr;
        if (tensor != NULL) tensor->data = addr;
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclnnStatus aclSetInputTensorAddr(aclOpExecutor *executor, const size_t index, aclTensor *tensor,
                                            void *addr) {
    return set_addr(executor, index, tensor, addr, 0);
}

TR_EXPORT aclnnStatus aclSetOutputTensorAddr(aclOpExecutor *executor, const size_t index, aclTensor *tensor,
                                             void *addr) {
    return set_addr(executor, index, tensor, addr, 1);
}

/* ---- the second phase ---- */

typedef struct {
    aclOpExecutor ex; /* a snapshot: later rebinding or destruction does not change a queued launch */
    void *workspace;
} kernel_task;

static void run_kernel(void *arg) {
    kernel_task *k = arg;
    k->ex.op->run(&k->ex, k->workspace);
}

/* The launch checks run on every kernel, so the messages are only formatted when a check fails
 * (tr_device_room is the check's fast path). */
static aclnnStatus check_io(const aclTensor *t, const char *api, const char *side, int i, tr_range *r, int *nr) {
    size_t bytes = tr_storage_bytes(t);
    if (tr_numel(t) == 0 || bytes == 0) return 0;
    if (t->data != NULL && tr_device_room(t->data) >= bytes) {
        r[(*nr)++] = (tr_range){t->data, bytes};
        return 0;
    }
    char what[128];
    snprintf(what, sizeof what, "%s: %s %d (%s storage of %zu bytes)", api, side, i, tr_dtype_name(t->dtype), bytes);
    if (t->data == NULL) return tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s has no device address", what);
    return tr_check_device(t->data, bytes, what, ACLNN_ERR_PARAM_INVALID);
}

aclnnStatus tr_launch(const tr_op *op, void *workspace, uint64_t workspaceSize, aclOpExecutor *executor,
                      aclrtStream stream) {
    char api[64] = "aclnn";
    strncat(api, op->name, sizeof api - sizeof "aclnn");
    tr_lock();
    aclnnStatus rc = 0;
    if (executor == NULL) rc = tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: executor is NULL", api);
    if (rc == 0 && !tr_handle_live(executor, TR_EXECUTOR)) {
        const char *why = tr_handle_gone(executor, TR_EXECUTOR);
        rc = tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: executor %p %s", api, (void *)executor,
                          why ? why : "is not from a GetWorkspaceSize call");
    }
    if (rc == 0 && executor->op != op)
        rc = tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: executor %p was made by aclnn%sGetWorkspaceSize", api,
                          (void *)executor, executor->op->name);
    uint64_t need = rc == 0 ? executor->workspace : 0;
    if (rc == 0 && need > 0 && workspace == NULL)
        rc = tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: workspace is NULL but GetWorkspaceSize asked for %llu bytes",
                          api, (unsigned long long)need);
    if (rc == 0 && workspaceSize < need)
        rc = tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: workspaceSize %llu is smaller than the %llu bytes "
                                                   "GetWorkspaceSize asked for",
                          api, (unsigned long long)workspaceSize, (unsigned long long)need);
    tr_range r[2 * TR_MAX_IO + 2];
    int nr = 0;
    if (rc == 0 && need > 0) {
        if (workspace == NULL || tr_device_room(workspace) < need) {
            char what[96];
            snprintf(what, sizeof what, "%s: workspace", api);
            rc = tr_check_device(workspace, need, what, ACLNN_ERR_PARAM_INVALID);
        }
        if (rc == 0) r[nr++] = (tr_range){workspace, need};
    }
    for (int i = 0; rc == 0 && i < executor->nin; i++) rc = check_io(&executor->in[i], api, "input", i, r, &nr);
    for (int i = 0; rc == 0 && i < executor->nout; i++) rc = check_io(&executor->out[i], api, "output", i, r, &nr);
    tr_stream *s = NULL;
    if (rc == 0 && tr_resolve_stream(stream, &s, api) != 0) rc = ACLNN_ERR_RUNTIME_ERROR;
    if (rc == 0) {
        kernel_task *k = malloc(sizeof *k);
        if (k == NULL) abort();
        k->ex = *executor;
        k->workspace = workspace;
        tr_enqueue(s, api, run_kernel, k, r, nr);
        if (!executor->repeatable) {
            tr_handle_remove(executor, TR_EXECUTOR, launched_once);
            tr_free_later(executor);
        }
    }
    tr_unlock();
    return rc;
}
