/* bench_tz.c: cost of zone loading and of each time conversion the
 * triggers call per occurrence. Prints one line per operation with the
 * median of 3 runs in ns per call:
 *
 *     build/bench/bench_tz [zone]        (default Europe/Berlin)
 *
 * "table" instants (2026) are answered from the TZif transition table,
 * "rule" instants (2100) from the POSIX footer rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "scheduler/tz.h"

#define RUNS 3

static volatile int64_t sink;

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

/* An operation under test: run it `n` times starting from instant t0. */
typedef void (*bench_fn)(const struct tock_tz *tz, int64_t t0, int n);

static void op_offset(const struct tock_tz *tz, int64_t t0, int n)
{
    for (int i = 0; i < n; i++)
        sink += tock_tz_offset(tz, t0 + (int64_t)i * 37);
}

static void op_to_local(const struct tock_tz *tz, int64_t t0, int n)
{
    struct tock_civil c;

    for (int i = 0; i < n; i++) {
        tock_tz_to_local(tz, t0 + (int64_t)i * 37, &c, NULL);
        sink += c.hour;
    }
}

static void op_from_local(const struct tock_tz *tz, int64_t t0, int n)
{
    struct tock_civil c;
    int64_t a, b;

    tock_tz_to_local(tz, t0, &c, NULL);
    for (int i = 0; i < n; i++) {
        c.hour = i % 24;
        c.day = 1 + i % 28;
        c.month = 1 + i % 12;
        sink += tock_tz_from_local(tz, &c, &a, &b) + a;
    }
}

static void op_next(const struct tock_tz *tz, int64_t t0, int n)
{
    int64_t at;
    int32_t x, y;

    for (int i = 0; i < n; i++)
        if (tock_tz_next_transition(tz, t0 + (int64_t)i * 37, &at, &x, &y))
            sink += at;
}

static void op_format(const struct tock_tz *tz, int64_t t0, int n)
{
    char buf[64];

    for (int i = 0; i < n; i++)
        sink += (int64_t)tock_time_format((t0 + i * 37) * 1000, tz, buf, sizeof buf);
}

static void op_parse(const struct tock_tz *tz, int64_t t0, int n)
{
    int64_t ms;

    (void)tz;
    (void)t0;
    for (int i = 0; i < n; i++) {
        tock_time_parse("2026-03-29T03:00:00.250+02:00", &ms, "bench", NULL);
        sink += ms;
    }
}

static double measure(bench_fn fn, const struct tock_tz *tz, int64_t t0, int n)
{
    double r[RUNS];

    for (int k = 0; k < RUNS; k++) {
        double start = now_ns();
        fn(tz, t0, n);
        r[k] = (now_ns() - start) / n;
    }
    qsort(r, RUNS, sizeof r[0], cmp_double);
    return r[RUNS / 2];
}

static double measure_load(const char *zone, int n)
{
    double r[RUNS];

    for (int k = 0; k < RUNS; k++) {
        double start = now_ns();
        for (int i = 0; i < n; i++) {
            struct tock_tz *tz;
            if (tock_tz_load(zone, &tz, NULL) == 0)
                tock_tz_free(tz);
        }
        r[k] = (now_ns() - start) / n;
    }
    qsort(r, RUNS, sizeof r[0], cmp_double);
    return r[RUNS / 2];
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        bench_fn fn;
    } ops[] = {
        {"offset", op_offset},           {"to_local", op_to_local},
        {"from_local", op_from_local},   {"next_transition", op_next},
        {"time_format", op_format},      {"time_parse", op_parse},
    };
    const char *zone = argc > 1 ? argv[1] : "Europe/Berlin";
    const int64_t t2026 = 1767225600, t2100 = 4102444800;
    struct tock_error err = {0};
    struct tock_tz *tz;

    if (tock_tz_load(zone, &tz, &err) != 0) {
        fprintf(stderr, "bench_tz: %s\n", err.msg);
        return 1;
    }
    printf("bench_tz: %-16s %9.0f ns/op (%s: name check, tzdata.zi scan, TZif read and parse)\n",
           "load", measure_load(zone, 200), zone);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        printf("bench_tz: %-16s %9.1f ns/op table (2026)  %9.1f ns/op rule (2100)\n",
               ops[i].name, measure(ops[i].fn, tz, t2026, 200000),
               measure(ops[i].fn, tz, t2100, 200000));
    }
    tock_tz_free(tz);
    return 0;
}
