/* test_worker_sqlite.c: tock-worker on a real SQLite file: poison tasks
 * (malformed, oversized, unknown version, unknown handler) become one
 * `error` result each and the worker keeps serving; SIGTERM hands an
 * unfinished task back to the queue for another worker; tock-scheduler and
 * tock-worker as separate processes on one file; bad flags.
 *
 * Tasks are put in the queue through the store's own API (run_now with a
 * body the test builds), the way a scheduler would, so the worker sees
 * exactly what a peer could send.
 */
#include "standalone_fixture.h"

#include <inttypes.h>

#include "proto/codec.h"

static int setup(void **state)
{
    struct sa_fixture *f = tock_calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    sa_setup(f, "worker");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct sa_fixture *f = *state;

    sa_teardown(f);
    tock_free(f);
    return 0;
}

/* write_handlers writes DIR/w.json with one handler "rec" running
 * `script` with /bin/sh ("@D@" stands for DIR). */
static const char *write_handlers(struct sa_fixture *f, const char *script,
                                  char *buf, size_t cap)
{
    char text[8192], body[4096];
    const char *p;
    size_t n = 0;

    for (p = script; *p && n < sizeof body - SA_PATH_MAX; p++) {
        if (strncmp(p, "@D@", 3) == 0) {
            n += (size_t)snprintf(body + n, sizeof body - n, "%s", f->dir);
            p += 2;
        } else {
            body[n++] = *p;
        }
    }
    body[n] = '\0';
    snprintf(text, sizeof text,
             "{\"handlers\": {\"rec\": {\"argv\": [\"/bin/sh\", \"-c\", "
             "\"%s\"]}}}\n", body);
    sa_path(f, "w.json", buf, cap);
    sa_write(buf, text);
    return buf;
}

static pid_t start_worker(struct sa_fixture *f, const char *cfg,
                          const char *id, const char *log, const char *drain)
{
    const char *args[] = {"--store", f->url, "--config", cfg,
                          "--concurrency", "2", "--worker-id", id,
                          "--drain", drain, "--kill-grace", "200ms",
                          sa_root_flag(), NULL};

    return sa_spawn(f, "tock-worker", log, args);
}

/* put_job stores job `id` (handler "rec") that never fires by itself
 * within the test: its tasks come from run_now. */
static void put_job(struct sa_fixture *f, const char *id, const char *trigger,
                    int64_t next_fire_ms)
{
    struct tock_job job = {0};
    struct tock_error err = {0};

    sa_open_store(f);
    assert_int_equal(tock_job_init_defaults(&job), 0);
    job.id = tock_strdup(id);
    job.handler = tock_strdup("rec");
    job.trigger = tock_strdup(trigger);
    assert_tock_ok(tock_store_job_put(f->store, &job, next_fire_ms,
                                      TOCK_PUT_UPSERT, 0, NULL, NULL, &err),
                   &err);
    tock_job_clear(&job);
}

/* ------------------------------------------------------ task bodies */

enum body_kind {
    BODY_GOOD,
    BODY_GARBAGE,
    BODY_OVERSIZED,
    BODY_VERSION,
    BODY_UNKNOWN_HANDLER,
};

static int encode(const struct tock_job *job, int64_t sched_ms, int64_t now_ms,
                  const char *handler, uint8_t **body, size_t *len,
                  struct tock_error *err)
{
    struct tock_task t = {0};
    char occ[TOCK_OCC_MAX];

    tock_occ_format(occ, sizeof occ, job->id, sched_ms);
    t.occ = occ;
    t.job = job->id;
    t.handler = (char *)handler;
    t.queue = job->queue;
    t.sched_ms = sched_ms;
    /* run_now makes sched_ms unique: it may be a ms past now */
    t.fire_ms = now_ms > sched_ms ? now_ms : sched_ms;
    t.attempt = 1;
    t.max_deliveries = 3;
    return tock_proto_encode_task(&t, body, len, err);
}

static int build_body(void *ctx, const struct tock_job *job, int64_t sched_ms,
                      int64_t now_ms, uint8_t **body, size_t *len,
                      struct tock_error *err)
{
    enum body_kind kind = *(const enum body_kind *)ctx;
    int rc;

