/* test_jobspec.c: job definitions from the JSON config file and from the
 * flags of `tock add`: defaults, every field, canonical triggers, the
 * strictness rules (unknown fields, duplicate ids and keys, types,
 * ranges, sizes), file reading (BOM, CRLF, empty, oversized, missing) and
 * the first fire time. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "proto/json.h"
#include "scheduler/jobspec.h"
#include "scheduler/tz.h"
#include "support.h"

/* ---------------------------------------------------------------- helpers */

static int64_t ms_at(const char *rfc3339)
{
    struct tock_error err = {0};
    int64_t ms = 0;

    assert_tock_ok(tock_time_parse(rfc3339, &ms, "test", &err), &err);
    return ms;
}

static void load_ok(const char *text, struct tock_jobspec_set *set)
{
    struct tock_error err = {0};

    if (tock_jobspec_load_text(text, strlen(text), "jobs.json", set, &err))
        fail_msg("load failed: %s", err.msg);
}

/* load_err loads `text`, expects `code` and a message containing every
 * '|'-separated part of `parts`. */
static void load_err(const char *text, int code, const char *parts)
{
    struct tock_jobspec_set set;
    struct tock_error err = {0};
    char buf[256], *p, *save = NULL;
    int rc = tock_jobspec_load_text(text, strlen(text), "jobs.json", &set,
                                    &err);

    if (rc != code)
        fail_msg("'%s': got %s (%s), want %s", text, tock_err_name(rc), err.msg,
                 tock_err_name(code));
    assert_null(set.jobs);
    assert_int_equal(set.n, 0);
    snprintf(buf, sizeof buf, "%s", parts);
    for (p = strtok_r(buf, "|", &save); p; p = strtok_r(NULL, "|", &save))
        if (strstr(err.msg, p) == NULL)
            fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, p);
    assert_null(strchr(err.msg, '\n'));
}

/* job1 wraps one job's fields (JSON members) in a config file. */
static char *job1(const char *members)
{
    char *text;

    if (asprintf(&text, "{\"jobs\": [{\"id\": \"j\", \"handler\": \"h\", %s}]}",
                 members) < 0)
        return NULL;
    return text;
}

static void job1_err(const char *members, int code, const char *parts)
{
    char *text = job1(members);

    load_err(text, code, parts);
    free(text);
}

static char *args_text(const struct tock_job *job)
{
    char *text = NULL;
    struct tock_error err = {0};

    assert_tock_ok(tock_json_msgpack_to_text(job->args, job->args_len, NULL,
                                             JSON_COMPACT, &text, &err),
                   &err);
    return text;
}

/* ------------------------------------------------------------- the file */

static void test_defaults(void **state)
{
    struct tock_jobspec_set set;
    const struct tock_job *j;

    (void)state;
    load_ok("{\"jobs\": [{\"id\": \"tick\", \"trigger\": \"interval:2s\","
            " \"handler\": \"append\"}]}",
            &set);
    assert_true(set.has_jobs);
    assert_int_equal(set.n, 1);
    j = &set.jobs[0].job;
    assert_string_equal(j->id, "tick");
    assert_string_equal(j->trigger, "interval:2s");
    assert_string_equal(j->handler, "append");
    assert_string_equal(j->queue, "default");
    assert_null(j->name);
    assert_null(j->args);
    assert_int_equal(j->misfire_grace_ms, 60000);
    assert_true(j->coalesce);
    assert_int_equal(j->max_instances, 1);
    assert_int_equal(j->max_deliveries, 3);
    assert_int_equal(j->timeout_ms, 0);
    assert_int_equal(j->retries, 0);
    assert_false(j->paused);
    assert_false(set.jobs[0].paused_set);
    assert_int_equal(j->version, 0);
    tock_jobspec_set_clear(&set);
    tock_jobspec_set_clear(&set); /* twice is safe */
}

