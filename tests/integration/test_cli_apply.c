/* test_cli_apply.c: `tock apply -f FILE` against a real SQLite file:
 * re-running changes nothing, a changed job is updated with its version
 * bumped, --prune removes what the file no longer lists, --dry-run writes
 * nothing, a paused job stays paused, and 20 applies at once leave one job
 * and one "added" event per id (RELIABILITY.md row 10). */
#include <jansson.h>

#include "cli_run.c"

static const char two_jobs[] =
    "{\n"
    "  \"handlers\": {\"append\": {\"argv\": [\"/bin/sh\", \"-c\", \"true\"]}},\n"
    "  \"jobs\": [\n"
    "    {\"id\": \"tick\", \"trigger\": \"interval:2s\", \"handler\": \"append\",\n"
    "     \"args\": {\"k\": 1}, \"misfire_grace\": \"60s\", \"coalesce\": true},\n"
    "    {\"id\": \"cronny\", \"trigger\": \"cron:*/5 * * * *@UTC\",\n"
    "     \"handler\": \"append\"}\n"
    "  ]\n"
    "}\n";

/* version_of returns job `id`'s version from `tock ls --json` output. */
static long long version_of(const char *ls_json, const char *id)
{
    char key[160];
    const char *p;

    snprintf(key, sizeof key, "{\"id\":\"%s\",", id);
    p = strstr(ls_json, key);
    assert_non_null(p);
    p = strstr(p, "\"version\":");
    assert_non_null(p);
    return strtoll(p + 10, NULL, 10);
}

static size_t events_of(const char *type)
{
    char *out = CLI_OK("events", "--json", "--limit", "100000"), key[64];
    size_t n;

    snprintf(key, sizeof key, "\"type\":\"%s\"", type);
    n = cli_count(out, key);
    free(out);
    return n;
}

/* ----------------------------------------------------------- idempotence */

static void test_apply_idempotent(void **state)
{
    const char *file = cli_write_file("jobs.json", two_jobs);
    char *out, *before, *after;

    (void)state;
    out = CLI_OK("apply", "-f", file);
    assert_non_null(strstr(out, "ACTION  ID      VERSION  NEXT FIRE\n"));
    assert_non_null(strstr(out, "\nadded   tick    1        20"));
    assert_non_null(strstr(out, "\nadded   cronny  1        20"));
    assert_non_null(strstr(out, "2 added, 0 changed, 0 unchanged, 0 removed\n"));
    free(out);
    before = CLI_OK("ls", "--json");
    assert_non_null(strstr(before, "\"trigger\":\"cron:*/5 * * * *\""));
    out = CLI_OK("apply", "-f", file);
    assert_non_null(strstr(out, "\nunchanged  tick    1"));
    assert_non_null(strstr(out, "0 added, 0 changed, 2 unchanged, 0 removed\n"));
    free(out);
    free(CLI_OK("apply", "--file", file));
    after = CLI_OK("ls", "--json");
    assert_string_equal(before, after); /* no version or epoch churn */
    assert_int_equal(events_of("added"), 2);
    assert_int_equal(events_of("changed"), 0);
    free(before);
    free(after);
}

