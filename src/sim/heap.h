/*
 * sim/heap.h: the simulator's agenda, a binary min-heap of events ordered
 * by (time, sequence number). The sequence number makes the order total,
 * so equal times never depend on the heap's layout: determinism.
 */
#ifndef CRAFT_SIM_HEAP_H
#define CRAFT_SIM_HEAP_H

#include <stddef.h>
#include <stdint.h>

enum sim_ev_type {
    SIM_EV_TICK = 1,   /* a node's clock ticks */
    SIM_EV_MSG,        /* p: struct sim_msg arrives at node */
    SIM_EV_DISK,       /* node's disk finished writes up to seq a */
    SIM_EV_PERSISTED,  /* report entries up to a (term b) durable */
    SIM_EV_CLIENT,     /* client a acts (start or time out) */
    SIM_EV_REQUEST,    /* operation a reaches node */
    SIM_EV_CHUNK,      /* answer a SNAPSHOT_READ: peer a, index b, off c */
    SIM_EV_SNAP_TAKEN, /* report a snapshot at a (term b) durable */
    SIM_EV_APPLY,      /* a lagging state machine applies what is queued */
    SIM_EV_CHAOS,      /* the chaos roll, once per base tick */
    SIM_EV_RESTART,    /* a crashed node comes back */
    SIM_EV_ADMIN,      /* admin request kind (event type) a, peer b, id c */
    SIM_EV_FLUSH       /* the host proposes the requests it batched */
};

struct sim_ev {
    uint64_t time;
    uint64_t seq;
    uint32_t type; /* enum sim_ev_type */
    uint32_t node; /* slot */
    uint32_t inc;  /* incarnation of the node it belongs to; 0: any */
    uint32_t count; /* SIM_EV_CHUNK: bytes asked */
    uint64_t a, b, c;
    void *p;
};

struct sim_heap {
    struct sim_ev *v;
    size_t n;
    size_t cap;
    uint64_t seq;
};

void sim_heap_init(struct sim_heap *h);
void sim_heap_free(struct sim_heap *h);
/* Adds ev (its seq is assigned here). -1 when out of memory. */
int sim_heap_push(struct sim_heap *h, struct sim_ev *ev);
/* Removes the earliest event into *ev; 0 when empty. */
int sim_heap_pop(struct sim_heap *h, struct sim_ev *ev);

static inline const struct sim_ev *sim_heap_peek(const struct sim_heap *h)
{
    return h->n > 0 ? &h->v[0] : NULL;
}

#endif /* CRAFT_SIM_HEAP_H */
