/*
 * node/hub.c: craft_hub, the in-process transport test helper
 * (craft/testing.h). Written only against craft_transport_ops and
 * craft_node_receive_inline(), as a user's transport would be.
 *
 * Delivery uses craft_node_receive_inline: when the destination's driver
 * is idle, its round runs at once on the sending thread (a leader's
 * round thus runs its followers' rounds, whose answers queue for the
 * leader's next round), so no thread sleeps or wakes on the way.
 *
 * No lock is held while delivering (the destination's round sends in
 * turn, maybe to a node whose round is running on another thread that
 * sends here). The hub's lock guards the endpoint table and the cut
 * links; an endpoint's node is an atomic pointer and deliveries in
 * progress are counted, so detach waits for them to end.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "craft/testing.h"
#include "util/alloc.h"

struct endpoint {
    struct craft_hub *hub;
    uint64_t id;
    _Atomic(craft_node *) node;
    atomic_int inflight; /* deliveries to node in progress */
    int busy;            /* under the hub's lock */
};

struct cut {
    uint64_t from;
    uint64_t to;
};

struct craft_hub {
    struct craft_alloc alloc;
    pthread_mutex_t mu;
    struct endpoint **eps;
    size_t n;
    size_t cap;
    struct cut *cuts;
    size_t ncuts;
    size_t cuts_cap;
    atomic_uint_least64_t delivered;
    atomic_uint_least64_t lost;
};

static struct endpoint *find(struct craft_hub *hub, uint64_t id)
{
    for (size_t k = 0; k < hub->n; k++) {
        if (hub->eps[k]->id == id) {
            return hub->eps[k];
        }
    }
    return NULL;
}

static struct endpoint *find_or_add(struct craft_hub *hub, uint64_t id)
{
    struct endpoint *ep = find(hub, id);
    if (ep != NULL) {
        return ep;
    }
    void *arr = hub->eps;
    if (craft_grow(&hub->alloc, &arr, &hub->cap, hub->n + 1,
                   sizeof(*hub->eps)) != CRAFT_OK) {
        return NULL;
    }
    hub->eps = arr;
    ep = craft_calloc(&hub->alloc, sizeof(*ep));
    if (ep == NULL) {
        return NULL;
    }
    atomic_init(&ep->node, NULL);
    atomic_init(&ep->inflight, 0);
    ep->hub = hub;
    ep->id = id;
    hub->eps[hub->n++] = ep;
    return ep;
}

static int is_cut(const struct craft_hub *hub, uint64_t from, uint64_t to)
{
    for (size_t k = 0; k < hub->ncuts; k++) {
        const struct cut *c = &hub->cuts[k];
        if ((c->from == 0 || c->from == from) && (c->to == 0 || c->to == to)) {
            return 1;
        }
    }
    return 0;
}

static int hub_send(void *user, uint64_t peer, const void *data, size_t len)
{
    struct endpoint *src = user;
    struct craft_hub *hub = src->hub;
    pthread_mutex_lock(&hub->mu);
    struct endpoint *dst = find(hub, peer);
    int cut = dst == NULL || is_cut(hub, src->id, peer);
    int busy = dst != NULL && dst->busy;
    pthread_mutex_unlock(&hub->mu);
    if (cut) {
        atomic_fetch_add(&hub->lost, 1);
        return CRAFT_OK; /* lost on the way, like a network */
    }
    if (busy) {
        return CRAFT_EBUSY;
    }
    int rv = CRAFT_ENOENT;
    /* Counted before the node is read, both seq_cst: a detach that
     * cleared the pointer then saw no delivery in progress is never
     * followed by one to the old node. */
    atomic_fetch_add(&dst->inflight, 1);
    craft_node *node = atomic_load(&dst->node);
    if (node != NULL) {
        rv = craft_node_receive_inline(node, data, len);
    }
    atomic_fetch_sub(&dst->inflight, 1);
    atomic_fetch_add(rv == CRAFT_OK ? &hub->delivered : &hub->lost, 1);
    return CRAFT_OK;
}

int craft_hub_create(const craft_allocator *allocator, craft_hub **out)
{
    struct craft_alloc al;
    void *p;
    if (out == NULL) {
        return CRAFT_EINVAL;
    }
    int rv = craft_handle_alloc(allocator, sizeof(craft_hub), &al, &p);
    if (rv != CRAFT_OK) {
        return rv;
    }
    craft_hub *hub = p;
    hub->alloc = al;
    if (pthread_mutex_init(&hub->mu, NULL) != 0) {
        craft_free(&al, hub);
        return CRAFT_ENOMEM;
    }
    atomic_init(&hub->delivered, 0);
    atomic_init(&hub->lost, 0);
    *out = hub;
    return CRAFT_OK;
}

