/* tock.h: the public API of libtock.
 *
 * libtock is tock's scheduler, store and protocol as a C library. Besides
 * the basics (errors, logging, allocator, version), it gives a C program an
 * embedded scheduler: register C functions by name, add jobs that call them
 * on any trigger tock knows (interval, cron with time zones, dates,
 * calendars and their combinations), and let the library fire every
 * occurrence exactly once, persist the jobs in a store (a SQLite file) so
 * they survive a restart, record what ran and what was missed, and tell the
 * program through a listener. docs/library.md walks through it.
 *
 * Public types are incomplete structs used through pointers, created with
 * *_new and released with *_free (where *_free(NULL) does nothing), except
 * the plain structs that carry values in or out (configuration, job
 * definitions, job and run records, events).
 *
 * ERRORS. Every function that can fail returns 0 or a negative TOCK_E* code
 * (tock/error.h) and takes a `struct tock_error *err` (NULL allowed) that
 * receives a printable one-line message naming the problem and the fix.
 * Nothing in libtock exits, aborts or prints: out of memory is TOCK_ENOMEM.
 *
 * THREADS. libtock keeps no global state (except the allocator below), so a
 * program may run several schedulers. Every tock_scheduler_* function may be
 * called from any thread at any time, concurrently, except where its comment
 * says otherwise (shutdown and free from inside the scheduler's own
 * callbacks). A started scheduler runs these threads of its own:
 *   - the firing loop (claim, decide, commit against the store), on its own
 *     thread with its own libuv loop (tock_scheduler_start), or in the
 *     caller's libuv loop (tock_scheduler_attach); its store calls run on
 *     libuv's thread pool;
 *   - one dispatcher thread, which takes fired tasks from the store, hands
 *     them to the job threads, renews their leases and records results;
 *   - `threads` job threads, which call the registered functions;
 *   - one event thread, only when a listener is configured, which calls it.
 *
 * CALLBACK RULES (job functions and the listener).
 *   - A job function runs on one of the job threads; several functions (and
 *     several occurrences of one job, up to its max_instances) may run at
 *     once on different threads. The struct tock_call it gets is valid only
 *     until it returns.
 *   - The listener runs on the event thread only, one event at a time, in
 *     the order the scheduler saw them; never on the caller's thread, never
 *     concurrently with itself. The event is valid only until it returns. A
 *     slow listener delays later events, never firing or job execution.
 *   - From inside either, every tock_scheduler_* function may be called
 *     except tock_scheduler_shutdown with TOCK_SHUTDOWN_WAIT (TOCK_EBUSY: it
 *     would wait for itself) and tock_scheduler_free (not allowed; it is
 *     refused with a log line and nothing happens).
 *   - If a call that registers a callback returns an error, that callback is
 *     never called.
 */
#ifndef TOCK_TOCK_H
#define TOCK_TOCK_H

#include <stddef.h>
#include <stdint.h>

#include "tock/error.h"
#include "tock/log.h"
#include "tock/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tock_version returns the library's version string, e.g. "0.1.0". */
const char *tock_version(void);

/* tock_allocator: the functions libtock allocates with. All four are
 * required and must behave like their C library namesakes. */
