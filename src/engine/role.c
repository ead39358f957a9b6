/*
 * engine/role.c: role transitions (§5.1, Figure 2 "Rules for Servers").
 */
#include "engine/engine.h"

#include <string.h>

void craft_emit_role_change(struct craft_engine *e)
{
    CRAFT_ASSERT(e->out != NULL);
    struct craft_action *x =
        craft_actions_push(e->out, CRAFT_ACTION_ROLE_CHANGE);
    x->role = e->role;
    x->term = e->term;
    x->leader = e->leader;
}

void craft_set_leader(struct craft_engine *e, uint64_t leader)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_FOLLOWER && leader != e->id);
    if (e->leader != leader) {
        e->leader = leader;
        craft_emit_role_change(e);
    }
    craft_transfer_observe_leader(e, leader);
}

static void reset_votes(struct craft_engine *e)
{
    memset(e->vote_granted, 0, sizeof(e->vote_granted));
    memset(e->vote_responded, 0, sizeof(e->vote_responded));
}

/* "If RPC request or response contains term T > currentTerm: set
 * currentTerm = T, convert to follower" (Figure 2). The vote is cleared
 * only when the term changes. */
/* What a leader was doing for clients ends with its leadership. */
static void leave_leadership(struct craft_engine *e)
{
    if (e->role != CRAFT_ROLE_LEADER) {
        return;
    }
    craft_reads_fail(e, CRAFT_ESTEPPEDDOWN);
    if (!e->transfer_handover) {
        craft_transfer_end(e, CRAFT_ESTEPPEDDOWN);
    }
    craft_promo_cancel(e, CRAFT_ESTEPPEDDOWN);
}

void craft_become_follower(struct craft_engine *e, uint64_t term,
                           uint64_t leader)
{
    CRAFT_ASSERT(term >= e->term && leader != e->id);
    leave_leadership(e);
    int changed = e->role != CRAFT_ROLE_FOLLOWER || e->leader != leader ||
                  e->term != term;
    if (term != e->term) {
        e->term = term;
        e->vote = CRAFT_NONE;
        craft_mark_hard_state(e);
    }
    e->role = CRAFT_ROLE_FOLLOWER;
    e->leader = leader;
    craft_reset_election_timeout(e);
    if (changed) {
        craft_emit_role_change(e);
    }
    craft_transfer_observe_leader(e, leader);
}

/* Thesis §9.6: a pre-candidate asks whether it could win before it bumps
 * its term, so a server that cannot win never disrupts the cluster. */
void craft_become_pre_candidate(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role != CRAFT_ROLE_LEADER && craft_electable(e, NULL));
    e->role = CRAFT_ROLE_PRE_CANDIDATE;
    e->leader = CRAFT_NONE;
    reset_votes(e);
    craft_reset_election_timeout(e);
    craft_emit_role_change(e);
}

/* §5.2: increment currentTerm, vote for self, reset the election timer. */
void craft_become_candidate(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role != CRAFT_ROLE_LEADER && craft_electable(e, NULL));
    e->term++;
    e->vote = e->id;
    craft_mark_hard_state(e);
    e->role = CRAFT_ROLE_CANDIDATE;
    e->leader = CRAFT_NONE;
    reset_votes(e);
    craft_reset_election_timeout(e);
    craft_emit_role_change(e);
}

/*
 * §5.3: a new leader initialises nextIndex to its last index + 1 for every
 * peer and starts probing. §5.4.2 / thesis §6.4: it appends a no-op entry
 * of its own term so that it can commit (and learn the commit index) even
 * if no client proposes.
 */
void craft_become_leader(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_CANDIDATE && e->vote == e->id);
    e->role = CRAFT_ROLE_LEADER;
    e->leader = e->id;
    e->n_reads = 0;
    e->read_acked = e->read_round;
    e->lease_until = 0;
    e->lease_revoked = 0;
    craft_transfer_end(e, CRAFT_ESTEPPEDDOWN); /* a handover that failed */
    e->promo.active = 0;
    e->heartbeat_elapsed = 0;
    e->election_elapsed = 0;
    uint64_t next = craft_log_last(&e->log) + 1;
    for (uint32_t k = 0; k < e->conf.n; k++) {
        struct craft_progress *p = &e->prs[k];
        craft_progress_init(p, p->inflight, p->in_cap, 0, next);
        p->recent_active = 1;
        p->read_ack = 0;
    }
    craft_emit_role_change(e);
    /* Reserved in craft_step's prologue: see craft_actions_bound. */
    craft_append_entry(e, e->term, CRAFT_ENTRY_NOOP, NULL, 0);
    craft_broadcast_append(e);
}
