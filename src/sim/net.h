/*
 * sim/net.h: the simulated network. Messages the engines send are copied
 * (deeply: entries and chunks point into the engine only until its next
 * step) into pooled buffers, given a latency, and delivered by the agenda
 * unless a fault or a cut link drops them.
 */
#ifndef CRAFT_SIM_NET_H
#define CRAFT_SIM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "codec/message.h"
#include "sim/sim.h"

struct sim_msg {
    struct sim_msg *next; /* free list */
    struct craft_msg m;   /* pointers into buf (not for wire messages) */
    size_t wire_len;      /* > 0: buf holds the encoded message */
    uint64_t sent;        /* sim time it left its node */
    uint8_t *buf;
    size_t cap;
};

struct sim_net {
    struct sim_msg *free;
    size_t live;              /* messages not in the free list */
    /* cut[a][b]: messages from slot a to slot b are lost. */
    uint8_t cut[SIM_MAX_NODES][SIM_MAX_NODES];
    /* Links deliver in order, like a TCP stream: the delivery time of the
     * last in-order message from slot a to slot b. Only a reorder fault
     * (or a duplicate) overtakes. */
    uint64_t fifo[SIM_MAX_NODES][SIM_MAX_NODES];
};

void sim_net_init(struct sim_net *n);
void sim_net_free(struct sim_net *n);

/* A deep copy of m, or NULL when out of memory. */
struct sim_msg *sim_msg_copy(struct sim_net *n, const struct craft_msg *m);
/* m encoded with the wire codec; NULL when out of memory or (wire_len 0)
 * m cannot be encoded. */
struct sim_msg *sim_msg_encode(struct sim_net *n, const struct craft_msg *m,
                               int *unencodable);
/* Another copy of a message already in flight (duplication). */
struct sim_msg *sim_msg_clone(struct sim_net *n, const struct sim_msg *src);
void sim_msg_put(struct sim_net *n, struct sim_msg *m);

/* Any cut at all. */
int sim_net_any_cut(const struct sim_net *n);

#endif /* CRAFT_SIM_NET_H */
