/* sqlite.c: the SQLite store's common machinery: error mapping, the
 * statement cache, row reading, transactions, the store clock, and the ops
 * table that store.c dispatches to. Opening a file and the schema are in
 * sqlite_open.c; the operations in sqlite_jobs.c, sqlite_fire.c,
 * sqlite_tasks.c and sqlite_history.c.
 */
#include "store/sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"

/* ------------------------------------------------------------- errors */

static const char *const stmt_sql[TOCK_SQ_COUNT_] = {
#define TOCK_X__SQL(name, sql) sql,
    TOCK_SQLITE_STMTS(TOCK_X__SQL)
#undef TOCK_X__SQL
};

int tock_sqlite_fail(struct tock_sqlite *b, int rc, const char *what,
                     struct tock_error *err)
{
    const char *f = b->shown;

    if (rc == SQLITE_CANTOPEN_SYMLINK)
        return tock_error_set(err, TOCK_EINVAL,
                              "%s goes through a symbolic link (a directory "
                              "of its path is one); tock refuses links so "
                              "that nothing can redirect the store: give the "
                              "real path (realpath -m PATH)", f);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return tock_error_set(err, TOCK_EBUSY,
                              "database %s is locked by another process; is "
                              "another tock standalone running?", f);
    case SQLITE_FULL:
        return tock_error_set(err, TOCK_ENOSPC, "disk full writing %s", f);
    case SQLITE_IOERR:
        if (sqlite3_system_errno(b->db) == ENOSPC)
            return tock_error_set(err, TOCK_ENOSPC, "disk full writing %s", f);
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return tock_error_set(err, TOCK_ECORRUPT,
                              "%s is not a tock database or is corrupt; run "
                              "`sqlite3 %s 'PRAGMA integrity_check'` or "
                              "restore a backup", f, f);
    case SQLITE_NOMEM:
        return tock_error_set(err, TOCK_ENOMEM, "out of memory in SQLite");
    case SQLITE_TOOBIG:
        return tock_error_set(err, TOCK_ETOOBIG,
                              "%s: a value exceeds the store's size limit", f);
    case SQLITE_READONLY:
        return tock_error_set(err, TOCK_EIO,
                              "database %s is read-only; tock must be able to "
                              "write it and its directory", f);
    default:
        break;
    }
    return tock_error_set(err, TOCK_EIO, "database %s: %s: %s", f, what,
                          b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc));
}

/* -------------------------------------------------- statements, rows */

int tock_sqlite_prepare(struct tock_sqlite *b, const char *sql,
                        sqlite3_stmt **out, struct tock_error *err)
{
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(b->db, sql, -1, out, &tail);

    if (rc != SQLITE_OK) {
        *out = NULL;
        return tock_sqlite_fail(b, rc, "prepare", err);
    }
    /* One statement per text, always: a second one would silently not run
     * (and is a sign of SQL built from input, which tock never does). */
    while (tail != NULL && (*tail == ' ' || *tail == '\n'))
        tail++;
    if (tail != NULL && *tail != '\0') {
        sqlite3_finalize(*out);
        *out = NULL;
        return tock_error_set(err, TOCK_EINTERNAL,
                              "SQL text holds more than one statement");
    }
    return 0;
}

int tock_sqlite_stmt(struct tock_sqlite *b, enum tock_sqlite_stmt id,
                     sqlite3_stmt **out, struct tock_error *err)
{
    int rc;

    if (b->stmt[id] == NULL) {
        rc = tock_sqlite_prepare(b, stmt_sql[id], &b->stmt[id], err);
        if (rc < 0)
            return rc;
    }
    sqlite3_reset(b->stmt[id]);
    sqlite3_clear_bindings(b->stmt[id]);
    *out = b->stmt[id];
    return 0;
}

int tock_sqlite_step(struct tock_sqlite *b, sqlite3_stmt *st, bool *row,
                     struct tock_error *err)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        *row = rc == SQLITE_ROW;
        return 0;
    }
    *row = false;
    rc = tock_sqlite_fail(b, rc, "step", err);
    sqlite3_reset(st);
    return rc;
}

int tock_sqlite_run(struct tock_sqlite *b, sqlite3_stmt *st,
                    struct tock_error *err)
{
    bool row = true;
    int rc = 0;

    while (row && rc == 0)
        rc = tock_sqlite_step(b, st, &row, err);
    sqlite3_reset(st);
    return rc;
}

int tock_sqlite_bind_text(struct tock_sqlite *b, sqlite3_stmt *st, int i,
                          const char *s, struct tock_error *err)
{
    int rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC)
               : sqlite3_bind_null(st, i);

    return rc == SQLITE_OK ? 0 : tock_sqlite_fail(b, rc, "bind", err);
}

