/*
 * util/alloc.h: the per-handle allocator every internal allocation goes
 * through (craft keeps no global state, so there is no global hook).
 */
#ifndef CRAFT_UTIL_ALLOC_H
#define CRAFT_UTIL_ALLOC_H

#include <stddef.h>

#include "craft.h"

struct craft_alloc {
    void *user;
    void *(*malloc)(void *user, size_t size);
    void *(*realloc)(void *user, void *ptr, size_t size);
    void (*free)(void *user, void *ptr);
};

/* Copies a public allocator (NULL means libc) into *out.
 * CRAFT_ESTRUCT when a->struct_size is 0 or larger than known;
 * CRAFT_EINVAL when a function pointer is missing. */
int craft_alloc_from_public(const craft_allocator *a, struct craft_alloc *out);

/* The libc allocator. */
void craft_alloc_default(struct craft_alloc *out);

static inline void *craft_malloc(const struct craft_alloc *a, size_t size)
{
    return a->malloc(a->user, size);
}

static inline void *craft_realloc(const struct craft_alloc *a, void *p,
                                  size_t size)
{
    return a->realloc(a->user, p, size);
}

static inline void craft_free(const struct craft_alloc *a, void *p)
{
    if (p != NULL) {
        a->free(a->user, p);
    }
}

/*
 * The start of every create function: copies the public allocator into
 * *al and allocates a zeroed handle of size bytes with it into *out.
 * CRAFT_ESTRUCT/CRAFT_EINVAL (bad allocator), CRAFT_ENOMEM; *out is
 * untouched on error.
 */
int craft_handle_alloc(const craft_allocator *allocator, size_t size,
                       struct craft_alloc *al, void **out);

/* malloc + memset 0. */
void *craft_calloc(const struct craft_alloc *a, size_t size);

/*
 * Grows *arr (elements of elem bytes, capacity *cap) to hold at least
 * need elements, doubling. Returns CRAFT_OK or CRAFT_ENOMEM (then *arr and
 * *cap are unchanged).
 */
int craft_grow(const struct craft_alloc *a, void **arr, size_t *cap,
               size_t need, size_t elem);

#endif /* CRAFT_UTIL_ALLOC_H */
