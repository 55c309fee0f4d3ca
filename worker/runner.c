/* runner.c: the store <-> pool loop of a worker (see runner.h for the
 * steps of each event).
 *
 * Everything here runs on the loop thread except the body of a store call
 * (op_work), which runs on the libuv threadpool. Exactly one store call is
 * in flight at a time (r->op.kind != OP_NONE): the store handle is used by
 * one thread at a time, and while a call is in flight the loop thread
 * touches neither the handle nor the fields of the op. Held tasks that an
 * op reads from the threadpool are in a state (REPORTING, RELEASING) that
 * nothing on the loop thread changes until the op returns.
 */
#include "worker/runner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "store/sqlite.h"

#define LOGC "worker"
#define RUNNER_OF(op) \
    ((struct tock_runner *)((char *)(op) - offsetof(struct tock_runner, op)))

/* ------------------------------------------------------------ types */

enum held_state {
    H_RUNNING,   /* in the pool */
    H_DONE,      /* result ready, waiting for a report call */
    H_REPORTING, /* in the report call in flight */
    H_RELEASE,   /* stopped at the drain deadline, waiting to be handed back */
    H_RELEASING, /* in the release call in flight */
};

struct held {
    struct held *next, *prev;
    struct tock_runner *r;
    int64_t task_id;
    int32_t deliveries;
    char *occ;               /* from the queue entry, owned */
    struct tock_task task;   /* decoded; zeroed when it did not decode */
    bool decoded;
    enum held_state state;
    bool fenced;             /* lease lost: drop the result */
    bool handback;           /* drain deadline: release, do not report */
    uint64_t lease_until;    /* uv_now() ms until which the lease holds */
    uint64_t pool_id;        /* the pool's handle, while H_RUNNING */
    struct tock_result result;
    int rrc;                 /* report/release outcome, 1 = not attempted */
    enum tock_report_status rstatus;
    struct tock_error rerr;
};

enum op_kind {
    OP_NONE,
    OP_TAKE,
    OP_TOUCH,
    OP_REPORT,
    OP_RECLAIM,
    OP_RELEASE,
    OP_CHECK,
};

struct op {
    uv_work_t req;
    enum op_kind kind;
    int rc;
    struct tock_error err;
    uint64_t started;              /* uv_now() when submitted */
    size_t max;                    /* take */
    struct tock_task_lease *leases;
    size_t nleases;
    struct held **items;           /* touch, report, release */
    size_t n;
    int64_t *ids;
    int32_t *deliv;
    bool *ok;
    size_t redelivered, dead;      /* reclaim */
    int64_t data_version;          /* check */
};

struct tock_runner {
    uv_loop_t *loop;
    struct tock_store *store;
    struct tock_pool *pool;
    const struct tock_handlers *handlers;
    struct tock_log *log;
    char *worker_id;
    char **queues;
    size_t nqueues;
    int64_t lease_ms, poll_ms, reclaim_ms;
    char *watch_dir, *watch_base;
    tock_runner_result_fn on_result;
    void *ctx;

    uv_timer_t poll_timer, touch_timer, retry_timer, drain_timer;
    uv_timer_t recheck_timer;
    uv_fs_event_t watch;
    bool watch_inited, watching;
    int open_handles;

    struct held *held;           /* every held task, newest first */
    uint64_t next_pool_id;
    size_t nheld;
    struct op op;
    bool started, stopping, freeing, stop_called;
    bool want_take, want_touch, want_reclaim, want_check;
    uint64_t backoff_until, last_reclaim;
    uint64_t down_since;         /* uv_now() of the first failure, 0: up */
    int64_t data_version;        /* last seen; -1 before the first check */
    int rechecks;                /* since the last file event */
    int last_store_rc;
    int stop_status;             /* 0, or why something was not written */
    uint64_t stop_deadline;      /* hard deadline, uv_now() ms */
    bool drain_expired;
    tock_runner_stop_fn stop_cb;
    void *stop_ctx;
};

static void pump(struct tock_runner *r);
static void on_retry(uv_timer_t *t);
static void check_stopped(struct tock_runner *r);
static void maybe_free(struct tock_runner *r);

/* ------------------------------------------------------------ helpers */

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* transient reports whether a failed store call may succeed when retried
 * (a lock, a full disk, a lost connection), as opposed to a refusal of
 * what was sent, which would fail the same way forever. */
static bool transient(int rc)
{
    return rc == TOCK_EBUSY || rc == TOCK_EIO || rc == TOCK_ECONN ||
           rc == TOCK_ETIMEDOUT || rc == TOCK_ENOSPC || rc == TOCK_ENOMEM ||
           rc == TOCK_EAGAIN;
}

static const char *report_status_name(enum tock_report_status st)
{
    switch (st) {
    case TOCK_REPORT_OK: return "recorded";
    case TOCK_REPORT_DUP_OK: return "already recorded";
    case TOCK_REPORT_LATE: return "late (the occurrence already has a result)";
    case TOCK_REPORT_STALE: return "stale (the task is no longer ours)";
    }
    return "?";
}

/* free_slots: how many more tasks to take: the pool's idle children.
 * pump() takes only when no result waits for its report, so a store that
 * stops answering stops the taking too, and the held tasks stay bounded by
 * the pool's size. */
