/*
 * tests/unit/test_engine_alloc.c: the engine's allocations, through the
 * allocator hook.
 *
 *  - A counting allocator shows that the steady-state steps (a leader's
 *    heartbeat tick, a proposal, an append response, a durability report;
 *    a follower's append and heartbeat), including the encoding of their
 *    messages, allocate nothing once warmed up.
 *  - A failing allocator makes allocation k fail, for every k, during
 *    craft_engine_create, craft_actions_create, craft_engine_load_entry and
 *    every kind of step that allocates: each returns CRAFT_ENOMEM, leaves
 *    the engine unchanged (a retry then matches a twin that never failed,
 *    byte for byte), and nothing leaks (live bytes are 0 after free).
 */
#include <stdalign.h>
#include <stddef.h>

#include "engine_util.h"
#include "harness.h"

/* ---- the counting, failing allocator ------------------------------- */

struct ca {
    long calls;  /* malloc + realloc calls, failed ones included */
    long failed; /* calls made to fail */
    long fail_at;   /* the call with this number fails (0: none) */
    int fail_from;  /* and, if set, every call after it */
    size_t live;    /* bytes allocated and not freed */
    long blocks;    /* blocks allocated and not freed */
};

#define CA_HDR 16 /* keeps max_align_t alignment */
_Static_assert(CA_HDR >= sizeof(size_t) && CA_HDR % alignof(max_align_t) == 0,
               "header must keep alignment");

static int ca_fail(struct ca *c)
{
    c->calls++;
    if (c->fail_at != 0 &&
        (c->calls == c->fail_at || (c->fail_from && c->calls > c->fail_at))) {
        c->failed++;
        return 1;
    }
    return 0;
}

static void *ca_malloc(void *user, size_t size)
{
    struct ca *c = user;
    if (ca_fail(c)) {
        return NULL;
    }
    unsigned char *p = malloc(CA_HDR + size);
    ck_assert_ptr_nonnull(p);
    memcpy(p, &size, sizeof(size));
    c->live += size;
    c->blocks++;
    return p + CA_HDR;
}

static void *ca_realloc(void *user, void *ptr, size_t size)
{
    struct ca *c = user;
    if (ptr == NULL) {
        return ca_malloc(user, size);
    }
    if (ca_fail(c)) {
        return NULL;
    }
    unsigned char *h = (unsigned char *)ptr - CA_HDR;
    size_t old;
    memcpy(&old, h, sizeof(old));
    unsigned char *p = realloc(h, CA_HDR + size);
    ck_assert_ptr_nonnull(p);
    memcpy(p, &size, sizeof(size));
    c->live = c->live - old + size;
    return p + CA_HDR;
}

static void ca_free(void *user, void *ptr)
{
    struct ca *c = user;
    if (ptr == NULL) {
        return;
    }
    unsigned char *h = (unsigned char *)ptr - CA_HDR;
    size_t old;
    memcpy(&old, h, sizeof(old));
    ck_assert_uint_ge(c->live, old);
    c->live -= old;
    c->blocks--;
    free(h);
}

static craft_allocator ca_hook(struct ca *c)
{
    craft_allocator a = CRAFT_ALLOCATOR_INIT;
    a.user = c;
    a.malloc = ca_malloc;
    a.realloc = ca_realloc;
    a.free = ca_free;
    return a;
}

/* ---- steady state: no allocation ------------------------------------ */

static const uint64_t ids3[] = {1, 2, 3};
static const uint64_t t1[] = {1};

