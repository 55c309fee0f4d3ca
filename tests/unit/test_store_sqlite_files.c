/* test_store_sqlite_files.c: what the SQLite store does with URLs and
 * files it should not use: bad URLs, directories, missing directories,
 * symlinks, a file locked by another process, corrupt and foreign files,
 * a newer schema, and a full disk. A refused file is never changed. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_store_fixture.h"

struct dirfx {
    char *dir;
    char path[512];
    char url[600];
    struct tock_error err;
};

static int dir_setup(void **state)
{
    struct dirfx *d = calloc(1, sizeof *d);

    d->dir = tock_test_tmpdir("store-files");
    assert_non_null(d->dir);
    snprintf(d->path, sizeof d->path, "%s/tock.db", d->dir);
    snprintf(d->url, sizeof d->url, "sqlite:%s", d->path);
    *state = d;
    return 0;
}

static int dir_teardown(void **state)
{
    struct dirfx *d = *state;

    tock_test_rmtree(d->dir);
    free(d);
    return 0;
}

/* open_fails requires tock_store_open(url) to fail with `code` and `text`
 * and to hand back no store. */
static void open_fails(const char *url, int code, const char *text)
{
    struct tock_store_tuning t = {.busy_timeout_ms = 200};
    struct tock_store *s = (struct tock_store *)1;
    struct tock_error err = {0};
    int rc = tock_store_open_tuned(url, &t, NULL, &s, &err);

    assert_null(s);
    fx_expect(rc, &err, code, text);
}

