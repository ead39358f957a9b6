/*
 * sim/client.c: the key-value workload and its history.
 *
 * Each client runs one operation at a time: put, get or compare-and-set
 * on a random key (put values are unique, so a read names the write it
 * saw). Writes, and gets when ReadIndex is not used, are proposals; their
 * result comes from the state machine when the entry named by the
 * receipt (index, term) is applied. A receipt whose index another entry
 * fills is "lost": that operation certainly had no effect. Gets through
 * ReadIndex are served once the node's state machine applied the read
 * index. A client that hears nothing gives up; its operation then stays
 * in the history with an unknown outcome, unless the apply of its entry
 * later tells what happened.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/world.h"

static struct sim_rng *crng(struct sim *s)
{
    return &s->rng[SIM_RNG_CLIENT];
}

static void push(struct sim *s, uint32_t type, uint32_t node, uint64_t at,
                 uint64_t a, uint64_t b)
{
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    ev.time = at;
    ev.type = type;
    ev.node = node;
    ev.a = a;
    ev.b = b;
    sim_push(s, &ev);
}

/* The client of op is free again: its next operation comes after a
 * think time set by the CLIENT rate. */
static void client_done(struct sim *s, uint64_t id)
{
    struct sim_hop *op = sim_history_op(&s->hist, id);
    if (op == NULL || op->client >= SIM_MAX_CLIENTS) {
        return;
    }
    struct sim_client *c = &s->client[op->client];
    if (c->op != id) {
        return;
    }
    c->op = 0;
    uint32_t rate = s->opt.rate[SIM_K_CLIENT];
    if (rate == 0 || s->phase == SIM_PHASE_FINAL) {
        return;
    }
    uint64_t think = s->par.tick * SIM_PPM / rate;
    push(s, SIM_EV_CLIENT, 0, s->now + sim_rng_below(crng(s), think + 1),
         op->client, 0);
}

/* The node a request goes to: the leader hint mostly, but now and then
 * any node, so followers and deposed leaders get requests too. */
static uint32_t pick_node(struct sim *s, uint64_t hint)
{
    uint32_t any = (uint32_t)sim_rng_below(crng(s), s->nslots);
    if (hint >= 1 && hint <= s->nslots && sim_rng_below(crng(s), 4) != 0) {
        return (uint32_t)(hint - 1);
    }
    return any;
}

static void send_request(struct sim *s, uint64_t id, uint64_t hint,
                         uint64_t delay)
{
    struct sim_hop *op = sim_history_op(&s->hist, id);
    uint32_t node = pick_node(s, hint);
    op->node = node;
    op->index = op->term = 0;
    push(s, SIM_EV_REQUEST, node,
         s->now + delay + sim_rng_range(crng(s), s->par.lat_min,
                                        s->par.lat_max),
         id, 0);
}

/* The attempt certainly failed (op had no effect): try again, the
 * leader hint first, until the client gives up. */
static void retry(struct sim *s, uint64_t id, uint64_t hint)
{
    struct sim_hop *op = sim_history_op(&s->hist, id);
    if (op->client == SIM_PROBE_CLIENT) {
        sim_history_fail(&s->hist, id); /* the next probe goes elsewhere */
        return;
    }
    if (hint != 0) {
        s->client[op->client].target = hint;
    }
    send_request(s, id, hint,
                 sim_rng_range(crng(s), s->par.tick / 4, s->par.tick));
}

void sim_client_start(struct sim *s, uint32_t c)
{
    struct sim_client *cl = &s->client[c];
    if (cl->op != 0 || s->phase == SIM_PHASE_FINAL) {
        return;
    }
    struct sim_rng *r = crng(s);
    uint32_t key = (uint32_t)sim_rng_below(r, s->opt.keys);
    uint64_t roll = sim_rng_below(r, 100);
    uint32_t type;
    uint64_t a = 0, b = 0;
    if (roll < 40) {
        type = SIM_CMD_PUT;
        a = ++s->next_value;
        s->last_value[key] = a;
    } else if (roll < 75) {
        type = SIM_CMD_GET;
    } else {
        type = SIM_CMD_CAS;
        a = sim_rng_below(r, 10) < 7 ? s->last_value[key]
                                      : sim_rng_below(r, s->next_value + 1);
        b = ++s->next_value;
        s->last_value[key] = b;
    }
    uint64_t id = sim_history_invoke(&s->hist, type, key, a, b, c);
    if (id == 0) {
        sim_fail(s, SIM_V_NONE, "out of memory");
        return;
    }
    struct sim_hop *op = sim_history_op(&s->hist, id);
    if (type == SIM_CMD_GET && !s->no_read &&
        sim_rng_chance(r, s->opt.rate[SIM_K_READ])) {
        op->path = SIM_PATH_READ;
    }
    cl->op = id;
    cl->deadline = s->now + s->par.op_timeout * s->par.tick;
    push(s, SIM_EV_CLIENT, 0, cl->deadline, c, id);
    send_request(s, id, cl->target, 0);
}

