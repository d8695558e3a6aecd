/* core.c: the global lock, error and violation recording, and the registry of live handles. */
#include "internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Simulated host cost this thread has incurred under the lock and pays when it releases it (timing
 * mode), so that the busy-wait does not hold up other threads. */
static _Thread_local long long owed_ns;
static void spin(long long ns);

void tr_lock(void) { pthread_mutex_lock(&mu); }

void tr_unlock(void) {
    pthread_mutex_unlock(&mu);
    if (owed_ns > 0) {
        long long ns = owed_ns;
        owed_ns = 0;
        spin(ns);
    }
}

/* ---- errors and violations ---- */

#define TR_MSG 1024

static _Thread_local char thread_msg[TR_MSG];
static _Thread_local int thread_has_msg;

static pthread_mutex_t vmu = PTHREAD_MUTEX_INITIALIZER;
static int violations;
static char last_violation[TR_MSG];

static int env_flag(const char *name) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

void tr_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(thread_msg, sizeof thread_msg, fmt, ap);
    va_end(ap);
    thread_has_msg = 1;
}

int tr_violation(int code, const char *fmt, ...) {
    char buf[TR_MSG - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    snprintf(thread_msg, sizeof thread_msg, "%s (error %d)", buf, code);
    thread_has_msg = 1;
    pthread_mutex_lock(&vmu);
    violations++;
    snprintf(last_violation, sizeof last_violation, "%s", thread_msg);
    pthread_mutex_unlock(&vmu);
    if (env_flag("RESNEXT_TESTRT_ABORT")) {
        fprintf(stderr, "testrt: contract violation: %s\n", thread_msg);
        fflush(stderr);
        abort();
    }
    if (env_flag("RESNEXT_TESTRT_VERBOSE")) {
        fprintf(stderr, "testrt: contract violation: %s\n", thread_msg);
    }
    return code;
}

TR_EXPORT const char *aclGetRecentErrMsg(void) { return thread_has_msg ? thread_msg : NULL; }

TR_EXPORT int testrt_violations(void) {
    pthread_mutex_lock(&vmu);
    int n = violations;
    pthread_mutex_unlock(&vmu);
    return n;
}

TR_EXPORT const char *testrt_last_violation(void) {
    static _Thread_local char copy[TR_MSG];
    pthread_mutex_lock(&vmu);
    memcpy(copy, last_violation, sizeof copy);
    pthread_mutex_unlock(&vmu);
    return copy;
}

TR_EXPORT void testrt_reset(void) {
    pthread_mutex_lock(&vmu);
    violations = 0;
    last_violation[0] = '\0';
    pthread_mutex_unlock(&vmu);
    thread_has_msg = 0;
    thread_msg[0] = '\0';
}

/* ---- the C heap ---- */

/* Every launch allocates its task and the queue frees them all when a stream drains. With glibc's
 * default trim threshold (128 KiB, adjusted dynamically) the heap then shrinks at each
 * synchronisation and grows again at the next launches, and the page faults cost 2 to 3 us per
 * queued kernel: several times what the runtime's own checks take, and no part of what a card's
 * runtime costs. So the runtime asks glibc, when it is loaded, to keep up to 256 MiB of freed heap. */
__attribute__((constructor)) static void keep_heap(void) {
#ifdef M_TRIM_THRESHOLD
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

/* ---- timing mode ---- */

static int timing;
static long long workspace_ns, launch_ns; /* set with timing by tr_timing_configure */

/* Parses a non-negative integer number of microseconds (at most an hour) from name; an unset or
 * empty variable keeps *ns. Returns 0, or records an error naming the variable and returns
 * ACL_ERROR_INVALID_PARAM. */
static int env_us(const char *name, long long *ns) {
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long us = strtoull(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || us > 3600ull * 1000 * 1000) {
        tr_error("aclInit: %s=\"%s\" is not a number of microseconds (a non-negative integer up to 3600000000)",
                 name, v);
        return ACL_ERROR_INVALID_PARAM;
    }
    *ns = (long long)us * 1000;
    return 0;
}

int tr_timing_configure(void) {
    const char *v = getenv("RESNEXT_TESTRT_TIMING");
    int on = 0;
    if (v != NULL && v[0] != '\0' && strcmp(v, "0") != 0) {
        if (strcmp(v, "1") != 0) {
            tr_error("aclInit: RESNEXT_TESTRT_TIMING=\"%s\" must be 1 (timing mode) or 0 (off)", v);
            return ACL_ERROR_INVALID_PARAM;
        }
        on = 1;
    }
    long long ws = 30 * 1000LL, ln = 5 * 1000LL; /* the defaults: 30 us and 5 us */
    int rc = env_us("RESNEXT_TESTRT_WORKSPACE_US", &ws);
    if (rc == 0) rc = env_us("RESNEXT_TESTRT_LAUNCH_US", &ln);
    if (rc != 0) return rc;
    timing = on;
    workspace_ns = ws;
    launch_ns = ln;
    return 0;
}

int tr_timing(void) { return timing; }

/* Busy-waits ns nanoseconds on CLOCK_MONOTONIC (a sleep's granularity is far coarser than the
 * microseconds charged). */
static void spin(long long ns) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) < ns);
}

