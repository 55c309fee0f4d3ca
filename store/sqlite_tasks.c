/* sqlite_tasks.c: at-least-once execution on SQLite: the task queue, its
 * leases, results, retries and redelivery.
 *
 * A task row is one delivery unit of one attempt of one occurrence. It is
 * 'ready' (waiting, from available_at_ms on) or 'leased' (held by
 * `consumer` until lease_until_ms, handed out `deliveries` times). A
 * dispatched occurrence has exactly one task row until its final result,
 * so a job's `running` is the number of its task rows (which is what
 * reclaim repairs it to).
 *
 * ON take(queues, consumer, max, lease): queues in the order given; in
 *   each, ready tasks available by now, oldest first. A task whose next
 *   delivery would exceed max_deliveries is recorded dead instead. Each
 *   other one: leased to consumer, deliveries+1, run status "running".
 * ON touch(consumer, ids, deliveries): each lease still held by consumer
 *   with that delivery count is extended; the others report false (their
 *   holder must stop: the task is someone else's now).
 * ON report(task, consumer, deliveries, result), checks before writes:
 *   1. The task is leased by consumer with deliveries: go on to 3.
 *   2. Otherwise: DUP_OK if the occurrence's last accepted report was this
 *      same (task, consumer, deliveries); LATE (event only) if the
 *      occurrence already has a final result; STALE (nothing written)
 *      otherwise.
 *   3. Delete the task. An error or timeout with retries left schedules
 *      attempt+1 as a new ready task after a back-off with jitter (the run
 *      stays "dispatched", with the failed attempt's details). Anything
 *      else is final: the run gets the result, running-1, last_status.
 *   4. Events; the job's old finished runs trimmed.
 * ON reclaim(limit): leases that expired by now (their worker died or went
 *   silent): back to ready with the delivery counted, or dead when
 *   max_deliveries deliveries are used up. Then running is repaired.
 * ON release(consumer, ids): leases handed back unfinished (SIGTERM): ready
 *   at once, the delivery not counted.
 *
 * Step 1/2: because "state decides whether": a worker whose lease expired
 *   but that nobody reclaimed may still report; one whose task went to
 *   another consumer may not.
 */
#include "store/sqlite.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/codec.h"

/* ---------------------------------------------------------------- rows */

int tock_sqlite_task_insert(struct tock_sqlite *b,
                            const struct tock_sqlite_task_new *t, int64_t *id,
                            struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_TASK_INSERT, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, t->queue, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 2, t->occ, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 3, t->job, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 4, t->attempt, err)) < 0 ||
        (rc = tock_sqlite_bind_blob(b, st, 5, t->body, t->body_len, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 6, t->max_deliveries, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 7, t->retries, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 8, t->retry_backoff_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 9, t->available_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 10, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0)
        return rc;
    *id = sqlite3_last_insert_rowid(b->db);
    return 0;
}

/* task_row: a task as take, report and reclaim read it. */
struct task_row {
    int64_t id;
    char occ[TOCK_OCC_MAX];
    char job[TOCK_ID_MAX + 1];
    char queue[TOCK_ID_MAX + 1];
    char consumer[TOCK_ID_MAX + 1];
    bool leased;
    int32_t attempt, deliveries, max_deliveries, retries;
    int64_t retry_backoff_ms;
    uint8_t *body; /* owned */
    size_t body_len;
};

static int delete_task(struct tock_sqlite *b, int64_t id,
                       struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_TASK_DELETE, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 1, id, err)) < 0)
        return rc;
    return tock_sqlite_run(b, st, err);
}

/* job_finished: running-1 and last_status (a removed job: no-op). */
static int job_finished(struct tock_sqlite *b, const char *job,
                        const char *status, struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_FINISHED, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, job, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, 1, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 3, status, err)) < 0)
        return rc;
    return tock_sqlite_run(b, st, err);
}

/* mark_dead records task `t` dead: its deliveries are used up. */
static int mark_dead(struct tock_sqlite *b, const struct task_row *t,
                     struct tock_error *err)
{
    char text[128];
    sqlite3_stmt *st;
    int rc;