int tock_sqlite_bind_blob(struct tock_sqlite *b, sqlite3_stmt *st, int i,
                          const void *p, size_t len, struct tock_error *err)
{
    int rc;

    if (p == NULL)
        rc = sqlite3_bind_null(st, i);
    else
        rc = sqlite3_bind_blob64(st, i, p, len, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : tock_sqlite_fail(b, rc, "bind", err);
}

int tock_sqlite_bind_i64(struct tock_sqlite *b, sqlite3_stmt *st, int i,
                         int64_t v, struct tock_error *err)
{
    int rc = sqlite3_bind_int64(st, i, v);

    return rc == SQLITE_OK ? 0 : tock_sqlite_fail(b, rc, "bind", err);
}

int tock_sqlite_col_text(sqlite3_stmt *st, int i, char **out,
                         struct tock_error *err)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    int len = sqlite3_column_bytes(st, i);

    *out = NULL;
    if (t == NULL)
        return 0;
    *out = tock_strndup((const char *)t, (size_t)len);
    if (*out == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory reading a row");
    return 0;
}

int tock_sqlite_col_blob(sqlite3_stmt *st, int i, uint8_t **out, size_t *len,
                         struct tock_error *err)
{
    const void *p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);

    *out = NULL;
    *len = 0;
    if (p == NULL || n <= 0)
        return 0;
    *out = tock_memdup(p, (size_t)n);
    if (*out == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory reading a row");
    *len = (size_t)n;
    return 0;
}

void tock_sqlite_col_copy(sqlite3_stmt *st, int i, char *buf, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t len = t ? (size_t)sqlite3_column_bytes(st, i) : 0;

    if (len >= cap)
        len = cap - 1;
    if (len > 0)
        memcpy(buf, t, len);
    buf[len] = '\0';
}

/* job_row_strings reads the owned members of the job columns. */
static int job_row_strings(sqlite3_stmt *st, struct tock_job *j,
                           struct tock_error *err)
{
    int rc;

    if ((rc = tock_sqlite_col_text(st, 0, &j->id, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 1, &j->name, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 2, &j->queue, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 3, &j->handler, err)) < 0 ||
        (rc = tock_sqlite_col_blob(st, 4, &j->args, &j->args_len, err)) < 0 ||
        (rc = tock_sqlite_col_text(st, 5, &j->trigger, err)) < 0)
        return rc;
    if (j->id == NULL || j->queue == NULL || j->handler == NULL ||
        j->trigger == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory reading a job");
    return 0;
}

int tock_sqlite_job_row(sqlite3_stmt *st, struct tock_job_state *out,
                        struct tock_error *err)
{
    struct tock_job *j = &out->job;
    int rc;

    memset(out, 0, sizeof *out);
    rc = job_row_strings(st, j, err);
    if (rc < 0) {
        tock_job_state_clear(out);
        return rc;
    }
    j->misfire_grace_ms = sqlite3_column_int64(st, 6);
    j->coalesce = sqlite3_column_int(st, 7) != 0;
    j->max_instances = sqlite3_column_int(st, 8);
    j->jitter_ms = sqlite3_column_int64(st, 9);
    j->timeout_ms = sqlite3_column_int64(st, 10);
    j->retries = sqlite3_column_int(st, 11);
    j->retry_backoff_ms = sqlite3_column_int64(st, 12);
    j->max_deliveries = sqlite3_column_int(st, 13);
    j->paused = sqlite3_column_int(st, 14) != 0;
    j->start_ms = sqlite3_column_int64(st, 15);
    j->end_ms = sqlite3_column_int64(st, 16);
    j->version = sqlite3_column_int64(st, 17);
    out->next_fire_ms = sqlite3_column_int64(st, 18);
    out->fired_ms = sqlite3_column_int64(st, 19);
    out->epoch = sqlite3_column_int64(st, 20);
    tock_sqlite_col_copy(st, 21, out->owner, sizeof out->owner);
    out->lease_until_ms = sqlite3_column_int64(st, 22);
    out->running = sqlite3_column_int64(st, 23);
    tock_sqlite_col_copy(st, 24, out->last_status, sizeof out->last_status);
    out->created_ms = sqlite3_column_int64(st, 25);
    out->updated_ms = sqlite3_column_int64(st, 26);
    return 0;
}

/* -------------------------------------------------------------- clock */

static int64_t host_now_ms(struct tock_sqlite *b)
{
    struct timespec ts;

    if (b->clock != NULL)
        return b->clock(b->clock_ctx);
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* read_clock sets b->now_ms inside a write transaction: the host clock,
 * never below the persisted high-water mark (another process, or this one
 * before the host clock stepped back), which it then raises. A clock that
 * stepped back reads as a pause, never as time running backwards. */
static int read_clock(struct tock_sqlite *b, struct tock_error *err)
{
    sqlite3_stmt *st;
    int64_t now = host_now_ms(b), stored = 0;
    bool row;
    int rc;

    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_META_GET, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, "clock_hwm_ms", err)) < 0 ||
        (rc = tock_sqlite_step(b, st, &row, err)) < 0)
        return rc;
    if (row)
        stored = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (now < stored)
        now = stored;
    if (now < b->hwm_ms)
        now = b->hwm_ms;
    b->hwm_ms = b->now_ms = now;
    if (now == stored)
        return 0;
    if ((rc = tock_sqlite_stmt(b, TOCK_SQ_META_SET, &st, err)) < 0 ||
        (rc = tock_sqlite_bind_text(b, st, 1, "clock_hwm_ms", err)) < 0 ||
        (rc = tock_sqlite_bind_i64(b, st, 2, now, err)) < 0)
        return rc;
    return tock_sqlite_run(b, st, err);
}

