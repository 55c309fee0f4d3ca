/* test_pool.c: the worker pool supervisor with real children and real
 * handlers: many tasks through two children, exactly one result each, a
 * child SIGKILLed mid-task, a child breaking the protocol, fork failures,
 * cancel, shutdown with a drain deadline, free with tasks running, and a
 * SIGKILLed supervisor leaving no handler behind. Every test ends with
 * uv_loop_close() == 0. */
#include <ctype.h>
#include <dirent.h>
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

#include "support.h"
/* The supervisor itself, to reach its test seams (pool_fork,
 * pool_child_main). */
#include "worker/pool.c"

#define MAX_TASKS 32

struct fx {
    uv_loop_t loop;
    uv_timer_t watchdog, ticker;
    char *dir;
    struct tock_handlers *reg;
    struct tock_log *log;
    struct tock_pool *pool;
    struct tock_error err;
    /* results, by task index (user_data) */
    int count[MAX_TASKS];
    enum tock_status status[MAX_TASKS];
    char error[MAX_TASKS][512];
    char output[MAX_TASKS][256];
    int results;
    int want;             /* stop once this many results are in */
    int submitted, total; /* for pump: submit tasks 0..total-1 */
    bool shutdown_done;
    bool free_on_result;
    bool timed_out;
    void (*tick)(struct fx *fx); /* every 20 ms while set */
    int step;
    int child_pid, pgid;
    int strays[4];        /* pids to SIGKILL in teardown if a test failed */
    char logbuf[8192];
};

/* ------------------------------------------------------------- helpers */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* proc_state returns the state letter of `pid` from /proc, or 0 when it
 * does not exist. A zombie ('Z') has exited. */
static char proc_state(int pid, int *pgrp)
{
    char path[64], buf[512], state = 0, *rp;
    FILE *f;
    size_t n;
    int ppid, pg = 0;

    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((rp = strrchr(buf, ')')) == NULL ||
        sscanf(rp + 2, "%c %d %d", &state, &ppid, &pg) != 3)
        return 0;
    if (pgrp != NULL)
        *pgrp = pg;
    return state;
}

static bool pid_alive(int pid)
{
    char st = proc_state(pid, NULL);

    return st != 0 && st != 'Z';
}

/* group_alive: does any live (non-zombie) process have process group
 * `pgid`? Zombies are skipped: their reaper (init here) may be slow. */
static bool group_alive(int pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    bool alive = false;

    assert_non_null(d);
    while (!alive && (e = readdir(d)) != NULL) {
        int pg = 0;
        char st;

        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        st = proc_state(atoi(e->d_name), &pg);
        alive = st != 0 && st != 'Z' && pg == pgid;
    }
    closedir(d);
    return alive;
}

static void wait_gone(int pgid, bool group)
{
    for (int i = 0; i < 200; i++) {
        if (group ? !group_alive(pgid) : !pid_alive(pgid))
            return;
        usleep(10000);
    }
    fail_msg("%s %d is still alive after 2 s", group ? "process group" : "pid",
             pgid);
}

static void log_sink(void *data, enum tock_log_level level, const char *line)
{
    struct fx *fx = data;
    size_t len = strlen(fx->logbuf);

    (void)level;
    snprintf(fx->logbuf + len, sizeof fx->logbuf - len, "%s\n", line);
}

static void on_watchdog(uv_timer_t *t)
{
    struct fx *fx = t->data;

    fx->timed_out = true;
    uv_stop(&fx->loop);
}

static void on_tick(uv_timer_t *t)
{
    struct fx *fx = t->data;

    if (fx->tick != NULL)
        fx->tick(fx);
}

