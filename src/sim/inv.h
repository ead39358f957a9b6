/*
 * sim/inv.h: helpers shared by the inv_*.c files.
 */
#ifndef CRAFT_SIM_INV_H
#define CRAFT_SIM_INV_H

#include "sim/world.h"

int sim_inv_lm(struct sim *s, uint64_t index, uint64_t term, uint64_t hash,
               uint64_t *other);

/* The record of term (created as needed); NULL for term 0 or no memory. */
struct sim_term *sim_inv_term(struct sim *s, uint64_t term);

#endif /* CRAFT_SIM_INV_H */
