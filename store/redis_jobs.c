/* redis_jobs.c: job definitions in the Redis store: put (create, upsert),
 * get, list, remove, pause and resume, and "run now".
 *
 * A job is one readable hash tock:{ns}:job:<id> (docs/redis-keys.md):
 * flat fields, decimal integers, 0/1 flags, the trigger as text, and args
 * (msgpack) as its only opaque field. Writes are functions of tock_v1
 * (redis_functions.lua: put, remove, set_paused, run_prep, run_now); reads
 * are plain HGETALLs, pipelined for a list.
 *
 * ON put(job, next, mode, expect_version): see f_put in the library; the
 *   definition travels as ARGV in the order of DEF there (def_args here).
 * ON run_now(id, build): 1. run_prep returns Redis' now, the occurrence time
 *   (now, moved on while it is the job's next time or on record) and the
 *   job; 2. the caller's builder makes the task for that time; 3. run_now
 *   records it unless the job's version or that time changed meanwhile, in
 *   which case 1-3 run again (at most 5 times).
 * Step 3: because the builder runs in C between two function calls, the
 *   second call re-checks what the first one saw.
 */
#include "store/redis.h"

#include <stddef.h>
#include <string.h>

#include "core/alloc.h"

#define RUN_NOW_TRIES 5

/* ------------------------------------------------------- reading a job */

enum kind { K_I64, K_INT, K_BOOL };

/* The integer fields of a job hash and where they go. */
static const struct {
    const char *name;
    size_t off;
    enum kind kind;
} int_fields[] = {
#define J(f) offsetof(struct tock_job_state, job.f)
#define S(f) offsetof(struct tock_job_state, f)
    {"misfire_grace_ms", J(misfire_grace_ms), K_I64},
    {"coalesce", J(coalesce), K_BOOL},
    {"max_instances", J(max_instances), K_INT},
    {"jitter_ms", J(jitter_ms), K_I64},
    {"timeout_ms", J(timeout_ms), K_I64},
    {"retries", J(retries), K_INT},
    {"retry_backoff_ms", J(retry_backoff_ms), K_I64},
    {"max_deliveries", J(max_deliveries), K_INT},
    {"paused", J(paused), K_BOOL},
    {"start_ms", J(start_ms), K_I64},
    {"end_ms", J(end_ms), K_I64},
    {"version", J(version), K_I64},
    {"next_fire_ms", S(next_fire_ms), K_I64},
    {"fired_ms", S(fired_ms), K_I64},
    {"epoch", S(epoch), K_I64},
    {"running", S(running), K_I64},
    {"created_ms", S(created_ms), K_I64},
    {"updated_ms", S(updated_ms), K_I64},
#undef J
#undef S
};

static bool set_int(struct tock_job_state *out, const char *name,
                    const redisReply *v, bool *bad)
{
    int64_t x;

    for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++) {
        char *p = (char *)out + int_fields[i].off;
        if (strcmp(int_fields[i].name, name) != 0)
            continue;
        if (!tock_redis_i64(v, &x)) {
            *bad = true;
            return true;
        }
        if (int_fields[i].kind == K_I64)
            *(int64_t *)(void *)p = x;
        else if (int_fields[i].kind == K_INT)
            *(int *)(void *)p = (int)x;
        else
            *(bool *)(void *)p = x != 0;
        return true;
    }
    return false;
}

