/* test_libtock_fixture.h: what the libtock tests share: a temp directory
 * with real SQLite files, a listener that records every event, job
 * functions that count, fail, or run slowly (cooperatively or not), and a
 * wait-until helper so tests wait for what they check, never a fixed time.
 *
 * Included by tests/unit/test_libtock*.c only (static inline throughout).
 */
#ifndef TOCK_TEST_LIBTOCK_FIXTURE_H
#define TOCK_TEST_LIBTOCK_FIXTURE_H

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "support.h"
#include "tock/tock.h"

/* Bounds that measure speed widen under valgrind (about 20 times slower);
 * bounds that check correctness do not. */
#define SLOW (RUNNING_ON_VALGRIND ? 20 : 1)

static inline int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* wait_until polls pred(arg) every 5 ms for up to ms * SLOW; returns its
 * last answer. */
static inline bool wait_until(bool (*pred)(void *), void *arg, int64_t ms)
{
    int64_t end = mono_ms() + ms * SLOW;

    while (!pred(arg)) {
        if (mono_ms() > end)
            return pred(arg);
        sleep_ms(5);
    }
    return true;
}

/* ------------------------------------------------------------- recorder */

struct ev {
    enum tock_sched_event_type type;
    char job[130];
    char occ[160];        /* "" when NULL */
    int64_t sched;
    size_t count;
    char reason[512];
    char status[16];
    int attempt;
    pthread_t thread;
};

struct rec {
    pthread_mutex_t mu;
    struct ev v[4096];
    size_t n;
    size_t calls;         /* listener calls, also beyond v */
    int concurrent, max_concurrent;
};

