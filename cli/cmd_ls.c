/* cmd_ls.c: tock ls and tock show ID: jobs as a table, as key/value lines,
 * or as JSON lines. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/output.h"
#include "core/alloc.h"
#include "core/parse.h"
#include "proto/json.h"

/* ------------------------------------------------------------------ JSON */

/* args_json renders a job's msgpack args as JSON (null when none). */
static json_t *args_json(const struct tock_job *job)
{
    json_t *j = NULL;

    if (job->args == NULL)
        return json_null();
    if (tock_json_from_msgpack(job->args, job->args_len, NULL, &j, NULL) != 0)
        return json_string("<args not readable>");
    return j;
}

/* job_json: one job as a JSON object. Definition fields carry the model's
 * values (misfire_grace_ms -1 = unlimited, timeout_ms 0 = none, start_ms /
 * end_ms 0 = unbounded); state fields are null when there is nothing. */
static json_t *job_json(const struct tock_job_state *st)
{
    const struct tock_job *j = &st->job;

    return json_pack(
        "{s:s, s:o, s:s, s:s, s:s, s:o, s:I, s:b, s:i, s:I, s:I, s:i, s:I,"
        " s:i, s:b, s:I, s:I, s:I, s:o, s:o, s:I, s:o, s:o, s:I, s:o, s:I,"
        " s:I}",
        "id", j->id, "name", tock_output_jstr(j->name, j->name ? strlen(j->name) : 0),
        "queue", j->queue, "handler", j->handler, "trigger", j->trigger,
        "args", args_json(j), "misfire_grace_ms", (json_int_t)j->misfire_grace_ms,
        "coalesce", j->coalesce, "max_instances", j->max_instances,
        "jitter_ms", (json_int_t)j->jitter_ms, "timeout_ms",
        (json_int_t)j->timeout_ms, "retries", j->retries, "retry_backoff_ms",
        (json_int_t)j->retry_backoff_ms, "max_deliveries", j->max_deliveries,
        "paused", j->paused, "start_ms", (json_int_t)j->start_ms, "end_ms",
        (json_int_t)j->end_ms, "version", (json_int_t)j->version,
        "next_fire_ms", tock_output_jint_or_null(st->next_fire_ms, -1),
        "fired_ms", tock_output_jint_or_null(st->fired_ms, -1), "epoch",
        (json_int_t)st->epoch, "owner",
        st->owner[0] ? json_string(st->owner) : json_null(),
        "lease_until_ms", tock_output_jint_or_null(st->lease_until_ms, 0),
        "running", (json_int_t)st->running, "last_status",
        st->last_status[0] ? json_string(st->last_status) : json_null(),
        "created_ms", (json_int_t)st->created_ms, "updated_ms",
        (json_int_t)st->updated_ms);
}

/* -------------------------------------------------------------------- ls */

static const struct tock_cli_usage ls_usage = {
    "tock ls [--json] [flags]",
    "Lists every job: its trigger, handler, queue, next fire time (local\n"
    "time), the status of its last finished run and whether it is paused.",
};

static int ls_table(const struct tock_job_state *list, size_t n)
{
    static const char *const head[] = {"ID",        "TRIGGER",     "HANDLER",
                                       "QUEUE",     "NEXT FIRE",   "LAST STATUS",
                                       "PAUSED"};
    struct tock_output_table *t = tock_output_table_new(7, head);
    char next[48];
    size_t i;
    int rc = 0;

    if (t == NULL)
        return -1;
    for (i = 0; i < n && rc == 0; i++) {
        const struct tock_job_state *st = &list[i];
        const char *row[7];

        if (st->next_fire_ms < 0)
            snprintf(next, sizeof next, "finished");
        else
            tock_output_time(st->next_fire_ms, next, sizeof next);
        row[0] = st->job.id;
        row[1] = st->job.trigger;
        row[2] = st->job.handler;
        row[3] = st->job.queue;
        row[4] = next;
        row[5] = st->last_status[0] ? st->last_status : NULL;
        row[6] = st->job.paused ? "yes" : "no";
        rc = tock_output_table_row(t, row);
    }
    if (rc == 0)
        tock_output_table_print(t);
    tock_output_table_free(t);
    return rc;
}

int tock_cmd_ls(int argc, char **argv)
{
    struct tock_job_state *list = NULL;
    struct tock_error err = {0};
    struct tock_store *s = NULL;
    const char *url = NULL;
    bool help = false, json = false;
    size_t n = 0, i;
    int npos, status;
    const struct tock_flag flags[] = {
        TOCK_CLI_STORE_FLAG(&url),
        TOCK_CLI_JSON_FLAG(&json),
        TOCK_CLI_HELP_FLAG(&help),
        TOCK_CLI_FLAGS_END,
    };

    status = tock_cli_parse(flags, &help, &ls_usage, "tock ls", argc, argv, 0,
                            0, &npos);
    if (status >= 0)
        return status;
    if ((status = tock_cli_open_store(url, false, &s)) != 0)
        return status;
    if (tock_store_job_list(s, &list, &n, &err) != 0) {
        status = tock_cli_store_fail(&err);
        goto done;
    }
    if (json) {
        for (i = 0; i < n; i++)
            if (tock_output_json(job_json(&list[i])) != 0)
                break;
    } else if (ls_table(list, n) != 0) {
        status = tock_cli_fail(TOCK_EXIT_FAIL, "out of memory");
        goto done;
    }
    status = tock_output_done(TOCK_EXIT_OK);
done:
    tock_job_state_list_free(list, n);
    tock_store_close(s);
    return status;
}

