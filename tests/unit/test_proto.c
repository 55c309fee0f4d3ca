/* test_proto.c: the codec: round trips, golden bytes, and literal malformed
 * frames that must each fail with one specific error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/parse.h"
#include "proto/codec.h"
#include "proto/json.h"
#include "proto/scan.h"
#include "support.h"

/* --------------------------------------------------------------- helpers */

/* A literal byte string: B("\x81\xa1v\x01") gives pointer and length. */
#define B(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

static uint8_t *from_json(const char *json, size_t *len)
{
    struct tock_error err = {0};
    uint8_t *out = NULL;

    assert_tock_ok(tock_json_text_to_msgpack(json, strlen(json), NULL, "test",
                                             &out, len, &err),
                   &err);
    return out;
}

/* expect_task_error decodes data as a task and requires `code` and a
 * message containing `text`. */
static void expect_task_error(const uint8_t *data, size_t len, int code,
                              const char *text)
{
    struct tock_task t;
    struct tock_error err = {0};
    int rc = tock_proto_decode_task(data, len, NULL, &t, &err);

    if (rc != code || strstr(err.msg, text) == NULL)
        fail_msg("expected %s containing \"%s\", got %s: %s",
                 tock_err_name(code), text, tock_err_name(rc), err.msg);
    assert_null(t.occ);
    assert_null(t.args);
}

static void expect_json_task_error(const char *json, int code,
                                   const char *text)
{
    size_t len;
    uint8_t *data = from_json(json, &len);

    expect_task_error(data, len, code, text);
    tock_free(data);
}

static char *S(const char *s)
{
    return tock_strdup(s);
}

static void sample_task(struct tock_task *t)
{
    size_t n;

    memset(t, 0, sizeof *t);
    t->proto_version = TOCK_PROTO_VERSION;
    t->occ = S("nightly-backup@1700000000000");
    t->job = S("nightly-backup");
    t->handler = S("backup");
    t->args = from_json("{\"path\":\"/srv\",\"keep\":7,\"raw\":{\"$bin\":"
                        "\"AAEC\"},\"f\":-0.0}", &n);
    t->args_len = n;
    t->queue = S("default");
    t->sched_ms = 1700000000000LL;
    t->fire_ms = 1700000000250LL;
    t->attempt = 2;
    t->timeout_ms = 30000;
    t->max_deliveries = 5;
}

static void sample_job(struct tock_job *j)
{
    size_t n;

    assert_int_equal(tock_job_init_defaults(j), 0);
    j->id = S("nightly-backup");
    j->name = S("Nightly backup \xe2\x80\x94 caf\xc3\xa9");
    tock_free(j->queue);
    j->queue = S("io.slow");
    j->handler = S("backup");
    j->args = from_json("[1, \"two\", null, true, {\"$map\": [[3, 4]]}]", &n);
    j->args_len = n;
    j->trigger = S("cron:0 3 * * *@Europe/Berlin");
    j->misfire_grace_ms = -1;
    j->coalesce = false;
    j->max_instances = 4;
    j->jitter_ms = 1500;
    j->timeout_ms = 3600000;
    j->retries = 5;
    j->retry_backoff_ms = 10000;
    j->max_deliveries = 7;
    j->paused = true;
    j->start_ms = 1;
    j->end_ms = TOCK_TIME_MAX_MS;
    j->version = 42;
}

static void sample_result(struct tock_result *r)
{
    memset(r, 0, sizeof *r);
    r->occ = S("nightly-backup@1700000000000");
    r->status = TOCK_STATUS_ERROR;
    r->worker = S("host-a.pid-4242");
    r->attempt = 2;
    r->started_ms = 1700000000300LL;
    r->finished_ms = 1700000009000LL;
    r->exit_code = 3;
    r->error = S("disk full\n  at write()");
    r->output = tock_memdup("\x00\x01partial output\xff", 17);
    r->output_len = 17;
}

static void sample_event(struct tock_event *e)
{
    memset(e, 0, sizeof *e);
    e->type = TOCK_EVENT_LEASE_EXPIRED;
    e->ts_ms = 1700000060000LL;
    e->job = S("nightly-backup");
    e->occ = S("nightly-backup@1700000000000");
    e->node = S("sched-2");
    e->detail = S("worker host-a went silent for 30s");
}

/* ------------------------------------------------------------ round trips */

