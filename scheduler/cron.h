/* cron.h: cron expressions: parse, match, and the next matching instant in
 * a time zone under tock's DST rules (docs/time.md).
 *
 * Syntax. 5 fields (minute hour day-of-month month day-of-week) or 6 with a
 * leading seconds field, separated by spaces or tabs. Each field is a comma
 * list of terms:
 *
 *   *  ?  N  A-B  `*`/S  A-B/S  N/S (= N-max/S)        every field (? only in
 *                                                    the two day fields)
 *   JAN..DEC                                         month (any case)
 *   SUN..SAT, 0-7 (0 and 7 are Sunday)               day-of-week
 *   L  L-N  LW  NW                                   day-of-month
 *   NL (last weekday N of the month)  N#K (K-th)     day-of-week
 *   @yearly @annually @monthly @weekly @daily @midnight @hourly
 *
 * Day rule. When both day fields are restricted (neither selects every
 * value), a day matching either fires (the classic cron OR rule);
 * otherwise a day must match both. "Restricted" is decided by the set a
 * field selects, not by its spelling: `*`/2 (every other day) is
 * restricted, `1-31` and `?` are not.
 *
 * DST rules (tock_cron_next). An expression is "hour-wild" when its hour
 * field selects every Nth hour from 0 (`*`, `*`/2, `0-23/3`). Then local
 * times that do not exist are skipped and repeated local times fire in
 * both passes, in real time. Otherwise occurrences in a spring-forward gap
 * fire once, at the first instant after the gap, and repeated local times
 * fire only in their first pass.
 *
 * A struct tock_cron is immutable after parsing: any thread may use it.
 */
#ifndef TOCK_SCHEDULER_CRON_H
#define TOCK_SCHEDULER_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/tz.h"
#include "tock/error.h"

/* Longest cron expression accepted, in bytes. Real expressions are well
 * under 100 bytes; the cap keeps hostile input (10 KB) out of job hashes. */
#define TOCK_CRON_MAX_LEN 1024

/* Years a search may reach: no time after 9999 is representable in tock. */
#define TOCK_CRON_YEAR_MAX 9999

struct tock_cron;

/* tock_cron_parse parses `text`. On success *out is a new expression the
 * caller must free with tock_cron_free. Errors name the field and the
 * problem, e.g. "cron field 'hour': 25 is out of range 0-23". An
 * expression that can never fire (`0 0 30 2 *`) is refused with
 * TOCK_ENOTIME and a message saying no next time exists. */
int tock_cron_parse(const char *text, struct tock_cron **out,
                    struct tock_error *err);

/* tock_cron_free releases `c`; NULL does nothing. */
void tock_cron_free(struct tock_cron *c);

/* tock_cron_text returns the normalised text (fields separated by one
 * space), valid while `c` lives. Parsing it gives the same expression. */
const char *tock_cron_text(const struct tock_cron *c);

/* tock_cron_hour_wild reports whether the DST rules for "every hour"
 * expressions apply (see the header comment). */
bool tock_cron_hour_wild(const struct tock_cron *c);

/* tock_cron_matches reports whether local civil time `t` (wday ignored,
 * recomputed) matches every field, with the day rule. */
bool tock_cron_matches(const struct tock_cron *c, const struct tock_civil *t);

/* tock_cron_next_civil replaces *t by the earliest matching civil time at
 * or after it (fields must be in range; wday is set). Returns 0, or
 * TOCK_ENOTIME when no match exists before year TOCK_CRON_YEAR_MAX + 1. */
int tock_cron_next_civil(const struct tock_cron *c, struct tock_civil *t);

/* tock_cron_next sets *out to the first firing instant strictly after
 * `after` (seconds since the epoch) for local times in zone `tz` (NULL
 * means UTC), with the DST rules above. Returns 0, or TOCK_ENOTIME (with
 * a message in err) when there is none up to year 9999. */
int tock_cron_next(const struct tock_cron *c, const struct tock_tz *tz,
                   int64_t after, int64_t *out, struct tock_error *err);

#endif /* TOCK_SCHEDULER_CRON_H */
