/* test_store_redis_tasks.c: execution and history on the Redis store, with
 * the semantics of test_store_sqlite_tasks.c: take, touch, every report
 * status, retries with back-off through the retry zset, redelivery and
 * dead tasks, hand-back, running repair, queue priority, history order,
 * paging and trimming; plus what only Redis has: the PEL as the fence,
 * foreign stream entries, and no MAXLEN ever on a task stream. */
#include "test_store_redis_fx.h"

static const char *const default_q[] = {"default"};

/* fire_job adds job `id` (retries, back-off, max_deliveries) due now and
 * fires its first occurrence; returns its scheduled time. */
static int64_t fire_job(struct rfx *f, const char *id, int retries,
                        int64_t backoff_ms, int max_deliveries)
{
    struct tock_job j;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_commit_result r;
    enum tock_put_outcome o;
    uint8_t *body;
    int64_t now, sched;

    assert_tock_ok(tock_store_now(f->s, &now, &f->err), &f->err);
    fx_job(&j, id);
    j.retries = retries;
    j.retry_backoff_ms = backoff_ms;
    j.max_deliveries = max_deliveries;
    j.max_instances = 100;
    assert_tock_ok(tock_store_job_put(f->s, &j, now, TOCK_PUT_CREATE, 0, &o,
                                      NULL, &f->err),
                   &f->err);
    tock_job_clear(&j);
    assert_tock_ok(tock_store_claim(f->s, "node", 8, 10000, &a, &f->err),
                   &f->err);
    assert_int_equal(a.n, 1);
    sched = a.items[0].sched_ms;
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 0, &body);
    assert_tock_ok(tock_store_commit(f->s, &c, 1, &r, &f->err), &f->err);
    assert_int_equal(r.status, TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
    return sched;
}

static void take_n(struct rfx *f, const char *consumer, size_t n,
                   int64_t lease_ms, struct tock_task_lease **out)
{
    size_t got = 99;

    assert_tock_ok(tock_store_task_take(f->s, default_q, 1, consumer, 16,
                                        lease_ms, out, &got, &f->err),
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

static enum tock_report_status report(struct rfx *f,
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

/* pel_count is the number of entries pending in the queue's group. */
static int64_t pel_count(struct rfx *f)
{
    redisReply *r = rfx_reply(f, "XPENDING " NS "q:default workers");
    int64_t n = r->type == REDIS_REPLY_ARRAY ? r->element[0]->integer : -1;

    freeReplyObject(r);
    return n;
}

static const char *occ_field(struct rfx *f, const char *occ, const char *name,
                             char *buf, size_t cap)
{
    return rfx_str(f, buf, cap, "HGET " NS "occ:%s %s", occ, name);
}

/* ---------------------------------------------------------------- tests */

static void test_take_touch_report_ok(void **state)
{
    struct rfx *f = *state;
    struct tock_task_lease *l = NULL, *none = NULL;
    struct tock_task task = {0};
    struct tock_job_state st = {0};
    struct tock_run *runs = NULL;
    size_t n = 0, red = 9, dead = 9;
    bool ok[2];
    int64_t ids[2], sched = fire_job(f, "t", 0, 0, 3);
    int32_t dl[2];
    char occ[TOCK_OCC_MAX], buf[64];

    tock_occ_format(occ, sizeof occ, "t", sched);
    take_n(f, "w1", 1, 300, &l);
    assert_string_equal(l[0].queue, "default");
    assert_string_equal(l[0].occ, occ);
    assert_int_equal(l[0].attempt, 1);
    assert_int_equal(l[0].deliveries, 1);
    assert_tock_ok(tock_proto_decode_task(l[0].body, l[0].body_len, NULL,
                                          &task, &f->err),
                   &f->err);
    assert_string_equal(task.occ, occ);
    tock_task_clear(&task);
    assert_string_equal(occ_field(f, occ, "status", buf, sizeof buf),
                        "running");
    assert_string_equal(occ_field(f, occ, "worker", buf, sizeof buf), "w1");
    assert_int_equal(pel_count(f), 1);
    take_n(f, "w2", 0, 300, &none);
    tock_task_lease_list_free(none, 0);

    ids[0] = l[0].task_id;
    dl[0] = 1;
    ids[1] = l[0].task_id;
    dl[1] = 2; /* a delivery count that is not the holder's */
    rfx_sleep_ms(200);
    assert_tock_ok(tock_store_task_touch(f->s, "w1", ids, dl, 2, 300, ok,
                                         &f->err),
                   &f->err);
    assert_true(ok[0]);
    assert_false(ok[1]);
    assert_tock_ok(tock_store_task_touch(f->s, "w2", ids, dl, 1, 300, ok,
                                         &f->err),
                   &f->err);
    assert_false(ok[0]);
    /* The touch moved the lease: past the first lease, nothing expired. */
    rfx_sleep_ms(150);
    assert_tock_ok(tock_store_task_reclaim(f->s, 100, &red, &dead, &f->err),
                   &f->err);
    assert_int_equal(red, 0);
    assert_int_equal(dead, 0);

    assert_int_equal(report(f, &l[0], "w2", TOCK_STATUS_OK), TOCK_REPORT_STALE);
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_OK), TOCK_REPORT_OK);
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_OK), TOCK_REPORT_DUP_OK);
    assert_int_equal(report(f, &l[0], "w2", TOCK_STATUS_OK), TOCK_REPORT_LATE);
    /* Acknowledged and deleted: nothing pending, nothing left. */
    assert_int_equal(pel_count(f), 0);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 0);
    assert_int_equal(rfx_int(f, "HLEN " NS "tasks"), 0);
    assert_int_equal(rfx_int(f, "ZCARD " NS "task_leases"), 0);
    assert_int_equal(rfx_int(f, "SCARD " NS "live:t"), 0);
    assert_true(rfx_int(f, "PTTL " NS "occ:%s", occ) > 0);
    assert_int_equal(rfx_int(f, "XLEN " NS "results"), 1);
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
    assert_true(runs[0].fired_ms >= sched);
    assert_int_equal(runs[0].output_len, 6);
    assert_memory_equal(runs[0].output, "hello\n", 6);
    assert_null(runs[0].error);
    tock_run_list_free(runs, n);
    assert_int_equal(rfx_events(f, "succeeded"), 1);
    assert_int_equal(rfx_events(f, "commit_refused"), 1); /* the late one */
    tock_task_lease_list_free(l, 1);
}