static void test_task_round_trip(void **state)
{
    struct tock_task a, b = {0};
    struct tock_error err = {0};
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len, len2;

    (void)state;
    sample_task(&a);
    assert_tock_ok(tock_proto_encode_task(&a, &buf, &len, &err), &err);
    assert_tock_ok(tock_proto_decode_task(buf, len, NULL, &b, &err), &err);
    assert_true(tock_proto_task_equal(&a, &b));
    assert_int_equal(b.proto_version, 1);
    /* Encoding is deterministic: the decoded copy encodes to the same bytes. */
    assert_tock_ok(tock_proto_encode_task(&b, &buf2, &len2, &err), &err);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    /* Optional args absent. */
    tock_task_clear(&b);
    TOCK_FREE(a.args);
    a.args_len = 0;
    tock_free(buf);
    assert_tock_ok(tock_proto_encode_task(&a, &buf, &len, &err), &err);
    assert_tock_ok(tock_proto_decode_task(buf, len, NULL, &b, &err), &err);
    assert_true(tock_proto_task_equal(&a, &b));
    assert_null(b.args);
    tock_free(buf);
    tock_free(buf2);
    tock_task_clear(&a);
    tock_task_clear(&b);
    tock_task_clear(&b); /* twice is safe */
}

static void test_job_round_trip(void **state)
{
    struct tock_job a, b = {0}, c;
    struct tock_error err = {0};
    uint8_t *buf = NULL;
    size_t len;

    (void)state;
    sample_job(&a);
    assert_tock_ok(tock_proto_encode_job(&a, &buf, &len, &err), &err);
    assert_tock_ok(tock_proto_decode_job(buf, len, NULL, &b, &err), &err);
    assert_true(tock_proto_job_equal(&a, &b));
    assert_int_equal(tock_job_copy(&c, &b), 0);
    assert_true(tock_proto_job_equal(&a, &c));
    c.version++;
    assert_false(tock_proto_job_equal(&a, &c));
    tock_free(buf);
    tock_job_clear(&a);
    tock_job_clear(&b);
    tock_job_clear(&c);
}

/* A minimal job frame gets every documented default. */
static void test_job_defaults(void **state)
{
    struct tock_job j = {0};
    struct tock_error err = {0};
    size_t len;
    uint8_t *buf = from_json("{\"v\":1,\"id\":\"a\",\"handler\":\"h\","
                             "\"trigger\":\"interval:90s\"}", &len);

    (void)state;
    assert_tock_ok(tock_proto_decode_job(buf, len, NULL, &j, &err), &err);
    assert_string_equal(j.queue, "default");
    assert_null(j.name);
    assert_null(j.args);
    assert_int_equal(j.misfire_grace_ms, 60000);
    assert_true(j.coalesce);
    assert_int_equal(j.max_instances, 1);
    assert_int_equal(j.max_deliveries, 3);
    assert_int_equal(j.timeout_ms, 0);
    assert_false(j.paused);
    tock_free(buf);
    tock_job_clear(&j);
}

static void test_result_round_trip(void **state)
{
    struct tock_result a, b = {0};
    struct tock_error err = {0};
    uint8_t *buf = NULL;
    size_t len;
    int s;

    (void)state;
    sample_result(&a);
    for (s = 0; s < TOCK_STATUS_COUNT_; s++) {
        a.status = (enum tock_status)s;
        assert_tock_ok(tock_proto_encode_result(&a, &buf, &len, &err), &err);
        assert_tock_ok(tock_proto_decode_result(buf, len, NULL, &b, &err), &err);
        assert_true(tock_proto_result_equal(&a, &b));
        tock_result_clear(&b);
        TOCK_FREE(buf);
    }
    /* Without the optional fields; an empty (but present) output. */
    TOCK_FREE(a.error);
    tock_free(a.output);
    a.output = tock_memdup("", 0);
    a.output_len = 0;
    a.exit_code = -1;
    a.started_ms = a.finished_ms = 0;
    assert_tock_ok(tock_proto_encode_result(&a, &buf, &len, &err), &err);
    assert_tock_ok(tock_proto_decode_result(buf, len, NULL, &b, &err), &err);
    assert_true(tock_proto_result_equal(&a, &b));
    assert_non_null(b.output);
    assert_int_equal(b.exit_code, -1);
    tock_free(buf);
    tock_result_clear(&a);
    tock_result_clear(&b);
}

