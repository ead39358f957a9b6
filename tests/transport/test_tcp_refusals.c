/*
 * tests/transport/test_tcp_refusals.c: what a listener refuses. Raw
 * sockets speak to node 1's transport: a wrong cluster id, a wrong
 * receiver id, an unknown version, a sender that is not a member, bytes
 * that are not the protocol, a frame over the limit, an empty frame,
 * half a frame then silence, half a hello then silence. Each is traced
 * with its reason, none reaches the node, and the listener keeps
 * serving: a good connection afterwards is accepted and delivers.
 */
#include "tcp_harness.h"

#define CLUSTER 0xc0ffee

static struct tnet C;

/* Node 1 alone in a membership {1, 2}; 2's address is a dead port. */
static void setup(void)
{
    tn_init(&C, 0);
    C.topts.stall_timeout_ms = 300;
    C.topts.connect_timeout_ms = 300;
    C.topts.max_frame_bytes = 4096;
    tn_tcp_up(&C, 1, 0);
    struct tn *two = tn_of(&C, 2);
    two->port = 1;
    snprintf(two->addr, sizeof(two->addr), "127.0.0.1:1");
    const uint64_t ids[] = {1, 2};
    tn_launch(&C, 1, ids, 2);
}

static uint64_t received(void)
{
    uint64_t v = 0;
    ck_assert_int_eq(craft_node_metric(tn_of(&C, 1)->node,
                                       CRAFT_METRIC_MESSAGES_RECEIVED, &v),
                     CRAFT_OK);
    return v;
}

/* Sends a hello (+ extra bytes) and returns the answer's status. */
static int hello_status(uint16_t version, uint64_t cluster, uint64_t sender,
                        uint64_t receiver, int *fd_out)
{
    unsigned char b[300];
    int fd = tn_dial(tn_of(&C, 1)->port);
    size_t n = tn_hello(b, version, cluster, sender, receiver, "127.0.0.1:9");
    tn_write_all(fd, b, n);
    uint64_t from = 0;
    int st = tn_read_ack(fd, &from);
    if (st >= 0) {
        ck_assert_uint_eq(from, 1);
    }
    if (fd_out != NULL) {
        *fd_out = fd;
    } else {
        ck_assert(tn_closed(fd));
        close(fd);
    }
    return st;
}