static void test_report_checks_occurrence(void **state)
{
    struct rfx *f = *state;
    struct tock_task_lease *l = NULL;
    struct tock_result r;
    enum tock_report_status st;

    fire_job(f, "t", 0, 0, 3);
    take_n(f, "w1", 1, 10000, &l);
    result_of(&r, &l[0], TOCK_STATUS_OK, "w1");
    r.occ = "t@1";
    fx_expect(tock_store_task_report(f->s, l[0].task_id, "w1", 1, &r, &st,
                                     &f->err),
              &f->err, TOCK_EINVAL, "names occurrence t@1");
    r.occ = "not an occ";
    fx_expect(tock_store_task_report(f->s, l[0].task_id, "w1", 1, &r, &st,
                                     &f->err),
              &f->err, TOCK_EINVAL, "");
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 1);
    assert_int_equal(pel_count(f), 1);
    tock_task_lease_list_free(l, 1);
}

static void test_retries_with_backoff(void **state)
{
    struct rfx *f = *state;
    struct tock_task_lease *l = NULL, *l2 = NULL, *l3 = NULL, *none = NULL;
    struct tock_task task = {0};
    struct tock_job_state st = {0};
    int64_t due, now, sched = fire_job(f, "r", 2, 200, 3);
    char occ[TOCK_OCC_MAX], buf[64];

    tock_occ_format(occ, sizeof occ, "r", sched);
    take_n(f, "w1", 1, 10000, &l);
    assert_tock_ok(tock_store_now(f->s, &now, &f->err), &f->err);
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_ERROR), TOCK_REPORT_OK);
    /* Attempt 2 waits in the retry zset for 200 ms plus up to 50 ms. */
    due = rfx_int(f, "ZSCORE " NS "retry %s", occ);
    assert_true(due >= now + 200 && due <= now + 250 + 100);
    assert_int_equal(rfx_int(f, "HGET " NS "retry:%s attempt", occ), 2);
    assert_string_equal(occ_field(f, occ, "status", buf, sizeof buf),
                        "dispatched");
    assert_string_equal(occ_field(f, occ, "error", buf, sizeof buf),
                        "exit status 1");
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 0);
    assert_tock_ok(tock_store_job_get(f->s, "r", &st, &f->err), &f->err);
    assert_int_equal(st.running, 1); /* still in flight */
    tock_job_state_clear(&st);
    take_n(f, "w1", 0, 10000, &none);
    tock_task_lease_list_free(none, 0);
    rfx_sleep_ms(due - now + 20);
    take_n(f, "w2", 1, 10000, &l2);
    assert_int_equal(l2[0].attempt, 2);
    assert_int_equal(l2[0].deliveries, 1);
    assert_true(l2[0].task_id > l[0].task_id);
    assert_tock_ok(tock_proto_decode_task(l2[0].body, l2[0].body_len, NULL,
                                          &task, &f->err),
                   &f->err);
    assert_int_equal(task.attempt, 2);
    assert_true(task.fire_ms >= now + 200);
    tock_task_clear(&task);
    assert_int_equal(rfx_int(f, "ZCARD " NS "retry"), 0);
    assert_int_equal(rfx_int(f, "EXISTS " NS "retry:%s", occ), 0);
    /* The first attempt's report replayed: DUP_OK. */
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_ERROR),
                     TOCK_REPORT_DUP_OK);

    assert_tock_ok(tock_store_now(f->s, &now, &f->err), &f->err);
    assert_int_equal(report(f, &l2[0], "w2", TOCK_STATUS_TIMEOUT),
                     TOCK_REPORT_OK);
    due = rfx_int(f, "ZSCORE " NS "retry %s", occ);
    assert_true(due >= now + 400 && due <= now + 500 + 100);
    /* A reclaim moves due retries too. */
    rfx_sleep_ms(due - now + 20);
    {
        size_t red, dead;
        assert_tock_ok(tock_store_task_reclaim(f->s, 10, &red, &dead,
                                               &f->err),
                       &f->err);
    }
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 1);
    take_n(f, "w3", 1, 10000, &l3);
    assert_int_equal(l3[0].attempt, 3);
    assert_int_equal(report(f, &l3[0], "w3", TOCK_STATUS_ERROR),
                     TOCK_REPORT_OK);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 0);
    assert_string_equal(occ_field(f, occ, "status", buf, sizeof buf), "error");
    assert_int_equal(rfx_int(f, "HGET " NS "occ:%s attempt", occ), 3);
    assert_string_equal(occ_field(f, occ, "worker", buf, sizeof buf), "w3");
    assert_tock_ok(tock_store_job_get(f->s, "r", &st, &f->err), &f->err);
    assert_int_equal(st.running, 0);
    assert_string_equal(st.last_status, "error");
    tock_job_state_clear(&st);
    assert_int_equal(rfx_events(f, "retrying"), 2);
    assert_int_equal(rfx_events(f, "failed"), 1);
    tock_task_lease_list_free(l, 1);
    tock_task_lease_list_free(l2, 1);
    tock_task_lease_list_free(l3, 1);
}

