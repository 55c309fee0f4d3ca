/* test_store_redis.c: the Redis store's jobs and firing on a real
 * redis-server, with the semantics of test_store_sqlite.c: put (added /
 * unchanged / changed / fenced), get, list, remove, pause, resume, run now,
 * the clock and its high-water mark, claim, every commit status, release,
 * the wake notification, and the readable key layout.
 * Execution and history: test_store_redis_tasks.c; connections, URLs and
 * refusals: test_store_redis_conn.c; several processes:
 * test_store_redis_procs.c. */
#include <poll.h>

#include "test_store_redis_fx.h"

static void claim_n(struct rfx *f, const char *nonce, size_t n,
                    struct tock_claim_batch *b)
{
    assert_tock_ok(tock_store_claim(f->s, nonce, TOCK_CLAIM_MAX, 10000, b,
                                    &f->err),
                   &f->err);
    assert_int_equal(b->n, n);
}

static enum tock_commit_status commit1(struct rfx *f, struct tock_commit *c,
                                       int64_t *task_id)
{
    struct tock_commit_result r;

    assert_tock_ok(tock_store_commit(f->s, c, 1, &r, &f->err), &f->err);
    if (task_id != NULL)
        *task_id = r.task_id;
    return r.status;
}

/* ---------------------------------------------------------------- open */

static void test_open_meta_and_library(void **state)
{
    struct rfx *f = *state;
    char buf[64];

    assert_string_equal(tock_store_kind(f->s), "redis");
    assert_string_equal(rfx_str(f, buf, sizeof buf, "HGET " NS "meta schema"),
                        "1");
    assert_string_equal(rfx_str(f, buf, sizeof buf, "HGET " NS "meta lib"),
                        "tock_v1");
    assert_string_equal(rfx_str(f, buf, sizeof buf,
                                "HGET " NS "meta time_unit"),
                        "ms");
    assert_int_equal(rfx_int(f, "EXISTS " NS "meta"), 1);
    /* A namespace of another schema is refused, and its library is left
     * alone. */
    freeReplyObject(rfx_reply(f, "HSET tock:{other}:meta schema 9"));
    {
        struct tock_store *s2 = NULL;
        char url[200];
        snprintf(url, sizeof url, "%s?ns=other", tock_redis_fixture_url(f->fx));
        fx_expect(tock_store_open(url, NULL, &s2, &f->err), &f->err,
                  TOCK_EVERSION, "schema 9");
        assert_null(s2);
    }
    /* The library is loaded again when Redis lost it. */
    freeReplyObject(rfx_reply(f, "FUNCTION FLUSH"));
    {
        int64_t now;
        assert_tock_ok(tock_store_now(f->s, &now, &f->err), &f->err);
        assert_true(now >= f->t0);
    }
}

static void test_clock_high_water_mark(void **state)
{
    struct rfx *f = *state;
    int64_t a, b;

    assert_tock_ok(tock_store_now(f->s, &a, &f->err), &f->err);
    assert_true(a >= f->t0);
    assert_int_equal(rfx_int(f, "HGET " NS "meta clock_hwm_ms"), a);
    /* As if Redis' clock had been a minute ahead (then stepped back): the
     * store's now does not go back. */
    freeReplyObject(rfx_reply(f, "HSET " NS "meta clock_hwm_ms %lld",
                              (long long)(a + 60000)));
    assert_tock_ok(tock_store_now(f->s, &b, &f->err), &f->err);
    assert_int_equal(b, a + 60000);
}

/* ---------------------------------------------------------------- jobs */

