/*
 * tests/transport/test_tcp_fuzz.c: random bytes at a live listener. Many
 * connections at once, each one of: random bytes; a hello with random
 * bytes flipped; a good hello followed by random bytes; a good hello
 * followed by frames of random length (some empty, some over the limit)
 * and random content. Every stream is written in random pieces,
 * interleaved with the others, and then closed or abandoned. The
 * transport must survive all of it (run under ASan + UBSan by `make
 * asan-transport`), keep its traces well formed, and a good connection
 * afterwards must still be accepted and delivered.
 *
 * CRAFT_TEST_SEED picks the seed (printed); the run lasts 3 s, 1 s with
 * CRAFT_TEST_QUICK=1.
 */
#include "tcp_harness.h"

#include <fcntl.h>
#include <poll.h>

#define CLUSTER 0xc0ffee
#define NCONN 16
#define STREAM_MAX 12000

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd() % n);
}

struct fconn {
    int fd;
    unsigned char b[STREAM_MAX];
    size_t len, off;
    int abandon; /* leave it open when written, until the end */
};

static void fill_random(unsigned char *b, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        b[k] = (unsigned char)rnd();
    }
}

static size_t put_frame(unsigned char *b, size_t room, uint32_t len)
{
    if (room < 4) {
        return 0;
    }
    b[0] = (unsigned char)len;
    b[1] = (unsigned char)(len >> 8);
    b[2] = (unsigned char)(len >> 16);
    b[3] = (unsigned char)(len >> 24);
    size_t body = len < room - 4 ? len : room - 4;
    fill_random(b + 4, body);
    return 4 + body;
}

/* Builds one random stream into f. */
static void make_stream(struct fconn *f)
{
    size_t n = 0;
    int mode = (int)rnd_below(4);
    if (mode == 0) {
        n = 1 + rnd_below(2000);
        fill_random(f->b, n);
        if (rnd_below(2) == 0) {
            memcpy(f->b, "CRFT", n < 4 ? n : 4); /* get past the magic */
        }
    } else {
        /* A hello, as sender 2 (a member) or someone else. */
        uint64_t sender = rnd_below(4) == 0 ? rnd_below(6) : 2;
        char addr[40];
        snprintf(addr, sizeof(addr), "127.0.0.1:%u",
                 (unsigned)(1 + rnd_below(65535)));
        n = tn_hello(f->b, 1, CLUSTER, sender, 1, addr);
        if (mode == 1) {
            size_t flips = 1 + rnd_below(4);
            for (size_t k = 0; k < flips; k++) {
                f->b[rnd_below(n)] ^= (unsigned char)(1 + rnd_below(255));
            }
            size_t extra = rnd_below(200);
            fill_random(f->b + n, extra);
            n += extra;
        } else if (mode == 2) {
            size_t extra = rnd_below(3000);
            fill_random(f->b + n, extra);
            n += extra;
        } else {
            int frames = 1 + (int)rnd_below(20);
            for (int k = 0; k < frames && n < STREAM_MAX - 4; k++) {
                uint32_t len;
                int pick = (int)rnd_below(10);
                len = pick == 0   ? 0
                      : pick == 1 ? 4097 + (uint32_t)rnd_below(1u << 30)
                      : pick == 2 ? 4096
                                  : 1 + (uint32_t)rnd_below(600);
                n += put_frame(f->b + n, STREAM_MAX - n, len);
            }
        }
    }
    f->len = n;
    f->off = 0;
    f->abandon = rnd_below(8) == 0;
}

