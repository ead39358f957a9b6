/*
 * sim/win.c: the index-addressed record window.
 */
#include "sim/win.h"

#include <stdlib.h>
#include <string.h>

void sim_win_init(struct sim_win *w, size_t elem)
{
    memset(w, 0, sizeof(*w));
    w->elem = elem;
}

void sim_win_free(struct sim_win *w)
{
    free(w->v);
    sim_win_init(w, w->elem);
}

void sim_win_reset(struct sim_win *w, uint64_t base)
{
    w->start = 0;
    w->n = 0;
    w->base = base;
}

void *sim_win_push(struct sim_win *w)
{
    if (w->start + w->n == w->cap) {
        if (w->start > 0 && w->start >= w->cap / 2) {
            /* Slide down: the dropped prefix is at least half. */
            memmove(w->v, w->v + w->start * w->elem, w->n * w->elem);
            w->start = 0;
        } else {
            size_t cap = w->cap < 64 ? 64 : w->cap * 2;
            uint8_t *v = realloc(w->v, cap * w->elem);
            if (v == NULL) {
                return NULL;
            }
            w->v = v;
            w->cap = cap;
        }
    }
    uint8_t *p = w->v + (w->start + w->n) * w->elem;
    memset(p, 0, w->elem);
    w->n++;
    return p;
}

void sim_win_truncate(struct sim_win *w, uint64_t i)
{
    if (i <= w->base) {
        w->n = 0;
    } else if (i <= w->base + w->n) {
        w->n = (size_t)(i - w->base - 1);
    }
}

void sim_win_compact(struct sim_win *w, uint64_t i)
{
    if (i <= w->base) {
        return;
    }
    if (i >= w->base + w->n) {
        sim_win_reset(w, i);
        return;
    }
    size_t drop = (size_t)(i - w->base);
    w->start += drop;
    w->n -= drop;
    w->base = i;
}
