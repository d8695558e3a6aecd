/* internal.h: what the test runtime's source files share. Not installed, not part of any API. */
#ifndef RESNEXT_TESTRT_INTERNAL_H
#define RESNEXT_TESTRT_INTERNAL_H

#include "testrt.h"

/* System headers come before the visibility switch; every runtime-internal name after it stays
 * out of the library's dynamic symbol table (the CANN entry points are marked TR_EXPORT). */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC visibility push(hidden)

#define TR_EXPORT __attribute__((visibility("default")))
#define TR_PRINTF(a, b) __attribute__((format(printf, a, b)))

#define TR_MAX_DIMS 8 /* aclnn tensors have at most 8 dimensions */
#define TR_MAX_IO 8   /* tensors per side of one operator */
#define TR_MAX_ATTR 16

/* ---- soc.c: the chip (RESNEXT_TESTRT_SOC) ---- */

enum { TR_SOC_910 = 1, TR_SOC_910B, TR_SOC_910_93 };
const char *tr_soc_name(void);
/* The chip's generation: TR_SOC_910 (first generation), TR_SOC_910B or TR_SOC_910_93. */
int tr_soc_gen(void);
/* Checks a convolution's or matrix product's cubeMathType for input type dt on this chip. */
int tr_check_cube_math(int8_t cube, aclDataType dt, const char *api);

/* ---- core.c: lock, errors, handles ---- */

/* One lock guards all runtime state; kernels run under it when a stream is drained. */
void tr_lock(void);
void tr_unlock(void);

/* Records an argument or state error for aclGetRecentErrMsg without counting a violation. */
void tr_error(const char *fmt, ...) TR_PRINTF(1, 2);
/* Records a contract violation (counted, printed and aborting under RESNEXT_TESTRT_ABORT=1) and
 * returns code, so callers write `return tr_violation(CODE, "...")`. */
int tr_violation(int code, const char *fmt, ...) TR_PRINTF(2, 3);

enum tr_kind {
    TR_CONTEXT = 1,
    TR_STREAM,
    TR_EVENT,
    TR_TENSOR,
    TR_SCALAR,
    TR_INT_ARRAY,
    TR_BOOL_ARRAY,
    TR_FLOAT_ARRAY,
    TR_EXECUTOR,
    TR_GRAPH,
    TR_COMM,
};
const char *tr_kind_name(int kind);
void tr_handle_add(const void *p, int kind);
int tr_handle_live(const void *p, int kind);
/* Removes a live handle and remembers why, so a later use can say "destroyed" or "already launched". */
void tr_handle_remove(const void *p, int kind, const char *why);
/* Why a handle that is no longer live went away, or NULL when it was never seen. */
const char *tr_handle_gone(const void *p, int kind);
/* Frees an object after a delay, so its address is not handed out again at once (stale handles
 * keep reading as destroyed instead of as a new object). */
void tr_free_later(void *p);

/* Timing mode (RESNEXT_TESTRT_TIMING=1, read by aclInit): kernels do not compute, aclrtMalloc
 * zero-fills, and each GetWorkspaceSize (when it registers its executor) and each launch busy-waits a
 * simulated host cost. tr_timing_configure reads and checks the variables (an ACL code, the error
 * recorded); tr_timing_launch charges one launch. */
int tr_timing_configure(void);
int tr_timing(void);
void tr_timing_launch(void);

/* ---- rt.c: runtime state the aclnn side needs ---- */

typedef struct {
    const char *base;
    size_t size;
} tr_range;

int tr_initialized(void);
/* Checks that [p, p+n) lies in one live aclrtMalloc block; otherwise a violation returning code. */
int tr_check_device(const void *p, size_t n, const char *what, int code);
/* Bytes from p to the end of its live device block, or 0 when p is not device memory. */
size_t tr_device_room(const void *p);

typedef struct tr_stream tr_stream;
/* Resolves a stream argument (NULL = the default stream of the current context) and checks that the
 * thread has a current context and that the stream belongs to it. Returns an ACL code. */
