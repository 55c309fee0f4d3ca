/* test_proto_json.c: the msgpack <-> JSON rendering of proto/json.h. */
#include <string.h>

#include "core/alloc.h"
#include "proto/json.h"
#include "support.h"

#define B(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

/* to_text renders msgpack as compact JSON with sorted-as-given keys. */
static char *to_text(const uint8_t *data, size_t len)
{
    struct tock_error err = {0};
    char *out = NULL;

    assert_tock_ok(tock_json_msgpack_to_text(data, len, NULL, JSON_COMPACT,
                                             &out, &err),
                   &err);
    return out;
}

static void expect_text(const uint8_t *data, size_t len, const char *want)
{
    char *got = to_text(data, len);

    assert_string_equal(got, want);
    tock_free(got);
}

/* expect_mp converts JSON text and requires exactly `want` bytes. */
static void expect_mp(const char *json, const uint8_t *want, size_t wantlen)
{
    struct tock_error err = {0};
    uint8_t *out = NULL;
    size_t len;

    assert_tock_ok(tock_json_text_to_msgpack(json, strlen(json), NULL, "args",
                                             &out, &len, &err),
                   &err);
    assert_int_equal(len, wantlen);
    assert_memory_equal(out, want, len);
    tock_free(out);
}

static void expect_json_error(const char *json, int code, const char *text)
{
    struct tock_error err = {0};
    uint8_t *out = (uint8_t *)"x";
    size_t len = 9;
    int rc = tock_json_text_to_msgpack(json, strlen(json), NULL, "args", &out,
                                       &len, &err);

    if (rc != code || strstr(err.msg, text) == NULL)
        fail_msg("%s: expected %s containing \"%s\", got %s: %s", json,
                 tock_err_name(code), text, tock_err_name(rc), err.msg);
    assert_null(out);
    assert_int_equal(len, 0);
}

/* ------------------------------------------------------- msgpack -> JSON */

static void test_scalars_to_json(void **state)
{
    (void)state;
    expect_text(B("\xc0"), "null");
    expect_text(B("\xc3"), "true");
    expect_text(B("\x05"), "5");
    expect_text(B("\xff"), "-1");
    expect_text(B("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"),
                "-9223372036854775808");
    expect_text(B("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"),
                "9223372036854775807");
    expect_text(B("\xcb\x80\x00\x00\x00\x00\x00\x00\x00"), "-0.0");
    expect_text(B("\xca\x3f\xc0\x00\x00"), "1.5");
    expect_text(B("\xa6h\xc3\xa9llo"), "\"h\xc3\xa9llo\"");
    expect_text(B("\xa3" "a\x00" "b"), "\"a\\u0000b\"");
    expect_text(B("\xc4\x00"), "{\"$bin\":\"\"}");
    expect_text(B("\xc4\x03\x00\x01\xff"), "{\"$bin\":\"AAH/\"}");
}

static void test_containers_to_json(void **state)
{
    (void)state;
    expect_text(B("\x93\x01\xa1" "a\x90"), "[1,\"a\",[]]");
    expect_text(B("\x80"), "{}");
    expect_text(B("\x81\xa0\x01"), "{\"\":1}"); /* an empty key */
    expect_text(B("\x81\xa0\xa0"), "{\"\":\"\"}");
    /* Key order is kept, not sorted. */
    expect_text(B("\x82\xa1z\x01\xa1" "a\x02"), "{\"z\":1,\"a\":2}");
    /* Non-string keys, NUL in a key and the marker keys use "$map". */
    expect_text(B("\x82\x01\xa3one\xa1" "a\x02"),
                "{\"$map\":[[1,\"one\"],[\"a\",2]]}");
    expect_text(B("\x81\xa2" "a\x00\x01"), "{\"$map\":[[\"a\\u0000\",1]]}");
    expect_text(B("\x81\xa4$bin\xa4" "AAAA"),
                "{\"$map\":[[\"$bin\",\"AAAA\"]]}");
    expect_text(B("\x81\xa4$map\x90"), "{\"$map\":[[\"$map\",[]]]}");
    /* With another key beside it, "$bin" is an ordinary key. */
    expect_text(B("\x82\xa4$bin\x01\xa1x\x02"), "{\"$bin\":1,\"x\":2}");
    expect_text(B("\x81\x91\x01\xc4\x01\x07"),
                "{\"$map\":[[[1],{\"$bin\":\"Bw==\"}]]}");
}

static void test_to_json_refuses(void **state)
{
    struct tock_error err = {0};
    json_t *j = NULL;

    (void)state;
    assert_int_equal(tock_json_from_msgpack(B("\xd4\x01\x00"), NULL, &j, &err),
                     TOCK_EFORMAT);
    assert_null(j);
    assert_int_equal(tock_json_from_msgpack(B("\x82\xa1" "a\x01\xa1" "a\x02"),
                                            NULL, &j, &err),
                     TOCK_EDUPKEY);
    assert_int_equal(tock_json_from_msgpack(B("\xcb\x7f\xf0\x00\x00\x00\x00"
                                              "\x00\x00"),
                                            NULL, &j, &err),
                     TOCK_ERANGE);
    assert_int_equal(tock_json_from_msgpack(B(""), NULL, &j, &err),
                     TOCK_ETRUNC);
}

/* ------------------------------------------------------- JSON -> msgpack */

