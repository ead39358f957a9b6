/*
 * tests/unit/cluster3.h: an in-memory cluster of engines for the tests of
 * snapshots, reads, transfer, membership, bootstrap and receipts,
 * driven through the public API only: events in, actions out, messages as
 * bytes.
 *
 * The host of each node is a faithful synchronous host:
 *
 *  - storage: hard state and a log (first..last) updated as the actions
 *    say; PERSISTED is reported after each APPEND unless hold_persist;
 *  - state machine: the list of applied NORMAL payloads, serialised as
 *    [u32 len][bytes]...; a snapshot is that serialisation at an applied
 *    index, stored with its index, term and membership bytes;
 *  - snapshots: TAKE_SNAPSHOT is answered with SNAPSHOT_TAKEN at the
 *    applied index (unless hold_take); SNAPSHOT_READ with a SNAPSHOT_CHUNK
 *    event read from the durable snapshot (unless hold_chunks: then the
 *    test answers with c3_answer_reads); SNAPSHOT_WRITE chunks go to a
 *    pending buffer made durable on the last chunk; SNAPSHOT_INSTALL
 *    restores the state machine from the durable snapshot;
 *  - receipts: every PROPOSE_RESULT OK is remembered and checked when its
 *    index is applied: a different term there means CRAFT_ELOST;
 *  - restart (c3_restart) loads hard state, snapshot metadata (with the
 *    conf bytes kept with the snapshot) and the log after the snapshot.
 *
 * Each node's engine and actions list allocate through a counting
 * allocator (live bytes and peak), so tests can bound memory.
 *
 * Messages go into one queue. Links can be cut (messages dropped) or held
 * (kept queued until released), and a message type can be dropped
 * everywhere (drop_type). Every action carried out is recorded in the
 * node's journal (with SEND messages decoded) for tests that count; for
 * exact assertions a test steps a node "raw" (c3_step_raw,
 * c3_deliver_one_raw), inspects nd->acts, then carries them out
 * (c3_execute).
 *
 * Header-only: every test is its own program.
 */
#ifndef CRAFT_TEST_CLUSTER3_H
#define CRAFT_TEST_CLUSTER3_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/conf.h"
#include "codec/message.h"
#include "craft.h"

#define C3_MAX 9

/* ---- counting allocator --------------------------------------------- */

struct c3_heap {
    size_t live;
    size_t peak;
    size_t allocs;
};

#define C3_HDR 16u

static inline void *c3_heap_malloc(void *user, size_t size)
{
    struct c3_heap *h = user;
    unsigned char *p = malloc(C3_HDR + size);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, &size, sizeof(size));
    h->live += size;
    h->allocs++;
    if (h->live > h->peak) {
        h->peak = h->live;
    }
    return p + C3_HDR;
}

static inline void c3_heap_free(void *user, void *ptr)
{
    struct c3_heap *h = user;
    if (ptr == NULL) {
        return;
    }
    unsigned char *p = (unsigned char *)ptr - C3_HDR;
    size_t size;
    memcpy(&size, p, sizeof(size));
    h->live -= size;
    free(p);
}

static inline void *c3_heap_realloc(void *user, void *ptr, size_t size)
{
    struct c3_heap *h = user;
    if (ptr == NULL) {
        return c3_heap_malloc(user, size);
    }
    unsigned char *p = (unsigned char *)ptr - C3_HDR;
    size_t old;
    memcpy(&old, p, sizeof(old));
    unsigned char *q = realloc(p, C3_HDR + size);
    if (q == NULL) {
        return NULL;
    }
    memcpy(q, &size, sizeof(size));
    h->live = h->live - old + size;
    h->allocs++;
    if (h->live > h->peak) {
        h->peak = h->live;
    }
    return q + C3_HDR;
}

/* Resets the peak to the current live size (start of a measurement). */
static inline void c3_heap_mark(struct c3_heap *h)
{
    h->peak = h->live;
}

/* ---- host records ----------------------------------------------------- */

struct c3_bytes {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static inline void c3_bytes_put(struct c3_bytes *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->p + b->len, d, n);
    }
    b->len += n;
}

static inline void c3_bytes_set(struct c3_bytes *b, const void *d, size_t n)
{
    b->len = 0;
    c3_bytes_put(b, d, n);
}

