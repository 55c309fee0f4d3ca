/* sqlite.c: the SQLite store: opening a file safely, the schema and its
 * migrations, the statement cache, transactions, the store clock, error
 * mapping, and the ops table that store.c dispatches to.
 *
 * ON open(sqlite:PATH):
 *   1. Refuse what is not a plain path (empty, "file:" URIs, ":memory:").
 *   2. Create PATH with open(O_CREAT|O_EXCL|O_NOFOLLOW, 0600) if it does not
 *      exist; otherwise require a non-empty regular file (not a symlink,
 *      not a directory).
 *   3. sqlite3_open_v2 without SQLITE_OPEN_CREATE and with
 *      SQLITE_OPEN_NOFOLLOW; then the defensive settings (below).
 *   4. Read the header: application_id and user_version. An existing file
 *      that is not a tock database, or is unreadable, is refused untouched.
 *   5. WAL, synchronous=FULL, busy_timeout.
 *   6. In one BEGIN IMMEDIATE: run the migrations from the file's version to
 *      TOCK_SQLITE_SCHEMA, or refuse a newer schema.
 *   If anything fails after step 2 created the file, the file is removed:
 *   a failed open never leaves a half-made database behind.
 *
 * Step 2: because SQLite creates files 0644 under umask 022 (verified), and
 *   changing the umask is process-wide (not a library's business).
 *   SQLite gives the -wal and -shm files the database file's mode.
 * Step 2: an existing empty file is refused, not initialised: a database
 *   truncated to nothing has lost its data and must not silently become a
 *   new, empty store.
 * Step 4 before step 5: setting the journal mode writes the header, and a
 *   file that is not ours must not be changed at all.
 * Step 5: synchronous=FULL makes every commit fsync the WAL. With NORMAL, a
 *   power loss may roll back the last commits although they were
 *   acknowledged: a dispatched occurrence whose task a worker already ran
 *   would fire again after the restart, and an added job could vanish.
 */
#include "store/sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

/* ------------------------------------------------------------- schema */

/* Migrations: entry i takes a database from version i to version i+1, as
 * an ordered list of single statements whose last one sets user_version.
 * Version 0 is an empty file.
 *
 * HOW TO BUMP THE SCHEMA.
 *  1. Append schema_vN (ALTER TABLE / CREATE ... statements that take a
 *     version N-1 database to N, ending with "PRAGMA user_version = N") and
 *     its entry in `migrations`; raise TOCK_SQLITE_SCHEMA to N.
 *  2. Never edit a released migration: databases in the field ran it.
 *  3. Keep the old reader paths working on migrated data (new columns get
 *     defaults), add a test that opens a file of version N-1 (made with the
 *     old statements) and checks it was carried forward, and describe the
 *     change in docs/store-sqlite.md ("Schema versions").
 *  An older tock refuses a newer file (TOCK_EVERSION), so downgrades need a
 *  backup taken before the upgrade. */
