/* redis_conn.c: talking to Redis: connections (with timeouts: hiredis'
 * synchronous API with SO_RCVTIMEO/SO_SNDTIMEO through redisSetTimeout, so
 * a silent Redis makes a call fail with TOCK_ETIMEDOUT instead of hanging),
 * the handshake, commands, function calls, pipelines, the mapping of every
 * refusal Redis can answer to one line that names the fix, reading
 * replies, and the watch's subscriber connection.
 *
 * Reconnection. Any I/O error or timeout drops the connection: a reply
 * that arrives late must never be read as the answer to a later command.
 * The next call connects again. A call whose reply was lost may still have
 * been applied (a commit that timed out): every write of the store is
 * idempotent or fenced for exactly that reason (store.h, commit step 2).
 */
#include "store/redis.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/escape.h"

/* ------------------------------------------------------------ arguments */

void tock_redis_args_init(struct tock_redis_args *a)
{
    memset(a, 0, sizeof *a);
}

void tock_redis_args_clear(struct tock_redis_args *a)
{
    for (size_t i = 0; i < a->nowned; i++)
        tock_free(a->owned[i]);
    tock_free(a->owned);
    tock_free(a->v);
    tock_free(a->len);
    memset(a, 0, sizeof *a);
}

static bool args_room(struct tock_redis_args *a)
{
    size_t ncap;
    const char **v;
    size_t *len;

    if (a->oom)
        return false;
    if (a->n < a->cap)
        return true;
    ncap = a->cap ? a->cap * 2 : 32;
    v = tock_realloc(a->v, ncap * sizeof *v);
    if (v != NULL)
        a->v = v;
    len = v ? tock_realloc(a->len, ncap * sizeof *len) : NULL;
    if (len == NULL) {
        a->oom = true;
        return false;
    }
    a->len = len;
    a->cap = ncap;
    return true;
}

void tock_redis_args_bin(struct tock_redis_args *a, const void *p, size_t len)
{
    if (!args_room(a))
        return;
    a->v[a->n] = p ? (const char *)p : "";
    a->len[a->n++] = p ? len : 0;
}

void tock_redis_args_str(struct tock_redis_args *a, const char *s)
{
    tock_redis_args_bin(a, s ? s : "", s ? strlen(s) : 0);
}

/* args_own adds `s` (a tock_malloc'd string the vector now owns). */
static void args_own(struct tock_redis_args *a, char *s)
{
    char **o;

    if (s == NULL || a->oom) {
        a->oom = true;
        tock_free(s);
        return;
    }
    if (a->nowned == a->owned_cap) {
        size_t ncap = a->owned_cap ? a->owned_cap * 2 : 16;
        o = tock_realloc(a->owned, ncap * sizeof *o);
        if (o == NULL) {
            a->oom = true;
            tock_free(s);
            return;
        }
        a->owned = o;
        a->owned_cap = ncap;
    }
    a->owned[a->nowned++] = s;
    tock_redis_args_str(a, s);
}

void tock_redis_args_i64(struct tock_redis_args *a, int64_t v)
{
    char buf[24];

    snprintf(buf, sizeof buf, "%lld", (long long)v);
    args_own(a, tock_strdup(buf));
}

void tock_redis_args_sid(struct tock_redis_args *a, int64_t id)
{
    char buf[48];

    tock_redis_sid_format(id, buf, sizeof buf);
    args_own(a, tock_strdup(buf));
}

void tock_redis_args_key(struct tock_redis_args *a, const struct tock_redis *b,
                         const char *part1, const char *part2)
{
    size_t n = strlen(b->prefix) + strlen(part1) + (part2 ? strlen(part2) : 0);
    char *k = tock_malloc(n + 1);

    if (k != NULL)
        snprintf(k, n + 1, "%s%s%s", b->prefix, part1, part2 ? part2 : "");
    args_own(a, k);
}

/* ----------------------------------------------------------- error lines */

/* escaped copies text[0..len) onto one printable line. */
static void escaped(char *buf, size_t cap, const char *text, size_t len)
{
    tock_escape_line(buf, cap, text, len);
}

static const char *user_of(const struct tock_redis *b)
{
    return b->url.user[0] ? b->url.user : "default";
}

