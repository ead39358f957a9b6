/*
 * tests/unit/engine_util.h: helpers shared by the engine tests.
 *
 *  - Building engines: options with a given id, an engine restarted from a
 *    persisted state (hard state, then a log whose entry 1 is the CONFIG
 *    entry of the given voters), hand-built messages injected as MESSAGE
 *    events.
 *  - eu_render(): an action list as one canonical string, every field of
 *    every action, SEND messages decoded with craft_msg_decode, so a test
 *    asserts the exact list (types, order, fields) with one comparison and
 *    a failure prints both lists. The grammar, actions joined by " | ":
 *
 *      HS t=T v=V                       PERSIST_HARD_STATE
 *      APPEND i=I [ENTRIES]             ENTRIES: "<term><N|O|C>" joined by
 *      APPLY i=I [ENTRIES]                ","; a run of k >= 3 equal ones
 *      TRUNC i=I                          is written "<term><type>*k"
 *      ROLE F|P|C|L t=T l=LEADER
 *      RESULT id=ID OK|ENOTLEADER|<code> i=I t=T n=N l=LEADER
 *      SEND >PEER APPEND t=T prev=I/T c=C [ENTRIES]
 *      SEND >PEER APPEND_RESP t=T i=I [REJECT hint=I/T]
 *      SEND >PEER VOTE|PREVOTE t=T last=I/T [TRANSFER]
 *      SEND >PEER VOTE_RESP|PREVOTE_RESP t=T [REJECT]
 *      SEND >PEER HEARTBEAT t=T c=C [ctx=X]
 *      SEND >PEER HEARTBEAT_RESP t=T [ctx=X]
 *
 *    Any field the accessors report that the action type does not carry
 *    (the header: "0 when the field does not apply") is appended as
 *    "!name=value", and a message whose sender is not the engine as
 *    "!from=X", so such a leak fails the comparison too. (SEND's index and
 *    count are left out of that check: see test_engine_regress.c.)
 *  - Looking into action lists: EU_ASSERT_TYPES, eu_describe, eu_find,
 *    eu_count_sends, ...
 *  - Clusters: the reference host (src/host/host.h) with the test's
 *    failure hook (eu_setup, eu_init), and with every step rendered
 *    (eu_hosts, eu_out) for tests that assert exact action lists.
 *
 * Header-only: every test is its own program.
 */
#ifndef CRAFT_TEST_ENGINE_UTIL_H
#define CRAFT_TEST_ENGINE_UTIL_H

#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "craft.h"
#include "codec/conf.h"
#include "codec/message.h"
#include "host/host.h"
#include "util/alloc.h"

/* ---- engines -------------------------------------------------------- */

static inline craft_engine_options eu_opts(uint64_t id)
{
    craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
    o.id = id;
    return o;
}

static inline craft_engine *eu_create(const craft_engine_options *o)
{
    craft_engine *e = NULL;
    ck_assert_int_eq(craft_engine_create(o, &e), CRAFT_OK);
    ck_assert_ptr_nonnull(e);
    return e;
}

static inline craft_actions *eu_actions(void)
{
    craft_actions *a = NULL;
    ck_assert_int_eq(craft_actions_create(NULL, &a), CRAFT_OK);
    return a;
}

/* Encodes a membership of voters ids[0..n) into buf (CRAFT_CONF_MAX_BYTES
 * bytes); returns its length. */
static inline size_t eu_conf(const uint64_t *ids, size_t n, uint8_t *buf)
{
    struct craft_conf c;
    memset(&c, 0, sizeof(c));
    for (size_t k = 0; k < n; k++) {
        c.m[k].id = ids[k];
        c.m[k].role = CRAFT_MEMBER_VOTER;
    }
    c.n = (uint32_t)n;
    size_t len = craft_conf_encode(&c, buf);
    ck_assert_uint_gt(len, 0);
    return len;
}

/* The payload the helpers give the NORMAL entry at (index, term). */
#define EU_PAYLOAD_LEN 16
static inline void eu_payload(uint64_t index, uint64_t term, uint8_t *p)
{
    for (int b = 0; b < 8; b++) {
        p[b] = (uint8_t)(index >> (8 * b));
        p[8 + b] = (uint8_t)(term >> (8 * b));
    }
}

/*
 * Loads a persisted state: hard state (term, vote), then entries 1..n of
 * terms terms[0..n): entry 1 is the CONFIG entry of voters ids[0..nids),
 * the others NORMAL with eu_payload(index, term).
 */
static inline void eu_load(craft_engine *e, uint64_t term, uint64_t vote,
                           const uint64_t *ids, size_t nids,
                           const uint64_t *terms, size_t n)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = eu_conf(ids, nids, conf);
    ck_assert_int_eq(craft_engine_load_hard_state(e, term, vote), CRAFT_OK);
    for (size_t k = 0; k < n; k++) {
        uint64_t idx = k + 1;
        int rv;
        if (idx == 1) {
            rv = craft_engine_load_entry(e, 1, terms[0], CRAFT_ENTRY_CONFIG,
                                         conf, clen);
        } else {
            uint8_t p[EU_PAYLOAD_LEN];
            eu_payload(idx, terms[k], p);
            rv = craft_engine_load_entry(e, idx, terms[k], CRAFT_ENTRY_NORMAL,
                                         p, sizeof(p));
        }
        ck_assert_int_eq(rv, CRAFT_OK);
    }
}

