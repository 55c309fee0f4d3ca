/* test_store_redis_procs.c: the key property of the Redis store: several
 * processes sharing one Redis fire every occurrence exactly once, even when
 * one of them is SIGKILLed while it holds claims.
 *
 * 20 interval jobs (every 60 ms for 1.2 s: ~400 occurrences) on one
 * redis-server (the fixture);
 * 3 forked children each loop claim -> commit with the simplest node
 * decisions (fire; next = sched + period; finished after the window). One
 * child stops after a claim and is SIGKILLed by the parent; its claims
 * lapse after the 300 ms lease and the others reclaim them. Another child
 * pauses once with claims in hand for longer than the lease (as a
 * SIGSTOPped or swapped-out node would) and then commits: every one of
 * those late commits must be refused as STALE. Afterwards
 * every (job, sched) in the window has exactly one run record, exactly one
 * task and exactly one "fired" event: zero duplicates, zero missing. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_store_redis_fx.h"

#define JOBS 20
#define PERIOD_MS 60
#define WINDOW_MS 1200
#define LEASE_MS 300
#define CHILDREN 3

struct plan {
    char path[512]; /* prefix of the role marker files */
    char url[200];
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

/* take_role gives `role` to the first child that asks (a marker file
 * created O_EXCL), so the roles go to children that are actually firing:
 * a child may get no claim at all for a while. */
static bool take_role(const struct plan *p, const char *role)
{
    char path[700];
    int fd;

    snprintf(path, sizeof path, "%s.%s", p->path, role);
    fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static int tell_parent(int fd, char role, int index)
{
    char rec[2] = {role, (char)('0' + index)};

    return write(fd, rec, 2) == 2 ? 0 : -1;
}

/* play_sleeper pauses with claims in hand for longer than the lease, then
 * commits them: each of those commits must be refused. */
static int play_sleeper(struct tock_store *s, const struct plan *p,
                        const struct tock_claim_batch *b)
{
    int stale = 0;

    sleep_ms(LEASE_MS + 250);
    if (commit_batch(s, p, b, &stale) < 0 || stale != (int)b->n)
        return 6; /* a late commit was accepted */
    return 0;
}

/* node_loop is one child: a node that claims and commits until every job
 * is finished. The first child holding claims after 400 ms becomes the
 * victim: it tells the parent and waits, claims in hand, for SIGKILL. The
 * first one after 600 ms becomes the sleeper. */
static int node_loop(const struct plan *p, int index, int fd)
{
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    struct tock_claim_batch b;
    char nonce[64];
    int64_t started = mono_ms();
    int stale = 0, rc = 0;

    snprintf(nonce, sizeof nonce, "child%d-%ld", index, (long)getpid());
    if (tock_store_open(p->url, NULL, &s, &err) != 0) {
        fprintf(stderr, "child %d: %s\n", index, err.msg);
        return 2;
    }
    for (;;) {
        if (tock_store_claim(s, nonce, 16, LEASE_MS, &b, &err) < 0) {
            fprintf(stderr, "child %d claim: %s\n", index, err.msg);
            return 3;
        }
        if (b.n == 0 && b.next_due_ms < 0)
            break;
        if (b.n > 0 && mono_ms() - started > 400 && take_role(p, "victim")) {
            if (tell_parent(fd, 'k', index) < 0)
                return 4;
            for (;;)
                pause(); /* SIGKILL arrives here, claims in hand */
        }
        if (b.n > 0 && mono_ms() - started > 600 && take_role(p, "sleeper")) {
            if ((rc = play_sleeper(s, p, &b)) != 0 ||
                tell_parent(fd, 's', index) < 0)
                return rc ? rc : 4;
        } else if (b.n > 0 && commit_batch(s, p, &b, &stale) < 0) {
            return 5;
        }
        if (b.n == 0) {
            int64_t wait = b.next_due_ms - b.now_ms;
            sleep_ms(wait < 1 ? 1 : wait > 20 ? 20 : wait);
        }
        tock_claim_batch_clear(&b);
    }
    tock_claim_batch_clear(&b);
    tock_store_close(s);
    return 0;
}

/* --------------------------------------------------------------- parent */

static void setup_jobs(struct plan *p, char *dir,
                       const struct tock_redis_fixture *fx)
{
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    struct tock_job j;
    char id[16];
    int64_t now;

    snprintf(p->path, sizeof p->path, "%s/role", dir);
    snprintf(p->url, sizeof p->url, "%s", tock_redis_fixture_url(fx));
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

/* read_role waits (bounded) for one "<role><index>" record. */
static bool read_role(int fd, char *role, int *index)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char rec[2];

    if (poll(&pfd, 1, 60000) != 1 || read(fd, rec, 2) != 2)
        return false;
    *role = rec[0];
    *index = rec[1] - '0';
    return true;
}

/* run_children forks the nodes, kills the victim when it asks, and waits
 * for everyone. victim and sleeper get the children's indexes. */
static void run_children(const struct plan *p, int *victim, int *sleeper)
{
    pid_t pids[CHILDREN];
    int pipefd[2], status, index;
    char role;

    *victim = *sleeper = -1;
    assert_int_equal(pipe(pipefd), 0);
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(pipefd[0]);
            _exit(node_loop(p, i, pipefd[1]));
        }
    }
    close(pipefd[1]);
    while (*victim < 0 && read_role(pipefd[0], &role, &index)) {
        if (role == 'k') {
            *victim = index;
            assert_int_equal(kill(pids[index], SIGKILL), 0);
        } else {
            *sleeper = index;
        }
    }
    assert_true(*victim >= 0);
    for (int i = 0; i < CHILDREN; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        if (i == *victim)
            assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("child %d failed (status %d)", i, status);
    }
    if (*sleeper < 0 && read_role(pipefd[0], &role, &index))
        *sleeper = index;
    close(pipefd[0]);
}