/* noperm explains a NOPERM refusal: which command (or keys) and the
 * ACL SETUSER line that grants it. Redis names a refused command as
 * "... no permissions to run the 'xadd' command". */
static int noperm(struct tock_redis *b, const char *text, const char *what,
                  struct tock_error *err)
{
    const char *run = strstr(text, "run the '");
    char acl[48] = "", shown[48] = "";
    size_t i = 0;

    for (run = run ? run + 9 : NULL; run && run[i] != '\0' && run[i] != '\'' &&
                                     i + 1 < sizeof acl;
         i++) {
        acl[i] = run[i];
        shown[i] = run[i] == '|' ? ' '
                   : (run[i] >= 'a' && run[i] <= 'z') ? (char)(run[i] - 32)
                                                      : run[i];
    }
    acl[i] = shown[i] = '\0';
    if (acl[0] != '\0')
        return tock_error_set(err, TOCK_EAUTH,
                              "Redis user '%s' may not run %s on %s* "
                              "(NOPERM, during %s); grant it: ACL SETUSER %s "
                              "+%s ~%s*", user_of(b), shown, b->prefix, what,
                              user_of(b), acl, b->prefix);
    return tock_error_set(err, TOCK_EAUTH,
                          "Redis user '%s' may not access the keys %s* "
                          "(NOPERM, during %s); grant them: ACL SETUSER %s "
                          "~%s* &%s*", user_of(b), b->prefix, what,
                          user_of(b), b->prefix, b->prefix);
}

/* script_command names the command at line `line` of the library (or
 * just above it, where an argument table is built): the command an ACL
 * refused inside a function, which Redis 7.0 reports only as
 * "... can't run this command ... @user_function:<line>". */
static bool script_command(long line, char *cmd, size_t cap)
{
    const char *p = tock_redis_lua, *ring[8] = {NULL};
    long n = 1;

    /* ring[n & 7] is the start of line n, for the 8 lines up to `line`. */
    ring[1] = p;
    for (; *p != '\0' && n < line; p++)
        if (*p == '\n')
            ring[++n & 7] = p + 1;
    for (long i = n; i > n - 8 && i >= 1; i--) {
        const char *q = ring[i & 7], *eol = q ? strchr(q, '\n') : NULL;
        for (; q != NULL && *q != '\0' && (eol == NULL || q < eol); q++) {
            size_t len = 0;
            if (*q != '\'')
                continue;
            while (q[1 + len] >= 'A' && q[1 + len] <= 'Z')
                len++;
            if (len >= 3 && q[1 + len] == '\'' && len < cap) {
                memcpy(cmd, q + 1, len);
                cmd[len] = '\0';
                return true;
            }
        }
    }
    return false;
}

/* script_noperm explains an ACL refusal inside a function. */
static int script_noperm(struct tock_redis *b, const char *text,
                         const char *what, struct tock_error *err)
{
    const char *at = strstr(text, "@user_function:");
    char cmd[32], acl[32];

    if (strstr(text, "can't access") != NULL || at == NULL ||
        !script_command(atol(at + 15), cmd, sizeof cmd))
        return noperm(b, "NOPERM keys", what, err);
    for (size_t i = 0; i < sizeof acl; i++)
        acl[i] = (char)(cmd[i] >= 'A' && cmd[i] <= 'Z' ? cmd[i] + 32 : cmd[i]);
    return tock_error_set(err, TOCK_EAUTH,
                          "Redis user '%s' may not run %s on %s* inside the "
                          "tock functions (NOPERM, during %s); grant it: ACL "
                          "SETUSER %s +%s ~%s*", user_of(b), cmd, b->prefix,
                          what, user_of(b), acl, b->prefix);
}

#define CLUSTER_LINE                                                           \
    "is a cluster node (MOVED/ASK/CROSSSLOT); tock talks to one primary: "     \
    "point TOCK_STORE at a standalone Redis"

static bool starts(const char *text, const char *word)
{
    size_t n = strlen(word);

    return strncmp(text, word, n) == 0 &&
           (text[n] == ' ' || text[n] == '\0');
}

