/* pool.c: MaxPool2dWithMask and MaxPool2dWithMaskBackward, the max pooling of first-generation 910,
 * which records the winners as a bit mask instead of indices.
 *
 * They follow the pattern of elementwise.c. self is [N, C, H, W] or [C, H, W], float32, float16 or
 * bfloat16, and out has its type. The attributes are checked as the real op checks them: kernelSize
 * has 1 or 2 values > 0; stride 0, 1 or 2 values > 0 (none: the kernel size); padding 1 or 2 values in
 * [0, kernel/2]; dilation 1 or 2 values, all 1. Padding is symmetric and padded positions count as
 * -inf. The output size is PyTorch's: floor((in + 2*pad - k) / stride) + 1, or with ceilMode the ceiling,
 * less one when the last window would start at or past in + pad (it must start inside the input or the
 * left/top padding).
 *
 * The mask ("indices") is INT8 of shape [N, C, kh*kw, (ceil(Ho*Wo/16) + 1) * 32] ([C, ...] for a 3-d
 * self), as CANN documents it: per (n, c) and kernel tap k (row-major in the window) a row of bytes
 * whose bit j (byte j/8, bit j%8: little-endian bits in 16-bit granules) is set when tap k is the
 * winner of output position j = ho*Wo + wo. Exactly one tap wins each output position: the largest
 * value, ties going to the first tap in row-major window order, a NaN beating every number (the first
 * NaN wins); padded taps never win (a window whose in-bounds values are all -inf records its first
 * in-bounds tap). All other bits, and the bytes past Ho*Wo bits, are 0. The forward writes the mask at
 * indices' storage address, as the real op does, so indices must be a contiguous view at offset 0.
 * The CANN documentation fixes the mask's dtype and shape; the bit order inside a row is this runtime's
 * model of the first-generation 910 layout, not a documented fact, and on 910B the real op fills the
 * same buffer differently: callers must treat the mask as opaque and only hand it to the backward.
 *
 * The backward adds gradOutput[j] to the input position of every tap whose bit j is set (so an
 * overlapping window accumulates), skipping taps that fall in the padding.
 */
#include "internal.h"

static const aclDataType pool_types[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16};
#define N_POOL_TYPES ((int)(sizeof pool_types / sizeof pool_types[0]))

/* Attribute slots shared by the forward and the backward. */
enum { MP_KH, MP_KW, MP_SH, MP_SW, MP_PH, MP_PW, MP_CEIL, MP_PLANES, MP_H, MP_W, MP_HO, MP_WO, MP_MASKW };

/* Reads an attribute of lo..2 values into out[2] (one value stands for both; none takes dflt). */
static aclnnStatus read_attr(const aclIntArray *a, const char *api, const char *name, uint64_t lo,
                             const int64_t *dflt, int64_t out[2]) {
    aclnnStatus rc = tr_arg_int_array(a, api, name);
    if (rc != 0) return rc;
    if (a->n < lo || a->n > 2)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%sGetWorkspaceSize: %s has %llu values; it takes %s", api, name,
                            (unsigned long long)a->n, lo == 0 ? "0, 1 or 2" : "1 or 2");
    if (a->n == 0) {
        out[0] = dflt[0];
        out[1] = dflt[1];
    } else {
        out[0] = a->v[0];
        out[1] = a->n == 2 ? a->v[1] : a->v[0];
    }
    return 0;
}

static int64_t pool_out(int64_t in, int64_t k, int64_t pad, int64_t stride, int ceil_mode) {
    int64_t span = in + 2 * pad - k;
    if (span < 0) return 0;
    int64_t o = (ceil_mode ? span + stride - 1 : span) / stride + 1;
    if (ceil_mode && (o - 1) * stride >= in + pad) o--;
    return o;
}

/* Checks self and the attributes; fills g (MP_* slots), the out dims and the mask dims (nd of each is
 * self->ndim). */
