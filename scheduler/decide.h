/* decide.h: the node's decision for claimed jobs, between claim and commit.
 *
 * Pure C on the store's clock: given one claimed job (its definition, the
 * claimed occurrence T = sched_ms, the watermark) and the store's `now` from
 * the claim, it computes the tock_commit the node sends back: which
 * occurrence fires or is missed, which older ones are recorded missed, the
 * next scheduled time, the encoded task, and when the commit may be sent
 * (jitter). No I/O, no clock reads, no randomness of its own (the caller
 * passes a seed), so every branch is unit-tested with literal times
 * (tests/unit/test_decide.c). The firing loop (loop.h) runs it on its store
 * thread.
 *
 * ON decide(claimed job J with occurrence T, store time now):
 *   1. Trigger: parse J.trigger (cached per job id + version), bound it by
 *      J.start_ms/J.end_ms, anchor an unanchored interval at T.
 *   2. Due list: the first undecided occurrence and the ones after it
 *      that are <= now, at most
 *      TOCK_MISSED_MAX + 1 of them, and `after`, the first occurrence past
 *      the list (-1 when the trigger is finished). The first undecided
 *      occurrence is T, or, when an edit moved next_fire_ms back to or
 *      before the watermark fired_ms (the store would refuse T as a
 *      duplicate), the first occurrence after the watermark; if that one
 *      is not due yet, it is held for (step 6) like a jittered fire.
 *      Step 2: because a node that was down (or a store that was
 *      unreachable) finds a backlog: every occurrence in it needs exactly
 *      one record (DESIGN.md 4.1), so the list is enumerated, bounded so one
 *      commit stays small; a longer backlog takes several claims.
 *   3. Grace: an occurrence o is past grace when misfire_grace >= 0 and
 *      now - o > misfire_grace (-1 = unlimited). Past-grace occurrences are
 *      a prefix of the due list (the older ones).
 *   4. Decision, coalesce on:
 *      a. some past grace and some not: record the past-grace prefix as
 *         missed ("misfire_grace"); next_ms = the first one within grace, so
 *         the job is claimed again at once and step 4b decides the rest.
 *         Step 4a: because a commit carries one miss reason, and a record
 *         should say why it was missed.
 *      b. the list is not truncated and its latest occurrence is within
 *         grace: it fires; the older ones are missed ("coalesced").
 *      c. otherwise every listed occurrence is missed, the last one as the
 *         commit's own occurrence ("misfire_grace" when the last is past
 *         grace, else "coalesced": a truncated list's last is not the
 *         latest due); next_ms = `after`.
 *   5. Decision, coalesce off: the past-grace prefix is missed
 *      ("misfire_grace"); the first occurrence within grace fires and
 *      next_ms is the one after it, which may already be due (the job is
 *      claimed again at once: a catch-up fires every occurrence in order).
 *      When every listed occurrence is past grace, the last is the missed
 *      commit occurrence and next_ms = `after`.
 *   6. Hold: fire_at = F, or for a fire with jitter_ms > 0
 *      tock_trigger_jitter(F, next_ms, jitter, random), never before F; the
 *      commit is held until the store's time reaches fire_at, at most
 *      `max_hold_ms` after now (see loop.h for why the hold is bounded by
 *      the claim lease): a longer jitter is shortened to max_hold_ms; an F
 *      itself further away than that cannot be held (LAPSE). A fire already
 *      late past fire_at goes at once.
 *   7. Task body (a fire): occurrence id "<job>@<F>", handler, args, queue,
 *      sched_ms F, fire_ms max(now, fire_at), attempt 1, timeout_ms,
 *      max_deliveries; encoded by proto/codec.h.
 *
 * A job whose trigger does not parse, or whose task does not encode, cannot
 * be decided: the action is TOCK_DECIDE_LAPSE (the node neither commits nor
 * releases; its claim lapses after the lease and the job is retried then,
 * with no hot loop and no occurrence lost). Editing the job fixes it.
 */
#ifndef TOCK_SCHEDULER_DECIDE_H
#define TOCK_SCHEDULER_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"
#include "scheduler/trigger.h"
#include "store/store.h"
#include "tock/error.h"

/* Miss reasons written to the run records (struct tock_commit.miss_reason). */
#define TOCK_MISS_GRACE "misfire_grace"
#define TOCK_MISS_COALESCED "coalesced"

/* Default bound of the trigger cache (entries; one per job). */
#define TOCK_DECIDE_CACHE_MAX 100000

/* ------------------------------------------------------------- the cache */

/* tock_decide_cache: parsed triggers per (job id, version), so a job that
 * fires every 200 ms is parsed once, not 5 times a second. An entry whose
 * version differs from the claim's is replaced. A trigger that failed to
 * parse is cached too (with its message), so the failure is reported once
 * per version. When more than `max` jobs are cached the whole cache is
 * dropped and refilled (a rare event with a sane bound; simpler than LRU).
 * Not thread-safe: one thread at a time (the loop's store thread). */
