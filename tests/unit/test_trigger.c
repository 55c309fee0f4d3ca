/* test_trigger.c: trigger text forms (round trip and errors), next() for
 * every kind, calendar month-end and DST rules, and/or, bounds, anchors,
 * jitter and overflow edges. */
#include <stdio.h>
#include <string.h>

#include "core/parse.h"
#include "scheduler/trigger.h"
#include "support.h"

/* ---------------------------------------------------------------- helpers */

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

    if (tock_trigger_parse(text, &t, &err) != 0)
        fail_msg("trigger '%s': %s", text, err.msg);
    return t;
}

/* check_next lists n = (words in expect) occurrences after `from`, shown in
 * the trigger's zone (or `display` when given). */
static void check_next_in(const char *text, const char *display,
                          const char *from, const char *expect)
{
    struct tock_error err = {0};
    struct tock_trigger *t = parse_ok(text);
    struct tock_tz *tz = NULL;
    const struct tock_tz *show = tock_trigger_zone(t);
    char got[2048] = "", one[64];
    int64_t after = ms_at(from), next;
    int n = 1;
    const char *p;

    if (display != NULL) {
        assert_tock_ok(tock_tz_load(display, &tz, &err), &err);
        show = tz;
    }
    for (p = expect; *p; p++)
        n += *p == ' ';
    while (n-- > 0) {
        if (tock_trigger_next(t, after, &next, &err) != 0)
            fail_msg("'%s' after %lld: %s", text, (long long)after, err.msg);
        assert_true(next > after);
        tock_time_format(next, show, one, sizeof one);
        if (got[0])
            strcat(got, " ");
        strcat(got, one);
        after = next;
    }
    if (strcmp(got, expect) != 0)
        fail_msg("'%s' from %s:\n  got    %s\n  expect %s", text, from, got,
                 expect);
    tock_trigger_free(t);
    tock_tz_free(tz);
}

static void check_next(const char *text, const char *from, const char *expect)
{
    check_next_in(text, NULL, from, expect);
}

static void check_ended(const char *text, const char *from)
{
    struct tock_error err = {0};
    struct tock_trigger *t = parse_ok(text);
    int64_t next;

    assert_int_equal(tock_trigger_next(t, ms_at(from), &next, &err),
                     TOCK_ENOTIME);
    assert_non_null(strstr(err.msg, "no occurrence"));
    tock_trigger_free(t);
}

static void check_error(const char *text, int code, const char *msg)
{
    struct tock_error err = {0};
    struct tock_trigger *t = NULL;
    int rc = tock_trigger_parse(text, &t, &err);

    if (rc != code || strstr(err.msg, msg) == NULL)
        fail_msg("trigger '%.80s': got %s '%s', expected %s containing '%s'",
                 text, tock_err_name(rc), err.msg, tock_err_name(code), msg);
    assert_null(t);
}

/* ------------------------------------------------------------ text forms */

