/* test_policies.c: the firing policies end to end, through the real
 * programs on real SQLite files:
 *
 * 1. misfire_grace: tock-scheduler stopped past the grace and started
 *    again; the occurrences that fell due meanwhile are recorded missed,
 *    the later ones fire, one record per scheduled time;
 * 2. coalesce: after the same downtime the backlog is one dispatched
 *    occurrence (the latest) and the rest missed ("coalesced"); with
 *    --no-coalesce every one of them is dispatched, in order (catch-up);
 * 3. max_instances under tock standalone: overlapping occurrences are
 *    recorded skipped, and the handler's own log shows at most 1 (or 2)
 *    executions of the job at a time;
 * 4. pause and resume while tock standalone runs: nothing is fired or
 *    recorded for the paused time, firing resumes from the resume;
 * 5. a store locked by another process (tock add, tock standalone and
 *    tock-scheduler started on it, and one that was running: a clear
 *    message, no crash, firing again once the lock is gone), and a store
 *    that is not a database (every program exits 1 with one line naming
 *    the file and the way out; the file is left as it was).
 *
 * Jobs come from `tock add` or a standalone config; the outcome is read
 * from the store and through `tock runs --json` / `tock events --json`.
 * The directory is on /dev/shm when TMPDIR is unset (no fsync cost). Every
 * wait is bounded, every process is ended by its pid.
 */
#include "standalone_fixture.h"

#include "cli_run.c"

#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "scheduler/tz.h"

/* A second store (test 5), closed by the teardown if a test fails. */
static struct tock_store *g_other;

