/* alloc.h: libtock's replaceable allocator.
 *
 * All heap memory that libtock owns goes through these wrappers, so that a
 * test can inject allocation failures (every out-of-memory path must return
 * TOCK_ENOMEM, never abort the host program) and an embedding program can
 * route libtock to its own allocator. Memory that a third-party library
 * allocates (msgpack-c zones, jansson, hiredis) is released with that
 * library's own functions, not with tock_free.
 */
#ifndef TOCK_CORE_ALLOC_H
#define TOCK_CORE_ALLOC_H

#include <stddef.h>

#include "tock/tock.h"

void *tock_malloc(size_t size);
void *tock_calloc(size_t nmemb, size_t size);
void *tock_realloc(void *ptr, size_t size);
void tock_free(void *ptr);

/* tock_strdup returns a new copy of `s` the caller must free with tock_free,
 * or NULL when out of memory. */
char *tock_strdup(const char *s);

/* tock_strndup copies at most `n` bytes of `s` and NUL-terminates. */
char *tock_strndup(const char *s, size_t n);

/* tock_memdup returns a new copy of `len` bytes of `p` (len may be 0: a
 * non-NULL 1-byte allocation is returned). Free with tock_free. */
void *tock_memdup(const void *p, size_t len);

/* TOCK_FREE frees `p` with tock_free and sets it to NULL. */
#define TOCK_FREE(p)                                                           \
    do {                                                                       \
        tock_free(p);                                                          \
        (p) = NULL;                                                            \
    } while (0)

#endif /* TOCK_CORE_ALLOC_H */