    snprintf(text, sizeof text,
             "delivered %d time(s) without a result (max_deliveries %d)",
             (int)t->deliveries, (int)t->max_deliveries);
    if ((rc = delete_task(b, t->id, err)) < 0 ||
        (rc = tock_sqlite_stmt(b, TOCK_SQ_RUN_DEAD, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, t->occ, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 3, text, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0 ||
        (rc = job_finished(b, t->job, "dead", err)) < 0 ||
        (rc = tock_sqlite_event(b, TOCK_EVENT_DEAD, t->job, t->occ,
                                t->consumer[0] ? t->consumer : NULL, text,
                                err)) < 0)
        return rc;
    return tock_sqlite_runs_trim(b, t->job, err);
}

/* run_status moves a run that is not final to `status` ("running" with
 * worker, attempt and start time; "dispatched" with NULLs keeping them). */
static int run_status(struct tock_sqlite *b, const char *occ,
                      const char *status, const char *worker, int32_t attempt,
                      struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_RUN_STATUS, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, occ, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 2, status, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 3, worker, err)) < 0)
        return rc;
    if (worker != NULL &&
        ((rc = tock_sqlite_bind_i64(b, st, 4, attempt, err)) < 0 ||
         (rc = tock_sqlite_bind_i64(b, st, 5, b->now_ms, err)) < 0))
        return rc;
    return tock_sqlite_run(b, st, err);
}

/* ---------------------------------------------------------------- take */

/* read_ready reads up to `max` ready tasks of `queue` into rows[]. */
static int read_ready(struct tock_sqlite *b, const char *queue, size_t max,
                      struct task_row *rows, size_t *n, struct tock_error *err)
{
    sqlite3_stmt *st;
    bool row = true;
    int rc;

    *n = 0;
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_TASK_READY, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, queue, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 3, (int64_t)max, err)) < 0)
        return rc;
    while (*n < max && (rc = tock_sqlite_step(b, st, &row, err)) == 0 && row) {
        struct task_row *t = &rows[*n];
        memset(t, 0, sizeof *t);
        t->id = sqlite3_column_int64(st, 0);
        tock_sqlite_col_copy(st, 1, t->occ, sizeof t->occ);
        tock_sqlite_col_copy(st, 2, t->job, sizeof t->job);
        snprintf(t->queue, sizeof t->queue, "%s", queue);
        t->attempt = sqlite3_column_int(st, 3);
        t->deliveries = sqlite3_column_int(st, 4);
        t->max_deliveries = sqlite3_column_int(st, 5);
        (*n)++;
        rc = tock_sqlite_col_blob(st, 6, &t->body, &t->body_len, err);
        if (rc < 0)
            break;
    }
    sqlite3_reset(st);
    return rc;
}

/* lease_one hands task `t` to consumer, filling the lease *l (which then
 * owns t's body). */
static int lease_one(struct tock_sqlite *b, struct task_row *t,
                     const char *consumer, int64_t lease_ms,
                     struct tock_task_lease *l, struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_TASK_LEASE, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 1, t->id, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 2, consumer, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 3, b->now_ms + lease_ms, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0 ||
        (rc = run_status(b, t->occ, "running", consumer, t->attempt, err)) < 0)
        return rc;
    l->task_id = t->id;
    l->queue = tock_strdup(t->queue);
    l->occ = tock_strdup(t->occ);
    l->attempt = t->attempt;
    l->deliveries = t->deliveries + 1;
    l->body = t->body;
    l->body_len = t->body_len;
    t->body = NULL;
    if (l->queue == NULL || l->occ == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    return 0;
}

/* take_queue hands out up to `max` - *n tasks of one queue. */
static int take_queue(struct tock_sqlite *b, const char *queue,
                      const char *consumer, size_t max, int64_t lease_ms,
                      struct tock_task_lease *out, size_t *n,
                      struct task_row *rows, struct tock_error *err)
{
    size_t got = 0, i;
    int rc = read_ready(b, queue, max - *n, rows, &got, err);

    for (i = 0; rc == 0 && i < got; i++) {
        if (rows[i].deliveries + 1 > rows[i].max_deliveries)
            rc = mark_dead(b, &rows[i], err);
        else
            rc = lease_one(b, &rows[i], consumer, lease_ms, &out[(*n)++], err);
    }
    for (i = 0; i < got; i++)
        tock_free(rows[i].body);
    return rc;
}