static void test_event_round_trip(void **state)
{
    struct tock_event a, b = {0};
    struct tock_error err = {0};
    uint8_t *buf = NULL;
    size_t len;
    int t;

    (void)state;
    sample_event(&a);
    for (t = 0; t < TOCK_EVENT_COUNT_; t++) {
        a.type = (enum tock_event_type)t;
        assert_tock_ok(tock_proto_encode_event(&a, &buf, &len, &err), &err);
        assert_tock_ok(tock_proto_decode_event(buf, len, NULL, &b, &err), &err);
        assert_true(tock_proto_event_equal(&a, &b));
        tock_event_clear(&b);
        TOCK_FREE(buf);
    }
    tock_event_clear(&a);
    a.type = TOCK_EVENT_NODE_UP;
    a.ts_ms = TOCK_TIME_MAX_MS;
    assert_tock_ok(tock_proto_encode_event(&a, &buf, &len, &err), &err);
    assert_tock_ok(tock_proto_decode_event(buf, len, NULL, &b, &err), &err);
    assert_true(tock_proto_event_equal(&a, &b));
    assert_null(b.job);
    assert_null(b.detail);
    tock_free(buf);
    tock_event_clear(&b);
}

/* Edge values survive: the largest times, durations and counts. */
static void test_edge_values(void **state)
{
    struct tock_task a, b = {0};
    struct tock_error err = {0};
    uint8_t *buf = NULL;
    size_t len;

    (void)state;
    sample_task(&a);
    tock_free(a.occ);
    a.occ = S("nightly-backup@253402300799999");
    a.sched_ms = a.fire_ms = TOCK_TIME_MAX_MS;
    a.attempt = TOCK_ATTEMPT_MAX;
    a.timeout_ms = TOCK_DURATION_MAX_MS;
    a.max_deliveries = TOCK_MAX_DELIVERIES_MAX;
    assert_tock_ok(tock_proto_encode_task(&a, &buf, &len, &err), &err);
    assert_tock_ok(tock_proto_decode_task(buf, len, NULL, &b, &err), &err);
    assert_true(tock_proto_task_equal(&a, &b));
    tock_task_clear(&b);
    TOCK_FREE(buf);
    /* And the smallest. */
    tock_free(a.occ);
    a.occ = S("nightly-backup@0");
    a.sched_ms = a.fire_ms = 0;
    a.attempt = 1;
    a.timeout_ms = 0;
    a.max_deliveries = 1;
    assert_tock_ok(tock_proto_encode_task(&a, &buf, &len, &err), &err);
    assert_tock_ok(tock_proto_decode_task(buf, len, NULL, &b, &err), &err);
    assert_true(tock_proto_task_equal(&a, &b));
    tock_free(buf);
    tock_task_clear(&a);
    tock_task_clear(&b);
}

/* The bytes of a frame are pinned: a change here is a format change (see
 * "how to bump the format" in proto/codec.h). */
static void test_golden_event(void **state)
{
    static const uint8_t golden[] =
        "\x83\xa1v\x01\xa4type\xa5" "added\xa5ts_ms\xcf\x00\x00\x01\x8b\xcf"
        "\xe5\x68\x00";
    struct tock_event e = {.type = TOCK_EVENT_ADDED, .ts_ms = 1700000000000LL};
    struct tock_event d = {0};
    struct tock_error err = {0};
    uint8_t *buf = NULL;
    size_t len;

    (void)state;
    assert_tock_ok(tock_proto_encode_event(&e, &buf, &len, &err), &err);
    assert_int_equal(len, sizeof golden - 1);
    assert_memory_equal(buf, golden, len);
    assert_tock_ok(tock_proto_decode_event(golden, sizeof golden - 1, NULL, &d,
                                           &err), &err);
    assert_true(tock_proto_event_equal(&e, &d));
    tock_free(buf);
}

/* Keys in any order, unknown keys (of any type) ignored. */
static void test_unknown_keys_ignored(void **state)
{
    struct tock_event e = {0};
    struct tock_error err = {0};
    size_t len;
    uint8_t *buf = from_json("{\"future\":{\"$bin\":\"AA==\"},\"ts_ms\":5,"
                             "\"x\":[1,[2,{}]],\"type\":\"fired\",\"v\":1}",
                             &len);

    (void)state;
    assert_tock_ok(tock_proto_decode_event(buf, len, NULL, &e, &err), &err);
    assert_int_equal(e.type, TOCK_EVENT_FIRED);
    assert_int_equal(e.ts_ms, 5);
    tock_free(buf);
    tock_event_clear(&e);
}

/* --------------------------------------------------------- malformed */

