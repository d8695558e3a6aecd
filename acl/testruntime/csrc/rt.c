/* rt.c: the ACL runtime over host memory: devices, contexts (current per OS thread), streams whose
 * tasks run when the stream is synchronized, events, and tracked "device" memory. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TR_MAX_DEVICES 64
/* aclrtMalloc's and aclrtMallocHost's alignment: a card's allocations are page-aligned; 512 bytes is
   what the project's allocator asks of them (torch_npu's caching allocator aligns its blocks alike). */
#define TR_ALIGN 512
/* Device-to-device copies need both addresses aligned to this (CANN's aclrtMemcpy and
   aclrtMemcpyAsync). */
#define TR_D2D_ALIGN 64

typedef struct tr_task {
    struct tr_task *next;
    uint64_t seq;
    int kernel; /* an aclnn kernel (tr_enqueue), which does not run in timing mode; else a copy or event */
    char desc[96];
    void (*run)(void *);
    void *arg;
    int nr;
    tr_range r[2 * TR_MAX_IO + 2];
} tr_task;

typedef struct tr_context tr_context;

struct tr_stream {
    tr_context *ctx;
    tr_task *head, *tail;
    uint64_t next_seq, done_seq;
    uint64_t running; /* the sequence number of the task running now (0: none) */
    int is_default;
    tr_stream *next_all;
};

struct tr_context {
    int device;
    int is_default;
    tr_stream *def;
};

typedef struct {
    tr_stream *stream; /* NULL until recorded */
    uint64_t seq;
} tr_event;

static int initialized;
static struct {
    int refs;
    tr_context *def;
} devices[TR_MAX_DEVICES];
static tr_stream *all_streams;
static _Thread_local tr_context *current;

/* ---- memory bookkeeping ---- */

typedef struct {
    char *base;
    size_t size;
} block;

static block *live;
static size_t nlive, caplive;
static size_t bytes_in_use;

static block host_blocks[4096];
static size_t nhost;

#define NFREED 4096
static block freed[NFREED];
static size_t freed_next;

static size_t device_count(void) {
    const char *v = getenv("RESNEXT_TESTRT_DEVICES");
    long n = v != NULL ? strtol(v, NULL, 10) : 1;
    if (n < 1) n = 1;
    if (n > TR_MAX_DEVICES) n = TR_MAX_DEVICES;
    return (size_t)n;
}

static size_t memory_limit(void) {
    const char *v = getenv("RESNEXT_TESTRT_MEM_BYTES");
    if (v != NULL) {
        unsigned long long n = strtoull(v, NULL, 10);
        if (n > 0) return (size_t)n;
    }
    return (size_t)32 << 30; /* an Ascend 910 has 32 GiB of HBM */
}

/* Index of the live block containing p, or -1. */
static long find_live(const void *p) {
    const char *c = p;
    size_t lo = 0, hi = nlive;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < live[mid].base) hi = mid;
        else if (c >= live[mid].base + live[mid].size) lo = mid + 1;
        else return (long)mid;
    }
    return -1;
}

static int in_blocks(const block *b, size_t n, const void *p) {
    const char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c >= b[i].base && c < b[i].base + b[i].size) return 1;
    return 0;
}

static int was_freed(const void *p) {
    return in_blocks(freed, freed_next < NFREED ? freed_next : NFREED, p);
}

int tr_check_device(const void *p, size_t n, const char *what, int code) {
    if (p == NULL) return tr_violation(code, "%s is NULL where device memory is required", what);
    long i = find_live(p);
    if (i < 0) {
        if (in_blocks(host_blocks, nhost, p))
            return tr_violation(code, "%s %p is host memory from aclrtMallocHost, not device memory", what, p);
        if (was_freed(p))
            return tr_violation(code, "%s %p points into device memory that was already freed with aclrtFree",
                                what, p);
        return tr_violation(code, "%s %p is not device memory (not from aclrtMalloc): a host pointer?", what, p);
    }
    const block *b = &live[i];
    size_t room = (size_t)(b->base + b->size - (const char *)p);
    if (n > room)
        return tr_violation(code, "%s [%p, +%zu bytes) runs %zu bytes past the end of its device block [%p, +%zu)",
                            what, p, n, n - room, (void *)b->base, b->size);
    return 0;
}

size_t tr_device_room(const void *p) {
    long i = find_live(p);
    if (i < 0) return 0;
    return (size_t)(live[i].base + live[i].size - (const char *)p);
}