static const char *const schema_v1[] = {
    "CREATE TABLE meta ("
    " key TEXT PRIMARY KEY,"
    " value ANY) STRICT",

    "CREATE TABLE jobs ("
    " id TEXT PRIMARY KEY,"
    " name TEXT,"
    " queue TEXT NOT NULL,"
    " handler TEXT NOT NULL,"
    " args BLOB,"
    " trigger_spec TEXT NOT NULL,"
    " misfire_grace_ms INTEGER NOT NULL,"
    " coalesce_missed INTEGER NOT NULL,"
    " max_instances INTEGER NOT NULL,"
    " jitter_ms INTEGER NOT NULL,"
    " timeout_ms INTEGER NOT NULL,"
    " retries INTEGER NOT NULL,"
    " retry_backoff_ms INTEGER NOT NULL,"
    " max_deliveries INTEGER NOT NULL,"
    " paused INTEGER NOT NULL,"
    " start_ms INTEGER NOT NULL,"
    " end_ms INTEGER NOT NULL,"
    " version INTEGER NOT NULL,"
    " next_fire_ms INTEGER NOT NULL,"
    " fired_ms INTEGER NOT NULL,"
    " epoch INTEGER NOT NULL,"
    " owner TEXT NOT NULL DEFAULT '',"
    " lease_until_ms INTEGER NOT NULL DEFAULT 0,"
    " last_commit TEXT NOT NULL DEFAULT '',"
    " last_commit_task INTEGER NOT NULL DEFAULT 0,"
    " running INTEGER NOT NULL DEFAULT 0,"
    " last_status TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL) STRICT",

    /* Unclaimed, unpaused, unfinished jobs by due time: what claim scans. */
    "CREATE INDEX jobs_due ON jobs(next_fire_ms, id)"
    " WHERE owner = '' AND paused = 0 AND next_fire_ms >= 0",
    /* Claimed jobs by lease expiry: what reclaim scans. */
    "CREATE INDEX jobs_claimed ON jobs(lease_until_ms) WHERE owner <> ''",

    "CREATE TABLE runs ("
    " occ TEXT PRIMARY KEY,"
    " job TEXT NOT NULL,"
    " sched_ms INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('dispatched', 'running', 'ok',"
    "  'error', 'timeout', 'crashed', 'cancelled', 'missed', 'skipped',"
    "  'dead')),"
    " fired_ms INTEGER NOT NULL DEFAULT 0,"
    " node TEXT,"
    " worker TEXT,"
    " attempt INTEGER NOT NULL DEFAULT 1,"
    " started_ms INTEGER NOT NULL DEFAULT 0,"
    " finished_ms INTEGER NOT NULL DEFAULT 0,"
    " exit_code INTEGER NOT NULL DEFAULT -1,"
    " error TEXT,"
    " output BLOB,"
    " report_task INTEGER NOT NULL DEFAULT 0,"
    " report_consumer TEXT NOT NULL DEFAULT '',"
    " report_deliveries INTEGER NOT NULL DEFAULT 0) STRICT",
    "CREATE INDEX runs_job ON runs(job, sched_ms)",
    "CREATE INDEX runs_sched ON runs(sched_ms)",

    /* AUTOINCREMENT: a task id is never reused, so a stale report naming
     * a finished task can never match a newer one. */
    "CREATE TABLE tasks ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " queue TEXT NOT NULL,"
    " occ TEXT NOT NULL,"
    " job TEXT NOT NULL,"
    " attempt INTEGER NOT NULL,"
    " body BLOB NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('ready', 'leased')),"
    " consumer TEXT NOT NULL DEFAULT '',"
    " deliveries INTEGER NOT NULL DEFAULT 0,"
    " max_deliveries INTEGER NOT NULL,"
    " retries INTEGER NOT NULL,"
    " retry_backoff_ms INTEGER NOT NULL,"
    " lease_until_ms INTEGER NOT NULL DEFAULT 0,"
    " available_at_ms INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL) STRICT",
    "CREATE INDEX tasks_ready ON tasks(queue, available_at_ms, id)"
    " WHERE state = 'ready'",
    "CREATE INDEX tasks_leased ON tasks(lease_until_ms)"
    " WHERE state = 'leased'",
    "CREATE INDEX tasks_job ON tasks(job)",

    /* AUTOINCREMENT: `tock events --follow` pages by id, so ids must only
     * grow, even after the newest events were trimmed. */
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " type TEXT NOT NULL,"
    " ts_ms INTEGER NOT NULL,"
    " job TEXT,"
    " occ TEXT,"
    " node TEXT,"
    " detail TEXT) STRICT",

    "INSERT INTO meta(key, value) VALUES('app', 'tock')",
    "INSERT INTO meta(key, value) VALUES('time_unit', 'ms')",
    "INSERT INTO meta(key, value) VALUES('clock_hwm_ms', 0)",
    "PRAGMA application_id = 1953457003", /* TOCK_SQLITE_APP_ID */
    "PRAGMA user_version = 1",
    NULL,
};

static const char *const *const migrations[] = {
    schema_v1, /* 0 -> 1 */
};

_Static_assert(sizeof migrations / sizeof migrations[0] == TOCK_SQLITE_SCHEMA,
               "one migration per schema version");
_Static_assert(TOCK_SQLITE_APP_ID == 1953457003, "app id literal above");

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

/* shorten_path keeps the tail of a long path for messages, so the fix that
 * follows it still fits in TOCK_ERRSTR_MAX. */
