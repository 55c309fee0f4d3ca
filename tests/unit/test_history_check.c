/* test_history_check.c: the fault tests' history checker
 * (tests/support/history_check.h) on hand-made histories: a clean one
 * passes with exact counts and lateness figures, and each kind of broken
 * history (lost, duplicated in each witness, off the grid, undeclared,
 * early, witnesses disagreeing) is caught and named. A checker that
 * passes everything would make every fault test pass. */
#include <string.h>

#include "history_check.h"
#include "support.h"

#define T0 1700000000000LL

struct hist_fx {
    struct tock_hist *h;
    struct tock_hist_report r;
};

static int setup(void **state)
{
    struct hist_fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    assert_int_equal(tock_hist_new(&f->h), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct hist_fx *f = *state;

    tock_hist_free(f->h);
    free(f);
    return 0;
}

/* fire records one dispatch of job@T in every witness, `late` ms late. */
static void fire(struct tock_hist *h, const char *job, int64_t t,
                 int64_t late)
{
    assert_int_equal(tock_hist_add(h, TOCK_HIST_RUNS, job, t,
                                   TOCK_HIST_DISPATCHED, t + late, "n1"), 0);
    assert_int_equal(tock_hist_add(h, TOCK_HIST_STREAM, job, t,
                                   TOCK_HIST_DISPATCHED, t + late, "n1"), 0);
    assert_int_equal(tock_hist_add(h, TOCK_HIST_EVENTS, job, t,
                                   TOCK_HIST_DISPATCHED, t + late, "n1"), 0);
    assert_int_equal(tock_hist_add(h, TOCK_HIST_TASKS, job, t,
                                   TOCK_HIST_DISPATCHED, 0, NULL), 0);
}

static void miss(struct tock_hist *h, const char *job, int64_t t)
{
    assert_int_equal(tock_hist_add(h, TOCK_HIST_RUNS, job, t,
                                   TOCK_HIST_MISSED, t + 6000, "n2"), 0);
    assert_int_equal(tock_hist_add(h, TOCK_HIST_STREAM, job, t,
                                   TOCK_HIST_MISSED, t + 6000, "n2"), 0);
}

/* clean: an interval job (10 occurrences, one missed), a date job, and
 * an unresolved occurrence after the end. */
static void clean(struct tock_hist *h)
{
    assert_int_equal(tock_hist_expect(h, "iv", T0, 1000, TOCK_HIST_OPEN), 0);
    assert_int_equal(tock_hist_expect(h, "at", T0 + 500, 0, T0 + 500), 0);
    for (int k = 0; k < 10; k++) {
        if (k == 4)
            miss(h, "iv", T0 + k * 1000);
        else
            fire(h, "iv", T0 + k * 1000, 10 * (k + 1));
    }
    fire(h, "at", T0 + 500, 5);
}

static void test_clean_history_passes(void **state)
{
    struct hist_fx *f = *state;

    clean(f->h);
    /* one more after the end, resolved once: counted, not required */
    fire(f->h, "iv", T0 + 10000, 7);
    tock_hist_check(f->h, T0 + 9999, &f->r);
    assert_int_equal(f->r.problems, 0);
    assert_int_equal(f->r.jobs, 2);
    assert_int_equal(f->r.checked, 11);
    assert_int_equal(f->r.dispatched, 10);
    assert_int_equal(f->r.missed, 1);
    assert_int_equal(f->r.after_end, 1);
    /* lateness of 11 dispatches: 5, 7, 10, 20, 30, 40, 60, ..., 100; the
     * nearest-rank p50 is the 6th */
    assert_int_equal(f->r.late_p50_ms, 40);
    assert_int_equal(f->r.late_p99_ms, 100);
    assert_int_equal(f->r.late_max_ms, 100);
    assert_int_equal(tock_hist_count_node(f->h, "n1", TOCK_HIST_DISPATCHED),
                     11);
    assert_int_equal(tock_hist_count_node(f->h, "n2", TOCK_HIST_MISSED), 1);
}

static void test_lost_occurrences_are_named(void **state)
{
    struct hist_fx *f = *state;

    assert_int_equal(tock_hist_expect(f->h, "iv", T0, 1000, TOCK_HIST_OPEN),
                     0);
    fire(f->h, "iv", T0, 1);
    fire(f->h, "iv", T0 + 2000, 1); /* T0 + 1000 never happened */
    tock_hist_check(f->h, T0 + 3000, &f->r); /* nor T0 + 3000 */
    assert_int_equal(f->r.lost, 2);
    assert_int_equal(f->r.checked, 4);
    assert_int_equal(f->r.problems, 2);
    assert_non_null(strstr(f->r.notes[0], "lost: iv@1700000001000"));
    assert_non_null(strstr(f->r.notes[1], "lost: iv@1700000003000"));
}

static void test_a_job_with_no_records_is_all_lost(void **state)
{
    struct hist_fx *f = *state;

    assert_int_equal(tock_hist_expect(f->h, "quiet", T0, 500, T0 + 2000), 0);
    tock_hist_enable(f->h, TOCK_HIST_RUNS);
    tock_hist_check(f->h, T0 + 60000, &f->r); /* grid ends at `last` */
    assert_int_equal(f->r.lost, 5);
}

/* Each witness alone reveals a duplicate. */
static void test_duplicates_in_each_witness(void **state)
{
    struct hist_fx *f = *state;
    static const enum tock_hist_source src[] = {
        TOCK_HIST_RUNS, TOCK_HIST_STREAM, TOCK_HIST_EVENTS, TOCK_HIST_TASKS};

    clean(f->h);
    for (int i = 0; i < 4; i++)
        assert_int_equal(tock_hist_add(f->h, src[i], "iv", T0 + i * 1000,
                                       TOCK_HIST_DISPATCHED, T0 + i * 1000,
                                       "n3"), 0);
    tock_hist_check(f->h, T0 + 9999, &f->r);
    assert_int_equal(f->r.duplicates, 4);
    assert_non_null(strstr(f->r.notes[0], "duplicate: iv@1700000000000"));
    assert_non_null(strstr(f->r.notes[0], "runs 2+0+0"));
}

/* A fire and a miss of the same occurrence is D + M = 2. */
static void test_fired_and_missed_is_a_duplicate(void **state)
{
    struct hist_fx *f = *state;

    clean(f->h);
    assert_int_equal(tock_hist_add(f->h, TOCK_HIST_RUNS, "iv", T0 + 1000,
                                   TOCK_HIST_MISSED, T0 + 7000, "n2"), 0);
    tock_hist_check(f->h, T0 + 9999, &f->r);
    assert_int_equal(f->r.duplicates, 1);
    assert_int_equal(f->r.problems, 2); /* and runs != stream */
}

static void test_unexpected_records(void **state)
{
    struct hist_fx *f = *state;

    clean(f->h);
    fire(f->h, "iv", T0 + 1500, 0);   /* off the grid */
    fire(f->h, "iv", T0 - 1000, 0);   /* before the first */
    fire(f->h, "at", T0 + 1500, 0);   /* a date job fires once */
    fire(f->h, "ghost", T0, 0);       /* nobody declared it */
    tock_hist_check(f->h, T0 + 9999, &f->r);
    assert_int_equal(f->r.unexpected, 4);
    assert_int_equal(f->r.problems, 4);
    assert_int_equal(f->r.checked, 11); /* the grid is still whole */
}

static void test_early_dispatch(void **state)
{
    struct hist_fx *f = *state;

    assert_int_equal(tock_hist_expect(f->h, "iv", T0, 1000, TOCK_HIST_OPEN),
                     0);
    fire(f->h, "iv", T0, -1);
    tock_hist_check(f->h, T0, &f->r);
    assert_int_equal(f->r.early, 1);
    assert_int_equal(f->r.problems, 1);
}

/* A task with no run record (a broken commit), a fired event with none,
 * and a run record with no task are each caught. */
static void test_witnesses_must_agree(void **state)
{
    struct hist_fx *f = *state;

    assert_int_equal(tock_hist_expect(f->h, "iv", T0, 1000, TOCK_HIST_OPEN),
                     0);
    fire(f->h, "iv", T0, 1);
    /* T0+1000: a task only; after the end, so not lost: mismatched */
    assert_int_equal(tock_hist_add(f->h, TOCK_HIST_TASKS, "iv", T0 + 1000,
                                   TOCK_HIST_DISPATCHED, 0, NULL), 0);
    /* T0+2000: runs and stream, but no event and no task */
    assert_int_equal(tock_hist_add(f->h, TOCK_HIST_RUNS, "iv", T0 + 2000,
                                   TOCK_HIST_DISPATCHED, T0 + 2001, "n"), 0);
    assert_int_equal(tock_hist_add(f->h, TOCK_HIST_STREAM, "iv", T0 + 2000,
                                   TOCK_HIST_DISPATCHED, T0 + 2001, "n"), 0);
    tock_hist_check(f->h, T0 + 500, &f->r);
    assert_int_equal(f->r.mismatched, 2);
    assert_int_equal(f->r.lost, 0);
    /* Due, the lone task is a lost occurrence. */
    tock_hist_check(f->h, T0 + 2000, &f->r);
    assert_int_equal(f->r.lost, 1);
    assert_int_equal(f->r.mismatched, 1);
}

/* Without RUNS, the raw stream is the primary witness. */
static void test_stream_alone(void **state)
{
    struct hist_fx *f = *state;

    assert_int_equal(tock_hist_expect(f->h, "iv", T0, 1000, TOCK_HIST_OPEN),
                     0);
    assert_int_equal(tock_hist_add(f->h, TOCK_HIST_STREAM, "iv", T0,
                                   TOCK_HIST_SKIPPED, T0 + 3, NULL), 0);
    tock_hist_check(f->h, T0 + 1000, &f->r);
    assert_int_equal(f->r.skipped, 1);
    assert_int_equal(f->r.lost, 1);
    assert_int_equal(f->r.late_max_ms, -1);
}

static void test_bad_declarations(void **state)
{
    struct hist_fx *f = *state;

    assert_int_equal(tock_hist_expect(f->h, "a", T0, -1, TOCK_HIST_OPEN),
                     TOCK_EINVAL);
    assert_int_equal(tock_hist_expect(f->h, "a", T0, 1000, T0 - 1),
                     TOCK_EINVAL);
    assert_int_equal(tock_hist_expect(f->h, "a", T0, 1000, TOCK_HIST_OPEN), 0);
    assert_int_equal(tock_hist_expect(f->h, "a", T0, 1000, TOCK_HIST_OPEN),
                     TOCK_EINVAL);
    assert_int_equal(tock_hist_add_occ(f->h, TOCK_HIST_EVENTS, "a-no-at",
                                       TOCK_HIST_DISPATCHED, 0, NULL),
                     TOCK_EINVAL);
    assert_int_equal(tock_hist_add_occ(f->h, TOCK_HIST_EVENTS,
                                       "a@1700000000000", TOCK_HIST_DISPATCHED,
                                       0, NULL), 0);
    assert_int_equal(tock_hist_kind_of("missed"), TOCK_HIST_MISSED);
    assert_int_equal(tock_hist_kind_of("skipped"), TOCK_HIST_SKIPPED);
    assert_int_equal(tock_hist_kind_of("ok"), TOCK_HIST_DISPATCHED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_clean_history_passes),
        T(test_lost_occurrences_are_named),
        T(test_a_job_with_no_records_is_all_lost),
        T(test_duplicates_in_each_witness),
        T(test_fired_and_missed_is_a_duplicate),
        T(test_unexpected_records),
        T(test_early_dispatch),
        T(test_witnesses_must_agree),
        T(test_stream_alone),
        T(test_bad_declarations),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