/* The first queued task that uses memory overlapping [p, p+n), or NULL. */
static const tr_task *pending_user(const char *p, size_t n, const tr_stream **on) {
    for (tr_stream *s = all_streams; s != NULL; s = s->next_all)
        for (const tr_task *t = s->head; t != NULL; t = t->next)
            for (int k = 0; k < t->nr; k++)
                if (t->r[k].base < p + n && p < t->r[k].base + t->r[k].size) {
                    *on = s;
                    return t;
                }
    return NULL;
}

static int check_not_pending(const void *p, size_t n, const char *api, const char *what) {
    const tr_stream *s;
    const tr_task *t = pending_user(p, n, &s);
    if (t == NULL) return 0;
    return tr_violation(ACL_ERROR_INVALID_PARAM,
                        "%s: %s [%p, +%zu) is still used by a task queued on stream %p (%s) that has not run: "
                        "synchronize the stream first",
                        api, what, p, n, (void *)s, t->desc);
}

/* ---- state checks ---- */

int tr_initialized(void) { return initialized; }

static int need_init(const char *api) {
    if (!initialized) return tr_violation(ACL_ERROR_UNINITIALIZE, "%s called before aclInit", api);
    return 0;
}

static int need_context(const char *api) {
    int rc = need_init(api);
    if (rc != 0) return rc;
    if (current == NULL)
        return tr_violation(ACL_ERROR_RT_CONTEXT_NULL,
                            "%s: no current context on this OS thread: call aclrtSetDevice or "
                            "aclrtSetCurrentContext on this thread first",
                            api);
    if (!tr_handle_live(current, TR_CONTEXT)) {
        current = NULL;
        return tr_violation(ACL_ERROR_RT_CONTEXT_NULL,
                            "%s: the current context of this thread was destroyed or its device reset", api);
    }
    return 0;
}

static int check_device_id(int32_t id, const char *api) {
    if (id < 0 || (size_t)id >= device_count())
        return tr_violation(ACL_ERROR_RT_INVALID_DEVICEID, "%s: device %d does not exist (%zu device(s))", api,
                            (int)id, device_count());
    return 0;
}

/* ---- streams ---- */

static tr_stream *stream_new(tr_context *ctx, int is_default) {
    tr_stream *s = calloc(1, sizeof *s);
    if (s == NULL) abort();
    s->ctx = ctx;
    s->is_default = is_default;
    s->next_all = all_streams;
    all_streams = s;
    tr_handle_add(s, TR_STREAM);
    return s;
}

/* The failure of the task running now (tr_task_fail), 0 when none; under the lock. */
static int task_rc;

void tr_task_fail(int code) {
    if (task_rc == 0) task_rc = code;
}

/* Runs the stream's tasks with sequence number <= upto and returns the code of the first that
 * failed (0 when none did). Every task runs, failed or not; the first failure's message is the one
 * the calling thread keeps. A task may drain another stream (a wait for an event recorded there). */
static int drain(tr_stream *s, uint64_t upto) {
    int first = 0;
    char msg[1024];
    while (s->head != NULL && s->head->seq <= upto) {
        tr_task *t = s->head;
        s->head = t->next;
        if (s->head == NULL) s->tail = NULL;
        int outer = task_rc;
        task_rc = 0;
        uint64_t was = s->running;
        s->running = t->seq;
        if (t->run != NULL && !(t->kernel && tr_timing())) t->run(t->arg);
        s->running = was;
        if (task_rc != 0 && first == 0) {
            first = task_rc;
            const char *m = aclGetRecentErrMsg();
            snprintf(msg, sizeof msg, "%s", m != NULL ? m : "");
        }
        task_rc = outer;
        free(t->arg);
        s->done_seq = t->seq;
        free(t);
    }
    if (first != 0) tr_error("%s", msg);
    return first;
}

static int drain_all(tr_stream *s) { return drain(s, UINT64_MAX); }

static void stream_unlink(tr_stream *s, const char *why) {
    for (tr_stream **pp = &all_streams; *pp != NULL; pp = &(*pp)->next_all)
        if (*pp == s) {
            *pp = s->next_all;
            break;
        }
    tr_capture_forget(s);
    tr_handle_remove(s, TR_STREAM, why);
    tr_free_later(s);
}

int tr_resolve_stream(aclrtStream stream, tr_stream **out, const char *api) {
    int rc = need_context(api);
    if (rc != 0) return rc;
    if (stream == NULL) {
        *out = current->def;
        return 0;
    }
    tr_stream *s = stream;
    if (!tr_handle_live(s, TR_STREAM)) {
        const char *why = tr_handle_gone(s, TR_STREAM);
        if (why != NULL) return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: stream %p used after %s", api, stream, why);
        return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: %p is not a stream from aclrtCreateStream", api, stream);
    }
    if (s->ctx != current)
        return tr_violation(ACL_ERROR_RT_STREAM_CONTEXT,
                            "%s: stream %p belongs to context %p (device %d) but the current context of this OS "
                            "thread is %p (device %d): set the stream's context current on this thread",
                            api, stream, (void *)s->ctx, s->ctx->device, (void *)current, current->device);
    *out = s;
    return 0;
}

