/*
 * util/assert.c: what a failed CRAFT_ASSERT does (checked builds only;
 * see util/assert.h).
 */
#include "util/assert.h"

#ifdef CRAFT_CHECKED
#include <stdio.h>
#include <stdlib.h>

void craft_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "craft: assertion failed: %s:%d: %s\n", file, line,
            cond);
    fflush(stderr);
    abort();
}
#else
/* Release build: nothing (ISO C wants a declaration in every file). */
typedef int craft_assert_release_build;
#endif
