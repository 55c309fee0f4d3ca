/* cmd_standalone.c: `tock standalone`, the scheduler and the worker pool in
 * one process tree on a SQLite file.
 *
 * ON start:
 *   1. Flags, the handlers (--config FILE's "handlers", then each
 *      --handler), the jobs of --config (scheduler/jobspec.h): everything
 *      is checked before anything is opened, so a bad file changes nothing
 *      and exits 2 with one line.
 *   2. The pool (worker/pool.h): it forks its children, so before any
 *      store connection exists (a SQLite connection must never cross a
 *      fork).
 *   3. Two store handles: one for the firing loop, one for the runner
 *      (each does its store calls on the libuv threadpool, one at a time
 *      per handle; SQLite serialises the writers with BEGIN IMMEDIATE).
 *   4. The config's jobs are applied (scheduler/apply.h: an idempotent
 *      upsert; a restart with the same file changes nothing and the jobs
 *      go on where they were).
 *   5. The firing loop (scheduler/loop.h) and the runner
 *      (worker/runner.h) start in one uv loop. Each firing the loop
 *      commits is printed and kicks the runner; each result the runner
 *      reports is printed.
 * ON SIGINT, SIGTERM or SIGHUP: the firing loop stops (its claims
 *   released), the runner drains (--drain), the pool stops its children,
 *   exit 0. A second signal stops at once (exit 1).
 *
 * Output: one line per firing and per result on stdout, local time,
 * aligned; with --json one JSON object per line. Logs go to stderr.
 */
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/escape.h"
#include "core/flags.h"
#include "proto/model.h"
#include "scheduler/apply.h"
#include "scheduler/jobspec.h"
#include "scheduler/loop.h"
#include "store/store.h"
#include "tock/tock.h"
#include "worker/handlers.h"
#include "worker/pool.h"
#include "worker/runner.h"

#define PROG "tock standalone"
#define CONCURRENCY_DEFAULT 2
#define OUTPUT_SHOWN 100 /* bytes of a result's output shown on its line */

struct options {
    bool help, json, allow_root;
    const char *store, *config, *queues, *worker_id, *log_level, *log_format;
    int64_t concurrency, lease_ms, drain_ms, kill_grace_ms;
    const char *specs[TOCK_HANDLERS_MAX];
    size_t nspecs;
};

struct standalone {
    uv_loop_t loop;
    uv_signal_t sigs[3]; /* SIGTERM, SIGINT, SIGHUP */
    bool signals_inited, torn_down, loop_stopped, runner_stopped;
    struct tock_log *log;
    struct tock_pool *pool;
    struct tock_store *fire_store, *run_store;
    struct tock_loop *fire;
    struct tock_runner *runner;
    bool json;
    int idw;               /* width of the job column */
    char applied[160];     /* what the apply did, for the start line */
    int signals, exit_code;
    int64_t drain_ms;
};

/* ------------------------------------------------------------ printing */

/* local_time writes `ms` as local "HH:MM:SS.mmm" into buf (cap >= 16). */
static void local_time(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || localtime_r(&secs, &tm) == NULL) {
        snprintf(buf, cap, "-");
        return;
    }
    snprintf(buf, cap, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min,
             tm.tm_sec, (int)(ms % 1000));
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* first_line writes the escaped first non-empty line of the output
 * excerpt (at most OUTPUT_SHOWN bytes of it) into buf. */
static void first_line(const uint8_t *out, size_t len, char *buf, size_t cap)
{
    const char *s = (const char *)out, *nl;
    size_t n;

    buf[0] = '\0';
    while (len > 0 && (*s == '\n' || *s == '\r')) {
        s++;
        len--;
    }
    if (len == 0)
        return;
    nl = memchr(s, '\n', len);
    n = nl != NULL ? (size_t)(nl - s) : len;
    if (n > OUTPUT_SHOWN)
        n = OUTPUT_SHOWN;
    tock_escape_line(buf, cap, s, n);
}

