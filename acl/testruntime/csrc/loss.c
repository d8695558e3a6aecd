/* loss.c: LogSoftmax and its backward, NLLLoss and its backward (the classifier's loss).
 *
 * They follow the pattern of elementwise.c, accumulating in double and staging results in the
 * workspace.
 *   - LogSoftmax(self, dim, out): out = self - max - log(sum(exp(self - max))) along dim; self and out
 *     float32, float16, bfloat16 or float64, of one shape.
 *   - LogSoftmaxBackward(gradOutput, output, dim, out): out = gradOutput - exp(output) * sum(gradOutput,
 *     dim), output being the forward's result; gradOutput, output and out of one shape, gradOutput and
 *     output of one type.
 *   - NLLLoss(self [N, C] or [C], target [N] or [], weight [C], reduction, ignoreIndex, out,
 *     totalWeightOut): l_n = -weight[t_n] * self[n, t_n], 0 where t_n == ignoreIndex; reduction 0 (none)
 *     gives out [N] (a single element for a [C] self), 1 (mean) sum(l) / sum(weight[t_n]) and 2 (sum)
 *     sum(l), each a single element ([] or [1]). totalWeightOut (one element) receives sum(weight[t_n])
 *     over the targets not ignored, whatever the reduction (the real op defines it for mean and sum).
 *     target is INT64, INT32 or UINT8; weight is required and has self's type. A target outside [0, C)
 *     that is not ignoreIndex is a contract violation reported when the kernel runs (the loss is NaN).
 *   - NLLLossBackward(gradOutput, self, target, weight, reduction, ignoreIndex, totalWeight, out):
 *     out[n, t_n] = -g * weight[t_n] (divided by totalWeight for mean), 0 elsewhere; g is gradOutput[n]
 *     for reduction none with a [N, C] self, else gradOutput's single element.
 */
#include "internal.h"

static const aclDataType softmax_types[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16, ACL_DOUBLE};
#define N_SOFTMAX_TYPES ((int)(sizeof softmax_types / sizeof softmax_types[0]))
static const aclDataType loss_types[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16};
#define N_LOSS_TYPES ((int)(sizeof loss_types / sizeof loss_types[0]))
static const aclDataType target_types[] = {ACL_INT64, ACL_INT32, ACL_UINT8};
#define N_TARGET_TYPES ((int)(sizeof target_types / sizeof target_types[0]))

/* ---- the softmax axis ---- */

enum { SM_OUTER, SM_LEN, SM_INNER };

/* Checks dim against t's rank and splits t's shape around it into outer, len and inner (the element
 * (o, l, i) is at row-major position (o * len + l) * inner + i). */
static aclnnStatus split_dim(const aclTensor *t, int64_t dim, const char *full, int64_t *g) {
    int range = t->ndim > 0 ? t->ndim : 1;
    if (dim < -range || dim >= range)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: dim %lld is outside [%d, %d] for a %d-d tensor", full,
                            (long long)dim, -range, range - 1, t->ndim);
    if (dim < 0) dim += range;
    g[SM_OUTER] = g[SM_LEN] = g[SM_INNER] = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (i < dim)
            g[SM_OUTER] *= t->dims[i];
        else if (i == dim)
            g[SM_LEN] = t->dims[i];
        else
            g[SM_INNER] *= t->dims[i];
    }
    return 0;
}

static int64_t sm_pos(const int64_t *g, int64_t o, int64_t l, int64_t i) { return (o * g[SM_LEN] + l) * g[SM_INNER] + i; }

/* ---- LogSoftmax ---- */

static void log_softmax_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *x = &ex->in[0], *out = &ex->out[0];
    const int64_t *g = ex->i;
    double *y = workspace;
    for (int64_t o = 0; o < g[SM_OUTER]; o++)
        for (int64_t i = 0; i < g[SM_INNER]; i++) {
            double m = -INFINITY, s = 0;
            for (int64_t l = 0; l < g[SM_LEN]; l++) {
                double v = tr_load(x, tr_view_index(x, sm_pos(g, o, l, i)));
                if (v > m || isnan(v)) m = v;
            }
            for (int64_t l = 0; l < g[SM_LEN]; l++) s += exp(tr_load(x, tr_view_index(x, sm_pos(g, o, l, i))) - m);
            double lse = m + log(s);
            for (int64_t l = 0; l < g[SM_LEN]; l++) {
                int64_t p = sm_pos(g, o, l, i);
                y[p] = tr_load(x, tr_view_index(x, p)) - lse;
            }
        }
    int64_t n = tr_numel(out);
    for (int64_t p = 0; p < n; p++) tr_store(out, tr_view_index(out, p), y[p]);
}