int tock_sqlite_task_take(struct tock_store *s, const char *const *queues,
                          size_t nqueues, const char *consumer, size_t max,
                          int64_t lease_ms, struct tock_task_lease **out,
                          size_t *n, struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    struct tock_task_lease *list = tock_calloc(max, sizeof *list);
    struct task_row *rows = tock_calloc(max, sizeof *rows);
    size_t count = 0;
    int rc = 0;

    if (list == NULL || rows == NULL)
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
    if (rc == 0)
        rc = tock_sqlite_begin(b, err);
    for (size_t q = 0; rc == 0 && q < nqueues && count < max; q++)
        rc = take_queue(b, queues[q], consumer, max, lease_ms, list, &count,
                        rows, err);
    if (list != NULL && rows != NULL)
        rc = tock_sqlite_end(b, rc, err);
    tock_free(rows);
    if (rc < 0) {
        tock_task_lease_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

/* --------------------------------------------------------------- touch */

int tock_sqlite_task_touch(struct tock_store *s, const char *consumer,
                           const int64_t *ids, const int32_t *deliveries,
                           size_t n, int64_t lease_ms, bool *ok,
                           struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    sqlite3_stmt *st;
    int rc = tock_sqlite_begin(b, err);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = tock_sqlite_stmt(b, TOCK_SQ_TASK_TOUCH, &st, err)) == 0 &&
            (rc = tock_sqlite_bind_i64(b, st, 1, ids[i], err)) == 0 &&
            (rc = tock_sqlite_bind_text(b, st, 2, consumer, err)) == 0 &&
            (rc = tock_sqlite_bind_i64(b, st, 3, deliveries[i], err)) == 0 &&
            (rc = tock_sqlite_bind_i64(b, st, 4, b->now_ms + lease_ms, err)) ==
                0 &&
            (rc = tock_sqlite_run(b, st, err)) == 0)
            ok[i] = sqlite3_changes(b->db) == 1;
    }
    return tock_sqlite_end(b, rc, err);
}

/* -------------------------------------------------------------- report */

static int load_task(struct tock_sqlite *b, int64_t id, struct task_row *t,
                     bool *found, struct tock_error *err)
{
    char state[16];
    sqlite3_stmt *st;
    int rc;

    memset(t, 0, sizeof *t);
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_TASK_GET, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 1, id, err)) < 0 ||
        (rc = tock_sqlite_step(b, st, found, err)) < 0 || !*found)
        return rc;
    t->id = id;
    tock_sqlite_col_copy(st, 0, t->queue, sizeof t->queue);
    tock_sqlite_col_copy(st, 1, t->occ, sizeof t->occ);
    tock_sqlite_col_copy(st, 2, t->job, sizeof t->job);
    t->attempt = sqlite3_column_int(st, 3);
    tock_sqlite_col_copy(st, 4, state, sizeof state);
    t->leased = strcmp(state, "leased") == 0;
    tock_sqlite_col_copy(st, 5, t->consumer, sizeof t->consumer);
    t->deliveries = sqlite3_column_int(st, 6);
    t->max_deliveries = sqlite3_column_int(st, 7);
    t->retries = sqlite3_column_int(st, 8);
    t->retry_backoff_ms = sqlite3_column_int64(st, 9);
    rc = tock_sqlite_col_blob(st, 10, &t->body, &t->body_len, err);
    sqlite3_reset(st);
    return rc;
}

/* run_info: what report needs of an occurrence's run record. */
struct run_info {
    bool found, final;
    int64_t report_task;
    char report_consumer[TOCK_ID_MAX + 1];
    int32_t report_deliveries;
};

static bool status_final(const char *status)
{
    return strcmp(status, "dispatched") != 0 && strcmp(status, "running") != 0;
}

static int load_run(struct tock_sqlite *b, const char *occ,
                    struct run_info *r, struct tock_error *err)
{
    char status[TOCK_STATUS_MAX];
    sqlite3_stmt *st;
    int rc;

    memset(r, 0, sizeof *r);
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_RUN_GET, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, occ, err)) < 0 ||
        (rc = tock_sqlite_step(b, st, &r->found, err)) < 0 || !r->found)
        return rc;
    tock_sqlite_col_copy(st, 0, status, sizeof status);
    r->final = status_final(status);
    r->report_task = sqlite3_column_int64(st, 1);
    tock_sqlite_col_copy(st, 2, r->report_consumer, sizeof r->report_consumer);
    r->report_deliveries = sqlite3_column_int(st, 3);
    sqlite3_reset(st);
    return 0;
}

/* backoff_ms: base * 2^(attempt-1), capped, plus up to a quarter of it. */
static int64_t backoff_ms(struct tock_sqlite *b, int64_t base, int32_t attempt)
{
    int64_t d = base;

    for (int32_t i = 1; i < attempt && d < TOCK_SQLITE_BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > TOCK_SQLITE_BACKOFF_CAP_MS)
        d = TOCK_SQLITE_BACKOFF_CAP_MS;
    if (d <= 0)
        return 0;
    return d + (int64_t)(tock_sqlite_random(b) % (uint64_t)(d / 4 + 1));
}

