/* pool.h: the worker pool supervisor (DESIGN.md section 7).
 *
 * A tock_pool lives in its owner's libuv loop and runs tasks in N forked
 * child processes, one task per child at a time. The owner (the firing loop
 * of `tock standalone`, or tock-worker's queue reader) takes tasks from the
 * store, submits them here, and writes back what the result callback says;
 * the pool itself never talks to a store.
 *
 *   owner ---submit(task)---> supervisor ==[socketpair, framed msgpack]==> child
 *                                                                          |
 *                                                     fork/exec handler <--'
 *   owner <--on_result(res)-- supervisor <=========== result frame ======= child
 *
 * CREATE THE POOL FIRST. tock_pool_new forks the children at once, so do it
 * before anything opens a store, a SQLite file, a socket or a thread: the
 * children then inherit nothing worth having. (They close every inherited
 * descriptor anyway, and never touch the loop or a store; a replacement
 * child forked later, after a crash, relies on exactly that, plus glibc's
 * fork-safe malloc.)
 *
 * PROCESSES AND SIGNALS.
 *   - Children ignore SIGINT, SIGTERM, SIGHUP and SIGPIPE: Ctrl-C and a
 *     group-wide SIGTERM reach the supervisor, which drains
 *     (tock_pool_shutdown); handlers run in their own process groups, so
 *     the terminal's signals never reach them.
 *   - A child that dies (any signal, any exit) is noticed through SIGCHLD
 *     (a uv_signal_t) and EOF on its socket; a task it held is reported
 *     `crashed`, the handler's process group is killed (SIGKILL) and the
 *     child is replaced at once (after a backoff of 100 ms doubling to 5 s
 *     when children keep dying within a second of starting, or fork fails).
 *   - A malformed frame from a child: the child is killed and its task is
 *     reported `crashed` with the reason.
 *   - A killed supervisor leaves no running handlers: each child sees EOF on
 *     its socket, or its parent-death signal (PR_SET_PDEATHSIG, delivered
 *     through a signalfd so that it is never missed), kills its handler's
 *     process group with SIGKILL and exits. If the child itself dies, the
 *     handler (the group leader) gets SIGKILL from its own PDEATHSIG, and
 *     the supervisor kills the rest of the group. Out of reach: processes a
 *     handler moved out of its group (setsid) while child and supervisor
 *     are both SIGKILLed at once; that needs cgroups (systemd
 *     KillMode=control-group covers it).
 *   - tock_pool_new sets SIGPIPE to SIG_IGN in the calling process when it
 *     is at its default: a write to a child that just died must fail with
 *     EPIPE, not kill the supervisor.
 *
 * CALLBACK CONTRACT (STYLE.md 7).
 *   - If tock_pool_submit returns an error, on_result is never called for
 *     that task.
 *   - on_result is called exactly once for every submitted task: with the
 *     handler's result, with `crashed` when its child died, with
 *     `cancelled` when it was cancelled (unless it finished first) or when
 *     the pool is freed while it runs.
 *   - The result passed to on_result is valid only until the callback
 *     returns; copy what you keep.
 *   - Callbacks run from the loop, never from inside a pool call. Inside
 *     one, the owner may call any pool function, tock_pool_free included
 *     (the pool is then torn down after the callback returns).
 *
 * MEMORY. The pool's memory is released from libuv close callbacks: after
 * tock_pool_free, run the loop until they have fired (uv_loop_close returns
 * UV_EBUSY before that).
 */
#ifndef TOCK_WORKER_POOL_H
#define TOCK_WORKER_POOL_H

#include <stdint.h>

#include <uv.h>

#include "proto/model.h"
#include "tock/error.h"
#include "tock/log.h"
#include "worker/handlers.h"

#define TOCK_POOL_MAX 256 /* children in one pool: above this, refuse */

struct tock_pool;

/* tock_pool_result_cb receives the outcome of one submitted task;
 * `user_data` is what tock_pool_submit was given. */
typedef void (*tock_pool_result_cb)(struct tock_pool *pool, void *user_data,
                                    const struct tock_result *result);

/* tock_pool_shutdown_cb runs once a shutdown has finished. */
typedef void (*tock_pool_shutdown_cb)(struct tock_pool *pool, void *data);

