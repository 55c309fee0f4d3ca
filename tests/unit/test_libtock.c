/* test_libtock.c: the embedded scheduler's API (include/tock/tock.h) on
 * real SQLite files: bad input gets specific errors and messages; jobs are
 * added, read, listed, replaced, paused, resumed, run and removed; a job
 * fires its registered function with its arguments and the listener hears
 * it; a failing function, an unregistered one, a slow one past its
 * timeout (cooperative or not) are recorded as such; attached to a
 * caller's libuv loop, it fires there and closes cleanly.
 * Threads and shutdown: test_libtock_threads.c; restarts and misfires:
 * test_libtock_restart.c. */
#include <sys/stat.h>

#include <sqlite3.h>
#include <uv.h>

#include "scheduler/embed.h"
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
    f->dir = tock_test_tmpdir("libtock");
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

/* ------------------------------------------------------------ bad input */

static void expect_new_fails(const char *url,
                             const struct tock_scheduler_config *cfg,
                             int code, const char *needle)
{
    struct tock_error err = {0};
    struct tock_scheduler *s = (struct tock_scheduler *)&err; /* not NULL */

    assert_int_equal(tock_scheduler_new(url, cfg, &s, &err), code);
    assert_null(s);
    assert_int_equal(err.code, code);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_new_bad_input(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler_config many = {.threads = 100000};
    struct tock_scheduler_config lease = {.claim_lease_ms = 5};
    struct tock_scheduler_config node = {.node_id = "no spaces"};
    struct tock_scheduler_config queue = {.queue = "a:b"};
    char dir_url[600];

    expect_new_fails(NULL, NULL, TOCK_EINVAL, "store URL is empty");
    expect_new_fails("", NULL, TOCK_EINVAL, "sqlite:PATH");
    expect_new_fails("memory:x", NULL, TOCK_EINVAL, "memory: alone");
    expect_new_fails("ftp://x", NULL, TOCK_EINVAL, "ftp");
    expect_new_fails(f->url, &many, TOCK_ERANGE, "threads");
    expect_new_fails(f->url, &lease, TOCK_ERANGE, "claim_lease_ms");
    expect_new_fails(f->url, &node, TOCK_EINVAL, "node_id");
    expect_new_fails(f->url, &queue, TOCK_EINVAL, "queue");
    /* A directory is not a store file. */
    db_url(dir_url, sizeof dir_url, f->dir, "");
    {
        struct tock_error err = {0};
        struct tock_scheduler *s = NULL;

        assert_true(tock_scheduler_new(dir_url, NULL, &s, &err) < 0);
        assert_null(s);
        assert_true(err.msg[0] != '\0');
    }
}

/* Until the Redis backend exists, a redis:// URL gets the store's own
 * error, with a message, and nothing is left behind. */
static void test_redis_url_is_the_stores_error(void **state)
{
    struct tock_error err = {0};
    struct tock_scheduler *s = NULL;
    int rc = tock_scheduler_new("redis://127.0.0.1:1", NULL, &s, &err);

    (void)state;
    assert_true(rc < 0);
    assert_null(s);
    assert_int_equal(err.code, rc);
    assert_true(strlen(err.msg) > 10);
    print_message("redis:// today: %s (%s)\n", err.msg, tock_err_name(rc));
}

static void expect_add_fails(struct tock_scheduler *s,
                             const struct tock_jobdef *d, int code,
                             const char *needle)
{
    struct tock_error err = {0};

    assert_int_equal(tock_scheduler_add_job(s, d, &err), code);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_job_bad_input(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, NULL, 1);
    struct tock_jobinfo info;
    struct tock_error err = {0};
    size_t n = 99;
    struct tock_jobinfo *list = NULL;

    expect_add_fails(s, &(struct tock_jobdef){.trigger = "interval:1s",
                                              .function = "f"},
                     TOCK_EMISSING, "id is missing");
    expect_add_fails(s, &(struct tock_jobdef){.id = "a", .function = "f"},
                     TOCK_EMISSING, "trigger is missing");
    expect_add_fails(s, &(struct tock_jobdef){.id = "a",
                                              .trigger = "interval:1s"},
                     TOCK_EMISSING, "function is missing");
    expect_add_fails(s, &(struct tock_jobdef){.id = "a b",
                                              .trigger = "interval:1s",
                                              .function = "f"},
                     TOCK_EINVAL, "job id");
    expect_add_fails(s, &(struct tock_jobdef){.id = "a",
                                              .trigger = "every:1s",
                                              .function = "f"},
                     TOCK_EINVAL, "trigger");
    expect_add_fails(s, &(struct tock_jobdef){.id = "a",
                                              .trigger = "cron:0 3 * * *@Mars/Base",
                                              .function = "f"},
                     TOCK_ENOENT, "Mars/Base");
    expect_add_fails(s, &(struct tock_jobdef){.id = "a",
                                              .trigger = "interval:1s",
                                              .function = "f",
                                              .args_json = "{\"k\": }"},
                     TOCK_EFORMAT, "args_json");
    expect_add_fails(s, &(struct tock_jobdef){.id = "a",
                                              .trigger = "interval:1s",
                                              .function = "f",
                                              .misfire_grace_ms = -5},
                     TOCK_ERANGE, "misfire_grace_ms");
    expect_add_fails(s, &(struct tock_jobdef){.id = "a",
                                              .trigger = "interval:1s",
                                              .function = "f",
                                              .max_instances = -1},
                     TOCK_ERANGE, "max_instances");
    expect_add_fails(s, NULL, TOCK_EINVAL, "NULL");
    /* Nothing was written by any of them. */
    assert_tock_ok(tock_scheduler_list_jobs(s, &list, &n, &err), &err);
    assert_int_equal(n, 0);
    tock_jobinfo_list_free(list, n);

    add(s, &(struct tock_jobdef){.id = "a", .trigger = "interval:1s",
                                 .function = "f"});
    expect_add_fails(s, &(struct tock_jobdef){.id = "a",
                                              .trigger = "interval:2s",
                                              .function = "f"},
                     TOCK_EEXIST, "replace_job");
    assert_int_equal(tock_scheduler_get_job(s, "zz", &info, &err),
                     TOCK_ENOENT);
    assert_non_null(strstr(err.msg, "zz"));
    assert_int_equal(tock_scheduler_remove_job(s, "zz", &err), TOCK_ENOENT);
    assert_int_equal(tock_scheduler_pause_job(s, "zz", &err), TOCK_ENOENT);
    assert_int_equal(tock_scheduler_resume_job(s, "zz", &err), TOCK_ENOENT);
    assert_int_equal(tock_scheduler_run_job(s, "zz", NULL, &err),
                     TOCK_ENOENT);
    assert_int_equal(tock_scheduler_remove_job(s, "../x", &err), TOCK_EINVAL);
    assert_int_equal(tock_scheduler_register(s, "f", fn_count, NULL, &err),
                     0);
    assert_int_equal(tock_scheduler_register(s, "f", fn_count, NULL, &err),
                     TOCK_EEXIST);
    assert_int_equal(tock_scheduler_register(s, "bad name", fn_count, NULL,
                                             &err),
                     TOCK_EINVAL);
    assert_int_equal(tock_scheduler_register(s, "g", NULL, NULL, &err),
                     TOCK_EINVAL);
    assert_int_equal(tock_scheduler_replace_job_json(s, "{\"id\": \"j\", "
                                                     "\"trigger\": "
                                                     "\"interval:1s\", "
                                                     "\"handler\": \"f\", "
                                                     "\"colaesce\": true}",
                                                     &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "colaesce"));
    assert_int_equal(tock_scheduler_replace_job_json(s, "{\"id\": ", &err),
                     TOCK_EFORMAT);
    tock_scheduler_free(s);
}

/* -------------------------------------------------------------- the jobs */

static void test_jobs_crud(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, NULL, 1);
    struct tock_jobinfo info, *list = NULL;
    struct tock_error err = {0};
    size_t n = 0;

    add(s, &(struct tock_jobdef){
               .id = "b", .trigger = "cron:0 3 * * *@UTC", .function = "f",
               .args_json = "{\"k\": [1, 2]}", .name = "nightly",
               .timeout_ms = 5000, .retries = 2, .retry_backoff_ms = 100});
    add(s, &(struct tock_jobdef){.id = "a", .trigger = "interval:90s",
                                 .function = "g", .no_coalesce = 1,
                                 .misfire_grace_ms = TOCK_GRACE_UNLIMITED,
                                 .max_instances = 3, .paused = 1});
    assert_tock_ok(tock_scheduler_get_job(s, "b", &info, &err), &err);
    assert_string_equal(info.def.trigger, "cron:0 3 * * *"); /* canonical */
    assert_string_equal(info.def.function, "f");
    assert_string_equal(info.def.args_json, "{\"k\":[1,2]}");
    assert_string_equal(info.def.name, "nightly");
    assert_string_equal(info.def.queue, "default");
    assert_int_equal(info.def.misfire_grace_ms, 60000); /* default */
    assert_int_equal(info.def.max_instances, 1);
    assert_int_equal(info.def.max_deliveries, 3);
    assert_int_equal(info.def.no_coalesce, 0);
    assert_int_equal(info.def.retries, 2);
    assert_int_equal(info.version, 1);
    assert_true(info.next_fire_ms > now_ms());
    assert_int_equal(info.next_fire_ms % 86400000, 3 * 3600000);
    assert_int_equal(info.last_scheduled_ms, -1);
    tock_jobinfo_clear(&info);
    tock_jobinfo_clear(&info); /* twice is fine */

    assert_tock_ok(tock_scheduler_list_jobs(s, &list, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].def.id, "a"); /* by id */
    assert_null(list[0].def.args_json);
    assert_int_equal(list[0].def.paused, 1);
    assert_int_equal(list[0].def.no_coalesce, 1);
    assert_int_equal(list[0].def.misfire_grace_ms, TOCK_GRACE_UNLIMITED);
    assert_int_equal(list[0].def.max_instances, 3);
    tock_jobinfo_list_free(list, n);

    /* Replace: the same definition changes nothing, another bumps it. */
    assert_tock_ok(tock_scheduler_replace_job(
                       s, &(struct tock_jobdef){.id = "a",
                                                .trigger = "interval:90s",
                                                .function = "g",
                                                .no_coalesce = 1,
                                                .misfire_grace_ms = -1,
                                                .max_instances = 3},
                       &err),
                   &err);
    assert_tock_ok(tock_scheduler_get_job(s, "a", &info, &err), &err);
    assert_int_equal(info.version, 1);
    assert_int_equal(info.def.paused, 1); /* kept: the def did not say */
    tock_jobinfo_clear(&info);
    assert_tock_ok(tock_scheduler_replace_job_json(
                       s, "{\"id\": \"a\", \"trigger\": \"interval:2m\", "
                          "\"handler\": \"g\", \"misfire_grace\": \"5s\"}",
                       &err),
                   &err);
    assert_tock_ok(tock_scheduler_get_job(s, "a", &info, &err), &err);
    assert_int_equal(info.version, 2);
    assert_string_equal(info.def.trigger, "interval:2m");
    assert_int_equal(info.def.misfire_grace_ms, 5000);
    assert_int_equal(info.def.paused, 1);
    tock_jobinfo_clear(&info);

    assert_tock_ok(tock_scheduler_resume_job(s, "a", &err), &err);
    assert_tock_ok(tock_scheduler_get_job(s, "a", &info, &err), &err);
    assert_int_equal(info.def.paused, 0);
    assert_true(info.next_fire_ms > now_ms() + 100000);
    tock_jobinfo_clear(&info);
    assert_tock_ok(tock_scheduler_pause_job(s, "a", &err), &err);
    assert_tock_ok(tock_scheduler_pause_job(s, "a", &err), &err);
    assert_tock_ok(tock_scheduler_remove_job(s, "a", &err), &err);
    assert_int_equal(tock_scheduler_get_job(s, "a", &info, &err),
                     TOCK_ENOENT);
    tock_scheduler_free(s);
}

