/* common.c: flag parsing, store opening and exit statuses shared by the
 * store commands. */
#include "cli/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "proto/model.h"

/* ----------------------------------------------------------------- flags */

static void print_usage(const struct tock_flag *flags,
                        const struct tock_cli_usage *usage)
{
    printf("usage: %s\n\n%s\n\nflags:\n", usage->synopsis, usage->summary);
    tock_flags_usage(flags, stdout);
}

int tock_cli_parse(const struct tock_flag *flags, const bool *help,
                   const struct tock_cli_usage *usage, const char *prog,
                   int argc, char **argv, int min_pos, int max_pos,
                   int *npos)
{
    struct tock_error err = {0};

    if (tock_flags_parse(flags, argc, argv, 1, npos, NULL, prog, &err) != 0) {
        /* --help anywhere still helps, even next to a broken flag. */
        if (*help) {
            print_usage(flags, usage);
            return TOCK_EXIT_OK;
        }
        return tock_cli_fail(TOCK_EXIT_USAGE, "%s", err.msg);
    }
    if (*help) {
        print_usage(flags, usage);
        return TOCK_EXIT_OK;
    }
    if (*npos < min_pos)
        return tock_cli_fail(TOCK_EXIT_USAGE, "missing argument; usage: %s",
                             usage->synopsis);
    if (*npos > max_pos)
        return tock_cli_fail(TOCK_EXIT_USAGE,
                             "unexpected argument '%.60s'; usage: %s",
                             argv[1 + max_pos], usage->synopsis);
    return -1;
}

int tock_cli_check_id(const char *id)
{
    struct tock_error err = {0};

    if (tock_name_check(id, "job id", &err) == 0)
        return -1;
    return tock_cli_usage_fail(&err);
}

int64_t tock_cli_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------------------- store */

/* sqlite_path returns the path of a sqlite: URL, or NULL for other
 * schemes (the store reports those). */
static const char *sqlite_path(const char *url)
{
    if (strncmp(url, "sqlite:", 7) != 0 || url[7] == '\0')
        return NULL;
    return url + 7;
}

int tock_cli_open_store(const char *url, bool create, struct tock_store **out)
{
    struct tock_error err = {0};
    const char *path;
    struct stat st;
    int rc;

    *out = NULL;
    if (url == NULL)
        return tock_cli_fail(TOCK_EXIT_USAGE,
                             "no store given; pass --store sqlite:PATH or set "
                             "TOCK_STORE");
    path = sqlite_path(url);
    if (!create && path != NULL && stat(path, &st) != 0 && errno == ENOENT)
        return tock_cli_fail(TOCK_EXIT_USAGE,
                             "store %.200s does not exist; check --store or "
                             "TOCK_STORE (tock add and tock apply create it)",
                             url);
    rc = tock_store_open(url, NULL, out, &err);
    if (rc != 0)
        return rc == TOCK_EINVAL ? tock_cli_usage_fail(&err)
                                 : tock_cli_store_fail(&err);
    return 0;
}

int tock_cli_store_fail(const struct tock_error *err)
{
    switch (err->code) {
    case TOCK_EINVAL:
    case TOCK_ERANGE:
    case TOCK_EFORMAT:
    case TOCK_ETOOBIG:
    case TOCK_ETOODEEP:
    case TOCK_ETYPE:
    case TOCK_EMISSING:
    case TOCK_EDUPKEY:
    case TOCK_EUTF8:
        return tock_cli_usage_fail(err);
    default:
        break;
    }
    return tock_cli_fail(TOCK_EXIT_FAIL, "%s",
                         err->msg[0] ? err->msg : tock_strerror(err->code));
}

int tock_cli_usage_fail(const struct tock_error *err)
{
    return tock_cli_fail(TOCK_EXIT_USAGE, "%s",
                         err->msg[0] ? err->msg : tock_strerror(err->code));
}

/* ------------------------------------------------------------ @FILE args */

int tock_cli_read_arg(const char *arg, size_t max, char **text, size_t *len,
                      struct tock_error *err)
{
    const char *path = arg + 1;
    size_t cap = 64 * 1024, n = 0;
    char *buf = NULL, *grown;
    ssize_t got;
    int fd, rc = 0;

    *text = NULL;
    *len = 0;
    fd = strcmp(path, "-") == 0 ? STDIN_FILENO
                                : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return tock_error_set(err, TOCK_EIO, "cannot open %.120s: %s", path,
                              strerror(errno));
    for (;;) {
        if (n + 1 >= cap || buf == NULL) {
            cap = buf ? cap * 2 : cap;
            if ((grown = tock_realloc(buf, cap)) == NULL) {
                rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
                break;
            }
            buf = grown;
        }
        got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = tock_error_set(err, TOCK_EIO, "cannot read %.120s: %s", path,
                                strerror(errno));
        if (got <= 0)
            break;
        n += (size_t)got;
        if (n > max) {
            rc = tock_error_set(err, TOCK_ETOOBIG, "%.120s is larger than "
                                "%zu MiB", path, max >> 20);
            break;
        }
    }
    if (fd != STDIN_FILENO)
        close(fd);
    if (rc != 0) {
        tock_free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}
