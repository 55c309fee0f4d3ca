/* test_exec.c: running one task with an exec handler, with real processes:
 * output, exit codes, timeouts against a command that ignores SIGTERM, a
 * grandchild holding stdout, an output flood, the exact environment, no
 * inherited descriptors, args as argv, cancel and abandon. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "proto/json.h"
#include "support.h"
#include "worker/exec.h"

#define SCHED_MS 1714564800123LL /* 2024-05-01T12:00:00.123Z */

struct fx {
    char *dir;
    struct tock_handlers *reg;
    struct tock_task task;
    struct tock_result res;
    struct tock_exec_opts opts;
    struct tock_error err;
    int pgid;             /* from on_started */
    int ctl[2];           /* a pipe standing in for the supervisor */
    int controls;         /* on_control calls */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_started(void *ctx, int pgid)
{
    ((struct fx *)ctx)->pgid = pgid;
}

static enum tock_exec_ctl on_control(void *ctx)
{
    struct fx *fx = ctx;
    char c = 0;

    fx->controls++;
    if (read(fx->ctl[0], &c, 1) != 1)
        return TOCK_EXEC_ABANDON;
    return c == 'c' ? TOCK_EXEC_CANCEL : TOCK_EXEC_CONTINUE;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);

    fx->dir = tock_test_tmpdir("exec");
    fx->reg = tock_handlers_new();
    assert_int_equal(pipe(fx->ctl), 0);
    fx->task.proto_version = 1;
    fx->task.occ = tock_strdup("job-1@1714564800123");
    fx->task.job = tock_strdup("job-1");
    fx->task.handler = tock_strdup("h");
    fx->task.queue = tock_strdup("default");
    fx->task.sched_ms = SCHED_MS;
    fx->task.fire_ms = SCHED_MS + 5;
    fx->task.attempt = 2;
    fx->opts = (struct tock_exec_opts){
        .worker_id = "w1", .kill_grace_ms = 300, .control_fd = -1,
        .abandon_fd = -1, .on_started = on_started, .ctx = fx};
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    tock_result_clear(&fx->res);
    tock_task_clear(&fx->task);
    tock_handlers_free(fx->reg);
    tock_test_rmtree(fx->dir);
    close(fx->ctl[0]);
    close(fx->ctl[1]);
    free(fx);
    return 0;
}

/* handler defines handler "h" from the JSON object text `def`. */
static const struct tock_handler *handler(struct fx *fx, const char *def)
{
    char text[4096];

    snprintf(text, sizeof text, "{\"handlers\": {\"h\": %s}}", def);
    assert_tock_ok(tock_handlers_load_json(fx->reg, text, strlen(text), "t",
                                           &fx->err), &fx->err);
    return tock_handlers_find(fx->reg, "h");
}

static void set_args(struct fx *fx, const char *json)
{
    assert_tock_ok(tock_json_text_to_msgpack(json, strlen(json), NULL, "args",
                                             &fx->task.args,
                                             &fx->task.args_len, &fx->err),
                   &fx->err);
}

static void run(struct fx *fx, const struct tock_handler *h)
{
    assert_int_equal(tock_exec_run(h, &fx->task, &fx->opts, &fx->res), 0);
    assert_string_equal(fx->res.occ, fx->task.occ);
    assert_string_equal(fx->res.worker, "w1");
    assert_int_equal(fx->res.attempt, 2);
    assert_true(fx->res.finished_ms >= fx->res.started_ms);
    assert_tock_ok(tock_result_validate(&fx->res, &fx->err), &fx->err);
}

static void assert_output(struct fx *fx, const char *want)
{
    if (fx->res.output_len != strlen(want) ||
        memcmp(fx->res.output, want, fx->res.output_len) != 0)
        fail_msg("output \"%.*s\", want \"%s\"", (int)fx->res.output_len,
                 (const char *)fx->res.output, want);
}

/* assert_group_gone checks that no process of the command's group is left.
 * The test is a child subreaper (see main), so killed orphans of the group
 * come back to it as zombies: reap them, then kill(-pgid, 0) must find
 * nobody within a second. */
