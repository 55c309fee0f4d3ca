/* decide.c: the claim -> commit decision (decide.h): triggers cached per
 * job version, the due list, misfire grace, coalesce, jitter, the task. */
#include "scheduler/decide.h"

#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "scheduler/tz.h"

/* ------------------------------------------------------------- the cache */

struct cache_entry {
    struct cache_entry *next; /* bucket chain */
    uint64_t hash;
    char *id;
    int64_t version;
    struct tock_trigger *trigger; /* NULL when the parse failed */
    struct tock_error err;        /* the parse error */
    bool reported;                /* err was returned once already */
};

struct tock_decide_cache {
    struct cache_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t max;
};

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void entry_free(struct cache_entry *e)
{
    tock_trigger_free(e->trigger);
    tock_free(e->id);
    tock_free(e);
}

static void cache_drop_all(struct tock_decide_cache *c)
{
    size_t i;

    for (i = 0; i < c->nbuckets; i++) {
        while (c->buckets[i] != NULL) {
            struct cache_entry *e = c->buckets[i];

            c->buckets[i] = e->next;
            entry_free(e);
        }
    }
    c->count = 0;
}

struct tock_decide_cache *tock_decide_cache_new(size_t max)
{
    struct tock_decide_cache *c = tock_calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->max = max > 0 ? max : TOCK_DECIDE_CACHE_MAX;
    c->nbuckets = 64;
    c->buckets = tock_calloc(c->nbuckets, sizeof *c->buckets);
    if (c->buckets == NULL) {
        tock_free(c);
        return NULL;
    }
    return c;
}

void tock_decide_cache_free(struct tock_decide_cache *c)
{
    if (c == NULL)
        return;
    cache_drop_all(c);
    tock_free(c->buckets);
    tock_free(c);
}

size_t tock_decide_cache_size(const struct tock_decide_cache *c)
{
    return c != NULL ? c->count : 0;
}

/* cache_grow doubles the bucket array when the load passes 1. Failing to
 * grow is harmless (chains get longer), so it reports nothing. */
