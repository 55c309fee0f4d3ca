/* redis.c: the Redis store: opening (the server checks and the library),
 * closing, the clock and the ops table. The operations are in
 * redis_jobs.c, redis_fire.c, redis_tasks.c and redis_history.c; each one
 * is one call of a function of the library tock_v1 (redis_functions.lua),
 * so each is atomic in Redis. REDIS.md section 8 is the design; this is
 * what the code does.
 *
 * ON claim(nonce, limit, lease):
 *   1. now = Redis TIME, never below meta.clock_hwm_ms (which it raises).
 *   2. Up to 256 jobs in `leases` whose lease ended by now: out of leases,
 *      owner "", epoch+1, back into `due` at their unchanged
 *      next_fire_ms; event lease_expired (detail: the lost token).
 *   3. Up to `limit` jobs of `due` with a score <= now, earliest first: out
 *      of due, into leases at now + lease, epoch+1, owner =
 *      "<nonce>:<epoch>"; the job's hash is returned.
 *   4. next_due_ms = the head of due, or another node's earliest lease
 *      if sooner.
 * ON commit(items), each item in one function call for the batch, all
 * checks of an item before its first write:
 *   1. GONE if the job hash is gone.
 *   2. ALREADY if job.last_commit == token (with that commit's task id).
 *   3. CHANGED if job.version != the claim's: the claim is dropped if it is
 *      still ours.
 *   4. STALE unless job.owner == token and job.epoch == the claim's epoch.
 *   5. DUPLICATE unless every occurrence is after the watermark fired_ms:
 *      claim dropped, event commit_refused.
 *   6. now = TIME (with the mark): a fire later than misfire_grace becomes
 *      missed; a fire with running >= max_instances becomes skipped.
 *   7. Records: occ:<job>@<ms> hashes and runs:<job> entries for the missed
 *      list and the occurrence (an occurrence already on record is not
 *      recorded or enqueued twice), events; for a fire the task entry in
 *      q:<queue> (never trimmed), its tasks index entry, live:<job>,
 *      running+1.
 *   8. Advance: fired_ms = sched, next_fire_ms = next, owner "",
 *      last_commit = token, out of leases, into due at next.
 *   9. When a new due time lands before the head the call started with,
 *      SPUBLISH tock:{ns}:wake (puts, resumes and releases do the same).
 * ON take(consumer, queues, max, lease):
 *   1. Due retries (the retry zset) go back into their queues as new
 *      entries of the same occurrence.
 *   2. Per queue in the order given: first entries parked with the
 *      consumer "tock ready" (redeliveries, hand-backs), XCLAIMed to the
 *      consumer (delivery count+1; past max_deliveries: dead instead);
 *      then new entries, XREADGROUP '>' (count 1).
 *   3. Each handed-out task: occ status running, worker, deliveries,
 *      started_ms = now; task_leases score = now + lease.
 * ON touch(consumer, ids, deliveries, lease):
 *   1. XPENDING must show the entry held by consumer with that count.
 *   2. Only then XCLAIM ... 0 JUSTID (idle reset, count unchanged) and
 *      task_leases = now + lease; otherwise ok[i] = false.
 * ON report(consumer, reports):
 *   0. Every held task's result must name the task's occurrence (else the
 *      whole batch is refused before any write).
 *   1. Held (XPENDING: consumer and count match): go on to 3.
 *   2. Not held: DUP_OK if the occurrence's last accepted report is this
 *      (id, consumer, count); LATE (event) if the occurrence is final;
 *      STALE (nothing written) otherwise.
 *   3. XACK + XDEL, index and lease entries gone. An error or timeout with
 *      retries left: the retry zset gets attempt+1 after the back-off.
 *      Otherwise the occurrence is final: status, result fields, EXPIRE,
 *      running-1, last_status, results/runs/events entries.
 * ON reclaim(limit):
 *   1. Due retries back into their queues (take's step 1).
 *   2. Up to `limit` tasks whose lease ended by now: delivered
 *      max_deliveries times already: dead (XACK + XDEL, occ dead,
 *      running-1, event); else parked with "tock ready" (XCLAIM JUSTID:
 *      the count stays, the next take adds one), event redelivered. An
 *      entry that vanished from its stream is recorded dead as lost.
 *   3. `running` of up to 256 jobs (a cursor over the jobs set) is set
 *      to the size of their live:<job> set.
 *
 * Step 1 of claim: because every "now" that decides anything is Redis
 *   TIME, node clocks never decide a firing; the mark keeps a backwards
 *   step of the Redis host's clock (or a failover to a host whose clock is
 *   behind) from looking like time running back.
 * Step 2 of claim: because a dead or paused node's claims must come back by
 *   themselves, at their original scheduled time, so that the next claimer
 *   decides fire or miss for exactly that occurrence. Expiry alone never
 *   refuses a commit: only this reclaim (owner changed, epoch+1) does.
 * Step 3 of claim: the token holds the node's per-start nonce, so a token is
 *   never issued twice, even if an epoch is (a failover that lost writes).
 * Steps 1-5 of commit before any write: because a function has no rollback.
 *   Steps 2-8 are one function call: the task, the record, the watermark
 *   and the new due time exist together or not at all (an AOF holds a
 *   function's effects as one MULTI block).
 * Step 3 before 4 of commit: an edit clears the owner; CHANGED says why.
 * Step 7 of commit: the task stream is never trimmed, because MAXLEN can
 *   drop entries still pending and XAUTOCLAIM (7.0) then silently forgets
 *   them; entries leave by XACK + XDEL when their task is finished.
 * Step 2 of take: entries between deliveries are held by a parking
 *   consumer because Redis streams have no "pending but unowned" state;
 *   RETRYCOUNT/JUSTID keep the delivery count exact (one per hand-out).
 * Step 1 of touch: a bare XCLAIM would steal back an entry that was already
 *   handed to someone else; the check makes the touch a fence.
 * Step 2 of reclaim: leases live in the task_leases zset rather than in the
 *   PEL's idle time because store.h leases are per call (take and touch
 *   name their own); XPENDING/XCLAIM still see and move the entries.
 */