static inline void c3_bytes_free(struct c3_bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

struct c3_entry {
    uint64_t term;
    uint32_t type;
    struct c3_bytes data;
};

struct c3_snap {
    uint64_t index;
    uint64_t term;
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t conf_len;
    struct c3_bytes data;
};

/* One carried-out action, as recorded in a journal. */
struct c3_rec {
    uint64_t step; /* the node's step counter when it was produced */
    int type;
    int status;
    int role;
    uint64_t term, index, vote, peer, leader, id, offset, count;
    uint32_t flags;
    size_t len; /* SNAPSHOT_WRITE data bytes */
    /* SEND: the decoded message */
    uint32_t mtype, mflags;
    uint64_t mterm, mindex, mlog_term, mcommit, mctx, moffset, mhint;
    size_t mentries, mlen;
};

struct c3_receipt {
    uint64_t id, index, term;
    int status; /* 1: pending; CRAFT_OK applied; CRAFT_ELOST lost */
};

struct c3_result { /* PROPOSE_RESULT, READ_RESULT, TRANSFER_RESULT */
    int type;
    uint64_t id;
    int status;
    uint64_t index, term, count, leader, peer;
};

struct c3_read_req { /* SNAPSHOT_READ held for the test */
    uint64_t peer, index, offset, count;
};

struct c3_node {
    craft_engine *e;
    craft_actions *acts;
    uint64_t id;
    int up;
    struct c3_heap heap;
    craft_allocator alloc;
    uint64_t steps;
    uint64_t ticks;        /* TICK events given */
    uint64_t leader_since; /* ticks when it last became leader */
    /* knobs */
    int hold_persist; /* do not report PERSISTED */
    int hold_take;    /* do not answer TAKE_SNAPSHOT */
    int hold_chunks;  /* do not answer SNAPSHOT_READ */
    int take_requests; /* TAKE_SNAPSHOT actions seen */
    /* durable state */
    uint64_t term, vote;
    struct c3_entry *log; /* log[i] for first <= i <= last */
    size_t log_cap;
    uint64_t first, last;
    struct c3_snap snap;    /* durable snapshot (index 0: none) */
    struct c3_snap pending; /* incoming, being written */
    int pending_open;
    /* state machine */
    uint64_t applied, applied_term;
    uint64_t *applied_terms; /* term of applied entry i (for receipts) */
    size_t applied_cap;
    uint64_t napplied_normal;
    struct c3_bytes sm;
    /* bookkeeping */
    int role;
    uint64_t leader;
    struct c3_rec *journal;
    size_t njournal, cap_journal;
    struct c3_result *results;
    size_t nresults, cap_results;
    struct c3_receipt *receipts;
    size_t nreceipts, cap_receipts;
    struct c3_read_req reads[64];
    size_t nreads;
    uint64_t installs; /* SNAPSHOT_INSTALL carried out */
};

struct c3_msg {
    uint64_t from, to;
    size_t len;
    uint8_t *bytes;
    uint32_t type; /* decoded type, for filters */
};

struct c3 {
    int n;
    struct c3_node nodes[C3_MAX];
    struct c3_msg *q;
    size_t nq, capq;
    int cut[C3_MAX + 1][C3_MAX + 1];  /* a -> b dropped */
    int hold[C3_MAX + 1][C3_MAX + 1]; /* a -> b kept queued */
    int drop_type[CRAFT_MSG_TYPE_MAX + 1]; /* messages of a type dropped */
    craft_engine_options opts; /* template: id and seed set per node */
    uint64_t seed;
};

#define C3_GROW(arr, n, cap)                                                  \
    do {                                                                      \
        if ((n) >= (cap)) {                                                   \
            (cap) = (cap) ? (cap) * 2 : 16;                                   \
            (arr) = realloc((arr), (cap) * sizeof(*(arr)));                   \
            ck_assert_ptr_nonnull(arr);                                       \
        }                                                                     \
    } while (0)

static inline struct c3_node *c3_node(struct c3 *c, uint64_t id)
{
    ck_assert_uint_ge(id, 1);
    ck_assert_uint_le(id, (uint64_t)c->n);
    return &c->nodes[id - 1];
}

static inline const char *c3_action_name(int t)
{
    static const char *names[] = {
        "?", "PERSIST_HARD_STATE", "APPEND", "TRUNCATE", "SEND", "APPLY",
        "ROLE_CHANGE", "PROPOSE_RESULT", "READ_RESULT", "TRANSFER_RESULT",
        "TAKE_SNAPSHOT", "SNAPSHOT_READ", "SNAPSHOT_WRITE",
        "SNAPSHOT_INSTALL"};
    return t >= 1 && t <= 13 ? names[t] : "?";
}

static inline const char *c3_msg_name(uint32_t t)
{
    static const char *names[] = {
        "?", "APPEND", "APPEND_RESP", "VOTE", "VOTE_RESP", "PREVOTE",
        "PREVOTE_RESP", "HEARTBEAT", "HEARTBEAT_RESP", "SNAPSHOT",
        "SNAPSHOT_RESP", "TIMEOUT_NOW", "READ_INDEX", "READ_INDEX_RESP"};
    return t >= 1 && t <= 13 ? names[t] : "?";
}

/* Decodes wire bytes (test helper; asserts they decode). */
static inline void c3_decode(const void *b, size_t len, struct craft_msg *m)
{
    struct craft_alloc al;
    struct craft_entry_vec scratch = {NULL, 0};
    craft_alloc_default(&al);
    ck_assert_int_eq(craft_msg_decode(b, len, m, &al, &scratch), CRAFT_OK);
    craft_entry_vec_free(&al, &scratch);
    m->entries = NULL; /* scratch is gone; n_entries stays */
}

/* ---- describing action lists (for assertion messages) ---------------- */

/* Writes "TYPE TYPE(SEND:MSG->peer) ..." for the action list into buf. */
static inline const char *c3_describe(craft_actions *a, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < craft_actions_count(a) && off + 64 < cap; i++) {
        int t = craft_action_type(a, i);
        if (t == CRAFT_ACTION_SEND) {
            const void *b;
            size_t len;
            struct craft_msg m;
            ck_assert_int_eq(craft_action_message(a, i, &b, &len), 0);
            c3_decode(b, len, &m);
            off += (size_t)snprintf(buf + off, cap - off, "SEND(%s->%llu) ",
                                    c3_msg_name(m.type),
                                    (unsigned long long)m.to);
        } else {
            off += (size_t)snprintf(buf + off, cap - off, "%s ",
                                    c3_action_name(t));
        }
    }
    return buf;
}

