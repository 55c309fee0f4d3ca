/* test_cli_badinput.c: bad input for every store command and flag of the
 * real `tock` binary (RELIABILITY.md (c)): each case must exit 2 with one
 * line on stderr, "tock: ...", that names the problem, print nothing on
 * stdout, and leave the store exactly as it was (`tock ls --json` and
 * `tock events --json` compared before and after). */
#include "cli_run.c"
#include "store/store.h"

/* Where a case points --store / TOCK_STORE. */
enum where {
    STORE = 0,   /* the test's populated store */
    NONE = 1,    /* no store at all */
    MISSING = 2, /* a sqlite: path that does not exist (must stay so) */
};

struct bad {
    enum where where;
    const char *expect;        /* in the message */
    const char *args[16];
};

/* Files the cases refer to as @NAME (written in setup). */
static const struct {
    const char *name, *text;
} files[] = {
    {"syntax.json", "{\"jobs\": [\n  {\"id\": \"a\",\n   \"trigger\" \"x\"}\n]}"},
    {"empty.json", ""},
    {"blank.json", "\xEF\xBB\xBF \r\n"},
    {"typo.json", "{\"jobs\": [{\"id\": \"a\", \"trigger\": \"interval:1s\", "
                  "\"handler\": \"h\", \"coalese\": false}]}"},
    {"dupid.json", "{\"jobs\": [{\"id\": \"a\", \"trigger\": \"interval:1s\", "
                   "\"handler\": \"h\"}, {\"id\": \"a\", \"trigger\": "
                   "\"interval:2s\", \"handler\": \"h\"}]}"},
    {"dupkey.json", "{\"jobs\": [{\"id\": \"a\", \"id\": \"b\"}]}"},
    {"top.json", "{\"jobs\": [], \"handler\": {}}"},
    {"nojobs.json", "{\"handlers\": {}}"},
    {"array.json", "[]"},
    {"cron.json", "{\"jobs\": [{\"id\": \"a\", \"trigger\": \"cron:* * * *\","
                  " \"handler\": \"h\"}]}"},
    {"zone.json", "{\"jobs\": [{\"id\": \"a\", \"trigger\": "
                  "\"cron:0 3 * * *@Mars/Olympus\", \"handler\": \"h\"}]}"},
    {"id.json", "{\"jobs\": [{\"id\": \"a b\", \"trigger\": \"interval:1s\", "
                "\"handler\": \"h\"}]}"},
    {"type.json", "{\"jobs\": [{\"id\": \"a\", \"trigger\": \"interval:1s\", "
                  "\"handler\": \"h\", \"retries\": \"3\"}]}"},
    {"jitter.json", "{\"jobs\": [{\"id\": \"a\", \"trigger\": \"interval:1s\","
                    " \"handler\": \"h\", \"jitter\": \"1s\"}]}"},
    {"crlf_ok_but_bad.json", "{\r\n\"jobs\": [\r\n{\"id\": \"a\",\r\n"
                             "\"trigger\": \"interval:1s\",\r\n"
                             "\"handler\": \"h\",\r\n\"queue\": 5}]}\r\n"},
    {"deep.json", "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]"},
    {"dupargs.json", "{\"a\": 1, \"a\": 2}"},
    {"good.json", "{\"jobs\": [{\"id\": \"a\", \"trigger\": \"interval:1s\","
                  " \"handler\": \"h\"}]}"},
};