static int fx_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);

    assert_int_equal(uv_loop_init(&fx->loop), 0);
    uv_timer_init(&fx->loop, &fx->watchdog);
    uv_timer_init(&fx->loop, &fx->ticker);
    fx->watchdog.data = fx->ticker.data = fx;
    /* Neither keeps the loop alive: only the pool does. */
    uv_unref((uv_handle_t *)&fx->watchdog);
    uv_unref((uv_handle_t *)&fx->ticker);
    uv_timer_start(&fx->ticker, on_tick, 20, 20);
    fx->dir = tock_test_tmpdir("pool");
    fx->reg = tock_handlers_new();
    fx->log = tock_log_new(2, TOCK_LOG_DEBUG, TOCK_LOG_HUMAN);
    tock_log_set_sink(fx->log, log_sink, fx);
    pool_fork = fork;
    pool_child_main = tock_child_main;
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *fx = *state;

    tock_pool_free(fx->pool);
    for (int i = 0; i < 4; i++)
        if (fx->strays[i] != 0) /* negative: a process group */
            kill(fx->strays[i], SIGKILL);
    uv_close((uv_handle_t *)&fx->watchdog, NULL);
    uv_close((uv_handle_t *)&fx->ticker, NULL);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    tock_log_free(fx->log);
    tock_handlers_free(fx->reg);
    tock_test_rmtree(fx->dir);
    free(fx);
    return 0;
}

/* handler defines `name` from a JSON object text. */
static void handler(struct fx *fx, const char *name, const char *def)
{
    char text[2048];

    snprintf(text, sizeof text, "{\"handlers\": {\"%s\": %s}}", name, def);
    assert_tock_ok(tock_handlers_load_json(fx->reg, text, strlen(text), "t",
                                           &fx->err), &fx->err);
}

static void on_result(struct tock_pool *pool, void *user_data,
                      const struct tock_result *res);

static void new_pool(struct fx *fx, int n, int64_t grace_ms)
{
    struct tock_pool_config cfg = {.concurrency = n, .handlers = fx->reg,
                                   .worker_id = "w1", .log = fx->log,
                                   .kill_grace_ms = grace_ms, .data = fx};

    assert_tock_ok(tock_pool_new(&fx->loop, &cfg, on_result, &fx->pool,
                                 &fx->err), &fx->err);
}

/* make_task fills a task for job "job-<i>" with handler `h`. */
static void make_task(struct tock_task *t, int i, const char *h)
{
    char job[32], occ[64];

    snprintf(job, sizeof job, "job-%d", i);
    snprintf(occ, sizeof occ, "job-%d@%d", i, 1000 + i);
    memset(t, 0, sizeof *t);
    t->proto_version = 1;
    t->occ = tock_strdup(occ);
    t->job = tock_strdup(job);
    t->handler = tock_strdup(h);
    t->queue = tock_strdup("default");
    t->sched_ms = 1000 + i;
    t->fire_ms = 1000 + i;
    t->attempt = 1;
    t->max_deliveries = 3;
}

static int submit(struct fx *fx, int i, const char *h)
{
    struct tock_task t;
    int rc;

    make_task(&t, i, h);
    rc = tock_pool_submit(fx->pool, &t, (uint64_t)i, (void *)(intptr_t)i,
                          &fx->err);
    tock_task_clear(&t);
    return rc;
}

static void on_shutdown(struct tock_pool *pool, void *data)
{
    struct fx *fx = data;

    assert_ptr_equal(pool, fx->pool);
    fx->shutdown_done = true;
    tock_pool_free(pool); /* from inside a callback: deferred */
    fx->pool = NULL;
}

/* pump submits the remaining "echo" tasks while children are idle. */
static void pump(struct fx *fx)
{
    while (fx->submitted < fx->total && tock_pool_idle_slots(fx->pool) > 0)
        assert_tock_ok(submit(fx, fx->submitted++, "echo"), &fx->err);
}

