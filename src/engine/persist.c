/*
 * engine/persist.c: storage actions and the order they leave in.
 *
 * Figure 2: "Persistent state on all servers (updated on stable storage
 * before responding to RPCs)". Changes to term, vote and log are recorded
 * as pending during a step; craft_flush_storage() turns them into actions
 * and is called before any send that depends on them and at the end of the
 * step. The host executes actions in order, so a dependent send can never
 * overtake its write.
 */
#include "engine/engine.h"

void craft_mark_hard_state(struct craft_engine *e)
{
    e->hs_dirty = 1;
}

void craft_append_entry(struct craft_engine *e, uint64_t term, uint32_t type,
                        const void *data, uint32_t len)
{
    /* Terms never go down along the log, nor past ours. */
    CRAFT_ASSERT(e->out != NULL && term <= e->term &&
                 term >= craft_log_last_term(&e->log));
    craft_log_append(&e->alloc, &e->log, term, type, data, len);
    uint64_t index = craft_log_last(&e->log);
    if (e->unstable == 0) {
        e->unstable = index;
    }
    if (type == CRAFT_ENTRY_CONFIG) {
        craft_conf_on_append(e, index);
    }
}

void craft_truncate_from(struct craft_engine *e, uint64_t index)
{
    /* Committed entries are never removed (Leader Completeness, §5.4),
     * and a leader never removes its own (§5.3). */
    CRAFT_ASSERT(index > e->commit && index > e->log.snap_index);
    CRAFT_ASSERT(e->role != CRAFT_ROLE_LEADER);
    if (index > craft_log_last(&e->log)) {
        return;
    }
    craft_receipts_truncated(e, index);
    craft_log_truncate(&e->alloc, &e->log, index);
    if (e->unstable != 0 && index >= e->unstable) {
        /* Only entries not yet handed to the host went away. */
        if (index == e->unstable) {
            e->unstable = 0;
        }
    } else {
        e->unstable = 0;
        if (e->truncated_at == 0 || index < e->truncated_at) {
            e->truncated_at = index;
        }
    }
    if (e->persisted >= index) {
        e->persisted = index - 1;
    }
    craft_conf_rollback(e);
}

void craft_flush_hard_state(struct craft_engine *e)
{
    if (e->hs_dirty) {
        struct craft_action *x =
            craft_actions_push(e->out, CRAFT_ACTION_PERSIST_HARD_STATE);
        x->term = e->term;
        x->vote = e->vote;
        e->hs_dirty = 0;
    }
}

void craft_flush_storage(struct craft_engine *e)
{
    craft_flush_hard_state(e);
    if (e->truncated_at != 0) {
        struct craft_action *x =
            craft_actions_push(e->out, CRAFT_ACTION_TRUNCATE);
        x->index = e->truncated_at;
        e->truncated_at = 0;
    }
    if (e->unstable != 0) {
        struct craft_action *x =
            craft_actions_push(e->out, CRAFT_ACTION_APPEND);
        craft_action_set_entries(x, &e->log, e->unstable,
                                 craft_log_last(&e->log) - e->unstable + 1);
        e->unstable = 0;
    }
}

/*
 * The host made entries up to index durable. A report whose term does not
 * match the entry at index is stale (the entry was truncated and replaced
 * since) and is ignored: by Log Matching, an equal term means the same
 * entry and, since writes are ordered, every entry before it too.
 */
int craft_on_persisted(struct craft_engine *e, uint64_t index, uint64_t term)
{
    if (index > craft_log_last(&e->log) || index <= e->persisted) {
        return CRAFT_OK;
    }
    if (index > e->log.snap_index && craft_log_term(&e->log, index) != term) {
        return CRAFT_OK;
    }
    e->persisted = index;
    if (e->role == CRAFT_ROLE_LEADER) {
        /* Thesis §10.2.1: the leader counts itself only once durable. */
        craft_maybe_commit(e);
    }
    return CRAFT_OK;
}