static const struct bad cases[] = {
    /* ------------------------------------------------ commands, flags */
    {STORE, "unknown command 'lss'", {"lss"}},
    {STORE, "missing argument; usage: tock add ID", {"add"}},
    {STORE, "unknown flag '--bogus'",
     {"add", "x", "--every", "1s", "--handler", "h", "--bogus"}},
    {STORE, "--handler needs a value", {"add", "x", "--every", "1s",
                                        "--handler"}},
    {STORE, "--every is empty", {"add", "x", "--every=", "--handler", "h"}},
    {STORE, "--handler is empty", {"add", "x", "--every", "1s", "--handler",
                                   "  "}},
    {STORE, "--every is given twice",
     {"add", "x", "--every", "1s", "--every", "2s", "--handler", "h"}},
    {STORE, "unexpected argument 'y'",
     {"add", "x", "y", "--every", "1s", "--handler", "h"}},
    {STORE, "--paused takes no value",
     {"add", "x", "--every", "1s", "--handler", "h", "--paused=yes"}},
    {NONE, "no store given; pass --store sqlite:PATH or set TOCK_STORE",
     {"add", "x", "--every", "1s", "--handler", "h"}},
    {NONE, "unknown store scheme",
     {"add", "x", "--every", "1s", "--handler", "h", "--store", "foo:bar"}},
    {NONE, "--store is empty", {"ls", "--store", ""}},
    {NONE, "no store given", {"ls"}},
    {MISSING, "does not exist", {"ls"}},
    {MISSING, "does not exist", {"runs", "--json"}},
    /* --------------------------------------------------- triggers */
    {MISSING, "give exactly one of --cron", {"add", "x", "--handler", "h"}},
    {MISSING, "give exactly one of --cron",
     {"add", "x", "--every", "1s", "--cron", "* * * * *", "--handler", "h"}},
    {MISSING, "--tz applies to --cron and --at",
     {"add", "x", "--every", "1s", "--tz", "UTC", "--handler", "h"}},
    {MISSING, "--every: '5' has no unit",
     {"add", "x", "--every", "5", "--handler", "h"}},
    {MISSING, "--every: '5S' is not a duration",
     {"add", "x", "--every", "5S", "--handler", "h"}},
    {MISSING, "--every", {"add", "x", "--every", "-5s", "--handler", "h"}},
    {MISSING, "--every", {"add", "x", "--every", "1y", "--handler", "h"}},
    {MISSING, "--every: '0s' is out of range",
     {"add", "x", "--every", "0s", "--handler", "h"}},
    {MISSING, "--every", {"add", "x", "--every", "999999999999w",
                          "--handler", "h"}},
    {MISSING, "--cron: cron field 'minute'",
     {"add", "x", "--cron", "61 * * * *", "--handler", "h"}},
    {MISSING, "--cron", {"add", "x", "--cron", "* * * *", "--handler", "h"}},
    {MISSING, "--cron", {"add", "x", "--cron", "* * * * * * *",
                         "--handler", "h"}},
    {MISSING, "--cron", {"add", "x", "--cron", "*/0 * * * *", "--handler",
                         "h"}},
    {MISSING, "--cron", {"add", "x", "--cron", "5-1 * * * *", "--handler",
                         "h"}},
    {MISSING, "--cron", {"add", "x", "--cron", "0 0 30 2 *", "--handler",
                         "h"}},
    {MISSING, "--cron", {"add", "x", "--cron", "@reboot", "--handler", "h"}},
    {MISSING, "--cron", {"add", "x", "--cron", "@every 5s", "--handler",
                         "h"}},
    {MISSING, "--cron", {"add", "x", "--cron", "0 0 32W * *", "--handler",
                         "h"}},
    {MISSING, "--tz: time zone 'Mars/Olympus' is unknown",
     {"add", "x", "--cron", "0 3 * * *", "--tz", "Mars/Olympus", "--handler",
      "h"}},
    {MISSING, "--tz", {"add", "x", "--cron", "0 3 * * *", "--tz",
                       "../../etc/passwd", "--handler", "h"}},
    {MISSING, "Europe/Berlin", {"add", "x", "--cron", "0 3 * * *", "--tz",
                                "europe/berlin", "--handler", "h"}},
    {MISSING, "--tz", {"add", "x", "--cron", "0 3 * * *", "--tz", "UTC+3",
                       "--handler", "h"}},
    {MISSING, "--at", {"add", "x", "--at", "2024-02-30T00:00:00Z",
                       "--handler", "h"}},
    {MISSING, "--at", {"add", "x", "--at", "2026-06-01T23:59:60Z",
                       "--handler", "h"}},
    {MISSING, "--at", {"add", "x", "--at", "10000-01-01T00:00:00Z",
                       "--handler", "h"}},
    {MISSING, "--at", {"add", "x", "--at", "1969-12-31T23:59:59Z",
                       "--handler", "h"}},
    {MISSING, "--at 2020-01-01T00:00:00Z has passed",
     {"add", "x", "--at", "2020-01-01T00:00:00Z", "--handler", "h"}},
    {MISSING, "--at", {"add", "x", "--at", "2026-03-29T02:30:00", "--tz",
                       "Europe/Berlin", "--handler", "h"}},
    {MISSING, "--trigger", {"add", "x", "--trigger", "weekly", "--handler",
                            "h"}},
    /* ------------------------------------------------ job fields */
    {MISSING, "job id \"bad id\" contains ' '",
     {"add", "bad id", "--every", "1s", "--handler", "h"}},
    {MISSING, "job id \"a:b\" contains ':'",
     {"add", "a:b", "--every", "1s", "--handler", "h"}},
    {MISSING, "contains '{'", {"add", "a{b}", "--every", "1s", "--handler",
                               "h"}},
    {MISSING, "job id is empty", {"add", "", "--every", "1s", "--handler",
                                  "h"}},
    {MISSING, "is 129 bytes long",
     {"add",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "--every", "1s", "--handler", "h"}},
    {MISSING, "--handler is missing", {"add", "x", "--every", "1s"}},
    {MISSING, "--handler \"../../bin/sh\" contains '/'",
     {"add", "x", "--every", "1s", "--handler", "../../bin/sh"}},
    {MISSING, "--handler", {"add", "x", "--every", "1s", "--handler",
                            "h;rm -rf /"}},
    {MISSING, "--queue", {"add", "x", "--every", "1s", "--handler", "h",
                          "--queue", "a*"}},
    {MISSING, "control character", {"add", "x", "--every", "1s", "--handler",
                                     "h", "--name", "\x1b[31mred"}},
    {MISSING, "U+202E", {"add", "x", "--every", "1s", "--handler", "h",
                         "--name", "a\xe2\x80\xae" "b"}},
    {MISSING, "invalid UTF-8", {"add", "x", "--every", "1s", "--handler", "h",
                                "--name", "a\xff"}},
    {MISSING, "--timeout: '0s' is zero",
     {"add", "x", "--every", "1s", "--handler", "h", "--timeout", "0s"}},
    {MISSING, "--timeout", {"add", "x", "--every", "1s", "--handler", "h",
                            "--timeout", "5 s"}},
    {MISSING, "jitter 1s is not less than the interval 1s",
     {"add", "x", "--every", "1s", "--handler", "h", "--jitter", "1s"}},
    {MISSING, "--misfire-grace",
     {"add", "x", "--every", "1s", "--handler", "h", "--misfire-grace",
      "-1s"}},
    {MISSING, "--misfire-grace",
     {"add", "x", "--every", "1s", "--handler", "h", "--misfire-grace",
      "never"}},
    {MISSING, "--max-instances: 0 is out of range",
     {"add", "x", "--every", "1s", "--handler", "h", "--max-instances", "0"}},
    {MISSING, "--max-instances: '08' is not a whole decimal number",
     {"add", "x", "--every", "1s", "--handler", "h", "--max-instances", "08"}},
    {MISSING, "--max-instances",
     {"add", "x", "--every", "1s", "--handler", "h", "--max-instances",
      "0x10"}},
    {MISSING, "--max-instances", {"add", "x", "--every", "1s", "--handler",
                                  "h", "--max-instances", "1e3"}},
    {MISSING, "--max-instances", {"add", "x", "--every", "1s", "--handler",
                                  "h", "--max-instances", "+5"}},
    {MISSING, "--retries: 1000000000 is out of range",
     {"add", "x", "--every", "1s", "--handler", "h", "--retries",
      "1000000000"}},
    {MISSING, "--retries", {"add", "x", "--every", "1s", "--handler", "h",
                            "--retries", "99999999999999999999"}},
    {MISSING, "--retries", {"add", "x", "--every", "1s", "--handler", "h",
                            "--retries", "-1"}},
    {MISSING, "--max-deliveries: 0 is out of range",
     {"add", "x", "--every", "1s", "--handler", "h", "--max-deliveries",
      "0"}},
    {MISSING, "--max-deliveries", {"add", "x", "--every", "1s", "--handler",
                                   "h", "--max-deliveries", "NaN"}},
    {MISSING, "is after end",
     {"add", "x", "--every", "1s", "--handler", "h", "--start",
      "2027-01-01T00:00:00Z", "--end", "2026-01-01T00:00:00Z"}},
    {MISSING, "would never fire",
     {"add", "x", "--every", "1s", "--handler", "h", "--end",
      "2020-01-01T00:00:00Z"}},
    {MISSING, "--start", {"add", "x", "--every", "1s", "--handler", "h",
                          "--start", "tomorrow"}},
    /* -------------------------------------------------------- args */
    {MISSING, "--args: not valid JSON at line 1, column",
     {"add", "x", "--every", "1s", "--handler", "h", "--args", "{bad"}},
    {MISSING, "--args: not valid JSON",
     {"add", "x", "--every", "1s", "--handler", "h", "--args", "NaN"}},
    {MISSING, "--args: not valid JSON",
     {"add", "x", "--every", "1s", "--handler", "h", "--args",
      "99999999999999999999"}},
    {MISSING, "--args: not valid JSON",
     {"add", "x", "--every", "1s", "--handler", "h", "--args", "\"\xff\""}},
    {MISSING, "duplicate", {"add", "x", "--every", "1s", "--handler", "h",
                            "--args", "@dupargs.json"}},
    {MISSING, "nesting too deep", {"add", "x", "--every", "1s", "--handler",
                                   "h", "--args", "@deep.json"}},
    {MISSING, "--args is 2.0 MiB; the limit is 1 MiB",
     {"add", "x", "--every", "1s", "--handler", "h", "--args", "@big.json"}},
    {MISSING, "--args: cannot open", {"add", "x", "--every", "1s",
                                      "--handler", "h", "--args",
                                      "@nosuch.json"}},
    /* ------------------------------------------------------- apply */
    {STORE, "no file given; write tock apply -f FILE", {"apply"}},
    {STORE, "--file needs a value", {"apply", "-f"}},
    {STORE, "unknown flag '--prunee'", {"apply", "-f", "@typo.json",
                                        "--prunee"}},
    {STORE, "cannot open", {"apply", "-f", "@nosuch.json"}},
    {STORE, "is a directory", {"apply", "-f", "@."}},
    {STORE, "syntax.json:3:", {"apply", "-f", "@syntax.json"}},
    {STORE, "empty.json is empty", {"apply", "-f", "@empty.json"}},
    {STORE, "blank.json is empty", {"apply", "-f", "@blank.json"}},
    {STORE, "jobs[0]: unknown field 'coalese'; did you mean 'coalesce'?",
     {"apply", "-f", "@typo.json"}},
    {STORE, "jobs[1]: id 'a' is also the id of jobs[0]",
     {"apply", "-f", "@dupid.json", "--prune"}},
    {STORE, "dupkey.json:1:", {"apply", "-f", "@dupkey.json"}},
    {STORE, "unknown top-level key 'handler'", {"apply", "-f", "@top.json"}},
    {STORE, "has no \"jobs\" list", {"apply", "-f", "@nojobs.json",
                                     "--prune"}},
    {STORE, "top level is not an object", {"apply", "-f", "@array.json"}},
    {STORE, "jobs[0].trigger", {"apply", "-f", "@cron.json"}},
    {STORE, "Mars/Olympus", {"apply", "-f", "@zone.json"}},
    {STORE, "jobs[0].id", {"apply", "-f", "@id.json"}},
    {STORE, "jobs[0].retries is a string", {"apply", "-f", "@type.json"}},
    {STORE, "jobs[0].queue is a number", {"apply", "-f",
                                          "@crlf_ok_but_bad.json"}},
    {STORE, "jitter 1s is not less than the interval",
     {"apply", "-f", "@jitter.json"}},
    {STORE, "larger than 16 MiB", {"apply", "-f", "@huge.json"}},
    {STORE, "jobs[0].args is 2.0 MiB; the limit is 1 MiB",
     {"apply", "-f", "@bigjob.json"}},
    {NONE, "no store given", {"apply", "-f", "@good.json"}},
    /* --------------------------------------- the other commands */
    {STORE, "unexpected argument 'extra'", {"ls", "extra"}},
    {STORE, "unknown flag '--bogus'", {"ls", "--bogus"}},
    {STORE, "--json takes no value", {"ls", "--json=1"}},
    {STORE, "missing argument; usage: tock show ID", {"show"}},
    {STORE, "job id \"bad id\"", {"show", "bad id"}},
    {STORE, "unexpected argument", {"show", "a", "b"}},
    {STORE, "job id \"a:b\"", {"rm", "a:b"}},
    {STORE, "missing argument; usage: tock rm ID", {"rm"}},
    {STORE, "job id is empty", {"pause", ""}},
    {STORE, "job id \"x*\"", {"resume", "x*"}},
    {STORE, "unexpected argument 'y'", {"resume", "x", "y"}},
    {STORE, "unknown flag '--nope'", {"run", "x", "--nope"}},
    {STORE, "job id \"a\\nb\"", {"run", "a\nb"}},
    {STORE, "--limit: 0 is out of range", {"runs", "--limit", "0"}},
    {STORE, "--limit: 'abc' is not a whole decimal number",
     {"runs", "--limit", "abc"}},
    {STORE, "--limit needs a value", {"runs", "--limit"}},
    {STORE, "--limit", {"runs", "-n", "100001"}},
    {STORE, "job id \"bad id\"", {"runs", "bad id"}},
    {STORE, "unexpected argument", {"runs", "a", "b"}},
    {STORE, "--limit", {"events", "--limit", "-1"}},
    {STORE, "--limit", {"events", "--limit", "1e3"}},
    {STORE, "unexpected argument 'x'", {"events", "x"}},
    {STORE, "--follow takes no value", {"events", "--follow=yes"}},
};

