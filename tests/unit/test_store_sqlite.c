/* test_store_sqlite.c: the SQLite store's jobs and firing on real files:
 * put (added / unchanged / changed / fenced), get, list, remove, pause,
 * resume, run now, the clock, claim, every commit status, release.
 * Execution and history: test_store_sqlite_tasks.c; files, URLs, locks and
 * corruption: test_store_sqlite_files.c; several processes:
 * test_store_sqlite_procs.c. */
#include <sys/stat.h>

#include "test_store_fixture.h"

/* claim_one claims with `nonce` and requires exactly `n` items. */
static void claim_n(struct fx *f, const char *nonce, size_t n,
                    struct tock_claim_batch *b)
{
    assert_tock_ok(tock_store_claim(f->s, nonce, TOCK_CLAIM_MAX, 1000, b,
                                    &f->err),
                   &f->err);
    assert_int_equal(b->n, n);
}

/* commit1 commits one item and returns its status. */
static enum tock_commit_status commit1(struct fx *f, struct tock_commit *c,
                                       int64_t *task_id)
{
    struct tock_commit_result r;

    assert_tock_ok(tock_store_commit(f->s, c, 1, &r, &f->err), &f->err);
    if (task_id != NULL)
        *task_id = r.task_id;
    return r.status;
}

static int64_t count(struct fx *f, const char *sql)
{
    return fx_sql_int(f->path, sql);
}

/* ---------------------------------------------------------------- open */

static void test_open_creates_private_file(void **state)
{
    struct fx *f = *state;
    struct stat st;
    char wal[600];
    int64_t now;

    assert_string_equal(tock_store_kind(f->s), "sqlite");
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_tock_ok(tock_store_now(f->s, &now, &f->err), &f->err);
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count(f, "PRAGMA user_version"), TOCK_SQLITE_SCHEMA);
    assert_int_equal(count(f, "PRAGMA application_id"), TOCK_SQLITE_APP_ID);
    /* Reopening an existing store is not creating it again. */
    tock_store_close(f->s);
    fx_open(f, NULL);
    assert_int_equal(count(f, "SELECT count(*) FROM meta"), 3);
}

static void test_clock_never_goes_back(void **state)
{
    struct fx *f = *state;
    int64_t a, b;

    assert_tock_ok(tock_store_now(f->s, &a, &f->err), &f->err);
    assert_int_equal(a, FX_T0);
    f->clock = FX_T0 - 60000; /* the host clock steps back a minute */
    assert_tock_ok(tock_store_now(f->s, &b, &f->err), &f->err);
    assert_int_equal(b, FX_T0);
    /* The mark is persisted: a new handle (another process) keeps it. */
    tock_store_close(f->s);
    fx_open(f, NULL);
    assert_tock_ok(tock_store_now(f->s, &b, &f->err), &f->err);
    assert_int_equal(b, FX_T0);
    assert_int_equal(count(f, "SELECT value FROM meta WHERE key = "
                              "'clock_hwm_ms'"),
                     FX_T0);
    f->clock = FX_T0 + 5;
    assert_tock_ok(tock_store_now(f->s, &b, &f->err), &f->err);
    assert_int_equal(b, FX_T0 + 5);
}

/* ---------------------------------------------------------------- jobs */

