/* misfire.c: the misfire and coalesce plan. See misfire.h for the
 * definitions; this file only walks occurrences with tock_trigger_next.
 */
#include "scheduler/misfire.h"

#include <string.h>

/* next_or_none is tock_trigger_next with "no more occurrences" turned
 * into *has = false (and a cleared error) instead of an error. */
static int next_or_none(const struct tock_trigger *t, int64_t after,
                        int64_t *out, bool *has, struct tock_error *err)
{
    int rc = tock_trigger_next(t, after, out, err);

    *has = rc == 0;
    if (rc == TOCK_ENOTIME) {
        tock_error_clear(err);
        return 0;
    }
    return rc;
}

/* count_interval counts an interval's occurrences in (after, until]. */
static int count_interval(const struct tock_trigger *t, int64_t after,
                          int64_t until, int64_t *count,
                          struct tock_error *err)
{
    int64_t period, start, end, first;
    bool has;
    int rc;

    tock_trigger_interval(t, &period, NULL);
    tock_trigger_bounds(t, &start, &end);
    if ((rc = next_or_none(t, after, &first, &has, err)) != 0 || !has)
        return rc;
    if (until > end)
        until = end;
    if (first <= until)
        *count = (until - first) / period + 1;
    return 0;
}

int tock_misfire_count(const struct tock_trigger *t, int64_t after_ms,
                       int64_t until_ms, int64_t cap, int64_t *count,
                       bool *capped, struct tock_error *err)
{
    int64_t s = after_ms, n;
    bool has = true;
    int rc;

    *count = 0;
    *capped = false;
    if (until_ms <= after_ms)
        return 0;
    if (tock_trigger_interval(t, NULL, NULL))
        return count_interval(t, after_ms, until_ms, count, err);
    while (*count < cap) {
        if ((rc = next_or_none(t, s, &n, &has, err)) != 0)
            return rc;
        if (!has || n > until_ms)
            return 0;
        (*count)++;
        s = n;
    }
    if ((rc = next_or_none(t, s, &n, &has, err)) != 0)
        return rc;
    *capped = has && n <= until_ms;
    return 0;
}

/* walk_forward moves *s to the last occurrence that is <= until. */
static int walk_forward(const struct tock_trigger *t, int64_t until,
                        int64_t *s, struct tock_error *err)
{
    int64_t n;
    bool has;
    int rc;

    for (;;) {
        if ((rc = next_or_none(t, *s, &n, &has, err)) != 0)
            return rc;
        if (!has || n > until)
            return 0;
        *s = n;
    }
}

int tock_misfire_latest(const struct tock_trigger *t, int64_t after_ms,
                        int64_t until_ms, int64_t *out,
                        struct tock_error *err)
{
    int64_t w = 1, lo, s;
    bool has;
    int rc;

    while (until_ms > after_ms) {
        lo = until_ms - after_ms > w ? until_ms - w : after_ms;
        if ((rc = next_or_none(t, lo, &s, &has, err)) != 0)
            return rc;
        if (has && s <= until_ms) {
            if ((rc = walk_forward(t, until_ms, &s, err)) != 0)
                return rc;
            *out = s;
            return 0;
        }
        if (lo == after_ms)
            break;
        w *= 2;
    }
    return tock_error_set(err, TOCK_ENOTIME,
                          "no occurrence in the range searched");
}

/* plan_missed fills the missed range (last, cutoff]. */
static int plan_missed(const struct tock_trigger *t, int64_t last,
                       int64_t cutoff, struct tock_misfire_plan *out,
                       struct tock_error *err)
{
    bool capped;
    int rc;

    if (cutoff <= last)
        return 0;
    rc = tock_misfire_count(t, last, cutoff, TOCK_MISFIRE_COUNT_CAP,
                            &out->missed_count, &capped, err);
    if (rc != 0)
        return rc;
    out->counts_capped |= capped;
    if (out->missed_count > 0)
        out->missed_until_ms = cutoff;
    return 0;
}

/* plan_coalesced fires the latest in-grace occurrence in (lo, now]. */
static int plan_coalesced(const struct tock_trigger *t, int64_t lo,
                          int64_t now, struct tock_misfire_plan *out,
                          struct tock_error *err)
{
    bool capped;
    int rc;

    if ((rc = tock_misfire_latest(t, lo, now, &out->fire_ms, err)) != 0)
        return rc;
    rc = tock_misfire_count(t, lo, out->fire_ms - 1, TOCK_MISFIRE_COUNT_CAP,
                            &out->coalesced_count, &capped, err);
    out->counts_capped |= capped;
    return rc;
}

/* finish sets the watermark and the next scheduled time after it. */
static int finish(const struct tock_trigger *t, int64_t watermark,
                  struct tock_misfire_plan *out, struct tock_error *err)
{
    out->watermark_ms = watermark;
    return next_or_none(t, watermark, &out->next_ms, &out->has_next, err);
}

int tock_misfire_plan(const struct tock_trigger *t, int64_t last_ms,
                      int64_t now_ms, int64_t grace_ms, bool coalesce,
                      struct tock_misfire_plan *out, struct tock_error *err)
{
    int64_t cutoff = last_ms, lo, first;
    bool has;
    int rc;

    /* Inside tock's time range no difference below can overflow. */
    if (last_ms < TOCK_TIME_MIN_MS - 1)
        last_ms = TOCK_TIME_MIN_MS - 1;
    if (now_ms > TOCK_TIME_MAX_MS)
        now_ms = TOCK_TIME_MAX_MS;
    memset(out, 0, sizeof *out);
    out->missed_until_ms = out->watermark_ms = last_ms;
    if (grace_ms < 0 && grace_ms != TOCK_GRACE_UNLIMITED)
        return tock_error_set(err, TOCK_EINVAL,
                              "misfire_grace of %lld ms is negative; give 0 "
                              "or more, or unlimited",
                              (long long)grace_ms);
    if ((rc = next_or_none(t, last_ms, &first, &has, err)) != 0 || !has ||
        first > now_ms) {
        out->has_next = has;
        out->next_ms = has ? first : 0;
        return rc;
    }
    /* Missed: s < now - grace, i.e. s <= now - grace - 1. */
    if (grace_ms != TOCK_GRACE_UNLIMITED && now_ms - last_ms - 1 > grace_ms)
        cutoff = now_ms - grace_ms - 1;
    if ((rc = plan_missed(t, last_ms, cutoff, out, err)) != 0)
        return rc;
    lo = cutoff > last_ms ? cutoff : last_ms;
    if ((rc = next_or_none(t, lo, &first, &has, err)) != 0)
        return rc;
    if (!has || first > now_ms)
        return finish(t, out->missed_until_ms, out, err);
    out->fire = true;
    out->fire_ms = first;
    if (coalesce && (rc = plan_coalesced(t, lo, now_ms, out, err)) != 0)
        return rc;
    return finish(t, out->fire_ms, out, err);
}
