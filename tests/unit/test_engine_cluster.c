/*
 * End-to-end behaviour of a few engines through the public API: election,
 * replication, commit and apply, re-election after the leader dies, and
 * restart from durable state.
 */
#include <stdio.h>

#include "engine_util.h"
#include "harness.h"

static struct host C;

START_TEST(elects_one_leader_and_commits)
{
    eu_init(&C, 3, 1);
    uint64_t l = host_elect(&C, 100);
    ck_assert_uint_ne(l, 0);
    struct host_node *ld = host_node(&C, l);
    ck_assert_uint_eq(craft_engine_term(ld->e), 2);
    /* Entry 1 is the bootstrap configuration, entry 2 the no-op. */
    host_propose(&C, ld, 1, "hello", 5);
    struct host_result r = host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 1);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.index, 3);
    ck_assert_uint_eq(r.term, 2);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 3);
    ck_assert_uint_eq(ld->applied, 3);
    size_t len;
    ck_assert_mem_eq(eu_applied_payload(ld, 0, &len), "hello", 5);
    /* Followers learn the commit index on the next heartbeat. */
    host_tick(&C, ld);
    host_deliver_all(&C);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(C.nodes[i].applied, 3);
        eu_applied_payload(&C.nodes[i], 0, &len);
        ck_assert_uint_eq(len, 5);
    }
    host_free(&C);
}
END_TEST

START_TEST(reelects_after_leader_crash)
{
    eu_init(&C, 3, 7);
    uint64_t l1 = host_elect(&C, 100);
    ck_assert_uint_ne(l1, 0);
    host_propose(&C, host_node(&C, l1), 1, "a", 1);
    host_deliver_all(&C);
    host_crash(&C, host_node(&C, l1));
    uint64_t l2 = host_elect(&C, 200);
    ck_assert_uint_ne(l2, 0);
    ck_assert_uint_ne(l2, l1);
    struct host_node *ld = host_node(&C, l2);
    ck_assert_uint_gt(craft_engine_term(ld->e), 2);
    host_propose(&C, ld, 2, "b", 1);
    host_deliver_all(&C);
    /* "a" survived (Leader Completeness) and "b" committed after it. */
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 5);
    size_t len;
    ck_assert_mem_eq(eu_applied_payload(ld, 0, &len), "a", 1);
    ck_assert_mem_eq(eu_applied_payload(ld, 1, &len), "b", 1);
    ck_assert_uint_eq(ld->applied_terms[5], craft_engine_term(ld->e));
    /* The old leader restarts from disk and catches up. */
    host_node_start(&C, host_node(&C, l1));
    for (int t = 0; t < 5; t++) {
        host_tick_all(&C);
        host_deliver_all(&C);
    }
    ck_assert_uint_eq(host_leader(&C), l2);
    ck_assert_uint_eq(host_node(&C, l1)->last, 5);
    ck_assert_uint_eq(craft_engine_commit_index(host_node(&C, l1)->e), 5);
    host_free(&C);
}
END_TEST

START_TEST(many_proposals_pipeline)
{
    eu_init(&C, 5, 3);
    uint64_t l = host_elect(&C, 100);
    ck_assert_uint_ne(l, 0);
    struct host_node *ld = host_node(&C, l);
    for (int i = 0; i < 1000; i++) {
        char b[16];
        int n = snprintf(b, sizeof(b), "v%d", i);
        host_propose(&C, ld, (uint64_t)i, b, (size_t)n);
        if (i % 7 == 0) {
            host_deliver_all(&C);
        }
    }
    host_deliver_all(&C);
    host_tick(&C, ld);
    host_deliver_all(&C);
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(C.nodes[i].applied, 1002);
        ck_assert_uint_eq(C.nodes[i].napplied_normal, 1000);
        size_t len;
        ck_assert_mem_eq(eu_applied_payload(&C.nodes[i], 999, &len), "v999",
                         4);
    }
    host_free(&C);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_cluster");
    TCase *tc = tcase_create("cluster");
    tcase_add_test(tc, elects_one_leader_and_commits);
    tcase_add_test(tc, reelects_after_leader_crash);
    tcase_add_test(tc, many_proposals_pipeline);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
