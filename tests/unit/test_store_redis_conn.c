/* test_store_redis_conn.c: connecting to Redis and every refusal: the URL
 * grammar and its errors, password sources, namespaces, redaction; then
 * real servers that say no: a wrong or missing password, an ACL user
 * without FCALL (and without a command the functions use), an evicting
 * maxmemory-policy, cluster mode, a busy script, out of memory, nothing
 * listening, an unknown host; a paused Redis (TOCK_ETIMEDOUT within the
 * timeout), a killed and restarted Redis with appendfsync always (the data
 * persists and the handle reconnects), the durability warnings, and the
 * client name. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_store_redis_fx.h"

/* ------------------------------------------------------------ the URL */

static void url_ok(const char *url, struct tock_redis_url *u)
{
    struct tock_error err = {0};

    assert_tock_ok(tock_redis_url_parse(url, u, &err), &err);
}

static void url_bad(const char *url, int code, const char *text)
{
    struct tock_redis_url u;
    struct tock_error err = {0};

    fx_expect(tock_redis_url_parse(url, &u, &err), &err, code, text);
    assert_false(u.has_pass);
}

static void test_url_grammar(void **state)
{
    struct tock_redis_url u;

    (void)state;
    unsetenv("TOCK_REDIS_PASSWORD");
    unsetenv("TOCK_REDIS_PASSWORD_FILE");
    unsetenv("TOCK_NAMESPACE");
    url_ok("redis://cache.local", &u);
    assert_string_equal(u.host, "cache.local");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.ns, "default");
    assert_false(u.has_pass);
    assert_string_equal(u.shown, "redis://cache.local:6379/0");

    url_ok("redis://10.0.0.2:7000/3?ns=prod&timeout=1500ms", &u);
    assert_string_equal(u.host, "10.0.0.2");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 3);
    assert_string_equal(u.ns, "prod");
    assert_int_equal(u.timeout_ms, 1500);

    /* Percent-decoding, and a raw '@' ':' '/' in the password: the last
     * '@' ends the user part. */
    url_ok("redis://tock:p%40ss%3Aw%2Fd@h:1/0", &u);
    assert_string_equal(u.user, "tock");
    assert_string_equal(u.pass, "p@ss:w/d");
    assert_true(u.has_pass);
    assert_string_equal(u.shown, "redis://tock:***@h:1/0");
    url_ok("redis://tock:a@b:c/d@h", &u);
    assert_string_equal(u.pass, "a@b:c/d");
    assert_string_equal(u.host, "h");
    assert_null(strstr(u.shown, "a@b"));
    url_ok("redis://reader@h", &u);
    assert_string_equal(u.user, "reader");
    assert_false(u.has_pass);

    url_ok("redis://[::1]:6380/2", &u);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6380);
    assert_string_equal(u.shown, "redis://[::1]:6380/2");
    url_ok("redis://[fe80::1]", &u);
    assert_int_equal(u.port, 6379);
    url_ok("redis://[fe80::1%eth0]:6379", &u);
    assert_string_equal(u.host, "fe80::1%eth0");

    url_ok("unix:///run/redis/redis.sock?db=4&ns=a.b-c_d", &u);
    assert_string_equal(u.path, "/run/redis/redis.sock");
    assert_int_equal(u.db, 4);
    assert_string_equal(u.ns, "a.b-c_d");
    assert_string_equal(u.shown, "unix:///run/redis/redis.sock?db=4");
}

