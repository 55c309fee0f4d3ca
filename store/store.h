/* store.h: the store interface, the whole of it on one page.
 *
 * A store keeps jobs, decides nothing about time zones or handlers, and
 * gives the scheduler and the workers a small set of atomic operations from
 * which exactly-once firing and at-least-once execution are built:
 *
 *   scheduler node                      store                        worker
 *   ----------------                    -----                        ------
 *   claim(limit, lease) ----------->  reclaim expired claims,
 *                                      claim due jobs (epoch+1,
 *                      <-----------    owner = token), store "now"
 *   decide fire/miss per occurrence
 *   (misfire grace, coalesce) and
 *   the next time, on the store's
 *   clock, in C
 *   commit(batch) ----------------->  fence (owner, epoch,
 *                                      watermark, version), record,
 *                                      enqueue task, advance job
 *                                                        <-------- take(queue)
 *                                                        <-------- touch(lease)
 *                                                        <-------- report(result)
 *                                      reclaim expired task leases
 *                                      (redelivery, max_deliveries)
 *
 * Every operation is atomic in the backend (one SQLite BEGIN IMMEDIATE
 * transaction; one Redis function call). Every "now" that decides anything
 * is the store's clock (tock_store_now), never the caller's.
 *
 * Operations are synchronous: a call returns when the store has answered or
 * the store's own timeout has passed. The daemons keep their libuv loops
 * responsive by running store calls on a store thread (uv_queue_work), one
 * batch per round trip; the CLI and tests call them directly. A store handle
 * is used by one thread at a time.
 *
 * Backends are one `static const struct tock_store_ops` each
 * (store/sqlite.c, store/redis.c); callers use only the tock_store_*
 * wrappers below, whose comments state the contract.
 */
#ifndef TOCK_STORE_STORE_H
#define TOCK_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"
#include "tock/error.h"
#include "tock/log.h"

#define TOCK_TOKEN_MAX 96   /* "<node nonce>:<epoch>" */
#define TOCK_STATUS_MAX 16  /* "succeeded", "dispatched", ... */
#define TOCK_CLAIM_MAX 256  /* per claim batch: far below Redis' busy time */
#define TOCK_MISSED_MAX 1000 /* missed records per committed occurrence set */

struct tock_store;

/* ------------------------------------------------------------- opening */

/* tock_store_open opens the store named by `url`:
 *   sqlite:PATH                 a SQLite file (created 0600 if missing)
 *   redis://[user[:pass]@]host[:port][/db][?ns=NS&timeout=DUR]
 *   unix:///path/to.sock[?db=N&ns=NS&timeout=DUR]   (cluster mode; the
 *                               URL grammar, the password sources and the
 *                               checks made at open: docs/redis-keys.md)
 * `log` (not owned, may be NULL) receives the store's log lines. On success
 * *out is a new store the caller must free with tock_store_close. On
 * failure *out is NULL and `err` names the problem and the fix ("database
 * /x/y is locked by another process; ...", "unknown store scheme 'foo';
 * use sqlite:PATH or redis://host:port"). */
int tock_store_open(const char *url, struct tock_log *log,
                    struct tock_store **out, struct tock_error *err);

/* tock_store_tuning: optional knobs of a store. A zero field means the
 * backend's default. */
struct tock_store_tuning {
    int64_t busy_timeout_ms; /* SQLite: how long to wait for another
                                process's lock before TOCK_EBUSY (5000) */
    size_t runs_per_job;     /* finished run records kept per job (1000) */
    size_t events_max;       /* events kept (100000) */
    int64_t timeout_ms;      /* Redis: connect and command timeout; a call
                                that gets no answer within it fails with
                                TOCK_ETIMEDOUT and the handle reconnects on
                                its next call (2000; the URL's ?timeout=
                                wins) */
    int64_t occ_ttl_ms;      /* Redis: how long a finished occurrence
                                record (occ:<job>@<ms>) is kept (7 days) */
};

/* tock_store_open_tuned is tock_store_open with `tuning` (NULL: defaults). */
int tock_store_open_tuned(const char *url,
                          const struct tock_store_tuning *tuning,
                          struct tock_log *log, struct tock_store **out,
                          struct tock_error *err);

