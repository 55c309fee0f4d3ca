/* fault_harness.c: the fault tests' harness (see fault_harness.h). */
#include "fault_harness.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "proc.h"
#include "proto/model.h"
#include "scheduler/tz.h"
#include "store/redis.h"
#include "support.h"

#define NS "tock:{default}:"
#define QUIESCE_MAX_MS 30000
#define STOP_GRACE_MS 10000

/* ------------------------------------------------------------ time, rng */

int64_t tock_fault_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tock_fault_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tock_fault_sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (ms > 0 && nanosleep(&ts, &ts) != 0)
        ;
}

/* splitmix64 over a counter: any seed works, the sequence is the seed's. */
int64_t tock_fault_rand(struct tock_fault *f, int64_t lo, int64_t hi)
{
    uint64_t x = (f->rng += 0x9e3779b97f4a7c15ULL);

    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return hi <= lo ? lo : lo + (int64_t)(x % (uint64_t)(hi - lo + 1));
}

static int64_t env_int(const char *name, int64_t dflt, int64_t lo, int64_t hi)
{
    const char *v = getenv(name);
    char *end = NULL;
    long long n;

    if (v == NULL || *v == '\0')
        return dflt;
    n = strtoll(v, &end, 10);
    if (*end != '\0' || n < lo || n > hi)
        fail_msg("%s='%s' is not a number in %" PRId64 "..%" PRId64, name, v,
                 lo, hi);
    return n;
}

/* ------------------------------------------------------------ verdicts */

void tock_fault_log(struct tock_fault *f, const char *fmt, ...)
{
    char text[300];
    va_list ap;
    int64_t now = tock_fault_wall_ms();

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (f->flog != NULL) {
        fprintf(f->flog, "fault %s wall_ms=%" PRId64 "\n", text, now);
        fflush(f->flog);
    }
    fprintf(stderr, "[%s +%" PRId64 " ms] %s\n", f->name,
            tock_fault_mono_ms() - f->mono0, text);
}

void tock_fault_fail(struct tock_fault *f, const char *fmt, ...)
{
    char text[sizeof f->first_failure];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (f->failures++ == 0)
        snprintf(f->first_failure, sizeof f->first_failure, "%s", text);
    tock_fault_log(f, "CHECK FAILED: %s", text);
}

void tock_fault_proof(struct tock_fault *f, const char *name, uint64_t value)
{
    if (f->nproofs < TOCK_FAULT_PROOFS) {
        f->proof[f->nproofs].name = name;
        f->proof[f->nproofs++].value = value;
    }
    if (value == 0)
        tock_fault_fail(f, "run invalid: proof counter '%s' is 0 (the fault "
                           "never took effect)", name);
}

/* ------------------------------------------------------------ setup */

static void put_job(struct tock_fault *f, const char *id, const char *trig,
                    int64_t next_ms, bool coalesce)
{
    struct tock_job j;
    struct tock_error err = {0};
    enum tock_put_outcome o;

    assert_int_equal(tock_job_init_defaults(&j), 0);
    j.id = tock_strdup(id);
    j.handler = tock_strdup("h");
    j.trigger = tock_strdup(trig);
    assert_true(j.id != NULL && j.handler != NULL && j.trigger != NULL);
    j.misfire_grace_ms = TOCK_FAULT_GRACE_MS;
    j.coalesce = coalesce;
    j.max_instances = TOCK_MAX_INSTANCES_MAX; /* no worker drains them */
    assert_tock_ok(tock_store_job_put(f->s, &j, next_ms, TOCK_PUT_CREATE, 0,
                                      &o, NULL, &err), &err);
    tock_job_clear(&j);
}

void tock_fault_declare(struct tock_fault *f, const char *job,
                        int64_t first_ms, int64_t period_ms)
{
    int rc = tock_hist_expect(f->hist, job, first_ms, period_ms,
                              period_ms > 0 ? TOCK_HIST_OPEN : first_ms);

    if (rc != 0)
        fail_msg("cannot declare job %s: %s", job, tock_strerror(rc));
}

