/* scenarios.c: drives the test runtime through one named scenario (argv[1]).
 *
 * "ok" runs a correct sequence and checks every value. Every other scenario breaks one rule of the
 * calling contract; it exits 0 after printing "caught: <message>" when the runtime failed the call
 * with the expected code and recorded exactly one violation, and 1 otherwise. Under
 * RESNEXT_TESTRT_ABORT=1 the runtime aborts inside the broken call instead.
 */
#include "testprog.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *dev_floats(const float *v, size_t n) {
    void *p = dev_alloc(n * sizeof *v);
    OK(aclrtMemcpy(p, n * sizeof *v, v, n * sizeof *v, ACL_MEMCPY_HOST_TO_DEVICE));
    return p;
}

static void expect_floats(const void *dev, const float *want, size_t n, float tol) {
    float got[64];
    CHECK(n <= 64);
    OK(aclrtMemcpy(got, sizeof got, dev, n * sizeof(float), ACL_MEMCPY_DEVICE_TO_HOST));
    for (size_t i = 0; i < n; i++) {
        if (!(fabsf(got[i] - want[i]) <= tol)) {
            fprintf(stderr, "element %zu: got %g, want %g\n", i, got[i], want[i]);
            exit(1);
        }
    }
}

/* aclGetRecentErrMsg is per thread: scenarios whose broken call runs on another thread copy it here. */
static char thread_recent[1024];

static void keep_recent(void) {
    const char *m = aclGetRecentErrMsg();
    snprintf(thread_recent, sizeof thread_recent, "%s", m ? m : "");
}

/* Runs fn(&rc) on a new thread and returns rc, the code of the call fn makes there. */
static int on_thread(void *(*fn)(void *)) {
    int rc = -1;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, fn, &rc) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    return rc;
}

/* Runs a workspace-sized first phase result: allocates the workspace when needed. */
static void *workspace_for(uint64_t size) { return size > 0 ? dev_alloc(size) : NULL; }

/* Prepares Relu(x) -> y on n floats; returns the executor and the workspace size. */
static aclOpExecutor *relu_prepare(void *x, void *y, int64_t n, uint64_t *ws) {
    aclTensor *tx = vec(x, ACL_FLOAT, n), *ty = vec(y, ACL_FLOAT, n);
    aclOpExecutor *ex = NULL;
    OK(aclnnReluGetWorkspaceSize(tx, ty, ws, &ex));
    OK(aclDestroyTensor(tx));
    OK(aclDestroyTensor(ty));
    return ex;
}

/* MaxPool2dWithMask of a [1,1,4,4] input (2x2 windows, stride 2) and its backward, with the mask
 * checked byte by byte: each output position j sets bit j in the row of its winning tap. */
static void ok_max_pool(void) {
    const float xv[] = {1, 2, 5, 3, /* windows: max 4 at tap 2, 5 at tap 0, */
                        4, 0, 1, 1, /*          9 at tap 1, 7 at tap 3 */
                        0, 9, 2, 2, 8, 1, 2, 7};
    const float gyv[] = {1, 2, 3, 4};
    int64_t xd[] = {1, 1, 4, 4}, yd[] = {1, 1, 2, 2}, md[] = {1, 1, 4, 64}, two[] = {2, 2}, z[] = {0, 0},
            o[] = {1, 1};
    void *x = dev_floats(xv, 16), *y = dev_alloc(16), *m = dev_alloc(256), *gy = dev_floats(gyv, 4),
         *gx = dev_alloc(64);
    aclTensor *tx = tensor(x, ACL_FLOAT, xd, 4), *ty = tensor(y, ACL_FLOAT, yd, 4), *tm = tensor(m, ACL_INT8, md, 4),
              *tgy = tensor(gy, ACL_FLOAT, yd, 4), *tgx = tensor(gx, ACL_FLOAT, xd, 4);
    aclIntArray *k = aclCreateIntArray(two, 2), *pad = aclCreateIntArray(z, 2), *dil = aclCreateIntArray(o, 2);
    CHECK(k && pad && dil);
    uint64_t ws1, ws2;
    aclOpExecutor *e1, *e2;
    OK(aclnnMaxPool2dWithMaskGetWorkspaceSize(tx, k, k, pad, dil, false, ty, tm, &ws1, &e1));
    void *w1 = workspace_for(ws1);
    OK(aclnnMaxPool2dWithMask(w1, ws1, e1, stream));
    OK(aclnnMaxPool2dWithMaskBackwardGetWorkspaceSize(tgy, tx, tm, k, k, pad, dil, false, tgx, &ws2, &e2));
    void *w2 = workspace_for(ws2);
    OK(aclnnMaxPool2dWithMaskBackward(w2, ws2, e2, stream));
    OK(aclrtSynchronizeStream(stream));
    const float ywant[] = {4, 5, 9, 7};
    expect_floats(y, ywant, 4, 0);
    uint8_t bits[256];
    OK(aclrtMemcpy(bits, sizeof bits, m, sizeof bits, ACL_MEMCPY_DEVICE_TO_HOST));
    const uint8_t rows[4] = {0x02, 0x04, 0x01, 0x08}; /* tap 0 wins output 1, tap 1 output 2, ... */
    for (int i = 0; i < 256; i++) CHECK(bits[i] == (i % 64 == 0 ? rows[i / 64] : 0));
    const float gxwant[] = {0, 0, 2, 0, 1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 4};
    expect_floats(gx, gxwant, 16, 0);
    void *mem[] = {x, y, m, gy, gx, w1, w2};
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++)
        if (mem[i] != NULL) OK(aclrtFree(mem[i]));
    aclTensor *ts[] = {tx, ty, tm, tgy, tgx};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) OK(aclDestroyTensor(ts[i]));
    OK(aclDestroyIntArray(k));
    OK(aclDestroyIntArray(pad));
    OK(aclDestroyIntArray(dil));
}

/* Whether the runtime stands in for a first-generation 910 (Ascend910A, ..., "Ascend910B" without a
 * digit), which has no graph capture. */
static int first_generation(void) {
    const char *soc = aclrtGetSocName();
    CHECK(soc != NULL);
    if (strncmp(soc, "Ascend910_93", 12) == 0) return 0;
    return !(strncmp(soc, "Ascend910B", 10) == 0 && soc[10] >= '0' && soc[10] <= '9');
}

static void *memcpy_on_thread(void *arg) {
    OK(aclrtSetDevice(0));
    float host[4] = {0};
    *(int *)arg = aclrtMemcpy(host, sizeof host, host, sizeof host, ACL_MEMCPY_HOST_TO_HOST);
    keep_recent();
    OK(aclrtResetDevice(0));
    return NULL;
}

/* Graph capture: refused on the first-generation 910. Elsewhere a device-to-device copy into a
 * tensor, an Add (its executor consumed at capture), a repeatable Relu, a memset and an event record
 * are captured without running, then replayed three times with new input copied in between, each
 * replay checked; a graph destroyed with a replay queued still runs it, and nothing stays held. The
 * modes: THREAD_LOCAL allows a synchronous copy on another thread, RELAXED on this one, at once. */
