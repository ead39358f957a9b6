/*
 * tests/transport/test_tcp_cluster.c: a 3-node cluster over real TCP on
 * 127.0.0.1 (ephemeral ports), with the memory storage and with the file
 * storage: elect, commit 100k entries, kill a follower's transport, keep
 * committing, restore it on the same port, and the follower catches up.
 */
#include "tcp_harness.h"

static void kill_restore(int use_file)
{
    struct tnet c;
    uint64_t n = tn_quick() ? 10000 : 100000;
    tn_init(&c, use_file);
    tn_start(&c, 3);
    uint64_t leader = tn_wait_leader(&c);

    /* Every server connected to the two others. */
    for (uint64_t a = 1; a <= 3; a++) {
        for (uint64_t b = 1; b <= 3; b++) {
            if (a != b) {
                tn_wait_metric(&c, a, b, CRAFT_TCP_METRIC_CONNECTED, 1, 1);
            }
        }
    }

    int64_t t0 = tc_now_ms();
    tn_commit_many(&c, 1, n, 256);
    int64_t t1 = tc_now_ms();
    fprintf(stderr, "tcp cluster (%s): %llu entries in %lld ms\n",
            use_file ? "file" : "memory", (unsigned long long)n,
            (long long)(t1 - t0));
    tn_check_converged(&c);
    leader = tn_wait_leader(&c);
    uint64_t f = leader == 1 ? 2 : 1;
    ck_assert_uint_gt(tn_tcp_metric(&c, f, leader, CRAFT_TCP_METRIC_FRAMES_IN),
                      0);
    ck_assert_uint_gt(tn_tcp_metric(&c, leader, f,
                                    CRAFT_TCP_METRIC_BYTES_OUT),
                      n * 8);

    /* Kill the follower's transport: the others see it go. */
    uint64_t applied_f = craft_node_applied_index(tn_of(&c, f)->node);
    uint16_t port = tn_of(&c, f)->port;
    tn_tcp_kill(&c, f);
    tn_wait_metric(&c, leader, f, CRAFT_TCP_METRIC_CONNECTED, 0, 1);
    trec_wait(&c.tr, "transport.disconnected", "direction=out", NULL);
    tn_commit_many(&c, n + 1, n / 5, 256); /* the majority goes on */
    /* It did not get anything meanwhile. */
    ck_assert_uint_le(craft_node_applied_index(tn_of(&c, f)->node),
                      applied_f + 2 * 1024);

    /* Restore it on the same port: it is reconnected and catches up. */
    uint64_t connects = tn_tcp_metric(&c, leader, f,
                                      CRAFT_TCP_METRIC_CONNECTS);
    tn_tcp_up(&c, f, port);
    tn_wait_metric(&c, leader, f, CRAFT_TCP_METRIC_CONNECTS, connects + 1, 0);
    tn_commit_many(&c, n + n / 5 + 1, 1000, 64);
    tn_check_converged(&c);
    uint64_t cnt = 0;
    tfsm_read(&tn_of(&c, f)->fsm, &cnt, NULL, NULL);
    ck_assert_uint_ge(cnt, n + n / 5 + 1000);
    ck_assert_int_eq(c.tr.count[CRAFT_TRACE_TRANSPORT_LISTENING], 4);
    tn_free(&c);
}

START_TEST(memory_storage)
{
    kill_restore(0);
}
END_TEST

START_TEST(file_storage)
{
    kill_restore(1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tcp_cluster");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, memory_storage);
    tcase_add_test(tc, file_storage);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
