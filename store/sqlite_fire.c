/* sqlite_fire.c: exactly-once firing on SQLite: claim, commit, release.
 *
 * The same mechanism as REDIS.md section 8, with a BEGIN IMMEDIATE
 * transaction in place of a Redis function: SQLite lets one writer in at a
 * time across every process that opened the file, so each transaction
 * below sees and changes a consistent store.
 *
 * ON claim(nonce, limit, lease):
 *   1. now = the store clock (host clock, never below the persisted
 *      high-water mark).
 *   2. Up to TOCK_CLAIM_MAX claims whose lease_until_ms <= now are undone:
 *      owner "", lease 0, epoch+1, event lease_expired. next_fire_ms is
 *      left alone, so the occurrence is due again at its original time.
 *   3. Up to `limit` jobs that are unclaimed, unpaused, unfinished and due
 *      (next_fire_ms <= now), earliest first: epoch+1, owner =
 *      "<nonce>:<epoch>", lease_until_ms = now + lease.
 *   4. next_due_ms = the earliest next_fire_ms still unclaimed, or the
 *      earliest lease expiry of another node's claim if sooner.
 *
 * ON commit(c), each item of the batch in the batch's one transaction, all
 * checks before the first write:
 *   1. GONE if the job no longer exists.
 *   2. ALREADY if the job's last accepted commit token is c->token.
 *   3. CHANGED if job.version != c->version: the claim is released if it
 *      is still ours (an edit already released it), nothing recorded.
 *   4. STALE unless owner == c->token and epoch == c->epoch.
 *   5. DUPLICATE if any occurrence is <= the watermark fired_ms: the claim
 *      is released (epoch+1), event commit_refused, nothing recorded.
 *   6. A FIRE later than misfire_grace on the store clock becomes MISSED;
 *      a FIRE with running >= max_instances becomes SKIPPED.
 *   7. Records: one run per missed[] time ("missed", the node's reason),
 *      one for sched_ms (dispatched / missed / skipped), events, and for a
 *      fire the task and running+1.
 *   8. Advance: fired_ms = sched_ms, next_fire_ms = next_ms, owner "",
 *      lease 0, last_commit = token; the job's old finished runs trimmed.
 *
 * Step 2 of claim: because a claim whose holder died (or paused past the
 *   lease) must come back by itself, with no process in charge of it.
 *   Expiry alone never refuses a commit: only this reclaim (epoch+1, owner
 *   changed) does. A late commit nobody reclaimed is still safe to accept.
 * Step 3 of claim: the token holds a nonce unique to the claiming process
 *   start, so a token can never be issued twice, even if an epoch were.
 * Step 4 of claim: a node that sleeps until next_due_ms also wakes when a
 *   dead node's claim can be reclaimed.
 * Step 3 before 4 of commit: an edit clears the owner, so a commit fenced
 *   by an edit would otherwise read as STALE; CHANGED says why.
 * Step 5: with a valid fence this means a put or resume moved next_fire_ms
 *   back to or before the watermark; the firing loop then commits the first
 *   occurrence after fired_ms instead. sched_ms only has to be after the
 *   watermark, not equal to the claimed next_fire_ms, for that reason.
 * Step 7: a run record insert that finds the occurrence already recorded
 *   (a `tock run` landed on the same millisecond) records and enqueues
 *   nothing: the occurrence already fired.
 * Steps 2-8 run in one transaction per batch: a crash or a full disk rolls
 *   the whole batch back, and the node's claims lapse and are reclaimed.
 */
#include "store/sqlite.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

/* --------------------------------------------------------------- claim */

/* reclaim_expired is step 2 of claim. */
static int reclaim_expired(struct tock_sqlite *b, size_t *count,
                           struct tock_error *err)
{
    char(*ids)[TOCK_ID_MAX + 1] = NULL;
    char(*owners)[TOCK_TOKEN_MAX] = NULL;
    size_t n = 0;
    sqlite3_stmt *st;
    bool row = true;
    int rc;

