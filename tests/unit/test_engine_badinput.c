/*
 * tests/unit/test_engine_badinput.c: every public engine function given
 * bad input (NULL, a wrong struct_size, an unknown event type, malformed
 * messages, oversized proposals, calls in the wrong state, id 0, a message
 * for another server) returns the right error code, leaves the actions
 * list empty and the engine unchanged, and nothing aborts.
 *
 * "Unchanged" is checked twice: the observable state (term, vote, role,
 * leader, commit, last index and term, applied, persisted) equals that of
 * a twin engine that never saw the bad call, and a script of normal
 * events then produces, on both, the same actions byte for byte.
 */
#include "codec/crc32c.h"
#include "engine_util.h"
#include "harness.h"

static const uint64_t ids3[] = {1, 2, 3};
static const uint64_t log2t[] = {1, 2}; /* entries 1 (term 1), 2 (term 2) */

/* ---- twins ---------------------------------------------------------- */

struct twins {
    craft_engine *e[2];
    craft_actions *a[2];
};

/* The first step of a started twin: a heartbeat of leader 2 (term 2). It
 * leaves three actions in the list, so a test can see a failed step
 * empty it. */
static int first_step(craft_engine *e, craft_actions *a)
{
    struct craft_msg m = eu_msg(CRAFT_MSG_HEARTBEAT, 2, 1, 2);
    m.commit = 2;
    return eu_inject(e, a, &m);
}

/* Two identical engines of server 1 in {1, 2, 3}: hard state term 2, log
 * 1 (config), 2 (term 2). loaded = 0: created only; started = 1: loaded
 * and stepped once. */
static void twins_init(struct twins *t, int loaded, int started)
{
    for (int k = 0; k < 2; k++) {
        craft_engine_options o = eu_opts(1);
        t->e[k] = eu_create(&o);
        t->a[k] = eu_actions();
        if (loaded) {
            eu_load(t->e[k], 2, 0, ids3, 3, log2t, 2);
        }
        if (started) {
            EU_STEP_EXPECT(t->e[k], t->a[k], first_step(t->e[k], t->a[k]),
                           "ROLE F t=2 l=2 | SEND >2 HEARTBEAT_RESP t=2 | "
                           "APPLY i=1 [1C,2N]");
        }
    }
}

static void twins_free(struct twins *t)
{
    for (int k = 0; k < 2; k++) {
        craft_actions_free(t->a[k]);
        craft_engine_free(t->e[k]);
    }
}

static void twins_same_state(struct twins *t)
{
    EU_STATE_EQ(eu_state_of(t->e[0]), eu_state_of(t->e[1]));
}

/* Runs one event on both twins; both must succeed with the same actions
 * and state. */
static void twins_step(struct twins *t, const craft_event *ev)
{
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(craft_engine_step(t->e[k], ev, t->a[k]), CRAFT_OK);
    }
    eu_actions_eq(t->a[0], t->a[1]);
    twins_same_state(t);
}

static void twins_msg(struct twins *t, const struct craft_msg *m)
{
    size_t len;
    uint8_t *b = eu_encode(m, &len);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = b;
    ev.len = len;
    twins_step(t, &ev);
    free(b);
}

/* Ticks (each compared, so a timer the bad call disturbed shows) until
 * the pre-vote; a grant (campaign in term T+1); a grant (leadership). */