/* ----------------------------------------------------------------- state */

/* snapshot renders everything a write would change: every job with its
 * version, epoch, state and times, and the newest event id. It reads the
 * store in-process (a spawned `tock ls --json` per case would make this
 * test slow); the test also compares `tock ls --json` at the end. */
static char *snapshot(void)
{
    struct tock_error err = {0};
    struct tock_store *s = NULL;
    struct tock_job_state *jobs = NULL;
    struct tock_event *ev = NULL;
    int64_t *ids = NULL, last = 0;
    size_t n = 0, ne = 0, i, len = 0;
    char *text = malloc(64 * 1024);

    assert_tock_ok(tock_store_open(cli_store, NULL, &s, &err), &err);
    assert_tock_ok(tock_store_job_list(s, &jobs, &n, &err), &err);
    for (i = 0; i < n; i++)
        len += (size_t)snprintf(
            text + len, 64 * 1024 - len,
            "%s v%lld e%lld p%d n%lld f%lld u%lld %s\n", jobs[i].job.id,
            (long long)jobs[i].job.version, (long long)jobs[i].epoch,
            (int)jobs[i].job.paused, (long long)jobs[i].next_fire_ms,
            (long long)jobs[i].fired_ms, (long long)jobs[i].updated_ms,
            jobs[i].job.trigger);
    tock_job_state_list_free(jobs, n);
    do {
        assert_tock_ok(tock_store_events(s, last, 1000, &ev, &ids, &ne, &err),
                       &err);
        if (ne > 0)
            last = ids[ne - 1];
        tock_event_list_free(ev, ids, ne);
    } while (ne > 0);
    snprintf(text + len, 64 * 1024 - len, "events up to %lld\n",
             (long long)last);
    tock_store_close(s);
    return text;
}