    ids = tock_calloc(TOCK_CLAIM_MAX, sizeof *ids);
    owners = tock_calloc(TOCK_CLAIM_MAX, sizeof *owners);
    if (ids == NULL || owners == NULL) {
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_CLAIM_EXPIRED, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 1, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, TOCK_CLAIM_MAX, err)) < 0)
        goto done;
    while (n < TOCK_CLAIM_MAX &&
           (rc = tock_sqlite_step(b, st, &row, err)) == 0 && row) {
        tock_sqlite_col_copy(st, 0, ids[n], sizeof ids[0]);
        tock_sqlite_col_copy(st, 1, owners[n++], sizeof owners[0]);
    }
    sqlite3_reset(st);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = tock_sqlite_stmt(b, TOCK_SQ_CLAIM_UNSET, &st, err)) == 0 &&
            (rc = tock_sqlite_bind_text(b, st, 1, ids[i], err)) == 0 &&
            (rc = tock_sqlite_bind_text(b, st, 2, owners[i], err)) == 0)
            rc = tock_sqlite_run(b, st, err);
        if (rc == 0)
            rc = tock_sqlite_event(b, TOCK_EVENT_LEASE_EXPIRED, ids[i], NULL,
                                   NULL, owners[i], err);
    }
    *count = rc == 0 ? n : 0;
done:
    tock_free(ids);
    tock_free(owners);
    return rc;
}

/* take_due is step 3 of claim: reads the due jobs into out->items. */
static int take_due(struct tock_sqlite *b, const char *nonce, size_t limit,
                    struct tock_claim_batch *out, struct tock_error *err)
{
    struct tock_job_state js;
    sqlite3_stmt *st;
    bool row = true;
    int rc;

    out->items = tock_calloc(limit, sizeof *out->items);
    if (out->items == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_CLAIM_DUE, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 1, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, (int64_t)limit, err)) < 0)
        return rc;
    while (out->n < limit &&
           (rc = tock_sqlite_step(b, st, &row, err)) == 0 && row) {
        struct tock_claimed *c = &out->items[out->n];
        if ((rc = tock_sqlite_job_row(st, &js, err)) < 0)
            break;
        c->job = js.job; /* moves the owned members */
        c->sched_ms = js.next_fire_ms;
        c->fired_ms = js.fired_ms;
        c->epoch = js.epoch + 1;
        c->running = js.running;
        snprintf(c->token, sizeof c->token, "%s:%lld", nonce,
                 (long long)c->epoch);
        out->n++;
    }
    sqlite3_reset(st);
    return rc;
}

/* mark_claimed writes the claims that take_due read. */
static int mark_claimed(struct tock_sqlite *b, struct tock_claim_batch *out,
                        int64_t lease_ms, struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < out->n; i++) {
        const struct tock_claimed *c = &out->items[i];
        if ((rc = tock_sqlite_stmt(b, TOCK_SQ_CLAIM_SET, &st, err)) == 0 &&
            (rc = tock_sqlite_bind_text(b, st, 1, c->job.id, err)) == 0 &&
            (rc = tock_sqlite_bind_i64(b, st, 2, c->epoch, err)) == 0 &&
            (rc = tock_sqlite_bind_text(b, st, 3, c->token, err)) == 0 &&
            (rc = tock_sqlite_bind_i64(b, st, 4, b->now_ms + lease_ms, err)) ==
                0)
            rc = tock_sqlite_run(b, st, err);
    }
    return rc;
}

/* min_value runs a "SELECT min(...)" statement: *out = the minimum, or -1
 * when it is NULL. */
static int min_value(struct tock_sqlite *b, sqlite3_stmt *st, int64_t *out,
                     struct tock_error *err)
{
    bool row;
    int rc = tock_sqlite_step(b, st, &row, err);

