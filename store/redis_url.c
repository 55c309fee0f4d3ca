/* redis_url.c: the Redis store URL, where its password comes from, its
 * namespace, and the redacted form every message shows.
 *
 *   redis://[user[:password]@]host[:port][/db][?ns=NS&timeout=DUR]
 *   unix:///path/to.sock[?db=N&ns=NS&timeout=DUR]
 *
 * User and password are percent-decoded ("p%40ss" is "p@ss"); an IPv6 host
 * goes in brackets ("redis://[::1]:6379"). The last '@' ends the user
 * part, so a password may hold a raw '@', ':' or '/' too. Passwords should
 * not be in URLs at all: a URL ends up in process listings and shell
 * histories. $TOCK_REDIS_PASSWORD, or the file named by
 * $TOCK_REDIS_PASSWORD_FILE (mode 0600), are the better places; a password
 * in the URL wins over both. No message ever holds the password: they show
 * `shown`, the URL with the password replaced by "***".
 */
#include "store/redis.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/parse.h"

#define DEFAULT_PORT 6379
#define DB_MAX 100000

/* ------------------------------------------------------------- helpers */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* decode percent-decodes src[0..len) into dst (capacity cap). `what` names
 * the part in messages; its text is never shown (it may be a password). */
static int decode(const char *src, size_t len, char *dst, size_t cap,
                  const char *what, struct tock_error *err)
{
    size_t k = 0;

    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval(src[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(src[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return tock_error_set(err, TOCK_EINVAL,
                                      "store URL: bad percent escape in the %s "
                                      "(write %%XX with two hex digits)", what);
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0)
            return tock_error_set(err, TOCK_EINVAL,
                                  "store URL: the %s holds a NUL byte", what);
        if (k + 1 >= cap)
            return tock_error_set(err, TOCK_EINVAL,
                                  "store URL: the %s is too long", what);
        dst[k++] = (char)c;
    }
    dst[k] = '\0';
    return 0;
}

/* parse_uint parses a decimal in [min, max] written without sign or
 * leading zeros. */
static bool parse_uint(const char *s, size_t len, long min, long max,
                       long *out)
{
    long v = 0;

    if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

int tock_redis_ns_check(const char *ns, const char *from,
                        struct tock_error *err)
{
    size_t len = strlen(ns);

    if (len == 0 || len > TOCK_REDIS_NS_MAX)
        return tock_error_set(err, TOCK_EINVAL,
                              "namespace from %s must be 1..%d bytes",
                              from, TOCK_REDIS_NS_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)ns[i];
        if (c <= 0x20 || c >= 0x7f || strchr("{}*?[]:\\@", c) != NULL)
            return tock_error_set(err, TOCK_EINVAL,
                                  "namespace '%.64s' from %s may not hold "
                                  "whitespace, non-ASCII, or any of "
                                  "{ } * ? [ ] : \\ @ (they would break the "
                                  "Redis hash tag or key patterns); use "
                                  "letters, digits, '-', '_' or '.'",
                                  ns, from);
    }
    return 0;
}

void tock_redis_url_wipe(struct tock_redis_url *u)
{
    volatile char *p = u->pass;

    for (size_t i = 0; i < sizeof u->pass; i++)
        p[i] = 0;
    u->has_pass = false;
}

/* ------------------------------------------------------------- the host */

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* host_ok: a host name or IPv4 address ([A-Za-z0-9.-_]), or inside
 * brackets an IPv6 address (hex digits, ':' and '.', at least one ':',
 * then optionally '%' and a zone name). */
static bool host_ok(const char *h, bool v6)
{
    const char *zone = v6 ? strchr(h, '%') : NULL;
    size_t end = zone ? (size_t)(zone - h) : strlen(h);

    if (v6 && memchr(h, ':', end) == NULL)
        return false;
    for (size_t i = 0; i < end; i++) {
        bool hex = (h[i] >= '0' && h[i] <= '9') ||
                   (h[i] >= 'a' && h[i] <= 'f') || (h[i] >= 'A' && h[i] <= 'F');
        if (v6 ? !(hex || h[i] == ':' || h[i] == '.') : !name_char(h[i]))
            return false;
    }
    for (const char *z = zone ? zone + 1 : NULL; z != NULL && *z; z++)
        if (!name_char(*z))
            return false;
    return zone == NULL || zone[1] != '\0';
}

/* parse_host reads "host[:port]" or "[v6][:port]" from s[0..len). */
static int parse_host(const char *s, size_t len, struct tock_redis_url *u,
                      struct tock_error *err)
{
    const char *port = NULL, *end = s + len;
    bool v6 = len > 0 && s[0] == '[';
    size_t hlen;
    long v;

    if (v6) {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return tock_error_set(err, TOCK_EINVAL,
                                  "store URL: IPv6 host '%.60s' has no closing "
                                  "']'", s);
        hlen = (size_t)(close - s - 1);
        if (close + 1 < end && close[1] != ':')
            return tock_error_set(err, TOCK_EINVAL,
                                  "store URL: junk after the IPv6 host ']' in "
                                  "'%.60s'", s);
        port = close + 1 < end ? close + 2 : NULL;
        s++;
    } else {
        const char *colon = memchr(s, ':', len);
        hlen = colon ? (size_t)(colon - s) : len;
        port = colon ? colon + 1 : NULL;
    }
    if (hlen == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL has no host; write "
                              "redis://HOST[:PORT][/DB]");
    if (hlen >= sizeof u->host)
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL: the host is too long");
    memcpy(u->host, s, hlen);
    u->host[hlen] = '\0';
    if (!host_ok(u->host, v6))
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL: the host holds a character that "
                              "is not allowed in a host name or address");
    u->port = DEFAULT_PORT;
    if (port == NULL)
        return 0;
    if (!parse_uint(port, (size_t)(end - port), 1, 65535, &v))
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL: port '%.*s' is not a number in "
                              "1..65535", (int)(end - port > 20 ? 20
                                                : end - port), port);
    u->port = (int)v;
    return 0;
}

