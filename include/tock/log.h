/* tock logging: one line per event, human by default, JSON lines on demand.
 *
 * A struct tock_log is a handle passed down to the modules that log; there is
 * no process-wide logger, so a program can run two schedulers that log to
 * different places. Every module accepts a NULL logger and then stays quiet.
 * Messages are escaped to one printable line (no forged lines, no terminal
 * escapes) and bounded to TOCK_LOG_LINE_MAX bytes.
 */
#ifndef TOCK_LOG_H
#define TOCK_LOG_H

#include <stdarg.h>

#include "tock/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TOCK_LOG_LINE_MAX 2048

enum tock_log_level {
    TOCK_LOG_DEBUG = 0,
    TOCK_LOG_INFO = 1,
    TOCK_LOG_WARN = 2,
    TOCK_LOG_ERROR = 3,
    TOCK_LOG_OFF = 4,
};

enum tock_log_format {
    TOCK_LOG_HUMAN = 0, /* "2026-11-24T04:35:12.123Z info  scheduler: text" */
    TOCK_LOG_JSON = 1,  /* {"ts":"...","level":"info","component":...,"msg":...} */
};

/* A sink receives each finished line (without the trailing newline). */
typedef void (*tock_log_sink_fn)(void *data, enum tock_log_level level,
                                 const char *line);

struct tock_log;

/* tock_log_new returns a new logger writing to file descriptor `fd` (not
 * owned: the caller keeps it open while the logger lives), or NULL when out
 * of memory. Free it with tock_log_free. */
struct tock_log *tock_log_new(int fd, enum tock_log_level min_level,
                              enum tock_log_format format);

/* tock_log_free releases `log`; NULL does nothing. */
void tock_log_free(struct tock_log *log);

/* tock_log_set_sink sends finished lines to `fn(data, ...)` instead of the
 * file descriptor. `data` is not owned. */
void tock_log_set_sink(struct tock_log *log, tock_log_sink_fn fn, void *data);

/* tock_log_enabled reports whether `level` would be written (false for a NULL
 * logger), so callers can skip building expensive messages. */
int tock_log_enabled(const struct tock_log *log, enum tock_log_level level);

/* tock_logf writes one event: `component` names the module ("scheduler",
 * "worker", "store"), the rest is printf-style. NULL `log` does nothing. */
void tock_logf(struct tock_log *log, enum tock_log_level level,
               const char *component, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

void tock_vlogf(struct tock_log *log, enum tock_log_level level,
                const char *component, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 0)))
#endif
    ;

/* tock_log_level_parse parses "debug", "info", "warn", "error" or "off"
 * (case-insensitive, as TOCK_LOG and --log give them) into *out. */
int tock_log_level_parse(const char *text, enum tock_log_level *out,
                         struct tock_error *err);

/* tock_log_format_parse parses "human" or "json" into *out. */
int tock_log_format_parse(const char *text, enum tock_log_format *out,
                          struct tock_error *err);

const char *tock_log_level_name(enum tock_log_level level);

#ifdef __cplusplus
}
#endif

#endif /* TOCK_LOG_H */