static int setup(void **state)
{
    struct sa_fixture *f = tock_calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    sa_setup_in(f, "policies", 1);
    cli_dir = f->dir;
    snprintf(cli_store, sizeof cli_store, "%s", f->url);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct sa_fixture *f = *state;

    tock_store_close(g_other);
    g_other = NULL;
    cli_dir = NULL;
    cli_store[0] = '\0';
    sa_teardown(f);
    tock_free(f);
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static pid_t start_scheduler(struct sa_fixture *f, const char *url,
                             const char *node)
{
    char log[64];
    const char *args[] = {"--store", url, "--node-id", node, NULL};

    snprintf(log, sizeof log, "%s.log", node);
    return sa_spawn(f, "tock-scheduler", log, args);
}

static pid_t start_standalone(struct sa_fixture *f, const char *cfg,
                              const char *log, const char *concurrency)
{
    const char *args[] = {"standalone", "--store", f->url, "--config", cfg,
                          "--concurrency", concurrency, "--drain", "5s",
                          sa_root_flag(), NULL};

    return sa_spawn(f, "tock", log, args);
}

/* rfc3339 formats `ms` for --start (static buffer, one at a time). */
static const char *rfc3339(int64_t ms)
{
    static char buf[48];

    tock_time_format(ms, NULL, buf, sizeof buf);
    return buf;
}

/* added_next takes the output of `tock add|resume ... --json` (and frees
 * it) and returns the job's next scheduled time: after an add with
 * --start in the past (a slow build) that is the first one after the add;
 * after a resume, the first one after the resume. */
static int64_t added_next(char *out)
{
    size_t n = 0;
    json_t *lines = json_lines(out, &n);
    int64_t next;

    assert_int_equal(n, 1);
    next = jint(json_array_get(lines, 0), "next_fire_ms");
    json_decref(lines);
    free(out);
    return next;
}

/* count_between counts the runs of `job` in `s` (NULL: the fixture's store)
 * with `status` (NULL: any) whose scheduled time, or with `by_fired` its
 * fire time, is in [since, until). */
static size_t count_between(struct sa_fixture *f, struct tock_store *s,
                            const char *job, const char *status,
                            int64_t since, int64_t until, bool by_fired)
{
    struct tock_error err = {0};
    struct tock_run *runs = NULL;
    size_t n = 0, i, c = 0;

    if (s == NULL) {
        sa_open_store(f);
        s = f->store;
    }
    assert_tock_ok(tock_store_runs(s, job, 1000, &runs, &n, &err), &err);
    for (i = 0; i < n; i++) {
        int64_t t = by_fired ? runs[i].fired_ms : runs[i].sched_ms;

        c += (status == NULL || strcmp(runs[i].status, status) == 0) &&
             t >= since && t < until;
    }
    tock_run_list_free(runs, n);
    return c;
}

static size_t count_runs(struct sa_fixture *f, struct tock_store *s,
                         const char *job, const char *status, int64_t since,
                         bool by_fired)
{
    return count_between(f, s, job, status, since, INT64_MAX, by_fired);
}

/* wait_runs waits up to `ms` for count_runs(...) >= want; returns it. */
static size_t wait_runs(struct sa_fixture *f, struct tock_store *s,
                        const char *job, const char *status, int64_t since,
                        bool by_fired, size_t want, int ms)
{
    int64_t until = sa_now_ms() + ms;
    size_t have;

    while ((have = count_runs(f, s, job, status, since, by_fired)) < want &&
           sa_now_ms() < until)
        sa_sleep_ms(50);
    return have;
}

/* wait_log waits up to `ms` for DIR/<log> to contain `needle`. */
static bool wait_log(struct sa_fixture *f, const char *log,
                     const char *needle, int ms)
{
    char path[SA_PATH_MAX];
    int64_t until = sa_now_ms() + ms;

    sa_path(f, log, path, sizeof path);
    while (!sa_file_contains(path, needle)) {
        if (sa_now_ms() >= until)
            return false;
        sa_sleep_ms(50);
    }
    return true;
}

/* still_running reports whether our child `pid` has not exited. */
static bool still_running(pid_t pid)
{
    return tock_proc_wait(pid, 0, NULL, NULL) == TOCK_ETIMEDOUT;
}

/* check_cli_runs compares `tock runs JOB --json` with the store's runs:
 * the same occurrences, newest first, with the same status, scheduled time
 * and error text (a miss or skip reason); nothing started for those. */
static void check_cli_runs(struct sa_fixture *f, const char *job)
{
    char *out = CLI_OK("runs", job, "--json", "--limit", "1000");
    struct tock_run *runs = NULL;
    size_t n = 0, nj = 0, i;
    json_t *lines = json_lines(out, &nj);

    sa_runs(f, job, &runs, &n);
    assert_int_equal(nj, n);
    for (i = 0; i < n; i++) {
        json_t *o = json_array_get(lines, i);
        json_t *e = json_object_get(o, "error");

        assert_string_equal(jstr(o, "job"), job);
        assert_string_equal(jstr(o, "occurrence"), runs[i].occ);
        assert_int_equal(jint(o, "scheduled"), runs[i].sched_ms);
        assert_string_equal(jstr(o, "status"), runs[i].status);
        if (runs[i].error != NULL) {
            assert_true(json_is_string(e));
            assert_string_equal(json_string_value(e), runs[i].error);
        }
        if (strcmp(runs[i].status, "missed") == 0 ||
            strcmp(runs[i].status, "skipped") == 0) {
            assert_non_null(runs[i].error);
            assert_true(json_is_null(json_object_get(o, "started")));
            assert_true(json_is_null(json_object_get(o, "worker")));
        }
    }
    tock_run_list_free(runs, n);
    json_decref(lines);
    free(out);
}

/* table_cells splits a `tock runs` table line into its cells (columns
 * are two or more spaces apart; a time holds one) and returns how many. */
static size_t table_cells(char *line, char **cells, size_t max)
{
    size_t n = 0;
    char *p = line, *gap;

    while (*p != '\0' && n < max) {
        cells[n++] = p;
        gap = strstr(p, "  ");
        if (gap == NULL)
            break;
        *gap = '\0';
        for (p = gap + 1; *p == ' '; p++)
            ;
    }
    return n;
}

/* check_table_misses: `tock runs m` (for people) shows `want` missed rows:
 * the reason in OUTPUT, the node that recorded it, and no start, finish,
 * worker, attempt or exit code (it never ran). */
static void check_table_misses(size_t want)
{
    char *out = CLI_OK("runs", "m", "--limit", "1000"), *line, *save = NULL;
    size_t seen = 0;

    for (line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *c[12];
        size_t n = table_cells(line, c, 12);

        assert_int_equal(n, 10);
        if (strcmp(c[2], "missed") != 0)
            continue;
        seen++;
        assert_string_equal(c[0], "m");
        assert_string_equal(c[3], "-");
        assert_string_equal(c[4], "-");
        assert_string_equal(c[5], "node-b");
        assert_string_equal(c[6], "-");
        assert_string_equal(c[7], "-");
        assert_string_equal(c[8], "-");
        assert_string_equal(c[9], "misfire_grace");
    }
    assert_true(seen >= want);
    free(out);
}

/* count_events counts `tock events --json` lines of `type` for `job`
 * (and node `node` unless NULL); *first_detail gets the detail of the
 * first (tock_free it; may be NULL). */
static size_t count_events(const char *type, const char *job,
                           const char *node, char **first_detail)
{
    char *out = CLI_OK("events", "--json", "--limit", "10000");
    size_t n = 0, i, c = 0;
    json_t *lines = json_lines(out, &n);

    if (first_detail != NULL)
        *first_detail = NULL;
    for (i = 0; i < n; i++) {
        json_t *o = json_array_get(lines, i);
        const char *j = json_string_value(json_object_get(o, "job"));
        const char *nd = json_string_value(json_object_get(o, "node"));
        const char *d = json_string_value(json_object_get(o, "detail"));

        if (strcmp(jstr(o, "type"), type) != 0 || j == NULL ||
            strcmp(j, job) != 0 ||
            (node != NULL && (nd == NULL || strcmp(nd, node) != 0)))
            continue;
        if (c++ == 0 && first_detail != NULL && d != NULL)
            *first_detail = tock_strdup(d);
    }
    json_decref(lines);
    free(out);
    return c;
}

/* ------------------------------------------------------------ 1. misses */

static const char *const DECIDED[] = {"dispatched", "missed", NULL};

/* A job every 1 s with misfire_grace 1s (no worker: its tasks stay queued,
 * so max_instances is set out of the way). node-a fires, is stopped by
 * SIGTERM, and node-b starts 2.5 s later. Every occurrence more than the
 * grace before node-b's start is recorded missed (misfire_grace), the ones
 * after its start fire, and each scheduled time has one record. */
static void misses_past_grace(void **state)
{
    struct sa_fixture *f = *state;
    int64_t first, t_down, t_up;
    struct tock_run *runs = NULL;
    size_t n = 0, i, missed = 0, after = 0;
    char *detail = NULL;
    pid_t a, b;

    first = added_next(CLI_OK("add", "m", "--every", "1s", "--start",
                              rfc3339(sa_now_ms() + 300), "--handler", "h",
                              "--misfire-grace", "1s", "--max-instances",
                              "10000", "--json"));
    a = start_scheduler(f, f->url, "node-a");
    assert_true(wait_runs(f, NULL, "m", "dispatched", 0, false, 1, 5000) >= 1);
    assert_int_equal(sa_stop(a, 8000), 0);
    t_down = sa_now_ms();
    sa_sleep_ms(2500);
    t_up = sa_now_ms();
    b = start_scheduler(f, f->url, "node-b");
    assert_true(wait_runs(f, NULL, "m", "dispatched", t_up, false, 2, 5000) >=
                2);
    assert_int_equal(sa_stop(b, 8000), 0);

    sa_runs(f, "m", &runs, &n);
    sa_check_grid("m", runs, n, 1000, runs[0].sched_ms, first, DECIDED);
    for (i = 0; i < n; i++) {
        const struct tock_run *r = &runs[i];

        if (r->sched_ms > t_down && r->sched_ms < t_up - 1000) {
            /* due while no node ran, past the grace when node-b came */
            assert_string_equal(r->status, "missed");
            assert_string_equal(r->error, "misfire_grace");
            assert_string_equal(r->node, "node-b");
            missed++;
        } else if (r->sched_ms >= t_up) {
            assert_string_equal(r->status, "dispatched");
            assert_string_equal(r->node, "node-b");
            after++;
        }
    }
    print_message("down %" PRId64 " ms: %zu missed, %zu fired after the "
                  "restart\n", t_up - t_down, missed, after);
    assert_true(missed >= 1);
    assert_true(after >= 2);
    tock_run_list_free(runs, n);
    check_cli_runs(f, "m");
    check_table_misses(missed);
    /* One "missed" event per commit that recorded misses, by node-b. */
    assert_true(count_events("missed", "m", "node-b", &detail) >= 1);
    assert_non_null(detail);
    assert_non_null(strstr(detail, "misfire_grace"));
    tock_free(detail);
}

/* ---------------------------------------------------------- 2. coalesce */

/* check_coalesced: node-b's first decisions of job c, oldest first, are
 * k >= 3 misses ("coalesced": 2.2 s hold at least 4 occurrences), then the
 * latest due occurrence, dispatched, and after it everything is
 * dispatched; one "coalesced" event says how many. */
static void check_coalesced(struct sa_fixture *f, int64_t first,
                            int64_t t_down)
{
    struct tock_run *runs = NULL;
    size_t n = 0, i, k = 0, fired = 0;
    char *detail = NULL, want[64];

    sa_runs(f, "c", &runs, &n);
    sa_check_grid("c", runs, n, 500, runs[0].sched_ms, first, DECIDED);
    for (i = n; i-- > 0;) {
        const struct tock_run *r = &runs[i];

        if (strcmp(r->node, "node-b") != 0)
            continue;
        if (strcmp(r->status, "missed") == 0) {
            assert_int_equal(fired, 0); /* a prefix: none after the fire */
            assert_string_equal(r->error, "coalesced");
            assert_true(r->sched_ms > t_down - 500);
            k++;
            continue;
        }
        assert_string_equal(r->status, "dispatched");
        fired++;
    }
    tock_run_list_free(runs, n);
    print_message("coalesce: %zu occurrences coalesced into the next one\n",
                  k);
    assert_true(k >= 3);
    check_cli_runs(f, "c");
    assert_int_equal(count_events("coalesced", "c", "node-b", &detail), 1);
    snprintf(want, sizeof want, "%zu occurrence(s) ", k);
    assert_non_null(detail);
    assert_non_null(strstr(detail, want));
    tock_free(detail);
}

/* check_caught_up: job n (no coalesce) missed nothing; every occurrence
 * of the downtime was dispatched by node-b after its start, in order. */
static void check_caught_up(struct sa_fixture *f, int64_t first,
                            int64_t t_up)
{
    struct tock_run *runs = NULL;
    size_t n = 0, i, backlog = 0;
    int64_t prev_fired = 0;

    sa_runs(f, "n", &runs, &n);
    sa_check_grid("n", runs, n, 500, runs[0].sched_ms, first, DECIDED);
    assert_int_equal(sa_count_status(runs, n, "missed"), 0);
    for (i = n; i-- > 0;) {
        const struct tock_run *r = &runs[i];

        if (strcmp(r->node, "node-b") != 0)
            continue;
        assert_true(r->fired_ms >= prev_fired);
        prev_fired = r->fired_ms;
        if (r->sched_ms < t_up) {
            assert_true(r->fired_ms >= t_up);
            backlog++;
        }
    }
    tock_run_list_free(runs, n);
    print_message("no coalesce: %zu occurrences caught up\n", backlog);
    assert_true(backlog >= 4);
    check_cli_runs(f, "n");
    assert_int_equal(count_events("coalesced", "n", NULL, NULL), 0);
}

/* Two jobs every 500 ms with a long grace, c coalescing (the default), n
 * with --no-coalesce; the node is down 2.2 s. */
static void coalesce_and_catch_up(void **state)
{
    struct sa_fixture *f = *state;
    int64_t start = sa_now_ms() + 300, first_c, first_n, t_down, t_up;
    pid_t a, b;

    first_c = added_next(CLI_OK("add", "c", "--every", "500ms", "--start",
                                rfc3339(start), "--handler", "h",
                                "--misfire-grace", "1m", "--max-instances",
                                "10000", "--json"));
    first_n = added_next(CLI_OK("add", "n", "--every", "500ms", "--start",
                                rfc3339(start), "--handler", "h",
                                "--misfire-grace", "1m", "--max-instances",
                                "10000", "--no-coalesce", "--json"));
    a = start_scheduler(f, f->url, "node-a");
    assert_true(wait_runs(f, NULL, "c", "dispatched", 0, false, 1, 5000) >= 1);
    assert_true(wait_runs(f, NULL, "n", "dispatched", 0, false, 1, 5000) >= 1);
    assert_int_equal(sa_stop(a, 8000), 0);
    t_down = sa_now_ms();
    sa_sleep_ms(2200);
    t_up = sa_now_ms();
    b = start_scheduler(f, f->url, "node-b");
    assert_true(wait_runs(f, NULL, "c", "dispatched", t_up, false, 2, 5000) >=
                2);
    assert_true(wait_runs(f, NULL, "n", "dispatched", t_up, false, 2, 5000) >=
                2);
    assert_int_equal(sa_stop(b, 8000), 0);
    check_coalesced(f, first_c, t_down);
    check_caught_up(f, first_n, t_up);
}

/* ----------------------------------------------------- 3. max_instances */

/* Every execution logs "JOB OCC start|end NANOSECONDS"; it takes 1.2 s,
 * and its job fires every 300 ms. */
#define SLOW_SCRIPT                                                            \
    "echo $TOCK_JOB $TOCK_OCCURRENCE_ID start $(date +%s%N) >> @D@/h.log; "   \
    "sleep 1.2; "                                                             \
    "echo $TOCK_JOB $TOCK_OCCURRENCE_ID end $(date +%s%N) >> @D@/h.log"
#define SLOW_JOBS                                                              \
    "{\"id\": \"one\", \"trigger\": \"interval:300ms\", \"handler\": "        \
    "\"rec\", \"max_instances\": 1},\n"                                       \
    "{\"id\": \"two\", \"trigger\": \"interval:300ms\", \"handler\": "        \
    "\"rec\", \"max_instances\": 2}"

#define EXEC_MAX 256

struct exec {
    char job[16], occ[TOCK_OCC_MAX];
    long long start, end; /* ns; end LLONG_MAX while it has none */
};

/* read_execs parses DIR/h.log into execs[] (one per occurrence). */
static size_t read_execs(struct sa_fixture *f, struct exec *ex)
{
    char path[SA_PATH_MAX], *text, *line, *save = NULL;
    size_t n = 0, i;

    text = sa_read(sa_path(f, "h.log", path, sizeof path));
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char job[16], occ[TOCK_OCC_MAX], what[8];
        long long ns;

        if (sscanf(line, "%15s %149s %7s %lld", job, occ, what, &ns) != 4)
            fail_msg("bad handler log line: %s", line);
        for (i = 0; i < n && strcmp(ex[i].occ, occ) != 0; i++)
            ;
        if (i == n) {
            assert_true(n < EXEC_MAX);
            memset(&ex[n], 0, sizeof ex[n]);
            snprintf(ex[n].job, sizeof ex[n].job, "%s", job);
            snprintf(ex[n].occ, sizeof ex[n].occ, "%s", occ);
            ex[n].start = ex[n].end = LLONG_MAX;
            n++;
        }
        if (strcmp(what, "start") == 0)
            ex[i].start = ns;
        else
            ex[i].end = ns;
    }
    tock_free(text);
    return n;
}