static size_t free_slots(const struct tock_runner *r)
{
    int idle = tock_pool_idle_slots(r->pool);

    return idle > 0 ? (size_t)idle : 0;
}

/* ------------------------------------------------------------ held tasks */

static struct held *held_new(struct tock_runner *r,
                             const struct tock_task_lease *l)
{
    struct held *h = tock_calloc(1, sizeof *h);

    if (h == NULL)
        return NULL;
    h->occ = tock_strdup(l->occ != NULL ? l->occ : "");
    if (h->occ == NULL) {
        tock_free(h);
        return NULL;
    }
    h->r = r;
    h->task_id = l->task_id;
    h->deliveries = l->deliveries;
    h->rrc = 1;
    h->lease_until = uv_now(r->loop) + (uint64_t)r->lease_ms;
    h->next = r->held;
    if (r->held != NULL)
        r->held->prev = h;
    r->held = h;
    r->nheld++;
    return h;
}

static void held_free(struct held *h)
{
    struct tock_runner *r = h->r;

    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        r->held = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    r->nheld--;
    tock_task_clear(&h->task);
    tock_result_clear(&h->result);
    tock_free(h->occ);
    tock_free(h);
}

/* reject turns a task this worker cannot run into an `error` result that
 * is reported (acknowledged) like any other: a poison task must not come
 * back. `why` is the one-line reason. */
static int reject(struct held *h, int32_t attempt, const char *why)
{
    struct tock_result *res = &h->result;
    int64_t now = wall_ms();

    memset(res, 0, sizeof *res);
    res->occ = tock_strdup(h->occ);
    res->worker = tock_strdup(h->r->worker_id);
    res->error = tock_strndup(why, TOCK_TEXT_MAX);
    if (res->occ == NULL || res->worker == NULL || res->error == NULL) {
        tock_result_clear(res);
        return TOCK_ENOMEM;
    }
    res->status = TOCK_STATUS_ERROR;
    res->attempt = attempt >= 1 ? attempt : 1;
    res->started_ms = res->finished_ms = now;
    res->exit_code = -1;
    h->state = H_DONE;
    tock_logf(h->r->log, TOCK_LOG_WARN, LOGC,
              "task %" PRId64 " (%s) rejected: %s", h->task_id, h->occ, why);
    return 0;
}

/* ------------------------------------------------------------ the pool */

/* result_copy makes *dst a deep copy of *src (dst overwritten). */
static int result_copy(struct tock_result *dst, const struct tock_result *src)
{
    *dst = *src;
    dst->occ = tock_strdup(src->occ);
    dst->worker = tock_strdup(src->worker);
    dst->error = src->error != NULL ? tock_strdup(src->error) : NULL;
    dst->output = src->output_len > 0
                      ? tock_memdup(src->output, src->output_len)
                      : NULL;
    if (dst->occ == NULL || dst->worker == NULL ||
        (src->error != NULL && dst->error == NULL) ||
        (src->output_len > 0 && dst->output == NULL)) {
        tock_result_clear(dst);
        return TOCK_ENOMEM;
    }
    if (dst->output == NULL)
        dst->output_len = 0;
    return 0;
}

/* submit decodes the task of lease `l` into held `h` and gives it to the
 * pool, or turns it into an error result (reject), or, when the pool has
 * no room after all (a child died since we looked), hands it back.
 * Returns TOCK_ENOMEM only when even that failed. */
static int submit(struct tock_runner *r, struct held *h,
                  const struct tock_task_lease *l)
{
    struct tock_error err = {0};
    char why[TOCK_ERRSTR_MAX + 64];
    int rc;

    rc = tock_proto_decode_task(l->body, l->body_len, NULL, &h->task, &err);
    if (rc != 0)
        return reject(h, l->attempt, err.msg);
    h->decoded = true;
    if (strcmp(h->task.occ, h->occ) != 0) {
        snprintf(why, sizeof why,
                 "malformed task: its body is for occurrence %.140s but the "
                 "queue entry is for %.140s",
                 h->task.occ, h->occ);
        return reject(h, h->task.attempt, why);
    }
    if (tock_handlers_find(r->handlers, h->task.handler) == NULL) {
        snprintf(why, sizeof why,
                 "handler %s is not configured on worker %s; define it in "
                 "the worker's config or with --handler",
                 h->task.handler, r->worker_id);
        return reject(h, h->task.attempt, why);
    }
    h->pool_id = ++r->next_pool_id;
    rc = tock_pool_submit(r->pool, &h->task, h->pool_id, h, &err);
    if (rc == TOCK_ENOMEM)
        return rc;
    if (rc == TOCK_EBUSY || rc == TOCK_ECANCELED) {
        h->state = H_RELEASE;
        return 0;
    }
    if (rc != 0) {
        snprintf(why, sizeof why, "worker %s could not start the task: %s",
                 r->worker_id, err.msg);
        return reject(h, h->task.attempt, why);
    }
    h->state = H_RUNNING;
    tock_logf(r->log, TOCK_LOG_DEBUG, LOGC, "task %" PRId64 " %s started (%s)",
              h->task_id, h->occ, h->task.handler);
    return 0;
}

