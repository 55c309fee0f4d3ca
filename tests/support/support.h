/* support.h: shared helpers for tock's cmocka tests.
 *
 * Include this instead of <cmocka.h> directly: it pulls in the headers
 * cmocka needs in the right order.
 */
#ifndef TOCK_TEST_SUPPORT_H
#define TOCK_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tock/tock.h"

/* tock_test_tmpdir creates a fresh private directory under $TMPDIR (or /tmp)
 * named after `tag` and returns its path, which the caller frees with
 * tock_test_rmtree (that removes the tree too). NULL on failure. */
char *tock_test_tmpdir(const char *tag);

/* tock_test_rmtree removes the tree at `path` and frees the string. */
void tock_test_rmtree(char *path);

/* tock_test_binary returns the path of a built program ("tock",
 * "tock-worker") under $TOCK_BINARY_DIR, in a static buffer. */
const char *tock_test_binary(const char *name);

/* tock_test_source_path returns $TOCK_SOURCE_DIR/<rel> in a static buffer. */
const char *tock_test_source_path(const char *rel);

/* assert_tock_ok fails the test with the error's message when rc != 0. */
#define assert_tock_ok(rc, errp)                                               \
    do {                                                                       \
        int rc_ = (rc);                                                        \
        if (rc_ != 0)                                                          \
            fail_msg("%s failed: %s (%s)", #rc, (errp)->msg,                   \
                     tock_err_name(rc_));                                      \
    } while (0)

#endif /* TOCK_TEST_SUPPORT_H */
