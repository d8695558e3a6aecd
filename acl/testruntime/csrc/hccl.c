/* hccl.c: HCCL (libhccl.so, a link to this library) over host memory, across processes: each process
 * is one rank with its own "device" memory, and the ranks of a communicator really meet.
 *
 * Meeting. HcclGetRootInfo opens a listening TCP socket on 127.0.0.1 (HCCL_IF_IP when set) and writes
 * its address, a random job id, the process id and a checksum into the 4108-byte root info.
 * HcclCommInitRootInfo on rank 0 (in that process) accepts the other ranks; every other rank connects
 * to it, retrying until the connect timeout (HCCL_CONNECT_TIMEOUT, seconds in [120, 7200], default
 * 120; RESNEXT_TESTRT_HCCL_TIMEOUT_MS, a test-only override in milliseconds, wins). Each sends its
 * rank, its nRanks and the job id; rank 0 answers every rank once all are there, or with the reason
 * it gave up (a rank missing at the deadline, ranks that disagree on nRanks, a rank twice).
 * HcclCommInitClusterInfo meets the same way at an abstract Unix socket named after the rank
 * table's contents, which rank 0 listens on.
 *
 * Collectives. HcclAllReduce, HcclBroadcast and HcclBarrier check their arguments and queue a task
 * on the stream, like any launch; nothing moves until the stream runs the task (a synchronization, or
 * another stream waiting for an event after it). Then every rank sends rank 0 a header (which
 * collective, its number on the communicator, count, dtype, op, root) and its data; rank 0 checks
 * the headers against its own, reduces the data in rank order (((r0 op r1) op r2) ..., each step
 * computed in double and rounded to the element type) and sends every rank the result, so all
 * ranks get the same bits. A disagreement is a contract violation whose message names both ranks
 * and values; a rank that does not arrive within the execution timeout (HCCL_EXEC_TIMEOUT, seconds,
 * default 1836, 0 none; or RESNEXT_TESTRT_HCCL_TIMEOUT_MS), or whose process died, fails the task:
 * the synchronization returns ACL_ERROR_RT_FFTS_PLUS_TIMEOUT (a violation returns
 * ACL_ERROR_RT_FFTS_PLUS_EXCEPTION), and every later collective of that communicator fails at once.
 * A task runs under the runtime's lock, so other threads of the process wait while a collective
 * waits for its peers: the stand-in holds one rank per process.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MAGIC 0x52584843u /* "RXHC" */
#define RI_MAGIC "RXHCCLRI"
#define MAX_MSG 900

enum { K_ALLREDUCE = 1, K_BROADCAST, K_BARRIER };
enum { ST_OK = 0, ST_VIOLATION = 1, ST_FAILED = 2 };
enum { IO_OK = 0, IO_TIMEOUT, IO_CLOSED, IO_ERROR };

/* ---- time and sockets ---- */

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A deadline ms from now; < 0 (no limit) stays < 0. */
static long long deadline_in(long long ms) { return ms < 0 ? -1 : now_ms() + ms; }

/* Waits until fd is ready for events or the deadline (now_ms's clock, < 0: none) passes. */
static int wait_fd(int fd, short events, long long deadline) {
    for (;;) {
        int ms = -1;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            if (left <= 0) return IO_TIMEOUT;
            ms = left > INT_MAX ? INT_MAX : (int)left;
        }
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, ms);
        if (n > 0) return IO_OK; /* also on POLLHUP and POLLERR: the next call says which */
        if (n < 0 && errno != EINTR) return IO_ERROR;
    }
}

static int io_errno(void) { return errno == EPIPE || errno == ECONNRESET ? IO_CLOSED : IO_ERROR; }

static int send_all(int fd, const void *buf, size_t n, long long deadline) {
    const char *p = buf;
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 && errno == EINTR) {
            continue;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w != IO_OK) return w;
        } else {
            return io_errno();
        }
    }
    return IO_OK;
}

static int recv_all(int fd, void *buf, size_t n, long long deadline) {
    char *p = buf;
    while (n > 0) {
        ssize_t k = recv(fd, p, n, 0);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k == 0) {
            return IO_CLOSED;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_fd(fd, POLLIN, deadline);
            if (w != IO_OK) return w;
        } else {
            return io_errno();
        }
    }
    return IO_OK;
}

/* Reads and drops n bytes. */
static int discard(int fd, uint64_t n, long long deadline) {
    char buf[4096];
    while (n > 0) {
        size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
        int r = recv_all(fd, buf, k, deadline);
        if (r != IO_OK) return r;
        n -= k;
    }
    return IO_OK;
}

static int nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* ---- timeouts ---- */

/* Reads variable name as a whole number of seconds in [lo, hi] into *ms (0 means no limit when
 * zero_none); unset or empty keeps *ms. A bad value records an error and returns HCCL_E_PARA. */
static int env_seconds(const char *api, const char *name, long long lo, long long hi, int zero_none, long long *ms) {
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') return 0;
    char *end = NULL;
    errno = 0;
    long long s = strtoll(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || s < lo || s > hi) {
        tr_error("%s: %s=\"%s\" is not a whole number of seconds in [%lld, %lld]", api, name, v, lo, hi);
        return HCCL_E_PARA;
    }
    *ms = s == 0 && zero_none ? -1 : s * 1000;
    return 0;
}

/* The test-only override RESNEXT_TESTRT_HCCL_TIMEOUT_MS (positive milliseconds), 0 when unset. */
static long long override_ms(void) {
    const char *v = getenv("RESNEXT_TESTRT_HCCL_TIMEOUT_MS");
    if (v == NULL || v[0] == '\0') return 0;
    long long ms = strtoll(v, NULL, 10);
    return ms > 0 ? ms : 0;
}

/* The connect and execution timeouts in ms (execution < 0: none). */
static int timeouts(const char *api, long long *connect, long long *exec) {
    *connect = 120 * 1000LL;
    *exec = 1836 * 1000LL;
    int rc = env_seconds(api, "HCCL_CONNECT_TIMEOUT", 120, 7200, 0, connect);
    if (rc == 0) rc = env_seconds(api, "HCCL_EXEC_TIMEOUT", 0, 2147483647LL, 1, exec);
    long long o = override_ms();
    if (o > 0) *connect = *exec = o;
    return rc;
}

/* Names a timeout in messages. */
static const char *timeout_source(const char *var) {
    return override_ms() > 0 ? "RESNEXT_TESTRT_HCCL_TIMEOUT_MS" : var;
}

/* ---- communicators ---- */