static const tr_op tr_op_LogSoftmax = {"LogSoftmax", log_softmax_run};

TR_EXPORT aclnnStatus aclnnLogSoftmaxGetWorkspaceSize(const aclTensor *self, int64_t dim, aclTensor *out,
                                                      uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnLogSoftmax", *full = "aclnnLogSoftmaxGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(self, softmax_types, N_SOFTMAX_TYPES, api, "self")) != 0) return rc;
    if ((rc = tr_arg_dtype(out, softmax_types, N_SOFTMAX_TYPES, api, "out")) != 0) return rc;
    if ((rc = tr_check_dims(out, self->dims, self->ndim, api, "out")) != 0) return rc;
    int64_t g[3];
    if ((rc = split_dim(self, dim, full, g)) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_LogSoftmax);
    tr_executor_input(ex, self);
    tr_executor_output(ex, out);
    for (int k = 0; k < 3; k++) ex->i[k] = g[k];
    return tr_executor_publish(ex, (uint64_t)tr_numel(self) * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(LogSoftmax)

/* ---- LogSoftmaxBackward ---- */

static void log_softmax_backward_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *gy = &ex->in[0], *y = &ex->in[1], *out = &ex->out[0];
    const int64_t *g = ex->i;
    double *gx = workspace;
    for (int64_t o = 0; o < g[SM_OUTER]; o++)
        for (int64_t i = 0; i < g[SM_INNER]; i++) {
            double s = 0;
            for (int64_t l = 0; l < g[SM_LEN]; l++) s += tr_load(gy, tr_view_index(gy, sm_pos(g, o, l, i)));
            for (int64_t l = 0; l < g[SM_LEN]; l++) {
                int64_t p = sm_pos(g, o, l, i);
                gx[p] = tr_load(gy, tr_view_index(gy, p)) - exp(tr_load(y, tr_view_index(y, p))) * s;
            }
        }
    int64_t n = tr_numel(out);
    for (int64_t p = 0; p < n; p++) tr_store(out, tr_view_index(out, p), gx[p]);
}

static const tr_op tr_op_LogSoftmaxBackward = {"LogSoftmaxBackward", log_softmax_backward_run};

TR_EXPORT aclnnStatus aclnnLogSoftmaxBackwardGetWorkspaceSize(const aclTensor *gradOutput, const aclTensor *output,
                                                              int64_t dim, aclTensor *out, uint64_t *workspaceSize,
                                                              aclOpExecutor **executor) {
    const char *api = "aclnnLogSoftmaxBackward", *full = "aclnnLogSoftmaxBackwardGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(gradOutput, full, "gradOutput")) != 0) return rc;
    if ((rc = tr_arg_tensor(output, full, "output")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(gradOutput, loss_types, N_LOSS_TYPES, api, "gradOutput")) != 0) return rc;
    if ((rc = tr_check_dtype_as(output, gradOutput, api, "output", "gradOutput")) != 0) return rc;
    if ((rc = tr_arg_dtype(out, loss_types, N_LOSS_TYPES, api, "out")) != 0) return rc;
    if ((rc = tr_check_dims(output, gradOutput->dims, gradOutput->ndim, api, "output")) != 0) return rc;
    if ((rc = tr_check_dims(out, gradOutput->dims, gradOutput->ndim, api, "out")) != 0) return rc;
    int64_t g[3];
    if ((rc = split_dim(gradOutput, dim, full, g)) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_LogSoftmaxBackward);
    tr_executor_input(ex, gradOutput);
    tr_executor_input(ex, output);
    tr_executor_output(ex, out);
    for (int k = 0; k < 3; k++) ex->i[k] = g[k];
    return tr_executor_publish(ex, (uint64_t)tr_numel(gradOutput) * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(LogSoftmaxBackward)

/* ---- NLLLoss ---- */

enum { NL_N, NL_C, NL_REDUCTION, NL_IGNORE, NL_BATCHED };

/* Checks self, target and weight; fills g (NL_* slots). */
static aclnnStatus nll_check(const char *api, const aclTensor *self, const aclTensor *target, const aclTensor *weight,
                             int64_t reduction, int64_t ignoreIndex, int64_t *g) {
    char full[96];
    snprintf(full, sizeof full, "%sGetWorkspaceSize", api);
    aclnnStatus rc;
    if ((rc = tr_arg_dtype(self, loss_types, N_LOSS_TYPES, api, "self")) != 0) return rc;
    int ok = 0;
    for (int i = 0; i < N_TARGET_TYPES; i++) ok |= target->dtype == target_types[i];
    if (!ok)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: target has dtype %s; class indices are INT64, INT32 or UINT8",
                            full, tr_dtype_name(target->dtype));
    if ((rc = tr_check_dtype_as(weight, self, api, "weight", "self")) != 0) return rc;
    if (self->ndim != 1 && self->ndim != 2)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: self has %d dims; it must be [N, C] or [C]", full, self->ndim);
    int batched = self->ndim == 2;
    int64_t N = batched ? self->dims[0] : 1, C = self->dims[self->ndim - 1];
    if ((rc = tr_check_dims(target, &N, batched, api, "target")) != 0) return rc;
    if ((rc = tr_check_dims(weight, &C, 1, api, "weight")) != 0) return rc;
    if (reduction < 0 || reduction > 2)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: reduction %lld is not 0 (none), 1 (mean) or 2 (sum)", full,
                            (long long)reduction);
    g[NL_N] = N;
    g[NL_C] = C;
    g[NL_REDUCTION] = reduction;
    g[NL_IGNORE] = ignoreIndex;
    g[NL_BATCHED] = batched;
    return 0;
}