static void test_apply_change_and_prune(void **state)
{
    const char *file = cli_write_file("jobs.json", two_jobs);
    char *changed, *out, *ls;
    json_t *j;
    json_error_t jerr;

    (void)state;
    free(CLI_OK("apply", "-f", file));
    free(CLI_OK("add", "extra", "--cron", "@hourly", "--handler", "h"));

    /* One field of one job changes: only that job is touched. */
    changed = strdup(two_jobs);
    *strstr(changed, "\"k\": 1") = '\0';
    out = malloc(strlen(two_jobs) + 8);
    sprintf(out, "%s\"k\": 2%s", changed, strstr(two_jobs, "\"k\": 1") + 6);
    file = cli_write_file("jobs.json", out);
    free(out);
    free(changed);
    out = CLI_OK("apply", "-f", file, "--json");
    j = json_loads(strchr(out, '\n') + 1, JSON_DISABLE_EOF_CHECK, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "action")),
                        "unchanged");
    json_decref(j);
    assert_non_null(strstr(out, "{\"id\":\"tick\",\"action\":\"changed\","
                                "\"version\":2,\"next_fire_ms\":"));
    free(out);
    ls = CLI_OK("ls", "--json");
    assert_int_equal(version_of(ls, "tick"), 2);
    assert_int_equal(version_of(ls, "cronny"), 1);
    assert_non_null(strstr(ls, "\"args\":{\"k\":2}"));
    assert_non_null(strstr(ls, "\"id\":\"extra\"")); /* no --prune: kept */
    free(ls);
    assert_int_equal(events_of("changed"), 1);

    out = CLI_OK("apply", "-f", file, "--prune");
    assert_non_null(strstr(out, "\nremoved    extra"));
    assert_non_null(strstr(out, "0 added, 0 changed, 2 unchanged, 1 removed"));
    free(out);
    ls = CLI_OK("ls", "--json");
    assert_null(strstr(ls, "\"id\":\"extra\""));
    free(ls);
    out = CLI_OK("apply", "-f", file, "--prune");
    assert_non_null(strstr(out, "0 removed"));
    free(out);

    /* An empty list with --prune empties the store. */
    file = cli_write_file("empty.json", "{\"jobs\": []}");
    out = CLI_OK("apply", "-f", file, "--prune");
    assert_non_null(strstr(out, "0 added, 0 changed, 0 unchanged, 2 removed"));
    free(out);
    out = CLI_OK("ls", "--json");
    assert_string_equal(out, "");
    free(out);
}

static void test_apply_dry_run(void **state)
{
    const char *file = cli_write_file("jobs.json", two_jobs);
    char db[700], *out, *before, *after;

    (void)state;
    /* On a store that does not exist yet: nothing is created. */
    snprintf(db, sizeof db, "%s/tock.db", cli_dir);
    out = CLI_OK("apply", "-f", file, "--dry-run");
    assert_non_null(strstr(out, "dry run, nothing written: 2 added"));
    free(out);
    assert_false(cli_file_exists(db));

    free(CLI_OK("apply", "-f", file));
    free(CLI_OK("add", "extra", "--cron", "@hourly", "--handler", "h"));
    before = CLI_OK("ls", "--json");
    file = cli_write_file("one.json",
                          "{\"jobs\": [{\"id\": \"tick\", \"trigger\": "
                          "\"interval:3s\", \"handler\": \"append\"}]}");
    out = CLI_OK("apply", "-f", file, "--dry-run", "--prune");
    assert_non_null(strstr(out, "\nchanged  tick"));
    assert_non_null(strstr(out, "\nremoved  cronny"));
    assert_non_null(strstr(out, "\nremoved  extra"));
    assert_non_null(strstr(out, "dry run, nothing written: 0 added, 1 "
                                "changed, 0 unchanged, 2 removed"));
    free(out);
    after = CLI_OK("ls", "--json");
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* An operator's pause survives a re-apply; the file can still decide. */
static void test_apply_keeps_pause(void **state)
{
    const char *file = cli_write_file("jobs.json", two_jobs);
    char *out, *ls;

    (void)state;
    free(CLI_OK("apply", "-f", file));
    free(CLI_OK("pause", "tick"));
    out = CLI_OK("apply", "-f", file);
    assert_non_null(strstr(out, "2 unchanged"));
    free(out);
    ls = CLI_OK("show", "tick", "--json");
    assert_non_null(strstr(ls, "\"paused\":true"));
    free(ls);
    file = cli_write_file("unpause.json",
                          "{\"jobs\": [{\"id\": \"tick\", \"trigger\": "
                          "\"interval:2s\", \"handler\": \"append\", "
                          "\"args\": {\"k\": 1}, \"paused\": false}]}");
    out = CLI_OK("apply", "-f", file);
    assert_non_null(strstr(out, "\nchanged  tick"));
    free(out);
    ls = CLI_OK("show", "tick", "--json");
    assert_non_null(strstr(ls, "\"paused\":false"));
    free(ls);
}

static void test_apply_stdin(void **state)
{
    struct cli_result r;

    (void)state;
    CLI_RUN_IN(&r, two_jobs, "apply", "-f", "-");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "2 added"));
    cli_result_free(&r);
    CLI_RUN_IN(&r, "{\"jobs\": [}", "apply", "-f", "-");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "tock: <stdin>:1:"));
    cli_result_free(&r);
}

