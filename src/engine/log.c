/*
 * engine/log.c: the in-memory log and its payload arena.
 */
#include "engine/log.h"

#include <string.h>

#include "util/copy.h"

void craft_log_init(struct craft_log *l)
{
    memset(l, 0, sizeof(*l));
}

static struct craft_block *block_new(const struct craft_alloc *a, size_t size)
{
    struct craft_block *b = craft_malloc(a, sizeof(*b) + size);
    if (b != NULL) {
        b->refs = 0;
        b->used = 0;
        b->size = size;
    }
    return b;
}

/* Called when an entry's payload reference goes away. An unreferenced
 * block that is not the current one is either kept as the spare (if it is
 * of the default size) or freed. */
static void block_unref(const struct craft_alloc *a, struct craft_log *l,
                        struct craft_block *b)
{
    if (b == NULL || --b->refs > 0) {
        return;
    }
    if (b == l->cur) {
        b->used = 0; /* empty again: reuse from the start */
        return;
    }
    if (l->nspare < CRAFT_ARENA_SPARES && b->size == CRAFT_ARENA_BLOCK) {
        b->used = 0;
        l->spare[l->nspare++] = b;
        return;
    }
    craft_free(a, b);
}

void craft_log_free(const struct craft_alloc *a, struct craft_log *l)
{
    for (size_t k = 0; k < l->n; k++) {
        struct craft_block *b = l->e[l->start + k].ref;
        if (b != NULL && --b->refs == 0 && b != l->cur) {
            craft_free(a, b);
        }
    }
    craft_free(a, l->cur);
    for (size_t k = 0; k < l->nspare; k++) {
        craft_free(a, l->spare[k]);
    }
    craft_free(a, l->e);
    craft_log_init(l);
}

int craft_log_reserve(const struct craft_alloc *a, struct craft_log *l,
                      size_t n, size_t bytes)
{
    /* Entry slots: reuse the space before start by sliding down first. */
    if (l->start + l->n + n > l->cap) {
        if (l->start > 0) {
            memmove(l->e, l->e + l->start, l->n * sizeof(*l->e));
            l->start = 0;
        }
        void *arr = l->e;
        int rv = craft_grow(a, &arr, &l->cap, l->n + n, sizeof(*l->e));
        if (rv != CRAFT_OK) {
            return rv;
        }
        l->e = arr;
    }
    if (bytes == 0) {
        return CRAFT_OK;
    }
    if (l->cur != NULL && l->cur->size - l->cur->used >= bytes) {
        return CRAFT_OK;
    }
    /* A new current block: the spare if it fits, else a fresh one large
     * enough for the whole batch, so appends after this cannot fail. */
    struct craft_block *b = NULL;
    if (l->nspare > 0 && bytes <= CRAFT_ARENA_BLOCK) {
        b = l->spare[--l->nspare];
    } else {
        b = block_new(a, bytes > CRAFT_ARENA_BLOCK ? bytes : CRAFT_ARENA_BLOCK);
        if (b == NULL) {
            return CRAFT_ENOMEM;
        }
    }
    struct craft_block *old = l->cur;
    l->cur = b;
    if (old != NULL && old->refs == 0) {
        old->refs = 1; /* let block_unref retire it */
        block_unref(a, l, old);
    }
    return CRAFT_OK;
}

void craft_log_append(const struct craft_alloc *a, struct craft_log *l,
                      uint64_t term, uint32_t type, const void *data,
                      uint32_t len)
{
    (void)a;
    /* craft_log_reserve made room: appending cannot fail. */
    CRAFT_ASSERT(l->start + l->n < l->cap);
    CRAFT_ASSERT(len == 0 ||
                 (l->cur != NULL && l->cur->size - l->cur->used >= len));
    struct craft_entry *e = &l->e[l->start + l->n];
    e->term = term;
    e->type = type;
    e->len = len;
    e->data = NULL;
    e->ref = NULL;
    if (len > 0) {
        struct craft_block *b = l->cur;
        uint8_t *dst = b->data + b->used;
        craft_copy(dst, data, len);
        b->used += len;
        b->refs++;
        e->data = dst;
        e->ref = b;
    }
    l->n++;
}

void craft_log_truncate(const struct craft_alloc *a, struct craft_log *l,
                        uint64_t i)
{
    while (craft_log_last(l) >= i && l->n > 0) {
        struct craft_entry *e = &l->e[l->start + l->n - 1];
        l->n--;
        block_unref(a, l, e->ref);
    }
}

void craft_log_compact(const struct craft_alloc *a, struct craft_log *l,
                       uint64_t i, uint64_t term)
{
    if (i <= l->snap_index) {
        return;
    }
    while (l->n > 0 && l->snap_index < i) {
        struct craft_entry *e = &l->e[l->start];
        l->start++;
        l->n--;
        l->snap_index++;
        block_unref(a, l, e->ref);
    }
    if (l->n == 0) {
        l->start = 0;
    }
    l->snap_index = i;
    l->snap_term = term;
}

size_t craft_log_bytes(const struct craft_log *l, uint64_t from, uint64_t to)
{
    size_t sum = 0;
    for (uint64_t i = from; i <= to; i++) {
        sum += craft_log_get(l, i)->len;
    }
    return sum;
}