static void on_result(struct tock_pool *pool, void *user_data,
                      const struct tock_result *res)
{
    struct fx *fx = tock_pool_data(pool);
    int i = (int)(intptr_t)user_data;

    assert_in_range(i, 0, MAX_TASKS - 1);
    assert_string_equal(res->worker, "w1");
    fx->count[i]++;
    fx->status[i] = res->status;
    snprintf(fx->error[i], sizeof fx->error[i], "%s",
             res->error ? res->error : "");
    snprintf(fx->output[i], sizeof fx->output[i], "%.*s",
             (int)res->output_len, res->output ? (char *)res->output : "");
    fx->results++;
    if (getenv("TOCK_TEST_DEBUG"))
        fprintf(stderr, "result %d: %s %s [%s]\n", i,
                tock_status_name(res->status), fx->error[i], fx->output[i]);
    if (fx->free_on_result && fx->pool != NULL) {
        fx->pool = NULL;
        tock_pool_free(pool); /* deferred until this callback returns */
        tock_pool_free(pool); /* twice is harmless */
    } else if (fx->want > 0 && fx->results == fx->want)
        tock_pool_shutdown(pool, 0, on_shutdown, fx);
    else if (fx->total > 0)
        pump(fx);
}

/* run_loop runs until the pool is gone; failing after `ms`. */
static void run_loop(struct fx *fx, int64_t ms)
{
    uv_timer_start(&fx->watchdog, on_watchdog, (uint64_t)ms, 0);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&fx->watchdog);
    assert_false(fx->timed_out);
}

static void echo_handler(struct fx *fx)
{
    handler(fx, "echo", "{\"argv\": [\"/bin/sh\", \"-c\", "
                        "\"echo $TOCK_OCCURRENCE_ID\"]}");
}

/* started polls the running task 0 until its handler has a group. */
static bool started(struct fx *fx, uint64_t id)
{
    return fx->pool != NULL &&
           tock_pool_task_info(fx->pool, id, &fx->child_pid, &fx->pgid) == 0 &&
           fx->pgid > 0;
}

/* ---------------------------------------------------------------- tests */

static void test_config_errors(void **state)
{
    struct fx *fx = *state;
    struct tock_pool_config cfg = {.concurrency = 0, .handlers = fx->reg,
                                   .worker_id = "w1"};
    struct tock_pool *p = (struct tock_pool *)1;

    assert_int_equal(tock_pool_new(&fx->loop, &cfg, on_result, &p, &fx->err),
                     TOCK_EINVAL);
    assert_null(p);
    assert_non_null(strstr(fx->err.msg, "concurrency 0 is out of range: use "
                                        "1..256"));
    cfg.concurrency = 257;
    assert_int_equal(tock_pool_new(&fx->loop, &cfg, on_result, &p, &fx->err),
                     TOCK_EINVAL);
    assert_non_null(strstr(fx->err.msg, "concurrency 257"));
    cfg.concurrency = 1;
    cfg.worker_id = "w 1";
    assert_int_equal(tock_pool_new(&fx->loop, &cfg, on_result, &p, &fx->err),
                     TOCK_EINVAL);
    assert_non_null(strstr(fx->err.msg, "worker id \"w 1\" contains ' '"));
    cfg.worker_id = "w1";
    cfg.handlers = NULL;
    assert_int_equal(tock_pool_new(&fx->loop, &cfg, on_result, &p, &fx->err),
                     TOCK_EINVAL);
    cfg.handlers = fx->reg;
    assert_int_equal(tock_pool_new(&fx->loop, &cfg, NULL, &p, &fx->err),
                     TOCK_EINVAL);
}

static void test_many_tasks(void **state)
{
    struct fx *fx = *state;
    int before;

    echo_handler(fx);
    new_pool(fx, 2, 0);
    fx->total = fx->want = 12;
    pump(fx);
    assert_int_equal(fx->submitted, 2);
    assert_int_equal(tock_pool_idle_slots(fx->pool), 0);
    before = fx->submitted;
    assert_int_equal(submit(fx, 30, "echo"), TOCK_EBUSY);
    assert_non_null(strstr(fx->err.msg, "every worker child is busy"));
    assert_int_equal(fx->submitted, before);
    run_loop(fx, 5000);
    assert_true(fx->shutdown_done);
    assert_int_equal(fx->results, 12);
    for (int i = 0; i < 12; i++) {
        char want[64];

        snprintf(want, sizeof want, "job-%d@%d\n", i, 1000 + i);
        assert_int_equal(fx->count[i], 1);
        assert_int_equal(fx->status[i], TOCK_STATUS_OK);
        assert_string_equal(fx->output[i], want);
    }
    assert_int_equal(fx->count[30], 0);
}

