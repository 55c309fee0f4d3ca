/* redis_skew_shim.c: a clock-skew shim for redis-server (RELIABILITY.md
 * Appendix A), test-only. LD_PRELOADed into redis-server, it adds the
 * offset in ms read from the file $SKEW_FILE to every CLOCK_REALTIME
 * reading, so a test can step Redis' TIME forwards and backwards at once
 * (write "60000" or "-60000" to the file). Raw syscalls and no malloc: safe
 * under Redis' jemalloc (libfaketime is not). CLOCK_MONOTONIC is left
 * alone: this models a wall-clock step, not a rate change.
 */
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <stdlib.h>

static long long offset_ms(void)
{
    const char *p = getenv("SKEW_FILE");
    long long v = 0;
    int neg = 0, fd;
    char b[32], *s = b;
    long n;

    if (p == NULL)
        return 0;
    fd = (int)syscall(SYS_open, p, O_RDONLY);
    if (fd < 0)
        return 0;
    n = syscall(SYS_read, fd, b, sizeof b - 1);
    syscall(SYS_close, fd);
    if (n <= 0)
        return 0;
    b[n] = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    } else if (*s == '+') {
        s++;
    }
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return neg ? -v : v;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    int r = (int)syscall(SYS_clock_gettime, id, ts);

    if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec +
                       offset_ms() * 1000000LL;
        ts->tv_sec = ns / 1000000000LL;
        ts->tv_nsec = ns % 1000000000LL;
    }
    return r;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    struct timespec ts;
    int r = clock_gettime(CLOCK_REALTIME, &ts);

    (void)tz;
    if (r == 0) { /* glibc declares tv nonnull */
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return r;
}

time_t time(time_t *t)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (t != NULL)
        *t = ts.tv_sec;
    return ts.tv_sec;
}
