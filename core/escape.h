/* escape.h: make untrusted bytes safe to print on one terminal line.
 *
 * Job names, error texts and handler output reach terminals through logs,
 * `tock ls` and `tock runs`. Control characters (newlines forge log lines,
 * ESC sequences drive the terminal), invalid UTF-8 and Unicode bidi
 * overrides (which reorder what a person reads) are escaped; everything
 * else, including valid non-ASCII UTF-8, passes through.
 */
#ifndef TOCK_CORE_ESCAPE_H
#define TOCK_CORE_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* tock_escape_line writes the escaped form of `src[0..len)` into `dst`
 * (capacity `cap` > 0), always NUL-terminated, never splitting an escape
 * sequence or a UTF-8 character. Newline becomes \n, tab \t, CR \r, other
 * control bytes, DEL and invalid UTF-8 bytes \xNN, bidi controls \u{NNNN}.
 * Returns the number of source bytes consumed (< len when truncated). */
size_t tock_escape_line(char *dst, size_t cap, const char *src, size_t len);

/* tock_utf8_valid reports whether `s[0..len)` is well-formed UTF-8 (no
 * overlongs, no surrogates, nothing above U+10FFFF). */
bool tock_utf8_valid(const char *s, size_t len);

/* tock_utf8_decode decodes one well-formed UTF-8 character at `s` (at most
 * `len` bytes) into *cp and returns its length, or 0 when the bytes there are
 * not well-formed UTF-8. */
size_t tock_utf8_decode(const unsigned char *s, size_t len, unsigned *cp);

#endif /* TOCK_CORE_ESCAPE_H */
