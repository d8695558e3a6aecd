/* nn.c: the training kernels of a convolutional network: Convolution and its backward, BatchNorm and
 * its backward, ThresholdBackward (the ReLU gradient).
 *
 * They follow the pattern of elementwise.c. Convolutions are 2-D only (NCHW input, OIHW weight, stride,
 * padding and dilation arrays of two values), not transposed; batch norm takes any [N, C, ...] input.
 * Kernels accumulate in double and stage every result in the workspace before storing it. Absent
 * optional tensors (NULL) are not recorded in the executor, so aclSet{Input,Output}TensorAddr index
 * the tensors that were given, in argument order; the integer attributes remember each tensor's slot
 * (-1 when absent).
 *
 * Batch norm behaves as on 910, 910B and 910_93, whichever path (BatchNormV3 on 910B with NCHW input
 * and at least 64 channels, BNTrainingReduce/Update elsewhere) the real op takes: in training,
 * saveInvstd receives the biased batch variance, not 1/sqrt(var + eps) (ops-nn's aclnnBatchNorm
 * documentation: "saveInvstd表示input的方差" for the training series and A2/A3), and
 * BatchNormBackward reads saveInvstd as that variance and computes 1/sqrt(var + eps) with its own eps
 * argument, which must therefore be the forward's.
 */
#include "internal.h"

static const aclDataType float_types[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16};
#define N_FLOAT_TYPES ((int)(sizeof float_types / sizeof float_types[0]))
static const aclDataType float_and_int[] = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16, ACL_INT32};
#define N_FLOAT_AND_INT ((int)(sizeof float_and_int / sizeof float_and_int[0]))

/* Records t as the next input (or output) when present; returns its slot or -1. */
static int64_t opt_input(aclOpExecutor *ex, const aclTensor *t) {
    if (t == NULL) return -1;
    tr_executor_input(ex, t);
    return ex->nin - 1;
}

static int64_t opt_output(aclOpExecutor *ex, const aclTensor *t) {
    if (t == NULL) return -1;
    tr_executor_output(ex, t);
    return ex->nout - 1;
}

/* Element (n, c, h, w) of a 4-D view. */
static int64_t at4(const aclTensor *t, int64_t n, int64_t c, int64_t h, int64_t w) {
    return t->offset + n * t->strides[0] + c * t->strides[1] + h * t->strides[2] + w * t->strides[3];
}

/* ---- convolution geometry, shared by the forward and the backward ---- */

enum { CV_S0, CV_S1, CV_P0, CV_P1, CV_D0, CV_D1, CV_GROUPS };

static aclnnStatus read_pair(const aclIntArray *a, const char *api, const char *name, int64_t min, int64_t *out) {
    char full[96];
    snprintf(full, sizeof full, "%sGetWorkspaceSize", api);
    aclnnStatus rc = tr_arg_array(a, TR_INT_ARRAY, full, name);
    if (rc != 0) return rc;
    if (a->n != 2)
        return tr_violation(ACLNN_ERR_PARAM_INVALID,
                            "%s: %s has %llu values; the test runtime's 2-D convolution takes 2", full, name,
                            (unsigned long long)a->n);
    for (int i = 0; i < 2; i++) {
        if (a->v[i] < min)
            return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: %s[%d] is %lld, must be at least %lld", full, name, i,
                                (long long)a->v[i], (long long)min);
        out[i] = a->v[i];
    }
    return 0;
}