/* An engine with id, options o (NULL: defaults), restarted from the state
 * eu_load describes. */
static inline craft_engine *eu_engine(const craft_engine_options *o,
                                      uint64_t id, uint64_t term,
                                      uint64_t vote, const uint64_t *ids,
                                      size_t nids, const uint64_t *terms,
                                      size_t n)
{
    craft_engine_options oo = o != NULL ? *o : eu_opts(id);
    oo.id = id;
    craft_engine *e = eu_create(&oo);
    eu_load(e, term, vote, ids, nids, terms, n);
    return e;
}

/* ---- events --------------------------------------------------------- */

static inline int eu_tick(craft_engine *e, craft_actions *a)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TICK;
    return craft_engine_step(e, &ev, a);
}

static inline int eu_persisted(craft_engine *e, craft_actions *a,
                               uint64_t index, uint64_t term)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PERSISTED;
    ev.index = index;
    ev.term = term;
    return craft_engine_step(e, &ev, a);
}

static inline int eu_propose(craft_engine *e, craft_actions *a, uint64_t id,
                             const void *data, size_t len)
{
    craft_buf b = {data, len};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.id = id;
    ev.bufs = &b;
    ev.nbufs = 1;
    return craft_engine_step(e, &ev, a);
}

static inline int eu_bootstrap(craft_engine *e, craft_actions *a,
                               const uint64_t *ids, size_t n)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_BOOTSTRAP;
    ev.ids = ids;
    ev.nids = n;
    return craft_engine_step(e, &ev, a);
}

/* A message with the common header set and everything else 0. */
static inline struct craft_msg eu_msg(uint32_t type, uint64_t from,
                                      uint64_t to, uint64_t term)
{
    struct craft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

/* Encodes m (which must be encodable) into a new buffer; *len its size. */
static inline uint8_t *eu_encode(const struct craft_msg *m, size_t *len)
{
    size_t n = craft_msg_encoded_size(m);
    ck_assert_msg(n > 0, "test built a message the codec refuses");
    uint8_t *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(craft_msg_encode(m, b), n);
    *len = n;
    return b;
}

static inline int eu_step_bytes(craft_engine *e, craft_actions *a,
                                const void *bytes, size_t len)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = bytes;
    ev.len = len;
    return craft_engine_step(e, &ev, a);
}

/* Injects a hand-built message through the public MESSAGE event. */
static inline int eu_inject(craft_engine *e, craft_actions *a,
                            const struct craft_msg *m)
{
    size_t len;
    uint8_t *b = eu_encode(m, &len);
    int rv = eu_step_bytes(e, a, b, len);
    free(b);
    return rv;
}

/* ---- rendering ------------------------------------------------------ */

struct eu_sb {
    char *p;
    size_t len, cap;
};

static inline void eu_sb_printf(struct eu_sb *s, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        ck_assert_int_ge(n, 0);
        if ((size_t)n < s->cap - s->len) {
            s->len += (size_t)n;
            return;
        }
        size_t ncap = s->cap * 2 + (size_t)n + 64;
        char *np = realloc(s->p, ncap);
        ck_assert_ptr_nonnull(np);
        s->p = np;
        s->cap = ncap;
    }
}

static inline void eu_sb_init(struct eu_sb *s)
{
    s->cap = 256;
    s->len = 0;
    s->p = malloc(s->cap);
    ck_assert_ptr_nonnull(s->p);
    s->p[0] = '\0';
}

static inline char eu_type_char(uint32_t t)
{
    switch (t) {
    case CRAFT_ENTRY_NORMAL:
        return 'N';
    case CRAFT_ENTRY_NOOP:
        return 'O';
    case CRAFT_ENTRY_CONFIG:
        return 'C';
    default:
        return '?';
    }
}

/* Entries as "[1C,2O,2N*5]": term and type of each. */
struct eu_ent {
    uint64_t term;
    uint32_t type;
};

static inline void eu_sb_entries(struct eu_sb *s, const struct eu_ent *v,
                                 size_t n)
{
    eu_sb_printf(s, "[");
    size_t k = 0;
    while (k < n) {
        size_t run = 1;
        while (k + run < n && v[k + run].term == v[k].term &&
               v[k + run].type == v[k].type) {
            run++;
        }
        const char *sep = k == 0 ? "" : ",";
        if (run >= 3) {
            eu_sb_printf(s, "%s%llu%c*%zu", sep, (unsigned long long)v[k].term,
                         eu_type_char(v[k].type), run);
            k += run;
        } else {
            eu_sb_printf(s, "%s%llu%c", sep, (unsigned long long)v[k].term,
                         eu_type_char(v[k].type));
            k++;
        }
    }
    eu_sb_printf(s, "]");
}

