/*
 * tests/integration/test_node_wait.c: the blocking conveniences of the
 * node API.
 *
 *  - craft_node_read_wait runs its function on the apply thread after the
 *    ReadIndex round, sees every completed write, returns the function's
 *    status (CRAFT_ECALLBACK for a failure) or the read's error, and
 *    refuses bad calls;
 *  - the wait_leader option: proposals and reads made while no leader is
 *    known wait for one (until their deadline) instead of failing at once;
 *  - the wait_room option: a proposal made while max_pending proposals are
 *    pending waits for room (until its deadline) instead of CRAFT_EBUSY.
 */
#include "node_harness.h"

/* ---- read_wait ----------------------------------------------------------- */

struct rctx {
    struct tfsm *fsm;
    pthread_t caller;
    int ran;
    int on_caller; /* fn ran on the calling thread: must not */
    uint64_t index;
    uint64_t sum;
    uint64_t last;
    int ret; /* what fn returns */
};

static int read_fn(void *ctx, uint64_t index)
{
    struct rctx *r = ctx;
    r->ran++;
    r->on_caller = pthread_equal(pthread_self(), r->caller);
    r->index = index;
    tfsm_read(r->fsm, NULL, &r->sum, &r->last);
    return r->ret;
}

static void rctx_init(struct rctx *r, struct tfsm *fsm)
{
    memset(r, 0, sizeof(*r));
    r->fsm = fsm;
    r->caller = pthread_self();
}

START_TEST(read_wait_sees_completed_writes)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 3);
    uint64_t sum = 0;
    for (uint64_t v = 1; v <= 20; v++) {
        tc_commit(&c, v);
        sum += v;
        uint64_t leader = tc_wait_leader(&c);
        /* on the leader and on a follower (which asks the leader) */
        uint64_t ids[2] = {leader, leader % 3 + 1};
        for (int k = 0; k < 2; k++) {
            struct rctx r;
            rctx_init(&r, &tc_node(&c, ids[k])->fsm);
            int rv = craft_node_read_wait(tc_node(&c, ids[k])->node, 0,
                                          read_fn, &r);
            if (rv != CRAFT_OK) {
                /* only a leader change may fail it */
                ck_assert_msg(rv == CRAFT_ENOTLEADER ||
                                  rv == CRAFT_ESTEPPEDDOWN,
                              "read failed: %s", craft_strerror(rv));
                ck_assert_int_eq(r.ran, 0);
                continue;
            }
            ck_assert_int_eq(r.ran, 1);
            ck_assert_int_eq(r.on_caller, 0);
            ck_assert_uint_eq(r.sum, sum);
            /* (r.last, the state machine's last entry, may be below the
             * read index: after a leader change that index is the new
             * leader's no-op entry, which the state machine never sees) */
        }
    }
    tc_free(&c);
}
END_TEST

