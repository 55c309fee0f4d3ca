/* worker_main.c: tock-worker, a worker pool: takes fired tasks from the
 * store and runs them with the handlers its own configuration defines.
 *
 * ON start:
 *   1. Flags and environment (exit 2 with one line on anything off), the
 *      handler registry (--config FILE's "handlers", then each --handler),
 *      the root check (RELIABILITY.md d: refused unless --allow-root).
 *   2. The pool: it forks its children, so before anything opens the store
 *      (a SQLite connection must never cross a fork).
 *   3. The store, then the runner (worker/runner.h), then the signals.
 * ON SIGTERM, SIGINT or SIGHUP: the runner drains (--drain, default 30 s:
 *   running tasks finish and are reported; what still runs then is
 *   stopped and handed back), the pool stops its children, exit 0 (1 when
 *   a result could not be written). A second signal stops at once (exit
 *   1): running handlers are killed and their tasks are handed out again
 *   after their lease.
 *
 * Only main() may exit; everything it runs lives in libtock.
 */
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "core/flags.h"
#include "proto/model.h"
#include "store/store.h"
#include "tock/tock.h"
#include "worker/handlers.h"
#include "worker/pool.h"
#include "worker/runner.h"

#define PROG "tock-worker"
#define CONCURRENCY_DEFAULT 2

struct options {
    bool help, version, allow_root;
    const char *store, *log_level, *log_format, *queues, *config, *worker_id;
    int64_t concurrency, lease_ms, drain_ms, kill_grace_ms;
    const char *specs[TOCK_HANDLERS_MAX];
    size_t nspecs;
};

struct worker {
    uv_loop_t loop;
    uv_signal_t sigs[3]; /* SIGTERM, SIGINT, SIGHUP */
    struct tock_log *log;
    struct tock_pool *pool;
    struct tock_store *store;
    struct tock_runner *runner;
    int signals, exit_code;
    int64_t drain_ms;
    bool stopped, signals_inited;
};

static void usage(const struct tock_flag *flags, FILE *out)
{
    fprintf(out,
            "usage: " PROG " --store URL (--handler 'NAME=COMMAND [ARG...]' | "
            "--config FILE) [flags]\n\n" PROG
            " takes fired tasks from the store and runs them with the "
            "handlers its own\nconfiguration defines; a job can only name "
            "one of them.\n\nflags:\n");
    tock_flags_usage(flags, out);
}

static int add_spec(void *ctx, const char *value, struct tock_error *err)
{
    struct options *o = ctx;

    if (o->nspecs == TOCK_HANDLERS_MAX)
        return tock_error_set(err, TOCK_EINVAL,
                              "--handler given more than %d times",
                              TOCK_HANDLERS_MAX);
    o->specs[o->nspecs++] = value;
    return 0;
}

/* ------------------------------------------------------------ setup */

/* check_config_keys refuses top-level keys of the config file that no
 * reader takes: a typo ("handler") must not leave a worker without its
 * handlers silently. "jobs" is the scheduler's section of the same file. */
static int check_config_keys(const char *path, struct tock_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    const char *key;
    json_t *value;
    int rc = 0;

    if (root == NULL)
        return tock_error_set(err, TOCK_EFORMAT, "%s:%d:%d: %s", path,
                              jerr.line, jerr.column, jerr.text);
    json_object_foreach(root, key, value) {
        if (strcmp(key, "handlers") != 0 && strcmp(key, "jobs") != 0) {
            rc = tock_error_set(err, TOCK_EINVAL,
                                "%s: unknown top-level key '%.60s'; a config "
                                "file has \"handlers\" and \"jobs\"",
                                path, key);
            break;
        }
    }
    json_decref(root);
    return rc;
}

static int load_handlers(const struct options *o, struct tock_handlers *reg,
                         struct tock_error *err)
{
    size_t i;
    int rc;

    if (o->config != NULL &&
        ((rc = tock_handlers_load_file(reg, o->config, err)) != 0 ||
         (rc = check_config_keys(o->config, err)) != 0))
        return rc;
    for (i = 0; i < o->nspecs; i++)
        if ((rc = tock_handlers_add_spec(reg, o->specs[i], err)) != 0)
            return tock_error_prefix(err, "--handler");
    if (tock_handlers_count(reg) == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "no handlers configured; give --handler "
                              "'NAME=COMMAND [ARG...]' or --config FILE with "
                              "a \"handlers\" section");
    return 0;
}

