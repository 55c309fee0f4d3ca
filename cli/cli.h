/* cli.h: the tock command's subcommand table and shared helpers.
 *
 * Each subcommand lives in its own cli/cmd_<name>.c and is one row of the
 * table in cli/main.c. Exit statuses are the same for every subcommand:
 * 0 success, 1 a runtime failure (store unreachable, ...), 2 bad input
 * (usage, a bad flag or value), each with one line on stderr.
 */
#ifndef TOCK_CLI_H
#define TOCK_CLI_H

#include <stdio.h>

enum {
    TOCK_EXIT_OK = 0,
    TOCK_EXIT_FAIL = 1,
    TOCK_EXIT_USAGE = 2,
};

struct tock_cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
};

/* Subcommands, one per cli/cmd_<name>.c. */
int tock_cmd_next(int argc, char **argv);
int tock_cmd_standalone(int argc, char **argv);

/* tock_cli_fail prints "tock: <message>" on stderr and returns `status`. */
int tock_cli_fail(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif /* TOCK_CLI_H */
