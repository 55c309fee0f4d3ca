/* scheduler_main.c: tock-scheduler, a scheduler node: fires every due
 * occurrence of every job exactly once, however many nodes share the store.
 *
 * ON start: 1. parse flags (exit 2 on bad input); 2. open the store (exit 1
 * when it cannot be opened: the message names the file and the fix); 3. run
 * the firing loop (scheduler/loop.h) in a libuv loop until SIGTERM or
 * SIGINT.
 * ON SIGTERM/SIGINT: 1. stop claiming; 2. release the claims in hand (other
 * nodes take them at once); 3. close everything; exit 0. A second signal
 * while draining is logged and otherwise ignored: the drain takes at most
 * one store round trip.
 *
 * Only main() may exit; everything it runs lives in libtock.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "core/flags.h"
#include "scheduler/loop.h"
#include "store/store.h"
#include "tock/tock.h"

#define PROG "tock-scheduler"
#define LOGC "scheduler"
#define UNSET (-2)

struct options {
    bool help, version;
    const char *store, *node_id, *log_level, *log_format;
    int64_t lease_ms, claim_batch, task_reclaim_ms;
};

/* daemon: what the signal and loop callbacks share. */
struct daemon {
    struct tock_log *log;
    struct tock_loop *loop;
    uv_signal_t sigterm, sigint;
    struct tock_loop_stats stats;
    bool stopping;
};

static void usage(const struct tock_flag *flags, FILE *out)
{
    fprintf(out,
            "usage: " PROG " --store URL [flags]\n\n" PROG
            " is a scheduler node: it fires every due occurrence of\n"
            "every job in the store exactly once, together with any other "
            "nodes on\nthe same store. On SQLite the fired tasks wait in "
            "the store's queue for\ntock-worker. SIGTERM or SIGINT: "
            "release what it holds and exit 0.\n\nflags:\n");
    tock_flags_usage(flags, out);
}

/* ----------------------------------------------------------- shutdown */

static void on_loop_closed(void *data)
{
    (void)data; /* the signal handles close alongside; uv_run then returns */
}