/* max_overlap is the most executions of `job` running at one instant (an
 * interval's start is the only place the count can rise). */
static int max_overlap(const struct exec *ex, size_t n, const char *job)
{
    size_t i, k;
    int most = 0;

    for (i = 0; i < n; i++) {
        int at = 0;

        if (strcmp(ex[i].job, job) != 0)
            continue;
        assert_true(ex[i].start != LLONG_MAX);
        for (k = 0; k < n; k++)
            at += strcmp(ex[k].job, job) == 0 && ex[k].start <= ex[i].start &&
                  ex[i].start < ex[k].end;
        if (at > most)
            most = at;
    }
    return most;
}

static void check_limited_job(struct sa_fixture *f, const char *job,
                              int limit)
{
    static const char *const statuses[] = {"ok", "skipped", "dispatched",
                                           "running", NULL};
    struct tock_run *runs = NULL;
    size_t n = 0, i, skipped;
    char reason[48];

    sa_runs(f, job, &runs, &n);
    sa_check_grid(job, runs, n, 300, runs[0].sched_ms, -1, statuses);
    snprintf(reason, sizeof reason, "max_instances %d reached", limit);
    skipped = sa_count_status(runs, n, "skipped");
    for (i = 0; i < n; i++)
        if (strcmp(runs[i].status, "skipped") == 0)
            assert_string_equal(runs[i].error, reason);
    print_message("%s (max_instances %d): %zu ok, %zu skipped\n", job, limit,
                  sa_count_status(runs, n, "ok"), skipped);
    assert_true(skipped >= 2);
    tock_run_list_free(runs, n);
    check_cli_runs(f, job);
}

