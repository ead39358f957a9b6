/*
 * engine/propose.c: client proposals (§5.3 "the leader appends the
 * command to its log as a new entry, then issues AppendEntries").
 */
#include "engine/engine.h"

void craft_on_propose(struct craft_engine *e, const craft_event *ev)
{
    CRAFT_ASSERT(ev->nbufs > 0 && ev->nbufs <= CRAFT_MAX_PROPOSALS);
    if (e->role != CRAFT_ROLE_LEADER) {
        struct craft_action *x =
            craft_actions_push(e->out, CRAFT_ACTION_PROPOSE_RESULT);
        x->id = ev->id;
        x->status = CRAFT_ENOTLEADER;
        x->leader = e->leader;
        return;
    }
    if (e->transfer_target != CRAFT_NONE) {
        /* Thesis §3.10: proposals stop while leadership is handed over. */
        struct craft_action *x =
            craft_actions_push(e->out, CRAFT_ACTION_PROPOSE_RESULT);
        x->id = ev->id;
        x->status = CRAFT_EBUSY;
        x->leader = e->leader;
        return;
    }
    uint64_t first = craft_log_last(&e->log) + 1;
    /* The whole batch becomes consecutive entries and, at the end of the
     * step, one APPEND action. */
    for (size_t k = 0; k < ev->nbufs; k++) {
        craft_append_entry(e, e->term, CRAFT_ENTRY_NORMAL, ev->bufs[k].base,
                           (uint32_t)ev->bufs[k].len);
    }
    struct craft_action *x =
        craft_actions_push(e->out, CRAFT_ACTION_PROPOSE_RESULT);
    x->id = ev->id;
    x->status = CRAFT_OK;
    x->index = first;
    x->term = e->term;
    x->count = ev->nbufs;
    x->leader = e->id;
    craft_receipt_add(e, ev->id, first, ev->nbufs, e->term);
    craft_broadcast_append(e);
}