static void test_every_field(void **state)
{
    struct tock_jobspec_set set;
    const struct tock_job *j;
    char *args;

    (void)state;
    load_ok("{\"handlers\": {\"x\": {\"argv\": [\"/bin/true\"]}},\n"
            " \"jobs\": [{\"id\": \"backup-1.db\", \"name\": \"Nightly backup\","
            " \"queue\": \"slow\", \"handler\": \"backup\","
            " \"trigger\": \"cron:0 3 * * *@Europe/Berlin\","
            " \"args\": {\"db\": \"main\", \"keep\": [1, 2.5, null, true]},"
            " \"misfire_grace\": \"unlimited\", \"coalesce\": false,"
            " \"max_instances\": 2, \"jitter\": \"30s\", \"timeout\": \"1h30m\","
            " \"retries\": 3, \"retry_backoff\": \"10s\", \"max_deliveries\": 1,"
            " \"paused\": true, \"start\": \"2026-01-01T00:00:00Z\","
            " \"end\": \"2027-01-01T00:00:00+01:00\"}]}",
            &set);
    j = &set.jobs[0].job;
    assert_string_equal(j->id, "backup-1.db");
    assert_string_equal(j->name, "Nightly backup");
    assert_string_equal(j->queue, "slow");
    assert_string_equal(j->trigger, "cron:0 3 * * *@Europe/Berlin");
    args = args_text(j);
    assert_string_equal(args, "{\"db\":\"main\",\"keep\":[1,2.5,null,true]}");
    tock_free(args);
    assert_int_equal(j->misfire_grace_ms, -1);
    assert_false(j->coalesce);
    assert_int_equal(j->max_instances, 2);
    assert_int_equal(j->jitter_ms, 30000);
    assert_int_equal(j->timeout_ms, 5400000);
    assert_int_equal(j->retries, 3);
    assert_int_equal(j->retry_backoff_ms, 10000);
    assert_int_equal(j->max_deliveries, 1);
    assert_true(j->paused);
    assert_true(set.jobs[0].paused_set);
    assert_int_equal(j->start_ms, ms_at("2026-01-01T00:00:00Z"));
    assert_int_equal(j->end_ms, ms_at("2026-12-31T23:00:00Z"));
    tock_jobspec_set_clear(&set);
}

/* Two spellings of one trigger are one definition. */
static void test_canonical_trigger(void **state)
{
    static const char *const cases[][2] = {
        {"cron:0 3 * * *@UTC", "cron:0 3 * * *"},
        {"cron:0 9 * * 1-5@US/Eastern", "cron:0 9 * * 1-5@America/New_York"},
        {"interval:90s", "interval:1m30s"},
        {"date:2026-03-29T03:00:00.000+02:00", "date:2026-03-29T03:00:00+02:00"},
    };
    struct tock_jobspec_set set;
    char member[160], *text;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(member, sizeof member, "\"trigger\": \"%s\"", cases[i][0]);
        text = job1(member);
        load_ok(text, &set);
        if (strcmp(set.jobs[0].job.trigger, cases[i][1]) != 0)
            fail_msg("'%s' became '%s', want '%s'", cases[i][0],
                     set.jobs[0].job.trigger, cases[i][1]);
        tock_jobspec_set_clear(&set);
        free(text);
    }
}

static void test_bom_crlf_and_no_jobs(void **state)
{
    struct tock_jobspec_set set;

    (void)state;
    load_ok("\xEF\xBB\xBF{\r\n\"jobs\": [\r\n {\"id\": \"a\", \"trigger\":"
            " \"interval:1s\", \"handler\": \"h\"}\r\n]\r\n}\r\n",
            &set);
    assert_int_equal(set.n, 1);
    tock_jobspec_set_clear(&set);
    load_ok("{\"handlers\": {}}", &set);
    assert_false(set.has_jobs);
    assert_int_equal(set.n, 0);
    tock_jobspec_set_clear(&set);
    load_ok("{\"jobs\": []}", &set);
    assert_true(set.has_jobs);
    assert_int_equal(set.n, 0);
    tock_jobspec_set_clear(&set);
}

