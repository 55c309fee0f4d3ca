/* store.c: the tock_store_* wrappers of store.h: URL dispatch to a
 * backend, argument checks (so that a bad call is refused before the store
 * is touched and backends see only well-formed requests), clearing outputs,
 * keeping the last message on the handle, and the *_clear / *_free
 * helpers.
 */
#include "store/store.h"

#include <string.h>

#include "core/alloc.h"

/* Limits of the wrappers' checks. */
#define NONCE_MAX 64            /* so "<nonce>:<epoch>" fits TOCK_TOKEN_MAX */
#define QUEUES_MAX 64           /* queues one take may name */
#define LEASE_MAX_MS (24LL * 3600 * 1000)
#define HISTORY_LIMIT_MAX 100000

/* ------------------------------------------------------------- helpers */

/* finish keeps the message of a failed call on the handle, copies it to
 * the caller's `err` (which may be NULL) and returns rc. */
static int finish(struct tock_store *s, int rc, const struct tock_error *e,
                  struct tock_error *err)
{
    if (s != NULL) {
        if (rc < 0)
            memcpy(s->errmsg, e->msg, sizeof s->errmsg);
        else
            s->errmsg[0] = '\0';
    }
    if (err != NULL) {
        if (rc < 0)
            *err = *e;
        else
            tock_error_clear(err);
    }
    return rc;
}

static int check_store(const struct tock_store *s, struct tock_error *e)
{
    if (s == NULL || s->ops == NULL || s->backend == NULL)
        return tock_error_set(e, TOCK_EINVAL, "store is not open");
    return 0;
}

/* check_ident accepts 1..TOCK_ID_MAX printable, non-space ASCII bytes:
 * consumer names and node nonces ("host:pid:slot" style is allowed). */
static int check_ident(const char *s, size_t max, const char *what,
                       struct tock_error *e)
{
    size_t len;

    if (s == NULL || *s == '\0')
        return tock_error_set(e, TOCK_EINVAL, "%s is empty", what);
    len = strlen(s);
    if (len > max)
        return tock_error_set(e, TOCK_EINVAL,
                              "%s is longer than %zu bytes", what, max);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return tock_error_set(e, TOCK_EINVAL,
                                  "%s '%.40s' has a space, control or "
                                  "non-ASCII character", what, s);
    return 0;
}

static int check_lease(int64_t lease_ms, struct tock_error *e)
{
    if (lease_ms <= 0 || lease_ms > LEASE_MAX_MS)
        return tock_error_set(e, TOCK_EINVAL,
                              "lease of %lld ms is out of range (1 ms .. 24 h)",
                              (long long)lease_ms);
    return 0;
}

static int check_count(size_t n, size_t max, const char *what,
                       struct tock_error *e)
{
    if (n == 0 || n > max)
        return tock_error_set(e, TOCK_EINVAL, "%s %zu is out of range (1..%zu)",
                              what, n, max);
    return 0;
}

static int check_time(int64_t t, const char *what, struct tock_error *e)
{
    if (t < -1 || t > TOCK_TIME_MAX_MS)
        return tock_error_set(e, TOCK_EINVAL,
                              "%s %lld is not a time in ms (or -1 for none)",
                              what, (long long)t);
    return 0;
}

static int null_arg(const char *what, struct tock_error *e)
{
    return tock_error_set(e, TOCK_EINVAL, "%s is NULL", what);
}

/* ------------------------------------------------------------- opening */

/* pick_backend maps the URL's scheme to a backend. */
static int pick_backend(const char *url, const struct tock_store_ops **ops,
                        struct tock_error *e)
{
    const char *colon = strchr(url, ':');

    if (strncmp(url, "sqlite:", 7) == 0) {
        *ops = &tock_store_sqlite_ops;
        return 0;
    }
    if (strncmp(url, "redis://", 8) == 0 || strncmp(url, "unix://", 7) == 0) {
        *ops = &tock_store_redis_ops;
        return 0;
    }
    if (strncmp(url, "rediss://", 9) == 0)
        return tock_error_set(e, TOCK_EINVAL,
                              "rediss:// (TLS) is not built into tock: its "
                              "hiredis has no TLS. Run a TLS sidecar next to "
                              "tock (stunnel or spiped, see docs/"
                              "redis-keys.md) and point TOCK_STORE at it with "
                              "redis://127.0.0.1:PORT");
    if (colon == NULL || colon == url)
        return tock_error_set(e, TOCK_EINVAL,
                              "store URL '%.60s' has no scheme; use "
                              "sqlite:PATH or redis://host:port", url);
    return tock_error_set(e, TOCK_EINVAL,
                          "unknown store scheme '%.*s'; use sqlite:PATH or "
                          "redis://host:port",
                          (int)(colon - url < 40 ? colon - url : 40), url);
}

