/* test_misfire.c: the misfire/coalesce plan: which due occurrences fire,
 * which are missed (older than the grace) and which are coalesced, and
 * the watermark and next time the job is left with. */
#include <string.h>

#include "scheduler/misfire.h"
#include "support.h"

static int64_t ms_at(const char *rfc3339)
{
    struct tock_error err = {0};
    int64_t ms = 0;

    assert_tock_ok(tock_time_parse(rfc3339, &ms, "test", &err), &err);
    return ms;
}

static struct tock_trigger *parse_ok(const char *text)
{
    struct tock_error err = {0};
    struct tock_trigger *t = NULL;

    assert_tock_ok(tock_trigger_parse(text, &t, &err), &err);
    return t;
}

static struct tock_misfire_plan plan(const char *trigger, const char *last,
                                     const char *now, int64_t grace,
                                     bool coalesce)
{
    struct tock_error err = {0};
    struct tock_trigger *t = parse_ok(trigger);
    struct tock_misfire_plan p;

    assert_tock_ok(tock_misfire_plan(t, ms_at(last), ms_at(now), grace,
                                     coalesce, &p, &err),
                   &err);
    tock_trigger_free(t);
    return p;
}

#define MINUTELY "interval:1m@2026-01-01T00:00:00Z"

static void test_nothing_due(void **state)
{
    struct tock_misfire_plan p = plan(MINUTELY, "2026-01-01T00:00:00Z",
                                      "2026-01-01T00:00:30Z", 60000, true);

    (void)state;
    assert_false(p.fire);
    assert_int_equal(p.missed_count, 0);
    assert_int_equal(p.watermark_ms, ms_at("2026-01-01T00:00:00Z"));
    assert_true(p.has_next);
    assert_int_equal(p.next_ms, ms_at("2026-01-01T00:01:00Z"));
}

static void test_on_time(void **state)
{
    struct tock_misfire_plan p = plan(MINUTELY, "2026-01-01T00:00:00Z",
                                      "2026-01-01T00:01:00.004Z", 0, false);

    (void)state;
    /* 4 ms late with a grace of 0: missed (now - s > grace). */
    assert_false(p.fire);
    assert_int_equal(p.missed_count, 1);
    p = plan(MINUTELY, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", 0,
             false);
    assert_true(p.fire);
    assert_int_equal(p.fire_ms, ms_at("2026-01-01T00:01:00Z"));
    assert_int_equal(p.missed_count, 0);
    assert_int_equal(p.next_ms, ms_at("2026-01-01T00:02:00Z"));
}

/* Ten minutes down, grace one minute: 00:01..00:09 are missed, 00:10
 * fires, with or without coalesce. */
static void test_downtime(void **state)
{
    struct tock_misfire_plan p;
    int c;

    (void)state;
    for (c = 0; c < 2; c++) {
        p = plan(MINUTELY, "2026-01-01T00:00:00Z", "2026-01-01T00:10:30Z",
                 60000, c == 1);
        assert_int_equal(p.missed_count, 9);
        assert_int_equal(p.missed_until_ms, ms_at("2026-01-01T00:09:29.999Z"));
        assert_true(p.fire);
        assert_int_equal(p.fire_ms, ms_at("2026-01-01T00:10:00Z"));
        assert_int_equal(p.coalesced_count, 0);
        assert_int_equal(p.watermark_ms, p.fire_ms);
        assert_int_equal(p.next_ms, ms_at("2026-01-01T00:11:00Z"));
        assert_false(p.counts_capped);
    }
}

