/*
 * tests/transport/test_tcp_slow_peer.c: a peer that completes the
 * handshake and then never reads. Servers 1 and 2 are real; server 3 is
 * a socket that answers hellos as 3 and then lets its receive buffer
 * fill. The leader's queue for 3 fills and drops (traced, counted,
 * bounded), every send still returns at once, and the cluster keeps
 * committing with its majority of two.
 *
 * Also: a peer that answers a hello with another id than the one it was
 * dialled as is refused (the connecting side checks who answered), and
 * a real server dialled under another server's id refuses the hello.
 */
#include "tcp_harness.h"

#include <poll.h>

#define QUEUE_MSGS 64
#define QUEUE_BYTES (256u * 1024u)

/* ---- the peer that never reads ------------------------------------------ */

struct mute {
    int lfd;
    uint16_t port;
    uint64_t answer_id; /* the id it claims in its answers */
    pthread_t th;
    atomic_int stop;
    atomic_int handshakes;
    int fds[64];
    int nfds;
};

static int read_full(int fd, unsigned char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, b + got, n - got, 0);
        if (r <= 0) {
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static void *mute_main(void *arg)
{
    struct mute *m = arg;
    while (!atomic_load(&m->stop)) {
        struct pollfd pf = {m->lfd, POLLIN, 0};
        if (poll(&pf, 1, 20) <= 0) {
            continue;
        }
        int fd = accept(m->lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        struct timeval tv = {2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        unsigned char h[40 + CRAFT_MAX_ADDR_BYTES];
        if (read_full(fd, h, 33) != 0 || read_full(fd, h + 33, h[32]) != 0 ||
            memcmp(h, "CRFT", 4) != 0 || m->nfds == 64) {
            close(fd);
            continue;
        }
        /* The answer: accepted, from answer_id. Then never read. */
        unsigned char a[16] = {'C', 'R', 'F', 'A', 1, 0, 0, 0};
        put_u64(a + 8, m->answer_id);
        tn_write_all(fd, a, sizeof(a));
        m->fds[m->nfds++] = fd;
        atomic_fetch_add(&m->handshakes, 1);
    }
    return NULL;
}

static void mute_start(struct mute *m, uint64_t answer_id)
{
    memset(m, 0, sizeof(*m));
    m->answer_id = answer_id;
    m->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(m->lfd, 0);
    /* A small receive window, inherited by accepted sockets: the
     * sender's buffers fill sooner. */
    int small = 4096;
    setsockopt(m->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(m->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(m->lfd, 16), 0);
    socklen_t sl = sizeof(a);
    ck_assert_int_eq(getsockname(m->lfd, (struct sockaddr *)&a, &sl), 0);
    m->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&m->th, NULL, mute_main, m), 0);
}

static void mute_stop(struct mute *m)
{
    atomic_store(&m->stop, 1);
    pthread_join(m->th, NULL);
    for (int k = 0; k < m->nfds; k++) {
        close(m->fds[k]);
    }
    close(m->lfd);
}

/* Server 3 of the membership lives at port. */
static void place_3(struct tnet *c, uint16_t port)
{
    struct tn *three = tn_of(c, 3);
    three->port = port;
    snprintf(three->addr, sizeof(three->addr), "127.0.0.1:%u",
             (unsigned)port);
}

START_TEST(peer_that_never_reads)
{
    struct tnet c;
    struct mute m;
    uint64_t n = tn_quick() ? 3000 : 30000;
    mute_start(&m, 3);
    tn_init(&c, 0);
    c.topts.queue_messages = QUEUE_MSGS;
    c.topts.queue_bytes = QUEUE_BYTES;
    tn_tcp_up(&c, 1, 0);
    tn_tcp_up(&c, 2, 0);
    place_3(&c, m.port);
    const uint64_t ids[] = {1, 2, 3};
    tn_launch(&c, 1, ids, 3);
    tn_launch(&c, 2, ids, 3);
    uint64_t leader = tn_wait_leader(&c);
    tn_wait_metric(&c, leader, 3, CRAFT_TCP_METRIC_CONNECTED, 1, 1);

    /* Fill the leader's way to 3: the socket, then the queue. Each send
     * returns at once; the first that does not fit is refused. */
    struct tn *x = tn_of(&c, leader);
    static unsigned char big[64 * 1024];
    memset(big, 0x5a, sizeof(big));
    int busy = 0;
    int64_t worst = 0;
    for (int k = 0; k < 10000 && !busy; k++) {
        int64_t t0 = tn_now_ns();
        pthread_mutex_lock(&x->shim_mu);
        int rv = x->real.send(x->real.user, 3, big, sizeof(big));
        pthread_mutex_unlock(&x->shim_mu);
        int64_t d = tn_now_ns() - t0;
        worst = d > worst ? d : worst;
        ck_assert(rv == CRAFT_OK || rv == CRAFT_EBUSY);
        busy = rv == CRAFT_EBUSY;
    }
    ck_assert_msg(busy, "64 MiB went to a peer that never reads");
    trec_wait(&c.tr, "transport.dropped", "peer=3", "reason=queue_full");
    ck_assert_uint_le(tn_tcp_metric(&c, leader, 3,
                                    CRAFT_TCP_METRIC_QUEUED_BYTES),
                      QUEUE_BYTES);
    ck_assert_uint_le(tn_tcp_metric(&c, leader, 3,
                                    CRAFT_TCP_METRIC_QUEUED_FRAMES),
                      QUEUE_MSGS);
    ck_assert_uint_ge(tn_tcp_metric(&c, leader, 3, CRAFT_TCP_METRIC_DROPS),
                      1);

    /* The cluster commits with 1 and 2 while nothing more reaches 3;
     * the drivers' sends never wait. */
    atomic_store(&tn_of(&c, 1)->send_max_ns, 0);
    atomic_store(&tn_of(&c, 2)->send_max_ns, 0);
    atomic_store(&tn_of(&c, 1)->sends, 0);
    atomic_store(&tn_of(&c, 2)->sends, 0);
    int64_t t0 = tc_now_ms();
    tn_commit_many(&c, 1, n, 256);
    int64_t ms = tc_now_ms() - t0;
    leader = tn_wait_leader(&c);
    int64_t smax = atomic_load(&tn_of(&c, leader)->send_max_ns);
    fprintf(stderr,
            "slow peer: %llu entries in %lld ms; leader %llu: %llu sends, "
            "slowest %lld us; filling: slowest %lld us; drops to 3: %llu\n",
            (unsigned long long)n, (long long)ms, (unsigned long long)leader,
            (unsigned long long)atomic_load(&tn_of(&c, leader)->sends),
            (long long)(smax / 1000), (long long)(worst / 1000),
            (unsigned long long)tn_tcp_metric(&c, leader, 3,
                                              CRAFT_TCP_METRIC_DROPS));
    /* A send that waited for the mute peer would wait forever; the bound
     * is only there to catch one that waits at all, with room for a
     * loaded machine (or valgrind). */
    ck_assert_int_lt(smax, 2000LL * 1000 * 1000);
    ck_assert_int_lt(worst, 2000LL * 1000 * 1000);
    /* Messages to 3 after the fill are refused (CRAFT_EBUSY): the node
     * keeps them in its own bounded queue for 3 or drops them, its
     * choice; either way the transport's queue stays within bounds. */
    ck_assert_uint_le(tn_tcp_metric(&c, leader, 3,
                                    CRAFT_TCP_METRIC_QUEUED_BYTES),
                      QUEUE_BYTES);
    /* 1 and 2 still talk to each other. */
    uint64_t f = leader == 1 ? 2 : 1;
    ck_assert_uint_eq(tn_tcp_metric(&c, leader, f,
                                    CRAFT_TCP_METRIC_CONNECTED), 1);
    tn_check_converged(&c);
    tn_free(&c);
    mute_stop(&m);
}
END_TEST

/* A peer that answers as someone else is not trusted with the
 * messages: the dialling side refuses the connection. */
START_TEST(answer_from_wrong_id_refused)
{
    struct tnet c;
    struct mute m;
    mute_start(&m, 9); /* dialled as 3, answers as 9 */
    tn_init(&c, 0);
    c.topts.backoff_min_ms = 20;
    c.topts.backoff_max_ms = 100;
    tn_tcp_up(&c, 1, 0);
    place_3(&c, m.port);
    const uint64_t ids[] = {1, 3};
    tn_launch(&c, 1, ids, 2);
    trec_wait(&c.tr, "transport.refused", "peer=3", "direction=out");
    trec_wait(&c.tr, "transport.refused", "reason=receiver", "direction=out");
    trec_wait(&c.tr, "transport.connect_failed", "peer=3", "reason=refused");
    ck_assert_uint_eq(tn_tcp_metric(&c, 1, 3, CRAFT_TCP_METRIC_CONNECTS), 0);
    ck_assert_uint_ge(tn_tcp_metric(&c, 1, 3,
                                    CRAFT_TCP_METRIC_HANDSHAKE_FAILURES),
                      1);
    ck_assert_uint_eq(tn_tcp_metric(&c, 1, 3, CRAFT_TCP_METRIC_FRAMES_OUT),
                      0);
    tn_free(&c);
    mute_stop(&m);
}
END_TEST

/* Server 1 believes 2 lives where 3 does: 3 refuses a hello meant for 2,
 * and 1 sees the refusal and why. */
START_TEST(dialled_under_wrong_id_refused)
{
    struct tnet c;
    tn_init(&c, 0);
    c.topts.backoff_min_ms = 20;
    c.topts.backoff_max_ms = 100;
    tn_tcp_up(&c, 1, 0);
    tn_tcp_up(&c, 3, 0);
    struct tn *two = tn_of(&c, 2);
    two->port = tn_of(&c, 3)->port;
    snprintf(two->addr, sizeof(two->addr), "%s", tn_of(&c, 3)->addr);
    const uint64_t ids[] = {1, 2};
    tn_launch(&c, 1, ids, 2);
    trec_wait(&c.tr, "transport.refused", "peer=2", "reason=receiver");
    ck_assert_int_ge(trec_find(&c.tr, "transport.refused", "direction=in",
                               "reason=receiver"),
                     1);
    ck_assert_int_ge(trec_find(&c.tr, "transport.refused", "direction=out",
                               "reason=receiver"),
                     1);
    ck_assert_uint_eq(tn_tcp_metric(&c, 1, 2, CRAFT_TCP_METRIC_CONNECTS), 0);
    ck_assert_uint_eq(tn_tcp_metric(&c, 3, 0, CRAFT_TCP_METRIC_ACCEPTS), 0);
    ck_assert_uint_eq(tn_tcp_metric(&c, 3, 0, CRAFT_TCP_METRIC_FRAMES_IN), 0);
    tn_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tcp_slow_peer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, peer_that_never_reads);
    tcase_add_test(tc, answer_from_wrong_id_refused);
    tcase_add_test(tc, dialled_under_wrong_id_refused);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
