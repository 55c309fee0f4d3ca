/* test_cron.c: cron parsing, errors, hand-checked vectors for every syntax
 * element and every DST rule, and property tests against a brute-force
 * reference that checks instants one by one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/cron.h"
#include "scheduler/tz.h"
#include "support.h"

/* ---------------------------------------------------------------- helpers */

static struct tock_tz *load_zone(const char *name)
{
    struct tock_error err = {0};
    struct tock_tz *tz = NULL;

    if (name == NULL)
        return NULL;
    assert_tock_ok(tock_tz_load(name, &tz, &err), &err);
    return tz;
}

static int64_t at(const char *rfc3339)
{
    struct tock_error err = {0};
    int64_t ms = 0;

    assert_tock_ok(tock_time_parse(rfc3339, &ms, "test", &err), &err);
    return ms / 1000;
}

/* check_next compares the next occurrences after `from` with `expect`, a
 * space-separated list of RFC 3339 times in the zone's offsets. */
static void check_next(const char *expr, const char *zone, const char *from,
                       const char *expect)
{
    struct tock_error err = {0};
    struct tock_cron *c = NULL;
    struct tock_tz *tz = load_zone(zone);
    char got[2048] = "", one[64];
    int64_t t = at(from), next;
    int n = 1;
    const char *p;

    for (p = expect; *p; p++)
        n += *p == ' ';
    assert_tock_ok(tock_cron_parse(expr, &c, &err), &err);
    while (n-- > 0) {
        assert_tock_ok(tock_cron_next(c, tz, t, &next, &err), &err);
        assert_true(next > t);
        tock_time_format(next * 1000, tz, one, sizeof one);
        if (got[0])
            strcat(got, " ");
        strcat(got, one);
        t = next;
    }
    if (strcmp(got, expect) != 0)
        fail_msg("cron '%s' in %s from %s:\n  got    %s\n  expect %s", expr,
                 zone ? zone : "UTC", from, got, expect);
    tock_cron_free(c);
    tock_tz_free(tz);
}

static void check_error(const char *expr, int code, const char *msg)
{
    struct tock_error err = {0};
    struct tock_cron *c = NULL;
    int rc = tock_cron_parse(expr, &c, &err);

    if (rc != code || strstr(err.msg, msg) == NULL)
        fail_msg("cron '%s': got %s '%s', expected %s containing '%s'", expr,
                 tock_err_name(rc), err.msg, tock_err_name(code), msg);
    assert_null(c);
}

/* ------------------------------------------------------------- bad input */