START_TEST(refusals_traced_and_kept_out)
{
    setup();
    uint64_t port = tn_of(&C, 1)->port;
    int fd;

    /* Hellos refused with an answer that says why. */
    ck_assert_int_eq(hello_status(1, CLUSTER + 1, 2, 1, NULL), 3);
    trec_wait(&C.tr, "transport.refused", "reason=cluster", "direction=in");
    ck_assert_int_eq(hello_status(1, CLUSTER, 2, 9, NULL), 4);
    trec_wait(&C.tr, "transport.refused", "reason=receiver", NULL);
    ck_assert_int_eq(hello_status(2, CLUSTER, 2, 1, NULL), 2);
    trec_wait(&C.tr, "transport.refused", "reason=version", NULL);
    ck_assert_int_eq(hello_status(1, CLUSTER, 5, 1, NULL), 6);
    trec_wait(&C.tr, "transport.refused", "reason=not_member", "peer=5");
    ck_assert_int_eq(hello_status(1, CLUSTER, 0, 1, NULL), 5);
    trec_wait(&C.tr, "transport.refused", "reason=malformed", NULL);

    /* Not the protocol: closed without an answer. */
    fd = tn_dial((uint16_t)port);
    tn_write_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    ck_assert_int_eq(tn_read_ack(fd, NULL), -1);
    close(fd);
    trec_wait(&C.tr, "transport.refused", "reason=magic", "peer=0");

    /* Half a hello, then silence: refused when time is up. */
    fd = tn_dial((uint16_t)port);
    unsigned char b[5000];
    size_t n = tn_hello(b, 1, CLUSTER, 2, 1, NULL);
    tn_write_all(fd, b, n / 2);
    ck_assert(tn_closed(fd));
    close(fd);
    trec_wait(&C.tr, "transport.refused", "reason=timeout", NULL);

    /* Accepted hellos, then bad frames. */
    ck_assert_int_eq(hello_status(1, CLUSTER, 2, 1, &fd), 0);
    unsigned char hdr[4];
    put_u64(b, 0);
    hdr[0] = 0x01, hdr[1] = 0x10, hdr[2] = 0, hdr[3] = 0; /* 4097 */
    tn_write_all(fd, hdr, 4);
    ck_assert(tn_closed(fd));
    close(fd);
    trec_wait(&C.tr, "transport.frame_too_big", "bytes=4097", "limit=4096");
    trec_wait(&C.tr, "transport.disconnected", "reason=frame_too_big",
              "direction=in");

    ck_assert_int_eq(hello_status(1, CLUSTER, 2, 1, &fd), 0);
    memset(hdr, 0, 4);
    tn_write_all(fd, hdr, 4);
    ck_assert(tn_closed(fd));
    close(fd);
    trec_wait(&C.tr, "transport.disconnected", "reason=frame_empty", NULL);

    /* Half a frame, then silence: closed after stall_timeout_ms, and the
     * half never reaches the node. */
    ck_assert_int_eq(hello_status(1, CLUSTER, 2, 1, &fd), 0);
    hdr[0] = 100, hdr[1] = hdr[2] = hdr[3] = 0;
    tn_write_all(fd, hdr, 4);
    memset(b, 0xab, 50);
    tn_write_all(fd, b, 50);
    ck_assert(tn_closed(fd));
    close(fd);
    trec_wait(&C.tr, "transport.disconnected", "reason=stalled", NULL);

    /* Frames sent before a hello, or in place of one: never delivered. */
    fd = tn_dial((uint16_t)port);
    hdr[0] = 10;
    tn_write_all(fd, hdr, 4);
    tn_write_all(fd, b, 10);
    ck_assert(tn_closed(fd));
    close(fd);

    ck_assert_uint_eq(received(), 0);
    ck_assert_uint_eq(tn_tcp_metric(&C, 1, 0, CRAFT_TCP_METRIC_FRAMES_IN), 0);
    ck_assert_uint_ge(tn_tcp_metric(&C, 1, 0,
                                    CRAFT_TCP_METRIC_HANDSHAKE_FAILURES),
                      8);

    /* The listener still serves: a good hello and two frames (bytes that
     * do not decode, which the node counts and drops). */
    ck_assert_int_eq(hello_status(1, CLUSTER, 2, 1, &fd), 0);
    trec_wait(&C.tr, "transport.accepted", "peer=2", NULL);
    for (int k = 0; k < 2; k++) {
        hdr[0] = 20;
        tn_write_all(fd, hdr, 4);
        tn_write_all(fd, b, 20);
    }
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    while (received() < 2) {
        ck_assert(tc_now_ms() < end);
        tc_sleep_ms(2);
    }
    ck_assert_uint_eq(tn_tcp_metric(&C, 1, 2, CRAFT_TCP_METRIC_FRAMES_IN), 2);
    ck_assert_uint_eq(tn_tcp_metric(&C, 1, 2, CRAFT_TCP_METRIC_BYTES_IN), 48);
    /* A second connection from the same sender replaces the first. */
    int fd2;
    ck_assert_int_eq(hello_status(1, CLUSTER, 2, 1, &fd2), 0);
    ck_assert(tn_closed(fd));
    trec_wait(&C.tr, "transport.disconnected", "reason=replaced", NULL);
    close(fd);
    close(fd2);
    tn_free(&C);
}
END_TEST

