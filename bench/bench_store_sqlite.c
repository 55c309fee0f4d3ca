/* bench_store_sqlite.c: throughput of the SQLite store's operations on one
 * file (a benchmark program, not a test).
 *
 *   bench_store_sqlite [JOBS] [DIR]
 *
 * With JOBS one-shot jobs (default 5000) all due at once, in a fresh file
 * under DIR (default $TMPDIR or /tmp), it measures:
 *   put        job registrations, one transaction each (tock add);
 *   fire/B     claim + commit of every job, B jobs per transaction
 *              (B = 1 and TOCK_CLAIM_MAX), the firing step of W1;
 *   take       task_take of 256 tasks per transaction;
 *   report     task_report, one transaction per result, and
 *              task_report_many, 256 results per transaction.
 * Every write transaction is durable (synchronous=FULL: one fsync of the
 * WAL each), so the figures depend on the disk; the fsync count per
 * operation is the thing to compare. Prints one line per measurement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

_Noreturn static void die(const char *what, const struct tock_error *err)
{
    fprintf(stderr, "bench_store_sqlite: %s: %s\n", what, err->msg);
    exit(1);
}

static void report_line(const char *what, long n, double secs)
{
    printf("%-28s %8ld ops in %7.3f s = %9.0f ops/s (%.1f us/op)\n", what, n,
           secs, n / secs, secs * 1e6 / n);
}

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

/* run_tasks takes every task (256 per call) and reports each one ok:
 * the first `single` one per transaction, the rest 256 per transaction. */
static void run_tasks(struct tock_store *s, long single)
{
    const char *const q[] = {"default"};
    struct tock_task_lease *l = NULL;
    struct tock_error err = {0};
    static struct tock_result res[TOCK_CLAIM_MAX];
    static struct tock_report rep[TOCK_CLAIM_MAX];
    static enum tock_report_status st[TOCK_CLAIM_MAX];
    double take_s = 0, one_s = 0, many_s = 0, t;
    long taken = 0, one = 0, many = 0;
    size_t got;

    do {
        t = now_s();
        if (tock_store_task_take(s, q, 1, "w1", 256, 60000, &l, &got, &err) < 0)
            die("take", &err);
        take_s += now_s() - t;
        taken += (long)got;
        for (size_t i = 0; i < got; i++) {
            res[i] = (struct tock_result){.occ = l[i].occ,
                                          .status = TOCK_STATUS_OK,
                                          .worker = "w1",
                                          .attempt = l[i].attempt};
            rep[i] = (struct tock_report){l[i].task_id, l[i].deliveries,
                                          &res[i]};
        }
        t = now_s();
        if (one < single) {
            for (size_t i = 0; i < got; i++) {
                if (tock_store_task_report(s, rep[i].task_id, "w1",
                                           rep[i].deliveries, &res[i], &st[i],
                                           &err) < 0)
                    die("report", &err);
                one += st[i] == TOCK_REPORT_OK;
            }
            one_s += now_s() - t;
        } else if (got > 0) {
            if (tock_store_task_report_many(s, "w1", rep, got, st, &err) < 0)
                die("report_many", &err);
            for (size_t i = 0; i < got; i++)
                many += st[i] == TOCK_REPORT_OK;
            many_s += now_s() - t;
        }
        tock_task_lease_list_free(l, got);
    } while (got > 0);
    report_line("take (256 per txn)", taken, take_s);
    report_line("report (1 per txn)", one, one_s);
    report_line("report_many (256 per txn)", many, many_s);
}

int main(int argc, char **argv)
{
    long jobs = argc > 1 ? atol(argv[1]) : 5000;
    const char *base = argc > 2 ? argv[2] : getenv("TMPDIR");
    char dir[512], url[600];
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    int64_t now = 0;
    double t;
    long fired, small = jobs / 10 > 0 ? jobs / 10 : 1;

    snprintf(dir, sizeof dir, "%s/tock-bench-XXXXXX", base ? base : "/tmp");
    if (jobs <= 0 || mkdtemp(dir) == NULL) {
        fprintf(stderr, "usage: bench_store_sqlite [JOBS>0] [DIR]\n");
        return 2;
    }
    snprintf(url, sizeof url, "sqlite:%s/bench.db", dir);
    if (tock_store_open(url, NULL, &s, &err) < 0 ||
        tock_store_now(s, &now, &err) < 0)
        die("open", &err);
    printf("sqlite store %s, %ld jobs\n", url, jobs);

    t = now_s();
    add_jobs(s, "b1", small, now);
    report_line("put (1 per txn)", small, now_s() - t);
    t = now_s();
    fired = fire_all(s, 1);
    report_line("claim+commit, 1 per txn", fired, now_s() - t);

    add_jobs(s, "bN", jobs, now);
    t = now_s();
    fired = fire_all(s, TOCK_CLAIM_MAX);
    report_line("claim+commit, 256 per txn", fired, now_s() - t);

    run_tasks(s, small);
    tock_store_close(s);
    snprintf(url, sizeof url, "rm -rf '%s'", dir);
    return system(url) == 0 ? 0 : 1;
}
