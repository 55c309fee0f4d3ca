/* embed_events.c: the listener's queue and thread.
 *
 * Events come from the firing loop's thread (fired, missed, skipped) and
 * from the dispatcher (succeeded, failed). Each is copied into a queue and
 * the event thread calls the listener, one at a time and in order, so the
 * listener never runs on a thread that fires or dispatches: a slow
 * listener delays events, never jobs. The queue is bounded
 * (TOCK_EMBED_EVENTS_MAX); past that, events are dropped and counted, and
 * the first drop is logged.
 *
 * Missed occurrences that a commit records together with its own (a
 * catch-up after downtime) reach here as one batch with their count and
 * the commit's occurrence as an upper bound. The event thread reads their
 * times from the run history (they are the newest "missed" records below
 * the bound) and reports each with its occurrence id; those the history
 * has already trimmed are reported as one event with their count.
 */
#include <string.h>

#include "core/alloc.h"
#include "scheduler/embed.h"

#define LOGC "libtock"
#define EXPAND_SLACK 64 /* newer runs that may precede the batch's */

/* ------------------------------------------------------------- the queue */

int tock_embed_events_init(struct tock_scheduler *s, struct tock_error *err)
{
    struct tock_embed_events *q = &s->events;

    if (pthread_mutex_init(&q->mu, NULL) != 0)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory (mutex)");
    if (pthread_cond_init(&q->cv, NULL) != 0 ||
        pthread_cond_init(&q->join_cv, NULL) != 0) {
        pthread_mutex_destroy(&q->mu);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory (condition)");
    }
    return 0;
}

static void ev_free(struct tock_embed_ev *e)
{
    if (e == NULL)
        return;
    tock_free(e->job);
    tock_free(e->occ);
    tock_free(e->reason);
    tock_free(e);
}

void tock_embed_events_destroy(struct tock_scheduler *s)
{
    struct tock_embed_events *q = &s->events;

    while (q->head != NULL) {
        struct tock_embed_ev *e = q->head;

        q->head = e->next;
        ev_free(e);
    }
    pthread_cond_destroy(&q->join_cv);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

static char *dup_or_null(const char *s, bool *oom)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = tock_strdup(s)) == NULL)
        *oom = true;
    return d;
}

/* ev_copy makes a queued copy of `ev`; NULL when out of memory. */
static struct tock_embed_ev *ev_copy(const struct tock_sched_event *ev,
                                     size_t expand, int64_t below)
{
    struct tock_embed_ev *e = tock_calloc(1, sizeof *e);
    bool oom = false;

    if (e == NULL)
        return NULL;
    e->ev = *ev;
    e->job = dup_or_null(ev->job, &oom);
    e->occ = dup_or_null(ev->occurrence, &oom);
    e->reason = dup_or_null(ev->reason, &oom);
    if (oom) {
        ev_free(e);
        return NULL;
    }
    e->ev.job = e->job;
    e->ev.occurrence = e->occ;
    e->ev.reason = e->reason;
    e->expand = expand;
    e->below = below;
    return e;
}

/* drop counts a lost event and logs the first one. */
static void drop(struct tock_scheduler *s, const char *why)
{
    bool first;

    pthread_mutex_lock(&s->events.mu);
    s->events.dropped++;
    first = !s->events.warned;
    s->events.warned = true;
    pthread_mutex_unlock(&s->events.mu);
    if (first)
        tock_logf(s->log, TOCK_LOG_WARN, LOGC,
                  "listener events dropped (%s); later drops are only "
                  "counted (tock_scheduler_stats)", why);
}