static void test_put_added_unchanged_changed(void **state)
{
    struct fx *f = *state;
    struct tock_job j;
    struct tock_job_state st = {0};
    enum tock_put_outcome o;
    int64_t v;

    fx_job(&j, "flush");
    assert_tock_ok(tock_store_job_put(f->s, &j, FX_T0 + 1000, TOCK_PUT_UPSERT,
                                      0, &o, &v, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_ADDED);
    assert_int_equal(v, 1);
    assert_tock_ok(tock_store_job_get(f->s, "flush", &st, &f->err), &f->err);
    assert_int_equal(st.job.version, 1);
    assert_int_equal(st.epoch, 1);
    assert_int_equal(st.next_fire_ms, FX_T0 + 1000);
    assert_int_equal(st.fired_ms, -1);
    assert_string_equal(st.owner, "");
    assert_string_equal(st.job.trigger, "interval:1s");
    assert_int_equal(st.created_ms, FX_T0);
    tock_job_state_clear(&st);

    /* The same definition again: nothing written, next time ignored. */
    f->clock += 10;
    assert_tock_ok(tock_store_job_put(f->s, &j, FX_T0 + 5000, TOCK_PUT_UPSERT,
                                      0, &o, &v, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_UNCHANGED);
    assert_int_equal(v, 1);
    assert_tock_ok(tock_store_job_get(f->s, "flush", &st, &f->err), &f->err);
    assert_int_equal(st.epoch, 1);
    assert_int_equal(st.next_fire_ms, FX_T0 + 1000);
    assert_int_equal(st.updated_ms, FX_T0);
    tock_job_state_clear(&st);

    /* A changed definition: version+1, epoch+1, next replaced. */
    tock_free(j.trigger);
    j.trigger = tock_strdup("interval:2s");
    assert_tock_ok(tock_store_job_put(f->s, &j, FX_T0 + 2000, TOCK_PUT_UPSERT,
                                      1, &o, &v, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_CHANGED);
    assert_int_equal(v, 2);
    assert_tock_ok(tock_store_job_get(f->s, "flush", &st, &f->err), &f->err);
    assert_int_equal(st.job.version, 2);
    assert_int_equal(st.epoch, 2);
    assert_int_equal(st.next_fire_ms, FX_T0 + 2000);
    assert_string_equal(st.job.trigger, "interval:2s");
    tock_job_state_clear(&st);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type IN "
                              "('added', 'changed')"),
                     2);

    /* CREATE of an existing id, and a stale expected version. */
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

static void test_put_args_compared_by_bytes(void **state)
{
    struct fx *f = *state;
    struct tock_job j;
    struct tock_job_state st = {0};
    enum tock_put_outcome o;
    uint8_t a1[] = {0x91, 0x01}, a2[] = {0x91, 0x02};

    fx_job(&j, "args");
    j.args = tock_memdup(a1, sizeof a1);
    j.args_len = sizeof a1;
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
    assert_int_equal(st.next_fire_ms, -1);
    tock_job_state_clear(&st);
    tock_job_clear(&j);
}

static void test_get_list_remove(void **state)
{
    struct fx *f = *state;
    struct tock_job_state *list = NULL, st = {0};
    size_t n = 0;

    fx_add(f, "b-job", FX_T0, 1);
    fx_add(f, "a-job", FX_T0, 1);
    fx_add(f, "c-job", FX_T0, 1);
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
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'removed' AND job = 'b-job'"),
                     1);
}

static void test_pause_resume(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch b = {0};
    struct tock_job_state st = {0};

    fx_add(f, "p", FX_T0, 1);
    assert_tock_ok(tock_store_job_pause(f->s, "p", &f->err), &f->err);
    assert_tock_ok(tock_store_job_pause(f->s, "p", &f->err), &f->err);
    assert_tock_ok(tock_store_job_get(f->s, "p", &st, &f->err), &f->err);
    assert_true(st.job.paused);
    assert_int_equal(st.job.version, 2); /* the second pause changed nothing */
    tock_job_state_clear(&st);
    f->clock += 10000;
    claim_n(f, "n1", 0, &b);
    assert_int_equal(b.next_due_ms, -1); /* a paused job is not scheduled */
    tock_claim_batch_clear(&b);

    assert_tock_ok(tock_store_job_resume(f->s, "p", FX_T0 + 20000, &f->err),
                   &f->err);
    assert_tock_ok(tock_store_job_resume(f->s, "p", FX_T0 + 90000, &f->err),
                   &f->err);
    assert_tock_ok(tock_store_job_get(f->s, "p", &st, &f->err), &f->err);
    assert_false(st.job.paused);
    assert_int_equal(st.job.version, 3);
    assert_int_equal(st.next_fire_ms, FX_T0 + 20000);
    tock_job_state_clear(&st);
    claim_n(f, "n1", 0, &b);
    assert_int_equal(b.next_due_ms, FX_T0 + 20000);
    tock_claim_batch_clear(&b);
    fx_expect(tock_store_job_pause(f->s, "nope", &f->err), &f->err,
              TOCK_ENOENT, "no job 'nope'");
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type IN "
                              "('paused', 'resumed')"),
                     2);
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
    struct fx *f = *state;
    struct tock_job_state st = {0};
    int64_t t1, t2, t3;
    int calls = 0;

    fx_add(f, "r", FX_T0 + 1, 1);
    assert_tock_ok(tock_store_job_run_now(f->s, "r", build_task, &calls, &t1,
                                          &f->err),
                   &f->err);
    assert_int_equal(t1, FX_T0);
    /* Same millisecond again: a new occurrence, skipping the job's own
     * next scheduled time (FX_T0 + 1). */
    assert_tock_ok(tock_store_job_run_now(f->s, "r", build_task, &calls, &t2,
                                          &f->err),
                   &f->err);
    assert_int_equal(t2, FX_T0 + 2);
    assert_tock_ok(tock_store_job_run_now(f->s, "r", build_task, &calls, &t3,
                                          &f->err),
                   &f->err);
    assert_int_equal(t3, FX_T0 + 3);
    assert_int_equal(calls, 3);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks WHERE job = 'r'"), 3);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE job = 'r' AND "
                              "status = 'dispatched'"),
                     3);
    assert_tock_ok(tock_store_job_get(f->s, "r", &st, &f->err), &f->err);
    assert_int_equal(st.running, 3);
    assert_int_equal(st.next_fire_ms, FX_T0 + 1); /* schedule untouched */
    assert_int_equal(st.fired_ms, -1);
    tock_job_state_clear(&st);
    fx_expect(tock_store_job_run_now(f->s, "none", build_task, &calls, &t1,
                                     &f->err),
              &f->err, TOCK_ENOENT, "no job");
}