static void test_url_errors(void **state)
{
    (void)state;
    url_bad("redis://", TOCK_EINVAL, "no host");
    url_bad("redis://:6379", TOCK_EINVAL, "no host");
    url_bad("redis://h:0", TOCK_EINVAL, "port '0'");
    url_bad("redis://h:65536", TOCK_EINVAL, "port '65536'");
    url_bad("redis://h:abc", TOCK_EINVAL, "port 'abc'");
    url_bad("redis://h:", TOCK_EINVAL, "port ''");
    url_bad("redis://h:+5", TOCK_EINVAL, "1..65535");
    url_bad("redis://[::1", TOCK_EINVAL, "no closing ']'");
    url_bad("redis://[::1]x", TOCK_EINVAL, "junk after");
    url_bad("redis://[OOO%3q]/1", TOCK_EINVAL, "not allowed in a host");
    url_bad("redis://[fe80::1%]", TOCK_EINVAL, "not allowed in a host");
    url_bad("redis://ca\x01che", TOCK_EINVAL, "not allowed in a host");
    url_bad("redis://a?b@c", TOCK_EINVAL, "user name");
    url_bad("redis://h/x", TOCK_EINVAL, "database 'x'");
    url_bad("redis://h/-1", TOCK_EINVAL, "database '-1'");
    url_bad("redis://h/01", TOCK_EINVAL, "database '01'");
    url_bad("redis://:secret@h", TOCK_EINVAL, "empty user");
    url_bad("redis://u:@h", TOCK_EINVAL, "empty");
    url_bad("redis://u:bad%4@h", TOCK_EINVAL, "percent escape");
    url_bad("redis://u:bad%zz@h", TOCK_EINVAL, "percent escape");
    url_bad("redis://u:nul%00@h", TOCK_EINVAL, "NUL");
    url_bad("redis://h?ns=a{b}", TOCK_EINVAL, "hash tag");
    url_bad("redis://h?ns=a:b", TOCK_EINVAL, "namespace");
    url_bad("redis://h?ns=a*", TOCK_EINVAL, "namespace");
    url_bad("redis://h?ns=", TOCK_EINVAL, "1..64 bytes");
    url_bad("redis://h?ns=a b", TOCK_EINVAL, "namespace");
    url_bad("redis://h?db=1", TOCK_EINVAL, "redis://host:port/N");
    url_bad("redis://h?foo=1", TOCK_EINVAL, "unknown parameter 'foo'");
    url_bad("redis://h?ns", TOCK_EINVAL, "NAME=VALUE");
    url_bad("redis://h?timeout=5", TOCK_EINVAL, "timeout");
    url_bad("redis://h?timeout=0s", TOCK_ERANGE, "timeout");
    url_bad("unix://run/x.sock", TOCK_EINVAL, "absolute");
    url_bad("unix:///x.sock?db=-2", TOCK_EINVAL, "database");
    /* The password is in no message. */
    {
        struct tock_redis_url u;
        struct tock_error err = {0};
        tock_redis_url_parse("redis://u:hunter2@h:99999", &u, &err);
        assert_null(strstr(err.msg, "hunter2"));
    }
}

static void test_store_open_refusals(void **state)
{
    struct tock_store *s = NULL;
    struct tock_error err = {0};

    (void)state;
    fx_expect(tock_store_open("rediss://h:6380", NULL, &s, &err), &err,
              TOCK_EINVAL, "stunnel or spiped");
    assert_null(s);
    fx_expect(tock_store_open("redis://h:0", NULL, &s, &err), &err,
              TOCK_EINVAL, "port");
}

