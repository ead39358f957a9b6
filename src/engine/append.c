/*
 * engine/append.c: the follower side of AppendEntries (§5.3) and of
 * heartbeats.
 */
#include "engine/engine.h"

/*
 * The conflict hint for a rejected append (§5.3, "fast backoff"): starting
 * from min(prev index, our last index), the last of our entries whose term
 * is <= the leader's prev term. The leader then skips every index where
 * our terms are known to be newer than its entry, in one round trip.
 */
static void reject(struct craft_engine *e, const struct craft_msg *m)
{
    uint64_t hint = m->index;
    uint64_t last = craft_log_last(&e->log);
    if (hint > last) {
        hint = last;
    }
    while (hint > e->log.snap_index &&
           craft_log_term(&e->log, hint) > m->log_term) {
        hint--;
    }
    struct craft_msg *r = craft_send(e, CRAFT_MSG_APPEND_RESP, m->from);
    r->flags = CRAFT_MSG_F_REJECT;
    r->index = m->index;
    r->hint_index = hint;
    r->hint_term = craft_log_term(&e->log, hint);
}

static void ack(struct craft_engine *e, uint64_t to, uint64_t index)
{
    struct craft_msg *r = craft_send(e, CRAFT_MSG_APPEND_RESP, to);
    r->index = index;
}

/* A leader's commit index applies to us only up to what we know matches
 * its log: the last entry it sent us, never beyond (§5.3). */
static void follow_commit(struct craft_engine *e, uint64_t leader_commit,
                          uint64_t matched)
{
    CRAFT_ASSERT(matched <= craft_log_last(&e->log));
    if (CRAFT_BUG(e, CRAFT_BUG_FOLLOWER_COMMIT)) {
        matched = craft_log_last(&e->log);
    }
    e->commit_unknown = 0;
    uint64_t c = leader_commit < matched ? leader_commit : matched;
    if (c > e->commit) {
        craft_commit_to(e, c);
    }
}

void craft_on_append(struct craft_engine *e, const struct craft_msg *m)
{
    /* dispatch (step.c): only a follower of m's term gets here. */
    CRAFT_ASSERT(e->role == CRAFT_ROLE_FOLLOWER && m->term == e->term);
    craft_set_leader(e, m->from);
    e->election_elapsed = 0;

    if (m->index < e->commit) {
        /* Entries up to our commit index are committed, so they match
         * the leader's: tell it where we are instead (a duplicate or
         * reordered append). */
        ack(e, m->from, e->commit);
        return;
    }
    /* §5.3 consistency check: reject if our log has no entry at prevIndex
     * whose term matches prevTerm. */
    if (m->index > craft_log_last(&e->log) ||
        craft_log_term(&e->log, m->index) != m->log_term) {
        reject(e, m);
        return;
    }
    /* §5.3: "If an existing entry conflicts with a new one (same index
     * but different terms), delete the existing entry and all that follow
     * it; append any new entries not already in the log." Entries we
     * already have are kept: a stale, shorter append must not truncate
     * what a newer one appended. */
    size_t k = 0;
    uint64_t last = craft_log_last(&e->log);
    for (; k < m->n_entries; k++) {
        uint64_t i = m->index + 1 + k;
        if (i > last) {
            break;
        }
        if (craft_log_term(&e->log, i) != m->entries[k].term) {
            /* Committed entries never conflict (Leader Completeness);
             * step.c rejected any message that would say so. */
            craft_truncate_from(e, i);
            break;
        }
    }
    for (; k < m->n_entries; k++) {
        const struct craft_entry *en = &m->entries[k];
        craft_append_entry(e, en->term, en->type, en->data, en->len);
    }
    uint64_t matched = m->index + m->n_entries;
    follow_commit(e, m->commit, matched);
    ack(e, m->from, matched);
}

void craft_on_heartbeat(struct craft_engine *e, const struct craft_msg *m)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_FOLLOWER && m->term == e->term);
    craft_set_leader(e, m->from);
    e->election_elapsed = 0;
    /* The leader sends min(match, commit), so this never commits an entry
     * we hold but the leader does not. */
    e->commit_unknown = 0;
    if (m->commit > e->commit && m->commit <= craft_log_last(&e->log)) {
        craft_commit_to(e, m->commit);
    }
    struct craft_msg *r = craft_send(e, CRAFT_MSG_HEARTBEAT_RESP, m->from);
    r->ctx = m->ctx;
}
