/* jobspec.h: job definitions as people write them, turned into validated
 * struct tock_job values: the "jobs" section of the JSON config file, and
 * one job from the flags of `tock add`.
 *
 * The config file (one file for handlers and jobs, read with jansson):
 *
 *   {
 *     "handlers": { ... },            worker/handlers.h reads this section
 *     "jobs": [
 *       { "id": "tick", "trigger": "interval:2s", "handler": "append",
 *         "args": {"k": 1}, "misfire_grace": "60s", "coalesce": true }
 *     ]
 *   }
 *
 * Job fields (docs/cli.md has the table with defaults and units): id,
 * trigger, handler (required); name, queue, args, misfire_grace, coalesce,
 * max_instances, jitter, timeout, retries, retry_backoff, max_deliveries,
 * paused, start, end. Durations are strings with units ("90s", "1h30m");
 * times are RFC 3339 with an offset; args is any JSON value (converted to
 * msgpack, at most 1 MiB).
 *
 * Strictness, because a typo in a scheduler's config must not pass
 * silently: an unknown top-level key or job field is an error naming its
 * path ("jobs[2].coalese"); duplicate JSON keys, duplicate job ids, a file
 * that is empty, not UTF-8 or over TOCK_JOBSPEC_FILE_MAX are refused;
 * syntax errors name the line and column. A UTF-8 byte order mark and CRLF
 * line ends are accepted.
 *
 * Every job that comes out of here has passed tock_job_validate and a
 * trigger parse, and its trigger holds the canonical text form
 * (tock_trigger_format), so the same definition always reads the same to
 * the store however it was spelled ("cron:0 3 * * *@UTC" and
 * "cron:0 3 * * *" are one trigger). Nothing here needs a clock or a store:
 * what depends on "now" (the first fire time, an end already past) is
 * tock_jobspec_first_fire, called by scheduler/apply.h and `tock add`.
 */
#ifndef TOCK_SCHEDULER_JOBSPEC_H
#define TOCK_SCHEDULER_JOBSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/model.h"
#include "tock/error.h"

/* Largest config file read (bytes); larger files are refused unread. */
#define TOCK_JOBSPEC_FILE_MAX (16 * 1024 * 1024)
/* Most jobs in one file. */
#define TOCK_JOBSPEC_JOBS_MAX 100000

/* tock_jobspec: one validated job definition. */
struct tock_jobspec {
    struct tock_job job;   /* owned; job.version is 0 */
    bool paused_set;       /* the source said "paused" explicitly; when not,
                              apply keeps a stored job's paused state (a job
                              an operator paused stays paused when the config
                              is applied again) */
};

/* tock_jobspec_set: the jobs of one config file, in file order. */
struct tock_jobspec_set {
    struct tock_jobspec *jobs; /* n entries, owned */
    size_t n;
    bool has_jobs;             /* the file has a "jobs" key (a config with
                                  only handlers has none) */
};

/* tock_jobspec_clear frees what `spec` owns and zeroes it (safe on a
 * zeroed struct and on NULL). */
void tock_jobspec_clear(struct tock_jobspec *spec);

/* tock_jobspec_set_clear frees every job of `set` and zeroes it (safe on a
 * zeroed struct and on NULL). */
void tock_jobspec_set_clear(struct tock_jobspec_set *set);

/* --------------------------------------------------------- config files */

/* tock_jobspec_load_text parses `len` bytes of config text. `source` names
 * it in messages ("jobs.json"): syntax errors read "jobs.json:3:14: ...",
 * others "jobs.json: jobs[1].timeout: ...". On success *out (overwritten
 * without freeing: pass a zeroed set) holds the jobs, which the caller
 * frees with tock_jobspec_set_clear. On error *out is left zeroed. Errors:
 * TOCK_EFORMAT (syntax, empty text, a top level that is not an object,
 * not UTF-8), TOCK_EDUPKEY (duplicate JSON key), TOCK_EEXIST (duplicate
 * job id), TOCK_EINVAL (unknown key or field, a bad value), TOCK_ETYPE (a
 * value of the wrong JSON type), TOCK_EMISSING (a required field), and the
 * codes of tock_job_validate and tock_trigger_parse (TOCK_ENOENT for an
 * unknown zone, ...), TOCK_ETOOBIG, TOCK_ENOMEM. */
