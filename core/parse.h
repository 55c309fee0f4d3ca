/* parse.h: strict parsing of numbers and durations from flags, environment
 * variables, config lines and CLI arguments.
 *
 * Strict means: the whole text is consumed, no sign unless the range allows
 * negatives ('+5' is refused), no leading zeros ('08'), no hex, no exponent,
 * no surrounding whitespace, no overflow. Every refusal is a one-line
 * message in `err` that names `what` (e.g. "--concurrency") and the fix.
 */
#ifndef TOCK_CORE_PARSE_H
#define TOCK_CORE_PARSE_H

#include <stdint.h>

#include "tock/error.h"

/* Largest duration accepted anywhere: 100 years in ms. Far past any sane
 * schedule, and small enough that start + k*interval arithmetic on int64 ms
 * cannot overflow before year 9999. */
#define TOCK_DURATION_MAX_MS (100LL * 366 * 24 * 3600 * 1000)

/* tock_parse_int64 parses a decimal integer in [min, max] into *out. */
int tock_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out,
                     const char *what, struct tock_error *err);

/* tock_parse_duration_ms parses a duration with units into milliseconds:
 * a sequence of <digits><unit> with units ms, s, m, h, d, w, in decreasing
 * order, each at most once ("250ms", "90s", "1h30m", "2d", "2w"). A bare
 * number is refused (say which unit you mean). The result must lie in
 * [min_ms, max_ms]. */
int tock_parse_duration_ms(const char *text, int64_t min_ms, int64_t max_ms,
                           int64_t *out, const char *what,
                           struct tock_error *err);

/* tock_format_duration_ms writes the canonical text of `ms` ("1h30m",
 * "250ms", "0s") into buf (cap >= 32). Round-trips with
 * tock_parse_duration_ms. */
void tock_format_duration_ms(int64_t ms, char *buf, size_t cap);

#endif /* TOCK_CORE_PARSE_H */