static void test_round_trip(void **state)
{
    static const char *const rows[][2] = {
        {"cron:0 3 * * *@Europe/Berlin", "cron:0 3 * * *@Europe/Berlin"},
        {"cron:0 3 * * *@UTC", "cron:0 3 * * *"},
        {"  cron:0\t3  * * *  ", "cron:0 3 * * *"},
        {"cron:@daily@US/Eastern", "cron:@daily@America/New_York"},
        {"cron:*/10 * * * * *", "cron:*/10 * * * * *"},
        {"interval:90s", "interval:1m30s"},
        {"interval:1h30m@2026-03-29T01:00:00Z",
         "interval:1h30m@2026-03-29T01:00:00Z"},
        {"interval:5400s@2026-03-29T03:00:00+02:00",
         "interval:1h30m@2026-03-29T01:00:00Z"},
        {"interval:250ms@2026-01-01T00:00:00.250Z",
         "interval:250ms@2026-01-01T00:00:00.250Z"},
        {"date:2026-03-29T03:00:00+02:00", "date:2026-03-29T03:00:00+02:00"},
        {"date:2026-03-29T01:00:00Z", "date:2026-03-29T01:00:00Z"},
        {"date:2026-03-29T01:00:00.5-05:30", "date:2026-03-29T01:00:00.500-05:30"},
        {"date:2026-03-29T03:00:00@Europe/Berlin",
         "date:2026-03-29T03:00:00+02:00@Europe/Berlin"},
        {"date:2026-03-29T01:30:00@UTC", "date:2026-03-29T01:30:00Z"},
        {"date:2026-10-25T02:30:00+01:00@Europe/Berlin",
         "date:2026-10-25T02:30:00+01:00@Europe/Berlin"},
        {"calendar:every 2 weeks at 09:30 from 2026-01-05@Europe/Berlin",
         "calendar:every 2 weeks at 09:30 from 2026-01-05@Europe/Berlin"},
        {"calendar:every 1 days at 07:00:30", "calendar:every day at 07:00:30"},
        {"calendar:every  month\tat 23:59 from 2026-01-31",
         "calendar:every month at 23:59 from 2026-01-31"},
        {"or(cron:0,30 9 * * 1-5@Europe/Berlin,cron:0 12 * * 0,6)",
         "or(cron:0,30 9 * * 1-5@Europe/Berlin, cron:0 12 * * 0,6)"},
        {"and( cron:0 0 13 * * , cron:0 0 * * FRI )",
         "and(cron:0 0 13 * *, cron:0 0 * * FRI)"},
        {"or(and(interval:7s@2026-01-01T00:00:00Z, "
         "interval:11s@2026-01-01T00:00:00Z), date:2030-01-01T00:00:00Z)",
         "or(and(interval:7s@2026-01-01T00:00:00Z, "
         "interval:11s@2026-01-01T00:00:00Z), date:2030-01-01T00:00:00Z)"},
    };
    struct tock_trigger *t, *u;
    char a[1024], b[1024];
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        t = parse_ok(rows[i][0]);
        n = tock_trigger_format(t, a, sizeof a);
        assert_int_equal(n, strlen(a));
        if (strcmp(a, rows[i][1]) != 0)
            fail_msg("'%s' prints as '%s', expected '%s'", rows[i][0], a,
                     rows[i][1]);
        u = parse_ok(a);
        tock_trigger_format(u, b, sizeof b);
        assert_string_equal(a, b);
        tock_trigger_free(t);
        tock_trigger_free(u);
    }
    /* A short buffer is truncated and the needed length reported. */
    t = parse_ok("cron:0 3 * * *@Europe/Berlin");
    assert_int_equal(tock_trigger_format(t, a, 8), 28);
    assert_string_equal(a, "cron:0 ");
    assert_int_equal(tock_trigger_kind(t), TOCK_TRIGGER_CRON);
    assert_string_equal(tock_tz_name(tock_trigger_zone(t)), "Europe/Berlin");
    tock_trigger_free(t);
    tock_trigger_free(NULL);
}

