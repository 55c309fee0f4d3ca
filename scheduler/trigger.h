/* trigger.h: when a job fires. One type for every kind of trigger, its
 * text form, its next occurrence, start/end bounds and jitter.
 *
 * Kinds and their text forms (what the store keeps and `tock ls` shows):
 *
 *   date:2026-03-29T03:00:00+02:00          one instant (RFC 3339)
 *   date:2026-03-29T03:00:00+02:00@Europe/Berlin   ... checked against a zone
 *   date:2026-03-29T03:00:00@Europe/Berlin  a local time in a zone
 *   interval:90s@2026-03-29T01:00:00Z       every 90 s of real time from the
 *                                           anchor (the anchor included)
 *   interval:90s                            not anchored yet: the job's add
 *                                           time becomes the anchor
 *   cron:0 3 * * *@Europe/Berlin            cron (cron.h) in a zone
 *   cron:0 3 * * 1-5                        ... in UTC (no '@')
 *   calendar:every 2 weeks at 09:30 from 2026-01-05@Europe/Berlin
 *                                           calendar.h
 *   or(cron:0 9 * * 1-5@Europe/Berlin, cron:0 12 * * 0,6)
 *                                           the earliest of its triggers
 *   and(cron:0 0 13 * *, cron:0 0 * * 5)    the first instant all agree on
 *
 * Children of and/or are separated by commas at their top level; a comma
 * is a separator only when a trigger kind follows it, so cron lists need
 * no quoting. "@UTC" is the default and is not printed; link names print
 * as their canonical zone (US/Eastern -> America/New_York).
 *
 * Times are int64 milliseconds since the epoch, UTC, within
 * [TOCK_TIME_MIN_MS, TOCK_TIME_MAX_MS]. An occurrence is identified by its
 * scheduled time; jitter moves when it fires, never its identity.
 *
 * A trigger is immutable once parsed, anchored and bounded: any thread may
 * call tock_trigger_next on it.
 */
#ifndef TOCK_SCHEDULER_TRIGGER_H
#define TOCK_SCHEDULER_TRIGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler/tz.h"
#include "tock/error.h"

enum tock_trigger_kind {
    TOCK_TRIGGER_DATE = 1,
    TOCK_TRIGGER_INTERVAL = 2,
    TOCK_TRIGGER_CRON = 3,
    TOCK_TRIGGER_CALENDAR = 4,
    TOCK_TRIGGER_AND = 5,
    TOCK_TRIGGER_OR = 6,
};

/* Limits on the text form: length, and/or nesting and width. */
#define TOCK_TRIGGER_MAX_TEXT 4096
#define TOCK_TRIGGER_MAX_DEPTH 4
#define TOCK_TRIGGER_MAX_CHILDREN 16

/* How many candidate instants `and` tries before it gives up with
 * TOCK_ERANGE (its triggers may never coincide, e.g. two intervals on
 * disjoint grids). */
#define TOCK_TRIGGER_AND_STEPS 10000

struct tock_trigger;

/* tock_trigger_parse parses a text form. On success *out is a new trigger
 * the caller must free with tock_trigger_free. Errors (a one-line message
 * in err naming the part and the fix): TOCK_EINVAL / TOCK_ERANGE for bad
 * syntax or values, TOCK_ETOOBIG over TOCK_TRIGGER_MAX_TEXT or the
 * nesting limits, TOCK_ENOENT for an unknown zone, TOCK_ENOTIME for a cron
 * expression that never fires, TOCK_ENOMEM. */
int tock_trigger_parse(const char *text, struct tock_trigger **out,
                       struct tock_error *err);

/* tock_trigger_new_date / _interval / _cron build triggers without text.
 * `anchor_ms` may be TOCK_TRIGGER_UNANCHORED; `zone` may be NULL (UTC).
 * *out is a new trigger the caller frees with tock_trigger_free. */
#define TOCK_TRIGGER_UNANCHORED INT64_MIN
int tock_trigger_new_date(int64_t at_ms, struct tock_trigger **out,
                          struct tock_error *err);
int tock_trigger_new_interval(int64_t period_ms, int64_t anchor_ms,
                              struct tock_trigger **out,
                              struct tock_error *err);