/* A grace of five minutes: 00:06..00:10 are in grace. */
static void test_coalesce(void **state)
{
    struct tock_misfire_plan p;

    (void)state;
    p = plan(MINUTELY, "2026-01-01T00:00:00Z", "2026-01-01T00:10:30Z",
             300000, false);
    assert_int_equal(p.missed_count, 5);
    assert_true(p.fire);
    assert_int_equal(p.fire_ms, ms_at("2026-01-01T00:06:00Z"));
    /* The rest stay due: the next time is already past. */
    assert_int_equal(p.next_ms, ms_at("2026-01-01T00:07:00Z"));
    p = plan(MINUTELY, "2026-01-01T00:06:00Z", "2026-01-01T00:10:30Z",
             300000, false);
    assert_int_equal(p.missed_count, 0);
    assert_int_equal(p.fire_ms, ms_at("2026-01-01T00:07:00Z"));

    p = plan(MINUTELY, "2026-01-01T00:00:00Z", "2026-01-01T00:10:30Z",
             300000, true);
    assert_int_equal(p.missed_count, 5);
    assert_true(p.fire);
    assert_int_equal(p.fire_ms, ms_at("2026-01-01T00:10:00Z"));
    assert_int_equal(p.coalesced_count, 4);
    assert_int_equal(p.watermark_ms, p.fire_ms);
    assert_int_equal(p.next_ms, ms_at("2026-01-01T00:11:00Z"));

    /* Unlimited grace: nothing is missed, everything coalesces. */
    p = plan(MINUTELY, "2026-01-01T00:00:00Z", "2026-01-01T00:10:30Z",
             TOCK_GRACE_UNLIMITED, true);
    assert_int_equal(p.missed_count, 0);
    assert_int_equal(p.fire_ms, ms_at("2026-01-01T00:10:00Z"));
    assert_int_equal(p.coalesced_count, 9);
    p = plan(MINUTELY, "2026-01-01T00:00:00Z", "2026-01-01T00:10:30Z",
             TOCK_GRACE_UNLIMITED, false);
    assert_int_equal(p.fire_ms, ms_at("2026-01-01T00:01:00Z"));
}

/* Every due occurrence gets exactly one outcome: check by replaying the
 * plans until nothing is due, for many random setups. */
static void test_accounting(void **state)
{
    static const char *const triggers[] = {
        MINUTELY,
        "cron:*/7 * * * *@Europe/Berlin",
        "cron:0 30 2 * * *@Europe/Berlin",
        "interval:13s@2026-01-01T00:00:05Z",
        "calendar:every day at 00:03 from 2026-01-01",
    };
    struct tock_error err = {0};
    struct tock_misfire_plan p;
    struct tock_trigger *t;
    uint64_t x = 88172645463325252ULL;
    int64_t last, now, grace, due, seen, total = 0, fired = 0;
    bool capped;
    int r, k;

    (void)state;
    for (r = 0; r < 200; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t = parse_ok(triggers[x % 5]);
        last = ms_at("2026-03-28T00:00:00Z") + (int64_t)(x >> 20) % 86400000;
        now = last + (int64_t)(x >> 8) % (6 * 3600000);
        grace = (int64_t)(x >> 40) % 3 == 0 ? TOCK_GRACE_UNLIMITED
                                            : (int64_t)(x >> 30) % 3600000;
        assert_tock_ok(tock_misfire_count(t, last, now, 1000000, &due,
                                          &capped, &err),
                       &err);
        seen = 0;
        for (k = 0; k < 100000; k++) {
            assert_tock_ok(tock_misfire_plan(t, last, now, grace, (x >> 3) & 1,
                                             &p, &err),
                           &err);
            seen += p.missed_count + p.coalesced_count + (p.fire ? 1 : 0);
            fired += p.fire;
            assert_true(p.watermark_ms >= last && p.watermark_ms <= now);
            if (p.fire) {
                assert_true(p.fire_ms > last && p.fire_ms <= now);
                assert_true(grace == TOCK_GRACE_UNLIMITED ||
                            now - p.fire_ms <= grace);
            }
            if (!p.fire && p.missed_count == 0)
                break;
            last = p.watermark_ms;
        }
        if (seen != due)
            fail_msg("%s: %lld due, %lld accounted for", triggers[x % 5],
                     (long long)due, (long long)seen);
        assert_true(!p.has_next || p.next_ms > now);
        total += due;
        tock_trigger_free(t);
    }
    /* The setups really do cover backlogs with both outcomes. */
    assert_true(total > 10000 && fired > 1000 && fired < total);
}

