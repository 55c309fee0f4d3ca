/* test_libtock_threads.c: the embedded scheduler used from several threads
 * at once while it fires; shutdown while functions run (waiting, and not
 * waiting: cooperative cancellation); shutdown and free from inside the
 * scheduler's own callbacks; max_instances skipping a slow job; two
 * schedulers in one process on two files. */
#include "test_libtock_fixture.h"

struct fx {
    char *dir;
    char url[512];
    struct rec *rec;
    struct calls calls;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->dir = tock_test_tmpdir("libtock-threads");
    assert_non_null(f->dir);
    db_url(f->url, sizeof f->url, f->dir, "t.db");
    f->rec = rec_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    rec_free(f->rec);
    tock_test_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---------------------------------------------------- API from threads */

struct hammer {
    struct tock_scheduler *s;
    int index;
    int rounds;
    int failures;
    char msg[TOCK_ERRSTR_MAX];
};

static void hammer_fail(struct hammer *h, const char *what,
                        const struct tock_error *err)
{
    if (h->failures++ == 0)
        snprintf(h->msg, sizeof h->msg, "%s: %s", what, err->msg);
}

/* hammer_round adds a job, lists, reads, pauses, resumes, replaces and
 * removes it, as fast as it can. */
static void hammer_round(struct hammer *h, int round)
{
    struct tock_error err = {0};
    struct tock_jobinfo info, *list = NULL;
    char id[64];
    size_t n = 0;
    struct tock_jobdef d = {.id = id, .trigger = "interval:50ms",
                            .function = "count"};

    snprintf(id, sizeof id, "h%d-%d", h->index, round);
    if (tock_scheduler_add_job(h->s, &d, &err) != 0)
        hammer_fail(h, "add", &err);
    if (tock_scheduler_list_jobs(h->s, &list, &n, &err) != 0)
        hammer_fail(h, "list", &err);
    tock_jobinfo_list_free(list, n);
    if (tock_scheduler_get_job(h->s, id, &info, &err) != 0)
        hammer_fail(h, "get", &err);
    tock_jobinfo_clear(&info);
    if (tock_scheduler_pause_job(h->s, id, &err) != 0)
        hammer_fail(h, "pause", &err);
    if (tock_scheduler_resume_job(h->s, id, &err) != 0)
        hammer_fail(h, "resume", &err);
    d.trigger = "interval:70ms";
    if (tock_scheduler_replace_job(h->s, &d, &err) != 0)
        hammer_fail(h, "replace", &err);
    if (round % 2 == 0 && tock_scheduler_remove_job(h->s, id, &err) != 0)
        hammer_fail(h, "remove", &err);
}

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    int64_t end = mono_ms() + 800;
    int i;

    /* A tight loop: the firing loop and the dispatcher must still get
     * their turns at the store (scheduler/embed_gate.c). */
    for (i = 0; mono_ms() < end; i++)
        hammer_round(h, i);
    h->rounds = i;
    return NULL;
}