/* -------------------------------------------------------------- firing */

static void test_claim_and_commit_ok(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch b = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    uint8_t *body;
    int64_t task_id = 0, again = 0;

    fx_add(f, "j1", FX_T0 - 5, 1);
    fx_add(f, "j2", FX_T0 - 10, 1);
    fx_add(f, "later", FX_T0 + 7000, 1);
    claim_n(f, "node-a-1", 2, &b);
    assert_int_equal(b.now_ms, FX_T0);
    assert_int_equal(b.next_due_ms, FX_T0 + 7000);
    assert_string_equal(b.items[0].job.id, "j2"); /* earliest first */
    assert_int_equal(b.items[0].sched_ms, FX_T0 - 10);
    assert_int_equal(b.items[0].epoch, 2);
    assert_int_equal(b.items[0].fired_ms, -1);
    assert_string_equal(b.items[0].token, "node-a-1:2");
    assert_string_equal(b.items[0].job.handler, "echo");

    /* A second claimer finds nothing: both are claimed. */
    {
        struct tock_claim_batch b2 = {0};
        claim_n(f, "node-b-1", 0, &b2);
        tock_claim_batch_clear(&b2);
    }

    fx_commit(&c, &b.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, &task_id), TOCK_COMMIT_OK);
    assert_true(task_id > 0);
    /* A retried call with the same token: ALREADY, nothing new. */
    assert_int_equal(commit1(f, &c, &again), TOCK_COMMIT_ALREADY);
    assert_int_equal(again, task_id);
    tock_free(body);

    assert_tock_ok(tock_store_job_get(f->s, "j2", &st, &f->err), &f->err);
    assert_int_equal(st.fired_ms, FX_T0 - 10);
    assert_int_equal(st.next_fire_ms, FX_T0 + 990);
    assert_string_equal(st.owner, "");
    assert_int_equal(st.running, 1);
    assert_int_equal(st.epoch, 2);
    tock_job_state_clear(&st);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE occ = "
                              "'j2@1699999999990' AND status = 'dispatched'"
                              " AND node = 'node-a' AND fired_ms = "
                              "1700000000000"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'fired'"),
                     1);
    tock_claim_batch_clear(&b);
}

