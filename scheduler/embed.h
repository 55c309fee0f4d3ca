/* embed.h: the embedded scheduler behind the tock_scheduler_* API of
 * include/tock/tock.h. Not a public header; tests include it to look
 * inside.
 *
 * One struct tock_scheduler is four parts, one file each:
 *
 *   embed.c        lifecycle (new, start, attach, shutdown, free), the
 *                  function registry, the API's store handle, stats
 *   embed_jobs.c   the job API: definitions -> validated struct tock_job,
 *                  add / replace / get / list / pause / resume / remove /
 *                  run, the run history
 *   embed_fire.c   the firing side: scheduler/loop.h on its own store
 *                  handle, in a libuv loop (its own on a thread, or the
 *                  caller's), its outcomes turned into events
 *   embed_exec.c   the executing side: a dispatcher thread on a third
 *                  store handle (take, touch, report, release) and the job
 *                  threads that call the registered functions
 *   embed_events.c the listener's queue and thread
 *
 * Every occurrence goes through the store's claim -> commit (the firing
 * loop): a fire enqueues a task in the store, the dispatcher takes it with
 * a lease, a job thread runs it, the dispatcher reports the result. Nothing
 * is handed over in memory around the store, so exactly-once firing, the
 * run history and redelivery after a crash are the store's, as for the
 * daemons. The only in-process shortcut is a kick: the firing loop tells
 * the dispatcher when it fired, so a task is taken at once, not at the
 * next poll.
 *
 * Three store handles, because a store handle is used by one thread at a
 * time (store.h) and each part has its own thread: the API's (any caller
 * thread, under api_mu; also the event thread's history look-ups), the
 * firing loop's (libuv's thread pool, one call at a time), the
 * dispatcher's (its thread only). SQLite serialises their writes; each
 * waits up to its busy timeout for the others.
 *
 * LOCKS, in the order they may be taken: life_mu -> fire->mu -> exec.mu /
 * events.mu / reg_mu / api_mu (the last four are never held together, and
 * nothing calls user code while holding any of them).
 */
#ifndef TOCK_SCHEDULER_EMBED_H
#define TOCK_SCHEDULER_EMBED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "proto/model.h"
#include "scheduler/loop.h"
#include "store/store.h"
#include "tock/tock.h"

#define TOCK_EMBED_EVENTS_MAX 10000     /* queued listener events */
#define TOCK_EMBED_STOP_REPORT_MS 10000 /* retrying results at shutdown */
#define TOCK_EMBED_BACKOFF_MS 200       /* first retry after a store error */
#define TOCK_EMBED_BACKOFF_MAX_MS 5000

/* ------------------------------------------------------------ the call */

/* struct tock_call: what a job function gets (tock.h). Lives in its slot. */
struct tock_call {
    struct tock_scheduler *sched;
    const struct tock_task *task;
    atomic_int cancel;        /* 0, TOCK_ETIMEDOUT or TOCK_ECANCELED */
    char *error;              /* tock_call_error's text, owned */
    char *output;             /* tock_call_print's text, owned */
    size_t output_len, output_cap;
    char *args_json;          /* tock_call_args_json's cache, owned */
};

/* ------------------------------------------------------------ the slots */

enum tock_embed_slot_state {
    TOCK_SLOT_READY = 0, /* taken from the store, waiting for a job thread */
    TOCK_SLOT_RUNNING,   /* a job thread runs it */
    TOCK_SLOT_DONE,      /* finished: its result waits to be reported */
};

/* tock_embed_slot: one task this scheduler holds, from take to report. */
struct tock_embed_slot {
    struct tock_embed_slot *next;
    enum tock_embed_slot_state state;
    struct tock_task_lease lease; /* task id, deliveries, occ, body: owned */
    struct tock_task task;        /* decoded body (decode_rc == 0), owned */
    int decode_rc;
    struct tock_error decode_err;
    struct tock_call call;
    struct tock_result result;    /* when DONE, owned */
    uint64_t deadline_mono;       /* monotonic ms of the timeout, 0: none */
    bool lease_lost;              /* a touch said the task is not ours */
};

/* tock_embed_exec: the dispatcher and the job threads. Everything but
 * `store` (the dispatcher's alone) is guarded by `mu`. */
