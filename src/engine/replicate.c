/*
 * engine/replicate.c: the leader side of log replication (§5.3) with
 * per-peer flow control: probe one append at a time until the follower's
 * log matches, then pipeline up to max_inflight appends of at most
 * max_msg_bytes each.
 */
#include "engine/engine.h"

/* How many entries from `from` fit in one message: at least one, then as
 * many as stay within max_msg_bytes. */
static uint64_t batch_len(const struct craft_engine *e, uint64_t from,
                          uint64_t last)
{
    uint64_t n = 0;
    size_t bytes = 0;
    for (uint64_t i = from; i <= last; i++) {
        size_t len = craft_log_get(&e->log, i)->len;
        if (n > 0 && bytes + len > e->opts.max_msg_bytes) {
            break;
        }
        bytes += len;
        n++;
    }
    return n;
}

/* Sends one append starting at p->next. Returns 0 when nothing was sent. */
static int send_one(struct craft_engine *e, int slot, int allow_empty)
{
    struct craft_progress *p = &e->prs[slot];
    uint64_t last = craft_log_last(&e->log);
    uint64_t prev = p->next - 1;
    CRAFT_ASSERT(!craft_progress_is_paused(p) && prev <= last);
    if (prev < e->log.snap_index) {
        /* The entries this peer needs are compacted: it needs a snapshot
         * (§7). */
        craft_snapshot_start(e, slot);
        return 0;
    }
    uint64_t n = p->next <= last ? batch_len(e, p->next, last) : 0;
    if (n == 0 && !allow_empty) {
        return 0;
    }
    struct craft_msg *m =
        craft_send_entries(e, e->conf.m[slot].id, p->next, n);
    m->index = prev;
    m->log_term = craft_log_term(&e->log, prev);
    m->commit = e->commit;
    craft_progress_sent_entries(p, n);
    return 1;
}

void craft_send_append(struct craft_engine *e, int slot, int allow_empty)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    CRAFT_ASSERT(slot >= 0 && (uint32_t)slot < e->conf.n);
    struct craft_progress *p = &e->prs[slot];
    if (e->conf.m[slot].id == e->id) {
        return;
    }
    while (!craft_progress_is_paused(p)) {
        if (!send_one(e, slot, allow_empty)) {
            return;
        }
        allow_empty = 0;
        if (p->state != CRAFT_PROGRESS_STATE_REPLICATE ||
            p->next > craft_log_last(&e->log)) {
            return;
        }
    }
}

void craft_broadcast_append(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    for (uint32_t k = 0; k < e->conf.n; k++) {
        craft_send_append(e, (int)k, 1);
    }
}

void craft_broadcast_heartbeat(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    for (uint32_t k = 0; k < e->conf.n; k++) {
        uint64_t id = e->conf.m[k].id;
        if (id == e->id) {
            continue;
        }
        struct craft_msg *m =
            craft_send_independent(e, CRAFT_MSG_HEARTBEAT, id);
        /* Only what the follower is known to hold may be committed on
         * its side: its log may still diverge past match. */
        uint64_t match = e->prs[k].match;
        m->commit = match < e->commit ? match : e->commit;
        m->ctx = craft_read_ctx(e);
    }
}

/*
 * The leader's view of where the follower's log may match, from the
 * conflict hint (§5.3, "the follower can include the term of the
 * conflicting entry and the first index it stores for that term"): the
 * last index <= hint_index whose term is <= hint_term.
 */
static uint64_t conflict_probe(const struct craft_engine *e, uint64_t index,
                               uint64_t term)
{
    while (index > e->log.snap_index &&
           craft_log_term(&e->log, index) > term) {
        index--;
    }
    return index;
}

static void on_reject(struct craft_engine *e, int slot,
                      const struct craft_msg *m)
{
    if (m->index > craft_log_last(&e->log)) {
        return; /* cannot be refused what we never sent */
    }
    uint64_t hint = m->hint_index;
    if (m->hint_term > 0) {
        hint = conflict_probe(e, m->hint_index, m->hint_term);
    }
    if (CRAFT_BUG(e, CRAFT_BUG_SLOW_BACKOFF) && m->index > 0) {
        hint = m->index - 1;
    }
    /* A stale refusal answers an append we no longer wait for. */
    if (craft_progress_maybe_decr_to(&e->prs[slot], m->index, hint + 1)) {
        craft_send_append(e, slot, 1);
    }
}

void craft_on_append_resp(struct craft_engine *e, const struct craft_msg *m)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER && m->term == e->term);
    int slot = craft_conf_index_of(e, m->from);
    if (slot < 0) {
        return;
    }
    struct craft_progress *p = &e->prs[slot];
    p->recent_active = 1;
    if (m->flags & CRAFT_MSG_F_REJECT) {
        on_reject(e, slot, m);
        return;
    }
    if (m->index > craft_log_last(&e->log)) {
        return; /* cannot acknowledge what we never sent */
    }
    int updated = craft_progress_maybe_update(p, m->index);
    if (p->state == CRAFT_PROGRESS_STATE_PROBE) {
        /* The logs match up to index: switch to streaming. */
        craft_progress_become_replicate(p);
    } else if (p->state == CRAFT_PROGRESS_STATE_REPLICATE) {
        craft_progress_acked(p, m->index);
    }
    if (updated) {
        /* A match at or below the commit index cannot raise the
         * quorum's index past it: only a higher one may commit. */
        if (m->index > e->commit) {
            craft_maybe_commit(e);
            if (e->role != CRAFT_ROLE_LEADER) {
                return;
            }
        }
        craft_promo_check(e);
    }
    craft_send_append(e, slot, 0);
    craft_transfer_progress(e, slot);
}

void craft_on_heartbeat_resp(struct craft_engine *e,
                             const struct craft_msg *m)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER && m->term == e->term);
    int slot = craft_conf_index_of(e, m->from);
    if (slot < 0) {
        return;
    }
    struct craft_progress *p = &e->prs[slot];
    p->recent_active = 1;
    if (m->ctx > p->read_ack && m->ctx <= e->read_round) {
        p->read_ack = m->ctx;
        craft_reads_on_ack(e);
    }
    if (p->state == CRAFT_PROGRESS_STATE_SNAPSHOT) {
        return; /* appends wait for the snapshot (snapshot.c resends) */
    }
    /* A heartbeat answer unblocks a probe whose append may have been
     * lost, and restarts a stalled pipeline. */
    craft_progress_heartbeat_resp(p);
    if (p->match < craft_log_last(&e->log)) {
        craft_send_append(e, slot, 1);
    }
}
