/* test_loop_fixture.h: what the firing-loop tests share: a real SQLite
 * store in a temp dir (the loop's connection and "another process's"), a
 * libuv loop, captured log lines, jobs, and a run() that starts the loop,
 * runs an action, stops and closes it, and checks uv_loop_close() == 0.
 *
 * Included by tests/unit/test_loop*.c only (static inline, so a test that
 * uses part of it does not warn).
 */
#ifndef TOCK_TEST_LOOP_FIXTURE_H
#define TOCK_TEST_LOOP_FIXTURE_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "core/alloc.h"
#include "scheduler/loop_internal.h"
#include "scheduler/tz.h"
#include "store/store.h"
#include "support.h"

/* ---------------------------------------------------------------- fixture */

/* Time bounds are for a plain build; under valgrind everything is about 20
 * times slower, so the bounds that measure speed (not correctness) widen. */
#define SLOW (RUNNING_ON_VALGRIND ? 20 : 1)

struct fx {
    char *dir;
    char path[512], url[600];
    struct tock_store *s;      /* the loop's store */
    struct tock_store *other;  /* "another process": the CLI's connection */
    struct tock_log *log;
    uv_loop_t uv;
    uv_timer_t t_action, t_stop;
    struct tock_loop *loop;
    struct tock_loop_config cfg;
    struct tock_error err;
    char lines[64 * 1024];     /* captured log lines */
    size_t fired;              /* outcome callbacks */
    bool closed, stopped;
    int stop_status;
    void (*action)(struct fx *f); /* run by t_action */
    struct tock_loop_stats stats; /* at stop */
};

static inline int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sink(void *data, enum tock_log_level level,
                        const char *line)
{
    struct fx *f = data;
    size_t n = strlen(f->lines);

    (void)level;
    snprintf(f->lines + n, sizeof f->lines - n, "%s\n", line);
}

static inline void on_outcome(void *data, const struct tock_loop_outcome *o)
{
    struct fx *f = data;

    if (strcmp(o->what, "fired") == 0)
        f->fired++;
}

static inline struct fx *fx_new(int64_t busy_timeout_ms)
{
    struct tock_store_tuning tuning = {.busy_timeout_ms = busy_timeout_ms};
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->dir = tock_test_tmpdir("loop");
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/tock.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    f->log = tock_log_new(2, TOCK_LOG_DEBUG, TOCK_LOG_HUMAN);
    tock_log_set_sink(f->log, sink, f);
    assert_tock_ok(tock_store_open_tuned(f->url, &tuning, NULL, &f->s,
                                         &f->err), &f->err);
    assert_tock_ok(tock_store_open(f->url, NULL, &f->other, &f->err),
                   &f->err);
    assert_int_equal(uv_loop_init(&f->uv), 0);
    uv_timer_init(&f->uv, &f->t_action);
    uv_timer_init(&f->uv, &f->t_stop);
    f->t_action.data = f->t_stop.data = f;
    f->cfg.watch_path = f->path;
    f->cfg.task_reclaim_ms = -1;
    f->cfg.on_outcome = on_outcome;
    f->cfg.outcome_data = f;
    return f;
}

static inline void fx_free(struct fx *f)
{
    tock_store_close(f->s);
    tock_store_close(f->other);
    tock_log_free(f->log);
    tock_test_rmtree(f->dir);
    free(f);
}

/* add_job adds job `id` every `period_ms` with its first occurrence at
 * `first_ms` (the anchor), through the other connection. With `catch_up`
 * every occurrence is dispatched however late (no coalesce, unlimited
 * grace), so a slow start (valgrind) shows as lateness, not as gaps. */
static inline void add_job(struct fx *f, const char *id, int64_t period_ms,
                           int64_t first_ms, int64_t jitter_ms,
                           bool catch_up)
{
    char trig[128], at[64];
    struct tock_job j;
    enum tock_put_outcome o;

    tock_time_format(first_ms, NULL, at, sizeof at);
    snprintf(trig, sizeof trig, "interval:%" PRId64 "ms@%s", period_ms, at);
    assert_int_equal(tock_job_init_defaults(&j), 0);
    j.id = tock_strdup(id);
    j.handler = tock_strdup("h");
    j.trigger = tock_strdup(trig);
    j.max_instances = TOCK_MAX_INSTANCES_MAX;
    j.jitter_ms = jitter_ms;
    if (catch_up) {
        j.coalesce = false;
        j.misfire_grace_ms = -1;
    }
    assert_tock_ok(tock_store_job_put(f->other, &j, first_ms, TOCK_PUT_CREATE,
                                      0, &o, NULL, &f->err), &f->err);
    tock_job_clear(&j);
}

static inline void on_closed(void *data)
{
    ((struct fx *)data)->closed = true;
}

static inline void on_stopped(struct tock_loop *loop, int status,
                              void *data)
{
    struct fx *f = data;

    f->stopped = true;
    f->stop_status = status;
    tock_loop_stats(loop, &f->stats);
    tock_loop_close(loop, on_closed, f);
}

static inline void on_stop_timer(uv_timer_t *h)
{
    struct fx *f = h->data;

    assert_int_equal(tock_loop_stop(f->loop, on_stopped, f), 0);
    /* A second stop is refused and its callback never runs. */
    assert_int_equal(tock_loop_stop(f->loop, on_stopped, f), TOCK_EINVAL);
    uv_close((uv_handle_t *)&f->t_action, NULL);
    uv_close((uv_handle_t *)&f->t_stop, NULL);
}

static inline void on_action_timer(uv_timer_t *h)
{
    struct fx *f = h->data;

    f->action(f);
}

/* run starts the loop, runs `action` after action_ms (if set), stops after
 * stop_ms, and checks that every handle was closed. */
static inline void run(struct fx *f, uint64_t action_ms, uint64_t stop_ms)
{
    assert_tock_ok(tock_loop_new(&f->uv, f->s, f->log, &f->cfg, &f->loop,
                                 &f->err), &f->err);
    assert_tock_ok(tock_loop_start(f->loop, &f->err), &f->err);
    if (f->action != NULL)
        uv_timer_start(&f->t_action, on_action_timer, action_ms, 0);
    uv_timer_start(&f->t_stop, on_stop_timer, stop_ms, 0);
    uv_run(&f->uv, UV_RUN_DEFAULT);
    assert_true(f->stopped);
    assert_true(f->closed);
    assert_int_equal(uv_loop_close(&f->uv), 0);
}

/* runs_of loads the runs of `job`, oldest first. */
static inline size_t runs_of(struct fx *f, const char *job,
                             struct tock_run **out)
{
    struct tock_run *r = NULL;
    size_t n = 0, i;

    assert_tock_ok(tock_store_runs(f->other, job, 1000, &r, &n, &f->err),
                   &f->err);
    for (i = 0; i < n / 2; i++) { /* newest first -> oldest first */
        struct tock_run tmp = r[i];

        r[i] = r[n - 1 - i];
        r[n - 1 - i] = tmp;
    }
    *out = r;
    return n;
}

#endif /* TOCK_TEST_LOOP_FIXTURE_H */