static void test_submit_errors(void **state)
{
    struct fx *fx = *state;
    struct tock_task t;

    echo_handler(fx);
    handler(fx, "slow", "{\"argv\": [\"sleep\", \"30\"]}");
    new_pool(fx, 1, 0);
    assert_int_equal(submit(fx, 1, "nope"), TOCK_ENOENT);
    assert_string_equal(fx->err.msg, "handler \"nope\" is not configured on "
                                     "worker w1");
    make_task(&t, 2, "echo");
    t.attempt = 0;
    assert_int_not_equal(tock_pool_submit(fx->pool, &t, 2, NULL, &fx->err), 0);
    assert_non_null(strstr(fx->err.msg, "attempt"));
    tock_task_clear(&t);
    assert_int_equal(tock_pool_idle_slots(fx->pool), 1);
    assert_tock_ok(submit(fx, 0, "slow"), &fx->err);
    assert_int_equal(submit(fx, 0, "echo"), TOCK_EEXIST);
    assert_int_equal(submit(fx, 3, "echo"), TOCK_EBUSY);
    /* Freed with a task running: its callback runs, with `cancelled`. */
    tock_pool_free(fx->pool);
    fx->pool = NULL;
    assert_int_equal(fx->results, 1);
    assert_int_equal(fx->count[0], 1);
    assert_int_equal(fx->status[0], TOCK_STATUS_CANCELLED);
    assert_string_equal(fx->error[0], "the worker pool was stopped while the "
                                      "task ran");
    for (int i = 1; i < 4; i++)
        assert_int_equal(fx->count[i], 0);
}

/* A child SIGKILLed mid-task: `crashed`, its handler's group dies, a
 * replacement comes up and runs the next task. */
static void child_killed_tick(struct fx *fx)
{
    if (fx->step == 0 && started(fx, 0)) {
        assert_int_equal(kill(fx->child_pid, SIGKILL), 0);
        fx->step = 1;
    } else if (fx->step == 1 && fx->results == 1 &&
               tock_pool_idle_slots(fx->pool) == 1) {
        assert_tock_ok(submit(fx, 1, "echo"), &fx->err);
        fx->step = 2;
    }
}

static void test_child_killed(void **state)
{
    struct fx *fx = *state;
    char want[128];

    echo_handler(fx);
    handler(fx, "slow", "{\"argv\": [\"/bin/sh\", \"-c\", \"sleep 30; "
                        "echo never\"]}");
    new_pool(fx, 1, 0);
    fx->want = 2;
    fx->tick = child_killed_tick;
    assert_tock_ok(submit(fx, 0, "slow"), &fx->err);
    run_loop(fx, 5000);
    assert_int_equal(fx->count[0], 1);
    assert_int_equal(fx->status[0], TOCK_STATUS_CRASHED);
    snprintf(want, sizeof want, "worker child %d was killed by signal SIGKILL "
             "while running the handler", fx->child_pid);
    assert_string_equal(fx->error[0], want);
    assert_int_equal(fx->count[1], 1);
    assert_int_equal(fx->status[1], TOCK_STATUS_OK);
    assert_string_equal(fx->output[1], "job-1@1001\n");
    wait_gone(fx->pgid, true);
    snprintf(want, sizeof want, "worker child %d was killed by signal SIGKILL "
             "while running job-0@1000", fx->child_pid);
    assert_non_null(strstr(fx->logbuf, want));
}

/* ------------------------------------------------- misbehaving children */