    *out = -1;
    if (rc == 0 && row && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc;
}

/* next_due is step 4 of claim. */
static int next_due(struct tock_sqlite *b, const char *nonce,
                    struct tock_claim_batch *out, struct tock_error *err)
{
    char prefix[TOCK_TOKEN_MAX];
    int64_t due, lease;
    sqlite3_stmt *st;
    int rc;

    snprintf(prefix, sizeof prefix, "%s:", nonce);
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_NEXT_DUE, &st, err)) < 0 ||
        (rc = min_value(b, st, &due, err)) < 0)
        return rc;
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_NEXT_LEASE, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, prefix, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, (int64_t)strlen(prefix), err)) <
            0 ||
        (rc = min_value(b, st, &lease, err)) < 0)
        return rc;
    out->next_due_ms = due;
    if (lease >= 0 && (due < 0 || lease < due))
        out->next_due_ms = lease;
    return 0;
}

int tock_sqlite_claim(struct tock_store *s, const char *node_nonce,
                      size_t limit, int64_t lease_ms,
                      struct tock_claim_batch *out, struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    int rc = tock_sqlite_begin(b, err);

    if (rc < 0)
        return rc;
    out->now_ms = b->now_ms;
    rc = reclaim_expired(b, &out->reclaimed, err);
    if (rc == 0)
        rc = take_due(b, node_nonce, limit, out, err);
    if (rc == 0)
        rc = mark_claimed(b, out, lease_ms, err);
    if (rc == 0)
        rc = next_due(b, node_nonce, out, err);
    rc = tock_sqlite_end(b, rc, err);
    if (rc < 0)
        tock_claim_batch_clear(out);
    return rc;
}

/* -------------------------------------------------------------- commit */

/* fence: the stored state a commit is checked against. */
struct fence {
    char owner[TOCK_TOKEN_MAX];
    int64_t epoch, version, fired_ms, running;
    int64_t max_instances, max_deliveries, retries, retry_backoff_ms;
    char queue[TOCK_ID_MAX + 1];
    char last_commit[TOCK_TOKEN_MAX];
    int64_t last_commit_task;
};

static int load_fence(struct tock_sqlite *b, const char *id, struct fence *f,
                      bool *found, struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_FENCE_GET, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, id, err)) < 0 ||
        (rc = tock_sqlite_step(b, st, found, err)) < 0 || !*found)
        return rc;
    tock_sqlite_col_copy(st, 0, f->owner, sizeof f->owner);
    f->epoch = sqlite3_column_int64(st, 1);
    f->version = sqlite3_column_int64(st, 2);
    f->fired_ms = sqlite3_column_int64(st, 3);
    f->running = sqlite3_column_int64(st, 4);
    f->max_instances = sqlite3_column_int64(st, 5);
    tock_sqlite_col_copy(st, 6, f->queue, sizeof f->queue);
    f->max_deliveries = sqlite3_column_int64(st, 7);
    f->retries = sqlite3_column_int64(st, 8);
    f->retry_backoff_ms = sqlite3_column_int64(st, 9);
    tock_sqlite_col_copy(st, 10, f->last_commit, sizeof f->last_commit);
    f->last_commit_task = sqlite3_column_int64(st, 11);
    sqlite3_reset(st);
    return 0;
}

/* unclaim releases job `id` if `token` still owns it (epoch+1). */
static int unclaim(struct tock_sqlite *b, const char *id, const char *token,
                   struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_CLAIM_UNSET, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, id, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 2, token, err)) < 0)
        return rc;
    return tock_sqlite_run(b, st, err);
}

/* record_missed writes the runs of c->missed[] and one event for them. */
static int record_missed(struct tock_sqlite *b, const struct tock_commit *c,
                         struct tock_error *err)
{
    const char *reason = c->miss_reason ? c->miss_reason : "misfire_grace";
    char occ[TOCK_OCC_MAX], detail[160];
    bool inserted;
    int rc = 0;