/* expired_claims counts lease_expired events of child `index` (their
 * detail is the lost token "child<index>-<pid>:<epoch>"). */
static int64_t expired_claims(redisContext *raw, int index)
{
    redisReply *r = redisCommand(raw, "XRANGE " NS "events - +");
    char prefix[32];
    int64_t n = 0;

    assert_non_null(r);
    snprintf(prefix, sizeof prefix, "child%d-", index);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *f = r->element[i]->element[1];
        const redisReply *d = tock_redis_field(f, "detail");
        if (tock_redis_streq(tock_redis_field(f, "type"), "lease_expired") &&
            tock_redis_is_str(d) && strncmp(d->str, prefix, strlen(prefix)) == 0)
            n++;
    }
    freeReplyObject(r);
    return n;
}

/* count_events counts events of `type` and their distinct occurrences. */
static int64_t count_events(redisContext *raw, const char *type,
                            size_t *distinct)
{
    redisReply *r = redisCommand(raw, "XRANGE " NS "events - +");
    int64_t n = 0;
    char **seen = calloc(r->elements + 1, sizeof *seen);

    assert_non_null(r);
    *distinct = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *f = r->element[i]->element[1];
        const redisReply *occ = tock_redis_field(f, "occ");
        bool dup = false;
        if (!tock_redis_streq(tock_redis_field(f, "type"), type))
            continue;
        n++;
        for (size_t k = 0; k < *distinct && occ != NULL; k++)
            dup = dup || strcmp(seen[k], occ->str) == 0;
        if (!dup && occ != NULL)
            seen[(*distinct)++] = occ->str;
    }
    free(seen);
    freeReplyObject(r);
    return n;
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

static int64_t raw_int(redisContext *raw, const char *cmd)
{
    redisReply *r = redisCommand(raw, cmd);
    int64_t v = -1;

    assert_non_null(r);
    assert_true(tock_redis_i64(r, &v));
    freeReplyObject(r);
    return v;
}

static void test_processes_fire_each_occurrence_once(void **state)
{
    struct tock_redis_fixture *fx = *state;
    struct plan p;
    char *dir = tock_test_tmpdir("store-redis-procs");
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    redisContext *raw = tock_redis_fixture_connect(fx, 5000, &err);
    size_t total = 0, distinct = 0;
    int victim, sleeper;

    assert_non_null(dir);
    assert_non_null(raw);
    setup_jobs(&p, dir, fx);
    run_children(&p, &victim, &sleeper);

    assert_tock_ok(tock_store_open(p.url, NULL, &s, &err), &err);
    for (int i = 0; i < JOBS; i++)
        total += check_job(&p, s, i);
    tock_store_close(s);
    assert_true(total >= 300);
    /* One task and one "fired" event per occurrence, none without a
     * record. */
    assert_int_equal(raw_int(raw, "XLEN " NS "q:default"), total);
    assert_int_equal(raw_int(raw, "HLEN " NS "tasks"), total);
    assert_int_equal(count_events(raw, "fired", &distinct), total);
    assert_int_equal(distinct, total);
    assert_int_equal(raw_int(raw, "ZCARD " NS "leases"), 0);
    assert_int_equal(raw_int(raw, "ZCARD " NS "due"), 0);
    /* The victim died holding claims, and they were reclaimed; so were the
     * sleeper's, whose late commits were all refused (checked in the
     * child: play_sleeper). */
    assert_true(expired_claims(raw, victim) >= 1);
    assert_true(sleeper >= 0 && sleeper != victim);
    assert_true(expired_claims(raw, sleeper) >= 1);
    redisFree(raw);
    tock_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processes_fire_each_occurrence_once),
    };
    return cmocka_run_group_tests(tests, rfx_group_setup, rfx_group_teardown);
}