static void test_crash_is_final_and_no_retries(void **state)
{
    struct rfx *f = *state;
    struct tock_task_lease *l = NULL;
    char occ[TOCK_OCC_MAX], buf[32];

    tock_occ_format(occ, sizeof occ, "c", fire_job(f, "c", 3, 10, 3));
    take_n(f, "w1", 1, 10000, &l);
    assert_int_equal(report(f, &l[0], "w1", TOCK_STATUS_CRASHED),
                     TOCK_REPORT_OK);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 0);
    assert_int_equal(rfx_int(f, "ZCARD " NS "retry"), 0);
    assert_string_equal(occ_field(f, occ, "status", buf, sizeof buf),
                        "crashed");
    tock_task_lease_list_free(l, 1);
}

static void test_redelivery_and_dead(void **state)
{
    struct rfx *f = *state;
    struct tock_task_lease *l1 = NULL, *l2 = NULL;
    struct tock_job_state st = {0};
    size_t red = 0, dead = 0;
    bool ok;
    int32_t d = 1;
    char occ[TOCK_OCC_MAX], buf[128];

    tock_occ_format(occ, sizeof occ, "x", fire_job(f, "x", 0, 0, 2));
    take_n(f, "w1", 1, 100, &l1);
    /* w1 dies: its lease runs out and the task is parked for the next
     * take, held by the consumer "tock ready". */
    rfx_sleep_ms(150);
    assert_tock_ok(tock_store_task_reclaim(f->s, 100, &red, &dead, &f->err),
                   &f->err);
    assert_int_equal(red, 1);
    assert_int_equal(dead, 0);
    assert_string_equal(occ_field(f, occ, "status", buf, sizeof buf),
                        "dispatched");
    {
        redisReply *r = rfx_reply(f, "XPENDING " NS "q:default workers - + 10");
        assert_int_equal(r->elements, 1);
        assert_string_equal(r->element[0]->element[1]->str, "tock ready");
        assert_int_equal(r->element[0]->element[3]->integer, 1);
        freeReplyObject(r);
    }
    take_n(f, "w2", 1, 100, &l2);
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
    rfx_sleep_ms(150);
    assert_tock_ok(tock_store_task_reclaim(f->s, 100, &red, &dead, &f->err),
                   &f->err);
    assert_int_equal(red, 0);
    assert_int_equal(dead, 1);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 0);
    assert_int_equal(pel_count(f), 0);
    assert_string_equal(occ_field(f, occ, "status", buf, sizeof buf), "dead");
    assert_non_null(strstr(occ_field(f, occ, "error", buf, sizeof buf),
                           "delivered 2 time"));
    assert_tock_ok(tock_store_job_get(f->s, "x", &st, &f->err), &f->err);
    assert_int_equal(st.running, 0);
    assert_string_equal(st.last_status, "dead");
    tock_job_state_clear(&st);
    assert_int_equal(report(f, &l2[0], "w2", TOCK_STATUS_OK), TOCK_REPORT_LATE);
    assert_int_equal(rfx_events(f, "commit_refused"), 1);
    assert_int_equal(rfx_events(f, "redelivered"), 1);
    assert_int_equal(rfx_events(f, "dead"), 1);
    tock_task_lease_list_free(l1, 1);
    tock_task_lease_list_free(l2, 1);
}

