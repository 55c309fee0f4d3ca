/* test_store_sqlite_procs.c: the key property of the SQLite store: several
 * processes sharing one file fire every occurrence exactly once, even when
 * one of them is SIGKILLed while it holds claims.
 *
 * 20 interval jobs (every 60 ms for 1.2 s: ~400 occurrences) on one file;
 * 3 forked children each loop claim -> commit with the simplest node
 * decisions (fire; next = sched + period; finished after the window). One
 * child stops after a claim and is SIGKILLed by the parent; its claims
 * lapse after the 300 ms lease and the others reclaim them. Another child
 * pauses once with claims in hand for longer than the lease (as a
 * SIGSTOPped or swapped-out node would) and then commits: every one of
 * those late commits must be refused as STALE. Afterwards
 * every (job, sched) in the window has exactly one run record, exactly one
 * task and exactly one "fired" event: zero duplicates, zero missing. */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_store_fixture.h"

#define JOBS 20
#define PERIOD_MS 60
#define WINDOW_MS 1200
#define LEASE_MS 300
#define CHILDREN 3
#define VICTIM 0
#define SLEEPER 1

struct plan {
    char path[512];
    char url[600];
    int64_t t0, t_end;
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static int64_t first_ms(const struct plan *p, int job)
{
    return p->t0 + job * 3;
}

/* ------------------------------------------------------------- children */

/* commit_batch commits every claimed item: fire, next = sched + period
 * (finished past the window). Returns 0 or the store's error. */
static int commit_batch(struct tock_store *s, const struct plan *p,
                        const struct tock_claim_batch *b, int *stale)
{
    struct tock_commit c[TOCK_CLAIM_MAX];
    struct tock_commit_result r[TOCK_CLAIM_MAX];
    uint8_t *body[TOCK_CLAIM_MAX];
    struct tock_error err = {0};
    int rc;

    for (size_t i = 0; i < b->n; i++) {
        fx_commit(&c[i], &b->items[i], TOCK_DECIDE_FIRE, PERIOD_MS, &body[i]);
        if (c[i].next_ms >= p->t_end)
            c[i].next_ms = -1;
    }
    rc = tock_store_commit(s, c, b->n, r, &err);
    for (size_t i = 0; i < b->n; i++) {
        tock_free(body[i]);
        if (rc == 0 && r[i].status == TOCK_COMMIT_STALE)
            (*stale)++;
        else if (rc == 0 && r[i].status != TOCK_COMMIT_OK)
            rc = -1000 - (int)r[i].status;
    }
    if (rc < 0)
        fprintf(stderr, "commit: %d %s\n", rc, err.msg);
    return rc;
}

/* node_loop is one child: a node that claims and commits until every job
 * is finished. The victim stops holding its claims once it has run for a
 * while, tells the parent, and waits to be killed. */
static int node_loop(const struct plan *p, int index, int kill_fd)
{
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    struct tock_claim_batch b;
    char nonce[64];
    int64_t started = mono_ms();
    bool slept = false;
    int stale = 0, rc;

    snprintf(nonce, sizeof nonce, "child%d-%ld", index, (long)getpid());
    if (tock_store_open(p->url, NULL, &s, &err) != 0) {
        fprintf(stderr, "child %d: %s\n", index, err.msg);
        return 2;
    }
    for (;;) {
        rc = tock_store_claim(s, nonce, 16, LEASE_MS, &b, &err);
        if (rc < 0) {
            fprintf(stderr, "child %d claim: %s\n", index, err.msg);
            return 3;
        }
        if (b.n == 0 && b.next_due_ms < 0)
            break;
        if (index == VICTIM && b.n > 0 && mono_ms() - started > 400) {
            if (write(kill_fd, "k", 1) != 1)
                return 4;
            for (;;)
                pause(); /* SIGKILL arrives here, claims in hand */
        }
        if (index == SLEEPER && !slept && b.n > 0 &&
            mono_ms() - started > 600) {
            slept = true;
            sleep_ms(LEASE_MS + 250);
            if (commit_batch(s, p, &b, &stale) < 0 || stale != (int)b.n)
                return 6; /* a late commit was accepted */
            tock_claim_batch_clear(&b);
            continue;
        }
        if (b.n > 0 && commit_batch(s, p, &b, &stale) < 0)
            return 5;
        if (b.n == 0) {
            int64_t wait = b.next_due_ms - b.now_ms;
            sleep_ms(wait < 1 ? 1 : wait > 20 ? 20 : wait);
        }
        tock_claim_batch_clear(&b);
    }
    tock_claim_batch_clear(&b);
    tock_store_close(s);
    return index == SLEEPER && !slept ? 7 : 0;
}

/* --------------------------------------------------------------- parent */

static void setup_jobs(struct plan *p, char *dir)
{
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    struct tock_job j;
    char id[16];
    int64_t now;

    snprintf(p->path, sizeof p->path, "%s/shared.db", dir);
    snprintf(p->url, sizeof p->url, "sqlite:%s", p->path);
    assert_tock_ok(tock_store_open(p->url, NULL, &s, &err), &err);
    assert_tock_ok(tock_store_now(s, &now, &err), &err);
    p->t0 = now + 150;
    p->t_end = p->t0 + WINDOW_MS;
    for (int i = 0; i < JOBS; i++) {
        snprintf(id, sizeof id, "job-%02d", i);
        fx_job(&j, id);
        j.max_instances = TOCK_MAX_INSTANCES_MAX; /* nobody runs the tasks */
        j.misfire_grace_ms = -1;
        assert_tock_ok(tock_store_job_put(s, &j, first_ms(p, i),
                                          TOCK_PUT_CREATE, 0, NULL, NULL, &err),
                       &err);
        tock_job_clear(&j);
    }
    tock_store_close(s);
}

/* wait_children waits for the survivors (bounded), having killed the
 * victim when it asked. */
static void run_children(const struct plan *p)
{
    pid_t pids[CHILDREN];
    int kill_pipe[2], status;
    struct pollfd pfd;
    char c;

    assert_int_equal(pipe(kill_pipe), 0);
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(kill_pipe[0]);
            _exit(node_loop(p, i, kill_pipe[1]));
        }
    }
    close(kill_pipe[1]);
    pfd.fd = kill_pipe[0];
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 30000), 1);
    assert_int_equal(read(kill_pipe[0], &c, 1), 1);
    close(kill_pipe[0]);
    assert_int_equal(kill(pids[VICTIM], SIGKILL), 0);
    for (int i = 0; i < CHILDREN; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        if (i == VICTIM) {
            assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fail_msg("child %d failed (status %d)", i, status);
        }
    }
}