typedef struct {
    int nranks, rank, device;
    const void *ctx;
    int *fd;          /* rank 0: fd[r] for each other rank r; other ranks: fd[0], to rank 0 */
    uint64_t seq;     /* collectives queued so far */
    int queued;       /* queued and not yet run */
    int broken;       /* the ACL code every later collective fails with, 0 while healthy */
    char why[MAX_MSG];
    long long exec_ms; /* < 0: no limit */
} tr_comm;

static tr_comm *comm_new(uint32_t n, uint32_t rank, int device, const void *ctx, long long exec_ms) {
    tr_comm *c = calloc(1, sizeof *c);
    if (c == NULL || (c->fd = malloc(n * sizeof *c->fd)) == NULL) abort();
    for (uint32_t i = 0; i < n; i++) c->fd[i] = -1;
    c->nranks = (int)n;
    c->rank = (int)rank;
    c->device = device;
    c->ctx = ctx;
    c->exec_ms = exec_ms;
    return c;
}

static void comm_close(tr_comm *c) {
    for (int i = 0; i < c->nranks; i++)
        if (c->fd[i] >= 0) {
            close(c->fd[i]);
            c->fd[i] = -1;
        }
}

static void comm_free(tr_comm *c) {
    comm_close(c);
    free(c->fd);
    free(c);
}

/* Checks a communicator argument under the lock: a violation returning HCCL_E_PARA otherwise. */
static int check_comm(const void *comm, const char *api) {
    if (comm == NULL) return tr_violation(HCCL_E_PTR, "%s: comm is NULL", api);
    if (tr_handle_live(comm, TR_COMM)) return 0;
    const char *why = tr_handle_gone(comm, TR_COMM);
    if (why != NULL) return tr_violation(HCCL_E_PARA, "%s: communicator %p used after %s", api, comm, why);
    return tr_violation(HCCL_E_PARA, "%s: %p is not a communicator from HcclCommInitRootInfo or HcclCommInitClusterInfo",
                        api, comm);
}

/* ---- the meeting ---- */

typedef struct {
    uint32_t magic, nranks, rank, pid;
    uint8_t job[16];
} hello;

/* Rank 0's answer to a hello, and to each collective. */
typedef struct {
    uint32_t magic;
    int32_t status; /* ST_* */
    int32_t code;   /* the HcclResult (meeting) or ACL code (collective) of a failure */
    uint32_t msglen;
    uint64_t nbytes; /* the result that follows the message */
} reply;

static void send_reply(int fd, int status, int code, const char *msg, const void *data, uint64_t nbytes,
                       long long deadline) {
    reply r = {MAGIC, status, code, msg != NULL ? (uint32_t)strlen(msg) : 0, nbytes};
    if (send_all(fd, &r, sizeof r, deadline) == IO_OK && r.msglen > 0) send_all(fd, msg, r.msglen, deadline);
    if (nbytes > 0) send_all(fd, data, nbytes, deadline);
}

/* Reads a failure reply's message into why. */
static void read_reply_msg(int fd, const reply *r, char *why, size_t n, long long deadline) {
    char msg[MAX_MSG + 1];
    uint32_t len = r->msglen < MAX_MSG ? r->msglen : MAX_MSG;
    if (recv_all(fd, msg, len, deadline) != IO_OK) len = 0;
    msg[len] = '\0';
    snprintf(why, n, "%s", msg);
}

/* Rank 0's side: accepts the other ranks on lfd until all are there or the deadline passes, then
 * answers each. Returns an HcclResult; why says what went wrong, *violation whether it was a
 * broken contract. */
static int meet_as_root(tr_comm *c, int lfd, const uint8_t job[16], long long deadline, long long timeout,
                        const char *api, char *why, size_t whyn, int *violation) {
    int n = c->nranks, joined = 1, code = 0;
    *violation = 0;
    while (joined < n && code == 0) {
        int w = wait_fd(lfd, POLLIN, deadline);
        if (w == IO_TIMEOUT) {
            int len = snprintf(why, whyn, "%s: rank 0 of %d: rank(s)", api, n), listed = 0;
            for (int r = 1; r < n && len < (int)whyn - 40; r++)
                if (c->fd[r] < 0) len += snprintf(why + len, whyn - (size_t)len, "%s %d", listed++ ? "," : "", r);
            snprintf(why + len, whyn - (size_t)len, " did not connect within %lld ms (%s)", timeout,
                     timeout_source("HCCL_CONNECT_TIMEOUT"));
            code = HCCL_E_TIMEOUT;
            break;
        }
        int fd = w == IO_OK ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
        if (fd < 0) {
            if (w == IO_OK && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
            snprintf(why, whyn, "%s: rank 0: accepting the other ranks failed: %s", api, strerror(errno));
            code = HCCL_E_TCP_CONNECT;
            break;
        }
        hello h;
        if (nonblocking(fd) != 0 || recv_all(fd, &h, sizeof h, deadline) != IO_OK || h.magic != MAGIC ||
            memcmp(h.job, job, sizeof h.job) != 0) {
            close(fd); /* not a rank of this communicator */
            continue;
        }
        if (h.nranks != (uint32_t)n) {
            snprintf(why, whyn, "%s: the ranks disagree on nRanks: rank 0 has %d, rank %u has %u", api, n, h.rank,
                     h.nranks);
        } else if (h.rank == 0 || h.rank >= (uint32_t)n || c->fd[h.rank] >= 0) {
            snprintf(why, whyn, "%s: rank %u joined twice (two processes passed the same rank)", api, h.rank);
        } else {
            c->fd[h.rank] = fd;
            joined++;
            continue;
        }
        *violation = 1;
        code = HCCL_E_PARA;
        send_reply(fd, ST_VIOLATION, code, why, NULL, 0, deadline);
        close(fd);
    }
    for (int r = 1; r < n; r++)
        if (c->fd[r] >= 0)
            send_reply(c->fd[r], code == 0 ? ST_OK : *violation ? ST_VIOLATION : ST_FAILED, code, code ? why : NULL,
                       NULL, 0, deadline);
    return code;
}

/* Another rank's side: connects to rank 0 at sa, retrying until the deadline, and waits for its
 * answer. */
static int meet_as_peer(tr_comm *c, const struct sockaddr *sa, socklen_t salen, const char *where,
                        const uint8_t job[16], long long deadline, long long timeout, const char *api, char *why,
                        size_t whyn, int *violation) {
    *violation = 0;
    int fd = -1, err = 0;
    for (;;) {
        fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || nonblocking(fd) != 0) {
            snprintf(why, whyn, "%s: rank %d: socket: %s", api, c->rank, strerror(errno));
            if (fd >= 0) close(fd);
            return HCCL_E_SYSCALL;
        }
        int rc = connect(fd, sa, salen);
        err = rc == 0 ? 0 : errno;
        if (err == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == IO_OK) {
            socklen_t len = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        }
        if (err == 0) break;
        close(fd);
        if (deadline >= 0 && now_ms() + 20 >= deadline) {
            snprintf(why, whyn, "%s: rank %d could not reach rank 0 at %s within %lld ms (%s): %s", api, c->rank,
                     where, timeout, timeout_source("HCCL_CONNECT_TIMEOUT"), strerror(err));
            return HCCL_E_TIMEOUT;
        }
        sleep_ms(20); /* rank 0 is not listening yet */
    }
    hello h = {MAGIC, (uint32_t)c->nranks, (uint32_t)c->rank, (uint32_t)getpid(), {0}};
    memcpy(h.job, job, sizeof h.job);
    reply r;
    int io = send_all(fd, &h, sizeof h, deadline);
    if (io == IO_OK) io = recv_all(fd, &r, sizeof r, deadline);
    if (io != IO_OK || r.magic != MAGIC) {
        snprintf(why, whyn, "%s: rank %d: rank 0 at %s %s", api, c->rank, where,
                 io == IO_TIMEOUT ? "did not answer within the connect timeout"
                                  : "closed the connection (its process exited?)");
        close(fd);
        return io == IO_TIMEOUT ? HCCL_E_TIMEOUT : HCCL_E_TCP_CONNECT;
    }
    if (r.status != ST_OK) {
        char msg[MAX_MSG - 64]; /* room for the prefix below */
        read_reply_msg(fd, &r, msg, sizeof msg, deadline);
        snprintf(why, whyn, "rank %d: rank 0 reports: %s", c->rank, msg);
        *violation = r.status == ST_VIOLATION;
        close(fd);
        return r.code;
    }
    c->fd[0] = fd;
    return 0;
}

