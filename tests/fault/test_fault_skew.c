/* test_fault_skew.c: RELIABILITY.md b.2 row 8, REDIS.md 8.6 and 8.11:
 * scheduler nodes whose wall clocks are 30 s ahead and 30 s behind fire
 * exactly as nodes with the right time do, because every firing decision
 * uses Redis TIME and nodes only time relative sleeps on their monotonic
 * clocks.
 *
 * Two runs of the same workload (fault_harness.h) for 15 s x
 * TOCK_FAULT_SCALE each, no other fault:
 *   1. control: n1, n2, n3 on the real clock;
 *   2. skewed: n1 under libfaketime +30 s, n2 under -30 s, n3 real, all
 *      with FAKETIME_DONT_FAKE_MONOTONIC=1 (libfaketime from the faketime
 *      package, preloaded into the node directly rather than through the
 *      `faketime` wrapper, which forks and would stand between the harness
 *      and the node's pid).
 * Each run passes the history checker on its own; the skewed run must also
 * match the control: no more misses, lateness p50 within 250 ms and p99
 * within 1 s of the control's (a node that decided by its own clock would
 * fire 30 s early, which the checker calls early, or 30 s late, which
 * misfire_grace turns into misses; the margins only absorb a loaded CI
 * host).
 * Proof counters (skewed run): each skewed node's clock offset, read from
 * its log's timestamps, within 5 s of +-30 s; occurrences fired by each
 * skewed node.
 */
#include <glob.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fault_harness.h"
#include "support.h"

#define RUN_MS 15000
#define WARMUP_MS 3000
#define SKEW_MS 30000

static char preload[512], asan[600];

/* find_faketime sets `preload` to libfaketime's path; false if missing. */
static bool find_faketime(void)
{
    static const char *const where[] = {
        "/usr/lib/*/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    };

    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        glob_t g;
        bool ok = glob(where[i], 0, NULL, &g) == 0 && g.gl_pathc > 0;

        if (ok)
            snprintf(preload, sizeof preload, "LD_PRELOAD=%s", g.gl_pathv[0]);
        globfree(&g);
        if (ok)
            return true;
    }
    return false;
}

/* check_skewed records the skewed run's proofs and compares it with the
 * control run. */
static void check_skewed(struct tock_fault *f,
                         const struct tock_hist_report *c)
{
    const struct tock_hist_report *r = &f->report;
    int64_t off[TOCK_FAULT_NODES];

    for (int v = 0; v < TOCK_FAULT_NODES; v++)
        off[v] = tock_fault_log_skew_ms(f, f->node[v].id,
                                        f->node[v].started_wall_ms);
    tock_fault_log(f, "wall clock offsets in the node logs: n1 %+" PRId64
                   " ms, n2 %+" PRId64 " ms, n3 %+" PRId64 " ms", off[0],
                   off[1], off[2]);
    tock_fault_proof(f, "n1 clock ahead (ms, within 5 s of +30 s)",
                     llabs(off[0] - SKEW_MS) <= 5000 ? (uint64_t)off[0] : 0);
    tock_fault_proof(f, "n2 clock behind (ms, within 5 s of -30 s)",
                     llabs(off[1] + SKEW_MS) <= 5000 ? (uint64_t)-off[1] : 0);
    tock_fault_proof(f, "occurrences fired by n1 (+30 s)",
                     tock_hist_count_node(f->hist, "n1", TOCK_HIST_DISPATCHED));
    tock_fault_proof(f, "occurrences fired by n2 (-30 s)",
                     tock_hist_count_node(f->hist, "n2", TOCK_HIST_DISPATCHED));
    if (r->missed + r->skipped > c->missed + c->skipped)
        tock_fault_fail(f, "skewed nodes missed %zu occurrences, the control "
                           "run %zu", r->missed + r->skipped,
                        c->missed + c->skipped);
    if (llabs(r->late_p50_ms - c->late_p50_ms) > 250 ||
        r->late_p99_ms > c->late_p99_ms + 1000)
        tock_fault_fail(f, "lateness p50/p99 %" PRId64 "/%" PRId64 " ms with "
                           "skewed nodes, %" PRId64 "/%" PRId64 " ms in the "
                           "control run", r->late_p50_ms, r->late_p99_ms,
                        c->late_p50_ms, c->late_p99_ms);
}

/* run_one runs the workload for RUN_MS with nodes n1 and n2 skewed when
 * `skew`, settles and checks it; with `control` set, it also compares the
 * run with it. Returns the report (copied before finish frees the run). */
static struct tock_hist_report run_one(const char *name, bool skew,
                                       const struct tock_hist_report *control)
{
    static const char *const ahead[] = {"FAKETIME=+30s", NULL};
    static const char *const behind[] = {"FAKETIME=-30s", NULL};
    struct tock_fault f;
    struct tock_hist_report r;

    tock_fault_setup(&f, name, RUN_MS);
    tock_fault_workload(&f, 60, 10, 5, WARMUP_MS);
    for (int v = 0; skew && v < 2; v++) {
        f.node[v].env[0] = preload;
        f.node[v].env[1] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
        f.node[v].env[2] = asan;
        f.node[v].env[3] = (v == 0 ? ahead : behind)[0];
    }
    for (int v = 0; v < TOCK_FAULT_NODES; v++)
        tock_fault_node_start(&f, v, NULL);
    tock_fault_sleep_ms(WARMUP_MS + f.fault_ms);
    tock_fault_settle(&f);
    if (skew)
        check_skewed(&f, control);
    r = f.report;
    tock_fault_finish(&f);
    return r;
}

static void test_skewed_node_clocks(void **state)
{
    const char *prev = getenv("ASAN_OPTIONS");
    struct tock_hist_report control;

    (void)state;
    tock_redis_fixture_require();
    if (!find_faketime()) {
        if (getenv("CI") != NULL)
            fail_msg("libfaketime is missing; scripts/deps.sh installs the "
                     "faketime package");
        skip();
    }
    /* An ASan build of the node must accept a preloaded library. */
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
             prev != NULL ? prev : "", prev != NULL && *prev ? ":" : "");
    control = run_one("control", false, NULL);
    run_one("skew", true, &control);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skewed_node_clocks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
