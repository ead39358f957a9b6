/*
 * tests/unit/test_codec_conf.c: memberships (src/codec/conf.c): lookups,
 * round trips, and the decoder's validation, for both formats: version 1
 * (no addresses, what 1.0 wrote and still written when no member has an
 * address) and version 2 (members with addresses).
 */
#include <string.h>

#include "harness.h"
#include "codec/conf.h"
#include "codec_util.h"

#define OFF_VERSION 0
#define OFF_COUNT 1
#define OFF_MEMBER0 5
#define MEMBER 9

static struct craft_conf conf_of(uint32_t n)
{
    struct craft_conf c;
    memset(&c, 0, sizeof(c));
    c.n = n;
    for (uint32_t i = 0; i < n; i++) {
        c.m[i].id = 0x1000000000000000ULL + i * 7 + 1;
        c.m[i].role = i % 3 == 2 ? CRAFT_MEMBER_LEARNER : CRAFT_MEMBER_VOTER;
    }
    return c;
}

static uint8_t *encode_new(const struct craft_conf *c, size_t *len)
{
    *len = craft_conf_encoded_size(c);
    ck_assert_uint_eq(*len, 9 + 9 * (size_t)c->n);
    uint8_t *buf = malloc(*len);
    ck_assert_uint_eq(craft_conf_encode(c, buf), *len);
    return buf;
}

static int decode(const uint8_t *buf, size_t len)
{
    struct craft_conf c;
    return craft_conf_decode(buf, len, &c);
}

START_TEST(test_find_and_voters)
{
    struct craft_conf c = conf_of(5);
    ck_assert_int_eq(craft_conf_find(&c, c.m[0].id), 0);
    ck_assert_int_eq(craft_conf_find(&c, c.m[4].id), 4);
    ck_assert_int_eq(craft_conf_find(&c, 12345), -1);
    ck_assert_int_eq(craft_conf_find(&c, CRAFT_NONE), -1);
    ck_assert_int_eq(craft_conf_find(NULL, 1), -1);
    ck_assert_uint_eq(craft_conf_voters(&c), 4); /* member 2 learns */
    ck_assert_uint_eq(craft_conf_voters(NULL), 0);
    c.n = 0;
    ck_assert_uint_eq(craft_conf_voters(&c), 0);
    ck_assert_int_eq(craft_conf_find(&c, 1), -1);
}
END_TEST

START_TEST(test_roundtrip)
{
    const uint32_t ns[] = {0, 1, 3, 5, CRAFT_MAX_MEMBERS};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        struct craft_conf in = conf_of(ns[i]), out;
        memset(&out, 0xaa, sizeof(out));
        size_t len;
        uint8_t *buf = encode_new(&in, &len);
        ck_assert_int_eq(craft_conf_decode(buf, len, &out), CRAFT_OK);
        ck_assert_uint_eq(out.n, in.n);
        for (uint32_t k = 0; k < in.n; k++) {
            ck_assert_uint_eq(out.m[k].id, in.m[k].id);
            ck_assert_uint_eq(out.m[k].role, in.m[k].role);
        }
        free(buf);
    }
}
END_TEST

START_TEST(test_golden)
{
    struct craft_conf c;
    memset(&c, 0, sizeof(c));
    c.n = 2;
    c.m[0] = (struct craft_member){1, CRAFT_MEMBER_VOTER, 0, {0}};
    c.m[1] = (struct craft_member){0x0a0b, CRAFT_MEMBER_LEARNER, 0, {0}};
    static const uint8_t golden[27] = {
        0x01,                                           /* version */
        0x02, 0x00, 0x00, 0x00,                         /* count */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* id 1 */
        0x01,                                           /* voter */
        0x0b, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* id 0x0a0b */
        0x02,                                           /* learner */
        0xe6, 0x9d, 0x60, 0xde,                         /* crc32c */
    };
    uint8_t buf[27];
    ck_assert_uint_eq(craft_conf_encode(&c, buf), sizeof(golden));
    ck_assert(memcmp(buf, golden, sizeof(golden)) == 0);
}
END_TEST