static int check_root(const struct options *o, struct tock_log *log,
                      struct tock_error *err)
{
    if (geteuid() != 0)
        return 0;
    if (!o->allow_root)
        return tock_error_set(err, TOCK_EAUTH,
                              "refusing to run as root: every handler would "
                              "run as root; run as a dedicated user, or pass "
                              "--allow-root");
    tock_logf(log, TOCK_LOG_WARN, "worker",
              "running as root (--allow-root): handlers run as root too; "
              "use a dedicated user in production");
    return 0;
}

/* ------------------------------------------------------------ stopping */

static void close_signals(struct worker *w)
{
    if (!w->signals_inited)
        return;
    for (size_t i = 0; i < 3; i++)
        if (!uv_is_closing((uv_handle_t *)&w->sigs[i]))
            uv_close((uv_handle_t *)&w->sigs[i], NULL);
}

static void teardown(struct worker *w)
{
    if (w->stopped)
        return;
    w->stopped = true;
    tock_runner_free(w->runner);
    tock_pool_free(w->pool);
    close_signals(w);
}

static void on_pool_down(struct tock_pool *pool, void *data)
{
    (void)pool;
    teardown(data);
}

static void on_runner_stopped(struct tock_runner *r, int status, void *ctx)
{
    struct worker *w = ctx;

    (void)r;
    if (status != 0)
        w->exit_code = 1;
    tock_logf(w->log, TOCK_LOG_INFO, "worker", "drained; stopping the pool");
    if (tock_pool_shutdown(w->pool, 0, on_pool_down, w) != 0)
        teardown(w);
}

static const char *signame(int signum)
{
    if (signum == SIGINT)
        return "SIGINT";
    return signum == SIGHUP ? "SIGHUP" : "SIGTERM";
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct worker *w = sig->data;

    if (++w->signals > 1) {
        tock_logf(w->log, TOCK_LOG_WARN, "worker",
                  "%s again: stopping now; running tasks are handed out "
                  "again after their lease",
                  signame(signum));
        w->exit_code = 1;
        teardown(w);
        return;
    }
    tock_logf(w->log, TOCK_LOG_INFO, "worker",
              "%s: draining (%zu tasks running, up to %" PRId64 " ms)",
              signame(signum),
              tock_runner_held(w->runner), w->drain_ms);
    if (tock_runner_stop(w->runner, w->drain_ms, on_runner_stopped, w) != 0)
        teardown(w);
}

/* ------------------------------------------------------------ running */

static int start_signals(struct worker *w)
{
    static const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    size_t i;
    int rc;

    /* SIGHUP too: a closed terminal is a request to stop cleanly. */
    for (i = 0; i < 3; i++) {
        uv_signal_init(&w->loop, &w->sigs[i]);
        w->sigs[i].data = w;
    }
    w->signals_inited = true;
    for (i = 0; i < 3; i++)
        if ((rc = uv_signal_start(&w->sigs[i], on_signal,
                                  signums[i])) != 0)
            return rc;
    return 0;
}

static int run(const struct options *o, struct tock_handlers *reg,
               const char *worker_id, char **queues, size_t nqueues,
               struct worker *w, struct tock_error *err)
{
    struct tock_pool_config cfg = {0};
    struct tock_runner_opts ro = {0};
    int rc;