/* tock_store_close closes and frees `s`; NULL does nothing. */
void tock_store_close(struct tock_store *s);

/* tock_store_errmsg returns the message of the last failed call on `s`
 * (empty when none), valid until the next call. Every operation below also
 * fills its `err` argument; this is for callers that only kept the code. */
const char *tock_store_errmsg(const struct tock_store *s);

/* tock_store_kind returns "sqlite" or "redis". */
const char *tock_store_kind(const struct tock_store *s);

/* tock_store_now reads the store's clock in ms since the epoch (SQLite: the
 * host clock, kept from going backwards by a persisted high-water mark;
 * Redis: TIME with a high-water mark). */
int tock_store_now(struct tock_store *s, int64_t *now_ms,
                   struct tock_error *err);

/* ---------------------------------------------------------------- jobs */

/* tock_job_state: a job as stored: its definition and its firing state. */
struct tock_job_state {
    struct tock_job job;    /* definition, with job.version */
    int64_t next_fire_ms;   /* next scheduled time; -1 when finished */
    int64_t fired_ms;       /* watermark: last dispatched/missed/skipped
                               scheduled time; -1 before the first */
    int64_t epoch;          /* bumped by every claim, reclaim and edit */
    char owner[TOCK_TOKEN_MAX]; /* claim token, "" when unclaimed */
    int64_t lease_until_ms; /* claim lease expiry, 0 when unclaimed */
    int64_t running;        /* dispatched and not yet finished */
    char last_status[TOCK_STATUS_MAX]; /* of the last finished run, or "" */
    int64_t created_ms, updated_ms;
};

/* tock_job_state_clear frees what `st` owns (safe on a zeroed struct). */
void tock_job_state_clear(struct tock_job_state *st);

enum tock_put_mode {
    TOCK_PUT_CREATE = 0, /* fail with TOCK_EEXIST if the id exists */
    TOCK_PUT_UPSERT = 1, /* create, replace if the definition differs, or
                            change nothing if it is the same */
};

enum tock_put_outcome {
    TOCK_PUT_ADDED = 0,
    TOCK_PUT_CHANGED = 1,   /* version bumped, epoch bumped (fences any
                               outstanding claim), next_fire_ms replaced */
    TOCK_PUT_UNCHANGED = 2, /* same definition: nothing written */
};

/* tock_store_job_put adds or replaces `job` (validated by the caller with
 * tock_job_validate and a trigger parse). `next_fire_ms` is the first
 * scheduled time, computed by the caller from the trigger on the store's
 * clock (-1: never fires, recorded finished). `expect_version` > 0 makes the
 * write conditional on the stored version (TOCK_ESTALE when it differs: a
 * concurrent edit). *outcome and *version (may be NULL) get the result. An
 * "added" or "changed" event is recorded in the same transaction.
 * job->version is ignored: the store assigns versions (1, then +1 per
 * change). A job id added again after a remove starts with its watermark
 * (fired_ms) at the newest run still recorded under that id, so it never
 * reuses an occurrence id a handler may already have seen. */
int tock_store_job_put(struct tock_store *s, const struct tock_job *job,
                       int64_t next_fire_ms, enum tock_put_mode mode,
                       int64_t expect_version, enum tock_put_outcome *outcome,
                       int64_t *version, struct tock_error *err);

/* tock_store_job_get loads job `id` into *out (which the caller clears with
 * tock_job_state_clear). TOCK_ENOENT when there is no such job. */
int tock_store_job_get(struct tock_store *s, const char *id,
                       struct tock_job_state *out, struct tock_error *err);

/* tock_store_job_list returns every job ordered by id in a new array of *n
 * states; the caller frees it with tock_job_state_list_free. */
int tock_store_job_list(struct tock_store *s, struct tock_job_state **out,
                        size_t *n, struct tock_error *err);
void tock_job_state_list_free(struct tock_job_state *list, size_t n);

/* tock_store_job_remove deletes job `id` (its history stays until
 * trimmed); outstanding claims are fenced. TOCK_ENOENT if absent. */
