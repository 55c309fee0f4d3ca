/* runner_util.c: what tock-worker and tock standalone need around a runner:
 * the default worker id, the --queues list, the file of a SQLite store URL.
 * See runner.h. */
#include "worker/runner.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

int tock_runner_default_id(char *buf, size_t cap)
{
    char host[128] = "";
    size_t i;

    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "worker");
    host[sizeof host - 1] = '\0';
    /* The name policy allows [A-Za-z0-9._-] only: ':' would break a Redis
     * key, so "<host>-<pid>" rather than "<host>:<pid>". */
    for (i = 0; host[i] != '\0'; i++) {
        char c = host[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            host[i] = '_';
    }
    if (host[0] == '.' || host[0] == '-' || host[0] == '_')
        host[0] = 'w';
    host[100] = '\0'; /* room for "-<pid>" within TOCK_ID_MAX */
    if (snprintf(buf, cap, "%s-%ld", host, (long)getpid()) >= (int)cap)
        return TOCK_ERANGE;
    return 0;
}

void tock_runner_queues_free(char **queues, size_t n)
{
    size_t i;

    for (i = 0; queues != NULL && i < n; i++)
        tock_free(queues[i]);
    tock_free(queues);
}

static bool listed(char *const *q, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(q[i], name) == 0)
            return true;
    return false;
}

int tock_runner_parse_queues(const char *list, char ***out, size_t *n,
                             struct tock_error *err)
{
    const char *p = list, *comma;
    char **q = NULL;
    size_t count = 0, i;
    int rc = 0;

    *out = NULL;
    *n = 0;
    for (i = 0; list[i] != '\0'; i++)
        count += list[i] == ',';
    count++;
    if (count > TOCK_RUNNER_QUEUES_MAX)
        return tock_error_set(err, TOCK_EINVAL,
                              "--queues: %zu queues; at most %d", count,
                              TOCK_RUNNER_QUEUES_MAX);
    q = tock_calloc(count, sizeof *q);
    if (q == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (i = 0; i < count; i++, p = comma + 1) {
        comma = strchr(p, ',');
        if (comma == NULL)
            comma = p + strlen(p);
        q[i] = tock_strndup(p, (size_t)(comma - p));
        if (q[i] == NULL) {
            rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
            break;
        }
        if ((rc = tock_name_check(q[i], "queue", err)) != 0) {
            tock_error_prefix(err, "--queues '%.100s'", list);
            break;
        }
        if (listed(q, i, q[i])) {
            rc = tock_error_set(err, TOCK_EINVAL,
                                "--queues: queue '%s' is listed twice", q[i]);
            break;
        }
    }
    if (rc != 0) {
        tock_runner_queues_free(q, count);
        return rc;
    }
    *out = q;
    *n = count;
    return 0;
}

const char *tock_runner_store_file(const char *url)
{
    if (url == NULL || strncmp(url, "sqlite:", 7) != 0 || url[7] == '\0')
        return NULL;
    return url + 7;
}