START_TEST(steady_state_allocates_nothing)
{
    struct ca cl = {0}, cf = {0};
    craft_allocator al = ca_hook(&cl), af = ca_hook(&cf);
    struct host net;
    eu_hosts(&net, 3, NULL, 0);
    /* Leader 1 and follower 2 allocate through counting hooks, engine
     * and actions list alike. */
    host_node(&net, 1)->opts.allocator = &al;
    host_node(&net, 1)->acts_alloc = &al;
    host_node(&net, 2)->opts.allocator = &af;
    host_node(&net, 2)->acts_alloc = &af;
    for (uint64_t id = 1; id <= 3; id++) {
        eu_set_disk(&net, id, 1, 0, t1, 1);
        host_node_start(&net, host_node(&net, id));
    }
    eu_elect(&net, 1);
    /* Warm-up: 200 proposals of 64 bytes, acknowledged, heartbeats. */
    uint8_t p[64];
    memset(p, 'p', sizeof(p));
    for (int k = 0; k < 200; k++) {
        host_propose(&net, host_node(&net, 1), (uint64_t)k, p, sizeof(p));
        host_deliver_all(&net);
        host_tick(&net, host_node(&net, 1));
        host_deliver_all(&net);
    }
    ck_assert_uint_eq(craft_engine_commit_index(host_node(&net, 1)->e), 202);
    struct host_node *ld = host_node(&net, 1), *f2 = host_node(&net, 2);
    ld->hold_persist = 1;
    f2->hold_persist = 1;
    for (int round = 0; round < 20; round++) {
        long l0 = cl.calls, f0 = cf.calls;
        /* Leader: a heartbeat tick (and the messages' bytes, which the
         * net asks for with craft_action_message). */
        char want[128];
        unsigned long long c = craft_engine_commit_index(ld->e);
        snprintf(want, sizeof(want),
                 "SEND >2 HEARTBEAT t=2 c=%llu | SEND >3 HEARTBEAT t=2 c=%llu",
                 c, c);
        host_tick(&net, host_node(&net, 1));
        EU_EXPECT_STR(eu_out(&net, 1), want);
        ck_assert_int_eq(cl.calls - l0, 0);
        /* Follower: the heartbeat, and its answer's bytes. */
        ck_assert(host_deliver_one(&net, CRAFT_MSG_HEARTBEAT, 1, 2));
        ck_assert_int_eq(cf.calls - f0, 0);
        host_deliver_all(&net);
        /* Leader: a 64-byte proposal. */
        uint64_t idx = craft_engine_last_index(ld->e) + 1;
        host_propose(&net, host_node(&net, 1), 1000, p, sizeof(p));
        ck_assert_int_eq(cl.calls - l0, 0);
        /* Follower: the append, and its answer's bytes. */
        ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, 2));
        snprintf(want, sizeof(want),
                 "APPEND i=%llu [2N] | SEND >1 APPEND_RESP t=2 i=%llu",
                 (unsigned long long)idx, (unsigned long long)idx);
        EU_EXPECT_STR(eu_out(&net, 2), want);
        host_persist_pending(&net, host_node(&net, 2));
        ck_assert_int_eq(cf.calls - f0, 0);
        /* Leader: the append response (commits: 2 of 3 with node 2 and
         * then its own write). */
        ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 2, 1));
        host_persist_pending(&net, host_node(&net, 1));
        snprintf(want, sizeof(want), "APPLY i=%llu [2N]",
                 (unsigned long long)idx);
        EU_EXPECT_STR(eu_out(&net, 1), want);
        ck_assert_int_eq(cl.calls - l0, 0);
        ck_assert_int_eq(cf.calls - f0, 0);
        host_deliver_all(&net);
    }
    eu_free(&net);
    ck_assert_uint_eq(cl.live, 0);
    ck_assert_int_eq(cl.blocks, 0);
    ck_assert_uint_eq(cf.live, 0);
    ck_assert_int_eq(cf.blocks, 0);
}
END_TEST

/* ---- failing allocations -------------------------------------------- */

START_TEST(create_enomem)
{
    int failures = 0;
    for (long k = 1;; k++) {
        struct ca c = {0};
        c.fail_at = k;
        craft_allocator al = ca_hook(&c);
        craft_engine_options o = eu_opts(1);
        o.allocator = &al;
        craft_engine *sentinel = (craft_engine *)(uintptr_t)0x42;
        craft_engine *e = sentinel;
        int rv = craft_engine_create(&o, &e);
        if (c.failed == 0) {
            ck_assert_int_eq(rv, CRAFT_OK);
            craft_engine_free(e);
            ck_assert_uint_eq(c.live, 0);
            break;
        }
        ck_assert_int_eq(rv, CRAFT_ENOMEM);
        ck_assert_ptr_eq(e, sentinel);
        ck_assert_uint_eq(c.live, 0);
        ck_assert_int_eq(c.blocks, 0);
        failures++;
    }
    ck_assert_int_ge(failures, 1);
    /* Every allocation from k on failing. */
    for (long k = 1; k <= failures; k++) {
        struct ca c = {0};
        c.fail_at = k;
        c.fail_from = 1;
        craft_allocator al = ca_hook(&c);
        craft_engine_options o = eu_opts(1);
        o.allocator = &al;
        craft_engine *e = NULL;
        ck_assert_int_eq(craft_engine_create(&o, &e), CRAFT_ENOMEM);
        ck_assert_uint_eq(c.live, 0);
    }
    /* The actions list. */
    struct ca c = {0};
    c.fail_at = 1;
    craft_allocator al = ca_hook(&c);
    craft_actions *a = NULL;
    ck_assert_int_eq(craft_actions_create(&al, &a), CRAFT_ENOMEM);
    ck_assert_ptr_null(a);
    ck_assert_uint_eq(c.live, 0);
    c.fail_at = 0;
    ck_assert_int_eq(craft_actions_create(&al, &a), CRAFT_OK);
    craft_actions_free(a);
    ck_assert_uint_eq(c.live, 0);
}
END_TEST

