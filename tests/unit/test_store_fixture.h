/* test_store_fixture.h: what the SQLite store tests share: a store on a
 * fresh file in a temp directory with a fake clock, jobs, task bodies,
 * commits, and raw SQL counts on the same file.
 *
 * Included by tests/unit/test_store_*.c only (static inline so a test that
 * uses part of it does not warn).
 */
#ifndef TOCK_TEST_STORE_FIXTURE_H
#define TOCK_TEST_STORE_FIXTURE_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "support.h"

#define FX_T0 1700000000000LL /* the fake clock's start */

struct fx {
    char *dir;
    char path[512];
    char url[600];
    struct tock_store *s;
    int64_t clock; /* the fake host clock */
    struct tock_error err;
};

static inline int64_t fx_clock(void *ctx)
{
    return ((struct fx *)ctx)->clock;
}

/* fx_open opens fx->url with `tuning` and the fake clock. */
static inline void fx_open(struct fx *f, const struct tock_store_tuning *t)
{
    int rc = tock_store_open_tuned(f->url, t, NULL, &f->s, &f->err);

    assert_tock_ok(rc, &f->err);
    tock_sqlite_set_clock(f->s, fx_clock, f);
}

static inline struct fx *fx_new(const struct tock_store_tuning *t)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->dir = tock_test_tmpdir("store");
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/tock.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    f->clock = FX_T0;
    fx_open(f, t);
    return f;
}

static inline void fx_free(struct fx *f)
{
    tock_store_close(f->s);
    tock_test_rmtree(f->dir);
    free(f);
}

static inline int fx_setup(void **state)
{
    *state = fx_new(NULL);
    return 0;
}

static inline int fx_teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* fx_job fills *j with a valid interval job `id` (clear with
 * tock_job_clear). */
static inline void fx_job(struct tock_job *j, const char *id)
{
    assert_int_equal(tock_job_init_defaults(j), 0);
    j->id = tock_strdup(id);
    j->handler = tock_strdup("echo");
    j->trigger = tock_strdup("interval:1s");
}

/* fx_add adds job `id` first due at `next` with `max_instances`. */
static inline void fx_add(struct fx *f, const char *id, int64_t next,
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

/* fx_body encodes the task of occurrence (job, sched) as attempt 1; the
 * caller frees it with tock_free. */
static inline uint8_t *fx_body(const char *job, int64_t sched, size_t *len)
{
    char occ[TOCK_OCC_MAX];
    struct tock_task t = {0};
    struct tock_error err = {0};
    uint8_t *out = NULL;

    tock_occ_format(occ, sizeof occ, job, sched);
    t.proto_version = TOCK_PROTO_VERSION;
    t.occ = occ;
    t.job = (char *)job;
    t.handler = "echo";
    t.queue = "default";
    t.sched_ms = sched;
    t.fire_ms = sched;
    t.attempt = 1;
    t.max_deliveries = 3;
    assert_tock_ok(tock_proto_encode_task(&t, &out, len, &err), &err);
    return out;
}

/* fx_commit fills *c for claimed item `it`: `decision` at its sched_ms,
 * next = sched + period. The body (when firing) is *body, freed by the
 * caller. */
static inline void fx_commit(struct tock_commit *c,
                             const struct tock_claimed *it,
                             enum tock_decision decision, int64_t period,
                             uint8_t **body)
{
    size_t len = 0;

    memset(c, 0, sizeof *c);
    *body = decision == TOCK_DECIDE_FIRE
                ? fx_body(it->job.id, it->sched_ms, &len)
                : NULL;
    c->job_id = it->job.id;
    c->token = it->token;
    c->epoch = it->epoch;
    c->version = it->job.version;
    c->sched_ms = it->sched_ms;
    c->decision = decision;
    c->next_ms = period > 0 ? it->sched_ms + period : -1;
    c->misfire_grace_ms = -1;
    c->task = *body;
    c->task_len = len;
    c->node = "node-a";
}

/* fx_sql_int runs a one-value SQL query on the store file with a
 * connection of its own (read-only). */
static inline int64_t fx_sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("bad test SQL %s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* fx_expect requires `rc` == `code` and `text` in the message. */
static inline void fx_expect(int rc, const struct tock_error *err, int code,
                             const char *text)
{
    if (rc != code || strstr(err->msg, text) == NULL)
        fail_msg("expected %s containing \"%s\", got %s: %s",
                 tock_err_name(code), text, tock_err_name(rc), err->msg);
}

#endif /* TOCK_TEST_STORE_FIXTURE_H */
