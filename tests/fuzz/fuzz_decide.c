/* fuzz_decide.c: libFuzzer target for the claim -> commit decision
 * (scheduler/decide.h) with any trigger text, watermark, clock, grace,
 * coalesce, jitter and hold bound.
 *
 * Input: 40 bytes of parameters (see `params` below), then the trigger
 * text. Invariants checked on every decision (a violation aborts):
 *   - an undecidable job (LAPSE) carries an error and no task or list;
 *   - the missed list is ascending, at most TOCK_MISSED_MAX long, every
 *     entry after the watermark and before the committed occurrence;
 *   - nothing fires early: fire_at >= the occurrence and >= now, and a
 *     hold never exceeds the hold bound;
 *   - next_ms is -1 or after the committed occurrence;
 *   - a fire carries a task that decodes to "<job>@<sched>" with attempt 1;
 *     a miss carries none.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "scheduler/decide.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

#define BASE 1767225600000LL /* 2026-01-01T00:00:00Z */
#define HEADER 40

static uint64_t u64_at(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* params: the header decoded into bounded values. */
struct params {
    int64_t watermark, now, grace, jitter, max_hold;
    bool coalesce, no_watermark;
    uint64_t random;
};

static void params_from(const uint8_t *p, struct params *o)
{
    static const int64_t graces[] = {-1, 0, 1, 500, 60000, 3600000};

    o->watermark = BASE + (int64_t)(u64_at(p) % (7ULL * 86400000));
    o->now = o->watermark + (int64_t)(u64_at(p + 8) % (2ULL * 86400000));
    o->grace = graces[p[16] % 6];
    o->coalesce = (p[17] & 1) != 0;
    o->no_watermark = (p[17] & 2) != 0;
    o->jitter = (int64_t)(u64_at(p + 18) % 100000);
    o->max_hold = (int64_t)(p[26] | p[27] << 8) * 10;
    o->random = u64_at(p + 28);
}

static void check_task(const struct tock_decided *d, int64_t fire_at)
{
    struct tock_task task = {0};
    char occ[TOCK_OCC_MAX];

    CHECK(d->task != NULL && d->task_len > 0);
    CHECK(tock_proto_decode_task(d->task, d->task_len, NULL, &task, NULL) ==
          0);
    snprintf(occ, sizeof occ, "fz@%lld", (long long)d->sched_ms);
    CHECK(strcmp(task.occ, occ) == 0);
    CHECK(task.sched_ms == d->sched_ms && task.fire_ms == fire_at);
    CHECK(task.attempt == 1);
    tock_task_clear(&task);
}

static void check(const struct tock_claimed *c, const struct params *p,
                  const struct tock_decided *d)
{
    size_t i;

    if (d->action == TOCK_DECIDE_LAPSE) {
        CHECK(d->err.code != 0);
        CHECK(d->task == NULL && d->missed == NULL && d->n_missed == 0);
        return;
    }
    CHECK(d->n_missed <= TOCK_MISSED_MAX);
    for (i = 0; i < d->n_missed; i++) {
        CHECK(d->missed[i] < d->sched_ms);
        CHECK(c->fired_ms < 0 || d->missed[i] > c->fired_ms);
        CHECK(i == 0 || d->missed[i] > d->missed[i - 1]);
    }
    CHECK(c->fired_ms < 0 || d->sched_ms > c->fired_ms);
    CHECK(d->next_ms == -1 || d->next_ms > d->sched_ms);
    CHECK(d->fire_at_ms >= p->now);
    CHECK(d->fire_at_ms - p->now <= (p->max_hold > 0 ? p->max_hold : 0));
    CHECK((d->action == TOCK_DECIDE_HOLD) == (d->fire_at_ms > p->now));
    if (d->decision == TOCK_DECIDE_FIRE) {
        CHECK(d->fire_at_ms >= d->sched_ms); /* never early */
        check_task(d, d->fire_at_ms);
    } else {
        CHECK(d->task == NULL);
        CHECK(d->action == TOCK_DECIDE_COMMIT);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tock_decide_opts opts;
    struct tock_claimed c;
    struct tock_decided d;
    struct params p;
    char text[512];
    size_t n;

    if (size < HEADER)
        return 0;
    params_from(data, &p);
    n = size - HEADER < sizeof text - 1 ? size - HEADER : sizeof text - 1;
    memcpy(text, data + HEADER, n);
    text[n] = '\0';
    memset(&c, 0, sizeof c);
    if (tock_job_init_defaults(&c.job) != 0)
        return 0;
    c.job.id = tock_strdup("fz");
    c.job.handler = tock_strdup("h");
    c.job.trigger = tock_strdup(text);
    c.job.version = 1;
    c.job.misfire_grace_ms = p.grace;
    c.job.coalesce = p.coalesce;
    c.job.jitter_ms = p.jitter;
    /* The claimed time is the watermark plus a little (maybe not on the
     * trigger's grid, as after an edit), or the watermark itself. */
    c.fired_ms = p.no_watermark ? -1 : p.watermark;
    c.sched_ms = p.watermark + (int64_t)(p.random % 3);
    strcpy(c.token, "n:1");
    opts.now_ms = p.now > c.sched_ms ? p.now : c.sched_ms;
    p.now = opts.now_ms;
    opts.max_hold_ms = p.max_hold;
    opts.random = p.random;
    tock_decide(NULL, &c, &opts, &d);
    check(&c, &p, &d);
    tock_decided_clear(&d);
    tock_job_clear(&c.job);
    return 0;
}
