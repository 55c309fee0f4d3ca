/* embed.c: the embedded scheduler's lifecycle (tock.h): creation with its
 * configuration and store, the function registry, start / attach /
 * shutdown / free, and the stats. The parts it starts are in embed_fire.c,
 * embed_exec.c and embed_events.c; embed.h has the map. */
#include "scheduler/embed.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

#define LOGC "libtock"
#define LEASE_MIN_MS 100
#define TASK_LEASE_MIN_MS 300 /* renewed every third: 100 ms at least */
#define LEASE_MAX_MS (24LL * 3600 * 1000)
#define POLL_MIN_MS 10
#define POLL_MAX_MS (3600LL * 1000)
#define MEMORY_URL "memory:"
#define MEMORY_FILE "tock.db"

/* ------------------------------------------------------------- clocks */

uint64_t tock_embed_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t tock_embed_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tock_embed_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int rc;

    if (pthread_condattr_init(&a) != 0)
        return TOCK_ENOMEM;
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
                 pthread_cond_init(cv, &a) == 0
             ? 0
             : TOCK_ENOMEM;
    pthread_condattr_destroy(&a);
    return rc;
}

void tock_embed_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                                uint64_t at)
{
    struct timespec ts;

    if (at == 0 || at == UINT64_MAX) {
        pthread_cond_wait(cv, mu);
        return;
    }
    ts.tv_sec = (time_t)(at / 1000u);
    ts.tv_nsec = (long)(at % 1000u) * 1000000L;
    pthread_cond_timedwait(cv, mu, &ts);
}

/* ------------------------------------------------------- configuration */

/* default_node makes "<host>-<pid>-<6 hex>", the host cleaned to the name
 * policy. The random part keeps two schedulers of one process apart in the
 * run history and as task consumers. */
static void default_node(char *buf, size_t cap)
{
    char host[64] = "";
    unsigned char r[3] = {0};
    size_t i;

    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    for (i = 0; host[i] != '\0'; i++) {
        char ch = host[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') ||
                  (i > 0 && (ch == '.' || ch == '-' || ch == '_'));

        if (!ok)
            host[i] = 'x';
    }
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        uint64_t t = tock_embed_mono_ms() ^ (uint64_t)(uintptr_t)buf;

        memcpy(r, &t, sizeof r);
    }
    snprintf(buf, cap, "%s-%ld-%02x%02x%02x", host, (long)getpid(), r[0],
             r[1], r[2]);
}

static int check_range(int64_t v, int64_t lo, int64_t hi, const char *what,
                       struct tock_error *err)
{
    if (v == 0 || (v >= lo && v <= hi))
        return 0;
    return tock_error_set(err, TOCK_ERANGE,
                          "config %s %" PRId64 " ms is out of range; use %"
                          PRId64 " ms to %" PRId64 " ms, or 0 for the default",
                          what, v, lo, hi);
}

static int check_config(const struct tock_scheduler_config *c,
                        struct tock_error *err)
{
    int rc;

    if (c->threads > TOCK_SCHED_THREADS_MAX)
        return tock_error_set(err, TOCK_ERANGE,
                              "config threads %zu is too many; use 1 to %d, "
                              "or 0 for %d", c->threads,
                              TOCK_SCHED_THREADS_MAX, TOCK_SCHED_THREADS);
    if ((rc = check_range(c->claim_lease_ms, LEASE_MIN_MS, LEASE_MAX_MS,
                          "claim_lease_ms", err)) ||
        (rc = check_range(c->task_lease_ms, TASK_LEASE_MIN_MS, LEASE_MAX_MS,
                          "task_lease_ms", err)) ||
        (rc = check_range(c->poll_ms, POLL_MIN_MS, POLL_MAX_MS, "poll_ms",
                          err)) ||
        (rc = check_range(c->busy_timeout_ms, 1, LEASE_MAX_MS,
                          "busy_timeout_ms", err)))
        return rc;
    if (c->node_id != NULL &&
        (rc = tock_name_check(c->node_id, "config node_id", err)) != 0)
        return rc;
    if (c->queue != NULL &&
        (rc = tock_name_check(c->queue, "config queue", err)) != 0)
        return rc;
    return 0;
}

