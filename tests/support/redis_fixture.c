/* redis_fixture.c: a real redis-server per test (see redis_fixture.h).
 *
 * ON start:
 *   1. validate every option, find redis-server, make the temp directory,
 *      write users.acl and build the child's environment;
 *   2. pick a port: bind 127.0.0.1:0, read it with getsockname, close;
 *   3. write redis.conf with that port and spawn redis-server (proc.c);
 *   4. poll: is our child still alive? does 127.0.0.1:PORT answer PING,
 *      and does INFO report *our* pid and loading:0?
 *   5. if the child exited because the port was taken, go back to 2.
 * Step 2: because binding port 0 is the only race-free way to learn a free
 *   port, but it leaves a window between our close and redis's bind.
 * Step 4: because in that window another server may get the port; its
 *   PONG must not be taken for ours, so INFO's process_id is compared.
 *   Rejected: a fixed port range per test (collides across parallel ctest
 *   runs and other helpers' builds on the same machine).
 *
 * ON restart: same redis.conf, so the same port and directory (and AOF).
 */
#include "redis_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "support.h"

#define HOST "127.0.0.1"
#define START_TIMEOUT_MS 10000
#define STOP_GRACE_MS 5000
#define PORT_ATTEMPTS 5

struct tock_redis_fixture {
    char *dir;        /* temp dir; tock_test_rmtree frees it */
    char *server;     /* redis-server path */
    char *conf_path;  /* <dir>/redis.conf */
    char *log_path;   /* <dir>/redis.log: redis's log and its stdio */
    char *acl_path;   /* <dir>/users.acl, or NULL */
    char **envp;      /* the child's environment (proc.c) */
    char *auth_user;  /* NULL: AUTH <pass> as the default user */
    char *auth_pass;  /* NULL: no AUTH */
    off_t log_start;  /* size of redis.log when this run was spawned */
    int port;
    pid_t pid;        /* 0 when no server runs */
    int timeout_ms;   /* start timeout */
    char url[48];
};

/* ----------------------------------------------------------- options */

static const char *const fsync_modes[] = {"always", "everysec", "no", NULL};
static const char *const policies[] = {
    "noeviction",     "allkeys-lru",     "volatile-lru",
    "allkeys-lfu",    "volatile-lfu",    "allkeys-random",
    "volatile-random", "volatile-ttl",   NULL};

static int one_of(const char *s, const char *const *set)
{
    for (size_t i = 0; set[i] != NULL; i++)
        if (strcmp(s, set[i]) == 0)
            return 1;
    return 0;
}

/* one_line: NULL, or a string without control characters (it goes into
 * one redis.conf line or one environment entry). */
static int one_line(const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int check_list(const char *const *list, int need_eq, const char *what,
                      struct tock_error *err)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        if (!one_line(list[i]) || (need_eq && strchr(list[i], '=') == NULL))
            return tock_error_set(err, TOCK_EINVAL,
                                  "redis fixture: %s entry %zu '%s' must be "
                                  "one line%s", what, i, list[i],
                                  need_eq ? " of the form NAME=value" : "");
    }
    return 0;
}

static int check_opts(const struct tock_redis_opts *o, struct tock_error *err)
{
    if (o->appendfsync != NULL && !one_of(o->appendfsync, fsync_modes))
        return tock_error_set(err, TOCK_EINVAL,
                              "redis fixture: appendfsync '%s' is not one of "
                              "always, everysec, no", o->appendfsync);
    if (o->maxmemory_policy != NULL && !one_of(o->maxmemory_policy, policies))
        return tock_error_set(err, TOCK_EINVAL,
                              "redis fixture: maxmemory_policy '%s' is not a "
                              "redis eviction policy (e.g. noeviction)",
                              o->maxmemory_policy);
    if (!one_line(o->requirepass) || !one_line(o->auth_user) ||
        !one_line(o->auth_pass) || !one_line(o->ld_preload))
        return tock_error_set(err, TOCK_EINVAL,
                              "redis fixture: requirepass, auth_user, "
                              "auth_pass and ld_preload must be one line");
    if (o->auth_user != NULL && o->auth_pass == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "redis fixture: auth_user '%s' needs auth_pass",
                              o->auth_user);
    if (o->start_timeout_ms < 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "redis fixture: start_timeout_ms %d < 0",
                              o->start_timeout_ms);
    if (check_list(o->extra_conf, 0, "extra_conf", err) != 0 ||
        check_list(o->env, 1, "env", err) != 0)
        return err ? err->code : TOCK_EINVAL;
    return 0;
}