int tock_store_job_remove(struct tock_store *s, const char *id,
                          struct tock_error *err);

/* tock_store_job_pause / _resume set `paused` (bumping version and epoch).
 * A paused job is not claimed. On resume `next_fire_ms` (computed by the
 * caller on the store's clock) replaces the stored one: occurrences while
 * paused are neither fired nor recorded missed. Idempotent. */
int tock_store_job_pause(struct tock_store *s, const char *id,
                         struct tock_error *err);
int tock_store_job_resume(struct tock_store *s, const char *id,
                          int64_t next_fire_ms, struct tock_error *err);

/* tock_store_job_run_now enqueues one extra occurrence of job `id` now
 * (tock run): its scheduled time is the store's now (made unique against
 * the job's own occurrences), recorded "dispatched" with a task built by the
 * caller's `build` callback from that time. *sched_ms gets the time. The
 * callback runs inside the store's transaction and returns 0 with *body a
 * new buffer allocated with tock_malloc (the store frees it) or a negative
 * code (nothing is recorded). Paused jobs run too; max_instances does not
 * apply to an explicit run, but the run counts in `running`. */
typedef int (*tock_task_builder_fn)(void *ctx, const struct tock_job *job,
                                    int64_t sched_ms, int64_t now_ms,
                                    uint8_t **body, size_t *len,
                                    struct tock_error *err);
int tock_store_job_run_now(struct tock_store *s, const char *id,
                           tock_task_builder_fn build, void *ctx,
                           int64_t *sched_ms, struct tock_error *err);

/* -------------------------------------------------------------- firing */

/* tock_claimed: one job claimed for its due occurrence `sched_ms`. */
struct tock_claimed {
    struct tock_job job;  /* definition at claim time (job.version) */
    int64_t sched_ms;     /* = next_fire_ms at claim time. When it is <=
                             fired_ms (a put or resume moved it back), the
                             node commits the first occurrence after
                             fired_ms instead: see commit step 5 */
    int64_t fired_ms;     /* watermark at claim time (-1: none) */
    int64_t epoch;
    int64_t running;
    char token[TOCK_TOKEN_MAX];
};

struct tock_claim_batch {
    int64_t now_ms;       /* the store's clock when it claimed */
    int64_t next_due_ms;  /* earliest unclaimed due time after the claim,
                             or another node's claim-lease expiry if
                             sooner (so a dead node's claims are reclaimed
                             on time), -1 when neither: sleep until then */
    size_t reclaimed;     /* expired claims returned to due by this call */
    size_t n;
    struct tock_claimed *items; /* owned by the batch */
};

/* tock_claim_batch_clear frees what `b` owns (safe on a zeroed struct). */
void tock_claim_batch_clear(struct tock_claim_batch *b);

/* tock_store_claim: ON claim(node_nonce, limit, lease_ms):
 *   1. now = the store's clock (high-water mark kept).
 *   2. Every job whose claim lease expired before now goes back to due at
 *      its unchanged next_fire_ms: owner cleared, epoch+1, event
 *      lease_expired.
 *   3. Up to `limit` (<= TOCK_CLAIM_MAX) unpaused jobs with next_fire_ms <=
 *      now, earliest first: epoch+1, owner = token "<nonce>:<epoch>",
 *      lease until now + lease_ms; returned in *out.
 *   4. out->next_due_ms = the earliest next_fire_ms still unclaimed, or the
 *      earliest lease expiry of a claim not made with node_nonce.
 * `node_nonce` is unique per process start (never reused): 1..64 bytes of
 * printable ASCII without spaces (e.g. "<host>-<pid>-<random hex>").
 * Step 2 undoes at most TOCK_CLAIM_MAX expired claims per call. */
int tock_store_claim(struct tock_store *s, const char *node_nonce, size_t limit,
                     int64_t lease_ms, struct tock_claim_batch *out,
                     struct tock_error *err);

enum tock_decision {
    TOCK_DECIDE_FIRE = 0,
    TOCK_DECIDE_MISS = 1,
};