static void test_errors(void **state)
{
    char big[10241];

    (void)state;
    check_error("0 25 * * *", TOCK_ERANGE,
                "cron field 'hour': 25 is out of range 0-23");
    check_error("60 * * * *", TOCK_ERANGE,
                "cron field 'minute': 60 is out of range 0-59");
    check_error("0 0 32 * *", TOCK_ERANGE,
                "cron field 'day-of-month': 32 is out of range 1-31");
    check_error("0 0 0 * *", TOCK_ERANGE, "0 is out of range 1-31");
    check_error("0 0 * 13 *", TOCK_ERANGE,
                "cron field 'month': 13 is out of range 1-12");
    check_error("0 0 * * 8", TOCK_ERANGE, "8 is out of range 0-7");
    check_error("60 0 0 * * *", TOCK_ERANGE,
                "cron field 'second': 60 is out of range 0-59");
    check_error("* * * *", TOCK_EINVAL, "has 4 fields; give 5");
    check_error("* * * * * * *", TOCK_EINVAL, "has 7 fields");
    check_error("* * * * * * * * *", TOCK_EINVAL, "more than 7 fields");
    check_error("*/0 * * * *", TOCK_EINVAL,
                "cron field 'minute': step 0 in '*/0' is not allowed");
    check_error("0 1-5/0 * * *", TOCK_EINVAL, "step 0");
    check_error("*/60 * * * *", TOCK_ERANGE, "step 60");
    check_error("5-1 * * * *", TOCK_EINVAL,
                "cron field 'minute': range 5-1 is reversed");
    check_error("0 0 * * FRI-MON", TOCK_EINVAL, "range 5-1 is reversed");
    check_error("0 L * * *", TOCK_EINVAL,
                "cron field 'hour': 'L': 'L' is only allowed in day-of-month");
    check_error("0 0 * L *", TOCK_EINVAL, "cron field 'month'");
    check_error("0 0 * * 1W", TOCK_EINVAL, "'W' is not allowed here");
    check_error("0 0 1#2 * *", TOCK_EINVAL, "'#' is not allowed here");
    check_error("0 0 32W * *", TOCK_ERANGE,
                "cron field 'day-of-month': 32 is out of range 1-31");
    check_error("0 0 1-5W * *", TOCK_EINVAL, "W must follow a single day");
    check_error("0 0 5L * *", TOCK_EINVAL, "L stands first");
    check_error("0 0 * * 1#6", TOCK_ERANGE, "the ordinal after # must be 1-5");
    check_error("0 0 * * 1#0", TOCK_ERANGE, "the ordinal after # must be 1-5");
    check_error("0 0 * * 1-5#2", TOCK_EINVAL, "must follow a single weekday");
    check_error("0 0 * * L", TOCK_EINVAL, "'L' needs a weekday before it");
    check_error("0 0 L-31 * *", TOCK_ERANGE, "offset after L- must be 0-30");
    check_error("0 0 * MON *", TOCK_EINVAL,
                "cron field 'month': 'MON' is a day-of-week name");
    check_error("0 0 * * JAN", TOCK_EINVAL,
                "cron field 'day-of-week': 'JAN' is a month name");
    check_error("0 JAN * * *", TOCK_EINVAL, "'JAN' is a month name");
    check_error("0 0 * * MONDAY", TOCK_EINVAL, "not a day of the week");
    check_error("0 0 * FOO *", TOCK_EINVAL, "'FOO' is not a month");
    check_error("0 ? * * *", TOCK_EINVAL, "'?' is only allowed in day");
    check_error("0 0 ?,1 * *", TOCK_EINVAL, "'?' must stand alone");
    check_error("1,,2 * * * *", TOCK_EINVAL, "empty item in list '1,,2'");
    check_error("1, * * * *", TOCK_EINVAL, "empty item");
    check_error("", TOCK_EINVAL, "cron expression is empty");
    check_error(" \t ", TOCK_EINVAL, "cron expression is empty");
    check_error("0 0 * * *\n0 1 * * *", TOCK_EINVAL, "control character");
    check_error("@reboot", TOCK_EINVAL, "'@reboot' is not supported");
    check_error("@every 5s", TOCK_EINVAL, "use an interval trigger");
    check_error("@fortnightly", TOCK_EINVAL, "unknown cron macro");
    check_error("0 0 30 2 *", TOCK_ENOTIME, "never fires");
    check_error("0 0 31 4,6,9,11 *", TOCK_ENOTIME, "no next time exists");
    check_error("0 0 30W 2 *", TOCK_ENOTIME, "never fires");
    check_error("0 0 L-29 2 *", TOCK_ENOTIME, "never fires");
    /* U+0663 ARABIC-INDIC DIGIT THREE, U+FF15 FULLWIDTH DIGIT FIVE. */
    check_error("\xd9\xa3 * * * *", TOCK_EINVAL, "not an ASCII digit");
    check_error("0 \xef\xbc\x95 * * *", TOCK_EINVAL, "not an ASCII digit");
    check_error("1-\xef\xbc\x95 * * * *", TOCK_EINVAL, "not an ASCII digit");
    check_error("-1 * * * *", TOCK_EINVAL, "missing a number");
    check_error("0 0 * * 1-", TOCK_EINVAL, "missing a number");
    check_error("99999999999999999999 * * * *", TOCK_ERANGE, "out of range");
    check_error("0x10 * * * *", TOCK_EINVAL, "is not a value");
    check_error("1.5 * * * *", TOCK_EINVAL, "is not a value");
    memset(big, '*', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    check_error(big, TOCK_ETOOBIG, "10240 bytes long; the limit is 1024");
    check_error(NULL, TOCK_EINVAL, "empty");
}

static void test_accepted(void **state)
{
    static const char *const ok[] = {
        "0 3 * * *",         "0\t3\t*\t*\t*",        "  0 3 * * *  ",
        "0 0 * jan,Feb mon", "0 0 ? * MON-FRI",      "0 0 L * ?",
        "0 0 LW * *",        "0 0 L-3 * *",          "0 0 15W * *",
        "0 0 * * 5L",        "0 0 * * FRIL",         "0 0 * * 1#2,3#4",
        "0 0 * * MON-SUN",   "0 0 * * 0-7",          "*/5 10/5 * * *",
        "@yearly",           "@ANNUALLY",            "@monthly",
        "@weekly",           "@daily",               "@midnight",
        "@hourly",           "0 0 29 2 *",           "00 08 * * *",
        "0 0 * * 7",         "*/15 0 12 1-31/2 * *",
    };
    struct tock_error err = {0};
    struct tock_cron *c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        c = NULL;
        assert_tock_ok(tock_cron_parse(ok[i], &c, &err), &err);
        tock_cron_free(c);
    }
    tock_cron_free(NULL);
}

static void test_text(void **state)
{
    struct tock_error err = {0};
    struct tock_cron *c = NULL, *d = NULL;

    (void)state;
    assert_tock_ok(tock_cron_parse(" 0\t3  * *\t* ", &c, &err), &err);
    assert_string_equal(tock_cron_text(c), "0 3 * * *");
    assert_tock_ok(tock_cron_parse(tock_cron_text(c), &d, &err), &err);
    assert_string_equal(tock_cron_text(d), "0 3 * * *");
    tock_cron_free(c);
    tock_cron_free(d);
    assert_tock_ok(tock_cron_parse("@Daily", &c, &err), &err);
    assert_string_equal(tock_cron_text(c), "@Daily");
    tock_cron_free(c);
}

static void test_hour_wild(void **state)
{
    static const struct {
        const char *expr;
        bool wild;
    } rows[] = {
        {"* * * * *", true},        {"0 * * * *", true},
        {"0 */2 * * *", true},      {"0 0-23/3 * * *", true},
        {"0 0/4 * * *", true},      {"0 0-23 * * *", true},
        {"0 0,12 * * *", true},     {"@hourly", true},
        {"0 2 * * *", false},       {"0 1-23/2 * * *", false},
        {"0 2-5 * * *", false},     {"@daily", false},
        {"0 0,1,2 * * *", false},   {"0 3/2 * * *", false},
    };
    struct tock_error err = {0};
    struct tock_cron *c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_tock_ok(tock_cron_parse(rows[i].expr, &c, &err), &err);
        if (tock_cron_hour_wild(c) != rows[i].wild)
            fail_msg("'%s': hour_wild should be %d", rows[i].expr,
                     rows[i].wild);
        tock_cron_free(c);
    }
}

/* ------------------------------------------------------- syntax vectors */

