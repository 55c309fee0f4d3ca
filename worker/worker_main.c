/* worker_main.c: tock-worker, a worker pool: runs fired tasks with the handlers its configuration defines.
 *
 * Only main() may exit; everything it runs lives in libtock.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/flags.h"
#include "tock/tock.h"
#include "worker/handlers.h"

#define PROG "tock-worker"

struct options {
    bool help, version;
    const char *store, *log_level, *log_format, *config;
    int64_t concurrency;
};

/* add_handler is the --handler flag: one exec handler per value. */
static int add_handler(void *ctx, const char *value, struct tock_error *err)
{
    return tock_handlers_add_spec(ctx, value, err);
}

static void usage(const struct tock_flag *flags, FILE *out)
{
    fprintf(out, "usage: " PROG " [flags]\n\n" PROG " is a worker pool: runs fired tasks with the handlers its configuration defines.\n\nflags:\n");
    tock_flags_usage(flags, out);
}

int main(int argc, char **argv)
{
    struct options o = {.concurrency = 2};
    const struct tock_flag flags[] = {
        {"store", 0, "TOCK_STORE", TOCK_FLAG_STRING, &o.store, 0, 0, NULL,
         "URL", "store: redis://[user:pass@]host:port[/db] or sqlite:PATH"},
        {"config", 'c', "TOCK_CONFIG", TOCK_FLAG_STRING, &o.config, 0, 0, NULL,
         "FILE", "JSON config file; its \"handlers\" section defines the "
         "exec handlers (docs/handlers.md)"},
        {"handler", 0, NULL, TOCK_FLAG_CALL, NULL, 0, 0, add_handler,
         "NAME=COMMAND", "an exec handler, NAME=COMMAND [ARG...] in one "
         "argument, split on whitespace, no shell (repeatable)"},
        {"concurrency", 'j', "TOCK_CONCURRENCY", TOCK_FLAG_INT,
         &o.concurrency, 1, 256, NULL, "N",
         "worker children running tasks at once, 1..256 (default 2)"},
        {"log-level", 0, "TOCK_LOG", TOCK_FLAG_STRING, &o.log_level, 0, 0,
         NULL, "LEVEL", "debug, info, warn or error (default info)"},
        {"log-format", 0, "TOCK_LOG_FORMAT", TOCK_FLAG_STRING, &o.log_format,
         0, 0, NULL, "FORMAT", "human or json (default human)"},
        {"version", 0, NULL, TOCK_FLAG_BOOL, &o.version, 0, 0, NULL, NULL,
         "print the version and exit"},
        {"help", 'h', NULL, TOCK_FLAG_BOOL, &o.help, 0, 0, NULL, NULL,
         "show this help and exit"},
        {NULL, 0, NULL, 0, NULL, 0, 0, NULL, NULL, NULL},
    };
    struct tock_error err = {0};
    enum tock_log_level level = TOCK_LOG_INFO;
    enum tock_log_format format = TOCK_LOG_HUMAN;
    struct tock_handlers *handlers = tock_handlers_new();
    int npos = 0, rc = 2;

    if (handlers == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (tock_flags_parse(flags, argc, argv, 1, &npos, handlers, PROG,
                         &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        goto done;
    }
    if (o.help || o.version) {
        if (o.help)
            usage(flags, stdout);
        else
            printf(PROG " %s\n", tock_version());
        rc = 0;
        goto done;
    }
    if (npos > 0) {
        fprintf(stderr, PROG ": unexpected argument '%.60s'; see '" PROG
                        " --help'\n", argv[1]);
        goto done;
    }
    if ((o.log_level && tock_log_level_parse(o.log_level, &level, &err) != 0) ||
        (o.log_format && tock_log_format_parse(o.log_format, &format, &err) != 0) ||
        (o.config && tock_handlers_load_file(handlers, o.config, &err) != 0)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        goto done;
    }
    if (tock_handlers_count(handlers) == 0) {
        fprintf(stderr, PROG ": no handlers are configured; give --handler "
                        "NAME=COMMAND or a --config file with a \"handlers\" "
                        "section (docs/handlers.md)\n");
        goto done;
    }
    fprintf(stderr, PROG ": no store backend is built into this version yet; "
                    "see the README for what runs today\n");
    rc = 1;
done:
    tock_handlers_free(handlers);
    return rc;
}