#include "store/redis.h"

#include <errno.h> /* program_invocation_short_name (_GNU_SOURCE) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

/* ------------------------------------------------------------- helpers */

struct tock_redis *tock_redis_of(struct tock_store *s)
{
    if (s == NULL || s->ops != &tock_store_redis_ops)
        return NULL;
    return s->backend;
}

/* name_part copies `s` into buf keeping [A-Za-z0-9._-] and replacing the
 * rest with '_' (CLIENT SETNAME refuses spaces). */
static void name_part(char *buf, size_t cap, const char *s)
{
    size_t i = 0;

    for (; s[i] != '\0' && i + 1 < cap; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        buf[i] = ok ? c : '_';
    }
    buf[i] = '\0';
}

/* client_name is "tock-<role>:<host>:<pid>": the program's name says the
 * role (tock-scheduler, tock-worker; the CLI "tock" becomes tock-cli). */
static void client_name(struct tock_redis *b)
{
    const char *prog = program_invocation_short_name;
    char role[64], host[64], raw[256] = "";

    if (prog == NULL || *prog == '\0' || strcmp(prog, "tock") == 0)
        prog = "cli";
    if (strncmp(prog, "tock-", 5) == 0)
        prog += 5;
    name_part(role, sizeof role, prog);
    if (gethostname(raw, sizeof raw - 1) != 0)
        snprintf(raw, sizeof raw, "unknown");
    name_part(host, sizeof host, raw);
    snprintf(b->client_name, sizeof b->client_name, "tock-%s:%s:%ld", role,
             host, (long)getpid());
}

