/* test_loop.c: the firing loop (scheduler/loop.h) on a real SQLite file in
 * a temp dir, in a real libuv loop: jobs fire at their store time, a change
 * by another connection wakes the loop (file watch) and so does
 * tock_loop_wake, nothing wakes the loop while nothing is due, stop
 * releases held claims, a locked store is reported once and recovered from,
 * an undecidable job lapses with one log line; every test ends with
 * uv_loop_close() == 0. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/alloc.h"
#include "scheduler/loop_internal.h"
#include "scheduler/tz.h"
#include "store/store.h"
#include "support.h"

/* ---------------------------------------------------------------- fixture */

struct fx {
    char *dir;
    char path[512], url[600];
    struct tock_store *s;      /* the loop's store */
    struct tock_store *other;  /* "another process": the CLI's connection */
    struct tock_log *log;
    uv_loop_t uv;
    uv_timer_t t_action, t_stop;
    struct tock_loop *loop;
    struct tock_loop_config cfg;
    struct tock_error err;
    char lines[64 * 1024];     /* captured log lines */
    size_t fired;              /* outcome callbacks */
    bool closed, stopped;
    int stop_status;
    void (*action)(struct fx *f); /* run by t_action */
    struct tock_loop_stats stats; /* at stop */
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sink(void *data, enum tock_log_level level, const char *line)
{
    struct fx *f = data;
    size_t n = strlen(f->lines);

    (void)level;
    snprintf(f->lines + n, sizeof f->lines - n, "%s\n", line);
}

static void on_outcome(void *data, const struct tock_loop_outcome *o)
{
    struct fx *f = data;

    if (strcmp(o->what, "fired") == 0)
        f->fired++;
}

static struct fx *fx_new(int64_t busy_timeout_ms)
{
    struct tock_store_tuning tuning = {.busy_timeout_ms = busy_timeout_ms};
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->dir = tock_test_tmpdir("loop");
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/tock.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    f->log = tock_log_new(2, TOCK_LOG_DEBUG, TOCK_LOG_HUMAN);
    tock_log_set_sink(f->log, sink, f);
    assert_tock_ok(tock_store_open_tuned(f->url, &tuning, NULL, &f->s,
                                         &f->err), &f->err);
    assert_tock_ok(tock_store_open(f->url, NULL, &f->other, &f->err),
                   &f->err);
    assert_int_equal(uv_loop_init(&f->uv), 0);
    uv_timer_init(&f->uv, &f->t_action);
    uv_timer_init(&f->uv, &f->t_stop);
    f->t_action.data = f->t_stop.data = f;
    f->cfg.watch_path = f->path;
    f->cfg.task_reclaim_ms = -1;
    f->cfg.on_outcome = on_outcome;
    f->cfg.outcome_data = f;
    return f;
}

static void fx_free(struct fx *f)
{
    tock_store_close(f->s);
    tock_store_close(f->other);
    tock_log_free(f->log);
    tock_test_rmtree(f->dir);
    free(f);
}

/* add_interval adds job `id` every `period_ms` with its first occurrence
 * at `first_ms` (the anchor), through the other connection. */
static void add_interval(struct fx *f, const char *id, int64_t period_ms,
                         int64_t first_ms, int64_t jitter_ms)
{
    char trig[128], at[64];
    struct tock_job j;
    enum tock_put_outcome o;

    tock_time_format(first_ms, NULL, at, sizeof at);
    snprintf(trig, sizeof trig, "interval:%" PRId64 "ms@%s", period_ms, at);
    assert_int_equal(tock_job_init_defaults(&j), 0);
    j.id = tock_strdup(id);
    j.handler = tock_strdup("h");
    j.trigger = tock_strdup(trig);
    j.max_instances = TOCK_MAX_INSTANCES_MAX;
    j.jitter_ms = jitter_ms;
    assert_tock_ok(tock_store_job_put(f->other, &j, first_ms, TOCK_PUT_CREATE,
                                      0, &o, NULL, &f->err), &f->err);
    tock_job_clear(&j);
}

static void on_closed(void *data)
{
    ((struct fx *)data)->closed = true;
}

static void on_stopped(struct tock_loop *loop, int status, void *data)
{
    struct fx *f = data;

    f->stopped = true;
    f->stop_status = status;
    tock_loop_stats(loop, &f->stats);
    tock_loop_close(loop, on_closed, f);
}

static void on_stop_timer(uv_timer_t *h)
{
    struct fx *f = h->data;

    assert_int_equal(tock_loop_stop(f->loop, on_stopped, f), 0);
    /* A second stop is refused and its callback never runs. */
    assert_int_equal(tock_loop_stop(f->loop, on_stopped, f), TOCK_EINVAL);
    uv_close((uv_handle_t *)&f->t_action, NULL);
    uv_close((uv_handle_t *)&f->t_stop, NULL);
}

static void on_action_timer(uv_timer_t *h)
{
    struct fx *f = h->data;

    f->action(f);
}

/* run starts the loop, runs `action` after action_ms (if set), stops after
 * stop_ms, and checks that every handle was closed. */
static void run(struct fx *f, uint64_t action_ms, uint64_t stop_ms)
{
    assert_tock_ok(tock_loop_new(&f->uv, f->s, f->log, &f->cfg, &f->loop,
                                 &f->err), &f->err);
    assert_tock_ok(tock_loop_start(f->loop, &f->err), &f->err);
    if (f->action != NULL)
        uv_timer_start(&f->t_action, on_action_timer, action_ms, 0);
    uv_timer_start(&f->t_stop, on_stop_timer, stop_ms, 0);
    uv_run(&f->uv, UV_RUN_DEFAULT);
    assert_true(f->stopped);
    assert_true(f->closed);
    assert_int_equal(uv_loop_close(&f->uv), 0);
}

/* runs_of loads the runs of `job`, oldest first. */
static size_t runs_of(struct fx *f, const char *job, struct tock_run **out)
{
    struct tock_run *r = NULL;
    size_t n = 0, i;

    assert_tock_ok(tock_store_runs(f->other, job, 1000, &r, &n, &f->err),
                   &f->err);
    for (i = 0; i < n / 2; i++) { /* newest first -> oldest first */
        struct tock_run tmp = r[i];

        r[i] = r[n - 1 - i];
        r[n - 1 - i] = tmp;
    }
    *out = r;
    return n;
}

/* ------------------------------------------------------------------ tests */

static void test_fires_on_time(void **state)
{
    struct fx *f = fx_new(0);
    const char *ids[] = {"a", "b", "c"};
    int64_t first = wall_ms() + 300, late_max = 0;
    size_t total = 0, i, k;

    (void)state;
    for (i = 0; i < 3; i++)
        add_interval(f, ids[i], 200, first + (int64_t)i * 50, 0);
    run(f, 0, 1600);
    for (i = 0; i < 3; i++) {
        struct tock_run *r = NULL;
        size_t n = runs_of(f, ids[i], &r);

        assert_true(n >= 5); /* ~1.3 s of 200 ms occurrences */
        for (k = 0; k < n; k++) {
            int64_t sched = first + (int64_t)i * 50 + (int64_t)k * 200;
            int64_t late = r[k].fired_ms - r[k].sched_ms;

            assert_int_equal(r[k].sched_ms, sched); /* no gap, no extra */
            assert_string_equal(r[k].status, "dispatched");
            assert_true(late >= 0); /* never early */
            if (late > late_max)
                late_max = late;
        }
        total += n;
        tock_run_list_free(r, n);
    }
    print_message("fired %zu occurrences, worst lateness %" PRId64 " ms, "
                  "mean %" PRId64 " ms\n", total, late_max,
                  f->stats.late_sum_ms / (int64_t)f->stats.fired);
    assert_true(late_max < 100);
    assert_int_equal(f->stats.fired, total);
    assert_int_equal(f->fired, total);
    assert_int_equal(f->stats.errors, 0);
    assert_non_null(strstr(f->lines, "fired a@"));
    assert_non_null(strstr(f->lines, " ms)"));
    fx_free(f);
}

static int64_t g_added_first;

static void add_later(struct fx *f)
{
    g_added_first = wall_ms() + 100;
    add_interval(f, "late", 60000, g_added_first, 0);
}

/* check_prompt asserts that job "late" fired once, promptly. */
static void check_prompt(struct fx *f)
{
    struct tock_run *r = NULL;
    size_t n = runs_of(f, "late", &r);

    assert_int_equal(n, 1);
    assert_int_equal(r[0].sched_ms, g_added_first);
    print_message("added while asleep: fired %" PRId64 " ms late\n",
                  r[0].fired_ms - r[0].sched_ms);
    assert_true(r[0].fired_ms - r[0].sched_ms < 100);
    tock_run_list_free(r, n);
}

static void test_wakes_on_file_change(void **state)
{
    struct fx *f = fx_new(0);

    (void)state;
    f->action = add_later; /* through the other connection, no wake call */
    run(f, 300, 900);
    check_prompt(f);
    assert_true(f->stats.change_events > 0);
    assert_true(f->stats.change_checks > 0);
    assert_int_equal(f->stats.wakes, 0);
    assert_int_equal(f->stats.timer_wakeups, 1); /* the due time only */
    fx_free(f);
}

static void add_and_wake(struct fx *f)
{
    add_later(f);
    tock_loop_wake(f->loop);
}

static void test_wakes_on_wake_call(void **state)
{
    struct fx *f = fx_new(0);

    (void)state;
    f->cfg.watch_path = NULL; /* no file watch: only the wake call */
    f->action = add_and_wake;
    run(f, 300, 900);
    check_prompt(f);
    assert_int_equal(f->stats.wakes, 1);
    assert_int_equal(f->stats.change_events, 0);
    fx_free(f);
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void test_idle_no_wakeups(void **state)
{
    struct fx *f = fx_new(0);
    double cpu;

    (void)state;
    add_interval(f, "far", 60000, wall_ms() + 10000, 0);
    cpu = cpu_seconds();
    run(f, 0, 2000);
    cpu = cpu_seconds() - cpu;
    print_message("2 s at rest: %" PRIu64 " timer wakeups, %" PRIu64
                  " claims, %.1f ms CPU\n", f->stats.timer_wakeups,
                  f->stats.claims, cpu * 1000);
    assert_int_equal(f->stats.timer_wakeups, 0);
    assert_int_equal(f->stats.claims, 1); /* the first, at start */
    assert_int_equal(f->stats.fired, 0);
    assert_true(cpu < 0.1);
    fx_free(f);
}

static void test_stop_releases_held_claims(void **state)
{
    struct fx *f = fx_new(0);
    struct tock_job_state st = {0};
    struct tock_run *r = NULL;
    size_t n;

    (void)state;
    /* A 5 s jitter: claimed at once, then held (up to 3/8 of the lease). */
    f->cfg.lease_ms = 15000;
    add_interval(f, "jit", 60000, wall_ms() - 10, 5000);
    run(f, 0, 300);
    assert_int_equal(f->stats.claimed, 1);
    if (f->stats.fired == 0) { /* the jitter drew a delay: it was held */
        assert_int_equal(f->stats.held, 1);
        assert_int_equal(f->stats.released, 1);
        assert_tock_ok(tock_store_job_get(f->other, "jit", &st, &f->err),
                       &f->err);
        assert_string_equal(st.owner, ""); /* back to due */
        assert_int_equal(st.fired_ms, -1);
        tock_job_state_clear(&st);
        n = runs_of(f, "jit", &r);
        assert_int_equal(n, 0);
        tock_run_list_free(r, n);
        assert_non_null(strstr(f->lines, "released 1 claim (stopping)"));
    }
    assert_int_equal(f->stop_status, 0);
    fx_free(f);
}

/* The store lock: a raw connection holding BEGIN EXCLUSIVE. */
static sqlite3 *g_locker;

static void lock_store(struct fx *f)
{
    assert_int_equal(sqlite3_open(f->path, &g_locker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(g_locker, "BEGIN EXCLUSIVE", NULL, NULL,
                                  NULL), SQLITE_OK);
    f->action = NULL;
}

static void unlock_store(uv_timer_t *h)
{
    sqlite3_exec(g_locker, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(g_locker);
    uv_close((uv_handle_t *)h, NULL);
}

static void test_store_locked_then_back(void **state)
{
    struct fx *f = fx_new(100);
    uv_timer_t unlock;
    struct tock_run *r = NULL;
    int64_t first = wall_ms() + 400;
    size_t n;

    (void)state;
    add_interval(f, "x", 60000, first, 0);
    f->action = lock_store;
    uv_timer_init(&f->uv, &unlock);
    uv_timer_start(&unlock, unlock_store, 1200, 0);
    run(f, 200, 2200);
    n = runs_of(f, "x", &r);
    assert_int_equal(n, 1); /* fired once, after the lock went */
    assert_true(r[0].fired_ms - first >= 600);
    tock_run_list_free(r, n);
    assert_true(f->stats.errors > 0);
    assert_non_null(strstr(f->lines, "store unavailable: "));
    assert_non_null(strstr(f->lines, "store available again after"));
    /* Logged once per state change, not per retry. */
    assert_null(strstr(strstr(f->lines, "store unavailable") + 1,
                       "store unavailable"));
    fx_free(f);
}

static void test_undecidable_job_lapses(void **state)
{
    struct fx *f = fx_new(0);
    struct tock_job j;
    enum tock_put_outcome o;
    struct tock_run *r = NULL;
    size_t n;

    (void)state;
    assert_int_equal(tock_job_init_defaults(&j), 0);
    j.id = tock_strdup("bad");
    j.handler = tock_strdup("h");
    j.trigger = tock_strdup("cron:61 * * * *");
    assert_tock_ok(tock_store_job_put(f->other, &j, wall_ms() - 5,
                                      TOCK_PUT_CREATE, 0, &o, NULL, &f->err),
                   &f->err);
    tock_job_clear(&j);
    f->cfg.lease_ms = 200; /* lapses and comes back a few times */
    run(f, 0, 1000);
    n = runs_of(f, "bad", &r);
    assert_int_equal(n, 0);
    tock_run_list_free(r, n);
    assert_true(f->stats.lapsed >= 2);
    assert_true(f->stats.reclaimed >= 1);
    assert_non_null(strstr(f->lines, "cannot fire job bad"));
    assert_null(strstr(strstr(f->lines, "cannot fire job bad") + 1,
                       "cannot fire job bad"));
    fx_free(f);
}

static void test_bad_config(void **state)
{
    struct fx *f = fx_new(0);
    struct tock_loop_config cfg = {0};
    struct tock_loop *l = NULL;

    (void)state;
    cfg.lease_ms = 50;
    assert_int_equal(tock_loop_new(&f->uv, f->s, NULL, &cfg, &l, &f->err),
                     TOCK_ERANGE);
    assert_null(l);
    assert_non_null(strstr(f->err.msg, "claim lease"));
    cfg.lease_ms = 0;
    cfg.claim_batch = TOCK_CLAIM_MAX + 1;
    assert_int_equal(tock_loop_new(&f->uv, f->s, NULL, &cfg, &l, &f->err),
                     TOCK_ERANGE);
    cfg.claim_batch = 0;
    cfg.node_id = "host:1";
    assert_int_equal(tock_loop_new(&f->uv, f->s, NULL, &cfg, &l, &f->err),
                     TOCK_EINVAL);
    assert_non_null(strstr(f->err.msg, "node id"));
    /* A loop closed without being started frees everything. */
    cfg.node_id = "n1";
    assert_tock_ok(tock_loop_new(&f->uv, f->s, NULL, &cfg, &l, &f->err),
                   &f->err);
    assert_string_equal(tock_loop_node_id(l), "n1");
    assert_int_equal(strlen(tock_loop_nonce(l)), 16);
    tock_loop_close(l, on_closed, f);
    uv_close((uv_handle_t *)&f->t_action, NULL);
    uv_close((uv_handle_t *)&f->t_stop, NULL);
    uv_run(&f->uv, UV_RUN_DEFAULT);
    assert_true(f->closed);
    assert_int_equal(uv_loop_close(&f->uv), 0);
    assert_null(tock_loop_watch_path("redis://localhost:6379"));
    assert_null(tock_loop_watch_path("sqlite:"));
    assert_string_equal(tock_loop_watch_path("sqlite:/x/y.db"), "/x/y.db");
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_on_time),
        cmocka_unit_test(test_wakes_on_file_change),
        cmocka_unit_test(test_wakes_on_wake_call),
        cmocka_unit_test(test_idle_no_wakeups),
        cmocka_unit_test(test_stop_releases_held_claims),
        cmocka_unit_test(test_store_locked_then_back),
        cmocka_unit_test(test_undecidable_job_lapses),
        cmocka_unit_test(test_bad_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
