/* tz.h: IANA time zones from the system's TZif files, civil-time arithmetic
 * and RFC 3339 times. Pure: no process-wide state, no TZ variable, no
 * setenv/tzset, so any thread may use any zone at any time.
 *
 * A struct tock_tz is immutable once loaded, so one zone may be shared by
 * many triggers and threads. Times are int64 seconds (tz) or milliseconds
 * (RFC 3339 helpers) since the Unix epoch, UTC.
 *
 * Zone names are never turned into file paths as given: a name is accepted
 * only if it is listed in the system's tzdata index
 * (/usr/share/zoneinfo/tzdata.zi: Zone and Link lines), so '../../etc/passwd'
 * or 'Mars/Olympus' is refused with a clear error. Link names (deprecated
 * aliases such as US/Eastern) are accepted and resolve to their canonical
 * zone (tock_tz_name returns "America/New_York"). "UTC" is built in and
 * works without tzdata. Lookup is case-sensitive, as in tzdata; a wrong-case
 * name gets an error that suggests the right spelling.
 *
 * Beyond the last transition in the TZif table the POSIX TZ footer rule
 * (e.g. "CET-1CEST,M3.5.0,M10.5.0/3") extends the zone indefinitely.
 */
#ifndef TOCK_SCHEDULER_TZ_H
#define TOCK_SCHEDULER_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tock/error.h"

/* The directory holding TZif files and tzdata.zi. Tests may point a zone
 * load elsewhere with tock_tz_load_from. */
#define TOCK_TZ_DIR "/usr/share/zoneinfo"

/* Instants beyond +-TOCK_TZ_T_LIMIT seconds (about +-557,000 years) are
 * clamped to it by every function here, so no int64 input can overflow the
 * civil-time arithmetic. tock itself only uses 1970..9999. */
#define TOCK_TZ_T_LIMIT (1LL << 44)

struct tock_tz;

/* tock_civil: a broken-down civil (wall-clock) time. */
struct tock_civil {
    int year;   /* proleptic Gregorian, e.g. 2026 */
    int month;  /* 1..12 */
    int day;    /* 1..31 */
    int hour;   /* 0..23 */
    int minute; /* 0..59 */
    int second; /* 0..59 (no leap seconds) */
    int wday;   /* 0 = Sunday .. 6 = Saturday (outputs only) */
};

/* tock_tz_load loads zone `name` ("UTC", "Europe/Berlin", "US/Eastern").
 * On success *out is a new zone the caller must free with tock_tz_free.
 * Errors: TOCK_ENOENT for an unknown name ("time zone 'Mars/Olympus' is
 * unknown; use an IANA name such as Europe/Berlin"), TOCK_EINVAL for a name
 * that is empty or not of zone-name form, TOCK_EFORMAT for a corrupt TZif
 * file, TOCK_ENOMEM. */
int tock_tz_load(const char *name, struct tock_tz **out, struct tock_error *err);

/* tock_tz_load_from is tock_tz_load with another tzdata directory. */
int tock_tz_load_from(const char *dir, const char *name, struct tock_tz **out,
                      struct tock_error *err);

/* tock_tz_free releases `tz`; NULL does nothing. */
void tock_tz_free(struct tock_tz *tz);

/* tock_tz_name returns the canonical zone name, valid while `tz` lives. */
const char *tock_tz_name(const struct tock_tz *tz);

/* tock_tz_offset returns the UTC offset in seconds in force at instant `t`
 * (local = utc + offset). */
int32_t tock_tz_offset(const struct tock_tz *tz, int64_t t);

/* tock_tz_to_local converts instant `t` to local civil time in *out (wday
 * filled in); *offset (may be NULL) gets the offset in force. */
void tock_tz_to_local(const struct tock_tz *tz, int64_t t,
                      struct tock_civil *out, int32_t *offset);

