/* test_redis_fixture.c: the real-Redis fixture every Redis test relies on:
 * start, configuration, crash and restart with the AOF, pause, cleanup of
 * servers when the test process dies, and bad options. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "redis_fixture.h"
#include "support.h"

/* ------------------------------------------------------------- helpers */

static struct tock_redis_fixture *start_ok(const struct tock_redis_opts *o)
{
    struct tock_redis_fixture *fx = NULL;
    struct tock_error err = {0};

    tock_redis_fixture_require();
    assert_tock_ok(tock_redis_fixture_start(o, &fx, &err), &err);
    assert_non_null(fx);
    return fx;
}

static redisContext *connect_ok(const struct tock_redis_fixture *fx)
{
    struct tock_error err = {0};
    redisContext *c = tock_redis_fixture_connect(fx, 2000, &err);

    if (c == NULL)
        fail_msg("connect: %s", err.msg);
    return c;
}

/* reply_text renders a reply as one string: status and bulk strings as
 * they are, "(nil)", integers in decimal, "ERR:<text>" for errors, array
 * elements joined by spaces, "(io:<errstr>)" when the command failed. */
static void reply_text(redisContext *c, redisReply *r, char *out, size_t cap)
{
    size_t k = 0;

    if (r == NULL) {
        snprintf(out, cap, "(io:%s)", c->errstr);
        return;
    }
    switch (r->type) {
    case REDIS_REPLY_NIL:
        snprintf(out, cap, "(nil)");
        break;
    case REDIS_REPLY_INTEGER:
        snprintf(out, cap, "%lld", r->integer);
        break;
    case REDIS_REPLY_ERROR:
        snprintf(out, cap, "ERR:%s", r->str);
        break;
    case REDIS_REPLY_ARRAY:
        out[0] = '\0';
        for (size_t i = 0; i < r->elements; i++) {
            reply_text(c, r->element[i], out + k, cap - k);
            k += strlen(out + k);
            if (i + 1 < r->elements && k + 1 < cap)
                out[k++] = ' ', out[k] = '\0';
        }
        break;
    default:
        snprintf(out, cap, "%s", r->str);
    }
}

/* command renders the reply of a formatted command (see reply_text) into
 * a static buffer. */
static const char *command(redisContext *c, const char *fmt, ...)
{
    static char text[512];
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    reply_text(c, r, text, sizeof text);
    if (r != NULL)
        freeReplyObject(r);
    return text;
}

static void assert_gone(pid_t pid)
{
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int path_exists(const char *dir, const char *name)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* ---------------------------------------------------------- basic use */

static void test_set_get_and_defaults(void **state)
{
    struct tock_redis_fixture *fx = start_ok(NULL);
    redisContext *c = connect_ok(fx);
    char url[4200], *dir = strdup(tock_redis_fixture_dir(fx));
    pid_t pid = tock_redis_fixture_pid(fx);

    (void)state;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d",
             tock_redis_fixture_port(fx));
    assert_string_equal(tock_redis_fixture_url(fx), url);
    assert_string_equal(tock_redis_fixture_host(fx), "127.0.0.1");
    assert_true(pid > 0);
    assert_true(path_exists(dir, "redis.conf"));
    assert_true(path_exists(dir, "redis.log"));
    assert_string_equal(command(c, "SET %s %s", "greeting", "hi"), "OK");
    assert_string_equal(command(c, "GET greeting"), "hi");
    assert_string_equal(command(c, "CONFIG GET appendonly"), "appendonly no");
    assert_string_equal(command(c, "CONFIG GET appendfsync"),
                        "appendfsync everysec");
    assert_string_equal(command(c, "CONFIG GET maxmemory-policy"),
                        "maxmemory-policy noeviction");
    assert_string_equal(command(c, "CONFIG GET bind"), "bind 127.0.0.1");
    assert_string_equal(command(c, "CONFIG GET protected-mode"),
                        "protected-mode yes");
    assert_string_equal(command(c, "CONFIG GET save"), "save ");
    snprintf(url, sizeof url, "dir %s", dir);
    assert_string_equal(command(c, "CONFIG GET dir"), url);
    redisFree(c);
    tock_redis_fixture_free(fx);
    /* _free stops the server and removes its directory. */
    assert_gone(pid);
    assert_int_equal(access(dir, F_OK), -1);
    free(dir);
    tock_redis_fixture_free(NULL);
}

