/* test_proto_model.c: the model's lifetime, names, occurrence ids and the
 * field validation of RELIABILITY.md (c) "Job fields". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/model.h"
#include "support.h"

/* ---------------------------------------------------------------- helpers */

static void good_job(struct tock_job *j)
{
    assert_int_equal(tock_job_init_defaults(j), 0);
    j->id = tock_strdup("nightly-backup");
    j->handler = tock_strdup("backup");
    j->trigger = tock_strdup("interval:90s");
}

/* expect_error requires `rc` == `code` and `text` in the message. */
static void expect_error(int rc, const struct tock_error *err, int code,
                         const char *text)
{
    if (rc != code || strstr(err->msg, text) == NULL)
        fail_msg("expected %s containing \"%s\", got %s: %s",
                 tock_err_name(code), text, tock_err_name(rc), err->msg);
}

/* set_str replaces a string member. */
static void set_str(char **member, const char *value)
{
    tock_free(*member);
    *member = value ? tock_strdup(value) : NULL;
}

/* -------------------------------------------------------- init and clear */

static void test_defaults_and_clear(void **state)
{
    struct tock_job j;
    struct tock_task t = {0};
    struct tock_result r = {0};
    struct tock_event e = {0};
    struct tock_error err = {0};

    (void)state;
    assert_int_equal(tock_job_init_defaults(&j), 0);
    assert_string_equal(j.queue, "default");
    assert_int_equal(j.misfire_grace_ms, 60000);
    assert_true(j.coalesce);
    assert_int_equal(j.max_instances, 1);
    assert_int_equal(j.max_deliveries, 3);
    assert_int_equal(j.retries, 0);
    assert_int_equal(j.start_ms, 0);
    assert_int_equal(j.end_ms, 0);
    /* Defaults alone are not a job: id, handler and trigger are needed. */
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EINVAL,
                 "invalid job: id is empty");
    tock_job_clear(&j);
    tock_job_clear(&j);
    tock_job_clear(NULL);
    tock_task_clear(&t);
    tock_result_clear(&r);
    tock_event_clear(&e);
    tock_task_clear(NULL);
    tock_result_clear(NULL);
    tock_event_clear(NULL);
    assert_null(j.queue);
}

/* ----------------------------------------------------------------- names */

static void test_name_tables(void **state)
{
    enum tock_status s;
    enum tock_event_type t;
    int i;

    (void)state;
    for (i = 0; i < TOCK_STATUS_COUNT_; i++) {
        const char *n = tock_status_name((enum tock_status)i);

        assert_non_null(n);
        assert_int_equal(tock_status_parse(n, strlen(n), &s), 0);
        assert_int_equal(s, i);
    }
    for (i = 0; i < TOCK_EVENT_COUNT_; i++) {
        const char *n = tock_event_type_name((enum tock_event_type)i);

        assert_non_null(n);
        assert_int_equal(tock_event_type_parse(n, strlen(n), &t), 0);
        assert_int_equal(t, i);
    }
    assert_string_equal(tock_status_name(TOCK_STATUS_CANCELLED), "cancelled");
    assert_string_equal(tock_event_type_name(TOCK_EVENT_COMMIT_REFUSED),
                        "commit_refused");
    assert_null(tock_status_name(TOCK_STATUS_COUNT_));
    assert_null(tock_event_type_name((enum tock_event_type)-1));
    assert_int_equal(tock_status_parse("OK", 2, &s), TOCK_EINVAL);
    assert_int_equal(tock_status_parse("ok ", 3, &s), TOCK_EINVAL);
    assert_int_equal(tock_status_parse("o", 1, &s), TOCK_EINVAL);
    assert_int_equal(tock_event_type_parse("fire", 4, &t), TOCK_EINVAL);
}

static void test_name_policy(void **state)
{
    static const char *const good[] = {
        "a", "Z", "0", "nightly-backup", "io.slow", "a_b-c.d", "Backup",
        "1700000000000",
    };
    static const struct {
        const char *name, *text;
    } bad[] = {
        {"", "is empty"},
        {"a b", "contains ' ' (byte 0x20) at offset 1"},
        {"a:b", "contains ':'"},
        {"a{b}", "contains '{'"},
        {"a*", "contains '*'"},
        {"a\nb", "contains '\\n' (byte 0x0a)"},
        {"a@b", "contains '@'"},
        {"../../bin/sh", "contains '/'"},
        {"a;rm", "contains ';'"},
        {"caf\xc3\xa9", "(byte 0xc3)"},
        {"\xff", "(byte 0xff)"},
        {".hidden", "starts with '.'"},
        {"-rf", "starts with '-'"},
        {"_x", "starts with '_'"},
    };
    struct tock_error err = {0};
    char longname[TOCK_ID_MAX + 2];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_tock_ok(tock_name_check(good[i], "id", &err), &err);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error(tock_name_check(bad[i].name, "id", &err), &err,
                     TOCK_EINVAL, bad[i].text);
    expect_error(tock_name_check(NULL, "queue", &err), &err, TOCK_EINVAL,
                 "queue is empty: use 1..128 bytes");
    memset(longname, 'a', TOCK_ID_MAX);
    longname[TOCK_ID_MAX] = '\0';
    assert_tock_ok(tock_name_check(longname, "id", &err), &err);
    longname[TOCK_ID_MAX] = 'a';
    longname[TOCK_ID_MAX + 1] = '\0';
    expect_error(tock_name_check(longname, "id", &err), &err, TOCK_EINVAL,
                 "is 129 bytes long");
}

