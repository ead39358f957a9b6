/*
 * sim/phase.c: the phases of a run and the liveness check.
 *
 * A run alternates chaos phases (faults drawn at their rates, chaos.c)
 * and calm phases: every fault is healed, every node restarted, and the
 * cluster must then elect a leader that commits a new entry (a probe
 * proposal) within a bound. When the steps are spent a final calm phase
 * lets outstanding operations settle before the history is checked.
 *
 * A calm phase also measures what liveness costs (thesis §9.6, §5.3):
 * with pre-vote on, once the probe committed no term may rise (nothing
 * gives a reason to: every node hears the leader; a leadership transfer
 * still finishing, a TimeoutNow, is the one reason), and a follower that
 * lags or diverges catches up in a number of rejected appends bounded by
 * the terms in the logs (the conflict hint skips a whole term per round
 * trip), not by the number of entries it lacks.
 */
#include <inttypes.h>
#include <stdio.h>

#include "sim/world.h"

/* Distinct terms of n's log past index from. */
static uint32_t terms_after(const struct sim_node *n, uint64_t from)
{
    uint32_t count = 0;
    uint64_t prev = 0;
    if (from < n->shadow.base) {
        from = n->shadow.base;
    }
    for (uint64_t i = from + 1; i <= sim_win_last(&n->shadow); i++) {
        const struct sim_sentry *e = sim_shadow_at(n, i);
        if (e != NULL && e->term != prev) {
            count++;
            prev = e->term;
        }
    }
    return count;
}

static void calm_begin(struct sim *s)
{
    uint64_t committed = sim_win_last(&s->inv.committed);
    s->calm_term = 0;
    s->calm_watch = s->par.eng.pre_vote;
    s->calm_elections = s->res->elections;
    for (uint32_t k = 0; k < s->nslots; k++) {
        struct sim_node *n = &s->node[k];
        n->calm_rejects = 0;
        n->calm_low = UINT64_MAX;
        n->calm_terms = n->up ? terms_after(n, committed) : 0;
    }
}

/* At the end of a calm phase: every node's search round trips within the
 * bound. A rejection that goes below every earlier one is one step of
 * the leader's search for where the logs match (rejections of appends
 * already in flight behind it, pipelined, are not: they cost no extra
 * round trip); with the hint each step skips at least a term of the
 * follower's or of the leader's divergent suffix, and a new leader (an
 * election in the phase) searches again. */
static void calm_end(struct sim *s)
{
    uint32_t most = 0;
    for (uint32_t k = 0; k < s->nslots; k++) {
        if (s->node[k].calm_terms > most) {
            most = s->node[k].calm_terms;
        }
    }
    uint64_t elections = s->res->elections - s->calm_elections;
    for (uint32_t k = 0; k < s->nslots && !s->stop; k++) {
        const struct sim_node *n = &s->node[k];
        uint64_t bound = 2 + (uint64_t)n->calm_terms + most + 2 * elections;
        if (n->calm_rejects > bound) {
            sim_fail(s, SIM_V_CATCHUP,
                     "node %" PRIu64 " rejected appends at %u ever lower "
                     "indexes in a calm phase; "
                     "its log had %u terms past the committed prefix, the "
                     "most of any node %u, %" PRIu64
                     " elections: at most %" PRIu64 " round trips",
                     n->id, n->calm_rejects, n->calm_terms, most, elections,
                     bound);
        }
    }
}

void sim_calm_delivered(struct sim *s, struct sim_node *n,
                        const struct craft_msg *m, uint64_t m_sent)
{
    if (s->phase == SIM_PHASE_CHAOS) {
        return;
    }
    if (m->type == CRAFT_MSG_TIMEOUT_NOW) {
        /* A leadership transfer (asked for before the calm) is a reason
         * for a new term: stop watching terms for this phase. */
        s->calm_term = 0;
        s->calm_watch = 0;
        return;
    }
    if (m->type != CRAFT_MSG_APPEND || m_sent <= s->calm_start) {
        /* Not a round trip of this calm phase. (What left at the very
         * time it began may have left in the chaos phase's last step,
         * with its per-message faults.) */
        return;
    }
    const struct craft_actions *a = n->acts;
    for (size_t i = 0; i < a->n; i++) {
        const struct craft_action *x = &a->v[i];
        if (x->type == CRAFT_ACTION_SEND &&
            x->msg.type == CRAFT_MSG_APPEND_RESP &&
            (x->msg.flags & CRAFT_MSG_F_REJECT) && x->msg.to == m->from &&
            m->index < n->calm_low) {
            n->calm_low = m->index;
            n->calm_rejects++;
        }
    }
}

/* With pre-vote, no term rises once the probe committed and a leader of
 * the highest term is in place (a transfer that failed just before may
 * leave none: then a new election has a reason). */
