/* loop.c: the firing loop on its libuv thread (loop.h): lifecycle, the one
 * timer, wake-ups, store-state tracking, and accounting and logging of what
 * the store thread (loop_work.c) brought back. */
#include "scheduler/loop.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/alloc.h"
#include "scheduler/loop_internal.h"

#define LOGC "scheduler"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MIN_LEASE_MS 100
#define MAX_LEASE_MS (24LL * 3600 * 1000)

static void schedule(struct tock_loop *l);
static void maybe_close(struct tock_loop *l);

/* ------------------------------------------------------------------ items */

int tock_loop_items_reserve(struct tock_loop_items *it, size_t more)
{
    size_t cap = it->cap > 0 ? it->cap : 16;
    struct tock_loop_item *v;

    if (it->n + more <= it->cap)
        return 0;
    while (cap < it->n + more)
        cap *= 2;
    v = tock_realloc(it->v, cap * sizeof *v);
    if (v == NULL)
        return TOCK_ENOMEM;
    it->v = v;
    it->cap = cap;
    return 0;
}

void tock_loop_items_push(struct tock_loop_items *it,
                          struct tock_loop_item *item)
{
    it->v[it->n++] = *item;
    memset(item, 0, sizeof *item);
}

void tock_loop_item_clear(struct tock_loop_item *item)
{
    tock_job_clear(&item->c.job);
    tock_decided_clear(&item->d);
    memset(item, 0, sizeof *item);
}

void tock_loop_items_free(struct tock_loop_items *it)
{
    size_t i;

    for (i = 0; i < it->n; i++)
        tock_loop_item_clear(&it->v[i]);
    tock_free(it->v);
    memset(it, 0, sizeof *it);
}

uint64_t tock_loop_mono_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/* ------------------------------------------------------- identity, random */

static void random_bytes(void *buf, size_t len)
{
    uint64_t x = uv_hrtime() ^ ((uint64_t)getpid() << 32);
    unsigned char *p = buf;
    size_t i;

    if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t)len)
        return;
    /* No entropy yet (early boot): the clock and pid still make the nonce
     * unique per process start, which is all it needs to be. */
    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* default_node makes "<host>-<pid>", the host cut and cleaned to the name
 * policy of proto/model.h (which keeps ':' out of ids). */
