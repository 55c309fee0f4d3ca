/* test_standalone.c: `tock standalone` end to end on real SQLite files:
 * firing and results, a pool child killed mid-task, a timeout that kills a
 * process group ignoring SIGTERM, jobs surviving a restart, and bad input.
 *
 * Every test starts the real binary in a private directory, waits on the
 * store's run history (bounded waits), and ends every process it started.
 */
#include "standalone_fixture.h"

#include <inttypes.h>
#include <jansson.h>

static int setup(void **state)
{
    struct sa_fixture *f = tock_calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    sa_setup(f, "standalone");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct sa_fixture *f = *state;

    sa_teardown(f);
    tock_free(f);
    return 0;
}

static pid_t start_standalone(struct sa_fixture *f, const char *config,
                              const char *log, const char *extra)
{
    const char *args[] = {"standalone", "--store", f->url, "--config", config,
                          "--concurrency", "2", "--drain", "5s",
                          sa_root_flag(), extra, NULL};

    return sa_spawn(f, "tock", log, args);
}

/* lines_unique reports whether every line of `path` is different. */
static int lines_unique(const char *path)
{
    char *text = sa_read(path), *line, *save = NULL, *copy;
    char **seen = tock_calloc(4096, sizeof *seen);
    size_t n = 0, i;
    int unique = 1;

    assert_non_null(seen);
    copy = text;
    for (line = strtok_r(copy, "\n", &save); line != NULL && n < 4096;
         line = strtok_r(NULL, "\n", &save)) {
        for (i = 0; i < n; i++)
            if (strcmp(seen[i], line) == 0)
                unique = 0;
        seen[n++] = line;
    }
    tock_free(seen);
    tock_free(text);
    return unique;
}

/* The handler of most tests: one line per execution, the occurrence id as
 * output. */
#define REC_SCRIPT                                                             \
    "echo $TOCK_OCCURRENCE_ID >> @D@/exec.log; echo out-$TOCK_OCCURRENCE_ID"
#define FAST_JOB                                                               \
    "{\"id\": \"fast\", \"trigger\": \"interval:500ms\", \"handler\": \"rec\"}"

/* ---------------------------------------------------------- firing */

static void fires_end_to_end(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], exec_log[SA_PATH_MAX], out_log[SA_PATH_MAX];
    struct tock_run *runs = NULL;
    size_t n = 0, i, ok = 0;
    pid_t pid;

    sa_write_config(f, REC_SCRIPT, FAST_JOB, cfg, sizeof cfg);
    pid = start_standalone(f, cfg, "out.log", "--log-level=info");
    assert_true(sa_wait_status(f, "fast", "ok", 3, 8000) >= 3);
    assert_int_equal(sa_stop(pid, 8000), 0);

    sa_runs(f, "fast", &runs, &n);
    for (i = 0; i < n; i++) {
        char want[200];

        if (strcmp(runs[i].status, "ok") != 0)
            continue;
        ok++;
        /* The handler's output is the run's excerpt; the occurrence id
         * reached it as TOCK_OCCURRENCE_ID. */
        snprintf(want, sizeof want, "out-%s", runs[i].occ);
        assert_non_null(runs[i].output);
        assert_non_null(memmem(runs[i].output, runs[i].output_len, want,
                               strlen(want)));
        assert_int_equal(runs[i].exit_code, 0);
        assert_int_equal(runs[i].attempt, 1);
        assert_non_null(runs[i].worker);
        assert_true(runs[i].finished_ms >= runs[i].started_ms);
        assert_true(runs[i].started_ms >= runs[i].sched_ms);
    }
    assert_true(ok >= 3);
    tock_run_list_free(runs, n);
    sa_path(f, "exec.log", exec_log, sizeof exec_log);
    assert_true(sa_count_lines(exec_log) >= 3);
    assert_true(lines_unique(exec_log));
    /* Each firing and each result was printed as it happened. */
    sa_path(f, "out.log", out_log, sizeof out_log);
    assert_true(sa_file_contains(out_log, " fired "));
    assert_true(sa_file_contains(out_log, " ok "));
    assert_true(sa_file_contains(out_log, ": out-fast@"));
}