static void test_at_most_once_with_one_delivery(void **state)
{
    struct rfx *f = *state;
    struct tock_task_lease *l = NULL, *none = NULL;
    size_t red = 0, dead = 0;

    fire_job(f, "once", 0, 0, 1);
    take_n(f, "w1", 1, 50, &l);
    rfx_sleep_ms(100);
    assert_tock_ok(tock_store_task_reclaim(f->s, 100, &red, &dead, &f->err),
                   &f->err);
    assert_int_equal(dead, 1);
    take_n(f, "w2", 0, 50, &none);
    tock_task_lease_list_free(l, 1);
    tock_task_lease_list_free(none, 0);
}

static void test_release_hands_back(void **state)
{
    struct rfx *f = *state;
    struct tock_task_lease *l = NULL, *l2 = NULL;
    char occ[TOCK_OCC_MAX], buf[32];

    tock_occ_format(occ, sizeof occ, "h", fire_job(f, "h", 0, 0, 1));
    take_n(f, "w1", 1, 10000, &l);
    /* Someone else's release does nothing; the holder's makes it ready
     * with the delivery not counted (max_deliveries 1 still allows it). */
    assert_tock_ok(tock_store_task_release(f->s, "w2", &l[0].task_id, 1,
                                           &f->err),
                   &f->err);
    assert_string_equal(occ_field(f, occ, "status", buf, sizeof buf),
                        "running");
    assert_tock_ok(tock_store_task_release(f->s, "w1", &l[0].task_id, 1,
                                           &f->err),
                   &f->err);
    assert_string_equal(occ_field(f, occ, "status", buf, sizeof buf),
                        "dispatched");
    assert_int_equal(rfx_int(f, "ZCARD " NS "task_leases"), 0);
    take_n(f, "w3", 1, 10000, &l2);
    assert_int_equal(l2[0].deliveries, 1);
    assert_int_equal(report(f, &l2[0], "w3", TOCK_STATUS_OK), TOCK_REPORT_OK);
    tock_task_lease_list_free(l, 1);
    tock_task_lease_list_free(l2, 1);
}

