/* test_decide.c: the claim -> commit decision (scheduler/decide.h) on
 * literal times: fire, miss past grace, unlimited grace, coalesce with a
 * backlog (and with a backlog partly past grace), catch-up without
 * coalesce, end bounds, finished triggers, backlogs over TOCK_MISSED_MAX,
 * jitter and its hold bound, a next_fire_ms moved behind the watermark,
 * the trigger cache, undecidable jobs, the task body and the commit. */
#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "scheduler/decide.h"
#include "scheduler/misfire.h"
#include "support.h"

/* 2026-01-01T00:00:00Z */
#define A 1767225600000LL
#define EVERY_1S "interval:1s@2026-01-01T00:00:00Z"
#define EVERY_10S "interval:10s@2026-01-01T00:00:00Z"
#define EVERY_1MS "interval:1ms@2026-01-01T00:00:00Z"

/* ---------------------------------------------------------------- helpers */

/* claim builds a claimed job "j" with `trigger`, claimed at sched_ms after
 * the watermark fired_ms. */
static void claim(struct tock_claimed *c, const char *trigger, int64_t sched_ms,
                  int64_t fired_ms)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(tock_job_init_defaults(&c->job), 0);
    c->job.id = tock_strdup("j");
    c->job.handler = tock_strdup("h");
    c->job.trigger = tock_strdup(trigger);
    c->job.version = 1;
    c->sched_ms = sched_ms;
    c->fired_ms = fired_ms;
    c->epoch = 7;
    strcpy(c->token, "n0nce:7");
}

static void decide_at(struct tock_decide_cache *cache, struct tock_claimed *c,
                      int64_t now, struct tock_decided *d)
{
    struct tock_decide_opts o = {.now_ms = now, .max_hold_ms = 5000,
                                 .random = 12345};

    tock_decide(cache, c, &o, d);
    if (d->action == TOCK_DECIDE_LAPSE)
        print_message("lapse: %s\n", d->err.msg);
}

static void assert_missed(const struct tock_decided *d, int64_t from,
                          int64_t step, size_t n, const char *reason)
{
    size_t i;

    assert_int_equal(d->n_missed, n);
    for (i = 0; i < n; i++)
        assert_int_equal(d->missed[i], from + (int64_t)i * step);
    if (n > 0)
        assert_string_equal(d->miss_reason, reason);
}

/* ------------------------------------------------------------ basic cases */

static void test_fire_on_time(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    struct tock_task task = {0};
    struct tock_error err = {0};
    const int64_t t = A + 5000;

    (void)state;
    claim(&c, EVERY_1S, t, t - 1000);
    decide_at(NULL, &c, t + 3, &d);
    assert_int_equal(d.action, TOCK_DECIDE_COMMIT);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, t);
    assert_int_equal(d.next_ms, t + 1000);
    assert_int_equal(d.n_missed, 0);
    assert_int_equal(d.late_ms, 3);
    assert_int_equal(d.fire_at_ms, t + 3);
    assert_non_null(d.task);
    assert_tock_ok(tock_proto_decode_task(d.task, d.task_len, NULL, &task,
                                          &err), &err);
    assert_string_equal(task.occ, "j@1767225605000");
    assert_string_equal(task.job, "j");
    assert_string_equal(task.handler, "h");
    assert_string_equal(task.queue, "default");
    assert_int_equal(task.sched_ms, t);
    assert_int_equal(task.fire_ms, t + 3);
    assert_int_equal(task.attempt, 1);
    assert_int_equal(task.max_deliveries, TOCK_DEFAULT_MAX_DELIVERIES);
    tock_task_clear(&task);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

