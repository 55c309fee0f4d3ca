/* redis_tasks.c: at-least-once execution on Redis streams: take, touch,
 * report, reclaim, release.
 *
 * Each call is one FCALL of tock_v1 (f_take, f_touch, f_report, f_reclaim,
 * f_task_release in redis_functions.lua; numbered steps in store/redis.c).
 * A task is one entry of the stream tock:{ns}:q:<queue>, read through the
 * consumer group "workers"; its store.h id is the entry id packed as
 * ms * 2^20 + seq (tock_redis_sid_pack). The fence of a worker's touch and
 * report is the PEL: XPENDING must show the entry held by that consumer
 * with that delivery count.
 *
 * Retries. The library cannot re-encode a msgpack task (Lua's cmsgpack
 * would rewrite the args, which are kept byte for byte), so for a report
 * of an error or timeout that has retries left, the C side prepares the
 * next attempt's task before the call: it reads the occurrence record, the
 * entry and Redis' time, decodes the task, sets attempt+1 and fire_ms = the
 * retry's due time, encodes it, and picks the back-off (base * 2^(attempt-1)
 * capped at 1 h, plus up to a quarter of it as jitter). The function uses
 * that body only if it still accepts the report as a retry of exactly that
 * attempt.
 */
#include "store/redis.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/codec.h"

#define BACKOFF_CAP_MS (3600LL * 1000)

/* ---------------------------------------------------------------- take */

static int lease_of(const struct tock_redis *b, const redisReply *it,
                    struct tock_task_lease *l, struct tock_error *err)
{
    const redisReply *sid = tock_redis_elem(it, 0);
    const redisReply *body = tock_redis_elem(it, 5);
    int64_t attempt = 0, deliveries = 0;
    int rc;

    if (!tock_redis_is_str(sid) ||
        !tock_redis_sid_pack(sid->str, sid->len, &l->task_id) ||
        !tock_redis_i64(tock_redis_elem(it, 3), &attempt) ||
        !tock_redis_i64(tock_redis_elem(it, 4), &deliveries) ||
        !tock_redis_is_str(body))
        return tock_redis_corrupt(b, "the take reply", err);
    l->attempt = (int32_t)attempt;
    l->deliveries = (int32_t)deliveries;
    if ((rc = tock_redis_dup(tock_redis_elem(it, 1), &l->queue, err)) < 0 ||
        (rc = tock_redis_dup(tock_redis_elem(it, 2), &l->occ, err)) < 0)
        return rc;
    l->body = tock_memdup(body->str, body->len);
    l->body_len = body->len;
    if (l->body == NULL || l->queue == NULL || l->occ == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    return 0;
}

int tock_redis_task_take(struct tock_store *s, const char *const *queues,
                         size_t nqueues, const char *consumer, size_t max,
                         int64_t lease_ms, struct tock_task_lease **out,
                         size_t *n, struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_task_lease *list = NULL;
    struct tock_redis_args a;
    redisReply *r = NULL;
    size_t count = 0;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, consumer);
    tock_redis_args_i64(&a, (int64_t)max);
    tock_redis_args_i64(&a, lease_ms);
    tock_redis_args_i64(&a, (int64_t)nqueues);
    for (size_t i = 0; i < nqueues; i++)
        tock_redis_args_str(&a, queues[i]);
    rc = tock_redis_fcall(b, "take", &a, &r, err);
    tock_redis_args_clear(&a);
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements > max))
        rc = tock_redis_corrupt(b, "the take reply", err);
    if (rc == 0 && r->elements > 0 &&
        (list = tock_calloc(r->elements, sizeof *list)) == NULL)
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < r->elements; i++) {
        rc = lease_of(b, r->element[i], &list[i], err);
        count++;
    }
    freeReplyObject(r);
    if (rc < 0) {
        /* The tasks are handed out in Redis: their leases lapse and they
         * are redelivered, as if this worker had died. */
        tock_task_lease_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

/* --------------------------------------------------------------- touch */

int tock_redis_task_touch(struct tock_store *s, const char *consumer,
                          const int64_t *ids, const int32_t *deliveries,
                          size_t n, int64_t lease_ms, bool *ok,
                          struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, consumer);
    tock_redis_args_i64(&a, lease_ms);
    tock_redis_args_i64(&a, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        tock_redis_args_sid(&a, ids[i]);
        tock_redis_args_i64(&a, deliveries[i]);
    }
    rc = tock_redis_fcall(b, "touch", &a, &r, err);
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != n))
        rc = tock_redis_corrupt(b, "the touch reply", err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        ok[i] = r->element[i]->type == REDIS_REPLY_INTEGER &&
                r->element[i]->integer == 1;
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    return rc;
}