START_TEST(read_wait_status_and_errors)
{
    struct tcluster c;
    struct rctx r;
    tc_init(&c);
    tc_start(&c, 3);
    tc_commit(&c, 4);
    uint64_t leader = tc_wait_leader(&c);
    craft_node *n = tc_node(&c, leader)->node;

    /* fn's failure becomes CRAFT_ECALLBACK; fn ran once */
    rctx_init(&r, &tc_node(&c, leader)->fsm);
    r.ret = CRAFT_ECORRUPT;
    ck_assert_int_eq(craft_node_read_wait(n, 0, read_fn, &r),
                     CRAFT_ECALLBACK);
    ck_assert_int_eq(r.ran, 1);
    r.ret = 7; /* any non-zero value */
    ck_assert_int_eq(craft_node_read_wait(n, 0, read_fn, &r),
                     CRAFT_ECALLBACK);
    ck_assert_int_eq(r.ran, 2);

    /* fn NULL: a barrier, the read index is applied when it returns */
    uint64_t index = tc_commit(&c, 5);
    ck_assert_int_eq(craft_node_read_wait(n, 0, NULL, NULL), CRAFT_OK);
    ck_assert_uint_ge(craft_node_applied_index(n), index);
    uint64_t sum = 0;
    tfsm_read(&tc_node(&c, leader)->fsm, NULL, &sum, NULL);
    ck_assert_uint_eq(sum, 9);

    /* bad calls */
    ck_assert_int_eq(craft_node_read_wait(NULL, 0, read_fn, &r),
                     CRAFT_EINVAL);
    uint64_t reads = tc_metric(&c, leader, CRAFT_METRIC_READS);
    ck_assert_uint_ge(reads, 3);

    /* a leader cut off in a minority: the deadline */
    craft_hub_isolate(c.hub, leader, 1);
    rctx_init(&r, &tc_node(&c, leader)->fsm);
    int64_t t0 = tc_now_ms();
    int rv = craft_node_read_wait(n, 300, read_fn, &r);
    ck_assert_msg(rv == CRAFT_ETIMEDOUT || rv == CRAFT_ESTEPPEDDOWN ||
                      rv == CRAFT_ENOTLEADER,
                  "got %s", craft_strerror(rv));
    ck_assert_int_eq(r.ran, 0);
    ck_assert_int_lt(tc_now_ms() - t0, 5000);
    craft_hub_isolate(c.hub, leader, 0);

    /* after shutdown */
    ck_assert_int_eq(craft_node_shutdown(n), CRAFT_OK);
    ck_assert_int_eq(craft_node_read_wait(n, 0, read_fn, &r),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(r.ran, 0);
    tc_free(&c);
}
END_TEST

/* From a callback (the apply thread) it refuses: it would wait for its
 * own thread. */
struct own {
    craft_node *n;
    atomic_int rv;
    struct twait w;
};

static void own_cb(void *ctx, const craft_result *r)
{
    struct own *o = ctx;
    atomic_store(&o->rv, craft_node_read_wait(o->n, 0, NULL, NULL));
    tw_cb(&o->w, r);
}

START_TEST(read_wait_from_callback)
{
    struct tcluster c;
    struct own o;
    memset(&o, 0, sizeof(o));
    tw_init(&o.w);
    tc_init(&c);
    tc_start(&c, 3);
    tc_commit(&c, 1);
    o.n = tc_node(&c, tc_wait_leader(&c))->node;
    unsigned char b[8] = {0};
    ck_assert_int_eq(craft_node_propose(o.n, b, 8, 0, own_cb, &o), CRAFT_OK);
    ck_assert_int_eq(tw_wait(&o.w, TC_WAIT_MS), CRAFT_OK);
    ck_assert_int_eq(atomic_load(&o.rv), CRAFT_ESTATE);
    tw_destroy(&o.w);
    tc_free(&c);
}
END_TEST

/* ---- wait_leader --------------------------------------------------------- */

/* Without the option a node that knows no leader fails at once. */
START_TEST(no_leader_fails_at_once_by_default)
{
    struct tcluster c;
    uint64_t ids[3] = {1, 2, 3};
    tc_init(&c);
    tc_launch(&c, 1, ids, 3); /* its peers are not started */
    unsigned char b[8] = {0};
    int64_t t0 = tc_now_ms();
    ck_assert_int_eq(
        craft_node_propose_wait(tc_node(&c, 1)->node, b, 8, 5000, NULL),
        CRAFT_ENOTLEADER);
    ck_assert_int_eq(craft_node_read_wait(tc_node(&c, 1)->node, 5000, NULL,
                                          NULL),
                     CRAFT_ENOTLEADER);
    ck_assert_int_lt(tc_now_ms() - t0, 4000);
    tc_free(&c);
}
END_TEST

/* With it, a node alone (its peers down) keeps the calls until their
 * deadline. */
START_TEST(wait_leader_times_out)
{
    struct tcluster c;
    uint64_t ids[3] = {1, 2, 3};
    tc_init(&c);
    c.opts.wait_leader = 1;
    tc_launch(&c, 1, ids, 3);
    craft_node *n = tc_node(&c, 1)->node;
    unsigned char b[8] = {0};
    struct twait w;
    tw_init(&w);
    int64_t t0 = tc_now_ms();
    ck_assert_int_eq(craft_node_propose(n, b, 8, 300, tw_cb, &w), CRAFT_OK);
    ck_assert_int_eq(craft_node_read_wait(n, 300, NULL, NULL),
                     CRAFT_ETIMEDOUT);
    ck_assert_int_eq(tw_wait(&w, TC_WAIT_MS), CRAFT_ETIMEDOUT);
    ck_assert_int_ge(tc_now_ms() - t0, 290);
    tw_destroy(&w);
    /* nothing was held back as backpressure */
    ck_assert_uint_eq(tc_metric(&c, 1, CRAFT_METRIC_BACKPRESSURE), 0);
    tc_free(&c);
}
END_TEST

struct bg {
    craft_node *n;
    int read; /* 1: read_wait, 0: propose_wait */
    int rv;
    uint64_t leader_hint;
    int64_t returned_ms;
};

static void *bg_main(void *arg)
{
    struct bg *b = arg;
    if (b->read) {
        b->rv = craft_node_read_wait(b->n, 60000, NULL, NULL);
    } else {
        unsigned char v[8];
        craft_result *r = NULL;
        put_u64(v, 3);
        b->rv = craft_node_propose_wait(b->n, v, 8, 60000, &r);
        b->leader_hint = craft_result_leader(r);
        craft_result_free(r);
    }
    b->returned_ms = tc_now_ms();
    return NULL;
}

/* The calls made during the "election" complete once a leader exists. */
START_TEST(wait_leader_until_elected)
{
    struct tcluster c;
    uint64_t ids[3] = {1, 2, 3};
    tc_init(&c);
    c.opts.wait_leader = 1;
    tc_launch(&c, 1, ids, 3);
    struct bg b[2];
    pthread_t th[2];
    for (int k = 0; k < 2; k++) {
        memset(&b[k], 0, sizeof(b[k]));
        b[k].n = tc_node(&c, 1)->node;
        b[k].read = k;
        ck_assert_int_eq(pthread_create(&th[k], NULL, bg_main, &b[k]), 0);
    }
    /* a few election timeouts without a quorum */
    tc_sleep_ms(500);
    int64_t started = tc_now_ms();
    tc_launch(&c, 2, ids, 3);
    tc_launch(&c, 3, ids, 3);
    for (int k = 0; k < 2; k++) {
        pthread_join(th[k], NULL);
        ck_assert_int_ge(b[k].returned_ms, started);
    }
    uint64_t leader = tc_wait_leader(&c);
    /* the read is served wherever the leader is */
    ck_assert_int_eq(b[1].rv, CRAFT_OK);
    if (leader == 1) {
        ck_assert_int_eq(b[0].rv, CRAFT_OK);
    } else {
        /* node 1 follows: the proposal is refused with the hint, unless
         * node 1 led for a while and committed it */
        ck_assert_msg(b[0].rv == CRAFT_OK || b[0].rv == CRAFT_ENOTLEADER ||
                          b[0].rv == CRAFT_ESTEPPEDDOWN,
                      "got %s", craft_strerror(b[0].rv));
        if (b[0].rv == CRAFT_ENOTLEADER) {
            ck_assert_uint_ne(b[0].leader_hint, CRAFT_NONE);
        }
    }
    tc_free(&c);
}
END_TEST

/* ---- wait_room --------------------------------------------------------- */

#define SLOW_US 200000 /* 0.2 s per apply on the leader */

static struct tcluster *slow_leader(struct tcluster *c, int wait_room,
                                    uint64_t *leader)
{
    tc_init(c);
    c->opts.max_pending = 2;
    c->opts.wait_room = (uint32_t)wait_room;
    c->opts.request_timeout_ms = 60000;
    /* 1-2 s before an election: a loaded machine must not depose the
     * leader while the test counts on it staying (not what it tests). */
    c->eopts.election_ticks = 100;
    tc_start(c, 3);
    tc_commit(c, 1);
    *leader = tc_wait_leader(c);
    atomic_store(&tc_node(c, *leader)->fsm.delay_us, SLOW_US);
    return c;
}

START_TEST(no_room_is_ebusy_by_default)
{
    struct tcluster c;
    uint64_t leader;
    slow_leader(&c, 0, &leader);
    craft_node *n = tc_node(&c, leader)->node;
    unsigned char b[8] = {0};
    struct twait w[2];
    for (int k = 0; k < 2; k++) {
        tw_init(&w[k]);
        ck_assert_int_eq(craft_node_propose(n, b, 8, 0, tw_cb, &w[k]),
                         CRAFT_OK);
    }
    ck_assert_int_eq(craft_node_propose(n, b, 8, 0, NULL, NULL), CRAFT_EBUSY);
    ck_assert_int_eq(craft_node_propose_wait(n, b, 8, 0, NULL), CRAFT_EBUSY);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(tw_wait(&w[k], TC_WAIT_MS), CRAFT_OK);
        tw_destroy(&w[k]);
    }
    tc_free(&c);
}
END_TEST