void tock_fault_setup(struct tock_fault *f, const char *name,
                      int64_t fault_ms)
{
    struct tock_redis_opts o = {.aof = 1, .appendfsync = "always"};
    struct tock_error err = {0};
    char path[700];

    memset(f, 0, sizeof *f);
    tock_redis_fixture_require();
    f->name = name;
    f->mono0 = tock_fault_mono_ms();
    f->scale = (int)env_int("TOCK_FAULT_SCALE", 1, 1, 100);
    f->seed = (uint64_t)env_int("TOCK_FAULT_SEED",
                                (tock_fault_wall_ms() ^ getpid()) & 0xffffffff,
                                0, INT64_MAX);
    f->rng = f->seed;
    f->fault_ms = fault_ms * f->scale;
    assert_tock_ok(tock_redis_fixture_start(&o, &f->rx, &err), &err);
    snprintf(f->dir, sizeof f->dir, "%s", tock_redis_fixture_dir(f->rx));
    snprintf(f->url, sizeof f->url, "%s", tock_redis_fixture_url(f->rx));
    snprintf(path, sizeof path, "%s/nodes", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/faults.log", f->dir);
    assert_non_null(f->flog = fopen(path, "a"));
    assert_tock_ok(tock_store_open(f->url, NULL, &f->s, &err), &err);
    assert_int_equal(tock_hist_new(&f->hist), 0);
    for (int i = 0; i < TOCK_FAULT_NODES; i++)
        snprintf(f->node[i].name, sizeof f->node[i].name, "n%d", i + 1);
    tock_fault_log(f, "scenario %s: seed %" PRIu64 " (replay with "
                   "TOCK_FAULT_SEED=%" PRIu64 "), scale %d, fault period %"
                   PRId64 " ms, lease %d ms, misfire_grace %d ms, dir %s",
                   name, f->seed, f->seed, f->scale, f->fault_ms,
                   TOCK_FAULT_LEASE_MS, TOCK_FAULT_GRACE_MS, f->dir);
}

void tock_fault_workload(struct tock_fault *f, int n_interval, int n_cron,
                         int n_date, int64_t warmup_ms)
{
    char id[32], trig[128], at[64];
    int64_t first, t;

    f->t0_ms = tock_fault_redis_now(f);
    first = f->t0_ms + 1500; /* the nodes are up by then */
    for (int i = 0; i < n_interval; i++) {
        t = first + (int64_t)i * 1000 / n_interval; /* distinct anchors */
        tock_time_format(t, NULL, at, sizeof at);
        snprintf(id, sizeof id, "iv%03d", i);
        snprintf(trig, sizeof trig, "interval:1000ms@%s", at);
        put_job(f, id, trig, t, i % 2 == 1);
        tock_fault_declare(f, id, t, 1000);
    }
    t = (first + 1999) / 2000 * 2000; /* the first even second */
    for (int i = 0; i < n_cron; i++) {
        snprintf(id, sizeof id, "cr%02d", i);
        put_job(f, id, "cron:*/2 * * * * *", t, true);
        tock_fault_declare(f, id, t, 2000);
    }
    for (int i = 0; i < n_date; i++) {
        t = first + warmup_ms + (2 * i + 1) * f->fault_ms / (2 * n_date);
        tock_time_format(t, NULL, at, sizeof at);
        snprintf(id, sizeof id, "at%02d", i);
        snprintf(trig, sizeof trig, "date:%s", at);
        put_job(f, id, trig, t, true);
        tock_fault_declare(f, id, t, 0);
    }
    tock_fault_log(f, "workload: %d interval jobs every 1 s, %d cron */2 s, "
                   "%d date jobs; first occurrence at %" PRId64,
                   n_interval, n_cron, n_date, first);
}

int64_t tock_fault_redis_now(struct tock_fault *f)
{
    struct tock_error err = {0};
    int64_t now = 0, until = tock_fault_mono_ms() + 10000;

    while (tock_store_now(f->s, &now, &err) != 0) {
        if (tock_fault_mono_ms() > until)
            fail_msg("Redis TIME: %s", err.msg);
        tock_fault_sleep_ms(100);
    }
    return now;
}

/* ------------------------------------------------------------- nodes */

void tock_fault_node_start(struct tock_fault *f, int i, const char *crash)
{
    struct tock_fault_node *n = &f->node[i];
    char log[700], crashenv[80], lease[32];
    const char *extra[TOCK_FAULT_ENV_MAX + 2];
    char *argv[] = {(char *)tock_test_binary("tock-scheduler"),
                    "--store", f->url, "--node-id", n->id,
                    "--lease", lease, "--log-level", "info", NULL};
    struct tock_proc_spec spec = {0};
    struct tock_error err = {0};
    char **env;
    size_t k = 0;

    n->incarnation++;
    snprintf(n->id, sizeof n->id, "n%d-r%03d", i + 1, n->incarnation);
    snprintf(n->crash, sizeof n->crash, "%s", crash != NULL ? crash : "");
    snprintf(lease, sizeof lease, "%dms", TOCK_FAULT_LEASE_MS);
    snprintf(log, sizeof log, "%s/nodes/%s.log", f->dir, n->id);
    /* Always set: an inherited crash point must not leak into a node. */
    snprintf(crashenv, sizeof crashenv, "TOCK_CRASHPOINT=%s", n->crash);
    extra[k++] = crashenv;
    for (size_t e = 0; e < TOCK_FAULT_ENV_MAX && n->env[e] != NULL; e++)
        extra[k++] = n->env[e];
    extra[k] = NULL;
    assert_non_null(env = tock_proc_env_new(extra));
    spec.path = argv[0];
    spec.argv = argv;
    spec.envp = env;
    spec.log_path = log;
    n->started_wall_ms = tock_fault_wall_ms();
    assert_tock_ok(tock_proc_spawn(&spec, &n->pid, &err), &err);
    tock_proc_env_free(env);
    n->paused = false;
    tock_fault_log(f, "start %s pid %d%s%s", n->id, (int)n->pid,
                   crash != NULL ? " crashpoint " : "",
                   crash != NULL ? crash : "");
}

void tock_fault_node_kill(struct tock_fault *f, int i)
{
    struct tock_fault_node *n = &f->node[i];
    struct tock_error err = {0};

    tock_fault_log(f, "kill -9 %s", n->id);
    assert_tock_ok(tock_proc_kill(n->pid, &err), &err);
    n->pid = 0;
    n->paused = false;
}

void tock_fault_node_stop(struct tock_fault *f, int i)
{
    struct tock_fault_node *n = &f->node[i];
    struct tock_error err = {0};
    int st = 0;

    tock_fault_log(f, "SIGTERM %s", n->id);
    if (tock_proc_stop(n->pid, STOP_GRACE_MS, &st, &err) != 0)
        tock_fault_fail(f, "stopping %s: %s", n->id, err.msg);
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        tock_fault_fail(f, "node %s did not exit 0 on SIGTERM (wait status "
                           "0x%x)", n->id, st);
    n->pid = 0;
    n->paused = false;
}

bool tock_fault_node_exited(struct tock_fault *f, int i, int *status)
{
    struct tock_fault_node *n = &f->node[i];

    if (n->pid == 0 || tock_proc_wait(n->pid, 0, status, NULL) != 0)
        return false;
    n->pid = 0;
    return true;
}

bool tock_fault_node_self_stopped(struct tock_fault *f, int i)
{
    char path[64], buf[512];
    const char *p;
    FILE *fp;
    size_t len;

    if (f->node[i].pid == 0)
        return false;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)f->node[i].pid);
    if ((fp = fopen(path, "r")) == NULL)
        return false;
    len = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[len] = '\0';
    p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
}