static int dial_nb(uint16_t port)
{
    int fd = tn_dial(port);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Reads and discards whatever the listener sent; 1 when it closed. */
static int drain(int fd)
{
    unsigned char b[512];
    for (;;) {
        ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
        if (r == 0) {
            return 1;
        }
        if (r < 0) {
            return errno != EAGAIN && errno != EWOULDBLOCK;
        }
    }
}

START_TEST(random_bytes_at_the_listener)
{
    struct tnet c;
    const char *s = getenv("CRAFT_TEST_SEED");
    uint64_t seed = s != NULL ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
    rng_state = seed * 2654435761u + 1;
    int64_t run_ms = tn_quick() ? 1000 : 3000;
    fprintf(stderr, "tcp fuzz: seed %llu, %lld ms\n",
            (unsigned long long)seed, (long long)run_ms);

    tn_init(&c, 0);
    c.tr.quiet = 1;
    c.topts.stall_timeout_ms = 200;
    c.topts.connect_timeout_ms = 300;
    c.topts.max_frame_bytes = 4096;
    tn_tcp_up(&c, 1, 0);
    struct tn *two = tn_of(&c, 2);
    two->port = 1;
    snprintf(two->addr, sizeof(two->addr), "127.0.0.1:1");
    const uint64_t ids[] = {1, 2};
    tn_launch(&c, 1, ids, 2);
    uint16_t port = tn_of(&c, 1)->port;

    static struct fconn fc[NCONN];
    int kept[256];
    int nkept = 0;
    uint64_t streams = 0, bytes = 0;
    for (int k = 0; k < NCONN; k++) {
        fc[k].fd = -1;
    }
    int64_t end = tc_now_ms() + run_ms;
    while (tc_now_ms() < end) {
        for (int k = 0; k < NCONN; k++) {
            struct fconn *f = &fc[k];
            if (f->fd < 0) {
                make_stream(f);
                f->fd = dial_nb(port);
                streams++;
            }
            /* A random piece of the stream. */
            size_t piece = 1 + rnd_below(rnd_below(2) ? 16 : 1500);
            if (piece > f->len - f->off) {
                piece = f->len - f->off;
            }
            ssize_t w = send(f->fd, f->b + f->off, piece,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                f->off += (size_t)w;
                bytes += (uint64_t)w;
            }
            int closed = drain(f->fd);
            if (closed || (w < 0 && errno != EAGAIN) || f->off == f->len) {
                if (f->abandon && !closed && nkept < 256) {
                    kept[nkept++] = f->fd;
                } else {
                    close(f->fd);
                }
                f->fd = -1;
            }
        }
        if (rnd_below(4) == 0) {
            tc_sleep_ms(1);
        }
    }
    for (int k = 0; k < NCONN; k++) {
        if (fc[k].fd >= 0) {
            close(fc[k].fd);
        }
    }
    fprintf(stderr, "tcp fuzz: %llu streams, %llu bytes, %d abandoned\n",
            (unsigned long long)streams, (unsigned long long)bytes, nkept);

    /* Still serving: a good hello is accepted and its frames arrive (they
     * do not decode as messages: the node counts and drops them). */
    uint64_t in0 = tn_tcp_metric(&c, 1, 2, CRAFT_TCP_METRIC_FRAMES_IN);
    int fd = tn_dial(port);
    unsigned char b[300];
    size_t n = tn_hello(b, 1, CLUSTER, 2, 1, "127.0.0.1:9");
    tn_write_all(fd, b, n);
    ck_assert_int_eq(tn_read_ack(fd, NULL), 0);
    unsigned char fr[24] = {20, 0, 0, 0};
    tn_write_all(fd, fr, sizeof(fr));
    int64_t until = tc_now_ms() + TC_WAIT_MS;
    while (tn_tcp_metric(&c, 1, 2, CRAFT_TCP_METRIC_FRAMES_IN) < in0 + 1) {
        ck_assert(tc_now_ms() < until);
        tc_sleep_ms(2);
    }
    close(fd);
    for (int k = 0; k < nkept; k++) {
        close(kept[k]);
    }
    ck_assert_uint_ge(tn_tcp_metric(&c, 1, 0,
                                    CRAFT_TCP_METRIC_HANDSHAKE_FAILURES),
                      1);
    tn_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tcp_fuzz");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, random_bytes_at_the_listener);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