static void enqueue(tr_stream *s, int kernel, const char *desc, void (*run)(void *), void *arg,
                    const tr_range *ranges, int nranges) {
    if (tr_capture_task(s, kernel, desc, run, arg, ranges, nranges)) return;
    tr_task *t = calloc(1, sizeof *t);
    if (t == NULL) abort();
    t->seq = ++s->next_seq;
    t->kernel = kernel;
    strncpy(t->desc, desc, sizeof t->desc - 1); /* calloc'd: the last byte stays 0 */
    t->run = run;
    t->arg = arg;
    if (nranges > (int)(sizeof t->r / sizeof t->r[0])) nranges = (int)(sizeof t->r / sizeof t->r[0]);
    for (int i = 0; i < nranges; i++) t->r[t->nr++] = ranges[i];
    if (s->tail != NULL) s->tail->next = t;
    else s->head = t;
    s->tail = t;
}

void tr_enqueue(tr_stream *s, const char *desc, void (*run)(void *), void *arg, const tr_range *ranges,
                int nranges) {
    enqueue(s, 1, desc, run, arg, ranges, nranges);
}

void tr_requeue(tr_stream *s, const char *desc, void (*run)(void *), void *arg, const tr_range *ranges, int nranges) {
    enqueue(s, 0, desc, run, arg, ranges, nranges);
}

int tr_stream_is_default(const tr_stream *s) { return s->is_default; }

const void *tr_stream_context(const tr_stream *s) { return s->ctx; }

/* ---- contexts ---- */

static tr_context *context_new(int device, int is_default) {
    tr_context *c = calloc(1, sizeof *c);
    if (c == NULL) abort();
    c->device = device;
    c->is_default = is_default;
    tr_handle_add(c, TR_CONTEXT);
    c->def = stream_new(c, 1);
    return c;
}

/* Runs and removes every stream of c, then c itself. */
static void context_drop(tr_context *c, const char *why) {
    for (tr_stream *s = all_streams, *next; s != NULL; s = next) {
        next = s->next_all;
        if (s->ctx == c) {
            drain_all(s);
            stream_unlink(s, why);
        }
    }
    tr_handle_remove(c, TR_CONTEXT, why);
    tr_free_later(c);
    if (current == c) current = NULL;
}

/* ---- exported: init, devices, contexts ---- */

/* Set by aclFinalize: CANN does not support a second aclInit in the process. */
static int finalized;