void tr_timing_launch(void) {
    if (timing && launch_ns > 0) spin(launch_ns);
}

/* ---- handles ---- */

const char *tr_kind_name(int kind) {
    switch (kind) {
    case TR_CONTEXT: return "context";
    case TR_STREAM: return "stream";
    case TR_EVENT: return "event";
    case TR_TENSOR: return "tensor";
    case TR_SCALAR: return "scalar";
    case TR_INT_ARRAY: return "int array";
    case TR_BOOL_ARRAY: return "bool array";
    case TR_FLOAT_ARRAY: return "float array";
    case TR_EXECUTOR: return "executor";
    case TR_GRAPH: return "graph";
    case TR_COMM: return "communicator";
    }
    return "handle";
}

typedef struct node {
    struct node *next;
    const void *p;
    int kind;
} node;

#define NBUCKET 4096
static node *buckets[NBUCKET];

static size_t bucket_of(const void *p) {
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 20) % NBUCKET;
}

void tr_handle_add(const void *p, int kind) {
    /* tr_executor_publish, the last step of every successful GetWorkspaceSize, is the only place an
       executor is registered: the simulated tiling cost is charged here, paid at tr_unlock. */
    if (kind == TR_EXECUTOR && timing) owed_ns += workspace_ns;
    node *n = malloc(sizeof *n);
    if (n == NULL) abort();
    n->p = p;
    n->kind = kind;
    size_t b = bucket_of(p);
    n->next = buckets[b];
    buckets[b] = n;
}

int tr_handle_live(const void *p, int kind) {
    if (p == NULL) return 0;
    for (node *n = buckets[bucket_of(p)]; n != NULL; n = n->next)
        if (n->p == p && n->kind == kind) return 1;
    return 0;
}

#define NGRAVE 8192
static struct {
    const void *p;
    int kind;
    const char *why;
} grave[NGRAVE];
static size_t grave_next;

void tr_handle_remove(const void *p, int kind, const char *why) {
    for (node **pp = &buckets[bucket_of(p)]; *pp != NULL; pp = &(*pp)->next) {
        node *n = *pp;
        if (n->p == p && n->kind == kind) {
            *pp = n->next;
            free(n);
            break;
        }
    }
    size_t i = grave_next++ % NGRAVE;
    grave[i].p = p;
    grave[i].kind = kind;
    grave[i].why = why;
}

const char *tr_handle_gone(const void *p, int kind) {
    size_t n = grave_next < NGRAVE ? grave_next : NGRAVE;
    for (size_t k = 1; k <= n; k++) {
        size_t i = (grave_next - k) % NGRAVE;
        if (grave[i].p == p && grave[i].kind == kind) return grave[i].why;
    }
    return NULL;
}

#define NLATER 1024
static void *later[NLATER];
static size_t later_next;

void tr_free_later(void *p) {
    size_t i = later_next++ % NLATER;
    free(later[i]);
    later[i] = p;
}
