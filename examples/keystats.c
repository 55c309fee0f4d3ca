/* keystats.c: keystroke statistics, the classic case for an embedded
 * scheduler (docs/library.md walks through it).
 *
 * A generator thread stands in for a keyboard hook: it produces key events
 * and counts them in memory. A registered C function, "flush", runs every
 * 5 seconds on one of libtock's job threads: it takes the counts gathered
 * since the last flush and writes them into a SQLite table of the
 * program's own (keystats.db). A second job, "summary", prints the totals
 * at the start of every minute (a cron trigger). The listener prints what
 * the scheduler does as it happens.
 *
 * The jobs live in the scheduler's store (keystats-tock.db), so they
 * survive a restart: stop the program (Ctrl-C), wait a while, start it
 * again, and the schedule continues where it was; the flushes that fell
 * while it was down are reported "missed" (misfire grace: 2 s).
 *
 *   keystats [--every DURATION] [--seconds N] [--dir DIR]
 *     --every    flush period (default 5s)
 *     --seconds  run N seconds, then stop (default: until Ctrl-C)
 *     --dir      where the two databases live (default: .)
 *
 * Build against an installed libtock:
 *   cc keystats.c $(pkg-config --cflags --libs tock sqlite3) -lpthread
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* nanosleep, rand_r under -std=c11 */
#endif
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <tock/tock.h>

#define KEYS 26

/* app: the program's own state, shared by the generator, the job
 * functions and main. */