static void test_file_syntax(void **state)
{
    (void)state;
    load_err("", TOCK_EFORMAT, "jobs.json is empty");
    load_err(" \r\n\t\n", TOCK_EFORMAT, "jobs.json is empty");
    load_err("\xEF\xBB\xBF", TOCK_EFORMAT, "is empty");
    load_err("{\"jobs\": [\n  {\"id\": \"a\",\n   \"trigger\" \"x\"}]}",
             TOCK_EFORMAT, "jobs.json:3:");
    load_err("{\"jobs\": []", TOCK_EFORMAT, "jobs.json:1:");
    load_err("{\"jobs\": [], \"jobs\": []}", TOCK_EDUPKEY, "jobs.json:1:");
    load_err("{\"jobs\": [{\"id\": \"a\", \"id\": \"b\"}]}", TOCK_EDUPKEY,
             "duplicate");
    load_err("{\"jobs\": [{\"id\": \"\xff\"}]}", TOCK_EFORMAT, "jobs.json:1:");
    load_err("[]", TOCK_EFORMAT, "top level is not an object");
    load_err("42", TOCK_EFORMAT, "top level is not an object");
    load_err("{\"job\": []}", TOCK_EINVAL, "unknown top-level key 'job'");
    load_err("{\"jobs\": {}}", TOCK_ETYPE, "\"jobs\" is not a list");
    load_err("{\"jobs\": [42]}", TOCK_ETYPE, "jobs[0] is not an object");
}

static void test_duplicate_ids(void **state)
{
    (void)state;
    load_err("{\"jobs\": ["
             "{\"id\": \"a\", \"trigger\": \"interval:1s\", \"handler\": \"h\"},"
             "{\"id\": \"b\", \"trigger\": \"interval:1s\", \"handler\": \"h\"},"
             "{\"id\": \"a\", \"trigger\": \"interval:2s\", \"handler\": \"h\"}]}",
             TOCK_EEXIST, "jobs[2]: id 'a' is also the id of jobs[0]");
}

static void test_unknown_and_missing(void **state)
{
    (void)state;
    job1_err("\"trigger\": \"interval:1s\", \"coalese\": true", TOCK_EINVAL,
             "jobs[0]: unknown field 'coalese'; did you mean 'coalesce'?");
    job1_err("\"trigger\": \"interval:1s\", \"colour\": 1", TOCK_EINVAL,
             "unknown field 'colour'|docs/cli.md");
    load_err("{\"jobs\": [{\"trigger\": \"interval:1s\", \"handler\": \"h\"}]}",
             TOCK_EMISSING, "jobs[0].id is missing");
    load_err("{\"jobs\": [{\"id\": \"a\", \"handler\": \"h\"}]}", TOCK_EMISSING,
             "jobs[0].trigger is missing");
    load_err("{\"jobs\": [{\"id\": \"a\", \"trigger\": \"interval:1s\"}]}",
             TOCK_EMISSING, "jobs[0].handler is missing");
}

static void test_types(void **state)
{
    (void)state;
    job1_err("\"trigger\": \"interval:1s\", \"max_instances\": \"3\"",
             TOCK_ETYPE, "jobs[0].max_instances is a string; give a whole number");
    job1_err("\"trigger\": \"interval:1s\", \"max_instances\": 2.5",
             TOCK_ETYPE, "max_instances is a number");
    job1_err("\"trigger\": \"interval:1s\", \"coalesce\": \"yes\"", TOCK_ETYPE,
             "coalesce is a string; give true or false");
    job1_err("\"trigger\": \"interval:1s\", \"timeout\": 30", TOCK_ETYPE,
             "timeout is a number; give a string with a unit");
    job1_err("\"trigger\": 5", TOCK_ETYPE, "jobs[0].trigger is a number");
    job1_err("\"trigger\": \"interval:1s\", \"name\": null", TOCK_ETYPE,
             "name is null");
    job1_err("\"trigger\": \"interval:1s\", \"start\": 1700000000000",
             TOCK_ETYPE, "RFC 3339");
}

