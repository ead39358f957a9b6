/*
 * sim/lincheck.h: a linearizability checker for the key-value history,
 * in the style of Wing & Gong with Lowe's memoisation (as Porcupine does
 * it). The model is one register per key, initially 0, with put, get,
 * compare-and-set and increment (the last only in histories read from
 * files: craft-lincheck).
 *
 * The history is partitioned by key (every operation touches one key, so
 * it is linearizable iff each key's sub-history is: P-compositionality),
 * and each key's history is cut at quiescent points (no operation in
 * flight) into segments checked one after the other, carrying the set of
 * values a segment can end in. Within a segment a depth-first search
 * tries to linearize the operations in an order that respects real time,
 * remembering every (set of linearized operations, value) already
 * explored so it is never explored twice.
 *
 * Operations whose outcome is unknown (pending forever) may take effect
 * at any point after their invocation or never; a get of unknown outcome
 * says nothing and is ignored, as are operations that certainly had no
 * effect.
 */
#ifndef CRAFT_SIM_LINCHECK_H
#define CRAFT_SIM_LINCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "sim/history.h"

struct sim_lin {
    uint64_t keys;         /* keys checked */
    uint64_t ops;          /* operations checked */
    uint64_t segments;
    uint64_t inconclusive; /* keys whose search hit the budget */
    uint64_t states;       /* memo entries created */
    int ok;                /* 1: linearizable (inconclusive keys aside) */
    uint32_t bad_key;
    char message[4096];    /* on failure: the key and the segment */
};

/* Checks h over keys 0..nkeys-1. budget bounds the memo size of one
 * segment, in 64-bit words. Returns lin->ok; -1 when out of memory. */
int sim_lincheck(const struct sim_history *h, uint32_t nkeys,
                 uint64_t budget, struct sim_lin *lin);

#endif /* CRAFT_SIM_LINCHECK_H */
