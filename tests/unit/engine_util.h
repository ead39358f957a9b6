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
 *    count are left out of that check: see test_engine_bugs.c.)
 *  - A small in-memory network (struct eu_net) of engines with their own
 *    options, a durable mirror of each node's hard state and log (so a
 *    node restarts from what it persisted), a message queue the test
 *    delivers from selectively, and the rendered actions of every step.
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
static inline char *eu_render(const craft_engine *e, craft_actions *a)
{
    struct eu_sb s;
    struct craft_alloc al;
    struct craft_entry_vec scratch = {NULL, 0};
    craft_alloc_default(&al);
    eu_sb_init(&s);
    size_t n = craft_actions_count(a);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            eu_sb_printf(&s, " | ");
        }
        int t = craft_action_type(a, i);
        unsigned carried = 0;
        switch (t) {
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            eu_sb_printf(&s, "HS t=%llu v=%llu",
                         (unsigned long long)craft_action_term(a, i),
                         (unsigned long long)craft_action_vote(a, i));
            carried = EU_F_TERM | EU_F_VOTE;
            break;
        case CRAFT_ACTION_APPEND:
        case CRAFT_ACTION_APPLY:
            eu_sb_printf(&s, "%s i=%llu ",
                         t == CRAFT_ACTION_APPEND ? "APPEND" : "APPLY",
                         (unsigned long long)craft_action_index(a, i));
            eu_sb_action_entries(&s, a, i);
            carried = EU_F_INDEX | EU_F_COUNT;
            break;
        case CRAFT_ACTION_TRUNCATE:
            eu_sb_printf(&s, "TRUNC i=%llu",
                         (unsigned long long)craft_action_index(a, i));
            carried = EU_F_INDEX;
            break;
        case CRAFT_ACTION_ROLE_CHANGE:
            eu_sb_printf(&s, "ROLE %s t=%llu l=%llu",
                         eu_role_name(craft_action_role(a, i)),
                         (unsigned long long)craft_action_term(a, i),
                         (unsigned long long)craft_action_leader(a, i));
            carried = EU_F_ROLE | EU_F_TERM | EU_F_LEADER;
            break;
        case CRAFT_ACTION_PROPOSE_RESULT:
            eu_sb_printf(&s, "RESULT id=%llu ",
                         (unsigned long long)craft_action_id(a, i));
            eu_sb_status(&s, craft_action_status(a, i));
            eu_sb_printf(&s, " i=%llu t=%llu n=%zu l=%llu",
                         (unsigned long long)craft_action_index(a, i),
                         (unsigned long long)craft_action_term(a, i),
                         craft_action_count(a, i),
                         (unsigned long long)craft_action_leader(a, i));
            carried = EU_F_ID | EU_F_STATUS | EU_F_INDEX | EU_F_TERM |
                      EU_F_COUNT | EU_F_LEADER;
            break;
        case CRAFT_ACTION_SEND: {
            const void *b;
            size_t len;
            struct craft_msg m;
            uint64_t peer = craft_action_peer(a, i);
            eu_sb_printf(&s, "SEND >%llu ", (unsigned long long)peer);
            ck_assert_int_eq(craft_action_message(a, i, &b, &len), CRAFT_OK);
            int rv = craft_msg_decode(b, len, &m, &al, &scratch);
            if (rv != CRAFT_OK) {
                eu_sb_printf(&s, "!undecodable(%d)", rv);
            } else {
                eu_sb_msg(&s, &m);
                if (m.from != craft_engine_id(e)) {
                    eu_sb_printf(&s, " !from=%llu",
                                 (unsigned long long)m.from);
                }
                if (m.to != peer) {
                    eu_sb_printf(&s, " !to=%llu", (unsigned long long)m.to);
                }
            }
            /* index/count: see the comment at the top. */
            carried = EU_F_PEER | EU_F_INDEX | EU_F_COUNT;
            break;
        }
        default:
            eu_sb_printf(&s, "ACTION%d", t);
            carried = ~0u;
            break;
        }
        eu_sb_leaks(&s, a, i, carried);
    }
    craft_entry_vec_free(&al, &scratch);
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

/* ---- an in-memory network of engines -------------------------------- */

#define EU_MAX_NODES 9
#define EU_MAX_PAYLOAD 1024

struct eu_dentry {
    uint64_t term;
    uint32_t type;
    uint32_t len;
    uint8_t data[EU_MAX_PAYLOAD];
};

struct eu_qmsg {
    uint64_t from, to;
    uint32_t type;
    size_t len;
    uint8_t *bytes;
};