/* From a callback: CRAFT_EBUSY at once even with wait_room. */
struct roomcb {
    craft_node *n;
    atomic_int rv;
    struct twait w;
};

static void room_cb(void *ctx, const craft_result *r)
{
    struct roomcb *o = ctx;
    unsigned char b[8] = {0};
    if (atomic_load(&o->rv) == 1) {
        atomic_store(&o->rv, craft_node_propose(o->n, b, 8, 0, NULL, NULL));
    }
    tw_cb(&o->w, r);
}

START_TEST(wait_room_waits)
{
    struct tcluster c;
    uint64_t leader;
    slow_leader(&c, 1, &leader);
    craft_node *n = tc_node(&c, leader)->node;
    unsigned char b[8];
    put_u64(b, 1);
    struct roomcb o;
    memset(&o, 0, sizeof(o));
    o.n = n;
    tw_init(&o.w);
    struct twait w;
    tw_init(&w);
    ck_assert_int_eq(craft_node_propose(n, b, 8, 0, tw_cb, &w), CRAFT_OK);
    ck_assert_int_eq(craft_node_propose(n, b, 8, 0, room_cb, &o), CRAFT_OK);

    /* full: a short deadline passes first (callback never invoked) */
    int64_t t0 = tc_now_ms();
    ck_assert_int_eq(craft_node_propose(n, b, 8, 50, tw_cb, NULL),
                     CRAFT_ETIMEDOUT);
    ck_assert_int_ge(tc_now_ms() - t0, 45);

    /* the blocking call waits for room, then commits; the first two
     * complete meanwhile (each apply takes SLOW_US) */
    atomic_store(&o.rv, 1); /* room_cb proposes from the apply thread */
    craft_result *r = NULL;
    t0 = tc_now_ms();
    ck_assert_int_eq(craft_node_propose_wait(n, b, 8, 0, &r), CRAFT_OK);
    ck_assert_int_ge(tc_now_ms() - t0, SLOW_US / 1000 - 20);
    ck_assert_uint_ne(craft_result_index(r), 0);
    craft_result_free(r);
    ck_assert_int_eq(tw_wait(&w, TC_WAIT_MS), CRAFT_OK);
    ck_assert_int_eq(tw_wait(&o.w, TC_WAIT_MS), CRAFT_OK);
    /* the callback's proposal either found room or got EBUSY at once:
     * never blocked the apply thread */
    int cbrv = atomic_load(&o.rv);
    ck_assert_msg(cbrv == CRAFT_OK || cbrv == CRAFT_EBUSY, "got %d", cbrv);

    /* the asynchronous call waits too */
    atomic_store(&tc_node(&c, leader)->fsm.delay_us, 20000);
    struct twait ws[6];
    for (int k = 0; k < 6; k++) {
        tw_init(&ws[k]);
        ck_assert_int_eq(craft_node_propose(n, b, 8, 0, tw_cb, &ws[k]),
                         CRAFT_OK);
    }
    for (int k = 0; k < 6; k++) {
        ck_assert_int_eq(tw_wait(&ws[k], TC_WAIT_MS), CRAFT_OK);
        tw_destroy(&ws[k]);
    }
    tw_destroy(&w);
    tw_destroy(&o.w);
    tc_free(&c);
}
END_TEST