/* refresh_maxmemory reads maxmemory_human for the OOM line (best effort:
 * INFO may itself be refused). */
static void refresh_maxmemory(struct tock_redis *b)
{
    redisReply *r;
    const char *p;

    if (b->c == NULL)
        return;
    r = redisCommand(b->c, "INFO memory");
    if (r != NULL && r->type == REDIS_REPLY_STRING &&
        (p = strstr(r->str, "maxmemory_human:")) != NULL)
        sscanf(p + 16, "%31[^\r\n]", b->maxmemory);
    if (r == NULL)
        tock_redis_drop(b);
    freeReplyObject(r);
}

/* Refusals whose line needs only the server's URL: the first word of the
 * reply, the code, and what follows "Redis at <URL> " in the line. */
static const struct {
    const char *word;
    int code;
    const char *rest;
} plain_refusals[] = {
    {"NOAUTH", TOCK_EAUTH,
     "requires a password (NOAUTH); set TOCK_REDIS_PASSWORD, "
     "TOCK_REDIS_PASSWORD_FILE or redis://USER:PASSWORD@host"},
    {"DENIED", TOCK_EAUTH,
     "refused the connection (DENIED: protected mode); give "
     "Redis a password or an ACL user for tock, or bind it to loopback"},
    {"LOADING", TOCK_EAGAIN,
     "is loading its data set (LOADING); try again when it has "
     "finished"},
    {"READONLY", TOCK_EIO,
     "is a read-only replica (READONLY); point TOCK_STORE at "
     "the primary"},
    {"BUSY", TOCK_EBUSY,
     "is busy running a script (BUSY); wait for it, or end it "
     "with FUNCTION KILL / SCRIPT KILL"},
    {"MISCONF", TOCK_ENOSPC,
     "refuses writes because it cannot persist (MISCONF: its "
     "disk is full or unwritable); fix its disk"},
    {"MOVED", TOCK_EINVAL, CLUSTER_LINE},
    {"ASK", TOCK_EINVAL, CLUSTER_LINE},
    {"CROSSSLOT", TOCK_EINVAL, CLUSTER_LINE},
    {"CLUSTERDOWN", TOCK_EINVAL, CLUSTER_LINE},
};

static int wrongpass(struct tock_redis *b, struct tock_error *err)
{
    return tock_error_set(err, TOCK_EAUTH,
                          "Redis at %s refused the password of user '%s' "
                          "(WRONGPASS); check the password in %s",
                          b->url.shown, user_of(b),
                          b->url.pass_from ? b->url.pass_from
                                           : "TOCK_REDIS_PASSWORD");
}

static int oom(struct tock_redis *b, const char *what, struct tock_error *err)
{
    refresh_maxmemory(b);
    return tock_error_set(err, TOCK_ENOSPC,
                          "Redis out of memory (maxmemory %s); raise it or "
                          "trim history (at %s, during %s)",
                          b->maxmemory[0] ? b->maxmemory : "?", b->url.shown,
                          what);
}

static bool old_redis(const char *text)
{
    return strstr(text, "unknown command") != NULL &&
           (strstr(text, "FCALL") || strstr(text, "fcall") ||
            strstr(text, "FUNCTION") || strstr(text, "function"));
}

int tock_redis_reply_error(struct tock_redis *b, const char *text, size_t len,
                           const char *what, struct tock_error *err)
{
    char line[200];

    for (size_t i = 0; i < sizeof plain_refusals / sizeof plain_refusals[0];
         i++)
        if (starts(text, plain_refusals[i].word))
            return tock_error_set(err, plain_refusals[i].code,
                                  "Redis at %s %s", b->url.shown,
                                  plain_refusals[i].rest);
    if (starts(text, "WRONGPASS") || strstr(text, "invalid password") != NULL)
        return wrongpass(b, err);
    if (starts(text, "NOPERM"))
        return noperm(b, text, what, err);
    if (strstr(text, "The user executing the script can't") != NULL)
        return script_noperm(b, text, what, err);
    if (starts(text, "OOM"))
        return oom(b, what, err);
    if (old_redis(text))
        return tock_error_set(err, TOCK_EVERSION,
                              "Redis at %s is older than 7.0 (no FCALL); tock "
                              "needs Redis >= 7.0 or Valkey >= 7.2",
                              b->url.shown);
    if (starts(text, "WRONGTYPE"))
        return tock_error_set(err, TOCK_ECORRUPT,
                              "a key under %s has the wrong type (WRONGTYPE, "
                              "during %s): something other than tock writes "
                              "there", b->prefix, what);
    escaped(line, sizeof line, text, len);
    return tock_error_set(err, TOCK_EIO, "Redis at %s: %s failed: %s",
                          b->url.shown, what, line);
}

