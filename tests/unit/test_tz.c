/* test_tz.c: time zones, civil arithmetic, POSIX TZ rules and RFC 3339.
 *
 * Expected instants were checked by hand with `date -u -d ... +%s` and
 * `zdump -v -c 2026,2027 <zone>`; the differential tests compare many more
 * against glibc's localtime_r, run in a forked child with TZ set so the
 * test process itself never touches TZ.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "scheduler/tz.h"
#include "scheduler/tz_internal.h"
#include "scheduler/tzrule.h"
#include "support.h"

/* --------------------------------------------------------------- helpers */

static struct tock_tz *load(const char *name)
{
    struct tock_error err = {0};
    struct tock_tz *tz = NULL;

    assert_tock_ok(tock_tz_load(name, &tz, &err), &err);
    assert_non_null(tz);
    return tz;
}

static struct tock_civil civ(int y, int mo, int d, int h, int mi, int s)
{
    struct tock_civil c = {y, mo, d, h, mi, s, 0};
    return c;
}

static void assert_local(const struct tock_tz *tz, int64_t t, const char *want,
                         int32_t want_off)
{
    struct tock_civil c;
    int32_t off;
    char got[64];

    tock_tz_to_local(tz, t, &c, &off);
    snprintf(got, sizeof got, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month,
             c.day, c.hour, c.minute, c.second);
    assert_string_equal(got, want);
    assert_int_equal(off, want_off);
    assert_int_equal(tock_tz_offset(tz, t), want_off);
}

static void assert_from_local(const struct tock_tz *tz, struct tock_civil c,
                              enum tock_tz_local_kind kind, int64_t first,
                              int64_t second)
{
    int64_t a = -1, b = -1;

    assert_int_equal(tock_tz_from_local(tz, &c, &a, &b), kind);
    assert_int_equal(a, first);
    assert_int_equal(b, second);
}

static void assert_next(const struct tock_tz *tz, int64_t after, int64_t at,
                        int32_t before, int32_t after_off)
{
    int64_t got_at;
    int32_t b, a;

    assert_true(tock_tz_next_transition(tz, after, &got_at, &b, &a));
    assert_int_equal(got_at, at);
    assert_int_equal(b, before);
    assert_int_equal(a, after_off);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int64_t rng_range(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next(s) % (uint64_t)(hi - lo));
}

/* ------------------------------------------------------- civil arithmetic */