/* retry_body re-encodes the task of `t` as attempt `attempt` dispatched
 * at `fire_ms`; *out is a new buffer the caller frees with tock_free. */
static int retry_body(const struct task_row *t, int32_t attempt,
                      int64_t fire_ms, uint8_t **out, size_t *len,
                      struct tock_error *err)
{
    struct tock_task task = {0};
    int rc = tock_proto_decode_task(t->body, t->body_len, NULL, &task, err);

    if (rc < 0)
        return rc;
    task.attempt = attempt;
    if (fire_ms > task.fire_ms)
        task.fire_ms = fire_ms;
    rc = tock_proto_encode_task(&task, out, len, err);
    tock_task_clear(&task);
    return rc;
}

/* bind_result binds the result columns shared by RUN_FINISH (from ?3) and
 * RUN_RETRY (from ?2): worker, attempt, started, finished, exit code,
 * error, output, then the report identity. */
static int bind_result(struct tock_sqlite *b, sqlite3_stmt *st, int first,
                       const struct tock_result *r, int32_t attempt,
                       int64_t task_id, const char *consumer,
                       int32_t deliveries, struct tock_error *err)
{
    int i = first, rc;

    if ((rc = tock_sqlite_bind_text(b, st, i++, r->worker, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, i++, attempt, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, i++, r->started_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, i++, r->finished_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, i++, r->exit_code, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, i++, r->error, err)) < 0 ||
        (rc = tock_sqlite_bind_blob(b, st, i++, r->output, r->output_len,
                                    err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, i++, task_id, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, i++, consumer, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, i++, deliveries, err)) < 0)
        return rc;
    return 0;
}

/* report: the accepted report being applied. */
struct report {
    const struct task_row *t;
    const char *consumer;
    int32_t deliveries;
    const struct tock_result *r;
};

static int finish_run(struct tock_sqlite *b, const struct report *p,
                      struct tock_error *err)
{
    const char *status = tock_status_name(p->r->status);
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_RUN_FINISH, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, p->t->occ, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 2, status, err)) < 0 ||
        (rc = bind_result(b, st, 3, p->r, p->t->attempt, p->t->id,
                          p->consumer, p->deliveries, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0 ||
        (rc = job_finished(b, p->t->job, status, err)) < 0)
        return rc;
    return tock_sqlite_event(b,
                             p->r->status == TOCK_STATUS_OK
                                 ? TOCK_EVENT_SUCCEEDED
                                 : TOCK_EVENT_FAILED,
                             p->t->job, p->t->occ, p->r->worker,
                             p->r->status == TOCK_STATUS_OK ? NULL : status,
                             err);
}

/* schedule_retry enqueues attempt+1 of the failed task after back-off.
 * *done is false when the task cannot be re-encoded (then the failure is
 * final). */
static int schedule_retry(struct tock_sqlite *b, const struct report *p,
                          bool *done, struct tock_error *err)
{
    const struct task_row *t = p->t;
    int32_t next = t->attempt + 1;
    int64_t delay = backoff_ms(b, t->retry_backoff_ms, t->attempt);
    struct tock_sqlite_task_new nt = {
        .queue = t->queue, .occ = t->occ, .job = t->job, .attempt = next,
        .max_deliveries = t->max_deliveries, .retries = t->retries,
        .retry_backoff_ms = t->retry_backoff_ms,
        .available_ms = b->now_ms + delay,
    };
    struct tock_error ignored;
    uint8_t *body = NULL;
    char detail[128];
    sqlite3_stmt *st;
    int64_t id;
    int rc;

    *done = false;
    if (retry_body(t, next, nt.available_ms, &body, &nt.body_len,
                   &ignored) < 0)
        return 0;
    nt.body = body;
    if ((rc = tock_sqlite_task_insert(b, &nt, &id, err)) == 0 &&
        (rc = tock_sqlite_stmt(b, TOCK_SQ_RUN_RETRY, &st, err)) == 0 &&
        (rc = tock_sqlite_bind_text(b, st, 1, t->occ, err)) == 0 &&
        (rc = bind_result(b, st, 2, p->r, next, t->id, p->consumer,
                          p->deliveries, err)) == 0)
        rc = tock_sqlite_run(b, st, err);
    tock_free(body);
    if (rc < 0)
        return rc;
    *done = true;
    snprintf(detail, sizeof detail, "attempt %d %s; attempt %d in %lld ms",
             (int)t->attempt, tock_status_name(p->r->status), (int)next,
             (long long)delay);
    return tock_sqlite_event(b, TOCK_EVENT_RETRYING, t->job, t->occ,
                             p->r->worker, detail, err);
}

