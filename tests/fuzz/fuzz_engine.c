/*
 * tests/fuzz/fuzz_engine.c: one engine fed an arbitrary stream of events.
 *
 * The input is a program for a host: a few bytes choose the engine's
 * options and how it starts (a new cluster, a restart from a persisted
 * log and snapshot, or an empty server waiting to join), then every
 * following group of bytes is one event: ticks, messages from arbitrary
 * peers (built field by field relative to the engine's state, or raw
 * bytes), answers to messages the engine sent, proposals, durability
 * reports (right and wrong), reads, transfers, membership changes,
 * snapshots taken and snapshot chunks.
 *
 * The harness is a host that keeps the engine's contract: it carries out
 * the actions in order on a shadow of the durable state (hard state, log,
 * snapshot, applied index). After every step it checks the engine
 * against the shadow and against the Raft rules a single server can be
 * held to on any input:
 *
 *  - a failed step changes nothing and leaves no action;
 *  - the term never decreases, a vote never changes within a term, and
 *    the durable hard state equals the engine's at the end of a step;
 *  - commit never decreases, commit <= last index, applied <= commit,
 *    nothing at or below the commit index is truncated or overwritten;
 *  - APPEND continues the log, TRUNCATE cuts it, the log the actions
 *    describe is the engine's log (last index and term);
 *  - APPLY hands out exactly the next entries, as they are in the log;
 *  - every message encodes, comes from this server, and leaves only after
 *    what it promises is durable (a vote, a term, acknowledged entries);
 *  - a leader appends only entries of its term, and advances commit only
 *    to an entry of its term (§5.4.2, Figure 8);
 *  - a follower's commit after an append is at most
 *    min(leaderCommit, index of the last new entry) (§5.3);
 *  - a snapshot install keeps the log after the snapshot only when the
 *    entry at the snapshot index has the snapshot's term (§7);
 *  - the membership is the latest configuration in the log, else the
 *    snapshot's: truncating an uncommitted CONFIG entry rolls it back
 *    (thesis §4.1);
 *  - a receipt names the proposal's own entries; a read served at once
 *    reads a committed index.
 *
 * Built with -DFUZZ_DEBUG, the replay program prints every step and the
 * engine's final state to stderr (to see how far an input gets).
 */
#include "fuzz.h"

#include "codec/conf.h"
#include "codec/crc32c.h"
#include "codec/le.h"
#include "codec/message.h"
#include "host/host.h"

#define SELF 1u
#define MAX_ID 7u      /* peers are 2..MAX_ID, some outside the membership */
#define MAX_LOG 100000 /* entries the shadow holds at most */
#define RING 32        /* recent messages the harness can answer */
#define READS 8        /* snapshot reads waiting for their chunk */

/* ---- the shadow of the durable state ---------------------------------- */

struct sentry {
    uint64_t term;
    uint32_t type;
    uint32_t len;
    uint64_t hash;
    uint8_t *conf; /* CONFIG: a copy of the payload */
};

struct sread {
    uint64_t peer, index, offset, count;
};

struct fz_host {
    craft_engine *e;
    craft_actions *a;
    craft_engine_options opts;

    uint64_t hs_term, hs_vote;

    /* The log: entries snap_index+1 .. snap_index+n. */
    struct sentry *log;
    size_t n, cap;
    uint64_t snap_index, snap_term;
    uint8_t snap_conf[CRAFT_CONF_MAX_BYTES];
    size_t snap_conf_len; /* 0: no snapshot membership */

    uint64_t applied;

    /* The newest complete snapshot (taken or installed), served to
     * SNAPSHOT_READ. */
    uint64_t snap_have_index, snap_have_term, snap_have_size;

    /* The snapshot being received. */
    int in_active;
    uint64_t in_index, in_term, in_offset;
    int in_done; /* the last chunk was written: install may follow */
    uint8_t in_conf[CRAFT_CONF_MAX_BYTES];
    size_t in_conf_len;

    struct sread reads[READS];
    size_t n_reads;

    struct craft_msg ring[RING]; /* without payloads, oldest first */
    size_t ring_n;

    int take_wanted; /* a TAKE_SNAPSHOT is outstanding */
    uint64_t next_id;
};

static uint64_t fnv(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

static uint64_t h_last(const struct fz_host *h)
{
    return h->snap_index + h->n;
}

static struct sentry *h_at(const struct fz_host *h, uint64_t i)
{
    if (i <= h->snap_index || i > h_last(h)) {
        return NULL;
    }
    return &h->log[i - h->snap_index - 1];
}

static uint64_t h_term(const struct fz_host *h, uint64_t i)
{
    if (i == h->snap_index) {
        return h->snap_term;
    }
    const struct sentry *s = h_at(h, i);
    return s ? s->term : 0;
}

static void h_truncate(struct fz_host *h, uint64_t from)
{
    while (h_last(h) >= from && h->n > 0) {
        free(h->log[h->n - 1].conf);
        h->n--;
    }
}

/* Drops entries <= i (they are in a snapshot now). */
static void h_drop_prefix(struct fz_host *h, uint64_t i, uint64_t term)
{
    size_t drop = 0;
    if (i > h->snap_index) {
        drop = (size_t)(i - h->snap_index);
        if (drop > h->n) {
            drop = h->n;
        }
    }
    for (size_t k = 0; k < drop; k++) {
        free(h->log[k].conf);
    }
    if (drop > 0) {
        memmove(h->log, h->log + drop, (h->n - drop) * sizeof(*h->log));
        h->n -= drop;
    }
    h->snap_index = i;
    h->snap_term = term;
}

static void h_push(struct fz_host *h, uint64_t term, uint32_t type,
                   const void *data, size_t len)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct sentry *p = realloc(h->log, cap * sizeof(*p));
        FUZZ_CHECK(p != NULL, "out of memory");
        h->log = p;
        h->cap = cap;
    }
    struct sentry *s = &h->log[h->n++];
    s->term = term;
    s->type = type;
    s->len = (uint32_t)len;
    s->hash = fnv(data, len);
    s->conf = NULL;
    if (type == CRAFT_ENTRY_CONFIG) {
        s->conf = malloc(len ? len : 1);
        FUZZ_CHECK(s->conf != NULL, "out of memory");
        if (len > 0) {
            memcpy(s->conf, data, len);
        }
    }
}

/* The membership the shadow log says is in force: the latest CONFIG
 * entry, else the snapshot's (thesis §4.1). n = 0 when there is none. */
static void h_conf(const struct fz_host *h, struct craft_conf *c)
{
    c->n = 0;
    for (uint64_t i = h_last(h); i > h->snap_index; i--) {
        const struct sentry *s = h_at(h, i);
        if (s->type == CRAFT_ENTRY_CONFIG) {
            FUZZ_CHECK(craft_conf_decode(s->conf, s->len, c) == CRAFT_OK,
                       "a CONFIG entry in the log does not decode");
            return;
        }
    }
    if (h->snap_conf_len > 0) {
        FUZZ_CHECK(craft_conf_decode(h->snap_conf, h->snap_conf_len, c) ==
                       CRAFT_OK,
                   "the snapshot's membership does not decode");
    }
}

