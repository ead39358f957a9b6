/*
 * tests/unit/cluster.h: an in-memory cluster of engines for tests, driven
 * through the public API (events in, actions out, messages as bytes).
 *
 * Storage is a per-node array of durable entries plus hard state, updated
 * as the actions say; PERSISTED is reported right after each APPEND unless
 * the node's `hold_persist` is set. Messages go into one FIFO; tests
 * deliver, drop or partition them. Header-only: every test is its own
 * program.
 */
#ifndef CRAFT_TEST_CLUSTER_H
#define CRAFT_TEST_CLUSTER_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "craft.h"

#define CL_MAX 9
#define CL_MAX_LOG 4096
#define CL_MAX_MSGS 65536

struct cl_entry {
    uint64_t term;
    uint32_t type;
    uint32_t len;
    uint8_t data[64];
};

struct cl_msg {
    uint64_t from, to;
    size_t len;
    uint8_t *bytes;
};

struct cl_node {
    craft_engine *e;
    craft_actions *acts;
    uint64_t id;
    int up;
    int hold_persist; /* do not report PERSISTED automatically */
    /* durable state */
    uint64_t term, vote;
    struct cl_entry log[CL_MAX_LOG]; /* log[i] is index i */
    uint64_t last;
    /* applied entries */
    uint64_t applied;
    struct cl_entry applied_log[CL_MAX_LOG];
    int role;
    uint64_t leader;
    /* last PROPOSE_RESULT */
    int last_status;
    uint64_t last_receipt_index, last_receipt_term, last_hint;
};

struct cluster {
    int n;
    struct cl_node nodes[CL_MAX];
    struct cl_msg q[CL_MAX_MSGS];
    size_t qhead, qtail;
    int cut[CL_MAX + 1][CL_MAX + 1]; /* cut[a][b]: a -> b dropped */
    uint64_t seed;
};

static inline struct cl_node *cl_node(struct cluster *c, uint64_t id)
{
    ck_assert_uint_ge(id, 1);
    ck_assert_uint_le(id, (uint64_t)c->n);
    return &c->nodes[id - 1];
}

static inline void cl_enqueue(struct cluster *c, uint64_t from, uint64_t to,
                              const void *b, size_t len)
{
    ck_assert_uint_lt(c->qtail - c->qhead, CL_MAX_MSGS);
    struct cl_msg *m = &c->q[c->qtail++ % CL_MAX_MSGS];
    m->from = from;
    m->to = to;
    m->len = len;
    m->bytes = malloc(len);
    memcpy(m->bytes, b, len);
}

static void cl_step(struct cluster *c, struct cl_node *nd, craft_event *ev);

/* Carries out nd's actions like a synchronous host would. */
static inline void cl_execute(struct cluster *c, struct cl_node *nd)
{
    craft_actions *a = nd->acts;
    size_t n = craft_actions_count(a);
    uint64_t persist_index = 0, persist_term = 0;
    for (size_t i = 0; i < n; i++) {
        int t = craft_action_type(a, i);
        switch (t) {
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            nd->term = craft_action_term(a, i);
            nd->vote = craft_action_vote(a, i);
            break;
        case CRAFT_ACTION_TRUNCATE: {
            uint64_t idx = craft_action_index(a, i);
            if (idx <= nd->last) {
                nd->last = idx - 1;
            }
            break;
        }
        case CRAFT_ACTION_APPEND: {
            uint64_t idx = craft_action_index(a, i);
            size_t cnt = craft_action_count(a, i);
            for (size_t k = 0; k < cnt; k++) {
                struct cl_entry *e = &nd->log[idx + k];
                const void *d;
                size_t len;
                ck_assert_int_eq(craft_action_entry(a, i, k, &e->term,
                                                    &e->type, &d, &len),
                                 0);
                ck_assert_uint_lt(idx + k, CL_MAX_LOG);
                e->len = (uint32_t)(len < 64 ? len : 64);
                if (len > 0) {
                    memcpy(e->data, d, e->len);
                }
            }
            nd->last = idx + cnt - 1;
            persist_index = nd->last;
            persist_term = nd->log[nd->last].term;
            break;
        }
        case CRAFT_ACTION_SEND: {
            const void *b;
            size_t len;
            ck_assert_int_eq(craft_action_message(a, i, &b, &len), 0);
            cl_enqueue(c, nd->id, craft_action_peer(a, i), b, len);
            break;
        }
        case CRAFT_ACTION_APPLY: {
            uint64_t idx = craft_action_index(a, i);
            size_t cnt = craft_action_count(a, i);
            ck_assert_uint_eq(idx, nd->applied + 1);
            for (size_t k = 0; k < cnt; k++) {
                struct cl_entry *e = &nd->applied_log[idx + k];
                const void *d;
                size_t len;
                craft_action_entry(a, i, k, &e->term, &e->type, &d, &len);
                e->len = (uint32_t)(len < 64 ? len : 64);
                if (len > 0) {
                    memcpy(e->data, d, e->len);
                }
            }
            nd->applied = idx + cnt - 1;
            break;
        }
        case CRAFT_ACTION_ROLE_CHANGE:
            nd->role = craft_action_role(a, i);
            nd->leader = craft_action_leader(a, i);
            break;
        case CRAFT_ACTION_PROPOSE_RESULT:
            nd->last_status = craft_action_status(a, i);
            nd->last_receipt_index = craft_action_index(a, i);
            nd->last_receipt_term = craft_action_term(a, i);
            nd->last_hint = craft_action_leader(a, i);
            break;
        default:
            ck_abort_msg("unknown action %d", t);
        }
    }
    if (persist_index != 0 && !nd->hold_persist) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_PERSISTED;
        ev.index = persist_index;
        ev.term = persist_term;
        cl_step(c, nd, &ev);
    }
}

