/* testprog.h: what the C test programs (scenarios.c, timing.c) share: the checks, the stream
 * setup() creates, device memory and contiguous tensors. */
#ifndef RESNEXT_TESTPROG_H
#define RESNEXT_TESTPROG_H

#include "testrt.h"

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            const char *m_ = aclGetRecentErrMsg();                                           \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, m_ ? m_ : "none");                                                \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)
#define OK(call) CHECK((call) == 0)

static aclrtStream stream;

static void setup(void) {
    OK(aclInit(NULL));
    OK(aclrtSetDevice(0));
    OK(aclrtCreateStream(&stream));
}

static void *dev_alloc(size_t bytes) {
    void *p = NULL;
    OK(aclrtMalloc(&p, bytes, ACL_MEM_MALLOC_HUGE_FIRST));
    return p;
}

/* A contiguous tensor of shape dims over the whole of data. */
static aclTensor *tensor(void *data, aclDataType dt, const int64_t *dims, int nd) {
    int64_t strides[8], n = 1;
    for (int i = nd - 1; i >= 0; i--) {
        strides[i] = n;
        n *= dims[i];
    }
    aclTensor *t = aclCreateTensor(dims, (uint64_t)nd, dt, strides, 0, ACL_FORMAT_ND, &n, 1, data);
    CHECK(t != NULL);
    return t;
}

static aclTensor *vec(void *data, aclDataType dt, int64_t n) { return tensor(data, dt, &n, 1); }

#endif
