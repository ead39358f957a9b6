/*
 * node/calls.c: API calls as the node carries them: created by the
 * calling thread, queued to the driver, completed exactly once on the
 * apply thread (libuv's promise: a call that returned an error never
 * completes; one that returned CRAFT_OK always does).
 */
#include <string.h>

#include "node/node.h"

struct call *nd_call_new(struct craft_node *n, int kind, size_t len)
{
    struct call *c = craft_malloc(&n->alloc, sizeof(*c) + len);
    if (c == NULL) {
        return NULL;
    }
    memset(c, 0, sizeof(*c));
    c->item.kind = AP_DONE;
    c->kind = kind;
    c->len = len;
    return c;
}

void nd_call_free(struct craft_node *n, struct call *c)
{
    craft_free(&n->alloc, c);
}

static void set_leader_hint(struct craft_node *n, struct call *c)
{
    if (c->res.leader == CRAFT_NONE) {
        c->res.leader = atomic_load(&n->q_leader);
    }
}

void nd_call_fail(struct craft_node *n, struct call *c, int status)
{
    c->res.status = status;
    if (status != CRAFT_OK) {
        c->res.data = NULL;
        c->res.len = 0;
    }
    set_leader_hint(n, c);
    nd_apply_push(n, &c->item, 1);
}

void nd_call_done_fifo(struct craft_node *n, struct call *c)
{
    set_leader_hint(n, c);
    nd_apply_push(n, &c->item, 0);
}

void nd_call_complete(struct craft_node *n, struct call *c)
{
    int ok = c->res.status == CRAFT_OK;
    switch (c->kind) {
    case CALL_PROPOSE:
        nd_call_unpend(n);
        if (!ok) {
            nd_metric_add(n, CRAFT_METRIC_PROPOSALS_FAILED, 1);
        }
        break;
    case CALL_READ:
        nd_metric_add(n, ok ? CRAFT_METRIC_READS : CRAFT_METRIC_READS_FAILED,
                      1);
        break;
    default:
        break;
    }
    if (c->cb != NULL) {
        c->cb(c->ctx, &c->res);
    }
    nd_call_free(n, c);
}

void nd_call_unpend(struct craft_node *n)
{
    atomic_fetch_sub(&n->pending, 1);
    /* A waiter increments room_waiters before it checks pending (both
     * seq_cst), so either it sees the room or this sees it waiting. */
    if (atomic_load(&n->room_waiters) > 0) {
        pthread_mutex_lock(&n->room_mu);
        pthread_cond_signal(&n->room_cv);
        pthread_mutex_unlock(&n->room_mu);
    }
}

void nd_call_wake_room(struct craft_node *n)
{
    pthread_mutex_lock(&n->room_mu);
    pthread_cond_broadcast(&n->room_cv);
    pthread_mutex_unlock(&n->room_mu);
}

void nd_call_enqueue_locked(struct craft_node *n, struct call *c)
{
    c->next = NULL;
    if (n->req_tail != NULL) {
        n->req_tail->next = c;
    } else {
        n->req_head = c;
    }
    n->req_tail = c;
    if (n->driver_sleeping) {
        pthread_cond_signal(&n->in_cv);
    }
}

int nd_call_submit(struct craft_node *n, struct call *c)
{
    int rv = CRAFT_OK;
    pthread_mutex_lock(&n->in_mu);
    if (atomic_load(&n->closing)) {
        rv = CRAFT_ESHUTDOWN;
    } else if (atomic_load(&n->failed)) {
        rv = CRAFT_EIO;
    } else {
        nd_call_enqueue_locked(n, c);
    }
    pthread_mutex_unlock(&n->in_mu);
    if (rv != CRAFT_OK) {
        if (c->kind == CALL_PROPOSE) {
            nd_call_unpend(n);
        }
        nd_call_free(n, c);
    }
    return rv;
}