/* ---------------------------------------------------------------- firing */

static void test_fires_function_with_args(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, f->rec, 2);
    struct tock_runinfo *r = NULL;
    size_t n, i, ok = 0;
    long at;

    reg(s, "count", fn_count, &f->calls);
    add(s, &(struct tock_jobdef){.id = "tick", .trigger = "interval:100ms",
                                 .function = "count",
                                 .args_json = "{\"table\": \"stats\"}"});
    start(s);
    assert_true(wait_events(f->rec, TOCK_SCHED_SUCCEEDED, "tick", 3, 3000));
    tock_scheduler_free(s);

    assert_string_equal(f->calls.last_args, "{\"table\":\"stats\"}");
    /* Every fire was run once and heard of in order: fired, then
     * succeeded, each on the event thread. */
    at = rec_find(f->rec, TOCK_SCHED_FIRED, f->calls.last_occ);
    assert_true(at >= 0);
    assert_true(rec_find(f->rec, TOCK_SCHED_SUCCEEDED, f->calls.last_occ) >
                at);
    assert_int_equal(f->rec->max_concurrent, 1);
    for (i = 1; i < f->rec->n; i++)
        assert_true(pthread_equal(f->rec->v[i].thread, f->rec->v[0].thread));
    for (i = 0; i < f->rec->n; i++)
        assert_int_not_equal(pthread_equal(f->rec->v[i].thread,
                                           pthread_self()), 1);
    s = new_sched(f->url, NULL, 1);
    n = runs_of(s, "tick", &r);
    for (i = 0; i < n; i++) {
        if (strcmp(r[i].status, "ok") != 0)
            continue;
        ok++;
        assert_non_null(r[i].output);
        assert_true(strncmp(r[i].output, "ran tick@", 9) == 0);
        assert_non_null(r[i].worker);
        assert_int_equal(r[i].exit_code, 0);
    }
    assert_int_equal(ok, (size_t)atomic_load(&f->calls.done));
    assert_int_equal(rec_count(f->rec, TOCK_SCHED_SUCCEEDED, "tick"), ok);
    tock_runinfo_list_free(r, n);
    assert_no_duplicates(s, "tick");
    tock_scheduler_free(s);
}