    if (c->n_missed == 0)
        return 0;
    for (size_t i = 0; rc == 0 && i < c->n_missed; i++)
        rc = tock_sqlite_run_insert(b, c->job_id, c->missed[i], "missed",
                                    c->node, 1, reason, &inserted, err);
    if (rc < 0)
        return rc;
    tock_occ_format(occ, sizeof occ, c->job_id, c->missed[0]);
    snprintf(detail, sizeof detail, "%zu occurrence(s) %lld..%lld: %.40s",
             c->n_missed, (long long)c->missed[0],
             (long long)c->missed[c->n_missed - 1], reason);
    return tock_sqlite_event(b,
                             strcmp(reason, "coalesced") == 0
                                 ? TOCK_EVENT_COALESCED
                                 : TOCK_EVENT_MISSED,
                             c->job_id, occ, c->node, detail, err);
}

/* fire enqueues the task of occurrence `occ` (run already recorded). */
static int fire(struct tock_sqlite *b, const struct tock_commit *c,
                const struct fence *f, const char *occ, int64_t *task_id,
                struct tock_error *err)
{
    struct tock_sqlite_task_new t = {
        .queue = f->queue, .occ = occ, .job = c->job_id, .attempt = 1,
        .body = c->task, .body_len = c->task_len,
        .max_deliveries = (int32_t)f->max_deliveries,
        .retries = (int32_t)f->retries,
        .retry_backoff_ms = f->retry_backoff_ms, .available_ms = b->now_ms,
    };
    char detail[48];
    int rc = tock_sqlite_task_insert(b, &t, task_id, err);

    if (rc < 0)
        return rc;
    snprintf(detail, sizeof detail, "task %lld", (long long)*task_id);
    return tock_sqlite_event(b, TOCK_EVENT_FIRED, c->job_id, occ, c->node,
                             detail, err);
}

/* outcome: what step 6 turned the decision into. */
struct outcome {
    enum tock_commit_status status;
    const char *run_status; /* dispatched, missed, skipped */
    const char *reason;     /* run error text */
    char text[96];
};

static void decide(const struct tock_sqlite *b, const struct tock_commit *c,
                   const struct fence *f, struct outcome *o)
{
    o->status = TOCK_COMMIT_OK;
    o->run_status = "dispatched";
    o->reason = NULL;
    if (c->decision == TOCK_DECIDE_MISS) {
        o->run_status = "missed";
        o->reason = c->miss_reason ? c->miss_reason : "misfire_grace";
    } else if (c->misfire_grace_ms >= 0 &&
               b->now_ms - c->sched_ms > c->misfire_grace_ms) {
        o->status = TOCK_COMMIT_MISSED;
        o->run_status = "missed";
        o->reason = "misfire_grace";
    } else if (f->running >= f->max_instances) {
        o->status = TOCK_COMMIT_SKIPPED;
        o->run_status = "skipped";
        snprintf(o->text, sizeof o->text, "max_instances %lld reached",
                 (long long)f->max_instances);
        o->reason = o->text;
    }
}

/* record_main writes the run of c->sched_ms and, for a fire, its task. */
static int record_main(struct tock_sqlite *b, const struct tock_commit *c,
                       const struct fence *f, const struct outcome *o,
                       int64_t *task_id, int *running, struct tock_error *err)
{
    char occ[TOCK_OCC_MAX];
    bool inserted = false;
    int rc = tock_sqlite_run_insert(b, c->job_id, c->sched_ms, o->run_status,
                                    c->node, 1, o->reason, &inserted, err);

    *task_id = 0;
    *running = 0;
    if (rc < 0 || !inserted)
        return rc;
    tock_occ_format(occ, sizeof occ, c->job_id, c->sched_ms);
    if (strcmp(o->run_status, "dispatched") == 0) {
        *running = 1;
        return fire(b, c, f, occ, task_id, err);
    }
    return tock_sqlite_event(b,
                             o->status == TOCK_COMMIT_SKIPPED
                                 ? TOCK_EVENT_SKIPPED
                                 : TOCK_EVENT_MISSED,
                             c->job_id, occ, c->node, o->reason, err);
}

