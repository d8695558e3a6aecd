/* timing.c: drives the test runtime for the timing-mode tests (RESNEXT_TESTRT_TIMING). argv[1]:
 *
 *   init          aclInit only; prints "rc <code>" and "msg <aclGetRecentErrMsg>".
 *   values        Relu of [-1, 2, -3, 4] into fresh memory, a queued device-to-device copy and a
 *                 queued memset; prints the fill byte of fresh memory and what each left behind.
 *   workspace N   times N aclnnReluGetWorkspaceSize calls; prints "us <elapsed microseconds>".
 *   launch N      times N launches of one repeatable Relu executor (synchronized after the clock
 *                 stops); prints "us <elapsed microseconds>".
 *   replay N      (a chip with graph capture) captures 10 launches of a repeatable Relu of
 *                 [-1, 2, -3, 4] and times N replays of the graph (synchronized after the clock
 *                 stops); prints "us <elapsed microseconds>" and "relu" with what the replays left.
 *
 * Any failing call prints the runtime's message and exits 1.
 */
#include "testprog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_floats(const char *label, const void *dev, size_t n) {
    float v[16];
    CHECK(n <= 16);
    OK(aclrtMemcpy(v, sizeof v, dev, n * sizeof(float), ACL_MEMCPY_DEVICE_TO_HOST));
    printf("%s", label);
    for (size_t i = 0; i < n; i++) printf(" %g", v[i]);
    printf("\n");
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int values(void) {
    setup();
    const float xv[] = {-1, 2, -3, 4};
    void *x = dev_alloc(sizeof xv), *y = dev_alloc(sizeof xv), *z = dev_alloc(sizeof xv), *s = dev_alloc(sizeof xv);
    unsigned char fill;
    OK(aclrtMemcpy(&fill, 1, y, 1, ACL_MEMCPY_DEVICE_TO_HOST));
    printf("fill %02x\n", fill);
    OK(aclrtMemcpy(x, sizeof xv, xv, sizeof xv, ACL_MEMCPY_HOST_TO_DEVICE));
    aclTensor *tx = vec(x, ACL_FLOAT, 4), *ty = vec(y, ACL_FLOAT, 4);
    uint64_t ws = 0;
    aclOpExecutor *ex = NULL;
    OK(aclnnReluGetWorkspaceSize(tx, ty, &ws, &ex));
    void *w = ws > 0 ? dev_alloc(ws) : NULL;
    OK(aclnnRelu(w, ws, ex, stream));
    OK(aclrtMemcpyAsync(z, sizeof xv, x, sizeof xv, ACL_MEMCPY_DEVICE_TO_DEVICE, stream));
    OK(aclrtMemsetAsync(s, sizeof xv, 0x40, sizeof xv, stream)); /* 0x40404040 = 3.0039 */
    CHECK(testrt_pending_tasks() == 3);
    OK(aclrtSynchronizeStream(stream));
    CHECK(testrt_pending_tasks() == 0);
    print_floats("relu", y, 4);
    print_floats("copy", z, 4);
    print_floats("memset", s, 4);
    OK(aclDestroyTensor(tx));
    OK(aclDestroyTensor(ty));
    void *mem[] = {x, y, z, s, w};
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++)
        if (mem[i] != NULL) OK(aclrtFree(mem[i]));
    CHECK(testrt_device_bytes_in_use() == 0);
    CHECK(testrt_violations() == 0);
    return 0;
}

static int workspace(int n) {
    setup();
    void *x = dev_alloc(64), *y = dev_alloc(64);
    aclTensor *tx = vec(x, ACL_FLOAT, 16), *ty = vec(y, ACL_FLOAT, 16);
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        uint64_t ws = 0;
        aclOpExecutor *ex = NULL;
        OK(aclnnReluGetWorkspaceSize(tx, ty, &ws, &ex));
        OK(aclDestroyAclOpExecutor(ex));
    }
    printf("us %.0f\n", now_us() - t0);
    return 0;
}

/* A repeatable Relu of n floats from x to y, its workspace size and its workspace. */
static aclOpExecutor *repeatable_relu(void *x, void *y, int64_t n, uint64_t *ws, void **w) {
    aclTensor *tx = vec(x, ACL_FLOAT, n), *ty = vec(y, ACL_FLOAT, n);
    aclOpExecutor *ex = NULL;
    OK(aclnnReluGetWorkspaceSize(tx, ty, ws, &ex));
    OK(aclSetAclOpExecutorRepeatable(ex));
    *w = *ws > 0 ? dev_alloc(*ws) : NULL;
    return ex;
}

static int launch(int n) {
    setup();
    uint64_t ws = 0;
    void *w;
    aclOpExecutor *ex = repeatable_relu(dev_alloc(64), dev_alloc(64), 16, &ws, &w);
    double t0 = now_us();
    for (int i = 0; i < n; i++) OK(aclnnRelu(w, ws, ex, stream));
    double t1 = now_us();
    CHECK(testrt_pending_tasks() == n);
    OK(aclrtSynchronizeStream(stream));
    printf("us %.0f\n", t1 - t0);
    return 0;
}

static int replay(int n) {
    setup();
    const float xv[] = {-1, 2, -3, 4};
    void *x = dev_alloc(sizeof xv), *y = dev_alloc(sizeof xv);
    OK(aclrtMemcpy(x, sizeof xv, xv, sizeof xv, ACL_MEMCPY_HOST_TO_DEVICE));
    OK(aclrtMemset(y, sizeof xv, 0, sizeof xv));
    uint64_t ws = 0;
    void *w;
    aclOpExecutor *ex = repeatable_relu(x, y, 4, &ws, &w);
    OK(aclmdlRICaptureBegin(stream, ACL_MODEL_RI_CAPTURE_MODE_GLOBAL));
    for (int i = 0; i < 10; i++) OK(aclnnRelu(w, ws, ex, stream));
    aclmdlRI g = NULL;
    OK(aclmdlRICaptureEnd(stream, &g));
    double t0 = now_us();
    for (int i = 0; i < n; i++) OK(aclmdlRIExecuteAsync(g, stream));
    double t1 = now_us();
    CHECK(testrt_pending_tasks() == 10 * n);
    OK(aclrtSynchronizeStream(stream));
    OK(aclmdlRIDestroy(g));
    CHECK(testrt_graph_tasks() == 0);
    printf("us %.0f\n", t1 - t0);
    print_floats("relu", y, 4);
    CHECK(testrt_violations() == 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: timing init|values|workspace N|launch N|replay N\n");
        return 2;
    }
    if (strcmp(argv[1], "init") == 0) {
        int rc = aclInit(NULL);
        const char *m = aclGetRecentErrMsg();
        printf("rc %d\nmsg %s\n", rc, m ? m : "");
        return 0;
    }
    if (strcmp(argv[1], "values") == 0) return values();
    if (argc == 3 && strcmp(argv[1], "workspace") == 0) return workspace(atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "launch") == 0) return launch(atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "replay") == 0) return replay(atoi(argv[2]));
    fprintf(stderr, "unknown command %s\n", argv[1]);
    return 2;
}
