/* loop_work.c: the firing loop's store thread (loop.h steps 1-3): claim,
 * decide, commit, release, task reclaim and the change check, in one
 * uv_work_t body. Nothing here logs or touches the loop's handles: results
 * go back in l->work for the loop thread (loop.c). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "scheduler/loop_internal.h"

/* ---------------------------------------------------------- crash points */

int tock_loop_crash_parse(const char *text, enum tock_loop_crash *out,
                          struct tock_error *err)
{
    static const struct {
        const char *name;
        enum tock_loop_crash crash;
    } points[] = {
        {"after_claim:abort", TOCK_CRASH_AFTER_CLAIM_ABORT},
        {"after_claim:stop", TOCK_CRASH_AFTER_CLAIM_STOP},
        {"before_commit_reply:abort", TOCK_CRASH_BEFORE_COMMIT_REPLY_ABORT},
    };
    size_t i;

    *out = TOCK_CRASH_NONE;
    if (text == NULL || text[0] == '\0')
        return 0;
    for (i = 0; i < sizeof points / sizeof points[0]; i++) {
        if (strcmp(text, points[i].name) == 0) {
            *out = points[i].crash;
            return 0;
        }
    }
    return tock_error_set(err, TOCK_EINVAL,
                          "TOCK_CRASHPOINT '%.64s' is unknown; use "
                          "after_claim:abort, after_claim:stop or "
                          "before_commit_reply:abort", text);
}

/* crash_at stops or aborts the process at a test crash point. Only in
 * builds with TOCK_TEST_HOOKS; the daemons' only path to abort(). */
static void crash_at(struct tock_loop *l, bool after_claim)
{
#ifdef TOCK_TEST_HOOKS
    if (after_claim && l->crash == TOCK_CRASH_AFTER_CLAIM_ABORT)
        abort();
    if (after_claim && l->crash == TOCK_CRASH_AFTER_CLAIM_STOP) {
        l->crash = TOCK_CRASH_NONE; /* once: the resumed node carries on */
        raise(SIGSTOP);
    }
    if (!after_claim && l->crash == TOCK_CRASH_BEFORE_COMMIT_REPLY_ABORT)
        abort();
#else
    (void)l;
    (void)after_claim;
#endif
}

/* ---------------------------------------------------------------- helpers */

static void fail(struct tock_loop_work *w, const struct tock_error *err,
                 int rc)
{
    if (w->failures++ == 0) {
        w->err = *err;
        if (w->err.code == 0)
            w->err.code = rc;
    }
}

/* splitmix64: per-item random bits from one seed (jitter only). */
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static size_t count_fate(const struct tock_loop_items *it,
                         enum tock_loop_fate fate)
{
    size_t i, n = 0;

    for (i = 0; i < it->n; i++)
        n += it->v[i].fate == fate;
    return n;
}

/* ------------------------------------------------------------ the steps */

static void check_change(struct tock_loop *l, struct tock_loop_work *w)
{
    struct tock_error err = {0};
    int64_t v = -1;

    if (tock_loop_data_version(l->store, &v, &err) != 0) {
        w->changed = true; /* cannot tell: look */
        return;
    }
    w->changed = v != l->data_version;
    l->data_version = v;
}

static void task_reclaim(struct tock_loop *l, struct tock_loop_work *w)
{
    struct tock_error err = {0};
    int rc = tock_store_task_reclaim(l->store, TOCK_CLAIM_MAX,
                                     &w->redelivered, &w->dead, &err);

    if (rc != 0)
        fail(w, &err, rc);
}

/* decide_item decides one claimed job and sets its fate. */
static void decide_item(struct tock_loop *l, struct tock_loop_work *w,
                        struct tock_loop_item *it, size_t i)
{
    struct tock_decide_opts o = {
        .now_ms = it->claim_now_ms,
        .max_hold_ms = l->max_hold_ms,
        .random = splitmix64(w->seed + i),
    };

    tock_decide(l->cache, &it->c, &o, &it->d);
    it->commit_mono_ms = it->base_mono_ms;
    if (it->d.action == TOCK_DECIDE_LAPSE) {
        it->fate = TOCK_FATE_LAPSE;
        it->why = "undecidable";
        return;
    }
    it->fate = TOCK_FATE_COMMIT;
    if (it->d.action == TOCK_DECIDE_HOLD) {
        it->fate = TOCK_FATE_HOLD;
        it->commit_mono_ms += (uint64_t)(it->d.fire_at_ms - it->claim_now_ms);
    }
}

static void claim_and_decide(struct tock_loop *l, struct tock_loop_work *w)
{
    struct tock_claim_batch b = {0};
    struct tock_error err = {0};
    uint64_t mono = tock_loop_mono_ms();
    size_t i;
    int rc;

    rc = tock_store_claim(l->store, l->nonce, l->batch, l->lease_ms, &b, &err);
    if (rc != 0) {
        fail(w, &err, rc);
        return;
    }
    w->claimed_ok = true;
    w->claimed = b.n;
    w->reclaimed = b.reclaimed;
    w->now_ms = b.now_ms;
    w->next_due_ms = b.next_due_ms;
    w->claim_mono_ms = mono;
    w->base_mono_ms = tock_loop_mono_ms();
    for (i = 0; i < b.n; i++) {
        struct tock_loop_item it;

        memset(&it, 0, sizeof it);
        it.c = b.items[i]; /* moved: the batch keeps a zeroed husk */
        memset(&b.items[i], 0, sizeof b.items[i]);
        it.claim_now_ms = b.now_ms;
        it.claim_mono_ms = mono;
        it.base_mono_ms = w->base_mono_ms;
        decide_item(l, w, &it, i);
        tock_loop_items_push(&w->items, &it); /* room reserved by loop.c */
    }
    tock_claim_batch_clear(&b);
    if (w->claimed > 0)
        crash_at(l, true);
}