uint64_t sim_client_probe(struct sim *s, struct sim_node *leader)
{
    uint64_t id = sim_history_invoke(&s->hist, SIM_CMD_MARK, 0, 0, 0,
                                     SIM_PROBE_CLIENT);
    if (id == 0) {
        sim_fail(s, SIM_V_NONE, "out of memory");
        return 0;
    }
    send_request(s, id, leader->id, 0);
    return id;
}

void sim_client_timeout(struct sim *s, uint32_t c, uint64_t id)
{
    struct sim_client *cl = &s->client[c];
    struct sim_hop *op = sim_history_op(&s->hist, id);
    if (cl->op != id || op == NULL) {
        return;
    }
    if (op->status == SIM_HOP_PENDING && op->phase != SIM_OPP_PROPOSED) {
        /* Never reached a log (or a read): no effect. */
        sim_history_fail(&s->hist, id);
    }
    cl->target = 0;
    client_done(s, id);
}

void sim_client_request(struct sim *s, struct sim_node *n, uint64_t id)
{
    struct sim_hop *op = sim_history_op(&s->hist, id);
    if (op == NULL || op->status != SIM_HOP_PENDING ||
        op->phase != SIM_OPP_SENDING) {
        return;
    }
    if (!n->up) {
        retry(s, id, 0);
        return;
    }
    if (op->path == SIM_PATH_READ) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_READ;
        ev.id = id;
        op->phase = SIM_OPP_READING;
        int rv = sim_step(s, n, &ev, NULL);
        if (rv == CRAFT_EINVAL) {
            s->no_read = 1; /* not implemented: gets use the log */
            s->res->unsupported |= 1ull << CRAFT_EVENT_READ;
            op->path = SIM_PATH_LOG;
            op->phase = SIM_OPP_SENDING;
        } else {
            return;
        }
    }
    sim_propose_queue(s, n, id);
}

static void add_receipt(struct sim *s, uint64_t id)
{
    if (s->nreceipts == s->capreceipts) {
        size_t cap = s->capreceipts < 64 ? 64 : s->capreceipts * 2;
        uint64_t *v = realloc(s->receipts, cap * sizeof(*v));
        if (v == NULL) {
            sim_fail(s, SIM_V_NONE, "out of memory");
            return;
        }
        s->receipts = v;
        s->capreceipts = cap;
    }
    s->receipts[s->nreceipts++] = id;
}

void sim_client_receipt(struct sim *s, struct sim_node *n, uint64_t id,
                        int status, uint64_t index, uint64_t term,
                        uint64_t leader)
{
    struct sim_hop *op = sim_history_op(&s->hist, id);
    if (op == NULL || op->status != SIM_HOP_PENDING ||
        op->phase != SIM_OPP_SENDING) {
        return;
    }
    if (status != CRAFT_OK) {
        retry(s, id, leader);
        return;
    }
    op->phase = SIM_OPP_PROPOSED;
    op->index = index;
    op->term = term;
    if (index <= s->sm_max) {
        /* A leader that does not know it was deposed: the index was
         * applied already, with another entry (else the receipt lies). */
        const struct sim_sentry *c = sim_inv_committed(s, index);
        if (c != NULL && c->term == term) {
            sim_fail(s, SIM_V_RECEIPT,
                     "node %" PRIu64 " gives receipt (%" PRIu64 ", %" PRIu64
                     ") for an entry applied before it was proposed",
                     n->id, index, term);
            return;
        }
        sim_history_fail(&s->hist, id);
        client_done(s, id);
        return;
    }
    add_receipt(s, id);
}

void sim_client_retry(struct sim *s, uint64_t id)
{
    struct sim_hop *op = sim_history_op(&s->hist, id);
    if (op != NULL && op->status == SIM_HOP_PENDING) {
        op->phase = SIM_OPP_SENDING;
        retry(s, id, 0);
    }
}

