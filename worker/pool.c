/* pool.c: the worker pool supervisor (see pool.h for the contract and
 * child.h for the socket protocol).
 *
 * Each slot holds at most one child process. A child's life, as the
 * supervisor sees it:
 *
 *   spawn ──> idle <──> busy ──(result frame)──> idle
 *               │        │
 *               │        └─(death, malformed frame, cancel unanswered)─┐
 *               └─(shutdown: we close the socket, it exits)────────────┤
 *                                                                      v
 *                             finish: reaped (SIGCHLD/waitpid) AND socket
 *                             at EOF or closed; report its task (crashed or
 *                             cancelled), kill its handler's group, respawn
 *
 * ON child death: 1. SIGCHLD -> waitpid(pid, WNOHANG) marks it reaped;
 *   2. its end of the socket closed with it, so reading drains what it sent
 *   before dying (a result written just before the crash still counts) and
 *   then sees EOF; 3. only with both does the slot finish.
 *   Step 3: because SIGCHLD can overtake the last bytes in the socket, and
 *   EOF can overtake SIGCHLD. A child that is at EOF but not reaped after a
 *   second is SIGKILLed; a reaped child whose socket stays open for a
 *   second (nobody should hold it) is closed by force. So a lost SIGCHLD
 *   cannot hang a slot.
 *
 * Deadlines (respawn backoff, unanswered cancels, children that must be
 * gone, the shutdown drain) all live in the slots and drive one uv_timer_t,
 * re-armed for the earliest after every event (STYLE.md 10).
 */
#include "worker/pool.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "proto/frame.h"
#include "worker/child.h"
#include "worker/exec.h"

#define REAP_WAIT_MS 1000      /* EOF without exit (or exit without EOF) */
#define STOP_WAIT_MS 2000      /* a stopped child must exit within this */
#define CANCEL_SLACK_MS 2000   /* beyond the kill grace, for a cancel */
#define RESPAWN_MIN_MS 100
#define RESPAWN_MAX_MS 5000
#define SHORT_LIFE_MS 1000     /* a child dying younger than this backs off */
#define READ_BUF (64 * 1024)

struct slot;

/* chan: the supervisor's end of one child's socket. Freed from its close
 * callback, so it may outlive the slot's interest in it. */
struct chan {
    uv_pipe_t pipe; /* first: the handle's pointer is the chan's */
    struct tock_pool *pool;
    struct slot *slot; /* NULL once the slot let go of it */
    struct tock_frame_reader *rd;
    char buf[READ_BUF];
};

struct slot {
    struct tock_pool *pool;
    int index;
    pid_t pid;          /* 0: no child */
    struct chan *chan;  /* NULL once closed */
    bool reaped;
    int wstatus;        /* -1: unknown */
    bool stopping;      /* closed on purpose: no replacement */
    char fault[TOCK_ERRSTR_MAX]; /* why we killed it ("" = we did not) */
    int64_t born;       /* uv_now at fork */
    int64_t deadline;   /* 0, or when the child must be gone */
    int64_t respawn_at; /* 0, or when to fork a replacement */
    int64_t backoff_ms;
    /* the task it runs */
    bool busy;
    uint64_t task_id;
    void *user_data;
    char occ[TOCK_OCC_MAX];
    int attempt;
    int64_t started_ms; /* wall clock */
    int pgid;           /* handler's process group, 0 until 'S' */
    bool cancelled;
    int64_t cancel_deadline;
};

struct tock_pool {
    uv_loop_t *loop;
    uv_signal_t sigchld;
    uv_timer_t timer;
    int open_handles;
    struct slot *slots;
    int n;
    char *worker_id;
    const struct tock_handlers *handlers;
    struct tock_log *log;
    int64_t grace_ms;
    tock_pool_result_cb on_result;
    void *data;
    /* shutdown */
    bool draining;
    int64_t drain_until;
    bool drain_cancelled;
    tock_pool_shutdown_cb shutdown_cb;
    void *shutdown_data;
    bool shutdown_done;
    /* teardown */
    int in_callback;
    bool free_requested;
    bool freeing;
};

/* Test seams (STYLE.md 15): a test that includes this file may replace
 * how children are forked (to make fork fail) and what they run (to make a
 * child break the protocol). */
static pid_t (*pool_fork)(void) = fork;
static void (*pool_child_main)(const struct tock_child_config *) =
    tock_child_main;