int tr_resolve_stream(aclrtStream s, tr_stream **out, const char *api);
/* Queues a kernel; run(arg) executes when the stream is drained (not in timing mode), then arg is
 * freed. ranges lists the device memory the task reads or writes (checked by aclrtFree and by
 * synchronous copies). */
void tr_enqueue(tr_stream *s, const char *desc, void (*run)(void *), void *arg, const tr_range *ranges,
                int nranges);
/* For capture.c: whether s is its context's default stream, the context it belongs to (compared, never
 * dereferenced), queueing a task that is never skipped (replays decide themselves), and recording an
 * event at the end of s as aclrtRecordEvent does. s must not be capturing. */
int tr_stream_is_default(const tr_stream *s);
const void *tr_stream_context(const tr_stream *s);
void tr_requeue(tr_stream *s, const char *desc, void (*run)(void *), void *arg, const tr_range *ranges, int nranges);
void tr_record_event(tr_stream *s, aclrtEvent e);
/* Whether s is capturing (capture.c). */
int tr_stream_capturing(const tr_stream *s);
/* The device of s's context. */
int tr_stream_device(const tr_stream *s);
/* Checks that the calling thread has a current context (the runtime is initialized) and gives its
 * device and the context (compared, never dereferenced). Returns an ACL code, the error recorded. */
int tr_current_device(const char *api, int *device, const void **ctx);
/* Called by a task's run function when the task failed on the "device" (an HCCL collective whose
 * peer timed out): the synchronization that ran it returns code (an ACL error), with the message
 * the task recorded (tr_error or tr_violation) on the synchronizing thread. */
void tr_task_fail(int code);

/* ---- capture.c: graph capture (aclmdlRI), hooked into rt.c under the lock ---- */

/* When s is capturing, records a task rt.c was about to queue on it into the capture (which takes
 * arg) and returns 1; returns 0 otherwise. tr_capture_event does the same for an event record. */
int tr_capture_task(tr_stream *s, int kernel, const char *desc, void (*run)(void *), void *arg,
                    const tr_range *ranges, int nranges);
int tr_capture_event(tr_stream *s, aclrtEvent e);
/* Violations (returning an ACL code) of api touching a capturing stream: synchronizing or destroying
 * s; synchronizing event e, last recorded on stream on (NULL: never) or into a capture; a synchronous
 * copy or memset under a capture whose mode forbids it on this thread; freeing [p, p+n) while a
 * capture or a live graph uses it. */
int tr_capture_check_stream(const tr_stream *s, const char *api);
int tr_capture_check_event(aclrtEvent e, const tr_stream *on, const char *api);
int tr_capture_check_sync_copy(const char *api);
int tr_capture_check_free(const void *p, size_t n, const char *api);
/* Drops the capture of a stream that goes away with its context. */
void tr_capture_forget(const tr_stream *s);

/* ---- nnbase.c: tensors, executors, the launch path ---- */

struct aclTensor {
    int ndim;
    int64_t dims[TR_MAX_DIMS];
    int64_t strides[TR_MAX_DIMS];
    int64_t offset;
    aclDataType dtype;
    aclFormat format;
    int sdim;
    int64_t sdims[TR_MAX_DIMS];
    void *data;
};

struct aclScalar {
    aclDataType dtype;
    double value; /* the stored value, converted to double */
};

struct aclIntArray {
    uint64_t n;
    int64_t *v;
};

struct aclFloatArray {
    uint64_t n;
    float *v;
};

struct aclBoolArray {
    uint64_t n;
    bool *v;
};

typedef struct tr_op tr_op;

struct aclOpExecutor {
    const tr_op *op;
    int repeatable;
    int nin, nout;
    aclTensor in[TR_MAX_IO];
    aclTensor out[TR_MAX_IO];
    double f[TR_MAX_ATTR];  /* float attributes (scalars) */
    int64_t i[TR_MAX_ATTR]; /* integer attributes (dtype, dims, flags) */
    uint64_t workspace;
};

/* An operator: its name and its reference kernel. The kernel sees a snapshot of the executor taken at
 * launch time and the workspace the caller passed (at least ex->workspace bytes). */
struct tr_op {
    const char *name;
    void (*run)(const aclOpExecutor *ex, void *workspace);
};

