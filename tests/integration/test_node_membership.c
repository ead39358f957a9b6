/*
 * tests/integration/test_node_membership.c: membership changes, leadership
 * transfer and snapshots through craft_node: add a peer (learner, then
 * voter once caught up), add a learner and promote it, remove peers (also
 * the leader itself), the errors the leader answers, transfer, automatic
 * and triggered snapshots, a snapshot installed on a new learner, and a
 * restart from a snapshot.
 */
#include "node_harness.h"

/* Runs one membership-like call and waits for its callback. */
typedef int (*peer_call)(craft_node *, uint64_t, uint32_t, craft_node_cb,
                         void *);

static int call_wait(craft_node *n, peer_call fn, uint64_t peer,
                     struct twait *w)
{
    tw_init(w);
    ck_assert_int_eq(fn(n, peer, 0, tw_cb, w), CRAFT_OK);
    return tw_wait(w, TC_WAIT_MS);
}

/* Retries while the leader answers "not ready" or "busy" (a fresh leader
 * has not committed in its term; a change is still in progress). */
static int change(struct tcluster *c, peer_call fn, uint64_t peer)
{
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    for (;;) {
        struct twait w;
        uint64_t leader = tc_wait_leader(c);
        int st = call_wait(tc_node(c, leader)->node, fn, peer, &w);
        tw_destroy(&w);
        if ((st != CRAFT_ENOTREADY && st != CRAFT_EBUSY &&
             st != CRAFT_ENOTLEADER) ||
            tc_now_ms() > end) {
            return st;
        }
        tc_sleep_ms(10);
    }
}

static void member_of(struct tcluster *c, uint64_t at, uint64_t id,
                      size_t *count, int *role)
{
    craft_status *st = NULL;
    ck_assert_int_eq(craft_node_status(tc_node(c, at)->node, &st), CRAFT_OK);
    *count = craft_status_member_count(st);
    *role = 0;
    for (size_t k = 0; k < *count; k++) {
        uint64_t mid;
        int r;
        craft_status_member(st, k, &mid, &r, NULL, NULL, NULL);
        if (mid == id) {
            *role = r;
        }
    }
    craft_status_free(st);
}

static uint64_t commit_range(struct tcluster *c, uint64_t from, uint64_t to,
                             uint64_t *sum)
{
    uint64_t last = 0;
    for (uint64_t v = from; v <= to; v++) {
        last = tc_commit(c, v);
        *sum += v;
    }
    return last;
}

START_TEST(add_peer_then_remove_it)
{
    struct tcluster c;
    uint64_t sum = 0;
    tc_init(&c);
    tc_start(&c, 3);
    commit_range(&c, 1, 10, &sum);
    tc_launch(&c, 4, NULL, 0); /* empty: waits for a leader */
    ck_assert_int_eq(change(&c, craft_node_add_peer, 4), CRAFT_OK);
    size_t count;
    int role;
    member_of(&c, tc_wait_leader(&c), 4, &count, &role);
    ck_assert_uint_eq(count, 4);
    ck_assert_int_eq(role, CRAFT_VOTER);
    uint64_t last = commit_range(&c, 11, 20, &sum);
    tc_wait_applied(&c, last);
    tc_check_same_state(&c, sum); /* node 4 too */

    ck_assert_int_eq(change(&c, craft_node_remove_peer, 4), CRAFT_OK);
    member_of(&c, tc_wait_leader(&c), 4, &count, &role);
    ck_assert_uint_eq(count, 3);
    ck_assert_int_eq(role, 0);
    commit_range(&c, 21, 25, &sum);
    tc_free(&c);
}
END_TEST