struct tock_allocator {
    void *(*malloc_fn)(size_t size);
    void *(*calloc_fn)(size_t nmemb, size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
};

/* tock_set_allocator replaces libtock's allocator process-wide (NULL
 * restores malloc and friends). Call it before creating any libtock object:
 * memory allocated before must be freed by the same allocator. Returns
 * TOCK_EINVAL when a function is missing. */
int tock_set_allocator(const struct tock_allocator *allocator);

/* ===================================================== embedded scheduler */

struct tock_scheduler;
struct tock_call;
struct uv_loop_s; /* libuv's uv_loop_t; <uv.h> is needed only to attach */

/* ------------------------------------------------------------- events */

/* tock_sched_event_type: what the listener hears about. */
enum tock_sched_event_type {
    TOCK_SCHED_FIRED = 0,     /* an occurrence was dispatched to run */
    TOCK_SCHED_SUCCEEDED = 1, /* its function returned 0 (recorded "ok") */
    TOCK_SCHED_FAILED = 2,    /* it failed: error, timeout, cancelled, or
                                 the function is not registered */
    TOCK_SCHED_MISSED = 3,    /* an occurrence did not fire: later than
                                 misfire_grace, or coalesced into a later
                                 one after downtime */
    TOCK_SCHED_SKIPPED = 4,   /* an occurrence did not fire because
                                 max_instances were still running */
};

/* tock_sched_event: one event. Strings are valid only during the listener
 * call. Times are milliseconds since the Unix epoch (UTC). */
struct tock_sched_event {
    enum tock_sched_event_type type;
    const char *job;          /* job id */
    const char *occurrence;   /* "<job>@<scheduled_ms>", the occurrence's
                                 identity (a function's idempotency key);
                                 NULL only for a MISSED event standing for
                                 several occurrences (count > 1) */
    int64_t scheduled_ms;     /* the occurrence's scheduled time; -1 for a
                                 MISSED event whose times the history no
                                 longer holds (see count) */
    int64_t time_ms;          /* when it happened (the host clock) */
    int64_t late_ms;          /* FIRED, MISSED, SKIPPED: how late the
                                 decision was after scheduled_ms */
    size_t count;             /* MISSED: occurrences this event stands for
                                 (1, unless the run history had already
                                 trimmed their records); others: 1 */
    const char *reason;       /* MISSED: "misfire_grace" or "coalesced";
                                 SKIPPED: "max_instances"; FAILED: the error
                                 text; otherwise NULL */
    const char *status;       /* SUCCEEDED, FAILED: "ok", "error",
                                 "timeout" or "cancelled"; otherwise NULL */
    int attempt;              /* SUCCEEDED, FAILED: 1 + retries so far */
    int64_t duration_ms;      /* SUCCEEDED, FAILED: how long it ran */
};

/* tock_listener_fn receives every event of the scheduler (see CALLBACK
 * RULES above). `data` is the config's listener_data. */
typedef void (*tock_listener_fn)(const struct tock_sched_event *event,
                                 void *data);

/* tock_sched_event_name returns "fired", "succeeded", "failed", "missed" or
 * "skipped" (static), or "unknown". */
const char *tock_sched_event_name(enum tock_sched_event_type type);

/* ------------------------------------------------------------ creation */

/* Defaults of struct tock_scheduler_config (0 in a field means these). */
#define TOCK_SCHED_THREADS 4          /* job threads */
#define TOCK_SCHED_THREADS_MAX 256
#define TOCK_SCHED_CLAIM_LEASE_MS 15000
#define TOCK_SCHED_TASK_LEASE_MS 30000
#define TOCK_SCHED_POLL_MS 1000

/* tock_scheduler_config: every field may be left zero for its default;
 * `struct tock_scheduler_config cfg = {0}` (or NULL) is a valid config.
 * The struct may grow at the end in later versions: initialise it with
 * designated initialisers or memset. */
struct tock_scheduler_config {
    size_t threads;             /* job threads: how many functions run at
                                   once (0: TOCK_SCHED_THREADS) */
    const char *node_id;        /* this scheduler's name in the run history
                                   (1..128 of [A-Za-z0-9._-]); NULL:
                                   "<host>-<pid>-<random>"; copied */
    const char *queue;          /* the task queue this scheduler runs, and
                                   the default queue of the jobs it adds
                                   (NULL: "default"); copied */
    struct tock_log *log;       /* where libtock logs (not owned; it must
                                   outlive the scheduler); NULL: quiet */
    tock_listener_fn listener;  /* NULL: no events, no event thread */
    void *listener_data;        /* passed to the listener, not owned */
    int64_t claim_lease_ms;     /* firing claim lease (0: 15 s): how long a
                                   stalled process holds up a due job */
    int64_t task_lease_ms;      /* task lease (0: 30 s), renewed every third
                                   of it while a function runs: how long
                                   after a crash a task is handed out again */
    int64_t poll_ms;            /* how often the dispatcher looks for tasks
                                   nobody announced, such as retries after
                                   their back-off (0: 1 s) */
    int64_t busy_timeout_ms;    /* how long a store call waits while
                                   another process holds the SQLite file's
                                   write lock before it fails (0: 5 s);
                                   libtock retries what failed */
};

/* tock_scheduler_new creates a scheduler on the store named by `store_url`:
 *   sqlite:PATH   a SQLite file, created (mode 0600) if missing; jobs and
 *                 their history persist there across restarts;
 *   memory:       a private store that lives as long as the scheduler: a
 *                 SQLite file in a new directory under $TMPDIR (or /tmp),
 *                 removed by tock_scheduler_free. (Not SQLite's ":memory:",
 *                 which one connection owns: the scheduler uses three, one
 *                 per thread that talks to the store.)
 *   redis://...   a Redis store (cluster mode): the store's own error until
 *                 that backend exists.
 * `cfg` may be NULL (every default). The store is opened and checked here;
 * nothing runs until tock_scheduler_start or tock_scheduler_attach, but jobs
 * can be added, listed and changed at once. On success *out is a new
 * scheduler the caller frees with tock_scheduler_free; on failure *out is
 * NULL and `err` says why (TOCK_EINVAL for a bad URL or config, the store's
 * code when it cannot be opened: TOCK_EIO, TOCK_EBUSY, ...). */
int tock_scheduler_new(const char *store_url,
                       const struct tock_scheduler_config *cfg,
                       struct tock_scheduler **out, struct tock_error *err);

/* tock_scheduler_free shuts the scheduler down if it runs, waiting for the
 * functions still running (a C function cannot be interrupted: poll
 * tock_call_cancelled to return early), then closes its store and frees
 * it; `s` is invalid after this call. NULL does nothing. Not from inside a
 * job function or the listener, and not while another thread may still
 * call a function on `s` (free is the last call). After an attached
 * scheduler is freed, run the caller's loop until its handles have closed
 * (the next uv_run turn) before uv_loop_close. */
void tock_scheduler_free(struct tock_scheduler *s);

/* ---------------------------------------------------------- functions */

/* tock_job_fn: a registered function. It runs on a job thread for one
 * occurrence of a job that names it, and returns 0 for success or any
 * other value for failure (recorded as the run's exit code when it is
 * 1..255; tock_call_error adds the text). `user_data` is what was
 * registered with it. */
typedef int (*tock_job_fn)(struct tock_call *call, void *user_data);

/* tock_scheduler_register makes `fn` callable by jobs as `name` (1..128 of
 * [A-Za-z0-9._-]; the job's "function"). `user_data` is not owned: keep it
 * valid until tock_scheduler_free returns. Register before starting, or at
 * any time after: a task naming a function that is not registered when it
 * runs fails with "function X is not registered" (recorded, never a
 * crash). TOCK_EEXIST if `name` is registered already. */
int tock_scheduler_register(struct tock_scheduler *s, const char *name,
                            tock_job_fn fn, void *user_data,
                            struct tock_error *err);

/* --------------------------------------------------------------- jobs */

/* Unlimited misfire grace: fire however late (after downtime, once). */
#define TOCK_GRACE_UNLIMITED (-1)

/* tock_jobdef: a job definition. Zero in a field means its default, so
 *   struct tock_jobdef d = {.id = "flush", .trigger = "interval:5s",
 *                           .function = "flush"};
 * is a complete job. Policies are those of tock's model (docs/cli.md has
 * the table). The struct may grow at the end in later versions. */
struct tock_jobdef {
    const char *id;             /* required: 1..128 of [A-Za-z0-9._-] */
    const char *trigger;        /* required: "interval:5s", "cron:0 3 * * *
                                   @Europe/Berlin", "date:2026-03-29T03:00:00
                                   +02:00", "calendar:...", "or(...)",
                                   "and(...)" (docs/time.md) */
    const char *function;       /* required: a registered function's name */
    const char *args_json;      /* arguments as JSON text (any value, up to
                                   1 MiB as msgpack); NULL: none */
    const char *name;           /* display name; NULL: none */
    const char *queue;          /* NULL: the scheduler's queue */
    int64_t misfire_grace_ms;   /* how late an occurrence may still fire
                                   (0: 60 s; TOCK_GRACE_UNLIMITED) */
    int no_coalesce;            /* nonzero: after downtime fire every
                                   missed occurrence within grace, not just
                                   the latest (default: coalesce) */
    int max_instances;          /* runs of this job at once (0: 1); a fire
                                   beyond it is skipped */
    int64_t jitter_ms;          /* random delay added to each fire, below the
                                   interval (0: none) */
    int64_t timeout_ms;         /* a run longer than this is recorded
                                   "timeout" (0: none); see tock_call */
    int retries;                /* runs again after an error or timeout, up
                                   to this many times (0: none) */
    int64_t retry_backoff_ms;   /* delay before the first retry, doubling
                                   with each one (0: at once) */
    int max_deliveries;         /* hand-outs of one task after its runner
                                   died (0: 3) */
    int paused;                 /* nonzero: added paused. On replace, 0
                                   keeps the stored job's paused state */
    int64_t start_ms;           /* no occurrence before (0: unbounded) */
    int64_t end_ms;             /* no occurrence after (0: unbounded) */
};

/* tock_jobinfo: a job as stored. Every string is owned by the info
 * (free it with tock_jobinfo_clear or tock_jobinfo_list_free). */
struct tock_jobinfo {
    struct tock_jobdef def;     /* the stored definition, defaults resolved
                                   (trigger in canonical form; args_json
                                   re-encoded from the stored msgpack) */
    int64_t version;            /* bumped by every change */
    int64_t next_fire_ms;       /* next scheduled time, -1 when finished */
    int64_t last_scheduled_ms;  /* last occurrence decided (fired, missed
                                   or skipped), -1 before the first */
    int64_t running;            /* dispatched and not finished */
    char last_status[16];       /* of the last finished run ("ok", "error",
                                   ...), "" when none */
};

/* tock_scheduler_add_job validates `def` and adds it (borrowed; copied).
 * Its first occurrence is computed on the store's clock: an interval
 * without an anchor first fires one period after it is added. TOCK_EEXIST
 * if a job with its id exists; TOCK_EMISSING, TOCK_EINVAL, TOCK_ERANGE ...
 * naming the field for a bad definition (nothing is written then). */
int tock_scheduler_add_job(struct tock_scheduler *s,
                           const struct tock_jobdef *def,
                           struct tock_error *err);

/* tock_scheduler_replace_job adds `def` or replaces the job with its id.
 * A definition equal to the stored one changes nothing (the schedule goes
 * on; this is what a program calls at every start to keep its jobs); a
 * different one bumps the version and restarts the schedule from now. */
int tock_scheduler_replace_job(struct tock_scheduler *s,
                               const struct tock_jobdef *def,
                               struct tock_error *err);

/* tock_scheduler_replace_job_json is tock_scheduler_replace_job for one job
 * written as in tock's config files, e.g.
 *   {"id": "flush", "trigger": "interval:5s", "handler": "flush",
 *    "args": {"table": "stats"}, "misfire_grace": "30s"}
 * ("handler" is the function; durations have units). Unknown fields are
 * refused by name. */
int tock_scheduler_replace_job_json(struct tock_scheduler *s,
                                    const char *json, struct tock_error *err);

/* tock_scheduler_get_job loads job `id` into *out (overwritten without
 * freeing; free with tock_jobinfo_clear). TOCK_ENOENT when there is none. */
int tock_scheduler_get_job(struct tock_scheduler *s, const char *id,
                           struct tock_jobinfo *out, struct tock_error *err);

/* tock_scheduler_list_jobs returns every job, ordered by id, in a new
 * array of *n infos the caller frees with tock_jobinfo_list_free. */
int tock_scheduler_list_jobs(struct tock_scheduler *s,
                             struct tock_jobinfo **out, size_t *n,
                             struct tock_error *err);

/* tock_jobinfo_clear frees what `info` owns and zeroes it (NULL and a
 * zeroed info are fine). */
void tock_jobinfo_clear(struct tock_jobinfo *info);

/* tock_jobinfo_list_free frees a list from tock_scheduler_list_jobs. */
void tock_jobinfo_list_free(struct tock_jobinfo *list, size_t n);

/* tock_scheduler_pause_job stops job `id` from firing until resumed
 * (functions already running finish). Idempotent; TOCK_ENOENT. */
int tock_scheduler_pause_job(struct tock_scheduler *s, const char *id,
                             struct tock_error *err);

/* tock_scheduler_resume_job resumes job `id`: its next occurrence is the
 * first after now (those that fell while it was paused are neither fired
 * nor recorded missed). Idempotent; TOCK_ENOENT. */
int tock_scheduler_resume_job(struct tock_scheduler *s, const char *id,
                              struct tock_error *err);

/* tock_scheduler_remove_job deletes job `id` (its run history stays until
 * trimmed; a run in progress finishes). TOCK_ENOENT when there is none. */
int tock_scheduler_remove_job(struct tock_scheduler *s, const char *id,
                              struct tock_error *err);

/* tock_scheduler_run_job fires job `id` once now, as an extra occurrence
 * (its schedule is unchanged; paused jobs run too). *scheduled_ms (may be
 * NULL) gets the occurrence's time. TOCK_ENOENT. */
int tock_scheduler_run_job(struct tock_scheduler *s, const char *id,
                           int64_t *scheduled_ms, struct tock_error *err);

/* ------------------------------------------------------------ history */

/* tock_runinfo: one occurrence in the run history. Strings are owned by
 * the list (tock_runinfo_list_free). */
struct tock_runinfo {
    char *job;
    char *occurrence;           /* "<job>@<scheduled_ms>" */
    int64_t scheduled_ms;
    char status[16];            /* dispatched, running, ok, error, timeout,
                                   cancelled, crashed, missed, skipped,
                                   dead */
    int64_t fired_ms;           /* when it was dispatched or decided, 0 if
                                   not yet */
    int64_t started_ms, finished_ms; /* 0 when not yet */
    int attempt;
    int exit_code;              /* -1 when none */
    char *error;                /* error text or miss reason, or NULL */
    char *output;               /* output excerpt (NUL-terminated), or NULL */
    char *node;                 /* scheduler that fired it, or NULL */
    char *worker;               /* scheduler that ran it, or NULL */
};

/* tock_scheduler_runs returns up to `limit` runs of job `job_id` (NULL: of
 * every job), newest scheduled time first, in a new array of *n records
 * the caller frees with tock_runinfo_list_free. The store keeps the last
 * 1000 runs per job. */
int tock_scheduler_runs(struct tock_scheduler *s, const char *job_id,
                        size_t limit, struct tock_runinfo **out, size_t *n,
                        struct tock_error *err);

void tock_runinfo_list_free(struct tock_runinfo *list, size_t n);

/* ------------------------------------------------------------ running */

/* tock_scheduler_start starts the scheduler on a thread of its own with its
 * own libuv loop, plus its dispatcher and job threads. TOCK_EINVAL if it
 * was started or attached before (a scheduler runs once: after a shutdown,
 * free it and create a new one). */
int tock_scheduler_start(struct tock_scheduler *s, struct tock_error *err);

/* tock_scheduler_attach starts the scheduler with its firing loop in the
 * caller's libuv loop `loop` (a uv_loop_t *): call it on that loop's
 * thread, before or while the loop runs; the loop must keep running while
 * the scheduler does. The dispatcher and job threads are the scheduler's
 * own as with start. The scheduler's handles keep the loop alive until it
 * is shut down; after tock_scheduler_shutdown or _free they close within
 * the loop's next turn. TOCK_EINVAL as for start. */
int tock_scheduler_attach(struct tock_scheduler *s, struct uv_loop_s *loop,
                          struct tock_error *err);

enum tock_shutdown {
    /* Stop firing, then wait until every running function has returned and
     * its result is recorded. */
    TOCK_SHUTDOWN_WAIT = 0,
    /* Stop firing and return at once: tasks not started yet are handed
     * back to the store (they run at the next start); running functions
     * see tock_call_cancelled() become TOCK_ECANCELED and finish in the
     * background (their results are still recorded, and the listener
     * still hears of them, until tock_scheduler_free, which waits). */
    TOCK_SHUTDOWN_NOWAIT = 1,
};

/* tock_scheduler_shutdown stops a started or attached scheduler: claims in
 * flight are released (nothing fires twice, nothing is lost: an occurrence
 * not yet fired is decided at the next start). Jobs stay in the store. A
 * scheduler that never ran, or a second shutdown, returns 0 (a WAIT after
 * a NOWAIT waits). TOCK_EBUSY for WAIT from inside a job function or the
 * listener. For an attached scheduler the firing loop stops in the
 * caller's loop's next turn. */
int tock_scheduler_shutdown(struct tock_scheduler *s, enum tock_shutdown how,
                            struct tock_error *err);

/* tock_scheduler_stats: counters since tock_scheduler_new. */
struct tock_scheduler_stats {
    uint64_t fired;        /* occurrences this scheduler dispatched */
    uint64_t missed;       /* occurrences it recorded missed */
    uint64_t skipped;      /* occurrences it skipped (max_instances) */
    uint64_t succeeded;    /* function runs that returned 0 */
    uint64_t failed;       /* function runs that failed (any reason) */
    uint64_t running;      /* functions running now */
    uint64_t store_errors; /* dispatcher store calls that failed */
    uint64_t events_dropped; /* listener events dropped (over 10000 queued
                                behind a slow listener) */
};

/* tock_scheduler_stats copies the counters into *out. */
void tock_scheduler_stats(struct tock_scheduler *s,
                          struct tock_scheduler_stats *out);

/* tock_scheduler_node_id returns the scheduler's node id (valid until
 * tock_scheduler_free). */
const char *tock_scheduler_node_id(const struct tock_scheduler *s);

/* ------------------------------------------------------ inside a job */

/* The struct tock_call a job function gets describes the occurrence it runs
 * and collects its result. These functions may be called only from inside
 * that function, with its `call`. */

/* tock_call_job returns the job id. */
const char *tock_call_job(const struct tock_call *call);

/* tock_call_occurrence returns "<job>@<scheduled_ms>": the occurrence's
 * identity, the same for every attempt and redelivery. Execution is at
 * least once (a task whose process died is handed out again), so a function
 * with effects outside the process should use it as an idempotency key. */
const char *tock_call_occurrence(const struct tock_call *call);

/* tock_call_scheduled_ms returns the occurrence's scheduled time. */
int64_t tock_call_scheduled_ms(const struct tock_call *call);

/* tock_call_attempt returns 1 for the first run, +1 per retry. */
int tock_call_attempt(const struct tock_call *call);

/* tock_call_args_json returns the job's arguments as JSON text ("null"
 * when it has none), valid until the function returns; NULL when out of
 * memory. */
const char *tock_call_args_json(struct tock_call *call);

/* tock_call_args returns the arguments as one msgpack value and its length
 * in *len, or NULL (and 0) when there are none. */
const void *tock_call_args(const struct tock_call *call, size_t *len);

/* tock_call_cancelled returns 0 while the function should go on, or why it
 * should stop: TOCK_ETIMEDOUT once the job's timeout has passed, or
 * TOCK_ECANCELED after tock_scheduler_shutdown(NOWAIT) or when the task
 * was handed to another process (its lease was lost). A C function cannot
 * be interrupted: libtock never kills a thread. A function that ignores
 * this runs to completion; past its timeout it is recorded "timeout"
 * whatever it returns, and a function that returns nonzero after a
 * cancellation is recorded "cancelled". Cheap: an atomic load. */
int tock_call_cancelled(const struct tock_call *call);

/* tock_call_error sets the run's error text (printf-style; one line, up to
 * 4096 bytes, escaped) and returns 1, so a function can end with
 *     return tock_call_error(call, "cannot open %s: %s", path, why);
 */
int tock_call_error(struct tock_call *call, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* tock_call_print appends printf-style text to the run's output excerpt
 * (kept in the run history: the first 64 KiB). */
void tock_call_print(struct tock_call *call, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* tock_call_scheduler returns the scheduler running the call (to add or
 * change jobs from inside a job). */
struct tock_scheduler *tock_call_scheduler(const struct tock_call *call);

#ifdef __cplusplus
}
#endif

#endif /* TOCK_TOCK_H */
