/* exec.h: run one task with an exec handler, synchronously, in this
 * process (a pool child: see pool.h).
 *
 * ON tock_exec_run:
 *   1. Build argv (the handler's, plus the job's args when args_as_argv)
 *      and an environment that starts EMPTY (see below). Nothing of the
 *      worker's own environment reaches the command.
 *   2. _Fork() (fork without atfork handlers); in the child: its own
 *      process group (setpgid), PR_SET_PDEATHSIG SIGKILL (if this process
 *      dies, the command dies), umask 077, every signal back to its default
 *      and unblocked, stdin /dev/null, stdout and stderr into one pipe,
 *      chdir(cwd), every other descriptor closed (close_range),
 *      execve(path). A failure before or in execve is sent back over a
 *      close-on-exec pipe and becomes an `error` result.
 *   3. Supervise with poll() on the output pipe, a pidfd of the command
 *      and the caller's control descriptors. Output is always drained, so
 *      the command never blocks on a full pipe; only the first and the last
 *      bytes are kept (see "Output").
 *   4. At the deadline (monotonic clock; the job's timeout, else the
 *      handler's): SIGTERM to the process group; after the grace period,
 *      SIGKILL to the group.
 *   5. When the command (the group leader) exits, whatever it left running
 *      in its group is killed with SIGKILL while the leader is still a
 *      zombie, so the group id cannot have been reused; then the pipe is
 *      drained for at most TOCK_EXEC_DRAIN_MS (a process that escaped the
 *      group with setsid() and kept stdout open must not hold the worker),
 *      and the leader is reaped.
 *
 * Environment of the command, in this order (a later entry never replaces
 * an earlier one of the same name except as said):
 *   PATH=/usr/local/bin:/usr/bin:/bin, HOME=<the worker user's home or />,
 *   LANG=C.UTF-8                  (each replaced by the handler's env)
 *   the handler's env             (LD_* and TOCK_* refused at load)
 *   TOCK_JOB, TOCK_OCCURRENCE_ID  (<job>@<sched_ms>, the idempotency key)
 *   TOCK_SCHEDULED                (RFC 3339 UTC with ms: 2024-05-01T12:00:00.000Z)
 *   TOCK_SCHEDULED_MS             (the same instant in ms since the epoch)
 *   TOCK_ATTEMPT, TOCK_QUEUE, TOCK_HANDLER, TOCK_WORKER
 *   TOCK_ARGS                     (the args as compact JSON, proto/json.h;
 *                                  "null" when the job has none)
 * Linux caps one environment string at 128 KiB, so args longer than that
 * as JSON give an `error` result naming the limit.
 *
 * Output: stdout and stderr share one pipe, so the excerpt keeps their
 * order. At most output_limit bytes are kept: all of it when it fits, else
 * the first half, a marker line "[tock: N bytes omitted]", and the last
 * bytes (a failing command usually says why at the end).
 *
 * The calling process must not ignore SIGCHLD (the command could not be
 * waited for); nothing here touches a libuv loop.
 */
#ifndef TOCK_WORKER_EXEC_H
#define TOCK_WORKER_EXEC_H

#include <stdint.h>

#include "proto/model.h"
#include "worker/handlers.h"

#define TOCK_EXEC_GRACE_DEFAULT_MS 5000
#define TOCK_EXEC_DRAIN_MS 250
/* Linux's MAX_ARG_STRLEN: the longest one argv or environment string. */
#define TOCK_EXEC_ARG_STRLEN_MAX (128 * 1024)

/* What the caller's control descriptor asks for. */
enum tock_exec_ctl {
    TOCK_EXEC_CONTINUE = 0, /* nothing to do */
    TOCK_EXEC_CANCEL,       /* stop it: TERM, grace, KILL; `cancelled` */
    TOCK_EXEC_ABANDON,      /* our supervisor is gone: KILL the group now */
};

struct tock_exec_opts {
    const char *worker_id;   /* copied into result.worker; required */
    int64_t kill_grace_ms;   /* SIGTERM -> SIGKILL; <= 0: the default 5 s */
    /* control_fd (or -1): when readable while the command runs,
     * on_control(ctx) is called and its answer acted on. */
    int control_fd;
    enum tock_exec_ctl (*on_control)(void *ctx);
    /* abandon_fd (or -1): readable means ABANDON, without a callback
     * (a signalfd for the parent-death signal). */
    int abandon_fd;
    /* on_started(ctx, pgid) (may be NULL) is called once the command runs,
     * with its process group id, before any output is read. */
    void (*on_started)(void *ctx, int pgid);
    void *ctx;
};

/* tock_exec_run runs `task` with handler `h` and fills *out (overwritten
 * without being freed; the caller clears it with tock_result_clear) with
 * the outcome: occ, worker, attempt, started/finished (wall clock, ms),
 * status and exit code:
 *   ok        exited 0
 *   error     exited non-zero (exit_code, "exited with status N"), or could
 *             not be started (exit_code -1, the reason in error)
 *   timeout   killed at its deadline (exit_code -1 unless it exited itself)
 *   crashed   killed by a signal it was not sent by us ("killed by signal
 *             SIGSEGV (core dumped)")
 *   cancelled stopped through control_fd / abandon_fd
 * and the output excerpt. Returns 0 whenever *out holds a result; TOCK_ENOMEM
 * when even the result could not be built (*out is then zeroed). */
int tock_exec_run(const struct tock_handler *h, const struct tock_task *task,
                  const struct tock_exec_opts *opts, struct tock_result *out);

/* tock_exec_close_from closes every descriptor >= lowfd (close_range, or a
 * loop up to RLIMIT_NOFILE where the kernel lacks it). Async-signal-safe:
 * for use between fork and exec. */
void tock_exec_close_from(int lowfd);

/* tock_exec_format_rfc3339 writes `ms` (0..TOCK_TIME_MAX_MS) as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (cap >= 25). */
void tock_exec_format_rfc3339(int64_t ms, char *buf, size_t cap);

#endif /* TOCK_WORKER_EXEC_H */
