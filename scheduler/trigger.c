/* trigger.c: triggers of every kind: text form, next occurrence, bounds,
 * anchors and jitter. See trigger.h for the text forms.
 *
 * Cron and calendar triggers have one-second resolution and work in
 * seconds; dates and intervals keep milliseconds. `after` is turned into
 * seconds by flooring, which keeps "strictly after" exact: the next whole
 * second after floor(after / 1000) is also after `after`.
 */
#include "scheduler/trigger.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/parse.h"
#include "scheduler/calendar.h"
#include "scheduler/cron.h"

struct tock_trigger {
    enum tock_trigger_kind kind;
    int64_t start_ms, end_ms; /* inclusive bounds */
    struct tock_tz *tz;       /* cron, calendar, date with a zone; NULL = UTC */
    union {
        struct {
            int64_t at_ms;
            int32_t offset; /* the offset it was written with, for text */
        } date;
        struct {
            int64_t period_ms, anchor_ms; /* TOCK_TRIGGER_UNANCHORED */
        } interval;
        struct tock_cron *cron;
        struct tock_calendar cal;
        struct {
            struct tock_trigger **child;
            size_t count;
        } set;
    } u;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---------------------------------------------------------- construction */

static struct tock_trigger *trigger_alloc(enum tock_trigger_kind kind)
{
    struct tock_trigger *t = tock_calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->kind = kind;
    t->start_ms = TOCK_TIME_MIN_MS;
    t->end_ms = TOCK_TIME_MAX_MS;
    return t;
}

void tock_trigger_free(struct tock_trigger *t)
{
    size_t i;

    if (t == NULL)
        return;
    if (t->kind == TOCK_TRIGGER_CRON)
        tock_cron_free(t->u.cron);
    if (t->kind == TOCK_TRIGGER_AND || t->kind == TOCK_TRIGGER_OR) {
        for (i = 0; i < t->u.set.count; i++)
            tock_trigger_free(t->u.set.child[i]);
        tock_free(t->u.set.child);
    }
    tock_tz_free(t->tz);
    tock_free(t);
}

static int oom(struct tock_error *err)
{
    return tock_error_set(err, TOCK_ENOMEM, "out of memory building a trigger");
}

/* load_zone loads `name` into *tz; "UTC" is the default and stays NULL. */
static int load_zone(const char *name, struct tock_tz **tz,
                     struct tock_error *err)
{
    *tz = NULL;
    if (name == NULL || strcmp(name, "UTC") == 0)
        return 0;
    if (*name == '\0')
        return tock_error_set(err, TOCK_EINVAL,
                              "the time zone after '@' is empty; give an "
                              "IANA name such as Europe/Berlin, or drop the "
                              "'@' for UTC");
    return tock_tz_load(name, tz, err);
}

static int check_period(int64_t period_ms, struct tock_error *err)
{
    char max[32];

    if (period_ms >= 1 && period_ms <= TOCK_DURATION_MAX_MS)
        return 0;
    tock_format_duration_ms(TOCK_DURATION_MAX_MS, max, sizeof max);
    return tock_error_set(err, TOCK_ERANGE,
                          "interval of %lld ms is out of range; give 1ms to "
                          "%s",
                          (long long)period_ms, max);
}

static int check_instant(int64_t ms, const char *what, struct tock_error *err)
{
    if (ms >= TOCK_TIME_MIN_MS && ms <= TOCK_TIME_MAX_MS)
        return 0;
    return tock_error_set(err, TOCK_ERANGE,
                          "%s %lld ms is out of range; give a time between "
                          "1970-01-01 and 9999-12-31",
                          what, (long long)ms);
}

int tock_trigger_new_date(int64_t at_ms, struct tock_trigger **out,
                          struct tock_error *err)
{
    int rc;

    *out = NULL;
    if ((rc = check_instant(at_ms, "date", err)) != 0)
        return rc;
    if ((*out = trigger_alloc(TOCK_TRIGGER_DATE)) == NULL)
        return oom(err);
    (*out)->u.date.at_ms = at_ms;
    return 0;
}

int tock_trigger_new_interval(int64_t period_ms, int64_t anchor_ms,
                              struct tock_trigger **out,
                              struct tock_error *err)
{
    int rc;