/* accept_report is steps 3-4 of report. */
static int accept_report(struct tock_sqlite *b, const struct report *p,
                  struct tock_error *err)
{
    const struct task_row *t = p->t;
    bool retryable = (p->r->status == TOCK_STATUS_ERROR ||
                      p->r->status == TOCK_STATUS_TIMEOUT) &&
                     t->attempt <= t->retries;
    bool retried = false;
    int rc = delete_task(b, t->id, err);

    if (rc == 0 && retryable)
        rc = schedule_retry(b, p, &retried, err);
    if (rc == 0 && !retried)
        rc = finish_run(b, p, err);
    return rc == 0 ? tock_sqlite_runs_trim(b, t->job, err) : rc;
}

/* late records a result that lost: the occurrence is already final. */
static int late(struct tock_sqlite *b, const struct tock_result *r,
                const char *consumer, struct tock_error *err)
{
    char detail[128], job[TOCK_ID_MAX + 1] = "";

    tock_occ_parse(r->occ, job, NULL, NULL);
    snprintf(detail, sizeof detail,
             "late result '%s' of attempt %d from %.60s ignored: the "
             "occurrence is already final",
             tock_status_name(r->status), r->attempt, consumer);
    return tock_sqlite_event(b, TOCK_EVENT_COMMIT_REFUSED, job[0] ? job : NULL,
                             r->occ, r->worker, detail, err);
}

/* report_unheld is step 2 of report. */
static int report_unheld(struct tock_sqlite *b, int64_t task_id,
                         const char *consumer, int32_t deliveries,
                         const struct tock_result *r,
                         enum tock_report_status *status,
                         struct tock_error *err)
{
    struct run_info run;
    int rc = load_run(b, r->occ, &run, err);

    *status = TOCK_REPORT_STALE;
    if (rc < 0 || !run.found)
        return rc;
    if (run.report_task == task_id && run.report_deliveries == deliveries &&
        strcmp(run.report_consumer, consumer) == 0) {
        *status = TOCK_REPORT_DUP_OK;
        return 0;
    }
    if (!run.final)
        return 0;
    *status = TOCK_REPORT_LATE;
    return late(b, r, consumer, err);
}

static int report_held(struct tock_sqlite *b, const struct report *p,
                       enum tock_report_status *status, struct tock_error *err)
{
    struct run_info run;
    int rc;

    if (strcmp(p->r->occ, p->t->occ) != 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "result names occurrence %.140s but task %lld "
                              "is %.140s", p->r->occ, (long long)p->t->id,
                              p->t->occ);
    rc = load_run(b, p->t->occ, &run, err);
    if (rc < 0)
        return rc;
    if (run.found && run.final) {
        /* An orphan task of a finished occurrence (cannot happen while the
         * invariants hold): drop it, the first result stays final. */
        *status = TOCK_REPORT_LATE;
        if ((rc = delete_task(b, p->t->id, err)) < 0)
            return rc;
        return late(b, p->r, p->consumer, err);
    }
    *status = TOCK_REPORT_OK;
    return accept_report(b, p, err);
}

/* report_one is steps 1-4 of report for one result, inside the batch's
 * transaction. */
static int report_one(struct tock_sqlite *b, const char *consumer,
                      const struct tock_report *rp,
                      enum tock_report_status *status, struct tock_error *err)
{
    struct task_row t;
    struct report p = {&t, consumer, rp->deliveries, rp->result};
    bool found = false;
    int rc = load_task(b, rp->task_id, &t, &found, err);

    if (rc == 0 && found && t.leased && t.deliveries == rp->deliveries &&
        strcmp(t.consumer, consumer) == 0)
        rc = report_held(b, &p, status, err);
    else if (rc == 0)
        rc = report_unheld(b, rp->task_id, consumer, rp->deliveries,
                           rp->result, status, err);
    tock_free(t.body);
    return rc;
}

int tock_sqlite_task_report(struct tock_store *s, const char *consumer,
                            const struct tock_report *reports, size_t n,
                            enum tock_report_status *status,
                            struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    int rc = tock_sqlite_begin(b, err);

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = report_one(b, consumer, &reports[i], &status[i], err);
    return tock_sqlite_end(b, rc, err);
}