static void test_failing_function(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, f->rec, 1);
    struct tock_runinfo *r = NULL;
    size_t n;
    long at;

    reg(s, "fail", fn_fail, &f->calls);
    add(s, &(struct tock_jobdef){.id = "bad", .trigger = "interval:100ms",
                                 .function = "fail"});
    start(s);
    assert_true(wait_events(f->rec, TOCK_SCHED_FAILED, "bad", 2, 3000));
    tock_scheduler_free(s);
    at = rec_find(f->rec, TOCK_SCHED_FAILED, f->rec->v[1].occ);
    if (at < 0)
        at = rec_find(f->rec, TOCK_SCHED_FAILED, f->rec->v[0].occ);
    assert_true(at >= 0);
    assert_string_equal(f->rec->v[at].status, "error");
    assert_string_equal(f->rec->v[at].reason, "disk full\\n(line two)");

    s = new_sched(f->url, NULL, 1);
    n = runs_of(s, "bad", &r);
    assert_true(n >= 2);
    assert_string_equal(r[n - 1].status, "error");
    assert_int_equal(r[n - 1].exit_code, 1);
    assert_string_equal(r[n - 1].error, "disk full\\n(line two)");
    tock_runinfo_list_free(r, n);
    tock_scheduler_free(s);
}

/* A job naming a function this program did not register: an error
 * result with a message that says so, the scheduler goes on. */