static void settle(struct tock_pool *p);
static void on_timer(uv_timer_t *t);
static int spawn(struct slot *s, struct tock_error *err);

/* -------------------------------------------------------------- helpers */

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void describe_status(int wstatus, char *buf, size_t cap)
{
    const char *name;

    if (wstatus == -1)
        snprintf(buf, cap, "ended (status unknown)");
    else if (WIFEXITED(wstatus))
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(wstatus));
    else if ((name = sigabbrev_np(WTERMSIG(wstatus))) != NULL)
        snprintf(buf, cap, "was killed by signal SIG%s", name);
    else
        snprintf(buf, cap, "was killed by signal %d", WTERMSIG(wstatus));
}

static void deliver(struct tock_pool *p, void *user_data,
                    const struct tock_result *res)
{
    p->in_callback++;
    p->on_result(p, user_data, res);
    p->in_callback--;
}

/* report_lost delivers the result of a task its child could not report:
 * built on the stack from the slot, so it needs no memory. */
static void report_lost(struct slot *s, enum tock_status status,
                        const char *text)
{
    struct tock_pool *p = s->pool;
    struct tock_result res = {
        .occ = s->occ, .status = status, .worker = p->worker_id,
        .attempt = s->attempt, .started_ms = s->started_ms,
        .finished_ms = wall_ms(), .exit_code = -1, .error = (char *)text};
    void *user_data = s->user_data;

    if (res.finished_ms < res.started_ms)
        res.finished_ms = res.started_ms;
    s->busy = false;
    s->cancel_deadline = 0;
    deliver(p, user_data, &res);
}

int tock_pool_error_result(const struct tock_task *task, const char *worker_id,
                           const char *text, int64_t now_ms,
                           struct tock_result *out)
{
    memset(out, 0, sizeof *out);
    out->occ = tock_strdup(task->occ);
    out->worker = tock_strdup(worker_id);
    out->error = tock_strdup(text);
    out->status = TOCK_STATUS_ERROR;
    out->attempt = task->attempt;
    out->started_ms = out->finished_ms = now_ms;
    out->exit_code = -1;
    if (out->occ == NULL || out->worker == NULL || out->error == NULL) {
        tock_result_clear(out);
        return TOCK_ENOMEM;
    }
    return 0;
}

/* ------------------------------------------------------------- channels */

/* handle_closed counts one closed handle; the pool's memory goes with the
 * last one once it is being freed. */
static void handle_closed(struct tock_pool *p)
{
    if (--p->open_handles == 0 && p->freeing) {
        tock_free(p->slots);
        tock_free(p->worker_id);
        tock_free(p);
    }
}

static void on_handle_close(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_chan_close(uv_handle_t *h)
{
    struct chan *ch = (struct chan *)h;
    struct tock_pool *p = ch->pool;

    tock_frame_reader_free(ch->rd);
    tock_free(ch);
    handle_closed(p);
}

/* chan_close lets go of the slot's socket (no more reads). */
static void chan_close(struct slot *s)
{
    struct chan *ch = s->chan;

    if (ch == NULL)
        return;
    s->chan = NULL;
    ch->slot = NULL;
    uv_read_stop((uv_stream_t *)&ch->pipe);
    uv_close((uv_handle_t *)&ch->pipe, on_chan_close);
}

struct wreq {
    uv_write_t req;
    uint8_t *buf;
};

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;

    (void)status; /* a failed write means a dead child: SIGCHLD/EOF tell */
    tock_free(w->buf);
    tock_free(w);
}

/* chan_send queues a whole message; takes ownership of buf. */
static int chan_send(struct slot *s, uint8_t *buf, size_t len,
                     struct tock_error *err)
{
    struct wreq *w = tock_malloc(sizeof *w);
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int rc;

