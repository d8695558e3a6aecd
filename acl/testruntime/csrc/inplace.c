/* inplace.c: the in-place operators InplaceAdd, InplaceAdds, InplaceMuls, InplaceFillScalar,
 * InplaceCopy, InplaceRsqrt and InplaceReciprocal.
 *
 * They follow the pattern of elementwise.c. selfRef is both read and written: the executor lists it as
 * input 0 (then the other tensor inputs, in argument order) and as output 0, as the real executors do,
 * so rebinding selfRef means rebinding both. The kernel reads the input snapshot and writes the output
 * one. Results are staged as doubles in the workspace before they are stored, so any overlap of selfRef
 * with the other operand is safe, and they are rounded (or truncated, for integer types) to selfRef's
 * type by the store.
 */
#include "internal.h"

/* The arithmetic types the in-place arithmetic accepts (no BOOL). */
static const aclDataType arith_types[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16,  ACL_DOUBLE, ACL_INT8,
                                          ACL_UINT8, ACL_INT16,   ACL_INT32, ACL_INT64};
#define N_ARITH_TYPES ((int)(sizeof arith_types / sizeof arith_types[0]))
static const aclDataType any_dtype[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16,  ACL_DOUBLE, ACL_INT8,
                                        ACL_UINT8, ACL_INT16,   ACL_INT32, ACL_INT64,  ACL_BOOL};
#define N_ANY_DTYPE ((int)(sizeof any_dtype / sizeof any_dtype[0]))

static uint64_t staging_bytes(const aclTensor *t) { return (uint64_t)tr_numel(t) * sizeof(double); }

static void store_staged(const aclTensor *out, const double *w) {
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) tr_store(out, tr_view_index(out, i), w[i]);
}

/* Checks that t broadcasts to selfRef's shape (selfRef's shape is the result's). */
static aclnnStatus check_to_self(const aclTensor *t, const aclTensor *selfRef, const char *api, const char *name) {
    if (tr_broadcastable(t, selfRef)) return 0;
    char ts[128], ss[128];
    tr_shape_str(t, ts, sizeof ts);
    tr_shape_str(selfRef, ss, sizeof ss);
    return tr_violation(ACLNN_ERR_PARAM_INVALID, "%sGetWorkspaceSize: %s %s does not broadcast to selfRef %s", api,
                        name, ts, ss);
}

/* A new executor of op with selfRef as input 0 and output 0. */
static aclOpExecutor *inplace_executor(const tr_op *op, const aclTensor *selfRef) {
    aclOpExecutor *ex = tr_executor_new(op);
    tr_executor_input(ex, selfRef);
    tr_executor_output(ex, selfRef);
    return ex;
}

/* ---- InplaceAdd: selfRef += alpha * other (other broadcast to selfRef) ---- */

static void inplace_add_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *self = &ex->in[0], *other = &ex->in[1], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++)
        w[i] = tr_load(self, tr_view_index(self, i)) + ex->f[0] * tr_load(other, tr_bcast_index(other, self, i));
    store_staged(out, w);
}

static const tr_op tr_op_InplaceAdd = {"InplaceAdd", inplace_add_run};

TR_EXPORT aclnnStatus aclnnInplaceAddGetWorkspaceSize(const aclTensor *selfRef, const aclTensor *other,
                                                      const aclScalar *alpha, uint64_t *workspaceSize,
                                                      aclOpExecutor **executor) {
    const char *api = "aclnnInplaceAdd", *full = "aclnnInplaceAddGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(selfRef, full, "selfRef")) != 0) return rc;
    if ((rc = tr_arg_tensor(other, full, "other")) != 0) return rc;
    if ((rc = tr_arg_scalar(alpha, full, "alpha")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(selfRef, arith_types, N_ARITH_TYPES, api, "selfRef")) != 0) return rc;
    if ((rc = tr_arg_dtype(other, arith_types, N_ARITH_TYPES, api, "other")) != 0) return rc;
    if ((rc = check_to_self(other, selfRef, api, "other")) != 0) return rc;
    aclOpExecutor *ex = inplace_executor(&tr_op_InplaceAdd, selfRef);
    tr_executor_input(ex, other);
    ex->f[0] = alpha->value;
    return tr_executor_publish(ex, staging_bytes(selfRef), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(InplaceAdd)

/* ---- InplaceAdds: selfRef += alpha * other (a scalar) ---- */

static void inplace_adds_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *self = &ex->in[0], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) w[i] = tr_load(self, tr_view_index(self, i)) + ex->f[1] * ex->f[0];
    store_staged(out, w);
}

static const tr_op tr_op_InplaceAdds = {"InplaceAdds", inplace_adds_run};

TR_EXPORT aclnnStatus aclnnInplaceAddsGetWorkspaceSize(const aclTensor *selfRef, const aclScalar *other,
                                                       const aclScalar *alpha, uint64_t *workspaceSize,
                                                       aclOpExecutor **executor) {
    const char *api = "aclnnInplaceAdds", *full = "aclnnInplaceAddsGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(selfRef, full, "selfRef")) != 0) return rc;
    if ((rc = tr_arg_scalar(other, full, "other")) != 0) return rc;
    if ((rc = tr_arg_scalar(alpha, full, "alpha")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(selfRef, arith_types, N_ARITH_TYPES, api, "selfRef")) != 0) return rc;
    aclOpExecutor *ex = inplace_executor(&tr_op_InplaceAdds, selfRef);
    ex->f[0] = other->value;
    ex->f[1] = alpha->value;
    return tr_executor_publish(ex, staging_bytes(selfRef), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(InplaceAdds)

/* ---- InplaceMuls: selfRef *= other (a scalar) ---- */

static void inplace_muls_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *self = &ex->in[0], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) w[i] = tr_load(self, tr_view_index(self, i)) * ex->f[0];
    store_staged(out, w);
}

