/*
 * tests/unit/test_codec_record.c: log-entry records, the on-disk framing
 * of one entry (src/codec/message.c): round trips, walking a log, torn
 * tails and corruption.
 */
#include <string.h>

#include "harness.h"
#include "codec/message.h"
#include "codec_util.h"

#define OFF_VERSION 4
#define OFF_TYPE 5
#define OFF_RESERVED 6
#define OVERHEAD 28

static uint8_t payload[5000];

static void fill_payload(void)
{
    uint64_t s = 5;
    test_fill(&s, payload, sizeof(payload));
}

static uint8_t *record_new(uint64_t index, const struct craft_entry *e,
                           size_t *len)
{
    *len = craft_entry_record_size(e->len);
    ck_assert_uint_eq(*len, OVERHEAD + e->len);
    uint8_t *buf = malloc(*len);
    ck_assert_uint_eq(craft_entry_record_encode(index, e, buf), *len);
    return buf;
}

static int decode(const uint8_t *buf, size_t len)
{
    uint64_t index;
    struct craft_entry e;
    size_t consumed = 12345;
    int rv = craft_entry_record_decode(buf, len, &index, &e, &consumed);
    ck_assert(rv == CRAFT_OK || consumed == 0);
    return rv;
}

START_TEST(test_roundtrip)
{
    fill_payload();
    const uint32_t sizes[] = {0, 1, 7, 8, 64, 4096, 5000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (uint32_t type = 1; type <= 3; type++) {
            struct craft_entry in = {0x1122334455667788ULL + i, type,
                                     sizes[i], sizes[i] ? payload : NULL,
                                     &in};
            uint64_t index = 0xa0a1a2a3a4a5a6a7ULL - i;
            size_t len;
            uint8_t *buf = record_new(index, &in, &len);
            uint64_t out_index;
            struct craft_entry out;
            size_t consumed;
            ck_assert_int_eq(craft_entry_record_decode(buf, len, &out_index,
                                                       &out, &consumed),
                             CRAFT_OK);
            ck_assert_uint_eq(consumed, len);
            ck_assert_uint_eq(out_index, index);
            ck_assert_uint_eq(out.term, in.term);
            ck_assert_uint_eq(out.type, in.type);
            ck_assert_uint_eq(out.len, in.len);
            ck_assert_ptr_eq(out.data, buf + 24);
            ck_assert_ptr_null(out.ref);
            ck_assert(in.len == 0 || memcmp(out.data, payload, in.len) == 0);
            free(buf);
        }
    }
}
END_TEST

/* Golden bytes of one small record, so the format cannot drift. */
START_TEST(test_golden)
{
    struct craft_entry e = {2, CRAFT_ENTRY_NORMAL, 3,
                            (const uint8_t *)"abc", NULL};
    static const uint8_t golden[31] = {
        0x1f, 0x00, 0x00, 0x00,                         /* length 31 */
        0x01,                                           /* version */
        0x01,                                           /* NORMAL */
        0x00, 0x00,                                     /* reserved */
        0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* index 7 */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* term 2 */
        0x61, 0x62, 0x63,                               /* payload */
        0xa5, 0xcc, 0x1b, 0x07,                         /* crc32c */
    };
    uint8_t buf[31];
    ck_assert_uint_eq(craft_entry_record_encode(7, &e, buf), 31);
    ck_assert(memcmp(buf, golden, sizeof(golden)) == 0);
}
END_TEST

/* A storage reads a log by walking records with *consumed; trailing
 * bytes after a record are the next record's business. */
