/* sqlite_jobs.c: job definitions in the SQLite store: put (create, upsert),
 * get, list, remove, pause and resume, and "run now".
 *
 * ON put(job, next, mode, expect_version):
 *   1. Load the stored row, if any.
 *   2. Absent: insert it (version 1, epoch 1, unclaimed) with next_fire_ms =
 *      next; its watermark is the newest run recorded under this id, or -1.
 *      Event "added".
 *   3. Present: CREATE fails (TOCK_EEXIST); a given expect_version that
 *      differs fails (TOCK_ESTALE); the same definition changes nothing
 *      (UNCHANGED, not even updated_ms); a different one replaces the
 *      definition and next_fire_ms, version+1, epoch+1, owner cleared.
 *      Event "changed".
 * Step 2: because a removed job's history stays, and an id added again must
 *   not record an occurrence id it already used: handlers use occurrence
 *   ids as idempotency keys. The firing loop then starts after the
 *   watermark (a claim's sched_ms <= fired_ms means exactly that).
 * Step 3: epoch+1 and owner "" fence a claim made on the old definition:
 *   its commit gets CHANGED and writes nothing.
 */
#include "store/sqlite.h"

#include <string.h>

#include "core/alloc.h"

/* ------------------------------------------------------------- helpers */

static bool same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* same_definition compares every definition field (not the version, which
 * the store assigns). */
static bool same_definition(const struct tock_job *a, const struct tock_job *b)
{
    return same_str(a->id, b->id) && same_str(a->name, b->name) &&
           same_str(a->queue, b->queue) && same_str(a->handler, b->handler) &&
           a->args_len == b->args_len &&
           (a->args_len == 0 || memcmp(a->args, b->args, a->args_len) == 0) &&
           same_str(a->trigger, b->trigger) &&
           a->misfire_grace_ms == b->misfire_grace_ms &&
           a->coalesce == b->coalesce && a->max_instances == b->max_instances &&
           a->jitter_ms == b->jitter_ms && a->timeout_ms == b->timeout_ms &&
           a->retries == b->retries &&
           a->retry_backoff_ms == b->retry_backoff_ms &&
           a->max_deliveries == b->max_deliveries && a->paused == b->paused &&
           a->start_ms == b->start_ms && a->end_ms == b->end_ms;
}

/* bind_definition binds ?1..?17 of JOB_INSERT and JOB_REPLACE. */
static int bind_definition(struct tock_sqlite *b, sqlite3_stmt *st,
                           const struct tock_job *j, struct tock_error *err)
{
    const int64_t ints[] = {
        j->misfire_grace_ms, j->coalesce ? 1 : 0, j->max_instances,
        j->jitter_ms,        j->timeout_ms,       j->retries,
        j->retry_backoff_ms, j->max_deliveries,   j->paused ? 1 : 0,
        j->start_ms,         j->end_ms,
    };
    int rc;

    if ((rc = tock_sqlite_bind_text(b, st, 1, j->id, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 2, j->name, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 3, j->queue, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 4, j->handler, err)) < 0 ||
        (rc = tock_sqlite_bind_blob(b, st, 5, j->args, j->args_len, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 6, j->trigger, err)) < 0)
        return rc;
    for (int i = 0; i < (int)(sizeof ints / sizeof ints[0]); i++)
        if ((rc = tock_sqlite_bind_i64(b, st, 7 + i, ints[i], err)) < 0)
            return rc;
    return 0;
}

/* load_job reads job `id` into *out; *found says whether it exists. */
static int load_job(struct tock_sqlite *b, const char *id,
                    struct tock_job_state *out, bool *found,
                    struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    *found = false;
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_GET, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, id, err)) < 0 ||
        (rc = tock_sqlite_step(b, st, found, err)) < 0)
        return rc;
    if (*found)
        rc = tock_sqlite_job_row(st, out, err);
    sqlite3_reset(st);
    return rc;
}

static int no_such_job(const char *id, struct tock_error *err)
{
    return tock_error_set(err, TOCK_ENOENT,
                          "no job '%s'; `tock ls` lists the jobs", id);
}

/* last_run_ms returns in *out the newest scheduled time recorded under
 * job id `id`, or -1. */
static int last_run_ms(struct tock_sqlite *b, const char *id, int64_t *out,
                       struct tock_error *err)
{
    sqlite3_stmt *st;
    bool row;
    int rc;

    *out = -1;
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_LAST_RUN, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, id, err)) < 0 ||
        (rc = tock_sqlite_step(b, st, &row, err)) < 0)
        return rc;
    if (row && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* ----------------------------------------------------------------- put */

static int insert_job(struct tock_sqlite *b, const struct tock_job *job,
                      int64_t next_fire_ms, struct tock_error *err)
{
    sqlite3_stmt *st;
    int64_t fired;
    int rc = last_run_ms(b, job->id, &fired, err);

    if (rc < 0)
        return rc;
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_INSERT, &st, err)) < 0 ||
        (rc = bind_definition(b, st, job, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 18, next_fire_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 19, fired, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 20, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0)
        return rc;
    return tock_sqlite_event(b, TOCK_EVENT_ADDED, job->id, NULL, NULL,
                             job->trigger, err);
}

