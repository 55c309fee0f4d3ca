/* fault_harness.h: the harness of tock's fault tests (RELIABILITY.md b.1,
 * REDIS.md 8.11): one real redis-server, three real tock-scheduler
 * processes, a workload of interval, cron and date jobs, faults injected by
 * pid, and a verdict from recorded history.
 *
 * A scenario (tests/fault/test_fault_*.c) runs the phases of b.1:
 *   1. setup: redis-server (AOF, appendfsync always, noeviction) in a
 *      fresh directory; the workload (tock_fault_workload): interval jobs
 *      every 1 s with distinct anchors (half of them without coalesce, so
 *      a late occurrence is caught up one by one, the other half
 *      coalescing a backlog into one fire), cron `*\/2 * * * * *` jobs,
 *      date jobs inside the fault period; misfire_grace 5 s; max_instances
 *      at its maximum (no worker drains the tasks: these are
 *      scheduler-level tests); every job declared to the history checker;
 *   2. warm-up: the nodes start (tock_fault_node_start), no faults;
 *   3. fault period: the scenario's own loop, logging every fault with
 *      tock_fault_log;
 *   4. heal: every node running, Redis up;
 *   5. tock_fault_settle: recovery wait (L + grace + 2 s), t_end = Redis
 *      TIME - 1.5 s, quiescence (every job resolved up to t_end), SIGTERM
 *      to every node (each must exit 0), the store invariants (leases
 *      empty; every job in exactly one of due, leases, finished; the due
 *      score its next_fire_ms; every task entry indexed; each job's
 *      tasks carrying strictly increasing claim epochs), then the history
 *      checker over four witnesses: run records and "fired" events through
 *      the store API, the raw runs:<job> streams, and the queued tasks;
 *   6. proof counters (tock_fault_proof): each fault's evidence that it
 *      took effect; 0 makes the run invalid, which fails it;
 *   7. tock_fault_finish: the figures on stderr; on failure the directory
 *      (redis.log, the AOF, every node's log, faults.log) is kept and its
 *      path printed.
 *
 * Randomness comes from one seed (TOCK_FAULT_SEED, else the clock),
 * printed first: the same seed replays the same fault schedule (not the
 * same OS interleavings). TOCK_FAULT_SCALE (1..100, default 1) multiplies
 * the fault period: `make fault` runs the long campaign with it.
 *
 * Every check failure is recorded (tock_fault_fail) rather than asserted
 * at once, so a failed run still stops its processes in order and keeps
 * its evidence. Not thread-safe; one scenario per process at a time.
 */
#ifndef TOCK_TEST_FAULT_HARNESS_H
#define TOCK_TEST_FAULT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "history_check.h"
#include "redis_fixture.h"
#include "store/store.h"

#define TOCK_FAULT_NODES 3
#define TOCK_FAULT_LEASE_MS 2000
#define TOCK_FAULT_GRACE_MS 5000
#define TOCK_FAULT_PROOFS 12
#define TOCK_FAULT_ENV_MAX 6

/* tock_fault_node: one scheduler node slot; each (re)start is a new
 * incarnation with node id "<name>-r<NNN>". */
struct tock_fault_node {
    char name[8];            /* "n1" */
    char id[32];             /* the current incarnation's node id */
    pid_t pid;               /* 0 when not running */
    int incarnation;
    bool paused;             /* SIGSTOPped by the harness */
    int64_t started_wall_ms; /* harness wall clock at spawn */
    char crash[40];          /* TOCK_CRASHPOINT of this incarnation, "" */
    const char *env[TOCK_FAULT_ENV_MAX]; /* "NAME=value" for every
                                            incarnation; borrowed */
};

struct tock_fault_proof {
    const char *name;        /* static */
    uint64_t value;
};

struct tock_fault {
    const char *name;        /* scenario, static */
    struct tock_redis_fixture *rx;
    struct tock_store *s;    /* the harness's own store handle */
    char dir[512];           /* the fixture's directory: everything kept */
    char url[64];
    FILE *flog;              /* <dir>/faults.log */
    uint64_t seed, rng;
    int scale;
    int64_t mono0;           /* harness monotonic clock at setup */
    int64_t t0_ms;           /* Redis TIME when the workload was added */
    int64_t fault_ms;        /* fault period for this scale */
    int64_t t_end_ms;        /* set by settle */
    struct tock_fault_node node[TOCK_FAULT_NODES];
    struct tock_hist *hist;
    struct tock_hist_report report;
    size_t events[TOCK_EVENT_COUNT_]; /* by type, after settle */
    struct tock_fault_proof proof[TOCK_FAULT_PROOFS];
    int nproofs;
    int failures;
    char first_failure[400];
};