static void test_put_added_unchanged_changed(void **state)
{
    struct rfx *f = *state;
    struct tock_job j;
    struct tock_job_state st = {0};
    enum tock_put_outcome o;
    int64_t v;
    char buf[64];

    fx_job(&j, "flush");
    assert_tock_ok(tock_store_job_put(f->s, &j, f->t0 + 1000,
                                      TOCK_PUT_UPSERT, 0, &o, &v, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_ADDED);
    assert_int_equal(v, 1);
    assert_tock_ok(tock_store_job_get(f->s, "flush", &st, &f->err), &f->err);
    assert_int_equal(st.job.version, 1);
    assert_int_equal(st.epoch, 1);
    assert_int_equal(st.next_fire_ms, f->t0 + 1000);
    assert_int_equal(st.fired_ms, -1);
    assert_string_equal(st.owner, "");
    assert_string_equal(st.job.trigger, "interval:1s");
    assert_string_equal(st.job.queue, "default");
    assert_true(st.job.coalesce);
    assert_int_equal(st.job.max_deliveries, 3);
    assert_true(st.created_ms >= f->t0);
    tock_job_state_clear(&st);
    /* Readable: flat fields, the trigger as text, due in a zset. */
    assert_string_equal(rfx_str(f, buf, sizeof buf,
                                "HGET " NS "job:flush trigger"),
                        "interval:1s");
    assert_int_equal(rfx_int(f, "ZSCORE " NS "due flush"), f->t0 + 1000);
    assert_int_equal(rfx_int(f, "HEXISTS " NS "job:flush name"), 0);

    /* The same definition again: nothing written, next time ignored. */
    assert_tock_ok(tock_store_job_put(f->s, &j, f->t0 + 5000,
                                      TOCK_PUT_UPSERT, 0, &o, &v, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_UNCHANGED);
    assert_int_equal(v, 1);
    assert_int_equal(rfx_int(f, "ZSCORE " NS "due flush"), f->t0 + 1000);

    /* A changed definition: version+1, epoch+1, next replaced. */
    tock_free(j.trigger);
    j.trigger = tock_strdup("interval:2s");
    assert_tock_ok(tock_store_job_put(f->s, &j, f->t0 + 2000,
                                      TOCK_PUT_UPSERT, 1, &o, &v, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_CHANGED);
    assert_int_equal(v, 2);
    assert_tock_ok(tock_store_job_get(f->s, "flush", &st, &f->err), &f->err);
    assert_int_equal(st.job.version, 2);
    assert_int_equal(st.epoch, 2);
    assert_int_equal(st.next_fire_ms, f->t0 + 2000);
    assert_string_equal(st.job.trigger, "interval:2s");
    tock_job_state_clear(&st);
    assert_int_equal(rfx_events(f, "added") + rfx_events(f, "changed"), 2);

    fx_expect(tock_store_job_put(f->s, &j, 0, TOCK_PUT_CREATE, 0, &o, &v,
                                 &f->err),
              &f->err, TOCK_EEXIST, "job 'flush' already exists");
    j.max_instances = 3;
    fx_expect(tock_store_job_put(f->s, &j, 0, TOCK_PUT_UPSERT, 1, &o, &v,
                                 &f->err),
              &f->err, TOCK_ESTALE, "changed concurrently");
    assert_string_equal(tock_store_errmsg(f->s), f->err.msg);
    tock_job_clear(&j);
}

static void test_put_args_and_name(void **state)
{
    struct rfx *f = *state;
    struct tock_job j;
    struct tock_job_state st = {0};
    enum tock_put_outcome o;
    uint8_t a1[] = {0x91, 0x01}, a2[] = {0x91, 0x02};

    fx_job(&j, "args");
    j.args = tock_memdup(a1, sizeof a1);
    j.args_len = sizeof a1;
    j.name = tock_strdup("Nightly args");
    assert_tock_ok(tock_store_job_put(f->s, &j, -1, TOCK_PUT_UPSERT, 0, &o,
                                      NULL, &f->err),
                   &f->err);
    assert_tock_ok(tock_store_job_put(f->s, &j, -1, TOCK_PUT_UPSERT, 0, &o,
                                      NULL, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_UNCHANGED);
    memcpy(j.args, a2, sizeof a2);
    assert_tock_ok(tock_store_job_put(f->s, &j, -1, TOCK_PUT_UPSERT, 0, &o,
                                      NULL, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_CHANGED);
    assert_tock_ok(tock_store_job_get(f->s, "args", &st, &f->err), &f->err);
    assert_int_equal(st.job.args_len, 2);
    assert_memory_equal(st.job.args, a2, 2);
    assert_string_equal(st.job.name, "Nightly args");
    assert_int_equal(st.next_fire_ms, -1);
    tock_job_state_clear(&st);
    /* A finished job is in no due set. */
    assert_int_equal(rfx_int(f, "ZSCORE " NS "due args"), -1);
    /* Dropping the name and the args removes their fields. */
    TOCK_FREE(j.name);
    TOCK_FREE(j.args);
    j.args_len = 0;
    assert_tock_ok(tock_store_job_put(f->s, &j, -1, TOCK_PUT_UPSERT, 0, &o,
                                      NULL, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_CHANGED);
    assert_int_equal(rfx_int(f, "HEXISTS " NS "job:args args"), 0);
    assert_int_equal(rfx_int(f, "HEXISTS " NS "job:args name"), 0);
    tock_job_clear(&j);
}

static void test_get_list_remove(void **state)
{
    struct rfx *f = *state;
    struct tock_job_state *list = NULL, st = {0};
    size_t n = 0;

    rfx_add(f, "b-job", f->t0, 1);
    rfx_add(f, "a-job", f->t0, 1);
    rfx_add(f, "c-job", f->t0, 1);
    assert_tock_ok(tock_store_job_list(f->s, &list, &n, &f->err), &f->err);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].job.id, "a-job");
    assert_string_equal(list[1].job.id, "b-job");
    assert_string_equal(list[2].job.id, "c-job");
    tock_job_state_list_free(list, n);

    assert_tock_ok(tock_store_job_remove(f->s, "b-job", &f->err), &f->err);
    fx_expect(tock_store_job_remove(f->s, "b-job", &f->err), &f->err,
              TOCK_ENOENT, "no job 'b-job'");
    fx_expect(tock_store_job_get(f->s, "b-job", &st, &f->err), &f->err,
              TOCK_ENOENT, "tock ls");
    assert_null(st.job.id);
    fx_expect(tock_store_job_get(f->s, "bad id", &st, &f->err), &f->err,
              TOCK_EINVAL, "job id");
    assert_int_equal(rfx_events(f, "removed"), 1);
    assert_int_equal(rfx_int(f, "SCARD " NS "jobs"), 2);
    assert_int_equal(rfx_int(f, "ZSCORE " NS "due b-job"), -1);
    assert_tock_ok(tock_store_job_list(f->s, &list, &n, &f->err), &f->err);
    assert_int_equal(n, 2);
    tock_job_state_list_free(list, n);
}

static void test_pause_resume(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch b = {0};
    struct tock_job_state st = {0};

    rfx_add(f, "p", f->t0 - 10, 1);
    assert_tock_ok(tock_store_job_pause(f->s, "p", &f->err), &f->err);
    assert_tock_ok(tock_store_job_pause(f->s, "p", &f->err), &f->err);
    assert_tock_ok(tock_store_job_get(f->s, "p", &st, &f->err), &f->err);
    assert_true(st.job.paused);
    assert_int_equal(st.job.version, 2); /* the second pause changed nothing */
    tock_job_state_clear(&st);
    claim_n(f, "n1", 0, &b);
    assert_int_equal(b.next_due_ms, -1); /* a paused job is not scheduled */
    tock_claim_batch_clear(&b);

    assert_tock_ok(tock_store_job_resume(f->s, "p", f->t0 + 20000, &f->err),
                   &f->err);
    assert_tock_ok(tock_store_job_resume(f->s, "p", f->t0 + 90000, &f->err),
                   &f->err);
    assert_tock_ok(tock_store_job_get(f->s, "p", &st, &f->err), &f->err);
    assert_false(st.job.paused);
    assert_int_equal(st.job.version, 3);
    assert_int_equal(st.next_fire_ms, f->t0 + 20000);
    tock_job_state_clear(&st);
    claim_n(f, "n1", 0, &b);
    assert_int_equal(b.next_due_ms, f->t0 + 20000);
    tock_claim_batch_clear(&b);
    fx_expect(tock_store_job_pause(f->s, "nope", &f->err), &f->err,
              TOCK_ENOENT, "no job 'nope'");
    assert_int_equal(rfx_events(f, "paused") + rfx_events(f, "resumed"), 2);
}

static int build_task(void *ctx, const struct tock_job *job, int64_t sched_ms,
                      int64_t now_ms, uint8_t **body, size_t *len,
                      struct tock_error *err)
{
    int *calls = ctx;

    (void)err;
    assert_true(sched_ms >= now_ms);
    (*calls)++;
    *body = fx_body(job->id, sched_ms, len);
    return 0;
}

static void test_run_now(void **state)
{
    struct rfx *f = *state;
    struct tock_job_state st = {0};
    int64_t t1, t2, t3;
    int calls = 0;
    char occ[TOCK_OCC_MAX];

    rfx_add(f, "r", f->t0 + 3600000, 1);
    assert_tock_ok(tock_store_job_run_now(f->s, "r", build_task, &calls, &t1,
                                          &f->err),
                   &f->err);
    assert_true(t1 >= f->t0);
    assert_tock_ok(tock_store_job_run_now(f->s, "r", build_task, &calls, &t2,
                                          &f->err),
                   &f->err);
    assert_tock_ok(tock_store_job_run_now(f->s, "r", build_task, &calls, &t3,
                                          &f->err),
                   &f->err);
    /* Each run is a new occurrence, even within one millisecond. */
    assert_true(t2 > t1 && t3 > t2);
    assert_int_equal(calls, 3);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 3);
    assert_int_equal(rfx_int(f, "HLEN " NS "tasks"), 3);
    tock_occ_format(occ, sizeof occ, "r", t2);
    {
        char buf[32];
        assert_string_equal(rfx_str(f, buf, sizeof buf,
                                    "HGET " NS "occ:%s status", occ),
                            "dispatched");
    }
    assert_tock_ok(tock_store_job_get(f->s, "r", &st, &f->err), &f->err);
    assert_int_equal(st.running, 3);
    assert_int_equal(st.next_fire_ms, f->t0 + 3600000); /* untouched */
    assert_int_equal(st.fired_ms, -1);
    tock_job_state_clear(&st);
    fx_expect(tock_store_job_run_now(f->s, "none", build_task, &calls, &t1,
                                     &f->err),
              &f->err, TOCK_ENOENT, "no job");
}

/* -------------------------------------------------------------- firing */

static void test_claim_and_commit_ok(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch b = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    uint8_t *body;
    int64_t task_id = 0, again = 0;
    char buf[64], occ[TOCK_OCC_MAX], sid[48];

    rfx_add(f, "j1", f->t0 - 5, 1);
    rfx_add(f, "j2", f->t0 - 10, 1);
    rfx_add(f, "later", f->t0 + 70000, 1);
    claim_n(f, "node-a-1", 2, &b);
    assert_true(b.now_ms >= f->t0);
    assert_int_equal(b.next_due_ms, f->t0 + 70000);
    assert_string_equal(b.items[0].job.id, "j2"); /* earliest first */
    assert_int_equal(b.items[0].sched_ms, f->t0 - 10);
    assert_int_equal(b.items[0].epoch, 2);
    assert_int_equal(b.items[0].fired_ms, -1);
    assert_string_equal(b.items[0].token, "node-a-1:2");
    assert_string_equal(b.items[0].job.handler, "echo");
    assert_int_equal(rfx_int(f, "ZSCORE " NS "leases j2"), b.now_ms + 10000);
    assert_int_equal(rfx_int(f, "ZCARD " NS "due"), 1);
    {
        struct tock_claim_batch b2 = {0};
        claim_n(f, "node-b-1", 0, &b2);
        tock_claim_batch_clear(&b2);
    }

    fx_commit(&c, &b.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, &task_id), TOCK_COMMIT_OK);
    assert_true(task_id > 0);
    assert_int_equal(commit1(f, &c, &again), TOCK_COMMIT_ALREADY);
    assert_int_equal(again, task_id);
    tock_free(body);

    assert_tock_ok(tock_store_job_get(f->s, "j2", &st, &f->err), &f->err);
    assert_int_equal(st.fired_ms, f->t0 - 10);
    assert_int_equal(st.next_fire_ms, f->t0 + 990);
    assert_string_equal(st.owner, "");
    assert_int_equal(st.lease_until_ms, 0);
    assert_int_equal(st.running, 1);
    assert_int_equal(st.epoch, 2);
    tock_job_state_clear(&st);
    /* The task entry: readable headers, then the body; its id is the
     * packed stream id, and the entry's ms is Redis time at dispatch. */
    tock_redis_sid_format(task_id, sid, sizeof sid);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 1);
    tock_occ_format(occ, sizeof occ, "j2", f->t0 - 10);
    assert_string_equal(rfx_str(f, buf, sizeof buf, "HGET " NS "tasks %s",
                                sid),
                        occ);
    assert_true((task_id >> TOCK_REDIS_SEQ_BITS) >= b.now_ms);
    assert_string_equal(rfx_str(f, buf, sizeof buf,
                                "HGET " NS "occ:%s status", occ),
                        "dispatched");
    assert_string_equal(rfx_str(f, buf, sizeof buf, "HGET " NS "occ:%s node",
                                occ),
                        "node-a");
    assert_int_equal(rfx_int(f, "TTL " NS "occ:%s", occ), -1);
    assert_int_equal(rfx_int(f, "XLEN " NS "runs:j2"), 1);
    assert_int_equal(rfx_events(f, "fired"), 1);
    assert_int_equal(rfx_int(f, "ZSCORE " NS "due j2"), f->t0 + 990);
    assert_int_equal(rfx_int(f, "ZSCORE " NS "leases j2"), -1);
    {
        redisReply *r = rfx_reply(f, "XRANGE " NS "q:default - +");
        const redisReply *fl = r->element[0]->element[1];
        assert_string_equal(fl->element[0]->str, "occ");
        assert_true(tock_redis_streq(tock_redis_field(fl, "job"), "j2"));
        assert_true(tock_redis_streq(tock_redis_field(fl, "handler"), "echo"));
        assert_string_equal(fl->element[fl->elements - 2]->str, "body");
        freeReplyObject(r);
    }
    tock_claim_batch_clear(&b);
}

static void test_stale_after_reclaim_writes_nothing(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0}, b = {0};
    struct tock_commit c;
    uint8_t *body, *body2;
    int64_t events, xlen;

    rfx_add(f, "j", f->t0, 1);
    assert_tock_ok(tock_store_claim(f->s, "sleeper", 8, 100, &a, &f->err),
                   &f->err);
    assert_int_equal(a.n, 1);
    /* The lease lapses (the sleeper was SIGSTOPped); another node claims. */
    rfx_sleep_ms(150);
    assert_tock_ok(tock_store_claim(f->s, "other", 8, 10000, &b, &f->err),
                   &f->err);
    assert_int_equal(b.reclaimed, 1);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.items[0].sched_ms, f->t0); /* the original time */
    assert_int_equal(b.items[0].epoch, a.items[0].epoch + 2);

    events = rfx_int(f, "XLEN " NS "events");
    xlen = rfx_int(f, "XLEN " NS "q:default");
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_STALE);
    assert_int_equal(rfx_int(f, "XLEN " NS "events"), events);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), xlen);
    assert_int_equal(rfx_int(f, "EXISTS " NS "runs:j"), 0);
    assert_int_equal(rfx_events(f, "lease_expired"), 1);
    {
        redisReply *r = rfx_reply(f, "XRANGE " NS "events - +");
        bool found = false;
        for (size_t i = 0; i < r->elements; i++)
            found = found || tock_redis_streq(
                                 tock_redis_field(r->element[i]->element[1],
                                                  "detail"),
                                 "sleeper:2");
        freeReplyObject(r);
        assert_true(found);
    }

    fx_commit(&c, &b.items[0], TOCK_DECIDE_FIRE, 1000, &body2);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_STALE);
    assert_int_equal(rfx_int(f, "XLEN " NS "runs:j"), 1);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 1);
    tock_free(body);
    tock_free(body2);
    tock_claim_batch_clear(&a);
    tock_claim_batch_clear(&b);
}

