/*
 * sim/node.c: a node's life: boot (bootstrap or join empty), crash (the
 * engine and everything volatile go; the disk keeps only what is
 * durable), and restart from the durable state (craft_engine_load_*).
 */
#include <inttypes.h>
#include <string.h>

#include "sim/hash.h"
#include "sim/world.h"

static int create_engine(struct sim *s, struct sim_node *n)
{
    craft_engine_options o = s->par.eng;
    o.id = n->id;
    o.seed = sim_mix(sim_mix(s->opt.seed, n->id), n->inc) | 1;
    int rv = craft_engine_create(&o, &n->e);
    if (rv == CRAFT_OK && n->acts == NULL) {
        rv = craft_actions_create(NULL, &n->acts);
    }
    if (rv != CRAFT_OK) {
        sim_fail(s, SIM_V_NONE, "node %" PRIu64 ": engine create: %s",
                 n->id, craft_strerror(rv));
        return -1;
    }
#ifdef CRAFT_PLANTED_BUGS
    if (s->opt.planted_bug != SIM_BUG_NONE) {
        craft_engine_plant_bug(n->e, s->opt.planted_bug);
    }
#endif
    craft_actions_clear(n->acts);
    n->next_act = 0;
    n->barrier = 0;
    n->blocked = 0;
    return 0;
}

void sim_node_schedule_tick(struct sim *s, struct sim_node *n, uint64_t at)
{
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    ev.time = at;
    ev.type = SIM_EV_TICK;
    ev.node = n->slot;
    ev.inc = n->inc;
    ev.a = at;
    sim_push(s, &ev);
}

static void go_up(struct sim *s, struct sim_node *n)
{
    n->up = 1;
    n->role = CRAFT_ROLE_FOLLOWER;
    n->term = n->disk.term;
    n->hs_term = n->disk.term;
    n->hs_vote = n->disk.vote;
    n->commit = n->applied = n->disk.snap[0].index;
    sim_win_reset(&n->applyq, n->kv.applied);
    sim_node_schedule_tick(
        s, n, s->now + 1 + sim_rng_below(&s->rng[SIM_RNG_TICK],
                                         n->tick_period));
}

static int bootstrap(struct sim *s, struct sim_node *n)
{
    uint64_t ids[SIM_MAX_NODES];
    for (uint32_t k = 0; k < s->opt.nodes; k++) {
        ids[k] = (uint64_t)k + 1;
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_BOOTSTRAP;
    ev.ids = ids;
    ev.nids = s->opt.nodes;
    int rv = sim_step(s, n, &ev, NULL);
    if (rv != CRAFT_OK) {
        sim_fail(s, SIM_V_CONTRACT, "node %" PRIu64 ": bootstrap: %s",
                 n->id, craft_strerror(rv));
        return -1;
    }
    /* The host syncs the initial membership before it starts. */
    sim_host_disk_done(s, n, n->disk.seq);
    return 0;
}

int sim_node_boot(struct sim *s, struct sim_node *n)
{
    sim_kv_init(&n->kv, s->opt.keys);
    if (create_engine(s, n) != 0) {
        return -1;
    }
    sim_win_reset(&n->shadow, 0);
    n->base_hash = 0;
    n->base_term = 0;
    go_up(s, n);
    if (n->founder) {
        return bootstrap(s, n);
    }
    return 0;
}

static int load(struct sim *s, struct sim_node *n)
{
    const struct sim_disk *d = &n->disk;
    craft_engine *e = n->e;
    int rv = craft_engine_load_hard_state(e, d->term, d->vote);
    const struct sim_snap *snap = &d->snap[0];
    if (rv == CRAFT_OK && snap->index > 0) {
        rv = craft_engine_load_snapshot(e, snap->index, snap->term,
                                        snap->conf, snap->conf_len);
    }
    uint64_t first = d->log.base > snap->index ? d->log.base : snap->index;
    for (uint64_t i = first + 1;
         rv == CRAFT_OK && i <= sim_win_last(&d->log); i++) {
        const struct sim_dentry *x = sim_disk_entry(d, i);
        rv = craft_engine_load_entry(e, i, x->term, x->type, x->data, x->len);
        if (rv != CRAFT_OK) {
            sim_fail(s, SIM_V_RESTART,
                     "node %" PRIu64 " cannot load its durable entry %" PRIu64
                     " (term %" PRIu64 ", hard state term %" PRIu64
                     ", snapshot %" PRIu64 "/%" PRIu64 "): %s",
                     n->id, i, x->term, d->term, snap->index, snap->term,
                     craft_strerror(rv));
            return -1;
        }
    }
    if (rv != CRAFT_OK) {
        sim_fail(s, SIM_V_RESTART,
                 "node %" PRIu64 " cannot load its durable state (term %"
                 PRIu64 ", vote %" PRIu64 ", snapshot %" PRIu64 "/%" PRIu64
                 "): %s",
                 n->id, d->term, d->vote, snap->index, snap->term,
                 craft_strerror(rv));
        return -1;
    }
    return 0;
}

int sim_node_start(struct sim *s, struct sim_node *n)
{
    const struct sim_disk *d = &n->disk;
    int empty = d->term == 0 && d->log.n == 0 && d->snap[0].index == 0;
    if (empty) {
        return sim_node_boot(s, n);
    }
    sim_kv_init(&n->kv, s->opt.keys);
    const struct sim_snap *snap = &d->snap[0];
    if (snap->index > 0 &&
        sim_kv_restore(&n->kv, snap->data, snap->len, snap->index,
                       snap->term) != 0) {
        sim_fail(s, SIM_V_SNAPSHOT, "node %" PRIu64
                 ": its durable snapshot %" PRIu64 " does not restore",
                 n->id, snap->index);
        return -1;
    }
    if (create_engine(s, n) != 0 || load(s, n) != 0 ||
        sim_inv_restart(s, n) != 0) {
        return -1;
    }
    go_up(s, n);
    sim_inv_voters(s, n);
    sim_trace_note(s, "n%" PRIu64 " restarts: term %" PRIu64 " vote %" PRIu64
                   " snapshot %" PRIu64 " log %" PRIu64 "..%" PRIu64,
                   n->id, d->term, d->vote, snap->index, d->log.base + 1,
                   sim_win_last(&d->log));
    return 0;
}

void sim_node_crash(struct sim *s, struct sim_node *n, int torn)
{
    size_t kept = sim_disk_crash(&n->disk, torn, &s->rng[SIM_RNG_DISK]);
    if (torn) {
        s->res->faults[SIM_K_TORN]++;
        sim_trace_fault(s, SIM_K_TORN, n->id, kept);
    }
    sim_client_node_lost(s, n);
    sim_propose_lost(s, n);
    sim_inv_crash(s, n);
    craft_engine_free(n->e);
    n->e = NULL;
    n->up = 0;
    n->inc++;
    n->blocked = 0;
    n->next_act = 0;
    if (n->acts != NULL) {
        craft_actions_clear(n->acts);
    }
    n->in_active = 0;
    n->snap_want = 0;
    n->snap_queued = 0;
    n->apply_scheduled = 0;
    n->role = CRAFT_ROLE_FOLLOWER;
    sim_win_reset(&n->applyq, 0);
    sim_win_reset(&n->shadow, 0);
    n->nconfs = 0;
}