static void ok_capture(void) {
    if (first_generation()) {
        CHECK(aclmdlRICaptureBegin(stream, ACL_MODEL_RI_CAPTURE_MODE_GLOBAL) == ACL_ERROR_RT_FEATURE_NOT_SUPPORT);
        CHECK(strstr(aclGetRecentErrMsg(), "graph capture is not supported on") != NULL);
        CHECK(testrt_violations() == 0);
        return;
    }
    const float bv[] = {10, -20, 30, -40};
    void *src = dev_alloc(16), *x = dev_alloc(16), *b = dev_floats(bv, 4), *y = dev_alloc(16), *z = dev_alloc(16),
         *m = dev_alloc(16);
    float *pinned = NULL;
    OK(aclrtMallocHost((void **)&pinned, 16));
    aclTensor *tx = vec(x, ACL_FLOAT, 4), *tb = vec(b, ACL_FLOAT, 4), *ty = vec(y, ACL_FLOAT, 4),
              *tz = vec(z, ACL_FLOAT, 4);
    float one = 1;
    aclScalar *alpha = aclCreateScalar(&one, ACL_FLOAT);
    uint64_t wsa, wsr;
    aclOpExecutor *add, *relu;
    OK(aclnnAddGetWorkspaceSize(tx, tb, alpha, ty, &wsa, &add));
    OK(aclnnReluGetWorkspaceSize(ty, tz, &wsr, &relu));
    OK(aclSetAclOpExecutorRepeatable(relu));
    void *wa = workspace_for(wsa), *wr = workspace_for(wsr);
    aclrtEvent ev;
    OK(aclrtCreateEvent(&ev));

    OK(aclmdlRICaptureBegin(stream, ACL_MODEL_RI_CAPTURE_MODE_GLOBAL));
    OK(aclrtMemcpyAsync(x, 16, src, 16, ACL_MEMCPY_DEVICE_TO_DEVICE, stream));
    OK(aclnnAdd(wa, wsa, add, stream));
    OK(aclnnRelu(wr, wsr, relu, stream));
    OK(aclrtMemsetAsync(m, 16, 0x40, 16, stream));
    OK(aclrtRecordEvent(ev, stream));
    CHECK(testrt_pending_tasks() == 0);
    aclmdlRI g = NULL;
    OK(aclmdlRICaptureEnd(stream, &g));
    CHECK(g != NULL && testrt_graph_tasks() == 5);
    uint32_t raw;
    memcpy(&raw, z, 4);
    CHECK(raw == 0xffffffffu); /* captured, not run */

    for (int i = 0; i < 3; i++) {
        const float in[4] = {(float)i - 2, 1.5f * (float)i, -31, 45 - 10 * (float)i};
        memcpy(pinned, in, sizeof in);
        OK(aclrtMemcpyAsync(src, 16, pinned, 16, ACL_MEMCPY_HOST_TO_DEVICE, stream));
        OK(aclmdlRIExecuteAsync(g, stream));
        CHECK(testrt_pending_tasks() == 6);
        OK(aclrtSynchronizeEvent(ev)); /* the replay's event record: everything before it ran */
        CHECK(testrt_pending_tasks() == 0);
        float want[4];
        for (int k = 0; k < 4; k++) want[k] = in[k] + bv[k] > 0 ? in[k] + bv[k] : 0;
        expect_floats(z, want, 4, 0);
        const float mset[4] = {3.00392f, 3.00392f, 3.00392f, 3.00392f};
        expect_floats(m, mset, 4, 1e-5f);
    }
    OK(aclmdlRIExecuteAsync(g, stream));
    OK(aclmdlRIDestroy(g));
    CHECK(testrt_graph_tasks() == 5);
    OK(aclrtSynchronizeStream(stream));
    CHECK(testrt_graph_tasks() == 0);

    OK(aclmdlRICaptureBegin(stream, ACL_MODEL_RI_CAPTURE_MODE_THREAD_LOCAL));
    CHECK(on_thread(memcpy_on_thread) == 0);
    OK(aclmdlRICaptureEnd(stream, &g));
    OK(aclmdlRIDestroy(g));
    OK(aclmdlRICaptureBegin(stream, ACL_MODEL_RI_CAPTURE_MODE_RELAXED));
    const float fresh[4] = {1, 2, 3, 4};
    OK(aclrtMemcpy(m, 16, fresh, 16, ACL_MEMCPY_HOST_TO_DEVICE));
    expect_floats(m, fresh, 4, 0);
    OK(aclmdlRICaptureEnd(stream, &g));
    CHECK(testrt_graph_tasks() == 0);
    OK(aclmdlRIExecuteAsync(g, stream)); /* an empty graph */
    OK(aclmdlRIDestroy(g));

    OK(aclDestroyAclOpExecutor(relu));
    OK(aclrtDestroyEvent(ev));
    OK(aclrtFreeHost(pinned));
    void *mem[] = {src, x, b, y, z, m, wa, wr};
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++)
        if (mem[i] != NULL) OK(aclrtFree(mem[i]));
    aclTensor *ts[] = {tx, tb, ty, tz};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) OK(aclDestroyTensor(ts[i]));
    OK(aclDestroyScalar(alpha));
}

/* Cross-stream order and a one-rank communicator: a second stream waits for an event recorded on
 * the first (synchronizing the second runs the first up to the record), and HCCL's collectives run
 * when their stream does. */
static void ok_hccl(void) {
    aclrtStream s2;
    OK(aclrtCreateStream(&s2));
    const float v[] = {1, -2, 3.5f, 4};
    void *x = dev_alloc(64), *y = dev_alloc(64);
    OK(aclrtMemcpy(y, 64, v, sizeof v, ACL_MEMCPY_HOST_TO_DEVICE));
    aclrtEvent ev;
    OK(aclrtCreateEvent(&ev));
    OK(aclrtMemcpyAsync(x, 64, y, 16, ACL_MEMCPY_DEVICE_TO_DEVICE, stream));
    OK(aclrtRecordEvent(ev, stream));
    OK(aclrtStreamWaitEvent(s2, ev));
    OK(aclrtResetEvent(ev, s2));

    HcclRootInfo ri;
    HcclComm comm = NULL;
    OK(HcclGetRootInfo(&ri));
    OK(HcclCommInitRootInfo(1, &ri, 0, &comm));
    uint32_t n = 0, rank = 9;
    OK(HcclGetRankSize(comm, &n));
    OK(HcclGetRankId(comm, &rank));
    CHECK(n == 1 && rank == 0);
    OK(HcclAllReduce(x, y, 4, HCCL_DATA_TYPE_FP32, HCCL_REDUCE_SUM, comm, s2));
    OK(HcclBroadcast(y, 4, HCCL_DATA_TYPE_FP32, 0, comm, s2));
    OK(HcclBarrier(comm, s2));
    OK(aclrtSynchronizeStream(s2)); /* runs stream's copy into x first */
    CHECK(testrt_pending_tasks() == 0);
    expect_floats(y, v, 4, 0);
    CHECK(strcmp(HcclGetErrorString(HCCL_E_TIMEOUT), "timeout") == 0);
    OK(HcclCommDestroy(comm));
    OK(aclrtDestroyEvent(ev));
    OK(aclrtDestroyStream(s2));
    OK(aclrtFree(x));
    OK(aclrtFree(y));
}

