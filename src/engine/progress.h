/*
 * engine/progress.h: what a leader knows of each peer's log (§5.3), and
 * the flow control that bounds what is in flight to it.
 *
 * PROBE: the leader does not know where the peer's log matches; it sends
 * one append at a time and waits for the answer (or the next heartbeat).
 * REPLICATE: the peer matched; the leader streams appends optimistically,
 * at most max_inflight messages ahead of the acknowledgements.
 * SNAPSHOT: the peer needs a snapshot; appends pause until it is in.
 */
#ifndef CRAFT_ENGINE_PROGRESS_H
#define CRAFT_ENGINE_PROGRESS_H

#include <stdint.h>

enum craft_progress_state {
    CRAFT_PROGRESS_PROBE = 0,
    CRAFT_PROGRESS_REPLICATE = 1,
    CRAFT_PROGRESS_SNAPSHOT = 2
};

struct craft_progress {
    uint64_t match; /* highest index known to be replicated */
    uint64_t next;  /* next index to send */
    uint32_t state;
    uint32_t probe_sent;    /* PROBE: an append is outstanding */
    uint32_t recent_active; /* heard from since the last quorum check */
    uint64_t read_ack; /* highest read round this peer confirmed */
    /* SNAPSHOT state: the transfer of snapshot snap_index. */
    uint64_t snap_index;
    uint64_t snap_offset;  /* next byte the peer wants */
    uint32_t snap_reading; /* a SNAPSHOT_READ awaits its chunk */
    uint32_t snap_wait;    /* ticks since the last chunk went out */
    /* Ring of the last index of each append in flight (REPLICATE). */
    uint64_t *inflight;
    uint32_t in_head;
    uint32_t in_count;
    uint32_t in_cap;
};

static inline int craft_progress_full(const struct craft_progress *p)
{
    return p->in_count >= p->in_cap;
}

static inline void craft_progress_inflight_add(struct craft_progress *p,
                                               uint64_t last)
{
    p->inflight[(p->in_head + p->in_count) % p->in_cap] = last;
    p->in_count++;
}

/* Frees the in-flight slots of appends acknowledged up to index. */
static inline void craft_progress_inflight_free(struct craft_progress *p,
                                                uint64_t index)
{
    while (p->in_count > 0 && p->inflight[p->in_head] <= index) {
        p->in_head = (p->in_head + 1) % p->in_cap;
        p->in_count--;
    }
}

static inline void craft_progress_reset(struct craft_progress *p,
                                        uint32_t state, uint64_t next)
{
    p->state = state;
    p->next = next;
    p->probe_sent = 0;
    p->in_head = 0;
    p->in_count = 0;
}

#endif /* CRAFT_ENGINE_PROGRESS_H */