static void test_malformed_structure(void **state)
{
    (void)state;
    expect_task_error(B(""), TOCK_ETRUNC, "empty");
    expect_task_error(B("\x93\x01\x02\x03"), TOCK_ETYPE,
                      "must be a map, not array");
    expect_task_error(B("\xa3" "abc"), TOCK_ETYPE, "must be a map, not string");
    expect_task_error(B("\x81\x01\x02"), TOCK_EMISSING, "\"v\" is missing");
    expect_task_error(B("\x82\xa1v\x01\x01\x02"), TOCK_ETYPE,
                      "key 2 of the map is integer");
    /* Two "handler" keys: refused, neither first- nor last-wins. */
    expect_task_error(B("\x83\xa1v\x01\xa7handler\xa1" "a\xa7handler\xa1" "b"),
                      TOCK_EDUPKEY, "duplicate key \"handler\" at byte 15");
    expect_task_error(B("\xc1"), TOCK_EFORMAT, "reserved byte 0xc1 at byte 0");
    expect_task_error(B("\x81\xa1v\xc1"), TOCK_EFORMAT,
                      "reserved byte 0xc1 at byte 3");
    expect_task_error(B("\x81\xa1v\xd4\x01\x00"), TOCK_EFORMAT,
                      "ext type (0xd4) at byte 3");
    expect_task_error(B("\x81\xa1v\xc7\x01\x05\x00"), TOCK_EFORMAT,
                      "ext type (0xc7)");
    expect_task_error(B("\x81\xa1v\x01\x00"), TOCK_EFORMAT,
                      "1 trailing bytes after the value that ends at byte 4");
    expect_task_error(B("\x81\xa1v\xa2\xff\xfe"), TOCK_EUTF8,
                      "invalid UTF-8 at byte 4");
    expect_task_error(B("\x81\xa2\xc0\x80\x01"), TOCK_EUTF8, "invalid UTF-8");
    expect_task_error(B("\x81\xa3\xed\xa0\x80\x01"), TOCK_EUTF8,
                      "invalid UTF-8"); /* a UTF-16 surrogate */
}

/* Headers that would make msgpack-c reserve gigabytes are refused by the
 * pre-scan, from the bytes alone. */
static void test_malformed_counts(void **state)
{
    (void)state;
    expect_task_error(B("\xdd\xff\xff\xff\xff"), TOCK_ETRUNC,
                      "array of 4294967295 items exceeds the 0 bytes left at "
                      "byte 0");
    expect_task_error(B("\xdd\x20\x00\x00\x00"), TOCK_ETRUNC,
                      "array of 536870912 items exceeds the 0 bytes left");
    expect_task_error(B("\xdf\x20\x00\x00\x00"), TOCK_ETRUNC,
                      "map of 536870912 pairs exceeds the 0 bytes left");
    expect_task_error(B("\xde\x00\x02\xa1v\x01"), TOCK_ETRUNC,
                      "map of 2 pairs exceeds the 3 bytes left at byte 0");
    expect_task_error(B("\x81\xa1v\xdb\xff\xff\xff\xff" "aaaaaaaaaaaa"),
                      TOCK_ETRUNC,
                      "malformed task: truncated: string length 4294967295 "
                      "exceeds the 12 bytes left at byte 3");
    expect_task_error(B("\x81\xa1v\xc6\x00\x00\x01\x00" "abc"), TOCK_ETRUNC,
                      "binary length 256 exceeds the 3 bytes left at byte 3");
    expect_task_error(B("\x81\xa1v\xdb\xff\xff"), TOCK_ETRUNC,
                      "a length at byte 3 needs 4 more bytes, 2 left");
    expect_task_error(B("\x82\xa1v\x01\xa1x"), TOCK_ETRUNC,
                      "the map at byte 0 is missing 1 item where the data ends "
                      "at byte 6");
    expect_task_error(B("\x81\xa1v\xcd\x01"), TOCK_ETRUNC,
                      "an integer at byte 3 needs 2 more bytes, 1 left");
}

/* Every proper prefix of a valid frame is "truncated", never "need more". */
static void test_every_prefix_truncated(void **state)
{
    struct tock_task t;
    struct tock_error err = {0};
    uint8_t *buf = NULL;
    size_t len, n;

    (void)state;
    sample_task(&t);
    assert_tock_ok(tock_proto_encode_task(&t, &buf, &len, &err), &err);
    tock_task_clear(&t);
    expect_task_error(buf, 0, TOCK_ETRUNC, "empty");
    for (n = 1; n < len; n++)
        expect_task_error(buf, n, TOCK_ETRUNC, "truncated");
    tock_free(buf);
}

