/* frame.c: the length-prefixed frame encoder and incremental reader. */
#include "proto/frame.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/scan.h"

/* ---------------------------------------------------------------- errors */

/* reader_fail records the error and drops the buffer, as hiredis'
 * __redisReaderSetError does: nothing after a bad frame can be trusted. */
static int reader_fail(struct tock_frame_reader *r, int code, const char *msg)
{
    struct tock_error e;

    tock_error_set(&e, code, "%s", msg);
    r->err = code;
    memcpy(r->errstr, e.msg, sizeof r->errstr);
    TOCK_FREE(r->buf);
    r->pos = r->len = r->cap = 0;
    return code;
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* check_header validates the length prefix at r->pos once all 4 bytes are
 * in. Returns 0 (also when the prefix is incomplete) or the error. */
static int check_header(struct tock_frame_reader *r, uint32_t *body_len)
{
    char msg[TOCK_ERRSTR_MAX];
    uint32_t n;

    *body_len = 0;
    if (r->len - r->pos < TOCK_FRAME_HEADER)
        return 0;
    n = load_be32(r->buf + r->pos);
    if (n == 0)
        return reader_fail(r, TOCK_EFORMAT,
                           "frame length prefix is 0: a frame carries at "
                           "least 1 byte; the peer is not speaking tock's "
                           "framing");
    if (n > r->max_frame) {
        snprintf(msg, sizeof msg,
                 "frame length prefix %u exceeds the limit of %zu bytes: the "
                 "peer is not speaking tock's framing or sends too much",
                 n, r->max_frame);
        return reader_fail(r, TOCK_ETOOBIG, msg);
    }
    *body_len = n;
    return 0;
}

/* ---------------------------------------------------------------- reader */

struct tock_frame_reader *tock_frame_reader_new(size_t max_frame)
{
    struct tock_frame_reader *r = tock_calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    if (max_frame == 0)
        max_frame = TOCK_PROTO_MAX_FRAME;
    r->max_frame = max_frame > UINT32_MAX ? UINT32_MAX : max_frame;
    return r;
}

void tock_frame_reader_free(struct tock_frame_reader *r)
{
    if (r == NULL)
        return;
    tock_free(r->buf);
    tock_free(r);
}

void tock_frame_reader_reset(struct tock_frame_reader *r)
{
    TOCK_FREE(r->buf);
    r->pos = r->len = r->cap = 0;
    r->err = 0;
    r->errstr[0] = '\0';
}

size_t tock_frame_reader_pending(const struct tock_frame_reader *r)
{
    return r->len - r->pos;
}

/* make_room moves the unconsumed bytes to the front and grows the buffer
 * to hold n more: growth follows what was fed, never a length prefix. */
static int make_room(struct tock_frame_reader *r, size_t n)
{
    size_t held = r->len - r->pos, cap;
    uint8_t *grown;

    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, held);
        r->pos = 0;
        r->len = held;
    }
    if (n <= r->cap - r->len)
        return 0;
    if (n > SIZE_MAX / 2 - held)
        return reader_fail(r, TOCK_ENOMEM, "frame reader: feed too large");
    cap = r->cap ? r->cap : 4096;
    while (cap < held + n)
        cap *= 2;
    grown = tock_realloc(r->buf, cap);
    if (grown == NULL)
        return reader_fail(r, TOCK_ENOMEM,
                           "frame reader: out of memory buffering input");
    r->buf = grown;
    r->cap = cap;
    return 0;
}

int tock_frame_reader_feed(struct tock_frame_reader *r, const void *bytes,
                           size_t n)
{
    uint32_t body;
    int rc;

    if (r->err != 0)
        return r->err;
    if (n == 0)
        return 0;
    if ((rc = make_room(r, n)) != 0)
        return rc;
    memcpy(r->buf + r->len, bytes, n);
    r->len += n;
    /* Refuse a bad prefix at once, not when the caller next asks. */
    return check_header(r, &body);
}

int tock_frame_reader_next(struct tock_frame_reader *r, const uint8_t **body,
                           size_t *len)
{
    uint32_t n;
    int rc;

    *body = NULL;
    *len = 0;
    if (r->err != 0)
        return r->err;
    if ((rc = check_header(r, &n)) != 0)
        return rc;
    if (n == 0 || r->len - r->pos - TOCK_FRAME_HEADER < n)
        return 0; /* prefix or body incomplete */
    *body = r->buf + r->pos + TOCK_FRAME_HEADER;
    *len = n;
    r->pos += TOCK_FRAME_HEADER + (size_t)n;
    return 1;
}

int tock_frame_reader_eof(struct tock_frame_reader *r)
{
    char msg[TOCK_ERRSTR_MAX];
    size_t held;

    if (r->err != 0)
        return r->err;
    held = r->len - r->pos;
    if (held == 0)
        return 0;
    if (held < TOCK_FRAME_HEADER)
        snprintf(msg, sizeof msg,
                 "stream ended inside a frame: %zu of the 4 length-prefix "
                 "bytes arrived; the peer died or closed mid-write", held);
    else
        snprintf(msg, sizeof msg,
                 "stream ended inside a frame: %zu of %u body bytes arrived; "
                 "the peer died or closed mid-write",
                 held - TOCK_FRAME_HEADER, load_be32(r->buf + r->pos));
    return reader_fail(r, TOCK_ETRUNC, msg);
}

/* --------------------------------------------------------------- encoder */

void tock_frame_header(uint8_t header[TOCK_FRAME_HEADER], uint32_t len)
{
    header[0] = (uint8_t)(len >> 24);
    header[1] = (uint8_t)(len >> 16);
    header[2] = (uint8_t)(len >> 8);
    header[3] = (uint8_t)len;
}

int tock_frame_encode(const uint8_t *body, size_t len, size_t max_frame,
                      uint8_t **out, size_t *outlen, struct tock_error *err)
{
    uint8_t *buf;

    *out = NULL;
    *outlen = 0;
    if (max_frame == 0)
        max_frame = TOCK_PROTO_MAX_FRAME;
    if (max_frame > UINT32_MAX)
        max_frame = UINT32_MAX;
    if (len == 0)
        return tock_error_set(err, TOCK_EINVAL,
                              "cannot frame an empty body: encode a message "
                              "first");
    if (len > max_frame)
        return tock_error_set(err, TOCK_ETOOBIG,
                              "frame body of %zu bytes exceeds the limit of "
                              "%zu bytes",
                              len, max_frame);
    buf = tock_malloc(TOCK_FRAME_HEADER + len);
    if (buf == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory framing %zu "
                              "bytes", len);
    tock_frame_header(buf, (uint32_t)len);
    memcpy(buf + TOCK_FRAME_HEADER, body, len);
    *out = buf;
    *outlen = TOCK_FRAME_HEADER + len;
    return 0;
}