    *out = NULL;
    if ((rc = check_period(period_ms, err)) != 0)
        return rc;
    if (anchor_ms != TOCK_TRIGGER_UNANCHORED &&
        (rc = check_instant(anchor_ms, "interval anchor", err)) != 0)
        return rc;
    if ((*out = trigger_alloc(TOCK_TRIGGER_INTERVAL)) == NULL)
        return oom(err);
    (*out)->u.interval.period_ms = period_ms;
    (*out)->u.interval.anchor_ms = anchor_ms;
    return 0;
}

int tock_trigger_new_cron(const char *expr, const char *zone,
                          struct tock_trigger **out, struct tock_error *err)
{
    struct tock_trigger *t;
    int rc;

    *out = NULL;
    if ((t = trigger_alloc(TOCK_TRIGGER_CRON)) == NULL)
        return oom(err);
    if ((rc = tock_cron_parse(expr, &t->u.cron, err)) != 0 ||
        (rc = load_zone(zone, &t->tz, err)) != 0) {
        tock_trigger_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ------------------------------------------------------------ text: parse */

static int parse_node(char *s, int depth, struct tock_trigger **out,
                      struct tock_error *err);

/* trim strips blanks around s in place and returns the new start. */
static char *trim(char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* split_zone cuts "BODY@ZONE" at the last '@' that is not the first
 * character (cron macros start with '@') and returns ZONE, or NULL. */
static const char *split_zone(char *body)
{
    char *at = strrchr(body, '@');

    if (at == NULL || at == body)
        return NULL;
    *at = '\0';
    return at + 1;
}

/* offset_of returns the UTC offset (seconds) written at the end of a
 * timestamp that tock_time_parse accepted: 'Z' or "+HH:MM". */
static int32_t offset_of(const char *text)
{
    size_t n = strlen(text);
    const char *o = text + n - 6;
    int32_t v;

    if (n < 6 || text[n - 1] == 'Z' || text[n - 1] == 'z')
        return 0;
    v = ((o[1] - '0') * 10 + (o[2] - '0')) * 3600 +
        ((o[4] - '0') * 10 + (o[5] - '0')) * 60;
    return o[0] == '-' ? -v : v;
}

/* has_offset tells whether a timestamp names its offset (Z or +/-HH:MM
 * after the time). */
static bool has_offset(const char *text)
{
    const char *t = strpbrk(text, "Tt");

    return t != NULL && strpbrk(t, "Zz+-") != NULL;
}

/* format_offset writes a UTC offset as "+HH:MM" / "-HH:MM". */
static void format_offset(int32_t off, char buf[8])
{
    int32_t a = off < 0 ? -off : off;

    snprintf(buf, 8, "%c%02d:%02d", off < 0 ? '-' : '+', (int)(a / 3600 % 100),
             (int)(a / 60 % 60));
}

static void civil_of(int64_t s, struct tock_civil *c)
{
    int64_t days = floor_div(s, 86400), sod = s - days * 86400;

    tock_civil_from_days(days, c);
    c->hour = (int)(sod / 3600);
    c->minute = (int)(sod / 60 % 60);
    c->second = (int)(sod % 60);
}

/* parse_local_date reads a zone-less timestamp as local time in tz (NULL:
 * UTC) and refuses times that do not exist or happen twice. */
static int parse_local_date(const char *body, const struct tock_tz *tz,
                            int64_t *ms, struct tock_error *err)
{
    char buf[80];
    struct tock_civil c;
    int64_t local_ms = 0, first, second;
    enum tock_tz_local_kind kind;
    char off[8];
    int rc;

    snprintf(buf, sizeof buf, "%.70sZ", body);
    if ((rc = tock_time_parse(buf, &local_ms, "date", err)) != 0 || !tz) {
        *ms = local_ms;
        return rc;
    }
    civil_of(floor_div(local_ms, 1000), &c);
    kind = tock_tz_from_local(tz, &c, &first, &second);
    if (kind == TOCK_LOCAL_GAP)
        return tock_error_set(err, TOCK_EINVAL,
                              "date %.40s does not exist in %s (the clocks "
                              "skip it); give the time after the change or "
                              "an explicit offset",
                              body, tock_tz_name(tz));
    format_offset(tock_tz_offset(tz, first), off);
    if (kind == TOCK_LOCAL_FOLD)
        return tock_error_set(err, TOCK_EINVAL,
                              "date %.40s happens twice in %s (the clocks go "
                              "back); add the offset to say which, e.g. "
                              "%.19s%s",
                              body, tock_tz_name(tz), body, off);
    *ms = first * 1000 + (local_ms - floor_div(local_ms, 1000) * 1000);
    return check_instant(*ms, "date", err);
}

static int parse_date(struct tock_trigger *t, char *body,
                      struct tock_error *err)
{
    const char *zone = split_zone(body);
    int32_t zone_off;
    char off[8];
    int rc;

    if ((rc = load_zone(zone, &t->tz, err)) != 0)
        return rc;
    if (!has_offset(body)) {
        if (zone == NULL)
            return tock_error_set(err, TOCK_EINVAL,
                                  "date '%.40s' has no UTC offset; add Z, "
                                  "an offset such as +02:00, or a zone "
                                  "(@Europe/Berlin)",
                                  body);
        return parse_local_date(body, t->tz, &t->u.date.at_ms, err);
    }
    if ((rc = tock_time_parse(body, &t->u.date.at_ms, "date", err)) != 0)
        return rc;
    t->u.date.offset = offset_of(body);
    zone_off = t->tz ? tock_tz_offset(t->tz, floor_div(t->u.date.at_ms, 1000))
                     : 0;
    format_offset(zone_off, off);
    if (zone != NULL && zone_off != t->u.date.offset)
        return tock_error_set(err, TOCK_EINVAL,
                              "date %.40s: its offset conflicts with %s, "
                              "which is at UTC%s then; fix the offset or "
                              "drop it",
                              body, zone, off);
    return 0;
}

static int parse_interval(struct tock_trigger *t, char *body,
                          struct tock_error *err)
{
    char *at = strchr(body, '@');
    int rc;

    t->u.interval.anchor_ms = TOCK_TRIGGER_UNANCHORED;
    if (at != NULL)
        *at = '\0';
    rc = tock_parse_duration_ms(body, 1, TOCK_DURATION_MAX_MS,
                                &t->u.interval.period_ms, "interval", err);
    if (rc != 0 || at == NULL)
        return rc;
    return tock_time_parse(at + 1, &t->u.interval.anchor_ms,
                           "interval anchor", err);
}

static int parse_cron(struct tock_trigger *t, char *body,
                      struct tock_error *err)
{
    const char *zone = split_zone(body);
    int rc;

    if ((rc = tock_cron_parse(body, &t->u.cron, err)) != 0)
        return rc;
    return load_zone(zone, &t->tz, err);
}

static int parse_calendar(struct tock_trigger *t, char *body,
                          struct tock_error *err)
{
    const char *zone = split_zone(body);
    int rc;

    if ((rc = tock_calendar_parse(body, &t->u.cal, err)) != 0)
        return rc;
    return load_zone(zone, &t->tz, err);
}

/* A kind and how to parse its body. */
struct kind_def {
    const char *prefix;
    enum tock_trigger_kind kind;
    int (*parse)(struct tock_trigger *t, char *body, struct tock_error *err);
};

static const struct kind_def kinds[] = {
    {"date:", TOCK_TRIGGER_DATE, parse_date},
    {"interval:", TOCK_TRIGGER_INTERVAL, parse_interval},
    {"cron:", TOCK_TRIGGER_CRON, parse_cron},
    {"calendar:", TOCK_TRIGGER_CALENDAR, parse_calendar},
    {"and(", TOCK_TRIGGER_AND, NULL},
    {"or(", TOCK_TRIGGER_OR, NULL},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const struct kind_def *kind_at(const char *s)
{
    size_t i;

    for (i = 0; i < NKINDS; i++)
        if (strncmp(s, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
            return &kinds[i];
    return NULL;
}

/* child_end finds where the child starting at s ends: the next top-level
 * comma that is followed by a trigger kind, or the end of s. */
static char *child_end(char *s)
{
    const char *q;
    int depth = 0;

    for (; *s != '\0'; s++) {
        if (*s == '(')
            depth++;
        else if (*s == ')')
            depth--;
        else if (*s == ',' && depth == 0) {
            for (q = s + 1; *q == ' ' || *q == '\t'; q++)
                ;
            if (kind_at(q) != NULL)
                return s;
        }
    }
    return s;
}

/* parse_set parses the children of "and(...)" / "or(...)"; body is the
 * text after the opening parenthesis. */
static int parse_set(struct tock_trigger *t, char *body, int depth,
                     struct tock_error *err)
{
    size_t n = strlen(body);
    char *p = body, *end;
    bool last = false;
    int rc;

    if (n == 0 || body[n - 1] != ')')
        return tock_error_set(err, TOCK_EINVAL,
                              "%s(...) is missing its closing ')'",
                              t->kind == TOCK_TRIGGER_AND ? "and" : "or");
    body[n - 1] = '\0';
    t->u.set.child = tock_calloc(TOCK_TRIGGER_MAX_CHILDREN,
                                 sizeof *t->u.set.child);
    if (t->u.set.child == NULL)
        return oom(err);
    while (!last) {
        end = child_end(p);
        last = *end == '\0';
        *end = '\0';
        if (t->u.set.count == TOCK_TRIGGER_MAX_CHILDREN)
            return tock_error_set(err, TOCK_ETOOBIG,
                                  "and/or takes at most %d triggers",
                                  TOCK_TRIGGER_MAX_CHILDREN);
        rc = parse_node(p, depth + 1, &t->u.set.child[t->u.set.count], err);
        if (rc != 0)
            return rc;
        t->u.set.count++;
        p = end + 1;
    }
    if (t->u.set.count < 2)
        return tock_error_set(err, TOCK_EINVAL,
                              "%s(...) needs at least two triggers, "
                              "separated by commas",
                              t->kind == TOCK_TRIGGER_AND ? "and" : "or");
    return 0;
}

static int unknown_kind(const char *s, struct tock_error *err)
{
    const char *colon = strchr(s, ':');

    if (*s == '\0')
        return tock_error_set(err, TOCK_EINVAL,
                              "trigger is empty; write e.g. cron:0 3 * * * "
                              "or interval:90s");
    if (colon == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "trigger '%.40s' has no kind; write e.g. "
                              "cron:%.40s or interval:90s",
                              s, s);
    return tock_error_set(err, TOCK_EINVAL,
                          "trigger kind '%.*s' is unknown; use date:, "
                          "interval:, cron:, calendar:, and(...) or or(...)",
                          (int)(colon - s < 20 ? colon - s : 20), s);
}

static int parse_node(char *s, int depth, struct tock_trigger **out,
                      struct tock_error *err)
{
    const struct kind_def *k;
    struct tock_trigger *t;
    int rc;

    *out = NULL;
    s = trim(s);
    if ((k = kind_at(s)) == NULL)
        return unknown_kind(s, err);
    if (depth > TOCK_TRIGGER_MAX_DEPTH)
        return tock_error_set(err, TOCK_ETOOBIG,
                              "and/or triggers nest deeper than %d levels",
                              TOCK_TRIGGER_MAX_DEPTH);
    if ((t = trigger_alloc(k->kind)) == NULL)
        return oom(err);
    s += strlen(k->prefix);
    rc = k->parse ? k->parse(t, trim(s), err) : parse_set(t, s, depth, err);
    if (rc != 0) {
        tock_trigger_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int tock_trigger_parse(const char *text, struct tock_trigger **out,
                       struct tock_error *err)
{
    size_t n = text ? strlen(text) : 0;
    char *copy;
    int rc;

    *out = NULL;
    if (n > TOCK_TRIGGER_MAX_TEXT)
        return tock_error_set(err, TOCK_ETOOBIG,
                              "trigger text is %zu bytes long; the limit is "
                              "%d",
                              n, TOCK_TRIGGER_MAX_TEXT);
    if ((copy = tock_malloc(n + 1)) == NULL)
        return oom(err);
    memcpy(copy, text ? text : "", n + 1);
    rc = parse_node(copy, 0, out, err);
    tock_free(copy);
    return rc;
}

/* ----------------------------------------------------------- text: print */

/* An snprintf-style writer that counts what it could not store. */
struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *s)
{
    size_t n = strlen(s);

    if (o->len < o->cap)
        snprintf(o->buf + o->len, o->cap - o->len, "%s", s);
    o->len += n;
}

/* format_fixed writes `ms` as RFC 3339 at a fixed UTC offset. */
static void format_fixed(int64_t ms, int32_t off, char *buf, size_t cap)
{
    struct tock_civil c;
    int64_t s = floor_div(ms, 1000);
    int frac = (int)(ms - s * 1000), a = off < 0 ? -off : off;
    char zone[8] = "Z", fraction[8] = "";

    civil_of(s + off, &c);
    if (off != 0)
        snprintf(zone, sizeof zone, "%c%02d:%02d", off < 0 ? '-' : '+',
                 a / 3600, a / 60 % 60);
    if (frac != 0)
        snprintf(fraction, sizeof fraction, ".%03d", frac);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d%s%s", c.year, c.month,
             c.day, c.hour, c.minute, c.second, fraction, zone);
}

static void format_node(const struct tock_trigger *t, struct out *o);

/* format_leaf writes a date, interval, cron or calendar trigger. */
static void format_leaf(const struct tock_trigger *t, struct out *o)
{
    char buf[TOCK_TRIGGER_MAX_TEXT];

    if (t->kind == TOCK_TRIGGER_DATE) {
        tock_trigger_format_time(t, t->u.date.at_ms, buf, sizeof buf);
        put(o, "date:");
    } else if (t->kind == TOCK_TRIGGER_INTERVAL) {
        put(o, "interval:");
        tock_format_duration_ms(t->u.interval.period_ms, buf, sizeof buf);
        if (t->u.interval.anchor_ms != TOCK_TRIGGER_UNANCHORED) {
            put(o, buf);
            put(o, "@");
            tock_time_format(t->u.interval.anchor_ms, NULL, buf, sizeof buf);
        }
    } else if (t->kind == TOCK_TRIGGER_CRON) {
        put(o, "cron:");
        snprintf(buf, sizeof buf, "%s", tock_cron_text(t->u.cron));
    } else {
        put(o, "calendar:");
        tock_calendar_format(&t->u.cal, buf, sizeof buf);
    }
    put(o, buf);
    if (t->tz != NULL) {
        put(o, "@");
        put(o, tock_tz_name(t->tz));
    }
}

static void format_node(const struct tock_trigger *t, struct out *o)
{
    size_t i;

    if (t->kind != TOCK_TRIGGER_AND && t->kind != TOCK_TRIGGER_OR) {
        format_leaf(t, o);
        return;
    }
    put(o, t->kind == TOCK_TRIGGER_AND ? "and(" : "or(");
    for (i = 0; i < t->u.set.count; i++) {
        if (i > 0)
            put(o, ", ");
        format_node(t->u.set.child[i], o);
    }
    put(o, ")");
}

size_t tock_trigger_format(const struct tock_trigger *t, char *buf,
                           size_t cap)
{
    struct out o = {buf, cap, 0};

    if (cap > 0)
        buf[0] = '\0';
    format_node(t, &o);
    return o.len;
}

size_t tock_trigger_format_time(const struct tock_trigger *t, int64_t ms,
                                char *buf, size_t cap)
{
    if (t->kind == TOCK_TRIGGER_DATE && t->tz == NULL) {
        format_fixed(ms, t->u.date.offset, buf, cap);
        return strlen(buf);
    }
    return tock_time_format(ms, t->tz, buf, cap);
}

/* ------------------------------------------------------------- accessors */

enum tock_trigger_kind tock_trigger_kind(const struct tock_trigger *t)
{
    return t->kind;
}

const struct tock_tz *tock_trigger_zone(const struct tock_trigger *t)
{
    return t->tz;
}

bool tock_trigger_interval(const struct tock_trigger *t, int64_t *period_ms,
                           int64_t *anchor_ms)
{
    if (t->kind != TOCK_TRIGGER_INTERVAL)
        return false;
    if (period_ms != NULL)
        *period_ms = t->u.interval.period_ms;
    if (anchor_ms != NULL)
        *anchor_ms = t->u.interval.anchor_ms;
    return true;
}

void tock_trigger_bounds(const struct tock_trigger *t, int64_t *start_ms,
                         int64_t *end_ms)
{
    *start_ms = t->start_ms;
    *end_ms = t->end_ms;
}

bool tock_trigger_is_anchored(const struct tock_trigger *t)
{
    size_t i;

    if (t->kind == TOCK_TRIGGER_INTERVAL)
        return t->u.interval.anchor_ms != TOCK_TRIGGER_UNANCHORED;
    if (t->kind == TOCK_TRIGGER_CALENDAR)
        return t->u.cal.year != 0;
    if (t->kind == TOCK_TRIGGER_AND || t->kind == TOCK_TRIGGER_OR)
        for (i = 0; i < t->u.set.count; i++)
            if (!tock_trigger_is_anchored(t->u.set.child[i]))
                return false;
    return true;
}

void tock_trigger_anchor(struct tock_trigger *t, int64_t now_ms)
{
    size_t i;

    if (t->kind == TOCK_TRIGGER_INTERVAL &&
        t->u.interval.anchor_ms == TOCK_TRIGGER_UNANCHORED)
        t->u.interval.anchor_ms = now_ms;
    if (t->kind == TOCK_TRIGGER_CALENDAR)
        tock_calendar_anchor(&t->u.cal, t->tz, floor_div(now_ms, 1000));
    if (t->kind == TOCK_TRIGGER_AND || t->kind == TOCK_TRIGGER_OR)
        for (i = 0; i < t->u.set.count; i++)
            tock_trigger_anchor(t->u.set.child[i], now_ms);
}

int tock_trigger_set_bounds(struct tock_trigger *t, int64_t start_ms,
                            int64_t end_ms, struct tock_error *err)
{
    char a[48], b[48];
    int rc;

    if ((rc = check_instant(start_ms, "start", err)) != 0 ||
        (rc = check_instant(end_ms, "end", err)) != 0)
        return rc;
    if (start_ms > end_ms) {
        tock_time_format(start_ms, NULL, a, sizeof a);
        tock_time_format(end_ms, NULL, b, sizeof b);
        return tock_error_set(err, TOCK_EINVAL,
                              "start %s is after end %s; swap them or move "
                              "end later",
                              a, b);
    }
    t->start_ms = start_ms;
    t->end_ms = end_ms;
    return 0;
}

int tock_trigger_check(const struct tock_trigger *t, int64_t now_ms,
                       int64_t jitter_ms, struct tock_error *err)
{
    char a[48], b[48];

    if (!tock_trigger_is_anchored(t))
        return tock_error_set(err, TOCK_EINVAL,
                              "trigger has no anchor; give a start "
                              "(interval:90s@TIME, calendar ... from DATE)");
    if (t->end_ms < now_ms) {
        tock_time_format(t->end_ms, NULL, a, sizeof a);
        return tock_error_set(err, TOCK_EINVAL,
                              "end %s is in the past; the job would never "
                              "fire; move end later or drop it",
                              a);
    }
    if (jitter_ms < 0 || jitter_ms > TOCK_DURATION_MAX_MS)
        return tock_error_set(err, TOCK_ERANGE,
                              "jitter of %lld ms is out of range; give 0s "
                              "up to 100 years",
                              (long long)jitter_ms);
    if (t->kind == TOCK_TRIGGER_INTERVAL && jitter_ms > 0 &&
        jitter_ms >= t->u.interval.period_ms) {
        tock_format_duration_ms(jitter_ms, a, sizeof a);
        tock_format_duration_ms(t->u.interval.period_ms, b, sizeof b);
        return tock_error_set(err, TOCK_EINVAL,
                              "jitter %s is not less than the interval %s; "
                              "use a jitter below the interval",
                              a, b);
    }
    return 0;
}

/* ------------------------------------------------------- next occurrence */

static int next_node(const struct tock_trigger *t, int64_t after,
                     int64_t *out, struct tock_error *err);

static int ended(const char *what, int64_t after, struct tock_error *err)
{
    char a[48];

    tock_time_format(after, NULL, a, sizeof a);
    return tock_error_set(err, TOCK_ENOTIME, "%s has no occurrence after %s",
                          what, a);
}

static int next_interval(const struct tock_trigger *t, int64_t after,
                         int64_t *out, struct tock_error *err)
{
    int64_t a = t->u.interval.anchor_ms, p = t->u.interval.period_ms, next;

    if (a == TOCK_TRIGGER_UNANCHORED)
        return tock_error_set(err, TOCK_EINVAL,
                              "interval trigger has no anchor; give one "
                              "(interval:90s@TIME) or anchor it when adding");
    if (after < a) {
        *out = a;
        return 0;
    }
    /* after <= TOCK_TIME_MAX_MS and p <= 100 years: no overflow. */
    next = a + ((after - a) / p + 1) * p;
    if (next > TOCK_TIME_MAX_MS)
        return ended("interval trigger", after, err);
    *out = next;
    return 0;
}

/* next_seconds runs a one-second-resolution kind (cron, calendar). */
static int next_seconds(const struct tock_trigger *t, int64_t after,
                        int64_t *out, struct tock_error *err)
{
    int64_t s = floor_div(after, 1000), next;
    int rc;

    if (t->kind == TOCK_TRIGGER_CRON)
        rc = tock_cron_next(t->u.cron, t->tz, s, &next, err);
    else
        rc = tock_calendar_next(&t->u.cal, t->tz, s, &next, err);
    if (rc != 0)
        return rc;
    if (next > TOCK_TIME_MAX_MS / 1000)
        return ended(t->kind == TOCK_TRIGGER_CRON ? "cron trigger"
                                                   : "calendar trigger",
                     after, err);
    *out = next * 1000;
    return 0;
}

/* next_or: the earliest next occurrence of any child that has one. */
static int next_or(const struct tock_trigger *t, int64_t after, int64_t *out,
                   struct tock_error *err)
{
    int64_t best = INT64_MAX, n;
    size_t i;
    int rc;

    for (i = 0; i < t->u.set.count; i++) {
        rc = next_node(t->u.set.child[i], after, &n, err);
        if (rc == TOCK_ENOTIME)
            continue;
        if (rc != 0)
            return rc;
        if (n < best)
            best = n;
    }
    if (best == INT64_MAX)
        return ended("or(...) trigger", after, err);
    tock_error_clear(err);
    *out = best;
    return 0;
}

/* next_and: candidate c is the latest of the children's next times; if
 * every child also has c as its first occurrence after c - 1, all agree.
 * Otherwise the latest of those is the next candidate, so c only grows. */
static int next_and(const struct tock_trigger *t, int64_t after, int64_t *out,
                    struct tock_error *err)
{
    int64_t c = after, next, n;
    size_t i;
    int rc, step;
    char a[48];

    for (step = 0; step < TOCK_TRIGGER_AND_STEPS; step++) {
        next = c;
        for (i = 0; i < t->u.set.count; i++) {
            if ((rc = next_node(t->u.set.child[i], c, &n, err)) != 0)
                return rc;
            if (n > next)
                next = n;
        }
        if (step > 0 && next == c + 1) {
            *out = c + 1;
            return 0;
        }
        c = next - 1;
    }
    tock_time_format(c, NULL, a, sizeof a);
    return tock_error_set(err, TOCK_ERANGE,
                          "and(...): its triggers found no common instant in "
                          "%d tries (up to %s); they may never coincide",
                          TOCK_TRIGGER_AND_STEPS, a);
}

static int next_node(const struct tock_trigger *t, int64_t after,
                     int64_t *out, struct tock_error *err)
{
    switch (t->kind) {
    case TOCK_TRIGGER_DATE:
        if (t->u.date.at_ms <= after)
            return ended("date trigger", after, err);
        *out = t->u.date.at_ms;
        return 0;
    case TOCK_TRIGGER_INTERVAL:
        return next_interval(t, after, out, err);
    case TOCK_TRIGGER_CRON:
    case TOCK_TRIGGER_CALENDAR:
        return next_seconds(t, after, out, err);
    case TOCK_TRIGGER_AND:
        return next_and(t, after, out, err);
    default:
        return next_or(t, after, out, err);
    }
}

int tock_trigger_next(const struct tock_trigger *t, int64_t after_ms,
                      int64_t *out_ms, struct tock_error *err)
{
    char a[48];
    int64_t next;
    int rc;

    if (after_ms < t->start_ms - 1)
        after_ms = t->start_ms - 1;
    if (after_ms >= t->end_ms)
        return ended("trigger", after_ms, err);
    if ((rc = next_node(t, after_ms, &next, err)) != 0)
        return rc;
    if (next > t->end_ms) {
        tock_time_format(t->end_ms, NULL, a, sizeof a);
        return tock_error_set(err, TOCK_ENOTIME,
                              "trigger has no occurrence before its end %s",
                              a);
    }
    *out_ms = next;
    return 0;
}

/* ----------------------------------------------------------------- jitter */

int64_t tock_trigger_jitter(int64_t sched_ms, int64_t next_ms,
                            int64_t jitter_ms, uint64_t random)
{
    int64_t bound = jitter_ms;

    if (bound <= 0)
        return sched_ms;
    if (next_ms >= 0 && next_ms > sched_ms && next_ms - sched_ms - 1 < bound)
        bound = next_ms - sched_ms - 1;
    return sched_ms + (int64_t)(random % ((uint64_t)bound + 1));
}