TR_EXPORT aclError aclInit(const char *configPath) {
    (void)configPath;
    tr_lock();
    int rc = 0;
    if (finalized) {
        rc = tr_violation(ACL_ERROR_INVALID_PARAM,
                          "aclInit after aclFinalize: CANN does not support initialising again in one process");
    } else if (initialized) {
        tr_error("aclInit: already initialized");
        rc = ACL_ERROR_REPEAT_INITIALIZE;
    } else {
        /* RESNEXT_TESTRT_TIMING and its costs are read once, here; a bad value fails aclInit. */
        rc = tr_timing_configure();
        if (rc == 0) initialized = 1;
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclFinalize(void) {
    tr_lock();
    int rc = need_init("aclFinalize");
    if (rc == 0) {
        for (int d = 0; d < TR_MAX_DEVICES; d++) {
            if (devices[d].def != NULL) context_drop(devices[d].def, "aclFinalize");
            devices[d].def = NULL;
            devices[d].refs = 0;
        }
        for (tr_stream *s = all_streams; s != NULL; s = s->next_all) drain_all(s);
        current = NULL;
        initialized = 0;
        finalized = 1;
        /* RESNEXT_TESTRT_FINALIZE_LOG names a file aclFinalize appends a line to, so that a test can
           see a process finalise the runtime before it exits. */
        const char *log = getenv("RESNEXT_TESTRT_FINALIZE_LOG");
        FILE *f = log != NULL && log[0] != 0 ? fopen(log, "a") : NULL;
        if (f != NULL) {
            fputs("aclFinalize\n", f);
            fclose(f);
        }
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtGetDeviceCount(uint32_t *count) {
    if (count == NULL) return tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtGetDeviceCount: count is NULL");
    *count = (uint32_t)device_count();
    return 0;
}

TR_EXPORT aclError aclrtSetDevice(int32_t deviceId) {
    tr_lock();
    int rc = need_init("aclrtSetDevice");
    if (rc == 0) rc = check_device_id(deviceId, "aclrtSetDevice");
    if (rc == 0) {
        if (devices[deviceId].def == NULL) devices[deviceId].def = context_new(deviceId, 1);
        devices[deviceId].refs++;
        current = devices[deviceId].def;
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtResetDevice(int32_t deviceId) {
    tr_lock();
    int rc = need_init("aclrtResetDevice");
    if (rc == 0) rc = check_device_id(deviceId, "aclrtResetDevice");
    if (rc == 0 && devices[deviceId].refs == 0)
        rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtResetDevice: device %d was not set with aclrtSetDevice",
                          (int)deviceId);
    if (rc == 0 && --devices[deviceId].refs == 0) {
        context_drop(devices[deviceId].def, "aclrtResetDevice");
        devices[deviceId].def = NULL;
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtGetDevice(int32_t *deviceId) {
    tr_lock();
    int rc = need_context("aclrtGetDevice");
    if (rc == 0 && deviceId == NULL) rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtGetDevice: deviceId is NULL");
    if (rc == 0) *deviceId = current->device;
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtCreateContext(aclrtContext *context, int32_t deviceId) {
    tr_lock();
    int rc = need_init("aclrtCreateContext");
    if (rc == 0 && context == NULL)
        rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtCreateContext: context is NULL");
    if (rc == 0) rc = check_device_id(deviceId, "aclrtCreateContext");
    if (rc == 0) {
        tr_context *c = context_new(deviceId, 0);
        current = c;
        *context = c;
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtDestroyContext(aclrtContext context) {
    tr_lock();
    int rc = need_init("aclrtDestroyContext");
    tr_context *c = context;
    if (rc == 0 && !tr_handle_live(c, TR_CONTEXT)) {
        const char *why = tr_handle_gone(c, TR_CONTEXT);
        rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtDestroyContext: context %p %s%s", context,
                          why ? "already gone after " : "is not a context", why ? why : "");
    }
    if (rc == 0 && c->is_default)
        rc = tr_violation(ACL_ERROR_INVALID_PARAM,
                          "aclrtDestroyContext: context %p is a device's default context (use aclrtResetDevice)",
                          context);
    if (rc == 0) {
        for (tr_stream *s = all_streams; s != NULL && rc == 0; s = s->next_all)
            if (s->ctx == c && !s->is_default)
                rc = tr_violation(ACL_ERROR_INVALID_PARAM,
                                  "aclrtDestroyContext: context %p still has stream %p: destroy its streams first",
                                  context, (void *)s);
    }
    if (rc == 0) context_drop(c, "aclrtDestroyContext");
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtSetCurrentContext(aclrtContext context) {
    tr_lock();
    int rc = need_init("aclrtSetCurrentContext");
    if (rc == 0 && !tr_handle_live(context, TR_CONTEXT)) {
        const char *why = tr_handle_gone(context, TR_CONTEXT);
        rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtSetCurrentContext: context %p %s%s", context,
                          why ? "used after " : "is not a context", why ? why : "");
    }
    if (rc == 0) current = context;
    tr_unlock();
    return rc;
}

/* ---- exported: streams and events ---- */

TR_EXPORT aclError aclrtCreateStream(aclrtStream *stream) {
    tr_lock();
    int rc = need_context("aclrtCreateStream");
    if (rc == 0 && stream == NULL) rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtCreateStream: stream is NULL");
    if (rc == 0) *stream = stream_new(current, 0);
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtDestroyStream(aclrtStream stream) {
    tr_lock();
    tr_stream *s = NULL;
    int rc = 0;
    if (stream == NULL) rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtDestroyStream: stream is NULL");
    if (rc == 0) rc = tr_resolve_stream(stream, &s, "aclrtDestroyStream");
    if (rc == 0) rc = tr_capture_check_stream(s, "aclrtDestroyStream");
    if (rc == 0 && s->head != NULL)
        rc = tr_violation(ACL_ERROR_INVALID_PARAM,
                          "aclrtDestroyStream: stream %p still has queued tasks (first: %s): synchronize it first",
                          stream, s->head->desc);
    if (rc == 0) stream_unlink(s, "aclrtDestroyStream");
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtSynchronizeStream(aclrtStream stream) {
    tr_lock();
    tr_stream *s = NULL;
    int rc = tr_resolve_stream(stream, &s, "aclrtSynchronizeStream");
    if (rc == 0) rc = tr_capture_check_stream(s, "aclrtSynchronizeStream");
    if (rc == 0) rc = drain_all(s);
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtSynchronizeDevice(void) {
    tr_lock();
    int rc = need_context("aclrtSynchronizeDevice");
    for (tr_stream *s = all_streams; s != NULL && rc == 0; s = s->next_all)
        if (s->ctx->device == current->device) rc = tr_capture_check_stream(s, "aclrtSynchronizeDevice");
    if (rc == 0) {
        int first = 0;
        for (tr_stream *s = all_streams; s != NULL; s = s->next_all)
            if (s->ctx->device == current->device) {
                int r = drain_all(s);
                if (first == 0) first = r;
            }
        rc = first;
    }
    tr_unlock();
    return rc;
}

static int check_event(aclrtEvent event, const char *api) {
    if (event == NULL) return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: event is NULL", api);
    if (tr_handle_live(event, TR_EVENT)) return 0;
    const char *why = tr_handle_gone(event, TR_EVENT);
    if (why != NULL) return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: event %p used after %s", api, event, why);
    return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: %p is not an event from aclrtCreateEvent", api, event);
}

TR_EXPORT aclError aclrtCreateEvent(aclrtEvent *event) {
    tr_lock();
    int rc = need_context("aclrtCreateEvent");
    if (rc == 0 && event == NULL) rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtCreateEvent: event is NULL");
    if (rc == 0) {
        tr_event *e = calloc(1, sizeof *e);
        if (e == NULL) abort();
        tr_handle_add(e, TR_EVENT);
        *event = e;
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream) {
    tr_lock();
    tr_stream *s = NULL;
    int rc = check_event(event, "aclrtRecordEvent");
    if (rc == 0) rc = tr_resolve_stream(stream, &s, "aclrtRecordEvent");
    if (rc == 0 && !tr_capture_event(s, event)) tr_record_event(s, event);
    tr_unlock();
    return rc;
}

void tr_record_event(tr_stream *s, aclrtEvent event) {
    tr_event *e = event;
    enqueue(s, 0, "event record", NULL, NULL, NULL, 0);
    e->stream = s;
    e->seq = s->next_seq;
}

TR_EXPORT aclError aclrtSynchronizeEvent(aclrtEvent event) {
    tr_lock();
    int rc = need_context("aclrtSynchronizeEvent");
    if (rc == 0) rc = check_event(event, "aclrtSynchronizeEvent");
    if (rc == 0) rc = tr_capture_check_event(event, ((tr_event *)event)->stream, "aclrtSynchronizeEvent");
    if (rc == 0) {
        tr_event *e = event;
        /* A destroyed stream had nothing queued (aclrtDestroyStream refuses otherwise). */
        if (e->stream != NULL && tr_handle_live(e->stream, TR_STREAM)) rc = drain(e->stream, e->seq);
    }
    tr_unlock();
    return rc;
}

/* A queued wait: when its stream reaches it, the work of `on` up to seq runs first (on this thread,
 * as every task does). */
typedef struct {
    tr_stream *self, *on;
    uint64_t seq;
} wait_task;

static void run_wait(void *arg) {
    wait_task *w = arg;
    /* A destroyed stream had nothing queued (aclrtDestroyStream refuses otherwise). */
    if (!tr_handle_live(w->on, TR_STREAM) || w->on->done_seq >= w->seq) return;
    if (w->on->running != 0 && w->on->running <= w->seq) {
        /* The stream waited for is itself waiting, further up, for the stream of this wait. */
        tr_task_fail(tr_violation(ACL_ERROR_RT_FFTS_PLUS_EXCEPTION,
                                  "aclrtStreamWaitEvent: stream %p waits for work of stream %p that waits for it: "
                                  "the streams wait for each other and would hang on a card",
                                  (void *)w->self, (void *)w->on));
        return;
    }
    int rc = drain(w->on, w->seq);
    if (rc != 0) tr_task_fail(rc);
}

/* The waits take the event's record at the time of the call, as CUDA's do: later records of the
 * event do not change a queued wait. */
TR_EXPORT aclError aclrtStreamWaitEvent(aclrtStream stream, aclrtEvent event) {
    tr_lock();
    tr_stream *s = NULL;
    int rc = check_event(event, "aclrtStreamWaitEvent");
    if (rc == 0) rc = tr_resolve_stream(stream, &s, "aclrtStreamWaitEvent");
    tr_event *e = event;
    if (rc == 0 && tr_stream_capturing(s)) {
        tr_error("aclrtStreamWaitEvent: waiting inside a capture is not modelled by the test runtime");
        rc = ACL_ERROR_RT_FEATURE_NOT_SUPPORT;
    }
    if (rc == 0 && e->stream == NULL)
        rc = tr_violation(ACL_ERROR_INVALID_PARAM,
                          "aclrtStreamWaitEvent: event %p was never recorded (aclrtRecordEvent): the stream would "
                          "wait for it forever",
                          event);
    if (rc == 0 && tr_handle_live(e->stream, TR_STREAM) && e->stream->ctx->device != s->ctx->device)
        rc = tr_violation(ACL_ERROR_INVALID_PARAM,
                          "aclrtStreamWaitEvent: event %p was recorded on device %d, the stream is on device %d",
                          event, e->stream->ctx->device, s->ctx->device);
    if (rc == 0 && e->stream != s) {
        wait_task *w = calloc(1, sizeof *w);
        if (w == NULL) abort();
        w->self = s;
        w->on = e->stream;
        w->seq = e->seq;
        enqueue(s, 0, "aclrtStreamWaitEvent", run_wait, w, NULL, 0);
    }
    tr_unlock();
    return rc;
}

/* Queued on the stream that waited, as CANN 8.0 documents (record, wait, reset); it changes nothing
 * here, since a queued wait already holds the record it waits for. */
TR_EXPORT aclError aclrtResetEvent(aclrtEvent event, aclrtStream stream) {
    tr_lock();
    tr_stream *s = NULL;
    int rc = check_event(event, "aclrtResetEvent");
    if (rc == 0) rc = tr_resolve_stream(stream, &s, "aclrtResetEvent");
    if (rc == 0 && tr_stream_capturing(s)) {
        tr_error("aclrtResetEvent: resetting inside a capture is not modelled by the test runtime");
        rc = ACL_ERROR_RT_FEATURE_NOT_SUPPORT;
    }
    if (rc == 0) enqueue(s, 0, "aclrtResetEvent", NULL, NULL, NULL, 0);
    tr_unlock();
    return rc;
}

int tr_stream_device(const tr_stream *s) { return s->ctx->device; }

int tr_current_device(const char *api, int *device, const void **ctx) {
    int rc = need_context(api);
    if (rc == 0) {
        *device = current->device;
        *ctx = current;
    }
    return rc;
}

TR_EXPORT aclError aclrtDestroyEvent(aclrtEvent event) {
    tr_lock();
    int rc = check_event(event, "aclrtDestroyEvent");
    if (rc == 0) {
        tr_handle_remove(event, TR_EVENT, "aclrtDestroyEvent");
        tr_free_later(event);
    }
    tr_unlock();
    return rc;
}

/* ---- exported: memory ---- */

TR_EXPORT aclError aclrtMalloc(void **devPtr, size_t size, aclrtMemMallocPolicy policy) {
    (void)policy;
    tr_lock();
    int rc = need_context("aclrtMalloc");
    if (rc == 0 && devPtr == NULL) rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtMalloc: devPtr is NULL");
    if (rc == 0 && size == 0) rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtMalloc: size is 0");
    if (rc == 0 && bytes_in_use + size > memory_limit()) {
        tr_error("aclrtMalloc: out of device memory: %zu bytes asked, %zu of %zu in use", size, bytes_in_use,
                 memory_limit());
        rc = ACL_ERROR_RT_MEMORY_ALLOCATION;
    }
    if (rc == 0) {
        size_t rounded = (size + TR_ALIGN - 1) / TR_ALIGN * TR_ALIGN;
        char *p = aligned_alloc(TR_ALIGN, rounded);
        if (p == NULL) {
            tr_error("aclrtMalloc: host allocation of %zu bytes failed", size);
            rc = ACL_ERROR_RT_MEMORY_ALLOCATION;
        } else {
            /* NaN in every float type, so reads of unwritten memory show; zero in timing mode, where
               no kernel writes, so that a value read back (a loss) is 0 rather than NaN. */
            memset(p, tr_timing() ? 0 : 0xff, rounded);
            if (nlive == caplive) {
                caplive = caplive ? 2 * caplive : 256;
                live = realloc(live, caplive * sizeof *live);
                if (live == NULL) abort();
            }
            size_t at = 0;
            while (at < nlive && live[at].base < p) at++;
            memmove(&live[at + 1], &live[at], (nlive - at) * sizeof *live);
            live[at].base = p;
            live[at].size = size;
            nlive++;
            bytes_in_use += size;
            *devPtr = p;
        }
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtFree(void *devPtr) {
    tr_lock();
    int rc = need_context("aclrtFree");
    long i = -1;
    if (rc == 0) {
        i = find_live(devPtr);
        if (devPtr == NULL) rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtFree: pointer is NULL");
        else if (i >= 0 && live[i].base != (char *)devPtr)
            rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtFree: %p is inside device block %p, not its start",
                              devPtr, (void *)live[i].base);
        else if (i < 0) rc = tr_check_device(devPtr, 1, "aclrtFree: pointer", ACL_ERROR_INVALID_PARAM);
    }
    if (rc == 0) rc = check_not_pending(devPtr, live[i].size, "aclrtFree", "device memory");
    if (rc == 0) rc = tr_capture_check_free(devPtr, live[i].size, "aclrtFree");
    if (rc == 0) {
        block b = live[i];
        memmove(&live[i], &live[i + 1], (nlive - (size_t)i - 1) * sizeof *live);
        nlive--;
        bytes_in_use -= b.size;
        freed[freed_next++ % NFREED] = b;
        free(b.base);
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtMallocHost(void **hostPtr, size_t size) {
    tr_lock();
    int rc = need_init("aclrtMallocHost");
    if (rc == 0 && (hostPtr == NULL || size == 0))
        rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtMallocHost: hostPtr is NULL or size is 0");
    if (rc == 0 && nhost == sizeof host_blocks / sizeof host_blocks[0]) {
        tr_error("aclrtMallocHost: too many host blocks in the test runtime");
        rc = ACL_ERROR_BAD_ALLOC;
    }
    if (rc == 0) {
        char *p = aligned_alloc(TR_ALIGN, (size + TR_ALIGN - 1) / TR_ALIGN * TR_ALIGN);
        if (p == NULL) {
            rc = ACL_ERROR_BAD_ALLOC;
        } else {
            host_blocks[nhost].base = p;
            host_blocks[nhost].size = size;
            nhost++;
            *hostPtr = p;
        }
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtFreeHost(void *hostPtr) {
    tr_lock();
    int rc = need_init("aclrtFreeHost");
    size_t i = 0;
    while (rc == 0 && i < nhost && host_blocks[i].base != (char *)hostPtr) i++;
    if (rc == 0 && i == nhost)
        rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtFreeHost: %p is not from aclrtMallocHost", hostPtr);
    if (rc == 0) rc = check_not_pending(hostPtr, host_blocks[i].size, "aclrtFreeHost", "host memory");
    if (rc == 0) {
        free(host_blocks[i].base);
        host_blocks[i] = host_blocks[--nhost];
    }
    tr_unlock();
    return rc;
}

/* Checks the two sides of a copy of count bytes against kind. */
static int check_copy(void *dst, size_t destMax, const void *src, size_t count, int kind, const char *api) {
    if (count > destMax)
        return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: count %zu is larger than destMax %zu", api, count, destMax);
    if (kind < ACL_MEMCPY_HOST_TO_HOST || kind > ACL_MEMCPY_DEVICE_TO_DEVICE)
        return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: unknown aclrtMemcpyKind %d", api, kind);
    if (count == 0) return 0;
    if (dst == NULL || src == NULL) return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: dst or src is NULL", api);
    int dst_dev = kind == ACL_MEMCPY_HOST_TO_DEVICE || kind == ACL_MEMCPY_DEVICE_TO_DEVICE;
    int src_dev = kind == ACL_MEMCPY_DEVICE_TO_HOST || kind == ACL_MEMCPY_DEVICE_TO_DEVICE;
    char what[96];
    int rc;
    snprintf(what, sizeof what, "%s: destination", api);
    if (dst_dev && (rc = tr_check_device(dst, count, what, ACL_ERROR_INVALID_PARAM)) != 0) return rc;
    if (!dst_dev && find_live(dst) >= 0)
        return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: destination %p is device memory but kind %d says host",
                            api, dst, kind);
    snprintf(what, sizeof what, "%s: source", api);
    if (src_dev && (rc = tr_check_device(src, count, what, ACL_ERROR_INVALID_PARAM)) != 0) return rc;
    if (kind == ACL_MEMCPY_DEVICE_TO_DEVICE && ((uintptr_t)dst % TR_D2D_ALIGN || (uintptr_t)src % TR_D2D_ALIGN))
        return tr_violation(ACL_ERROR_INVALID_PARAM,
                            "%s: device-to-device copy from %p to %p: both addresses must be %d-byte aligned", api, src,
                            dst, TR_D2D_ALIGN);
    if (!src_dev && find_live(src) >= 0)
        return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: source %p is device memory but kind %d says host", api,
                            src, kind);
    return 0;
}

static int copy_ranges(void *dst, const void *src, size_t count, int kind, tr_range *r) {
    int n = 0;
    if (kind == ACL_MEMCPY_HOST_TO_DEVICE || kind == ACL_MEMCPY_DEVICE_TO_DEVICE) r[n++] = (tr_range){dst, count};
    if (kind == ACL_MEMCPY_DEVICE_TO_HOST || kind == ACL_MEMCPY_DEVICE_TO_DEVICE) r[n++] = (tr_range){src, count};
    return n;
}

TR_EXPORT aclError aclrtMemcpy(void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind) {
    tr_lock();
    int rc = need_context("aclrtMemcpy");
    if (rc == 0) rc = tr_capture_check_sync_copy("aclrtMemcpy");
    if (rc == 0) rc = check_copy(dst, destMax, src, count, (int)kind, "aclrtMemcpy");
    if (rc == 0 && count > 0) {
        tr_range r[2];
        int n = copy_ranges(dst, src, count, (int)kind, r);
        for (int k = 0; k < n && rc == 0; k++)
            rc = check_not_pending(r[k].base, r[k].size, "aclrtMemcpy", k == 0 && n == 2 ? "destination" : "memory");
    }
    if (rc == 0 && count > 0) memmove(dst, src, count);
    tr_unlock();
    return rc;
}

typedef struct {
    void *dst;
    const void *src;
    size_t count;
    int value;
    int is_set;
} mem_task;

static void run_mem_task(void *arg) {
    mem_task *m = arg;
    if (m->is_set) memset(m->dst, m->value, m->count);
    else memmove(m->dst, m->src, m->count);
}

TR_EXPORT aclError aclrtMemcpyAsync(void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind,
                                    aclrtStream stream) {
    tr_lock();
    tr_stream *s = NULL;
    int rc = tr_resolve_stream(stream, &s, "aclrtMemcpyAsync");
    if (rc == 0) rc = check_copy(dst, destMax, src, count, (int)kind, "aclrtMemcpyAsync");
    if (rc == 0 && count > 0) {
        mem_task *m = calloc(1, sizeof *m);
        if (m == NULL) abort();
        m->dst = dst;
        m->src = src;
        m->count = count;
        tr_range r[2];
        int n = copy_ranges(dst, src, count, (int)kind, r);
        char desc[64];
        snprintf(desc, sizeof desc, "aclrtMemcpyAsync kind %d, %zu bytes", (int)kind, count);
        enqueue(s, 0, desc, run_mem_task, m, r, n);
    }
    tr_unlock();
    return rc;
}

static int check_set(void *devPtr, size_t maxCount, size_t count, const char *api) {
    if (count > maxCount)
        return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: count %zu is larger than maxCount %zu", api, count,
                            maxCount);
    if (count == 0) return 0;
    char what[64];
    snprintf(what, sizeof what, "%s: devPtr", api);
    return tr_check_device(devPtr, count, what, ACL_ERROR_INVALID_PARAM);
}

TR_EXPORT aclError aclrtMemset(void *devPtr, size_t maxCount, int32_t value, size_t count) {
    tr_lock();
    int rc = need_context("aclrtMemset");
    if (rc == 0) rc = tr_capture_check_sync_copy("aclrtMemset");
    if (rc == 0) rc = check_set(devPtr, maxCount, count, "aclrtMemset");
    if (rc == 0 && count > 0) rc = check_not_pending(devPtr, count, "aclrtMemset", "memory");
    if (rc == 0 && count > 0) memset(devPtr, value, count);
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtMemsetAsync(void *devPtr, size_t maxCount, int32_t value, size_t count, aclrtStream stream) {
    tr_lock();
    tr_stream *s = NULL;
    int rc = tr_resolve_stream(stream, &s, "aclrtMemsetAsync");
    if (rc == 0) rc = check_set(devPtr, maxCount, count, "aclrtMemsetAsync");
    if (rc == 0 && count > 0) {
        mem_task *m = calloc(1, sizeof *m);
        if (m == NULL) abort();
        m->dst = devPtr;
        m->count = count;
        m->value = value;
        m->is_set = 1;
        tr_range r = {devPtr, count};
        enqueue(s, 0, "aclrtMemsetAsync", run_mem_task, m, &r, 1);
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t *free, size_t *total) {
    (void)attr;
    tr_lock();
    int rc = need_context("aclrtGetMemInfo");
    if (rc == 0 && (free == NULL || total == NULL))
        rc = tr_violation(ACL_ERROR_INVALID_PARAM, "aclrtGetMemInfo: free or total is NULL");
    if (rc == 0) {
        *total = memory_limit();
        *free = *total - bytes_in_use;
    }
    tr_unlock();
    return rc;
}

/* ---- test-only ---- */

TR_EXPORT size_t testrt_device_bytes_in_use(void) {
    tr_lock();
    size_t n = bytes_in_use;
    tr_unlock();
    return n;
}

TR_EXPORT int testrt_pending_tasks(void) {
    tr_lock();
    int n = 0;
    for (tr_stream *s = all_streams; s != NULL; s = s->next_all)
        for (tr_task *t = s->head; t != NULL; t = t->next) n++;
    tr_unlock();
    return n;
}