/* Checks input, weight and the attributes of a convolution; fills g (CV_* order) and the output dims. */
static aclnnStatus conv_check(const char *api, const aclTensor *input, const aclTensor *weight,
                              const aclIntArray *stride, const aclIntArray *padding, const aclIntArray *dilation,
                              bool transposed, const aclIntArray *outputPadding, int64_t groups, int8_t cube,
                              int64_t *g, int64_t *outDims) {
    char full[96];
    snprintf(full, sizeof full, "%sGetWorkspaceSize", api);
    aclnnStatus rc;
    if ((rc = tr_arg_dtype(input, float_types, N_FLOAT_TYPES, api, "input")) != 0) return rc;
    if ((rc = tr_check_dtype_as(weight, input, api, "weight", "input")) != 0) return rc;
    if (input->ndim != 4 || weight->ndim != 4)
        return tr_violation(ACLNN_ERR_PARAM_INVALID,
                            "%s: input has %d dims and weight %d; the test runtime's convolution is 2-D (4 dims)",
                            full, input->ndim, weight->ndim);
    if (transposed)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: transposed convolution is not supported", full);
    if ((rc = read_pair(stride, api, "stride", 1, &g[CV_S0])) != 0) return rc;
    if ((rc = read_pair(padding, api, "padding", 0, &g[CV_P0])) != 0) return rc;
    if ((rc = read_pair(dilation, api, "dilation", 1, &g[CV_D0])) != 0) return rc;
    if (outputPadding != NULL && (rc = tr_arg_array(outputPadding, TR_INT_ARRAY, full, "outputPadding")) != 0)
        return rc;
    if ((rc = tr_check_cube_math(cube, input->dtype, full)) != 0) return rc;
    int64_t cin = input->dims[1], cout = weight->dims[0];
    if (groups < 1 || cin != weight->dims[1] * groups || cout % groups != 0)
        return tr_violation(ACLNN_ERR_PARAM_INVALID,
                            "%s: groups %lld does not fit input channels %lld, weight [%lld,%lld,...] "
                            "(input channels must be groups * weight dim 1, weight dim 0 a multiple of groups)",
                            full, (long long)groups, (long long)cin, (long long)cout, (long long)weight->dims[1]);
    g[CV_GROUPS] = groups;
    outDims[0] = input->dims[0];
    outDims[1] = cout;
    for (int i = 0; i < 2; i++) {
        int64_t span = input->dims[2 + i] + 2 * g[CV_P0 + i] - g[CV_D0 + i] * (weight->dims[2 + i] - 1) - 1;
        if (span < 0 || weight->dims[2 + i] < 1)
            return tr_violation(ACLNN_ERR_PARAM_INVALID,
                                "%s: the dilated kernel (%lld, dilation %lld) is larger than the padded input "
                                "(%lld + 2*%lld) in spatial dim %d",
                                full, (long long)weight->dims[2 + i], (long long)g[CV_D0 + i],
                                (long long)input->dims[2 + i], (long long)g[CV_P0 + i], i);
        outDims[2 + i] = span / g[CV_S0 + i] + 1;
    }
    return 0;
}

/* ---- Convolution: output = conv2d(input, weight) + bias ---- */

enum { CF_BIAS = CV_GROUPS + 1 };

/* conv_tap is one multiply-add of a convolution: output element k, at (n, co, oh, ow) of y, takes
   input channel c (channel ci of its group) at (ih, iw) times weight (co, ci, kh, kw). */
typedef struct {
    int64_t k, n, co, oh, ow, c, ci, kh, kw, ih, iw;
} conv_tap;

/* conv_walk calls fn for every tap of the convolution of x by wt into y (geometry g), output by
   output in C order, skipping taps that fall in the padding: the one loop nest the forward and the
   backward share. */
static void conv_walk(const aclTensor *x, const aclTensor *wt, const aclTensor *y, const int64_t *g,
                      void (*fn)(void *ctx, const conv_tap *t), void *ctx) {
    int64_t N = y->dims[0], CO = y->dims[1], HO = y->dims[2], WO = y->dims[3];
    int64_t H = x->dims[2], W = x->dims[3], KH = wt->dims[2], KW = wt->dims[3];
    int64_t cig = wt->dims[1], cog = CO / g[CV_GROUPS];
    conv_tap t = {0};
    for (t.n = 0; t.n < N; t.n++)
        for (t.co = 0; t.co < CO; t.co++)
            for (t.oh = 0; t.oh < HO; t.oh++)
                for (t.ow = 0; t.ow < WO; t.ow++, t.k++)
                    for (t.ci = 0; t.ci < cig; t.ci++) {
                        t.c = t.co / cog * cig + t.ci;
                        for (t.kh = 0; t.kh < KH; t.kh++) {
                            t.ih = t.oh * g[CV_S0] - g[CV_P0] + t.kh * g[CV_D0];
                            if (t.ih < 0 || t.ih >= H) continue;
                            for (t.kw = 0; t.kw < KW; t.kw++) {
                                t.iw = t.ow * g[CV_S1] - g[CV_P1] + t.kw * g[CV_D1];
                                if (t.iw < 0 || t.iw >= W) continue;
                                fn(ctx, &t);
                            }
                        }
                    }
}

