/* test_scheduler_sqlite.c: real tock-scheduler processes on one SQLite file.
 *
 * 1. Two nodes, 20 interval jobs every 200-500 ms for about 8 s; one node is
 *    SIGKILLed midway and restarted. Afterwards the history checker
 *    (tests/support/history_check.h) over the store's runs, "fired" events
 *    and tasks: every occurrence from each job's first until 2 s before
 *    the stop has exactly one run record (dispatched, missed or skipped),
 *    none is off the job's grid, no task or "fired" event is duplicated or
 *    lacks its run record, and both nodes exit 0 on SIGTERM with no claim
 *    left.
 * 2. Crash point after_claim:abort: the node dies holding a claim; another
 *    node reclaims it after the lease and fires the occurrence once.
 * 3. Crash point before_commit_reply:abort: the commit landed, the node
 *    died before its reply; the occurrence is never fired again.
 * 4. Crash point after_claim:stop with the self-check off: the node stops
 *    holding a claim, the other node fires it after the lease, and the
 *    resumed node's late commit is refused by the store's fence.
 * 5. Bad flags: exit status 2 and one line on stderr.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "history_check.h"
#include "proc.h"
#include "scheduler/tz.h"
#include "store/store.h"
#include "support.h"

#define NJOBS 20
#define LEASE "1s"

struct fx {
    char *dir;
    char path[512], url[600];
    struct tock_store *s;
    struct tock_error err;
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void fx_open(struct fx *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    f->dir = tock_test_tmpdir(tag);
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/tock.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    assert_tock_ok(tock_store_open(f->url, NULL, &f->s, &f->err), &f->err);
}

/* fx_close removes the temp dir, unless TOCK_TEST_KEEP is set (then the
 * node logs stay there for a look). */
static void fx_close(struct fx *f)
{
    tock_store_close(f->s);
    if (getenv("TOCK_TEST_KEEP") != NULL) {
        print_message("kept %s\n", f->dir);
        free(f->dir); /* asprintf'd by tock_test_tmpdir */
        return;
    }
    tock_test_rmtree(f->dir);
}

static void add_interval(struct fx *f, const char *id, int64_t period_ms,
                         int64_t first_ms)
{
    char trig[128], at[64];
    struct tock_job j;
    enum tock_put_outcome o;

    tock_time_format(first_ms, NULL, at, sizeof at);
    snprintf(trig, sizeof trig, "interval:%" PRId64 "ms@%s", period_ms, at);
    assert_int_equal(tock_job_init_defaults(&j), 0);
    j.id = tock_strdup(id);
    j.handler = tock_strdup("h");
    j.trigger = tock_strdup(trig);
    j.max_instances = TOCK_MAX_INSTANCES_MAX; /* no worker drains them */
    assert_tock_ok(tock_store_job_put(f->s, &j, first_ms, TOCK_PUT_CREATE, 0,
                                      &o, NULL, &f->err), &f->err);
    tock_job_clear(&j);
}

/* start_node_env runs tock-scheduler on the fixture's store with our
 * environment plus TOCK_CRASHPOINT=`crash` and the entry `more` ("NAME=
 * value"; both may be NULL). Its log goes to <dir>/<node>.log. */
static pid_t start_node_env(struct fx *f, const char *node, const char *crash,
                            const char *more)
{
    char log[600], crashenv[80];
    const char *extra[3] = {NULL, NULL, NULL};
    char *argv[] = {(char *)tock_test_binary("tock-scheduler"),
                    "--store", f->url, "--node-id", (char *)node,
                    "--lease", LEASE, "--log-level", "debug", NULL};
    struct tock_proc_spec spec = {0};
    char **env;
    size_t k = 0;
    pid_t pid = 0;

    snprintf(log, sizeof log, "%s/%s.log", f->dir, node);
    if (crash != NULL) {
        snprintf(crashenv, sizeof crashenv, "TOCK_CRASHPOINT=%s", crash);
        extra[k++] = crashenv;
    }
    extra[k] = more;
    env = tock_proc_env_new(extra);
    assert_non_null(env);
    spec.path = argv[0];
    spec.argv = argv;
    spec.envp = env;
    spec.log_path = log;
    assert_tock_ok(tock_proc_spawn(&spec, &pid, &f->err), &f->err);
    tock_proc_env_free(env);
    return pid;
}