static void test_names(void **state)
{
    (void)state;
    load_err("{\"jobs\": [{\"id\": \"a b\", \"trigger\": \"interval:1s\","
             " \"handler\": \"h\"}]}",
             TOCK_EINVAL, "jobs[0].id");
    load_err("{\"jobs\": [{\"id\": \"a:b\", \"trigger\": \"interval:1s\","
             " \"handler\": \"h\"}]}",
             TOCK_EINVAL, "contains ':'");
    load_err("{\"jobs\": [{\"id\": \"\", \"trigger\": \"interval:1s\","
             " \"handler\": \"h\"}]}",
             TOCK_EINVAL, "jobs[0].id is empty");
    job1_err("\"trigger\": \"interval:1s\", \"queue\": \"\"", TOCK_EINVAL,
             "jobs[0].queue is empty");
    load_err("{\"jobs\": [{\"id\": \"a\", \"trigger\": \"interval:1s\","
             " \"handler\": \"../../bin/sh\"}]}",
             TOCK_EINVAL, "jobs[0].handler");
    job1_err("\"trigger\": \"interval:1s\", \"name\": \"\\u001b[31mred\"",
             TOCK_EINVAL, "control character");
    job1_err("\"trigger\": \"interval:1s\", \"name\": \"a\\u202eb\"",
             TOCK_EINVAL, "control character U+202E");
}

static void test_trigger_errors(void **state)
{
    (void)state;
    job1_err("\"trigger\": \"cron:60 * * * *\"", TOCK_ERANGE,
             "jobs[0].trigger");
    job1_err("\"trigger\": \"cron:0 3 * * *@Mars/Olympus\"", TOCK_ENOENT,
             "Mars/Olympus");
    job1_err("\"trigger\": \"cron:0 0 30 2 *\"", TOCK_ENOTIME,
             "jobs[0].trigger");
    job1_err("\"trigger\": \"interval:0s\"", TOCK_ERANGE, "jobs[0].trigger");
    job1_err("\"trigger\": \"\"", TOCK_EINVAL, "jobs[0].trigger");
    job1_err("\"trigger\": \"date:2024-02-30T00:00:00Z\"", TOCK_EINVAL,
             "jobs[0].trigger");
}

static void test_values(void **state)
{
    (void)state;
    job1_err("\"trigger\": \"interval:1s\", \"timeout\": \"5\"", TOCK_EINVAL,
             "jobs[0].timeout: '5' has no unit");
    job1_err("\"trigger\": \"interval:1s\", \"timeout\": \"0s\"", TOCK_ERANGE,
             "jobs[0].timeout: '0s' is zero");
    job1_err("\"trigger\": \"interval:1s\", \"misfire_grace\": \"-5s\"",
             TOCK_EINVAL, "jobs[0].misfire_grace");
    job1_err("\"trigger\": \"interval:1s\", \"jitter\": \"5 s\"", TOCK_EINVAL,
             "jobs[0].jitter");
    job1_err("\"trigger\": \"interval:1s\", \"retries\": 1000000000",
             TOCK_ERANGE, "jobs[0].retries: 1000000000 is out of range");
    job1_err("\"trigger\": \"interval:1s\", \"retries\": -1", TOCK_ERANGE,
             "retries");
    job1_err("\"trigger\": \"interval:1s\", \"max_instances\": 0", TOCK_ERANGE,
             "max_instances");
    job1_err("\"trigger\": \"interval:1s\", \"max_deliveries\": 0",
             TOCK_ERANGE, "max_deliveries");
    job1_err("\"trigger\": \"interval:1s\", \"max_instances\": "
             "99999999999999999999",
             TOCK_EFORMAT, "jobs.json:1:");
    job1_err("\"trigger\": \"interval:1s\", \"start\": \"2026-01-01\"",
             TOCK_EINVAL, "jobs[0].start");
    job1_err("\"trigger\": \"interval:1s\", \"start\": \"2027-01-01T00:00:00Z\","
             " \"end\": \"2026-01-01T00:00:00Z\"",
             TOCK_EINVAL, "jobs[0].trigger: start 2027-01-01T00:00:00Z is after end");
}

