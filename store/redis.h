/* redis.h: the Redis backend's internals, shared by store/redis*.c.
 *
 * Not a public header: the scheduler, the worker and the CLI use store.h
 * only. Tests include it for the URL parser and the id packing.
 *
 * The backend is split by concern, one file each:
 *   redis_url.c      the store URL, passwords, namespace, redaction;
 *   redis_conn.c     connections, commands, function calls, error mapping,
 *                    reply reading, the watch connection;
 *   redis.c          open (server checks, loading the library), close, the
 *                    clock and the ops table; the mechanism as numbered
 *                    steps ("ON claim: 1. ...") in its header comment;
 *   redis_jobs.c     put, get, list, remove, pause/resume, run now;
 *   redis_fire.c     claim, commit, release (exactly-once firing);
 *   redis_tasks.c    take, touch, report, reclaim, release (execution);
 *   redis_history.c  run history and events;
 *   redis_functions.lua  the Redis Functions library tock_v1 (embedded
 *                    by CMake as the C string tock_redis_lua).
 * docs/redis-keys.md describes every key, docs/guarantees.md the
 * guarantee and where it stops.
 */
#ifndef TOCK_STORE_REDIS_H
#define TOCK_STORE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "store/store.h"

/* ------------------------------------------------------------ constants */

/* The schema this binary writes (meta.schema) and the library it loads.
 * Bumping it: a new redis_functions.lua named tock_v<N> with functions
 * tock_v<N>_*, and a migration step in redis.c's open; a store whose
 * schema differs is refused, never guessed at. */
#define TOCK_REDIS_SCHEMA "1"
#define TOCK_REDIS_LIB "tock_v1"
#define TOCK_REDIS_FN_PREFIX "tock_v1_"

/* Defaults of the knobs of struct tock_store_tuning. */
#define TOCK_REDIS_TIMEOUT_MS 2000
#define TOCK_REDIS_OCC_TTL_MS (7LL * 24 * 3600 * 1000)
#define TOCK_REDIS_RUNS_PER_JOB 1000
#define TOCK_REDIS_EVENTS_MAX 100000

/* The consumer group of every queue stream, and the consumer that holds
 * entries between deliveries (see redis_functions.lua). */
#define TOCK_REDIS_GROUP "workers"
#define TOCK_REDIS_READY "tock ready"

/* Stream entry ids "<ms>-<seq>" pack into the int64 ids of store.h as
 * ms * 2^20 + seq: exact for ms below 2^43 (year 2248) and seq below 2^20,
 * which tock's own ids always keep (redis_functions.lua next_task_id). */
#define TOCK_REDIS_SEQ_BITS 20

#define TOCK_REDIS_NS_MAX 64
#define TOCK_REDIS_HOST_MAX 256
#define TOCK_REDIS_PATH_MAX 108 /* sun_path */
#define TOCK_REDIS_USER_MAX 128
#define TOCK_REDIS_PASS_MAX 512
#define TOCK_REDIS_SHOWN_MAX 448 /* the longest user and host fit */
#define TOCK_REDIS_KEY_MAX (TOCK_REDIS_NS_MAX + TOCK_OCC_MAX + 32)

/* The embedded library text (generated from redis_functions.lua). */
extern const char tock_redis_lua[];

/* --------------------------------------------------------------- the URL */

/* tock_redis_url: a parsed store URL, with the password resolved. */
struct tock_redis_url {
    char host[TOCK_REDIS_HOST_MAX]; /* name or address, IPv6 without [] */
    int port;                       /* 1..65535, 6379 by default */
    char path[TOCK_REDIS_PATH_MAX]; /* unix socket path, "" for TCP */
    char user[TOCK_REDIS_USER_MAX]; /* "" for the default user */
    char pass[TOCK_REDIS_PASS_MAX];
    bool has_pass;
    const char *pass_from;          /* "the URL", "TOCK_REDIS_PASSWORD", ... */
    int db;                         /* SELECT index, 0 by default */
    char ns[TOCK_REDIS_NS_MAX + 1]; /* namespace, "default" by default */
    int64_t timeout_ms;             /* ?timeout=, 0 when not given */
    char shown[TOCK_REDIS_SHOWN_MAX]; /* redacted, for every message */
};