static void cache_grow(struct tock_decide_cache *c)
{
    size_t n = c->nbuckets * 2, i;
    struct cache_entry **b;

    if (c->count <= c->nbuckets)
        return;
    b = tock_calloc(n, sizeof *b);
    if (b == NULL)
        return;
    for (i = 0; i < c->nbuckets; i++) {
        while (c->buckets[i] != NULL) {
            struct cache_entry *e = c->buckets[i];

            c->buckets[i] = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    tock_free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

static struct cache_entry *cache_find(struct tock_decide_cache *c,
                                      const char *id, uint64_t h)
{
    struct cache_entry *e = c->buckets[h & (c->nbuckets - 1)];

    for (; e != NULL; e = e->next) {
        if (e->hash == h && strcmp(e->id, id) == 0)
            return e;
    }
    return NULL;
}

/* trigger_build parses the job's trigger text, bounds it and anchors it.
 * *out is a new trigger the caller frees. */
static int trigger_build(const struct tock_job *job, int64_t anchor_ms,
                         struct tock_trigger **out, struct tock_error *err)
{
    struct tock_trigger *t = NULL;
    int64_t start = job->start_ms > 0 ? job->start_ms : TOCK_TIME_MIN_MS;
    int64_t end = job->end_ms > 0 ? job->end_ms : TOCK_TIME_MAX_MS;
    int rc;

    *out = NULL;
    if (job->trigger == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "job '%.128s' has no trigger; edit the job",
                              job->id);
    rc = tock_trigger_parse(job->trigger, &t, err);
    if (rc == 0)
        rc = tock_trigger_set_bounds(t, start, end, err);
    if (rc != 0) {
        tock_trigger_free(t);
        return tock_error_prefix(err, "job '%.128s' trigger", job->id);
    }
    /* An unanchored interval is anchored at the claimed occurrence: the
     * occurrences are then T + k*period, the grid the store's next_fire_ms
     * is already on (the job's add time + period). */
    if (!tock_trigger_is_anchored(t))
        tock_trigger_anchor(t, anchor_ms);
    *out = t;
    return 0;
}

/* cache_put stores a new entry for (id, version) with the build result,
 * replacing an older version's entry `old` (may be NULL). */
static struct cache_entry *cache_put(struct tock_decide_cache *c,
                                     struct cache_entry *old,
                                     const struct tock_job *job, uint64_t h,
                                     int64_t anchor_ms)
{
    struct cache_entry *e = old;

    if (e == NULL) {
        if (c->count >= c->max)
            cache_drop_all(c);
        e = tock_calloc(1, sizeof *e);
        if (e == NULL || (e->id = tock_strdup(job->id)) == NULL) {
            tock_free(e);
            return NULL;
        }
        e->hash = h;
        e->next = c->buckets[h & (c->nbuckets - 1)];
        c->buckets[h & (c->nbuckets - 1)] = e;
        c->count++;
        cache_grow(c);
    } else {
        tock_trigger_free(e->trigger);
        e->trigger = NULL;
    }
    e->version = job->version;
    e->reported = false;
    tock_error_clear(&e->err);
    (void)trigger_build(job, anchor_ms, &e->trigger, &e->err);
    return e;
}

int tock_decide_trigger(struct tock_decide_cache *c, const struct tock_job *job,
                        int64_t anchor_ms, struct tock_trigger **out,
                        bool *first, struct tock_error *err)
{
    struct cache_entry *e;
    uint64_t h;

    *out = NULL;
    if (first != NULL)
        *first = true;
    if (c == NULL)
        return trigger_build(job, anchor_ms, out, err);
    h = hash_id(job->id);
    e = cache_find(c, job->id, h);
    if (e == NULL || e->version != job->version)
        e = cache_put(c, e, job, h, anchor_ms);
    if (e == NULL)
        return tock_error_set(err, TOCK_ENOMEM,
                              "out of memory caching the trigger of job "
                              "'%.128s'", job->id);
    if (e->trigger == NULL) {
        if (first != NULL)
            *first = !e->reported;
        e->reported = true;
        if (err != NULL)
            *err = e->err;
        return e->err.code != 0 ? e->err.code : TOCK_EINTERNAL;
    }
    *out = e->trigger;
    return 0;
}

/* ----------------------------------------------------------- the due list */

/* due_list: the claimed occurrence and the later ones already due. */
struct due_list {
    int64_t *at;   /* ascending, all <= now (bar the first: see below) */
    size_t n;
    int64_t after; /* first occurrence after at[n-1]; -1: finished */
};

/* due_enumerate fills *d with T = c->sched_ms and its successors <= now, at
 * most TOCK_MISSED_MAX + 1 of them. T itself is always listed: the store
 * claimed it as due, on its own clock. */
static int due_enumerate(const struct tock_trigger *t, int64_t sched_ms,
                         int64_t now_ms, struct due_list *d,
                         struct tock_error *err)
{
    const size_t cap = (size_t)TOCK_MISSED_MAX + 1;
    int64_t o = sched_ms, nx;
    int rc;

    d->n = 0;
    d->after = -1;
    d->at = tock_malloc(cap * sizeof *d->at);
    if (d->at == NULL)
        return tock_error_set(err, TOCK_ENOMEM,
                              "out of memory listing due occurrences");
    d->at[d->n++] = o;
    for (;;) {
        rc = tock_trigger_next(t, o, &nx, err);
        if (rc == TOCK_ENOTIME) {
            d->after = -1; /* finished: not an error here */
            tock_error_clear(err);
            return 0;
        }
        if (rc != 0)
            return rc;
        d->after = nx;
        if (nx > now_ms || d->n == cap)
            return 0;
        d->at[d->n++] = o = nx;
    }
}

static bool past_grace(int64_t o, int64_t now_ms, int64_t grace_ms)
{
    return grace_ms >= 0 && now_ms - o > grace_ms;
}

/* take_missed copies at[from..to) into d->missed. */
static int take_missed(struct tock_decided *d, const int64_t *at, size_t from,
                       size_t to, const char *reason, struct tock_error *err)
{
    d->miss_reason = reason;
    if (to <= from)
        return 0;
    d->missed = tock_malloc((to - from) * sizeof *d->missed);
    if (d->missed == NULL)
        return tock_error_set(err, TOCK_ENOMEM,
                              "out of memory recording missed occurrences");
    memcpy(d->missed, at + from, (to - from) * sizeof *d->missed);
    d->n_missed = to - from;
    return 0;
}

/* plan: the decision over the due list, before jitter and the task. */
static int plan(const struct tock_job *job, const struct due_list *due,
                int64_t now_ms, struct tock_decided *d, struct tock_error *err)
{
    size_t g = 0, k = due->n;
    bool truncated = due->after >= 0 && due->after <= now_ms;

    while (g < k && past_grace(due->at[g], now_ms, job->misfire_grace_ms))
        g++;
    if (g == k) { /* 4c/5: all past grace */
        d->decision = TOCK_DECIDE_MISS;
        d->sched_ms = due->at[k - 1];
        d->next_ms = due->after;
        return take_missed(d, due->at, 0, k - 1, TOCK_MISS_GRACE, err);
    }
    if (job->coalesce && g > 0) { /* 4a: the past-grace prefix first */
        d->decision = TOCK_DECIDE_MISS;
        d->sched_ms = due->at[g - 1];
        d->next_ms = due->at[g];
        return take_missed(d, due->at, 0, g - 1, TOCK_MISS_GRACE, err);
    }
    if (job->coalesce) { /* 4b or 4c, nothing past grace */
        d->decision = truncated ? TOCK_DECIDE_MISS : TOCK_DECIDE_FIRE;
        d->sched_ms = due->at[k - 1];
        d->next_ms = due->after;
        return take_missed(d, due->at, 0, k - 1, TOCK_MISS_COALESCED, err);
    }
    /* 5: coalesce off; at[g] is the first within grace */
    d->decision = TOCK_DECIDE_FIRE;
    d->sched_ms = due->at[g];
    d->next_ms = g + 1 < k ? due->at[g + 1] : due->after;
    return take_missed(d, due->at, 0, g, TOCK_MISS_GRACE, err);
}

/* ------------------------------------------------------------- the task */

int tock_decide_task(const struct tock_job *job, int64_t sched_ms,
                     int64_t fire_ms, uint8_t **out, size_t *len,
                     struct tock_error *err)
{
    char occ[TOCK_OCC_MAX];
    struct tock_task task;
    int rc;

    *out = NULL;
    *len = 0;
    rc = tock_occ_format(occ, sizeof occ, job->id, sched_ms);
    if (rc != 0)
        return tock_error_set(err, rc, "job id '%.128s' does not fit an "
                                       "occurrence id", job->id);
    /* The task borrows the job's strings: the encoder only reads them. */
    memset(&task, 0, sizeof task);
    task.proto_version = TOCK_PROTO_VERSION;
    task.occ = occ;
    task.job = job->id;
    task.handler = job->handler;
    task.args = job->args;
    task.args_len = job->args_len;
    task.queue = job->queue;
    task.sched_ms = sched_ms;
    task.fire_ms = fire_ms > sched_ms ? fire_ms : sched_ms;
    task.attempt = 1;
    task.timeout_ms = job->timeout_ms;
    task.max_deliveries = job->max_deliveries;
    return tock_proto_encode_task(&task, out, len, err);
}

int tock_decide_task_builder(void *ctx, const struct tock_job *job,
                             int64_t sched_ms, int64_t now_ms, uint8_t **body,
                             size_t *len, struct tock_error *err)
{
    (void)ctx;
    return tock_decide_task(job, sched_ms, now_ms, body, len, err);
}

/* ----------------------------------------------------------- the decision */

/* hold sets d->fire_at_ms and the action (step 6): the commit goes when
 * the store's clock reaches both the occurrence and its jittered time; a
 * jitter hold longer than max_hold is shortened (never to before the
 * occurrence itself: an occurrence not yet due that far away cannot be
 * held, and lapses). */
static int hold(const struct tock_job *job, const struct tock_decide_opts *o,
                struct tock_decided *d, struct tock_error *err)
{
    int64_t at = d->sched_ms, max = o->max_hold_ms > 0 ? o->max_hold_ms : 0;

    if (d->decision == TOCK_DECIDE_FIRE && job->jitter_ms > 0)
        at = tock_trigger_jitter(d->sched_ms, d->next_ms, job->jitter_ms,
                                 o->random);
    d->fire_at_ms = at > o->now_ms ? at : o->now_ms;
    if (d->fire_at_ms - o->now_ms > max) {
        if (d->sched_ms - o->now_ms > max)
            return tock_error_set(err, TOCK_ENOTIME,
                                  "job '%.128s': its next occurrence %" PRId64
                                  " is %" PRId64 " ms away although the "
                                  "store claimed it as due (next_fire_ms at "
                                  "or before the watermark)", job->id,
                                  d->sched_ms, d->sched_ms - o->now_ms);
        d->fire_at_ms = o->now_ms + max; /* still >= sched_ms */
    }
    d->action = d->fire_at_ms > o->now_ms ? TOCK_DECIDE_HOLD
                                          : TOCK_DECIDE_COMMIT;
    return 0;
}

/* first_undecided returns the first occurrence to decide: the claimed one,
 * or, when an edit moved next_fire_ms back to or before the watermark (the
 * store would refuse it as a duplicate), the first one after the
 * watermark. */
static int first_undecided(const struct tock_trigger *t,
                           const struct tock_claimed *c, int64_t *out,
                           struct tock_error *err)
{
    int rc;

    *out = c->sched_ms;
    if (c->fired_ms < 0 || c->sched_ms > c->fired_ms)
        return 0;
    rc = tock_trigger_next(t, c->fired_ms, out, err);
    if (rc == TOCK_ENOTIME)
        return tock_error_set(err, rc, "job '%.128s' has no occurrence after "
                                       "its watermark %" PRId64 "; it is "
                                       "finished", c->job.id, c->fired_ms);
    return rc;
}

static void lapse(struct tock_decided *d, bool first)
{
    tock_free(d->missed);
    d->missed = NULL;
    d->n_missed = 0;
    tock_free(d->task);
    d->task = NULL;
    d->task_len = 0;
    d->action = TOCK_DECIDE_LAPSE;
    d->first_error = first;
}

void tock_decide(struct tock_decide_cache *cache, const struct tock_claimed *c,
                 const struct tock_decide_opts *opts, struct tock_decided *out)
{
    struct tock_trigger *own = NULL, *t = NULL;
    struct due_list due = {0};
    int64_t first_ms = c->sched_ms, now = opts->now_ms;
    bool first = true;
    int rc;

    memset(out, 0, sizeof *out);
    out->next_ms = -1;
    rc = tock_decide_trigger(cache, &c->job, c->sched_ms, &t, &first,
                             &out->err);
    if (rc == 0 && cache == NULL)
        own = t;
    if (rc == 0)
        rc = first_undecided(t, c, &first_ms, &out->err);
    /* An occurrence not due yet (only after a moved-back next_fire_ms) is
     * decided as of its own time; hold() then waits for it. */
    if (rc == 0)
        rc = due_enumerate(t, first_ms, first_ms > now ? first_ms : now, &due,
                           &out->err);
    if (rc == 0)
        rc = plan(&c->job, &due, first_ms > now ? first_ms : now, out,
                  &out->err);
    if (rc == 0) {
        out->late_ms = now - out->sched_ms;
        rc = hold(&c->job, opts, out, &out->err);
    }
    if (rc == 0 && out->decision == TOCK_DECIDE_FIRE)
        rc = tock_decide_task(&c->job, out->sched_ms, out->fire_at_ms,
                              &out->task, &out->task_len, &out->err);
    if (rc != 0)
        lapse(out, first);
    tock_free(due.at);
    tock_trigger_free(own);
}

void tock_decided_clear(struct tock_decided *d)
{
    if (d == NULL)
        return;
    tock_free(d->missed);
    tock_free(d->task);
    memset(d, 0, sizeof *d);
}

void tock_decided_commit(const struct tock_claimed *c,
                         const struct tock_decided *d, const char *node,
                         struct tock_commit *out)
{
    memset(out, 0, sizeof *out);
    out->job_id = c->job.id;
    out->token = c->token;
    out->epoch = c->epoch;
    out->version = c->job.version;
    out->sched_ms = d->sched_ms;
    out->decision = d->decision;
    out->missed = d->missed;
    out->n_missed = d->n_missed;
    if (d->n_missed > 0 || d->decision == TOCK_DECIDE_MISS)
        out->miss_reason = d->miss_reason;
    out->next_ms = d->next_ms;
    out->misfire_grace_ms = c->job.misfire_grace_ms;
    out->task = d->task;
    out->task_len = d->task_len;
    out->node = node;
}
