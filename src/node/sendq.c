/*
 * node/sendq.c: per-peer send queues.
 *
 * A SEND goes straight to the transport when the writes it depends on are
 * durable and nothing is queued before it for that peer; otherwise its
 * bytes are copied into the peer's queue (FIFO per peer), to go once the
 * sync covering them is done or once the transport takes them again
 * (CRAFT_EBUSY). A queue holds at most peer_queue_messages and
 * peer_queue_bytes: what does not fit is dropped (Raft retransmits), so a
 * slow or dead peer never blocks the driver or the other peers.
 */
#include <string.h>

#include "node/node.h"
#include "util/assert.h"

static struct peerq *peer_of(struct craft_node *n, uint64_t id)
{
    struct driver *d = &n->d;
    for (size_t k = 0; k < d->npeers; k++) {
        if (d->peers[k].id == id) {
            return &d->peers[k];
        }
    }
    void *arr = d->peers;
    if (craft_grow(&n->alloc, &arr, &d->peers_cap, d->npeers + 1,
                   sizeof(*d->peers)) != CRAFT_OK) {
        return NULL;
    }
    d->peers = arr;
    struct peerq *q = &d->peers[d->npeers++];
    memset(q, 0, sizeof(*q));
    q->id = id;
    return q;
}

static void dropped(struct craft_node *n, struct peerq *q)
{
    nd_metric_add(n, CRAFT_METRIC_MESSAGES_DROPPED, 1);
    if (q != NULL && !q->full) {
        q->full = 1;
        nd_trace_u64(n, CRAFT_TRACE_SEND_DROPPED, 2, "peer", (uint64_t)q->id,
                     "queued", (uint64_t)q->count);
    }
}

static int transmit(struct craft_node *n, uint64_t peer, const void *data,
                    size_t len)
{
    int rv = n->tr.send(n->tr.user, peer, data, len);
    if (rv == CRAFT_OK) {
        nd_metric_add(n, CRAFT_METRIC_MESSAGES_SENT, 1);
        nd_metric_add(n, CRAFT_METRIC_BYTES_SENT, len);
    }
    return rv;
}

void nd_send(struct craft_node *n, uint64_t peer, const void *data,
             size_t len, uint64_t seq)
{
    struct driver *d = &n->d;
    struct peerq *q = peer_of(n, peer);
    if (q == NULL) {
        dropped(n, NULL);
        return;
    }
    if (q->head == NULL && seq <= d->synced_seq) {
        int rv = transmit(n, peer, data, len);
        if (rv == CRAFT_OK) {
            return;
        }
        if (rv != CRAFT_EBUSY) {
            nd_metric_add(n, CRAFT_METRIC_MESSAGES_DROPPED, 1);
            return;
        }
    }
    if (q->count >= n->opts.peer_queue_messages ||
        q->bytes + len > n->opts.peer_queue_bytes) {
        dropped(n, q);
        return;
    }
    struct outmsg *m = craft_malloc(&n->alloc, sizeof(*m) + len);
    if (m == NULL) {
        dropped(n, q);
        return;
    }
    m->next = NULL;
    m->seq = seq;
    m->len = len;
    memcpy(m->data, data, len);
    if (q->tail != NULL) {
        q->tail->next = m;
    } else {
        q->head = m;
    }
    q->tail = m;
    q->count++;
    q->bytes += len;
}

void nd_send_flush(struct craft_node *n)
{
    struct driver *d = &n->d;
    for (size_t k = 0; k < d->npeers; k++) {
        struct peerq *q = &d->peers[k];
        while (q->head != NULL && q->head->seq <= d->synced_seq) {
            struct outmsg *m = q->head;
            int rv = transmit(n, q->id, m->data, m->len);
            if (rv == CRAFT_EBUSY) {
                break;
            }
            if (rv != CRAFT_OK) {
                nd_metric_add(n, CRAFT_METRIC_MESSAGES_DROPPED, 1);
            }
            q->head = m->next;
            if (q->head == NULL) {
                q->tail = NULL;
            }
            CRAFT_ASSERT(q->count > 0 && q->bytes >= m->len);
            q->count--;
            q->bytes -= m->len;
            craft_free(&n->alloc, m);
        }
        /* The counts describe the queue (they bound it). */
        CRAFT_ASSERT((q->head == NULL) == (q->count == 0));
        if (q->count == 0) {
            q->full = 0;
        }
    }
}

void nd_send_free(struct craft_node *n)
{
    struct driver *d = &n->d;
    for (size_t k = 0; k < d->npeers; k++) {
        struct outmsg *m = d->peers[k].head;
        while (m != NULL) {
            struct outmsg *next = m->next;
            craft_free(&n->alloc, m);
            m = next;
        }
    }
    craft_free(&n->alloc, d->peers);
    d->peers = NULL;
    d->npeers = d->peers_cap = 0;
}
