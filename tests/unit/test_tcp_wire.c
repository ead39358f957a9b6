/*
 * tests/unit/test_tcp_wire.c: the TCP transport's wire protocol
 * (src/transport/wire.c), the pure functions the event loop and a fuzz
 * target call: hellos and their refusals, answers, frames, addresses,
 * and random input fed in random pieces.
 */
#include <string.h>

#include "harness.h"
#include "codec_util.h"
#include "transport/wire.h"

static const struct tw_rules R = {0xc1u, 7, 1000};

static size_t hello(uint8_t *b, uint16_t version, uint64_t cluster,
                    uint64_t sender, uint64_t receiver, const char *addr)
{
    struct tw_hello h;
    memset(&h, 0, sizeof(h));
    h.version = version;
    h.cluster = cluster;
    h.sender = sender;
    h.receiver = receiver;
    h.addr_len = addr != NULL ? (uint32_t)strlen(addr) : 0;
    if (h.addr_len > 0) {
        memcpy(h.addr, addr, h.addr_len);
    }
    return tw_hello_encode(&h, b);
}

START_TEST(hello_accepted_byte_by_byte)
{
    uint8_t b[TW_HELLO_MAX + 16];
    size_t n = hello(b, TW_VERSION, 0xc1u, 3, 7, "10.0.0.3:7003");
    ck_assert_uint_eq(n, TW_HELLO_FIXED + 13);
    ck_assert(memcmp(b, "CRFT", 4) == 0);
    struct tw_item it;
    for (size_t k = 0; k < n; k++) {
        tw_next_inbound(&R, 0, b, k, &it);
        ck_assert_int_eq(it.kind, TW_MORE);
    }
    /* A frame right behind it is not part of the hello. */
    memcpy(b + n, "\x02\x00\x00\x00xy", 6);
    tw_next_inbound(&R, 0, b, n + 6, &it);
    ck_assert_int_eq(it.kind, TW_HELLO);
    ck_assert_int_eq(it.reason, TW_OK);
    ck_assert_uint_eq(it.used, n);
    ck_assert_uint_eq(it.hello.sender, 3);
    ck_assert_uint_eq(it.hello.addr_len, 13);
    ck_assert(memcmp(it.hello.addr, "10.0.0.3:7003", 13) == 0);
    tw_next_inbound(&R, 1, b + n, 6, &it);
    ck_assert_int_eq(it.kind, TW_FRAME);
    ck_assert_uint_eq(it.len, 2);
    ck_assert(memcmp(b + n + it.off, "xy", 2) == 0);
    ck_assert_uint_eq(it.used, 6);
}
END_TEST

START_TEST(hello_refusals)
{
    uint8_t b[TW_HELLO_MAX];
    struct tw_item it;
    size_t n;

    n = hello(b, TW_VERSION, 0xc2u, 3, 7, NULL);
    tw_next_inbound(&R, 0, b, n, &it);
    ck_assert_int_eq(it.kind, TW_HELLO);
    ck_assert_int_eq(it.reason, TW_R_CLUSTER);

    n = hello(b, TW_VERSION, 0xc1u, 3, 8, NULL);
    tw_next_inbound(&R, 0, b, n, &it);
    ck_assert_int_eq(it.reason, TW_R_RECEIVER);

    /* An unknown version is refused as soon as its 2 bytes are in. */
    hello(b, TW_VERSION + 1, 0xc1u, 3, 7, NULL);
    tw_next_inbound(&R, 0, b, 6, &it);
    ck_assert_int_eq(it.kind, TW_HELLO);
    ck_assert_int_eq(it.reason, TW_R_VERSION);
    tw_next_inbound(&R, 0, b, 5, &it);
    ck_assert_int_eq(it.kind, TW_MORE);

    /* Malformed: flags (TLS is not in this version), sender 0 or self,
     * receiver 0, a NUL in the address. */
    n = hello(b, TW_VERSION, 0xc1u, 3, 7, NULL);
    b[6] = TW_FLAG_TLS;
    tw_next_inbound(&R, 0, b, n, &it);
    ck_assert_int_eq(it.reason, TW_R_MALFORMED);
    n = hello(b, TW_VERSION, 0xc1u, 0, 7, NULL);
    tw_next_inbound(&R, 0, b, n, &it);
    ck_assert_int_eq(it.reason, TW_R_MALFORMED);
    n = hello(b, TW_VERSION, 0xc1u, 7, 7, NULL);
    tw_next_inbound(&R, 0, b, n, &it);
    ck_assert_int_eq(it.reason, TW_R_MALFORMED);
    n = hello(b, TW_VERSION, 0xc1u, 3, 0, NULL);
    tw_next_inbound(&R, 0, b, n, &it);
    ck_assert_int_eq(it.reason, TW_R_MALFORMED);
    n = hello(b, TW_VERSION, 0xc1u, 3, 7, "ab:1");
    b[TW_HELLO_FIXED + 1] = 0;
    tw_next_inbound(&R, 0, b, n, &it);
    ck_assert_int_eq(it.reason, TW_R_MALFORMED);

    /* Not our protocol: closed at the first wrong byte. */
    const char *junk[] = {"GET / HTTP/1.1\r\n", "C", "CRFX", "\x16\x03\x01"};
    for (size_t k = 0; k < sizeof(junk) / sizeof(junk[0]); k++) {
        size_t len = strlen(junk[k]);
        tw_next_inbound(&R, 0, (const uint8_t *)junk[k], len, &it);
        if (k == 1) {
            ck_assert_int_eq(it.kind, TW_MORE); /* "C" may still be it */
        } else {
            ck_assert_int_eq(it.kind, TW_CLOSE);
            ck_assert_int_eq(it.reason, TW_R_MAGIC);
        }
    }
    ck_assert_str_eq(tw_reason_name(TW_R_CLUSTER), "cluster");
    ck_assert_str_eq(tw_reason_name(TW_R_NOT_MEMBER), "not_member");
    ck_assert_str_eq(tw_reason_name(99), "unknown");
}
END_TEST

