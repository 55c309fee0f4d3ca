/* main.c: the tock command: dispatch to one subcommand by name. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "tock/tock.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct tock_cli_command commands[] = {
    {"add", tock_cmd_add, "add a job (--cron, --every, --at)"},
    {"apply", tock_cmd_apply, "add, update and prune jobs from a config file"},
    {"ls", tock_cmd_ls, "list jobs"},
    {"show", tock_cmd_show, "show one job and its firing state"},
    {"rm", tock_cmd_rm, "remove a job"},
    {"pause", tock_cmd_pause, "pause a job"},
    {"resume", tock_cmd_resume, "resume a paused job"},
    {"run", tock_cmd_run, "fire a job once now"},
    {"runs", tock_cmd_runs, "show the run history"},
    {"events", tock_cmd_events, "show (and follow) the event history"},
    {"next", tock_cmd_next, "print the next times a trigger fires"},
    {"standalone", tock_cmd_standalone,
     "run scheduler and workers in one process on a SQLite file"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show this help"},
    {NULL, NULL, NULL},
};

int tock_cli_fail(int status, const char *fmt, ...)
{
    va_list ap;

    fputs("tock: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

static void usage(FILE *out)
{
    const struct tock_cli_command *c;

    fprintf(out, "usage: tock <command> [flags] [args]\n\n"
                 "tock schedules jobs that fire exactly once, on SQLite or "
                 "on a Redis cluster.\n\ncommands:\n");
    for (c = commands; c->name != NULL; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'tock <command> --help' for a command's flags.\n");
}

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return TOCK_EXIT_OK;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tock %s\n", tock_version());
    return TOCK_EXIT_OK;
}

int main(int argc, char **argv)
{
    const struct tock_cli_command *c;

    /* A closed stdout (tock ls | head -1) is an EPIPE write error, not a
     * signal that kills us mid-line. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return TOCK_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return cmd_help(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--version"))
        return cmd_version(argc - 1, argv + 1);
    for (c = commands; c->name != NULL; c++)
        if (strcmp(c->name, argv[1]) == 0)
            return c->run(argc - 1, argv + 1);
    if (argv[1][0] == '-')
        return tock_cli_fail(TOCK_EXIT_USAGE,
                             "unknown flag '%.60s'; give a command first, see "
                             "'tock --help'",
                             argv[1]);
    return tock_cli_fail(TOCK_EXIT_USAGE,
                         "unknown command '%.60s'; see 'tock --help'", argv[1]);
}