/* conv_ctx carries the operands to the tap functions. */
typedef struct {
    const aclTensor *x, *wt, *gy;
    double *y, *gx, *gw; /* accumulators in the workspace */
} conv_ctx;

static void forward_tap(void *ctx, const conv_tap *t) {
    conv_ctx *c = ctx;
    c->y[t->k] += tr_load(c->x, at4(c->x, t->n, t->c, t->ih, t->iw)) * tr_load(c->wt, at4(c->wt, t->co, t->ci, t->kh, t->kw));
}

static void convolution_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *x = &ex->in[0], *wt = &ex->in[1], *out = &ex->out[0];
    const aclTensor *bias = ex->i[CF_BIAS] >= 0 ? &ex->in[ex->i[CF_BIAS]] : NULL;
    int64_t N = out->dims[0], CO = out->dims[1], HO = out->dims[2], WO = out->dims[3];
    conv_ctx c = {.x = x, .wt = wt, .y = workspace};
    int64_t k = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t co = 0; co < CO; co++)
            for (int64_t p = 0; p < HO * WO; p++) c.y[k++] = bias ? tr_load(bias, tr_view_index(bias, co)) : 0;
    conv_walk(x, wt, out, ex->i, forward_tap, &c);
    k = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t co = 0; co < CO; co++)
            for (int64_t oh = 0; oh < HO; oh++)
                for (int64_t ow = 0; ow < WO; ow++) tr_store(out, at4(out, n, co, oh, ow), c.y[k++]);
}

static const tr_op tr_op_Convolution = {"Convolution", convolution_run};

