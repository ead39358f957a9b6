/*
 * util/version.c: the version of the library as it was compiled, so a
 * binding can compare it at run time with the CRAFT_VERSION_* macros it
 * was built against (the macros in its copy of craft.h may differ).
 */
#include "craft.h"

int craft_version(int *major, int *minor, int *patch)
{
    if (major != NULL) {
        *major = CRAFT_VERSION_MAJOR;
    }
    if (minor != NULL) {
        *minor = CRAFT_VERSION_MINOR;
    }
    if (patch != NULL) {
        *patch = CRAFT_VERSION_PATCH;
    }
    return CRAFT_VERSION_NUMBER;
}

const char *craft_version_string(void)
{
    return CRAFT_VERSION_STRING;
}

int craft_abi_version(void)
{
    return CRAFT_ABI_VERSION;
}