static void test_args(void **state)
{
    struct tock_error err = {0};
    char *big;
    const char *text;
    char *owned;
    size_t n = 2 * 1024 * 1024;
    uint8_t *mp = NULL;
    size_t mplen = 0;

    (void)state;
    /* 2 MiB of string data: refused with both sizes named. */
    big = malloc(n + 64);
    assert_non_null(big);
    memcpy(big, "\"args\": \"", 9);
    memset(big + 9, 'x', n);
    strcpy(big + 9 + n, "\", \"trigger\": \"interval:1s\"");
    job1_err(big, TOCK_ETOOBIG, "jobs[0].args is 2.0 MiB; the limit is 1 MiB");
    assert_int_equal(tock_jobspec_args(big + 8, n + 2, "--args", &mp, &mplen,
                                       &err),
                     TOCK_ETOOBIG);
    assert_non_null(strstr(err.msg, "--args is 2.0 MiB; the limit is 1 MiB"));
    assert_null(mp);
    free(big);
    /* Just under the limit passes. */
    text = "[1, \"a\", {\"b\": null}]";
    assert_tock_ok(tock_jobspec_args(text, strlen(text), "--args", &mp, &mplen,
                                     &err),
                   &err);
    tock_free(mp);
    /* Too deep, bad "$bin", and syntax errors with their position. */
    owned = job1("\"trigger\": \"interval:1s\", \"args\": "
                 "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]");
    load_err(owned, TOCK_ETOODEEP, "jobs[0].args");
    free(owned);
    job1_err("\"trigger\": \"interval:1s\", \"args\": {\"$bin\": \"!!\"}",
             TOCK_EFORMAT, "jobs[0].args");
    assert_int_equal(tock_jobspec_args("{\"a\": }", 7, "--args", &mp, &mplen,
                                       &err),
                     TOCK_EFORMAT);
    assert_non_null(strstr(err.msg, "--args: not valid JSON at line 1"));
    assert_int_equal(tock_jobspec_args("{\"a\": 1, \"a\": 2}", 16, "--args",
                                       &mp, &mplen, &err),
                     TOCK_EDUPKEY);
}

/* ----------------------------------------------------------- file reading */

static void test_load_file(void **state)
{
    struct tock_jobspec_set set;
    struct tock_error err = {0};
    char *dir = tock_test_tmpdir("jobspec"), path[512];
    FILE *f;
    int fd;

    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/jobs.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"jobs\": [{\"id\": \"a\", \"trigger\": \"cron:*/5 * * * *\","
          " \"handler\": \"h\"}]}\n", f);
    fclose(f);
    assert_tock_ok(tock_jobspec_load_file(path, &set, &err), &err);
    assert_int_equal(set.n, 1);
    tock_jobspec_set_clear(&set);

    /* Errors name the file. */
    f = fopen(path, "w");
    fputs("{\"jobs\": [{\"id\": \"a\"}]}", f);
    fclose(f);
    assert_int_equal(tock_jobspec_load_file(path, &set, &err), TOCK_EMISSING);
    assert_non_null(strstr(err.msg, path));

    /* A file over the limit is refused without being read (sparse). */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, TOCK_JOBSPEC_FILE_MAX + 1), 0);
    close(fd);
    assert_int_equal(tock_jobspec_load_file(path, &set, &err), TOCK_ETOOBIG);
    assert_non_null(strstr(err.msg, "larger than 16 MiB"));

    assert_int_equal(tock_jobspec_load_file(dir, &set, &err), TOCK_EIO);
    assert_non_null(strstr(err.msg, "is a directory"));
    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_int_equal(tock_jobspec_load_file(path, &set, &err), TOCK_EIO);
    assert_non_null(strstr(err.msg, "No such file"));
    tock_test_rmtree(dir);
}

/* -------------------------------------------------------------- flags */

static void flags_ok(const struct tock_jobspec_flags *f, struct tock_jobspec *s)
{
    struct tock_error err = {0};

    if (tock_jobspec_from_flags(f, s, &err) != 0)
        fail_msg("from_flags: %s", err.msg);
}

static void flags_err(const struct tock_jobspec_flags *f, int code,
                      const char *part)
{
    struct tock_jobspec s;
    struct tock_error err = {0};
    int rc = tock_jobspec_from_flags(f, &s, &err);

    if (rc != code || strstr(err.msg, part) == NULL)
        fail_msg("got %s '%s', want %s '%s'", tock_err_name(rc), err.msg,
                 tock_err_name(code), part);
    assert_null(s.job.id);
}