/* ------------------------------------------------------------ occurrence */

static void test_occ(void **state)
{
    static const char *const bad[] = {
        "j", "@5", "j@", "j@05", "j@-5", "j@+5", "j@5x", "j@ 5", "j@5@6",
        "j k@5", "j@253402300800000", "j@99999999999999999999", "j@0x10",
        ":j@5",
    };
    char buf[TOCK_OCC_MAX], id[TOCK_ID_MAX + 1];
    struct tock_error err = {0};
    int64_t t;
    size_t i;

    (void)state;
    assert_int_equal(tock_occ_format(buf, sizeof buf, "nightly", 1700000000000LL),
                     0);
    assert_string_equal(buf, "nightly@1700000000000");
    assert_tock_ok(tock_occ_parse(buf, id, &t, &err), &err);
    assert_string_equal(id, "nightly");
    assert_int_equal(t, 1700000000000LL);
    assert_tock_ok(tock_occ_parse("j@0", id, &t, &err), &err);
    assert_int_equal(t, 0);
    assert_tock_ok(tock_occ_parse("j@253402300799999", NULL, NULL, &err), &err);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tock_occ_parse(bad[i], id, &t, &err) != TOCK_EINVAL)
            fail_msg("occurrence id \"%s\" was accepted", bad[i]);
    assert_non_null(strstr(err.msg, "occurrence id"));
    assert_int_equal(tock_occ_format(buf, 5, "nightly", 1), TOCK_ERANGE);
    assert_string_equal(buf, "");
}

/* ------------------------------------------------------------- job fields */

static void test_job_valid(void **state)
{
    struct tock_job j;
    struct tock_error err = {0};

    (void)state;
    good_job(&j);
    assert_tock_ok(tock_job_validate(&j, NULL, &err), &err);
    set_str(&j.name, "");
    assert_tock_ok(tock_job_validate(&j, NULL, &err), &err);
    set_str(&j.name, "Nightly backup \xe2\x80\x94 caf\xc3\xa9 \xf0\x9f\x95\x92");
    assert_tock_ok(tock_job_validate(&j, NULL, &err), &err);
    j.misfire_grace_ms = -1;
    j.start_ms = j.end_ms = 5; /* a one-instant window is allowed */
    j.retries = TOCK_RETRIES_MAX;
    assert_tock_ok(tock_job_validate(&j, NULL, &err), &err);
    tock_job_clear(&j);
}

static void test_job_bad_text(void **state)
{
    static const struct {
        const char *name, *text;
    } bad_names[] = {
        {"\x1b[31mred", "control character U+001B at offset 0"},
        {"a\xe2\x80\xae" "b", "control character U+202E"},
        {"line\nbreak", "U+000A"},
        {"del\x7f", "U+007F"},
        {"c1\xc2\x85", "U+0085"},
        {"bad\xff", "invalid UTF-8 at offset 3"},
    };
    struct tock_job j;
    struct tock_error err = {0};
    char big[TOCK_JOB_NAME_MAX + 2];
    size_t i;

    (void)state;
    good_job(&j);
    for (i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        set_str(&j.name, bad_names[i].name);
        expect_error(tock_job_validate(&j, NULL, &err), &err,
                     i == 5 ? TOCK_EUTF8 : TOCK_EINVAL, bad_names[i].text);
    }
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    set_str(&j.name, big);
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_ETOOBIG,
                 "invalid job: name is 201 bytes long: the limit is 200");
    set_str(&j.name, NULL);
    set_str(&j.queue, "");
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EINVAL,
                 "invalid job: queue is empty");
    set_str(&j.queue, "default");
    set_str(&j.handler, "../../bin/sh");
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EINVAL,
                 "invalid job: handler \"../../bin/sh\" contains '/'");
    set_str(&j.handler, "h");
    set_str(&j.trigger, "");
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EMISSING,
                 "trigger is empty");
    set_str(&j.trigger, "0 3 * * *");
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EINVAL,
                 "must start with its kind");
    set_str(&j.trigger, "or(cron:0 3 * * *,interval:1h)");
    assert_int_equal(tock_job_validate(&j, NULL, &err), 0);
    set_str(&j.trigger, "cron:0 3 * * *\n");
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EINVAL,
                 "trigger contains control character U+000A");
    tock_job_clear(&j);
}

