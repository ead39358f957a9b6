/*
 * sim/inv_commit.c: the commit index never goes down and never covers an
 * entry that a quorum has not durably stored; every node commits and
 * applies the same entry at each index (State Machine Safety, Figure 3).
 *
 * The committed log is recorded once, from the first node to commit each
 * index; later commits and applies compare prefix hashes with it, so the
 * cost per step is proportional to how far the commit index moved.
 */
#include <inttypes.h>
#include <stdio.h>

#include "sim/inv.h"

/* The voters of n's configuration, one bit per slot. */
static uint32_t voter_mask(const struct sim *s, const struct sim_node *n)
{
    const struct craft_conf *c = &n->e->conf;
    uint32_t mask = 0;
    for (uint32_t k = 0; k < c->n; k++) {
        if (c->m[k].role == CRAFT_MEMBER_VOTER && c->m[k].id >= 1 &&
            c->m[k].id <= s->nslots) {
            mask |= 1u << (c->m[k].id - 1);
        }
    }
    return mask;
}

void sim_inv_voters(struct sim *s, struct sim_node *n)
{
    n->voters = voter_mask(s, n);
}

/* How many of the voters in mask durably hold (index, term); their ids
 * go to who. */
static uint32_t holding(struct sim *s, uint32_t mask, uint64_t index,
                        uint64_t term, char *who, size_t len)
{
    uint32_t count = 0;
    size_t off = 0;
    who[0] = 0;
    for (uint32_t k = 0; k < s->nslots; k++) {
        if (!(mask & (1u << k)) ||
            !sim_disk_holds(&s->node[k].disk, index, term)) {
            continue;
        }
        count++;
        int w = snprintf(who + off, len - off, " %" PRIu64, s->node[k].id);
        if (w > 0 && (size_t)w < len - off) {
            off += (size_t)w;
        }
    }
    return count;
}

static uint32_t popcount(uint32_t x)
{
    uint32_t c = 0;
    for (; x != 0; x &= x - 1) {
        c++;
    }
    return c;
}

/*
 * Thesis §10.2.1 and Figure 2: a leader may only count a server that has
 * the entry on stable storage, itself included. The quorum is that of the
 * node's configuration before or after the step (a step may commit and
 * then append the next configuration, e.g. a learner's promotion).
 */
static void quorum_durable(struct sim *s, struct sim_node *n, uint64_t index,
                           uint64_t term)
{
    uint32_t before = n->voters, after = voter_mask(s, n);
    char who[128];
    uint32_t have = holding(s, before, index, term, who, sizeof(who));
    if (have >= popcount(before) / 2 + 1) {
        return;
    }
    have = holding(s, after, index, term, who, sizeof(who));
    if (have >= popcount(after) / 2 + 1 || after == 0) {
        return;
    }
    sim_fail(s, SIM_V_COMMIT_NO_QUORUM,
             "node %" PRIu64 " commits %" PRIu64 " (term %" PRIu64
             ") but only %u of %u voters store it durably:%s",
             n->id, index, term, have, popcount(after),
             have > 0 ? who : " none");
}