/* ------------------------------------------------------------------ show */

static const struct tock_cli_usage show_usage = {
    "tock show ID [--json] [flags]",
    "Shows every field of one job and its firing state.",
};

static void kv(const char *key, const char *value)
{
    char line[1200];

    snprintf(line, sizeof line, "%-15s %s", key, value ? value : "-");
    tock_output_line(line);
}

static void kv_duration(const char *key, int64_t ms, const char *zero)
{
    char buf[48];

    if (ms == 0 && zero != NULL) {
        kv(key, zero);
        return;
    }
    tock_format_duration_ms(ms, buf, sizeof buf);
    kv(key, buf);
}

static void kv_time(const char *key, int64_t ms)
{
    char buf[48];

    tock_output_time_full(ms, buf, sizeof buf);
    kv(key, buf);
}

static void kv_int(const char *key, int64_t v)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%" PRId64, v);
    kv(key, buf);
}

static void show_args(const struct tock_job *j)
{
    char buf[1024];
    char *text = NULL;

    if (j->args == NULL) {
        kv("args:", NULL);
        return;
    }
    if (tock_json_msgpack_to_text(j->args, j->args_len, NULL, JSON_COMPACT,
                                  &text, NULL) != 0) {
        kv("args:", "<not readable>");
        return;
    }
    tock_output_escape(text, strlen(text), buf, sizeof buf);
    tock_free(text);
    kv("args:", buf);
}

static void show_definition(const struct tock_job *j)
{
    char buf[128], backoff[48];

    kv("id:", j->id);
    kv("name:", j->name);
    kv("trigger:", j->trigger);
    kv("handler:", j->handler);
    kv("queue:", j->queue);
    show_args(j);
    if (j->misfire_grace_ms < 0)
        kv("misfire grace:", "unlimited");
    else
        kv_duration("misfire grace:", j->misfire_grace_ms, NULL);
    kv("coalesce:", j->coalesce ? "yes" : "no");
    kv_int("max instances:", j->max_instances);
    kv_duration("jitter:", j->jitter_ms, NULL);
    kv_duration("timeout:", j->timeout_ms, "none");
    tock_format_duration_ms(j->retry_backoff_ms, backoff, sizeof backoff);
    snprintf(buf, sizeof buf, "%d (backoff %s, doubling)", j->retries,
             backoff);
    kv("retries:", buf);
    kv_int("max deliveries:", j->max_deliveries);
    kv_time("start:", j->start_ms);
    kv_time("end:", j->end_ms);
    kv("paused:", j->paused ? "yes" : "no");
    kv_int("version:", j->version);
}

static void show_state(const struct tock_job_state *st)
{
    char buf[TOCK_TOKEN_MAX + 64], until[48];

    if (st->next_fire_ms < 0)
        kv("next fire:", "finished (the trigger fires no more)");
    else
        kv_time("next fire:", st->next_fire_ms);
    kv_time("last fired:", st->fired_ms);
    kv("last status:", st->last_status[0] ? st->last_status : NULL);
    kv_int("running:", st->running);
    if (st->owner[0]) {
        tock_output_time_full(st->lease_until_ms, until, sizeof until);
        snprintf(buf, sizeof buf, "%s until %s", st->owner, until);
        kv("claimed by:", buf);
    } else {
        kv("claimed by:", NULL);
    }
    kv_int("epoch:", st->epoch);
    kv_time("created:", st->created_ms);
    kv_time("updated:", st->updated_ms);
}

int tock_cmd_show(int argc, char **argv)
{
    struct tock_job_state st;
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

    memset(&st, 0, sizeof st);
    status = tock_cli_parse(flags, &help, &show_usage, "tock show", argc, argv,
                            1, 1, &npos);
    if (status >= 0 || (status = tock_cli_check_id(argv[1])) >= 0)
        return status;
    if ((status = tock_cli_open_store(url, false, &s)) != 0)
        return status;
    if (tock_store_job_get(s, argv[1], &st, &err) != 0) {
        status = err.code == TOCK_ENOENT
                     ? tock_cli_fail(TOCK_EXIT_FAIL,
                                     "no job '%s'; see 'tock ls'", argv[1])
                     : tock_cli_store_fail(&err);
    } else {
        if (json) {
            tock_output_json(job_json(&st));
        } else {
            show_definition(&st.job);
            show_state(&st);
        }
        status = tock_output_done(TOCK_EXIT_OK);
    }
    tock_job_state_clear(&st);
    tock_store_close(s);
    return status;
}