/* Asserts the action list has exactly the given types, in order. */
static inline void c3_assert_types(craft_actions *a, const int *types,
                                   size_t n)
{
    char buf[4096];
    int ok = craft_actions_count(a) == n;
    for (size_t i = 0; ok && i < n; i++) {
        ok = craft_action_type(a, i) == types[i];
    }
    ck_assert_msg(ok, "actions were: %s", c3_describe(a, buf, sizeof(buf)));
}

#define C3_ASSERT_TYPES(a, ...)                                               \
    do {                                                                      \
        static const int t_[] = {__VA_ARGS__};                                \
        c3_assert_types((a), t_, sizeof(t_) / sizeof(t_[0]));                 \
    } while (0)

/* The decoded message of SEND action i. */
static inline void c3_action_msg(craft_actions *a, size_t i,
                                 struct craft_msg *m)
{
    const void *b;
    size_t len;
    ck_assert_int_eq(craft_action_type(a, i), CRAFT_ACTION_SEND);
    ck_assert_int_eq(craft_action_message(a, i, &b, &len), 0);
    c3_decode(b, len, m);
}

/* Index of the first action of type t at or after i, or -1. */
static inline long c3_find(craft_actions *a, size_t from, int t)
{
    for (size_t i = from; i < craft_actions_count(a); i++) {
        if (craft_action_type(a, i) == t) {
            return (long)i;
        }
    }
    return -1;
}

/* Number of SENDs of message type mt in a (to anyone when to is 0). */
static inline size_t c3_count_sends(craft_actions *a, uint32_t mt,
                                    uint64_t to)
{
    size_t k = 0;
    for (size_t i = 0; i < craft_actions_count(a); i++) {
        if (craft_action_type(a, i) != CRAFT_ACTION_SEND) {
            continue;
        }
        struct craft_msg m;
        c3_action_msg(a, i, &m);
        if (m.type == mt && (to == 0 || m.to == to)) {
            k++;
        }
    }
    return k;
}

static inline size_t c3_count_type(craft_actions *a, int t)
{
    size_t k = 0;
    for (size_t i = 0; i < craft_actions_count(a); i++) {
        k += craft_action_type(a, i) == t;
    }
    return k;
}

/* ---- the host --------------------------------------------------------- */

static inline void c3_enqueue(struct c3 *c, uint64_t from, uint64_t to,
                              const void *b, size_t len, uint32_t type)
{
    C3_GROW(c->q, c->nq, c->capq);
    struct c3_msg *m = &c->q[c->nq++];
    m->from = from;
    m->to = to;
    m->len = len;
    m->type = type;
    m->bytes = malloc(len);
    ck_assert_ptr_nonnull(m->bytes);
    memcpy(m->bytes, b, len);
}

static inline struct c3_entry *c3_log_at(struct c3_node *nd, uint64_t i)
{
    if (i >= nd->log_cap) {
        size_t cap = nd->log_cap ? nd->log_cap : 64;
        while (cap <= i) {
            cap *= 2;
        }
        nd->log = realloc(nd->log, cap * sizeof(*nd->log));
        ck_assert_ptr_nonnull(nd->log);
        memset(nd->log + nd->log_cap, 0,
               (cap - nd->log_cap) * sizeof(*nd->log));
        nd->log_cap = cap;
    }
    return &nd->log[i];
}

static inline void c3_applied_term_set(struct c3_node *nd, uint64_t i,
                                       uint64_t t)
{
    if (i >= nd->applied_cap) {
        size_t cap = nd->applied_cap ? nd->applied_cap : 64;
        while (cap <= i) {
            cap *= 2;
        }
        nd->applied_terms =
            realloc(nd->applied_terms, cap * sizeof(*nd->applied_terms));
        ck_assert_ptr_nonnull(nd->applied_terms);
        memset(nd->applied_terms + nd->applied_cap, 0,
               (cap - nd->applied_cap) * sizeof(uint64_t));
        nd->applied_cap = cap;
    }
    nd->applied_terms[i] = t;
}