static void apply_tuning(struct tock_redis *b, const struct tock_store *s)
{
    const struct tock_store_tuning *t = &s->tuning;
    struct timespec ts;

    b->timeout_ms = b->url.timeout_ms  ? b->url.timeout_ms
                    : t->timeout_ms > 0 ? t->timeout_ms
                                        : TOCK_REDIS_TIMEOUT_MS;
    b->occ_ttl_ms = t->occ_ttl_ms > 0 ? t->occ_ttl_ms : TOCK_REDIS_OCC_TTL_MS;
    /* A run leaves two entries in its job's runs stream (dispatched, then
     * its final state). */
    b->runs_max = 2 * (t->runs_per_job ? t->runs_per_job
                                       : TOCK_REDIS_RUNS_PER_JOB);
    b->events_max = t->events_max ? t->events_max : TOCK_REDIS_EVENTS_MAX;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    b->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^
             (uint64_t)(uintptr_t)b;
    if (b->rng == 0)
        b->rng = 0x9e3779b97f4a7c15ULL;
}

/* ----------------------------------------------------- server checks */

/* info_value copies the value of "name:" in an INFO text into buf. */
static bool info_value(const char *info, const char *name, char *buf,
                       size_t cap)
{
    char key[64];
    const char *p;

    snprintf(key, sizeof key, "\n%s:", name);
    p = strstr(info, key);
    if (p == NULL)
        return false;
    p += strlen(key);
    snprintf(buf, cap, "%.*s", (int)strcspn(p, "\r\n"), p);
    return true;
}

static int check_version(struct tock_redis *b, const char *info,
                         struct tock_error *err)
{
    char v[32] = "";

    if (!info_value(info, "redis_version", v, sizeof v))
        return 0;
    if (atoi(v) < 7)
        return tock_error_set(err, TOCK_EVERSION,
                              "Redis at %s is version %s; tock needs Redis >= "
                              "7.0 (or Valkey >= 7.2) for functions and "
                              "sharded pub/sub", b->url.shown, v);
    return 0;
}

static int check_role(struct tock_redis *b, const char *info,
                      struct tock_error *err)
{
    char v[32] = "";

    if (info_value(info, "cluster_enabled", v, sizeof v) && strcmp(v, "1") == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "Redis at %s runs in cluster mode; tock talks "
                              "to one primary: point TOCK_STORE at a "
                              "standalone Redis (a Sentinel primary is fine)",
                              b->url.shown);
    if (info_value(info, "role", v, sizeof v) && strcmp(v, "master") != 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "Redis at %s is a replica (role %s); point "
                              "TOCK_STORE at the primary", b->url.shown, v);
    return 0;
}

static int check_eviction(struct tock_redis *b, const char *info,
                          struct tock_error *err)
{
    char v[40] = "";

    info_value(info, "maxmemory_human", b->maxmemory, sizeof b->maxmemory);
    if (!info_value(info, "maxmemory_policy", v, sizeof v) ||
        strcmp(v, "noeviction") == 0)
        return 0;
    return tock_error_set(err, TOCK_EINVAL,
                          "Redis at %s evicts keys (maxmemory-policy %s): "
                          "jobs, claims and tasks could vanish, and "
                          "occurrences fire twice or never; set "
                          "maxmemory-policy noeviction (CONFIG SET and "
                          "redis.conf)", b->url.shown, v);
}

