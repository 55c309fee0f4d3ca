/* escape.c: printable single-line escaping and UTF-8 validation. */
#include "core/escape.h"

#include <stdio.h>
#include <string.h>

/* ----------------------------------------------------------------- UTF-8 */

size_t tock_utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned c, min;
    size_t n, i;

    if (len == 0)
        return 0;
    c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, c &= 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, c &= 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

bool tock_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;
    unsigned cp;

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        n = tock_utf8_decode(p + i, len - i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* ------------------------------------------------------------- escaping */

static bool is_bidi_control(unsigned cp)
{
    return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

/* escape_one renders the character at p into out (>= 16 bytes) and returns
 * its source length; *outlen gets the rendered length. */
static size_t escape_one(const unsigned char *p, size_t len, char *out,
                         size_t *outlen)
{
    unsigned cp;
    size_t n;

    if (*p == '\n' || *p == '\t' || *p == '\r') {
        out[0] = '\\';
        out[1] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
        *outlen = 2;
        return 1;
    }
    if (*p < 0x20 || *p == 0x7f) {
        *outlen = (size_t)snprintf(out, 16, "\\x%02x", *p);
        return 1;
    }
    if (*p < 0x80) {
        out[0] = (char)*p;
        *outlen = 1;
        return 1;
    }
    n = tock_utf8_decode(p, len, &cp);
    if (n == 0) {
        *outlen = (size_t)snprintf(out, 16, "\\x%02x", *p);
        return 1;
    }
    if (is_bidi_control(cp)) {
        *outlen = (size_t)snprintf(out, 16, "\\u{%04x}", cp);
        return n;
    }
    memcpy(out, p, n);
    *outlen = n;
    return n;
}

size_t tock_escape_line(char *dst, size_t cap, const char *src, size_t len)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t in = 0, out = 0, used, outlen;
    char piece[16];

    if (cap == 0)
        return 0;
    while (in < len) {
        used = escape_one(p + in, len - in, piece, &outlen);
        if (out + outlen >= cap)
            break;
        memcpy(dst + out, piece, outlen);
        out += outlen;
        in += used;
    }
    dst[out] = '\0';
    return in;
}