static pid_t start_node(struct fx *f, const char *node, const char *crash)
{
    return start_node_env(f, node, crash, NULL);
}

/* stop_node sends SIGTERM and expects a clean exit 0. */
static void stop_node(struct fx *f, pid_t pid)
{
    int st = 0;

    assert_tock_ok(tock_proc_stop(pid, 10000, &st, &f->err), &f->err);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---------------------------------------------------------------- checks */

/* check_history runs the history checker (tests/support/history_check.h)
 * over the store's run records, "fired" events and queued tasks, for the
 * jobs `h` declares: every occurrence due at or before t_end resolved
 * exactly once, nothing off a job's grid, the witnesses agreeing. Takes
 * the tasks: call it after the nodes stopped. Returns the report. */
static struct tock_hist_report check_history(struct fx *f, struct tock_hist *h,
                                             int64_t t_end)
{
    const char *queues[] = {"default"};
    struct tock_hist_report r;

    assert_tock_ok(tock_hist_load_runs(h, f->s, 100000, &f->err), &f->err);
    assert_tock_ok(tock_hist_load_events(h, f->s, NULL, &f->err), &f->err);
    assert_tock_ok(tock_hist_load_tasks(h, f->s, queues, 1, &f->err), &f->err);
    tock_hist_check(h, t_end, &r);
    tock_hist_report_print(&r, "history", stderr);
    assert_int_equal(r.problems, 0);
    return r;
}

/* assert_unclaimed: no job is left claimed by a stopped node. */
static void assert_unclaimed(struct fx *f, const char *id)
{
    struct tock_job_state st = {0};

    assert_tock_ok(tock_store_job_get(f->s, id, &st, &f->err), &f->err);
    assert_string_equal(st.owner, "");
    tock_job_state_clear(&st);
}

/* ------------------------------------------------------------------ tests */

static void test_two_nodes_with_a_kill(void **state)
{
    struct fx f;
    struct tock_hist *h = NULL;
    struct tock_hist_report r;
    int64_t first, period, t0, t_stop;
    size_t i;
    char id[16];
    pid_t a, b;

    (void)state;
    fx_open(&f, "sched2");
    assert_int_equal(tock_hist_new(&h), 0);
    t0 = wall_ms() + 1000;
    for (i = 0; i < NJOBS; i++) {
        period = 200 + (int64_t)(i % 4) * 100;
        first = t0 + (int64_t)i * 7;
        snprintf(id, sizeof id, "job%02zu", i);
        add_interval(&f, id, period, first);
        assert_int_equal(tock_hist_expect(h, id, first, period,
                                          TOCK_HIST_OPEN), 0);
    }
    a = start_node(&f, "node-a", NULL);
    b = start_node(&f, "node-b", NULL);
    sleep_ms(4000);
    assert_tock_ok(tock_proc_kill(a, &f.err), &f.err); /* SIGKILL midway */
    sleep_ms(300);
    a = start_node(&f, "node-a2", NULL);
    sleep_ms(4000);
    t_stop = wall_ms();
    stop_node(&f, a);
    stop_node(&f, b);
    for (i = 0; i < NJOBS; i++) {
        snprintf(id, sizeof id, "job%02zu", i);
        assert_unclaimed(&f, id);
    }
    /* Everything due 2 s before the stop was decided (nothing stalled). */
    r = check_history(&f, h, t_stop - 2000);
    assert_true(r.checked > 300);
    tock_hist_free(h);
    fx_close(&f);
}

/* one_job adds job "cp" every 5 s, first due in 600 ms, and returns T. */
static int64_t one_job(struct fx *f)
{
    int64_t t = wall_ms() + 600;

    add_interval(f, "cp", 5000, t);
    return t;
}

static void wait_abort(struct fx *f, pid_t pid)
{
    int st = 0;

    assert_tock_ok(tock_proc_wait(pid, 10000, &st, &f->err), &f->err);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
}

static void test_crash_after_claim(void **state)
{
    struct fx f;
    struct tock_run *r = NULL;
    struct tock_event *ev = NULL;
    int64_t *ids = NULL, t;
    size_t n = 0, i, expired = 0;
    pid_t a, b;

    (void)state;
    fx_open(&f, "crash1");
    t = one_job(&f);
    a = start_node(&f, "crasher", "after_claim:abort");
    wait_abort(&f, a); /* it claimed T and died holding it */
    b = start_node(&f, "survivor", NULL);
    sleep_ms(2000); /* the 1 s lease runs out; the survivor reclaims */
    stop_node(&f, b);
    assert_tock_ok(tock_store_runs(f.s, "cp", 10, &r, &n, &f.err), &f.err);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].sched_ms, t);
    assert_string_equal(r[0].status, "dispatched");
    assert_string_equal(r[0].node, "survivor");
    print_message("reclaimed occurrence fired %" PRId64 " ms late\n",
                  r[0].fired_ms - t);
    assert_true(r[0].fired_ms - t >= 900); /* only after the lease */
    tock_run_list_free(r, n);
    assert_tock_ok(tock_store_events(f.s, 0, 100, &ev, &ids, &n, &f.err),
                   &f.err);
    for (i = 0; i < n; i++)
        expired += ev[i].type == TOCK_EVENT_LEASE_EXPIRED;
    tock_event_list_free(ev, ids, n);
    assert_int_equal(expired, 1);
    fx_close(&f);
}