static void test_text_errors(void **state)
{
    char big[5000];

    (void)state;
    check_error("", TOCK_EINVAL, "trigger is empty");
    check_error(NULL, TOCK_EINVAL, "trigger is empty");
    check_error("0 3 * * *", TOCK_EINVAL, "has no kind");
    check_error("crontab:0 3 * * *", TOCK_EINVAL,
                "trigger kind 'crontab' is unknown");
    check_error("CRON:0 3 * * *", TOCK_EINVAL, "unknown");
    check_error("cron:0 25 * * *", TOCK_ERANGE,
                "cron field 'hour': 25 is out of range 0-23");
    check_error("cron:0 0 30 2 *", TOCK_ENOTIME, "never fires");
    check_error("cron:0 3 * * *@Mars/Olympus", TOCK_ENOENT, "Mars/Olympus");
    check_error("cron:0 3 * * *@", TOCK_EINVAL, "time zone after '@' is empty");
    check_error("cron:0 3 * * *@../../etc/passwd", TOCK_EINVAL, "");
    check_error("cron:0 3 * * *@europe/berlin", TOCK_ENOENT,
                "did you mean 'Europe/Berlin'");
    check_error("cron:0 3 * * *@UTC+3", TOCK_EINVAL, "POSIX TZ string");
    check_error("cron:0 3 * * *@Local", TOCK_EINVAL, "not a zone");
    check_error("cron:", TOCK_EINVAL, "cron expression is empty");
    check_error("interval:0s", TOCK_ERANGE, "out of range");
    check_error("interval:0ms", TOCK_ERANGE, "out of range");
    check_error("interval:-5s", TOCK_EINVAL, "not a duration");
    check_error("interval:5", TOCK_EINVAL, "has no unit");
    check_error("interval:0.5ms", TOCK_EINVAL, "not a duration");
    check_error("interval:5300w", TOCK_ERANGE, "out of range");
    check_error("interval:99999999999999999999w", TOCK_ERANGE, "");
    check_error("interval:90s@yesterday", TOCK_EINVAL, "interval anchor");
    check_error("interval:90s@", TOCK_EINVAL, "interval anchor");
    check_error("date:1969-12-31T23:59:59Z", TOCK_EINVAL, "before 1970");
    check_error("date:10000-01-01T00:00:00Z", TOCK_EINVAL, "");
    check_error("date:2024-02-30T00:00:00Z", TOCK_EINVAL, "");
    check_error("date:2026-01-01T23:59:60Z", TOCK_EINVAL, "");
    check_error("date:2026-03-29T03:00:00", TOCK_EINVAL, "has no UTC offset");
    check_error("date:2026-03-29T02:30:00@Europe/Berlin", TOCK_EINVAL,
                "does not exist in Europe/Berlin");
    check_error("date:2026-10-25T02:30:00@Europe/Berlin", TOCK_EINVAL,
                "happens twice in Europe/Berlin");
    check_error("date:2026-03-29T03:00:00+01:00@Europe/Berlin", TOCK_EINVAL,
                "conflicts with Europe/Berlin, which is at UTC+02:00");
    check_error("date:2026-03-29T03:00:00+01:00@UTC", TOCK_EINVAL,
                "conflicts with UTC");
    check_error("calendar:every fortnight at 09:00", TOCK_EINVAL,
                "'fortnight' is not a unit");
    check_error("calendar:every 2 weeks", TOCK_EINVAL, "expected 'at HH:MM'");
    check_error("calendar:each day at 09:00", TOCK_EINVAL,
                "expected 'every' first");
    check_error("calendar:every 0 days at 09:00", TOCK_EINVAL,
                "'0' is not a count");
    check_error("calendar:every day at 25:00", TOCK_ERANGE, "out of range");
    check_error("calendar:every day at 9:30", TOCK_EINVAL,
                "'9:30' is not a time of day");
    check_error("calendar:every day at 09:30 from 2026-02-30", TOCK_ERANGE,
                "not a date");
    check_error("calendar:every day at 09:30 from 1969-12-31", TOCK_ERANGE,
                "not a date");
    check_error("calendar:every day at 09:30 from 2026-01-01 now",
                TOCK_EINVAL, "unexpected 'now' after the date");
    check_error("calendar:every day at 09:30 soon", TOCK_EINVAL,
                "unexpected 'soon'");
    check_error("calendar:every 101 years at 00:00", TOCK_ERANGE,
                "more than 100 years");
    check_error("and(cron:0 0 * * *)", TOCK_EINVAL, "at least two");
    check_error("or(cron:0 0 * * *, interval:1h", TOCK_EINVAL,
                "missing its closing ')'");
    check_error("or(, cron:0 0 * * *)", TOCK_EINVAL, "trigger is empty");
    check_error("or(cron:0 0 * * *, bogus:1)", TOCK_EINVAL,
                "cron field");
    check_error("and(cron:0 0 * * *, cron:0 61 * * *)", TOCK_ERANGE,
                "61 is out of range");
    check_error("or(or(or(or(or(cron:* * * * *, cron:* * * * *), cron:* * * "
                "* *), cron:* * * * *), cron:* * * * *), cron:* * * * *)",
                TOCK_ETOOBIG, "nest deeper");
    memset(big, 0, sizeof big);
    strcpy(big, "or(");
    while (strlen(big) < 400)
        strcat(big, "cron:* * * * *, ");
    strcat(big, "cron:* * * * *)");
    check_error(big, TOCK_ETOOBIG, "at most 16 triggers");
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "cron:", 5);
    check_error(big, TOCK_ETOOBIG, "the limit is 4096");
}

/* -------------------------------------------------------------- next() */