    cfg.concurrency = (int)o->concurrency;
    cfg.handlers = reg;
    cfg.worker_id = worker_id;
    cfg.kill_grace_ms = o->kill_grace_ms;
    cfg.log = w->log;
    /* The pool first: it forks, and nothing may be open yet. */
    if ((rc = tock_pool_new(&w->loop, &cfg, tock_runner_pool_result, &w->pool,
                            err)) != 0)
        return rc;
    if ((rc = tock_store_open(o->store, w->log, &w->store, err)) != 0)
        return rc;
    ro.worker_id = worker_id;
    ro.queues = (const char *const *)queues;
    ro.nqueues = nqueues;
    ro.lease_ms = o->lease_ms;
    ro.watch_path = tock_runner_store_file(o->store);
    ro.log = w->log;
    if ((rc = tock_runner_new(&w->loop, w->store, w->pool, reg, &ro,
                              &w->runner, err)) != 0 ||
        (rc = tock_runner_start(w->runner, err)) != 0)
        return rc;
    if ((rc = start_signals(w)) != 0)
        return tock_error_set(err, TOCK_EIO, "cannot handle signals: %s",
                              uv_strerror(rc));
    tock_logf(w->log, TOCK_LOG_INFO, "worker",
              "worker %s serving %zu queue(s) from %s with %d children and "
              "%zu handler(s)",
              worker_id, nqueues, tock_store_kind(w->store),
              cfg.concurrency, tock_handlers_count(reg));
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return 0;
}

/* exit_status maps a setup failure to the exit status: 2 for what the
 * operator gave (a bad URL, a bad handler), 1 for the rest. */
static int exit_status(int rc)
{
    switch (rc) {
    case TOCK_EINVAL:
    case TOCK_ENOENT:
    case TOCK_EEXIST:
    case TOCK_EAUTH:
    case TOCK_EFORMAT:
    case TOCK_ETYPE:
    case TOCK_ETOOBIG:
    case TOCK_EDUPKEY:
        return 2;
    }
    return 1;
}

static int parse(int argc, char **argv, struct options *o,
                 struct tock_error *err)
{
    const struct tock_flag flags[] = {
        {"store", 0, "TOCK_STORE", TOCK_FLAG_STRING, &o->store, 0, 0, NULL,
         "URL", "store: sqlite:PATH (or redis://host:port once built in)"},
        {"handler", 0, NULL, TOCK_FLAG_CALL, NULL, 0, 0, add_spec,
         "'NAME=CMD [ARG...]'",
         "a handler: its command and arguments, split on whitespace, no "
         "shell (repeatable)"},
        {"config", 0, "TOCK_CONFIG", TOCK_FLAG_STRING, &o->config, 0, 0, NULL,
         "FILE", "JSON config file; its \"handlers\" section is read"},
        {"queues", 0, "TOCK_QUEUES", TOCK_FLAG_STRING, &o->queues, 0, 0, NULL,
         "Q1,Q2", "queues to serve, highest priority first (default: default)"},
        {"concurrency", 0, "TOCK_CONCURRENCY", TOCK_FLAG_INT,
         &o->concurrency, 1, TOCK_POOL_MAX, NULL, "N",
         "tasks run at once, 1..256 (default 2)"},
        {"worker-id", 0, "TOCK_WORKER_ID", TOCK_FLAG_STRING, &o->worker_id, 0,
         0, NULL, "ID", "this worker's name (default <host>-<pid>)"},
        {"lease", 0, "TOCK_LEASE", TOCK_FLAG_DURATION, &o->lease_ms,
         TOCK_RUNNER_LEASE_MIN_MS, 3600000, NULL, "DURATION",
         "task lease, renewed every third of it (default 30s)"},
        {"kill-grace", 0, "TOCK_KILL_GRACE", TOCK_FLAG_DURATION,
         &o->kill_grace_ms, 10, 600000, NULL, "DURATION",
         "a timed-out or cancelled handler's group gets SIGTERM, then SIGKILL "
         "this much later (default 5s)"},
        {"drain", 0, "TOCK_DRAIN", TOCK_FLAG_DURATION, &o->drain_ms, 0,
         3600000, NULL, "DURATION",
         "on SIGTERM, how long running tasks may finish (default 30s)"},
        {"allow-root", 0, "TOCK_ALLOW_ROOT", TOCK_FLAG_BOOL, &o->allow_root, 0,
         0, NULL, NULL, "run even as root (handlers then run as root)"},
        {"log-level", 0, "TOCK_LOG", TOCK_FLAG_STRING, &o->log_level, 0, 0,
         NULL, "LEVEL", "debug, info, warn or error (default info)"},
        {"log-format", 0, "TOCK_LOG_FORMAT", TOCK_FLAG_STRING, &o->log_format,
         0, 0, NULL, "FORMAT", "human or json (default human)"},
        {"version", 0, NULL, TOCK_FLAG_BOOL, &o->version, 0, 0, NULL, NULL,
         "print the version and exit"},
        {"help", 'h', NULL, TOCK_FLAG_BOOL, &o->help, 0, 0, NULL, NULL,
         "show this help and exit"},
        {NULL, 0, NULL, 0, NULL, 0, 0, NULL, NULL, NULL},
    };
    int npos = 0, rc;

