/* tz.c: time zones from TZif files, zone-name validation through tzdata.zi,
 * and instant <-> civil-time conversion. Civil-day arithmetic and RFC 3339
 * live in tzcivil.c, POSIX TZ footer rules in tzrule.c.
 *
 * Loading a zone, step by step:
 *   1. Check the name's form (tock_tz__check_name): no path syntax, no
 *      characters outside [A-Za-z0-9/_+-]. "UTC" is built in; done.
 *   2. Scan <dir>/tzdata.zi for a "Z <name>" or "L <target> <name>" line.
 *      The index is read and scanned on every load (about 40 us for the
 *      112 KB Debian file) rather than cached: no process-wide state, and
 *      a tzdata upgrade is picked up by the next load.
 *   3. Open <dir>/<canonical name> with O_NOFOLLOW. The path is built only
 *      from a name found in the index, never from the caller's text, and
 *      only after that name passed step 1's check too.
 *   4. Parse the TZif data (tock_tz__from_tzif): every count is checked
 *      against the bytes present before anything is allocated, and the
 *      table is reduced to the transitions that change the UTC offset.
 *
 * Step 2: because Debian installs aliases (US/Eastern) as symlinks, and
 * following a symlink is what step 3 must not do.
 */
#include "scheduler/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "scheduler/tz_internal.h"
#include "scheduler/tzrule.h"

#define DAY 86400LL
/* A local time's instants lie within one maximum offset (26 h) of it. */
#define LOCAL_WINDOW (2 * DAY)
/* RFC 8536 3.2: UTC offsets lie in -89999..93599 (about -25 h..+26 h). */
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599

/* struct tock_tz keeps only the transitions that change the UTC offset;
 * tzdata also records changes of abbreviation or DST flag alone, which no
 * conversion here needs. One allocation holds the struct, both arrays and
 * the name. */
struct tock_tz {
    const char *name; /* canonical, e.g. "America/New_York" for US/Eastern */
    const int64_t *at;  /* count instants, strictly ascending */
    const int32_t *off; /* off[i] is in force from at[i] on */
    size_t count;
    int32_t off0;       /* in force before at[0] (time type 0) */
    bool has_rule;      /* the footer rule governs t >= rule_from */
    int64_t rule_from;  /* last transition of the file's table */
    struct tock_tzrule rule;
};

_Static_assert(sizeof(struct tock_tz) % sizeof(int64_t) == 0,
               "transition times follow the struct in one allocation");

/* zone_alloc returns a zeroed zone with room for `count` transitions and
 * a copy of `name`, or NULL. Free it with tock_tz_free. */
static struct tock_tz *zone_alloc(const char *name, size_t count)
{
    size_t namelen = strlen(name) + 1;
    struct tock_tz *tz;
    char *p;

    p = tock_calloc(1, sizeof *tz + count * (sizeof(int64_t) + sizeof(int32_t)) +
                           namelen);
    if (p == NULL)
        return NULL;
    tz = (struct tock_tz *)p;
    tz->at = (const int64_t *)(p + sizeof *tz); /* sizeof *tz % 8 == 0 */
    tz->off = (const int32_t *)(p + sizeof *tz + count * sizeof(int64_t));
    tz->name = memcpy(p + sizeof *tz + count * (sizeof(int64_t) + sizeof(int32_t)),
                      name, namelen);
    tz->count = count;
    return tz;
}

void tock_tz_free(struct tock_tz *tz)
{
    tock_free(tz);
}

const char *tock_tz_name(const struct tock_tz *tz)
{
    return tz->name;
}

/* ------------------------------------------------------------ zone names */

#define SUGGEST_ZONE "use an IANA name such as Europe/Berlin"

static bool name_char_ok(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '+' ||
           ch == '-';
}

/* looks_posix: "UTC+3", "EST5", "CET-1CEST,M3.5.0", "<+03>-3": letters
 * (or a <quoted> name) directly followed by an offset. */
static bool looks_posix(const char *name)
{
    size_t n = 0;

    if (name[0] == '<')
        return true;
    while ((name[n] >= 'a' && name[n] <= 'z') || (name[n] >= 'A' && name[n] <= 'Z'))
        n++;
    if (n < 3)
        return false;
    if (name[n] == '+' || name[n] == '-')
        n++;
    return name[n] >= '0' && name[n] <= '9';
}