static inline const char *eu_role_name(int r)
{
    switch (r) {
    case CRAFT_ROLE_FOLLOWER:
        return "F";
    case CRAFT_ROLE_PRE_CANDIDATE:
        return "P";
    case CRAFT_ROLE_CANDIDATE:
        return "C";
    case CRAFT_ROLE_LEADER:
        return "L";
    default:
        return "?";
    }
}

static inline void eu_sb_status(struct eu_sb *s, int st)
{
    switch (st) {
    case CRAFT_OK:
        eu_sb_printf(s, "OK");
        break;
    case CRAFT_ENOTLEADER:
        eu_sb_printf(s, "ENOTLEADER");
        break;
    case CRAFT_EBUSY:
        eu_sb_printf(s, "EBUSY");
        break;
    default:
        eu_sb_printf(s, "%d", st);
        break;
    }
}

static inline const char *eu_msg_name(uint32_t t)
{
    static const char *names[] = {
        "?",         "APPEND",          "APPEND_RESP",   "VOTE",
        "VOTE_RESP", "PREVOTE",         "PREVOTE_RESP",  "HEARTBEAT",
        "HEARTBEAT_RESP", "SNAPSHOT",   "SNAPSHOT_RESP", "TIMEOUT_NOW",
        "READ_INDEX", "READ_INDEX_RESP"};
    return t <= CRAFT_MSG_TYPE_MAX ? names[t] : "?";
}

static inline void eu_sb_msg(struct eu_sb *s, const struct craft_msg *m)
{
    unsigned long long t = m->term;
    eu_sb_printf(s, "%s t=%llu", eu_msg_name(m->type), t);
    switch (m->type) {
    case CRAFT_MSG_APPEND: {
        eu_sb_printf(s, " prev=%llu/%llu c=%llu ",
                     (unsigned long long)m->index,
                     (unsigned long long)m->log_term,
                     (unsigned long long)m->commit);
        struct eu_ent *v = malloc((m->n_entries + 1) * sizeof(*v));
        ck_assert_ptr_nonnull(v);
        for (size_t k = 0; k < m->n_entries; k++) {
            v[k].term = m->entries[k].term;
            v[k].type = m->entries[k].type;
        }
        eu_sb_entries(s, v, m->n_entries);
        free(v);
        break;
    }
    case CRAFT_MSG_APPEND_RESP:
        eu_sb_printf(s, " i=%llu", (unsigned long long)m->index);
        if (m->flags & CRAFT_MSG_F_REJECT) {
            eu_sb_printf(s, " REJECT hint=%llu/%llu",
                         (unsigned long long)m->hint_index,
                         (unsigned long long)m->hint_term);
        } else if (m->hint_index != 0 || m->hint_term != 0) {
            eu_sb_printf(s, " hint=%llu/%llu",
                         (unsigned long long)m->hint_index,
                         (unsigned long long)m->hint_term);
        }
        break;
    case CRAFT_MSG_VOTE:
    case CRAFT_MSG_PREVOTE:
        eu_sb_printf(s, " last=%llu/%llu", (unsigned long long)m->index,
                     (unsigned long long)m->log_term);
        if (m->flags & CRAFT_MSG_F_TRANSFER) {
            eu_sb_printf(s, " TRANSFER");
        }
        break;
    case CRAFT_MSG_VOTE_RESP:
    case CRAFT_MSG_PREVOTE_RESP:
        if (m->flags & CRAFT_MSG_F_REJECT) {
            eu_sb_printf(s, " REJECT");
        }
        break;
    case CRAFT_MSG_HEARTBEAT:
        eu_sb_printf(s, " c=%llu", (unsigned long long)m->commit);
        if (m->ctx != 0) {
            eu_sb_printf(s, " ctx=%llu", (unsigned long long)m->ctx);
        }
        break;
    case CRAFT_MSG_HEARTBEAT_RESP:
        if (m->ctx != 0) {
            eu_sb_printf(s, " ctx=%llu", (unsigned long long)m->ctx);
        }
        break;
    default:
        eu_sb_printf(s, " flags=%u i=%llu lt=%llu c=%llu hint=%llu/%llu "
                        "ctx=%llu off=%llu n=%zu len=%zu conf=%zu",
                     m->flags, (unsigned long long)m->index,
                     (unsigned long long)m->log_term,
                     (unsigned long long)m->commit,
                     (unsigned long long)m->hint_index,
                     (unsigned long long)m->hint_term,
                     (unsigned long long)m->ctx,
                     (unsigned long long)m->offset, m->n_entries, m->len,
                     m->conf_len);
        break;
    }
}

