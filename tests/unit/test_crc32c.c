/*
 * tests/unit/test_crc32c.c: CRC32C known vectors, chaining, the written-out
 * tables, and the SSE4.2 path against the table path.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "codec/crc32c.h"
#include "codec/crc32c_table.h"
#include "codec_util.h"

/* The definition, one bit at a time: what every fast path must match. */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
    uint32_t c = ~crc;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ ((c & 1u) ? 0x82F63B78u : 0u);
        }
    }
    return ~c;
}

START_TEST(test_check_value)
{
    ck_assert_uint_eq(craft_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(craft_crc32c_sw(0, "123456789", 9), 0xE3069283u);
}
END_TEST

/* RFC 3720 (iSCSI) appendix B.4 test vectors. */
START_TEST(test_rfc3720_vectors)
{
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    ck_assert_uint_eq(craft_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    ck_assert_uint_eq(craft_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) {
        buf[i] = (uint8_t)i;
    }
    ck_assert_uint_eq(craft_crc32c(0, buf, 32), 0x46DD794Eu);
    ck_assert_uint_eq(craft_crc32c_sw(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) {
        buf[i] = (uint8_t)(31 - i);
    }
    ck_assert_uint_eq(craft_crc32c(0, buf, 32), 0x113FDB5Cu);
    ck_assert_uint_eq(craft_crc32c_sw(0, buf, 32), 0x113FDB5Cu);
}
END_TEST

START_TEST(test_empty)
{
    ck_assert_uint_eq(craft_crc32c(0, NULL, 0), 0);
    ck_assert_uint_eq(craft_crc32c(0xdeadbeef, NULL, 0), 0xdeadbeefu);
    ck_assert_uint_eq(craft_crc32c_sw(0xdeadbeef, "", 0), 0xdeadbeefu);
    ck_assert_uint_eq(craft_crc32c(0, "a", 1), 0xC1D04330u);
}
END_TEST

/* crc(crc(a), b) == crc(a || b) at every split point. */
START_TEST(test_chaining)
{
    uint64_t s = 0x1234;
    uint8_t buf[777];
    test_fill(&s, buf, sizeof(buf));
    uint32_t whole = crc_bitwise(0, buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut++) {
        uint32_t a = craft_crc32c(0, buf, cut);
        ck_assert_uint_eq(craft_crc32c(a, buf + cut, sizeof(buf) - cut),
                          whole);
        a = craft_crc32c_sw(0, buf, cut);
        ck_assert_uint_eq(craft_crc32c_sw(a, buf + cut, sizeof(buf) - cut),
                          whole);
    }
}
END_TEST

/* Every entry of the written-out tables against their definition. */
START_TEST(test_tables)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ ((c & 1u) ? 0x82F63B78u : 0u);
        }
        ck_assert_uint_eq(crc32c_table[0][i], c);
        for (int t = 1; t < 8; t++) {
            /* byte i then t zero bytes, on the raw register */
            for (int k = 0; k < 8; k++) {
                c = (c >> 1) ^ ((c & 1u) ? 0x82F63B78u : 0u);
            }
            ck_assert_uint_eq(crc32c_table[t][i], c);
        }
    }
}
END_TEST

/* The table path against the definition, all lengths and alignments. */
START_TEST(test_sw_matches_bitwise)
{
    uint64_t s = 42;
    uint8_t buf[300 + 16];
    for (size_t len = 0; len <= 300; len++) {
        for (size_t off = 0; off < 8; off++) {
            test_fill(&s, buf, sizeof(buf));
            uint32_t init = (uint32_t)test_rand(&s);
            ck_assert_uint_eq(craft_crc32c_sw(init, buf + off, len),
                              crc_bitwise(init, buf + off, len));
        }
    }
}
END_TEST

/* craft_crc32c (hardware when the CPU has SSE4.2) against the table path:
 * every length 0..300 at 16 offsets, then a few long buffers. */
START_TEST(test_hw_matches_sw)
{
    uint64_t s = 7;
    static uint8_t buf[70000];
    test_fill(&s, buf, sizeof(buf));
    for (size_t len = 0; len <= 300; len++) {
        for (size_t off = 0; off < 16; off++) {
            uint32_t init = (uint32_t)test_rand(&s);
            ck_assert_uint_eq(craft_crc32c(init, buf + off, len),
                              craft_crc32c_sw(init, buf + off, len));
        }
    }
    /* From 96 bytes, buffers shorter than 3 x 512 take three chains of
     * equal blocks of every multiple of 8 bytes up to 504: each length,
     * at a few offsets. */
    for (size_t len = 301; len <= 3 * 512 + 24; len++) {
        for (size_t off = 0; off < 4; off++) {
            uint32_t init = (uint32_t)test_rand(&s);
            ck_assert_uint_eq(craft_crc32c(init, buf + off * 3, len),
                              craft_crc32c_sw(init, buf + off * 3, len));
        }
    }
    /* Long buffers take the three-way path in blocks of 3 x 4096 and
     * 3 x 512 bytes: every length near a multiple of either, and random
     * ones, at odd offsets. */
    const size_t bases[] = {3 * 512, 2 * 3 * 512, 3 * 4096,
                            3 * 4096 + 3 * 512, 5 * 3 * 4096 + 2 * 3 * 512};
    for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
        for (size_t d = 0; d < 34; d++) {
            size_t len = bases[b] + d - 17;
            size_t off = d % 8;
            uint32_t init = (uint32_t)test_rand(&s);
            ck_assert_uint_eq(craft_crc32c(init, buf + off, len),
                              craft_crc32c_sw(init, buf + off, len));
        }
    }
    for (int i = 0; i < 200; i++) {
        size_t len = test_rand_below(&s, sizeof(buf) - 16);
        size_t off = test_rand_below(&s, 16);
        ck_assert_uint_eq(craft_crc32c(0, buf + off, len),
                          craft_crc32c_sw(0, buf + off, len));
    }
}
END_TEST

/* The definition on long buffers too, so the two fast paths cannot agree
 * on a wrong answer. */
START_TEST(test_long_matches_bitwise)
{
    uint64_t s = 11;
    static uint8_t buf[3 * 4096 + 3 * 512 + 100];
    test_fill(&s, buf, sizeof(buf));
    const size_t lens[] = {3 * 512, 3 * 4096, sizeof(buf) - 3};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint32_t want = crc_bitwise(0x12345678u, buf + 3, lens[i]);
        ck_assert_uint_eq(craft_crc32c(0x12345678u, buf + 3, lens[i]), want);
        ck_assert_uint_eq(craft_crc32c_sw(0x12345678u, buf + 3, lens[i]),
                          want);
    }
}
END_TEST

START_TEST(test_hw_report)
{
    int hw = craft_crc32c_hw_available();
    ck_assert(hw == 0 || hw == 1);
#if defined(__x86_64__)
    fprintf(stderr, "crc32c: SSE4.2 path %s\n", hw ? "in use" : "absent");
#endif
}
END_TEST

static Suite *crc32c_suite(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_check_value);
    tcase_add_test(tc, test_rfc3720_vectors);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_chaining);
    tcase_add_test(tc, test_tables);
    tcase_add_test(tc, test_sw_matches_bitwise);
    tcase_add_test(tc, test_hw_matches_sw);
    tcase_add_test(tc, test_long_matches_bitwise);
    tcase_add_test(tc, test_hw_report);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(crc32c_suite)