static void test_fields_utc(void **state)
{
    (void)state;
    check_next("*/15 * * * *", NULL, "2026-01-01T00:07:00Z",
               "2026-01-01T00:15:00Z 2026-01-01T00:30:00Z "
               "2026-01-01T00:45:00Z 2026-01-01T01:00:00Z");
    /* Strictly after: a start on an occurrence is not returned. */
    check_next("0 3 * * *", NULL, "2026-01-01T03:00:00Z",
               "2026-01-02T03:00:00Z 2026-01-03T03:00:00Z");
    check_next("0 3 * * *", NULL, "2026-01-01T02:59:59.999Z",
               "2026-01-01T03:00:00Z");
    check_next("*/20 * * * * *", NULL, "2026-01-01T00:00:00Z",
               "2026-01-01T00:00:20Z 2026-01-01T00:00:40Z "
               "2026-01-01T00:01:00Z");
    check_next("10-50/20 * * * *", NULL, "2026-01-01T00:00:00Z",
               "2026-01-01T00:10:00Z 2026-01-01T00:30:00Z "
               "2026-01-01T00:50:00Z 2026-01-01T01:10:00Z");
    check_next("5/20 * * * *", NULL, "2026-01-01T00:00:00Z",
               "2026-01-01T00:05:00Z 2026-01-01T00:25:00Z "
               "2026-01-01T00:45:00Z 2026-01-01T01:05:00Z");
    check_next("0 8,12,18 * * *", NULL, "2026-01-01T09:00:00Z",
               "2026-01-01T12:00:00Z 2026-01-01T18:00:00Z "
               "2026-01-02T08:00:00Z");
    check_next("30 9 * * *", NULL, "2026-12-31T10:00:00Z",
               "2027-01-01T09:30:00Z");
    check_next("59 23 31 12 *", NULL, "2026-06-01T00:00:00Z",
               "2026-12-31T23:59:00Z 2027-12-31T23:59:00Z");
    /* 2026-01-01 is a Thursday. */
    check_next("0 0 * jan,Jul MON-fri", NULL, "2026-01-01T00:00:00Z",
               "2026-01-02T00:00:00Z 2026-01-05T00:00:00Z");
    check_next("0 0 * FEB-MAR/1 ?", NULL, "2026-01-01T00:00:00Z",
               "2026-02-01T00:00:00Z 2026-02-02T00:00:00Z");
    check_next("0 0 * * 7", NULL, "2026-01-01T00:00:00Z",
               "2026-01-04T00:00:00Z 2026-01-11T00:00:00Z");
    check_next("0 0 * * 0", NULL, "2026-01-01T00:00:00Z",
               "2026-01-04T00:00:00Z");
    check_next("0 0 * * SAT-SUN", NULL, "2026-01-01T00:00:00Z",
               "2026-01-03T00:00:00Z 2026-01-04T00:00:00Z "
               "2026-01-10T00:00:00Z");
    check_next("0 0 * * FRI-SUN", NULL, "2026-01-01T00:00:00Z",
               "2026-01-02T00:00:00Z 2026-01-03T00:00:00Z "
               "2026-01-04T00:00:00Z 2026-01-09T00:00:00Z");
    check_next("0 0 1 */4 *", NULL, "2026-01-15T00:00:00Z",
               "2026-05-01T00:00:00Z 2026-09-01T00:00:00Z "
               "2027-01-01T00:00:00Z");
    check_next("0 0 */10 * *", NULL, "2026-01-25T00:00:00Z",
               "2026-01-31T00:00:00Z 2026-02-01T00:00:00Z "
               "2026-02-11T00:00:00Z");
}

static void test_specials_utc(void **state)
{
    (void)state;
    check_next("0 0 L * *", NULL, "2026-01-15T00:00:00Z",
               "2026-01-31T00:00:00Z 2026-02-28T00:00:00Z "
               "2026-03-31T00:00:00Z 2026-04-30T00:00:00Z");
    check_next("0 0 L 2 *", NULL, "2027-03-01T00:00:00Z",
               "2028-02-29T00:00:00Z 2029-02-28T00:00:00Z");
    check_next("0 0 L-2 * *", NULL, "2026-01-15T00:00:00Z",
               "2026-01-29T00:00:00Z 2026-02-26T00:00:00Z");
    /* 2026-02-15 is a Sunday: 15W is Monday the 16th. 2026-08-15 is a
     * Saturday: Friday the 14th. */
    check_next("0 0 15W 2,8 *", NULL, "2026-01-01T00:00:00Z",
               "2026-02-16T00:00:00Z 2026-08-14T00:00:00Z");
    /* 2026-08-01 is a Saturday: 1W does not cross back into July, it is
     * Monday the 3rd. 2026-02-01 is a Sunday: Monday the 2nd. */
    check_next("0 0 1W 2,8 *", NULL, "2026-01-01T00:00:00Z",
               "2026-02-02T00:00:00Z 2026-08-03T00:00:00Z");
    /* 2026-05-31 is a Sunday: 31W is Friday the 29th; 31W skips months
     * without a 31st. */
    check_next("0 0 31W * *", NULL, "2026-04-01T00:00:00Z",
               "2026-05-29T00:00:00Z 2026-07-31T00:00:00Z");
    /* LW: 2026-01-31 is a Saturday (-> 30th), 2026-02-28 a Saturday
     * (-> 27th), 2026-05-31 a Sunday (-> 29th). */
    check_next("0 0 LW 1,2,5 *", NULL, "2026-01-01T00:00:00Z",
               "2026-01-30T00:00:00Z 2026-02-27T00:00:00Z "
               "2026-05-29T00:00:00Z");
    /* Last Friday: January 30, February 27, March 27 2026. */
    check_next("0 0 * * 5L", NULL, "2026-01-01T00:00:00Z",
               "2026-01-30T00:00:00Z 2026-02-27T00:00:00Z "
               "2026-03-27T00:00:00Z");
    check_next("0 0 * * friL", NULL, "2026-01-01T00:00:00Z",
               "2026-01-30T00:00:00Z");
    /* Second Monday: January 12, February 9, March 9 2026. */
    check_next("0 0 * * 1#2", NULL, "2026-01-01T00:00:00Z",
               "2026-01-12T00:00:00Z 2026-02-09T00:00:00Z "
               "2026-03-09T00:00:00Z");
    /* Fifth Thursday: 2026-01-29, then April 30, July 30. */
    check_next("0 0 * * 4#5", NULL, "2026-01-01T00:00:00Z",
               "2026-01-29T00:00:00Z 2026-04-30T00:00:00Z "
               "2026-07-30T00:00:00Z");
    check_next("0 0 * * 7#1", NULL, "2026-01-01T00:00:00Z",
               "2026-01-04T00:00:00Z 2026-02-01T00:00:00Z");
    check_next("0 0 * * 1#1,5L", NULL, "2026-01-01T00:00:00Z",
               "2026-01-05T00:00:00Z 2026-01-30T00:00:00Z "
               "2026-02-02T00:00:00Z");
}

