/*
 * tests/kv/test_resp.c: craft-kv's RESP2 parser and reply scanner
 * (examples/kv/resp.c) and the decoding of its log entries
 * (examples/kv/store.c): exact results for valid, split, malformed and
 * oversized input, and random bytes fed in random pieces, which must
 * never crash nor read past what was given (run it under ASan:
 * make kv-asan).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "resp.h"
#include "store.h"

static int parse(const char *s, size_t n, resp_req *r, size_t *used,
                 const char **err)
{
    /* An exact-size heap copy, so ASan sees any read past the end. */
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    int rv = resp_parse_request(b, n, r, used, err);
    if (rv == RESP_DONE) {
        /* argv points into b: check the contents, then drop them. */
        for (size_t i = 0; i < r->argc; i++) {
            ck_assert(r->argv[i].p >= b && r->argv[i].p + r->argv[i].len <=
                                               b + n);
            r->argv[i].p = s + (r->argv[i].p - b);
        }
    }
    free(b);
    return rv;
}

START_TEST(array_request)
{
    const char *s = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nrest";
    size_t n = strlen(s) - 4;
    resp_req r = {0};
    size_t used = 0;
    const char *err;
    ck_assert_int_eq(parse(s, strlen(s), &r, &used, &err), RESP_DONE);
    ck_assert_uint_eq(used, n);
    ck_assert_uint_eq(r.argc, 3);
    ck_assert(r.argv[0].len == 3 && memcmp(r.argv[0].p, "SET", 3) == 0);
    ck_assert(r.argv[2].len == 5 && memcmp(r.argv[2].p, "hello", 5) == 0);
    /* Every prefix is incomplete. */
    for (size_t k = 0; k < n; k++) {
        ck_assert_int_eq(parse(s, k, &r, &used, &err), RESP_MORE);
    }
    /* A binary argument with CR LF inside. */
    const char *bin = "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n";
    ck_assert_int_eq(parse(bin, strlen(bin), &r, &used, &err), RESP_DONE);
    ck_assert(r.argv[1].len == 4 && memcmp(r.argv[1].p, "a\r\nb", 4) == 0);
    /* Empty arrays and empty bulks. */
    ck_assert_int_eq(parse("*0\r\n", 4, &r, &used, &err), RESP_DONE);
    ck_assert_uint_eq(r.argc, 0);
    ck_assert_int_eq(parse("*1\r\n$0\r\n\r\n", 10, &r, &used, &err),
                     RESP_DONE);
    ck_assert_uint_eq(r.argc, 1);
    ck_assert_uint_eq(r.argv[0].len, 0);
    resp_req_free(&r);
}
END_TEST

START_TEST(inline_request)
{
    resp_req r = {0};
    size_t used;
    const char *err;
    const char *s = "  SET\tk   v \r\nPING\n";
    ck_assert_int_eq(parse(s, strlen(s), &r, &used, &err), RESP_DONE);
    ck_assert_uint_eq(used, 14);
    ck_assert_uint_eq(r.argc, 3);
    ck_assert(r.argv[2].len == 1 && r.argv[2].p[0] == 'v');
    ck_assert_int_eq(parse("PING", 4, &r, &used, &err), RESP_MORE);
    ck_assert_int_eq(parse("\r\n", 2, &r, &used, &err), RESP_DONE);
    ck_assert_uint_eq(r.argc, 0);
    /* An endless line is refused once it passes the limit. */
    size_t big = RESP_MAX_INLINE + 10;
    char *b = malloc(big);
    memset(b, 'a', big);
    ck_assert_int_eq(parse(b, RESP_MAX_INLINE - 1, &r, &used, &err),
                     RESP_MORE);
    ck_assert_int_eq(parse(b, big, &r, &used, &err), RESP_ERROR);
    ck_assert_ptr_nonnull(err);
    free(b);
    resp_req_free(&r);
}
END_TEST

START_TEST(malformed_requests)
{
    static const char *bad[] = {
        "*x\r\n",
        "*1\r\n+GET\r\n",
        "*1\r\n$-1\r\n",
        "*1\r\n$abc\r\n",
        "*1\r\n$3\r\nGETX\r\n",
        "*1\r\n$2\r\nGE\n\r",
        "*99999999999999999999\r\n",
        "*1\r\n$99999999999999999999\r\n",
        "*2\n$3\r\nGET\r\n",
        "*1\r\n$\r\n",
        "*-\r\n",
    };
    resp_req r = {0};
    size_t used;
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        const char *err = NULL;
        ck_assert_msg(parse(bad[k], strlen(bad[k]), &r, &used, &err) ==
                          RESP_ERROR,
                      "accepted %s", bad[k]);
        ck_assert_ptr_nonnull(err);
        ck_assert(strncmp(err, "Protocol error", 14) == 0);
    }
    /* A number line that never ends is refused after 32 bytes. */
    char digits[64];
    memset(digits, '1', sizeof(digits));
    digits[0] = '*';
    const char *err = NULL;
    ck_assert_int_eq(parse(digits, 10, &r, &used, &err), RESP_MORE);
    ck_assert_int_eq(parse(digits, 64, &r, &used, &err), RESP_ERROR);
    resp_req_free(&r);
}
END_TEST