struct tock_pool_config {
    int concurrency;                      /* children: 1..TOCK_POOL_MAX */
    const struct tock_handlers *handlers; /* borrowed; must outlive the
                                             pool (children use the copy
                                             they were forked with) */
    const char *worker_id;                /* result.worker; name policy;
                                             copied */
    struct tock_log *log;                 /* borrowed; NULL: quiet */
    int64_t kill_grace_ms;                /* SIGTERM -> SIGKILL for a
                                             handler; 0: 5 s */
    void *data;                           /* the owner's; tock_pool_data */
};

/* tock_pool_new creates a pool in `loop` and forks its children. On
 * success *out is a new pool the caller frees with tock_pool_free. Errors:
 * TOCK_EINVAL (a bad config: concurrency 0 or above TOCK_POOL_MAX, no
 * handlers, a worker id against the name policy, no callback), TOCK_EAGAIN
 * (fork failed: every child already forked is killed and reaped), TOCK_EIO
 * (libuv refused a handle), TOCK_ENOMEM. On error *out is NULL and nothing
 * is left running (handles already opened close on the next uv_run). */
int tock_pool_new(uv_loop_t *loop, const struct tock_pool_config *cfg,
                  tock_pool_result_cb on_result, struct tock_pool **out,
                  struct tock_error *err);

/* tock_pool_data returns the config's `data` pointer. */
void *tock_pool_data(const struct tock_pool *pool);

/* tock_pool_idle_slots returns how many children are ready for a task now
 * (0 while shutting down). */
int tock_pool_idle_slots(const struct tock_pool *pool);

/* tock_pool_submit sends `task` (borrowed: the pool encodes it before
 * returning) to an idle child. `task_id` is the owner's handle for it
 * (unique among running tasks; tock_pool_cancel takes it), `user_data` is
 * given back to on_result. Errors, on which on_result never runs:
 * TOCK_EBUSY (no idle child: check tock_pool_idle_slots first),
 * TOCK_ENOENT (the task's handler is not configured on this worker),
 * TOCK_EEXIST (task_id is already running), TOCK_ECANCELED (the pool is
 * shutting down), the codec's errors for an invalid task, TOCK_ENOMEM. */
int tock_pool_submit(struct tock_pool *pool, const struct tock_task *task,
                     uint64_t task_id, void *user_data,
                     struct tock_error *err);

/* tock_pool_cancel stops the running task `task_id`: its child sends the
 * handler's group SIGTERM, then SIGKILL after the grace period, and the
 * result is `cancelled` (or what the handler finished with, if it finished
 * first). Used for self-fencing when the task's lease is lost. A child that
 * does not answer within grace + 2 s is killed. Returns 0 (also when a
 * cancel is already under way) or TOCK_ENOENT when no such task runs. */
int tock_pool_cancel(struct tock_pool *pool, uint64_t task_id);

/* tock_pool_task_info reports the child pid and the handler's process
 * group (0 until the handler has started) of running task `task_id`, for
 * logs and tests. Returns 0 or TOCK_ENOENT. */
int tock_pool_task_info(const struct tock_pool *pool, uint64_t task_id,
                        int *child_pid, int *handler_pgid);

/* tock_pool_shutdown stops taking tasks, waits up to `drain_ms` (relative,
 * >= 0) for the running ones, cancels those still running then, stops every
 * child, and calls cb(pool, data) from the loop once no child is left. The
 * results of the running tasks are delivered before cb. Returns 0, or
 * TOCK_EINVAL when a shutdown is already under way (cb then never runs). */
int tock_pool_shutdown(struct tock_pool *pool, int64_t drain_ms,
                       tock_pool_shutdown_cb cb, void *data);

/* tock_pool_free kills every child and handler still running (SIGKILL),
 * delivers `cancelled` for each task they held, and closes the pool's
 * handles; its memory is released from their close callbacks. NULL does
 * nothing. `pool` is invalid after this call. */
void tock_pool_free(struct tock_pool *pool);

/* tock_pool_error_result fills *out (overwritten; clear with
 * tock_result_clear) with an `error` result for a task that never ran,
 * e.g. after tock_pool_submit refused it: exit code -1, both times `now_ms`,
 * `text` as the error. Returns 0 or TOCK_ENOMEM. */
int tock_pool_error_result(const struct tock_task *task, const char *worker_id,
                           const char *text, int64_t now_ms,
                           struct tock_result *out);

#endif /* TOCK_WORKER_POOL_H */