START_TEST(test_check_and_encoder_refusals)
{
    uint8_t buf[CRAFT_CONF_MAX_BYTES];
    struct craft_conf c = conf_of(3);
    ck_assert_int_eq(craft_conf_check(&c), CRAFT_OK);
    ck_assert_int_eq(craft_conf_check(NULL), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_conf_encoded_size(NULL), 0);
    ck_assert_uint_eq(craft_conf_encode(NULL, buf), 0);
    ck_assert_uint_eq(craft_conf_encode(&c, NULL), 0);

    c.n = CRAFT_MAX_MEMBERS + 1;
    ck_assert_int_eq(craft_conf_check(&c), CRAFT_ETOOBIG);
    ck_assert_uint_eq(craft_conf_encoded_size(&c), 0);
    c = conf_of(3);
    c.m[1].id = CRAFT_NONE;
    ck_assert_int_eq(craft_conf_check(&c), CRAFT_EMALFORMED);
    ck_assert_uint_eq(craft_conf_encode(&c, buf), 0);
    c = conf_of(3);
    c.m[2].id = c.m[0].id;
    ck_assert_int_eq(craft_conf_check(&c), CRAFT_EMALFORMED);
    ck_assert_uint_eq(craft_conf_encoded_size(&c), 0);
    c = conf_of(3);
    c.m[0].role = 0;
    ck_assert_int_eq(craft_conf_check(&c), CRAFT_EMALFORMED);
    c.m[0].role = 3;
    ck_assert_int_eq(craft_conf_check(&c), CRAFT_EMALFORMED);
    ck_assert_uint_eq(craft_conf_encoded_size(&c), 0);
}
END_TEST

START_TEST(test_decode_rejects)
{
    struct craft_conf c = conf_of(4);
    size_t len;
    uint8_t *buf = encode_new(&c, &len);
    uint8_t *orig = malloc(len);
    memcpy(orig, buf, len);

    ck_assert_int_eq(craft_conf_decode(NULL, len, &c), CRAFT_EINVAL);
    ck_assert_int_eq(craft_conf_decode(buf, len, NULL), CRAFT_EINVAL);

    buf[len - 1] ^= 1;
    ck_assert_int_eq(decode(buf, len), CRAFT_ECHECKSUM);
    memcpy(buf, orig, len);

    const uint8_t versions[] = {0, 3, 0xff};
    for (size_t i = 0; i < sizeof(versions); i++) {
        buf[OFF_VERSION] = versions[i];
        test_reseal(buf, len);
        ck_assert_int_eq(decode(buf, len), CRAFT_EVERSION);
    }
    memcpy(buf, orig, len);
    /* Version 1 bytes relabelled version 2 lack the address lengths. */
    buf[OFF_VERSION] = 2;
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    memcpy(buf, orig, len);

    /* Count over the limit, and a count the length does not match. */
    test_put_u32(buf + OFF_COUNT, CRAFT_MAX_MEMBERS + 1);
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_ETOOBIG);
    test_put_u32(buf + OFF_COUNT, 0xffffffffu);
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_ETOOBIG);
    test_put_u32(buf + OFF_COUNT, 5);
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    test_put_u32(buf + OFF_COUNT, 3);
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    memcpy(buf, orig, len);

    /* Zero id, duplicate id, unknown roles. */
    memset(buf + OFF_MEMBER0 + MEMBER, 0, 8);
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    memcpy(buf, orig, len);
    memcpy(buf + OFF_MEMBER0 + 3 * MEMBER, buf + OFF_MEMBER0, 8);
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    memcpy(buf, orig, len);
    const uint8_t roles[] = {0, 3, 0xff};
    for (size_t i = 0; i < sizeof(roles); i++) {
        buf[OFF_MEMBER0 + 8] = roles[i];
        test_reseal(buf, len);
        ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    }
    free(orig);
    free(buf);
}
END_TEST

START_TEST(test_wrong_lengths)
{
    struct craft_conf c = conf_of(3);
    size_t len;
    uint8_t *buf = encode_new(&c, &len);
    /* Every truncation, from an exact-size buffer. */
    for (size_t k = 0; k < len; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, buf, k);
        int rv = decode(cut, k);
        ck_assert_msg(rv == CRAFT_EMALFORMED || rv == CRAFT_ECHECKSUM,
                      "len %zu: %d", k, rv);
        free(cut);
    }
    /* A trailing byte, even with the CRC made to cover it. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len - 4);
    longer[len - 4] = 0;
    test_reseal(longer, len + 1);
    ck_assert_int_eq(decode(longer, len + 1), CRAFT_EMALFORMED);
    free(longer);
    /* Longer than any membership. */
    uint8_t big[CRAFT_CONF_MAX_BYTES + 1];
    memset(big, 0, sizeof(big));
    ck_assert_int_eq(decode(big, sizeof(big)), CRAFT_ETOOBIG);
    free(buf);
}
END_TEST

