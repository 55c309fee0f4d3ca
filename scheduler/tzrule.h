/* tzrule.h: POSIX TZ rule strings, as found in the footer of TZif files
 * (RFC 8536 section 3.3), e.g. "CET-1CEST,M3.5.0,M10.5.0/3" or
 * "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0". Internal to the tz module: a
 * zone uses its rule for every instant after the last transition in its
 * table, which is how a 2026 tzdata answers for the year 9999.
 *
 * Offsets here are UTC offsets as everywhere in tock (local = utc + off),
 * i.e. the negation of what the POSIX string writes ("CET-1" is +3600).
 * Transition times accept the RFC 8536 extension: hours -167..167.
 */
#ifndef TOCK_SCHEDULER_TZRULE_H
#define TOCK_SCHEDULER_TZRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tock/error.h"

/* How a rule names the day of a transition. */
enum tock_tzrule_kind {
    TOCK_TZRULE_JULIAN1 = 0, /* Jn: day 1..365, February 29 never counted */
    TOCK_TZRULE_JULIAN0 = 1, /* n: day 0..365, February 29 counted */
    TOCK_TZRULE_MONTH = 2,   /* Mm.w.d: weekday d of week w (5 = last) */
};

/* tock_tzrule_date: one transition date and its local time of day. */
struct tock_tzrule_date {
    int kind;  /* enum tock_tzrule_kind */
    int day;   /* JULIAN1: 1..365, JULIAN0: 0..365 */
    int month; /* MONTH: 1..12 */
    int week;  /* MONTH: 1..5 */
    int wday;  /* MONTH: 0 = Sunday .. 6 */
    int32_t time; /* seconds after local midnight, -167h..167h */
};

/* tock_tzrule: a parsed rule. Without DST only std_off is meaningful. */
struct tock_tzrule {
    int32_t std_off;              /* UTC offset of standard time */
    int32_t dst_off;              /* UTC offset of daylight time */
    bool has_dst;
    struct tock_tzrule_date start; /* DST begins; time in standard time */
    struct tock_tzrule_date end;   /* DST ends; time in daylight time */
};

/* tock_tzrule_parse parses `text[0..len)` (no NUL needed) into *out. An
 * empty string is refused: callers decide what "no rule" means. A DST name
 * without dates gets the US rule "M3.2.0,M11.1.0", as tzcode and glibc do.
 * Errors: TOCK_EFORMAT with the reason ("TZ rule 'CET-1CEST,M13.5.0':
 * month 13 is out of range 1..12"). */
int tock_tzrule_parse(const char *text, size_t len, struct tock_tzrule *out,
                      struct tock_error *err);

/* tock_tzrule_offset returns the UTC offset the rule gives instant `t`
 * (|t| <= TOCK_TZ_T_LIMIT; larger values are clamped). */
int32_t tock_tzrule_offset(const struct tock_tzrule *rule, int64_t t);

/* tock_tzrule_next finds the first offset change strictly after `after`,
 * like tock_tz_next_transition. Transitions that do not change the offset
 * (a rule with DST all year has them at each new year) are skipped. */
bool tock_tzrule_next(const struct tock_tzrule *rule, int64_t after,
                      int64_t *at, int32_t *before, int32_t *after_off);

#endif /* TOCK_SCHEDULER_TZRULE_H */