static void test_api_from_threads_while_firing(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, f->rec, 4);
    struct hammer h[4];
    pthread_t t[4];
    size_t i, total = 0, ok, fired;
    int calls;

    reg(s, "count", fn_count, &f->calls);
    add(s, &(struct tock_jobdef){.id = "steady", .trigger = "interval:50ms",
                                 .function = "count"});
    start(s);
    for (i = 0; i < 4; i++) {
        memset(&h[i], 0, sizeof h[i]);
        h[i].s = s;
        h[i].index = (int)i;
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (h[i].failures > 0)
            fail_msg("thread %zu: %d failures, first: %s", i, h[i].failures,
                     h[i].msg);
        total += (size_t)h[i].rounds;
    }
    tock_scheduler_shutdown(s, TOCK_SHUTDOWN_WAIT, NULL);
    /* Every fire ran once: one ok run per call, one record per occurrence,
     * one fired and one succeeded event each. */
    calls = atomic_load(&f->calls.done);
    ok = 0;
    {
        struct tock_runinfo *r = NULL;
        struct tock_error err = {0};
        size_t n = 0;

        assert_tock_ok(tock_scheduler_runs(s, NULL, 100000, &r,
                                           &n, &err),
                       &err);
        for (i = 0; i < n; i++) {
            /* Nothing failed; with dozens of 50 ms jobs competing for
             * the store, some occurrences are coalesced or skipped. */
            if (strcmp(r[i].status, "ok") != 0 &&
                strcmp(r[i].status, "dispatched") != 0 &&
                strcmp(r[i].status, "missed") != 0 &&
                strcmp(r[i].status, "skipped") != 0)
                fail_msg("run %s: %s", r[i].occurrence, r[i].status);
            ok += strcmp(r[i].status, "ok") == 0;
        }
        tock_runinfo_list_free(r, n);
    }
    fired = rec_count(f->rec, TOCK_SCHED_FIRED, NULL);
    print_message("%zu API rounds from 4 threads; %d calls, %zu fired\n",
                  total, calls, fired);
    assert_true(total >= 4); /* each thread got through a round */
    assert_true(calls >= 5);
    assert_true(rec_count(f->rec, TOCK_SCHED_FIRED, "steady") >= 5);
    assert_int_equal(ok, (size_t)calls);
    assert_int_equal(rec_count(f->rec, TOCK_SCHED_SUCCEEDED, NULL),
                     (size_t)calls);
    /* WAIT waited for the running ones; fired tasks not yet taken stay
     * in the store for the next start. */
    assert_int_equal(fired, (size_t)calls + count_status(s, NULL,
                                                         "dispatched"));
    assert_no_duplicates(s, "steady");
    tock_scheduler_free(s);
}

/* ----------------------------------------------------------- shutdown */

static void test_shutdown_waits_for_running(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, f->rec, 2);
    struct tock_error err = {0};
    struct tock_scheduler_stats st;
    int64_t t0;

    f->calls.sleep_ms = 400;
    reg(s, "slow", fn_slow, &f->calls);
    add(s, &(struct tock_jobdef){.id = "slow", .trigger = "interval:1h",
                                 .function = "slow"});
    start(s);
    assert_tock_ok(tock_scheduler_run_job(s, "slow", NULL, &err), &err);
    assert_true(wait_started(&f->calls, 1, 3000));
    tock_scheduler_stats(s, &st);
    assert_int_equal(st.running, 1);
    t0 = mono_ms();
    assert_tock_ok(tock_scheduler_shutdown(s, TOCK_SHUTDOWN_WAIT, &err), &err);
    assert_true(mono_ms() - t0 >= 250); /* it waited for the function */
    assert_int_equal(atomic_load(&f->calls.done), 1);
    assert_int_equal(atomic_load(&f->calls.cancel_seen), 0);
    /* Recorded and heard before shutdown returned. */
    assert_int_equal(count_status(s, "slow", "ok"), 1);
    assert_int_equal(rec_count(f->rec, TOCK_SCHED_SUCCEEDED, "slow"), 1);
    tock_scheduler_stats(s, &st);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.succeeded, 1);
    /* Shut down twice is fine; start again is not. */
    assert_tock_ok(tock_scheduler_shutdown(s, TOCK_SHUTDOWN_WAIT, &err), &err);
    assert_int_equal(tock_scheduler_start(s, &err), TOCK_EINVAL);
    tock_scheduler_free(s);
}