TR_EXPORT aclnnStatus aclnnConvolutionGetWorkspaceSize(const aclTensor *input, const aclTensor *weight,
                                                       const aclTensor *bias, const aclIntArray *stride,
                                                       const aclIntArray *padding, const aclIntArray *dilation,
                                                       bool transposed, const aclIntArray *outputPadding,
                                                       const int64_t groups, aclTensor *output, int8_t cubeMathType,
                                                       uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnConvolution", *full = "aclnnConvolutionGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(input, full, "input")) != 0) return rc;
    if ((rc = tr_arg_tensor(weight, full, "weight")) != 0) return rc;
    if (bias != NULL && (rc = tr_arg_tensor(bias, full, "bias")) != 0) return rc;
    if ((rc = tr_arg_tensor(output, full, "output")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    int64_t g[TR_MAX_ATTR], od[4];
    if ((rc = conv_check(api, input, weight, stride, padding, dilation, transposed, outputPadding, groups,
                         cubeMathType, g, od)) != 0)
        return rc;
    if (bias != NULL) {
        if ((rc = tr_check_dims(bias, &od[1], 1, api, "bias")) != 0) return rc;
        if ((rc = tr_check_dtype_as(bias, input, api, "bias", "input")) != 0) return rc;
    }
    if ((rc = tr_check_dims(output, od, 4, api, "output")) != 0) return rc;
    if ((rc = tr_check_dtype_as(output, input, api, "output", "input")) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_Convolution);
    tr_executor_input(ex, input);
    tr_executor_input(ex, weight);
    for (int i = 0; i <= CV_GROUPS; i++) ex->i[i] = g[i];
    ex->i[CF_BIAS] = opt_input(ex, bias);
    tr_executor_output(ex, output);
    return tr_executor_publish(ex, (uint64_t)tr_numel(output) * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(Convolution)

/* ---- ConvolutionBackward: gradInput, gradWeight, gradBias as outputMask asks ---- */

enum { CB_GI = CV_GROUPS + 1, CB_GW, CB_GB };

static void backward_tap(void *ctx, const conv_tap *t) {
    conv_ctx *c = ctx;
    int64_t C = c->x->dims[1], H = c->x->dims[2], W = c->x->dims[3];
    int64_t cig = c->wt->dims[1], KH = c->wt->dims[2], KW = c->wt->dims[3];
    double d = tr_load(c->gy, at4(c->gy, t->n, t->co, t->oh, t->ow));
    c->gx[((t->n * C + t->c) * H + t->ih) * W + t->iw] += d * tr_load(c->wt, at4(c->wt, t->co, t->ci, t->kh, t->kw));
    c->gw[((t->co * cig + t->ci) * KH + t->kh) * KW + t->kw] += d * tr_load(c->x, at4(c->x, t->n, t->c, t->ih, t->iw));
}

static void convolution_backward_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *gy = &ex->in[0], *x = &ex->in[1], *wt = &ex->in[2];
    int64_t N = gy->dims[0], CO = gy->dims[1], HO = gy->dims[2], WO = gy->dims[3];
    int64_t C = x->dims[1], H = x->dims[2], W = x->dims[3], KH = wt->dims[2], KW = wt->dims[3];
    int64_t cig = wt->dims[1];
    double *gx = workspace, *gw = gx + N * C * H * W, *gb = gw + CO * cig * KH * KW;
    memset(gx, 0, (size_t)(N * C * H * W + CO * cig * KH * KW + CO) * sizeof(double));
    for (int64_t n = 0; n < N; n++)
        for (int64_t co = 0; co < CO; co++)
            for (int64_t oh = 0; oh < HO; oh++)
                for (int64_t ow = 0; ow < WO; ow++) gb[co] += tr_load(gy, at4(gy, n, co, oh, ow));
    conv_ctx c = {.x = x, .wt = wt, .gy = gy, .gx = gx, .gw = gw};
    conv_walk(x, wt, gy, ex->i, backward_tap, &c);
    if (ex->i[CB_GI] >= 0) {
        const aclTensor *o = &ex->out[ex->i[CB_GI]];
        for (int64_t i = 0; i < N * C * H * W; i++) tr_store(o, tr_view_index(o, i), gx[i]);
    }
    if (ex->i[CB_GW] >= 0) {
        const aclTensor *o = &ex->out[ex->i[CB_GW]];
        for (int64_t i = 0; i < CO * cig * KH * KW; i++) tr_store(o, tr_view_index(o, i), gw[i]);
    }
    if (ex->i[CB_GB] >= 0) {
        const aclTensor *o = &ex->out[ex->i[CB_GB]];
        for (int64_t i = 0; i < CO; i++) tr_store(o, tr_view_index(o, i), gb[i]);
    }
}

static const tr_op tr_op_ConvolutionBackward = {"ConvolutionBackward", convolution_backward_run};

/* Reads a three-entry output mask and checks that every requested output is a live tensor. */
static aclnnStatus read_mask(const aclBoolArray *mask, const char *full, aclTensor *const outs[3],
                             const char *const names[3], bool want[3]) {
    aclnnStatus rc = tr_arg_array(mask, TR_BOOL_ARRAY, full, "outputMask");
    if (rc != 0) return rc;
    if (mask->n != 3)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: outputMask has %llu entries, expected 3", full,
                            (unsigned long long)mask->n);
    for (int i = 0; i < 3; i++) {
        want[i] = mask->v[i];
        if (!want[i]) continue;
        if (outs[i] == NULL)
            return tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: outputMask[%d] is true but %s is NULL", full, i,
                                names[i]);
        if ((rc = tr_arg_tensor(outs[i], full, names[i])) != 0) return rc;
    }
    return 0;
}

