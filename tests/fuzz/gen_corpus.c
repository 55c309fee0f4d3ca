/* gen_corpus.c: writes the seed corpora of the proto fuzz targets: golden
 * encodings made by tock's own encoders, plus every malformed item of
 * RELIABILITY.md (c) "Protocol frames" as a literal byte string.
 *
 * Not part of the build (only tests/fuzz/fuzz_*.c are targets). Run it
 * once after a format change, from the worktree root:
 *
 *   cc -std=c11 -D_GNU_SOURCE -I. -Iinclude -Ibuild/include \
 *      tests/fuzz/gen_corpus.c \
 *      build/libtock.a $(pkg-config --libs msgpack jansson hiredis libuv \
 *      sqlite3) -lm -lpthread -o build/gen_corpus
 *   build/gen_corpus tests/fuzz/corpus
 *
 * It only adds or overwrites its own named files; crash inputs that were
 * added to a corpus by hand stay.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "proto/frame.h"
#include "proto/json.h"

static const char *root;

static void put(const char *target, const char *name, const void *data,
                size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

#define PUT(target, name, lit) put(target, name, lit, sizeof(lit) - 1)

/* json_put converts JSON text to msgpack (no args checks beyond the scan's)
 * and writes it: handy for frames with a missing or mistyped field. */
static void json_put(const char *target, const char *name, const char *json)
{
    struct tock_error err = {0};
    uint8_t *mp = NULL;
    size_t len;

    if (tock_json_text_to_msgpack(json, strlen(json), NULL, "seed", &mp, &len,
                                  &err) != 0) {
        fprintf(stderr, "%s/%s: %s\n", target, name, err.msg);
        exit(1);
    }
    put(target, name, mp, len);
    tock_free(mp);
}

static void check(int rc, const struct tock_error *err)
{
    if (rc != 0) {
        fprintf(stderr, "gen_corpus: %s\n", err->msg);
        exit(1);
    }
}

static int args_from(uint8_t **args, size_t *len, const char *json,
                     struct tock_error *err)
{
    return tock_json_text_to_msgpack(json, strlen(json), NULL, "args", args,
                                     len, err);
}

/* put_variants writes a golden frame, its first half (truncated) and the
 * frame with a trailing byte. */
static void put_variants(const char *target, const char *name,
                         const uint8_t *buf, size_t len)
{
    char n[256];
    uint8_t *more = malloc(len + 1);

    put(target, name, buf, len);
    snprintf(n, sizeof n, "%s-truncated", name);
    put(target, n, buf, len / 2);
    memcpy(more, buf, len);
    more[len] = 0x00;
    snprintf(n, sizeof n, "%s-trailing", name);
    put(target, n, more, len + 1);
    free(more);
}

/* ----------------------------------------------------- generic malformed */

static void put_malformed(const char *t)
{
    uint8_t deep[64];
    size_t i;

    PUT(t, "bad-empty", "");
    PUT(t, "bad-array-top", "\x93\x01\x02\x03");
    PUT(t, "bad-array32-ffffffff", "\xdd\xff\xff\xff\xff");
    PUT(t, "bad-array32-20000000", "\xdd\x20\x00\x00\x00");
    PUT(t, "bad-map32-20000000", "\xdf\x20\x00\x00\x00");
    PUT(t, "bad-str32-over", "\x81\xa1v\xdb\xff\xff\xff\xff" "aaaaaaaaaaaa");
    PUT(t, "bad-bin32-over", "\x81\xa1v\xc6\x00\x00\x01\x00" "abc");
    PUT(t, "bad-c1", "\x81\xa1v\xc1");
    PUT(t, "bad-fixext", "\x81\xa1v\xd4\x01\x00");
    PUT(t, "bad-ext8", "\x81\xa1v\xc7\x01\x05\x00");
    PUT(t, "bad-utf8", "\x81\xa1v\xa2\xff\xfe");
    PUT(t, "bad-utf8-overlong", "\x81\xa2\xc0\x80\x01");
    PUT(t, "bad-utf8-surrogate", "\x81\xa3\xed\xa0\x80\x01");
    PUT(t, "bad-uint64", "\x81\xa1v\xcf\x80\x00\x00\x00\x00\x00\x00\x00");
    PUT(t, "bad-nan", "\x81\xa1v\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00");
    PUT(t, "bad-inf32", "\x81\xa1v\xca\x7f\x80\x00\x00");
    PUT(t, "bad-dupkey", "\x82\xa1v\x01\xa1v\x01");
    PUT(t, "bad-intkey", "\x82\xa1v\x01\x01\x02");
    PUT(t, "bad-no-version", "\x81\x01\x02");
    json_put(t, "bad-version-2", "{\"v\":2}");
    json_put(t, "bad-version-0", "{\"v\":0}");
    json_put(t, "bad-version-str", "{\"v\":\"1\"}");
    json_put(t, "bad-version-float", "{\"v\":1.0}");
    memcpy(deep, "\x82\xa1v\x01\xa4" "args", 9);
    for (i = 9; i < 49; i++)
        deep[i] = 0x91;
    deep[49] = 0x90;
    put(t, "bad-deep-40", deep, 50);
    put(t, "bad-deep-17", deep, 9 + 17);
}

