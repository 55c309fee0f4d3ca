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

#define PROG "tock-worker"

struct options {
    bool help, version;
    const char *store, *log_level, *log_format;
};

static void usage(const struct tock_flag *flags, FILE *out)
{
    fprintf(out, "usage: " PROG " [flags]\n\n" PROG " is a worker pool: runs fired tasks with the handlers its configuration defines.\n\nflags:\n");
    tock_flags_usage(flags, out);
}

int main(int argc, char **argv)
{
    struct options o = {0};
    const struct tock_flag flags[] = {
        {"store", 0, "TOCK_STORE", TOCK_FLAG_STRING, &o.store, 0, 0, NULL,
         "URL", "store: redis://[user:pass@]host:port[/db] or sqlite:PATH"},
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
    int npos = 0;

    if (tock_flags_parse(flags, argc, argv, 1, &npos, NULL, PROG, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    if (o.help) {
        usage(flags, stdout);
        return 0;
    }
    if (o.version) {
        printf(PROG " %s\n", tock_version());
        return 0;
    }
    if (npos > 0) {
        fprintf(stderr, PROG ": unexpected argument '%.60s'; see '" PROG
                        " --help'\n", argv[1]);
        return 2;
    }
    if ((o.log_level && tock_log_level_parse(o.log_level, &level, &err) != 0) ||
        (o.log_format && tock_log_format_parse(o.log_format, &format, &err) != 0)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    fprintf(stderr, PROG ": no store backend is built into this version yet; "
                    "see the README for what runs today\n");
    return 1;
}