int tock_store_open_tuned(const char *url,
                          const struct tock_store_tuning *tuning,
                          struct tock_log *log, struct tock_store **out,
                          struct tock_error *err)
{
    struct tock_error e = {0};
    const struct tock_store_ops *ops = NULL;
    struct tock_store *s = NULL;
    int rc;

    if (out == NULL)
        return finish(NULL, null_arg("out", &e), &e, err);
    *out = NULL;
    if (url == NULL)
        return finish(NULL, null_arg("store URL", &e), &e, err);
    rc = pick_backend(url, &ops, &e);
    if (rc < 0)
        return finish(NULL, rc, &e, err);
    s = tock_calloc(1, sizeof *s);
    if (s == NULL)
        return finish(NULL, tock_error_set(&e, TOCK_ENOMEM, "out of memory"),
                      &e, err);
    s->ops = ops;
    s->log = log;
    if (tuning != NULL)
        s->tuning = *tuning;
    rc = ops->open(s, url, &e);
    if (rc < 0) {
        tock_free(s);
        return finish(NULL, rc, &e, err);
    }
    tock_logf(log, TOCK_LOG_DEBUG, "store", "opened %s store", ops->kind);
    *out = s;
    return finish(s, 0, &e, err);
}

int tock_store_open(const char *url, struct tock_log *log,
                    struct tock_store **out, struct tock_error *err)
{
    return tock_store_open_tuned(url, NULL, log, out, err);
}

void tock_store_close(struct tock_store *s)
{
    if (s == NULL)
        return;
    if (s->ops != NULL && s->backend != NULL)
        s->ops->close(s);
    tock_free(s);
}

const char *tock_store_errmsg(const struct tock_store *s)
{
    return s != NULL ? s->errmsg : "";
}

const char *tock_store_kind(const struct tock_store *s)
{
    return s != NULL && s->ops != NULL ? s->ops->kind : "";
}

int tock_store_now(struct tock_store *s, int64_t *now_ms,
                   struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (rc == 0 && now_ms == NULL)
        rc = null_arg("now_ms", &e);
    if (rc == 0)
        rc = s->ops->now(s, now_ms, &e);
    return finish(s, rc, &e, err);
}

/* ---------------------------------------------------------------- jobs */

int tock_store_job_put(struct tock_store *s, const struct tock_job *job,
                       int64_t next_fire_ms, enum tock_put_mode mode,
                       int64_t expect_version, enum tock_put_outcome *outcome,
                       int64_t *version, struct tock_error *err)
{
    struct tock_error e = {0};
    enum tock_put_outcome o = TOCK_PUT_UNCHANGED;
    int64_t v = 0;
    int rc = check_store(s, &e);

    if (rc == 0 && job == NULL)
        rc = null_arg("job", &e);
    if (rc == 0)
        rc = tock_job_validate(job, NULL, &e);
    if (rc == 0)
        rc = check_time(next_fire_ms, "next_fire_ms", &e);
    if (rc == 0 && mode != TOCK_PUT_CREATE && mode != TOCK_PUT_UPSERT)
        rc = tock_error_set(&e, TOCK_EINVAL, "unknown put mode %d", (int)mode);
    if (rc == 0 && expect_version < 0)
        rc = tock_error_set(&e, TOCK_EINVAL, "expected version is negative");
    if (rc == 0)
        rc = s->ops->job_put(s, job, next_fire_ms, mode, expect_version, &o,
                             &v, &e);
    if (outcome != NULL)
        *outcome = o;
    if (version != NULL)
        *version = rc == 0 ? v : 0;
    return finish(s, rc, &e, err);
}

int tock_store_job_get(struct tock_store *s, const char *id,
                       struct tock_job_state *out, struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (rc == 0 && out == NULL)
        rc = null_arg("out", &e);
    if (rc == 0)
        rc = tock_name_check(id, "job id", &e);
    if (rc == 0)
        rc = s->ops->job_get(s, id, out, &e);
    if (rc < 0 && out != NULL)
        tock_job_state_clear(out);
    return finish(s, rc, &e, err);
}

