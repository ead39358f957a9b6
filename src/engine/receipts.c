/*
 * engine/receipts.c: answering a receipt again when its entries are lost
 * (the option lost_receipts).
 *
 * A PROPOSE_RESULT OK promises nothing: a leader deposed before its
 * entries reach a majority sees them overwritten by the next leader's
 * (§5.3, Figure 7), and they never commit. The engine keeps the receipts
 * it gave until their entries commit; when a truncation removes entries
 * of one, it answers the receipt again with CRAFT_ELOST for the removed
 * part. Receipts are in index order: a leader appends at the end of its
 * log and anything after a truncation point goes with it.
 */
#include "engine/engine.h"

#include <string.h>

int craft_receipts_reserve(struct craft_engine *e)
{
    /* Two: a step answers at most a proposal and a membership change. */
    if (!e->opts.lost_receipts || e->n_rcpt + 2 <= e->cap_rcpt) {
        return CRAFT_OK;
    }
    void *v = e->rcpt;
    int rv = craft_grow(&e->alloc, &v, &e->cap_rcpt, e->n_rcpt + 2,
                        sizeof(*e->rcpt));
    if (rv == CRAFT_OK) {
        e->rcpt = v;
    }
    return rv;
}

void craft_receipt_add(struct craft_engine *e, uint64_t id, uint64_t index,
                       uint64_t count, uint64_t term)
{
    if (!e->opts.lost_receipts) {
        return;
    }
    /* Reserved in the prologue; in index order (appended at the end). */
    CRAFT_ASSERT(e->n_rcpt < e->cap_rcpt);
    CRAFT_ASSERT(e->n_rcpt == 0 ||
                 e->rcpt[e->n_rcpt - 1].index +
                         e->rcpt[e->n_rcpt - 1].count <= index);
    e->rcpt[e->n_rcpt++] = (struct craft_receipt){id, index, count, term};
}

/* A second answer to receipt r: entries first..last of it, status. The
 * actions bound of the step counts one per receipt kept. */
static void answer(struct craft_engine *e, const struct craft_receipt *r,
                   uint64_t first, uint64_t last, int status)
{
    struct craft_action *x =
        craft_actions_push(e->out, CRAFT_ACTION_PROPOSE_RESULT);
    x->id = r->id;
    x->status = status;
    x->index = first;
    x->term = r->term;
    x->count = last - first + 1;
    x->leader = e->leader;
}

void craft_receipts_truncated(struct craft_engine *e, uint64_t index)
{
    /* Log Matching (§5.3): the entries removed conflict with the
     * leader's, so none of them can ever commit. */
    while (e->n_rcpt > 0) {
        struct craft_receipt *r = &e->rcpt[e->n_rcpt - 1];
        uint64_t last = r->index + r->count - 1;
        if (last < index) {
            break;
        }
        uint64_t first = r->index > index ? r->index : index;
        answer(e, r, first, last, CRAFT_ELOST);
        if (first == r->index) {
            e->n_rcpt--;
        } else {
            r->count = first - r->index; /* its start may still commit */
            break;
        }
    }
}

/* Drops the first k receipts. */
static void drop_front(struct craft_engine *e, size_t k)
{
    if (k > 0) {
        memmove(e->rcpt, e->rcpt + k, (e->n_rcpt - k) * sizeof(*e->rcpt));
        e->n_rcpt -= k;
    }
}

void craft_receipts_committed(struct craft_engine *e, uint64_t index)
{
    size_t k = 0;
    while (k < e->n_rcpt && e->rcpt[k].index + e->rcpt[k].count - 1 <= index) {
        k++;
    }
    drop_front(e, k);
}

void craft_receipts_installed(struct craft_engine *e, uint64_t index,
                              int keep)
{
    /* Entries past index went with craft_receipts_truncated. With the
     * log kept, entries up to index match the snapshot's: committed.
     * Otherwise which of them made it is unknown. */
    size_t k = 0;
    while (k < e->n_rcpt && e->rcpt[k].index <= index) {
        struct craft_receipt *r = &e->rcpt[k];
        uint64_t last = r->index + r->count - 1;
        if (!keep) {
            answer(e, r, r->index, last < index ? last : index,
                   CRAFT_ESTEPPEDDOWN);
        }
        if (last > index) {
            /* Its entries past index are kept (keep) and may commit. */
            r->count = last - index;
            r->index = index + 1;
            break;
        }
        k++;
    }
    drop_front(e, k);
}