static inline void c3_record_result(struct c3_node *nd, craft_actions *a,
                                    size_t i)
{
    C3_GROW(nd->results, nd->nresults, nd->cap_results);
    struct c3_result *r = &nd->results[nd->nresults++];
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
            C3_GROW(nd->receipts, nd->nreceipts, nd->cap_receipts);
            struct c3_receipt *rc = &nd->receipts[nd->nreceipts++];
            rc->id = r->id;
            rc->index = r->index + k;
            rc->term = r->term;
            rc->status = 1;
        }
    }
}

/*
 * The host-side check that turns a receipt into a result: when index i is
 * applied, a receipt (i, t) is CRAFT_OK if the applied entry has term t and
 * CRAFT_ELOST otherwise (another leader's entry took index i). A receipt
 * whose index a SNAPSHOT_INSTALL skips stays pending here; a real host
 * would report its outcome as unknown.
 */
static inline void c3_settle_receipts(struct c3_node *nd, uint64_t i,
                                      uint64_t t)
{
    for (size_t k = 0; k < nd->nreceipts; k++) {
        struct c3_receipt *rc = &nd->receipts[k];
        if (rc->status == 1 && rc->index == i) {
            rc->status = rc->term == t ? CRAFT_OK : CRAFT_ELOST;
        }
    }
}

static inline void c3_record(struct c3_node *nd, craft_actions *a, size_t i)
{
    C3_GROW(nd->journal, nd->njournal, nd->cap_journal);
    struct c3_rec *r = &nd->journal[nd->njournal++];
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
        ck_assert_int_eq(craft_action_data(a, i, &d, &r->len), 0);
    }
    if (r->type == CRAFT_ACTION_SEND) {
        struct craft_msg m;
        c3_action_msg(a, i, &m);
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

static void c3_step(struct c3 *c, struct c3_node *nd, const craft_event *ev);

/* Answers one SNAPSHOT_READ from the durable snapshot. */
static inline void c3_answer_read(struct c3 *c, struct c3_node *nd,
                                  const struct c3_read_req *r)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_CHUNK;
    ev.peer = r->peer;
    ev.index = r->index;
    ev.offset = r->offset;
    if (nd->snap.index != r->index || r->offset > nd->snap.data.len) {
        ev.flags = CRAFT_EVENT_F_FAILED;
    } else {
        size_t n = nd->snap.data.len - (size_t)r->offset;
        if (n > r->count) {
            n = (size_t)r->count;
        }
        ev.data = nd->snap.data.p + r->offset;
        ev.len = n;
        if (r->offset + n >= nd->snap.data.len) {
            ev.flags = CRAFT_EVENT_F_LAST;
        }
    }
    c3_step(c, nd, &ev);
}

/* Answers the SNAPSHOT_READs held (hold_chunks), oldest first. */
static inline void c3_answer_reads(struct c3 *c, struct c3_node *nd)
{
    struct c3_read_req rs[64];
    size_t n = nd->nreads;
    memcpy(rs, nd->reads, n * sizeof(rs[0]));
    nd->nreads = 0;
    for (size_t k = 0; k < n; k++) {
        c3_answer_read(c, nd, &rs[k]);
    }
}

/* Takes a snapshot of the state machine at its applied index and reports
 * it with SNAPSHOT_TAKEN. */
static inline void c3_take_snapshot(struct c3 *c, struct c3_node *nd)
{
    const void *conf;
    size_t conf_len;
    ck_assert_int_eq(craft_engine_conf_at(nd->e, nd->applied, &conf,
                                          &conf_len),
                     0);
    nd->snap.index = nd->applied;
    nd->snap.term = nd->applied_term;
    memcpy(nd->snap.conf, conf, conf_len);
    nd->snap.conf_len = conf_len;
    c3_bytes_set(&nd->snap.data, nd->sm.p, nd->sm.len);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_TAKEN;
    ev.index = nd->applied;
    ev.term = nd->applied_term;
    c3_step(c, nd, &ev);
}