static void test_day_rule_utc(void **state)
{
    (void)state;
    /* Both restricted: the 13th OR any Friday. */
    check_next("0 0 13 * 5", NULL, "2026-01-01T00:00:00Z",
               "2026-01-02T00:00:00Z 2026-01-09T00:00:00Z "
               "2026-01-13T00:00:00Z 2026-01-16T00:00:00Z");
    /* A step is a restriction: odd days OR Mondays. */
    check_next("0 0 */2 * MON", NULL, "2026-01-08T00:00:00Z",
               "2026-01-09T00:00:00Z 2026-01-11T00:00:00Z "
               "2026-01-12T00:00:00Z 2026-01-13T00:00:00Z");
    /* 1-31 selects every day: not a restriction, so Mondays only. */
    check_next("0 0 1-31 * MON", NULL, "2026-01-01T00:00:00Z",
               "2026-01-05T00:00:00Z 2026-01-12T00:00:00Z");
    check_next("0 0 ? * MON", NULL, "2026-01-01T00:00:00Z",
               "2026-01-05T00:00:00Z");
    /* day-of-week covering all days is not a restriction. */
    check_next("0 0 13 * 0-6", NULL, "2026-01-01T00:00:00Z",
               "2026-01-13T00:00:00Z 2026-02-13T00:00:00Z");
    /* L OR the last Friday. */
    check_next("0 0 L * 5L", NULL, "2026-01-01T00:00:00Z",
               "2026-01-30T00:00:00Z 2026-01-31T00:00:00Z "
               "2026-02-27T00:00:00Z 2026-02-28T00:00:00Z");
}

static void test_macros_and_far(void **state)
{
    (void)state;
    check_next("@yearly", NULL, "2026-03-01T00:00:00Z",
               "2027-01-01T00:00:00Z 2028-01-01T00:00:00Z");
    check_next("@annually", NULL, "2026-03-01T00:00:00Z",
               "2027-01-01T00:00:00Z");
    check_next("@monthly", NULL, "2026-03-01T00:00:00Z",
               "2026-04-01T00:00:00Z");
    check_next("@weekly", NULL, "2026-01-01T00:00:00Z",
               "2026-01-04T00:00:00Z 2026-01-11T00:00:00Z");
    check_next("@daily", NULL, "2026-01-01T00:00:00Z",
               "2026-01-02T00:00:00Z");
    check_next("@midnight", NULL, "2026-01-01T12:00:00Z",
               "2026-01-02T00:00:00Z");
    check_next("@hourly", NULL, "2026-01-01T00:00:00Z",
               "2026-01-01T01:00:00Z 2026-01-01T02:00:00Z");
    /* Leap day only: years apart, and 2100 is not a leap year. */
    check_next("0 0 29 2 *", NULL, "2026-01-01T00:00:00Z",
               "2028-02-29T00:00:00Z 2032-02-29T00:00:00Z");
    check_next("0 0 29 2 *", NULL, "2096-03-01T00:00:00Z",
               "2104-02-29T00:00:00Z");
    /* The fifth Monday of February: a February 29 that is a Monday. */
    check_next("0 0 * 2 1#5", NULL, "2026-01-01T00:00:00Z",
               "2044-02-29T00:00:00Z");
    check_next("0 0 31 12 *", NULL, "9999-06-01T00:00:00Z",
               "9999-12-31T00:00:00Z");
}

static void test_end_of_time(void **state)
{
    struct tock_error err = {0};
    struct tock_cron *c = NULL;
    int64_t next;

    (void)state;
    assert_tock_ok(tock_cron_parse("0 0 29 2 *", &c, &err), &err);
    assert_int_equal(tock_cron_next(c, NULL, at("9996-03-01T00:00:00Z"),
                                    &next, &err),
                     TOCK_ENOTIME);
    assert_non_null(strstr(err.msg, "no occurrence before year 10000"));
    tock_cron_free(c);
    /* Any int64 is a valid `after`: no overflow at either end. */
    assert_tock_ok(tock_cron_parse("* * * * * *", &c, &err), &err);
    assert_int_equal(tock_cron_next(c, NULL, INT64_MAX, &next, &err),
                     TOCK_ENOTIME);
    assert_tock_ok(tock_cron_next(c, NULL, INT64_MIN, &next, &err), &err);
    assert_true(next < 0);
    tock_cron_free(c);
}