static void max_instances_skip(void **state)
{
    struct sa_fixture *f = *state;
    struct exec *ex = tock_calloc(EXEC_MAX, sizeof *ex);
    char cfg[SA_PATH_MAX];
    size_t n;
    pid_t pid;

    assert_non_null(ex);
    sa_write_config(f, SLOW_SCRIPT, SLOW_JOBS, cfg, sizeof cfg);
    /* 4 worker processes: room for 1 + 2, so the limit is the job's. */
    pid = start_standalone(f, cfg, "sa.log", "4");
    assert_true(wait_runs(f, NULL, "one", "ok", 0, false, 2, 10000) >= 2);
    assert_true(wait_runs(f, NULL, "two", "ok", 0, false, 3, 10000) >= 3);
    assert_int_equal(sa_stop(pid, 8000), 0);

    n = read_execs(f, ex);
    print_message("handler log: %zu executions; at once: one %d, two %d\n",
                  n, max_overlap(ex, n, "one"), max_overlap(ex, n, "two"));
    assert_int_equal(max_overlap(ex, n, "one"), 1);
    assert_int_equal(max_overlap(ex, n, "two"), 2);
    tock_free(ex);
    check_limited_job(f, "one", 1);
    check_limited_job(f, "two", 2);
}

/* ------------------------------------------------------ 4. pause/resume */