/* Argument errors of the API, and a port already taken. */
START_TEST(api_errors)
{
    craft_tcp_options o;
    craft_tcp *t = NULL, *t2 = NULL;
    ck_assert_int_eq(craft_tcp_options_init(&o), CRAFT_OK);
    ck_assert_int_eq(craft_tcp_create(NULL, &t), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_create(&o, NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_EINVAL); /* node_id 0 */
    o.node_id = 1;
    o.struct_size = 0;
    ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_ESTRUCT);
    o.struct_size = sizeof(o) + 8;
    ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_ESTRUCT);
    o.struct_size = sizeof(o);
    const char *bad[] = {"nohost", "1.2.3.4", "::1:80", "[::1]", "x:99999",
                         ""};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        o.listen = bad[k];
        ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_EINVAL);
    }
    o.listen = "127.0.0.1:0";
    o.advertise = "nope";
    ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_EINVAL);
    o.advertise = NULL;
    o.max_frame_bytes = 10;
    ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_EINVAL);
    o.max_frame_bytes = CRAFT_MAX_MESSAGE_BYTES + 1;
    ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_EINVAL);
    o.max_frame_bytes = 4096;
    o.backoff_max_ms = 1;
    ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_EINVAL);
    o.backoff_max_ms = 2000;
    o.listen = "192.0.2.1:0"; /* not a local address */
    ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_EIO);
    ck_assert_ptr_null(t);

    o.listen = "127.0.0.1:0";
    ck_assert_int_eq(craft_tcp_create(&o, &t), CRAFT_OK);
    uint16_t port = craft_tcp_port(t);
    ck_assert_uint_ne(port, 0);
    char taken[32];
    snprintf(taken, sizeof(taken), "127.0.0.1:%u", (unsigned)port);
    o.listen = taken;
    ck_assert_int_eq(craft_tcp_create(&o, &t2), CRAFT_EIO); /* in use */

    ck_assert_int_eq(craft_tcp_set_peer(NULL, 2, "a:1"), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_set_peer(t, 0, "a:1"), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_set_peer(t, 1, "a:1"), CRAFT_EINVAL); /* self */
    ck_assert_int_eq(craft_tcp_set_peer(t, 2, "a"), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_set_peer(t, 2, "a:0"), CRAFT_EINVAL);
    char big[CRAFT_MAX_ADDR_BYTES + 8];
    memset(big, 'a', sizeof(big));
    big[sizeof(big) - 1] = 0;
    ck_assert_int_eq(craft_tcp_set_peer(t, 2, big), CRAFT_ETOOBIG);
    ck_assert_int_eq(craft_tcp_set_peer(t, 2, "127.0.0.1:1"), CRAFT_OK);
    ck_assert_int_eq(craft_tcp_set_peer(t, 2, NULL), CRAFT_OK);
    ck_assert_int_eq(craft_tcp_set_peer(t, 3, ""), CRAFT_OK);

    craft_transport_ops ops = CRAFT_TRANSPORT_OPS_INIT;
    ck_assert_int_eq(craft_tcp_transport(NULL, &ops), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_transport(t, NULL), CRAFT_EINVAL);
    ops.struct_size = 0;
    ck_assert_int_eq(craft_tcp_transport(t, &ops), CRAFT_ESTRUCT);
    ops.struct_size = sizeof(ops);
    ck_assert_int_eq(craft_tcp_transport(t, &ops), CRAFT_OK);
    ck_assert_ptr_eq(ops.user, t);
    unsigned char msg[8] = {0};
    ck_assert_int_eq(ops.send(ops.user, 0, msg, 8), CRAFT_EINVAL);
    ck_assert_int_eq(ops.send(ops.user, 2, NULL, 8), CRAFT_EINVAL);
    ck_assert_int_eq(ops.send(ops.user, 2, msg, 0), CRAFT_EINVAL);
    static unsigned char huge[4097];
    ck_assert_int_eq(ops.send(ops.user, 2, huge, sizeof(huge)),
                     CRAFT_ETOOBIG);
    /* No address for 9: taken, then dropped by the loop. */
    ck_assert_int_eq(ops.send(ops.user, 9, msg, 8), CRAFT_OK);

    ck_assert_int_eq(craft_tcp_attach(NULL, NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_attach(t, NULL), CRAFT_OK);
    uint64_t v;
    ck_assert_int_eq(craft_tcp_metric(NULL, 0, 1, &v), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_metric(t, 0, 0, &v), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_metric(t, 0, 99, &v), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_metric(t, 0, 1, NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_metric(t, 12345, 1, &v), CRAFT_OK);
    ck_assert_uint_eq(v, 0);
    for (int id = 1; craft_tcp_metric_name(id) != NULL; id++) {
        ck_assert_int_eq(craft_tcp_metric(t, 0, id, &v), CRAFT_OK);
        ck_assert_int_le(id, CRAFT_TCP_METRIC_CONNECTED);
    }
    ck_assert_ptr_null(craft_tcp_metric_name(0));
    ck_assert_str_eq(craft_tcp_metric_name(CRAFT_TCP_METRIC_DROPS),
                     "craft_tcp_drops_total");
    size_t n = 0;
    ck_assert_int_eq(craft_tcp_peers(t, NULL, 0, &n), CRAFT_OK);
    ck_assert_int_eq(craft_tcp_peers(NULL, NULL, 0, &n), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_peers(t, NULL, 1, &n), CRAFT_EINVAL);
    ck_assert_int_eq(craft_tcp_peers(t, NULL, 0, NULL), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_tcp_port(NULL), 0);
    craft_tcp_free(t);
    craft_tcp_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tcp_refusals");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, refusals_traced_and_kept_out);
    tcase_add_test(tc, api_errors);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