struct eu_node {
    uint64_t id;
    craft_engine_options opts;
    craft_engine *e;
    craft_actions *a;
    int up;
    int auto_persist; /* report PERSISTED right after each APPEND */
    const craft_allocator *acts_alloc; /* for the actions list; NULL: libc */
    /* durable state, as the actions said */
    uint64_t term, vote;
    struct eu_dentry *log; /* log[i] is index i, i in 1..last */
    size_t log_cap;
    uint64_t last;
    uint64_t applied;
    uint64_t pending_index, pending_term; /* last APPEND not reported */
    char *out;         /* rendered actions of the last event step */
    char *out_persist; /* of the PERSISTED step that followed, if any */
    struct eu_sb trace; /* every step's rendering, one per line */
};

struct eu_net {
    int n;
    struct eu_node nodes[EU_MAX_NODES];
    struct eu_qmsg *q;
    size_t nq, qcap;
    int cut[EU_MAX_NODES + 1][EU_MAX_NODES + 1]; /* a -> b dropped */
};

static inline struct eu_node *eu_nd(struct eu_net *net, uint64_t id)
{
    ck_assert_uint_ge(id, 1);
    ck_assert_uint_le(id, (uint64_t)net->n);
    return &net->nodes[id - 1];
}

static inline void eu_nd_grow(struct eu_node *nd, uint64_t idx)
{
    if (idx < nd->log_cap) {
        return;
    }
    size_t ncap = nd->log_cap ? nd->log_cap : 64;
    while (ncap <= idx) {
        ncap *= 2;
    }
    struct eu_dentry *nl = realloc(nd->log, ncap * sizeof(*nl));
    ck_assert_ptr_nonnull(nl);
    nd->log = nl;
    nd->log_cap = ncap;
}

/* Sets node id's durable state: hard state and the log eu_load makes. */
static inline void eu_net_set_disk(struct eu_net *net, uint64_t id,
                                   uint64_t term, uint64_t vote,
                                   const uint64_t *terms, size_t n)
{
    struct eu_node *nd = eu_nd(net, id);
    uint64_t ids[EU_MAX_NODES];
    for (int k = 0; k < net->n; k++) {
        ids[k] = (uint64_t)k + 1;
    }
    nd->term = term;
    nd->vote = vote;
    nd->last = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t idx = k + 1;
        eu_nd_grow(nd, idx);
        struct eu_dentry *d = &nd->log[idx];
        d->term = terms[k];
        if (idx == 1) {
            d->type = CRAFT_ENTRY_CONFIG;
            d->len = (uint32_t)eu_conf(ids, (size_t)net->n, d->data);
        } else {
            d->type = CRAFT_ENTRY_NORMAL;
            d->len = EU_PAYLOAD_LEN;
            eu_payload(idx, terms[k], d->data);
        }
        nd->last = idx;
    }
}

/* Starts (or restarts) node id's engine from its durable state. */
static inline void eu_net_start(struct eu_net *net, uint64_t id)
{
    struct eu_node *nd = eu_nd(net, id);
    ck_assert(!nd->up);
    nd->e = eu_create(&nd->opts);
    ck_assert_int_eq(craft_actions_create(nd->acts_alloc, &nd->a), CRAFT_OK);
    if (nd->term != 0 || nd->vote != 0 || nd->last != 0) {
        ck_assert_int_eq(craft_engine_load_hard_state(nd->e, nd->term,
                                                      nd->vote),
                         CRAFT_OK);
    }
    for (uint64_t i = 1; i <= nd->last; i++) {
        struct eu_dentry *d = &nd->log[i];
        ck_assert_int_eq(craft_engine_load_entry(nd->e, i, d->term, d->type,
                                                 d->data, d->len),
                         CRAFT_OK);
    }
    nd->applied = 0;
    nd->pending_index = 0;
    nd->up = 1;
}

/*
 * n nodes with ids 1..n. opts (may be NULL: defaults) is used for every
 * node, with its id set. Every node starts with the durable state of a
 * bootstrapped cluster (term 1, entry 1 the CONFIG of all n) unless
 * bootstrapped is 0 (then empty: call eu_net_set_disk and eu_net_start).
 */
static inline void eu_net_init(struct eu_net *net, int n,
                               const craft_engine_options *opts,
                               int bootstrapped)
{
    memset(net, 0, sizeof(*net));
    ck_assert_int_le(n, EU_MAX_NODES);
    net->n = n;
    for (int k = 0; k < n; k++) {
        struct eu_node *nd = &net->nodes[k];
        nd->id = (uint64_t)k + 1;
        nd->opts = opts != NULL ? *opts : eu_opts(nd->id);
        nd->opts.id = nd->id;
        nd->auto_persist = 1;
        eu_sb_init(&nd->trace);
        if (bootstrapped) {
            const uint64_t t1[] = {1};
            eu_net_set_disk(net, nd->id, 1, 0, t1, 1);
            eu_net_start(net, nd->id);
        }
    }
}