static void test_flags(void **state)
{
    struct tock_jobspec_flags f;
    struct tock_jobspec s;

    (void)state;
    memset(&f, 0, sizeof f);
    f.id = "nightly";
    f.cron = "0 3 * * *";
    f.tz = "Europe/Berlin";
    f.handler = "backup";
    f.args = "{\"k\": 1}";
    f.args_len = strlen(f.args);
    f.misfire_grace = "5m";
    f.timeout = "30s";
    f.retries = "2";
    f.max_instances = "4";
    f.no_coalesce = true;
    flags_ok(&f, &s);
    assert_string_equal(s.job.trigger, "cron:0 3 * * *@Europe/Berlin");
    assert_int_equal(s.job.misfire_grace_ms, 300000);
    assert_int_equal(s.job.timeout_ms, 30000);
    assert_int_equal(s.job.retries, 2);
    assert_int_equal(s.job.max_instances, 4);
    assert_false(s.job.coalesce);
    assert_true(s.paused_set);
    assert_int_equal(s.job.args_len, 4); /* {"k":1}: 0x81 0xa1 'k' 0x01 */
    tock_jobspec_clear(&s);

    memset(&f, 0, sizeof f);
    f.id = "tick";
    f.every = "90s";
    f.start = "2026-01-01T09:00:00+01:00";
    f.handler = "h";
    flags_ok(&f, &s);
    assert_string_equal(s.job.trigger, "interval:1m30s@2026-01-01T08:00:00Z");
    assert_int_equal(s.job.start_ms, ms_at("2026-01-01T08:00:00Z"));
    tock_jobspec_clear(&s);

    f.every = NULL;
    f.at = "2026-03-29T03:30:00";
    f.tz = "Europe/Berlin";
    f.start = NULL;
    flags_ok(&f, &s);
    assert_int_equal(strncmp(s.job.trigger, "date:", 5), 0);
    tock_jobspec_clear(&s);
}

static void test_flags_errors(void **state)
{
    struct tock_jobspec_flags f;

    (void)state;
    memset(&f, 0, sizeof f);
    f.handler = "h";
    f.every = "1s";
    flags_err(&f, TOCK_EMISSING, "the job id is missing");
    f.id = "bad id";
    flags_err(&f, TOCK_EINVAL, "job id \"bad id\" contains ' '");
    f.id = "a";
    f.every = NULL;
    flags_err(&f, TOCK_EMISSING, "give exactly one of --cron");
    f.every = "1s";
    f.cron = "* * * * *";
    flags_err(&f, TOCK_EINVAL, "give exactly one of --cron");
    f.cron = NULL;
    f.tz = "Europe/Berlin";
    flags_err(&f, TOCK_EINVAL, "--tz applies to --cron and --at");
    f.tz = NULL;
    f.every = "5";
    flags_err(&f, TOCK_EINVAL, "--every: '5' has no unit");
    f.every = NULL;
    f.cron = "61 * * * *";
    flags_err(&f, TOCK_ERANGE, "--cron: cron field 'minute'");
    f.cron = "@reboot";
    flags_err(&f, TOCK_EINVAL, "--cron");
    f.cron = "* * * * *";
    f.tz = "Mars/Olympus";
    flags_err(&f, TOCK_ENOENT, "--tz");
    f.tz = "../../etc/passwd";
    flags_err(&f, TOCK_EINVAL, "--tz");
    f.tz = NULL;
    f.timeout = "0s";
    flags_err(&f, TOCK_ERANGE, "--timeout: '0s' is zero");
    f.timeout = NULL;
    f.max_instances = "0x10";
    flags_err(&f, TOCK_EINVAL, "--max-instances");
    f.max_instances = "100000";
    flags_err(&f, TOCK_ERANGE, "--max-instances");
    f.max_instances = NULL;
    f.retries = "-1";
    flags_err(&f, TOCK_ERANGE, "--retries");
    f.retries = NULL;
    f.misfire_grace = "forever";
    flags_err(&f, TOCK_EINVAL, "--misfire-grace");
    f.misfire_grace = NULL;
    f.args = "{bad";
    f.args_len = 4;
    flags_err(&f, TOCK_EFORMAT, "--args: not valid JSON at line 1");
    f.args = NULL;
    f.handler = NULL;
    flags_err(&f, TOCK_EMISSING, "--handler is missing");
    f.handler = "h";
    f.queue = "a{b}";
    flags_err(&f, TOCK_EINVAL, "--queue");
    f.queue = NULL;
    f.start = "2027-01-01T00:00:00Z";
    f.end = "2026-01-01T00:00:00Z";
    flags_err(&f, TOCK_EINVAL, "is after end");
}

