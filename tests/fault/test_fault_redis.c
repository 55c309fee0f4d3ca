/* test_fault_redis.c: RELIABILITY.md b.2 row 4 (and 3a), REDIS.md 8.11:
 * redis-server is killed with SIGKILL at random moments under load and
 * restarted on the same directory with appendfsync always. Every
 * occurrence still fires or is missed exactly once, every `tock add` that
 * returned 0 is present afterwards, and the nodes say that the store went
 * away and came back, and resume.
 *
 * Fault period (20 s x TOCK_FAULT_SCALE): every 3-6 s of uptime Redis gets
 * SIGKILL, stays down 0.3-2 s, and is restarted (same redis.conf, port,
 * directory and AOF). Meanwhile `tock add` (the CLI, a separate process)
 * adds an interval job every 0.3-0.9 s, anchored 3 s ahead; its exit
 * status says whether the add was acknowledged. After the heal:
 *   - an acknowledged add that is missing is a failure (lost write);
 *   - an add that failed may or may not have landed (its reply may be what
 *     was lost); a present one is checked like every other job.
 * Occurrences that fell due while Redis was down are fired late or, past
 * misfire_grace, recorded missed: either way exactly once; no fire is later
 * than the longest outage plus the lease (+ 1.5 s).
 * Proof counters: Redis kills; acknowledged adds; the nodes' "store
 * unavailable" and "available again" log lines (also accepted: "Redis
 * unreachable" / "reachable again", should the wording change).
 */
#include <inttypes.h>
#include <string.h>
#include <sys/wait.h>

#include "fault_harness.h"
#include "proc.h"
#include "scheduler/tz.h"
#include "support.h"

#define FAULT_MS 20000
#define WARMUP_MS 4000
#define ADDS_MAX 512

struct add_try {
    char id[16];
    int64_t anchor;
    bool acked;
};

struct redis_state {
    bool down;
    int64_t next_kill, up_at, next_add, killed_at;
    uint64_t kills;
    int64_t longest_down;         /* kill to restarted, ms */
    struct add_try adds[ADDS_MAX];
    int nadds, nacked;
};

/* try_add runs `tock add` once and records whether it was acknowledged. */
static void try_add(struct tock_fault *f, struct redis_state *r)
{
    struct add_try *a = &r->adds[r->nadds];
    char trig[96], at[48], log[700];
    char *argv[] = {(char *)tock_test_binary("tock"), "add", a->id,
                    "--trigger", trig, "--handler", "h", "--misfire-grace",
                    "5s", "--max-instances", "10000", "--store", f->url, NULL};
    struct tock_proc_spec spec = {0};
    struct tock_error err = {0};
    pid_t pid;
    int st = 0;

    snprintf(a->id, sizeof a->id, "add%03d", r->nadds);
    a->anchor = tock_fault_wall_ms() / 1000 * 1000 + 3000;
    tock_time_format(a->anchor, NULL, at, sizeof at);
    snprintf(trig, sizeof trig, "interval:1000ms@%s", at);
    snprintf(log, sizeof log, "%s/adds.log", f->dir);
    spec.path = argv[0];
    spec.argv = argv;
    spec.log_path = log;
    assert_tock_ok(tock_proc_spawn(&spec, &pid, &err), &err);
    if (tock_proc_wait(pid, 15000, &st, &err) != 0) {
        tock_proc_kill(pid, NULL);
        tock_fault_fail(f, "tock add %s hung: %s", a->id, err.msg);
    }
    a->acked = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    r->nacked += a->acked;
    r->nadds++;
}

/* redis_faults kills Redis every 3-6 s of uptime and restarts it after
 * 0.3-2 s. */
static void redis_faults(struct tock_fault *f, struct redis_state *r,
                         int64_t now)
{
    struct tock_error err = {0};

    if (!r->down && now >= r->next_kill) {
        tock_fault_log(f, "kill -9 redis-server pid %d",
                       (int)tock_redis_fixture_pid(f->rx));
        assert_tock_ok(tock_redis_fixture_kill(f->rx, &err), &err);
        r->kills++;
        r->down = true;
        r->killed_at = now;
        r->up_at = now + tock_fault_rand(f, 300, 2000);
    } else if (r->down && now >= r->up_at) {
        assert_tock_ok(tock_redis_fixture_restart(f->rx, &err), &err);
        int64_t down = tock_fault_mono_ms() - r->killed_at;

        if (down > r->longest_down)
            r->longest_down = down;
        tock_fault_log(f, "redis-server restarted (pid %d) after %" PRId64
                       " ms down", (int)tock_redis_fixture_pid(f->rx), down);
        r->down = false;
        r->next_kill = tock_fault_mono_ms() + tock_fault_rand(f, 3000, 6000);
    }
}

