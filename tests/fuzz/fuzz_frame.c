/* fuzz_frame.c: libFuzzer target for the pipe frame reader.
 *
 * The first input byte picks a feed size (1..256 bytes); the rest is the
 * stream. Property: feeding the stream in pieces gives exactly the frames
 * and the final error that feeding it whole gives, and every frame body is
 * then offered to the task decoder (as a worker would). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAME 4096
#define MAX_SEEN 512

struct seen {
    size_t n;
    size_t len[MAX_SEEN];
    uint32_t hash[MAX_SEEN];
    int err;
};

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;

    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

static void drain(struct tock_frame_reader *r, struct seen *s)
{
    const uint8_t *body;
    size_t len;
    struct tock_task t;
    struct tock_error err;

    while (tock_frame_reader_next(r, &body, &len) == 1) {
        if (len == 0 || len > MAX_FRAME)
            abort(); /* the reader promised 1..max_frame */
        if (s->n < MAX_SEEN) {
            s->len[s->n] = len;
            s->hash[s->n] = fnv1a(body, len);
        }
        s->n++;
        memset(&t, 0, sizeof t);
        if (tock_proto_decode_task(body, len, NULL, &t, &err) == 0)
            tock_task_clear(&t);
    }
}

static void run(const uint8_t *p, size_t n, size_t step, struct seen *s)
{
    struct tock_frame_reader *r = tock_frame_reader_new(MAX_FRAME);
    size_t i, k;

    if (r == NULL)
        abort();
    memset(s, 0, sizeof *s);
    for (i = 0; i < n; i += k) {
        k = n - i < step ? n - i : step;
        if (tock_frame_reader_feed(r, p + i, k) != 0)
            break;
        drain(r, s);
    }
    drain(r, s);
    s->err = tock_frame_reader_eof(r);
    if (s->err != 0 && r->errstr[0] == '\0')
        abort();
    tock_frame_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct seen whole, pieces;

    if (size == 0)
        return 0;
    run(data + 1, size - 1, size, &whole);
    run(data + 1, size - 1, (size_t)data[0] + 1, &pieces);
    if (whole.n != pieces.n || whole.err != pieces.err ||
        memcmp(whole.len, pieces.len, sizeof whole.len) != 0 ||
        memcmp(whole.hash, pieces.hash, sizeof whole.hash) != 0) {
        fprintf(stderr, "frame reader: split feeds disagree (%zu vs %zu "
                "frames, error %d vs %d)\n", whole.n, pieces.n, whole.err,
                pieces.err);
        abort();
    }
    return 0;
}
