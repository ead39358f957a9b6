/*
 * host/net.c: the cluster's network (one queue of wire bytes, links that
 * can be cut or held) and the helpers that run the whole cluster
 * (elections, rounds of ticks).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/internal.h"
#include "util/copy.h"

/* ---- the network -------------------------------------------------------- */

/* A queue slot with a buffer of at least len bytes; the caller fills
 * the bytes. */
static struct host_msg *enqueue_slot(struct host *h, uint64_t from,
                                     uint64_t to, uint32_t type, size_t len)
{
    if (h->nq == h->capq && h->qhead > 0) {
        memmove(h->q, h->q + h->qhead, (h->nq - h->qhead) * sizeof(*h->q));
        h->nq -= h->qhead;
        h->qhead = 0;
    }
    if (h->nq == h->capq) {
        host_grow(h, &h->q, &h->capq, h->nq + 1, sizeof(*h->q));
    }
    struct host_msg *m = &h->q[h->nq++];
    struct host_bytes buf = {NULL, 0, 0};
    if (h->nspare > 0) {
        buf = h->spare[--h->nspare];
    }
    if (len > buf.cap) {
        host_bytes_reserve(h, &buf, len);
    }
    m->from = from;
    m->to = to;
    m->type = type;
    m->len = len;
    m->bytes = buf.p;
    m->cap = buf.cap;
    return m;
}

void host_enqueue(struct host *h, uint64_t from, uint64_t to, uint32_t type,
                  const void *b, size_t len)
{
    struct host_msg *m = enqueue_slot(h, from, to, type, len);
    craft_copy(m->bytes, b, len);
}

/* Encodes m straight into its queue slot: the bytes are the same as
 * craft_action_message's, without the action list's own encoding pass
 * and the copy out of it (a third of a small SEND's cost). */
void host_enqueue_msg(struct host *h, uint64_t from,
                      const struct craft_msg *m)
{
    size_t len = craft_msg_encoded_size(m);
    if (len == 0) {
        HOST_FAIL(h, "the engine emitted a message the codec refuses "
                  "(type %u)", m->type);
    }
    struct host_msg *q = enqueue_slot(h, from, m->to, m->type, len);
    craft_msg_encode_sized(m, q->bytes, len);
}

void host_msg_free(struct host *h, struct host_msg *m)
{
    if (m->bytes == NULL) {
        return;
    }
    if (h->nspare == h->cap_spare) {
        host_grow(h, &h->spare, &h->cap_spare, h->nspare + 1,
                  sizeof(*h->spare));
    }
    struct host_bytes *b = &h->spare[h->nspare++];
    b->p = m->bytes;
    b->cap = m->cap;
    b->len = 0;
    m->bytes = NULL;
}

/* Removes the k-th queued message (0: the oldest). */
static struct host_msg remove_at(struct host *h, size_t k)
{
    size_t i = h->qhead + k;
    struct host_msg m = h->q[i];
    if (k == 0) {
        h->qhead++;
    } else {
        memmove(&h->q[i], &h->q[i + 1], (h->nq - i - 1) * sizeof(*h->q));
        h->nq--;
    }
    if (h->qhead == h->nq) {
        h->qhead = h->nq = 0;
    }
    return m;
}

static int matches(const struct host_msg *m, uint32_t mt, uint64_t from,
                   uint64_t to)
{
    return (mt == 0 || m->type == mt) && (from == 0 || m->from == from) &&
           (to == 0 || m->to == to);
}

/* host_node() without its check where ids are in range (a SEND's peer
 * need not be a node of the cluster). */
static struct host_node *node_of(struct host *h, uint64_t id)
{
    return id >= 1 && id <= (uint64_t)h->n ? &h->nodes[id - 1]
                                           : host_node(h, id);
}

static void step_message(struct host *h, struct host_node *to,
                         const struct host_msg *m, int raw)
{
    craft_event ev;
    host_event_init(&ev, CRAFT_EVENT_MESSAGE);
    ev.data = m->bytes;
    ev.len = m->len;
    host_step_own(h, to, &ev, raw);
}

size_t host_deliver(struct host *h, size_t max)
{
    size_t done = 0;
    size_t k = 0; /* held messages skipped so far, oldest first */
    if (h->coalesce_persist && h->qhead >= h->nq) {
        host_flush_persist(h, 1);
    }
    while (h->qhead + k < h->nq && done < max) {
        const struct host_msg *q = &h->q[h->qhead + k];
        struct host_node *to = node_of(h, q->to);
        int ok = to->up && node_of(h, q->from)->up &&
                 !h->cut[q->from][q->to] &&
                 !(q->type <= CRAFT_MSG_TYPE_MAX && h->drop_type[q->type]);
        if (ok && h->hold[q->from][q->to]) {
            k++;
            continue;
        }
        /* Taken out of the queue first: the step may queue more. */
        struct host_msg m = remove_at(h, k);
        if (ok) {
            step_message(h, to, &m, 0);
            done++;
        }
        host_msg_free(h, &m);
        if (h->coalesce_persist && h->qhead + k >= h->nq) {
            /* Quiet: a leader's own report may complete a commit (and
             * what that sends is delivered too). */
            host_flush_persist(h, 1);
        }
    }
    return done;
}

