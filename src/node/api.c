/*
 * node/api.c: the calls any thread makes on a node. Each checks its
 * arguments, copies what it is given into a call and queues it to the
 * driver; an error return means the callback will never run.
 */
#include <string.h>

#include "node/node.h"

static int refused(const struct craft_node *n)
{
    if (atomic_load(&n->closing)) {
        return CRAFT_ESHUTDOWN;
    }
    if (atomic_load(&n->failed)) {
        return CRAFT_EIO;
    }
    return CRAFT_OK;
}

/* The apply thread is a full queue behind. A round run on a sender's
 * thread must not wait for it: a paused follower takes in nothing
 * anyway, and a snapshot the sender's message installs waits for the
 * whole backlog to be applied first, while the sender (a leader's
 * thread) would send no heartbeat. Its own driver thread runs that
 * round. */
static int apply_behind(const struct craft_node *n)
{
    return atomic_load_explicit(&n->backlog_entries, memory_order_relaxed) >=
               n->opts.apply_queue_entries ||
           atomic_load_explicit(&n->backlog_bytes, memory_order_relaxed) >=
               n->opts.apply_queue_bytes;
}

static int receive(struct craft_node *n, const void *data, size_t len,
                   int inline_)
{
    if (n == NULL || data == NULL || len == 0) {
        return CRAFT_EINVAL;
    }
    if (len > CRAFT_MAX_MESSAGE_BYTES) {
        return CRAFT_ETOOBIG;
    }
    if (atomic_load(&n->closing)) {
        return CRAFT_ESHUTDOWN;
    }
    struct inmsg *m = craft_malloc(&n->alloc, sizeof(*m) + len);
    if (m == NULL) {
        return CRAFT_ENOMEM;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->data, data, len);
    int rv = CRAFT_OK;
    pthread_mutex_lock(&n->in_mu);
    if (atomic_load(&n->closing)) {
        rv = CRAFT_ESHUTDOWN;
    } else if (n->inbox_bytes + len > n->opts.inbox_bytes) {
        rv = CRAFT_EBUSY;
    } else {
        if (n->msg_tail != NULL) {
            n->msg_tail->next = m;
        } else {
            n->msg_head = m;
        }
        n->msg_tail = m;
        n->inbox_bytes += len;
        atomic_store_explicit(&n->in_work, 1, memory_order_relaxed);
        nd_metric_add(n, CRAFT_METRIC_MESSAGES_RECEIVED, 1);
        nd_metric_add(n, CRAFT_METRIC_BYTES_RECEIVED, len);
        if (inline_ && !apply_behind(n) && nd_driver_try_guest_locked(n)) {
            nd_driver_guest_locked(n, NULL);
        } else {
            nd_driver_wake_locked(n);
        }
    }
    pthread_mutex_unlock(&n->in_mu);
    if (rv != CRAFT_OK) {
        craft_free(&n->alloc, m);
    }
    return rv;
}

int craft_node_receive(craft_node *n, const void *data, size_t len)
{
    return receive(n, data, len, 0);
}

int craft_node_receive_inline(craft_node *n, const void *data, size_t len)
{
    return receive(n, data, len, 1);
}

static int try_reserve(struct craft_node *n)
{
    size_t before = atomic_fetch_add(&n->pending, 1);
    if (before < n->opts.max_pending) {
        nd_crowd_note(n, before + 1);
        return 1;
    }
    atomic_fetch_sub(&n->pending, 1);
    return 0;
}

/* One of max_pending places for a proposal: CRAFT_EBUSY when none is
 * free, or (wait_room, not on the node's own threads) a wait for one
 * until the deadline. */
static int reserve(struct craft_node *n, int64_t deadline)
{
    if (try_reserve(n)) {
        return CRAFT_OK;
    }
    if (!n->opts.wait_room || nd_node_on_own_thread(n)) {
        return CRAFT_EBUSY;
    }
    int rv = CRAFT_OK;
    pthread_mutex_lock(&n->room_mu);
    atomic_fetch_add(&n->room_waiters, 1);
    while (!try_reserve(n)) {
        rv = refused(n);
        if (rv == CRAFT_OK && nd_now_ns() >= deadline) {
            rv = CRAFT_ETIMEDOUT;
        }
        if (rv != CRAFT_OK) {
            break;
        }
        nd_cond_wait_until(&n->room_cv, &n->room_mu, deadline);
    }
    atomic_fetch_sub(&n->room_waiters, 1);
    pthread_mutex_unlock(&n->room_mu);
    return rv;
}

static void wait_cb(void *ctx, const craft_result *r)
{
    struct waiter *w = ctx;
    if (w->want_res) {
        craft_result *copy = craft_malloc(&w->alloc, sizeof(*copy) + r->len);
        if (copy != NULL) {
            *copy = *r;
            copy->alloc = w->alloc;
            copy->data = NULL;
            if (r->len > 0) {
                memcpy(copy + 1, r->data, r->len);
                copy->data = copy + 1;
            }
        }
        w->res = copy;
    }
    w->status = r->status;
    nd_waiter_done(w->node, w);
}