static aclnnStatus pool_check(const char *api, const aclTensor *self, const aclIntArray *kernelSize,
                              const aclIntArray *stride, const aclIntArray *padding, const aclIntArray *dilation,
                              bool ceilMode, int64_t *g, int64_t *outDims, int64_t *maskDims) {
    char full[96];
    snprintf(full, sizeof full, "%sGetWorkspaceSize", api);
    aclnnStatus rc;
    if ((rc = tr_arg_dtype(self, pool_types, N_POOL_TYPES, api, "self")) != 0) return rc;
    if (self->ndim != 3 && self->ndim != 4)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: self has %d dims; it must be [N, C, H, W] or [C, H, W]", full,
                            self->ndim);
    int nd = self->ndim;
    int64_t N = nd == 4 ? self->dims[0] : 1, C = self->dims[nd - 3], H = self->dims[nd - 2], W = self->dims[nd - 1];
    if (C == 0 || H == 0 || W == 0)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: self has an empty C, H or W", full);
    int64_t k[2], s[2], p[2], d[2];
    if ((rc = read_attr(kernelSize, api, "kernelSize", 1, NULL, k)) != 0) return rc;
    if (k[0] <= 0 || k[1] <= 0)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: kernelSize (%lld, %lld) must be positive", full,
                            (long long)k[0], (long long)k[1]);
    if ((rc = read_attr(stride, api, "stride", 0, k, s)) != 0) return rc;
    if (s[0] <= 0 || s[1] <= 0)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: stride (%lld, %lld) must be positive", full, (long long)s[0],
                            (long long)s[1]);
    if ((rc = read_attr(padding, api, "padding", 1, NULL, p)) != 0) return rc;
    for (int i = 0; i < 2; i++)
        if (p[i] < 0 || p[i] > k[i] / 2)
            return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: padding[%d] = %lld must be in [0, kernelSize/2 = %lld]",
                                full, i, (long long)p[i], (long long)(k[i] / 2));
    if ((rc = read_attr(dilation, api, "dilation", 1, NULL, d)) != 0) return rc;
    if (d[0] != 1 || d[1] != 1)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: dilation (%lld, %lld): only 1 is supported", full,
                            (long long)d[0], (long long)d[1]);
    int64_t HO = pool_out(H, k[0], p[0], s[0], ceilMode), WO = pool_out(W, k[1], p[1], s[1], ceilMode);
    if (HO <= 0 || WO <= 0)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: the kernel (%lld, %lld) is larger than the padded input (%lld, %lld)",
                            full, (long long)k[0], (long long)k[1], (long long)(H + 2 * p[0]), (long long)(W + 2 * p[1]));
    g[MP_KH] = k[0];
    g[MP_KW] = k[1];
    g[MP_SH] = s[0];
    g[MP_SW] = s[1];
    g[MP_PH] = p[0];
    g[MP_PW] = p[1];
    g[MP_CEIL] = ceilMode;
    g[MP_PLANES] = N * C;
    g[MP_H] = H;
    g[MP_W] = W;
    g[MP_HO] = HO;
    g[MP_WO] = WO;
    g[MP_MASKW] = ((HO * WO + 15) / 16 + 1) * 32;
    for (int i = 0; i < nd - 2; i++) outDims[i] = maskDims[i] = self->dims[i];
    outDims[nd - 2] = HO;
    outDims[nd - 1] = WO;
    maskDims[nd - 2] = k[0] * k[1];
    maskDims[nd - 1] = g[MP_MASKW];
    return 0;
}

/* Checks that indices is an INT8 mask of the shape the geometry gives. */
static aclnnStatus check_mask(const aclTensor *indices, const int64_t *maskDims, int nd, const char *api) {
    if (indices->dtype != ACL_INT8)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%sGetWorkspaceSize: indices has dtype %s; the mask is INT8", api,
                            tr_dtype_name(indices->dtype));
    return tr_check_dims(indices, maskDims, nd, api, "indices");
}

/* Both operators' documentation: "输入数据暂不支持NaN、-Inf" (input data does not support NaN or
 * -Inf yet). The values are only known when the kernel runs, so that is when a NaN or -Inf in self
 * (the forward's input, which the backward takes too) is reported as a violation; the kernel then
 * computes as if nothing were wrong. gradOutput is not checked: the documentation does not say it. */