static int name_error(struct tock_error *err, const char *name, const char *why)
{
    return tock_error_set(err, TOCK_EINVAL, "time zone '%.64s' %s; " SUGGEST_ZONE,
                          name, why);
}

int tock_tz__check_name(const char *name, struct tock_error *err)
{
    size_t len;

    if (name == NULL || name[0] == '\0')
        return tock_error_set(err, TOCK_EINVAL,
                              "time zone name is empty; " SUGGEST_ZONE);
    len = strlen(name);
    if (len > TOCK_TZ_NAME_MAX)
        return tock_error_set(err, TOCK_EINVAL,
                              "time zone name is %zu bytes long (at most %d); "
                              SUGGEST_ZONE, len, TOCK_TZ_NAME_MAX);
    if (name[0] == '/')
        return name_error(err, name, "is a file path, not a zone name");
    if (strstr(name, "..") != NULL)
        return name_error(err, name, "must not contain '..'");
    for (size_t i = 0; i < len; i++) {
        if (name_char_ok((unsigned char)name[i]))
            continue;
        if (looks_posix(name))
            return name_error(err, name, "is a POSIX TZ string, not a zone name");
        return tock_error_set(err, TOCK_EINVAL,
                              "time zone '%.64s' contains '%c' (0x%02x): only "
                              "letters, digits, '/', '_', '+' and '-' are allowed",
                              name, (name[i] >= 32 && name[i] < 127) ? name[i] : '?',
                              (unsigned char)name[i]);
    }
    if (name[len - 1] == '/' || strstr(name, "//") != NULL)
        return name_error(err, name, "has an empty path component");
    return 0;
}

/* unknown_name explains why an index-less name was refused: a POSIX
 * string or "Local" is EINVAL, a case slip gets the right spelling. */
static int unknown_name(const char *name, const char *suggest,
                        struct tock_error *err)
{
    if (looks_posix(name))
        return name_error(err, name, "is a POSIX TZ string, not a zone name");
    if (strcasecmp(name, "local") == 0 || strcasecmp(name, "localtime") == 0)
        return name_error(err, name, "is not a zone: tock never uses the host's "
                                     "zone implicitly");
    if (suggest[0] == '\0' && strcasecmp(name, "UTC") == 0)
        suggest = "UTC";
    if (suggest[0] != '\0')
        return tock_error_set(err, TOCK_ENOENT,
                              "time zone '%.64s' is unknown; did you mean '%s'?",
                              name, suggest);
    return tock_error_set(err, TOCK_ENOENT,
                          "time zone '%.64s' is unknown; " SUGGEST_ZONE, name);
}

/* ---------------------------------------------------------- tzdata index */

/* next_token skips the blanks at *p, points *tok at the token there and
 * returns its length, leaving *p just after it; `end` ends the line. */
static size_t next_token(const char **p, const char *end, const char **tok)
{
    const char *s = *p;
    size_t n;

    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    *tok = s;
    while (s < end && *s != ' ' && *s != '\t')
        s++;
    n = (size_t)(s - *tok);
    *p = s;
    return n;
}

/* copy_token copies a token into a NUL-terminated buffer of TOCK_TZ_NAME_MAX
 * + 1 bytes; an overlong token becomes "" (which fails the name check)
 * rather than a cut name that could be another zone. */
static void copy_token(char *dst, const char *tok, size_t n)
{
    if (n > TOCK_TZ_NAME_MAX)
        n = 0;
    memcpy(dst, tok, n);
    dst[n] = '\0';
}

/* index_lookup scans tzdata.zi text for `name`. Returns true with the
 * canonical name in `canon` when listed; otherwise false, with `suggest`
 * set to a listed name equal but for case ("" if none). */