static void twins_to_leader(struct twins *t)
{
    twins_same_state(t);
    if (craft_engine_last_index(t->e[0]) == 0) {
        /* An empty engine: start it like the others. */
        for (int k = 0; k < 2; k++) {
            eu_load(t->e[k], 2, 0, ids3, 3, log2t, 2);
        }
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TICK;
    for (int k = 0; k < 25; k++) {
        twins_step(t, &ev);
    }
    ck_assert_int_eq(craft_engine_role(t->e[0]), CRAFT_ROLE_PRE_CANDIDATE);
    uint64_t term = craft_engine_term(t->e[0]) + 1;
    struct craft_msg m = eu_msg(CRAFT_MSG_PREVOTE_RESP, 3, 1, term);
    twins_msg(t, &m);
    ck_assert_int_eq(craft_engine_role(t->e[0]), CRAFT_ROLE_CANDIDATE);
    m = eu_msg(CRAFT_MSG_VOTE_RESP, 3, 1, term);
    twins_msg(t, &m);
    ck_assert_int_eq(craft_engine_role(t->e[0]), CRAFT_ROLE_LEADER);
}

/*
 * Normal events after the bad call, compared step by step: the election
 * above, a proposal, its acknowledgement and durability (commit),
 * heartbeats, then a newer leader's append and heartbeat.
 */
static void twins_script(struct twins *t)
{
    twins_to_leader(t);
    uint64_t term = craft_engine_term(t->e[0]);
    uint64_t last = craft_engine_last_index(t->e[0]);
    craft_buf b = {"q", 1};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.id = 6;
    ev.bufs = &b;
    ev.nbufs = 1;
    twins_step(t, &ev);
    struct craft_msg m = eu_msg(CRAFT_MSG_APPEND_RESP, 3, 1, term);
    m.index = last + 1;
    twins_msg(t, &m);
    ev = (craft_event)CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PERSISTED;
    ev.index = last + 1;
    ev.term = term;
    twins_step(t, &ev);
    ck_assert_uint_eq(craft_engine_commit_index(t->e[0]), last + 1);
    ev = (craft_event)CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TICK;
    for (int k = 0; k < 3; k++) {
        twins_step(t, &ev);
    }
    uint8_t p[3] = "abc";
    struct craft_entry en = {term + 1, CRAFT_ENTRY_NORMAL, 3, p, NULL};
    m = eu_msg(CRAFT_MSG_APPEND, 2, 1, term + 1);
    m.index = last + 1;
    m.log_term = term;
    m.commit = last + 1;
    m.entries = &en;
    m.n_entries = 1;
    twins_msg(t, &m);
    ck_assert_int_eq(craft_engine_role(t->e[0]), CRAFT_ROLE_FOLLOWER);
    ck_assert_uint_eq(craft_engine_last_index(t->e[0]), last + 2);
    m = eu_msg(CRAFT_MSG_HEARTBEAT, 2, 1, term + 1);
    m.commit = last + 2;
    twins_msg(t, &m);
    ck_assert_uint_eq(craft_engine_commit_index(t->e[0]), last + 2);
}

/* More normal events, in whatever state the twins are: ticks, a proposal,
 * the report of the last entry's durability, ticks. */
static void twins_more(struct twins *t)
{
    twins_same_state(t);
    craft_event tick = CRAFT_EVENT_INIT;
    tick.type = CRAFT_EVENT_TICK;
    for (int k = 0; k < 30; k++) {
        twins_step(t, &tick);
    }
    craft_buf b = {"more", 4};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.id = 8;
    ev.bufs = &b;
    ev.nbufs = 1;
    twins_step(t, &ev);
    ev = (craft_event)CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PERSISTED;
    ev.index = craft_engine_last_index(t->e[0]);
    ev.term = craft_engine_last_term(t->e[0]);
    twins_step(t, &ev);
    for (int k = 0; k < 30; k++) {
        twins_step(t, &tick);
    }
}

/* Asserts that a bad call on twin 0 returned want and changed nothing. */
#define EXPECT_BAD(t, call, want)                                             \
    do {                                                                      \
        ck_assert_int_eq((call), (want));                                     \
        twins_same_state(t);                                                  \
    } while (0)

/* The same for a step, which must also leave its actions list empty. */
#define EXPECT_BAD_STEP(t, call, want)                                        \
    do {                                                                      \
        EXPECT_BAD(t, call, want);                                            \
        ck_assert_uint_eq(craft_actions_count((t)->a[0]), 0);                 \
    } while (0)

/* A failing step on a started twin: the list, full before, is empty. */
static void bad_step(struct twins *t, const craft_event *ev, int want)
{
    ck_assert_uint_gt(craft_actions_count(t->a[0]), 0);
    EXPECT_BAD_STEP(t, craft_engine_step(t->e[0], ev, t->a[0]), want);
}

/* Refills twin 0's list by a harmless step on both twins. */
static void refill(struct twins *t)
{
    struct craft_msg m = eu_msg(CRAFT_MSG_HEARTBEAT, 2, 1, 2);
    m.commit = 2;
    twins_msg(t, &m);
    ck_assert_uint_gt(craft_actions_count(t->a[0]), 0);
}

static void bad_msg_bytes(struct twins *t, const void *b, size_t len, int want)
{
    refill(t);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = b;
    ev.len = len;
    bad_step(t, &ev, want);
}

static void bad_msg(struct twins *t, const struct craft_msg *m, int want)
{
    size_t len;
    uint8_t *b = eu_encode(m, &len);
    bad_msg_bytes(t, b, len, want);
    free(b);
}

/* ---- options and create --------------------------------------------- */

static int create_rv(const craft_engine_options *o)
{
    craft_engine *sentinel = (craft_engine *)(uintptr_t)0x1234;
    craft_engine *e = sentinel;
    int rv = craft_engine_create(o, &e);
    if (rv == CRAFT_OK) {
        craft_engine_free(e);
    } else {
        ck_assert_ptr_eq(e, sentinel); /* *out untouched on error */
    }
    return rv;
}

START_TEST(create_rejects_bad_options)
{
    craft_engine_options o = eu_opts(1);
    craft_engine *e = NULL;
    ck_assert_int_eq(craft_engine_create(NULL, &e), CRAFT_EINVAL);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(craft_engine_create(&o, NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_engine_options_init(NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_event_init(NULL), CRAFT_EINVAL);

    ck_assert_int_eq(create_rv(&o), CRAFT_OK);
    o.id = 0;
    ck_assert_int_eq(create_rv(&o), CRAFT_EINVAL);
    o = eu_opts(1);
    o.struct_size = 0;
    ck_assert_int_eq(create_rv(&o), CRAFT_ESTRUCT);
    o.struct_size = 4; /* not even the id */
    ck_assert_int_eq(create_rv(&o), CRAFT_ESTRUCT);
    o.struct_size = (uint32_t)sizeof(o) + 1;
    ck_assert_int_eq(create_rv(&o), CRAFT_ESTRUCT);
    o.struct_size = (uint32_t)sizeof(o) + 4096;
    ck_assert_int_eq(create_rv(&o), CRAFT_ESTRUCT);
    o.struct_size = UINT32_MAX;
    ck_assert_int_eq(create_rv(&o), CRAFT_ESTRUCT);

    o = eu_opts(1);
    o.election_ticks = 0;
    ck_assert_int_eq(create_rv(&o), CRAFT_EINVAL);
    o = eu_opts(1);
    o.election_ticks = 1;
    o.heartbeat_ticks = 1;
    ck_assert_int_eq(create_rv(&o), CRAFT_EINVAL);
    o = eu_opts(1);
    o.heartbeat_ticks = 0;
    ck_assert_int_eq(create_rv(&o), CRAFT_EINVAL);
    o = eu_opts(1);
    o.heartbeat_ticks = o.election_ticks;
    ck_assert_int_eq(create_rv(&o), CRAFT_EINVAL);
    o = eu_opts(1);
    o.max_inflight = 0;
    ck_assert_int_eq(create_rv(&o), CRAFT_EINVAL);
    o = eu_opts(1);
    o.max_inflight = UINT32_MAX;
    ck_assert_int_eq(create_rv(&o), CRAFT_EINVAL);
    o = eu_opts(1);
    o.max_msg_bytes = 0;
    ck_assert_int_eq(create_rv(&o), CRAFT_EINVAL);

    /* A bad allocator struct. */
    craft_allocator al = CRAFT_ALLOCATOR_INIT;
    o = eu_opts(1);
    o.allocator = &al;
    ck_assert_int_eq(create_rv(&o), CRAFT_EINVAL); /* no functions */
    al.struct_size = 0;
    ck_assert_int_eq(create_rv(&o), CRAFT_ESTRUCT);
    al.struct_size = (uint32_t)sizeof(al) + 8;
    ck_assert_int_eq(create_rv(&o), CRAFT_ESTRUCT);
}
END_TEST

/* The options of the first release: everything up to the allocator. */
#define OPTIONS_V1_SIZE                                                       \
    (offsetof(craft_engine_options, allocator) + sizeof(void *))

START_TEST(create_accepts_older_smaller_options)
{
    /* An older caller's struct: the fields past its size are not read
     * (garbage there, even invalid values, is ignored) and take their
     * defaults. */
    union {
        craft_engine_options o;
        unsigned char bytes[sizeof(craft_engine_options)];
    } u;
    memset(u.bytes, 0xff, sizeof(u.bytes));
    craft_engine_options d = eu_opts(1);
    memcpy(u.bytes, &d, OPTIONS_V1_SIZE);
    u.o.struct_size = (uint32_t)OPTIONS_V1_SIZE;
    craft_engine *old = NULL;
    ck_assert_int_eq(craft_engine_create(&u.o, &old), CRAFT_OK);
    /* Only the id is needed: the smallest struct that has it. */
    memset(u.bytes, 0xff, sizeof(u.bytes));
    u.o.struct_size = (uint32_t)(offsetof(craft_engine_options, id) +
                                 sizeof(uint64_t));
    u.o.election_ticks = 10;
    u.o.id = 1;
    craft_engine *tiny = NULL;
    ck_assert_int_eq(craft_engine_create(&u.o, &tiny), CRAFT_OK);
    /* Both behave exactly like an engine made with the defaults. */
    craft_engine *ref = eu_create(&d);
    craft_engine *es[3] = {old, tiny, ref};
    craft_actions *as[3];
    for (int k = 0; k < 3; k++) {
        as[k] = eu_actions();
        eu_load(es[k], 2, 0, ids3, 3, log2t, 2);
    }
    for (int t = 0; t < 60; t++) {
        for (int k = 0; k < 3; k++) {
            ck_assert_int_eq(eu_tick(es[k], as[k]), CRAFT_OK);
        }
        eu_actions_eq(as[0], as[2]);
        eu_actions_eq(as[1], as[2]);
    }
    for (int k = 0; k < 3; k++) {
        craft_actions_free(as[k]);
        craft_engine_free(es[k]);
    }
}
END_TEST

START_TEST(accessors_on_null_engine)
{
    craft_engine_free(NULL);
    ck_assert_uint_eq(craft_engine_id(NULL), 0);
    ck_assert_int_eq(craft_engine_role(NULL), 0);
    ck_assert_uint_eq(craft_engine_term(NULL), 0);
    ck_assert_uint_eq(craft_engine_vote(NULL), 0);
    ck_assert_uint_eq(craft_engine_leader(NULL), 0);
    ck_assert_uint_eq(craft_engine_commit_index(NULL), 0);
    ck_assert_uint_eq(craft_engine_last_index(NULL), 0);
    ck_assert_uint_eq(craft_engine_last_term(NULL), 0);
    ck_assert_uint_eq(craft_engine_applied_index(NULL), 0);
    ck_assert_uint_eq(craft_engine_persisted_index(NULL), 0);
}
END_TEST

/* ---- load_* --------------------------------------------------------- */

START_TEST(load_hard_state_bad)
{
    struct twins t;
    twins_init(&t, 0, 0);
    ck_assert_int_eq(craft_engine_load_hard_state(NULL, 1, 0), CRAFT_EINVAL);
    /* After an entry: the hard state must come first. */
    for (int k = 0; k < 2; k++) {
        eu_load(t.e[k], 2, 0, ids3, 3, log2t, 2);
    }
    EXPECT_BAD(&t, craft_engine_load_hard_state(t.e[0], 9, 3), CRAFT_ESTATE);
    twins_script(&t);
    /* After the first step. */
    EXPECT_BAD(&t, craft_engine_load_hard_state(t.e[0], 9, 3), CRAFT_ESTATE);
    twins_more(&t);
    twins_free(&t);
}
END_TEST

START_TEST(load_entry_bad)
{
    struct twins t;
    twins_init(&t, 0, 0);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(craft_engine_load_hard_state(t.e[k], 2, 0), CRAFT_OK);
    }
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = eu_conf(ids3, 3, conf);
    craft_engine *e = t.e[0];
    ck_assert_int_eq(craft_engine_load_entry(NULL, 1, 1, CRAFT_ENTRY_CONFIG,
                                             conf, clen),
                     CRAFT_EINVAL);
    EXPECT_BAD(&t,
               craft_engine_load_entry(e, 1, 1, CRAFT_ENTRY_NORMAL, NULL, 5),
               CRAFT_EINVAL);
    EXPECT_BAD(&t, craft_engine_load_entry(e, 0, 1, CRAFT_ENTRY_NORMAL, "x", 1),
               CRAFT_EINVAL);
    EXPECT_BAD(&t, craft_engine_load_entry(e, 2, 1, CRAFT_ENTRY_NORMAL, "x", 1),
               CRAFT_EINVAL); /* gap */
    EXPECT_BAD(&t, craft_engine_load_entry(e, 1, 0, CRAFT_ENTRY_NORMAL, "x", 1),
               CRAFT_EINVAL); /* term 0 */
    EXPECT_BAD(&t, craft_engine_load_entry(e, 1, 3, CRAFT_ENTRY_NORMAL, "x", 1),
               CRAFT_EINVAL); /* above the hard state's term */
    EXPECT_BAD(&t, craft_engine_load_entry(e, 1, 1, 0, "x", 1), CRAFT_EINVAL);
    EXPECT_BAD(&t, craft_engine_load_entry(e, 1, 1, 4, "x", 1), CRAFT_EINVAL);
    EXPECT_BAD(&t, craft_engine_load_entry(e, 1, 1, CRAFT_ENTRY_NORMAL, "x",
                                           (size_t)CRAFT_MAX_ENTRY_BYTES + 1),
               CRAFT_ETOOBIG);
    /* A CONFIG entry whose payload does not decode. */
    uint8_t badconf[CRAFT_CONF_MAX_BYTES];
    memcpy(badconf, conf, clen);
    badconf[6] ^= 0x10; /* inside an id: the CRC catches it */
    EXPECT_BAD(&t, craft_engine_load_entry(e, 1, 1, CRAFT_ENTRY_CONFIG, badconf,
                                           clen),
               CRAFT_ECHECKSUM);
    /* Cut short: the CRC no longer matches; shorter than any conf. */
    EXPECT_BAD(&t, craft_engine_load_entry(e, 1, 1, CRAFT_ENTRY_CONFIG, conf,
                                           clen - 1),
               CRAFT_ECHECKSUM);
    EXPECT_BAD(&t, craft_engine_load_entry(e, 1, 1, CRAFT_ENTRY_CONFIG, conf,
                                           3),
               CRAFT_EMALFORMED);
    EXPECT_BAD(&t, craft_engine_load_entry(e, 1, 1, CRAFT_ENTRY_CONFIG, "", 0),
               CRAFT_EMALFORMED);
    /* Now a good entry 1 and 2 on both; then a term going down. */
    for (int k = 0; k < 2; k++) {
        eu_load(t.e[k], 2, 0, ids3, 3, log2t, 2);
    }
    EXPECT_BAD(&t, craft_engine_load_entry(e, 3, 1, CRAFT_ENTRY_NORMAL, "x", 1),
               CRAFT_EINVAL);
    EXPECT_BAD(&t, craft_engine_load_entry(e, 2, 2, CRAFT_ENTRY_NORMAL, "x", 1),
               CRAFT_EINVAL); /* index already loaded */
    twins_script(&t);
    /* After the first step. */
    EXPECT_BAD(&t, craft_engine_load_entry(e, craft_engine_last_index(e) + 1,
                                           craft_engine_term(e),
                                           CRAFT_ENTRY_NORMAL, "x", 1),
               CRAFT_ESTATE);
    twins_more(&t);
    twins_free(&t);
}
END_TEST

START_TEST(load_snapshot_bad)
{
    struct twins t;
    twins_init(&t, 0, 0);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(craft_engine_load_hard_state(t.e[k], 2, 0), CRAFT_OK);
    }
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = eu_conf(ids3, 3, conf);
    craft_engine *e = t.e[0];
    ck_assert_int_eq(craft_engine_load_snapshot(NULL, 5, 2, conf, clen),
                     CRAFT_EINVAL);
    EXPECT_BAD(&t, craft_engine_load_snapshot(e, 5, 2, NULL, clen),
               CRAFT_EINVAL);
    EXPECT_BAD(&t, craft_engine_load_snapshot(e, 0, 2, conf, clen),
               CRAFT_EINVAL);
    EXPECT_BAD(&t, craft_engine_load_snapshot(e, 5, 0, conf, clen),
               CRAFT_EINVAL);
    EXPECT_BAD(&t, craft_engine_load_snapshot(e, 5, 3, conf, clen),
               CRAFT_EINVAL); /* above the hard state's term */
    /* No room after it: next index = last + 1 would wrap. */
    EXPECT_BAD(&t, craft_engine_load_snapshot(e, UINT64_MAX, 2, conf, clen),
               CRAFT_EINVAL);
    EXPECT_BAD(&t,
               craft_engine_load_snapshot(e, CRAFT_MAX_INDEX + 1, 2, conf,
                                          clen),
               CRAFT_EINVAL);
    uint8_t badconf[CRAFT_CONF_MAX_BYTES];
    memcpy(badconf, conf, clen);
    badconf[clen - 1] ^= 1; /* the CRC itself */
    EXPECT_BAD(&t, craft_engine_load_snapshot(e, 5, 2, badconf, clen),
               CRAFT_ECHECKSUM);
    EXPECT_BAD(&t, craft_engine_load_snapshot(e, 5, 2, conf, 3),
               CRAFT_EMALFORMED);
    /* After an entry: the snapshot must come first. */
    for (int k = 0; k < 2; k++) {
        eu_load(t.e[k], 2, 0, ids3, 3, log2t, 2);
    }
    EXPECT_BAD(&t, craft_engine_load_snapshot(e, 5, 2, conf, clen),
               CRAFT_ESTATE);
    twins_script(&t);
    EXPECT_BAD(&t, craft_engine_load_snapshot(e, 50, 2, conf, clen),
               CRAFT_ESTATE);
    twins_more(&t);
    twins_free(&t);
}
END_TEST

START_TEST(load_snapshot_twice)
{
    struct twins t;
    twins_init(&t, 0, 0);
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = eu_conf(ids3, 3, conf);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(craft_engine_load_hard_state(t.e[k], 2, 0), CRAFT_OK);
        ck_assert_int_eq(craft_engine_load_snapshot(t.e[k], 2, 2, conf, clen),
                         CRAFT_OK);
    }
    ck_assert_uint_eq(craft_engine_last_index(t.e[0]), 2);
    ck_assert_uint_eq(craft_engine_commit_index(t.e[0]), 2);
    EXPECT_BAD(&t, craft_engine_load_snapshot(t.e[0], 7, 2, conf, clen),
               CRAFT_ESTATE);
    EXPECT_BAD(&t, craft_engine_load_hard_state(t.e[0], 9, 0), CRAFT_ESTATE);
    twins_script(&t);
    twins_free(&t);
}
END_TEST