    o->concurrency = CONCURRENCY_DEFAULT;
    o->lease_ms = TOCK_RUNNER_LEASE_DEFAULT_MS;
    o->drain_ms = TOCK_RUNNER_DRAIN_DEFAULT_MS;
    if ((rc = tock_flags_parse(flags, argc, argv, 1, &npos, o, PROG, err)) != 0)
        return rc;
    if (o->help) {
        usage(flags, stdout);
        return 1;
    }
    if (npos > 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "unexpected argument '%.60s'; see '" PROG
                              " --help'", argv[1]);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    struct worker w = {0};
    struct tock_error err = {0};
    struct tock_handlers *reg = NULL;
    enum tock_log_level level = TOCK_LOG_INFO;
    enum tock_log_format format = TOCK_LOG_HUMAN;
    char idbuf[TOCK_ID_MAX + 1], **queues = NULL;
    size_t nqueues = 0;
    const char *worker_id;
    int rc, status = 2;

    if ((rc = parse(argc, argv, &o, &err)) != 0) {
        if (rc > 0)
            return 0; /* --help */
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    if (o.version) {
        printf(PROG " %s\n", tock_version());
        return 0;
    }
    if ((o.log_level &&
         tock_log_level_parse(o.log_level, &level, &err) != 0) ||
        (o.log_format &&
         tock_log_format_parse(o.log_format, &format, &err) != 0)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    if (o.store == NULL) {
        fprintf(stderr, PROG ": no store given; pass --store sqlite:PATH or "
                        "set TOCK_STORE\n");
        return 2;
    }
    /* The store is opened after the pool has forked; a URL that cannot
     * work is refused now, before any child exists. */
    if (strncmp(o.store, "sqlite:", 7) != 0 &&
        strncmp(o.store, "redis://", 8) != 0 &&
        strncmp(o.store, "unix://", 7) != 0) {
        fprintf(stderr, PROG ": unknown store '%.60s'; use sqlite:PATH or "
                        "redis://HOST:PORT\n", o.store);
        return 2;
    }
    worker_id = o.worker_id;
    if (worker_id == NULL) {
        tock_runner_default_id(idbuf, sizeof idbuf);
        worker_id = idbuf;
    }
    w.log = tock_log_new(2, level, format);
    reg = tock_handlers_new();
    if (w.log == NULL || reg == NULL) {
        rc = tock_error_set(&err, TOCK_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = tock_name_check(worker_id, "--worker-id", &err)) != 0 ||
        (rc = tock_runner_parse_queues(o.queues ? o.queues : TOCK_DEFAULT_QUEUE,
                                       &queues, &nqueues, &err)) != 0 ||
        (rc = load_handlers(&o, reg, &err)) != 0 ||
        (rc = check_root(&o, w.log, &err)) != 0)
        goto done;
    status = 1;
    if ((rc = uv_loop_init(&w.loop)) != 0) {
        rc = tock_error_set(&err, TOCK_EIO, "cannot start the event loop: %s",
                            uv_strerror(rc));
        goto done;
    }
    w.drain_ms = o.drain_ms;
    rc = run(&o, reg, worker_id, queues, nqueues, &w, &err);
    teardown(&w);
    uv_run(&w.loop, UV_RUN_DEFAULT); /* the close callbacks */
    tock_store_close(w.store);
    if (uv_loop_close(&w.loop) != 0) /* a handle left open: a bug */
        tock_logf(w.log, TOCK_LOG_ERROR, "worker",
                  "event loop not empty at exit (a bug in tock)");
    if (rc == 0)
        status = w.exit_code;

done:
    if (rc != 0) {
        if (status == 1)
            status = exit_status(rc);
        fprintf(stderr, PROG ": %s\n", err.msg);
    }
    tock_runner_queues_free(queues, nqueues);
    tock_handlers_free(reg);
    tock_log_free(w.log);
    return status;
}