/* ---- the engine's state, to compare across a step ----------------------- */

struct state {
    uint64_t term, vote, leader, commit, last, last_term, applied, persisted;
    uint64_t snap_index, snap_term;
    int role;
    size_t members;
};

static void state_of(const craft_engine *e, struct state *s)
{
    s->term = craft_engine_term(e);
    s->vote = craft_engine_vote(e);
    s->leader = craft_engine_leader(e);
    s->commit = craft_engine_commit_index(e);
    s->last = craft_engine_last_index(e);
    s->last_term = craft_engine_last_term(e);
    s->applied = craft_engine_applied_index(e);
    s->persisted = craft_engine_persisted_index(e);
    s->snap_index = craft_engine_snapshot_index(e);
    s->snap_term = craft_engine_snapshot_term(e);
    s->role = craft_engine_role(e);
    s->members = craft_engine_member_count(e);
}

/* ---- carrying out the actions ------------------------------------------- */

/* What one step needs to remember while its actions run. */
struct stepctx {
    struct state before;
    int role;      /* as the ROLE_CHANGE actions say, in list order */
    uint64_t term; /* likewise */
    /* Snapshot installs of this step: index and whether the entry at the
     * index had the snapshot's term before. */
    int installed;
    uint64_t inst_index;
    int inst_match;
    /* A PROPOSE event's payloads, to check the receipt against. */
    const craft_buf *bufs;
    size_t nbufs;
    uint64_t propose_id;
    uint64_t read_id; /* a READ event's id */
};

static void ring_add(struct fz_host *h, const struct craft_msg *m)
{
    if (h->ring_n == RING) {
        memmove(h->ring, h->ring + 1, (RING - 1) * sizeof(h->ring[0]));
        h->ring_n--;
    }
    struct craft_msg *r = &h->ring[h->ring_n++];
    *r = *m;
    r->entries = NULL;
    r->data = NULL;
    r->conf = NULL;
}

static void do_send(struct fz_host *h, struct stepctx *cx, size_t i)
{
    const void *bytes;
    size_t len;
    int rv = craft_action_message(h->a, i, &bytes, &len);
    FUZZ_CHECK(rv == CRAFT_OK, "a SEND does not encode (%d)", rv);
    struct craft_alloc al;
    struct craft_entry_vec scratch = {NULL, 0};
    struct craft_msg m;
    craft_alloc_default(&al);
    rv = craft_msg_decode(bytes, len, &m, &al, &scratch);
    FUZZ_CHECK(rv == CRAFT_OK, "a SEND does not decode (%d)", rv);
    FUZZ_CHECK(m.from == SELF && m.to == craft_action_peer(h->a, i) &&
                   m.to != SELF,
               "SEND of type %u from %llu to %llu (peer %llu)", m.type,
               (unsigned long long)m.from, (unsigned long long)m.to,
               (unsigned long long)craft_action_peer(h->a, i));
    /* Figure 2: respond only after updating stable storage. */
    if (m.type == CRAFT_MSG_PREVOTE) {
        FUZZ_CHECK(m.term == h->hs_term + 1,
                   "pre-vote for term %llu with durable term %llu",
                   (unsigned long long)m.term,
                   (unsigned long long)h->hs_term);
    } else if (m.type != CRAFT_MSG_PREVOTE_RESP) {
        FUZZ_CHECK(m.term <= h->hs_term,
                   "message type %u of term %llu leaves before the term is "
                   "durable (%llu)",
                   m.type, (unsigned long long)m.term,
                   (unsigned long long)h->hs_term);
    }
    if (m.type == CRAFT_MSG_VOTE_RESP && !(m.flags & CRAFT_MSG_F_REJECT)) {
        FUZZ_CHECK(h->hs_term == m.term && h->hs_vote == m.to,
                   "vote granted to %llu in term %llu before it is durable",
                   (unsigned long long)m.to, (unsigned long long)m.term);
    }
    if (m.type == CRAFT_MSG_VOTE) {
        FUZZ_CHECK(h->hs_term == m.term && h->hs_vote == SELF,
                   "vote request before the self-vote is durable");
    }
    if (m.type == CRAFT_MSG_APPEND_RESP && !(m.flags & CRAFT_MSG_F_REJECT)) {
        FUZZ_CHECK(m.index <= h_last(h),
                   "acknowledges entries up to %llu with %llu durable",
                   (unsigned long long)m.index,
                   (unsigned long long)h_last(h));
    }
    if (m.type == CRAFT_MSG_APPEND) {
        FUZZ_CHECK(cx->role == CRAFT_ROLE_LEADER,
                   "an APPEND from a non-leader (role %d)", cx->role);
        for (size_t k = 0; k < m.n_entries; k++) {
            FUZZ_CHECK(m.entries[k].term <= m.term,
                       "sends an entry of a later term");
        }
    }
    ring_add(h, &m);
    craft_entry_vec_free(&al, &scratch);
}

static void do_append(struct fz_host *h, struct stepctx *cx, size_t i)
{
    uint64_t index = craft_action_index(h->a, i);
    size_t count = craft_action_count(h->a, i);
    FUZZ_CHECK(count > 0, "an empty APPEND");
    FUZZ_CHECK(index == h_last(h) + 1,
               "APPEND at %llu but the log ends at %llu",
               (unsigned long long)index, (unsigned long long)h_last(h));
    FUZZ_CHECK(h->n + count <= MAX_LOG, "the log outgrew the harness");
    for (size_t k = 0; k < count; k++) {
        uint64_t term;
        uint32_t type;
        const void *data;
        size_t len;
        FUZZ_CHECK(craft_action_entry(h->a, i, k, &term, &type, &data,
                                      &len) == CRAFT_OK,
                   "APPEND entry %zu", k);
        FUZZ_CHECK(term > 0 && term <= h->hs_term,
                   "appends entry of term %llu in term %llu",
                   (unsigned long long)term, (unsigned long long)h->hs_term);
        FUZZ_CHECK(term >= h_term(h, h_last(h)),
                   "appends term %llu after term %llu",
                   (unsigned long long)term,
                   (unsigned long long)h_term(h, h_last(h)));
        if (cx->role == CRAFT_ROLE_LEADER) {
            FUZZ_CHECK(term == cx->term,
                       "leader of term %llu appends an entry of term %llu",
                       (unsigned long long)cx->term,
                       (unsigned long long)term);
        }
        if (type == CRAFT_ENTRY_CONFIG) {
            struct craft_conf c;
            FUZZ_CHECK(craft_conf_decode(data, len, &c) == CRAFT_OK,
                       "appends a CONFIG entry that does not decode");
        }
        h_push(h, term, type, data, len);
    }
}

