/*
 * host/records.c: what the cluster remembers of the actions it carried
 * out, for tests: the journal, the results, the receipts of proposals
 * and how they settled.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/internal.h"

/* ---- records ------------------------------------------------------------ */

static void decode(struct host *h, const void *b, size_t len,
                   struct craft_msg *m)
{
    struct craft_alloc al;
    craft_alloc_default(&al);
    int rv = craft_msg_decode(b, len, m, &al, &h->scratch);
    if (rv != CRAFT_OK) {
        HOST_FAIL(h, "a SEND's bytes do not decode: %s", craft_strerror(rv));
    }
}

void host_record(struct host *h, struct host_node *nd, craft_actions *a,
                   size_t i)
{
    host_grow(h, &nd->journal, &nd->cap_journal, nd->njournal + 1,
         sizeof(*nd->journal));
    struct host_rec *r = &nd->journal[nd->njournal++];
    memset(r, 0, sizeof(*r));
    r->step = nd->steps;
    r->type = craft_action_type(a, i);
    r->status = craft_action_status(a, i);
    r->role = craft_action_role(a, i);
    r->term = craft_action_term(a, i);
    r->index = craft_action_index(a, i);
    r->vote = craft_action_vote(a, i);
    r->peer = craft_action_peer(a, i);
    r->leader = craft_action_leader(a, i);
    r->id = craft_action_id(a, i);
    r->offset = craft_action_offset(a, i);
    r->count = craft_action_count(a, i);
    r->flags = craft_action_flags(a, i);
    if (r->type == CRAFT_ACTION_SNAPSHOT_WRITE) {
        const void *d;
        HOST_CHECK(h, craft_action_data(a, i, &d, &r->len) == CRAFT_OK);
    }
    if (r->type == CRAFT_ACTION_SEND) {
        const void *b;
        size_t len;
        struct craft_msg m;
        HOST_CHECK(h, craft_action_message(a, i, &b, &len) == CRAFT_OK);
        decode(h, b, len, &m);
        r->mtype = m.type;
        r->mflags = m.flags;
        r->mterm = m.term;
        r->mindex = m.index;
        r->mlog_term = m.log_term;
        r->mcommit = m.commit;
        r->mctx = m.ctx;
        r->moffset = m.offset;
        r->mhint = m.hint_index;
        r->mentries = m.n_entries;
        r->mlen = m.len;
    }
}

void host_record_result(struct host *h, struct host_node *nd,
                          craft_actions *a, size_t i)
{
    host_grow(h, &nd->results, &nd->cap_results, nd->nresults + 1,
         sizeof(*nd->results));
    struct host_result *r = &nd->results[nd->nresults++];
    r->type = craft_action_type(a, i);
    r->id = craft_action_id(a, i);
    r->status = craft_action_status(a, i);
    r->index = craft_action_index(a, i);
    r->term = craft_action_term(a, i);
    r->count = craft_action_count(a, i);
    r->leader = craft_action_leader(a, i);
    r->peer = craft_action_peer(a, i);
    if (r->type == CRAFT_ACTION_PROPOSE_RESULT && r->status == CRAFT_OK) {
        for (uint64_t k = 0; k < r->count; k++) {
            host_grow(h, &nd->receipts, &nd->cap_receipts, nd->nreceipts + 1,
                 sizeof(*nd->receipts));
            struct host_receipt *rc = &nd->receipts[nd->nreceipts++];
            rc->id = r->id;
            rc->index = r->index + k;
            rc->term = r->term;
            rc->status = HOST_PENDING;
        }
    }
}

/*
 * Turns receipts into outcomes as their index is applied: a receipt
 * (i, t) is CRAFT_OK when the entry applied at i has term t, CRAFT_ELOST
 * otherwise (another leader's entry took index i). A receipt whose index
 * a SNAPSHOT_INSTALL skips stays pending: its outcome is unknown here.
 */
void host_settle_receipts(struct host_node *nd, uint64_t i, uint64_t t)
{
    for (size_t k = 0; k < nd->nreceipts; k++) {
        struct host_receipt *rc = &nd->receipts[k];
        if (rc->status == HOST_PENDING && rc->index == i) {
            rc->status = rc->term == t ? CRAFT_OK : CRAFT_ELOST;
        }
    }
}

void host_applied_term_set(struct host *h, struct host_node *nd, uint64_t i,
                             uint64_t t)
{
    if (i >= nd->applied_cap) {
        size_t old = nd->applied_cap;
        host_grow(h, &nd->applied_terms, &nd->applied_cap, (size_t)i + 1,
             sizeof(*nd->applied_terms));
        memset(nd->applied_terms + old, 0,
               (nd->applied_cap - old) * sizeof(uint64_t));
    }
    nd->applied_terms[i] = t;
}

size_t host_results(struct host_node *nd, int type, uint64_t id,
                    struct host_result *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < nd->nresults; i++) {
        if (nd->results[i].type == type && nd->results[i].id == id) {
            if (k < max) {
                out[k] = nd->results[i];
            }
            k++;
        }
    }
    return k;
}

struct host_result host_result1(struct host_node *nd, int type, uint64_t id)
{
    struct host_result r[4];
    size_t n = host_results(nd, type, id, r, 4);
    if (n != 1) {
        HOST_FAIL(nd->host, "%zu %s results for id %llu", n,
                  host_action_name(type), (unsigned long long)id);
    }
    return r[0];
}

void host_clear_journal(struct host_node *nd)
{
    nd->njournal = 0;
}

size_t host_journal_count(struct host_node *nd, int t, uint32_t mt)
{
    size_t k = 0;
    for (size_t i = 0; i < nd->njournal; i++) {
        k += nd->journal[i].type == t &&
             (mt == 0 || nd->journal[i].mtype == mt);
    }
    return k;
}

int host_member_role(struct host_node *nd, uint64_t id)
{
    for (size_t k = 0; k < craft_engine_member_count(nd->e); k++) {
        uint64_t mid;
        int role;
        HOST_CHECK(nd->host,
                   craft_engine_member(nd->e, k, &mid, &role) == CRAFT_OK);
        if (mid == id) {
            return role;
        }
    }
    return 0;
}

struct host_receipt *host_receipt_of(struct host_node *nd, uint64_t id)
{
    for (size_t k = 0; k < nd->nreceipts; k++) {
        if (nd->receipts[k].id == id) {
            return &nd->receipts[k];
        }
    }
    return NULL;
}
