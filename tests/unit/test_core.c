/* test_core.c: errors, escaping, strict parsing, flags and the logger. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/escape.h"
#include "core/flags.h"
#include "core/parse.h"
#include "support.h"

/* ---------------------------------------------------------------- errors */

static void test_error_tables(void **state)
{
    struct tock_error err = {0};

    (void)state;
    assert_string_equal(tock_err_name(TOCK_EINVAL), "TOCK_EINVAL");
    assert_string_equal(tock_strerror(TOCK_ENOMEM), "out of memory");
    assert_string_equal(tock_err_name(-9999), "TOCK_EUNKNOWN");
    assert_string_equal(tock_strerror(0), "success");
    assert_int_equal(tock_error_set(&err, TOCK_ERANGE, "x=%d\nforged", 5),
                     TOCK_ERANGE);
    assert_string_equal(err.msg, "x=5\\nforged");
    tock_error_prefix(&err, "file.json:%d", 3);
    assert_string_equal(err.msg, "file.json:3: x=5\\nforged");
    assert_int_equal(tock_error_set(NULL, TOCK_EIO, "ignored"), TOCK_EIO);
}

static void test_error_truncates(void **state)
{
    struct tock_error err;
    char big[1000];

    (void)state;
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tock_error_set(&err, TOCK_EINVAL, "%s", big);
    assert_int_equal(strlen(err.msg), TOCK_ERRSTR_MAX - 1);
}

/* -------------------------------------------------------------- escaping */

