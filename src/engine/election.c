/*
 * engine/election.c: timers and campaigns (§5.2, thesis §9.6).
 */
#include "engine/engine.h"

/*
 * Check-quorum (thesis §6.2): a leader that has not heard from a majority
 * within an election timeout steps down, so a leader cut off in a minority
 * stops serving and its clients go elsewhere.
 */
static void check_quorum(struct craft_engine *e)
{
    uint32_t active = 0;
    for (uint32_t k = 0; k < e->conf.n; k++) {
        struct craft_progress *p = &e->prs[k];
        if (e->conf.m[k].role == CRAFT_MEMBER_VOTER &&
            (p->recent_active || e->conf.m[k].id == e->id)) {
            active++;
        }
        p->recent_active = 0;
    }
    if (active < craft_quorum(e)) {
        craft_become_follower(e, e->term, CRAFT_NONE);
    }
}

static void tick_leader(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    e->heartbeat_elapsed++;
    e->election_elapsed++;
    if (e->election_elapsed >= e->opts.election_ticks) {
        e->election_elapsed = 0;
        if (e->opts.check_quorum) {
            check_quorum(e);
            if (e->role != CRAFT_ROLE_LEADER) {
                return;
            }
        }
    }
    craft_transfer_tick(e);
    craft_promo_check(e);
    craft_snapshot_tick(e);
    if (e->heartbeat_elapsed >= e->opts.heartbeat_ticks) {
        e->heartbeat_elapsed = 0;
        craft_reads_heartbeat_tick(e);
    }
}

void craft_tick(struct craft_engine *e)
{
    CRAFT_ASSERT(e->out != NULL);
    e->ticks++;
    if (e->role == CRAFT_ROLE_LEADER) {
        tick_leader(e);
        return;
    }
    craft_transfer_tick(e); /* a handover still waiting for its outcome */
    e->election_elapsed++;
    /* §5.2: a follower that hears nothing for an election timeout starts
     * an election. Only voters campaign: a learner, a removed server or a
     * server still waiting to join never does (thesis §4.2.1). */
    if (e->election_elapsed >= e->election_timeout &&
        craft_electable(e, NULL)) {
        craft_campaign(e, e->opts.pre_vote, 0);
    }
}

/*
 * Starts a pre-vote (pre != 0) or a real election. The vote request
 * carries the last log index and term for the §5.4.1 check. A server
 * that is the only voter wins at once.
 */
void craft_campaign(struct craft_engine *e, int pre, uint32_t flags)
{
    CRAFT_ASSERT(e->role != CRAFT_ROLE_LEADER && craft_electable(e, NULL));
    uint32_t type;
    uint64_t term;
    if (CRAFT_BUG(e, CRAFT_BUG_NO_PREVOTE)) {
        pre = 0;
    }
    if (e->term == UINT64_MAX) {
        /* There is no later term to campaign in: incrementing would wrap
         * to 0 and the term would go down (§5.1: terms only increase).
         * Only a peer that sent this term can have put us here. */
        return;
    }
    if (pre) {
        craft_become_pre_candidate(e);
        type = CRAFT_MSG_PREVOTE;
        term = e->term + 1;
    } else {
        craft_become_candidate(e);
        type = CRAFT_MSG_VOTE;
        term = e->term;
    }
    craft_electable(e, &e->elec_conf);
    int self = craft_conf_find(&e->elec_conf, e->id);
    e->vote_granted[self] = 1;
    e->vote_responded[self] = 1;
    if (craft_conf_voters(&e->elec_conf) <= 1) {
        if (pre) {
            craft_campaign(e, 0, flags);
        } else {
            craft_become_leader(e);
        }
        return;
    }
    for (uint32_t k = 0; k < e->elec_conf.n; k++) {
        const struct craft_member *mb = &e->elec_conf.m[k];
        if (mb->id == e->id || mb->role != CRAFT_MEMBER_VOTER) {
            continue;
        }
        struct craft_msg *m = craft_send(e, type, mb->id);
        m->term = term;
        m->index = craft_log_last(&e->log);
        m->log_term = craft_log_last_term(&e->log);
        m->flags = flags;
    }
}