/* tock_commit: the node's decision for one claimed job. It covers the
 * claimed occurrence `sched_ms` and, when the node found more occurrences of
 * the job already due (a catch-up after downtime), the older ones it
 * records as missed: missed[0..n_missed) are scheduled times strictly
 * between the watermark and sched_ms, ascending (coalesced or past grace).
 * At most TOCK_MISSED_MAX per commit: a longer backlog is committed over
 * several claims (next_ms then is the next unrecorded occurrence). */
struct tock_commit {
    const char *job_id;
    const char *token;       /* from the claim */
    int64_t epoch;           /* from the claim */
    int64_t version;         /* job.version from the claim */
    int64_t sched_ms;        /* the claimed occurrence (or the first one
                                after fired_ms, see tock_claimed) */
    enum tock_decision decision;   /* for sched_ms */
    const int64_t *missed;   /* older occurrences recorded missed */
    size_t n_missed;
    const char *miss_reason; /* "misfire_grace" or "coalesced" */
    int64_t next_ms;         /* next scheduled time after all of these,
                                -1 when the trigger is finished */
    int64_t misfire_grace_ms;      /* re-checked on the store's clock */
    const uint8_t *task;     /* encoded task body when firing */
    size_t task_len;
    const char *node;        /* node id for the run record */
};

enum tock_commit_status {
    TOCK_COMMIT_OK = 0,        /* recorded as decided */
    TOCK_COMMIT_MISSED = 1,    /* fire turned into missed: past grace on the
                                  store's clock at commit */
    TOCK_COMMIT_SKIPPED = 2,   /* fire turned into skipped: max_instances */
    TOCK_COMMIT_ALREADY = 3,   /* this token's commit was already applied
                                  (a retried call): nothing changed */
    TOCK_COMMIT_STALE = 4,     /* owner/epoch no longer ours: refused, nothing
                                  written (another node reclaimed it) */
    TOCK_COMMIT_CHANGED = 5,   /* job edited since the claim: claim released,
                                  nothing recorded; the next claim decides */
    TOCK_COMMIT_DUPLICATE = 6, /* sched_ms <= watermark: refused (a bug if
                                  ever seen with a valid fence) */
    TOCK_COMMIT_GONE = 7,      /* job removed since the claim */
};

struct tock_commit_result {
    enum tock_commit_status status;
    int64_t task_id;  /* queue entry id when a task was enqueued, else 0 */
};

/* tock_store_commit applies `n` commits in one atomic step per commit
 * (SQLite: one transaction for the batch; each item is fenced on its own and
 * a refused item never affects the others). ON commit(c), all checks
 * before the first write:
 *   1. GONE if the job no longer exists.
 *   2. ALREADY if the job's last accepted commit token is c->token (then
 *      task_id is the one that commit enqueued).
 *   3. CHANGED if job.version != c->version: the claim is released if it is
 *      still ours (an edit already cleared it), nothing recorded. Checked
 *      before 4 because an edit clears the owner: CHANGED says why.
 *   4. STALE unless owner == token and epoch == c->epoch: nothing written,
 *      not even an event.
 *   5. DUPLICATE unless every occurrence is > the watermark: the claim is
 *      released (epoch+1) and a commit_refused event recorded. sched_ms must
 *      be after the watermark; it need not equal the claimed next_fire_ms.
 *   6. now = the store's clock: a FIRE older than misfire_grace becomes a
 *      miss; a FIRE with running >= max_instances becomes skipped.
 *   7. Records: one run record per occurrence (missed / skipped /
 *      dispatched), events, and for a fire the task in the job's queue with
 *      running+1. An occurrence that already has a record (a `tock run`
 *      landed on that very millisecond) gets no second record or task.
 *   8. Advance: watermark = sched_ms, next_fire_ms = next_ms, owner "",
 *      lease dropped, last commit = token.
 * results[i] gets each outcome. At most TOCK_CLAIM_MAX commits per call.
 * Returns an error only when an argument is bad or the store itself failed
 * (then nothing of the batch was applied). */
int tock_store_commit(struct tock_store *s, const struct tock_commit *commits,
                      size_t n, struct tock_commit_result *results,
                      struct tock_error *err);