static void test_queue_priority_and_running_repair(void **state)
{
    struct rfx *f = *state;
    const char *const queues[] = {"high", "default"};
    struct tock_job j;
    struct tock_claim_batch a = {0};
    struct tock_commit c[2];
    struct tock_commit_result r[2];
    struct tock_task_lease *l = NULL;
    enum tock_put_outcome o;
    uint8_t *b0, *b1;
    size_t n = 0, red, dead;

    rfx_add(f, "low", f->t0 - 1, 1);
    fx_job(&j, "urgent");
    tock_free(j.queue);
    j.queue = tock_strdup("high");
    assert_tock_ok(tock_store_job_put(f->s, &j, f->t0, TOCK_PUT_CREATE, 0, &o,
                                      NULL, &f->err),
                   &f->err);
    tock_job_clear(&j);
    assert_tock_ok(tock_store_claim(f->s, "n", 8, 10000, &a, &f->err),
                   &f->err);
    fx_commit(&c[0], &a.items[0], TOCK_DECIDE_FIRE, 1000, &b0);
    fx_commit(&c[1], &a.items[1], TOCK_DECIDE_FIRE, 1000, &b1);
    assert_tock_ok(tock_store_commit(f->s, c, 2, r, &f->err), &f->err);
    assert_int_equal(rfx_int(f, "SCARD " NS "queues"), 2);
    assert_tock_ok(tock_store_task_take(f->s, queues, 2, "w", 1, 10000, &l,
                                        &n, &f->err),
                   &f->err);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].queue, "high");
    tock_task_lease_list_free(l, n);

    /* A lost result leaked a max_instances slot: reclaim repairs it from
     * the live occurrence sets. */
    freeReplyObject(rfx_reply(f, "HSET " NS "job:low running 7"));
    freeReplyObject(rfx_reply(f, "HSET " NS "job:urgent running 7"));
    assert_tock_ok(tock_store_task_reclaim(f->s, 10, &red, &dead, &f->err),
                   &f->err);
    assert_int_equal(rfx_int(f, "HGET " NS "job:low running"), 1);
    assert_int_equal(rfx_int(f, "HGET " NS "job:urgent running"), 1);
    tock_free(b0);
    tock_free(b1);
    tock_claim_batch_clear(&a);
}

static void test_foreign_and_lost_entries(void **state)
{
    struct rfx *f = *state;
    struct tock_task_lease *l = NULL;
    size_t red, dead, n;
    char occ[TOCK_OCC_MAX], buf[128];

    /* An entry tock did not write (redis-cli XADD of junk) is dropped with
     * a "malformed" event, never handed to a worker. */
    fire_job(f, "good", 0, 0, 3);
    freeReplyObject(rfx_reply(f, "XADD " NS "q:default * body junk"));
    assert_tock_ok(tock_store_task_take(f->s, default_q, 1, "w", 16, 100, &l,
                                        &n, &f->err),
                   &f->err);
    assert_int_equal(n, 1);
    assert_int_equal(rfx_events(f, "malformed"), 1);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 1);
    /* The task's entry deleted by hand while it is held: the reclaim
     * records the occurrence dead instead of losing track of it. */
    snprintf(occ, sizeof occ, "%s", l[0].occ);
    {
        char sid[48];
        tock_redis_sid_format(l[0].task_id, sid, sizeof sid);
        freeReplyObject(rfx_reply(f, "XDEL " NS "q:default %s", sid));
        freeReplyObject(rfx_reply(f, "XACK " NS "q:default workers %s", sid));
    }
    rfx_sleep_ms(150);
    assert_tock_ok(tock_store_task_reclaim(f->s, 10, &red, &dead, &f->err),
                   &f->err);
    assert_int_equal(dead, 1);
    assert_non_null(strstr(occ_field(f, occ, "error", buf, sizeof buf),
                           "is gone"));
    assert_int_equal(rfx_int(f, "HGET " NS "job:good running"), 0);
    /* A waiting retry whose record was deleted by hand: the occurrence is
     * recorded dead when the retry falls due, not left in flight. */
    {
        struct tock_task_lease *lr = NULL;
        char rocc[TOCK_OCC_MAX];
        tock_occ_format(rocc, sizeof rocc, "rr", fire_job(f, "rr", 1, 1, 3));
        assert_tock_ok(tock_store_task_take(f->s, default_q, 1, "w", 1, 10000,
                                            &lr, &n, &f->err),
                       &f->err);
        assert_int_equal(n, 1);
        assert_string_equal(lr[0].occ, rocc);
        assert_int_equal(report(f, &lr[0], "w", TOCK_STATUS_ERROR),
                         TOCK_REPORT_OK);
        freeReplyObject(rfx_reply(f, "DEL " NS "retry:%s", rocc));
        rfx_sleep_ms(10);
        assert_tock_ok(tock_store_task_reclaim(f->s, 10, &red, &dead, &f->err),
                       &f->err);
        assert_string_equal(occ_field(f, rocc, "status", buf, sizeof buf),
                            "dead");
        assert_int_equal(rfx_int(f, "HGET " NS "job:rr running"), 0);
        assert_int_equal(rfx_int(f, "ZCARD " NS "retry"), 0);
        tock_task_lease_list_free(lr, n);
    }
    /* Ids keep increasing past an entry added by hand with a later id. */
    freeReplyObject(rfx_reply(f, "XADD " NS "q:default 5000000000000-5 a b"));
    tock_task_lease_list_free(l, 1);
    fire_job(f, "after", 0, 0, 3);
    {
        redisReply *r = rfx_reply(f, "XREVRANGE " NS "q:default + - COUNT 1");
        assert_string_equal(r->element[0]->element[0]->str,
                            "5000000000000-6");
        freeReplyObject(r);
    }
}

