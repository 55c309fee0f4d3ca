/* codec.h: msgpack encoding and strict decoding of jobs, tasks, results and
 * events. No I/O: bytes in, structs out, and back.
 *
 * FRAME LAYOUT (protocol version 1)
 *
 * Every frame is one msgpack map with string keys. The first pair the
 * encoder writes is "v": <protocol version, a positive integer>; the
 * remaining pairs follow in the order of the tables below. Readers do not
 * depend on key order. A frame is at most TOCK_PROTO_MAX_FRAME bytes
 * (1 MiB + 64 KiB); on a pipe it is wrapped by proto/frame.h, in a Redis
 * stream entry or SQLite row it is the field value as is.
 *
 *   type       msgpack encodings accepted
 *   int        positive/negative fixint, uint8..64, int8..64 (not float:
 *              1.0 is refused where an int belongs), within int64
 *   bool       true / false
 *   str        fixstr, str8/16/32: valid UTF-8 with no NUL byte
 *   bin        bin8/16/32
 *   value      any msgpack value but ext (args: kept byte for byte)
 *
 *   job:    id str*, name str, queue str ("default"), handler str*,
 *           args value, trigger str*, misfire_grace_ms int (60000; -1 =
 *           unlimited), coalesce bool (true), max_instances int (1),
 *           jitter_ms int (0), timeout_ms int (0 = none), retries int (0),
 *           retry_backoff_ms int (0), max_deliveries int (3), paused bool
 *           (false), start_ms int (0 = none), end_ms int (0 = none),
 *           version int (0)
 *   task:   occ str*, job str*, handler str*, args value, queue str*,
 *           sched_ms int*, fire_ms int*, attempt int*, timeout_ms int (0),
 *           max_deliveries int (3)
 *   result: occ str*, status str* (ok | error | timeout | crashed |
 *           cancelled), worker str*, attempt int*, started_ms int*,
 *           finished_ms int*, exit_code int (-1 = none), error str,
 *           output bin (<= 64 KiB)
 *   event:  type str* (see TOCK_EVENT_TYPE_MAP), ts_ms int*, job str,
 *           occ str, node str, detail str
 *
 * (* = required; the default of an optional field in parentheses; an
 * optional str/bin/value the struct holds as NULL is left out.)
 *
 * UNITS. Every `_ms` field is milliseconds. Instants (sched, fire, start,
 * end, started, finished, ts) are absolute Unix times in 0..9999-12-31;
 * durations (misfire_grace, jitter, timeout, retry_backoff) are relative,
 * because node clocks differ: a worker turns timeout_ms into a deadline on
 * its own monotonic clock. Node-local state (leases, pids, spool offsets)
 * never goes on the wire.
 *
 * VERSION RULES. A reader accepts a frame whose "v" it knows. A frame with
 * a higher "v" (written by a newer tock) or with v <= 0 is refused with
 * TOCK_EVERSION and a message saying which side to upgrade; it is never
 * guessed at. Unknown keys are ignored, so a writer may add an optional key
 * without a version bump.
 *
 * HOW TO BUMP THE FORMAT.
 *  1. Adding an optional key whose absence means the old behaviour: no
 *     bump. Add it to the table in codec.c with required = false and a
 *     default in the struct's init; old readers ignore it.
 *  2. Anything else (a new required key, a changed type, unit or meaning, a
 *     removed key, a new status or event type name): raise
 *     TOCK_PROTO_VERSION, keep the old table as a reader (decode_message
 *     picks the table by "v"), and add golden frames of the new version to
 *     tests/unit/test_proto.c and the fuzz corpora, keeping the old ones.
 *  3. Roll out readers before writers: a node encodes the new version only
 *     once every node reads it (a TOCK_PROTO_WRITE_VERSION setting, kept at
 *     the old value for one release).
 *  4. Document the change in docs/protocol.md under "Versions".
 */
#ifndef TOCK_PROTO_CODEC_H
#define TOCK_PROTO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"
#include "proto/scan.h"
#include "tock/error.h"

