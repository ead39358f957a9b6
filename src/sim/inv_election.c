/*
 * sim/inv_election.c: Election Safety ("at most one leader can be elected
 * in a given term", Figure 3), one vote per term, and Leader Completeness
 * ("if a log entry is committed in a given term, then that entry will be
 * present in the logs of the leaders for all higher-numbered terms").
 */
#include <inttypes.h>

#include "sim/inv.h"

static void election_safety(struct sim *s, struct sim_node *n, uint64_t term)
{
    struct sim_term *t = sim_inv_term(s, term);
    if (t == NULL) {
        return;
    }
    if (t->leader != 0 && t->leader != n->id) {
        sim_fail(s, SIM_V_ELECTION_SAFETY,
                 "node %" PRIu64 " became leader of term %" PRIu64
                 ", which node %" PRIu64 " already leads",
                 n->id, term, t->leader);
        return;
    }
    t->leader = n->id;
}

/* Entries committed in terms before `term` (by a node of that term) must
 * all be in the new leader's log: it is enough to look at the highest. */
static void leader_completeness(struct sim *s, struct sim_node *n,
                                uint64_t term)
{
    uint64_t m = 0;
    for (uint64_t t = term - 1; t >= 1; t--) {
        const struct sim_term *r = sim_win_at(&s->inv.leaders, t);
        if (r != NULL && r->committed > m) {
            m = r->committed;
        }
    }
    const struct sim_sentry *c = sim_inv_committed(s, m);
    if (m == 0 || c == NULL || m <= n->shadow.base) {
        /* Nothing committed before, or n's log starts past it: its
         * snapshot was checked against the committed log. */
        return;
    }
    int ok;
    uint64_t h = sim_shadow_hash(n, m, &ok);
    if (!ok || h != c->hash) {
        sim_fail(s, SIM_V_LEADER_COMPLETENESS,
                 "node %" PRIu64 " became leader of term %" PRIu64
                 " without entry %" PRIu64 " (term %" PRIu64
                 "), committed in an earlier term: its log ends at %" PRIu64
                 "%s",
                 n->id, term, m, c->term, sim_win_last(&n->shadow),
                 ok ? " and differs there" : "");
    }
}

void sim_inv_role(struct sim *s, struct sim_node *n, int role, uint64_t term)
{
    n->role = role;
    n->term = term;
    if (role != CRAFT_ROLE_LEADER) {
        return;
    }
    s->res->elections++;
    election_safety(s, n, term);
    leader_completeness(s, n, term);
}

void sim_inv_hard_state(struct sim *s, struct sim_node *n, uint64_t term,
                        uint64_t vote)
{
    if (term < n->hs_term) {
        sim_fail(s, SIM_V_DOUBLE_VOTE,
                 "node %" PRIu64 " persisted term %" PRIu64
                 " after term %" PRIu64 ": terms never go down",
                 n->id, term, n->hs_term);
        return;
    }
    if (term == n->hs_term && n->hs_vote != CRAFT_NONE &&
        vote != n->hs_vote) {
        sim_fail(s, SIM_V_DOUBLE_VOTE,
                 "node %" PRIu64 " voted for %" PRIu64 " in term %" PRIu64
                 " after voting for %" PRIu64,
                 n->id, vote, term, n->hs_vote);
        return;
    }
    n->hs_term = term;
    n->hs_vote = vote;
}