static int scenario_ok(void) {
    setup();
    uint32_t count = 0;
    OK(aclrtGetDeviceCount(&count));
    CHECK(count == 1);
    int32_t dev = -1;
    OK(aclrtGetDevice(&dev));
    CHECK(dev == 0);

    /* Add with broadcasting: [2,3] + 0.5 * [3]. */
    const float av[] = {-2, -1, 0, 1, 2, 3}, bv[] = {10, 20, 30};
    void *a = dev_floats(av, 6), *b = dev_floats(bv, 3), *out = dev_alloc(6 * sizeof(float));
    int64_t d23[] = {2, 3};
    aclTensor *ta = tensor(a, ACL_FLOAT, d23, 2), *tb = vec(b, ACL_FLOAT, 3), *tout = tensor(out, ACL_FLOAT, d23, 2);
    float half = 0.5f;
    aclScalar *alpha = aclCreateScalar(&half, ACL_FLOAT);
    CHECK(alpha != NULL);
    uint64_t ws = 0;
    aclOpExecutor *ex = NULL;
    OK(aclnnAddGetWorkspaceSize(ta, tb, alpha, tout, &ws, &ex));
    CHECK(ws > 0);
    void *w = workspace_for(ws);
    OK(aclnnAdd(w, ws, ex, stream));
    /* Nothing has run yet: the kernel waits in the stream, out still holds its fill pattern. */
    CHECK(testrt_pending_tasks() == 1);
    uint32_t raw;
    memcpy(&raw, out, 4);
    CHECK(raw == 0xffffffffu);
    OK(aclrtSynchronizeStream(stream));
    CHECK(testrt_pending_tasks() == 0);
    const float sum[] = {3, 9, 15, 6, 12, 18};
    expect_floats(out, sum, 6, 0);

    /* Muls then Relu, queued back to back on one stream. */
    void *m = dev_alloc(6 * sizeof(float)), *r = dev_alloc(6 * sizeof(float));
    aclTensor *tm = tensor(m, ACL_FLOAT, d23, 2), *tr = tensor(r, ACL_FLOAT, d23, 2);
    float k = -0.5f;
    aclScalar *ks = aclCreateScalar(&k, ACL_FLOAT);
    uint64_t ws2 = 0, ws3 = 0;
    aclOpExecutor *ex2 = NULL, *ex3 = NULL;
    OK(aclnnMulsGetWorkspaceSize(tout, ks, tm, &ws2, &ex2));
    OK(aclnnReluGetWorkspaceSize(tm, tr, &ws3, &ex3));
    void *w2 = workspace_for(ws2), *w3 = workspace_for(ws3);
    OK(aclnnMuls(w2, ws2, ex2, stream));
    OK(aclnnRelu(w3, ws3, ex3, stream));
    OK(aclrtSynchronizeStream(stream));
    const float prod[] = {-1.5f, -4.5f, -7.5f, -3, -6, -9}, zeros[] = {0, 0, 0, 0, 0, 0};
    expect_floats(m, prod, 6, 0);
    expect_floats(r, zeros, 6, 0);

    /* Relu keeps positive values. */
    const float rv[] = {-1, 2, -3, 4};
    void *rx = dev_floats(rv, 4), *ry = dev_alloc(16);
    uint64_t rws;
    aclOpExecutor *rex = relu_prepare(rx, ry, 4, &rws);
    void *rw = workspace_for(rws);
    OK(aclnnRelu(rw, rws, rex, NULL)); /* the default stream */
    OK(aclrtSynchronizeDevice());
    const float rwant[] = {0, 2, 0, 4};
    expect_floats(ry, rwant, 4, 0);

    /* Cast float32 -> float16 -> float32 (rounding to half) and float32 -> int32 -> float32. */
    const float cv[] = {1.0f, 0.1f, -2.75f, 65504.0f, 1e-8f, 3.7f};
    void *c32 = dev_floats(cv, 6), *c16 = dev_alloc(12), *cback = dev_alloc(24), *ci = dev_alloc(24),
         *ciback = dev_alloc(24);
    aclTensor *tc32 = vec(c32, ACL_FLOAT, 6), *tc16 = vec(c16, ACL_FLOAT16, 6), *tcb = vec(cback, ACL_FLOAT, 6),
              *tci = vec(ci, ACL_INT32, 6), *tcib = vec(ciback, ACL_FLOAT, 6);
    struct {
        aclTensor *from, *to;
        aclDataType dt;
    } casts[] = {{tc32, tc16, ACL_FLOAT16}, {tc16, tcb, ACL_FLOAT}, {tc32, tci, ACL_INT32}, {tci, tcib, ACL_FLOAT}};
    void *cws[4];
    for (int i = 0; i < 4; i++) {
        uint64_t s;
        aclOpExecutor *e;
        OK(aclnnCastGetWorkspaceSize(casts[i].from, casts[i].dt, casts[i].to, &s, &e));
        cws[i] = workspace_for(s);
        OK(aclnnCast(cws[i], s, e, stream));
    }
    OK(aclrtSynchronizeStream(stream));
    const float c16want[] = {1.0f, 0.0999755859375f, -2.75f, 65504.0f, 0.0f, 3.69921875f};
    expect_floats(cback, c16want, 6, 0);
    const float ciwant[] = {1, 0, -2, 65504, 0, 3};
    expect_floats(ciback, ciwant, 6, 0);
    int32_t ints[6];
    OK(aclrtMemcpy(ints, sizeof ints, ci, sizeof ints, ACL_MEMCPY_DEVICE_TO_HOST));
    CHECK(ints[2] == -2 && ints[5] == 3);

    /* Add in float16: the result is rounded to half. */
    uint64_t s16;
    aclOpExecutor *e16;
    void *sum16 = dev_alloc(12), *sum16f = dev_alloc(24);
    aclTensor *ts16 = vec(sum16, ACL_FLOAT16, 6), *ts16f = vec(sum16f, ACL_FLOAT, 6);
    float one = 1.0f;
    aclScalar *ones = aclCreateScalar(&one, ACL_FLOAT);
    OK(aclnnAddGetWorkspaceSize(tc16, tc16, ones, ts16, &s16, &e16));
    void *w16 = workspace_for(s16);
    OK(aclnnAdd(w16, s16, e16, stream));
    OK(aclnnCastGetWorkspaceSize(ts16, ACL_FLOAT, ts16f, &s16, &e16));
    void *w16b = workspace_for(s16);
    OK(aclnnCast(w16b, s16, e16, stream));
    OK(aclrtSynchronizeStream(stream));
    const float s16want[] = {2.0f, 0.199951171875f, -5.5f, INFINITY, 0.0f, 7.3984375f};
    float got16[6];
    OK(aclrtMemcpy(got16, sizeof got16, sum16f, sizeof got16, ACL_MEMCPY_DEVICE_TO_HOST));
    for (int i = 0; i < 6; i++) CHECK(got16[i] == s16want[i]);

    /* A repeatable executor launched twice with rebound addresses. */
    const float x2v[] = {5, -6, 7, -8};
    void *x2 = dev_floats(x2v, 4), *y2 = dev_alloc(16), *y1 = dev_alloc(16);
    uint64_t pws;
    aclOpExecutor *pex = relu_prepare(rx, y1, 4, &pws);
    OK(aclSetAclOpExecutorRepeatable(pex));
    void *pw = workspace_for(pws);
    OK(aclnnRelu(pw, pws, pex, stream));
    OK(aclSetInputTensorAddr(pex, 0, NULL, x2));
    OK(aclSetOutputTensorAddr(pex, 0, NULL, y2));
    OK(aclnnRelu(pw, pws, pex, stream));
    OK(aclrtSynchronizeStream(stream));
    OK(aclDestroyAclOpExecutor(pex));
    const float y2want[] = {5, 0, 7, 0};
    expect_floats(y1, rwant, 4, 0);
    expect_floats(y2, y2want, 4, 0);

    /* Events: synchronizing an event runs the stream up to the record, not beyond. */
    aclrtEvent ev;
    OK(aclrtCreateEvent(&ev));
    float *pinned = NULL;
    OK(aclrtMallocHost((void **)&pinned, 16));
    OK(aclrtMemsetAsync(y2, 16, 0, 16, stream));
    OK(aclrtRecordEvent(ev, stream));
    OK(aclrtMemcpyAsync(pinned, 16, y2, 16, ACL_MEMCPY_DEVICE_TO_HOST, stream));
    CHECK(testrt_pending_tasks() == 3);
    OK(aclrtSynchronizeEvent(ev));
    CHECK(testrt_pending_tasks() == 1);
    OK(aclrtSynchronizeStream(stream));
    for (int i = 0; i < 4; i++) CHECK(pinned[i] == 0);
    OK(aclrtDestroyEvent(ev));
    OK(aclrtFreeHost(pinned));

    ok_max_pool();
    ok_capture();
    ok_hccl();

    size_t fr = 0, total = 0;
    OK(aclrtGetMemInfo(ACL_HBM_MEM, &fr, &total));
    CHECK(total > 0 && fr + testrt_device_bytes_in_use() == total);

    void *all[] = {a, b, out, w, m, r, w2, w3, rx, ry, rw, c32, c16, cback, ci, ciback,
                   cws[0], cws[1], cws[2], cws[3], sum16, sum16f, w16, w16b, x2, y2, y1, pw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) OK(aclrtFree(all[i]));
    CHECK(testrt_device_bytes_in_use() == 0);
    aclTensor *ts[] = {ta, tb, tout, tm, tr, tc32, tc16, tcb, tci, tcib, ts16, ts16f};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) OK(aclDestroyTensor(ts[i]));
    OK(aclDestroyScalar(alpha));
    OK(aclDestroyScalar(ks));
    OK(aclDestroyScalar(ones));
    int64_t iv[] = {1, 2};
    bool bv2[] = {true, false};
    float fv[] = {0.5f};
    aclIntArray *ia = aclCreateIntArray(iv, 2);
    aclBoolArray *ba = aclCreateBoolArray(bv2, 2);
    aclFloatArray *fa = aclCreateFloatArray(fv, 1);
    CHECK(ia && ba && fa);
    OK(aclDestroyIntArray(ia));
    OK(aclDestroyBoolArray(ba));
    OK(aclDestroyFloatArray(fa));
    OK(aclrtDestroyStream(stream));
    OK(aclrtResetDevice(0));
    OK(aclFinalize());
    CHECK(testrt_violations() == 0);
    printf("ok\n");
    return 0;
}

