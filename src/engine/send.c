/*
 * engine/send.c: queueing outgoing messages behind the writes they
 * depend on.
 */
#include "engine/engine.h"

#include <string.h>

static struct craft_action *push_send(struct craft_engine *e, uint32_t type,
                                      uint64_t to)
{
    CRAFT_ASSERT(e->out != NULL && to != CRAFT_NONE && to != e->id);
    struct craft_action *x = craft_actions_push(e->out, CRAFT_ACTION_SEND);
    struct craft_msg *m = &x->msg;
    m->type = type;
    m->from = e->id;
    m->to = to;
    m->term = e->term;
    return x;
}

struct craft_msg *craft_send(struct craft_engine *e, uint32_t type,
                             uint64_t to)
{
    craft_flush_storage(e);
    return &push_send(e, type, to)->msg;
}

/* Thesis §10.2.1: the leader may send entries before they are durable in
 * its own log. Its term and vote must still be durable first. */
struct craft_msg *craft_send_independent(struct craft_engine *e,
                                         uint32_t type, uint64_t to)
{
    craft_flush_hard_state(e);
    return &push_send(e, type, to)->msg;
}

/* An APPEND is independent too (§10.2.1). Its entries are the log's
 * first..first+count-1 (the action keeps the range for its accessors). */
struct craft_msg *craft_send_entries(struct craft_engine *e, uint64_t to,
                                     uint64_t first, uint64_t count)
{
    CRAFT_ASSERT(count == 0 || (first > e->log.snap_index &&
                                first + count - 1 <= craft_log_last(&e->log)));
    craft_flush_hard_state(e);
    struct craft_action *x = push_send(e, CRAFT_MSG_APPEND, to);
    if (count > 0) {
        craft_action_set_entries(x, &e->log, first, count);
    }
    return &x->msg;
}