static void test_unregistered_function(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, f->rec, 1);
    struct tock_error err = {0};
    size_t i;

    reg(s, "count", fn_count, &f->calls);
    add(s, &(struct tock_jobdef){.id = "orphan", .trigger = "interval:100ms",
                                 .function = "nobody"});
    add(s, &(struct tock_jobdef){.id = "fine", .trigger = "interval:100ms",
                                 .function = "count"});
    start(s);
    assert_true(wait_events(f->rec, TOCK_SCHED_FAILED, "orphan", 2, 3000));
    assert_true(wait_events(f->rec, TOCK_SCHED_SUCCEEDED, "fine", 2, 3000));
    /* Registering it later makes the next occurrences run. */
    assert_tock_ok(tock_scheduler_register(s, "nobody", fn_count, &f->calls,
                                           &err),
                   &err);
    assert_true(wait_events(f->rec, TOCK_SCHED_SUCCEEDED, "orphan", 1, 3000));
    tock_scheduler_free(s);
    for (i = 0; i < f->rec->n; i++) {
        if (f->rec->v[i].type == TOCK_SCHED_FAILED) {
            assert_non_null(strstr(f->rec->v[i].reason,
                                   "function nobody is not registered"));
            break;
        }
    }
    assert_true(i < f->rec->n);
}

/* A slow function past its timeout: a cooperative one sees
 * TOCK_ETIMEDOUT and returns; one that ignores it runs to the end. Both
 * are recorded "timeout". */
