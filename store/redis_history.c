/* redis_history.c: run history and events read back from the Redis store.
 *
 * History is written by the library (redis_functions.lua) inside the
 * operations: each state an occurrence reaches appends one entry to
 * tock:{ns}:runs:<job> (dispatched, then a retry's dispatched, then its
 * final state; a missed or skipped occurrence is one entry), capped with
 * MAXLEN ~ 2 x runs_per_job; events go to tock:{ns}:events, capped with
 * MAXLEN ~ events_max. "~" trims whole stream nodes only (cheap, and at
 * least the cap is kept), so a stream holds up to a node's worth
 * (stream-node-max-entries, 100 by default) more than the cap.
 *
 * Reading a job's runs: the newest entries of its runs stream, newest
 * first; the first entry seen of an occurrence is its latest state. A run
 * not yet final is completed from its occurrence hash (running, worker,
 * started_ms live only there). Runs are returned newest scheduled time
 * first, as the SQLite store does. Runs of all jobs: the runs streams are
 * found with SCAN (a CLI read, bounded to SCAN_KEYS_MAX streams).
 */
#include "store/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define SCAN_KEYS_MAX 10000
#define ENTRIES_PER_RUN 3

/* ------------------------------------------------------------- helpers */

static int grow(void **list, size_t *cap, size_t n, size_t size,
                struct tock_error *err)
{
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p;

    if (n < *cap)
        return 0;
    p = tock_realloc(*list, ncap * size);
    if (p == NULL)
        return tock_error_set(err, TOCK_ENOMEM,
                              "out of memory reading history");
    memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
    *list = p;
    *cap = ncap;
    return 0;
}

static int64_t field_i64(const redisReply *f, const char *name, int64_t dflt)
{
    int64_t v;

    return tock_redis_i64(tock_redis_field(f, name), &v) ? v : dflt;
}

/* field_text copies a non-empty text field (NULL otherwise). */
static int field_text(const redisReply *f, const char *name, char **out,
                      struct tock_error *err)
{
    const redisReply *v = tock_redis_field(f, name);

    tock_free(*out);
    *out = NULL;
    if (!tock_redis_is_str(v) || v->len == 0)
        return 0;
    return tock_redis_dup(v, out, err);
}

/* fill_run sets the fields of *r found in `f` (a runs entry's fields or an
 * occurrence hash); fields `f` lacks are left alone. */
static int fill_run(struct tock_run *r, const redisReply *f,
                    struct tock_error *err)
{
    const redisReply *st = tock_redis_field(f, "status");
    const redisReply *out = tock_redis_field(f, "output");
    int rc = 0;

    if (st != NULL)
        tock_redis_copy(st, r->status, sizeof r->status);
    r->sched_ms = field_i64(f, "sched_ms", r->sched_ms);
    r->fired_ms = field_i64(f, "fired_ms", r->fired_ms);
    r->started_ms = field_i64(f, "started_ms", r->started_ms);
    r->finished_ms = field_i64(f, "finished_ms", r->finished_ms);
    r->attempt = (int32_t)field_i64(f, "attempt", r->attempt);
    r->exit_code = (int32_t)field_i64(f, "exit_code", r->exit_code);
    if (tock_redis_field(f, "node") != NULL)
        rc = field_text(f, "node", &r->node, err);
    if (rc == 0 && tock_redis_field(f, "worker") != NULL)
        rc = field_text(f, "worker", &r->worker, err);
    if (rc == 0 && tock_redis_field(f, "error") != NULL)
        rc = field_text(f, "error", &r->error, err);
    if (rc == 0 && tock_redis_is_str(out) && out->len > 0) {
        tock_free(r->output);
        r->output = tock_memdup(out->str, out->len);
        r->output_len = r->output ? out->len : 0;
        if (r->output == NULL)
            rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    return rc;
}

/* ----------------------------------------------------------------- runs */

/* runs_acc: runs being collected, one per occurrence. */
struct runs_acc {
    struct tock_run *list;
    size_t n, cap;
};

static bool seen(const struct runs_acc *acc, const char *occ, size_t len)
{
    for (size_t i = 0; i < acc->n; i++)
        if (strlen(acc->list[i].occ) == len &&
            memcmp(acc->list[i].occ, occ, len) == 0)
            return true;
    return false;
}

/* add_entries adds the runs of one XREVRANGE reply of job `job`. */
static int add_entries(struct runs_acc *acc, const char *job,
                       const redisReply *r, struct tock_error *err)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && r != NULL && i < r->elements; i++) {
        const redisReply *f = tock_redis_elem(r->element[i], 1);
        const redisReply *occ = tock_redis_field(f, "occ");
        struct tock_run *run;

        if (!tock_redis_is_str(occ) || seen(acc, occ->str, occ->len))
            continue;
        if ((rc = grow((void **)&acc->list, &acc->cap, acc->n,
                       sizeof *acc->list, err)) < 0)
            break;
        run = &acc->list[acc->n++];
        run->exit_code = -1;
        run->attempt = 1;
        run->job = tock_strdup(job);
        if ((rc = tock_redis_dup(occ, &run->occ, err)) == 0 &&
            run->job == NULL)
            rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
        if (rc == 0)
            rc = fill_run(run, f, err);
    }
    return rc;
}

