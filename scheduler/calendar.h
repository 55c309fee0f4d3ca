/* calendar.h: calendar triggers: every N days, weeks, months or years at a
 * local time of day, counted from an anchor date.
 *
 * Text form (the body after "calendar:"; the zone is the trigger's):
 *
 *   every [N] day|days|week|weeks|month|months|year|years at HH:MM[:SS]
 *         [from YYYY-MM-DD]
 *
 * Occurrence k (k = 0, 1, ...) is on the anchor date plus k*N units, at the
 * time of day, in local time. Months and years are counted from the anchor,
 * not from the previous occurrence, and a day the target month lacks is
 * clamped to its last day: from 2026-01-31 "every month" gives Jan 31,
 * Feb 28, Mar 31, Apr 30, ...; from a February 29 "every year" gives
 * February 28 in common years.
 *
 * The time of day is kept across DST changes. A time of day that does not
 * exist (spring forward) fires at the first instant after the gap; one
 * that happens twice (fall back) fires in its first pass only.
 */
#ifndef TOCK_SCHEDULER_CALENDAR_H
#define TOCK_SCHEDULER_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler/tz.h"
#include "tock/error.h"

enum tock_calendar_unit {
    TOCK_CAL_DAY = 0,
    TOCK_CAL_WEEK = 1,
    TOCK_CAL_MONTH = 2,
    TOCK_CAL_YEAR = 3,
};

/* tock_calendar: a parsed calendar trigger; a plain value, no memory. */
struct tock_calendar {
    int every; /* N >= 1 */
    int unit;  /* enum tock_calendar_unit */
    int year, month, day; /* anchor date; year 0 = not anchored yet */
    int hour, minute, second;
};

/* tock_calendar_parse parses the text form into *out. Errors name the
 * part that is wrong: "calendar: 'fortnight' is not a unit; use day(s),
 * week(s), month(s) or year(s)". */
int tock_calendar_parse(const char *text, struct tock_calendar *out,
                        struct tock_error *err);

/* tock_calendar_format writes the canonical text ("every 2 weeks at 09:30
 * from 2026-01-05"; "every day at 07:00:30") into buf, like snprintf, and
 * returns the length it needs. */
size_t tock_calendar_format(const struct tock_calendar *c, char *buf,
                            size_t cap);

/* tock_calendar_anchor sets a missing anchor date to the local date of
 * instant `now` (seconds) in `tz` (NULL = UTC); an anchored calendar is
 * left alone. */
void tock_calendar_anchor(struct tock_calendar *c, const struct tock_tz *tz,
                          int64_t now);

/* tock_calendar_next sets *out to the first occurrence strictly after
 * `after` (seconds). Returns 0; TOCK_ENOTIME when the next occurrence
 * would be after year 9999; TOCK_EINVAL when not anchored. */
int tock_calendar_next(const struct tock_calendar *c, const struct tock_tz *tz,
                       int64_t after, int64_t *out, struct tock_error *err);

#endif /* TOCK_SCHEDULER_CALENDAR_H */