static void assert_group_gone(struct fx *fx)
{
    assert_true(fx->pgid > 0);
    for (int i = 0; i < 100; i++) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (kill(-fx->pgid, 0) == -1 && errno == ESRCH)
            return;
        usleep(10000);
    }
    fail_msg("process group %d is still alive", fx->pgid);
}

/* write_when_ready forks a helper that writes `bytes` to fd once the file
 * <dir>/ready exists (the handler creates it after setting its trap), so
 * the test does not race the shell on a loaded machine. */
static void write_when_ready(struct fx *fx, int fd, const char *bytes)
{
    char path[600];
    pid_t pid;

    snprintf(path, sizeof path, "%s/ready", fx->dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
            usleep(10000);
        _exit(write(fd, bytes, strlen(bytes)) < 0);
    }
}

/* ---------------------------------------------------------------- tests */

static void test_ok_with_output(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"echo out; echo err >&2; echo more\"]}");

    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_OK);
    assert_int_equal(fx->res.exit_code, 0);
    assert_null(fx->res.error);
    assert_output(fx, "out\nerr\nmore\n");
    assert_group_gone(fx);
}

static void test_nonzero_exit(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"echo failing; exit 3\"]}");

    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_ERROR);
    assert_int_equal(fx->res.exit_code, 3);
    assert_string_equal(fx->res.error, "exited with status 3");
    assert_output(fx, "failing\n");
}

static void test_killed_by_signal(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"kill -USR1 $$\"]}");

    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_CRASHED);
    assert_int_equal(fx->res.exit_code, -1);
    assert_string_equal(fx->res.error, "killed by signal SIGUSR1");
}

static void test_timeout_ignoring_term(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"trap '' TERM; echo waiting; sleep 30\"]}");
    int64_t t0 = now_ms(), took;

    /* 1 s: on a loaded machine the shell must have set its trap by then */
    fx->task.timeout_ms = 1000;
    run(fx, h);
    took = now_ms() - t0;
    assert_int_equal(fx->res.status, TOCK_STATUS_TIMEOUT);
    assert_string_equal(fx->res.error, "timed out after 1s: sent SIGTERM to "
                                       "its process group, then SIGKILL "
                                       "after 300ms");
    assert_output(fx, "waiting\n");
    /* timeout + grace + a little; never the 30 s of sleep. */
    assert_true(took >= 1250 && took < 3000);
    assert_group_gone(fx);
}

static void test_timeout_from_handler(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"sleep\", "
        "\"30\"], \"timeout\": \"200ms\"}");
    int64_t t0 = now_ms();

    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_TIMEOUT);
    /* sleep dies of SIGTERM: no SIGKILL needed. */
    assert_string_equal(fx->res.error, "timed out after 200ms: sent SIGTERM "
                                       "to its process group");
    assert_true(now_ms() - t0 < 1500);
}

static void test_grandchild_holds_stdout(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"sleep 30 & echo started\"]}");
    int64_t t0 = now_ms();

    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_OK);
    assert_output(fx, "started\n");
    assert_true(now_ms() - t0 < 1500);
    assert_group_gone(fx); /* the background sleep was killed */
}

static void test_escaped_grandchild_bounded(void **state)
{
    struct fx *fx = *state;
    /* setsid leaves the group: out of reach of a group kill, so only the
     * drain bound keeps the worker from waiting for its stdout. */
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"setsid sleep 2 & echo escaped\"]}");
    int64_t t0 = now_ms();

    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_OK);
    assert_true(now_ms() - t0 < 1500);
}

static void test_output_flood(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"echo first; head -c 100M /dev/zero; echo; echo last\"], "
        "\"output_limit\": 4096}");
    const char *marker = "\n[tock: ";

    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_OK);
    assert_true(fx->res.output_len <= 4096);
    assert_true(fx->res.output_len > 4000);
    assert_memory_equal(fx->res.output, "first\n", 6);
    assert_memory_equal(fx->res.output + fx->res.output_len - 6, "\nlast\n", 6);
    assert_non_null(memmem(fx->res.output, fx->res.output_len, marker,
                           strlen(marker)));
    assert_non_null(memmem(fx->res.output, fx->res.output_len,
                           " bytes omitted]\n", 16));
}

