/* bench_trigger.c: cost of computing the next occurrence. For each trigger
 * below it walks 1,000 consecutive occurrences from 2026-01-01 and prints
 * the median of 5 runs in ns per tock_trigger_next() call, plus the cost
 * of parsing the text:
 *
 *     build/bench/bench_trigger
 *
 * The cron search goes field by field with carries, so rare expressions
 * (a leap day, the fifth Monday of February) cost about as much per call
 * as dense ones: no stepping minute by minute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "scheduler/trigger.h"

#define RUNS 5
#define STEPS 1000

static volatile int64_t sink;

static const char *const triggers[] = {
    "cron:* * * * * *",
    "cron:*/15 * * * *",
    "cron:0 3 * * *",
    "cron:0 3 * * *@Europe/Berlin",
    "cron:30 2 * * *@Europe/Berlin",
    "cron:*/5 * * * *@Australia/Lord_Howe",
    "cron:0 9-17 * * MON-FRI@America/New_York",
    "cron:0 0 L * *",
    "cron:0 0 LW * *",
    "cron:0 0 * * 5L",
    "cron:0 0 * * 1#2",
    "cron:0 0 13 * FRI",
    "cron:0 0 29 2 *",
    "cron:0 0 * * 1#5",
    "interval:90s@2026-01-01T00:00:00Z",
    "calendar:every month at 09:00 from 2026-01-31@Europe/Berlin",
    "or(cron:0 9 * * 1-5@Europe/Berlin, cron:0 12 * * 0,6@Europe/Berlin)",
    "and(cron:0 0 13 * *, cron:0 0 * * FRI)",
};

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* walk returns ns per next() over STEPS occurrences, and the last one. */
static double walk(const struct tock_trigger *t, int64_t *last)
{
    struct tock_error err;
    int64_t after = 1767225600000LL, next; /* 2026-01-01T00:00:00Z */
    double t0 = now_ns();
    int i;

    for (i = 0; i < STEPS; i++) {
        if (tock_trigger_next(t, after, &next, &err) != 0) {
            fprintf(stderr, "bench_trigger: %s\n", err.msg);
            exit(1);
        }
        after = next;
    }
    *last = after;
    return (now_ns() - t0) / STEPS;
}

static double parse_ns(const char *text)
{
    struct tock_error err;
    struct tock_trigger *t;
    double t0 = now_ns();
    int i;

    for (i = 0; i < 100; i++) {
        if (tock_trigger_parse(text, &t, &err) != 0)
            exit(1);
        tock_trigger_free(t);
    }
    return (now_ns() - t0) / 100;
}

int main(void)
{
    struct tock_error err;
    struct tock_trigger *t;
    double ns[RUNS];
    char last[64];
    int64_t end = 0;
    size_t i;
    int r;

    printf("%-66s %9s %9s  %s\n", "trigger", "ns/next", "ns/parse",
           "1000th occurrence");
    for (i = 0; i < sizeof triggers / sizeof triggers[0]; i++) {
        if (tock_trigger_parse(triggers[i], &t, &err) != 0) {
            fprintf(stderr, "bench_trigger: %s\n", err.msg);
            return 1;
        }
        for (r = 0; r < RUNS; r++)
            ns[r] = walk(t, &end);
        qsort(ns, RUNS, sizeof ns[0], cmp_double);
        tock_trigger_format_time(t, end, last, sizeof last);
        printf("%-66s %9.0f %9.0f  %s\n", triggers[i], ns[RUNS / 2],
               parse_ns(triggers[i]), last);
        sink += end;
        tock_trigger_free(t);
    }
    return 0;
}
