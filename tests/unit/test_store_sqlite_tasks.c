/* test_store_sqlite_tasks.c: execution and history on the SQLite store:
 * take, touch, every report status, retries with back-off, redelivery and
 * dead tasks, hand-back, running repair, history order, paging and
 * trimming. */
#include "test_store_fixture.h"

static const char *const default_q[] = {"default"};

static int64_t count(struct fx *f, const char *sql)
{
    return fx_sql_int(f->path, sql);
}

/* fire_job adds job `id` (retries, back-off, max_deliveries) due now and
 * fires its first occurrence. */
static void fire_job(struct fx *f, const char *id, int retries,
                     int64_t backoff_ms, int max_deliveries)
{
    struct tock_job j;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_commit_result r;
    enum tock_put_outcome o;
    uint8_t *body;

    fx_job(&j, id);
    j.retries = retries;
    j.retry_backoff_ms = backoff_ms;
    j.max_deliveries = max_deliveries;
    j.max_instances = 100;
    assert_tock_ok(tock_store_job_put(f->s, &j, f->clock, TOCK_PUT_CREATE, 0,
                                      &o, NULL, &f->err),
                   &f->err);
    tock_job_clear(&j);
    assert_tock_ok(tock_store_claim(f->s, "node", 8, 1000, &a, &f->err),
                   &f->err);
    assert_int_equal(a.n, 1);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 0, &body);
    assert_tock_ok(tock_store_commit(f->s, &c, 1, &r, &f->err), &f->err);
    assert_int_equal(r.status, TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
}

/* take1 takes from "default" as `consumer` and requires `n` tasks. */
static void take_n(struct fx *f, const char *consumer, size_t n,
                   struct tock_task_lease **out)
{
    size_t got = 99;

    assert_tock_ok(tock_store_task_take(f->s, default_q, 1, consumer, 16, 1000,
                                        out, &got, &f->err),
                   &f->err);
    assert_int_equal(got, n);
}

static void result_of(struct tock_result *r, const struct tock_task_lease *l,
                      enum tock_status status, const char *worker)
{
    memset(r, 0, sizeof *r);
    r->occ = l->occ;
    r->status = status;
    r->worker = (char *)worker;
    r->attempt = l->attempt;
    r->started_ms = FX_T0;
    r->finished_ms = FX_T0 + 5;
    r->exit_code = status == TOCK_STATUS_OK ? 0 : 1;
    r->error = status == TOCK_STATUS_OK ? NULL : "exit status 1";
    r->output = (uint8_t *)"hello\n";
    r->output_len = 6;
}

static enum tock_report_status report(struct fx *f,
                                      const struct tock_task_lease *l,
                                      const char *consumer,
                                      enum tock_status status)
{
    struct tock_result r;
    enum tock_report_status st;

    result_of(&r, l, status, consumer);
    assert_tock_ok(tock_store_task_report(f->s, l->task_id, consumer,
                                          l->deliveries, &r, &st, &f->err),
                   &f->err);
    return st;
}

/* ---------------------------------------------------------------- tests */