int tock_store_job_list(struct tock_store *s, struct tock_job_state **out,
                        size_t *n, struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    if (rc == 0 && (out == NULL || n == NULL))
        rc = null_arg("out or n", &e);
    if (rc == 0)
        rc = s->ops->job_list(s, out, n, &e);
    return finish(s, rc, &e, err);
}

int tock_store_job_remove(struct tock_store *s, const char *id,
                          struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (rc == 0)
        rc = tock_name_check(id, "job id", &e);
    if (rc == 0)
        rc = s->ops->job_remove(s, id, &e);
    return finish(s, rc, &e, err);
}

int tock_store_job_pause(struct tock_store *s, const char *id,
                         struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (rc == 0)
        rc = tock_name_check(id, "job id", &e);
    if (rc == 0)
        rc = s->ops->job_set_paused(s, id, true, -1, &e);
    return finish(s, rc, &e, err);
}

int tock_store_job_resume(struct tock_store *s, const char *id,
                          int64_t next_fire_ms, struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (rc == 0)
        rc = tock_name_check(id, "job id", &e);
    if (rc == 0)
        rc = check_time(next_fire_ms, "next_fire_ms", &e);
    if (rc == 0)
        rc = s->ops->job_set_paused(s, id, false, next_fire_ms, &e);
    return finish(s, rc, &e, err);
}

int tock_store_job_run_now(struct tock_store *s, const char *id,
                           tock_task_builder_fn build, void *ctx,
                           int64_t *sched_ms, struct tock_error *err)
{
    struct tock_error e = {0};
    int64_t t = 0;
    int rc = check_store(s, &e);

    if (rc == 0)
        rc = tock_name_check(id, "job id", &e);
    if (rc == 0 && build == NULL)
        rc = null_arg("task builder", &e);
    if (rc == 0)
        rc = s->ops->job_run_now(s, id, build, ctx, &t, &e);
    if (sched_ms != NULL)
        *sched_ms = rc == 0 ? t : 0;
    return finish(s, rc, &e, err);
}

/* -------------------------------------------------------------- firing */

int tock_store_claim(struct tock_store *s, const char *node_nonce, size_t limit,
                     int64_t lease_ms, struct tock_claim_batch *out,
                     struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (rc == 0 && out == NULL)
        rc = null_arg("out", &e);
    if (rc == 0)
        rc = check_ident(node_nonce, NONCE_MAX, "node nonce", &e);
    if (rc == 0)
        rc = check_count(limit, TOCK_CLAIM_MAX, "claim limit", &e);
    if (rc == 0)
        rc = check_lease(lease_ms, &e);
    if (rc == 0)
        rc = s->ops->claim(s, node_nonce, limit, lease_ms, out, &e);
    if (rc < 0 && out != NULL)
        tock_claim_batch_clear(out);
    return finish(s, rc, &e, err);
}

/* check_missed: strictly ascending, all before sched_ms. */
static int check_missed(const struct tock_commit *c, struct tock_error *e)
{
    if (c->n_missed > TOCK_MISSED_MAX)
        return tock_error_set(e, TOCK_EINVAL,
                              "commit of %s: %zu missed occurrences, more "
                              "than %d; commit the backlog over several "
                              "claims", c->job_id, c->n_missed,
                              TOCK_MISSED_MAX);
    if (c->n_missed > 0 && c->missed == NULL)
        return null_arg("commit missed[]", e);
    for (size_t i = 0; i < c->n_missed; i++) {
        int64_t prev = i > 0 ? c->missed[i - 1] : -1;
        if (c->missed[i] <= prev || c->missed[i] >= c->sched_ms)
            return tock_error_set(e, TOCK_EINVAL,
                                  "commit of %s: missed[%zu] is not ascending "
                                  "and before sched_ms", c->job_id, i);
    }
    return 0;
}