/* Fields of action i: which ones the type carries, the rest must be 0. */
enum {
    EU_F_TERM = 1 << 0,
    EU_F_VOTE = 1 << 1,
    EU_F_INDEX = 1 << 2,
    EU_F_COUNT = 1 << 3,
    EU_F_PEER = 1 << 4,
    EU_F_LEADER = 1 << 5,
    EU_F_ID = 1 << 6,
    EU_F_ROLE = 1 << 7,
    EU_F_STATUS = 1 << 8
};

static inline void eu_sb_leaks(struct eu_sb *s, const craft_actions *a,
                               size_t i, unsigned carried)
{
#define EU_LEAK(flag, name, expr)                                             \
    do {                                                                      \
        unsigned long long v_ = (unsigned long long)(expr);                   \
        if (!(carried & (flag)) && v_ != 0) {                                 \
            eu_sb_printf(s, " !%s=%llu", (name), v_);                         \
        }                                                                     \
    } while (0)
    EU_LEAK(EU_F_TERM, "term", craft_action_term(a, i));
    EU_LEAK(EU_F_VOTE, "vote", craft_action_vote(a, i));
    EU_LEAK(EU_F_INDEX, "index", craft_action_index(a, i));
    EU_LEAK(EU_F_COUNT, "count", craft_action_count(a, i));
    EU_LEAK(EU_F_PEER, "peer", craft_action_peer(a, i));
    EU_LEAK(EU_F_LEADER, "leader", craft_action_leader(a, i));
    EU_LEAK(EU_F_ID, "id", craft_action_id(a, i));
    EU_LEAK(EU_F_ROLE, "role", (unsigned)craft_action_role(a, i));
    EU_LEAK(EU_F_STATUS, "status", (unsigned)craft_action_status(a, i));
#undef EU_LEAK
}

static inline void eu_sb_action_entries(struct eu_sb *s, const craft_actions *a,
                                        size_t i)
{
    size_t n = craft_action_count(a, i);
    struct eu_ent *v = malloc((n + 1) * sizeof(*v));
    ck_assert_ptr_nonnull(v);
    for (size_t k = 0; k < n; k++) {
        ck_assert_int_eq(craft_action_entry(a, i, k, &v[k].term, &v[k].type,
                                            NULL, NULL),
                         CRAFT_OK);
    }
    eu_sb_entries(s, v, n);
    free(v);
}

/*
 * Renders the actions a step of e left in a (see the grammar at the top).
 * Returns a malloc'd string: free it, or use EU_EXPECT which does.
 */
/* What eu_render's handlers share: the string, the engine (for the
 * sender check), the decoder's scratch, and which fields the action
 * just rendered carries. */
struct eu_rctx {
    struct eu_sb *s;
    const craft_engine *e;
    struct craft_alloc al;
    struct craft_entry_vec scratch;
    unsigned carried;
};

static inline int eu_r_hard_state(void *ctx, craft_actions *a, size_t i)
{
    struct eu_rctx *r = ctx;
    eu_sb_printf(r->s, "HS t=%llu v=%llu",
                 (unsigned long long)craft_action_term(a, i),
                 (unsigned long long)craft_action_vote(a, i));
    r->carried = EU_F_TERM | EU_F_VOTE;
    return HOST_STOP_AFTER;
}

static inline int eu_r_entries(void *ctx, craft_actions *a, size_t i)
{
    struct eu_rctx *r = ctx;
    eu_sb_printf(r->s, "%s i=%llu ",
                 craft_action_type(a, i) == CRAFT_ACTION_APPEND ? "APPEND"
                                                                : "APPLY",
                 (unsigned long long)craft_action_index(a, i));
    eu_sb_action_entries(r->s, a, i);
    r->carried = EU_F_INDEX | EU_F_COUNT;
    return HOST_STOP_AFTER;
}

static inline int eu_r_truncate(void *ctx, craft_actions *a, size_t i)
{
    struct eu_rctx *r = ctx;
    eu_sb_printf(r->s, "TRUNC i=%llu",
                 (unsigned long long)craft_action_index(a, i));
    r->carried = EU_F_INDEX;
    return HOST_STOP_AFTER;
}

static inline int eu_r_role(void *ctx, craft_actions *a, size_t i)
{
    struct eu_rctx *r = ctx;
    eu_sb_printf(r->s, "ROLE %s t=%llu l=%llu",
                 eu_role_name(craft_action_role(a, i)),
                 (unsigned long long)craft_action_term(a, i),
                 (unsigned long long)craft_action_leader(a, i));
    r->carried = EU_F_ROLE | EU_F_TERM | EU_F_LEADER;
    return HOST_STOP_AFTER;
}

static inline int eu_r_result(void *ctx, craft_actions *a, size_t i)
{
    struct eu_rctx *r = ctx;
    eu_sb_printf(r->s, "RESULT id=%llu ",
                 (unsigned long long)craft_action_id(a, i));
    eu_sb_status(r->s, craft_action_status(a, i));
    eu_sb_printf(r->s, " i=%llu t=%llu n=%zu l=%llu",
                 (unsigned long long)craft_action_index(a, i),
                 (unsigned long long)craft_action_term(a, i),
                 craft_action_count(a, i),
                 (unsigned long long)craft_action_leader(a, i));
    r->carried = EU_F_ID | EU_F_STATUS | EU_F_INDEX | EU_F_TERM | EU_F_COUNT |
                 EU_F_LEADER;
    return HOST_STOP_AFTER;
}