static void test_late_commit_without_reclaim_is_accepted(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    uint8_t *body;

    rfx_add(f, "j", f->t0, 1);
    assert_tock_ok(tock_store_claim(f->s, "slow", 8, 50, &a, &f->err),
                   &f->err);
    rfx_sleep_ms(100); /* past the lease, but nobody reclaimed it */
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
}

static void test_changed_and_gone(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0}, b = {0};
    struct tock_commit c[2];
    struct tock_commit_result r[2];
    struct tock_job j;
    enum tock_put_outcome o;
    uint8_t *body0, *body1;

    rfx_add(f, "edit", f->t0 - 2, 1);
    rfx_add(f, "gone", f->t0 - 1, 1);
    claim_n(f, "n", 2, &a);
    fx_job(&j, "edit");
    j.max_instances = 4;
    assert_tock_ok(tock_store_job_put(f->s, &j, f->t0, TOCK_PUT_UPSERT, 0, &o,
                                      NULL, &f->err),
                   &f->err);
    tock_job_clear(&j);
    assert_tock_ok(tock_store_job_remove(f->s, "gone", &f->err), &f->err);
    fx_commit(&c[0], &a.items[0], TOCK_DECIDE_FIRE, 1000, &body0);
    fx_commit(&c[1], &a.items[1], TOCK_DECIDE_FIRE, 1000, &body1);
    assert_tock_ok(tock_store_commit(f->s, c, 2, r, &f->err), &f->err);
    assert_int_equal(r[0].status, TOCK_COMMIT_CHANGED);
    assert_int_equal(r[1].status, TOCK_COMMIT_GONE);
    assert_int_equal(rfx_int(f, "EXISTS " NS "q:default"), 0);
    assert_int_equal(rfx_int(f, "EXISTS " NS "runs:edit"), 0);
    claim_n(f, "n2", 1, &b);
    assert_int_equal(b.items[0].sched_ms, f->t0);
    assert_int_equal(b.items[0].job.max_instances, 4);
    tock_free(body0);
    tock_free(body1);
    tock_claim_batch_clear(&a);
    tock_claim_batch_clear(&b);
}