static void test_civil_days(void **state)
{
    struct tock_civil c;

    (void)state;
    assert_int_equal(tock_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(tock_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(tock_days_from_civil(2026, 3, 29), 20541);
    assert_int_equal(tock_days_from_civil(9999, 12, 31), 2932896);
    assert_int_equal(tock_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(tock_days_from_civil(0, 3, 1), -719468);
    tock_civil_from_days(20541, &c);
    assert_int_equal(c.year, 2026);
    assert_int_equal(c.month, 3);
    assert_int_equal(c.day, 29);
    assert_int_equal(c.wday, 0); /* a Sunday */
    tock_civil_from_days(-1, &c);
    assert_int_equal(c.year, 1969);
    assert_int_equal(c.wday, 3);
    /* Round trip across 8000 years, with weekdays advancing by one. */
    for (int64_t d = -1000000, prev_wday = -1; d < 2000000; d += 37) {
        tock_civil_from_days(d, &c);
        assert_int_equal(tock_days_from_civil(c.year, c.month, c.day), d);
        assert_true(c.day >= 1 && c.day <= tock_days_in_month(c.year, c.month));
        if (prev_wday >= 0)
            assert_int_equal(c.wday, (prev_wday + 37) % 7);
        prev_wday = c.wday;
    }
    /* Clamped, not overflowed. */
    tock_civil_from_days(INT64_MAX, &c);
    assert_true(c.year > 500000);
    tock_civil_from_days(INT64_MIN, &c);
    assert_true(c.year < -500000);
}

static void test_days_in_month(void **state)
{
    struct tock_civil c = civ(2026, 3, 29, 1, 0, 0);

    (void)state;
    assert_int_equal(tock_days_in_month(2024, 2), 29);
    assert_int_equal(tock_days_in_month(2026, 2), 28);
    assert_int_equal(tock_days_in_month(2000, 2), 29);
    assert_int_equal(tock_days_in_month(2100, 2), 28);
    assert_int_equal(tock_days_in_month(2026, 4), 30);
    assert_int_equal(tock_days_in_month(2026, 12), 31);
    assert_int_equal(tock_days_in_month(2026, 0), 0);
    assert_int_equal(tock_days_in_month(2026, 13), 0);
    assert_int_equal(tock_civil_to_utc(&c), 1774746000);
}

/* ------------------------------------------------------------- zone names */

static void test_names(void **state)
{
    static const struct {
        const char *name, *canon;
    } cases[] = {
        {"Europe/Berlin", "Europe/Berlin"},
        {"US/Eastern", "America/New_York"},
        {"Australia/LHI", "Australia/Lord_Howe"},
        {"UTC", "UTC"},
        {"Etc/UTC", "Etc/UTC"},
        {"Zulu", "Etc/UTC"},
        {"GMT", "Etc/GMT"},
        {"Etc/GMT+3", "Etc/GMT+3"},
        {"America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"},
        {"America/Port-au-Prince", "America/Port-au-Prince"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tock_tz *tz = load(cases[i].name);
        assert_string_equal(tock_tz_name(tz), cases[i].canon);
        tock_tz_free(tz);
    }
    tock_tz_free(NULL);
}

static void test_bad_names(void **state)
{
    static const struct {
        const char *name;
        int code;
        const char *msg;
    } cases[] = {
        {"Mars/Olympus", TOCK_ENOENT,
         "time zone 'Mars/Olympus' is unknown; use an IANA name such as "
         "Europe/Berlin"},
        {"europe/berlin", TOCK_ENOENT,
         "time zone 'europe/berlin' is unknown; did you mean 'Europe/Berlin'?"},
        {"us/eastern", TOCK_ENOENT, "did you mean 'US/Eastern'?"},
        {"utc", TOCK_ENOENT, "did you mean 'UTC'?"},
        {"", TOCK_EINVAL, "time zone name is empty"},
        {"UTC+3", TOCK_EINVAL, "'UTC+3' is a POSIX TZ string"},
        {"EST5", TOCK_EINVAL, "POSIX TZ string"},
        {"CET-1CEST,M3.5.0,M10.5.0/3", TOCK_EINVAL, "POSIX TZ string"},
        {"<+03>-3", TOCK_EINVAL, "POSIX TZ string"},
        {"Local", TOCK_EINVAL, "is not a zone: tock never uses the host's zone"},
        {"localtime", TOCK_EINVAL, "is not a zone"},
        {"../../etc/passwd", TOCK_EINVAL, "must not contain '..'"},
        {"Europe/../../../etc/passwd", TOCK_EINVAL, "must not contain '..'"},
        {"/etc/passwd", TOCK_EINVAL, "is a file path"},
        {"/usr/share/zoneinfo/UTC", TOCK_EINVAL, "is a file path"},
        {"Europe/Berlin ", TOCK_EINVAL, "contains ' ' (0x20)"},
        {"Europe/Ber\nlin", TOCK_EINVAL, "contains '?' (0x0a)"},
        {"./UTC", TOCK_EINVAL, "contains '.'"},
        {"Europe\\Berlin", TOCK_EINVAL, "contains '\\'"},
        {"Europe/Berlin\xc3\xa9", TOCK_EINVAL, "(0xc3)"},
        {"Europe//Berlin", TOCK_EINVAL, "empty path component"},
        {"Europe/", TOCK_EINVAL, "empty path component"},
        {"Europe", TOCK_ENOENT, "is unknown"},
        {"posixrules", TOCK_ENOENT, "is unknown"},
        {"right/UTC", TOCK_ENOENT, "is unknown"},
        {"tzdata.zi", TOCK_EINVAL, "contains '.'"},
    };
    char longname[300];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tock_error err = {0};
        struct tock_tz *tz = (struct tock_tz *)&err; /* must be reset */
        int rc = tock_tz_load(cases[i].name, &tz, &err);

        if (rc != cases[i].code || strstr(err.msg, cases[i].msg) == NULL)
            fail_msg("'%s': got %s '%s', want %s '%s'", cases[i].name,
                     tock_err_name(rc), err.msg, tock_err_name(cases[i].code),
                     cases[i].msg);
        assert_null(tz);
    }
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    {
        struct tock_error err = {0};
        struct tock_tz *tz;
        assert_int_equal(tock_tz_load(longname, &tz, &err), TOCK_EINVAL);
        assert_non_null(strstr(err.msg, "at most 255"));
        assert_int_equal(tock_tz_load(NULL, &tz, &err), TOCK_EINVAL);
    }
}

/* Every name tzdata.zi lists loads, and aliases resolve to Zone names. */
static void test_every_zone_loads(void **state)
{
    FILE *f = fopen(TOCK_TZ_DIR "/tzdata.zi", "r");
    char line[512], a[256], b[256];
    int loaded = 0;

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        struct tock_error err = {0};
        struct tock_tz *tz = NULL;
        const char *name = NULL, *canon = NULL;

        if (sscanf(line, "Z %255s", a) == 1)
            name = canon = a;
        else if (sscanf(line, "L %255s %255s", a, b) == 2)
            name = b, canon = a;
        if (name == NULL)
            continue;
        if (tock_tz_load(name, &tz, &err) != 0)
            fail_msg("%s: %s", name, err.msg);
        if (strcmp(name, "UTC") != 0)
            assert_string_equal(tock_tz_name(tz), canon);
        tock_tz_free(tz);
        loaded++;
    }
    fclose(f);
    assert_true(loaded > 400);
}

/* A private tzdata directory: what load_from does with missing files,
 * symlinks, corrupt files and a hostile index. */
static void write_file(const char *dir, const char *name, const void *data,
                       size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(TOCK_TZ_FILE_MAX);

    assert_non_null(f);
    assert_non_null(buf);
    *len = fread(buf, 1, TOCK_TZ_FILE_MAX, f);
    fclose(f);
    return buf;
}

static void expect_load_from(const char *dir, const char *name, int code,
                             const char *msg)
{
    struct tock_error err = {0};
    struct tock_tz *tz = NULL;
    int rc = tock_tz_load_from(dir, name, &tz, &err);

    if (rc != code || (msg && strstr(err.msg, msg) == NULL))
        fail_msg("'%s': got %s '%s', want %s '%s'", name, tock_err_name(rc),
                 err.msg, tock_err_name(code), msg ? msg : "");
    tock_tz_free(tz);
}

static void test_load_from_dir(void **state)
{
    static const char index[] =
        "# version test\n"
        "R X 2000 o - Mar 1 0 1 S\n"
        "Z Test/Zone 1 - +01\n"
        "Z Test/Bad 1 - +01\n"
        "Z Test/Missing 1 - +01\n"
        "Z Test/Link 1 - +01\n"
        "L Test/Zone Test/Alias\n"
        "L ../../etc/passwd Test/Evil\n"
        "Zone-looking line without a space\n"
        "L\n";
    char *dir = tock_test_tmpdir("tz");
    char path[512], sub[512];
    size_t len;
    char *berlin = slurp(TOCK_TZ_DIR "/Europe/Berlin", &len);
    struct tock_error err = {0};
    struct tock_tz *tz;

    (void)state;
    assert_non_null(dir);
    snprintf(sub, sizeof sub, "%s/Test", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(dir, "tzdata.zi", index, sizeof index - 1);
    write_file(dir, "Test/Zone", berlin, len);
    write_file(dir, "Test/Bad", berlin, 100);
    snprintf(path, sizeof path, "%s/Zone", sub);
    snprintf(sub, sizeof sub, "%s/Test/Link", dir);
    assert_int_equal(symlink(path, sub), 0);

    assert_tock_ok(tock_tz_load_from(dir, "Test/Alias", &tz, &err), &err);
    assert_string_equal(tock_tz_name(tz), "Test/Zone");
    assert_int_equal(tock_tz_offset(tz, 1780308000), 7200);
    tock_tz_free(tz);
    expect_load_from(dir, "Test/Bad", TOCK_EFORMAT, "/Test/Bad is corrupt");
    expect_load_from(dir, "Test/Missing", TOCK_ENOENT, "/Test/Missing");
    expect_load_from(dir, "Test/Link", TOCK_EIO, "/Test/Link");
    expect_load_from(dir, "Test/Evil", TOCK_EFORMAT, "not a valid zone name");
    expect_load_from(dir, "Europe/Berlin", TOCK_ENOENT, "is unknown");
    expect_load_from(dir, "UTC", 0, NULL);
    /* Without tzdata only UTC works, and the error says why. */
    expect_load_from("/nonexistent/zoneinfo", "UTC", 0, NULL);
    expect_load_from("/nonexistent/zoneinfo", "Europe/Berlin", TOCK_ENOENT,
                     "install the tzdata package");
    expect_load_from("/nonexistent/zoneinfo", "UTC+3", TOCK_EINVAL,
                     "POSIX TZ string");
    snprintf(path, sizeof path, "%s/tzdata.zi", dir);
    assert_int_equal(unlink(path), 0);
    expect_load_from(dir, "Test/Zone", TOCK_ENOENT, "tzdata.zi");
    free(berlin);
    tock_test_rmtree(dir);
}

/* ------------------------------------------------------------ TZif parser */

/* tzif_v1 builds a version 1 file: +1h until t0, then +2h. */
static size_t tzif_v1(uint8_t *buf, int32_t t0)
{
    static const uint8_t hdr[44] = {'T', 'Z', 'i', 'f', 0, [35] = 1, [39] = 2,
                                    [43] = 8};
    uint8_t *p = buf;

    memcpy(p, hdr, sizeof hdr);
    p += sizeof hdr;
    *p++ = (uint8_t)(t0 >> 24), *p++ = (uint8_t)(t0 >> 16);
    *p++ = (uint8_t)(t0 >> 8), *p++ = (uint8_t)t0;
    *p++ = 1;                                      /* transition -> type 1 */
    memcpy(p, "\0\0\x0e\x10\0\0" "\0\0\x1c\x20\1\4", 12); /* +3600, +7200 */
    p += 12;
    memcpy(p, "AAA\0BBB\0", 8);
    return (size_t)(p + 8 - buf);
}

static void test_tzif_v1_and_rule_only(void **state)
{
    uint8_t buf[128];
    size_t len = tzif_v1(buf, 1000000);
    struct tock_error err = {0};
    struct tock_tz *tz;
    size_t flen;
    char *utc;

    (void)state;
    assert_tock_ok(tock_tz__from_tzif("T/V1", "mem", buf, len, &tz, &err), &err);
    assert_int_equal(tock_tz_offset(tz, 999999), 3600);
    assert_int_equal(tock_tz_offset(tz, 1000000), 7200);
    assert_int_equal(tock_tz_offset(tz, INT64_MAX), 7200);
    assert_next(tz, 0, 1000000, 3600, 7200);
    assert_false(tock_tz_next_transition(tz, 1000000, &(int64_t){0},
                                         &(int32_t){0}, &(int32_t){0}));
    tock_tz_free(tz);
    buf[len++] = 0; /* v1 has no footer: trailing bytes are corruption */
    assert_int_equal(tock_tz__from_tzif("T/V1", "mem", buf, len, &tz, &err),
                     TOCK_EFORMAT);
    assert_non_null(strstr(err.msg, "trailing bytes"));

    /* Etc/UTC's v2 data has no transitions: the footer governs. Swap its
     * footer "\nUTC0\n" for a rule with DST and it applies everywhere (no
     * last transition exists for the rule to disagree with). */
    utc = slurp(TOCK_TZ_DIR "/Etc/UTC", &flen);
    assert_true(flen > 50);
    assert_memory_equal(utc + flen - 6, "\nUTC0\n", 6);
    {
        static const char footer[] = "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
        size_t base = flen - 6, vlen = base + sizeof footer - 1;
        uint8_t *v = malloc(vlen);

        assert_non_null(v);
        memcpy(v, utc, base);
        memcpy(v + base, footer, sizeof footer - 1);
        assert_tock_ok(tock_tz__from_tzif("T/Rule", "mem", v, vlen, &tz, &err), &err);
        assert_int_equal(tock_tz_offset(tz, 1780308000), 7200);
        assert_int_equal(tock_tz_offset(tz, -1009843200), 3600); /* 1938 */
        assert_next(tz, 1767225600, 1774746000, 3600, 7200);
        tock_tz_free(tz);
        free(v);
    }
    free(utc);
}

static size_t count_at(const uint8_t *p, size_t off)
{
    return (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 |
           (size_t)p[off + 2] << 8 | p[off + 3];
}

static void expect_corrupt(const uint8_t *buf, size_t len, const char *why)
{
    struct tock_error err = {0};
    struct tock_tz *tz = NULL;
    int rc = tock_tz__from_tzif("X", "/zoneinfo/X", buf, len, &tz, &err);

    if (rc != TOCK_EFORMAT || strstr(err.msg, why) == NULL)
        fail_msg("want EFORMAT '%s', got %s '%s'", why, tock_err_name(rc), err.msg);
    assert_non_null(strstr(err.msg, "time zone file /zoneinfo/X is corrupt"));
    assert_null(tz);
}

static void test_tzif_corrupt(void **state)
{
    size_t len;
    uint8_t *orig = (uint8_t *)slurp(TOCK_TZ_DIR "/Europe/Berlin", &len);
    uint8_t *b = malloc(len + 16);
    uint8_t v1[128];
    size_t v1len = tzif_v1(v1, 1000000);
    size_t hdr2;

    (void)state;
    /* Every truncation is refused cleanly. */
    for (size_t n = 0; n < len; n++) {
        struct tock_tz *tz = NULL;
        assert_int_equal(tock_tz__from_tzif("X", "x", orig, n, &tz, NULL),
                         TOCK_EFORMAT);
    }
    expect_corrupt(orig, 10, "not a TZif file");
    memcpy(b, orig, len);
    b[4] = '5';
    expect_corrupt(b, len, "unsupported TZif version");
    /* timecnt = 0xffffffff: refused before any allocation. */
    memcpy(b, orig, len);
    memset(b + 32, 0xff, 4);
    expect_corrupt(b, len, "counts exceed the file size");
    memcpy(b, orig, len);
    memset(b + 36, 0, 4);
    expect_corrupt(b, len, "bad time type");
    memcpy(b, orig, len);
    b[31] = 1; /* leapcnt 1 */
    expect_corrupt(b, len, "leap seconds");
    /* The same in the v2 header, after the 32-bit block. */
    hdr2 = 44 + count_at(orig, 32) * 5 + count_at(orig, 36) * 6 +
           count_at(orig, 40) + count_at(orig, 20) + count_at(orig, 24);
    memcpy(b, orig, len);
    assert_memory_equal(b + hdr2, "TZif", 4);
    memset(b + hdr2 + 32, 0x7f, 4);
    expect_corrupt(b, len, "counts exceed the file size");
    memcpy(b, orig, len);
    b[hdr2] = 'X';
    expect_corrupt(b, len, "missing version 2+ header");
    /* Footer damage. */
    memcpy(b, orig, len);
    b[len - 1] = 'x';
    expect_corrupt(b, len, "unterminated footer");
    memcpy(b, orig, len);
    b[len] = 'x';
    expect_corrupt(b, len + 1, "trailing bytes after the footer");
    memcpy(b, orig, len);
    memcpy(b + len - 4, "/9\n", 3); /* ".../3\n" -> "...//9\n" */
    expect_corrupt(b, len - 1, "TZ rule");
    /* A footer that disagrees with the table: CET-1 -> CET-3. */
    memcpy(b, orig, len);
    {
        uint8_t *cet = memmem(b + hdr2, len - hdr2, "\nCET-1CEST", 10);
        assert_non_null(cet);
        cet[5] = '3';
        expect_corrupt(b, len, "disagrees with the last transition");
    }
    /* Hand-built v1 file: bad type index, offsets, order. */
    memcpy(b, v1, v1len);
    b[48] = 2;
    expect_corrupt(b, v1len, "transition type index out of range");
    memcpy(b, v1, v1len);
    b[49] = 0x7f;
    expect_corrupt(b, v1len, "UTC offset out of range");
    memcpy(b, v1, v1len);
    b[53] = 2;
    expect_corrupt(b, v1len, "bad DST flag");
    memcpy(b, v1, v1len);
    b[54] = 9;
    expect_corrupt(b, v1len, "designation index");
    free(b);
    free(orig);
}

/* ------------------------------------------------------- real zones, DST */

static void test_berlin(void **state)
{
    struct tock_tz *tz = load("Europe/Berlin");

    (void)state;
    /* 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z. */
    assert_local(tz, 1774745999, "2026-03-29 01:59:59", 3600);
    assert_local(tz, 1774746000, "2026-03-29 03:00:00", 7200);
    assert_from_local(tz, civ(2026, 3, 29, 2, 30, 0), TOCK_LOCAL_GAP,
                      1774746000, 1774746000);
    assert_from_local(tz, civ(2026, 3, 29, 2, 0, 0), TOCK_LOCAL_GAP,
                      1774746000, 1774746000);
    assert_from_local(tz, civ(2026, 3, 29, 1, 59, 59), TOCK_LOCAL_UNIQUE,
                      1774745999, 1774745999);
    assert_from_local(tz, civ(2026, 3, 29, 3, 0, 0), TOCK_LOCAL_UNIQUE,
                      1774746000, 1774746000);
    /* 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z; 02:30 twice. */
    assert_local(tz, 1792888200, "2026-10-25 02:30:00", 7200);
    assert_local(tz, 1792891800, "2026-10-25 02:30:00", 3600);
    assert_from_local(tz, civ(2026, 10, 25, 2, 30, 0), TOCK_LOCAL_FOLD,
                      1792888200, 1792891800);
    assert_from_local(tz, civ(2026, 10, 25, 2, 0, 0), TOCK_LOCAL_FOLD,
                      1792886400, 1792890000);
    assert_from_local(tz, civ(2026, 10, 25, 3, 0, 0), TOCK_LOCAL_UNIQUE,
                      1792893600, 1792893600);
    assert_from_local(tz, civ(2026, 6, 1, 12, 0, 0), TOCK_LOCAL_UNIQUE,
                      1780308000, 1780308000);
    assert_next(tz, 1767225600, 1774746000, 3600, 7200);
    assert_next(tz, 1774746000, 1792890000, 7200, 3600);
    assert_next(tz, 1774745999, 1774746000, 3600, 7200);
    tock_tz_free(tz);
}

static void test_new_york(void **state)
{
    struct tock_tz *tz = load("US/Eastern");
    struct tock_civil c;

    (void)state;
    /* 2026-03-08 02:00 EST -> 03:00 EDT at 07:00Z. */
    assert_from_local(tz, civ(2026, 3, 8, 2, 30, 0), TOCK_LOCAL_GAP,
                      1772953200, 1772953200);
    assert_local(tz, 1772953200, "2026-03-08 03:00:00", -14400);
    /* 2026-11-01 02:00 EDT -> 01:00 EST at 06:00Z. */
    assert_from_local(tz, civ(2026, 11, 1, 1, 30, 0), TOCK_LOCAL_FOLD,
                      1793511000, 1793514600);
    assert_local(tz, 1793511000, "2026-11-01 01:30:00", -14400);
    assert_local(tz, 1793514600, "2026-11-01 01:30:00", -18000);
    assert_next(tz, 1772953200, 1793512800, -14400, -18000);
    tock_tz_to_local(tz, 1793514600, &c, NULL);
    assert_int_equal(c.wday, 0);
    tock_tz_free(tz);
}

static void test_lord_howe(void **state)
{
    struct tock_tz *tz = load("Australia/Lord_Howe");

    (void)state;
    /* zdump: 2026-04-04 15:00Z +11 -> +10:30 (02:00 -> 01:30 local). */
    assert_next(tz, 1767225600, 1775314800, 39600, 37800);
    assert_local(tz, 1775314799, "2026-04-05 01:59:59", 39600);
    assert_local(tz, 1775314800, "2026-04-05 01:30:00", 37800);
    assert_from_local(tz, civ(2026, 4, 5, 1, 45, 0), TOCK_LOCAL_FOLD,
                      1775313900, 1775315700);
    assert_from_local(tz, civ(2026, 4, 5, 2, 0, 0), TOCK_LOCAL_UNIQUE,
                      1775316600, 1775316600);
    /* zdump: 2026-10-03 15:30Z +10:30 -> +11 (02:00 -> 02:30 local). */
    assert_next(tz, 1775314800, 1791041400, 37800, 39600);
    assert_from_local(tz, civ(2026, 10, 4, 2, 15, 0), TOCK_LOCAL_GAP,
                      1791041400, 1791041400);
    assert_from_local(tz, civ(2026, 10, 4, 2, 30, 0), TOCK_LOCAL_UNIQUE,
                      1791041400, 1791041400);
    tock_tz_free(tz);
}

static void test_southern(void **state)
{
    struct tock_tz *tz = load("Australia/Sydney");
    int64_t at;
    int32_t b, a;

    (void)state;
    /* DST ends in April, starts in October; January is summer. */
    assert_int_equal(tock_tz_offset(tz, 1767225600), 39600);
    assert_int_equal(tock_tz_offset(tz, 1780308000), 36000);
    assert_from_local(tz, civ(2026, 4, 5, 2, 30, 0), TOCK_LOCAL_FOLD,
                      1775316600, 1775320200);
    assert_from_local(tz, civ(2026, 10, 4, 2, 30, 0), TOCK_LOCAL_GAP,
                      1791043200, 1791043200);
    tock_tz_free(tz);
    /* Sao Paulo dropped DST in 2019: no transition after that. */
    tz = load("America/Sao_Paulo");
    assert_int_equal(tock_tz_offset(tz, 1780308000), -10800);
    assert_false(tock_tz_next_transition(tz, 1577836800, &at, &b, &a));
    assert_true(tock_tz_next_transition(tz, 1262304000, &at, &b, &a));
    tock_tz_free(tz);
}

static void test_moscow_history(void **state)
{
    struct tock_tz *tz = load("Europe/Moscow");
    int64_t at;
    int32_t b, a;

    (void)state;
    /* 2011-03-27: to permanent +4; 2014-10-26: back to +3, no DST since. */
    assert_next(tz, 1293840000, 1301180400, 10800, 14400);
    assert_next(tz, 1301180400, 1414274400, 14400, 10800);
    assert_false(tock_tz_next_transition(tz, 1414274400, &at, &b, &a));
    assert_int_equal(tock_tz_offset(tz, 1340000000), 14400);
    assert_from_local(tz, civ(2014, 10, 26, 1, 30, 0), TOCK_LOCAL_FOLD,
                      1414272600, 1414276200);
    assert_from_local(tz, civ(2011, 3, 27, 2, 30, 0), TOCK_LOCAL_GAP,
                      1301180400, 1301180400);
    tock_tz_free(tz);
}

static void test_far_future(void **state)
{
    struct tock_tz *tz = load("Europe/Berlin");
    struct tock_tz *ny = load("America/New_York");
    struct tock_tz *utc = load("UTC");
    int64_t at;
    int32_t b, a;

    (void)state;
    /* Beyond the table: the footer rule (zdump agrees). */
    assert_next(tz, 4102444800, 4109878800, 3600, 7200);
    assert_next(tz, 4109878800, 4128627600, 7200, 3600);
    assert_next(ny, 4102444800, 4108690800, -18000, -14400);
    assert_next(ny, 4108690800, 4129250400, -14400, -18000);
    assert_from_local(tz, civ(2100, 3, 28, 2, 30, 0), TOCK_LOCAL_GAP,
                      4109878800, 4109878800);
    assert_local(tz, 253386403200, "9999-07-01 02:00:00", 7200);
    assert_local(tz, 253402300799, "10000-01-01 00:59:59", 3600);
    assert_next(tz, 253370764800, 253378198800, 3600, 7200);
    assert_next(tz, 253378198800, 253396947600, 7200, 3600);
    assert_from_local(tz, civ(9999, 10, 31, 2, 30, 0), TOCK_LOCAL_FOLD,
                      253396947600 - 1800, 253396947600 + 1800);
    /* Clamped, not overflowed, at the int64 ends. */
    assert_int_equal(tock_tz_offset(tz, INT64_MAX),
                     tock_tz_offset(tz, TOCK_TZ_T_LIMIT));
    assert_local(utc, INT64_MIN, "-555505-10-25 14:19:44", 0);
    assert_local(utc, INT64_MAX, "559444-03-08 09:40:16", 0);
    assert_false(tock_tz_next_transition(tz, INT64_MAX, &at, &b, &a));
    assert_false(tock_tz_next_transition(utc, 0, &at, &b, &a));
    assert_true(tock_tz_next_transition(tz, INT64_MIN, &at, &b, &a));
    tock_tz_free(tz);
    tock_tz_free(ny);
    tock_tz_free(utc);
}

/* ------------------------------------------------------------- POSIX rules */

static struct tock_tzrule rule(const char *text)
{
    struct tock_error err = {0};
    struct tock_tzrule r;

    assert_tock_ok(tock_tzrule_parse(text, strlen(text), &r, &err), &err);
    return r;
}

static void test_rules(void **state)
{
    struct tock_tzrule r;
    int64_t at;
    int32_t b, a;

    (void)state;
    r = rule("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    assert_int_equal(r.std_off, 37800);
    assert_int_equal(r.dst_off, 39600);
    assert_int_equal(r.start.month, 10);
    /* RFC 8536's DST-all-year example: no transition ever, always -4h,
     * including the instants around each new year. (glibc disagrees for
     * five hours every new year; tzcode and the RFC agree with this.) */
    r = rule("EST5EDT,0/0,J365/25");
    assert_int_equal(tock_tzrule_offset(&r, 1767225600), -14400);
    assert_int_equal(tock_tzrule_offset(&r, 1767243600), -14400);
    assert_int_equal(tock_tzrule_offset(&r, 1780308000), -14400);
    assert_false(tock_tzrule_next(&r, 1767225600, &at, &b, &a));
    /* Default DST offset (std + 1h) and default US dates. */
    r = rule("EST5EDT");
    assert_int_equal(r.dst_off, -14400);
    assert_true(tock_tzrule_next(&r, 1767225600, &at, &b, &a));
    assert_int_equal(at, 1772953200);
    /* Jn never counts February 29, n does. */
    r = rule("XXX3YYY,J60/0,J61/0");
    assert_true(tock_tzrule_next(&r, 1704067200, &at, &b, &a)); /* 2024 */
    assert_int_equal(at, tock_days_from_civil(2024, 3, 1) * 86400 + 10800);
    r = rule("XXX3YYY,60/0,61/0");
    assert_true(tock_tzrule_next(&r, 1704067200, &at, &b, &a));
    assert_int_equal(at, tock_days_from_civil(2024, 3, 1) * 86400 + 10800);
    assert_true(tock_tzrule_next(&r, 1735689600, &at, &b, &a)); /* 2025 */
    assert_int_equal(at, tock_days_from_civil(2025, 3, 2) * 86400 + 10800);
    /* Negative and > 24h times (America/Nuuk, Asia/Jerusalem): checked
     * against zdump. */
    r = rule("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    assert_true(tock_tzrule_next(&r, 1767225600, &at, &b, &a));
    assert_int_equal(at, 1774746000);
    r = rule("IST-2IDT,M3.4.4/26,M10.5.0");
    assert_true(tock_tzrule_next(&r, 1767225600, &at, &b, &a));
    assert_int_equal(at, 1774569600);
    r = rule("XXX3YYY,M3.5.0/-167,M10.5.0/167");
    assert_int_equal(r.start.time, -167 * 3600);
    r = rule("<-03>3");
    assert_false(r.has_dst);
    assert_int_equal(tock_tzrule_offset(&r, 0), -10800);
}

static void test_bad_rules(void **state)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"", "at least 3 letters"},
        {"AB-1", "at least 3 letters"},
        {"CET", "expected hours"},
        {"<+1", "unterminated"},
        {"<+1>1", "at least 3 characters"},
        {"CET25", "hours out of range"},
        {"CET-1:60", "minutes must be 00..59"},
        {"CET-1:00:99", "seconds must be 00..59"},
        {"CET-1CEST,M13.5.0,M10.5.0", "month must be 1..12"},
        {"CET-1CEST,M3.6.0,M10.5.0", "week must be 1..5"},
        {"CET-1CEST,M3.5.7,M10.5.0", "weekday must be 0..6"},
        {"CET-1CEST,M3.5,M10.5.0", "weekday must be 0..6"},
        {"CET-1CEST,J0,J300", "Julian day must be 1..365"},
        {"CET-1CEST,J366,J300", "Julian day must be 1..365"},
        {"CET-1CEST,366,300", "expected a date"},
        {"CET-1CEST,M3.5.0/168,M10.5.0", "hours out of range"},
        {"CET-1CEST,M3.5.0", "expected ','"},
        {"CET-1CEST;M3.5.0,M10.5.0", "expected hours"},
        {"CET-1CEST,M3.5.0,M10.5.0x", "unexpected characters"},
        {"CET-1 ", "at least 3 letters"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tock_error err = {0};
        struct tock_tzrule r;
        int rc = tock_tzrule_parse(cases[i].text, strlen(cases[i].text), &r, &err);
        if (rc != TOCK_EFORMAT || strstr(err.msg, cases[i].why) == NULL)
            fail_msg("'%s': got %s '%s', want '%s'", cases[i].text,
                     tock_err_name(rc), err.msg, cases[i].why);
    }
}

/* --------------------------------------------------- differential (glibc) */

struct glibc_tm {
    int64_t gmtoff;
    int year, month, day, hour, minute, second, wday;
};

/* glibc_localtime runs localtime_r over ts[0..n) with TZ=tzspec in a
 * forked child, so this process never changes its own TZ. */
static void glibc_localtime(const char *tzspec, const int64_t *ts, size_t n,
                            struct glibc_tm *out)
{
    int fds[2], status;
    size_t want = n * sizeof *out, got = 0;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        setenv("TZ", tzspec, 1);
        tzset();
        for (size_t i = 0; i < n; i++) {
            time_t t = (time_t)ts[i];
            struct tm tm;
            struct glibc_tm g = {0};
            if (localtime_r(&t, &tm) != NULL)
                g = (struct glibc_tm){tm.tm_gmtoff, tm.tm_year + 1900,
                                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                      tm.tm_min, tm.tm_sec, tm.tm_wday};
            if (write(fds[1], &g, sizeof g) != (ssize_t)sizeof g)
                _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    while (got < want) {
        ssize_t r = read(fds[0], (char *)out + got, want - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(got, want);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

#define DIFF_MAX 4096

#define T1900 (-2208988800LL)
#define T2200 7258118400LL

/* diff_instants fills ts with random instants in [from, T2200) plus both
 * sides of every transition tock sees there; returns the count. */
static size_t diff_instants(const struct tock_tz *tz, uint64_t *seed, int64_t from,
                            int64_t *ts)
{
    size_t n = 0;
    int64_t t = from, at;
    int32_t b, a;

    while (n + 2 < DIFF_MAX / 2 && tock_tz_next_transition(tz, t, &at, &b, &a) &&
           at < T2200) {
        ts[n++] = at - 1;
        ts[n++] = at;
        t = at;
    }
    while (n < DIFF_MAX)
        ts[n++] = rng_range(seed, from, T2200);
    return n;
}

static void compare_glibc(const struct tock_tz *tz, const int64_t *ts, size_t n,
                          const struct glibc_tm *g, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        struct tock_civil c;
        int32_t off;

        tock_tz_to_local(tz, ts[i], &c, &off);
        if (off != g[i].gmtoff || c.year != g[i].year || c.month != g[i].month ||
            c.day != g[i].day || c.hour != g[i].hour || c.minute != g[i].minute ||
            c.second != g[i].second || c.wday != g[i].wday)
            fail_msg("%s at %lld: tock %04d-%02d-%02d %02d:%02d:%02d off %d wday %d,"
                     " glibc %04d-%02d-%02d %02d:%02d:%02d off %lld wday %d",
                     what, (long long)ts[i], c.year, c.month, c.day, c.hour,
                     c.minute, c.second, off, c.wday, g[i].year, g[i].month,
                     g[i].day, g[i].hour, g[i].minute, g[i].second,
                     (long long)g[i].gmtoff, g[i].wday);
    }
}

/* differential compares tock's zone `tz` with glibc's TZ=tzspec at
 * DIFF_MAX instants from `from` to 2200. Takes ownership of `tz`. */
static void differential(struct tock_tz *tz, const char *tzspec, int64_t from,
                         uint64_t *seed)
{
    int64_t *ts = malloc(DIFF_MAX * sizeof *ts);
    struct glibc_tm *g = malloc(DIFF_MAX * sizeof *g);
    size_t n;

    assert_non_null(ts);
    assert_non_null(g);
    n = diff_instants(tz, seed, from, ts);
    glibc_localtime(tzspec, ts, n, g);
    compare_glibc(tz, ts, n, g, tzspec);
    tock_tz_free(tz);
    free(ts);
    free(g);
}

static void test_differential_glibc(void **state)
{
    static const char *const zones[] = {
        "Europe/Berlin",    "America/New_York",   "Australia/Lord_Howe",
        "Australia/Sydney", "America/Sao_Paulo",  "Europe/Moscow",
        "Asia/Jerusalem",   "America/Nuuk",       "Pacific/Chatham",
        "America/Santiago", "Asia/Tehran",        "Africa/Casablanca",
        "Pacific/Apia",     "Pacific/Kiritimati", "America/St_Johns",
        "Asia/Kolkata",     "Europe/Dublin",      "Africa/Monrovia",
        "Antarctica/Troll", "Europe/London",      "America/Los_Angeles",
        "Asia/Tokyo",       "Pacific/Auckland",   "America/Havana",
        "UTC",
    };
    uint64_t seed = 0x9e3779b97f4a7c15ULL;

    (void)state;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++)
        differential(load(zones[z]), zones[z], T1900, &seed);
}

/* POSIX rules alone, through a zone whose data is only a footer. */
static struct tock_tz *rule_zone(const char *text)
{
    static const uint8_t head[] = {'T', 'Z', 'i', 'f', '2', [39] = 1, [43] = 1};
    uint8_t buf[256];
    size_t n = 0, tl = strlen(text);
    struct tock_error err = {0};
    struct tock_tz *tz;

    for (int v = 0; v < 2; v++) { /* v1 header + block, v2 header + block */
        memcpy(buf + n, head, sizeof head);
        n += sizeof head;
        memset(buf + n, 0, 7); /* type 0: offset 0, std, designation 0 */
        n += 7;
    }
    buf[n++] = '\n';
    memcpy(buf + n, text, tl);
    n += tl;
    buf[n++] = '\n';
    assert_tock_ok(tock_tz__from_tzif(text, "mem", buf, n, &tz, &err), &err);
    return tz;
}

static void test_differential_rules(void **state)
{
    static const char *const rules[] = {
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
        "IST-2IDT,M3.4.4/26,M10.5.0",
        "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
        "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
        "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
        "IST-1GMT0,M10.5.0,M3.5.0/1",
        "XXX3YYY,J60/0,J300/0",
        "XXX3YYY,59/0,299/0",
        "<+14>-14",
    };
    uint64_t seed = 42;

    (void)state;
    /* From 1970: glibc evaluates rules wrongly before then (its
     * compute_change counts years up from 1970 only). */
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        differential(rule_zone(rules[i]), rules[i], 0, &seed);
}

/* from_local agrees with to_local: every instant a local time maps to
 * shows that local time, and a gap is exactly a forward jump. */
static void test_from_local_property(void **state)
{
    static const char *const zones[] = {"Europe/Berlin", "Australia/Lord_Howe",
                                        "America/Santiago", "Pacific/Apia",
                                        "Asia/Jerusalem", "America/Nuuk"};
    uint64_t seed = 7;

    (void)state;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        struct tock_tz *tz = load(zones[z]);
        for (int i = 0; i < 3000; i++) {
            int64_t t = rng_range(&seed, 0, 4102444800), a, b;
            struct tock_civil c, back;
            enum tock_tz_local_kind k;

            /* Half the samples sit within an hour of a transition. */
            if (i % 2 && tock_tz_next_transition(tz, t, &a, &(int32_t){0},
                                                 &(int32_t){0}))
                t = a + rng_range(&seed, -3600, 3600);
            tock_tz_to_local(tz, t, &c, NULL);
            k = tock_tz_from_local(tz, &c, &a, &b);
            assert_int_not_equal(k, TOCK_LOCAL_GAP);
            assert_true(a == t || b == t);
            assert_true(k == TOCK_LOCAL_FOLD ? a < b : a == b);
            tock_tz_to_local(tz, a, &back, NULL);
            assert_int_equal(tock_civil_to_utc(&back), tock_civil_to_utc(&c));
            tock_tz_to_local(tz, b, &back, NULL);
            assert_int_equal(tock_civil_to_utc(&back), tock_civil_to_utc(&c));
            /* Shift the local time by a random amount: if it is a gap,
             * the instant before the transition shows an earlier local
             * time and the transition a later one. */
            c.hour = (int)rng_range(&seed, 0, 24);
            c.minute = (int)rng_range(&seed, 0, 60);
            if (tock_tz_from_local(tz, &c, &a, &b) == TOCK_LOCAL_GAP) {
                int64_t L = tock_civil_to_utc(&c);
                tock_tz_to_local(tz, a - 1, &back, NULL);
                assert_true(tock_civil_to_utc(&back) < L);
                tock_tz_to_local(tz, a, &back, NULL);
                assert_true(tock_civil_to_utc(&back) > L);
            }
        }
        tock_tz_free(tz);
    }
}

/* --------------------------------------------------------------- RFC 3339 */

static void test_time_parse(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"2026-03-29T03:00:00+02:00", 1774746000000},
        {"2026-03-29T01:00:00Z", 1774746000000},
        {"2026-03-29t01:00:00z", 1774746000000},
        {"2026-03-28T20:00:00-05:00", 1774746000000},
        {"2026-03-29T01:00:00-00:00", 1774746000000},
        {"2026-03-29T01:00:00.250Z", 1774746000250},
        {"2026-03-29T01:00:00.5Z", 1774746000500},
        {"2026-03-29T01:00:00.05Z", 1774746000050},
        {"2026-03-29T01:00:00.123000000Z", 1774746000123},
        {"2024-02-29T12:00:00+23:59", 1709121660000},
        {"1970-01-01T00:00:00Z", TOCK_TIME_MIN_MS},
        {"1970-01-01T01:00:00+01:00", 0},
        {"9999-12-31T23:59:59.999Z", TOCK_TIME_MAX_MS},
        {"9999-12-31T23:59:59.999+01:00", TOCK_TIME_MAX_MS - 3600000},
    };
    struct tock_error err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        assert_tock_ok(tock_time_parse(cases[i].text, &ms, "--at", &err), &err);
        if (ms != cases[i].ms)
            fail_msg("%s: got %lld want %lld", cases[i].text, (long long)ms,
                     (long long)cases[i].ms);
    }
}

static void test_time_parse_bad(void **state)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"2024-02-30T00:00:00Z", "February 2024 has 29 days"},
        {"2026-02-29T00:00:00Z", "February 2026 has 28 days"},
        {"2026-04-31T00:00:00Z", "April 2026 has 30 days"},
        {"2026-01-00T00:00:00Z", "January 2026 has 31 days"},
        {"2026-13-01T00:00:00Z", "the month must be 01..12"},
        {"2026-00-01T00:00:00Z", "the month must be 01..12"},
        {"2026-12-31T23:59:60Z", "leap seconds"},
        {"2026-12-31T24:00:00Z", "the hour must be 00..23"},
        {"2026-12-31T23:60:00Z", "the minute must be 00..59"},
        {"2026-12-31T23:00:61Z", "the second must be 00..59"},
        {"2026-03-29T03:00:00", "no UTC offset"},
        {"2026-03-29T03:00:00.5", "no UTC offset"},
        {"1969-12-31T23:59:59Z", "years before 1970"},
        {"0000-01-01T00:00:00Z", "years before 1970"},
        {"1970-01-01T00:30:00+01:00", "before 1970-01-01T00:00:00Z"},
        {"9999-12-31T23:00:00-02:00", "after 9999-12-31T23:59:59.999Z"},
        {"10000-01-01T00:00:00Z", "after 9999"},
        {"2026-03-29T03:00:00+24:00", "-23:59..+23:59"},
        {"2026-03-29T03:00:00+02:60", "-23:59..+23:59"},
        {"2026-03-29T03:00:00+0200", "expected 'Z' or an offset"},
        {"2026-03-29T03:00:00+2:00", "expected 'Z' or an offset"},
        {"2026-03-29T03:00:00 Z", "expected 'Z' or an offset"},
        {"2026-03-29T03:00:00Zjunk", "unexpected characters after the offset"},
        {"2026-03-29T03:00:00+02:00 ", "unexpected characters"},
        {"2026-03-29 03:00:00Z", "use 'T', not a space"},
        {"2026-03-29", "expected 'T'"},
        {"2026-03-29T3:00:00Z", "expected a time of day"},
        {"2026-3-29T03:00:00Z", "expected a date"},
        {"+2026-03-29T03:00:00Z", "expected a date"},
        {"2026-03-29T03:00:00.Z", "expected digits after '.'"},
        {"2026-03-29T03:00:00.1234Z", "finer than a millisecond"},
        {"2026-03-29T03:00:00.1230000000Z", "more than 9 digits"},
        {"2026-03-29T03:00:00,5Z", "expected 'Z' or an offset"},
        {"", "it is empty"},
        {"now", "expected a date"},
        {"\xd9\xa2\xd9\xa0\xd9\xa2\xd9\xa6-03-29T03:00:00Z", "expected a date"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tock_error err = {0};
        int64_t ms = 12345;
        int rc = tock_time_parse(cases[i].text, &ms, "--from", &err);
        if (rc != TOCK_EINVAL || strstr(err.msg, cases[i].why) == NULL ||
            strncmp(err.msg, "--from: '", 9) != 0)
            fail_msg("'%s': got %s '%s', want '%s'", cases[i].text,
                     tock_err_name(rc), err.msg, cases[i].why);
        assert_int_equal(ms, 12345);
    }
    {
        struct tock_error err = {0};
        int64_t ms;
        assert_int_equal(tock_time_parse(NULL, &ms, NULL, &err), TOCK_EINVAL);
        assert_non_null(strstr(err.msg, "time: '' is not a valid time"));
    }
}

