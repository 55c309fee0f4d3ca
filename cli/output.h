/* output.h: what the tock command prints: aligned tables, local times and
 * JSON lines, all of it safe for a terminal and a closed pipe.
 *
 * Every cell and every JSON string goes through tock_escape_line or
 * jansson's escaping, so a job name or a handler's output can neither
 * forge lines nor drive the terminal (ESC sequences, bidi overrides).
 * Write errors on stdout are remembered; tock_output_done turns EPIPE
 * (`tock ls | head -1`) into a quiet success and anything else (a full
 * disk) into one line on stderr and exit status 1.
 */
#ifndef TOCK_CLI_OUTPUT_H
#define TOCK_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Bytes of one table cell after escaping; longer text is cut with "...". */
#define TOCK_OUTPUT_CELL_MAX 160

/* ---------------------------------------------------------------- tables */

struct tock_output_table;

/* tock_output_table_new returns a new table with `ncols` columns titled
 * `headers` (copied), or NULL when out of memory. Free it with
 * tock_output_table_free. */
struct tock_output_table *tock_output_table_new(size_t ncols,
                                                const char *const *headers);

/* tock_output_table_row appends one row of ncols cells (copied, escaped,
 * cut to TOCK_OUTPUT_CELL_MAX; a NULL cell prints "-"). Returns 0 or -1
 * when out of memory. */
int tock_output_table_row(struct tock_output_table *t,
                          const char *const *cells);

/* tock_output_table_print prints the header and the rows to stdout, each
 * column as wide as its widest cell, two spaces apart. */
void tock_output_table_print(const struct tock_output_table *t);

/* tock_output_table_free frees `t`; NULL does nothing. */
void tock_output_table_free(struct tock_output_table *t);

/* ----------------------------------------------------------------- times */

/* tock_output_time writes instant `ms` in the local time zone as
 * "2026-03-29 03:00:05" into buf (cap >= 32); "-" when ms <= 0. */
void tock_output_time(int64_t ms, char *buf, size_t cap);

/* tock_output_time_full writes `ms` as local RFC 3339 with its offset and
 * milliseconds when there are any: "2026-03-29T03:00:05.250+02:00"; "-"
 * when ms <= 0. cap >= 40. */
void tock_output_time_full(int64_t ms, char *buf, size_t cap);

/* ---------------------------------------------------------------- text */

/* tock_output_escape writes the escaped first line of src[0..len) into
 * buf (capacity cap): leading line ends skipped, a trailing "\r" dropped,
 * control characters, invalid UTF-8 and bidi controls escaped, cut with
 * "..." when longer or when more text follows (a final newline is not
 * more text). */
void tock_output_escape(const char *src, size_t len, char *buf, size_t cap);

/* tock_output_line prints `text` (escaped) and a newline on stdout. */
void tock_output_line(const char *text);

/* ---------------------------------------------------------------- JSON */

/* tock_output_jstr returns a new JSON string of src[0..len), or JSON null
 * when src is NULL. Text that is not valid UTF-8 is escaped first (JSON
 * strings must be UTF-8). NULL when out of memory. */
json_t *tock_output_jstr(const char *src, size_t len);

/* tock_output_jtime returns a JSON integer of `ms`, or null when ms is
 * `none`. */
json_t *tock_output_jint_or_null(int64_t v, int64_t none);

/* tock_output_json prints `obj` as one compact JSON line on stdout and
 * releases it (json_decref, also on failure). Returns 0, or -1 when out of
 * memory. */
int tock_output_json(json_t *obj);

/* -------------------------------------------------------------- ending */

/* tock_output_flush flushes stdout and reports whether it is still
 * writable (false after any write error, EPIPE included). */
bool tock_output_flush(void);

/* tock_output_done flushes stdout and returns the exit status: `status`
 * when every write succeeded or the reader went away (EPIPE, which is
 * quiet), else 1 after one line on stderr. */
int tock_output_done(int status);

#endif /* TOCK_CLI_OUTPUT_H */
