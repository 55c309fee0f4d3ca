/* version.c */
#include "tock/tock.h"

const char *tock_version(void)
{
    return TOCK_VERSION_STRING;
}