void tock_runner_pool_result(struct tock_pool *pool, void *user_data,
                             const struct tock_result *result)
{
    struct held *h = user_data;
    struct tock_runner *r = h->r;

    (void)pool;
    if (r->freeing) {
        held_free(h);
        maybe_free(r);
        return;
    }
    if (h->fenced) {
        tock_logf(r->log, TOCK_LOG_WARN, LOGC,
                  "task %" PRId64 " %s stopped (%s): its lease was lost, "
                  "another worker owns it now",
                  h->task_id, h->occ, tock_status_name(result->status));
        held_free(h);
    } else if (h->handback && result->status == TOCK_STATUS_CANCELLED) {
        h->state = H_RELEASE; /* stopped by our drain: another worker runs it */
    } else if (result_copy(&h->result, result) != 0) {
        tock_logf(r->log, TOCK_LOG_ERROR, LOGC,
                  "out of memory keeping the result of %s; the task is "
                  "handed out again after its lease", h->occ);
        held_free(h);
    } else {
        h->state = H_DONE;
    }
    pump(r);
    check_stopped(r);
}

static void cancel(struct held *h)
{
    if (h->state == H_RUNNING)
        tock_pool_cancel(h->r->pool, h->pool_id);
}

/* ------------------------------------------------------------ watching */

/* data_version reads PRAGMA data_version on the store's own connection
 * (threadpool): it changes only when ANOTHER connection committed, so the
 * runner's own writes, which change the watched files too, never look like
 * news. store.h has no such call yet; the SQLite handle is reached through
 * the backend's header, the one place the runner looks inside the store. */
static int data_version(struct tock_store *s, int64_t *out,
                        struct tock_error *err)
{
    struct tock_sqlite *b = tock_sqlite_of(s);
    sqlite3_stmt *st = NULL;
    int rc;