/* Checks that t holds a single element in at most one dim ([] or [1]). */
static aclnnStatus check_single(const aclTensor *t, const char *api, const char *name) {
    if (t->ndim <= 1 && tr_numel(t) == 1) return 0;
    char s[128];
    tr_shape_str(t, s, sizeof s);
    return tr_violation(ACLNN_ERR_PARAM_INVALID, "%sGetWorkspaceSize: %s has shape %s, expected a single element ([] or [1])",
                        api, name, s);
}

/* The class of row n, or -1 when it is ignored. A class outside [0, C) is a violation (-2). */
static int64_t nll_class(const aclOpExecutor *ex, const aclTensor *target, int64_t n, const char *api) {
    int64_t t = tr_as_index(tr_load(target, tr_view_index(target, n)));
    if (t == ex->i[NL_IGNORE]) return -1;
    if (t < 0 || t >= ex->i[NL_C]) {
        tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: target[%lld] = %lld is outside [0, %lld) and is not ignoreIndex %lld",
                     api, (long long)n, (long long)t, (long long)ex->i[NL_C], (long long)ex->i[NL_IGNORE]);
        return -2;
    }
    return t;
}

static void nll_loss_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *x = &ex->in[0], *target = &ex->in[1], *weight = &ex->in[2];
    const aclTensor *out = &ex->out[0], *total = &ex->out[1];
    int64_t N = ex->i[NL_N], C = ex->i[NL_C];
    double *l = workspace, sum = 0, wsum = 0;
    for (int64_t n = 0; n < N; n++) {
        int64_t t = nll_class(ex, target, n, "aclnnNLLLoss");
        l[n] = 0;
        if (t == -2) l[n] = NAN;
        if (t < 0) {
            sum += l[n];
            continue;
        }
        double w = tr_load(weight, tr_view_index(weight, t));
        l[n] = -w * tr_load(x, tr_view_index(x, n * C + t));
        sum += l[n];
        wsum += w;
    }
    if (ex->i[NL_REDUCTION] == 0 && ex->i[NL_BATCHED]) {
        for (int64_t n = 0; n < N; n++) tr_store(out, tr_view_index(out, n), l[n]);
    } else {
        double v = ex->i[NL_REDUCTION] == 1 ? sum / wsum : sum;
        tr_store(out, tr_view_index(out, 0), v);
    }
    tr_store(total, tr_view_index(total, 0), wsum);
}

static const tr_op tr_op_NLLLoss = {"NLLLoss", nll_loss_run};