static void test_date_and_interval(void **state)
{
    (void)state;
    check_next("date:2026-03-29T03:00:00+02:00", "2026-01-01T00:00:00Z",
               "2026-03-29T01:00:00Z");
    check_ended("date:2026-03-29T03:00:00+02:00", "2026-03-29T01:00:00Z");
    check_ended("date:2026-03-29T03:00:00+02:00", "2027-01-01T00:00:00Z");
    check_next("date:2026-03-29T03:00:00@Europe/Berlin",
               "2026-01-01T00:00:00Z", "2026-03-29T03:00:00+02:00");
    /* The anchor itself is an occurrence. */
    check_next("interval:90s@2026-01-01T00:00:00Z", "2025-12-31T00:00:00Z",
               "2026-01-01T00:00:00Z 2026-01-01T00:01:30Z "
               "2026-01-01T00:03:00Z");
    check_next("interval:90s@2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
               "2026-01-01T00:01:30Z");
    check_next("interval:90s@2026-01-01T00:00:00Z", "2026-01-01T00:01:29.999Z",
               "2026-01-01T00:01:30Z");
    check_next("interval:250ms@2026-01-01T00:00:00Z", "2026-01-01T00:00:00.1Z",
               "2026-01-01T00:00:00.250Z 2026-01-01T00:00:00.500Z "
               "2026-01-01T00:00:00.750Z 2026-01-01T00:00:01Z");
    check_next("interval:2w@2026-01-05T00:00:00Z", "2026-02-01T00:00:00Z",
               "2026-02-02T00:00:00Z 2026-02-16T00:00:00Z");
    /* Intervals count real time: across spring forward in Berlin one hour
     * later reads two hours later on the clock. */
    check_next_in("interval:1h@2026-03-29T00:00:00Z", "Europe/Berlin",
                  "2026-03-28T23:30:00Z",
                  "2026-03-29T01:00:00+01:00 2026-03-29T03:00:00+02:00 "
                  "2026-03-29T04:00:00+02:00");
    check_next_in("interval:1h@2026-10-25T00:00:00Z", "Europe/Berlin",
                  "2026-10-24T23:30:00Z",
                  "2026-10-25T02:00:00+02:00 2026-10-25T02:00:00+01:00 "
                  "2026-10-25T03:00:00+01:00");
}

static void test_calendar(void **state)
{
    (void)state;
    /* The 31st of a short month is its last day; counting restarts from
     * the anchor each time, so March is back on the 31st. */
    check_next("calendar:every month at 09:00 from 2026-01-31",
               "2026-01-01T00:00:00Z",
               "2026-01-31T09:00:00Z 2026-02-28T09:00:00Z "
               "2026-03-31T09:00:00Z 2026-04-30T09:00:00Z "
               "2026-05-31T09:00:00Z");
    check_next("calendar:every 3 months at 00:00 from 2025-11-30",
               "2026-01-01T00:00:00Z",
               "2026-02-28T00:00:00Z 2026-05-30T00:00:00Z "
               "2026-08-30T00:00:00Z");
    check_next("calendar:every year at 12:00 from 2024-02-29",
               "2024-01-01T00:00:00Z",
               "2024-02-29T12:00:00Z 2025-02-28T12:00:00Z "
               "2026-02-28T12:00:00Z 2027-02-28T12:00:00Z "
               "2028-02-29T12:00:00Z");
    check_next("calendar:every 2 weeks at 09:30 from 2026-01-05@Europe/Berlin",
               "2026-01-05T09:30:00+01:00",
               "2026-01-19T09:30:00+01:00 2026-02-02T09:30:00+01:00");
    check_next("calendar:every 3 days at 06:00:30 from 2026-01-01",
               "2026-01-05T12:00:00Z",
               "2026-01-07T06:00:30Z 2026-01-10T06:00:30Z");
    /* Long before the anchor: the anchor is the first occurrence. */
    check_next("calendar:every day at 08:00 from 2030-06-15",
               "2026-01-01T00:00:00Z", "2030-06-15T08:00:00Z");
    /* DST: the local time of day is kept; a time in the gap fires when the
     * gap ends, a repeated time in its first pass. */
    check_next("calendar:every day at 02:30 from 2026-03-27@Europe/Berlin",
               "2026-03-01T00:00:00Z",
               "2026-03-27T02:30:00+01:00 2026-03-28T02:30:00+01:00 "
               "2026-03-29T03:00:00+02:00 2026-03-30T02:30:00+02:00");
    check_next("calendar:every day at 02:30 from 2026-10-24@Europe/Berlin",
               "2026-10-01T00:00:00Z",
               "2026-10-24T02:30:00+02:00 2026-10-25T02:30:00+02:00 "
               "2026-10-26T02:30:00+01:00");
    check_next("calendar:every day at 02:30 from 2026-03-07@America/New_York",
               "2026-03-01T00:00:00Z",
               "2026-03-07T02:30:00-05:00 2026-03-08T03:00:00-04:00 "
               "2026-03-09T02:30:00-04:00");
    check_next("calendar:every day at 01:30 from 2026-10-31@America/New_York",
               "2026-10-01T00:00:00Z",
               "2026-10-31T01:30:00-04:00 2026-11-01T01:30:00-04:00 "
               "2026-11-02T01:30:00-05:00");
    check_next("calendar:every day at 02:15 from 2026-10-03"
               "@Australia/Lord_Howe",
               "2026-10-01T00:00:00Z",
               "2026-10-03T02:15:00+10:30 2026-10-04T02:30:00+11:00 "
               "2026-10-05T02:15:00+11:00");
    check_next("calendar:every day at 01:45 from 2026-04-04"
               "@Australia/Lord_Howe",
               "2026-04-01T00:00:00Z",
               "2026-04-04T01:45:00+11:00 2026-04-05T01:45:00+11:00 "
               "2026-04-06T01:45:00+10:30");
    check_ended("calendar:every 100 years at 00:00 from 9990-01-01",
                "9990-01-01T00:00:00Z");
}