static void test_password_sources(void **state)
{
    char *dir = tock_test_tmpdir("redis-pass");
    char path[600];
    struct tock_redis_url u;
    struct tock_error err = {0};
    FILE *fp;

    (void)state;
    assert_non_null(dir);
    setenv("TOCK_REDIS_PASSWORD", "from-env", 1);
    url_ok("redis://h", &u);
    assert_string_equal(u.pass, "from-env");
    assert_string_equal(u.pass_from, "TOCK_REDIS_PASSWORD");
    assert_string_equal(u.shown, "redis://default:***@h:6379/0");
    url_ok("redis://default:in-url@h", &u); /* the URL wins */
    assert_string_equal(u.pass, "in-url");
    unsetenv("TOCK_REDIS_PASSWORD");

    snprintf(path, sizeof path, "%s/pass", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("from-file\n", fp);
    fclose(fp);
    setenv("TOCK_REDIS_PASSWORD_FILE", path, 1);
    chmod(path, 0644);
    fx_expect(tock_redis_url_parse("redis://h", &u, &err), &err, TOCK_EAUTH,
              "chmod 600");
    chmod(path, 0600);
    url_ok("redis://h", &u);
    assert_string_equal(u.pass, "from-file");
    assert_string_equal(u.pass_from, "TOCK_REDIS_PASSWORD_FILE");
    fp = fopen(path, "w");
    fputs("two\nlines\n", fp);
    fclose(fp);
    fx_expect(tock_redis_url_parse("redis://h", &u, &err), &err, TOCK_EAUTH,
              "one line");
    setenv("TOCK_REDIS_PASSWORD_FILE", "/nonexistent/pass", 1);
    fx_expect(tock_redis_url_parse("redis://h", &u, &err), &err, TOCK_EAUTH,
              "cannot read");
    unsetenv("TOCK_REDIS_PASSWORD_FILE");

    setenv("TOCK_NAMESPACE", "staging", 1);
    url_ok("redis://h", &u);
    assert_string_equal(u.ns, "staging");
    url_ok("redis://h?ns=prod", &u); /* the URL wins */
    assert_string_equal(u.ns, "prod");
    setenv("TOCK_NAMESPACE", "bad ns", 1);
    fx_expect(tock_redis_url_parse("redis://h", &u, &err), &err, TOCK_EINVAL,
              "TOCK_NAMESPACE");
    unsetenv("TOCK_NAMESPACE");
    tock_test_rmtree(dir);
}

/* ------------------------------------------------------ refusal lines */

static void expect_map(const char *reply, int code, const char *text)
{
    struct tock_redis b;
    struct tock_error err = {0};

    memset(&b, 0, sizeof b);
    snprintf(b.url.shown, sizeof b.url.shown, "redis://h:1/0");
    snprintf(b.prefix, sizeof b.prefix, "tock:{default}:");
    snprintf(b.url.user, sizeof b.url.user, "tock");
    fx_expect(tock_redis_reply_error(&b, reply, strlen(reply), "FCALL claim",
                                     &err),
              &err, code, text);
}

static void test_error_lines(void **state)
{
    (void)state;
    expect_map("LOADING Redis is loading the dataset in memory", TOCK_EAGAIN,
               "loading its data set");
    expect_map("READONLY You can't write against a read only replica.",
               TOCK_EIO, "point TOCK_STORE at the primary");
    expect_map("BUSY Redis is busy running a script.", TOCK_EBUSY,
               "FUNCTION KILL");
    expect_map("MISCONF Redis is configured to save RDB snapshots, but...",
               TOCK_ENOSPC, "cannot persist");
    expect_map("OOM command not allowed when used memory > 'maxmemory'.",
               TOCK_ENOSPC, "Redis out of memory (maxmemory ?); raise it or "
                            "trim history");
    expect_map("MOVED 3999 127.0.0.1:6381", TOCK_EINVAL, "cluster node");
    expect_map("CROSSSLOT Keys in request don't hash to the same slot",
               TOCK_EINVAL, "cluster");
    expect_map("ERR unknown command 'FCALL', with args beginning with: ",
               TOCK_EVERSION, "older than 7.0");
    expect_map("ERR unknown command 'FUNCTION', with args beginning with: ",
               TOCK_EVERSION, "Redis >= 7.0");
    expect_map("WRONGTYPE Operation against a key holding the wrong kind",
               TOCK_ECORRUPT, "something other than tock");
    expect_map("DENIED Redis is running in protected mode", TOCK_EAUTH,
               "protected mode");
    expect_map("NOPERM this user has no permissions to run the "
               "'function|load' command",
               TOCK_EAUTH, "ACL SETUSER tock +function|load ~tock:{default}:*");
    expect_map("NOPERM this user has no permissions to access one of the "
               "keys used as arguments",
               TOCK_EAUTH, "ACL SETUSER tock ~tock:{default}:*");
    expect_map("ERR something\nnew", TOCK_EIO, "something\\nnew");
}

/* ------------------------------------------------------ real servers */

static struct tock_redis_fixture *start(const struct tock_redis_opts *o)
{
    struct tock_redis_fixture *fx = NULL;
    struct tock_error err = {0};

    tock_redis_fixture_require();
    assert_tock_ok(tock_redis_fixture_start(o, &fx, &err), &err);
    return fx;
}

static void open_expect(const char *url, int code, const char *text)
{
    struct tock_store *s = NULL;
    struct tock_error err = {0};

    fx_expect(tock_store_open(url, NULL, &s, &err), &err, code, text);
    assert_null(s);
}

static void test_passwords_on_a_real_server(void **state)
{
    struct tock_redis_opts o = {.requirepass = "s3cret"};
    struct tock_redis_fixture *fx = start(&o);
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    char url[200];

    (void)state;
    open_expect(tock_redis_fixture_url(fx), TOCK_EAUTH, "NOAUTH");
    snprintf(url, sizeof url, "redis://default:wrong@127.0.0.1:%d",
             tock_redis_fixture_port(fx));
    open_expect(url, TOCK_EAUTH, "WRONGPASS");
    {
        struct tock_error e2 = {0};
        struct tock_store *s2 = NULL;
        tock_store_open(url, NULL, &s2, &e2);
        assert_null(strstr(e2.msg, "wrong")); /* never the password */
        assert_non_null(strstr(e2.msg, "the store URL"));
    }
    setenv("TOCK_REDIS_PASSWORD", "s3cret", 1);
    assert_tock_ok(tock_store_open(tock_redis_fixture_url(fx), NULL, &s, &err),
                   &err);
    unsetenv("TOCK_REDIS_PASSWORD");
    tock_store_close(s);
    tock_redis_fixture_free(fx);
}

static void test_acl_user_without_fcall(void **state)
{
    struct tock_redis_opts o = {
        .acl = "user default on nopass ~* &* +@all\n"
               "user nofcall on >pw ~tock:{default}:* &* +@all -fcall\n"
               "user noxadd on >pw ~tock:{default}:* &* +@all -xadd\n"
               "user other on >pw ~other:* &* +@all\n",
    };
    struct tock_redis_fixture *fx = start(&o);
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    struct tock_job j;
    char url[200];
    int port = tock_redis_fixture_port(fx);

    (void)state;
    snprintf(url, sizeof url, "redis://nofcall:pw@127.0.0.1:%d", port);
    open_expect(url, TOCK_EAUTH,
                "Redis user 'nofcall' may not run FCALL on tock:{default}:* "
                "(NOPERM");
    open_expect(url, TOCK_EAUTH, "ACL SETUSER nofcall +fcall ~tock:{default}:*");
    snprintf(url, sizeof url, "redis://other:pw@127.0.0.1:%d", port);
    open_expect(url, TOCK_EAUTH, "ACL SETUSER other ~tock:{default}:*");
    /* Refused inside a function: the command it needed is named. */
    snprintf(url, sizeof url, "redis://noxadd:pw@127.0.0.1:%d", port);
    assert_tock_ok(tock_store_open(url, NULL, &s, &err), &err);
    fx_job(&j, "acl");
    fx_expect(tock_store_job_put(s, &j, -1, TOCK_PUT_UPSERT, 0, NULL, NULL,
                                 &err),
              &err, TOCK_EAUTH, "ACL SETUSER noxadd +xadd");
    tock_job_clear(&j);
    tock_store_close(s);
    tock_redis_fixture_free(fx);
}

/* The least-privilege user docs/redis-keys.md gives: exactly the commands
 * tock runs, on its own keys and channel only. A whole cycle must work. */
#define TOCK_ACL                                                               \
    "user tock on >pw resetkeys ~tock:{default}:* resetchannels "             \
    "&tock:{default}:* -@all +fcall +function|load +client|setname +info "    \
    "+config|get +time +hget +hgetall +hmget +zscore +smembers +scan "        \
    "+xrange +xrevrange +ssubscribe +hset +hincrby +hdel +exists +del "       \
    "+pexpire +zadd +zrem +zrange +zrangebyscore +sadd +srem +scard +sscan "  \
    "+xadd +xack +xdel +xreadgroup +xpending +xclaim +xgroup|create "         \
    "+xinfo|stream +spublish\n"

static void test_least_privilege_user(void **state)
{
    struct tock_redis_opts o = {
        .acl = "user default on nopass ~* &* +@all\n" TOCK_ACL,
    };
    struct tock_redis_fixture *fx = start(&o);
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    struct tock_claim_batch b = {0};
    struct tock_task_lease *l = NULL;
    struct tock_commit c;
    struct tock_commit_result cr;
    struct tock_result r = {0};
    enum tock_report_status st;
    struct tock_run *runs = NULL;
    struct tock_event *ev = NULL;
    int64_t *ids = NULL, now;
    const char *const q[] = {"default"};
    uint8_t *body;
    size_t n, red, dead;
    int fd;
    char url[200];

    (void)state;
    snprintf(url, sizeof url, "redis://tock:pw@127.0.0.1:%d",
             tock_redis_fixture_port(fx));
    assert_tock_ok(tock_store_open(url, NULL, &s, &err), &err);
    assert_tock_ok(tock_store_watch_open(s, &fd, &err), &err);
    assert_tock_ok(tock_store_now(s, &now, &err), &err);
    {
        struct tock_job j;
        fx_job(&j, "acl");
        j.retries = 1;
        assert_tock_ok(tock_store_job_put(s, &j, now, TOCK_PUT_CREATE, 0,
                                          NULL, NULL, &err),
                       &err);
        tock_job_clear(&j);
    }
    assert_tock_ok(tock_store_claim(s, "n", 8, 10000, &b, &err), &err);
    assert_int_equal(b.n, 1);
    fx_commit(&c, &b.items[0], TOCK_DECIDE_FIRE, 1000, &body);
    assert_tock_ok(tock_store_commit(s, &c, 1, &cr, &err), &err);
    assert_int_equal(cr.status, TOCK_COMMIT_OK);
    tock_free(body);
    assert_tock_ok(tock_store_task_take(s, q, 1, "w", 4, 10000, &l, &n, &err),
                   &err);
    assert_int_equal(n, 1);
    r.occ = l[0].occ;
    r.status = TOCK_STATUS_ERROR; /* a retry: the XRANGE + TIME path */
    r.worker = "w";
    r.attempt = 1;
    r.exit_code = 1;
    assert_tock_ok(tock_store_task_report(s, l[0].task_id, "w", 1, &r, &st,
                                          &err),
                   &err);
    assert_int_equal(st, TOCK_REPORT_OK);
    assert_tock_ok(tock_store_task_reclaim(s, 10, &red, &dead, &err), &err);
    assert_tock_ok(tock_store_task_release(s, "w", &l[0].task_id, 1, &err),
                   &err);
    assert_tock_ok(tock_store_runs(s, NULL, 10, &runs, &n, &err), &err);
    tock_run_list_free(runs, n);
    assert_tock_ok(tock_store_events(s, 0, 10, &ev, &ids, &n, &err), &err);
    tock_event_list_free(ev, ids, n);
    assert_tock_ok(tock_store_job_remove(s, "acl", &err), &err);
    tock_task_lease_list_free(l, 1);
    tock_claim_batch_clear(&b);
    tock_store_close(s);
    /* Another namespace is out of its reach. */
    snprintf(url, sizeof url, "redis://tock:pw@127.0.0.1:%d?ns=other",
             tock_redis_fixture_port(fx));
    open_expect(url, TOCK_EAUTH, "ACL SETUSER tock ~tock:{other}:*");
    tock_redis_fixture_free(fx);
}

static void test_eviction_policy_refused(void **state)
{
    struct tock_redis_opts o = {.maxmemory_policy = "allkeys-lru"};
    struct tock_redis_fixture *fx = start(&o);

    (void)state;
    open_expect(tock_redis_fixture_url(fx), TOCK_EINVAL,
                "maxmemory-policy allkeys-lru");
    open_expect(tock_redis_fixture_url(fx), TOCK_EINVAL, "noeviction");
    tock_redis_fixture_free(fx);
}

static int free_port(void);

static void test_cluster_mode_refused(void **state)
{
    char bus[40];
    const char *conf[] = {"cluster-enabled yes",
                          "cluster-config-file nodes.conf", bus, NULL};
    struct tock_redis_opts o = {.extra_conf = conf};
    struct tock_redis_fixture *fx;

    (void)state;
    /* The cluster bus port is port+10000 unless given: give one, since the
     * fixture's port may be above 55535. */
    snprintf(bus, sizeof bus, "cluster-port %d", free_port());
    fx = start(&o);
    open_expect(tock_redis_fixture_url(fx), TOCK_EINVAL, "cluster mode");
    tock_redis_fixture_free(fx);
}

static void test_busy_and_oom(void **state)
{
    struct rfx *f = *state;
    redisContext *busy = tock_redis_fixture_connect(f->fx, 10000, &f->err);
    redisReply *r = NULL;
    int64_t now;
    struct tock_job j;

    assert_non_null(busy);
    freeReplyObject(rfx_reply(f, "CONFIG SET busy-reply-threshold 100"));
    /* A script that loops: past the threshold every other call is BUSY. */
    assert_int_equal(redisAppendCommand(busy, "EVAL %s 0",
                                        "while true do end"),
                     REDIS_OK);
    {
        int done = 0;
        while (!done)
            assert_int_equal(redisBufferWrite(busy, &done), REDIS_OK);
    }
    rfx_sleep_ms(300);
    fx_expect(tock_store_now(f->s, &now, &f->err), &f->err, TOCK_EBUSY,
              "busy running a script (BUSY)");
    freeReplyObject(rfx_reply(f, "SCRIPT KILL"));
    assert_int_equal(redisGetReply(busy, (void **)&r), REDIS_OK);
    freeReplyObject(r);
    redisFree(busy);
    freeReplyObject(rfx_reply(f, "CONFIG SET busy-reply-threshold 5000"));
    assert_tock_ok(tock_store_now(f->s, &now, &f->err), &f->err);

    /* Over maxmemory: every function is refused before it runs. */
    freeReplyObject(rfx_reply(f, "CONFIG SET maxmemory 1"));
    fx_job(&j, "oom");
    fx_expect(tock_store_job_put(f->s, &j, -1, TOCK_PUT_UPSERT, 0, NULL, NULL,
                                 &f->err),
              &f->err, TOCK_ENOSPC,
              "Redis out of memory (maxmemory 1B); raise it or trim history");
    freeReplyObject(rfx_reply(f, "CONFIG SET maxmemory 0"));
    assert_int_equal(rfx_int(f, "EXISTS " NS "job:oom"), 0);
    assert_tock_ok(tock_store_job_put(f->s, &j, -1, TOCK_PUT_UPSERT, 0, NULL,
                                      NULL, &f->err),
                   &f->err);
    tock_job_clear(&j);
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_unreachable(void **state)
{
    char url[200];

    (void)state;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", free_port());
    open_expect(url, TOCK_ECONN, "refused the connection");
    open_expect("redis://nonexistent.invalid:6379?timeout=2s", TOCK_ECONN,
                "cannot resolve the Redis host 'nonexistent.invalid'");
    open_expect("unix:///nonexistent/redis.sock", TOCK_ECONN,
                "unix:///nonexistent/redis.sock");
}

static void test_paused_redis_times_out(void **state)
{
    struct rfx *f = *state;
    struct tock_store *s = NULL;
    char url[200];
    int64_t now, t;

    snprintf(url, sizeof url, "%s?timeout=500ms",
             tock_redis_fixture_url(f->fx));
    assert_tock_ok(tock_store_open(url, NULL, &s, &f->err), &f->err);
    assert_tock_ok(tock_redis_fixture_pause(f->fx, &f->err), &f->err);
    t = rfx_mono_ms();
    fx_expect(tock_store_now(s, &now, &f->err), &f->err, TOCK_ETIMEDOUT,
              "did not answer");
    assert_true(rfx_mono_ms() - t < 1500);
    assert_true(rfx_mono_ms() - t >= 450);
    /* Reconnecting to a server still stopped times out too. */
    t = rfx_mono_ms();
    fx_expect(tock_store_now(s, &now, &f->err), &f->err, TOCK_ETIMEDOUT, "");
    assert_true(rfx_mono_ms() - t < 1500);
    assert_tock_ok(tock_redis_fixture_resume(f->fx, &f->err), &f->err);
    assert_tock_ok(tock_store_now(s, &now, &f->err), &f->err);
    tock_store_close(s);
}

/* log_sink keeps the last warning lines. */
static void log_sink(void *data, enum tock_log_level level, const char *line)
{
    char *buf = data;

    if (level >= TOCK_LOG_WARN)
        snprintf(buf + strlen(buf), 4096 - strlen(buf), "%s\n", line);
}

static void open_logged(struct tock_redis_fixture *fx, char *lines)
{
    struct tock_log *log = tock_log_new(2, TOCK_LOG_DEBUG, TOCK_LOG_HUMAN);
    struct tock_store *s = NULL;
    struct tock_error err = {0};

    lines[0] = '\0';
    tock_log_set_sink(log, log_sink, lines);
    assert_tock_ok(tock_store_open(tock_redis_fixture_url(fx), log, &s, &err),
                   &err);
    tock_store_close(s);
    tock_log_free(log);
}

static void test_restart_with_aof_always(void **state)
{
    struct tock_redis_opts o = {.aof = 1, .appendfsync = "always"};
    struct tock_redis_fixture *fx = start(&o);
    struct tock_store *s = NULL;
    struct tock_error err = {0};
    struct tock_job_state st = {0};
    struct tock_job j;
    int64_t now;
    char lines[4096];

    (void)state;
    open_logged(fx, lines);
    assert_string_equal(lines, ""); /* nothing to warn about */
    assert_tock_ok(tock_store_open(tock_redis_fixture_url(fx), NULL, &s, &err),
                   &err);
    assert_tock_ok(tock_store_now(s, &now, &err), &err);
    fx_job(&j, "durable");
    assert_tock_ok(tock_store_job_put(s, &j, now + 60000, TOCK_PUT_CREATE, 0,
                                      NULL, NULL, &err),
                   &err);
    tock_job_clear(&j);
    /* A crash right after the acknowledged put; then Redis comes back on
     * its AOF, and the same handle carries on. */
    assert_tock_ok(tock_redis_fixture_kill(fx, &err), &err);
    fx_expect(tock_store_now(s, &now, &err), &err, TOCK_ECONN, "refused");
    assert_tock_ok(tock_redis_fixture_restart(fx, &err), &err);
    assert_tock_ok(tock_store_job_get(s, "durable", &st, &err), &err);
    assert_int_equal(st.next_fire_ms, now + 60000);
    tock_job_state_clear(&st);
    tock_store_close(s);
    tock_redis_fixture_free(fx);
}

static void test_durability_warnings(void **state)
{
    struct rfx *f = *state;
    struct tock_redis_opts o = {.aof = 1, .appendfsync = "everysec"};
    struct tock_redis_fixture *fx = start(&o);
    char lines[4096];

    open_logged(f->fx, lines); /* the group's server: AOF off */
    assert_non_null(strstr(lines, "AOF off (appendonly no)"));
    assert_non_null(strstr(lines, "appendfsync always"));
    open_logged(fx, lines);
    assert_non_null(strstr(lines, "appendfsync everysec"));
    assert_non_null(strstr(lines, "last 1-2 s"));
    tock_redis_fixture_free(fx);
}

static void test_client_name_and_reconnect(void **state)
{
    struct rfx *f = *state;
    char buf[4096];
    int64_t now;

    rfx_str(f, buf, sizeof buf, "CLIENT LIST");
    assert_non_null(strstr(buf, "name=tock-test_store_redis_conn:"));
    /* A connection killed under the handle: the next call reconnects. */
    freeReplyObject(rfx_reply(f, "CLIENT KILL TYPE normal SKIPME yes"));
    assert_tock_ok(tock_store_now(f->s, &now, &f->err), &f->err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, rfx_setup, rfx_teardown)
        cmocka_unit_test(test_url_grammar),
        cmocka_unit_test(test_url_errors),
        cmocka_unit_test(test_store_open_refusals),
        cmocka_unit_test(test_password_sources),
        cmocka_unit_test(test_error_lines),
        cmocka_unit_test(test_passwords_on_a_real_server),
        cmocka_unit_test(test_acl_user_without_fcall),
        cmocka_unit_test(test_least_privilege_user),
        cmocka_unit_test(test_eviction_policy_refused),
        cmocka_unit_test(test_cluster_mode_refused),
        T(test_busy_and_oom),
        cmocka_unit_test(test_unreachable),
        T(test_paused_redis_times_out),
        cmocka_unit_test(test_restart_with_aof_always),
        T(test_durability_warnings),
        T(test_client_name_and_reconnect),
#undef T
    };
    return cmocka_run_group_tests(tests, rfx_group_setup, rfx_group_teardown);
}
