/* bench_store_redis.c: throughput of the Redis store's operations, and the
 * Redis commands each one costs (a benchmark program, not a test).
 *
 *   bench_store_redis [JOBS] [URL]
 *
 * Without URL it starts its own redis-server ($TOCK_REDIS_SERVER or
 * redis-server on PATH) on a free loopback port, without persistence, and
 * stops it at the end. With URL it uses that server, in the URL's
 * namespace, which must be unused (it refuses a namespace that has a meta
 * key, and leaves the keys it wrote behind); it resets that server's
 * commandstats. With JOBS one-shot jobs
 * (default 5000) all due at once it measures:
 *   put        job registrations, one function call each (tock add);
 *   fire/B     claim + commit of every job, B jobs per call (B = 1 and
 *              TOCK_CLAIM_MAX): the firing step of BENCH.md's W1;
 *   take       task_take of 256 tasks per call;
 *   report     task_report, one call per result, and task_report_many,
 *              256 results per call.
 * For each phase it also prints the Redis commands run per operation, from
 * INFO commandstats (reset before the phase): the calls made by tock
 * (FCALL) and the commands the functions ran inside Redis. Prints one line
 * per measurement.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "store/redis.h"
#include "store/store.h"

static redisContext *raw; /* for CONFIG RESETSTAT and INFO commandstats */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

_Noreturn static void die(const char *what, const struct tock_error *err)
{
    fprintf(stderr, "bench_store_redis: %s: %s\n", what, err->msg);
    exit(1);
}

/* ------------------------------------------------------ commandstats */

static void stats_reset(void)
{
    freeReplyObject(redisCommand(raw, "CONFIG RESETSTAT"));
}

/* stats_calls returns the calls of every command since the reset, in
 * *fcalls those of FCALL (the round trips tock made) and in *fcall_us the
 * mean time Redis spent in one FCALL (the time it is blocked for). */
static long stats_calls(long *fcalls, double *fcall_us)
{
    redisReply *r = redisCommand(raw, "INFO commandstats");
    long total = 0;
    const char *p;

    *fcalls = 0;
    *fcall_us = 0;
    for (p = r ? r->str : NULL; p != NULL && (p = strstr(p, "cmdstat_"));) {
        long calls = 0;
        const char *c = strstr(p, "calls=");
        bool skip = strncmp(p, "cmdstat_config|resetstat", 24) == 0 ||
                    strncmp(p, "cmdstat_info", 12) == 0;
        if (c != NULL)
            calls = atol(c + 6);
        if (strncmp(p, "cmdstat_fcall:", 14) == 0) {
            const char *u = strstr(p, "usec_per_call=");
            *fcalls = calls;
            *fcall_us = u ? atof(u + 14) : 0;
        }
        if (!skip)
            total += calls;
        p += 8;
    }
    freeReplyObject(r);
    return total;
}

static void report_line(const char *what, long n, double secs)
{
    double fcall_us;
    long fcalls, total = stats_calls(&fcalls, &fcall_us);

    printf("%-28s %8ld ops in %7.3f s = %9.0f ops/s (%6.1f us/op) "
           "%5.2f calls/op, %5.1f Redis commands/op, %7.0f us/call in "
           "Redis\n",
           what, n, secs, n / secs, secs * 1e6 / n, (double)fcalls / n,
           (double)total / n, fcall_us);
    stats_reset();
}

/* ------------------------------------------------------------- server */

