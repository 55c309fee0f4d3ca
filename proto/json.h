/* json.h: msgpack <-> JSON, for args typed on the command line and for
 * `tock inspect`, with jansson.
 *
 * RENDERING. msgpack has values JSON lacks; each gets one defined form, so
 * that msgpack -> JSON -> msgpack gives the same value back:
 *
 *   msgpack                     JSON
 *   nil, true/false             null, true/false
 *   int (int64 range)           integer
 *   float32, float64            real (a float32 comes back as float64)
 *   str                         string
 *   bin                         {"$bin": "<base64, RFC 4648, padded>"}
 *   array                       array
 *   map, all keys strings       object, in the map's key order
 *   any other map               {"$map": [[key, value], ...]}
 *
 * A map is rendered in the "$map" form when a key is not a string, a key
 * contains a NUL byte, or the map has exactly one pair whose key is "$bin"
 * or "$map" (so that a user's own {"$bin": ...} map stays a map). Reading
 * JSON, an object of exactly one member "$bin" must hold a base64 string
 * and becomes bin; one of exactly one member "$map" must hold an array of
 * [key, value] pairs and becomes a map; every other object becomes a map
 * with string keys. Integers beyond int64, NaN and infinity do not exist
 * on either side (jansson refuses them in JSON, tock's scan in msgpack).
 * Both directions enforce the struct tock_proto_limits of proto/scan.h;
 * JSON text with duplicate keys is refused.
 */
#ifndef TOCK_PROTO_JSON_H
#define TOCK_PROTO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/scan.h"
#include "tock/error.h"

/* tock_json_from_msgpack checks data[0..len) like tock_scan_unpack and
 * converts it. On success *out is a new jansson reference the caller
 * releases with json_decref. */
int tock_json_from_msgpack(const uint8_t *data, size_t len,
                           const struct tock_proto_limits *lim, json_t **out,
                           struct tock_error *err);

/* tock_json_msgpack_to_text is tock_json_from_msgpack followed by
 * json_dumps(`flags` | JSON_ENCODE_ANY): *out is a new NUL-terminated
 * string the caller frees with tock_free. */
int tock_json_msgpack_to_text(const uint8_t *data, size_t len,
                              const struct tock_proto_limits *lim, size_t flags,
                              char **out, struct tock_error *err);

/* tock_json_to_msgpack converts `json` (borrowed) to one msgpack value
 * within `lim` (and at most lim->max_args bytes): *out is a new buffer of
 * *outlen bytes the caller frees with tock_free. Errors: TOCK_ETOODEEP,
 * TOCK_ETOOBIG, TOCK_EFORMAT (bad "$bin"/"$map"), TOCK_EDUPKEY (a "$map"
 * with equal keys), TOCK_ENOMEM. `what` names the value ("args"). */
int tock_json_to_msgpack(const json_t *json,
                         const struct tock_proto_limits *lim, const char *what,
                         uint8_t **out, size_t *outlen,
                         struct tock_error *err);

/* tock_json_text_to_msgpack parses `len` bytes of JSON text (any value,
 * not only objects; duplicate keys refused; syntax errors reported with
 * line and column) and converts it as tock_json_to_msgpack does. */
int tock_json_text_to_msgpack(const char *text, size_t len,
                              const struct tock_proto_limits *lim,
                              const char *what, uint8_t **out, size_t *outlen,
                              struct tock_error *err);

#endif /* TOCK_PROTO_JSON_H */
