/*
 * engine/check.c: the engine's invariants, asserted at the end of every
 * step in checked builds (util/assert.h). Each is something the rules
 * guarantee whatever the input; a failure is a bug in the engine.
 */
#include "engine/engine.h"

#ifdef CRAFT_CHECKED
static void check_log(const struct craft_engine *e)
{
    uint64_t last = craft_log_last(&e->log);
    /* Figure 3 / §5.3: commitIndex and lastApplied never pass the log;
     * nothing is applied before it is committed. */
    CRAFT_ASSERT(e->applied <= e->commit);
    CRAFT_ASSERT(e->commit <= last);
    CRAFT_ASSERT(e->persisted <= last);
    /* Compaction keeps everything after the snapshot, and a snapshot
     * holds only applied state. */
    CRAFT_ASSERT(e->log.snap_index <= e->snapshot_index ||
                 e->snapshot_index == 0);
    CRAFT_ASSERT(e->snapshot_index <= e->applied);
    CRAFT_ASSERT(e->log.snap_index <= e->applied);
    /* No entry of a term we have not reached, and terms never go down
     * along the log (Log Matching, §5.3). */
    CRAFT_ASSERT(craft_log_last_term(&e->log) <= e->term);
    CRAFT_ASSERT(e->log.snap_term <= e->term);
    if (e->log.n > 0) {
        CRAFT_ASSERT(craft_log_get(&e->log, craft_log_first(&e->log))->term >=
                     e->log.snap_term);
    }
    /* The configuration in force is the latest one in the log or the
     * snapshot's (thesis §4.1). */
    CRAFT_ASSERT(e->conf_index <= last);
    CRAFT_ASSERT(e->conf.n <= CRAFT_MAX_MEMBERS);
    CRAFT_ASSERT(e->conf.n == 0 ||
                 e->quorum == craft_conf_voters(&e->conf) / 2 + 1);
}

static void check_leader(const struct craft_engine *e)
{
    uint64_t last = craft_log_last(&e->log);
    /* §5.2: a leader won its term's election with its own vote. */
    CRAFT_ASSERT(e->leader == e->id && e->vote == e->id);
    for (uint32_t k = 0; k < e->conf.n; k++) {
        craft_progress_check(&e->prs[k], last);
    }
    CRAFT_ASSERT(e->transfer_target != e->id);
}

static void check_follower(const struct craft_engine *e)
{
    /* What a leader does for clients ends with its leadership. */
    CRAFT_ASSERT(e->n_reads == 0);
    CRAFT_ASSERT(!e->promo.active);
    CRAFT_ASSERT(e->transfer_target == CRAFT_NONE || e->transfer_handover);
    if (e->role != CRAFT_ROLE_FOLLOWER) {
        /* A (pre-)candidate knows no leader in its term. */
        CRAFT_ASSERT(e->leader == CRAFT_NONE);
    }
    if (e->role == CRAFT_ROLE_CANDIDATE) {
        CRAFT_ASSERT(e->vote == e->id); /* §5.2: votes for itself */
    }
}

void craft_engine_check(const struct craft_engine *e)
{
    CRAFT_ASSERT(e->role >= CRAFT_ROLE_FOLLOWER &&
                 e->role <= CRAFT_ROLE_LEADER);
    /* Everything the step changed left as actions. */
    CRAFT_ASSERT(e->out == NULL && !e->hs_dirty && e->unstable == 0 &&
                 e->truncated_at == 0 && !e->apply_pending);
    CRAFT_ASSERT(e->election_timeout >= e->opts.election_ticks &&
                 e->election_timeout < 2 * e->opts.election_ticks);
    CRAFT_ASSERT(e->n_reads <= e->cap_reads);
    /* Receipts kept: in index order, uncommitted, on entries of their
     * term in the log. */
    for (size_t k = 0; k < e->n_rcpt; k++) {
        const struct craft_receipt *r = &e->rcpt[k];
        uint64_t last = r->index + r->count - 1;
        CRAFT_ASSERT(r->count > 0 && last > e->commit &&
                     last <= craft_log_last(&e->log));
        CRAFT_ASSERT(craft_log_term(&e->log, last) == r->term);
        CRAFT_ASSERT(k == 0 || e->rcpt[k - 1].index + e->rcpt[k - 1].count <=
                                   r->index);
    }
    check_log(e);
    if (e->role == CRAFT_ROLE_LEADER) {
        check_leader(e);
    } else {
        check_follower(e);
    }
}
#else
/* Release build: nothing (ISO C wants a declaration in every file). */
typedef int craft_engine_check_release_build;
#endif