TR_EXPORT aclnnStatus aclnnNLLLossGetWorkspaceSize(const aclTensor *self, const aclTensor *target,
                                                   const aclTensor *weight, int64_t reduction, int64_t ignoreIndex,
                                                   aclTensor *out, aclTensor *totalWeightOut, uint64_t *workspaceSize,
                                                   aclOpExecutor **executor) {
    const char *api = "aclnnNLLLoss", *full = "aclnnNLLLossGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(target, full, "target")) != 0) return rc;
    if ((rc = tr_arg_tensor(weight, full, "weight")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_tensor(totalWeightOut, full, "totalWeightOut")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    int64_t g[TR_MAX_ATTR];
    if ((rc = nll_check(api, self, target, weight, reduction, ignoreIndex, g)) != 0) return rc;
    if ((rc = tr_arg_dtype(out, loss_types, N_LOSS_TYPES, api, "out")) != 0) return rc;
    if ((rc = tr_arg_dtype(totalWeightOut, loss_types, N_LOSS_TYPES, api, "totalWeightOut")) != 0) return rc;
    if (reduction == 0 && g[NL_BATCHED])
        rc = tr_check_dims(out, &g[NL_N], 1, api, "out");
    else
        rc = check_single(out, api, "out");
    if (rc != 0) return rc;
    if ((rc = check_single(totalWeightOut, api, "totalWeightOut")) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_NLLLoss);
    tr_executor_input(ex, self);
    tr_executor_input(ex, target);
    tr_executor_input(ex, weight);
    tr_executor_output(ex, out);
    tr_executor_output(ex, totalWeightOut);
    for (int k = 0; k <= NL_BATCHED; k++) ex->i[k] = g[k];
    return tr_executor_publish(ex, (uint64_t)g[NL_N] * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(NLLLoss)

/* ---- NLLLossBackward ---- */

static void nll_loss_backward_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *gy = &ex->in[0], *target = &ex->in[2], *weight = &ex->in[3], *total = &ex->in[4];
    const aclTensor *out = &ex->out[0];
    int64_t N = ex->i[NL_N], C = ex->i[NL_C];
    int perRow = ex->i[NL_REDUCTION] == 0 && ex->i[NL_BATCHED];
    double *gx = workspace;
    for (int64_t k = 0; k < N * C; k++) gx[k] = 0;
    double tw = tr_load(total, tr_view_index(total, 0));
    for (int64_t n = 0; n < N; n++) {
        int64_t t = nll_class(ex, target, n, "aclnnNLLLossBackward");
        if (t < 0) continue;
        double g = tr_load(gy, tr_view_index(gy, perRow ? n : 0));
        double v = -g * tr_load(weight, tr_view_index(weight, t));
        if (ex->i[NL_REDUCTION] == 1) v /= tw;
        gx[n * C + t] = v;
    }
    for (int64_t k = 0; k < N * C; k++) tr_store(out, tr_view_index(out, k), gx[k]);
}

static const tr_op tr_op_NLLLossBackward = {"NLLLossBackward", nll_loss_backward_run};

TR_EXPORT aclnnStatus aclnnNLLLossBackwardGetWorkspaceSize(const aclTensor *gradOutput, const aclTensor *self,
                                                           const aclTensor *target, const aclTensor *weight,
                                                           int64_t reduction, int64_t ignoreIndex,
                                                           const aclTensor *totalWeight, aclTensor *out,
                                                           uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnNLLLossBackward", *full = "aclnnNLLLossBackwardGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(gradOutput, full, "gradOutput")) != 0) return rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(target, full, "target")) != 0) return rc;
    if ((rc = tr_arg_tensor(weight, full, "weight")) != 0) return rc;
    if ((rc = tr_arg_tensor(totalWeight, full, "totalWeight")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    int64_t g[TR_MAX_ATTR];
    if ((rc = nll_check(api, self, target, weight, reduction, ignoreIndex, g)) != 0) return rc;
    if ((rc = tr_check_dtype_as(gradOutput, self, api, "gradOutput", "self")) != 0) return rc;
    if ((rc = tr_check_dtype_as(totalWeight, self, api, "totalWeight", "self")) != 0) return rc;
    if ((rc = tr_arg_dtype(out, loss_types, N_LOSS_TYPES, api, "out")) != 0) return rc;
    if (reduction == 0 && g[NL_BATCHED])
        rc = tr_check_dims(gradOutput, &g[NL_N], 1, api, "gradOutput");
    else
        rc = check_single(gradOutput, api, "gradOutput");
    if (rc != 0) return rc;
    if ((rc = check_single(totalWeight, api, "totalWeight")) != 0) return rc;
    if ((rc = tr_check_dims(out, self->dims, self->ndim, api, "out")) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_NLLLossBackward);
    tr_executor_input(ex, gradOutput);
    tr_executor_input(ex, self);
    tr_executor_input(ex, target);
    tr_executor_input(ex, weight);
    tr_executor_input(ex, totalWeight);
    tr_executor_output(ex, out);
    for (int k = 0; k <= NL_BATCHED; k++) ex->i[k] = g[k];
    return tr_executor_publish(ex, (uint64_t)(g[NL_N] * g[NL_C]) * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(NLLLossBackward)