static void test_escape(void **state)
{
    char out[64];
    const char bidi[] = "a\xe2\x80\xae" "b"; /* U+202E RIGHT-TO-LEFT OVERRIDE */

    (void)state;
    tock_escape_line(out, sizeof out, "\x1b[31mred", 8);
    assert_string_equal(out, "\\x1b[31mred");
    tock_escape_line(out, sizeof out, bidi, strlen(bidi));
    assert_string_equal(out, "a\\u{202e}b");
    tock_escape_line(out, sizeof out, "caf\xc3\xa9", 5);
    assert_string_equal(out, "caf\xc3\xa9");
    tock_escape_line(out, sizeof out, "\xff\xfe", 2);
    assert_string_equal(out, "\\xff\\xfe");
    /* Truncation never splits an escape. */
    assert_int_equal(tock_escape_line(out, 5, "\n\n\n", 3), 2);
    assert_string_equal(out, "\\n\\n");
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(tock_utf8_valid("plain", 5));
    assert_true(tock_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(tock_utf8_valid("\xc0\x80", 2));         /* overlong NUL */
    assert_false(tock_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(tock_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(tock_utf8_valid("\xe2\x82", 2));         /* truncated */
}

/* --------------------------------------------------------------- parsing */

static void test_parse_int(void **state)
{
    struct tock_error err;
    int64_t v;
    const char *bad[] = {"", "08", "0x10", "1e3", "+5", "5abc", " 5", "5 ",
                         "NaN", "inf", "-", "--1"};
    size_t i;

    (void)state;
    assert_int_equal(tock_parse_int64("42", 1, 100, &v, "--n", &err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(tock_parse_int64("0", 0, 1, &v, "--n", &err), 0);
    assert_int_equal(tock_parse_int64("-9223372036854775808", INT64_MIN,
                                      INT64_MAX, &v, "--n", &err),
                     0);
    assert_true(v == INT64_MIN);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tock_parse_int64(bad[i], -10, 10, &v, "--n", &err),
                         TOCK_EINVAL);
    assert_int_equal(tock_parse_int64("99999999999999999999", 0, INT64_MAX, &v,
                                      "--concurrency", &err),
                     TOCK_ERANGE);
    assert_non_null(strstr(err.msg, "--concurrency"));
    assert_int_equal(tock_parse_int64("0", 1, 64, &v, "--concurrency", &err),
                     TOCK_ERANGE);
    assert_int_equal(tock_parse_int64("-1", 1, 64, &v, "--n", &err),
                     TOCK_ERANGE);
}

static void test_parse_duration(void **state)
{
    struct tock_error err;
    char buf[32];
    int64_t v;
    const char *bad[] = {"5S", "5 s", "-5s", "1y", "s", "30m1h", "1h1h",
                         "1.5s", ""};
    size_t i;

    (void)state;
    assert_int_equal(tock_parse_duration_ms("1h30m", 0, TOCK_DURATION_MAX_MS,
                                            &v, "--every", &err),
                     0);
    assert_int_equal(v, 5400000);
    assert_int_equal(tock_parse_duration_ms("250ms", 0, TOCK_DURATION_MAX_MS,
                                            &v, "--every", &err),
                     0);
    assert_int_equal(v, 250);
    assert_int_equal(tock_parse_duration_ms("2w1d", 0, TOCK_DURATION_MAX_MS, &v,
                                            "--every", &err),
                     0);
    assert_int_equal(v, 15LL * 86400000);
    assert_int_equal(tock_parse_duration_ms("5", 0, TOCK_DURATION_MAX_MS, &v,
                                            "--timeout", &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "has no unit"));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tock_parse_duration_ms(bad[i], 0, TOCK_DURATION_MAX_MS,
                                                &v, "--d", &err),
                         TOCK_EINVAL);
    assert_int_equal(tock_parse_duration_ms("0s", 1, 1000, &v, "--lease", &err),
                     TOCK_ERANGE);
    assert_int_equal(tock_parse_duration_ms("999999999999999999w", 0,
                                            TOCK_DURATION_MAX_MS, &v, "--d",
                                            &err),
                     TOCK_ERANGE);
    tock_format_duration_ms(5400250, buf, sizeof buf);
    assert_string_equal(buf, "1h30m250ms");
    tock_format_duration_ms(0, buf, sizeof buf);
    assert_string_equal(buf, "0s");
}

/* ----------------------------------------------------------------- flags */

struct fl {
    bool verbose;
    const char *store;
    int64_t n, lease;
    int calls;
};

static int count_call(void *ctx, const char *value, struct tock_error *err)
{
    (void)err;
    (void)value;
    ((struct fl *)ctx)->calls++;
    return 0;
}

static int parse_flags(struct fl *o, int argc, char **argv, int *npos,
                       struct tock_error *err)
{
    const struct tock_flag flags[] = {
        {"verbose", 'v', NULL, TOCK_FLAG_BOOL, &o->verbose, 0, 0, NULL, NULL, ""},
        {"store", 0, "TOCK_TEST_STORE", TOCK_FLAG_STRING, &o->store, 0, 0, NULL,
         "URL", ""},
        {"concurrency", 'n', NULL, TOCK_FLAG_INT, &o->n, 1, 1024, NULL, "N", ""},
        {"lease", 0, NULL, TOCK_FLAG_DURATION, &o->lease, 100, 60000, NULL,
         "D", ""},
        {"handler", 0, NULL, TOCK_FLAG_CALL, NULL, 0, 0, count_call, "H", ""},
        {NULL, 0, NULL, 0, NULL, 0, 0, NULL, NULL, NULL},
    };
    memset(o, 0, sizeof *o);
    return tock_flags_parse(flags, argc, argv, 1, npos, o, "prog", err);
}

static void test_flags(void **state)
{
    struct tock_error err;
    struct fl o;
    int npos;
    char *ok[] = {"prog", "pos1", "-v", "--store=redis://x", "-n", "8",
                  "--lease", "2s", "--handler", "a", "--handler=b", "--",
                  "--pos2", NULL};
    char *unknown[] = {"prog", "--nope", NULL};
    char *missing[] = {"prog", "--concurrency", NULL};
    char *empty[] = {"prog", "--store=", NULL};
    char *twice[] = {"prog", "-n", "2", "-n", "3", NULL};
    char *same_twice[] = {"prog", "-n", "2", "--concurrency=2", NULL};
    char *bool_value[] = {"prog", "--verbose=yes", NULL};
    char *big[] = {"prog", "-n", "100000", NULL};

    (void)state;
    assert_int_equal(parse_flags(&o, 13, ok, &npos, &err), 0);
    assert_int_equal(npos, 2);
    assert_string_equal(ok[1], "pos1");
    assert_string_equal(ok[2], "--pos2");
    assert_true(o.verbose);
    assert_string_equal(o.store, "redis://x");
    assert_int_equal(o.n, 8);
    assert_int_equal(o.lease, 2000);
    assert_int_equal(o.calls, 2);

    assert_int_equal(parse_flags(&o, 2, unknown, &npos, &err), TOCK_EINVAL);
    assert_string_equal(err.msg, "unknown flag '--nope'; see 'prog --help'");
    assert_int_equal(parse_flags(&o, 2, missing, &npos, &err), TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "--concurrency needs a value"));
    assert_int_equal(parse_flags(&o, 2, empty, &npos, &err), TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "--store is empty"));
    assert_int_equal(parse_flags(&o, 5, twice, &npos, &err), TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "given twice"));
    assert_int_equal(parse_flags(&o, 4, same_twice, &npos, &err), 0);
    assert_int_equal(parse_flags(&o, 2, bool_value, &npos, &err), TOCK_EINVAL);
    assert_int_equal(parse_flags(&o, 3, big, &npos, &err), TOCK_ERANGE);
}

