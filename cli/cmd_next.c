/* cmd_next.c: `tock next`: print the next occurrences of a trigger, one
 * RFC 3339 time per line, in the zone's UTC offset.
 *
 *   tock next --cron 'EXPR' [--tz ZONE] [--from TIME] [-n N]
 *   tock next --every DURATION [--start TIME] [--from TIME] [-n N]
 *   tock next --at TIME
 *   tock next --trigger TEXT [--from TIME] [-n N]     (any kind, trigger.h)
 *
 * --from defaults to now, -n to 5; --end TIME stops the listing at a bound.
 * Bad input exits with status 2 and one line on stderr naming the problem
 * ("tock: cron field 'hour': 25 is out of range 0-23"). A trigger with
 * fewer occurrences left than asked prints those it has and exits 0; with
 * none left it says so on stderr and exits 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/flags.h"
#include "core/parse.h"
#include "scheduler/trigger.h"
#include "scheduler/tz.h"

#define NEXT_MAX_COUNT 100000

struct next_opts {
    const char *cron, *every, *at, *trigger, *tz, *from, *start, *end;
    int64_t count;
    bool help;
};

static const char usage_text[] =
    "usage: tock next --cron 'EXPR' [--tz ZONE] [--from TIME] [-n N]\n"
    "       tock next --every DURATION [--start TIME] [--from TIME] [-n N]\n"
    "       tock next --at TIME\n"
    "       tock next --trigger TEXT [--from TIME] [-n N]\n\n"
    "Print the next occurrences of a trigger, one RFC 3339 time per line.\n"
    "TIME is RFC 3339 (2026-03-29T03:00:00+02:00); see docs/time.md.\n\n"
    "flags:\n";

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* check_choice requires exactly one trigger flag and the flags that go
 * with it. */
static int check_choice(const struct next_opts *o)
{
    int n = !!o->cron + !!o->every + !!o->at + !!o->trigger;

    if (n != 1)
        return tock_cli_fail(TOCK_EXIT_USAGE,
                             "give exactly one of --cron, --every, --at or "
                             "--trigger; see 'tock next --help'");
    if (o->start != NULL && o->every == NULL)
        return tock_cli_fail(TOCK_EXIT_USAGE,
                             "--start anchors --every; to list from a time, "
                             "use --from");
    return 0;
}

/* build_interval makes the --every trigger, anchored at --start or, like
 * a job added at --from, at --from. */
static int build_interval(const struct next_opts *o, int64_t from,
                          struct tock_trigger **t, struct tock_error *err)
{
    int64_t period, anchor = from;
    int rc;

    rc = tock_parse_duration_ms(o->every, 1, TOCK_DURATION_MAX_MS, &period,
                                "--every", err);
    if (rc == 0 && o->start != NULL)
        rc = tock_time_parse(o->start, &anchor, "--start", err);
    if (rc != 0)
        return rc;
    return tock_trigger_new_interval(period, anchor, t, err);
}

static int build_trigger(const struct next_opts *o, int64_t from,
                         struct tock_trigger **t, struct tock_error *err)
{
    char text[TOCK_TRIGGER_MAX_TEXT + 8];
    int64_t end;
    int rc;

    if (o->cron != NULL)
        rc = tock_trigger_new_cron(o->cron, o->tz, t, err);
    else if (o->every != NULL)
        rc = build_interval(o, from, t, err);
    else {
        if (o->at != NULL)
            snprintf(text, sizeof text, "date:%.*s", TOCK_TRIGGER_MAX_TEXT,
                     o->at);
        rc = tock_trigger_parse(o->at ? text : o->trigger, t, err);
    }
    if (rc != 0)
        return rc;
    tock_trigger_anchor(*t, from);
    if (o->end == NULL)
        return 0;
    if ((rc = tock_time_parse(o->end, &end, "--end", err)) != 0)
        return rc;
    return tock_trigger_set_bounds(*t, TOCK_TIME_MIN_MS, end, err);
}