/* parse_userinfo reads "user[:password]" from s[0..len). */
static int parse_userinfo(const char *s, size_t len, struct tock_redis_url *u,
                          struct tock_error *err)
{
    const char *colon = memchr(s, ':', len);
    size_t ulen = colon ? (size_t)(colon - s) : len;
    int rc = decode(s, ulen, u->user, sizeof u->user, "user", err);

    if (rc < 0)
        return rc;
    for (const char *p = u->user; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
            strchr("@:/?#%&=[]", *p) != NULL)
            return tock_error_set(err, TOCK_EINVAL,
                                  "store URL: the user name may hold only "
                                  "printable ASCII without spaces or any of "
                                  "@ : / ? # %% & = [ ]");
    if (colon == NULL)
        return 0;
    if (ulen == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL has a password but an empty user; "
                              "write redis://default:PASSWORD@host for the "
                              "default user (requirepass), or better, set "
                              "TOCK_REDIS_PASSWORD");
    rc = decode(colon + 1, len - ulen - 1, u->pass, sizeof u->pass,
                "password", err);
    if (rc < 0)
        return rc;
    if (u->pass[0] == '\0')
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL: the password after '%s:' is "
                              "empty", u->user);
    u->has_pass = true;
    u->pass_from = "the store URL";
    return 0;
}

/* -------------------------------------------------------------- the query */

static int parse_param(const char *k, size_t klen, const char *v, size_t vlen,
                       bool unix_sock, struct tock_redis_url *u,
                       struct tock_error *err)
{
    char val[128];
    long db;
    int rc;