int tock_trigger_new_cron(const char *expr, const char *zone,
                          struct tock_trigger **out, struct tock_error *err);

/* tock_trigger_free releases `t` and its children; NULL does nothing. */
void tock_trigger_free(struct tock_trigger *t);

/* tock_trigger_format writes the canonical text form into buf (always
 * NUL-terminated when cap > 0) and returns the length it needs, like
 * snprintf. Parsing the text gives an equal trigger (bounds aside: they
 * are job fields, not part of the text). */
size_t tock_trigger_format(const struct tock_trigger *t, char *buf,
                           size_t cap);

enum tock_trigger_kind tock_trigger_kind(const struct tock_trigger *t);

/* tock_trigger_zone returns the zone whose offsets show this trigger's
 * times (cron, calendar, a date given with a zone), or NULL for UTC. Valid
 * while `t` lives. */
const struct tock_tz *tock_trigger_zone(const struct tock_trigger *t);

/* tock_trigger_format_time writes instant `ms` as RFC 3339 the way this
 * trigger shows its times: in its zone's offset (cron, calendar, a date
 * with a zone), in the offset a date was written with, else in UTC ('Z').
 * Returns the length, like tock_time_format (cap >= 40). */
size_t tock_trigger_format_time(const struct tock_trigger *t, int64_t ms,
                                char *buf, size_t cap);

/* tock_trigger_interval reports whether `t` is an interval trigger and
 * then gives its period and anchor (either pointer may be NULL). */
bool tock_trigger_interval(const struct tock_trigger *t, int64_t *period_ms,
                           int64_t *anchor_ms);

/* tock_trigger_bounds gives the bounds set by tock_trigger_set_bounds. */
void tock_trigger_bounds(const struct tock_trigger *t, int64_t *start_ms,
                         int64_t *end_ms);

/* tock_trigger_is_anchored reports whether every interval and calendar in
 * `t` has its anchor. */
bool tock_trigger_is_anchored(const struct tock_trigger *t);

/* tock_trigger_anchor gives every unanchored interval the anchor `now_ms`
 * and every unanchored calendar the local date of `now_ms`, so the first
 * occurrence after the job is added is one period later. Anchored parts
 * are left alone. */
void tock_trigger_anchor(struct tock_trigger *t, int64_t now_ms);

/* tock_trigger_set_bounds limits occurrences to [start_ms, end_ms]
 * (inclusive; TOCK_TIME_MIN_MS / TOCK_TIME_MAX_MS mean unbounded). Refuses
 * start > end and times outside the representable range. */
int tock_trigger_set_bounds(struct tock_trigger *t, int64_t start_ms,
                            int64_t end_ms, struct tock_error *err);

/* tock_trigger_check applies the policy checks that need "now": an end in
 * the past, an unanchored trigger, a jitter that is negative, over 100
 * years, or not less than an interval's period. */
int tock_trigger_check(const struct tock_trigger *t, int64_t now_ms,
                       int64_t jitter_ms, struct tock_error *err);

/* tock_trigger_next sets *out_ms to the first occurrence strictly after
 * `after_ms`. Returns 0; TOCK_ENOTIME when there is none (a date that has
 * passed, an end bound, year 9999) -- the job is finished; TOCK_ERANGE
 * when an `and` finds no agreement within TOCK_TRIGGER_AND_STEPS;
 * TOCK_EINVAL when not anchored. */
int tock_trigger_next(const struct tock_trigger *t, int64_t after_ms,
                      int64_t *out_ms, struct tock_error *err);

/* tock_trigger_jitter returns when an occurrence scheduled at `sched_ms`
 * fires under a jitter of `jitter_ms`, given a uniformly random `random`:
 * sched_ms + r with 0 <= r <= jitter_ms, and r < next_ms - sched_ms so the
 * occurrence never fires at or after the next one (`next_ms` < 0: there is
 * no next). Jitter only delays: an occurrence never fires before its
 * time. Pure: the caller supplies the randomness. */
int64_t tock_trigger_jitter(int64_t sched_ms, int64_t next_ms,
                            int64_t jitter_ms, uint64_t random);

#endif /* TOCK_SCHEDULER_TRIGGER_H */