TR_EXPORT aclnnStatus aclnnConvolutionBackwardGetWorkspaceSize(
    const aclTensor *gradOutput, const aclTensor *input, const aclTensor *weight, const aclIntArray *biasSizes,
    const aclIntArray *stride, const aclIntArray *padding, const aclIntArray *dilation, bool transposed,
    const aclIntArray *outputPadding, int groups, const aclBoolArray *outputMask, int8_t cubeMathType,
    aclTensor *gradInput, aclTensor *gradWeight, aclTensor *gradBias, uint64_t *workspaceSize,
    aclOpExecutor **executor) {
    const char *api = "aclnnConvolutionBackward", *full = "aclnnConvolutionBackwardGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(gradOutput, full, "gradOutput")) != 0) return rc;
    if ((rc = tr_arg_tensor(input, full, "input")) != 0) return rc;
    if ((rc = tr_arg_tensor(weight, full, "weight")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    aclTensor *outs[3] = {gradInput, gradWeight, gradBias};
    const char *const names[3] = {"gradInput", "gradWeight", "gradBias"};
    bool want[3];
    if ((rc = read_mask(outputMask, full, outs, names, want)) != 0) return rc;
    int64_t g[TR_MAX_ATTR], od[4];
    if ((rc = conv_check(api, input, weight, stride, padding, dilation, transposed, outputPadding, groups,
                         cubeMathType, g, od)) != 0)
        return rc;
    if ((rc = tr_check_dims(gradOutput, od, 4, api, "gradOutput")) != 0) return rc;
    if ((rc = tr_check_dtype_as(gradOutput, input, api, "gradOutput", "input")) != 0) return rc;
    if (biasSizes != NULL) {
        if ((rc = tr_arg_array(biasSizes, TR_INT_ARRAY, full, "biasSizes")) != 0) return rc;
        if (want[2] && (biasSizes->n != 1 || biasSizes->v[0] != od[1]))
            return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: biasSizes must be [%lld] (the output channels)", full,
                                (long long)od[1]);
    }
    const int64_t *shapes[3] = {input->dims, weight->dims, &od[1]};
    const int nds[3] = {4, 4, 1};
    for (int i = 0; i < 3; i++) {
        if (!want[i]) continue;
        if ((rc = tr_check_dims(outs[i], shapes[i], nds[i], api, names[i])) != 0) return rc;
        if ((rc = tr_check_dtype_as(outs[i], input, api, names[i], "input")) != 0) return rc;
    }
    aclOpExecutor *ex = tr_executor_new(&tr_op_ConvolutionBackward);
    tr_executor_input(ex, gradOutput);
    tr_executor_input(ex, input);
    tr_executor_input(ex, weight);
    for (int i = 0; i <= CV_GROUPS; i++) ex->i[i] = g[i];
    for (int i = 0; i < 3; i++) ex->i[CB_GI + i] = opt_output(ex, want[i] ? outs[i] : NULL);
    uint64_t doubles = (uint64_t)(tr_numel(input) + tr_numel(weight) + od[1]);
    return tr_executor_publish(ex, doubles * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(ConvolutionBackward)

/* ---- batch norm: input [N, C, ...], per-channel tensors [C] ---- */

/* Storage index of element r of the inner (spatial) block of (n, c). */
static int64_t nc_index(const aclTensor *t, int64_t n, int64_t c, int64_t r, int64_t C, int64_t inner) {
    return tr_view_index(t, (n * C + c) * inner + r);
}

static int64_t inner_size(const aclTensor *t) {
    int64_t m = 1;
    for (int i = 2; i < t->ndim; i++) m *= t->dims[i];
    return m;
}

/* Checks an optional per-channel tensor: live, [C], a float type. */
static aclnnStatus check_channel(const aclTensor *t, int64_t C, const char *api, const char *name) {
    if (t == NULL) return 0;
    char full[96];
    snprintf(full, sizeof full, "%sGetWorkspaceSize", api);
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(t, full, name)) != 0) return rc;
    if ((rc = tr_arg_dtype(t, float_types, N_FLOAT_TYPES, api, name)) != 0) return rc;
    return tr_check_dims(t, &C, 1, api, name);
}

static double chan(const aclOpExecutor *ex, int64_t slot, int64_t c, double dflt) {
    if (slot < 0) return dflt;
    const aclTensor *t = &ex->in[slot];
    return tr_load(t, tr_view_index(t, c));
}

enum { BN_TRAIN, BN_W, BN_B, BN_RM, BN_RV, BN_SM, BN_SI };

static void batch_norm_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *x = &ex->in[0], *y = &ex->out[0];
    int64_t N = x->dims[0], C = x->dims[1], inner = inner_size(x), M = N * inner;
    double momentum = ex->f[0], eps = ex->f[1];
    double *stage = workspace, *mean = stage + tr_numel(x), *saved = mean + C;
    for (int64_t c = 0; c < C; c++) {
        double mu, var;
        if (ex->i[BN_TRAIN]) {
            double s = 0, ss = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t r = 0; r < inner; r++) s += tr_load(x, nc_index(x, n, c, r, C, inner));
            mu = s / (double)M;
            for (int64_t n = 0; n < N; n++)
                for (int64_t r = 0; r < inner; r++) {
                    double d = tr_load(x, nc_index(x, n, c, r, C, inner)) - mu;
                    ss += d * d;
                }
            var = ss / (double)M;
            if (ex->i[BN_RM] >= 0) {
                const aclTensor *t = &ex->in[ex->i[BN_RM]];
                int64_t k = tr_view_index(t, c);
                tr_store(t, k, (1 - momentum) * tr_load(t, k) + momentum * mu);
            }
            if (ex->i[BN_RV] >= 0) {
                const aclTensor *t = &ex->in[ex->i[BN_RV]];
                int64_t k = tr_view_index(t, c);
                double unbiased = M > 1 ? ss / (double)(M - 1) : var;
                tr_store(t, k, (1 - momentum) * tr_load(t, k) + momentum * unbiased);
            }
        } else {
            mu = chan(ex, ex->i[BN_RM], c, 0);
            var = chan(ex, ex->i[BN_RV], c, 1);
        }
        mean[c] = mu;
        saved[c] = var; /* CANN's saveInvstd on 910, 910B and 910_93: the biased batch variance */
        double invstd = 1 / sqrt(var + eps);
        double wc = chan(ex, ex->i[BN_W], c, 1), bc = chan(ex, ex->i[BN_B], c, 0);
        for (int64_t n = 0; n < N; n++)
            for (int64_t r = 0; r < inner; r++) {
                int64_t lin = (n * C + c) * inner + r;
                stage[lin] = (tr_load(x, tr_view_index(x, lin)) - mu) * invstd * wc + bc;
            }
    }
    for (int64_t i = 0; i < N * C * inner; i++) tr_store(y, tr_view_index(y, i), stage[i]);
    if (ex->i[BN_TRAIN]) {
        const aclTensor *sm = &ex->out[ex->i[BN_SM]], *si = &ex->out[ex->i[BN_SI]];
        for (int64_t c = 0; c < C; c++) {
            tr_store(sm, tr_view_index(sm, c), mean[c]);
            tr_store(si, tr_view_index(si, c), saved[c]);
        }
    }
}

