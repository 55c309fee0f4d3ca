/* parse.c: strict integers and durations. */
#include "core/parse.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- integers */

/* digits_value parses [p, p+n) as unsigned decimal with overflow check. */
static bool digits_value(const char *p, size_t n, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static size_t count_digits(const char *p)
{
    size_t n = 0;

    while (p[n] >= '0' && p[n] <= '9')
        n++;
    return n;
}

int tock_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out,
                     const char *what, struct tock_error *err)
{
    const char *p = text;
    bool neg = false;
    uint64_t mag, limit;
    size_t n;

    if (text == NULL || *text == '\0')
        return tock_error_set(err, TOCK_EINVAL,
                              "%s is empty; give a whole number from %lld to "
                              "%lld",
                              what, (long long)min, (long long)max);
    if (*p == '-') {
        neg = true;
        p++;
    }
    n = count_digits(p);
    if (n == 0 || p[n] != '\0' || (n > 1 && p[0] == '0'))
        return tock_error_set(err, TOCK_EINVAL,
                              "%s: '%.40s' is not a whole decimal number; give "
                              "one from %lld to %lld",
                              what, text, (long long)min, (long long)max);
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (!digits_value(p, n, limit, &mag))
        goto range;
    if (neg) {
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        *out = (int64_t)mag;
    }
    if (*out < min || *out > max)
        goto range;
    return 0;
range:
    return tock_error_set(err, TOCK_ERANGE,
                          "%s: %.40s is out of range; give a whole number "
                          "from %lld to %lld",
                          what, text, (long long)min, (long long)max);
}

/* ------------------------------------------------------------ durations */

struct unit {
    const char *name;
    int64_t ms;
};

/* Longest names first where one is a prefix of another ("ms" before "m"). */
static const struct unit units[] = {
    {"w", 7LL * 24 * 3600 * 1000}, {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},          {"ms", 1},
    {"m", 60LL * 1000},            {"s", 1000},
};
#define NUNITS (sizeof units / sizeof units[0])

/* unit_rank orders units from largest to smallest for the order check. */
static int unit_rank(const struct unit *u)
{
    static const char *const order[] = {"w", "d", "h", "m", "s", "ms"};
    int i;

    for (i = 0; i < 6; i++)
        if (strcmp(order[i], u->name) == 0)
            return i;
    return 6;
}

static const struct unit *match_unit(const char *p, size_t *len)
{
    size_t i, n;

    for (i = 0; i < NUNITS; i++) {
        n = strlen(units[i].name);
        if (strncmp(p, units[i].name, n) == 0) {
            *len = n;
            return &units[i];
        }
    }
    return NULL;
}

int tock_parse_duration_ms(const char *text, int64_t min_ms, int64_t max_ms,
                           int64_t *out, const char *what,
                           struct tock_error *err)
{
    const char *p = text;
    const struct unit *u;
    int64_t total = 0;
    uint64_t v;
    int last_rank = -1;
    size_t n, ulen;

    if (text == NULL || *text == '\0')
        return tock_error_set(err, TOCK_EINVAL,
                              "%s is empty; give a duration such as 250ms, "
                              "90s, 1h30m, 2d or 2w",
                              what);
    while (*p != '\0') {
        n = count_digits(p);
        if (n == 0)
            goto bad;
        if (!digits_value(p, n, (uint64_t)INT64_MAX, &v))
            goto range;
        u = match_unit(p + n, &ulen);
        if (u == NULL) {
            if (p[n] == '\0')
                return tock_error_set(err, TOCK_EINVAL,
                                      "%s: '%.40s' has no unit; write e.g. "
                                      "%.20ss or %.20sms",
                                      what, text, text, text);
            goto bad;
        }
        if (unit_rank(u) <= last_rank)
            goto bad;
        last_rank = unit_rank(u);
        if (v > (uint64_t)(INT64_MAX / u->ms) ||
            total > INT64_MAX - (int64_t)v * u->ms)
            goto range;
        total += (int64_t)v * u->ms;
        p += n + ulen;
    }
    if (total < min_ms || total > max_ms)
        goto range;
    *out = total;
    return 0;
bad:
    return tock_error_set(err, TOCK_EINVAL,
                          "%s: '%.40s' is not a duration; use numbers with "
                          "units ms, s, m, h, d, w, largest first (e.g. "
                          "1h30m)",
                          what, text);
range: {
    char lo[32], hi[32];
    tock_format_duration_ms(min_ms, lo, sizeof lo);
    tock_format_duration_ms(max_ms, hi, sizeof hi);
    return tock_error_set(err, TOCK_ERANGE,
                          "%s: '%.40s' is out of range; give a duration from "
                          "%s to %s",
                          what, text, lo, hi);
}
}

void tock_format_duration_ms(int64_t ms, char *buf, size_t cap)
{
    static const char *const order[] = {"w", "d", "h", "m", "s", "ms"};
    static const int64_t size[] = {7LL * 86400000, 86400000, 3600000, 60000,
                                   1000, 1};
    size_t used = 0;
    int i;

    if (cap == 0)
        return;
    buf[0] = '\0';
    if (ms <= 0) {
        snprintf(buf, cap, ms == 0 ? "0s" : "-");
        return;
    }
    for (i = 0; i < 6 && used < cap; i++) {
        if (ms >= size[i]) {
            used += (size_t)snprintf(buf + used, cap - used, "%lld%s",
                                     (long long)(ms / size[i]), order[i]);
            ms %= size[i];
        }
    }
}