static void do_truncate(struct fz_host *h, struct stepctx *cx, size_t i)
{
    uint64_t index = craft_action_index(h->a, i);
    FUZZ_CHECK(index > cx->before.commit && index > h->applied,
               "TRUNCATE from %llu with commit %llu, applied %llu",
               (unsigned long long)index,
               (unsigned long long)cx->before.commit,
               (unsigned long long)h->applied);
    FUZZ_CHECK(index > h->snap_index && index <= h_last(h),
               "TRUNCATE from %llu of a log %llu..%llu",
               (unsigned long long)index,
               (unsigned long long)h->snap_index + 1,
               (unsigned long long)h_last(h));
    h_truncate(h, index);
}

static void do_apply(struct fz_host *h, size_t i)
{
    uint64_t index = craft_action_index(h->a, i);
    size_t count = craft_action_count(h->a, i);
    FUZZ_CHECK(count > 0 && index == h->applied + 1,
               "APPLY of %llu+%zu after %llu", (unsigned long long)index,
               count, (unsigned long long)h->applied);
    for (size_t k = 0; k < count; k++) {
        uint64_t term;
        uint32_t type;
        const void *data;
        size_t len;
        FUZZ_CHECK(craft_action_entry(h->a, i, k, &term, &type, &data,
                                      &len) == CRAFT_OK,
                   "APPLY entry %zu", k);
        const struct sentry *s = h_at(h, index + k);
        FUZZ_CHECK(s != NULL, "applies %llu, not in the log",
                   (unsigned long long)(index + k));
        FUZZ_CHECK(s->term == term && s->type == type && s->len == len &&
                       s->hash == fnv(data, len),
                   "applies entry %llu unlike the log's",
                   (unsigned long long)(index + k));
    }
    h->applied = index + count - 1;
}

static void do_snapshot_write(struct fz_host *h, size_t i)
{
    uint64_t index = craft_action_index(h->a, i);
    uint64_t offset = craft_action_offset(h->a, i);
    const void *data, *conf;
    size_t len, conf_len;
    FUZZ_CHECK(craft_action_data(h->a, i, &data, &len) == CRAFT_OK &&
                   craft_action_conf(h->a, i, &conf, &conf_len) == CRAFT_OK,
               "SNAPSHOT_WRITE fields");
    if (offset == 0) {
        h->in_active = 1;
        h->in_index = index;
        h->in_term = craft_action_term(h->a, i);
        h->in_offset = 0;
    }
    FUZZ_CHECK(h->in_active && h->in_index == index &&
                   h->in_offset == offset,
               "snapshot chunk at %llu of %llu, expected %llu",
               (unsigned long long)offset, (unsigned long long)index,
               (unsigned long long)h->in_offset);
    h->in_offset += len;
    h->in_done = 0;
    if (craft_action_flags(h->a, i) & CRAFT_ACTION_F_LAST) {
        struct craft_conf c;
        FUZZ_CHECK(craft_conf_decode(conf, conf_len, &c) == CRAFT_OK,
                   "a snapshot's membership does not decode");
        memcpy(h->in_conf, conf, conf_len);
        h->in_conf_len = conf_len;
        h->in_active = 0;
        h->in_done = 1;
    }
}

static void do_install(struct fz_host *h, struct stepctx *cx, size_t i)
{
    uint64_t index = craft_action_index(h->a, i);
    uint64_t term = craft_action_term(h->a, i);
    FUZZ_CHECK(h->in_done && h->in_index == index && h->in_term == term,
               "installs a snapshot that was not written");
    FUZZ_CHECK(index > h->applied, "installs %llu with %llu applied",
               (unsigned long long)index, (unsigned long long)h->applied);
    h->in_done = 0;
    cx->installed = 1;
    cx->inst_index = index;
    cx->inst_match = index <= h_last(h) && h_term(h, index) == term;
    /* The header lets the host drop entries up to the index; what
     * follows stays unless a TRUNCATE says otherwise. */
    h_drop_prefix(h, index, term);
    memcpy(h->snap_conf, h->in_conf, h->in_conf_len);
    h->snap_conf_len = h->in_conf_len;
    h->applied = index;
    h->snap_have_index = index;
    h->snap_have_term = term;
    h->snap_have_size = h->in_offset;
}

/* Each action type's handler (host_run, src/host/host.h, walks the list
 * in order). */
struct run {
    struct fz_host *h;
    struct stepctx *cx;
};

static int on_hard_state(void *ctx, craft_actions *a, size_t i)
{
    struct fz_host *h = ((struct run *)ctx)->h;
    uint64_t t = craft_action_term(a, i);
    uint64_t v = craft_action_vote(a, i);
    FUZZ_CHECK(t >= h->hs_term, "durable term %llu -> %llu",
               (unsigned long long)h->hs_term, (unsigned long long)t);
    FUZZ_CHECK(!(t == h->hs_term && h->hs_vote != 0 && v != h->hs_vote),
               "vote of term %llu changes from %llu to %llu",
               (unsigned long long)t, (unsigned long long)h->hs_vote,
               (unsigned long long)v);
    h->hs_term = t;
    h->hs_vote = v;
    return HOST_NEXT;
}

static int on_append(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    (void)a;
    do_append(r->h, r->cx, i);
    return HOST_NEXT;
}

static int on_truncate(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    (void)a;
    do_truncate(r->h, r->cx, i);
    return HOST_NEXT;
}

static int on_send(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    (void)a;
    do_send(r->h, r->cx, i);
    return HOST_NEXT;
}

static int on_apply(void *ctx, craft_actions *a, size_t i)
{
    (void)a;
    do_apply(((struct run *)ctx)->h, i);
    return HOST_NEXT;
}

static int on_role_change(void *ctx, craft_actions *a, size_t i)
{
    struct stepctx *cx = ((struct run *)ctx)->cx;
    cx->role = craft_action_role(a, i);
    cx->term = craft_action_term(a, i);
    FUZZ_CHECK(cx->role >= CRAFT_ROLE_FOLLOWER &&
                   cx->role <= CRAFT_ROLE_LEADER,
               "role %d", cx->role);
    return HOST_NEXT;
}

static int on_take_snapshot(void *ctx, craft_actions *a, size_t i)
{
    struct fz_host *h = ((struct run *)ctx)->h;
    FUZZ_CHECK(craft_action_index(a, i) <= h->applied,
               "TAKE_SNAPSHOT at %llu with %llu applied",
               (unsigned long long)craft_action_index(a, i),
               (unsigned long long)h->applied);
    h->take_wanted = 1;
    return HOST_NEXT;
}

static int on_snapshot_read(void *ctx, craft_actions *a, size_t i)
{
    struct fz_host *h = ((struct run *)ctx)->h;
    if (h->n_reads < READS) {
        struct sread *r = &h->reads[h->n_reads++];
        r->peer = craft_action_peer(a, i);
        r->index = craft_action_index(a, i);
        r->offset = craft_action_offset(a, i);
        r->count = craft_action_count(a, i);
    }
    return HOST_NEXT;
}

