/*
 * sim/chaos.c: the faults drawn once per base tick of a chaos phase, each
 * kind at its rate: partitions, one-way cuts and heals, crashes (torn or
 * not), slow disks, slow state machines, clock skew, membership changes,
 * snapshots and leadership transfers. (Per-message faults are in send.c,
 * the phases in phase.c.)
 */
#include <inttypes.h>
#include <string.h>

#include "sim/world.h"

static struct sim_rng *krng(struct sim *s, int kind)
{
    return &s->rng[SIM_RNG_KIND + kind];
}

int sim_chaos_draw(struct sim *s, int kind)
{
    return sim_rng_chance(krng(s, kind), s->opt.rate[kind]);
}

void sim_chaos_count(struct sim *s, int kind, uint64_t a, uint64_t b)
{
    s->res->faults[kind]++;
    sim_trace_fault(s, kind, a, b);
}


struct sim_node *sim_leader(struct sim *s)
{
    struct sim_node *best = NULL;
    for (uint32_t k = 0; k < s->nslots; k++) {
        struct sim_node *n = &s->node[k];
        if (n->up && n->e->role == CRAFT_ROLE_LEADER &&
            (best == NULL || n->e->term > best->e->term)) {
            best = n;
        }
    }
    return best;
}

/* A random node, up ones only when up_only. NULL if none. */
static struct sim_node *pick(struct sim *s, int kind, int up_only)
{
    uint32_t cand[SIM_MAX_NODES], n = 0;
    for (uint32_t k = 0; k < s->nslots; k++) {
        if (!up_only || s->node[k].up) {
            cand[n++] = k;
        }
    }
    if (n == 0) {
        return NULL;
    }
    return &s->node[cand[sim_rng_below(krng(s, kind), n)]];
}

/* ---- faults drawn once per tick ---------------------------------------- */

static void partition(struct sim *s)
{
    if (s->nslots < 2) {
        return;
    }
    struct sim_rng *r = krng(s, SIM_K_PARTITION);
    uint32_t side = 0;
    uint32_t all = (1u << s->nslots) - 1;
    while (side == 0 || side == all) {
        side = (uint32_t)sim_rng_below(r, all + 1);
    }
    for (uint32_t a = 0; a < s->nslots; a++) {
        for (uint32_t b = 0; b < s->nslots; b++) {
            if (((side >> a) & 1) != ((side >> b) & 1)) {
                s->net.cut[a][b] = 1;
            }
        }
    }
    sim_chaos_count(s, SIM_K_PARTITION, side, 0);
}

static void asym(struct sim *s)
{
    if (s->nslots < 2) {
        return;
    }
    struct sim_rng *r = krng(s, SIM_K_ASYM);
    uint32_t a = (uint32_t)sim_rng_below(r, s->nslots);
    uint32_t b = (uint32_t)sim_rng_below(r, s->nslots - 1);
    if (b >= a) {
        b++;
    }
    s->net.cut[a][b] = 1;
    sim_chaos_count(s, SIM_K_ASYM, a + 1, b + 1);
}

void sim_chaos_heal(struct sim *s, int count)
{
    if (sim_net_any_cut(&s->net)) {
        memset(s->net.cut, 0, sizeof(s->net.cut));
        if (count) {
            sim_chaos_count(s, SIM_K_HEAL, 0, 0);
        }
    }
}

/* Cuts the leader off from every other node, both ways: it goes on
 * believing it leads (until check-quorum, if on) while the others elect
 * another; a heal later brings it back with what it replicated to none. */
static void isolate(struct sim *s)
{
    struct sim_node *l = sim_leader(s);
    if (l == NULL || s->nslots < 2) {
        return;
    }
    for (uint32_t k = 0; k < s->nslots; k++) {
        if (k != l->slot) {
            s->net.cut[l->slot][k] = 1;
            s->net.cut[k][l->slot] = 1;
        }
    }
    sim_chaos_count(s, SIM_K_ISOLATE, l->id, 0);
}

static void crash(struct sim *s)
{
    struct sim_node *n = pick(s, SIM_K_CRASH, 1);
    if (n == NULL) {
        return;
    }
    int torn = sim_chaos_draw(s, SIM_K_TORN);
    sim_chaos_count(s, SIM_K_CRASH, n->id, torn);
    sim_node_crash(s, n, torn);
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    uint64_t e = s->par.eng.election_ticks;
    ev.time = s->now + sim_rng_range(krng(s, SIM_K_CRASH), 1, 4 * e) *
                           s->par.tick;
    ev.type = SIM_EV_RESTART;
    ev.node = n->slot;
    ev.inc = n->inc;
    sim_push(s, &ev);
}

static void slow(struct sim *s, int kind)
{
    struct sim_node *n = pick(s, kind, 1);
    if (n == NULL) {
        return;
    }
    uint64_t until = s->now + sim_rng_range(krng(s, kind), 2, 30) *
                                  s->par.tick;
    if (kind == SIM_K_SLOWDISK) {
        n->slow_disk_until = until;
    } else {
        n->slow_apply_until = until;
    }
    sim_chaos_count(s, kind, n->id, until);
}

static void skew(struct sim *s)
{
    struct sim_node *n = pick(s, SIM_K_SKEW, 0);
    if (n == NULL || s->par.skew_ppm == 0) {
        return;
    }
    struct sim_rng *r = krng(s, SIM_K_SKEW);
    uint64_t d = sim_rng_below(r, 2ull * s->par.skew_ppm + 1);
    n->tick_period = s->par.tick * (SIM_PPM - s->par.skew_ppm + d) / SIM_PPM;
    if (n->tick_period == 0) {
        n->tick_period = 1;
    }
    sim_chaos_count(s, SIM_K_SKEW, n->id, n->tick_period);
}