START_TEST(test_walk_log)
{
    fill_payload();
    uint8_t log[20000];
    size_t off = 0;
    for (uint64_t i = 1; i <= 50; i++) {
        struct craft_entry e = {i / 7 + 1, (uint32_t)(i % 3) + 1,
                                (uint32_t)(i * 13 % 200), payload + i, NULL};
        off += craft_entry_record_encode(i, &e, log + off);
    }
    size_t pos = 0;
    uint64_t expect = 1;
    while (pos < off) {
        uint64_t index;
        struct craft_entry e;
        size_t consumed;
        ck_assert_int_eq(craft_entry_record_decode(log + pos, off - pos,
                                                   &index, &e, &consumed),
                         CRAFT_OK);
        ck_assert_uint_eq(index, expect);
        ck_assert_uint_eq(e.len, expect * 13 % 200);
        ck_assert(memcmp(e.data, payload + expect, e.len) == 0);
        pos += consumed;
        expect++;
    }
    ck_assert_uint_eq(pos, off);
    ck_assert_uint_eq(expect, 51);
}
END_TEST

/* Every prefix of a record (a write torn at any byte) is EMALFORMED,
 * decoded from a buffer of exactly that size. */
START_TEST(test_torn_tail)
{
    fill_payload();
    struct craft_entry e = {3, CRAFT_ENTRY_NORMAL, 100, payload, NULL};
    size_t len;
    uint8_t *buf = record_new(9, &e, &len);
    for (size_t k = 0; k < len; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, buf, k);
        ck_assert_int_eq(decode(cut, k), CRAFT_EMALFORMED);
        free(cut);
    }
    free(buf);
}
END_TEST

/* A preallocated, zero-filled tail is not a record. */
START_TEST(test_zero_tail)
{
    uint8_t zeros[64];
    memset(zeros, 0, sizeof(zeros));
    ck_assert_int_eq(decode(zeros, sizeof(zeros)), CRAFT_EMALFORMED);
}
END_TEST

/* Damage after the length word is ECHECKSUM; in the length word it is an
 * error of some kind (a shorter length makes the CRC land elsewhere). */
START_TEST(test_every_bit_flip)
{
    fill_payload();
    struct craft_entry e = {3, CRAFT_ENTRY_CONFIG, 37, payload, NULL};
    size_t len;
    uint8_t *buf = record_new(9, &e, &len);
    for (size_t bit = 0; bit < len * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int rv = decode(buf, len);
        if (bit >= 32) {
            ck_assert_msg(rv == CRAFT_ECHECKSUM, "bit %zu: %d", bit, rv);
        } else {
            ck_assert_msg(rv == CRAFT_EMALFORMED || rv == CRAFT_ETOOBIG ||
                              rv == CRAFT_ECHECKSUM,
                          "bit %zu: %d", bit, rv);
        }
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    ck_assert_int_eq(decode(buf, len), CRAFT_OK);
    free(buf);
}
END_TEST

START_TEST(test_bad_fields)
{
    struct craft_entry e = {3, CRAFT_ENTRY_NOOP, 0, NULL, NULL};
    size_t len;
    uint8_t *buf = record_new(9, &e, &len);
    buf[OFF_VERSION] = 2;
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EVERSION);
    buf[OFF_VERSION] = 1;
    const uint8_t types[] = {0, 4, 0xff};
    for (size_t i = 0; i < sizeof(types); i++) {
        buf[OFF_TYPE] = types[i];
        test_reseal(buf, len);
        ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    }
    buf[OFF_TYPE] = CRAFT_ENTRY_NOOP;
    buf[OFF_RESERVED + 1] = 1;
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    buf[OFF_RESERVED + 1] = 0;
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_OK);
    /* Length words below the minimum and above the limit. */
    test_put_u32(buf, OVERHEAD - 1);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    test_put_u32(buf, OVERHEAD + CRAFT_MAX_ENTRY_BYTES + 1);
    ck_assert_int_eq(decode(buf, len), CRAFT_ETOOBIG);
    test_put_u32(buf, 0xffffffffu);
    ck_assert_int_eq(decode(buf, len), CRAFT_ETOOBIG);
    free(buf);
}
END_TEST