void craft_hub_free(craft_hub *hub)
{
    if (hub == NULL) {
        return;
    }
    for (size_t k = 0; k < hub->n; k++) {
        craft_free(&hub->alloc, hub->eps[k]);
    }
    craft_free(&hub->alloc, hub->eps);
    craft_free(&hub->alloc, hub->cuts);
    pthread_mutex_destroy(&hub->mu);
    struct craft_alloc al = hub->alloc;
    craft_free(&al, hub);
}

int craft_hub_transport(craft_hub *hub, uint64_t id, craft_transport_ops *ops)
{
    craft_transport_ops full;
    if (hub == NULL || ops == NULL || id == CRAFT_NONE) {
        return CRAFT_EINVAL;
    }
    if (ops->struct_size == 0 || ops->struct_size > sizeof(full)) {
        return CRAFT_ESTRUCT;
    }
    pthread_mutex_lock(&hub->mu);
    struct endpoint *ep = find_or_add(hub, id);
    pthread_mutex_unlock(&hub->mu);
    if (ep == NULL) {
        return CRAFT_ENOMEM;
    }
    craft_transport_ops_init(&full);
    full.user = ep;
    full.send = hub_send;
    uint32_t size = ops->struct_size;
    memcpy(ops, &full, size);
    ops->struct_size = size;
    return CRAFT_OK;
}

static int set_node(craft_hub *hub, uint64_t id, craft_node *node)
{
    pthread_mutex_lock(&hub->mu);
    struct endpoint *ep = find_or_add(hub, id);
    pthread_mutex_unlock(&hub->mu);
    if (ep == NULL) {
        return CRAFT_ENOMEM;
    }
    atomic_store(&ep->node, node);
    /* Deliveries in progress may still hold the old node: wait for them
     * (they are short; detach is not on a hot path). */
    while (atomic_load(&ep->inflight) > 0) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return CRAFT_OK;
}

int craft_hub_attach(craft_hub *hub, uint64_t id, craft_node *node)
{
    if (hub == NULL || node == NULL || id == CRAFT_NONE) {
        return CRAFT_EINVAL;
    }
    return set_node(hub, id, node);
}

int craft_hub_detach(craft_hub *hub, uint64_t id)
{
    if (hub == NULL || id == CRAFT_NONE) {
        return CRAFT_EINVAL;
    }
    return set_node(hub, id, NULL);
}

int craft_hub_set_link(craft_hub *hub, uint64_t from, uint64_t to, int up)
{
    if (hub == NULL) {
        return CRAFT_EINVAL;
    }
    int rv = CRAFT_OK;
    pthread_mutex_lock(&hub->mu);
    if (up) {
        size_t k = 0;
        while (k < hub->ncuts) {
            struct cut *c = &hub->cuts[k];
            if ((from == 0 || c->from == from) && (to == 0 || c->to == to)) {
                *c = hub->cuts[--hub->ncuts];
            } else {
                k++;
            }
        }
    } else {
        void *arr = hub->cuts;
        rv = craft_grow(&hub->alloc, &arr, &hub->cuts_cap, hub->ncuts + 1,
                        sizeof(*hub->cuts));
        hub->cuts = arr;
        if (rv == CRAFT_OK) {
            hub->cuts[hub->ncuts].from = from;
            hub->cuts[hub->ncuts].to = to;
            hub->ncuts++;
        }
    }
    pthread_mutex_unlock(&hub->mu);
    return rv;
}

int craft_hub_isolate(craft_hub *hub, uint64_t id, int isolated)
{
    if (hub == NULL || id == CRAFT_NONE) {
        return CRAFT_EINVAL;
    }
    int rv = craft_hub_set_link(hub, id, 0, !isolated);
    if (rv == CRAFT_OK) {
        rv = craft_hub_set_link(hub, 0, id, !isolated);
    }
    return rv;
}

int craft_hub_set_busy(craft_hub *hub, uint64_t id, int busy)
{
    if (hub == NULL || id == CRAFT_NONE) {
        return CRAFT_EINVAL;
    }
    pthread_mutex_lock(&hub->mu);
    struct endpoint *ep = find_or_add(hub, id);
    if (ep != NULL) {
        ep->busy = busy != 0;
    }
    pthread_mutex_unlock(&hub->mu);
    return ep != NULL ? CRAFT_OK : CRAFT_ENOMEM;
}

uint64_t craft_hub_delivered(craft_hub *hub)
{
    return hub != NULL ? atomic_load(&hub->delivered) : 0;
}

uint64_t craft_hub_lost(craft_hub *hub)
{
    return hub != NULL ? atomic_load(&hub->lost) : 0;
}