static const tr_op tr_op_InplaceMuls = {"InplaceMuls", inplace_muls_run};

TR_EXPORT aclnnStatus aclnnInplaceMulsGetWorkspaceSize(aclTensor *selfRef, const aclScalar *other,
                                                       uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnInplaceMuls", *full = "aclnnInplaceMulsGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(selfRef, full, "selfRef")) != 0) return rc;
    if ((rc = tr_arg_scalar(other, full, "other")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(selfRef, arith_types, N_ARITH_TYPES, api, "selfRef")) != 0) return rc;
    aclOpExecutor *ex = inplace_executor(&tr_op_InplaceMuls, selfRef);
    ex->f[0] = other->value;
    return tr_executor_publish(ex, staging_bytes(selfRef), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(InplaceMuls)

/* ---- InplaceFillScalar: every element of selfRef = value (converted as a cast would) ---- */

static void inplace_fill_scalar_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) w[i] = ex->f[0];
    store_staged(out, w);
}

static const tr_op tr_op_InplaceFillScalar = {"InplaceFillScalar", inplace_fill_scalar_run};

TR_EXPORT aclnnStatus aclnnInplaceFillScalarGetWorkspaceSize(aclTensor *selfRef, const aclScalar *value,
                                                             uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnInplaceFillScalar", *full = "aclnnInplaceFillScalarGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(selfRef, full, "selfRef")) != 0) return rc;
    if ((rc = tr_arg_scalar(value, full, "value")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(selfRef, any_dtype, N_ANY_DTYPE, api, "selfRef")) != 0) return rc;
    aclOpExecutor *ex = inplace_executor(&tr_op_InplaceFillScalar, selfRef);
    ex->f[0] = value->value;
    return tr_executor_publish(ex, staging_bytes(selfRef), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(InplaceFillScalar)

/* ---- InplaceCopy: selfRef = src, src broadcast to selfRef and converted to its type ---- */

static void inplace_copy_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *self = &ex->in[0], *src = &ex->in[1], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) w[i] = tr_load(src, tr_bcast_index(src, self, i));
    store_staged(out, w);
}

static const tr_op tr_op_InplaceCopy = {"InplaceCopy", inplace_copy_run};

TR_EXPORT aclnnStatus aclnnInplaceCopyGetWorkspaceSize(aclTensor *selfRef, const aclTensor *src,
                                                       uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnInplaceCopy", *full = "aclnnInplaceCopyGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(selfRef, full, "selfRef")) != 0) return rc;
    if ((rc = tr_arg_tensor(src, full, "src")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(selfRef, any_dtype, N_ANY_DTYPE, api, "selfRef")) != 0) return rc;
    if ((rc = tr_arg_dtype(src, any_dtype, N_ANY_DTYPE, api, "src")) != 0) return rc;
    if ((rc = check_to_self(src, selfRef, api, "src")) != 0) return rc;
    aclOpExecutor *ex = inplace_executor(&tr_op_InplaceCopy, selfRef);
    tr_executor_input(ex, src);
    return tr_executor_publish(ex, staging_bytes(selfRef), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(InplaceCopy)

/* ---- InplaceRsqrt and InplaceReciprocal: selfRef = 1/sqrt(selfRef), selfRef = 1/selfRef, on the
 * float types (IEEE: 1/sqrt(0) and 1/0 are +inf, a negative square root NaN) ---- */

static const aclDataType float_types[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16};
#define N_FLOAT_TYPES ((int)(sizeof float_types / sizeof float_types[0]))

static void inplace_rsqrt_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *self = &ex->in[0], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) w[i] = 1 / sqrt(tr_load(self, tr_view_index(self, i)));
    store_staged(out, w);
}

static void inplace_reciprocal_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *self = &ex->in[0], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) w[i] = 1 / tr_load(self, tr_view_index(self, i));
    store_staged(out, w);
}

static const tr_op tr_op_InplaceRsqrt = {"InplaceRsqrt", inplace_rsqrt_run};
static const tr_op tr_op_InplaceReciprocal = {"InplaceReciprocal", inplace_reciprocal_run};

static aclnnStatus inplace_unary(const tr_op *op, const aclTensor *selfRef, const char *api, const char *full,
                                 uint64_t *workspaceSize, aclOpExecutor **executor) {
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(selfRef, full, "selfRef")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(selfRef, float_types, N_FLOAT_TYPES, api, "selfRef")) != 0) return rc;
    aclOpExecutor *ex = inplace_executor(op, selfRef);
    return tr_executor_publish(ex, staging_bytes(selfRef), workspaceSize, executor);
}

TR_EXPORT aclnnStatus aclnnInplaceRsqrtGetWorkspaceSize(aclTensor *selfRef, uint64_t *workspaceSize,
                                                        aclOpExecutor **executor) {
    return inplace_unary(&tr_op_InplaceRsqrt, selfRef, "aclnnInplaceRsqrt", "aclnnInplaceRsqrtGetWorkspaceSize",
                         workspaceSize, executor);
}

TR_DEFINE_LAUNCH(InplaceRsqrt)

TR_EXPORT aclnnStatus aclnnInplaceReciprocalGetWorkspaceSize(const aclTensor *selfRef, uint64_t *workspaceSize,
                                                             aclOpExecutor **executor) {
    return inplace_unary(&tr_op_InplaceReciprocal, selfRef, "aclnnInplaceReciprocal",
                         "aclnnInplaceReciprocalGetWorkspaceSize", workspaceSize, executor);
}

TR_DEFINE_LAUNCH(InplaceReciprocal)