static void test_aof_config(void **state)
{
    struct tock_redis_opts o = {.aof = 1, .appendfsync = "always",
                                .maxmemory_policy = "allkeys-lru"};
    struct tock_redis_fixture *fx = start_ok(&o);
    redisContext *c = connect_ok(fx);

    (void)state;
    assert_string_equal(command(c, "CONFIG GET appendonly"), "appendonly yes");
    assert_string_equal(command(c, "CONFIG GET appendfsync"),
                        "appendfsync always");
    assert_string_equal(command(c, "CONFIG GET maxmemory-policy"),
                        "maxmemory-policy allkeys-lru");
    assert_string_equal(command(c, "CONFIG GET aof-load-truncated"),
                        "aof-load-truncated yes");
    assert_true(path_exists(tock_redis_fixture_dir(fx), "appendonlydir"));
    redisFree(c);
    tock_redis_fixture_free(fx);
}

/* ----------------------------------------------------- crash, restart */

static void test_kill_restart_keeps_aof(void **state)
{
    struct tock_redis_opts o = {.aof = 1, .appendfsync = "always"};
    struct tock_redis_fixture *fx = start_ok(&o);
    struct tock_error err = {0};
    redisContext *c = connect_ok(fx);
    int port = tock_redis_fixture_port(fx);
    pid_t old = tock_redis_fixture_pid(fx);

    (void)state;
    assert_string_equal(command(c, "SET survivor 42"), "OK");
    redisFree(c);
    assert_tock_ok(tock_redis_fixture_kill(fx, &err), &err);
    assert_int_equal(tock_redis_fixture_pid(fx), 0);
    assert_gone(old);
    /* A second kill has nothing to kill. */
    assert_int_equal(tock_redis_fixture_kill(fx, &err), TOCK_EINVAL);
    assert_tock_ok(tock_redis_fixture_restart(fx, &err), &err);
    assert_int_equal(tock_redis_fixture_port(fx), port);
    assert_true(tock_redis_fixture_pid(fx) > 0);
    assert_int_not_equal(tock_redis_fixture_pid(fx), old);
    c = connect_ok(fx);
    assert_string_equal(command(c, "GET survivor"), "42");
    redisFree(c);
    tock_redis_fixture_free(fx);
}

/* Without the AOF the same crash loses the key: the restart is real. */
static void test_kill_without_aof_loses_data(void **state)
{
    struct tock_redis_fixture *fx = start_ok(NULL);
    struct tock_error err = {0};
    redisContext *c = connect_ok(fx);

    (void)state;
    assert_string_equal(command(c, "SET ephemeral 1"), "OK");
    redisFree(c);
    assert_tock_ok(tock_redis_fixture_kill(fx, &err), &err);
    assert_tock_ok(tock_redis_fixture_restart(fx, &err), &err);
    c = connect_ok(fx);
    assert_string_equal(command(c, "GET ephemeral"), "(nil)");
    redisFree(c);
    tock_redis_fixture_free(fx);
}

/* listen_on takes 127.0.0.1:port (no SO_REUSEADDR, so redis cannot bind
 * it) and returns the socket. */
static int listen_on(int port)
{
    struct sockaddr_in sa = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 1), 0);
    return fd;
}

/* A restart whose port was taken meanwhile says so, and works once the
 * port is free again. */
static void test_restart_port_taken(void **state)
{
    struct tock_redis_fixture *fx = start_ok(NULL);
    struct tock_error err = {0};
    int blocker;

    (void)state;
    assert_tock_ok(tock_redis_fixture_kill(fx, &err), &err);
    blocker = listen_on(tock_redis_fixture_port(fx));
    assert_int_equal(tock_redis_fixture_restart(fx, &err), TOCK_EBUSY);
    assert_non_null(strstr(err.msg, "taken by another process"));
    assert_int_equal(tock_redis_fixture_pid(fx), 0);
    close(blocker);
    assert_tock_ok(tock_redis_fixture_restart(fx, &err), &err);
    tock_redis_fixture_free(fx);
}