/* On the apply thread, FIFO with the applies: fn reads the state. */
static void read_wait_cb(void *ctx, const craft_result *r)
{
    struct waiter *w = ctx;
    int status = r->status;
    if (status == CRAFT_OK && w->fn != NULL &&
        w->fn(w->ctx, r->index) != CRAFT_OK) {
        status = CRAFT_ECALLBACK;
    }
    w->status = status;
    nd_waiter_done(w->node, w);
}

/* A proposal; w: a blocked caller, who runs the rounds itself when the
 * driver is idle (it would only sleep otherwise). */
static int propose(struct craft_node *n, const void *data, size_t len,
                   uint32_t timeout_ms, craft_node_cb cb, void *ctx,
                   struct waiter *w)
{
    if (n == NULL || (data == NULL && len > 0)) {
        return CRAFT_EINVAL;
    }
    if (len > CRAFT_MAX_ENTRY_BYTES) {
        return CRAFT_ETOOBIG;
    }
    int rv = refused(n);
    if (rv != CRAFT_OK) {
        return rv;
    }
    int64_t deadline = nd_deadline(n, timeout_ms);
    rv = reserve(n, deadline);
    if (rv != CRAFT_OK) {
        return rv;
    }
    struct call *c = nd_call_new(n, CALL_PROPOSE, len);
    if (c == NULL) {
        nd_call_unpend(n);
        return CRAFT_ENOMEM;
    }
    if (len > 0) {
        memcpy(c->data, data, len);
    }
    c->cb = cb;
    c->ctx = ctx;
    c->deadline = deadline;
    rv = w != NULL ? nd_call_submit_inline(n, c, &w->state)
                   : nd_call_submit(n, c);
    if (rv == CRAFT_OK) {
        nd_metric_add(n, CRAFT_METRIC_PROPOSALS, 1);
    }
    return rv;
}

int craft_node_propose(craft_node *n, const void *data, size_t len,
                       uint32_t timeout_ms, craft_node_cb cb, void *ctx)
{
    return propose(n, data, len, timeout_ms, cb, ctx, NULL);
}

int craft_node_propose_wait(craft_node *n, const void *data, size_t len,
                            uint32_t timeout_ms, craft_result **out)
{
    struct waiter w;
    if (out != NULL) {
        *out = NULL;
    }
    if (n == NULL) {
        return CRAFT_EINVAL;
    }
    if (nd_node_on_own_thread(n)) {
        return CRAFT_ESTATE;
    }
    int rv = nd_waiter_init(&w, n);
    if (rv != CRAFT_OK) {
        return rv;
    }
    w.want_res = out != NULL;
    rv = propose(n, data, len, timeout_ms, wait_cb, &w, &w);
    if (rv == CRAFT_OK) {
        nd_waiter_wait(n, &w);
        rv = w.status;
        if (out != NULL) {
            *out = w.res;
        }
    }
    nd_waiter_destroy(&w);
    return rv;
}

/* ---- the blocking read ------------------------------------------------ */

static int submit(struct craft_node *n, int kind, uint64_t peer,
                  uint32_t timeout_ms, craft_node_cb cb, void *ctx,
                  struct waiter *w);

int craft_node_read_wait(craft_node *n, uint32_t timeout_ms,
                         craft_node_read_fn fn, void *ctx)
{
    struct waiter w;
    if (n == NULL) {
        return CRAFT_EINVAL;
    }
    if (nd_node_on_own_thread(n)) {
        return CRAFT_ESTATE;
    }
    int rv = nd_waiter_init(&w, n);
    if (rv != CRAFT_OK) {
        return rv;
    }
    w.fn = fn;
    w.ctx = ctx;
    rv = submit(n, CALL_READ, 0, timeout_ms, read_wait_cb, &w, &w);
    if (rv == CRAFT_OK) {
        nd_waiter_wait(n, &w);
        rv = w.status;
    }
    nd_waiter_destroy(&w);
    return rv;
}

/* ---- other calls ------------------------------------------------------ */

static int submit(struct craft_node *n, int kind, uint64_t peer,
                  uint32_t timeout_ms, craft_node_cb cb, void *ctx,
                  struct waiter *w)
{
    int rv = refused(n);
    if (rv != CRAFT_OK) {
        return rv;
    }
    struct call *c = nd_call_new(n, kind, 0);
    if (c == NULL) {
        return CRAFT_ENOMEM;
    }
    c->peer = peer;
    c->cb = cb;
    c->ctx = ctx;
    c->deadline = nd_deadline(n, timeout_ms);
    return w != NULL ? nd_call_submit_inline(n, c, &w->state)
                     : nd_call_submit(n, c);
}