static void shorten_path(char *dst, size_t cap, const char *path)
{
    size_t len = strlen(path);
    size_t keep = cap - 4;

    if (len < cap) {
        memcpy(dst, path, len + 1);
        return;
    }
    memcpy(dst, "...", 3);
    memcpy(dst + 3, path + len - keep, keep + 1);
}

/* -------------------------------------------------- statements, rows */

static int prepare(struct tock_sqlite *b, const char *sql, sqlite3_stmt **out,
                   struct tock_error *err)
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
        rc = prepare(b, stmt_sql[id], &b->stmt[id], err);
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

static int exec_cached(struct tock_sqlite *b, enum tock_sqlite_stmt id,
                       struct tock_error *err)
{
    sqlite3_stmt *st;
    int rc = tock_sqlite_stmt(b, id, &st, err);

    return rc < 0 ? rc : tock_sqlite_run(b, st, err);
}

int tock_sqlite_begin(struct tock_sqlite *b, struct tock_error *err)
{
    int rc = exec_cached(b, TOCK_SQ_BEGIN, err);

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
        rc = exec_cached(b, TOCK_SQ_COMMIT, err);
        if (rc == 0)
            return 0;
    }
    /* SQLite may already have rolled back (a full disk, an I/O error);
     * only an open transaction is rolled back here. */
    if (!sqlite3_get_autocommit(b->db))
        exec_cached(b, TOCK_SQ_ROLLBACK, &ignored);
    tock_sqlite_reset_all(b);
    return rc;
}

/* ------------------------------------------------------------ opening */

/* check_path refuses store paths that are not plain file paths. */
static int check_path(const char *path, struct tock_error *err)
{
    if (*path == '\0')
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL 'sqlite:' has no path; use "
                              "sqlite:PATH, e.g. sqlite:/var/lib/tock/tock.db");
    if (strncmp(path, "file:", 5) == 0 || strchr(path, '?') != NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "SQLite URI filenames ('%.40s') are not "
                              "supported; give a plain file path: "
                              "sqlite:/path/to/tock.db", path);
    if (strcmp(path, ":memory:") == 0 || path[0] == ':')
        return tock_error_set(err, TOCK_EINVAL,
                              "an in-memory SQLite store ('%.40s') would lose "
                              "every job on exit; give a file path: "
                              "sqlite:/path/to/tock.db", path);
    if (strncmp(path, "//", 2) == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL 'sqlite:%.40s' has '//'; write "
                              "sqlite:/abs/path or sqlite:rel/path", path);
    if (strlen(path) >= PATH_MAX)
        return tock_error_set(err, TOCK_EINVAL,
                              "store path is longer than %d bytes", PATH_MAX);
    return 0;
}

/* check_existing explains why an existing path cannot be a store. */
static int check_existing(struct tock_sqlite *b, struct tock_error *err)
{
    struct stat st;

    if (lstat(b->path, &st) != 0)
        return tock_error_set(err, TOCK_EIO, "cannot stat %s: %s", b->shown,
                              strerror(errno));
    if (S_ISLNK(st.st_mode))
        return tock_error_set(err, TOCK_EINVAL,
                              "%s is a symbolic link; tock opens only a "
                              "regular file (give the link's target)",
                              b->shown);
    if (S_ISDIR(st.st_mode))
        return tock_error_set(err, TOCK_EINVAL,
                              "%s is a directory; give a file path such as "
                              "%.60s/tock.db", b->shown, b->shown);
    if (!S_ISREG(st.st_mode))
        return tock_error_set(err, TOCK_EINVAL,
                              "%s is not a regular file", b->shown);
    if (st.st_size == 0)
        return tock_error_set(err, TOCK_ECORRUPT,
                              "%s is empty, not a tock database; remove it "
                              "to create a new store there, or restore a "
                              "backup", b->shown);
    return 0;
}