static void test_cron_kind(void **state)
{
    (void)state;
    check_next("cron:30 2 * * *@Europe/Berlin", "2026-03-28T00:00:00Z",
               "2026-03-28T02:30:00+01:00 2026-03-29T03:00:00+02:00");
    /* Sub-second `after`: the next whole second is still after it. */
    check_next("cron:* * * * * *", "2026-01-01T00:00:00.999Z",
               "2026-01-01T00:00:01Z 2026-01-01T00:00:02Z");
    check_next("cron:@hourly@Asia/Kolkata", "2026-01-01T00:00:00Z",
               "2026-01-01T06:00:00+05:30 2026-01-01T07:00:00+05:30");
    check_ended("cron:0 0 1 1 *", "9999-06-01T00:00:00Z");
}

static void test_and_or(void **state)
{
    (void)state;
    /* Friday the 13th. */
    check_next("and(cron:0 0 13 * *, cron:0 0 * * FRI)",
               "2026-01-01T00:00:00Z",
               "2026-02-13T00:00:00Z 2026-03-13T00:00:00Z "
               "2026-11-13T00:00:00Z");
    check_next("and(interval:7s@2026-01-01T00:00:00Z, "
               "interval:11s@2026-01-01T00:00:00Z)",
               "2025-12-31T00:00:00Z",
               "2026-01-01T00:00:00Z 2026-01-01T00:01:17Z "
               "2026-01-01T00:02:34Z");
    check_next("and(cron:*/15 * * * *, interval:10m@2026-01-01T00:00:00Z)",
               "2026-01-01T00:00:00Z",
               "2026-01-01T00:30:00Z 2026-01-01T01:00:00Z");
    check_next("or(cron:0 9 * * *, cron:30 9 * * *, date:2026-01-01T12:00:00Z)",
               "2026-01-01T00:00:00Z",
               "2026-01-01T09:00:00Z 2026-01-01T09:30:00Z "
               "2026-01-01T12:00:00Z 2026-01-02T09:00:00Z");
    /* Equal times from two children are one occurrence. */
    check_next("or(cron:0 * * * *, cron:*/30 * * * *)", "2026-01-01T00:00:00Z",
               "2026-01-01T00:30:00Z 2026-01-01T01:00:00Z "
               "2026-01-01T01:30:00Z");
    check_ended("or(date:2026-01-01T00:00:00Z, date:2026-02-01T00:00:00Z)",
                "2026-03-01T00:00:00Z");
    check_ended("and(date:2026-01-01T00:00:00Z, cron:0 0 * * *)",
                "2026-03-01T00:00:00Z");
}

static void test_and_never(void **state)
{
    struct tock_error err = {0};
    struct tock_trigger *t =
        parse_ok("and(interval:2s@2026-01-01T00:00:00Z, "
                 "interval:2s@2026-01-01T00:00:01Z)");
    int64_t next;

    (void)state;
    assert_int_equal(tock_trigger_next(t, ms_at("2026-01-01T00:00:00Z"),
                                       &next, &err),
                     TOCK_ERANGE);
    assert_non_null(strstr(err.msg, "may never coincide"));
    tock_trigger_free(t);
}

/* ------------------------------------------------ bounds, anchors, checks */