    if (b == NULL)
        return tock_error_set(err, TOCK_EINVAL, "not a SQLite store");
    rc = sqlite3_prepare_v2(b->db, "PRAGMA data_version", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return tock_error_set(err, TOCK_EIO, "reading data_version: %s",
                              sqlite3_errmsg(b->db));
    return 0;
}

static void on_watch(uv_fs_event_t *w, const char *filename, int events,
                     int status)
{
    struct tock_runner *r = w->data;
    size_t len = strlen(r->watch_base);

    (void)events;
    if (status < 0 || r->stopping)
        return;
    /* The database file and its "-wal" (not "-shm": it is written
     * through mmap, which inotify does not see, and says nothing new). */
    if (filename != NULL &&
        (strncmp(filename, r->watch_base, len) != 0 ||
         (filename[len] != '\0' && strcmp(filename + len, "-wal") != 0)))
        return;
    r->want_check = true;
    r->rechecks = 0;
    pump(r);
}

static void on_recheck(uv_timer_t *t)
{
    struct tock_runner *r = t->data;

    r->want_check = true;
    pump(r);
}

/* watch_setup watches the database file's directory: the "-wal" file
 * comes and goes with the connections, inotify on the directory sees it
 * either way. */
static void watch_setup(struct tock_runner *r)
{
    int rc;

    if (r->watch_dir == NULL)
        return;
    rc = uv_fs_event_init(r->loop, &r->watch);
    if (rc == 0) {
        r->watch_inited = true;
        r->watch.data = r;
        r->open_handles++;
        rc = uv_fs_event_start(&r->watch, on_watch, r->watch_dir, 0);
        r->watching = rc == 0;
    }
    if (rc != 0)
        tock_logf(r->log, TOCK_LOG_WARN, LOGC,
                  "cannot watch %s (%s); tasks from other processes are "
                  "picked up every %" PRId64 " ms instead",
                  r->watch_dir, uv_strerror(rc), r->poll_ms);
    else
        r->want_check = true; /* the first reading */
}

/* ------------------------------------------------------------ store calls */

static void op_take(struct tock_runner *r, struct op *op)
{
    op->rc = tock_store_task_take(r->store, (const char *const *)r->queues,
                                  r->nqueues, r->worker_id, op->max,
                                  r->lease_ms, &op->leases, &op->nleases,
                                  &op->err);
}

static void op_report(struct tock_runner *r, struct op *op)
{
    size_t i;

    op->rc = 0;
    for (i = 0; i < op->n; i++) {
        struct held *h = op->items[i];

        h->rrc = tock_store_task_report(r->store, h->task_id, r->worker_id,
                                        h->deliveries, &h->result,
                                        &h->rstatus, &h->rerr);
        if (h->rrc != 0 && transient(h->rrc)) {
            op->rc = h->rrc; /* the store is failing: leave the rest */
            op->err = h->rerr;
            break;
        }
    }
}

static void op_work(uv_work_t *req)
{
    struct op *op = req->data;
    struct tock_runner *r = RUNNER_OF(op);

    switch (op->kind) {
    case OP_TAKE:
        op_take(r, op);
        break;
    case OP_TOUCH:
        op->rc = tock_store_task_touch(r->store, r->worker_id, op->ids,
                                       op->deliv, op->n, r->lease_ms, op->ok,
                                       &op->err);
        break;
    case OP_REPORT:
        op_report(r, op);
        break;
    case OP_RECLAIM:
        op->rc = tock_store_task_reclaim(r->store, TOCK_CLAIM_MAX,
                                         &op->redelivered, &op->dead,
                                         &op->err);
        break;
    case OP_RELEASE:
        op->rc = tock_store_task_release(r->store, r->worker_id, op->ids,
                                         op->n, &op->err);
        break;
    case OP_CHECK:
        op->rc = data_version(r->store, &op->data_version, &op->err);
        break;
    case OP_NONE:
        break;
    }
}

static void op_reset(struct op *op)
{
    tock_task_lease_list_free(op->leases, op->nleases);
    tock_free(op->items);
    tock_free(op->ids);
    tock_free(op->deliv);
    tock_free(op->ok);
    memset(op, 0, sizeof *op);
    op->kind = OP_NONE;
}

/* store_failed backs off after a failed store call. It logs an error
 * once when the store starts failing and at debug level while it goes on
 * failing (a store down for an hour must not fill the disk with the same
 * line every second); store_ok says when it answers again. */
static void store_failed(struct tock_runner *r, const char *what, int rc,
                         const struct tock_error *err)
{
    uint64_t now = uv_now(r->loop);
    bool first = r->down_since == 0;

    r->last_store_rc = rc;
    r->backoff_until = now + TOCK_RUNNER_BACKOFF_MS;
    if (first)
        r->down_since = now;
    tock_logf(r->log, first ? TOCK_LOG_ERROR : TOCK_LOG_DEBUG, LOGC,
              "%s failed: %s; retrying every %d ms", what,
              err != NULL && err->msg[0] ? err->msg : tock_strerror(rc),
              TOCK_RUNNER_BACKOFF_MS);
}

static void store_ok(struct tock_runner *r)
{
    r->backoff_until = 0;
    if (r->down_since == 0)
        return;
    tock_logf(r->log, TOCK_LOG_INFO, LOGC,
              "store answers again after %" PRIu64 " ms",
              uv_now(r->loop) - r->down_since);
    r->down_since = 0;
}

/* ---- after a take */

static void took(struct tock_runner *r, struct op *op)
{
    size_t i;

    if (op->rc != 0) {
        store_failed(r, "taking tasks", op->rc, &op->err);
        r->want_take = true;
        return;
    }
    tock_logf(r->log, TOCK_LOG_DEBUG, LOGC, "took %zu of up to %zu task(s)",
              op->nleases, op->max);
    for (i = 0; i < op->nleases; i++) {
        struct held *h = held_new(r, &op->leases[i]);

        if (h != NULL)
            h->lease_until = op->started + (uint64_t)r->lease_ms;
        if (h == NULL || submit(r, h, &op->leases[i]) != 0) {
            /* Out of memory: leave the task leased; it is handed out again
             * once the lease expires. */
            tock_logf(r->log, TOCK_LOG_ERROR, LOGC,
                      "out of memory taking task %" PRId64 "; it is retried "
                      "after its lease", op->leases[i].task_id);
            if (h != NULL)
                held_free(h);
        }
    }
    /* A full batch may mean more are ready. */
    if (op->nleases == op->max && op->max > 0)
        r->want_take = true;
}

/* ---- after a touch */

static void touched(struct tock_runner *r, struct op *op)
{
    size_t i;

    if (op->rc != 0) {
        store_failed(r, "renewing task leases", op->rc, &op->err);
        return;
    }
    for (i = 0; i < op->n; i++) {
        struct held *h = op->items[i];

        if (op->ok[i]) {
            h->lease_until = op->started + (uint64_t)r->lease_ms;
            continue;
        }
        if (h->fenced)
            continue;
        tock_logf(r->log, TOCK_LOG_WARN, LOGC,
                  "task %" PRId64 " %s is no longer ours (its lease expired "
                  "and it was handed out again); stopping it",
                  h->task_id, h->occ);
        h->fenced = true;
        if (h->state == H_RUNNING)
            cancel(h);
        else
            held_free(h); /* a result nobody may record any more */
    }
}

/* ---- after a report */

static void reported_one(struct tock_runner *r, struct held *h)
{
    struct tock_runner_report rep = {0};
    const struct tock_result *res = &h->result;

    rep.job = h->decoded ? h->task.job : NULL;
    rep.handler = h->decoded ? h->task.handler : NULL;
    rep.sched_ms = h->decoded ? h->task.sched_ms : -1;
    rep.occ = h->occ;
    rep.result = res;
    rep.rc = h->rrc;
    rep.status = h->rstatus;
    if (h->rrc != 0)
        r->stop_status = h->rrc;
    if (h->rrc != 0)
        tock_logf(r->log, TOCK_LOG_ERROR, LOGC,
                  "result of %s not recorded: %s (the task is handed out "
                  "again after its lease)", h->occ, h->rerr.msg);
    else
        tock_logf(r->log,
                  h->rstatus == TOCK_REPORT_OK ? TOCK_LOG_DEBUG : TOCK_LOG_WARN,
                  LOGC, "result of %s (%s) %s", h->occ,
                  tock_status_name(res->status),
                  report_status_name(h->rstatus));
    if (r->on_result != NULL)
        r->on_result(r->ctx, &rep);
    held_free(h);
}

static void reported(struct tock_runner *r, struct op *op)
{
    size_t i;

    for (i = 0; i < op->n; i++) {
        struct held *h = op->items[i];

        if (h->rrc == 0 || (h->rrc < 0 && !transient(h->rrc))) {
            reported_one(r, h);
        } else {
            h->state = H_DONE; /* retried after the back-off */
            h->rrc = 1;
        }
    }
    if (op->rc != 0)
        store_failed(r, "reporting results", op->rc, &op->err);
}

/* ---- after a release */

static void released(struct tock_runner *r, struct op *op)
{
    size_t i;

    if (op->rc != 0 && transient(op->rc)) {
        for (i = 0; i < op->n; i++)
            op->items[i]->state = H_RELEASE;
        store_failed(r, "handing tasks back", op->rc, &op->err);
        return;
    }
    if (op->rc != 0)
        r->stop_status = op->rc;
    if (op->rc != 0)
        tock_logf(r->log, TOCK_LOG_ERROR, LOGC,
                  "handing %zu tasks back failed: %s; they are handed out "
                  "again after their lease", op->n, op->err.msg);
    else
        tock_logf(r->log, TOCK_LOG_INFO, LOGC,
                  "handed %zu unfinished tasks back to the queue", op->n);
    for (i = 0; i < op->n; i++)
        held_free(op->items[i]);
}

static void reclaimed(struct tock_runner *r, struct op *op)
{
    if (op->rc != 0) {
        store_failed(r, "reclaiming expired tasks", op->rc, &op->err);
        return;
    }
    if (op->redelivered > 0 || op->dead > 0)
        tock_logf(r->log, TOCK_LOG_INFO, LOGC,
                  "reclaimed tasks of silent workers: %zu handed out again, "
                  "%zu dead (max_deliveries reached)",
                  op->redelivered, op->dead);
    if (op->redelivered > 0)
        r->want_take = true;
}

static void checked(struct tock_runner *r, struct op *op)
{
    if (op->rc != 0) {
        /* Not fatal: the poll timer still finds the tasks. */
        tock_logf(r->log, TOCK_LOG_WARN, LOGC, "change check failed: %s",
                  op->err.msg);
        r->want_take = true;
        return;
    }
    tock_logf(r->log, TOCK_LOG_DEBUG, LOGC, "change check: data_version %"
              PRId64 " (was %" PRId64 ")", op->data_version, r->data_version);
    if (r->data_version >= 0 && op->data_version != r->data_version) {
        r->want_take = true;
        r->rechecks = TOCK_RUNNER_RECHECKS;
    } else if (r->rechecks < TOCK_RUNNER_RECHECKS && !r->stopping) {
        /* The event comes with the writer's write() to the -wal file; its
         * commit becomes visible a moment later, when it updates the
         * wal-index (-shm, written through mmap: no event). So "no change"
         * right after an event may only mean "not yet": look again
         * shortly, twice. */
        uv_timer_start(&r->recheck_timer, on_recheck,
                       r->rechecks == 0 ? 5 : 25, 0);
        r->rechecks++;
    }
    r->data_version = op->data_version;
}

static void op_done(uv_work_t *req, int status)
{
    struct op *op = req->data;
    struct tock_runner *r = RUNNER_OF(op);
    enum op_kind kind = op->kind;

    (void)status; /* uv_cancel is never called: the work always ran */
    if (op->rc == 0)
        store_ok(r);
    if (!r->freeing) {
        switch (kind) {
        case OP_TAKE: took(r, op); break;
        case OP_TOUCH: touched(r, op); break;
        case OP_REPORT: reported(r, op); break;
        case OP_RECLAIM: reclaimed(r, op); break;
        case OP_RELEASE: released(r, op); break;
        case OP_CHECK: checked(r, op); break;
        case OP_NONE: break;
        }
    }
    op_reset(op);
    if (r->freeing) {
        maybe_free(r);
        return;
    }
    pump(r);
    check_stopped(r);
}

static int op_submit(struct tock_runner *r, enum op_kind kind)
{
    int rc;

    r->op.kind = kind;
    r->op.req.data = &r->op;
    r->op.started = uv_now(r->loop);
    rc = uv_queue_work(r->loop, &r->op.req, op_work, op_done);
    if (rc != 0) {
        size_t i;

        /* Nothing was sent: want it again after the back-off. */
        r->want_take |= kind == OP_TAKE;
        r->want_touch |= kind == OP_TOUCH;
        r->want_check |= kind == OP_CHECK;
        r->want_reclaim |= kind == OP_RECLAIM;
        for (i = 0; i < r->op.n; i++) {
            struct held *h = r->op.items[i];

            if (h->state == H_REPORTING)
                h->state = H_DONE;
            else if (h->state == H_RELEASING)
                h->state = H_RELEASE;
        }
        op_reset(&r->op);
        tock_logf(r->log, TOCK_LOG_ERROR, LOGC,
                  "cannot queue a store call: %s", uv_strerror(rc));
        r->backoff_until = uv_now(r->loop) + TOCK_RUNNER_BACKOFF_MS;
    }
    return rc;
}

/* ---- choosing the next call */

/* collect fills the op's item arrays with every held task in `state`
 * (at most `max`), moving them to `to`. Returns the count, or 0 on OOM. */
static size_t collect(struct tock_runner *r, enum held_state state,
                      enum held_state to, size_t max, bool want_ids)
{
    struct op *op = &r->op;
    struct held *h;
    size_t n = 0;

