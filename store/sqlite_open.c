/* sqlite_open.c: opening a SQLite store safely, its schema and its
 * migrations.
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
    int rc = tock_sqlite_prepare(b, sql, &st, err);

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
    int rc = tock_sqlite_prepare(b, "PRAGMA journal_mode = WAL", &st, err);

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
    int rc = tock_sqlite_exec(b, TOCK_SQ_BEGIN, err);

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
        rc = tock_sqlite_exec(b, TOCK_SQ_COMMIT, err);
    if (rc < 0 && !sqlite3_get_autocommit(b->db)) {
        struct tock_error ignored;
        tock_sqlite_exec(b, TOCK_SQ_ROLLBACK, &ignored);
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
                   int64_t *version, struct tock_error *err)
{
    int rc = sqlite3_open_v2(file, &b->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
                                 SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX,
                             NULL);

    if (rc != SQLITE_OK)
        return tock_sqlite_fail(b, rc, "open", err);
    if ((rc = harden(b, err)) < 0 ||
        (rc = check_header(b, fresh, version, err)) < 0)
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
    int64_t version;
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    int rc;

    if (fd < 0)
        return open_error(b, errno, err);
    close(fd);
    rc = open_db(b, tmp, true, &version, err);
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
    struct timespec ts;
    uint64_t seed = 0;

    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
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

/* warn_if_shared logs a warning when other users may read or write the
 * store (a file made by hand, or by an old tock): jobs and their args are
 * the operator's. */
static void warn_if_shared(struct tock_store *s, const struct tock_sqlite *b)
{
    struct stat st;

    if (stat(b->path, &st) == 0 && (st.st_mode & 077) != 0)
        tock_logf(s->log, TOCK_LOG_WARN, "store",
                  "store file %s has mode %04o: other users can read it; run "
                  "chmod 600 on it", b->shown, (unsigned)(st.st_mode & 07777));
}

int tock_sqlite_open(struct tock_store *s, const char *url,
                     struct tock_error *err)
{
    const char *path = url + strlen("sqlite:");
    struct tock_sqlite *b = NULL;
    int64_t version = 0;
    int rc = check_path(path, err);

    if (rc < 0)
        return rc;
    b = backend_new(path, &s->tuning);
    if (b == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory opening %s",
                              url);
    rc = ensure_store(b, err);
    if (rc == 0)
        rc = open_db(b, b->path, false, &version, err);
    if (rc == 0)
        rc = set_modes(b, err);
    /* The write lock is taken only when there is something to migrate or
     * to refuse: a CLI command opening a busy store does not queue for it. */
    if (rc == 0 && version != TOCK_SQLITE_SCHEMA)
        rc = migrate(b, err);
    if (rc < 0) {
        backend_free(b);
        return rc;
    }
    warn_if_shared(s, b);
    s->backend = b;
    return 0;
}

void tock_sqlite_close(struct tock_store *s)
{
    backend_free(s->backend);
    s->backend = NULL;
}