/* Records a meeting's failure: a violation, or an error. */
static int meeting_failed(int code, int violation, const char *why) {
    if (violation) return tr_violation(code, "%s", why);
    tr_error("%s", why);
    return code;
}

/* ---- root info ---- */

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t family; /* AF_INET */
    uint32_t addr;   /* IPv4, network order */
    uint32_t port;
    uint8_t job[16];
    uint32_t pid;
    uint32_t pad;
    uint64_t sum;
} ri_fields;

static uint64_t fnv(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

#define FNV_SEED 14695981039346656037ull

/* The listeners of the root infos this process made, until rank 0's HcclCommInitRootInfo takes one. */
typedef struct root {
    struct root *next;
    uint8_t job[16];
    int fd, used;
} root;
static root *roots;
static pthread_mutex_t roots_mu = PTHREAD_MUTEX_INITIALIZER;

static void random_bytes(uint8_t *b, size_t n) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, b, n) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)n) { /* unlikely: mix the time and the process */
        uint64_t h = fnv(&(long long){now_ms()}, sizeof(long long), FNV_SEED ^ (uint64_t)getpid());
        for (size_t i = 0; i < n; i++, h = fnv(&h, sizeof h, h)) b[i] = (uint8_t)h;
    }
}

TR_EXPORT HcclResult HcclGetRootInfo(HcclRootInfo *rootInfo) {
    const char *api = "HcclGetRootInfo";
    int device;
    const void *ctx;
    tr_lock();
    int rc = tr_current_device(api, &device, &ctx);
    tr_unlock();
    if (rc != 0) return HCCL_E_RUNTIME;
    if (rootInfo == NULL) return tr_violation(HCCL_E_PTR, "%s: rootInfo is NULL", api);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *ip = getenv("HCCL_IF_IP");
    if (ip != NULL && ip[0] != '\0' && inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        tr_error("%s: HCCL_IF_IP=\"%s\" is not an IPv4 address", api, ip);
        return HCCL_E_PARA;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0 || nonblocking(fd) != 0) {
        tr_error("%s: opening the meeting point on %s: %s", api, ip ? ip : "127.0.0.1", strerror(errno));
        if (fd >= 0) close(fd);
        return HCCL_E_TCP_CONNECT;
    }
    ri_fields f;
    memset(&f, 0, sizeof f);
    memcpy(f.magic, RI_MAGIC, sizeof f.magic);
    f.version = 1;
    f.family = AF_INET;
    f.addr = sa.sin_addr.s_addr;
    f.port = ntohs(sa.sin_port);
    random_bytes(f.job, sizeof f.job);
    f.pid = (uint32_t)getpid();
    f.sum = fnv(&f, offsetof(ri_fields, sum), FNV_SEED);
    memset(rootInfo, 0, sizeof *rootInfo);
    memcpy(rootInfo->internal, &f, sizeof f);
    root *r = calloc(1, sizeof *r);
    if (r == NULL) abort();
    memcpy(r->job, f.job, sizeof r->job);
    r->fd = fd;
    pthread_mutex_lock(&roots_mu);
    r->next = roots;
    roots = r;
    pthread_mutex_unlock(&roots_mu);
    return HCCL_SUCCESS;
}

/* Reads and checks a root info's fields: 0 when HcclGetRootInfo made them. */
static int root_info_fields(const HcclRootInfo *ri, ri_fields *f) {
    memcpy(f, ri->internal, sizeof *f);
    return memcmp(f->magic, RI_MAGIC, sizeof f->magic) != 0 || f->version != 1 || f->family != AF_INET ||
           f->sum != fnv(f, offsetof(ri_fields, sum), FNV_SEED);
}

/* The checks every init does first: a device, the out-parameter, the ranks, the timeouts. */
static int init_checks(const char *api, uint32_t nRanks, uint32_t rank, HcclComm *comm, int *device,
                       const void **ctx, long long *connect, long long *exec) {
    tr_lock();
    int rc = tr_current_device(api, device, ctx);
    tr_unlock();
    if (rc != 0) return HCCL_E_RUNTIME;
    if (comm == NULL) return tr_violation(HCCL_E_PTR, "%s: comm is NULL", api);
    if (nRanks == 0 || rank >= nRanks)
        return tr_violation(HCCL_E_PARA, "%s: rank %u is out of range for nRanks %u (want 0 <= rank < nRanks)", api,
                            rank, nRanks);
    return timeouts(api, connect, exec);
}

static HcclResult publish(tr_comm *c, HcclComm *comm) {
    tr_lock();
    tr_handle_add(c, TR_COMM);
    tr_unlock();
    *comm = c;
    return HCCL_SUCCESS;
}