static void test_timeouts(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, f->rec, 2);
    struct calls stubborn;
    struct tock_error err = {0};
    struct tock_runinfo *r = NULL;
    int64_t t0;
    size_t n;

    memset(&stubborn, 0, sizeof stubborn);
    f->calls.sleep_ms = 5000;
    f->calls.cooperative = true;
    stubborn.sleep_ms = 400;
    reg(s, "polite", fn_slow, &f->calls);
    reg(s, "stubborn", fn_slow, &stubborn);
    add(s, &(struct tock_jobdef){.id = "p", .trigger = "interval:1h",
                                 .function = "polite", .timeout_ms = 150});
    add(s, &(struct tock_jobdef){.id = "q", .trigger = "interval:1h",
                                 .function = "stubborn", .timeout_ms = 100});
    start(s);
    t0 = mono_ms();
    assert_tock_ok(tock_scheduler_run_job(s, "p", NULL, &err), &err);
    assert_tock_ok(tock_scheduler_run_job(s, "q", NULL, &err), &err);
    assert_true(wait_events(f->rec, TOCK_SCHED_FAILED, NULL, 2, 4000));
    assert_true(mono_ms() - t0 < 2000 * SLOW); /* not the 5 s it wanted */
    assert_int_equal(atomic_load(&f->calls.cancel_seen), TOCK_ETIMEDOUT);
    assert_int_equal(atomic_load(&stubborn.cancel_seen), TOCK_ETIMEDOUT);
    assert_int_equal(atomic_load(&stubborn.done), 1);
    n = runs_of(s, "q", &r);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].status, "timeout");
    /* It ran its 400 ms to the end (wall clock: a little slack). */
    assert_true(r[0].finished_ms - r[0].started_ms >= 395);
    assert_non_null(strstr(r[0].error, "past its timeout of 100 ms"));
    tock_runinfo_list_free(r, n);
    assert_int_equal(count_status(s, "p", "timeout"), 1);
    tock_scheduler_free(s);
}

/* run_job on a paused job runs it once; its schedule does not move. */
static void test_run_job_now(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, f->rec, 1);
    struct tock_error err = {0};
    struct tock_jobinfo before, after;
    int64_t sched = 0;
    char occ[160];

    reg(s, "count", fn_count, &f->calls);
    add(s, &(struct tock_jobdef){.id = "later", .trigger = "interval:1h",
                                 .function = "count", .paused = 1});
    assert_tock_ok(tock_scheduler_get_job(s, "later", &before, &err), &err);
    start(s);
    assert_tock_ok(tock_scheduler_run_job(s, "later", &sched, &err), &err);
    assert_true(wait_calls(&f->calls, 1, 3000));
    snprintf(occ, sizeof occ, "later@%" PRId64, sched);
    assert_string_equal(f->calls.last_occ, occ);
    assert_true(wait_events(f->rec, TOCK_SCHED_SUCCEEDED, "later", 1, 3000));
    assert_tock_ok(tock_scheduler_get_job(s, "later", &after, &err), &err);
    assert_int_equal(after.next_fire_ms, before.next_fire_ms);
    tock_jobinfo_clear(&before);
    tock_jobinfo_clear(&after);
    tock_scheduler_free(s);
    assert_int_equal(atomic_load(&f->calls.n), 1);
}

/* ------------------------------------------------------- store trouble */

/* Another process holds the store's write lock past the busy timeout
 * while a function runs: the result cannot be recorded at first; the
 * dispatcher keeps it and retries until the lock is gone. Nothing is
 * lost and nothing runs twice. */