static void check_period(const struct tock_run *runs, size_t n, int64_t from,
                         int64_t to, int64_t period)
{
    int64_t prev = -1;
    size_t i;

    for (i = n; i-- > 0;) {
        if (runs[i].sched_ms < from || runs[i].sched_ms > to)
            continue;
        if (prev >= 0 && runs[i].sched_ms - prev != period)
            fail_msg("%s follows %lld: not %lld ms apart", runs[i].occ,
                     (long long)prev, (long long)period);
        prev = runs[i].sched_ms;
    }
}

/* shown_paused reads field "paused" of `tock CMD... --json`'s one line. */
static bool shown_paused(char *out)
{
    size_t n = 0;
    json_t *lines = json_lines(out, &n);
    json_t *v;
    bool paused;

    assert_int_equal(n, 1);
    v = json_object_get(json_array_get(lines, 0), "paused");
    assert_true(json_is_boolean(v));
    paused = json_is_true(v);
    json_decref(lines);
    free(out);
    return paused;
}

/* check_paused_gap: no run scheduled inside (t_paused, t_resume), none
 * missed; the first one after the resume is `next`, and each side of the
 * gap is on its 300 ms grid. */
static void check_paused_gap(struct sa_fixture *f, int64_t t_paused,
                             int64_t t_resume, int64_t next)
{
    struct tock_run *runs = NULL;
    int64_t next_after = INT64_MAX;
    size_t n = 0, i;

    sa_runs(f, "p", &runs, &n);
    for (i = 0; i < n; i++) {
        const struct tock_run *r = &runs[i];

        if (r->sched_ms > t_paused && r->sched_ms < t_resume)
            fail_msg("%s (%s) is inside the pause %lld..%lld", r->occ,
                     r->status, (long long)t_paused, (long long)t_resume);
        /* never missed; skipped only when the machine is so loaded that
         * an echo outlasts the 300 ms period */
        if (strcmp(r->status, "missed") == 0)
            fail_msg("%s missed (%s)", r->occ, r->error);
        if (r->sched_ms >= t_resume && r->sched_ms < next_after)
            next_after = r->sched_ms;
    }
    print_message("first occurrence %" PRId64 " ms after the resume\n",
                  next_after - t_resume);
    assert_int_equal(next_after, next);
    check_period(runs, n, 0, t_paused, 300);
    check_period(runs, n, t_resume, INT64_MAX, 300);
    tock_run_list_free(runs, n);
}

