#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

static void *libc_malloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void *libc_realloc(void *user, void *ptr, size_t size)
{
    (void)user;
    return realloc(ptr, size);
}

static void libc_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

void craft_alloc_default(struct craft_alloc *out)
{
    out->user = NULL;
    out->malloc = libc_malloc;
    out->realloc = libc_realloc;
    out->free = libc_free;
}

int craft_alloc_from_public(const craft_allocator *a, struct craft_alloc *out)
{
    if (a == NULL) {
        craft_alloc_default(out);
        return CRAFT_OK;
    }
    /* Every field up to free is required: an allocator without free is no
     * allocator, so the minimum accepted size is the full 1.0 struct. */
    if (a->struct_size == 0 || a->struct_size > sizeof(*a)) {
        return CRAFT_ESTRUCT;
    }
    if (a->struct_size < sizeof(*a)) {
        return CRAFT_ESTRUCT;
    }
    if (a->malloc == NULL || a->realloc == NULL || a->free == NULL) {
        return CRAFT_EINVAL;
    }
    out->user = a->user;
    out->malloc = a->malloc;
    out->realloc = a->realloc;
    out->free = a->free;
    return CRAFT_OK;
}

int craft_handle_alloc(const craft_allocator *allocator, size_t size,
                       struct craft_alloc *al, void **out)
{
    int rv = craft_alloc_from_public(allocator, al);
    if (rv != CRAFT_OK) {
        return rv;
    }
    void *p = craft_calloc(al, size);
    if (p == NULL) {
        return CRAFT_ENOMEM;
    }
    *out = p;
    return CRAFT_OK;
}

void *craft_calloc(const struct craft_alloc *a, size_t size)
{
    void *p = craft_malloc(a, size);
    if (p != NULL) {
        memset(p, 0, size);
    }
    return p;
}

int craft_grow(const struct craft_alloc *a, void **arr, size_t *cap,
               size_t need, size_t elem)
{
    if (need <= *cap) {
        return CRAFT_OK;
    }
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > ((size_t)-1) / 2 / elem) {
            return CRAFT_ENOMEM;
        }
        ncap *= 2;
    }
    void *p = craft_realloc(a, *arr, ncap * elem);
    if (p == NULL) {
        return CRAFT_ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return CRAFT_OK;
}