/* ------------------------------------------------------------- reclaim */

/* read_expired reads up to `limit` expired leases into rows[]. */
static int read_expired(struct tock_sqlite *b, size_t limit,
                        struct task_row *rows, size_t *n,
                        struct tock_error *err)
{
    sqlite3_stmt *st;
    bool row = true;
    int rc;

    *n = 0;
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_TASK_EXPIRED, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 1, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, (int64_t)limit, err)) < 0)
        return rc;
    while (*n < limit && (rc = tock_sqlite_step(b, st, &row, err)) == 0 &&
           row) {
        struct task_row *t = &rows[(*n)++];
        memset(t, 0, sizeof *t);
        t->id = sqlite3_column_int64(st, 0);
        tock_sqlite_col_copy(st, 1, t->occ, sizeof t->occ);
        tock_sqlite_col_copy(st, 2, t->job, sizeof t->job);
        t->deliveries = sqlite3_column_int(st, 3);
        t->max_deliveries = sqlite3_column_int(st, 4);
        tock_sqlite_col_copy(st, 5, t->consumer, sizeof t->consumer);
    }
    sqlite3_reset(st);
    return rc;
}

static int redeliver(struct tock_sqlite *b, const struct task_row *t,
                     struct tock_error *err)
{
    char detail[160];
    sqlite3_stmt *st;
    int rc;

    snprintf(detail, sizeof detail,
             "lease of %.60s expired after delivery %d of %d",
             t->consumer, (int)t->deliveries, (int)t->max_deliveries);
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_TASK_REQUEUE, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 1, t->id, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0 ||
        (rc = run_status(b, t->occ, "dispatched", NULL, 0, err)) < 0)
        return rc;
    return tock_sqlite_event(b, TOCK_EVENT_REDELIVERED, t->job, t->occ,
                             t->consumer, detail, err);
}

int tock_sqlite_task_reclaim(struct tock_store *s, size_t limit,
                             size_t *n_redelivered, size_t *n_dead,
                             struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    struct task_row *rows;
    sqlite3_stmt *st;
    size_t got = 0;
    int rc;

    if (limit > TOCK_CLAIM_MAX)
        limit = TOCK_CLAIM_MAX;
    rows = tock_calloc(limit, sizeof *rows);
    rc = rows ? 0 : tock_error_set(err, TOCK_ENOMEM, "out of memory");
    if (rc == 0 && (rc = tock_sqlite_begin(b, err)) == 0) {
        rc = read_expired(b, limit, rows, &got, err);
        for (size_t i = 0; rc == 0 && i < got; i++) {
            bool dead = rows[i].deliveries >= rows[i].max_deliveries;
            rc = dead ? mark_dead(b, &rows[i], err)
                      : redeliver(b, &rows[i], err);
            *(dead ? n_dead : n_redelivered) += rc == 0;
        }
        if (rc == 0 &&
            (rc = tock_sqlite_stmt(b, TOCK_SQ_RUNNING_REPAIR, &st, err)) == 0)
            rc = tock_sqlite_run(b, st, err);
        rc = tock_sqlite_end(b, rc, err);
    }
    tock_free(rows);
    return rc;
}

/* ------------------------------------------------------------- release */

int tock_sqlite_task_release(struct tock_store *s, const char *consumer,
                             const int64_t *ids, size_t n,
                             struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    char occ[TOCK_OCC_MAX];
    sqlite3_stmt *st;
    bool row = false;
    int rc = tock_sqlite_begin(b, err);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = tock_sqlite_stmt(b, TOCK_SQ_TASK_HANDBACK, &st, err)) < 0 ||
            (rc = tock_sqlite_bind_i64(b, st, 1, ids[i], err)) < 0 ||
            (rc = tock_sqlite_bind_text(b, st, 2, consumer, err)) < 0 ||
            (rc = tock_sqlite_bind_i64(b, st, 3, b->now_ms, err)) < 0 ||
            (rc = tock_sqlite_step(b, st, &row, err)) < 0)
            break;
        if (row)
            tock_sqlite_col_copy(st, 0, occ, sizeof occ);
        if ((rc = tock_sqlite_run(b, st, err)) == 0 && row)
            rc = run_status(b, occ, "dispatched", NULL, 0, err);
    }
    return tock_sqlite_end(b, rc, err);
}
