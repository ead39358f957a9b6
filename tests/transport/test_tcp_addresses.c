/*
 * tests/transport/test_tcp_addresses.c: where peers are found. A cluster
 * whose membership names its servers by host name ("localhost:port",
 * resolved off the loop, every address tried in turn), addresses
 * overridden with craft_tcp_set_peer and the override removed again, and
 * a bracketed IPv6 literal dialled (nothing listens there: the attempt
 * fails, is traced and retried with backoff).
 */
#include "tcp_harness.h"

START_TEST(host_names_and_overrides)
{
    struct tnet c;
    tn_init(&c, 0);
    c.topts.backoff_min_ms = 20;
    c.topts.backoff_max_ms = 200;
    uint64_t ids[] = {1, 2, 3};
    for (int k = 0; k < 3; k++) {
        tn_tcp_up(&c, ids[k], 0);
    }
    /* The membership names them by host name. */
    for (int k = 0; k < 3; k++) {
        struct tn *x = tn_of(&c, ids[k]);
        snprintf(x->addr, sizeof(x->addr), "localhost:%u",
                 (unsigned)x->port);
    }
    for (int k = 0; k < 3; k++) {
        tn_launch(&c, ids[k], ids, 3);
    }
    tn_wait_leader(&c);
    for (uint64_t a = 1; a <= 3; a++) {
        for (uint64_t b = 1; b <= 3; b++) {
            if (a != b) {
                tn_wait_metric(&c, a, b, CRAFT_TCP_METRIC_CONNECTED, 1, 1);
            }
        }
    }
    trec_wait(&c.tr, "transport.connected", "address=localhost:", NULL);
    tn_commit_many(&c, 1, 500, 32);

    /* Node 1 reaches 2 through an override, then through the membership
     * again. */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u",
             (unsigned)tn_of(&c, 2)->port);
    uint64_t conn = tn_tcp_metric(&c, 1, 2, CRAFT_TCP_METRIC_CONNECTS);
    ck_assert_int_eq(craft_tcp_set_peer(tn_of(&c, 1)->tcp, 2, addr),
                     CRAFT_OK);
    trec_wait(&c.tr, "transport.address_changed", "peer=2",
              "source=override");
    tn_wait_metric(&c, 1, 2, CRAFT_TCP_METRIC_CONNECTS, conn + 1, 0);
    trec_wait(&c.tr, "transport.connected", "peer=2", "address=127.0.0.1:");
    tn_commit_many(&c, 501, 500, 32);
    conn = tn_tcp_metric(&c, 1, 2, CRAFT_TCP_METRIC_CONNECTS);
    ck_assert_int_eq(craft_tcp_set_peer(tn_of(&c, 1)->tcp, 2, NULL),
                     CRAFT_OK);
    tn_wait_metric(&c, 1, 2, CRAFT_TCP_METRIC_CONNECTS, conn + 1, 0);
    ck_assert_int_ge(trec_find(&c.tr, "transport.address_changed", "peer=2",
                               "source=membership"),
                     2);

    /* An IPv6 literal where nothing listens: refused by the kernel,
     * traced, retried; the override removed, 3 is reached again. */
    uint64_t fails = tn_tcp_metric(&c, 1, 3,
                                   CRAFT_TCP_METRIC_CONNECT_FAILURES);
    ck_assert_int_eq(craft_tcp_set_peer(tn_of(&c, 1)->tcp, 3, "[::1]:1"),
                     CRAFT_OK);
    trec_wait(&c.tr, "transport.connect_failed", "peer=3",
              "address=[::1]:1");
    tn_wait_metric(&c, 1, 3, CRAFT_TCP_METRIC_CONNECT_FAILURES, fails + 2, 0);
    conn = tn_tcp_metric(&c, 1, 3, CRAFT_TCP_METRIC_CONNECTS);
    ck_assert_int_eq(craft_tcp_set_peer(tn_of(&c, 1)->tcp, 3, ""), CRAFT_OK);
    tn_wait_metric(&c, 1, 3, CRAFT_TCP_METRIC_CONNECTS, conn + 1, 0);
    tn_commit_many(&c, 1001, 500, 32);
    tn_check_converged(&c);
    tn_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tcp_addresses");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, host_names_and_overrides);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