/* io_error maps a failed read or write on b->c, then drops it. */
static int io_error(struct tock_redis *b, redisContext *c, const char *what,
                    struct tock_error *err)
{
    const char *at = b->url.shown;
    int rc;

    if (c->err == REDIS_ERR_IO &&
        (strstr(c->errstr, "temporarily unavailable") != NULL ||
         strstr(c->errstr, "timed out") != NULL))
        rc = tock_error_set(err, TOCK_ETIMEDOUT,
                            "Redis at %s did not answer %s within %lld ms (a "
                            "stalled server or a cut network); the store "
                            "reconnects on its next call", at, what,
                            (long long)b->timeout_ms);
    else if (c->err == REDIS_ERR_EOF)
        rc = tock_error_set(err, TOCK_ECONN,
                            "Redis at %s closed the connection during %s; "
                            "the store reconnects on its next call", at, what);
    else
        rc = tock_error_set(err, TOCK_ECONN, "Redis at %s: %s: %s", at, what,
                            c->errstr);
    if (c == b->c)
        tock_redis_drop(b);
    return rc;
}

/* connect_error maps a failed connect. */
static int connect_error(struct tock_redis *b, const redisContext *c,
                         struct tock_error *err)
{
    const char *at = b->url.shown;

    if (strstr(c->errstr, "timed out") != NULL)
        return tock_error_set(err, TOCK_ETIMEDOUT,
                              "cannot connect to Redis at %s within %lld ms "
                              "(connect timed out: a host that drops "
                              "packets, or a wrong address)", at,
                              (long long)b->timeout_ms);
    if (strstr(c->errstr, "refused") != NULL)
        return tock_error_set(err, TOCK_ECONN,
                              "Redis at %s refused the connection; is "
                              "redis-server running and listening there?", at);
    if (c->err == REDIS_ERR_OTHER && b->url.path[0] == '\0')
        return tock_error_set(err, TOCK_ECONN,
                              "cannot resolve the Redis host '%.80s' (%s); "
                              "check the host name in TOCK_STORE",
                              b->url.host, c->errstr);
    return tock_error_set(err, TOCK_ECONN, "cannot connect to Redis at %s: %s",
                          at, c->errstr);
}

/* ------------------------------------------------------------ connecting */

static struct timeval tv_of(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    return tv;
}