/* ---- broken calls ---- */

/* Checks that the broken call failed with code and recorded one violation mentioning want. */
static int caught(int rc, int code, const char *want) {
    const char *msg = testrt_last_violation();
    const char *recent = thread_recent[0] ? thread_recent : aclGetRecentErrMsg();
    if (rc != code || testrt_violations() != 1 || strstr(msg, want) == NULL || recent == NULL ||
        strstr(recent, want) == NULL) {
        fprintf(stderr, "MISSED: rc %d (want %d), %d violation(s), last: %s\n", rc, code, testrt_violations(), msg);
        return 1;
    }
    printf("caught: %s\n", msg);
    return 0;
}

/* A Relu launch of n floats left queued on the stream; returns its input, output and workspace. */
static void queued_relu(void **x, void **y, void **w) {
    *x = dev_alloc(64);
    *y = dev_alloc(64);
    OK(aclrtMemset(*x, 64, 0, 64));
    uint64_t ws;
    aclOpExecutor *ex = relu_prepare(*x, *y, 16, &ws);
    *w = workspace_for(ws);
    OK(aclnnRelu(*w, ws, ex, stream));
}

static int host_tensor(void) {
    setup();
    static float host[4];
    int64_t n = 4, s = 1;
    aclTensor *t = aclCreateTensor(&n, 1, ACL_FLOAT, &s, 0, ACL_FORMAT_ND, &n, 1, host);
    CHECK(t == NULL);
    return caught(ACLNN_ERR_PARAM_INVALID, ACLNN_ERR_PARAM_INVALID, "not device memory");
}

