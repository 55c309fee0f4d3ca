/* test_cron_croniter.c: a differential test of tock's cron against
 * python3-croniter (Debian), an independent and widely used
 * implementation. Random expressions and start times in UTC (no DST: the
 * DST rules are tock's own and have their own tests), 20 next times each,
 * compared one by one.
 *
 * The generator sticks to constructs where croniter follows classic cron.
 * Left out, with the reason (docs/time.md, "Differences from croniter"):
 *   - W, LW and L-n: croniter does not support them;
 *   - N#K or NL in day-of-week while day-of-month is restricted: croniter
 *     applies only the day-of-week part (0 0 13 * 5#2 skips the 13th);
 *   - N#K / NL mixed with plain weekdays: croniter refuses them;
 *   - steps larger than the field's maximum: tock refuses them;
 *   - 7 for Sunday in 6-field expressions, and steps in their
 *     day-of-week (croniter expands `*`/N and N/S up to 7): croniter maps
 *     7 to 0 only with 5 fields, so with 6 a 7 never matches and "`*`/1"
 *     is not "every day".
 *   - day-of-month lists that mix days above 28 with smaller ones (also
 *     `*`/S and N/S, which run up to 31): croniter adds the distance to
 *     the 31st to the date and lands past the 1st of a short month's
 *     successor (0 0 1,31 * * from February 10 skips March 1).
 *   - days above 28 in months that lack them, with a restricted
 *     day-of-week: croniter fails ("failed to find next date") when one
 *     side of the OR rule never fires, though the other does.
 * The OR-rule and month-overshoot cases are checked below as known differences: croniter
 * must disagree with tock there, and tock must give the classic answer.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scheduler/cron.h"
#include "support.h"

extern char **environ;

#define PYTHON "/usr/bin/python3"
#define ROUNDS 1000
#define COUNT 20

static uint64_t rng = 0x1234567890abcdefULL;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int rnd_in(int lo, int hi)
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

/* ------------------------------------------------------------- generator */

static const char *const months[] = {"jan", "FEB", "Mar", "apr", "MAY", "jun",
                                     "Jul", "aug", "SEP", "oct", "Nov", "dec"};
static const char *const wdays[] = {"sun", "MON", "Tue", "wed",
                                    "THU", "fri", "Sat"};

/* value writes v, as a name now and then in the month and weekday fields. */
static void value(char *out, size_t cap, int v, int field)
{
    if (field == 3 && rnd() % 3 == 0)
        snprintf(out, cap, "%s", months[v - 1]);
    else if (field == 4 && v < 7 && rnd() % 3 == 0)
        snprintf(out, cap, "%s", wdays[v]);
    else
        snprintf(out, cap, "%d", v);
}

/* term writes one plain term (no '*' inside lists: croniter mishandles
 * '*,5'). field: 0 sec/min, 1 hour, 2 dom, 3 month, 4 dow. */
static void term(char *out, size_t cap, int lo, int hi, int field)
{
    char a[8], b[8];
    int x = rnd_in(lo, hi), y = rnd_in(x, hi), s = rnd_in(1, hi < 12 ? hi : 12);

    value(a, sizeof a, x, field);
    value(b, sizeof b, y, field);
    /* N/S runs to the field's maximum: see dom_field. */
    switch (rnd() % (field == 2 ? 4 : 5)) {
    case 0:
        snprintf(out, cap, "%s-%s", a, b);
        break;
    case 1:
        snprintf(out, cap, "%s-%s/%d", a, b, s);
        break;
    case 4:
        snprintf(out, cap, "%d/%d", x, s);
        break;
    default:
        snprintf(out, cap, "%s", a);
    }
}

static void field(char *out, size_t cap, int lo, int hi, int kind,
                  int star_pct)
{
    char t[32];
    int n = rnd_in(1, 3);

    if (rnd_in(1, 100) <= star_pct) {
        snprintf(out, cap, rnd() % 4 == 0 ? "*/%d" : "*",
                 rnd_in(1, hi < 12 ? hi : 12));
        return;
    }
    out[0] = '\0';
    while (n-- > 0) {
        term(t, sizeof t, lo, hi, kind);
        if (out[0])
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, t, cap - strlen(out) - 1);
    }
}

