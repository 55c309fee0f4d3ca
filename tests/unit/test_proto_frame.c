/* test_proto_frame.c: the length-prefixed framing and its incremental
 * reader: split feeds, several frames per feed, bad prefixes, EOF. */
#include <string.h>

#include "core/alloc.h"
#include "proto/frame.h"
#include "proto/scan.h"
#include "support.h"

#define B(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

static int setup(void **state)
{
    *state = tock_frame_reader_new(0);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    tock_frame_reader_free(*state);
    return 0;
}

/* expect_frame takes the next frame and compares it with want. */
static void expect_frame(struct tock_frame_reader *r, const char *want)
{
    const uint8_t *body;
    size_t len;
    int rc = tock_frame_reader_next(r, &body, &len);

    if (rc != 1)
        fail_msg("expected frame \"%s\", got %d: %s", want, rc, r->errstr);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(body, want, len);
}

static void expect_none(struct tock_frame_reader *r)
{
    const uint8_t *body = (const uint8_t *)"x";
    size_t len = 7;

    assert_int_equal(tock_frame_reader_next(r, &body, &len), 0);
    assert_null(body);
    assert_int_equal(len, 0);
}

static void test_encode(void **state)
{
    struct tock_error err = {0};
    uint8_t *out = NULL, hdr[4];
    size_t len;

    (void)state;
    assert_tock_ok(tock_frame_encode(B("abc"), 0, &out, &len, &err), &err);
    assert_int_equal(len, 7);
    assert_memory_equal(out, "\x00\x00\x00\x03" "abc", 7);
    tock_free(out);
    assert_int_equal(tock_frame_encode(B(""), 0, &out, &len, &err),
                     TOCK_EINVAL);
    assert_null(out);
    assert_int_equal(tock_frame_encode(B("abcde"), 4, &out, &len, &err),
                     TOCK_ETOOBIG);
    assert_non_null(strstr(err.msg, "5 bytes exceeds the limit of 4 bytes"));
    tock_frame_header(hdr, 0x01020304);
    assert_memory_equal(hdr, "\x01\x02\x03\x04", 4);
}

static void test_one_feed_many_frames(void **state)
{
    struct tock_frame_reader *r = *state;

    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x00\x00\x01" "a"
                                                 "\x00\x00\x00\x02" "bc"
                                                 "\x00\x00\x00\x03" "de")),
                     0);
    expect_frame(r, "a");
    expect_frame(r, "bc");
    expect_none(r);
    assert_int_equal(tock_frame_reader_pending(r), 6);
    assert_int_equal(tock_frame_reader_feed(r, B("f")), 0);
    expect_frame(r, "def");
    expect_none(r);
    assert_int_equal(tock_frame_reader_eof(r), 0);
}

/* Every split of the stream, down to one byte per feed. */
static void test_split_feeds(void **state)
{
    static const uint8_t stream[] = "\x00\x00\x00\x05hello\x00\x00\x00\x01!"
                                    "\x00\x00\x00\x03xyz";
    struct tock_frame_reader *r = *state;
    size_t n = sizeof stream - 1, cut, i, got;
    const uint8_t *body;
    size_t len;

    for (cut = 1; cut <= n; cut++) {
        tock_frame_reader_reset(r);
        got = 0;
        for (i = 0; i < n; i += cut) {
            assert_int_equal(tock_frame_reader_feed(r, stream + i,
                                                    n - i < cut ? n - i : cut),
                             0);
            while (tock_frame_reader_next(r, &body, &len) == 1) {
                assert_memory_equal(body,
                                    got == 0 ? "hello" : got == 1 ? "!" : "xyz",
                                    len);
                got++;
            }
        }
        assert_int_equal(got, 3);
        assert_int_equal(tock_frame_reader_eof(r), 0);
    }
}

/* A huge prefix is refused the moment its 4 bytes are in, before any body
 * arrives and without sizing a buffer from it. */