/* ------------------------------------------------------- pause, stop */

static void test_pause_resume(void **state)
{
    struct tock_redis_fixture *fx = start_ok(NULL);
    struct tock_error err = {0};
    redisContext *c;
    long t0;

    (void)state;
    assert_tock_ok(tock_redis_fixture_pause(fx, &err), &err);
    /* The kernel still accepts the connection; nothing answers it. */
    c = tock_redis_fixture_connect(fx, 300, &err);
    if (c != NULL) {
        t0 = now_ms();
        assert_true(strncmp(command(c, "PING"), "(io:", 4) == 0);
        assert_true(now_ms() - t0 >= 250);
        redisFree(c);
    }
    assert_tock_ok(tock_redis_fixture_resume(fx, &err), &err);
    c = connect_ok(fx);
    assert_string_equal(command(c, "PING"), "PONG");
    redisFree(c);
    tock_redis_fixture_free(fx);
}

static void test_stop_leaves_no_process(void **state)
{
    struct tock_redis_fixture *fx = start_ok(NULL);
    struct tock_error err = {0};
    pid_t pid = tock_redis_fixture_pid(fx);
    long t0;

    (void)state;
    assert_tock_ok(tock_redis_fixture_stop(fx, &err), &err);
    assert_int_equal(tock_redis_fixture_pid(fx), 0);
    assert_gone(pid);
    assert_tock_ok(tock_redis_fixture_stop(fx, &err), &err);
    assert_int_equal(tock_redis_fixture_pause(fx, &err), TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "no server runs"));
    /* A paused server must still stop on SIGTERM (SIGCONT follows it),
     * well before the 5 s SIGKILL fallback. */
    assert_tock_ok(tock_redis_fixture_restart(fx, &err), &err);
    pid = tock_redis_fixture_pid(fx);
    assert_tock_ok(tock_redis_fixture_pause(fx, &err), &err);
    t0 = now_ms();
    assert_tock_ok(tock_redis_fixture_stop(fx, &err), &err);
    assert_true(now_ms() - t0 < 4000);
    assert_gone(pid);
    tock_redis_fixture_free(fx);
}

static long connected_clients(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO clients");
    const char *p;
    long n = -1;

    if (r != NULL && r->type == REDIS_REPLY_STRING &&
        (p = strstr(r->str, "connected_clients:")) != NULL)
        n = strtol(p + strlen("connected_clients:"), NULL, 10);
    if (r != NULL)
        freeReplyObject(r);
    return n;
}

static void test_two_fixtures(void **state)
{
    struct tock_redis_fixture *a = start_ok(NULL);
    redisContext *ca = connect_ok(a), *ca2 = connect_ok(a), *cb;
    struct tock_redis_fixture *b;
    long deadline = now_ms() + 2000;

    (void)state;
    /* b starts while ca2 is open: it must not inherit that socket. */
    b = start_ok(NULL);
    cb = connect_ok(b);
    assert_int_not_equal(tock_redis_fixture_port(a),
                         tock_redis_fixture_port(b));
    assert_int_not_equal(tock_redis_fixture_pid(a), tock_redis_fixture_pid(b));
    assert_string_not_equal(tock_redis_fixture_dir(a),
                            tock_redis_fixture_dir(b));
    assert_string_equal(command(ca, "SET only-in-a 1"), "OK");
    assert_string_equal(command(cb, "GET only-in-a"), "(nil)");
    redisFree(ca2);
    while (connected_clients(ca) != 1 && now_ms() < deadline)
        usleep(10000);
    assert_int_equal(connected_clients(ca), 1);
    redisFree(ca);
    redisFree(cb);
    tock_redis_fixture_free(b);
    tock_redis_fixture_free(a);
}