/* ---------------------------------------------------------- restart */

/* check_json_lines: with --json every line on stdout is one JSON object
 * with an "event"; the run printed started, fired, result and stopped. */
static void check_json_lines(struct sa_fixture *f, const char *log)
{
    char path[SA_PATH_MAX], *text, *line, *save = NULL;
    int started = 0, fired = 0, results = 0, stopped = 0;

    text = sa_read(sa_path(f, log, path, sizeof path));
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *obj;
        const char *ev;

        if (line[0] != '{')
            continue; /* a log line (stderr shares the file) */
        obj = json_loads(line, 0, &jerr);
        if (obj == NULL)
            fail_msg("not JSON: %s (%s)", line, jerr.text);
        ev = json_string_value(json_object_get(obj, "event"));
        assert_non_null(ev);
        started += strcmp(ev, "started") == 0;
        fired += strcmp(ev, "fired") == 0;
        stopped += strcmp(ev, "stopped") == 0;
        if (strcmp(ev, "result") == 0) {
            results++;
            assert_string_equal(
                json_string_value(json_object_get(obj, "job")), "fast");
            assert_non_null(json_object_get(obj, "occurrence"));
            assert_true(json_is_integer(json_object_get(obj, "scheduled")));
            assert_non_null(json_object_get(obj, "status"));
        }
        json_decref(obj);
    }
    tock_free(text);
    assert_int_equal(started, 1);
    assert_int_equal(stopped, 1);
    assert_true(fired >= 2);
    assert_true(results >= 2);
}

/* The job goes on after a SIGTERM and a start with the same config: the
 * apply changes nothing (version stays 1), occurrences continue after the
 * gap, and no occurrence ran twice. */
static void survives_restart(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], exec_log[SA_PATH_MAX];
    struct tock_job_state st = {0};
    struct tock_error err = {0};
    struct tock_run *runs = NULL;
    size_t n = 0, i, first_ok, after = 0;
    int64_t restart_ms;
    pid_t pid;

    sa_write_config(f, REC_SCRIPT, FAST_JOB, cfg, sizeof cfg);
    pid = start_standalone(f, cfg, "out1.log", "--log-level=info");
    first_ok = sa_wait_status(f, "fast", "ok", 2, 8000);
    assert_true(first_ok >= 2);
    assert_int_equal(sa_stop(pid, 8000), 0);

    sa_sleep_ms(700); /* at least one occurrence falls due while down */
    restart_ms = sa_now_ms();
    pid = start_standalone(f, cfg, "out2.log", "--json");
    assert_true(sa_wait_status(f, "fast", "ok", first_ok + 3, 8000) >=
                first_ok + 3);
    assert_int_equal(sa_stop(pid, 8000), 0);

    sa_open_store(f);
    assert_tock_ok(tock_store_job_get(f->store, "fast", &st, &err), &err);
    assert_int_equal(st.job.version, 1);
    tock_job_state_clear(&st);
    sa_runs(f, "fast", &runs, &n);
    for (i = 0; i < n; i++) {
        /* skipped: on a loaded machine an execution can outlast the 500 ms
         * period, and max_instances 1 then skips the next occurrence */
        if (strcmp(runs[i].status, "ok") != 0 &&
            strcmp(runs[i].status, "missed") != 0 &&
            strcmp(runs[i].status, "skipped") != 0 &&
            strcmp(runs[i].status, "dispatched") != 0)
            fail_msg("%s: status %s (%s)", runs[i].occ, runs[i].status,
                     runs[i].error ? runs[i].error : "no error text");
        after += strcmp(runs[i].status, "ok") == 0 &&
                 runs[i].sched_ms >= restart_ms;
    }
    assert_true(after >= 2);
    tock_run_list_free(runs, n);
    sa_path(f, "exec.log", exec_log, sizeof exec_log);
    assert_true(lines_unique(exec_log));
    check_json_lines(f, "out2.log");
}