START_TEST(add_learner_then_promote)
{
    struct tcluster c;
    uint64_t sum = 0;
    tc_init(&c);
    tc_start(&c, 3);
    commit_range(&c, 1, 5, &sum);
    tc_launch(&c, 4, NULL, 0);
    ck_assert_int_eq(change(&c, craft_node_add_learner, 4), CRAFT_OK);
    size_t count;
    int role;
    member_of(&c, tc_wait_leader(&c), 4, &count, &role);
    ck_assert_uint_eq(count, 4);
    ck_assert_int_eq(role, CRAFT_LEARNER);
    uint64_t last = commit_range(&c, 6, 8, &sum);
    tc_wait_applied(&c, last); /* a learner gets the entries */
    tc_check_same_state(&c, sum);
    ck_assert_int_eq(change(&c, craft_node_promote_learner, 4), CRAFT_OK);
    member_of(&c, tc_wait_leader(&c), 4, &count, &role);
    ck_assert_int_eq(role, CRAFT_VOTER);
    tc_free(&c);
}
END_TEST

START_TEST(membership_errors)
{
    struct tcluster c;
    uint64_t sum = 0;
    tc_init(&c);
    tc_start(&c, 3);
    commit_range(&c, 1, 2, &sum);
    ck_assert_int_eq(change(&c, craft_node_add_peer, 2), CRAFT_EEXIST);
    ck_assert_int_eq(change(&c, craft_node_remove_peer, 9),
                     CRAFT_EUNKNOWNPEER);
    ck_assert_int_eq(change(&c, craft_node_promote_learner, 2), CRAFT_EEXIST);
    ck_assert_int_eq(change(&c, craft_node_promote_learner, 9),
                     CRAFT_EUNKNOWNPEER);
    uint64_t leader = tc_wait_leader(&c);
    uint64_t f = leader % 3 + 1;
    struct twait w;
    ck_assert_int_eq(call_wait(tc_node(&c, f)->node, craft_node_add_peer, 7,
                               &w),
                     CRAFT_ENOTLEADER);
    ck_assert_uint_eq(w.leader, leader);
    tw_destroy(&w);
    tc_free(&c);
}
END_TEST

START_TEST(remove_the_leader)
{
    struct tcluster c;
    uint64_t sum = 0;
    tc_init(&c);
    tc_start(&c, 3);
    commit_range(&c, 1, 3, &sum);
    uint64_t old = tc_wait_leader(&c);
    ck_assert_int_eq(change(&c, craft_node_remove_peer, old), CRAFT_OK);
    /* The other two elect a leader among themselves. */
    tc_crash(&c, old);
    uint64_t leader = tc_wait_leader(&c);
    ck_assert_uint_ne(leader, old);
    size_t count;
    int role;
    member_of(&c, leader, old, &count, &role);
    ck_assert_uint_eq(count, 2);
    uint64_t last = commit_range(&c, 4, 6, &sum);
    tc_wait_applied(&c, last);
    tc_check_same_state(&c, sum);
    tc_free(&c);
}
END_TEST

START_TEST(transfer_leadership)
{
    struct tcluster c;
    uint64_t sum = 0;
    tc_init(&c);
    tc_start(&c, 3);
    commit_range(&c, 1, 3, &sum);
    uint64_t leader = tc_wait_leader(&c);
    uint64_t target = leader % 3 + 1;
    struct twait w;
    int st = CRAFT_ENOTREADY;
    for (int tries = 0; tries < 50 && st != CRAFT_OK; tries++) {
        st = call_wait(tc_node(&c, leader)->node,
                       craft_node_transfer_leadership, target, &w);
        if (st == CRAFT_OK) {
            ck_assert_uint_eq(w.leader, target);
        }
        tw_destroy(&w);
        if (st != CRAFT_OK) {
            tc_sleep_ms(20);
            leader = tc_wait_leader(&c);
            if (leader == target) {
                break; /* it happened anyway */
            }
        }
    }
    ck_assert_uint_eq(tc_wait_leader(&c), target);
    commit_range(&c, 4, 5, &sum);

    /* Errors: unknown peer, and a follower. */
    leader = tc_wait_leader(&c);
    ck_assert_int_eq(call_wait(tc_node(&c, leader)->node,
                               craft_node_transfer_leadership, 9, &w),
                     CRAFT_EUNKNOWNPEER);
    tw_destroy(&w);
    uint64_t f = leader % 3 + 1;
    ck_assert_int_eq(call_wait(tc_node(&c, f)->node,
                               craft_node_transfer_leadership, leader, &w),
                     CRAFT_ENOTLEADER);
    tw_destroy(&w);
    tc_free(&c);
}
END_TEST

