/* cli_run.c: run the built `tock` binary from a test and capture what it
 * does. Included (not linked) by tests/integration/test_cli*.c.
 *
 * Each run gets a fresh environment (this process's, minus TOCK_*, plus
 * TZ=UTC so local times are predictable, plus TOCK_STORE when the test
 * gives one), stdin from a string or /dev/null, and stdout and stderr in
 * files of the test's directory. A run that takes longer than
 * CLI_RUN_TIMEOUT_MS is killed and fails the test. json_lines, jstr and
 * jint read what `--json` prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "support.h"

/* Not every test file uses every helper. */
#define CLI_UNUSED __attribute__((unused))

#define CLI_RUN_TIMEOUT_MS 10000
#define CLI_ARGS_MAX 64

extern char **environ;

struct cli_result {
    int status;   /* exit status, or -1 if killed by a signal */
    char *out;    /* stdout, NUL-terminated (malloc) */
    size_t out_len;
    char *err;    /* stderr */
};

/* The directory a test's runs keep their files in, and the store URL given
 * to runs as TOCK_STORE (NULL: none). */
static char *cli_dir;
static char cli_store[600];

CLI_UNUSED static void cli_result_free(struct cli_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

CLI_UNUSED static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

CLI_UNUSED static void spit(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* cli_env builds the child's environment (static storage). */
CLI_UNUSED static char **cli_env(void)
{
    static char *env[512];
    static char store[700];
    size_t n = 0;
    char **e;

    for (e = environ; *e && n < 500; e++)
        if (strncmp(*e, "TOCK_", 5) != 0 && strncmp(*e, "TZ=", 3) != 0)
            env[n++] = *e;
    env[n++] = "TZ=UTC";
    if (cli_store[0]) {
        snprintf(store, sizeof store, "TOCK_STORE=%s", cli_store);
        env[n++] = store;
    }
    env[n] = NULL;
    return env;
}

CLI_UNUSED static pid_t cli_spawn(char *const *argv, const char *in_path,
                       const char *out_path, const char *err_path)
{
    char **env = cli_env();
    pid_t pid = fork();
    int fd;

    assert_true(pid >= 0);
    if (pid > 0)
        return pid;
    fd = open(in_path ? in_path : "/dev/null", O_RDONLY);
    dup2(fd, 0);
    fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    execve(tock_test_binary("tock"), argv, env);
    _exit(127);
}

CLI_UNUSED static int cli_wait(pid_t pid)
{
    struct timespec ts = {0, 2 * 1000 * 1000};
    int status, waited = 0;
    pid_t got;

    for (;;) {
        got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        if (waited > CLI_RUN_TIMEOUT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("tock did not finish within %d ms", CLI_RUN_TIMEOUT_MS);
        }
        nanosleep(&ts, NULL);
        waited += 2;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* cli_runv runs `tock args...` (NULL-terminated) with `input` (NULL:
 * /dev/null) on stdin. */
CLI_UNUSED static void cli_runv(struct cli_result *r, const char *input,
                     const char *const *args)
{
    char in[700], out[700], err[700];
    char *argv[CLI_ARGS_MAX + 2];
    size_t i;

    memset(r, 0, sizeof *r);
    argv[0] = "tock";
    for (i = 0; args[i] != NULL && i < CLI_ARGS_MAX; i++)
        argv[i + 1] = (char *)args[i];
    argv[i + 1] = NULL;
    snprintf(in, sizeof in, "%s/.stdin", cli_dir);
    snprintf(out, sizeof out, "%s/.stdout", cli_dir);
    snprintf(err, sizeof err, "%s/.stderr", cli_dir);
    if (input != NULL)
        spit(in, input, strlen(input));
    r->status = cli_wait(cli_spawn(argv, input ? in : NULL, out, err));
    r->out = slurp(out, &r->out_len);
    r->err = slurp(err, NULL);
}

#define CLI_RUN(r, ...)                                                        \
    cli_runv((r), NULL, (const char *const[]){__VA_ARGS__, NULL})
#define CLI_RUN_IN(r, input, ...)                                              \
    cli_runv((r), (input), (const char *const[]){__VA_ARGS__, NULL})

/* cli_ok runs tock, expects exit 0 and an empty stderr, and returns its
 * stdout (the caller frees it). */
CLI_UNUSED static char *cli_ok_v(const char *const *args)
{
    struct cli_result r;
    char *out;

    cli_runv(&r, NULL, args);
    if (r.status != 0 || r.err[0] != '\0')
        fail_msg("tock %s: exit %d, stderr '%s'", args[0], r.status, r.err);
    out = r.out;
    r.out = NULL;
    cli_result_free(&r);
    return out;
}

#define CLI_OK(...) cli_ok_v((const char *const[]){__VA_ARGS__, NULL})

/* cli_count counts the occurrences of `needle` in `hay`. */
CLI_UNUSED static size_t cli_count(const char *hay, const char *needle)
{
    size_t n = 0;
    const char *p = hay;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

/* cli_write_file writes `text` to <cli_dir>/<name> and returns the path in
 * a static buffer (one at a time). */
CLI_UNUSED static const char *cli_write_file(const char *name, const char *text)
{
    static char path[700];

    snprintf(path, sizeof path, "%s/%s", cli_dir, name);
    spit(path, text, strlen(text));
    return path;
}

/* cli_setup / cli_teardown: a fresh directory and store per test. */
CLI_UNUSED static int cli_setup(void **state)
{
    (void)state;
    /* The stores live on tmpfs when there is one: these tests are about
     * what the CLI does, and every SQLite commit's fsync on a shared disk
     * would make them slow (~100 ms per write) without testing more. */
    if (getenv("TMPDIR") == NULL && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    cli_dir = tock_test_tmpdir("cli");
    if (cli_dir == NULL)
        return -1;
    snprintf(cli_store, sizeof cli_store, "sqlite:%s/tock.db", cli_dir);
    return 0;
}

CLI_UNUSED static int cli_teardown(void **state)
{
    (void)state;
    tock_test_rmtree(cli_dir);
    cli_dir = NULL;
    cli_store[0] = '\0';
    return 0;
}

CLI_UNUSED static bool cli_file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* ------------------------------------------------------------ JSON lines */

/* json_lines parses JSON lines; *n gets the count. The caller decrefs. */
CLI_UNUSED static json_t *json_lines(const char *text, size_t *n)
{
    json_t *arr = json_array(), *one;
    json_error_t jerr;
    const char *p = text, *nl;

    while (*p) {
        nl = strchr(p, '\n');
        assert_non_null(nl);
        one = json_loadb(p, (size_t)(nl - p), 0, &jerr);
        if (one == NULL)
            fail_msg("bad JSON line '%.*s': %s", (int)(nl - p), p, jerr.text);
        json_array_append_new(arr, one);
        p = nl + 1;
    }
    *n = json_array_size(arr);
    return arr;
}

CLI_UNUSED static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_string(v))
        fail_msg("field '%s' is not a string", key);
    return json_string_value(v);
}

CLI_UNUSED static json_int_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_integer(v))
        fail_msg("field '%s' is not an integer", key);
    return json_integer_value(v);
}
