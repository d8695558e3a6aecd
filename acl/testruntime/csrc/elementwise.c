/* elementwise.c: Add, Mul, Muls, Relu, Cast and EqScalar.
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
    if ((rc = tr_check_broadcast_out(self, other, out, "aclnnAdd")) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_Add);
    tr_executor_input(ex, self);
    tr_executor_input(ex, other);
    tr_executor_output(ex, out);
    ex->f[0] = alpha->value;
    return tr_executor_publish(ex, staging_bytes(out), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(Add)

/* ---- Mul: out = self * other, with broadcasting ---- */

static void mul_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *a = &ex->in[0], *b = &ex->in[1], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++)
        w[i] = tr_load(a, tr_bcast_index(a, out, i)) * tr_load(b, tr_bcast_index(b, out, i));
    store_staged(out, w);
}

static const tr_op tr_op_Mul = {"Mul", mul_run};

TR_EXPORT aclnnStatus aclnnMulGetWorkspaceSize(const aclTensor *self, const aclTensor *other, aclTensor *out,
                                               uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnMul", *full = "aclnnMulGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_tensor(other, full, "other")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(self, float_and_int, N_FLOAT_AND_INT, api, "self")) != 0) return rc;
    if ((rc = tr_arg_dtype(other, float_and_int, N_FLOAT_AND_INT, api, "other")) != 0) return rc;
    if ((rc = tr_arg_dtype(out, float_and_int, N_FLOAT_AND_INT, api, "out")) != 0) return rc;
    if ((rc = tr_check_broadcast_out(self, other, out, api)) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_Mul);
    tr_executor_input(ex, self);
    tr_executor_input(ex, other);
    tr_executor_output(ex, out);
    return tr_executor_publish(ex, staging_bytes(out), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(Mul)

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

/* ---- Cast: out = self converted to dtype ----
 *
 * The conversions are exact, one rounding each, with the rules the project's backends share
 * (ops.Backend.Cast): into a float type, round to nearest even once, overflowing to infinity (an
 * integer is rounded straight to the target's precision, not through float32 or float64); float to
 * integer truncates toward zero, saturates at the type's limits and maps NaN to 0; integer to integer
 * wraps around; into BOOL any nonzero value, NaN included, is true. CANN does not document its
 * behaviour at these edges (overflow, NaN, ties past float32's precision); this is the behaviour the
 * backend relies on, so a card that differs shows up in the conformance suite run on it. */

static int is_float_type(aclDataType dt) {
    return dt == ACL_FLOAT || dt == ACL_FLOAT16 || dt == ACL_BF16 || dt == ACL_DOUBLE;
}

/* Significant bits of a float type. */
static int float_sig(aclDataType dt) {
    switch (dt) {
    case ACL_FLOAT16: return 11;
    case ACL_BF16: return 8;
    case ACL_FLOAT: return 24;
    default: return 53;
    }
}

static int64_t load_int(const aclTensor *t, int64_t idx) {
    const char *p = (const char *)t->data + idx * (int64_t)tr_dtype_size(t->dtype);
    switch (t->dtype) {
    case ACL_INT64: { int64_t v; memcpy(&v, p, 8); return v; }
    case ACL_UINT64: { uint64_t v; memcpy(&v, p, 8); return (int64_t)v; }
    default: return (int64_t)tr_load(t, idx); /* narrower integers and BOOL are exact in a double */
    }
}

/* v rounded to sig significant bits, nearest even, as a double (exact: sig <= 53). */
static double round_int(int64_t v, int sig) {
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int len = 0;
    for (uint64_t x = a; x; x >>= 1) len++;
    double r;
    if (len <= sig) {
        r = (double)a;
    } else {
        int shift = len - sig;
        uint64_t q = a >> shift, rem = a & ((UINT64_C(1) << shift) - 1), half = UINT64_C(1) << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        r = ldexp((double)q, shift);
    }
    return v < 0 ? -r : r;
}

/* Stores an exactly representable double (or one past the type's range) into a float type. */
static uint64_t float_bits(aclDataType dt, double v) {
    switch (dt) {
    case ACL_FLOAT: { float f = (float)v; uint32_t u; memcpy(&u, &f, 4); return u; }
    case ACL_FLOAT16: return tr_float_to_half((float)v);
    case ACL_BF16: return tr_float_to_bf16((float)v);
    default: { uint64_t u; memcpy(&u, &v, 8); return u; }
    }
}

/* Limits of an integer type. */
static void int_limits(aclDataType dt, double *lo, double *hi) {
    int bits = (int)tr_dtype_size(dt) * 8;
    int is_unsigned = dt == ACL_UINT8 || dt == ACL_UINT16 || dt == ACL_UINT32 || dt == ACL_UINT64;
    *lo = is_unsigned ? 0 : -ldexp(1, bits - 1);
    *hi = is_unsigned ? ldexp(1, bits) : ldexp(1, bits - 1); /* exclusive */
}

static uint64_t cast_element(const aclTensor *a, int64_t idx, aclDataType to) {
    if (is_float_type(a->dtype)) {
        double v = tr_load(a, idx); /* exact for every float type but a DOUBLE going to FLOAT16/BF16 */
        if (to == ACL_BOOL) return v != 0 || isnan(v);
        if (is_float_type(to)) {
            return float_bits(to, v);
        }
        if (isnan(v)) return 0;
        double lo, hi;
        int_limits(to, &lo, &hi);
        v = trunc(v);
        if (v < lo) v = lo;
        if (v >= hi) { /* the type's largest value */
            int bits = (int)tr_dtype_size(to) * 8;
            if (lo == 0) return bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
            return (UINT64_C(1) << (bits - 1)) - 1;
        }
        return v < 0 ? (uint64_t)(int64_t)v : (uint64_t)v;
    }
    int64_t v = load_int(a, idx);
    if (to == ACL_BOOL) return v != 0;
    if (is_float_type(to)) return float_bits(to, round_int(v, float_sig(to)));
    return (uint64_t)v; /* wraps: the low bytes are stored */
}

static void cast_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *a = &ex->in[0], *out = &ex->out[0];
    uint64_t *w = workspace;
    int64_t n = tr_numel(out);
    size_t size = tr_dtype_size(out->dtype);
    for (int64_t i = 0; i < n; i++) w[i] = cast_element(a, tr_view_index(a, i), out->dtype);
    for (int64_t i = 0; i < n; i++) /* little-endian: the element is the low bytes */
        memcpy((char *)out->data + tr_view_index(out, i) * (int64_t)size, &w[i], size);
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

/* ---- EqScalar: out = (self == other), 1 or 0 in out's type (BOOL normally) ----
 * A floating self is compared with the scalar rounded to self's type (the scalar is promoted to the
 * tensor's type, as PyTorch does with a wrapped number); an integer or bool self is compared exactly.
 * NaN equals nothing. */

static void eq_scalar_run(const aclOpExecutor *ex, void *workspace) {
    const aclTensor *a = &ex->in[0], *out = &ex->out[0];
    double *w = workspace;
    int64_t n = tr_numel(out);
    for (int64_t i = 0; i < n; i++) w[i] = tr_load(a, tr_view_index(a, i)) == ex->f[0] ? 1 : 0;
    store_staged(out, w);
}

static const tr_op tr_op_EqScalar = {"EqScalar", eq_scalar_run};

TR_EXPORT aclnnStatus aclnnEqScalarGetWorkspaceSize(const aclTensor *self, const aclScalar *other, aclTensor *out,
                                                    uint64_t *workspaceSize, aclOpExecutor **executor) {
    const char *api = "aclnnEqScalar", *full = "aclnnEqScalarGetWorkspaceSize";
    aclnnStatus rc;
    if ((rc = tr_arg_tensor(self, full, "self")) != 0) return rc;
    if ((rc = tr_arg_scalar(other, full, "other")) != 0) return rc;
    if ((rc = tr_arg_tensor(out, full, "out")) != 0) return rc;
    if ((rc = tr_arg_out(workspaceSize, executor, api)) != 0) return rc;
    if ((rc = tr_arg_dtype(self, any_dtype, N_ANY_DTYPE, api, "self")) != 0) return rc;
    if ((rc = tr_arg_dtype(out, any_dtype, N_ANY_DTYPE, api, "out")) != 0) return rc;
    if ((rc = tr_check_dims(out, self->dims, self->ndim, api, "out")) != 0) return rc;
    aclOpExecutor *ex = tr_executor_new(&tr_op_EqScalar);
    tr_executor_input(ex, self);
    tr_executor_output(ex, out);
    ex->f[0] = tr_is_float(self->dtype) ? tr_round_to(self->dtype, other->value) : other->value;
    return tr_executor_publish(ex, staging_bytes(out), workspaceSize, executor);
}

TR_DEFINE_LAUNCH(EqScalar)