/* set_text handles the text and byte fields. */
static int set_text(struct tock_job_state *out, const char *name,
                    const redisReply *v, struct tock_error *err)
{
    struct tock_job *j = &out->job;
    char **dst = strcmp(name, "id") == 0        ? &j->id
                 : strcmp(name, "name") == 0    ? &j->name
                 : strcmp(name, "queue") == 0   ? &j->queue
                 : strcmp(name, "handler") == 0 ? &j->handler
                 : strcmp(name, "trigger") == 0 ? &j->trigger
                                                : NULL;

    if (dst != NULL) {
        tock_free(*dst);
        return tock_redis_dup(v, dst, err);
    }
    if (strcmp(name, "args") == 0 && tock_redis_is_str(v) && v->len > 0) {
        tock_free(j->args);
        j->args = tock_memdup(v->str, v->len);
        j->args_len = j->args ? v->len : 0;
        return j->args ? 0 : tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    if (strcmp(name, "owner") == 0)
        tock_redis_copy(v, out->owner, sizeof out->owner);
    else if (strcmp(name, "last_status") == 0)
        tock_redis_copy(v, out->last_status, sizeof out->last_status);
    return 0;
}

int tock_redis_job_fields(const struct tock_redis *b, const redisReply *h,
                          struct tock_job_state *out, struct tock_error *err)
{
    char name[32];
    bool bad = false;
    int rc = 0;

    memset(out, 0, sizeof *out);
    out->next_fire_ms = out->fired_ms = -1;
    if (h == NULL || h->type != REDIS_REPLY_ARRAY || h->elements % 2 != 0)
        return tock_redis_corrupt(b, "a job hash", err);
    for (size_t i = 0; rc == 0 && i + 1 < h->elements; i += 2) {
        tock_redis_copy(h->element[i], name, sizeof name);
        if (!set_int(out, name, h->element[i + 1], &bad))
            rc = set_text(out, name, h->element[i + 1], err);
    }
    if (rc == 0 && (bad || out->job.id == NULL || out->job.queue == NULL ||
                    out->job.handler == NULL || out->job.trigger == NULL))
        rc = tock_redis_corrupt(b, "a job hash", err);
    if (rc < 0)
        tock_job_state_clear(out);
    return rc;
}

/* ----------------------------------------------------------------- put */

/* def_args adds a definition in the order of DEF in redis_functions.lua:
 * name, queue, handler, args, trigger, then the integers. */
static void def_args(struct tock_redis_args *a, const struct tock_job *j)
{
    tock_redis_args_str(a, j->name ? j->name : "");
    tock_redis_args_str(a, j->queue);
    tock_redis_args_str(a, j->handler);
    tock_redis_args_bin(a, j->args ? j->args : (const uint8_t *)"",
                        j->args ? j->args_len : 0);
    tock_redis_args_str(a, j->trigger);
    tock_redis_args_i64(a, j->misfire_grace_ms);
    tock_redis_args_i64(a, j->coalesce ? 1 : 0);
    tock_redis_args_i64(a, j->max_instances);
    tock_redis_args_i64(a, j->jitter_ms);
    tock_redis_args_i64(a, j->timeout_ms);
    tock_redis_args_i64(a, j->retries);
    tock_redis_args_i64(a, j->retry_backoff_ms);
    tock_redis_args_i64(a, j->max_deliveries);
    tock_redis_args_i64(a, j->paused ? 1 : 0);
    tock_redis_args_i64(a, j->start_ms);
    tock_redis_args_i64(a, j->end_ms);
}

static int put_outcome(const struct tock_redis *b, const redisReply *r,
                       const struct tock_job *job, int64_t expect,
                       enum tock_put_outcome *outcome, int64_t *version,
                       struct tock_error *err)
{
    const redisReply *st = tock_redis_elem(r, 0);

    if (!tock_redis_i64(tock_redis_elem(r, 1), version))
        return tock_redis_corrupt(b, "the put reply", err);
    if (tock_redis_streq(st, "added"))
        *outcome = TOCK_PUT_ADDED;
    else if (tock_redis_streq(st, "changed"))
        *outcome = TOCK_PUT_CHANGED;
    else if (tock_redis_streq(st, "unchanged"))
        *outcome = TOCK_PUT_UNCHANGED;
    else if (tock_redis_streq(st, "exists"))
        return tock_error_set(err, TOCK_EEXIST,
                              "job '%s' already exists; remove it first or "
                              "use `tock apply` to update it", job->id);
    else if (tock_redis_streq(st, "stale"))
        return tock_error_set(err, TOCK_ESTALE,
                              "job '%s' is at version %lld, not %lld: it was "
                              "changed concurrently; reload and retry",
                              job->id, (long long)*version, (long long)expect);
    else
        return tock_redis_corrupt(b, "the put reply", err);
    return 0;
}

int tock_redis_job_put(struct tock_store *s, const struct tock_job *job,
                       int64_t next_fire_ms, enum tock_put_mode mode,
                       int64_t expect_version, enum tock_put_outcome *outcome,
                       int64_t *version, struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, mode == TOCK_PUT_CREATE ? "create" : "upsert");
    tock_redis_args_i64(&a, expect_version);
    tock_redis_args_i64(&a, next_fire_ms);
    tock_redis_args_str(&a, job->id);
    def_args(&a, job);
    rc = tock_redis_fcall(b, "put", &a, &r, err);
    if (rc == 0)
        rc = put_outcome(b, r, job, expect_version, outcome, version, err);
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    return rc;
}

/* ------------------------------------------------------------ get, list */

static int no_such_job(const char *id, struct tock_error *err)
{
    return tock_error_set(err, TOCK_ENOENT,
                          "no job '%s'; `tock ls` lists the jobs", id);
}

/* read_cmds fills cmds[0..2) with HGETALL job:<id> and ZSCORE leases id. */
static void read_cmds(const struct tock_redis *b, const char *id,
                      struct tock_redis_args *cmds)
{
    tock_redis_args_init(&cmds[0]);
    tock_redis_args_str(&cmds[0], "HGETALL");
    tock_redis_args_key(&cmds[0], b, "job:", id);
    tock_redis_args_init(&cmds[1]);
    tock_redis_args_str(&cmds[1], "ZSCORE");
    tock_redis_args_key(&cmds[1], b, "leases", NULL);
    tock_redis_args_str(&cmds[1], id);
}

