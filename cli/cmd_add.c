/* cmd_add.c: tock add ID --cron EXPR | --every D | --at TIME ... */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/output.h"
#include "core/alloc.h"
#include "scheduler/jobspec.h"

static const struct tock_cli_usage usage = {
    "tock add ID (--cron EXPR | --every DURATION | --at TIME | --trigger TEXT)"
    " --handler NAME [flags]",
    "Adds one job. It fails if a job with this id exists: change jobs with\n"
    "'tock apply -f FILE', or remove one first with 'tock rm ID'.",
};

/* when_check computes the first fire time on `now_ms` and refuses a job
 * that `tock add` would add for nothing: one that never fires, or a date
 * that passed longer ago than its misfire grace. */
static int when_check(const struct tock_job *job, int64_t now_ms,
                      int64_t *next_ms, struct tock_error *err)
{
    char when[48];
    int rc = tock_jobspec_first_fire(job, now_ms, next_ms, err);

    if (rc != 0)
        return rc;
    if (*next_ms < 0)
        return tock_error_set(err, TOCK_ERANGE,
                              "job '%s' would never fire: its end or its "
                              "date has passed; give a later --end or --at",
                              job->id);
    if (strncmp(job->trigger, "date:", 5) == 0 && *next_ms < now_ms &&
        job->misfire_grace_ms >= 0 &&
        now_ms - *next_ms > job->misfire_grace_ms) {
        tock_output_time_full(*next_ms, when, sizeof when);
        return tock_error_set(err, TOCK_ERANGE,
                              "--at %s has passed (longer ago than the "
                              "misfire grace); give a future time",
                              when);
    }
    return 0;
}

static int read_args(struct tock_jobspec_flags *f, char **owned)
{
    struct tock_error err = {0};

    *owned = NULL;
    if (f->args == NULL || f->args[0] != '@') {
        f->args_len = f->args ? strlen(f->args) : 0;
        return -1;
    }
    if (tock_cli_read_arg(f->args, TOCK_JOBSPEC_FILE_MAX, owned, &f->args_len,
                          &err) != 0) {
        tock_error_prefix(&err, "--args");
        return tock_cli_usage_fail(&err);
    }
    f->args = *owned;
    return -1;
}

static int report(const struct tock_job *job, int64_t version, int64_t next,
                  bool json)
{
    char when[48], line[256];
    json_t *o;

    if (json) {
        o = json_pack("{s:s, s:I, s:o}", "id", job->id, "version",
                      (json_int_t)version, "next_fire_ms",
                      tock_output_jint_or_null(next, -1));
        tock_output_json(o);
        return tock_output_done(TOCK_EXIT_OK);
    }
    tock_output_time(next, when, sizeof when);
    snprintf(line, sizeof line, "added %s: %s, next fire %s", job->id,
             job->trigger, when);
    tock_output_line(line);
    return tock_output_done(TOCK_EXIT_OK);
}

static int add_job(const char *url, const struct tock_jobspec *spec,
                   bool json)
{
    struct tock_error err = {0};
    struct tock_store *s = NULL;
    enum tock_put_outcome outcome;
    int64_t now, next, version = 0;
    int status;

    /* Every check first, on this host's clock, so that a bad request
     * neither writes nor creates a store. */
    if (when_check(&spec->job, tock_cli_wall_ms(), &next, &err) != 0)
        return tock_cli_usage_fail(&err);
    if ((status = tock_cli_open_store(url, true, &s)) != 0)
        return status;
    if (tock_store_now(s, &now, &err) != 0) {
        status = tock_cli_store_fail(&err);
    } else if (when_check(&spec->job, now, &next, &err) != 0) {
        status = tock_cli_usage_fail(&err);
    } else if (tock_store_job_put(s, &spec->job, next, TOCK_PUT_CREATE, 0,
                                  &outcome, &version, &err) != 0) {
        if (err.code == TOCK_EEXIST)
            status = tock_cli_fail(TOCK_EXIT_FAIL,
                                   "job '%s' already exists; change it with "
                                   "'tock apply -f FILE', or remove it first "
                                   "with 'tock rm %s'",
                                   spec->job.id, spec->job.id);
        else
            status = tock_cli_store_fail(&err);
    } else {
        status = report(&spec->job, version, next, json);
    }
    tock_store_close(s);
    return status;
}