/* -------------------------------------------------------------- DST rules */

static void test_dst_berlin(void **state)
{
    (void)state;
    /* Spring forward 2026-03-29: 02:00 CET becomes 03:00 CEST. */
    check_next("30 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00+01:00",
               "2026-03-28T02:30:00+01:00 2026-03-29T03:00:00+02:00 "
               "2026-03-30T02:30:00+02:00");
    /* Several occurrences in one gap make one firing. */
    check_next("0,15,30,45 2 * * *", "Europe/Berlin",
               "2026-03-29T00:00:00+01:00",
               "2026-03-29T03:00:00+02:00 2026-03-30T02:00:00+02:00");
    check_next("*/5 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00+01:00",
               "2026-03-29T03:00:00+02:00 2026-03-30T02:00:00+02:00");
    /* An occurrence at 03:00 and the gap's firing are the same instant. */
    check_next("0 2,3 * * *", "Europe/Berlin", "2026-03-29T00:00:00+01:00",
               "2026-03-29T03:00:00+02:00 2026-03-30T02:00:00+02:00");
    /* Hour-wild expressions go on after the gap. */
    check_next("*/30 * * * *", "Europe/Berlin", "2026-03-29T01:00:00+01:00",
               "2026-03-29T01:30:00+01:00 2026-03-29T03:00:00+02:00 "
               "2026-03-29T03:30:00+02:00");
    check_next("30 * * * *", "Europe/Berlin", "2026-03-29T00:45:00+01:00",
               "2026-03-29T01:30:00+01:00 2026-03-29T03:30:00+02:00");
    check_next("0 */2 * * *", "Europe/Berlin", "2026-03-28T23:00:00+01:00",
               "2026-03-29T00:00:00+01:00 2026-03-29T04:00:00+02:00");
    /* Fall back 2026-10-25: 03:00 CEST becomes 02:00 CET. */
    check_next("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00",
               "2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00");
    check_next("*/30 * * * *", "Europe/Berlin", "2026-10-25T01:45:00+02:00",
               "2026-10-25T02:00:00+02:00 2026-10-25T02:30:00+02:00 "
               "2026-10-25T02:00:00+01:00 2026-10-25T02:30:00+01:00 "
               "2026-10-25T03:00:00+01:00");
    check_next("0 */2 * * *", "Europe/Berlin", "2026-10-25T01:00:00+02:00",
               "2026-10-25T02:00:00+02:00 2026-10-25T02:00:00+01:00 "
               "2026-10-25T04:00:00+01:00");
    check_next("*/15 2 * * *", "Europe/Berlin", "2026-10-25T00:00:00+02:00",
               "2026-10-25T02:00:00+02:00 2026-10-25T02:15:00+02:00 "
               "2026-10-25T02:30:00+02:00 2026-10-25T02:45:00+02:00 "
               "2026-10-26T02:00:00+01:00");
    /* Starting inside the second pass: it stays suppressed... */
    check_next("30 2 * * *", "Europe/Berlin", "2026-10-25T02:10:00+01:00",
               "2026-10-26T02:30:00+01:00");
    check_next("30 2 * * *", "Europe/Berlin", "2026-10-25T02:40:00+02:00",
               "2026-10-26T02:30:00+01:00");
    /* ...and an hour-wild expression fires in it. */
    check_next("*/30 * * * *", "Europe/Berlin", "2026-10-25T02:10:00+01:00",
               "2026-10-25T02:30:00+01:00 2026-10-25T03:00:00+01:00");
    /* 03:00 exists once on both days. */
    check_next("0 3 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00",
               "2026-10-25T03:00:00+01:00 2026-10-26T03:00:00+01:00");
    check_next("0 30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00",
               "2026-03-29T03:00:00+02:00");
}

static void test_dst_new_york(void **state)
{
    (void)state;
    /* Spring forward 2026-03-08: 02:00 EST becomes 03:00 EDT. */
    check_next("30 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00",
               "2026-03-08T03:00:00-04:00 2026-03-09T02:30:00-04:00");
    check_next("*/20 * * * *", "America/New_York",
               "2026-03-08T01:30:00-05:00",
               "2026-03-08T01:40:00-05:00 2026-03-08T03:00:00-04:00 "
               "2026-03-08T03:20:00-04:00");
    /* Fall back 2026-11-01: 02:00 EDT becomes 01:00 EST. */
    check_next("30 1 * * *", "America/New_York", "2026-10-31T12:00:00-04:00",
               "2026-11-01T01:30:00-04:00 2026-11-02T01:30:00-05:00");
    check_next("*/30 * * * *", "America/New_York",
               "2026-11-01T00:45:00-04:00",
               "2026-11-01T01:00:00-04:00 2026-11-01T01:30:00-04:00 "
               "2026-11-01T01:00:00-05:00 2026-11-01T01:30:00-05:00 "
               "2026-11-01T02:00:00-05:00");
    check_next("0 1-3 * * *", "America/New_York", "2026-11-01T00:00:00-04:00",
               "2026-11-01T01:00:00-04:00 2026-11-01T02:00:00-05:00 "
               "2026-11-01T03:00:00-05:00");
    /* The daily job at 02:00 fires at 03:00 on the short day. */
    check_next("0 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00",
               "2026-03-08T03:00:00-04:00 2026-03-09T02:00:00-04:00");
}