static int advance(struct tock_sqlite *b, const struct tock_commit *c,
                   const struct outcome *o, int64_t task_id, int running,
                   struct tock_error *err)
{
    bool dispatched = strcmp(o->run_status, "dispatched") == 0;
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_ADVANCE, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, c->job_id, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, c->sched_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 3, c->next_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 4, c->token, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 5, task_id, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 6, running, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 7, dispatched ? NULL : o->run_status,
                                    err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0)
        return rc;
    return tock_sqlite_runs_trim(b, c->job_id, err);
}

/* apply is steps 6-8 of commit, for a commit that passed the fence. */
static int apply(struct tock_sqlite *b, const struct tock_commit *c,
                 const struct fence *f, struct tock_commit_result *res,
                 struct tock_error *err)
{
    struct outcome o;
    int64_t task_id = 0;
    int running = 0;
    int rc;

    decide(b, c, f, &o);
    if ((rc = record_missed(b, c, err)) < 0 ||
        (rc = record_main(b, c, f, &o, &task_id, &running, err)) < 0 ||
        (rc = advance(b, c, &o, task_id, running, err)) < 0)
        return rc;
    res->status = o.status;
    res->task_id = task_id;
    return 0;
}

/* refuse_duplicate is step 5: a bug or a moved-back next_fire_ms. */
static int refuse_duplicate(struct tock_sqlite *b, const struct tock_commit *c,
                            const struct fence *f, struct tock_error *err)
{
    char detail[128];
    int rc = unclaim(b, c->job_id, c->token, err);

    if (rc < 0)
        return rc;
    snprintf(detail, sizeof detail,
             "duplicate: occurrence %lld is not after the watermark %lld",
             (long long)(c->n_missed ? c->missed[0] : c->sched_ms),
             (long long)f->fired_ms);
    return tock_sqlite_event(b, TOCK_EVENT_COMMIT_REFUSED, c->job_id, NULL,
                             c->node, detail, err);
}

static int commit_one(struct tock_sqlite *b, const struct tock_commit *c,
                      struct tock_commit_result *res, struct tock_error *err)
{
    struct fence f;
    bool found = false;
    int64_t first = c->n_missed > 0 ? c->missed[0] : c->sched_ms;
    int rc = load_fence(b, c->job_id, &f, &found, err);

    res->task_id = 0;
    if (rc < 0)
        return rc;
    if (!found) {
        res->status = TOCK_COMMIT_GONE;
        return 0;
    }
    if (strcmp(f.last_commit, c->token) == 0) {
        res->status = TOCK_COMMIT_ALREADY;
        res->task_id = f.last_commit_task;
        return 0;
    }
    if (f.version != c->version) {
        res->status = TOCK_COMMIT_CHANGED;
        return unclaim(b, c->job_id, c->token, err);
    }
    if (strcmp(f.owner, c->token) != 0 || f.epoch != c->epoch) {
        res->status = TOCK_COMMIT_STALE;
        return 0;
    }
    if (first <= f.fired_ms) {
        res->status = TOCK_COMMIT_DUPLICATE;
        return refuse_duplicate(b, c, &f, err);
    }
    return apply(b, c, &f, res, err);
}

int tock_sqlite_commit(struct tock_store *s, const struct tock_commit *commits,
                       size_t n, struct tock_commit_result *results,
                       struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    int rc = tock_sqlite_begin(b, err);

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = commit_one(b, &commits[i], &results[i], err);
    return tock_sqlite_end(b, rc, err);
}

/* ------------------------------------------------------------- release */

int tock_sqlite_release(struct tock_store *s, const struct tock_claimed *items,
                        size_t n, struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    int rc = tock_sqlite_begin(b, err);

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = unclaim(b, items[i].job.id, items[i].token, err);
    return tock_sqlite_end(b, rc, err);
}