/* ------------------------------------------------------------ concurrency */

#define PARALLEL 20

/* spawn_applies starts PARALLEL `tock apply` runs at once, alternating
 * between files[0] and files[1], and checks that each exits 0. *outs gets
 * their concatenated stdout. */
static char *spawn_applies(const char *const files[2])
{
    char out[PARALLEL][700], err[PARALLEL][700];
    pid_t pids[PARALLEL];
    size_t len = 0;
    char *all = calloc(1, 1), *one, *e;
    int i, status;

    for (i = 0; i < PARALLEL; i++) {
        char *argv[] = {"tock", "apply", "-f", (char *)files[i % 2], NULL};

        snprintf(out[i], sizeof out[i], "%s/apply%d.out", cli_dir, i);
        snprintf(err[i], sizeof err[i], "%s/apply%d.err", cli_dir, i);
        pids[i] = cli_spawn(argv, NULL, out[i], err[i]);
    }
    for (i = 0; i < PARALLEL; i++) {
        status = cli_wait(pids[i]);
        e = slurp(err[i], NULL);
        if (status != 0)
            fail_msg("apply %d: exit %d: %s", i, status, e);
        free(e);
        one = slurp(out[i], NULL);
        all = realloc(all, len + strlen(one) + 1);
        strcpy(all + len, one);
        len += strlen(one);
        free(one);
    }
    return all;
}

static char *many_jobs(int k)
{
    size_t cap = 64 * 1024, n;
    char *text = malloc(cap);
    int i;

    n = (size_t)snprintf(text, cap, "{\"jobs\": [");
    for (i = 0; i < 10; i++)
        n += (size_t)snprintf(text + n, cap - n,
                              "%s{\"id\": \"job%d\", \"trigger\": "
                              "\"interval:%ds\", \"handler\": \"h\", "
                              "\"args\": {\"k\": %d}}",
                              i ? ", " : "", i, i + 1, i == 3 ? k : 0);
    snprintf(text + n, cap - n, "]}");
    return text;
}

static void test_apply_concurrent_same(void **state)
{
    char *text = many_jobs(0), *all, *ls;
    const char *files[2];

    (void)state;
    files[0] = files[1] = strdup(cli_write_file("many.json", text));
    all = spawn_applies(files);
    /* Exactly one run added each job; every other run found it. */
    assert_int_equal(cli_count(all, "\nadded "), 10);
    assert_int_equal(cli_count(all, "\nunchanged "), 10 * (PARALLEL - 1));
    assert_int_equal(cli_count(all, "\nchanged "), 0);
    ls = CLI_OK("ls", "--json");
    assert_int_equal(cli_count(ls, "\n"), 10);
    assert_int_equal(cli_count(ls, "\"version\":1,"), 10);
    assert_int_equal(events_of("added"), 10);
    assert_int_equal(events_of("changed"), 0);
    free(ls);
    free(all);
    free((char *)files[0]);
    free(text);
}

/* Two different definitions of job3 applied at once: one job per id, one
 * "added" event per id, and job3 ends as one of the two definitions. */
static void test_apply_concurrent_conflict(void **state)
{
    char *a = many_jobs(1), *b = many_jobs(2), *all, *ls;
    const char *files[2];

    (void)state;
    files[0] = strdup(cli_write_file("a.json", a));
    files[1] = strdup(cli_write_file("b.json", b));
    all = spawn_applies(files);
    ls = CLI_OK("ls", "--json");
    assert_int_equal(cli_count(ls, "\n"), 10);
    assert_int_equal(events_of("added"), 10);
    assert_int_equal(cli_count(all, "\nchanged "), events_of("changed"));
    assert_true(strstr(ls, "\"args\":{\"k\":1}") != NULL ||
                strstr(ls, "\"args\":{\"k\":2}") != NULL);
    assert_int_equal(cli_count(ls, "\"version\":1,"), 9);
    free(ls);
    free(all);
    free((char *)files[0]);
    free((char *)files[1]);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_idempotent, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_apply_change_and_prune,
                                        cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown(test_apply_dry_run, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_apply_keeps_pause, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_apply_stdin, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_apply_concurrent_same, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_apply_concurrent_conflict,
                                        cli_setup, cli_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