/* print_times prints up to `count` occurrences after `from`. */
static int print_times(const struct tock_trigger *t, const struct tock_tz *show,
                       int64_t from, int64_t count)
{
    struct tock_error err = {0};
    char line[64];
    int64_t after = from, next, i;
    int rc = 0;

    for (i = 0; i < count; i++) {
        if ((rc = tock_trigger_next(t, after, &next, &err)) != 0)
            break;
        if (show != NULL)
            tock_time_format(next, show, line, sizeof line);
        else
            tock_trigger_format_time(t, next, line, sizeof line);
        if (puts(line) == EOF)
            break;
        after = next;
    }
    if (rc == TOCK_ENOTIME && i == 0)
        fprintf(stderr, "tock: %s\n", err.msg);
    else if (rc != 0 && rc != TOCK_ENOTIME)
        return tock_cli_fail(TOCK_EXIT_USAGE, "%s", err.msg);
    if (fflush(stdout) != 0 || ferror(stdout))
        return errno == EPIPE ? TOCK_EXIT_OK
                              : tock_cli_fail(TOCK_EXIT_FAIL,
                                              "cannot write the output: %s",
                                              strerror(errno));
    return TOCK_EXIT_OK;
}

/* run_next builds the trigger and the display zone, then prints. */
static int run_next(const struct next_opts *o)
{
    struct tock_error err = {0};
    struct tock_trigger *t = NULL;
    struct tock_tz *display = NULL;
    int64_t from = now_ms();
    int status;

    if ((status = check_choice(o)) != 0)
        return status;
    if ((o->from && tock_time_parse(o->from, &from, "--from", &err)) ||
        build_trigger(o, from, &t, &err) ||
        (o->tz && !o->cron && tock_tz_load(o->tz, &display, &err))) {
        tock_trigger_free(t);
        return tock_cli_fail(TOCK_EXIT_USAGE, "%s", err.msg);
    }
    status = print_times(t, display, from, o->count);
    tock_trigger_free(t);
    tock_tz_free(display);
    return status;
}

int tock_cmd_next(int argc, char **argv)
{
    struct next_opts o = {0};
    const struct tock_flag flags[] = {
        {"cron", 0, NULL, TOCK_FLAG_STRING, &o.cron, 0, 0, NULL, "EXPR",
         "a cron expression (5 fields, or 6 with seconds first)"},
        {"tz", 0, NULL, TOCK_FLAG_STRING, &o.tz, 0, 0, NULL, "ZONE",
         "IANA time zone of --cron (default UTC); for others, the zone to "
         "show times in"},
        {"every", 0, NULL, TOCK_FLAG_STRING, &o.every, 0, 0, NULL, "DURATION",
         "an interval: 250ms, 90s, 1h30m, 2d, 2w"},
        {"start", 0, NULL, TOCK_FLAG_STRING, &o.start, 0, 0, NULL, "TIME",
         "anchor of --every (default: --from)"},
        {"at", 0, NULL, TOCK_FLAG_STRING, &o.at, 0, 0, NULL, "TIME",
         "a single instant"},
        {"trigger", 0, NULL, TOCK_FLAG_STRING, &o.trigger, 0, 0, NULL, "TEXT",
         "any trigger text: cron:..., interval:..., calendar:..., or(...)"},
        {"from", 0, NULL, TOCK_FLAG_STRING, &o.from, 0, 0, NULL, "TIME",
         "list occurrences after this time (default now)"},
        {"end", 0, NULL, TOCK_FLAG_STRING, &o.end, 0, 0, NULL, "TIME",
         "no occurrences after this time"},
        {"count", 'n', NULL, TOCK_FLAG_INT, &o.count, 1, NEXT_MAX_COUNT, NULL,
         "N", "how many occurrences to print (default 5)"},
        {"help", 'h', NULL, TOCK_FLAG_BOOL, &o.help, 0, 0, NULL, NULL,
         "show this help"},
        {NULL, 0, NULL, 0, NULL, 0, 0, NULL, NULL, NULL},
    };
    struct tock_error err = {0};
    int npos = 0;

    o.count = 5;
    if (tock_flags_parse(flags, argc, argv, 1, &npos, NULL, "tock next",
                         &err) != 0)
        return tock_cli_fail(TOCK_EXIT_USAGE, "%s", err.msg);
    if (o.help) {
        fputs(usage_text, stdout);
        tock_flags_usage(flags, stdout);
        return TOCK_EXIT_OK;
    }
    if (npos > 0)
        return tock_cli_fail(TOCK_EXIT_USAGE,
                             "unexpected argument '%.60s'; quote the cron "
                             "expression: --cron '0 3 * * *'",
                             argv[1]);
    return run_next(&o);
}