static void test_duplicate_refused_then_after_watermark(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    uint8_t *body;
    int64_t t = f->t0 - 5000;

    rfx_add(f, "d", t, 2);
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
    assert_tock_ok(tock_store_job_pause(f->s, "d", &f->err), &f->err);
    assert_tock_ok(tock_store_job_resume(f->s, "d", t, &f->err), &f->err);
    claim_n(f, "n", 1, &a);
    assert_int_equal(a.items[0].sched_ms, t);
    assert_int_equal(a.items[0].fired_ms, t);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_DUPLICATE);
    tock_free(body);
    assert_int_equal(rfx_int(f, "XLEN " NS "runs:d"), 1);
    assert_int_equal(rfx_events(f, "commit_refused"), 1);
    assert_tock_ok(tock_store_job_get(f->s, "d", &st, &f->err), &f->err);
    assert_string_equal(st.owner, "");
    tock_job_state_clear(&st);
    tock_claim_batch_clear(&a);

    claim_n(f, "n", 1, &a);
    a.items[0].sched_ms = a.items[0].fired_ms + 1000;
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    assert_int_equal(rfx_int(f, "XLEN " NS "runs:d"), 2);
    tock_free(body);
    tock_claim_batch_clear(&a);
}

static void test_misfire_and_max_instances(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    uint8_t *body;
    int64_t task_id = -1;
    char buf[64], occ[TOCK_OCC_MAX];
    int64_t t = f->t0 - 120000;

    rfx_add(f, "m", t, 1);
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    c.misfire_grace_ms = 60000; /* two minutes late: past grace */
    assert_int_equal(commit1(f, &c, &task_id), TOCK_COMMIT_MISSED);
    assert_int_equal(task_id, 0);
    tock_free(body);
    tock_claim_batch_clear(&a);
    tock_occ_format(occ, sizeof occ, "m", t);
    assert_string_equal(rfx_str(f, buf, sizeof buf,
                                "HGET " NS "occ:%s status", occ),
                        "missed");
    assert_string_equal(rfx_str(f, buf, sizeof buf,
                                "HGET " NS "occ:%s error", occ),
                        "misfire_grace");
    /* A final record expires (retention); the default is a week. */
    assert_true(rfx_int(f, "PTTL " NS "occ:%s", occ) > 6LL * 24 * 3600000);
    assert_int_equal(rfx_int(f, "EXISTS " NS "q:default"), 0);
    assert_tock_ok(tock_store_job_get(f->s, "m", &st, &f->err), &f->err);
    assert_string_equal(st.last_status, "missed");
    assert_int_equal(st.running, 0);
    tock_job_state_clear(&st);

    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_SKIPPED);
    tock_free(body);
    tock_occ_format(occ, sizeof occ, "m", a.items[0].sched_ms);
    tock_claim_batch_clear(&a);
    assert_string_equal(rfx_str(f, buf, sizeof buf,
                                "HGET " NS "occ:%s error", occ),
                        "max_instances 1 reached");
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 1);
    assert_int_equal(rfx_events(f, "skipped"), 1);
}