/* ------------------------------------------------------------ messages */

static void gen_job(void)
{
    static const char t[] = "fuzz_job";
    struct tock_error err = {0};
    struct tock_job j;
    uint8_t *buf = NULL;
    size_t len;

    tock_job_init_defaults(&j);
    j.id = tock_strdup("nightly-backup");
    j.name = tock_strdup("Nightly backup \xe2\x80\x94 caf\xc3\xa9");
    j.handler = tock_strdup("backup");
    j.trigger = tock_strdup("cron:0 3 * * *@Europe/Berlin");
    check(args_from(&j.args, &j.args_len,
                    "{\"path\":\"/srv\",\"keep\":7,\"b\":{\"$bin\":"
                    "\"AAEC\"},\"m\":{\"$map\":[[1,2]]},\"f\":1.5}", &err),
          &err);
    j.misfire_grace_ms = -1;
    j.max_instances = 3;
    j.retries = 5;
    j.retry_backoff_ms = 1000;
    j.start_ms = 1;
    j.end_ms = TOCK_TIME_MAX_MS;
    j.version = 9;
    j.paused = true;
    check(tock_proto_encode_job(&j, &buf, &len, &err), &err);
    put_variants(t, "golden-full", buf, len);
    tock_free(buf);
    tock_job_clear(&j);
    json_put(t, "golden-minimal", "{\"v\":1,\"id\":\"a\",\"handler\":\"h\","
                                  "\"trigger\":\"interval:90s\"}");
    json_put(t, "unknown-keys", "{\"zz\":[1,{}],\"trigger\":\"date:2030-01-01"
                                "T00:00:00Z\",\"id\":\"a\",\"handler\":\"h\","
                                "\"v\":1,\"future\":{\"$bin\":\"\"}}");
    json_put(t, "bad-missing-trigger", "{\"v\":1,\"id\":\"a\",\"handler\":"
                                       "\"h\"}");
    json_put(t, "bad-type-retries", "{\"v\":1,\"id\":\"a\",\"handler\":\"h\","
                                    "\"trigger\":\"interval:1s\","
                                    "\"retries\":1.0}");
    json_put(t, "bad-id-colon", "{\"v\":1,\"id\":\"a:b\",\"handler\":\"h\","
                                "\"trigger\":\"interval:1s\"}");
    json_put(t, "bad-start-after-end", "{\"v\":1,\"id\":\"a\",\"handler\":"
                                       "\"h\",\"trigger\":\"interval:1s\","
                                       "\"start_ms\":5,\"end_ms\":4}");
    PUT(t, "bad-dup-handler", "\x84\xa1v\x01\xa2id\xa1" "a\xa7handler\xa1"
                              "a\xa7handler\xa1" "b");
    put_malformed(t);
}

