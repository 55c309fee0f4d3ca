/* tzrule.c: parsing and evaluating POSIX TZ rule strings (TZif footers).
 *
 * Evaluation does not assume the hemisphere or that a year's DST start
 * precedes its end. For an instant t it lists the transitions of the local
 * years around t and takes the latest one at or before t; ties at the same
 * instant go to the later-generated entry (later year, end after start), so
 * a DST-all-year rule such as "EST5EDT,0/0,J365/25", whose end of year Y
 * coincides with the start of year Y+1, stays in DST. Each year's list is a
 * handful of date computations; nothing is cached.
 */
#include "scheduler/tzrule.h"

#include <string.h>

#include "scheduler/tz.h"
#include "scheduler/tz_internal.h"

#define HOUR 3600
#define DAY 86400LL
/* RFC 8536 3.3.1: transition times may range over -167..167 hours. */
#define RULE_TIME_MAX (167 * HOUR + 59 * 60 + 59)
/* POSIX: offsets have hours 0..24. */
#define RULE_OFF_MAX (24 * HOUR + 59 * 60 + 59)

/* ----------------------------------------------------------------- parser */

struct cursor {
    const char *p;
    const char *end;
};

static int peek(const struct cursor *c)
{
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static bool is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* parse_uint reads 1..maxdigits decimal digits into *out. */
static bool parse_uint(struct cursor *c, int maxdigits, int *out)
{
    int n = 0, v = 0;

    while (n < maxdigits && is_digit(peek(c))) {
        v = v * 10 + (*c->p++ - '0');
        n++;
    }
    *out = v;
    return n > 0 && !is_digit(peek(c));
}

/* parse_name reads an abbreviation: 3+ letters, or <3+ of [A-Za-z0-9+-]>. */
static const char *parse_name(struct cursor *c)
{
    const char *start;

    if (peek(c) == '<') {
        c->p++;
        start = c->p;
        while (is_alpha(peek(c)) || is_digit(peek(c)) || peek(c) == '+' ||
               peek(c) == '-')
            c->p++;
        if (peek(c) != '>')
            return "unterminated or invalid <quoted> name";
        if (c->p - start < 3)
            return "a zone abbreviation needs at least 3 characters";
        c->p++;
        return NULL;
    }
    start = c->p;
    while (is_alpha(peek(c)))
        c->p++;
    return c->p - start < 3 ? "a zone abbreviation needs at least 3 letters"
                            : NULL;
}

/* parse_hms reads [+-]h[h[h]][:mm[:ss]] into signed seconds. */
static const char *parse_hms(struct cursor *c, int32_t max, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;

    if (peek(c) == '+' || peek(c) == '-')
        sign = *c->p++ == '-' ? -1 : 1;
    if (!parse_uint(c, 3, &h))
        return "expected hours";
    if (peek(c) == ':') {
        c->p++;
        if (!parse_uint(c, 2, &m) || m > 59)
            return "minutes must be 00..59";
        if (peek(c) == ':') {
            c->p++;
            if (!parse_uint(c, 2, &s) || s > 59)
                return "seconds must be 00..59";
        }
    }
    if (h * HOUR + m * 60 + s > max)
        return "hours out of range";
    *out = sign * (h * HOUR + m * 60 + s);
    return NULL;
}

/* parse_date reads Jn, n or Mm.w.d, then an optional /time. */
static const char *parse_date(struct cursor *c, struct tock_tzrule_date *d)
{
    d->time = 2 * HOUR;
    if (peek(c) == 'M') {
        c->p++;
        d->kind = TOCK_TZRULE_MONTH;
        if (!parse_uint(c, 2, &d->month) || d->month < 1 || d->month > 12)
            return "month must be 1..12";
        if (peek(c) != '.' || (c->p++, !parse_uint(c, 1, &d->week)) ||
            d->week < 1 || d->week > 5)
            return "week must be 1..5";
        if (peek(c) != '.' || (c->p++, !parse_uint(c, 1, &d->wday)) ||
            d->wday > 6)
            return "weekday must be 0..6";
    } else if (peek(c) == 'J') {
        c->p++;
        d->kind = TOCK_TZRULE_JULIAN1;
        if (!parse_uint(c, 3, &d->day) || d->day < 1 || d->day > 365)
            return "Julian day must be 1..365";
    } else {
        d->kind = TOCK_TZRULE_JULIAN0;
        if (!parse_uint(c, 3, &d->day) || d->day > 365)
            return "expected a date (Mm.w.d, Jn or n)";
    }
    if (peek(c) != '/')
        return NULL;
    c->p++;
    return parse_hms(c, RULE_TIME_MAX, &d->time);
}

/* parse_dst reads everything after the standard offset. */
static const char *parse_dst(struct cursor *c, struct tock_tzrule *r)
{
    static const char us_rule[] = ",M3.2.0,M11.1.0";
    struct cursor dflt = {us_rule, us_rule + sizeof us_rule - 1};
    const char *why;

    if ((why = parse_name(c)) != NULL)
        return why;
    r->has_dst = true;
    r->dst_off = r->std_off + HOUR;
    if (peek(c) != ',' && peek(c) != -1) {
        int32_t posix;
        if ((why = parse_hms(c, RULE_OFF_MAX, &posix)) != NULL)
            return why;
        r->dst_off = -posix;
    }
    if (peek(c) == -1)
        c = &dflt;
    if (peek(c) != ',')
        return "expected ',' before the DST start date";
    c->p++;
    if ((why = parse_date(c, &r->start)) != NULL)
        return why;
    if (peek(c) != ',')
        return "expected ',' before the DST end date";
    c->p++;
    return parse_date(c, &r->end);
}

int tock_tzrule_parse(const char *text, size_t len, struct tock_tzrule *out,
                      struct tock_error *err)
{
    struct cursor c = {text, text + len};
    const char *why;
    int32_t posix = 0;

    memset(out, 0, sizeof *out);
    why = parse_name(&c);
    if (why == NULL)
        why = parse_hms(&c, RULE_OFF_MAX, &posix);
    out->std_off = -posix;
    out->dst_off = out->std_off;
    if (why == NULL && peek(&c) != -1)
        why = parse_dst(&c, out);
    if (why == NULL && peek(&c) != -1)
        why = "unexpected characters at the end";
    if (why == NULL)
        return 0;
    return tock_error_set(err, TOCK_EFORMAT, "TZ rule '%.*s': %s",
                          (int)(len > 80 ? 80 : len), text, why);
}

/* ------------------------------------------------------------- evaluation */

/* One transition the rule generates: at `at` the offset becomes `off`.
 * `seq` orders entries at the same instant (see the file comment). */
struct rule_tr {
    int64_t at;
    int32_t off;
    int seq;
};

/* date_days returns the day (since the epoch) `d` names in `year`. */
static int64_t date_days(const struct tock_tzrule_date *d, int year)
{
    int64_t first, dim;
    int wfirst, off;

    switch (d->kind) {
    case TOCK_TZRULE_JULIAN1:
        first = tock_days_from_civil(year, 1, 1);
        return first + d->day - 1 + (d->day >= 60 && tock_days_in_month(year, 2) == 29);
    case TOCK_TZRULE_JULIAN0:
        return tock_days_from_civil(year, 1, 1) + d->day;
    default:
        break;
    }
    first = tock_days_from_civil(year, d->month, 1);
    dim = tock_days_in_month(year, d->month);
    wfirst = tock_tz__weekday(first);
    off = (d->wday - wfirst + 7) % 7 + 7 * (d->week - 1);
    if (off >= dim) /* week 5 means "last": step back into the month */
        off -= 7;
    return first + off;
}

/* year_transitions writes the two transitions of local year `year`. */
static void year_transitions(const struct tock_tzrule *r, int year,
                             struct rule_tr out[2])
{
    out[0].at = date_days(&r->start, year) * DAY + r->start.time - r->std_off;
    out[0].off = r->dst_off;
    out[0].seq = 2 * year;
    out[1].at = date_days(&r->end, year) * DAY + r->end.time - r->dst_off;
    out[1].off = r->std_off;
    out[1].seq = 2 * year + 1;
}

/* local_year returns the standard-time calendar year of instant t. */
static int local_year(const struct tock_tzrule *r, int64_t t)
{
    struct tock_civil c;

    tock_civil_from_days(tock_tz__floor_div(t + r->std_off, DAY), &c);
    return c.year;
}

static bool tr_before(const struct rule_tr *a, const struct rule_tr *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

int32_t tock_tzrule_offset(const struct tock_tzrule *r, int64_t t)
{
    struct rule_tr tr[2], best = {INT64_MIN, r->std_off, 0};
    int y;

    if (!r->has_dst)
        return r->std_off;
    t = tock_tz__clamp(t);
    y = local_year(r, t);
    /* Year y-2's transitions lie at most ~8 days into year y-1 (167 h of
     * rule time plus an offset), so at least one entry is <= t. */
    for (int yy = y - 2; yy <= y + 1; yy++) {
        year_transitions(r, yy, tr);
        for (int i = 0; i < 2; i++)
            if (tr[i].at <= t && tr_before(&best, &tr[i]))
                best = tr[i];
    }
    return best.off;
}

/* next_candidate returns the earliest generated transition after t. Year
 * y+2's entries are > t and each year's entries come ~365 days after the
 * previous year's, so nothing beyond y+2 can be earlier. */
static int64_t next_candidate(const struct tock_tzrule *r, int64_t t)
{
    struct rule_tr tr[2];
    int64_t best = INT64_MAX;
    int y = local_year(r, t);

    for (int yy = y - 1; yy <= y + 2; yy++) {
        year_transitions(r, yy, tr);
        for (int i = 0; i < 2; i++)
            if (tr[i].at > t && tr[i].at < best)
                best = tr[i].at;
    }
    return best;
}

bool tock_tzrule_next(const struct tock_tzrule *r, int64_t after,
                      int64_t *at, int32_t *before, int32_t *after_off)
{
    int64_t t = tock_tz__clamp(after);
    int32_t cur;

    if (!r->has_dst || after >= TOCK_TZ_T_LIMIT)
        return false;
    cur = tock_tzrule_offset(r, t);
    /* Real rules change offset at every candidate; a rule that changes
     * nothing for 8 years (DST all year) changes nothing ever. */
    for (int i = 0; i < 16; i++) {
        int64_t cand = next_candidate(r, t);
        int32_t off;

        if (cand > TOCK_TZ_T_LIMIT)
            return false;
        off = tock_tzrule_offset(r, cand);
        if (off != cur) {
            *at = cand;
            *before = cur;
            *after_off = off;
            return true;
        }
        t = cand;
    }
    return false;
}
