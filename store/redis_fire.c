/* redis_fire.c: exactly-once firing on Redis: claim, commit, release.
 *
 * Each call is one FCALL of tock_v1 (f_claim, f_commit, f_release in
 * redis_functions.lua); the numbered steps are in store/redis.c. This file
 * packs the arguments and reads the replies. A commit batch is one call:
 * one round trip and one atomic step for up to TOCK_CLAIM_MAX items, each
 * fenced on its own.
 */
#include "store/redis.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

/* --------------------------------------------------------------- claim */

/* claimed_of fills *c from one claimed job's hash. */
static int claimed_of(const struct tock_redis *b, const redisReply *h,
                      struct tock_claimed *c, struct tock_error *err)
{
    struct tock_job_state js;
    int rc = tock_redis_job_fields(b, h, &js, err);

    if (rc < 0)
        return rc;
    c->job = js.job; /* moves the owned members */
    c->sched_ms = js.next_fire_ms;
    c->fired_ms = js.fired_ms;
    c->epoch = js.epoch;
    c->running = js.running;
    snprintf(c->token, sizeof c->token, "%s", js.owner);
    return 0;
}

static int claim_reply(const struct tock_redis *b, const redisReply *r,
                       size_t limit, struct tock_claim_batch *out,
                       struct tock_error *err)
{
    const redisReply *items = tock_redis_elem(r, 3);
    int64_t reclaimed = 0;

    if (!tock_redis_i64(tock_redis_elem(r, 0), &out->now_ms) ||
        !tock_redis_i64(tock_redis_elem(r, 1), &reclaimed) ||
        !tock_redis_i64(tock_redis_elem(r, 2), &out->next_due_ms) ||
        items == NULL || items->type != REDIS_REPLY_ARRAY ||
        items->elements > limit)
        return tock_redis_corrupt(b, "the claim reply", err);
    out->reclaimed = (size_t)reclaimed;
    if (items->elements == 0)
        return 0;
    out->items = tock_calloc(items->elements, sizeof *out->items);
    if (out->items == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (size_t i = 0; i < items->elements; i++) {
        int rc = claimed_of(b, items->element[i], &out->items[out->n], err);
        if (rc < 0)
            return rc;
        out->n++;
    }
    return 0;
}

int tock_redis_claim(struct tock_store *s, const char *node_nonce,
                     size_t limit, int64_t lease_ms,
                     struct tock_claim_batch *out, struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, node_nonce);
    tock_redis_args_i64(&a, (int64_t)limit);
    tock_redis_args_i64(&a, lease_ms);
    rc = tock_redis_fcall(b, "claim", &a, &r, err);
    if (rc == 0)
        rc = claim_reply(b, r, limit, out, err);
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    if (rc < 0)
        tock_claim_batch_clear(out);
    return rc;
}

/* -------------------------------------------------------------- commit */

/* commit_args adds one item in the order of C_* in redis_functions.lua. */
static void commit_args(struct tock_redis_args *a, const struct tock_commit *c)
{
    tock_redis_args_str(a, c->job_id);
    tock_redis_args_str(a, c->token);
    tock_redis_args_i64(a, c->epoch);
    tock_redis_args_i64(a, c->version);
    tock_redis_args_i64(a, c->sched_ms);
    tock_redis_args_str(a, c->decision == TOCK_DECIDE_FIRE ? "fire" : "miss");
    tock_redis_args_i64(a, c->next_ms);
    tock_redis_args_i64(a, c->misfire_grace_ms);
    tock_redis_args_str(a, c->node ? c->node : "");
    tock_redis_args_str(a, c->miss_reason ? c->miss_reason : "misfire_grace");
    tock_redis_args_i64(a, (int64_t)c->n_missed);
    for (size_t i = 0; i < c->n_missed; i++)
        tock_redis_args_i64(a, c->missed[i]);
    tock_redis_args_bin(a, c->task ? c->task : (const uint8_t *)"",
                        c->task ? c->task_len : 0);
}

static const struct {
    const char *name;
    enum tock_commit_status status;
} commit_names[] = {
    {"ok", TOCK_COMMIT_OK},           {"missed", TOCK_COMMIT_MISSED},
    {"skipped", TOCK_COMMIT_SKIPPED}, {"already", TOCK_COMMIT_ALREADY},
    {"stale", TOCK_COMMIT_STALE},     {"changed", TOCK_COMMIT_CHANGED},
    {"duplicate", TOCK_COMMIT_DUPLICATE}, {"gone", TOCK_COMMIT_GONE},
};

static bool commit_result(const redisReply *item,
                          struct tock_commit_result *res)
{
    const redisReply *st = tock_redis_elem(item, 0);
    const redisReply *sid = tock_redis_elem(item, 1);

    res->task_id = 0;
    if (sid == NULL || !tock_redis_is_str(sid) ||
        (sid->len > 0 && !tock_redis_sid_pack(sid->str, sid->len,
                                               &res->task_id)))
        return false;
    for (size_t i = 0; i < sizeof commit_names / sizeof commit_names[0]; i++)
        if (tock_redis_streq(st, commit_names[i].name)) {
            res->status = commit_names[i].status;
            return true;
        }
    return false;
}

int tock_redis_commit(struct tock_store *s, const struct tock_commit *commits,
                      size_t n, struct tock_commit_result *results,
                      struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_i64(&a, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        commit_args(&a, &commits[i]);
    rc = tock_redis_fcall(b, "commit", &a, &r, err);
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != n))
        rc = tock_redis_corrupt(b, "the commit reply", err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!commit_result(r->element[i], &results[i]))
            rc = tock_redis_corrupt(b, "the commit reply", err);
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    return rc;
}

/* ------------------------------------------------------------- release */

int tock_redis_release(struct tock_store *s, const struct tock_claimed *items,
                       size_t n, struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_i64(&a, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        tock_redis_args_str(&a, items[i].job.id);
        tock_redis_args_str(&a, items[i].token);
    }
    rc = tock_redis_fcall(b, "release", &a, &r, err);
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    return rc;
}