/* ---- step: the event itself ----------------------------------------- */

START_TEST(step_null_and_struct_size)
{
    struct twins t;
    twins_init(&t, 1, 1);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TICK;
    ck_assert_int_eq(craft_engine_step(NULL, &ev, t.a[0]), CRAFT_EINVAL);
    /* (A NULL event: see test_engine_regress.c for the list it leaves.) */
    EXPECT_BAD(&t, craft_engine_step(t.e[0], NULL, t.a[0]), CRAFT_EINVAL);
    refill(&t);
    EXPECT_BAD(&t, craft_engine_step(t.e[0], &ev, NULL), CRAFT_EINVAL);
    ck_assert_uint_gt(craft_actions_count(t.a[0]), 0); /* not touched */
    ev.struct_size = 0;
    refill(&t);
    bad_step(&t, &ev, CRAFT_ESTRUCT);
    ev.struct_size = 4; /* not even the type */
    refill(&t);
    bad_step(&t, &ev, CRAFT_ESTRUCT);
    ev.struct_size = (uint32_t)sizeof(ev) + 1;
    refill(&t);
    bad_step(&t, &ev, CRAFT_ESTRUCT);
    ev.struct_size = UINT32_MAX;
    refill(&t);
    bad_step(&t, &ev, CRAFT_ESTRUCT);
    twins_script(&t);
    twins_free(&t);
}
END_TEST

