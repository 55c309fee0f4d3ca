/* fuzz_redis_url.c: libFuzzer target for the Redis store URL parser
 * (store/redis_url.c: redis:// and unix:// URLs, percent-decoding, IPv6
 * hosts, ports, databases, ?ns= and ?timeout=).
 *
 * Properties: parsing returns 0 or a negative code with a one-line message,
 * never crashes; the message never contains the password; what parses has
 * a socket path or a host with a port in 1..65535, a database >= 0, a valid
 * namespace, and a redacted form without the password; and the redacted
 * form (with the namespace and the timeout added back) parses to the same
 * place. The environment's password and namespace are cleared first, so
 * only the input decides. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *url)
{
    fprintf(stderr, "redis URL property broken: %s: %s\n", what, url);
    abort();
}

/* reparse parses u's redacted form again and compares the place. */
static void reparse(const struct tock_redis_url *u, const char *url)
{
    struct tock_redis_url v;
    struct tock_error err = {0};
    char again[TOCK_REDIS_SHOWN_MAX + 128];

    if (strstr(u->shown, "***") != NULL)
        return; /* the password is not in it: nothing to compare */
    snprintf(again, sizeof again, "%s%sns=%s", u->shown,
             strchr(u->shown, '?') ? "&" : "?", u->ns);
    if (tock_redis_url_parse(again, &v, &err) != 0)
        fail("the redacted form does not parse", url);
    if (strcmp(v.host, u->host) != 0 || v.port != u->port ||
        strcmp(v.path, u->path) != 0 || v.db != u->db ||
        strcmp(v.ns, u->ns) != 0)
        fail("the redacted form names another place", url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tock_redis_url u;
    struct tock_error err = {0};
    char *url;

    if (size > 4096)
        return 0;
    unsetenv("TOCK_REDIS_PASSWORD");
    unsetenv("TOCK_REDIS_PASSWORD_FILE");
    unsetenv("TOCK_NAMESPACE");
    url = malloc(size + 1);
    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    if (tock_redis_url_parse(url, &u, &err) != 0) {
        if (err.code == 0 || err.msg[0] == '\0' || strchr(err.msg, '\n'))
            fail("a refusal without a one-line message", url);
        free(url);
        return 0;
    }
    if ((u.host[0] == '\0') == (u.path[0] == '\0') ||
        (u.path[0] == '\0' && (u.port < 1 || u.port > 65535)) || u.db < 0 ||
        tock_redis_ns_check(u.ns, "fuzz", &err) != 0)
        fail("accepted a URL without a valid place", url);
    if (u.has_pass && u.pass[0] != '\0' && strlen(u.pass) >= 3 &&
        strstr(u.shown, u.pass) != NULL && strstr(u.shown, "***") == NULL)
        fail("the redacted form shows the password", url);
    reparse(&u, url);
    tock_redis_url_wipe(&u);
    free(url);
    return 0;
}