enum bad_mode { BAD_HUGE_LENGTH, BAD_RESULT_BYTES, BAD_KIND, BAD_OTHER_OCC,
                BAD_DEAF };
static enum bad_mode bad_mode;

/* bad_child stands in for tock_child_main: it waits for the task, then
 * breaks the protocol as bad_mode says, then waits to be killed. */
static void bad_child(const struct tock_child_config *cfg)
{
    uint8_t buf[4096], *msg = NULL, *body = NULL;
    size_t len = 0, blen = 0;
    struct tock_result r = {.occ = "other@1", .status = TOCK_STATUS_OK,
                            .worker = "w1", .attempt = 1, .exit_code = 0};

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (read(cfg->fd, buf, sizeof buf) <= 0)
        _exit(1);
    switch (bad_mode) {
    case BAD_HUGE_LENGTH:
        msg = tock_memdup("\xff\xff\xff\xff" "R", 5);
        len = 5;
        break;
    case BAD_RESULT_BYTES:
        tock_child_msg('R', (const uint8_t *)"\xc1", 1, &msg, &len, NULL);
        break;
    case BAD_KIND:
        tock_child_msg('X', NULL, 0, &msg, &len, NULL);
        break;
    case BAD_OTHER_OCC:
        tock_proto_encode_result(&r, &body, &blen, NULL);
        tock_child_msg('R', body, blen, &msg, &len, NULL);
        break;
    case BAD_DEAF:
        break; /* answers nothing, not even a cancel */
    }
    if (len > 0 && write(cfg->fd, msg, len) != (ssize_t)len)
        _exit(1);
    for (;;)
        pause();
}

static void bad_tick(struct fx *fx)
{
    if (fx->step == 0 && fx->results == 1 &&
        tock_pool_idle_slots(fx->pool) == 1) {
        assert_tock_ok(submit(fx, 1, "echo"), &fx->err);
        fx->step = 1;
    }
}

static void run_bad_child(struct fx *fx, enum bad_mode mode, const char *want)
{
    echo_handler(fx);
    bad_mode = mode;
    pool_child_main = bad_child;
    new_pool(fx, 1, 0);
    pool_child_main = tock_child_main; /* the replacement is a real one */
    fx->want = 2;
    fx->tick = bad_tick;
    assert_tock_ok(submit(fx, 0, "echo"), &fx->err);
    run_loop(fx, 5000);
    assert_int_equal(fx->count[0], 1);
    assert_int_equal(fx->status[0], TOCK_STATUS_CRASHED);
    if (strstr(fx->error[0], "was killed by the supervisor: ") == NULL ||
        strstr(fx->error[0], want) == NULL)
        fail_msg("error \"%s\", want \"%s\"", fx->error[0], want);
    assert_int_equal(fx->status[1], TOCK_STATUS_OK);
    assert_string_equal(fx->output[1], "job-1@1001\n");
}

static void test_bad_frame_length(void **state)
{
    run_bad_child(*state, BAD_HUGE_LENGTH, "4294967295");
}

static void test_bad_result_bytes(void **state)
{
    run_bad_child(*state, BAD_RESULT_BYTES, "it sent a malformed result: "
                                            "malformed result");
}

static void test_bad_kind(void **state)
{
    run_bad_child(*state, BAD_KIND, "it sent an unexpected 'X' message");
}

static void test_bad_other_occurrence(void **state)
{
    run_bad_child(*state, BAD_OTHER_OCC, "it sent a result for other@1 "
                                         "attempt 1 while running "
                                         "job-0@1000 attempt 1");
}

/* A child that does not answer a cancel is killed after grace + 2 s. */
static void deaf_tick(struct fx *fx)
{
    if (fx->step == 0) {
        assert_int_equal(tock_pool_cancel(fx->pool, 0), 0);
        fx->step = 1;
    }
}