/* ------------------------------------------- no server outlives a test */

struct started {
    pid_t pid;
    char dir[512];
};

enum doom { DOOM_SIGKILL, DOOM_ABORT, DOOM_EXIT };

/* doomed_child runs in a forked test process: start a fixture, report it,
 * then die the way `how` says without freeing anything. */
static void doomed_child(int report_fd, int err_fd, enum doom how)
{
    struct tock_redis_fixture *fx;
    struct started s = {0};

    dup2(err_fd, 2);
    if (tock_redis_fixture_start(NULL, &fx, NULL) == 0) {
        s.pid = tock_redis_fixture_pid(fx);
        snprintf(s.dir, sizeof s.dir, "%s", tock_redis_fixture_dir(fx));
    }
    (void)!write(report_fd, &s, sizeof s);
    if (how == DOOM_ABORT)
        abort();
    if (how == DOOM_EXIT)
        exit(3);
    for (;;)
        pause();
}

static void read_all(int fd, char *buf, size_t cap)
{
    size_t k = 0;
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;

    while (k + 1 < cap && poll(&p, 1, 15000) == 1) {
        n = read(fd, buf + k, cap - 1 - k);
        if (n <= 0)
            break;
        k += (size_t)n;
    }
    buf[k] = '\0';
}

/* reap_orphan waits (we are a subreaper) up to 3 s for the orphaned
 * redis-server and returns the signal that ended it, or -1. */
static int reap_orphan(pid_t pid)
{
    long deadline = now_ms() + 3000;
    int st;

    while (now_ms() < deadline) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
        usleep(10000);
    }
    return -1;
}

/* run_doomed forks a test process that starts a server and dies as `how`
 * says; the server must then be SIGKILLed too. Returns the child's stderr
 * in `msg`. The test process is made a subreaper, so the orphaned server
 * comes to it and its end can be observed exactly (not as a zombie of
 * some init that may never reap it). */
static void run_doomed(enum doom how, char *msg, size_t cap)
{
    int rep[2], errp[2], st;
    struct started s = {0};
    pid_t child;

    tock_redis_fixture_require();
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    assert_int_equal(pipe(rep), 0);
    assert_int_equal(pipe(errp), 0);
    fflush(NULL);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(rep[0]);
        close(errp[0]);
        doomed_child(rep[1], errp[1], how);
    }
    close(rep[1]);
    close(errp[1]);
    read_all(rep[0], (char *)&s, sizeof s);
    assert_true(s.pid > 0);
    if (how == DOOM_SIGKILL)
        kill(child, SIGKILL);
    read_all(errp[0], msg, cap);
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_int_equal(reap_orphan(s.pid), SIGKILL);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
    if (how == DOOM_ABORT)
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    tock_test_rmtree(strdup(s.dir));
    close(rep[0]);
    close(errp[0]);
}

static void test_server_dies_with_killed_test(void **state)
{
    char msg[4096];

    (void)state;
    run_doomed(DOOM_SIGKILL, msg, sizeof msg);
    /* Nothing ran in the child: PDEATHSIG alone killed the server. */
    assert_null(strstr(msg, "SIGKILLed"));
}

static void test_fatal_signal_kills_servers(void **state)
{
    char msg[4096];

    (void)state;
    run_doomed(DOOM_ABORT, msg, sizeof msg);
    assert_non_null(strstr(msg, "SIGKILLed 1 leftover child process(es) "
                                "on a fatal signal"));
}

static void test_exit_kills_servers(void **state)
{
    char msg[4096];

    (void)state;
    run_doomed(DOOM_EXIT, msg, sizeof msg);
    assert_non_null(strstr(msg, "SIGKILLed 1 leftover child process(es) "
                                "at exit"));
}

/* ---------------------------------------------------------- credentials */