START_TEST(step_accepts_older_smaller_event)
{
    /* The first release's event ended with nids. Garbage past it is not
     * read. */
    const size_t v1 = offsetof(craft_event, nids) + sizeof(size_t);
    struct twins t;
    twins_init(&t, 1, 1);
    union {
        craft_event ev;
        unsigned char bytes[sizeof(craft_event)];
    } u;
    memset(u.bytes, 0xff, sizeof(u.bytes));
    craft_event full = CRAFT_EVENT_INIT;
    full.type = CRAFT_EVENT_PROPOSE;
    craft_buf b = {"zz", 2};
    full.bufs = &b;
    full.nbufs = 1;
    full.id = 77;
    memcpy(u.bytes, &full, v1);
    u.ev.struct_size = (uint32_t)v1;
    ck_assert_int_eq(craft_engine_step(t.e[0], &u.ev, t.a[0]), CRAFT_OK);
    ck_assert_int_eq(craft_engine_step(t.e[1], &full, t.a[1]), CRAFT_OK);
    eu_actions_eq(t.a[0], t.a[1]);
    EU_EXPECT(t.e[0], t.a[0], "RESULT id=77 ENOTLEADER i=0 t=0 n=0 l=2");
    /* The smallest event: struct_size and type (a TICK). */
    memset(u.bytes, 0xff, sizeof(u.bytes));
    u.ev.struct_size = (uint32_t)(offsetof(craft_event, type) +
                                  sizeof(uint32_t));
    u.ev.type = CRAFT_EVENT_TICK;
    full = (craft_event)CRAFT_EVENT_INIT;
    full.type = CRAFT_EVENT_TICK;
    for (int k = 0; k < 30; k++) {
        ck_assert_int_eq(craft_engine_step(t.e[0], &u.ev, t.a[0]), CRAFT_OK);
        ck_assert_int_eq(craft_engine_step(t.e[1], &full, t.a[1]), CRAFT_OK);
        eu_actions_eq(t.a[0], t.a[1]);
    }
    twins_same_state(&t);
    twins_free(&t);
}
END_TEST