static void pause_and_resume(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], *out;
    int64_t t_paused, t_resume, t_resumed, next;
    pid_t pid;

    sa_write_config(f, "echo ran $TOCK_OCCURRENCE_ID",
                    "{\"id\": \"p\", \"trigger\": \"interval:300ms\", "
                    "\"handler\": \"rec\"}", cfg, sizeof cfg);
    pid = start_standalone(f, cfg, "sa.log", "2");
    assert_true(wait_runs(f, NULL, "p", "ok", 0, false, 2, 8000) >= 2);

    out = CLI_OK("pause", "p");
    t_paused = sa_now_ms();
    assert_string_equal(out, "paused p\n");
    free(out);
    assert_true(shown_paused(CLI_OK("ls", "--json")));
    sa_sleep_ms(1500); /* five occurrences' worth */
    t_resume = sa_now_ms();
    next = added_next(CLI_OK("resume", "p", "--json"));
    t_resumed = sa_now_ms();
    assert_true(wait_runs(f, NULL, "p", "ok", t_resume, false, 2, 5000) >= 2);
    assert_int_equal(sa_stop(pid, 8000), 0);

    /* Firing resumed from the resume: the next occurrence is the one
     * `tock resume` announced, one period after its own now. */
    assert_true(next >= t_resume + 300 && next <= t_resumed + 300);
    check_paused_gap(f, t_paused, t_resume, next);
    assert_int_equal(count_events("paused", "p", NULL, NULL), 1);
    assert_int_equal(count_events("resumed", "p", NULL, NULL), 1);
    assert_int_equal(count_events("missed", "p", NULL, NULL), 0);
    assert_false(shown_paused(CLI_OK("show", "p", "--json")));
}

