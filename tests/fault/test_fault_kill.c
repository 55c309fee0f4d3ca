/* test_fault_kill.c: RELIABILITY.md b.2 row 1, REDIS.md 8.11: scheduler
 * nodes die by SIGKILL at random moments and at the two crash points
 * between claim and commit, under load; every occurrence still fires or is
 * missed exactly once.
 *
 * Topology and phases: fault_harness.h (1 Redis, AOF always; 3 nodes,
 * lease 2 s; 60 interval jobs every 1 s, 10 cron every 2 s, 5 date jobs;
 * misfire_grace 5 s). Fault period (20 s x TOCK_FAULT_SCALE):
 *   - n1 and n2: every 3-7 s one of them is killed with SIGKILL and
 *     restarted 0.2-1.5 s later;
 *   - n3 runs with a crash point, alternately after_claim:abort (it dies
 *     holding claims: they lapse and another node reclaims them after the
 *     lease) and before_commit_reply:abort (its commit landed, the reply
 *     was never read: nothing may fire again); it is restarted 1-3 s after
 *     each abort.
 * No occurrence may be missed past misfire_grace (row 1's bound: a dead
 * node's claims are back within L + a claim period, 2 s + ms, against a
 * 5 s grace); coalescing jobs record their backlog as coalesced.
 * Proof counters: random kills; aborts at each crash point; lease_expired
 * events (claims of dead nodes reclaimed); run records committed by an
 * incarnation that then died before reading the reply.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "fault_harness.h"
#include "support.h"

#define FAULT_MS 20000
#define WARMUP_MS 4000
#define CRASHED 2 /* node slot n3 */

static const char *const points[] = {"after_claim:abort",
                                     "before_commit_reply:abort"};

struct kill_state {
    int64_t next_kill, restart_at[TOCK_FAULT_NODES];
    uint64_t kills, aborts[2];
    int point;                    /* crash point of n3's incarnation */
    char bcr[64][32];             /* incarnations with before_commit_reply */
    int nbcr;
};

/* random_kills kills n1 or n2 every 3-7 s and restarts it soon after. */
static void random_kills(struct tock_fault *f, struct kill_state *k,
                         int64_t now)
{
    for (int v = 0; v < CRASHED; v++) {
        if (f->node[v].pid == 0 && now >= k->restart_at[v]) {
            tock_fault_node_start(f, v, NULL);
        }
    }
    if (now < k->next_kill)
        return;
    int v = (int)tock_fault_rand(f, 0, CRASHED - 1);
    if (f->node[v].pid != 0) {
        tock_fault_node_kill(f, v);
        k->kills++;
        k->restart_at[v] = now + tock_fault_rand(f, 200, 1500);
    }
    k->next_kill = now + tock_fault_rand(f, 3000, 7000);
}

/* crash_points restarts n3 at the next crash point after each abort. */
static void crash_points(struct tock_fault *f, struct kill_state *k,
                         int64_t now)
{
    int st = 0;

    if (tock_fault_node_exited(f, CRASHED, &st)) {
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) {
            k->aborts[k->point]++;
            tock_fault_log(f, "%s aborted at %s", f->node[CRASHED].id,
                           points[k->point]);
        } else {
            tock_fault_fail(f, "%s exited with status 0x%x instead of "
                               "aborting at %s", f->node[CRASHED].id, st,
                            points[k->point]);
        }
        k->restart_at[CRASHED] = now + tock_fault_rand(f, 1000, 3000);
        k->point ^= 1;
    }
    if (f->node[CRASHED].pid != 0 || now < k->restart_at[CRASHED])
        return;
    tock_fault_node_start(f, CRASHED, points[k->point]);
    if (k->point == 1 && k->nbcr < 64)
        strcpy(k->bcr[k->nbcr++], f->node[CRASHED].id);
}

static void heal(struct tock_fault *f)
{
    for (int v = 0; v < TOCK_FAULT_NODES; v++) {
        int st;

        if (v == CRASHED && f->node[v].pid != 0 && f->node[v].crash[0] &&
            !tock_fault_node_exited(f, v, &st))
            tock_fault_node_kill(f, v); /* still armed: disarm it */
        if (f->node[v].pid == 0)
            tock_fault_node_start(f, v, NULL);
    }
}

static void test_kill_and_crash_points(void **state)
{
    struct tock_fault f;
    struct kill_state k;
    uint64_t landed = 0;
    int64_t end;

    (void)state;
    memset(&k, 0, sizeof k);
    tock_fault_setup(&f, "kill", FAULT_MS);
    tock_fault_workload(&f, 60, 10, 5, WARMUP_MS);
    for (int v = 0; v < TOCK_FAULT_NODES; v++)
        tock_fault_node_start(&f, v, NULL);
    tock_fault_sleep_ms(WARMUP_MS);
    end = tock_fault_mono_ms() + f.fault_ms;
    k.next_kill = tock_fault_mono_ms() + tock_fault_rand(&f, 1000, 3000);
    tock_fault_node_kill(&f, CRASHED); /* n3 turns crasher */
    while (tock_fault_mono_ms() < end) {
        int64_t now = tock_fault_mono_ms();

        random_kills(&f, &k, now);
        crash_points(&f, &k, now);
        tock_fault_sleep_ms(20);
    }
    heal(&f);
    tock_fault_settle(&f);
    for (int i = 0; i < k.nbcr; i++)
        landed += tock_hist_count_node(f.hist, k.bcr[i], TOCK_HIST_DISPATCHED) +
                  tock_hist_count_node(f.hist, k.bcr[i], TOCK_HIST_MISSED);
    /* Row 1's bound: a dead node's claims come back within L + a claim
     * period, far inside misfire_grace, so none may be missed past it. */
    if (f.events[TOCK_EVENT_MISSED] > 0)
        tock_fault_fail(&f, "%zu misfire_grace misses: a dead node's claims "
                            "came back later than L + a claim period",
                        f.events[TOCK_EVENT_MISSED]);
    tock_fault_proof(&f, "random kill -9 of n1/n2", k.kills);
    tock_fault_proof(&f, "aborts at after_claim:abort", k.aborts[0]);
    tock_fault_proof(&f, "aborts at before_commit_reply:abort", k.aborts[1]);
    tock_fault_proof(&f, "lease_expired events (dead nodes' claims "
                         "reclaimed)", f.events[TOCK_EVENT_LEASE_EXPIRED]);
    tock_fault_proof(&f, "runs committed by nodes that died before the "
                         "reply", landed);
    tock_fault_finish(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_and_crash_points),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