static void test_dst_lord_howe(void **state)
{
    (void)state;
    /* Spring forward 2026-10-04: 02:00 +10:30 becomes 02:30 +11:00, a
     * 30-minute gap. */
    check_next("15 2 * * *", "Australia/Lord_Howe",
               "2026-10-03T12:00:00+10:30",
               "2026-10-04T02:30:00+11:00 2026-10-05T02:15:00+11:00");
    check_next("0,30 2 * * *", "Australia/Lord_Howe",
               "2026-10-04T00:00:00+10:30",
               "2026-10-04T02:30:00+11:00 2026-10-05T02:00:00+11:00");
    check_next("*/15 * * * *", "Australia/Lord_Howe",
               "2026-10-04T01:40:00+10:30",
               "2026-10-04T01:45:00+10:30 2026-10-04T02:30:00+11:00 "
               "2026-10-04T02:45:00+11:00");
    check_next("0 * * * *", "Australia/Lord_Howe",
               "2026-10-04T00:30:00+10:30",
               "2026-10-04T01:00:00+10:30 2026-10-04T03:00:00+11:00");
    /* Fall back 2026-04-05: 02:00 +11:00 becomes 01:30 +10:30; local
     * 01:30-01:59 happens twice. */
    check_next("45 1 * * *", "Australia/Lord_Howe",
               "2026-04-04T12:00:00+11:00",
               "2026-04-05T01:45:00+11:00 2026-04-06T01:45:00+10:30");
    check_next("*/15 * * * *", "Australia/Lord_Howe",
               "2026-04-05T01:20:00+11:00",
               "2026-04-05T01:30:00+11:00 2026-04-05T01:45:00+11:00 "
               "2026-04-05T01:30:00+10:30 2026-04-05T01:45:00+10:30 "
               "2026-04-05T02:00:00+10:30");
    /* 01:15 is not repeated: it fires once. */
    check_next("15 1 * * *", "Australia/Lord_Howe",
               "2026-04-04T12:00:00+11:00",
               "2026-04-05T01:15:00+11:00 2026-04-06T01:15:00+10:30");
}

/* -------------------------------------------------- brute-force reference */

/* ref_fires decides, from the rules alone and one instant at a time,
 * whether the expression fires at instant x. */
static bool ref_fires(const struct tock_cron *c, const struct tock_tz *tz,
                      int64_t x)
{
    struct tock_civil l;
    int64_t first, second, T, s;
    int32_t before, after;

    if (tz == NULL) {
        tock_civil_from_days(x / 86400, &l);
        l.hour = (int)(x % 86400 / 3600);
        l.minute = (int)(x % 3600 / 60);
        l.second = (int)(x % 60);
        return tock_cron_matches(c, &l);
    }
    tock_tz_to_local(tz, x, &l, NULL);
    if (tock_cron_matches(c, &l)) {
        if (tock_cron_hour_wild(c))
            return true;
        if (tock_tz_from_local(tz, &l, &first, &second) != TOCK_LOCAL_FOLD ||
            x != second)
            return true;
    }
    if (tock_cron_hour_wild(c) ||
        !tock_tz_next_transition(tz, x - 1, &T, &before, &after) || T != x ||
        after <= before)
        return false;
    for (s = x + before; s < x + after; s++) {
        tock_civil_from_days(s / 86400, &l);
        l.hour = (int)(s % 86400 / 3600);
        l.minute = (int)(s % 3600 / 60);
        l.second = (int)(s % 60);
        if (tock_cron_matches(c, &l))
            return true;
    }
    return false;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int rnd_in(int lo, int hi)
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

/* rnd_term writes one random term for a field with range lo..hi. */
static void rnd_term(char *out, size_t cap, int lo, int hi)
{
    int a = rnd_in(lo, hi), b = rnd_in(a, hi);

    switch (rnd() % 6) {
    case 0:
        snprintf(out, cap, "*");
        break;
    case 1:
        snprintf(out, cap, "*/%d", rnd_in(1, hi > 12 ? 12 : hi));
        break;
    case 2:
        snprintf(out, cap, "%d-%d", a, b);
        break;
    case 3:
        snprintf(out, cap, "%d-%d/%d", a, b, rnd_in(1, 5));
        break;
    default:
        snprintf(out, cap, "%d", a);
        break;
    }
}

static void rnd_field(char *out, size_t cap, int lo, int hi)
{
    char term[32];
    int n = rnd() % 3 == 0 ? rnd_in(2, 3) : 1;

    out[0] = '\0';
    while (n-- > 0) {
        rnd_term(term, sizeof term, lo, hi);
        if (out[0])
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, term, cap - strlen(out) - 1);
    }
}

static void rnd_dom(char *out, size_t cap)
{
    switch (rnd() % 8) {
    case 0:
        snprintf(out, cap, "L");
        break;
    case 1:
        snprintf(out, cap, "%dW", rnd_in(1, 31));
        break;
    case 2:
        snprintf(out, cap, "LW,L-%d", rnd_in(1, 5));
        break;
    default:
        rnd_field(out, cap, 1, 31);
    }
}

static void rnd_dow(char *out, size_t cap)
{
    switch (rnd() % 8) {
    case 0:
        snprintf(out, cap, "%dL", rnd_in(0, 7));
        break;
    case 1:
        snprintf(out, cap, "%d#%d,%d#%d", rnd_in(0, 6), rnd_in(1, 5),
                 rnd_in(0, 6), rnd_in(1, 5));
        break;
    default:
        rnd_field(out, cap, 0, 7);
    }
}

