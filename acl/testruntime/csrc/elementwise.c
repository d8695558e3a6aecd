/* elementwise.c: Add, Muls, Relu and Cast.
 *
 * Every operator follows one pattern, so the next ones are mechanical:
 *   1. a kernel `static void <op>_run(const aclOpExecutor *ex, void *workspace)` computing the reference
 *      math from the executor snapshot (inputs ex->in[], outputs ex->out[], attributes ex->f[], ex->i[]);
 *   2. `static const tr_op tr_op_<Name> = {"<Name>", <op>_run};`
 *   3. aclnn<Name>GetWorkspaceSize: check every argument (tr_arg_*), shapes and dtypes, fill an executor
 *      (tr_executor_new, tr_executor_input/output in the order aclSet{Input,Output}TensorAddr indexes
 *      them, attributes), and publish it with the workspace the kernel needs;
 *   4. TR_DEFINE_LAUNCH(<Name>) for the second phase.
 * Elementwise kernels stage results as doubles in the workspace, then store them, so the workspace is
 * real (a short or freed workspace corrupts results) and out may alias an input.
 */
#include "internal.h"

#include <math.h>

static const aclDataType float_and_int[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16, ACL_INT32};
#define N_FLOAT_AND_INT ((int)(sizeof float_and_int / sizeof float_and_int[0]))
static const aclDataType any_dtype[] = {ACL_FLOAT,  ACL_FLOAT16, ACL_BF16,  ACL_DOUBLE, ACL_INT8,
                                        ACL_UINT8,  ACL_INT16,   ACL_INT32, ACL_INT64,  ACL_BOOL};
#define N_ANY_DTYPE ((int)(sizeof any_dtype / sizeof any_dtype[0]))

static uint64_t staging_bytes(const aclTensor *out) { return (uint64_t)tr_numel(out) * sizeof(double); }

/* Writes the staged values into out's view. */
static void store_staged(const aclTensor *out, const double *w) {
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) tr_store(out, tr_view_index(out, i), w[i]);
}

static aclnnStatus check_same_shape(const aclTensor *a, const aclTensor *out, const char *op, const char *name) {
    if (tr_same_shape(a, out)) return 0;
    return tr_violation(ACLNN_ERR_PARAM_INVALID, "aclnn%sGetWorkspaceSize: %s and out differ in shape", op, name);
}

/* ---- Add: out = self + alpha * other, with broadcasting ---- */

static void add_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *a = &ex->in[0], *b = &ex->in[1], *out = &ex->out[0];
    double *w = workspace;
    double alpha = ex->f[0];
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++)
        w[i] = tr_load(a, tr_bcast_index(a, out, i)) + alpha * tr_load(b, tr_bcast_index(b, out, i));
    store_staged(out, w);
}

static const tr_op tr_op_Add = {"Add", add_run};

