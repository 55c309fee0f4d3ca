/* runner.h: the store <-> pool loop of a worker: takes tasks from the
 * store, runs them in a tock_pool (worker/pool.h), reports their results.
 *
 * One runner serves one store handle (it is the only user of that handle:
 * every store call runs on the libuv threadpool, one at a time) and one
 * pool, inside one libuv loop. tock-worker runs one; tock standalone runs
 * one beside the firing loop (scheduler/loop.h), each with its own store
 * handle.
 *
 * ON take (a kick, a change of the database file, the poll timer):
 *   1. max = the pool's free slots; nothing is taken when it is 0, or while
 *      stopping.
 *   2. task_take(queues in the given order: strict priority, consumer =
 *      worker id, max, lease Lw).
 *   3. Each task is decoded strictly (proto/codec.h). A body that does not
 *      decode (malformed, oversized, unknown protocol version) or that
 *      names a handler this worker's configuration does not define becomes
 *      an `error` result at once ("malformed task: ...", "handler X is not
 *      configured on worker W") and is reported like any result: the task
 *      is acknowledged, never redelivered in a loop (a poison task).
 *   4. The others go to the pool.
 * ON touch (every Lw/3 while tasks are held):
 *   1. task_touch every held task; a task no longer ours (its lease expired
 *      and it was reclaimed) is cancelled in the pool and its result is
 *      dropped: another worker owns the occurrence now (self-fencing).
 *   2. A running task whose lease could not be renewed for a whole Lw (the
 *      store is unreachable) is cancelled too: by then the store may have
 *      handed it to someone else.
 * ON result (from the pool): queued for report; reports go out in batches,
 *   before any other store call. task_report's status (ok, dup_ok, late,
 *   stale) is logged; a store failure is retried after a back-off, so a
 *   result is never dropped while the task is still ours.
 * ON reclaim (every Lw/4, at least every poll period): task_reclaim, so
 *   the tasks of a worker that died are handed out again after their lease.
 *
 * When tasks may be ready. In one process with the firing loop, the loop
 * calls tock_runner_kick() after each commit that enqueued tasks. Across
 * processes (tock-worker beside tock-scheduler on one SQLite file) the
 * runner watches the directory of `watch_path` (inotify through
 * uv_fs_event) for changes of the database file and its "-wal": every
 * commit by any process writes them. A change runs `PRAGMA data_version`
 * on the runner's own connection, which moves only when ANOTHER connection
 * committed, so the runner's own writes never wake it in a cycle; when it
 * moved, a take follows (latency: the inotify delivery and two threadpool
 * hops, about a millisecond). The event comes with the writer's write()
 * to the -wal, a moment BEFORE its commit is visible (the wal-index is
 * updated through mmap, which raises no event), so an unchanged version
 * is looked at again 5 and 25 ms later (a commit seen then costs about
 * 10-30 ms from enqueue to start, measured). The one thing no event
 * announces is a retry whose back-off ends (the store gives no wake-up
 * time for it): the poll timer (poll_ms, default 1 s) takes once per
 * period, so such a task waits at most poll_ms, and that same timer is
 * the fallback when the directory cannot be watched. At rest the runner
 * makes one take per poll_ms and one reclaim per reclaim period.
 *
 * ON stop(drain_ms, cb):
 *   1. Stop taking (no more takes, the watcher and the poll stop).
 *   2. Wait for running tasks, still touching their leases and reporting
 *      their results, up to drain_ms.
 *   3. At the deadline, cancel what still runs; when the pool has stopped
 *      it, hand it back with task_release (ready at once for another
 *      worker, the delivery not counted).
 *   4. When nothing is held and every report and release is written, or
 *      at a hard deadline (drain_ms + 15 s: the store is not answering),
 *      cb(runner, status, ctx) runs once: 0, or the code of the last store
 *      failure when results or hand-backs could not be written (those
 *      tasks are redelivered after their lease).
 *
 * Callback contract (STYLE.md 7): on_result and the stop callback run on
 * the loop thread; the pointers they get are valid only during the call.
 * If tock_runner_start or tock_runner_stop returns an error, its callback
 * never runs.
 */
#ifndef TOCK_WORKER_RUNNER_H
#define TOCK_WORKER_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "proto/model.h"
#include "store/store.h"
#include "tock/error.h"
#include "tock/log.h"
#include "worker/handlers.h"
#include "worker/pool.h"

#define TOCK_RUNNER_LEASE_DEFAULT_MS 30000
#define TOCK_RUNNER_LEASE_MIN_MS 300     /* touch every 100 ms at least */
#define TOCK_RUNNER_POLL_DEFAULT_MS 1000
#define TOCK_RUNNER_DRAIN_DEFAULT_MS 30000
#define TOCK_RUNNER_QUEUES_MAX 64
#define TOCK_RUNNER_REPORT_BATCH 64      /* results per report call */
#define TOCK_RUNNER_BACKOFF_MS 1000      /* after a failed store call */
#define TOCK_RUNNER_STOP_EXTRA_MS 15000  /* hard deadline beyond drain_ms */
#define TOCK_RUNNER_RECHECKS 2           /* looks after a file event, 5 and
                                            25 ms later */

