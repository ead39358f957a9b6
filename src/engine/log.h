/*
 * engine/log.h: the in-memory Raft log since the last snapshot.
 *
 * Entries live in one contiguous array (so a message can point at a run of
 * them) with a movable start, so compaction is amortised O(1). Payloads
 * are copied into reference-counted arena blocks: appending an entry
 * allocates nothing once a block has room, and a block is recycled when
 * its last entry is truncated or compacted away.
 */
#ifndef CRAFT_ENGINE_LOG_H
#define CRAFT_ENGINE_LOG_H

#include <stdint.h>

#include "codec/message.h"
#include "util/alloc.h"
#include "util/assert.h"

/* Default arena block size; a larger payload gets a block of its own. */
#define CRAFT_ARENA_BLOCK (256u * 1024u)
#define CRAFT_ARENA_SPARES 8


struct craft_block; /* an arena block, below */

struct craft_log {
    struct craft_entry *e; /* e[start .. start+n) are live */
    size_t start;
    size_t n;
    size_t cap;
    uint64_t snap_index; /* index of the entry before the first one */
    uint64_t snap_term;
    struct craft_block *cur; /* block new payloads go into */
    /* Empty blocks kept for reuse: returning them to libc and faulting
     * them back in cost 13% of a batched benchmark. */
    struct craft_block *spare[CRAFT_ARENA_SPARES];
    size_t nspare;
};

void craft_log_init(struct craft_log *l);
void craft_log_free(const struct craft_alloc *a, struct craft_log *l);

static inline uint64_t craft_log_first(const struct craft_log *l)
{
    return l->snap_index + 1;
}

static inline uint64_t craft_log_last(const struct craft_log *l)
{
    return l->snap_index + l->n;
}

/* The entry at index i; i must be in [first, last]. */
static inline const struct craft_entry *craft_log_get(const struct craft_log *l,
                                                      uint64_t i)
{
    CRAFT_ASSERT(i > l->snap_index && i <= l->snap_index + l->n);
    return &l->e[l->start + (size_t)(i - l->snap_index - 1)];
}

/* Term of entry i: snap_term at snap_index, 0 when unknown (compacted or
 * beyond the end). */
static inline uint64_t craft_log_term(const struct craft_log *l, uint64_t i)
{
    if (i == l->snap_index) {
        return l->snap_term;
    }
    if (i < l->snap_index || i > craft_log_last(l)) {
        return 0;
    }
    return craft_log_get(l, i)->term;
}

static inline uint64_t craft_log_last_term(const struct craft_log *l)
{
    return craft_log_term(l, craft_log_last(l));
}

/* An arena block (log.c manages them; its header is here so that the hot
 * path can ask for room inline). */
struct craft_block {
    size_t refs; /* live entries whose payload is here */
    size_t used;
    size_t size;
    uint8_t data[];
};

/* Payload bytes the current arena block still takes without a reserve. */
static inline size_t craft_log_room(const struct craft_log *l)
{
    return l->cur != NULL ? l->cur->size - l->cur->used : 0;
}

/*
 * Makes room for n more entries carrying bytes payload bytes in total, so
 * that the next appends of that size cannot fail. CRAFT_ENOMEM leaves the
 * log unchanged.
 */
int craft_log_reserve(const struct craft_alloc *a, struct craft_log *l,
                      size_t n, size_t bytes);

/* Appends one entry, copying its payload. Must follow a reserve that
 * covers it (then it cannot fail). */
void craft_log_append(const struct craft_alloc *a, struct craft_log *l,
                      uint64_t term, uint32_t type, const void *data,
                      uint32_t len);

/* Removes entries >= i (i > snap_index). */
void craft_log_truncate(const struct craft_alloc *a, struct craft_log *l,
                        uint64_t i);

/* Removes entries <= i and makes i (with its term) the new snapshot
 * point. When i is past the end, the log becomes empty at i/term. */
void craft_log_compact(const struct craft_alloc *a, struct craft_log *l,
                       uint64_t i, uint64_t term);

/* Payload bytes of entries [from, to]. */
size_t craft_log_bytes(const struct craft_log *l, uint64_t from, uint64_t to);

#endif /* CRAFT_ENGINE_LOG_H */
