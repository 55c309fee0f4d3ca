/* test_libtock_restart.c: the embedded scheduler across restarts of the
 * program, on one SQLite file: jobs persist and continue on their schedule
 * with nothing fired twice; occurrences that fell while the program was
 * down are reported missed (past misfire_grace) or coalesced into one fire
 * (within it) through the listener, each with its occurrence id; a task
 * handed back at a NOWAIT shutdown runs at the next start. */
#include "test_libtock_fixture.h"

struct fx {
    char *dir;
    char url[512];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->dir = tock_test_tmpdir("libtock-restart");
    assert_non_null(f->dir);
    db_url(f->url, sizeof f->url, f->dir, "keep.db");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    tock_test_rmtree(f->dir);
    free(f);
    return 0;
}

/* one_run starts a scheduler on the file, keeps job `def` with
 * replace_job (what a program does at every start), waits for `want` more
 * calls and frees it. */
static void one_run(struct fx *f, const struct tock_jobdef *def,
                    struct calls *c, struct rec *r, int want)
{
    struct tock_scheduler *s = new_sched(f->url, r, 2);
    struct tock_error err = {0};
    int before = atomic_load(&c->done);

    reg(s, "count", fn_count, c);
    assert_tock_ok(tock_scheduler_replace_job(s, def, &err), &err);
    start(s);
    assert_true(wait_calls(c, before + want, 3000));
    tock_scheduler_free(s);
}

static void test_restart_continues_jobs(void **state)
{
    struct fx *f = *state;
    struct tock_jobdef def = {.id = "tick", .trigger = "interval:200ms",
                              .function = "count"};
    struct calls c;
    struct tock_scheduler *s;
    struct tock_runinfo *r = NULL;
    struct tock_jobinfo info;
    struct tock_error err = {0};
    int64_t first;
    size_t n, i;

    memset(&c, 0, sizeof c);
    one_run(f, &def, &c, NULL, 3);
    one_run(f, &def, &c, NULL, 3);
    one_run(f, &def, &c, NULL, 2);

    s = new_sched(f->url, NULL, 1);
    assert_tock_ok(tock_scheduler_get_job(s, "tick", &info, &err), &err);
    assert_int_equal(info.version, 1); /* replaced unchanged, three times */
    tock_jobinfo_clear(&info);
    n = runs_of(s, "tick", &r);
    assert_true(n >= 8);
    first = r[n - 1].scheduled_ms;
    for (i = 0; i < n; i++) {
        /* One schedule across the restarts: every run on the grid of the
         * first, in order, each occurrence once. */
        assert_int_equal((r[i].scheduled_ms - first) % 200, 0);
        if (i > 0)
            assert_true(r[i].scheduled_ms < r[i - 1].scheduled_ms);
        assert_true(strcmp(r[i].status, "ok") == 0 ||
                    strcmp(r[i].status, "dispatched") == 0 ||
                    strcmp(r[i].status, "missed") == 0);
    }
    assert_int_equal(count_status(s, "tick", "ok"),
                     (size_t)atomic_load(&c.done));
    tock_runinfo_list_free(r, n);
    tock_scheduler_free(s);
}

/* add_and_leave adds `def` and frees the scheduler without starting it:
 * the program "goes down" right after. Returns the first fire time. */
static int64_t add_and_leave(struct fx *f, const struct tock_jobdef *def)
{
    struct tock_scheduler *s = new_sched(f->url, NULL, 1);
    struct tock_jobinfo info;
    struct tock_error err = {0};
    int64_t first;

    add(s, def);
    assert_tock_ok(tock_scheduler_get_job(s, def->id, &info, &err), &err);
    first = info.next_fire_ms;
    tock_jobinfo_clear(&info);
    tock_scheduler_free(s);
    return first;
}