static int on_snapshot_write(void *ctx, craft_actions *a, size_t i)
{
    (void)a;
    do_snapshot_write(((struct run *)ctx)->h, i);
    return HOST_NEXT;
}

static int on_snapshot_install(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    (void)a;
    do_install(r->h, r->cx, i);
    return HOST_NEXT;
}

static int on_unknown(void *ctx, craft_actions *a, size_t i)
{
    (void)ctx;
    fuzz_fail("unknown action type %d", craft_action_type(a, i));
    return HOST_STOP;
}

/* Results are checked once the step is over (NULL: nothing now). */
static const struct host_ops fuzz_ops = {
    .hard_state = on_hard_state,
    .append = on_append,
    .truncate = on_truncate,
    .send = on_send,
    .apply = on_apply,
    .role_change = on_role_change,
    .take_snapshot = on_take_snapshot,
    .snapshot_read = on_snapshot_read,
    .snapshot_write = on_snapshot_write,
    .snapshot_install = on_snapshot_install,
    .unknown = on_unknown,
};

static void run_actions(struct fz_host *h, struct stepctx *cx)
{
    struct run r = {h, cx};
    size_t next = 0;
    host_run(&fuzz_ops, &r, h->a, &next);
}

/* ---- after the step ----------------------------------------------------- */

static void check_after(struct fz_host *h, struct stepctx *cx)
{
    struct state s;
    const struct state *b = &cx->before;
    state_of(h->e, &s);

    FUZZ_CHECK(s.term >= b->term, "term went down: %llu -> %llu",
               (unsigned long long)b->term, (unsigned long long)s.term);
    FUZZ_CHECK(!(s.term == b->term && b->vote != 0 && s.vote != b->vote),
               "vote changed within term %llu", (unsigned long long)s.term);
    FUZZ_CHECK(s.term == h->hs_term && s.vote == h->hs_vote,
               "engine (term %llu, vote %llu) but durable (%llu, %llu)",
               (unsigned long long)s.term, (unsigned long long)s.vote,
               (unsigned long long)h->hs_term,
               (unsigned long long)h->hs_vote);
    FUZZ_CHECK(s.commit >= b->commit, "commit went down: %llu -> %llu",
               (unsigned long long)b->commit, (unsigned long long)s.commit);
    FUZZ_CHECK(s.commit <= s.last, "commit %llu beyond the last index %llu",
               (unsigned long long)s.commit, (unsigned long long)s.last);
    FUZZ_CHECK(s.applied <= s.commit && s.applied == h->applied,
               "applied %llu (host %llu), commit %llu",
               (unsigned long long)s.applied,
               (unsigned long long)h->applied,
               (unsigned long long)s.commit);
    FUZZ_CHECK(s.persisted <= s.last, "persisted %llu beyond last %llu",
               (unsigned long long)s.persisted, (unsigned long long)s.last);
    FUZZ_CHECK(s.snap_index <= s.commit, "snapshot %llu beyond commit %llu",
               (unsigned long long)s.snap_index,
               (unsigned long long)s.commit);
    FUZZ_CHECK(s.last == h_last(h) && s.last_term == h_term(h, s.last),
               "engine log ends at %llu/%llu, the actions' at %llu/%llu",
               (unsigned long long)s.last, (unsigned long long)s.last_term,
               (unsigned long long)h_last(h),
               (unsigned long long)h_term(h, h_last(h)));
    FUZZ_CHECK(s.role == cx->role, "role %d but the last ROLE_CHANGE said %d",
               s.role, cx->role);
    if (s.role == CRAFT_ROLE_LEADER) {
        FUZZ_CHECK(s.leader == SELF && s.vote == SELF,
                   "a leader with leader %llu, vote %llu",
                   (unsigned long long)s.leader, (unsigned long long)s.vote);
    }
    /* §5.4.2 (Figure 8): a leader commits only an entry of its term by
     * counting replicas; older ones commit with it. */
    if (b->role == CRAFT_ROLE_LEADER && s.role == CRAFT_ROLE_LEADER &&
        b->term == s.term && s.commit > b->commit) {
        FUZZ_CHECK(h_term(h, s.commit) == s.term,
                   "leader of term %llu commits %llu of term %llu",
                   (unsigned long long)s.term, (unsigned long long)s.commit,
                   (unsigned long long)h_term(h, s.commit));
    }
    /* §7: after an install, the log goes on past the snapshot only if
     * the entry at its index had the snapshot's term. */
    if (cx->installed && !cx->inst_match) {
        FUZZ_CHECK(h_last(h) <= cx->inst_index,
                   "kept entries after a snapshot at %llu whose term the "
                   "log did not have there",
                   (unsigned long long)cx->inst_index);
    }
    /* Thesis §4.1: the latest configuration in the log is in force. */
    struct craft_conf c;
    h_conf(h, &c);
    FUZZ_CHECK(s.members == c.n, "%zu members, the log says %u", s.members,
               c.n);
    for (uint32_t k = 0; k < c.n; k++) {
        uint64_t id;
        int role;
        const void *addr;
        size_t alen;
        FUZZ_CHECK(craft_engine_member(h->e, k, &id, &role) == CRAFT_OK &&
                       id == c.m[k].id && (uint32_t)role == c.m[k].role,
                   "member %u differs from the log's configuration", k);
        FUZZ_CHECK(craft_engine_member_addr(h->e, k, &addr, &alen) ==
                           CRAFT_OK &&
                       alen == c.m[k].addr_len &&
                       (alen == 0 || memcmp(addr, c.m[k].addr, alen) == 0),
                   "member %u's address differs from the log's", k);
    }
    /* A receipt names the proposal's own entries. */
    size_t n = craft_actions_count(h->a);
    for (size_t i = 0; i < n; i++) {
        int type = craft_action_type(h->a, i);
        /* A read served here at once (a lease, a quorum of one) reads
         * the commit index. (A forwarded read's index is the leader's
         * and may be ahead of ours: the read waits for the apply.) */
        if (type == CRAFT_ACTION_READ_RESULT && cx->read_id != 0 &&
            craft_action_id(h->a, i) == cx->read_id &&
            craft_action_status(h->a, i) == CRAFT_OK) {
            FUZZ_CHECK(craft_action_index(h->a, i) <= s.commit,
                       "read index %llu beyond commit %llu",
                       (unsigned long long)craft_action_index(h->a, i),
                       (unsigned long long)s.commit);
        }
        if (type != CRAFT_ACTION_PROPOSE_RESULT ||
            craft_action_status(h->a, i) != CRAFT_OK ||
            craft_action_id(h->a, i) != cx->propose_id || cx->bufs == NULL) {
            continue;
        }
        uint64_t index = craft_action_index(h->a, i);
        uint64_t term = craft_action_term(h->a, i);
        FUZZ_CHECK(craft_action_count(h->a, i) == cx->nbufs,
                   "receipt for %zu entries of %zu",
                   craft_action_count(h->a, i), cx->nbufs);
        for (size_t k = 0; k < cx->nbufs; k++) {
            const struct sentry *e = h_at(h, index + k);
            FUZZ_CHECK(e != NULL && e->term == term &&
                           e->type == CRAFT_ENTRY_NORMAL &&
                           e->len == cx->bufs[k].len &&
                           e->hash == fnv(cx->bufs[k].base, cx->bufs[k].len),
                       "the receipt's entry %llu is not the proposal",
                       (unsigned long long)(index + k));
        }
    }
}