static void check_input_values(const aclTensor *x, const char *api) {
    int64_t n = tr_numel(x);
    for (int64_t i = 0; i < n; i++) {
        double v = tr_load(x, tr_view_index(x, i));
        if (isnan(v) || v == -INFINITY) {
            tr_violation(ACLNN_ERR_PARAM_INVALID,
                         "%s: self[%lld] is %s: the operator does not take NaN or -Inf input (pad with the "
                         "type's lowest finite value instead of -Inf)",
                         api, (long long)i, isnan(v) ? "NaN" : "-Inf");
            return;
        }
    }
}

/* BFLOAT16 is not supported on the first-generation 910. */
static aclnnStatus check_pool_dtype(const aclTensor *self, const char *api) {
    if (self->dtype == ACL_BF16 && tr_soc_gen() == TR_SOC_910)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%sGetWorkspaceSize: BFLOAT16 self is not supported on %s", api,
                            tr_soc_name());
    return 0;
}

/* ---- MaxPool2dWithMask ---- */

static void max_pool_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *x = &ex->in[0], *out = &ex->out[0], *mask = &ex->out[1];
    const int64_t *g = ex->i;
    int64_t P = g[MP_PLANES], H = g[MP_H], W = g[MP_W], HO = g[MP_HO], WO = g[MP_WO], KK = g[MP_KH] * g[MP_KW];
    double *y = workspace;
    check_input_values(x, "aclnnMaxPool2dWithMask");
    uint8_t *bits = mask->data;
    memset(bits, 0, (size_t)tr_numel(mask));
    for (int64_t pl = 0; pl < P; pl++)
        for (int64_t ho = 0; ho < HO; ho++)
            for (int64_t wo = 0; wo < WO; wo++) {
                double best = -INFINITY;
                int64_t win = -1;
                for (int64_t kh = 0; kh < g[MP_KH]; kh++) {
                    int64_t ih = ho * g[MP_SH] - g[MP_PH] + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kw = 0; kw < g[MP_KW]; kw++) {
                        int64_t iw = wo * g[MP_SW] - g[MP_PW] + kw;
                        if (iw < 0 || iw >= W) continue;
                        double v = tr_load(x, tr_view_index(x, (pl * H + ih) * W + iw));
                        if (win < 0 || v > best || (isnan(v) && !isnan(best))) {
                            best = v;
                            win = kh * g[MP_KW] + kw;
                        }
                    }
                }
                int64_t j = ho * WO + wo;
                y[pl * HO * WO + j] = best;
                if (win >= 0) /* always: padding <= kernel/2 leaves an in-bounds tap in every window */
                    bits[(pl * KK + win) * g[MP_MASKW] + j / 8] |= (uint8_t)(1u << (j % 8));
            }
    for (int64_t i = 0; i < P * HO * WO; i++) tr_store(out, tr_view_index(out, i), y[i]);
}

static const tr_op tr_op_MaxPool2dWithMask = {"MaxPool2dWithMask", max_pool_run};