static void test_missed_list_and_decided_miss(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    int64_t t = f->t0 - 4000;
    int64_t missed[3] = {t, t + 1000, t + 2000};
    uint8_t *body;

    rfx_add(f, "cu", t, 1);
    claim_n(f, "n", 1, &a);
    a.items[0].sched_ms = t + 3000;
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    c.missed = missed;
    c.n_missed = 3;
    c.miss_reason = "coalesced";
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
    assert_int_equal(rfx_int(f, "XLEN " NS "runs:cu"), 4);
    assert_int_equal(rfx_events(f, "coalesced"), 1);

    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_MISS, 1000, &body);
    c.miss_reason = "misfire_grace";
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_claim_batch_clear(&a);
    assert_tock_ok(tock_store_job_get(f->s, "cu", &st, &f->err), &f->err);
    assert_int_equal(st.fired_ms, t + 4000);
    assert_int_equal(st.next_fire_ms, t + 5000);
    tock_job_state_clear(&st);
    assert_int_equal(rfx_int(f, "XLEN " NS "runs:cu"), 5);
    assert_int_equal(rfx_int(f, "XLEN " NS "q:default"), 1);
    {
        struct tock_run *runs = NULL;
        size_t n = 0;
        assert_tock_ok(tock_store_runs(f->s, "cu", 10, &runs, &n, &f->err),
                       &f->err);
        assert_int_equal(n, 5);
        assert_int_equal(runs[0].sched_ms, t + 4000);
        assert_string_equal(runs[0].status, "missed");
        assert_string_equal(runs[1].status, "dispatched");
        assert_string_equal(runs[4].status, "missed");
        assert_string_equal(runs[4].error, "coalesced");
        tock_run_list_free(runs, n);
    }
}

