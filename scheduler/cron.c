/* cron.c: cron expressions. See cron.h for the syntax and the rules.
 *
 * An expression is compiled into bit sets (bit v set = value v allowed) for
 * seconds, minutes, hours and months, and into a table of day masks: for
 * every month, leap or common year, and weekday of the 1st, the set of days
 * that pass the day-of-month / day-of-week rule (L, W, # and the OR rule
 * included). 12 * 2 * 7 masks cover every month of every year, so the
 * search never evaluates a day rule at run time and "never fires" is an
 * exact check at parse time.
 *
 * The search (next_civil) walks the fields from month down to second and
 * carries into the field above when a field has no value left, so a
 * result costs a handful of bit scans whatever the distance: no stepping
 * minute by minute.
 */
#include "scheduler/cron.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

/* ------------------------------------------------------------- the type */

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

struct tock_cron {
    uint64_t bits[F_COUNT];  /* allowed values per field (DOW: 0..6) */
    uint32_t dom_last;       /* bit n: "L-n" (L is n = 0) */
    uint32_t dom_w;          /* bit n: "nW" */
    bool dom_lw;             /* "LW" */
    uint8_t dow_last;        /* bit w: "wL" */
    uint8_t dow_nth[7];      /* bit k: "w#k" */
    bool hour_wild;
    uint32_t days[12][2][7]; /* [month-1][leap][wday of the 1st] */
    char text[];             /* normalised text */
};

struct field_def {
    const char *name;
    int min, max;
};

static const struct field_def field_defs[F_COUNT] = {
    {"second", 0, 59},      {"minute", 0, 59}, {"hour", 0, 23},
    {"day-of-month", 1, 31}, {"month", 1, 12},  {"day-of-week", 0, 7},
};

static const char *const month_names[12] = {"JAN", "FEB", "MAR", "APR",
                                            "MAY", "JUN", "JUL", "AUG",
                                            "SEP", "OCT", "NOV", "DEC"};
static const char *const wday_names[7] = {"SUN", "MON", "TUE", "WED",
                                          "THU", "FRI", "SAT"};

/* ---------------------------------------------------------- the parser */

/* One field being parsed: where its text is, what it allows so far. */
struct field {
    int idx;            /* F_* */
    const char *text;   /* the whole field, for messages */
    size_t len;
    struct tock_cron *c;
    struct tock_error *err;
};

/* One term of a field (between commas), read with a cursor. */
struct term {
    const char *p, *end;
    char text[48]; /* the term, truncated, for messages */
};

