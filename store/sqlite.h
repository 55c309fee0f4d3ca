/* sqlite.h: the SQLite backend's internals, shared by store/sqlite*.c.
 *
 * Not a public header: the scheduler, the worker and the CLI use store.h
 * only. Tests include it to drive the store clock and the history bounds.
 *
 * The backend is split by concern, one file each:
 *   sqlite_open.c     open, security settings, schema and migrations;
 *   sqlite.c          the statement cache, transactions, the clock, errors,
 *                     and the ops table;
 *   sqlite_jobs.c     put, get, list, remove, pause/resume, run now;
 *   sqlite_fire.c     claim, commit, release (exactly-once firing);
 *   sqlite_tasks.c    take, touch, report, reclaim, release (execution);
 *   sqlite_history.c  run records, events, trimming, history reads.
 * docs/store-sqlite.md describes the schema and every transaction.
 */
#ifndef TOCK_STORE_SQLITE_H
#define TOCK_STORE_SQLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

/* ------------------------------------------------------------ constants */

/* The schema version this binary writes (PRAGMA user_version). Bumping it:
 * see the migration list in sqlite_open.c. */
#define TOCK_SQLITE_SCHEMA 1

/* PRAGMA application_id of a tock database: "tock" in ASCII. A file with
 * another id is not ours and is never touched. */
#define TOCK_SQLITE_APP_ID 0x746f636b

/* Defaults of the knobs in struct tock_store_tuning. */
#define TOCK_SQLITE_BUSY_TIMEOUT_MS 5000
#define TOCK_SQLITE_RUNS_PER_JOB 1000
#define TOCK_SQLITE_EVENTS_MAX 100000

/* Largest value SQLite may hold in one row field (sqlite3_limit
 * SQLITE_LIMIT_LENGTH): a task frame (1 MiB args + 64 KiB) with room to
 * spare. Anything bigger is refused by SQLite itself. */
#define TOCK_SQLITE_MAX_LENGTH (2 * 1024 * 1024)

/* Retry back-off: base * 2^(attempt-1), capped, plus up to a quarter of it
 * as random jitter (so retries of many occurrences that failed together do
 * not return together). */
#define TOCK_SQLITE_BACKOFF_CAP_MS (3600LL * 1000)

/* ----------------------------------------------------- statement cache */

/* Every SQL text the backend runs, in one list so all of it can be read in
 * one place. Each is constant text with ?N parameters: nothing is ever
 * formatted into SQL. Statements are prepared on first use and kept. */