/* tock_redis_url_parse parses
 *   redis://[user[:password]@]host[:port][/db][?ns=NS&timeout=DUR]
 *   unix:///path/to.sock[?db=N&ns=NS&timeout=DUR]
 * into *u (user and password percent-decoded; an IPv6 host in brackets).
 * The password comes from the URL, else $TOCK_REDIS_PASSWORD, else the
 * file named by $TOCK_REDIS_PASSWORD_FILE (which must not be readable by
 * group or others); the namespace from ?ns=, else $TOCK_NAMESPACE, else
 * "default". Errors (TOCK_EINVAL, TOCK_EAUTH for an unsafe password file)
 * name the part that is wrong and never contain the password. */
int tock_redis_url_parse(const char *url, struct tock_redis_url *u,
                         struct tock_error *err);

/* tock_redis_ns_check checks a namespace: 1..64 printable ASCII bytes
 * without whitespace, ':' (the key separator), '{' '}' (the hash tag) or
 * '*' '?' '[' ']' '\' (glob patterns, as ACL key patterns use them). */
int tock_redis_ns_check(const char *ns, const char *from,
                        struct tock_error *err);

/* tock_redis_url_wipe zeroes the password held by *u. */
void tock_redis_url_wipe(struct tock_redis_url *u);

/* ------------------------------------------------------------- the state */

/* tock_redis_watch: the subscriber connection of the watch. */
struct tock_redis_watch {
    redisContext *c;
};

/* tock_redis: the backend's state, s->backend. */
struct tock_redis {
    redisContext *c;              /* NULL until (re)connected */
    struct tock_redis_url url;
    struct tock_log *log;
    char prefix[TOCK_REDIS_NS_MAX + 16]; /* "tock:{ns}:" */
    char meta[TOCK_REDIS_NS_MAX + 24];   /* "tock:{ns}:meta" */
    char client_name[200];        /* CLIENT SETNAME tock-<role>:<host>:<pid> */
    int64_t timeout_ms;
    int64_t occ_ttl_ms;
    size_t runs_max;              /* entries of a runs stream (2 per run) */
    size_t events_max;
    char maxmemory[32];           /* INFO maxmemory_human, for OOM lines */
    uint64_t rng;                 /* xorshift64* state for back-off jitter */
    struct tock_redis_watch watch;
};

/* tock_redis_of returns the backend state of a store opened on Redis, or
 * NULL for another backend. */
struct tock_redis *tock_redis_of(struct tock_store *s);

/* ---------------------------------------------------------- arguments */

/* tock_redis_args: a command's argument vector. Strings added with _str
 * and _bin are borrowed (they must outlive the call); numbers and keys are
 * formatted into memory the vector owns. An allocation failure is kept in
 * `oom` and reported by the call that uses the vector. */
struct tock_redis_args {
    const char **v;
    size_t *len;
    size_t n, cap;
    char **owned;
    size_t nowned, owned_cap;
    bool oom;
};

void tock_redis_args_init(struct tock_redis_args *a);
void tock_redis_args_clear(struct tock_redis_args *a);
void tock_redis_args_str(struct tock_redis_args *a, const char *s);
void tock_redis_args_bin(struct tock_redis_args *a, const void *p,
                         size_t len);
void tock_redis_args_i64(struct tock_redis_args *a, int64_t v);
/* tock_redis_args_sid adds the stream id "<ms>-<seq>" of packed id `id`. */
void tock_redis_args_sid(struct tock_redis_args *a, int64_t id);
/* tock_redis_args_key adds "<prefix><part1><part2>" (part2 may be NULL). */
void tock_redis_args_key(struct tock_redis_args *a, const struct tock_redis *b,
                         const char *part1, const char *part2);