static void test_take_touch_report_ok(void **state)
{
    struct fx *f = *state;
    struct tock_task_lease *l = NULL;
    struct tock_task task = {0};
    struct tock_job_state st = {0};
    struct tock_run *runs = NULL;
    size_t n = 0;
    bool ok[2];
    int64_t ids[2];
    int32_t dl[2];

    fire_job(f, "t", 0, 0, 3);
    take_n(f, "w1", 1, &l);
    assert_string_equal(l[0].queue, "default");
    assert_string_equal(l[0].occ, "t@1700000000000");
    assert_int_equal(l[0].attempt, 1);
    assert_int_equal(l[0].deliveries, 1);
    assert_tock_ok(tock_proto_decode_task(l[0].body, l[0].body_len, NULL,
                                          &task, &f->err),
                   &f->err);
    assert_string_equal(task.occ, "t@1700000000000");
    tock_task_clear(&task);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'running' AND worker = 'w1'"),
                     1);
    /* Nobody else gets it. */
    {
        struct tock_task_lease *none = NULL;
        take_n(f, "w2", 0, &none);
        tock_task_lease_list_free(none, 0);
    }

    ids[0] = l[0].task_id;
    dl[0] = 1;
    ids[1] = l[0].task_id;
    dl[1] = 2; /* a delivery count that is not the holder's */
    f->clock += 900;
    assert_tock_ok(tock_store_task_touch(f->s, "w1", ids, dl, 2, 1000, ok,
                                         &f->err),
                   &f->err);
    assert_true(ok[0]);
    assert_false(ok[1]);
    assert_tock_ok(tock_store_task_touch(f->s, "w2", ids, dl, 1, 1000, ok,
                                         &f->err),
                   &f->err);
    assert_false(ok[0]);
    /* The touch moved the lease: a reclaim past the first lease finds
     * nothing. */
    f->clock += 500;
    {
        size_t red = 9, dead = 9;
        assert_tock_ok(tock_store_task_reclaim(f->s, 100, &red, &dead, &f->err),
                       &f->err);
        assert_int_equal(red, 0);
        assert_int_equal(dead, 0);
    }

    assert_int_equal(report(f, &l[0], "w2", TOCK_STATUS_OK), TOCK_REPORT_STALE);
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_OK), TOCK_REPORT_OK);
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_OK), TOCK_REPORT_DUP_OK);
    assert_int_equal(report(f, &l[0], "w2", TOCK_STATUS_OK), TOCK_REPORT_LATE);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 0);
    assert_tock_ok(tock_store_job_get(f->s, "t", &st, &f->err), &f->err);
    assert_int_equal(st.running, 0);
    assert_string_equal(st.last_status, "ok");
    tock_job_state_clear(&st);

    assert_tock_ok(tock_store_runs(f->s, "t", 10, &runs, &n, &f->err), &f->err);
    assert_int_equal(n, 1);
    assert_string_equal(runs[0].status, "ok");
    assert_string_equal(runs[0].worker, "w1");
    assert_string_equal(runs[0].node, "node-a");
    assert_int_equal(runs[0].attempt, 1);
    assert_int_equal(runs[0].exit_code, 0);
    assert_int_equal(runs[0].started_ms, FX_T0);
    assert_int_equal(runs[0].finished_ms, FX_T0 + 5);
    assert_int_equal(runs[0].output_len, 6);
    assert_memory_equal(runs[0].output, "hello\n", 6);
    assert_null(runs[0].error);
    tock_run_list_free(runs, n);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'succeeded'"),
                     1);
    tock_task_lease_list_free(l, 1);
}

static void test_report_checks_occurrence(void **state)
{
    struct fx *f = *state;
    struct tock_task_lease *l = NULL;
    struct tock_result r;
    enum tock_report_status st;

    fire_job(f, "t", 0, 0, 3);
    take_n(f, "w1", 1, &l);
    result_of(&r, &l[0], TOCK_STATUS_OK, "w1");
    r.occ = "t@1";
    fx_expect(tock_store_task_report(f->s, l[0].task_id, "w1", 1, &r, &st,
                                     &f->err),
              &f->err, TOCK_EINVAL, "names occurrence t@1");
    r.occ = "not an occ";
    fx_expect(tock_store_task_report(f->s, l[0].task_id, "w1", 1, &r, &st,
                                     &f->err),
              &f->err, TOCK_EINVAL, "");
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 1);
    tock_task_lease_list_free(l, 1);
}

