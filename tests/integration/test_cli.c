/* test_cli.c: every store command of the real `tock` binary against a real
 * SQLite file: its output as a table and as JSON lines, the state it leaves,
 * a closed or full stdout, escaping of what handlers print, --follow.
 * (Apply: test_cli_apply.c. Bad input: test_cli_badinput.c.) */
#include <jansson.h>

#include "cli_run.c"
#include "core/alloc.h"
#include "proto/codec.h"
#include "store/store.h"

/* ---------------------------------------------------------------- helpers */

static void add_tick(void)
{
    free(CLI_OK("add", "tick", "--every", "2s", "--handler", "append",
                "--args", "{\"k\": 1}"));
}

/* ------------------------------------------------------------ add, ls */

static void test_add_ls_show(void **state)
{
    json_t *all, *j;
    size_t n;
    char *out;

    (void)state;
    out = CLI_OK("add", "tick", "--every", "2s", "--handler", "append",
                 "--args", "{\"k\": 1}");
    assert_non_null(strstr(out, "added tick: interval:2s, next fire 20"));
    free(out);
    out = CLI_OK("add", "nightly", "--cron", "0 3 * * *", "--tz",
                 "US/Eastern", "--handler", "backup", "--name",
                 "Nightly backup", "--timeout", "30m", "--retries", "2",
                 "--no-coalesce", "--paused", "--json");
    all = json_lines(out, &n);
    assert_int_equal(n, 1);
    assert_string_equal(jstr(json_array_get(all, 0), "id"), "nightly");
    assert_int_equal(jint(json_array_get(all, 0), "version"), 1);
    json_decref(all);
    free(out);

    /* The table: a header, one row per job in id order, aligned. */
    out = CLI_OK("ls");
    assert_non_null(strstr(out, "ID       TRIGGER"));
    assert_non_null(strstr(out, "\nnightly  cron:0 3 * * *@America/New_York"));
    assert_non_null(strstr(out, "\ntick     interval:2s"));
    assert_int_equal(cli_count(out, "\n"), 3);
    assert_non_null(strstr(out, "  yes\n")); /* nightly is paused */
    free(out);

    out = CLI_OK("ls", "--json");
    all = json_lines(out, &n);
    assert_int_equal(n, 2);
    j = json_array_get(all, 1);
    assert_string_equal(jstr(j, "id"), "tick");
    assert_string_equal(jstr(j, "trigger"), "interval:2s");
    assert_string_equal(jstr(j, "queue"), "default");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(j, "args"), "k")),
                     1);
    assert_int_equal(jint(j, "misfire_grace_ms"), 60000);
    assert_true(json_is_true(json_object_get(j, "coalesce")));
    assert_true(jint(j, "next_fire_ms") > jint(j, "created_ms"));
    assert_true(json_is_null(json_object_get(j, "last_status")));
    j = json_array_get(all, 0);
    assert_string_equal(jstr(j, "name"), "Nightly backup");
    assert_int_equal(jint(j, "timeout_ms"), 1800000);
    assert_int_equal(jint(j, "retries"), 2);
    assert_true(json_is_false(json_object_get(j, "coalesce")));
    assert_true(json_is_true(json_object_get(j, "paused")));
    json_decref(all);
    free(out);

    out = CLI_OK("show", "nightly");
    assert_non_null(strstr(out, "id:             nightly\n"));
    assert_non_null(strstr(out, "name:           Nightly backup\n"));
    assert_non_null(strstr(out, "timeout:        30m\n"));
    assert_non_null(strstr(out, "coalesce:       no\n"));
    assert_non_null(strstr(out, "paused:         yes\n"));
    assert_non_null(strstr(out, "next fire:      20"));
    free(out);
    out = CLI_OK("show", "tick", "--json");
    all = json_lines(out, &n);
    assert_int_equal(n, 1);
    assert_string_equal(jstr(json_array_get(all, 0), "handler"), "append");
    json_decref(all);
    free(out);
}

static void test_add_existing(void **state)
{
    struct cli_result r;
    char *before, *after;

    (void)state;
    add_tick();
    before = CLI_OK("ls", "--json");
    CLI_RUN(&r, "add", "tick", "--cron", "* * * * *", "--handler", "other");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "tock: job 'tick' already exists; change it "
                                  "with 'tock apply -f FILE', or remove it "
                                  "first with 'tock rm tick'\n"));
    assert_int_equal(cli_count(r.err, "\n"), 1);
    cli_result_free(&r);
    after = CLI_OK("ls", "--json");
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* ----------------------------------------------- pause, resume, rm */

