/* fuzz_cron.c: libFuzzer target for the cron parser and the trigger text
 * parser (which contains it), and for the searches behind them.
 *
 * The input is one expression or trigger text. Whatever it is, parsing
 * must return 0 or a negative code with a message, never crash or hang.
 * What parses must also hold up: the normalised text parses to the same
 * text, and next() in UTC and in two zones with DST (one with a 30-minute
 * shift) returns strictly increasing instants, each of which the brute
 * force definition accepts: a matching local time, or the end of a gap
 * that holds one. A broken invariant aborts, so libFuzzer reports it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/cron.h"
#include "scheduler/trigger.h"
#include "scheduler/tz.h"

#define START 1774742400LL /* 2026-03-29T00:00:00Z, a DST change in Europe */

static void check(int ok, const char *what, const char *text)
{
    if (!ok) {
        fprintf(stderr, "fuzz_cron: %s: '%s'\n", what, text);
        abort();
    }
}

static const struct tock_tz *zone(int i)
{
    static struct tock_tz *zones[2];
    static const char *const names[2] = {"Europe/Berlin",
                                         "Australia/Lord_Howe"};

    if (zones[i] == NULL && tock_tz_load(names[i], &zones[i], NULL) != 0)
        abort();
    return zones[i];
}

/* fires_at: next() may return a matching local time or a gap's end. */
static int fires_at(const struct tock_cron *c, const struct tock_tz *tz,
                    int64_t t)
{
    struct tock_civil l;
    int64_t T;
    int32_t before, after;

    if (tz == NULL) {
        tock_civil_from_days(t / 86400, &l);
        l.hour = (int)(t % 86400 / 3600);
        l.minute = (int)(t % 3600 / 60);
        l.second = (int)(t % 60);
        return tock_cron_matches(c, &l);
    }
    tock_tz_to_local(tz, t, &l, NULL);
    if (tock_cron_matches(c, &l))
        return 1;
    return !tock_cron_hour_wild(c) &&
           tock_tz_next_transition(tz, t - 1, &T, &before, &after) &&
           T == t && after > before;
}

static void walk(const struct tock_cron *c, const struct tock_tz *tz,
                 const char *text)
{
    struct tock_error err;
    int64_t t = START - 7200, next;
    int i;

    for (i = 0; i < 8; i++) {
        int rc = tock_cron_next(c, tz, t, &next, &err);
        if (rc == TOCK_ENOTIME)
            return;
        check(rc == 0, "next failed", text);
        check(next > t, "next is not after", text);
        check(fires_at(c, tz, next), "next does not match", text);
        t = next;
    }
}

static void fuzz_cron(const char *text)
{
    struct tock_error err = {0};
    struct tock_cron *c = NULL, *d = NULL;

    if (tock_cron_parse(text, &c, &err) != 0) {
        check(err.code < 0 && err.msg[0] != '\0', "error without message",
              text);
        return;
    }
    check(tock_cron_parse(tock_cron_text(c), &d, &err) == 0, "text reparse",
          text);
    check(strcmp(tock_cron_text(c), tock_cron_text(d)) == 0, "text differs",
          text);
    walk(c, NULL, text);
    walk(c, zone(0), text);
    walk(c, zone(1), text);
    tock_cron_free(c);
    tock_cron_free(d);
}

static void fuzz_trigger(const char *text)
{
    struct tock_error err = {0};
    struct tock_trigger *t = NULL, *u = NULL;
    char a[8192], b[8192];
    int64_t after = START * 1000, next;
    int i, rc;

    if (tock_trigger_parse(text, &t, &err) != 0) {
        check(err.code < 0 && err.msg[0] != '\0', "error without message",
              text);
        return;
    }
    tock_trigger_format(t, a, sizeof a);
    check(tock_trigger_parse(a, &u, &err) == 0, "trigger text reparse", a);
    tock_trigger_format(u, b, sizeof b);
    check(strcmp(a, b) == 0, "trigger text differs", a);
    tock_trigger_anchor(t, after);
    for (i = 0; i < 4; i++) {
        rc = tock_trigger_next(t, after, &next, &err);
        if (rc != 0)
            break;
        check(next > after, "trigger next is not after", a);
        after = next;
    }
    tock_trigger_free(t);
    tock_trigger_free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[2048];

    if (size >= sizeof text)
        size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_cron(text);
    fuzz_trigger(text);
    return 0;
}