static int host_memcpy(void) {
    setup();
    float src[4] = {0}, dst[4];
    return caught(aclrtMemcpy(dst, sizeof dst, src, sizeof src, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM,
                  "not device memory");
}

static aclOpExecutor *relu_ready(uint64_t *ws) {
    void *x = dev_alloc(64), *y = dev_alloc(64);
    OK(aclrtMemset(x, 64, 0, 64));
    return relu_prepare(x, y, 16, ws);
}

static int host_workspace(void) {
    setup();
    uint64_t ws;
    aclOpExecutor *ex = relu_ready(&ws);
    void *host = malloc(ws);
    return caught(aclnnRelu(host, ws, ex, stream), ACLNN_ERR_PARAM_INVALID, "not device memory");
}

static int view_outside(void) {
    setup();
    void *p = dev_alloc(4 * sizeof(float));
    int64_t n = 4, s = 2, st = 4;
    aclTensor *t = aclCreateTensor(&n, 1, ACL_FLOAT, &s, 0, ACL_FORMAT_ND, &st, 1, p);
    CHECK(t == NULL);
    return caught(ACLNN_ERR_PARAM_INVALID, ACLNN_ERR_PARAM_INVALID, "runs outside its storage");
}

static int storage_outside(void) {
    setup();
    void *p = dev_alloc(4 * sizeof(float));
    int64_t n = 8, s = 1;
    aclTensor *t = aclCreateTensor(&n, 1, ACL_FLOAT, &s, 0, ACL_FORMAT_ND, &n, 1, p);
    CHECK(t == NULL);
    return caught(ACLNN_ERR_PARAM_INVALID, ACLNN_ERR_PARAM_INVALID, "past the end of its device block");
}

static int workspace_small(void) {
    setup();
    uint64_t ws;
    aclOpExecutor *ex = relu_ready(&ws);
    void *w = dev_alloc(ws);
    return caught(aclnnRelu(w, ws - 32, ex, stream), ACLNN_ERR_PARAM_INVALID, "is smaller than");
}

static int workspace_null(void) {
    setup();
    uint64_t ws;
    aclOpExecutor *ex = relu_ready(&ws);
    CHECK(ws > 0);
    return caught(aclnnRelu(NULL, ws, ex, stream), ACLNN_ERR_PARAM_NULLPTR, "workspace is NULL");
}

static int executor_twice(void) {
    setup();
    uint64_t ws;
    aclOpExecutor *ex = relu_ready(&ws);
    void *w = dev_alloc(ws);
    OK(aclnnRelu(w, ws, ex, stream));
    return caught(aclnnRelu(w, ws, ex, stream), ACLNN_ERR_PARAM_INVALID, "already launched once");
}

static int executor_wrong_op(void) {
    setup();
    uint64_t ws;
    aclOpExecutor *ex = relu_ready(&ws);
    void *w = dev_alloc(ws);
    return caught(aclnnMuls(w, ws, ex, stream), ACLNN_ERR_PARAM_INVALID, "made by aclnnReluGetWorkspaceSize");
}

static int free_tensor_pending(void) {
    setup();
    void *x, *y, *w;
    queued_relu(&x, &y, &w);
    return caught(aclrtFree(x), ACL_ERROR_INVALID_PARAM, "still used by a task queued");
}

static int free_workspace_pending(void) {
    setup();
    void *x, *y, *w;
    queued_relu(&x, &y, &w);
    return caught(aclrtFree(w), ACL_ERROR_INVALID_PARAM, "still used by a task queued");
}

static int memcpy_pending(void) {
    setup();
    void *x, *y, *w;
    queued_relu(&x, &y, &w);
    float host[16];
    return caught(aclrtMemcpy(host, sizeof host, y, sizeof host, ACL_MEMCPY_DEVICE_TO_HOST), ACL_ERROR_INVALID_PARAM,
                  "still used by a task queued");
}

static int destroy_stream_pending(void) {
    setup();
    void *x, *y, *w;
    queued_relu(&x, &y, &w);
    return caught(aclrtDestroyStream(stream), ACL_ERROR_INVALID_PARAM, "still has queued tasks");
}

static int before_init(void) {
    return caught(aclrtSetDevice(0), ACL_ERROR_UNINITIALIZE, "before aclInit");
}

static int no_device(void) {
    OK(aclInit(NULL));
    void *p;
    return caught(aclrtMalloc(&p, 64, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_CONTEXT_NULL, "no current context");
}

static void *malloc_in_thread(void *arg) {
    void *p;
    *(int *)arg = aclrtMalloc(&p, 64, ACL_MEM_MALLOC_HUGE_FIRST);
    keep_recent();
    return NULL;
}

static int other_thread(void) {
    setup();
    return caught(on_thread(malloc_in_thread), ACL_ERROR_RT_CONTEXT_NULL, "no current context");
}

static aclrtContext other_ctx;

static void *sync_in_thread(void *arg) {
    OK(aclrtSetCurrentContext(other_ctx));
    *(int *)arg = aclrtSynchronizeStream(stream);
    keep_recent();
    return NULL;
}

static int wrong_context(void) {
    setup();
    aclrtContext main_ctx;
    OK(aclrtCreateContext(&other_ctx, 0));
    OK(aclrtCreateContext(&main_ctx, 0));
    OK(aclrtCreateStream(&stream)); /* belongs to main_ctx, current on this thread only */
    return caught(on_thread(sync_in_thread), ACL_ERROR_RT_STREAM_CONTEXT, "belongs to context");
}

static int stream_destroyed(void) {
    setup();
    void *p = dev_alloc(16);
    OK(aclrtDestroyStream(stream));
    return caught(aclrtMemsetAsync(p, 16, 0, 16, stream), ACL_ERROR_INVALID_PARAM, "used after aclrtDestroyStream");
}

static int event_destroyed(void) {
    setup();
    aclrtEvent ev;
    OK(aclrtCreateEvent(&ev));
    OK(aclrtDestroyEvent(ev));
    return caught(aclrtRecordEvent(ev, stream), ACL_ERROR_INVALID_PARAM, "used after aclrtDestroyEvent");
}

static int memcpy_destmax(void) {
    setup();
    void *p = dev_alloc(64);
    float host[16] = {0};
    return caught(aclrtMemcpy(p, 32, host, 64, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM,
                  "larger than destMax");
}

/* ---- training kernels: argument checks of the first phase ---- */

/* A [1,2,4,4] input, a [2,2,3,3] weight and their device memory, for the convolution scenarios. */
static void conv_tensors(aclTensor **x, aclTensor **w, aclIntArray **ones, aclIntArray **zeros) {
    int64_t xd[] = {1, 2, 4, 4}, wd[] = {2, 2, 3, 3}, one[] = {1, 1}, zero[] = {0, 0};
    *x = tensor(dev_alloc(32 * sizeof(float)), ACL_FLOAT, xd, 4);
    *w = tensor(dev_alloc(36 * sizeof(float)), ACL_FLOAT, wd, 4);
    *ones = aclCreateIntArray(one, 2);
    *zeros = aclCreateIntArray(zero, 2);
    CHECK(*ones && *zeros);
}

static int conv_output_shape(void) {
    setup();
    aclTensor *x, *w;
    aclIntArray *ones, *zeros;
    conv_tensors(&x, &w, &ones, &zeros);
    int64_t yd[] = {1, 2, 4, 4}; /* no padding: the output is [1,2,2,2] */
    aclTensor *y = tensor(dev_alloc(32 * sizeof(float)), ACL_FLOAT, yd, 4);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnConvolutionGetWorkspaceSize(x, w, NULL, ones, zeros, ones, false, zeros, 1, y, 1, &ws, &ex),
                  ACLNN_ERR_PARAM_INVALID, "output has shape [1,2,4,4], expected [1,2,2,2]");
}

static int conv_backward_mask(void) {
    setup();
    aclTensor *x, *w;
    aclIntArray *ones, *zeros;
    conv_tensors(&x, &w, &ones, &zeros);
    int64_t yd[] = {1, 2, 2, 2};
    aclTensor *gy = tensor(dev_alloc(8 * sizeof(float)), ACL_FLOAT, yd, 4);
    aclTensor *gx = tensor(dev_alloc(32 * sizeof(float)), ACL_FLOAT, (int64_t[]){1, 2, 4, 4}, 4);
    bool m[] = {true, true, false};
    aclBoolArray *mask = aclCreateBoolArray(m, 3);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnConvolutionBackwardGetWorkspaceSize(gy, x, w, NULL, ones, zeros, ones, false, zeros, 1, mask, 1,
                                                           gx, NULL, NULL, &ws, &ex),
                  ACLNN_ERR_PARAM_NULLPTR, "outputMask[1] is true but gradWeight is NULL");
}

static int batch_norm_channels(void) {
    setup();
    int64_t xd[] = {2, 3, 2, 2};
    aclTensor *x = tensor(dev_alloc(24 * sizeof(float)), ACL_FLOAT, xd, 4);
    aclTensor *y = tensor(dev_alloc(24 * sizeof(float)), ACL_FLOAT, xd, 4);
    aclTensor *w = vec(dev_alloc(4 * sizeof(float)), ACL_FLOAT, 4);
    aclTensor *sm = vec(dev_alloc(3 * sizeof(float)), ACL_FLOAT, 3), *si = vec(dev_alloc(3 * sizeof(float)), ACL_FLOAT, 3);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnBatchNormGetWorkspaceSize(x, w, NULL, NULL, NULL, true, 0.1, 1e-5, y, sm, si, &ws, &ex),
                  ACLNN_ERR_PARAM_INVALID, "weight has shape [4], expected [3]");
}