/* ------------------------------------------------------------- files */

static int write_file(const char *path, const char *text,
                      struct tock_error *err)
{
    FILE *f = fopen(path, "w");
    int bad;

    if (f == NULL)
        return tock_error_set(err, TOCK_EIO, "cannot create %s: %s", path,
                              strerror(errno));
    fputs(text, f);
    bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return tock_error_set(err, TOCK_EIO, "cannot write %s", path);
    return 0;
}

/* put_quoted writes `s` as a redis.conf double-quoted argument. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_setting(FILE *f, const char *name, const char *value)
{
    fprintf(f, "%s ", name);
    put_quoted(f, value);
    fputc('\n', f);
}

static int write_conf(const struct tock_redis_fixture *fx,
                      const struct tock_redis_opts *o, struct tock_error *err)
{
    FILE *f = fopen(fx->conf_path, "w");
    int bad;

    if (f == NULL)
        return tock_error_set(err, TOCK_EIO, "cannot create %s: %s",
                              fx->conf_path, strerror(errno));
    fprintf(f, "# written by tests/support/redis_fixture.c\n"
               "port %d\nbind " HOST "\nprotected-mode yes\n"
               "daemonize no\nsave \"\"\n", fx->port);
    put_setting(f, "dir", fx->dir);
    put_setting(f, "logfile", fx->log_path);
    fprintf(f, "appendonly %s\n", o->aof ? "yes" : "no");
    put_setting(f, "appendfsync", o->appendfsync ? o->appendfsync : "everysec");
    fprintf(f, "appendfilename \"appendonly.aof\"\naof-load-truncated yes\n");
    put_setting(f, "maxmemory-policy",
                o->maxmemory_policy ? o->maxmemory_policy : "noeviction");
    if (o->requirepass != NULL)
        put_setting(f, "requirepass", o->requirepass);
    if (fx->acl_path != NULL)
        put_setting(f, "aclfile", fx->acl_path);
    for (size_t i = 0; o->extra_conf != NULL && o->extra_conf[i]; i++)
        fprintf(f, "%s\n", o->extra_conf[i]);
    bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return tock_error_set(err, TOCK_EIO, "cannot write %s", fx->conf_path);
    return 0;
}

/* log_tail copies the end of what the current run wrote to redis.log into
 * `out` as one line (newlines become " | ") and says whether it shows a
 * lost bind race. Earlier runs' lines are ignored: after a restart they
 * would misreport the new run's failure. */
static void log_tail(const struct tock_redis_fixture *fx, char *out,
                     size_t cap, int *bind_race)
{
    char buf[4096];
    size_t n = 0, start, k = 0;
    int fd = open(fx->log_path, O_RDONLY | O_CLOEXEC);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;

    if (size > 0) {
        off_t from = size - ((off_t)sizeof buf - 1);
        ssize_t got = pread(fd, buf, sizeof buf - 1,
                            from > fx->log_start ? from : fx->log_start);

        n = got > 0 ? (size_t)got : 0;
    }
    if (fd >= 0)
        close(fd);
    buf[n] = '\0';
    *bind_race = strstr(buf, "Address already in use") != NULL;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    /* A quarter of `cap` is room for the " | "s; start on a line, or at
     * least on a word, rather than mid-word. */
    start = n > cap * 3 / 4 ? n - cap * 3 / 4 : 0;
    if (start > 0) {
        const char *nl = memchr(buf + start, '\n', n - start);
        const char *sp = memchr(buf + start, ' ', n - start);

        if (nl != NULL || sp != NULL)
            start = (size_t)((nl ? nl : sp) - buf) + 1;
    }
    for (size_t i = start; i < n && k + 4 < cap; i++) {
        if (buf[i] == '\n') {
            memcpy(out + k, " | ", 3);
            k += 3;
        } else {
            out[k++] = buf[i];
        }
    }
    out[k] = '\0';
    if (k == 0)
        snprintf(out, cap, "(redis.log is empty)");
}

/* ------------------------------------------------------------ hiredis */

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    return tv;
}

static int auth(redisContext *c, const struct tock_redis_fixture *fx,
                struct tock_error *err)
{
    redisReply *r;
    int rc = 0;

