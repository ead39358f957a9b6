/*
 * tests/integration/test_node_cluster.c: 3- and 5-node clusters of
 * craft_node in one process: propose, commit and apply; a proposal to a
 * follower; leader crash (the node is freed) and re-election; restart
 * from storage; a leader cut off in a minority failing by the deadline;
 * status and metrics.
 */
#include "node_harness.h"

static void propose_all(struct tcluster *c, int nodes, int total)
{
    tc_start(c, nodes);
    uint64_t leader = tc_wait_leader(c);
    uint64_t sum = 0, last = 0;
    for (int k = 1; k <= total; k++) {
        uint64_t index = 0;
        unsigned char buf[8];
        craft_result *r = NULL;
        put_u64(buf, (uint64_t)k);
        int rv = craft_node_propose_wait(tc_node(c, leader)->node, buf, 8, 0,
                                         &r);
        if (rv != CRAFT_OK) {
            /* The leader may change under load: find the new one. */
            craft_result_free(r);
            leader = tc_wait_leader(c);
            k--;
            continue;
        }
        index = craft_result_index(r);
        ck_assert_uint_gt(index, last); /* receipts grow */
        ck_assert_uint_ge(craft_result_term(r), 1);
        ck_assert_uint_eq(craft_result_leader(r), leader);
        const void *data;
        size_t len;
        ck_assert_int_eq(craft_result_data(r, &data, &len), CRAFT_OK);
        ck_assert_uint_eq(len, 8); /* the apply result: the count */
        craft_result_free(r);
        last = index;
        sum += (uint64_t)k;
    }
    tc_wait_applied(c, last);
    tc_check_same_state(c, sum);
    for (int k = 1; k <= nodes; k++) {
        uint64_t count = 0;
        tfsm_read(&tc_node(c, (uint64_t)k)->fsm, &count, NULL, NULL);
        ck_assert_uint_eq(count, (uint64_t)total);
        ck_assert_uint_ge(tc_metric(c, (uint64_t)k, CRAFT_METRIC_APPLIES),
                          (uint64_t)total);
    }
}

START_TEST(three_nodes_propose_commit_apply)
{
    struct tcluster c;
    tc_init(&c);
    propose_all(&c, 3, 200);
    tc_free(&c);
}
END_TEST

START_TEST(five_nodes_propose_commit_apply)
{
    struct tcluster c;
    tc_init(&c);
    propose_all(&c, 5, 100);
    tc_free(&c);
}
END_TEST

/* Many asynchronous proposals at once: batched, all complete once. */
#define NASYNC 2000
START_TEST(async_proposals_batched)
{
    struct tcluster c;
    static struct twait w[NASYNC];
    tc_init(&c);
    tc_start(&c, 3);
    uint64_t leader = tc_wait_leader(&c);
    uint64_t sum = 0;
    for (int k = 0; k < NASYNC; k++) {
        unsigned char buf[8];
        tw_init(&w[k]);
        put_u64(buf, (uint64_t)k + 1);
        ck_assert_int_eq(craft_node_propose(tc_node(&c, leader)->node, buf, 8,
                                            0, tw_cb, &w[k]),
                         CRAFT_OK);
    }
    uint64_t last = 0;
    int ok = 0;
    for (int k = 0; k < NASYNC; k++) {
        int st = tw_wait(&w[k], TC_WAIT_MS);
        if (st == CRAFT_OK) {
            ok++;
            sum += (uint64_t)k + 1;
            /* FIFO: receipts follow the order of the calls */
            ck_assert_uint_gt(w[k].index, last);
            last = w[k].index;
        }
        tw_destroy(&w[k]);
    }
    ck_assert_int_eq(ok, NASYNC); /* no leader change expected here */
    tc_wait_applied(&c, last);
    tc_check_same_state(&c, sum);
    /* Batching: far fewer syncs than entries on the leader. */
    ck_assert_uint_lt(tc_metric(&c, leader, CRAFT_METRIC_SYNCS),
                      (uint64_t)NASYNC);
    tc_free(&c);
}
END_TEST