static int known_error(int rv)
{
    return rv == CRAFT_EINVAL || rv == CRAFT_EMALFORMED ||
           rv == CRAFT_ECHECKSUM || rv == CRAFT_EVERSION ||
           rv == CRAFT_ETOOBIG || rv == CRAFT_ESTATE || rv == CRAFT_ENOMEM;
}

/* One step: run, carry out, check. Returns the step's code. */
static int step(struct fz_host *h, const craft_event *ev, struct stepctx *cx)
{
    state_of(h->e, &cx->before);
    cx->role = cx->before.role;
    cx->term = cx->before.term;
    int rv = craft_engine_step(h->e, ev, h->a);
    if (rv != CRAFT_OK) {
        struct state s;
        FUZZ_CHECK(known_error(rv), "step returned %d", rv);
        FUZZ_CHECK(craft_actions_count(h->a) == 0, "a failed step left %zu "
                   "actions", craft_actions_count(h->a));
        state_of(h->e, &s);
        const struct state *b = &cx->before;
        FUZZ_CHECK(s.term == b->term && s.vote == b->vote &&
                       s.leader == b->leader && s.commit == b->commit &&
                       s.last == b->last && s.last_term == b->last_term &&
                       s.applied == b->applied &&
                       s.persisted == b->persisted &&
                       s.snap_index == b->snap_index &&
                       s.snap_term == b->snap_term && s.role == b->role &&
                       s.members == b->members,
                   "a failed step (%d) changed the engine: term %llu->%llu "
                   "role %d->%d commit %llu->%llu last %llu->%llu",
                   rv, (unsigned long long)b->term,
                   (unsigned long long)s.term, b->role, s.role,
                   (unsigned long long)b->commit,
                   (unsigned long long)s.commit, (unsigned long long)b->last,
                   (unsigned long long)s.last);
        return rv;
    }
    run_actions(h, cx);
    check_after(h, cx);
#ifdef FUZZ_DEBUG
    fprintf(stderr, "  ev %u -> %zu actions; role %d term %llu last %llu "
            "commit %llu\n", ev->type, craft_actions_count(h->a),
            craft_engine_role(h->e),
            (unsigned long long)craft_engine_term(h->e),
            (unsigned long long)craft_engine_last_index(h->e),
            (unsigned long long)craft_engine_commit_index(h->e));
    if (ev->type == CRAFT_EVENT_MESSAGE) {
        fprintf(stderr, "    msg type %u\n", ((const uint8_t *)ev->data)[5]);
    }
#endif
    return rv;
}

static int step_simple(struct fz_host *h, const craft_event *ev)
{
    struct stepctx cx;
    memset(&cx, 0, sizeof(cx));
    return step(h, ev, &cx);
}

/* ---- building inputs ---------------------------------------------------- */

/* A membership from two bytes: bit k of `mask` makes server k+1 a member,
 * bit k of `learners` a learner; bit 7 of `learners` gives each member
 * an address ("n<id>") so both format versions are exercised. */
static size_t make_conf(uint8_t mask, uint8_t learners, uint8_t *out)
{
    static struct craft_conf c; /* large: addresses */
    c.n = 0;
    for (unsigned k = 0; k < MAX_ID; k++) {
        if (mask & (1u << k)) {
            struct craft_member *m = &c.m[c.n];
            m->id = k + 1;
            m->role = (learners & (1u << k)) ? CRAFT_MEMBER_LEARNER
                                             : CRAFT_MEMBER_VOTER;
            char addr[8];
            snprintf(addr, sizeof(addr), "n%u", k + 1);
            craft_member_set_addr(m, addr,
                                  (learners & 0x80u) ? strlen(addr) : 0);
            c.n++;
        }
    }
    return craft_conf_encode(&c, out);
}

static uint64_t pick_term(struct fuzz_in *in, uint64_t cur)
{
    switch (fuzz_u8(in) % 7) {
    case 0:
    case 1:
        return cur;
    case 2:
        return cur + 1;
    case 3:
        return cur > 0 ? cur - 1 : 0;
    case 4:
        return cur + 2 + fuzz_u8(in) % 4;
    case 5:
        return fuzz_u8(in) % 8;
    default:
        return fuzz_u64(in);
    }
}

static uint64_t pick_index(struct fuzz_in *in, const struct fz_host *h)
{
    uint64_t last = h_last(h);
    uint64_t commit = craft_engine_commit_index(h->e);
    switch (fuzz_u8(in) % 8) {
    case 0:
    case 1:
        return last;
    case 2: {
        uint64_t d = fuzz_u8(in) % 8;
        return last > d ? last - d : 0;
    }
    case 3:
        return last + 1 + fuzz_u8(in) % 3;
    case 4:
        return commit;
    case 5:
        return commit + fuzz_u8(in) % 4;
    case 6:
        return fuzz_u8(in);
    default:
        return fuzz_u64(in);
    }
}

static uint64_t pick_peer(struct fuzz_in *in)
{
    uint8_t b = fuzz_u8(in);
    if (b == 0xff) {
        return fuzz_u64(in); /* anyone, including ourselves or 0 */
    }
    return 2 + b % (MAX_ID - 1);
}

/* Entries for an APPEND: terms non-decreasing from after, at most term
 * (mostly), payloads from the input. */
static size_t make_entries(struct fuzz_in *in, struct craft_entry *ents,
                           size_t max, uint64_t after, uint64_t term,
                           uint8_t (*confs)[CRAFT_CONF_MAX_BYTES])
{
    size_t n = fuzz_u8(in) % (max + 1);
    uint64_t t = after > 0 ? after : 1;
    for (size_t k = 0; k < n; k++) {
        uint8_t sel = fuzz_u8(in);
        if ((sel & 3u) == 0 && t < term) {
            t++;
        }
        if ((sel & 0xf0u) == 0xf0u) {
            t = term + 1; /* a lie the engine must refuse */
        }
        ents[k].term = t;
        ents[k].ref = NULL;
        switch ((sel >> 2) & 3u) {
        case 0:
            ents[k].type = CRAFT_ENTRY_NOOP;
            ents[k].data = NULL;
            ents[k].len = 0;
            break;
        case 1: {
            uint8_t mask = fuzz_u8(in);
            uint8_t learners = fuzz_u8(in);
            ents[k].type = CRAFT_ENTRY_CONFIG;
            ents[k].len = (uint32_t)make_conf(mask, learners, confs[k]);
            ents[k].data = confs[k];
            break;
        }
        default: {
            size_t len;
            ents[k].type = CRAFT_ENTRY_NORMAL;
            ents[k].data = fuzz_bytes(in, fuzz_u8(in) % 24, &len);
            ents[k].len = (uint32_t)len;
            break;
        }
        }
    }
    return n;
}

