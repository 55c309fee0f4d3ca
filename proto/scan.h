/* scan.h: bounds every msgpack byte string before msgpack-c sees it.
 *
 * msgpack-c 4.0 trusts its input: it allocates from a container header
 * before reading a single element (`dd ff ff ff ff`, an array32 header,
 * asks for ~96 GiB), reports nesting deeper than 32 as out-of-memory,
 * returns "need more bytes" on a truncated buffer and success with trailing
 * bytes left. So tock never hands it untrusted bytes directly. First
 * tock_scan_bytes walks the raw bytes with a fixed-size stack and no
 * allocation, and refuses anything over the limits below, anything
 * truncated, reserved or ext type bytes, invalid UTF-8, NaN/Inf, uint64
 * above INT64_MAX and trailing bytes. Only then is msgpack-c asked to unpack,
 * and because every count is now bounded by the bytes actually present, it
 * allocates at most ~48 bytes per input byte.
 *
 * Rejected alternative: libmsgpuck's mp_check (Debian libmsgpuck-dev) also
 * validates without allocating, but checks neither UTF-8 nor our limits and
 * would add a dependency for 200 lines of code.
 */
#ifndef TOCK_PROTO_SCAN_H
#define TOCK_PROTO_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "tock/error.h"

/* Hard ceiling of max_depth: msgpack-c fails (as NOMEM) beyond 32. */
#define TOCK_PROTO_DEPTH_CEILING 30

#define TOCK_PROTO_MAX_ARGS (1024 * 1024)
/* A frame carries up to 1 MiB of args plus the other, bounded fields. */
#define TOCK_PROTO_MAX_FRAME (TOCK_PROTO_MAX_ARGS + 64 * 1024)
#define TOCK_PROTO_MAX_DEPTH 16
#define TOCK_PROTO_MAX_COUNT 65536
#define TOCK_PROTO_MAX_STR TOCK_PROTO_MAX_ARGS

/* tock_proto_limits: the bounds a decoder enforces. A zero field means its
 * default (so `struct tock_proto_limits lim = {0}` is the defaults);
 * max_depth above TOCK_PROTO_DEPTH_CEILING is lowered to it. */
struct tock_proto_limits {
    size_t max_frame; /* bytes of one whole frame (1 MiB + 64 KiB) */
    size_t max_depth; /* nested arrays/maps, the top level is 1 (16) */
    size_t max_count; /* items of one array, pairs of one map (65536) */
    size_t max_str;   /* bytes of one str or bin (1 MiB) */
    size_t max_args;  /* bytes of a job's or task's args value (1 MiB) */
};

/* tock_proto_limits_resolve returns `lim` (NULL allowed) with every zero
 * field replaced by its default and max_depth capped. */
struct tock_proto_limits
tock_proto_limits_resolve(const struct tock_proto_limits *lim);

/* tock_scan_bytes checks that data[0..len) is exactly one msgpack value
 * within `lim` (NULL: defaults), without allocating. `what` names the
 * value in messages ("task", "job args"). Errors, all "malformed <what>:
 * <reason> at byte N":
 *   TOCK_ETRUNC   empty, or data ends inside a value or a container, or a
 *                 length/count exceeds the bytes left;
 *   TOCK_ETOOBIG  frame, str/bin length or container count over a limit;
 *   TOCK_ETOODEEP nesting deeper than max_depth;
 *   TOCK_EFORMAT  reserved byte 0xc1, ext types, trailing bytes;
 *   TOCK_EUTF8    a str that is not valid UTF-8;
 *   TOCK_ERANGE   uint64 above INT64_MAX, float NaN or infinity. */
int tock_scan_bytes(const uint8_t *data, size_t len,
                    const struct tock_proto_limits *lim, const char *what,
                    struct tock_error *err);

/* tock_scan_span finds the end of the one value that starts at data[off]
 * in a buffer that tock_scan_bytes already accepted (so no limits apply):
 * *end gets the offset just past it. Returns 0, or TOCK_ETRUNC /
 * TOCK_EFORMAT / TOCK_ERANGE / TOCK_EUTF8 on bytes that were not scanned. */
int tock_scan_span(const uint8_t *data, size_t len, size_t off, size_t *end);

/* tock_scan_dupkeys refuses (TOCK_EDUPKEY) any map in `obj` that holds
 * two equal keys, comparing keys by value (1 and 0xcc 0x01 are equal, so
 * are 1.0f and 1.0). `data` is the buffer obj was unpacked from, for byte
 * offsets in the message (NULL: no offsets). Needs a scratch array for maps
 * of more than 8 pairs: TOCK_ENOMEM. */
int tock_scan_dupkeys(const msgpack_object *obj, const uint8_t *data,
                      const char *what, struct tock_error *err);

/* tock_scan_unpack runs tock_scan_bytes, then msgpack-c, then
 * tock_scan_dupkeys. On success *unpacked (which the caller initialised
 * with msgpack_unpacked_init and destroys with msgpack_unpacked_destroy)
 * holds the value; its strings and bins point into `data`, which must
 * outlive it. */
int tock_scan_unpack(const uint8_t *data, size_t len,
                     const struct tock_proto_limits *lim, const char *what,
                     msgpack_unpacked *unpacked, struct tock_error *err);

/* tock_scan_value checks that data[0..len) is one acceptable msgpack value
 * (everything tock_scan_unpack checks, plus len <= lim->max_args): the test
 * for job args from any source. */
int tock_scan_value(const uint8_t *data, size_t len,
                    const struct tock_proto_limits *lim, const char *what,
                    struct tock_error *err);

/* tock_scan_type_name returns a static name for a msgpack-c object type
 * ("integer", "float", "string", ...), for messages. */
const char *tock_scan_type_name(msgpack_object_type type);

#endif /* TOCK_PROTO_SCAN_H */