TR_EXPORT HcclResult HcclCommInitRootInfo(uint32_t nRanks, const HcclRootInfo *rootInfo, uint32_t rank,
                                          HcclComm *comm) {
    const char *api = "HcclCommInitRootInfo";
    int device;
    const void *ctx;
    long long connect, exec;
    int rc = init_checks(api, nRanks, rank, comm, &device, &ctx, &connect, &exec);
    if (rc != 0) return rc;
    ri_fields f;
    if (rootInfo == NULL) return tr_violation(HCCL_E_PTR, "%s: rootInfo is NULL", api);
    if (root_info_fields(rootInfo, &f) != 0)
        return tr_violation(HCCL_E_PARA,
                            "%s: the root info was not made by HcclGetRootInfo (its marker or checksum is wrong): "
                            "pass the %d bytes rank 0's HcclGetRootInfo wrote, unchanged",
                            api, HCCL_ROOT_INFO_BYTES);
    tr_comm *c = comm_new(nRanks, rank, device, ctx, exec);
    long long deadline = deadline_in(connect);
    char why[MAX_MSG];
    int violation = 0;
    if (rank == 0) {
        int lfd = -1, used = 0;
        pthread_mutex_lock(&roots_mu);
        for (root *r = roots; r != NULL; r = r->next)
            if (memcmp(r->job, f.job, sizeof f.job) == 0) {
                used = r->used;
                if (!used) {
                    lfd = r->fd;
                    r->fd = -1;
                    r->used = 1;
                }
            }
        pthread_mutex_unlock(&roots_mu);
        if (lfd < 0) {
            comm_free(c);
            if (used)
                return tr_violation(HCCL_E_PARA,
                                    "%s: the root info was already used for a communicator: call HcclGetRootInfo "
                                    "once per communicator",
                                    api);
            return tr_violation(HCCL_E_PARA,
                                "%s: rank 0 must join in the process that called HcclGetRootInfo (pid %u); this is "
                                "pid %d",
                                api, f.pid, (int)getpid());
        }
        rc = meet_as_root(c, lfd, f.job, deadline, connect, api, why, sizeof why, &violation);
        close(lfd);
    } else {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = f.addr;
        sa.sin_port = htons((uint16_t)f.port);
        char where[64];
        char ip[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
        snprintf(where, sizeof where, "%s:%u", ip, f.port);
        rc = meet_as_peer(c, (struct sockaddr *)&sa, sizeof sa, where, f.job, deadline, connect, api, why,
                          sizeof why, &violation);
    }
    if (rc != 0) {
        comm_free(c);
        return meeting_failed(rc, violation, why);
    }
    return publish(c, comm);
}

/* ---- rank tables (HcclCommInitClusterInfo) ---- */

/* A JSON value: what the rank table parser needs (objects, arrays, strings, numbers, literals). */
typedef struct jv {
    char type; /* 'o' object, 'a' array, 's' string, 'n' number, 'l' literal */
    char *key; /* within an object */
    char *str; /* a string's text, a number's or literal's spelling */
    struct jv *kids, *next;
} jv;

static void jv_free(jv *v) {
    while (v != NULL) {
        jv *next = v->next;
        jv_free(v->kids);
        free(v->key);
        free(v->str);
        free(v);
        v = next;
    }
}

static void skip_ws(const char **p) {
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

/* A JSON string at *p (escapes kept as the character after the backslash: the table holds none). */
static char *parse_string(const char **p) {
    if (**p != '"') return NULL;
    const char *s = ++*p;
    while (**p != '"' && **p != '\0') *p += **p == '\\' && (*p)[1] != '\0' ? 2 : 1;
    if (**p != '"') return NULL;
    char *out = strndup(s, (size_t)(*p - s));
    (*p)++;
    return out;
}

static jv *parse_value(const char **p, int depth) {
    skip_ws(p);
    if (depth > 32) return NULL;
    jv *v = calloc(1, sizeof *v);
    if (v == NULL) abort();
    char c = **p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? 'o' : 'a';
        (*p)++;
        jv **tail = &v->kids;
        skip_ws(p);
        if (**p == (c == '{' ? '}' : ']')) {
            (*p)++;
            return v;
        }
        for (;;) {
            char *key = NULL;
            skip_ws(p);
            if (v->type == 'o') {
                key = parse_string(p);
                skip_ws(p);
                if (key == NULL || **p != ':') {
                    free(key);
                    jv_free(v);
                    return NULL;
                }
                (*p)++;
            }
            jv *kid = parse_value(p, depth + 1);
            if (kid == NULL) {
                free(key);
                jv_free(v);
                return NULL;
            }
            kid->key = key;
            *tail = kid;
            tail = &kid->next;
            skip_ws(p);
            if (**p == ',') {
                (*p)++;
                continue;
            }
            if (**p == (v->type == 'o' ? '}' : ']')) {
                (*p)++;
                return v;
            }
            jv_free(v);
            return NULL;
        }
    }
    if (c == '"') {
        v->type = 's';
        v->str = parse_string(p);
    } else {
        const char *s = *p;
        while (**p != '\0' && strchr(",}] \t\r\n", **p) == NULL) (*p)++;
        v->type = (c == '-' || (c >= '0' && c <= '9')) ? 'n' : 'l';
        v->str = *p > s ? strndup(s, (size_t)(*p - s)) : NULL;
    }
    if (v->str == NULL) {
        jv_free(v);
        return NULL;
    }
    return v;
}

static const jv *member(const jv *o, const char *key) {
    if (o == NULL || o->type != 'o') return NULL;
    for (const jv *k = o->kids; k != NULL; k = k->next)
        if (strcmp(k->key, key) == 0) return k;
    return NULL;
}

/* An integer given as a number or a string of digits ("device_id": "0"); -1 otherwise. */
static long long int_of(const jv *v) {
    if (v == NULL || (v->type != 's' && v->type != 'n') || v->str[0] < '0' || v->str[0] > '9') return -1;
    char *end = NULL;
    long long x = strtoll(v->str, &end, 10);
    return *end == '\0' ? x : -1;
}

/* Reads the rank table at path: the number of ranks and this rank's device. Returns an HcclResult
 * (the error recorded); job is derived from the file's contents, the meeting point's name. */
static int read_rank_table(const char *api, const char *path, uint32_t rank, uint32_t *nranks, int *device,
                           uint8_t job[16]) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        tr_error("%s: cannot open the rank table %s: %s", api, path, strerror(errno));
        return HCCL_E_OPEN_FILE_FAILURE;
    }
    char *text = malloc(1 << 20);
    if (text == NULL) abort();
    size_t n = fread(text, 1, (1 << 20) - 1, fp);
    fclose(fp);
    text[n] = '\0';
    uint64_t h1 = fnv(text, n, FNV_SEED), h2 = fnv(text, n, FNV_SEED ^ 0x5bd1e995u);
    memcpy(job, &h1, 8);
    memcpy(job + 8, &h2, 8);
    const char *p = text;
    jv *root = parse_value(&p, 0);
    free(text);
    int rc = 0;
    const jv *status = member(root, "status"), *servers = member(root, "server_list");
    if (root == NULL) {
        rc = tr_violation(HCCL_E_PARA, "%s: the rank table %s is not JSON", api, path);
    } else if (status == NULL || status->type != 's' || strcmp(status->str, "completed") != 0) {
        rc = tr_violation(HCCL_E_PARA, "%s: the rank table %s: \"status\" must be \"completed\"", api, path);
    } else if (servers == NULL || servers->type != 'a') {
        rc = tr_violation(HCCL_E_PARA, "%s: the rank table %s has no \"server_list\" array", api, path);
    }
    long long mine = -1;
    uint32_t count = 0;
    uint64_t seen = 0; /* rank ids below 64, to catch a repeated one */
    for (const jv *s = rc == 0 ? servers->kids : NULL; s != NULL && rc == 0; s = s->next) {
        const jv *devs = member(s, "device");
        if (devs == NULL || devs->type != 'a') {
            rc = tr_violation(HCCL_E_PARA, "%s: the rank table %s: a server without a \"device\" array", api, path);
            break;
        }
        for (const jv *d = devs->kids; d != NULL && rc == 0; d = d->next, count++) {
            long long id = int_of(member(d, "device_id")), r = int_of(member(d, "rank_id"));
            if (id < 0 || r < 0 || r >= 64 || (seen >> r) & 1)
                rc = tr_violation(HCCL_E_PARA,
                                  "%s: the rank table %s: device entry %u needs a \"device_id\" and a unique "
                                  "\"rank_id\" (0 to 63 here)",
                                  api, path, count);
            else
                seen |= 1ull << r;
            if (r == (long long)rank) mine = id;
        }
    }
    jv_free(root);
    if (rc != 0) return rc;
    if (count == 0 || seen != (count == 64 ? ~0ull : (1ull << count) - 1))
        return tr_violation(HCCL_E_PARA, "%s: the rank table %s: the rank ids of its %u devices are not 0 to %u", api,
                            path, count, count ? count - 1 : 0);
    if (mine < 0)
        return tr_violation(HCCL_E_PARA, "%s: rank %u is not in the rank table %s (ranks 0 to %u)", api, rank, path,
                            count - 1);
    *nranks = count;
    *device = (int)mine;
    return 0;
}