static void test_pause_resume_rm(void **state)
{
    struct cli_result r;
    json_t *all;
    size_t n;
    char *out;

    (void)state;
    add_tick();
    out = CLI_OK("pause", "tick");
    assert_string_equal(out, "paused tick\n");
    free(out);
    out = CLI_OK("pause", "tick"); /* idempotent */
    free(out);
    out = CLI_OK("show", "tick", "--json");
    all = json_lines(out, &n);
    assert_true(json_is_true(json_object_get(json_array_get(all, 0), "paused")));
    assert_true(jint(json_array_get(all, 0), "version") >= 2);
    json_decref(all);
    free(out);

    out = CLI_OK("resume", "tick", "--json");
    all = json_lines(out, &n);
    assert_string_equal(jstr(json_array_get(all, 0), "action"), "resumed");
    assert_true(jint(json_array_get(all, 0), "next_fire_ms") > 0);
    json_decref(all);
    free(out);
    out = CLI_OK("ls");
    assert_non_null(strstr(out, "  no\n"));
    free(out);

    out = CLI_OK("rm", "tick");
    assert_string_equal(out, "removed tick\n");
    free(out);
    out = CLI_OK("ls", "--json");
    assert_string_equal(out, "");
    free(out);
    CLI_RUN(&r, "rm", "tick");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "tock: no job 'tick'; see 'tock ls'\n");
    cli_result_free(&r);
    CLI_RUN(&r, "pause", "nope");
    assert_int_equal(r.status, 1);
    cli_result_free(&r);

    out = CLI_OK("events", "--json", "--limit", "100");
    assert_int_equal(cli_count(out, "\"type\":\"paused\""), 1); /* idempotent */
    assert_int_equal(cli_count(out, "\"type\":\"resumed\""), 1);
    assert_int_equal(cli_count(out, "\"type\":\"removed\""), 1);
    free(out);
}

/* ---------------------------------------------------------- run, runs */

static void test_run_and_runs(void **state)
{
    json_t *all, *j;
    size_t n;
    char *out;

    (void)state;
    add_tick();
    free(CLI_OK("add", "other", "--cron", "0 0 1 1 *", "--handler", "h"));
    out = CLI_OK("run", "tick");
    assert_non_null(strstr(out, "dispatched tick once: occurrence tick@"));
    free(out);
    out = CLI_OK("run", "other", "--json");
    all = json_lines(out, &n);
    j = json_array_get(all, 0);
    assert_string_equal(jstr(j, "action"), "dispatched");
    assert_true(strncmp(jstr(j, "occurrence"), "other@", 6) == 0);
    json_decref(all);
    free(out);
    free(CLI_OK("run", "tick"));

    /* Newest first, every field of the contract present. */
    out = CLI_OK("runs", "--json");
    all = json_lines(out, &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        static const char *const keys[] = {
            "job", "occurrence", "scheduled", "status", "started", "finished",
            "node", "worker", "attempt", "exit_code", "output"};
        j = json_array_get(all, i);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (json_object_get(j, keys[k]) == NULL)
                fail_msg("runs --json lacks '%s'", keys[k]);
        assert_string_equal(jstr(j, "status"), "dispatched");
        assert_int_equal(jint(j, "attempt"), 1);
        assert_true(json_is_null(json_object_get(j, "started")));
        if (i > 0)
            assert_true(jint(j, "scheduled") <=
                        jint(json_array_get(all, i - 1), "scheduled"));
    }
    assert_string_equal(jstr(json_array_get(all, 0), "job"), "tick");
    json_decref(all);
    free(out);

    out = CLI_OK("runs", "tick", "--limit", "1", "--json");
    all = json_lines(out, &n);
    assert_int_equal(n, 1);
    json_decref(all);
    free(out);
    out = CLI_OK("runs", "-n", "5");
    assert_true(strncmp(out, "JOB    SCHEDULED", 16) == 0);
    assert_int_equal(cli_count(out, "dispatched"), 3);
    free(out);
    out = CLI_OK("runs", "nosuchjob");
    assert_int_equal(cli_count(out, "\n"), 1); /* the header only */
    free(out);
}

/* report_run fires job tick once (`tock run`) and reports a result with
 * `output` for it, as a worker would. */
static void report_run(const char *output, size_t len)
{
    struct tock_error err = {0};
    struct tock_store *s = NULL;
    struct tock_task_lease *leases = NULL;
    struct tock_result res;
    enum tock_report_status rs;
    const char *queues[] = {"default"};
    size_t n = 0;

    free(CLI_OK("run", "tick"));
    assert_tock_ok(tock_store_open(cli_store, NULL, &s, &err), &err);
    assert_tock_ok(tock_store_task_take(s, queues, 1, "w1", 1, 60000, &leases,
                                        &n, &err),
                   &err);
    assert_int_equal(n, 1);
    memset(&res, 0, sizeof res);
    res.occ = leases[0].occ;
    res.status = TOCK_STATUS_ERROR;
    res.worker = "w1";
    res.attempt = 1;
    res.started_ms = 1000;
    res.finished_ms = 2000;
    res.exit_code = 3;
    res.output = (uint8_t *)output;
    res.output_len = len;
    assert_tock_ok(tock_store_task_report(s, leases[0].task_id, "w1",
                                          leases[0].deliveries, &res, &rs,
                                          &err),
                   &err);
    tock_task_lease_list_free(leases, n);
    tock_store_close(s);
}

