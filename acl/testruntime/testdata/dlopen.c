/* dlopen.c: loads the test runtime the way the acl package does, by its four CANN library names
 * (argv[1] is their directory), resolves each symbol from the library CANN ships it in, and runs an
 * Add. The four names must resolve to one instance: memory from the runtime library has to be
 * device memory to the aclnn libraries. */
#include "testrt.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void *open_lib(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        exit(1);
    }
    return h;
}

static void *sym(void *h, const char *name) {
    void *p = dlsym(h, name);
    if (p == NULL) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        exit(1);
    }
    return p;
}

#define LOAD(h, name) __typeof__(&name) p_##name = (__typeof__(&name))sym(h, #name)
#define OK(call)                                                  \
    do {                                                          \
        if ((call) != 0) {                                        \
            fprintf(stderr, "%d: %s failed\n", __LINE__, #call); \
            return 1;                                             \
        }                                                         \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    void *rt = open_lib(argv[1], "libascendcl.so");
    void *base = open_lib(argv[1], "libnnopbase.so");
    void *ops = open_lib(argv[1], "libopapi.so");
    void *hccl = open_lib(argv[1], "libhccl.so");
    if (sym(rt, "testrt_violations") != sym(base, "testrt_violations") ||
        sym(rt, "testrt_violations") != sym(ops, "testrt_violations") ||
        sym(rt, "testrt_violations") != sym(hccl, "testrt_violations")) {
        fprintf(stderr, "the four library names loaded separate copies of the runtime\n");
        return 1;
    }
    LOAD(rt, aclInit);
    LOAD(rt, aclrtSetDevice);
    LOAD(rt, aclrtMalloc);
    LOAD(rt, aclrtMemcpy);
    LOAD(rt, aclrtSynchronizeStream);
    LOAD(base, aclCreateTensor);
    LOAD(base, aclCreateScalar);
    LOAD(ops, aclnnAddGetWorkspaceSize);
    LOAD(ops, aclnnAdd);
    LOAD(rt, testrt_violations);

    OK(p_aclInit(NULL));
    OK(p_aclrtSetDevice(0));
    float a[4] = {1, 2, 3, 4}, got[4];
    void *d = NULL, *o = NULL;
    OK(p_aclrtMalloc(&d, sizeof a, ACL_MEM_MALLOC_HUGE_FIRST));
    OK(p_aclrtMalloc(&o, sizeof a, ACL_MEM_MALLOC_HUGE_FIRST));
    OK(p_aclrtMemcpy(d, sizeof a, a, sizeof a, ACL_MEMCPY_HOST_TO_DEVICE));
    int64_t n = 4, s = 1;
    aclTensor *td = p_aclCreateTensor(&n, 1, ACL_FLOAT, &s, 0, ACL_FORMAT_ND, &n, 1, d);
    aclTensor *to = p_aclCreateTensor(&n, 1, ACL_FLOAT, &s, 0, ACL_FORMAT_ND, &n, 1, o);
    double two = 2;
    aclScalar *alpha = p_aclCreateScalar(&two, ACL_DOUBLE);
    if (td == NULL || to == NULL || alpha == NULL) return 1;
    uint64_t ws = 0;
    aclOpExecutor *ex = NULL;
    OK(p_aclnnAddGetWorkspaceSize(td, td, alpha, to, &ws, &ex));
    void *w = NULL;
    if (ws > 0) OK(p_aclrtMalloc(&w, ws, ACL_MEM_MALLOC_HUGE_FIRST));
    OK(p_aclnnAdd(w, ws, ex, NULL));
    OK(p_aclrtSynchronizeStream(NULL));
    OK(p_aclrtMemcpy(got, sizeof got, o, sizeof got, ACL_MEMCPY_DEVICE_TO_HOST));
    for (int i = 0; i < 4; i++)
        if (got[i] != 3 * a[i]) {
            fprintf(stderr, "element %d: got %g, want %g\n", i, got[i], 3 * a[i]);
            return 1;
        }
    if (p_testrt_violations() != 0) return 1;
    printf("ok\n");
    return 0;
}