    if (vlen >= sizeof val)
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL: parameter value too long");
    memcpy(val, v, vlen);
    val[vlen] = '\0';
    if (klen == 2 && memcmp(k, "ns", 2) == 0) {
        if ((rc = tock_redis_ns_check(val, "the store URL", err)) < 0)
            return rc;
        snprintf(u->ns, sizeof u->ns, "%s", val);
        return 0;
    }
    if (klen == 7 && memcmp(k, "timeout", 7) == 0)
        return tock_parse_duration_ms(val, 1, 3600 * 1000, &u->timeout_ms,
                                      "store URL ?timeout=", err);
    if (klen == 2 && memcmp(k, "db", 2) == 0) {
        if (!unix_sock)
            return tock_error_set(err, TOCK_EINVAL,
                                  "store URL: give the database as "
                                  "redis://host:port/N, not ?db=");
        if (!parse_uint(val, vlen, 0, DB_MAX, &db))
            return tock_error_set(err, TOCK_EINVAL,
                                  "store URL: database '%.20s' is not a number "
                                  ">= 0", val);
        u->db = (int)db;
        return 0;
    }
    return tock_error_set(err, TOCK_EINVAL,
                          "store URL: unknown parameter '%.*s'; known: ns, "
                          "timeout%s", (int)(klen > 30 ? 30 : klen), k,
                          unix_sock ? ", db" : "");
}

static int parse_query(const char *q, bool unix_sock,
                       struct tock_redis_url *u, struct tock_error *err)
{
    while (*q != '\0') {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        int rc;

        if (eq == NULL || eq == q)
            return tock_error_set(err, TOCK_EINVAL,
                                  "store URL: parameter '%.40s' is not "
                                  "NAME=VALUE", q);
        rc = parse_param(q, (size_t)(eq - q), eq + 1,
                         len - (size_t)(eq - q) - 1, unix_sock, u, err);
        if (rc < 0)
            return rc;
        q += len + (amp ? 1 : 0);
    }
    return 0;
}

/* ------------------------------------------------------------ the schemes */

static int parse_tcp(const char *rest, struct tock_redis_url *u,
                     struct tock_error *err)
{
    const char *at = strrchr(rest, '@');
    const char *hp = at ? at + 1 : rest;
    const char *q = strchr(hp, '?');
    const char *slash = strchr(hp, '/');
    const char *hend;
    long db;
    int rc;

    if (q != NULL && slash != NULL && slash > q)
        slash = NULL;
    hend = slash ? slash : q ? q : hp + strlen(hp);
    if (at != NULL && (rc = parse_userinfo(rest, (size_t)(at - rest), u,
                                           err)) < 0)
        return rc;
    if ((rc = parse_host(hp, (size_t)(hend - hp), u, err)) < 0)
        return rc;
    if (slash != NULL) {
        const char *dend = q ? q : slash + strlen(slash);
        size_t dlen = (size_t)(dend - slash - 1);
        if (dlen > 0 && !parse_uint(slash + 1, dlen, 0, DB_MAX, &db))
            return tock_error_set(err, TOCK_EINVAL,
                                  "store URL: database '%.*s' is not a "
                                  "number >= 0", (int)(dlen > 20 ? 20 : dlen),
                                  slash + 1);
        u->db = dlen > 0 ? (int)db : 0;
    }
    return q ? parse_query(q + 1, false, u, err) : 0;
}

static int parse_unix(const char *rest, struct tock_redis_url *u,
                      struct tock_error *err)
{
    const char *q = strchr(rest, '?');
    size_t len = q ? (size_t)(q - rest) : strlen(rest);

    if (len == 0 || rest[0] != '/')
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL: write unix:///absolute/path/to.sock");
    if (len >= sizeof u->path)
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL: the socket path is longer than "
                              "107 bytes");
    memcpy(u->path, rest, len);
    u->path[len] = '\0';
    return q ? parse_query(q + 1, true, u, err) : 0;
}

/* -------------------------------------------------------------- password */

/* read_password_file reads the password from `path`, which must be a
 * regular file nobody but its owner can read. */
