/*
 * node/pending.c: the receipts of this node's proposals, in index order.
 *
 * A PROPOSE_RESULT gives a batch its indexes in one term. When the entry
 * at one of them is handed to the apply thread, the receipt whose
 * (index, term) matches completes with the apply result; a receipt whose
 * index got a different term was overwritten by another leader's entry
 * and fails with CRAFT_ELOST (§5.3: it can never commit).
 */
#include "node/node.h"

static struct slot *at(struct driver *d, size_t k)
{
    return &d->ring[(d->ring_head + k) % d->ring_cap];
}

int nd_pending_reserve(struct craft_node *n, size_t more)
{
    struct driver *d = &n->d;
    if (d->ring_n + more <= d->ring_cap) {
        return CRAFT_OK;
    }
    size_t cap = d->ring_cap ? d->ring_cap : 64;
    while (cap < d->ring_n + more) {
        cap *= 2;
    }
    struct slot *r = craft_malloc(&n->alloc, cap * sizeof(*r));
    if (r == NULL) {
        return CRAFT_ENOMEM;
    }
    for (size_t k = 0; k < d->ring_n; k++) {
        r[k] = *at(d, k);
    }
    craft_free(&n->alloc, d->ring);
    d->ring = r;
    d->ring_cap = cap;
    d->ring_head = 0;
    return CRAFT_OK;
}

/* Needs room reserved with nd_pending_reserve. */
void nd_pending_push(struct craft_node *n, uint64_t index, uint64_t term,
                     struct call *c)
{
    struct driver *d = &n->d;
    struct slot *s = &d->ring[(d->ring_head + d->ring_n) % d->ring_cap];
    s->index = index;
    s->term = term;
    s->call = c;
    d->ring_n++;
}

void nd_pending_truncate(struct craft_node *n, uint64_t index, int status)
{
    struct driver *d = &n->d;
    while (d->ring_n > 0) {
        struct slot *s = at(d, d->ring_n - 1);
        if (s->index < index) {
            break;
        }
        if (s->call != NULL) {
            nd_call_fail(n, s->call, status);
        }
        d->ring_n--;
    }
}

static void pop_front(struct driver *d)
{
    d->ring_head = (d->ring_head + 1) % d->ring_cap;
    d->ring_n--;
}

struct call *nd_pending_take(struct craft_node *n, uint64_t index,
                             uint64_t *term)
{
    struct driver *d = &n->d;
    while (d->ring_n > 0) {
        struct slot *s = at(d, 0);
        if (s->index > index) {
            return NULL;
        }
        struct call *c = s->call;
        uint64_t t = s->term;
        uint64_t i = s->index;
        pop_front(d);
        if (i == index) {
            *term = t;
            return c;
        }
        /* Skipped (a snapshot jumped over it): never applied here. */
        if (c != NULL) {
            nd_call_fail(n, c, CRAFT_ELOST);
        }
    }
    return NULL;
}

/* The receipt of index, if it is the next one and still waits. */
struct call *nd_pending_peek(struct craft_node *n, size_t *cursor,
                             uint64_t index, uint64_t *term)
{
    struct driver *d = &n->d;
    while (*cursor < d->ring_n && at(d, *cursor)->index < index) {
        (*cursor)++;
    }
    if (*cursor < d->ring_n && at(d, *cursor)->index == index) {
        *term = at(d, *cursor)->term;
        return at(d, *cursor)->call;
    }
    return NULL;
}

void nd_pending_fail_all(struct craft_node *n, int status)
{
    struct driver *d = &n->d;
    while (d->ring_n > 0) {
        struct slot *s = at(d, 0);
        if (s->call != NULL) {
            nd_call_fail(n, s->call, status);
        }
        pop_front(d);
    }
}

void nd_pending_expire(struct craft_node *n, int64_t now)
{
    struct driver *d = &n->d;
    for (size_t k = 0; k < d->ring_n; k++) {
        struct slot *s = at(d, k);
        if (s->call != NULL && s->call->deadline <= now) {
            nd_call_fail(n, s->call, CRAFT_ETIMEDOUT);
            s->call = NULL;
        }
    }
}