static int check_commit(const struct tock_commit *c, struct tock_error *e)
{
    int rc = tock_name_check(c->job_id, "commit job id", e);

    if (rc == 0 && (c->token == NULL || *c->token == '\0' ||
                    strlen(c->token) >= TOCK_TOKEN_MAX))
        rc = tock_error_set(e, TOCK_EINVAL, "commit of %s: bad claim token",
                            c->job_id);
    if (rc == 0 && (c->sched_ms < 0 || c->sched_ms > TOCK_TIME_MAX_MS))
        rc = tock_error_set(e, TOCK_EINVAL,
                            "commit of %s: sched_ms %lld is not a time in ms",
                            c->job_id, (long long)c->sched_ms);
    if (rc == 0 && c->next_ms != -1 &&
        (c->next_ms <= c->sched_ms || c->next_ms > TOCK_TIME_MAX_MS))
        rc = tock_error_set(e, TOCK_EINVAL,
                            "commit of %s: next_ms must be after sched_ms "
                            "(or -1 when finished)", c->job_id);
    if (rc == 0 && c->decision != TOCK_DECIDE_FIRE &&
        c->decision != TOCK_DECIDE_MISS)
        rc = tock_error_set(e, TOCK_EINVAL, "commit of %s: unknown decision",
                            c->job_id);
    if (rc == 0 && c->decision == TOCK_DECIDE_FIRE &&
        (c->task == NULL || c->task_len == 0))
        rc = tock_error_set(e, TOCK_EINVAL,
                            "commit of %s: a fire needs a task body",
                            c->job_id);
    if (rc == 0 && c->misfire_grace_ms < -1)
        rc = tock_error_set(e, TOCK_EINVAL,
                            "commit of %s: misfire grace is negative",
                            c->job_id);
    if (rc == 0 && c->node != NULL)
        rc = check_ident(c->node, TOCK_ID_MAX, "commit node", e);
    return rc == 0 ? check_missed(c, e) : rc;
}

int tock_store_commit(struct tock_store *s, const struct tock_commit *commits,
                      size_t n, struct tock_commit_result *results,
                      struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (rc == 0 && n > 0 && (commits == NULL || results == NULL))
        rc = null_arg("commits or results", &e);
    if (rc == 0 && n > TOCK_CLAIM_MAX)
        rc = check_count(n, TOCK_CLAIM_MAX, "commit batch", &e);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_commit(&commits[i], &e);
    if (results != NULL && n > 0)
        memset(results, 0, n * sizeof *results);
    if (rc == 0 && n > 0)
        rc = s->ops->commit(s, commits, n, results, &e);
    if (rc < 0 && results != NULL && n > 0)
        memset(results, 0, n * sizeof *results);
    return finish(s, rc, &e, err);
}

int tock_store_release(struct tock_store *s, const struct tock_claimed *items,
                       size_t n, struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (rc == 0 && n > 0 && items == NULL)
        rc = null_arg("items", &e);
    if (rc == 0 && n > TOCK_CLAIM_MAX)
        rc = check_count(n, TOCK_CLAIM_MAX, "release batch", &e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = tock_name_check(items[i].job.id, "released job id", &e);
        if (rc == 0 && items[i].token[0] == '\0')
            rc = tock_error_set(&e, TOCK_EINVAL, "released claim has no token");
    }
    if (rc == 0 && n > 0)
        rc = s->ops->release(s, items, n, &e);
    return finish(s, rc, &e, err);
}

/* ----------------------------------------------------------- execution */

int tock_store_task_take(struct tock_store *s, const char *const *queues,
                         size_t nqueues, const char *consumer, size_t max,
                         int64_t lease_ms, struct tock_task_lease **out,
                         size_t *n, struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    if (rc == 0 && (out == NULL || n == NULL || queues == NULL))
        rc = null_arg("queues, out or n", &e);
    if (rc == 0)
        rc = check_count(nqueues, QUEUES_MAX, "number of queues", &e);
    for (size_t i = 0; rc == 0 && i < nqueues; i++)
        rc = tock_name_check(queues[i], "queue", &e);
    if (rc == 0)
        rc = check_ident(consumer, TOCK_ID_MAX, "consumer", &e);
    if (rc == 0)
        rc = check_count(max, TOCK_CLAIM_MAX, "take max", &e);
    if (rc == 0)
        rc = check_lease(lease_ms, &e);
    if (rc == 0)
        rc = s->ops->task_take(s, queues, nqueues, consumer, max, lease_ms,
                               out, n, &e);
    return finish(s, rc, &e, err);
}