void sim_inv_commit(struct sim *s, struct sim_node *n, uint64_t commit)
{
    if (commit < n->commit) {
        sim_fail(s, SIM_V_COMMIT_DECREASED,
                 "node %" PRIu64 " commit index went from %" PRIu64
                 " to %" PRIu64,
                 n->id, n->commit, commit);
        return;
    }
    if (commit == n->commit) {
        return;
    }
    if (n->e->role == CRAFT_ROLE_LEADER && commit <= sim_win_last(&n->shadow)) {
        /* §5.4.2, Figure 8: a leader commits by counting replicas only an
         * entry of its own term; earlier ones commit with it. */
        const struct sim_sentry *at = sim_shadow_at(n, commit);
        uint64_t t = at != NULL ? at->term : n->base_term;
        if (t != n->e->term) {
            sim_fail(s, SIM_V_COMMIT_OWN_TERM,
                     "leader %" PRIu64 " of term %" PRIu64
                     " moves its commit index from %" PRIu64 " to %" PRIu64
                     ", an entry of term %" PRIu64,
                     n->id, n->e->term, n->commit, commit, t);
            /* No return: with the check skipped (a test of what else
             * catches the bug) the commit is still recorded. */
        }
    }
    if (commit > sim_win_last(&n->shadow)) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " commits %" PRIu64
                 " past the end of its log (%" PRIu64 ")",
                 n->id, commit, sim_win_last(&n->shadow));
        return;
    }
    struct sim_win *cw = &s->inv.committed;
    uint64_t from = n->commit + 1;
    if (from < n->shadow.base) {
        from = n->shadow.base; /* below: in a checked snapshot */
    }
    uint64_t first_new = sim_win_last(cw) + 1;
    for (uint64_t i = from; i <= commit; i++) {
        int ok;
        uint64_t h = sim_shadow_hash(n, i, &ok);
        if (i <= sim_win_last(cw)) {
            const struct sim_sentry *c = sim_win_at(cw, i);
            if (c != NULL && ok && c->hash != h) {
                sim_fail(s, SIM_V_STATE_MACHINE_SAFETY,
                         "node %" PRIu64 " commits entry %" PRIu64
                         " which differs from the entry committed there "
                         "(term %" PRIu64 ")",
                         n->id, i, c->term);
                return;
            }
            continue;
        }
        if (i == 0) {
            continue;
        }
        if (!ok || i != sim_win_last(cw) + 1) {
            sim_fail(s, SIM_V_CONTRACT,
                     "node %" PRIu64 " commits %" PRIu64
                     " ahead of the committed log (%" PRIu64 ")",
                     n->id, i, sim_win_last(cw));
            return;
        }
        const struct sim_sentry *e = sim_shadow_at(n, i);
        struct sim_sentry *c = sim_win_push(cw);
        if (c == NULL) {
            sim_fail(s, SIM_V_NONE, "out of memory");
            return;
        }
        c->term = e != NULL ? e->term : n->base_term;
        c->hash = h;
        c->type = e != NULL ? e->type : 0;
        s->res->commits++;
        if (c->type == CRAFT_ENTRY_CONFIG) {
            s->res->member_changes++;
        }
    }
    if (commit >= first_new) {
        const struct sim_sentry *c = sim_win_at(cw, commit);
        quorum_durable(s, n, commit, c != NULL ? c->term : 0);
    }
    if (commit >= first_new || n->e->role == CRAFT_ROLE_LEADER) {
        /* Committed in this node's term (for Leader Completeness). */
        struct sim_term *t = sim_inv_term(s, n->e->term);
        if (t != NULL && t->committed < commit) {
            t->committed = commit;
        }
    }
    n->commit = commit;
}

void sim_inv_engine_apply(struct sim *s, struct sim_node *n, uint64_t index,
                          size_t count)
{
    if (index != n->applied + 1) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " hands over entry %" PRIu64
                 " to apply after %" PRIu64 " (not in order)",
                 n->id, index, n->applied);
        return;
    }
    uint64_t last = index + count - 1;
    if (last > n->commit) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " hands over entry %" PRIu64
                 " to apply but committed only %" PRIu64,
                 n->id, last, n->commit);
        return;
    }
    n->applied = last;
}

void sim_inv_sm_apply(struct sim *s, struct sim_node *n, uint64_t index,
                      uint64_t hash)
{
    const struct sim_win *cw = &s->inv.committed;
    if (index > sim_win_last(cw)) {
        sim_fail(s, SIM_V_STATE_MACHINE_SAFETY,
                 "node %" PRIu64 " applies entry %" PRIu64
                 " that no node has committed (committed up to %" PRIu64
                 ")",
                 n->id, index, sim_win_last(cw));
        return;
    }
    const struct sim_sentry *c = sim_win_at(cw, index);
    if (c != NULL && c->hash != hash) {
        sim_fail(s, SIM_V_STATE_MACHINE_SAFETY,
                 "node %" PRIu64 " applies at %" PRIu64
                 " an entry other than the one committed there (term %" PRIu64
                 ")",
                 n->id, index, c->term);
    }
}

void sim_inv_follower_commit(struct sim *s, struct sim_node *n,
                             const struct craft_msg *m, uint64_t before)
{
    uint64_t now = n->e->commit;
    if (now <= before || n->e->role == CRAFT_ROLE_LEADER) {
        return;
    }
    /* §5.3: "If leaderCommit > commitIndex, set commitIndex =
     * min(leaderCommit, index of last new entry)": entries past the
     * append are not known to match the leader's (a stale suffix). A
     * heartbeat's commit is already bounded by the leader by what the
     * follower is known to hold. */
    uint64_t bound;
    if (m->type == CRAFT_MSG_APPEND) {
        uint64_t last_new = m->index + m->n_entries;
        bound = m->commit < last_new ? m->commit : last_new;
    } else if (m->type == CRAFT_MSG_HEARTBEAT) {
        bound = m->commit;
    } else {
        return;
    }
    if (now > bound) {
        sim_fail(s, SIM_V_FOLLOWER_COMMIT,
                 "node %" PRIu64 " commits %" PRIu64 " on %s from %" PRIu64
                 " (prev %" PRIu64 ", %zu entries, leader commit %" PRIu64
                 "): at most %" PRIu64,
                 n->id, now,
                 m->type == CRAFT_MSG_APPEND ? "an append" : "a heartbeat",
                 m->from, m->index, m->n_entries, m->commit, bound);
    }
}