/* Carries out nd's actions like a synchronous host, in order. */
static inline void c3_execute(struct c3 *c, struct c3_node *nd)
{
    craft_actions *a = nd->acts;
    size_t n = craft_actions_count(a);
    uint64_t persist_index = 0, persist_term = 0;
    int take = 0;
    struct c3_read_req reads[64];
    size_t nreads = 0;
    for (size_t i = 0; i < n; i++) {
        int t = craft_action_type(a, i);
        c3_record(nd, a, i);
        switch (t) {
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            nd->term = craft_action_term(a, i);
            nd->vote = craft_action_vote(a, i);
            break;
        case CRAFT_ACTION_TRUNCATE: {
            uint64_t idx = craft_action_index(a, i);
            ck_assert_uint_ge(idx, nd->first);
            if (idx <= nd->last) {
                nd->last = idx - 1;
            }
            break;
        }
        case CRAFT_ACTION_APPEND: {
            uint64_t idx = craft_action_index(a, i);
            size_t cnt = craft_action_count(a, i);
            /* Writes are contiguous: no hole in the durable log. */
            ck_assert_uint_le(idx, nd->last + 1);
            ck_assert_uint_ge(idx, nd->first);
            for (size_t k = 0; k < cnt; k++) {
                struct c3_entry *en = c3_log_at(nd, idx + k);
                const void *d;
                size_t len;
                ck_assert_int_eq(craft_action_entry(a, i, k, &en->term,
                                                    &en->type, &d, &len),
                                 0);
                c3_bytes_set(&en->data, d, len);
            }
            nd->last = idx + cnt - 1;
            persist_index = nd->last;
            persist_term = nd->log[nd->last].term;
            break;
        }
        case CRAFT_ACTION_SEND: {
            const void *b;
            size_t len;
            struct craft_msg m;
            ck_assert_int_eq(craft_action_message(a, i, &b, &len), 0);
            c3_decode(b, len, &m);
            c3_enqueue(c, nd->id, craft_action_peer(a, i), b, len, m.type);
            break;
        }
        case CRAFT_ACTION_APPLY: {
            uint64_t idx = craft_action_index(a, i);
            size_t cnt = craft_action_count(a, i);
            ck_assert_uint_eq(idx, nd->applied + 1);
            for (size_t k = 0; k < cnt; k++) {
                uint64_t term;
                uint32_t type;
                const void *d;
                size_t len;
                ck_assert_int_eq(
                    craft_action_entry(a, i, k, &term, &type, &d, &len), 0);
                if (type == CRAFT_ENTRY_NORMAL) {
                    uint32_t l32 = (uint32_t)len;
                    c3_bytes_put(&nd->sm, &l32, sizeof(l32));
                    c3_bytes_put(&nd->sm, d, len);
                    nd->napplied_normal++;
                }
                c3_applied_term_set(nd, idx + k, term);
                c3_settle_receipts(nd, idx + k, term);
                nd->applied_term = term;
            }
            nd->applied = idx + cnt - 1;
            break;
        }
        case CRAFT_ACTION_ROLE_CHANGE:
            if (craft_action_role(a, i) == CRAFT_ROLE_LEADER &&
                nd->role != CRAFT_ROLE_LEADER) {
                nd->leader_since = nd->ticks;
            }
            nd->role = craft_action_role(a, i);
            nd->leader = craft_action_leader(a, i);
            break;
        case CRAFT_ACTION_PROPOSE_RESULT:
        case CRAFT_ACTION_READ_RESULT:
        case CRAFT_ACTION_TRANSFER_RESULT:
            c3_record_result(nd, a, i);
            break;
        case CRAFT_ACTION_TAKE_SNAPSHOT:
            nd->take_requests++;
            ck_assert_uint_ge(nd->applied, craft_action_index(a, i));
            take = 1;
            break;
        case CRAFT_ACTION_SNAPSHOT_READ:
            ck_assert_uint_lt(nreads, 64);
            reads[nreads].peer = craft_action_peer(a, i);
            reads[nreads].index = craft_action_index(a, i);
            reads[nreads].offset = craft_action_offset(a, i);
            reads[nreads].count = craft_action_count(a, i);
            ck_assert_uint_gt(reads[nreads].count, 0);
            nreads++;
            break;
        case CRAFT_ACTION_SNAPSHOT_WRITE: {
            const void *d;
            size_t len;
            const void *conf;
            size_t conf_len;
            ck_assert_int_eq(craft_action_data(a, i, &d, &len), 0);
            uint64_t off = craft_action_offset(a, i);
            if (off == 0) {
                nd->pending.index = craft_action_index(a, i);
                nd->pending.term = craft_action_term(a, i);
                nd->pending.data.len = 0;
                nd->pending_open = 1;
            }
            ck_assert(nd->pending_open);
            ck_assert_uint_eq(nd->pending.index, craft_action_index(a, i));
            ck_assert_uint_eq(off, nd->pending.data.len);
            c3_bytes_put(&nd->pending.data, d, len);
            if (craft_action_flags(a, i) & CRAFT_ACTION_F_LAST) {
                ck_assert_int_eq(craft_action_conf(a, i, &conf, &conf_len),
                                 0);
                ck_assert_uint_le(conf_len, CRAFT_CONF_MAX_BYTES);
                /* Durable: replaces the previous snapshot. */
                nd->snap.index = nd->pending.index;
                nd->snap.term = nd->pending.term;
                memcpy(nd->snap.conf, conf, conf_len);
                nd->snap.conf_len = conf_len;
                c3_bytes_set(&nd->snap.data, nd->pending.data.p,
                             nd->pending.data.len);
                nd->pending_open = 0;
            }
            break;
        }
        case CRAFT_ACTION_SNAPSHOT_INSTALL: {
            uint64_t idx = craft_action_index(a, i);
            ck_assert_uint_eq(nd->snap.index, idx);
            ck_assert_uint_eq(nd->snap.term, craft_action_term(a, i));
            c3_bytes_set(&nd->sm, nd->snap.data.p, nd->snap.data.len);
            nd->applied = idx;
            nd->applied_term = nd->snap.term;
            /* The log up to idx may go; what follows stays unless a
             * TRUNCATE says otherwise. */
            if (nd->last < idx) {
                nd->last = idx;
            }
            nd->first = idx + 1;
            nd->installs++;
            break;
        }
        default:
            ck_abort_msg("unknown action %d", t);
        }
    }
    if (persist_index != 0 && !nd->hold_persist) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_PERSISTED;
        ev.index = persist_index;
        ev.term = persist_term;
        c3_step(c, nd, &ev);
    }
    if (take && !nd->hold_take) {
        c3_take_snapshot(c, nd);
    }
    for (size_t k = 0; k < nreads; k++) {
        if (nd->hold_chunks) {
            ck_assert_uint_lt(nd->nreads, 64);
            nd->reads[nd->nreads++] = reads[k];
        } else {
            c3_answer_read(c, nd, &reads[k]);
        }
    }
}

