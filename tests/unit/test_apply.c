/* test_apply.c: tock_apply against a real SQLite store with a fake clock:
 * the report, first fire times on the store's clock, idempotence, a
 * changed definition, a kept pause, prune, dry run, and a list with one
 * bad job that writes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/apply.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "support.h"

#define T0 1780000000000LL /* 2026-05-28T20:26:40Z */

struct ctx {
    char *dir;
    struct tock_store *s;
    int64_t clock;
};

static int64_t fake_clock(void *p)
{
    return ((struct ctx *)p)->clock;
}

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof *c);
    struct tock_error err = {0};
    char url[600];

    c->dir = tock_test_tmpdir("apply");
    snprintf(url, sizeof url, "sqlite:%s/tock.db", c->dir);
    if (tock_store_open(url, NULL, &c->s, &err) != 0)
        return -1;
    c->clock = T0;
    tock_sqlite_set_clock(c->s, fake_clock, c);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    tock_store_close(c->s);
    tock_test_rmtree(c->dir);
    free(c);
    return 0;
}

static void load(const char *text, struct tock_jobspec_set *set)
{
    struct tock_error err = {0};

    assert_tock_ok(tock_jobspec_load_text(text, strlen(text), "t.json", set,
                                          &err),
                   &err);
}

static void apply(struct ctx *c, const char *text, unsigned flags,
                  struct tock_apply_report *r)
{
    struct tock_jobspec_set set;
    struct tock_error err = {0};

    load(text, &set);
    assert_tock_ok(tock_apply(c->s, set.jobs, set.n, flags, r, &err), &err);
    tock_jobspec_set_clear(&set);
}

static size_t count_jobs(struct ctx *c)
{
    struct tock_job_state *list = NULL;
    struct tock_error err = {0};
    size_t n = 0;

    assert_tock_ok(tock_store_job_list(c->s, &list, &n, &err), &err);
    tock_job_state_list_free(list, n);
    return n;
}

static const char two[] =
    "{\"jobs\": [{\"id\": \"b\", \"trigger\": \"interval:10s\", \"handler\": "
    "\"h\"}, {\"id\": \"a\", \"trigger\": \"cron:0 * * * *\", \"handler\": "
    "\"h\"}]}";

static void test_add_then_unchanged(void **state)
{
    struct ctx *c = *state;
    struct tock_apply_report r;
    struct tock_job_state st;
    struct tock_error err = {0};

    apply(c, two, 0, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.added, 2);
    assert_int_equal(r.now_ms, T0);
    assert_string_equal(r.items[0].id, "b"); /* file order */
    assert_int_equal(r.items[0].action, TOCK_APPLY_ADDED);
    assert_int_equal(r.items[0].version, 1);
    assert_int_equal(r.items[0].next_fire_ms, T0 + 10000);
    assert_int_equal(r.items[1].next_fire_ms, 1780002000000LL); /* 21:00Z */
    tock_apply_report_clear(&r);

    memset(&st, 0, sizeof st);
    assert_tock_ok(tock_store_job_get(c->s, "b", &st, &err), &err);
    assert_int_equal(st.next_fire_ms, T0 + 10000);
    tock_job_state_clear(&st);

    c->clock += 5000; /* a later apply of the same file changes nothing */
    apply(c, two, 0, &r);
    assert_int_equal(r.unchanged, 2);
    assert_int_equal(r.items[0].next_fire_ms, -1);
    assert_int_equal(r.items[0].version, 1);
    tock_apply_report_clear(&r);
    assert_tock_ok(tock_store_job_get(c->s, "b", &st, &err), &err);
    assert_int_equal(st.next_fire_ms, T0 + 10000);
    assert_int_equal(st.job.version, 1);
    tock_job_state_clear(&st);
}