/* ------------------------------------------------------------ 5. locked */

/* lock_db opens `path` with plain SQLite and holds its write lock, as
 * `sqlite3 PATH 'BEGIN EXCLUSIVE; ...'` left open would. */
static sqlite3 *lock_db(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                     SQLITE_OK);
    /* the standalone writes every 300 ms: wait for our turn */
    assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

static void unlock_db(sqlite3 *db)
{
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* expect_one_line: DIR/<log> is exactly one line "tock: ..." with
 * `needle`. */
static void expect_one_line(struct sa_fixture *f, const char *log,
                            const char *needle)
{
    char path[SA_PATH_MAX], *text, *nl;

    text = sa_read(sa_path(f, log, path, sizeof path));
    nl = strchr(text, '\n');
    if (strncmp(text, "tock: ", 6) != 0 || nl == NULL || nl[1] != '\0' ||
        strstr(text, needle) == NULL)
        fail_msg("expected one line with '%s', got: %s", needle, text);
    tock_free(text);
}

#define LOCKED "is locked by another process"

/* expect_add_locked: a write on the locked store waits out the busy
 * timeout (5 s), then exits 1 with one line saying who to blame. */
static void expect_add_locked(struct sa_fixture *f)
{
    const char *a[] = {"add", "x", "--every", "1s", "--handler", "rec",
                       "--store", f->url, NULL};
    int64_t t0 = sa_now_ms(), took;

    sa_expect_fail(f, "tock", a, 1, LOCKED);
    took = sa_now_ms() - t0;
    print_message("tock add on the locked store: exit 1 after %" PRId64
                  " ms\n", took);
    assert_true(took >= 4500 && took <= 8000);
}

/* expect_gave_up: a standalone started on the locked store cannot apply
 * its config: exit 1, the same one line, and nothing of it left. */
static void expect_gave_up(struct sa_fixture *f, pid_t pid)
{
    struct tock_error err = {0};
    int status = 0;

    assert_tock_ok(tock_proc_wait(pid, 5000, &status, &err), &err);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    expect_one_line(f, "sa2.log", LOCKED);
    assert_true(sa_group_gone(pid));
}

/* expect_waiting: a daemon on the locked store logged the outage and the
 * reason, and runs on. */
static void expect_waiting(struct sa_fixture *f, pid_t pid, const char *log)
{
    assert_true(wait_log(f, log, "store unavailable: database ", 4000));
    assert_true(wait_log(f, log, LOCKED, 100));
    assert_true(still_running(pid));
}

/* Store A: a tock standalone runs on it, then it is locked; a second
 * standalone and `tock add` are started on it while locked. Store S: a
 * tock-scheduler is started on it while it is locked. */
static void locked_store(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], s_db[SA_PATH_MAX], s_url[SA_PATH_MAX + 8], *out;
    const char *root = sa_root_flag();
    struct tock_error err = {0};
    sqlite3 *lock_a, *lock_s;
    int64_t t_lock, t_release;
    pid_t sa, sa2, sch;

    sa_write_config(f, "echo ran $TOCK_OCCURRENCE_ID",
                    "{\"id\": \"lk\", \"trigger\": \"interval:300ms\", "
                    "\"handler\": \"rec\"}", cfg, sizeof cfg);
    sa_path(f, "s.db", s_db, sizeof s_db);
    snprintf(s_url, sizeof s_url, "sqlite:%s", s_db);
    free(CLI_OK("add", "lk", "--every", "300ms", "--handler", "rec",
                "--max-instances", "10000", "--store", s_url));
    assert_tock_ok(tock_store_open(s_url, NULL, &g_other, &err), &err);
    sa = start_standalone(f, cfg, "sa.log", "2");
    assert_true(wait_runs(f, NULL, "lk", "ok", 0, false, 1, 8000) >= 1);

    lock_a = lock_db(f->db);
    lock_s = lock_db(s_db);
    t_lock = sa_now_ms();
    sch = start_scheduler(f, s_url, "sch");
    {
        const char *a[] = {"standalone", "--store", f->url, "--config", cfg,
                           "--log-level=error", root, NULL};
        sa2 = sa_spawn(f, "tock", "sa2.log", a);
    }
    out = CLI_OK("ls"); /* reading needs no lock (WAL) */
    assert_non_null(strstr(out, "lk"));
    free(out);
    expect_add_locked(f);
    expect_gave_up(f, sa2);
    expect_waiting(f, sa, "sa.log");
    expect_waiting(f, sch, "sch.log");

    t_release = sa_now_ms();
    unlock_db(lock_a);
    unlock_db(lock_s);
    /* Nothing was decided while the lock was held (the store's time of a
     * commit is read inside it)... */
    assert_int_equal(count_between(f, NULL, "lk", NULL, t_lock + 1,
                                   t_release, true), 0);
    assert_int_equal(count_between(f, g_other, "lk", NULL, t_lock + 1,
                                   t_release, true), 0);
    /* ...and both fire again once it is gone. */
    assert_true(wait_runs(f, NULL, "lk", "ok", t_release, true, 1, 5000) >= 1);
    assert_true(wait_runs(f, g_other, "lk", "dispatched", t_release, true, 1,
                          5000) >= 1);
    assert_true(wait_log(f, "sch.log", "store available again after ", 2000));
    assert_int_equal(sa_stop(sa, 8000), 0);
    assert_int_equal(sa_stop(sch, 8000), 0);
}

