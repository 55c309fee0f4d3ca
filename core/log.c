/* log.c: the logger handle. JSON lines are built with jansson so escaping
 * is a well-kept library's job, not ours. */
#include "tock/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/escape.h"

struct tock_log {
    int fd;
    enum tock_log_level min_level;
    enum tock_log_format format;
    tock_log_sink_fn sink;
    void *sink_data;
};

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "off"};

/* ------------------------------------------------------------- lifecycle */

struct tock_log *tock_log_new(int fd, enum tock_log_level min_level,
                              enum tock_log_format format)
{
    struct tock_log *log = tock_calloc(1, sizeof *log);

    if (log == NULL)
        return NULL;
    log->fd = fd;
    log->min_level = min_level;
    log->format = format;
    return log;
}

void tock_log_free(struct tock_log *log)
{
    tock_free(log);
}

void tock_log_set_sink(struct tock_log *log, tock_log_sink_fn fn, void *data)
{
    log->sink = fn;
    log->sink_data = data;
}

int tock_log_enabled(const struct tock_log *log, enum tock_log_level level)
{
    return log != NULL && level >= log->min_level && level < TOCK_LOG_OFF;
}

const char *tock_log_level_name(enum tock_log_level level)
{
    if ((unsigned)level > TOCK_LOG_OFF)
        return "unknown";
    return level_names[level];
}

/* --------------------------------------------------------------- parsing */

int tock_log_level_parse(const char *text, enum tock_log_level *out,
                         struct tock_error *err)
{
    unsigned i;

    for (i = 0; i <= TOCK_LOG_OFF; i++) {
        if (text != NULL && strcasecmp(text, level_names[i]) == 0) {
            *out = (enum tock_log_level)i;
            return 0;
        }
    }
    return tock_error_set(err, TOCK_EINVAL,
                          "log level '%.64s' is unknown; use one of debug, "
                          "info, warn, error, off",
                          text ? text : "");
}

int tock_log_format_parse(const char *text, enum tock_log_format *out,
                          struct tock_error *err)
{
    if (text != NULL && strcasecmp(text, "human") == 0) {
        *out = TOCK_LOG_HUMAN;
        return 0;
    }
    if (text != NULL && strcasecmp(text, "json") == 0) {
        *out = TOCK_LOG_JSON;
        return 0;
    }
    return tock_error_set(err, TOCK_EINVAL,
                          "log format '%.64s' is unknown; use human or json",
                          text ? text : "");
}

/* --------------------------------------------------------------- writing */

/* Log timestamps are the local wall clock in UTC: they are for people, and
 * no decision is taken on them. */
static void format_timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
}

static void emit(struct tock_log *log, enum tock_log_level level,
                 const char *line)
{
    size_t len = strlen(line);
    char buf[TOCK_LOG_LINE_MAX + 1];
    ssize_t n;

    if (log->sink != NULL) {
        log->sink(log->sink_data, level, line);
        return;
    }
    memcpy(buf, line, len);
    buf[len++] = '\n';
    /* One write() per line keeps lines whole when processes share a fd. */
    do {
        n = write(log->fd, buf, len);
    } while (n < 0 && errno == EINTR);
}

static void format_json(char *line, size_t cap, const char *ts,
                        enum tock_log_level level, const char *component,
                        const char *msg)
{
    json_t *obj = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level",
                            level_names[level], "component", component, "msg",
                            msg);
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

    snprintf(line, cap, "%s", text ? text : "{\"msg\":\"(out of memory)\"}");
    free(text);
    json_decref(obj);
}

void tock_vlogf(struct tock_log *log, enum tock_log_level level,
                const char *component, const char *fmt, va_list ap)
{
    char raw[TOCK_LOG_LINE_MAX / 2];
    char msg[TOCK_LOG_LINE_MAX / 2];
    char line[TOCK_LOG_LINE_MAX];
    char ts[40];

    if (!tock_log_enabled(log, level))
        return;
    vsnprintf(raw, sizeof raw, fmt, ap);
    tock_escape_line(msg, sizeof msg, raw, strlen(raw));
    format_timestamp(ts, sizeof ts);
    if (log->format == TOCK_LOG_JSON)
        format_json(line, sizeof line, ts, level, component, msg);
    else
        snprintf(line, sizeof line, "%s %-5s %s: %s", ts, level_names[level],
                 component, msg);
    emit(log, level, line);
}

void tock_logf(struct tock_log *log, enum tock_log_level level,
               const char *component, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tock_vlogf(log, level, component, fmt, ap);
    va_end(ap);
}