START_TEST(oversized)
{
    resp_req r = {0};
    size_t used;
    const char *err = NULL;
    char b[128];
    int n = snprintf(b, sizeof(b), "*2\r\n$3\r\nSET\r\n$%u\r\n",
                     RESP_MAX_BULK + 1);
    ck_assert_int_eq(parse(b, (size_t)n, &r, &used, &err), RESP_ERROR);
    n = snprintf(b, sizeof(b), "*2\r\n$3\r\nSET\r\n$%u\r\n", RESP_MAX_BULK);
    ck_assert_int_eq(parse(b, (size_t)n, &r, &used, &err), RESP_MORE);
    n = snprintf(b, sizeof(b), "*%u\r\n", RESP_MAX_ARGS + 1);
    ck_assert_int_eq(parse(b, (size_t)n, &r, &used, &err), RESP_ERROR);
    n = snprintf(b, sizeof(b), "*%u\r\n", RESP_MAX_ARGS);
    ck_assert_int_eq(parse(b, (size_t)n, &r, &used, &err), RESP_MORE);
    resp_req_free(&r);
}
END_TEST

START_TEST(replies)
{
    static const char *good[] = {
        "+OK\r\n", "-ERR x\r\n", ":12\r\n", "$-1\r\n", "$0\r\n\r\n",
        "$3\r\na\nb\r\n", "*-1\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n$-1\r\n",
        "*1\r\n*1\r\n:1\r\n",
    };
    for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        size_t n = strlen(good[k]), used = 0;
        char *b = malloc(n);
        memcpy(b, good[k], n);
        for (size_t j = 0; j < n; j++) {
            ck_assert_int_eq(resp_scan_reply(b, j, &used), RESP_MORE);
        }
        ck_assert_int_eq(resp_scan_reply(b, n, &used), RESP_DONE);
        ck_assert_uint_eq(used, n);
        free(b);
    }
    static const char *bad[] = {"?x\r\n", "+OK\n", "$3\r\nabcd\r\n",
                                "$-2\r\n", "*1\r\n?\r\n"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        size_t used;
        ck_assert_int_eq(resp_scan_reply(bad[k], strlen(bad[k]), &used),
                         RESP_ERROR);
    }
    /* Nesting deeper than the limit. */
    char deep[64];
    size_t n = 0;
    for (int d = 0; d <= RESP_MAX_DEPTH + 1; d++) {
        memcpy(deep + n, "*1\r\n", 4);
        n += 4;
    }
    memcpy(deep + n, ":1\r\n", 4);
    n += 4;
    size_t used;
    ck_assert_int_eq(resp_scan_reply(deep, n, &used), RESP_ERROR);
}
END_TEST