static void test_requirepass(void **state)
{
    /* Space and quote check redis.conf quoting. */
    struct tock_redis_opts o = {.requirepass = "s3cret \"pass\""};
    struct tock_redis_fixture *fx = start_ok(&o);
    redisContext *c = connect_ok(fx);
    redisContext *raw;

    (void)state;
    assert_string_equal(command(c, "CONFIG GET requirepass"),
                        "requirepass s3cret \"pass\"");
    raw = redisConnect("127.0.0.1", tock_redis_fixture_port(fx));
    assert_non_null(raw);
    assert_int_equal(raw->err, 0);
    assert_string_equal(command(raw, "GET x"),
                        "ERR:NOAUTH Authentication required.");
    redisFree(raw);
    redisFree(c);
    tock_redis_fixture_free(fx);
}

static void test_acl_file(void **state)
{
    struct tock_redis_opts o = {
        .acl = "user default off\nuser admin on >adm1n ~* &* +@all\n",
        .auth_user = "admin", .auth_pass = "adm1n"};
    struct tock_redis_fixture *fx = start_ok(&o);
    redisContext *c = connect_ok(fx);
    redisContext *raw;

    (void)state;
    assert_string_equal(command(c, "ACL WHOAMI"), "admin");
    assert_true(path_exists(tock_redis_fixture_dir(fx), "users.acl"));
    raw = redisConnect("127.0.0.1", tock_redis_fixture_port(fx));
    assert_non_null(raw);
    assert_string_equal(command(raw, "AUTH admin wrong"),
                        "ERR:WRONGPASS invalid username-password pair or "
                        "user is disabled.");
    redisFree(raw);
    redisFree(c);
    tock_redis_fixture_free(fx);
}

/* -------------------------------------------------- environment, preload */

/* has_entry says whether the NUL-separated list in buf[0..n) holds `e`. */
static int has_entry(const char *buf, size_t n, const char *e)
{
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (strcmp(buf + i, e) == 0)
            return 1;
    return 0;
}

static size_t read_proc(pid_t pid, const char *what, char *buf, size_t cap)
{
    char path[64];
    int fd;
    ssize_t n;
    size_t k = 0;

    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    while (k + 1 < cap && (n = read(fd, buf + k, cap - 1 - k)) > 0)
        k += (size_t)n;
    close(fd);
    buf[k] = '\0';
    return k;
}

static void test_env_and_ld_preload(void **state)
{
    static char buf[1 << 17];
    const char *env[] = {"TOCK_FIXTURE_PROBE=hello",
                         "LD_PRELOAD=/overridden/by/ld_preload.so", NULL};
    /* redis rewrites its process title over the environ block unless
     * told not to; /proc/PID/environ must show the real environment. */
    const char *conf[] = {"set-proc-title no", NULL};
    struct tock_redis_opts o = {.env = env, .extra_conf = conf};
    struct tock_redis_fixture *fx;
    char preload[4200];
    Dl_info info;
    size_t n;

    (void)state;
    /* Preload a library redis-server does not link: libhiredis. */
    assert_int_not_equal(dladdr((void *)redisConnect, &info), 0);
    o.ld_preload = info.dli_fname;
    fx = start_ok(&o);
    n = read_proc(tock_redis_fixture_pid(fx), "environ", buf, sizeof buf);
    assert_true(has_entry(buf, n, "TOCK_FIXTURE_PROBE=hello"));
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", info.dli_fname);
    assert_true(has_entry(buf, n, preload));
    assert_false(has_entry(buf, n, env[1]));
    read_proc(tock_redis_fixture_pid(fx), "maps", buf, sizeof buf);
    assert_non_null(strstr(buf, "libhiredis"));
    tock_redis_fixture_free(fx);
}

/* ---------------------------------------------------------- bad options */

static void expect_start_error(const struct tock_redis_opts *o, int code,
                               const char *needle)
{
    struct tock_redis_fixture *fx = (struct tock_redis_fixture *)&fx;
    struct tock_error err = {0};

    assert_int_equal(tock_redis_fixture_start(o, &fx, &err), code);
    assert_null(fx);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error '%s' lacks '%s'", err.msg, needle);
}

