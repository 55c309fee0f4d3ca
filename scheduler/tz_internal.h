/* tz_internal.h: what the tz module's files (tz.c, tzcivil.c, tzrule.c)
 * share, and entry points for its tests and fuzz target. Nothing outside
 * scheduler/tz*.c, tests/ and bench/ should include it; the public
 * interface is scheduler/tz.h.
 */
#ifndef TOCK_SCHEDULER_TZ_INTERNAL_H
#define TOCK_SCHEDULER_TZ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler/tz.h"

/* Largest TZif file or tzdata.zi index read (real ones: 19 KB, 112 KB). */
#define TOCK_TZ_FILE_MAX (256 * 1024)
#define TOCK_TZ_INDEX_MAX (4 * 1024 * 1024)

/* Longest zone name accepted (the longest in tzdata has 30 characters). */
#define TOCK_TZ_NAME_MAX 255

/* tock_tz__from_tzif parses the TZif data buf[0..len) (RFC 8536, versions
 * 1-4) into a zone called `name`; `label` names the data in errors (the
 * file's path). Does not read files and does not check `name`. On success
 * *out is a new zone the caller frees with tock_tz_free; `buf` is not kept.
 * Errors: TOCK_EFORMAT naming `label` and the defect, TOCK_ENOMEM. */
int tock_tz__from_tzif(const char *name, const char *label, const uint8_t *buf,
                       size_t len, struct tock_tz **out,
                       struct tock_error *err);

/* tock_tz__check_name checks that `name` has the form of a zone name
 * (TOCK_EINVAL with the reason otherwise). It does not consult tzdata. */
int tock_tz__check_name(const char *name, struct tock_error *err);

/* tock_tz__floor_div returns a / b rounded toward minus infinity (b > 0):
 * the day of a negative instant is the one before, not the one after. */
static inline int64_t tock_tz__floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* tock_tz__weekday returns the weekday (0 = Sunday) of a day since the
 * epoch; 1970-01-01 was a Thursday. */
static inline int tock_tz__weekday(int64_t days)
{
    return (int)(((days % 7) + 11) % 7);
}

/* tock_tz__clamp limits t to +-TOCK_TZ_T_LIMIT (see tz.h). */
static inline int64_t tock_tz__clamp(int64_t t)
{
    if (t > TOCK_TZ_T_LIMIT)
        return TOCK_TZ_T_LIMIT;
    return t < -TOCK_TZ_T_LIMIT ? -TOCK_TZ_T_LIMIT : t;
}

#endif /* TOCK_SCHEDULER_TZ_INTERNAL_H */