START_TEST(integers)
{
    int64_t v;
    ck_assert_int_eq(resp_parse_i64("0", 1, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(resp_parse_i64("-42", 3, &v), 0);
    ck_assert_int_eq(v, -42);
    ck_assert_int_eq(resp_parse_i64("9223372036854775807", 19, &v), 0);
    ck_assert(v == INT64_MAX);
    ck_assert_int_eq(resp_parse_i64("-9223372036854775808", 20, &v), 0);
    ck_assert(v == INT64_MIN);
    ck_assert_int_eq(resp_parse_i64("9223372036854775808", 19, &v), -1);
    ck_assert_int_eq(resp_parse_i64("01", 2, &v), -1);
    ck_assert_int_eq(resp_parse_i64("-0", 2, &v), -1);
    ck_assert_int_eq(resp_parse_i64("+1", 2, &v), -1);
    ck_assert_int_eq(resp_parse_i64(" 1", 2, &v), -1);
    ck_assert_int_eq(resp_parse_i64("", 0, &v), -1);
    ck_assert_int_eq(resp_parse_i64("-", 1, &v), -1);
}
END_TEST

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random bytes and mutated requests, fed in random pieces like a
 * socket would: the parser must never crash, never claim more than it
 * was given, and every argument must lie inside the input. */
START_TEST(random_input)
{
    static const char *seeds[] = {
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n",
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "PING\r\n", "*1\r\n$4\r\nPING\r\n",
    };
    resp_req r = {0};
    int iters = getenv("CRAFT_TEST_QUICK") ? 20000 : 200000;
    for (int it = 0; it < iters; it++) {
        char src[256];
        size_t n;
        if (next() % 3 == 0) {
            n = next() % sizeof(src);
            for (size_t i = 0; i < n; i++) {
                src[i] = "*$\r\n0123456789-abc"[next() % 18];
            }
        } else {
            const char *s = seeds[next() % 4];
            n = strlen(s);
            memcpy(src, s, n);
            int muts = (int)(next() % 4);
            for (int m = 0; m < muts; m++) {
                src[next() % n] = (char)next();
            }
            n = next() % 2 ? n : next() % (n + 1);
        }
        char *b = malloc(n ? n : 1);
        memcpy(b, src, n);
        size_t off = 0;
        while (off < n) {
            size_t used = 0;
            const char *err;
            int rv = resp_parse_request(b + off, n - off, &r, &used, &err);
            if (rv != RESP_DONE) {
                ck_assert(rv == RESP_MORE || err != NULL);
                break;
            }
            ck_assert_uint_gt(used, 0);
            ck_assert_uint_le(used, n - off);
            for (size_t i = 0; i < r.argc; i++) {
                ck_assert(r.argv[i].p >= b + off &&
                          r.argv[i].p + r.argv[i].len <= b + off + used);
            }
            off += used;
        }
        size_t used;
        int rv = resp_scan_reply(b, n, &used);
        ck_assert(rv != RESP_DONE || used <= n);
        free(b);
    }
    resp_req_free(&r);
}
END_TEST

/* Log entries: a valid one applies, and every truncation or corruption
 * of it is refused with CRAFT_EMALFORMED or applied, never a crash. */
START_TEST(entries)
{
    kv_store s;
    ck_assert_int_eq(kv_store_init(&s), 0);
    resp_arg a[2] = {{"key", 3}, {"value", 5}};
    kvbuf e = {0};
    kv_entry_encode(&e, KV_OP_SET, 0, 1000, 0, a, 2);
    const void *res;
    size_t rl;
    ck_assert_int_eq(kv_store_apply(&s, 1, 1, e.p, e.len, &res, &rl),
                     CRAFT_OK);
    ck_assert(rl == 5 && memcmp(res, "+OK\r\n", 5) == 0);
    kvbuf out = {0};
    kv_store_get(&s, &a[0], 1000, &out);
    ck_assert(out.len == 11 && memcmp(out.p, "$5\r\nvalue\r\n", 11) == 0);
    /* INCR on a non-integer, then on a new key. */
    kvbuf e2 = {0};
    kv_entry_encode(&e2, KV_OP_INCRBY, 0, 1000, 5, a, 1);
    ck_assert_int_eq(kv_store_apply(&s, 2, 1, e2.p, e2.len, &res, &rl),
                     CRAFT_OK);
    ck_assert(rl > 4 && memcmp(res, "-ERR", 4) == 0);
    resp_arg c = {"n", 1};
    e2.len = 0;
    kv_entry_encode(&e2, KV_OP_INCRBY, 0, 1000, (uint64_t)-3, &c, 1);
    ck_assert_int_eq(kv_store_apply(&s, 3, 1, e2.p, e2.len, &res, &rl),
                     CRAFT_OK);
    ck_assert(rl == 5 && memcmp(res, ":-3\r\n", 5) == 0);
    /* Expiry by the replicated clock: a SET PX whose deadline the next
     * entry's time passed is gone for writes. */
    e2.len = 0;
    kv_entry_encode(&e2, KV_OP_SET, KV_SET_NX, 2000, 1500, a, 2);
    ck_assert_int_eq(kv_store_apply(&s, 4, 1, e2.p, e2.len, &res, &rl),
                     CRAFT_OK);
    ck_assert(rl == 5 && memcmp(res, "$-1\r\n", 5) == 0); /* NX: exists */
    for (size_t cut = 0; cut < e.len; cut++) {
        ck_assert_int_eq(kv_store_apply(&s, 5, 1, e.p, cut, &res, &rl),
                         CRAFT_EMALFORMED);
    }
    for (int it = 0; it < 20000; it++) {
        char *m = malloc(e.len);
        memcpy(m, e.p, e.len);
        m[next() % e.len] = (char)next();
        m[next() % e.len] = (char)next();
        int rv = kv_store_apply(&s, 6, 1, m, e.len, &res, &rl);
        ck_assert(rv == CRAFT_OK || rv == CRAFT_EMALFORMED);
        free(m);
    }
    kvbuf_free(&e);
    kvbuf_free(&e2);
    kvbuf_free(&out);
    kv_store_destroy(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kv_resp");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, array_request);
    tcase_add_test(tc, inline_request);
    tcase_add_test(tc, malformed_requests);
    tcase_add_test(tc, oversized);
    tcase_add_test(tc, replies);
    tcase_add_test(tc, integers);
    tcase_add_test(tc, random_input);
    tcase_add_test(tc, entries);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
