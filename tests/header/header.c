/*
 * tests/header/header.c: include/craft.h must compile alone, first in its
 * translation unit, as C11 and as C++11 with -pedantic -Werror (see the
 * header-test target). Nothing here is run; it only has to compile.
 */
#include <craft.h>
#include <craft.h> /* the include guards hold */

#if !defined(CRAFT_VERSION_MAJOR) || !defined(CRAFT_VERSION_MINOR) ||         \
    !defined(CRAFT_VERSION_PATCH) || !defined(CRAFT_ABI_VERSION)
#error "version macros missing"
#endif

#if CRAFT_VERSION_NUMBER !=                                                   \
    CRAFT_VERSION_MAJOR * 10000 + CRAFT_VERSION_MINOR * 100 +                 \
        CRAFT_VERSION_PATCH
#error "CRAFT_VERSION_NUMBER disagrees with its parts"
#endif

/* The init macros are usable as initialisers in both languages. */
int craft_header_test(void);
int craft_header_test(void)
{
    craft_allocator a = CRAFT_ALLOCATOR_INIT;
    craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
    craft_event ev = CRAFT_EVENT_INIT;
    craft_buf b = { NULL, 0 };
    craft_engine *e = NULL;
    craft_actions *acts = NULL;
    craft_file_storage_options fso = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    craft_file_storage *fs = NULL;

    (void)e;
    (void)acts;
    (void)fs;
    return (int)(a.struct_size + o.struct_size + ev.struct_size + b.len +
                 fso.struct_size) +
           CRAFT_OK + CRAFT_ROLE_LEADER + CRAFT_ENTRY_NORMAL +
           CRAFT_EVENT_TICK + (int)CRAFT_NONE;
}