int tock_store_task_touch(struct tock_store *s, const char *consumer,
                          const int64_t *ids, const int32_t *deliveries,
                          size_t n, int64_t lease_ms, bool *ok,
                          struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (rc == 0 && n > 0 && (ids == NULL || deliveries == NULL || ok == NULL))
        rc = null_arg("ids, deliveries or ok", &e);
    if (rc == 0 && n > TOCK_CLAIM_MAX)
        rc = check_count(n, TOCK_CLAIM_MAX, "touch batch", &e);
    if (rc == 0)
        rc = check_ident(consumer, TOCK_ID_MAX, "consumer", &e);
    if (rc == 0)
        rc = check_lease(lease_ms, &e);
    if (ok != NULL && n > 0)
        memset(ok, 0, n * sizeof *ok);
    if (rc == 0 && n > 0)
        rc = s->ops->task_touch(s, consumer, ids, deliveries, n, lease_ms, ok,
                                &e);
    if (rc < 0 && ok != NULL && n > 0)
        memset(ok, 0, n * sizeof *ok);
    return finish(s, rc, &e, err);
}

/* check_report checks one report of `consumer`. */
static int check_report(const struct tock_report *r, struct tock_error *e)
{
    if (r->result == NULL)
        return null_arg("result", e);
    if (r->task_id <= 0 || r->deliveries <= 0)
        return tock_error_set(e, TOCK_EINVAL,
                              "report: task id and deliveries must be "
                              "positive");
    return tock_result_validate(r->result, e);
}

int tock_store_task_report_many(struct tock_store *s, const char *consumer,
                                const struct tock_report *reports, size_t n,
                                enum tock_report_status *status,
                                struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (rc == 0 && (reports == NULL || status == NULL))
        rc = null_arg("reports or status", &e);
    if (rc == 0)
        rc = check_count(n, TOCK_CLAIM_MAX, "report batch", &e);
    if (rc == 0)
        rc = check_ident(consumer, TOCK_ID_MAX, "consumer", &e);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_report(&reports[i], &e);
    for (size_t i = 0; status != NULL && i < n; i++)
        status[i] = TOCK_REPORT_STALE;
    if (rc == 0)
        rc = s->ops->task_report(s, consumer, reports, n, status, &e);
    for (size_t i = 0; rc < 0 && status != NULL && i < n; i++)
        status[i] = TOCK_REPORT_STALE;
    return finish(s, rc, &e, err);
}

int tock_store_task_report(struct tock_store *s, int64_t task_id,
                           const char *consumer, int32_t deliveries,
                           const struct tock_result *result,
                           enum tock_report_status *status,
                           struct tock_error *err)
{
    struct tock_report r = {task_id, deliveries, result};
    enum tock_report_status st = TOCK_REPORT_STALE;
    int rc;

    if (status == NULL) {
        struct tock_error e;
        return finish(s, null_arg("status", &e), &e, err);
    }
    rc = tock_store_task_report_many(s, consumer, &r, 1, &st, err);
    *status = st;
    return rc;
}

int tock_store_task_reclaim(struct tock_store *s, size_t limit,
                            size_t *n_redelivered, size_t *n_dead,
                            struct tock_error *err)
{
    struct tock_error e = {0};
    size_t r = 0, d = 0;
    int rc = check_store(s, &e);

    if (rc == 0)
        rc = check_count(limit, HISTORY_LIMIT_MAX, "reclaim limit", &e);
    if (rc == 0)
        rc = s->ops->task_reclaim(s, limit, &r, &d, &e);
    if (n_redelivered != NULL)
        *n_redelivered = rc == 0 ? r : 0;
    if (n_dead != NULL)
        *n_dead = rc == 0 ? d : 0;
    return finish(s, rc, &e, err);
}

int tock_store_task_release(struct tock_store *s, const char *consumer,
                            const int64_t *ids, size_t n,
                            struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (rc == 0 && n > 0 && ids == NULL)
        rc = null_arg("ids", &e);
    if (rc == 0 && n > TOCK_CLAIM_MAX)
        rc = check_count(n, TOCK_CLAIM_MAX, "release batch", &e);
    if (rc == 0)
        rc = check_ident(consumer, TOCK_ID_MAX, "consumer", &e);
    if (rc == 0 && n > 0)
        rc = s->ops->task_release(s, consumer, ids, n, &e);
    return finish(s, rc, &e, err);
}

/* ------------------------------------------------------------- history */