static void test_crash_before_commit_reply(void **state)
{
    struct fx f;
    struct tock_run *r = NULL;
    struct tock_hist *h = NULL;
    struct tock_hist_report rep;
    size_t n = 0;
    int64_t t;
    pid_t a, b;

    (void)state;
    fx_open(&f, "crash2");
    assert_int_equal(tock_hist_new(&h), 0);
    t = one_job(&f);
    assert_int_equal(tock_hist_expect(h, "cp", t, 5000, TOCK_HIST_OPEN), 0);
    a = start_node(&f, "crasher", "before_commit_reply:abort");
    wait_abort(&f, a); /* the commit landed; the reply was never read */
    b = start_node(&f, "survivor", NULL);
    sleep_ms(1500);
    stop_node(&f, b);
    assert_tock_ok(tock_store_runs(f.s, "cp", 10, &r, &n, &f.err), &f.err);
    assert_int_equal(n, 1); /* T once; T+5 s is not due yet */
    assert_int_equal(r[0].sched_ms, t);
    assert_string_equal(r[0].node, "crasher");
    tock_run_list_free(r, n);
    rep = check_history(&f, h, t); /* one run, one fired event, one task */
    assert_int_equal(rep.dispatched, 1);
    tock_hist_free(h);
    fx_close(&f);
}

/* wait_stopped waits until `pid` is in the stopped state (it stopped
 * itself at a crash point). */
static void wait_stopped(pid_t pid)
{
    char path[64], buf[512];
    int i;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    for (i = 0; i < 500; i++) {
        FILE *fp = fopen(path, "r");
        size_t n = fp != NULL ? fread(buf, 1, sizeof buf - 1, fp) : 0;
        const char *p;

        if (fp != NULL)
            fclose(fp);
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (p != NULL && p[1] == ' ' && p[2] == 'T')
            return;
        sleep_ms(10);
    }
    fail_msg("process %ld never stopped itself", (long)pid);
}