static const tr_op tr_op_BatchNorm = {"BatchNorm", batch_norm_run};

TR_EXPORT aclnnStatus aclnnBatchNormGetWorkspaceSize(const aclTensor *input, const aclTensor *weight,
                                                     const aclTensor *bias, aclTensor *runningMean,
                                                     aclTensor *runningVar, bool training, double momentum,
                                                     double eps, aclTensor *output, aclTensor *saveMean,
                                                     aclTensor *saveInvstd, uint64_t *workspaceSize,
                                                     aclOpExecutor **executor) {
    const char *api = "aclnnBatchNorm", *full = "aclnnBatchNormGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(input, full, "input")) != 0) return rc;
    if ((rc = tr_arg_tensor(output, full, "output")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(input, float_types, N_FLOAT_TYPES, api, "input")) != 0) return rc;
    if (input->ndim < 2)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: input has %d dims, at least 2 ([N, C, ...])", full,
                            input->ndim);
    if ((rc = tr_check_dims(output, input->dims, input->ndim, api, "output")) != 0) return rc;
    if ((rc = tr_check_dtype_as(output, input, api, "output", "input")) != 0) return rc;
    int64_t C = input->dims[1];
    if (!training && (runningMean == NULL || runningVar == NULL))
        return tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: runningMean and runningVar are required when not training",
                            full);
    if (training && (saveMean == NULL || saveInvstd == NULL))
        return tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: saveMean and saveInvstd are required when training", full);
    /* saveMean and saveInvstd are outputs of training only; evaluation ignores them. */
    if (!training) saveMean = saveInvstd = NULL;
    const aclTensor *chans[] = {weight, bias, runningMean, runningVar, saveMean, saveInvstd};
    const char *names[] = {"weight", "bias", "runningMean", "runningVar", "saveMean", "saveInvstd"};
    for (int i = 0; i < 6; i++)
        if ((rc = check_channel(chans[i], C, api, names[i])) != 0) return rc;
    if (!(eps > 0))
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: eps %g must be positive", full, eps);
    aclOpExecutor *ex = tr_executor_new(&tr_op_BatchNorm);
    tr_executor_input(ex, input);
    ex->i[BN_TRAIN] = training;
    ex->i[BN_W] = opt_input(ex, weight);
    ex->i[BN_B] = opt_input(ex, bias);
    ex->i[BN_RM] = opt_input(ex, runningMean);
    ex->i[BN_RV] = opt_input(ex, runningVar);
    tr_executor_output(ex, output);
    ex->i[BN_SM] = opt_output(ex, saveMean);
    ex->i[BN_SI] = opt_output(ex, saveInvstd);
    ex->f[0] = momentum;
    ex->f[1] = eps;
    uint64_t doubles = (uint64_t)(tr_numel(input) + 2 * C);
    return tr_executor_publish(ex, doubles * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(BatchNorm)

/* ---- BatchNormBackward ---- */

enum { BB_TRAIN, BB_W, BB_RM, BB_RV, BB_SM, BB_SI, BB_GI, BB_GW, BB_GB };

static void batch_norm_backward_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *gy = &ex->in[0], *x = &ex->in[1];
    int64_t N = x->dims[0], C = x->dims[1], inner = inner_size(x), M = N * inner;
    double eps = ex->f[0];
    double *gx = workspace, *gw = gx + tr_numel(x), *gb = gw + C;
    for (int64_t c = 0; c < C; c++) {
        double mu, invstd;
        if (ex->i[BB_TRAIN]) {
            mu = chan(ex, ex->i[BB_SM], c, 0);
            invstd = 1 / sqrt(chan(ex, ex->i[BB_SI], c, 1) + eps); /* saveInvstd holds the variance */
        } else {
            mu = chan(ex, ex->i[BB_RM], c, 0);
            invstd = 1 / sqrt(chan(ex, ex->i[BB_RV], c, 1) + eps);
        }
        double wc = chan(ex, ex->i[BB_W], c, 1), sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t r = 0; r < inner; r++) {
                double d = tr_load(gy, nc_index(gy, n, c, r, C, inner));
                double xh = (tr_load(x, nc_index(x, n, c, r, C, inner)) - mu) * invstd;
                sdy += d;
                sdyx += d * xh;
            }
        gw[c] = sdyx;
        gb[c] = sdy;
        for (int64_t n = 0; n < N; n++)
            for (int64_t r = 0; r < inner; r++) {
                int64_t lin = (n * C + c) * inner + r;
                double d = tr_load(gy, tr_view_index(gy, lin));
                if (ex->i[BB_TRAIN]) {
                    double xh = (tr_load(x, tr_view_index(x, lin)) - mu) * invstd;
                    gx[lin] = wc * invstd * (d - sdy / (double)M - xh * sdyx / (double)M);
                } else {
                    gx[lin] = d * wc * invstd;
                }
            }
    }
    if (ex->i[BB_GI] >= 0) {
        const aclTensor *o = &ex->out[ex->i[BB_GI]];
        for (int64_t i = 0; i < N * C * inner; i++) tr_store(o, tr_view_index(o, i), gx[i]);
    }
    if (ex->i[BB_GW] >= 0) {
        const aclTensor *o = &ex->out[ex->i[BB_GW]];
        for (int64_t c = 0; c < C; c++) tr_store(o, tr_view_index(o, c), gw[c]);
    }
    if (ex->i[BB_GB] >= 0) {
        const aclTensor *o = &ex->out[ex->i[BB_GB]];
        for (int64_t c = 0; c < C; c++) tr_store(o, tr_view_index(o, c), gb[c]);
    }
}