static int send_msg(struct fz_host *h, const struct craft_msg *m,
                    struct stepctx *cx)
{
    size_t size = craft_msg_encoded_size(m);
    if (size == 0) {
        return CRAFT_EINVAL;
    }
    uint8_t *buf = malloc(size);
    FUZZ_CHECK(buf != NULL, "out of memory");
    FUZZ_CHECK(craft_msg_encode(m, buf) == size, "encode");
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = buf;
    ev.len = size;
    int rv = step(h, &ev, cx);
    free(buf);
    return rv;
}

/* A message built field by field. */
static void op_message(struct fz_host *h, struct fuzz_in *in)
{
    struct craft_msg m;
    struct craft_entry ents[4];
    uint8_t confs[4][CRAFT_CONF_MAX_BYTES];
    uint8_t sconf[CRAFT_CONF_MAX_BYTES];
    struct stepctx cx;
    memset(&m, 0, sizeof(m));
    memset(&cx, 0, sizeof(cx));
    uint64_t term = craft_engine_term(h->e);

    m.type = 1 + fuzz_u8(in) % CRAFT_MSG_TYPE_MAX;
    m.from = pick_peer(in);
    m.to = fuzz_u8(in) == 0xff ? fuzz_u64(in) : SELF;
    m.term = pick_term(in, term);
    m.flags = fuzz_u8(in) & CRAFT_MSG_F_ALL;
    switch (m.type) {
    case CRAFT_MSG_APPEND:
        m.index = pick_index(in, h);
        m.log_term = (fuzz_u8(in) & 3u) ? h_term(h, m.index)
                                        : pick_term(in, term);
        m.n_entries = make_entries(in, ents, 4, m.log_term, m.term, confs);
        m.entries = ents;
        m.commit = (fuzz_u8(in) & 1u) ? pick_index(in, h)
                                      : m.index + m.n_entries;
        break;
    case CRAFT_MSG_APPEND_RESP:
    case CRAFT_MSG_VOTE:
    case CRAFT_MSG_PREVOTE:
    case CRAFT_MSG_READ_INDEX_RESP:
        m.index = pick_index(in, h);
        m.log_term = (fuzz_u8(in) & 1u) ? h_term(h, m.index)
                                        : pick_term(in, term);
        m.hint_index = pick_index(in, h);
        m.hint_term = pick_term(in, term);
        m.ctx = fuzz_u8(in) % 8;
        break;
    case CRAFT_MSG_HEARTBEAT:
        m.commit = pick_index(in, h);
        m.ctx = fuzz_u8(in) % 8;
        break;
    case CRAFT_MSG_HEARTBEAT_RESP:
    case CRAFT_MSG_READ_INDEX:
        m.ctx = fuzz_u8(in) % 8;
        break;
    case CRAFT_MSG_SNAPSHOT: {
        m.index = pick_index(in, h);
        m.log_term = (fuzz_u8(in) & 1u) ? h_term(h, m.index)
                                        : pick_term(in, m.term);
        uint8_t o = fuzz_u8(in);
        m.offset = (o & 3u) == 0   ? fuzz_u8(in)
                   : (o & 3u) == 1 ? h->in_offset
                                   : 0;
        size_t len;
        m.data = fuzz_bytes(in, fuzz_u8(in) % 32, &len);
        m.len = len;
        uint8_t mask = fuzz_u8(in);
        uint8_t learners = fuzz_u8(in);
        m.conf_len = make_conf(mask, learners, sconf);
        m.conf = sconf;
        break;
    }
    case CRAFT_MSG_SNAPSHOT_RESP:
        m.index = pick_index(in, h);
        m.offset = fuzz_u8(in);
        break;
    default:
        break;
    }
    int rv = send_msg(h, &m, &cx);
    if (rv != CRAFT_OK) {
        return;
    }
    /* §5.3: a follower commits min(leaderCommit, index of the last new
     * entry): never an entry the append did not show to match. */
    uint64_t commit = craft_engine_commit_index(h->e);
    if (m.type == CRAFT_MSG_APPEND && commit > cx.before.commit) {
        FUZZ_CHECK(commit <= m.commit && commit <= m.index + m.n_entries,
                   "append (prev %llu, %zu entries, leaderCommit %llu) moved "
                   "commit %llu -> %llu",
                   (unsigned long long)m.index, m.n_entries,
                   (unsigned long long)m.commit,
                   (unsigned long long)cx.before.commit,
                   (unsigned long long)commit);
    }
    if (m.type == CRAFT_MSG_HEARTBEAT && commit > cx.before.commit) {
        FUZZ_CHECK(commit <= m.commit, "heartbeat moved commit past its own");
    }
}