    switch (kind) {
    case BODY_GOOD:
        return encode(job, sched_ms, now_ms, "rec", body, len, err);
    case BODY_UNKNOWN_HANDLER:
        return encode(job, sched_ms, now_ms, "nope", body, len, err);
    case BODY_VERSION:
        /* A valid frame whose "v" says it comes from a newer tock: the
         * encoder writes "v" first, as fixstr "v" then fixint 1. */
        if ((rc = encode(job, sched_ms, now_ms, "rec", body, len, err)) != 0)
            return rc;
        assert_memory_equal(*body + 1, "\xa1v\x01", 3);
        (*body)[3] = 0x63; /* 99 */
        return 0;
    case BODY_GARBAGE:
        *body = tock_memdup("\xc1\xde\xad\xbe\xef", 5);
        *len = 5;
        return *body != NULL ? 0 : TOCK_ENOMEM;
    case BODY_OVERSIZED:
        /* 1.5 MiB: over the 1 MiB + 64 KiB frame limit. */
        *len = 1536 * 1024;
        *body = tock_calloc(1, *len);
        if (*body == NULL)
            return TOCK_ENOMEM;
        (*body)[0] = 0x81;
        return 0;
    }
    return TOCK_EINVAL;
}

/* enqueue puts one task of job `id` in the queue and returns its
 * scheduled time (the occurrence's identity). */
static int64_t enqueue(struct sa_fixture *f, const char *id,
                       enum body_kind kind)
{
    struct tock_error err = {0};
    int64_t sched = 0;

    sa_open_store(f);
    assert_tock_ok(tock_store_job_run_now(f->store, id, build_body, &kind,
                                          &sched, &err),
                   &err);
    return sched;
}

/* wait_final waits up to `ms` for the run of (job, sched) to leave
 * dispatched/running and returns it (the caller frees with
 * tock_run_list_free(run, 1)), or fails. */
static struct tock_run *wait_final(struct sa_fixture *f, const char *job,
                                   int64_t sched, int ms)
{
    int64_t until = sa_now_ms() + ms;

    for (;;) {
        struct tock_run *runs = NULL, *one;
        size_t n = 0, i;

        sa_runs(f, job, &runs, &n);
        for (i = 0; i < n; i++) {
            if (runs[i].sched_ms != sched ||
                strcmp(runs[i].status, "dispatched") == 0 ||
                strcmp(runs[i].status, "running") == 0)
                continue;
            one = tock_calloc(1, sizeof *one);
            assert_non_null(one);
            *one = runs[i];
            memset(&runs[i], 0, sizeof runs[i]);
            tock_run_list_free(runs, n);
            return one;
        }
        tock_run_list_free(runs, n);
        if (sa_now_ms() >= until)
            fail_msg("occurrence %s@%" PRId64 " did not finish in %d ms", job,
                     sched, ms);
        sa_sleep_ms(30);
    }
}

static void expect_error(struct sa_fixture *f, int64_t sched,
                         const char *needle)
{
    struct tock_run *run = wait_final(f, "p", sched, 5000);

    assert_string_equal(run->status, "error");
    if (run->error == NULL || strstr(run->error, needle) == NULL)
        fail_msg("error '%s' does not say '%s'",
                 run->error ? run->error : "(none)", needle);
    tock_run_list_free(run, 1);
}

/* ---------------------------------------------------------- poison */

static void poison_tasks_are_acknowledged(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX];
    struct tock_task_lease *leases = NULL;
    struct tock_error err = {0};
    const char *queues[] = {"default"};
    struct tock_run *run;
    int64_t s1, s2, s3, s4, s5;
    size_t n = 0;
    pid_t pid;

    write_handlers(f, "echo ran $TOCK_OCCURRENCE_ID", cfg, sizeof cfg);
    put_job(f, "p", "interval:1h", sa_now_ms() + 3600000);
    pid = start_worker(f, cfg, "w1", "w1.log", "5s");

    s1 = enqueue(f, "p", BODY_GARBAGE);
    s2 = enqueue(f, "p", BODY_OVERSIZED);
    s3 = enqueue(f, "p", BODY_VERSION);
    s4 = enqueue(f, "p", BODY_UNKNOWN_HANDLER);
    s5 = enqueue(f, "p", BODY_GOOD);
    expect_error(f, s1, "malformed task");
    expect_error(f, s2, "malformed task");
    expect_error(f, s3, "version");
    expect_error(f, s4, "handler nope is not configured on worker w1");
    run = wait_final(f, "p", s5, 5000);
    assert_string_equal(run->status, "ok");
    assert_string_equal(run->worker, "w1");
    tock_run_list_free(run, 1);

    /* Acknowledged, not redelivered: the queue is empty, and the worker
     * that got them still serves. */
    assert_tock_ok(tock_store_task_take(f->store, queues, 1, "probe", 10,
                                        1000, &leases, &n, &err),
                   &err);
    assert_int_equal(n, 0);
    tock_task_lease_list_free(leases, n);
    assert_int_equal(kill(pid, 0), 0);
    run = wait_final(f, "p", enqueue(f, "p", BODY_GOOD), 5000);
    assert_string_equal(run->status, "ok");
    tock_run_list_free(run, 1);
    assert_int_equal(sa_stop(pid, 8000), 0);
}