static void test_nesting(void **state)
{
    struct tock_error err = {0};
    uint8_t deep[64];
    size_t i;

    (void)state;
    /* 16 nested arrays are fine, the 17th is one too many. */
    for (i = 0; i < 16; i++)
        deep[i] = 0x91;
    deep[16] = 0x90;
    assert_int_equal(tock_scan_value(deep, 16, NULL, "args", &err),
                     TOCK_ETRUNC);
    assert_tock_ok(tock_scan_value(deep + 1, 16, NULL, "args", &err), &err);
    assert_int_equal(tock_scan_value(deep, 17, NULL, "args", &err),
                     TOCK_ETOODEEP);
    assert_non_null(strstr(err.msg, "nesting too deep: the array at byte 16 "
                                    "is at depth 17, the limit is 16"));
    /* 40 deep (past msgpack-c's own 32) inside a task's args. */
    memcpy(deep, "\x81\xa4" "args", 6);
    for (i = 6; i < 46; i++)
        deep[i] = 0x81 ^ (i & 1 ? 0x10 : 0); /* alternate fixarray/fixmap */
    expect_task_error(deep, 46, TOCK_ETOODEEP, "nesting too deep");
    expect_task_error(deep, 46, TOCK_ETOODEEP, "the limit is 16");
}

static void test_wrong_field_types(void **state)
{
    (void)state;
    expect_json_task_error(
        "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\",\"handler\":\"h\","
        "\"queue\":\"q\",\"sched_ms\":\"5\",\"fire_ms\":5,\"attempt\":1}",
        TOCK_ETYPE, "field \"sched_ms\" at byte 45 must be an integer, not "
                    "string");
    expect_json_task_error(
        "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\",\"handler\":\"h\","
        "\"queue\":\"q\",\"sched_ms\":5,\"fire_ms\":5,\"attempt\":1.0}",
        TOCK_ETYPE, "field \"attempt\" at byte 63 must be an integer, not "
                    "float");
    expect_json_task_error(
        "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\",\"handler\":7,"
        "\"queue\":\"q\",\"sched_ms\":5,\"fire_ms\":5,\"attempt\":1}",
        TOCK_ETYPE, "field \"handler\" at byte 26 must be a string, not "
                    "integer");
    expect_json_task_error(
        "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\",\"handler\":\"h\","
        "\"queue\":null,\"sched_ms\":5,\"fire_ms\":5,\"attempt\":1}",
        TOCK_ETYPE, "field \"queue\" at byte 34 must be a string, not nil");
    expect_json_task_error(
        "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\",\"handler\":\"h\\u0000x\","
        "\"queue\":\"q\",\"sched_ms\":5,\"fire_ms\":5,\"attempt\":1}",
        TOCK_EFORMAT, "field \"handler\" at byte 26 contains a NUL byte");
    expect_json_task_error(
        "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\",\"handler\":\"h\","
        "\"sched_ms\":5,\"fire_ms\":5,\"attempt\":1}",
        TOCK_EMISSING, "required field \"queue\" is missing");
}

static void test_versions(void **state)
{
    (void)state;
    expect_json_task_error("{\"v\":2,\"whatever\":true}", TOCK_EVERSION,
                           "task has protocol version 2 but this tock reads "
                           "only version 1: upgrade this node");
    expect_json_task_error("{\"v\":0}", TOCK_EVERSION, "version 0");
    expect_json_task_error("{\"v\":-1}", TOCK_EVERSION, "version -1");
    expect_json_task_error("{\"v\":\"1\"}", TOCK_ETYPE,
                           "field \"v\" at byte 3 must be an integer");
    expect_json_task_error("{\"v\":1.0}", TOCK_ETYPE, "not float");
    expect_json_task_error("{\"sched_ms\":1}", TOCK_EMISSING,
                           "protocol version \"v\" is missing");
}

static void test_int_ranges(void **state)
{
    static const char head[] = "{\"v\":1,\"occ\":\"j@5\",\"job\":\"j\","
                               "\"handler\":\"h\",\"queue\":\"q\",";
    char json[512];

    (void)state;
    snprintf(json, sizeof json, "%s\"sched_ms\":5,\"fire_ms\":-1,"
             "\"attempt\":1}", head);
    expect_json_task_error(json, TOCK_ERANGE, "fire_ms -1 is out of range");
    snprintf(json, sizeof json, "%s\"sched_ms\":5,\"fire_ms\":253402300800000,"
             "\"attempt\":1}", head);
    expect_json_task_error(json, TOCK_ERANGE,
                           "invalid task: fire_ms 253402300800000 is out of "
                           "range");
    snprintf(json, sizeof json, "%s\"sched_ms\":5,\"fire_ms\":5,"
             "\"attempt\":1099511627776}", head);
    expect_json_task_error(json, TOCK_ERANGE,
                           "field \"attempt\" at byte 63: 1099511627776 is "
                           "out of range");
    snprintf(json, sizeof json, "%s\"sched_ms\":5,\"fire_ms\":5,"
             "\"attempt\":0}", head);
    expect_json_task_error(json, TOCK_ERANGE, "attempt 0 is out of range");
    snprintf(json, sizeof json, "%s\"sched_ms\":5,\"fire_ms\":4,"
             "\"attempt\":1}", head);
    expect_json_task_error(json, TOCK_ERANGE, "fire_ms 4 is before sched_ms 5");
    snprintf(json, sizeof json, "%s\"sched_ms\":6,\"fire_ms\":7,"
             "\"attempt\":1}", head);
    expect_json_task_error(json, TOCK_EINVAL,
                           "occ \"j@5\" does not match job \"j\" and sched_ms "
                           "6: it must be \"j@6\"");
    /* uint64 above INT64_MAX, in any position. */
    expect_task_error(B("\x81\xa1v\xcf\x80\x00\x00\x00\x00\x00\x00\x00"),
                      TOCK_ERANGE, "integer 9223372036854775808 at byte 3 "
                                   "exceeds INT64_MAX");
    /* NaN and infinity, float32 and float64. */
    expect_task_error(B("\x81\xa1v\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"),
                      TOCK_ERANGE, "float NaN at byte 3");
    expect_task_error(B("\x81\xa1v\xca\x7f\x80\x00\x00"), TOCK_ERANGE,
                      "float infinity");
}