static bool file_has(const char *dir, const char *name, const char *text)
{
    char path[700], buf[16384];
    FILE *fp;
    size_t n;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "r");
    if (fp == NULL)
        return false;
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

/* RELIABILITY.md row 2: a node paused past its lease resumes; with the L/2
 * self-check off (so it does try to commit), the store's fence refuses the
 * commit, and the occurrence fired once, by the other node. */
static void test_paused_past_lease(void **state)
{
    struct fx f;
    struct tock_run *r = NULL;
    size_t n = 0;
    int64_t t;
    pid_t a, b;

    (void)state;
    fx_open(&f, "pause");
    t = one_job(&f);
    a = start_node_env(&f, "sleeper", "after_claim:stop",
                       "TOCK_TEST_SELFCHECK=off");
    wait_stopped(a); /* it holds the claim of T, stopped */
    b = start_node(&f, "survivor", NULL);
    sleep_ms(2000); /* past the 1 s lease: the survivor reclaims and fires */
    assert_tock_ok(tock_proc_resume(a, &f.err), &f.err);
    sleep_ms(500);
    stop_node(&f, a);
    stop_node(&f, b);
    assert_true(file_has(f.dir, "sleeper.log",
                         "commit refused for job cp (stale claim"));
    assert_tock_ok(tock_store_runs(f.s, "cp", 10, &r, &n, &f.err), &f.err);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].sched_ms, t);
    assert_string_equal(r[0].node, "survivor");
    tock_run_list_free(r, n);
    fx_close(&f);
}

/* run_bad runs tock-scheduler with `args` and expects exit 2 and one line
 * on stderr containing `expect`. */
static void run_bad(struct fx *f, char *const *args, const char *expect)
{
    char log[600], text[2048] = "";
    char *argv[12];
    struct tock_proc_spec spec = {0};
    FILE *fp;
    size_t n, i = 0;
    pid_t pid;
    int st = 0;

    argv[i++] = (char *)tock_test_binary("tock-scheduler");
    for (; *args != NULL && i < 11; args++)
        argv[i++] = *args;
    argv[i] = NULL;
    snprintf(log, sizeof log, "%s/bad.log", f->dir);
    unlink(log);
    spec.path = argv[0];
    spec.argv = argv;
    spec.log_path = log;
    assert_tock_ok(tock_proc_spawn(&spec, &pid, &f->err), &f->err);
    assert_tock_ok(tock_proc_wait(pid, 10000, &st, &f->err), &f->err);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2);
    fp = fopen(log, "r");
    assert_non_null(fp);
    n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    if (strstr(text, expect) == NULL || strchr(text, '\n') != text + n - 1)
        fail_msg("expected one line with '%s', got: %s", expect, text);
}

static void test_bad_flags(void **state)
{
    struct fx f;
    char *no_store[] = {"--lease", "5s", NULL};
    char *bad_lease[] = {"--store", f.url, "--lease", "5", NULL};
    char *short_lease[] = {"--store", f.url, "--lease", "10ms", NULL};
    char *bad_batch[] = {"--store", f.url, "--claim-batch", "300", NULL};
    char *bad_node[] = {"--store", f.url, "--node-id", "a:b", NULL};
    char *extra[] = {"--store", f.url, "what", NULL};

    (void)state;
    fx_open(&f, "badflags");
    unsetenv("TOCK_STORE");
    run_bad(&f, no_store, "no store given");
    run_bad(&f, bad_lease, "--lease");
    run_bad(&f, short_lease, "--lease");
    run_bad(&f, bad_batch, "--claim-batch");
    run_bad(&f, bad_node, "node id");
    run_bad(&f, extra, "unexpected argument");
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_crash_after_claim),
        cmocka_unit_test(test_crash_before_commit_reply),
        cmocka_unit_test(test_paused_past_lease),
        cmocka_unit_test(test_two_nodes_with_a_kill),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