    for (h = r->held; h != NULL; h = h->next)
        n += h->state == state;
    if (n > max)
        n = max;
    if (n == 0)
        return 0;
    op->items = tock_calloc(n, sizeof *op->items);
    if (want_ids) {
        op->ids = tock_calloc(n, sizeof *op->ids);
        op->deliv = tock_calloc(n, sizeof *op->deliv);
        op->ok = tock_calloc(n, sizeof *op->ok);
    }
    if (op->items == NULL ||
        (want_ids &&
         (op->ids == NULL || op->deliv == NULL || op->ok == NULL))) {
        op_reset(op);
        return 0;
    }
    op->n = 0;
    for (h = r->held; h != NULL && op->n < n; h = h->next) {
        if (h->state != state)
            continue;
        h->state = to;
        if (want_ids) {
            op->ids[op->n] = h->task_id;
            op->deliv[op->n] = h->deliveries;
        }
        op->items[op->n++] = h;
    }
    return op->n;
}

static bool start_touch(struct tock_runner *r)
{
    struct held *h;
    size_t n = 0, i = 0;
    struct op *op = &r->op;

    for (h = r->held; h != NULL; h = h->next)
        n += !h->fenced && (h->state == H_RUNNING || h->state == H_DONE ||
                            h->state == H_RELEASE);
    r->want_touch = false;
    if (n == 0)
        return false;
    op->items = tock_calloc(n, sizeof *op->items);
    op->ids = tock_calloc(n, sizeof *op->ids);
    op->deliv = tock_calloc(n, sizeof *op->deliv);
    op->ok = tock_calloc(n, sizeof *op->ok);
    if (op->items == NULL || op->ids == NULL || op->deliv == NULL ||
        op->ok == NULL) {
        op_reset(op);
        return false;
    }
    for (h = r->held; h != NULL && i < n; h = h->next) {
        if (h->fenced || !(h->state == H_RUNNING || h->state == H_DONE ||
                           h->state == H_RELEASE))
            continue;
        op->ids[i] = h->task_id;
        op->deliv[i] = h->deliveries;
        op->items[i++] = h;
    }
    op->n = i;
    return op_submit(r, OP_TOUCH) == 0;
}

/* pump starts the next store call, if none is in flight. Order: results
 * first (they free slots and make work durable), then leases, hand-backs,
 * new work, and the reclaim of dead workers' tasks. */
static void pump(struct tock_runner *r)
{
    uint64_t now = uv_now(r->loop);

    if (r->op.kind != OP_NONE || r->freeing || !r->started)
        return;
    if (r->backoff_until > now) {
        uv_timer_start(&r->retry_timer, on_retry, r->backoff_until - now, 0);
        return;
    }
    if (collect(r, H_DONE, H_REPORTING, TOCK_RUNNER_REPORT_BATCH, false) > 0) {
        op_submit(r, OP_REPORT);
        return;
    }
    if (r->want_touch && start_touch(r))
        return;
    if (collect(r, H_RELEASE, H_RELEASING, TOCK_CLAIM_MAX, true) > 0) {
        op_submit(r, OP_RELEASE);
        return;
    }
    if (r->want_check && !r->stopping) {
        r->want_check = false;
        op_submit(r, OP_CHECK);
        return;
    }
    if (r->want_take && !r->stopping && free_slots(r) > 0) {
        r->want_take = false;
        r->op.max = free_slots(r);
        op_submit(r, OP_TAKE);
        return;
    }
    if (r->want_reclaim && !r->stopping) {
        r->want_reclaim = false;
        r->last_reclaim = now;
        op_submit(r, OP_RECLAIM);
    }
}

/* ------------------------------------------------------------ timers */

static void on_retry(uv_timer_t *t)
{
    pump(t->data);
}

static void on_poll(uv_timer_t *t)
{
    struct tock_runner *r = t->data;

    if (r->stopping)
        return;
    r->want_take = true;
    if (r->reclaim_ms > 0 &&
        uv_now(r->loop) - r->last_reclaim >= (uint64_t)r->reclaim_ms)
        r->want_reclaim = true;
    pump(r);
}

/* on_touch renews the leases of held tasks, and stops a running task
 * whose lease could not be renewed in time: the store may already have
 * handed it to another worker, and two workers must not run it at once
 * for longer than one touch period. */
static void on_touch(uv_timer_t *t)
{
    struct tock_runner *r = t->data;
    uint64_t now = uv_now(r->loop);
    struct held *h;

    for (h = r->held; h != NULL; h = h->next) {
        if (h->fenced || h->state != H_RUNNING || h->lease_until > now)
            continue;
        tock_logf(r->log, TOCK_LOG_ERROR, LOGC,
                  "task %" PRId64 " %s: lease not renewed for %" PRId64
                  " ms (the store is not answering); stopping it, the store "
                  "hands it out again",
                  h->task_id, h->occ, r->lease_ms);
        h->fenced = true;
        cancel(h);
    }
    if (r->nheld > 0)
        r->want_touch = true;
    pump(r);
}

static void finish_stop(struct tock_runner *r, int status)
{
    r->stop_called = true;
    uv_timer_stop(&r->poll_timer);
    uv_timer_stop(&r->touch_timer);
    uv_timer_stop(&r->retry_timer);
    uv_timer_stop(&r->drain_timer);
    uv_timer_stop(&r->recheck_timer);
    if (r->stop_cb != NULL)
        r->stop_cb(r, status, r->stop_ctx);
}

static void check_stopped(struct tock_runner *r)
{
    if (!r->stopping || r->stop_called || r->freeing)
        return;
    if (r->nheld > 0 || r->op.kind != OP_NONE)
        return;
    finish_stop(r, r->stop_status);
}

/* on_drain runs at the drain deadline (hand back what still runs) and
 * then at the hard deadline (give up on a store that does not answer). */
static void on_drain(uv_timer_t *t)
{
    struct tock_runner *r = t->data;
    uint64_t now = uv_now(r->loop);
    size_t n = 0;
    struct held *h;

    if (r->drain_expired) {
        tock_logf(r->log, TOCK_LOG_ERROR, LOGC,
                  "stopping with %zu tasks unsettled: the store did not "
                  "answer; they are handed out again after their lease",
                  r->nheld);
        finish_stop(r, r->last_store_rc != 0 ? r->last_store_rc
                                             : TOCK_ETIMEDOUT);
        return;
    }
    r->drain_expired = true;
    for (h = r->held; h != NULL; h = h->next) {
        if (h->state != H_RUNNING || h->fenced)
            continue;
        h->handback = true;
        cancel(h);
        n++;
    }
    if (n > 0)
        tock_logf(r->log, TOCK_LOG_WARN, LOGC,
                  "drain deadline: stopping %zu running tasks to hand them "
                  "back", n);
    uv_timer_start(&r->drain_timer, on_drain,
                   r->stop_deadline > now ? r->stop_deadline - now : 0, 0);
    check_stopped(r);
}

/* ------------------------------------------------------------ lifecycle */

static void on_close(uv_handle_t *handle)
{
    struct tock_runner *r = handle->data;

    r->open_handles--;
    maybe_free(r);
}

static void runner_release(struct tock_runner *r)
{
    size_t i;

    for (i = 0; i < r->nqueues; i++)
        tock_free(r->queues[i]);
    tock_free(r->queues);
    tock_free(r->worker_id);
    tock_free(r->watch_dir);
    tock_free(r->watch_base);
    tock_free(r);
}

/* maybe_free frees the runner once nothing refers to it any more: every
 * handle closed, no store call in flight, and no task left in the pool
 * (the pool calls back for each, at the latest when it is freed). */
static void maybe_free(struct tock_runner *r)
{
    struct held *h, *next;

    if (!r->freeing || r->open_handles > 0 || r->op.kind != OP_NONE)
        return;
    for (h = r->held; h != NULL; h = next) {
        next = h->next;
        if (h->state != H_RUNNING)
            held_free(h);
    }
    if (r->held == NULL)
        runner_release(r);
}

static void close_handle(struct tock_runner *r, uv_handle_t *handle)
{
    if (!uv_is_closing(handle))
        uv_close(handle, on_close);
    (void)r;
}

void tock_runner_free(struct tock_runner *r)
{
    struct held *h;

    if (r == NULL || r->freeing)
        return;
    r->freeing = true;
    for (h = r->held; h != NULL; h = h->next)
        if (h->state == H_RUNNING)
            cancel(h);
    close_handle(r, (uv_handle_t *)&r->poll_timer);
    close_handle(r, (uv_handle_t *)&r->touch_timer);
    close_handle(r, (uv_handle_t *)&r->retry_timer);
    close_handle(r, (uv_handle_t *)&r->drain_timer);
    close_handle(r, (uv_handle_t *)&r->recheck_timer);
    if (r->watch_inited)
        close_handle(r, (uv_handle_t *)&r->watch);
}

/* watch_paths derives the watched directory and the base name of
 * `path`. */
static int watch_paths(struct tock_runner *r, const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        r->watch_dir = tock_strdup(".");
        r->watch_base = tock_strdup(path);
    } else {
        r->watch_dir = slash == path
                           ? tock_strdup("/")
                           : tock_strndup(path, (size_t)(slash - path));
        r->watch_base = tock_strdup(slash + 1);
    }
    if (r->watch_dir == NULL || r->watch_base == NULL)
        return TOCK_ENOMEM;
    return 0;
}