uint64_t tock_sqlite_random(struct tock_sqlite *b)
{
    uint64_t x = b->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ------------------------------------------------------ transactions */

void tock_sqlite_reset_all(struct tock_sqlite *b)
{
    for (int i = 0; i < TOCK_SQ_COUNT_; i++)
        if (b->stmt[i] != NULL)
            sqlite3_reset(b->stmt[i]);
}

int tock_sqlite_exec(struct tock_sqlite *b, enum tock_sqlite_stmt id,
                     struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc = tock_sqlite_stmt(b, id, &st, err);

    return rc < 0 ? rc : tock_sqlite_run(b, st, err);
}

int tock_sqlite_begin(struct tock_sqlite *b, struct tock_error *err)
{
    int rc = tock_sqlite_exec(b, TOCK_SQ_BEGIN, err);

    if (rc < 0)
        return rc;
    b->txn_event_id = 0;
    rc = read_clock(b, err);
    if (rc < 0)
        return tock_sqlite_end(b, rc, err);
    return 0;
}

int tock_sqlite_end(struct tock_sqlite *b, int rc, struct tock_error *err)
{
    struct tock_error ignored;

    if (rc == 0 && b->txn_event_id > 0)
        rc = tock_sqlite_events_trim(b, err);
    tock_sqlite_reset_all(b);
    if (rc == 0) {
        rc = tock_sqlite_exec(b, TOCK_SQ_COMMIT, err);
        if (rc == 0)
            return 0;
    }
    /* SQLite may already have rolled back (a full disk, an I/O error);
     * only an open transaction is rolled back here. */
    if (!sqlite3_get_autocommit(b->db))
        tock_sqlite_exec(b, TOCK_SQ_ROLLBACK, &ignored);
    tock_sqlite_reset_all(b);
    return rc;
}

static int sqlite_now(struct tock_store *s, int64_t *now_ms,
                      struct tock_error *err)
{
    struct tock_sqlite *b = s->backend;
    int rc = tock_sqlite_begin(b, err);

    if (rc < 0)
        return rc;
    *now_ms = b->now_ms;
    return tock_sqlite_end(b, 0, err);
}

struct tock_sqlite *tock_sqlite_of(struct tock_store *s)
{
    if (s == NULL || s->ops != &tock_store_sqlite_ops)
        return NULL;
    return s->backend;
}

void tock_sqlite_set_clock(struct tock_store *s, tock_sqlite_clock_fn fn,
                           void *ctx)
{
    struct tock_sqlite *b = tock_sqlite_of(s);

    if (b == NULL)
        return;
    b->clock = fn;
    b->clock_ctx = ctx;
}

/* ---------------------------------------------------------- ops table */

const struct tock_store_ops tock_store_sqlite_ops = {
    .kind = "sqlite",
    .open = tock_sqlite_open,
    .close = tock_sqlite_close,
    .now = sqlite_now,
    .job_put = tock_sqlite_job_put,
    .job_get = tock_sqlite_job_get,
    .job_list = tock_sqlite_job_list,
    .job_remove = tock_sqlite_job_remove,
    .job_set_paused = tock_sqlite_job_set_paused,
    .job_run_now = tock_sqlite_job_run_now,
    .claim = tock_sqlite_claim,
    .commit = tock_sqlite_commit,
    .release = tock_sqlite_release,
    .task_take = tock_sqlite_task_take,
    .task_touch = tock_sqlite_task_touch,
    .task_report = tock_sqlite_task_report,
    .task_reclaim = tock_sqlite_task_reclaim,
    .task_release = tock_sqlite_task_release,
    .runs = tock_sqlite_runs,
    .events = tock_sqlite_events,
};
