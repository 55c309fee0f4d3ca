/* cmd_control.c: tock rm / pause / resume / run ID: one job at a time. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/output.h"
#include "proto/codec.h"
#include "scheduler/jobspec.h"

/* One row per command: how it is called and what it does to the job. */
struct control {
    const char *name;
    const char *prog;
    struct tock_cli_usage usage;
    int (*act)(struct tock_store *s, const char *id, bool json,
               struct tock_error *err);
};

/* ------------------------------------------------------------- actions */

static int done_line(const char *what, const char *id, bool json)
{
    char line[256];

    if (json)
        return tock_output_json(json_pack("{s:s, s:s}", "id", id, "action",
                                          what));
    snprintf(line, sizeof line, "%s %s", what, id);
    tock_output_line(line);
    return 0;
}

static int act_rm(struct tock_store *s, const char *id, bool json,
                  struct tock_error *err)
{
    int rc = tock_store_job_remove(s, id, err);

    return rc ? rc : done_line("removed", id, json);
}

static int act_pause(struct tock_store *s, const char *id, bool json,
                     struct tock_error *err)
{
    int rc = tock_store_job_pause(s, id, err);

    return rc ? rc : done_line("paused", id, json);
}

/* act_resume recomputes the next fire time from now: occurrences that fell
 * while the job was paused are neither fired nor recorded missed. */
static int act_resume(struct tock_store *s, const char *id, bool json,
                      struct tock_error *err)
{
    struct tock_job_state st;
    char line[256], when[48];
    int64_t now, next = -1;
    int rc;

    memset(&st, 0, sizeof st);
    if ((rc = tock_store_job_get(s, id, &st, err)) != 0 ||
        (rc = tock_store_now(s, &now, err)) != 0 ||
        (rc = tock_jobspec_first_fire(&st.job, now, &next, err)) != 0 ||
        (rc = tock_store_job_resume(s, id, next, err)) != 0)
        goto done;
    if (json) {
        tock_output_json(json_pack("{s:s, s:s, s:o}", "id", id, "action",
                                   "resumed", "next_fire_ms",
                                   tock_output_jint_or_null(next, -1)));
    } else {
        tock_output_time(next, when, sizeof when);
        snprintf(line, sizeof line, "resumed %s: next fire %s", id,
                 next < 0 ? "none (finished)" : when);
        tock_output_line(line);
    }
done:
    tock_job_state_clear(&st);
    return rc;
}

/* build_task is the task builder of `tock run`: the task a worker gets for
 * the extra occurrence, encoded by proto/codec. */
static int build_task(void *ctx, const struct tock_job *job, int64_t sched_ms,
                      int64_t now_ms, uint8_t **body, size_t *len,
                      struct tock_error *err)
{
    char occ[TOCK_OCC_MAX];
    struct tock_task t;

    (void)ctx;
    memset(&t, 0, sizeof t);
    if (tock_occ_format(occ, sizeof occ, job->id, sched_ms) != 0)
        return tock_error_set(err, TOCK_ERANGE, "occurrence id of '%s' is too "
                              "long", job->id);
    /* The task only borrows the job's strings: it is encoded, never
     * cleared. */
    t.occ = occ;
    t.job = job->id;
    t.handler = job->handler;
    t.args = job->args;
    t.args_len = job->args_len;
    t.queue = job->queue;
    t.sched_ms = sched_ms;
    t.fire_ms = now_ms;
    t.attempt = 1;
    t.timeout_ms = job->timeout_ms;
    t.max_deliveries = job->max_deliveries;
    return tock_proto_encode_task(&t, body, len, err);
}

static int act_run(struct tock_store *s, const char *id, bool json,
                   struct tock_error *err)
{
    char line[320], when[48], occ[TOCK_OCC_MAX];
    int64_t sched = 0;
    int rc = tock_store_job_run_now(s, id, build_task, NULL, &sched, err);

    if (rc != 0)
        return rc;
    tock_occ_format(occ, sizeof occ, id, sched);
    if (json)
        return tock_output_json(json_pack("{s:s, s:s, s:s, s:I}", "id", id,
                                          "action", "dispatched", "occurrence",
                                          occ, "scheduled", (json_int_t)sched));
    tock_output_time(sched, when, sizeof when);
    snprintf(line, sizeof line, "dispatched %s once: occurrence %s (%s); "
             "see 'tock runs %s'", id, occ, when, id);
    tock_output_line(line);
    return 0;
}

/* ------------------------------------------------------------ commands */

static const struct control controls[] = {
    {"rm", "tock rm",
     {"tock rm ID [flags]",
      "Removes job ID. Its run history stays until it is trimmed."},
     act_rm},
    {"pause", "tock pause",
     {"tock pause ID [flags]",
      "Pauses job ID: it does not fire until 'tock resume ID'. Tasks already\n"
      "dispatched still run."},
     act_pause},
    {"resume", "tock resume",
     {"tock resume ID [flags]",
      "Resumes job ID. Its next fire time is computed from now: the\n"
      "occurrences that fell while it was paused are skipped, not recorded\n"
      "missed."},
     act_resume},
    {"run", "tock run",
     {"tock run ID [flags]",
      "Fires job ID once now, as an extra occurrence (its schedule is not\n"
      "changed); it shows in 'tock runs' like any other."},
     act_run},
};

static int control(const struct control *c, int argc, char **argv)
{
    struct tock_error err = {0};
    struct tock_store *s = NULL;
    const char *url = NULL;
    bool help = false, json = false;
    int npos, status;
    const struct tock_flag flags[] = {
        TOCK_CLI_STORE_FLAG(&url),
        TOCK_CLI_JSON_FLAG(&json),
        TOCK_CLI_HELP_FLAG(&help),
        TOCK_CLI_FLAGS_END,
    };

    status = tock_cli_parse(flags, &help, &c->usage, c->prog, argc, argv, 1, 1,
                            &npos);
    if (status >= 0 || (status = tock_cli_check_id(argv[1])) >= 0)
        return status;
    if ((status = tock_cli_open_store(url, false, &s)) != 0)
        return status;
    if (c->act(s, argv[1], json, &err) == 0)
        status = tock_output_done(TOCK_EXIT_OK);
    else if (err.code == TOCK_ENOENT)
        status = tock_cli_fail(TOCK_EXIT_FAIL, "no job '%s'; see 'tock ls'",
                               argv[1]);
    else
        status = tock_cli_store_fail(&err);
    tock_store_close(s);
    return status;
}

int tock_cmd_rm(int argc, char **argv) { return control(&controls[0], argc, argv); }
int tock_cmd_pause(int argc, char **argv) { return control(&controls[1], argc, argv); }
int tock_cmd_resume(int argc, char **argv) { return control(&controls[2], argc, argv); }
int tock_cmd_run(int argc, char **argv) { return control(&controls[3], argc, argv); }
