/* embed_exec.c: the embedded scheduler's executing side: a dispatcher
 * thread that talks to the store and a pool of job threads that call the
 * registered functions.
 *
 * The dispatcher alone uses its store handle. Each round it:
 *   1. reports the results of finished functions (task_report_many: one
 *      transaction for the batch); on a store error it keeps them and
 *      retries with a back-off, so a result is never dropped while the
 *      process lives (at shutdown it gives up after
 *      TOCK_EMBED_STOP_REPORT_MS: those tasks are redelivered after their
 *      lease, to the next start);
 *   2. when stopping, hands back tasks taken but not started
 *      (task_release: ready at once for the next start, the delivery not
 *      counted);
 *   3. renews the leases of the tasks it holds every third of the lease
 *      (task_touch); a task no longer ours (it was handed to another
 *      process after a stall) gets its cancellation flag set;
 *   4. takes up to (free job threads) tasks from its queue (task_take)
 *      when the firing loop kicked it, when the last take was full, or
 *      every poll_ms (retries after their back-off, tasks fired by other
 *      processes on the same store).
 * It sleeps on a condition variable until one of these is due: a kick, a
 * finished function, a stop, the next touch, poll or retry, or the
 * earliest timeout of a running function (to raise its cancellation flag).
 *
 * A job thread takes the oldest READY slot, runs its function, and marks
 * it DONE. A body that does not decode, or names a function that is not
 * registered, becomes an error result without a call: reported like any
 * other, never redelivered in a loop, never a crash.
 *
 * TIMEOUTS. A thread cannot be killed. At the deadline the dispatcher sets
 * the call's flag to TOCK_ETIMEDOUT (tock_call_cancelled); the function
 * runs until it returns, and its run is recorded "timeout" whatever it
 * returned. Rejected: pthread_cancel (a function holding a lock or memory
 * would leave the host program broken) and a separate process per job
 * (that is tock-worker; a C function of the host needs its memory).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/escape.h"
#include "proto/codec.h"
#include "scheduler/embed.h"

#define LOGC "libtock"

/* ------------------------------------------------------------- set-up */

int tock_embed_exec_init(struct tock_scheduler *s, struct tock_error *err)
{
    struct tock_embed_exec *x = &s->exec;

    if (pthread_mutex_init(&x->mu, NULL) != 0)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory (mutex)");
    if (tock_embed_cond_init(&x->coord_cv) != 0 ||
        pthread_cond_init(&x->work_cv, NULL) != 0 ||
        pthread_cond_init(&x->join_cv, NULL) != 0) {
        pthread_mutex_destroy(&x->mu);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory (condition)");
    }
    return 0;
}

static void slot_free(struct tock_embed_slot *sl)
{
    if (sl == NULL)
        return;
    tock_free(sl->lease.queue);
    tock_free(sl->lease.occ);
    tock_free(sl->lease.body);
    tock_task_clear(&sl->task);
    tock_free(sl->call.error);
    tock_free(sl->call.output);
    tock_free(sl->call.args_json);
    tock_free(sl->result.error);
    tock_free(sl); /* result.occ, .worker and .output are borrowed */
}

void tock_embed_exec_destroy(struct tock_scheduler *s)
{
    struct tock_embed_exec *x = &s->exec;

    while (x->slots != NULL) {
        struct tock_embed_slot *sl = x->slots;

        x->slots = sl->next;
        slot_free(sl);
    }
    tock_store_close(x->store);
    tock_free(x->workers);
    pthread_cond_destroy(&x->join_cv);
    pthread_cond_destroy(&x->work_cv);
    pthread_cond_destroy(&x->coord_cv);
    pthread_mutex_destroy(&x->mu);
}

/* ------------------------------------------------------- running a call */