static inline void eu_net_crash(struct eu_net *net, uint64_t id)
{
    struct eu_node *nd = eu_nd(net, id);
    ck_assert(nd->up);
    craft_engine_free(nd->e);
    craft_actions_free(nd->a);
    nd->e = NULL;
    nd->a = NULL;
    nd->up = 0;
}

static inline void eu_net_free(struct eu_net *net)
{
    for (int k = 0; k < net->n; k++) {
        struct eu_node *nd = &net->nodes[k];
        if (nd->up) {
            eu_net_crash(net, nd->id);
        }
        free(nd->log);
        free(nd->out);
        free(nd->out_persist);
        free(nd->trace.p);
    }
    for (size_t i = 0; i < net->nq; i++) {
        free(net->q[i].bytes);
    }
    free(net->q);
}

static inline void eu_net_enqueue(struct eu_net *net, uint64_t from,
                                  uint64_t to, const void *b, size_t len)
{
    if (net->nq == net->qcap) {
        size_t ncap = net->qcap ? net->qcap * 2 : 64;
        struct eu_qmsg *nq = realloc(net->q, ncap * sizeof(*nq));
        ck_assert_ptr_nonnull(nq);
        net->q = nq;
        net->qcap = ncap;
    }
    struct eu_qmsg *m = &net->q[net->nq++];
    m->from = from;
    m->to = to;
    m->len = len;
    m->type = ((const uint8_t *)b)[5];
    m->bytes = malloc(len);
    ck_assert_ptr_nonnull(m->bytes);
    memcpy(m->bytes, b, len);
}

static inline void eu_net_step(struct eu_net *net, struct eu_node *nd,
                               const craft_event *ev, int is_persist);

/* Carries out nd's actions like a synchronous host: in order, into the
 * durable mirror and the queue, checking what a host can check. */
static inline void eu_net_execute(struct eu_net *net, struct eu_node *nd)
{
    craft_actions *a = nd->a;
    size_t n = craft_actions_count(a);
    for (size_t i = 0; i < n; i++) {
        int t = craft_action_type(a, i);
        switch (t) {
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            nd->term = craft_action_term(a, i);
            nd->vote = craft_action_vote(a, i);
            break;
        case CRAFT_ACTION_TRUNCATE: {
            uint64_t idx = craft_action_index(a, i);
            ck_assert_uint_ge(idx, 1);
            ck_assert_uint_le(idx, nd->last);
            /* Never below what this node applied (committed). */
            ck_assert_uint_gt(idx, nd->applied);
            nd->last = idx - 1;
            if (nd->pending_index >= idx) {
                nd->pending_index = 0;
            }
            break;
        }
        case CRAFT_ACTION_APPEND: {
            uint64_t idx = craft_action_index(a, i);
            size_t cnt = craft_action_count(a, i);
            ck_assert_uint_ge(cnt, 1);
            ck_assert_uint_eq(idx, nd->last + 1); /* TRUNCATE came first */
            for (size_t k = 0; k < cnt; k++) {
                eu_nd_grow(nd, idx + k);
                struct eu_dentry *d = &nd->log[idx + k];
                const void *p;
                size_t len;
                ck_assert_int_eq(craft_action_entry(a, i, k, &d->term,
                                                    &d->type, &p, &len),
                                 CRAFT_OK);
                ck_assert_uint_le(len, EU_MAX_PAYLOAD);
                d->len = (uint32_t)len;
                if (len > 0) {
                    memcpy(d->data, p, len);
                }
            }
            nd->last = idx + cnt - 1;
            nd->pending_index = nd->last;
            nd->pending_term = nd->log[nd->last].term;
            break;
        }
        case CRAFT_ACTION_SEND: {
            const void *b;
            size_t len;
            ck_assert_int_eq(craft_action_message(a, i, &b, &len), CRAFT_OK);
            eu_net_enqueue(net, nd->id, craft_action_peer(a, i), b, len);
            break;
        }
        case CRAFT_ACTION_APPLY: {
            uint64_t idx = craft_action_index(a, i);
            size_t cnt = craft_action_count(a, i);
            ck_assert_uint_eq(idx, nd->applied + 1);
            ck_assert_uint_le(idx + cnt - 1, nd->last);
            for (size_t k = 0; k < cnt; k++) {
                uint64_t term;
                uint32_t type;
                const void *p;
                size_t len;
                ck_assert_int_eq(craft_action_entry(a, i, k, &term, &type, &p,
                                                    &len),
                                 CRAFT_OK);
                struct eu_dentry *d = &nd->log[idx + k];
                ck_assert_uint_eq(term, d->term);
                ck_assert_uint_eq(type, d->type);
                ck_assert_uint_eq(len, d->len);
                if (len > 0) {
                    ck_assert_mem_eq(p, d->data, len);
                }
            }
            nd->applied = idx + cnt - 1;
            break;
        }
        case CRAFT_ACTION_ROLE_CHANGE:
        case CRAFT_ACTION_PROPOSE_RESULT:
            break;
        default:
            break;
        }
    }
}