static void test_date_in_the_past(void **state)
{
    struct tock_misfire_plan p;

    (void)state;
    p = plan("date:2026-01-01T00:00:00Z", "2025-12-31T00:00:00Z",
             "2026-01-01T00:00:30Z", 60000, true);
    assert_true(p.fire);
    assert_int_equal(p.fire_ms, ms_at("2026-01-01T00:00:00Z"));
    assert_false(p.has_next);
    p = plan("date:2026-01-01T00:00:00Z", "2025-12-31T00:00:00Z",
             "2026-01-01T00:05:00Z", 60000, true);
    assert_false(p.fire);
    assert_int_equal(p.missed_count, 1);
    assert_false(p.has_next);
    /* A finished trigger: nothing due, no next. */
    p = plan("date:2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
             "2026-01-01T00:05:00Z", 60000, true);
    assert_false(p.fire);
    assert_int_equal(p.missed_count, 0);
    assert_false(p.has_next);
}

/* A 1 ms interval down for a day is planned by arithmetic, exactly. */
static void test_large_backlog(void **state)
{
    struct tock_misfire_plan p;

    (void)state;
    p = plan("interval:1ms@2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
             "2026-01-02T00:00:00Z", 60000, true);
    assert_int_equal(p.missed_count, 86400000 - 60001);
    assert_int_equal(p.coalesced_count, 60000);
    assert_int_equal(p.fire_ms, ms_at("2026-01-02T00:00:00Z"));
    assert_false(p.counts_capped);
    /* Cron counts one by one up to the cap. */
    p = plan("cron:* * * * * *", "2026-01-01T00:00:00Z",
             "2026-01-03T00:00:00Z", 60000, true);
    assert_true(p.counts_capped);
    assert_int_equal(p.missed_count, TOCK_MISFIRE_COUNT_CAP);
    assert_int_equal(p.coalesced_count, 60);
    assert_int_equal(p.fire_ms, ms_at("2026-01-03T00:00:00Z"));
    assert_int_equal(p.next_ms, ms_at("2026-01-03T00:00:01Z"));
}

static void test_latest_and_errors(void **state)
{
    struct tock_error err = {0};
    struct tock_trigger *t = parse_ok("cron:0 0 1 1 *");
    struct tock_misfire_plan p;
    int64_t out;

    (void)state;
    assert_tock_ok(tock_misfire_latest(t, ms_at("2000-01-01T00:00:00Z"),
                                       ms_at("2026-06-01T00:00:00Z"), &out,
                                       &err),
                   &err);
    assert_int_equal(out, ms_at("2026-01-01T00:00:00Z"));
    assert_int_equal(tock_misfire_latest(t, ms_at("2026-01-01T00:00:00Z"),
                                         ms_at("2026-06-01T00:00:00Z"), &out,
                                         &err),
                     TOCK_ENOTIME);
    assert_int_equal(tock_misfire_plan(t, 0, 1, -5, true, &p, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "negative"));
    /* Extreme inputs stay well defined. */
    assert_tock_ok(tock_misfire_plan(t, INT64_MIN, INT64_MAX, INT64_MAX, true,
                                     &p, &err),
                   &err);
    assert_true(p.fire);
    assert_int_equal(p.fire_ms, ms_at("9999-01-01T00:00:00Z"));
    assert_false(p.has_next);
    tock_trigger_free(t);
    t = parse_ok("interval:1m");
    assert_int_equal(tock_misfire_plan(t, 0, 1, 0, true, &p, &err),
                     TOCK_EINVAL);
    tock_trigger_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_due),
        cmocka_unit_test(test_on_time),
        cmocka_unit_test(test_downtime),
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_accounting),
        cmocka_unit_test(test_date_in_the_past),
        cmocka_unit_test(test_large_backlog),
        cmocka_unit_test(test_latest_and_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