/* dom_field writes a day-of-month field that does not mix days above 28
 * with smaller ones (croniter overshoots into the next month then, see
 * the known differences), so no `*`/S or N/S, which run up to 31. */
static void dom_field(char *out, size_t cap)
{
    static const char *const high[] = {"29", "30", "31", "29-31", "30,31",
                                       "29-31/2"};

    if (rnd() % 8 == 0)
        snprintf(out, cap, "%s", high[rnd() % 6]);
    else if (rnd() % 3 == 0)
        snprintf(out, cap, "*");
    else
        field(out, cap, 1, 28, 2, 0);
}

/* nth_dow writes a day-of-week field of only N#K / NL items. */
static void nth_dow(char *out, size_t cap, int hi)
{
    if (rnd() % 2)
        snprintf(out, cap, "%d#%d", rnd_in(0, hi), rnd_in(1, 5));
    else
        snprintf(out, cap, "%dL,%d#%d", rnd_in(0, hi), rnd_in(0, 6),
                 rnd_in(1, 4));
}

static void gen(char *out, size_t cap)
{
    char f[6][64];
    bool secs = rnd() % 4 == 0, dom_star;
    int dow_hi = secs ? 6 : 7; /* croniter ignores 7 with 6 fields */

    field(f[0], sizeof f[0], 0, 59, 0, 40);
    field(f[1], sizeof f[1], 0, 59, 0, 30);
    field(f[2], sizeof f[2], 0, 23, 1, 30);
    dom_field(f[3], sizeof f[3]);
    field(f[4], sizeof f[4], 1, 12, 3, 50);
    /* A day-of-month side of the OR that never fires (30 in February)
     * makes croniter give up on the whole expression: keep all months. */
    if (atoi(f[3]) > 28)
        snprintf(f[4], sizeof f[4], "*");
    dom_star = strcmp(f[3], "*") == 0;
    if (dom_star && rnd() % 4 == 0)
        nth_dow(f[5], sizeof f[5], dow_hi);
    else
        field(f[5], sizeof f[5], 0, dow_hi, 4, 50);
    /* With 6 fields croniter reads `*`/N and N/S in day-of-week up to 7,
     * which it then does not map to Sunday: leave steps out there. */
    while (secs && strchr(f[5], '/') != NULL)
        field(f[5], sizeof f[5], 0, dow_hi, 4, 50);
    if (strchr(f[5], '#') == NULL && strchr(f[5], 'L') == NULL &&
        rnd() % 6 == 0)
        snprintf(f[3], sizeof f[3], rnd() % 2 ? "L" : "%d,L", rnd_in(1, 28));
    if (dom_star && strcmp(f[5], "*") != 0 && rnd() % 5 == 0)
        snprintf(f[3], sizeof f[3], "?");
    if (secs)
        snprintf(out, cap, "%s %s %s %s %s %s", f[0], f[1], f[2], f[3], f[4],
                 f[5]);
    else
        snprintf(out, cap, "%s %s %s %s %s", f[1], f[2], f[3], f[4], f[5]);
}

/* ------------------------------------------------------ running croniter */

struct item {
    char expr[160];
    int64_t start;
    bool known_diff;
    const char *tock_expect; /* known differences: tock's first 3 times */
};

static const struct item known[] = {
    {"0 0 13 * 5#2", 1767225600, true,
     "2026-01-09T00:00:00Z 2026-01-13T00:00:00Z 2026-02-13T00:00:00Z"},
    {"0 0 1,31 * *", 1770681600, true, /* 2026-02-10 */
     "2026-03-01T00:00:00Z 2026-03-31T00:00:00Z 2026-04-01T00:00:00Z"},
};

#define NKNOWN (sizeof known / sizeof known[0])