/* ---------------------------------------------------------- crashes */

/* The first execution records its pool child ($PPID) and its own process
 * group ($$), then sleeps; the test SIGKILLs that pool child. The run is
 * `crashed`, the sleeper's group is gone, and a replacement child runs the
 * next occurrence. */
#define CRASH_SCRIPT                                                           \
    "echo $TOCK_OCCURRENCE_ID $PPID $$ >> @D@/exec.log; "                     \
    "if [ ! -e @D@/first ]; then : > @D@/first; exec sleep 30; fi; echo done"

static void child_killed_mid_task(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], exec_log[SA_PATH_MAX], occ[200], occ2[200];
    struct tock_run *runs = NULL;
    size_t n = 0, i;
    long child = 0, pgid = 0, child2 = 0, pgid2 = 0;
    char *text;
    pid_t pid;
    const char *args[] = {"standalone", "--store", f->url, "--config", cfg,
                          "--concurrency", "1", sa_root_flag(), NULL};

    sa_write_config(f, CRASH_SCRIPT, FAST_JOB, cfg, sizeof cfg);
    pid = sa_spawn(f, "tock", "out.log", args);
    sa_path(f, "exec.log", exec_log, sizeof exec_log);
    assert_int_equal(sa_wait_lines(exec_log, 1, 8000), 1);
    text = sa_read(exec_log);
    assert_int_equal(sscanf(text, "%199s %ld %ld", occ, &child, &pgid), 3);
    tock_free(text);
    assert_true(child > 1 && child != pid);
    assert_int_equal(kill((pid_t)child, SIGKILL), 0);

    assert_true(sa_wait_status(f, "fast", "crashed", 1, 5000) >= 1);
    assert_true(sa_wait_status(f, "fast", "ok", 1, 8000) >= 1);
    /* The handler died with its child: the supervisor killed its group. */
    for (i = 0; i < 40 && !sa_group_gone((pid_t)pgid); i++)
        sa_sleep_ms(50);
    assert_true(sa_group_gone((pid_t)pgid));
    /* The next task ran in a new child. */
    text = sa_read(exec_log);
    assert_int_equal(sscanf(strchr(text, '\n') + 1, "%199s %ld %ld", occ2,
                            &child2, &pgid2), 3);
    tock_free(text);
    assert_true(child2 != child);
    assert_int_equal(kill(pid, 0), 0); /* the supervisor lives on */

    sa_runs(f, "fast", &runs, &n);
    for (i = 0; i < n; i++) {
        if (strcmp(runs[i].occ, occ) != 0)
            continue;
        assert_string_equal(runs[i].status, "crashed");
        assert_non_null(runs[i].error);
    }
    tock_run_list_free(runs, n);
    assert_int_equal(sa_stop(pid, 8000), 0);
}

/* ---------------------------------------------------------- timeouts */

/* A handler that ignores SIGTERM, with a grandchild in its group: at the
 * job's timeout (1 s) the group gets SIGTERM, after the kill grace (1 s)
 * SIGKILL. The run is `timeout` about 2 s after it started, and nothing
 * of the group survives. */
#define STUBBORN_SCRIPT                                                        \
    "trap '' TERM; echo $$ >> @D@/pg.log; sleep 30 & sleep 30; echo never"