static void print_json(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);

    if (text != NULL) {
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text); /* jansson's allocator */
    }
    json_decref(obj);
}

static void on_outcome(void *data, const struct tock_loop_outcome *o)
{
    struct standalone *sa = data;
    char when[32], sched[32], next[32], occ[TOCK_OCC_MAX];
    bool fired = strcmp(o->what, "fired") == 0;
    int64_t now;

    if (fired)
        tock_runner_kick(sa->runner);
    if (!fired && strcmp(o->what, "missed") != 0 &&
        strcmp(o->what, "skipped") != 0 && o->n_missed == 0)
        return; /* fencing outcomes are the loop's business: it logs them */
    tock_occ_format(occ, sizeof occ, o->job, o->sched_ms);
    if (sa->json) {
        print_json(json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s?}",
                             "event", o->what, "job", o->job, "occurrence",
                             occ, "scheduled", (json_int_t)o->sched_ms,
                             "late_ms", (json_int_t)o->late_ms, "next",
                             (json_int_t)o->next_ms, "missed_before",
                             (json_int_t)o->n_missed, "miss_reason",
                             o->miss_reason));
        return;
    }
    now = now_ms();
    local_time(now, when, sizeof when);
    local_time(o->sched_ms, sched, sizeof sched);
    local_time(o->next_ms, next, sizeof next);
    if (o->n_missed > 0)
        printf("%s  %-8s %-*s %zu earlier occurrence(s) not run (%s)\n", when,
               "missed", sa->idw, o->job, o->n_missed,
               o->miss_reason != NULL ? o->miss_reason : "missed");
    if (fired)
        /* lateness as this line shows it: the time printed minus the
         * scheduled time (same host clock; the JSON form has the loop's
         * own measure on the store's clock) */
        printf("%s  %-8s %-*s scheduled %s (+%" PRId64 " ms)  next %s\n",
               when, "fired", sa->idw, o->job, sched, now - o->sched_ms, next);
    else if (strcmp(o->what, "missed") == 0 || strcmp(o->what, "skipped") == 0)
        printf("%s  %-8s %-*s scheduled %s (%s)\n", when, o->what, sa->idw,
               o->job, sched,
               o->what[0] == 'm' ? "past its misfire_grace"
                                 : "max_instances already running");
}

static void print_result_json(const struct tock_runner_report *rep)
{
    const struct tock_result *res = rep->result;
    json_t *obj = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:i, s:I, s:I, s:i}",
                            "event", "result", "job", rep->job, "occurrence",
                            rep->occ, "status", tock_status_name(res->status),
                            "worker", res->worker, "attempt", res->attempt,
                            "started", (json_int_t)res->started_ms,
                            "finished", (json_int_t)res->finished_ms,
                            "exit_code", res->exit_code);
    char buf[TOCK_OUTPUT_MAX];

    if (obj == NULL)
        return;
    if (rep->sched_ms >= 0)
        json_object_set_new(obj, "scheduled", json_integer(rep->sched_ms));
    if (res->error != NULL)
        json_object_set_new(obj, "error", json_string(res->error));
    if (res->output_len > 0) {
        tock_escape_line(buf, sizeof buf, (const char *)res->output,
                         res->output_len);
        json_object_set_new(obj, "output", json_string(buf));
    }
    if (rep->rc != 0)
        json_object_set_new(obj, "recorded", json_false());
    print_json(obj);
}

static void on_result(void *ctx, const struct tock_runner_report *rep)
{
    struct standalone *sa = ctx;
    const struct tock_result *res = rep->result;
    char when[32], sched[32], detail[OUTPUT_SHOWN * 4 + 8], code[24] = "";
    const char *job = rep->job != NULL ? rep->job : rep->occ;

    if (sa->json) {
        print_result_json(rep);
        return;
    }
    local_time(now_ms(), when, sizeof when);
    local_time(rep->sched_ms, sched, sizeof sched);
    if (res->error != NULL)
        tock_escape_line(detail, sizeof detail, res->error,
                         strnlen(res->error, OUTPUT_SHOWN));
    else
        first_line(res->output, res->output_len, detail, sizeof detail);
    if (res->exit_code >= 0)
        snprintf(code, sizeof code, ", exit %d", res->exit_code);
    printf("%s  %-8s %-*s scheduled %s  ran %" PRId64 " ms%s%s%s%s\n", when,
           tock_status_name(res->status), sa->idw, job, sched,
           res->finished_ms - res->started_ms, code, detail[0] ? ": " : "",
           detail, rep->rc != 0 ? "  (NOT recorded: see the log)" : "");
}