/*
 * Twin engines of server 1, each with its own counting allocator; twin 0
 * is the one made to fail. A setup brings both to the same state; an op
 * is the call under test, on twin w.
 */
struct fx {
    struct ca c[2];
    craft_allocator al[2];
    craft_engine *e[2];
    craft_actions *a[2];
};

typedef void (*setup_fn)(struct fx *f, int w);
typedef int (*op_fn)(struct fx *f, int w);

static void fx_init(struct fx *f, setup_fn setup)
{
    memset(f, 0, sizeof(*f));
    for (int w = 0; w < 2; w++) {
        f->al[w] = ca_hook(&f->c[w]);
        craft_engine_options o = eu_opts(1);
        o.allocator = &f->al[w];
        f->e[w] = eu_create(&o);
        ck_assert_int_eq(craft_actions_create(&f->al[w], &f->a[w]), CRAFT_OK);
        if (setup != NULL) {
            setup(f, w);
        }
    }
}

static void fx_free(struct fx *f)
{
    for (int w = 0; w < 2; w++) {
        craft_actions_free(f->a[w]);
        craft_engine_free(f->e[w]);
        ck_assert_uint_eq(f->c[w].live, 0);
        ck_assert_int_eq(f->c[w].blocks, 0);
    }
}

/*
 * For k = 1, 2, ...: a fresh pair; allocation k of twin 0's op fails (and,
 * with from set, every one after it). The op must return CRAFT_ENOMEM,
 * leave the actions list empty and the engine's state as the twin's; a
 * retry must then succeed with exactly the twin's actions. Stops at the
 * first k past the op's allocations; returns how many failed.
 */
static int sweep(setup_fn setup, op_fn op, int from)
{
    int failures = 0;
    for (long k = 1; k < 10000; k++) {
        struct fx f;
        fx_init(&f, setup);
        f.c[0].fail_at = f.c[0].calls + k;
        f.c[0].fail_from = from;
        int rv = op(&f, 0);
        if (f.c[0].failed == 0) {
            ck_assert_int_eq(rv, CRAFT_OK);
            f.c[0].fail_at = 0;
            ck_assert_int_eq(op(&f, 1), CRAFT_OK);
            eu_actions_eq(f.a[0], f.a[1]);
            fx_free(&f);
            return failures;
        }
        ck_assert_msg(rv == CRAFT_ENOMEM, "allocation %ld failed: got %d", k,
                      rv);
        ck_assert_uint_eq(craft_actions_count(f.a[0]), 0);
        EU_STATE_EQ(eu_state_of(f.e[0]), eu_state_of(f.e[1]));
        failures++;
        /* Memory is back: the same call succeeds like the twin's. */
        f.c[0].fail_at = 0;
        ck_assert_int_eq(op(&f, 0), CRAFT_OK);
        ck_assert_int_eq(op(&f, 1), CRAFT_OK);
        eu_actions_eq(f.a[0], f.a[1]);
        EU_STATE_EQ(eu_state_of(f.e[0]), eu_state_of(f.e[1]));
        /* And so do the steps after it. */
        for (int t = 0; t < 30; t++) {
            ck_assert_int_eq(eu_tick(f.e[0], f.a[0]), CRAFT_OK);
            ck_assert_int_eq(eu_tick(f.e[1], f.a[1]), CRAFT_OK);
            eu_actions_eq(f.a[0], f.a[1]);
        }
        fx_free(&f);
    }
    ck_abort_msg("the op never stopped allocating");
    return -1;
}

static void sweep_both(setup_fn setup, op_fn op, int min_failures)
{
    int n = sweep(setup, op, 0);
    ck_assert_int_ge(n, min_failures);
    ck_assert_int_eq(sweep(setup, op, 1), n);
}

/* Setups. */
static void setup_loaded(struct fx *f, int w)
{
    eu_load(f->e[w], 2, 0, ids3, 3, (const uint64_t[]){1, 2}, 2);
}

/* Loaded, then leader of term 3 (ticks, pre-vote and vote granted by 3),
 * no-op durable, messages encoded. */