static void test_task_streams_never_trimmed(void **state)
{
    struct rfx *f = *state;
    const char *lua = tock_redis_lua;
    const char *p;

    (void)f;
    /* Every XADD in the library: the task stream's (xadd_task) has no
     * MAXLEN, and MAXLEN appears only on history streams. */
    for (p = strstr(lua, "'XADD'"); p != NULL; p = strstr(p + 1, "'XADD'")) {
        const char *eol = strchr(p, '\n');
        char line[200];
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        if (strstr(line, "MAXLEN") == NULL)
            assert_true(strstr(line, "qkey") != NULL);
        else
            assert_true(strstr(line, "events") || strstr(line, "runs") ||
                        strstr(line, "results"));
    }
    assert_null(strstr(lua, "XTRIM"));
    assert_null(strstr(lua, "NOACK"));
    /* And at run time, watched with MONITOR (which shows the commands the
     * functions run): fires, takes, a retry, results and reclaims, with
     * the history streams capped hard; no command on a task stream
     * carries MAXLEN or MINID, and no task stream is XTRIMmed. */
    {
        struct tock_store_tuning t = {.runs_per_job = 1, .events_max = 1};
        struct tock_task_lease *l = NULL;
        redisContext *mon = tock_redis_fixture_connect(f->fx, 5000, &f->err);
        redisReply *r;
        size_t red, dead, seen = 0, xadds = 0;

        assert_non_null(mon);
        freeReplyObject(redisCommand(mon, "MONITOR"));
        tock_store_close(f->s);
        rfx_open(f, &t);
        for (int i = 0; i < 5; i++) {
            char id[16];
            snprintf(id, sizeof id, "k%d", i);
            fire_job(f, id, 1, 1, 3);
        }
        take_n(f, "w", 5, 10000, &l);
        assert_int_equal(report(f, &l[0], "w", TOCK_STATUS_OK),
                         TOCK_REPORT_OK);
        assert_int_equal(report(f, &l[1], "w", TOCK_STATUS_ERROR),
                         TOCK_REPORT_OK);
        rfx_sleep_ms(20);
        assert_tock_ok(tock_store_task_reclaim(f->s, 10, &red, &dead, &f->err),
                       &f->err);
        tock_task_lease_list_free(l, 5);
        assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 4);
        freeReplyObject(rfx_reply(f, "ECHO tock-monitor-end"));
        while (redisGetReply(mon, (void **)&r) == REDIS_OK && r != NULL) {
            const char *line = r->str ? r->str : "";
            bool end = strstr(line, "tock-monitor-end") != NULL;
            seen++;
            if (strstr(line, "\"XADD\" \"" NS "q:") != NULL) {
                xadds++;
                assert_null(strstr(line, "MAXLEN"));
                assert_null(strstr(line, "MINID"));
            }
            assert_null(strstr(line, "\"XTRIM\" \"" NS "q:"));
            freeReplyObject(r);
            if (end)
                break;
        }
        assert_true(seen > 50);
        assert_int_equal(xadds, 6); /* 5 fires and 1 retry */
        redisFree(mon);
    }
}