static inline struct rec *rec_new(void)
{
    struct rec *r = calloc(1, sizeof *r);

    assert_non_null(r);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static inline void rec_free(struct rec *r)
{
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static inline void rec_listener(const struct tock_sched_event *e, void *data)
{
    struct rec *r = data;
    struct ev *x;

    pthread_mutex_lock(&r->mu);
    r->calls++;
    if (++r->concurrent > r->max_concurrent)
        r->max_concurrent = r->concurrent;
    if (r->n < sizeof r->v / sizeof r->v[0]) {
        x = &r->v[r->n++];
        memset(x, 0, sizeof *x);
        x->type = e->type;
        snprintf(x->job, sizeof x->job, "%s", e->job ? e->job : "");
        snprintf(x->occ, sizeof x->occ, "%s",
                 e->occurrence ? e->occurrence : "");
        x->sched = e->scheduled_ms;
        x->count = e->count;
        snprintf(x->reason, sizeof x->reason, "%s",
                 e->reason ? e->reason : "");
        snprintf(x->status, sizeof x->status, "%s",
                 e->status ? e->status : "");
        x->attempt = e->attempt;
        x->thread = pthread_self();
    }
    r->concurrent--;
    pthread_mutex_unlock(&r->mu);
}

/* rec_count sums the counts of events of `type` (of `job`, NULL: any). */
static inline size_t rec_count(struct rec *r, enum tock_sched_event_type type,
                               const char *job)
{
    size_t i, n = 0;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++)
        if (r->v[i].type == type && (job == NULL || !strcmp(r->v[i].job, job)))
            n += r->v[i].count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* rec_find returns the index of the first event of `type` with occurrence
 * `occ`, or -1. */
static inline long rec_find(struct rec *r, enum tock_sched_event_type type,
                            const char *occ)
{
    long i, at = -1;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < (long)r->n && at < 0; i++)
        if (r->v[i].type == type && strcmp(r->v[i].occ, occ) == 0)
            at = i;
    pthread_mutex_unlock(&r->mu);
    return at;
}

struct rec_wait {
    struct rec *r;
    enum tock_sched_event_type type;
    const char *job;
    size_t want;
};

static inline bool rec_has(void *arg)
{
    struct rec_wait *w = arg;

    return rec_count(w->r, w->type, w->job) >= w->want;
}

/* wait_events waits until `want` events of `type` of `job` arrived. */
static inline bool wait_events(struct rec *r, enum tock_sched_event_type type,
                               const char *job, size_t want, int64_t ms)
{
    struct rec_wait w = {r, type, job, want};

    return wait_until(rec_has, &w, ms);
}

/* ------------------------------------------------------------ functions */

/* struct calls: what a job function saw. */
struct calls {
    atomic_int n;          /* calls started */
    atomic_int done;       /* calls returned */
    atomic_int running, max_running;
    atomic_int cancel_seen; /* last nonzero tock_call_cancelled */
    int sleep_ms;          /* slow functions: how long */
    bool cooperative;      /* slow functions: stop when cancelled */
    char last_args[256];
    char last_occ[160];
};

static inline void calls_enter(struct calls *c)
{
    int now = atomic_fetch_add(&c->running, 1) + 1;
    int max = atomic_load(&c->max_running);

    while (now > max && !atomic_compare_exchange_weak(&c->max_running, &max,
                                                      now))
        ;
    atomic_fetch_add(&c->n, 1);
}

static inline void calls_leave(struct calls *c)
{
    atomic_fetch_sub(&c->running, 1);
    atomic_fetch_add(&c->done, 1);
}

static inline int fn_count(struct tock_call *call, void *data)
{
    struct calls *c = data;
    const char *args = tock_call_args_json(call);

    static pthread_mutex_t last_mu = PTHREAD_MUTEX_INITIALIZER;

    calls_enter(c);
    pthread_mutex_lock(&last_mu); /* several job threads run this at once */
    snprintf(c->last_args, sizeof c->last_args, "%s", args ? args : "?");
    snprintf(c->last_occ, sizeof c->last_occ, "%s",
             tock_call_occurrence(call));
    pthread_mutex_unlock(&last_mu);
    tock_call_print(call, "ran %s", tock_call_occurrence(call));
    calls_leave(c);
    return 0;
}

static inline int fn_fail(struct tock_call *call, void *data)
{
    struct calls *c = data;
    int rc;

    calls_enter(c);
    rc = tock_call_error(call, "disk %s\n(line two)", "full");
    calls_leave(c);
    return rc;
}

static inline int fn_slow(struct tock_call *call, void *data)
{
    struct calls *c = data;
    int64_t end = mono_ms() + c->sleep_ms + 1; /* +1: mono_ms truncates */
    int why = 0;

    calls_enter(c);
    while (mono_ms() < end) {
        why = tock_call_cancelled(call);
        if (why != 0) {
            atomic_store(&c->cancel_seen, why);
            if (c->cooperative)
                break;
        }
        sleep_ms(5);
    }
    calls_leave(c);
    return why != 0 && c->cooperative ? 1 : 0;
}

struct calls_wait {
    struct calls *c;
    int want;
};

static inline bool calls_reached(void *arg)
{
    struct calls_wait *w = arg;

    return atomic_load(&w->c->done) >= w->want;
}

static inline bool calls_started(void *arg)
{
    struct calls_wait *w = arg;

    return atomic_load(&w->c->n) >= w->want;
}

static inline bool wait_calls(struct calls *c, int want, int64_t ms)
{
    struct calls_wait w = {c, want};

    return wait_until(calls_reached, &w, ms);
}

static inline bool wait_started(struct calls *c, int want, int64_t ms)
{
    struct calls_wait w = {c, want};

    return wait_until(calls_started, &w, ms);
}

/* ------------------------------------------------------------- helpers */

/* new_sched creates a scheduler on `url` with the recorder (may be NULL)
 * and `threads`, failing the test with the message on error. */
static inline struct tock_scheduler *new_sched(const char *url,
                                               struct rec *r, size_t threads)
{
    struct tock_scheduler_config cfg = {
        .threads = threads,
        .listener = r ? rec_listener : NULL,
        .listener_data = r,
        .poll_ms = 200,
    };
    struct tock_error err = {0};
    struct tock_scheduler *s = NULL;
    static struct tock_log *debug_log;

    /* TOCK_TEST_LOG=1 shows the schedulers' log lines (debugging). */
    if (getenv("TOCK_TEST_LOG") != NULL && debug_log == NULL)
        debug_log = tock_log_new(2, TOCK_LOG_DEBUG, TOCK_LOG_HUMAN);
    cfg.log = debug_log;
    assert_tock_ok(tock_scheduler_new(url, &cfg, &s, &err), &err);
    assert_non_null(s);
    return s;
}

static inline void reg(struct tock_scheduler *s, const char *name,
                       tock_job_fn fn, void *data)
{
    struct tock_error err = {0};

    assert_tock_ok(tock_scheduler_register(s, name, fn, data, &err), &err);
}

static inline void add(struct tock_scheduler *s, const struct tock_jobdef *d)
{
    struct tock_error err = {0};

    assert_tock_ok(tock_scheduler_add_job(s, d, &err), &err);
}

static inline void start(struct tock_scheduler *s)
{
    struct tock_error err = {0};

    assert_tock_ok(tock_scheduler_start(s, &err), &err);
}

/* db_url makes "sqlite:<dir>/<name>" in buf. */
static inline const char *db_url(char *buf, size_t cap, const char *dir,
                                 const char *name)
{
    snprintf(buf, cap, "sqlite:%s/%s", dir, name);
    return buf;
}

/* runs_of returns the runs of `job` (newest first) in a new list. */
static inline size_t runs_of(struct tock_scheduler *s, const char *job,
                             struct tock_runinfo **out)
{
    struct tock_error err = {0};
    size_t n = 0;

    assert_tock_ok(tock_scheduler_runs(s, job, 100000, out, &n, &err), &err);
    return n;
}

/* count_status counts runs of `job` with `status`. */
static inline size_t count_status(struct tock_scheduler *s, const char *job,
                                  const char *status)
{
    struct tock_runinfo *r = NULL;
    size_t n = runs_of(s, job, &r), i, k = 0;

    for (i = 0; i < n; i++)
        k += strcmp(r[i].status, status) == 0;
    tock_runinfo_list_free(r, n);
    return k;
}

/* assert_no_duplicates checks that every run of `job` has its own
 * occurrence (exactly-once firing: one record per occurrence). */
static inline void assert_no_duplicates(struct tock_scheduler *s,
                                        const char *job)
{
    struct tock_runinfo *r = NULL;
    size_t n = runs_of(s, job, &r), i;

    for (i = 1; i < n; i++) {
        assert_true(r[i].scheduled_ms < r[i - 1].scheduled_ms);
        assert_string_not_equal(r[i].occurrence, r[i - 1].occurrence);
    }
    tock_runinfo_list_free(r, n);
}

#endif /* TOCK_TEST_LIBTOCK_FIXTURE_H */
