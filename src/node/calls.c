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

static void append_locked(struct craft_node *n, struct call *c)
{
    c->next = NULL;
    if (n->req_tail != NULL) {
        n->req_tail->next = c;
    } else {
        n->req_head = c;
    }
    n->req_tail = c;
    atomic_store_explicit(&n->in_work, 1, memory_order_relaxed);
}

void nd_call_enqueue_locked(struct craft_node *n, struct call *c)
{
    append_locked(n, c);
    if (n->opts.inline_rounds && n->owner == ND_OWN_NONE &&
        nd_on_apply_thread(n)) {
        /* From a callback: the apply thread runs the round itself once
         * its items are done (nd_driver_apply_turn), no wake-up. */
        atomic_store_explicit(&n->apply_owes, 1, memory_order_relaxed);
    } else {
        nd_driver_wake_locked(n);
    }
}

static int submit(struct craft_node *n, struct call *c, int inline_,
                  const atomic_int *done)
{
    int rv = CRAFT_OK;
    pthread_mutex_lock(&n->in_mu);
    if (atomic_load(&n->closing)) {
        rv = CRAFT_ESHUTDOWN;
    } else if (atomic_load(&n->failed)) {
        rv = CRAFT_EIO;
    } else if (inline_) {
        append_locked(n, c);
        /* Only while few calls are in flight: among many runnable
         * threads a guest may be preempted while it owns the driver
         * state, and the leader's heartbeats would wait for it. */
        if (nd_few_clients(n) && nd_driver_try_guest_locked(n)) {
            nd_driver_guest_locked(n, done);
        } else {
            nd_driver_wake_locked(n);
        }
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

int nd_call_submit(struct craft_node *n, struct call *c)
{
    return submit(n, c, 0, NULL);
}

int nd_call_submit_inline(struct craft_node *n, struct call *c,
                          const atomic_int *done)
{
    return submit(n, c, 1, done);
}

/* ---- blocked callers --------------------------------------------------- */

int nd_waiter_init(struct waiter *w, struct craft_node *n)
{
    memset(w, 0, sizeof(*w));
    atomic_init(&w->state, W_WAITING);
    w->node = n;
    w->alloc = n->alloc;
    if (sem_init(&w->sem, 0, 0) != 0) {
        return CRAFT_ENOMEM;
    }
    return CRAFT_OK;
}

void nd_waiter_destroy(struct waiter *w)
{
    sem_destroy(&w->sem);
}

static void wake(struct waiter *w)
{
    atomic_store(&w->state, W_DONE);
    sem_post(&w->sem); /* the last touch: w may be gone after it */
}

/* Wakes up to k callers of the chain. */
static void wake_some(struct craft_node *n, int k)
{
    struct waiter *got[2];
    int m = 0;
    pthread_mutex_lock(&n->wake_mu);
    while (m < k && m < 2 && n->wake_head != NULL) {
        got[m] = n->wake_head;
        n->wake_head = got[m]->next;
        m++;
    }
    pthread_mutex_unlock(&n->wake_mu);
    for (int j = 0; j < m; j++) {
        wake(got[j]);
    }
}

void nd_waiter_done(struct craft_node *n, struct waiter *w)
{
    int expected = W_WAITING;
    if (atomic_compare_exchange_strong(&w->state, &expected, W_DONE)) {
        return; /* not asleep: it sees the flag; w may be gone now */
    }
    if (nd_on_apply_thread(n)) {
        /* Asleep: one wake-up is a system call and often a switch to
         * another CPU. Chain them instead of making them all here. */
        w->next = NULL;
        if (n->ap_wake_tail != NULL) {
            n->ap_wake_tail->next = w;
        } else {
            n->ap_wake = w;
        }
        n->ap_wake_tail = w;
        return;
    }
    wake(w);
}

void nd_waiter_flush(struct craft_node *n)
{
    if (n->ap_wake == NULL) {
        return;
    }
    pthread_mutex_lock(&n->wake_mu);
    n->ap_wake_tail->next = n->wake_head;
    n->wake_head = n->ap_wake;
    pthread_mutex_unlock(&n->wake_mu);
    n->ap_wake = n->ap_wake_tail = NULL;
    /* Wake them all from here, while each woken caller takes a couple
     * off the list too: the wake-ups run on both CPUs, and no caller
     * waits for another to be scheduled first. */
    for (;;) {
        pthread_mutex_lock(&n->wake_mu);
        struct waiter *w = n->wake_head;
        if (w != NULL) {
            n->wake_head = w->next;
        }
        pthread_mutex_unlock(&n->wake_mu);
        if (w == NULL) {
            return;
        }
        wake(w);
    }
}

void nd_waiter_wait(struct craft_node *n, struct waiter *w)
{
    if (atomic_load(&w->state) == W_DONE) {
        return;
    }
    int64_t spin = (int64_t)n->opts.spin_us * 1000;
    if (spin > 0 && n->ncpu > 1 && nd_few_clients(n)) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&n->spinners, &zero, 1)) {
            int got = nd_spin_for(&w->state, spin);
            atomic_store(&n->spinners, 0);
            if (got) {
                return;
            }
        }
    }
    int expected = W_WAITING;
    int slept = atomic_compare_exchange_strong(&w->state, &expected,
                                               W_SLEEPING);
    if (slept) {
        while (sem_wait(&w->sem) != 0) {
            /* EINTR: a signal handler ran; wait again */
        }
    }
    if (slept) {
        wake_some(n, 2); /* pass the wake-ups on */
    }
}