static void test_history_order_and_paging(void **state)
{
    struct rfx *f = *state;
    struct tock_run *runs = NULL;
    struct tock_event *ev = NULL;
    int64_t *ids = NULL, last;
    size_t n = 0, total = 0;

    fire_job(f, "a", 0, 0, 3);
    rfx_sleep_ms(5);
    fire_job(f, "b", 0, 0, 3);
    assert_tock_ok(tock_store_runs(f->s, NULL, 10, &runs, &n, &f->err),
                   &f->err);
    assert_int_equal(n, 2);
    assert_string_equal(runs[0].job, "b"); /* newest first */
    assert_string_equal(runs[1].job, "a");
    assert_string_equal(runs[0].status, "dispatched");
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
                assert_true(ev[0].ts_ms >= f->t0);
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
    struct rfx *f = *state;
    struct tock_store_tuning t = {.runs_per_job = 5, .events_max = 10,
                                  .occ_ttl_ms = 60000};
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_commit_result r;
    struct tock_task_lease *l = NULL;
    struct tock_run *runs = NULL;
    struct tock_event *ev = NULL;
    int64_t *ids = NULL;
    uint8_t *body;
    size_t n;

    /* Small stream nodes, so that MAXLEN ~ trims at these small sizes. */
    freeReplyObject(rfx_reply(f, "CONFIG SET stream-node-max-entries 2"));
    tock_store_close(f->s);
    rfx_open(f, &t);
    rfx_add(f, "h", f->t0 - 100, 1);
    for (int i = 0; i < 20; i++) {
        assert_tock_ok(tock_store_claim(f->s, "n", 8, 10000, &a, &f->err),
                       &f->err);
        assert_int_equal(a.n, 1);
        fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1, &body);
        assert_tock_ok(tock_store_commit(f->s, &c, 1, &r, &f->err), &f->err);
        assert_int_equal(r.status, TOCK_COMMIT_OK);
        tock_free(body);
        tock_claim_batch_clear(&a);
        take_n(f, "w", 1, 10000, &l);
        assert_int_equal(report(f, &l[0], "w", TOCK_STATUS_OK),
                         TOCK_REPORT_OK);
        tock_task_lease_list_free(l, 1);
    }
    /* 40 entries were written to runs:h (2 per run), kept: about 10. */
    assert_true(rfx_int(f, "XLEN " NS "runs:h") >= 10);
    assert_true(rfx_int(f, "XLEN " NS "runs:h") <= 12);
    assert_tock_ok(tock_store_runs(f->s, "h", 100, &runs, &n, &f->err),
                   &f->err);
    assert_true(n >= 5 && n <= 6);
    assert_int_equal(runs[0].sched_ms, f->t0 - 100 + 19);
    assert_string_equal(runs[0].status, "ok");
    tock_run_list_free(runs, n);
    assert_tock_ok(tock_store_events(f->s, 0, 100, &ev, &ids, &n, &f->err),
                   &f->err);
    assert_true(n >= 10 && n <= 12);
    assert_int_equal(ev[n - 1].type, TOCK_EVENT_SUCCEEDED);
    tock_event_list_free(ev, ids, n);
    assert_true(rfx_int(f, "XLEN " NS "results") <= 12);
    /* Finished occurrence records expire after the retention. */
    assert_true(rfx_int(f, "PTTL " NS "occ:h@%lld", (long long)(f->t0 - 100))
                <= 60000);
    freeReplyObject(rfx_reply(f, "CONFIG SET stream-node-max-entries 100"));
}