/* ---------------------------------------------------------- drain */

/* SIGTERM with a task that outlives --drain: the worker stops it, hands
 * it back (exit 0), and another worker runs it to the end. */
#define ONCE_SLOW_SCRIPT                                                       \
    "echo $TOCK_OCCURRENCE_ID >> @D@/exec.log; "                              \
    "if [ ! -e @D@/first ]; then : > @D@/first; exec sleep 30; fi; echo done"

static void sigterm_hands_back_unfinished(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], exec_log[SA_PATH_MAX];
    struct tock_run *runs = NULL, *run;
    size_t n = 0, i;
    int64_t sched, t0;
    pid_t a, b;

    write_handlers(f, ONCE_SLOW_SCRIPT, cfg, sizeof cfg);
    put_job(f, "p", "interval:1h", sa_now_ms() + 3600000);
    a = start_worker(f, cfg, "wa", "wa.log", "300ms");
    sched = enqueue(f, "p", BODY_GOOD);
    sa_path(f, "exec.log", exec_log, sizeof exec_log);
    assert_int_equal(sa_wait_lines(exec_log, 1, 5000), 1);

    t0 = sa_now_ms();
    assert_int_equal(sa_stop(a, 8000), 0);
    /* drain 300 ms + kill grace 200 ms + a store call or two */
    assert_true(sa_now_ms() - t0 < 3000);
    sa_runs(f, "p", &runs, &n);
    for (i = 0; i < n; i++)
        if (runs[i].sched_ms == sched)
            assert_string_equal(runs[i].status, "dispatched");
    tock_run_list_free(runs, n);

    b = start_worker(f, cfg, "wb", "wb.log", "5s");
    run = wait_final(f, "p", sched, 5000);
    assert_string_equal(run->status, "ok");
    assert_string_equal(run->worker, "wb");
    assert_int_equal(run->attempt, 1);
    tock_run_list_free(run, 1);
    assert_int_equal(sa_count_lines(exec_log), 2);
    assert_int_equal(sa_stop(b, 8000), 0);
}

/* ---------------------------------------------------------- processes */

/* tock-scheduler fires, tock-worker runs, on one SQLite file; the worker
 * wakes on the scheduler's commits (a change of the database file), not
 * on its 1 s poll. */
static void scheduler_and_worker_processes(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX];
    struct tock_run *runs = NULL;
    const int64_t period = 500;
    int64_t anchor = 1704067200000LL; /* 2024-01-01T00:00:00Z */
    int64_t now = sa_now_ms(), next;
    size_t n = 0, i, ok = 0;
    pid_t sched, work;
    const char *sargs[] = {"--store", f->url, NULL};

    write_handlers(f, "echo ran $TOCK_OCCURRENCE_ID", cfg, sizeof cfg);
    next = anchor + ((now - anchor) / period + 2) * period;
    put_job(f, "tick", "interval:500ms@2024-01-01T00:00:00Z", next);
    work = start_worker(f, cfg, "w1", "w1.log", "5s");
    sched = sa_spawn(f, "tock-scheduler", "sched.log", sargs);
    assert_true(sa_wait_status(f, "tick", "ok", 4, 8000) >= 4);
    assert_int_equal(sa_stop(sched, 8000), 0);
    assert_int_equal(sa_stop(work, 8000), 0);

    sa_runs(f, "tick", &runs, &n);
    for (i = 0; i < n; i++) {
        if (strcmp(runs[i].status, "ok") != 0)
            continue;
        ok++;
        assert_string_equal(runs[i].worker, "w1");
        assert_non_null(runs[i].node);
        assert_true(runs[i].started_ms >= runs[i].fired_ms - 50);
        if (runs[i].started_ms - runs[i].fired_ms >= 600)
            fail_msg("%s picked up %" PRId64 " ms after it fired: the worker "
                     "did not wake on the commit", runs[i].occ,
                     runs[i].started_ms - runs[i].fired_ms);
    }
    assert_true(ok >= 4);
    tock_run_list_free(runs, n);
}