static void test_retries_with_backoff(void **state)
{
    struct fx *f = *state;
    struct tock_task_lease *l = NULL, *l2 = NULL, *l3 = NULL, *none = NULL;
    struct tock_task task = {0};
    struct tock_job_state st = {0};
    int64_t avail;

    fire_job(f, "r", 2, 1000, 3);
    take_n(f, "w1", 1, &l);
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_ERROR), TOCK_REPORT_OK);
    /* Attempt 2 waits out the back-off: 1000 ms plus up to 250 ms. */
    avail = count(f, "SELECT available_at_ms FROM tasks");
    assert_true(avail >= FX_T0 + 1000 && avail <= FX_T0 + 1250);
    assert_int_equal(count(f, "SELECT attempt FROM tasks"), 2);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'dispatched' AND attempt = 2 AND error = "
                              "'exit status 1'"),
                     1);
    assert_tock_ok(tock_store_job_get(f->s, "r", &st, &f->err), &f->err);
    assert_int_equal(st.running, 1); /* still in flight */
    tock_job_state_clear(&st);
    take_n(f, "w1", 0, &none);
    f->clock = avail;
    take_n(f, "w2", 1, &l2);
    assert_int_equal(l2[0].attempt, 2);
    assert_int_equal(l2[0].deliveries, 1);
    assert_true(l2[0].task_id > l[0].task_id);
    assert_tock_ok(tock_proto_decode_task(l2[0].body, l2[0].body_len, NULL,
                                          &task, &f->err),
                   &f->err);
    assert_int_equal(task.attempt, 2);
    assert_int_equal(task.fire_ms, avail);
    tock_task_clear(&task);
    /* The first attempt's report replayed: the same report, DUP_OK. */
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_ERROR),
                     TOCK_REPORT_DUP_OK);

    assert_int_equal(report(f, &l2[0], "w2", TOCK_STATUS_TIMEOUT),
                     TOCK_REPORT_OK);
    avail = count(f, "SELECT available_at_ms FROM tasks");
    assert_true(avail >= f->clock + 2000 && avail <= f->clock + 2500);
    f->clock = avail;
    take_n(f, "w3", 1, &l3);
    assert_int_equal(l3[0].attempt, 3);
    /* Retries used up: the third failure is final. */
    assert_int_equal(report(f, &l3[0], "w3", TOCK_STATUS_ERROR),
                     TOCK_REPORT_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'error' AND attempt = 3 AND worker = 'w3'"),
                     1);
    assert_tock_ok(tock_store_job_get(f->s, "r", &st, &f->err), &f->err);
    assert_int_equal(st.running, 0);
    assert_string_equal(st.last_status, "error");
    tock_job_state_clear(&st);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'retrying'"),
                     2);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'failed'"),
                     1);
    tock_task_lease_list_free(none, 0);
    tock_task_lease_list_free(l, 1);
    tock_task_lease_list_free(l2, 1);
    tock_task_lease_list_free(l3, 1);
}

static void test_crash_is_final_and_no_retries(void **state)
{
    struct fx *f = *state;
    struct tock_task_lease *l = NULL;

    fire_job(f, "c", 3, 10, 3);
    take_n(f, "w1", 1, &l);
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_CRASHED),
                     TOCK_REPORT_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'crashed'"),
                     1);
    tock_task_lease_list_free(l, 1);
}

static void test_redelivery_and_dead(void **state)
{
    struct fx *f = *state;
    struct tock_task_lease *l1 = NULL, *l2 = NULL;
    struct tock_job_state st = {0};
    size_t red = 0, dead = 0;
    bool ok;
    int32_t d = 1;

    fire_job(f, "x", 0, 0, 2);
    take_n(f, "w1", 1, &l1);
    /* w1 dies: its lease runs out and the task goes back to ready. */
    f->clock += 1001;
    assert_tock_ok(tock_store_task_reclaim(f->s, 100, &red, &dead, &f->err),
                   &f->err);
    assert_int_equal(red, 1);
    assert_int_equal(dead, 0);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'dispatched'"),
                     1);
    take_n(f, "w2", 1, &l2);
    assert_int_equal(l2[0].deliveries, 2);
    assert_int_equal(l2[0].task_id, l1[0].task_id);
    /* w1 comes back: its touch and its report are refused. */
    assert_tock_ok(tock_store_task_touch(f->s, "w1", &l1[0].task_id, &d, 1,
                                         1000, &ok, &f->err),
                   &f->err);
    assert_false(ok);
    assert_int_equal(report(f, &l1[0], "w1", TOCK_STATUS_OK),
                     TOCK_REPORT_STALE);
    /* w2 dies too: max_deliveries 2 is used up, the task is dead. */
    f->clock += 1001;
    assert_tock_ok(tock_store_task_reclaim(f->s, 100, &red, &dead, &f->err),
                   &f->err);
    assert_int_equal(red, 0);
    assert_int_equal(dead, 1);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'dead' AND error LIKE 'delivered 2 time%'"),
                     1);
    assert_tock_ok(tock_store_job_get(f->s, "x", &st, &f->err), &f->err);
    assert_int_equal(st.running, 0);
    assert_string_equal(st.last_status, "dead");
    tock_job_state_clear(&st);
    /* w2's late result: the occurrence is final, an event records it. */
    assert_int_equal(report(f, &l2[0], "w2", TOCK_STATUS_OK), TOCK_REPORT_LATE);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'commit_refused' AND detail LIKE 'late%'"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'redelivered'"),
                     1);
    tock_task_lease_list_free(l1, 1);
    tock_task_lease_list_free(l2, 1);
}