    if (w == NULL) {
        tock_free(buf);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    w->buf = buf;
    rc = uv_write(&w->req, (uv_stream_t *)&s->chan->pipe, &b, 1, on_written);
    if (rc != 0) {
        tock_free(buf);
        tock_free(w);
        return tock_error_set(err, TOCK_EIO, "cannot write to worker child "
                              "%d: %s", (int)s->pid, uv_strerror(rc));
    }
    return 0;
}

/* ------------------------------------------------------- child lifecycle */

static void try_reap(struct slot *s)
{
    int st = 0;
    pid_t r;

    if (s->pid == 0 || s->reaped)
        return;
    do
        r = waitpid(s->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == s->pid || (r < 0 && errno == ECHILD)) {
        s->reaped = true;
        s->wstatus = r == s->pid ? st : -1;
    }
}

/* fault kills a child that broke the protocol (or must die for another
 * reason given in `why`); its task is reported when it is reaped. */
static void fault(struct slot *s, const char *why)
{
    if (s->fault[0] == '\0')
        snprintf(s->fault, sizeof s->fault, "%s", why);
    tock_logf(s->pool->log, TOCK_LOG_ERROR, "worker",
              "killing worker child %d: %s", (int)s->pid, why);
    kill(s->pid, SIGKILL);
    if (s->busy && s->pgid > 0)
        kill(-s->pgid, SIGKILL);
    chan_close(s);
    s->deadline = uv_now(s->pool->loop) + REAP_WAIT_MS;
}

static void back_off(struct slot *s)
{
    s->backoff_ms = s->backoff_ms == 0 ? RESPAWN_MIN_MS : s->backoff_ms * 2;
    if (s->backoff_ms > RESPAWN_MAX_MS)
        s->backoff_ms = RESPAWN_MAX_MS;
    s->respawn_at = uv_now(s->pool->loop) + s->backoff_ms;
}

/* respawn forks a replacement now, or backs off when that fails. */
static void respawn(struct slot *s)
{
    struct tock_error err = {0};

    if (spawn(s, &err) == 0)
        return;
    tock_logf(s->pool->log, TOCK_LOG_WARN, "worker", "cannot start a worker "
              "child for slot %d: %s", s->index, err.msg);
    back_off(s);
}

/* after_death replaces a child that died after `lived` ms: at once, unless
 * children of this slot keep dying young (a crash loop: back off). */
static void after_death(struct slot *s, int64_t lived)
{
    if (lived >= SHORT_LIFE_MS) {
        s->backoff_ms = 0;
        respawn(s);
        return;
    }
    back_off(s);
}

/* finish ends a child that is both reaped and off its socket: reports its
 * task, kills its handler's group, and replaces it unless stopping. */
static void finish(struct slot *s)
{
    struct tock_pool *p = s->pool;
    char how[64], text[TOCK_ERRSTR_MAX + 128];
    int pid = (int)s->pid;
    int64_t lived = uv_now(p->loop) - s->born;
    bool stopping = s->stopping;

    describe_status(s->wstatus, how, sizeof how);
    if (s->busy && s->pgid > 0)
        kill(-s->pgid, SIGKILL); /* the leader has PDEATHSIG; the rest not */
    s->pid = 0;
    s->reaped = false;
    s->deadline = 0;
    s->stopping = false;
    tock_logf(p->log, stopping && !s->busy ? TOCK_LOG_DEBUG : TOCK_LOG_WARN,
              "worker", "worker child %d %s%s%s", pid, how,
              s->busy ? " while running " : "", s->busy ? s->occ : "");
    if (s->fault[0] != '\0')
        snprintf(text, sizeof text, "worker child %d was killed by the "
                 "supervisor: %s", pid, s->fault);
    else
        snprintf(text, sizeof text, "worker child %d %s while running the "
                 "handler", pid, how);
    s->fault[0] = '\0';
    if (s->busy)
        report_lost(s, s->cancelled ? TOCK_STATUS_CANCELLED
                                    : TOCK_STATUS_CRASHED, text);
    /* After the callback: it may have started a shutdown or a free. */
    if (!stopping && !p->draining && !p->freeing && !p->free_requested)
        after_death(s, lived);
}

static void maybe_finish(struct slot *s)
{
    if (s->pid != 0 && s->reaped && s->chan == NULL)
        finish(s);
}

/* --------------------------------------------------------------- frames */

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           b[3];
}

static void on_result_frame(struct slot *s, const uint8_t *p, size_t n)
{
    struct tock_result res = {0};
    struct tock_error err = {0};
    char why[TOCK_ERRSTR_MAX + 64];
    void *user_data = s->user_data;

    if (!s->busy)
        return fault(s, "it sent a result while running no task");
    if (tock_proto_decode_result(p, n, NULL, &res, &err) != 0) {
        snprintf(why, sizeof why, "it sent a malformed result: %s", err.msg);
        return fault(s, why);
    }
    if (strcmp(res.occ, s->occ) != 0 || res.attempt != s->attempt) {
        snprintf(why, sizeof why, "it sent a result for %.140s attempt %d "
                 "while running %s attempt %d", res.occ, res.attempt, s->occ,
                 s->attempt);
        tock_result_clear(&res);
        return fault(s, why);
    }
    s->busy = false;
    s->cancel_deadline = 0;
    s->pgid = 0;
    deliver(s->pool, user_data, &res);
    tock_result_clear(&res);
}

