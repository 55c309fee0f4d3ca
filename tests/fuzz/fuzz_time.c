/* fuzz_time.c: libFuzzer target for the time-zone and time parsers.
 *
 * The first input byte picks what the rest is fed to:
 *   0  tock_time_parse (RFC 3339); accepted times must round-trip through
 *      tock_time_format, in UTC and in Europe/Berlin
 *   1  tock_tz_load (zone names; real tzdata files are read)
 *   2  tock_tz__from_tzif (TZif bytes), then the conversion invariants
 *   3  tock_tzrule_parse (POSIX TZ rule), then the rule invariants
 * Invariants checked on every zone or rule accepted: to_local and
 * from_local agree, and each transition next_transition reports really
 * changes the offset at that instant. A violation aborts (a finding).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/tz.h"
#include "scheduler/tz_internal.h"
#include "scheduler/tzrule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

/* Instants the invariants are checked at stay clear of the clamping
 * limit, so that local times derived from them are not clamped either. */
#define SPAN (TOCK_TZ_T_LIMIT - 4 * 86400)

static int64_t instant_from(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)(v % (uint64_t)(2 * SPAN)) - SPAN;
}

/* ---------------------------------------------------------------- RFC 3339 */

static void fuzz_time_parse(const char *text)
{
    static struct tock_tz *berlin;
    static bool tried;
    char buf[64];
    int64_t ms, back;

    if (tock_time_parse(text, &ms, "fuzz", NULL) != 0)
        return;
    CHECK(ms >= TOCK_TIME_MIN_MS && ms <= TOCK_TIME_MAX_MS);
    tock_time_format(ms, NULL, buf, sizeof buf);
    CHECK(tock_time_parse(buf, &back, "fuzz", NULL) == 0 && back == ms);
    if (!tried) { /* kept for the process: this is the harness, not libtock */
        tried = true;
        tock_tz_load("Europe/Berlin", &berlin, NULL);
    }
    if (berlin == NULL)
        return;
    tock_time_format(ms, berlin, buf, sizeof buf);
    /* Near the ends the local year can leave 1970..9999: then the parse
     * refuses it, which is right. */
    if (tock_time_parse(buf, &back, "fuzz", NULL) == 0)
        CHECK(back == ms);
}

/* ------------------------------------------------------------ zone checks */

/* check_instant checks the invariants of zone `tz` around instant t. */
static void check_instant(const struct tock_tz *tz, int64_t t)
{
    struct tock_civil c;
    int64_t first, second, at;
    int32_t off, before, after;
    enum tock_tz_local_kind kind;

    tock_tz_to_local(tz, t, &c, &off);
    CHECK(off == tock_tz_offset(tz, t));
    CHECK(c.month >= 1 && c.month <= 12 && c.day >= 1 &&
          c.day <= tock_days_in_month(c.year, c.month) && c.hour < 24 &&
          c.minute < 60 && c.second < 60 && c.wday >= 0 && c.wday < 7);
    kind = tock_tz_from_local(tz, &c, &first, &second);
    CHECK(kind != TOCK_LOCAL_GAP);
    CHECK(first <= t && t <= second);
    CHECK((kind == TOCK_LOCAL_FOLD) == (first < second));
    if (!tock_tz_next_transition(tz, t, &at, &before, &after))
        return;
    CHECK(at > t && before != after);
    if (at < SPAN) {
        CHECK(tock_tz_offset(tz, at - 1) == before);
        CHECK(tock_tz_offset(tz, at) == after);
    }
}

static void check_zone(const struct tock_tz *tz, const uint8_t *data, size_t size)
{
    int64_t t = -SPAN, at;
    int32_t before, after;

    for (size_t i = 0; i + 8 <= size && i < 8 * 16; i += 8)
        check_instant(tz, instant_from(data + i));
    /* Walk the first transitions, checking both sides of each. */
    for (int i = 0; i < 64 && tock_tz_next_transition(tz, t, &at, &before, &after) &&
                    at < SPAN;
         i++) {
        check_instant(tz, at - 1);
        check_instant(tz, at);
        t = at;
    }
    check_instant(tz, 1774746000); /* 2026 */
}

static void fuzz_tz_name(const char *name)
{
    struct tock_error err;
    struct tock_tz *tz;

    if (tock_tz_load(name, &tz, &err) != 0) {
        CHECK(err.code < 0 && err.msg[0] != '\0' && tz == NULL);
        return;
    }
    CHECK(tock_tz__check_name(tock_tz_name(tz), NULL) == 0);
    check_instant(tz, 0);
    check_instant(tz, 1774746000);
    tock_tz_free(tz);
}

static void fuzz_tzif(const uint8_t *data, size_t size)
{
    struct tock_error err;
    struct tock_tz *tz;

    if (tock_tz__from_tzif("Fuzz/Zone", "fuzz", data, size, &tz, &err) != 0) {
        CHECK(err.code == TOCK_EFORMAT || err.code == TOCK_ENOMEM);
        return;
    }
    check_zone(tz, data, size);
    tock_tz_free(tz);
}

static void fuzz_rule(const uint8_t *data, size_t size)
{
    struct tock_tzrule r;
    int64_t t = 0, at;
    int32_t before, after;

    if (tock_tzrule_parse((const char *)data, size, &r, NULL) != 0)
        return;
    for (int i = 0; i < 16 && tock_tzrule_next(&r, t, &at, &before, &after); i++) {
        CHECK(at > t && before != after);
        CHECK(tock_tzrule_offset(&r, at - 1) == before);
        CHECK(tock_tzrule_offset(&r, at) == after);
        CHECK(after == r.std_off || after == r.dst_off);
        t = at;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;

    if (size == 0)
        return 0;
    if (data[0] % 4 == 2) {
        fuzz_tzif(data + 1, size - 1);
        return 0;
    }
    if (data[0] % 4 == 3) {
        fuzz_rule(data + 1, size - 1);
        return 0;
    }
    text = malloc(size); /* data[1..] plus a NUL */
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] % 4 == 0)
        fuzz_time_parse(text);
    else
        fuzz_tz_name(text);
    free(text);
    return 0;
}
