/* model.h: tock's in-memory model of jobs, tasks, results and events.
 *
 * Plain structs that own their members. Every string member is a
 * NUL-terminated C string allocated with tock_malloc (or NULL where the
 * field is optional); byte members (args, output) are tock_malloc'd buffers
 * with a length. Each struct has a tock_<x>_clear() that frees the members
 * and zeroes the struct; clearing a zeroed struct, or clearing twice, is
 * safe. proto/codec.h turns these structs into msgpack frames and back.
 *
 * Units: every time is an absolute Unix time in milliseconds (`_ms` fields
 * named start/end/sched/fire/ts/started/finished), every duration a
 * relative count of milliseconds (grace, jitter, timeout, backoff).
 *
 * Names (ids, queues, handlers, worker and node ids) follow one policy,
 * chosen so they read well in Redis keys and logs and can never break a key
 * pattern: 1..128 bytes of [A-Za-z0-9._-], starting with a letter or digit,
 * compared case-sensitively ("Backup" and "backup" are two jobs). That
 * keeps out whitespace, control characters, `:` (the key separator), `{}`
 * (Redis hash tags), `*?[]` (glob patterns), `@` (the occurrence id
 * separator), `/` (paths) and every non-ASCII character, so Unicode
 * normalization can never make two ids look alike.
 */
#ifndef TOCK_PROTO_MODEL_H
#define TOCK_PROTO_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/scan.h"
#include "tock/error.h"

/* ---------------------------------------------------------------- bounds */

#define TOCK_ID_MAX 128              /* bytes of an id/queue/handler name */
#define TOCK_JOB_NAME_MAX 200        /* bytes of a job's display name */
#define TOCK_TRIGGER_MAX 1024        /* bytes of a trigger's text form */
#define TOCK_TEXT_MAX 4096           /* bytes of an error text or detail */
#define TOCK_OUTPUT_MAX (64 * 1024)  /* bytes of a result's output excerpt */
#define TOCK_RETRIES_MAX 1000        /* retries of one occurrence */
#define TOCK_ATTEMPT_MAX (TOCK_RETRIES_MAX + 1)
#define TOCK_MAX_INSTANCES_MAX 10000 /* concurrent runs of one job */
#define TOCK_MAX_DELIVERIES_MAX 1000 /* deliveries of one task */
/* Latest accepted instant: 9999-12-31T23:59:59.999Z. Times are >= 0. */
#define TOCK_TIME_MAX_MS 253402300799999LL
/* Bytes of an occurrence id "<job>@<sched_ms>" including the NUL. */
#define TOCK_OCC_MAX (TOCK_ID_MAX + 1 + 20 + 1)

/* Defaults of a new job (tock_job_init_defaults). max_deliveries is 3: a
 * task whose worker died twice is more likely a poison task (it crashes
 * its worker) than bad luck, and a third delivery still rides out one
 * unlucky host. */
#define TOCK_DEFAULT_QUEUE "default"
#define TOCK_DEFAULT_MISFIRE_GRACE_MS 60000
#define TOCK_DEFAULT_MAX_INSTANCES 1
#define TOCK_DEFAULT_MAX_DELIVERIES 3

/* ----------------------------------------------------------------- types */

/* tock_job: one scheduled job, as stored and as sent between nodes. */
struct tock_job {
    char *id;                 /* required, name policy */
    char *name;               /* optional display name (NULL: none) */
    char *queue;              /* required, name policy; default "default" */
    char *handler;            /* required, name policy */
    uint8_t *args;            /* one msgpack value, or NULL for no args */
    size_t args_len;          /* bytes of args; 0 iff args is NULL */
    char *trigger;            /* text form "<kind>:<spec>", not parsed here */
    int64_t misfire_grace_ms; /* -1 = unlimited; default 60000 */
    bool coalesce;            /* default true */
    int max_instances;        /* >= 1; default 1 */
    int64_t jitter_ms;        /* >= 0 */
    int64_t timeout_ms;       /* 0 = no deadline */
    int retries;              /* 0..1000 */
    int64_t retry_backoff_ms; /* first retry delay; doubles per attempt */
    int max_deliveries;       /* >= 1; default 3 */
    bool paused;
    int64_t start_ms;         /* 0 = unbounded */
    int64_t end_ms;           /* 0 = unbounded; start <= end when both set */
    int64_t version;          /* bumped by the store on every change */
};

/* tock_task: what a worker receives for one fired occurrence. */
struct tock_task {
    int proto_version;   /* version of the frame it was decoded from */
    char *occ;           /* "<job>@<sched_ms>", must match job + sched_ms */
    char *job;           /* job id */
    char *handler;
    uint8_t *args;       /* one msgpack value, or NULL */
    size_t args_len;
    char *queue;
    int64_t sched_ms;    /* scheduled time: the occurrence's identity */
    int64_t fire_ms;     /* when it was dispatched (>= sched_ms) */
    int attempt;         /* 1 for the first run, +1 per retry */
    int64_t timeout_ms;  /* relative deadline from start; 0 = none */
    int max_deliveries;  /* deliveries allowed before it is dead */
};

/* tock_status: how one execution ended. */
enum tock_status {
    TOCK_STATUS_OK = 0,
    TOCK_STATUS_ERROR,
    TOCK_STATUS_TIMEOUT,
    TOCK_STATUS_CRASHED,
    TOCK_STATUS_CANCELLED,
    TOCK_STATUS_COUNT_
};

/* tock_result: what a worker reports for one execution. */
struct tock_result {
    char *occ;              /* occurrence id */
    enum tock_status status;
    char *worker;           /* worker id, name policy */
    int attempt;            /* the task's attempt */
    int64_t started_ms;
    int64_t finished_ms;    /* >= started_ms */
    int exit_code;          /* 0..255, or -1 when there is none */
    char *error;            /* optional error text (NULL: none) */
    uint8_t *output;        /* optional output excerpt, <= 64 KiB */
    size_t output_len;
};