static int trigger(struct tcluster *c, uint64_t id, struct twait *w)
{
    tw_init(w);
    ck_assert_int_eq(
        craft_node_trigger_snapshot(tc_node(c, id)->node, 0, tw_cb, w),
        CRAFT_OK);
    return tw_wait(w, TC_WAIT_MS);
}

START_TEST(snapshot_installed_on_new_learner)
{
    struct tcluster c;
    uint64_t sum = 0;
    tc_init(&c);
    c.eopts.snapshot_entries = 0; /* only when asked */
    c.eopts.snapshot_bytes = 0;
    c.eopts.snapshot_trailing = 0;
    tc_start(&c, 3);
    uint64_t last = commit_range(&c, 1, 40, &sum);
    tc_wait_applied(&c, last);
    uint64_t leader = tc_wait_leader(&c);
    struct twait w;
    ck_assert_int_eq(trigger(&c, leader, &w), CRAFT_OK);
    ck_assert_uint_ge(w.index, last);
    ck_assert_uint_ge(w.term, 1);
    tw_destroy(&w);
    ck_assert_uint_ge(tc_snapshot_index(&c, leader), last);
    ck_assert_uint_eq(tc_metric(&c, leader, CRAFT_METRIC_SNAPSHOTS_TAKEN), 1);
    /* Nothing applied since: nothing to take. */
    ck_assert_int_eq(trigger(&c, leader, &w), CRAFT_ESTATE);
    tw_destroy(&w);

    /* A new learner needs compacted entries: it gets the snapshot. */
    tc_launch(&c, 4, NULL, 0);
    ck_assert_int_eq(change(&c, craft_node_add_learner, 4), CRAFT_OK);
    last = commit_range(&c, 41, 45, &sum);
    tc_wait_applied(&c, last);
    tc_check_same_state(&c, sum);
    ck_assert_int_ge(atomic_load(&tc_node(&c, 4)->fsm.restores), 1);
    ck_assert_uint_ge(tc_metric(&c, 4, CRAFT_METRIC_SNAPSHOTS_INSTALLED), 1);
    ck_assert_uint_ge(tc_snapshot_index(&c, 4), 40);
    tc_free(&c);
}
END_TEST

START_TEST(automatic_snapshots_and_restart)
{
    struct tcluster c;
    uint64_t sum = 0;
    tc_init(&c);
    c.eopts.snapshot_entries = 16;
    c.eopts.snapshot_trailing = 4;
    tc_start(&c, 3);
    uint64_t last = commit_range(&c, 1, 100, &sum);
    tc_wait_applied(&c, last);
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_uint_ge(tc_metric(&c, id, CRAFT_METRIC_SNAPSHOTS_TAKEN), 1);
        ck_assert_uint_gt(tc_snapshot_index(&c, id), 0);
    }
    /* A restart restores the snapshot, then replays what follows. */
    uint64_t f = tc_wait_leader(&c) % 3 + 1;
    tc_crash(&c, f);
    int before = atomic_load(&tc_node(&c, f)->fsm.restores);
    tc_launch(&c, f, NULL, 0);
    ck_assert_int_eq(atomic_load(&tc_node(&c, f)->fsm.restores), before + 1);
    last = commit_range(&c, 101, 110, &sum);
    tc_wait_applied(&c, last);
    tc_check_same_state(&c, sum);
    tc_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_membership");
    TCase *tc = tcase_create("membership");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, add_peer_then_remove_it);
    tcase_add_test(tc, add_learner_then_promote);
    tcase_add_test(tc, membership_errors);
    tcase_add_test(tc, remove_the_leader);
    tcase_add_test(tc, transfer_leadership);
    tcase_add_test(tc, snapshot_installed_on_new_learner);
    tcase_add_test(tc, automatic_snapshots_and_restart);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