/* open_error explains a failed open(2) or lstat(2) of the store path. */
static int open_error(struct tock_sqlite *b, int e, struct tock_error *err)
{
    switch (e) {
    case ENOENT:
        return tock_error_set(err, TOCK_ENOENT,
                              "the directory of %s does not exist; create it "
                              "first (mkdir -p -m 700 DIR)", b->shown);
    case EACCES:
    case EPERM:
        return tock_error_set(err, TOCK_EAUTH,
                              "permission denied creating %s; choose a "
                              "directory this user can write", b->shown);
    case EROFS:
        return tock_error_set(err, TOCK_EIO,
                              "cannot create %s: read-only file system",
                              b->shown);
    case ENOSPC:
        return tock_error_set(err, TOCK_ENOSPC, "disk full writing %s",
                              b->shown);
    case ENOTDIR:
        return tock_error_set(err, TOCK_EINVAL,
                              "a parent of %s is not a directory", b->shown);
    default:
        return tock_error_set(err, TOCK_EIO, "cannot create %s: %s", b->shown,
                              strerror(e));
    }
}

/* publish gives the initialised file `tmp` its final name without ever
 * replacing an existing file: rename with RENAME_NOREPLACE, or link where
 * the file system cannot do that. *lost is true when another process
 * created the store first. */
static int publish(struct tock_sqlite *b, const char *tmp, bool *lost,
                   struct tock_error *err)
{
    *lost = false;
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, b->path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
        if (link(tmp, b->path) == 0)
            return 0;
    }
    if (errno == EEXIST) {
        *lost = true;
        return 0;
    }
    return open_error(b, errno, err);
}
/* harden applies the settings of sqlite.org/security.html: the file may
 * have been crafted by someone else, so its schema is not trusted to call
 * functions, triggers and views do not run, nothing can load an extension,
 * and sizes are bounded. */