START_TEST(step_unknown_event_type)
{
    static const uint32_t types[] = {0, 14, 99, 0x7fffffffu, UINT32_MAX};
    struct twins t;
    twins_init(&t, 1, 1);
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = types[k];
        refill(&t);
        bad_step(&t, &ev, CRAFT_EINVAL);
    }
    twins_script(&t);
    twins_free(&t);
}
END_TEST

/* ---- step: messages ------------------------------------------------- */

/* A valid append for twin 0 (server 1): leader 2, term 3, one entry. */
static uint8_t *good_append(size_t *len)
{
    static const uint8_t p[4] = "data";
    static const struct craft_entry en = {3, CRAFT_ENTRY_NORMAL, 4, p, NULL};
    struct craft_msg m = eu_msg(CRAFT_MSG_APPEND, 2, 1, 3);
    m.index = 2;
    m.log_term = 2;
    m.commit = 2;
    m.entries = &en;
    m.n_entries = 1;
    return eu_encode(&m, len);
}

START_TEST(step_message_null_or_empty)
{
    struct twins t;
    twins_init(&t, 1, 1);
    size_t len;
    uint8_t *b = good_append(&len);
    bad_msg_bytes(&t, NULL, len, CRAFT_EINVAL);
    bad_msg_bytes(&t, b, 0, CRAFT_EINVAL);
    free(b);
    twins_script(&t);
    twins_free(&t);
}
END_TEST

START_TEST(step_message_truncated)
{
    struct twins t;
    twins_init(&t, 1, 1);
    size_t len;
    uint8_t *b = good_append(&len);
    for (size_t n = 1; n < len; n++) {
        /* A copy of exactly n bytes, so a read past them is caught. */
        uint8_t *c = malloc(n);
        memcpy(c, b, n);
        bad_msg_bytes(&t, c, n, CRAFT_EMALFORMED);
        free(c);
    }
    /* Trailing bytes after a whole message. */
    uint8_t *c = malloc(len + 1);
    memcpy(c, b, len);
    c[len] = 0;
    bad_msg_bytes(&t, c, len + 1, CRAFT_EMALFORMED);
    free(c);
    free(b);
    twins_script(&t);
    twins_free(&t);
}
END_TEST