int tock_jobspec_load_text(const char *text, size_t len, const char *source,
                           struct tock_jobspec_set *out,
                           struct tock_error *err);

/* tock_jobspec_load_file reads the config file at `path` ("-" reads
 * standard input) and parses it as tock_jobspec_load_text does, with the
 * path as the source name. TOCK_EIO when it cannot be read, TOCK_ETOOBIG
 * when it is larger than TOCK_JOBSPEC_FILE_MAX (it is not read then). */
int tock_jobspec_load_file(const char *path, struct tock_jobspec_set *out,
                           struct tock_error *err);

/* tock_jobspec_from_json converts one job object (borrowed) into *out
 * (overwritten without freeing; tock_jobspec_clear frees it). `where`
 * starts every message ("jobs[3]"). On error *out is left zeroed. */
int tock_jobspec_from_json(const json_t *obj, const char *where,
                           struct tock_jobspec *out, struct tock_error *err);

/* -------------------------------------------------------------- flags */

/* tock_jobspec_flags: the job flags of `tock add`, as given (NULL: not
 * given). Messages name the flag ("--timeout: ..."). */
struct tock_jobspec_flags {
    const char *id;
    const char *cron;          /* exactly one of cron, every, at, trigger */
    const char *every;
    const char *at;
    const char *trigger;       /* any text form ("calendar:...", "or(...)") */
    const char *tz;            /* zone of --cron or --at */
    const char *handler;
    const char *args;          /* JSON text, args_len bytes */
    size_t args_len;
    const char *queue;
    const char *name;
    const char *misfire_grace; /* duration or "unlimited" */
    const char *timeout;
    const char *jitter;
    const char *retry_backoff;
    const char *max_instances;
    const char *retries;
    const char *max_deliveries;
    const char *start;         /* RFC 3339 */
    const char *end;
    bool no_coalesce;
    bool paused;
};

/* tock_jobspec_from_flags builds one validated job from `f` into *out
 * (overwritten without freeing; tock_jobspec_clear frees it). --every
 * with --start anchors the interval at the start ("interval:1h@START"), so
 * it fires at the start and every period after; without --start it is
 * anchored when it is added. On error *out is left zeroed; codes as for
 * tock_jobspec_load_text. */
int tock_jobspec_from_flags(const struct tock_jobspec_flags *f,
                            struct tock_jobspec *out, struct tock_error *err);

/* -------------------------------------------------------------- args */

/* tock_jobspec_args converts `len` bytes of JSON text to msgpack args.
 * Over the limit the message gives both sizes ("args is 2.0 MiB; the limit
 * is 1 MiB"). *out is a new buffer of *outlen bytes the caller frees with
 * tock_free. `what` names the value ("--args"). */
int tock_jobspec_args(const char *text, size_t len, const char *what,
                      uint8_t **out, size_t *outlen, struct tock_error *err);

/* ---------------------------------------------------------- first fire */

/* tock_jobspec_first_fire computes the first scheduled time of `job` (a
 * validated job) were it added or resumed at `now_ms` (the store's clock):
 * the first occurrence strictly after now, within start/end; for a date
 * trigger the date itself even when it has passed (the firing loop then
 * fires it within misfire_grace or records it missed, so the history says
 * what happened to it). An interval without an anchor is anchored at now,
 * so it first fires one period later. *next_ms is -1 when the trigger
 * fires no more (an end bound already past): the store records the job
 * finished. Errors: the trigger's (TOCK_EINVAL for a jitter not below the
 * interval, ...), TOCK_ENOMEM. */
int tock_jobspec_first_fire(const struct tock_job *job, int64_t now_ms,
                            int64_t *next_ms, struct tock_error *err);

/* tock_jobspec_same reports whether two jobs have the same definition:
 * every field but version (the store's notion of "unchanged"). */
bool tock_jobspec_same(const struct tock_job *a, const struct tock_job *b);

#endif /* TOCK_SCHEDULER_JOBSPEC_H */