static void cl_step(struct cluster *c, struct cl_node *nd, craft_event *ev)
{
    ck_assert_int_eq(craft_engine_step(nd->e, ev, nd->acts), 0);
    cl_execute(c, nd);
}

static inline void cl_start_node(struct cluster *c, struct cl_node *nd)
{
    craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
    o.id = nd->id;
    o.seed = c->seed * 131 + nd->id;
    ck_assert_int_eq(craft_engine_create(&o, &nd->e), 0);
    ck_assert_int_eq(craft_actions_create(NULL, &nd->acts), 0);
    nd->up = 1;
}

/* n nodes with ids 1..n, all bootstrapped as voters. */
static inline void cl_init(struct cluster *c, int n, uint64_t seed)
{
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->seed = seed;
    uint64_t ids[CL_MAX];
    for (int i = 0; i < n; i++) {
        ids[i] = (uint64_t)i + 1;
    }
    for (int i = 0; i < n; i++) {
        struct cl_node *nd = &c->nodes[i];
        nd->id = (uint64_t)i + 1;
        cl_start_node(c, nd);
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_BOOTSTRAP;
        ev.ids = ids;
        ev.nids = (size_t)n;
        cl_step(c, nd, &ev);
    }
}

static inline void cl_free_msg(struct cl_msg *m)
{
    free(m->bytes);
    m->bytes = NULL;
}

/* Delivers every queued message (and those they cause) until quiet or
 * max deliveries. Returns the number delivered. */
static inline size_t cl_deliver_all(struct cluster *c, size_t max)
{
    size_t done = 0;
    while (c->qhead < c->qtail && done < max) {
        struct cl_msg *m = &c->q[c->qhead++ % CL_MAX_MSGS];
        struct cl_node *to = cl_node(c, m->to);
        if (to->up && cl_node(c, m->from)->up && !c->cut[m->from][m->to]) {
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_MESSAGE;
            ev.data = m->bytes;
            ev.len = m->len;
            cl_step(c, to, &ev);
            done++;
        }
        cl_free_msg(m);
    }
    return done;
}

static inline void cl_drop_all(struct cluster *c)
{
    while (c->qhead < c->qtail) {
        cl_free_msg(&c->q[c->qhead++ % CL_MAX_MSGS]);
    }
}

static inline void cl_tick(struct cluster *c, struct cl_node *nd)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TICK;
    cl_step(c, nd, &ev);
}

static inline void cl_tick_all(struct cluster *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].up) {
            cl_tick(c, &c->nodes[i]);
        }
    }
}

/* The one leader among up nodes with the highest term, or 0. */
static inline uint64_t cl_leader(struct cluster *c)
{
    uint64_t best = 0, term = 0;
    for (int i = 0; i < c->n; i++) {
        struct cl_node *nd = &c->nodes[i];
        if (nd->up && craft_engine_role(nd->e) == CRAFT_ROLE_LEADER &&
            craft_engine_term(nd->e) >= term) {
            best = nd->id;
            term = craft_engine_term(nd->e);
        }
    }
    return best;
}

/* Ticks and delivers until some node leads; returns its id (0 if none
 * within max_ticks). */
static inline uint64_t cl_elect(struct cluster *c, int max_ticks)
{
    for (int t = 0; t < max_ticks; t++) {
        cl_tick_all(c);
        cl_deliver_all(c, (size_t)-1);
        uint64_t l = cl_leader(c);
        if (l != 0) {
            return l;
        }
    }
    return 0;
}

static inline void cl_propose(struct cluster *c, struct cl_node *nd,
                              const void *data, size_t len)
{
    craft_buf b = {data, len};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = &b;
    ev.nbufs = 1;
    cl_step(c, nd, &ev);
}

static inline void cl_crash(struct cluster *c, struct cl_node *nd)
{
    (void)c;
    craft_engine_free(nd->e);
    craft_actions_free(nd->acts);
    nd->e = NULL;
    nd->acts = NULL;
    nd->up = 0;
}

/* Restarts a crashed node from its durable state. */
static inline void cl_restart(struct cluster *c, struct cl_node *nd)
{
    cl_start_node(c, nd);
    ck_assert_int_eq(craft_engine_load_hard_state(nd->e, nd->term, nd->vote),
                     0);
    for (uint64_t i = 1; i <= nd->last; i++) {
        struct cl_entry *e = &nd->log[i];
        ck_assert_int_eq(craft_engine_load_entry(nd->e, i, e->term, e->type,
                                                 e->data, e->len),
                         0);
    }
    nd->applied = 0;
}

static inline void cl_free(struct cluster *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].up) {
            cl_crash(c, &c->nodes[i]);
        }
    }
    cl_drop_all(c);
}

#endif