void sim_client_read_result(struct sim *s, struct sim_node *n,
                            const struct craft_action *x)
{
    struct sim_hop *op = sim_history_op(&s->hist, x->id);
    if (op == NULL || op->status != SIM_HOP_PENDING ||
        op->phase != SIM_OPP_READING || op->node != n->slot) {
        return;
    }
    if (x->status != CRAFT_OK) {
        op->phase = SIM_OPP_SENDING;
        retry(s, x->id, x->leader);
        return;
    }
    op->phase = SIM_OPP_WAITING;
    op->index = x->index;
    op->next = n->reads;
    n->reads = x->id;
    sim_client_reads(s, n);
}

void sim_client_reads(struct sim *s, struct sim_node *n)
{
    uint64_t *link = &n->reads;
    while (*link != 0) {
        uint64_t id = *link;
        struct sim_hop *op = sim_history_op(&s->hist, id);
        if (op->status != SIM_HOP_PENDING || op->phase != SIM_OPP_WAITING) {
            *link = op->next;
            continue;
        }
        if (n->kv.applied >= op->index) {
            *link = op->next;
            s->res->reads_index++;
            sim_history_complete(&s->hist, id, n->kv.val[op->key]);
            client_done(s, id);
            continue;
        }
        link = &op->next;
    }
}

void sim_client_node_lost(struct sim *s, struct sim_node *n)
{
    /* Receipts of a term n never made durable name entries that never
     * left n and are gone: another entry may get the same receipt. */
    size_t keep = 0;
    for (size_t k = 0; k < s->nreceipts; k++) {
        uint64_t id = s->receipts[k];
        struct sim_hop *op = sim_history_op(&s->hist, id);
        if (op->status == SIM_HOP_PENDING && op->node == n->slot &&
            op->term > n->disk.term) {
            sim_history_fail(&s->hist, id);
            client_done(s, id);
            continue;
        }
        s->receipts[keep++] = id;
    }
    s->nreceipts = keep;
    /* Reads on n: they had no effect; try again elsewhere. */
    uint64_t id = n->reads;
    n->reads = 0;
    while (id != 0) {
        struct sim_hop *op = sim_history_op(&s->hist, id);
        uint64_t next = op->next;
        if (op->status == SIM_HOP_PENDING && op->phase == SIM_OPP_WAITING) {
            op->phase = SIM_OPP_SENDING;
            retry(s, id, 0);
        }
        id = next;
    }
    for (uint32_t c = 0; c < s->opt.clients; c++) {
        struct sim_hop *op = sim_history_op(&s->hist, s->client[c].op);
        if (op != NULL && op->status == SIM_HOP_PENDING &&
            op->phase == SIM_OPP_READING && op->node == n->slot) {
            op->phase = SIM_OPP_SENDING;
            retry(s, s->client[c].op, 0);
        }
    }
}

/* Decides receipts once index is applied for the first time anywhere:
 * the receipt naming this entry completes; a receipt for index naming
 * another entry, or for a later index of an older term (a log holding it
 * would have terms going down after the applied entry), is lost. */
void sim_client_applied(struct sim *s, struct sim_node *n, uint64_t index,
                        uint64_t term, const struct sim_cmd *c, uint64_t out)
{
    if (index <= s->sm_max) {
        return;
    }
    s->sm_max = index;
    s->sm_max_term = term;
    size_t keep = 0;
    for (size_t k = 0; k < s->nreceipts; k++) {
        uint64_t id = s->receipts[k];
        struct sim_hop *op = sim_history_op(&s->hist, id);
        if (op->status != SIM_HOP_PENDING) {
            continue;
        }
        if (op->index == index) {
            if (op->term == term) {
                if (c == NULL || c->id != id) {
                    sim_fail(s, SIM_V_RECEIPT,
                             "receipt (%" PRIu64 ", %" PRIu64
                             ") of op %" PRIu64
                             " names an entry that is not its proposal",
                             index, term, id);
                    return;
                }
                sim_history_complete(&s->hist, id, out);
            } else {
                sim_history_fail(&s->hist, id);
            }
            client_done(s, id);
            continue;
        }
        if (op->index < index || op->term < term) {
            sim_history_fail(&s->hist, id);
            client_done(s, id);
            continue;
        }
        s->receipts[keep++] = id;
    }
    s->nreceipts = keep;
    (void)n;
}