static inline int eu_r_send(void *ctx, craft_actions *a, size_t i)
{
    struct eu_rctx *r = ctx;
    const void *b;
    size_t len;
    struct craft_msg m;
    uint64_t peer = craft_action_peer(a, i);
    eu_sb_printf(r->s, "SEND >%llu ", (unsigned long long)peer);
    ck_assert_int_eq(craft_action_message(a, i, &b, &len), CRAFT_OK);
    int rv = craft_msg_decode(b, len, &m, &r->al, &r->scratch);
    if (rv != CRAFT_OK) {
        eu_sb_printf(r->s, "!undecodable(%d)", rv);
    } else {
        eu_sb_msg(r->s, &m);
        if (m.from != craft_engine_id(r->e)) {
            eu_sb_printf(r->s, " !from=%llu", (unsigned long long)m.from);
        }
        if (m.to != peer) {
            eu_sb_printf(r->s, " !to=%llu", (unsigned long long)m.to);
        }
    }
    /* index/count: see the comment at the top. */
    r->carried = EU_F_PEER | EU_F_INDEX | EU_F_COUNT;
    return HOST_STOP_AFTER;
}

static inline int eu_r_other(void *ctx, craft_actions *a, size_t i)
{
    struct eu_rctx *r = ctx;
    eu_sb_printf(r->s, "ACTION%d", craft_action_type(a, i));
    r->carried = ~0u;
    return HOST_STOP_AFTER;
}

/*
 * Renders the actions a step of e left in a (see the grammar at the top).
 * Returns a malloc'd string: free it, or use EU_EXPECT which does.
 */
static inline char *eu_render(const craft_engine *e, craft_actions *a)
{
    static const struct host_ops ops = {
        .hard_state = eu_r_hard_state,
        .append = eu_r_entries,
        .truncate = eu_r_truncate,
        .send = eu_r_send,
        .apply = eu_r_entries,
        .role_change = eu_r_role,
        .propose_result = eu_r_result,
        .read_result = eu_r_other,
        .transfer_result = eu_r_other,
        .take_snapshot = eu_r_other,
        .snapshot_read = eu_r_other,
        .snapshot_write = eu_r_other,
        .snapshot_install = eu_r_other,
        .unknown = eu_r_other,
    };
    struct eu_sb s;
    struct eu_rctx r;
    eu_sb_init(&s);
    r.s = &s;
    r.e = e;
    craft_alloc_default(&r.al);
    r.scratch.v = NULL;
    r.scratch.cap = 0;
    size_t n = craft_actions_count(a);
    for (size_t i = 0; i < n;) {
        if (i > 0) {
            eu_sb_printf(&s, " | ");
        }
        size_t at = i;
        host_run(&ops, &r, a, &i); /* one action: each handler stops */
        eu_sb_leaks(&s, a, at, r.carried);
    }
    craft_entry_vec_free(&r.al, &r.scratch);
    return s.p;
}

/* Asserts that the actions in a (from a step of e) render as want. */
#define EU_EXPECT(e, a, want)                                                 \
    do {                                                                      \
        char *got_ = eu_render((e), (a));                                     \
        const char *want_ = (want);                                           \
        if (strcmp(got_, want_) != 0) {                                       \
            fprintf(stderr, "%s:%d: actions differ\n  got:  %s\n  want: %s\n", \
                    __FILE__, __LINE__, got_, want_);                         \
        }                                                                     \
        ck_assert_str_eq(got_, want_);                                        \
        free(got_);                                                           \
    } while (0)

/* Asserts that the string s (malloc'd, freed here) equals want. */
#define EU_EXPECT_STR(s, want)                                                \
    do {                                                                      \
        char *got_ = (s);                                                     \
        const char *want_ = (want);                                           \
        if (strcmp(got_, want_) != 0) {                                       \
            fprintf(stderr, "%s:%d: actions differ\n  got:  %s\n  want: %s\n", \
                    __FILE__, __LINE__, got_, want_);                         \
        }                                                                     \
        ck_assert_str_eq(got_, want_);                                        \
        free(got_);                                                           \
    } while (0)

/* Steps and asserts the step succeeded and produced exactly want. */
#define EU_STEP_EXPECT(e, a, call, want)                                      \
    do {                                                                      \
        ck_assert_int_eq((call), CRAFT_OK);                                   \
        EU_EXPECT((e), (a), (want));                                          \
    } while (0)

/* ---- comparing two engines and two action lists --------------------- */

struct eu_state {
    uint64_t term, vote, leader, commit, last, last_term, applied, persisted;
    int role;
};

