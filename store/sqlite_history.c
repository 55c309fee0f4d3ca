/* sqlite_history.c: run records and events: writing them inside the
 * operations' transactions, keeping them bounded, and reading them back.
 *
 * Bounds. History must not grow without limit, and trimming must stay
 * cheap enough to run inside every write transaction:
 *   - events: after a transaction added events, every event more than
 *     events_max ids older than the newest is deleted (one range delete on
 *     the primary key);
 *   - runs: after a commit recorded runs of a job, that job's finished
 *     records older than its newest runs_per_job are deleted (an index walk
 *     of runs_per_job entries on runs(job, sched_ms)). Records still
 *     dispatched or running are never trimmed: a worker's report needs
 *     them. A removed job's records stay until its id is used again.
 */
#include "store/sqlite.h"

#include <string.h>

#include "core/alloc.h"

/* ------------------------------------------------------------- writing */

int tock_sqlite_event(struct tock_sqlite *b, enum tock_event_type type,
                      const char *job, const char *occ, const char *node,
                      const char *detail, struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_EVENT_ADD, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, tock_event_type_name(type),
                                    err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 3, job, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 4, occ, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 5, node, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 6, detail, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0)
        return rc;
    b->txn_event_id = sqlite3_last_insert_rowid(b->db);
    return 0;
}

int tock_sqlite_events_trim(struct tock_sqlite *b, struct tock_error *err)
{
    sqlite3_stmt *st;
    int64_t below = b->txn_event_id - (int64_t)b->events_max;
    int rc;

    if (below <= 0)
        return 0;
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_EVENTS_TRIM, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 1, below, err)) < 0)
        return rc;
    return tock_sqlite_run(b, st, err);
}

int tock_sqlite_run_insert(struct tock_sqlite *b, const char *job,
                           int64_t sched_ms, const char *status,
                           const char *node, int32_t attempt,
                           const char *error, bool *inserted,
                           struct tock_error *err)
{
    char occ[TOCK_OCC_MAX];
    sqlite3_stmt *st;
    int rc = tock_occ_format(occ, sizeof occ, job, sched_ms);

    *inserted = false;
    if (rc < 0)
        return tock_error_set(err, rc, "occurrence id of %s does not fit",
                              job);
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_RUN_INSERT, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, occ, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 2, job, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 3, sched_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 4, status, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 5, b->now_ms, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 6, node, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 7, attempt, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 8, error, err)) < 0 ||
        (rc = tock_sqlite_run(b, st, err)) < 0)
        return rc;
    *inserted = sqlite3_changes(b->db) > 0;
    return 0;
}

int tock_sqlite_runs_trim(struct tock_sqlite *b, const char *job,
                          struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_RUNS_TRIM, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, job, err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, (int64_t)b->runs_per_job - 1,
                                   err)) < 0)
        return rc;
    return tock_sqlite_run(b, st, err);
}

/* ------------------------------------------------------------- reading */

/* grow makes room for one more element in a growing array. */
static int grow(void **list, size_t *cap, size_t n, size_t size,
                struct tock_error *err)
{
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p;

    if (n < *cap)
        return 0;
    p = tock_realloc(*list, ncap * size);
    if (p == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory reading history");
    memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
    *list = p;
    *cap = ncap;
    return 0;
}

static int run_row(sqlite3_stmt *st, struct tock_run *r,
                   struct tock_error *err)
{
    int rc;

    if ((rc = tock_sqlite_col_text(st, 0, &r->job, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 1, &r->occ, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 7, &r->node, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 8, &r->worker, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 11, &r->error, err)) < 0 ||
        (rc = tock_sqlite_col_blob(st, 12, &r->output, &r->output_len,
                                   err)) < 0)
        return rc;
    r->sched_ms = sqlite3_column_int64(st, 2);
    tock_sqlite_col_copy(st, 3, r->status, sizeof r->status);
    r->fired_ms = sqlite3_column_int64(st, 4);
    r->started_ms = sqlite3_column_int64(st, 5);
    r->finished_ms = sqlite3_column_int64(st, 6);
    r->attempt = sqlite3_column_int(st, 9);
    r->exit_code = sqlite3_column_int(st, 10);
    return 0;
}

int tock_sqlite_runs(struct tock_store *s, const char *job_id, size_t limit,
                     struct tock_run **out, size_t *n, struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    struct tock_run *list = NULL;
    size_t cap = 0, count = 0;
    sqlite3_stmt *st;
    bool row = true;
    int rc = tock_sqlite_stmt(b, job_id ? TOCK_SQ_RUNS_JOB : TOCK_SQ_RUNS_ALL,
                              &st, err);

    if (rc == 0)
        rc = tock_sqlite_bind_i64(b, st, 1, (int64_t)limit, err);
    if (rc == 0 && job_id != NULL)
        rc = tock_sqlite_bind_text(b, st, 2, job_id, err);
    while (rc == 0 && (rc = tock_sqlite_step(b, st, &row, err)) == 0 && row) {
        rc = grow((void **)&list, &cap, count, sizeof *list, err);
        if (rc == 0)
            rc = run_row(st, &list[count++], err);
    }
    tock_sqlite_reset_all(b);
    if (rc < 0) {
        tock_run_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

static int event_row(struct tock_sqlite *b, sqlite3_stmt *st,
                     struct tock_event *ev, int64_t *id,
                     struct tock_error *err)
{
    const char *type = (const char *)sqlite3_column_text(st, 1);
    int rc;

    *id = sqlite3_column_int64(st, 0);
    if (type == NULL ||
        tock_event_type_parse(type, (size_t)sqlite3_column_bytes(st, 1),
                              &ev->type) < 0)
        return tock_sqlite_fail(b, SQLITE_CORRUPT, "event type", err);
    ev->ts_ms = sqlite3_column_int64(st, 2);
    if ((rc = tock_sqlite_col_text(st, 3, &ev->job, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 4, &ev->occ, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 5, &ev->node, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 6, &ev->detail, err)) < 0)
        return rc;
    return 0;
}

int tock_sqlite_events(struct tock_store *s, int64_t after_id, size_t limit,
                       struct tock_event **out, int64_t **ids, size_t *n,
                       struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    struct tock_event *list = NULL;
    int64_t *idv = NULL;
    size_t cap = 0, icap = 0, count = 0;
    sqlite3_stmt *st;
    bool row = true;
    int rc = tock_sqlite_stmt(b, TOCK_SQ_EVENTS_AFTER, &st, err);

    if (rc == 0)
        rc = tock_sqlite_bind_i64(b, st, 1, after_id, err);
    if (rc == 0)
        rc = tock_sqlite_bind_i64(b, st, 2, (int64_t)limit, err);
    while (rc == 0 && (rc = tock_sqlite_step(b, st, &row, err)) == 0 && row) {
        if ((rc = grow((void **)&list, &cap, count, sizeof *list, err)) < 0 ||
            (rc = grow((void **)&idv, &icap, count, sizeof *idv, err)) < 0)
            break;
        rc = event_row(b, st, &list[count], &idv[count], err);
        count++;
    }
    tock_sqlite_reset_all(b);
    if (rc < 0) {
        tock_event_list_free(list, idv, count);
        return rc;
    }
    *out = list;
    *ids = idv;
    *n = count;
    return 0;
}