static void gen_task(void)
{
    static const char t[] = "fuzz_task";
    struct tock_error err = {0};
    struct tock_task k = {0};
    uint8_t *buf = NULL;
    size_t len;

    k.occ = tock_strdup("nightly-backup@1700000000000");
    k.job = tock_strdup("nightly-backup");
    k.handler = tock_strdup("backup");
    k.queue = tock_strdup("default");
    check(args_from(&k.args, &k.args_len,
                    "[1,\"two\",null,true,{\"k\":-0.0}]", &err),
          &err);
    k.sched_ms = 1700000000000LL;
    k.fire_ms = 1700000000250LL;
    k.attempt = 2;
    k.timeout_ms = 30000;
    k.max_deliveries = 3;
    check(tock_proto_encode_task(&k, &buf, &len, &err), &err);
    put_variants(t, "golden-full", buf, len);
    tock_free(buf);
    tock_task_clear(&k);
    json_put(t, "golden-minimal", "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\","
                                  "\"handler\":\"h\",\"queue\":\"q\","
                                  "\"sched_ms\":5,\"fire_ms\":5,"
                                  "\"attempt\":1}");
    json_put(t, "bad-sched-string", "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\","
                                    "\"handler\":\"h\",\"queue\":\"q\","
                                    "\"sched_ms\":\"5\",\"fire_ms\":5,"
                                    "\"attempt\":1}");
    json_put(t, "bad-occ-mismatch", "{\"v\":1,\"occ\":\"j@6\",\"job\":\"j\","
                                    "\"handler\":\"h\",\"queue\":\"q\","
                                    "\"sched_ms\":5,\"fire_ms\":5,"
                                    "\"attempt\":1}");
    json_put(t, "bad-attempt-0", "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\","
                                 "\"handler\":\"h\",\"queue\":\"q\","
                                 "\"sched_ms\":5,\"fire_ms\":5,"
                                 "\"attempt\":0}");
    json_put(t, "bad-time-negative", "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\","
                                     "\"handler\":\"h\",\"queue\":\"q\","
                                     "\"sched_ms\":5,\"fire_ms\":-1,"
                                     "\"attempt\":1}");
    json_put(t, "bad-time-year-10000", "{\"v\":1,\"occ\":\"j@5\",\"job\":"
                                       "\"j\",\"handler\":\"h\",\"queue\":"
                                       "\"q\",\"sched_ms\":5,\"fire_ms\":"
                                       "253402300800000,\"attempt\":1}");
    PUT(t, "bad-dup-handler", "\x83\xa1v\x01\xa7handler\xa1" "a\xa7handler"
                              "\xa1" "b");
    put_malformed(t);
}

static void gen_result(void)
{
    static const char t[] = "fuzz_result";
    struct tock_error err = {0};
    struct tock_result r = {0};
    uint8_t *buf = NULL;
    size_t len;

    r.occ = tock_strdup("nightly-backup@1700000000000");
    r.status = TOCK_STATUS_ERROR;
    r.worker = tock_strdup("host-a.4242");
    r.attempt = 1;
    r.started_ms = 1700000000300LL;
    r.finished_ms = 1700000009000LL;
    r.exit_code = 3;
    r.error = tock_strdup("disk full\nat write()");
    r.output = tock_memdup("\x00\x01partial\xff", 10);
    r.output_len = 10;
    check(tock_proto_encode_result(&r, &buf, &len, &err), &err);
    put_variants(t, "golden-full", buf, len);
    tock_free(buf);
    tock_result_clear(&r);
    json_put(t, "golden-minimal", "{\"v\":1,\"occ\":\"j@5\",\"status\":\"ok\","
                                  "\"worker\":\"w\",\"attempt\":1,"
                                  "\"started_ms\":1,\"finished_ms\":2}");
    json_put(t, "bad-status", "{\"v\":1,\"occ\":\"j@5\",\"status\":\"great\","
                              "\"worker\":\"w\",\"attempt\":1,"
                              "\"started_ms\":1,\"finished_ms\":2}");
    json_put(t, "bad-started-after", "{\"v\":1,\"occ\":\"j@5\",\"status\":"
                                     "\"ok\",\"worker\":\"w\",\"attempt\":1,"
                                     "\"started_ms\":3,\"finished_ms\":2}");
    json_put(t, "bad-output-str", "{\"v\":1,\"occ\":\"j@5\",\"status\":\"ok\","
                                  "\"worker\":\"w\",\"attempt\":1,"
                                  "\"started_ms\":1,\"finished_ms\":2,"
                                  "\"output\":\"text\"}");
    put_malformed(t);
}

