/* tzcivil.c: proleptic Gregorian day arithmetic and RFC 3339 timestamps,
 * the zone-independent half of scheduler/tz.h.
 *
 * Day arithmetic follows Howard Hinnant's days_from_civil and
 * civil_from_days ("chrono-Compatible Low-Level Date Algorithms"): 400-year
 * eras of 146097 days, with the year starting in March so the leap day is
 * the last day of the shifted year. Exact for every int year, no tables,
 * no loops.
 */
#include "scheduler/tz.h"

#include <stdio.h>
#include <string.h>

#include "scheduler/tz_internal.h"

#define DAY 86400LL
/* Days beyond the range of clamped instants (plus a day of offset) are
 * clamped too, so a year always fits in an int. */
#define CIVIL_DAYS_LIMIT (TOCK_TZ_T_LIMIT / DAY + 2)

/* ------------------------------------------------------- civil arithmetic */

int64_t tock_days_from_civil(int year, int month, int day)
{
    int64_t m = month; /* 64-bit: no int overflow whatever the fields */
    int64_t y = (int64_t)year - (m <= 2);
    int64_t era = tock_tz__floor_div(y, 400);
    int64_t yoe = y - era * 400;                                   /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* 0..146096 */

    return era * 146097 + doe - 719468;
}

void tock_civil_from_days(int64_t days, struct tock_civil *out)
{
    int64_t z, era, doe, yoe, doy, mp;

    if (days > CIVIL_DAYS_LIMIT)
        days = CIVIL_DAYS_LIMIT;
    if (days < -CIVIL_DAYS_LIMIT)
        days = -CIVIL_DAYS_LIMIT;
    z = days + 719468;
    era = tock_tz__floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    out->year = (int)(yoe + era * 400 + (out->month <= 2));
    out->wday = tock_tz__weekday(days);
}

int tock_days_in_month(int year, int month)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);

    if (month < 1 || month > 12)
        return 0;
    return dim[month - 1] + (month == 2 && leap);
}

int64_t tock_civil_to_utc(const struct tock_civil *c)
{
    return tock_days_from_civil(c->year, c->month, c->day) * DAY +
           (int64_t)c->hour * 3600 + (int64_t)c->minute * 60 + c->second;
}

/* --------------------------------------------------------------- RFC 3339 */

static const char *const month_names[12] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

/* digits reads exactly n decimal digits at s. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int time_error(struct tock_error *err, const char *what, const char *text,
                      const char *why)
{
    return tock_error_set(err, TOCK_EINVAL,
                          "%s: '%.48s' is not a valid time: %s; write it like "
                          "2026-03-29T03:00:00+02:00",
                          what ? what : "time", text, why);
}

/* parse_fields reads "YYYY-MM-DDThh:mm:ss" into *c and returns the rest. */
static const char *parse_fields(const char *s, struct tock_civil *c,
                                const char **why)
{
    int y;

    if (digits(s, 5, &y))
        return *why = "years after 9999 are not supported", NULL;
    if (!digits(s, 4, &c->year) || s[4] != '-' || !digits(s + 5, 2, &c->month) ||
        s[7] != '-' || !digits(s + 8, 2, &c->day))
        return *why = "expected a date YYYY-MM-DD", NULL;
    if (s[10] == ' ')
        return *why = "use 'T', not a space, between date and time", NULL;
    if (s[10] != 'T' && s[10] != 't')
        return *why = "expected 'T' and a time of day after the date", NULL;
    if (!digits(s + 11, 2, &c->hour) || s[13] != ':' ||
        !digits(s + 14, 2, &c->minute) || s[16] != ':' ||
        !digits(s + 17, 2, &c->second))
        return *why = "expected a time of day hh:mm:ss", NULL;
    return s + 19;
}

/* check_fields refuses impossible dates and times; `buf` holds a reason
 * that needs numbers. */
static const char *check_fields(const struct tock_civil *c, char *buf, size_t cap)
{
    if (c->year < 1970)
        return "years before 1970 are not supported";
    if (c->month < 1 || c->month > 12)
        return "the month must be 01..12";
    if (c->day < 1 || c->day > tock_days_in_month(c->year, c->month)) {
        snprintf(buf, cap, "%s %d has %d days", month_names[c->month - 1],
                 c->year, tock_days_in_month(c->year, c->month));
        return buf;
    }
    if (c->hour > 23)
        return "the hour must be 00..23";
    if (c->minute > 59)
        return "the minute must be 00..59";
    if (c->second == 60)
        return "leap seconds (:60) are not supported";
    if (c->second > 59)
        return "the second must be 00..59";
    return NULL;
}