static void test_changed_and_prune(void **state)
{
    struct ctx *c = *state;
    struct tock_apply_report r;

    apply(c, two, 0, &r);
    tock_apply_report_clear(&r);
    c->clock += 1000;
    apply(c,
          "{\"jobs\": [{\"id\": \"b\", \"trigger\": \"interval:20s\","
          " \"handler\": \"h\"}, {\"id\": \"c\", \"trigger\": \"interval:1s\","
          " \"handler\": \"h\"}]}",
          TOCK_APPLY_PRUNE, &r);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.changed, 1);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.removed, 1);
    assert_int_equal(r.items[0].action, TOCK_APPLY_CHANGED);
    assert_int_equal(r.items[0].version, 2);
    assert_int_equal(r.items[0].next_fire_ms, T0 + 1000 + 20000);
    assert_string_equal(r.items[2].id, "a");
    assert_int_equal(r.items[2].action, TOCK_APPLY_REMOVED);
    assert_string_equal(tock_apply_action_name(r.items[2].action), "removed");
    tock_apply_report_clear(&r);
    assert_int_equal(count_jobs(c), 2);
}

static void test_dry_run_writes_nothing(void **state)
{
    struct ctx *c = *state;
    struct tock_apply_report r;

    apply(c, two, 0, &r);
    tock_apply_report_clear(&r);
    apply(c,
          "{\"jobs\": [{\"id\": \"b\", \"trigger\": \"interval:20s\","
          " \"handler\": \"h\"}, {\"id\": \"new\", \"trigger\": "
          "\"interval:1s\", \"handler\": \"h\"}]}",
          TOCK_APPLY_PRUNE | TOCK_APPLY_DRY_RUN, &r);
    assert_int_equal(r.changed, 1);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.removed, 1);
    assert_int_equal(r.items[0].version, 2); /* what it would become */
    tock_apply_report_clear(&r);
    assert_int_equal(count_jobs(c), 2);
    apply(c, two, 0, &r);
    assert_int_equal(r.unchanged, 2);
    tock_apply_report_clear(&r);
}

static void test_pause_kept(void **state)
{
    struct ctx *c = *state;
    struct tock_apply_report r;
    struct tock_job_state st;
    struct tock_error err = {0};

    apply(c, two, 0, &r);
    tock_apply_report_clear(&r);
    assert_tock_ok(tock_store_job_pause(c->s, "a", &err), &err);
    apply(c, two, 0, &r);
    assert_int_equal(r.unchanged, 2);
    tock_apply_report_clear(&r);
    memset(&st, 0, sizeof st);
    assert_tock_ok(tock_store_job_get(c->s, "a", &st, &err), &err);
    assert_true(st.job.paused);
    tock_job_state_clear(&st);
}

/* One job whose trigger cannot be scheduled stops the apply before the
 * first write, even when it comes last. */
static void test_bad_job_writes_nothing(void **state)
{
    struct ctx *c = *state;
    struct tock_jobspec_set set;
    struct tock_apply_report r;
    struct tock_error err = {0};

    load("{\"jobs\": [{\"id\": \"ok\", \"trigger\": \"interval:1s\","
         " \"handler\": \"h\"}, {\"id\": \"bad\", \"trigger\": "
         "\"interval:2s\", \"handler\": \"h\", \"jitter\": \"5s\"}]}",
         &set);
    assert_int_equal(tock_apply(c->s, set.jobs, set.n, 0, &r, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "job 'bad': trigger: jitter 5s"));
    assert_int_equal(r.n, 0);
    tock_apply_report_clear(&r);
    tock_jobspec_set_clear(&set);
    assert_int_equal(count_jobs(c), 0);
}

static void test_apply_file(void **state)
{
    struct ctx *c = *state;
    struct tock_apply_report r;
    struct tock_error err = {0};
    char path[600];
    FILE *f;

    apply(c, two, 0, &r);
    tock_apply_report_clear(&r);
    /* A config with only handlers applies nothing and never prunes. */
    snprintf(path, sizeof path, "%s/handlers.json", c->dir);
    f = fopen(path, "w");
    fputs("{\"handlers\": {}}", f);
    fclose(f);
    assert_tock_ok(tock_apply_file(c->s, path, TOCK_APPLY_PRUNE, &r, &err),
                   &err);
    assert_int_equal(r.n, 0);
    tock_apply_report_clear(&r);
    assert_int_equal(count_jobs(c), 2);
    snprintf(path, sizeof path, "%s/missing.json", c->dir);
    assert_int_equal(tock_apply_file(c->s, path, 0, &r, &err), TOCK_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_then_unchanged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_and_prune, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pause_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_job_writes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_apply_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