static void test_cancel_unanswered(void **state)
{
    struct fx *fx = *state;
    int64_t t0 = now_ms();

    echo_handler(fx);
    bad_mode = BAD_DEAF;
    pool_child_main = bad_child;
    new_pool(fx, 1, 100);
    pool_child_main = tock_child_main;
    fx->want = 1;
    fx->tick = deaf_tick;
    assert_tock_ok(submit(fx, 0, "echo"), &fx->err);
    run_loop(fx, 5000);
    assert_int_equal(fx->status[0], TOCK_STATUS_CANCELLED);
    assert_non_null(strstr(fx->error[0], "did not answer a cancel in time"));
    assert_true(now_ms() - t0 >= 2100);
}

/* fork fails twice when a child is replaced: logged, retried with backoff. */
static int fork_calls;

static pid_t flaky_fork(void)
{
    if (++fork_calls >= 2 && fork_calls <= 3) {
        errno = EAGAIN;
        return -1;
    }
    return fork();
}

static void fork_tick(struct fx *fx)
{
    if (fx->step == 0) {
        assert_int_equal(kill(fx->pool->slots[0].pid, SIGKILL), 0);
        fx->step = 1;
    } else if (fx->step == 1 && fx->pool->slots[0].pid != 0 &&
               tock_pool_idle_slots(fx->pool) == 1 && fork_calls >= 4) {
        assert_tock_ok(submit(fx, 0, "echo"), &fx->err);
        fx->step = 2;
    }
}

static void test_fork_failure_backoff(void **state)
{
    struct fx *fx = *state;
    const char *line = "cannot start a worker child for slot 0: fork: "
                       "Resource temporarily unavailable";
    const char *p;
    int n = 0;

    echo_handler(fx);
    fork_calls = 0;
    pool_fork = flaky_fork;
    new_pool(fx, 1, 0);
    fx->want = 1;
    fx->tick = fork_tick;
    run_loop(fx, 5000);
    assert_int_equal(fx->status[0], TOCK_STATUS_OK);
    assert_int_equal(fork_calls, 4);
    for (p = fx->logbuf; (p = strstr(p, line)) != NULL; p++)
        n++;
    assert_int_equal(n, 2);
}

/* ------------------------------------------------------ cancel, signals */

/* ready: the handler has written <dir>/ready (after setting its trap). */
static bool ready(struct fx *fx)
{
    char path[600];

    snprintf(path, sizeof path, "%s/ready", fx->dir);
    return access(path, F_OK) == 0;
}

static void cancel_tick(struct fx *fx)
{
    if (fx->step == 0 && started(fx, 0) && ready(fx)) {
        assert_int_equal(tock_pool_cancel(fx->pool, 0), 0);
        assert_int_equal(tock_pool_cancel(fx->pool, 0), 0);
        assert_int_equal(tock_pool_cancel(fx->pool, 99), TOCK_ENOENT);
        fx->step = 1;
    }
}

static void test_cancel(void **state)
{
    struct fx *fx = *state;
    char def[1024];

    snprintf(def, sizeof def, "{\"argv\": [\"/bin/sh\", \"-c\", \"trap '' "
             "TERM; echo started; : > ready; sleep 30\"], \"cwd\": \"%s\"}",
             fx->dir);
    handler(fx, "stubborn", def);
    new_pool(fx, 1, 200);
    fx->want = 1;
    fx->tick = cancel_tick;
    assert_tock_ok(submit(fx, 0, "stubborn"), &fx->err);
    run_loop(fx, 5000);
    assert_int_equal(fx->count[0], 1);
    assert_int_equal(fx->status[0], TOCK_STATUS_CANCELLED);
    assert_string_equal(fx->error[0], "cancelled: sent SIGTERM to its process "
                                      "group, then SIGKILL after 200ms");
    assert_string_equal(fx->output[0], "started\n");
    wait_gone(fx->pgid, true);
}