static int read_password_file(const char *path, struct tock_redis_url *u,
                              struct tock_error *err)
{
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return tock_error_set(err, TOCK_EAUTH,
                              "cannot read TOCK_REDIS_PASSWORD_FILE %.100s: "
                              "%s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tock_error_set(err, TOCK_EAUTH,
                              "TOCK_REDIS_PASSWORD_FILE %.100s is not a "
                              "regular file", path);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return tock_error_set(err, TOCK_EAUTH,
                              "TOCK_REDIS_PASSWORD_FILE %.100s can be read "
                              "by others (mode %04o); run chmod 600 %.100s",
                              path, (unsigned)(st.st_mode & 07777), path);
    }
    n = read(fd, u->pass, sizeof u->pass - 1);
    close(fd);
    if (n < 0 || (size_t)n >= sizeof u->pass - 1)
        return tock_error_set(err, TOCK_EAUTH,
                              "TOCK_REDIS_PASSWORD_FILE %.100s: %s", path,
                              n < 0 ? strerror(errno) : "longer than 510 "
                                                        "bytes");
    while (n > 0 && (u->pass[n - 1] == '\n' || u->pass[n - 1] == '\r'))
        n--;
    u->pass[n] = '\0';
    if (n == 0 || memchr(u->pass, '\n', (size_t)n) != NULL ||
        strlen(u->pass) != (size_t)n)
        return tock_error_set(err, TOCK_EAUTH,
                              "TOCK_REDIS_PASSWORD_FILE %.100s must hold "
                              "the password on one line", path);
    u->has_pass = true;
    u->pass_from = "TOCK_REDIS_PASSWORD_FILE";
    return 0;
}

static int password_from_env(struct tock_redis_url *u, struct tock_error *err)
{
    const char *p = getenv("TOCK_REDIS_PASSWORD");
    const char *f = getenv("TOCK_REDIS_PASSWORD_FILE");

    if (u->has_pass)
        return 0;
    if (p != NULL && *p != '\0') {
        if (strlen(p) >= sizeof u->pass)
            return tock_error_set(err, TOCK_EINVAL,
                                  "TOCK_REDIS_PASSWORD is too long");
        snprintf(u->pass, sizeof u->pass, "%s", p);
        u->has_pass = true;
        u->pass_from = "TOCK_REDIS_PASSWORD";
        return 0;
    }
    if (f != NULL && *f != '\0')
        return read_password_file(f, u, err);
    return 0;
}

/* ----------------------------------------------------------------- parse */

static void redact(struct tock_redis_url *u)
{
    char user[TOCK_REDIS_USER_MAX + 8] = "";

    if (u->path[0] != '\0') {
        snprintf(u->shown, sizeof u->shown, "unix://%s?db=%d", u->path, u->db);
        return;
    }
    if (u->user[0] != '\0' || u->has_pass)
        snprintf(user, sizeof user, "%.60s%s@",
                 u->user[0] ? u->user : "default", u->has_pass ? ":***" : "");
    snprintf(u->shown, sizeof u->shown,
             strchr(u->host, ':') ? "redis://%s[%s]:%d/%d"
                                  : "redis://%s%s:%d/%d",
             user, u->host, u->port, u->db);
}

int tock_redis_url_parse(const char *url, struct tock_redis_url *u,
                         struct tock_error *err)
{
    const char *ns = getenv("TOCK_NAMESPACE");
    int rc;

    memset(u, 0, sizeof *u);
    snprintf(u->ns, sizeof u->ns, "default");
    if (ns != NULL && *ns != '\0') {
        if ((rc = tock_redis_ns_check(ns, "TOCK_NAMESPACE", err)) < 0)
            return rc;
        snprintf(u->ns, sizeof u->ns, "%s", ns);
    }
    if (strncmp(url, "redis://", 8) == 0)
        rc = parse_tcp(url + 8, u, err);
    else if (strncmp(url, "unix://", 7) == 0)
        rc = parse_unix(url + 7, u, err);
    else
        rc = tock_error_set(err, TOCK_EINVAL,
                            "store URL is not redis:// or unix://");
    if (rc == 0)
        rc = password_from_env(u, err);
    if (rc < 0) {
        tock_redis_url_wipe(u);
        return rc;
    }
    redact(u);
    return 0;
}
