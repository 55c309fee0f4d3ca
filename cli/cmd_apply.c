/* cmd_apply.c: tock apply -f FILE [--prune] [--dry-run]: make the store's
 * jobs match a config file (scheduler/apply.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/output.h"
#include "core/alloc.h"
#include "scheduler/apply.h"

static const struct tock_cli_usage usage = {
    "tock apply -f FILE [--prune] [--dry-run] [flags]",
    "Adds the jobs of FILE's \"jobs\" list, updates those whose definition\n"
    "changed (version bumped) and leaves the others alone, so running it\n"
    "again changes nothing. --prune also removes the jobs FILE does not\n"
    "list. A job paused with 'tock pause' stays paused unless FILE sets\n"
    "\"paused\". FILE '-' is standard input.",
};

static void print_json(const struct tock_apply_report *r)
{
    const struct tock_apply_item *it;
    size_t i;

    for (i = 0; i < r->n; i++) {
        it = &r->items[i];
        tock_output_json(json_pack(
            "{s:s, s:s, s:I, s:o}", "id", it->id, "action",
            tock_apply_action_name(it->action), "version",
            (json_int_t)it->version, "next_fire_ms",
            tock_output_jint_or_null(it->next_fire_ms, -1)));
    }
}

/* print_table: one row per job (ACTION ID VERSION NEXT FIRE), then the
 * counts. */
static void print_table(const struct tock_apply_report *r, bool dry)
{
    static const char *const head[] = {"ACTION", "ID", "VERSION",
                                       "NEXT FIRE"};
    struct tock_output_table *t = tock_output_table_new(4, head);
    const struct tock_apply_item *it;
    char when[48], version[24], line[200];
    const char *row[4];
    size_t i;

    for (i = 0; t != NULL && i < r->n; i++) {
        it = &r->items[i];
        tock_output_time(it->next_fire_ms, when, sizeof when);
        snprintf(version, sizeof version, "%lld", (long long)it->version);
        row[0] = tock_apply_action_name(it->action);
        row[1] = it->id;
        row[2] = it->version > 0 ? version : NULL;
        row[3] = it->next_fire_ms >= 0 ? when : NULL;
        if (tock_output_table_row(t, row) != 0)
            break;
    }
    if (t != NULL && r->n > 0)
        tock_output_table_print(t);
    tock_output_table_free(t);
    snprintf(line, sizeof line,
             "%s%zu added, %zu changed, %zu unchanged, %zu removed",
             dry ? "dry run, nothing written: " : "", r->added, r->changed,
             r->unchanged, r->removed);
    tock_output_line(line);
}

static void print_report(const struct tock_apply_report *r, bool json,
                         bool dry)
{
    if (json)
        print_json(r);
    else
        print_table(r, dry);
}

/* precheck runs every clock-dependent check on this host's clock before
 * the store is opened, so a bad file does not even create a store. */
static int precheck(const struct tock_jobspec_set *set, const char *file)
{
    struct tock_error err = {0};
    int64_t next, now = tock_cli_wall_ms();
    size_t i;

    if (!set->has_jobs)
        return tock_cli_fail(TOCK_EXIT_USAGE,
                             "%.200s has no \"jobs\" list; add one (an empty "
                             "list with --prune removes every job)",
                             file);
    for (i = 0; i < set->n; i++) {
        if (tock_jobspec_first_fire(&set->jobs[i].job, now, &next, &err)) {
            tock_error_prefix(&err, "%.200s: jobs[%zu]", file, i);
            return tock_cli_usage_fail(&err);
        }
    }
    return -1;
}

/* dry_run_new_store reports a dry run against a store that does not exist
 * yet: every job would be added, and nothing is created. */
static int dry_run_new_store(const struct tock_jobspec_set *set, bool json)
{
    struct tock_apply_report r;
    struct tock_apply_item *items;
    size_t i;

    memset(&r, 0, sizeof r);
    items = tock_calloc(set->n ? set->n : 1, sizeof *items);
    if (items == NULL)
        return tock_cli_fail(TOCK_EXIT_FAIL, "out of memory");
    for (i = 0; i < set->n; i++) {
        items[i].id = set->jobs[i].job.id; /* borrowed: not cleared below */
        items[i].action = TOCK_APPLY_ADDED;
        items[i].next_fire_ms = -1;
    }
    r.items = items;
    r.n = r.added = set->n;
    print_report(&r, json, true);
    tock_free(items);
    return tock_output_done(TOCK_EXIT_OK);
}

static bool store_missing(const char *url)
{
    struct stat st;

    return url != NULL && strncmp(url, "sqlite:", 7) == 0 && url[7] != '\0' &&
           stat(url + 7, &st) != 0 && errno == ENOENT;
}

static int run_apply(const char *url, const struct tock_jobspec_set *set,
                     unsigned flags, bool json)
{
    struct tock_apply_report r;
    struct tock_error err = {0};
    struct tock_store *s = NULL;
    int status, rc;

    if ((flags & TOCK_APPLY_DRY_RUN) && store_missing(url))
        return dry_run_new_store(set, json);
    if ((status = tock_cli_open_store(url, true, &s)) != 0)
        return status;
    rc = tock_apply(s, set->jobs, set->n, flags, &r, &err);
    /* Print what was done even when an error stopped it part way. */
    print_report(&r, json, (flags & TOCK_APPLY_DRY_RUN) != 0);
    status = tock_output_done(TOCK_EXIT_OK);
    if (rc != 0)
        status = tock_cli_store_fail(&err);
    tock_apply_report_clear(&r);
    tock_store_close(s);
    return status;
}

int tock_cmd_apply(int argc, char **argv)
{
    struct tock_jobspec_set set;
    struct tock_error err = {0};
    const char *url = NULL, *file = NULL;
    bool help = false, json = false, prune = false, dry = false;
    int npos, status;
    unsigned flags;
    const struct tock_flag table[] = {
        {"file", 'f', NULL, TOCK_FLAG_STRING, &file, 0, 0, NULL, "FILE",
         "the config file (JSON); '-' reads standard input"},
        {"prune", 0, NULL, TOCK_FLAG_BOOL, &prune, 0, 0, NULL, NULL,
         "remove the jobs FILE does not list"},
        {"dry-run", 0, NULL, TOCK_FLAG_BOOL, &dry, 0, 0, NULL, NULL,
         "say what would change, change nothing"},
        TOCK_CLI_STORE_FLAG(&url),
        TOCK_CLI_JSON_FLAG(&json),
        TOCK_CLI_HELP_FLAG(&help),
        TOCK_CLI_FLAGS_END,
    };

    status = tock_cli_parse(table, &help, &usage, "tock apply", argc, argv, 0,
                            0, &npos);
    if (status >= 0)
        return status;
    if (file == NULL)
        return tock_cli_fail(TOCK_EXIT_USAGE,
                             "no file given; write tock apply -f FILE");
    if (tock_jobspec_load_file(file, &set, &err) != 0)
        return tock_cli_usage_fail(&err);
    status = precheck(&set, file);
    if (status < 0) {
        if (url == NULL)
            status = tock_cli_fail(TOCK_EXIT_USAGE,
                                   "no store given; pass --store sqlite:PATH "
                                   "or set TOCK_STORE");
        else {
            flags = (prune ? TOCK_APPLY_PRUNE : 0) |
                    (dry ? TOCK_APPLY_DRY_RUN : 0);
            status = run_apply(url, &set, flags, json);
        }
    }
    tock_jobspec_set_clear(&set);
    return status;
}