/* Shutdown wakes a caller waiting for room. */
struct roomwait {
    craft_node *n;
    atomic_int rv;
};

static void *room_main(void *arg)
{
    struct roomwait *rw = arg;
    unsigned char b[8] = {0};
    atomic_store(&rw->rv, craft_node_propose(rw->n, b, 8, 0, NULL, NULL));
    return NULL;
}

START_TEST(wait_room_shutdown)
{
    struct tcluster c;
    uint64_t leader;
    slow_leader(&c, 1, &leader);
    craft_node *n = tc_node(&c, leader)->node;
    atomic_store(&tc_node(&c, leader)->fsm.delay_us, 2000000);
    unsigned char b[8] = {0};
    ck_assert_int_eq(craft_node_propose(n, b, 8, 0, NULL, NULL), CRAFT_OK);
    ck_assert_int_eq(craft_node_propose(n, b, 8, 0, NULL, NULL), CRAFT_OK);
    struct roomwait rw = {n, 1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, room_main, &rw), 0);
    tc_sleep_ms(100);
    ck_assert_int_eq(atomic_load(&rw.rv), 1); /* still waiting */
    craft_hub_detach(c.hub, leader);
    ck_assert_int_eq(craft_node_shutdown(n), CRAFT_OK);
    pthread_join(th, NULL);
    /* it found room as the pending ones completed, or saw the shutdown */
    int rv = atomic_load(&rw.rv);
    ck_assert_msg(rv == CRAFT_ESHUTDOWN || rv == CRAFT_OK, "got %s",
                  craft_strerror(rv));
    tc_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_wait");
    TCase *tc = tcase_create("wait");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, read_wait_sees_completed_writes);
    tcase_add_test(tc, read_wait_status_and_errors);
    tcase_add_test(tc, read_wait_from_callback);
    tcase_add_test(tc, no_leader_fails_at_once_by_default);
    tcase_add_test(tc, wait_leader_times_out);
    tcase_add_test(tc, wait_leader_until_elected);
    tcase_add_test(tc, no_room_is_ebusy_by_default);
    tcase_add_test(tc, wait_room_waits);
    tcase_add_test(tc, wait_room_shutdown);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
