/*
 * tests/transport/test_tcp_membership.c: the transport follows the
 * membership. A fourth server, started empty, is added by id and address
 * (craft_node_add_peer_addr) while proposals run: every server connects
 * to it, it catches up and is promoted to voter. Then a follower is
 * removed while proposals run: every other server closes its connections
 * to it, refuses its hellos and forgets it.
 */
#include "tcp_harness.h"

/* Runs a membership change through whichever node leads, retrying while
 * another change or a leader change is in the way. */
static void change(struct tnet *c, int add, uint64_t id)
{
    int64_t end = tc_now_ms() + 4 * TC_WAIT_MS;
    for (;;) {
        uint64_t leader = tn_wait_leader(c);
        struct twait w;
        tw_init(&w);
        craft_node *n = tn_of(c, leader)->node;
        int rv = add ? craft_node_add_peer_addr(n, id, tn_of(c, id)->addr,
                                                strlen(tn_of(c, id)->addr),
                                                TC_WAIT_MS, tw_cb, &w)
                     : craft_node_remove_peer(n, id, TC_WAIT_MS, tw_cb, &w);
        ck_assert_int_eq(rv, CRAFT_OK);
        int st = tw_wait(&w, 2 * TC_WAIT_MS);
        tw_destroy(&w);
        if (st == CRAFT_OK) {
            return;
        }
        ck_assert_msg(st == CRAFT_EBUSY || st == CRAFT_ENOTLEADER ||
                          st == CRAFT_ESTEPPEDDOWN || st == CRAFT_ETIMEDOUT ||
                          (st == CRAFT_EEXIST && add),
                      "membership change: %s", craft_strerror(st));
        if (st == CRAFT_EEXIST) {
            return; /* an earlier attempt that looked lost went through */
        }
        ck_assert_msg(tc_now_ms() < end, "membership change: %s",
                      craft_strerror(st));
        tc_sleep_ms(20);
    }
}

/* The role of id in node at's membership, 0 when it is not a member;
 * its address into addr. */
static int member_role(struct tnet *c, uint64_t at, uint64_t id, char *addr,
                       size_t cap)
{
    craft_status *st = NULL;
    uint64_t v = 0;
    int role = 0;
    ck_assert_int_eq(craft_node_membership(tn_of(c, at)->node, &st, &v),
                     CRAFT_OK);
    for (size_t k = 0; k < craft_status_member_count(st); k++) {
        uint64_t mid = 0;
        int r = 0;
        const void *a = NULL;
        size_t len = 0;
        craft_status_member(st, k, &mid, &r, NULL, NULL, NULL);
        if (mid == id) {
            role = r;
            craft_status_member_addr(st, k, &a, &len);
            if (addr != NULL) {
                snprintf(addr, cap, "%.*s", (int)len, (const char *)a);
            }
        }
    }
    craft_status_free(st);
    return role;
}

static int knows_peer(struct tnet *c, uint64_t at, uint64_t id)
{
    uint64_t ids[TN_MAX * 2];
    size_t n = 0;
    struct tn *x = tn_of(c, at);
    pthread_mutex_lock(&x->shim_mu);
    ck_assert_int_eq(craft_tcp_peers(x->tcp, ids, TN_MAX * 2, &n), CRAFT_OK);
    pthread_mutex_unlock(&x->shim_mu);
    for (size_t k = 0; k < n && k < TN_MAX * 2; k++) {
        if (ids[k] == id) {
            return 1;
        }
    }
    return 0;
}

START_TEST(add_then_remove_while_proposing)
{
    struct tnet c;
    uint64_t chunk = tn_quick() ? 200 : 2000;
    tn_init(&c, 0);
    tn_start(&c, 3);
    tn_wait_leader(&c);
    tn_commit_many(&c, 1, chunk, 64);

    /* Server 4 starts empty: no configuration, it waits to be contacted
     * (its transport accepts any sender until it has a membership). */
    tn_tcp_up(&c, 4, 0);
    tn_launch(&c, 4, NULL, 0);

    struct tn_bg bg;
    tn_bg_start(&bg, &c, 1000000, 32);
    tn_bg_wait(&bg, 0, chunk / 4);
    change(&c, 1, 4);

    /* Every server has 4 as a voter at its address, and is connected to
     * it; 4 is connected to every server. */
    for (uint64_t a = 1; a <= 4; a++) {
        int64_t end = tc_now_ms() + TC_WAIT_MS;
        char addr[80] = "";
        while (member_role(&c, a, 4, addr, sizeof(addr)) != CRAFT_VOTER) {
            ck_assert_msg(tc_now_ms() < end, "node %llu: 4 not a voter",
                          (unsigned long long)a);
            tc_sleep_ms(5);
        }
        ck_assert_str_eq(addr, tn_of(&c, 4)->addr);
        for (uint64_t b = 1; b <= 4; b++) {
            if (a != b) {
                tn_wait_metric(&c, a, b, CRAFT_TCP_METRIC_CONNECTED, 1, 1);
            }
        }
    }
    trec_wait(&c.tr, "transport.address_changed", "peer=4",
              "source=membership");
    /* More commits with 4 in the quorum. */
    uint64_t ok = tn_bg_ok(&bg);
    tn_bg_wait(&bg, ok, chunk);
    tn_bg_stop(&bg);
    tn_check_converged(&c);
    ck_assert_uint_gt(craft_node_applied_index(tn_of(&c, 4)->node), chunk);

    /* Remove a follower (not 4) while proposals run. */
    uint64_t leader = tn_wait_leader(&c);
    uint64_t v = leader == 1 ? 2 : 1;
    tn_bg_start(&bg, &c, 2000000, 32);
    change(&c, 0, v);
    ok = tn_bg_ok(&bg);
    tn_bg_wait(&bg, ok, chunk / 4);

    /* Every other server drops it: no connection either way, its hellos
     * refused, and it is forgotten once nothing of it is left. */
    for (uint64_t a = 1; a <= 4; a++) {
        if (a == v) {
            continue;
        }
        int64_t end = tc_now_ms() + TC_WAIT_MS;
        while (member_role(&c, a, v, NULL, 0) != 0) {
            ck_assert_msg(tc_now_ms() < end, "node %llu still has %llu",
                          (unsigned long long)a, (unsigned long long)v);
            tc_sleep_ms(5);
        }
        end = tc_now_ms() + TC_WAIT_MS;
        while (knows_peer(&c, a, v)) {
            ck_assert_msg(tc_now_ms() < end, "node %llu's transport "
                          "still knows %llu", (unsigned long long)a,
                          (unsigned long long)v);
            tc_sleep_ms(5);
        }
        ck_assert_uint_eq(tn_tcp_metric(&c, a, v,
                                        CRAFT_TCP_METRIC_CONNECTED), 0);
    }
    char peer[32];
    snprintf(peer, sizeof(peer), "peer=%llu", (unsigned long long)v);
    trec_wait(&c.tr, "transport.disconnected", peer, "reason=removed");
    trec_wait(&c.tr, "transport.address_changed", peer, "source=none");

    ok = tn_bg_ok(&bg);
    tn_bg_wait(&bg, ok, chunk / 4);
    tn_bg_stop(&bg);
    /* The removed server may keep knocking: it is refused as a stranger
     * (its own log may never have told it it was removed). */
    tn_stop(&c, v);
    tn_check_converged(&c);
    tn_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tcp_membership");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, add_then_remove_while_proposing);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