/* ---------------------------------------------------------- first fire */

static void first_fire(const char *members, int64_t now, int64_t want)
{
    struct tock_jobspec_set set;
    struct tock_error err = {0};
    char *text = job1(members);
    int64_t next = 0;

    load_ok(text, &set);
    assert_tock_ok(tock_jobspec_first_fire(&set.jobs[0].job, now, &next, &err),
                   &err);
    if (next != want)
        fail_msg("%s: next %lld, want %lld", members, (long long)next,
                 (long long)want);
    tock_jobspec_set_clear(&set);
    free(text);
}

static void test_first_fire(void **state)
{
    int64_t now = ms_at("2026-06-01T10:00:00.250Z");
    struct tock_jobspec_set set;
    struct tock_error err = {0};
    int64_t next;
    char *text;

    (void)state;
    first_fire("\"trigger\": \"interval:2s\"", now, now + 2000);
    first_fire("\"trigger\": \"cron:0 3 * * *\"", now,
               ms_at("2026-06-02T03:00:00Z"));
    first_fire("\"trigger\": \"cron:0 3 * * *@Europe/Berlin\"", now,
               ms_at("2026-06-02T01:00:00Z"));
    /* A date that has passed is kept: the firing loop decides. */
    first_fire("\"trigger\": \"date:2026-06-01T09:59:00Z\"", now,
               ms_at("2026-06-01T09:59:00Z"));
    /* start bounds the first occurrence; an end already past finishes. */
    first_fire("\"trigger\": \"cron:0 * * * *\", \"start\": "
               "\"2026-07-01T00:30:00Z\"",
               now, ms_at("2026-07-01T01:00:00Z"));
    first_fire("\"trigger\": \"cron:0 * * * *\", \"end\": "
               "\"2026-05-01T00:00:00Z\"",
               now, -1);
    /* A jitter not below the interval is refused. */
    text = job1("\"trigger\": \"interval:2s\", \"jitter\": \"2s\"");
    load_ok(text, &set);
    assert_int_equal(tock_jobspec_first_fire(&set.jobs[0].job, now, &next,
                                             &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "job 'j': trigger: jitter 2s"));
    tock_jobspec_set_clear(&set);
    free(text);
}

static void test_same(void **state)
{
    struct tock_jobspec_set a, b;

    (void)state;
    load_ok("{\"jobs\": [{\"id\": \"a\", \"trigger\": \"cron:0 3 * * *@UTC\","
            " \"handler\": \"h\", \"args\": {\"x\": 1}}]}", &a);
    load_ok("{\"jobs\": [{\"handler\": \"h\", \"args\": {\"x\": 1},"
            " \"id\": \"a\", \"trigger\": \"cron:0 3 * * *\"}]}", &b);
    assert_true(tock_jobspec_same(&a.jobs[0].job, &b.jobs[0].job));
    b.jobs[0].job.version = 7; /* not part of the definition */
    assert_true(tock_jobspec_same(&a.jobs[0].job, &b.jobs[0].job));
    b.jobs[0].job.retries = 1;
    assert_false(tock_jobspec_same(&a.jobs[0].job, &b.jobs[0].job));
    b.jobs[0].job.retries = 0;
    b.jobs[0].job.args[3] = 2;
    assert_false(tock_jobspec_same(&a.jobs[0].job, &b.jobs[0].job));
    tock_jobspec_set_clear(&a);
    tock_jobspec_set_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_canonical_trigger),
        cmocka_unit_test(test_bom_crlf_and_no_jobs),
        cmocka_unit_test(test_file_syntax),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_unknown_and_missing),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_trigger_errors),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_flags_errors),
        cmocka_unit_test(test_first_fire),
        cmocka_unit_test(test_same),
    };

    setenv("TZ", "UTC", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