void tock_fault_node_pause(struct tock_fault *f, int i)
{
    struct tock_error err = {0};

    tock_fault_log(f, "SIGSTOP %s", f->node[i].id);
    assert_tock_ok(tock_proc_pause(f->node[i].pid, &err), &err);
    f->node[i].paused = true;
}

void tock_fault_node_resume(struct tock_fault *f, int i)
{
    struct tock_error err = {0};

    tock_fault_log(f, "SIGCONT %s", f->node[i].id);
    assert_tock_ok(tock_proc_resume(f->node[i].pid, &err), &err);
    f->node[i].paused = false;
}

static uint64_t count_in_file(const char *path, const char *a, const char *b)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    uint64_t n = 0;

    if (fp == NULL)
        return 0;
    while (getline(&line, &cap, fp) > 0)
        n += strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL);
    free(line);
    fclose(fp);
    return n;
}

uint64_t tock_fault_count_lines(const struct tock_fault *f,
                                const char *node_prefix, const char *a,
                                const char *b)
{
    char dir[700], path[1000];
    size_t plen = strlen(node_prefix);
    struct dirent *e;
    uint64_t n = 0;
    DIR *d;

    snprintf(dir, sizeof dir, "%s/nodes", f->dir);
    if ((d = opendir(dir)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, node_prefix, plen) != 0 ||
            strstr(e->d_name, ".log") == NULL)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        n += count_in_file(path, a, b);
    }
    closedir(d);
    return n;
}