/* say prints a line about standalone itself (started, stopping,
 * stopped) on stdout, with the events, so a person sees it in order. */
static void say(const struct standalone *sa, const char *event,
                const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void say(const struct standalone *sa, const char *event,
                const char *fmt, ...)
{
    char text[512], when[32];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (sa->json) {
        print_json(json_pack("{s:s, s:I, s:s}", "event", event, "ts",
                             (json_int_t)now_ms(), "detail", text));
        return;
    }
    local_time(now_ms(), when, sizeof when);
    printf("%s  %s\n", when, text);
}

/* ------------------------------------------------------------ stopping */

static void close_signals(struct standalone *sa)
{
    if (!sa->signals_inited)
        return;
    for (size_t i = 0; i < 3; i++)
        if (!uv_is_closing((uv_handle_t *)&sa->sigs[i]))
            uv_close((uv_handle_t *)&sa->sigs[i], NULL);
}

static void teardown(struct standalone *sa)
{
    if (sa->torn_down)
        return;
    sa->torn_down = true;
    if (sa->fire != NULL)
        tock_loop_close(sa->fire, NULL, NULL);
    sa->fire = NULL;
    tock_runner_free(sa->runner);
    tock_pool_free(sa->pool);
    close_signals(sa);
}

static void on_pool_down(struct tock_pool *pool, void *data)
{
    (void)pool;
    teardown(data);
}

static void maybe_stop_pool(struct standalone *sa)
{
    if (!sa->loop_stopped || !sa->runner_stopped || sa->torn_down)
        return;
    if (tock_pool_shutdown(sa->pool, 0, on_pool_down, sa) != 0)
        teardown(sa);
}

static void on_loop_stopped(struct tock_loop *l, int status, void *data)
{
    struct standalone *sa = data;

    (void)l;
    if (status != 0)
        sa->exit_code = 1;
    sa->loop_stopped = true;
    maybe_stop_pool(sa);
}

static void on_runner_stopped(struct tock_runner *r, int status, void *ctx)
{
    struct standalone *sa = ctx;

    (void)r;
    if (status != 0)
        sa->exit_code = 1;
    sa->runner_stopped = true;
    maybe_stop_pool(sa);
}

static const char *signame(int signum)
{
    if (signum == SIGINT)
        return "SIGINT";
    return signum == SIGHUP ? "SIGHUP" : "SIGTERM";
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct standalone *sa = sig->data;
    const char *name = signame(signum);

    if (++sa->signals > 1) {
        tock_logf(sa->log, TOCK_LOG_WARN, "standalone",
                  "%s again: stopping now; running tasks are handed out "
                  "again after their lease", name);
        sa->exit_code = 1;
        teardown(sa);
        return;
    }
    say(sa, "stopping",
        "%s: stopping; %zu task(s) running get up to %" PRId64
        " ms to finish (Ctrl-C again stops at once)",
        name, tock_runner_held(sa->runner), sa->drain_ms);
    if (tock_loop_stop(sa->fire, on_loop_stopped, sa) != 0)
        sa->loop_stopped = true;
    if (tock_runner_stop(sa->runner, sa->drain_ms, on_runner_stopped, sa) != 0)
        sa->runner_stopped = true;
    maybe_stop_pool(sa);
}

/* ------------------------------------------------------------ setup */

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

static int load_config(const struct options *o, struct tock_handlers *reg,
                       struct tock_jobspec_set *jobs, struct tock_error *err)
{
    size_t i;
    int rc;

    if (o->config != NULL &&
        ((rc = tock_jobspec_load_file(o->config, jobs, err)) != 0 ||
         (rc = tock_handlers_load_file(reg, o->config, err)) != 0))
        return rc;
    for (i = 0; i < o->nspecs; i++)
        if ((rc = tock_handlers_add_spec(reg, o->specs[i], err)) != 0)
            return tock_error_prefix(err, "--handler");
    if (tock_handlers_count(reg) == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "no handlers configured; give --config FILE "
                              "with a \"handlers\" section, or --handler "
                              "'NAME=COMMAND [ARG...]'");
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
    tock_logf(log, TOCK_LOG_WARN, "standalone",
              "running as root (--allow-root): handlers run as root too; "
              "use a dedicated user in production");
    return 0;
}

/* serve_queues decides the queues the runner serves: --queues when given,
 * else "default" and every queue a stored job names (jobs added later on a
 * new queue are served after a restart, or with --queues). */
static int serve_queues(const struct options *o, struct tock_store *s,
                        char ***queues, size_t *n, struct tock_error *err)
{
    struct tock_job_state *list = NULL;
    size_t njobs = 0, i, j, count = 1;
    char **q = NULL;
    int rc;

    if (o->queues != NULL)
        return tock_runner_parse_queues(o->queues, queues, n, err);
    if ((rc = tock_store_job_list(s, &list, &njobs, err)) != 0)
        return rc;
    q = tock_calloc(njobs + 1, sizeof *q);
    if (q == NULL || (q[0] = tock_strdup(TOCK_DEFAULT_QUEUE)) == NULL) {
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < njobs && count < TOCK_RUNNER_QUEUES_MAX; i++) {
        for (j = 0; j < count; j++)
            if (strcmp(q[j], list[i].job.queue) == 0)
                break;
        if (j < count)
            continue;
        if ((q[count] = tock_strdup(list[i].job.queue)) == NULL) {
            rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
            goto done;
        }
        count++;
    }
    *queues = q;
    *n = count;
    q = NULL;
done:
    tock_runner_queues_free(q, njobs + 1);
    tock_job_state_list_free(list, njobs);
    return rc;
}

static int apply_jobs(struct standalone *sa,
                      const struct tock_jobspec_set *jobs,
                      struct tock_error *err)
{
    struct tock_apply_report rep = {0};
    size_t i;
    int rc;

    for (i = 0; i < jobs->n; i++) {
        int w = (int)strlen(jobs->jobs[i].job.id);

        if (w > sa->idw)
            sa->idw = w > 40 ? 40 : w;
    }
    if (!jobs->has_jobs)
        return 0;
    rc = tock_apply(sa->fire_store, jobs->jobs, jobs->n, 0, &rep, err);
    if (rc == 0)
        snprintf(sa->applied, sizeof sa->applied,
                 "%zu job(s) from the config: %zu added, %zu changed, %zu "
                 "unchanged; ", jobs->n, rep.added, rep.changed, rep.unchanged);
    tock_apply_report_clear(&rep);
    return rc;
}

static int start_signals(struct standalone *sa)
{
    static const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    size_t i;
    int rc;

    /* SIGHUP too: a closed terminal is a request to stop cleanly. */
    for (i = 0; i < 3; i++) {
        uv_signal_init(&sa->loop, &sa->sigs[i]);
        sa->sigs[i].data = sa;
    }
    sa->signals_inited = true;
    for (i = 0; i < 3; i++)
        if ((rc = uv_signal_start(&sa->sigs[i], on_signal,
                                  signums[i])) != 0)
            return rc;
    return 0;
}

static int start_parts(struct standalone *sa, const struct options *o,
                       const struct tock_handlers *reg, const char *worker_id,
                       struct tock_error *err)
{
    struct tock_loop_config lc = {0};
    struct tock_runner_opts ro = {0};
    char **queues = NULL;
    size_t nqueues = 0;
    int rc;

    if ((rc = serve_queues(o, sa->run_store, &queues, &nqueues, err)) != 0)
        return rc;
    lc.node_id = worker_id;
    lc.watch_path = tock_loop_watch_path(o->store);
    lc.on_outcome = on_outcome;
    lc.outcome_data = sa;
    ro.worker_id = worker_id;
    ro.queues = (const char *const *)queues;
    ro.nqueues = nqueues;
    ro.lease_ms = o->lease_ms;
    ro.reclaim_ms = -1; /* the firing loop reclaims tasks too */
    /* Another process (tock add, a second standalone) may enqueue tasks
     * on the same file: watch it too. */
    ro.watch_path = tock_runner_store_file(o->store);
    ro.log = sa->log;
    ro.on_result = on_result;
    ro.ctx = sa;
    rc = tock_runner_new(&sa->loop, sa->run_store, sa->pool, reg, &ro,
                         &sa->runner, err);
    tock_runner_queues_free(queues, nqueues);
    if (rc != 0 ||
        (rc = tock_loop_new(&sa->loop, sa->fire_store, sa->log, &lc, &sa->fire,
                            err)) != 0 ||
        (rc = tock_runner_start(sa->runner, err)) != 0 ||
        (rc = tock_loop_start(sa->fire, err)) != 0)
        return rc;
    if ((rc = start_signals(sa)) != 0)
        return tock_error_set(err, TOCK_EIO, "cannot handle signals: %s",
                              uv_strerror(rc));
    return 0;
}

static int run(struct standalone *sa, const struct options *o,
               const struct tock_handlers *reg,
               const struct tock_jobspec_set *jobs, const char *worker_id,
               struct tock_error *err)
{
    struct tock_pool_config cfg = {0};
    int rc;

    cfg.concurrency = (int)o->concurrency;
    cfg.handlers = reg;
    cfg.worker_id = worker_id;
    cfg.kill_grace_ms = o->kill_grace_ms;
    cfg.log = sa->log;
    /* The pool first: it forks, and no store connection may exist yet. */
    if ((rc = tock_pool_new(&sa->loop, &cfg, tock_runner_pool_result,
                            &sa->pool, err)) != 0 ||
        (rc = tock_store_open(o->store, sa->log, &sa->fire_store, err)) != 0 ||
        (rc = tock_store_open(o->store, sa->log, &sa->run_store, err)) != 0 ||
        (rc = apply_jobs(sa, jobs, err)) != 0 ||
        (rc = start_parts(sa, o, reg, worker_id, err)) != 0)
        return rc;
    say(sa, "started",
        "tock standalone on %s: %s%zu handler(s), %d worker process(es) as "
        "%s; Ctrl-C stops", o->store, sa->applied, tock_handlers_count(reg),
        cfg.concurrency, worker_id);
    uv_run(&sa->loop, UV_RUN_DEFAULT);
    say(sa, "stopped", "stopped");
    return 0;
}

/* ------------------------------------------------------------ main */

static void usage(const struct tock_flag *flags, FILE *out)
{
    fprintf(out,
            "usage: tock standalone --store sqlite:PATH [--config FILE] "
            "[--handler 'NAME=CMD [ARG...]'] [flags]\n\n"
            "Runs the scheduler and a worker pool in one process tree on a "
            "SQLite file:\napplies the config file's jobs, fires them, runs "
            "them with the configured\nhandlers and prints each firing and "
            "each result, until Ctrl-C.\n\nflags:\n");
    tock_flags_usage(flags, out);
}

static int parse(int argc, char **argv, struct options *o,
                 struct tock_error *err)
{
    const struct tock_flag flags[] = {
        {"store", 0, "TOCK_STORE", TOCK_FLAG_STRING, &o->store, 0, 0, NULL,
         "URL", "the store: sqlite:PATH (created 0600 if missing)"},
        {"config", 0, "TOCK_CONFIG", TOCK_FLAG_STRING, &o->config, 0, 0, NULL,
         "FILE", "JSON config: \"handlers\" and \"jobs\" (applied at start)"},
        {"handler", 0, NULL, TOCK_FLAG_CALL, NULL, 0, 0, add_spec,
         "'NAME=CMD [ARG...]'",
         "a handler: its command and arguments, split on whitespace, no "
         "shell (repeatable)"},
        {"concurrency", 0, "TOCK_CONCURRENCY", TOCK_FLAG_INT,
         &o->concurrency, 1, TOCK_POOL_MAX, NULL, "N",
         "tasks run at once, 1..256 (default 2)"},
        {"queues", 0, "TOCK_QUEUES", TOCK_FLAG_STRING, &o->queues, 0, 0, NULL,
         "Q1,Q2", "queues to serve, highest priority first (default: every "
         "queue a job names)"},
        {"worker-id", 0, "TOCK_WORKER_ID", TOCK_FLAG_STRING, &o->worker_id, 0,
         0, NULL, "ID", "node and worker name (default <host>-<pid>)"},
        {"lease", 0, "TOCK_LEASE", TOCK_FLAG_DURATION, &o->lease_ms,
         TOCK_RUNNER_LEASE_MIN_MS, 3600000, NULL, "DURATION",
         "task lease, renewed every third of it (default 30s)"},
        {"kill-grace", 0, "TOCK_KILL_GRACE", TOCK_FLAG_DURATION,
         &o->kill_grace_ms, 10, 600000, NULL, "DURATION",
         "a timed-out or cancelled handler's group gets SIGTERM, then SIGKILL "
         "this much later (default 5s)"},
        {"drain", 0, "TOCK_DRAIN", TOCK_FLAG_DURATION, &o->drain_ms, 0,
         3600000, NULL, "DURATION",
         "on Ctrl-C, how long running tasks may finish (default 30s)"},
        {"json", 0, NULL, TOCK_FLAG_BOOL, &o->json, 0, 0, NULL, NULL,
         "print firings and results as JSON lines"},
        {"allow-root", 0, "TOCK_ALLOW_ROOT", TOCK_FLAG_BOOL, &o->allow_root, 0,
         0, NULL, NULL, "run even as root (handlers then run as root)"},
        {"log-level", 0, "TOCK_LOG", TOCK_FLAG_STRING, &o->log_level, 0, 0,
         NULL, "LEVEL", "debug, info, warn or error (default warn: stdout "
         "shows each firing and result)"},
        {"log-format", 0, "TOCK_LOG_FORMAT", TOCK_FLAG_STRING, &o->log_format,
         0, 0, NULL, "FORMAT", "human or json (default human)"},
        {"help", 'h', NULL, TOCK_FLAG_BOOL, &o->help, 0, 0, NULL, NULL,
         "show this help"},
        {NULL, 0, NULL, 0, NULL, 0, 0, NULL, NULL, NULL},
    };
    int npos = 0, rc;

    o->concurrency = CONCURRENCY_DEFAULT;
    o->lease_ms = TOCK_RUNNER_LEASE_DEFAULT_MS;
    o->drain_ms = TOCK_RUNNER_DRAIN_DEFAULT_MS;
    if ((rc = tock_flags_parse(flags, argc, argv, 1, &npos, o,
                               "tock standalone", err)) != 0)
        return rc;
    if (o->help) {
        usage(flags, stdout);
        return 1;
    }
    if (npos > 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "standalone: unexpected argument '%.60s'; see "
                              "'tock standalone --help'", argv[1]);
    if (o->store == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "standalone: no store given; pass --store "
                              "sqlite:PATH or set TOCK_STORE");
    if (strncmp(o->store, "sqlite:", 7) != 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "standalone: --store must be sqlite:PATH (a "
                              "Redis cluster runs tock-scheduler and "
                              "tock-worker)");
    return 0;
}

/* exit_status: 2 for what the operator gave (a bad flag, file, handler,
 * URL), 1 for the rest (the store locked or unreachable, ...). */
static int exit_status(int rc)
{
    switch (rc) {
    case TOCK_EINVAL: case TOCK_ENOENT: case TOCK_EEXIST: case TOCK_EAUTH:
    case TOCK_EFORMAT: case TOCK_ETYPE: case TOCK_ETOOBIG: case TOCK_EDUPKEY:
    case TOCK_EMISSING: case TOCK_ERANGE: case TOCK_EUTF8: case TOCK_ENOTIME:
        return TOCK_EXIT_USAGE;
    }
    return TOCK_EXIT_FAIL;
}

static int prepare(struct options *o, struct standalone *sa,
                   struct tock_handlers *reg, struct tock_jobspec_set *jobs,
                   char *idbuf, size_t idcap, const char **worker_id,
                   struct tock_error *err)
{
    /* warn: stdout already tells each firing and result; the firing
     * loop's info lines would say it all twice. */
    enum tock_log_level level = TOCK_LOG_WARN;
    enum tock_log_format format = TOCK_LOG_HUMAN;
    int rc;

    if ((o->log_level && (rc = tock_log_level_parse(o->log_level, &level,
                                                    err)) != 0) ||
        (o->log_format && (rc = tock_log_format_parse(o->log_format, &format,
                                                      err)) != 0))
        return rc;
    sa->log = tock_log_new(2, level, format);
    if (sa->log == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    *worker_id = o->worker_id;
    if (*worker_id == NULL) {
        tock_runner_default_id(idbuf, idcap);
        *worker_id = idbuf;
    }
    if ((rc = tock_name_check(*worker_id, "--worker-id", err)) != 0 ||
        (rc = load_config(o, reg, jobs, err)) != 0 ||
        (rc = check_root(o, sa->log, err)) != 0)
        return rc;
    sa->json = o->json;
    sa->drain_ms = o->drain_ms;
    sa->idw = 8;
    return 0;
}

int tock_cmd_standalone(int argc, char **argv)
{
    struct options o = {0};
    struct standalone sa = {0};
    struct tock_error err = {0};
    struct tock_jobspec_set jobs = {0};
    struct tock_handlers *reg = tock_handlers_new();
    char idbuf[TOCK_ID_MAX + 1];
    const char *worker_id = NULL;
    int rc, status = TOCK_EXIT_USAGE;

    if (reg == NULL)
        return tock_cli_fail(TOCK_EXIT_FAIL, "out of memory");
    rc = parse(argc, argv, &o, &err);
    if (rc > 0) {
        tock_handlers_free(reg);
        return TOCK_EXIT_OK; /* --help */
    }
    if (rc == 0)
        rc = prepare(&o, &sa, reg, &jobs, idbuf, sizeof idbuf, &worker_id,
                     &err);
    if (rc != 0)
        goto done;
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line as it happens, even piped */
    status = TOCK_EXIT_FAIL;
    if ((rc = uv_loop_init(&sa.loop)) != 0) {
        rc = tock_error_set(&err, TOCK_EIO, "cannot start the event loop: %s",
                            uv_strerror(rc));
        goto done;
    }
    rc = run(&sa, &o, reg, &jobs, worker_id, &err);
    teardown(&sa);
    uv_run(&sa.loop, UV_RUN_DEFAULT); /* the close callbacks */
    tock_store_close(sa.fire_store);
    tock_store_close(sa.run_store);
    if (uv_loop_close(&sa.loop) != 0) /* a handle left open: a bug */
        tock_logf(sa.log, TOCK_LOG_ERROR, "standalone",
                  "event loop not empty at exit (a bug in tock)");
    if (rc == 0)
        status = sa.exit_code;
done:
    if (rc != 0) {
        status = status == TOCK_EXIT_USAGE ? TOCK_EXIT_USAGE : exit_status(rc);
        tock_cli_fail(status, "%s", err.msg);
    }
    tock_jobspec_set_clear(&jobs);
    tock_handlers_free(reg);
    tock_log_free(sa.log);
    return status;
}