static inline void eu_net_step(struct eu_net *net, struct eu_node *nd,
                               const craft_event *ev, int is_persist)
{
    ck_assert(nd->up);
    ck_assert_int_eq(craft_engine_step(nd->e, ev, nd->a), CRAFT_OK);
    char *r = eu_render(nd->e, nd->a);
    eu_sb_printf(&nd->trace, "%s\n", r);
    if (is_persist) {
        free(nd->out_persist);
        nd->out_persist = r;
    } else {
        free(nd->out);
        nd->out = r;
        free(nd->out_persist);
        nd->out_persist = NULL;
    }
    eu_net_execute(net, nd);
    if (nd->auto_persist && nd->pending_index != 0) {
        craft_event pe = CRAFT_EVENT_INIT;
        pe.type = CRAFT_EVENT_PERSISTED;
        pe.index = nd->pending_index;
        pe.term = nd->pending_term;
        nd->pending_index = 0;
        eu_net_step(net, nd, &pe, 1);
    }
}

/* The rendering of node id's last event step (not of the PERSISTED step
 * auto_persist made after it: that is eu_nd()->out_persist). A copy. */
static inline char *eu_net_out(struct eu_net *net, uint64_t id)
{
    struct eu_node *nd = eu_nd(net, id);
    return strdup(nd->out != NULL ? nd->out : "");
}

static inline void eu_net_tick(struct eu_net *net, uint64_t id)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TICK;
    eu_net_step(net, eu_nd(net, id), &ev, 0);
}

/* Ticks id until a step produces an action; returns the ticks taken. */
static inline int eu_net_tick_until_active(struct eu_net *net, uint64_t id,
                                           int max)
{
    for (int t = 1; t <= max; t++) {
        eu_net_tick(net, id);
        if (craft_actions_count(eu_nd(net, id)->a) > 0) {
            return t;
        }
    }
    ck_abort_msg("node %llu stayed quiet for %d ticks", (unsigned long long)id,
                 max);
    return -1;
}

/* Ticks id until its role is role (max ticks). */
static inline void eu_net_tick_until_role(struct eu_net *net, uint64_t id,
                                          int role, int max)
{
    for (int t = 0; t < max; t++) {
        if (craft_engine_role(eu_nd(net, id)->e) == role) {
            return;
        }
        eu_net_tick(net, id);
    }
    ck_assert_int_eq(craft_engine_role(eu_nd(net, id)->e), role);
}

static inline void eu_net_persist(struct eu_net *net, uint64_t id,
                                  uint64_t index, uint64_t term)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PERSISTED;
    ev.index = index;
    ev.term = term;
    eu_net_step(net, eu_nd(net, id), &ev, 0);
}

/* Reports node id's last APPEND durable (auto_persist off). */
static inline void eu_net_persist_pending(struct eu_net *net, uint64_t id)
{
    struct eu_node *nd = eu_nd(net, id);
    ck_assert_uint_ne(nd->pending_index, 0);
    uint64_t i = nd->pending_index, t = nd->pending_term;
    nd->pending_index = 0;
    eu_net_persist(net, id, i, t);
}

static inline void eu_net_propose(struct eu_net *net, uint64_t id,
                                  uint64_t pid, const void *data, size_t len)
{
    craft_buf b = {data, len};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.id = pid;
    ev.bufs = &b;
    ev.nbufs = 1;
    eu_net_step(net, eu_nd(net, id), &ev, 0);
}

/* Hands a hand-built message to its addressee as if the network did. */
static inline void eu_net_inject(struct eu_net *net, const struct craft_msg *m)
{
    size_t len;
    uint8_t *b = eu_encode(m, &len);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = b;
    ev.len = len;
    eu_net_step(net, eu_nd(net, m->to), &ev, 0);
    free(b);
}