/* tock_store_release gives claims back without deciding (SIGTERM drain, a
 * node that spent more than half its lease): each job whose owner is still
 * the token returns to due at its unchanged next_fire_ms, epoch+1. */
int tock_store_release(struct tock_store *s, const struct tock_claimed *items,
                       size_t n, struct tock_error *err);

/* ----------------------------------------------------------- execution */

/* tock_task_lease: one task handed to a worker. */
struct tock_task_lease {
    int64_t task_id;      /* queue entry id (> 0). SQLite: the row id.
                             Redis: the stream entry id "<ms>-<seq>" packed
                             as ms * 2^20 + seq (docs/redis-keys.md) */
    char *queue;
    char *occ;            /* occurrence id "<job>@<sched_ms>" */
    int32_t attempt;      /* 1 + retries so far */
    int32_t deliveries;   /* times this entry was handed out, >= 1 */
    uint8_t *body;        /* the encoded task, owned */
    size_t body_len;
};

void tock_task_lease_list_free(struct tock_task_lease *list, size_t n);

/* tock_store_task_take hands up to `max` ready tasks from `queues` (in the
 * order given: strict priority) to `consumer` with a lease of `lease_ms`,
 * counting a delivery each. A task whose deliveries would exceed its job's
 * max_deliveries is not handed out: it is recorded dead. The caller frees
 * *out with tock_task_lease_list_free. */
int tock_store_task_take(struct tock_store *s, const char *const *queues,
                         size_t nqueues, const char *consumer, size_t max,
                         int64_t lease_ms, struct tock_task_lease **out,
                         size_t *n, struct tock_error *err);

/* tock_store_task_touch extends the leases of tasks `ids` held by
 * `consumer` (with the delivery counts it was given). ok[i] is false for a
 * task no longer ours (reclaimed and handed to someone else): the worker
 * must stop that handler (self-fencing). */
int tock_store_task_touch(struct tock_store *s, const char *consumer,
                          const int64_t *ids, const int32_t *deliveries,
                          size_t n, int64_t lease_ms, bool *ok,
                          struct tock_error *err);

enum tock_report_status {
    TOCK_REPORT_OK = 0,     /* accepted: the final result (or a retry
                               scheduled) */
    TOCK_REPORT_DUP_OK = 1, /* the same report was already accepted: replay */
    TOCK_REPORT_LATE = 2,   /* the occurrence already has a final result from
                               another attempt: recorded as an event only */
    TOCK_REPORT_STALE = 3,  /* the task is no longer held by this consumer
                               with this delivery count: refused */
};

/* tock_store_task_report records `result` for task `task_id` held by
 * `consumer` with `deliveries`, in one atomic step: fence, acknowledge
 * (delete) the task, record the run's final state (or, for an error or
 * timeout with retries left, schedule attempt+1 after a backoff with
 * jitter), running-1, events. */
int tock_store_task_report(struct tock_store *s, int64_t task_id,
                           const char *consumer, int32_t deliveries,
                           const struct tock_result *result,
                           enum tock_report_status *status,
                           struct tock_error *err);

/* tock_report: one report of a batch. */
struct tock_report {
    int64_t task_id;
    int32_t deliveries;
    const struct tock_result *result;
};

/* tock_store_task_report_many records up to TOCK_CLAIM_MAX reports of
 * `consumer` in one atomic step (SQLite: one transaction, so one fsync for
 * the batch instead of one per result), each with the semantics of
 * tock_store_task_report and its own status[i]. Returns an error only when
 * an argument is bad or the store itself failed; then none was applied. */
int tock_store_task_report_many(struct tock_store *s, const char *consumer,
                                const struct tock_report *reports, size_t n,
                                enum tock_report_status *status,
                                struct tock_error *err);

/* tock_store_task_reclaim returns tasks whose lease expired (their worker
 * died or went silent) to the ready queue, or records them dead past
 * max_deliveries; also repairs `running` counters from the live tasks.
 * At most `limit` tasks, and at most TOCK_CLAIM_MAX, per call.
 * *n_redelivered and *n_dead (may be NULL) count them. */