static void calm_terms_check(struct sim *s)
{
    if (!s->calm_watch || s->live_at == 0) {
        return;
    }
    if (s->calm_term == 0) {
        uint64_t top = 0;
        for (uint32_t k = 0; k < s->nslots; k++) {
            const struct sim_node *n = &s->node[k];
            if (n->up && n->e->term > top) {
                top = n->e->term;
            }
        }
        const struct sim_node *l = sim_leader(s);
        if (l != NULL && l->e->term == top) {
            s->calm_term = top;
        }
        return;
    }
    for (uint32_t k = 0; k < s->nslots; k++) {
        const struct sim_node *n = &s->node[k];
        if (n->up && n->e->term > s->calm_term) {
            sim_fail(s, SIM_V_CALM_TERM,
                     "node %" PRIu64 " is in term %" PRIu64
                     " in a calm phase whose leader committed in term %" PRIu64
                     " (pre-vote on): a term rose without a reason",
                     n->id, n->e->term, s->calm_term);
            return;
        }
    }
}

void sim_chaos_calm(struct sim *s, int final)
{
    s->phase = final ? SIM_PHASE_FINAL : SIM_PHASE_CALM;
    s->calm_start = s->now;
    s->probe = 0;
    s->live_at = 0;
    sim_chaos_heal(s, 0);
    for (uint32_t k = 0; k < s->nslots && !s->stop; k++) {
        struct sim_node *n = &s->node[k];
        n->slow_disk_until = 0;
        n->slow_apply_until = 0;
        if (!n->up) {
            sim_node_start(s, n);
        }
    }
    calm_begin(s);
    sim_trace_note(s, "calm%s: faults healed", final ? " (final)" : "");
}

/* One line per node: role, term, log, commit and membership. */
static void describe_cluster(struct sim *s, char *buf, size_t len)
{
    static const char *const roles[] = {"?", "follower", "precandidate",
                                        "candidate", "leader"};
    size_t off = 0;
    for (uint32_t k = 0; k < s->nslots && off < len; k++) {
        const struct sim_node *n = &s->node[k];
        int w;
        if (!n->up) {
            w = snprintf(buf + off, len - off, " [n%" PRIu64 " down]", n->id);
            off += w > 0 ? (size_t)w : 0;
            continue;
        }
        const struct craft_engine *e = n->e;
        w = snprintf(buf + off, len - off,
                     " [n%" PRIu64 " %s term %" PRIu64 " last %" PRIu64
                     " commit %" PRIu64 " conf@%" PRIu64 ":",
                     n->id, roles[e->role <= 4 ? e->role : 0], e->term,
                     craft_log_last(&e->log), e->commit, e->conf_index);
        off += w > 0 ? (size_t)w : 0;
        for (uint32_t m = 0; m < e->conf.n && off < len; m++) {
            w = snprintf(buf + off, len - off, "%s%" PRIu64 "%s",
                         m > 0 ? "," : "", e->conf.m[m].id,
                         e->conf.m[m].role == CRAFT_MEMBER_VOTER ? "" : "L");
            off += w > 0 ? (size_t)w : 0;
        }
        if (off < len) {
            w = snprintf(buf + off, len - off, "]");
            off += w > 0 ? (size_t)w : 0;
        }
    }
}

static void start_chaos(struct sim *s)
{
    calm_end(s);
    if (s->stop) {
        return;
    }
    s->calm_term = 0;
    s->calm_watch = 0;
    s->phase = SIM_PHASE_CHAOS;
    s->phase_end = s->now + sim_rng_range(&s->rng[SIM_RNG_CHAOS],
                                          s->par.chaos_min,
                                          s->par.chaos_max) *
                                s->par.tick;
    sim_trace_note(s, "chaos");
}

void sim_liveness_tick(struct sim *s)
{
    if (s->live_at == 0) {
        const struct sim_hop *probe = sim_history_op(&s->hist, s->probe);
        if (probe != NULL && probe->status == SIM_HOP_OK) {
            s->live_at = s->now;
            s->res->calm_phases++;
            sim_trace_note(s, "live: probe committed after %" PRIu64
                           " ticks", (s->now - s->calm_start) / s->par.tick);
            return;
        }
        if (s->now - s->calm_start > s->par.live_bound * s->par.tick) {
            char buf[900];
            describe_cluster(s, buf, sizeof(buf));
            sim_fail(s, SIM_V_LIVENESS,
                     "no leader committed a new entry within %" PRIu64
                     " ticks of the heal:%s",
                     s->par.live_bound, buf);
            return;
        }
        struct sim_node *l = sim_leader(s);
        if (l != NULL && craft_is_voter(l->e, l->id) &&
            (probe == NULL || probe->status == SIM_HOP_FAILED)) {
            s->probe = sim_client_probe(s, l);
        }
        return;
    }
    calm_terms_check(s);
    if (s->stop) {
        return;
    }
    uint64_t settle = (uint64_t)s->opt.calm_ticks * s->par.tick;
    if (s->phase == SIM_PHASE_CALM && s->now >= s->live_at + settle) {
        start_chaos(s);
    } else if (s->phase == SIM_PHASE_FINAL &&
               (s->nreceipts == 0 ||
                s->now >= s->live_at + s->par.live_bound * s->par.tick)) {
        calm_end(s);
        if (!s->stop) {
            s->stop = 2; /* done */
        }
    }
}