static void write_files(void)
{
    static const char head[] = "{\"jobs\": [{\"id\": \"a\", \"trigger\": "
                               "\"interval:1s\", \"handler\": \"h\", "
                               "\"args\": \"";
    char path[700], *big;
    size_t i, n = 2 * 1024 * 1024, head_len;
    int fd;

    for (i = 0; i < sizeof files / sizeof files[0]; i++)
        cli_write_file(files[i].name, files[i].text);
    /* 2 MiB of args, as --args @big.json and inside a job file. */
    big = malloc(n + 200);
    big[0] = '"';
    memset(big + 1, 'x', n);
    strcpy(big + 1 + n, "\"");
    cli_write_file("big.json", big);
    head_len = strlen(head);
    memcpy(big, head, head_len);
    memset(big + head_len, 'x', n);
    strcpy(big + head_len + n, "\"}]}");
    cli_write_file("bigjob.json", big);
    free(big);
    /* A sparse file over the 16 MiB limit: refused without reading. */
    snprintf(path, sizeof path, "%s/huge.json", cli_dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 17 * 1024 * 1024), 0);
    close(fd);
}

/* resolve turns "@NAME" into the path of NAME in the test's directory
 * (into buf); other arguments stay as they are. */
static const char *resolve(const char *arg, char *buf, size_t cap, bool args)
{
    if (arg[0] != '@' || arg[1] == '\0')
        return arg;
    snprintf(buf, cap, "%s%s/%s", args ? "@" : "", cli_dir, arg + 1);
    return buf;
}