static void signals_tick(struct fx *fx)
{
    if (fx->step == 0 && started(fx, 0)) {
        assert_int_equal(kill(fx->child_pid, SIGINT), 0);
        assert_int_equal(kill(fx->child_pid, SIGTERM), 0);
        assert_int_equal(kill(fx->child_pid, SIGHUP), 0);
        fx->step = 1;
    }
}

static void test_child_ignores_terminal_signals(void **state)
{
    struct fx *fx = *state;

    handler(fx, "nap", "{\"argv\": [\"/bin/sh\", \"-c\", \"sleep 0.3; "
                       "echo done\"]}");
    new_pool(fx, 1, 0);
    fx->want = 1;
    fx->tick = signals_tick;
    assert_tock_ok(submit(fx, 0, "nap"), &fx->err);
    run_loop(fx, 5000);
    assert_int_equal(fx->status[0], TOCK_STATUS_OK);
    assert_string_equal(fx->output[0], "done\n");
}

/* ------------------------------------------------------------- shutdown */

static void check_shutdown_order(struct tock_pool *pool, void *data)
{
    struct fx *fx = data;

    assert_int_equal(fx->results, 2); /* every result before the callback */
    on_shutdown(pool, data);
}

static void test_shutdown_deadline(void **state)
{
    struct fx *fx = *state;
    int pids[2];
    int64_t t0 = now_ms(), took;

    handler(fx, "quick", "{\"argv\": [\"/bin/sh\", \"-c\", \"sleep 0.1; "
                         "echo quick\"]}");
    handler(fx, "slow", "{\"argv\": [\"sleep\", \"30\"]}");
    new_pool(fx, 2, 0);
    pids[0] = fx->pool->slots[0].pid;
    pids[1] = fx->pool->slots[1].pid;
    assert_tock_ok(submit(fx, 0, "quick"), &fx->err);
    assert_tock_ok(submit(fx, 1, "slow"), &fx->err);
    assert_int_equal(tock_pool_shutdown(fx->pool, 1000, check_shutdown_order,
                                        fx), 0);
    assert_int_equal(tock_pool_shutdown(fx->pool, 500, NULL, NULL),
                     TOCK_EINVAL);
    assert_int_equal(tock_pool_idle_slots(fx->pool), 0);
    assert_int_equal(submit(fx, 2, "quick"), TOCK_ECANCELED);
    assert_false(fx->shutdown_done); /* never from inside the call */
    run_loop(fx, 5000);
    took = now_ms() - t0;
    assert_true(fx->shutdown_done);
    assert_int_equal(fx->status[0], TOCK_STATUS_OK);
    assert_string_equal(fx->output[0], "quick\n");
    assert_int_equal(fx->status[1], TOCK_STATUS_CANCELLED);
    assert_int_equal(fx->count[2], 0);
    assert_true(took >= 1000 && took < 3000);
    assert_false(pid_alive(pids[0]));
    assert_false(pid_alive(pids[1]));
}

/* The owner frees the pool from inside a result callback: torn down after
 * the callback returns, the other task's callback runs with `cancelled`. */
static void test_free_inside_result_callback(void **state)
{
    struct fx *fx = *state;

    echo_handler(fx);
    handler(fx, "slow", "{\"argv\": [\"sleep\", \"30\"]}");
    new_pool(fx, 2, 0);
    fx->free_on_result = true;
    assert_tock_ok(submit(fx, 0, "slow"), &fx->err);
    assert_tock_ok(submit(fx, 1, "echo"), &fx->err);
    run_loop(fx, 5000);
    assert_null(fx->pool);
    assert_int_equal(fx->results, 2);
    assert_int_equal(fx->status[1], TOCK_STATUS_OK);
    assert_int_equal(fx->status[0], TOCK_STATUS_CANCELLED);
    assert_int_equal(fx->count[0], 1);
    assert_int_equal(fx->count[1], 1);
}

/* -------------------------------------------- a SIGKILLed supervisor */

/* The supervisor process (forked from the test) writes
 * "<child pid> <handler pgid> <holder pid or 0>" to <dir>/pids once its
 * handler runs, then runs until it is killed. */
