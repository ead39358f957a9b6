/*
 * sim/heap.c: the event agenda.
 */
#include "sim/heap.h"

#include <stdlib.h>
#include <string.h>

void sim_heap_init(struct sim_heap *h)
{
    memset(h, 0, sizeof(*h));
}

void sim_heap_free(struct sim_heap *h)
{
    free(h->v);
    sim_heap_init(h);
}

static inline int before(const struct sim_ev *x, const struct sim_ev *y)
{
    return x->time < y->time || (x->time == y->time && x->seq < y->seq);
}

int sim_heap_push(struct sim_heap *h, struct sim_ev *ev)
{
    if (h->n == h->cap) {
        size_t cap = h->cap < 256 ? 256 : h->cap * 2;
        struct sim_ev *v = realloc(h->v, cap * sizeof(*v));
        if (v == NULL) {
            return -1;
        }
        h->v = v;
        h->cap = cap;
    }
    ev->seq = ++h->seq;
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(ev, &h->v[parent])) {
            break;
        }
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = *ev;
    return 0;
}

int sim_heap_pop(struct sim_heap *h, struct sim_ev *ev)
{
    if (h->n == 0) {
        return 0;
    }
    *ev = h->v[0];
    struct sim_ev last = h->v[--h->n];
    size_t i = 0;
    size_t n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        if (c + 1 < n && before(&h->v[c + 1], &h->v[c])) {
            c++;
        }
        if (!before(&h->v[c], &last)) {
            break;
        }
        h->v[i] = h->v[c];
        i = c;
    }
    if (n > 0) {
        h->v[i] = last;
    }
    return 1;
}
