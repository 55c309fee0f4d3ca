/* test_loop.c: the firing loop (scheduler/loop.h) firing on a real SQLite
 * file in a real libuv loop: jobs fire at their store time, a lone job keeps
 * firing, a change by another connection wakes the loop (file watch) and so
 * does tock_loop_wake, and nothing wakes the loop while nothing is due.
 * Stop, store faults and bad input: test_loop_stop.c. */
#include <sys/resource.h>

#include "test_loop_fixture.h"

/* ------------------------------------------------------------------ tests */

static void test_fires_on_time(void **state)
{
    struct fx *f = fx_new(0);
    const char *ids[] = {"a", "b", "c"};
    int64_t first = wall_ms() + 300, late_max = 0;
    size_t total = 0, i, k;

    (void)state;
    for (i = 0; i < 3; i++)
        add_job(f, ids[i], 200, first + (int64_t)i * 50, 0, true);
    run(f, 0, 1400);
    for (i = 0; i < 3; i++) {
        struct tock_run *r = NULL;
        size_t n = runs_of(f, ids[i], &r);

        assert_true(n >= 5); /* ~1.1 s of 200 ms occurrences */
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
    assert_true(late_max < 250 * SLOW); /* loaded CI hosts: generous */
    assert_int_equal(f->stats.fired, total);
    assert_int_equal(f->fired, total);
    assert_int_equal(f->stats.errors, 0);
    assert_non_null(strstr(f->lines, "fired a@"));
    assert_non_null(strstr(f->lines, " ms)"));
    fx_free(f);
}

/* One job alone: nothing else in the store tells the loop when to look
 * again; the commit's next time must. */
static void test_single_job_keeps_firing(void **state)
{
    struct fx *f = fx_new(0);
    struct tock_run *r = NULL;
    size_t n;

    (void)state;
    add_job(f, "solo", 150, wall_ms() + 100, 0, false);
    run(f, 0, 1000);
    n = runs_of(f, "solo", &r);
    assert_true(n >= 5);
    assert_int_equal(f->stats.timer_wakeups, n); /* one per occurrence */
    tock_run_list_free(r, n);
    fx_free(f);
}

static int64_t g_added_first;

static void add_later(struct fx *f)
{
    g_added_first = wall_ms() + 100;
    add_job(f, "late", 60000, g_added_first, 0, false);
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
    assert_true(r[0].fired_ms - r[0].sched_ms < 250 * SLOW);
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
    add_job(f, "far", 60000, wall_ms() + 10000, 0, false);
    cpu = cpu_seconds();
    run(f, 0, 1500);
    cpu = cpu_seconds() - cpu;
    print_message("1.5 s at rest: %" PRIu64 " timer wakeups, %" PRIu64
                  " claims, %.1f ms CPU\n", f->stats.timer_wakeups,
                  f->stats.claims, cpu * 1000);
    assert_int_equal(f->stats.timer_wakeups, 0);
    assert_int_equal(f->stats.claims, 1); /* the first, at start */
    assert_int_equal(f->stats.fired, 0);
    assert_true(cpu < 0.1 * SLOW);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_on_time),
        cmocka_unit_test(test_single_job_keeps_firing),
        cmocka_unit_test(test_wakes_on_file_change),
        cmocka_unit_test(test_wakes_on_wake_call),
        cmocka_unit_test(test_idle_no_wakeups),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