static void test_json_to_msgpack(void **state)
{
    (void)state;
    expect_mp("null", B("\xc0"));
    expect_mp("[true,false]", B("\x92\xc3\xc2"));
    expect_mp("-1", B("\xff"));
    expect_mp("300", B("\xcd\x01\x2c"));
    expect_mp("1.5", B("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"));
    expect_mp("1.0", B("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"));
    expect_mp("\"a\\u0000b\"", B("\xa3" "a\x00" "b"));
    expect_mp("{\"b\":1,\"a\":[]}", B("\x82\xa1" "b\x01\xa1" "a\x90"));
    expect_mp("{\"$bin\":\"Zm9vYmFy\"}", B("\xc4\x06" "foobar"));
    expect_mp("{\"$bin\":\"Zm9vYg==\"}", B("\xc4\x04" "foob"));
    expect_mp("{\"$bin\":\"Zm9vYmE=\"}", B("\xc4\x05" "fooba"));
    expect_mp("{\"$bin\":\"\"}", B("\xc4\x00"));
    expect_mp("{\"$map\":[[1,2],[null,3]]}", B("\x82\x01\x02\xc0\x03"));
    expect_mp("{\"$map\":[]}", B("\x80"));
    expect_mp("{\"$bin\":1,\"x\":2}", B("\x82\xa4$bin\x01\xa1x\x02"));
}

static void test_json_errors(void **state)
{
    char deep[64];
    size_t i;

    (void)state;
    expect_json_error("{\"a\":1,}", TOCK_EFORMAT,
                      "args: not valid JSON at line 1, column 8");
    expect_json_error("{\"a\":1,\"a\":2}", TOCK_EDUPKEY, "duplicate");
    expect_json_error("", TOCK_EFORMAT, "not valid JSON");
    expect_json_error("99999999999999999999", TOCK_EFORMAT, "too big");
    expect_json_error("{\"$bin\":5}", TOCK_EFORMAT,
                      "\"$bin\" must hold a base64 string");
    expect_json_error("{\"$bin\":\"Zm9\"}", TOCK_EFORMAT, "not canonical");
    expect_json_error("{\"$bin\":\"Zh==\"}", TOCK_EFORMAT, "not canonical");
    expect_json_error("{\"$bin\":\"Zm9v\\n\"}", TOCK_EFORMAT, "not canonical");
    expect_json_error("{\"$bin\":\"Z===\"}", TOCK_EFORMAT, "not canonical");
    expect_json_error("{\"$bin\":\"Zm9v!A==\"}", TOCK_EFORMAT,
                      "not canonical");
    expect_json_error("{\"$map\":{}}", TOCK_EFORMAT,
                      "\"$map\" must hold an array");
    expect_json_error("{\"$map\":[[1]]}", TOCK_EFORMAT,
                      "\"$map\" item 0 is not a [key, value] pair");
    expect_json_error("{\"$map\":[[1,2],[1,3]]}", TOCK_EDUPKEY,
                      "the same integer key twice");
    /* 17 nested arrays: one too many. */
    for (i = 0; i < 17; i++)
        deep[i] = '[';
    for (i = 17; i < 34; i++)
        deep[i] = ']';
    deep[34] = '\0';
    expect_json_error(deep, TOCK_ETOODEEP, "nesting too deep: the limit is 16");
    deep[0] = ' ';
    deep[33] = ' ';
    expect_mp(deep, B("\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
                      "\x91\x91\x90"));
}

static void test_json_limits(void **state)
{
    struct tock_proto_limits lim = {.max_args = 10};
    struct tock_error err = {0};
    uint8_t *out = NULL;
    size_t len;
    const char *big = "[\"0123456789\",\"0123456789\"]";

    (void)state;
    assert_int_equal(tock_json_text_to_msgpack(big, strlen(big), &lim, "args",
                                               &out, &len, &err),
                     TOCK_ETOOBIG);
    assert_null(out);
    lim = (struct tock_proto_limits){.max_count = 2};
    assert_int_equal(tock_json_text_to_msgpack("[1,2,3]", 7, &lim, "args",
                                               &out, &len, &err),
                     TOCK_ETOOBIG);
    assert_non_null(strstr(err.msg, "array of 3 items"));
}

/* --------------------------------------------------------- round trips */

static void test_round_trip(void **state)
{
    /* Every kind of value, nested, including the two special forms. */
    static const uint8_t value[] =
        "\x8a\xa1n\xc0\xa1t\xc3\xa1i\xd3\x80\x00\x00\x00\x00\x00\x00\x00"
        "\xa1" "f\xcb\x40\x09\x21\xfb\x54\x44\x2d\x18\xa1s\xa0\xa1" "b\xc4\x02"
        "\x00\xff\xa1" "a\x93\x01\x90\x80\xa1m\x82\x01\x02\xc2\x03\xa1k\x81"
        "\xa4$bin\x01\xa1z\x81\x92\x01\x02\xc4\x00";
    struct tock_error err = {0};
    json_t *j = NULL, *j2 = NULL;
    uint8_t *mp = NULL;
    char *text;
    size_t len;

    (void)state;
    assert_tock_ok(tock_json_from_msgpack(value, sizeof value - 1, NULL, &j,
                                          &err),
                   &err);
    assert_tock_ok(tock_json_to_msgpack(j, NULL, "args", &mp, &len, &err),
                   &err);
    assert_int_equal(len, sizeof value - 1);
    assert_memory_equal(mp, value, len);
    /* And through text. */
    text = to_text(value, sizeof value - 1);
    tock_free(mp);
    assert_tock_ok(tock_json_text_to_msgpack(text, strlen(text), NULL, "args",
                                             &mp, &len, &err),
                   &err);
    assert_memory_equal(mp, value, len);
    assert_tock_ok(tock_json_from_msgpack(mp, len, NULL, &j2, &err), &err);
    assert_true(json_equal(j, j2));
    json_decref(j);
    json_decref(j2);
    tock_free(mp);
    tock_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_to_json),
        cmocka_unit_test(test_containers_to_json),
        cmocka_unit_test(test_to_json_refuses),
        cmocka_unit_test(test_json_to_msgpack),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_limits),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