static void test_bounds(void **state)
{
    struct tock_error err = {0};
    struct tock_trigger *t = parse_ok("cron:0 * * * *");
    int64_t next, s, e;

    (void)state;
    assert_tock_ok(tock_trigger_set_bounds(t, ms_at("2026-01-01T05:30:00Z"),
                                           ms_at("2026-01-01T07:00:00Z"),
                                           &err),
                   &err);
    tock_trigger_bounds(t, &s, &e);
    assert_int_equal(s, ms_at("2026-01-01T05:30:00Z"));
    assert_tock_ok(tock_trigger_next(t, 0, &next, &err), &err);
    assert_int_equal(next, ms_at("2026-01-01T06:00:00Z"));
    assert_tock_ok(tock_trigger_next(t, next, &next, &err), &err);
    assert_int_equal(next, ms_at("2026-01-01T07:00:00Z")); /* end inclusive */
    assert_int_equal(tock_trigger_next(t, next, &next, &err), TOCK_ENOTIME);
    assert_int_equal(tock_trigger_set_bounds(t, ms_at("2026-02-01T00:00:00Z"),
                                             ms_at("2026-01-01T00:00:00Z"),
                                             &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "is after end"));
    assert_int_equal(tock_trigger_set_bounds(t, -1, 0, &err), TOCK_ERANGE);
    assert_int_equal(tock_trigger_set_bounds(t, 0, TOCK_TIME_MAX_MS + 1, &err),
                     TOCK_ERANGE);
    /* A start bound before which an interval anchors: the grid stays. */
    tock_trigger_free(t);
    t = parse_ok("interval:1h@2026-01-01T00:00:00Z");
    assert_tock_ok(tock_trigger_set_bounds(t, ms_at("2026-01-01T02:30:00Z"),
                                           TOCK_TIME_MAX_MS, &err),
                   &err);
    assert_tock_ok(tock_trigger_next(t, 0, &next, &err), &err);
    assert_int_equal(next, ms_at("2026-01-01T03:00:00Z"));
    tock_trigger_free(t);
}

static void test_anchor_and_check(void **state)
{
    struct tock_error err = {0};
    struct tock_trigger *t = parse_ok("or(interval:90s, calendar:every week "
                                      "at 09:00@Europe/Berlin)");
    int64_t now = ms_at("2026-01-07T23:30:00Z"), next;
    char buf[256];

    (void)state;
    assert_false(tock_trigger_is_anchored(t));
    assert_int_equal(tock_trigger_next(t, now, &next, &err), TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "no anchor"));
    assert_int_equal(tock_trigger_check(t, now, 0, &err), TOCK_EINVAL);
    tock_trigger_anchor(t, now);
    assert_true(tock_trigger_is_anchored(t));
    tock_trigger_format(t, buf, sizeof buf);
    /* 23:30Z is already January 8 in Berlin. */
    assert_string_equal(buf, "or(interval:1m30s@2026-01-07T23:30:00Z, "
                             "calendar:every week at 09:00 from 2026-01-08"
                             "@Europe/Berlin)");
    assert_tock_ok(tock_trigger_next(t, now, &next, &err), &err);
    assert_int_equal(next, now + 90000); /* one period after adding */
    assert_tock_ok(tock_trigger_check(t, now, 0, &err), &err);
    tock_trigger_free(t);

    t = parse_ok("interval:1m");
    tock_trigger_anchor(t, now);
    assert_tock_ok(tock_trigger_check(t, now, 59999, &err), &err);
    assert_int_equal(tock_trigger_check(t, now, 60000, &err), TOCK_EINVAL);
    assert_string_equal(err.msg, "jitter 1m is not less than the interval 1m; "
                                 "use a jitter below the interval");
    assert_int_equal(tock_trigger_check(t, now, -1, &err), TOCK_ERANGE);
    assert_tock_ok(tock_trigger_set_bounds(t, 0, now - 1, &err), &err);
    assert_int_equal(tock_trigger_check(t, now, 0, &err), TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "is in the past"));
    tock_trigger_free(t);
}

