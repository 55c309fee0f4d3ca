/* test_store_redis_fx.h: what the Redis store tests share: one real
 * redis-server per test group (tests/support/redis_fixture.h), flushed
 * before each test, a store opened on it, and raw Redis reads on a
 * connection of the test's own. The job, task and commit builders are the
 * SQLite store tests' (test_store_fixture.h), so both backends are driven
 * the same way.
 *
 * Redis' clock cannot be faked from here: the tests read the store's now
 * and use short leases with real sleeps where time has to pass.
 */
#ifndef TOCK_TEST_STORE_REDIS_FX_H
#define TOCK_TEST_STORE_REDIS_FX_H

#include <stdarg.h>
#include <time.h>

#include "redis_fixture.h"
#include "store/redis.h"
#include "test_store_fixture.h"

#define NS "tock:{default}:"

struct rfx {
    struct tock_redis_fixture *fx; /* shared by the group */
    redisContext *raw;             /* the test's own connection */
    struct tock_store *s;
    struct tock_error err;
    int64_t t0;                    /* the store's now at setup */
};

static inline void rfx_sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static inline int64_t rfx_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rfx_reply runs a raw command (hiredis format) and returns its reply,
 * which the caller frees. */
static inline redisReply *rfx_reply(struct rfx *f, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(f->raw, fmt, ap);
    va_end(ap);
    if (r == NULL)
        fail_msg("raw Redis command failed: %s", f->raw->errstr);
    return r;
}

/* rfx_int runs a raw command whose reply is an integer or a decimal
 * string (-1 for nil). */
static inline int64_t rfx_int(struct rfx *f, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    int64_t v = -1;

    va_start(ap, fmt);
    r = redisvCommand(f->raw, fmt, ap);
    va_end(ap);
    if (r == NULL)
        fail_msg("raw Redis command failed: %s", f->raw->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("raw Redis command %s: %s", fmt, r->str);
    if (r->type != REDIS_REPLY_NIL && !tock_redis_i64(r, &v))
        fail_msg("raw Redis command %s: not an integer", fmt);
    freeReplyObject(r);
    return v;
}

/* rfx_str copies a string reply into buf ("" for nil). */
static inline const char *rfx_str(struct rfx *f, char *buf, size_t cap,
                                  const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(f->raw, fmt, ap);
    va_end(ap);
    if (r == NULL)
        fail_msg("raw Redis command failed: %s", f->raw->errstr);
    tock_redis_copy(r, buf, cap);
    freeReplyObject(r);
    return buf;
}

/* rfx_events counts events of `type` in the events stream. */
static inline int64_t rfx_events(struct rfx *f, const char *type)
{
    redisReply *r = rfx_reply(f, "XRANGE " NS "events - +");
    int64_t n = 0;

    for (size_t i = 0; i < r->elements; i++)
        if (tock_redis_streq(tock_redis_field(r->element[i]->element[1],
                                              "type"),
                             type))
            n++;
    freeReplyObject(r);
    return n;
}

static inline void rfx_open(struct rfx *f, const struct tock_store_tuning *t)
{
    assert_tock_ok(tock_store_open_tuned(tock_redis_fixture_url(f->fx), t,
                                         NULL, &f->s, &f->err),
                   &f->err);
}

/* rfx_group_setup starts the group's redis-server (state: the fixture). */
static inline int rfx_group_setup(void **state)
{
    struct tock_redis_fixture *fx = NULL;
    struct tock_error err = {0};

    tock_redis_fixture_require();
    if (tock_redis_fixture_start(NULL, &fx, &err) != 0) {
        fprintf(stderr, "redis fixture: %s\n", err.msg);
        return -1;
    }
    *state = fx;
    return 0;
}

static inline int rfx_group_teardown(void **state)
{
    tock_redis_fixture_free(*state);
    return 0;
}

/* rfx_setup flushes the group's server and opens a store on it. */
static inline int rfx_setup(void **state)
{
    struct rfx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->fx = *state;
    f->raw = tock_redis_fixture_connect(f->fx, 5000, &f->err);
    assert_non_null(f->raw);
    freeReplyObject(rfx_reply(f, "FLUSHALL"));
    freeReplyObject(rfx_reply(f, "FUNCTION FLUSH"));
    rfx_open(f, NULL);
    assert_tock_ok(tock_store_now(f->s, &f->t0, &f->err), &f->err);
    *state = f;
    return 0;
}

static inline int rfx_teardown(void **state)
{
    struct rfx *f = *state;

    *state = f->fx;
    tock_store_close(f->s);
    redisFree(f->raw);
    free(f);
    return 0;
}

/* rfx_add adds job `id` first due at `next` with `max_instances`. */
static inline void rfx_add(struct rfx *f, const char *id, int64_t next,
                           int max_instances)
{
    struct tock_job j;
    enum tock_put_outcome o;

    fx_job(&j, id);
    j.max_instances = max_instances;
    assert_tock_ok(tock_store_job_put(f->s, &j, next, TOCK_PUT_CREATE, 0, &o,
                                      NULL, &f->err),
                   &f->err);
    assert_int_equal(o, TOCK_PUT_ADDED);
    tock_job_clear(&j);
}

#endif /* TOCK_TEST_STORE_REDIS_FX_H */
