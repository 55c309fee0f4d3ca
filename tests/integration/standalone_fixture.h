/* standalone_fixture.h: what the execution tests (test_standalone*.c,
 * test_worker_sqlite.c) share: a private directory with a SQLite store,
 * config files, the real programs started as children that cannot outlive
 * the test (tests/support/proc.h), and waits on the store's run history.
 *
 * Header-only (static inline) because each tests/integration/test_*.c is
 * its own executable; every wait is bounded, every child is ended by pid.
 */
#ifndef TOCK_TEST_STANDALONE_FIXTURE_H
#define TOCK_TEST_STANDALONE_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "proc.h"
#include "store/store.h"
#include "support.h"

#define SA_PATH_MAX 1024

struct sa_fixture {
    char *dir;                 /* private temp dir, removed at the end */
    char db[SA_PATH_MAX];      /* DIR/t.db */
    char url[SA_PATH_MAX + 8]; /* sqlite:DIR/t.db */
    struct tock_store *store;  /* the test's own handle, for reads */
};

static inline int64_t sa_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sa_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* sa_path writes DIR/name into buf. */
static inline const char *sa_path(const struct sa_fixture *f, const char *name,
                                  char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", f->dir, name);
    return buf;
}

static inline void sa_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* sa_read returns the file's text (tock_free it), "" when it is missing. */
static inline char *sa_read(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf = tock_calloc(1, 1 << 20);
    size_t n = 0;

    assert_non_null(buf);
    if (fp != NULL) {
        n = fread(buf, 1, (1 << 20) - 1, fp);
        fclose(fp);
    }
    buf[n] = '\0';
    return buf;
}

static inline int sa_count_lines(const char *path)
{
    char *text = sa_read(path), *p;
    int n = 0;

    for (p = text; *p; p++)
        n += *p == '\n';
    tock_free(text);
    return n;
}

/* sa_setup makes the directory; the store file is created by the first
 * program (or sa_open_store). */
static inline void sa_setup(struct sa_fixture *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    f->dir = tock_test_tmpdir(tag);
    assert_non_null(f->dir);
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->db);
}

static inline void sa_open_store(struct sa_fixture *f)
{
    struct tock_error err = {0};

    if (f->store == NULL)
        assert_tock_ok(tock_store_open(f->url, NULL, &f->store, &err), &err);
}

static inline void sa_teardown(struct sa_fixture *f)
{
    tock_proc_kill_all();
    tock_store_close(f->store);
    f->store = NULL;
    tock_test_rmtree(f->dir);
    f->dir = NULL;
}

/* sa_spawn starts `prog` (a built program) with the NULL-terminated args
 * after argv[0], output appended to DIR/<log>. */
static inline pid_t sa_spawn(struct sa_fixture *f, const char *prog,
                             const char *log, const char *const *args)
{
    char path[SA_PATH_MAX], logpath[SA_PATH_MAX];
    char *argv[32];
    struct tock_proc_spec spec = {0};
    struct tock_error err = {0};
    pid_t pid = -1;
    int i;

    snprintf(path, sizeof path, "%s", tock_test_binary(prog));
    argv[0] = (char *)prog;
    for (i = 0; args[i] != NULL && i < 30; i++)
        argv[i + 1] = (char *)args[i];
    argv[i + 1] = NULL;
    spec.path = path;
    spec.argv = argv;
    spec.log_path = sa_path(f, log, logpath, sizeof logpath);
    assert_tock_ok(tock_proc_spawn(&spec, &pid, &err), &err);
    return pid;
}

/* sa_run runs `prog` to completion (at most 10 s) and returns its exit
 * status; its output goes to DIR/<log>. */
static inline int sa_run(struct sa_fixture *f, const char *prog,
                         const char *log, const char *const *args)
{
    struct tock_error err = {0};
    pid_t pid = sa_spawn(f, prog, log, args);
    int status = 0;

    assert_tock_ok(tock_proc_wait(pid, 10000, &status, &err), &err);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* sa_stop sends SIGTERM and waits up to `ms` for a clean exit; returns
 * the exit status (-1 when it had to be killed or died of a signal). */
static inline int sa_stop(pid_t pid, int ms)
{
    struct tock_error err = {0};
    int status = 0;

    if (kill(pid, SIGTERM) != 0)
        return -1;
    if (tock_proc_wait(pid, ms, &status, &err) != 0) {
        tock_proc_kill(pid, NULL);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* sa_runs reads up to 1000 runs of `job` (NULL: all), newest first. */
static inline void sa_runs(struct sa_fixture *f, const char *job,
                           struct tock_run **runs, size_t *n)
{
    struct tock_error err = {0};

    sa_open_store(f);
    assert_tock_ok(tock_store_runs(f->store, job, 1000, runs, n, &err), &err);
}

static inline size_t sa_count_status(const struct tock_run *runs, size_t n,
                                     const char *status)
{
    size_t i, c = 0;

    for (i = 0; i < n; i++)
        c += strcmp(runs[i].status, status) == 0;
    return c;
}

/* sa_wait_status waits up to `ms` until job `job` has at least `want` runs
 * with `status`; returns how many it has then. */
static inline size_t sa_wait_status(struct sa_fixture *f, const char *job,
                                    const char *status, size_t want, int ms)
{
    int64_t until = sa_now_ms() + ms;
    size_t have = 0;

    for (;;) {
        struct tock_run *runs = NULL;
        size_t n = 0;

        sa_runs(f, job, &runs, &n);
        have = sa_count_status(runs, n, status);
        tock_run_list_free(runs, n);
        if (have >= want || sa_now_ms() >= until)
            return have;
        sa_sleep_ms(50);
    }
}

/* sa_wait_file waits up to `ms` for `path` to hold at least `lines`
 * lines. */
static inline int sa_wait_lines(const char *path, int lines, int ms)
{
    int64_t until = sa_now_ms() + ms;
    int have;

    while ((have = sa_count_lines(path)) < lines && sa_now_ms() < until)
        sa_sleep_ms(50);
    return have;
}

/* sa_file_contains reports whether the text of `path` contains `needle`. */
static inline int sa_file_contains(const char *path, const char *needle)
{
    char *text = sa_read(path);
    int found = strstr(text, needle) != NULL;

    tock_free(text);
    return found;
}

/* sa_group_gone reports whether no live process is left in group `pgid`.
 * Zombies do not count: a killed handler's orphans are reparented to PID 1,
 * which in a container may never reap them, and kill(-pgid, 0) would still
 * find them. So /proc is read: state (field 3) and pgrp (field 5) of each
 * process. */
static inline int sa_group_gone(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int alive = 0;

    assert_non_null(d);
    while (!alive && (e = readdir(d)) != NULL) {
        char path[64], buf[512], state = 0, *rp;
        long pgrp = 0;
        FILE *fp;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        if ((fp = fopen(path, "r")) == NULL)
            continue;
        buf[0] = '\0';
        if (fgets(buf, sizeof buf, fp) == NULL)
            buf[0] = '\0';
        fclose(fp);
        rp = strrchr(buf, ')'); /* the command name may hold spaces */
        if (rp != NULL && sscanf(rp + 1, " %c %*d %ld", &state, &pgrp) == 2)
            alive = pgrp == (long)pgid && state != 'Z' && state != 'X';
    }
    closedir(d);
    return !alive;
}

/* sa_root_flag is "--allow-root" when the tests run as root (CI does),
 * else a harmless repeat of a default. */
static inline const char *sa_root_flag(void)
{
    return geteuid() == 0 ? "--allow-root" : "--log-format=human";
}

#endif /* TOCK_TEST_STANDALONE_FIXTURE_H */