static void test_at_most_once_with_one_delivery(void **state)
{
    struct fx *f = *state;
    struct tock_task_lease *l = NULL, *none = NULL;
    size_t red = 0, dead = 0;

    fire_job(f, "once", 0, 0, 1);
    take_n(f, "w1", 1, &l);
    f->clock += 1001;
    assert_tock_ok(tock_store_task_reclaim(f->s, 100, &red, &dead, &f->err),
                   &f->err);
    assert_int_equal(dead, 1);
    take_n(f, "w2", 0, &none);
    tock_task_lease_list_free(l, 1);
    tock_task_lease_list_free(none, 0);
}

static void test_release_hands_back(void **state)
{
    struct fx *f = *state;
    struct tock_task_lease *l = NULL, *l2 = NULL;

    fire_job(f, "h", 0, 0, 1);
    take_n(f, "w1", 1, &l);
    /* Someone else's release does nothing; the holder's makes it ready
     * with the delivery not counted (max_deliveries 1 still allows it). */
    assert_tock_ok(tock_store_task_release(f->s, "w2", &l[0].task_id, 1,
                                           &f->err),
                   &f->err);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks WHERE state = "
                              "'leased'"),
                     1);
    assert_tock_ok(tock_store_task_release(f->s, "w1", &l[0].task_id, 1,
                                           &f->err),
                   &f->err);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'dispatched'"),
                     1);
    take_n(f, "w3", 1, &l2);
    assert_int_equal(l2[0].deliveries, 1);
    assert_int_equal(report(f, &l2[0], "w3", TOCK_STATUS_OK), TOCK_REPORT_OK);
    tock_task_lease_list_free(l, 1);
    tock_task_lease_list_free(l2, 1);
}