/* warn_durability says, once per open, what a Redis crash could lose. */
static void warn_durability(struct tock_redis *b, const char *info)
{
    const char *fsync_argv[] = {"CONFIG", "GET", "appendfsync"};
    struct tock_redis_args a;
    struct tock_error ignored;
    redisReply *r = NULL;
    char aof[8] = "";
    char fsync[16] = "";

    if (info_value(info, "aof_enabled", aof, sizeof aof) &&
        strcmp(aof, "0") == 0) {
        tock_logf(b->log, TOCK_LOG_WARN, "store",
                  "Redis at %s has AOF off (appendonly no): a Redis restart "
                  "loses every job, claim, task and result written since its "
                  "last snapshot, and occurrences may fire again; set "
                  "appendonly yes and appendfsync always "
                  "(docs/guarantees.md)", b->url.shown);
        return;
    }
    tock_redis_args_init(&a);
    for (size_t i = 0; i < 3; i++)
        tock_redis_args_str(&a, fsync_argv[i]);
    if (tock_redis_command(b, &a, "CONFIG GET", &r, &ignored) == 0 &&
        r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        tock_redis_copy(r->element[1], fsync, sizeof fsync);
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    if (fsync[0] == '\0')
        tock_logf(b->log, TOCK_LOG_WARN, "store",
                  "cannot read appendfsync of Redis at %s (CONFIG GET "
                  "refused); make sure it is 'always' (docs/guarantees.md)",
                  b->url.shown);
    else if (strcmp(fsync, "everysec") == 0)
        tock_logf(b->log, TOCK_LOG_WARN, "store",
                  "Redis at %s has appendfsync everysec: a crash of its host "
                  "can lose the last 1-2 s of writes, and occurrences "
                  "committed then may fire again; set appendfsync always "
                  "(docs/guarantees.md)", b->url.shown);
    else if (strcmp(fsync, "always") != 0)
        tock_logf(b->log, TOCK_LOG_WARN, "store",
                  "Redis at %s has appendfsync %s: a crash of its host can "
                  "lose the last ~30 s of writes (the kernel's flush "
                  "interval), and occurrences committed then may fire "
                  "again; set appendfsync always (docs/guarantees.md)",
                  b->url.shown, fsync);
}

/* check_server runs the checks of guarantee 3's assumptions on INFO. */
static int check_server(struct tock_redis *b, struct tock_error *err)
{
    struct tock_redis_args a;
    struct tock_error e = {0};
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, "INFO");
    rc = tock_redis_command(b, &a, "INFO", &r, &e);
    tock_redis_args_clear(&a);
    if (rc == TOCK_EAUTH) {
        tock_logf(b->log, TOCK_LOG_WARN, "store",
                  "cannot check the version, eviction policy and persistence "
                  "of Redis at %s: %s", b->url.shown, e.msg);
        return 0;
    }
    if (rc < 0) {
        *err = e;
        return rc;
    }
    if (r->type == REDIS_REPLY_STRING &&
        ((rc = check_version(b, r->str, err)) < 0 ||
         (rc = check_role(b, r->str, err)) < 0 ||
         (rc = check_eviction(b, r->str, err)) < 0)) {
        freeReplyObject(r);
        return rc;
    }
    if (r->type == REDIS_REPLY_STRING)
        warn_durability(b, r->str);
    freeReplyObject(r);
    return 0;
}

/* ------------------------------------------------------ the library */

/* check_schema refuses a namespace written by another schema before the
 * library is replaced. */
static int check_schema(struct tock_redis *b, struct tock_error *err)
{
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, "HGET");
    tock_redis_args_str(&a, b->meta);
    tock_redis_args_str(&a, "schema");
    rc = tock_redis_command(b, &a, "HGET meta", &r, err);
    tock_redis_args_clear(&a);
    if (rc == 0 && tock_redis_is_str(r) &&
        !tock_redis_streq(r, TOCK_REDIS_SCHEMA))
        rc = tock_error_set(err, TOCK_EVERSION,
                            "namespace %s at %s has schema %.*s, this tock "
                            "writes schema %s; use the tock release that "
                            "matches it, or another namespace (?ns=)",
                            b->prefix, b->url.shown, (int)(r->len > 12 ? 12
                                                           : r->len),
                            r->str, TOCK_REDIS_SCHEMA);
    freeReplyObject(r);
    return rc;
}