/* ctx_command runs one command on context c, mapping errors. */
static int ctx_command(struct tock_redis *b, redisContext *c,
                       const struct tock_redis_args *a, const char *what,
                       redisReply **out, struct tock_error *err)
{
    redisReply *r;
    int rc;

    *out = NULL;
    if (a->oom)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    r = redisCommandArgv(c, (int)a->n, a->v, a->len);
    if (r == NULL)
        return io_error(b, c, what, err);
    if (r->type == REDIS_REPLY_ERROR) {
        rc = tock_redis_reply_error(b, r->str, r->len, what, err);
        freeReplyObject(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* simple runs a command of string arguments and drops the reply. */
static int simple(struct tock_redis *b, redisContext *c, const char *what,
                  const char *const *argv, size_t argc, struct tock_error *err)
{
    struct tock_redis_args a;
    redisReply *r = NULL;
    int rc;

    tock_redis_args_init(&a);
    for (size_t i = 0; i < argc; i++)
        tock_redis_args_str(&a, argv[i]);
    rc = ctx_command(b, c, &a, what, &r, err);
    freeReplyObject(r);
    tock_redis_args_clear(&a);
    return rc;
}

/* handshake authenticates, selects the database and names the client. */
static int handshake(struct tock_redis *b, redisContext *c,
                     struct tock_error *err)
{
    char db[16];
    const char *auth2[] = {"AUTH", b->url.pass};
    const char *auth3[] = {"AUTH", b->url.user, b->url.pass};
    const char *sel[] = {"SELECT", db};
    const char *name[] = {"CLIENT", "SETNAME", b->client_name};
    int rc = 0;

    snprintf(db, sizeof db, "%d", b->url.db);
    if (b->url.has_pass)
        rc = b->url.user[0] ? simple(b, c, "AUTH", auth3, 3, err)
                            : simple(b, c, "AUTH", auth2, 2, err);
    if (rc == 0 && b->url.db != 0)
        rc = simple(b, c, "SELECT", sel, 2, err);
    if (rc == 0)
        rc = simple(b, c, "CLIENT SETNAME", name, 3, err);
    return rc;
}

/* open_ctx opens a new authenticated connection in *out. */
static int open_ctx(struct tock_redis *b, redisContext **out,
                    struct tock_error *err)
{
    struct timeval tv = tv_of(b->timeout_ms);
    redisContext *c;
    int rc;

    *out = NULL;
    c = b->url.path[0] ? redisConnectUnixWithTimeout(b->url.path, tv)
                       : redisConnectWithTimeout(b->url.host, b->url.port, tv);
    if (c == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory connecting");
    if (c->err) {
        rc = connect_error(b, c, err);
        redisFree(c);
        return rc;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        rc = tock_error_set(err, TOCK_ECONN, "cannot set a timeout on the "
                            "connection to %s: %s", b->url.shown, c->errstr);
        redisFree(c);
        return rc;
    }
    if (!b->url.path[0])
        redisEnableKeepAlive(c);
    rc = handshake(b, c, err);
    if (rc < 0 || c->err) {
        redisFree(c);
        return rc < 0 ? rc : tock_error_set(err, TOCK_ECONN, "lost %s",
                                            b->url.shown);
    }
    *out = c;
    return 0;
}

/* stale_conn: an idle connection must have nothing to read. If it does,
 * the server closed it (a restart, CLIENT KILL, a timeout) or sent
 * something unasked: either way it cannot carry the next command. */
static bool stale_conn(const redisContext *c)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

    return poll(&pfd, 1, 0) != 0;
}

int tock_redis_connect(struct tock_redis *b, struct tock_error *err)
{
    if (b->c != NULL && stale_conn(b->c))
        tock_redis_drop(b);
    if (b->c != NULL)
        return 0;
    return open_ctx(b, &b->c, err);
}

void tock_redis_drop(struct tock_redis *b)
{
    if (b->c != NULL) {
        redisFree(b->c);
        b->c = NULL;
    }
}

/* ------------------------------------------------------------- commands */

int tock_redis_command(struct tock_redis *b, const struct tock_redis_args *a,
                       const char *what, redisReply **out,
                       struct tock_error *err)
{
    int rc = tock_redis_connect(b, err);

    *out = NULL;
    if (rc < 0)
        return rc;
    return ctx_command(b, b->c, a, what, out, err);
}

int tock_redis_load_library(struct tock_redis *b, struct tock_error *err)
{
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", tock_redis_lua};
    int rc = tock_redis_connect(b, err);

    return rc < 0 ? rc : simple(b, b->c, "FUNCTION LOAD", argv, 4, err);
}

/* fcall_args builds FCALL <fn> 1 <meta> <bounds> <a...> into *f. */
static void fcall_args(const struct tock_redis *b, const char *fn,
                       const struct tock_redis_args *a,
                       struct tock_redis_args *f)
{
    char name[64];

    snprintf(name, sizeof name, TOCK_REDIS_FN_PREFIX "%s", fn);
    tock_redis_args_init(f);
    tock_redis_args_str(f, "FCALL");
    args_own(f, tock_strdup(name));
    tock_redis_args_str(f, "1");
    tock_redis_args_str(f, b->meta);
    tock_redis_args_i64(f, (int64_t)b->events_max);
    tock_redis_args_i64(f, (int64_t)b->runs_max);
    tock_redis_args_i64(f, b->occ_ttl_ms);
    for (size_t i = 0; i < a->n; i++)
        tock_redis_args_bin(f, a->v[i], a->len[i]);
    f->oom = f->oom || a->oom;
}

int tock_redis_fcall(struct tock_redis *b, const char *fn,
                     const struct tock_redis_args *a, redisReply **out,
                     struct tock_error *err)
{
    struct tock_redis_args f;
    redisReply *r = NULL;
    char what[64];
    int rc = tock_redis_connect(b, err);

    *out = NULL;
    if (rc < 0)
        return rc;
    snprintf(what, sizeof what, "FCALL %s", fn);
    fcall_args(b, fn, a, &f);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (f.oom) {
            rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
            break;
        }
        r = redisCommandArgv(b->c, (int)f.n, f.v, f.len);
        if (r == NULL) {
            rc = io_error(b, b->c, what, err);
            break;
        }
        if (r->type != REDIS_REPLY_ERROR) {
            *out = r;
            rc = 0;
            break;
        }
        /* A Redis that lost its data also lost the library: load it. */
        if (attempt == 0 && strstr(r->str, "Function not found") != NULL) {
            freeReplyObject(r);
            if ((rc = tock_redis_load_library(b, err)) < 0)
                break;
            continue;
        }
        rc = tock_redis_reply_error(b, r->str, r->len, what, err);
        freeReplyObject(r);
        break;
    }
    tock_redis_args_clear(&f);
    return rc;
}

int tock_redis_pipeline(struct tock_redis *b,
                        const struct tock_redis_args *cmds, size_t n,
                        redisReply **out, const char *what,
                        struct tock_error *err)
{
    size_t got = 0;
    int rc = tock_redis_connect(b, err);

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (cmds[i].oom)
            return tock_error_set(err, TOCK_ENOMEM, "out of memory");
        if (redisAppendCommandArgv(b->c, (int)cmds[i].n, cmds[i].v,
                                   cmds[i].len) != REDIS_OK)
            return io_error(b, b->c, what, err);
    }
    for (got = 0; got < n; got++) {
        void *r = NULL;
        if (redisGetReply(b->c, &r) != REDIS_OK || r == NULL) {
            rc = io_error(b, b->c, what, err);
            break;
        }
        out[got] = r;
    }
    if (rc < 0)
        for (size_t i = 0; i < got; i++) {
            freeReplyObject(out[i]);
            out[i] = NULL;
        }
    return rc;
}

/* --------------------------------------------------------------- replies */

int tock_redis_corrupt(const struct tock_redis *b, const char *what,
                       struct tock_error *err)
{
    return tock_error_set(err, TOCK_ECORRUPT,
                          "Redis at %s: %s is not as tock wrote it (keys "
                          "%s*); was the library or the data changed by "
                          "hand?", b->url.shown, what, b->prefix);
}

const redisReply *tock_redis_elem(const redisReply *r, size_t i)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return NULL;
    return r->element[i];
}