static bool index_lookup(const char *zi, size_t len, const char *name,
                         char *canon, char *suggest)
{
    const char *p = zi, *end = zi + len;
    size_t nlen = strlen(name);

    suggest[0] = '\0';
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line = p, *target = NULL, *tok;
        size_t tlen = 0, n;
        bool link;

        if (eol == NULL)
            eol = end;
        p = eol + 1;
        if (eol - line < 3 || line[1] != ' ' || (line[0] != 'Z' && line[0] != 'L'))
            continue;
        link = line[0] == 'L';
        line += 2;
        n = next_token(&line, eol, &tok);
        if (link) { /* "L target alias" */
            target = tok;
            tlen = n;
            n = next_token(&line, eol, &tok);
        }
        if (n != nlen || strncasecmp(tok, name, n) != 0)
            continue;
        if (memcmp(tok, name, n) != 0) {
            if (suggest[0] == '\0')
                copy_token(suggest, tok, n);
            continue;
        }
        copy_token(canon, target ? target : tok, target ? tlen : n);
        return true;
    }
    return false;
}

/* ------------------------------------------------------------- file input */

/* errno_text is strerror made thread-safe (GNU strerror_r; tock builds
 * with _GNU_SOURCE), as zones may be loaded from any thread. */
static const char *errno_text(int e, char *buf, size_t cap)
{
    return strerror_r(e, buf, cap);
}

/* read_at reads the regular file `rel` under directory fd `dirfd`, at most
 * `max` bytes, without following a final symlink. On success *out is a new
 * buffer the caller frees with tock_free. `label` names it in errors. */
static int read_at(int dirfd, const char *rel, const char *label, size_t max,
                   uint8_t **out, size_t *outlen, struct tock_error *err)
{
    int fd, rc = 0, e;
    struct stat st;
    uint8_t *buf = NULL;
    size_t n = 0;
    char eb[128];

    *out = NULL;
    fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        e = errno;
        return tock_error_set(err, e == ENOENT ? TOCK_ENOENT : TOCK_EIO,
                              "cannot open %s: %s; reinstall the tzdata package",
                              label, errno_text(e, eb, sizeof eb));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = tock_error_set(err, TOCK_EIO, "%s is not a regular file; reinstall "
                                           "the tzdata package", label);
        goto done;
    }
    if ((uint64_t)st.st_size > max) {
        rc = tock_error_set(err, TOCK_EFORMAT, "%s is %lld bytes, over the %zu "
                            "byte limit for time zone data", label,
                            (long long)st.st_size, max);
        goto done;
    }
    buf = tock_malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory reading %s", label);
        goto done;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tock_error_set(err, TOCK_EIO, "cannot read %s: %s", label,
                                errno_text(errno, eb, sizeof eb));
            goto done;
        }
        if (r == 0)
            break; /* the file shrank: parse what is there */
        n += (size_t)r;
    }
    *out = buf;
    *outlen = n;
    buf = NULL;
done:
    tock_free(buf);
    close(fd);
    return rc;
}

/* resolve_name maps a checked `name` to its canonical zone name through
 * <dirfd>/tzdata.zi. */
static int resolve_name(int dirfd, const char *dir, const char *name,
                        char *canon, struct tock_error *err)
{
    char label[512], suggest[TOCK_TZ_NAME_MAX + 1];
    uint8_t *zi = NULL;
    size_t len = 0;
    bool found;
    int rc;

    snprintf(label, sizeof label, "%s/tzdata.zi", dir);
    rc = read_at(dirfd, "tzdata.zi", label, TOCK_TZ_INDEX_MAX, &zi, &len, err);
    if (rc != 0) {
        /* Say "POSIX string" rather than "tzdata missing" when both hold. */
        if (looks_posix(name) || strcasecmp(name, "local") == 0)
            return unknown_name(name, "", err);
        return rc;
    }
    found = index_lookup((const char *)zi, len, name, canon, suggest);
    tock_free(zi);
    if (!found)
        return unknown_name(name, suggest, err);
    if (tock_tz__check_name(canon, NULL) != 0)
        return tock_error_set(err, TOCK_EFORMAT, "%s lists '%.64s' as the zone "
                              "for '%.64s', which is not a valid zone name",
                              label, canon, name);
    return 0;
}

/* --------------------------------------------------------- TZif parsing */