/* -------------------------------------------------------------- report */

/* retry_prep: the next attempt of one failed report, prepared in C. */
struct retry_prep {
    int32_t attempt;  /* the attempt the body is for; 0: no retry */
    uint8_t *body;    /* owned */
    size_t len;
    int64_t delay_ms;
};

/* backoff_ms: base * 2^(attempt-1), capped, plus up to a quarter of it. */
static int64_t backoff_ms(struct tock_redis *b, int64_t base, int64_t attempt)
{
    int64_t d = base;

    for (int64_t i = 1; i < attempt && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    if (d <= 0)
        return 0;
    return d + (int64_t)(tock_redis_random(b) % (uint64_t)(d / 4 + 1));
}

static bool wants_retry(const struct tock_result *r)
{
    return r->status == TOCK_STATUS_ERROR || r->status == TOCK_STATUS_TIMEOUT;
}

/* retry_body re-encodes the task `entry` (a stream entry's fields) as
 * attempt `attempt` fired at `fire_ms`. Returns false when it cannot (then
 * the failure is final, as the SQLite store does). */
static bool retry_body(const redisReply *entry, int32_t attempt,
                       int64_t fire_ms, struct retry_prep *p)
{
    const redisReply *fields = tock_redis_elem(entry, 1);
    const redisReply *body = tock_redis_field(fields, "body");
    struct tock_task task = {0};
    struct tock_error ignored;
    bool ok;

    if (!tock_redis_is_str(body) ||
        tock_proto_decode_task((const uint8_t *)body->str, body->len, NULL,
                               &task, &ignored) < 0)
        return false;
    task.attempt = attempt;
    if (fire_ms > task.fire_ms)
        task.fire_ms = fire_ms;
    ok = tock_proto_encode_task(&task, &p->body, &p->len, &ignored) == 0;
    tock_task_clear(&task);
    return ok;
}

/* prep_one decides from the occurrence record `occ` (HMGET attempt retries
 * retry_backoff_ms queue stream_id) whether report `rp` may become a retry,
 * and adds the XRANGE of its entry to cmds when so. */
static void prep_one(struct tock_redis *b, const struct tock_report *rp,
                     const redisReply *occ, struct retry_prep *p,
                     struct tock_redis_args *xr)
{
    int64_t attempt = 0, retries = 0, base = 0;
    char sid[48], queue[TOCK_ID_MAX + 1];

    tock_redis_sid_format(rp->task_id, sid, sizeof sid);
    tock_redis_copy(tock_redis_elem(occ, 3), queue, sizeof queue);
    if (!tock_redis_i64(tock_redis_elem(occ, 0), &attempt) ||
        !tock_redis_i64(tock_redis_elem(occ, 1), &retries) ||
        !tock_redis_streq(tock_redis_elem(occ, 4), sid) ||
        attempt > retries || queue[0] == '\0')
        return;
    tock_redis_i64(tock_redis_elem(occ, 2), &base);
    p->attempt = (int32_t)attempt + 1;
    p->delay_ms = backoff_ms(b, base, attempt);
    tock_redis_args_str(xr, "XRANGE");
    tock_redis_args_key(xr, b, "q:", queue);
    tock_redis_args_sid(xr, rp->task_id);
    tock_redis_args_sid(xr, rp->task_id);
}

/* read_occs is round 1 of the preparation: every failed report's
 * occurrence record, and Redis' time (last reply). */
static int read_occs(struct tock_redis *b, const struct tock_report *reports,
                     size_t n, redisReply **r, struct tock_error *err)
{
    struct tock_redis_args *cmds = tock_calloc(n + 1, sizeof *cmds);
    int rc;

    if (cmds == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        tock_redis_args_init(&cmds[i]);
        tock_redis_args_str(&cmds[i], "HMGET");
        tock_redis_args_key(&cmds[i], b, "occ:", reports[i].result->occ);
        tock_redis_args_str(&cmds[i], "attempt");
        tock_redis_args_str(&cmds[i], "retries");
        tock_redis_args_str(&cmds[i], "retry_backoff_ms");
        tock_redis_args_str(&cmds[i], "queue");
        tock_redis_args_str(&cmds[i], "stream_id");
    }
    tock_redis_args_init(&cmds[n]);
    tock_redis_args_str(&cmds[n], "TIME");
    rc = tock_redis_pipeline(b, cmds, n + 1, r, "report", err);
    for (size_t i = 0; i <= n; i++)
        tock_redis_args_clear(&cmds[i]);
    tock_free(cmds);
    return rc;
}

static int64_t time_ms(const redisReply *t)
{
    int64_t sec = 0, usec = 0;

    if (!tock_redis_i64(tock_redis_elem(t, 0), &sec) ||
        !tock_redis_i64(tock_redis_elem(t, 1), &usec))
        return 0;
    return sec * 1000 + usec / 1000;
}

/* read_entries is round 2: the entries of the reports that may retry, and
 * the retry bodies built from them. */
static int read_entries(struct tock_redis *b, const redisReply *const *occs,
                        const struct tock_report *reports, size_t n,
                        int64_t now, struct retry_prep *prep,
                        struct tock_error *err)
{
    struct tock_redis_args *xr = tock_calloc(n, sizeof *xr);
    redisReply **r = tock_calloc(n, sizeof *r);
    size_t k = 0, *which = tock_calloc(n, sizeof *which);
    int rc = 0;

    if (xr == NULL || r == NULL || which == NULL)
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!wants_retry(reports[i].result))
            continue;
        tock_redis_args_init(&xr[k]);
        prep_one(b, &reports[i], occs[i], &prep[i], &xr[k]);
        if (prep[i].attempt > 0)
            which[k++] = i;
    }
    if (rc == 0 && k > 0)
        rc = tock_redis_pipeline(b, xr, k, r, "report", err);
    for (size_t j = 0; rc == 0 && j < k; j++) {
        struct retry_prep *p = &prep[which[j]];
        if (!retry_body(tock_redis_elem(r[j], 0), p->attempt,
                        now + p->delay_ms, p))
            p->attempt = 0;
    }
    for (size_t j = 0; xr != NULL && j < n; j++) {
        if (r != NULL)
            freeReplyObject(r[j]);
        tock_redis_args_clear(&xr[j]);
    }
    tock_free(xr);
    tock_free(r);
    tock_free(which);
    return rc;
}