/* tock_fault_setup starts Redis and opens the store for scenario `name`
 * (static string) with a fault period of `fault_ms` x TOCK_FAULT_SCALE.
 * Fails the test (cmocka) when it cannot: nothing is running then. */
void tock_fault_setup(struct tock_fault *f, const char *name,
                      int64_t fault_ms);

/* tock_fault_workload adds `n_interval` interval jobs every 1 s, `n_cron`
 * cron jobs every 2 s and `n_date` date jobs spread over the fault period
 * (which starts `warmup_ms` after now), and declares them. */
void tock_fault_workload(struct tock_fault *f, int n_interval, int n_cron,
                         int n_date, int64_t warmup_ms);

/* tock_fault_declare declares a job added another way (tock add) with
 * its grid, for the checker. */
void tock_fault_declare(struct tock_fault *f, const char *job,
                        int64_t first_ms, int64_t period_ms);

/* ------------------------------------------------------------- nodes */

/* tock_fault_node_start starts slot i's next incarnation with
 * TOCK_CRASHPOINT=`crash` (NULL: none) and the slot's env. */
void tock_fault_node_start(struct tock_fault *f, int i, const char *crash);

/* tock_fault_node_kill SIGKILLs slot i and reaps it. */
void tock_fault_node_kill(struct tock_fault *f, int i);

/* tock_fault_node_stop SIGTERMs slot i; a node that does not exit 0
 * within 10 s is a failure. */
void tock_fault_node_stop(struct tock_fault *f, int i);

/* tock_fault_node_exited reaps slot i if it exited; true then, with
 * *status as waitpid gives it. */
bool tock_fault_node_exited(struct tock_fault *f, int i, int *status);

/* tock_fault_node_self_stopped: slot i is in the stopped state without
 * the harness having paused it (a crash point raised SIGSTOP). */
bool tock_fault_node_self_stopped(struct tock_fault *f, int i);

/* tock_fault_node_pause / _resume: SIGSTOP / SIGCONT slot i. */
void tock_fault_node_pause(struct tock_fault *f, int i);
void tock_fault_node_resume(struct tock_fault *f, int i);

/* tock_fault_count_lines counts the lines of every node log (all
 * incarnations) whose name starts with `node_prefix` ("" for all) that
 * contain `a` (and `b` too, when not NULL). */
uint64_t tock_fault_count_lines(const struct tock_fault *f,
                                const char *node_prefix, const char *a,
                                const char *b);

/* tock_fault_log_skew_ms estimates how far node incarnation `id`'s wall
 * clock was from the harness's: its first log line's timestamp minus the
 * harness clock at spawn. INT64_MIN when the log has no timestamp. */
int64_t tock_fault_log_skew_ms(const struct tock_fault *f, const char *id,
                               int64_t spawned_wall_ms);

/* ------------------------------------------------------ faults, time */

/* tock_fault_log writes "fault <text> wall_ms=<ms>" to faults.log and
 * stderr: the fault schedule. */
void tock_fault_log(struct tock_fault *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* tock_fault_rand returns a pseudo-random integer in [lo, hi]. */
int64_t tock_fault_rand(struct tock_fault *f, int64_t lo, int64_t hi);

int64_t tock_fault_mono_ms(void);
int64_t tock_fault_wall_ms(void);
void tock_fault_sleep_ms(int64_t ms);

/* tock_fault_redis_now returns Redis TIME (the store's clock), retrying
 * for up to 10 s while Redis restarts. */
int64_t tock_fault_redis_now(struct tock_fault *f);

/* --------------------------------------------------------- verdicts */

/* tock_fault_fail records a failed check (the first message is kept). */
void tock_fault_fail(struct tock_fault *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* tock_fault_proof records a proof counter; 0 invalidates the run. */
void tock_fault_proof(struct tock_fault *f, const char *name, uint64_t value);

/* tock_fault_settle runs phases 5 and the checker (see the top). Every
 * node slot must be running (or exited) when it is called. */
void tock_fault_settle(struct tock_fault *f);

/* tock_fault_finish prints the figures; on failure it keeps the
 * directory, prints its path and fails the test; otherwise it frees
 * everything. `f` is invalid afterwards. */
void tock_fault_finish(struct tock_fault *f);

#endif /* TOCK_TEST_FAULT_HARNESS_H */
