/* fuzz_codec.h: the body shared by the four codec fuzz targets
 * (fuzz_job.c, fuzz_task.c, fuzz_result.c, fuzz_event.c).
 *
 * Property, beyond "never crashes, never leaks": whatever decodes must
 * encode, the encoding must decode to an equal struct, and encoding that
 * again must give the same bytes. A mismatch aborts, so libFuzzer keeps the
 * input as a crash.
 */
#ifndef TOCK_FUZZ_CODEC_H
#define TOCK_FUZZ_CODEC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const struct tock_error *err)
{
    fprintf(stderr, "round trip broken: %s: %s\n", what,
            err ? err->msg : "");
    abort();
}

/* TOCK_FUZZ_CODEC(x) defines LLVMFuzzerTestOneInput for struct tock_<x>. */
#define TOCK_FUZZ_CODEC(x)                                                     \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)               \
    {                                                                          \
        struct tock_##x a = {0}, b = {0};                                      \
        struct tock_error err = {0};                                           \
        uint8_t *enc = NULL, *enc2 = NULL;                                     \
        size_t len = 0, len2 = 0;                                              \
                                                                               \
        if (tock_proto_decode_##x(data, size, NULL, &a, &err) != 0) {          \
            if (err.code == 0 || err.msg[0] == '\0')                           \
                fuzz_fail("an error without a message", &err);                 \
            return 0;                                                          \
        }                                                                      \
        if (tock_proto_encode_##x(&a, &enc, &len, &err) != 0)                  \
            fuzz_fail("decoded value does not encode", &err);                  \
        if (tock_proto_decode_##x(enc, len, NULL, &b, &err) != 0)              \
            fuzz_fail("encoding does not decode", &err);                       \
        if (!tock_proto_##x##_equal(&a, &b))                                   \
            fuzz_fail("decode(encode(x)) != x", NULL);                         \
        if (tock_proto_encode_##x(&b, &enc2, &len2, &err) != 0 ||              \
            len2 != len || memcmp(enc, enc2, len) != 0)                        \
            fuzz_fail("encoding is not deterministic", &err);                  \
        tock_free(enc);                                                        \
        tock_free(enc2);                                                       \
        tock_##x##_clear(&a);                                                  \
        tock_##x##_clear(&b);                                                  \
        return 0;                                                              \
    }

#endif /* TOCK_FUZZ_CODEC_H */