static void gen_event(void)
{
    static const char t[] = "fuzz_event";
    struct tock_error err = {0};
    struct tock_event e = {0};
    uint8_t *buf = NULL;
    size_t len;

    e.type = TOCK_EVENT_LEASE_EXPIRED;
    e.ts_ms = 1700000060000LL;
    e.job = tock_strdup("nightly-backup");
    e.occ = tock_strdup("nightly-backup@1700000000000");
    e.node = tock_strdup("sched-2");
    e.detail = tock_strdup("worker host-a went silent for 30s");
    check(tock_proto_encode_event(&e, &buf, &len, &err), &err);
    put_variants(t, "golden-full", buf, len);
    tock_free(buf);
    tock_event_clear(&e);
    PUT(t, "golden-added", "\x83\xa1v\x01\xa4type\xa5" "added\xa5ts_ms\xcf"
                           "\x00\x00\x01\x8b\xcf\xe5\x68\x00");
    json_put(t, "bad-type", "{\"v\":1,\"type\":\"exploded\",\"ts_ms\":1}");
    json_put(t, "bad-occ", "{\"v\":1,\"type\":\"fired\",\"ts_ms\":1,"
                           "\"occ\":\"j@05\"}");
    put_malformed(t);
}

/* -------------------------------------------------------- frame, args */

static void gen_frame(void)
{
    static const char t[] = "fuzz_frame";
    uint8_t stream[512];
    size_t n;

    /* First byte: feed size - 1. Then the stream. */
    n = 0;
    stream[n++] = 0;
    memcpy(stream + n, "\x00\x00\x00\x01\xc0\x00\x00\x00\x02\x91\x01", 11);
    n += 11;
    put(t, "two-frames-bytewise", stream, n);
    stream[0] = 3;
    put(t, "two-frames-by4", stream, n);
    PUT(t, "zero-prefix", "\x07\x00\x00\x00\x01\xc0\x00\x00\x00\x00");
    PUT(t, "huge-prefix", "\x00\xff\xff\xff\xff" "abc");
    PUT(t, "over-limit", "\x10\x00\x00\x10\x01" "abc");
    PUT(t, "eof-mid-body", "\x02\x00\x00\x00\x05" "ab");
    PUT(t, "eof-mid-prefix", "\x01\x00\x00");
    PUT(t, "task-frame",
        "\x05\x00\x00\x00\x40\x88\xa1v\x01\xa3occ\xa3j@5\xa3job\xa1j\xa7"
        "handler\xa1h\xa5queue\xa1q\xa8sched_ms\x05\xa7" "fire_ms\x05\xa7"
        "attempt\x01");
}

static void gen_args(void)
{
    static const char t[] = "fuzz_args";

    PUT(t, "mp-every-kind",
        "\x8a\xa1n\xc0\xa1t\xc3\xa1i\xd3\x80\x00\x00\x00\x00\x00\x00\x00"
        "\xa1" "f\xcb\x40\x09\x21\xfb\x54\x44\x2d\x18\xa1s\xa0\xa1" "b\xc4\x02"
        "\x00\xff\xa1" "a\x93\x01\x90\x80\xa1m\x82\x01\x02\xc2\x03\xa1k\x81"
        "\xa4$bin\x01\xa1z\x81\x92\x01\x02\xc4\x00");
    PUT(t, "mp-float32", "\x92\xca\x3f\xc0\x00\x00\xcb\x80\x00\x00\x00\x00"
                         "\x00\x00\x00");
    PUT(t, "mp-noncanonical-ints", "\x93\xcc\x01\xd0\x05\xd3\x00\x00\x00\x00"
                                   "\x00\x00\x00\x07");
    PUT(t, "mp-dup-int-keys", "\x82\x01\xc0\xcc\x01\xc0");
    PUT(t, "mp-nul-key", "\x81\xa2" "a\x00\x01");
    PUT(t, "json-object", "{\"path\":\"/srv\",\"keep\":7,\"tags\":[\"a\","
                          "\"b\"],\"x\":null,\"y\":-0.0,\"z\":1e300}");
    PUT(t, "json-bin", "{\"$bin\":\"Zm9vYmE=\"}");
    PUT(t, "json-map", "{\"$map\":[[1,2],[[3],{\"$bin\":\"\"}],[\"s\",4]]}");
    PUT(t, "json-dup", "{\"a\":1,\"a\":2}");
    PUT(t, "json-map-dup", "{\"$map\":[[1,2],[1,3]]}");
    PUT(t, "json-bad-b64", "{\"$bin\":\"Zh==\"}");
    PUT(t, "json-nul", "\"a\\u0000b\"");
    PUT(t, "json-deep", "[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]");
    PUT(t, "json-bigint", "[99999999999999999999]");
    put_malformed(t);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
        return 2;
    }
    root = argv[1];
    mkdir(root, 0755);
    gen_job();
    gen_task();
    gen_result();
    gen_event();
    gen_frame();
    gen_args();
    return 0;
}