#define TOCK_PROTO_VERSION 1

/* ---------------------------------------------------------------- output */

/* tock_proto_buf: a growable byte buffer in libtock's allocator, and the
 * msgpack_packer write callback that appends to it. On allocation failure
 * `oom` is set and later writes are dropped; check it once at the end. */
struct tock_proto_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool oom;
};

/* tock_proto_buf_write appends len bytes: the msgpack_packer_write
 * callback (data is a struct tock_proto_buf *). Returns 0 or -1. */
int tock_proto_buf_write(void *data, const char *buf, size_t len);

/* tock_proto_buf_release frees the buffer's memory and zeroes it. */
void tock_proto_buf_release(struct tock_proto_buf *b);

/* -------------------------------------------------------------- encoders */

/* tock_proto_encode_<x> validates *in (tock_<x>_validate with the default
 * limits) and encodes it. On success *out is a new buffer of *outlen bytes
 * the caller must free with tock_free. Errors: the validation codes,
 * TOCK_ETOOBIG when the frame would exceed TOCK_PROTO_MAX_FRAME,
 * TOCK_ENOMEM. *out is NULL on error. */
int tock_proto_encode_job(const struct tock_job *in, uint8_t **out,
                          size_t *outlen, struct tock_error *err);
int tock_proto_encode_task(const struct tock_task *in, uint8_t **out,
                           size_t *outlen, struct tock_error *err);
int tock_proto_encode_result(const struct tock_result *in, uint8_t **out,
                             size_t *outlen, struct tock_error *err);
int tock_proto_encode_event(const struct tock_event *in, uint8_t **out,
                            size_t *outlen, struct tock_error *err);

/* -------------------------------------------------------------- decoders */

/* tock_proto_decode_<x> decodes data[0..len) into *out, which it
 * overwrites without freeing (pass a zeroed or cleared struct); the caller
 * frees the result with tock_<x>_clear. `lim` may be NULL (defaults). The
 * bytes are checked by tock_scan_unpack first (limits, truncation, UTF-8,
 * duplicate keys, trailing bytes: see scan.h), then:
 *   TOCK_ETYPE     the frame is not a map, a key is not a string, a field
 *                  has the wrong type;
 *   TOCK_EMISSING  "v" or a required field is missing;
 *   TOCK_EVERSION  "v" is not a version this tock reads;
 *   TOCK_ERANGE    an int field does not fit its member;
 *   TOCK_EFORMAT   a str field contains a NUL byte;
 *   TOCK_EINVAL/ERANGE/... from tock_<x>_validate ("invalid task: ...").
 * Messages read "malformed task: <reason> at byte N". On error *out is
 * left zeroed. */
int tock_proto_decode_job(const uint8_t *data, size_t len,
                          const struct tock_proto_limits *lim,
                          struct tock_job *out, struct tock_error *err);
int tock_proto_decode_task(const uint8_t *data, size_t len,
                           const struct tock_proto_limits *lim,
                           struct tock_task *out, struct tock_error *err);
int tock_proto_decode_result(const uint8_t *data, size_t len,
                             const struct tock_proto_limits *lim,
                             struct tock_result *out, struct tock_error *err);
int tock_proto_decode_event(const uint8_t *data, size_t len,
                            const struct tock_proto_limits *lim,
                            struct tock_event *out, struct tock_error *err);

/* ------------------------------------------------------------- equality */

/* tock_proto_<x>_equal reports whether two structs hold the same value in
 * every field that goes on the wire (strings and bytes by content). */
bool tock_proto_job_equal(const struct tock_job *a, const struct tock_job *b);
bool tock_proto_task_equal(const struct tock_task *a,
                           const struct tock_task *b);
bool tock_proto_result_equal(const struct tock_result *a,
                             const struct tock_result *b);
bool tock_proto_event_equal(const struct tock_event *a,
                            const struct tock_event *b);

#endif /* TOCK_PROTO_CODEC_H */
