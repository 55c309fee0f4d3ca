/* model.c: lifetime, names, occurrence ids and validation of the model.
 *
 * Validation is the single place that knows what a good job, task, result
 * or event looks like; the codec calls it before encoding (so tock never
 * sends what its peers would refuse) and after decoding (so a well-formed
 * but nonsensical frame is refused like a malformed one).
 */
#include "proto/model.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/escape.h"
#include "core/parse.h"

/* -------------------------------------------------------- init and clear */

int tock_job_init_defaults(struct tock_job *job)
{
    memset(job, 0, sizeof *job);
    job->queue = tock_strdup(TOCK_DEFAULT_QUEUE);
    if (job->queue == NULL)
        return TOCK_ENOMEM;
    job->misfire_grace_ms = TOCK_DEFAULT_MISFIRE_GRACE_MS;
    job->coalesce = true;
    job->max_instances = TOCK_DEFAULT_MAX_INSTANCES;
    job->max_deliveries = TOCK_DEFAULT_MAX_DELIVERIES;
    return 0;
}

void tock_job_clear(struct tock_job *job)
{
    if (job == NULL)
        return;
    tock_free(job->id);
    tock_free(job->name);
    tock_free(job->queue);
    tock_free(job->handler);
    tock_free(job->args);
    tock_free(job->trigger);
    memset(job, 0, sizeof *job);
}

void tock_task_clear(struct tock_task *task)
{
    if (task == NULL)
        return;
    tock_free(task->occ);
    tock_free(task->job);
    tock_free(task->handler);
    tock_free(task->args);
    tock_free(task->queue);
    memset(task, 0, sizeof *task);
}

void tock_result_clear(struct tock_result *result)
{
    if (result == NULL)
        return;
    tock_free(result->occ);
    tock_free(result->worker);
    tock_free(result->error);
    tock_free(result->output);
    memset(result, 0, sizeof *result);
}

void tock_event_clear(struct tock_event *event)
{
    if (event == NULL)
        return;
    tock_free(event->job);
    tock_free(event->occ);
    tock_free(event->node);
    tock_free(event->detail);
    memset(event, 0, sizeof *event);
}

/* dup_str copies an optional string; false only when out of memory. */
static bool dup_str(char **dst, const char *src)
{
    *dst = src ? tock_strdup(src) : NULL;
    return src == NULL || *dst != NULL;
}

int tock_job_copy(struct tock_job *dst, const struct tock_job *src)
{
    bool ok;

    *dst = *src;
    dst->id = dst->name = dst->queue = dst->handler = dst->trigger = NULL;
    dst->args = NULL;
    ok = dup_str(&dst->id, src->id) && dup_str(&dst->name, src->name) &&
         dup_str(&dst->queue, src->queue) &&
         dup_str(&dst->handler, src->handler) &&
         dup_str(&dst->trigger, src->trigger);
    if (ok && src->args != NULL) {
        dst->args = tock_memdup(src->args, src->args_len);
        ok = dst->args != NULL;
    }
    if (!ok) {
        tock_job_clear(dst);
        return TOCK_ENOMEM;
    }
    return 0;
}

/* ----------------------------------------------------------------- names */

static const char *const status_names[TOCK_STATUS_COUNT_] = {
    "ok", "error", "timeout", "crashed", "cancelled",
};

static const char *const event_names[TOCK_EVENT_COUNT_] = {
#define TOCK_X__EVNAME(sym, text) text,
    TOCK_EVENT_TYPE_MAP(TOCK_X__EVNAME)
#undef TOCK_X__EVNAME
};

static int name_lookup(const char *const *table, int n, const char *name,
                       size_t len)
{
    int i;

    for (i = 0; i < n; i++)
        if (strlen(table[i]) == len && memcmp(table[i], name, len) == 0)
            return i;
    return -1;
}

const char *tock_status_name(enum tock_status s)
{
    return (unsigned)s < TOCK_STATUS_COUNT_ ? status_names[s] : NULL;
}

int tock_status_parse(const char *name, size_t len, enum tock_status *out)
{
    int i = name_lookup(status_names, TOCK_STATUS_COUNT_, name, len);

    if (i < 0)
        return TOCK_EINVAL;
    *out = (enum tock_status)i;
    return 0;
}

const char *tock_event_type_name(enum tock_event_type t)
{
    return (unsigned)t < TOCK_EVENT_COUNT_ ? event_names[t] : NULL;
}

int tock_event_type_parse(const char *name, size_t len,
                          enum tock_event_type *out)
{
    int i = name_lookup(event_names, TOCK_EVENT_COUNT_, name, len);

    if (i < 0)
        return TOCK_EINVAL;
    *out = (enum tock_event_type)i;
    return 0;
}

/* ------------------------------------------------------------ occurrence */

