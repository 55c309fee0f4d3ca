/* tock error codes and error objects.
 *
 * Every libtock function that can fail returns 0 on success or a negative
 * TOCK_E* code. The code says what kind of failure it was; the detailed,
 * printable one-line message (naming the problem and the fix) travels in a
 * struct tock_error out-parameter or on the handle that failed.
 *
 * The enum, tock_strerror() and tock_err_name() are all generated from the
 * one list below, so a new code cannot be half-added. Codes are stable once
 * released: append new ones at the end with the next free number.
 */
#ifndef TOCK_ERROR_H
#define TOCK_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOCK_ERRNO_MAP(X)                                                      \
    X(EINVAL, 1, "invalid argument")                                           \
    X(ENOMEM, 2, "out of memory")                                              \
    X(EIO, 3, "input/output error")                                            \
    X(ENOENT, 4, "not found")                                                  \
    X(EEXIST, 5, "already exists")                                             \
    X(ERANGE, 6, "value out of range")                                         \
    X(ETRUNC, 7, "truncated input")                                            \
    X(EFORMAT, 8, "malformed input")                                           \
    X(ETOOBIG, 9, "input exceeds a size limit")                                \
    X(ETOODEEP, 10, "nesting too deep")                                        \
    X(EVERSION, 11, "unsupported protocol or schema version")                  \
    X(ETYPE, 12, "wrong type")                                                 \
    X(EMISSING, 13, "required field missing")                                  \
    X(EDUPKEY, 14, "duplicate key")                                            \
    X(EUTF8, 15, "invalid UTF-8")                                              \
    X(EAGAIN, 16, "try again")                                                 \
    X(EBUSY, 17, "resource busy or locked")                                    \
    X(ECONN, 18, "connection failed")                                          \
    X(ETIMEDOUT, 19, "timed out")                                              \
    X(EAUTH, 20, "authentication or permission refused")                       \
    X(ESTALE, 21, "stale claim or attempt refused")                            \
    X(ENOSPC, 22, "no space left on device")                                   \
    X(ECORRUPT, 23, "store is corrupt")                                        \
    X(ENOTIME, 24, "no such time")                                             \
    X(ECANCELED, 25, "operation canceled")                                     \
    X(EINTERNAL, 26, "internal error (a bug in tock)")

/* tock_errno: the negative error codes. 0 is success. */
enum tock_errno {
    TOCK_OK = 0,
#define TOCK_X__ENUM(name, num, text) TOCK_##name = -(num),
    TOCK_ERRNO_MAP(TOCK_X__ENUM)
#undef TOCK_X__ENUM
};

/* Bound of a printable error message, including the NUL. Long enough for a
 * sentence naming the problem, the offending value (itself bounded) and the
 * fix; short enough to live inside every handle. */
#define TOCK_ERRSTR_MAX 256

/* tock_error: an error out-parameter. `code` is 0 or a TOCK_E* code; `msg`
 * is a NUL-terminated, single-line, printable message (control characters
 * are escaped when it is set). Callers may pass NULL where a function takes
 * a struct tock_error *, and then get only the code. */
struct tock_error {
    int code;
    char msg[TOCK_ERRSTR_MAX];
};

/* tock_strerror returns a static description of `code`, never NULL; unknown
 * codes give "unknown error". */
const char *tock_strerror(int code);

/* tock_err_name returns the static symbolic name of `code` ("TOCK_EINVAL"),
 * "TOCK_OK" for 0 and "TOCK_EUNKNOWN" for codes not in the list. */
const char *tock_err_name(int code);

/* tock_error_set records `code` and a printf-style message in `err` (which
 * may be NULL) and returns `code`, so a failure path can be one line:
 *     return tock_error_set(err, TOCK_EINVAL, "cron field 'hour': ...");
 * The message is truncated to TOCK_ERRSTR_MAX - 1 bytes, and newlines and
 * other control characters are escaped so it stays one printable line. */
int tock_error_set(struct tock_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* tock_error_clear resets `err` (which may be NULL) to success. */
void tock_error_clear(struct tock_error *err);

/* tock_error_prefix prepends "prefix: " to the message already in `err`,
 * for callers that add context ("jobs.json:12: ..."). Returns err->code. */
int tock_error_prefix(struct tock_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif /* TOCK_ERROR_H */