static void test_shutdown_nowait_cancels(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, f->rec, 1);
    struct tock_error err = {0};
    struct tock_runinfo *r = NULL;
    int64_t t0;
    size_t n;

    f->calls.sleep_ms = 3000;
    f->calls.cooperative = true;
    reg(s, "slow", fn_slow, &f->calls);
    add(s, &(struct tock_jobdef){.id = "slow", .trigger = "interval:1h",
                                 .function = "slow"});
    start(s);
    assert_tock_ok(tock_scheduler_run_job(s, "slow", NULL, &err), &err);
    /* A second run waits for the only job thread: handed back at stop. */
    assert_tock_ok(tock_scheduler_run_job(s, "slow", NULL, &err), &err);
    assert_true(wait_started(&f->calls, 1, 3000));
    t0 = mono_ms();
    assert_tock_ok(tock_scheduler_shutdown(s, TOCK_SHUTDOWN_NOWAIT, &err),
                   &err);
    assert_true(mono_ms() - t0 < 1000 * SLOW); /* did not wait 3 s */
    tock_scheduler_free(s); /* waits for the function, which cancels */
    assert_int_equal(atomic_load(&f->calls.cancel_seen), TOCK_ECANCELED);
    assert_int_equal(atomic_load(&f->calls.done), 1);
    assert_true(mono_ms() - t0 < 2500 * SLOW);

    s = new_sched(f->url, NULL, 1);
    n = runs_of(s, "slow", &r);
    assert_int_equal(n, 2);
    /* Newest first: the second never started, and is there to run. */
    assert_string_equal(r[0].status, "dispatched");
    assert_string_equal(r[1].status, "cancelled");
    tock_runinfo_list_free(r, n);
    tock_scheduler_free(s);
    assert_int_equal(rec_count(f->rec, TOCK_SCHED_FAILED, "slow"), 1);
}

/* From inside a job function: WAIT is refused, NOWAIT stops. From inside
 * the listener: free is refused (it would wait for itself). */
struct inside {
    struct tock_scheduler *s;
    atomic_int wait_rc, nowait_rc, freed_in_listener;
};

static int fn_stop_me(struct tock_call *call, void *data)
{
    struct inside *in = data;
    struct tock_error err = {0};

    atomic_store(&in->wait_rc, tock_scheduler_shutdown(
                                   tock_call_scheduler(call),
                                   TOCK_SHUTDOWN_WAIT, &err));
    atomic_store(&in->nowait_rc, tock_scheduler_shutdown(
                                     tock_call_scheduler(call),
                                     TOCK_SHUTDOWN_NOWAIT, &err));
    return 0;
}

static void listener_frees(const struct tock_sched_event *e, void *data)
{
    struct inside *in = data;

    if (e->type == TOCK_SCHED_FIRED && !atomic_exchange(&in->freed_in_listener,
                                                        1))
        tock_scheduler_free(in->s); /* refused, logged */
}

static void test_shutdown_from_inside(void **state)
{
    struct fx *f = *state;
    struct inside in;
    struct tock_scheduler_config cfg = {.listener = listener_frees,
                                        .listener_data = &in};
    struct tock_error err = {0};

    memset(&in, 0, sizeof in);
    assert_tock_ok(tock_scheduler_new(f->url, &cfg, &in.s, &err), &err);
    reg(in.s, "stop", fn_stop_me, &in);
    add(in.s, &(struct tock_jobdef){.id = "stopper", .trigger = "interval:1h",
                                    .function = "stop"});
    start(in.s);
    assert_tock_ok(tock_scheduler_run_job(in.s, "stopper", NULL, &err), &err);
    sleep_ms(300 * SLOW);
    assert_int_equal(atomic_load(&in.wait_rc), TOCK_EBUSY);
    assert_int_equal(atomic_load(&in.nowait_rc), 0);
    assert_int_equal(atomic_load(&in.freed_in_listener), 1);
    assert_int_equal(tock_scheduler_start(in.s, &err), TOCK_EINVAL);
    tock_scheduler_free(in.s);
}

/* ------------------------------------------------------- max_instances */

static size_t count_skipped_runs(const char *url)
{
    struct tock_scheduler *s = new_sched(url, NULL, 1);
    size_t n = count_status(s, "busy", "skipped");

    tock_scheduler_free(s);
    return n;
}