static void test_queue_priority_and_running_repair(void **state)
{
    struct fx *f = *state;
    const char *const queues[] = {"high", "default"};
    struct tock_job j;
    struct tock_claim_batch a = {0};
    struct tock_commit c[2];
    struct tock_commit_result r[2];
    struct tock_task_lease *l = NULL;
    enum tock_put_outcome o;
    uint8_t *b0, *b1;
    size_t n = 0;

    fx_add(f, "low", FX_T0 - 1, 1);
    fx_job(&j, "urgent");
    tock_free(j.queue);
    j.queue = tock_strdup("high");
    assert_tock_ok(tock_store_job_put(f->s, &j, FX_T0, TOCK_PUT_CREATE, 0, &o,
                                      NULL, &f->err),
                   &f->err);
    tock_job_clear(&j);
    assert_tock_ok(tock_store_claim(f->s, "n", 8, 1000, &a, &f->err), &f->err);
    fx_commit(&c[0], &a.items[0], TOCK_DECIDE_FIRE, 1000, &b0);
    fx_commit(&c[1], &a.items[1], TOCK_DECIDE_FIRE, 1000, &b1);
    assert_tock_ok(tock_store_commit(f->s, c, 2, r, &f->err), &f->err);
    assert_tock_ok(tock_store_task_take(f->s, queues, 2, "w", 1, 1000, &l, &n,
                                        &f->err),
                   &f->err);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].queue, "high");
    tock_task_lease_list_free(l, n);

    /* A lost result leaked a max_instances slot: reclaim repairs it. */
    {
        sqlite3 *db;
        size_t red, dead;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        assert_int_equal(sqlite3_exec(db, "UPDATE jobs SET running = 7",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        assert_tock_ok(tock_store_task_reclaim(f->s, 10, &red, &dead, &f->err),
                       &f->err);
    }
    assert_int_equal(count(f, "SELECT sum(running) FROM jobs"), 2);
    tock_free(b0);
    tock_free(b1);
    tock_claim_batch_clear(&a);
}

static void test_history_order_and_paging(void **state)
{
    struct fx *f = *state;
    struct tock_run *runs = NULL;
    struct tock_event *ev = NULL;
    int64_t *ids = NULL, last;
    size_t n = 0, total = 0;

    fire_job(f, "a", 0, 0, 3);
    f->clock += 10;
    fire_job(f, "b", 0, 0, 3);
    assert_tock_ok(tock_store_runs(f->s, NULL, 10, &runs, &n, &f->err),
                   &f->err);
    assert_int_equal(n, 2);
    assert_string_equal(runs[0].job, "b"); /* newest first */
    assert_string_equal(runs[1].job, "a");
    tock_run_list_free(runs, n);

    last = 0;
    do {
        assert_tock_ok(tock_store_events(f->s, last, 1, &ev, &ids, &n, &f->err),
                       &f->err);
        if (n == 1) {
            assert_true(ids[0] > last);
            if (total == 0) {
                assert_int_equal(ev[0].type, TOCK_EVENT_ADDED);
                assert_string_equal(ev[0].job, "a");
                assert_int_equal(ev[0].ts_ms, FX_T0);
            }
            last = ids[0];
            total++;
        }
        tock_event_list_free(ev, ids, n);
    } while (n == 1);
    assert_int_equal(total, 4); /* added, fired, added, fired */
}

static void test_history_trimmed(void **state)
{
    struct tock_store_tuning t = {.runs_per_job = 5, .events_max = 10};
    struct fx *f = fx_new(&t);
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_commit_result r;
    struct tock_task_lease *l = NULL;
    struct tock_run *runs = NULL;
    struct tock_event *ev = NULL;
    int64_t *ids = NULL;
    uint8_t *body;
    size_t n;

    (void)state;
    fx_add(f, "h", FX_T0, 1);
    for (int i = 0; i < 20; i++) {
        assert_tock_ok(tock_store_claim(f->s, "n", 8, 1000, &a, &f->err),
                       &f->err);
        assert_int_equal(a.n, 1);
        fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
        assert_tock_ok(tock_store_commit(f->s, &c, 1, &r, &f->err), &f->err);
        assert_int_equal(r.status, TOCK_COMMIT_OK);
        tock_free(body);
        tock_claim_batch_clear(&a);
        take_n(f, "w", 1, &l);
        assert_int_equal(report(f, &l[0], "w", TOCK_STATUS_OK),
                         TOCK_REPORT_OK);
        tock_task_lease_list_free(l, 1);
        f->clock += 1000;
    }
    assert_tock_ok(tock_store_runs(f->s, "h", 100, &runs, &n, &f->err),
                   &f->err);
    assert_int_equal(n, 5);
    assert_int_equal(runs[0].sched_ms, FX_T0 + 19000);
    assert_int_equal(runs[4].sched_ms, FX_T0 + 15000);
    tock_run_list_free(runs, n);
    assert_tock_ok(tock_store_events(f->s, 0, 100, &ev, &ids, &n, &f->err),
                   &f->err);
    assert_int_equal(n, 10);
    assert_int_equal(ev[9].type, TOCK_EVENT_SUCCEEDED);
    assert_int_equal(ids[9], 41); /* added + 20 x (fired, succeeded) */
    tock_event_list_free(ev, ids, n);
    fx_free(f);
}

static void test_report_many_in_one_transaction(void **state)
{
    struct fx *f = *state;
    struct tock_task_lease *l = NULL;
    struct tock_result r[4];
    struct tock_report rep[4];
    enum tock_report_status st[4];

    fire_job(f, "m0", 0, 0, 3);
    fire_job(f, "m1", 0, 0, 3);
    fire_job(f, "m2", 0, 0, 3);
    take_n(f, "w1", 3, &l);
    result_of(&r[0], &l[0], TOCK_STATUS_OK, "w1");
    result_of(&r[1], &l[1], TOCK_STATUS_OK, "w1");
    result_of(&r[2], &l[0], TOCK_STATUS_OK, "w1");
    result_of(&r[3], &l[2], TOCK_STATUS_ERROR, "w1");
    rep[0] = (struct tock_report){l[0].task_id, 1, &r[0]};
    rep[1] = (struct tock_report){l[1].task_id, 2, &r[1]}; /* not ours */
    rep[2] = (struct tock_report){l[0].task_id, 1, &r[2]}; /* a replay */
    rep[3] = (struct tock_report){l[2].task_id, 1, &r[3]};

    /* A bad item refuses the whole batch before anything is written. */
    r[3].worker = "bad worker";
    fx_expect(tock_store_task_report_many(f->s, "w1", rep, 4, st, &f->err),
              &f->err, TOCK_EINVAL, "worker");
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 3);
    r[3].worker = "w1";

    assert_tock_ok(tock_store_task_report_many(f->s, "w1", rep, 4, st,
                                               &f->err),
                   &f->err);
    assert_int_equal(st[0], TOCK_REPORT_OK);
    assert_int_equal(st[1], TOCK_REPORT_STALE);
    assert_int_equal(st[2], TOCK_REPORT_DUP_OK);
    assert_int_equal(st[3], TOCK_REPORT_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status IN "
                              "('ok', 'error')"),
                     2);
    tock_task_lease_list_free(l, 3);
}