static void run_python(const char *in, const char *out)
{
    const char *script = tock_test_source_path("tests/support/croniter_next.py");
    char *argv[] = {(char *)PYTHON, (char *)script, (char *)in, (char *)out,
                    NULL};
    pid_t pid;
    int st = 0;

    if (access(PYTHON, X_OK) != 0)
        fail_msg("%s is missing; install python3 and python3-croniter "
                 "(scripts/deps.sh)",
                 PYTHON);
    assert_int_equal(posix_spawn(&pid, PYTHON, NULL, NULL, argv, environ), 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("croniter_next.py failed (is python3-croniter installed? "
                 "see scripts/deps.sh)");
}

/* tock_times lists COUNT next times; false if tock refuses the expression
 * as never firing. */
static bool tock_times(const char *expr, int64_t start, int64_t *times)
{
    struct tock_error err = {0};
    struct tock_cron *c = NULL;
    int rc = tock_cron_parse(expr, &c, &err), i;

    if (rc == TOCK_ENOTIME)
        return false;
    if (rc != 0)
        fail_msg("tock refuses '%s': %s", expr, err.msg);
    for (i = 0; i < COUNT; i++) {
        assert_tock_ok(tock_cron_next(c, NULL, i ? times[i - 1] : start,
                                      &times[i], &err),
                       &err);
    }
    tock_cron_free(c);
    return true;
}

static void show(int64_t s, char *buf)
{
    tock_time_format(s * 1000, NULL, buf, 40);
}

/* compare checks one croniter answer line against tock. */
static void compare(const struct item *it, char *line, int *compared)
{
    int64_t mine[COUNT], theirs;
    char *p = line + 3, *end, a[48], b[48], got[200] = "";
    bool differ = false;
    int i;

    if (!tock_times(it->expr, it->start, mine)) {
        if (strncmp(line, "ERR", 3) != 0)
            fail_msg("'%s': tock says it never fires, croniter: %s",
                     it->expr, line);
        return;
    }
    if (strncmp(line, "OK ", 3) != 0)
        fail_msg("'%s': croniter refuses it: %s", it->expr, line);
    for (i = 0; i < COUNT; i++, p = end) {
        theirs = strtoll(p, &end, 10);
        show(mine[i], a);
        show(theirs, b);
        if (i < 3) {
            strcat(got, i ? " " : "");
            strcat(got, a);
        }
        if (mine[i] != theirs && !it->known_diff)
            fail_msg("'%s' from %lld: occurrence %d: tock %s, croniter %s",
                     it->expr, (long long)it->start, i + 1, a, b);
        differ |= mine[i] != theirs;
    }
    if (it->known_diff && (!differ || strcmp(got, it->tock_expect) != 0))
        fail_msg("known difference '%s': croniter %s, tock gives %s",
                 it->expr, differ ? "differs" : "now agrees", got);
    (*compared)++;
}

static void test_against_croniter(void **state)
{
    static struct item items[ROUNDS + NKNOWN];
    char *dir = tock_test_tmpdir("croniter"), in[4096], out[4096];
    char line[8192];
    FILE *f;
    int i, n = 0, compared = 0;

    (void)state;
    assert_non_null(dir);
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    for (i = 0; i < ROUNDS; i++, n++) {
        gen(items[n].expr, sizeof items[n].expr);
        /* 1971..2037, sometimes on a minute. */
        items[n].start = 31536000 + (int64_t)(rnd() % 2114380800ULL);
        if (rnd() % 3 == 0)
            items[n].start -= items[n].start % 60;
    }
    for (i = 0; i < (int)NKNOWN; i++)
        items[n++] = known[i];
    f = fopen(in, "w");
    assert_non_null(f);
    for (i = 0; i < n; i++)
        fprintf(f, "%s\t%lld\t%d\n", items[i].expr, (long long)items[i].start,
                COUNT);
    fclose(f);
    run_python(in, out);
    f = fopen(out, "r");
    assert_non_null(f);
    for (i = 0; i < n && fgets(line, sizeof line, f); i++)
        compare(&items[i], line, &compared);
    fclose(f);
    assert_int_equal(i, n);
    assert_true(compared > ROUNDS * 9 / 10);
    tock_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_croniter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