TR_EXPORT aclnnStatus aclnnMaxPool2dWithMaskGetWorkspaceSize(const aclTensor *self, const aclIntArray *kernelSize,
                                                             const aclIntArray *stride, const aclIntArray *padding,
                                                             const aclIntArray *dilation, bool ceilMode,
                                                             aclTensor *out, aclTensor *indices,
                                                             uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnMaxPool2dWithMask", *full = "aclnnMaxPool2dWithMaskGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_tensor(indices, full, "indices")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    int64_t g[TR_MAX_ATTR], od[4], md[4];
    if ((rc = pool_check(api, self, kernelSize, stride, padding, dilation, ceilMode, g, od, md)) != 0) return rc;
    if ((rc = check_pool_dtype(self, api)) != 0) return rc;
    if ((rc = tr_check_dims(out, od, self->ndim, api, "out")) != 0) return rc;
    if ((rc = tr_check_dtype_as(out, self, api, "out", "self")) != 0) return rc;
    if ((rc = check_mask(indices, md, self->ndim, api)) != 0) return rc;
    if (!tr_is_contiguous(indices) || indices->offset != 0)
        return tr_violation(ACLNN_ERR_PARAM_INVALID,
                            "%s: indices must be a contiguous view at offset 0 (the mask is written at its storage "
                            "address)",
                            full);
    aclOpExecutor *ex = tr_executor_new(&tr_op_MaxPool2dWithMask);
    tr_executor_input(ex, self);
    tr_executor_output(ex, out);
    tr_executor_output(ex, indices);
    for (int i = 0; i <= MP_MASKW; i++) ex->i[i] = g[i];
    return tr_executor_publish(ex, (uint64_t)tr_numel(out) * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(MaxPool2dWithMask)

/* ---- MaxPool2dWithMaskBackward ---- */

static void max_pool_backward_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *gy = &ex->in[0], *mask = &ex->in[2], *gx = &ex->out[0];
    const int64_t *g = ex->i;
    int64_t P = g[MP_PLANES], H = g[MP_H], W = g[MP_W], HO = g[MP_HO], WO = g[MP_WO], KK = g[MP_KH] * g[MP_KW];
    double *acc = workspace;
    check_input_values(&ex->in[1], "aclnnMaxPool2dWithMaskBackward");
    for (int64_t i = 0; i < P * H * W; i++) acc[i] = 0;
    for (int64_t pl = 0; pl < P; pl++)
        for (int64_t j = 0; j < HO * WO; j++) {
            int64_t ho = j / WO, wo = j % WO;
            double d = tr_load(gy, tr_view_index(gy, pl * HO * WO + j));
            for (int64_t k = 0; k < KK; k++) {
                int byte = (int)tr_load(mask, tr_view_index(mask, (pl * KK + k) * g[MP_MASKW] + j / 8)) & 0xff;
                if (!(byte >> (j % 8) & 1)) continue;
                int64_t ih = ho * g[MP_SH] - g[MP_PH] + k / g[MP_KW], iw = wo * g[MP_SW] - g[MP_PW] + k % g[MP_KW];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc[(pl * H + ih) * W + iw] += d;
            }
        }
    for (int64_t i = 0; i < P * H * W; i++) tr_store(gx, tr_view_index(gx, i), acc[i]);
}

static const tr_op tr_op_MaxPool2dWithMaskBackward = {"MaxPool2dWithMaskBackward", max_pool_backward_run};

TR_EXPORT aclnnStatus aclnnMaxPool2dWithMaskBackwardGetWorkspaceSize(
    const aclTensor *gradOutput, const aclTensor *self, const aclTensor *indices, const aclIntArray *kernelSize,
    const aclIntArray *stride, const aclIntArray *padding, const aclIntArray *dilation, bool ceilMode,
    aclTensor *gradInput, uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnMaxPool2dWithMaskBackward", *full = "aclnnMaxPool2dWithMaskBackwardGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(gradOutput, full, "gradOutput")) != 0) return rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(indices, full, "indices")) != 0) return rc;
    if ((rc = tr_arg_tensor(gradInput, full, "gradInput")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    int64_t g[TR_MAX_ATTR], od[4], md[4];
    if ((rc = pool_check(api, self, kernelSize, stride, padding, dilation, ceilMode, g, od, md)) != 0) return rc;
    if ((rc = check_pool_dtype(self, api)) != 0) return rc;
    if ((rc = tr_check_dims(gradOutput, od, self->ndim, api, "gradOutput")) != 0) return rc;
    if ((rc = tr_check_dtype_as(gradOutput, self, api, "gradOutput", "self")) != 0) return rc;
    if ((rc = check_mask(indices, md, self->ndim, api)) != 0) return rc;
    if ((rc = tr_check_dims(gradInput, self->dims, self->ndim, api, "gradInput")) != 0) return rc;
    if ((rc = tr_check_dtype_as(gradInput, self, api, "gradInput", "self")) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_MaxPool2dWithMaskBackward);
    tr_executor_input(ex, gradOutput);
    tr_executor_input(ex, self);
    tr_executor_input(ex, indices);
    tr_executor_output(ex, gradInput);
    for (int i = 0; i <= MP_MASKW; i++) ex->i[i] = g[i];
    return tr_executor_publish(ex, (uint64_t)tr_numel(self) * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(MaxPool2dWithMaskBackward)