START_TEST(frames)
{
    uint8_t b[16];
    struct tw_item it;
    test_put_u32(b, 0);
    tw_next_inbound(&R, 1, b, 4, &it);
    ck_assert_int_eq(it.kind, TW_CLOSE);
    ck_assert_int_eq(it.reason, TW_R_FRAME_EMPTY);
    test_put_u32(b, 1001);
    tw_next_inbound(&R, 1, b, 4, &it);
    ck_assert_int_eq(it.kind, TW_CLOSE);
    ck_assert_int_eq(it.reason, TW_R_FRAME_TOO_BIG);
    ck_assert_uint_eq(it.announced, 1001);
    test_put_u32(b, 0xffffffffu);
    tw_next_inbound(&R, 1, b, 4, &it);
    ck_assert_int_eq(it.reason, TW_R_FRAME_TOO_BIG);
    test_put_u32(b, 1000);
    tw_next_inbound(&R, 1, b, 10, &it);
    ck_assert_int_eq(it.kind, TW_MORE);
    ck_assert_uint_eq(it.announced, 1000);
    tw_next_inbound(&R, 1, b, 3, &it);
    ck_assert_int_eq(it.kind, TW_MORE);
    ck_assert_uint_eq(it.announced, 0);
    tw_next_inbound(&R, 1, b, 0, &it);
    ck_assert_int_eq(it.kind, TW_MORE);
}
END_TEST

START_TEST(acks)
{
    uint8_t b[TW_ACK_BYTES + 1];
    struct tw_item it;
    ck_assert_uint_eq(tw_ack_encode(TW_OK, 42, b), TW_ACK_BYTES);
    for (size_t k = 0; k < TW_ACK_BYTES; k++) {
        tw_parse_ack(b, k, &it);
        ck_assert_int_eq(it.kind, TW_MORE);
    }
    tw_parse_ack(b, TW_ACK_BYTES, &it);
    ck_assert_int_eq(it.kind, TW_ACK);
    ck_assert_int_eq(it.reason, TW_OK);
    ck_assert_uint_eq(it.peer, 42);
    tw_ack_encode(TW_R_CLUSTER, 42, b);
    tw_parse_ack(b, TW_ACK_BYTES, &it);
    ck_assert_int_eq(it.reason, TW_R_CLUSTER);
    tw_ack_encode(77, 42, b); /* unknown status */
    tw_parse_ack(b, TW_ACK_BYTES, &it);
    ck_assert_int_eq(it.reason, TW_R_MALFORMED);
    tw_ack_encode(TW_R_MAGIC, 42, b); /* never sent */
    tw_parse_ack(b, TW_ACK_BYTES, &it);
    ck_assert_int_eq(it.reason, TW_R_MALFORMED);
    tw_parse_ack((const uint8_t *)"CRFT", 4, &it);
    ck_assert_int_eq(it.kind, TW_CLOSE);
}
END_TEST