START_TEST(propose_to_follower_gets_leader_hint)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 3);
    uint64_t leader = tc_wait_leader(&c);
    uint64_t follower = leader % 3 + 1;
    struct twait w;
    tw_init(&w);
    unsigned char buf[8] = {0};
    ck_assert_int_eq(craft_node_propose(tc_node(&c, follower)->node, buf, 8,
                                        0, tw_cb, &w),
                     CRAFT_OK);
    ck_assert_int_eq(tw_wait(&w, TC_WAIT_MS), CRAFT_ENOTLEADER);
    ck_assert_uint_eq(w.leader, leader);
    tw_destroy(&w);
    /* The blocking variant says the same. */
    craft_result *r = NULL;
    ck_assert_int_eq(craft_node_propose_wait(tc_node(&c, follower)->node, buf,
                                             8, 0, &r),
                     CRAFT_ENOTLEADER);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(craft_result_status(r), CRAFT_ENOTLEADER);
    ck_assert_uint_eq(craft_result_leader(r), leader);
    craft_result_free(r);
    tc_free(&c);
}
END_TEST

START_TEST(leader_crash_then_reelection_and_restart)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 3);
    uint64_t sum = 0, last = 0;
    for (uint64_t v = 1; v <= 20; v++) {
        last = tc_commit(&c, v);
        sum += v;
    }
    uint64_t old = tc_wait_leader(&c);
    uint64_t old_term = craft_node_term(tc_node(&c, old)->node);
    tc_wait_applied(&c, last);

    tc_crash(&c, old); /* the leader's node is freed */
    uint64_t leader = tc_wait_leader(&c);
    ck_assert_uint_ne(leader, old);
    ck_assert_uint_gt(craft_node_term(tc_node(&c, leader)->node), old_term);
    ck_assert_uint_ge(tc_metric(&c, leader, CRAFT_METRIC_ELECTIONS), 1);
    for (uint64_t v = 21; v <= 40; v++) {
        last = tc_commit(&c, v);
        sum += v;
    }
    tc_wait_applied(&c, last);
    tc_check_same_state(&c, sum);

    /* The crashed server restarts from its storage and catches up. */
    tc_launch(&c, old, NULL, 0);
    last = tc_commit(&c, 41);
    sum += 41;
    tc_wait_applied(&c, last);
    tc_check_same_state(&c, sum);
    tc_free(&c);
}
END_TEST

START_TEST(five_nodes_survive_two_crashes)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 5);
    uint64_t sum = 0, last = 0;
    for (uint64_t v = 1; v <= 10; v++) {
        last = tc_commit(&c, v);
        sum += v;
    }
    tc_crash(&c, tc_wait_leader(&c));
    tc_crash(&c, tc_wait_leader(&c));
    for (uint64_t v = 11; v <= 20; v++) {
        last = tc_commit(&c, v);
        sum += v;
    }
    tc_wait_applied(&c, last);
    tc_check_same_state(&c, sum);
    tc_free(&c);
}
END_TEST

/* A leader cut off in a minority fails its proposals by their deadline
 * (or sooner, when check-quorum makes it step down); it never hangs. */
START_TEST(minority_leader_fails_by_deadline)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 3);
    tc_commit(&c, 1);
    uint64_t leader = tc_wait_leader(&c);
    craft_hub_isolate(c.hub, leader, 1);
    struct twait w;
    tw_init(&w);
    unsigned char buf[8] = {2};
    int64_t t0 = tc_now_ms();
    ck_assert_int_eq(craft_node_propose(tc_node(&c, leader)->node, buf, 8,
                                        500, tw_cb, &w),
                     CRAFT_OK);
    int st = tw_wait(&w, TC_WAIT_MS);
    int64_t took = tc_now_ms() - t0;
    ck_assert_msg(st == CRAFT_ETIMEDOUT || st == CRAFT_ESTEPPEDDOWN,
                  "got %s", craft_strerror(st));
    ck_assert_msg(took < 5000, "took %lld ms", (long long)took);
    tw_destroy(&w);
    /* The majority elects a new leader and goes on. */
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    uint64_t other = 0;
    while (other == 0 && tc_now_ms() < end) {
        for (uint64_t id = 1; id <= 3; id++) {
            if (id != leader &&
                craft_node_role(tc_node(&c, id)->node) == CRAFT_ROLE_LEADER) {
                other = id;
            }
        }
        tc_sleep_ms(5);
    }
    ck_assert_uint_ne(other, 0);
    ck_assert_int_eq(tc_propose(&c, other, 3, NULL), CRAFT_OK);
    craft_hub_isolate(c.hub, leader, 0);
    tc_commit(&c, 4);
    tc_free(&c);
}
END_TEST