static inline struct eu_state eu_state_of(const craft_engine *e)
{
    struct eu_state s;
    s.term = craft_engine_term(e);
    s.vote = craft_engine_vote(e);
    s.leader = craft_engine_leader(e);
    s.commit = craft_engine_commit_index(e);
    s.last = craft_engine_last_index(e);
    s.last_term = craft_engine_last_term(e);
    s.applied = craft_engine_applied_index(e);
    s.persisted = craft_engine_persisted_index(e);
    s.role = craft_engine_role(e);
    return s;
}

#define EU_STATE_EQ(x, y)                                                     \
    do {                                                                      \
        struct eu_state x_ = (x), y_ = (y);                                   \
        ck_assert_uint_eq(x_.term, y_.term);                                  \
        ck_assert_uint_eq(x_.vote, y_.vote);                                  \
        ck_assert_uint_eq(x_.leader, y_.leader);                              \
        ck_assert_uint_eq(x_.commit, y_.commit);                              \
        ck_assert_uint_eq(x_.last, y_.last);                                  \
        ck_assert_uint_eq(x_.last_term, y_.last_term);                        \
        ck_assert_uint_eq(x_.applied, y_.applied);                            \
        ck_assert_uint_eq(x_.persisted, y_.persisted);                        \
        ck_assert_int_eq(x_.role, y_.role);                                   \
    } while (0)

/* Asserts that two action lists are identical byte for byte: every
 * accessor, every entry's term, type and payload, every message's wire
 * bytes. */
static inline void eu_actions_eq(craft_actions *x, craft_actions *y)
{
    size_t n = craft_actions_count(x);
    ck_assert_uint_eq(n, craft_actions_count(y));
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(craft_action_type(x, i), craft_action_type(y, i));
        ck_assert_uint_eq(craft_action_term(x, i), craft_action_term(y, i));
        ck_assert_uint_eq(craft_action_index(x, i), craft_action_index(y, i));
        ck_assert_uint_eq(craft_action_vote(x, i), craft_action_vote(y, i));
        ck_assert_uint_eq(craft_action_peer(x, i), craft_action_peer(y, i));
        ck_assert_uint_eq(craft_action_leader(x, i),
                          craft_action_leader(y, i));
        ck_assert_uint_eq(craft_action_id(x, i), craft_action_id(y, i));
        ck_assert_int_eq(craft_action_role(x, i), craft_action_role(y, i));
        ck_assert_int_eq(craft_action_status(x, i), craft_action_status(y, i));
        size_t cnt = craft_action_count(x, i);
        ck_assert_uint_eq(cnt, craft_action_count(y, i));
        int t = craft_action_type(x, i);
        if (t == CRAFT_ACTION_APPEND || t == CRAFT_ACTION_APPLY) {
            for (size_t k = 0; k < cnt; k++) {
                uint64_t t1, t2;
                uint32_t ty1, ty2;
                const void *d1, *d2;
                size_t l1, l2;
                ck_assert_int_eq(craft_action_entry(x, i, k, &t1, &ty1, &d1,
                                                    &l1),
                                 CRAFT_OK);
                ck_assert_int_eq(craft_action_entry(y, i, k, &t2, &ty2, &d2,
                                                    &l2),
                                 CRAFT_OK);
                ck_assert_uint_eq(t1, t2);
                ck_assert_uint_eq(ty1, ty2);
                ck_assert_uint_eq(l1, l2);
                if (l1 > 0) {
                    ck_assert_mem_eq(d1, d2, l1);
                }
            }
        }
        if (t == CRAFT_ACTION_SEND) {
            const void *b1, *b2;
            size_t l1, l2;
            ck_assert_int_eq(craft_action_message(x, i, &b1, &l1), CRAFT_OK);
            ck_assert_int_eq(craft_action_message(y, i, &b2, &l2), CRAFT_OK);
            ck_assert_uint_eq(l1, l2);
            ck_assert_mem_eq(b1, b2, l1);
        }
    }
}

/* ---- inspecting action lists -------------------------------------- */

/* Decodes wire bytes (asserts they decode). The entries are not kept:
 * n_entries stays, entries is NULL. */
static inline void eu_decode(const void *b, size_t len, struct craft_msg *m)
{
    struct craft_alloc al;
    struct craft_entry_vec scratch = {NULL, 0};
    craft_alloc_default(&al);
    ck_assert_int_eq(craft_msg_decode(b, len, m, &al, &scratch), CRAFT_OK);
    craft_entry_vec_free(&al, &scratch);
    m->entries = NULL;
}

/* "TYPE TYPE SEND(MSG->peer) ..." for the action list, into buf. */
static inline const char *eu_describe(craft_actions *a, char *buf, size_t cap)
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
            eu_decode(b, len, &m);
            off += (size_t)snprintf(buf + off, cap - off, "SEND(%s->%llu) ",
                                    host_msg_name(m.type),
                                    (unsigned long long)m.to);
        } else {
            off += (size_t)snprintf(buf + off, cap - off, "%s ",
                                    host_action_name(t));
        }
    }
    return buf;
}