static void on_message(struct slot *s, const uint8_t *body, size_t len)
{
    char why[64];

    if (body[0] == TOCK_CHILD_MSG_RESULT)
        return on_result_frame(s, body + 1, len - 1);
    if (body[0] == TOCK_CHILD_MSG_STARTED && len == 5 && s->busy &&
        s->pgid == 0 && be32(body + 1) > 0 && be32(body + 1) <= INT32_MAX) {
        s->pgid = (int)be32(body + 1);
        return;
    }
    snprintf(why, sizeof why, "it sent an unexpected '%c' message (%zu "
             "bytes)", body[0] >= 0x20 && body[0] < 0x7f ? body[0] : '?', len);
    fault(s, why);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct chan *ch = (struct chan *)h;

    (void)suggested;
    *buf = uv_buf_init(ch->buf, sizeof ch->buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct chan *ch = (struct chan *)stream;
    struct slot *s = ch->slot;
    struct tock_pool *p = ch->pool;
    const uint8_t *body;
    size_t len;
    int rc = 0;

    (void)buf;
    if (s == NULL || nread == 0)
        return;
    if (nread < 0) { /* EOF (or a reset): the child is gone or going */
        chan_close(s);
        try_reap(s);
        if (!s->reaped && s->deadline == 0)
            s->deadline = uv_now(p->loop) + REAP_WAIT_MS;
        maybe_finish(s);
        settle(p);
        return;
    }
    if (tock_frame_reader_feed(ch->rd, ch->buf, (size_t)nread) == 0)
        while (s->chan == ch &&
               (rc = tock_frame_reader_next(ch->rd, &body, &len)) == 1)
            on_message(s, body, len);
    if (s->chan == ch && (rc < 0 || ch->rd->err != 0))
        fault(s, ch->rd->errstr);
    settle(p);
}

/* --------------------------------------------------------------- spawning */

static int spawn(struct slot *s, struct tock_error *err)
{
    struct tock_pool *p = s->pool;
    struct tock_child_config cfg = {
        .parent = getpid(), .handlers = p->handlers,
        .worker_id = p->worker_id, .kill_grace_ms = p->grace_ms};
    struct chan *ch = tock_calloc(1, sizeof *ch);
    int sv[2], rc;
    pid_t pid;

    if (ch == NULL || (ch->rd = tock_frame_reader_new(TOCK_CHILD_MAX_FRAME)) ==
                          NULL) {
        tock_free(ch);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        tock_frame_reader_free(ch->rd);
        tock_free(ch);
        return tock_error_set(err, TOCK_EIO, "socketpair: %s",
                              strerror(errno));
    }
    if ((pid = pool_fork()) == 0) {
        cfg.fd = sv[1];
        pool_child_main(&cfg);
        _exit(0);
    }
    close(sv[1]);
    ch->pool = p;
    ch->slot = s;
    uv_pipe_init(p->loop, &ch->pipe, 0);
    ch->pipe.data = p;
    p->open_handles++;
    if (pid < 0) {
        rc = tock_error_set(err, TOCK_EAGAIN, "fork: %s", strerror(errno));
        close(sv[0]);
        uv_close((uv_handle_t *)&ch->pipe, on_chan_close);
        return rc;
    }
    *s = (struct slot){.pool = p, .index = s->index, .pid = pid, .chan = ch,
                       .wstatus = -1, .born = uv_now(p->loop),
                       .backoff_ms = s->backoff_ms};
    if ((rc = uv_pipe_open(&ch->pipe, sv[0])) != 0)
        close(sv[0]); /* not libuv's yet */
    if (rc != 0 ||
        (rc = uv_read_start((uv_stream_t *)&ch->pipe, on_alloc, on_read))) {
        fault(s, "libuv refused its socket");
        return tock_error_set(err, TOCK_EIO, "worker child socket: %s",
                              uv_strerror(rc));
    }
    tock_logf(p->log, TOCK_LOG_DEBUG, "worker", "worker child %d started "
              "(slot %d)", (int)pid, s->index);
    return 0;
}

/* ---------------------------------------------------------------- timers */

static int64_t earliest(const struct tock_pool *p)
{
    int64_t at = INT64_MAX;

    for (int i = 0; i < p->n; i++) {
        const struct slot *s = &p->slots[i];
        int64_t t[3] = {s->deadline, s->respawn_at, s->cancel_deadline};

        for (int k = 0; k < 3; k++)
            if (t[k] != 0 && t[k] < at)
                at = t[k];
    }
    if (p->draining && !p->drain_cancelled && p->drain_until < at)
        at = p->drain_until;
    return at;
}

static void send_cancel(struct slot *s)
{
    uint8_t *buf;
    size_t len;

    s->cancelled = true;
    s->cancel_deadline =
        uv_now(s->pool->loop) + s->pool->grace_ms + CANCEL_SLACK_MS;
    if (s->chan == NULL ||
        tock_child_msg(TOCK_CHILD_MSG_CANCEL, NULL, 0, &buf, &len, NULL) != 0 ||
        chan_send(s, buf, len, NULL) != 0)
        fault(s, "it could not be told to cancel its task");
}

static void slot_deadlines(struct slot *s, int64_t now)
{
    if (s->pid != 0 && s->deadline != 0 && now >= s->deadline) {
        s->deadline = 0;
        if (!s->reaped) {
            kill(s->pid, SIGKILL);
            try_reap(s);
            if (!s->reaped)
                s->deadline = now + 100;
        }
        if (s->reaped)
            chan_close(s); /* its socket never reached EOF: stop waiting */
        maybe_finish(s);
    }
    if (s->busy && s->cancel_deadline != 0 && now >= s->cancel_deadline) {
        s->cancel_deadline = 0;
        fault(s, "it did not answer a cancel in time");
    }
    if (s->pid == 0 && s->respawn_at != 0 && now >= s->respawn_at) {
        s->respawn_at = 0;
        respawn(s);
    }
}

static void on_timer(uv_timer_t *t)
{
    struct tock_pool *p = t->data;
    int64_t now = uv_now(p->loop);

    for (int i = 0; i < p->n; i++)
        slot_deadlines(&p->slots[i], now);
    if (p->draining && !p->drain_cancelled && now >= p->drain_until) {
        p->drain_cancelled = true;
        for (int i = 0; i < p->n; i++)
            if (p->slots[i].busy && !p->slots[i].cancelled)
                send_cancel(&p->slots[i]);
    }
    settle(p);
}

static void rearm(struct tock_pool *p)
{
    int64_t at = earliest(p), now = uv_now(p->loop);

    if (at == INT64_MAX)
        uv_timer_stop(&p->timer);
    else
        uv_timer_start(&p->timer, on_timer, at > now ? (uint64_t)(at - now) : 0,
                       0);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    struct tock_pool *p = h->data;

    (void)signum;
    for (int i = 0; i < p->n; i++) {
        struct slot *s = &p->slots[i];

        try_reap(s);
        if (s->reaped && s->chan != NULL && s->deadline == 0)
            s->deadline = uv_now(p->loop) + REAP_WAIT_MS;
        maybe_finish(s);
    }
    settle(p);
}

/* ------------------------------------------------------------ lifecycle */

/* stop_idle closes the socket of every idle child (EOF tells it to exit)
 * and cancels pending respawns: the shutdown path. */
static void stop_idle(struct tock_pool *p)
{
    int64_t now = uv_now(p->loop);

    for (int i = 0; i < p->n; i++) {
        struct slot *s = &p->slots[i];

        s->respawn_at = 0;
        if (s->pid == 0 || s->busy || s->stopping)
            continue;
        s->stopping = true;
        chan_close(s);
        if (s->deadline == 0)
            s->deadline = now + STOP_WAIT_MS;
        try_reap(s);
        maybe_finish(s);
    }
}

static bool any_child(const struct tock_pool *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->slots[i].pid != 0)
            return true;
    return false;
}

