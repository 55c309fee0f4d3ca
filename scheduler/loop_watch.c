/* loop_watch.c: how the firing loop hears that another process changed the
 * SQLite database (loop.h "WAKING").
 *
 * ON a write by any connection to the database (WAL mode: the -wal file):
 *   1. inotify reports it (uv_fs_event on the -wal file, or on the
 *      directory, filtered by name, while the -wal file does not exist);
 *   2. the loop runs `PRAGMA data_version` on the store's own connection on
 *      the store thread;
 *   3. a new value means another connection committed: the loop claims.
 * Step 2: because the loop's own claims and commits write the same file;
 * data_version ignores the connection's own commits, so the loop never
 * wakes itself into a cycle. Rejected: a second connection of our own (it
 * sees our commits as foreign), and comparing file sizes or times (racy).
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "scheduler/loop_internal.h"
#include "store/sqlite.h"

#define LOGC "scheduler"

int tock_loop_data_version(struct tock_store *s, int64_t *out,
                           struct tock_error *err)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db;
    int rc;

    *out = -1;
    if (strcmp(tock_store_kind(s), "sqlite") != 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "only a SQLite store has a data_version");
    db = tock_sqlite_of(s)->db;
    rc = sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return tock_error_set(err, TOCK_EIO, "PRAGMA data_version: %s",
                              sqlite3_errmsg(db));
    return 0;
}

/* base_of returns the last path component of `path`. */
static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

/* relevant reports whether an event on directory entry `name` concerns the
 * database: the file itself or its -wal. */
static bool relevant(const struct tock_loop *l, const char *name)
{
    const char *base = base_of(l->watch_path);
    size_t n = strlen(base);

    if (name == NULL)
        return true; /* the platform did not say: assume it does */
    return strncmp(name, base, n) == 0 &&
           (name[n] == '\0' || strcmp(name + n, "-wal") == 0);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events,
                        int status);

/* watch_target starts the watcher on `path`; returns the uv error. */
static int watch_target(struct tock_loop *l, const char *path, bool is_dir)
{
    int rc = uv_fs_event_start(&l->watch, on_fs_event, path, 0);

    l->watch_active = rc == 0;
    l->watch_is_dir = is_dir;
    return rc;
}

void tock_loop_watch_start(struct tock_loop *l)
{
    size_t n = strlen(l->watch_path);
    char *wal = tock_malloc(n + 5), *dir = tock_malloc(n + 2);
    const char *base;
    int rc = UV_ENOMEM;

    if (wal != NULL && dir != NULL) {
        snprintf(wal, n + 5, "%s-wal", l->watch_path);
        base = base_of(l->watch_path);
        if (base == l->watch_path)
            strcpy(dir, ".");
        else
            snprintf(dir, n + 2, "%.*s", (int)(base - l->watch_path),
                     l->watch_path);
        rc = access(wal, F_OK) == 0 ? watch_target(l, wal, false)
                                    : watch_target(l, dir, true);
    }
    if (rc != 0)
        tock_logf(l->log, TOCK_LOG_WARN, LOGC,
                  "cannot watch %s for changes (%s); jobs changed by other "
                  "processes are noticed within %" PRId64 " ms",
                  l->watch_path, uv_strerror(rc), l->max_sleep_ms);
    tock_free(wal);
    tock_free(dir);
}

void tock_loop_watch_stop(struct tock_loop *l)
{
    if (l->watch_inited && l->watch_active)
        uv_fs_event_stop(&l->watch);
    l->watch_active = false;
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events,
                        int status)
{
    struct tock_loop *l = h->data;

    if (status < 0 || !l->watch_active)
        return;
    if (l->watch_is_dir && !relevant(l, name))
        return;
    /* The -wal file appeared (watching the directory), or the watched one
     * was removed or replaced: watch again, on the file if it is there. */
    if ((l->watch_is_dir && name != NULL && strstr(name, "-wal") != NULL) ||
        (!l->watch_is_dir && (events & UV_RENAME) != 0)) {
        bool was_dir = l->watch_is_dir;

        tock_loop_watch_stop(l);
        tock_loop_watch_start(l);
        if (was_dir && !l->watch_is_dir)
            tock_logf(l->log, TOCK_LOG_DEBUG, LOGC, "watching %s-wal",
                      l->watch_path);
    }
    tock_loop_on_change(l);
}