/* check_job: job `i` has exactly the expected occurrences, once each. */
static size_t check_job(const struct plan *p, struct tock_store *s, int i)
{
    struct tock_run *runs = NULL;
    struct tock_error err = {0};
    struct tock_job_state st = {0};
    char id[16];
    size_t n = 0, expected = 0;

    snprintf(id, sizeof id, "job-%02d", i);
    for (int64_t t = first_ms(p, i); t < p->t_end; t += PERIOD_MS)
        expected++;
    assert_tock_ok(tock_store_runs(s, id, 1000, &runs, &n, &err), &err);
    if (n != expected)
        fail_msg("%s: %zu runs, expected %zu", id, n, expected);
    for (size_t k = 0; k < n; k++) {
        int64_t want = first_ms(p, i) + (int64_t)(n - 1 - k) * PERIOD_MS;
        if (runs[k].sched_ms != want)
            fail_msg("%s: run %zu at %lld, expected %lld", id, k,
                     (long long)runs[k].sched_ms, (long long)want);
        assert_string_equal(runs[k].status, "dispatched");
    }
    tock_run_list_free(runs, n);
    assert_tock_ok(tock_store_job_get(s, id, &st, &err), &err);
    assert_int_equal(st.next_fire_ms, -1);
    assert_string_equal(st.owner, "");
    assert_int_equal(st.running, (int64_t)expected);
    tock_job_state_clear(&st);
    return expected;
}

static void test_processes_fire_each_occurrence_once(void **state)
{
    struct plan p;
    char *dir = tock_test_tmpdir("store-procs");
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    size_t total = 0;

    (void)state;
    assert_non_null(dir);
    setup_jobs(&p, dir);
    run_children(&p);

    assert_tock_ok(tock_store_open(p.url, NULL, &s, &err), &err);
    for (int i = 0; i < JOBS; i++)
        total += check_job(&p, s, i);
    tock_store_close(s);
    assert_true(total >= 300);
    /* One task and one "fired" event per occurrence, none without a run. */
    assert_int_equal(fx_sql_int(p.path, "SELECT count(*) FROM tasks"), total);
    assert_int_equal(fx_sql_int(p.path, "SELECT count(DISTINCT occ) FROM "
                                        "tasks"),
                     total);
    assert_int_equal(fx_sql_int(p.path, "SELECT count(*) FROM tasks t LEFT "
                                        "JOIN runs r ON r.occ = t.occ WHERE "
                                        "r.occ IS NULL"),
                     0);
    assert_int_equal(fx_sql_int(p.path, "SELECT count(*) FROM events WHERE "
                                        "type = 'fired'"),
                     total);
    assert_int_equal(fx_sql_int(p.path, "SELECT count(DISTINCT occ) FROM "
                                        "events WHERE type = 'fired'"),
                     total);
    /* The victim died holding claims, and they were reclaimed; so were the
     * sleeper's. */
    assert_true(fx_sql_int(p.path, "SELECT count(*) FROM events WHERE type "
                                   "= 'lease_expired' AND detail LIKE "
                                   "'child0-%'") >= 1);
    assert_true(fx_sql_int(p.path, "SELECT count(*) FROM events WHERE type "
                                   "= 'lease_expired' AND detail LIKE "
                                   "'child1-%'") >= 1);
    tock_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processes_fire_each_occurrence_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