static void test_flags_env(void **state)
{
    struct tock_error err;
    struct fl o;
    int npos;
    char *none[] = {"prog", NULL};
    char *given[] = {"prog", "--store", "sqlite:/flag", NULL};

    (void)state;
    setenv("TOCK_TEST_STORE", "sqlite:/env", 1);
    assert_int_equal(parse_flags(&o, 1, none, &npos, &err), 0);
    assert_string_equal(o.store, "sqlite:/env");
    assert_int_equal(parse_flags(&o, 3, given, &npos, &err), 0);
    assert_string_equal(o.store, "sqlite:/flag"); /* the flag wins */
    setenv("TOCK_TEST_STORE", "  ", 1);
    assert_int_equal(parse_flags(&o, 1, none, &npos, &err), TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "TOCK_TEST_STORE is empty"));
    unsetenv("TOCK_TEST_STORE");
}

/* ---------------------------------------------------------------- logger */

struct captured {
    int lines;
    char last[TOCK_LOG_LINE_MAX];
};

static void capture(void *data, enum tock_log_level level, const char *line)
{
    struct captured *c = data;

    (void)level;
    c->lines++;
    snprintf(c->last, sizeof c->last, "%s", line);
}

static void test_log(void **state)
{
    struct tock_log *log = tock_log_new(2, TOCK_LOG_INFO, TOCK_LOG_HUMAN);
    struct captured c = {0};
    enum tock_log_level level;
    struct tock_error err;

    (void)state;
    assert_non_null(log);
    tock_log_set_sink(log, capture, &c);
    tock_logf(log, TOCK_LOG_DEBUG, "test", "hidden");
    assert_int_equal(c.lines, 0);
    tock_logf(log, TOCK_LOG_WARN, "scheduler", "job %s\nforged", "x");
    assert_int_equal(c.lines, 1);
    assert_non_null(strstr(c.last, "warn  scheduler: job x\\nforged"));
    tock_log_free(log);

    log = tock_log_new(2, TOCK_LOG_DEBUG, TOCK_LOG_JSON);
    tock_log_set_sink(log, capture, &c);
    tock_logf(log, TOCK_LOG_ERROR, "store", "say \"hi\"");
    assert_non_null(strstr(c.last, "\"level\":\"error\""));
    assert_non_null(strstr(c.last, "\"msg\":\"say \\\"hi\\\"\""));
    tock_log_free(log);
    tock_logf(NULL, TOCK_LOG_ERROR, "x", "a NULL logger is quiet");

    assert_int_equal(tock_log_level_parse("WARN", &level, &err), 0);
    assert_int_equal(level, TOCK_LOG_WARN);
    assert_int_equal(tock_log_level_parse("loud", &level, &err), TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "debug, info, warn, error, off"));
}

/* ------------------------------------------------------------- allocator */

static int fail_after;
static void *failing_malloc(size_t n)
{
    return fail_after-- > 0 ? malloc(n) : NULL;
}
static void *failing_calloc(size_t a, size_t b)
{
    return fail_after-- > 0 ? calloc(a, b) : NULL;
}

static void test_allocator(void **state)
{
    struct tock_allocator a = {failing_malloc, failing_calloc, realloc, free};
    struct tock_allocator incomplete = {NULL, calloc, realloc, free};
    char *s;

    (void)state;
    assert_int_equal(tock_set_allocator(&incomplete), TOCK_EINVAL);
    assert_int_equal(tock_set_allocator(&a), 0);
    fail_after = 0;
    assert_null(tock_log_new(2, TOCK_LOG_INFO, TOCK_LOG_HUMAN));
    assert_null(tock_strdup("x"));
    fail_after = 1;
    s = tock_strdup("copy");
    assert_string_equal(s, "copy");
    tock_free(s);
    tock_set_allocator(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_tables),
        cmocka_unit_test(test_error_truncates),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_flags_env),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