static void run_case(const struct bad *c, const char *baseline,
                     const char *missing_url, const char *missing_path)
{
    char bufs[16][800];
    const char *argv[17];
    char saved[600];
    struct cli_result r;
    char *after;
    size_t i;

    for (i = 0; c->args[i] != NULL; i++)
        argv[i] = resolve(c->args[i], bufs[i], sizeof bufs[i],
                          i > 0 && strcmp(c->args[i - 1], "--args") == 0);
    argv[i] = NULL;
    snprintf(saved, sizeof saved, "%s", cli_store);
    if (c->where == NONE)
        cli_store[0] = '\0';
    else if (c->where == MISSING)
        snprintf(cli_store, sizeof cli_store, "%s", missing_url);
    cli_runv(&r, NULL, argv);
    snprintf(cli_store, sizeof cli_store, "%s", saved);
    if (r.status != 2 || strncmp(r.err, "tock: ", 6) != 0 ||
        cli_count(r.err, "\n") != 1 || r.err[strlen(r.err) - 1] != '\n' ||
        strstr(r.err, c->expect) == NULL || r.out[0] != '\0')
        fail_msg("tock %s %s: exit %d, stderr '%s', stdout '%.80s'; want 2 "
                 "and '%s'",
                 c->args[0], c->args[1] ? c->args[1] : "", r.status, r.err,
                 r.out, c->expect);
    cli_result_free(&r);
    if (cli_file_exists(missing_path))
        fail_msg("tock %s created %s", c->args[0], missing_path);
    after = snapshot();
    if (strcmp(after, baseline) != 0)
        fail_msg("tock %s %s changed the store", c->args[0],
                 c->args[1] ? c->args[1] : "");
    free(after);
}

static void test_bad_input(void **state)
{
    char missing_path[700], missing_url[720], *baseline, *ls_before, *ls_after;
    size_t i;

    (void)state;
    write_files();
    free(CLI_OK("add", "tick", "--every", "2s", "--handler", "append"));
    free(CLI_OK("add", "x", "--cron", "0 3 * * *", "--handler", "h"));
    free(CLI_OK("pause", "x"));
    baseline = snapshot();
    snprintf(missing_path, sizeof missing_path, "%s/missing.db", cli_dir);
    snprintf(missing_url, sizeof missing_url, "sqlite:%s", missing_path);
    ls_before = CLI_OK("ls", "--json");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], baseline, missing_url, missing_path);
    ls_after = CLI_OK("ls", "--json");
    assert_string_equal(ls_before, ls_after);
    free(ls_before);
    free(ls_after);
    free(baseline);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_input, cli_setup,
                                        cli_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