/* expect_job_range applies `set` to a good job and expects the range
 * error `text`. */
static void expect_job_range(void (*set)(struct tock_job *), const char *text)
{
    struct tock_job j;
    struct tock_error err = {0};

    good_job(&j);
    set(&j);
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_ERANGE, text);
    tock_job_clear(&j);
}

static void grace_neg(struct tock_job *j) { j->misfire_grace_ms = -2; }
static void inst_zero(struct tock_job *j) { j->max_instances = 0; }
static void inst_huge(struct tock_job *j) { j->max_instances = 10001; }
static void retries_neg(struct tock_job *j) { j->retries = -1; }
static void retries_huge(struct tock_job *j) { j->retries = 1000000000; }
static void deliv_zero(struct tock_job *j) { j->max_deliveries = 0; }
static void jitter_neg(struct tock_job *j) { j->jitter_ms = -1; }
static void timeout_neg(struct tock_job *j) { j->timeout_ms = -1; }
static void backoff_huge(struct tock_job *j) { j->retry_backoff_ms = INT64_MAX; }
static void start_after_end(struct tock_job *j)
{
    j->start_ms = 2000;
    j->end_ms = 1000;
}
static void end_year_10000(struct tock_job *j)
{
    j->end_ms = TOCK_TIME_MAX_MS + 1;
}
static void start_neg(struct tock_job *j) { j->start_ms = -1; }
static void version_neg(struct tock_job *j) { j->version = -1; }

static void test_job_ranges(void **state)
{
    (void)state;
    expect_job_range(grace_neg, "invalid job: misfire_grace_ms (or -1 for "
                                "unlimited) -2 is out of range");
    expect_job_range(inst_zero, "max_instances 0 is out of range: use 1..10000");
    expect_job_range(inst_huge, "max_instances 10001");
    expect_job_range(retries_neg, "retries -1 is out of range: use 0..1000");
    expect_job_range(retries_huge, "retries 1000000000");
    expect_job_range(deliv_zero, "max_deliveries 0 is out of range: use 1..");
    expect_job_range(jitter_neg, "jitter_ms -1");
    expect_job_range(timeout_neg, "timeout_ms (0 for none) -1");
    expect_job_range(backoff_huge, "retry_backoff_ms 9223372036854775807");
    expect_job_range(start_after_end, "start_ms 2000 is after end_ms 1000");
    expect_job_range(end_year_10000, "end_ms (0 for none) 253402300800000 is "
                                     "out of range");
    expect_job_range(start_neg, "start_ms (0 for none) -1");
    expect_job_range(version_neg, "version -1");
}

static void test_job_args(void **state)
{
    struct tock_proto_limits lim = {.max_args = 8};
    struct tock_job j;
    struct tock_error err = {0};
    uint8_t deep[17];

    (void)state;
    good_job(&j);
    j.args = tock_memdup("\x82\xa1" "a\x01\xa1" "a\x02", 7);
    j.args_len = 7;
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EDUPKEY,
                 "invalid job: malformed args: duplicate key \"a\"");
    tock_free(j.args);
    j.args = tock_memdup("\xd4\x01\x00", 3);
    j.args_len = 3;
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EFORMAT,
                 "ext type");
    tock_free(j.args);
    memset(deep, 0x91, 16);
    deep[16] = 0x90;
    j.args = tock_memdup(deep, 17);
    j.args_len = 17;
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_ETOODEEP,
                 "nesting too deep");
    expect_error(tock_job_validate(&j, &lim, &err), &err, TOCK_ETOOBIG,
                 "args: 17 bytes exceed the limit of 8 bytes");
    tock_free(j.args);
    j.args = tock_memdup("\x01\x02", 2);
    j.args_len = 2;
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EFORMAT,
                 "1 trailing bytes");
    tock_free(j.args);
    j.args = NULL;
    j.args_len = 3;
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_EINVAL,
                 "pointer and length disagree");
    j.args_len = 0;
    assert_tock_ok(tock_job_validate(&j, NULL, &err), &err);
    tock_job_clear(&j);
}

