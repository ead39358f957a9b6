/*
 * sim/inv_table.c: the checker's global records: the committed log, the
 * leader of each term, and every (index, term) ever appended with the
 * prefix hash of the log it ended (for Log Matching, §5.3).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/hash.h"
#include "sim/inv.h"

void sim_inv_init(struct sim_inv *inv)
{
    memset(inv, 0, sizeof(*inv));
    sim_win_init(&inv->committed, sizeof(struct sim_sentry));
    sim_win_init(&inv->leaders, sizeof(struct sim_term));
}

void sim_inv_free(struct sim_inv *inv)
{
    sim_win_free(&inv->committed);
    sim_win_free(&inv->leaders);
    free(inv->lm);
    memset(inv, 0, sizeof(*inv));
}

const struct sim_sentry *sim_inv_committed(const struct sim *s,
                                           uint64_t index)
{
    return (const struct sim_sentry *)sim_win_at(&s->inv.committed, index);
}

struct sim_term *sim_inv_term(struct sim *s, uint64_t term)
{
    struct sim_win *w = &s->inv.leaders;
    while (sim_win_last(w) < term) {
        if (sim_win_push(w) == NULL) {
            sim_fail(s, SIM_V_NONE, "out of memory");
            return NULL;
        }
    }
    return sim_win_at(w, term);
}

uint64_t sim_shadow_hash(const struct sim_node *n, uint64_t index, int *ok)
{
    *ok = 1;
    if (index == n->shadow.base) {
        return n->base_hash;
    }
    const struct sim_sentry *e = sim_shadow_at(n, index);
    if (e == NULL) {
        *ok = 0;
        return 0;
    }
    return e->hash;
}

static size_t lm_slot(uint64_t index, uint64_t term, size_t cap)
{
    return (size_t)(sim_mix(sim_mix(SIM_HASH_INIT, index), term) &
                    (cap - 1));
}

static int lm_rehash(struct sim_inv *inv, size_t cap, uint64_t floor)
{
    struct sim_lm *v = calloc(cap, sizeof(*v));
    if (v == NULL) {
        return -1;
    }
    size_t n = 0;
    for (size_t k = 0; k < inv->lm_cap; k++) {
        const struct sim_lm *x = &inv->lm[k];
        if (x->index == 0 || x->index < floor) {
            continue;
        }
        size_t s = lm_slot(x->index, x->term, cap);
        while (v[s].index != 0) {
            s = (s + 1) & (cap - 1);
        }
        v[s] = *x;
        n++;
    }
    free(inv->lm);
    inv->lm = v;
    inv->lm_cap = cap;
    inv->lm_n = n;
    if (floor > inv->lm_floor) {
        inv->lm_floor = floor;
    }
    return 0;
}

/* Lowest index any node may still append or ask about: entries below
 * every durable snapshot are settled. */
static uint64_t prune_floor(const struct sim *s)
{
    uint64_t floor = UINT64_MAX;
    for (uint32_t k = 0; k < s->nslots; k++) {
        const struct sim_node *n = &s->node[k];
        if (n->e == NULL && n->disk.term == 0) {
            continue; /* never started: joins through the leader */
        }
        if (n->disk.snap[0].index < floor) {
            floor = n->disk.snap[0].index;
        }
    }
    return floor == UINT64_MAX ? 0 : floor;
}

/*
 * Records that some log holds (index, term) with prefix hash `hash`.
 * Returns 0, or -1 when another log holds (index, term) with a different
 * prefix (*other: its hash), which breaks Log Matching.
 */
int sim_inv_lm(struct sim *s, uint64_t index, uint64_t term, uint64_t hash,
               uint64_t *other)
{
    struct sim_inv *inv = &s->inv;
    if (index < inv->lm_floor) {
        return 0;
    }
    if ((inv->lm_n + 1) * 2 > inv->lm_cap) {
        uint64_t floor = prune_floor(s);
        size_t cap = inv->lm_cap < 4096 ? 4096 : inv->lm_cap;
        /* Prune first; grow only if that did not free a quarter. */
        if (lm_rehash(inv, cap, floor) != 0) {
            sim_fail(s, SIM_V_NONE, "out of memory");
            return 0;
        }
        if ((inv->lm_n + 1) * 4 > inv->lm_cap) {
            if (lm_rehash(inv, inv->lm_cap * 2, floor) != 0) {
                sim_fail(s, SIM_V_NONE, "out of memory");
                return 0;
            }
        }
        if (floor > 1) {
            sim_win_compact(&inv->committed, floor - 1);
        }
        if (index < inv->lm_floor) {
            return 0;
        }
    }
    size_t k = lm_slot(index, term, inv->lm_cap);
    while (inv->lm[k].index != 0) {
        if (inv->lm[k].index == index && inv->lm[k].term == term) {
            if (inv->lm[k].hash != hash) {
                *other = inv->lm[k].hash;
                return -1;
            }
            return 0;
        }
        k = (k + 1) & (inv->lm_cap - 1);
    }
    inv->lm[k].index = index;
    inv->lm[k].term = term;
    inv->lm[k].hash = hash;
    inv->lm_n++;
    return 0;
}

/* Removes (index, term) from the table (backward-shift deletion). */
static void lm_remove(struct sim_inv *inv, uint64_t index, uint64_t term)
{
    if (inv->lm_cap == 0) {
        return;
    }
    size_t mask = inv->lm_cap - 1;
    size_t k = lm_slot(index, term, inv->lm_cap);
    while (inv->lm[k].index != 0 &&
           (inv->lm[k].index != index || inv->lm[k].term != term)) {
        k = (k + 1) & mask;
    }
    if (inv->lm[k].index == 0) {
        return;
    }
    size_t hole = k;
    for (size_t j = (k + 1) & mask; inv->lm[j].index != 0;
         j = (j + 1) & mask) {
        size_t home = lm_slot(inv->lm[j].index, inv->lm[j].term, inv->lm_cap);
        /* Move j into the hole unless its home lies in (hole, j]. */
        int in_between = hole <= j ? (home > hole && home <= j)
                                   : (home > hole || home <= j);
        if (!in_between) {
            inv->lm[hole] = inv->lm[j];
            hole = j;
        }
    }
    inv->lm[hole].index = 0;
    inv->lm_n--;
}

void sim_inv_crash(struct sim *s, struct sim_node *n)
{
    /* Entries of a term the node never made durable were never sent (a
     * message of a term needs the term durable first) and are gone: that
     * (index, term) may be reused by the same node after the restart
     * (a lone voter re-elects itself in the same term). */
    uint64_t durable = n->disk.term;
    for (uint64_t i = n->shadow.base + 1; i <= sim_win_last(&n->shadow);
         i++) {
        const struct sim_sentry *e = sim_shadow_at(n, i);
        const struct sim_term *t = sim_win_at(&s->inv.leaders, e->term);
        if (e->term > durable && t != NULL && t->leader == n->id) {
            lm_remove(&s->inv, i, e->term);
        }
    }
}