TR_EXPORT HcclResult HcclCommInitClusterInfo(const char *clusterInfo, uint32_t rank, HcclComm *comm) {
    const char *api = "HcclCommInitClusterInfo";
    if (clusterInfo == NULL) return tr_violation(HCCL_E_PTR, "%s: clusterInfo is NULL", api);
    uint32_t n = 0;
    int table_device = -1, device;
    uint8_t job[16];
    int rc = read_rank_table(api, clusterInfo, rank, &n, &table_device, job);
    if (rc != 0) return rc;
    const void *ctx;
    long long connect, exec;
    if ((rc = init_checks(api, n, rank, comm, &device, &ctx, &connect, &exec)) != 0) return rc;
    if (table_device != device)
        return tr_violation(HCCL_E_PARA, "%s: the rank table %s puts rank %u on device %d, but the current device is %d",
                            api, clusterInfo, rank, table_device, device);
    /* The meeting point: an abstract Unix socket named after the table's contents. */
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    uint64_t h1, h2;
    memcpy(&h1, job, 8);
    memcpy(&h2, job + 8, 8);
    int nlen = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "resnext-testrt-hccl-%016llx%016llx",
                        (unsigned long long)h1, (unsigned long long)h2);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)nlen);
    tr_comm *c = comm_new(n, rank, device, ctx, exec);
    long long deadline = deadline_in(connect);
    char why[MAX_MSG];
    int violation = 0;
    if (rank == 0) {
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, salen) != 0) {
            int err = errno;
            if (lfd >= 0) close(lfd);
            comm_free(c);
            if (err == EADDRINUSE)
                return tr_violation(HCCL_E_PARA,
                                    "%s: rank 0 of the rank table %s is already taken by another process (rank 0 "
                                    "twice, or two jobs with the same table)",
                                    api, clusterInfo);
            tr_error("%s: opening the meeting point: %s", api, strerror(err));
            return HCCL_E_TCP_CONNECT;
        }
        if (listen(lfd, 128) != 0 || nonblocking(lfd) != 0) {
            tr_error("%s: listening: %s", api, strerror(errno));
            close(lfd);
            comm_free(c);
            return HCCL_E_TCP_CONNECT;
        }
        rc = meet_as_root(c, lfd, job, deadline, connect, api, why, sizeof why, &violation);
        close(lfd);
    } else {
        rc = meet_as_peer(c, (struct sockaddr *)&sa, salen, "the rank table's meeting point", job, deadline, connect,
                          api, why, sizeof why, &violation);
    }
    if (rc != 0) {
        comm_free(c);
        return meeting_failed(rc, violation, why);
    }
    return publish(c, comm);
}

/* ---- collectives ---- */

static const char *kind_name(int kind) {
    switch (kind) {
    case K_ALLREDUCE: return "HcclAllReduce";
    case K_BROADCAST: return "HcclBroadcast";
    }
    return "HcclBarrier";
}

static size_t dtype_size(int dt) {
    switch (dt) {
    case HCCL_DATA_TYPE_INT8:
    case HCCL_DATA_TYPE_UINT8: return 1;
    case HCCL_DATA_TYPE_INT16:
    case HCCL_DATA_TYPE_UINT16:
    case HCCL_DATA_TYPE_FP16:
    case HCCL_DATA_TYPE_BFP16: return 2;
    case HCCL_DATA_TYPE_INT32:
    case HCCL_DATA_TYPE_UINT32:
    case HCCL_DATA_TYPE_FP32: return 4;
    case HCCL_DATA_TYPE_INT64:
    case HCCL_DATA_TYPE_UINT64:
    case HCCL_DATA_TYPE_FP64: return 8;
    }
    return 0;
}

static const char *dtype_name(int dt) {
    static const char *names[] = {"int8", "int16", "int32", "fp16", "fp32", "int64", "uint64", "uint8", "uint16",
                                  "uint32", "fp64", "bfp16"};
    return dt >= 0 && dt < (int)(sizeof names / sizeof names[0]) ? names[dt] : "unknown";
}

