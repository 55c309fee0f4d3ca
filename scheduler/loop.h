/* loop.h: the firing loop, a libuv object that fires every due occurrence
 * of every job in a store exactly once, together with any number of other
 * loops on the same store (other processes, other hosts).
 *
 * It lives in the caller's uv_loop_t (tock-scheduler's, or `tock
 * standalone`'s next to the worker pool) and owns a timer, an async handle
 * and, on SQLite, a file watcher. Store calls are synchronous (store.h), so
 * they run on the libuv threadpool (uv_queue_work), one at a time: the store
 * handle is used by one thread at a time, and the loop thread never blocks.
 *
 * ON a cycle (the timer reached the next due time, a wake, a change, a full
 * batch):
 *   1. claim(node nonce, batch, lease L) on the store thread; the store
 *      returns its clock `now`, the claimed jobs and the next due time.
 *   2. decide each claimed job (decide.h) on the same thread: fire or miss,
 *      coalesce, next time, task body, jitter hold.
 *   3. commit the decisions in one store call, unless more than L/2 passed
 *      on the monotonic clock since the claim started: then release them
 *      (the store's fence would refuse a late commit anyway once someone
 *      reclaimed; this just avoids the race). Held (jittered) commits are
 *      sent later, by the same timer, under the same L/2 rule.
 *   4. back on the loop thread: count and log each outcome; if the batch was
 *      full, go to 1 at once; otherwise arm the one timer for
 *      min(next due - now, held commits, task reclaim, 60 s safety cap).
 *   Step 4: because a timer armed from the store's own "next due" means no
 *   polling: nothing runs while nothing is due (0% CPU at rest).
 *
 * WAKING. The timer only knows what the store said at the last claim. A job
 * added or changed since then (by `tock add` in another process, usually) is
 * noticed in one of two ways:
 *   - tock_loop_wake(), thread-safe (uv_async): for a program that changes
 *     jobs through its own store handle;
 *   - on SQLite, a file watcher (inotify through uv_fs_event) on the
 *     database's -wal file (or its directory while there is none): every
 *     commit by any connection writes it. An event runs `PRAGMA data_version`
 *     on the store's own connection, which changes only when *another*
 *     connection committed, so the loop's own writes never wake it in a
 *     cycle; a change starts a claim. Latency: the inotify delivery plus one
 *     threadpool hop, about a millisecond.
 *
 * JITTER. The occurrence keeps its scheduled time T as its identity; the
 * fire is delayed by the jitter offset and never happens before T. The job
 * is claimed at T and the node holds the commit until the store's clock
 * reaches the jittered time. Holding a claim is bounded by the lease (the
 * commit must land well within L/2), so the hold is capped at 3/8 of the
 * lease: 5.6 s at the default 15 s lease; a larger jitter is clamped (raise
 * --lease for more). Rejected: storing the jittered time as next_fire_ms
 * (it is the occurrence's identity, and every node must agree on it).
 *
 * STORE ERRORS. A failed store call is logged once per state change
 * ("store unavailable: ...", "store available again after N ms"); the loop
 * backs off (100 ms doubling to 5 s) and retries. Nothing fires without a
 * successful commit; claims that could not be committed are retried within
 * L/2, else released, else left to lapse.
 *
 * CALLBACK CONTRACT (libuv's rules):
 *   - every function here but tock_loop_wake runs on the loop's thread;
 *   - a function that takes a callback and returns an error never calls it;
 *   - the stop callback runs exactly once, on the loop thread, after every
 *     claim the loop held was committed or released; the close callback runs
 *     exactly once, after every handle closed and the memory was freed;
 *   - tock_loop_close may be called from inside the stop callback, or at any
 *     time: a running loop is stopped first (its stop callback, if one was
 *     given, still runs first).
 *   - the outcome callback (config) runs on the loop thread; the outcome it
 *     gets is valid only until it returns.
 *
 * TEST HOOKS (built with TOCK_TEST_HOOKS): TOCK_CRASHPOINT=after_claim:abort,
 * after_claim:stop or before_commit_reply:abort makes the loop abort() or
 * raise(SIGSTOP) right after a claim that returned jobs, or right after a
 * commit was applied and before its reply is handled (RELIABILITY.md b.1).
 * TOCK_TEST_SELFCHECK=off disables the L/2 self-check, so a resumed node
 * commits late and the store's fence is what refuses it. Compiled out
 * otherwise.
 */
#ifndef TOCK_SCHEDULER_LOOP_H
#define TOCK_SCHEDULER_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "store/store.h"
#include "tock/error.h"
#include "tock/log.h"

#define TOCK_LOOP_LEASE_MS 15000        /* default claim lease L */
#define TOCK_LOOP_MAX_SLEEP_MS 60000    /* safety-net cap on one sleep */
#define TOCK_LOOP_TASK_RECLAIM_MS 5000  /* default task reclaim period */
#define TOCK_LOOP_NODE_MAX 129          /* node id bytes with the NUL */

struct tock_loop;

/* tock_loop_outcome: one committed (or refused) decision, for observers
 * (tock standalone prints them). Valid only during the callback. */
struct tock_loop_outcome {
    const char *job;
    int64_t sched_ms;
    const char *what;        /* "fired", "missed", "skipped", "stale",
                                "changed", "gone", "duplicate", "already",
                                "released", "lapsed" */
    int64_t late_ms;         /* store time of the commit - sched_ms (approx) */
    size_t n_missed;         /* older occurrences recorded missed with it */
    const char *miss_reason; /* their reason, or NULL */
    int64_t next_ms;         /* the job's next scheduled time, -1 none */
};