static void test_bad_task_arguments(void **state)
{
    struct fx *f = *state;
    const char *const bad_q[] = {"no spaces"};
    struct tock_task_lease *l = NULL;
    struct tock_result r = {0};
    enum tock_report_status st;
    size_t n;

    fx_expect(tock_store_task_take(f->s, bad_q, 1, "w", 1, 100, &l, &n,
                                   &f->err),
              &f->err, TOCK_EINVAL, "queue");
    fx_expect(tock_store_task_take(f->s, default_q, 1, "w\n", 1, 100, &l, &n,
                                   &f->err),
              &f->err, TOCK_EINVAL, "consumer");
    fx_expect(tock_store_task_take(f->s, default_q, 0, "w", 1, 100, &l, &n,
                                   &f->err),
              &f->err, TOCK_EINVAL, "number of queues");
    fx_expect(tock_store_task_report(f->s, 0, "w", 1, &r, &st, &f->err),
              &f->err, TOCK_EINVAL, "positive");
    fx_expect(tock_store_task_report(f->s, 1, "w", 1, &r, &st, &f->err),
              &f->err, TOCK_EMISSING, "occ");
    fx_expect(tock_store_runs(f->s, "bad id", 10, NULL, &n, &f->err), &f->err,
              TOCK_EINVAL, "");
    fx_expect(tock_store_events(f->s, -1, 10, NULL, NULL, NULL, &f->err),
              &f->err, TOCK_EINVAL, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_take_touch_report_ok),
        T(test_report_checks_occurrence),
        T(test_retries_with_backoff),
        T(test_crash_is_final_and_no_retries),
        T(test_redelivery_and_dead),
        T(test_at_most_once_with_one_delivery),
        T(test_release_hands_back),
        T(test_queue_priority_and_running_repair),
        T(test_history_order_and_paging),
        cmocka_unit_test(test_history_trimmed),
        T(test_report_many_in_one_transaction),
        T(test_bad_task_arguments),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