/* ---------------------------------------------------------- bad flags */

static void expect_usage(struct sa_fixture *f, const char *const *args,
                         const char *needle)
{
    char log[SA_PATH_MAX];
    char *text;

    sa_path(f, "bad.log", log, sizeof log);
    unlink(log);
    assert_int_equal(sa_run(f, "tock-worker", "bad.log", args), 2);
    text = sa_read(log);
    if (strncmp(text, "tock-worker: ", 13) != 0 || strchr(text, '\n') == NULL ||
        strchr(text, '\n')[1] != '\0' || strstr(text, needle) == NULL)
        fail_msg("expected one line with '%s', got: %s", needle, text);
    tock_free(text);
}

static void bad_flags(void **state)
{
    struct sa_fixture *f = *state;
    char cfg[SA_PATH_MAX], bad[SA_PATH_MAX];
    const char *root = sa_root_flag();
    struct stat st;

    write_handlers(f, "true", cfg, sizeof cfg);
    sa_path(f, "bad.json", bad, sizeof bad);
    sa_write(bad, "{\"handler\": {\"x\": {\"argv\": [\"/bin/true\"]}}}");
    {
        const char *a[] = {"--config", cfg, root, NULL};
        expect_usage(f, a, "no store");
    }
    {
        const char *a[] = {"--store", f->url, root, NULL};
        expect_usage(f, a, "no handlers");
    }
    {
        const char *a[] = {"--store", f->url, "--config", bad, root, NULL};
        expect_usage(f, a, "'handler'");
    }
    {
        const char *a[] = {"--store", f->url, "--config", cfg,
                           "--concurrency", "0", root, NULL};
        expect_usage(f, a, "concurrency");
    }
    {
        const char *a[] = {"--store", f->url, "--config", cfg,
                           "--concurrency", "257", root, NULL};
        expect_usage(f, a, "concurrency");
    }
    {
        const char *a[] = {"--store", f->url, "--config", cfg,
                           "--concurrency", NULL};
        expect_usage(f, a, "concurrency");
    }
    {
        const char *a[] = {"--store", f->url, "--config", cfg, "--lease",
                           "50ms", root, NULL};
        expect_usage(f, a, "lease");
    }
    {
        const char *a[] = {"--store", f->url, "--config", cfg, "--queues",
                           "a,,b", root, NULL};
        expect_usage(f, a, "queue");
    }
    {
        const char *a[] = {"--store", f->url, "--config", cfg, "--queues",
                           "a,a", root, NULL};
        expect_usage(f, a, "twice");
    }
    {
        const char *a[] = {"--store", f->url, "--config", cfg, "--worker-id",
                           "host:1", root, NULL};
        expect_usage(f, a, "worker-id");
    }
    {
        const char *a[] = {"--store", f->url, "--handler", "x=no-such-cmd-x",
                           root, NULL};
        expect_usage(f, a, "no-such-cmd-x");
    }
    {
        const char *a[] = {"--store", f->url, "--config", cfg, "--bogus",
                           root, NULL};
        expect_usage(f, a, "bogus");
    }
    {
        const char *a[] = {"--store", "bogus:x", "--config", cfg, root, NULL};
        expect_usage(f, a, "bogus");
    }
    if (geteuid() == 0) {
        const char *a[] = {"--store", f->url, "--config", cfg, NULL};
        expect_usage(f, a, "--allow-root");
    }
    assert_int_equal(stat(f->db, &st), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(poison_tasks_are_acknowledged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sigterm_hands_back_unfinished, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(scheduler_and_worker_processes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_flags, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