size_t tr_dtype_size(aclDataType dt);
const char *tr_dtype_name(aclDataType dt);
int64_t tr_numel(const aclTensor *t);
/* Bytes of the storage the tensor's data pointer must cover (storage dims times element size). */
size_t tr_storage_bytes(const aclTensor *t);
/* Loads and stores element number idx of the storage (offset and strides already applied). */
double tr_load(const aclTensor *t, int64_t idx);
void tr_store(const aclTensor *t, int64_t idx, double v);
/* Element index in storage of the view position given as a row-major linear index. */
int64_t tr_view_index(const aclTensor *t, int64_t linear);
/* Index into in's storage for out's view position `linear`, broadcasting in against out's shape. */
int64_t tr_bcast_index(const aclTensor *in, const aclTensor *out, int64_t linear);
int tr_broadcastable(const aclTensor *in, const aclTensor *out);
int tr_same_shape(const aclTensor *a, const aclTensor *b);
double tr_round_to(aclDataType dt, double v);

/* Argument checks for the first phase. Each records a violation and returns an aclnn status. */
aclnnStatus tr_arg_tensor(const aclTensor *t, const char *op, const char *name);
aclnnStatus tr_arg_scalar(const aclScalar *s, const char *op, const char *name);
aclnnStatus tr_arg_out(uint64_t *workspaceSize, aclOpExecutor **executor, const char *op);
aclnnStatus tr_arg_array(const void *a, int kind, const char *op, const char *name);
aclnnStatus tr_arg_dtype(const aclTensor *t, const aclDataType *allowed, int n, const char *op, const char *name);

/* Shape and dtype helpers shared by the operators. The checks record a violation whose message begins
 * "<api>GetWorkspaceSize: " (api is "aclnnXxx") and return an aclnn status. */
int tr_is_contiguous(const aclTensor *t); /* row-major strides (offset not considered) */
int tr_is_float(aclDataType dt);
void tr_shape_str(const aclTensor *t, char *buf, size_t n);
/* t must have exactly the nd dims of want. */
aclnnStatus tr_check_dims(const aclTensor *t, const int64_t *want, int nd, const char *api, const char *name);
/* t must have ref's dtype. */
aclnnStatus tr_check_dtype_as(const aclTensor *t, const aclTensor *ref, const char *api, const char *name,
                              const char *refname);
/* out must have exactly the broadcast shape of self and other. */
aclnnStatus tr_check_broadcast_out(const aclTensor *self, const aclTensor *other, const aclTensor *out,
                                   const char *api);
aclnnStatus tr_arg_int_array(const aclIntArray *a, const char *api, const char *name);
/* A loaded index value as an integer (INT64_MIN for NaN or out of range). */
int64_t tr_as_index(double v);

aclOpExecutor *tr_executor_new(const tr_op *op);
void tr_executor_input(aclOpExecutor *ex, const aclTensor *t);
void tr_executor_output(aclOpExecutor *ex, const aclTensor *t);
/* Registers the executor and hands it and the workspace size out. */
aclnnStatus tr_executor_publish(aclOpExecutor *ex, uint64_t workspace, uint64_t *workspaceSize,
                                aclOpExecutor **executor);
/* The second phase shared by every operator. */
aclnnStatus tr_launch(const tr_op *op, void *workspace, uint64_t workspaceSize, aclOpExecutor *executor,
                      aclrtStream stream);

/* Defines the second-phase entry point aclnn<Name> for an operator declared as tr_op_<Name>. */
#define TR_DEFINE_LAUNCH(Name)                                                                            \
    TR_EXPORT aclnnStatus aclnn##Name(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor, \
                                      aclrtStream stream) {                                             \
        tr_timing_launch();                                                                             \
        return tr_launch(&tr_op_##Name, workspace, workspaceSize, executor, stream);                    \
    }

/* ---- dtype.c ---- */
float tr_half_to_float(uint16_t h);
uint16_t tr_float_to_half(float f);
float tr_bf16_to_float(uint16_t h);
uint16_t tr_float_to_bf16(float f);

#pragma GCC visibility pop

#endif