#define TOCK_SQLITE_STMTS(X)                                                   \
    /* transactions and meta */                                                \
    X(BEGIN, "BEGIN IMMEDIATE")                                                \
    X(COMMIT, "COMMIT")                                                        \
    X(ROLLBACK, "ROLLBACK")                                                    \
    X(META_GET, "SELECT value FROM meta WHERE key = ?1")                       \
    X(META_SET, "INSERT INTO meta(key, value) VALUES(?1, ?2)"                  \
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value")      \
    /* jobs */                                                                 \
    X(JOB_GET, "SELECT " TOCK_SQLITE_JOB_COLS " FROM jobs WHERE id = ?1")      \
    X(JOB_LIST, "SELECT " TOCK_SQLITE_JOB_COLS " FROM jobs ORDER BY id")       \
    X(JOB_INSERT,                                                              \
      "INSERT INTO jobs(id, name, queue, handler, args, trigger_spec,"         \
      " misfire_grace_ms, coalesce_missed, max_instances, jitter_ms,"          \
      " timeout_ms, retries, retry_backoff_ms, max_deliveries, paused,"        \
      " start_ms, end_ms, version, next_fire_ms, fired_ms, epoch,"             \
      " created_ms, updated_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"    \
      " ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, 1, ?18, ?19, 1, ?20, ?20)")    \
    X(JOB_REPLACE,                                                             \
      "UPDATE jobs SET name = ?2, queue = ?3, handler = ?4, args = ?5,"        \
      " trigger_spec = ?6, misfire_grace_ms = ?7, coalesce_missed = ?8,"       \
      " max_instances = ?9, jitter_ms = ?10, timeout_ms = ?11, retries = ?12," \
      " retry_backoff_ms = ?13, max_deliveries = ?14, paused = ?15,"           \
      " start_ms = ?16, end_ms = ?17, version = version + 1,"                  \
      " next_fire_ms = ?18, epoch = epoch + 1, owner = '', lease_until_ms = 0,"\
      " updated_ms = ?19 WHERE id = ?1")                                       \
    X(JOB_DELETE, "DELETE FROM jobs WHERE id = ?1")                            \
    X(JOB_SET_PAUSED,                                                          \
      "UPDATE jobs SET paused = ?2, next_fire_ms = ?3, version = version + 1," \
      " epoch = epoch + 1, owner = '', lease_until_ms = 0, updated_ms = ?4"    \
      " WHERE id = ?1")                                                        \
    X(JOB_LAST_RUN, "SELECT max(sched_ms) FROM runs WHERE job = ?1")           \
    X(JOB_RUNNING_ADD,                                                         \
      "UPDATE jobs SET running = max(running + ?2, 0) WHERE id = ?1")          \
    X(JOB_FINISHED,                                                            \
      "UPDATE jobs SET running = max(running - ?2, 0), last_status = ?3"       \
      " WHERE id = ?1")                                                        \
    /* claim, commit, release */                                               \
    X(CLAIM_EXPIRED,                                                           \
      "SELECT id, owner FROM jobs WHERE owner <> '' AND lease_until_ms <= ?1"         \
      " ORDER BY lease_until_ms, id LIMIT ?2")                                 \
    X(CLAIM_DUE,                                                               \
      "SELECT " TOCK_SQLITE_JOB_COLS " FROM jobs WHERE owner = ''"             \
      " AND paused = 0 AND next_fire_ms >= 0 AND next_fire_ms <= ?1"           \
      " ORDER BY next_fire_ms, id LIMIT ?2")                                   \
    X(CLAIM_SET,                                                               \
      "UPDATE jobs SET epoch = ?2, owner = ?3, lease_until_ms = ?4"            \
      " WHERE id = ?1")                                                        \
    X(CLAIM_UNSET,                                                             \
      "UPDATE jobs SET owner = '', lease_until_ms = 0, epoch = epoch + 1"       \
      " WHERE id = ?1 AND owner = ?2")                                         \
    X(NEXT_DUE,                                                                \
      "SELECT min(next_fire_ms) FROM jobs WHERE owner = '' AND paused = 0"     \
      " AND next_fire_ms >= 0")                                                \
    X(NEXT_LEASE,                                                              \
      "SELECT min(lease_until_ms) FROM jobs WHERE owner <> ''"                 \
      " AND substr(owner, 1, ?2) <> ?1")                                       \
    X(FENCE_GET,                                                               \
      "SELECT owner, epoch, version, fired_ms, running, max_instances,"        \
      " queue, max_deliveries, retries, retry_backoff_ms, last_commit,"        \
      " last_commit_task, next_fire_ms FROM jobs WHERE id = ?1")               \
    X(JOB_ADVANCE,                                                             \
      "UPDATE jobs SET fired_ms = ?2, next_fire_ms = ?3, owner = '',"          \
      " lease_until_ms = 0, last_commit = ?4, last_commit_task = ?5,"          \
      " running = running + ?6, last_status = coalesce(?7, last_status)"       \
      " WHERE id = ?1")                                                        \
    /* tasks */                                                                \
    X(TASK_INSERT,                                                             \
      "INSERT INTO tasks(queue, occ, job, attempt, body, state, deliveries,"   \
      " max_deliveries, retries, retry_backoff_ms, available_at_ms,"           \
      " created_ms) VALUES(?1, ?2, ?3, ?4, ?5, 'ready', 0, ?6, ?7, ?8, ?9,"    \
      " ?10)")                                                                 \
    X(TASK_READY,                                                              \
      "SELECT id, occ, job, attempt, deliveries, max_deliveries, body"         \
      " FROM tasks WHERE state = 'ready' AND queue = ?1"                       \
      " AND available_at_ms <= ?2 ORDER BY available_at_ms, id LIMIT ?3")      \
    X(TASK_LEASE,                                                              \
      "UPDATE tasks SET state = 'leased', consumer = ?2,"                      \
      " deliveries = deliveries + 1, lease_until_ms = ?3 WHERE id = ?1")       \
    X(TASK_TOUCH,                                                              \
      "UPDATE tasks SET lease_until_ms = ?4 WHERE id = ?1"                     \
      " AND state = 'leased' AND consumer = ?2 AND deliveries = ?3")           \
    X(TASK_GET,                                                                \
      "SELECT queue, occ, job, attempt, state, consumer, deliveries,"          \
      " max_deliveries, retries, retry_backoff_ms, body FROM tasks"            \
      " WHERE id = ?1")                                                        \
    X(TASK_DELETE, "DELETE FROM tasks WHERE id = ?1")                          \
    X(TASK_EXPIRED,                                                            \
      "SELECT id, occ, job, deliveries, max_deliveries, consumer FROM tasks"   \
      " WHERE state = 'leased' AND lease_until_ms <= ?1"                       \
      " ORDER BY lease_until_ms, id LIMIT ?2")                                 \
    X(TASK_REQUEUE,                                                            \
      "UPDATE tasks SET state = 'ready', consumer = '', lease_until_ms = 0,"   \
      " available_at_ms = ?2 WHERE id = ?1")                                   \
    X(TASK_HANDBACK,                                                           \
      "UPDATE tasks SET state = 'ready', consumer = '', lease_until_ms = 0,"   \
      " available_at_ms = ?3, deliveries = max(deliveries - 1, 0)"             \
      " WHERE id = ?1 AND state = 'leased' AND consumer = ?2"                  \
      " RETURNING occ")                                                        \
    X(RUNNING_REPAIR,                                                          \
      "UPDATE jobs SET running = (SELECT count(*) FROM tasks"                  \
      " WHERE tasks.job = jobs.id) WHERE running <> (SELECT count(*)"          \
      " FROM tasks WHERE tasks.job = jobs.id)")                                \
    /* runs */                                                                 \
    X(RUN_INSERT,                                                              \
      "INSERT INTO runs(occ, job, sched_ms, status, fired_ms, node, attempt,"  \
      " error) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"                         \
      " ON CONFLICT(occ) DO NOTHING")                                          \
    X(RUN_EXISTS, "SELECT 1 FROM runs WHERE occ = ?1")                         \
    X(RUN_GET,                                                                 \
      "SELECT status, report_task, report_consumer, report_deliveries"         \
      " FROM runs WHERE occ = ?1")                                             \
    X(RUN_STATUS,                                                              \
      "UPDATE runs SET status = ?2, worker = coalesce(?3, worker),"            \
      " attempt = coalesce(?4, attempt), started_ms = coalesce(?5,"            \
      " started_ms) WHERE occ = ?1 AND status IN ('dispatched', 'running')")   \
    X(RUN_FINISH,                                                              \
      "UPDATE runs SET status = ?2, worker = ?3, attempt = ?4,"                \
      " started_ms = ?5, finished_ms = ?6, exit_code = ?7, error = ?8,"        \
      " output = ?9, report_task = ?10, report_consumer = ?11,"                \
      " report_deliveries = ?12 WHERE occ = ?1")                               \
    X(RUN_DEAD,                                                                \
      "UPDATE runs SET status = 'dead', finished_ms = ?2, error = ?3"          \
      " WHERE occ = ?1")                                                       \
    X(RUN_RETRY,                                                               \
      "UPDATE runs SET status = 'dispatched', worker = ?2, attempt = ?3,"      \
      " started_ms = ?4, finished_ms = ?5, exit_code = ?6, error = ?7,"        \
      " output = ?8, report_task = ?9, report_consumer = ?10,"                 \
      " report_deliveries = ?11 WHERE occ = ?1")                               \
    X(RUNS_TRIM,                                                               \
      "DELETE FROM runs WHERE job = ?1 AND status NOT IN ('dispatched',"       \
      " 'running') AND sched_ms < (SELECT sched_ms FROM runs WHERE job = ?1"   \
      " ORDER BY sched_ms DESC LIMIT 1 OFFSET ?2)")                            \
    X(RUNS_ALL,                                                                \
      "SELECT " TOCK_SQLITE_RUN_COLS " FROM runs"                              \
      " ORDER BY sched_ms DESC, occ DESC LIMIT ?1")                            \
    X(RUNS_JOB,                                                                \
      "SELECT " TOCK_SQLITE_RUN_COLS " FROM runs WHERE job = ?2"               \
      " ORDER BY sched_ms DESC LIMIT ?1")                                      \
    /* events */                                                               \
    X(EVENT_ADD,                                                               \
      "INSERT INTO events(type, ts_ms, job, occ, node, detail)"                \
      " VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                                       \
    X(EVENTS_TRIM, "DELETE FROM events WHERE id <= ?1")                        \
    X(EVENTS_AFTER,                                                            \
      "SELECT id, type, ts_ms, job, occ, node, detail FROM events"             \
      " WHERE id > ?1 ORDER BY id LIMIT ?2")

/* The job columns every job read returns, in the order tock_sqlite_job_row
 * reads them. */
#define TOCK_SQLITE_JOB_COLS                                                   \
    "id, name, queue, handler, args, trigger_spec, misfire_grace_ms,"          \
    " coalesce_missed, max_instances, jitter_ms, timeout_ms, retries,"         \
    " retry_backoff_ms, max_deliveries, paused, start_ms, end_ms, version,"    \
    " next_fire_ms, fired_ms, epoch, owner, lease_until_ms, running,"          \
    " last_status, created_ms, updated_ms"

#define TOCK_SQLITE_RUN_COLS                                                   \
    "job, occ, sched_ms, status, fired_ms, started_ms, finished_ms, node,"     \
    " worker, attempt, exit_code, error, output"

enum tock_sqlite_stmt {
#define TOCK_X__STMT(name, sql) TOCK_SQ_##name,
    TOCK_SQLITE_STMTS(TOCK_X__STMT)
#undef TOCK_X__STMT
    TOCK_SQ_COUNT_
};

/* ---------------------------------------------------------------- state */

/* tock_sqlite_clock_fn: a replacement for the host clock (tests only). */
typedef int64_t (*tock_sqlite_clock_fn)(void *ctx);

/* tock_sqlite: the backend's state, s->backend. */
struct tock_sqlite {
    sqlite3 *db;
    char *path;                /* as given, owned */
    char shown[112];           /* path shortened for messages */
    sqlite3_stmt *stmt[TOCK_SQ_COUNT_];
    int64_t hwm_ms;            /* highest clock reading this handle gave */
    int64_t now_ms;            /* store clock of the open transaction */
    int64_t txn_event_id;      /* last event id added in the transaction */
    uint64_t rng;              /* xorshift64* state for back-off jitter */
    int64_t busy_timeout_ms;
    size_t runs_per_job;
    size_t events_max;
    tock_sqlite_clock_fn clock;   /* NULL: CLOCK_REALTIME */
    void *clock_ctx;
};

/* tock_sqlite_of returns the backend state of a store opened on SQLite. */
struct tock_sqlite *tock_sqlite_of(struct tock_store *s);

/* tock_sqlite_set_clock replaces the host clock of `s` with fn(ctx) (NULL
 * restores CLOCK_REALTIME). The high-water mark still applies: a fake clock
 * moved backwards reads as the mark. For tests. */
void tock_sqlite_set_clock(struct tock_store *s, tock_sqlite_clock_fn fn,
                           void *ctx);

/* ---------------------------------------------------- statements, rows */

/* tock_sqlite_stmt returns in *out the cached statement `id`, reset and
 * with its bindings cleared, preparing it on first use. The statement stays
 * owned by the cache. */
int tock_sqlite_stmt(struct tock_sqlite *b, enum tock_sqlite_stmt id,
                     sqlite3_stmt **out, struct tock_error *err);

/* tock_sqlite_step steps `st` once: *row tells whether a row is there.
 * Errors are mapped by tock_sqlite_fail (the statement is reset). */
int tock_sqlite_step(struct tock_sqlite *b, sqlite3_stmt *st, bool *row,
                     struct tock_error *err);

/* tock_sqlite_run steps `st` to its end, ignoring rows (for writes). */
int tock_sqlite_run(struct tock_sqlite *b, sqlite3_stmt *st,
                    struct tock_error *err);

/* tock_sqlite_bind_text binds `s` (NULL binds SQL NULL). SQLITE_STATIC on
 * purpose: every bound buffer outlives the statement's step, and each
 * statement is reset (dropping its bindings' use) before the caller's
 * buffers go away. */
int tock_sqlite_bind_text(struct tock_sqlite *b, sqlite3_stmt *st, int i,
                          const char *s, struct tock_error *err);
int tock_sqlite_bind_blob(struct tock_sqlite *b, sqlite3_stmt *st, int i,
                          const void *p, size_t len, struct tock_error *err);
int tock_sqlite_bind_i64(struct tock_sqlite *b, sqlite3_stmt *st, int i,
                         int64_t v, struct tock_error *err);

/* tock_sqlite_col_text returns a new copy of text column `i` (NULL for SQL
 * NULL) in *out, which the caller frees with tock_free; TOCK_ENOMEM. */
int tock_sqlite_col_text(sqlite3_stmt *st, int i, char **out,
                         struct tock_error *err);
int tock_sqlite_col_blob(sqlite3_stmt *st, int i, uint8_t **out,
                         size_t *len, struct tock_error *err);
/* tock_sqlite_col_copy copies text column `i` into buf (capacity cap);
 * longer text is cut, never overflowed. */
void tock_sqlite_col_copy(sqlite3_stmt *st, int i, char *buf, size_t cap);

/* tock_sqlite_job_row reads TOCK_SQLITE_JOB_COLS from the current row of
 * `st` into *out (overwritten; the caller clears it). */
int tock_sqlite_job_row(sqlite3_stmt *st, struct tock_job_state *out,
                        struct tock_error *err);

/* ------------------------------------------------------ transactions */

/* tock_sqlite_begin starts a write transaction (BEGIN IMMEDIATE: it takes
 * the write lock up front, so two writers never deadlock on an upgrade) and
 * reads the store clock into b->now_ms. tock_sqlite_end commits when rc is
 * 0 and otherwise rolls back; it returns rc, or the commit's error. Either
 * way the statement cache is reset, so no read snapshot stays open. */
int tock_sqlite_begin(struct tock_sqlite *b, struct tock_error *err);
int tock_sqlite_end(struct tock_sqlite *b, int rc, struct tock_error *err);

/* tock_sqlite_prepare compiles one constant statement into *out (the
 * caller finalizes it); SQL holding a second statement is refused. */
int tock_sqlite_prepare(struct tock_sqlite *b, const char *sql,
                        sqlite3_stmt **out, struct tock_error *err);

/* tock_sqlite_exec runs cached statement `id` to its end. */
int tock_sqlite_exec(struct tock_sqlite *b, enum tock_sqlite_stmt id,
                     struct tock_error *err);

/* tock_sqlite_reset_all resets every cached statement. */
void tock_sqlite_reset_all(struct tock_sqlite *b);

/* tock_sqlite_fail maps SQLite result `rc` of the step `what` to a TOCK_E*
 * code and a message that names the file and the fix:
 *   SQLITE_BUSY/LOCKED          TOCK_EBUSY "database X is locked by ...";
 *   SQLITE_FULL, IOERR+ENOSPC   TOCK_ENOSPC "disk full writing X";
 *   SQLITE_CORRUPT/NOTADB       TOCK_ECORRUPT "X is not a tock database or
 *                               is corrupt; run `sqlite3 X 'PRAGMA
 *                               integrity_check'` or restore a backup";
 *   SQLITE_NOMEM                TOCK_ENOMEM;
 *   SQLITE_TOOBIG               TOCK_ETOOBIG;
 *   anything else               TOCK_EIO with SQLite's own message. */
int tock_sqlite_fail(struct tock_sqlite *b, int rc, const char *what,
                     struct tock_error *err);

/* tock_sqlite_random returns a pseudo-random 64-bit number (jitter only:
 * not for anything secret). */
uint64_t tock_sqlite_random(struct tock_sqlite *b);

/* --------------------------------------------------------- history */

/* tock_sqlite_event adds an event stamped with the transaction's clock.
 * job, occ, node and detail may be NULL. Events past events_max are
 * trimmed when the transaction ends. */
int tock_sqlite_event(struct tock_sqlite *b, enum tock_event_type type,
                      const char *job, const char *occ, const char *node,
                      const char *detail, struct tock_error *err);

/* tock_sqlite_run_insert records a new run of `job` at `sched_ms` with
 * `status` (fired_ms is the transaction's clock); error and node may be
 * NULL. *inserted is false when the occurrence already had a record (then
 * nothing was written). */
int tock_sqlite_run_insert(struct tock_sqlite *b, const char *job,
                           int64_t sched_ms, const char *status,
                           const char *node, int32_t attempt,
                           const char *error, bool *inserted,
                           struct tock_error *err);

/* tock_sqlite_task_insert enqueues a ready task (available from
 * `available_ms`) and returns its id in *id. The body is bound
 * SQLITE_STATIC: the caller keeps it until this returns. */
struct tock_sqlite_task_new {
    const char *queue, *occ, *job;
    int32_t attempt;
    const uint8_t *body;
    size_t body_len;
    int32_t max_deliveries, retries;
    int64_t retry_backoff_ms;
    int64_t available_ms;
};
int tock_sqlite_task_insert(struct tock_sqlite *b,
                            const struct tock_sqlite_task_new *t, int64_t *id,
                            struct tock_error *err);

/* tock_sqlite_runs_trim keeps the newest runs_per_job records of `job`
 * (only finished ones are deleted). */
int tock_sqlite_runs_trim(struct tock_sqlite *b, const char *job,
                          struct tock_error *err);

/* tock_sqlite_events_trim drops events past events_max (called by
 * tock_sqlite_end inside the transaction). */
int tock_sqlite_events_trim(struct tock_sqlite *b, struct tock_error *err);

/* --------------------------------------------------------- operations */

/* The ops of store.h, one group per file. Contracts: store.h. */
int tock_sqlite_open(struct tock_store *s, const char *url,
                     struct tock_error *err);
void tock_sqlite_close(struct tock_store *s);
int tock_sqlite_job_put(struct tock_store *s, const struct tock_job *job,
                        int64_t next_fire_ms, enum tock_put_mode mode,
                        int64_t expect_version, enum tock_put_outcome *outcome,
                        int64_t *version, struct tock_error *err);
int tock_sqlite_job_get(struct tock_store *s, const char *id,
                        struct tock_job_state *out, struct tock_error *err);
int tock_sqlite_job_list(struct tock_store *s, struct tock_job_state **out,
                         size_t *n, struct tock_error *err);
int tock_sqlite_job_remove(struct tock_store *s, const char *id,
                           struct tock_error *err);
int tock_sqlite_job_set_paused(struct tock_store *s, const char *id,
                               bool paused, int64_t next_fire_ms,
                               struct tock_error *err);
int tock_sqlite_job_run_now(struct tock_store *s, const char *id,
                            tock_task_builder_fn build, void *ctx,
                            int64_t *sched_ms, struct tock_error *err);

int tock_sqlite_claim(struct tock_store *s, const char *node_nonce,
                      size_t limit, int64_t lease_ms,
                      struct tock_claim_batch *out, struct tock_error *err);
int tock_sqlite_commit(struct tock_store *s, const struct tock_commit *commits,
                       size_t n, struct tock_commit_result *results,
                       struct tock_error *err);
int tock_sqlite_release(struct tock_store *s, const struct tock_claimed *items,
                        size_t n, struct tock_error *err);

int tock_sqlite_task_take(struct tock_store *s, const char *const *queues,
                          size_t nqueues, const char *consumer, size_t max,
                          int64_t lease_ms, struct tock_task_lease **out,
                          size_t *n, struct tock_error *err);
int tock_sqlite_task_touch(struct tock_store *s, const char *consumer,
                           const int64_t *ids, const int32_t *deliveries,
                           size_t n, int64_t lease_ms, bool *ok,
                           struct tock_error *err);
int tock_sqlite_task_report(struct tock_store *s, const char *consumer,
                            const struct tock_report *reports, size_t n,
                            enum tock_report_status *status,
                            struct tock_error *err);
int tock_sqlite_task_reclaim(struct tock_store *s, size_t limit,
                             size_t *n_redelivered, size_t *n_dead,
                             struct tock_error *err);
int tock_sqlite_task_release(struct tock_store *s, const char *consumer,
                             const int64_t *ids, size_t n,
                             struct tock_error *err);

int tock_sqlite_runs(struct tock_store *s, const char *job_id, size_t limit,
                     struct tock_run **out, size_t *n, struct tock_error *err);
int tock_sqlite_events(struct tock_store *s, int64_t after_id, size_t limit,
                       struct tock_event **out, int64_t **ids, size_t *n,
                       struct tock_error *err);

#endif /* TOCK_STORE_SQLITE_H */