static void assert_format(int64_t ms, const char *zone, const char *want)
{
    struct tock_tz *tz = zone ? load(zone) : NULL;
    char buf[64];
    size_t n = tock_time_format(ms, tz, buf, sizeof buf);

    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
    tock_tz_free(tz);
}

static void test_time_format(void **state)
{
    struct tock_error err = {0};
    struct tock_tz *tz = load("Europe/Berlin");
    char buf[64];
    int64_t back;

    (void)state;
    assert_format(1774746000000, NULL, "2026-03-29T01:00:00Z");
    assert_format(1774746000000, "Europe/Berlin", "2026-03-29T03:00:00+02:00");
    assert_format(1774745999999, "Europe/Berlin", "2026-03-29T01:59:59.999+01:00");
    assert_format(1774746000250, NULL, "2026-03-29T01:00:00.250Z");
    assert_format(1775314800000, "Australia/Lord_Howe", "2026-04-05T01:30:00+10:30");
    assert_format(1793514600000, "America/New_York", "2026-11-01T01:30:00-05:00");
    assert_format(0, NULL, "1970-01-01T00:00:00Z");
    assert_format(TOCK_TIME_MAX_MS, NULL, "9999-12-31T23:59:59.999Z");
    assert_format(TOCK_TIME_MAX_MS, "Asia/Tokyo", "10000-01-01T08:59:59.999+09:00");
    assert_format(-1, NULL, "1969-12-31T23:59:59.999Z");
    assert_format(1774746000000, "UTC", "2026-03-29T01:00:00+00:00");
    /* Monrovia was -00:44:30 until 1972: rounded, still the same instant. */
    assert_format(31536000000, "Africa/Monrovia", "1970-12-31T23:16:00-00:44");
    assert_tock_ok(tock_time_parse("1970-12-31T23:16:00-00:44", &back, NULL, &err),
                   &err);
    assert_int_equal(back, 31536000000);
    /* A short buffer truncates and says how much it wrote. */
    assert_int_equal(tock_time_format(1774746000000, tz, buf, 11), 10);
    assert_string_equal(buf, "2026-03-29");
    assert_int_equal(tock_time_format(1774746000000, tz, buf, 0), 0);
    tock_tz_free(tz);
}

