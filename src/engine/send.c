/*
 * engine/send.c: queueing outgoing messages behind the writes they
 * depend on.
 */
#include "engine/engine.h"

#include <string.h>

static struct craft_msg *push_send(struct craft_engine *e, uint32_t type,
                                   uint64_t to)
{
    struct craft_action *x = craft_actions_push(e->out, CRAFT_ACTION_SEND);
    struct craft_msg *m = &x->msg;
    m->type = type;
    m->from = e->id;
    m->to = to;
    m->term = e->term;
    return m;
}

struct craft_msg *craft_send(struct craft_engine *e, uint32_t type,
                             uint64_t to)
{
    craft_flush_storage(e);
    return push_send(e, type, to);
}

/* Thesis §10.2.1: the leader may send entries before they are durable in
 * its own log. Its term and vote must still be durable first. */
struct craft_msg *craft_send_independent(struct craft_engine *e,
                                         uint32_t type, uint64_t to)
{
    craft_flush_hard_state(e);
    return push_send(e, type, to);
}