TR_EXPORT aclnnStatus aclnnAddGetWorkspaceSize(const aclTensor *self, const aclTensor *other, const aclScalar *alpha,
                                               aclTensor *out, uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *op = "Add";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, "aclnnAddGetWorkspaceSize", "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(other, "aclnnAddGetWorkspaceSize", "other")) != 0) return rc;
    if ((rc = tr_arg_scalar(alpha, "aclnnAddGetWorkspaceSize", "alpha")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, "aclnnAddGetWorkspaceSize", "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, "aclnnAdd")) != 0) return rc;
    if ((rc = tr_arg_dtype(self, float_and_int, N_FLOAT_AND_INT, op, "self")) != 0) return rc;
    if ((rc = tr_arg_dtype(other, float_and_int, N_FLOAT_AND_INT, op, "other")) != 0) return rc;
    if ((rc = tr_arg_dtype(out, float_and_int, N_FLOAT_AND_INT, op, "out")) != 0) return rc;
    /* out must have exactly the broadcast shape of self and other. */
    int nd = self->ndim > other->ndim ? self->ndim : other->ndim;
    int ok = out->ndim == nd && tr_broadcastable(self, out) && tr_broadcastable(other, out);
    for (int k = 1; ok && k <= nd; k++) {
        int64_t a = k <= self->ndim ? self->dims[self->ndim - k] : 1;
        int64_t b = k <= other->ndim ? other->dims[other->ndim - k] : 1;
        if (out->dims[out->ndim - k] != (a > b ? a : b)) ok = 0;
    }
    if (!ok)
        return tr_violation(ACLNN_ERR_PARAM_INVALID,
                            "aclnnAddGetWorkspaceSize: self, other and out shapes do not broadcast to out");
    aclOpExecutor *ex = tr_executor_new(&tr_op_Add);
    tr_executor_input(ex, self);
    tr_executor_input(ex, other);
    tr_executor_output(ex, out);
    ex->f[0] = alpha->value;
    return tr_executor_publish(ex, staging_bytes(out), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(Add)

/* ---- Muls: out = self * scalar ---- */

static void muls_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *a = &ex->in[0], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) w[i] = tr_load(a, tr_view_index(a, i)) * ex->f[0];
    store_staged(out, w);
}

static const tr_op tr_op_Muls = {"Muls", muls_run};

TR_EXPORT aclnnStatus aclnnMulsGetWorkspaceSize(const aclTensor *self, const aclScalar *other, aclTensor *out,
                                                uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *op = "Muls";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, "aclnnMulsGetWorkspaceSize", "self")) != 0) return rc;
    if ((rc = tr_arg_scalar(other, "aclnnMulsGetWorkspaceSize", "other")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, "aclnnMulsGetWorkspaceSize", "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, "aclnnMuls")) != 0) return rc;
    if ((rc = tr_arg_dtype(self, float_and_int, N_FLOAT_AND_INT, op, "self")) != 0) return rc;
    if ((rc = tr_arg_dtype(out, float_and_int, N_FLOAT_AND_INT, op, "out")) != 0) return rc;
    if ((rc = check_same_shape(self, out, op, "self")) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_Muls);
    tr_executor_input(ex, self);
    tr_executor_output(ex, out);
    ex->f[0] = other->value;
    return tr_executor_publish(ex, staging_bytes(out), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(Muls)

/* ---- Relu: out = max(self, 0), NaN kept ---- */

static void relu_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *a = &ex->in[0], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) {
        double v = tr_load(a, tr_view_index(a, i));
        w[i] = v < 0 ? 0 : v;
    }
    store_staged(out, w);
}

static const tr_op tr_op_Relu = {"Relu", relu_run};

TR_EXPORT aclnnStatus aclnnReluGetWorkspaceSize(const aclTensor *self, aclTensor *out, uint64_t *workspaceSize,
                                                aclOpExecutor **executor) {
    const char *op = "Relu";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, "aclnnReluGetWorkspaceSize", "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, "aclnnReluGetWorkspaceSize", "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, "aclnnRelu")) != 0) return rc;
    if ((rc = tr_arg_dtype(self, float_and_int, N_FLOAT_AND_INT, op, "self")) != 0) return rc;
    if ((rc = check_same_shape(self, out, op, "self")) != 0) return rc;
    if (self->dtype != out->dtype)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "aclnnReluGetWorkspaceSize: self is %s but out is %s",
                            tr_dtype_name(self->dtype), tr_dtype_name(out->dtype));
    aclOpExecutor *ex = tr_executor_new(&tr_op_Relu);
    tr_executor_input(ex, self);
    tr_executor_output(ex, out);
    return tr_executor_publish(ex, staging_bytes(out), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(Relu)

/* ---- Cast: out = self converted to dtype (float to integer truncates toward zero) ---- */

static void cast_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *a = &ex->in[0], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) w[i] = tr_load(a, tr_view_index(a, i));
    store_staged(out, w);
}

static const tr_op tr_op_Cast = {"Cast", cast_run};

TR_EXPORT aclnnStatus aclnnCastGetWorkspaceSize(const aclTensor *self, const aclDataType dtype, aclTensor *out,
                                                uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *op = "Cast";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, "aclnnCastGetWorkspaceSize", "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, "aclnnCastGetWorkspaceSize", "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, "aclnnCast")) != 0) return rc;
    if ((rc = tr_arg_dtype(self, any_dtype, N_ANY_DTYPE, op, "self")) != 0) return rc;
    if ((rc = tr_arg_dtype(out, any_dtype, N_ANY_DTYPE, op, "out")) != 0) return rc;
    if ((rc = check_same_shape(self, out, op, "self")) != 0) return rc;
    if (out->dtype != dtype)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "aclnnCastGetWorkspaceSize: dtype is %s but out is %s",
                            tr_dtype_name(dtype), tr_dtype_name(out->dtype));
    aclOpExecutor *ex = tr_executor_new(&tr_op_Cast);
    tr_executor_input(ex, self);
    tr_executor_output(ex, out);
    ex->i[0] = dtype;
    return tr_executor_publish(ex, staging_bytes(out), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(Cast)
