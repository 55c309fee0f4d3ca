/* test_runner.c: worker/runner in one process, against a real SQLite
 * store and a real pool (forked children running /bin/sh): results
 * reported, poison tasks acknowledged as errors, kick, the file watch, the
 * drain hand-back, self-fencing when the lease is lost, a store that is
 * locked for a while, option checks, and the program helpers.
 *
 * Each test ends with every handle closed: uv_loop_close() must return 0.
 */
#include "support.h"

#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "store/store.h"
#include "worker/handlers.h"
#include "worker/pool.h"
#include "worker/runner.h"

#define HANDLERS                                                               \
    "{\"handlers\": {"                                                         \
    "\"ok\": {\"argv\": [\"/bin/sh\", \"-c\","                             \
    " \"echo hi $TOCK_OCCURRENCE_ID\"]},"                                    \
    "\"mid\": {\"argv\": [\"/bin/sleep\", \"0.4\"]},"                      \
    "\"slow\": {\"argv\": [\"/bin/sleep\", \"30\"]}}}"

struct fx {
    char *dir;
    char url[1100];
    char db[1100];
    uv_loop_t loop;
    uv_timer_t tick;            /* keeps uv_run(ONCE) returning */
    struct tock_handlers *reg;
    struct tock_pool *pool;
    struct tock_store *store;   /* the runner's */
    struct tock_store *peer;    /* another connection: "another process" */
    struct tock_runner *runner;
    struct tock_log *log;
    char logbuf[16384];
    size_t loglen;
    int results, ok, errors, reported_ok, not_recorded;
    char last_error[512];
    int stopped, stop_status;
};

static void sink(void *data, enum tock_log_level level, const char *line)
{
    struct fx *fx = data;
    size_t n = strlen(line);

    (void)level;
    if (fx->loglen + n + 2 < sizeof fx->logbuf) {
        memcpy(fx->logbuf + fx->loglen, line, n);
        fx->loglen += n;
        fx->logbuf[fx->loglen++] = '\n';
        fx->logbuf[fx->loglen] = '\0';
    }
}

static void on_result(void *ctx, const struct tock_runner_report *rep)
{
    struct fx *fx = ctx;

    fx->results++;
    fx->ok += rep->result->status == TOCK_STATUS_OK;
    fx->errors += rep->result->status == TOCK_STATUS_ERROR;
    fx->reported_ok += rep->rc == 0 && rep->status == TOCK_REPORT_OK;
    fx->not_recorded += rep->rc != 0;
    if (rep->result->error != NULL)
        snprintf(fx->last_error, sizeof fx->last_error, "%s",
                 rep->result->error);
}