static void test_time_round_trip(void **state)
{
    static const char *const zones[] = {"Europe/Berlin", "Australia/Lord_Howe",
                                        "Pacific/Chatham", "America/St_Johns",
                                        "Pacific/Kiritimati", "UTC"};
    uint64_t seed = 99;
    struct tock_error err = {0};

    (void)state;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        struct tock_tz *tz = load(zones[z]);
        for (int i = 0; i < 2000; i++) {
            int64_t ms = rng_range(&seed, 86400000, TOCK_TIME_MAX_MS - 86400000), back;
            char buf[64];

            if (i % 3 == 0)
                ms -= ms % 1000;
            tock_time_format(ms, i % 2 ? tz : NULL, buf, sizeof buf);
            assert_tock_ok(tock_time_parse(buf, &back, "round trip", &err), &err);
            assert_int_equal(back, ms);
        }
        tock_tz_free(tz);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_days),
        cmocka_unit_test(test_days_in_month),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_every_zone_loads),
        cmocka_unit_test(test_load_from_dir),
        cmocka_unit_test(test_tzif_v1_and_rule_only),
        cmocka_unit_test(test_tzif_corrupt),
        cmocka_unit_test(test_berlin),
        cmocka_unit_test(test_new_york),
        cmocka_unit_test(test_lord_howe),
        cmocka_unit_test(test_southern),
        cmocka_unit_test(test_moscow_history),
        cmocka_unit_test(test_far_future),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_bad_rules),
        cmocka_unit_test(test_differential_glibc),
        cmocka_unit_test(test_differential_rules),
        cmocka_unit_test(test_from_local_property),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_parse_bad),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_time_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