struct tock_runner;

/* tock_runner_report: one result as the runner reported it. */
struct tock_runner_report {
    const char *job;          /* job id, NULL when the task did not decode */
    const char *occ;          /* occurrence id */
    const char *handler;      /* NULL when the task did not decode */
    const struct tock_result *result;
    int64_t sched_ms;         /* -1 when the task did not decode */
    int rc;                   /* 0, or the store's error (not recorded) */
    enum tock_report_status status; /* how the store took it (rc == 0) */
};

typedef void (*tock_runner_result_fn)(void *ctx,
                                      const struct tock_runner_report *rep);
typedef void (*tock_runner_stop_fn)(struct tock_runner *r, int status,
                                    void *ctx);

struct tock_runner_opts {
    const char *worker_id;  /* consumer name (name policy), copied */
    const char *const *queues; /* strict priority order, copied; NULL or
                                  nqueues 0: {"default"} */
    size_t nqueues;
    int64_t lease_ms;       /* Lw; 0: TOCK_RUNNER_LEASE_DEFAULT_MS */
    int64_t poll_ms;        /* 0: TOCK_RUNNER_POLL_DEFAULT_MS */
    int64_t reclaim_ms;     /* 0: max(lease/4, poll); -1: never */
    const char *watch_path; /* database file to watch, copied; NULL: none
                               (one process: use tock_runner_kick) */
    struct tock_log *log;   /* not owned, may be NULL */
    tock_runner_result_fn on_result; /* may be NULL */
    void *ctx;
};

/* tock_runner_pool_result is the pool's result callback: create the pool
 * (before opening any store: it forks) with it as on_result. Tasks the
 * runner submits carry the runner's own user_data; the pool must not be
 * given tasks by anyone else. */
void tock_runner_pool_result(struct tock_pool *pool, void *user_data,
                             const struct tock_result *result);

/* tock_runner_new creates a runner on `loop` that uses `store` (borrowed,
 * used by this runner alone and from the threadpool, one call at a time,
 * until the runner is freed), `pool` (borrowed, created with
 * tock_runner_pool_result; it must outlive the runner's last callback:
 * free the pool, which calls back for every task, then the runner, or the
 * other way round) and `handlers` (borrowed: the registry the pool runs).
 * Options are checked here (a worker id outside the name policy, a queue
 * name outside it, a lease under TOCK_RUNNER_LEASE_MIN_MS: TOCK_EINVAL).
 * On success *out is a new runner the caller releases with
 * tock_runner_free. */
int tock_runner_new(uv_loop_t *loop, struct tock_store *store,
                    struct tock_pool *pool,
                    const struct tock_handlers *handlers,
                    const struct tock_runner_opts *opts,
                    struct tock_runner **out, struct tock_error *err);

/* tock_runner_start starts taking tasks (a reclaim and a take at once).
 * TOCK_EINVAL if already started; a watch that cannot be set up is
 * logged and left to the poll timer. */
int tock_runner_start(struct tock_runner *r, struct tock_error *err);

/* tock_runner_kick says tasks may be ready now (the firing loop in the
 * same process enqueued some). Cheap; coalesced with a take in flight. */
void tock_runner_kick(struct tock_runner *r);

/* tock_runner_stop drains as described at the top of this file and then
 * calls cb(r, status, ctx) once. TOCK_EINVAL if already stopping. */
int tock_runner_stop(struct tock_runner *r, int64_t drain_ms,
                     tock_runner_stop_fn cb, void *ctx);

/* tock_runner_held returns how many tasks the runner holds (running,
 * waiting for their report or their hand-back). */
size_t tock_runner_held(const struct tock_runner *r);

/* tock_runner_free releases `r`: its libuv handles are closed and its
 * memory freed from their close callbacks (and after a store call still
 * in flight returns), so the loop must run afterwards. Call it after the
 * stop callback, or before start; tasks still held are cancelled in the
 * pool and forgotten (their leases expire). NULL does nothing. */
void tock_runner_free(struct tock_runner *r);

/* ------------------------------------------------ helpers for programs */

/* tock_runner_default_id writes the default worker id "<host>-<pid>" into
 * buf (the host name with characters outside the name policy replaced by
 * '_'; ':' is outside it, hence '-'). TOCK_ERANGE when cap is too small
 * (TOCK_ID_MAX + 1 is always enough). */
int tock_runner_default_id(char *buf, size_t cap);

/* tock_runner_parse_queues splits the --queues value "a,b,c" (strict
 * priority order) into *out, a new array of *n new strings the caller
 * frees with tock_runner_queues_free. Each name must pass the name policy
 * and appear once: TOCK_EINVAL naming the bad one. */
int tock_runner_parse_queues(const char *list, char ***out, size_t *n,
                             struct tock_error *err);
void tock_runner_queues_free(char **queues, size_t n);

/* tock_runner_store_file returns the database file of a "sqlite:PATH"
 * store URL (pointing into `url`), the file to watch; NULL for other
 * stores. */
const char *tock_runner_store_file(const char *url);

#endif /* TOCK_WORKER_RUNNER_H */