/* read_streams reads the newest entries of each runs stream in keys[]. */
static int read_streams(struct tock_redis *b, char **keys, size_t nkeys,
                        size_t limit, struct runs_acc *acc,
                        struct tock_error *err)
{
    size_t plen = strlen(b->prefix) + 5; /* "runs:" */
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < nkeys; i++) {
        struct tock_redis_args a;
        redisReply *r = NULL;

        tock_redis_args_init(&a);
        tock_redis_args_str(&a, "XREVRANGE");
        tock_redis_args_str(&a, keys[i]);
        tock_redis_args_str(&a, "+");
        tock_redis_args_str(&a, "-");
        tock_redis_args_str(&a, "COUNT");
        tock_redis_args_i64(&a, (int64_t)(limit * ENTRIES_PER_RUN + 16));
        rc = tock_redis_command(b, &a, "XREVRANGE runs", &r, err);
        if (rc == 0 && r->type == REDIS_REPLY_ARRAY)
            rc = add_entries(acc, keys[i] + plen, r, err);
        freeReplyObject(r);
        tock_redis_args_clear(&a);
    }
    return rc;
}

/* complete_live fills runs that are not final from their occurrence
 * hashes (one pipelined HGETALL each). */
static int complete_live(struct tock_redis *b, struct runs_acc *acc,
                         struct tock_error *err)
{
    struct tock_redis_args *cmds = tock_calloc(acc->n + 1, sizeof *cmds);
    redisReply **r = tock_calloc(acc->n + 1, sizeof *r);
    size_t *which = tock_calloc(acc->n + 1, sizeof *which);
    size_t k = 0;
    int rc = cmds && r && which ? 0 : tock_error_set(err, TOCK_ENOMEM,
                                                     "out of memory");

    for (size_t i = 0; rc == 0 && i < acc->n; i++) {
        if (strcmp(acc->list[i].status, "dispatched") != 0 &&
            strcmp(acc->list[i].status, "running") != 0)
            continue;
        tock_redis_args_init(&cmds[k]);
        tock_redis_args_str(&cmds[k], "HGETALL");
        tock_redis_args_key(&cmds[k], b, "occ:", acc->list[i].occ);
        which[k++] = i;
    }
    if (rc == 0 && k > 0)
        rc = tock_redis_pipeline(b, cmds, k, r, "runs", err);
    for (size_t j = 0; rc == 0 && j < k; j++)
        if (r[j]->type == REDIS_REPLY_ARRAY && r[j]->elements > 0)
            rc = fill_run(&acc->list[which[j]], r[j], err);
    for (size_t j = 0; cmds && r && j < k; j++) {
        freeReplyObject(r[j]);
        tock_redis_args_clear(&cmds[j]);
    }
    tock_free(cmds);
    tock_free(r);
    tock_free(which);
    return rc;
}

/* scan_runs_keys finds every runs stream of the namespace. */
static int scan_runs_keys(struct tock_redis *b, char ***keys, size_t *n,
                          struct tock_error *err)
{
    char cursor[32] = "0";
    size_t cap = 0;
    int rc = 0;

    do {
        struct tock_redis_args a;
        redisReply *r = NULL;
        const redisReply *ks;

        tock_redis_args_init(&a);
        tock_redis_args_str(&a, "SCAN");
        tock_redis_args_str(&a, cursor);
        tock_redis_args_str(&a, "MATCH");
        tock_redis_args_key(&a, b, "runs:*", NULL);
        tock_redis_args_str(&a, "COUNT");
        tock_redis_args_str(&a, "1000");
        rc = tock_redis_command(b, &a, "SCAN", &r, err);
        tock_redis_args_clear(&a);
        ks = tock_redis_elem(r, 1);
        if (rc == 0 && (ks == NULL || ks->type != REDIS_REPLY_ARRAY))
            rc = tock_redis_corrupt(b, "a SCAN reply", err);
        if (rc == 0)
            tock_redis_copy(tock_redis_elem(r, 0), cursor, sizeof cursor);
        for (size_t i = 0; rc == 0 && i < ks->elements && *n < SCAN_KEYS_MAX;
             i++) {
            if ((rc = grow((void **)keys, &cap, *n, sizeof **keys, err)) == 0)
                rc = tock_redis_dup(ks->element[i], &(*keys)[(*n)++], err);
        }
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0 && *n < SCAN_KEYS_MAX);
    return rc;
}

