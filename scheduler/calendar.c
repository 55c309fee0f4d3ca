/* calendar.c: calendar triggers. See calendar.h for the text form and the
 * month-end and DST rules.
 *
 * Occurrence k is computed directly from the anchor (never by adding one
 * period to the previous date, which would drift from the 31st to the
 * 28th for good after one February), and next() estimates k from the
 * local date of `after`, then checks at most a few neighbours.
 */
#include "scheduler/calendar.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define CAL_YEAR_MAX 9999

struct unit_def {
    const char *one, *many;
    int max_every; /* 100 years of this unit, the same cap as intervals */
};

static const struct unit_def units[] = {
    {"day", "days", 36525},
    {"week", "weeks", 5218},
    {"month", "months", 1200},
    {"year", "years", 100},
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* --------------------------------------------------------------- parsing */

/* A cursor over blank-separated words. */
struct words {
    const char *p;
    char w[48]; /* the current word, truncated */
    size_t len; /* its full length */
};

/* next_word reads the next word; false at the end of the text. */
static bool next_word(struct words *s)
{
    size_t n;

    while (*s->p == ' ' || *s->p == '\t')
        s->p++;
    n = strcspn(s->p, " \t");
    if (n == 0)
        return false;
    s->len = n;
    snprintf(s->w, sizeof s->w, "%.*s", (int)(n < 47 ? n : 47), s->p);
    s->p += n;
    return true;
}

static int cal_err(struct tock_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* cal_err records "calendar: <message>; write e.g. ...". */
static int cal_err(struct tock_error *err, const char *fmt, ...)
{
    char msg[TOCK_ERRSTR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tock_error_set(err, TOCK_EINVAL,
                          "calendar: %s; write e.g. 'every 2 weeks at 09:30 "
                          "from 2026-01-05'",
                          msg);
}

/* digits_at reads exactly n ASCII digits at p. */
static bool digits_at(const char *p, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *v = *v * 10 + (p[i] - '0');
    }
    return true;
}

static bool parse_count(const char *w, size_t len, int *v)
{
    size_t i;

    if (len == 0 || len > 6 || w[0] == '0')
        return false;
    *v = 0;
    for (i = 0; i < len; i++) {
        if (w[i] < '0' || w[i] > '9')
            return false;
        *v = *v * 10 + (w[i] - '0');
    }
    return true;
}

static int find_unit(const char *w)
{
    int i;

    for (i = 0; i < 4; i++)
        if (strcmp(w, units[i].one) == 0 || strcmp(w, units[i].many) == 0)
            return i;
    return -1;
}

static int parse_every(struct words *s, struct tock_calendar *c,
                       struct tock_error *err)
{
    if (!next_word(s) || strcmp(s->w, "every") != 0)
        return cal_err(err, "expected 'every' first");
    if (!next_word(s))
        return cal_err(err, "expected a unit after 'every'");
    c->every = 1;
    if (s->w[0] >= '0' && s->w[0] <= '9') {
        if (!parse_count(s->w, s->len, &c->every))
            return cal_err(err, "'%s' is not a count (1, 2, ...)", s->w);
        if (!next_word(s))
            return cal_err(err, "expected a unit after the count");
    }
    c->unit = find_unit(s->w);
    if (c->unit < 0)
        return cal_err(err,
                       "'%s' is not a unit; use day(s), week(s), month(s) or "
                       "year(s)",
                       s->w);
    if (c->every > units[c->unit].max_every)
        return tock_error_set(err, TOCK_ERANGE,
                              "calendar: every %d %s is more than 100 years; "
                              "use at most %d",
                              c->every, units[c->unit].many,
                              units[c->unit].max_every);
    return 0;
}

static int parse_time(struct words *s, struct tock_calendar *c,
                      struct tock_error *err)
{
    const char *w = s->w;

    if (!next_word(s) || strcmp(s->w, "at") != 0)
        return cal_err(err, "expected 'at HH:MM' after the unit");
    if (!next_word(s))
        return cal_err(err, "expected a time of day after 'at'");
    if ((s->len != 5 && s->len != 8) || !digits_at(w, 2, &c->hour) ||
        w[2] != ':' || !digits_at(w + 3, 2, &c->minute) ||
        (s->len == 8 && (w[5] != ':' || !digits_at(w + 6, 2, &c->second))))
        return cal_err(err, "'%s' is not a time of day (HH:MM or HH:MM:SS)",
                       w);
    if (c->hour > 23 || c->minute > 59 || c->second > 59)
        return tock_error_set(err, TOCK_ERANGE,
                              "calendar: time of day '%s' is out of range "
                              "00:00:00-23:59:59",
                              w);
    return 0;
}

static int parse_from(struct words *s, struct tock_calendar *c,
                      struct tock_error *err)
{
    const char *w = s->w;

    if (!next_word(s))
        return 0;
    if (strcmp(s->w, "from") != 0)
        return cal_err(err, "unexpected '%s' after the time of day", s->w);
    if (!next_word(s))
        return cal_err(err, "expected a date (YYYY-MM-DD) after 'from'");
    if (s->len != 10 || !digits_at(w, 4, &c->year) || w[4] != '-' ||
        !digits_at(w + 5, 2, &c->month) || w[7] != '-' ||
        !digits_at(w + 8, 2, &c->day))
        return cal_err(err, "'%s' is not a date (YYYY-MM-DD)", w);
    if (c->year < 1970 || c->month < 1 || c->month > 12 || c->day < 1 ||
        c->day > tock_days_in_month(c->year, c->month))
        return tock_error_set(err, TOCK_ERANGE,
                              "calendar: '%s' is not a date between "
                              "1970-01-01 and 9999-12-31",
                              w);
    if (next_word(s))
        return cal_err(err, "unexpected '%s' after the date", s->w);
    return 0;
}

int tock_calendar_parse(const char *text, struct tock_calendar *out,
                        struct tock_error *err)
{
    struct tock_calendar c = {0};
    struct words s = {text ? text : "", {0}, 0};
    int rc;

    if ((rc = parse_every(&s, &c, err)) != 0 ||
        (rc = parse_time(&s, &c, err)) != 0 ||
        (rc = parse_from(&s, &c, err)) != 0)
        return rc;
    *out = c;
    return 0;
}

size_t tock_calendar_format(const struct tock_calendar *c, char *buf,
                            size_t cap)
{
    char count[16] = "", tod[16], from[32] = "";
    int n;

    if (c->every != 1)
        snprintf(count, sizeof count, "%d ", c->every);
    if (c->second != 0)
        snprintf(tod, sizeof tod, "%02d:%02d:%02d", c->hour, c->minute,
                 c->second);
    else
        snprintf(tod, sizeof tod, "%02d:%02d", c->hour, c->minute);
    if (c->year != 0)
        snprintf(from, sizeof from, " from %04d-%02d-%02d", c->year,
                 c->month, c->day);
    n = snprintf(buf, cap, "every %s%s at %s%s", count,
                 c->every == 1 ? units[c->unit].one : units[c->unit].many,
                 tod, from);
    return n < 0 ? 0 : (size_t)n;
}

/* ------------------------------------------------------------ occurrences */

static void civil_of(int64_t s, struct tock_civil *c)
{
    int64_t days = floor_div(s, 86400), sod = s - days * 86400;

    tock_civil_from_days(days, c);
    c->hour = (int)(sod / 3600);
    c->minute = (int)(sod / 60 % 60);
    c->second = (int)(sod % 60);
}

/* local_of sets *c to the local civil time of instant `t`. */
static void local_of(const struct tock_tz *tz, int64_t t, struct tock_civil *c)
{
    if (tz == NULL)
        civil_of(t, c);
    else
        tock_tz_to_local(tz, t, c, NULL);
}

void tock_calendar_anchor(struct tock_calendar *c, const struct tock_tz *tz,
                          int64_t now)
{
    struct tock_civil l;

    if (c->year != 0)
        return;
    local_of(tz, now, &l);
    c->year = l.year;
    c->month = l.month;
    c->day = l.day;
}

/* date_of sets the date of occurrence k in *d (year, month, day). */
static void date_of(const struct tock_calendar *c, int64_t k,
                    struct tock_civil *d)
{
    int64_t idx, step = (int64_t)c->every * k;
    int dim;

    switch (c->unit) {
    case TOCK_CAL_DAY:
    case TOCK_CAL_WEEK:
        tock_civil_from_days(tock_days_from_civil(c->year, c->month, c->day) +
                                 step * (c->unit == TOCK_CAL_WEEK ? 7 : 1),
                             d);
        return;
    case TOCK_CAL_MONTH:
        idx = (int64_t)c->year * 12 + (c->month - 1) + step;
        d->year = (int)(idx > 120000 ? 10000 : idx / 12);
        d->month = (int)(idx % 12) + 1;
        break;
    default:
        d->year = (int)(c->year + (step > 10000 ? 10000 : step));
        d->month = c->month;
    }
    dim = tock_days_in_month(d->year, d->month);
    d->day = c->day < dim ? c->day : dim;
}

/* instant_of maps a local date at the calendar's time of day to the
 * instant it fires: a time in a gap fires when the gap ends, a repeated
 * time in its first pass. */
static int64_t instant_of(const struct tock_calendar *c,
                          const struct tock_tz *tz, struct tock_civil *d)
{
    int64_t first, second;

    d->hour = c->hour;
    d->minute = c->minute;
    d->second = c->second;
    if (tz == NULL)
        return tock_civil_to_utc(d);
    tock_tz_from_local(tz, d, &first, &second);
    return first;
}

/* first_k estimates an occurrence index at or a little before `after`. */
static int64_t first_k(const struct tock_calendar *c, const struct tock_tz *tz,
                       int64_t after)
{
    struct tock_civil l;
    int64_t diff, per = c->every;

    local_of(tz, after, &l);
    if (c->unit == TOCK_CAL_DAY || c->unit == TOCK_CAL_WEEK) {
        diff = tock_days_from_civil(l.year, l.month, l.day) -
               tock_days_from_civil(c->year, c->month, c->day);
        per *= c->unit == TOCK_CAL_WEEK ? 7 : 1;
    } else if (c->unit == TOCK_CAL_MONTH) {
        diff = ((int64_t)l.year * 12 + l.month) -
               ((int64_t)c->year * 12 + c->month);
    } else {
        diff = (int64_t)l.year - c->year;
    }
    diff = floor_div(diff, per) - 2;
    return diff < 0 ? 0 : diff;
}

int tock_calendar_next(const struct tock_calendar *c, const struct tock_tz *tz,
                       int64_t after, int64_t *out, struct tock_error *err)
{
    struct tock_civil d;
    int64_t k, t;
    int i;

    if (c->year == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "calendar trigger has no 'from' date; anchor "
                              "it first");
    k = first_k(c, tz, after);
    for (i = 0; i < 16; i++, k++) {
        date_of(c, k, &d);
        if (d.year > CAL_YEAR_MAX)
            break;
        t = instant_of(c, tz, &d);
        if (t > after) {
            *out = t;
            return 0;
        }
    }
    return tock_error_set(err, TOCK_ENOTIME,
                          "calendar trigger has no occurrence before year "
                          "10000");
}
