/*
 * engine/commit.c: advancing the commit index and handing committed
 * entries to the host.
 */
#include "engine/engine.h"

/*
 * §5.3/§5.4.2: the leader commits the highest index N that a majority of
 * voters store, but only if the entry at N is of its current term; older
 * entries commit with it (Figure 8 shows why counting replicas of an old
 * term's entry is unsafe). The leader's own copy counts once durable
 * (thesis §10.2.1).
 */
void craft_maybe_commit(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    uint64_t m[CRAFT_MAX_MEMBERS];
    uint32_t n = 0;
    for (uint32_t k = 0; k < e->conf.n; k++) {
        if (e->conf.m[k].role != CRAFT_MEMBER_VOTER) {
            continue;
        }
        uint64_t v = e->conf.m[k].id == e->id ? e->persisted : e->prs[k].match;
        /* Insertion sort, descending: n is small. */
        uint32_t j = n++;
        while (j > 0 && m[j - 1] < v) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = v;
    }
    if (n == 0) {
        return;
    }
    uint64_t q = m[e->quorum - 1];
    if (CRAFT_BUG(e, CRAFT_BUG_COMMIT_NO_QUORUM)) {
        q = m[0];
    }
    if (q > e->commit && (craft_log_term(&e->log, q) == e->term ||
                          CRAFT_BUG(e, CRAFT_BUG_COMMIT_OLD_TERM))) {
        e->commit_unknown = 0;
        craft_commit_to(e, q);
        craft_after_commit(e);
    }
}

void craft_commit_to(struct craft_engine *e, uint64_t index)
{
    /* The commit index only grows, and only over entries we hold. */
    CRAFT_ASSERT(index > e->commit && index <= craft_log_last(&e->log));
    e->commit = index;
    e->apply_pending = 1;
    craft_receipts_committed(e, index);
}

/* Emits one APPLY for every committed entry not handed out yet. Called at
 * the end of a step, after the storage actions. */
void craft_flush_apply(struct craft_engine *e)
{
    CRAFT_ASSERT(e->out != NULL);
    if (!e->apply_pending) {
        return;
    }
    e->apply_pending = 0;
    if (e->commit <= e->applied) {
        return;
    }
    struct craft_action *x = craft_actions_push(e->out, CRAFT_ACTION_APPLY);
    craft_action_set_entries(x, &e->log, e->applied + 1,
                             e->commit - e->applied);
    e->applied = e->commit;
    craft_snapshot_policy(e, x->index, e->commit);
}