/* rnd_expr makes a random expression (with seconds when `secs`). */
static void rnd_expr(char *out, size_t cap, bool secs)
{
    char f[6][64];

    rnd_field(f[0], sizeof f[0], 0, 59);
    rnd_field(f[1], sizeof f[1], 0, 59);
    rnd_field(f[2], sizeof f[2], 0, 23);
    rnd_dom(f[3], sizeof f[3]);
    rnd_field(f[4], sizeof f[4], 1, 12);
    rnd_dow(f[5], sizeof f[5]);
    if (secs)
        snprintf(out, cap, "%s %s %s %s %s %s", f[0], f[1], f[2], f[3], f[4],
                 f[5]);
    else
        snprintf(out, cap, "%s %s %s %s %s", f[1], f[2], f[3], f[4], f[5]);
}

static const char *const zones[] = {
    NULL,           "Europe/Berlin",      "America/New_York",
    "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns",
    "Asia/Kathmandu",  "Europe/London",   "America/Sao_Paulo",
    "Pacific/Apia",    "Antarctica/Troll", "Africa/Casablanca",
};

/* rnd_start picks a start time, half the time near one of the zone's
 * transitions between 1990 and 2040. */
static int64_t rnd_start(const struct tock_tz *tz)
{
    int64_t t = 631152000 + (int64_t)(rnd() % 1577836800ULL), T;
    int32_t b, a;

    if (tz != NULL && rnd() % 2 == 0 &&
        tock_tz_next_transition(tz, t, &T, &b, &a))
        t = T - 3 * 3600 + (int64_t)(rnd() % (6 * 3600));
    if (rnd() % 4 == 0)
        t -= t % 60; /* on a minute boundary */
    return t;
}

/* check_window asserts that nothing fires in (t, end) and that `next`
 * itself fires. Steps by minute for 5-field expressions. */
static void check_window(const struct tock_cron *c, const struct tock_tz *tz,
                         int64_t t, int64_t next, int64_t limit, int step)
{
    int64_t x = t + 1, end = next < t + limit ? next : t + limit;

    if (step == 60)
        x = (t / 60 + 1) * 60;
    for (; x < end; x += step)
        if (ref_fires(c, tz, x))
            fail_msg("cron '%s' in %s: skipped %lld between %lld and %lld",
                     tock_cron_text(c), tz ? tock_tz_name(tz) : "UTC",
                     (long long)x, (long long)t, (long long)next);
    if (!ref_fires(c, tz, next))
        fail_msg("cron '%s' in %s: %lld (after %lld) does not match",
                 tock_cron_text(c), tz ? tock_tz_name(tz) : "UTC",
                 (long long)next, (long long)t);
}

static void run_property(bool secs, int rounds, int steps, int64_t limit)
{
    struct tock_error err = {0};
    struct tock_tz *tzs[sizeof zones / sizeof zones[0]];
    struct tock_cron *c;
    char expr[512];
    int64_t t, next;
    size_t z;
    int r, i, rc;

    for (z = 0; z < sizeof zones / sizeof zones[0]; z++)
        tzs[z] = load_zone(zones[z]);
    for (r = 0; r < rounds; r++) {
        rnd_expr(expr, sizeof expr, secs);
        rc = tock_cron_parse(expr, &c, &err);
        if (rc == TOCK_ENOTIME)
            continue;
        assert_tock_ok(rc, &err);
        z = (size_t)rnd() % (sizeof zones / sizeof zones[0]);
        t = rnd_start(tzs[z]);
        for (i = 0; i < steps; i++) {
            rc = tock_cron_next(c, tzs[z], t, &next, &err);
            if (rc == TOCK_ENOTIME)
                break;
            assert_tock_ok(rc, &err);
            assert_true(next > t);
            check_window(c, tzs[z], t, next, limit, secs ? 1 : 60);
            t = next;
        }
        tock_cron_free(c);
    }
    for (z = 0; z < sizeof zones / sizeof zones[0]; z++)
        tock_tz_free(tzs[z]);
}

static void test_property_minutes(void **state)
{
    (void)state;
    run_property(false, 400, 8, 2 * 86400);
}

static void test_property_seconds(void **state)
{
    (void)state;
    run_property(true, 150, 8, 3 * 3600);
}

/* Dense expressions around every transition of the test zones in a few
 * years: every gap and fold is crossed, with nothing skipped. */
static void test_property_transitions(void **state)
{
    static const char *const exprs[] = {
        "*/7 * * * *", "*/10 2 * * *",  "30 1,2 * * *", "0 */3 * * *",
        "0,30 * * * *", "15 2 * * *", "*/5 1-3 * * *", "45 1 * * *",
    };
    struct tock_error err = {0};
    struct tock_cron *c;
    struct tock_tz *tz;
    int64_t t, T, next;
    int32_t b, a;
    size_t z, e;

    (void)state;
    for (z = 1; z < sizeof zones / sizeof zones[0]; z++) {
        tz = load_zone(zones[z]);
        for (e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
            assert_tock_ok(tock_cron_parse(exprs[e], &c, &err), &err);
            t = 1735689600; /* 2025-01-01 */
            while (tock_tz_next_transition(tz, t, &T, &b, &a) &&
                   T < 1830297600) { /* 2028-01-01 */
                for (t = T - 4 * 3600; t < T + 4 * 3600; t = next) {
                    assert_tock_ok(tock_cron_next(c, tz, t, &next, &err),
                                   &err);
                    check_window(c, tz, t, next, 2 * 86400, 60);
                }
            }
            tock_cron_free(c);
        }
        tock_tz_free(tz);
    }
}

/* ----------------------------------------- an independent day-rule check */