/* slurp reads a whole file (up to 1 MiB) for before/after comparisons. */
static size_t slurp(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

/* make_store creates a store at d->path with `jobs` jobs and closes it. */
static void make_store(struct dirfx *d, int jobs)
{
    struct tock_store *s = NULL;
    struct tock_job j;
    uint8_t args[600];
    char id[32];

    memset(args, 0xc0, sizeof args); /* an array of nils: bulky args */
    args[0] = 0xdc;
    args[1] = 0x02;
    args[2] = 0x55;
    assert_tock_ok(tock_store_open(d->url, NULL, &s, &d->err), &d->err);
    for (int i = 0; i < jobs; i++) {
        snprintf(id, sizeof id, "job-%04d", i);
        fx_job(&j, id);
        j.args = tock_memdup(args, sizeof args);
        j.args_len = sizeof args;
        assert_tock_ok(tock_store_job_put(s, &j, FX_T0, TOCK_PUT_CREATE, 0,
                                          NULL, NULL, &d->err),
                       &d->err);
        tock_job_clear(&j);
    }
    tock_store_close(s);
}

/* expect_refused_untouched: opening d->url (or listing jobs once it is
 * open) gives `code` and `text`, and the file's bytes do not change. */
static void expect_refused_untouched(struct dirfx *d, int code,
                                     const char *text)
{
    static char before[1 << 20], after[1 << 20];
    struct tock_store_tuning t = {.busy_timeout_ms = 200};
    struct tock_store *s = NULL;
    struct tock_job_state *list = NULL;
    size_t n1 = slurp(d->path, before, sizeof before), n2, n = 0;
    int rc = tock_store_open_tuned(d->url, &t, NULL, &s, &d->err);

    if (rc == 0) {
        rc = tock_store_job_list(s, &list, &n, &d->err);
        tock_job_state_list_free(list, n);
        tock_store_close(s);
    }
    fx_expect(rc, &d->err, code, text);
    n2 = slurp(d->path, after, sizeof after);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
}

/* ----------------------------------------------------------------- URLs */

static void test_bad_urls(void **state)
{
    (void)state;
    open_fails("", TOCK_EINVAL, "has no scheme");
    open_fails("tock.db", TOCK_EINVAL, "has no scheme");
    open_fails("postgres://x", TOCK_EINVAL, "unknown store scheme 'postgres'");
    open_fails("sqlite:", TOCK_EINVAL, "has no path");
    open_fails("sqlite:file:x?mode=memory", TOCK_EINVAL,
               "URI filenames ('file:x?mode=memory') are not supported");
    open_fails("sqlite:/tmp/x.db?mode=ro", TOCK_EINVAL, "plain file path");
    open_fails("sqlite::memory:", TOCK_EINVAL, "in-memory");
    open_fails("sqlite://x.db", TOCK_EINVAL, "'//'");
    /* redis:// and unix:// go to the Redis store (its own tests:
     * test_store_redis_conn.c). */
    open_fails("redis://", TOCK_EINVAL, "no host");
    open_fails("unix://run/redis.sock", TOCK_EINVAL, "absolute");
    open_fails("rediss://h:1", TOCK_EINVAL, "TLS");
    {
        struct tock_store *s = NULL;
        struct tock_error err;
        fx_expect(tock_store_open(NULL, NULL, &s, &err), &err, TOCK_EINVAL,
                  "store URL is NULL");
    }
}

static void test_directory_and_missing_directory(void **state)
{
    struct dirfx *d = *state;
    char url[700];

    snprintf(url, sizeof url, "sqlite:%s", d->dir);
    open_fails(url, TOCK_EINVAL, "is a directory");
    snprintf(url, sizeof url, "sqlite:%s/no/such/dir/tock.db", d->dir);
    open_fails(url, TOCK_ENOENT, "does not exist; create it");
}

static void test_symlink_refused(void **state)
{
    struct dirfx *d = *state;
    char target[600], link_url[700], link_path[600];
    struct stat st;

    make_store(d, 1);
    snprintf(link_path, sizeof link_path, "%s/link.db", d->dir);
    assert_int_equal(symlink(d->path, link_path), 0);
    snprintf(link_url, sizeof link_url, "sqlite:%s", link_path);
    open_fails(link_url, TOCK_EINVAL, "is a symbolic link");
    /* A dangling link is not created through either. */
    snprintf(target, sizeof target, "%s/elsewhere.db", d->dir);
    unlink(link_path);
    assert_int_equal(symlink(target, link_path), 0);
    open_fails(link_url, TOCK_EINVAL, "is a symbolic link");
    assert_int_equal(stat(target, &st), -1);
    assert_int_equal(errno, ENOENT);
    /* A link among the directories redirects as well as a linked file. */
    snprintf(link_path, sizeof link_path, "%s/linkdir", d->dir);
    assert_int_equal(symlink(d->dir, link_path), 0);
    snprintf(link_url, sizeof link_url, "sqlite:%s/new.db", link_path);
    open_fails(link_url, TOCK_EINVAL, "goes through a symbolic link");
    snprintf(target, sizeof target, "%s/new.db", d->dir);
    assert_int_equal(stat(target, &st), -1); /* and nothing was left */
}

static void test_new_file_private_and_no_leftovers(void **state)
{
    struct dirfx *d = *state;
    struct tock_store *s = NULL;
    struct stat st;
    char cmd[700];

    assert_tock_ok(tock_store_open(d->url, NULL, &s, &d->err), &d->err);
    assert_int_equal(stat(d->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    tock_store_close(s);
    /* Only the database is left: no temporary init file. */
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", d->dir);
    assert_int_equal(system(cmd), 0);
}

static void capture_line(void *data, enum tock_log_level level,
                         const char *line)
{
    char *buf = data;

    if (level == TOCK_LOG_WARN)
        snprintf(buf, 512, "%s", line);
}

static void test_shared_file_warned(void **state)
{
    struct dirfx *d = *state;
    struct tock_log *log = tock_log_new(2, TOCK_LOG_INFO, TOCK_LOG_HUMAN);
    struct tock_store *s = NULL;
    char line[512] = "";

    assert_non_null(log);
    tock_log_set_sink(log, capture_line, line);
    make_store(d, 1);
    assert_int_equal(chmod(d->path, 0644), 0);
    assert_tock_ok(tock_store_open(d->url, log, &s, &d->err), &d->err);
    assert_non_null(strstr(line, "has mode 0644"));
    assert_non_null(strstr(line, "chmod 600"));
    tock_store_close(s);
    tock_log_free(log);
}

/* ---------------------------------------------------------------- locks */

/* hold_lock forks a process that opens the file with plain SQLite, takes
 * the write lock (BEGIN EXCLUSIVE) and keeps it until the pipe closes. */
static pid_t hold_lock(const char *path, int *release_fd)
{
    int ready[2], release[2];
    pid_t pid;
    char c;

    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        close(ready[0]);
        close(release[1]);
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        if (read(release[0], &c, 1) < 0)
            _exit(1);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    *release_fd = release[1];
    return pid;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_locked_file(void **state)
{
    struct dirfx *d = *state;
    struct tock_store_tuning t = {.busy_timeout_ms = 300};
    struct tock_store *s = NULL, *s2 = NULL;
    int64_t t0, now;
    int release, status;
    pid_t pid;

    make_store(d, 1);
    assert_tock_ok(tock_store_open_tuned(d->url, &t, NULL, &s, &d->err),
                   &d->err);
    pid = hold_lock(d->path, &release);

    /* An open handle's write waits busy_timeout, then says who to blame. */
    t0 = mono_ms();
    fx_expect(tock_store_now(s, &now, &d->err), &d->err, TOCK_EBUSY,
              "is locked by another process; is another tock standalone "
              "running?");
    assert_true(mono_ms() - t0 >= 250);
    assert_true(mono_ms() - t0 < 5000);
    assert_string_equal(tock_store_errmsg(s), d->err.msg);
    /* Opening and reading need no write lock (WAL): `tock ls` works while
     * a writer holds the file; a write from the new handle waits too. */
    assert_tock_ok(tock_store_open_tuned(d->url, &t, NULL, &s2, &d->err),
                   &d->err);
    {
        struct tock_job_state *list = NULL;
        size_t n = 0;
        assert_tock_ok(tock_store_job_list(s2, &list, &n, &d->err), &d->err);
        assert_int_equal(n, 1);
        tock_job_state_list_free(list, n);
    }
    fx_expect(tock_store_job_remove(s2, "job-0000", &d->err), &d->err,
              TOCK_EBUSY, "is locked by another process");
    tock_store_close(s2);

    /* Once the other process lets go, the same handle works again. */
    close(release);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_tock_ok(tock_store_now(s, &now, &d->err), &d->err);
    tock_store_close(s);
}

/* ----------------------------------------------------------- corruption */

static void test_header_overwritten(void **state)
{
    struct dirfx *d = *state;
    int fd;

    make_store(d, 3);
    fd = open(d->path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "garbage garbage!", 16, 0), 16);
    close(fd);
    expect_refused_untouched(d, TOCK_ECORRUPT,
                             "is not a tock database or is corrupt; run "
                             "`sqlite3");
}

static void test_text_file(void **state)
{
    struct dirfx *d = *state;
    const char *text = "these are my notes, not a database\n";

    write_file(d->path, text, strlen(text));
    expect_refused_untouched(d, TOCK_ECORRUPT, "PRAGMA integrity_check");
}

static void test_truncated_file(void **state)
{
    struct dirfx *d = *state;
    struct stat st;

    make_store(d, 200);
    assert_int_equal(stat(d->path, &st), 0);
    assert_true(st.st_size > 64 * 1024);
    assert_int_equal(truncate(d->path, st.st_size / 2), 0);
    expect_refused_untouched(d, TOCK_ECORRUPT, "restore a backup");
}

static void test_empty_file(void **state)
{
    struct dirfx *d = *state;

    write_file(d->path, "", 0);
    open_fails(d->url, TOCK_ECORRUPT, "is empty, not a tock database");
}

static void test_foreign_database(void **state)
{
    struct dirfx *d = *state;
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(d->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE notes(x)", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    expect_refused_untouched(d, TOCK_ECORRUPT, "another application");
}

static void test_newer_schema(void **state)
{
    struct dirfx *d = *state;
    sqlite3 *db = NULL;

    make_store(d, 1);
    assert_int_equal(sqlite3_open(d->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    expect_refused_untouched(d, TOCK_EVERSION,
                             "schema version 99, newer than this tock");
}

static void test_error_mapping(void **state)
{
    struct fx *f = *state;
    struct tock_sqlite *b = tock_sqlite_of(f->s);
    struct tock_error err;

    fx_expect(tock_sqlite_fail(b, SQLITE_FULL, "commit", &err), &err,
              TOCK_ENOSPC, "disk full writing");
    fx_expect(tock_sqlite_fail(b, SQLITE_BUSY_SNAPSHOT, "commit", &err), &err,
              TOCK_EBUSY, "locked");
    fx_expect(tock_sqlite_fail(b, SQLITE_CORRUPT_INDEX, "read", &err), &err,
              TOCK_ECORRUPT, "corrupt");
    fx_expect(tock_sqlite_fail(b, SQLITE_IOERR_FSYNC, "commit", &err), &err,
              TOCK_EIO, "commit");
}

/* ------------------------------------------------------------ disk full */

/* test_disk_full runs a store on a 1 MiB tmpfs (in a child with its own
 * mount namespace, so nothing is mounted for anyone else) and fills it:
 * the failing commit is "disk full writing X", leaves nothing half
 * written, and the store works again once space is freed. Skipped where
 * the sandbox forbids namespaces or mounts. */
static int disk_full_child(const char *dir)
{
    char path[600], url[700], filler[600];
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    struct tock_job j;
    uint8_t args[4096];
    int rc = 0, i;

    if (unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0)
        return 77;
    snprintf(path, sizeof path, "%s/tock.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    if (tock_store_open(url, NULL, &s, &err) != 0)
        return 2;
    memset(args, 0xc0, sizeof args);
    args[0] = 0xdc;
    args[1] = 0x0f;
    args[2] = 0xfd;
    for (i = 0; rc == 0 && i < 10000; i++) {
        char id[32];
        snprintf(id, sizeof id, "j%05d", i);
        fx_job(&j, id);
        j.args = tock_memdup(args, sizeof args);
        j.args_len = sizeof args;
        rc = tock_store_job_put(s, &j, FX_T0, TOCK_PUT_CREATE, 0, NULL, NULL,
                                &err);
        tock_job_clear(&j);
    }
    if (rc != TOCK_ENOSPC || strstr(err.msg, "disk full writing") == NULL) {
        fprintf(stderr, "expected disk full, got %s: %s\n", tock_err_name(rc),
                err.msg);
        return 3;
    }
    tock_store_close(s);
    /* The failed put left nothing: jobs 0..i-2 exist, i-1 does not. */
    if (tock_store_open(url, NULL, &s, &err) != 0)
        return 4;
    {
        struct tock_job_state *list = NULL;
        size_t n = 0;
        if (tock_store_job_list(s, &list, &n, &err) != 0 ||
            n != (size_t)(i - 1))
            return 5;
        tock_job_state_list_free(list, n);
    }
    tock_store_close(s);
    return 0;
}

static void test_disk_full(void **state)
{
    struct dirfx *d = *state;
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(disk_full_child(d->dir));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, dir_setup, dir_teardown)
        cmocka_unit_test(test_bad_urls),
        T(test_directory_and_missing_directory),
        T(test_symlink_refused),
        T(test_new_file_private_and_no_leftovers),
        T(test_shared_file_warned),
        T(test_locked_file),
        T(test_header_overwritten),
        T(test_text_file),
        T(test_truncated_file),
        T(test_empty_file),
        T(test_foreign_database),
        T(test_newer_schema),
        cmocka_unit_test_setup_teardown(test_error_mapping, fx_setup,
                                        fx_teardown),
        T(test_disk_full),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
