/* cmd_runs.c: tock runs [ID] [--limit N] [--json]: the run history,
 * newest scheduled time first. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/output.h"

#define RUNS_DEFAULT 20
#define RUNS_MAX 100000

static const struct tock_cli_usage usage = {
    "tock runs [ID] [--limit N] [--json] [flags]",
    "Shows the run history, newest scheduled time first: each occurrence's\n"
    "status (dispatched, running, ok, error, timeout, crashed, cancelled,\n"
    "missed, skipped, dead), when it started and finished (local time),\n"
    "the scheduler node and the worker, the attempt, the exit code and the\n"
    "first line of its output or error.",
};

static json_t *run_json(const struct tock_run *r)
{
    return json_pack(
        "{s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:o, s:o}",
        "job", r->job, "occurrence", r->occ, "scheduled", (json_int_t)r->sched_ms,
        "status", r->status, "fired", tock_output_jint_or_null(r->fired_ms, 0),
        "started", tock_output_jint_or_null(r->started_ms, 0), "finished",
        tock_output_jint_or_null(r->finished_ms, 0), "node",
        tock_output_jstr(r->node, r->node ? strlen(r->node) : 0), "worker",
        tock_output_jstr(r->worker, r->worker ? strlen(r->worker) : 0),
        "attempt", (int)r->attempt, "exit_code",
        tock_output_jint_or_null(r->exit_code, -1), "error",
        tock_output_jstr(r->error, r->error ? strlen(r->error) : 0), "output",
        tock_output_jstr((const char *)r->output, r->output_len));
}

/* detail is what the last column shows: the error text (or miss reason)
 * when there is one, else the first line of the output. */
static void detail(const struct tock_run *r, char *buf, size_t cap)
{
    if (r->error != NULL && r->error[0] != '\0')
        tock_output_escape(r->error, strlen(r->error), buf, cap);
    else if (r->output != NULL && r->output_len > 0)
        tock_output_escape((const char *)r->output, r->output_len, buf, cap);
    else
        snprintf(buf, cap, "-");
}

static int runs_table(const struct tock_run *runs, size_t n)
{
    static const char *const head[] = {"JOB",     "SCHEDULED", "STATUS",
                                       "STARTED", "FINISHED",  "NODE",
                                       "WORKER",  "ATTEMPT",   "EXIT",
                                       "OUTPUT"};
    struct tock_output_table *t = tock_output_table_new(10, head);
    char sched[48], start[48], fin[48], att[16], code[16], out[64];
    const char *row[10];
    size_t i;
    int rc = 0;

    if (t == NULL)
        return -1;
    for (i = 0; i < n && rc == 0; i++) {
        const struct tock_run *r = &runs[i];

        tock_output_time(r->sched_ms, sched, sizeof sched);
        tock_output_time(r->started_ms, start, sizeof start);
        tock_output_time(r->finished_ms, fin, sizeof fin);
        snprintf(att, sizeof att, "%d", (int)r->attempt);
        snprintf(code, sizeof code, "%d", (int)r->exit_code);
        detail(r, out, sizeof out);
        row[0] = r->job;
        row[1] = sched;
        row[2] = r->status;
        row[3] = start;
        row[4] = fin;
        row[5] = r->node;
        row[6] = r->worker;
        /* a missed or skipped occurrence never had an attempt */
        row[7] = strcmp(r->status, "missed") == 0 ||
                         strcmp(r->status, "skipped") == 0
                     ? NULL
                     : att;
        row[8] = r->exit_code < 0 ? NULL : code;
        row[9] = out;
        rc = tock_output_table_row(t, row);
    }
    if (rc == 0)
        tock_output_table_print(t);
    tock_output_table_free(t);
    return rc;
}

int tock_cmd_runs(int argc, char **argv)
{
    struct tock_run *runs = NULL;
    struct tock_error err = {0};
    struct tock_store *s = NULL;
    const char *url = NULL, *id = NULL;
    bool help = false, json = false;
    int64_t limit = RUNS_DEFAULT;
    size_t n = 0, i;
    int npos, status;
    const struct tock_flag flags[] = {
        {"limit", 'n', NULL, TOCK_FLAG_INT, &limit, 1, RUNS_MAX, NULL, "N",
         "show at most N runs (20)"},
        TOCK_CLI_STORE_FLAG(&url),
        TOCK_CLI_JSON_FLAG(&json),
        TOCK_CLI_HELP_FLAG(&help),
        TOCK_CLI_FLAGS_END,
    };

    status = tock_cli_parse(flags, &help, &usage, "tock runs", argc, argv, 0,
                            1, &npos);
    if (status >= 0)
        return status;
    if (npos == 1 && (status = tock_cli_check_id(id = argv[1])) >= 0)
        return status;
    if ((status = tock_cli_open_store(url, false, &s)) != 0)
        return status;
    if (tock_store_runs(s, id, (size_t)limit, &runs, &n, &err) != 0) {
        status = tock_cli_store_fail(&err);
        goto done;
    }
    if (json) {
        for (i = 0; i < n; i++)
            if (tock_output_json(run_json(&runs[i])) != 0)
                break;
    } else if (runs_table(runs, n) != 0) {
        status = tock_cli_fail(TOCK_EXIT_FAIL, "out of memory");
        goto done;
    }
    status = tock_output_done(TOCK_EXIT_OK);
done:
    tock_run_list_free(runs, n);
    tock_store_close(s);
    return status;
}