static void on_stopped(struct tock_runner *r, int status, void *ctx)
{
    struct fx *fx = ctx;

    (void)r;
    fx->stopped++;
    fx->stop_status = status;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static int setup(void **state)
{
    struct fx *fx = tock_calloc(1, sizeof *fx);
    struct tock_pool_config cfg = {0};
    struct tock_error err = {0};

    assert_non_null(fx);
    fx->dir = tock_test_tmpdir("runner");
    assert_non_null(fx->dir);
    snprintf(fx->db, sizeof fx->db, "%s/t.db", fx->dir);
    snprintf(fx->url, sizeof fx->url, "sqlite:%s", fx->db);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    uv_timer_init(&fx->loop, &fx->tick);
    uv_timer_start(&fx->tick, on_tick, 10, 10);
    fx->log = tock_log_new(2, TOCK_LOG_DEBUG, TOCK_LOG_HUMAN);
    assert_non_null(fx->log);
    tock_log_set_sink(fx->log, sink, fx);
    fx->reg = tock_handlers_new();
    assert_non_null(fx->reg);
    assert_tock_ok(tock_handlers_load_json(fx->reg, HANDLERS, strlen(HANDLERS),
                                           "test", &err),
                   &err);
    /* The pool first: it forks, and no store connection may exist yet. */
    cfg.concurrency = 2;
    cfg.handlers = fx->reg;
    cfg.worker_id = "w1";
    cfg.kill_grace_ms = 100;
    assert_tock_ok(tock_pool_new(&fx->loop, &cfg, tock_runner_pool_result,
                                 &fx->pool, &err),
                   &err);
    assert_tock_ok(tock_store_open(fx->url, NULL, &fx->peer, &err), &err);
    assert_tock_ok(tock_store_open(fx->url, NULL, &fx->store, &err), &err);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    tock_runner_free(fx->runner);
    tock_pool_free(fx->pool);
    uv_close((uv_handle_t *)&fx->tick, NULL);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    tock_store_close(fx->store);
    tock_store_close(fx->peer);
    tock_handlers_free(fx->reg);
    tock_log_free(fx->log);
    tock_test_rmtree(fx->dir);
    tock_free(fx);
    return 0;
}

/* ------------------------------------------------------------ helpers */

static void new_runner(struct fx *fx, int64_t lease_ms, int64_t poll_ms,
                       bool watch)
{
    struct tock_runner_opts o = {0};
    struct tock_error err = {0};

    o.worker_id = "w1";
    o.lease_ms = lease_ms;
    o.poll_ms = poll_ms;
    o.watch_path = watch ? fx->db : NULL;
    o.log = fx->log;
    o.on_result = on_result;
    o.ctx = fx;
    assert_tock_ok(tock_runner_new(&fx->loop, fx->store, fx->pool, fx->reg, &o,
                                   &fx->runner, &err),
                   &err);
    assert_tock_ok(tock_runner_start(fx->runner, &err), &err);
}

/* run_until runs the loop until *counter >= want or `ms` passed. */
static int run_until(struct fx *fx, const int *counter, int want, int ms)
{
    uint64_t until;

    uv_update_time(&fx->loop);
    until = uv_now(&fx->loop) + (uint64_t)ms;
    while (*counter < want && uv_now(&fx->loop) < until)
        uv_run(&fx->loop, UV_RUN_ONCE);
    return *counter;
}

/* run_until_log runs the loop until the log holds `needle` or `ms`
 * passed; returns whether it does. */
static bool run_until_log(struct fx *fx, const char *needle, int ms)
{
    uint64_t until;

    uv_update_time(&fx->loop);
    until = uv_now(&fx->loop) + (uint64_t)ms;
    while (strstr(fx->logbuf, needle) == NULL && uv_now(&fx->loop) < until)
        uv_run(&fx->loop, UV_RUN_ONCE);
    return strstr(fx->logbuf, needle) != NULL;
}

static void run_for(struct fx *fx, int ms)
{
    int never = 0;

    run_until(fx, &never, 1, ms);
}

static void put_job(struct fx *fx, const char *id, const char *handler)
{
    struct tock_job job = {0};
    struct tock_error err = {0};
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    assert_int_equal(tock_job_init_defaults(&job), 0);
    job.id = tock_strdup(id);
    job.handler = tock_strdup(handler);
    job.trigger = tock_strdup("interval:1h");
    assert_tock_ok(tock_store_job_put(fx->peer, &job,
                                      (int64_t)ts.tv_sec * 1000 + 3600000,
                                      TOCK_PUT_UPSERT, 0, NULL, NULL, &err),
                   &err);
    tock_job_clear(&job);
}

/* build: ctx is the handler name to put in the task, or NULL for bytes
 * that are no task at all. */
static int build(void *ctx, const struct tock_job *job, int64_t sched_ms,
                 int64_t now_ms, uint8_t **body, size_t *len,
                 struct tock_error *err)
{
    struct tock_task t = {0};
    char occ[TOCK_OCC_MAX];

    if (ctx == NULL) {
        *body = tock_memdup("\x93\x01", 2); /* an array cut short */
        *len = 2;
        return 0;
    }
    tock_occ_format(occ, sizeof occ, job->id, sched_ms);
    t.occ = occ;
    t.job = job->id;
    t.handler = ctx;
    t.queue = job->queue;
    t.sched_ms = sched_ms;
    /* run_now makes sched_ms unique: it may be a ms past now */
    t.fire_ms = now_ms > sched_ms ? now_ms : sched_ms;
    t.attempt = 1;
    t.max_deliveries = 3;
    return tock_proto_encode_task(&t, body, len, err);
}

static int64_t enqueue(struct fx *fx, const char *job, const char *handler)
{
    struct tock_error err = {0};
    int64_t sched = 0;

    assert_tock_ok(tock_store_job_run_now(fx->peer, job, build,
                                          (void *)handler, &sched, &err),
                   &err);
    return sched;
}

static const char *run_status(struct fx *fx, const char *job, int64_t sched,
                              char *buf, size_t cap)
{
    struct tock_run *runs = NULL;
    struct tock_error err = {0};
    size_t n = 0, i;

    buf[0] = '\0';
    assert_tock_ok(tock_store_runs(fx->peer, job, 100, &runs, &n, &err), &err);
    for (i = 0; i < n; i++)
        if (runs[i].sched_ms == sched)
            snprintf(buf, cap, "%s", runs[i].status);
    tock_run_list_free(runs, n);
    return buf;
}

static void stop(struct fx *fx, int64_t drain_ms)
{
    assert_int_equal(tock_runner_stop(fx->runner, drain_ms, on_stopped, fx), 0);
    /* a second stop is refused, and its callback never runs */
    assert_int_equal(tock_runner_stop(fx->runner, 0, on_stopped, fx),
                     TOCK_EINVAL);
    assert_int_equal(run_until(fx, &fx->stopped, 1, 5000), 1);
    run_for(fx, 50);
    assert_int_equal(fx->stopped, 1);
}

/* ------------------------------------------------------------ tests */

static void runs_and_reports(void **state)
{
    struct fx *fx = *state;
    char st[32];
    int64_t s[3];
    int i;

    put_job(fx, "j", "ok");
    for (i = 0; i < 3; i++)
        s[i] = enqueue(fx, "j", "ok");
    new_runner(fx, 0, 0, false);
    assert_int_equal(run_until(fx, &fx->results, 3, 5000), 3);
    assert_int_equal(fx->ok, 3);
    assert_int_equal(fx->reported_ok, 3);
    for (i = 0; i < 3; i++)
        assert_string_equal(run_status(fx, "j", s[i], st, sizeof st), "ok");
    assert_int_equal(tock_runner_held(fx->runner), 0);
    stop(fx, 1000);
    assert_int_equal(fx->stop_status, 0);
}

static void poison_tasks_become_errors(void **state)
{
    struct fx *fx = *state;
    char st[32];
    int64_t bad, unknown;

    put_job(fx, "j", "ok");
    bad = enqueue(fx, "j", NULL);
    new_runner(fx, 0, 0, false);
    assert_int_equal(run_until(fx, &fx->results, 1, 5000), 1);
    assert_int_equal(fx->errors, 1);
    assert_non_null(strstr(fx->last_error, "malformed task"));
    unknown = enqueue(fx, "j", "nope");
    tock_runner_kick(fx->runner);
    assert_int_equal(run_until(fx, &fx->results, 2, 5000), 2);
    assert_string_equal(fx->last_error, "handler nope is not configured on "
                                        "worker w1; define it in the "
                                        "worker's config or with --handler");
    assert_int_equal(fx->reported_ok, 2);
    assert_string_equal(run_status(fx, "j", bad, st, sizeof st), "error");
    assert_string_equal(run_status(fx, "j", unknown, st, sizeof st), "error");
    stop(fx, 1000);
}

/* With no watch and a 60 s poll, only a kick makes the runner look. */
static void kick_wakes(void **state)
{
    struct fx *fx = *state;

    put_job(fx, "j", "ok");
    new_runner(fx, 0, 60000, false);
    run_for(fx, 100); /* the first take found nothing */
    enqueue(fx, "j", "ok");
    run_for(fx, 300);
    assert_int_equal(fx->results, 0);
    tock_runner_kick(fx->runner);
    assert_int_equal(run_until(fx, &fx->results, 1, 3000), 1);
    stop(fx, 1000);
}

/* With the watch and a 60 s poll, another connection's commit wakes it. */
static void watch_wakes(void **state)
{
    struct fx *fx = *state;
    int i;

    put_job(fx, "j", "ok");
    new_runner(fx, 0, 60000, true);
    run_for(fx, 200);
    for (i = 1; i <= 3; i++) {
        enqueue(fx, "j", "ok");
        assert_int_equal(run_until(fx, &fx->results, i, 1500), i);
    }
    stop(fx, 1000);
}

/* A task that outlives the drain is stopped and handed back: ready again
 * for another worker, its delivery not counted. */
static void drain_hands_back(void **state)
{
    struct fx *fx = *state;
    struct tock_task_lease *l = NULL;
    struct tock_error err = {0};
    const char *q[] = {"default"};
    size_t n = 0;
    char st[32];
    int64_t s;

    put_job(fx, "s", "slow");
    s = enqueue(fx, "s", "slow");
    new_runner(fx, 0, 0, false);
    assert_true(run_until_log(fx, "started (slow)", 3000));
    stop(fx, 100);
    assert_int_equal(fx->stop_status, 0);
    assert_int_equal(fx->results, 0);
    assert_string_equal(run_status(fx, "s", s, st, sizeof st), "dispatched");
    assert_tock_ok(tock_store_task_take(fx->peer, q, 1, "other", 10, 1000, &l,
                                        &n, &err),
                   &err);
    assert_int_equal(n, 1);
    assert_int_equal(l[0].deliveries, 1);
    tock_task_lease_list_free(l, n);
}

/* Another worker took the task over (its lease expired and it was handed
 * out again): the next touch says it is no longer ours, the runner stops
 * it and reports nothing. */
static void lost_lease_is_fenced(void **state)
{
    struct fx *fx = *state;
    sqlite3 *db = NULL;

    put_job(fx, "s", "slow");
    enqueue(fx, "s", "slow");
    new_runner(fx, 300, 0, false);
    assert_true(run_until_log(fx, "started (slow)", 3000));
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, "UPDATE tasks SET consumer = 'thief'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_true(run_until_log(fx, "its lease was lost", 5000));
    assert_int_equal(tock_runner_held(fx->runner), 0);
    assert_int_equal(fx->results, 0);
    assert_non_null(strstr(fx->logbuf, "is no longer ours"));
    stop(fx, 1000);
}

/* The database is locked by someone else while a result waits: the report
 * fails, is retried after the back-off, and lands once the lock is gone. */
static void locked_store_retries(void **state)
{
    struct fx *fx = *state;
    struct tock_store_tuning tune = {0};
    struct tock_error err = {0};
    sqlite3 *db = NULL;
    char st[32];
    int64_t s;

    tock_store_close(fx->store);
    tune.busy_timeout_ms = 50;
    assert_tock_ok(tock_store_open_tuned(fx->url, &tune, NULL, &fx->store,
                                         &err),
                   &err);
    put_job(fx, "m", "mid");
    new_runner(fx, 0, 0, false);
    run_for(fx, 200);
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    s = enqueue(fx, "m", "mid");
    tock_runner_kick(fx->runner);
    /* Let it take the task (it runs 0.4 s), then hold the write lock
     * until its report has failed. */
    assert_true(run_until_log(fx, "started (mid)", 3000));
    assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_true(run_until_log(fx, "reporting results failed", 5000));
    run_for(fx, 300);
    assert_int_equal(fx->results, 0);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(run_until(fx, &fx->results, 1, 3000), 1);
    assert_int_equal(fx->reported_ok, 1);
    assert_string_equal(run_status(fx, "m", s, st, sizeof st), "ok");
    stop(fx, 1000);
}

static void bad_options(void **state)
{
    struct fx *fx = *state;
    struct tock_runner_opts o = {0};
    struct tock_runner *r = NULL;
    struct tock_error err = {0};
    const char *q[] = {"ok", "no way"};

    assert_int_equal(tock_runner_new(&fx->loop, fx->store, fx->pool, fx->reg,
                                     &o, &r, &err),
                     TOCK_EINVAL);
    o.worker_id = "host:1";
    assert_int_equal(tock_runner_new(&fx->loop, fx->store, fx->pool, fx->reg,
                                     &o, &r, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "worker id"));
    o.worker_id = "w1";
    o.queues = q;
    o.nqueues = 2;
    assert_int_equal(tock_runner_new(&fx->loop, fx->store, fx->pool, fx->reg,
                                     &o, &r, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "queue"));
    o.nqueues = 1;
    o.lease_ms = 100;
    assert_int_equal(tock_runner_new(&fx->loop, fx->store, fx->pool, fx->reg,
                                     &o, &r, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "lease"));
    assert_null(r);
}

static void program_helpers(void **state)
{
    struct tock_error err = {0};
    char id[TOCK_ID_MAX + 1], **q = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(tock_runner_default_id(id, sizeof id), 0);
    assert_tock_ok(tock_name_check(id, "worker id", &err), &err);
    assert_int_equal(tock_runner_default_id(id, 4), TOCK_ERANGE);
    assert_tock_ok(tock_runner_parse_queues("hi,default,lo", &q, &n, &err),
                   &err);
    assert_int_equal(n, 3);
    assert_string_equal(q[0], "hi");
    assert_string_equal(q[2], "lo");
    tock_runner_queues_free(q, n);
    assert_int_equal(tock_runner_parse_queues("a,,b", &q, &n, &err),
                     TOCK_EINVAL);
    assert_int_equal(tock_runner_parse_queues("a,b,a", &q, &n, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "twice"));
    assert_int_equal(tock_runner_parse_queues("", &q, &n, &err), TOCK_EINVAL);
    assert_null(q);
    assert_string_equal(tock_runner_store_file("sqlite:/x/y.db"), "/x/y.db");
    assert_null(tock_runner_store_file("sqlite:"));
    assert_null(tock_runner_store_file("redis://h:1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(runs_and_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(poison_tasks_become_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(kick_wakes, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_wakes, setup, teardown),
        cmocka_unit_test_setup_teardown(drain_hands_back, setup, teardown),
        cmocka_unit_test_setup_teardown(lost_lease_is_fenced, setup, teardown),
        cmocka_unit_test_setup_teardown(locked_store_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_options, setup, teardown),
        cmocka_unit_test(program_helpers),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
