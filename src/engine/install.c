/*
 * engine/install.c: the follower's side of InstallSnapshot (§7, thesis
 * §5.3), chunk by chunk.
 *
 * Chunks are written to the host as they arrive (SNAPSHOT_WRITE) and
 * acknowledged with the next offset wanted, so the leader can resume
 * from there. On the last chunk the order is: make the snapshot durable,
 * restore the state machine from it, drop conflicting log entries, and
 * only then acknowledge.
 */
#include "engine/engine.h"

#include <string.h>

static void reply(struct craft_engine *e, const struct craft_msg *m,
                  uint64_t offset, uint32_t flags)
{
    struct craft_msg *r = craft_send(e, CRAFT_MSG_SNAPSHOT_RESP, m->from);
    r->index = m->index;
    r->offset = offset;
    r->flags = flags;
}

/* Whether our log holds the snapshot's last entry (its index and term). */
static int holds_last_entry(const struct craft_engine *e,
                            const struct craft_msg *m)
{
    return (craft_log_term(&e->log, m->index) == m->log_term ||
            CRAFT_BUG(e, CRAFT_BUG_SNAPSHOT_KEEP)) &&
           m->index <= craft_log_last(&e->log);
}

/* Makes the received snapshot the base of the log. */
static void install(struct craft_engine *e, const struct craft_msg *m)
{
    CRAFT_ASSERT(m->index > e->commit); /* craft_on_snapshot answered */
    struct craft_conf c;
    craft_conf_decode(m->conf, m->conf_len, &c); /* checked in step.c */

    struct craft_action *x =
        craft_actions_push(e->out, CRAFT_ACTION_SNAPSHOT_INSTALL);
    x->index = m->index;
    x->term = m->log_term;

    /* §7: keep the entries after the snapshot only if our log has its
     * last entry; otherwise the whole log goes (craft_on_snapshot cut
     * what follows it already). */
    int keep = holds_last_entry(e, m);
    if (!keep && craft_log_last(&e->log) > m->index) {
        craft_truncate_from(e, m->index + 1);
    }
    craft_receipts_installed(e, m->index, keep);
    e->commit_unknown = 0;
    e->base_conf = c;
    e->base_conf_index = m->index;
    craft_log_compact(&e->alloc, &e->log, m->index, m->log_term);
    e->snapshot_index = m->index;
    e->snapshot_term = m->log_term;
    e->snap_conf = c;
    e->snap_conf_index = m->index;
    memcpy(e->snap_conf_bytes, m->conf, m->conf_len);
    e->snap_conf_len = m->conf_len;
    e->since_snap_entries = 0;
    e->since_snap_bytes = 0;
    e->snap_requested = 0;
    if (e->conf_index <= m->index || !keep) {
        craft_conf_set(e, &c, m->index);
    }
    if (e->commit < m->index) {
        e->commit = m->index;
    }
    e->applied = m->index > e->applied ? m->index : e->applied;
    if (e->persisted < m->index) {
        e->persisted = m->index;
    }
}

void craft_on_snapshot(struct craft_engine *e, const struct craft_msg *m)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_FOLLOWER && m->term == e->term);
    craft_set_leader(e, m->from);
    e->election_elapsed = 0;

    if (m->index <= e->commit) {
        /* We already have everything it holds. */
        e->in_active = 0;
        reply(e, m, 0, CRAFT_MSG_F_LAST);
        return;
    }
    if (m->offset == 0) {
        e->in_active = 1;
        e->in_index = m->index;
        e->in_term = m->log_term;
        e->in_offset = 0;
        e->in_from = m->from;
        e->in_msg_term = m->term;
    } else if (!e->in_active || e->in_index != m->index ||
               e->in_term != m->log_term || e->in_from != m->from ||
               e->in_msg_term != m->term || e->in_offset != m->offset) {
        /* Resume only the same transfer: the same snapshot from the same
         * leader. Another leader's snapshot of the same index holds the
         * same state but not necessarily the same bytes (snapshots are
         * opaque): splicing its chunks onto ours would corrupt it. */
        int same = e->in_active && e->in_index == m->index &&
                   e->in_term == m->log_term && e->in_from == m->from &&
                   e->in_msg_term == m->term;
        reply(e, m, same ? e->in_offset : 0, CRAFT_MSG_F_REJECT);
        return;
    }
    int last = (m->flags & CRAFT_MSG_F_LAST) != 0;
    if (last && !holds_last_entry(e, m) &&
        craft_log_last(&e->log) > m->index) {
        /* §7: the log after the snapshot goes when it does not hold the
         * snapshot's last entry. Cut it before the snapshot becomes
         * durable: a crash between the two must not leave a snapshot
         * followed by entries of older terms, which no restart could
         * load. (They are not committed: commit < m->index here.) */
        craft_truncate_from(e, m->index + 1);
    }
    /* Earlier writes (term, vote, that cut) go first. */
    craft_flush_storage(e);
    /* Reserved in the prologue. An empty chunk may come with no data
     * pointer at all, and memcpy from NULL is undefined even for 0. */
    if (m->len > 0) {
        memcpy(e->chunk, m->data, m->len);
    }
    memcpy(e->chunk + m->len, m->conf, m->conf_len);
    struct craft_action *x =
        craft_actions_push(e->out, CRAFT_ACTION_SNAPSHOT_WRITE);
    x->index = m->index;
    x->term = m->log_term;
    x->offset = m->offset;
    x->data = e->chunk;
    x->len = m->len;
    x->conf = e->chunk + m->len;
    x->conf_len = m->conf_len;
    x->flags = last ? CRAFT_ACTION_F_LAST : 0;
    e->in_offset += m->len;
    if (!last) {
        reply(e, m, e->in_offset, 0);
        return;
    }
    e->in_active = 0;
    install(e, m);
    reply(e, m, e->in_offset, CRAFT_MSG_F_LAST);
}