START_TEST(status_and_metrics)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 3);
    uint64_t last = tc_commit(&c, 7);
    tc_wait_applied(&c, last);
    uint64_t leader = tc_wait_leader(&c);
    craft_status *st = NULL;
    ck_assert_int_eq(craft_node_status(tc_node(&c, leader)->node, &st),
                     CRAFT_OK);
    ck_assert_uint_eq(craft_status_id(st), leader);
    ck_assert_int_eq(craft_status_role(st), CRAFT_ROLE_LEADER);
    ck_assert_uint_eq(craft_status_leader(st), leader);
    ck_assert_uint_ge(craft_status_term(st), 1);
    ck_assert_uint_ge(craft_status_commit_index(st), last);
    ck_assert_uint_ge(craft_status_applied_index(st), last);
    ck_assert_uint_ge(craft_status_last_index(st), last);
    ck_assert_uint_eq(craft_status_member_count(st), 3);
    for (size_t k = 0; k < 3; k++) {
        uint64_t id = 0, match = 0, next = 0;
        int role = 0, state = -1;
        ck_assert_int_eq(craft_status_member(st, k, &id, &role, &match,
                                             &next, &state),
                         CRAFT_OK);
        ck_assert_int_eq(role, CRAFT_VOTER);
        ck_assert_uint_ge(id, 1);
        if (id != leader) {
            ck_assert_uint_ge(next, 1);
        }
    }
    ck_assert_int_eq(craft_status_member(st, 3, NULL, NULL, NULL, NULL, NULL),
                     CRAFT_EINVAL);
    craft_status_free(st);

    /* A follower's status names the leader. */
    uint64_t f = leader % 3 + 1;
    ck_assert_int_eq(craft_node_status(tc_node(&c, f)->node, &st), CRAFT_OK);
    ck_assert_int_eq(craft_status_role(st), CRAFT_ROLE_FOLLOWER);
    ck_assert_uint_eq(craft_status_leader(st), leader);
    craft_status_free(st);

    /* Metrics, and their Prometheus rendering. */
    ck_assert_uint_ge(tc_metric(&c, leader, CRAFT_METRIC_COMMITS), last);
    ck_assert_uint_ge(tc_metric(&c, leader, CRAFT_METRIC_PROPOSALS), 1);
    ck_assert_uint_ge(tc_metric(&c, leader, CRAFT_METRIC_BYTES_SENT), 1);
    ck_assert_uint_ge(tc_metric(&c, leader, CRAFT_METRIC_SYNCS), 1);
    ck_assert_uint_eq(tc_metric(&c, leader, CRAFT_METRIC_IS_LEADER), 1);
    ck_assert_uint_eq(tc_metric(&c, f, CRAFT_METRIC_IS_LEADER), 0);
    size_t len = 0;
    craft_node *ln = tc_node(&c, leader)->node;
    ck_assert_int_eq(craft_node_metrics_text(ln, NULL, 0, &len),
                     CRAFT_ETOOBIG);
    /* The cluster runs on (heartbeats are counted): the text may have
     * grown a few digits by the second call. */
    char *text = malloc(len + 1 + 1024);
    size_t len2 = 0;
    ck_assert_int_eq(
        craft_node_metrics_text(ln, text, len + 1 + 1024, &len2), CRAFT_OK);
    ck_assert_uint_ge(len2 + 64, len);
    ck_assert_uint_eq(strlen(text), len2);
    char want[64];
    snprintf(want, sizeof(want), "craft_is_leader{node=\"%llu\"} 1\n",
             (unsigned long long)leader);
    ck_assert_ptr_nonnull(strstr(text, want));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE craft_commits_total counter"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE craft_apply_lag_entries gauge"));
    /* every metric is rendered */
    for (int id = 1; craft_metric_name(id) != NULL; id++) {
        ck_assert_ptr_nonnull(strstr(text, craft_metric_name(id)));
    }
    free(text);
    tc_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_cluster");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, three_nodes_propose_commit_apply);
    tcase_add_test(tc, five_nodes_propose_commit_apply);
    tcase_add_test(tc, async_proposals_batched);
    tcase_add_test(tc, propose_to_follower_gets_leader_hint);
    tcase_add_test(tc, leader_crash_then_reelection_and_restart);
    tcase_add_test(tc, five_nodes_survive_two_crashes);
    tcase_add_test(tc, minority_leader_fails_by_deadline);
    tcase_add_test(tc, status_and_metrics);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
