/*
 * engine/transfer.c: leadership transfer (thesis §3.10).
 *
 * The leader stops accepting proposals, brings the target's log up to
 * date, then sends TimeoutNow; the target campaigns at once (skipping
 * pre-vote, and its vote requests override leader stickiness). If no
 * handover happens within an election timeout the transfer is abandoned
 * and proposals resume.
 */
#include "engine/engine.h"

static void transfer_result(struct craft_engine *e, uint64_t id, int status,
                            uint64_t peer)
{
    struct craft_action *x =
        craft_actions_push(e->out, CRAFT_ACTION_TRANSFER_RESULT);
    x->id = id;
    x->status = status;
    x->peer = peer;
    x->leader = e->leader;
}

void craft_transfer_end(struct craft_engine *e, int status)
{
    if (e->transfer_target == CRAFT_NONE) {
        return;
    }
    transfer_result(e, e->transfer_id, status, e->transfer_target);
    e->transfer_target = CRAFT_NONE;
    e->transfer_sent = 0;
    e->transfer_handover = 0;
}

/* After stepping down for the target's campaign, the transfer succeeded
 * only if the target is the leader we learn of next. */
void craft_transfer_observe_leader(struct craft_engine *e, uint64_t leader)
{
    if (e->transfer_target == CRAFT_NONE || !e->transfer_handover ||
        leader == CRAFT_NONE || e->role == CRAFT_ROLE_LEADER) {
        return;
    }
    craft_transfer_end(e, leader == e->transfer_target ? CRAFT_OK
                                                       : CRAFT_ESTEPPEDDOWN);
}

/* Sends TimeoutNow once the target holds the leader's whole log. */
void craft_transfer_progress(struct craft_engine *e, int slot)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    CRAFT_ASSERT(slot >= 0 && (uint32_t)slot < e->conf.n);
    if (e->transfer_target == CRAFT_NONE || e->transfer_sent ||
        e->conf.m[slot].id != e->transfer_target) {
        return;
    }
    if (e->prs[slot].match == craft_log_last(&e->log)) {
        craft_send_independent(e, CRAFT_MSG_TIMEOUT_NOW, e->transfer_target);
        e->transfer_sent = 1;
        /* The target may win with votes that override stickiness, even
         * after this transfer times out (a late TimeoutNow), so the lease
         * promise no longer holds for the rest of this term. */
        e->lease_revoked = 1;
    } else {
        craft_send_append(e, slot, 1);
    }
}

void craft_on_transfer(struct craft_engine *e, uint64_t id, uint64_t peer)
{
    if (e->role != CRAFT_ROLE_LEADER) {
        transfer_result(e, id, CRAFT_ENOTLEADER, peer);
        return;
    }
    if (peer == e->id) {
        transfer_result(e, id, CRAFT_OK, peer); /* already there */
        return;
    }
    int slot = craft_conf_index_of(e, peer);
    if (slot < 0 || e->conf.m[slot].role != CRAFT_MEMBER_VOTER) {
        transfer_result(e, id, CRAFT_EUNKNOWNPEER, peer);
        return;
    }
    if (e->transfer_target != CRAFT_NONE) {
        transfer_result(e, id, CRAFT_EBUSY, peer);
        return;
    }
    e->transfer_target = peer;
    e->transfer_id = id;
    e->transfer_elapsed = 0;
    e->transfer_sent = 0;
    craft_transfer_progress(e, slot);
}

void craft_transfer_tick(struct craft_engine *e)
{
    if (e->transfer_target == CRAFT_NONE) {
        return;
    }
    if (++e->transfer_elapsed >= e->opts.election_ticks) {
        craft_transfer_end(e, CRAFT_ETIMEDOUT);
    }
}

/* The target's side: campaign now, as a real candidate, flagged so that
 * voters who still see a live leader grant anyway (thesis §3.10). */
void craft_on_timeout_now(struct craft_engine *e, const struct craft_msg *m)
{
    if (m->from != e->leader || !craft_electable(e, NULL) ||
        e->role == CRAFT_ROLE_LEADER) {
        return;
    }
    craft_campaign(e, 0, CRAFT_MSG_F_TRANSFER);
}