int tock_occ_format(char *buf, size_t cap, const char *job_id,
                    int64_t sched_ms)
{
    int n = snprintf(buf, cap, "%s@%" PRId64, job_id, sched_ms);

    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            buf[0] = '\0';
        return TOCK_ERANGE;
    }
    return 0;
}

/* parse_time_digits parses n decimal digits (no sign, no leading zero)
 * into a time in 0..TOCK_TIME_MAX_MS. */
static bool parse_time_digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (n == 0 || n > 15 || (n > 1 && s[0] == '0'))
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > TOCK_TIME_MAX_MS)
        return false;
    *out = v;
    return true;
}

int tock_occ_parse(const char *occ, char *job_id, int64_t *sched_ms,
                   struct tock_error *err)
{
    const char *at = strchr(occ, '@');
    char id[TOCK_ID_MAX + 1];
    size_t idlen;
    int64_t t;
    int rc;

    if (at == NULL || strchr(at + 1, '@') != NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "occurrence id \"%.160s\" must be "
                              "<job id>@<scheduled ms> with exactly one '@'",
                              occ);
    idlen = (size_t)(at - occ);
    if (idlen == 0 || idlen > TOCK_ID_MAX)
        return tock_error_set(err, TOCK_EINVAL,
                              "occurrence id \"%.160s\": the job id must be "
                              "1..%d bytes",
                              occ, TOCK_ID_MAX);
    memcpy(id, occ, idlen);
    id[idlen] = '\0';
    if ((rc = tock_name_check(id, "the job id of an occurrence id", err)))
        return rc;
    if (!parse_time_digits(at + 1, strlen(at + 1), &t))
        return tock_error_set(err, TOCK_EINVAL,
                              "occurrence id \"%.160s\": after '@' must come "
                              "the scheduled time in ms, 0..%lld, in plain "
                              "decimal",
                              occ, TOCK_TIME_MAX_MS);
    if (job_id != NULL)
        memcpy(job_id, id, idlen + 1);
    if (sched_ms != NULL)
        *sched_ms = t;
    return 0;
}

/* ------------------------------------------------------ field checkers */

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int tock_name_check(const char *s, const char *what, struct tock_error *err)
{
    static const char rule[] = "use 1..128 bytes of A-Z a-z 0-9 . _ - "
                               "starting with a letter or digit";
    size_t i, n;

    if (s == NULL || s[0] == '\0')
        return tock_error_set(err, TOCK_EINVAL, "%s is empty: %s", what, rule);
    n = strlen(s);
    if (n > TOCK_ID_MAX)
        return tock_error_set(err, TOCK_EINVAL, "%s \"%.40s...\" is %zu bytes "
                              "long: %s", what, s, n, rule);
    for (i = 0; i < n; i++)
        if (!name_char(s[i]))
            return tock_error_set(err, TOCK_EINVAL,
                                  "%s \"%.128s\" contains '%c' (byte 0x%02x) at "
                                  "offset %zu: %s",
                                  what, s, s[i], (unsigned char)s[i], i, rule);
    if (s[0] == '.' || s[0] == '_' || s[0] == '-')
        return tock_error_set(err, TOCK_EINVAL,
                              "%s \"%.128s\" starts with '%c': %s", what, s,
                              s[0], rule);
    return 0;
}

/* is_control reports characters that must never reach a terminal from a
 * display name: C0, DEL, C1 and the bidi overrides that reorder text. */
static bool is_control(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

/* text_check checks an optional text field: UTF-8, at most `max` bytes, and
 * when `printable`, no control or bidi characters at all. */
static int text_check(const char *s, size_t max, bool printable,
                      const char *what, struct tock_error *err)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, step;
    unsigned cp;

    if (n > max)
        return tock_error_set(err, TOCK_ETOOBIG,
                              "%s is %zu bytes long: the limit is %zu bytes",
                              what, n, max);
    while (i < n) {
        step = tock_utf8_decode(p + i, n - i, &cp);
        if (step == 0)
            return tock_error_set(err, TOCK_EUTF8,
                                  "%s has invalid UTF-8 at offset %zu: send "
                                  "UTF-8 text", what, i);
        if (printable && is_control(cp))
            return tock_error_set(err, TOCK_EINVAL,
                                  "%s contains control character U+%04X at "
                                  "offset %zu: remove it (names reach "
                                  "terminals)", what, cp, i);
        i += step;
    }
    return 0;
}

static int range_check(int64_t v, int64_t min, int64_t max, const char *what,
                       const char *hint, struct tock_error *err)
{
    if (v >= min && v <= max)
        return 0;
    return tock_error_set(err, TOCK_ERANGE,
                          "%s %" PRId64 " is out of range: use %" PRId64
                          "..%" PRId64 "%s%s",
                          what, v, min, max, hint[0] ? " " : "", hint);
}