/* ------------------------------------------------------------- commands */

/* tock_redis_connect makes sure b->c is a live, authenticated connection:
 * connect (with the timeout), AUTH, SELECT, CLIENT SETNAME. */
int tock_redis_connect(struct tock_redis *b, struct tock_error *err);

/* tock_redis_drop closes the connection; the next call reconnects. */
void tock_redis_drop(struct tock_redis *b);

/* tock_redis_command runs one command and returns its reply in *out (the
 * caller frees it with freeReplyObject). An error reply is mapped by
 * tock_redis_reply_error (naming `what`) and not returned; an I/O error or
 * a timeout drops the connection. */
int tock_redis_command(struct tock_redis *b, const struct tock_redis_args *a,
                       const char *what, redisReply **out,
                       struct tock_error *err);

/* tock_redis_fcall runs FCALL tock_v1_<fn> 1 <meta> ARGV... where ARGV are
 * the history bounds followed by `a`. A store that lost the library (a
 * Redis restarted without its data) gets it loaded again, once. */
int tock_redis_fcall(struct tock_redis *b, const char *fn,
                     const struct tock_redis_args *a, redisReply **out,
                     struct tock_error *err);

/* tock_redis_pipeline sends n commands at once and reads their n replies
 * into out[] (each freed by the caller; error replies are returned as
 * replies, for the caller to judge). On an I/O error nothing is returned
 * and the connection is dropped. */
int tock_redis_pipeline(struct tock_redis *b,
                        const struct tock_redis_args *cmds, size_t n,
                        redisReply **out, const char *what,
                        struct tock_error *err);

/* tock_redis_reply_error maps an error reply `text` of the command `what`
 * to a TOCK_E* code and a one-line message that names the cause and the
 * fix (WRONGPASS, NOAUTH, NOPERM, LOADING, READONLY, BUSY, MISCONF, OOM,
 * cluster redirections, unknown commands of old Redis versions). */
int tock_redis_reply_error(struct tock_redis *b, const char *text, size_t len,
                           const char *what, struct tock_error *err);

/* tock_redis_load_library runs FUNCTION LOAD REPLACE with the embedded
 * library. */
int tock_redis_load_library(struct tock_redis *b, struct tock_error *err);

/* --------------------------------------------------------------- replies */

/* tock_redis_corrupt returns TOCK_ECORRUPT with a message saying what in a
 * reply was not as tock wrote it. */
int tock_redis_corrupt(const struct tock_redis *b, const char *what,
                       struct tock_error *err);

/* tock_redis_elem returns element i of array reply r, or NULL. */
const redisReply *tock_redis_elem(const redisReply *r, size_t i);

/* tock_redis_i64 reads an integer reply, or a string/status reply holding
 * a decimal integer, into *out. Returns false when it is neither. */
bool tock_redis_i64(const redisReply *r, int64_t *out);

/* tock_redis_is_str: a string (or status) reply. */
bool tock_redis_is_str(const redisReply *r);

/* tock_redis_streq: a string reply equal to `s`. */
bool tock_redis_streq(const redisReply *r, const char *s);

/* tock_redis_dup returns a new NUL-terminated copy of string reply r (NULL
 * reply or nil: *out = NULL) in *out, freed with tock_free. */
int tock_redis_dup(const redisReply *r, char **out, struct tock_error *err);

/* tock_redis_copy copies string reply r into buf (cut to cap - 1 bytes);
 * "" when r is not a string. */
void tock_redis_copy(const redisReply *r, char *buf, size_t cap);

/* tock_redis_field finds `name` in a flat field/value array reply
 * (HGETALL, a stream entry's fields) and returns the value, or NULL. */
const redisReply *tock_redis_field(const redisReply *fields, const char *name);

/* tock_redis_sid_pack turns a stream id "<ms>-<seq>" into the int64 id of
 * store.h; false when the text is not a stream id or does not fit. */