START_TEST(addresses)
{
    char host[64];
    uint16_t port = 0;
    struct {
        const char *in;
        const char *host;
        int port;
    } ok[] = {
        {"10.0.0.5:7001", "10.0.0.5", 7001},
        {"[::1]:7001", "::1", 7001},
        {"[fe80::1%eth0]:1", "fe80::1%eth0", 1},
        {"db-3.internal:65535", "db-3.internal", 65535},
        {"localhost:0", "localhost", 0},
    };
    for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
        ck_assert_int_eq(tw_addr_split(ok[k].in, strlen(ok[k].in), host,
                                       sizeof(host), &port),
                         0);
        ck_assert_str_eq(host, ok[k].host);
        ck_assert_int_eq(port, ok[k].port);
    }
    const char *bad[] = {"",        "host",      ":7001",     "h:",
                         "h:65536", "h:-1",      "h:12x",     "::1:7001",
                         "[::1]",   "[::1]7001", "[]:7001",   "h:123456",
                         "[::1:1"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        ck_assert_msg(tw_addr_split(bad[k], strlen(bad[k]), host,
                                    sizeof(host), &port) == -1,
                      "%s accepted", bad[k]);
    }
    ck_assert_int_eq(tw_addr_split("a\0b:1", 5, host, sizeof(host), &port),
                     -1);
    ck_assert_int_eq(tw_addr_split("abcdef:1", 8, host, 6, &port), -1);
    ck_assert_int_eq(tw_addr_split(NULL, 0, host, sizeof(host), &port), -1);
}
END_TEST

/* Random streams, valid prefixes mutated, fed in random pieces the way
 * the loop does (consume what parsed, keep the rest): the parser never
 * reads past what it is given (ASan) and always makes progress or asks
 * for more. */
START_TEST(random_streams)
{
    uint64_t s = 12345;
    static uint8_t stream[4096], buf[8192];
    int iters = 20000;
    for (int iter = 0; iter < iters; iter++) {
        size_t len = 0;
        if (test_rand_below(&s, 2)) {
            len = hello(stream, TW_VERSION, 0xc1u, 3, 7, "127.0.0.1:9");
        }
        while (len + 64 < sizeof(stream) && test_rand_below(&s, 8) != 0) {
            uint32_t fl = (uint32_t)test_rand_below(&s, 40) + 1;
            test_put_u32(stream + len, fl);
            test_fill(&s, stream + len + 4, fl);
            len += 4 + fl;
        }
        for (size_t m = test_rand_below(&s, 4); m > 0 && len > 0; m--) {
            stream[test_rand_below(&s, len)] = (uint8_t)test_rand(&s);
        }
        size_t fed = 0, have = 0;
        int handshaken = 0, closed = 0;
        while (fed < len && !closed) {
            size_t piece = test_rand_below(&s, 50) + 1;
            if (piece > len - fed) {
                piece = len - fed;
            }
            /* An exact-size heap copy lets ASan catch any over-read. */
            uint8_t *view;
            memcpy(buf + have, stream + fed, piece);
            have += piece;
            fed += piece;
            for (;;) {
                view = malloc(have ? have : 1);
                memcpy(view, buf, have);
                struct tw_item it;
                tw_next_inbound(&R, handshaken, view, have, &it);
                free(view);
                if (it.kind == TW_MORE) {
                    break;
                }
                if (it.kind == TW_CLOSE ||
                    (it.kind == TW_HELLO && it.reason != TW_OK)) {
                    closed = 1;
                    break;
                }
                ck_assert_uint_gt(it.used, 0);
                ck_assert_uint_le(it.used, have);
                if (it.kind == TW_FRAME) {
                    ck_assert_uint_le(it.off + it.len, have);
                    ck_assert_uint_le(it.len, R.max_frame);
                }
                handshaken = 1;
                memmove(buf, buf + it.used, have - it.used);
                have -= it.used;
            }
        }
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tcp_wire");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hello_accepted_byte_by_byte);
    tcase_add_test(tc, hello_refusals);
    tcase_add_test(tc, frames);
    tcase_add_test(tc, acks);
    tcase_add_test(tc, addresses);
    tcase_add_test(tc, random_streams);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