static void test_finished_job_and_release(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0}, b = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    uint8_t *body;

    rfx_add(f, "once", f->t0 - 1, 1);
    rfx_add(f, "rel", f->t0, 1);
    claim_n(f, "n", 2, &a);
    assert_tock_ok(tock_store_release(f->s, &a.items[1], 1, &f->err), &f->err);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 0, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    assert_tock_ok(tock_store_job_get(f->s, "rel", &st, &f->err), &f->err);
    assert_string_equal(st.owner, "");
    assert_int_equal(st.epoch, a.items[1].epoch + 1);
    tock_job_state_clear(&st);
    claim_n(f, "m", 1, &b);
    assert_string_equal(b.items[0].job.id, "rel");
    assert_int_equal(b.items[0].sched_ms, f->t0);
    assert_int_equal(b.next_due_ms, -1); /* "once" is finished, and m's own
                                            lease does not count */
    assert_tock_ok(tock_store_release(f->s, &a.items[1], 1, &f->err), &f->err);
    assert_tock_ok(tock_store_job_get(f->s, "rel", &st, &f->err), &f->err);
    assert_string_equal(st.owner, b.items[0].token);
    tock_job_state_clear(&st);
    /* The finished job: in neither set. */
    assert_int_equal(rfx_int(f, "ZSCORE " NS "due once"), -1);
    assert_int_equal(rfx_int(f, "ZSCORE " NS "leases once"), -1);
    tock_claim_batch_clear(&a);
    tock_claim_batch_clear(&b);
}