static int time_check(int64_t v, const char *what, struct tock_error *err)
{
    return range_check(v, 0, TOCK_TIME_MAX_MS, what,
                       "(Unix ms, 1970 to the end of year 9999)", err);
}

static int duration_check(int64_t v, const char *what, struct tock_error *err)
{
    return range_check(v, 0, TOCK_DURATION_MAX_MS, what, "ms (0 to 100 years)",
                       err);
}

static int args_check(const uint8_t *args, size_t len, const char *what,
                      const struct tock_proto_limits *lim,
                      struct tock_error *err)
{
    if (args == NULL && len == 0)
        return 0;
    if (args == NULL || len == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "%s: pointer and length disagree (a bug in the "
                              "caller)", what);
    return tock_scan_value(args, len, lim, what, err);
}

/* prefixed runs one check and, when it fails, prefixes "invalid <kind>". */
static int prefixed(int rc, const char *kind, struct tock_error *err)
{
    if (rc != 0)
        tock_error_prefix(err, "invalid %s", kind);
    return rc;
}

/* ------------------------------------------------------------------- job */

static int job_policies(const struct tock_job *j, struct tock_error *err)
{
    int rc;

    if (j->misfire_grace_ms != -1 &&
        (rc = duration_check(j->misfire_grace_ms,
                             "misfire_grace_ms (or -1 for unlimited)", err)))
        return rc;
    if ((rc = range_check(j->max_instances, 1, TOCK_MAX_INSTANCES_MAX,
                          "max_instances", "", err)) ||
        (rc = duration_check(j->jitter_ms, "jitter_ms", err)) ||
        (rc = duration_check(j->timeout_ms, "timeout_ms (0 for none)", err)) ||
        (rc = range_check(j->retries, 0, TOCK_RETRIES_MAX, "retries", "",
                          err)) ||
        (rc = duration_check(j->retry_backoff_ms, "retry_backoff_ms", err)) ||
        (rc = range_check(j->max_deliveries, 1, TOCK_MAX_DELIVERIES_MAX,
                          "max_deliveries", "", err)) ||
        (rc = time_check(j->start_ms, "start_ms (0 for none)", err)) ||
        (rc = time_check(j->end_ms, "end_ms (0 for none)", err)) ||
        (rc = range_check(j->version, 0, INT64_MAX, "version", "", err)))
        return rc;
    if (j->start_ms != 0 && j->end_ms != 0 && j->start_ms > j->end_ms)
        return tock_error_set(err, TOCK_ERANGE,
                              "start_ms %" PRId64 " is after end_ms %" PRId64
                              ": swap them or drop one",
                              j->start_ms, j->end_ms);
    return 0;
}

static int trigger_check(const char *t, struct tock_error *err)
{
    size_t i = 0;
    int rc;

    if (t == NULL || t[0] == '\0')
        return tock_error_set(err, TOCK_EMISSING,
                              "trigger is empty: give one such as "
                              "\"cron:0 3 * * *@Europe/Berlin\" or "
                              "\"interval:90s\"");
    if ((rc = text_check(t, TOCK_TRIGGER_MAX, true, "trigger", err)) != 0)
        return rc;
    while (t[i] >= 'a' && t[i] <= 'z')
        i++;
    /* Combinations are "and(...)" / "or(...)"; every other kind is
     * "kind:spec". Parsing the spec is the scheduler's job. */
    if (i == 0 || (t[i] != ':' && t[i] != '('))
        return tock_error_set(err, TOCK_EINVAL,
                              "trigger \"%.80s\" must start with its kind, as "
                              "in \"cron:...\", \"interval:...\" or "
                              "\"or(...)\"",
                              t);
    return 0;
}

static int job_check(const struct tock_job *j,
                     const struct tock_proto_limits *lim,
                     struct tock_error *err)
{
    int rc;

    if ((rc = tock_name_check(j->id, "id", err)) ||
        (j->name && (rc = text_check(j->name, TOCK_JOB_NAME_MAX, true, "name",
                                     err))) ||
        (rc = tock_name_check(j->queue, "queue", err)) ||
        (rc = tock_name_check(j->handler, "handler", err)) ||
        (rc = trigger_check(j->trigger, err)) ||
        (rc = job_policies(j, err)) ||
        (rc = args_check(j->args, j->args_len, "args", lim, err)))
        return rc;
    return 0;
}

int tock_job_validate(const struct tock_job *job,
                      const struct tock_proto_limits *lim,
                      struct tock_error *err)
{
    return prefixed(job_check(job, lim, err), "job", err);
}

/* ------------------------------------------------------------------ task */

/* occ_matches checks that occ is exactly job@sched_ms. */
static int occ_matches(const char *occ, const char *job, int64_t sched_ms,
                       struct tock_error *err)
{
    char want[TOCK_OCC_MAX];
    int rc;