static int batch_norm_backward_mask(void) {
    setup();
    int64_t xd[] = {2, 3, 2, 2};
    aclTensor *x = tensor(dev_alloc(24 * sizeof(float)), ACL_FLOAT, xd, 4);
    aclTensor *gy = tensor(dev_alloc(24 * sizeof(float)), ACL_FLOAT, xd, 4);
    aclTensor *gx = tensor(dev_alloc(24 * sizeof(float)), ACL_FLOAT, xd, 4);
    aclTensor *sm = vec(dev_alloc(3 * sizeof(float)), ACL_FLOAT, 3), *si = vec(dev_alloc(3 * sizeof(float)), ACL_FLOAT, 3);
    bool m[] = {true, true, true};
    aclBoolArray *mask = aclCreateBoolArray(m, 3);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnBatchNormBackwardGetWorkspaceSize(gy, x, NULL, NULL, NULL, sm, si, true, 1e-5, mask, gx, NULL,
                                                         NULL, &ws, &ex),
                  ACLNN_ERR_PARAM_NULLPTR, "outputMask[1] is true but gradWeight is NULL");
}

static int threshold_backward_shape(void) {
    setup();
    aclTensor *gy = vec(dev_alloc(16), ACL_FLOAT, 4), *x = vec(dev_alloc(16), ACL_FLOAT, 4);
    aclTensor *out = vec(dev_alloc(12), ACL_FLOAT, 3);
    float zero = 0;
    aclScalar *th = aclCreateScalar(&zero, ACL_FLOAT);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnThresholdBackwardGetWorkspaceSize(gy, x, th, out, &ws, &ex), ACLNN_ERR_PARAM_INVALID,
                  "out has shape [3], expected [4]");
}

/* ---- pooling, matrix, loss and copy: argument checks of the first phase ---- */

/* A [1,1,4,4] float input, its 2x2 output and the attribute arrays of a 2x2 stride-2 pooling. */
static void pool_tensors(aclTensor **x, aclTensor **y, aclIntArray **k, aclIntArray **zero, aclIntArray **one) {
    int64_t xd[] = {1, 1, 4, 4}, yd[] = {1, 1, 2, 2}, two[] = {2, 2}, z[] = {0, 0}, o[] = {1, 1};
    *x = tensor(dev_alloc(16 * sizeof(float)), ACL_FLOAT, xd, 4);
    *y = tensor(dev_alloc(4 * sizeof(float)), ACL_FLOAT, yd, 4);
    *k = aclCreateIntArray(two, 2);
    *zero = aclCreateIntArray(z, 2);
    *one = aclCreateIntArray(o, 2);
    CHECK(*k && *zero && *one);
}

static int max_pool_mask_shape(void) {
    setup();
    aclTensor *x, *y;
    aclIntArray *k, *zero, *one;
    pool_tensors(&x, &y, &k, &zero, &one);
    /* 2x2 outputs need (ceil(4/16) + 1) * 32 = 64 mask bytes per tap, not 32 */
    int64_t md[] = {1, 1, 4, 32};
    aclTensor *mask = tensor(dev_alloc(128), ACL_INT8, md, 4);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnMaxPool2dWithMaskGetWorkspaceSize(x, k, k, zero, one, false, y, mask, &ws, &ex),
                  ACLNN_ERR_PARAM_INVALID, "indices has shape [1,1,4,32], expected [1,1,4,64]");
}

static int max_pool_mask_dtype(void) {
    setup();
    aclTensor *x, *y;
    aclIntArray *k, *zero, *one;
    pool_tensors(&x, &y, &k, &zero, &one);
    int64_t md[] = {1, 1, 4, 64};
    aclTensor *mask = tensor(dev_alloc(256), ACL_UINT8, md, 4);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnMaxPool2dWithMaskGetWorkspaceSize(x, k, k, zero, one, false, y, mask, &ws, &ex),
                  ACLNN_ERR_PARAM_INVALID, "indices has dtype uint8; the mask is INT8");
}

static int max_pool_backward_mask(void) {
    setup();
    aclTensor *x, *y;
    aclIntArray *k, *zero, *one;
    pool_tensors(&x, &y, &k, &zero, &one);
    int64_t md[] = {1, 1, 2, 64}; /* a mask of 2 taps for a 2x2 kernel */
    aclTensor *mask = tensor(dev_alloc(128), ACL_INT8, md, 4);
    aclTensor *gx = tensor(dev_alloc(16 * sizeof(float)), ACL_FLOAT, (int64_t[]){1, 1, 4, 4}, 4);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnMaxPool2dWithMaskBackwardGetWorkspaceSize(y, x, mask, k, k, zero, one, false, gx, &ws, &ex),
                  ACLNN_ERR_PARAM_INVALID, "indices has shape [1,1,2,64], expected [1,1,4,64]");
}

static int max_pool_padding(void) {
    setup();
    aclTensor *x, *y;
    aclIntArray *k, *zero, *one;
    pool_tensors(&x, &y, &k, &zero, &one);
    int64_t md[] = {1, 1, 4, 64}, p2[] = {2, 2};
    aclTensor *mask = tensor(dev_alloc(256), ACL_INT8, md, 4);
    aclIntArray *pad = aclCreateIntArray(p2, 2);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnMaxPool2dWithMaskGetWorkspaceSize(x, k, k, pad, one, false, y, mask, &ws, &ex),
                  ACLNN_ERR_PARAM_INVALID, "padding[0] = 2 must be in [0, kernelSize/2 = 1]");
}

static int mm_inner_dims(void) {
    setup();
    int64_t ad[] = {2, 3}, bd[] = {4, 5}, od[] = {2, 5};
    aclTensor *a = tensor(dev_alloc(6 * sizeof(float)), ACL_FLOAT, ad, 2);
    aclTensor *b = tensor(dev_alloc(20 * sizeof(float)), ACL_FLOAT, bd, 2);
    aclTensor *o = tensor(dev_alloc(10 * sizeof(float)), ACL_FLOAT, od, 2);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnMmGetWorkspaceSize(a, b, o, 1, &ws, &ex), ACLNN_ERR_PARAM_INVALID,
                  "self [2,3] and mat2 [4,5]: the inner dimensions differ (3 and 4)");
}