int tock_cmd_add(int argc, char **argv)
{
    struct tock_jobspec_flags f;
    struct tock_jobspec spec;
    struct tock_error err = {0};
    const char *url = NULL;
    bool help = false, json = false;
    char *args_text = NULL;
    int npos, status;

    memset(&f, 0, sizeof f);
    memset(&spec, 0, sizeof spec);
    const struct tock_flag flags[] = {
        {"cron", 0, NULL, TOCK_FLAG_STRING, &f.cron, 0, 0, NULL, "EXPR",
         "fire on a cron expression (5 or 6 fields, or @daily...)"},
        {"every", 0, NULL, TOCK_FLAG_STRING, &f.every, 0, 0, NULL, "DURATION",
         "fire every DURATION (90s, 1h30m)"},
        {"at", 0, NULL, TOCK_FLAG_STRING, &f.at, 0, 0, NULL, "TIME",
         "fire once at TIME (RFC 3339; local time with --tz)"},
        {"trigger", 0, NULL, TOCK_FLAG_STRING, &f.trigger, 0, 0, NULL, "TEXT",
         "any trigger text form (calendar:..., or(...))"},
        {"tz", 0, NULL, TOCK_FLAG_STRING, &f.tz, 0, 0, NULL, "ZONE",
         "IANA time zone of --cron or --at (default UTC)"},
        {"handler", 0, NULL, TOCK_FLAG_STRING, &f.handler, 0, 0, NULL, "NAME",
         "the handler the workers run (required)"},
        {"args", 0, NULL, TOCK_FLAG_STRING, &f.args, 0, 0, NULL, "JSON",
         "arguments for the handler, JSON (@FILE reads a file; <= 1 MiB)"},
        {"queue", 0, NULL, TOCK_FLAG_STRING, &f.queue, 0, 0, NULL, "Q",
         "queue of its tasks (default 'default')"},
        {"name", 0, NULL, TOCK_FLAG_STRING, &f.name, 0, 0, NULL, "TEXT",
         "display name"},
        {"misfire-grace", 0, NULL, TOCK_FLAG_STRING, &f.misfire_grace, 0, 0,
         NULL, "D", "how late it may still fire, or 'unlimited' (60s)"},
        {"no-coalesce", 0, NULL, TOCK_FLAG_BOOL, &f.no_coalesce, 0, 0, NULL,
         NULL, "fire each missed occurrence, not one for all"},
        {"max-instances", 0, NULL, TOCK_FLAG_STRING, &f.max_instances, 0, 0,
         NULL, "N", "runs at once (1)"},
        {"timeout", 0, NULL, TOCK_FLAG_STRING, &f.timeout, 0, 0, NULL, "D",
         "task deadline on the worker (none)"},
        {"jitter", 0, NULL, TOCK_FLAG_STRING, &f.jitter, 0, 0, NULL, "D",
         "random delay of each firing, up to D (0s)"},
        {"retries", 0, NULL, TOCK_FLAG_STRING, &f.retries, 0, 0, NULL, "N",
         "retries after a failure (0)"},
        {"retry-backoff", 0, NULL, TOCK_FLAG_STRING, &f.retry_backoff, 0, 0,
         NULL, "D", "first retry delay, doubling (0s)"},
        {"max-deliveries", 0, NULL, TOCK_FLAG_STRING, &f.max_deliveries, 0,
         0, NULL, "N", "deliveries of a task whose worker died (3)"},
        {"start", 0, NULL, TOCK_FLAG_STRING, &f.start, 0, 0, NULL, "TIME",
         "no occurrence before TIME (anchors --every)"},
        {"end", 0, NULL, TOCK_FLAG_STRING, &f.end, 0, 0, NULL, "TIME",
         "no occurrence after TIME"},
        {"paused", 0, NULL, TOCK_FLAG_BOOL, &f.paused, 0, 0, NULL, NULL,
         "add it paused"},
        TOCK_CLI_STORE_FLAG(&url),
        TOCK_CLI_JSON_FLAG(&json),
        TOCK_CLI_HELP_FLAG(&help),
        TOCK_CLI_FLAGS_END,
    };

    status = tock_cli_parse(flags, &help, &usage, "tock add", argc, argv, 1, 1,
                            &npos);
    if (status >= 0)
        return status;
    f.id = argv[1];
    if ((status = read_args(&f, &args_text)) >= 0)
        return status;
    if (tock_jobspec_from_flags(&f, &spec, &err) != 0)
        status = tock_cli_usage_fail(&err);
    else
        status = add_job(url, &spec, json);
    tock_jobspec_clear(&spec);
    tock_free(args_text);
    return status;
}
