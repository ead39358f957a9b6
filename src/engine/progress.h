/*
 * engine/progress.h: what a leader knows of one peer's log (§5.3,
 * nextIndex and matchIndex), and the flow control that bounds what is in
 * flight to it. The model is etcd raft's tracker/progress.go: the fields
 * change only through the named transitions below, which keep the
 * invariants.
 *
 * States (the public enum craft_progress_state_public of engine.h):
 *
 *  PROBE      the leader does not know where the peer's log matches its
 *             own: one append at a time (probe_sent), then wait for the
 *             answer or the next heartbeat answer.
 *  REPLICATE  the logs matched: appends stream optimistically, next runs
 *             ahead of match, at most in_cap messages ahead of the
 *             acknowledgements (the in-flight window).
 *  SNAPSHOT   the entries the peer needs are compacted: appends pause
 *             until it installed snapshot snap_index (snapshot.c moves
 *             the chunks: snap_offset, snap_reading, snap_wait).
 *
 * Transitions:
 *
 *  craft_progress_init            a member of a new configuration: PROBE
 *  craft_progress_become_probe    PROBE at match + 1
 *  craft_progress_become_replicate REPLICATE at match + 1, window empty
 *  craft_progress_become_snapshot SNAPSHOT of snapshot index
 *  craft_progress_sent_entries    an append of n entries left at next
 *  craft_progress_maybe_update    the peer acknowledged index
 *  craft_progress_acked           ... and its window slots up to it free
 *  craft_progress_maybe_decr_to   the peer refused the append at index
 *  craft_progress_heartbeat_resp  the peer answered a heartbeat
 *
 * Invariants, for every peer of a leader (craft_progress_check; each
 * transition asserts its precondition and keeps them):
 *
 *  - 0 <= match < next
 *  - in_count <= in_cap; the window is empty unless in REPLICATE
 *  - in REPLICATE, the window holds the last index of each append in
 *    flight, in sending order (non-decreasing), each below next
 *  - probe_sent is only set in PROBE
 *
 * On a server that is not the leader the progress is stale and unused;
 * a new leader starts every peer afresh (craft_progress_init).
 */
#ifndef CRAFT_ENGINE_PROGRESS_H
#define CRAFT_ENGINE_PROGRESS_H

#include <stdint.h>

#include "craft.h"
#include "util/assert.h"