/* parse_fraction reads an optional ".digits" into milliseconds. */
static const char *parse_fraction(const char **sp, int *ms)
{
    const char *s = *sp;
    int n = 0;

    *ms = 0;
    if (*s != '.')
        return NULL;
    for (s++; *s >= '0' && *s <= '9'; s++, n++) {
        if (n < 3)
            *ms = *ms * 10 + (*s - '0');
        else if (*s != '0')
            return "precision finer than a millisecond is not supported";
    }
    if (n == 0)
        return "expected digits after '.'";
    if (n > 9)
        return "the fraction has more than 9 digits";
    for (; n < 3; n++)
        *ms *= 10;
    *sp = s;
    return NULL;
}

/* parse_offset reads "Z", "z" or "+hh:mm"/"-hh:mm" into seconds east. */
static const char *parse_offset(const char **sp, int *off)
{
    const char *s = *sp;
    int h, m;

    *off = 0;
    if (*s == 'Z' || *s == 'z') {
        *sp = s + 1;
        return NULL;
    }
    if (*s == '\0')
        return "it has no UTC offset; add 'Z' or an offset such as +02:00";
    if ((*s != '+' && *s != '-') || !digits(s + 1, 2, &h) || s[3] != ':' ||
        !digits(s + 4, 2, &m))
        return "expected 'Z' or an offset such as +02:00 after the time";
    if (h > 23 || m > 59)
        return "the offset must lie within -23:59..+23:59";
    *off = (*s == '-' ? -1 : 1) * (h * 3600 + m * 60);
    *sp = s + 6;
    return NULL;
}

int tock_time_parse(const char *text, int64_t *out_ms, const char *what,
                    struct tock_error *err)
{
    struct tock_civil c;
    const char *p, *why = NULL;
    char buf[64];
    int ms = 0, off = 0;
    int64_t v;

    if (text == NULL || text[0] == '\0')
        return time_error(err, what, "", "it is empty");
    p = parse_fields(text, &c, &why);
    if (p != NULL && (why = check_fields(&c, buf, sizeof buf)) == NULL &&
        (why = parse_fraction(&p, &ms)) == NULL &&
        (why = parse_offset(&p, &off)) == NULL && *p != '\0')
        why = "unexpected characters after the offset";
    if (why != NULL)
        return time_error(err, what, text, why);
    v = (tock_civil_to_utc(&c) - off) * 1000 + ms;
    if (v < TOCK_TIME_MIN_MS)
        return time_error(err, what, text, "it is before 1970-01-01T00:00:00Z");
    if (v > TOCK_TIME_MAX_MS)
        return time_error(err, what, text, "it is after 9999-12-31T23:59:59.999Z");
    *out_ms = v;
    return 0;
}

/* Offsets with seconds (local mean time; Africa/Monrovia's -00:44:30 until
 * 1972) have no RFC 3339 form: the offset is rounded to whole minutes and
 * the local time shown is that of the rounded offset, so the text still
 * names the exact instant. */
size_t tock_time_format(int64_t ms, const struct tock_tz *tz, char *buf,
                        size_t cap)
{
    int64_t secs = tock_tz__floor_div(ms, 1000), local, days, sod;
    int frac = (int)(ms - secs * 1000), off = 0, n;
    struct tock_civil c;
    char zone[8] = "Z";

    secs = tock_tz__clamp(secs);
    if (tz != NULL) {
        off = (int)tock_tz__floor_div(tock_tz_offset(tz, secs) + 30, 60) * 60;
        snprintf(zone, sizeof zone, "%c%02d:%02d", off < 0 ? '-' : '+',
                 (off < 0 ? -off : off) / 3600, (off < 0 ? -off : off) / 60 % 60);
    }
    local = secs + off;
    days = tock_tz__floor_div(local, DAY);
    sod = local - days * DAY;
    tock_civil_from_days(days, &c);
    n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month,
                 c.day, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    if (frac != 0 && n >= 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, ".%03d", frac);
    if (n >= 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, "%s", zone);
    if (cap == 0 || n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}
