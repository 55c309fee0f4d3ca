/* support.c: temp directories and paths for tests. */
#include "support.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tock_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *path;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    if (asprintf(&path, "%s/tock-test-%s-XXXXXX", base, tag) < 0)
        return NULL;
    if (mkdtemp(path) == NULL) {
        free(path);
        return NULL;
    }
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tock_test_rmtree(char *path)
{
    if (path == NULL)
        return;
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
}

const char *tock_test_binary(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("TOCK_BINARY_DIR");

    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : ".", name);
    return buf;
}

const char *tock_test_source_path(const char *rel)
{
    static char buf[4096];
    const char *dir = getenv("TOCK_SOURCE_DIR");

    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : ".", rel);
    return buf;
}
