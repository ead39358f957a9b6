/* util/allocator.c: the public allocator hook's init function. */
#include <string.h>

#include "craft.h"

int craft_allocator_init(craft_allocator *a)
{
    /* A static object's padding is zero (C11 6.7.9p10), so copying its
     * bytes gives *a the exact bytes of CRAFT_ALLOCATOR_INIT, padding
     * included: a struct assignment would not promise that. */
    static const craft_allocator init = CRAFT_ALLOCATOR_INIT;

    if (a == NULL) {
        return CRAFT_EINVAL;
    }
    memcpy(a, &init, sizeof(*a));
    return CRAFT_OK;
}
