/* proc.h: child processes for tests that can never outlive the test.
 *
 * Tests start real programs (redis-server now; tock-scheduler and
 * tock-worker in the integration and fault tests) and crash, pause and
 * restart them by pid. This module spawns them so that none is left behind:
 *
 *   1. the child gets PR_SET_PDEATHSIG(SIGKILL), checked against getppid()
 *      afterwards to close the race with a parent that died during fork(),
 *      so a test killed by SIGKILL (a ctest timeout) takes its children
 *      along. PDEATHSIG fires when the *forking thread* exits: spawn from
 *      the main thread, or a thread that outlives the child;
 *   2. the child leads its own process group (so a terminal's ^C does not
 *      reach it, and signals here go to the group: it and any helper it
 *      forks);
 *   3. every live pid is recorded in a fixed process-wide registry. An
 *      atexit hook and handlers for SIGABRT, SIGSEGV, SIGTERM and SIGINT
 *      SIGKILL the recorded groups, write one line to stderr and let the
 *      signal take its previous course. A failing cmocka assertion
 *      longjmps past the test's cleanup; the atexit hook catches that.
 *      Entries record the process that spawned them, so a fork()ed test
 *      child never kills its parent's servers.
 *
 * A pid stays in the registry until it is reaped through this module, and
 * is removed *before* the reaping waitpid (after waitid(WNOWAIT) saw it
 * exit), so a handler can never signal a recycled pid.
 *
 * Functions return 0 or a negative TOCK_E* code with `err` (may be NULL)
 * set. They are for tests: not thread-safe, one thread drives a child.
 */
#ifndef TOCK_TEST_PROC_H
#define TOCK_TEST_PROC_H

#include <sys/types.h>

#include "tock/error.h"

/* Most children one test process may have running at a time. */
#define TOCK_PROC_MAX 64

/* tock_proc_spec: what to run. Pointers are borrowed for the call only. */
struct tock_proc_spec {
    const char *path;     /* executable, run with execve (no PATH search) */
    char *const *argv;    /* NULL-terminated, argv[0] included */
    char *const *envp;    /* NULL-terminated; NULL: this process's environ */
    const char *cwd;      /* NULL: inherit */
    const char *log_path; /* stdout and stderr appended here; NULL: inherit */
};

/* tock_proc_spawn forks and execs `spec` as described above: stdin from
 * /dev/null, every inherited fd above 2 closed, signal mask cleared. It
 * returns once execve succeeded (a CLOEXEC pipe reports exec failures
 * as TOCK_ENOENT / TOCK_EIO with the errno text). *pid is the child, which
 * the caller ends with tock_proc_stop or tock_proc_kill, or reaps with
 * tock_proc_wait. TOCK_EBUSY when TOCK_PROC_MAX children are live. */
int tock_proc_spawn(const struct tock_proc_spec *spec, pid_t *pid,
                    struct tock_error *err);

/* tock_proc_wait waits up to `timeout_ms` (0: just check, <0: forever)
 * for `pid` to exit, then reaps it. Returns 0 with *status (may be NULL)
 * set as by waitpid, or TOCK_ETIMEDOUT with the child still running. */
int tock_proc_wait(pid_t pid, int timeout_ms, int *status,
                   struct tock_error *err);

/* tock_proc_kill SIGKILLs the process group of `pid` and reaps `pid`. */
int tock_proc_kill(pid_t pid, struct tock_error *err);

/* tock_proc_stop sends SIGTERM then SIGCONT to the group (a stopped child
 * must run to handle SIGTERM), waits up to `grace_ms`, then does
 * tock_proc_kill. *status (may be NULL) is the reaped status. */
int tock_proc_stop(pid_t pid, int grace_ms, int *status,
                   struct tock_error *err);

/* tock_proc_pause SIGSTOPs the group and waits (up to 5 s) until `pid` is
 * seen stopped. TOCK_ECONN if it exited instead (it is then still
 * unreaped: end it with tock_proc_wait or tock_proc_kill).
 * tock_proc_resume sends SIGCONT to the group. */
int tock_proc_pause(pid_t pid, struct tock_error *err);
int tock_proc_resume(pid_t pid, struct tock_error *err);

/* tock_proc_env_new returns a new NULL-terminated environment: this
 * process's environ with every entry of `extra` ("NAME=value", NULL-
 * terminated, may be NULL) added, replacing a same-named entry. The caller
 * frees it with tock_proc_env_free. NULL on OOM or an entry without '='. */
char **tock_proc_env_new(const char *const *extra);
void tock_proc_env_free(char **envp);

/* tock_proc_kill_all SIGKILLs every registered child spawned by this
 * process, without reaping, and returns how many. Async-signal-safe: it is
 * what the atexit hook and the signal handlers run. */
int tock_proc_kill_all(void);

/* tock_proc_count returns how many children this process spawned that
 * are not yet reaped. */
int tock_proc_count(void);

#endif /* TOCK_TEST_PROC_H */