static pid_t server_pid;

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* start_server runs a throw-away redis-server and returns its URL. */
static void start_server(char *url, size_t cap)
{
    const char *bin = getenv("TOCK_REDIS_SERVER");
    char port[16];
    int p = free_port();

    snprintf(port, sizeof port, "%d", p);
    server_pid = fork();
    if (server_pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(127);
        execlp(bin && *bin ? bin : "redis-server", "redis-server", "--port",
               port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--logfile", "", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && raw == NULL; i++) {
        struct timespec ts = {0, 50 * 1000000};
        redisContext *c = redisConnect("127.0.0.1", p);
        if (c != NULL && !c->err) {
            raw = c;
            break;
        }
        redisFree(c);
        nanosleep(&ts, NULL);
    }
    if (raw == NULL) {
        fprintf(stderr, "bench_store_redis: cannot start redis-server\n");
        exit(1);
    }
    snprintf(url, cap, "redis://127.0.0.1:%d?ns=bench", p);
}

/* connect_given opens the counting connection to the server of `url` and
 * refuses a namespace already in use. */
static void connect_given(const char *url)
{
    struct tock_redis_url u;
    struct tock_error err = {0};
    struct timeval tv = {5, 0};
    redisReply *r;

    if (tock_redis_url_parse(url, &u, &err) < 0)
        die("URL", &err);
    raw = u.path[0] ? redisConnectUnixWithTimeout(u.path, tv)
                    : redisConnectWithTimeout(u.host, u.port, tv);
    if (raw == NULL || raw->err) {
        fprintf(stderr, "bench_store_redis: cannot connect to %s\n", u.shown);
        exit(1);
    }
    if (u.has_pass)
        freeReplyObject(u.user[0] ? redisCommand(raw, "AUTH %s %s", u.user,
                                                 u.pass)
                                  : redisCommand(raw, "AUTH %s", u.pass));
    freeReplyObject(redisCommand(raw, "SELECT %d", u.db));
    r = redisCommand(raw, "EXISTS tock:{%s}:meta", u.ns);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != 0) {
        fprintf(stderr, "bench_store_redis: namespace %s at %s is in use (or "
                        "unreadable); pass ?ns=<an unused one>\n", u.ns,
                u.shown);
        exit(1);
    }
    freeReplyObject(r);
    tock_redis_url_wipe(&u);
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
}

/* --------------------------------------------------------------- work */

/* add_jobs registers `n` jobs named <prefix>-<i>, all due at `due`. */
static void add_jobs(struct tock_store *s, const char *prefix, long n,
                     int64_t due)
{
    struct tock_error err = {0};
    struct tock_job j;
    char id[64];

    for (long i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s-%06ld", prefix, i);
        if (tock_job_init_defaults(&j) < 0)
            exit(1);
        j.id = tock_strdup(id);
        j.handler = tock_strdup("noop");
        j.trigger = tock_strdup("date:2023-11-14T22:13:20Z");
        j.max_instances = 1;
        j.misfire_grace_ms = -1;
        if (tock_store_job_put(s, &j, due, TOCK_PUT_CREATE, 0, NULL, NULL,
                               &err) < 0)
            die("put", &err);
        tock_job_clear(&j);
    }
}

/* encode_task builds the task body of one claimed occurrence. */
static uint8_t *encode_task(const struct tock_claimed *c, int64_t now,
                            size_t *len)
{
    char occ[TOCK_OCC_MAX];
    struct tock_task t = {0};
    struct tock_error err = {0};
    uint8_t *out = NULL;

    tock_occ_format(occ, sizeof occ, c->job.id, c->sched_ms);
    t.occ = occ;
    t.job = c->job.id;
    t.handler = c->job.handler;
    t.queue = c->job.queue;
    t.sched_ms = c->sched_ms;
    t.fire_ms = now > c->sched_ms ? now : c->sched_ms;
    t.attempt = 1;
    t.max_deliveries = c->job.max_deliveries;
    if (tock_proto_encode_task(&t, &out, len, &err) < 0)
        die("encode", &err);
    return out;
}

/* fire_all claims and commits until nothing is due, `batch` per call;
 * returns the occurrences fired. */
static long fire_all(struct tock_store *s, size_t batch)
{
    struct tock_commit c[TOCK_CLAIM_MAX];
    struct tock_commit_result r[TOCK_CLAIM_MAX];
    uint8_t *body[TOCK_CLAIM_MAX];
    struct tock_claim_batch b;
    struct tock_error err = {0};
    long fired = 0;

    for (;;) {
        if (tock_store_claim(s, "bench", batch, 15000, &b, &err) < 0)
            die("claim", &err);
        if (b.n == 0)
            break;
        for (size_t i = 0; i < b.n; i++) {
            memset(&c[i], 0, sizeof c[i]);
            body[i] = encode_task(&b.items[i], b.now_ms, &c[i].task_len);
            c[i].job_id = b.items[i].job.id;
            c[i].token = b.items[i].token;
            c[i].epoch = b.items[i].epoch;
            c[i].version = b.items[i].job.version;
            c[i].sched_ms = b.items[i].sched_ms;
            c[i].decision = TOCK_DECIDE_FIRE;
            c[i].next_ms = -1;
            c[i].misfire_grace_ms = -1;
            c[i].task = body[i];
            c[i].node = "bench";
        }
        if (tock_store_commit(s, c, b.n, r, &err) < 0)
            die("commit", &err);
        for (size_t i = 0; i < b.n; i++) {
            fired += r[i].status == TOCK_COMMIT_OK;
            tock_free(body[i]);
        }
        tock_claim_batch_clear(&b);
    }
    tock_claim_batch_clear(&b);
    return fired;
}