/* state_of reads one job from its HGETALL and ZSCORE replies. *found is
 * false for an empty hash (a job removed meanwhile). */
static int state_of(const struct tock_redis *b, redisReply *const *r,
                    struct tock_job_state *out, bool *found,
                    struct tock_error *err)
{
    int64_t lease = 0;
    int rc;

    *found = false;
    if (r[0]->type == REDIS_REPLY_ERROR || r[1]->type == REDIS_REPLY_ERROR)
        return tock_redis_corrupt(b, "a job read", err);
    if (r[0]->type != REDIS_REPLY_ARRAY || r[0]->elements == 0)
        return 0;
    rc = tock_redis_job_fields(b, r[0], out, err);
    if (rc < 0)
        return rc;
    if (tock_redis_i64(r[1], &lease) && out->owner[0] != '\0')
        out->lease_until_ms = lease;
    *found = true;
    return 0;
}

int tock_redis_job_get(struct tock_store *s, const char *id,
                       struct tock_job_state *out, struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_redis_args cmds[2];
    redisReply *r[2] = {NULL, NULL};
    bool found = false;
    int rc;

    read_cmds(b, id, cmds);
    rc = tock_redis_pipeline(b, cmds, 2, r, "job read", err);
    if (rc == 0)
        rc = state_of(b, r, out, &found, err);
    if (rc == 0 && !found)
        rc = no_such_job(id, err);
    for (int i = 0; i < 2; i++) {
        freeReplyObject(r[i]);
        tock_redis_args_clear(&cmds[i]);
    }
    return rc;
}

static int cmp_state(const void *x, const void *y)
{
    const struct tock_job_state *a = x, *b = y;

    return strcmp(a->job.id, b->job.id);
}

/* list_ids reads the jobs set into a new reply (the caller frees it). */
static int list_ids(struct tock_redis *b, redisReply **ids,
                    struct tock_error *err)
{
    struct tock_redis_args a;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, "SMEMBERS");
    tock_redis_args_key(&a, b, "jobs", NULL);
    rc = tock_redis_command(b, &a, "SMEMBERS jobs", ids, err);
    tock_redis_args_clear(&a);
    if (rc == 0 && (*ids)->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(*ids);
        *ids = NULL;
        rc = tock_redis_corrupt(b, "the jobs set", err);
    }
    return rc;
}

/* read_many reads the jobs of ids[from..to) into list (appending). */
static int read_many(struct tock_redis *b, const redisReply *ids, size_t from,
                     size_t to, struct tock_job_state *list, size_t *count,
                     struct tock_error *err)
{
    size_t n = to - from, k;
    struct tock_redis_args *cmds = tock_calloc(2 * n, sizeof *cmds);
    redisReply **r = tock_calloc(2 * n, sizeof *r);
    char id[TOCK_ID_MAX + 1];
    int rc = 0;

    if (cmds == NULL || r == NULL)
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory listing jobs");
    for (k = 0; rc == 0 && k < n; k++) {
        tock_redis_copy(ids->element[from + k], id, sizeof id);
        read_cmds(b, id, &cmds[2 * k]);
    }
    if (rc == 0)
        rc = tock_redis_pipeline(b, cmds, 2 * n, r, "job list", err);
    for (k = 0; rc == 0 && k < n; k++) {
        bool found = false;
        rc = state_of(b, &r[2 * k], &list[*count], &found, err);
        *count += found;
    }
    for (k = 0; cmds != NULL && r != NULL && k < 2 * n; k++) {
        freeReplyObject(r[k]);
        tock_redis_args_clear(&cmds[k]);
    }
    tock_free(cmds);
    tock_free(r);
    return rc;
}

int tock_redis_job_list(struct tock_store *s, struct tock_job_state **out,
                        size_t *n, struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_job_state *list = NULL;
    redisReply *ids = NULL;
    size_t count = 0;
    int rc = list_ids(b, &ids, err);

    if (rc == 0 && ids->elements > 0) {
        list = tock_calloc(ids->elements, sizeof *list);
        if (list == NULL)
            rc = tock_error_set(err, TOCK_ENOMEM, "out of memory listing jobs");
    }
    for (size_t i = 0; rc == 0 && ids != NULL && i < ids->elements;
         i += TOCK_CLAIM_MAX) {
        size_t to = i + TOCK_CLAIM_MAX < ids->elements ? i + TOCK_CLAIM_MAX
                                                       : ids->elements;
        rc = read_many(b, ids, i, to, list, &count, err);
    }
    freeReplyObject(ids);
    if (rc < 0) {
        tock_job_state_list_free(list, count);
        return rc;
    }
    if (count > 1)
        qsort(list, count, sizeof *list, cmp_state);
    *out = list;
    *n = count;
    return 0;
}

