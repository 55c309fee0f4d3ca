/* test_loop_stop.c: the firing loop (scheduler/loop.h) when things go
 * wrong or end: stop releases held claims, a locked store is reported once
 * and recovered from, an undecidable job lapses with one log line, bad
 * configuration is refused and an unstarted loop closes cleanly. */
#include <sqlite3.h>

#include "test_loop_fixture.h"

/* stop_once_claimed stops the loop as soon as it claimed something (and
 * looks again every 10 ms until then). */
static void stop_once_claimed(struct fx *f)
{
    struct tock_loop_stats st;

    tock_loop_stats(f->loop, &st);
    if (st.claimed == 0) {
        uv_timer_start(&f->t_action, on_action_timer, 10, 0);
        return;
    }
    f->action = NULL;
    on_stop_timer(&f->t_stop);
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
    add_job(f, "jit", 60000, wall_ms() - 10, 5000, false);
    f->action = stop_once_claimed;
    run(f, 10, 20000);
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
    add_job(f, "x", 60000, first, 0, false);
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
        cmocka_unit_test(test_stop_releases_held_claims),
        cmocka_unit_test(test_store_locked_then_back),
        cmocka_unit_test(test_undecidable_job_lapses),
        cmocka_unit_test(test_bad_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