static int ferr(const struct field *f, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ferr records "cron field '<name>': <message>". */
static int ferr(const struct field *f, int code, const char *fmt, ...)
{
    char msg[TOCK_ERRSTR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tock_error_set(f->err, code, "cron field '%s': %s",
                          field_defs[f->idx].name, msg);
}

static int upper(int ch)
{
    return ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
}

static bool is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* name_index finds a 3-letter name (any case) in `names`; -1 if absent. */
static int name_index(const char *p, const char *const *names, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (upper(p[0]) == names[i][0] && upper(p[1]) == names[i][1] &&
            upper(p[2]) == names[i][2])
            return i;
    return -1;
}

/* bad_name explains a word that is not a value of this field. */
static int bad_name(const struct field *f, const struct term *t,
                    const char *p, size_t n)
{
    if (n == 3 && f->idx != F_MON && name_index(p, month_names, 12) >= 0)
        return ferr(f, TOCK_EINVAL,
                    "'%.3s' is a month name; months go in the 4th field "
                    "(5th with seconds)",
                    p);
    if (n == 3 && f->idx != F_DOW && name_index(p, wday_names, 7) >= 0)
        return ferr(f, TOCK_EINVAL,
                    "'%.3s' is a day-of-week name; use %d-%d here", p,
                    field_defs[f->idx].min, field_defs[f->idx].max);
    if (f->idx == F_MON)
        return ferr(f, TOCK_EINVAL,
                    "'%s' is not a month; use 1-12 or JAN-DEC", t->text);
    if (f->idx == F_DOW)
        return ferr(f, TOCK_EINVAL,
                    "'%s' is not a day of the week; use 0-7 or SUN-SAT",
                    t->text);
    return ferr(f, TOCK_EINVAL, "'%s' is not a number; use %d-%d", t->text,
                field_defs[f->idx].min, field_defs[f->idx].max);
}

/* read_number reads ASCII digits at the cursor into *v (capped so that
 * huge inputs stay out of range instead of overflowing). */
static int read_number(const struct field *f, struct term *t, int *v)
{
    long n = 0;

    if (t->p >= t->end || !is_digit((unsigned char)*t->p)) {
        if (t->p < t->end && (unsigned char)*t->p >= 0x80)
            return ferr(f, TOCK_EINVAL,
                        "'%s' contains a character that is not an ASCII "
                        "digit; use digits 0-9",
                        t->text);
        return ferr(f, TOCK_EINVAL, "'%s' is missing a number", t->text);
    }
    while (t->p < t->end && is_digit((unsigned char)*t->p)) {
        if (n < 1000000)
            n = n * 10 + (*t->p - '0');
        t->p++;
    }
    *v = (int)n;
    return 0;
}

/* read_value reads a number or a 3-letter name of this field. */
static int read_value(const struct field *f, struct term *t, int *v)
{
    const char *p = t->p;
    size_t n = 0;
    int i = -1;

    if (t->p >= t->end || !is_alpha((unsigned char)*t->p))
        return read_number(f, t, v);
    while (p + n < t->end && is_alpha((unsigned char)p[n]))
        n++;
    /* "FRIL" is FRI followed by L; "5L" is handled by the caller. */
    if (n == 4 && f->idx == F_DOW && upper(p[3]) == 'L')
        n = 3;
    if (n == 3 && f->idx == F_MON)
        i = name_index(p, month_names, 12);
    if (n == 3 && f->idx == F_DOW)
        i = name_index(p, wday_names, 7);
    if (i < 0)
        return bad_name(f, t, p, n);
    *v = f->idx == F_MON ? i + 1 : i;
    t->p += 3;
    return 0;
}

static int check_range(const struct field *f, int v)
{
    const struct field_def *d = &field_defs[f->idx];

    if (v < d->min || v > d->max)
        return ferr(f, TOCK_ERANGE, "%d is out of range %d-%d", v, d->min,
                    d->max);
    return 0;
}

/* add_range sets lo..hi step `step` in the field's bit set; DOW 7 is 0. */
static void add_range(const struct field *f, int lo, int hi, int step)
{
    int v;

    for (v = lo; v <= hi; v += step)
        f->c->bits[f->idx] |= 1ULL << (f->idx == F_DOW && v == 7 ? 0 : v);
}

static int read_step(const struct field *f, struct term *t, int *step)
{
    int rc;

    t->p++; /* '/' */
    if ((rc = read_number(f, t, step)) != 0)
        return rc;
    if (*step == 0)
        return ferr(f, TOCK_EINVAL,
                    "step 0 in '%s' is not allowed; use a step of 1 or more",
                    t->text);
    if (*step > field_defs[f->idx].max)
        return ferr(f, TOCK_ERANGE,
                    "step %d in '%s' is larger than the field's range %d-%d",
                    *step, t->text, field_defs[f->idx].min,
                    field_defs[f->idx].max);
    return 0;
}

/* misplaced explains an L, W or # where it has no meaning. */
static int misplaced(const struct field *f, const struct term *t, char ch)
{
    bool day = f->idx == F_DOM || f->idx == F_DOW;

    if (f->idx == F_DOM && (ch == 'W' || ch == 'w'))
        return ferr(f, TOCK_EINVAL,
                    "'%s': W must follow a single day (15W), not a range, "
                    "step or name",
                    t->text);
    if (f->idx == F_DOW && (ch == 'L' || ch == 'l' || ch == '#'))
        return ferr(f, TOCK_EINVAL,
                    "'%s': '%c' must follow a single weekday (5L, 1#2), not "
                    "a range or step",
                    t->text, ch);
    if (f->idx == F_DOM && (ch == 'L' || ch == 'l'))
        return ferr(f, TOCK_EINVAL,
                    "'%s': in day-of-month L stands first (L, L-3, LW)",
                    t->text);
    return ferr(f, TOCK_EINVAL,
                "'%s': '%c' is %sonly allowed in day-of-month (L, L-3, LW, "
                "15W) and day-of-week (5L, 1#2)",
                t->text, ch, day ? "not allowed here; it is " : "");
}

/* term_end requires the cursor to be at the end of the term. */
static int term_end(const struct field *f, const struct term *t)
{
    char ch;

    if (t->p == t->end)
        return 0;
    ch = *t->p;
    if (ch == 'L' || ch == 'l' || ch == 'W' || ch == 'w' || ch == '#')
        return misplaced(f, t, ch);
    return ferr(f, TOCK_EINVAL,
                "'%s' is not a value, range (1-5) or step (*/15)", t->text);
}

/* parse_dom_last handles L, L-n and LW (the cursor is on 'L'). */
static int parse_dom_last(const struct field *f, struct term *t)
{
    int n = 0, rc;

    t->p++;
    if (t->p < t->end && upper(*t->p) == 'W') {
        t->p++;
        f->c->dom_lw = true;
        return term_end(f, t);
    }
    if (t->p < t->end && *t->p == '-') {
        t->p++;
        if ((rc = read_number(f, t, &n)) != 0)
            return rc;
        if (n > 30)
            return ferr(f, TOCK_ERANGE,
                        "'%s': the offset after L- must be 0-30", t->text);
    }
    f->c->dom_last |= 1u << n;
    return term_end(f, t);
}

/* parse_suffix handles a value followed by W (day-of-month), L or #
 * (day-of-week). Returns 1 when the suffix is not special. */
static int parse_suffix(const struct field *f, struct term *t, int v)
{
    int k, rc, w = v == 7 ? 0 : v;

    if (f->idx == F_DOM && t->p < t->end && upper(*t->p) == 'W') {
        t->p++;
        f->c->dom_w |= 1u << v;
        return term_end(f, t);
    }
    if (f->idx == F_DOW && t->p < t->end && upper(*t->p) == 'L') {
        t->p++;
        f->c->dow_last |= (uint8_t)(1u << w);
        return term_end(f, t);
    }
    if (f->idx == F_DOW && t->p < t->end && *t->p == '#') {
        t->p++;
        if ((rc = read_number(f, t, &k)) != 0)
            return rc;
        if (k < 1 || k > 5)
            return ferr(f, TOCK_ERANGE,
                        "'%s': the ordinal after # must be 1-5 (1#2 is the "
                        "second Monday)",
                        t->text);
        f->c->dow_nth[w] |= (uint8_t)(1u << k);
        return term_end(f, t);
    }
    return 1;
}

/* parse_range handles "A", "A-B", "A-B/S" and "A/S" (the cursor is on A). */
static int parse_range(const struct field *f, struct term *t)
{
    int lo, hi, step = 1, rc;
    bool named_hi, ranged = false;

    if ((rc = read_value(f, t, &lo)) != 0 || (rc = check_range(f, lo)) != 0)
        return rc;
    if ((rc = parse_suffix(f, t, lo)) != 1)
        return rc;
    hi = lo;
    if (t->p < t->end && *t->p == '-') {
        t->p++;
        ranged = true;
        named_hi = t->p < t->end && is_alpha((unsigned char)*t->p);
        if ((rc = read_value(f, t, &hi)) != 0 || (rc = check_range(f, hi)))
            return rc;
        /* MON-SUN: SUN ends a week as 7. */
        if (f->idx == F_DOW && named_hi && hi == 0 && lo > 0)
            hi = 7;
        if (hi < lo)
            return ferr(f, TOCK_EINVAL,
                        "range %d-%d is reversed; write the smaller value "
                        "first",
                        lo, hi);
    }
    if (t->p < t->end && *t->p == '/') {
        if (!ranged)
            hi = field_defs[f->idx].max;
        if ((rc = read_step(f, t, &step)) != 0)
            return rc;
    }
    if ((rc = term_end(f, t)) != 0)
        return rc;
    add_range(f, lo, hi, step);
    return 0;
}

/* parse_term parses one comma-separated term. */
static int parse_term(const struct field *f, const char *p, size_t n)
{
    const struct field_def *d = &field_defs[f->idx];
    struct term t = {p, p + n, {0}};
    int step = 1, rc;

    snprintf(t.text, sizeof t.text, "%.*s", (int)(n < 40 ? n : 40), p);
    if (n == 0)
        return ferr(f, TOCK_EINVAL, "empty item in list '%.*s'",
                    (int)(f->len < 60 ? f->len : 60), f->text);
    if (*p == '*') {
        t.p++;
        if (t.p < t.end && *t.p == '/' && (rc = read_step(f, &t, &step)))
            return rc;
        if ((rc = term_end(f, &t)) != 0)
            return rc;
        add_range(f, d->min, f->idx == F_DOW ? 6 : d->max, step);
        return 0;
    }
    if (*p == '?') {
        if (f->idx != F_DOM && f->idx != F_DOW)
            return ferr(f, TOCK_EINVAL,
                        "'?' is only allowed in day-of-month and "
                        "day-of-week; use '*'");
        if (n != f->len)
            return ferr(f, TOCK_EINVAL, "'?' must stand alone in the field");
        add_range(f, d->min, d->max, 1);
        return 0;
    }
    if (f->idx != F_DOM && f->idx != F_DOW && strchr("LlWw#", *p) != NULL)
        return misplaced(f, &t, *p);
    if (f->idx == F_DOM && upper(*p) == 'L')
        return parse_dom_last(f, &t);
    if (f->idx == F_DOW && upper(*p) == 'L' && n == 1)
        return ferr(f, TOCK_EINVAL,
                    "'L' needs a weekday before it here (5L is the last "
                    "Friday of the month)");
    return parse_range(f, &t);
}

/* parse_field splits a field into terms at commas. */
static int parse_field(struct tock_cron *c, int idx, const char *p, size_t n,
                       struct tock_error *err)
{
    struct field f = {idx, p, n, c, err};
    const char *end = p + n, *comma;
    int rc;

    for (;;) {
        comma = memchr(p, ',', (size_t)(end - p));
        if ((rc = parse_term(&f, p, (size_t)((comma ? comma : end) - p))))
            return rc;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* ------------------------------------------------------------ day masks */

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int month, int leap)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};

    return dim[month - 1] + (month == 2 && leap);
}

/* weekday of day `d` of a month whose 1st is weekday `wd1`. */
static int wday_of(int d, int wd1)
{
    return (wd1 + d - 1) % 7;
}

/* nearest_weekday: the Monday-Friday closest to day n, within the month. */
static int nearest_weekday(int n, int dim, int wd1)
{
    int wd = wday_of(n, wd1);

    if (wd == 6)
        return n == 1 ? 3 : n - 1;
    if (wd == 0)
        return n == dim ? n - 2 : n + 1;
    return n;
}

static int last_weekday(int dim, int wd1)
{
    int wd = wday_of(dim, wd1);

    return wd == 6 ? dim - 1 : wd == 0 ? dim - 2 : dim;
}

static uint32_t dom_days(const struct tock_cron *c, int dim, int wd1)
{
    uint32_t full = ((1u << dim) - 1) << 1;
    uint32_t m = (uint32_t)c->bits[F_DOM] & full;
    int n;

    for (n = 0; n <= 30; n++)
        if ((c->dom_last >> n & 1) && dim - n >= 1)
            m |= 1u << (dim - n);
    for (n = 1; n <= 31; n++)
        if ((c->dom_w >> n & 1) && n <= dim)
            m |= 1u << nearest_weekday(n, dim, wd1);
    if (c->dom_lw)
        m |= 1u << last_weekday(dim, wd1);
    return m;
}

static uint32_t dow_days(const struct tock_cron *c, int dim, int wd1)
{
    uint32_t full = ((1u << dim) - 1) << 1;
    uint64_t pat = 0, m;
    int k, w, first;

    for (k = 0; k < 7; k++)
        if (c->bits[F_DOW] >> ((wd1 + k) % 7) & 1)
            pat |= 1ULL << k;
    m = (pat | pat << 7 | pat << 14 | pat << 21 | pat << 28) << 1;
    for (w = 0; w < 7; w++) {
        first = 1 + (w - wd1 + 7) % 7;
        for (k = 1; k <= 5; k++)
            if ((c->dow_nth[w] >> k & 1) && first + 7 * (k - 1) <= dim)
                m |= 1ULL << (first + 7 * (k - 1));
        if (c->dow_last >> w & 1)
            m |= 1ULL << (first + 7 * ((dim - first) / 7));
    }
    return (uint32_t)m & full;
}

/* fill_days computes the day-mask table with the OR rule. */
static void fill_days(struct tock_cron *c)
{
    bool dom_r = (c->bits[F_DOM] & 0xfffffffeULL) != 0xfffffffeULL;
    bool dow_r = (c->bits[F_DOW] & 0x7f) != 0x7f;
    int mo, leap, wd1, dim;
    uint32_t a, b;

    for (mo = 1; mo <= 12; mo++)
        for (leap = 0; leap < 2; leap++)
            for (wd1 = 0; wd1 < 7; wd1++) {
                dim = month_days(mo, leap);
                a = dom_days(c, dim, wd1);
                b = dow_days(c, dim, wd1);
                c->days[mo - 1][leap][wd1] = dom_r && dow_r ? a | b : a & b;
            }
}

/* hour_wild: the hour set is {0, N, 2N, ...} for some step N. */
static bool compute_hour_wild(uint64_t hours)
{
    uint64_t want;
    int n, h;

    for (n = 1; n <= 23; n++) {
        want = 0;
        for (h = 0; h <= 23; h += n)
            want |= 1ULL << h;
        if (want == hours)
            return true;
    }
    return false;
}

/* never_fires: no allowed month has a matching day in any year. */
static bool never_fires(const struct tock_cron *c)
{
    int mo, leap, wd1;

    for (mo = 1; mo <= 12; mo++)
        for (leap = 0; leap < 2; leap++)
            for (wd1 = 0; wd1 < 7; wd1++)
                if ((c->bits[F_MON] >> mo & 1) && c->days[mo - 1][leap][wd1])
                    return false;
    return true;
}

/* ---------------------------------------------------------- expressions */

struct macro {
    const char *name, *expansion;
};

static const struct macro macros[] = {
    {"@yearly", "0 0 0 1 1 *"},  {"@annually", "0 0 0 1 1 *"},
    {"@monthly", "0 0 0 1 * *"}, {"@weekly", "0 0 0 * * 0"},
    {"@daily", "0 0 0 * * *"},   {"@midnight", "0 0 0 * * *"},
    {"@hourly", "0 0 * * * *"},
};

static bool word_eq(const char *a, const char *b, size_t n)
{
    size_t i;

    if (strlen(b) != n)
        return false;
    for (i = 0; i < n; i++)
        if (upper((unsigned char)a[i]) != upper((unsigned char)b[i]))
            return false;
    return true;
}

/* expand_macro maps "@daily" to its 6-field text, or explains a refusal. */
static int expand_macro(const char *p, size_t n, const char **out,
                        struct tock_error *err)
{
    size_t i, word = strcspn(p, " \t");

    for (i = 0; i < sizeof macros / sizeof macros[0]; i++)
        if (word_eq(p, macros[i].name, n)) {
            *out = macros[i].expansion;
            return 0;
        }
    if (word_eq(p, "@reboot", n))
        return tock_error_set(err, TOCK_EINVAL,
                              "cron '@reboot' is not supported: a scheduler "
                              "cluster has no single boot; start the job "
                              "from your init system or use a date trigger");
    if (word_eq(p, "@every", word < n ? word : n))
        return tock_error_set(err, TOCK_EINVAL,
                              "cron '%.40s' is not supported: use an interval "
                              "trigger instead (interval:5s, or tock next "
                              "--every 5s)",
                              p);
    return tock_error_set(err, TOCK_EINVAL,
                          "unknown cron macro '%.40s'; use @yearly, "
                          "@annually, @monthly, @weekly, @daily, @midnight "
                          "or @hourly",
                          p);
}

/* split_fields finds up to 7 whitespace-separated fields in p[0..n). */
static int split_fields(const char *p, size_t n, const char *start[7],
                        size_t len[7])
{
    size_t i = 0;
    int count = 0;

    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (i == n)
            break;
        if (count == 7)
            return 8;
        start[count] = p + i;
        while (i < n && p[i] != ' ' && p[i] != '\t')
            i++;
        len[count] = (size_t)(p + i - start[count]);
        count++;
    }
    return count;
}