bool tock_redis_sid_pack(const char *sid, size_t len, int64_t *out);

/* tock_redis_sid_format writes the stream id of packed id `id` into buf
 * (cap >= 48). */
void tock_redis_sid_format(int64_t id, char *buf, size_t cap);

/* tock_redis_job_fields reads a job hash (flat HGETALL reply) into *out
 * (overwritten; the caller clears it). lease_until_ms is left 0. */
int tock_redis_job_fields(const struct tock_redis *b, const redisReply *h,
                          struct tock_job_state *out, struct tock_error *err);

/* tock_redis_random returns a pseudo-random 64-bit number (jitter only). */
uint64_t tock_redis_random(struct tock_redis *b);

/* --------------------------------------------------------- operations */

/* The ops of store.h, one group per file. Contracts: store.h. */
int tock_redis_open(struct tock_store *s, const char *url,
                    struct tock_error *err);
void tock_redis_close(struct tock_store *s);

int tock_redis_job_put(struct tock_store *s, const struct tock_job *job,
                       int64_t next_fire_ms, enum tock_put_mode mode,
                       int64_t expect_version, enum tock_put_outcome *outcome,
                       int64_t *version, struct tock_error *err);
int tock_redis_job_get(struct tock_store *s, const char *id,
                       struct tock_job_state *out, struct tock_error *err);
int tock_redis_job_list(struct tock_store *s, struct tock_job_state **out,
                        size_t *n, struct tock_error *err);
int tock_redis_job_remove(struct tock_store *s, const char *id,
                          struct tock_error *err);
int tock_redis_job_set_paused(struct tock_store *s, const char *id,
                              bool paused, int64_t next_fire_ms,
                              struct tock_error *err);
int tock_redis_job_run_now(struct tock_store *s, const char *id,
                           tock_task_builder_fn build, void *ctx,
                           int64_t *sched_ms, struct tock_error *err);

int tock_redis_claim(struct tock_store *s, const char *node_nonce,
                     size_t limit, int64_t lease_ms,
                     struct tock_claim_batch *out, struct tock_error *err);
int tock_redis_commit(struct tock_store *s, const struct tock_commit *commits,
                      size_t n, struct tock_commit_result *results,
                      struct tock_error *err);
int tock_redis_release(struct tock_store *s, const struct tock_claimed *items,
                       size_t n, struct tock_error *err);

int tock_redis_task_take(struct tock_store *s, const char *const *queues,
                         size_t nqueues, const char *consumer, size_t max,
                         int64_t lease_ms, struct tock_task_lease **out,
                         size_t *n, struct tock_error *err);
int tock_redis_task_touch(struct tock_store *s, const char *consumer,
                          const int64_t *ids, const int32_t *deliveries,
                          size_t n, int64_t lease_ms, bool *ok,
                          struct tock_error *err);
int tock_redis_task_report(struct tock_store *s, const char *consumer,
                           const struct tock_report *reports, size_t n,
                           enum tock_report_status *status,
                           struct tock_error *err);
int tock_redis_task_reclaim(struct tock_store *s, size_t limit,
                            size_t *n_redelivered, size_t *n_dead,
                            struct tock_error *err);
int tock_redis_task_release(struct tock_store *s, const char *consumer,
                            const int64_t *ids, size_t n,
                            struct tock_error *err);

int tock_redis_runs(struct tock_store *s, const char *job_id, size_t limit,
                    struct tock_run **out, size_t *n, struct tock_error *err);
int tock_redis_events(struct tock_store *s, int64_t after_id, size_t limit,
                      struct tock_event **out, int64_t **ids, size_t *n,
                      struct tock_error *err);

int tock_redis_watch_open(struct tock_store *s, int *fd,
                          struct tock_error *err);
int tock_redis_watch_drain(struct tock_store *s, size_t *n,
                           struct tock_error *err);
void tock_redis_watch_close(struct tock_store *s);

#endif /* TOCK_STORE_REDIS_H */