static void test_result_and_event_semantics(void **state)
{
    struct tock_result r = {0};
    struct tock_event e = {0};
    struct tock_error err = {0};
    size_t len;
    uint8_t *buf;

    (void)state;
    buf = from_json("{\"v\":1,\"occ\":\"j@5\",\"status\":\"weird\","
                    "\"worker\":\"w\",\"attempt\":1,\"started_ms\":1,"
                    "\"finished_ms\":2}", &len);
    assert_int_equal(tock_proto_decode_result(buf, len, NULL, &r, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "unknown status \"weird\" at byte 19: use "
                                    "ok, error, timeout, crashed or cancelled"));
    tock_free(buf);
    buf = from_json("{\"v\":1,\"occ\":\"j@5\",\"status\":\"ok\","
                    "\"worker\":\"w\",\"attempt\":1,\"started_ms\":3,"
                    "\"finished_ms\":2}", &len);
    assert_int_equal(tock_proto_decode_result(buf, len, NULL, &r, &err),
                     TOCK_ERANGE);
    assert_non_null(strstr(err.msg, "started_ms 3 is after finished_ms 2"));
    tock_free(buf);
    buf = from_json("{\"v\":1,\"occ\":\"j@5\",\"status\":\"ok\","
                    "\"worker\":\"w:1\",\"attempt\":1,\"started_ms\":1,"
                    "\"finished_ms\":2}", &len);
    assert_int_equal(tock_proto_decode_result(buf, len, NULL, &r, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "invalid result: worker \"w:1\" contains "
                                    "':'"));
    tock_free(buf);
    buf = from_json("{\"v\":1,\"type\":\"exploded\",\"ts_ms\":1}", &len);
    assert_int_equal(tock_proto_decode_event(buf, len, NULL, &e, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "unknown type \"exploded\""));
    tock_free(buf);
    buf = from_json("{\"v\":1,\"type\":\"fired\",\"ts_ms\":1,\"occ\":\"j5\"}",
                    &len);
    assert_int_equal(tock_proto_decode_event(buf, len, NULL, &e, &err),
                     TOCK_EINVAL);
    assert_non_null(strstr(err.msg, "exactly one '@'"));
    tock_free(buf);
}

/* An output excerpt over 64 KiB is refused on both sides. */
static void test_output_bound(void **state)
{
    struct tock_result r, d = {0};
    struct tock_error err = {0};
    struct tock_proto_buf b = {0};
    msgpack_packer pk;
    uint8_t *buf = NULL;
    size_t len;

    (void)state;
    sample_result(&r);
    tock_free(r.output);
    r.output_len = TOCK_OUTPUT_MAX + 1;
    r.output = tock_calloc(1, r.output_len);
    assert_int_equal(tock_proto_encode_result(&r, &buf, &len, &err),
                     TOCK_ETOOBIG);
    assert_null(buf);
    assert_non_null(strstr(err.msg, "output excerpt of 65537 bytes"));
    /* Hand-built frame with the same excerpt. */
    msgpack_packer_init(&pk, &b, tock_proto_buf_write);
    msgpack_pack_map(&pk, 8);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "occ", 3);
    msgpack_pack_str_with_body(&pk, "j@5", 3);
    msgpack_pack_str_with_body(&pk, "status", 6);
    msgpack_pack_str_with_body(&pk, "ok", 2);
    msgpack_pack_str_with_body(&pk, "worker", 6);
    msgpack_pack_str_with_body(&pk, "w", 1);
    msgpack_pack_str_with_body(&pk, "attempt", 7);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "started_ms", 10);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "finished_ms", 11);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "output", 6);
    msgpack_pack_bin_with_body(&pk, r.output, r.output_len);
    assert_int_equal(tock_proto_decode_result(b.data, b.len, NULL, &d, &err),
                     TOCK_ETOOBIG);
    assert_null(d.occ);
    tock_proto_buf_release(&b);
    tock_result_clear(&r);
}

