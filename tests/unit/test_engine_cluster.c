/*
 * End-to-end behaviour of a few engines through the public API: election,
 * replication, commit and apply, re-election after the leader dies, and
 * restart from durable state.
 */
#include <stdio.h>

#include "cluster.h"
#include "harness.h"

static struct cluster C;

START_TEST(elects_one_leader_and_commits)
{
    cl_init(&C, 3, 1);
    uint64_t l = cl_elect(&C, 100);
    ck_assert_uint_ne(l, 0);
    struct cl_node *ld = cl_node(&C, l);
    ck_assert_uint_eq(craft_engine_term(ld->e), 2);
    /* Entry 1 is the bootstrap configuration, entry 2 the no-op. */
    cl_propose(&C, ld, "hello", 5);
    ck_assert_int_eq(ld->last_status, CRAFT_OK);
    ck_assert_uint_eq(ld->last_receipt_index, 3);
    ck_assert_uint_eq(ld->last_receipt_term, 2);
    cl_deliver_all(&C, (size_t)-1);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 3);
    ck_assert_uint_eq(ld->applied, 3);
    ck_assert_mem_eq(ld->applied_log[3].data, "hello", 5);
    /* Followers learn the commit index on the next heartbeat. */
    cl_tick(&C, ld);
    cl_deliver_all(&C, (size_t)-1);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(C.nodes[i].applied, 3);
        ck_assert_uint_eq(C.nodes[i].applied_log[3].len, 5);
    }
    cl_free(&C);
}
END_TEST

START_TEST(reelects_after_leader_crash)
{
    cl_init(&C, 3, 7);
    uint64_t l1 = cl_elect(&C, 100);
    ck_assert_uint_ne(l1, 0);
    cl_propose(&C, cl_node(&C, l1), "a", 1);
    cl_deliver_all(&C, (size_t)-1);
    cl_crash(&C, cl_node(&C, l1));
    uint64_t l2 = cl_elect(&C, 200);
    ck_assert_uint_ne(l2, 0);
    ck_assert_uint_ne(l2, l1);
    struct cl_node *ld = cl_node(&C, l2);
    ck_assert_uint_gt(craft_engine_term(ld->e), 2);
    cl_propose(&C, ld, "b", 1);
    cl_deliver_all(&C, (size_t)-1);
    /* "a" survived (Leader Completeness) and "b" committed after it. */
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 5);
    ck_assert_mem_eq(ld->applied_log[3].data, "a", 1);
    ck_assert_mem_eq(ld->applied_log[5].data, "b", 1);
    /* The old leader restarts from disk and catches up. */
    cl_restart(&C, cl_node(&C, l1));
    for (int t = 0; t < 5; t++) {
        cl_tick_all(&C);
        cl_deliver_all(&C, (size_t)-1);
    }
    ck_assert_uint_eq(cl_leader(&C), l2);
    ck_assert_uint_eq(cl_node(&C, l1)->last, 5);
    ck_assert_uint_eq(craft_engine_commit_index(cl_node(&C, l1)->e), 5);
    cl_free(&C);
}
END_TEST

START_TEST(many_proposals_pipeline)
{
    cl_init(&C, 5, 3);
    uint64_t l = cl_elect(&C, 100);
    ck_assert_uint_ne(l, 0);
    struct cl_node *ld = cl_node(&C, l);
    for (int i = 0; i < 1000; i++) {
        char b[16];
        int n = snprintf(b, sizeof(b), "v%d", i);
        cl_propose(&C, ld, b, (size_t)n);
        if (i % 7 == 0) {
            cl_deliver_all(&C, (size_t)-1);
        }
    }
    cl_deliver_all(&C, (size_t)-1);
    cl_tick(&C, ld);
    cl_deliver_all(&C, (size_t)-1);
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(C.nodes[i].applied, 1002);
        ck_assert_mem_eq(C.nodes[i].applied_log[1002].data, "v999", 4);
    }
    cl_free(&C);
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