static int init_meta(struct tock_redis *b, struct tock_error *err)
{
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    rc = tock_redis_fcall(b, "init", &a, &r, err);
    tock_redis_args_clear(&a);
    if (rc == 0 && !tock_redis_streq(tock_redis_elem(r, 0), "ok"))
        rc = tock_error_set(err, TOCK_EVERSION,
                            "namespace %s at %s has another schema; refusing "
                            "it", b->prefix, b->url.shown);
    freeReplyObject(r);
    return rc;
}

/* load_library loads tock_v1; a user that may not load functions can
 * still use a library an administrator loaded. */
static int load_library(struct tock_redis *b, struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = tock_redis_load_library(b, &e);

    if (rc == TOCK_EAUTH) {
        tock_logf(b->log, TOCK_LOG_WARN, "store",
                  "using the library %s as loaded in Redis: %s",
                  TOCK_REDIS_LIB, e.msg);
        return 0;
    }
    if (rc < 0)
        *err = e;
    return rc;
}

/* ---------------------------------------------------------- open, close */

static void free_backend(struct tock_redis *b)
{
    if (b == NULL)
        return;
    if (b->watch.c != NULL)
        redisFree(b->watch.c);
    tock_redis_drop(b);
    tock_redis_url_wipe(&b->url);
    tock_free(b);
}

int tock_redis_open(struct tock_store *s, const char *url,
                    struct tock_error *err)
{
    struct tock_redis *b = tock_calloc(1, sizeof *b);
    int rc;

    if (b == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    b->log = s->log;
    rc = tock_redis_url_parse(url, &b->url, err);
    if (rc == 0) {
        snprintf(b->prefix, sizeof b->prefix, "tock:{%s}:", b->url.ns);
        snprintf(b->meta, sizeof b->meta, "%smeta", b->prefix);
        apply_tuning(b, s);
        client_name(b);
        rc = tock_redis_connect(b, err);
    }
    if (rc == 0)
        rc = check_server(b, err);
    if (rc == 0)
        rc = check_schema(b, err);
    if (rc == 0)
        rc = load_library(b, err);
    if (rc == 0)
        rc = init_meta(b, err);
    if (rc < 0) {
        free_backend(b);
        return rc;
    }
    tock_logf(b->log, TOCK_LOG_DEBUG, "store", "Redis store at %s, keys %s*",
              b->url.shown, b->prefix);
    s->backend = b;
    return 0;
}

void tock_redis_close(struct tock_store *s)
{
    free_backend(s->backend);
    s->backend = NULL;
}

/* ------------------------------------------------------------- the clock */

static int redis_now(struct tock_store *s, int64_t *now_ms,
                     struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    rc = tock_redis_fcall(b, "now", &a, &r, err);
    tock_redis_args_clear(&a);
    if (rc == 0 && !tock_redis_i64(r, now_ms))
        rc = tock_redis_corrupt(b, "the clock reply", err);
    freeReplyObject(r);
    return rc;
}

/* ------------------------------------------------------------ ops table */

const struct tock_store_ops tock_store_redis_ops = {
    .kind = "redis",
    .open = tock_redis_open,
    .close = tock_redis_close,
    .now = redis_now,
    .job_put = tock_redis_job_put,
    .job_get = tock_redis_job_get,
    .job_list = tock_redis_job_list,
    .job_remove = tock_redis_job_remove,
    .job_set_paused = tock_redis_job_set_paused,
    .job_run_now = tock_redis_job_run_now,
    .claim = tock_redis_claim,
    .commit = tock_redis_commit,
    .release = tock_redis_release,
    .task_take = tock_redis_task_take,
    .task_touch = tock_redis_task_touch,
    .task_report = tock_redis_task_report,
    .task_reclaim = tock_redis_task_reclaim,
    .task_release = tock_redis_task_release,
    .runs = tock_redis_runs,
    .events = tock_redis_events,
    .watch_open = tock_redis_watch_open,
    .watch_drain = tock_redis_watch_drain,
    .watch_close = tock_redis_watch_close,
};
