/* reduce.c: the reductions Mean and ReduceSum.
 *
 * They follow the pattern of elementwise.c. The dims array lists the axes to reduce (negative values
 * count from the end; each axis at most once); an empty array reduces every axis. keepDim keeps the
 * reduced axes with size 1. dtype is the type the result is computed in and out's type (the real ops
 * accept an out of any type dtype casts to; the test runtime asks for dtype itself). Sums accumulate
 * in double in the workspace; Mean divides by the number of elements reduced into each result.
 */
#include "internal.h"

static const aclDataType mean_types[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16,  ACL_DOUBLE, ACL_INT8,
                                         ACL_UINT8, ACL_INT16,   ACL_INT32, ACL_INT64};
#define N_MEAN_TYPES ((int)(sizeof mean_types / sizeof mean_types[0]))
static const aclDataType sum_types[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16,  ACL_DOUBLE, ACL_INT8,
                                        ACL_UINT8, ACL_INT16,   ACL_INT32, ACL_INT64,  ACL_BOOL};
#define N_SUM_TYPES ((int)(sizeof sum_types / sizeof sum_types[0]))

/* Attribute slots: RD_MEAN, then one flag per axis of self from RD_AXES (1 = reduced). */
enum { RD_MEAN, RD_AXES };

/* Reads the axes to reduce into axes[self->ndim] and checks out's dtype and shape. */
static aclnnStatus reduce_check(const char *api, const aclTensor *self, const aclIntArray *dims, bool keepDim,
                                aclDataType dtype, const aclTensor *out, const aclDataType *types, int ntypes,
                                const char *dimsName, int64_t *axes) {
    char full[96];
    snprintf(full, sizeof full, "%sGetWorkspaceSize", api);
    aclnnStatus rc;
    if ((rc = tr_arg_dtype(self, types, ntypes, api, "self")) != 0) return rc;
    if ((rc = tr_arg_dtype(out, types, ntypes, api, "out")) != 0) return rc;
    if (out->dtype != dtype)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: dtype is %s but out is %s", full, tr_dtype_name(dtype),
                            tr_dtype_name(out->dtype));
    int nd = self->ndim;
    for (int i = 0; i < nd; i++) axes[i] = dims->n == 0;
    int range = nd > 0 ? nd : 1; /* a 0-d self takes dim 0 or -1 */
    for (uint64_t k = 0; k < dims->n; k++) {
        int64_t d = dims->v[k];
        if (d < -range || d >= range)
            return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: %s[%llu] = %lld is outside [%d, %d] for a %d-d self",
                                full, dimsName, (unsigned long long)k, (long long)d, -range, range - 1, nd);
        if (d < 0) d += range;
        if (nd == 0) continue;
        if (axes[d])
            return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: %s names axis %lld twice", full, dimsName, (long long)d);
        axes[d] = 1;
    }
    int64_t want[TR_MAX_DIMS];
    int on = 0;
    for (int i = 0; i < nd; i++) {
        if (!axes[i])
            want[on++] = self->dims[i];
        else if (keepDim)
            want[on++] = 1;
    }
    return tr_check_dims(out, want, on, api, "out");
}

static void reduce_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *x = &ex->in[0], *out = &ex->out[0];
    double *acc = workspace;
    int64_t n = tr_numel(x), on = tr_numel(out), count = 1;
    for (int i = 0; i < x->ndim; i++)
        if (ex->i[RD_AXES + i]) count *= x->dims[i];
    for (int64_t o = 0; o < on; o++) acc[o] = 0;
    for (int64_t li = 0; li < n; li++) {
        /* the output position: the kept coordinates of li, row-major over the kept axes */
        int64_t rest = li, o = 0, scale = 1;
        for (int i = x->ndim - 1; i >= 0; i--) {
            int64_t c = rest % x->dims[i];
            rest /= x->dims[i];
            if (!ex->i[RD_AXES + i]) {
                o += c * scale;
                scale *= x->dims[i];
            }
        }
        acc[o] += tr_load(x, tr_view_index(x, li));
    }
    for (int64_t o = 0; o < on; o++) {
        double v = ex->i[RD_MEAN] ? acc[o] / (double)count : acc[o];
        tr_store(out, tr_view_index(out, o), v);
    }
}

static aclnnStatus reduce_prepare(const tr_op *op, int mean, const aclTensor *self, const aclIntArray *dims,
                                  bool keepDim, aclDataType dtype, aclTensor *out, uint64_t *workspaceSize,
                                  aclOpExecutor **executor, const char *dimsName) {
    char api[64], full[96];
    snprintf(api, sizeof api, "aclnn%s", op->name);
    snprintf(full, sizeof full, "%sGetWorkspaceSize", api);
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_array(dims, TR_INT_ARRAY, full, dimsName)) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    int64_t axes[TR_MAX_DIMS];
    if ((rc = reduce_check(api, self, dims, keepDim, dtype, out, mean ? mean_types : sum_types,
                           mean ? N_MEAN_TYPES : N_SUM_TYPES, dimsName, axes)) != 0)
        return rc;
    aclOpExecutor *ex = tr_executor_new(op);
    tr_executor_input(ex, self);
    tr_executor_output(ex, out);
    ex->i[RD_MEAN] = mean;
    for (int i = 0; i < self->ndim; i++) ex->i[RD_AXES + i] = axes[i];
    return tr_executor_publish(ex, (uint64_t)tr_numel(out) * sizeof(double), workspaceSize, executor);
}

/* ---- Mean ---- */

static const tr_op tr_op_Mean = {"Mean", reduce_run};

TR_EXPORT aclnnStatus aclnnMeanGetWorkspaceSize(const aclTensor *self, const aclIntArray *dim, bool keepDim,
                                                aclDataType dtype, aclTensor *out, uint64_t *workspaceSize,
                                                aclOpExecutor **executor) {
    return reduce_prepare(&tr_op_Mean, 1, self, dim, keepDim, dtype, out, workspaceSize, executor, "dim");
}

TR_DEFINE_LAUNCH(Mean)

/* ---- ReduceSum ---- */

static const tr_op tr_op_ReduceSum = {"ReduceSum", reduce_run};

TR_EXPORT aclnnStatus aclnnReduceSumGetWorkspaceSize(const aclTensor *self, const aclIntArray *dims, bool keepDims,
                                                     aclDataType dtype, aclTensor *out, uint64_t *workspaceSize,
                                                     aclOpExecutor **executor) {
    return reduce_prepare(&tr_op_ReduceSum, 0, self, dims, keepDims, dtype, out, workspaceSize, executor, "dims");
}

TR_DEFINE_LAUNCH(ReduceSum)