/* Asserts the action list has exactly the given types, in order. */
static inline void eu_assert_types(craft_actions *a, const int *types,
                                   size_t n)
{
    char buf[4096];
    int ok = craft_actions_count(a) == n;
    for (size_t i = 0; ok && i < n; i++) {
        ok = craft_action_type(a, i) == types[i];
    }
    ck_assert_msg(ok, "actions were: %s", eu_describe(a, buf, sizeof(buf)));
}

#define EU_ASSERT_TYPES(a, ...)                                               \
    do {                                                                      \
        static const int t_[] = {__VA_ARGS__};                                \
        eu_assert_types((a), t_, sizeof(t_) / sizeof(t_[0]));                 \
    } while (0)

/* The decoded message of SEND action i. */
static inline void eu_action_msg(craft_actions *a, size_t i,
                                 struct craft_msg *m)
{
    const void *b;
    size_t len;
    ck_assert_int_eq(craft_action_type(a, i), CRAFT_ACTION_SEND);
    ck_assert_int_eq(craft_action_message(a, i, &b, &len), 0);
    eu_decode(b, len, m);
}

/* Index of the first action of type t at or after from, or -1. */
static inline long eu_find(craft_actions *a, size_t from, int t)
{
    for (size_t i = from; i < craft_actions_count(a); i++) {
        if (craft_action_type(a, i) == t) {
            return (long)i;
        }
    }
    return -1;
}

/* Number of SENDs of message type mt in a (to anyone when to is 0). */
static inline size_t eu_count_sends(craft_actions *a, uint32_t mt,
                                    uint64_t to)
{
    size_t k = 0;
    for (size_t i = 0; i < craft_actions_count(a); i++) {
        if (craft_action_type(a, i) != CRAFT_ACTION_SEND) {
            continue;
        }
        struct craft_msg m;
        eu_action_msg(a, i, &m);
        if (m.type == mt && (to == 0 || m.to == to)) {
            k++;
        }
    }
    return k;
}

static inline size_t eu_count_type(craft_actions *a, int t)
{
    size_t k = 0;
    for (size_t i = 0; i < craft_actions_count(a); i++) {
        k += craft_action_type(a, i) == t;
    }
    return k;
}

/* ---- clusters: the reference host (src/host/host.h) ----------------- */

/* The host's failures are the test's. */
static inline void eu_host_fail(void *user, const char *file, int line,
                                const char *msg)
{
    (void)user;
    ck_abort_msg("%s:%d: %s", file, line, msg);
}

/* host_setup with the test's failure hook. */
static inline void eu_setup(struct host *h, int n, uint64_t seed)
{
    host_setup(h, n, seed);
    h->fail = eu_host_fail;
}

/* eu_setup + host_start(h, n): n bootstrapped voters. */
static inline void eu_init(struct host *h, int n, uint64_t seed)
{
    eu_setup(h, n, seed);
    host_start(h, n);
}

/* What eu_hosts keeps of each node's steps: the rendering of its last
 * event step (out), of the PERSISTED step the host made after it
 * (out_persist), and of every step, one per line (trace). */
struct eu_steps {
    char *out;
    char *out_persist;
    struct eu_sb trace;
};

static inline struct eu_steps *eu_steps_of(struct host *h, uint64_t id)
{
    struct eu_steps *st = host_node(h, id)->user;
    ck_assert_ptr_nonnull(st);
    return st;
}

static inline void eu_on_step(void *user, struct host_node *nd,
                              const craft_event *ev, int kind)
{
    (void)user;
    (void)ev;
    struct eu_steps *st = nd->user;
    char *r = eu_render(nd->e, nd->acts);
    eu_sb_printf(&st->trace, "%s\n", r);
    if (kind == HOST_STEP_PERSISTED) {
        free(st->out_persist);
        st->out_persist = r;
    } else {
        free(st->out);
        st->out = r;
        free(st->out_persist);
        st->out_persist = NULL;
    }
}

/* Sets node id's durable state: hard state and the log eu_load makes
 * (entry 1 the CONFIG of all the cluster's nodes). */
static inline void eu_set_disk(struct host *h, uint64_t id, uint64_t term,
                               uint64_t vote, const uint64_t *terms, size_t n)
{
    struct host_node *nd = host_node(h, id);
    uint64_t ids[HOST_MAX_NODES];
    for (int k = 0; k < h->n; k++) {
        ids[k] = (uint64_t)k + 1;
    }
    host_disk_hard_state(nd, term, vote);
    nd->first = 1;
    nd->last = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t idx = k + 1;
        if (idx == 1) {
            uint8_t conf[CRAFT_CONF_MAX_BYTES];
            size_t clen = eu_conf(ids, (size_t)h->n, conf);
            host_disk_append(h, nd, 1, terms[0], CRAFT_ENTRY_CONFIG, conf,
                             clen);
        } else {
            uint8_t p[EU_PAYLOAD_LEN];
            eu_payload(idx, terms[k], p);
            host_disk_append(h, nd, idx, terms[k], CRAFT_ENTRY_NORMAL, p,
                             sizeof(p));
        }
    }
}