static void test_claim_limit_and_lease_wakeup(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0}, b = {0};
    char id[16];

    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "job%d", i);
        rfx_add(f, id, f->t0 - 10 + i, 1);
    }
    assert_tock_ok(tock_store_claim(f->s, "n1", 3, 20000, &a, &f->err),
                   &f->err);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.items[2].job.id, "job2");
    assert_int_equal(a.next_due_ms, f->t0 - 7);
    assert_tock_ok(tock_store_claim(f->s, "n2", 3, 20000, &b, &f->err),
                   &f->err);
    assert_int_equal(b.n, 2);
    /* Nothing unclaimed is left; n1's claims expire first, which is when
     * n2 should look again (n2's own claims do not count). */
    assert_int_equal(b.next_due_ms, a.now_ms + 20000);
    tock_claim_batch_clear(&a);
    tock_claim_batch_clear(&b);
}

static void test_readd_keeps_occurrence_ids_unique(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    uint8_t *body;

    rfx_add(f, "again", f->t0, 1);
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
    assert_tock_ok(tock_store_job_remove(f->s, "again", &f->err), &f->err);
    assert_int_equal(rfx_int(f, "HGET " NS "removed again"), f->t0);
    rfx_add(f, "again", f->t0, 1);
    claim_n(f, "n", 1, &a);
    assert_int_equal(a.items[0].fired_ms, f->t0);
    tock_claim_batch_clear(&a);
}

/* write_skew sets the Redis clock's offset (the shim's file). */
static void write_skew(const char *path, long long ms)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fprintf(fp, "%lld", ms);
    fclose(fp);
}

/* RELIABILITY.md row 9 on Redis' own clock: a forward jump expires claims
 * early, they are reclaimed and the old claimer's commit is refused (no
 * duplicate); a backward jump is absorbed by the high-water mark (the
 * store's clock pauses, it never runs back). */
static void test_redis_clock_jumps(void **state)
{
    struct rfx *f = *state;
    char *dir = tock_test_tmpdir("redis-skew");
    char skew[600], env_skew[620];
    const char *env[] = {env_skew, NULL};
    struct tock_redis_opts o = {.ld_preload = TOCK_REDIS_SKEW_SO, .env = env};
    struct tock_redis_fixture *fx = NULL;
    struct tock_store *s = NULL;
    struct tock_claim_batch a = {0}, b = {0};
    struct tock_commit c;
    struct tock_commit_result r;
    struct tock_run *runs = NULL;
    int64_t t1, t2, t3, t4;
    uint8_t *body;
    size_t n;

    assert_non_null(dir);
    snprintf(skew, sizeof skew, "%s/skew", dir);
    snprintf(env_skew, sizeof env_skew, "SKEW_FILE=%s", skew);
    write_skew(skew, 0);
    assert_tock_ok(tock_redis_fixture_start(&o, &fx, &f->err), &f->err);
    assert_tock_ok(tock_store_open(tock_redis_fixture_url(fx), NULL, &s,
                                   &f->err),
                   &f->err);
    assert_tock_ok(tock_store_now(s, &t1, &f->err), &f->err);
    {
        struct tock_job j;
        fx_job(&j, "jump");
        assert_tock_ok(tock_store_job_put(s, &j, t1 - 1, TOCK_PUT_CREATE, 0,
                                          NULL, NULL, &f->err),
                       &f->err);
        tock_job_clear(&j);
    }
    assert_tock_ok(tock_store_claim(s, "a", 8, 10000, &a, &f->err), &f->err);
    assert_int_equal(a.n, 1);

    /* +60 s: a's 10 s lease is over on Redis' clock; b reclaims. */
    write_skew(skew, 60000);
    assert_tock_ok(tock_store_claim(s, "b", 8, 10000, &b, &f->err), &f->err);
    assert_true(b.now_ms >= t1 + 60000);
    assert_int_equal(b.reclaimed, 1);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.items[0].sched_ms, t1 - 1);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_tock_ok(tock_store_commit(s, &c, 1, &r, &f->err), &f->err);
    assert_int_equal(r.status, TOCK_COMMIT_STALE);
    tock_free(body);
    fx_commit(&c, &b.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_tock_ok(tock_store_commit(s, &c, 1, &r, &f->err), &f->err);
    assert_int_equal(r.status, TOCK_COMMIT_OK);
    tock_free(body);
    assert_tock_ok(tock_store_runs(s, "jump", 10, &runs, &n, &f->err),
                   &f->err);
    assert_int_equal(n, 1);
    tock_run_list_free(runs, n);
    assert_tock_ok(tock_store_now(s, &t2, &f->err), &f->err);

    /* Back by 60 s: the store's now pauses at the mark. */
    write_skew(skew, 0);
    assert_tock_ok(tock_store_now(s, &t3, &f->err), &f->err);
    assert_true(t3 >= t2);
    assert_true(t3 >= t1 + 60000);
    rfx_sleep_ms(20);
    assert_tock_ok(tock_store_now(s, &t4, &f->err), &f->err);
    assert_int_equal(t4, t3);
    tock_claim_batch_clear(&a);
    tock_claim_batch_clear(&b);
    tock_store_close(s);
    tock_redis_fixture_free(fx);
    tock_test_rmtree(dir);
}