static int check_opts(const struct tock_runner_opts *o, struct tock_error *err)
{
    size_t i;
    int rc;

    if (o == NULL || o->worker_id == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "a worker id is required (--worker-id)");
    if ((rc = tock_name_check(o->worker_id, "worker id", err)) != 0)
        return rc;
    if (o->nqueues > TOCK_RUNNER_QUEUES_MAX)
        return tock_error_set(err, TOCK_EINVAL,
                              "%zu queues given; at most %d are served by "
                              "one worker",
                              o->nqueues, TOCK_RUNNER_QUEUES_MAX);
    for (i = 0; i < o->nqueues; i++)
        if ((rc = tock_name_check(o->queues[i], "queue", err)) != 0)
            return rc;
    if (o->lease_ms != 0 && o->lease_ms < TOCK_RUNNER_LEASE_MIN_MS)
        return tock_error_set(err, TOCK_EINVAL,
                              "lease %" PRId64 " ms is too short; give at "
                              "least %d ms (default 30s)",
                              o->lease_ms, TOCK_RUNNER_LEASE_MIN_MS);
    if (o->poll_ms < 0)
        return tock_error_set(err, TOCK_EINVAL, "poll interval is negative");
    if (o->reclaim_ms < -1)
        return tock_error_set(err, TOCK_EINVAL, "reclaim period is negative");
    if (o->watch_path != NULL && o->watch_path[0] == '\0')
        return tock_error_set(err, TOCK_EINVAL, "watch path is empty");
    return 0;
}