/* test_output_escaped puts a result with terminal escapes and several lines
 * into the store through the store API (as a worker would), then checks
 * that `tock runs` shows it escaped and cut to its first line. */
static void test_output_escaped(void **state)
{
    static const char evil[] = "\x1b[31mred\xe2\x80\xae gnp.exe\nline two";
    char *out;

    (void)state;
    add_tick();
    report_run(evil, sizeof evil - 1);
    out = CLI_OK("runs");
    assert_null(strchr(out, '\x1b'));
    assert_null(strstr(out, "\xe2\x80\xae"));
    assert_non_null(strstr(out, "\\x1b[31mred\\u{202e} gnp.exe..."));
    assert_null(strstr(out, "line two"));
    assert_non_null(strstr(out, "  error  "));
    free(out);
    out = CLI_OK("runs", "--json");
    assert_null(strchr(out, '\x1b'));
    assert_non_null(strstr(out, "\"exit_code\":3"));
    assert_non_null(strstr(out, "\"worker\":\"w1\""));
    if (!strstr(out, "\\u001B[31mred\\u202E gnp.exe\\nline two"))
        fail_msg("runs --json: %s", out);
    free(out);
}

/* Line ends around the first line are not "more lines": the usual
 * "done\n", CRLF output and output that starts with a blank line show
 * their text, without "..." and without "\r". */
static void test_output_first_line(void **state)
{
    static const char *const outputs[] = {"done one\n", "done two\r\n",
                                          "\n\r\ndone three\n\n",
                                          "done four\nand more\n"};
    static const char *const shown[] = {"  done one\n", "  done two\n",
                                        "  done three\n",
                                        "  done four...\n"};
    size_t i;
    char *out;

    (void)state;
    add_tick();
    for (i = 0; i < 4; i++) {
        report_run(outputs[i], strlen(outputs[i]));
        out = CLI_OK("runs", "--limit", "1");
        if (strstr(out, shown[i]) == NULL)
            fail_msg("output %zu shows as: %s", i, out);
        free(out);
    }
}

/* ------------------------------------------------------------- events */

static void test_events(void **state)
{
    json_t *all;
    size_t n;
    char *out;

    (void)state;
    add_tick();
    free(CLI_OK("pause", "tick"));
    free(CLI_OK("resume", "tick"));
    out = CLI_OK("events", "--json");
    all = json_lines(out, &n);
    assert_int_equal(n, 3);
    assert_string_equal(jstr(json_array_get(all, 0), "type"), "added");
    assert_string_equal(jstr(json_array_get(all, 0), "job"), "tick");
    assert_string_equal(jstr(json_array_get(all, 2), "type"), "resumed");
    assert_true(jint(json_array_get(all, 2), "id") >
                jint(json_array_get(all, 0), "id"));
    json_decref(all);
    free(out);
    out = CLI_OK("events", "--limit", "1");
    assert_int_equal(cli_count(out, "\n"), 1);
    assert_non_null(strstr(out, "resumed"));
    free(out);
    /* No line ends in padding (paused/resumed have no occurrence, node or
     * detail). */
    out = CLI_OK("events");
    assert_int_equal(cli_count(out, "\n"), 3);
    assert_int_equal(cli_count(out, " \n"), 0);
    free(out);
}