static void fail_text(struct tock_embed_slot *sl, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* fail_text sets the result's error text, escaped to one line. */
static void fail_text(struct tock_embed_slot *sl, const char *fmt, ...)
{
    char raw[TOCK_TEXT_MAX / 2], *text;
    size_t cap = TOCK_TEXT_MAX;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if ((text = tock_malloc(cap)) == NULL)
        return; /* the status still says it failed */
    tock_escape_line(text, cap, raw, strlen(raw));
    tock_free(sl->result.error);
    sl->result.error = text;
}

/* judge turns what the function returned into the result's status. */
static void judge(struct tock_embed_slot *sl, int rc)
{
    struct tock_result *r = &sl->result;
    int64_t ran = r->finished_ms - r->started_ms;
    int64_t limit = sl->task.timeout_ms;
    int cancel = atomic_load(&sl->call.cancel);
    const char *said = sl->call.error;

    r->exit_code = rc >= 0 && rc <= 255 ? rc : -1;
    if (limit > 0 && (cancel == TOCK_ETIMEDOUT || ran > limit)) {
        r->status = TOCK_STATUS_TIMEOUT;
        fail_text(sl, "ran %" PRId64 " ms, past its timeout of %" PRId64
                  " ms (a C function is never interrupted: it ran to the "
                  "end)%s%s", ran, limit, said ? ": " : "", said ? said : "");
    } else if (rc == 0) {
        r->status = TOCK_STATUS_OK;
    } else if (cancel == TOCK_ECANCELED) {
        r->status = TOCK_STATUS_CANCELLED;
        fail_text(sl, "%s", said ? said : "cancelled: the scheduler shut "
                  "down or the task was handed to another process");
    } else {
        r->status = TOCK_STATUS_ERROR;
        if (said != NULL)
            fail_text(sl, "%s", said);
        else
            fail_text(sl, "function %s returned %d", sl->task.handler, rc);
    }
}

static void run_slot(struct tock_scheduler *s, struct tock_embed_slot *sl)
{
    struct tock_result *r = &sl->result;
    tock_job_fn fn;
    void *data;
    int rc;

    r->occ = sl->lease.occ;
    r->worker = s->node;
    r->attempt = sl->decode_rc == 0 ? sl->task.attempt : sl->lease.attempt;
    r->exit_code = -1;
    r->status = TOCK_STATUS_ERROR;
    r->started_ms = tock_embed_wall_ms();
    if (sl->decode_rc != 0) {
        fail_text(sl, "%s", sl->decode_err.msg);
    } else if (!tock_embed_lookup(s, sl->task.handler, &fn, &data)) {
        fail_text(sl, "function %s is not registered in this program "
                  "(scheduler %s); register it with tock_scheduler_register, "
                  "or point job %s at a registered one",
                  sl->task.handler, s->node, sl->task.job);
    } else {
        sl->call.sched = s;
        sl->call.task = &sl->task;
        rc = fn(&sl->call, data);
        r->finished_ms = tock_embed_wall_ms();
        judge(sl, rc);
        r->output = (uint8_t *)sl->call.output;
        r->output_len = sl->call.output_len;
    }
    if (r->finished_ms < r->started_ms)
        r->finished_ms = tock_embed_wall_ms();
    if (r->finished_ms < r->started_ms) /* the clock stepped back */
        r->finished_ms = r->started_ms;
}

/* ---------------------------------------------------------- job threads */

static struct tock_embed_slot *first_ready(struct tock_embed_exec *x)
{
    struct tock_embed_slot *sl, *found = NULL;

    /* Slots are pushed at the head: the last READY one is the oldest. */
    for (sl = x->slots; sl != NULL; sl = sl->next)
        if (sl->state == TOCK_SLOT_READY)
            found = sl;
    return found;
}

static void *job_thread(void *arg)
{
    struct tock_scheduler *s = arg;
    struct tock_embed_exec *x = &s->exec;
    struct tock_embed_slot *sl;

    pthread_mutex_lock(&x->mu); /* start holds it until workers[] is set */
    for (;;) {
        if ((sl = first_ready(x)) == NULL) {
            if (x->workers_exit)
                break;
            pthread_cond_wait(&x->work_cv, &x->mu);
            continue;
        }
        sl->state = TOCK_SLOT_RUNNING;
        x->n_ready--;
        x->n_running++;
        if (sl->decode_rc == 0 && sl->task.timeout_ms > 0) {
            sl->deadline_mono =
                tock_embed_mono_ms() + (uint64_t)sl->task.timeout_ms;
            pthread_cond_signal(&x->coord_cv); /* a new deadline to watch */
        }
        pthread_mutex_unlock(&x->mu);
        run_slot(s, sl);
        pthread_mutex_lock(&x->mu);
        sl->state = TOCK_SLOT_DONE;
        x->n_running--;
        x->n_done++;
        pthread_cond_signal(&x->coord_cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

/* ----------------------------------------------------------- dispatcher */

/* tock_embed_round: what one dispatcher round does outside the lock. */
struct round {
    struct tock_embed_slot *done;     /* detached, to report */
    struct tock_embed_slot *back;     /* detached READY slots, to release */
    struct tock_embed_slot **touch;   /* held slots to renew (n_touch) */
    int64_t *ids;
    int32_t *dlv;
    bool *ok;
    int64_t *rel;                     /* ids of `back` */
    size_t n_touch, take;
    struct tock_embed_slot *taken;    /* new slots from the take */
    bool took_full, take_failed;
};

/* coord: the dispatcher's own state (its thread only, no lock needed). */
struct coord {
    struct tock_embed_slot *pending;  /* results not yet recorded */
    uint64_t next_poll, next_touch, retry_at, down_since;
    int64_t backoff_ms;
    bool more, stop_seen, nowait_seen, store_down;
};

static size_t capacity(const struct tock_embed_exec *x)
{
    size_t busy = x->n_ready + x->n_running;

    return busy < x->n_workers ? x->n_workers - busy : 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* next_duty returns when the dispatcher must look next (monotonic ms). */
static uint64_t next_duty(const struct tock_embed_exec *x,
                          const struct coord *c)
{
    const struct tock_embed_slot *sl;
    uint64_t at = UINT64_MAX;

    if (!x->stopping && capacity(x) > 0)
        at = min_u64(at, x->kick || c->more ? c->retry_at : c->next_poll);
    if (x->n_ready + x->n_running > 0)
        at = min_u64(at, c->next_touch);
    if (c->pending != NULL)
        at = min_u64(at, c->retry_at);
    for (sl = x->slots; sl != NULL; sl = sl->next)
        if (sl->state == TOCK_SLOT_RUNNING && sl->deadline_mono != 0)
            at = min_u64(at, sl->deadline_mono);
    return at;
}

static bool finished(const struct tock_embed_exec *x, const struct coord *c)
{
    return x->stopping && c->stop_seen && x->slots == NULL &&
           c->pending == NULL;
}

static bool work_now(const struct tock_embed_exec *x, const struct coord *c,
                     uint64_t now)
{
    if (x->n_done > 0 || finished(x, c))
        return true;
    if (x->stopping && (!c->stop_seen || x->n_ready > 0 ||
                        (x->nowait && !c->nowait_seen)))
        return true;
    if (!x->stopping && (x->kick || c->more) && capacity(x) > 0 &&
        now >= c->retry_at)
        return true; /* after a failed take, not before its back-off */
    return next_duty(x, c) <= now;
}

/* flag_running sets the cancellation flag of running calls: `all` at a
 * NOWAIT stop, else those past their deadline or whose lease was lost. */
static void flag_running(struct tock_embed_exec *x, uint64_t now, bool all)
{
    struct tock_embed_slot *sl;

    for (sl = x->slots; sl != NULL; sl = sl->next) {
        int want = 0, none = 0;

        if (sl->state != TOCK_SLOT_RUNNING)
            continue;
        if (sl->deadline_mono != 0 && sl->deadline_mono <= now) {
            want = TOCK_ETIMEDOUT;
            sl->deadline_mono = 0;
        } else if (all || sl->lease_lost) {
            want = TOCK_ECANCELED;
        }
        if (want != 0)
            atomic_compare_exchange_strong(&sl->call.cancel, &none, want);
    }
}

/* detach moves every slot in `state` from the shared list to *to. */
static void detach(struct tock_embed_exec *x, enum tock_embed_slot_state state,
                   struct tock_embed_slot **to)
{
    struct tock_embed_slot **pp = &x->slots;

    while (*pp != NULL) {
        struct tock_embed_slot *sl = *pp;

        if (sl->state != state) {
            pp = &sl->next;
            continue;
        }
        *pp = sl->next;
        sl->next = *to;
        *to = sl;
    }
}

static void plan_touch(struct tock_scheduler *s, struct coord *c,
                       struct round *r, uint64_t now)
{
    struct tock_embed_exec *x = &s->exec;
    struct tock_embed_slot *sl;

    if (now < c->next_touch || x->n_ready + x->n_running == 0)
        return;
    c->next_touch = now + (uint64_t)s->task_lease_ms / 3;
    for (sl = x->slots; sl != NULL && r->n_touch < x->n_workers;
         sl = sl->next) {
        if (sl->state == TOCK_SLOT_DONE)
            continue;
        r->touch[r->n_touch] = sl;
        r->ids[r->n_touch] = sl->lease.task_id;
        r->dlv[r->n_touch] = sl->lease.deliveries;
        r->n_touch++;
    }
}

/* plan decides the round (under the lock). */
static void plan(struct tock_scheduler *s, struct coord *c, struct round *r,
                 uint64_t now)
{
    struct tock_embed_exec *x = &s->exec;

    if (x->stopping && !c->stop_seen)
        c->stop_seen = true;
    if (x->nowait && !c->nowait_seen) {
        c->nowait_seen = true;
        flag_running(x, now, true);
    }
    flag_running(x, now, false);
    detach(x, TOCK_SLOT_DONE, &r->done);
    x->n_done = 0;
    if (x->stopping) {
        detach(x, TOCK_SLOT_READY, &r->back);
        x->n_ready = 0;
    }
    plan_touch(s, c, r, now);
    if (!x->stopping && capacity(x) > 0 && now >= c->retry_at &&
        (x->kick || c->more || now >= c->next_poll)) {
        r->take = capacity(x);
        x->kick = false;
        c->more = false;
        c->next_poll = now + (uint64_t)s->poll_ms;
    }
}

/* ------------------------------------------------------ the store calls */

static void store_failed(struct tock_scheduler *s, struct coord *c,
                         const char *what, const struct tock_error *err)
{
    uint64_t now = tock_embed_mono_ms();

    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : TOCK_EMBED_BACKOFF_MS;
    if (c->backoff_ms > TOCK_EMBED_BACKOFF_MAX_MS)
        c->backoff_ms = TOCK_EMBED_BACKOFF_MAX_MS;
    c->retry_at = now + (uint64_t)c->backoff_ms;
    if (!c->store_down)
        c->down_since = now;
    pthread_mutex_lock(&s->exec.mu);
    s->exec.stats.store_errors++;
    pthread_mutex_unlock(&s->exec.mu);
    if (!c->store_down)
        tock_logf(s->log, TOCK_LOG_WARN, LOGC,
                  "dispatcher: %s failed: %s; retrying (every %d ms at most)",
                  what, err->msg, TOCK_EMBED_BACKOFF_MAX_MS);
    c->store_down = true;
}

static void store_ok(struct tock_scheduler *s, struct coord *c)
{
    if (c->store_down)
        tock_logf(s->log, TOCK_LOG_INFO, LOGC, "dispatcher: store answers "
                  "again");
    c->store_down = false;
    c->backoff_ms = 0;
}

/* announce tells the listener and the counters how a run ended. */
static void announce(struct tock_scheduler *s, const struct tock_embed_slot *sl)
{
    const struct tock_result *r = &sl->result;
    bool ok = r->status == TOCK_STATUS_OK;
    struct tock_sched_event ev;
    char job[TOCK_ID_MAX + 1] = "";
    int64_t sched = -1;

    pthread_mutex_lock(&s->exec.mu);
    if (ok)
        s->exec.stats.succeeded++;
    else
        s->exec.stats.failed++;
    pthread_mutex_unlock(&s->exec.mu);
    tock_occ_parse(sl->lease.occ, job, &sched, NULL);
    tock_logf(s->log, ok ? TOCK_LOG_INFO : TOCK_LOG_WARN, LOGC,
              "%s %s (%s%s%s)", ok ? "succeeded" : "failed", sl->lease.occ,
              tock_status_name(r->status), r->error ? ": " : "",
              r->error ? r->error : "");
    memset(&ev, 0, sizeof ev);
    ev.type = ok ? TOCK_SCHED_SUCCEEDED : TOCK_SCHED_FAILED;
    ev.job = job;
    ev.occurrence = sl->lease.occ;
    ev.scheduled_ms = sched;
    ev.time_ms = r->finished_ms;
    ev.count = 1;
    ev.status = tock_status_name(r->status);
    ev.reason = ok ? NULL : (r->error ? r->error : ev.status);
    ev.attempt = r->attempt;
    ev.duration_ms = r->finished_ms - r->started_ms;
    tock_embed_events_push(s, &ev, 0, 0);
}

/* report_some records up to TOCK_CLAIM_MAX pending results; true when the
 * store took them (whatever it said about each: stale or late results are
 * not ours to retry). */
static bool report_some(struct tock_scheduler *s, struct coord *c)
{
    struct tock_report reps[64];
    enum tock_report_status st[64];
    struct tock_embed_slot *sl, *batch = c->pending, **tail = &c->pending;
    struct tock_error err = {0};
    size_t n = 0;

    for (sl = c->pending; sl != NULL && n < 64; sl = sl->next, n++) {
        reps[n].task_id = sl->lease.task_id;
        reps[n].deliveries = sl->lease.deliveries;
        reps[n].result = &sl->result;
        tail = &sl->next;
    }
    if (tock_store_task_report_many(s->exec.store, s->node, reps, n, st,
                                    &err) != 0) {
        store_failed(s, c, "recording results", &err);
        return false;
    }
    store_ok(s, c);
    c->pending = *tail;
    *tail = NULL;
    for (n = 0; batch != NULL; n++) {
        sl = batch;
        batch = sl->next;
        if (st[n] == TOCK_REPORT_STALE)
            tock_logf(s->log, TOCK_LOG_WARN, LOGC, "result of %s refused: "
                      "the task was handed to another process after its "
                      "lease ran out", sl->lease.occ);
        announce(s, sl);
        slot_free(sl);
    }
    return true;
}

static void give_up(struct tock_scheduler *s, struct coord *c)
{
    size_t n = 0;

    while (c->pending != NULL) {
        struct tock_embed_slot *sl = c->pending;

        c->pending = sl->next;
        announce(s, sl);
        slot_free(sl);
        n++;
    }
    tock_logf(s->log, TOCK_LOG_ERROR, LOGC,
              "dispatcher: gave up recording %zu result%s at shutdown (the "
              "store does not answer); those tasks run again after their "
              "lease", n, n == 1 ? "" : "s");
}

/* hopeless: stopping, and the store has not answered for long enough. */
static bool hopeless(const struct coord *c)
{
    return c->stop_seen && c->store_down &&
           tock_embed_mono_ms() - c->down_since >= TOCK_EMBED_STOP_REPORT_MS;
}

static void report_all(struct tock_scheduler *s, struct coord *c,
                       struct round *r)
{
    struct tock_embed_slot **tail = &c->pending;

    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = r->done; /* oldest results first */
    r->done = NULL;
    if (c->pending != NULL && tock_embed_mono_ms() >= c->retry_at)
        while (c->pending != NULL && report_some(s, c))
            ;
    if (c->pending != NULL && hopeless(c))
        give_up(s, c);
}

static void release_back(struct tock_scheduler *s, struct round *r)
{
    struct tock_embed_slot *sl;
    struct tock_error err = {0};
    size_t n = 0;

    for (sl = r->back; sl != NULL; sl = sl->next)
        r->rel[n++] = sl->lease.task_id;
    if (n > 0 &&
        tock_store_task_release(s->exec.store, s->node, r->rel, n, &err) != 0)
        tock_logf(s->log, TOCK_LOG_WARN, LOGC,
                  "dispatcher: could not hand back %zu task%s at shutdown "
                  "(%s); they run again after their lease", n,
                  n == 1 ? "" : "s", err.msg);
    while (r->back != NULL) {
        sl = r->back;
        r->back = sl->next;
        slot_free(sl);
    }
}

static void touch(struct tock_scheduler *s, struct coord *c, struct round *r)
{
    struct tock_error err = {0};
    size_t i;

    if (r->n_touch == 0)
        return;
    if (tock_store_task_touch(s->exec.store, s->node, r->ids, r->dlv,
                              r->n_touch, s->task_lease_ms, r->ok,
                              &err) != 0) {
        store_failed(s, c, "renewing task leases", &err);
        r->n_touch = 0; /* nothing learnt; the next touch tries again */
        return;
    }
    for (i = 0; i < r->n_touch; i++)
        if (!r->ok[i])
            tock_logf(s->log, TOCK_LOG_WARN, LOGC, "task %s is no longer "
                      "ours (its lease ran out and another process took "
                      "it); its function is told to cancel",
                      r->touch[i]->lease.occ);
}

/* new_slot wraps one taken task; its body is decoded here, so a job thread
 * gets either a task or the message saying why there is none. */
static struct tock_embed_slot *new_slot(struct tock_task_lease *lease)
{
    struct tock_embed_slot *sl = tock_calloc(1, sizeof *sl);

    if (sl == NULL)
        return NULL;
    sl->lease = *lease;
    memset(lease, 0, sizeof *lease);
    sl->decode_rc = tock_proto_decode_task(sl->lease.body, sl->lease.body_len,
                                           NULL, &sl->task, &sl->decode_err);
    atomic_init(&sl->call.cancel, 0);
    return sl;
}

static void take(struct tock_scheduler *s, struct coord *c, struct round *r)
{
    const char *queues[1] = {s->queue};
    struct tock_task_lease *list = NULL;
    struct tock_error err = {0};
    size_t n = 0, i;

    if (r->take == 0)
        return;
    if (tock_store_task_take(s->exec.store, queues, 1, s->node, r->take,
                             s->task_lease_ms, &list, &n, &err) != 0) {
        store_failed(s, c, "taking tasks", &err);
        r->take_failed = true;
        return;
    }
    store_ok(s, c);
    r->took_full = n == r->take;
    for (i = 0; i < n; i++) {
        struct tock_embed_slot *sl = new_slot(&list[i]);

        if (sl == NULL) { /* its lease lapses: redelivered later */
            tock_logf(s->log, TOCK_LOG_ERROR, LOGC, "out of memory holding "
                      "task %s; it runs again after its lease", list[i].occ);
            continue;
        }
        sl->next = r->taken;
        r->taken = sl;
    }
    tock_task_lease_list_free(list, n);
}

/* apply brings the round's outcome back into the shared state (locked). */
static void apply(struct tock_scheduler *s, struct coord *c, struct round *r)
{
    struct tock_embed_exec *x = &s->exec;
    size_t i;

    for (i = 0; i < r->n_touch; i++)
        if (!r->ok[i])
            r->touch[i]->lease_lost = true;
    if (r->n_touch > 0)
        flag_running(x, tock_embed_mono_ms(), false);
    if (r->taken != NULL && c->next_touch <= tock_embed_mono_ms())
        c->next_touch = tock_embed_mono_ms() + (uint64_t)s->task_lease_ms / 3;
    while (r->taken != NULL) {
        struct tock_embed_slot *sl = r->taken;

        r->taken = sl->next;
        sl->next = x->slots;
        x->slots = sl;
        x->n_ready++;
        pthread_cond_signal(&x->work_cv);
    }
    c->more = r->took_full;
    if (r->take_failed)
        x->kick = true; /* take again after the back-off */
}

static void round_trip(struct tock_scheduler *s, struct coord *c,
                       struct round *r)
{
    report_all(s, c, r);
    release_back(s, r);
    touch(s, c, r);
    take(s, c, r);
}

/* round_alloc sizes the round's arrays for every slot the dispatcher can
 * hold (at most one per job thread). */
static int round_alloc(struct round *r, size_t n_workers)
{
    size_t cap = n_workers > 64 ? n_workers : 64;

    memset(r, 0, sizeof *r);
    r->touch = tock_calloc(cap, sizeof *r->touch);
    r->ids = tock_calloc(cap, sizeof *r->ids);
    r->dlv = tock_calloc(cap, sizeof *r->dlv);
    r->ok = tock_calloc(cap, sizeof *r->ok);
    r->rel = tock_calloc(cap, sizeof *r->rel);
    if (!r->touch || !r->ids || !r->dlv || !r->ok || !r->rel)
        return TOCK_ENOMEM;
    return 0;
}

static void round_free(struct round *r)
{
    tock_free(r->touch);
    tock_free(r->ids);
    tock_free(r->dlv);
    tock_free(r->ok);
    tock_free(r->rel);
}

static void *dispatcher(void *arg)
{
    struct tock_scheduler *s = arg;
    struct tock_embed_exec *x = &s->exec;
    struct coord c;
    struct round r;
    int rc = round_alloc(&r, x->n_workers);

    memset(&c, 0, sizeof c);
    pthread_mutex_lock(&x->mu);
    if (rc != 0) {
        /* No memory for the round: nothing can be taken or reported. Wait
         * for a stop rather than spin; nothing was taken yet. */
        tock_logf(s->log, TOCK_LOG_ERROR, LOGC, "dispatcher: out of memory");
        while (!x->stopping)
            pthread_cond_wait(&x->coord_cv, &x->mu);
        goto out;
    }
    for (;;) {
        uint64_t now = tock_embed_mono_ms();

        while (!work_now(x, &c, now)) {
            tock_embed_cond_wait_until(&x->coord_cv, &x->mu,
                                       next_duty(x, &c));
            now = tock_embed_mono_ms();
        }
        if (finished(x, &c))
            break;
        r.n_touch = r.take = 0;
        r.took_full = r.take_failed = false;
        plan(s, &c, &r, now);
        pthread_mutex_unlock(&x->mu);
        round_trip(s, &c, &r);
        pthread_mutex_lock(&x->mu);
        apply(s, &c, &r);
    }
out:
    x->workers_exit = true;
    pthread_cond_broadcast(&x->work_cv);
    pthread_mutex_unlock(&x->mu);
    round_free(&r);
    return NULL;
}

/* ----------------------------------------------------------- lifecycle */

int tock_embed_exec_start(struct tock_scheduler *s, struct tock_error *err)
{
    struct tock_embed_exec *x = &s->exec;
    int rc;
    size_t i;

    if ((rc = tock_store_open_tuned(s->url, &s->tuning, s->log, &x->store,
                                    err)) != 0)
        return rc;
    tock_embed_gate_install(s->gate, x->store, true);
    if ((x->workers = tock_calloc(s->threads, sizeof *x->workers)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    pthread_mutex_lock(&x->mu); /* the threads wait until all are listed */
    for (i = 0; i < s->threads; i++) {
        if (pthread_create(&x->workers[i], NULL, job_thread, s) != 0)
            break;
        x->n_workers++;
    }
    if (i == s->threads && pthread_create(&x->coord, NULL, dispatcher, s) == 0)
        x->started = true;
    else
        x->workers_exit = true;
    pthread_mutex_unlock(&x->mu);
    if (x->started)
        return 0;
    pthread_cond_broadcast(&x->work_cv);
    for (i = 0; i < x->n_workers; i++)
        pthread_join(x->workers[i], NULL);
    x->n_workers = 0;
    return tock_error_set(err, TOCK_ENOMEM, "cannot create the scheduler's "
                          "threads (out of memory or thread limit)");
}

void tock_embed_exec_kick(struct tock_scheduler *s)
{
    pthread_mutex_lock(&s->exec.mu);
    s->exec.kick = true;
    pthread_cond_signal(&s->exec.coord_cv);
    pthread_mutex_unlock(&s->exec.mu);
}

void tock_embed_exec_stop(struct tock_scheduler *s, bool nowait)
{
    pthread_mutex_lock(&s->exec.mu);
    s->exec.stopping = true;
    s->exec.nowait = s->exec.nowait || nowait;
    pthread_cond_signal(&s->exec.coord_cv);
    pthread_mutex_unlock(&s->exec.mu);
}

void tock_embed_exec_join(struct tock_scheduler *s)
{
    struct tock_embed_exec *x = &s->exec;
    size_t i;

    pthread_mutex_lock(&x->mu);
    if (!x->started || x->joined) {
        pthread_mutex_unlock(&x->mu);
        return;
    }
    if (x->joining) {
        while (!x->joined)
            pthread_cond_wait(&x->join_cv, &x->mu);
        pthread_mutex_unlock(&x->mu);
        return;
    }
    x->joining = true;
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->coord, NULL);
    for (i = 0; i < x->n_workers; i++)
        pthread_join(x->workers[i], NULL);
    pthread_mutex_lock(&x->mu);
    x->joined = true;
    pthread_cond_broadcast(&x->join_cv);
    pthread_mutex_unlock(&x->mu);
}

void tock_embed_exec_count(struct tock_scheduler *s, uint64_t fired,
                           uint64_t missed, uint64_t skipped)
{
    pthread_mutex_lock(&s->exec.mu);
    s->exec.stats.fired += fired;
    s->exec.stats.missed += missed;
    s->exec.stats.skipped += skipped;
    pthread_mutex_unlock(&s->exec.mu);
}
