/* jobspec.c: job definitions from the JSON config file and from flags.
 *
 * Both sources go through the same field setters (one per job field,
 * taking text or a JSON value), then through one finishing step that
 * checks required fields, canonicalizes the trigger and runs
 * tock_job_validate. So `tock add --timeout 0s` and "timeout": "0s" in a
 * file are refused by the same code with the same rule.
 */
#include "scheduler/jobspec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/parse.h"
#include "proto/json.h"
#include "proto/scan.h"
#include "scheduler/trigger.h"
#include "scheduler/tz.h"

/* -------------------------------------------------------------- clearing */

void tock_jobspec_clear(struct tock_jobspec *spec)
{
    if (spec == NULL)
        return;
    tock_job_clear(&spec->job);
    memset(spec, 0, sizeof *spec);
}

void tock_jobspec_set_clear(struct tock_jobspec_set *set)
{
    size_t i;

    if (set == NULL)
        return;
    for (i = 0; i < set->n; i++)
        tock_jobspec_clear(&set->jobs[i]);
    tock_free(set->jobs);
    memset(set, 0, sizeof *set);
}

/* ------------------------------------------------------------ the fields */

enum field_id {
    F_ID, F_NAME, F_QUEUE, F_HANDLER, F_TRIGGER, F_ARGS, F_GRACE, F_COALESCE,
    F_MAX_INSTANCES, F_JITTER, F_TIMEOUT, F_RETRIES, F_BACKOFF,
    F_MAX_DELIVERIES, F_PAUSED, F_START, F_END,
};

/* One row per job field: its name in the file, the JSON type it takes and,
 * for integers, the accepted range. */
