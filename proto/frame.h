/* frame.h: length-prefixed frames for pipes (worker supervisor <-> child).
 *
 * FRAME LAYOUT
 *
 *   +----------------+---------------------------+
 *   | length: uint32 | body: `length` bytes      |
 *   | big-endian     | (one msgpack frame,       |
 *   | 1..max_frame   |  see proto/codec.h)       |
 *   +----------------+---------------------------+
 *
 * The length counts the body only. 0 is refused (there is no empty
 * message) and so is anything above the reader's max_frame (default
 * TOCK_PROTO_MAX_FRAME). The framing carries no version of its own: the
 * body's "v" does.
 *
 * The reader works like hiredis' redisReader: feed it whatever read()
 * returned, however split, then take complete frames out with _next until
 * it says there are none. It never waits and never does I/O. A bad length
 * is refused as soon as its 4 bytes are in, before any buffer is sized
 * from it: memory only ever grows with bytes actually fed. On an error the
 * reader drops its buffer and keeps `err`/`errstr`; every later call
 * returns the same error until tock_frame_reader_reset. A stream with a
 * framing error cannot be resynchronised: close the pipe.
 */
#ifndef TOCK_PROTO_FRAME_H
#define TOCK_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "tock/error.h"

#define TOCK_FRAME_HEADER 4

struct tock_frame_reader {
    int err;                       /* 0 or a TOCK_E* code */
    char errstr[TOCK_ERRSTR_MAX];  /* one printable line when err != 0 */
    size_t max_frame;              /* largest body accepted */
    uint8_t *buf;                  /* bytes fed and not yet consumed */
    size_t pos;                    /* start of the unconsumed bytes */
    size_t len;                    /* end of the bytes held */
    size_t cap;
};

/* tock_frame_reader_new returns a new reader the caller frees with
 * tock_frame_reader_free, or NULL when out of memory. max_frame 0 means
 * TOCK_PROTO_MAX_FRAME; it is capped at UINT32_MAX. */
struct tock_frame_reader *tock_frame_reader_new(size_t max_frame);

/* tock_frame_reader_free frees the reader and its buffer; NULL is a no-op.
 * Frames returned by _next are invalid after this call. */
void tock_frame_reader_free(struct tock_frame_reader *r);

/* tock_frame_reader_feed copies n bytes into the reader. Returns 0, the
 * reader's error (TOCK_EFORMAT for a zero length, TOCK_ETOOBIG for one over
 * max_frame, TOCK_ENOMEM) or the error it already had. Frames returned by
 * _next before this call are invalid after it. */
int tock_frame_reader_feed(struct tock_frame_reader *r, const void *bytes,
                           size_t n);

/* tock_frame_reader_next takes the next complete frame: returns 1 and sets
 * *body / *len (pointing into the reader, valid until the next _feed,
 * _reset or _free), 0 when no complete frame is buffered yet, or the
 * reader's error. */
int tock_frame_reader_next(struct tock_frame_reader *r, const uint8_t **body,
                           size_t *len);

/* tock_frame_reader_eof tells the reader the stream ended: returns 0 when
 * it ended between frames, TOCK_ETRUNC ("stream ended inside a frame")
 * when bytes of an unfinished frame are buffered, or the earlier error. */
int tock_frame_reader_eof(struct tock_frame_reader *r);

/* tock_frame_reader_pending returns how many unconsumed bytes it holds. */
size_t tock_frame_reader_pending(const struct tock_frame_reader *r);

/* tock_frame_reader_reset clears the error and drops every buffered byte,
 * keeping max_frame. */
void tock_frame_reader_reset(struct tock_frame_reader *r);

/* tock_frame_header writes the 4-byte prefix of a body of `len` bytes (for
 * writev of header and body without a copy). */
void tock_frame_header(uint8_t header[TOCK_FRAME_HEADER], uint32_t len);

/* tock_frame_encode returns a new buffer (tock_free) holding the prefix and
 * a copy of the body: *out, *outlen. Refuses len 0 (TOCK_EINVAL) and len
 * over max_frame (0: TOCK_PROTO_MAX_FRAME) with TOCK_ETOOBIG. */
int tock_frame_encode(const uint8_t *body, size_t len, size_t max_frame,
                      uint8_t **out, size_t *outlen, struct tock_error *err);

#endif /* TOCK_PROTO_FRAME_H */