START_TEST(test_every_bit_flip)
{
    struct craft_conf c = conf_of(6);
    size_t len;
    uint8_t *buf = encode_new(&c, &len);
    for (size_t bit = 0; bit < len * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_eq(decode(buf, len), CRAFT_ECHECKSUM);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    ck_assert_int_eq(decode(buf, len), CRAFT_OK);
    free(buf);
}
END_TEST

/* Random bytes with a valid CRC: a known code, and what decodes passes
 * craft_conf_check and re-encodes to the same bytes. */
START_TEST(test_random)
{
    uint64_t s = 3;
    for (int iter = 0; iter < 20000; iter++) {
        struct craft_conf c = conf_of((uint32_t)test_rand_below(&s, 8));
        uint8_t buf[CRAFT_CONF_MAX_BYTES];
        memset(buf, 0, sizeof(buf));
        size_t len = craft_conf_encode(&c, buf);
        size_t n = test_rand_below(&s, 3);
        for (size_t i = 0; i < n; i++) {
            buf[test_rand_below(&s, len)] = (uint8_t)test_rand_below(&s, 4);
        }
        len = len - 9 + test_rand_below(&s, 19);
        if (len < 9) {
            len = 9;
        }
        test_reseal(buf, len);
        struct craft_conf out;
        int rv = craft_conf_decode(buf, len, &out);
        ck_assert(rv == CRAFT_OK || rv == CRAFT_EMALFORMED ||
                  rv == CRAFT_EVERSION || rv == CRAFT_ETOOBIG);
        if (rv == CRAFT_OK) {
            uint8_t again[CRAFT_CONF_MAX_BYTES];
            ck_assert_int_eq(craft_conf_check(&out), CRAFT_OK);
            ck_assert_uint_eq(craft_conf_encode(&out, again), len);
            ck_assert(memcmp(again, buf, len) == 0);
        }
    }
}
END_TEST


/* ---- version 2: addresses ----------------------------------------------- */

/* conf_of(n) where member i has an address of i % 4 * 60 bytes (some
 * empty), made of the byte 'a' + i. */
static struct craft_conf conf_addr(uint32_t n)
{
    struct craft_conf c = conf_of(n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t a[CRAFT_MAX_ADDR_BYTES];
        size_t len = (size_t)(i % 4) * 60;
        memset(a, 'a' + (int)(i % 26), sizeof(a));
        craft_member_set_addr(&c.m[i], a, len);
    }
    return c;
}

static void assert_same_conf(const struct craft_conf *a,
                             const struct craft_conf *b)
{
    ck_assert_uint_eq(a->n, b->n);
    for (uint32_t k = 0; k < a->n; k++) {
        ck_assert_uint_eq(a->m[k].id, b->m[k].id);
        ck_assert_uint_eq(a->m[k].role, b->m[k].role);
        ck_assert_uint_eq(a->m[k].addr_len, b->m[k].addr_len);
        ck_assert(memcmp(a->m[k].addr, b->m[k].addr, a->m[k].addr_len) == 0);
    }
}

START_TEST(test_v2_roundtrip)
{
    const uint32_t ns[] = {2, 3, 5, 17, CRAFT_MAX_MEMBERS};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        struct craft_conf in = conf_addr(ns[i]), out;
        size_t addrs = 0;
        for (uint32_t k = 0; k < in.n; k++) {
            addrs += in.m[k].addr_len;
        }
        size_t len = craft_conf_encoded_size(&in);
        ck_assert_uint_eq(len, 9 + 10 * (size_t)in.n + addrs);
        uint8_t *buf = malloc(len);
        ck_assert_uint_eq(craft_conf_encode(&in, buf), len);
        ck_assert_uint_eq(buf[OFF_VERSION], 2);
        memset(&out, 0xaa, sizeof(out));
        ck_assert_int_eq(craft_conf_decode(buf, len, &out), CRAFT_OK);
        assert_same_conf(&in, &out);
        free(buf);
    }
}
END_TEST