typedef void (*tock_loop_outcome_fn)(void *data,
                                     const struct tock_loop_outcome *o);

/* tock_loop_config: every field may be left zero for its default. */
struct tock_loop_config {
    const char *node_id;     /* NULL: "<host>-<pid>" (name policy of
                                model.h); copied */
    int64_t lease_ms;        /* claim lease L; 0: TOCK_LOOP_LEASE_MS;
                                at least 100 ms */
    size_t claim_batch;      /* jobs per claim, 1..TOCK_CLAIM_MAX; 0: max */
    int64_t max_sleep_ms;    /* cap on one sleep; 0: TOCK_LOOP_MAX_SLEEP_MS */
    int64_t task_reclaim_ms; /* task reclaim period; 0: default; -1: never */
    const char *watch_path;  /* SQLite database file to watch for changes
                                by other processes (NULL: none); copied */
    tock_loop_outcome_fn on_outcome; /* may be NULL */
    void *outcome_data;
};

/* tock_loop_stats: counters since tock_loop_new. Occurrence counters count
 * run records this node committed (a missed[] list counts each element). */
struct tock_loop_stats {
    uint64_t claims;          /* claim calls that succeeded */
    uint64_t claimed;         /* jobs claimed */
    uint64_t fired;           /* tasks dispatched */
    uint64_t missed;          /* occurrences missed past misfire_grace */
    uint64_t coalesced;       /* occurrences folded into a later fire */
    uint64_t skipped;         /* fires turned skipped (max_instances) */
    uint64_t stale;           /* commits refused: claim lost (fenced) */
    uint64_t changed;         /* commits refused: job edited since claim */
    uint64_t gone;            /* commits refused: job removed */
    uint64_t duplicate;       /* commits refused: at/before the watermark */
    uint64_t already;         /* commits already applied */
    uint64_t released;        /* claims handed back (stop, L/2) */
    uint64_t lapsed;          /* claims left to lapse (undecidable job,
                                 release failed) */
    uint64_t held;            /* commits held for jitter */
    uint64_t errors;          /* store calls that failed */
    uint64_t reclaimed;       /* expired claims our claims returned to due */
    uint64_t tasks_redelivered, tasks_dead; /* by task reclaim */
    uint64_t timer_wakeups;   /* times the loop's timer expired */
    uint64_t wakes;           /* tock_loop_wake signals handled */
    uint64_t change_events;   /* database file events seen */
    uint64_t change_checks;   /* data_version checks run */
    int64_t late_max_ms;      /* worst lateness of a fire */
    int64_t late_sum_ms;      /* sum over fires: mean = sum / fired */
};

typedef void (*tock_loop_stop_cb)(struct tock_loop *loop, int status,
                                  void *data);
typedef void (*tock_loop_close_cb)(void *data);

/* tock_loop_new creates a loop on `uv` (not owned) firing from `store`
 * (not owned: the caller closes it after the close callback ran) and
 * logging to `log` (not owned, may be NULL). It initializes its handles
 * but does nothing until tock_loop_start. On success *out is a new loop the
 * caller must end with tock_loop_close; on failure *out is NULL and `err`
 * names the problem (a bad node id, a lease under 100 ms, ...). */
int tock_loop_new(uv_loop_t *uv, struct tock_store *store,
                  struct tock_log *log, const struct tock_loop_config *cfg,
                  struct tock_loop **out, struct tock_error *err);

/* tock_loop_start begins firing: a first claim at once, then as above.
 * TOCK_EINVAL if the loop was started before. */
int tock_loop_start(struct tock_loop *loop, struct tock_error *err);

/* tock_loop_wake makes the loop claim soon (a job changed). Thread-safe and
 * async-signal-safe (uv_async_send); calls before start or during a stop do
 * nothing; never call it after tock_loop_close. */
void tock_loop_wake(struct tock_loop *loop);

/* tock_loop_stop stops firing: no new claims; claims in flight or held are
 * released at once (tock_store_release); then cb(loop, status, data) runs
 * with status 0, or the release error (those claims then lapse after the
 * lease). TOCK_EINVAL (cb never runs) when the loop is not running. */
int tock_loop_stop(struct tock_loop *loop, tock_loop_stop_cb cb, void *data);

/* tock_loop_close stops the loop if it runs, closes its handles and frees
 * it, then calls cb(data) (cb may be NULL). `loop` is invalid after this
 * call returns (its memory goes in a later close callback). */
void tock_loop_close(struct tock_loop *loop, tock_loop_close_cb cb,
                     void *data);

/* tock_loop_stats copies the counters into *out. */
void tock_loop_stats(const struct tock_loop *loop, struct tock_loop_stats *out);

/* tock_loop_node_id returns the node id (valid while the loop lives) and
 * tock_loop_nonce the claim nonce, unique per loop instance. */
const char *tock_loop_node_id(const struct tock_loop *loop);
const char *tock_loop_nonce(const struct tock_loop *loop);

/* tock_loop_watch_path returns the file to watch for store `url`
 * ("sqlite:PATH" -> PATH, as a pointer into url), or NULL for a store that
 * needs no watching (Redis wakes nodes itself). */
const char *tock_loop_watch_path(const char *url);

#endif /* TOCK_SCHEDULER_LOOP_H */
