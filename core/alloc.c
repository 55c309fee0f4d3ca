/* alloc.c: the allocator table behind tock_malloc and friends.
 *
 * The table is process-wide, like hiredisSetAllocators and
 * uv_replace_allocator: an allocator belongs to the program, not to one
 * scheduler. Set it before creating any libtock object.
 */
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

static struct tock_allocator current = {malloc, calloc, realloc, free};

int tock_set_allocator(const struct tock_allocator *a)
{
    if (a == NULL) {
        current = (struct tock_allocator){malloc, calloc, realloc, free};
        return 0;
    }
    if (!a->malloc_fn || !a->calloc_fn || !a->realloc_fn || !a->free_fn)
        return TOCK_EINVAL;
    current = *a;
    return 0;
}

void *tock_malloc(size_t size)
{
    return current.malloc_fn(size ? size : 1);
}

void *tock_calloc(size_t nmemb, size_t size)
{
    if (nmemb == 0 || size == 0)
        nmemb = size = 1;
    return current.calloc_fn(nmemb, size);
}

void *tock_realloc(void *ptr, size_t size)
{
    return current.realloc_fn(ptr, size ? size : 1);
}

void tock_free(void *ptr)
{
    if (ptr != NULL)
        current.free_fn(ptr);
}

void *tock_memdup(const void *p, size_t len)
{
    void *copy = tock_malloc(len);

    if (copy != NULL && len > 0)
        memcpy(copy, p, len);
    return copy;
}

char *tock_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *copy = tock_malloc(len + 1);

    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *tock_strdup(const char *s)
{
    return tock_strndup(s, strlen(s));
}