int craft_node_read_linearizable(craft_node *n, uint32_t timeout_ms,
                                 craft_node_cb cb, void *ctx)
{
    if (n == NULL || cb == NULL) {
        return CRAFT_EINVAL;
    }
    return submit(n, CALL_READ, 0, timeout_ms, cb, ctx, NULL);
}

#define PEER_CALL(fn, kind)                                                   \
    int fn(craft_node *n, uint64_t peer, uint32_t timeout_ms,                \
           craft_node_cb cb, void *ctx)                                       \
    {                                                                         \
        if (n == NULL || peer == CRAFT_NONE) {                                \
            return CRAFT_EINVAL;                                              \
        }                                                                     \
        return submit(n, kind, peer, timeout_ms, cb, ctx, NULL);                    \
    }

PEER_CALL(craft_node_add_peer, CALL_ADD_PEER)
PEER_CALL(craft_node_add_learner, CALL_ADD_LEARNER)
PEER_CALL(craft_node_promote_learner, CALL_PROMOTE)
PEER_CALL(craft_node_remove_peer, CALL_REMOVE)
PEER_CALL(craft_node_transfer_leadership, CALL_TRANSFER)

static int add_with_addr(struct craft_node *n, int kind, uint64_t peer,
                         const void *addr, size_t addr_len,
                         uint32_t timeout_ms, craft_node_cb cb, void *ctx)
{
    if (n == NULL || peer == CRAFT_NONE || (addr == NULL && addr_len > 0)) {
        return CRAFT_EINVAL;
    }
    if (addr_len > CRAFT_MAX_ADDR_BYTES) {
        return CRAFT_ETOOBIG;
    }
    int rv = refused(n);
    if (rv != CRAFT_OK) {
        return rv;
    }
    /* The address rides in the call's payload (c->data, c->len). */
    struct call *c = nd_call_new(n, kind, addr_len);
    if (c == NULL) {
        return CRAFT_ENOMEM;
    }
    if (addr_len > 0) {
        memcpy(c->data, addr, addr_len);
    }
    c->peer = peer;
    c->cb = cb;
    c->ctx = ctx;
    c->deadline = nd_deadline(n, timeout_ms);
    return nd_call_submit(n, c);
}

int craft_node_add_peer_addr(craft_node *n, uint64_t peer, const void *addr,
                             size_t addr_len, uint32_t timeout_ms,
                             craft_node_cb cb, void *ctx)
{
    return add_with_addr(n, CALL_ADD_PEER, peer, addr, addr_len, timeout_ms,
                         cb, ctx);
}

int craft_node_add_learner_addr(craft_node *n, uint64_t peer,
                                const void *addr, size_t addr_len,
                                uint32_t timeout_ms, craft_node_cb cb,
                                void *ctx)
{
    return add_with_addr(n, CALL_ADD_LEARNER, peer, addr, addr_len,
                         timeout_ms, cb, ctx);
}

int craft_node_trigger_snapshot(craft_node *n, uint32_t timeout_ms,
                                craft_node_cb cb, void *ctx)
{
    if (n == NULL) {
        return CRAFT_EINVAL;
    }
    return submit(n, CALL_SNAPSHOT, 0, timeout_ms, cb, ctx, NULL);
}

/* ---- status ------------------------------------------------------------ */

int craft_node_status(craft_node *n, craft_status **out)
{
    if (n == NULL || out == NULL) {
        return CRAFT_EINVAL;
    }
    if (nd_node_on_own_thread(n)) {
        return CRAFT_ESTATE;
    }
    for (;;) {
        /* No driver running (before start, after shutdown): read the
         * engine here, under the life-cycle lock. */
        pthread_mutex_lock(&n->sd_mu);
        if (!atomic_load(&n->started) || n->joined) {
            int rv = nd_status_fill(n, out);
            pthread_mutex_unlock(&n->sd_mu);
            return rv;
        }
        pthread_mutex_unlock(&n->sd_mu);

        struct call *c = nd_call_new(n, CALL_STATUS, 0);
        if (c == NULL) {
            return CRAFT_ENOMEM;
        }
        /* A status is answered even by a failed node. */
        int rv = CRAFT_OK;
        pthread_mutex_lock(&n->in_mu);
        if (atomic_load(&n->closing)) {
            rv = CRAFT_ESHUTDOWN;
        } else {
            nd_call_enqueue_locked(n, c);
            while (!c->done) {
                pthread_cond_wait(&n->status_cv, &n->in_mu);
            }
        }
        pthread_mutex_unlock(&n->in_mu);
        if (rv == CRAFT_ESHUTDOWN) {
            nd_call_free(n, c);
            continue; /* wait for the shutdown, then read directly */
        }
        rv = c->res.status;
        *out = c->status;
        nd_call_free(n, c);
        return rv;
    }
}