START_TEST(step_message_bit_flips)
{
    struct twins t;
    twins_init(&t, 1, 1);
    size_t len;
    uint8_t *b = good_append(&len);
    for (size_t bit = 0; bit < len * 8; bit++) {
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int want = CRAFT_ECHECKSUM;
        if (bit < 32) {
            /* The length word: it no longer matches the buffer, or is
             * over the limit. */
            uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
                         (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            want = v > CRAFT_MAX_MESSAGE_BYTES ? CRAFT_ETOOBIG
                                               : CRAFT_EMALFORMED;
        }
        bad_msg_bytes(&t, b, len, want);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    free(b);
    twins_script(&t);
    twins_free(&t);
}
END_TEST

/* Rewrites the CRC32C trailer of the frame at buf. */
static void reseal(uint8_t *buf, size_t len)
{
    uint32_t crc = craft_crc32c(0, buf, len - 4);
    for (int k = 0; k < 4; k++) {
        buf[len - 4 + (size_t)k] = (uint8_t)(crc >> (8 * k));
    }
}

START_TEST(step_message_bad_fields_behind_crc)
{
    struct twins t;
    twins_init(&t, 1, 1);
    size_t len;
    uint8_t *b = good_append(&len);
    /* Another format version. */
    b[4] = 2;
    reseal(b, len);
    bad_msg_bytes(&t, b, len, CRAFT_EVERSION);
    free(b);
    /* Unknown message type, a flag the type does not allow, from 0, to 0:
     * each behind a valid CRC. */
    b = good_append(&len);
    b[5] = 0;
    reseal(b, len);
    bad_msg_bytes(&t, b, len, CRAFT_EMALFORMED);
    b[5] = 99;
    reseal(b, len);
    bad_msg_bytes(&t, b, len, CRAFT_EMALFORMED);
    free(b);
    b = good_append(&len);
    b[6] = CRAFT_MSG_F_REJECT;
    reseal(b, len);
    bad_msg_bytes(&t, b, len, CRAFT_EMALFORMED);
    free(b);
    b = good_append(&len);
    memset(b + 8, 0, 8);
    reseal(b, len);
    bad_msg_bytes(&t, b, len, CRAFT_EMALFORMED);
    free(b);
    b = good_append(&len);
    memset(b + 16, 0, 8);
    reseal(b, len);
    bad_msg_bytes(&t, b, len, CRAFT_EMALFORMED);
    free(b);
    /* An entry count that lies (larger than the bytes can hold). */
    b = good_append(&len);
    b[56] = 0xff;
    b[57] = 0xff;
    reseal(b, len);
    bad_msg_bytes(&t, b, len, CRAFT_EMALFORMED);
    free(b);
    twins_script(&t);
    twins_free(&t);
}
END_TEST

START_TEST(step_message_too_big)
{
    struct twins t;
    twins_init(&t, 1, 1);
    size_t n = (size_t)CRAFT_MAX_MESSAGE_BYTES + 1;
    uint8_t *b = calloc(1, n);
    ck_assert_ptr_nonnull(b);
    size_t len;
    uint8_t *g = good_append(&len);
    memcpy(b, g, len);
    free(g);
    bad_msg_bytes(&t, b, n, CRAFT_ETOOBIG);
    free(b);
    twins_script(&t);
    twins_free(&t);
}
END_TEST

START_TEST(step_message_wrong_addressee_or_content)
{
    struct twins t;
    twins_init(&t, 1, 1);
    uint8_t p[4] = "data";
    struct craft_entry en = {3, CRAFT_ENTRY_NORMAL, 4, p, NULL};
    struct craft_msg m = eu_msg(CRAFT_MSG_APPEND, 2, 3, 3);
    m.index = 2;
    m.log_term = 2;
    m.entries = &en;
    m.n_entries = 1;
    /* For server 3, not us. */
    bad_msg(&t, &m, CRAFT_EINVAL);
    /* "From" ourselves. */
    m.from = 1;
    m.to = 1;
    bad_msg(&t, &m, CRAFT_EINVAL);
    /* A vote request for someone else. */
    struct craft_msg v = eu_msg(CRAFT_MSG_VOTE, 2, 7, 9);
    v.index = 9;
    v.log_term = 9;
    bad_msg(&t, &v, CRAFT_EINVAL);
    /* An entry of a later term than the message's. */
    m.from = 2;
    en.term = 4;
    bad_msg(&t, &m, CRAFT_EMALFORMED);
    /* An entry of term 0. */
    en.term = 0;
    bad_msg(&t, &m, CRAFT_EMALFORMED);
    /* An entry of a term below the entry it follows: a leader's log never
     * has a term go down (Log Matching). */
    en.term = 1;
    bad_msg(&t, &m, CRAFT_EMALFORMED);
    /* ... nor going down along the entries. */
    struct craft_entry two[2] = {{3, CRAFT_ENTRY_NORMAL, 4, p, NULL},
                                 {2, CRAFT_ENTRY_NORMAL, 4, p, NULL}};
    m.entries = two;
    m.n_entries = 2;
    bad_msg(&t, &m, CRAFT_EMALFORMED);
    m.entries = &en;
    m.n_entries = 1;
    /* A CONFIG entry whose membership does not decode. */
    en.term = 3;
    en.type = CRAFT_ENTRY_CONFIG;
    bad_msg(&t, &m, CRAFT_EMALFORMED);
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = eu_conf(ids3, 3, conf);
    conf[7] ^= 4;
    en.data = conf;
    en.len = (uint32_t)clen;
    bad_msg(&t, &m, CRAFT_ECHECKSUM);
    conf[7] ^= 4; /* whole again */
    /* A snapshot past CRAFT_MAX_INDEX: the log after it would have no
     * room (found by the engine fuzzer: the next index wrapped to 0). */
    uint8_t chunk[4] = "snap";
    struct craft_msg s = eu_msg(CRAFT_MSG_SNAPSHOT, 2, 1, 3);
    s.flags = CRAFT_MSG_F_LAST;
    s.log_term = 2;
    s.data = chunk;
    s.len = sizeof(chunk);
    s.conf = conf;
    s.conf_len = clen;
    s.index = UINT64_MAX;
    bad_msg(&t, &s, CRAFT_EMALFORMED);
    s.index = CRAFT_MAX_INDEX + 1;
    bad_msg(&t, &s, CRAFT_EMALFORMED);
    twins_script(&t);
    twins_free(&t);
}
END_TEST

/* ---- step: proposals and bootstrap ---------------------------------- */

START_TEST(step_propose_bad)
{
    struct twins t;
    twins_init(&t, 1, 1);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    refill(&t);
    bad_step(&t, &ev, CRAFT_EINVAL); /* no bufs */
    craft_buf b[2] = {{"x", 1}, {NULL, 3}};
    ev.bufs = b;
    ev.nbufs = 0;
    refill(&t);
    bad_step(&t, &ev, CRAFT_EINVAL); /* zero bufs */
    ev.nbufs = 2;
    refill(&t);
    bad_step(&t, &ev, CRAFT_EINVAL); /* NULL base, non-zero len */
    /* Oversized: one payload over the limit (never read), too many. */
    b[1].base = "y";
    b[1].len = (size_t)CRAFT_MAX_ENTRY_BYTES + 1;
    refill(&t);
    bad_step(&t, &ev, CRAFT_ETOOBIG);
    b[1].len = SIZE_MAX;
    refill(&t);
    bad_step(&t, &ev, CRAFT_ETOOBIG);
    ev.nbufs = (size_t)CRAFT_MAX_PROPOSALS + 1; /* not read either */
    refill(&t);
    bad_step(&t, &ev, CRAFT_ETOOBIG);
    ev.nbufs = SIZE_MAX;
    refill(&t);
    bad_step(&t, &ev, CRAFT_ETOOBIG);
    twins_script(&t);
    twins_free(&t);
}
END_TEST

START_TEST(step_propose_oversized_on_leader)
{
    /* The same on a leader, where a proposal would change the log. */
    struct twins t;
    twins_init(&t, 1, 1);
    twins_to_leader(&t);
    ck_assert_int_eq(craft_engine_role(t.e[0]), CRAFT_ROLE_LEADER);
    craft_buf b[2] = {{"x", 1}, {"y", (size_t)CRAFT_MAX_ENTRY_BYTES + 1}};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = b;
    ev.nbufs = 2;
    craft_event tick = CRAFT_EVENT_INIT;
    tick.type = CRAFT_EVENT_TICK;
    twins_step(&t, &tick);
    bad_step(&t, &ev, CRAFT_ETOOBIG);
    /* The leader goes on as if nothing happened. */
    b[1].len = 1;
    twins_step(&t, &ev);
    twins_step(&t, &tick);
    twins_free(&t);
}
END_TEST

START_TEST(step_bootstrap_bad)
{
    /* On a non-empty engine. */
    struct twins t;
    twins_init(&t, 1, 1);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_BOOTSTRAP;
    ev.ids = ids3;
    ev.nids = 3;
    refill(&t);
    bad_step(&t, &ev, CRAFT_ESTATE);
    twins_script(&t);
    twins_free(&t);

    /* On an engine with only a hard state, or only a snapshot. */
    twins_init(&t, 0, 0);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(craft_engine_load_hard_state(t.e[k], 2, 0), CRAFT_OK);
    }
    EXPECT_BAD_STEP(&t, craft_engine_step(t.e[0], &ev, t.a[0]), CRAFT_ESTATE);
    twins_script(&t);
    twins_free(&t);

    /* Bad ids on an empty engine (then a good bootstrap works). */
    twins_init(&t, 0, 0);
    static const uint64_t with0[] = {1, 0, 3};
    static const uint64_t dup[] = {1, 2, 2};
    static const uint64_t noself[] = {2, 3, 4};
    uint64_t many[CRAFT_MAX_MEMBERS + 1];
    for (size_t k = 0; k <= CRAFT_MAX_MEMBERS; k++) {
        many[k] = k + 1;
    }
    const struct {
        const uint64_t *ids;
        size_t n;
        int want;
    } bad[] = {{NULL, 3, CRAFT_EINVAL},     {ids3, 0, CRAFT_EINVAL},
               {with0, 3, CRAFT_EINVAL},    {dup, 3, CRAFT_EINVAL},
               {noself, 3, CRAFT_EINVAL},
               {many, CRAFT_MAX_MEMBERS + 1, CRAFT_ETOOBIG}};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        ev.ids = bad[k].ids;
        ev.nids = bad[k].n;
        EXPECT_BAD_STEP(&t, craft_engine_step(t.e[0], &ev, t.a[0]),
                        bad[k].want);
    }
    ev.ids = ids3;
    ev.nids = 3;
    twins_step(&t, &ev);
    EU_EXPECT(t.e[0], t.a[0], "HS t=1 v=0 | APPEND i=1 [1C]");
    /* And a second bootstrap is refused. */
    EXPECT_BAD_STEP(&t, craft_engine_step(t.e[0], &ev, t.a[0]), CRAFT_ESTATE);
    craft_event tick = CRAFT_EVENT_INIT;
    tick.type = CRAFT_EVENT_TICK;
    for (int k = 0; k < 30; k++) {
        twins_step(&t, &tick);
    }
    twins_free(&t);
}
END_TEST

