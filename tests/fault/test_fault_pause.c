/* test_fault_pause.c: RELIABILITY.md b.2 row 2, REDIS.md 8.4 and 8.11: a
 * node stopped past its lease resumes and commits late; the store's fence
 * refuses every such commit (STALE), another node has fired the
 * occurrence, and the resumed node carries on normally.
 *
 * Every node runs with TOCK_TEST_SELFCHECK=off: the L/2 self-check would
 * otherwise release the late claims instead of committing them, and the
 * fence is what is under test. Fault period (20 s x TOCK_FAULT_SCALE):
 *   - n1 cycles through the crash point after_claim:stop: it stops itself
 *     right after a claim that returned jobs; the harness waits 2.5 L,
 *     sends SIGCONT, lets it run 1.5-3 s, stops it (SIGTERM, exit 0) and
 *     starts it again at the same crash point;
 *   - n2 or n3 is SIGSTOPped by pid every 3-6 s for 2.5 L, then SIGCONT
 *     (at random moments: usually between claims, sometimes inside one).
 * Proof counters: n1's self-stops; commits refused as stale claims in the
 * resumed nodes' logs ("commit refused for job X (stale claim ...)");
 * random pauses. No occurrence may be missed past misfire_grace (claims
 * of a stopped node come back after L, well inside the 5 s grace).
 */
#include <inttypes.h>
#include <string.h>

#include "fault_harness.h"
#include "support.h"

#define FAULT_MS 20000
#define WARMUP_MS 4000
#define PAUSE_MS (TOCK_FAULT_LEASE_MS * 5 / 2)
#define STOPPER 0 /* n1 */

enum phase { ARMED, STOPPED, RESUMED };

struct pause_state {
    enum phase phase;
    int64_t since, run_for, next_pause, paused_until;
    int paused;                 /* slot paused by the harness, or -1 */
    uint64_t self_stops, pauses;
};

/* crash_cycle drives n1 through after_claim:stop cycles. */
static void crash_cycle(struct tock_fault *f, struct pause_state *p,
                        int64_t now)
{
    if (p->phase == ARMED && tock_fault_node_self_stopped(f, STOPPER)) {
        tock_fault_log(f, "%s stopped itself after a claim",
                       f->node[STOPPER].id);
        p->self_stops++;
        p->phase = STOPPED;
        p->since = now;
    } else if (p->phase == STOPPED && now - p->since >= PAUSE_MS) {
        tock_fault_node_resume(f, STOPPER);
        p->phase = RESUMED;
        p->since = now;
        p->run_for = tock_fault_rand(f, 1500, 3000);
    } else if (p->phase == RESUMED && now - p->since >= p->run_for) {
        tock_fault_node_stop(f, STOPPER);
        tock_fault_node_start(f, STOPPER, "after_claim:stop");
        p->phase = ARMED;
    }
}

/* random_pauses SIGSTOPs n2 or n3 for 2.5 L every 3-6 s. */
static void random_pauses(struct tock_fault *f, struct pause_state *p,
                          int64_t now)
{
    if (p->paused >= 0 && now >= p->paused_until) {
        tock_fault_node_resume(f, p->paused);
        p->paused = -1;
        p->next_pause = now + tock_fault_rand(f, 3000, 6000);
    } else if (p->paused < 0 && now >= p->next_pause) {
        p->paused = (int)tock_fault_rand(f, 1, 2);
        tock_fault_node_pause(f, p->paused);
        p->pauses++;
        p->paused_until = now + PAUSE_MS;
    }
}

/* heal resumes everything; n1, if still armed, is waited for (its crash
 * point fires once per process) and resumed. */
static void heal(struct tock_fault *f, struct pause_state *p)
{
    int64_t until = tock_fault_mono_ms() + 5000;

    if (p->paused >= 0)
        tock_fault_node_resume(f, p->paused);
    while (p->phase == ARMED && !tock_fault_node_self_stopped(f, STOPPER) &&
           tock_fault_mono_ms() < until)
        tock_fault_sleep_ms(10);
    if (p->phase == ARMED && tock_fault_node_self_stopped(f, STOPPER))
        p->self_stops++;
    if (p->phase != RESUMED && tock_fault_node_self_stopped(f, STOPPER)) {
        tock_fault_sleep_ms(PAUSE_MS);
        tock_fault_node_resume(f, STOPPER);
    }
}

static void test_pause_past_the_lease(void **state)
{
    static const char *const selfcheck_off[] = {"TOCK_TEST_SELFCHECK=off",
                                                NULL};
    struct tock_fault f;
    struct pause_state p;
    uint64_t stale;
    int64_t end;

    (void)state;
    memset(&p, 0, sizeof p);
    p.paused = -1;
    tock_fault_setup(&f, "pause", FAULT_MS);
    tock_fault_workload(&f, 60, 10, 5, WARMUP_MS);
    for (int v = 0; v < TOCK_FAULT_NODES; v++) {
        f.node[v].env[0] = selfcheck_off[0];
        tock_fault_node_start(&f, v, v == STOPPER ? "after_claim:stop" : NULL);
    }
    tock_fault_sleep_ms(WARMUP_MS);
    end = tock_fault_mono_ms() + f.fault_ms;
    p.next_pause = tock_fault_mono_ms() + tock_fault_rand(&f, 1000, 3000);
    while (tock_fault_mono_ms() < end) {
        int64_t now = tock_fault_mono_ms();

        crash_cycle(&f, &p, now);
        random_pauses(&f, &p, now);
        tock_fault_sleep_ms(10);
    }
    heal(&f, &p);
    tock_fault_settle(&f);
    stale = tock_fault_count_lines(&f, "", "commit refused for job",
                                   "stale claim");
    tock_fault_log(&f, "stale refusals: %" PRIu64 " (n1 %" PRIu64 ", n2 %"
                   PRIu64 ", n3 %" PRIu64 ")", stale,
                   tock_fault_count_lines(&f, "n1", "commit refused for job",
                                          "stale claim"),
                   tock_fault_count_lines(&f, "n2", "commit refused for job",
                                          "stale claim"),
                   tock_fault_count_lines(&f, "n3", "commit refused for job",
                                          "stale claim"));
    if (f.events[TOCK_EVENT_MISSED] > 0)
        tock_fault_fail(&f, "%zu misfire_grace misses: a stopped node's "
                            "claims came back later than L + a claim period",
                        f.events[TOCK_EVENT_MISSED]);
    tock_fault_proof(&f, "self-stops at after_claim:stop", p.self_stops);
    tock_fault_proof(&f, "late commits refused as stale (node logs)", stale);
    tock_fault_proof(&f, "random SIGSTOPs of n2/n3", p.pauses);
    tock_fault_finish(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_past_the_lease),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