int64_t tock_fault_log_skew_ms(const struct tock_fault *f, const char *id,
                               int64_t spawned_wall_ms)
{
    char path[700], line[512];
    struct tm tm = {0};
    int ms = 0;
    FILE *fp;
    bool ok;

    snprintf(path, sizeof path, "%s/nodes/%s.log", f->dir, id);
    if ((fp = fopen(path, "r")) == NULL)
        return INT64_MIN;
    ok = fgets(line, sizeof line, fp) != NULL &&
         sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7;
    fclose(fp);
    if (!ok)
        return INT64_MIN;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms - spawned_wall_ms;
}

/* --------------------------------------------------- raw Redis reads */

/* raw_connect opens the harness's own connection for the final reads. */
static redisContext *raw_connect(struct tock_fault *f)
{
    struct tock_error err = {0};
    redisContext *c = tock_redis_fixture_connect(f->rx, 10000, &err);

    if (c == NULL)
        fail_msg("connecting to Redis for the checks: %s", err.msg);
    return c;
}

static redisReply *raw(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL)
        fail_msg("raw Redis command '%s': %s", fmt, c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("raw Redis command '%s': %s", fmt, r->str);
    return r;
}

/* reply_i64 reads an integer or decimal string reply; `dflt` for nil. */
static int64_t reply_i64(const redisReply *r, int64_t dflt)
{
    int64_t v;

    if (r == NULL || r->type == REDIS_REPLY_NIL)
        return dflt;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    return tock_redis_i64(r, &v) ? v : dflt;
}

/* job_ids returns SMEMBERS jobs (the reply owns the strings). */
static redisReply *job_ids(redisContext *c)
{
    redisReply *r = raw(c, "SMEMBERS " NS "jobs");

    if (r->type != REDIS_REPLY_ARRAY)
        fail_msg("SMEMBERS jobs: not an array");
    return r;
}

/* unresolved counts the jobs with an occurrence at or before t_end that
 * is not yet fired or missed. */
static size_t unresolved(redisContext *c, int64_t t_end)
{
    redisReply *ids = job_ids(c);
    size_t n = 0;

    for (size_t i = 0; i < ids->elements; i++) {
        redisReply *r = raw(c, "HGET " NS "job:%s next_fire_ms",
                            ids->element[i]->str);
        int64_t next = reply_i64(r, -1);

        n += next >= 0 && next <= t_end;
        freeReplyObject(r);
    }
    freeReplyObject(ids);
    return n;
}

static void wait_quiescent(struct tock_fault *f)
{
    redisContext *c = raw_connect(f);
    int64_t until = tock_fault_mono_ms() + QUIESCE_MAX_MS;
    size_t left;

    while ((left = unresolved(c, f->t_end_ms)) > 0 &&
           tock_fault_mono_ms() < until)
        tock_fault_sleep_ms(200);
    if (left > 0)
        tock_fault_fail(f, "not quiescent %d ms after the recovery wait: %zu "
                           "jobs still have occurrences due before t_end "
                           "unresolved", QUIESCE_MAX_MS, left);
    redisFree(c);
}

/* check_job_place: job `id` is in exactly one of due, leases, finished,
 * and its due score, owner and watermark agree with its hash. */
static void check_job_place(struct tock_fault *f, redisContext *c,
                            const char *id)
{
    redisReply *h = raw(c, "HMGET " NS "job:%s next_fire_ms owner fired_ms",
                        id);
    redisReply *due = raw(c, "ZSCORE " NS "due %s", id);
    redisReply *lease = raw(c, "ZSCORE " NS "leases %s", id);
    int64_t next = reply_i64(h->element[0], -2);
    int64_t fired = reply_i64(h->element[2], -1);
    bool in_due = due->type != REDIS_REPLY_NIL;
    bool in_lease = lease->type != REDIS_REPLY_NIL;
    bool owned = h->element[1]->type == REDIS_REPLY_STRING &&
                 h->element[1]->len > 0;

    if ((int)in_due + (int)in_lease + (int)(next == -1) != 1)
        tock_fault_fail(f, "job %s: in due %d, in leases %d, finished %d: "
                           "must be exactly one", id, in_due, in_lease,
                        next == -1);
    else if (in_due && reply_i64(due, -3) != next)
        tock_fault_fail(f, "job %s: due score %s != next_fire_ms %" PRId64,
                        id, due->str, next);
    if (owned != in_lease)
        tock_fault_fail(f, "job %s: owner %s but %s the leases", id,
                        owned ? "set" : "empty", in_lease ? "in" : "not in");
    if (next >= 0 && fired >= next)
        tock_fault_fail(f, "job %s: watermark %" PRId64 " >= next %" PRId64,
                        id, fired, next);
    freeReplyObject(h);
    freeReplyObject(due);
    freeReplyObject(lease);
}