/* prepare_retries fills prep[] for the reports that may become retries. */
static int prepare_retries(struct tock_redis *b,
                           const struct tock_report *reports, size_t n,
                           struct retry_prep *prep, struct tock_error *err)
{
    redisReply **r;
    bool any = false;
    int rc;

    for (size_t i = 0; i < n; i++)
        any = any || wants_retry(reports[i].result);
    if (!any)
        return 0;
    r = tock_calloc(n + 1, sizeof *r);
    if (r == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    rc = read_occs(b, reports, n, r, err);
    if (rc == 0)
        rc = read_entries(b, (const redisReply *const *)r, reports, n,
                          time_ms(r[n]), prep, err);
    for (size_t i = 0; i <= n; i++)
        freeReplyObject(r[i]);
    tock_free(r);
    return rc;
}

/* report_args adds one report in the order of R_* in redis_functions.lua;
 * *body is its encoded result (for the results stream), owned by the
 * caller. */
static int report_args(struct tock_redis_args *a, const struct tock_report *rp,
                       const struct retry_prep *p, uint8_t **body, size_t *len,
                       struct tock_error *err)
{
    const struct tock_result *r = rp->result;
    int rc = tock_proto_encode_result(r, body, len, err);

    if (rc < 0)
        return rc;
    tock_redis_args_sid(a, rp->task_id);
    tock_redis_args_i64(a, rp->deliveries);
    tock_redis_args_str(a, r->occ);
    tock_redis_args_str(a, tock_status_name(r->status));
    tock_redis_args_str(a, r->worker);
    tock_redis_args_i64(a, r->started_ms);
    tock_redis_args_i64(a, r->finished_ms);
    tock_redis_args_i64(a, r->exit_code);
    tock_redis_args_str(a, r->error ? r->error : "");
    tock_redis_args_bin(a, r->output ? r->output : (const uint8_t *)"",
                        r->output ? r->output_len : 0);
    tock_redis_args_bin(a, *body, *len);
    tock_redis_args_i64(a, p->attempt);
    tock_redis_args_bin(a, p->body ? p->body : (const uint8_t *)"",
                        p->body ? p->len : 0);
    tock_redis_args_i64(a, p->delay_ms);
    return 0;
}

static const struct {
    const char *name;
    enum tock_report_status status;
} report_names[] = {
    {"ok", TOCK_REPORT_OK},
    {"dup_ok", TOCK_REPORT_DUP_OK},
    {"late", TOCK_REPORT_LATE},
    {"stale", TOCK_REPORT_STALE},
};

static int report_reply(const struct tock_redis *b, const redisReply *r,
                        size_t n, enum tock_report_status *status,
                        struct tock_error *err)
{
    const redisReply *st = tock_redis_elem(r, 1);