/*
 * n nodes with ids 1..n whose every step is rendered (eu_out). opts (may
 * be NULL: defaults) is used for every node, with its id set. Every node
 * starts with the durable state of a bootstrapped cluster (term 1, entry
 * 1 the CONFIG of all n) unless bootstrapped is 0 (then empty: call
 * eu_set_disk and host_node_start).
 */
static inline void eu_hosts(struct host *h, int n,
                            const craft_engine_options *opts, int bootstrapped)
{
    eu_setup(h, n, 0);
    if (opts != NULL) {
        h->opts = *opts;
    }
    h->on_step = eu_on_step;
    for (int k = 0; k < n; k++) {
        struct host_node *nd = &h->nodes[k];
        struct eu_steps *st = calloc(1, sizeof(*st));
        ck_assert_ptr_nonnull(st);
        eu_sb_init(&st->trace);
        nd->user = st;
        if (bootstrapped) {
            const uint64_t t1[] = {1};
            eu_set_disk(h, nd->id, 1, 0, t1, 1);
            host_node_start(h, nd);
        }
    }
}

/* Frees a cluster and what eu_hosts kept. */
static inline void eu_free(struct host *h)
{
    for (int k = 0; k < h->n; k++) {
        struct eu_steps *st = h->nodes[k].user;
        if (st != NULL) {
            free(st->out);
            free(st->out_persist);
            free(st->trace.p);
            free(st);
            h->nodes[k].user = NULL;
        }
    }
    host_free(h);
}

/* The rendering of node id's last event step (not of the PERSISTED step
 * the host made after it: that is eu_steps_of()->out_persist). A copy. */
static inline char *eu_out(struct host *h, uint64_t id)
{
    struct eu_steps *st = eu_steps_of(h, id);
    return strdup(st->out != NULL ? st->out : "");
}

/* Ticks id until a step produces an action; returns the ticks taken. */
static inline int eu_tick_until_active(struct host *h, uint64_t id, int max)
{
    struct host_node *nd = host_node(h, id);
    for (int t = 1; t <= max; t++) {
        host_tick(h, nd);
        if (craft_actions_count(nd->acts) > 0) {
            return t;
        }
    }
    ck_abort_msg("node %llu stayed quiet for %d ticks", (unsigned long long)id,
                 max);
    return -1;
}

/* Ticks id until its role is role (max ticks). */
static inline void eu_tick_until_role(struct host *h, uint64_t id, int role,
                                      int max)
{
    struct host_node *nd = host_node(h, id);
    for (int t = 0; t < max; t++) {
        if (craft_engine_role(nd->e) == role) {
            return;
        }
        host_tick(h, nd);
    }
    ck_assert_int_eq(craft_engine_role(nd->e), role);
}

/* Asserts that node id's durable log is exactly that of node ref. */
static inline void eu_same_log(struct host *h, uint64_t id, uint64_t ref)
{
    struct host_node *x = host_node(h, id), *y = host_node(h, ref);
    ck_assert_msg(x->last == y->last && x->first == y->first,
                  "node %llu holds %llu..%llu, %llu holds %llu..%llu",
                  (unsigned long long)id, (unsigned long long)x->first,
                  (unsigned long long)x->last, (unsigned long long)ref,
                  (unsigned long long)y->first, (unsigned long long)y->last);
    for (uint64_t i = x->first; i <= x->last; i++) {
        struct host_entry *a = host_entry_at(x, i), *b = host_entry_at(y, i);
        ck_assert_uint_eq(a->term, b->term);
        ck_assert_uint_eq(a->type, b->type);
        ck_assert_uint_eq(a->data.len, b->data.len);
        if (a->data.len > 0) {
            ck_assert_mem_eq(a->data.p, b->data.p, a->data.len);
        }
    }
}

/* Elects node id in a freshly bootstrapped cluster: ticks only id until
 * it campaigns, then delivers everything. */
static inline void eu_elect(struct host *h, uint64_t id)
{
    eu_tick_until_active(h, id, 100);
    host_deliver_all(h);
    ck_assert_int_eq(craft_engine_role(host_node(h, id)->e),
                     CRAFT_ROLE_LEADER);
}

/* The k-th (0-based) NORMAL payload nd's default state machine applied. */
static inline const uint8_t *eu_applied_payload(struct host_node *nd,
                                                size_t k, size_t *len)
{
    size_t off = 0;
    for (;;) {
        uint32_t l32;
        ck_assert_uint_le(off + sizeof(l32), nd->sm.len);
        memcpy(&l32, nd->sm.p + off, sizeof(l32));
        off += sizeof(l32);
        if (k == 0) {
            *len = l32;
            return nd->sm.p + off;
        }
        off += l32;
        k--;
    }
}

#endif /* CRAFT_TEST_ENGINE_UTIL_H */
