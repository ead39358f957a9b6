/*
 * tests/integration/test_node_reads.c: linearizable reads through
 * craft_node_read_linearizable: the callback runs on the apply thread
 * once the read index is applied and sees every write completed before
 * the call; a follower serves reads too (it asks the leader for the read
 * index); without a leader the read fails with CRAFT_ENOTLEADER; a leader
 * cut off in a minority fails reads by their deadline.
 */
#include "node_harness.h"

struct readctx {
    struct twait w;
    struct tfsm *fsm;
    uint64_t sum_seen;
    uint64_t last_seen;
};

static void read_cb(void *ctx, const craft_result *r)
{
    struct readctx *rc = ctx;
    if (craft_result_status(r) == CRAFT_OK) {
        /* On the apply thread: the state machine is ours to read. */
        tfsm_read(rc->fsm, NULL, &rc->sum_seen, &rc->last_seen);
        ck_assert_uint_ge(rc->last_seen, craft_result_index(r));
    }
    tw_cb(&rc->w, r);
}

START_TEST(read_sees_completed_writes)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 3);
    uint64_t sum = 0;
    for (uint64_t v = 1; v <= 30; v++) {
        tc_commit(&c, v);
        sum += v;
        uint64_t leader = tc_wait_leader(&c);
        struct readctx rc;
        memset(&rc, 0, sizeof(rc));
        tw_init(&rc.w);
        rc.fsm = &tc_node(&c, leader)->fsm;
        ck_assert_int_eq(craft_node_read_linearizable(
                             tc_node(&c, leader)->node, 0, read_cb, &rc),
                         CRAFT_OK);
        int st = tw_wait(&rc.w, TC_WAIT_MS);
        if (st == CRAFT_OK) {
            ck_assert_uint_eq(rc.sum_seen, sum);
        } else {
            /* only a leader change may fail it */
            ck_assert_msg(st == CRAFT_ENOTLEADER || st == CRAFT_ESTEPPEDDOWN,
                          "read failed: %s", craft_strerror(st));
        }
        tw_destroy(&rc.w);
    }
    ck_assert_uint_ge(tc_metric(&c, tc_wait_leader(&c), CRAFT_METRIC_READS),
                      1);
    tc_free(&c);
}
END_TEST

#define NREADS 200
START_TEST(many_concurrent_reads)
{
    struct tcluster c;
    static struct readctx rc[NREADS];
    tc_init(&c);
    tc_start(&c, 3);
    tc_commit(&c, 5);
    uint64_t leader = tc_wait_leader(&c);
    for (int k = 0; k < NREADS; k++) {
        memset(&rc[k], 0, sizeof(rc[k]));
        tw_init(&rc[k].w);
        rc[k].fsm = &tc_node(&c, leader)->fsm;
        ck_assert_int_eq(craft_node_read_linearizable(
                             tc_node(&c, leader)->node, 0, read_cb, &rc[k]),
                         CRAFT_OK);
        if (k % 10 == 0) {
            unsigned char buf[8];
            put_u64(buf, 1);
            craft_node_propose(tc_node(&c, leader)->node, buf, 8, 0, NULL,
                               NULL);
        }
    }
    int ok = 0;
    for (int k = 0; k < NREADS; k++) {
        if (tw_wait(&rc[k].w, TC_WAIT_MS) == CRAFT_OK) {
            ok++;
            ck_assert_uint_ge(rc[k].sum_seen, 5);
        }
        tw_destroy(&rc[k].w);
    }
    ck_assert_int_eq(ok, NREADS);
    tc_free(&c);
}
END_TEST

/* A follower asks the leader for the read index (thesis §6.4) and runs
 * the read itself once it applied that far. */
START_TEST(read_on_follower)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 3);
    tc_commit(&c, 9);
    uint64_t leader = tc_wait_leader(&c);
    uint64_t f = leader % 3 + 1;
    struct readctx rc;
    memset(&rc, 0, sizeof(rc));
    tw_init(&rc.w);
    rc.fsm = &tc_node(&c, f)->fsm;
    ck_assert_int_eq(
        craft_node_read_linearizable(tc_node(&c, f)->node, 0, read_cb, &rc),
        CRAFT_OK);
    ck_assert_int_eq(tw_wait(&rc.w, TC_WAIT_MS), CRAFT_OK);
    ck_assert_uint_eq(rc.sum_seen, 9); /* the completed write is seen */
    tw_destroy(&rc.w);
    tc_free(&c);
}
END_TEST

/* A server that knows no leader answers at once: CRAFT_ENOTLEADER. */
START_TEST(read_without_leader)
{
    struct tcluster c;
    uint64_t ids[3] = {1, 2, 3};
    tc_init(&c);
    tc_launch(&c, 1, ids, 3); /* its peers never start */
    struct readctx rc;
    memset(&rc, 0, sizeof(rc));
    tw_init(&rc.w);
    rc.fsm = &tc_node(&c, 1)->fsm;
    ck_assert_int_eq(
        craft_node_read_linearizable(tc_node(&c, 1)->node, 0, read_cb, &rc),
        CRAFT_OK);
    ck_assert_int_eq(tw_wait(&rc.w, TC_WAIT_MS), CRAFT_ENOTLEADER);
    ck_assert_uint_eq(rc.w.leader, CRAFT_NONE);
    tw_destroy(&rc.w);
    ck_assert_uint_ge(tc_metric(&c, 1, CRAFT_METRIC_READS_FAILED), 1);
    tc_free(&c);
}
END_TEST

START_TEST(read_on_minority_leader_fails_by_deadline)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 3);
    tc_commit(&c, 1);
    uint64_t leader = tc_wait_leader(&c);
    craft_hub_isolate(c.hub, leader, 1);
    struct readctx rc;
    memset(&rc, 0, sizeof(rc));
    tw_init(&rc.w);
    rc.fsm = &tc_node(&c, leader)->fsm;
    int64_t t0 = tc_now_ms();
    ck_assert_int_eq(craft_node_read_linearizable(tc_node(&c, leader)->node,
                                                  300, read_cb, &rc),
                     CRAFT_OK);
    int st = tw_wait(&rc.w, TC_WAIT_MS);
    ck_assert_msg(st == CRAFT_ETIMEDOUT || st == CRAFT_ESTEPPEDDOWN ||
                      st == CRAFT_ENOTLEADER,
                  "got %s", craft_strerror(st));
    ck_assert_int_lt(tc_now_ms() - t0, 5000);
    tw_destroy(&rc.w);
    craft_hub_isolate(c.hub, leader, 0);
    tc_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_reads");
    TCase *tc = tcase_create("reads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, read_sees_completed_writes);
    tcase_add_test(tc, many_concurrent_reads);
    tcase_add_test(tc, read_on_follower);
    tcase_add_test(tc, read_without_leader);
    tcase_add_test(tc, read_on_minority_leader_fails_by_deadline);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