/* check_invariants: RELIABILITY.md b.1's store invariants at quiescence,
 * on the raw keys (docs/redis-keys.md). */
static void check_invariants(struct tock_fault *f, redisContext *c)
{
    redisReply *ids = job_ids(c);
    redisReply *r;
    int64_t leases, tasks, entries;

    r = raw(c, "ZCARD " NS "leases");
    leases = reply_i64(r, -1);
    freeReplyObject(r);
    if (leases != 0)
        tock_fault_fail(f, "%" PRId64 " claims left in the leases zset after "
                           "every node stopped", leases);
    for (size_t i = 0; i < ids->elements; i++)
        check_job_place(f, c, ids->element[i]->str);
    r = raw(c, "HLEN " NS "tasks");
    tasks = reply_i64(r, -1);
    freeReplyObject(r);
    r = raw(c, "XLEN " NS "q:default");
    entries = reply_i64(r, -1);
    freeReplyObject(r);
    if (tasks != entries)
        tock_fault_fail(f, "%" PRId64 " task stream entries but %" PRId64
                           " in the task index", entries, tasks);
    freeReplyObject(ids);
}

/* field returns the value of `name` in a flat field/value array. */
static const redisReply *field(const redisReply *fv, const char *name)
{
    for (size_t i = 0; fv != NULL && i + 1 < fv->elements; i += 2)
        if (strcmp(fv->element[i]->str, name) == 0)
            return fv->element[i + 1];
    return NULL;
}

/* load_stream adds every decision entry of every runs:<job> stream, read
 * past the store API (which keeps one run per occurrence), as STREAM. */
static void load_stream(struct tock_fault *f, redisContext *c)
{
    redisReply *ids = job_ids(c);

    tock_hist_enable(f->hist, TOCK_HIST_STREAM);
    for (size_t i = 0; i < ids->elements; i++) {
        redisReply *r = raw(c, "XRANGE " NS "runs:%s - +",
                            ids->element[i]->str);

        for (size_t k = 0; k < r->elements; k++) {
            const redisReply *fv = r->element[k]->element[1];
            const redisReply *occ = field(fv, "occ"), *st = field(fv, "status");
            const redisReply *node = field(fv, "node");

            if (occ == NULL || st == NULL ||
                (strcmp(st->str, "dispatched") != 0 &&
                 strcmp(st->str, "missed") != 0 &&
                 strcmp(st->str, "skipped") != 0))
                continue; /* a worker's state, or not a record of ours */
            if (tock_hist_add_occ(f->hist, TOCK_HIST_STREAM, occ->str,
                                  tock_hist_kind_of(st->str),
                                  reply_i64(field(fv, "fired_ms"), 0),
                                  node != NULL ? node->str : NULL) != 0)
                tock_fault_fail(f, "runs:%s: bad occurrence id '%s'",
                                ids->element[i]->str, occ->str);
        }
        freeReplyObject(r);
    }
    freeReplyObject(ids);
}

/* job_epoch: the last claim epoch seen on a task of one job. */
struct job_epoch {
    char job[TOCK_ID_MAX + 1];
    int64_t epoch;
};

/* check_epochs: the fencing tokens never repeat. In the task stream (in
 * commit order) each job's tasks carry strictly increasing claim epochs,
 * across node deaths and Redis restarts (RELIABILITY.md row 1, b.3 on
 * row 3c). */
