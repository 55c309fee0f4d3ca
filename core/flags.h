/* flags.h: table-driven command-line flags with environment twins.
 *
 * Every program (tock, tock-scheduler, tock-worker) declares its flags as a
 * table; this module parses argv against it, applies the environment twin of
 * every flag not given on the command line (the flag wins over the
 * environment), and refuses anything off: an unknown flag, a missing or
 * empty value, a non-repeatable flag given twice with different values, a
 * number or duration out of range. Each refusal is one line in `err` that
 * names the flag and the fix.
 */
#ifndef TOCK_CORE_FLAGS_H
#define TOCK_CORE_FLAGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tock/error.h"

enum tock_flag_type {
    TOCK_FLAG_BOOL,     /* no value; dest is bool * */
    TOCK_FLAG_STRING,   /* dest is const char ** (points into argv/environ) */
    TOCK_FLAG_INT,      /* dest is int64_t *, within [min, max] */
    TOCK_FLAG_DURATION, /* dest is int64_t * (ms), within [min, max] */
    TOCK_FLAG_CALL,     /* each value goes to call(ctx, value, err); repeatable */
};

typedef int (*tock_flag_call_fn)(void *ctx, const char *value,
                                 struct tock_error *err);

struct tock_flag {
    const char *name;  /* long name without dashes: "concurrency" */
    char short_name;   /* 0 for none */
    const char *env;   /* environment twin or NULL: "TOCK_CONCURRENCY" */
    enum tock_flag_type type;
    void *dest;
    int64_t min, max;  /* TOCK_FLAG_INT / TOCK_FLAG_DURATION bounds */
    tock_flag_call_fn call;
    const char *metavar; /* "N", "DURATION", "URL" for --help */
    const char *help;
};

/* tock_flags_parse parses argv[start..argc) against `flags` (terminated by
 * an entry with name NULL). Positional arguments are moved, in order, to the
 * front of argv[start..] and their count is stored in *npositional. `--`
 * ends the flags. `call_ctx` is passed to TOCK_FLAG_CALL entries. `prog` is
 * used in messages ("see 'tock-worker --help'"). */
int tock_flags_parse(const struct tock_flag *flags, int argc, char **argv,
                     int start, int *npositional, void *call_ctx,
                     const char *prog, struct tock_error *err);

/* tock_flags_usage prints one aligned line per flag to `out`. */
void tock_flags_usage(const struct tock_flag *flags, FILE *out);

#endif /* TOCK_CORE_FLAGS_H */