static const char *op_name(int op) {
    static const char *names[] = {"sum", "prod", "max", "min"};
    return op >= 0 && op < 4 ? names[op] : "unknown";
}

/* The types HcclAllReduce reduces. */
static int reducible(int dt) {
    return dt == HCCL_DATA_TYPE_INT8 || dt == HCCL_DATA_TYPE_INT16 || dt == HCCL_DATA_TYPE_INT32 ||
           dt == HCCL_DATA_TYPE_INT64 || dt == HCCL_DATA_TYPE_FP16 || dt == HCCL_DATA_TYPE_FP32 ||
           dt == HCCL_DATA_TYPE_BFP16;
}

static double load_float(const void *p, uint64_t i, int dt) {
    switch (dt) {
    case HCCL_DATA_TYPE_FP16: return tr_half_to_float(((const uint16_t *)p)[i]);
    case HCCL_DATA_TYPE_BFP16: return tr_bf16_to_float(((const uint16_t *)p)[i]);
    }
    return ((const float *)p)[i];
}

static void store_float(void *p, uint64_t i, int dt, double v) {
    switch (dt) {
    case HCCL_DATA_TYPE_FP16: ((uint16_t *)p)[i] = tr_float_to_half((float)v); return;
    case HCCL_DATA_TYPE_BFP16: ((uint16_t *)p)[i] = tr_float_to_bf16((float)v); return;
    }
    ((float *)p)[i] = (float)v;
}

static int64_t load_int(const void *p, uint64_t i, int dt) {
    switch (dt) {
    case HCCL_DATA_TYPE_INT8: return ((const int8_t *)p)[i];
    case HCCL_DATA_TYPE_INT16: return ((const int16_t *)p)[i];
    case HCCL_DATA_TYPE_INT32: return ((const int32_t *)p)[i];
    }
    return ((const int64_t *)p)[i];
}

static void store_int(void *p, uint64_t i, int dt, int64_t v) {
    switch (dt) {
    case HCCL_DATA_TYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; return;
    case HCCL_DATA_TYPE_INT16: ((int16_t *)p)[i] = (int16_t)v; return;
    case HCCL_DATA_TYPE_INT32: ((int32_t *)p)[i] = (int32_t)v; return;
    }
    ((int64_t *)p)[i] = v;
}

/* acc = acc op x, elementwise: floats computed in double and rounded to the type, integers wrapping. */
static void reduce(void *acc, const void *x, uint64_t n, int dt, int op) {
    int fl = dt == HCCL_DATA_TYPE_FP16 || dt == HCCL_DATA_TYPE_FP32 || dt == HCCL_DATA_TYPE_BFP16;
    for (uint64_t i = 0; i < n; i++) {
        if (fl) {
            double a = load_float(acc, i, dt), b = load_float(x, i, dt), r;
            if (isnan(a) || isnan(b)) r = NAN;
            else if (op == HCCL_REDUCE_SUM) r = a + b;
            else if (op == HCCL_REDUCE_PROD) r = a * b;
            else if (op == HCCL_REDUCE_MAX) r = a > b ? a : b;
            else r = a < b ? a : b;
            store_float(acc, i, dt, r);
        } else {
            int64_t a = load_int(acc, i, dt), b = load_int(x, i, dt), r;
            if (op == HCCL_REDUCE_SUM) r = (int64_t)((uint64_t)a + (uint64_t)b);
            else if (op == HCCL_REDUCE_PROD) r = (int64_t)((uint64_t)a * (uint64_t)b);
            else if (op == HCCL_REDUCE_MAX) r = a > b ? a : b;
            else r = a < b ? a : b;
            store_int(acc, i, dt, r);
        }
    }
}

/* What every rank sends rank 0 for a collective. */
typedef struct {
    uint32_t magic, kind;
    uint64_t seq, count;
    int32_t dtype, op;
    uint32_t root, rank;
    uint64_t nbytes;
} header;

typedef struct {
    tr_comm *c;
    header h;
    void *send, *recv; /* broadcast and barrier: buf in both */
} coll;

/* The bytes a rank sends with h, and those the result has. */
static uint64_t sent_bytes(const header *h) {
    uint64_t b = h->count * dtype_size(h->dtype);
    if (h->kind == K_ALLREDUCE) return b;
    if (h->kind == K_BROADCAST) return h->rank == h->root ? b : 0;
    return 0;
}

static uint64_t result_bytes(const header *h) {
    return h->kind == K_BARRIER ? 0 : h->count * dtype_size(h->dtype);
}

/* Describes how h (from rank r) differs from mine, or returns 0 when they agree. */
static int disagreement(const header *mine, const header *h, char *why, size_t n) {
    const char *api = kind_name((int)mine->kind);
    unsigned long long nr = (unsigned long long)mine->seq;
    const char *rule = "every rank must queue the same collectives in the same order with the same count, dtype, op "
                       "and root";
    if (h->kind != mine->kind || h->seq != mine->seq)
        snprintf(why, n, "collective #%llu of the communicator: rank 0 queued %s, rank %u %s as its #%llu: %s", nr, api,
                 h->rank, kind_name((int)h->kind), (unsigned long long)h->seq, rule);
    else if (mine->kind != K_BARRIER && h->count != mine->count)
        snprintf(why, n, "%s (collective #%llu): rank 0 has count %llu, rank %u has count %llu: %s", api, nr,
                 (unsigned long long)mine->count, h->rank, (unsigned long long)h->count, rule);
    else if (mine->kind != K_BARRIER && h->dtype != mine->dtype)
        snprintf(why, n, "%s (collective #%llu): rank 0 has dtype %s, rank %u has dtype %s: %s", api, nr,
                 dtype_name(mine->dtype), h->rank, dtype_name(h->dtype), rule);
    else if (mine->kind == K_ALLREDUCE && h->op != mine->op)
        snprintf(why, n, "%s (collective #%llu): rank 0 has op %s, rank %u has op %s: %s", api, nr, op_name(mine->op),
                 h->rank, op_name(h->op), rule);
    else if (mine->kind == K_BROADCAST && h->root != mine->root)
        snprintf(why, n, "%s (collective #%llu): rank 0 has root %u, rank %u has root %u: %s", api, nr, mine->root,
                 h->rank, h->root, rule);
    else
        return 0;
    return 1;
}