static void test_max_instances_skips(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, f->rec, 4);

    f->calls.sleep_ms = 450;
    reg(s, "slow", fn_slow, &f->calls);
    add(s, &(struct tock_jobdef){.id = "busy", .trigger = "interval:100ms",
                                 .function = "slow"});
    start(s);
    assert_true(wait_events(f->rec, TOCK_SCHED_SKIPPED, "busy", 2, 3000));
    tock_scheduler_free(s);
    assert_int_equal(atomic_load(&f->calls.max_running), 1);
    assert_true(atomic_load(&f->calls.done) >= 1);
    for (size_t i = 0; i < f->rec->n; i++)
        if (f->rec->v[i].type == TOCK_SCHED_SKIPPED)
            assert_string_equal(f->rec->v[i].reason, "max_instances");
    assert_int_equal(count_skipped_runs(f->url), 
                     rec_count(f->rec, TOCK_SCHED_SKIPPED, "busy"));
}

/* ------------------------------------------------ two in one process */

static void test_two_schedulers_two_files(void **state)
{
    struct fx *f = *state;
    struct calls c2;
    struct rec *r2 = rec_new();
    char url2[512];
    struct tock_scheduler *a, *b;

    memset(&c2, 0, sizeof c2);
    db_url(url2, sizeof url2, f->dir, "other.db");
    a = new_sched(f->url, f->rec, 1);
    b = new_sched(url2, r2, 1);
    assert_string_not_equal(tock_scheduler_node_id(a),
                            tock_scheduler_node_id(b));
    reg(a, "work", fn_count, &f->calls);
    reg(b, "work", fn_count, &c2);
    add(a, &(struct tock_jobdef){.id = "in-a", .trigger = "interval:100ms",
                                 .function = "work"});
    add(b, &(struct tock_jobdef){.id = "in-b", .trigger = "interval:150ms",
                                 .function = "work"});
    start(a);
    start(b);
    assert_true(wait_calls(&f->calls, 3, 3000));
    assert_true(wait_calls(&c2, 3, 3000));
    tock_scheduler_free(a);
    tock_scheduler_free(b);
    assert_int_equal(rec_count(f->rec, TOCK_SCHED_FIRED, "in-b"), 0);
    assert_int_equal(rec_count(r2, TOCK_SCHED_FIRED, "in-a"), 0);
    assert_true(strncmp(f->calls.last_occ, "in-a@", 5) == 0);
    assert_true(strncmp(c2.last_occ, "in-b@", 5) == 0);
    rec_free(r2);
}

/* Two schedulers on one file (as two processes would be): each
 * occurrence fires once, on one of them, and runs once. */
static void test_two_schedulers_one_file(void **state)
{
    struct fx *f = *state;
    struct calls c2;
    struct rec *r2 = rec_new();
    struct tock_scheduler *a = new_sched(f->url, f->rec, 2);
    struct tock_scheduler *b = new_sched(f->url, r2, 2);
    size_t fired_a, fired_b, ok;
    int calls;

    memset(&c2, 0, sizeof c2);
    reg(a, "work", fn_count, &f->calls);
    reg(b, "work", fn_count, &c2);
    add(a, &(struct tock_jobdef){.id = "shared", .trigger = "interval:50ms",
                                 .function = "work"});
    start(a);
    start(b);
    sleep_ms(1000);
    tock_scheduler_free(a);
    tock_scheduler_free(b);
    calls = atomic_load(&f->calls.done) + atomic_load(&c2.done);
    fired_a = rec_count(f->rec, TOCK_SCHED_FIRED, "shared");
    fired_b = rec_count(r2, TOCK_SCHED_FIRED, "shared");
    a = new_sched(f->url, NULL, 1);
    ok = count_status(a, "shared", "ok");
    assert_no_duplicates(a, "shared");
    print_message("two schedulers, one file: fired %zu + %zu, ran %d\n",
                  fired_a, fired_b, calls);
    assert_true(calls >= 5);
    assert_int_equal(ok, (size_t)calls);
    assert_int_equal(fired_a + fired_b,
                     (size_t)calls + count_status(a, "shared", "dispatched"));
    tock_scheduler_free(a);
    rec_free(r2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_from_threads_while_firing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_waits_for_running,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_nowait_cancels, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_from_inside, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_max_instances_skips, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_two_schedulers_two_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_two_schedulers_one_file, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