/* report_batch reports `got` leases ok, one call each (single) or in one
 * call; returns the accepted ones. */
static long report_batch(struct tock_store *s, struct tock_task_lease *l,
                         size_t got, bool single)
{
    static struct tock_result res[TOCK_CLAIM_MAX];
    static struct tock_report rep[TOCK_CLAIM_MAX];
    static enum tock_report_status st[TOCK_CLAIM_MAX];
    struct tock_error err = {0};
    long ok = 0;

    for (size_t i = 0; i < got; i++) {
        res[i] = (struct tock_result){.occ = l[i].occ,
                                      .status = TOCK_STATUS_OK,
                                      .worker = "w1",
                                      .attempt = l[i].attempt};
        rep[i] = (struct tock_report){l[i].task_id, l[i].deliveries, &res[i]};
        if (single && tock_store_task_report(s, rep[i].task_id, "w1",
                                             rep[i].deliveries, &res[i],
                                             &st[i], &err) < 0)
            die("report", &err);
    }
    if (!single && got > 0 &&
        tock_store_task_report_many(s, "w1", rep, got, st, &err) < 0)
        die("report_many", &err);
    for (size_t i = 0; i < got; i++)
        ok += st[i] == TOCK_REPORT_OK;
    return ok;
}

/* run_tasks takes every task (256 per call) and reports each one ok: the
 * first `single` ones one per call, the rest 256 per call. Each kind is
 * measured (and its commands counted) on its own. */
static void run_tasks(struct tock_store *s, long single)
{
    const char *const q[] = {"default"};
    struct tock_task_lease *all[4096];
    size_t got[4096], nb = 0;
    struct tock_error err = {0};
    long taken = 0, n;
    double t = now_s();

    do {
        if (tock_store_task_take(s, q, 1, "w1", 256, 600000, &all[nb],
                                 &got[nb], &err) < 0)
            die("take", &err);
        taken += (long)got[nb];
    } while (got[nb++] > 0 && nb < 4096);
    report_line("take (256 per call)", taken, now_s() - t);
    t = now_s();
    n = 0;
    for (size_t i = 0; i < nb && n < single; i++)
        n += report_batch(s, all[i], got[i], true);
    report_line("report (1 per call)", n, now_s() - t);
    t = now_s();
    taken = 0;
    for (size_t i = 0, seen = 0; i < nb; i++) {
        seen += got[i];
        if (seen > (size_t)n)
            taken += report_batch(s, all[i], got[i], false);
    }
    report_line("report_many (256 per call)", taken, now_s() - t);
    for (size_t i = 0; i < nb; i++)
        tock_task_lease_list_free(all[i], got[i]);
}

int main(int argc, char **argv)
{
    long jobs = argc > 1 ? atol(argv[1]) : 5000;
    char url[300];
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    int64_t now = 0;
    double t;
    long fired, small = jobs / 10 > 0 ? jobs / 10 : 1;

    if (jobs <= 0 || jobs > 1000000) {
        fprintf(stderr, "usage: bench_store_redis [JOBS] [redis://URL]\n");
        return 2;
    }
    if (argc > 2) {
        snprintf(url, sizeof url, "%s", argv[2]);
        connect_given(url);
    } else {
        start_server(url, sizeof url);
    }
    if (tock_store_open(url, NULL, &s, &err) < 0 ||
        tock_store_now(s, &now, &err) < 0)
        die("open", &err);
    printf("redis store %s, %ld jobs\n", url, jobs);
    stats_reset();

    t = now_s();
    add_jobs(s, "b1", small, now);
    report_line("put (1 per call)", small, now_s() - t);
    t = now_s();
    fired = fire_all(s, 1);
    report_line("claim+commit, 1 per call", fired, now_s() - t);

    add_jobs(s, "bN", jobs, now);
    stats_reset();
    t = now_s();
    fired = fire_all(s, TOCK_CLAIM_MAX);
    report_line("claim+commit, 256 per call", fired, now_s() - t);

    run_tasks(s, small);
    tock_store_close(s);
    redisFree(raw);
    stop_server();
    return 0;
}