void tock_embed_events_push(struct tock_scheduler *s,
                            const struct tock_sched_event *ev, size_t expand,
                            int64_t below)
{
    struct tock_embed_events *q = &s->events;
    struct tock_embed_ev *e;

    if (s->listener == NULL)
        return;
    if ((e = ev_copy(ev, expand, below)) == NULL) {
        drop(s, "out of memory");
        return;
    }
    pthread_mutex_lock(&q->mu);
    if (q->n >= TOCK_EMBED_EVENTS_MAX || q->exit) {
        bool full = !q->exit;

        pthread_mutex_unlock(&q->mu);
        ev_free(e);
        if (full)
            drop(s, "more than 10000 queued behind a slow listener");
        return;
    }
    if (q->tail != NULL)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->n++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* ---------------------------------------------------------- missed runs */

static void emit_missed(struct tock_scheduler *s, const struct tock_embed_ev *e,
                        const struct tock_run *r)
{
    struct tock_sched_event ev = e->ev;

    ev.occurrence = r->occ;
    ev.scheduled_ms = r->sched_ms;
    ev.count = 1;
    ev.late_ms = r->fired_ms > 0 ? r->fired_ms - r->sched_ms : e->ev.late_ms;
    if (r->error != NULL)
        ev.reason = r->error;
    s->listener(&ev, s->listener_data);
}

/* expand reports a batch of missed occurrences one by one, from the run
 * history (see the top of this file). */
static void expand(struct tock_scheduler *s, const struct tock_embed_ev *e)
{
    struct tock_run *runs = NULL;
    size_t n = 0, i, found = 0, first = 0;
    struct tock_sched_event ev;
    int rc;

    pthread_mutex_lock(&s->api_mu);
    rc = tock_store_runs(s->api_store, e->job, e->expand + EXPAND_SLACK,
                         &runs, &n, NULL);
    pthread_mutex_unlock(&s->api_mu);
    /* Newest first: the batch is the first e->expand missed records below
     * the bound; `first` ends as the index of its oldest. */
    for (i = 0; rc == 0 && i < n && found < e->expand; i++) {
        if (runs[i].sched_ms < e->below &&
            strcmp(runs[i].status, "missed") == 0) {
            found++;
            first = i;
        }
    }
    if (found < e->expand) {
        ev = e->ev;
        ev.count = e->expand - found;
        ev.scheduled_ms = -1;
        ev.occurrence = NULL;
        s->listener(&ev, s->listener_data);
    }
    for (i = first + 1; found > 0 && i-- > 0;) {
        if (runs[i].sched_ms < e->below &&
            strcmp(runs[i].status, "missed") == 0)
            emit_missed(s, e, &runs[i]);
    }
    tock_run_list_free(runs, n);
}

/* ------------------------------------------------------------ the thread */

static void *event_thread(void *arg)
{
    struct tock_scheduler *s = arg;
    struct tock_embed_events *q = &s->events;
    struct tock_embed_ev *e;

    pthread_mutex_lock(&q->mu); /* start holds it until q->thread is set */
    for (;;) {
        while (q->head == NULL && !q->exit)
            pthread_cond_wait(&q->cv, &q->mu);
        if ((e = q->head) == NULL)
            break;
        q->head = e->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->n--;
        pthread_mutex_unlock(&q->mu);
        if (e->expand > 0)
            expand(s, e);
        else
            s->listener(&e->ev, s->listener_data);
        ev_free(e);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int tock_embed_events_start(struct tock_scheduler *s, struct tock_error *err)
{
    struct tock_embed_events *q = &s->events;
    int rc = 0;

    if (s->listener == NULL)
        return 0;
    pthread_mutex_lock(&q->mu);
    if (pthread_create(&q->thread, NULL, event_thread, s) != 0)
        rc = tock_error_set(err, TOCK_ENOMEM, "cannot create the event "
                            "thread (out of memory or thread limit)");
    else
        q->started = true;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void tock_embed_events_join(struct tock_scheduler *s)
{
    struct tock_embed_events *q = &s->events;

    pthread_mutex_lock(&q->mu);
    if (!q->started || q->joined) {
        pthread_mutex_unlock(&q->mu);
        return;
    }
    if (q->joining) {
        while (!q->joined)
            pthread_cond_wait(&q->join_cv, &q->mu);
        pthread_mutex_unlock(&q->mu);
        return;
    }
    q->joining = true;
    q->exit = true; /* the thread delivers what is queued, then ends */
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    pthread_mutex_lock(&q->mu);
    q->joined = true;
    pthread_cond_broadcast(&q->join_cv);
    pthread_mutex_unlock(&q->mu);
}

bool tock_embed_events_is_thread(struct tock_scheduler *s)
{
    struct tock_embed_events *q = &s->events;
    bool is;

    pthread_mutex_lock(&q->mu);
    is = q->started && !q->joined &&
         pthread_equal(q->thread, pthread_self()) != 0;
    pthread_mutex_unlock(&q->mu);
    return is;
}