static void test_stale_after_reclaim_writes_nothing(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0}, b = {0};
    struct tock_commit c;
    uint8_t *body, *body2;
    int64_t runs, tasks, events;

    fx_add(f, "j", FX_T0, 1);
    assert_tock_ok(tock_store_claim(f->s, "sleeper", 8, 500, &a, &f->err),
                   &f->err);
    assert_int_equal(a.n, 1);
    /* The lease lapses (the sleeper was SIGSTOPped); another node claims. */
    f->clock += 501;
    assert_tock_ok(tock_store_claim(f->s, "other", 8, 500, &b, &f->err),
                   &f->err);
    assert_int_equal(b.reclaimed, 1);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.items[0].sched_ms, FX_T0); /* the original time */
    assert_int_equal(b.items[0].epoch, a.items[0].epoch + 2);

    runs = count(f, "SELECT count(*) FROM runs");
    tasks = count(f, "SELECT count(*) FROM tasks");
    events = count(f, "SELECT count(*) FROM events");
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_STALE);
    assert_int_equal(count(f, "SELECT count(*) FROM runs"), runs);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), tasks);
    assert_int_equal(count(f, "SELECT count(*) FROM events"), events);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'lease_expired' AND detail = 'sleeper:2'"),
                     1);

    fx_commit(&c, &b.items[0], TOCK_DECIDE_FIRE, 1000, &body2);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    /* The sleeper again, after the other's commit: still refused. */
    tock_free(body);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_STALE);
    assert_int_equal(count(f, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 1);
    tock_free(body);
    tock_free(body2);
    tock_claim_batch_clear(&a);
    tock_claim_batch_clear(&b);
}

static void test_late_commit_without_reclaim_is_accepted(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    uint8_t *body;

    fx_add(f, "j", FX_T0, 1);
    assert_tock_ok(tock_store_claim(f->s, "slow", 8, 500, &a, &f->err),
                   &f->err);
    f->clock += 5000; /* past the lease, but nobody reclaimed it */
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
}

static void test_changed_and_gone(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0}, b = {0};
    struct tock_commit c[2];
    struct tock_commit_result r[2];
    struct tock_job j;
    enum tock_put_outcome o;
    uint8_t *body0, *body1;

    fx_add(f, "edit", FX_T0, 1);
    fx_add(f, "gone", FX_T0, 1);
    claim_n(f, "n", 2, &a);
    fx_job(&j, "edit");
    j.max_instances = 4;
    assert_tock_ok(tock_store_job_put(f->s, &j, FX_T0 + 100, TOCK_PUT_UPSERT,
                                      0, &o, NULL, &f->err),
                   &f->err);
    tock_job_clear(&j);
    assert_tock_ok(tock_store_job_remove(f->s, "gone", &f->err), &f->err);
    fx_commit(&c[0], &a.items[0], TOCK_DECIDE_FIRE, 1000, &body0);
    fx_commit(&c[1], &a.items[1], TOCK_DECIDE_FIRE, 1000, &body1);
    assert_tock_ok(tock_store_commit(f->s, c, 2, r, &f->err), &f->err);
    assert_int_equal(r[0].status, TOCK_COMMIT_CHANGED);
    assert_int_equal(r[1].status, TOCK_COMMIT_GONE);
    assert_int_equal(count(f, "SELECT count(*) FROM runs"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 0);
    /* The edited job is due at its new time and claimable again. */
    f->clock += 100;
    claim_n(f, "n2", 1, &b);
    assert_int_equal(b.items[0].sched_ms, FX_T0 + 100);
    assert_int_equal(b.items[0].job.max_instances, 4);
    tock_free(body0);
    tock_free(body1);
    tock_claim_batch_clear(&a);
    tock_claim_batch_clear(&b);
}

static void test_duplicate_refused_then_after_watermark(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    uint8_t *body;

    fx_add(f, "d", FX_T0, 2);
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
    /* A resume moves next_fire_ms back onto the watermark. */
    assert_tock_ok(tock_store_job_pause(f->s, "d", &f->err), &f->err);
    assert_tock_ok(tock_store_job_resume(f->s, "d", FX_T0, &f->err), &f->err);
    claim_n(f, "n", 1, &a);
    assert_int_equal(a.items[0].sched_ms, FX_T0);
    assert_int_equal(a.items[0].fired_ms, FX_T0);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_DUPLICATE);
    tock_free(body);
    assert_int_equal(count(f, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'commit_refused'"),
                     1);
    assert_tock_ok(tock_store_job_get(f->s, "d", &st, &f->err), &f->err);
    assert_string_equal(st.owner, ""); /* released */
    tock_job_state_clear(&st);
    tock_claim_batch_clear(&a);

    /* The firing loop's answer: commit the first occurrence after the
     * watermark instead of the claimed one. */
    claim_n(f, "n", 1, &a);
    a.items[0].sched_ms = a.items[0].fired_ms + 1000;
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM runs"), 2);
    tock_free(body);
    tock_claim_batch_clear(&a);
}

