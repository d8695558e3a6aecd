/* matmul.c: Mm, the 2-D matrix product out[M, N] = self[M, K] x mat2[K, N].
 *
 * It follows the pattern of elementwise.c. self and mat2 may be any strided views (a transposed
 * operand is a [K, M] buffer described as [M, K] with strides [1, M]); out must be contiguous, as the
 * real op writes it whole. self and mat2 are float32, float16 or bfloat16; out has their promoted type
 * (float32 when they differ). cubeMathType must be 0..3; it does not change the math here (products are
 * accumulated in double), whereas on the device 1 (ALLOW_FP32_DOWN_PRECISION) computes float32 in
 * float16 on first-generation 910.
 */
#include "internal.h"

static const aclDataType mm_types[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16};
#define N_MM_TYPES ((int)(sizeof mm_types / sizeof mm_types[0]))

static void mm_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *a = &ex->in[0], *b = &ex->in[1], *out = &ex->out[0];
    int64_t M = a->dims[0], K = a->dims[1], N = b->dims[1];
    double *acc = workspace;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += tr_load(a, a->offset + i * a->strides[0] + k * a->strides[1]) *
                     tr_load(b, b->offset + k * b->strides[0] + j * b->strides[1]);
            acc[i * N + j] = s;
        }
    for (int64_t i = 0; i < M * N; i++) tr_store(out, tr_view_index(out, i), acc[i]);
}

static const tr_op tr_op_Mm = {"Mm", mm_run};

TR_EXPORT aclnnStatus aclnnMmGetWorkspaceSize(const aclTensor *self, const aclTensor *mat2, aclTensor *out,
                                              int8_t cubeMathType, uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnMm", *full = "aclnnMmGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(mat2, full, "mat2")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(self, mm_types, N_MM_TYPES, api, "self")) != 0) return rc;
    if ((rc = tr_arg_dtype(mat2, mm_types, N_MM_TYPES, api, "mat2")) != 0) return rc;
    if (self->ndim != 2 || mat2->ndim != 2)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: self has %d dims and mat2 %d; both must be 2-D", full,
                            self->ndim, mat2->ndim);
    if (self->dims[1] != mat2->dims[0]) {
        char ss[64], ms[64];
        tr_shape_str(self, ss, sizeof ss);
        tr_shape_str(mat2, ms, sizeof ms);
        return tr_violation(ACLNN_ERR_PARAM_INVALID,
                            "%s: self %s and mat2 %s: the inner dimensions differ (%lld and %lld)", full, ss, ms,
                            (long long)self->dims[1], (long long)mat2->dims[0]);
    }
    aclDataType promoted = self->dtype == mat2->dtype ? self->dtype : ACL_FLOAT;
    if (out->dtype != promoted)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: out is %s but self (%s) and mat2 (%s) give %s", full,
                            tr_dtype_name(out->dtype), tr_dtype_name(self->dtype), tr_dtype_name(mat2->dtype),
                            tr_dtype_name(promoted));
    int64_t od[2] = {self->dims[0], mat2->dims[1]};
    if ((rc = tr_check_dims(out, od, 2, api, "out")) != 0) return rc;
    if (!tr_is_contiguous(out))
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: out must be contiguous (strides [%lld,%lld] for [%lld,%lld])",
                            full, (long long)out->strides[0], (long long)out->strides[1], (long long)od[0],
                            (long long)od[1]);
    if ((rc = tr_check_cube_math(cubeMathType, promoted, full)) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_Mm);
    tr_executor_input(ex, self);
    tr_executor_input(ex, mat2);
    tr_executor_output(ex, out);
    ex->i[0] = cubeMathType;
    return tr_executor_publish(ex, (uint64_t)(od[0] * od[1]) * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(Mm)
