/* common.h: what every store command of `tock` shares: flag parsing with
 * --help, the --store flag, opening the store, exit statuses from error
 * codes, and the prototypes of the commands registered in cli/main.c.
 */
#ifndef TOCK_CLI_COMMON_H
#define TOCK_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/flags.h"
#include "store/store.h"
#include "tock/error.h"

/* The --store flag row (env twin TOCK_STORE); `dest` is a const char **. */
#define TOCK_CLI_STORE_FLAG(dest)                                              \
    {"store", 0, "TOCK_STORE", TOCK_FLAG_STRING, (dest), 0, 0, NULL, "URL",   \
     "the store: sqlite:PATH (or redis://HOST:PORT)"}
#define TOCK_CLI_JSON_FLAG(dest)                                               \
    {"json", 0, NULL, TOCK_FLAG_BOOL, (dest), 0, 0, NULL, NULL,                \
     "one JSON object per line instead of a table"}
#define TOCK_CLI_HELP_FLAG(dest)                                               \
    {"help", 'h', NULL, TOCK_FLAG_BOOL, (dest), 0, 0, NULL, NULL,              \
     "show this help"}
#define TOCK_CLI_FLAGS_END {NULL, 0, NULL, 0, NULL, 0, 0, NULL, NULL, NULL}

/* tock_cli_usage: what `tock CMD --help` prints above the flags. */
struct tock_cli_usage {
    const char *synopsis;   /* "tock rm ID [flags]" */
    const char *summary;    /* one paragraph */
};

/* tock_cli_parse parses argv[1..argc) (argv[0] is the command) against
 * `flags`, which must contain a TOCK_CLI_HELP_FLAG pointing at *help.
 * Positional arguments end up in argv[1..1+*npos). It checks that their
 * count lies in [min_pos, max_pos]. Returns -1 to go on, or the exit
 * status to return now (0 after --help, 2 after a usage error, which it
 * printed). `prog` is "tock CMD". */
int tock_cli_parse(const struct tock_flag *flags, const bool *help,
                   const struct tock_cli_usage *usage, const char *prog,
                   int argc, char **argv, int min_pos, int max_pos,
                   int *npos);

/* tock_cli_open_store opens the store `url` (from --store/TOCK_STORE).
 * Only when `create` is true may a missing SQLite file be created: a read
 * (`tock ls`) on a path that does not exist is an error, never a new
 * empty database. Returns 0 with *out set (free it with tock_store_close),
 * or the exit status after printing the error. */
int tock_cli_open_store(const char *url, bool create, struct tock_store **out);

/* tock_cli_store_fail prints `err` (from a store operation) and returns
 * the exit status for its code: 2 when the store refused a value as
 * invalid, 1 for everything else (the store unreachable, locked, a job not
 * found, ...). */
int tock_cli_store_fail(const struct tock_error *err);

/* tock_cli_usage_fail prints `err` and returns 2: the request itself is
 * bad, whatever the store holds. */
int tock_cli_usage_fail(const struct tock_error *err);

/* tock_cli_check_id checks a job id argument before anything is opened;
 * returns -1 to go on or 2 after printing the problem. */
int tock_cli_check_id(const char *id);

/* tock_cli_read_arg reads the text of an "@FILE" argument ("@-" is
 * standard input), at most `max` bytes. *text is a new NUL-terminated
 * buffer (free with tock_free), *len its length. */
int tock_cli_read_arg(const char *arg, size_t max, char **text, size_t *len,
                      struct tock_error *err);

/* tock_cli_wall_ms returns this host's clock in ms since the epoch: for
 * checks made before a store (and its clock) is opened. */
int64_t tock_cli_wall_ms(void);

/* ------------------------------------------------------------ commands */

int tock_cmd_add(int argc, char **argv);
int tock_cmd_apply(int argc, char **argv);
int tock_cmd_ls(int argc, char **argv);
int tock_cmd_show(int argc, char **argv);
int tock_cmd_rm(int argc, char **argv);
int tock_cmd_pause(int argc, char **argv);
int tock_cmd_resume(int argc, char **argv);
int tock_cmd_run(int argc, char **argv);
int tock_cmd_runs(int argc, char **argv);
int tock_cmd_events(int argc, char **argv);

#endif /* TOCK_CLI_COMMON_H */