struct tock_embed_exec {
    pthread_mutex_t mu;
    pthread_cond_t coord_cv;      /* wakes the dispatcher */
    pthread_cond_t work_cv;       /* wakes job threads */
    pthread_cond_t join_cv;       /* a second joiner waits for the first */
    struct tock_store *store;
    struct tock_embed_slot *slots;
    size_t n_ready, n_running, n_done;
    bool kick;                    /* tasks may be ready: take now */
    bool stopping, nowait;
    bool workers_exit;
    bool started, joining, joined;
    pthread_t coord;
    pthread_t *workers;
    size_t n_workers;
    struct tock_scheduler_stats stats;
};

/* ------------------------------------------------------------ the events */

/* tock_embed_ev: one queued listener event with its own copies. A MISSED
 * batch (expand > 0) stands for `expand` occurrences below `below` that
 * the event thread looks up in the run history. */
struct tock_embed_ev {
    struct tock_embed_ev *next;
    struct tock_sched_event ev;
    char *job, *occ, *reason;
    size_t expand;
    int64_t below;
};

struct tock_embed_events {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct tock_embed_ev *head, *tail;
    size_t n;
    uint64_t dropped;
    bool exit, started, warned, joining, joined;
    pthread_cond_t join_cv;
    pthread_t thread;
};

/* ------------------------------------------------------------ the gate */

/* tock_embed_gate: fair turns at the SQLite write lock (embed_gate.c). */
struct tock_embed_gate {
    atomic_int refs;
    _Atomic uint64_t engine_waiting_until; /* monotonic ms */
    int timeout_ms;
};

/* tock_embed_gate_new returns a new gate with one reference, or NULL. */
struct tock_embed_gate *tock_embed_gate_new(void);
void tock_embed_gate_ref(struct tock_embed_gate *g);
void tock_embed_gate_unref(struct tock_embed_gate *g); /* NULL is fine */

/* tock_embed_gate_install sets the busy handler of store `s` (SQLite only;
 * other stores are left alone): `engine` for the firing loop's and the
 * dispatcher's connections, else the API's. `g` must outlive the store
 * handle. */
void tock_embed_gate_install(struct tock_embed_gate *g, struct tock_store *s,
                             bool engine);

/* tock_embed_gate_yield lets a waiting engine connection go first; called
 * by API writes, before their transaction. */
void tock_embed_gate_yield(struct tock_embed_gate *g);

/* ------------------------------------------------------------ the whole */

struct tock_embed_fn {
    char *name;
    tock_job_fn fn;
    void *data;
};

enum tock_embed_state {
    TOCK_EMBED_NEW = 0,
    TOCK_EMBED_RUNNING,
    TOCK_EMBED_STOPPED,
};

struct tock_embed_fire;

struct tock_scheduler {
    /* configuration: immutable after new */
    char *url;                /* what every handle opens */
    char *tmpdir;             /* memory: its directory, removed at free */
    char node[TOCK_ID_MAX + 1];
    char queue[TOCK_ID_MAX + 1];
    size_t threads;
    int64_t claim_lease_ms, task_lease_ms, poll_ms;
    struct tock_store_tuning tuning; /* of every store handle */
    struct tock_log *log;
    tock_listener_fn listener;
    void *listener_data;

    pthread_mutex_t api_mu;   /* guards api_store */
    struct tock_store *api_store;
    struct tock_embed_gate *gate;

    pthread_mutex_t reg_mu;   /* guards the registry */
    struct tock_embed_fn *fns;
    size_t nfns, capfns;

    pthread_mutex_t life_mu;  /* serialises start, attach, shutdown */
    enum tock_embed_state state;
    struct tock_embed_fire *fire;

    struct tock_embed_exec exec;
    struct tock_embed_events events;
};

/* --------------------------------------------------------- embed.c */

/* tock_embed_mono_ms and tock_embed_wall_ms read the monotonic and the
 * real clock in ms. */
uint64_t tock_embed_mono_ms(void);
int64_t tock_embed_wall_ms(void);

/* tock_embed_lookup copies the function registered as `name` into *fn and
 * *data; false when there is none. Takes reg_mu. */
bool tock_embed_lookup(struct tock_scheduler *s, const char *name,
                       tock_job_fn *fn, void **data);