static void test_result_survives_locked_store(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler_config cfg = {.threads = 1,
                                        .listener = rec_listener,
                                        .listener_data = f->rec,
                                        .busy_timeout_ms = 50};
    struct tock_scheduler *s = NULL;
    struct tock_scheduler_stats st;
    struct tock_error err = {0};
    sqlite3 *other = NULL;

    f->calls.sleep_ms = 200;
    assert_tock_ok(tock_scheduler_new(f->url, &cfg, &s, &err), &err);
    reg(s, "slow", fn_slow, &f->calls);
    add(s, &(struct tock_jobdef){.id = "j", .trigger = "interval:1h",
                                 .function = "slow"});
    start(s);
    assert_tock_ok(tock_scheduler_run_job(s, "j", NULL, &err), &err);
    assert_true(wait_started(&f->calls, 1, 3000));
    /* "Another process": a plain SQLite connection taking the lock. */
    assert_int_equal(sqlite3_open(f->url + 7, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 3000);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_true(wait_calls(&f->calls, 1, 3000));
    sleep_ms(700); /* several report attempts fail meanwhile */
    assert_int_equal(rec_count(f->rec, TOCK_SCHED_SUCCEEDED, "j"), 0);
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(other);
    assert_true(wait_events(f->rec, TOCK_SCHED_SUCCEEDED, "j", 1, 8000));
    tock_scheduler_stats(s, &st);
    assert_true(st.store_errors >= 1);
    assert_int_equal(st.succeeded, 1);
    assert_int_equal(count_status(s, "j", "ok"), 1);
    tock_scheduler_free(s);
    assert_int_equal(atomic_load(&f->calls.n), 1);
}

/* ---------------------------------------------------------------- memory */

static void test_memory_store(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched("memory:", f->rec, 1);
    struct tock_scheduler *t = new_sched("memory:", NULL, 1);
    struct tock_jobinfo *list = NULL;
    struct tock_error err = {0};
    struct stat st;
    size_t n = 9;
    char dir[600];

    reg(s, "count", fn_count, &f->calls);
    add(s, &(struct tock_jobdef){.id = "m", .trigger = "interval:100ms",
                                 .function = "count"});
    /* Two memory: stores are two stores. */
    assert_tock_ok(tock_scheduler_list_jobs(t, &list, &n, &err), &err);
    assert_int_equal(n, 0);
    tock_jobinfo_list_free(list, n);
    start(s);
    assert_true(wait_calls(&f->calls, 2, 3000));
    /* Its directory goes with it. */
    {
        struct tock_runinfo *r = NULL;
        size_t k = runs_of(s, "m", &r);

        assert_true(k >= 2);
        tock_runinfo_list_free(r, k);
    }
    snprintf(dir, sizeof dir, "%s", s->tmpdir);
    assert_int_equal(stat(dir, &st), 0);
    tock_scheduler_free(s);
    assert_int_equal(stat(dir, &st), -1);
    tock_scheduler_free(t);
}

/* ---------------------------------------------------------------- attach */

struct attach_fx {
    struct tock_scheduler *s;
    struct calls *calls;
    uv_timer_t t;
    int ticks;
};

static void on_check(uv_timer_t *t)
{
    struct attach_fx *a = t->data;
    struct tock_error err = {0};

    if (atomic_load(&a->calls->done) < 3 && ++a->ticks < 600 * SLOW)
        return;
    /* On the loop's own thread: shutdown must not wait for the loop. */
    assert_tock_ok(tock_scheduler_shutdown(a->s, TOCK_SHUTDOWN_WAIT, &err),
                   &err);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_attach_to_callers_loop(void **state)
{
    struct fx *f = *state;
    struct attach_fx a = {0};
    struct tock_error err = {0};
    uv_loop_t loop;

    assert_int_equal(uv_loop_init(&loop), 0);
    a.s = new_sched(f->url, f->rec, 1);
    a.calls = &f->calls;
    reg(a.s, "count", fn_count, &f->calls);
    add(a.s, &(struct tock_jobdef){.id = "att", .trigger = "interval:100ms",
                                   .function = "count"});
    assert_tock_ok(tock_scheduler_attach(a.s, &loop, &err), &err);
    assert_int_equal(tock_scheduler_start(a.s, &err), TOCK_EINVAL);
    assert_int_equal(tock_scheduler_attach(a.s, &loop, &err), TOCK_EINVAL);
    uv_timer_init(&loop, &a.t);
    a.t.data = &a;
    uv_timer_start(&a.t, on_check, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT); /* ends when the scheduler's handles
                                      have closed */
    assert_true(atomic_load(&f->calls.done) >= 3);
    tock_scheduler_free(a.s);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_true(rec_count(f->rec, TOCK_SCHED_FIRED, "att") >= 3);
}

/* Freed while attached without a shutdown: the handles close in the
 * loop's next turn, after the scheduler's memory is gone. */
static void test_attach_free_then_run(void **state)
{
    struct fx *f = *state;
    struct tock_scheduler *s = new_sched(f->url, NULL, 1);
    struct tock_error err = {0};
    uv_loop_t loop;

    assert_int_equal(uv_loop_init(&loop), 0);
    add(s, &(struct tock_jobdef){.id = "x", .trigger = "interval:50ms",
                                 .function = "none"});
    assert_tock_ok(tock_scheduler_attach(s, &loop, &err), &err);
    uv_run(&loop, UV_RUN_NOWAIT);
    tock_scheduler_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_url_is_the_stores_error,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fires_function_with_args, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failing_function, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unregistered_function, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_job_now, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_survives_locked_store,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_to_callers_loop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_attach_free_then_run, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
