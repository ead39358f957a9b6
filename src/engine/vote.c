/*
 * engine/vote.c: RequestVote and pre-vote, both sides (§5.2, §5.4.1,
 * thesis §9.6).
 */
#include "engine/engine.h"

/* §5.4.1: grant only if the candidate's log is at least as up-to-date as
 * ours: a later last term, or the same last term and at least as long. */
static int log_up_to_date(const struct craft_engine *e,
                          const struct craft_msg *m)
{
    uint64_t lt = craft_log_last_term(&e->log);
    return m->log_term > lt ||
           (m->log_term == lt && m->index >= craft_log_last(&e->log));
}

void craft_on_vote(struct craft_engine *e, const struct craft_msg *m)
{
    int pre = m->type == CRAFT_MSG_PREVOTE;
    /* handle_term (step.c): a vote request is of our term by now; a
     * pre-vote may be for a later one, which it does not enter. */
    CRAFT_ASSERT(m->type == CRAFT_MSG_VOTE || pre);
    CRAFT_ASSERT(pre ? m->term >= e->term : m->term == e->term);
    /* A real vote may go to the server we already voted for (a
     * retransmission) or, with no vote and no known leader this term, to
     * anyone. A pre-vote commits to nothing, so any later-term request
     * qualifies. */
    int can_vote = e->vote == m->from ||
                   (e->vote == CRAFT_NONE && e->leader == CRAFT_NONE) ||
                   (pre && m->term > e->term) ||
                   CRAFT_BUG(e, CRAFT_BUG_VOTE_TWICE);
    int grant = can_vote && log_up_to_date(e, m);
    uint32_t resp_type = pre ? CRAFT_MSG_PREVOTE_RESP : CRAFT_MSG_VOTE_RESP;

    if (grant && !pre) {
        if (e->vote != m->from) {
            e->vote = m->from;
            craft_mark_hard_state(e);
        }
        /* Granting resets the timer (Figure 2), so that we do not compete
         * with the candidate we just voted for. */
        craft_reset_election_timeout(e);
    }
    /* The vote must be durable before the grant leaves (Figure 2):
     * craft_send flushes the hard state first. */
    struct craft_msg *r = craft_send(e, resp_type, m->from);
    if (grant) {
        /* A pre-vote grant answers in the term asked about, so the
         * pre-candidate can tell it from a stale reply. */
        r->term = pre ? m->term : e->term;
    } else {
        r->flags = CRAFT_MSG_F_REJECT;
    }
}

void craft_on_vote_resp(struct craft_engine *e, const struct craft_msg *m)
{
    int pre = m->type == CRAFT_MSG_PREVOTE_RESP;
    CRAFT_ASSERT(m->type == CRAFT_MSG_VOTE_RESP || pre);
    if ((pre && e->role != CRAFT_ROLE_PRE_CANDIDATE) ||
        (!pre && e->role != CRAFT_ROLE_CANDIDATE)) {
        return;
    }
    const struct craft_conf *c = &e->elec_conf;
    int k = craft_conf_find(c, m->from);
    if (k < 0 || c->m[k].role != CRAFT_MEMBER_VOTER ||
        e->vote_responded[k]) {
        return;
    }
    e->vote_responded[k] = 1;
    e->vote_granted[k] = !(m->flags & CRAFT_MSG_F_REJECT);

    uint32_t granted = 0;
    uint32_t rejected = 0;
    for (uint32_t j = 0; j < c->n; j++) {
        if (c->m[j].role != CRAFT_MEMBER_VOTER || !e->vote_responded[j]) {
            continue;
        }
        if (e->vote_granted[j]) {
            granted++;
        } else {
            rejected++;
        }
    }
    uint32_t q = craft_conf_voters(c) / 2 + 1;
    if (granted >= q) {
        if (pre) {
            craft_campaign(e, 0, 0);
        } else {
            craft_become_leader(e);
        }
    } else if (rejected >= q) {
        /* A majority refused: this election cannot be won. */
        craft_become_follower(e, e->term, CRAFT_NONE);
    }
}