/* -------------------------------------------------------- remove, pause */

/* simple_call runs a function whose reply is {"ok"} or {"enoent"}. */
static int simple_call(struct tock_redis *b, const char *fn, const char *id,
                       struct tock_redis_args *a, struct tock_error *err)
{
    redisReply *r = NULL;
    int rc = tock_redis_fcall(b, fn, a, &r, err);

    if (rc == 0 && tock_redis_streq(tock_redis_elem(r, 0), "enoent"))
        rc = no_such_job(id, err);
    else if (rc == 0 && !tock_redis_streq(tock_redis_elem(r, 0), "ok"))
        rc = tock_redis_corrupt(b, "a job reply", err);
    freeReplyObject(r);
    tock_redis_args_clear(a);
    return rc;
}

int tock_redis_job_remove(struct tock_store *s, const char *id,
                          struct tock_error *err)
{
    struct tock_redis_args a;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, id);
    return simple_call(s->backend, "remove", id, &a, err);
}

int tock_redis_job_set_paused(struct tock_store *s, const char *id,
                              bool paused, int64_t next_fire_ms,
                              struct tock_error *err)
{
    struct tock_redis_args a;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, id);
    tock_redis_args_str(&a, paused ? "1" : "0");
    tock_redis_args_i64(&a, next_fire_ms);
    return simple_call(s->backend, "set_paused", id, &a, err);
}

/* ------------------------------------------------------------- run now */

/* run_prep is step 1 of run now: *now, *sched and the job in *js. */
static int run_prep(struct tock_redis *b, const char *id, int64_t *now,
                    int64_t *sched, struct tock_job_state *js,
                    struct tock_error *err)
{
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, id);
    rc = tock_redis_fcall(b, "run_prep", &a, &r, err);
    tock_redis_args_clear(&a);
    if (rc == 0 && tock_redis_streq(tock_redis_elem(r, 0), "enoent"))
        rc = no_such_job(id, err);
    else if (rc == 0 && (!tock_redis_i64(tock_redis_elem(r, 1), now) ||
                         !tock_redis_i64(tock_redis_elem(r, 2), sched)))
        rc = tock_redis_corrupt(b, "the run_prep reply", err);
    if (rc == 0)
        rc = tock_redis_job_fields(b, tock_redis_elem(r, 3), js, err);
    freeReplyObject(r);
    return rc;
}

/* run_record is step 3: *again when the job or the time changed. */
static int run_record(struct tock_redis *b, const struct tock_job_state *js,
                      int64_t sched, const uint8_t *body, size_t len,
                      bool *again, struct tock_error *err)
{
    struct tock_redis_args a;
    redisReply *r = NULL;
    const redisReply *st;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, js->job.id);
    tock_redis_args_i64(&a, js->job.version);
    tock_redis_args_i64(&a, sched);
    tock_redis_args_str(&a, "");
    tock_redis_args_bin(&a, body, len);
    rc = tock_redis_fcall(b, "run_now", &a, &r, err);
    tock_redis_args_clear(&a);
    st = tock_redis_elem(r, 0);
    *again = rc == 0 && tock_redis_streq(st, "retry");
    if (rc == 0 && tock_redis_streq(st, "enoent"))
        rc = no_such_job(js->job.id, err);
    else if (rc == 0 && !*again && !tock_redis_streq(st, "ok"))
        rc = tock_redis_corrupt(b, "the run_now reply", err);
    freeReplyObject(r);
    return rc;
}

int tock_redis_job_run_now(struct tock_store *s, const char *id,
                           tock_task_builder_fn build, void *ctx,
                           int64_t *sched_ms, struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    bool again = true;
    int rc = 0;

    for (int i = 0; rc == 0 && again && i < RUN_NOW_TRIES; i++) {
        struct tock_job_state js = {0};
        uint8_t *body = NULL;
        size_t len = 0;
        int64_t now = 0;

        rc = run_prep(b, id, &now, sched_ms, &js, err);
        if (rc == 0)
            rc = build(ctx, &js.job, *sched_ms, now, &body, &len, err);
        if (rc == 0 && (body == NULL || len == 0))
            rc = tock_error_set(err, TOCK_EINVAL, "task builder gave no task");
        if (rc == 0)
            rc = run_record(b, &js, *sched_ms, body, len, &again, err);
        tock_free(body);
        tock_job_state_clear(&js);
    }
    if (rc == 0 && again)
        rc = tock_error_set(err, TOCK_EBUSY,
                            "job '%s' kept changing while `tock run` "
                            "prepared its task; try again", id);
    return rc;
}