static void call_shutdown_cb(struct tock_pool *p)
{
    p->shutdown_done = true;
    if (p->shutdown_cb == NULL)
        return;
    p->in_callback++;
    p->shutdown_cb(p, p->shutdown_data);
    p->in_callback--;
}

/* teardown: kill everything, report what was running, close the handles. */
static void teardown(struct tock_pool *p)
{
    p->freeing = true;
    for (int i = 0; i < p->n; i++) {
        struct slot *s = &p->slots[i];

        if (s->pid != 0) {
            kill(s->pid, SIGKILL);
            if (s->busy && s->pgid > 0)
                kill(-s->pgid, SIGKILL);
            /* SIGKILLed: this wait is immediate. */
            while (!s->reaped && waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            s->pid = 0;
        }
        chan_close(s);
    }
    for (int i = 0; i < p->n; i++)
        if (p->slots[i].busy)
            report_lost(&p->slots[i], TOCK_STATUS_CANCELLED,
                        "the worker pool was stopped while the task ran");
    if (p->draining && !p->shutdown_done)
        call_shutdown_cb(p);
    uv_close((uv_handle_t *)&p->sigchld, on_handle_close);
    uv_close((uv_handle_t *)&p->timer, on_handle_close);
}

/* settle runs after every event: tears down a pool freed from a callback,
 * moves a shutdown along, and re-arms the timer. */
static void settle(struct tock_pool *p)
{
    if (p->freeing)
        return;
    if (p->free_requested && p->in_callback == 0) {
        teardown(p);
        return;
    }
    if (p->draining && !p->shutdown_done) {
        stop_idle(p);
        if (!any_child(p)) {
            uv_signal_stop(&p->sigchld);
            uv_timer_stop(&p->timer);
            call_shutdown_cb(p);
            if (p->free_requested)
                teardown(p);
            return;
        }
    }
    rearm(p);
}

/* ------------------------------------------------------------------ API */

static int check_config(const struct tock_pool_config *cfg,
                        tock_pool_result_cb on_result, struct tock_error *err)
{
    if (cfg->concurrency < 1 || cfg->concurrency > TOCK_POOL_MAX)
        return tock_error_set(err, TOCK_EINVAL, "concurrency %d is out of "
                              "range: use 1..%d (each is a process)",
                              cfg->concurrency, TOCK_POOL_MAX);
    if (cfg->handlers == NULL || on_result == NULL)
        return tock_error_set(err, TOCK_EINVAL, "a worker pool needs a "
                              "handler registry and a result callback");
    if (tock_name_check(cfg->worker_id, "worker id", err) != 0)
        return err ? err->code : TOCK_EINVAL;
    if (cfg->kill_grace_ms < 0)
        return tock_error_set(err, TOCK_EINVAL, "the kill grace period "
                              "cannot be negative");
    return 0;
}

static void ignore_sigpipe(void)
{
    struct sigaction sa;

    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

int tock_pool_new(uv_loop_t *loop, const struct tock_pool_config *cfg,
                  tock_pool_result_cb on_result, struct tock_pool **out,
                  struct tock_error *err)
{
    struct tock_pool *p;
    int rc;

    *out = NULL;
    if ((rc = check_config(cfg, on_result, err)) != 0)
        return rc;
    p = tock_calloc(1, sizeof *p);
    if (p == NULL || (p->slots = tock_calloc((size_t)cfg->concurrency,
                                             sizeof *p->slots)) == NULL ||
        (p->worker_id = tock_strdup(cfg->worker_id)) == NULL) {
        if (p != NULL)
            tock_free(p->slots);
        tock_free(p);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    if ((rc = uv_signal_init(loop, &p->sigchld)) != 0) {
        tock_free(p->worker_id);
        tock_free(p->slots);
        tock_free(p);
        return tock_error_set(err, TOCK_EIO, "cannot watch SIGCHLD: %s",
                              uv_strerror(rc));
    }
    uv_timer_init(loop, &p->timer);
    p->sigchld.data = p->timer.data = p;
    p->open_handles = 2;
    p->loop = loop;
    p->n = cfg->concurrency;
    p->handlers = cfg->handlers;
    p->log = cfg->log;
    p->grace_ms = cfg->kill_grace_ms ? cfg->kill_grace_ms
                                     : TOCK_EXEC_GRACE_DEFAULT_MS;
    p->on_result = on_result;
    p->data = cfg->data;
    ignore_sigpipe();
    uv_signal_start(&p->sigchld, on_sigchld, SIGCHLD);
    for (int i = 0; i < p->n; i++) {
        p->slots[i] = (struct slot){.pool = p, .index = i, .wstatus = -1};
        if ((rc = spawn(&p->slots[i], err)) != 0) {
            teardown(p);
            return rc;
        }
    }
    tock_logf(p->log, TOCK_LOG_INFO, "worker", "worker pool %s: %d children "
              "started", p->worker_id, p->n);
    *out = p;
    return 0;
}

void *tock_pool_data(const struct tock_pool *p)
{
    return p->data;
}

static bool slot_idle(const struct slot *s)
{
    return s->pid != 0 && !s->reaped && s->chan != NULL && !s->busy &&
           !s->stopping && s->fault[0] == '\0';
}

static bool accepting(const struct tock_pool *p)
{
    return !p->draining && !p->freeing && !p->free_requested;
}

int tock_pool_idle_slots(const struct tock_pool *p)
{
    int n = 0;

    for (int i = 0; accepting(p) && i < p->n; i++)
        n += slot_idle(&p->slots[i]);
    return n;
}

static struct slot *find_task(const struct tock_pool *p, uint64_t task_id)
{
    for (int i = 0; i < p->n; i++)
        if (p->slots[i].busy && p->slots[i].task_id == task_id)
            return &p->slots[i];
    return NULL;
}

static struct slot *idle_slot(struct tock_pool *p)
{
    for (int i = 0; i < p->n; i++)
        if (slot_idle(&p->slots[i]))
            return &p->slots[i];
    return NULL;
}

int tock_pool_submit(struct tock_pool *p, const struct tock_task *task,
                     uint64_t task_id, void *user_data,
                     struct tock_error *err)
{
    struct slot *s;
    uint8_t *body = NULL, *msg = NULL;
    size_t len, msglen;
    int rc;

    if (!accepting(p))
        return tock_error_set(err, TOCK_ECANCELED, "the worker pool is "
                              "shutting down and takes no new tasks");
    if (task->handler == NULL ||
        tock_handlers_find(p->handlers, task->handler) == NULL)
        return tock_error_set(err, TOCK_ENOENT, "handler \"%.128s\" is not "
                              "configured on worker %s",
                              task->handler ? task->handler : "", p->worker_id);
    if (find_task(p, task_id) != NULL)
        return tock_error_set(err, TOCK_EEXIST, "task id %llu is already "
                              "running", (unsigned long long)task_id);
    if ((s = idle_slot(p)) == NULL)
        return tock_error_set(err, TOCK_EBUSY, "every worker child is busy; "
                              "wait for a result");
    if ((rc = tock_proto_encode_task(task, &body, &len, err)) != 0)
        return rc;
    rc = tock_child_msg(TOCK_CHILD_MSG_TASK, body, len, &msg, &msglen, err);
    tock_free(body);
    if (rc != 0 || (rc = chan_send(s, msg, msglen, err)) != 0)
        return rc;
    s->busy = true;
    s->task_id = task_id;
    s->user_data = user_data;
    snprintf(s->occ, sizeof s->occ, "%s", task->occ);
    s->attempt = task->attempt;
    s->started_ms = wall_ms();
    s->pgid = 0;
    s->cancelled = false;
    s->cancel_deadline = 0;
    return 0;
}

int tock_pool_cancel(struct tock_pool *p, uint64_t task_id)
{
    struct slot *s = p->freeing ? NULL : find_task(p, task_id);

    if (s == NULL)
        return TOCK_ENOENT;
    if (!s->cancelled) {
        send_cancel(s);
        rearm(p);
    }
    return 0;
}

int tock_pool_task_info(const struct tock_pool *p, uint64_t task_id,
                        int *child_pid, int *handler_pgid)
{
    const struct slot *s = find_task(p, task_id);

    if (s == NULL)
        return TOCK_ENOENT;
    if (child_pid != NULL)
        *child_pid = (int)s->pid;
    if (handler_pgid != NULL)
        *handler_pgid = s->pgid;
    return 0;
}

int tock_pool_shutdown(struct tock_pool *p, int64_t drain_ms,
                       tock_pool_shutdown_cb cb, void *data)
{
    if (!accepting(p))
        return TOCK_EINVAL;
    p->draining = true;
    p->drain_until = uv_now(p->loop) + (drain_ms > 0 ? drain_ms : 0);
    p->shutdown_cb = cb;
    p->shutdown_data = data;
    /* Move along from the loop, never from inside this call. */
    uv_timer_start(&p->timer, on_timer, 0, 0);
    return 0;
}

void tock_pool_free(struct tock_pool *p)
{
    if (p == NULL || p->freeing)
        return;
    if (p->in_callback > 0) {
        p->free_requested = true;
        return;
    }
    teardown(p);
}
