/* embed_fire.c: the embedded scheduler's firing side: the firing loop of
 * scheduler/loop.h on a store handle of its own, in a libuv loop of its own
 * on a thread (tock_scheduler_start) or in the caller's (attach).
 *
 * Lifetime. The firing side outlives the scheduler when it is attached:
 * the caller's loop closes its handles in a later turn, after
 * tock_scheduler_free may have returned. So it is a separate object with
 * two references, the scheduler's and the loop's, and a pointer back to
 * the scheduler that the scheduler clears (under `mu`) when it lets go;
 * whoever drops the last reference frees it.
 *
 * ON stop (any thread):
 *   1. Under mu: `stopping` (no more wakes: tock_loop_wake must not follow
 *      tock_loop_close), then uv_async_send(ctl).
 *   2. On the loop thread, ctl: tock_loop_close; the firing loop releases
 *      the claims it holds and closes its handles; then ctl is closed and
 *      the store handle with it.
 *   3. With a loop of its own, the thread's uv_run then returns: the thread
 *      closes the loop and the stop joins it. In the caller's loop, step 2
 *      happens in its next turn; the scheduler does not wait for it.
 *   4. The scheduler clears the back pointer and drops its reference.
 *   Step 1 under mu: because a wake racing with a stop would otherwise
 *   touch the loop's async handle after it was closed.
 */
#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "scheduler/embed.h"

#define LOGC "libtock"

struct tock_embed_fire {
    pthread_mutex_t mu;          /* guards refs, sched, stopping */
    int refs;
    struct tock_scheduler *sched; /* NULL once the scheduler let go */
    bool stopping;
    bool own_loop;
    uv_loop_t own;               /* the loop, when own_loop */
    uv_loop_t *uv;
    pthread_t thread;
    uv_async_t ctl;
    bool closing;
    struct tock_store *store;
    struct tock_embed_gate *gate; /* a reference: the store's busy handler
                                     points at it */
    struct tock_loop *loop;
    struct tock_log *log;
};

static void unref(struct tock_embed_fire *f)
{
    int left;

    pthread_mutex_lock(&f->mu);
    left = --f->refs;
    pthread_mutex_unlock(&f->mu);
    if (left > 0)
        return;
    tock_embed_gate_unref(f->gate);
    pthread_mutex_destroy(&f->mu);
    tock_free(f);
}

/* ------------------------------------------------------------- outcomes */

static void event_of(struct tock_sched_event *ev, enum tock_sched_event_type t,
                     const struct tock_loop_outcome *o, const char *occ)
{
    memset(ev, 0, sizeof *ev);
    ev->type = t;
    ev->job = o->job;
    ev->occurrence = occ;
    ev->scheduled_ms = o->sched_ms;
    ev->time_ms = tock_embed_wall_ms();
    ev->late_ms = o->late_ms;
    ev->count = 1;
}

/* outcome turns one committed decision into counts, a kick and events.
 * Older occurrences recorded missed with it come first, as one batch the
 * event thread looks up in the run history (the outcome has their count,
 * not their times). */
static void outcome(struct tock_scheduler *s, const struct tock_loop_outcome *o)
{
    bool fired = strcmp(o->what, "fired") == 0;
    bool missed = strcmp(o->what, "missed") == 0;
    bool skipped = strcmp(o->what, "skipped") == 0;
    struct tock_sched_event ev;
    char occ[TOCK_OCC_MAX];

    if (!fired && !missed && !skipped)
        return; /* refused or released: nothing was recorded */
    tock_embed_exec_count(s, fired, o->n_missed + missed, skipped);
    if (fired)
        tock_embed_exec_kick(s);
    if (tock_occ_format(occ, sizeof occ, o->job, o->sched_ms) != 0)
        return;
    if (o->n_missed > 0) {
        event_of(&ev, TOCK_SCHED_MISSED, o, NULL);
        ev.reason = o->miss_reason ? o->miss_reason : "misfire_grace";
        tock_embed_events_push(s, &ev, o->n_missed, o->sched_ms);
    }
    event_of(&ev, fired ? TOCK_SCHED_FIRED
                  : missed ? TOCK_SCHED_MISSED
                           : TOCK_SCHED_SKIPPED,
             o, occ);
    if (missed)
        ev.reason = o->n_missed > 0 && o->miss_reason ? o->miss_reason
                                                      : "misfire_grace";
    if (skipped)
        ev.reason = "max_instances";
    tock_embed_events_push(s, &ev, 0, 0);
}

static void on_outcome(void *data, const struct tock_loop_outcome *o)
{
    struct tock_embed_fire *f = data;

    pthread_mutex_lock(&f->mu);
    if (f->sched != NULL)
        outcome(f->sched, o);
    pthread_mutex_unlock(&f->mu);
}

/* ------------------------------------------------------------- closing */

static void on_ctl_closed(uv_handle_t *h)
{
    struct tock_embed_fire *f = h->data;

    tock_store_close(f->store);
    f->store = NULL;
    if (!f->own_loop)
        unref(f); /* the loop's reference; with its own loop the thread
                     drops it after uv_loop_close */
}

static void on_loop_closed(void *data)
{
    struct tock_embed_fire *f = data;

    f->loop = NULL;
    uv_close((uv_handle_t *)&f->ctl, on_ctl_closed);
}