static const tr_op tr_op_BatchNormBackward = {"BatchNormBackward", batch_norm_backward_run};

TR_EXPORT aclnnStatus aclnnBatchNormBackwardGetWorkspaceSize(
    const aclTensor *gradOut, const aclTensor *input, const aclTensor *weight, const aclTensor *runningMean,
    const aclTensor *runningVar, const aclTensor *saveMean, const aclTensor *saveInvstd, bool training, double eps,
    const aclBoolArray *outputMask, aclTensor *gradInput, aclTensor *gradWeight, aclTensor *gradBias,
    uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnBatchNormBackward", *full = "aclnnBatchNormBackwardGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(gradOut, full, "gradOut")) != 0) return rc;
    if ((rc = tr_arg_tensor(input, full, "input")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    aclTensor *outs[3] = {gradInput, gradWeight, gradBias};
    const char *const onames[3] = {"gradInput", "gradWeight", "gradBias"};
    bool want[3];
    if ((rc = read_mask(outputMask, full, outs, onames, want)) != 0) return rc;
    if ((rc = tr_arg_dtype(input, float_types, N_FLOAT_TYPES, api, "input")) != 0) return rc;
    if (input->ndim < 2)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: input has %d dims, at least 2 ([N, C, ...])", full,
                            input->ndim);
    if ((rc = tr_check_dims(gradOut, input->dims, input->ndim, api, "gradOut")) != 0) return rc;
    if ((rc = tr_check_dtype_as(gradOut, input, api, "gradOut", "input")) != 0) return rc;
    int64_t C = input->dims[1];
    if (training && (saveMean == NULL || saveInvstd == NULL))
        return tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: saveMean and saveInvstd are required when training", full);
    if (!training && (runningMean == NULL || runningVar == NULL))
        return tr_violation(ACLNN_ERR_PARAM_NULLPTR, "%s: runningMean and runningVar are required when not training",
                            full);
    const aclTensor *chans[] = {weight, runningMean, runningVar, saveMean, saveInvstd};
    const char *names[] = {"weight", "runningMean", "runningVar", "saveMean", "saveInvstd"};
    for (int i = 0; i < 5; i++)
        if ((rc = check_channel(chans[i], C, api, names[i])) != 0) return rc;
    for (int i = 0; i < 3; i++) {
        if (!want[i]) continue;
        if (i == 0)
            rc = tr_check_dims(outs[i], input->dims, input->ndim, api, onames[i]);
        else
            rc = tr_check_dims(outs[i], &C, 1, api, onames[i]);
        if (rc != 0) return rc;
        if ((rc = tr_arg_dtype(outs[i], float_types, N_FLOAT_TYPES, api, onames[i])) != 0) return rc;
    }
    if (!(eps > 0))
        return tr_violation(ACLNN_ERR_PARAM_INVALID,
                            "%s: eps %g must be positive (the kernel computes 1/sqrt(saveInvstd + eps): pass the "
                            "forward's eps)",
                            full, eps);
    aclOpExecutor *ex = tr_executor_new(&tr_op_BatchNormBackward);
    tr_executor_input(ex, gradOut);
    tr_executor_input(ex, input);
    ex->i[BB_TRAIN] = training;
    ex->i[BB_W] = opt_input(ex, weight);
    ex->i[BB_RM] = opt_input(ex, runningMean);
    ex->i[BB_RV] = opt_input(ex, runningVar);
    ex->i[BB_SM] = opt_input(ex, saveMean);
    ex->i[BB_SI] = opt_input(ex, saveInvstd);
    for (int i = 0; i < 3; i++) ex->i[BB_GI + i] = opt_output(ex, want[i] ? outs[i] : NULL);
    ex->f[0] = eps;
    uint64_t doubles = (uint64_t)(tr_numel(input) + 2 * C);
    return tr_executor_publish(ex, doubles * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(BatchNormBackward)

/* ---- ThresholdBackward: out = self <= threshold ? 0 : gradOutput (a NaN self passes the gradient) ---- */

static void threshold_backward_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *gy = &ex->in[0], *x = &ex->in[1], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++)
        w[i] = tr_load(x, tr_view_index(x, i)) <= ex->f[0] ? 0 : tr_load(gy, tr_view_index(gy, i));
    for (int64_t i = 0; i < n; i++) tr_store(out, tr_view_index(out, i), w[i]);
}

