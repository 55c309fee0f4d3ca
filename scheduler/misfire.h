/* misfire.h: what to do with the occurrences that are due, as a pure
 * function of the trigger, the job's watermark, "now", misfire_grace and
 * coalesce. The firing loop calls it with the store's clock (Redis TIME),
 * never the local one, and records the outcome.
 *
 * Definitions, for a job whose occurrences up to `last_ms` are decided
 * (its watermark: fired_ms in the store; for a new job, the time it was
 * added):
 *
 *   due       every occurrence s with last_ms < s <= now_ms
 *   missed    a due occurrence older than the grace: now_ms - s > grace_ms
 *             (never, with TOCK_GRACE_UNLIMITED)
 *   in grace  a due occurrence that is not missed
 *
 * Without coalesce, the oldest in-grace occurrence fires, on its own
 * scheduled time; the rest stay due and the next call handles them (the
 * plan's next_ms is then <= now_ms). With coalesce, only the most recent
 * in-grace occurrence fires and the older in-grace ones are "coalesced"
 * into it; next_ms is then after now_ms.
 *
 * Every due occurrence ends in exactly one of: fired, missed, coalesced.
 * Missed and coalesced occurrences are reported as ranges with counts, not
 * lists, so a job every 1 ms that was down for a day costs nothing to plan;
 * a store may write one record per range or enumerate the range with
 * tock_trigger_next.
 */
#ifndef TOCK_SCHEDULER_MISFIRE_H
#define TOCK_SCHEDULER_MISFIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/trigger.h"
#include "tock/error.h"

/* A misfire_grace that never expires. */
#define TOCK_GRACE_UNLIMITED (-1)

/* Occurrences counted one by one for a range before its count is reported
 * as "at least" this many (counts_capped). Intervals count exactly. */
#define TOCK_MISFIRE_COUNT_CAP 100000

struct tock_misfire_plan {
    /* Missed: the occurrences s with last_ms < s <= missed_until_ms
     * (missed_until_ms == last_ms when none), missed_count of them. */
    int64_t missed_until_ms;
    int64_t missed_count;

    /* The occurrence that fires now, by its scheduled time (its identity),
     * when `fire` is true. */
    bool fire;
    int64_t fire_ms;

    /* Coalesced: the occurrences s with missed_until_ms < s < fire_ms,
     * merged into fire_ms (only with coalesce). */
    int64_t coalesced_count;

    /* True when a count above stopped at TOCK_MISFIRE_COUNT_CAP. */
    bool counts_capped;

    /* Every occurrence at or before watermark_ms is now decided: store it
     * as the job's watermark (fired_ms). */
    int64_t watermark_ms;

    /* The job's next scheduled time (first occurrence after the
     * watermark), when has_next; otherwise the trigger is finished. */
    bool has_next;
    int64_t next_ms;
};

/* tock_misfire_plan fills *out for trigger `t` (anchored and bounded), the
 * watermark `last_ms`, the store's `now_ms`, `grace_ms` (>= 0 or
 * TOCK_GRACE_UNLIMITED) and `coalesce`. Nothing due is a valid plan (fire
 * false, counts 0, next_ms after now). Returns 0, or the error of the
 * trigger's next() (TOCK_ERANGE from an and(...) that found no agreement,
 * TOCK_EINVAL for an unanchored trigger or a negative grace). */
int tock_misfire_plan(const struct tock_trigger *t, int64_t last_ms,
                      int64_t now_ms, int64_t grace_ms, bool coalesce,
                      struct tock_misfire_plan *out, struct tock_error *err);

/* tock_misfire_count sets *count to the number of occurrences of `t` in
 * (after_ms, until_ms], counting at most `cap` one by one; *capped tells
 * whether more than *count exist. Interval triggers are counted by
 * arithmetic, exactly, whatever the cap. */
int tock_misfire_count(const struct tock_trigger *t, int64_t after_ms,
                       int64_t until_ms, int64_t cap, int64_t *count,
                       bool *capped, struct tock_error *err);

/* tock_misfire_latest sets *out to the latest occurrence of `t` in
 * (after_ms, until_ms]; TOCK_ENOTIME when there is none. It gallops back
 * from until_ms in doubling steps, so its cost depends on how far back the
 * latest occurrence lies, not on how many occurrences the range holds. */
int tock_misfire_latest(const struct tock_trigger *t, int64_t after_ms,
                        int64_t until_ms, int64_t *out,
                        struct tock_error *err);

#endif /* TOCK_SCHEDULER_MISFIRE_H */
