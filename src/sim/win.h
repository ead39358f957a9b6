/*
 * sim/win.h: a window of fixed-size records addressed by log index.
 *
 * Records cover indexes base+1 .. base+n. Appending, truncating the tail
 * and dropping a prefix (compaction) are amortised O(1), and a record is
 * found by index in O(1). Used for durable logs, shadow logs, the
 * committed log and the term -> leader table.
 */
#ifndef CRAFT_SIM_WIN_H
#define CRAFT_SIM_WIN_H

#include <stddef.h>
#include <stdint.h>

struct sim_win {
    uint8_t *v;
    size_t elem;  /* record size */
    size_t start; /* slot of record base+1 */
    size_t n;
    size_t cap;   /* slots */
    uint64_t base;
};

void sim_win_init(struct sim_win *w, size_t elem);
void sim_win_free(struct sim_win *w);
/* Empties the window and makes base the index before the next record. */
void sim_win_reset(struct sim_win *w, uint64_t base);

static inline uint64_t sim_win_last(const struct sim_win *w)
{
    return w->base + w->n;
}

/* Record at index i, or NULL outside base+1 .. last. */
static inline void *sim_win_at(const struct sim_win *w, uint64_t i)
{
    if (i <= w->base || i > w->base + w->n) {
        return NULL;
    }
    return w->v + (w->start + (size_t)(i - w->base - 1)) * w->elem;
}

/* Appends a zeroed record at last + 1 and returns it (NULL: no memory). */
void *sim_win_push(struct sim_win *w);
/* Drops records >= i. */
void sim_win_truncate(struct sim_win *w, uint64_t i);
/* Drops records <= i; base becomes i (even past the end). */
void sim_win_compact(struct sim_win *w, uint64_t i);

#endif /* CRAFT_SIM_WIN_H */