static void check_epochs(struct tock_fault *f, redisContext *c)
{
    redisReply *r = raw(c, "XRANGE " NS "q:default - +");
    struct job_epoch *seen = calloc(r->elements + 1, sizeof *seen);
    size_t n = 0;

    assert_non_null(seen);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *fv = r->element[i]->element[1];
        const redisReply *job = field(fv, "job");
        int64_t epoch = reply_i64(field(fv, "epoch"), -1);
        size_t k = 0;

        if (job == NULL)
            continue;
        while (k < n && strcmp(seen[k].job, job->str) != 0)
            k++;
        if (k == n)
            snprintf(seen[n++].job, sizeof seen[0].job, "%s", job->str);
        else if (epoch <= seen[k].epoch)
            tock_fault_fail(f, "job %s: task %s has claim epoch %" PRId64
                               " after one with epoch %" PRId64, job->str,
                            r->element[i]->element[0]->str, epoch,
                            seen[k].epoch);
        seen[k].epoch = epoch;
    }
    free(seen);
    freeReplyObject(r);
}

/* ------------------------------------------------------------ settle */

static void load_history(struct tock_fault *f)
{
    const char *queues[] = {"default"};
    struct tock_error err = {0};

    if (tock_hist_load_runs(f->hist, f->s, 100000, &err) != 0 ||
        tock_hist_load_events(f->hist, f->s, f->events, &err) != 0 ||
        tock_hist_load_tasks(f->hist, f->s, queues, 1, &err) != 0)
        tock_fault_fail(f, "reading the history: %s", err.msg);
}

void tock_fault_settle(struct tock_fault *f)
{
    int64_t wait = TOCK_FAULT_LEASE_MS + TOCK_FAULT_GRACE_MS + 2000;
    redisContext *c;

    tock_fault_log(f, "heal: recovery wait %" PRId64 " ms", wait);
    tock_fault_sleep_ms(wait);
    f->t_end_ms = tock_fault_redis_now(f) - 1500;
    wait_quiescent(f);
    for (int i = 0; i < TOCK_FAULT_NODES; i++) {
        int st = 0;

        if (tock_fault_node_exited(f, i, &st))
            tock_fault_fail(f, "node %s exited by itself (wait status 0x%x)",
                            f->node[i].id, st);
        else if (f->node[i].pid != 0)
            tock_fault_node_stop(f, i);
    }
    c = raw_connect(f);
    check_invariants(f, c);
    check_epochs(f, c);
    load_stream(f, c);
    redisFree(c);
    load_history(f);
    tock_hist_check(f->hist, f->t_end_ms, &f->report);
    if (f->report.problems > 0)
        tock_fault_fail(f, "the history has %zu problems; first: %s",
                        f->report.problems, f->report.notes[0]);
}

/* ------------------------------------------------------------ finish */

static void print_summary(struct tock_fault *f)
{
    const struct tock_hist_report *r = &f->report;
    char title[128];

    snprintf(title, sizeof title, "fault %s (seed %" PRIu64 ", scale %d)",
             f->name, f->seed, f->scale);
    tock_hist_report_print(r, title, stderr);
    fprintf(stderr, "fault %s: events fired %zu, missed %zu, coalesced %zu, "
            "lease_expired %zu, commit_refused %zu\n", f->name,
            f->events[TOCK_EVENT_FIRED], f->events[TOCK_EVENT_MISSED],
            f->events[TOCK_EVENT_COALESCED],
            f->events[TOCK_EVENT_LEASE_EXPIRED],
            f->events[TOCK_EVENT_COMMIT_REFUSED]);
    for (int i = 0; i < f->nproofs; i++)
        fprintf(stderr, "fault %s: proof %s = %" PRIu64 "\n", f->name,
                f->proof[i].name, f->proof[i].value);
}

void tock_fault_finish(struct tock_fault *f)
{
    print_summary(f);
    tock_store_close(f->s);
    tock_hist_free(f->hist);
    if (f->failures > 0) {
        /* Keep everything: stop Redis cleanly (its AOF stays), leave the
         * fixture unfreed so its directory survives. */
        tock_redis_fixture_stop(f->rx, NULL);
        tock_fault_log(f, "FAILED (%d checks); kept %s (redis.log, "
                       "appendonlydir/, nodes/*.log, faults.log)",
                       f->failures, f->dir);
        fclose(f->flog);
        fail_msg("fault scenario %s failed %d checks; first: %s; evidence "
                 "kept in %s", f->name, f->failures, f->first_failure,
                 f->dir);
    }
    fclose(f->flog);
    if (getenv("TOCK_TEST_KEEP") != NULL) {
        tock_redis_fixture_stop(f->rx, NULL);
        fprintf(stderr, "kept %s\n", f->dir);
        return;
    }
    tock_redis_fixture_free(f->rx);
}