static void test_small_output_limit(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"echo 0123456789\"], \"output_limit\": 4}");

    run(fx, h);
    assert_output(fx, "0123");
}

/* parse_env splits `env` output into a NULL-terminated sorted list. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_environment_exact(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"env\"], "
        "\"env\": {\"GREETING\": \"hi there\", \"LANG\": \"en_US.UTF-8\"}}");
    char *text, *lines[64], *line, *save = NULL;
    size_t n = 0;
    const char *want[] = {
        "GREETING=hi there",
        "HOME=",
        "LANG=en_US.UTF-8",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "TOCK_ARGS={\"x\":[1,\"two\"]}",
        "TOCK_ATTEMPT=2",
        "TOCK_HANDLER=h",
        "TOCK_JOB=job-1",
        "TOCK_OCCURRENCE_ID=job-1@1714564800123",
        "TOCK_QUEUE=default",
        "TOCK_SCHEDULED=2024-05-01T12:00:00.123Z",
        "TOCK_SCHEDULED_MS=1714564800123",
        "TOCK_WORKER=w1",
    };

    setenv("TOCK_TEST_SECRET", "must-not-leak", 1);
    setenv("LD_PRELOAD", "", 1);
    set_args(fx, "{\"x\": [1, \"two\"]}");
    run(fx, h);
    unsetenv("TOCK_TEST_SECRET");
    unsetenv("LD_PRELOAD");
    assert_int_equal(fx->res.status, TOCK_STATUS_OK);
    text = tock_strndup((const char *)fx->res.output, fx->res.output_len);
    for (line = strtok_r(text, "\n", &save); line && n < 64;
         line = strtok_r(NULL, "\n", &save))
        lines[n++] = line;
    qsort(lines, n, sizeof lines[0], cmp_str);
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++)
        if (strncmp(lines[i], want[i], strlen(want[i])) != 0)
            fail_msg("env line %zu: \"%s\", want \"%s\"", i, lines[i],
                     want[i]);
    tock_free(text);
}

static void test_no_args_is_null(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"printf %s \\\"$TOCK_ARGS\\\"\"]}");

    run(fx, h);
    assert_output(fx, "null");
}

static void test_no_inherited_fds(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"ls /proc/$$/fd; umask; pwd\"], \"cwd\": \"/tmp\"}");
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
    int p[2];

    assert_true(leak >= 0);
    assert_int_equal(pipe(p), 0);
    run(fx, h);
    close(leak);
    close(p[0]);
    close(p[1]);
    assert_int_equal(fx->res.status, TOCK_STATUS_OK);
    assert_output(fx, "0\n1\n2\n0077\n/tmp\n");
}

static void test_args_as_argv(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"printf '<%s>' \\\"$@\\\"\", \"sh\"], "
        "\"args_as_argv\": true}");

    set_args(fx, "[\"-rf\", \"a b\", 5, {\"k\": true}, null, \"--x=$HOME\"]");
    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_OK);
    assert_output(fx, "<--><-rf><a b><5><{\"k\":true}><null><--x=$HOME>");
}

static void test_args_as_argv_plain(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"printf '<%s>' \\\"$@\\\"\", \"sh\"], "
        "\"args_as_argv\": true}");

    set_args(fx, "[\"a;b\", \"$(id)\", 1.5]");
    run(fx, h);
    assert_output(fx, "<a;b><$(id)><1.5>");
}

static void test_args_as_argv_refuses_object(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"true\"], "
        "\"args_as_argv\": true}");

    set_args(fx, "{\"k\": 1}");
    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_ERROR);
    assert_int_equal(fx->res.exit_code, -1);
    assert_non_null(strstr(fx->res.error, "must be an array"));
    assert_int_equal(fx->pgid, 0); /* never started */
}

