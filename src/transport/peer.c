/*
 * transport/peer.c: the peer table and the peers' send queues.
 */
#include <string.h>

#include "transport/transport.h"

struct tpeer *tt_peer_find(struct craft_tcp *t, uint64_t id)
{
    for (size_t k = 0; k < t->npeers; k++) {
        if (t->peers[k]->id == id) {
            return t->peers[k];
        }
    }
    return NULL;
}

struct tpeer *tt_peer_get(struct craft_tcp *t, uint64_t id)
{
    struct tpeer *p = tt_peer_find(t, id);
    if (p != NULL) {
        return p;
    }
    void *arr = t->peers;
    if (craft_grow(&t->alloc, &arr, &t->peers_cap, t->npeers + 1,
                   sizeof(*t->peers)) != CRAFT_OK) {
        return NULL;
    }
    t->peers = arr;
    p = craft_calloc(&t->alloc, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&p->pmu, NULL) != 0) {
        craft_free(&t->alloc, p);
        return NULL;
    }
    p->id = id;
    p->ready_fd = -1;
    p->state = O_IDLE;
    p->backoff_ms = t->o.backoff_min_ms;
    t->peers[t->npeers++] = p;
    return p;
}

size_t tt_queue_drop(struct craft_tcp *t, struct tpeer *p)
{
    size_t n = 0;
    struct tframe *f = p->qh;
    while (f != NULL) {
        struct tframe *next = f->next;
        craft_free(&t->alloc, f);
        f = next;
        n++;
    }
    p->qh = p->qt = NULL;
    p->qn = 0;
    p->qbytes = 0;
    p->qoff = 0;
    if (n > 0) {
        tt_metric_add(t, p, CRAFT_TCP_METRIC_DROPS, n);
    }
    return n;
}

void tt_trace_dropped(struct craft_tcp *t, struct tpeer *p,
                      const char *reason, uint64_t frames)
{
    if (p != NULL) {
        if (p->dropping) {
            return;
        }
        p->dropping = 1;
    }
    if (!tt_trace_on(t, CRAFT_TRACE_TRANSPORT_DROPPED)) {
        return;
    }
    struct craft_trace_event ev;
    tt_trace_begin(t, &ev, CRAFT_TRACE_TRANSPORT_DROPPED);
    craft_trace_event_u64(&ev, "peer", p != NULL ? p->id : 0);
    craft_trace_event_str(&ev, "reason", reason);
    craft_trace_event_u64(&ev, "frames", frames);
    tt_trace_emit(t, &ev);
}

void tt_peer_free(struct craft_tcp *t, struct tpeer *p)
{
    tt_queue_drop(t, p);
    pthread_mutex_destroy(&p->pmu);
    craft_free(&t->alloc, p);
}