size_t host_deliver_all(struct host *h)
{
    return host_deliver(h, (size_t)-1);
}

size_t host_queued(struct host *h, uint32_t mt, uint64_t from, uint64_t to)
{
    size_t k = 0;
    for (size_t i = h->qhead; i < h->nq; i++) {
        k += (size_t)matches(&h->q[i], mt, from, to);
    }
    return k;
}

size_t host_drop(struct host *h, uint32_t mt, uint64_t from, uint64_t to)
{
    size_t n = 0;
    size_t k = 0;
    while (h->qhead + k < h->nq) {
        if (matches(&h->q[h->qhead + k], mt, from, to)) {
            struct host_msg m = remove_at(h, k);
            host_msg_free(h, &m);
            n++;
        } else {
            k++;
        }
    }
    return n;
}

void host_drop_all(struct host *h)
{
    host_drop(h, 0, 0, 0);
}

int host_take_msg(struct host *h, uint32_t mt, uint64_t from, uint64_t to,
                  struct host_msg *out)
{
    for (size_t k = 0; h->qhead + k < h->nq; k++) {
        if (matches(&h->q[h->qhead + k], mt, from, to)) {
            *out = remove_at(h, k);
            return 1;
        }
    }
    return 0;
}

int host_deliver_one(struct host *h, uint32_t mt, uint64_t from, uint64_t to)
{
    struct host_msg m;
    if (!host_take_msg(h, mt, from, to, &m)) {
        return 0;
    }
    struct host_node *nd = host_node(h, m.to);
    if (nd->up) {
        step_message(h, nd, &m, 0);
    }
    host_msg_free(h, &m);
    return 1;
}

struct host_node *host_deliver_raw(struct host *h, struct host_msg *m)
{
    struct host_node *to = host_node(h, m->to);
    step_message(h, to, m, 1);
    host_msg_free(h, m);
    return to;
}

struct host_node *host_deliver_one_raw(struct host *h, uint32_t mt,
                                       uint64_t from, uint64_t to)
{
    struct host_msg m;
    if (!host_take_msg(h, mt, from, to, &m)) {
        HOST_FAIL(h, "no queued %s %llu -> %llu", host_msg_name(mt),
                  (unsigned long long)from, (unsigned long long)to);
    }
    return host_deliver_raw(h, &m);
}

void host_inject(struct host *h, const struct craft_msg *m)
{
    size_t n = craft_msg_encoded_size(m);
    if (n == 0) {
        HOST_FAIL(h, "a message the codec refuses");
    }
    uint8_t *b = host_xrealloc(h, NULL, n);
    HOST_CHECK(h, craft_msg_encode(m, b) == n);
    struct host_msg hm = {m->from, m->to, m->type, n, b, n};
    step_message(h, host_node(h, m->to), &hm, 0);
    free(b);
}

void host_cut(struct host *h, uint64_t a, uint64_t b, int on)
{
    h->cut[a][b] = on;
    h->cut[b][a] = on;
}

void host_isolate(struct host *h, uint64_t id, int on)
{
    for (int j = 1; j <= h->n; j++) {
        if ((uint64_t)j != id) {
            host_cut(h, id, (uint64_t)j, on);
        }
    }
}


/* ---- the cluster -------------------------------------------------------- */

uint64_t host_leader(struct host *h)
{
    uint64_t best = 0, term = 0;
    for (int i = 0; i < h->n; i++) {
        struct host_node *nd = &h->nodes[i];
        if (nd->up && craft_engine_role(nd->e) == CRAFT_ROLE_LEADER &&
            craft_engine_term(nd->e) >= term) {
            best = nd->id;
            term = craft_engine_term(nd->e);
        }
    }
    return best;
}

uint64_t host_elect(struct host *h, int max_ticks)
{
    for (int t = 0; t < max_ticks; t++) {
        host_tick_all(h);
        host_deliver_all(h);
        uint64_t l = host_leader(h);
        if (l != 0) {
            return l;
        }
    }
    return 0;
}

uint64_t host_elect_ready(struct host *h, int max_ticks)
{
    uint64_t l = host_elect(h, max_ticks);
    if (l == 0) {
        HOST_FAIL(h, "no leader within %d ticks", max_ticks);
    }
    struct host_node *ld = host_node(h, l);
    host_deliver_all(h);
    if (craft_engine_commit_index(ld->e) != craft_engine_last_index(ld->e)) {
        HOST_FAIL(h, "leader %llu did not commit its no-op",
                  (unsigned long long)l);
    }
    /* One heartbeat so followers learn the commit index. */
    host_tick(h, ld);
    host_deliver_all(h);
    return l;
}

void host_rounds(struct host *h, int rounds)
{
    for (int t = 0; t < rounds; t++) {
        host_tick_all(h);
        host_deliver_all(h);
    }
}