/* tzif_hdr: the counts of one TZif header (RFC 8536 3.1). */
struct tzif_hdr {
    int version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

#define TZIF_HDR_LEN 44

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* tzif_time reads a transition time of `tsize` (4 or 8) bytes. */
static int64_t tzif_time(const uint8_t *p, int tsize)
{
    return tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
}

/* block_size is the byte length of the data block after header `h`. All
 * counts are < 2^32, so the sum fits easily in 64 bits. */
static uint64_t block_size(const struct tzif_hdr *h, int tsize)
{
    return (uint64_t)h->timecnt * (uint64_t)(tsize + 1) + (uint64_t)h->typecnt * 6 +
           h->charcnt + (uint64_t)h->leapcnt * (uint64_t)(tsize + 4) +
           h->isstdcnt + h->isutcnt;
}

/* read_header parses the header at buf[pos] and checks its counts, and
 * that the block they announce fits in the `len` bytes present. */
static const char *read_header(const uint8_t *buf, size_t len, size_t pos,
                               int tsize, struct tzif_hdr *h)
{
    const uint8_t *p = buf + pos;

    if (len - pos < TZIF_HDR_LEN || memcmp(p, "TZif", 4) != 0)
        return pos == 0 ? "not a TZif file" : "missing version 2+ header";
    if (p[4] != 0 && (p[4] < '2' || p[4] > '4'))
        return "unsupported TZif version";
    h->version = p[4] == 0 ? 1 : p[4] - '0';
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (block_size(h, tsize) > len - pos - TZIF_HDR_LEN)
        return "counts exceed the file size (truncated?)";
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0)
        return "bad time type or designation count";
    if ((h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return "bad UT/standard indicator count";
    if (h->leapcnt != 0)
        return "contains leap seconds (a 'right/' zone), unsupported";
    return NULL;
}

/* tzif_data: pointers into one data block, and its decoded time types. */
struct tzif_data {
    const uint8_t *times, *idx, *end;
    int tsize;
    uint32_t timecnt;
    int32_t utoff[256];
};

/* read_block checks the data block after header `h` (at buf[pos]) and
 * decodes its time types. */
static const char *read_block(const uint8_t *buf, size_t pos, int tsize,
                              const struct tzif_hdr *h, struct tzif_data *d)
{
    const uint8_t *types, *chars, *isstd, *isut;

    d->tsize = tsize;
    d->timecnt = h->timecnt;
    d->times = buf + pos + TZIF_HDR_LEN;
    d->idx = d->times + (size_t)h->timecnt * (size_t)tsize;
    types = d->idx + h->timecnt;
    chars = types + (size_t)h->typecnt * 6;
    isstd = chars + h->charcnt; /* leapcnt is 0 */
    isut = isstd + h->isstdcnt;
    d->end = isut + h->isutcnt;
    for (uint32_t i = 0; i < h->typecnt; i++) {
        const uint8_t *t = types + 6 * (size_t)i;
        int32_t off = (int32_t)be32(t);
        if (off < UTOFF_MIN || off > UTOFF_MAX)
            return "UTC offset out of range";
        if (t[4] > 1 || t[5] >= h->charcnt)
            return "bad DST flag or designation index";
        if ((h->isstdcnt && isstd[i] > 1) || (h->isutcnt && isut[i] > 1) ||
            (h->isutcnt && isut[i] && !(h->isstdcnt && isstd[i])))
            return "bad standard/UT indicator";
        d->utoff[i] = off;
    }
    for (uint32_t i = 0; i < h->timecnt; i++) {
        if (d->idx[i] >= h->typecnt)
            return "transition type index out of range";
        if (i > 0 && tzif_time(d->times + (size_t)i * (size_t)tsize, tsize) <=
                         tzif_time(d->times + (size_t)(i - 1) * (size_t)tsize, tsize))
            return "transition times not strictly ascending";
    }
    return NULL;
}

/* count_changes counts the transitions that change the UTC offset. */
static size_t count_changes(const struct tzif_data *d)
{
    int32_t prev = d->utoff[0];
    size_t n = 0;

    for (uint32_t i = 0; i < d->timecnt; i++) {
        n += d->utoff[d->idx[i]] != prev;
        prev = d->utoff[d->idx[i]];
    }
    return n;
}

/* fill_zone copies the offset-changing transitions of `d` into `tz`. */
static void fill_zone(struct tock_tz *tz, const struct tzif_data *d)
{
    int64_t *at = (int64_t *)tz->at;
    int32_t *off = (int32_t *)tz->off;
    int32_t prev = d->utoff[0];
    size_t n = 0;

    tz->off0 = prev;
    for (uint32_t i = 0; i < d->timecnt; i++) {
        int32_t o = d->utoff[d->idx[i]];
        if (o != prev) {
            at[n] = tzif_time(d->times + (size_t)i * (size_t)d->tsize, d->tsize);
            off[n++] = o;
        }
        prev = o;
    }
    tz->rule_from = INT64_MIN;
    if (d->timecnt > 0)
        tz->rule_from = tzif_time(d->times + (size_t)(d->timecnt - 1) * (size_t)d->tsize,
                                  d->tsize);
}

/* read_footer parses the "\n<TZ string>\n" footer that ends a v2+ file.
 * A bad rule's reason is written to `tmp`, whose message is returned. */
static const char *read_footer(const uint8_t *p, const uint8_t *end,
                               const struct tzif_data *d, struct tock_tz *tz,
                               struct tock_error *tmp)
{
    const uint8_t *nl;

    if (p >= end || *p != '\n')
        return "missing footer";
    nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
    if (nl == NULL)
        return "unterminated footer";
    if (nl + 1 != end)
        return "trailing bytes after the footer";
    if (nl == p + 1)
        return NULL; /* empty: the last time type continues */
    if (tock_tzrule_parse((const char *)p + 1, (size_t)(nl - p - 1), &tz->rule,
                          tmp) != 0)
        return tmp->msg;
    tz->has_rule = true;
    /* RFC 8536 3.3: the rule must agree with the last transition. */
    if (d->timecnt > 0 &&
        tock_tzrule_offset(&tz->rule, tz->rule_from) != d->utoff[d->idx[d->timecnt - 1]])
        return "footer TZ rule disagrees with the last transition";
    return NULL;
}

int tock_tz__from_tzif(const char *name, const char *label, const uint8_t *buf,
                       size_t len, struct tock_tz **out, struct tock_error *err)
{
    struct tzif_hdr h;
    struct tzif_data d;
    struct tock_tz *tz = NULL;
    struct tock_error tmp;
    const char *why;
    size_t pos = 0;
    bool v2;

    *out = NULL;
    why = read_header(buf, len, 0, 4, &h);
    v2 = why == NULL && h.version >= 2;
    if (v2) {
        /* Skip the 32-bit block: the 64-bit one is complete. */
        pos = TZIF_HDR_LEN + (size_t)block_size(&h, 4);
        why = read_header(buf, len, pos, 8, &h);
    }
    if (why == NULL)
        why = read_block(buf, pos, v2 ? 8 : 4, &h, &d);
    if (why != NULL)
        goto bad;
    if (!v2 && d.end != buf + len) {
        why = "trailing bytes after the data";
        goto bad;
    }
    tz = zone_alloc(name, count_changes(&d));
    if (tz == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory loading %s", label);
    fill_zone(tz, &d);
    if (v2 && (why = read_footer(d.end, buf + len, &d, tz, &tmp)) != NULL)
        goto bad;
    *out = tz;
    return 0;
bad:
    tock_tz_free(tz);
    return tock_error_set(err, TOCK_EFORMAT, "time zone file %s is corrupt (%s); "
                          "reinstall the tzdata package", label, why);
}

/* ---------------------------------------------------------------- loading */

int tock_tz_load_from(const char *dir, const char *name, struct tock_tz **out,
                      struct tock_error *err)
{
    char canon[TOCK_TZ_NAME_MAX + 1], label[512], eb[128];
    uint8_t *buf = NULL;
    size_t len = 0;
    int dirfd, rc, e;

    *out = NULL;
    if ((rc = tock_tz__check_name(name, err)) != 0)
        return rc;
    if (strcmp(name, "UTC") == 0) {
        *out = zone_alloc("UTC", 0);
        return *out ? 0 : tock_error_set(err, TOCK_ENOMEM, "out of memory");
    }
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        e = errno;
        if (looks_posix(name) || strcasecmp(name, "local") == 0)
            return unknown_name(name, "", err);
        return tock_error_set(err, e == ENOENT ? TOCK_ENOENT : TOCK_EIO,
                              "time zone directory %s: %s; install the tzdata "
                              "package (only UTC works without it)", dir,
                              errno_text(e, eb, sizeof eb));
    }
    rc = resolve_name(dirfd, dir, name, canon, err);
    if (rc == 0) {
        snprintf(label, sizeof label, "%s/%s", dir, canon);
        rc = read_at(dirfd, canon, label, TOCK_TZ_FILE_MAX, &buf, &len, err);
    }
    if (rc == 0)
        rc = tock_tz__from_tzif(canon, label, buf, len, out, err);
    tock_free(buf);
    close(dirfd);
    return rc;
}

int tock_tz_load(const char *name, struct tock_tz **out, struct tock_error *err)
{
    return tock_tz_load_from(TOCK_TZ_DIR, name, out, err);
}

/* ------------------------------------------------------------ conversions */

/* upper_bound returns how many of the zone's transitions are <= t. */
static size_t upper_bound(const struct tock_tz *tz, int64_t t)
{
    size_t lo = 0, hi = tz->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int32_t tock_tz_offset(const struct tock_tz *tz, int64_t t)
{
    size_t i;

    if (tz->has_rule && t >= tz->rule_from)
        return tock_tzrule_offset(&tz->rule, t);
    i = upper_bound(tz, t);
    return i == 0 ? tz->off0 : tz->off[i - 1];
}

bool tock_tz_next_transition(const struct tock_tz *tz, int64_t after,
                             int64_t *at, int32_t *before, int32_t *after_off)
{
    if (!tz->has_rule || after < tz->rule_from) {
        size_t i = upper_bound(tz, after);
        if (i < tz->count) {
            *at = tz->at[i];
            *before = i == 0 ? tz->off0 : tz->off[i - 1];
            *after_off = tz->off[i];
            return true;
        }
        if (!tz->has_rule)
            return false;
    }
    /* The rule agrees with the table at rule_from (checked at load). */
    return tock_tzrule_next(&tz->rule, after > tz->rule_from ? after : tz->rule_from,
                            at, before, after_off);
}

void tock_tz_to_local(const struct tock_tz *tz, int64_t t,
                      struct tock_civil *out, int32_t *offset)
{
    int32_t off;
    int64_t local, days, secs;

    t = tock_tz__clamp(t);
    off = tock_tz_offset(tz, t);
    local = t + off;
    days = tock_tz__floor_div(local, DAY);
    secs = local - days * DAY;
    tock_civil_from_days(days, out);
    out->hour = (int)(secs / 3600);
    out->minute = (int)(secs / 60 % 60);
    out->second = (int)(secs % 60);
    if (offset != NULL)
        *offset = off;
}

/* from_local walks the offset segments within LOCAL_WINDOW of local time
 * L (as seconds, read as if UTC): each segment [start, end) with offset o
 * holds a solution if start <= L - o < end. No solution means L falls in
 * the jump of a forward transition T: T + before <= L < T + after. */
enum tock_tz_local_kind tock_tz_from_local(const struct tock_tz *tz,
                                           const struct tock_civil *local,
                                           int64_t *first, int64_t *second)
{
    int64_t L = tock_tz__clamp(tock_civil_to_utc(local));
    int64_t seg = L - LOCAL_WINDOW, at, gap = INT64_MIN;
    int32_t off = tock_tz_offset(tz, seg), before, after;
    int found = 0;

    for (;;) {
        bool more = tock_tz_next_transition(tz, seg, &at, &before, &after) &&
                    at <= L + LOCAL_WINDOW;
        int64_t cand = L - off;

        if (cand >= seg && (!more || cand < at)) {
            if (found++ == 0)
                *first = cand;
            *second = cand;
        }
        if (!more)
            break;
        if (after > off && gap == INT64_MIN && at + off <= L && L < at + after)
            gap = at;
        seg = at;
        off = after;
    }
    if (found > 1)
        return TOCK_LOCAL_FOLD;
    if (found == 1)
        return TOCK_LOCAL_UNIQUE;
    *first = *second = gap != INT64_MIN ? gap : L - tock_tz_offset(tz, L);
    return TOCK_LOCAL_GAP;
}