static void test_args_too_big_for_env(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"true\"]}");
    size_t n = 200 * 1024;
    char *json = malloc(n + 3);

    json[0] = '"';
    memset(json + 1, 'a', n);
    json[n + 1] = '"';
    json[n + 2] = '\0';
    set_args(fx, json);
    free(json);
    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_ERROR);
    assert_non_null(strstr(fx->res.error, "TOCK_ARGS can hold at most"));
}

static void test_start_failures(void **state)
{
    struct fx *fx = *state;
    char def[1024], prog[600], cwd[600];
    const struct tock_handler *h;

    snprintf(prog, sizeof prog, "%s/prog", fx->dir);
    snprintf(cwd, sizeof cwd, "%s/cwd", fx->dir);
    assert_int_equal(mkdir(cwd, 0700), 0);
    fclose(fopen(prog, "w"));
    chmod(prog, 0755);
    snprintf(def, sizeof def, "{\"argv\": [\"%s\"], \"cwd\": \"%s\"}", prog,
             cwd);
    h = handler(fx, def);
    /* The world changes after the config was loaded. */
    rmdir(cwd);
    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_ERROR);
    assert_non_null(strstr(fx->res.error, "cannot change to working directory"));
    tock_result_clear(&fx->res);
    assert_int_equal(mkdir(cwd, 0700), 0);
    unlink(prog);
    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_ERROR);
    assert_non_null(strstr(fx->res.error, "cannot execute"));
    assert_non_null(strstr(fx->res.error, "No such file or directory"));
}

static void test_cancel(void **state)
{
    struct fx *fx = *state;
    char def[1024];
    const struct tock_handler *h;
    int64_t t0 = now_ms();

    snprintf(def, sizeof def, "{\"argv\": [\"/bin/sh\", \"-c\", \"trap '' "
             "TERM; : > ready; sleep 30\"], \"cwd\": \"%s\"}", fx->dir);
    h = handler(fx, def);
    fx->opts.control_fd = fx->ctl[0];
    fx->opts.on_control = on_control;
    write_when_ready(fx, fx->ctl[1], "nc");
    run(fx, h);
    assert_int_equal(fx->controls, 2);
    assert_int_equal(fx->res.status, TOCK_STATUS_CANCELLED);
    assert_string_equal(fx->res.error, "cancelled: sent SIGTERM to its "
                                       "process group, then SIGKILL after "
                                       "300ms");
    assert_true(now_ms() - t0 < 2000);
    assert_group_gone(fx);
}

static void test_abandon(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h = handler(fx, "{\"argv\": [\"/bin/sh\", "
        "\"-c\", \"trap '' TERM; sleep 30\"]}");
    int64_t t0 = now_ms();

    fx->opts.kill_grace_ms = 10000;
    fx->opts.abandon_fd = fx->ctl[0];
    assert_int_equal(write(fx->ctl[1], "x", 1), 1);
    run(fx, h);
    assert_int_equal(fx->res.status, TOCK_STATUS_CANCELLED);
    assert_non_null(strstr(fx->res.error, "lost its supervisor"));
    assert_true(now_ms() - t0 < 1000); /* no grace: straight to SIGKILL */
    assert_group_gone(fx);
}

static void test_rfc3339(void **state)
{
    char buf[32];

    (void)state;
    tock_exec_format_rfc3339(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    tock_exec_format_rfc3339(TOCK_TIME_MAX_MS, buf, sizeof buf);
    assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ok_with_output),
        T(test_nonzero_exit),
        T(test_killed_by_signal),
        T(test_timeout_ignoring_term),
        T(test_timeout_from_handler),
        T(test_grandchild_holds_stdout),
        T(test_escaped_grandchild_bounded),
        T(test_output_flood),
        T(test_small_output_limit),
        T(test_environment_exact),
        T(test_no_args_is_null),
        T(test_no_inherited_fds),
        T(test_args_as_argv),
        T(test_args_as_argv_plain),
        T(test_args_as_argv_refuses_object),
        T(test_args_too_big_for_env),
        T(test_start_failures),
        T(test_cancel),
        T(test_abandon),
        cmocka_unit_test(test_rfc3339),
    };
#undef T

    prctl(PR_SET_CHILD_SUBREAPER, 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
