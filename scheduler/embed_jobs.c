/* embed_jobs.c: the embedded scheduler's job API (tock.h): definitions
 * checked into struct tock_job, then the store's own operations, each
 * under api_mu on the API's store handle, each followed by a wake of the
 * firing loop so a change is seen at once.
 *
 * A definition goes through the same steps as a job from a config file or
 * `tock add` (scheduler/jobspec.c): required fields, the name policy, the
 * trigger parsed and bounded and stored in its canonical text form (so the
 * same definition always reads the same to the store, and a program that
 * replaces its jobs at every start changes nothing), tock_job_validate,
 * and the first fire time on the store's clock (tock_jobspec_first_fire).
 * Replacing is scheduler/apply.h with one job: the store compares the
 * definition in its transaction, and a stored paused state is kept unless
 * the definition says paused.
 */
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "proto/json.h"
#include "scheduler/apply.h"
#include "scheduler/embed.h"
#include "scheduler/jobspec.h"
#include "scheduler/trigger.h"
#include "scheduler/tz.h"

/* ------------------------------------------------------ the definition */

static int require(const char *value, const char *what, const char *example,
                   struct tock_error *err)
{
    if (value != NULL && value[0] != '\0')
        return 0;
    return tock_error_set(err, TOCK_EMISSING, "job %s is missing; %s", what,
                          example);
}