static void setup_leader(struct fx *f, int w)
{
    setup_loaded(f, w);
    craft_engine *e = f->e[w];
    craft_actions *a = f->a[w];
    while (craft_engine_role(e) != CRAFT_ROLE_PRE_CANDIDATE) {
        ck_assert_int_eq(eu_tick(e, a), CRAFT_OK);
    }
    struct craft_msg m = eu_msg(CRAFT_MSG_PREVOTE_RESP, 3, 1, 3);
    ck_assert_int_eq(eu_inject(e, a, &m), CRAFT_OK);
    m = eu_msg(CRAFT_MSG_VOTE_RESP, 3, 1, 3);
    ck_assert_int_eq(eu_inject(e, a, &m), CRAFT_OK);
    ck_assert_int_eq(craft_engine_role(e), CRAFT_ROLE_LEADER);
    const void *d;
    size_t len;
    ck_assert_int_eq(craft_action_message(a, 1, &d, &len), CRAFT_OK);
    ck_assert_int_eq(eu_persisted(e, a, 3, 3), CRAFT_OK);
    /* Both followers match: they are in REPLICATE. */
    for (uint64_t from = 2; from <= 3; from++) {
        m = eu_msg(CRAFT_MSG_APPEND_RESP, from, 1, 3);
        m.index = 3;
        ck_assert_int_eq(eu_inject(e, a, &m), CRAFT_OK);
    }
    ck_assert_uint_eq(craft_engine_commit_index(e), 3);
}

/* Ops. */
static int op_bootstrap(struct fx *f, int w)
{
    return eu_bootstrap(f->e[w], f->a[w], ids3, 3);
}

static void setup_hard_state(struct fx *f, int w)
{
    ck_assert_int_eq(craft_engine_load_hard_state(f->e[w], 5, 0), CRAFT_OK);
}

static int op_load_entry(struct fx *f, int w)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = eu_conf(ids3, 3, conf);
    return craft_engine_load_entry(f->e[w], 1, 1, CRAFT_ENTRY_CONFIG, conf,
                                   clen);
}

static int op_first_append(struct fx *f, int w)
{
    static uint8_t big[1000];
    struct craft_entry en[20];
    for (int k = 0; k < 20; k++) {
        en[k] = (struct craft_entry){3, CRAFT_ENTRY_NORMAL, sizeof(big), big,
                                     NULL};
    }
    struct craft_msg m = eu_msg(CRAFT_MSG_APPEND, 2, 1, 3);
    m.index = 2;
    m.log_term = 2;
    m.commit = 2;
    m.entries = en;
    m.n_entries = 20;
    return eu_inject(f->e[w], f->a[w], &m);
}

static int op_big_proposal(struct fx *f, int w)
{
    /* Larger than an arena block: a block of its own. */
    static uint8_t big[300 * 1024];
    craft_buf b = {big, sizeof(big)};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = &b;
    ev.nbufs = 1;
    return craft_engine_step(f->e[w], &ev, f->a[w]);
}

static int op_many_proposals(struct fx *f, int w)
{
    static craft_buf bufs[1000];
    for (int k = 0; k < 1000; k++) {
        bufs[k].base = "e";
        bufs[k].len = 1;
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = bufs;
    ev.nbufs = 1000;
    return craft_engine_step(f->e[w], &ev, f->a[w]);
}

START_TEST(bootstrap_enomem)
{
    sweep_both(NULL, op_bootstrap, 1);
}
END_TEST

START_TEST(load_entry_enomem)
{
    sweep_both(setup_hard_state, op_load_entry, 1);
}
END_TEST

START_TEST(first_append_enomem)
{
    sweep_both(setup_loaded, op_first_append, 1);
}
END_TEST

START_TEST(big_proposal_enomem)
{
    sweep_both(setup_leader, op_big_proposal, 1);
}
END_TEST

START_TEST(many_proposals_enomem)
{
    sweep_both(setup_leader, op_many_proposals, 1);
}
END_TEST

START_TEST(encode_enomem)
{
    /* First the step succeeds, then the encode fails: the list keeps its
     * actions and a retry hands out the same bytes. */
    struct fx f;
    fx_init(&f, setup_leader);
    for (int w = 0; w < 2; w++) {
        ck_assert_int_eq(op_many_proposals(&f, w), CRAFT_OK);
    }
    size_t n = craft_actions_count(f.a[0]);
    ck_assert_uint_eq(n, 4);
    f.c[0].fail_at = f.c[0].calls + 1;
    const void *d;
    size_t len;
    ck_assert_int_eq(craft_action_message(f.a[0], 1, &d, &len), CRAFT_ENOMEM);
    ck_assert_uint_eq(craft_actions_count(f.a[0]), n);
    f.c[0].fail_at = 0;
    eu_actions_eq(f.a[0], f.a[1]);
    fx_free(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_alloc");
    TCase *tc = tcase_create("steady");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, steady_state_allocates_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("enomem");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, create_enomem);
    tcase_add_test(tc, bootstrap_enomem);
    tcase_add_test(tc, load_entry_enomem);
    tcase_add_test(tc, first_append_enomem);
    tcase_add_test(tc, big_proposal_enomem);
    tcase_add_test(tc, many_proposals_enomem);
    tcase_add_test(tc, encode_enomem);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