static void test_report_many_in_one_call(void **state)
{
    struct rfx *f = *state;
    struct tock_task_lease *l = NULL;
    struct tock_result r[4];
    struct tock_report rep[4];
    enum tock_report_status st[4];

    fire_job(f, "m0", 0, 0, 3);
    fire_job(f, "m1", 0, 0, 3);
    fire_job(f, "m2", 0, 0, 3);
    take_n(f, "w1", 3, 10000, &l);
    result_of(&r[0], &l[0], TOCK_STATUS_OK, "w1");
    result_of(&r[1], &l[1], TOCK_STATUS_OK, "w1");
    result_of(&r[2], &l[0], TOCK_STATUS_OK, "w1");
    result_of(&r[3], &l[2], TOCK_STATUS_ERROR, "w1");
    rep[0] = (struct tock_report){l[0].task_id, 1, &r[0]};
    rep[1] = (struct tock_report){l[1].task_id, 2, &r[1]}; /* not ours */
    rep[2] = (struct tock_report){l[0].task_id, 1, &r[2]}; /* a replay */
    rep[3] = (struct tock_report){l[2].task_id, 1, &r[3]};

    r[3].worker = "bad worker";
    fx_expect(tock_store_task_report_many(f->s, "w1", rep, 4, st, &f->err),
              &f->err, TOCK_EINVAL, "worker");
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 3);
    r[3].worker = "w1";
    /* A batch where one held task's result names another occurrence is
     * refused whole, before anything is written. */
    r[3].occ = l[1].occ;
    fx_expect(tock_store_task_report_many(f->s, "w1", rep, 4, st, &f->err),
              &f->err, TOCK_EINVAL, "names occurrence");
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 3);
    r[3].occ = l[2].occ;

    assert_tock_ok(tock_store_task_report_many(f->s, "w1", rep, 4, st,
                                               &f->err),
                   &f->err);
    assert_int_equal(st[0], TOCK_REPORT_OK);
    assert_int_equal(st[1], TOCK_REPORT_STALE);
    assert_int_equal(st[2], TOCK_REPORT_DUP_OK);
    assert_int_equal(st[3], TOCK_REPORT_OK);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 1);
    assert_int_equal(rfx_int(f, "XLEN " NS "results"), 2);
    tock_task_lease_list_free(l, 3);
}

static void test_bad_task_arguments(void **state)
{
    struct rfx *f = *state;
    const char *const bad_q[] = {"no spaces"};
    struct tock_task_lease *l = NULL;
    struct tock_result r = {0};
    enum tock_report_status st;
    size_t n;

    fx_expect(tock_store_task_take(f->s, bad_q, 1, "w", 1, 100, &l, &n,
                                   &f->err),
              &f->err, TOCK_EINVAL, "queue");
    /* The parking consumer's name has a space: no worker can be named so. */
    fx_expect(tock_store_task_take(f->s, default_q, 1, "tock ready", 1, 100,
                                   &l, &n, &f->err),
              &f->err, TOCK_EINVAL, "consumer");
    fx_expect(tock_store_task_report(f->s, 0, "w", 1, &r, &st, &f->err),
              &f->err, TOCK_EINVAL, "positive");
    fx_expect(tock_store_events(f->s, -1, 10, NULL, NULL, NULL, &f->err),
              &f->err, TOCK_EINVAL, "");
    /* Taking from a queue nobody fired into yet is fine: nothing. */
    assert_tock_ok(tock_store_task_take(f->s, default_q, 1, "w", 4, 100, &l,
                                        &n, &f->err),
                   &f->err);
    assert_int_equal(n, 0);
    tock_task_lease_list_free(l, n);
}

static void test_sid_packing(void **state)
{
    int64_t id;
    char buf[48];

    (void)state;
    assert_true(tock_redis_sid_pack("1700000000000-0", 15, &id));
    assert_int_equal(id, 1700000000000LL << 20);
    tock_redis_sid_format(id + 7, buf, sizeof buf);
    assert_string_equal(buf, "1700000000000-7");
    assert_true(tock_redis_sid_pack("1-1048575", 9, &id));
    assert_false(tock_redis_sid_pack("1-1048576", 9, &id));
    assert_false(tock_redis_sid_pack("8796093022208-0", 15, &id)); /* 2^43 */
    assert_false(tock_redis_sid_pack("12", 2, &id));
    assert_false(tock_redis_sid_pack("12-", 3, &id));
    assert_false(tock_redis_sid_pack("-1", 2, &id));
    assert_false(tock_redis_sid_pack("1-2-3", 5, &id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, rfx_setup, rfx_teardown)
        T(test_take_touch_report_ok),
        T(test_report_checks_occurrence),
        T(test_retries_with_backoff),
        T(test_crash_is_final_and_no_retries),
        T(test_redelivery_and_dead),
        T(test_at_most_once_with_one_delivery),
        T(test_release_hands_back),
        T(test_queue_priority_and_running_repair),
        T(test_foreign_and_lost_entries),
        T(test_task_streams_never_trimmed),
        T(test_history_order_and_paging),
        T(test_history_trimmed),
        T(test_report_many_in_one_call),
        T(test_bad_task_arguments),
        cmocka_unit_test(test_sid_packing),
#undef T
    };
    return cmocka_run_group_tests(tests, rfx_group_setup, rfx_group_teardown);
}