/* tock_event_type: what the event history records. The names (the wire
 * form) are in tock_event_type_name(); append new types at the end. */
#define TOCK_EVENT_TYPE_MAP(X)                                                 \
    X(ADDED, "added")                                                          \
    X(CHANGED, "changed")                                                      \
    X(REMOVED, "removed")                                                      \
    X(PAUSED, "paused")                                                        \
    X(RESUMED, "resumed")                                                      \
    X(FIRED, "fired")                                                          \
    X(MISSED, "missed")                                                        \
    X(SKIPPED, "skipped")                                                      \
    X(COALESCED, "coalesced")                                                  \
    X(SUCCEEDED, "succeeded")                                                  \
    X(FAILED, "failed")                                                        \
    X(RETRYING, "retrying")                                                    \
    X(DEAD, "dead")                                                            \
    X(LEASE_EXPIRED, "lease_expired")                                          \
    X(REDELIVERED, "redelivered")                                              \
    X(COMMIT_REFUSED, "commit_refused")                                        \
    X(MALFORMED, "malformed")                                                  \
    X(NODE_UP, "node_up")                                                      \
    X(NODE_DOWN, "node_down")                                                  \
    X(WORKER_UP, "worker_up")                                                  \
    X(WORKER_DOWN, "worker_down")

enum tock_event_type {
#define TOCK_X__EVENT(sym, text) TOCK_EVENT_##sym,
    TOCK_EVENT_TYPE_MAP(TOCK_X__EVENT)
#undef TOCK_X__EVENT
    TOCK_EVENT_COUNT_
};

/* tock_event: one line of the cluster's event history. */
struct tock_event {
    enum tock_event_type type;
    int64_t ts_ms;      /* when it happened */
    char *job;          /* optional job id */
    char *occ;          /* optional occurrence id */
    char *node;         /* optional node or worker id */
    char *detail;       /* optional free text, <= 4096 bytes */
};

/* ------------------------------------------------------- init and clear */

/* tock_job_init_defaults zeroes *job (without freeing anything: call it on
 * a fresh or cleared struct) and sets the defaults: queue "default" (a new
 * string the struct owns), misfire grace 60 s, coalesce on, max_instances 1,
 * max_deliveries 3. Returns 0, or TOCK_ENOMEM with *job left zeroed. */
int tock_job_init_defaults(struct tock_job *job);

/* tock_<x>_clear frees every member and zeroes the struct. Safe on a
 * zeroed struct and on NULL. */
void tock_job_clear(struct tock_job *job);
void tock_task_clear(struct tock_task *task);
void tock_result_clear(struct tock_result *result);
void tock_event_clear(struct tock_event *event);

/* tock_job_copy makes *dst a deep copy of *src (dst is overwritten without
 * being freed; clear it with tock_job_clear). TOCK_ENOMEM leaves dst
 * zeroed. */
int tock_job_copy(struct tock_job *dst, const struct tock_job *src);

/* ----------------------------------------------------------------- names */

/* tock_status_name returns the static wire name of `s` ("ok", "error",
 * "timeout", "crashed", "cancelled"), or NULL when out of range. */
const char *tock_status_name(enum tock_status s);

/* tock_status_parse maps `name` (len bytes, exact lowercase) to *out;
 * returns 0 or TOCK_EINVAL. */
int tock_status_parse(const char *name, size_t len, enum tock_status *out);

/* tock_event_type_name / tock_event_type_parse: as above for events. */
const char *tock_event_type_name(enum tock_event_type t);
int tock_event_type_parse(const char *name, size_t len,
                          enum tock_event_type *out);

/* ------------------------------------------------------------ occurrence */

/* tock_occ_format writes "<job_id>@<sched_ms>" into buf (capacity cap,
 * TOCK_OCC_MAX is always enough for a valid id). Returns 0, or TOCK_ERANGE
 * when it does not fit (buf then holds ""). */
int tock_occ_format(char *buf, size_t cap, const char *job_id,
                    int64_t sched_ms);

/* tock_occ_parse splits an occurrence id strictly: exactly one '@', a job
 * id that passes the name policy before it, and after it a decimal time in
 * 0..TOCK_TIME_MAX_MS without sign or leading zeros. job_id (capacity
 * TOCK_ID_MAX + 1) and sched_ms may be NULL. Returns 0 or TOCK_EINVAL. */
int tock_occ_parse(const char *occ, char *job_id, int64_t *sched_ms,
                   struct tock_error *err);

/* ------------------------------------------------------------ validation */

/* tock_name_check checks `s` against the name policy (see the top of this
 * file); `what` names the field in the message ("job id", "queue"). */
int tock_name_check(const char *s, const char *what, struct tock_error *err);

/* tock_<x>_validate checks every field of a struct: names, text bounds,
 * numeric ranges, cross-field rules (start <= end, occ matches job and
 * sched_ms, started <= finished), and args as one msgpack value within
 * `lim` (NULL: defaults; args may be at most lim->max_args bytes). Returns 0
 * or a TOCK_E* code with a one-line message "invalid job: <field> ...:
 * <fix>". The codec runs these before encoding and after decoding. */
int tock_job_validate(const struct tock_job *job,
                      const struct tock_proto_limits *lim,
                      struct tock_error *err);
int tock_task_validate(const struct tock_task *task,
                       const struct tock_proto_limits *lim,
                       struct tock_error *err);
int tock_result_validate(const struct tock_result *result,
                         struct tock_error *err);
int tock_event_validate(const struct tock_event *event,
                        struct tock_error *err);

#endif /* TOCK_PROTO_MODEL_H */