static int cmp_run(const void *x, const void *y)
{
    const struct tock_run *a = x, *b = y;

    if (a->sched_ms != b->sched_ms)
        return a->sched_ms > b->sched_ms ? -1 : 1;
    return -strcmp(a->occ, b->occ);
}

int tock_redis_runs(struct tock_store *s, const char *job_id, size_t limit,
                    struct tock_run **out, size_t *n, struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct runs_acc acc = {0};
    char **keys = NULL;
    size_t nkeys = 0;
    int rc = 0;

    if (job_id != NULL) {
        keys = tock_calloc(1, sizeof *keys);
        if (keys != NULL)
            keys[0] = tock_malloc(strlen(b->prefix) + strlen(job_id) + 6);
        if (keys == NULL || keys[0] == NULL)
            rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
        else
            sprintf(keys[nkeys++], "%sruns:%s", b->prefix, job_id);
    } else {
        rc = scan_runs_keys(b, &keys, &nkeys, err);
    }
    if (rc == 0)
        rc = read_streams(b, keys, nkeys, limit, &acc, err);
    if (rc == 0)
        rc = complete_live(b, &acc, err);
    for (size_t i = 0; i < nkeys; i++)
        tock_free(keys[i]);
    tock_free(keys);
    if (rc < 0) {
        tock_run_list_free(acc.list, acc.n);
        return rc;
    }
    if (acc.n > 1)
        qsort(acc.list, acc.n, sizeof *acc.list, cmp_run);
    for (size_t i = limit; i < acc.n; i++) {
        tock_free(acc.list[i].job);
        tock_free(acc.list[i].occ);
        tock_free(acc.list[i].node);
        tock_free(acc.list[i].worker);
        tock_free(acc.list[i].error);
        tock_free(acc.list[i].output);
    }
    *out = acc.list;
    *n = acc.n < limit ? acc.n : limit;
    return 0;
}

/* --------------------------------------------------------------- events */

static int event_of(const struct tock_redis *b, const redisReply *entry,
                    struct tock_event *ev, int64_t *id,
                    struct tock_error *err)
{
    const redisReply *sid = tock_redis_elem(entry, 0);
    const redisReply *f = tock_redis_elem(entry, 1);
    const redisReply *type = tock_redis_field(f, "type");
    int rc;

    if (!tock_redis_is_str(sid) ||
        !tock_redis_sid_pack(sid->str, sid->len, id) ||
        !tock_redis_is_str(type) ||
        tock_event_type_parse(type->str, type->len, &ev->type) < 0)
        return tock_redis_corrupt(b, "an entry of the events stream", err);
    ev->ts_ms = field_i64(f, "ts_ms", 0);
    if ((rc = field_text(f, "job", &ev->job, err)) < 0 ||
        (rc = field_text(f, "occ", &ev->occ, err)) < 0 ||
        (rc = field_text(f, "node", &ev->node, err)) < 0 ||
        (rc = field_text(f, "detail", &ev->detail, err)) < 0)
        return rc;
    return 0;
}

int tock_redis_events(struct tock_store *s, int64_t after_id, size_t limit,
                      struct tock_event **out, int64_t **ids, size_t *n,
                      struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_event *list = NULL;
    int64_t *idv = NULL;
    struct tock_redis_args a;
    redisReply *r = NULL;
    char from[64] = "-";
    size_t count = 0;
    int rc;

    if (after_id > 0) {
        from[0] = '(';
        tock_redis_sid_format(after_id, from + 1, sizeof from - 1);
    }
    tock_redis_args_init(&a);
    tock_redis_args_str(&a, "XRANGE");
    tock_redis_args_key(&a, b, "events", NULL);
    tock_redis_args_str(&a, from);
    tock_redis_args_str(&a, "+");
    tock_redis_args_str(&a, "COUNT");
    tock_redis_args_i64(&a, (int64_t)limit);
    rc = tock_redis_command(b, &a, "XRANGE events", &r, err);
    tock_redis_args_clear(&a);
    if (rc == 0 && r->type != REDIS_REPLY_ARRAY)
        rc = tock_redis_corrupt(b, "the events stream", err);
    if (rc == 0 && r->elements > 0) {
        list = tock_calloc(r->elements, sizeof *list);
        idv = tock_calloc(r->elements, sizeof *idv);
        if (list == NULL || idv == NULL)
            rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < r->elements; i++, count++)
        rc = event_of(b, r->element[i], &list[i], &idv[i], err);
    freeReplyObject(r);
    if (rc < 0) {
        tock_event_list_free(list, idv, count);
        return rc;
    }
    *out = list;
    *ids = idv;
    *n = count;
    return 0;
}