/* gate moves to RELEASE every item that must not be committed now: the
 * loop is stopping, or more than L/2 passed since its claim (loop.h 3). */
static void gate(struct tock_loop *l, struct tock_loop_work *w)
{
    uint64_t now = tock_loop_mono_ms();
    bool stopping = atomic_load(&l->stop_requested);
    size_t i;

    for (i = 0; i < w->items.n; i++) {
        struct tock_loop_item *it = &w->items.v[i];

        if (it->fate != TOCK_FATE_COMMIT && it->fate != TOCK_FATE_HOLD)
            continue;
        if (stopping) {
            it->fate = TOCK_FATE_RELEASE;
            it->why = "stopping";
        } else if (l->selfcheck && it->fate == TOCK_FATE_COMMIT &&
                   now - it->claim_mono_ms > (uint64_t)l->lease_ms / 2) {
            it->fate = TOCK_FATE_RELEASE;
            it->why = "half the lease spent before the commit";
        }
    }
}

static void commit_items(struct tock_loop *l, struct tock_loop_work *w)
{
    size_t n = count_fate(&w->items, TOCK_FATE_COMMIT), i, k = 0;
    struct tock_commit *cs = NULL;
    struct tock_commit_result *rs = NULL;
    struct tock_error err = {0};
    uint64_t mono;
    int rc;

    if (n == 0)
        return;
    cs = tock_calloc(n, sizeof *cs);
    rs = tock_calloc(n, sizeof *rs);
    rc = cs != NULL && rs != NULL
             ? 0
             : tock_error_set(&err, TOCK_ENOMEM, "out of memory committing");
    for (i = 0; rc == 0 && i < w->items.n; i++) {
        if (w->items.v[i].fate == TOCK_FATE_COMMIT)
            tock_decided_commit(&w->items.v[i].c, &w->items.v[i].d, l->node,
                                &cs[k++]);
    }
    mono = tock_loop_mono_ms();
    if (rc == 0)
        rc = tock_store_commit(l->store, cs, n, rs, &err);
    if (rc == 0)
        crash_at(l, false);
    for (i = 0, k = 0; i < w->items.n; i++) {
        struct tock_loop_item *it = &w->items.v[i];

        if (it->fate != TOCK_FATE_COMMIT)
            continue;
        it->sent_mono_ms = mono;
        it->fate = rc == 0 ? TOCK_FATE_DONE : TOCK_FATE_HOLD; /* retry */
        if (rc == 0)
            it->res = rs[k++];
    }
    if (rc != 0)
        fail(w, &err, rc);
    tock_free(cs);
    tock_free(rs);
}

static void release_items(struct tock_loop *l, struct tock_loop_work *w)
{
    size_t n = count_fate(&w->items, TOCK_FATE_RELEASE), i, k = 0;
    struct tock_claimed *cs;
    struct tock_error err = {0};
    int rc;

    if (n == 0)
        return;
    /* A shallow copy: release only reads the claims. */
    cs = tock_malloc(n * sizeof *cs);
    rc = cs != NULL ? 0
                    : tock_error_set(&err, TOCK_ENOMEM,
                                     "out of memory releasing claims");
    for (i = 0; rc == 0 && i < w->items.n; i++) {
        if (w->items.v[i].fate == TOCK_FATE_RELEASE)
            cs[k++] = w->items.v[i].c;
    }
    if (rc == 0)
        rc = tock_store_release(l->store, cs, n, &err);
    for (i = 0; i < w->items.n; i++) {
        struct tock_loop_item *it = &w->items.v[i];

        if (it->fate != TOCK_FATE_RELEASE)
            continue;
        it->fate = rc == 0 ? TOCK_FATE_RELEASED : TOCK_FATE_LAPSE;
        if (rc != 0)
            it->why = "release failed";
    }
    if (rc != 0) {
        w->release_rc = rc;
        fail(w, &err, rc);
    }
    tock_free(cs);
}

void tock_loop_work_run(uv_work_t *req)
{
    struct tock_loop *l = req->data;
    struct tock_loop_work *w = &l->work;

    /* Before a claim too: the claim sees everything committed up to here,
     * so that is the baseline the next check compares with. */
    if (w->do_check || (w->do_claim && l->watch_path != NULL))
        check_change(l, w);
    if (w->do_reclaim)
        task_reclaim(l, w);
    if ((w->do_claim || w->changed) && !atomic_load(&l->stop_requested))
        claim_and_decide(l, w);
    gate(l, w);
    commit_items(l, w);
    release_items(l, w);
}
