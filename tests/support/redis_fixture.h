/* redis_fixture.h: a real redis-server per test, on a free loopback port.
 *
 * Every Redis test of tock runs against a real Debian redis-server started by
 * this fixture, never a mock. Each fixture owns:
 *   - a fresh temp directory (tock_test_tmpdir) holding redis.conf, redis.log
 *     (redis's log plus its stdout/stderr), the AOF directory and users.acl;
 *   - one redis-server child in its own process group, bound to 127.0.0.1
 *     only, on a port found by binding port 0 (retried if another process
 *     takes the port before redis binds it).
 *
 * Lifecycle: _start → (_pause/_resume, _kill, _stop, _restart)* → _free.
 * _kill and _stop leave the directory and port reserved in the handle, so
 * _restart brings the server back on the same data (the AOF survives when
 * opts.aof was set).
 *
 * Leftover servers. A test must never leave a redis-server behind, even when
 * it fails in a way that skips _free:
 *   - the child sets PR_SET_PDEATHSIG(SIGKILL), so it dies with the test
 *     process, including on SIGKILL of the test (timeout). PDEATHSIG follows
 *     the *thread* that forked: start fixtures from the main thread (or a
 *     thread that outlives them), never from a short-lived one;
 *   - every live pid is in a small process-wide registry; an atexit hook (a
 *     failing cmocka assertion longjmps past _free, then main returns) and
 *     handlers for SIGABRT, SIGSEGV, SIGTERM and SIGINT SIGKILL them, print
 *     one line to stderr, then let the signal take its previous course.
 *     Forked children inherit the registry but only ever kill servers they
 *     started themselves.
 * The temp directory of a leaked fixture is kept, for its logs and AOF.
 *
 * Errors: functions return 0 or a negative TOCK_E* code and fill `err` (may
 * be NULL) with a one-line message; start failures include the tail of
 * redis.log. Not thread-safe: one test thread drives a fixture.
 */
#ifndef TOCK_TEST_REDIS_FIXTURE_H
#define TOCK_TEST_REDIS_FIXTURE_H

#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "tock/error.h"

/* Default server binary, overridden by $TOCK_REDIS_SERVER. */
#define TOCK_REDIS_SERVER_DEFAULT "/usr/bin/redis-server"

/* tock_redis_opts: how to configure a fixture. A zeroed struct (or NULL
 * opts) gives AOF off, noeviction, no password, a 10 s start timeout.
 * Strings are copied or written out during _start: the caller keeps
 * ownership and may free them afterwards. */
struct tock_redis_opts {
    int aof;                      /* 1: appendonly yes */
    const char *appendfsync;      /* "always", "everysec" (NULL) or "no" */
    const char *maxmemory_policy; /* NULL: "noeviction" */
    const char *requirepass;      /* NULL: none */
    const char *acl;              /* contents of an ACL file, written to
                                   * <dir>/users.acl and loaded with aclfile */
    const char *auth_user;        /* user the fixture itself AUTHs as (with */
    const char *auth_pass;        /* acl); NULL: default user + requirepass */
    const char *const *extra_conf; /* NULL-terminated redis.conf lines */
    const char *ld_preload;       /* LD_PRELOAD for redis-server, or NULL */
    const char *const *env;       /* NULL-terminated "NAME=value" entries
                                   * added to (or replacing) the environment */
    int start_timeout_ms;         /* ready within this; 0: 10000 */
};

struct tock_redis_fixture;

/* tock_redis_fixture_start writes a redis.conf into a new temp directory,
 * starts redis-server on a free loopback port and waits until that server
 * (checked by pid) answers and has finished loading (INFO loading:0).
 * On success *out is a new fixture the caller frees with
 * tock_redis_fixture_free. On failure *out is NULL, nothing is left running
 * and no directory is left behind. Errors: TOCK_EINVAL (bad option),
 * TOCK_ENOENT (no redis-server), TOCK_ECONN (redis exited), TOCK_ETIMEDOUT,
 * TOCK_EIO, TOCK_ENOMEM, TOCK_EBUSY (too many live fixtures). */
int tock_redis_fixture_start(const struct tock_redis_opts *opts,
                             struct tock_redis_fixture **out,
                             struct tock_error *err);

/* tock_redis_fixture_stop sends SIGTERM (and SIGCONT if paused), waits up to
 * 5 s, then SIGKILLs the process group, and reaps the server. Doing nothing
 * when no server runs. The directory and port stay with the handle. */
int tock_redis_fixture_stop(struct tock_redis_fixture *fx,
                            struct tock_error *err);

/* tock_redis_fixture_kill SIGKILLs the server's process group and reaps it:
 * a crash. Data not yet fsynced to the AOF is lost, as in a real crash. */
int tock_redis_fixture_kill(struct tock_redis_fixture *fx,
                            struct tock_error *err);

/* tock_redis_fixture_pause SIGSTOPs the server's process group and returns
 * once the server is stopped: connections still open (the kernel accepts),
 * but nothing is answered. _resume sends SIGCONT. */
int tock_redis_fixture_pause(struct tock_redis_fixture *fx,
                             struct tock_error *err);
int tock_redis_fixture_resume(struct tock_redis_fixture *fx,
                              struct tock_error *err);

/* tock_redis_fixture_restart stops a running server (gracefully, as _stop)
 * and starts redis-server again with the same redis.conf, directory and
 * port, waiting until it is ready. TOCK_EBUSY if another process took the
 * port meanwhile. */
int tock_redis_fixture_restart(struct tock_redis_fixture *fx,
                               struct tock_error *err);

/* tock_redis_fixture_free stops the server if it runs, removes the temp
 * directory and frees the handle, which is invalid after this call.
 * _free(NULL) does nothing. */
void tock_redis_fixture_free(struct tock_redis_fixture *fx);

/* Accessors. Strings are owned by the fixture and valid until _free. */
int tock_redis_fixture_port(const struct tock_redis_fixture *fx);
const char *tock_redis_fixture_host(const struct tock_redis_fixture *fx);
/* tock_redis_fixture_pid returns the server pid, 0 when none runs. */
pid_t tock_redis_fixture_pid(const struct tock_redis_fixture *fx);
const char *tock_redis_fixture_dir(const struct tock_redis_fixture *fx);
/* tock_redis_fixture_url returns "redis://127.0.0.1:PORT" (no credentials). */
const char *tock_redis_fixture_url(const struct tock_redis_fixture *fx);

/* tock_redis_fixture_connect opens a blocking hiredis connection with
 * `timeout_ms` for connect and for every command (0: 2000), AUTHenticated
 * as the fixture is. Returns a new context the caller frees with redisFree,
 * or NULL with `err` set (TOCK_ECONN, TOCK_EAUTH, TOCK_ENOMEM). */
redisContext *tock_redis_fixture_connect(const struct tock_redis_fixture *fx,
                                         int timeout_ms,
                                         struct tock_error *err);

/* tock_redis_fixture_server returns the redis-server path the fixture runs:
 * $TOCK_REDIS_SERVER if set and non-empty, else the Debian default. */
const char *tock_redis_fixture_server(void);

/* tock_redis_fixture_require, called at the top of a cmocka test, skips the
 * test with a one-line message when redis-server is not installed, and
 * fails it instead when $CI is set: CI installs redis-server, so a missing
 * one there is a broken setup, not a reason to pass silently. */
void tock_redis_fixture_require(void);

#endif /* TOCK_TEST_REDIS_FIXTURE_H */