/* How a local civil time maps to instants. */
enum tock_tz_local_kind {
    TOCK_LOCAL_UNIQUE = 0, /* exactly one instant: *first == *second */
    TOCK_LOCAL_GAP = 1,    /* does not exist (spring forward): *first is the
                              first instant after the gap (the transition),
                              *second == *first */
    TOCK_LOCAL_FOLD = 2,   /* happens twice (fall back): *first is the
                              earlier instant, *second the later one */
};

/* tock_tz_from_local maps local civil time `local` (wday ignored; fields
 * must be in range) to instants and says which case applies. */
enum tock_tz_local_kind tock_tz_from_local(const struct tock_tz *tz,
                                           const struct tock_civil *local,
                                           int64_t *first, int64_t *second);

/* tock_tz_next_transition finds the first offset change strictly after
 * instant `after`: returns true and sets *at (the instant of the change),
 * *before and *after_off (offsets either side); false if none follows. */
bool tock_tz_next_transition(const struct tock_tz *tz, int64_t after,
                             int64_t *at, int32_t *before, int32_t *after_off);

/* ---------------------------------------------------- civil arithmetic */

/* tock_days_from_civil returns days since 1970-01-01 of a proleptic
 * Gregorian date (any int year); tock_civil_from_days is its inverse (sets
 * year, month, day, wday of *out; leaves the time fields alone; days beyond
 * the span of TOCK_TZ_T_LIMIT are clamped so the year fits an int). */
int64_t tock_days_from_civil(int year, int month, int day);
void tock_civil_from_days(int64_t days, struct tock_civil *out);

/* tock_days_in_month returns 28..31 (0 for a month outside 1..12). */
int tock_days_in_month(int year, int month);

/* tock_civil_to_utc treats `c` as UTC and returns seconds since the epoch. */
int64_t tock_civil_to_utc(const struct tock_civil *c);

/* ------------------------------------------------------------ RFC 3339 */

/* Bounds of every absolute time tock accepts: 1970-01-01T00:00:00Z up to
 * 9999-12-31T23:59:59.999Z, in ms. */
#define TOCK_TIME_MIN_MS 0LL
#define TOCK_TIME_MAX_MS 253402300799999LL

/* tock_time_parse parses an RFC 3339 timestamp with an explicit offset:
 * "2026-03-29T03:00:00+02:00", "2026-03-29T01:00:00Z", optional fraction
 * ".250" (1..9 digits, up to ms precision; finer digits must be zeros).
 * 'T' and 'Z' may be lowercase (RFC 3339 5.6); "-00:00" reads as UTC.
 * Refused (TOCK_EINVAL, message naming `what` and the problem): a missing
 * offset, offsets beyond +-23:59, impossible dates (2024-02-30), 23:59:60,
 * years before 1970 or after 9999 (also when only the offset carries the
 * instant outside TOCK_TIME_MIN_MS..TOCK_TIME_MAX_MS), a space for 'T',
 * trailing characters. *out_ms gets the instant and is untouched on error.
 * `what` names the input in errors ("--from"; NULL gives "time"). */
int tock_time_parse(const char *text, int64_t *out_ms, const char *what,
                    struct tock_error *err);

/* tock_time_format writes instant `ms` as RFC 3339 in zone `tz` (NULL means
 * UTC, written with 'Z'; a zone with offset 0 writes "+00:00"), with ".mmm"
 * only when ms % 1000 != 0: "2026-03-29T03:00:00+02:00". An offset with
 * seconds (local mean time before 1972 in a few zones) is rounded to whole
 * minutes and the local time shown follows the rounded offset, so the text
 * still parses back to exactly `ms`. `cap` >= 40 (shorter buffers get a
 * truncated, NUL-terminated text). Returns the length written. */
size_t tock_time_format(int64_t ms, const struct tock_tz *tz, char *buf,
                        size_t cap);

#endif /* TOCK_SCHEDULER_TZ_H */