static int replace_job(struct tock_sqlite *b, const struct tock_job *job,
                       int64_t next_fire_ms, struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_REPLACE, &st, err)) < 0 ||
        (rc = bind_definition(b, st, job, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 18, next_fire_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 19, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0)
        return rc;
    return tock_sqlite_event(b, TOCK_EVENT_CHANGED, job->id, NULL, NULL,
                             job->trigger, err);
}

/* put_existing applies step 3 of put to the stored job `cur`. */
static int put_existing(struct tock_sqlite *b, const struct tock_job_state *cur,
                        const struct tock_job *job, int64_t next_fire_ms,
                        enum tock_put_mode mode, int64_t expect_version,
                        enum tock_put_outcome *outcome, int64_t *version,
                        struct tock_error *err)
{
    int rc;

    if (mode == TOCK_PUT_CREATE)
        return tock_error_set(err, TOCK_EEXIST,
                              "job '%s' already exists; remove it first or "
                              "use `tock apply` to update it", job->id);
    if (expect_version > 0 && expect_version != cur->job.version)
        return tock_error_set(err, TOCK_ESTALE,
                              "job '%s' is at version %lld, not %lld: it was "
                              "changed concurrently; reload and retry",
                              job->id, (long long)cur->job.version,
                              (long long)expect_version);
    *version = cur->job.version;
    if (same_definition(&cur->job, job)) {
        *outcome = TOCK_PUT_UNCHANGED;
        return 0;
    }
    rc = replace_job(b, job, next_fire_ms, err);
    if (rc < 0)
        return rc;
    *outcome = TOCK_PUT_CHANGED;
    *version = cur->job.version + 1;
    return 0;
}

int tock_sqlite_job_put(struct tock_store *s, const struct tock_job *job,
                        int64_t next_fire_ms, enum tock_put_mode mode,
                        int64_t expect_version, enum tock_put_outcome *outcome,
                        int64_t *version, struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    struct tock_job_state cur = {0};
    bool found = false;
    int rc = tock_sqlite_begin(b, err);

    if (rc < 0)
        return rc;
    rc = load_job(b, job->id, &cur, &found, err);
    if (rc == 0 && found) {
        rc = put_existing(b, &cur, job, next_fire_ms, mode, expect_version,
                          outcome, version, err);
    } else if (rc == 0) {
        rc = insert_job(b, job, next_fire_ms, err);
        *outcome = TOCK_PUT_ADDED;
        *version = 1;
    }
    tock_job_state_clear(&cur);
    return tock_sqlite_end(b, rc, err);
}

/* ------------------------------------------------------------ get, list */

int tock_sqlite_job_get(struct tock_store *s, const char *id,
                        struct tock_job_state *out, struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    bool found = false;
    int rc = load_job(b, id, out, &found, err);

    tock_sqlite_reset_all(b);
    if (rc == 0 && !found)
        rc = no_such_job(id, err);
    return rc;
}

int tock_sqlite_job_list(struct tock_store *s, struct tock_job_state **out,
                         size_t *n, struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    struct tock_job_state *list = NULL, *p;
    size_t cap = 0, count = 0;
    sqlite3_stmt *st;
    bool row = true;
    int rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_LIST, &st, err);

    while (rc == 0 && (rc = tock_sqlite_step(b, st, &row, err)) == 0 && row) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            p = tock_realloc(list, cap * sizeof *list);
            if (p == NULL) {
                rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
                break;
            }
            list = p;
        }
        rc = tock_sqlite_job_row(st, &list[count], err);
        if (rc == 0)
            count++;
    }
    tock_sqlite_reset_all(b);
    if (rc < 0) {
        tock_job_state_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

/* -------------------------------------------------------- remove, pause */

int tock_sqlite_job_remove(struct tock_store *s, const char *id,
                           struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    sqlite3_stmt *st;
    int rc = tock_sqlite_begin(b, err);

    if (rc < 0)
        return rc;
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_DELETE, &st, err)) == 0 &&
        (rc = tock_sqlite_bind_text(b, st, 1, id, err)) == 0 &&
        (rc = tock_sqlite_run(b, st, err)) == 0) {
        if (sqlite3_changes(b->db) == 0)
            rc = no_such_job(id, err);
        else
            rc = tock_sqlite_event(b, TOCK_EVENT_REMOVED, id, NULL, NULL, NULL,
                                   err);
    }
    return tock_sqlite_end(b, rc, err);
}

static int set_paused(struct tock_sqlite *b, const struct tock_job_state *cur,
                      bool paused, int64_t next_fire_ms, struct tock_error *err)
{
    sqlite3_stmt *st;
    int64_t next = paused ? cur->next_fire_ms : next_fire_ms;
    int rc;

    if (cur->job.paused == paused)
        return 0; /* idempotent: nothing changes, nothing is fenced */
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_SET_PAUSED, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, cur->job.id, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, paused ? 1 : 0, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 3, next, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 4, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0)
        return rc;
    return tock_sqlite_event(b, paused ? TOCK_EVENT_PAUSED : TOCK_EVENT_RESUMED,
                             cur->job.id, NULL, NULL, NULL, err);
}