static int set_str(char **dst, const char *src, struct tock_error *err)
{
    tock_free(*dst);
    *dst = NULL;
    if (src == NULL)
        return 0;
    if ((*dst = tock_strdup(src)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    return 0;
}

/* canonical_trigger parses the job's trigger, bounds it by start/end and
 * replaces its text with the canonical form. */
static int canonical_trigger(struct tock_job *job, struct tock_error *err)
{
    struct tock_trigger *t = NULL;
    char *text = NULL;
    size_t need;
    int rc;

    rc = tock_trigger_parse(job->trigger, &t, err);
    if (rc == 0)
        rc = tock_trigger_set_bounds(
            t, job->start_ms ? job->start_ms : TOCK_TIME_MIN_MS,
            job->end_ms ? job->end_ms : TOCK_TIME_MAX_MS, err);
    if (rc != 0) {
        tock_error_prefix(err, "job '%s': trigger", job->id);
        goto done;
    }
    need = tock_trigger_format(t, NULL, 0);
    if ((text = tock_malloc(need + 1)) == NULL) {
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
        goto done;
    }
    tock_trigger_format(t, text, need + 1);
    tock_free(job->trigger);
    job->trigger = text;
done:
    tock_trigger_free(t);
    return rc;
}

static int policies(const struct tock_jobdef *d, struct tock_job *job,
                    struct tock_error *err)
{
    if (d->misfire_grace_ms < TOCK_GRACE_UNLIMITED)
        return tock_error_set(err, TOCK_ERANGE,
                              "job '%s': misfire_grace_ms %" PRId64 " is "
                              "negative; use a duration in ms, 0 for the "
                              "default (60 s) or TOCK_GRACE_UNLIMITED",
                              d->id, d->misfire_grace_ms);
    if (d->misfire_grace_ms != 0)
        job->misfire_grace_ms = d->misfire_grace_ms;
    job->coalesce = d->no_coalesce == 0;
    if (d->max_instances != 0)
        job->max_instances = d->max_instances;
    if (d->max_deliveries != 0)
        job->max_deliveries = d->max_deliveries;
    job->jitter_ms = d->jitter_ms;
    job->timeout_ms = d->timeout_ms;
    job->retries = d->retries;
    job->retry_backoff_ms = d->retry_backoff_ms;
    job->paused = d->paused != 0;
    job->start_ms = d->start_ms;
    job->end_ms = d->end_ms;
    return 0;
}

static int fields(const struct tock_jobdef *d, const char *queue,
                  struct tock_job *job, struct tock_error *err)
{
    int rc;

    if ((rc = set_str(&job->id, d->id, err)) ||
        (rc = set_str(&job->trigger, d->trigger, err)) ||
        (rc = set_str(&job->handler, d->function, err)) ||
        (rc = set_str(&job->name, d->name, err)) ||
        (rc = set_str(&job->queue, d->queue ? d->queue : queue, err)))
        return rc;
    if (d->args_json != NULL &&
        (rc = tock_jobspec_args(d->args_json, strlen(d->args_json),
                                "job args_json", &job->args, &job->args_len,
                                err)) != 0)
        return tock_error_prefix(err, "job '%s'", d->id);
    return policies(d, job, err);
}

int tock_embed_job_from_def(const struct tock_jobdef *def, const char *queue,
                            struct tock_job *job, struct tock_error *err)
{
    int rc;

    if ((rc = tock_job_init_defaults(job)) != 0)
        return tock_error_set(err, rc, "out of memory");
    if (def == NULL) {
        rc = tock_error_set(err, TOCK_EINVAL, "job definition is NULL");
        goto done;
    }
    if ((rc = require(def->id, "id", "give the job an id", err)) ||
        (rc = require(def->trigger, "trigger",
                      "give a trigger such as \"interval:5s\" or "
                      "\"cron:0 3 * * *\"", err)) ||
        (rc = require(def->function, "function",
                      "name a function registered with "
                      "tock_scheduler_register", err)) ||
        (rc = tock_name_check(def->id, "job id", err)) ||
        (rc = tock_name_check(def->function, "job function", err)) ||
        (def->queue && (rc = tock_name_check(def->queue, "job queue", err))))
        goto done;
    if ((rc = fields(def, queue, job, err)) != 0 ||
        (rc = canonical_trigger(job, err)) != 0)
        goto done;
    rc = tock_job_validate(job, NULL, err);
done:
    if (rc != 0)
        tock_job_clear(job);
    return rc;
}

/* ------------------------------------------------------------- writing */

/* lock_for_write takes the API's store handle for a write, after letting a
 * waiting engine connection go first (embed_gate.c). */
static void lock_for_write(struct tock_scheduler *s)
{
    pthread_mutex_lock(&s->api_mu);
    tock_embed_gate_yield(s->gate);
}

static int check_id(struct tock_scheduler *s, const char *id,
                    struct tock_error *err)
{
    if (s == NULL)
        return tock_error_set(err, TOCK_EINVAL, "scheduler is NULL");
    return tock_name_check(id, "job id", err);
}

static int add_locked(struct tock_scheduler *s, const struct tock_job *job,
                      struct tock_error *err)
{
    int64_t now, next;
    int rc;

    if ((rc = tock_store_now(s->api_store, &now, err)) != 0 ||
        (rc = tock_jobspec_first_fire(job, now, &next, err)) != 0)
        return rc;
    rc = tock_store_job_put(s->api_store, job, next, TOCK_PUT_CREATE, 0, NULL,
                            NULL, err);
    if (rc == TOCK_EEXIST)
        tock_error_set(err, rc, "job '%s' exists already; use "
                       "tock_scheduler_replace_job to change it", job->id);
    return rc;
}

int tock_scheduler_add_job(struct tock_scheduler *s,
                           const struct tock_jobdef *def,
                           struct tock_error *err)
{
    struct tock_job job;
    int rc;

    if (s == NULL)
        return tock_error_set(err, TOCK_EINVAL, "scheduler is NULL");
    if ((rc = tock_embed_job_from_def(def, s->queue, &job, err)) != 0)
        return rc;
    lock_for_write(s);
    rc = add_locked(s, &job, err);
    pthread_mutex_unlock(&s->api_mu);
    tock_job_clear(&job);
    if (rc == 0)
        tock_embed_fire_wake(s);
    return rc;
}

/* replace applies one validated spec (borrowed). */
static int replace(struct tock_scheduler *s, const struct tock_jobspec *spec,
                   struct tock_error *err)
{
    struct tock_apply_report report;
    int rc;

    memset(&report, 0, sizeof report);
    lock_for_write(s);
    rc = tock_apply(s->api_store, spec, 1, 0, &report, err);
    pthread_mutex_unlock(&s->api_mu);
    if (rc == 0 && report.changed + report.added > 0)
        tock_embed_fire_wake(s);
    tock_apply_report_clear(&report);
    return rc;
}

int tock_scheduler_replace_job(struct tock_scheduler *s,
                               const struct tock_jobdef *def,
                               struct tock_error *err)
{
    struct tock_jobspec spec;
    int rc;

    if (s == NULL)
        return tock_error_set(err, TOCK_EINVAL, "scheduler is NULL");
    memset(&spec, 0, sizeof spec);
    if ((rc = tock_embed_job_from_def(def, s->queue, &spec.job, err)) != 0)
        return rc;
    spec.paused_set = def->paused != 0;
    rc = replace(s, &spec, err);
    tock_jobspec_clear(&spec);
    return rc;
}

int tock_scheduler_replace_job_json(struct tock_scheduler *s,
                                    const char *json, struct tock_error *err)
{
    struct tock_jobspec spec;
    json_error_t jerr;
    json_t *obj;
    int rc;

    if (s == NULL || json == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "replace_job_json: the scheduler and the JSON "
                              "text must not be NULL");
    obj = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL)
        return tock_error_set(err, TOCK_EFORMAT, "job JSON:%d:%d: %s",
                              jerr.line, jerr.column, jerr.text);
    memset(&spec, 0, sizeof spec);
    rc = tock_jobspec_from_json(obj, "job", &spec, err);
    /* Without its own "queue" a job runs on this scheduler's queue. */
    if (rc == 0 && json_object_get(obj, "queue") == NULL)
        rc = set_str(&spec.job.queue, s->queue, err);
    json_decref(obj);
    if (rc == 0)
        rc = replace(s, &spec, err);
    tock_jobspec_clear(&spec);
    return rc;
}

int tock_scheduler_pause_job(struct tock_scheduler *s, const char *id,
                             struct tock_error *err)
{
    int rc;

    if ((rc = check_id(s, id, err)) != 0)
        return rc;
    lock_for_write(s);
    rc = tock_store_job_pause(s->api_store, id, err);
    pthread_mutex_unlock(&s->api_mu);
    return rc;
}

int tock_scheduler_resume_job(struct tock_scheduler *s, const char *id,
                              struct tock_error *err)
{
    struct tock_job_state st;
    int64_t now, next = -1;
    int rc;

    if ((rc = check_id(s, id, err)) != 0)
        return rc;
    memset(&st, 0, sizeof st);
    lock_for_write(s);
    if ((rc = tock_store_job_get(s->api_store, id, &st, err)) == 0 &&
        (rc = tock_store_now(s->api_store, &now, err)) == 0 &&
        (rc = tock_jobspec_first_fire(&st.job, now, &next, err)) == 0)
        rc = tock_store_job_resume(s->api_store, id, next, err);
    pthread_mutex_unlock(&s->api_mu);
    tock_job_state_clear(&st);
    if (rc == 0)
        tock_embed_fire_wake(s);
    return rc;
}

int tock_scheduler_remove_job(struct tock_scheduler *s, const char *id,
                              struct tock_error *err)
{
    int rc;

    if ((rc = check_id(s, id, err)) != 0)
        return rc;
    lock_for_write(s);
    rc = tock_store_job_remove(s->api_store, id, err);
    pthread_mutex_unlock(&s->api_mu);
    return rc;
}

/* build_task is the task of an extra occurrence (tock_scheduler_run_job),
 * as the firing loop would have built it. */
static int build_task(void *ctx, const struct tock_job *job, int64_t sched_ms,
                      int64_t now_ms, uint8_t **body, size_t *len,
                      struct tock_error *err)
{
    char occ[TOCK_OCC_MAX];
    struct tock_task t;

    (void)ctx;
    if (tock_occ_format(occ, sizeof occ, job->id, sched_ms) != 0)
        return tock_error_set(err, TOCK_ERANGE, "occurrence id of '%s' is "
                              "too long", job->id);
    memset(&t, 0, sizeof t); /* borrows the job's strings: never cleared */
    t.occ = occ;
    t.job = job->id;
    t.handler = job->handler;
    t.args = job->args;
    t.args_len = job->args_len;
    t.queue = job->queue;
    t.sched_ms = sched_ms;
    t.fire_ms = now_ms;
    t.attempt = 1;
    t.timeout_ms = job->timeout_ms;
    t.max_deliveries = job->max_deliveries;
    return tock_proto_encode_task(&t, body, len, err);
}

/* announce_fired tells the listener of an extra occurrence, as the firing
 * loop does for scheduled ones. */
static void announce_fired(struct tock_scheduler *s, const char *id,
                           int64_t sched)
{
    struct tock_sched_event ev;
    char occ[TOCK_OCC_MAX];

    if (tock_occ_format(occ, sizeof occ, id, sched) != 0)
        return;
    memset(&ev, 0, sizeof ev);
    ev.type = TOCK_SCHED_FIRED;
    ev.job = id;
    ev.occurrence = occ;
    ev.scheduled_ms = sched;
    ev.time_ms = tock_embed_wall_ms();
    ev.count = 1;
    tock_embed_events_push(s, &ev, 0, 0);
}

int tock_scheduler_run_job(struct tock_scheduler *s, const char *id,
                           int64_t *scheduled_ms, struct tock_error *err)
{
    int64_t sched = 0;
    int rc;

    if ((rc = check_id(s, id, err)) != 0)
        return rc;
    lock_for_write(s);
    rc = tock_store_job_run_now(s->api_store, id, build_task, NULL, &sched,
                                err);
    pthread_mutex_unlock(&s->api_mu);
    if (rc != 0)
        return rc;
    if (scheduled_ms != NULL)
        *scheduled_ms = sched;
    tock_embed_exec_count(s, 1, 0, 0);
    tock_embed_exec_kick(s);
    announce_fired(s, id, sched);
    return 0;
}

/* ------------------------------------------------------------- reading */

/* info_move moves a stored job into a public info (the state is left
 * without the moved strings). */
static int info_move(struct tock_job_state *st, struct tock_jobinfo *out,
                     struct tock_error *err)
{
    struct tock_job *j = &st->job;
    struct tock_jobdef *d = &out->def;
    char *args = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if (j->args != NULL &&
        (rc = tock_json_msgpack_to_text(j->args, j->args_len, NULL,
                                        JSON_COMPACT, &args, err)) != 0)
        return rc;
    d->id = j->id;
    d->trigger = j->trigger;
    d->function = j->handler;
    d->name = j->name;
    d->queue = j->queue;
    d->args_json = args;
    j->id = j->trigger = j->handler = j->name = j->queue = NULL;
    d->misfire_grace_ms = j->misfire_grace_ms;
    d->no_coalesce = !j->coalesce;
    d->max_instances = j->max_instances;
    d->jitter_ms = j->jitter_ms;
    d->timeout_ms = j->timeout_ms;
    d->retries = j->retries;
    d->retry_backoff_ms = j->retry_backoff_ms;
    d->max_deliveries = j->max_deliveries;
    d->paused = j->paused;
    d->start_ms = j->start_ms;
    d->end_ms = j->end_ms;
    out->version = j->version;
    out->next_fire_ms = st->next_fire_ms;
    out->last_scheduled_ms = st->fired_ms;
    out->running = st->running;
    snprintf(out->last_status, sizeof out->last_status, "%s",
             st->last_status);
    return 0;
}

int tock_scheduler_get_job(struct tock_scheduler *s, const char *id,
                           struct tock_jobinfo *out, struct tock_error *err)
{
    struct tock_job_state st;
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if ((rc = check_id(s, id, err)) != 0)
        return rc;
    if (out == NULL)
        return tock_error_set(err, TOCK_EINVAL, "get_job: out is NULL");
    memset(&st, 0, sizeof st);
    pthread_mutex_lock(&s->api_mu);
    rc = tock_store_job_get(s->api_store, id, &st, err);
    pthread_mutex_unlock(&s->api_mu);
    if (rc == TOCK_ENOENT)
        tock_error_set(err, rc, "no job '%s'", id);
    if (rc == 0)
        rc = info_move(&st, out, err);
    tock_job_state_clear(&st);
    return rc;
}

int tock_scheduler_list_jobs(struct tock_scheduler *s,
                             struct tock_jobinfo **out, size_t *n,
                             struct tock_error *err)
{
    struct tock_job_state *list = NULL;
    struct tock_jobinfo *infos = NULL;
    size_t count = 0, i;
    int rc;

    if (s == NULL || out == NULL || n == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "list_jobs: NULL scheduler or output");
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->api_mu);
    rc = tock_store_job_list(s->api_store, &list, &count, err);
    pthread_mutex_unlock(&s->api_mu);
    if (rc != 0)
        return rc;
    if ((infos = tock_calloc(count ? count : 1, sizeof *infos)) == NULL)
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < count; i++)
        rc = info_move(&list[i], &infos[i], err);
    tock_job_state_list_free(list, count);
    if (rc != 0) {
        tock_jobinfo_list_free(infos, count);
        return rc;
    }
    *out = infos;
    *n = count;
    return 0;
}