static void test_constructors(void **state)
{
    struct tock_error err = {0};
    struct tock_trigger *t = NULL;
    char buf[128];

    (void)state;
    assert_tock_ok(tock_trigger_new_interval(5000, 0, &t, &err), &err);
    tock_trigger_format(t, buf, sizeof buf);
    assert_string_equal(buf, "interval:5s@1970-01-01T00:00:00Z");
    tock_trigger_free(t);
    assert_int_equal(tock_trigger_new_interval(0, 0, &t, &err), TOCK_ERANGE);
    assert_int_equal(tock_trigger_new_interval(-5, 0, &t, &err), TOCK_ERANGE);
    assert_int_equal(tock_trigger_new_interval(TOCK_DURATION_MAX_MS + 1, 0, &t,
                                               &err),
                     TOCK_ERANGE);
    assert_int_equal(tock_trigger_new_interval(1000, -5, &t, &err),
                     TOCK_ERANGE);
    assert_tock_ok(tock_trigger_new_date(1500, &t, &err), &err);
    tock_trigger_format(t, buf, sizeof buf);
    assert_string_equal(buf, "date:1970-01-01T00:00:01.500Z");
    tock_trigger_free(t);
    assert_int_equal(tock_trigger_new_date(TOCK_TIME_MAX_MS + 1, &t, &err),
                     TOCK_ERANGE);
    assert_tock_ok(tock_trigger_new_cron("0 3 * * *", "Europe/Berlin", &t,
                                         &err),
                   &err);
    tock_trigger_format(t, buf, sizeof buf);
    assert_string_equal(buf, "cron:0 3 * * *@Europe/Berlin");
    tock_trigger_free(t);
    assert_int_equal(tock_trigger_new_cron("0 3 * * *", "Mars/Olympus", &t,
                                           &err),
                     TOCK_ENOENT);
    assert_null(t);
}

/* Far ends of time never overflow: start + k * interval stays in range. */
static void test_overflow(void **state)
{
    struct tock_error err = {0};
    struct tock_trigger *t = NULL;
    int64_t next;

    (void)state;
    t = parse_ok("interval:1ms@9999-12-31T23:59:59.999Z");
    assert_tock_ok(tock_trigger_next(t, INT64_MIN, &next, &err), &err);
    assert_int_equal(next, TOCK_TIME_MAX_MS);
    assert_int_equal(tock_trigger_next(t, next, &next, &err), TOCK_ENOTIME);
    assert_int_equal(tock_trigger_next(t, INT64_MAX, &next, &err),
                     TOCK_ENOTIME);
    tock_trigger_free(t);
    t = parse_ok("interval:5218w@1970-01-01T00:00:00Z");
    assert_tock_ok(tock_trigger_next(t, ms_at("9000-01-01T00:00:00Z"), &next,
                                     &err),
                   &err);
    assert_int_equal(tock_trigger_next(t, ms_at("9999-12-01T00:00:00Z"), &next,
                                       &err),
                     TOCK_ENOTIME);
    tock_trigger_free(t);
    t = parse_ok("cron:* * * * * *");
    assert_int_equal(tock_trigger_next(t, INT64_MAX, &next, &err),
                     TOCK_ENOTIME);
    assert_tock_ok(tock_trigger_next(t, INT64_MIN, &next, &err), &err);
    assert_int_equal(next, 0);
    assert_int_equal(tock_trigger_next(t, TOCK_TIME_MAX_MS - 999, &next, &err),
                     TOCK_ENOTIME);
    tock_trigger_free(t);
    t = parse_ok("calendar:every day at 00:00 from 9999-12-31");
    assert_int_equal(tock_trigger_next(t, ms_at("9999-12-31T00:00:00Z"), &next,
                                       &err),
                     TOCK_ENOTIME);
    tock_trigger_free(t);
}

/* Random calendar triggers in zones with DST: occurrences increase, fall
 * on the anchor date plus a multiple of the period (clamped to the month's
 * end), at the time of day -- or, when that does not exist, at the end of
 * the gap, and when it happens twice, in its first pass. */
struct cal_case {
    int every, unit, ay, am, ad, tod; /* tod in minutes */
};

static int cal_gaps, cal_folds;

static void check_occurrence(const char *text, const struct tock_tz *tz,
                             const struct cal_case *k, int64_t ms)
{
    struct tock_civil l, want;
    int64_t idx, first, second;
    enum tock_tz_local_kind kind;
    int dim;

    tock_tz_to_local(tz, ms / 1000, &l, NULL);
    if (k->unit < 2) {
        idx = tock_days_from_civil(l.year, l.month, l.day) -
              tock_days_from_civil(k->ay, k->am, k->ad);
        if (idx < 0 || idx % (k->every * (k->unit ? 7 : 1)) != 0)
            fail_msg("%s: %04d-%02d-%02d is off the grid", text, l.year,
                     l.month, l.day);
    } else {
        idx = (l.year * 12 + l.month) - (k->ay * 12 + k->am);
        dim = tock_days_in_month(l.year, l.month);
        if (idx < 0 || idx % (k->unit == 2 ? k->every : k->every * 12) != 0 ||
            l.day != (k->ad < dim ? k->ad : dim))
            fail_msg("%s: %04d-%02d-%02d is off the grid", text, l.year,
                     l.month, l.day);
    }
    want = l;
    want.hour = k->tod / 60;
    want.minute = k->tod % 60;
    want.second = 0;
    kind = tock_tz_from_local(tz, &want, &first, &second);
    cal_gaps += kind == TOCK_LOCAL_GAP;
    cal_folds += kind == TOCK_LOCAL_FOLD;
    if (first * 1000 != ms)
        fail_msg("%s: fired at %02d:%02d local, expected %s of %02d:%02d",
                 text, l.hour, l.minute,
                 kind == TOCK_LOCAL_GAP ? "the gap end" : "the first pass",
                 want.hour, want.minute);
}