/* A 1 MiB args value is the documented maximum and still fits a frame. */
static void test_job_args_max(void **state)
{
    struct tock_job j;
    struct tock_error err = {0};
    size_t n = TOCK_PROTO_MAX_ARGS;

    (void)state;
    good_job(&j);
    j.args = tock_malloc(n);
    j.args[0] = 0xc6; /* bin32 holding the rest */
    j.args[1] = (uint8_t)((n - 5) >> 24);
    j.args[2] = (uint8_t)((n - 5) >> 16);
    j.args[3] = (uint8_t)((n - 5) >> 8);
    j.args[4] = (uint8_t)(n - 5);
    memset(j.args + 5, 'x', n - 5);
    j.args_len = n;
    /* bin limit is max_str (1 MiB) too, and this bin is 5 bytes less. */
    assert_tock_ok(tock_job_validate(&j, NULL, &err), &err);
    j.args_len = n + 1;
    tock_free(j.args);
    j.args = tock_calloc(1, n + 1);
    expect_error(tock_job_validate(&j, NULL, &err), &err, TOCK_ETOOBIG,
                 "args: 1048577 bytes exceed the limit of 1048576 bytes");
    tock_job_clear(&j);
}

/* ------------------------------------------------- task, result, event */

static void test_task_result_event(void **state)
{
    struct tock_task t = {0};
    struct tock_result r = {0};
    struct tock_event e = {0};
    struct tock_error err = {0};

    (void)state;
    t.occ = tock_strdup("j@5");
    t.job = tock_strdup("j");
    t.handler = tock_strdup("h");
    t.queue = tock_strdup("q");
    t.sched_ms = t.fire_ms = 5;
    t.attempt = 1;
    t.max_deliveries = 1;
    assert_tock_ok(tock_task_validate(&t, NULL, &err), &err);
    t.attempt = TOCK_ATTEMPT_MAX + 1;
    expect_error(tock_task_validate(&t, NULL, &err), &err, TOCK_ERANGE,
                 "invalid task: attempt 1002");
    t.attempt = 1;
    t.max_deliveries = 0;
    expect_error(tock_task_validate(&t, NULL, &err), &err, TOCK_ERANGE,
                 "max_deliveries 0");
    t.max_deliveries = 1;
    set_str(&t.occ, "k@5");
    expect_error(tock_task_validate(&t, NULL, &err), &err, TOCK_EINVAL,
                 "does not match job \"j\"");
    tock_task_clear(&t);

    r.occ = tock_strdup("j@5");
    r.worker = tock_strdup("w1");
    r.attempt = 1;
    r.status = TOCK_STATUS_TIMEOUT;
    r.exit_code = -1;
    assert_tock_ok(tock_result_validate(&r, &err), &err);
    r.exit_code = 256;
    expect_error(tock_result_validate(&r, &err), &err, TOCK_ERANGE,
                 "exit_code 256 is out of range: use -1..255");
    r.exit_code = 0;
    r.status = (enum tock_status)99;
    expect_error(tock_result_validate(&r, &err), &err, TOCK_EINVAL,
                 "status 99 is unknown");
    r.status = TOCK_STATUS_OK;
    r.error = tock_malloc(TOCK_TEXT_MAX + 2);
    memset(r.error, 'e', TOCK_TEXT_MAX + 1);
    r.error[TOCK_TEXT_MAX + 1] = '\0';
    expect_error(tock_result_validate(&r, &err), &err, TOCK_ETOOBIG,
                 "error is 4097 bytes long");
    set_str(&r.error, "multi\nline\ttext is fine here");
    assert_tock_ok(tock_result_validate(&r, &err), &err);
    r.output_len = 5;
    expect_error(tock_result_validate(&r, &err), &err, TOCK_EINVAL,
                 "output: pointer and length disagree");
    r.output_len = 0;
    set_str(&r.occ, NULL);
    expect_error(tock_result_validate(&r, &err), &err, TOCK_EMISSING,
                 "occ is missing");
    tock_result_clear(&r);

    e.type = TOCK_EVENT_NODE_DOWN;
    e.ts_ms = 1;
    assert_tock_ok(tock_event_validate(&e, &err), &err);
    e.node = tock_strdup("node 1");
    expect_error(tock_event_validate(&e, &err), &err, TOCK_EINVAL,
                 "invalid event: node \"node 1\" contains ' '");
    set_str(&e.node, "n1");
    e.ts_ms = -5;
    expect_error(tock_event_validate(&e, &err), &err, TOCK_ERANGE,
                 "ts_ms -5 is out of range");
    e.ts_ms = 5;
    e.detail = tock_strdup("bad \xc3");
    expect_error(tock_event_validate(&e, &err), &err, TOCK_EUTF8,
                 "detail has invalid UTF-8 at offset 4");
    tock_event_clear(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_clear),
        cmocka_unit_test(test_name_tables),
        cmocka_unit_test(test_name_policy),
        cmocka_unit_test(test_occ),
        cmocka_unit_test(test_job_valid),
        cmocka_unit_test(test_job_bad_text),
        cmocka_unit_test(test_job_ranges),
        cmocka_unit_test(test_job_args),
        cmocka_unit_test(test_job_args_max),
        cmocka_unit_test(test_task_result_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