static void on_stopped(struct tock_loop *loop, int status, void *data)
{
    struct daemon *d = data;

    if (status != 0)
        tock_logf(d->log, TOCK_LOG_WARN, LOGC,
                  "some claims could not be released (%s); they return to "
                  "other nodes when their lease ends", tock_strerror(status));
    tock_loop_stats(loop, &d->stats);
    tock_loop_close(loop, on_loop_closed, d);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;

    if (d->stopping) {
        tock_logf(d->log, TOCK_LOG_INFO, LOGC,
                  "received %s again; still releasing claims",
                  signum == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
    d->stopping = true;
    tock_logf(d->log, TOCK_LOG_INFO, LOGC, "received %s; stopping",
              signum == SIGTERM ? "SIGTERM" : "SIGINT");
    if (tock_loop_stop(d->loop, on_stopped, d) != 0)
        on_stopped(d->loop, 0, d);
}

/* ---------------------------------------------------------------- run */

static int start_signals(uv_loop_t *uv, struct daemon *d)
{
    int rc;

    uv_signal_init(uv, &d->sigterm);
    uv_signal_init(uv, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    rc = uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    if (rc == 0)
        rc = uv_signal_start(&d->sigint, on_signal, SIGINT);
    return rc;
}

static void log_totals(struct daemon *d)
{
    const struct tock_loop_stats *s = &d->stats;

    tock_logf(d->log, TOCK_LOG_INFO, LOGC,
              "exiting: fired %" PRIu64 ", missed %" PRIu64 ", coalesced %"
              PRIu64 ", skipped %" PRIu64 ", refused %" PRIu64
              " (stale %" PRIu64 ", changed %" PRIu64 "), store errors %"
              PRIu64 ", worst lateness %" PRId64 " ms",
              s->fired, s->missed, s->coalesced, s->skipped,
              s->stale + s->changed + s->gone + s->duplicate, s->stale,
              s->changed, s->errors, s->late_max_ms);
}

/* run opens the store and runs the loop until a signal drains it. */
static int run(const struct options *o, struct tock_log *log)
{
    struct tock_loop_config cfg = {0};
    struct tock_store *store = NULL;
    struct tock_error err = {0};
    struct daemon d = {.log = log};
    uv_loop_t uv;
    int rc;

    rc = tock_store_open(o->store, log, &store, &err);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return rc == TOCK_EINVAL ? 2 : 1; /* a bad URL is bad input */
    }
    cfg.node_id = o->node_id;
    cfg.lease_ms = o->lease_ms != UNSET ? o->lease_ms : 0;
    cfg.claim_batch = o->claim_batch != UNSET ? (size_t)o->claim_batch : 0;
    cfg.task_reclaim_ms = o->task_reclaim_ms == UNSET ? 0
                          : o->task_reclaim_ms == 0   ? -1
                                                      : o->task_reclaim_ms;
    cfg.watch_path = tock_loop_watch_path(o->store);
    uv_loop_init(&uv);
    rc = tock_loop_new(&uv, store, log, &cfg, &d.loop, &err);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        uv_loop_close(&uv);
        tock_store_close(store);
        return 2;
    }
    if ((rc = start_signals(&uv, &d)) != 0 ||
        (rc = tock_loop_start(d.loop, &err)) != 0) {
        fprintf(stderr, PROG ": cannot start: %s\n",
                err.msg[0] ? err.msg : uv_strerror(rc));
        d.stopping = true;
        tock_loop_close(d.loop, on_loop_closed, &d);
        uv_close((uv_handle_t *)&d.sigterm, NULL);
        uv_close((uv_handle_t *)&d.sigint, NULL);
        uv_run(&uv, UV_RUN_DEFAULT);
        uv_loop_close(&uv);
        tock_store_close(store);
        return 1;
    }
    uv_run(&uv, UV_RUN_DEFAULT);
    log_totals(&d);
    rc = uv_loop_close(&uv) == 0 ? 0 : 1;
    tock_store_close(store);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o = {.lease_ms = UNSET, .claim_batch = UNSET,
                        .task_reclaim_ms = UNSET};
    const struct tock_flag flags[] = {
        {"store", 0, "TOCK_STORE", TOCK_FLAG_STRING, &o.store, 0, 0, NULL,
         "URL", "store: sqlite:PATH or redis://[user:pass@]host:port[/db]"},
        {"node-id", 0, "TOCK_NODE_ID", TOCK_FLAG_STRING, &o.node_id, 0, 0,
         NULL, "ID", "this node's name in run records and logs (default "
         "<host>-<pid>)"},
        {"lease", 0, "TOCK_LEASE", TOCK_FLAG_DURATION, &o.lease_ms, 100,
         24LL * 3600 * 1000, NULL, "DURATION",
         "claim lease: how long a claim of a crashed node blocks its jobs "
         "(default 15s)"},
        {"claim-batch", 0, "TOCK_CLAIM_BATCH", TOCK_FLAG_INT, &o.claim_batch,
         1, TOCK_CLAIM_MAX, NULL, "N", "jobs claimed per store round trip "
         "(default 256)"},
        {"task-reclaim", 0, "TOCK_TASK_RECLAIM", TOCK_FLAG_DURATION,
         &o.task_reclaim_ms, 0, 3600LL * 1000, NULL, "DURATION",
         "how often to requeue tasks of silent workers (default 5s; 0s: "
         "never)"},
        {"log-level", 0, "TOCK_LOG", TOCK_FLAG_STRING, &o.log_level, 0, 0,
         NULL, "LEVEL", "debug, info, warn or error (default info)"},
        {"log-format", 0, "TOCK_LOG_FORMAT", TOCK_FLAG_STRING, &o.log_format,
         0, 0, NULL, "FORMAT", "human or json (default human)"},
        {"version", 0, NULL, TOCK_FLAG_BOOL, &o.version, 0, 0, NULL, NULL,
         "print the version and exit"},
        {"help", 'h', NULL, TOCK_FLAG_BOOL, &o.help, 0, 0, NULL, NULL,
         "show this help and exit"},
        {NULL, 0, NULL, 0, NULL, 0, 0, NULL, NULL, NULL},
    };
    struct tock_error err = {0};
    enum tock_log_level level = TOCK_LOG_INFO;
    enum tock_log_format format = TOCK_LOG_HUMAN;
    struct tock_log *log;
    int npos = 0, rc;

    if (tock_flags_parse(flags, argc, argv, 1, &npos, NULL, PROG, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    if (o.help) {
        usage(flags, stdout);
        return 0;
    }
    if (o.version) {
        printf(PROG " %s\n", tock_version());
        return 0;
    }
    if (npos > 0) {
        fprintf(stderr, PROG ": unexpected argument '%.60s'; see '" PROG
                        " --help'\n", argv[1]);
        return 2;
    }
    if ((o.log_level && tock_log_level_parse(o.log_level, &level, &err) != 0) ||
        (o.log_format &&
         tock_log_format_parse(o.log_format, &format, &err) != 0)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    if (o.store == NULL) {
        fprintf(stderr, PROG ": no store given; pass --store sqlite:PATH (or "
                        "redis://host:port) or set TOCK_STORE\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    log = tock_log_new(2, level, format);
    if (log == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    rc = run(&o, log);
    tock_log_free(log);
    return rc;
}