/* Steps without carrying out the actions: the test inspects nd->acts and
 * then calls c3_execute. */
static inline void c3_step_raw(struct c3_node *nd, const craft_event *ev)
{
    nd->steps++;
    ck_assert_int_eq(craft_engine_step(nd->e, ev, nd->acts), 0);
}

static void c3_step(struct c3 *c, struct c3_node *nd, const craft_event *ev)
{
    c3_step_raw(nd, ev);
    c3_execute(c, nd);
}

static inline void c3_start_node(struct c3 *c, struct c3_node *nd)
{
    craft_engine_options o = c->opts;
    o.id = nd->id;
    o.seed = c->seed * 131 + nd->id;
    memset(&nd->heap, 0, sizeof(nd->heap));
    craft_allocator_init(&nd->alloc);
    nd->alloc.user = &nd->heap;
    nd->alloc.malloc = c3_heap_malloc;
    nd->alloc.realloc = c3_heap_realloc;
    nd->alloc.free = c3_heap_free;
    o.allocator = &nd->alloc;
    ck_assert_int_eq(craft_engine_create(&o, &nd->e), 0);
    ck_assert_int_eq(craft_actions_create(&nd->alloc, &nd->acts), 0);
    nd->up = 1;
}

static inline void c3_free(struct c3 *c);

/* A cluster of n nodes (ids 1..n), none started: adjust c->opts (the
 * options every node gets; id and seed are set per node), then c3_start. */
static inline void c3_setup(struct c3 *c, int n, uint64_t seed)
{
    /* A test that failed (CK_FORK=no) left its cluster behind. */
    if (c->n != 0) {
        c3_free(c);
    }
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->seed = seed;
    craft_engine_options_init(&c->opts);
    for (int i = 0; i < n; i++) {
        c->nodes[i].id = (uint64_t)i + 1;
        c->nodes[i].first = 1;
    }
}

/* Creates engines for nodes 1..n; the first `voters` are bootstrapped as
 * the founding voters, the rest start empty (joining later). */
static inline void c3_start(struct c3 *c, int voters)
{
    uint64_t ids[C3_MAX];
    for (int i = 0; i < voters; i++) {
        ids[i] = (uint64_t)i + 1;
    }
    for (int i = 0; i < c->n; i++) {
        struct c3_node *nd = &c->nodes[i];
        c3_start_node(c, nd);
        if (i < voters) {
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_BOOTSTRAP;
            ev.ids = ids;
            ev.nids = (size_t)voters;
            c3_step(c, nd, &ev);
        }
    }
}

static inline void c3_init(struct c3 *c, int n, uint64_t seed)
{
    c3_setup(c, n, seed);
    c3_start(c, n);
}

static inline int c3_deliverable(struct c3 *c, const struct c3_msg *m)
{
    return c3_node(c, m->to)->up && c3_node(c, m->from)->up &&
           !c->cut[m->from][m->to] && !c->drop_type[m->type];
}

/*
 * Delivers queued messages (and those they cause), oldest first, until
 * only held ones remain or max were delivered. Messages on a cut link or
 * to/from a down node are dropped. Returns the number delivered.
 */
static inline size_t c3_deliver(struct c3 *c, size_t max)
{
    size_t done = 0;
    size_t i = 0;
    while (i < c->nq && done < max) {
        struct c3_msg m = c->q[i];
        if (c->hold[m.from][m.to] && c3_deliverable(c, &m)) {
            i++;
            continue;
        }
        memmove(&c->q[i], &c->q[i + 1], (c->nq - i - 1) * sizeof(c->q[0]));
        c->nq--;
        if (c3_deliverable(c, &m)) {
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_MESSAGE;
            ev.data = m.bytes;
            ev.len = m.len;
            c3_step(c, c3_node(c, m.to), &ev);
            done++;
        }
        free(m.bytes);
    }
    return done;
}

static inline size_t c3_deliver_all(struct c3 *c)
{
    return c3_deliver(c, (size_t)-1);
}