static void test_misfire_after_downtime(void **state)
{
    struct fx *f = *state;
    struct tock_jobdef def = {.id = "flush", .trigger = "interval:200ms",
                              .function = "count", .misfire_grace_ms = 100};
    struct rec *rec = rec_new();
    struct calls c;
    struct tock_scheduler *s;
    int64_t first, back;
    size_t missed, i, seen = 0;

    memset(&c, 0, sizeof c);
    first = add_and_leave(f, &def);
    sleep_ms(1300); /* down: about six occurrences fall, past their grace */
    back = now_ms();
    s = new_sched(f->url, rec, 1);
    reg(s, "count", fn_count, &c);
    start(s);
    assert_true(wait_events(rec, TOCK_SCHED_FIRED, "flush", 2, 3000));
    tock_scheduler_free(s);

    missed = rec_count(rec, TOCK_SCHED_MISSED, "flush");
    print_message("down 1.3 s: %zu occurrences reported missed\n", missed);
    assert_true(missed >= 5);
    for (i = 0; i < rec->n; i++) {
        struct ev *e = &rec->v[i];
        char occ[160];

        if (e->type == TOCK_SCHED_FIRED) {
            assert_true(e->sched > back - 100); /* fresh ones only */
            continue;
        }
        if (e->type != TOCK_SCHED_MISSED)
            continue;
        /* Each missed occurrence by itself, with its identity, in order. */
        assert_int_equal(e->count, 1);
        snprintf(occ, sizeof occ, "flush@%" PRId64, e->sched);
        assert_string_equal(e->occ, occ);
        assert_string_equal(e->reason, "misfire_grace");
        assert_int_equal(e->sched, first + 200 * (int64_t)seen);
        assert_true(e->sched < back);
        seen++;
    }
    assert_int_equal(seen, missed);
    s = new_sched(f->url, NULL, 1);
    assert_int_equal(count_status(s, "flush", "missed"), missed);
    assert_no_duplicates(s, "flush");
    tock_scheduler_free(s);
    rec_free(rec);
}

/* Within an unlimited grace, the backlog fires once (coalesce) and the
 * older ones are reported as coalesced. */
static void test_coalesce_after_downtime(void **state)
{
    struct fx *f = *state;
    struct tock_jobdef def = {.id = "sum", .trigger = "interval:200ms",
                              .function = "count",
                              .misfire_grace_ms = TOCK_GRACE_UNLIMITED};
    struct rec *rec = rec_new();
    struct calls c;
    struct tock_scheduler *s;
    int64_t first;
    long at;
    size_t coalesced, i;

    memset(&c, 0, sizeof c);
    first = add_and_leave(f, &def);
    sleep_ms(1000);
    s = new_sched(f->url, rec, 1);
    reg(s, "count", fn_count, &c);
    start(s);
    assert_true(wait_events(rec, TOCK_SCHED_SUCCEEDED, "sum", 1, 3000));
    tock_scheduler_free(s);

    coalesced = rec_count(rec, TOCK_SCHED_MISSED, "sum");
    assert_true(coalesced >= 3);
    for (i = 0; i < rec->n && rec->v[i].type == TOCK_SCHED_MISSED; i++) {
        assert_string_equal(rec->v[i].reason, "coalesced");
        assert_int_equal(rec->v[i].sched, first + 200 * (int64_t)i);
    }
    assert_int_equal(i, coalesced); /* the misses come before the fire */
    /* The one fire is the latest occurrence that was due. */
    assert_int_equal(rec->v[i].type, TOCK_SCHED_FIRED);
    assert_int_equal(rec->v[i].sched, first + 200 * (int64_t)coalesced);
    at = rec_find(rec, TOCK_SCHED_SUCCEEDED, rec->v[i].occ);
    assert_true(at > (long)i);
    rec_free(rec);
}

/* NOWAIT hands back a task that had not started; the next start runs it:
 * an acknowledged fire is never lost. */
static void test_handed_back_task_runs_next_time(void **state)
{
    struct fx *f = *state;
    struct calls slow, c;
    struct tock_scheduler *s;
    struct tock_error err = {0};
    int64_t sched = 0;
    char occ[160];

    memset(&slow, 0, sizeof slow);
    memset(&c, 0, sizeof c);
    slow.sleep_ms = 300;
    s = new_sched(f->url, NULL, 1);
    reg(s, "slow", fn_slow, &slow);
    add(s, &(struct tock_jobdef){.id = "a", .trigger = "interval:1h",
                                 .function = "slow"});
    add(s, &(struct tock_jobdef){.id = "b", .trigger = "interval:1h",
                                 .function = "count"});
    start(s);
    assert_tock_ok(tock_scheduler_run_job(s, "a", NULL, &err), &err);
    assert_true(wait_started(&slow, 1, 3000));
    assert_tock_ok(tock_scheduler_run_job(s, "b", &sched, &err), &err);
    sleep_ms(50); /* taken, waiting for the busy job thread */
    assert_tock_ok(tock_scheduler_shutdown(s, TOCK_SHUTDOWN_NOWAIT, &err),
                   &err);
    tock_scheduler_free(s);
    assert_int_equal(atomic_load(&c.n), 0);

    s = new_sched(f->url, NULL, 1);
    reg(s, "slow", fn_slow, &slow);
    reg(s, "count", fn_count, &c);
    start(s);
    assert_true(wait_calls(&c, 1, 3000));
    snprintf(occ, sizeof occ, "b@%" PRId64, sched);
    assert_string_equal(c.last_occ, occ);
    tock_scheduler_free(s);
    assert_int_equal(atomic_load(&c.n), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restart_continues_jobs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_misfire_after_downtime, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_coalesce_after_downtime, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_handed_back_task_runs_next_time,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
