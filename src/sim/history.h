/*
 * sim/history.h: the client history, operations recorded as invoke /
 * complete pairs on one logical clock that orders every invocation and
 * completion in the run (real time, for linearizability).
 */
#ifndef CRAFT_SIM_HISTORY_H
#define CRAFT_SIM_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sim_hop_status {
    SIM_HOP_PENDING = 0, /* no outcome known: may or may not take effect */
    SIM_HOP_OK = 1,      /* completed with result out */
    SIM_HOP_FAILED = 2   /* certainly had no effect: left out of checks */
};

enum sim_hop_path {
    SIM_PATH_LOG = 0,  /* a proposal: the result comes from the apply */
    SIM_PATH_READ = 1, /* a ReadIndex get: served once applied >= index */
    SIM_PATH_OTHER = 2 /* recorded outside the simulator (a history file) */
};

struct sim_hop {
    uint32_t type;   /* enum sim_cmd_type */
    uint32_t key;
    uint32_t client;
    uint32_t status; /* enum sim_hop_status */
    uint32_t path;   /* enum sim_hop_path */
    uint32_t node;   /* slot the request went to */
    uint32_t phase;  /* the client's progress (world.h sim_op_phase) */
    uint32_t pad;
    uint64_t a, b;   /* arguments (PUT: a; CAS: a expected, b new) */
    uint64_t out;    /* result (GET: value; CAS: 1 ok, 0 failed) */
    uint64_t call;   /* invocation time */
    uint64_t ret;    /* completion time, 0 while pending */
    uint64_t index;  /* receipt index (LOG) or read index (READ) */
    uint64_t term;   /* receipt term */
    uint64_t next;   /* list link (op id), 0: end */
};

struct sim_history {
    struct sim_hop *v;
    size_t n;
    size_t cap;
    uint64_t clock;
};

void sim_history_init(struct sim_history *h);
void sim_history_free(struct sim_history *h);
/* A new pending operation invoked now; its id (>= 1), 0 on no memory. */
uint64_t sim_history_invoke(struct sim_history *h, uint32_t type,
                            uint32_t key, uint64_t a, uint64_t b,
                            uint32_t client);

static inline struct sim_hop *sim_history_op(struct sim_history *h,
                                             uint64_t id)
{
    return (id >= 1 && id <= h->n) ? &h->v[id - 1] : 0;
}

/* Completes a pending operation now with result out. */
void sim_history_complete(struct sim_history *h, uint64_t id, uint64_t out);
/* Marks a pending operation as certainly without effect. */
void sim_history_fail(struct sim_history *h, uint64_t id);

/* Writes h in craft-lincheck's text format (src/tools/craft-lincheck.c):
 * invoke/ok/fail/info lines in real-time order, keys "k<n>". Each
 * operation is its own client "p<op id>" (a simulated client that timed
 * out moves on while its operation may still take effect, as Jepsen
 * gives such a client a new process); operations still pending are left
 * in flight (info), ones without effect fail right after their
 * invocation, the liveness probe's marks are left out.
 * Returns 0, or -1 on a write error or no memory. */
int sim_history_write(const struct sim_history *h, FILE *f);

/* One line describing op id, for reports. */
void sim_hop_format(const struct sim_history *h, uint64_t id, char *buf,
                    size_t len);

#endif /* CRAFT_SIM_HISTORY_H */