int tock_store_task_reclaim(struct tock_store *s, size_t limit,
                            size_t *n_redelivered, size_t *n_dead,
                            struct tock_error *err);

/* tock_store_task_release hands tasks back unfinished (SIGTERM drain): they
 * become ready at once, their delivery not counted against the job. */
int tock_store_task_release(struct tock_store *s, const char *consumer,
                            const int64_t *ids, size_t n,
                            struct tock_error *err);

/* --------------------------------------------------------------- watch */

/* The watch: a way for a firing loop to sleep until the due set changes
 * instead of polling. A backend with a notification channel (Redis: a
 * second connection SSUBSCRIBEd to tock:{ns}:wake, published to when a put,
 * resume, release or commit moves the head of the due set earlier) offers
 * it; a backend without one (SQLite) answers TOCK_ENOENT, and the caller
 * keeps sleeping until the claim's next_due_ms (capped). Notifications
 * are hints, never facts: one may be lost (pub/sub is fire-and-forget, a
 * reconnect drops what was sent meanwhile), so the caller still wakes at
 * next_due_ms, and after any watch error it closes the watch, re-claims,
 * and opens it again.
 *
 * Threads: the watch has its own connection. tock_store_watch_drain and
 * tock_store_watch_close may be called from a thread other than the one
 * running the store's operations (the firing loop polls the fd on its libuv
 * thread while claims run on the store thread); they never touch the
 * handle's last message (tock_store_errmsg). */

/* tock_store_has_watch reports whether `s` offers a watch. */
bool tock_store_has_watch(const struct tock_store *s);

/* tock_store_watch_open opens the watch (closing one already open) and
 * returns in *fd a file descriptor to poll for readability (uv_poll_start
 * with UV_READABLE); the fd stays owned by the store until
 * tock_store_watch_close. Errors: TOCK_ENOENT when the backend has no watch,
 * connection errors as for any call. */
int tock_store_watch_open(struct tock_store *s, int *fd,
                          struct tock_error *err);

/* tock_store_watch_drain reads, without blocking, every notification
 * already received and sets *n to how many there were (0: a spurious
 * wake-up). When the connection broke it closes the watch and returns
 * TOCK_ECONN: reopen it, and claim once, since notifications may have been
 * lost. */
int tock_store_watch_drain(struct tock_store *s, size_t *n,
                           struct tock_error *err);

/* tock_store_watch_close closes the watch (its fd is invalid after this
 * call: uv_poll_stop it first). Nothing happens when none is open. Closing
 * the store closes its watch too. */
void tock_store_watch_close(struct tock_store *s);

/* ------------------------------------------------------------- history */

/* tock_run: one occurrence as the history shows it. */
struct tock_run {
    char *job;
    char *occ;
    int64_t sched_ms;
    char status[TOCK_STATUS_MAX]; /* dispatched, running, ok, error, timeout,
                                     crashed, cancelled, missed, skipped,
                                     dead */
    int64_t fired_ms;     /* store time of the commit (0 if none) */
    int64_t started_ms, finished_ms; /* 0 when not yet */
    char *node;           /* scheduler node that committed it */
    char *worker;         /* worker that ran the final attempt */
    int32_t attempt;
    int32_t exit_code;    /* -1 when none */
    char *error;          /* error text or miss reason, may be NULL */
    uint8_t *output;      /* bounded output excerpt, may be NULL */
    size_t output_len;
};

void tock_run_list_free(struct tock_run *list, size_t n);

/* tock_store_runs returns up to `limit` runs of job `job_id` (NULL: all
 * jobs), newest scheduled time first, in a new array the caller frees with
 * tock_run_list_free. */
int tock_store_runs(struct tock_store *s, const char *job_id, size_t limit,
                    struct tock_run **out, size_t *n, struct tock_error *err);

/* tock_store_events returns up to `limit` events with id > `after_id`
 * (oldest first) and their ids; the caller frees with
 * tock_event_list_free. For `tock events --follow`, call again with the last
 * id. */
int tock_store_events(struct tock_store *s, int64_t after_id, size_t limit,
                      struct tock_event **out, int64_t **ids, size_t *n,
                      struct tock_error *err);