    if (tock_redis_streq(tock_redis_elem(r, 0), "einval")) {
        char msg[200];
        tock_redis_copy(st, msg, sizeof msg);
        return tock_error_set(err, TOCK_EINVAL, "%s", msg);
    }
    if (!tock_redis_streq(tock_redis_elem(r, 0), "ok") || st == NULL ||
        st->type != REDIS_REPLY_ARRAY || st->elements != n)
        return tock_redis_corrupt(b, "the report reply", err);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < 4 && !tock_redis_streq(st->element[i], report_names[k].name))
            k++;
        if (k == 4)
            return tock_redis_corrupt(b, "the report reply", err);
        status[i] = report_names[k].status;
    }
    return 0;
}

int tock_redis_task_report(struct tock_store *s, const char *consumer,
                           const struct tock_report *reports, size_t n,
                           enum tock_report_status *status,
                           struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct retry_prep *prep = tock_calloc(n, sizeof *prep);
    uint8_t **bodies = tock_calloc(n, sizeof *bodies);
    struct tock_redis_args a;
    redisReply *r = NULL;
    size_t len;
    int rc = prep && bodies ? 0 : tock_error_set(err, TOCK_ENOMEM,
                                                 "out of memory");

    tock_redis_args_init(&a);
    if (rc == 0)
        rc = prepare_retries(b, reports, n, prep, err);
    tock_redis_args_str(&a, consumer);
    tock_redis_args_i64(&a, (int64_t)n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = report_args(&a, &reports[i], &prep[i], &bodies[i], &len, err);
    if (rc == 0)
        rc = tock_redis_fcall(b, "report", &a, &r, err);
    if (rc == 0)
        rc = report_reply(b, r, n, status, err);
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    for (size_t i = 0; prep != NULL && bodies != NULL && i < n; i++) {
        tock_free(prep[i].body);
        tock_free(bodies[i]);
    }
    tock_free(prep);
    tock_free(bodies);
    return rc;
}

/* ------------------------------------------------------------- reclaim */

int tock_redis_task_reclaim(struct tock_store *s, size_t limit,
                            size_t *n_redelivered, size_t *n_dead,
                            struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_redis_args a;
    redisReply *r = NULL;
    int64_t red = 0, dead = 0;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_i64(&a, (int64_t)(limit < TOCK_CLAIM_MAX ? limit
                                                             : TOCK_CLAIM_MAX));
    rc = tock_redis_fcall(b, "reclaim", &a, &r, err);
    if (rc == 0 && (!tock_redis_i64(tock_redis_elem(r, 0), &red) ||
                    !tock_redis_i64(tock_redis_elem(r, 1), &dead)))
        rc = tock_redis_corrupt(b, "the reclaim reply", err);
    *n_redelivered = (size_t)red;
    *n_dead = (size_t)dead;
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    return rc;
}

/* ------------------------------------------------------------- release */

int tock_redis_task_release(struct tock_store *s, const char *consumer,
                            const int64_t *ids, size_t n,
                            struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    tock_redis_args_str(&a, consumer);
    tock_redis_args_i64(&a, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        tock_redis_args_sid(&a, ids[i]);
    rc = tock_redis_fcall(b, "task_release", &a, &r, err);
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    return rc;
}