static int harden(struct tock_sqlite *b, struct tock_error *err)
{
    static const int off[] = {
        SQLITE_DBCONFIG_TRUSTED_SCHEMA, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION,
        SQLITE_DBCONFIG_ENABLE_TRIGGER, SQLITE_DBCONFIG_ENABLE_VIEW,
        SQLITE_DBCONFIG_DQS_DML,        SQLITE_DBCONFIG_DQS_DDL,
    };
    int rc = sqlite3_db_config(b->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

    for (size_t i = 0; rc == SQLITE_OK && i < sizeof off / sizeof off[0]; i++)
        rc = sqlite3_db_config(b->db, off[i], 0, NULL);
    if (rc != SQLITE_OK)
        return tock_sqlite_fail(b, rc, "configure", err);
    sqlite3_limit(b->db, SQLITE_LIMIT_LENGTH, TOCK_SQLITE_MAX_LENGTH);
    sqlite3_limit(b->db, SQLITE_LIMIT_SQL_LENGTH, 4096);
    sqlite3_limit(b->db, SQLITE_LIMIT_COLUMN, 64);
    sqlite3_limit(b->db, SQLITE_LIMIT_EXPR_DEPTH, 32);
    sqlite3_limit(b->db, SQLITE_LIMIT_COMPOUND_SELECT, 4);
    sqlite3_limit(b->db, SQLITE_LIMIT_VDBE_OP, 10000);
    sqlite3_limit(b->db, SQLITE_LIMIT_FUNCTION_ARG, 8);
    sqlite3_limit(b->db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(b->db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 64);
    sqlite3_limit(b->db, SQLITE_LIMIT_VARIABLE_NUMBER, 32);
    sqlite3_limit(b->db, SQLITE_LIMIT_TRIGGER_DEPTH, 1);
    sqlite3_busy_timeout(b->db, (int)b->busy_timeout_ms);
    return 0;
}

/* exec_sql runs one constant statement (pragmas, migrations) and keeps
 * its first result column as an integer in *value (may be NULL). */
static int exec_sql(struct tock_sqlite *b, const char *sql, int64_t *value,
                    struct tock_error *err)
{
    sqlite3_stmt *st = NULL;
    bool row = true;
    int rc = prepare(b, sql, &st, err);

    while (rc == 0 && row) {
        rc = tock_sqlite_step(b, st, &row, err);
        if (rc == 0 && row && value != NULL) {
            *value = sqlite3_column_int64(st, 0);
            value = NULL;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* check_header reads the header fields that say whose file this is,
 * before anything writes to it. */
static int check_header(struct tock_sqlite *b, bool created, int64_t *version,
                        struct tock_error *err)
{
    int64_t app = 0;
    int rc;

    *version = 0;
    if ((rc = exec_sql(b, "PRAGMA application_id", &app, err)) < 0 ||
        (rc = exec_sql(b, "PRAGMA user_version", version, err)) < 0)
        return rc;
    if (created || app == TOCK_SQLITE_APP_ID)
        return 0;
    return tock_error_set(err, TOCK_ECORRUPT,
                          "%s is not a tock database or is corrupt (it is "
                          "a SQLite file of another application); give "
                          "another path, or run `sqlite3 %s 'PRAGMA "
                          "integrity_check'` or restore a backup",
                          b->shown, b->shown);
}

/* set_modes switches to WAL and full sync (why: top of this file). */
static int set_modes(struct tock_sqlite *b, struct tock_error *err)
{
    sqlite3_stmt *st = NULL;
    char mode[16] = "";
    bool row;
    int rc = prepare(b, "PRAGMA journal_mode = WAL", &st, err);

    if (rc == 0)
        rc = tock_sqlite_step(b, st, &row, err);
    if (rc == 0 && row)
        tock_sqlite_col_copy(st, 0, mode, sizeof mode);
    sqlite3_finalize(st);
    if (rc < 0)
        return rc;
    if (strcmp(mode, "wal") != 0)
        return tock_error_set(err, TOCK_EIO,
                              "database %s cannot use WAL mode (it is '%s'); "
                              "put it on a local file system", b->shown, mode);
    if ((rc = exec_sql(b, "PRAGMA synchronous = FULL", NULL, err)) < 0 ||
        (rc = exec_sql(b, "PRAGMA cell_size_check = ON", NULL, err)) < 0 ||
        (rc = exec_sql(b, "PRAGMA mmap_size = 0", NULL, err)) < 0 ||
        (rc = exec_sql(b, "PRAGMA journal_size_limit = 16777216", NULL,
                       err)) < 0)
        return rc;
    return 0;
}

/* migrate brings the schema to TOCK_SQLITE_SCHEMA in one transaction. */
static int migrate(struct tock_sqlite *b, struct tock_error *err)
{
    int64_t version = 0;
    int rc = exec_cached(b, TOCK_SQ_BEGIN, err);

    if (rc < 0)
        return rc;
    /* Read again under the write lock: another process may have migrated
     * the file since check_header looked. */
    rc = exec_sql(b, "PRAGMA user_version", &version, err);
    if (rc == 0 && version > TOCK_SQLITE_SCHEMA)
        rc = tock_error_set(err, TOCK_EVERSION,
                            "%s has schema version %lld, newer than this tock "
                            "understands (%d); upgrade tock", b->shown,
                            (long long)version, TOCK_SQLITE_SCHEMA);
    if (rc == 0 && version < 0)
        rc = tock_sqlite_fail(b, SQLITE_CORRUPT, "schema", err);
    for (int64_t v = version; rc == 0 && v < TOCK_SQLITE_SCHEMA; v++)
        for (const char *const *sql = migrations[v]; rc == 0 && *sql; sql++)
            rc = exec_sql(b, *sql, NULL, err);
    if (rc == 0)
        rc = exec_cached(b, TOCK_SQ_COMMIT, err);
    if (rc < 0 && !sqlite3_get_autocommit(b->db)) {
        struct tock_error ignored;
        exec_cached(b, TOCK_SQ_ROLLBACK, &ignored);
    }
    return rc;
}

static void close_db(struct tock_sqlite *b)
{
    for (int i = 0; i < TOCK_SQ_COUNT_; i++) {
        sqlite3_finalize(b->stmt[i]);
        b->stmt[i] = NULL;
    }
    sqlite3_close(b->db);
    b->db = NULL;
}

/* open_db opens `file` and checks its header; `fresh` accepts the blank
 * header of a file this process just created. */
static int open_db(struct tock_sqlite *b, const char *file, bool fresh,
                   struct tock_error *err)
{
    int64_t version;
    int rc = sqlite3_open_v2(file, &b->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
                                 SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX,
                             NULL);

    if (rc != SQLITE_OK)
        return tock_sqlite_fail(b, rc, "open", err);
    if ((rc = harden(b, err)) < 0 ||
        (rc = check_header(b, fresh, &version, err)) < 0)
        return rc;
    if (sqlite3_db_readonly(b->db, "main") == 1)
        return tock_sqlite_fail(b, SQLITE_READONLY, "open", err);
    return 0;
}

/* remove_file deletes a file this open created, with SQLite's side
 * files. */
static void remove_file(const char *path)
{
    static const char *const suffix[] = {"-wal", "-shm", "-journal"};
    char side[PATH_MAX + 96];

    unlink(path);
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(side, sizeof side, "%s%s", path, suffix[i]);
        unlink(side);
    }
}

/* sync_dir makes a new directory entry durable. */
static void sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* init_tmp creates `tmp` (0600) and initialises the schema in it, in the
 * rollback-journal mode, so the closed file holds everything. */
static int init_tmp(struct tock_sqlite *b, const char *tmp,
                    struct tock_error *err)
{
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    int rc;

    if (fd < 0)
        return open_error(b, errno, err);
    close(fd);
    rc = open_db(b, tmp, true, err);
    if (rc == 0)
        rc = migrate(b, err);
    close_db(b);
    return rc;
}

/* create_store makes a new database at b->path unless one appears there
 * first. It is built under a temporary name and then published, so the
 * store path never names a half-made (empty) database: an empty file at
 * the path is always a damaged one. */
static int create_store(struct tock_sqlite *b, struct tock_error *err)
{
    char tmp[PATH_MAX + 64];
    bool lost = false;
    int rc;

    snprintf(tmp, sizeof tmp, "%s.tock-init-%ld-%08llx", b->path,
             (long)getpid(), (unsigned long long)(tock_sqlite_random(b) >> 32));
    rc = init_tmp(b, tmp, err);
    if (rc == 0)
        rc = publish(b, tmp, &lost, err);
    remove_file(tmp);
    if (rc == 0 && !lost)
        sync_dir(b->path);
    return rc;
}

/* ensure_store leaves a tock database (or a file to refuse) at b->path. */
static int ensure_store(struct tock_sqlite *b, struct tock_error *err)
{
    struct stat st;
    int rc;

    if (lstat(b->path, &st) == 0)
        return check_existing(b, err);
    if (errno != ENOENT)
        return open_error(b, errno, err);
    rc = create_store(b, err);
    return rc < 0 ? rc : check_existing(b, err);
}

static void seed_rng(struct tock_sqlite *b)
{
    uint64_t seed = 0;

    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)host_now_ms(b) ^ ((uint64_t)getpid() << 32);
    b->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

static struct tock_sqlite *backend_new(const char *path,
                                       const struct tock_store_tuning *t)
{
    struct tock_sqlite *b = tock_calloc(1, sizeof *b);

    if (b == NULL)
        return NULL;
    b->path = tock_strdup(path);
    if (b->path == NULL) {
        tock_free(b);
        return NULL;
    }
    shorten_path(b->shown, sizeof b->shown, path);
    b->busy_timeout_ms = t->busy_timeout_ms > 0 ? t->busy_timeout_ms
                                                : TOCK_SQLITE_BUSY_TIMEOUT_MS;
    if (b->busy_timeout_ms > INT_MAX)
        b->busy_timeout_ms = INT_MAX;
    b->runs_per_job = t->runs_per_job > 0 ? t->runs_per_job
                                          : TOCK_SQLITE_RUNS_PER_JOB;
    b->events_max = t->events_max > 0 ? t->events_max : TOCK_SQLITE_EVENTS_MAX;
    seed_rng(b);
    return b;
}

static void backend_free(struct tock_sqlite *b)
{
    if (b == NULL)
        return;
    close_db(b);
    tock_free(b->path);
    tock_free(b);
}

static int sqlite_open(struct tock_store *s, const char *url,
                       struct tock_error *err)
{
    const char *path = url + strlen("sqlite:");
    struct tock_sqlite *b = NULL;
    int rc = check_path(path, err);

    if (rc < 0)
        return rc;
    b = backend_new(path, &s->tuning);
    if (b == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory opening %s",
                              url);
    rc = ensure_store(b, err);
    if (rc == 0)
        rc = open_db(b, b->path, false, err);
    if (rc == 0)
        rc = set_modes(b, err);
    if (rc == 0)
        rc = migrate(b, err);
    if (rc < 0) {
        backend_free(b);
        return rc;
    }
    s->backend = b;
    return 0;
}

static void sqlite_close(struct tock_store *s)
{
    backend_free(s->backend);
    s->backend = NULL;
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
    .open = sqlite_open,
    .close = sqlite_close,
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