static inline int eu_qmatch(const struct eu_qmsg *m, uint64_t from,
                            uint64_t to, uint32_t type)
{
    return (from == 0 || m->from == from) && (to == 0 || m->to == to) &&
           (type == 0 || m->type == type);
}

static inline void eu_qremove(struct eu_net *net, size_t i)
{
    free(net->q[i].bytes);
    memmove(&net->q[i], &net->q[i + 1], (net->nq - i - 1) * sizeof(*net->q));
    net->nq--;
}

/* Queued messages matching (from, to, type); 0 is a wildcard. */
static inline size_t eu_net_queued(struct eu_net *net, uint64_t from,
                                   uint64_t to, uint32_t type)
{
    size_t c = 0;
    for (size_t i = 0; i < net->nq; i++) {
        c += (size_t)eu_qmatch(&net->q[i], from, to, type);
    }
    return c;
}

/* Delivers the oldest queued message matching (from, to, type), even if
 * the link is cut; 0 when there is none. Dropped if the addressee is
 * down. */
static inline int eu_net_take(struct eu_net *net, uint64_t from, uint64_t to,
                              uint32_t type)
{
    for (size_t i = 0; i < net->nq; i++) {
        if (!eu_qmatch(&net->q[i], from, to, type)) {
            continue;
        }
        struct eu_qmsg m = net->q[i];
        memmove(&net->q[i], &net->q[i + 1],
                (net->nq - i - 1) * sizeof(*net->q));
        net->nq--;
        struct eu_node *nd = eu_nd(net, m.to);
        if (nd->up) {
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_MESSAGE;
            ev.data = m.bytes;
            ev.len = m.len;
            eu_net_step(net, nd, &ev, 0);
        }
        free(m.bytes);
        return 1;
    }
    return 0;
}

/* Drops every queued message matching (from, to, type). */
static inline size_t eu_net_drop(struct eu_net *net, uint64_t from,
                                 uint64_t to, uint32_t type)
{
    size_t c = 0;
    for (size_t i = 0; i < net->nq;) {
        if (eu_qmatch(&net->q[i], from, to, type)) {
            eu_qremove(net, i);
            c++;
        } else {
            i++;
        }
    }
    return c;
}

/* Delivers queued messages in FIFO order (and those they cause) until
 * none is left, dropping those over a cut link or to a down node. Returns
 * how many were delivered. */
static inline size_t eu_net_flush(struct eu_net *net)
{
    size_t done = 0;
    while (net->nq > 0) {
        struct eu_qmsg m = net->q[0];
        memmove(&net->q[0], &net->q[1], (net->nq - 1) * sizeof(*net->q));
        net->nq--;
        struct eu_node *nd = eu_nd(net, m.to);
        if (nd->up && eu_nd(net, m.from)->up && !net->cut[m.from][m.to]) {
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_MESSAGE;
            ev.data = m.bytes;
            ev.len = m.len;
            eu_net_step(net, nd, &ev, 0);
            done++;
        }
        free(m.bytes);
    }
    return done;
}

/* Cuts (or heals, on = 0) both directions between a and b. */
static inline void eu_net_cut(struct eu_net *net, uint64_t a, uint64_t b,
                              int on)
{
    net->cut[a][b] = on;
    net->cut[b][a] = on;
}

/* Asserts that node id's durable log is exactly that of node ref. */
static inline void eu_net_same_log(struct eu_net *net, uint64_t id,
                                   uint64_t ref)
{
    struct eu_node *x = eu_nd(net, id), *y = eu_nd(net, ref);
    ck_assert_msg(x->last == y->last,
                  "node %llu has %llu entries, %llu has %llu",
                  (unsigned long long)id, (unsigned long long)x->last,
                  (unsigned long long)ref, (unsigned long long)y->last);
    for (uint64_t i = 1; i <= x->last; i++) {
        ck_assert_uint_eq(x->log[i].term, y->log[i].term);
        ck_assert_uint_eq(x->log[i].type, y->log[i].type);
        ck_assert_uint_eq(x->log[i].len, y->log[i].len);
        ck_assert_mem_eq(x->log[i].data, y->log[i].data, x->log[i].len);
    }
}

/* Elects node id in a freshly bootstrapped net: ticks only id until it
 * campaigns, then delivers everything. */
static inline void eu_net_elect(struct eu_net *net, uint64_t id)
{
    eu_net_tick_until_active(net, id, 100);
    eu_net_flush(net);
    ck_assert_int_eq(craft_engine_role(eu_nd(net, id)->e), CRAFT_ROLE_LEADER);
}

#endif /* CRAFT_TEST_ENGINE_UTIL_H */