void tock_jobinfo_clear(struct tock_jobinfo *info)
{
    struct tock_jobdef *d;

    if (info == NULL)
        return;
    d = &info->def;
    tock_free((char *)d->id);
    tock_free((char *)d->trigger);
    tock_free((char *)d->function);
    tock_free((char *)d->args_json);
    tock_free((char *)d->name);
    tock_free((char *)d->queue);
    memset(info, 0, sizeof *info);
}

void tock_jobinfo_list_free(struct tock_jobinfo *list, size_t n)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < n; i++)
        tock_jobinfo_clear(&list[i]);
    tock_free(list);
}

/* ------------------------------------------------------------- history */

static char *output_text(const uint8_t *p, size_t len)
{
    char *s;

    if (p == NULL)
        return NULL;
    if ((s = tock_malloc(len + 1)) != NULL) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

static void run_move(struct tock_run *r, struct tock_runinfo *o)
{
    o->job = r->job;
    o->occurrence = r->occ;
    o->error = r->error;
    o->node = r->node;
    o->worker = r->worker;
    r->job = r->occ = r->error = r->node = r->worker = NULL;
    o->output = output_text(r->output, r->output_len);
    o->scheduled_ms = r->sched_ms;
    snprintf(o->status, sizeof o->status, "%s", r->status);
    o->fired_ms = r->fired_ms;
    o->started_ms = r->started_ms;
    o->finished_ms = r->finished_ms;
    o->attempt = r->attempt;
    o->exit_code = r->exit_code;
}

int tock_scheduler_runs(struct tock_scheduler *s, const char *job_id,
                        size_t limit, struct tock_runinfo **out, size_t *n,
                        struct tock_error *err)
{
    struct tock_run *runs = NULL;
    struct tock_runinfo *infos;
    size_t count = 0, i;
    int rc;

    if (s == NULL || out == NULL || n == NULL)
        return tock_error_set(err, TOCK_EINVAL, "runs: NULL scheduler or "
                              "output");
    *out = NULL;
    *n = 0;
    if (job_id != NULL && (rc = tock_name_check(job_id, "job id", err)) != 0)
        return rc;
    pthread_mutex_lock(&s->api_mu);
    rc = tock_store_runs(s->api_store, job_id, limit, &runs, &count, err);
    pthread_mutex_unlock(&s->api_mu);
    if (rc != 0)
        return rc;
    if ((infos = tock_calloc(count ? count : 1, sizeof *infos)) == NULL) {
        tock_run_list_free(runs, count);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    for (i = 0; i < count; i++)
        run_move(&runs[i], &infos[i]);
    tock_run_list_free(runs, count);
    *out = infos;
    *n = count;
    return 0;
}

void tock_runinfo_list_free(struct tock_runinfo *list, size_t n)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < n; i++) {
        tock_free(list[i].job);
        tock_free(list[i].occurrence);
        tock_free(list[i].error);
        tock_free(list[i].output);
        tock_free(list[i].node);
        tock_free(list[i].worker);
    }
    tock_free(list);
}