static void test_custom_limits(void **state)
{
    struct tock_proto_limits lim = {.max_frame = 16};
    struct tock_task t;
    struct tock_error err = {0};
    uint8_t *buf = NULL;
    size_t len;

    (void)state;
    sample_task(&t);
    assert_tock_ok(tock_proto_encode_task(&t, &buf, &len, &err), &err);
    tock_task_clear(&t);
    assert_int_equal(tock_proto_decode_task(buf, len, &lim, &t, &err),
                     TOCK_ETOOBIG);
    assert_non_null(strstr(err.msg, "exceed the limit of 16 bytes"));
    tock_free(buf);
    lim = (struct tock_proto_limits){.max_count = 2};
    assert_int_equal(tock_scan_bytes(B("\x93\x01\x02\x03"), &lim, "x", &err),
                     TOCK_ETOOBIG);
    assert_non_null(strstr(err.msg, "array of 3 items at byte 0 exceeds the "
                                    "limit of 2"));
    lim = (struct tock_proto_limits){.max_str = 4};
    assert_int_equal(tock_scan_bytes(B("\xa5hello"), &lim, "x", &err),
                     TOCK_ETOOBIG);
    assert_int_equal(tock_scan_bytes(B("\xc4\x05hello"), &lim, "x", &err),
                     TOCK_ETOOBIG);
    lim = (struct tock_proto_limits){.max_depth = 2};
    assert_int_equal(tock_scan_bytes(B("\x91\x91\x90"), &lim, "x", &err),
                     TOCK_ETOODEEP);
    assert_tock_ok(tock_scan_bytes(B("\x91\x90"), &lim, "x", &err), &err);
    /* A ceiling protects msgpack-c even from a careless configuration. */
    lim = (struct tock_proto_limits){.max_depth = 1000};
    lim = tock_proto_limits_resolve(&lim);
    assert_int_equal(lim.max_depth, TOCK_PROTO_DEPTH_CEILING);
}

static void test_duplicate_keys_in_args(void **state)
{
    struct tock_error err = {0};
    uint8_t big[3 + 20 * 2];
    size_t i;

    (void)state;
    /* Equal by value though encoded differently: 1 and uint8 1. */
    assert_int_equal(tock_scan_value(B("\x82\x01\xc0\xcc\x01\xc0"), NULL,
                                     "args", &err), TOCK_EDUPKEY);
    assert_non_null(strstr(err.msg, "same integer key twice"));
    assert_int_equal(tock_scan_value(B("\x82\xca\x3f\x80\x00\x00\xc0\xcb\x3f"
                                       "\xf0\x00\x00\x00\x00\x00\x00\xc0"),
                                     NULL, "args", &err), TOCK_EDUPKEY);
    assert_int_equal(tock_scan_value(B("\x91\x82\xa1" "a\x01\xa1" "a\x02"),
                                     NULL, "args", &err), TOCK_EDUPKEY);
    assert_int_equal(tock_scan_value(B("\x82\x91\x01\x01\x91\x01\x02"), NULL,
                                     "args", &err), TOCK_EDUPKEY);
    assert_int_equal(tock_scan_value(B("\x91\x82\xa0\x01\xa0\x02"), NULL,
                                     "args", &err), TOCK_EDUPKEY);
    assert_string_equal(err.msg, "malformed args: duplicate key \"\"");
    /* Distinct keys of every kind are fine. */
    assert_tock_ok(tock_scan_value(B("\x87\xc0\x01\xc2\x01\xc3\x01\x00\x01"
                                     "\xa0\x01\xc4\x00\x01\x90\x01"), NULL,
                                   "args", &err), &err);
    /* A large map (sorted path) with a duplicate at the end. */
    big[0] = 0xde;
    big[1] = 0;
    big[2] = 20;
    for (i = 0; i < 20; i++) {
        big[3 + 2 * i] = (uint8_t)(i == 19 ? 3 : i);
        big[4 + 2 * i] = 0xc0;
    }
    assert_int_equal(tock_scan_value(big, sizeof big, NULL, "args", &err),
                     TOCK_EDUPKEY);
    big[3 + 2 * 19] = 100;
    assert_tock_ok(tock_scan_value(big, sizeof big, NULL, "args", &err), &err);
}