static void on_ctl(uv_async_t *h)
{
    struct tock_embed_fire *f = h->data;

    if (f->closing)
        return;
    f->closing = true;
    tock_loop_close(f->loop, on_loop_closed, f);
}

static void *loop_thread(void *arg)
{
    struct tock_embed_fire *f = arg;
    struct tock_error err = {0};
    int rc;

    if (tock_loop_start(f->loop, &err) != 0)
        tock_logf(f->log, TOCK_LOG_ERROR, LOGC, "firing loop: %s", err.msg);
    uv_run(&f->own, UV_RUN_DEFAULT);
    if ((rc = uv_loop_close(&f->own)) != 0)
        tock_logf(f->log, TOCK_LOG_ERROR, LOGC,
                  "firing loop thread: a handle is still open at exit (%s); "
                  "a bug in tock", uv_strerror(rc));
    unref(f);
    return NULL;
}

/* ------------------------------------------------------------- starting */

static int make_loop(struct tock_embed_fire *f, struct tock_scheduler *s,
                     struct tock_error *err)
{
    struct tock_loop_config cfg = {
        .node_id = s->node,
        .lease_ms = s->claim_lease_ms,
        .watch_path = tock_loop_watch_path(s->url),
        .on_outcome = on_outcome,
        .outcome_data = f,
    };

    return tock_loop_new(f->uv, f->store, f->log, &cfg, &f->loop, err);
}

/* abandon undoes a start that failed after the control handle opened:
 * handles close in their loop before the memory goes (in the caller's
 * loop, in its next turn, which frees the rest). */
static void abandon(struct tock_embed_fire *f)
{
    f->closing = true;
    f->sched = NULL;
    f->refs = 1; /* the loop's alone */
    if (f->loop != NULL)
        tock_loop_close(f->loop, on_loop_closed, f); /* then ctl */
    else
        uv_close((uv_handle_t *)&f->ctl, on_ctl_closed);
    if (!f->own_loop)
        return;
    uv_run(&f->own, UV_RUN_DEFAULT);
    uv_loop_close(&f->own);
    unref(f);
}

static int start_loop(struct tock_embed_fire *f, struct tock_error *err)
{
    if (!f->own_loop)
        return tock_loop_start(f->loop, err);
    if (pthread_create(&f->thread, NULL, loop_thread, f) != 0)
        return tock_error_set(err, TOCK_ENOMEM,
                              "cannot create the firing loop's thread "
                              "(out of memory or thread limit)");
    return 0;
}

static struct tock_embed_fire *fire_new(struct tock_scheduler *s,
                                        uv_loop_t *uv)
{
    struct tock_embed_fire *f = tock_calloc(1, sizeof *f);

    if (f == NULL)
        return NULL;
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        tock_free(f);
        return NULL;
    }
    f->refs = 2;
    f->sched = s;
    f->gate = s->gate;
    tock_embed_gate_ref(s->gate);
    f->log = s->log;
    f->own_loop = uv == NULL;
    f->uv = uv != NULL ? uv : &f->own;
    return f;
}

static void fire_free(struct tock_embed_fire *f)
{
    tock_store_close(f->store);
    tock_embed_gate_unref(f->gate);
    pthread_mutex_destroy(&f->mu);
    tock_free(f);
}

int tock_embed_fire_start(struct tock_scheduler *s, uv_loop_t *uv,
                          struct tock_error *err)
{
    struct tock_embed_fire *f = fire_new(s, uv);
    int rc;

    if (f == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    if ((rc = tock_store_open_tuned(s->url, &s->tuning, f->log, &f->store,
                                    err)) != 0) {
        fire_free(f);
        return rc;
    }
    tock_embed_gate_install(f->gate, f->store, true);
    if (f->own_loop && uv_loop_init(&f->own) != 0) {
        fire_free(f);
        return tock_error_set(err, TOCK_EIO, "cannot create a libuv loop "
                              "(out of file descriptors?)");
    }
    if (uv_async_init(f->uv, &f->ctl, on_ctl) != 0) {
        if (f->own_loop)
            uv_loop_close(&f->own);
        fire_free(f);
        return tock_error_set(err, TOCK_EIO, "cannot create the firing "
                              "side's control handle (out of file "
                              "descriptors?)");
    }
    f->ctl.data = f;
    if ((rc = make_loop(f, s, err)) == 0)
        rc = start_loop(f, err);
    if (rc != 0) {
        abandon(f);
        return rc;
    }
    s->fire = f;
    return 0;
}

/* ------------------------------------------------------------- running */

void tock_embed_fire_wake(struct tock_scheduler *s)
{
    struct tock_embed_fire *f;

    pthread_mutex_lock(&s->life_mu);
    f = s->fire;
    if (f != NULL) {
        pthread_mutex_lock(&f->mu);
        if (!f->stopping)
            tock_loop_wake(f->loop);
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_unlock(&s->life_mu);
}

void tock_embed_fire_stop(struct tock_scheduler *s)
{
    struct tock_embed_fire *f = s->fire;

    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    uv_async_send(&f->ctl);
    pthread_mutex_unlock(&f->mu);
    if (f->own_loop)
        pthread_join(f->thread, NULL);
    pthread_mutex_lock(&f->mu);
    f->sched = NULL;
    pthread_mutex_unlock(&f->mu);
    s->fire = NULL;
    unref(f);
}