static void apply_config(struct tock_scheduler *s,
                         const struct tock_scheduler_config *c)
{
    s->threads = c->threads ? c->threads : TOCK_SCHED_THREADS;
    s->claim_lease_ms =
        c->claim_lease_ms ? c->claim_lease_ms : TOCK_SCHED_CLAIM_LEASE_MS;
    s->task_lease_ms =
        c->task_lease_ms ? c->task_lease_ms : TOCK_SCHED_TASK_LEASE_MS;
    s->poll_ms = c->poll_ms ? c->poll_ms : TOCK_SCHED_POLL_MS;
    s->tuning.busy_timeout_ms = c->busy_timeout_ms; /* 0: the store's */
    if (c->node_id != NULL)
        snprintf(s->node, sizeof s->node, "%s", c->node_id);
    else
        default_node(s->node, sizeof s->node);
    snprintf(s->queue, sizeof s->queue, "%s",
             c->queue ? c->queue : TOCK_DEFAULT_QUEUE);
    s->log = c->log;
    s->listener = c->listener;
    s->listener_data = c->listener_data;
}

/* ------------------------------------------------------------ the store */

/* memory_store makes the private directory of a "memory:" store and points
 * s->url at a file in it. */
static int memory_store(struct tock_scheduler *s, struct tock_error *err)
{
    const char *base = getenv("TMPDIR");
    char dir[4096];
    size_t need;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if ((size_t)snprintf(dir, sizeof dir, "%s/tock-memory-XXXXXX", base) >=
        sizeof dir - sizeof MEMORY_FILE - 1)
        return tock_error_set(err, TOCK_EINVAL,
                              "TMPDIR is too long for a memory: store; set "
                              "it to a shorter directory");
    if (mkdtemp(dir) == NULL)
        return tock_error_set(err, TOCK_EIO,
                              "cannot create a directory for the memory: "
                              "store under %.200s: %s; set TMPDIR to a "
                              "writable directory", base, strerror(errno));
    need = strlen("sqlite:") + strlen(dir) + 1 + sizeof MEMORY_FILE;
    s->tmpdir = tock_strdup(dir);
    s->url = tock_malloc(need);
    if (s->tmpdir == NULL || s->url == NULL) {
        rmdir(dir);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    snprintf(s->url, need, "sqlite:%s/%s", dir, MEMORY_FILE);
    return 0;
}

/* remove_memory_store deletes the files SQLite made and the directory. */
static void remove_memory_store(struct tock_scheduler *s)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[4200];
    size_t i;

    if (s->tmpdir == NULL)
        return;
    for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(path, sizeof path, "%s/%s%s", s->tmpdir, MEMORY_FILE,
                 suffix[i]);
        unlink(path);
    }
    if (rmdir(s->tmpdir) != 0)
        tock_logf(s->log, TOCK_LOG_WARN, LOGC,
                  "could not remove the memory: store's directory %s: %s",
                  s->tmpdir, strerror(errno));
}