static void timeout_kills_stubborn_group(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], pg_log[SA_PATH_MAX];
    struct tock_run *runs = NULL;
    size_t n = 0, i, seen = 0;
    long pgid = 0;
    char *text;
    pid_t pid;
    const char *args[] = {"standalone", "--store", f->url, "--config", cfg,
                          "--concurrency", "1", "--kill-grace", "1s",
                          sa_root_flag(), NULL};

    sa_write_config(f, STUBBORN_SCRIPT,
                 "{\"id\": \"slow\", \"trigger\": \"interval:1s\", "
                 "\"handler\": \"rec\", \"timeout\": \"1s\"}",
                 cfg, sizeof cfg);
    pid = sa_spawn(f, "tock", "out.log", args);
    assert_true(sa_wait_status(f, "slow", "timeout", 1, 9000) >= 1);
    sa_path(f, "pg.log", pg_log, sizeof pg_log);
    text = sa_read(pg_log);
    assert_int_equal(sscanf(text, "%ld", &pgid), 1);
    tock_free(text);
    assert_true(sa_group_gone((pid_t)pgid));

    sa_runs(f, "slow", &runs, &n);
    for (i = 0; i < n; i++) {
        int64_t took = runs[i].finished_ms - runs[i].started_ms;

        if (strcmp(runs[i].status, "timeout") != 0)
            continue;
        seen++;
        /* timeout + grace, plus scheduling slack */
        assert_true(took >= 1900);
        assert_true(took <= 3500);
    }
    assert_true(seen >= 1);
    tock_run_list_free(runs, n);
    assert_int_equal(sa_stop(pid, 8000), 0);
}

/* ---------------------------------------------------------- bad input */

/* expect_usage: `tock ARGS...` exits 2 with one line naming `needle`. */
static void expect_usage(struct sa_fixture *f, const char *const *args,
                         const char *needle)
{
    sa_expect_fail(f, "tock", args, 2, needle);
}

static void bad_input(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], bad_cfg[SA_PATH_MAX];
    const char *root = sa_root_flag();
    struct stat st;

    sa_write_config(f, REC_SCRIPT, FAST_JOB, cfg, sizeof cfg);
    sa_path(f, "bad.json", bad_cfg, sizeof bad_cfg);
    sa_write(bad_cfg, "{\"handlers\": {}, \"jobz\": []}");
    {
        const char *a[] = {"standalone", "--config", cfg, root, NULL};
        expect_usage(f, a, "no store given");
    }
    {
        const char *a[] = {"standalone", "--store", "redis://localhost:6379",
                           "--config", cfg, root, NULL};
        expect_usage(f, a, "sqlite:PATH");
    }
    {
        const char *a[] = {"standalone", "--store", f->url, "--config",
                           "/nonexistent/c.json", root, NULL};
        expect_usage(f, a, "/nonexistent/c.json");
    }
    {
        const char *a[] = {"standalone", "--store", f->url, "--config",
                           bad_cfg, root, NULL};
        expect_usage(f, a, "jobz");
    }
    {
        const char *a[] = {"standalone", "--store", f->url, "--config", cfg,
                           "--concurrency", "0", root, NULL};
        expect_usage(f, a, "concurrency");
    }
    {
        const char *a[] = {"standalone", "--store", f->url, "--config", cfg,
                           "--concurrency", "100000", root, NULL};
        expect_usage(f, a, "concurrency");
    }
    {
        const char *a[] = {"standalone", "--store", f->url, "--config", cfg,
                           "--lease", "5", root, NULL};
        expect_usage(f, a, "lease");
    }
    {
        const char *a[] = {"standalone", "--store", f->url, "--handler",
                           "x=/nonexistent/cmd", root, NULL};
        expect_usage(f, a, "/nonexistent/cmd");
    }
    {
        const char *a[] = {"standalone", "--store", f->url, root, NULL};
        expect_usage(f, a, "no handlers");
    }
    {
        const char *a[] = {"standalone", "--store", f->url, "--config", cfg,
                           "extra", root, NULL};
        expect_usage(f, a, "extra");
    }
    if (geteuid() == 0) {
        const char *a[] = {"standalone", "--store", f->url, "--config", cfg,
                           NULL};
        expect_usage(f, a, "--allow-root");
    }
    /* None of these got as far as the store: no database was created. */
    assert_int_equal(stat(f->db, &st), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fires_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(child_killed_mid_task, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(timeout_kills_stubborn_group, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_input, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