struct app {
    pthread_mutex_t mu;
    unsigned long counts[KEYS]; /* since the last flush */
    int stop;                   /* generator: time to end */
    char data_path[4096];       /* keystats.db */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ------------------------------------------------------------ generator */

/* generator pretends to be a keyboard: about 40 keys a second, with the
 * uneven frequencies of English text. */
static void *generator(void *arg)
{
    static const char common[] = "etaoinshrdlucmfwypvbgkjqxz";
    struct app *app = arg;
    unsigned seed = (unsigned)time(NULL);
    struct timespec pause = {0, 25 * 1000000L};

    for (;;) {
        int r = rand_r(&seed) % 100;
        int k = common[r < 60 ? r % 6 : r % KEYS] - 'a';

        pthread_mutex_lock(&app->mu);
        if (app->stop) {
            pthread_mutex_unlock(&app->mu);
            return NULL;
        }
        app->counts[k]++;
        pthread_mutex_unlock(&app->mu);
        nanosleep(&pause, NULL);
    }
}

/* ------------------------------------------------------------- the table */

static int open_data(const char *path, sqlite3 **db, char *why, size_t cap)
{
    const char *schema =
        "CREATE TABLE IF NOT EXISTS keystrokes ("
        " flush TEXT NOT NULL, key TEXT NOT NULL, count INTEGER NOT NULL,"
        " PRIMARY KEY (flush, key))";

    if (sqlite3_open(path, db) != SQLITE_OK ||
        sqlite3_busy_timeout(*db, 5000) != SQLITE_OK ||
        sqlite3_exec(*db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(why, cap, "%s: %s", path, sqlite3_errmsg(*db));
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

/* write_counts stores one flush's counts under `flush_id`. The flush id
 * is the occurrence id, so a flush that runs twice (libtock runs a task
 * again if the process died while running it) writes its rows once. */
static int write_counts(sqlite3 *db, const char *flush_id,
                        const unsigned long *counts, char *why, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO keystrokes"
                                " VALUES (?1, ?2, ?3)", -1, &st, NULL);
    for (int k = 0; rc == SQLITE_OK && k < KEYS; k++) {
        char key[2] = {(char)('a' + k), '\0'};

        if (counts[k] == 0)
            continue;
        sqlite3_bind_text(st, 1, flush_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)counts[k]);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, cap, "%s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ jobs */

/* flush is the registered function of job "flush". */
static int flush(struct tock_call *call, void *data)
{
    struct app *app = data;
    unsigned long counts[KEYS], total = 0;
    char why[512];
    sqlite3 *db;
    int k;

    pthread_mutex_lock(&app->mu);
    memcpy(counts, app->counts, sizeof counts);
    memset(app->counts, 0, sizeof app->counts);
    pthread_mutex_unlock(&app->mu);
    for (k = 0; k < KEYS; k++)
        total += counts[k];
    if (open_data(app->data_path, &db, why, sizeof why) != 0 ||
        write_counts(db, tock_call_occurrence(call), counts, why,
                     sizeof why) != 0) {
        /* Put them back: the next flush writes them. */
        pthread_mutex_lock(&app->mu);
        for (k = 0; k < KEYS; k++)
            app->counts[k] += counts[k];
        pthread_mutex_unlock(&app->mu);
        sqlite3_close(db);
        return tock_call_error(call, "cannot write %lu keystrokes: %s", total,
                               why);
    }
    sqlite3_close(db);
    tock_call_print(call, "flushed %lu keystrokes", total);
    return 0;
}

/* summary is the registered function of job "summary": the totals so
 * far, most frequent first. */
static int summary(struct tock_call *call, void *data)
{
    struct app *app = data;
    sqlite3_stmt *st = NULL;
    char why[512];
    sqlite3 *db;
    int n = 0;

    if (open_data(app->data_path, &db, why, sizeof why) != 0)
        return tock_call_error(call, "%s", why);
    if (sqlite3_prepare_v2(db, "SELECT key, SUM(count) AS c FROM keystrokes"
                           " GROUP BY key ORDER BY c DESC LIMIT 5", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(why, sizeof why, "%s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return tock_call_error(call, "%s", why);
    }
    printf("summary: top keys so far:");
    while (sqlite3_step(st) == SQLITE_ROW) {
        printf(" %s=%lld", (const char *)sqlite3_column_text(st, 0),
               (long long)sqlite3_column_int64(st, 1));
        n++;
    }
    printf("%s\n", n == 0 ? " (none yet)" : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}

/* on_event is the listener: it runs on libtock's event thread. */
static void on_event(const struct tock_sched_event *e, void *data)
{
    (void)data;
    printf("event: %-9s %s", tock_sched_event_name(e->type),
           e->occurrence ? e->occurrence : e->job);
    if (e->count > 1)
        printf(" (%zu occurrences)", e->count);
    if (e->type == TOCK_SCHED_SUCCEEDED || e->type == TOCK_SCHED_FAILED)
        printf(" in %" PRId64 " ms", e->duration_ms);
    if (e->reason != NULL)
        printf(": %s", e->reason);
    printf("\n");
    fflush(stdout);
}

/* ------------------------------------------------------------------ main */

struct opts {
    const char *every;
    long seconds;
    const char *dir;
};

static int parse(int argc, char **argv, struct opts *o)
{
    o->every = "5s";
    o->seconds = 0;
    o->dir = ".";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--every") == 0 && i + 1 < argc)
            o->every = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            o->seconds = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            o->dir = argv[++i];
        else
            return -1;
    }
    return 0;
}

/* keep_jobs (re)defines the program's jobs: at the first start they are
 * added; at every later start the same definitions change nothing, so the
 * schedule goes on from where it was. */
static int keep_jobs(struct tock_scheduler *s, const char *every,
                     struct tock_error *err)
{
    char trigger[64];
    struct tock_jobdef flush_job = {
        .id = "flush", .trigger = trigger, .function = "flush",
        .misfire_grace_ms = 2000, /* later than that: recorded missed */
        .timeout_ms = 10000,
    };
    struct tock_jobdef summary_job = {
        .id = "summary", .trigger = "cron:* * * * *", .function = "summary",
    };

    snprintf(trigger, sizeof trigger, "interval:%s", every);
    if (tock_scheduler_replace_job(s, &flush_job, err) != 0 ||
        tock_scheduler_replace_job(s, &summary_job, err) != 0)
        return -1;
    return 0;
}

/* show_jobs prints the stored jobs: after a restart, their version and
 * last run show that they were kept, and a next time in the past that the
 * program was down when it fell. */
static void show_jobs(struct tock_scheduler *s)
{
    struct tock_jobinfo *jobs = NULL;
    struct timespec ts;
    int64_t now;
    size_t n = 0;

    if (tock_scheduler_list_jobs(s, &jobs, &n, NULL) != 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (size_t i = 0; i < n; i++) {
        int64_t next = jobs[i].next_fire_ms - now;

        printf("job %-8s %-16s version %" PRId64 ", last run %s, %s %" PRId64
               " ms\n", jobs[i].def.id, jobs[i].def.trigger, jobs[i].version,
               jobs[i].last_status[0] ? jobs[i].last_status : "none",
               next >= 0 ? "next in" : "overdue by", next >= 0 ? next : -next);
    }
    tock_jobinfo_list_free(jobs, n);
}

static void wait_until_done(long seconds)
{
    struct timespec tick = {0, 100 * 1000000L};
    long ticks = seconds * 10;

    while (!interrupted && (seconds <= 0 || ticks-- > 0))
        nanosleep(&tick, NULL);
}

int main(int argc, char **argv)
{
    static struct app app = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct tock_scheduler_config cfg = {.threads = 2, .listener = on_event};
    struct tock_scheduler *s = NULL;
    struct tock_error err = {0};
    char store[4200];
    struct opts o;
    pthread_t gen;

    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: keystats [--every DURATION] [--seconds N] "
                "[--dir DIR]\n");
        return 2;
    }
    snprintf(store, sizeof store, "sqlite:%s/keystats-tock.db", o.dir);
    snprintf(app.data_path, sizeof app.data_path, "%s/keystats.db", o.dir);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (tock_scheduler_new(store, &cfg, &s, &err) != 0 ||
        tock_scheduler_register(s, "flush", flush, &app, &err) != 0 ||
        tock_scheduler_register(s, "summary", summary, &app, &err) != 0 ||
        keep_jobs(s, o.every, &err) != 0) {
        fprintf(stderr, "keystats: %s\n", err.msg);
        tock_scheduler_free(s);
        return 1;
    }
    show_jobs(s);
    pthread_create(&gen, NULL, generator, &app);
    if (tock_scheduler_start(s, &err) != 0) {
        fprintf(stderr, "keystats: %s\n", err.msg);
        return 1; /* the process ends: nothing to tidy up */
    }
    printf("keystats: gathering keystrokes; flushing every %s into %s "
           "(Ctrl-C stops)\n", o.every, app.data_path);
    fflush(stdout);
    wait_until_done(o.seconds);
    /* Stop firing and wait for a flush in progress; keystrokes gathered
     * since the last flush are not written: the next run starts afresh. */
    tock_scheduler_shutdown(s, TOCK_SHUTDOWN_WAIT, NULL);
    tock_scheduler_free(s);
    pthread_mutex_lock(&app.mu);
    app.stop = 1;
    pthread_mutex_unlock(&app.mu);
    pthread_join(gen, NULL);
    printf("keystats: stopped; start it again to continue the schedule\n");
    return 0;
}
