/* tock.h: the public API of libtock.
 *
 * libtock is tock's scheduler, store and protocol as a C library. This
 * header grows with the library; everything public is declared here or in
 * the tock/ headers it includes. Public types are incomplete structs used
 * through pointers, created with *_new and released with *_free (where
 * *_free(NULL) does nothing).
 */
#ifndef TOCK_TOCK_H
#define TOCK_TOCK_H

#include <stddef.h>

#include "tock/error.h"
#include "tock/log.h"
#include "tock/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tock_version returns the library's version string, e.g. "0.1.0". */
const char *tock_version(void);

/* tock_allocator: the functions libtock allocates with. All four are
 * required and must behave like their C library namesakes. */
struct tock_allocator {
    void *(*malloc_fn)(size_t size);
    void *(*calloc_fn)(size_t nmemb, size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
};

/* tock_set_allocator replaces libtock's allocator process-wide (NULL
 * restores malloc and friends). Call it before creating any libtock object:
 * memory allocated before must be freed by the same allocator. Returns
 * TOCK_EINVAL when a function is missing. */
int tock_set_allocator(const struct tock_allocator *allocator);

#ifdef __cplusplus
}
#endif

#endif /* TOCK_TOCK_H */