/* naive_in_term decides whether value v matches one plain term (no L, W
 * or #) of a field with range lo..hi, by reading the text directly. */
static bool naive_in_term(const char *term, int v, int lo, int hi)
{
    int a, b, step = 1, n;

    if (strcmp(term, "*") == 0 || strcmp(term, "?") == 0)
        return true;
    if (sscanf(term, "*/%d", &step) == 1)
        return (v - lo) % step == 0;
    if (sscanf(term, "%d-%d/%d", &a, &b, &step) == 3 ||
        sscanf(term, "%d-%d", &a, &b) == 2)
        return v >= a && v <= b && (v - a) % step == 0;
    n = sscanf(term, "%d/%d", &a, &step);
    if (n == 2)
        return v >= a && v <= hi && (v - a) % step == 0;
    return sscanf(term, "%d", &a) == 1 && a == v;
}

static int dim_of(int y, int m)
{
    return tock_days_in_month(y, m);
}

static int wday_of_date(int y, int m, int d)
{
    struct tock_civil c;

    tock_civil_from_days(tock_days_from_civil(y, m, d), &c);
    return c.wday;
}

static bool naive_dom_term(const char *t, int y, int m, int d)
{
    int dim = dim_of(y, m), n, wd, target;

    if (strcmp(t, "L") == 0)
        return d == dim;
    if (sscanf(t, "L-%d", &n) == 1)
        return d == dim - n;
    if (strcmp(t, "LW") == 0) {
        for (target = dim; wday_of_date(y, m, target) % 6 == 0; target--)
            ;
        return d == target;
    }
    if (strchr(t, 'W') != NULL && sscanf(t, "%d", &n) == 1) {
        if (n > dim)
            return false;
        wd = wday_of_date(y, m, n);
        target = wd == 6 ? (n == 1 ? 3 : n - 1)
                 : wd == 0 ? (n == dim ? n - 2 : n + 1)
                           : n;
        return d == target;
    }
    return naive_in_term(t, d, 1, 31);
}

static bool naive_dow_term(const char *t, int y, int m, int d)
{
    int w = wday_of_date(y, m, d), a, k;

    if (sscanf(t, "%d#%d", &a, &k) == 2)
        return a % 7 == w && (d - 1) / 7 + 1 == k;
    if (strchr(t, 'L') != NULL && sscanf(t, "%d", &a) == 1)
        return a % 7 == w && d + 7 > dim_of(y, m);
    return naive_in_term(t, w, 0, 7) || (w == 0 && naive_in_term(t, 7, 0, 7));
}

/* naive_field matches a comma list with one of the term functions. */
static bool naive_field(const char *field, int y, int m, int d, bool dom)
{
    char buf[128], *save = NULL, *tok;

    snprintf(buf, sizeof buf, "%s", field);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (dom ? naive_dom_term(tok, y, m, d) : naive_dow_term(tok, y, m, d))
            return true;
    return false;
}

/* naive_all reports whether a field selects every value of its range. */
static bool naive_all(const char *field, bool dom)
{
    int v;
    char buf[128], *save = NULL, *tok;
    bool hit;

    for (v = dom ? 1 : 0; v <= (dom ? 31 : 6); v++) {
        hit = false;
        snprintf(buf, sizeof buf, "%s", field);
        for (tok = strtok_r(buf, ",", &save); tok && !hit;
             tok = strtok_r(NULL, ",", &save))
            hit = strpbrk(tok, "LW#") == NULL &&
                  (naive_in_term(tok, v, dom ? 1 : 0, dom ? 31 : 7) ||
                   (!dom && v == 0 && naive_in_term(tok, 7, 0, 7)));
        if (!hit)
            return false;
    }
    return true;
}

static void test_day_rule_naive(void **state)
{
    struct tock_error err = {0};
    struct tock_cron *c;
    struct tock_civil t = {0};
    char dom[64], dow[64], expr[160];
    bool want, rd, rw;
    int r, y, m, d;

    (void)state;
    for (r = 0; r < 300; r++) {
        rnd_dom(dom, sizeof dom);
        rnd_dow(dow, sizeof dow);
        snprintf(expr, sizeof expr, "0 0 %s * %s", dom, dow);
        if (tock_cron_parse(expr, &c, &err) != 0)
            fail_msg("'%s': %s", expr, err.msg);
        rd = !naive_all(dom, true);
        rw = !naive_all(dow, false);
        for (y = 2027; y <= 2028; y++)
            for (m = 1; m <= 12; m++)
                for (d = 1; d <= dim_of(y, m); d++) {
                    bool a = naive_field(dom, y, m, d, true);
                    bool b = naive_field(dow, y, m, d, false);
                    want = rd && rw ? a || b : a && b;
                    t.year = y;
                    t.month = m;
                    t.day = d;
                    if (tock_cron_matches(c, &t) != want)
                        fail_msg("'%s' on %04d-%02d-%02d: expected %d", expr,
                                 y, m, d, want);
                }
        tock_cron_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_hour_wild),
        cmocka_unit_test(test_fields_utc),
        cmocka_unit_test(test_specials_utc),
        cmocka_unit_test(test_day_rule_utc),
        cmocka_unit_test(test_macros_and_far),
        cmocka_unit_test(test_end_of_time),
        cmocka_unit_test(test_dst_berlin),
        cmocka_unit_test(test_dst_new_york),
        cmocka_unit_test(test_dst_lord_howe),
        cmocka_unit_test(test_property_minutes),
        cmocka_unit_test(test_property_seconds),
        cmocka_unit_test(test_property_transitions),
        cmocka_unit_test(test_day_rule_naive),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
