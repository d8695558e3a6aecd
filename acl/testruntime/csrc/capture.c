/* capture.c: graph capture (aclmdlRI), CANN's model run instance built by capturing a stream, which
 * torch_npu's NPUGraph uses.
 *
 * aclmdlRICaptureBegin puts a created stream into capture: from then on everything queued on it
 * (kernel launches with their executor snapshot and workspace, async copies and memsets, event
 * records) is recorded instead of queued, after the launch-time checks ran as usual.
 * aclmdlRICaptureEnd turns the recording into a graph; aclmdlRIExecuteAsync queues every recorded task
 * on a stream, in order, as if launched again (same addresses, same snapshots), so the queued-memory
 * checks apply to the replay; aclmdlRIDestroy releases the graph. CANN documents capture for Atlas A2
 * and A3 (910B, 910_93) only: on the first-generation 910 aclmdlRICaptureBegin fails with
 * ACL_ERROR_RT_FEATURE_NOT_SUPPORT.
 *
 * A recording is shared by its graph and by the replayed tasks still queued (a reference each): a
 * replayed task runs the recorded one through run_replayed, which drops its reference, so a graph
 * destroyed with replays queued lives until they have run. Everything here runs under the lock. */
#include "internal.h"

#define TR_REC_RANGES (2 * TR_MAX_IO + 2)

/* One recorded task: what rt.c would have queued. */
typedef struct {
    int kernel; /* an aclnn kernel: skipped in timing mode */
    char desc[96];
    void (*run)(void *);
    void *arg;         /* owned by the recording */
    aclrtEvent event; /* an event record (no run, no arg) */
    int nr;
    tr_range r[TR_REC_RANGES];
} rec_task;

typedef struct {
    int refs; /* the capture or graph, and each queued replayed task */
    int n, cap;
    rec_task *t;
} recording;

/* A capture in progress (capturing set), then the graph it ended as. */
struct tr_graph {
    struct tr_graph *next;
    recording *rec;
    const void *ctx;       /* the context of the captured stream */
    const tr_stream *capturing; /* NULL once ended */
    int mode;
    pthread_t thread; /* the thread that began the capture */
};
typedef struct tr_graph tr_graph;

static tr_graph *captures; /* in progress */
static tr_graph *graphs;   /* ended and not destroyed */
static int held_tasks;     /* tasks of the recordings still referenced (testrt_graph_tasks) */

static const char *mode_name(int mode) {
    switch (mode) {
    case ACL_MODEL_RI_CAPTURE_MODE_GLOBAL: return "GLOBAL";
    case ACL_MODEL_RI_CAPTURE_MODE_THREAD_LOCAL: return "THREAD_LOCAL";
    }
    return "RELAXED";
}

static tr_graph *capture_of(const tr_stream *s) {
    for (tr_graph *g = captures; g != NULL; g = g->next)
        if (g->capturing == s) return g;
    return NULL;
}

static void unlink_graph(tr_graph **list, const tr_graph *g) {
    for (tr_graph **pp = list; *pp != NULL; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            return;
        }
}

static void release(recording *r) {
    if (--r->refs > 0) return;
    for (int i = 0; i < r->n; i++) free(r->t[i].arg);
    held_tasks -= r->n;
    free(r->t);
    free(r);
}

static rec_task *record(tr_graph *g, const char *desc) {
    recording *r = g->rec;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->t = realloc(r->t, (size_t)r->cap * sizeof *r->t);
        if (r->t == NULL) abort();
    }
    rec_task *t = &r->t[r->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->desc, sizeof t->desc, "%s", desc);
    held_tasks++;
    return t;
}

/* ---- hooks of rt.c ---- */

int tr_capture_task(tr_stream *s, int kernel, const char *desc, void (*run)(void *), void *arg,
                    const tr_range *ranges, int nranges) {
    tr_graph *g = captures != NULL ? capture_of(s) : NULL;
    if (g == NULL) return 0;
    rec_task *t = record(g, desc);
    t->kernel = kernel;
    t->run = run;
    t->arg = arg;
    for (int i = 0; i < nranges && i < TR_REC_RANGES; i++) t->r[t->nr++] = ranges[i];
    return 1;
}

int tr_stream_capturing(const tr_stream *s) { return captures != NULL && capture_of(s) != NULL; }

int tr_capture_event(tr_stream *s, aclrtEvent e) {
    tr_graph *g = captures != NULL ? capture_of(s) : NULL;
    if (g == NULL) return 0;
    record(g, "event record")->event = e;
    return 1;
}

int tr_capture_check_stream(const tr_stream *s, const char *api) {
    if (captures == NULL || capture_of(s) == NULL) return 0;
    return tr_violation(ACL_ERROR_RT_STREAM_CAPTURED,
                        "%s: stream %p is capturing (aclmdlRICaptureBegin): a capturing stream cannot be "
                        "synchronized or destroyed; end the capture with aclmdlRICaptureEnd first",
                        api, (const void *)s);
}