/* compile parses the (macro-expanded) fields of `p` into `c`. */
static int compile(struct tock_cron *c, const char *p, size_t n,
                   struct tock_error *err)
{
    const char *start[7];
    size_t len[7];
    int count = split_fields(p, n, start, len), i, first, rc;

    if (count != 5 && count != 6) {
        if (count > 7)
            return tock_error_set(err, TOCK_EINVAL,
                                  "cron expression has more than 7 fields; "
                                  "give 5 (minute hour day-of-month month "
                                  "day-of-week) or 6 (seconds first)");
        return tock_error_set(err, TOCK_EINVAL,
                              "cron expression has %d field%s; give 5 "
                              "(minute hour day-of-month month day-of-week) "
                              "or 6 (seconds first)",
                              count, count == 1 ? "" : "s");
    }
    first = count == 5 ? F_MIN : F_SEC;
    if (count == 5)
        c->bits[F_SEC] = 1;
    for (i = 0; i < count; i++)
        if ((rc = parse_field(c, first + i, start[i], len[i], err)) != 0)
            return rc;
    c->bits[F_DOW] &= 0x7f;
    c->hour_wild = compute_hour_wild(c->bits[F_HOUR]);
    fill_days(c);
    return 0;
}

/* check_chars refuses control characters other than tab. */
static int check_chars(const char *p, size_t n, struct tock_error *err)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return tock_error_set(err, TOCK_EINVAL,
                                  "cron expression contains a control "
                                  "character (byte 0x%02x); write it on one "
                                  "line with spaces or tabs",
                                  (unsigned char)p[i]);
    return 0;
}