START_TEST(test_encoder_refuses_invalid)
{
    uint8_t buf[64];
    struct craft_entry e = {1, CRAFT_ENTRY_NORMAL, 4, payload, NULL};
    ck_assert_uint_eq(craft_entry_record_size(CRAFT_MAX_ENTRY_BYTES),
                      OVERHEAD + (size_t)CRAFT_MAX_ENTRY_BYTES);
    ck_assert_uint_eq(craft_entry_record_size(CRAFT_MAX_ENTRY_BYTES + 1), 0);
    ck_assert_uint_eq(craft_entry_record_encode(1, NULL, buf), 0);
    ck_assert_uint_eq(craft_entry_record_encode(1, &e, NULL), 0);
    e.type = 0;
    ck_assert_uint_eq(craft_entry_record_encode(1, &e, buf), 0);
    e.type = 4;
    ck_assert_uint_eq(craft_entry_record_encode(1, &e, buf), 0);
    e.type = CRAFT_ENTRY_NORMAL;
    e.data = NULL;
    ck_assert_uint_eq(craft_entry_record_encode(1, &e, buf), 0);
    e.data = payload;
    e.len = CRAFT_MAX_ENTRY_BYTES + 1;
    ck_assert_uint_eq(craft_entry_record_encode(1, &e, buf), 0);
}
END_TEST

START_TEST(test_null_args)
{
    struct craft_entry e = {1, CRAFT_ENTRY_NOOP, 0, NULL, NULL};
    uint8_t buf[OVERHEAD];
    ck_assert_uint_eq(craft_entry_record_encode(1, &e, buf), OVERHEAD);
    uint64_t index;
    size_t consumed;
    ck_assert_int_eq(craft_entry_record_decode(NULL, 28, &index, &e,
                                               &consumed),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_entry_record_decode(buf, 28, NULL, &e, &consumed),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_entry_record_decode(buf, 28, &index, NULL,
                                               &consumed),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_entry_record_decode(buf, 28, &index, &e, NULL),
                     CRAFT_EINVAL);
}
END_TEST

/* Random damage to a log of records: decoding never crashes, returns a
 * known code, and a record that decodes re-encodes to the same bytes. */
START_TEST(test_random_damage)
{
    fill_payload();
    uint64_t s = 77;
    for (int iter = 0; iter < 20000; iter++) {
        struct craft_entry e = {test_rand(&s),
                                (uint32_t)test_rand_below(&s, 3) + 1,
                                (uint32_t)test_rand_below(&s, 64), payload,
                                NULL};
        uint8_t buf[128];
        size_t len = craft_entry_record_encode(test_rand(&s), &e, buf);
        size_t n = test_rand_below(&s, 3) + 1;
        for (size_t i = 0; i < n; i++) {
            buf[test_rand_below(&s, len)] ^= (uint8_t)test_rand(&s);
        }
        if (test_rand_below(&s, 2)) {
            len = test_rand_below(&s, len + 1);
        }
        if (test_rand_below(&s, 2) && len >= OVERHEAD) {
            test_put_u32(buf, (uint32_t)len);
            test_reseal(buf, len);
        }
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        uint64_t index;
        struct craft_entry out;
        size_t consumed;
        int rv = craft_entry_record_decode(exact, len, &index, &out,
                                           &consumed);
        ck_assert(rv == CRAFT_OK || rv == CRAFT_EMALFORMED ||
                  rv == CRAFT_ECHECKSUM || rv == CRAFT_EVERSION ||
                  rv == CRAFT_ETOOBIG);
        if (rv == CRAFT_OK) {
            uint8_t again[128];
            ck_assert_uint_eq(craft_entry_record_encode(index, &out, again),
                              consumed);
            ck_assert(memcmp(again, exact, consumed) == 0);
        }
        free(exact);
    }
}
END_TEST

static Suite *codec_record_suite(void)
{
    Suite *s = suite_create("codec_record");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_walk_log);
    tcase_add_test(tc, test_torn_tail);
    tcase_add_test(tc, test_zero_tail);
    tcase_add_test(tc, test_every_bit_flip);
    tcase_add_test(tc, test_bad_fields);
    tcase_add_test(tc, test_encoder_refuses_invalid);
    tcase_add_test(tc, test_null_args);
    tcase_add_test(tc, test_random_damage);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(codec_record_suite)