/* The largest membership: every member with the longest address. */
START_TEST(test_v2_max_size)
{
    struct craft_conf c = conf_of(CRAFT_MAX_MEMBERS), out;
    uint8_t a[CRAFT_MAX_ADDR_BYTES];
    memset(a, 0xfe, sizeof(a));
    for (uint32_t k = 0; k < c.n; k++) {
        craft_member_set_addr(&c.m[k], a, sizeof(a));
    }
    static uint8_t buf[CRAFT_CONF_MAX_BYTES];
    ck_assert_uint_eq(craft_conf_encoded_size(&c), CRAFT_CONF_MAX_BYTES);
    ck_assert_uint_eq(craft_conf_encode(&c, buf), CRAFT_CONF_MAX_BYTES);
    ck_assert_int_eq(craft_conf_decode(buf, sizeof(buf), &out), CRAFT_OK);
    assert_same_conf(&c, &out);
    /* Too long an address is refused by the check (and the setter). */
    c.m[3].addr_len = CRAFT_MAX_ADDR_BYTES + 1;
    ck_assert_int_eq(craft_conf_check(&c), CRAFT_EMALFORMED);
    ck_assert_uint_eq(craft_conf_encoded_size(&c), 0);
    craft_member_set_addr(&c.m[3], a, CRAFT_MAX_ADDR_BYTES + 1);
    ck_assert_uint_eq(c.m[3].addr_len, 0);
    craft_member_set_addr(&c.m[3], NULL, 5);
    ck_assert_uint_eq(c.m[3].addr_len, 0);
}
END_TEST

/* Pinned bytes of version 2, and version 1 (1.0's format) still decoding
 * into members without addresses. */
START_TEST(test_v2_golden_and_v1_compat)
{
    struct craft_conf c, out;
    memset(&c, 0, sizeof(c));
    c.n = 2;
    c.m[0] = (struct craft_member){1, CRAFT_MEMBER_VOTER, 0, {0}};
    craft_member_set_addr(&c.m[0], "h:1", 3);
    c.m[1] = (struct craft_member){0x0a0b, CRAFT_MEMBER_LEARNER, 0, {0}};
    static const uint8_t golden[32] = {
        0x02,                                           /* version */
        0x02, 0x00, 0x00, 0x00,                         /* count */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* id 1 */
        0x01,                                           /* voter */
        0x03, 'h',  ':',  '1',                          /* address */
        0x0b, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* id 0x0a0b */
        0x02,                                           /* learner */
        0x00,                                           /* no address */
        0x46, 0xa4, 0x78, 0xb7,                         /* crc32c */
    };
    uint8_t buf[32];
    ck_assert_uint_eq(craft_conf_encode(&c, buf), sizeof(golden));
    ck_assert(memcmp(buf, golden, sizeof(golden)) == 0);
    ck_assert_int_eq(craft_conf_decode(golden, sizeof(golden), &out),
                     CRAFT_OK);
    assert_same_conf(&c, &out);

    /* The 1.0 golden bytes (see test_golden). */
    static const uint8_t v1[27] = {
        0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x01, 0x0b, 0x0a, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x02, 0xe6, 0x9d, 0x60, 0xde,
    };
    memset(&out, 0xaa, sizeof(out));
    ck_assert_int_eq(craft_conf_decode(v1, sizeof(v1), &out), CRAFT_OK);
    ck_assert_uint_eq(out.n, 2);
    ck_assert_uint_eq(out.m[0].id, 1);
    ck_assert_uint_eq(out.m[0].addr_len, 0);
    ck_assert_uint_eq(out.m[1].id, 0x0a0b);
    ck_assert_uint_eq(out.m[1].role, CRAFT_MEMBER_LEARNER);
    ck_assert_uint_eq(out.m[1].addr_len, 0);
    /* Dropping the address makes the encoder write version 1 again. */
    c.m[0].addr_len = 0;
    ck_assert_uint_eq(craft_conf_encode(&c, buf), sizeof(v1));
    ck_assert(memcmp(buf, v1, sizeof(v1)) == 0);
}
END_TEST