/* ----------------------------------------------------------- 5. corrupt */

/* file_bytes returns the whole file (tock_free it) and its size. */
static char *file_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = tock_calloc(1, 1 << 20);

    assert_non_null(fp);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* refuse_everywhere runs every program on `path` and expects exit 1 and
 * one line naming the file and the way out, and the file untouched. */
static void refuse_everywhere(struct sa_fixture *f, const char *path,
                              const char *cfg)
{
    char url[SA_PATH_MAX + 8], want[3 * SA_PATH_MAX], side[SA_PATH_MAX + 16];
    const char *root = sa_root_flag();
    static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
    size_t before_len, after_len, i;
    char *before = file_bytes(path, &before_len), *after;

    snprintf(url, sizeof url, "sqlite:%s", path);
    snprintf(want, sizeof want,
             "%s is not a tock database or is corrupt; run `sqlite3 %s "
             "'PRAGMA integrity_check'` or restore a backup", path, path);
    {
        const char *a[] = {"ls", "--store", url, NULL};
        sa_expect_fail(f, "tock", a, 1, want);
    }
    {
        const char *a[] = {"runs", "--store", url, NULL};
        sa_expect_fail(f, "tock", a, 1, want);
    }
    {
        const char *a[] = {"add", "y", "--every", "1s", "--handler", "rec",
                           "--store", url, NULL};
        sa_expect_fail(f, "tock", a, 1, want);
    }
    {
        const char *a[] = {"standalone", "--store", url, "--config", cfg,
                           "--log-level=error", root, NULL};
        sa_expect_fail(f, "tock", a, 1, want);
    }
    {
        const char *a[] = {"--store", url, NULL};
        sa_expect_fail(f, "tock-scheduler", a, 1, want);
    }
    {
        const char *a[] = {"--store", url, "--config", cfg,
                           "--log-level=error", root, NULL};
        sa_expect_fail(f, "tock-worker", a, 1, want);
    }
    after = file_bytes(path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
        if (exists(side))
            fail_msg("%s was created next to the refused file", side);
    }
    tock_free(before);
    tock_free(after);
}

static void corrupt_store(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], text_db[SA_PATH_MAX], side[SA_PATH_MAX + 8];
    FILE *fp;

    sa_write_config(f, "true", NULL, cfg, sizeof cfg);
    /* A real store with a job, its header then overwritten. */
    free(CLI_OK("add", "x", "--every", "1s", "--handler", "rec"));
    snprintf(side, sizeof side, "%s-wal", f->db);
    assert_false(exists(side)); /* closed cleanly: all in the main file */
    fp = fopen(f->db, "r+b");
    assert_non_null(fp);
    assert_int_equal(fwrite("NOT A DATABASE!!", 1, 16, fp), 16);
    assert_int_equal(fclose(fp), 0);
    refuse_everywhere(f, f->db, cfg);

    /* A text file where the store should be. */
    sa_path(f, "text.db", text_db, sizeof text_db);
    sa_write(text_db, "jobs:\n  - tick every 2s\n");
    refuse_everywhere(f, text_db, cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(misses_past_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(coalesce_and_catch_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(max_instances_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(pause_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(locked_store, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_store, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