/* Raw bytes as a message; bit 0 of the first byte fixes the frame. */
static void op_raw(struct fz_host *h, struct fuzz_in *in)
{
    uint8_t mode = fuzz_u8(in);
    size_t len;
    const uint8_t *p = fuzz_bytes(in, fuzz_u8(in), &len);
    uint8_t *buf = malloc(len ? len : 1);
    FUZZ_CHECK(buf != NULL, "out of memory");
    if (len > 0) {
        memcpy(buf, p, len);
    }
    if ((mode & 1u) && len >= 9) {
        craft_put_u32(buf, (uint32_t)len);
        buf[4] = CRAFT_WIRE_VERSION;
        craft_put_u32(buf + len - 4, craft_crc32c(0, buf, len - 4));
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = buf;
    ev.len = len;
    step_simple(h, &ev);
    free(buf);
}

/* The answer a peer would give to one of the messages we sent. */
static void op_reply(struct fz_host *h, struct fuzz_in *in)
{
    if (h->ring_n == 0) {
        return;
    }
    /* 0 is the newest message. Answered messages leave the ring unless
     * bit 2 of `how` says the answer is a duplicate to come again. */
    size_t k = h->ring_n - 1 - fuzz_u8(in) % h->ring_n;
    uint8_t how = fuzz_u8(in);
    int no = (how & 3u) == 0;
    struct craft_msg qm = h->ring[k];
    const struct craft_msg *q = &qm;
    if (!(how & 4u)) {
        memmove(h->ring + k, h->ring + k + 1,
                (h->ring_n - k - 1) * sizeof(h->ring[0]));
        h->ring_n--;
    }
    struct craft_msg m;
    struct stepctx cx;
    memset(&m, 0, sizeof(m));
    memset(&cx, 0, sizeof(cx));
    m.from = q->to;
    m.to = SELF;
    m.term = q->term;
    switch (q->type) {
    case CRAFT_MSG_VOTE:
        m.type = CRAFT_MSG_VOTE_RESP;
        m.flags = no ? CRAFT_MSG_F_REJECT : 0;
        break;
    case CRAFT_MSG_PREVOTE:
        m.type = CRAFT_MSG_PREVOTE_RESP;
        m.flags = no ? CRAFT_MSG_F_REJECT : 0;
        break;
    case CRAFT_MSG_APPEND:
        m.type = CRAFT_MSG_APPEND_RESP;
        if (no) {
            m.flags = CRAFT_MSG_F_REJECT;
            m.index = q->index;
            m.hint_index = q->index > 0 ? q->index - 1 : 0;
            m.hint_term = q->log_term;
        } else {
            m.index = q->index + q->n_entries;
        }
        break;
    case CRAFT_MSG_HEARTBEAT:
        m.type = CRAFT_MSG_HEARTBEAT_RESP;
        m.ctx = q->ctx;
        break;
    case CRAFT_MSG_SNAPSHOT:
        m.type = CRAFT_MSG_SNAPSHOT_RESP;
        m.index = q->index;
        m.offset = q->offset + q->len;
        m.flags = no ? CRAFT_MSG_F_REJECT : (q->flags & CRAFT_MSG_F_LAST);
        break;
    case CRAFT_MSG_READ_INDEX:
        m.type = CRAFT_MSG_READ_INDEX_RESP;
        m.ctx = q->ctx;
        m.index = no ? (uint64_t)-(int64_t)CRAFT_ENOTLEADER
                     : craft_engine_commit_index(h->e);
        m.flags = no ? CRAFT_MSG_F_REJECT : 0;
        break;
    case CRAFT_MSG_TIMEOUT_NOW:
        /* The target campaigns at once, bypassing stickiness. */
        m.type = CRAFT_MSG_VOTE;
        m.term = q->term + 1;
        m.flags = CRAFT_MSG_F_TRANSFER;
        m.index = h_last(h);
        m.log_term = h_term(h, m.index);
        break;
    default:
        return;
    }
    send_msg(h, &m, &cx);
}

static void op_propose(struct fz_host *h, struct fuzz_in *in)
{
    craft_buf bufs[4];
    size_t n = 1 + fuzz_u8(in) % 4;
    for (size_t k = 0; k < n; k++) {
        size_t len;
        bufs[k].base = fuzz_bytes(in, fuzz_u8(in) % 32, &len);
        bufs[k].len = len;
    }
    struct stepctx cx;
    memset(&cx, 0, sizeof(cx));
    cx.bufs = bufs;
    cx.nbufs = n;
    cx.propose_id = ++h->next_id;
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = bufs;
    ev.nbufs = n;
    ev.id = cx.propose_id;
    step(h, &ev, &cx);
}

static void op_persisted(struct fz_host *h, struct fuzz_in *in)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PERSISTED;
    uint8_t sel = fuzz_u8(in);
    if ((sel & 7u) != 0) {
        /* The host's truth: everything it wrote is durable. */
        uint64_t back = (sel & 7u) == 1 ? fuzz_u8(in) % 4 : 0;
        ev.index = h_last(h) > back ? h_last(h) - back : 0;
        ev.term = h_term(h, ev.index);
    } else {
        ev.index = pick_index(in, h);
        ev.term = pick_term(in, craft_engine_term(h->e));
    }
    step_simple(h, &ev);
}

static void op_snapshot_taken(struct fz_host *h, struct fuzz_in *in)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_TAKEN;
    if (fuzz_u8(in) & 7u) {
        ev.index = h->applied;
        ev.term = h_term(h, h->applied);
    } else {
        ev.index = pick_index(in, h);
        ev.term = pick_term(in, craft_engine_term(h->e));
    }
    uint64_t size = 1 + fuzz_u8(in) % 100;
    uint64_t before = craft_engine_snapshot_index(h->e);
    if (step_simple(h, &ev) == CRAFT_OK &&
        craft_engine_snapshot_index(h->e) != before) {
        FUZZ_CHECK(craft_engine_snapshot_index(h->e) == ev.index &&
                       craft_engine_snapshot_term(h->e) == ev.term &&
                       ev.index <= h->applied &&
                       h_term(h, ev.index) == ev.term,
                   "took a snapshot that is not the one reported");
        h->snap_have_index = ev.index;
        h->snap_have_term = ev.term;
        h->snap_have_size = size;
        h->take_wanted = 0;
    }
}

static uint8_t snap_byte(uint64_t index, uint64_t off)
{
    return (uint8_t)(index * 31u + off * 7u);
}

static void op_chunk(struct fz_host *h, struct fuzz_in *in)
{
    uint8_t chunk[256];
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_CHUNK;
    uint8_t sel = fuzz_u8(in);
    if (h->n_reads > 0 && (sel & 7u) != 0) {
        struct sread r = h->reads[0];
        memmove(h->reads, h->reads + 1, (h->n_reads - 1) * sizeof(r));
        h->n_reads--;
        ev.peer = r.peer;
        ev.index = r.index;
        ev.offset = r.offset;
        ev.term = h->snap_have_term;
        if (r.index != h->snap_have_index || r.offset > h->snap_have_size ||
            (sel & 7u) == 1) {
            ev.flags = CRAFT_EVENT_F_FAILED;
        } else {
            uint64_t left = h->snap_have_size - r.offset;
            uint64_t n = r.count < left ? r.count : left;
            if (n > sizeof(chunk)) {
                n = sizeof(chunk);
            }
            for (uint64_t k = 0; k < n; k++) {
                chunk[k] = snap_byte(r.index, r.offset + k);
            }
            ev.data = chunk;
            ev.len = (size_t)n;
            if (r.offset + n == h->snap_have_size) {
                ev.flags = CRAFT_EVENT_F_LAST;
            }
        }
    } else {
        ev.peer = pick_peer(in);
        ev.index = pick_index(in, h);
        ev.offset = fuzz_u8(in);
        ev.term = pick_term(in, craft_engine_term(h->e));
        ev.flags = fuzz_u8(in) & 3u;
        size_t len;
        ev.data = fuzz_bytes(in, fuzz_u8(in) % 16, &len);
        ev.len = len;
    }
    step_simple(h, &ev);
}

static void op_request(struct fz_host *h, struct fuzz_in *in, uint32_t type)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = type;
    ev.id = ++h->next_id;
    uint8_t b = fuzz_u8(in);
    ev.peer = 1 + b % MAX_ID;
    if (b & 0x80u) {
        /* An address, possibly too long (CRAFT_ETOOBIG). */
        size_t len;
        ev.flags = CRAFT_EVENT_F_ADDR;
        ev.data = fuzz_bytes(in, fuzz_u8(in) == 0xff ? 300 : 12, &len);
        ev.len = len;
    }
    step_simple(h, &ev);
}

/* ---- starting the engine ------------------------------------------------ */

