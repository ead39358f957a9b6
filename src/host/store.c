/*
 * host/store.c: the host's memory: byte strings, the counting heap a
 * node's engine allocates from, and a node's durable log (a ring of
 * first..last whose slots keep their buffers).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/internal.h"
#include "util/copy.h"

/* ---- failures and bytes ------------------------------------------------- */

void host_failf(struct host *h, const char *file, int line, const char *fmt,
                ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (h != NULL && h->fail != NULL) {
        h->fail(h->user, file, line, msg);
    }
    fprintf(stderr, "%s:%d: host: %s\n", file, line, msg);
    abort();
}

void *host_xrealloc(struct host *h, void *p, size_t size)
{
    void *q = realloc(p, size > 0 ? size : 1);
    if (q == NULL) {
        HOST_FAIL(h, "out of memory (%zu bytes)", size);
    }
    return q;
}

/* Grows *arr (elements of elem bytes, capacity *cap) to hold need. */
void host_grow(struct host *h, void *arr, size_t *cap, size_t need,
                 size_t elem)
{
    void **p = arr;
    if (need <= *cap) {
        return;
    }
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        c *= 2;
    }
    *p = host_xrealloc(h, *p, c * elem);
    *cap = c;
}

void host_bytes_reserve(struct host *h, struct host_bytes *b, size_t n)
{
    if (n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < n) {
            cap *= 2;
        }
        b->p = host_xrealloc(h, b->p, cap);
        b->cap = cap;
    }
}

void host_bytes_put(struct host *h, struct host_bytes *b, const void *d,
                    size_t n)
{
    host_bytes_reserve(h, b, b->len + n);
    if (n > 0) {
        craft_copy(b->p + b->len, d, n);
    }
    b->len += n;
}

void host_bytes_set(struct host *h, struct host_bytes *b, const void *d,
                    size_t n)
{
    if (n <= b->cap) { /* the common case: a reused buffer */
        craft_copy(b->p, d, n);
        b->len = n;
        return;
    }
    b->len = 0;
    host_bytes_put(h, b, d, n);
}

void host_bytes_free(struct host_bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- the counting heap -------------------------------------------------- */

#define HEAP_HDR 16u

void *host_heap_malloc(void *user, size_t size)
{
    struct host_heap *hp = user;
    unsigned char *p = malloc(HEAP_HDR + size);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, &size, sizeof(size));
    hp->live += size;
    hp->allocs++;
    if (hp->live > hp->peak) {
        hp->peak = hp->live;
    }
    return p + HEAP_HDR;
}

void host_heap_free(void *user, void *ptr)
{
    struct host_heap *hp = user;
    if (ptr == NULL) {
        return;
    }
    unsigned char *p = (unsigned char *)ptr - HEAP_HDR;
    size_t size;
    memcpy(&size, p, sizeof(size));
    hp->live -= size;
    free(p);
}

void *host_heap_realloc(void *user, void *ptr, size_t size)
{
    struct host_heap *hp = user;
    if (ptr == NULL) {
        return host_heap_malloc(user, size);
    }
    unsigned char *p = (unsigned char *)ptr - HEAP_HDR;
    size_t old;
    memcpy(&old, p, sizeof(old));
    unsigned char *q = realloc(p, HEAP_HDR + size);
    if (q == NULL) {
        return NULL;
    }
    memcpy(q, &size, sizeof(size));
    hp->live = hp->live - old + size;
    hp->allocs++;
    if (hp->live > hp->peak) {
        hp->peak = hp->live;
    }
    return q + HEAP_HDR;
}

void host_heap_mark(struct host_heap *heap)
{
    heap->peak = heap->live;
}

/* ---- the durable log: a ring of first..last ----------------------------- */

struct host_entry *host_slot_of(struct host_node *nd, uint64_t i)
{
    return &nd->log[(size_t)i & (nd->log_cap - 1)];
}

struct host_entry *host_entry_at(struct host_node *nd, uint64_t i)
{
    if (i < nd->first || i > nd->last) {
        HOST_FAIL(nd->host, "node %llu has no entry %llu (it holds "
                  "%llu..%llu)", (unsigned long long)nd->id,
                  (unsigned long long)i, (unsigned long long)nd->first,
                  (unsigned long long)nd->last);
    }
    return host_slot_of(nd, i);
}

/* Grows the ring to hold live entries (the slow path of host_log_slot). */
static void log_grow(struct host *h, struct host_node *nd, uint64_t i,
                     uint64_t live)
{
    size_t cap = nd->log_cap ? nd->log_cap : 64;
    while (cap < live) {
        cap *= 2;
    }
    struct host_entry *nl = calloc(cap, sizeof(*nl));
    if (nl == NULL) {
        HOST_FAIL(h, "out of memory");
    }
    /* Live entries move to their new slots (with their buffers); the
     * buffers left behind are freed. */
    for (uint64_t j = nd->first; j <= nd->last && j < i; j++) {
        struct host_entry *old = host_slot_of(nd, j);
        nl[(size_t)j & (cap - 1)] = *old;
        memset(old, 0, sizeof(*old));
    }
    for (size_t k = 0; k < nd->log_cap; k++) {
        host_bytes_free(&nd->log[k].data);
    }
    free(nd->log);
    nd->log = nl;
    nd->log_cap = cap;
}

/* Makes room for entry i (= last + 1). Slots keep their byte buffers, so
 * a warmed-up log allocates nothing. */
struct host_entry *host_log_slot(struct host *h, struct host_node *nd,
                                   uint64_t i)
{
    uint64_t live = i >= nd->first ? i - nd->first + 1 : 1;
    if (live > nd->log_cap) {
        log_grow(h, nd, i, live);
    }
    return host_slot_of(nd, i);
}

void host_disk_hard_state(struct host_node *nd, uint64_t term, uint64_t vote)
{
    nd->term = term;
    nd->vote = vote;
}

void host_disk_append(struct host *h, struct host_node *nd, uint64_t index,
                      uint64_t term, uint32_t type, const void *data,
                      size_t len)
{
    if (index != nd->last + 1) {
        HOST_FAIL(h, "node %llu: entry %llu does not follow its log "
                  "(%llu..%llu)", (unsigned long long)nd->id,
                  (unsigned long long)index, (unsigned long long)nd->first,
                  (unsigned long long)nd->last);
    }
    if (nd->first > nd->last) {
        nd->first = index; /* empty: the log starts here */
    }
    struct host_entry *en = host_log_slot(h, nd, index);
    en->term = term;
    en->type = type;
    host_bytes_set(h, &en->data, data, len);
    nd->last = index;
}

/* Drops entries before `from` (covered by a snapshot). */
void host_log_drop_before(struct host_node *nd, uint64_t from)
{
    if (from > nd->first) {
        nd->first = from;
    }
}
