/*
 * sim/propose.c: the host's side of proposing. Requests that reach a
 * node close together are proposed as one batch (one PROPOSE event with
 * many payloads, thesis §10.2.1's batching): the engine appends them as
 * consecutive entries and answers with one receipt for the range, entry k
 * of the batch getting index + k.
 */
#include <inttypes.h>
#include <string.h>

#include "sim/kv.h"
#include "sim/world.h"

void sim_propose_queue(struct sim *s, struct sim_node *n, uint64_t id)
{
    if (n->nbatch == SIM_BATCH_MAX) {
        sim_propose_flush(s, n);
        if (s->stop || !n->up) {
            sim_client_retry(s, id);
            return;
        }
    }
    n->batch[n->nbatch++] = id;
    if (!n->flush_scheduled) {
        struct sim_ev ev;
        memset(&ev, 0, sizeof(ev));
        /* A short batching window (sometimes none). */
        ev.time = s->now + sim_rng_below(&s->rng[SIM_RNG_CLIENT],
                                         s->par.lat_min + 1);
        ev.type = SIM_EV_FLUSH;
        ev.node = n->slot;
        ev.inc = n->inc;
        sim_push(s, &ev);
        n->flush_scheduled = 1;
    }
}

void sim_propose_flush(struct sim *s, struct sim_node *n)
{
    uint8_t bytes[SIM_BATCH_MAX][SIM_CMD_BYTES];
    craft_buf bufs[SIM_BATCH_MAX];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n->nbatch; i++) {
        uint64_t id = n->batch[i];
        const struct sim_hop *op = sim_history_op(&s->hist, id);
        if (op->status != SIM_HOP_PENDING || op->phase != SIM_OPP_SENDING) {
            continue; /* given up on meanwhile */
        }
        struct sim_cmd c = {op->type, op->key, id, op->a, op->b};
        sim_cmd_encode(&c, bytes[k]);
        bufs[k].base = bytes[k];
        bufs[k].len = SIM_CMD_BYTES;
        n->proposing[k++] = id;
    }
    n->nbatch = 0;
    n->nproposing = k;
    if (k == 0) {
        return;
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = bufs;
    ev.nbufs = k;
    ev.id = SIM_BATCH_ID | n->proposing[0];
    int rv = sim_step(s, n, &ev, NULL);
    if (rv != CRAFT_OK && !s->stop) {
        sim_fail(s, SIM_V_CONTRACT, "node %" PRIu64
                 " refused a valid proposal of %u entries: %s", n->id, k,
                 craft_strerror(rv));
    }
}

void sim_propose_result(struct sim *s, struct sim_node *n,
                        const struct craft_action *x)
{
    if (x->id & SIM_ADMIN_ID) {
        return; /* membership: counted when committed */
    }
    uint32_t k = n->nproposing;
    if (x->id != (SIM_BATCH_ID | (k > 0 ? n->proposing[0] : 0)) || k == 0) {
        sim_fail(s, SIM_V_RECEIPT, "node %" PRIu64
                 ": PROPOSE_RESULT id %" PRIu64 " answers no proposal",
                 n->id, x->id);
        return;
    }
    if (x->status == CRAFT_OK && x->count != k) {
        sim_fail(s, SIM_V_RECEIPT, "node %" PRIu64 ": a receipt for %"
                 PRIu64 " entries answers a proposal of %u", n->id,
                 x->count, k);
        return;
    }
    n->nproposing = 0;
    for (uint32_t i = 0; i < k && !s->stop; i++) {
        sim_client_receipt(s, n, n->proposing[i], x->status, x->index + i,
                           x->term, x->leader);
    }
}

void sim_propose_lost(struct sim *s, struct sim_node *n)
{
    /* Batched requests never reached the engine. A batch whose
     * PROPOSE_RESULT was not carried out yet had none of the actions
     * after it carried out either (its SENDs and its APPEND): its entries
     * never left the node. Receipts already given stay with the client
     * (client.c decides them from the committed log). */
    for (uint32_t i = 0; i < n->nbatch; i++) {
        sim_client_retry(s, n->batch[i]);
    }
    for (uint32_t i = 0; i < n->nproposing; i++) {
        sim_client_retry(s, n->proposing[i]);
    }
    n->nbatch = 0;
    n->nproposing = 0;
    n->flush_scheduled = 0;
}
