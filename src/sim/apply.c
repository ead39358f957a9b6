/*
 * sim/apply.c: the state machine side of the host. Committed entries
 * handed over by APPLY queue up and are applied in order, at once or, on
 * a node with slow apply, a few ticks later (as an apply thread that
 * falls behind would).
 */
#include <inttypes.h>
#include <string.h>

#include "sim/hash.h"
#include "sim/world.h"

static int slow(const struct sim *s, const struct sim_node *n)
{
    return s->now < n->slow_apply_until;
}

void sim_apply_reset(struct sim *s, struct sim_node *n)
{
    (void)s;
    sim_win_reset(&n->applyq, n->kv.applied);
}

void sim_apply_queue(struct sim *s, struct sim_node *n, uint64_t index,
                     const struct craft_entry *ents, size_t count)
{
    struct sim_win *q = &n->applyq;
    if (q->n == 0) {
        sim_win_reset(q, index - 1);
    }
    if (index != sim_win_last(q) + 1) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " hands over entry %" PRIu64
                 " to apply after %" PRIu64,
                 n->id, index, sim_win_last(q));
        return;
    }
    for (size_t k = 0; k < count; k++) {
        if (ents[k].len > SIM_PAYLOAD_MAX) {
            sim_fail(s, SIM_V_CONTRACT, "node %" PRIu64
                     ": entry %" PRIu64 " of %u bytes was never proposed",
                     n->id, index + k, ents[k].len);
            return;
        }
        struct sim_dentry *d = sim_win_push(q);
        if (d == NULL) {
            sim_fail(s, SIM_V_NONE, "out of memory");
            return;
        }
        d->term = ents[k].term;
        d->type = ents[k].type;
        d->len = ents[k].len;
        if (d->len > 0) {
            memcpy(d->data, ents[k].data, d->len);
        }
    }
    if (!slow(s, n)) {
        sim_apply_drain(s, n);
    } else if (!n->apply_scheduled) {
        struct sim_ev ev;
        memset(&ev, 0, sizeof(ev));
        ev.time = n->slow_apply_until;
        ev.type = SIM_EV_APPLY;
        ev.node = n->slot;
        ev.inc = n->inc;
        sim_push(s, &ev);
        n->apply_scheduled = 1;
    }
}

static void apply_one(struct sim *s, struct sim_node *n, uint64_t i,
                      const struct sim_dentry *d)
{
    uint64_t h = sim_prefix_hash(n->kv.hash, i, d->term, d->type, d->data,
                                 d->len);
    sim_inv_sm_apply(s, n, i, h);
    n->kv.hash = h;
    n->kv.applied = i;
    if (d->type != CRAFT_ENTRY_NORMAL) {
        sim_client_applied(s, n, i, d->term, NULL, 0);
        return;
    }
    struct sim_cmd c;
    if (sim_cmd_decode(d->data, d->len, &c) != 0) {
        sim_fail(s, SIM_V_STATE_MACHINE_SAFETY,
                 "node %" PRIu64 " applies entry %" PRIu64
                 " whose payload no client proposed",
                 n->id, i);
        return;
    }
    uint64_t out = sim_kv_exec(&n->kv, &c);
    sim_client_applied(s, n, i, d->term, &c, out);
}

void sim_apply_drain(struct sim *s, struct sim_node *n)
{
    struct sim_win *q = &n->applyq;
    while (q->n > 0 && !s->stop) {
        uint64_t i = q->base + 1;
        const struct sim_dentry *d = sim_win_at(q, i);
        if (i <= n->kv.applied) {
            /* Covered by a snapshot restored since. */
        } else if (i != n->kv.applied + 1) {
            sim_fail(s, SIM_V_CONTRACT,
                     "node %" PRIu64 " state machine at %" PRIu64
                     " is handed entry %" PRIu64,
                     n->id, n->kv.applied, i);
            return;
        } else {
            apply_one(s, n, i, d);
        }
        sim_win_compact(q, i);
    }
    sim_client_reads(s, n);
    if (n->snap_want != 0 && n->kv.applied >= n->snap_want) {
        n->snap_want = 0;
        sim_host_take_snapshot(s, n);
    }
}
