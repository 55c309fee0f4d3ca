/* loop_internal.h: the firing loop's state, shared by scheduler/loop.c (the
 * loop thread: lifecycle, scheduling, outcomes), scheduler/loop_work.c (the
 * store thread: claim, decide, commit, release) and scheduler/loop_watch.c
 * (the database watcher). Not a public header; tests include it to read the
 * state.
 *
 * Threads. Everything here is owned by the loop thread except `work` while
 * `work_busy` is set: then the store thread owns `work`, the store handle
 * and the trigger cache, and reads only the immutable fields (config, node,
 * nonce, crash point). `stop_requested` is the one field both touch.
 */
#ifndef TOCK_SCHEDULER_LOOP_INTERNAL_H
#define TOCK_SCHEDULER_LOOP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "scheduler/decide.h"
#include "scheduler/loop.h"

/* What happens to a claimed item next, or what happened to it. */
enum tock_loop_fate {
    TOCK_FATE_COMMIT = 0, /* commit in this work */
    TOCK_FATE_HOLD,       /* keep; commit at commit_mono_ms */
    TOCK_FATE_RELEASE,    /* release in this work */
    TOCK_FATE_LAPSE,      /* drop: the claim lapses after the lease */
    TOCK_FATE_DONE,       /* committed: `res` has the store's outcome */
    TOCK_FATE_RELEASED,   /* released */
};

/* tock_loop_item: one claimed job on its way to a commit. Owns the claim
 * (moved out of the claim batch) and the decision. */
struct tock_loop_item {
    struct tock_claimed c;
    struct tock_decided d;
    enum tock_loop_fate fate;
    const char *why;          /* static: why released or lapsed */
    int64_t claim_now_ms;     /* the store's clock at the claim */
    uint64_t claim_mono_ms;   /* monotonic ms when the claim started */
    uint64_t base_mono_ms;    /* monotonic ms when the claim returned: the
                                 store's claim_now_ms maps to no later */
    uint64_t commit_mono_ms;  /* monotonic ms the commit may go */
    uint64_t sent_mono_ms;    /* monotonic ms the commit was sent */
    struct tock_commit_result res;
};

struct tock_loop_items {
    struct tock_loop_item *v;
    size_t n, cap;
};

/* tock_loop_work: one trip to the store thread. */
struct tock_loop_work {
    /* in */
    bool do_claim, do_check, do_reclaim;
    uint64_t seed;
    /* in and out: held items to commit or release, then the claimed ones */
    struct tock_loop_items items;
    /* out */
    bool changed;             /* do_check: data_version moved */
    bool claimed_ok;
    size_t claimed, reclaimed;
    int64_t now_ms, next_due_ms;
    uint64_t claim_mono_ms, base_mono_ms; /* as in tock_loop_item */
    size_t redelivered, dead;
    int failures;             /* store calls that failed */
    int release_rc;           /* last release error, 0 when none */
    struct tock_error err;    /* the first failure's message */
};

enum tock_loop_state {
    TOCK_LOOP_NEW = 0,
    TOCK_LOOP_RUNNING,
    TOCK_LOOP_STOPPING,
    TOCK_LOOP_STOPPED,
};

enum tock_loop_crash {
    TOCK_CRASH_NONE = 0,
    TOCK_CRASH_AFTER_CLAIM_ABORT,
    TOCK_CRASH_AFTER_CLAIM_STOP,
    TOCK_CRASH_BEFORE_COMMIT_REPLY_ABORT,
};

struct tock_loop {
    uv_loop_t *uv;
    struct tock_store *store;
    struct tock_log *log;
    /* configuration, resolved and immutable after new */
    char node[TOCK_LOOP_NODE_MAX];
    char nonce[40];
    int64_t lease_ms, max_sleep_ms, reclaim_ms, max_hold_ms;
    size_t batch;
    char *watch_path;         /* owned, NULL: no watching */
    tock_loop_outcome_fn on_outcome;
    void *outcome_data;
    enum tock_loop_crash crash;
    bool selfcheck;

    /* handles */
    uv_timer_t timer;
    uv_async_t async;
    uv_fs_event_t watch;
    uv_work_t req;
    bool watch_inited, watch_active, watch_is_dir;
    int handles_open;

    /* state (loop thread) */
    enum tock_loop_state state;
    bool work_busy;
    bool want_claim, want_check;
    uint64_t claim_at, reclaim_at, retry_at; /* monotonic ms, 0: none */
    int64_t backoff_ms;
    bool store_ok;
    uint64_t down_since;      /* monotonic ms the store went unavailable */
    int64_t data_version;     /* last seen, -1 before the first check */
    struct tock_loop_items held;
    struct tock_loop_work work;
    struct tock_decide_cache *cache; /* store thread only */
    uint64_t rng;
    atomic_bool stop_requested;
    int stop_status;
    tock_loop_stop_cb stop_cb;
    void *stop_data;
    bool closing;
    tock_loop_close_cb close_cb;
    void *close_data;
    struct tock_loop_stats stats;
};

/* ------------------------------------------------------- items (loop.c) */

/* tock_loop_items_reserve makes room for `more` items; TOCK_ENOMEM. */
int tock_loop_items_reserve(struct tock_loop_items *it, size_t more);

/* tock_loop_items_push moves *item to the end (capacity reserved first);
 * *item is zeroed. */
void tock_loop_items_push(struct tock_loop_items *it,
                          struct tock_loop_item *item);

/* tock_loop_item_clear frees what an item owns and zeroes it. */
void tock_loop_item_clear(struct tock_loop_item *item);

/* tock_loop_items_free clears every item and frees the array. */
void tock_loop_items_free(struct tock_loop_items *it);

/* tock_loop_mono_ms returns the monotonic clock in ms (any thread). */
uint64_t tock_loop_mono_ms(void);

/* ----------------------------------------------------- work (loop_work.c) */

/* tock_loop_work_run is the uv_work_t body: it runs on the store thread. */
void tock_loop_work_run(uv_work_t *req);

/* tock_loop_crash_parse maps TOCK_CRASHPOINT's value to a crash point;
 * TOCK_EINVAL for anything else (named in err). */
int tock_loop_crash_parse(const char *text, enum tock_loop_crash *out,
                          struct tock_error *err);

/* ---------------------------------------------------- watch (loop_watch.c) */

/* tock_loop_watch_start starts watching l->watch_path (its -wal file, or
 * its directory while there is none). Errors are logged and leave the
 * loop without a watcher (the safety cap still bounds the delay). */
void tock_loop_watch_start(struct tock_loop *l);

/* tock_loop_watch_stop stops the watcher (the handle stays open). */
void tock_loop_watch_stop(struct tock_loop *l);

/* tock_loop_data_version reads PRAGMA data_version on the store's own
 * connection (store thread). TOCK_EINVAL for a store that is not SQLite. */
int tock_loop_data_version(struct tock_store *s, int64_t *out,
                           struct tock_error *err);

/* tock_loop_on_change is called by the watcher on a relevant event (loop.c). */
void tock_loop_on_change(struct tock_loop *l);

#endif /* TOCK_SCHEDULER_LOOP_INTERNAL_H */