/* tock_embed_in_callback reports whether the calling thread is one of the
 * scheduler's job threads or its event thread. */
bool tock_embed_in_callback(struct tock_scheduler *s);

/* tock_embed_cond_init initialises a condition variable on the monotonic
 * clock; tock_embed_cond_wait_until waits on it until monotonic ms `at`
 * (0: no limit). */
int tock_embed_cond_init(pthread_cond_t *cv);
void tock_embed_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                                uint64_t at);

/* ---------------------------------------------------- embed_fire.c */

/* tock_embed_fire_start opens the firing side's store and starts the
 * firing loop in `uv` (NULL: a loop of its own on a new thread). On
 * success s->fire is set. */
int tock_embed_fire_start(struct tock_scheduler *s, uv_loop_t *uv,
                          struct tock_error *err);

/* tock_embed_fire_wake makes the firing loop claim soon (a job changed).
 * Any thread; does nothing when the firing side is not running. */
void tock_embed_fire_wake(struct tock_scheduler *s);

/* tock_embed_fire_stop stops the firing loop (its claims in flight are
 * released) and lets go of it: with a loop of its own, it waits for that
 * thread; in a caller's loop the handles close in that loop's next turn,
 * and the firing side frees itself then. s->fire is NULL afterwards. */
void tock_embed_fire_stop(struct tock_scheduler *s);

/* ---------------------------------------------------- embed_exec.c */

/* tock_embed_exec_init / _destroy set up and tear down s->exec's locks. */
int tock_embed_exec_init(struct tock_scheduler *s, struct tock_error *err);
void tock_embed_exec_destroy(struct tock_scheduler *s);

/* tock_embed_exec_start opens the dispatcher's store and starts the
 * dispatcher and job threads. */
int tock_embed_exec_start(struct tock_scheduler *s, struct tock_error *err);

/* tock_embed_exec_kick tells the dispatcher tasks may be ready. */
void tock_embed_exec_kick(struct tock_scheduler *s);

/* tock_embed_exec_stop stops taking tasks: READY ones are handed back; with
 * `nowait`, running functions are told to cancel. Returns at once. */
void tock_embed_exec_stop(struct tock_scheduler *s, bool nowait);

/* tock_embed_exec_join waits until the dispatcher has reported every
 * result and the job threads have ended, then closes the store. */
void tock_embed_exec_join(struct tock_scheduler *s);

/* tock_embed_exec_count adds fired/missed/skipped counts (loop thread). */
void tock_embed_exec_count(struct tock_scheduler *s, uint64_t fired,
                           uint64_t missed, uint64_t skipped);

/* -------------------------------------------------- embed_events.c */

int tock_embed_events_init(struct tock_scheduler *s, struct tock_error *err);
void tock_embed_events_destroy(struct tock_scheduler *s);

/* tock_embed_events_start starts the event thread (when a listener is
 * configured). */
int tock_embed_events_start(struct tock_scheduler *s, struct tock_error *err);

/* tock_embed_events_push queues a copy of `ev` (its strings are copied).
 * A MISSED `ev` with expand > 0 stands for `expand` missed occurrences
 * scheduled before `below`, looked up in the run history. Any thread. */
void tock_embed_events_push(struct tock_scheduler *s,
                            const struct tock_sched_event *ev, size_t expand,
                            int64_t below);

/* tock_embed_events_outcome turns a firing loop outcome into events. */
void tock_embed_events_outcome(struct tock_scheduler *s,
                               const struct tock_loop_outcome *o);

/* tock_embed_events_join delivers what is queued and ends the thread. */
void tock_embed_events_join(struct tock_scheduler *s);

/* tock_embed_events_is_thread reports whether the caller is the event
 * thread. */
bool tock_embed_events_is_thread(struct tock_scheduler *s);

/* ---------------------------------------------------- embed_jobs.c */

/* tock_embed_job_from_def builds a validated job from `def` into *job
 * (overwritten without freeing; tock_job_clear frees it). `queue` is the
 * default queue. */
int tock_embed_job_from_def(const struct tock_jobdef *def, const char *queue,
                            struct tock_job *job, struct tock_error *err);

#endif /* TOCK_SCHEDULER_EMBED_H */