static void test_calendar_property(void **state)
{
    static const char *const zones[] = {"Europe/Berlin", "America/New_York",
                                        "Australia/Lord_Howe",
                                        "America/Sao_Paulo"};
    static const char *const units[] = {"days", "weeks", "months", "years"};
    static const int tods[] = {450, 150, 135, 30, 90};
    struct tock_error err = {0};
    struct tock_trigger *t;
    struct tock_tz *tz;
    struct cal_case k;
    char text[200];
    uint64_t x = 0x853c49e6748fea9bULL;
    int64_t after, next;
    int r, i;

    (void)state;
    for (r = 0; r < 300; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        k.unit = (int)(x % 4);
        k.every = 1 + (int)((x >> 8) % (k.unit == 3 ? 2 : 5));
        k.ay = 2012 + (int)((x >> 16) % 14);
        k.am = 1 + (int)((x >> 24) % 12);
        k.ad = 1 + (int)((x >> 32) % (uint64_t)tock_days_in_month(k.ay, k.am));
        k.tod = tods[(x >> 44) % 5];
        snprintf(text, sizeof text,
                 "calendar:every %d %s at %02d:%02d from %04d-%02d-%02d@%s",
                 k.every, units[k.unit], k.tod / 60, k.tod % 60, k.ay, k.am,
                 k.ad, zones[(x >> 40) % 4]);
        assert_tock_ok(tock_tz_load(zones[(x >> 40) % 4], &tz, &err), &err);
        t = parse_ok(text);
        after = ms_at("2010-01-01T00:00:00Z") +
                (int64_t)((x >> 20) % 500000000ULL) * 1000;
        for (i = 0; i < 30; i++, after = next) {
            assert_tock_ok(tock_trigger_next(t, after, &next, &err), &err);
            assert_true(next > after);
            check_occurrence(text, tz, &k, next);
        }
        tock_trigger_free(t);
        tock_tz_free(tz);
    }
    /* The walks did cross gaps and folds. */
    assert_true(cal_gaps > 0 && cal_folds > 0);
}

/* ------------------------------------------------------------------ jitter */

static void test_jitter(void **state)
{
    uint64_t r;
    int64_t f;

    (void)state;
    assert_int_equal(tock_trigger_jitter(1000, 2000, 0, 12345), 1000);
    assert_int_equal(tock_trigger_jitter(1000, 2000, 500, 0), 1000);
    assert_int_equal(tock_trigger_jitter(1000, 2000, 500, 500), 1500);
    assert_int_equal(tock_trigger_jitter(1000, 2000, 500, 501), 1000);
    /* Clamped below the next occurrence. */
    assert_int_equal(tock_trigger_jitter(1000, 1100, 500, 99), 1099);
    assert_int_equal(tock_trigger_jitter(1000, 1100, 500, 100), 1000);
    assert_int_equal(tock_trigger_jitter(1000, 1001, 500, 77), 1000);
    /* No next occurrence: the whole jitter. */
    assert_int_equal(tock_trigger_jitter(1000, -1, 500, 500), 1500);
    for (r = 0; r < 100000; r += 7) {
        f = tock_trigger_jitter(5000, 5300, 1000, r * 2654435761ULL);
        assert_true(f >= 5000 && f < 5300);
    }
    f = tock_trigger_jitter(0, -1, TOCK_DURATION_MAX_MS, UINT64_MAX);
    assert_true(f >= 0 && f <= TOCK_DURATION_MAX_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_date_and_interval),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_calendar_property),
        cmocka_unit_test(test_cron_kind),
        cmocka_unit_test(test_and_or),
        cmocka_unit_test(test_and_never),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_anchor_and_check),
        cmocka_unit_test(test_constructors),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_jitter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