struct tock_decide_cache;

/* tock_decide_cache_new returns a new cache of at most `max` entries (0:
 * TOCK_DECIDE_CACHE_MAX) the caller frees with tock_decide_cache_free, or
 * NULL when out of memory. */
struct tock_decide_cache *tock_decide_cache_new(size_t max);

/* tock_decide_cache_free frees `c` and every trigger in it; NULL does
 * nothing. */
void tock_decide_cache_free(struct tock_decide_cache *c);

/* tock_decide_cache_size returns the number of cached entries. */
size_t tock_decide_cache_size(const struct tock_decide_cache *c);

/* tock_decide_trigger returns in *out the trigger of `job` (bounded by its
 * start/end; unanchored parts anchored at `anchor_ms`), from the cache or
 * parsed now. *out stays owned by the cache and is valid until the next
 * call on `c`. On a parse error returns its code with `err` set; *first
 * (may be NULL) is true the first time this error is returned for this job
 * version, so a caller can log it once. `c` may be NULL: then *out is a new
 * trigger the caller frees with tock_trigger_free. */
int tock_decide_trigger(struct tock_decide_cache *c, const struct tock_job *job,
                        int64_t anchor_ms, struct tock_trigger **out,
                        bool *first, struct tock_error *err);

/* ----------------------------------------------------------- the decision */

enum tock_decide_action {
    TOCK_DECIDE_COMMIT = 0, /* commit now */
    TOCK_DECIDE_HOLD = 1,   /* commit when the store's clock reaches
                               fire_at_ms (jitter) */
    TOCK_DECIDE_LAPSE = 2,  /* undecidable: leave the claim to lapse; err
                               says why */
};

/* tock_decided: the decision for one claimed job. Owns `missed` and `task`
 * (free with tock_decided_clear). */
struct tock_decided {
    enum tock_decide_action action;
    enum tock_decision decision; /* for sched_ms */
    int64_t sched_ms;            /* the committed occurrence (F) */
    int64_t *missed;             /* older occurrences recorded missed,
                                    ascending; NULL when none */
    size_t n_missed;
    const char *miss_reason;     /* static: TOCK_MISS_GRACE / _COALESCED */
    int64_t next_ms;             /* next scheduled time, -1 finished */
    int64_t fire_at_ms;          /* store time the commit may be sent */
    int64_t late_ms;             /* now - sched_ms at the claim */
    uint8_t *task;               /* encoded task when firing, else NULL */
    size_t task_len;
    bool first_error;            /* LAPSE: first time for this job version */
    struct tock_error err;       /* LAPSE: why */
};

/* tock_decide_opts: what the caller supplies besides the claim. */
struct tock_decide_opts {
    int64_t now_ms;       /* the store's clock from the claim */
    int64_t max_hold_ms;  /* longest jitter hold after now (>= 0) */
    uint64_t random;      /* uniformly random bits for the jitter */
};

/* tock_decide decides the claimed job `c` (see the steps at the top) into
 * *out, which it overwrites without freeing (pass a zeroed or cleared
 * struct; clear it with tock_decided_clear). `cache` may be NULL. Never
 * fails as a call: an undecidable job gives action TOCK_DECIDE_LAPSE with
 * out->err set (TOCK_ENOMEM included). */
void tock_decide(struct tock_decide_cache *cache, const struct tock_claimed *c,
                 const struct tock_decide_opts *opts,
                 struct tock_decided *out);

/* tock_decided_clear frees what `d` owns and zeroes it (safe on a zeroed
 * struct). */
void tock_decided_clear(struct tock_decided *d);

/* tock_decided_commit fills *out, the commit of decision `d` for claim `c`
 * with node id `node`. *out points into c, d and node: valid while they
 * are. */
void tock_decided_commit(const struct tock_claimed *c,
                         const struct tock_decided *d, const char *node,
                         struct tock_commit *out);

/* tock_decide_task encodes the task of occurrence `sched_ms` of `job`
 * fired at store time `fire_ms` (attempt 1). On success *out is a new
 * buffer of *len bytes the caller frees with tock_free. */
int tock_decide_task(const struct tock_job *job, int64_t sched_ms,
                     int64_t fire_ms, uint8_t **out, size_t *len,
                     struct tock_error *err);

/* tock_decide_task_builder is tock_decide_task as a tock_task_builder_fn
 * (store.h), for tock_store_job_run_now (`tock run`): `ctx` is unused and
 * the task fires at `now_ms`. */
int tock_decide_task_builder(void *ctx, const struct tock_job *job,
                             int64_t sched_ms, int64_t now_ms, uint8_t **body,
                             size_t *len, struct tock_error *err);

#endif /* TOCK_SCHEDULER_DECIDE_H */