/* ---- the actions list ---------------------------------------------- */

START_TEST(actions_create_bad)
{
    craft_actions *sentinel = (craft_actions *)(uintptr_t)0x1234;
    craft_actions *a = sentinel;
    ck_assert_int_eq(craft_actions_create(NULL, NULL), CRAFT_EINVAL);
    craft_allocator al = CRAFT_ALLOCATOR_INIT;
    ck_assert_int_eq(craft_actions_create(&al, &a), CRAFT_EINVAL);
    ck_assert_ptr_eq(a, sentinel);
    al.struct_size = 0;
    ck_assert_int_eq(craft_actions_create(&al, &a), CRAFT_ESTRUCT);
    al.struct_size = (uint32_t)sizeof(al) + 1;
    ck_assert_int_eq(craft_actions_create(&al, &a), CRAFT_ESTRUCT);
    ck_assert_ptr_eq(a, sentinel);
    craft_actions_free(NULL);
}
END_TEST

static void expect_accessors_empty(craft_actions *a, size_t i)
{
    const void *d = (const void *)(uintptr_t)0x99;
    size_t len = 77;
    uint64_t term = 5;
    uint32_t type = 5;
    ck_assert_int_eq(craft_action_type(a, i), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_action_term(a, i), 0);
    ck_assert_uint_eq(craft_action_index(a, i), 0);
    ck_assert_uint_eq(craft_action_vote(a, i), 0);
    ck_assert_uint_eq(craft_action_peer(a, i), 0);
    ck_assert_uint_eq(craft_action_leader(a, i), 0);
    ck_assert_uint_eq(craft_action_id(a, i), 0);
    ck_assert_int_eq(craft_action_role(a, i), 0);
    ck_assert_int_eq(craft_action_status(a, i), 0);
    ck_assert_uint_eq(craft_action_count(a, i), 0);
    ck_assert_int_eq(craft_action_entry(a, i, 0, &term, &type, &d, &len),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_action_message(a, i, &d, &len), CRAFT_EINVAL);
    /* Out pointers are not written on error. */
    ck_assert_uint_eq(term, 5);
    ck_assert_uint_eq(type, 5);
    ck_assert_ptr_eq(d, (const void *)(uintptr_t)0x99);
    ck_assert_uint_eq(len, 77);
}