static void test_encoder_validates(void **state)
{
    struct tock_task t;
    struct tock_job j;
    struct tock_error err = {0};
    uint8_t *buf = (uint8_t *)"sentinel";
    size_t len = 99;

    (void)state;
    sample_task(&t);
    t.attempt = 0;
    assert_int_equal(tock_proto_encode_task(&t, &buf, &len, &err), TOCK_ERANGE);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_non_null(strstr(err.msg, "invalid task: attempt 0"));
    tock_task_clear(&t);
    sample_job(&j);
    j.args[0] = 0xc1; /* args must be one good msgpack value */
    assert_int_equal(tock_proto_encode_job(&j, &buf, &len, &err), TOCK_EFORMAT);
    assert_non_null(strstr(err.msg, "invalid job: malformed args: reserved "
                                    "byte 0xc1"));
    tock_job_clear(&j);
}

/* Single-byte corruptions of a good frame: any outcome but a crash, and
 * whatever decodes must re-encode. */
static void test_mutations(void **state)
{
    static const uint8_t subst[] = {0x00, 0xff, 0xc1, 0xdd, 0xdf, 0x7f, 0xa0};
    struct tock_task t, d;
    struct tock_error err = {0};
    uint8_t *buf = NULL, *re = NULL;
    size_t len, relen, i, k;
    uint8_t saved;

    (void)state;
    sample_task(&t);
    assert_tock_ok(tock_proto_encode_task(&t, &buf, &len, &err), &err);
    tock_task_clear(&t);
    for (i = 0; i < len; i++) {
        saved = buf[i];
        for (k = 0; k < sizeof subst; k++) {
            buf[i] = subst[k];
            memset(&d, 0, sizeof d);
            if (tock_proto_decode_task(buf, len, NULL, &d, &err) == 0) {
                assert_tock_ok(tock_proto_encode_task(&d, &re, &relen, &err),
                               &err);
                tock_free(re);
            }
            tock_task_clear(&d);
        }
        buf[i] = saved;
    }
    tock_free(buf);
}

/* --------------------------------------------------- out of memory paths */

static int fail_countdown;
static void *fail_malloc(size_t n)
{
    return fail_countdown-- == 0 ? NULL : malloc(n);
}
static void *fail_calloc(size_t a, size_t b)
{
    return fail_countdown-- == 0 ? NULL : calloc(a, b);
}
static void *fail_realloc(void *p, size_t n)
{
    return fail_countdown-- == 0 ? NULL : realloc(p, n);
}

/* Fail each allocation in turn: every path returns TOCK_ENOMEM and leaks
 * nothing (the leak check is valgrind's and ASan's). */
static void test_out_of_memory(void **state)
{
    const struct tock_allocator a = {fail_malloc, fail_calloc, fail_realloc,
                                     free};
    struct tock_job j, d;
    struct tock_error err = {0};
    uint8_t *buf = NULL, *good = NULL;
    size_t len, goodlen;
    int i, rc;

    (void)state;
    sample_job(&j);
    assert_tock_ok(tock_proto_encode_job(&j, &good, &goodlen, &err), &err);
    assert_int_equal(tock_set_allocator(&a), 0);
    for (i = 0; i < 40; i++) {
        fail_countdown = i;
        rc = tock_proto_encode_job(&j, &buf, &len, &err);
        assert_true(rc == 0 || rc == TOCK_ENOMEM);
        tock_free(buf);
        fail_countdown = i;
        memset(&d, 0, sizeof d);
        rc = tock_proto_decode_job(good, goodlen, NULL, &d, &err);
        assert_true(rc == 0 || rc == TOCK_ENOMEM);
        if (rc == 0)
            assert_true(tock_proto_job_equal(&j, &d));
        tock_job_clear(&d);
    }
    tock_set_allocator(NULL);
    tock_free(good);
    tock_job_clear(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_round_trip),
        cmocka_unit_test(test_job_round_trip),
        cmocka_unit_test(test_job_defaults),
        cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_event_round_trip),
        cmocka_unit_test(test_edge_values),
        cmocka_unit_test(test_golden_event),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_malformed_structure),
        cmocka_unit_test(test_malformed_counts),
        cmocka_unit_test(test_every_prefix_truncated),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_wrong_field_types),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_int_ranges),
        cmocka_unit_test(test_result_and_event_semantics),
        cmocka_unit_test(test_output_bound),
        cmocka_unit_test(test_custom_limits),
        cmocka_unit_test(test_duplicate_keys_in_args),
        cmocka_unit_test(test_encoder_validates),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