int tr_capture_check_event(aclrtEvent e, const tr_stream *on, const char *api) {
    for (const tr_graph *g = captures; g != NULL; g = g->next)
        for (int i = 0; i < g->rec->n; i++)
            if (g->rec->t[i].event == e)
                return tr_violation(ACL_ERROR_RT_EVENT_CAPTURED,
                                    "%s: event %p was recorded into the capture of stream %p, which has not "
                                    "ended: end the capture with aclmdlRICaptureEnd first",
                                    api, e, (const void *)g->capturing);
    return on != NULL ? tr_capture_check_stream(on, api) : 0;
}

int tr_capture_check_sync_copy(const char *api) {
    for (const tr_graph *g = captures; g != NULL; g = g->next)
        if (g->mode == ACL_MODEL_RI_CAPTURE_MODE_GLOBAL ||
            (g->mode == ACL_MODEL_RI_CAPTURE_MODE_THREAD_LOCAL && pthread_equal(g->thread, pthread_self())))
            return tr_violation(ACL_ERROR_RT_CAPTURE_MODE_NOT_SUPPORT,
                                "%s: a synchronous memory call while stream %p is capturing in %s mode%s: queue "
                                "the asynchronous call instead, or capture in RELAXED mode",
                                api, (const void *)g->capturing, mode_name(g->mode),
                                g->mode == ACL_MODEL_RI_CAPTURE_MODE_GLOBAL ? " (refused on every thread)"
                                                                            : " on this thread");
    return 0;
}

/* The first task of g using memory overlapping [p, p+n), or NULL. */
static const rec_task *user(const tr_graph *g, const char *p, size_t n) {
    for (int i = 0; i < g->rec->n; i++) {
        const rec_task *t = &g->rec->t[i];
        for (int k = 0; k < t->nr; k++)
            if (t->r[k].base < p + n && p < t->r[k].base + t->r[k].size) return t;
    }
    return NULL;
}

int tr_capture_check_free(const void *p, size_t n, const char *api) {
    const rec_task *t;
    for (const tr_graph *g = captures; g != NULL; g = g->next)
        if ((t = user(g, p, n)) != NULL)
            return tr_violation(ACL_ERROR_INVALID_PARAM,
                                "%s: device memory [%p, +%zu) is used by a task (%s) captured on stream %p: "
                                "a graph's memory must stay allocated until aclmdlRIDestroy",
                                api, p, n, t->desc, (const void *)g->capturing);
    for (const tr_graph *g = graphs; g != NULL; g = g->next)
        if ((t = user(g, p, n)) != NULL)
            return tr_violation(ACL_ERROR_INVALID_PARAM,
                                "%s: device memory [%p, +%zu) is used by a task (%s) of graph %p, which has not "
                                "been destroyed: a graph's memory must stay allocated until aclmdlRIDestroy",
                                api, p, n, t->desc, (const void *)g);
    return 0;
}

void tr_capture_forget(const tr_stream *s) {
    tr_graph *g = captures != NULL ? capture_of(s) : NULL;
    if (g == NULL) return;
    unlink_graph(&captures, g);
    release(g->rec);
    free(g);
}

/* ---- exported ---- */

