/*
 * tests/integration/test_node_backpressure.c: a slow state machine slows
 * the clients, not the cluster. With a small apply queue and an apply
 * callback that sleeps, proposals wait for room (backpressure) while the
 * leader keeps its heartbeats going: no follower times out, the term and
 * the leader never change, and every proposal completes.
 */
#include "node_harness.h"

#define BOUND 8
#define NPROPS 300
#define DELAY_US 6000
/* Election timeouts of 30-60 ticks of 10 ms: generous on a loaded machine
 * (a storage sync or a descheduled thread may take 100 ms there), still
 * several of them within the run. */
#define ELECTION_TICKS 30

struct watch {
    struct tcluster *c;
    atomic_int stop;
    uint64_t leader;
    uint64_t term;
    atomic_int changed; /* a leader or term change was seen */
    atomic_int max_lag;
};

static void *watcher(void *arg)
{
    struct watch *w = arg;
    while (!atomic_load(&w->stop)) {
        for (uint64_t id = 1; id <= 3; id++) {
            craft_node *n = tc_node(w->c, id)->node;
            if (craft_node_term(n) != w->term ||
                craft_node_leader(n) != w->leader) {
                atomic_store(&w->changed, 1);
            }
            uint64_t lag = 0;
            craft_node_metric(n, CRAFT_METRIC_APPLY_LAG, &lag);
            if ((int)lag > atomic_load(&w->max_lag)) {
                atomic_store(&w->max_lag, (int)lag);
            }
        }
        tc_sleep_ms(2);
    }
    return NULL;
}

static void run(int slow_all)
{
    static struct tcluster c; /* static: the watcher outlives a failed check */
    static struct twait w[NPROPS];
    tc_init(&c);
    c.opts.apply_queue_entries = BOUND;
    c.opts.request_timeout_ms = 120000;
    c.eopts.election_ticks = ELECTION_TICKS;
    tc_start(&c, 3);
    tc_commit(&c, 1);
    uint64_t leader = tc_wait_leader(&c);
    tc_wait_applied(&c, 2);

    uint64_t elections[4];
    for (uint64_t id = 1; id <= 3; id++) {
        elections[id] = tc_metric(&c, id, CRAFT_METRIC_ELECTIONS);
        if (slow_all || id != leader) {
            atomic_store(&tc_node(&c, id)->fsm.delay_us, DELAY_US);
        }
    }
    static struct watch wt;
    memset(&wt, 0, sizeof(wt));
    wt.c = &c;
    wt.leader = leader;
    wt.term = craft_node_term(tc_node(&c, leader)->node);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, watcher, &wt), 0);

    int64_t t0 = tc_now_ms();
    for (int k = 0; k < NPROPS; k++) {
        unsigned char buf[8];
        put_u64(buf, 1);
        tw_init(&w[k]);
        ck_assert_int_eq(craft_node_propose(tc_node(&c, leader)->node, buf, 8,
                                            0, tw_cb, &w[k]),
                         CRAFT_OK);
    }
    uint64_t last = 0;
    for (int k = 0; k < NPROPS; k++) {
        ck_assert_int_eq(tw_wait(&w[k], 120000), CRAFT_OK);
        last = w[k].index;
        tw_destroy(&w[k]);
    }
    tc_wait_applied(&c, last);
    int64_t took = tc_now_ms() - t0;
    atomic_store(&wt.stop, 1);
    pthread_join(th, NULL);

    /* It took several election timeouts... */
    ck_assert_int_ge(took, (int64_t)NPROPS * DELAY_US / 1000);
    /* ...and nobody noticed: no election, same term, same leader. */
    ck_assert_msg(!atomic_load(&wt.changed), "leader or term changed");
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_uint_eq(tc_metric(&c, id, CRAFT_METRIC_ELECTIONS),
                          elections[id]);
    }
    /* The leader's queue stayed within the bound: backpressure held the
     * proposals back. */
    uint64_t qmax = tc_metric(&c, leader, CRAFT_METRIC_APPLY_QUEUE_MAX);
    if (slow_all) {
        ck_assert_msg(qmax <= BOUND, "leader apply queue reached %llu",
                      (unsigned long long)qmax);
        ck_assert_uint_ge(tc_metric(&c, leader, CRAFT_METRIC_BACKPRESSURE),
                          1);
    }
    for (uint64_t id = 1; id <= 3; id++) {
        uint64_t q = tc_metric(&c, id, CRAFT_METRIC_APPLY_QUEUE_MAX);
        /* A follower past twice the bound stops taking in messages; what
         * one step commits may still come on top (a soft bound). */
        ck_assert_msg(q <= 2 * BOUND + 64, "node %llu apply queue reached %llu",
                      (unsigned long long)id, (unsigned long long)q);
    }
    ck_assert_int_ge(atomic_load(&wt.max_lag), 1);
    tc_check_same_state(&c, (uint64_t)NPROPS + 1);
    tc_free(&c);
}

START_TEST(slow_apply_everywhere)
{
    run(1);
}
END_TEST

START_TEST(slow_apply_on_followers)
{
    run(0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_backpressure");
    TCase *tc = tcase_create("backpressure");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, slow_apply_everywhere);
    tcase_add_test(tc, slow_apply_on_followers);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