static void test_misfire_and_max_instances(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    uint8_t *body;
    int64_t task_id = -1;

    fx_add(f, "m", FX_T0 - 120000, 1);
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    c.misfire_grace_ms = 60000; /* two minutes late: past grace */
    assert_int_equal(commit1(f, &c, &task_id), TOCK_COMMIT_MISSED);
    assert_int_equal(task_id, 0);
    tock_free(body);
    tock_claim_batch_clear(&a);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'missed' AND error = 'misfire_grace'"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 0);
    assert_tock_ok(tock_store_job_get(f->s, "m", &st, &f->err), &f->err);
    assert_string_equal(st.last_status, "missed");
    assert_int_equal(st.running, 0);
    tock_job_state_clear(&st);

    /* Unlimited grace fires however late; the next fire finds one running
     * with max_instances 1: skipped. */
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_SKIPPED);
    tock_free(body);
    tock_claim_batch_clear(&a);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'skipped' AND error LIKE 'max_instances 1%'"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'skipped'"),
                     1);
}

static void test_missed_list_and_decided_miss(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    int64_t missed[3] = {FX_T0 - 4000, FX_T0 - 3000, FX_T0 - 2000};
    uint8_t *body;

    fx_add(f, "cu", FX_T0 - 4000, 1);
    claim_n(f, "n", 1, &a);
    /* Catch-up with coalesce: three older ones missed, the latest fires. */
    a.items[0].sched_ms = FX_T0 - 1000;
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    c.missed = missed;
    c.n_missed = 3;
    c.miss_reason = "coalesced";
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'missed' AND error = 'coalesced'"),
                     3);
    assert_int_equal(count(f, "SELECT count(*) FROM runs WHERE status = "
                              "'dispatched'"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = "
                              "'coalesced'"),
                     1);

    /* A decided miss: recorded with the node's reason, no task. */
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_MISS, 1000, &body);
    c.miss_reason = "misfire_grace";
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_claim_batch_clear(&a);
    assert_tock_ok(tock_store_job_get(f->s, "cu", &st, &f->err), &f->err);
    assert_int_equal(st.fired_ms, FX_T0);
    assert_int_equal(st.next_fire_ms, FX_T0 + 1000);
    tock_job_state_clear(&st);
    assert_int_equal(count(f, "SELECT count(*) FROM runs"), 5);
    assert_int_equal(count(f, "SELECT count(*) FROM tasks"), 1);
}

static void test_finished_job_and_release(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0}, b = {0};
    struct tock_commit c;
    struct tock_job_state st = {0};
    uint8_t *body;

    fx_add(f, "once", FX_T0, 1);
    fx_add(f, "rel", FX_T0, 1);
    claim_n(f, "n", 2, &a);
    /* Release "rel" (a draining node); commit "once" as finished. */
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
    assert_int_equal(b.items[0].sched_ms, FX_T0);
    assert_int_equal(b.next_due_ms, -1); /* "once" is finished */
    /* Releasing a claim that is no longer ours changes nothing. */
    assert_tock_ok(tock_store_release(f->s, &a.items[1], 1, &f->err), &f->err);
    assert_tock_ok(tock_store_job_get(f->s, "rel", &st, &f->err), &f->err);
    assert_string_equal(st.owner, b.items[0].token);
    tock_job_state_clear(&st);
    tock_claim_batch_clear(&a);
    tock_claim_batch_clear(&b);
}