    if (occ == NULL)
        return tock_error_set(err, TOCK_EMISSING, "occ is missing");
    if ((rc = tock_occ_parse(occ, NULL, NULL, err)) != 0)
        return rc;
    if (tock_occ_format(want, sizeof want, job, sched_ms) != 0 ||
        strcmp(want, occ) != 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "occ \"%.160s\" does not match job \"%.128s\" "
                              "and sched_ms %" PRId64 ": it must be \"%s\"",
                              occ, job, sched_ms, want);
    return 0;
}

static int task_check(const struct tock_task *t,
                      const struct tock_proto_limits *lim,
                      struct tock_error *err)
{
    int rc;

    if ((rc = tock_name_check(t->job, "job", err)) ||
        (rc = tock_name_check(t->handler, "handler", err)) ||
        (rc = tock_name_check(t->queue, "queue", err)) ||
        (rc = time_check(t->sched_ms, "sched_ms", err)) ||
        (rc = time_check(t->fire_ms, "fire_ms", err)) ||
        (rc = occ_matches(t->occ, t->job, t->sched_ms, err)) ||
        (rc = range_check(t->attempt, 1, TOCK_ATTEMPT_MAX, "attempt", "", err)) ||
        (rc = duration_check(t->timeout_ms, "timeout_ms (0 for none)", err)) ||
        (rc = range_check(t->max_deliveries, 1, TOCK_MAX_DELIVERIES_MAX,
                          "max_deliveries", "", err)) ||
        (rc = args_check(t->args, t->args_len, "args", lim, err)))
        return rc;
    if (t->fire_ms < t->sched_ms)
        return tock_error_set(err, TOCK_ERANGE,
                              "fire_ms %" PRId64 " is before sched_ms %" PRId64
                              ": an occurrence cannot fire before it is due",
                              t->fire_ms, t->sched_ms);
    return 0;
}

int tock_task_validate(const struct tock_task *task,
                       const struct tock_proto_limits *lim,
                       struct tock_error *err)
{
    return prefixed(task_check(task, lim, err), "task", err);
}

/* ---------------------------------------------------------------- result */

static int result_check(const struct tock_result *r, struct tock_error *err)
{
    int rc;

    if (r->occ == NULL)
        return tock_error_set(err, TOCK_EMISSING, "occ is missing");
    if ((rc = tock_occ_parse(r->occ, NULL, NULL, err)) ||
        (rc = tock_name_check(r->worker, "worker", err)) ||
        (rc = range_check(r->attempt, 1, TOCK_ATTEMPT_MAX, "attempt", "",
                          err)) ||
        (rc = time_check(r->started_ms, "started_ms", err)) ||
        (rc = time_check(r->finished_ms, "finished_ms", err)) ||
        (rc = range_check(r->exit_code, -1, 255, "exit_code",
                          "(-1 when there is none)", err)) ||
        (r->error && (rc = text_check(r->error, TOCK_TEXT_MAX, false, "error",
                                      err))))
        return rc;
    if (tock_status_name(r->status) == NULL)
        return tock_error_set(err, TOCK_EINVAL, "status %d is unknown",
                              (int)r->status);
    if (r->started_ms > r->finished_ms)
        return tock_error_set(err, TOCK_ERANGE,
                              "started_ms %" PRId64 " is after finished_ms "
                              "%" PRId64,
                              r->started_ms, r->finished_ms);
    if (r->output == NULL && r->output_len != 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "output: pointer and length disagree");
    if (r->output_len > TOCK_OUTPUT_MAX)
        return tock_error_set(err, TOCK_ETOOBIG,
                              "output excerpt of %zu bytes exceeds the bound "
                              "of %d bytes: keep the tail only",
                              r->output_len, TOCK_OUTPUT_MAX);
    return 0;
}

int tock_result_validate(const struct tock_result *result,
                         struct tock_error *err)
{
    return prefixed(result_check(result, err), "result", err);
}

/* ----------------------------------------------------------------- event */

static int event_check(const struct tock_event *e, struct tock_error *err)
{
    int rc;

    if (tock_event_type_name(e->type) == NULL)
        return tock_error_set(err, TOCK_EINVAL, "type %d is unknown",
                              (int)e->type);
    if ((rc = time_check(e->ts_ms, "ts_ms", err)) ||
        (e->job && (rc = tock_name_check(e->job, "job", err))) ||
        (e->occ && (rc = tock_occ_parse(e->occ, NULL, NULL, err))) ||
        (e->node && (rc = tock_name_check(e->node, "node", err))) ||
        (e->detail && (rc = text_check(e->detail, TOCK_TEXT_MAX, false,
                                       "detail", err))))
        return rc;
    return 0;
}

int tock_event_validate(const struct tock_event *event,
                        struct tock_error *err)
{
    return prefixed(event_check(event, err), "event", err);
}