void tock_event_list_free(struct tock_event *list, int64_t *ids, size_t n);

/* ------------------------------------------------------------- backends */

/* struct tock_store_ops: one static const instance per backend. Each entry
 * has the contract of the wrapper of the same name above; wrappers check
 * arguments, clear outputs and keep the last message on the handle. */
struct tock_store_ops {
    const char *kind;
    int (*open)(struct tock_store *s, const char *url, struct tock_error *err);
    void (*close)(struct tock_store *s);
    int (*now)(struct tock_store *s, int64_t *now_ms, struct tock_error *err);
    int (*job_put)(struct tock_store *s, const struct tock_job *job,
                   int64_t next_fire_ms, enum tock_put_mode mode,
                   int64_t expect_version, enum tock_put_outcome *outcome,
                   int64_t *version, struct tock_error *err);
    int (*job_get)(struct tock_store *s, const char *id,
                   struct tock_job_state *out, struct tock_error *err);
    int (*job_list)(struct tock_store *s, struct tock_job_state **out,
                    size_t *n, struct tock_error *err);
    int (*job_remove)(struct tock_store *s, const char *id,
                      struct tock_error *err);
    int (*job_set_paused)(struct tock_store *s, const char *id, bool paused,
                          int64_t next_fire_ms, struct tock_error *err);
    int (*job_run_now)(struct tock_store *s, const char *id,
                       tock_task_builder_fn build, void *ctx,
                       int64_t *sched_ms, struct tock_error *err);
    int (*claim)(struct tock_store *s, const char *node_nonce, size_t limit,
                 int64_t lease_ms, struct tock_claim_batch *out,
                 struct tock_error *err);
    int (*commit)(struct tock_store *s, const struct tock_commit *commits,
                  size_t n, struct tock_commit_result *results,
                  struct tock_error *err);
    int (*release)(struct tock_store *s, const struct tock_claimed *items,
                   size_t n, struct tock_error *err);
    int (*task_take)(struct tock_store *s, const char *const *queues,
                     size_t nqueues, const char *consumer, size_t max,
                     int64_t lease_ms, struct tock_task_lease **out, size_t *n,
                     struct tock_error *err);
    int (*task_touch)(struct tock_store *s, const char *consumer,
                      const int64_t *ids, const int32_t *deliveries, size_t n,
                      int64_t lease_ms, bool *ok, struct tock_error *err);
    int (*task_report)(struct tock_store *s, const char *consumer,
                       const struct tock_report *reports, size_t n,
                       enum tock_report_status *status,
                       struct tock_error *err); /* both report wrappers */
    int (*task_reclaim)(struct tock_store *s, size_t limit,
                        size_t *n_redelivered, size_t *n_dead,
                        struct tock_error *err);
    int (*task_release)(struct tock_store *s, const char *consumer,
                        const int64_t *ids, size_t n, struct tock_error *err);
    int (*runs)(struct tock_store *s, const char *job_id, size_t limit,
                struct tock_run **out, size_t *n, struct tock_error *err);
    int (*events)(struct tock_store *s, int64_t after_id, size_t limit,
                  struct tock_event **out, int64_t **ids, size_t *n,
                  struct tock_error *err);
    /* The watch; all three NULL when the backend has none. */
    int (*watch_open)(struct tock_store *s, int *fd, struct tock_error *err);
    int (*watch_drain)(struct tock_store *s, size_t *n,
                       struct tock_error *err);
    void (*watch_close)(struct tock_store *s);
};

/* struct tock_store is shared by the wrappers and the backends: `ops`,
 * `log`, `tuning` and the last message are the wrappers'; `backend` is the
 * backend's own state. */
struct tock_store {
    const struct tock_store_ops *ops;
    struct tock_log *log;
    struct tock_store_tuning tuning; /* set before ops->open runs */
    void *backend;
    char errmsg[TOCK_ERRSTR_MAX];
};

extern const struct tock_store_ops tock_store_sqlite_ops;
extern const struct tock_store_ops tock_store_redis_ops;

#endif /* TOCK_STORE_STORE_H */
