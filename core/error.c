/* error.c: the tables generated from TOCK_ERRNO_MAP and the error object.
 */
#include "tock/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/escape.h"

/* ---------------------------------------------------------------- tables */

const char *tock_strerror(int code)
{
    switch (code) {
    case TOCK_OK:
        return "success";
#define TOCK_X__STR(name, num, text)                                           \
    case TOCK_##name:                                                          \
        return text;
        TOCK_ERRNO_MAP(TOCK_X__STR)
#undef TOCK_X__STR
    }
    return "unknown error";
}

const char *tock_err_name(int code)
{
    switch (code) {
    case TOCK_OK:
        return "TOCK_OK";
#define TOCK_X__NAME(name, num, text)                                          \
    case TOCK_##name:                                                          \
        return "TOCK_" #name;
        TOCK_ERRNO_MAP(TOCK_X__NAME)
#undef TOCK_X__NAME
    }
    return "TOCK_EUNKNOWN";
}

/* ---------------------------------------------------------- error object */

int tock_error_set(struct tock_error *err, int code, const char *fmt, ...)
{
    char raw[TOCK_ERRSTR_MAX];
    va_list ap;

    if (err == NULL)
        return code;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    err->code = code;
    tock_escape_line(err->msg, sizeof err->msg, raw, strlen(raw));
    return code;
}

void tock_error_clear(struct tock_error *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

int tock_error_prefix(struct tock_error *err, const char *fmt, ...)
{
    char prefix[TOCK_ERRSTR_MAX];
    char joined[TOCK_ERRSTR_MAX];
    va_list ap;

    if (err == NULL)
        return 0;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
    tock_escape_line(err->msg, sizeof err->msg, joined, strlen(joined));
    return err->code;
}