START_TEST(action_accessors_bad)
{
    ck_assert_uint_eq(craft_actions_count(NULL), 0);
    expect_accessors_empty(NULL, 0);
    expect_accessors_empty(NULL, 5);
    craft_actions *a = eu_actions();
    ck_assert_uint_eq(craft_actions_count(a), 0);
    expect_accessors_empty(a, 0); /* never filled */
    /* A leader's proposal: RESULT, SEND, SEND, APPEND. */
    struct host net;
    eu_hosts(&net, 3, NULL, 1);
    eu_elect(&net, 1);
    host_node(&net, 1)->hold_persist = 1;
    host_propose(&net, host_node(&net, 1), 1, "p", 1);
    craft_actions *la = host_node(&net, 1)->acts;
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=1 OK i=3 t=2 n=1 l=1 | "
                  "SEND >2 APPEND t=2 prev=2/2 c=2 [2N] | "
                  "SEND >3 APPEND t=2 prev=2/2 c=2 [2N] | APPEND i=3 [2N]");
    ck_assert_uint_eq(craft_actions_count(la), 4);
    expect_accessors_empty(la, 4);
    expect_accessors_empty(la, SIZE_MAX);
    const void *d;
    size_t len;
    /* Entry accessors on a non-entry action, k out of range. */
    ck_assert_int_eq(craft_action_entry(la, 0, 0, NULL, NULL, NULL, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_action_entry(la, 1, 0, NULL, NULL, NULL, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_action_entry(la, 3, 1, NULL, NULL, NULL, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_action_entry(la, 3, SIZE_MAX, NULL, NULL, NULL,
                                        NULL),
                     CRAFT_EINVAL);
    /* All out pointers may be NULL. */
    ck_assert_int_eq(craft_action_entry(la, 3, 0, NULL, NULL, NULL, NULL),
                     CRAFT_OK);
    /* Message of a non-SEND; NULL out pointers. */
    ck_assert_int_eq(craft_action_message(la, 0, &d, &len), CRAFT_EINVAL);
    ck_assert_int_eq(craft_action_message(la, 3, &d, &len), CRAFT_EINVAL);
    ck_assert_int_eq(craft_action_message(la, 1, NULL, &len), CRAFT_EINVAL);
    ck_assert_int_eq(craft_action_message(la, 1, &d, NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_action_message(NULL, 1, &d, &len), CRAFT_EINVAL);
    ck_assert_int_eq(craft_action_message(la, 1, &d, &len), CRAFT_OK);
    ck_assert_uint_gt(len, 0);
    /* Messages stay put when others are asked for. */
    const void *d2;
    size_t len2;
    ck_assert_int_eq(craft_action_message(la, 2, &d2, &len2), CRAFT_OK);
    const void *d1b;
    size_t len1b;
    ck_assert_int_eq(craft_action_message(la, 1, &d1b, &len1b), CRAFT_OK);
    ck_assert_ptr_eq(d, d1b);
    ck_assert_uint_eq(len, len1b);
    eu_free(&net);
    craft_actions_free(a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_badinput");
    TCase *tc = tcase_create("create");
    tcase_add_test(tc, create_rejects_bad_options);
    tcase_add_test(tc, create_accepts_older_smaller_options);
    tcase_add_test(tc, accessors_on_null_engine);
    suite_add_tcase(s, tc);

    tc = tcase_create("load");
    tcase_add_test(tc, load_hard_state_bad);
    tcase_add_test(tc, load_entry_bad);
    tcase_add_test(tc, load_snapshot_bad);
    tcase_add_test(tc, load_snapshot_twice);
    suite_add_tcase(s, tc);

    tc = tcase_create("step");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, step_null_and_struct_size);
    tcase_add_test(tc, step_accepts_older_smaller_event);
    tcase_add_test(tc, step_unknown_event_type);
    tcase_add_test(tc, step_message_null_or_empty);
    tcase_add_test(tc, step_message_truncated);
    tcase_add_test(tc, step_message_bit_flips);
    tcase_add_test(tc, step_message_bad_fields_behind_crc);
    tcase_add_test(tc, step_message_too_big);
    tcase_add_test(tc, step_message_wrong_addressee_or_content);
    tcase_add_test(tc, step_propose_bad);
    tcase_add_test(tc, step_propose_oversized_on_leader);
    tcase_add_test(tc, step_bootstrap_bad);
    suite_add_tcase(s, tc);

    tc = tcase_create("actions");
    tcase_add_test(tc, actions_create_bad);
    tcase_add_test(tc, action_accessors_bad);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
