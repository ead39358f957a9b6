/*
 * tests/sim/simtest.h: helpers for the simulator's Check programs. Each
 * tests/sim/test_*.c is its own program (see tests/unit/harness.h).
 */
#ifndef CRAFT_TEST_SIMTEST_H
#define CRAFT_TEST_SIMTEST_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sim/sim.h"
#include "sim/world.h"

/* A small calm cluster, run until a leader has committed some entries. */
static inline struct sim *st_cluster(struct sim_options *o,
                                     struct sim_result *r, uint32_t nodes,
                                     uint64_t steps)
{
    struct sim *s = NULL;
    if (o->nodes == 0) {
        sim_options_init(o);
        ck_assert_int_eq(sim_options_profile(o, "calm"), 0);
        o->nodes = nodes;
        o->randomize = 0;
        o->rate[SIM_K_WIRE] = 0;
    }
    ck_assert_int_eq(sim_create(o, r, &s), 0);
    ck_assert_int_eq(sim_advance(s, steps), 0);
    return s;
}

static inline struct sim_node *st_leader(struct sim *s)
{
    struct sim_node *l = sim_leader(s);
    ck_assert_ptr_nonnull(l);
    return l;
}

static inline struct sim_node *st_follower(struct sim *s)
{
    struct sim_node *l = st_leader(s);
    for (uint32_t k = 0; k < s->nslots; k++) {
        if (&s->node[k] != l && s->node[k].up) {
            return &s->node[k];
        }
    }
    ck_abort_msg("no follower");
    return NULL;
}

/* Feeds msg (from -> to) to its destination as a step. */
static inline int st_deliver(struct sim *s, struct craft_msg *m)
{
    struct sim_node *n = sim_node_of(s, m->to);
    ck_assert_ptr_nonnull(n);
    return sim_step(s, n, NULL, m);
}

static inline int st_event(struct sim *s, struct sim_node *n, uint32_t type,
                           uint64_t id, uint64_t peer)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = type;
    ev.id = id;
    ev.peer = peer;
    return sim_step(s, n, &ev, NULL);
}

/* Asserts the run stopped on check `check`. */
#define ST_ASSERT_VIOLATION(r, chk)                                           \
    do {                                                                      \
        ck_assert_msg((r)->violations == 1 && (r)->check == (chk),            \
                      "expected %s, got %s: %s", sim_check_name(chk),         \
                      sim_check_name((r)->check), (r)->message);              \
    } while (0)

#endif /* CRAFT_TEST_SIMTEST_H */