/* Rank 0's side of a collective. Returns an ACL code (0 on success) with why and *violation. */
static int run_root(tr_comm *c, const coll *k, char *why, size_t whyn, int *violation) {
    const header *mine = &k->h;
    long long deadline = deadline_in(c->exec_ms);
    uint64_t bytes = result_bytes(mine);
    char *out = k->recv;
    if (mine->kind == K_ALLREDUCE && k->send != k->recv && bytes > 0) memmove(out, k->send, bytes);
    char *tmp = mine->kind == K_ALLREDUCE && bytes > 0 ? malloc(bytes) : NULL;
    if (mine->kind == K_ALLREDUCE && bytes > 0 && tmp == NULL) abort();
    int code = 0;
    char *heard = calloc((size_t)c->nranks, 1);
    if (heard == NULL) abort();
    for (int r = 1; r < c->nranks; r++) {
        int fd = c->fd[r];
        header h;
        int io = fd < 0 ? IO_CLOSED : recv_all(fd, &h, sizeof h, deadline);
        if (io == IO_OK && (h.magic != MAGIC || h.rank != (uint32_t)r)) io = IO_ERROR;
        if (io != IO_OK) {
            if (code == 0) {
                code = ACL_ERROR_RT_FFTS_PLUS_TIMEOUT;
                if (io == IO_TIMEOUT)
                    snprintf(why, whyn, "%s (collective #%llu): rank %d did not arrive within %lld ms (%s)",
                             kind_name((int)mine->kind), (unsigned long long)mine->seq, r, c->exec_ms,
                             timeout_source("HCCL_EXEC_TIMEOUT"));
                else
                    snprintf(why, whyn,
                             "%s (collective #%llu): rank %d closed its connection: its process exited, or it "
                             "destroyed the communicator",
                             kind_name((int)mine->kind), (unsigned long long)mine->seq, r);
            }
            continue;
        }
        if (code == 0 && disagreement(mine, &h, why, whyn)) {
            code = ACL_ERROR_RT_FFTS_PLUS_EXCEPTION;
            *violation = 1;
        }
        if (code != 0 || h.nbytes != sent_bytes(&h)) {
            io = discard(fd, h.nbytes, deadline);
        } else if (mine->kind == K_ALLREDUCE) {
            io = recv_all(fd, tmp, bytes, deadline);
            if (io == IO_OK) reduce(out, tmp, mine->count, mine->dtype, mine->op);
        } else if (h.nbytes > 0) { /* the root of a broadcast */
            io = recv_all(fd, out, bytes, deadline);
        }
        heard[r] = io == IO_OK;
        if (io != IO_OK && code == 0) {
            code = ACL_ERROR_RT_FFTS_PLUS_TIMEOUT;
            snprintf(why, whyn, "%s (collective #%llu): rank %d %s while sending its data", kind_name((int)mine->kind),
                     (unsigned long long)mine->seq, r, io == IO_TIMEOUT ? "timed out" : "closed its connection");
        }
    }
    int status = code == 0 ? ST_OK : *violation ? ST_VIOLATION : ST_FAILED;
    for (int r = 1; r < c->nranks; r++)
        if (heard[r]) send_reply(c->fd[r], status, code, code ? why : NULL, out, code ? 0 : bytes, deadline);
    free(heard);
    free(tmp);
    return code;
}

/* Another rank's side: sends its header and data, reads the result. It waits for rank 0 a little
 * longer than rank 0 waits for the others, to hear rank 0's reason when there is one. */
static int run_peer(tr_comm *c, const coll *k, char *why, size_t whyn, int *violation) {
    const header *mine = &k->h;
    long long slack = c->exec_ms < 0 ? 0 : c->exec_ms / 2 < 5000 ? c->exec_ms / 2 : 5000;
    long long deadline = deadline_in(c->exec_ms < 0 ? -1 : c->exec_ms + slack);
    int fd = c->fd[0];
    const char *api = kind_name((int)mine->kind);
    unsigned long long nr = (unsigned long long)mine->seq;
    uint64_t out = sent_bytes(mine), bytes = result_bytes(mine);
    int io = send_all(fd, mine, sizeof *mine, deadline);
    if (io == IO_OK && out > 0) io = send_all(fd, k->send, out, deadline);
    reply r;
    if (io == IO_OK) io = recv_all(fd, &r, sizeof r, deadline);
    if (io == IO_OK && r.magic != MAGIC) io = IO_ERROR;
    if (io == IO_OK && r.status != ST_OK) {
        char msg[MAX_MSG - 64]; /* room for the prefix below */
        read_reply_msg(fd, &r, msg, sizeof msg, deadline);
        snprintf(why, whyn, "rank %d: rank 0 reports: %s", c->rank, msg);
        *violation = r.status == ST_VIOLATION;
        return r.code;
    }
    if (io == IO_OK && r.nbytes != bytes) io = IO_ERROR;
    if (io == IO_OK && bytes > 0) io = recv_all(fd, k->recv, bytes, deadline);
    if (io == IO_TIMEOUT)
        snprintf(why, whyn, "%s (collective #%llu): rank %d: rank 0 did not answer within %lld ms (%s)", api, nr,
                 c->rank, c->exec_ms + slack, timeout_source("HCCL_EXEC_TIMEOUT"));
    else if (io != IO_OK)
        snprintf(why, whyn,
                 "%s (collective #%llu): rank %d: rank 0 closed its connection: its process exited, it destroyed the "
                 "communicator, or a collective failed there",
                 api, nr, c->rank);
    return io == IO_OK ? 0 : ACL_ERROR_RT_FFTS_PLUS_TIMEOUT;
}

/* A queued collective, run when its stream reaches it. */
static void run_coll(void *arg) {
    coll *k = arg;
    tr_comm *c = k->c;
    c->queued--;
    if (c->broken != 0) {
        tr_error("%s (collective #%llu): the communicator failed at an earlier collective: %s",
                 kind_name((int)k->h.kind), (unsigned long long)k->h.seq, c->why);
        tr_task_fail(c->broken);
        return;
    }
    if (c->nranks == 1) {
        if (k->h.kind == K_ALLREDUCE && k->send != k->recv) memmove(k->recv, k->send, result_bytes(&k->h));
        return;
    }
    char why[MAX_MSG];
    int violation = 0;
    int code = c->rank == 0 ? run_root(c, k, why, sizeof why, &violation) : run_peer(c, k, why, sizeof why, &violation);
    if (code == 0) return;
    if (violation) tr_violation(code, "%s", why);
    else tr_error("%s", why);
    c->broken = code;
    snprintf(c->why, sizeof c->why, "%s", why);
    comm_close(c); /* the other ranks see the connection close instead of waiting */
    tr_task_fail(code);
}