static int start(struct fz_host *h, struct fuzz_in *in)
{
    craft_engine_options *o = &h->opts;
    craft_engine_options_init(o);
    o->id = SELF;
    o->seed = 1 + fuzz_u8(in);
    uint8_t flags = fuzz_u8(in);
    o->pre_vote = flags & 1u;
    o->check_quorum = (flags >> 1) & 1u;
    o->lease_reads = o->check_quorum && ((flags >> 2) & 1u);
    o->election_ticks = 2 + fuzz_u8(in) % 10;
    o->heartbeat_ticks = 1 + fuzz_u8(in) % (o->election_ticks - 1);
    o->max_inflight = 1 + fuzz_u8(in) % 8;
    o->max_msg_bytes = 1 + fuzz_u8(in) % 64;
    o->snapshot_entries = fuzz_u8(in) % 16;
    o->snapshot_bytes = 0;
    o->snapshot_trailing = fuzz_u8(in) % 8;
    o->snapshot_chunk_bytes = 1 + fuzz_u8(in) % 64;
    o->catchup_rounds = 1 + fuzz_u8(in) % 4;
    FUZZ_CHECK(craft_engine_create(o, &h->e) == CRAFT_OK, "engine create");
    FUZZ_CHECK(craft_actions_create(NULL, &h->a) == CRAFT_OK,
               "actions create");

    uint8_t how = fuzz_u8(in) % 4;
    if (how == 0) {
        return 0; /* an empty server, waiting for a leader */
    }
    if (how == 1) {
        /* A new cluster: voters 1..n. */
        uint64_t ids[MAX_ID];
        size_t n = 1 + fuzz_u8(in) % 5;
        for (size_t k = 0; k < n; k++) {
            ids[k] = k + 1;
        }
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_BOOTSTRAP;
        ev.ids = ids;
        ev.nids = n;
        FUZZ_CHECK(step_simple(h, &ev) == CRAFT_OK, "bootstrap");
        return 0;
    }
    /* A restart from a persisted state, which the engine must accept or
     * refuse without changing. */
    uint64_t term = fuzz_u8(in) % 8;
    uint64_t vote = fuzz_u8(in) % 4;
    if (craft_engine_load_hard_state(h->e, term, vote) == CRAFT_OK) {
        h->hs_term = term;
        h->hs_vote = vote;
    }
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    if (how == 3) {
        uint64_t index = 1 + fuzz_u8(in) % 8;
        uint64_t sterm = 1 + fuzz_u8(in) % 8;
        uint8_t mask = fuzz_u8(in);
        size_t clen = make_conf(mask | 1u, fuzz_u8(in) & 0xfeu, conf);
        if (craft_engine_load_snapshot(h->e, index, sterm, conf, clen) ==
            CRAFT_OK) {
            h->snap_index = h->applied = index;
            h->snap_term = sterm;
            memcpy(h->snap_conf, conf, clen);
            h->snap_conf_len = clen;
            h->snap_have_index = index;
            h->snap_have_term = sterm;
            h->snap_have_size = 1 + fuzz_u8(in) % 64;
        }
    }
    size_t n = fuzz_u8(in) % 12;
    uint64_t t = h->snap_term > 0 ? h->snap_term : 1;
    for (size_t k = 0; k < n; k++) {
        uint8_t sel = fuzz_u8(in);
        t += sel & 1u;
        uint32_t type = (sel & 6u) == 2 ? CRAFT_ENTRY_CONFIG
                        : (sel & 6u) == 4 ? CRAFT_ENTRY_NOOP
                                          : CRAFT_ENTRY_NORMAL;
        const void *data = NULL;
        size_t len = 0;
        if (type == CRAFT_ENTRY_CONFIG) {
            uint8_t mask = fuzz_u8(in);
            len = make_conf(mask, fuzz_u8(in), conf);
            data = conf;
        } else if (type == CRAFT_ENTRY_NORMAL) {
            data = fuzz_bytes(in, fuzz_u8(in) % 16, &len);
        }
        uint64_t index = h_last(h) + 1;
        if (craft_engine_load_entry(h->e, index, t, type, data, len) !=
            CRAFT_OK) {
            break;
        }
        h_push(h, t, type, data, len);
    }
    /* Loading may not invent state. */
    FUZZ_CHECK(craft_engine_last_index(h->e) == h_last(h) &&
                   craft_engine_commit_index(h->e) == h->snap_index,
               "the engine did not load what it accepted");
    return 0;
}

static void finish(struct fz_host *h)
{
    craft_actions_free(h->a);
    craft_engine_free(h->e);
    for (size_t k = 0; k < h->n; k++) {
        free(h->log[k].conf);
    }
    free(h->log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    struct fz_host *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return 0;
    }
    start(h, &in);
    while (fuzz_more(&in)) {
        uint8_t op = fuzz_u8(&in);
        switch (op % 16) {
        case 0:
        case 1:
        case 2: {
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_TICK;
            unsigned n = 1 + (op >> 4);
            for (unsigned k = 0; k < n; k++) {
                step_simple(h, &ev);
            }
            break;
        }
        case 3:
        case 4:
        case 5:
            op_reply(h, &in);
            break;
        case 6:
        case 7:
            op_message(h, &in);
            break;
        case 8:
            op_raw(h, &in);
            break;
        case 9:
            op_propose(h, &in);
            break;
        case 10:
            op_persisted(h, &in);
            break;
        case 11: {
            struct stepctx cx;
            memset(&cx, 0, sizeof(cx));
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_READ;
            ev.id = cx.read_id = ++h->next_id;
            step(h, &ev, &cx);
            break;
        }
        case 12: {
            static const uint32_t kinds[] = {
                CRAFT_EVENT_TRANSFER, CRAFT_EVENT_ADD_PEER,
                CRAFT_EVENT_ADD_LEARNER, CRAFT_EVENT_PROMOTE,
                CRAFT_EVENT_REMOVE};
            op_request(h, &in, kinds[fuzz_u8(&in) % 5]);
            break;
        }
        case 13:
            op_snapshot_taken(h, &in);
            break;
        case 14:
            op_chunk(h, &in);
            break;
        default:
            /* A PERSISTED of everything, the way a host with a fast disk
             * reports: keeps a leader committing. */
            {
                craft_event ev = CRAFT_EVENT_INIT;
                ev.type = CRAFT_EVENT_PERSISTED;
                ev.index = h_last(h);
                ev.term = h_term(h, ev.index);
                step_simple(h, &ev);
            }
            break;
        }
    }
#ifdef FUZZ_DEBUG
    fprintf(stderr, "end: role %d term %llu commit %llu last %llu applied "
            "%llu snapshot %llu members %zu\n",
            craft_engine_role(h->e), (unsigned long long)craft_engine_term(h->e),
            (unsigned long long)craft_engine_commit_index(h->e),
            (unsigned long long)craft_engine_last_index(h->e),
            (unsigned long long)craft_engine_applied_index(h->e),
            (unsigned long long)craft_engine_snapshot_index(h->e),
            craft_engine_member_count(h->e));
#endif
    finish(h);
    free(h);
    return 0;
}