static void test_bad_options(void **state)
{
    const char *two_lines[] = {"save 1 1\nbind 0.0.0.0", NULL};
    const char *no_eq[] = {"NOEQUALS", NULL};
    const char *bad_directive[] = {"no-such-directive yes", NULL};
    struct tock_redis_opts o;

    (void)state;
    tock_redis_fixture_require();
    o = (struct tock_redis_opts){.appendfsync = "sometimes"};
    expect_start_error(&o, TOCK_EINVAL, "appendfsync 'sometimes'");
    o = (struct tock_redis_opts){.maxmemory_policy = "lru"};
    expect_start_error(&o, TOCK_EINVAL, "maxmemory_policy 'lru'");
    o = (struct tock_redis_opts){.extra_conf = two_lines};
    expect_start_error(&o, TOCK_EINVAL, "extra_conf entry 0");
    o = (struct tock_redis_opts){.env = no_eq};
    expect_start_error(&o, TOCK_EINVAL, "NAME=value");
    o = (struct tock_redis_opts){.auth_user = "admin"};
    expect_start_error(&o, TOCK_EINVAL, "needs auth_pass");
    o = (struct tock_redis_opts){.requirepass = "a\nb"};
    expect_start_error(&o, TOCK_EINVAL, "one line");
    o = (struct tock_redis_opts){.start_timeout_ms = -1};
    expect_start_error(&o, TOCK_EINVAL, "start_timeout_ms");
    /* redis-server itself refuses the config: the log tail says why. */
    o = (struct tock_redis_opts){.extra_conf = bad_directive};
    expect_start_error(&o, TOCK_ECONN, "Bad directive");
}

/* with_server runs start with $TOCK_REDIS_SERVER set to `server`. */
static void start_with_server(const char *server,
                              const struct tock_redis_opts *o, int code,
                              const char *needle)
{
    char *old = getenv("TOCK_REDIS_SERVER");

    old = old ? strdup(old) : NULL;
    setenv("TOCK_REDIS_SERVER", server, 1);
    assert_string_equal(tock_redis_fixture_server(), server);
    expect_start_error(o, code, needle);
    if (old != NULL)
        setenv("TOCK_REDIS_SERVER", old, 1);
    else
        unsetenv("TOCK_REDIS_SERVER");
    free(old);
}

static void test_bad_server(void **state)
{
    struct tock_redis_opts quick = {.start_timeout_ms = 300};
    char *tmp = tock_test_tmpdir("fakeredis");
    char script[4096];
    int live = tock_proc_count();
    FILE *f;
    long t0;

    (void)state;
    start_with_server("/nonexistent/redis-server", NULL, TOCK_ENOENT,
                      "/nonexistent/redis-server");
    start_with_server("/bin/false", NULL, TOCK_ECONN, "exited (status 1)");
    /* A "server" that never listens: timed out, then killed. */
    assert_non_null(tmp);
    snprintf(script, sizeof script, "%s/sleeper", tmp);
    f = fopen(script, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\necho never listening\nexec sleep 30\n", f);
    fclose(f);
    assert_int_equal(chmod(script, 0700), 0);
    t0 = now_ms();
    start_with_server(script, &quick, TOCK_ETIMEDOUT, "never listening");
    assert_true(now_ms() - t0 < 5000);
    /* Every child of a failed start was reaped. */
    assert_int_equal(tock_proc_count(), live);
    tock_test_rmtree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_and_defaults),
        cmocka_unit_test(test_aof_config),
        cmocka_unit_test(test_kill_restart_keeps_aof),
        cmocka_unit_test(test_kill_without_aof_loses_data),
        cmocka_unit_test(test_restart_port_taken),
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_stop_leaves_no_process),
        cmocka_unit_test(test_two_fixtures),
        cmocka_unit_test(test_server_dies_with_killed_test),
        cmocka_unit_test(test_fatal_signal_kills_servers),
        cmocka_unit_test(test_exit_kills_servers),
        cmocka_unit_test(test_requirepass),
        cmocka_unit_test(test_acl_file),
        cmocka_unit_test(test_env_and_ld_preload),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_bad_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