/* Number of queued messages of type mt from -> to (0: any). */
static inline size_t c3_queued(struct c3 *c, uint32_t mt, uint64_t from,
                               uint64_t to)
{
    size_t k = 0;
    for (size_t i = 0; i < c->nq; i++) {
        const struct c3_msg *m = &c->q[i];
        k += (mt == 0 || m->type == mt) && (from == 0 || m->from == from) &&
             (to == 0 || m->to == to);
    }
    return k;
}

/* Drops queued messages of type mt (0: any) from -> to (0: any). */
static inline size_t c3_drop(struct c3 *c, uint32_t mt, uint64_t from,
                             uint64_t to)
{
    size_t k = 0, j = 0;
    for (size_t i = 0; i < c->nq; i++) {
        struct c3_msg *m = &c->q[i];
        if ((mt == 0 || m->type == mt) && (from == 0 || m->from == from) &&
            (to == 0 || m->to == to)) {
            free(m->bytes);
            k++;
        } else {
            c->q[j++] = *m;
        }
    }
    c->nq = j;
    return k;
}

static inline void c3_drop_all(struct c3 *c)
{
    c3_drop(c, 0, 0, 0);
}

/* Removes the first queued message of type mt (0: any) from -> to (0:
 * any) into *out (the caller frees out->bytes). Asserts there is one. */
static inline void c3_take_msg(struct c3 *c, uint32_t mt, uint64_t from,
                               uint64_t to, struct c3_msg *out)
{
    for (size_t i = 0; i < c->nq; i++) {
        struct c3_msg *m = &c->q[i];
        if ((mt == 0 || m->type == mt) && (from == 0 || m->from == from) &&
            (to == 0 || m->to == to)) {
            *out = *m;
            memmove(&c->q[i], &c->q[i + 1],
                    (c->nq - i - 1) * sizeof(c->q[0]));
            c->nq--;
            return;
        }
    }
    ck_abort_msg("no queued %s %llu -> %llu", c3_msg_name(mt),
                 (unsigned long long)from, (unsigned long long)to);
}

/* Steps m's destination with it, without carrying out the actions (see
 * c3_step_raw); frees the bytes. */
static inline struct c3_node *c3_deliver_raw(struct c3 *c, struct c3_msg *m)
{
    struct c3_node *to = c3_node(c, m->to);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = m->bytes;
    ev.len = m->len;
    c3_step_raw(to, &ev);
    free(m->bytes);
    m->bytes = NULL;
    return to;
}

/* Delivers the first queued message of that kind, raw. */
static inline struct c3_node *c3_deliver_one_raw(struct c3 *c, uint32_t mt,
                                                 uint64_t from, uint64_t to)
{
    struct c3_msg m;
    c3_take_msg(c, mt, from, to, &m);
    return c3_deliver_raw(c, &m);
}

/* Cuts (or restores) both directions between a and b. */
static inline void c3_cut2(struct c3 *c, uint64_t a, uint64_t b, int on)
{
    c->cut[a][b] = on;
    c->cut[b][a] = on;
}

/* Isolates id from everyone (or heals it). */
static inline void c3_isolate(struct c3 *c, uint64_t id, int on)
{
    for (int j = 1; j <= c->n; j++) {
        if ((uint64_t)j != id) {
            c3_cut2(c, id, (uint64_t)j, on);
        }
    }
}

static inline void c3_event(struct c3 *c, struct c3_node *nd, uint32_t type,
                            uint64_t id, uint64_t peer)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = type;
    ev.id = id;
    ev.peer = peer;
    c3_step(c, nd, &ev);
}

static inline void c3_tick(struct c3 *c, struct c3_node *nd)
{
    nd->ticks++;
    c3_event(c, nd, CRAFT_EVENT_TICK, 0, 0);
}

static inline void c3_tick_all(struct c3 *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].up) {
            c3_tick(c, &c->nodes[i]);
        }
    }
}

/* The up leader with the highest term, or 0. */
static inline uint64_t c3_leader(struct c3 *c)
{
    uint64_t best = 0, term = 0;
    for (int i = 0; i < c->n; i++) {
        struct c3_node *nd = &c->nodes[i];
        if (nd->up && craft_engine_role(nd->e) == CRAFT_ROLE_LEADER &&
            craft_engine_term(nd->e) >= term) {
            best = nd->id;
            term = craft_engine_term(nd->e);
        }
    }
    return best;
}

/* Ticks every up node and delivers, until a leader exists. */
static inline uint64_t c3_elect(struct c3 *c, int max_ticks)
{
    for (int t = 0; t < max_ticks; t++) {
        c3_tick_all(c);
        c3_deliver_all(c);
        uint64_t l = c3_leader(c);
        if (l != 0) {
            return l;
        }
    }
    return 0;
}

/* Ticks and delivers n rounds. */
static inline void c3_run(struct c3 *c, int rounds)
{
    for (int t = 0; t < rounds; t++) {
        c3_tick_all(c);
        c3_deliver_all(c);
    }
}