int tock_sqlite_job_set_paused(struct tock_store *s, const char *id,
                               bool paused, int64_t next_fire_ms,
                               struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    struct tock_job_state cur = {0};
    bool found = false;
    int rc = tock_sqlite_begin(b, err);

    if (rc < 0)
        return rc;
    rc = load_job(b, id, &cur, &found, err);
    if (rc == 0 && !found)
        rc = no_such_job(id, err);
    if (rc == 0)
        rc = set_paused(b, &cur, paused, next_fire_ms, err);
    tock_job_state_clear(&cur);
    return tock_sqlite_end(b, rc, err);
}

/* ------------------------------------------------------------- run now */

/* free_sched_ms picks the occurrence time of an extra run: the store's
 * now, moved forward by a millisecond while it equals the job's next
 * scheduled time or an occurrence already recorded. */
static int free_sched_ms(struct tock_sqlite *b, const struct tock_job_state *j,
                         int64_t *out, struct tock_error *err)
{
    char occ[TOCK_OCC_MAX];
    int64_t t = b->now_ms;
    sqlite3_stmt *st;
    bool taken = true;
    int rc = 0;

    while (rc == 0 && taken) {
        if (t == j->next_fire_ms) {
            t++;
            continue;
        }
        if ((rc = tock_occ_format(occ, sizeof occ, j->job.id, t)) < 0)
            return tock_error_set(err, rc, "occurrence id does not fit");
        if ((rc = tock_sqlite_stmt(b, TOCK_SQ_RUN_EXISTS, &st, err)) == 0 &&
            (rc = tock_sqlite_bind_text(b, st, 1, occ, err)) == 0 &&
            (rc = tock_sqlite_step(b, st, &taken, err)) == 0 && taken)
            t++;
    }
    *out = t;
    return rc;
}

/* enqueue_now records the extra occurrence `sched` of job `j` with the
 * task `body`. */
static int enqueue_now(struct tock_sqlite *b, const struct tock_job_state *j,
                       int64_t sched, const uint8_t *body, size_t len,
                       struct tock_error *err)
{
    char occ[TOCK_OCC_MAX];
    struct tock_sqlite_task_new t = {
        .queue = j->job.queue, .occ = occ, .job = j->job.id, .attempt = 1,
        .body = body, .body_len = len, .max_deliveries = j->job.max_deliveries,
        .retries = j->job.retries, .retry_backoff_ms = j->job.retry_backoff_ms,
        .available_ms = b->now_ms,
    };
    sqlite3_stmt *st;
    int64_t id = 0;
    bool inserted = false;
    int rc = tock_occ_format(occ, sizeof occ, j->job.id, sched);

    if (rc == 0)
        rc = tock_sqlite_run_insert(b, j->job.id, sched, "dispatched", NULL, 1,
                                    NULL, &inserted, err);
    if (rc == 0 && !inserted)
        rc = tock_error_set(err, TOCK_EINTERNAL, "occurrence %s exists", occ);
    if (rc == 0)
        rc = tock_sqlite_task_insert(b, &t, &id, err);
    if (rc == 0 &&
        (rc = tock_sqlite_stmt(b, TOCK_SQ_JOB_RUNNING_ADD, &st, err)) == 0 &&
        (rc = tock_sqlite_bind_text(b, st, 1, j->job.id, err)) == 0 &&
        (rc = tock_sqlite_bind_i64(b, st, 2, 1, err)) == 0)
        rc = tock_sqlite_run(b, st, err);
    if (rc == 0)
        rc = tock_sqlite_event(b, TOCK_EVENT_FIRED, j->job.id, occ, NULL,
                               "run now", err);
    return rc == 0 ? tock_sqlite_runs_trim(b, j->job.id, err) : rc;
}

int tock_sqlite_job_run_now(struct tock_store *s, const char *id,
                            tock_task_builder_fn build, void *ctx,
                            int64_t *sched_ms, struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    struct tock_job_state cur = {0};
    uint8_t *body = NULL;
    size_t len = 0;
    bool found = false;
    int rc = tock_sqlite_begin(b, err);

    if (rc < 0)
        return rc;
    rc = load_job(b, id, &cur, &found, err);
    if (rc == 0 && !found)
        rc = no_such_job(id, err);
    if (rc == 0)
        rc = free_sched_ms(b, &cur, sched_ms, err);
    if (rc == 0)
        rc = build(ctx, &cur.job, *sched_ms, b->now_ms, &body, &len, err);
    if (rc == 0 && (body == NULL || len == 0))
        rc = tock_error_set(err, TOCK_EINVAL, "task builder gave no task");
    if (rc == 0)
        rc = enqueue_now(b, &cur, *sched_ms, body, len, err);
    tock_free(body);
    tock_job_state_clear(&cur);
    return tock_sqlite_end(b, rc, err);
}