/* Checks a collective's arguments and queues it on stream. Returns an HcclResult. */
static HcclResult queue_coll(int kind, void *send, void *recv, uint64_t count, int dtype, int op, uint32_t root,
                             HcclComm comm, aclrtStream stream) {
    const char *api = kind_name(kind);
    tr_lock();
    tr_comm *c = comm;
    tr_stream *s = NULL;
    int rc = check_comm(comm, api);
    size_t size = dtype_size(dtype);
    if (rc == 0 && kind != K_BARRIER && (size == 0 || (kind == K_ALLREDUCE && !reducible(dtype))))
        rc = tr_violation(HCCL_E_PARA, "%s: dataType %d (%s) is not one it takes", api, dtype, dtype_name(dtype));
    if (rc == 0 && kind == K_ALLREDUCE && (op < HCCL_REDUCE_SUM || op > HCCL_REDUCE_MIN))
        rc = tr_violation(HCCL_E_PARA, "%s: op %d is not an HcclReduceOp (sum 0, prod 1, max 2, min 3)", api, op);
    if (rc == 0 && kind == K_BROADCAST && root >= (uint32_t)c->nranks)
        rc = tr_violation(HCCL_E_PARA, "%s: root %u is out of range for %d ranks", api, root, c->nranks);
    if (rc == 0 && kind != K_BARRIER && count > (uint64_t)SIZE_MAX / size)
        rc = tr_violation(HCCL_E_PARA, "%s: count %llu is too large", api, (unsigned long long)count);
    if (rc == 0 && tr_resolve_stream(stream, &s, api) != 0) rc = HCCL_E_RUNTIME;
    if (rc == 0 && tr_stream_device(s) != c->device)
        rc = tr_violation(HCCL_E_PARA, "%s: stream %p is on device %d but the communicator belongs to device %d", api,
                          stream, tr_stream_device(s), c->device);
    if (rc == 0 && tr_stream_capturing(s)) {
        tr_error("%s: collectives inside a graph capture are not modelled by the test runtime", api);
        rc = HCCL_E_NOT_SUPPORT;
    }
    size_t bytes = kind == K_BARRIER ? 0 : (size_t)count * size;
    char what[64];
    if (rc == 0 && bytes > 0) {
        snprintf(what, sizeof what, "%s: %s", api, kind == K_ALLREDUCE ? "sendBuf" : "buf");
        rc = tr_check_device(send, bytes, what, HCCL_E_PTR);
    }
    if (rc == 0 && bytes > 0 && recv != send) {
        snprintf(what, sizeof what, "%s: recvBuf", api);
        rc = tr_check_device(recv, bytes, what, HCCL_E_PTR);
        if (rc == 0 && (char *)send < (char *)recv + bytes && (char *)recv < (char *)send + bytes)
            rc = tr_violation(HCCL_E_PARA, "%s: sendBuf %p and recvBuf %p overlap without being equal", api, send,
                              recv);
    }
    if (rc == 0) {
        coll *k = calloc(1, sizeof *k);
        if (k == NULL) abort();
        k->c = c;
        k->h = (header){MAGIC, (uint32_t)kind, ++c->seq, kind == K_BARRIER ? 0 : count, dtype, op, root,
                        (uint32_t)c->rank, 0};
        k->h.nbytes = sent_bytes(&k->h);
        k->send = send;
        k->recv = recv;
        c->queued++;
        tr_range r[2] = {{send, bytes}, {recv, bytes}};
        char desc[96];
        snprintf(desc, sizeof desc, "%s #%llu, %llu x %s", api, (unsigned long long)k->h.seq,
                 (unsigned long long)count, dtype_name(dtype));
        tr_requeue(s, desc, run_coll, k, r, bytes == 0 ? 0 : recv != send ? 2 : 1);
    }
    tr_unlock();
    return rc;
}

TR_EXPORT HcclResult HcclAllReduce(void *sendBuf, void *recvBuf, uint64_t count, HcclDataType dataType,
                                   HcclReduceOp op, HcclComm comm, aclrtStream stream) {
    return queue_coll(K_ALLREDUCE, sendBuf, recvBuf, count, dataType, op, 0, comm, stream);
}

TR_EXPORT HcclResult HcclBroadcast(void *buf, uint64_t count, HcclDataType dataType, uint32_t root, HcclComm comm,
                                   aclrtStream stream) {
    return queue_coll(K_BROADCAST, buf, buf, count, dataType, 0, root, comm, stream);
}

TR_EXPORT HcclResult HcclBarrier(HcclComm comm, aclrtStream stream) {
    return queue_coll(K_BARRIER, NULL, NULL, 0, HCCL_DATA_TYPE_INT8, 0, 0, comm, stream);
}

TR_EXPORT HcclResult HcclCommDestroy(HcclComm comm) {
    tr_lock();
    tr_comm *c = comm;
    int rc = check_comm(comm, "HcclCommDestroy");
    if (rc == 0 && c->queued > 0)
        rc = tr_violation(HCCL_E_PARA,
                          "HcclCommDestroy: %d collective(s) of communicator %p are queued and have not run: "
                          "synchronize their streams first",
                          c->queued, comm);
    if (rc == 0) {
        tr_handle_remove(c, TR_COMM, "HcclCommDestroy");
        comm_close(c);
        free(c->fd);
        c->fd = NULL;
        tr_free_later(c);
    }
    tr_unlock();
    return rc;
}

static HcclResult rank_query(HcclComm comm, uint32_t *out, int size, const char *api) {
    tr_lock();
    int rc = check_comm(comm, api);
    if (rc == 0 && out == NULL) rc = tr_violation(HCCL_E_PTR, "%s: the out-parameter is NULL", api);
    if (rc == 0) *out = (uint32_t)(size ? ((tr_comm *)comm)->nranks : ((tr_comm *)comm)->rank);
    tr_unlock();
    return rc;
}

TR_EXPORT HcclResult HcclGetRankSize(HcclComm comm, uint32_t *rankSize) {
    return rank_query(comm, rankSize, 1, "HcclGetRankSize");
}

TR_EXPORT HcclResult HcclGetRankId(HcclComm comm, uint32_t *rank) { return rank_query(comm, rank, 0, "HcclGetRankId"); }

TR_EXPORT const char *HcclGetErrorString(HcclResult code) {
    static const char *text[] = {"success", "parameter error", "empty pointer", "memory error", "internal error",
                                 "not support feature", "not found specific resource", "resource unavailable",
                                 "call system interface error", "timeout", "open file fail", "tcp connect fail",
                                 "roce connect fail", "tcp transfer fail", "roce transfer fail",
                                 "call runtime api fail", "call driver api fail", "call profiling api fail",
                                 "call cce api fail", "call network api fail", "try again", "error cqe",
                                 "error communicator suspending"};
    return (int)code >= 0 && (int)code < (int)(sizeof text / sizeof text[0]) ? text[code] : "unknown error";
}