bool tock_redis_is_str(const redisReply *r)
{
    return r != NULL &&
           (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

bool tock_redis_streq(const redisReply *r, const char *s)
{
    return tock_redis_is_str(r) && r->len == strlen(s) &&
           memcmp(r->str, s, r->len) == 0;
}

bool tock_redis_i64(const redisReply *r, int64_t *out)
{
    char buf[24];
    char *end;
    long long v;

    if (r == NULL)
        return false;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return true;
    }
    if (!tock_redis_is_str(r) || r->len == 0 || r->len >= sizeof buf)
        return false;
    memcpy(buf, r->str, r->len);
    buf[r->len] = '\0';
    errno = 0;
    v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

int tock_redis_dup(const redisReply *r, char **out, struct tock_error *err)
{
    *out = NULL;
    if (!tock_redis_is_str(r))
        return 0;
    *out = tock_strndup(r->str, r->len);
    if (*out == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory reading Redis");
    return 0;
}

void tock_redis_copy(const redisReply *r, char *buf, size_t cap)
{
    size_t n = 0;

    if (tock_redis_is_str(r)) {
        n = r->len < cap - 1 ? r->len : cap - 1;
        memcpy(buf, r->str, n);
    }
    buf[n] = '\0';
}

const redisReply *tock_redis_field(const redisReply *fields, const char *name)
{
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (tock_redis_streq(fields->element[i], name))
            return fields->element[i + 1];
    return NULL;
}

bool tock_redis_sid_pack(const char *sid, size_t len, int64_t *out)
{
    uint64_t ms = 0, seq = 0;
    size_t i = 0;

    for (; i < len && sid[i] >= '0' && sid[i] <= '9'; i++) {
        ms = ms * 10 + (uint64_t)(sid[i] - '0');
        if (ms >= (1ULL << (63 - TOCK_REDIS_SEQ_BITS)))
            return false;
    }
    if (i == 0 || i >= len || sid[i] != '-')
        return false;
    for (size_t k = ++i; i < len; i++) {
        if (sid[i] < '0' || sid[i] > '9' || i - k > 8)
            return false;
        seq = seq * 10 + (uint64_t)(sid[i] - '0');
    }
    if (sid[len - 1] == '-' || seq >= (1ULL << TOCK_REDIS_SEQ_BITS))
        return false;
    *out = (int64_t)((ms << TOCK_REDIS_SEQ_BITS) | seq);
    return true;
}

void tock_redis_sid_format(int64_t id, char *buf, size_t cap)
{
    uint64_t u = (uint64_t)id;

    snprintf(buf, cap, "%llu-%llu",
             (unsigned long long)(u >> TOCK_REDIS_SEQ_BITS),
             (unsigned long long)(u & ((1ULL << TOCK_REDIS_SEQ_BITS) - 1)));
}

uint64_t tock_redis_random(struct tock_redis *b)
{
    uint64_t x = b->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ----------------------------------------------------------------- watch */

int tock_redis_watch_open(struct tock_store *s, int *fd,
                          struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    char channel[TOCK_REDIS_NS_MAX + 24];
    const char *argv[] = {"SSUBSCRIBE", channel};
    redisReply *r = NULL;
    redisContext *c = NULL;
    int rc;

    tock_redis_watch_close(s);
    snprintf(channel, sizeof channel, "%swake", b->prefix);
    if ((rc = open_ctx(b, &c, err)) < 0)
        return rc;
    r = redisCommandArgv(c, 2, argv, NULL);
    if (r == NULL)
        rc = io_error(b, c, "SSUBSCRIBE", err);
    else if (r->type == REDIS_REPLY_ERROR)
        rc = tock_redis_reply_error(b, r->str, r->len, "SSUBSCRIBE", err);
    freeReplyObject(r);
    if (rc < 0) {
        redisFree(c);
        return rc;
    }
    b->watch.c = c;
    *fd = c->fd;
    return 0;
}

/* is_message: a pushed ["smessage", channel, payload]. */
static bool is_message(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
           (tock_redis_streq(r->element[0], "smessage") ||
            tock_redis_streq(r->element[0], "message"));
}

int tock_redis_watch_drain(struct tock_store *s, size_t *n,
                           struct tock_error *err)
{
    struct tock_redis *b = s->backend;
    redisContext *c = b->watch.c;
    struct pollfd pfd;
    void *r = NULL;

    if (c == NULL)
        return tock_error_set(err, TOCK_ECONN, "the watch is not open");
    pfd.fd = c->fd;
    pfd.events = POLLIN;
    /* Read only what is already there: a poll of 0 ms before each read
     * keeps the blocking socket from ever blocking. */
    while (poll(&pfd, 1, 0) == 1) {
        if (redisBufferRead(c) != REDIS_OK || (pfd.revents & POLLHUP)) {
            tock_redis_watch_close(s);
            return tock_error_set(err, TOCK_ECONN,
                                  "the watch connection to %s broke; reopen "
                                  "it and claim once", b->url.shown);
        }
    }
    while (redisGetReplyFromReader(c, &r) == REDIS_OK && r != NULL) {
        if (is_message(r))
            (*n)++;
        freeReplyObject(r);
        r = NULL;
    }
    return 0;
}

void tock_redis_watch_close(struct tock_store *s)
{
    struct tock_redis *b = s->backend;

    if (b != NULL && b->watch.c != NULL) {
        redisFree(b->watch.c);
        b->watch.c = NULL;
    }
}