static int copy_queues(struct tock_runner *r, const struct tock_runner_opts *o)
{
    static const char *const dflt[] = {TOCK_DEFAULT_QUEUE};
    const char *const *q = o->nqueues > 0 ? o->queues : dflt;
    size_t n = o->nqueues > 0 ? o->nqueues : 1, i;

    r->queues = tock_calloc(n, sizeof *r->queues);
    if (r->queues == NULL)
        return TOCK_ENOMEM;
    for (i = 0; i < n; i++) {
        r->queues[i] = tock_strdup(q[i]);
        if (r->queues[i] == NULL)
            return TOCK_ENOMEM;
        r->nqueues = i + 1;
    }
    return 0;
}

static void init_timers(struct tock_runner *r)
{
    uv_timer_t *timers[] = {&r->poll_timer, &r->touch_timer, &r->retry_timer,
                            &r->drain_timer, &r->recheck_timer};
    size_t i;

    for (i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        uv_timer_init(r->loop, timers[i]); /* cannot fail on Linux */
        timers[i]->data = r;
        r->open_handles++;
    }
}

int tock_runner_new(uv_loop_t *loop, struct tock_store *store,
                    struct tock_pool *pool,
                    const struct tock_handlers *handlers,
                    const struct tock_runner_opts *opts,
                    struct tock_runner **out, struct tock_error *err)
{
    struct tock_runner *r = NULL;
    int rc;