int tock_store_runs(struct tock_store *s, const char *job_id, size_t limit,
                    struct tock_run **out, size_t *n, struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    if (rc == 0 && (out == NULL || n == NULL))
        rc = null_arg("out or n", &e);
    if (rc == 0 && job_id != NULL)
        rc = tock_name_check(job_id, "job id", &e);
    if (rc == 0)
        rc = check_count(limit, HISTORY_LIMIT_MAX, "runs limit", &e);
    if (rc == 0)
        rc = s->ops->runs(s, job_id, limit, out, n, &e);
    return finish(s, rc, &e, err);
}

int tock_store_events(struct tock_store *s, int64_t after_id, size_t limit,
                      struct tock_event **out, int64_t **ids, size_t *n,
                      struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (out != NULL)
        *out = NULL;
    if (ids != NULL)
        *ids = NULL;
    if (n != NULL)
        *n = 0;
    if (rc == 0 && (out == NULL || ids == NULL || n == NULL))
        rc = null_arg("out, ids or n", &e);
    if (rc == 0 && after_id < 0)
        rc = tock_error_set(&e, TOCK_EINVAL, "event id %lld is negative",
                            (long long)after_id);
    if (rc == 0)
        rc = check_count(limit, HISTORY_LIMIT_MAX, "events limit", &e);
    if (rc == 0)
        rc = s->ops->events(s, after_id, limit, out, ids, n, &e);
    return finish(s, rc, &e, err);
}

/* --------------------------------------------------------------- watch */

bool tock_store_has_watch(const struct tock_store *s)
{
    return s != NULL && s->ops != NULL && s->backend != NULL &&
           s->ops->watch_open != NULL;
}

int tock_store_watch_open(struct tock_store *s, int *fd,
                          struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (fd != NULL)
        *fd = -1;
    if (rc == 0 && fd == NULL)
        rc = null_arg("fd", &e);
    if (rc == 0 && !tock_store_has_watch(s))
        rc = tock_error_set(&e, TOCK_ENOENT,
                            "the %s store has no change notifications; "
                            "sleep until the claim's next_due_ms instead",
                            s->ops->kind);
    if (rc == 0)
        rc = s->ops->watch_open(s, fd, &e);
    return finish(s, rc, &e, err);
}

/* The watch's drain and close may run on another thread than the store's
 * operations: they never write the handle's last message. */
int tock_store_watch_drain(struct tock_store *s, size_t *n,
                           struct tock_error *err)
{
    struct tock_error e = {0};
    int rc = check_store(s, &e);

    if (n != NULL)
        *n = 0;
    if (rc == 0 && n == NULL)
        rc = null_arg("n", &e);
    if (rc == 0 && !tock_store_has_watch(s))
        rc = tock_error_set(&e, TOCK_ENOENT, "the %s store has no watch",
                            s->ops->kind);
    if (rc == 0)
        rc = s->ops->watch_drain(s, n, &e);
    return finish(NULL, rc, &e, err);
}

void tock_store_watch_close(struct tock_store *s)
{
    if (tock_store_has_watch(s))
        s->ops->watch_close(s);
}

/* ------------------------------------------------------- clear and free */

void tock_job_state_clear(struct tock_job_state *st)
{
    if (st == NULL)
        return;
    tock_job_clear(&st->job);
    memset(st, 0, sizeof *st);
}

void tock_job_state_list_free(struct tock_job_state *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        tock_job_state_clear(&list[i]);
    tock_free(list);
}

void tock_claim_batch_clear(struct tock_claim_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; b->items != NULL && i < b->n; i++)
        tock_job_clear(&b->items[i].job);
    tock_free(b->items);
    memset(b, 0, sizeof *b);
}

void tock_task_lease_list_free(struct tock_task_lease *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        tock_free(list[i].queue);
        tock_free(list[i].occ);
        tock_free(list[i].body);
    }
    tock_free(list);
}

void tock_run_list_free(struct tock_run *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        tock_free(list[i].job);
        tock_free(list[i].occ);
        tock_free(list[i].node);
        tock_free(list[i].worker);
        tock_free(list[i].error);
        tock_free(list[i].output);
    }
    tock_free(list);
}

void tock_event_list_free(struct tock_event *list, int64_t *ids, size_t n)
{
    if (list != NULL) {
        for (size_t i = 0; i < n; i++)
            tock_event_clear(&list[i]);
        tock_free(list);
    }
    tock_free(ids);
}