static const tr_op tr_op_ThresholdBackward = {"ThresholdBackward", threshold_backward_run};

TR_EXPORT aclnnStatus aclnnThresholdBackwardGetWorkspaceSize(const aclTensor *gradOutput, const aclTensor *self,
                                                             const aclScalar *threshold, aclTensor *out,
                                                             uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnThresholdBackward", *full = "aclnnThresholdBackwardGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(gradOutput, full, "gradOutput")) != 0) return rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_scalar(threshold, full, "threshold")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(self, float_and_int, N_FLOAT_AND_INT, api, "self")) != 0) return rc;
    if ((rc = tr_check_dtype_as(gradOutput, self, api, "gradOutput", "self")) != 0) return rc;
    if ((rc = tr_check_dtype_as(out, self, api, "out", "self")) != 0) return rc;
    if ((rc = tr_check_dims(gradOutput, self->dims, self->ndim, api, "gradOutput")) != 0) return rc;
    if ((rc = tr_check_dims(out, self->dims, self->ndim, api, "out")) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_ThresholdBackward);
    tr_executor_input(ex, gradOutput);
    tr_executor_input(ex, self);
    tr_executor_output(ex, out);
    ex->f[0] = threshold->value;
    return tr_executor_publish(ex, (uint64_t)tr_numel(out) * sizeof(double), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(ThresholdBackward)