struct craft_progress {
    uint64_t match; /* highest index known to be replicated */
    uint64_t next;  /* next index to send */
    uint32_t state; /* CRAFT_PROGRESS_STATE_* */
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

/* Slot i of the window ring, i < 2 * in_cap: a subtraction, not a
 * division by in_cap (which need not be a power of two): the division
 * was the costliest instruction of sending an append. */
static inline uint32_t craft_progress_slot(const struct craft_progress *p,
                                           uint32_t i)
{
    return i >= p->in_cap ? i - p->in_cap : i;
}

/* Whether the in-flight window is full. */
static inline int craft_progress_full(const struct craft_progress *p)
{
    return p->in_count >= p->in_cap;
}

/* Whether the leader must wait before sending this peer another append:
 * a probe is outstanding, the window is full, or a snapshot is on its
 * way. */
static inline int craft_progress_is_paused(const struct craft_progress *p)
{
    switch (p->state) {
    case CRAFT_PROGRESS_STATE_PROBE:
        return p->probe_sent != 0;
    case CRAFT_PROGRESS_STATE_REPLICATE:
        return craft_progress_full(p);
    default:
        return 1;
    }
}

/* Empties the in-flight window. */
static inline void craft_progress_clear_window(struct craft_progress *p)
{
    p->in_head = 0;
    p->in_count = 0;
}

/*
 * A member of a new configuration (or every peer of a new leader): in
 * PROBE at next, with the window ring (cap slots) it owns. match is what
 * is known to be replicated already (0 for a new leader, §5.3). Fields
 * outside replication (recent_active, read_ack) are the caller's.
 */
static inline void craft_progress_init(struct craft_progress *p,
                                       uint64_t *ring, uint32_t cap,
                                       uint64_t match, uint64_t next)
{
    CRAFT_ASSERT(ring != NULL && cap > 0 && next >= 1);
    p->inflight = ring;
    p->in_cap = cap;
    p->match = match;
    p->next = next;
    p->state = CRAFT_PROGRESS_STATE_PROBE;
    p->probe_sent = 0;
    craft_progress_clear_window(p);
}

/* Back to probing from just after what is known to match (a refusal in
 * REPLICATE, a snapshot installed). */
static inline void craft_progress_become_probe(struct craft_progress *p)
{
    p->state = CRAFT_PROGRESS_STATE_PROBE;
    p->next = p->match + 1;
    p->probe_sent = 0;
    craft_progress_clear_window(p);
}

/* The logs match up to match: stream from there. */
static inline void craft_progress_become_replicate(struct craft_progress *p)
{
    CRAFT_ASSERT(p->state == CRAFT_PROGRESS_STATE_PROBE);
    p->state = CRAFT_PROGRESS_STATE_REPLICATE;
    p->next = p->match + 1;
    p->probe_sent = 0;
    craft_progress_clear_window(p);
}

/* The peer needs snapshot index (the entries it lacks are compacted). */
static inline void craft_progress_become_snapshot(struct craft_progress *p,
                                                  uint64_t index)
{
    CRAFT_ASSERT(index > 0);
    p->state = CRAFT_PROGRESS_STATE_SNAPSHOT;
    p->snap_index = index;
    p->snap_offset = 0;
    p->probe_sent = 0;
    craft_progress_clear_window(p);
}

/*
 * An append carrying n entries from next (n may be 0: a probe or a
 * heartbeat-like empty append) was sent. In REPLICATE, next moves past
 * them at once (optimistically) and the append takes a window slot; in
 * PROBE the peer is paused until it answers.
 */
static inline void craft_progress_sent_entries(struct craft_progress *p,
                                               uint64_t n)
{
    CRAFT_ASSERT(!craft_progress_is_paused(p));
    if (p->state == CRAFT_PROGRESS_STATE_REPLICATE) {
        p->next += n;
        p->inflight[craft_progress_slot(p, p->in_head + p->in_count)] =
            p->next - 1;
        p->in_count++;
    } else {
        p->probe_sent = 1;
    }
}

/*
 * The peer's log matches up to index (an accepted append). Raises match
 * and next as far as index says and lifts a probe's pause. Returns 1 when
 * match grew (something new may commit).
 */
static inline int craft_progress_maybe_update(struct craft_progress *p,
                                              uint64_t index)
{
    int updated = index > p->match;
    if (updated) {
        p->match = index;
    }
    if (p->next < index + 1) {
        p->next = index + 1;
    }
    p->probe_sent = 0;
    return updated;
}

/* Frees the window slots of the appends acknowledged up to index. */
static inline void craft_progress_acked(struct craft_progress *p,
                                        uint64_t index)
{
    while (p->in_count > 0 && p->inflight[p->in_head] <= index) {
        p->in_head = craft_progress_slot(p, p->in_head + 1);
        p->in_count--;
    }
}

/*
 * The peer refused the append whose previous entry was rejected: its log
 * does not match there; next_hint is where the conflict hint says it
 * may (§5.3). Returns 0, changing nothing, when the refusal is stale (it
 * answers an append the leader no longer waits for); otherwise moves next
 * back to the hint, never below match + 1 nor above rejected, leaves the
 * peer in PROBE (unpaused) or SNAPSHOT, and returns 1.
 */
static inline int craft_progress_maybe_decr_to(struct craft_progress *p,
                                               uint64_t rejected,
                                               uint64_t next_hint)
{
    if (p->state == CRAFT_PROGRESS_STATE_REPLICATE) {
        if (rejected <= p->match) {
            return 0;
        }
        craft_progress_become_probe(p);
    } else if (rejected != p->next - 1) {
        return 0;
    }
    uint64_t next = next_hint;
    if (next > rejected) {
        next = rejected;
    }
    if (next < p->match + 1) {
        next = p->match + 1;
    }
    p->next = next;
    p->probe_sent = 0;
    return 1;
}

/*
 * The peer answered a heartbeat (not in SNAPSHOT: appends wait for the
 * snapshot). It is alive, so a probe whose append may have been lost is
 * unpaused, and a full window gets one slot back: not the whole window,
 * so that a peer that answers heartbeats but is slow with appends gets
 * one more message per heartbeat and the window still bounds what piles
 * up.
 */
static inline void craft_progress_heartbeat_resp(struct craft_progress *p)
{
    CRAFT_ASSERT(p->state != CRAFT_PROGRESS_STATE_SNAPSHOT);
    p->probe_sent = 0;
    if (p->state == CRAFT_PROGRESS_STATE_REPLICATE && craft_progress_full(p)) {
        p->in_head = craft_progress_slot(p, p->in_head + 1);
        p->in_count--;
    }
}

/* Asserts the invariants above (a leader's peer whose log ends at last).
 * Compiled out of release builds. */
static inline void craft_progress_check(const struct craft_progress *p,
                                        uint64_t last)
{
#ifdef CRAFT_CHECKED
    CRAFT_ASSERT(p->match < p->next);
    CRAFT_ASSERT(p->next <= last + 1);
    CRAFT_ASSERT(p->in_count <= p->in_cap);
    CRAFT_ASSERT(p->state == CRAFT_PROGRESS_STATE_PROBE ||
                 p->state == CRAFT_PROGRESS_STATE_REPLICATE ||
                 p->state == CRAFT_PROGRESS_STATE_SNAPSHOT);
    CRAFT_ASSERT(p->state == CRAFT_PROGRESS_STATE_REPLICATE ||
                 p->in_count == 0);
    CRAFT_ASSERT(p->state == CRAFT_PROGRESS_STATE_PROBE || !p->probe_sent);
    uint64_t prev = 0;
    for (uint32_t k = 0; k < p->in_count; k++) {
        uint64_t v = p->inflight[(p->in_head + k) % p->in_cap];
        CRAFT_ASSERT(v >= prev && v < p->next);
        prev = v;
    }
#else
    (void)p;
    (void)last;
#endif
}

#endif /* CRAFT_ENGINE_PROGRESS_H */