/* NLL loss operands: log-probabilities [2,3], weight [3], a scalar out and total weight. */
static void nll_tensors(aclTensor **x, aclTensor **w, aclTensor **out, aclTensor **total) {
    int64_t xd[] = {2, 3};
    *x = tensor(dev_alloc(6 * sizeof(float)), ACL_FLOAT, xd, 2);
    *w = vec(dev_alloc(3 * sizeof(float)), ACL_FLOAT, 3);
    *out = vec(dev_alloc(sizeof(float)), ACL_FLOAT, 1);
    *total = vec(dev_alloc(sizeof(float)), ACL_FLOAT, 1);
}

static int nll_loss_target_dtype(void) {
    setup();
    aclTensor *x, *w, *out, *total;
    nll_tensors(&x, &w, &out, &total);
    aclTensor *target = vec(dev_alloc(2 * sizeof(float)), ACL_FLOAT, 2); /* class indices as floats */
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnNLLLossGetWorkspaceSize(x, target, w, 1, -100, out, total, &ws, &ex), ACLNN_ERR_PARAM_INVALID,
                  "target has dtype float32; class indices are INT64, INT32 or UINT8");
}

static int nll_loss_weight_null(void) {
    setup();
    aclTensor *x, *w, *out, *total;
    nll_tensors(&x, &w, &out, &total);
    aclTensor *target = vec(dev_alloc(2 * sizeof(int64_t)), ACL_INT64, 2);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnNLLLossGetWorkspaceSize(x, target, NULL, 1, -100, out, total, &ws, &ex), ACLNN_ERR_PARAM_NULLPTR,
                  "weight is NULL");
}

static int inplace_copy_broadcast(void) {
    setup();
    int64_t sd[] = {2, 3};
    aclTensor *self = tensor(dev_alloc(6 * sizeof(float)), ACL_FLOAT, sd, 2);
    aclTensor *src = vec(dev_alloc(4 * sizeof(float)), ACL_FLOAT, 4);
    uint64_t ws;
    aclOpExecutor *ex;
    return caught(aclnnInplaceCopyGetWorkspaceSize(self, src, &ws, &ex), ACLNN_ERR_PARAM_INVALID,
                  "src [4] does not broadcast to selfRef [2,3]");
}

/* ---- graph capture (the test runs these as Ascend910B1: the first-generation 910 has none) ---- */

/* A Relu captured on the stream into a graph; returns the graph and the memory it uses. */
static aclmdlRI captured_relu(void **x, void **y, void **w) {
    *x = dev_alloc(64);
    *y = dev_alloc(64);
    OK(aclrtMemset(*x, 64, 0, 64));
    uint64_t ws;
    aclOpExecutor *ex = relu_prepare(*x, *y, 16, &ws);
    *w = workspace_for(ws);
    OK(aclmdlRICaptureBegin(stream, ACL_MODEL_RI_CAPTURE_MODE_GLOBAL));
    OK(aclnnRelu(*w, ws, ex, stream));
    aclmdlRI g = NULL;
    OK(aclmdlRICaptureEnd(stream, &g));
    return g;
}

/* setup(), then the stream starts capturing in mode. */
static void capturing(aclmdlRICaptureMode mode) {
    setup();
    OK(aclmdlRICaptureBegin(stream, mode));
}

static int capture_default_stream(void) {
    setup();
    return caught(aclmdlRICaptureBegin(NULL, ACL_MODEL_RI_CAPTURE_MODE_GLOBAL), ACL_ERROR_INVALID_PARAM,
                  "the default stream cannot be captured");
}

static int capture_twice(void) {
    capturing(ACL_MODEL_RI_CAPTURE_MODE_GLOBAL);
    return caught(aclmdlRICaptureBegin(stream, ACL_MODEL_RI_CAPTURE_MODE_RELAXED), ACL_ERROR_RT_STREAM_CAPTURED,
                  "is already capturing");
}

static int capture_end_not_capturing(void) {
    setup();
    aclmdlRI g = NULL;
    return caught(aclmdlRICaptureEnd(stream, &g), ACL_ERROR_RT_STREAM_NOT_CAPTURED, "is not capturing");
}

static void *end_on_thread(void *arg) {
    OK(aclrtSetDevice(0));
    aclmdlRI g = NULL;
    *(int *)arg = aclmdlRICaptureEnd(stream, &g);
    keep_recent();
    return NULL;
}

static int capture_end_other_thread(void) {
    capturing(ACL_MODEL_RI_CAPTURE_MODE_GLOBAL);
    return caught(on_thread(end_on_thread), ACL_ERROR_RT_STREAM_CAPTURE_UNMATCHED, "began on another thread");
}

static int capture_sync_stream(void) {
    capturing(ACL_MODEL_RI_CAPTURE_MODE_RELAXED);
    return caught(aclrtSynchronizeStream(stream), ACL_ERROR_RT_STREAM_CAPTURED,
                  "aclrtSynchronizeStream: stream");
}

static int capture_sync_device(void) {
    capturing(ACL_MODEL_RI_CAPTURE_MODE_RELAXED);
    return caught(aclrtSynchronizeDevice(), ACL_ERROR_RT_STREAM_CAPTURED, "aclrtSynchronizeDevice: stream");
}

static int capture_sync_event(void) {
    setup();
    aclrtEvent ev;
    OK(aclrtCreateEvent(&ev));
    OK(aclmdlRICaptureBegin(stream, ACL_MODEL_RI_CAPTURE_MODE_RELAXED));
    OK(aclrtRecordEvent(ev, stream));
    return caught(aclrtSynchronizeEvent(ev), ACL_ERROR_RT_EVENT_CAPTURED, "was recorded into the capture");
}

static int capture_memcpy_global(void) {
    capturing(ACL_MODEL_RI_CAPTURE_MODE_GLOBAL);
    return caught(on_thread(memcpy_on_thread), ACL_ERROR_RT_CAPTURE_MODE_NOT_SUPPORT,
                  "capturing in GLOBAL mode (refused on every thread)");
}

static int capture_memset_thread_local(void) {
    setup();
    void *p = dev_alloc(64);
    OK(aclmdlRICaptureBegin(stream, ACL_MODEL_RI_CAPTURE_MODE_THREAD_LOCAL));
    return caught(aclrtMemset(p, 64, 0, 64), ACL_ERROR_RT_CAPTURE_MODE_NOT_SUPPORT,
                  "capturing in THREAD_LOCAL mode on this thread");
}

static int capture_destroy_stream(void) {
    capturing(ACL_MODEL_RI_CAPTURE_MODE_GLOBAL);
    return caught(aclrtDestroyStream(stream), ACL_ERROR_RT_STREAM_CAPTURED, "aclrtDestroyStream: stream");
}

static int capture_free_graph_memory(void) {
    setup();
    void *x, *y, *w;
    captured_relu(&x, &y, &w);
    return caught(aclrtFree(w), ACL_ERROR_INVALID_PARAM, "which has not been destroyed");
}

static int capture_replay_destroyed(void) {
    setup();
    void *x, *y, *w;
    aclmdlRI g = captured_relu(&x, &y, &w);
    OK(aclmdlRIDestroy(g));
    return caught(aclmdlRIExecuteAsync(g, stream), ACL_ERROR_INVALID_PARAM, "used after aclmdlRIDestroy");
}

