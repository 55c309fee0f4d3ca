/* fuzz_args.c: libFuzzer target for job args: the msgpack value check and
 * both directions of the JSON rendering (proto/json.h).
 *
 * Properties: (1) bytes the scan accepts render as JSON, and that JSON
 * converts back to msgpack that renders as equal JSON and converts to the
 * same bytes again (float32 may become float64 once, never twice);
 * (2) bytes that parse as JSON text convert to msgpack that the scan
 * accepts, and that renders back to equal JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/json.h"
#include "proto/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const struct tock_error *err)
{
    fprintf(stderr, "args round trip broken: %s: %s\n", what,
            err ? err->msg : "");
    abort();
}

static void msgpack_property(const uint8_t *data, size_t size)
{
    struct tock_error err = {0};
    json_t *j1 = NULL, *j2 = NULL;
    uint8_t *m2 = NULL, *m3 = NULL;
    size_t l2, l3;

    if (tock_scan_value(data, size, NULL, "args", &err) != 0)
        return;
    if (tock_json_from_msgpack(data, size, NULL, &j1, &err) != 0)
        fail("accepted msgpack does not render", &err);
    if (tock_json_to_msgpack(j1, NULL, "args", &m2, &l2, &err) != 0)
        fail("rendered JSON does not convert back", &err);
    if (tock_json_from_msgpack(m2, l2, NULL, &j2, &err) != 0)
        fail("converted msgpack does not render", &err);
    if (!json_equal(j1, j2))
        fail("JSON differs after a round trip", NULL);
    if (tock_json_to_msgpack(j2, NULL, "args", &m3, &l3, &err) != 0 ||
        l2 != l3 || memcmp(m2, m3, l2) != 0)
        fail("msgpack differs after a second round trip", &err);
    json_decref(j1);
    json_decref(j2);
    tock_free(m2);
    tock_free(m3);
}

static void json_property(const uint8_t *data, size_t size)
{
    struct tock_error err = {0};
    uint8_t *m = NULL;
    size_t l;

    if (tock_json_text_to_msgpack((const char *)data, size, NULL, "args", &m,
                                  &l, &err) != 0)
        return;
    if (tock_scan_value(m, l, NULL, "args", &err) != 0)
        fail("converted JSON is not acceptable msgpack", &err);
    /* The text itself need not come back: "$map" with string keys renders
     * as a plain object. The msgpack it became must round-trip. */
    msgpack_property(m, l);
    tock_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msgpack_property(data, size);
    json_property(data, size);
    return 0;
}
