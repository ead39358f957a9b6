/*
 * sim/send.c: a message leaving a node. Links deliver in order (like TCP)
 * after a random latency; during chaos phases a message may be dropped,
 * duplicated, held back with everything behind it on its link (delay), or
 * let overtake (reorder); some go through the wire codec. A cut link
 * loses everything.
 */
#include <inttypes.h>
#include <string.h>

#include "sim/world.h"

static struct sim_msg *copy(struct sim *s, struct sim_node *from,
                            const struct craft_msg *m)
{
    if (!sim_chaos_draw(s, SIM_K_WIRE)) {
        return sim_msg_copy(&s->net, m);
    }
    int bad = 0;
    struct sim_msg *msg = sim_msg_encode(&s->net, m, &bad);
    if (bad) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64
                 " sends a message of type %u the codec cannot encode",
                 from->id, m->type);
        return NULL;
    }
    s->res->faults[SIM_K_WIRE]++;
    return msg;
}

void sim_net_send(struct sim *s, struct sim_node *from,
                  const struct craft_msg *m)
{
    struct sim_node *to = sim_node_of(s, m->to);
    if (to == NULL) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " sends to unknown server %" PRIu64,
                 from->id, m->to);
        return;
    }
    if (s->net.cut[from->slot][to->slot]) {
        return;
    }
    int chaos = s->phase == SIM_PHASE_CHAOS;
    struct sim_rng *r = &s->rng[SIM_RNG_NET];
    if (chaos && sim_chaos_draw(s, SIM_K_DROP)) {
        sim_chaos_count(s, SIM_K_DROP, from->id, to->id);
        return;
    }
    uint64_t at = s->now + sim_rng_range(r, s->par.lat_min, s->par.lat_max);
    uint64_t *fifo = &s->net.fifo[from->slot][to->slot];
    if (chaos && sim_chaos_draw(s, SIM_K_DELAY)) {
        /* The link stalls: this message and those behind it. */
        at += sim_rng_below(r, 2ull * s->par.eng.election_ticks *
                                   s->par.tick);
        sim_chaos_count(s, SIM_K_DELAY, from->id, to->id);
    }
    if (chaos && sim_chaos_draw(s, SIM_K_REORDER)) {
        at = s->now + sim_rng_range(r, 1, 10 * s->par.lat_max);
        sim_chaos_count(s, SIM_K_REORDER, from->id, to->id);
    } else {
        if (at < *fifo) {
            at = *fifo;
        }
        *fifo = at;
    }
    struct sim_msg *msg = copy(s, from, m);
    if (msg != NULL) {
        msg->sent = s->now;
    }
    if (msg == NULL) {
        if (!s->stop) {
            sim_fail(s, SIM_V_NONE, "out of memory");
        }
        return;
    }
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    ev.time = at;
    ev.type = SIM_EV_MSG;
    ev.node = to->slot;
    ev.a = from->slot;
    ev.p = msg;
    sim_push(s, &ev);
    if (chaos && sim_chaos_draw(s, SIM_K_DUP)) {
        struct sim_msg *dup = sim_msg_clone(&s->net, msg);
        if (dup != NULL) {
            dup->sent = s->now;
            ev.time = s->now + sim_rng_range(r, s->par.lat_min,
                                             10 * s->par.lat_max);
            ev.p = dup;
            sim_push(s, &ev);
            sim_chaos_count(s, SIM_K_DUP, from->id, to->id);
        }
    }
}