/* check_adds: every acknowledged add is there; present ones are declared
 * to the checker whether acknowledged or not. */
static void check_adds(struct tock_fault *f, const struct redis_state *r,
                       uint64_t *unacked_present)
{
    for (int i = 0; i < r->nadds; i++) {
        const struct add_try *a = &r->adds[i];
        struct tock_job_state st = {0};
        struct tock_error err = {0};
        int rc = tock_store_job_get(f->s, a->id, &st, &err);

        tock_job_state_clear(&st);
        if (rc == TOCK_ENOENT) {
            if (a->acked)
                tock_fault_fail(f, "acknowledged tock add of %s is lost",
                                a->id);
            continue;
        }
        if (rc != 0) {
            tock_fault_fail(f, "reading job %s: %s", a->id, err.msg);
            continue;
        }
        *unacked_present += !a->acked;
        tock_fault_declare(f, a->id, a->anchor, 1000);
    }
}

static void test_redis_killed_and_restarted(void **state)
{
    struct tock_fault f;
    struct redis_state *r = calloc(1, sizeof *r);
    uint64_t unacked_present = 0, down_lines, up_lines;
    int64_t end;

    (void)state;
    assert_non_null(r);
    tock_fault_setup(&f, "redis", FAULT_MS);
    tock_fault_workload(&f, 60, 10, 5, WARMUP_MS);
    for (int v = 0; v < TOCK_FAULT_NODES; v++)
        tock_fault_node_start(&f, v, NULL);
    tock_fault_sleep_ms(WARMUP_MS);
    end = tock_fault_mono_ms() + f.fault_ms;
    r->next_kill = tock_fault_mono_ms() + tock_fault_rand(&f, 1000, 3000);
    while (tock_fault_mono_ms() < end || r->down) {
        int64_t now = tock_fault_mono_ms();

        redis_faults(&f, r, now);
        if (now >= r->next_add && r->nadds < ADDS_MAX && now < end) {
            try_add(&f, r);
            r->next_add = tock_fault_mono_ms() + tock_fault_rand(&f, 300, 900);
        }
        tock_fault_sleep_ms(20);
    }
    check_adds(&f, r, &unacked_present);
    tock_fault_settle(&f);
    down_lines = tock_fault_count_lines(&f, "", "store unavailable", NULL) +
                 tock_fault_count_lines(&f, "", "Redis unreachable", NULL);
    up_lines = tock_fault_count_lines(&f, "", "available again", NULL) +
               tock_fault_count_lines(&f, "", "reachable again", NULL);
    tock_fault_log(&f, "tock add: %d tried, %d acknowledged, %" PRIu64
                   " not acknowledged but present", r->nadds, r->nacked,
                   unacked_present);
    /* Row 4's bound: nothing waits longer than the outage plus a lease
     * (the nodes' retry backoff stays under L while outages are this
     * short), with 1.5 s for a loaded CI host. */
    if (f.report.late_max_ms > r->longest_down + TOCK_FAULT_LEASE_MS + 1500)
        tock_fault_fail(&f, "a fire was %" PRId64 " ms late; the longest "
                            "outage was %" PRId64 " ms and the lease %d ms",
                        f.report.late_max_ms, r->longest_down,
                        TOCK_FAULT_LEASE_MS);
    tock_fault_proof(&f, "Redis kill -9 + restart", r->kills);
    tock_fault_proof(&f, "acknowledged tock add", (uint64_t)r->nacked);
    tock_fault_proof(&f, "node log lines: store unavailable", down_lines);
    tock_fault_proof(&f, "node log lines: store available again", up_lines);
    free(r);
    tock_fault_finish(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_killed_and_restarted),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