/* Elects a leader and waits for its no-op to commit. */
static inline uint64_t c3_elect_ready(struct c3 *c, int max_ticks)
{
    uint64_t l = c3_elect(c, max_ticks);
    ck_assert_uint_ne(l, 0);
    struct c3_node *ld = c3_node(c, l);
    c3_deliver_all(c);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e),
                      craft_engine_last_index(ld->e));
    /* One heartbeat so followers learn the commit index. */
    c3_tick(c, ld);
    c3_deliver_all(c);
    return l;
}

static inline void c3_propose(struct c3 *c, struct c3_node *nd, uint64_t id,
                              const void *data, size_t len)
{
    craft_buf b = {data, len};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = &b;
    ev.nbufs = 1;
    ev.id = id;
    c3_step(c, nd, &ev);
}

/* Results (PROPOSE/READ/TRANSFER_RESULT) with this id, in order. */
static inline size_t c3_results(struct c3_node *nd, int type, uint64_t id,
                                struct c3_result *out, size_t max)
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

/* The single result of that type and id (asserts there is exactly one). */
static inline struct c3_result c3_result1(struct c3_node *nd, int type,
                                          uint64_t id)
{
    struct c3_result r[4];
    size_t n = c3_results(nd, type, id, r, 4);
    ck_assert_msg(n == 1, "%zu %s results for id %llu", n,
                  c3_action_name(type), (unsigned long long)id);
    return r[0];
}

static inline void c3_clear_journal(struct c3_node *nd)
{
    nd->njournal = 0;
}

/* Journal records of action type t (and, for SENDs, message type mt when
 * non-zero) since the last clear. */
static inline size_t c3_journal_count(struct c3_node *nd, int t, uint32_t mt)
{
    size_t k = 0;
    for (size_t i = 0; i < nd->njournal; i++) {
        k += nd->journal[i].type == t && (mt == 0 || nd->journal[i].mtype == mt);
    }
    return k;
}

/* Member role of id in nd's membership, or 0 when not a member. */
static inline int c3_member_role(struct c3_node *nd, uint64_t id)
{
    for (size_t k = 0; k < craft_engine_member_count(nd->e); k++) {
        uint64_t mid;
        int role;
        ck_assert_int_eq(craft_engine_member(nd->e, k, &mid, &role), 0);
        if (mid == id) {
            return role;
        }
    }
    return 0;
}

static inline void c3_node_free_engine(struct c3_node *nd)
{
    craft_engine_free(nd->e);
    craft_actions_free(nd->acts);
    nd->e = NULL;
    nd->acts = NULL;
    nd->up = 0;
}

static inline void c3_crash(struct c3 *c, struct c3_node *nd)
{
    (void)c;
    c3_node_free_engine(nd);
    nd->pending_open = 0;
}

/*
 * Restarts a crashed node from its durable state: hard state, then the
 * snapshot metadata (index, term, conf bytes), then the log entries after
 * it. The state machine restarts from the snapshot.
 */
static inline void c3_restart(struct c3 *c, struct c3_node *nd)
{
    c3_start_node(c, nd);
    ck_assert_int_eq(craft_engine_load_hard_state(nd->e, nd->term, nd->vote),
                     0);
    uint64_t from = nd->first;
    c3_bytes_set(&nd->sm, NULL, 0);
    nd->applied = 0;
    nd->applied_term = 0;
    if (nd->snap.index != 0) {
        ck_assert_int_eq(craft_engine_load_snapshot(nd->e, nd->snap.index,
                                                    nd->snap.term,
                                                    nd->snap.conf,
                                                    nd->snap.conf_len),
                         0);
        c3_bytes_set(&nd->sm, nd->snap.data.p, nd->snap.data.len);
        nd->applied = nd->snap.index;
        nd->applied_term = nd->snap.term;
        if (from <= nd->snap.index) {
            from = nd->snap.index + 1;
        }
    }
    for (uint64_t i = from; i <= nd->last; i++) {
        struct c3_entry *en = &nd->log[i];
        ck_assert_int_eq(craft_engine_load_entry(nd->e, i, en->term, en->type,
                                                 en->data.p, en->data.len),
                         0);
    }
}

static inline void c3_free(struct c3 *c)
{
    for (int i = 0; i < c->n; i++) {
        struct c3_node *nd = &c->nodes[i];
        if (nd->up) {
            c3_node_free_engine(nd);
        }
        for (size_t k = 0; k < nd->log_cap; k++) {
            c3_bytes_free(&nd->log[k].data);
        }
        free(nd->log);
        free(nd->applied_terms);
        c3_bytes_free(&nd->snap.data);
        c3_bytes_free(&nd->pending.data);
        c3_bytes_free(&nd->sm);
        free(nd->journal);
        free(nd->results);
        free(nd->receipts);
    }
    c3_drop_all(c);
    free(c->q);
    memset(c, 0, sizeof(*c));
}

#endif
