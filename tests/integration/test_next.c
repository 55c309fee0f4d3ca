/* test_next.c: drives the built `tock next`: its output lines, exit status
 * 2 and a single stderr line for bad input. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scheduler/tz.h"
#include "support.h"

extern char **environ;

struct run {
    int status;
    char out[8192], err[2048];
};

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;

    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* run_tock runs `tock next ARGS...` (NULL-terminated) and captures its
 * stdout, stderr and exit status. */
static void run_tock(struct run *r, const char *const *args)
{
    char *dir = tock_test_tmpdir("next");
    char out[4096], err[4096];
    char *argv[32];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int i = 0, st = 0;

    assert_non_null(dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    argv[i++] = (char *)tock_test_binary("tock");
    argv[i++] = (char *)"next";
    for (; *args != NULL && i < 31; args++)
        argv[i++] = (char *)*args;
    argv[i] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT, 0600);
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    r->status = WEXITSTATUS(st);
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
    tock_test_rmtree(dir);
}

#define RUN(r, ...)                                                            \
    do {                                                                       \
        const char *const a_[] = {__VA_ARGS__, NULL};                          \
        run_tock((r), a_);                                                     \
    } while (0)

static void expect_out(const struct run *r, const char *out)
{
    if (r->status != 0 || strcmp(r->out, out) != 0 || r->err[0] != '\0')
        fail_msg("status %d\nstdout:\n%s\nexpected:\n%s\nstderr: %s",
                 r->status, r->out, out, r->err);
}

/* expect_bad checks status 2, nothing on stdout and exactly one stderr
 * line that starts with "tock: " and contains `msg`. */
static void expect_bad(const struct run *r, const char *msg)
{
    const char *nl = strchr(r->err, '\n');

    if (r->status != 2 || r->out[0] != '\0' ||
        strncmp(r->err, "tock: ", 6) != 0 || nl == NULL || nl[1] != '\0' ||
        strstr(r->err, msg) == NULL)
        fail_msg("status %d, stdout '%s', stderr '%s'; expected status 2 and "
                 "one line with '%s'",
                 r->status, r->out, r->err, msg);
}

static void test_cron(void **state)
{
    struct run r;

    (void)state;
    RUN(&r, "--cron", "0 3 * * *", "--tz", "Europe/Berlin", "--from",
        "2026-03-28T00:00:00Z", "-n", "3");
    expect_out(&r, "2026-03-28T03:00:00+01:00\n2026-03-29T03:00:00+02:00\n"
                   "2026-03-30T03:00:00+02:00\n");
    RUN(&r, "--cron", "30 2 * * *", "--tz", "Europe/Berlin", "--from",
        "2026-03-28T12:00:00+01:00", "-n", "2");
    expect_out(&r, "2026-03-29T03:00:00+02:00\n2026-03-30T02:30:00+02:00\n");
    RUN(&r, "--cron=*/30 * * * *", "--tz=America/New_York",
        "--from=2026-11-01T00:45:00-04:00", "-n", "4");
    expect_out(&r, "2026-11-01T01:00:00-04:00\n2026-11-01T01:30:00-04:00\n"
                   "2026-11-01T01:00:00-05:00\n2026-11-01T01:30:00-05:00\n");
    /* -n defaults to 5; UTC is the default zone. */
    RUN(&r, "--cron", "0 0 * * MON", "--from", "2026-01-01T00:00:00Z");
    expect_out(&r, "2026-01-05T00:00:00Z\n2026-01-12T00:00:00Z\n"
                   "2026-01-19T00:00:00Z\n2026-01-26T00:00:00Z\n"
                   "2026-02-02T00:00:00Z\n");
    RUN(&r, "--cron", "0 0 29 2 *", "--from", "2026-01-01T00:00:00Z", "-n",
        "2");
    expect_out(&r, "2028-02-29T00:00:00Z\n2032-02-29T00:00:00Z\n");
}

static void test_every_at_trigger(void **state)
{
    struct run r;

    (void)state;
    RUN(&r, "--every", "90s", "--start", "2026-01-01T00:00:00Z", "--from",
        "2025-12-31T23:59:00Z", "-n", "3");
    expect_out(&r, "2026-01-01T00:00:00Z\n2026-01-01T00:01:30Z\n"
                   "2026-01-01T00:03:00Z\n");
    RUN(&r, "--every", "250ms", "--from", "2026-01-01T00:00:00Z", "-n", "2");
    expect_out(&r, "2026-01-01T00:00:00.250Z\n2026-01-01T00:00:00.500Z\n");
    RUN(&r, "--every", "1h", "--tz", "Europe/Berlin", "--from",
        "2026-03-29T00:00:00Z", "-n", "2");
    expect_out(&r, "2026-03-29T03:00:00+02:00\n2026-03-29T04:00:00+02:00\n");
    RUN(&r, "--at", "2026-03-29T03:00:00+02:00", "--from",
        "2026-01-01T00:00:00Z");
    expect_out(&r, "2026-03-29T03:00:00+02:00\n");
    RUN(&r, "--trigger",
        "calendar:every month at 09:00 from 2026-01-31@Europe/Berlin",
        "--from", "2026-01-01T00:00:00Z", "-n", "3");
    expect_out(&r, "2026-01-31T09:00:00+01:00\n2026-02-28T09:00:00+01:00\n"
                   "2026-03-31T09:00:00+02:00\n");
    RUN(&r, "--trigger", "and(cron:0 0 13 * *, cron:0 0 * * FRI)", "--from",
        "2026-01-01T00:00:00Z", "-n", "2");
    expect_out(&r, "2026-02-13T00:00:00Z\n2026-03-13T00:00:00Z\n");
    /* --end stops the listing early: fewer lines, status 0. */
    RUN(&r, "--cron", "0 * * * *", "--from", "2026-01-01T00:00:00Z", "--end",
        "2026-01-01T02:00:00Z");
    expect_out(&r, "2026-01-01T01:00:00Z\n2026-01-01T02:00:00Z\n");
}

