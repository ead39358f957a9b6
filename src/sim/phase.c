/*
 * sim/phase.c: the phases of a run and the liveness check.
 *
 * A run alternates chaos phases (faults drawn at their rates, chaos.c)
 * and calm phases: every fault is healed, every node restarted, and the
 * cluster must then elect a leader that commits a new entry (a probe
 * proposal) within a bound. When the steps are spent a final calm phase
 * lets outstanding operations settle before the history is checked.
 */
#include <inttypes.h>
#include <stdio.h>

#include "sim/world.h"

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
    uint64_t settle = 10 * s->par.tick;
    if (s->phase == SIM_PHASE_CALM && s->now >= s->live_at + settle) {
        start_chaos(s);
    } else if (s->phase == SIM_PHASE_FINAL &&
               (s->nreceipts == 0 ||
                s->now >= s->live_at + s->par.live_bound * s->par.tick)) {
        s->stop = 2; /* done */
    }
}