static const struct field {
    const char *key;
    enum field_id id;
    json_type type;
    int64_t min, max;
} fields[] = {
    {"id", F_ID, JSON_STRING, 0, 0},
    {"name", F_NAME, JSON_STRING, 0, 0},
    {"queue", F_QUEUE, JSON_STRING, 0, 0},
    {"handler", F_HANDLER, JSON_STRING, 0, 0},
    {"trigger", F_TRIGGER, JSON_STRING, 0, 0},
    {"args", F_ARGS, JSON_NULL /* any */, 0, 0},
    {"misfire_grace", F_GRACE, JSON_STRING, 0, 0},
    {"coalesce", F_COALESCE, JSON_TRUE, 0, 0},
    {"max_instances", F_MAX_INSTANCES, JSON_INTEGER, 1, TOCK_MAX_INSTANCES_MAX},
    {"jitter", F_JITTER, JSON_STRING, 0, 0},
    {"timeout", F_TIMEOUT, JSON_STRING, 0, 0},
    {"retries", F_RETRIES, JSON_INTEGER, 0, TOCK_RETRIES_MAX},
    {"retry_backoff", F_BACKOFF, JSON_STRING, 0, 0},
    {"max_deliveries", F_MAX_DELIVERIES, JSON_INTEGER, 1,
     TOCK_MAX_DELIVERIES_MAX},
    {"paused", F_PAUSED, JSON_TRUE, 0, 0},
    {"start", F_START, JSON_STRING, 0, 0},
    {"end", F_END, JSON_STRING, 0, 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static const struct field *field_by_id(enum field_id id)
{
    size_t i;

    for (i = 0; i < NFIELDS; i++)
        if (fields[i].id == id)
            return &fields[i];
    return NULL;
}

/* edit_distance is Levenshtein's, bounded: used only to suggest the field
 * a typo meant ("coalese" -> "coalesce"). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, row[40];

    if (la >= 40 || lb >= 40)
        return 99;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            cur = row[j];
            row[j] = a[i - 1] == b[j - 1] ? prev : 1 + prev;
            if (row[j] > cur + 1)
                row[j] = cur + 1;
            if (row[j] > row[j - 1] + 1)
                row[j] = row[j - 1] + 1;
            prev = cur;
        }
    }
    return row[lb];
}

static int unknown_field(const char *key, const char *where,
                         struct tock_error *err)
{
    size_t i, best = 99, d;
    const char *guess = NULL;

    for (i = 0; i < NFIELDS; i++) {
        d = edit_distance(key, fields[i].key);
        if (d < best) {
            best = d;
            guess = fields[i].key;
        }
    }
    if (guess != NULL && best <= 2)
        return tock_error_set(err, TOCK_EINVAL,
                              "%s: unknown field '%.40s'; did you mean '%s'?",
                              where, key, guess);
    return tock_error_set(err, TOCK_EINVAL,
                          "%s: unknown field '%.40s'; remove it (the job "
                          "fields are listed in docs/cli.md)",
                          where, key);
}

/* ------------------------------------------------------------- setters */

static int set_string(char **dst, const char *text, struct tock_error *err)
{
    char *copy = tock_strdup(text);

    if (copy == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    tock_free(*dst);
    *dst = copy;
    return 0;
}

static int set_grace(struct tock_job *job, const char *text, const char *what,
                     struct tock_error *err)
{
    if (strcmp(text, "unlimited") == 0) {
        job->misfire_grace_ms = -1;
        return 0;
    }
    return tock_parse_duration_ms(text, 0, TOCK_DURATION_MAX_MS,
                                  &job->misfire_grace_ms, what, err);
}

static int set_timeout(struct tock_job *job, const char *text,
                       const char *what, struct tock_error *err)
{
    int64_t ms;
    int rc = tock_parse_duration_ms(text, 0, TOCK_DURATION_MAX_MS, &ms, what,
                                    err);

    if (rc != 0)
        return rc;
    /* 0 is how the model spells "no deadline"; someone who writes a
     * timeout of 0 more likely made a mistake than meant "none". */
    if (ms == 0)
        return tock_error_set(err, TOCK_ERANGE,
                              "%s: '%.40s' is zero; give a positive duration, "
                              "or leave it out for no deadline",
                              what, text);
    job->timeout_ms = ms;
    return 0;
}

static int set_time(int64_t *dst, const char *text, const char *what,
                    struct tock_error *err)
{
    return tock_time_parse(text, dst, what, err);
}

/* set_text_field sets field `id` from its text form. */
static int set_text_field(struct tock_jobspec *spec, enum field_id id,
                          const char *text, const char *what,
                          struct tock_error *err)
{
    struct tock_job *job = &spec->job;

    switch (id) {
    case F_ID: return set_string(&job->id, text, err);
    case F_NAME: return set_string(&job->name, text, err);
    case F_QUEUE: return set_string(&job->queue, text, err);
    case F_HANDLER: return set_string(&job->handler, text, err);
    case F_TRIGGER: return set_string(&job->trigger, text, err);
    case F_GRACE: return set_grace(job, text, what, err);
    case F_JITTER:
        return tock_parse_duration_ms(text, 0, TOCK_DURATION_MAX_MS,
                                      &job->jitter_ms, what, err);
    case F_TIMEOUT: return set_timeout(job, text, what, err);
    case F_BACKOFF:
        return tock_parse_duration_ms(text, 0, TOCK_DURATION_MAX_MS,
                                      &job->retry_backoff_ms, what, err);
    case F_START: return set_time(&job->start_ms, text, what, err);
    case F_END: return set_time(&job->end_ms, text, what, err);
    default: break;
    }
    return tock_error_set(err, TOCK_EINTERNAL, "%s: not a text field", what);
}

/* set_int_field sets an integer field after checking its range. */
static int set_int_field(struct tock_jobspec *spec, const struct field *f,
                         int64_t v, const char *what, struct tock_error *err)
{
    if (v < f->min || v > f->max)
        return tock_error_set(err, TOCK_ERANGE,
                              "%s: %" PRId64 " is out of range; give a whole "
                              "number from %" PRId64 " to %" PRId64,
                              what, v, f->min, f->max);
    switch (f->id) {
    case F_MAX_INSTANCES: spec->job.max_instances = (int)v; return 0;
    case F_RETRIES: spec->job.retries = (int)v; return 0;
    case F_MAX_DELIVERIES: spec->job.max_deliveries = (int)v; return 0;
    default: break;
    }
    return tock_error_set(err, TOCK_EINTERNAL, "%s: not an integer field",
                          what);
}

/* ---------------------------------------------------------------- args */

/* format_size writes n bytes for people: "2.0 MiB", "1 MiB", "12.5 KiB". */
static void format_size(size_t n, char *buf, size_t cap)
{
    if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
        snprintf(buf, cap, "%zu MiB", n >> 20);
    else if (n >= 1024 * 1024)
        snprintf(buf, cap, "%.1f MiB", (double)n / (1024.0 * 1024.0));
    else if (n >= 1024)
        snprintf(buf, cap, "%.1f KiB", (double)n / 1024.0);
    else
        snprintf(buf, cap, "%zu bytes", n);
}

/* args_limits are the proto limits with the byte bounds raised past any
 * file we read, so an oversized value converts and its real size can be
 * told ("args is 2.0 MiB; the limit is 1 MiB") rather than "too big". */
static struct tock_proto_limits args_limits(void)
{
    struct tock_proto_limits lim = {0};

    lim.max_args = TOCK_JOBSPEC_FILE_MAX * 2;
    lim.max_str = TOCK_JOBSPEC_FILE_MAX * 2;
    lim.max_frame = TOCK_JOBSPEC_FILE_MAX * 2;
    return lim;
}

static int args_size_check(uint8_t **out, size_t *outlen, const char *what,
                           struct tock_error *err)
{
    char have[32], limit[32];

    if (*outlen <= TOCK_PROTO_MAX_ARGS)
        return 0;
    format_size(*outlen, have, sizeof have);
    format_size(TOCK_PROTO_MAX_ARGS, limit, sizeof limit);
    TOCK_FREE(*out);
    *outlen = 0;
    return tock_error_set(err, TOCK_ETOOBIG,
                          "%s is %s; the limit is %s (as msgpack): pass a "
                          "reference to the data (a path, a key) instead",
                          what, have, limit);
}

int tock_jobspec_args(const char *text, size_t len, const char *what,
                      uint8_t **out, size_t *outlen, struct tock_error *err)
{
    struct tock_proto_limits lim = args_limits();
    char have[32], limit[32];
    int rc;

    *out = NULL;
    *outlen = 0;
    if (len > TOCK_JOBSPEC_FILE_MAX) {
        format_size(len, have, sizeof have);
        format_size(TOCK_PROTO_MAX_ARGS, limit, sizeof limit);
        return tock_error_set(err, TOCK_ETOOBIG,
                              "%s is %s of JSON; the limit is %s (as msgpack)",
                              what, have, limit);
    }
    rc = tock_json_text_to_msgpack(text, len, &lim, what, out, outlen, err);
    if (rc != 0)
        return rc;
    return args_size_check(out, outlen, what, err);
}

static int args_from_json(struct tock_job *job, const json_t *value,
                          const char *what, struct tock_error *err)
{
    struct tock_proto_limits lim = args_limits();
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    rc = tock_json_to_msgpack(value, &lim, what, &buf, &len, err);
    if (rc == 0)
        rc = args_size_check(&buf, &len, what, err);
    if (rc != 0)
        return rc;
    tock_free(job->args);
    job->args = buf;
    job->args_len = len;
    return 0;
}

/* ------------------------------------------------------------ finishing */

/* canonical_trigger parses the job's trigger and replaces its text with
 * the canonical form, after checking that the start/end bounds suit it. */
static int canonical_trigger(struct tock_job *job, const char *what,
                             struct tock_error *err)
{
    struct tock_trigger *t = NULL;
    char *text = NULL;
    size_t need;
    int rc;

    rc = tock_trigger_parse(job->trigger, &t, err);
    if (rc == 0)
        rc = tock_trigger_set_bounds(t, job->start_ms ? job->start_ms
                                                      : TOCK_TIME_MIN_MS,
                                     job->end_ms ? job->end_ms
                                                 : TOCK_TIME_MAX_MS,
                                     err);
    if (rc != 0) {
        tock_error_prefix(err, "%s", what);
        goto done;
    }
    need = tock_trigger_format(t, NULL, 0);
    if ((text = tock_malloc(need + 1)) == NULL) {
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
        goto done;
    }
    tock_trigger_format(t, text, need + 1);
    tock_free(job->trigger);
    job->trigger = text;
done:
    tock_trigger_free(t);
    return rc;
}

static int require(const char *value, const char *what, const char *example,
                   struct tock_error *err)
{
    if (value != NULL)
        return 0;
    return tock_error_set(err, TOCK_EMISSING, "%s is missing; %s", what,
                          example);
}

/* finish checks a job built from any source: required fields first (the
 * most basic mistake is reported first), the names, then the trigger, then
 * everything else through tock_job_validate. `names` gives how each field
 * is called in this source: [0] id, [1] handler, [2] trigger, [3] queue. */
static int finish(struct tock_jobspec *spec, const char *const names[4],
                  struct tock_error *err)
{
    struct tock_job *job = &spec->job;
    int rc;

    if ((rc = require(job->id, names[0], "give the job an id", err)) ||
        (rc = require(job->trigger, names[2],
                      "give a trigger such as \"cron:0 3 * * *\" or "
                      "\"interval:90s\"",
                      err)) ||
        (rc = require(job->handler, names[1],
                      "name a handler the workers define", err)))
        return rc;
    if ((rc = tock_name_check(job->id, names[0], err)) ||
        (rc = tock_name_check(job->handler, names[1], err)) ||
        (rc = tock_name_check(job->queue, names[3], err)))
        return rc;
    if ((rc = canonical_trigger(job, names[2], err)) != 0)
        return rc;
    return tock_job_validate(job, NULL, err);
}

/* ----------------------------------------------------------- from JSON */

static int json_type_error(const json_t *v, const struct field *f,
                           const char *what, struct tock_error *err)
{
    static const char *const want[] = {
        [JSON_STRING] = "a string", [JSON_INTEGER] = "a whole number",
        [JSON_TRUE] = "true or false",
    };
    static const char *const have[] = {
        [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
        [JSON_STRING] = "a string",  [JSON_INTEGER] = "a number",
        [JSON_REAL] = "a number",    [JSON_TRUE] = "a boolean",
        [JSON_FALSE] = "a boolean",  [JSON_NULL] = "null",
    };
    const char *hint = "";

    if (f->id == F_GRACE || f->id == F_JITTER || f->id == F_TIMEOUT ||
        f->id == F_BACKOFF)
        hint = " with a unit, such as \"90s\"";
    else if (f->id == F_START || f->id == F_END)
        hint = " (RFC 3339, such as \"2026-03-29T03:00:00+02:00\")";
    return tock_error_set(err, TOCK_ETYPE, "%s is %s; give %s%s", what,
                          have[json_typeof(v)], want[f->type], hint);
}

static int set_json_field(struct tock_jobspec *spec, const struct field *f,
                          const json_t *v, const char *what,
                          struct tock_error *err)
{
    if (f->id == F_ARGS)
        return args_from_json(&spec->job, v, what, err);
    if (f->type == JSON_TRUE) {
        if (!json_is_boolean(v))
            return json_type_error(v, f, what, err);
        if (f->id == F_PAUSED) {
            spec->job.paused = json_is_true(v);
            spec->paused_set = true;
        } else {
            spec->job.coalesce = json_is_true(v);
        }
        return 0;
    }
    if (f->type == JSON_INTEGER) {
        if (!json_is_integer(v))
            return json_type_error(v, f, what, err);
        return set_int_field(spec, f, json_integer_value(v), what, err);
    }
    if (!json_is_string(v))
        return json_type_error(v, f, what, err);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return tock_error_set(err, TOCK_EINVAL, "%s contains a NUL character; "
                              "remove it", what);
    return set_text_field(spec, f->id, json_string_value(v), what, err);
}

static const struct field *field_by_key(const char *key)
{
    size_t i;

    for (i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].key, key) == 0)
            return &fields[i];
    return NULL;
}

int tock_jobspec_from_json(const json_t *obj, const char *where,
                           struct tock_jobspec *out, struct tock_error *err)
{
    char what[4][96];
    const char *names[4];
    const struct field *f;
    const char *key;
    json_t *v;
    int rc, i;
    static const char *const name_keys[4] = {"id", "handler", "trigger",
                                             "queue"};

    if ((rc = tock_job_init_defaults(&out->job)) != 0)
        return tock_error_set(err, rc, "out of memory");
    out->paused_set = false;
    if (!json_is_object(obj)) {
        rc = tock_error_set(err, TOCK_ETYPE, "%s is not an object; write each "
                            "job as {\"id\": ..., \"trigger\": ..., "
                            "\"handler\": ...}", where);
        goto done;
    }
    json_object_foreach((json_t *)obj, key, v) {
        char path[160];

        snprintf(path, sizeof path, "%s.%s", where, key);
        if ((f = field_by_key(key)) == NULL) {
            rc = unknown_field(key, where, err);
            goto done;
        }
        if ((rc = set_json_field(out, f, v, path, err)) != 0)
            goto done;
    }
    for (i = 0; i < 4; i++) {
        snprintf(what[i], sizeof what[i], "%s.%s", where, name_keys[i]);
        names[i] = what[i];
    }
    rc = finish(out, names, err);
done:
    if (rc != 0)
        tock_jobspec_clear(out);
    return rc;
}

/* ------------------------------------------------------------ the file */

struct id_ref {
    const char *id;
    size_t index;
};

static int id_ref_cmp(const void *a, const void *b)
{
    const struct id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* check_unique refuses two jobs with one id: which of them should win is
 * not for tock to guess. Sorting keeps it O(n log n) for big files. */
static int check_unique(const struct tock_jobspec_set *set,
                        struct tock_error *err)
{
    struct id_ref *refs;
    size_t i;
    int rc = 0;

    if (set->n < 2)
        return 0;
    if ((refs = tock_calloc(set->n, sizeof *refs)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (i = 0; i < set->n; i++) {
        refs[i].id = set->jobs[i].job.id;
        refs[i].index = i;
    }
    qsort(refs, set->n, sizeof *refs, id_ref_cmp);
    for (i = 1; i < set->n && rc == 0; i++)
        if (strcmp(refs[i - 1].id, refs[i].id) == 0)
            rc = tock_error_set(err, TOCK_EEXIST,
                                "jobs[%zu]: id '%s' is also the id of "
                                "jobs[%zu]; give each job its own id",
                                refs[i].index, refs[i].id, refs[i - 1].index);
    tock_free(refs);
    return rc;
}

static int load_jobs(const json_t *jobs, struct tock_jobspec_set *set,
                     struct tock_error *err)
{
    size_t i, n;
    char where[32];
    int rc;

    if (!json_is_array(jobs))
        return tock_error_set(err, TOCK_ETYPE,
                              "\"jobs\" is not a list; write \"jobs\": "
                              "[{...}, {...}]");
    n = json_array_size(jobs);
    if (n > TOCK_JOBSPEC_JOBS_MAX)
        return tock_error_set(err, TOCK_ETOOBIG,
                              "\"jobs\" has %zu jobs; the limit is %d per "
                              "file: split it",
                              n, TOCK_JOBSPEC_JOBS_MAX);
    if (n > 0 && (set->jobs = tock_calloc(n, sizeof *set->jobs)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        snprintf(where, sizeof where, "jobs[%zu]", i);
        rc = tock_jobspec_from_json(json_array_get(jobs, i), where,
                                    &set->jobs[i], err);
        if (rc != 0)
            return rc;
        set->n = i + 1;
    }
    return check_unique(set, err);
}

/* load_top checks the top level: an object whose keys are "jobs" (ours)
 * and "handlers" (worker/handlers.h reads it). */
static int load_top(const json_t *root, struct tock_jobspec_set *set,
                    struct tock_error *err)
{
    const char *key;
    json_t *v;

    if (!json_is_object(root))
        return tock_error_set(err, TOCK_EFORMAT,
                              "the top level is not an object; write "
                              "{\"jobs\": [...], \"handlers\": {...}}");
    json_object_foreach((json_t *)root, key, v) {
        if (strcmp(key, "jobs") != 0 && strcmp(key, "handlers") != 0)
            return tock_error_set(err, TOCK_EINVAL,
                                  "unknown top-level key '%.40s'; the config "
                                  "file has only \"jobs\" and \"handlers\"",
                                  key);
    }
    v = json_object_get(root, "jobs");
    if (v == NULL)
        return 0;
    set->has_jobs = true;
    return load_jobs(v, set, err);
}

static bool blank(const char *text, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (!strchr(" \t\r\n", text[i]) || text[i] == '\0')
            return false;
    return true;
}

int tock_jobspec_load_text(const char *text, size_t len, const char *source,
                           struct tock_jobspec_set *out,
                           struct tock_error *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    memset(out, 0, sizeof *out);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3; /* a UTF-8 byte order mark, as some editors write */
        len -= 3;
    }
    if (blank(text, len))
        return tock_error_set(err, TOCK_EFORMAT,
                              "%s is empty; write a JSON object such as "
                              "{\"jobs\": [...]} (see docs/cli.md)",
                              source);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                      &jerr);
    if (root == NULL)
        return tock_error_set(err,
                              json_error_code(&jerr) == json_error_duplicate_key
                                  ? TOCK_EDUPKEY
                                  : TOCK_EFORMAT,
                              "%s:%d:%d: %s; fix the JSON there", source,
                              jerr.line, jerr.column, jerr.text);
    rc = load_top(root, out, err);
    json_decref(root);
    if (rc != 0) {
        tock_error_prefix(err, "%s", source);
        tock_jobspec_set_clear(out);
    }
    return rc;
}

/* read_all reads fd to its end, refusing more than TOCK_JOBSPEC_FILE_MAX
 * bytes. *buf is a new buffer the caller frees with tock_free. */
static int read_all(int fd, const char *path, char **buf, size_t *len,
                    struct tock_error *err)
{
    size_t cap = 64 * 1024, n = 0;
    char *p = tock_malloc(cap), *q;
    ssize_t got;

    if (p == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (;;) {
        if (n == cap) {
            cap = cap * 2 > TOCK_JOBSPEC_FILE_MAX + 1 ? TOCK_JOBSPEC_FILE_MAX + 1
                                                      : cap * 2;
            if (n == cap || (q = tock_realloc(p, cap)) == NULL) {
                tock_free(p);
                return n == cap
                           ? tock_error_set(err, TOCK_ETOOBIG,
                                            "%.120s is larger than %d MiB; "
                                            "split it",
                                            path,
                                            TOCK_JOBSPEC_FILE_MAX >> 20)
                           : tock_error_set(err, TOCK_ENOMEM,
                                            "out of memory");
            }
            p = q;
        }
        got = read(fd, p + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            tock_free(p);
            return tock_error_set(err, TOCK_EIO, "cannot read %.120s: %s",
                                  path, strerror(errno));
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *buf = p;
    *len = n;
    return 0;
}

static int open_config(const char *path, int *fd, struct tock_error *err)
{
    struct stat st;

    if (strcmp(path, "-") == 0) {
        *fd = STDIN_FILENO;
        return 0;
    }
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (*fd < 0)
        return tock_error_set(err, TOCK_EIO, "cannot open %.120s: %s; check "
                              "the path", path, strerror(errno));
    if (fstat(*fd, &st) != 0 || S_ISDIR(st.st_mode) ||
        (S_ISREG(st.st_mode) && st.st_size > TOCK_JOBSPEC_FILE_MAX)) {
        int dir = S_ISDIR(st.st_mode);

        close(*fd);
        *fd = -1;
        if (dir)
            return tock_error_set(err, TOCK_EIO, "%.120s is a directory; give "
                                  "the config file's path", path);
        return tock_error_set(err, TOCK_ETOOBIG, "%.120s is larger than %d "
                              "MiB; split it", path,
                              TOCK_JOBSPEC_FILE_MAX >> 20);
    }
    return 0;
}

int tock_jobspec_load_file(const char *path, struct tock_jobspec_set *out,
                           struct tock_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int fd = -1, rc;

    memset(out, 0, sizeof *out);
    if ((rc = open_config(path, &fd, err)) != 0)
        return rc;
    rc = read_all(fd, path, &text, &len, err);
    if (fd != STDIN_FILENO)
        close(fd);
    if (rc == 0)
        rc = tock_jobspec_load_text(text, len,
                                    strcmp(path, "-") ? path : "<stdin>", out,
                                    err);
    tock_free(text);
    return rc;
}

/* ----------------------------------------------------------- from flags */

/* check_tz loads --tz once for a message that names the flag; the
 * trigger parser would refuse the zone too, but as part of the trigger. */
static int check_tz(const struct tock_jobspec_flags *f, struct tock_error *err)
{
    struct tock_tz *tz = NULL;

    if (f->tz == NULL)
        return 0;
    if (f->cron == NULL && f->at == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "--tz applies to --cron and --at; an --every "
                              "interval is the same in every zone");
    if (tock_tz_load(f->tz, &tz, err) != 0)
        return tock_error_prefix(err, "--tz");
    tock_tz_free(tz);
    return 0;
}

/* every_text writes the interval of --every, anchored at --start when
 * given (so it fires at the start, then every period). */
static int every_text(const struct tock_jobspec_flags *f, char *buf,
                      size_t cap, struct tock_error *err)
{
    char anchor[48] = "";
    int64_t ms, start;
    int rc;

    rc = tock_parse_duration_ms(f->every, 1, TOCK_DURATION_MAX_MS, &ms,
                                "--every", err);
    if (rc != 0)
        return rc;
    if (f->start != NULL) {
        if ((rc = tock_time_parse(f->start, &start, "--start", err)) != 0)
            return rc;
        anchor[0] = '@';
        tock_time_format(start, NULL, anchor + 1, sizeof anchor - 1);
    }
    snprintf(buf, cap, "interval:%s%s", f->every, anchor);
    return 0;
}

/* trigger_from_flags turns --cron/--every/--at/--trigger (+ --tz,
 * --start) into the trigger's text form; *flag names the flag used. */
static int trigger_from_flags(const struct tock_jobspec_flags *f, char **out,
                              const char **flag, struct tock_error *err)
{
    int given = (f->cron != NULL) + (f->every != NULL) + (f->at != NULL) +
                (f->trigger != NULL);
    char buf[TOCK_TRIGGER_MAX_TEXT + 128];
    const char *at = f->tz ? "@" : "", *tz = f->tz ? f->tz : "";
    int rc;

    *out = NULL;
    if (given != 1)
        return tock_error_set(err, given ? TOCK_EINVAL : TOCK_EMISSING,
                              "give exactly one of --cron EXPR, --every "
                              "DURATION, --at TIME or --trigger TEXT");
    if ((rc = check_tz(f, err)) != 0)
        return rc;
    if (f->cron != NULL) {
        *flag = "--cron";
        snprintf(buf, sizeof buf, "cron:%s%s%s", f->cron, at, tz);
    } else if (f->every != NULL) {
        *flag = "--every";
        if ((rc = every_text(f, buf, sizeof buf, err)) != 0)
            return rc;
    } else if (f->at != NULL) {
        *flag = "--at";
        snprintf(buf, sizeof buf, "date:%s%s%s", f->at, at, tz);
    } else {
        *flag = "--trigger";
        snprintf(buf, sizeof buf, "%s", f->trigger);
    }
    if ((*out = tock_strdup(buf)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    return 0;
}

/* Flags with a text value, in the order their errors are reported. */
static const struct {
    size_t offset;
    const char *flag;
    enum field_id id;
} text_flags[] = {
    {offsetof(struct tock_jobspec_flags, id), "job id", F_ID},
    {offsetof(struct tock_jobspec_flags, handler), "--handler", F_HANDLER},
    {offsetof(struct tock_jobspec_flags, queue), "--queue", F_QUEUE},
    {offsetof(struct tock_jobspec_flags, name), "--name", F_NAME},
    {offsetof(struct tock_jobspec_flags, misfire_grace), "--misfire-grace",
     F_GRACE},
    {offsetof(struct tock_jobspec_flags, timeout), "--timeout", F_TIMEOUT},
    {offsetof(struct tock_jobspec_flags, jitter), "--jitter", F_JITTER},
    {offsetof(struct tock_jobspec_flags, retry_backoff), "--retry-backoff",
     F_BACKOFF},
    {offsetof(struct tock_jobspec_flags, start), "--start", F_START},
    {offsetof(struct tock_jobspec_flags, end), "--end", F_END},
    {offsetof(struct tock_jobspec_flags, max_instances), "--max-instances",
     F_MAX_INSTANCES},
    {offsetof(struct tock_jobspec_flags, retries), "--retries", F_RETRIES},
    {offsetof(struct tock_jobspec_flags, max_deliveries), "--max-deliveries",
     F_MAX_DELIVERIES},
};

static int flags_fields(const struct tock_jobspec_flags *f,
                        struct tock_jobspec *spec, struct tock_error *err)
{
    const struct field *fd;
    const char *text;
    int64_t v;
    size_t i;
    int rc;

    for (i = 0; i < sizeof text_flags / sizeof text_flags[0]; i++) {
        text = *(const char *const *)((const char *)f + text_flags[i].offset);
        if (text == NULL)
            continue;
        fd = field_by_id(text_flags[i].id);
        if (fd->type == JSON_INTEGER) {
            rc = tock_parse_int64(text, fd->min, fd->max, &v,
                                  text_flags[i].flag, err);
            if (rc == 0)
                rc = set_int_field(spec, fd, v, text_flags[i].flag, err);
        } else {
            rc = set_text_field(spec, fd->id, text, text_flags[i].flag, err);
        }
        if (rc != 0)
            return rc;
    }
    spec->job.coalesce = !f->no_coalesce;
    spec->job.paused = f->paused;
    spec->paused_set = true;
    if (f->args == NULL)
        return 0;
    return tock_jobspec_args(f->args, f->args_len, "--args", &spec->job.args,
                             &spec->job.args_len, err);
}

int tock_jobspec_from_flags(const struct tock_jobspec_flags *f,
                            struct tock_jobspec *out, struct tock_error *err)
{
    const char *names[4] = {"job id", "--handler", "--trigger", "--queue"};
    int rc;

    if ((rc = tock_job_init_defaults(&out->job)) != 0)
        return tock_error_set(err, rc, "out of memory");
    /* The id is checked first: it names what every later message is
     * about. */
    if ((rc = require(f->id, "the job id", "write tock add ID ...", err)) ||
        (rc = tock_name_check(f->id, "job id", err)) ||
        (rc = trigger_from_flags(f, &out->job.trigger, &names[2], err)) ||
        (rc = flags_fields(f, out, err)))
        goto done;
    rc = finish(out, names, err);
done:
    if (rc != 0)
        tock_jobspec_clear(out);
    return rc;
}

/* ----------------------------------------------------------- first fire */

/* check_now runs the trigger's checks that need a clock. An end already
 * past is not an error here (a config applied again after a job's end
 * must still apply): the job is recorded finished instead, so the check
 * runs as of the end in that case. */
static int check_now(const struct tock_trigger *t, const struct tock_job *job,
                     int64_t now_ms, struct tock_error *err)
{
    int64_t as_of = now_ms;

    if (job->end_ms != 0 && job->end_ms < now_ms)
        as_of = job->end_ms;
    return tock_trigger_check(t, as_of, job->jitter_ms, err);
}

int tock_jobspec_first_fire(const struct tock_job *job, int64_t now_ms,
                            int64_t *next_ms, struct tock_error *err)
{
    struct tock_trigger *t = NULL;
    int64_t after = now_ms;
    int rc;

    *next_ms = -1;
    rc = tock_trigger_parse(job->trigger, &t, err);
    if (rc == 0)
        rc = tock_trigger_set_bounds(t, job->start_ms ? job->start_ms
                                                      : TOCK_TIME_MIN_MS,
                                     job->end_ms ? job->end_ms
                                                 : TOCK_TIME_MAX_MS,
                                     err);
    if (rc != 0)
        goto done;
    tock_trigger_anchor(t, now_ms);
    if ((rc = check_now(t, job, now_ms, err)) != 0)
        goto done;
    /* A date fires at its time even when that has passed (see the header):
     * ask for the first occurrence after the start of time. */
    if (tock_trigger_kind(t) == TOCK_TRIGGER_DATE)
        after = TOCK_TIME_MIN_MS - 1;
    rc = tock_trigger_next(t, after, next_ms, err);
    if (rc == TOCK_ENOTIME) {
        *next_ms = -1;
        rc = 0;
    }
done:
    tock_trigger_free(t);
    if (rc != 0)
        tock_error_prefix(err, "job '%s': trigger", job->id);
    return rc;
}

/* ------------------------------------------------------------ equality */

static bool str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

bool tock_jobspec_same(const struct tock_job *a, const struct tock_job *b)
{
    return str_eq(a->id, b->id) && str_eq(a->name, b->name) &&
           str_eq(a->queue, b->queue) && str_eq(a->handler, b->handler) &&
           str_eq(a->trigger, b->trigger) && a->args_len == b->args_len &&
           (a->args_len == 0 || memcmp(a->args, b->args, a->args_len) == 0) &&
           a->misfire_grace_ms == b->misfire_grace_ms &&
           a->coalesce == b->coalesce &&
           a->max_instances == b->max_instances &&
           a->jitter_ms == b->jitter_ms && a->timeout_ms == b->timeout_ms &&
           a->retries == b->retries &&
           a->retry_backoff_ms == b->retry_backoff_ms &&
           a->max_deliveries == b->max_deliveries && a->paused == b->paused &&
           a->start_ms == b->start_ms && a->end_ms == b->end_ms;
}
