/* output.c: tables, local times, escaped text and JSON lines on stdout. */
#include "cli/output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/escape.h"

/* The errno of the first failed write to stdout, 0 while none failed. */
static int out_errno;

static void note_write(void)
{
    if (out_errno == 0 && ferror(stdout))
        out_errno = errno ? errno : EIO;
}

/* ------------------------------------------------------------------ text */

static bool line_end(char c)
{
    return c == '\n' || c == '\r';
}

/* tock_output_escape shows the first line with text: a handler's output
 * nearly always ends in a newline, and may start with one or use CRLF;
 * those line ends are not "more lines", so they neither show as "\r" nor
 * earn the "...". */
void tock_output_escape(const char *src, size_t len, char *buf, size_t cap)
{
    const char *nl;
    size_t line, rest, used, n;
    bool more;

    if (cap < 8) {
        if (cap > 0)
            buf[0] = '\0';
        return;
    }
    if (src == NULL) {
        snprintf(buf, cap, "-");
        return;
    }
    while (len > 0 && line_end(*src)) {
        src++;
        len--;
    }
    nl = memchr(src, '\n', len);
    line = nl ? (size_t)(nl - src) : len;
    for (rest = line, more = false; rest < len && !more; rest++)
        more = !line_end(src[rest]);
    while (line > 0 && src[line - 1] == '\r')
        line--;
    used = tock_escape_line(buf, cap - 3, src, line);
    if (used < line || more) {
        n = strlen(buf);
        memcpy(buf + n, "...", 4);
    }
}

void tock_output_line(const char *text)
{
    char buf[1024];

    tock_escape_line(buf, sizeof buf, text, strlen(text));
    fputs(buf, stdout);
    fputc('\n', stdout);
    note_write();
}

/* display_width counts the characters of valid UTF-8 text (what escaping
 * leaves), which is what a terminal shows for the scripts tock names use. */
static size_t display_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* ---------------------------------------------------------------- tables */

struct tock_output_table {
    size_t ncols, nrows, cap;
    char **cells;   /* (nrows + 1) * ncols, row 0 is the header */
    size_t *width;  /* ncols */
};

struct tock_output_table *tock_output_table_new(size_t ncols,
                                                const char *const *headers)
{
    struct tock_output_table *t = tock_calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    t->width = tock_calloc(ncols, sizeof *t->width);
    if (t->width == NULL || tock_output_table_row(t, headers) != 0) {
        tock_output_table_free(t);
        return NULL;
    }
    return t;
}

int tock_output_table_row(struct tock_output_table *t,
                          const char *const *cells)
{
    char buf[TOCK_OUTPUT_CELL_MAX];
    char **grown;
    size_t i, w, base;

    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        grown = tock_realloc(t->cells, t->cap * t->ncols * sizeof *grown);
        if (grown == NULL)
            return -1;
        t->cells = grown;
    }
    base = t->nrows * t->ncols;
    for (i = 0; i < t->ncols; i++) {
        if (cells[i] == NULL)
            snprintf(buf, sizeof buf, "-");
        else
            tock_output_escape(cells[i], strlen(cells[i]), buf, sizeof buf);
        if ((t->cells[base + i] = tock_strdup(buf)) == NULL) {
            while (i-- > 0)
                tock_free(t->cells[base + i]);
            return -1;
        }
        w = display_width(buf);
        if (w > t->width[i])
            t->width[i] = w;
    }
    t->nrows++;
    return 0;
}

void tock_output_table_print(const struct tock_output_table *t)
{
    size_t r, c, pad;
    const char *cell;

    for (r = 0; r < t->nrows; r++) {
        for (c = 0; c < t->ncols; c++) {
            cell = t->cells[r * t->ncols + c];
            fputs(cell, stdout);
            if (c + 1 == t->ncols)
                break;
            for (pad = display_width(cell); pad < t->width[c] + 2; pad++)
                fputc(' ', stdout);
        }
        fputc('\n', stdout);
    }
    note_write();
}

void tock_output_table_free(struct tock_output_table *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nrows * t->ncols; i++)
        tock_free(t->cells[i]);
    tock_free(t->cells);
    tock_free(t->width);
    tock_free(t);
}

/* ----------------------------------------------------------------- times */

static bool local_tm(int64_t ms, struct tm *tm)
{
    static bool zone_read;
    time_t secs = (time_t)(ms / 1000);

    if (!zone_read) {
        tzset(); /* localtime_r need not read TZ itself */
        zone_read = true;
    }
    return localtime_r(&secs, tm) != NULL;
}

void tock_output_time(int64_t ms, char *buf, size_t cap)
{
    struct tm tm;

    if (ms <= 0 || !local_tm(ms, &tm)) {
        snprintf(buf, cap, "-");
        return;
    }
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

void tock_output_time_full(int64_t ms, char *buf, size_t cap)
{
    char date[32], frac[8] = "";
    struct tm tm;
    long off, a;

    if (ms <= 0 || !local_tm(ms, &tm)) {
        snprintf(buf, cap, "-");
        return;
    }
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ms % 1000 != 0)
        snprintf(frac, sizeof frac, ".%03d", (int)(ms % 1000));
    off = tm.tm_gmtoff;
    a = off < 0 ? -off : off;
    if (off == 0)
        snprintf(buf, cap, "%s%sZ", date, frac);
    else
        snprintf(buf, cap, "%s%s%c%02ld:%02ld", date, frac,
                 off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

/* ------------------------------------------------------------------ JSON */

json_t *tock_output_jstr(const char *src, size_t len)
{
    char *buf;
    json_t *j;

    if (src == NULL)
        return json_null();
    if (tock_utf8_valid(src, len))
        return json_stringn(src, len);
    /* Escaping makes at most 4 bytes of each input byte. */
    if ((buf = tock_malloc(len * 4 + 1)) == NULL)
        return NULL;
    tock_escape_line(buf, len * 4 + 1, src, len);
    j = json_string(buf);
    tock_free(buf);
    return j;
}

json_t *tock_output_jint_or_null(int64_t v, int64_t none)
{
    return v == none ? json_null() : json_integer(v);
}

int tock_output_json(json_t *obj)
{
    char *text;

    if (obj == NULL)
        return -1;
    /* ENSURE_ASCII: bidi controls in a handler's output must not reach a
     * terminal even through --json. */
    text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(obj);
    if (text == NULL)
        return -1;
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text); /* jansson's allocator: its own free */
    note_write();
    return 0;
}

/* ---------------------------------------------------------------- ending */

bool tock_output_flush(void)
{
    errno = 0;
    if (fflush(stdout) != 0 && out_errno == 0)
        out_errno = errno ? errno : EIO;
    note_write();
    return out_errno == 0;
}

int tock_output_done(int status)
{
    if (tock_output_flush() || out_errno == EPIPE)
        return status;
    tock_cli_fail(TOCK_EXIT_FAIL, "writing the output failed: %s",
                  strerror(out_errno));
    return TOCK_EXIT_FAIL;
}