static void default_node(char *buf, size_t cap)
{
    char host[TOCK_ID_MAX + 1] = "";
    char pid[24];
    size_t i, hmax;

    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(pid, sizeof pid, "-%ld", (long)getpid());
    hmax = cap - 1 - strlen(pid);
    if (strlen(host) > hmax)
        host[hmax] = '\0';
    for (i = 0; host[i] != '\0'; i++) {
        char ch = host[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
                  ch == '_';

        if (!ok || (i == 0 && (ch == '.' || ch == '-' || ch == '_')))
            host[i] = 'x';
    }
    snprintf(buf, cap, "%s%s", host, pid);
}

const char *tock_loop_watch_path(const char *url)
{
    if (url == NULL || strncmp(url, "sqlite:", 7) != 0 || url[7] == '\0')
        return NULL;
    return url + 7;
}

/* --------------------------------------------------------------- creation */

static int check_config(const struct tock_loop_config *cfg,
                        struct tock_error *err)
{
    if (cfg->lease_ms != 0 &&
        (cfg->lease_ms < MIN_LEASE_MS || cfg->lease_ms > MAX_LEASE_MS))
        return tock_error_set(err, TOCK_ERANGE,
                              "claim lease %" PRId64 " ms is out of range; "
                              "use 100ms to 24h (default 15s)",
                              cfg->lease_ms);
    if (cfg->claim_batch > TOCK_CLAIM_MAX)
        return tock_error_set(err, TOCK_ERANGE,
                              "claim batch %zu is too large; use 1 to %d",
                              cfg->claim_batch, TOCK_CLAIM_MAX);
    if (cfg->max_sleep_ms < 0 || cfg->task_reclaim_ms < -1)
        return tock_error_set(err, TOCK_ERANGE,
                              "sleep cap and task reclaim period must not be "
                              "negative (task reclaim -1 means never)");
    if (cfg->node_id != NULL)
        return tock_name_check(cfg->node_id, "node id", err);
    return 0;
}

/* apply_config fills the resolved configuration of `l`. */
static int apply_config(struct tock_loop *l, const struct tock_loop_config *cfg,
                        struct tock_error *err)
{
    l->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : TOCK_LOOP_LEASE_MS;
    l->max_hold_ms = l->lease_ms * 3 / 8;
    l->batch = cfg->claim_batch > 0 ? cfg->claim_batch : TOCK_CLAIM_MAX;
    l->max_sleep_ms =
        cfg->max_sleep_ms > 0 ? cfg->max_sleep_ms : TOCK_LOOP_MAX_SLEEP_MS;
    l->reclaim_ms = cfg->task_reclaim_ms == 0 ? TOCK_LOOP_TASK_RECLAIM_MS
                                              : cfg->task_reclaim_ms;
    l->on_outcome = cfg->on_outcome;
    l->outcome_data = cfg->outcome_data;
    if (cfg->node_id != NULL)
        snprintf(l->node, sizeof l->node, "%s", cfg->node_id);
    else
        default_node(l->node, sizeof l->node);
    if (cfg->watch_path != NULL &&
        (l->watch_path = tock_strdup(cfg->watch_path)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    l->selfcheck = true;
#ifdef TOCK_TEST_HOOKS
    {
        const char *sc = getenv("TOCK_TEST_SELFCHECK");

        l->selfcheck = sc == NULL || strcmp(sc, "off") != 0;
        return tock_loop_crash_parse(getenv("TOCK_CRASHPOINT"), &l->crash,
                                     err);
    }
#else
    return 0;
#endif
}

static void on_async(uv_async_t *h);
static void on_timer(uv_timer_t *h);

int tock_loop_new(uv_loop_t *uv, struct tock_store *store,
                  struct tock_log *log, const struct tock_loop_config *cfg,
                  struct tock_loop **out, struct tock_error *err)
{
    static const struct tock_loop_config none;
    struct tock_loop *l = NULL;
    unsigned char nonce[8];
    int rc;

    *out = NULL;
    cfg = cfg != NULL ? cfg : &none;
    if ((rc = check_config(cfg, err)) != 0)
        return rc;
    l = tock_calloc(1, sizeof *l);
    if (l == NULL || (l->cache = tock_decide_cache_new(0)) == NULL) {
        tock_free(l);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    l->uv = uv;
    l->store = store;
    l->log = log;
    rc = apply_config(l, cfg, err);
    if (rc == 0 && uv_async_init(uv, &l->async, on_async) != 0)
        rc = tock_error_set(err, TOCK_EIO, "cannot create the wake-up handle "
                                           "(out of file descriptors?)");
    if (rc != 0) {
        tock_decide_cache_free(l->cache);
        tock_free(l->watch_path);
        tock_free(l);
        return rc;
    }
    random_bytes(nonce, sizeof nonce);
    snprintf(l->nonce, sizeof l->nonce, "%02x%02x%02x%02x%02x%02x%02x%02x",
             nonce[0], nonce[1], nonce[2], nonce[3], nonce[4], nonce[5],
             nonce[6], nonce[7]);
    random_bytes(&l->rng, sizeof l->rng);
    l->rng |= 1;
    uv_timer_init(uv, &l->timer);
    l->async.data = l->timer.data = l->req.data = l;
    l->handles_open = 2;
    if (l->watch_path != NULL) {
        uv_fs_event_init(uv, &l->watch);
        l->watch.data = l;
        l->watch_inited = true;
        l->handles_open++;
    }
    l->data_version = -1;
    l->store_ok = true;
    atomic_init(&l->stop_requested, false);
    *out = l;
    return 0;
}

/* ------------------------------------------------------------- outcomes */

static void emit(struct tock_loop *l, const struct tock_loop_item *it,
                 const char *what, int64_t late_ms)
{
    struct tock_loop_outcome o = {
        .job = it->c.job.id,
        .sched_ms = it->d.sched_ms,
        .what = what,
        .late_ms = late_ms,
        .n_missed = it->d.n_missed,
        .miss_reason = it->d.n_missed > 0 ? it->d.miss_reason : NULL,
        .next_ms = it->d.next_ms,
    };

    if (l->on_outcome != NULL)
        l->on_outcome(l->outcome_data, &o);
}

/* count_missed accounts and logs the older occurrences a commit recorded. */
static void count_missed(struct tock_loop *l, const struct tock_loop_item *it)
{
    const struct tock_decided *d = &it->d;
    bool coalesced;

    if (d->n_missed == 0)
        return;
    coalesced = d->miss_reason != NULL &&
                strcmp(d->miss_reason, TOCK_MISS_COALESCED) == 0;
    if (coalesced)
        l->stats.coalesced += d->n_missed;
    else
        l->stats.missed += d->n_missed;
    tock_logf(l->log, TOCK_LOG_INFO, LOGC,
              "%s %zu occurrence%s of %s (%" PRId64 "..%" PRId64 ")%s",
              coalesced ? "coalesced" : "missed", d->n_missed,
              d->n_missed == 1 ? "" : "s", it->c.job.id, d->missed[0],
              d->missed[d->n_missed - 1],
              coalesced ? " into the next one" : ": past misfire_grace");
}

static void account_fire(struct tock_loop *l, const struct tock_loop_item *it,
                         int64_t late)
{
    l->stats.fired++;
    l->stats.late_sum_ms += late;
    if (late > l->stats.late_max_ms)
        l->stats.late_max_ms = late;
    tock_logf(l->log, TOCK_LOG_INFO, LOGC, "fired %s@%" PRId64 " (late %" PRId64
              " ms)", it->c.job.id, it->d.sched_ms, late);
    emit(l, it, "fired", late);
}

static void account_miss(struct tock_loop *l, const struct tock_loop_item *it,
                         int64_t late, const char *reason)
{
    bool coalesced = strcmp(reason, TOCK_MISS_COALESCED) == 0;

    if (coalesced)
        l->stats.coalesced++;
    else
        l->stats.missed++;
    tock_logf(l->log, TOCK_LOG_INFO, LOGC,
              "missed %s@%" PRId64 " (%s; %" PRId64 " ms late, misfire_grace %"
              PRId64 " ms)", it->c.job.id, it->d.sched_ms, reason, late,
              it->c.job.misfire_grace_ms);
    emit(l, it, "missed", late);
}

/* account_refused handles the statuses where the store wrote nothing. */
static void account_refused(struct tock_loop *l,
                            const struct tock_loop_item *it)
{
    const char *id = it->c.job.id;

    switch (it->res.status) {
    case TOCK_COMMIT_STALE:
        l->stats.stale++;
        tock_logf(l->log, TOCK_LOG_WARN, LOGC,
                  "commit refused for job %s (stale claim: epoch %" PRId64
                  " was reclaimed by another node)", id, it->c.epoch);
        emit(l, it, "stale", 0);
        break;
    case TOCK_COMMIT_CHANGED:
        l->stats.changed++;
        tock_logf(l->log, TOCK_LOG_INFO, LOGC, "job %s changed since the "
                  "claim; the next claim decides", id);
        emit(l, it, "changed", 0);
        break;
    case TOCK_COMMIT_GONE:
        l->stats.gone++;
        tock_logf(l->log, TOCK_LOG_INFO, LOGC,
                  "job %s was removed since the claim", id);
        emit(l, it, "gone", 0);
        break;
    case TOCK_COMMIT_ALREADY:
        l->stats.already++;
        emit(l, it, "already", 0);
        break;
    default:
        l->stats.duplicate++;
        tock_logf(l->log, TOCK_LOG_ERROR, LOGC,
                  "commit refused for %s@%" PRId64 ": at or before the job's "
                  "watermark (a bug in tock; please report it)", id,
                  it->d.sched_ms);
        emit(l, it, "duplicate", 0);
        break;
    }
}

static void account_done(struct tock_loop *l, const struct tock_loop_item *it)
{
    /* The store stamps the commit with its clock; this estimates it from the
     * claim's clock plus the monotonic time until the commit was sent. */
    int64_t late = it->claim_now_ms +
                   (int64_t)(it->sent_mono_ms - it->claim_mono_ms) -
                   it->d.sched_ms;

    switch (it->res.status) {
    case TOCK_COMMIT_OK:
        count_missed(l, it);
        if (it->d.decision == TOCK_DECIDE_FIRE)
            account_fire(l, it, late);
        else
            account_miss(l, it, late, it->d.miss_reason);
        break;
    case TOCK_COMMIT_MISSED:
        count_missed(l, it);
        account_miss(l, it, late, TOCK_MISS_GRACE);
        break;
    case TOCK_COMMIT_SKIPPED:
        count_missed(l, it);
        l->stats.skipped++;
        tock_logf(l->log, TOCK_LOG_INFO, LOGC,
                  "skipped %s@%" PRId64 " (max_instances %d running)",
                  it->c.job.id, it->d.sched_ms, it->c.job.max_instances);
        emit(l, it, "skipped", late);
        break;
    default:
        account_refused(l, it);
        break;
    }
}

static void account_lapse(struct tock_loop *l, const struct tock_loop_item *it)
{
    l->stats.lapsed++;
    emit(l, it, "lapsed", 0);
    if (strcmp(it->why, "undecidable") != 0)
        return; /* release failures are summed up in the store line */
    if (it->d.first_error)
        tock_logf(l->log, TOCK_LOG_ERROR, LOGC,
                  "cannot fire job %s: %s; its claim lapses and it is retried "
                  "every lease until the job is fixed", it->c.job.id,
                  it->d.err.msg);
}

/* --------------------------------------------------------- after a work */

static void store_state(struct tock_loop *l, const struct tock_loop_work *w,
                        uint64_t now)
{
    if (w->failures > 0) {
        l->stats.errors += (uint64_t)w->failures;
        l->backoff_ms = l->backoff_ms > 0 ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (l->backoff_ms > BACKOFF_MAX_MS)
            l->backoff_ms = BACKOFF_MAX_MS;
        l->retry_at = now + (uint64_t)l->backoff_ms;
        l->want_claim = true;
        if (l->store_ok)
            tock_logf(l->log, TOCK_LOG_WARN, LOGC,
                      "store unavailable: %s; nothing fires until it is "
                      "back (retrying every %d ms at most)", w->err.msg,
                      BACKOFF_MAX_MS);
        if (l->store_ok)
            l->down_since = now;
        l->store_ok = false;
        return;
    }
    if (!l->store_ok)
        tock_logf(l->log, TOCK_LOG_INFO, LOGC,
                  "store available again after %" PRIu64 " ms",
                  now - l->down_since);
    l->store_ok = true;
    l->backoff_ms = 0;
    l->retry_at = 0;
}

static void claim_done(struct tock_loop *l, const struct tock_loop_work *w)
{
    int64_t delay;

    l->stats.claims++;
    l->stats.claimed += w->claimed;
    l->stats.reclaimed += w->reclaimed;
    if (w->reclaimed > 0)
        tock_logf(l->log, TOCK_LOG_INFO, LOGC,
                  "reclaimed %zu expired claim%s (a node died or stalled)",
                  w->reclaimed, w->reclaimed == 1 ? "" : "s");
    if (w->claimed >= l->batch) {
        l->want_claim = true; /* more are due: claim again at once */
        l->claim_at = 0;
        return;
    }
    delay = w->next_due_ms < 0 ? l->max_sleep_ms : w->next_due_ms - w->now_ms;
    if (delay > l->max_sleep_ms)
        delay = l->max_sleep_ms;
    if (delay <= 0) /* due but not ours to claim: never spin on it */
        delay = w->claimed > 0 ? 0 : 10;
    l->claim_at = w->base_mono_ms + (uint64_t)delay + 1;
}

static void reclaim_done(struct tock_loop *l, const struct tock_loop_work *w,
                         uint64_t now)
{
    l->reclaim_at = now + (uint64_t)l->reclaim_ms;
    l->stats.tasks_redelivered += w->redelivered;
    l->stats.tasks_dead += w->dead;
    if (w->redelivered > 0 || w->dead > 0)
        tock_logf(l->log, TOCK_LOG_INFO, LOGC,
                  "task reclaim: %zu redelivered, %zu dead (their worker went "
                  "silent past its lease)", w->redelivered, w->dead);
}

/* claim_by moves the next claim to monotonic time `at` if that is sooner. */
static void claim_by(struct tock_loop *l, uint64_t at)
{
    if (l->claim_at == 0 || at < l->claim_at)
        l->claim_at = at;
}

/* follow_up plans the next look at a job this work handled. The claim's
 * next due time was read while the job was claimed, so it leaves the job
 * out: the job's own next time comes from the commit. */
static void follow_up(struct tock_loop *l, const struct tock_loop_item *it)
{
    int64_t wait;

    if (it->fate == TOCK_FATE_RELEASED) {
        l->want_claim = l->state == TOCK_LOOP_RUNNING; /* still due */
        return;
    }
    if (it->fate != TOCK_FATE_DONE)
        return;
    switch (it->res.status) {
    case TOCK_COMMIT_OK:
    case TOCK_COMMIT_MISSED:
    case TOCK_COMMIT_SKIPPED:
        if (it->d.next_ms < 0)
            return; /* finished */
        wait = it->d.next_ms - it->claim_now_ms;
        claim_by(l, it->base_mono_ms + (uint64_t)(wait > 0 ? wait : 0) + 1);
        return;
    case TOCK_COMMIT_CHANGED: /* released by the store: decide it again */
    case TOCK_COMMIT_DUPLICATE:
        l->want_claim = true;
        return;
    default: /* STALE, GONE, ALREADY: someone else's now, or nothing */
        return;
    }
}

/* lapsed accounts a claim left to lapse, and makes sure the loop looks
 * again when its lease ends: the store's next due time leaves out this
 * node's own claims. */
static void lapsed(struct tock_loop *l, const struct tock_loop_item *it)
{
    account_lapse(l, it);
    claim_by(l, it->claim_mono_ms + (uint64_t)l->lease_ms + 1);
}

/* items_done accounts every item and keeps the held ones. */
static void items_done(struct tock_loop *l, struct tock_loop_work *w)
{
    size_t i, released = 0;

    for (i = 0; i < w->items.n; i++) {
        struct tock_loop_item *it = &w->items.v[i];

        if (it->fate == TOCK_FATE_HOLD &&
            tock_loop_items_reserve(&l->held, 1) == 0) {
            if (it->sent_mono_ms == 0)
                l->stats.held++;
            tock_loop_items_push(&l->held, it);
            continue;
        }
        if (it->fate == TOCK_FATE_DONE)
            account_done(l, it);
        else if (it->fate == TOCK_FATE_RELEASED)
            released++;
        else
            lapsed(l, it); /* LAPSE, or a HOLD we had no room for */
        follow_up(l, it);
        tock_loop_item_clear(it);
    }
    w->items.n = 0;
    l->stats.released += released;
    if (released > 0)
        tock_logf(l->log, l->state == TOCK_LOOP_RUNNING ? TOCK_LOG_WARN
                                                        : TOCK_LOG_INFO,
                  LOGC, "released %zu claim%s (%s)", released,
                  released == 1 ? "" : "s",
                  l->state == TOCK_LOOP_RUNNING
                      ? "half the lease spent before the commit"
                      : "stopping");
}

static void after_work(uv_work_t *req, int status)
{
    struct tock_loop *l = req->data;
    struct tock_loop_work *w = &l->work;
    uint64_t now = tock_loop_mono_ms();

    (void)status; /* never cancelled: the loop waits for its work */
    l->work_busy = false;
    if (w->do_check)
        l->stats.change_checks++;
    store_state(l, w, now);
    if (w->claimed_ok)
        claim_done(l, w);
    if (w->do_reclaim && w->failures == 0)
        reclaim_done(l, w, now);
    items_done(l, w);
    if (w->release_rc != 0)
        l->stop_status = w->release_rc;
    schedule(l);
}

/* ------------------------------------------------------------ scheduling */

static void queue_work(struct tock_loop *l)
{
    int rc;

    uv_timer_stop(&l->timer);
    l->work.seed = rng_next(&l->rng);
    l->work_busy = true;
    rc = uv_queue_work(l->uv, &l->req, tock_loop_work_run, after_work);
    if (rc != 0) { /* only on a bad argument: run it here rather than lose it */
        tock_loop_work_run(&l->req);
        after_work(&l->req, 0);
    }
}

static void reset_work(struct tock_loop_work *w)
{
    struct tock_loop_items keep = w->items;

    memset(w, 0, sizeof *w);
    w->items = keep;
}

/* take_held moves held items whose time came (all of them when `all`) into
 * the work with `fate`. Room is reserved first, so nothing is lost. */
static int take_held(struct tock_loop *l, uint64_t now, bool all,
                     enum tock_loop_fate fate)
{
    struct tock_loop_items *h = &l->held;
    size_t i, k = 0, due = 0;

    for (i = 0; i < h->n; i++)
        due += all || h->v[i].commit_mono_ms <= now;
    if (tock_loop_items_reserve(&l->work.items, due + l->batch) != 0)
        return TOCK_ENOMEM;
    for (i = 0; i < h->n; i++) {
        if (all || h->v[i].commit_mono_ms <= now) {
            h->v[i].fate = fate;
            tock_loop_items_push(&l->work.items, &h->v[i]);
        } else {
            h->v[k++] = h->v[i];
        }
    }
    h->n = k;
    return 0;
}

/* plan_work decides what the next trip to the store does; false when
 * nothing is due now. */
static bool plan_work(struct tock_loop *l, uint64_t now)
{
    struct tock_loop_work *w = &l->work;
    size_t before = l->held.n;

    reset_work(w);
    if (l->retry_at != 0 && now < l->retry_at)
        return false;
    w->do_claim = l->want_claim || (l->claim_at != 0 && now >= l->claim_at);
    w->do_check = !w->do_claim && l->want_check;
    w->do_reclaim = l->reclaim_ms > 0 && now >= l->reclaim_at;
    if (take_held(l, now, false, TOCK_FATE_COMMIT) != 0) {
        tock_logf(l->log, TOCK_LOG_ERROR, LOGC, "out of memory planning a "
                  "claim; retrying in %d ms", BACKOFF_MAX_MS);
        l->retry_at = now + BACKOFF_MAX_MS;
        return false;
    }
    if (!w->do_claim && !w->do_check && !w->do_reclaim && l->held.n == before)
        return false;
    if (w->do_claim) {
        l->want_claim = false;
        l->claim_at = 0;
    }
    l->want_check = false;
    return true;
}

static void arm_timer(struct tock_loop *l, uint64_t now)
{
    uint64_t at = now + (uint64_t)l->max_sleep_ms;
    size_t i;

    if (l->claim_at != 0 && l->claim_at < at)
        at = l->claim_at;
    if (l->reclaim_ms > 0 && l->reclaim_at < at)
        at = l->reclaim_at;
    if (l->retry_at != 0 && l->retry_at < at)
        at = l->retry_at;
    for (i = 0; i < l->held.n; i++) {
        if (l->held.v[i].commit_mono_ms < at)
            at = l->held.v[i].commit_mono_ms;
    }
    if (l->claim_at == 0 && at == now + (uint64_t)l->max_sleep_ms)
        l->claim_at = at; /* the safety net: look again after the cap */
    uv_update_time(l->uv);
    uv_timer_start(&l->timer, on_timer, at > now ? at - now : 0, 0);
}

static void finish_stop(struct tock_loop *l)
{
    tock_loop_stop_cb cb = l->stop_cb;

    l->state = TOCK_LOOP_STOPPED;
    uv_timer_stop(&l->timer);
    tock_loop_watch_stop(l);
    l->stop_cb = NULL;
    tock_logf(l->log, TOCK_LOG_INFO, LOGC, "node %s stopped", l->node);
    if (cb != NULL)
        cb(l, l->stop_status, l->stop_data);
    maybe_close(l);
}

static void schedule(struct tock_loop *l)
{
    uint64_t now = tock_loop_mono_ms();

    if (l->work_busy)
        return;
    if (l->state == TOCK_LOOP_STOPPING) {
        reset_work(&l->work);
        if (l->held.n == 0)
            finish_stop(l);
        else if (take_held(l, now, true, TOCK_FATE_RELEASE) == 0)
            queue_work(l);
        else
            finish_stop(l); /* no memory to release: the claims lapse */
        return;
    }
    if (l->state != TOCK_LOOP_RUNNING) {
        maybe_close(l);
        return;
    }
    if (plan_work(l, now))
        queue_work(l);
    else
        arm_timer(l, now);
}

static void on_timer(uv_timer_t *h)
{
    struct tock_loop *l = h->data;

    if (l->state == TOCK_LOOP_RUNNING)
        l->stats.timer_wakeups++;
    schedule(l);
}

static void on_async(uv_async_t *h)
{
    struct tock_loop *l = h->data;

    if (l->state != TOCK_LOOP_RUNNING)
        return;
    l->stats.wakes++;
    l->want_claim = true;
    schedule(l);
}

void tock_loop_on_change(struct tock_loop *l)
{
    if (l->state != TOCK_LOOP_RUNNING)
        return;
    l->stats.change_events++;
    l->want_check = true;
    schedule(l);
}

/* ------------------------------------------------------------ lifecycle */

int tock_loop_start(struct tock_loop *l, struct tock_error *err)
{
    if (l->state != TOCK_LOOP_NEW || l->closing)
        return tock_error_set(err, TOCK_EINVAL,
                              "the firing loop was started already");
    l->state = TOCK_LOOP_RUNNING;
    l->want_claim = true;
    l->reclaim_at = tock_loop_mono_ms(); /* a first task reclaim at once */
    tock_logf(l->log, TOCK_LOG_INFO, LOGC,
              "node %s started (claim nonce %s, lease %" PRId64 " ms, batch "
              "%zu%s%s)", l->node, l->nonce, l->lease_ms, l->batch,
              l->watch_path != NULL ? ", watching " : "",
              l->watch_path != NULL ? l->watch_path : "");
    if (l->watch_inited)
        tock_loop_watch_start(l);
    schedule(l);
    return 0;
}

void tock_loop_wake(struct tock_loop *l)
{
    uv_async_send(&l->async);
}

/* begin_stop moves to STOPPING; the next turn of the loop does the rest
 * (callbacks never run inside the call that asked for them). */
static void begin_stop(struct tock_loop *l)
{
    l->state = TOCK_LOOP_STOPPING;
    atomic_store(&l->stop_requested, true);
    l->want_claim = l->want_check = false;
    tock_loop_watch_stop(l);
    if (!l->work_busy) {
        uv_update_time(l->uv);
        uv_timer_start(&l->timer, on_timer, 0, 0);
    }
}

int tock_loop_stop(struct tock_loop *l, tock_loop_stop_cb cb, void *data)
{
    if (l->state != TOCK_LOOP_RUNNING)
        return TOCK_EINVAL;
    l->stop_cb = cb;
    l->stop_data = data;
    begin_stop(l);
    return 0;
}

static void on_handle_close(uv_handle_t *h)
{
    struct tock_loop *l = h->data;
    tock_loop_close_cb cb;
    void *data;

    if (--l->handles_open > 0)
        return;
    cb = l->close_cb;
    data = l->close_data;
    tock_loop_items_free(&l->held);
    tock_loop_items_free(&l->work.items);
    tock_decide_cache_free(l->cache);
    tock_free(l->watch_path);
    tock_free(l);
    if (cb != NULL)
        cb(data);
}

static void maybe_close(struct tock_loop *l)
{
    if (!l->closing || l->work_busy || l->state == TOCK_LOOP_STOPPING ||
        l->state == TOCK_LOOP_RUNNING ||
        uv_is_closing((uv_handle_t *)&l->timer))
        return;
    uv_close((uv_handle_t *)&l->timer, on_handle_close);
    uv_close((uv_handle_t *)&l->async, on_handle_close);
    if (l->watch_inited)
        uv_close((uv_handle_t *)&l->watch, on_handle_close);
}

void tock_loop_close(struct tock_loop *l, tock_loop_close_cb cb, void *data)
{
    if (l->closing)
        return;
    l->closing = true;
    l->close_cb = cb;
    l->close_data = data;
    if (l->state == TOCK_LOOP_RUNNING)
        begin_stop(l);
    maybe_close(l);
}

void tock_loop_stats(const struct tock_loop *l, struct tock_loop_stats *out)
{
    *out = l->stats;
}

const char *tock_loop_node_id(const struct tock_loop *l)
{
    return l->node;
}

const char *tock_loop_nonce(const struct tock_loop *l)
{
    return l->nonce;
}