    if (fx->auth_pass == NULL)
        return 0;
    if (fx->auth_user != NULL)
        r = redisCommand(c, "AUTH %s %s", fx->auth_user, fx->auth_pass);
    else
        r = redisCommand(c, "AUTH %s", fx->auth_pass);
    if (r == NULL)
        return tock_error_set(err, TOCK_ECONN, "AUTH on %s: %s", fx->url,
                              c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        rc = tock_error_set(err, TOCK_EAUTH, "AUTH on %s refused: %s",
                            fx->url, r->str);
    freeReplyObject(r);
    return rc;
}

redisContext *tock_redis_fixture_connect(const struct tock_redis_fixture *fx,
                                         int timeout_ms,
                                         struct tock_error *err)
{
    struct timeval tv = ms_to_tv(timeout_ms > 0 ? timeout_ms : 2000);
    redisContext *c = redisConnectWithTimeout(HOST, fx->port, tv);

    if (c == NULL) {
        tock_error_set(err, TOCK_ENOMEM, "redisConnectWithTimeout: no memory");
        return NULL;
    }
    if (c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
        tock_error_set(err, TOCK_ECONN,
                       "cannot connect to %s: %s (is the server stopped?)",
                       fx->url, c->errstr);
        redisFree(c);
        return NULL;
    }
    if (auth(c, fx, err) != 0) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* info_field returns the number after "\r\n<name>:" in an INFO text, or -1. */
static long info_field(const char *info, const char *name)
{
    char key[64];
    const char *p;

    snprintf(key, sizeof key, "\n%s:", name);
    p = strstr(info, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* probe returns 1 when our server answers PING and INFO says it is our pid
 * and done loading, else 0, with the reason in `why`. */
static int probe(const struct tock_redis_fixture *fx, struct tock_error *why)
{
    redisContext *c = tock_redis_fixture_connect(fx, 1000, why);
    redisReply *ping = NULL, *info = NULL;
    int ready = 0;

    if (c == NULL)
        return 0;
    ping = redisCommand(c, "PING");
    if (ping == NULL || ping->type != REDIS_REPLY_STATUS) {
        tock_error_set(why, TOCK_ECONN, "PING on %s: %s", fx->url,
                       ping ? ping->str : c->errstr);
        goto done;
    }
    info = redisCommand(c, "INFO");
    if (info == NULL || info->type != REDIS_REPLY_STRING) {
        tock_error_set(why, TOCK_ECONN, "INFO on %s: %s", fx->url,
                       info ? info->str : c->errstr);
        goto done;
    }
    if (info_field(info->str, "process_id") != (long)fx->pid) {
        tock_error_set(why, TOCK_ECONN, "another server answers on %s",
                       fx->url);
        goto done;
    }
    ready = info_field(info->str, "loading") == 0;
    if (!ready)
        tock_error_set(why, TOCK_ECONN, "%s still loading", fx->url);
done:
    if (ping != NULL)
        freeReplyObject(ping);
    if (info != NULL)
        freeReplyObject(info);
    redisFree(c);
    return ready;
}

/* ----------------------------------------------------------- lifecycle */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int exited_error(struct tock_redis_fixture *fx, int status,
                        struct tock_error *err)
{
    char tail[200];
    int race;

    log_tail(fx, tail, sizeof tail, &race);
    if (race)
        return tock_error_set(err, TOCK_EBUSY,
                              "redis-server: port %d taken by another "
                              "process: %s", fx->port, tail);
    return tock_error_set(err, TOCK_ECONN,
                          "redis-server exited (%s %d) before answering: %s",
                          WIFSIGNALED(status) ? "signal" : "status",
                          WIFSIGNALED(status) ? WTERMSIG(status)
                                              : WEXITSTATUS(status),
                          tail);
}

/* wait_ready polls until the server we spawned is ready (probe), exits or
 * runs out of time; in the last two cases no server is left running. */
static int wait_ready(struct tock_redis_fixture *fx, struct tock_error *err)
{
    long deadline = now_ms() + fx->timeout_ms;
    struct tock_error why = {0};
    struct timespec pause = {0, 10 * 1000000};
    char tail[160];
    int status, race;

    for (;;) {
        if (tock_proc_wait(fx->pid, 0, &status, NULL) == 0) {
            fx->pid = 0;
            return exited_error(fx, status, err);
        }
        if (probe(fx, &why))
            return 0;
        if (now_ms() >= deadline)
            break;
        nanosleep(&pause, NULL);
    }
    tock_proc_kill(fx->pid, NULL);
    fx->pid = 0;
    log_tail(fx, tail, sizeof tail, &race);
    return tock_error_set(err, TOCK_ETIMEDOUT,
                          "redis-server not ready after %d ms (%s); log: %s",
                          fx->timeout_ms, why.msg, tail);
}

static int launch(struct tock_redis_fixture *fx, struct tock_error *err)
{
    char *argv[] = {fx->server, fx->conf_path, NULL};
    struct tock_proc_spec spec = {fx->server, argv, fx->envp, fx->dir,
                                  fx->log_path};
    struct stat st;
    int rc;

    fx->log_start = stat(fx->log_path, &st) == 0 ? st.st_size : 0;
    rc = tock_proc_spawn(&spec, &fx->pid, err);
    if (rc != 0) {
        fx->pid = 0;
        return rc;
    }
    return wait_ready(fx, err);
}

static int pick_port(int *port, struct tock_error *err)
{
    struct sockaddr_in sa = {0};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = 0;

    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        rc = tock_error_set(err, TOCK_EIO, "cannot find a free port on "
                            HOST ": %s", strerror(errno));
    else
        *port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* child_env returns the child's environment: ours plus opts->env plus
 * LD_PRELOAD (which wins). NULL on OOM. */
static char **child_env(const struct tock_redis_opts *o)
{
    size_t n = 0;
    const char **extra;
    char *preload = NULL;
    char **envp = NULL;

    while (o->env != NULL && o->env[n] != NULL)
        n++;
    extra = calloc(n + 2, sizeof *extra);
    if (extra == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        extra[i] = o->env[i];
    if (o->ld_preload != NULL &&
        asprintf(&preload, "LD_PRELOAD=%s", o->ld_preload) < 0)
        goto done;
    extra[n] = preload;
    envp = tock_proc_env_new(extra);
done:
    free(preload);
    free(extra);
    return envp;
}

static int fixture_new(const struct tock_redis_opts *o,
                       struct tock_redis_fixture **out, struct tock_error *err)
{
    struct tock_redis_fixture *fx = calloc(1, sizeof *fx);
    int rc = TOCK_ENOMEM;

    if (fx == NULL)
        return tock_error_set(err, rc, "redis fixture: out of memory");
    *out = fx;
    fx->timeout_ms = o->start_timeout_ms ? o->start_timeout_ms
                                         : START_TIMEOUT_MS;
    fx->dir = tock_test_tmpdir("redis");
    if (fx->dir == NULL)
        return tock_error_set(err, TOCK_EIO, "cannot create a temp dir: %s",
                              strerror(errno));
    fx->server = strdup(tock_redis_fixture_server());
    fx->envp = child_env(o);
    fx->auth_user = o->auth_user ? strdup(o->auth_user) : NULL;
    fx->auth_pass = o->auth_pass    ? strdup(o->auth_pass)
                    : o->requirepass ? strdup(o->requirepass)
                                     : NULL;
    if (fx->server == NULL || fx->envp == NULL ||
        (o->auth_user && !fx->auth_user) ||
        ((o->auth_pass || o->requirepass) && !fx->auth_pass) ||
        asprintf(&fx->conf_path, "%s/redis.conf", fx->dir) < 0 ||
        asprintf(&fx->log_path, "%s/redis.log", fx->dir) < 0 ||
        (o->acl && asprintf(&fx->acl_path, "%s/users.acl", fx->dir) < 0))
        return tock_error_set(err, rc, "redis fixture: out of memory");
    if (o->acl != NULL)
        return write_file(fx->acl_path, o->acl, err);
    return 0;
}

int tock_redis_fixture_start(const struct tock_redis_opts *opts,
                             struct tock_redis_fixture **out,
                             struct tock_error *err)
{
    static const struct tock_redis_opts defaults;
    struct tock_redis_fixture *fx = NULL;
    const char *server = tock_redis_fixture_server();
    int rc;

    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    rc = check_opts(opts, err);
    if (rc != 0)
        return rc;
    if (access(server, X_OK) != 0)
        return tock_error_set(err, TOCK_ENOENT,
                              "redis-server not found at %s: install "
                              "redis-server (scripts/deps.sh) or set "
                              "TOCK_REDIS_SERVER", server);
    rc = fixture_new(opts, &fx, err);
    for (int i = 0; rc == 0 && i < PORT_ATTEMPTS; i++) {
        rc = pick_port(&fx->port, err);
        snprintf(fx->url, sizeof fx->url, "redis://" HOST ":%d", fx->port);
        if (rc == 0)
            rc = write_conf(fx, opts, err);
        if (rc == 0)
            rc = launch(fx, err);
        if (rc != TOCK_EBUSY)
            break;
    }
    if (rc != 0) {
        tock_redis_fixture_free(fx);
        return rc;
    }
    *out = fx;
    return 0;
}

static int no_server(const struct tock_redis_fixture *fx, const char *what,
                     struct tock_error *err)
{
    return tock_error_set(err, TOCK_EINVAL,
                          "redis fixture on port %d: cannot %s, no server "
                          "runs (restart it first)", fx->port, what);
}

int tock_redis_fixture_stop(struct tock_redis_fixture *fx,
                            struct tock_error *err)
{
    int rc;

    if (fx->pid == 0)
        return 0;
    rc = tock_proc_stop(fx->pid, STOP_GRACE_MS, NULL, err);
    if (rc == 0)
        fx->pid = 0;
    return rc;
}

int tock_redis_fixture_kill(struct tock_redis_fixture *fx,
                            struct tock_error *err)
{
    int rc;

    if (fx->pid == 0)
        return no_server(fx, "kill", err);
    rc = tock_proc_kill(fx->pid, err);
    if (rc == 0)
        fx->pid = 0;
    return rc;
}

int tock_redis_fixture_pause(struct tock_redis_fixture *fx,
                             struct tock_error *err)
{
    return fx->pid ? tock_proc_pause(fx->pid, err)
                   : no_server(fx, "pause", err);
}

int tock_redis_fixture_resume(struct tock_redis_fixture *fx,
                              struct tock_error *err)
{
    return fx->pid ? tock_proc_resume(fx->pid, err)
                   : no_server(fx, "resume", err);
}

int tock_redis_fixture_restart(struct tock_redis_fixture *fx,
                               struct tock_error *err)
{
    int rc = tock_redis_fixture_stop(fx, err);

    return rc != 0 ? rc : launch(fx, err);
}

void tock_redis_fixture_free(struct tock_redis_fixture *fx)
{
    if (fx == NULL)
        return;
    if (fx->pid != 0 && tock_redis_fixture_stop(fx, NULL) != 0)
        tock_proc_kill(fx->pid, NULL);
    tock_test_rmtree(fx->dir);
    tock_proc_env_free(fx->envp);
    free(fx->server);
    free(fx->conf_path);
    free(fx->log_path);
    free(fx->acl_path);
    free(fx->auth_user);
    free(fx->auth_pass);
    free(fx);
}

/* ----------------------------------------------------------- accessors */

int tock_redis_fixture_port(const struct tock_redis_fixture *fx)
{
    return fx->port;
}

const char *tock_redis_fixture_host(const struct tock_redis_fixture *fx)
{
    (void)fx;
    return HOST;
}

pid_t tock_redis_fixture_pid(const struct tock_redis_fixture *fx)
{
    return fx->pid;
}

const char *tock_redis_fixture_dir(const struct tock_redis_fixture *fx)
{
    return fx->dir;
}

const char *tock_redis_fixture_url(const struct tock_redis_fixture *fx)
{
    return fx->url;
}

const char *tock_redis_fixture_server(void)
{
    const char *s = getenv("TOCK_REDIS_SERVER");

    return s != NULL && *s != '\0' ? s : TOCK_REDIS_SERVER_DEFAULT;
}

void tock_redis_fixture_require(void)
{
    const char *server = tock_redis_fixture_server();
    const char *ci = getenv("CI");

    if (access(server, X_OK) == 0)
        return;
    if (ci != NULL && *ci != '\0')
        fail_msg("redis-server not found at %s, and CI must run the Redis "
                 "tests: install it (scripts/deps.sh)", server);
    print_message("[  SKIPPED ] redis-server not found at %s: install "
                  "redis-server or set TOCK_REDIS_SERVER\n", server);
    skip();
}