static void test_claim_limit_and_lease_wakeup(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0}, b = {0};
    char id[16];

    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "job%d", i);
        fx_add(f, id, FX_T0 - 10 + i, 1);
    }
    assert_tock_ok(tock_store_claim(f->s, "n1", 3, 2000, &a, &f->err),
                   &f->err);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.items[2].job.id, "job2");
    /* Two are still due: the node must come back at once. */
    assert_int_equal(a.next_due_ms, FX_T0 - 7);
    assert_tock_ok(tock_store_claim(f->s, "n2", 3, 2000, &b, &f->err),
                   &f->err);
    assert_int_equal(b.n, 2);
    /* Nothing unclaimed is left; n1's claims expire at FX_T0 + 2000, which
     * is when n2 should look again (n2's own claims do not count). */
    assert_int_equal(b.next_due_ms, FX_T0 + 2000);
    tock_claim_batch_clear(&a);
    tock_claim_batch_clear(&b);
}

static void test_readd_keeps_occurrence_ids_unique(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c;
    uint8_t *body;

    fx_add(f, "again", FX_T0, 1);
    claim_n(f, "n", 1, &a);
    fx_commit(&c, &a.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_int_equal(commit1(f, &c, NULL), TOCK_COMMIT_OK);
    tock_free(body);
    tock_claim_batch_clear(&a);
    assert_tock_ok(tock_store_job_remove(f->s, "again", &f->err), &f->err);
    fx_add(f, "again", FX_T0, 1);
    claim_n(f, "n", 1, &a);
    assert_int_equal(a.items[0].fired_ms, FX_T0); /* from the history */
    tock_claim_batch_clear(&a);
}

static void test_bad_arguments(void **state)
{
    struct fx *f = *state;
    struct tock_claim_batch a = {0};
    struct tock_commit c = {0};
    struct tock_commit_result r;
    struct tock_claimed it = {0};
    int64_t missed[2] = {FX_T0 - 1, FX_T0 - 2};
    uint8_t *body;

    fx_expect(tock_store_claim(f->s, "", 1, 1000, &a, &f->err), &f->err,
              TOCK_EINVAL, "node nonce is empty");
    fx_expect(tock_store_claim(f->s, "n n", 1, 1000, &a, &f->err), &f->err,
              TOCK_EINVAL, "space");
    fx_expect(tock_store_claim(f->s, "n", 0, 1000, &a, &f->err), &f->err,
              TOCK_EINVAL, "claim limit 0");
    fx_expect(tock_store_claim(f->s, "n", TOCK_CLAIM_MAX + 1, 1000, &a,
                               &f->err),
              &f->err, TOCK_EINVAL, "claim limit");
    fx_expect(tock_store_claim(f->s, "n", 1, 0, &a, &f->err), &f->err,
              TOCK_EINVAL, "lease");
    assert_string_equal(tock_store_errmsg(f->s), f->err.msg);
    fx_expect(tock_store_claim(NULL, "n", 1, 10, &a, &f->err), &f->err,
              TOCK_EINVAL, "not open");

    it.job.id = "j";
    it.sched_ms = FX_T0;
    it.epoch = 1;
    strcpy(it.token, "n:1");
    fx_commit(&c, &it, TOCK_DECIDE_FIRE, 1000, &body);
    c.missed = missed;
    c.n_missed = 2; /* not ascending */
    fx_expect(tock_store_commit(f->s, &c, 1, &r, &f->err), &f->err,
              TOCK_EINVAL, "not ascending");
    c.n_missed = 0;
    c.next_ms = FX_T0;
    fx_expect(tock_store_commit(f->s, &c, 1, &r, &f->err), &f->err,
              TOCK_EINVAL, "next_ms must be after");
    c.next_ms = -1;
    c.task = NULL;
    fx_expect(tock_store_commit(f->s, &c, 1, &r, &f->err), &f->err,
              TOCK_EINVAL, "needs a task body");
    tock_free(body);
    /* A good call clears the handle's message. */
    assert_tock_ok(tock_store_claim(f->s, "n", 1, 1000, &a, &f->err),
                   &f->err);
    assert_string_equal(tock_store_errmsg(f->s), "");
    assert_int_equal(f->err.code, 0);
    tock_claim_batch_clear(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_open_creates_private_file),
        T(test_clock_never_goes_back),
        T(test_put_added_unchanged_changed),
        T(test_put_args_compared_by_bytes),
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
        T(test_bad_arguments),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