static void test_miss_past_grace(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    const int64_t t = A + 10000;

    (void)state;
    claim(&c, EVERY_10S, t, -1);
    c.job.misfire_grace_ms = 1000;
    decide_at(NULL, &c, t + 1001, &d);
    assert_int_equal(d.action, TOCK_DECIDE_COMMIT);
    assert_int_equal(d.decision, TOCK_DECIDE_MISS);
    assert_int_equal(d.sched_ms, t);
    assert_int_equal(d.next_ms, t + 10000);
    assert_string_equal(d.miss_reason, TOCK_MISS_GRACE);
    assert_null(d.task);
    tock_decided_clear(&d);
    /* Exactly at the grace it still fires. */
    decide_at(NULL, &c, t + 1000, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

static void test_unlimited_grace(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    const int64_t t = A + 10000, day = 86400000;

    (void)state;
    claim(&c, "date:2026-01-01T00:00:10Z", t, -1);
    c.job.misfire_grace_ms = -1;
    decide_at(NULL, &c, t + 30 * day, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, t);
    assert_int_equal(d.next_ms, -1); /* a date fires once */
    assert_int_equal(d.late_ms, 30 * day);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

/* --------------------------------------------------------------- backlogs */

static void test_coalesce_backlog(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    const int64_t t = A + 1000;

    (void)state;
    claim(&c, EVERY_1S, t, t - 1000);
    decide_at(NULL, &c, t + 4500, &d); /* due: t .. t+4000 */
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, t + 4000);
    assert_missed(&d, t, 1000, 4, TOCK_MISS_COALESCED);
    assert_int_equal(d.next_ms, t + 5000);
    assert_non_null(d.task);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

static void test_coalesce_backlog_past_grace(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    const int64_t t = A + 1000, now = t + 4500;

    (void)state;
    claim(&c, EVERY_1S, t, -1);
    c.job.misfire_grace_ms = 2000;
    /* Round 1: t, t+1000, t+2000 are past grace: recorded missed first. */
    decide_at(NULL, &c, now, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_MISS);
    assert_int_equal(d.sched_ms, t + 2000);
    assert_missed(&d, t, 1000, 2, TOCK_MISS_GRACE);
    assert_string_equal(d.miss_reason, TOCK_MISS_GRACE);
    assert_int_equal(d.next_ms, t + 3000); /* due: claimed again at once */
    tock_decided_clear(&d);
    /* Round 2: the rest coalesce into the latest. */
    c.sched_ms = t + 3000;
    c.fired_ms = t + 2000;
    decide_at(NULL, &c, now, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, t + 4000);
    assert_missed(&d, t + 3000, 1000, 1, TOCK_MISS_COALESCED);
    assert_int_equal(d.next_ms, t + 5000);
    tock_decided_clear(&d);
    /* All past grace: the latest is the missed commit occurrence. */
    c.job.misfire_grace_ms = 100;
    c.sched_ms = t;
    c.fired_ms = -1;
    decide_at(NULL, &c, now, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_MISS);
    assert_int_equal(d.sched_ms, t + 4000);
    assert_missed(&d, t, 1000, 4, TOCK_MISS_GRACE);
    assert_int_equal(d.next_ms, t + 5000);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

static void test_no_coalesce_catch_up(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    const int64_t t = A + 1000, now = t + 4500;

    (void)state;
    claim(&c, EVERY_1S, t, -1);
    c.job.coalesce = false;
    /* Within grace: the oldest fires; the next is due already. */
    decide_at(NULL, &c, now, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, t);
    assert_int_equal(d.n_missed, 0);
    assert_int_equal(d.next_ms, t + 1000);
    tock_decided_clear(&d);
    /* Partly past grace: those are missed, the first in grace fires. */
    c.job.misfire_grace_ms = 2000;
    decide_at(NULL, &c, now, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, t + 3000);
    assert_missed(&d, t, 1000, 3, TOCK_MISS_GRACE);
    assert_int_equal(d.next_ms, t + 4000);
    tock_decided_clear(&d);
    /* All past grace. */
    c.job.misfire_grace_ms = 0;
    decide_at(NULL, &c, now, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_MISS);
    assert_int_equal(d.sched_ms, t + 4000);
    assert_missed(&d, t, 1000, 4, TOCK_MISS_GRACE);
    assert_int_equal(d.next_ms, t + 5000);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

static void test_more_than_missed_max(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    const int64_t t = A, now = A + 5000; /* 5001 occurrences due */

    (void)state;
    claim(&c, EVERY_1MS, t, -1);
    c.job.misfire_grace_ms = -1;
    /* Coalesce: the listed ones are not the latest due: all coalesced. */
    decide_at(NULL, &c, now, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_MISS);
    assert_int_equal(d.sched_ms, t + TOCK_MISSED_MAX);
    assert_missed(&d, t, 1, TOCK_MISSED_MAX, TOCK_MISS_COALESCED);
    assert_string_equal(d.miss_reason, TOCK_MISS_COALESCED);
    assert_int_equal(d.next_ms, t + TOCK_MISSED_MAX + 1);
    tock_decided_clear(&d);
    /* Past grace: the same, as misfire_grace. */
    c.job.misfire_grace_ms = 0;
    decide_at(NULL, &c, now, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_MISS);
    assert_missed(&d, t, 1, TOCK_MISSED_MAX, TOCK_MISS_GRACE);
    assert_int_equal(d.next_ms, t + TOCK_MISSED_MAX + 1);
    tock_decided_clear(&d);
    /* The last round of the backlog fires the latest. */
    c.job.misfire_grace_ms = -1;
    c.sched_ms = now - 10;
    c.fired_ms = now - 11;
    decide_at(NULL, &c, now, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, now);
    assert_missed(&d, now - 10, 1, 10, TOCK_MISS_COALESCED);
    assert_int_equal(d.next_ms, now + 1);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

/* ----------------------------------------------------------------- bounds */

static void test_end_bound(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    const int64_t t = A + 1000;

    (void)state;
    claim(&c, EVERY_1S, t, -1);
    c.job.end_ms = t + 2000;
    decide_at(NULL, &c, t, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.next_ms, t + 1000);
    tock_decided_clear(&d);
    /* The last occurrence within the bound: the job is finished after it. */
    c.sched_ms = t + 2000;
    decide_at(NULL, &c, t + 2000, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.next_ms, -1);
    tock_decided_clear(&d);
    /* A backlog that runs past the end: nothing after the bound is due. */
    c.sched_ms = t;
    decide_at(NULL, &c, t + 9000, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, t + 2000);
    assert_missed(&d, t, 1000, 2, TOCK_MISS_COALESCED);
    assert_int_equal(d.next_ms, -1);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

static void test_start_bound_and_finished(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;

    (void)state;
    /* A start bound in the future moves next past it. */
    claim(&c, EVERY_1S, A, -1);
    c.job.start_ms = A + 60000;
    decide_at(NULL, &c, A, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.next_ms, A + 60000);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
    /* A date fires once; a missed date is finished too. */
    claim(&c, "date:2026-01-01T00:00:00Z", A, -1);
    decide_at(NULL, &c, A + 120000, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_MISS);
    assert_int_equal(d.next_ms, -1);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

static void test_unanchored_interval(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    const int64_t t = A + 123;

    (void)state;
    claim(&c, "interval:250ms", t, -1);
    decide_at(NULL, &c, t + 600, &d);
    /* Anchored at the claimed time: t, t+250, t+500 due. */
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, t + 500);
    assert_missed(&d, t, 250, 2, TOCK_MISS_COALESCED);
    assert_int_equal(d.next_ms, t + 750);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

/* ------------------------------------------------------------------ jitter */

static void test_jitter(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    const int64_t t = A + 10000;
    struct tock_decide_opts o = {.now_ms = t, .max_hold_ms = 5000};
    int held = 0;
    uint64_t r;

    (void)state;
    claim(&c, EVERY_10S, t, -1);
    c.job.jitter_ms = 2000;
    for (r = 0; r < 64; r++) {
        o.random = r * 7919;
        tock_decide(NULL, &c, &o, &d);
        assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
        assert_int_equal(d.sched_ms, t); /* identity unchanged */
        assert_true(d.fire_at_ms >= t && d.fire_at_ms <= t + 2000);
        if (d.fire_at_ms > t) {
            struct tock_task task = {0};
            struct tock_error err = {0};

            held++;
            assert_int_equal(d.action, TOCK_DECIDE_HOLD);
            assert_tock_ok(tock_proto_decode_task(d.task, d.task_len, NULL,
                                                  &task, &err), &err);
            assert_int_equal(task.fire_ms, d.fire_at_ms);
            tock_task_clear(&task);
        }
        tock_decided_clear(&d);
    }
    assert_true(held > 32);
    /* The hold is bounded: never early, at most max_hold after now. */
    o.max_hold_ms = 100;
    o.random = 1999;
    tock_decide(NULL, &c, &o, &d);
    assert_int_equal(d.action, TOCK_DECIDE_HOLD);
    assert_int_equal(d.fire_at_ms, t + 100);
    tock_decided_clear(&d);
    /* No hold allowed at all: it goes now (found by fuzz_decide). */
    o.max_hold_ms = 0;
    tock_decide(NULL, &c, &o, &d);
    assert_int_equal(d.action, TOCK_DECIDE_COMMIT);
    assert_int_equal(d.fire_at_ms, t);
    tock_decided_clear(&d);
    /* Already later than the jittered time: fires at once. */
    o.now_ms = t + 2500;
    tock_decide(NULL, &c, &o, &d);
    assert_int_equal(d.action, TOCK_DECIDE_COMMIT);
    assert_int_equal(d.fire_at_ms, t + 2500);
    tock_decided_clear(&d);
    /* A miss is never held. */
    c.job.misfire_grace_ms = 0;
    o.now_ms = t + 1;
    tock_decide(NULL, &c, &o, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_MISS);
    assert_int_equal(d.action, TOCK_DECIDE_COMMIT);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

/* ------------------------------------------------------ watermark, errors */

static void test_next_before_watermark(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    struct tock_decide_opts o = {.max_hold_ms = 5000};

    (void)state;
    /* An edit put next_fire_ms at A+1000, but A+2000 was decided already. */
    claim(&c, EVERY_1S, A + 1000, A + 2000);
    o.now_ms = A + 3200;
    tock_decide(NULL, &c, &o, &d);
    assert_int_equal(d.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(d.sched_ms, A + 3000);
    assert_int_equal(d.n_missed, 0);
    tock_decided_clear(&d);
    /* Not due yet: held until its time, never fired early. */
    o.now_ms = A + 2500;
    tock_decide(NULL, &c, &o, &d);
    assert_int_equal(d.action, TOCK_DECIDE_HOLD);
    assert_int_equal(d.sched_ms, A + 3000);
    assert_int_equal(d.fire_at_ms, A + 3000);
    tock_decided_clear(&d);
    /* Too far away to hold: undecidable, the claim lapses. */
    o.max_hold_ms = 100;
    tock_decide(NULL, &c, &o, &d);
    assert_int_equal(d.action, TOCK_DECIDE_LAPSE);
    assert_int_equal(d.err.code, TOCK_ENOTIME);
    assert_null(d.task);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
}

static void test_bad_trigger_lapses_once(void **state)
{
    struct tock_decide_cache *cache = tock_decide_cache_new(0);
    struct tock_claimed c;
    struct tock_decided d;

    (void)state;
    assert_non_null(cache);
    claim(&c, "cron:61 * * * *", A, -1);
    decide_at(cache, &c, A, &d);
    assert_int_equal(d.action, TOCK_DECIDE_LAPSE);
    assert_true(d.first_error);
    assert_non_null(strstr(d.err.msg, "job 'j' trigger"));
    tock_decided_clear(&d);
    decide_at(cache, &c, A, &d);
    assert_int_equal(d.action, TOCK_DECIDE_LAPSE);
    assert_false(d.first_error); /* reported once per version */
    tock_decided_clear(&d);
    /* An edit (version 2) with a good trigger fires. */
    tock_free(c.job.trigger);
    c.job.trigger = tock_strdup(EVERY_1S);
    c.job.version = 2;
    decide_at(cache, &c, A, &d);
    assert_int_equal(d.action, TOCK_DECIDE_COMMIT);
    assert_int_equal(tock_decide_cache_size(cache), 1);
    tock_decided_clear(&d);
    /* A task that cannot be encoded (no handler) lapses too. */
    tock_free(c.job.handler);
    c.job.handler = NULL;
    decide_at(cache, &c, A, &d);
    assert_int_equal(d.action, TOCK_DECIDE_LAPSE);
    assert_null(d.task);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
    tock_decide_cache_free(cache);
}

static void test_cache(void **state)
{
    struct tock_decide_cache *cache = tock_decide_cache_new(3);
    struct tock_trigger *t1 = NULL, *t2 = NULL;
    struct tock_error err = {0};
    struct tock_job job;
    char id[8];
    int i;

    (void)state;
    assert_int_equal(tock_job_init_defaults(&job), 0);
    job.id = tock_strdup("a");
    job.trigger = tock_strdup(EVERY_1S);
    job.version = 1;
    assert_tock_ok(tock_decide_trigger(cache, &job, A, &t1, NULL, &err), &err);
    assert_tock_ok(tock_decide_trigger(cache, &job, A, &t2, NULL, &err), &err);
    assert_ptr_equal(t1, t2); /* parsed once */
    job.version = 2;
    assert_tock_ok(tock_decide_trigger(cache, &job, A, &t2, NULL, &err), &err);
    assert_int_equal(tock_decide_cache_size(cache), 1);
    /* Over the bound the cache starts afresh. */
    for (i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "x%d", i);
        tock_free(job.id);
        job.id = tock_strdup(id);
        assert_tock_ok(tock_decide_trigger(cache, &job, A, &t1, NULL, &err),
                       &err);
    }
    assert_true(tock_decide_cache_size(cache) <= 3);
    tock_job_clear(&job);
    tock_decide_cache_free(cache);
    tock_decide_cache_free(NULL);
}

static void test_commit_struct(void **state)
{
    struct tock_claimed c;
    struct tock_decided d;
    struct tock_commit cm;
    const int64_t t = A + 1000;

    (void)state;
    claim(&c, EVERY_1S, t, -1);
    c.job.version = 4;
    decide_at(NULL, &c, t + 2100, &d);
    tock_decided_commit(&c, &d, "node-1", &cm);
    assert_string_equal(cm.job_id, "j");
    assert_string_equal(cm.token, "n0nce:7");
    assert_int_equal(cm.epoch, 7);
    assert_int_equal(cm.version, 4);
    assert_int_equal(cm.sched_ms, t + 2000);
    assert_int_equal(cm.decision, TOCK_DECIDE_FIRE);
    assert_int_equal(cm.n_missed, 2);
    assert_ptr_equal(cm.missed, d.missed);
    assert_string_equal(cm.miss_reason, TOCK_MISS_COALESCED);
    assert_int_equal(cm.next_ms, t + 3000);
    assert_int_equal(cm.misfire_grace_ms, TOCK_DEFAULT_MISFIRE_GRACE_MS);
    assert_ptr_equal(cm.task, d.task);
    assert_string_equal(cm.node, "node-1");
    tock_decided_clear(&d);
    /* A plain fire carries no miss reason. */
    c.sched_ms = t + 3000;
    decide_at(NULL, &c, t + 3000, &d);
    tock_decided_commit(&c, &d, "node-1", &cm);
    assert_null(cm.miss_reason);
    assert_int_equal(cm.n_missed, 0);
    tock_decided_clear(&d);
    tock_decided_clear(NULL);
    tock_job_clear(&c.job);
}

/* --------------------------------------------- against tock_misfire_plan */

/* outcome of the commits a store would take until the first fire (or until
 * nothing is due), replayed through tock_decide. */
struct replay {
    int64_t missed, coalesced, fire_ms, watermark, next_ms;
    bool fire;
};

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void replay(struct tock_claimed *c, int64_t now, struct replay *out)
{
    struct tock_decided d;
    int rounds = 0;

    memset(out, 0, sizeof *out);
    out->next_ms = c->sched_ms;
    while (out->next_ms >= 0 && out->next_ms <= now && !out->fire) {
        assert_true(rounds++ < 100);
        decide_at(NULL, c, now, &d);
        assert_int_equal(d.action, TOCK_DECIDE_COMMIT);
        if (d.n_missed > 0 && strcmp(d.miss_reason, TOCK_MISS_GRACE) == 0)
            out->missed += (int64_t)d.n_missed;
        else
            out->coalesced += (int64_t)d.n_missed;
        if (d.decision == TOCK_DECIDE_FIRE) {
            out->fire = true;
            out->fire_ms = d.sched_ms;
        } else if (strcmp(d.miss_reason, TOCK_MISS_GRACE) == 0) {
            out->missed++;
        } else {
            out->coalesced++;
        }
        out->watermark = d.sched_ms;
        out->next_ms = d.next_ms;
        c->fired_ms = d.sched_ms; /* what the store's advance does */
        c->sched_ms = d.next_ms;
        tock_decided_clear(&d);
    }
}

/* Random triggers, watermarks, clocks, graces and coalesce settings: the
 * commits tock_decide produces add up to what tock_misfire_plan (the time
 * module's range-based reference) says should happen. */
static void test_agrees_with_misfire_plan(void **state)
{
    static const char *const triggers[] = {
        EVERY_1S, EVERY_10S, "interval:7s@2026-01-01T00:00:03Z",
        "cron:*/5 * * * * *", "cron:0 * * * * *",
        "or(interval:3s@2026-01-01T00:00:00Z, cron:*/7 * * * * *)",
    };
    static const int64_t graces[] = {-1, 0, 500, 2000, 9000, 60000};
    uint64_t seed = 42;
    int i;

    (void)state;
    for (i = 0; i < 1500; i++) {
        const char *text = triggers[lcg(&seed) % 6];
        struct tock_trigger *t = NULL;
        struct tock_misfire_plan plan;
        struct tock_error err = {0};
        struct tock_claimed c;
        struct replay got;
        int64_t w = A + (int64_t)(lcg(&seed) % 60000), first, now;
        bool coalesce = lcg(&seed) % 2 == 0;
        int64_t grace = graces[lcg(&seed) % 6];

        assert_tock_ok(tock_trigger_parse(text, &t, &err), &err);
        assert_tock_ok(tock_trigger_next(t, w, &first, &err), &err);
        now = first + (int64_t)(lcg(&seed) % 90000);
        assert_tock_ok(tock_misfire_plan(t, w, now, grace, coalesce, &plan,
                                         &err), &err);
        claim(&c, text, first, w);
        c.job.misfire_grace_ms = grace;
        c.job.coalesce = coalesce;
        replay(&c, now, &got);
        /* The plan may put its watermark past the last occurrence (at now);
         * the store's is that occurrence: the same when none lies between. */
        if (got.next_ms < 0 || got.next_ms > plan.watermark_ms)
            got.watermark = plan.watermark_ms;
        if (got.missed != plan.missed_count ||
            got.coalesced != plan.coalesced_count ||
            got.fire != plan.fire ||
            (got.fire && got.fire_ms != plan.fire_ms) ||
            got.watermark != plan.watermark_ms ||
            got.next_ms != (plan.has_next ? plan.next_ms : -1))
            fail_msg("%s w=%" PRId64 " now=%" PRId64 " grace=%" PRId64
                     " coalesce=%d: decide missed %" PRId64 " coalesced %"
                     PRId64 " fire %d@%" PRId64 " next %" PRId64
                     "; plan missed %" PRId64 " coalesced %" PRId64
                     " fire %d@%" PRId64 " next %" PRId64, text, w - A,
                     now - A, grace, coalesce, got.missed, got.coalesced,
                     got.fire, got.fire_ms - A, got.next_ms - A,
                     plan.missed_count, plan.coalesced_count, plan.fire,
                     plan.fire_ms - A, plan.next_ms - A);
        tock_job_clear(&c.job);
        tock_trigger_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fire_on_time),
        cmocka_unit_test(test_miss_past_grace),
        cmocka_unit_test(test_unlimited_grace),
        cmocka_unit_test(test_coalesce_backlog),
        cmocka_unit_test(test_coalesce_backlog_past_grace),
        cmocka_unit_test(test_no_coalesce_catch_up),
        cmocka_unit_test(test_more_than_missed_max),
        cmocka_unit_test(test_end_bound),
        cmocka_unit_test(test_start_bound_and_finished),
        cmocka_unit_test(test_unanchored_interval),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_next_before_watermark),
        cmocka_unit_test(test_bad_trigger_lapses_once),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_commit_struct),
        cmocka_unit_test(test_agrees_with_misfire_plan),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