static pid_t holder;

static void write_pids_tick(struct fx *fx)
{
    char tmp[600], path[600];
    FILE *f;

    if (fx->step != 0 || !started(fx, 0))
        return;
    snprintf(path, sizeof path, "%s/pids", fx->dir);
    snprintf(tmp, sizeof tmp, "%s/pids.tmp", fx->dir);
    if ((f = fopen(tmp, "w")) == NULL)
        _exit(2);
    fprintf(f, "%d %d %d\n", fx->child_pid, fx->pgid, (int)holder);
    fclose(f);
    rename(tmp, path);
    fx->step = 1;
}

/* supervisor_process: a pool with one child running `sh`, which starts a
 * background sleep and waits. With `hold`, it first forks a process that
 * only keeps a copy of every descriptor, the supervisor's socket ends
 * included, so the supervisor's death gives the child no EOF: only the
 * parent-death signal is left to tell it. */
static void supervisor_process(struct fx *fx, bool hold)
{
    uv_loop_t loop;
    uv_timer_t ticker;
    struct tock_pool_config cfg = {.concurrency = 1, .handlers = fx->reg,
                                   .worker_id = "w1", .data = fx};
    struct tock_task t;

    if (uv_loop_init(&loop) != 0 ||
        tock_pool_new(&loop, &cfg, on_result, &fx->pool, NULL) != 0)
        _exit(2);
    if (hold && (holder = fork()) == 0)
        for (;;)
            pause();
    make_task(&t, 0, "family");
    if (tock_pool_submit(fx->pool, &t, 0, NULL, NULL) != 0)
        _exit(3);
    fx->tick = write_pids_tick;
    uv_timer_init(&loop, &ticker);
    ticker.data = fx;
    uv_timer_start(&ticker, on_tick, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(4);
}

static void kill_supervisor(struct fx *fx, bool hold)
{
    char path[600];
    int child = 0, pgid = 0, held = 0, status;
    FILE *f = NULL;
    pid_t sup;

    handler(fx, "family", "{\"argv\": [\"/bin/sh\", \"-c\", \"sleep 30 & "
                          "sleep 30; wait\"]}");
    snprintf(path, sizeof path, "%s/pids", fx->dir);
    if ((sup = fork()) == 0)
        supervisor_process(fx, hold);
    assert_true(sup > 0);
    for (int i = 0; i < 300 && (f = fopen(path, "r")) == NULL; i++)
        usleep(10000);
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d %d %d", &child, &pgid, &held), 3);
    fclose(f);
    fx->strays[0] = sup;
    fx->strays[1] = child;
    fx->strays[2] = held;
    fx->strays[3] = -pgid;
    assert_true(pid_alive(child));
    assert_true(group_alive(pgid));
    assert_int_equal(kill(sup, SIGKILL), 0);
    assert_int_equal(waitpid(sup, &status, 0), sup);
    assert_true(WIFSIGNALED(status));
    wait_gone(child, false);
    wait_gone(pgid, true);
    if (hold) {
        assert_true(held > 0 && pid_alive(held)); /* it kept the socket */
        kill(held, SIGKILL);
    }
}

static void test_supervisor_killed(void **state)
{
    kill_supervisor(*state, false);
}

static void test_supervisor_killed_socket_held(void **state)
{
    kill_supervisor(*state, true);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_config_errors),
        T(test_many_tasks),
        T(test_submit_errors),
        T(test_child_killed),
        T(test_bad_frame_length),
        T(test_bad_result_bytes),
        T(test_bad_kind),
        T(test_bad_other_occurrence),
        T(test_cancel_unanswered),
        T(test_fork_failure_backoff),
        T(test_cancel),
        T(test_child_ignores_terminal_signals),
        T(test_shutdown_deadline),
        T(test_free_inside_result_callback),
        T(test_supervisor_killed),
        T(test_supervisor_killed_socket_held),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