static int capture_destroy_unknown(void) {
    setup();
    int not_a_graph;
    return caught(aclmdlRIDestroy(&not_a_graph), ACL_ERROR_INVALID_PARAM, "is not a graph from aclmdlRICaptureEnd");
}

static int capture_replay_other_context(void) {
    setup();
    void *x, *y, *w;
    aclmdlRI g = captured_relu(&x, &y, &w);
    aclrtContext other;
    aclrtStream s2;
    OK(aclrtCreateContext(&other, 0)); /* current on this thread from now on */
    OK(aclrtCreateStream(&s2));
    return caught(aclmdlRIExecuteAsync(g, s2), ACL_ERROR_RT_MODEL_CONTEXT, "was captured in context");
}

/* ---- events across streams and HCCL ---- */

static int wait_event_never_recorded(void) {
    setup();
    aclrtEvent ev;
    OK(aclrtCreateEvent(&ev));
    return caught(aclrtStreamWaitEvent(stream, ev), ACL_ERROR_INVALID_PARAM, "was never recorded");
}

/* A one-rank communicator on the current device. */
static HcclComm one_rank(void) {
    HcclRootInfo ri;
    HcclComm comm = NULL;
    OK(HcclGetRootInfo(&ri));
    OK(HcclCommInitRootInfo(1, &ri, 0, &comm));
    return comm;
}

static int hccl_rank_out_of_range(void) {
    setup();
    HcclRootInfo ri;
    HcclComm comm;
    OK(HcclGetRootInfo(&ri));
    return caught(HcclCommInitRootInfo(2, &ri, 2, &comm), HCCL_E_PARA, "rank 2 is out of range for nRanks 2");
}

static int hccl_bad_root_info(void) {
    setup();
    HcclRootInfo ri;
    memset(&ri, 0, sizeof ri);
    HcclComm comm;
    return caught(HcclCommInitRootInfo(2, &ri, 1, &comm), HCCL_E_PARA, "was not made by HcclGetRootInfo");
}

static int hccl_host_pointer(void) {
    setup();
    HcclComm comm = one_rank();
    static float host[4];
    return caught(HcclAllReduce(host, host, 4, HCCL_DATA_TYPE_FP32, HCCL_REDUCE_SUM, comm, stream), HCCL_E_PTR,
                  "is not device memory");
}

static int hccl_use_after_destroy(void) {
    setup();
    HcclComm comm = one_rank();
    void *p = dev_alloc(16);
    OK(HcclCommDestroy(comm));
    return caught(HcclAllReduce(p, p, 4, HCCL_DATA_TYPE_FP32, HCCL_REDUCE_SUM, comm, stream), HCCL_E_PARA,
                  "used after HcclCommDestroy");
}

static int hccl_destroy_pending(void) {
    setup();
    HcclComm comm = one_rank();
    OK(HcclBarrier(comm, stream));
    return caught(HcclCommDestroy(comm), HCCL_E_PARA, "are queued and have not run");
}

static int hccl_stream_other_context(void) {
    setup();
    HcclComm comm = one_rank();
    aclrtContext other;
    OK(aclrtCreateContext(&other, 0)); /* current on this thread from now on */
    return caught(HcclBarrier(comm, stream), HCCL_E_RUNTIME, "belongs to context");
}

static int hccl_stream_other_device(void) {
    setup(); /* device 0 */
    HcclComm comm = one_rank();
    aclrtStream s1;
    OK(aclrtSetDevice(1));
    OK(aclrtCreateStream(&s1));
    return caught(HcclBarrier(comm, s1), HCCL_E_PARA, "is on device 1 but the communicator belongs to device 0");
}

static const struct {
    const char *name;
    int (*run)(void);
} scenarios[] = {
    {"ok", scenario_ok},
    {"host_tensor", host_tensor},
    {"host_memcpy", host_memcpy},
    {"host_workspace", host_workspace},
    {"view_outside", view_outside},
    {"storage_outside", storage_outside},
    {"workspace_small", workspace_small},
    {"workspace_null", workspace_null},
    {"executor_twice", executor_twice},
    {"executor_wrong_op", executor_wrong_op},
    {"free_tensor_pending", free_tensor_pending},
    {"free_workspace_pending", free_workspace_pending},
    {"memcpy_pending", memcpy_pending},
    {"destroy_stream_pending", destroy_stream_pending},
    {"before_init", before_init},
    {"no_device", no_device},
    {"other_thread", other_thread},
    {"wrong_context", wrong_context},
    {"stream_destroyed", stream_destroyed},
    {"event_destroyed", event_destroyed},
    {"memcpy_destmax", memcpy_destmax},
    {"conv_output_shape", conv_output_shape},
    {"conv_backward_mask", conv_backward_mask},
    {"batch_norm_channels", batch_norm_channels},
    {"batch_norm_backward_mask", batch_norm_backward_mask},
    {"threshold_backward_shape", threshold_backward_shape},
    {"max_pool_mask_shape", max_pool_mask_shape},
    {"max_pool_mask_dtype", max_pool_mask_dtype},
    {"max_pool_backward_mask", max_pool_backward_mask},
    {"max_pool_padding", max_pool_padding},
    {"mm_inner_dims", mm_inner_dims},
    {"nll_loss_target_dtype", nll_loss_target_dtype},
    {"nll_loss_weight_null", nll_loss_weight_null},
    {"inplace_copy_broadcast", inplace_copy_broadcast},
    {"capture_default_stream", capture_default_stream},
    {"capture_twice", capture_twice},
    {"capture_end_not_capturing", capture_end_not_capturing},
    {"capture_end_other_thread", capture_end_other_thread},
    {"capture_sync_stream", capture_sync_stream},
    {"capture_sync_device", capture_sync_device},
    {"capture_sync_event", capture_sync_event},
    {"capture_memcpy_global", capture_memcpy_global},
    {"capture_memset_thread_local", capture_memset_thread_local},
    {"capture_destroy_stream", capture_destroy_stream},
    {"capture_free_graph_memory", capture_free_graph_memory},
    {"capture_replay_destroyed", capture_replay_destroyed},
    {"capture_destroy_unknown", capture_destroy_unknown},
    {"capture_replay_other_context", capture_replay_other_context},
    {"wait_event_never_recorded", wait_event_never_recorded},
    {"hccl_rank_out_of_range", hccl_rank_out_of_range},
    {"hccl_bad_root_info", hccl_bad_root_info},
    {"hccl_host_pointer", hccl_host_pointer},
    {"hccl_use_after_destroy", hccl_use_after_destroy},
    {"hccl_destroy_pending", hccl_destroy_pending},
    {"hccl_stream_other_context", hccl_stream_other_context},
    {"hccl_stream_other_device", hccl_stream_other_device},
};

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) printf("%s\n", scenarios[i].name);
        return 0;
    }
    for (size_t i = 0; argc == 2 && i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (strcmp(argv[1], scenarios[i].name) == 0) return scenarios[i].run();
    fprintf(stderr, "usage: %s list | <scenario>\n", argv[0]);
    return 2;
}