START_TEST(test_v2_rejects)
{
    struct craft_conf c = conf_addr(4);
    size_t len = craft_conf_encoded_size(&c);
    uint8_t *buf = malloc(len + 8);
    ck_assert_uint_eq(craft_conf_encode(&c, buf), len);
    uint8_t *orig = malloc(len);
    memcpy(orig, buf, len);
    /* Member 1's address length byte sits after member 0 (no address). */
    size_t alen1 = OFF_MEMBER0 + 10 + 8 + 1;
    ck_assert_uint_eq(buf[alen1], 60);

    /* An address running past the end. */
    buf[alen1] = 255;
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    memcpy(buf, orig, len);
    /* A shorter address leaves trailing bytes. */
    buf[alen1] = 59;
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    memcpy(buf, orig, len);
    /* A count larger than the members present. */
    test_put_u32(buf + OFF_COUNT, 5);
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    memcpy(buf, orig, len);
    /* Every truncation. */
    for (size_t k = 0; k < len; k++) {
        int rv = decode(buf, k);
        ck_assert_msg(rv == CRAFT_EMALFORMED || rv == CRAFT_ECHECKSUM,
                      "len %zu: %d", k, rv);
    }
    /* Zero and duplicate ids, an unknown role: as in version 1. */
    memset(buf + OFF_MEMBER0, 0, 8);
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    memcpy(buf, orig, len);
    buf[OFF_MEMBER0 + 8] = 7;
    test_reseal(buf, len);
    ck_assert_int_eq(decode(buf, len), CRAFT_EMALFORMED);
    free(orig);
    free(buf);

    /* Version 2 without any address is not canonical (version 1 is). */
    static const uint8_t empty[29] = {
        0x02, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x0b, 0x0a, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x02, 0x00, 0, 0, 0, 0,
    };
    uint8_t e2[29];
    memcpy(e2, empty, sizeof(e2));
    test_reseal(e2, sizeof(e2));
    ck_assert_int_eq(decode(e2, sizeof(e2)), CRAFT_EMALFORMED);
    e2[14] = 1; /* one byte of address: the trailer is one byte short */
    test_reseal(e2, sizeof(e2));
    ck_assert_int_eq(decode(e2, sizeof(e2)), CRAFT_EMALFORMED);
}
END_TEST

/* Random version 2 bytes with a valid CRC: a known code, and what decodes
 * re-encodes to the same bytes (the encoding is canonical). */
START_TEST(test_v2_random)
{
    uint64_t s = 11;
    static uint8_t buf[CRAFT_CONF_MAX_BYTES], again[CRAFT_CONF_MAX_BYTES];
    for (int iter = 0; iter < 20000; iter++) {
        struct craft_conf c = conf_addr((uint32_t)test_rand_below(&s, 9));
        memset(buf, 0, sizeof(buf));
        size_t len = craft_conf_encode(&c, buf);
        size_t n = test_rand_below(&s, 3);
        for (size_t i = 0; i < n && len > 0; i++) {
            buf[test_rand_below(&s, len)] = (uint8_t)test_rand_below(&s, 70);
        }
        len = (len > 9 ? len - 9 : 0) + test_rand_below(&s, 19);
        if (len < 9) {
            len = 9;
        }
        test_reseal(buf, len);
        struct craft_conf out;
        int rv = craft_conf_decode(buf, len, &out);
        ck_assert(rv == CRAFT_OK || rv == CRAFT_EMALFORMED ||
                  rv == CRAFT_EVERSION || rv == CRAFT_ETOOBIG);
        if (rv == CRAFT_OK) {
            ck_assert_int_eq(craft_conf_check(&out), CRAFT_OK);
            ck_assert_uint_eq(craft_conf_encode(&out, again), len);
            ck_assert(memcmp(again, buf, len) == 0);
        }
    }
}
END_TEST

static Suite *codec_conf_suite(void)
{
    Suite *s = suite_create("codec_conf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_find_and_voters);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_check_and_encoder_refusals);
    tcase_add_test(tc, test_decode_rejects);
    tcase_add_test(tc, test_wrong_lengths);
    tcase_add_test(tc, test_every_bit_flip);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_v2_roundtrip);
    tcase_add_test(tc, test_v2_max_size);
    tcase_add_test(tc, test_v2_golden_and_v1_compat);
    tcase_add_test(tc, test_v2_rejects);
    tcase_add_test(tc, test_v2_random);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(codec_conf_suite)