static void test_events_follow(void **state)
{
    char out[700], err[700], *argv[] = {"tock", "events", "--follow",
                                        "--json", NULL};
    struct timespec ts = {0, 20 * 1000 * 1000};
    char *text = NULL;
    pid_t pid;
    int i, status;

    (void)state;
    add_tick();
    snprintf(out, sizeof out, "%s/follow.out", cli_dir);
    snprintf(err, sizeof err, "%s/follow.err", cli_dir);
    pid = cli_spawn(argv, NULL, out, err);
    free(CLI_OK("add", "later", "--every", "1h", "--handler", "h"));
    for (i = 0; i < 200; i++) { /* up to 4 s */
        free(text);
        text = slurp(out, NULL);
        if (strstr(text, "\"job\":\"later\""))
            break;
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    assert_non_null(strstr(text, "\"job\":\"tick\""));
    assert_non_null(strstr(text, "\"job\":\"later\""));
    assert_int_equal(cli_count(text, "\"type\":\"added\""), 2);
    free(text);
}

/* tock events --follow | head -1: once its reader is gone, the next event
 * ends it quietly instead of polling forever. */
static void test_follow_reader_gone(void **state)
{
    char *argv[] = {"tock", "events", "--follow", NULL}, errp[700], c;
    int fds[2], status = -1, i;
    pid_t pid;
    char *text;

    (void)state;
    add_tick();
    assert_int_equal(pipe(fds), 0);
    snprintf(errp, sizeof errp, "%s/follow.err", cli_dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        dup2(open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
        execve(tock_test_binary("tock"), argv, cli_env());
        _exit(127);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, 1), 1); /* the first event came */
    close(fds[0]);
    free(CLI_OK("pause", "tick"));
    for (i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
    if (i == 200) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("tock events --follow kept running without a reader");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    text = slurp(errp, NULL);
    assert_string_equal(text, "");
    free(text);
}

/* --------------------------------------------------- stdout and store */

/* A reader that went away (tock ls | head -1) is not an error. */
static void test_closed_stdout(void **state)
{
    char *argv[] = {"tock", "ls", NULL}, errp[700];
    int fds[2], status, i;
    pid_t pid;
    char *text;

    (void)state;
    for (i = 0; i < 30; i++) {
        char id[16];

        snprintf(id, sizeof id, "job%02d", i);
        free(CLI_OK("add", id, "--every", "1h", "--handler", "h"));
    }
    assert_int_equal(pipe(fds), 0);
    close(fds[0]); /* nobody will read */
    snprintf(errp, sizeof errp, "%s/pipe.err", cli_dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
        execve(tock_test_binary("tock"), argv, cli_env());
        _exit(127);
    }
    close(fds[1]);
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    text = slurp(errp, NULL);
    assert_string_equal(text, "");
    free(text);
}

static void test_full_stdout(void **state)
{
    char *argv[] = {"tock", "ls", NULL}, errp[700];
    int status;
    pid_t pid;
    char *text;

    (void)state;
    add_tick();
    snprintf(errp, sizeof errp, "%s/full.err", cli_dir);
    pid = cli_spawn(argv, NULL, "/dev/full", errp);
    waitpid(pid, &status, 0);
    assert_int_equal(WEXITSTATUS(status), 1);
    text = slurp(errp, NULL);
    assert_string_equal(text, "tock: writing the output failed: No space "
                              "left on device\n");
    free(text);
}

/* Reading commands never create a store; the flag wins over TOCK_STORE. */
static void test_store_selection(void **state)
{
    static const char *const reads[][2] = {
        {"ls", NULL},    {"show", "x"},  {"rm", "x"},     {"pause", "x"},
        {"resume", "x"}, {"run", "x"},   {"runs", NULL},  {"events", NULL},
    };
    char path[700], url[720], other[720];
    struct cli_result r;
    size_t i;
    char *out;

    (void)state;
    snprintf(path, sizeof path, "%s/none.db", cli_dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    for (i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        if (reads[i][1])
            CLI_RUN(&r, reads[i][0], reads[i][1], "--store", url);
        else
            CLI_RUN(&r, reads[i][0], "--store", url);
        if (r.status != 2 || !strstr(r.err, "does not exist"))
            fail_msg("tock %s: exit %d '%s'", reads[i][0], r.status, r.err);
        cli_result_free(&r);
        assert_false(cli_file_exists(path));
    }
    add_tick(); /* in the TOCK_STORE store */
    snprintf(other, sizeof other, "sqlite:%s/other.db", cli_dir);
    free(CLI_OK("add", "elsewhere", "--every", "1h", "--handler", "h",
                "--store", other));
    out = CLI_OK("ls", "--store", other, "--json");
    assert_non_null(strstr(out, "\"elsewhere\""));
    assert_null(strstr(out, "\"tick\""));
    free(out);
}

static void test_help(void **state)
{
    char *out;

    (void)state;
    out = CLI_OK("add", "--help");
    assert_non_null(strstr(out, "usage: tock add ID"));
    assert_non_null(strstr(out, "--misfire-grace D"));
    assert_non_null(strstr(out, "[env TOCK_STORE]"));
    free(out);
    out = CLI_OK("--help");
    assert_non_null(strstr(out, "  apply "));
    assert_non_null(strstr(out, "  events "));
    free(out);
    out = CLI_OK("runs", "-h");
    assert_non_null(strstr(out, "--limit N"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_ls_show, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_add_existing, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume_rm, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_run_and_runs, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_output_escaped, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_output_first_line, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_events, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown(test_events_follow, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_follow_reader_gone, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_closed_stdout, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_full_stdout, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_store_selection, cli_setup,
                                        cli_teardown),
        cmocka_unit_test_setup_teardown(test_help, cli_setup, cli_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
