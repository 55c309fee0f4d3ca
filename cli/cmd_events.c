/* cmd_events.c: tock events [--limit N] [--follow] [--json]: the newest
 * events, oldest first, and with --follow every later one as it comes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/output.h"
#include "core/alloc.h"

#define EVENTS_DEFAULT 20
#define EVENTS_MAX 100000
#define EVENTS_PAGE 1000
/* --follow polls the store this often: the store interface has no
 * notification for events, and half a second is quick for a person and
 * idle for the store. */
#define FOLLOW_POLL_MS 500

static const struct tock_cli_usage usage = {
    "tock events [--limit N] [--follow] [--json] [flags]",
    "Shows the newest N events (jobs added, changed, paused, fired, missed,\n"
    "runs that succeeded or failed, ...), oldest first, in local time.\n"
    "--follow keeps printing new events until interrupted.",
};

/* ---------------------------------------------------------------- print */

static int print_event(const struct tock_event *e, int64_t id, bool json)
{
    const char *type = tock_event_type_name(e->type);
    char when[48], line[1400], detail[1024];
    size_t n;

    if (json)
        return tock_output_json(json_pack(
            "{s:I, s:s, s:I, s:o, s:o, s:o, s:o}", "id", (json_int_t)id,
            "type", type ? type : "unknown", "ts", (json_int_t)e->ts_ms, "job",
            tock_output_jstr(e->job, e->job ? strlen(e->job) : 0),
            "occurrence", tock_output_jstr(e->occ, e->occ ? strlen(e->occ) : 0),
            "node", tock_output_jstr(e->node, e->node ? strlen(e->node) : 0),
            "detail",
            tock_output_jstr(e->detail, e->detail ? strlen(e->detail) : 0)));
    /* Fixed widths rather than a table: --follow prints each event as it
     * comes, before the next one's width is known. */
    tock_output_time(e->ts_ms, when, sizeof when);
    detail[0] = '\0';
    if (e->detail != NULL)
        tock_output_escape(e->detail, strlen(e->detail), detail,
                           sizeof detail);
    snprintf(line, sizeof line, "%s  %-14s %-20s %s%s%s%s%s%s", when,
             type ? type : "unknown", e->job ? e->job : "-",
             e->occ ? e->occ : "", e->occ ? "  " : "",
             e->node ? "node " : "", e->node ? e->node : "",
             e->node ? "  " : "", detail);
    /* no padding after the last field (an event without a detail) */
    for (n = strlen(line); n > 0 && line[n - 1] == ' '; n--)
        line[n - 1] = '\0';
    tock_output_line(line);
    return 0;
}

/* ------------------------------------------------------------ the tail */

/* ring: the newest `cap` events seen while paging through the history. */
struct ring {
    struct tock_event *ev;
    int64_t *ids;
    size_t cap, n, head; /* head: index of the oldest when full */
};

static void ring_push(struct ring *r, struct tock_event *e, int64_t id)
{
    size_t at;

    if (r->n < r->cap) {
        at = (r->head + r->n++) % r->cap;
    } else {
        at = r->head;
        tock_event_clear(&r->ev[at]);
        r->head = (r->head + 1) % r->cap;
    }
    r->ev[at] = *e; /* moved: the source is zeroed below */
    r->ids[at] = id;
    memset(e, 0, sizeof *e);
}

/* tail pages through every event from the start and keeps the newest
 * `limit`: the store reads events forward only. *last gets the id of the
 * newest event seen (0 when none). */
static int tail(struct tock_store *s, size_t limit, bool json, int64_t *last,
                struct tock_error *err)
{
    struct ring r = {0};
    struct tock_event *page = NULL;
    int64_t *ids = NULL;
    size_t n = 0, i;
    int rc = 0;

    r.cap = limit;
    r.ev = tock_calloc(limit, sizeof *r.ev);
    r.ids = tock_calloc(limit, sizeof *r.ids);
    if (r.ev == NULL || r.ids == NULL)
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
    *last = 0;
    while (rc == 0) {
        rc = tock_store_events(s, *last, EVENTS_PAGE, &page, &ids, &n, err);
        if (rc != 0 || n == 0)
            break;
        for (i = 0; i < n; i++)
            ring_push(&r, &page[i], ids[i]);
        *last = ids[n - 1];
        tock_event_list_free(page, ids, n);
        page = NULL;
        ids = NULL;
        n = 0;
    }
    tock_event_list_free(page, ids, n);
    for (i = 0; i < r.n; i++) {
        size_t at = (r.head + i) % r.cap;

        if (rc == 0)
            print_event(&r.ev[at], r.ids[at], json);
        tock_event_clear(&r.ev[at]);
    }
    tock_free(r.ev);
    tock_free(r.ids);
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* follow prints every event after `last` as it comes, until stdout goes
 * away or the store fails; a signal (Ctrl-C) ends the process. */
static int follow(struct tock_store *s, int64_t last, bool json,
                  struct tock_error *err)
{
    struct tock_event *page = NULL;
    int64_t *ids = NULL;
    size_t n = 0, i;
    int rc;

    for (;;) {
        if (!tock_output_flush())
            return 0;
        sleep_ms(FOLLOW_POLL_MS);
        rc = tock_store_events(s, last, EVENTS_PAGE, &page, &ids, &n, err);
        if (rc != 0)
            return rc;
        for (i = 0; i < n; i++)
            print_event(&page[i], ids[i], json);
        if (n > 0)
            last = ids[n - 1];
        tock_event_list_free(page, ids, n);
        page = NULL;
        ids = NULL;
        n = 0;
    }
}

int tock_cmd_events(int argc, char **argv)
{
    struct tock_error err = {0};
    struct tock_store *s = NULL;
    const char *url = NULL;
    bool help = false, json = false, follow_on = false;
    int64_t limit = EVENTS_DEFAULT, last = 0;
    int npos, status, rc;
    const struct tock_flag flags[] = {
        {"limit", 'n', NULL, TOCK_FLAG_INT, &limit, 1, EVENTS_MAX, NULL, "N",
         "show the newest N events (20)"},
        {"follow", 'f', NULL, TOCK_FLAG_BOOL, &follow_on, 0, 0, NULL, NULL,
         "keep printing new events"},
        TOCK_CLI_STORE_FLAG(&url),
        TOCK_CLI_JSON_FLAG(&json),
        TOCK_CLI_HELP_FLAG(&help),
        TOCK_CLI_FLAGS_END,
    };

    status = tock_cli_parse(flags, &help, &usage, "tock events", argc, argv, 0,
                            0, &npos);
    if (status >= 0)
        return status;
    if ((status = tock_cli_open_store(url, false, &s)) != 0)
        return status;
    rc = tail(s, (size_t)limit, json, &last, &err);
    if (rc == 0 && follow_on)
        rc = follow(s, last, json, &err);
    status = rc ? tock_cli_store_fail(&err) : tock_output_done(TOCK_EXIT_OK);
    tock_store_close(s);
    return status;
}