static void admin(struct sim *s, int kind, struct sim_node *l, uint32_t type,
                  uint64_t peer)
{
    if (type < 16 && s->no_admin[type]) {
        return;
    }
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    ev.time = s->now + sim_rng_range(krng(s, kind), s->par.lat_min,
                                     s->par.lat_max);
    ev.type = SIM_EV_ADMIN;
    ev.node = l->slot;
    ev.a = type;
    ev.b = peer;
    ev.c = SIM_ADMIN_ID | ++s->admin_seq;
    sim_push(s, &ev);
    sim_chaos_count(s, kind, type, peer);
}

static void member(struct sim *s)
{
    struct sim_node *l = sim_leader(s);
    if (l == NULL) {
        return;
    }
    const struct craft_conf *c = &l->e->conf;
    uint64_t spares[SIM_MAX_NODES], learners[SIM_MAX_NODES];
    uint64_t voters[SIM_MAX_NODES];
    uint32_t ns = 0, nl = 0, nv = 0;
    for (uint32_t k = 0; k < s->nslots; k++) {
        if (craft_conf_find(c, s->node[k].id) < 0) {
            spares[ns++] = s->node[k].id;
        }
    }
    for (uint32_t k = 0; k < c->n; k++) {
        if (c->m[k].role == CRAFT_MEMBER_LEARNER) {
            learners[nl++] = c->m[k].id;
        } else {
            voters[nv++] = c->m[k].id;
        }
    }
    struct sim_rng *r = krng(s, SIM_K_MEMBER);
    uint32_t choices[3], nc = 0;
    if (ns > 0) {
        choices[nc++] = 0;
    }
    if (nl > 0) {
        choices[nc++] = 1;
    }
    if (nv > s->par.min_voters) {
        choices[nc++] = 2;
    }
    if (nc == 0) {
        return;
    }
    /* One draw per statement: argument evaluation order is unspecified,
     * and a run must not depend on the compiler. */
    uint64_t choice = choices[sim_rng_below(r, nc)];
    uint64_t coin = sim_rng_below(r, 2);
    switch (choice) {
    case 0: {
        uint64_t peer = spares[sim_rng_below(r, ns)];
        admin(s, SIM_K_MEMBER, l,
              coin ? CRAFT_EVENT_ADD_PEER : CRAFT_EVENT_ADD_LEARNER, peer);
        break;
    }
    case 1: {
        uint64_t peer = learners[sim_rng_below(r, nl)];
        admin(s, SIM_K_MEMBER, l,
              coin ? CRAFT_EVENT_PROMOTE : CRAFT_EVENT_REMOVE, peer);
        break;
    }
    default: {
        uint64_t peer = voters[sim_rng_below(r, nv)];
        admin(s, SIM_K_MEMBER, l, CRAFT_EVENT_REMOVE, peer);
        break;
    }
    }
}

static void transfer(struct sim *s)
{
    struct sim_node *l = sim_leader(s);
    if (l == NULL) {
        return;
    }
    const struct craft_conf *c = &l->e->conf;
    uint64_t voters[CRAFT_MAX_MEMBERS];
    uint32_t nv = 0;
    for (uint32_t k = 0; k < c->n; k++) {
        if (c->m[k].role == CRAFT_MEMBER_VOTER && c->m[k].id != l->id) {
            voters[nv++] = c->m[k].id;
        }
    }
    if (nv > 0) {
        admin(s, SIM_K_TRANSFER, l, CRAFT_EVENT_TRANSFER,
              voters[sim_rng_below(krng(s, SIM_K_TRANSFER), nv)]);
    }
}

static void snapshot(struct sim *s)
{
    struct sim_node *n = pick(s, SIM_K_SNAPSHOT, 1);
    if (n != NULL && n->kv.applied > n->disk.snap[0].index) {
        s->res->faults[SIM_K_SNAPSHOT]++;
        sim_host_take_snapshot(s, n);
    }
}

static void chaos(struct sim *s)
{
    if (sim_chaos_draw(s, SIM_K_PARTITION)) {
        partition(s);
    }
    if (sim_chaos_draw(s, SIM_K_ASYM)) {
        asym(s);
    }
    if (sim_chaos_draw(s, SIM_K_HEAL)) {
        sim_chaos_heal(s, 1);
    }
    if (sim_chaos_draw(s, SIM_K_CRASH)) {
        crash(s);
    }
    if (sim_chaos_draw(s, SIM_K_SLOWDISK)) {
        slow(s, SIM_K_SLOWDISK);
    }
    if (sim_chaos_draw(s, SIM_K_SLOWAPPLY)) {
        slow(s, SIM_K_SLOWAPPLY);
    }
    if (sim_chaos_draw(s, SIM_K_SKEW)) {
        skew(s);
    }
    if (sim_chaos_draw(s, SIM_K_MEMBER)) {
        member(s);
    }
    if (sim_chaos_draw(s, SIM_K_SNAPSHOT)) {
        snapshot(s);
    }
    if (sim_chaos_draw(s, SIM_K_TRANSFER)) {
        transfer(s);
    }
    if (sim_chaos_draw(s, SIM_K_ISOLATE)) {
        isolate(s);
    }
}

void sim_chaos_roll(struct sim *s)
{
    if (s->phase == SIM_PHASE_CHAOS) {
        chaos(s);
        if (s->now >= s->phase_end && !s->stop) {
            sim_chaos_calm(s, 0);
        }
    } else {
        sim_liveness_tick(s);
    }
}