/* normalise copies p[0..n) (trimmed) with every run of blanks turned into
 * one space. */
static void normalise(char *dst, const char *p, size_t n)
{
    size_t i;
    bool blank = false;

    for (i = 0; i < n; i++) {
        if (p[i] == ' ' || p[i] == '\t') {
            blank = true;
            continue;
        }
        if (blank)
            *dst++ = ' ';
        blank = false;
        *dst++ = p[i];
    }
    *dst = '\0';
}

/* trim narrows [*p, *p + *n) to exclude leading and trailing blanks. */
static void trim(const char **p, size_t *n)
{
    while (*n > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

static int check_text(const char *text, size_t n, struct tock_error *err)
{
    const char *p = text;

    if (n > TOCK_CRON_MAX_LEN)
        return tock_error_set(err, TOCK_ETOOBIG,
                              "cron expression is %zu bytes long; the limit "
                              "is %d",
                              n, TOCK_CRON_MAX_LEN);
    trim(&p, &n);
    if (n == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "cron expression is empty; give 5 or 6 fields "
                              "such as '0 3 * * *'");
    return check_chars(p, n, err);
}

int tock_cron_parse(const char *text, struct tock_cron **out,
                    struct tock_error *err)
{
    struct tock_cron *c = NULL;
    const char *p = text, *body;
    size_t n = text ? strlen(text) : 0;
    int rc;

    *out = NULL;
    if ((rc = check_text(text ? text : "", n, err)) != 0)
        return rc;
    trim(&p, &n);
    c = tock_calloc(1, sizeof *c + n + 1);
    if (c == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory parsing cron");
    normalise(c->text, p, n);
    body = c->text;
    if (*p == '@' && (rc = expand_macro(p, n, &body, err)) != 0)
        goto fail;
    if ((rc = compile(c, body, strlen(body), err)) != 0)
        goto fail;
    if (never_fires(c)) {
        rc = tock_error_set(err, TOCK_ENOTIME,
                            "cron '%.60s' never fires: no month it allows "
                            "has a day it allows (e.g. 30 February); no next "
                            "time exists",
                            c->text);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    tock_free(c);
    return rc;
}

void tock_cron_free(struct tock_cron *c)
{
    tock_free(c);
}

const char *tock_cron_text(const struct tock_cron *c)
{
    return c->text;
}

bool tock_cron_hour_wild(const struct tock_cron *c)
{
    return c->hour_wild;
}

/* ---------------------------------------------------------- civil search */

/* wday_first returns the weekday of the 1st of (y, m). */
static int wday_first(int y, int m)
{
    int64_t d = tock_days_from_civil(y, m, 1);
    int64_t w = (d + 4) % 7; /* 1970-01-01 was a Thursday */

    return (int)(w < 0 ? w + 7 : w);
}

static uint32_t month_mask(const struct tock_cron *c, int y, int m)
{
    return c->days[m - 1][is_leap(y)][wday_first(y, m)];
}

bool tock_cron_matches(const struct tock_cron *c, const struct tock_civil *t)
{
    return (c->bits[F_SEC] >> t->second & 1) &&
           (c->bits[F_MIN] >> t->minute & 1) &&
           (c->bits[F_HOUR] >> t->hour & 1) &&
           (c->bits[F_MON] >> t->month & 1) &&
           (month_mask(c, t->year, t->month) >> t->day & 1);
}

/* next_bit returns the lowest set bit >= from in `mask`, or -1. */
static int next_bit(uint64_t mask, int from)
{
    if (from >= 64)
        return -1;
    mask &= ~0ULL << from;
    return mask ? __builtin_ctzll(mask) : -1;
}

/* The search state: one civil time, carried field by field. */
struct cursor {
    int v[F_COUNT]; /* F_SEC..F_MON used; F_DOM holds the day */
    int year;
};

/* reset_below sets every field below `idx` to its first value. */
static void reset_below(struct cursor *k, int idx)
{
    int i;

    for (i = F_SEC; i < idx; i++)
        k->v[i] = i == F_DOM || i == F_MON ? 1 : 0;
}

/* carry handles field `idx` running out of values: the field above moves
 * up by one (the year above the month) and everything below restarts. */
static void carry(struct cursor *k, int idx)
{
    if (idx == F_MON) {
        k->year++;
        k->v[F_MON] = 1;
        reset_below(k, F_MON);
        return;
    }
    k->v[idx + 1]++;
    reset_below(k, idx + 1);
}

/* settle moves field `idx` to its next allowed value; false on a carry. */
static bool settle(const struct tock_cron *c, struct cursor *k, int idx)
{
    uint64_t mask = idx == F_DOM ? month_mask(c, k->year, k->v[F_MON])
                                 : c->bits[idx];
    int v = next_bit(mask, k->v[idx]);

    if (v < 0) {
        carry(k, idx);
        return false;
    }
    if (v != k->v[idx]) {
        k->v[idx] = v;
        reset_below(k, idx);
    }
    return true;
}

int tock_cron_next_civil(const struct tock_cron *c, struct tock_civil *t)
{
    static const int order[] = {F_MON, F_DOM, F_HOUR, F_MIN, F_SEC};
    struct cursor k = {{t->second, t->minute, t->hour, t->day, t->month, 0},
                       t->year};
    int64_t w;
    size_t i;

    while (k.year <= TOCK_CRON_YEAR_MAX) {
        for (i = 0; i < 5; i++)
            if (!settle(c, &k, order[i]))
                break;
        if (i < 5)
            continue;
        t->year = k.year;
        t->month = k.v[F_MON];
        t->day = k.v[F_DOM];
        t->hour = k.v[F_HOUR];
        t->minute = k.v[F_MIN];
        t->second = k.v[F_SEC];
        w = (tock_days_from_civil(t->year, t->month, t->day) + 4) % 7;
        t->wday = (int)(w < 0 ? w + 7 : w);
        return 0;
    }
    return TOCK_ENOTIME;
}

/* ---------------------------------------------------- instants and zones */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* civil_of sets *c to the civil time `s` seconds after the epoch, read as
 * UTC (zone offsets are added by the caller). */
static void civil_of(int64_t s, struct tock_civil *c)
{
    int64_t days = floor_div(s, 86400), sod = s - days * 86400;

    tock_civil_from_days(days, c);
    c->hour = (int)(sod / 3600);
    c->minute = (int)(sod / 60 % 60);
    c->second = (int)(sod % 60);
}

static int no_next(const struct tock_cron *c, struct tock_error *err)
{
    return tock_error_set(err, TOCK_ENOTIME,
                          "cron '%.60s' has no occurrence before year %d",
                          c->text, TOCK_CRON_YEAR_MAX + 1);
}

/* next_local finds the first matching civil time at or after local second
 * `local` (seconds since the epoch as if UTC); false if none. */
static bool next_local(const struct tock_cron *c, int64_t local, int64_t *out)
{
    struct tock_civil t;

    civil_of(local, &t);
    if (tock_cron_next_civil(c, &t) != 0)
        return false;
    *out = tock_civil_to_utc(&t);
    return true;
}

/* The stretch of time the search is in: [.., end) with one UTC offset;
 * `has_end` is false when no transition follows. At `end` the offset
 * changes from `off` to `off_after`. */
struct segment {
    int32_t off, off_after;
    int64_t end;
    bool has_end;
};

/* segment_at describes the segment holding instant `cur`, with a
 * transition exactly at `cur` counted as ending it (an empty segment), so
 * a spring-forward gap right at `cur` is not jumped over. */
static void segment_at(const struct tock_tz *tz, int64_t cur,
                       struct segment *s)
{
    s->has_end = tock_tz_next_transition(tz, cur - 1, &s->end, &s->off,
                                         &s->off_after);
    if (!s->has_end)
        s->off = tock_tz_offset(tz, cur);
}

/* segment_after moves to the segment that starts at the end of `s`. */
static void segment_after(const struct tock_tz *tz, struct segment *s)
{
    int64_t start = s->end;
    int32_t before;

    s->off = s->off_after;
    s->has_end = tock_tz_next_transition(tz, start, &s->end, &before,
                                         &s->off_after);
}

/* second_pass reports whether local time `local` at instant `i` is the
 * second pass of a fall-back repeat; *resume is then the first instant
 * after the repeated stretch. */
static bool second_pass(const struct tock_tz *tz, int64_t local, int64_t i,
                        int64_t *resume)
{
    struct tock_civil t;
    int64_t first, second, at;
    int32_t before, after;

    civil_of(local, &t);
    if (tock_tz_from_local(tz, &t, &first, &second) != TOCK_LOCAL_FOLD ||
        i != second || first == second)
        return false;
    if (!tock_tz_next_transition(tz, first, &at, &before, &after))
        return false;
    *resume = at + (second - first);
    return true;
}

/* The search walks the zone's segments in time order. In each it looks
 * for the first matching local time; a match past the segment's end is a
 * match in the next segment or, at a spring-forward, in the gap. Walking
 * by segments (not by local time) visits both passes of a fall-back in
 * real-time order. */
static int next_in_zone(const struct tock_cron *c, const struct tock_tz *tz,
                        int64_t after, int64_t *out, struct tock_error *err)
{
    struct segment s;
    int64_t cur = after + 1, local, i, resume;
    int guard;

    segment_at(tz, cur, &s);
    for (guard = 0; guard < 100000; guard++) {
        if (!next_local(c, cur + s.off, &local))
            return no_next(c, err);
        i = local - s.off;
        if (!s.has_end || i < s.end) {
            if (c->hour_wild || !second_pass(tz, local, i, &resume)) {
                *out = i;
                return 0;
            }
            cur = resume;
            segment_at(tz, cur, &s);
            continue;
        }
        /* Spring forward: local times [end + off, end + off_after) do not
         * exist; a match among them fires once, when the gap ends. */
        if (!c->hour_wild && s.off_after > s.off &&
            local < s.end + s.off_after) {
            *out = s.end;
            return 0;
        }
        cur = s.end;
        segment_after(tz, &s);
    }
    return tock_error_set(err, TOCK_EINTERNAL,
                          "cron '%.60s': the time-zone search did not "
                          "converge; please report this bug",
                          c->text);
}

/* Searches start within the years tock can represent (plus a day of zone
 * offset), so `after + 1` and the civil arithmetic cannot overflow. */
#define CRON_AFTER_MIN (-86400LL * 2)
#define CRON_AFTER_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

int tock_cron_next(const struct tock_cron *c, const struct tock_tz *tz,
                   int64_t after, int64_t *out, struct tock_error *err)
{
    int64_t local;

    if (after >= CRON_AFTER_MAX)
        return no_next(c, err);
    if (after < CRON_AFTER_MIN)
        after = CRON_AFTER_MIN;
    if (tz != NULL)
        return next_in_zone(c, tz, after, out, err);
    if (!next_local(c, after + 1, &local))
        return no_next(c, err);
    *out = local;
    return 0;
}