/* Without --from, the listing starts now. */
static void test_default_from(void **state)
{
    struct tock_error err = {0};
    struct run r;
    char *line, *save = NULL;
    int64_t t, prev = (int64_t)time(NULL) * 1000 - 1000;
    int n = 0;

    (void)state;
    RUN(&r, "--every", "1h");
    assert_int_equal(r.status, 0);
    for (line = strtok_r(r.out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), n++) {
        assert_tock_ok(tock_time_parse(line, &t, "output", &err), &err);
        assert_true(t > prev);
        prev = t;
    }
    assert_int_equal(n, 5);
}

static void test_nothing_left(void **state)
{
    struct run r;

    (void)state;
    RUN(&r, "--at", "2020-01-01T00:00:00Z");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "no occurrence after"));
}

static void test_bad_input(void **state)
{
    struct run r;

    (void)state;
    RUN(&r, "--cron", "0 25 * * *");
    expect_bad(&r, "");
    assert_string_equal(r.err,
                        "tock: cron field 'hour': 25 is out of range 0-23\n");
    RUN(&r, "--cron", "* * * *");
    expect_bad(&r, "has 4 fields");
    RUN(&r, "--cron", "0 0 30 2 *");
    expect_bad(&r, "no next time exists");
    RUN(&r, "--cron", "@reboot");
    expect_bad(&r, "'@reboot' is not supported");
    RUN(&r, "--cron", "0 3 * * *", "--tz", "Mars/Olympus");
    expect_bad(&r, "Mars/Olympus");
    RUN(&r, "--cron", "0 3 * * *", "--tz", "../../etc/passwd");
    expect_bad(&r, "time zone");
    RUN(&r, "--cron", "0 3 * * *", "--from", "yesterday");
    expect_bad(&r, "--from");
    RUN(&r, "--cron", "0 3 * * *", "--from", "2026-02-30T00:00:00Z");
    expect_bad(&r, "--from");
    RUN(&r, "--every", "0s");
    expect_bad(&r, "--every");
    RUN(&r, "--every", "5");
    expect_bad(&r, "no unit");
    RUN(&r, "--every", "1m", "--start", "noon");
    expect_bad(&r, "--start");
    RUN(&r, "--at", "2026-03-29T03:00:00");
    expect_bad(&r, "no UTC offset");
    RUN(&r, "--trigger", "sometimes");
    expect_bad(&r, "has no kind");
    RUN(&r, "--trigger", "and(interval:2s@2026-01-01T00:00:00Z, "
                         "interval:2s@2026-01-01T00:00:01Z)",
        "--from", "2026-01-01T00:00:00Z");
    expect_bad(&r, "may never coincide");
    RUN(&r, "--cron", "* * * * *", "-n", "0");
    expect_bad(&r, "count");
    RUN(&r, "--cron", "* * * * *", "-n", "many");
    expect_bad(&r, "count");
    RUN(&r, "--cron", "* * * * *", "--every", "1m");
    expect_bad(&r, "exactly one of");
    RUN(&r, "--from", "2026-01-01T00:00:00Z");
    expect_bad(&r, "exactly one of");
    RUN(&r, "--cron", "0", "3", "*", "*", "*");
    expect_bad(&r, "unexpected argument");
    RUN(&r, "--cron", "* * * * *", "--start", "2026-01-01T00:00:00Z");
    expect_bad(&r, "--start anchors --every");
    RUN(&r, "--cron", "* * * * *", "--bogus");
    expect_bad(&r, "bogus");
    RUN(&r, "--cron");
    expect_bad(&r, "cron");
}

static void test_help(void **state)
{
    struct run r;

    (void)state;
    RUN(&r, "--help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: tock next --cron"));
    assert_non_null(strstr(r.out, "--every DURATION"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron),
        cmocka_unit_test(test_every_at_trigger),
        cmocka_unit_test(test_default_from),
        cmocka_unit_test(test_nothing_left),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_help),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