TR_EXPORT aclError aclmdlRICaptureBegin(aclrtStream stream, aclmdlRICaptureMode mode) {
    const char *api = "aclmdlRICaptureBegin";
    tr_lock();
    tr_stream *s = NULL;
    int rc = tr_resolve_stream(stream, &s, api);
    if (rc == 0 && tr_soc_gen() == TR_SOC_910) {
        tr_error("%s: graph capture is not supported on %s: CANN documents it for Atlas A2 and A3 "
                 "(910B, 910_93) only",
                 api, tr_soc_name());
        rc = ACL_ERROR_RT_FEATURE_NOT_SUPPORT;
    }
    if (rc == 0 && tr_stream_is_default(s))
        rc = tr_violation(ACL_ERROR_INVALID_PARAM,
                          "%s: the default stream cannot be captured: capture needs a stream from aclrtCreateStream",
                          api);
    if (rc == 0 && ((int)mode < ACL_MODEL_RI_CAPTURE_MODE_GLOBAL || (int)mode > ACL_MODEL_RI_CAPTURE_MODE_RELAXED))
        rc = tr_violation(ACL_ERROR_INVALID_PARAM, "%s: mode %d is not an aclmdlRICaptureMode (0, 1 or 2)", api,
                          (int)mode);
    if (rc == 0 && capture_of(s) != NULL)
        rc = tr_violation(ACL_ERROR_RT_STREAM_CAPTURED, "%s: stream %p is already capturing", api, stream);
    if (rc == 0) {
        tr_graph *g = calloc(1, sizeof *g);
        recording *r = calloc(1, sizeof *r);
        if (g == NULL || r == NULL) abort();
        r->refs = 1;
        g->rec = r;
        g->ctx = tr_stream_context(s);
        g->capturing = s;
        g->mode = (int)mode;
        g->thread = pthread_self();
        g->next = captures;
        captures = g;
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclmdlRICaptureEnd(aclrtStream stream, aclmdlRI *modelRI) {
    const char *api = "aclmdlRICaptureEnd";
    tr_lock();
    tr_stream *s = NULL;
    int rc = tr_resolve_stream(stream, &s, api);
    if (rc == 0 && modelRI == NULL) rc = tr_violation(ACL_ERROR_INVALID_PARAM, "%s: modelRI is NULL", api);
    tr_graph *g = rc == 0 ? capture_of(s) : NULL;
    if (rc == 0 && g == NULL)
        rc = tr_violation(ACL_ERROR_RT_STREAM_NOT_CAPTURED,
                          "%s: stream %p is not capturing (no aclmdlRICaptureBegin on it)", api, stream);
    if (rc == 0 && g->mode != ACL_MODEL_RI_CAPTURE_MODE_RELAXED && !pthread_equal(g->thread, pthread_self()))
        rc = tr_violation(ACL_ERROR_RT_STREAM_CAPTURE_UNMATCHED,
                          "%s: the capture of stream %p began on another thread: in %s mode it must end on the "
                          "thread that called aclmdlRICaptureBegin",
                          api, stream, mode_name(g->mode));
    if (rc == 0) {
        unlink_graph(&captures, g);
        g->capturing = NULL;
        g->next = graphs;
        graphs = g;
        tr_handle_add(g, TR_GRAPH);
        *modelRI = g;
    }
    tr_unlock();
    return rc;
}

static int check_graph(aclmdlRI modelRI, const char *api) {
    if (modelRI == NULL) return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: modelRI is NULL", api);
    if (tr_handle_live(modelRI, TR_GRAPH)) return 0;
    const char *why = tr_handle_gone(modelRI, TR_GRAPH);
    if (why != NULL) return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: graph %p used after %s", api, modelRI, why);
    return tr_violation(ACL_ERROR_INVALID_PARAM, "%s: %p is not a graph from aclmdlRICaptureEnd", api, modelRI);
}

typedef struct {
    recording *r;
    int i;
} replayed;

/* A replayed task: runs recorded task i (kernels not in timing mode), then drops its reference. */
static void run_replayed(void *arg) {
    replayed *a = arg;
    const rec_task *t = &a->r->t[a->i];
    if (t->run != NULL && !(t->kernel && tr_timing())) t->run(t->arg);
    release(a->r);
}

TR_EXPORT aclError aclmdlRIExecuteAsync(aclmdlRI modelRI, aclrtStream stream) {
    const char *api = "aclmdlRIExecuteAsync";
    tr_timing_launch(); /* one launch's cost per replay, whatever the graph holds */
    tr_lock();
    tr_stream *s = NULL;
    int rc = tr_resolve_stream(stream, &s, api);
    if (rc == 0) rc = check_graph(modelRI, api);
    tr_graph *g = modelRI;
    if (rc == 0 && g->ctx != tr_stream_context(s))
        rc = tr_violation(ACL_ERROR_RT_MODEL_CONTEXT,
                          "%s: graph %p was captured in context %p but stream %p belongs to context %p: replay a "
                          "graph on a stream of the context it was captured in",
                          api, modelRI, g->ctx, (void *)s, tr_stream_context(s));
    if (rc == 0 && capture_of(s) != NULL) {
        tr_error("%s: stream %p is capturing: the test runtime does not model replaying a graph into a capture",
                 api, (void *)s);
        rc = ACL_ERROR_RT_FEATURE_NOT_SUPPORT;
    }
    for (int i = 0; rc == 0 && i < g->rec->n; i++) {
        const rec_task *t = &g->rec->t[i];
        if (t->event != NULL) {
            if (tr_handle_live(t->event, TR_EVENT)) tr_record_event(s, t->event); /* a destroyed one is skipped */
            continue;
        }
        replayed *a = malloc(sizeof *a);
        if (a == NULL) abort();
        a->r = g->rec;
        a->i = i;
        g->rec->refs++;
        char desc[96];
        snprintf(desc, sizeof desc, "%.80s, replayed", t->desc);
        tr_requeue(s, desc, run_replayed, a, t->r, t->nr);
    }
    tr_unlock();
    return rc;
}

TR_EXPORT aclError aclmdlRIDestroy(aclmdlRI modelRI) {
    const char *api = "aclmdlRIDestroy";
    tr_lock();
    int rc = tr_initialized() ? 0 : tr_violation(ACL_ERROR_UNINITIALIZE, "%s called before aclInit", api);
    if (rc == 0) rc = check_graph(modelRI, api);
    if (rc == 0) {
        tr_graph *g = modelRI;
        unlink_graph(&graphs, g);
        tr_handle_remove(g, TR_GRAPH, "aclmdlRIDestroy");
        release(g->rec);
        g->rec = NULL;
        tr_free_later(g);
    }
    tr_unlock();
    return rc;
}

TR_EXPORT int testrt_graph_tasks(void) {
    tr_lock();
    int n = held_tasks;
    tr_unlock();
    return n;
}