static void test_huge_prefix(void **state)
{
    struct tock_frame_reader *r = *state;
    const uint8_t *body;
    size_t len;

    assert_int_equal(tock_frame_reader_feed(r, B("\xff\xff")), 0);
    assert_int_equal(tock_frame_reader_feed(r, B("\xff\xff")), TOCK_ETOOBIG);
    assert_int_equal(r->err, TOCK_ETOOBIG);
    assert_non_null(strstr(r->errstr, "length prefix 4294967295 exceeds the "
                                      "limit of 1114112 bytes"));
    assert_null(r->buf); /* buffer dropped */
    /* The error sticks until reset. */
    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x00\x00\x01" "a")),
                     TOCK_ETOOBIG);
    assert_int_equal(tock_frame_reader_next(r, &body, &len), TOCK_ETOOBIG);
    assert_int_equal(tock_frame_reader_eof(r), TOCK_ETOOBIG);
    tock_frame_reader_reset(r);
    assert_int_equal(r->err, 0);
    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x00\x00\x01" "a")), 0);
    expect_frame(r, "a");
}

/* A legal but large prefix allocates nothing ahead of its body. */
static void test_large_prefix_no_allocation(void **state)
{
    struct tock_frame_reader *r = *state;

    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x10\x00\x00" "ab")), 0);
    expect_none(r);
    assert_true(r->cap <= 4096);
    assert_int_equal(tock_frame_reader_eof(r), TOCK_ETRUNC);
    assert_non_null(strstr(r->errstr, "stream ended inside a frame: 2 of "
                                      "1048576 body bytes arrived"));
}

static void test_zero_length(void **state)
{
    struct tock_frame_reader *r = *state;

    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x00\x00\x01" "a"
                                                 "\x00\x00\x00\x00")),
                     0);
    expect_frame(r, "a"); /* frames before the bad prefix still come out */
    assert_int_equal(tock_frame_reader_feed(r, B("zz")), TOCK_EFORMAT);
    assert_non_null(strstr(r->errstr, "frame length prefix is 0"));
    tock_frame_reader_reset(r);
    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x00\x00\x00")),
                     TOCK_EFORMAT);
}

static void test_eof_mid_prefix(void **state)
{
    struct tock_frame_reader *r = *state;

    assert_int_equal(tock_frame_reader_eof(r), 0);
    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x00")), 0);
    expect_none(r);
    assert_int_equal(tock_frame_reader_eof(r), TOCK_ETRUNC);
    assert_non_null(strstr(r->errstr, "2 of the 4 length-prefix bytes"));
}

static void test_custom_limit(void **state)
{
    struct tock_frame_reader *r = tock_frame_reader_new(3);

    (void)state;
    assert_non_null(r);
    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x00\x00\x03" "abc")),
                     0);
    expect_frame(r, "abc");
    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x00\x00\x04")),
                     TOCK_ETOOBIG);
    tock_frame_reader_free(r);
    tock_frame_reader_free(NULL);
}

/* Frames stay valid across _next calls until the next feed. */
static void test_frame_lifetime(void **state)
{
    struct tock_frame_reader *r = *state;
    const uint8_t *a, *b;
    size_t alen, blen;

    assert_int_equal(tock_frame_reader_feed(r, B("\x00\x00\x00\x02" "aa"
                                                 "\x00\x00\x00\x02" "bb")),
                     0);
    assert_int_equal(tock_frame_reader_next(r, &a, &alen), 1);
    assert_int_equal(tock_frame_reader_next(r, &b, &blen), 1);
    assert_memory_equal(a, "aa", 2);
    assert_memory_equal(b, "bb", 2);
    assert_int_equal(tock_frame_reader_pending(r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test_setup_teardown(test_one_feed_many_frames, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_split_feeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_prefix_no_allocation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_mid_prefix, setup, teardown),
        cmocka_unit_test(test_custom_limit),
        cmocka_unit_test_setup_teardown(test_frame_lifetime, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