    *out = NULL;
    if (loop == NULL || store == NULL || pool == NULL || handlers == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "runner needs a loop, a store, a pool and "
                              "handlers");
    if ((rc = check_opts(opts, err)) != 0)
        return rc;
    r = tock_calloc(1, sizeof *r);
    if (r == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    r->loop = loop;
    r->store = store;
    r->pool = pool;
    r->handlers = handlers;
    r->log = opts->log;
    r->on_result = opts->on_result;
    r->ctx = opts->ctx;
    r->lease_ms = opts->lease_ms > 0 ? opts->lease_ms
                                     : TOCK_RUNNER_LEASE_DEFAULT_MS;
    r->poll_ms = opts->poll_ms > 0 ? opts->poll_ms
                                   : TOCK_RUNNER_POLL_DEFAULT_MS;
    r->reclaim_ms = r->lease_ms / 4 > r->poll_ms ? r->lease_ms / 4 : r->poll_ms;
    if (opts->reclaim_ms != 0)
        r->reclaim_ms = opts->reclaim_ms;
    r->data_version = -1;
    r->rechecks = TOCK_RUNNER_RECHECKS;
    r->worker_id = tock_strdup(opts->worker_id);
    if (r->worker_id == NULL || copy_queues(r, opts) != 0 ||
        (opts->watch_path != NULL && watch_paths(r, opts->watch_path) != 0)) {
        runner_release(r);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    init_timers(r);
    *out = r;
    return 0;
}

int tock_runner_start(struct tock_runner *r, struct tock_error *err)
{
    if (r->started || r->freeing)
        return tock_error_set(err, TOCK_EINVAL, "runner already started");
    r->started = true;
    watch_setup(r);
    uv_timer_start(&r->poll_timer, on_poll, (uint64_t)r->poll_ms,
                   (uint64_t)r->poll_ms);
    uv_timer_start(&r->touch_timer, on_touch, (uint64_t)r->lease_ms / 3,
                   (uint64_t)r->lease_ms / 3);
    r->want_take = true;
    r->want_reclaim = r->reclaim_ms > 0;
    pump(r);
    return 0;
}

void tock_runner_kick(struct tock_runner *r)
{
    if (r == NULL || !r->started || r->stopping || r->freeing)
        return;
    r->want_take = true;
    pump(r);
}

int tock_runner_stop(struct tock_runner *r, int64_t drain_ms,
                     tock_runner_stop_fn cb, void *ctx)
{
    uint64_t now;

    if (r->stopping || r->freeing)
        return TOCK_EINVAL;
    now = uv_now(r->loop);
    if (drain_ms < 0)
        drain_ms = 0;
    r->stopping = true;
    r->stop_cb = cb;
    r->stop_ctx = ctx;
    r->want_take = r->want_reclaim = false;
    uv_timer_stop(&r->poll_timer);
    if (r->watching)
        uv_fs_event_stop(&r->watch);
    r->stop_deadline = now + (uint64_t)drain_ms + TOCK_RUNNER_STOP_EXTRA_MS;
    /* Even with nothing held, the callback runs from the loop, never from
     * inside this call. */
    uv_timer_start(&r->drain_timer, on_drain,
                   r->nheld > 0 ? (uint64_t)drain_ms : 0, 0);
    return 0;
}

size_t tock_runner_held(const struct tock_runner *r)
{
    return r->nheld;
}
