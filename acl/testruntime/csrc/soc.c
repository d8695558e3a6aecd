/* soc.c: the chip the runtime stands in for, chosen by RESNEXT_TESTRT_SOC (default Ascend910A) and
 * reported by aclrtGetSocName. The operators that behave per chip ask tr_soc_gen.
 *
 * The names are CANN's (torch_npu's table of them): the first-generation 910 (Atlas training series)
 * is Ascend910A, Ascend910ProA, Ascend910PremiumA, Ascend910B and Ascend910ProB -- "Ascend910B"
 * without a digit is a first-generation part -- while the 910B (Atlas A2) is Ascend910B1 to
 * Ascend910B4, Ascend910B2C and Ascend910B4-1, and the 910_93 (Atlas A3) Ascend910_93xx. Another
 * value is a mistake in the test's set-up: the runtime says so on stderr and aborts. */
#include "internal.h"

static const struct {
    const char *name;
    int gen;
} socs[] = {
    {"Ascend910A", TR_SOC_910},       {"Ascend910ProA", TR_SOC_910},   {"Ascend910PremiumA", TR_SOC_910},
    {"Ascend910B", TR_SOC_910},       {"Ascend910ProB", TR_SOC_910},   {"Ascend910B1", TR_SOC_910B},
    {"Ascend910B2", TR_SOC_910B},     {"Ascend910B2C", TR_SOC_910B},   {"Ascend910B3", TR_SOC_910B},
    {"Ascend910B4", TR_SOC_910B},     {"Ascend910B4-1", TR_SOC_910B},  {"Ascend910_9391", TR_SOC_910_93},
    {"Ascend910_9392", TR_SOC_910_93}, {"Ascend910_9381", TR_SOC_910_93}, {"Ascend910_9382", TR_SOC_910_93},
    {"Ascend910_9372", TR_SOC_910_93}, {"Ascend910_9362", TR_SOC_910_93},
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int soc_index;

static void choose(void) {
    const char *v = getenv("RESNEXT_TESTRT_SOC");
    if (v == NULL || v[0] == '\0') v = "Ascend910A";
    for (size_t i = 0; i < sizeof socs / sizeof socs[0]; i++) {
        if (strcmp(v, socs[i].name) == 0) {
            soc_index = (int)i;
            return;
        }
    }
    fprintf(stderr, "testrt: RESNEXT_TESTRT_SOC=\"%s\" is not a chip this runtime models; use one of:", v);
    for (size_t i = 0; i < sizeof socs / sizeof socs[0]; i++) fprintf(stderr, " %s", socs[i].name);
    fprintf(stderr, "\n");
    abort();
}

const char *tr_soc_name(void) {
    pthread_once(&once, choose);
    return socs[soc_index].name;
}

int tr_soc_gen(void) {
    pthread_once(&once, choose);
    return socs[soc_index].gen;
}

TR_EXPORT const char *aclrtGetSocName(void) { return tr_soc_name(); }

/* The cube units' modes with float32 input: on the first-generation 910, which has no float32 cube
 * path, ALLOW_FP32_DOWN_PRECISION (1) or USE_FP16 (2) only; on 910B and 910_93 KEEP_DTYPE (0) is
 * documented as not supported with float32 (1 and 3 compute in HF32, 2 in float16). Other input types
 * take any of 0..3. */
int tr_check_cube_math(int8_t cube, aclDataType dt, const char *api) {
    if (cube < 0 || cube > 3)
        return tr_violation(ACLNN_ERR_PARAM_INVALID, "%s: cubeMathType %d is not 0, 1, 2 or 3", api, (int)cube);
    if (dt != ACL_FLOAT) return 0;
    if (tr_soc_gen() == TR_SOC_910 && cube != 1 && cube != 2)
        return tr_violation(ACLNN_ERR_PARAM_INVALID,
                            "%s: cubeMathType %d with FLOAT input is not supported on %s (first-generation 910 has "
                            "no float32 cube path: use 1, ALLOW_FP32_DOWN_PRECISION, or 2, USE_FP16)",
                            api, (int)cube, tr_soc_name());
    if (tr_soc_gen() != TR_SOC_910 && cube == 0)
        return tr_violation(ACLNN_ERR_PARAM_INVALID,
                            "%s: cubeMathType 0 (KEEP_DTYPE) with FLOAT input is not supported on %s (use 1 or 3 "
                            "for HF32, 2 for float16)",
                            api, tr_soc_name());
    return 0;
}