static void test_wake_notification(void **state)
{
    struct rfx *f = *state;
    struct pollfd pfd = {.events = POLLIN};
    size_t n = 99;
    int fd = -1;

    assert_true(tock_store_has_watch(f->s));
    assert_tock_ok(tock_store_watch_open(f->s, &fd, &f->err), &f->err);
    assert_true(fd >= 0);
    assert_tock_ok(tock_store_watch_drain(f->s, &n, &f->err), &f->err);
    assert_int_equal(n, 0);
    /* A job due before anything else: a wake-up. */
    rfx_add(f, "w1", f->t0 + 60000, 1);
    pfd.fd = fd;
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    assert_tock_ok(tock_store_watch_drain(f->s, &n, &f->err), &f->err);
    assert_int_equal(n, 1);
    /* Later than the head: no wake-up. */
    rfx_add(f, "w2", f->t0 + 90000, 1);
    /* Earlier again: one more. */
    rfx_add(f, "w3", f->t0 + 30000, 1);
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    rfx_sleep_ms(50);
    assert_tock_ok(tock_store_watch_drain(f->s, &n, &f->err), &f->err);
    assert_int_equal(n, 1);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    /* The watch's connection breaking is reported, and it can reopen. */
    freeReplyObject(rfx_reply(f, "CLIENT KILL TYPE pubsub"));
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    fx_expect(tock_store_watch_drain(f->s, &n, &f->err), &f->err, TOCK_ECONN,
              "reopen");
    assert_tock_ok(tock_store_watch_open(f->s, &fd, &f->err), &f->err);
    tock_store_watch_close(f->s);
    tock_store_watch_close(f->s);
}

static void test_bad_arguments(void **state)
{
    struct rfx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c = {0};
    struct tock_commit_result r;
    struct tock_claimed it = {0};
    int64_t missed[2] = {f->t0 - 1, f->t0 - 2};
    uint8_t *body;

    fx_expect(tock_store_claim(f->s, "", 1, 1000, &a, &f->err), &f->err,
              TOCK_EINVAL, "node nonce is empty");
    fx_expect(tock_store_claim(f->s, "n", 0, 1000, &a, &f->err), &f->err,
              TOCK_EINVAL, "claim limit 0");
    it.job.id = "j";
    it.sched_ms = f->t0;
    it.epoch = 1;
    strcpy(it.token, "n:1");
    fx_commit(&c, &it, TOCK_DECIDE_FIRE, 1000, &body);
    c.missed = missed;
    c.n_missed = 2;
    fx_expect(tock_store_commit(f->s, &c, 1, &r, &f->err), &f->err,
              TOCK_EINVAL, "not ascending");
    c.n_missed = 0;
    /* A commit for a job that never existed: GONE, nothing written. */
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_GONE);
    assert_int_equal(rfx_int(f, "EXISTS " NS "job:j"), 0);
    tock_free(body);
    assert_tock_ok(tock_store_claim(f->s, "n", 1, 1000, &a, &f->err),
                   &f->err);
    assert_string_equal(tock_store_errmsg(f->s), "");
    tock_claim_batch_clear(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, rfx_setup, rfx_teardown)
        T(test_open_meta_and_library),
        T(test_clock_high_water_mark),
        T(test_put_added_unchanged_changed),
        T(test_put_args_and_name),
        T(test_get_list_remove),
        T(test_pause_resume),
        T(test_run_now),
        T(test_claim_and_commit_ok),
        T(test_stale_after_reclaim_writes_nothing),
        T(test_late_commit_without_reclaim_is_accepted),
        T(test_changed_and_gone),
        T(test_duplicate_refused_then_after_watermark),
        T(test_misfire_and_max_instances),
        T(test_missed_list_and_decided_miss),
        T(test_finished_job_and_release),
        T(test_claim_limit_and_lease_wakeup),
        T(test_readd_keeps_occurrence_ids_unique),
        T(test_redis_clock_jumps),
        T(test_wake_notification),
        T(test_bad_arguments),
#undef T
    };
    return cmocka_run_group_tests(tests, rfx_group_setup, rfx_group_teardown);
}