static int resolve_url(struct tock_scheduler *s, const char *url,
                       struct tock_error *err)
{
    if (url == NULL || url[0] == '\0')
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL is empty; use sqlite:PATH, memory: "
                              "or redis://host:port");
    if (strcmp(url, MEMORY_URL) == 0)
        return memory_store(s, err);
    if (strncmp(url, MEMORY_URL, strlen(MEMORY_URL)) == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "store URL '%.100s': memory: takes nothing "
                              "after the colon; use memory: alone", url);
    if ((s->url = tock_strdup(url)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    return 0;
}

/* ------------------------------------------------------------- new, free */

static int init_locks(struct tock_scheduler *s, struct tock_error *err)
{
    if (pthread_mutex_init(&s->api_mu, NULL) != 0)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory (mutex)");
    if (pthread_mutex_init(&s->reg_mu, NULL) != 0) {
        pthread_mutex_destroy(&s->api_mu);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory (mutex)");
    }
    if (pthread_mutex_init(&s->life_mu, NULL) != 0) {
        pthread_mutex_destroy(&s->reg_mu);
        pthread_mutex_destroy(&s->api_mu);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory (mutex)");
    }
    return 0;
}

static void destroy(struct tock_scheduler *s, int parts)
{
    size_t i;

    if (parts >= 3)
        tock_embed_events_destroy(s);
    if (parts >= 2)
        tock_embed_exec_destroy(s);
    if (parts >= 1) {
        pthread_mutex_destroy(&s->life_mu);
        pthread_mutex_destroy(&s->reg_mu);
        pthread_mutex_destroy(&s->api_mu);
    }
    tock_store_close(s->api_store);
    tock_embed_gate_unref(s->gate);
    remove_memory_store(s);
    for (i = 0; i < s->nfns; i++)
        tock_free(s->fns[i].name);
    tock_free(s->fns);
    tock_free(s->tmpdir);
    tock_free(s->url);
    tock_free(s);
}

int tock_scheduler_new(const char *store_url,
                       const struct tock_scheduler_config *cfg,
                       struct tock_scheduler **out, struct tock_error *err)
{
    static const struct tock_scheduler_config defaults;
    struct tock_scheduler *s;
    int rc, parts = 0;

    if (out == NULL)
        return tock_error_set(err, TOCK_EINVAL, "out is NULL");
    *out = NULL;
    cfg = cfg != NULL ? cfg : &defaults;
    if ((rc = check_config(cfg, err)) != 0)
        return rc;
    if ((s = tock_calloc(1, sizeof *s)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    apply_config(s, cfg);
    if ((rc = init_locks(s, err)) == 0 && ++parts &&
        (rc = tock_embed_exec_init(s, err)) == 0 && ++parts &&
        (rc = tock_embed_events_init(s, err)) == 0 && ++parts &&
        (rc = resolve_url(s, store_url, err)) == 0 &&
        (rc = (s->gate = tock_embed_gate_new()) != NULL
                  ? 0
                  : tock_error_set(err, TOCK_ENOMEM, "out of memory")) == 0)
        rc = tock_store_open_tuned(s->url, &s->tuning, s->log,
                                   &s->api_store, err);
    if (rc == 0)
        tock_embed_gate_install(s->gate, s->api_store, false);
    if (rc != 0) {
        destroy(s, parts);
        return rc;
    }
    tock_logf(s->log, TOCK_LOG_INFO, LOGC, "scheduler %s on %s (%zu job "
              "threads)", s->node, s->tmpdir ? "memory:" : s->url, s->threads);
    *out = s;
    return 0;
}

void tock_scheduler_free(struct tock_scheduler *s)
{
    if (s == NULL)
        return;
    if (tock_embed_in_callback(s)) {
        tock_logf(s->log, TOCK_LOG_ERROR, LOGC,
                  "tock_scheduler_free was called from inside a job function "
                  "or the listener; it would wait for itself, so it did "
                  "nothing: call it from the program's own thread");
        return;
    }
    tock_scheduler_shutdown(s, TOCK_SHUTDOWN_WAIT, NULL);
    destroy(s, 3);
}

/* ------------------------------------------------------------- registry */

int tock_scheduler_register(struct tock_scheduler *s, const char *name,
                            tock_job_fn fn, void *user_data,
                            struct tock_error *err)
{
    struct tock_embed_fn *v;
    size_t i;
    int rc;

    if (s == NULL || fn == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "register: the scheduler and the function must "
                              "not be NULL");
    if ((rc = tock_name_check(name, "function name", err)) != 0)
        return rc;
    pthread_mutex_lock(&s->reg_mu);
    for (i = 0; i < s->nfns; i++) {
        if (strcmp(s->fns[i].name, name) == 0) {
            pthread_mutex_unlock(&s->reg_mu);
            return tock_error_set(err, TOCK_EEXIST,
                                  "function %s is registered already; "
                                  "register each name once", name);
        }
    }
    if (s->nfns == s->capfns) {
        size_t cap = s->capfns ? s->capfns * 2 : 8;

        if ((v = tock_realloc(s->fns, cap * sizeof *v)) == NULL)
            goto oom;
        s->fns = v;
        s->capfns = cap;
    }
    if ((s->fns[s->nfns].name = tock_strdup(name)) == NULL)
        goto oom;
    s->fns[s->nfns].fn = fn;
    s->fns[s->nfns].data = user_data;
    s->nfns++;
    pthread_mutex_unlock(&s->reg_mu);
    return 0;
oom:
    pthread_mutex_unlock(&s->reg_mu);
    return tock_error_set(err, TOCK_ENOMEM, "out of memory");
}

bool tock_embed_lookup(struct tock_scheduler *s, const char *name,
                       tock_job_fn *fn, void **data)
{
    bool found = false;
    size_t i;

    pthread_mutex_lock(&s->reg_mu);
    for (i = 0; i < s->nfns && !found; i++) {
        if (strcmp(s->fns[i].name, name) == 0) {
            *fn = s->fns[i].fn;
            *data = s->fns[i].data;
            found = true;
        }
    }
    pthread_mutex_unlock(&s->reg_mu);
    return found;
}

bool tock_embed_in_callback(struct tock_scheduler *s)
{
    pthread_t self = pthread_self();
    bool in = false;
    size_t i;

    if (tock_embed_events_is_thread(s))
        return true;
    pthread_mutex_lock(&s->exec.mu);
    for (i = 0; !s->exec.joined && i < s->exec.n_workers && !in; i++)
        in = pthread_equal(self, s->exec.workers[i]) != 0;
    pthread_mutex_unlock(&s->exec.mu);
    return in;
}

/* ------------------------------------------------------------- running */

/* begin starts the parts: the dispatcher first (so a fire finds it
 * taking), the event thread, then the firing loop. On failure whatever
 * started is stopped again and the scheduler can only be freed. */
static int begin(struct tock_scheduler *s, uv_loop_t *uv,
                 struct tock_error *err)
{
    int rc;

    if (s->state != TOCK_EMBED_NEW)
        return tock_error_set(err, TOCK_EINVAL,
                              "scheduler %s was started already; a scheduler "
                              "runs once: free it and create a new one",
                              s->node);
    s->state = TOCK_EMBED_STOPPED;
    if ((rc = tock_embed_exec_start(s, err)) != 0)
        return rc;
    if ((rc = tock_embed_events_start(s, err)) == 0 &&
        (rc = tock_embed_fire_start(s, uv, err)) == 0) {
        s->state = TOCK_EMBED_RUNNING;
        tock_logf(s->log, TOCK_LOG_INFO, LOGC, "scheduler %s started%s",
                  s->node, uv != NULL ? " in the caller's loop" : "");
        return 0;
    }
    tock_embed_exec_stop(s, true);
    return rc;
}

int tock_scheduler_start(struct tock_scheduler *s, struct tock_error *err)
{
    int rc;

    if (s == NULL)
        return tock_error_set(err, TOCK_EINVAL, "scheduler is NULL");
    pthread_mutex_lock(&s->life_mu);
    rc = begin(s, NULL, err);
    pthread_mutex_unlock(&s->life_mu);
    return rc;
}

int tock_scheduler_attach(struct tock_scheduler *s, struct uv_loop_s *loop,
                          struct tock_error *err)
{
    int rc;

    if (s == NULL || loop == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "attach: the scheduler and the loop must not "
                              "be NULL");
    pthread_mutex_lock(&s->life_mu);
    rc = begin(s, loop, err);
    pthread_mutex_unlock(&s->life_mu);
    return rc;
}

int tock_scheduler_shutdown(struct tock_scheduler *s, enum tock_shutdown how,
                            struct tock_error *err)
{
    bool nowait = how == TOCK_SHUTDOWN_NOWAIT;

    if (s == NULL || (how != TOCK_SHUTDOWN_WAIT && !nowait))
        return tock_error_set(err, TOCK_EINVAL,
                              "shutdown: a scheduler and TOCK_SHUTDOWN_WAIT "
                              "or TOCK_SHUTDOWN_NOWAIT");
    if (!nowait && tock_embed_in_callback(s))
        return tock_error_set(err, TOCK_EBUSY,
                              "shutdown with TOCK_SHUTDOWN_WAIT from inside a "
                              "job function or the listener would wait for "
                              "itself; use TOCK_SHUTDOWN_NOWAIT there");
    pthread_mutex_lock(&s->life_mu);
    if (s->state == TOCK_EMBED_RUNNING) {
        tock_embed_fire_stop(s);
        s->state = TOCK_EMBED_STOPPED;
        tock_logf(s->log, TOCK_LOG_INFO, LOGC, "scheduler %s stopped firing",
                  s->node);
    }
    if (s->state == TOCK_EMBED_STOPPED)
        tock_embed_exec_stop(s, nowait);
    pthread_mutex_unlock(&s->life_mu);
    /* Joined outside life_mu: a job function that calls shutdown(NOWAIT)
     * while we wait for it must not block on the lock we hold. */
    if (!nowait) {
        tock_embed_exec_join(s);
        tock_embed_events_join(s);
    }
    return 0;
}

/* ---------------------------------------------------------------- stats */

void tock_scheduler_stats(struct tock_scheduler *s,
                          struct tock_scheduler_stats *out)
{
    uint64_t dropped;

    pthread_mutex_lock(&s->events.mu);
    dropped = s->events.dropped;
    pthread_mutex_unlock(&s->events.mu);
    pthread_mutex_lock(&s->exec.mu);
    *out = s->exec.stats;
    out->running = s->exec.n_running;
    pthread_mutex_unlock(&s->exec.mu);
    out->events_dropped = dropped;
}

const char *tock_scheduler_node_id(const struct tock_scheduler *s)
{
    return s->node;
}

const char *tock_sched_event_name(enum tock_sched_event_type type)
{
    switch (type) {
    case TOCK_SCHED_FIRED: return "fired";
    case TOCK_SCHED_SUCCEEDED: return "succeeded";
    case TOCK_SCHED_FAILED: return "failed";
    case TOCK_SCHED_MISSED: return "missed";
    case TOCK_SCHED_SKIPPED: return "skipped";
    }
    return "unknown";
}
