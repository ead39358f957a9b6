/*
 * tests/sim/test_sim_lincheck.c: the linearizability checker on small
 * histories whose verdict is known.
 *
 * A history is written as a list of events on a logical clock: "invoke
 * op" and "complete op with result". Each test builds one with the
 * helpers below and checks the verdict.
 */
#include "simtest.h"
#include "sim/lincheck.h"

struct h {
    struct sim_history hist;
};

static void h_init(struct h *h)
{
    sim_history_init(&h->hist);
}

static uint64_t put(struct h *h, uint32_t key, uint64_t v)
{
    return sim_history_invoke(&h->hist, SIM_CMD_PUT, key, v, 0, 0);
}

static uint64_t get(struct h *h, uint32_t key)
{
    return sim_history_invoke(&h->hist, SIM_CMD_GET, key, 0, 0, 0);
}

static uint64_t cas(struct h *h, uint32_t key, uint64_t from, uint64_t to)
{
    return sim_history_invoke(&h->hist, SIM_CMD_CAS, key, from, to, 0);
}

static void done(struct h *h, uint64_t id, uint64_t out)
{
    sim_history_complete(&h->hist, id, out);
}

static int check(struct h *h, uint32_t keys, struct sim_lin *lin)
{
    int rv = sim_lincheck(&h->hist, keys, 1u << 20, lin);
    sim_history_free(&h->hist);
    return rv;
}

static int verdict(struct h *h)
{
    struct sim_lin lin;
    return check(h, 2, &lin);
}

START_TEST(test_sequential_ok)
{
    struct h h;
    h_init(&h);
    uint64_t a = put(&h, 0, 1);
    done(&h, a, 0);
    uint64_t b = get(&h, 0);
    done(&h, b, 1);
    uint64_t c = cas(&h, 0, 1, 2);
    done(&h, c, 1);
    uint64_t d = cas(&h, 0, 1, 3);
    done(&h, d, 0);
    uint64_t e = get(&h, 0);
    done(&h, e, 2);
    ck_assert_int_eq(verdict(&h), 1);
}
END_TEST

START_TEST(test_initial_value)
{
    struct h h;
    h_init(&h);
    uint64_t a = get(&h, 1);
    done(&h, a, 0);
    ck_assert_int_eq(verdict(&h), 1);
    h_init(&h);
    a = get(&h, 1);
    done(&h, a, 7); /* never written */
    ck_assert_int_eq(verdict(&h), 0);
}
END_TEST

START_TEST(test_concurrent_read_either)
{
    /* put(1) overlaps a get: the get may see 0 or 1, nothing else. */
    for (uint64_t seen = 0; seen <= 2; seen++) {
        struct h h;
        h_init(&h);
        uint64_t a = put(&h, 0, 1);
        uint64_t b = get(&h, 0);
        done(&h, b, seen);
        done(&h, a, 0);
        ck_assert_int_eq(verdict(&h), seen <= 1);
    }
}
END_TEST

START_TEST(test_stale_read)
{
    /* A get that starts after put(2) completed cannot return 1. */
    struct h h;
    h_init(&h);
    uint64_t a = put(&h, 0, 1);
    done(&h, a, 0);
    uint64_t b = put(&h, 0, 2);
    done(&h, b, 0);
    uint64_t c = get(&h, 0);
    done(&h, c, 1);
    struct sim_lin lin;
    ck_assert_int_eq(check(&h, 1, &lin), 0);
    ck_assert_uint_eq(lin.bad_key, 0);
    ck_assert_ptr_nonnull(strstr(lin.message, "get(k0)"));
}
END_TEST

START_TEST(test_reads_go_back)
{
    /* put 1 and put 2 race; one reader sees 2 then, later, 1: no order of
     * the two puts explains both reads. */
    struct h h;
    h_init(&h);
    uint64_t a = put(&h, 0, 1);
    uint64_t b = put(&h, 0, 2);
    uint64_t c = get(&h, 0);
    done(&h, c, 2);
    uint64_t d = get(&h, 0);
    done(&h, d, 1);
    done(&h, a, 0);
    done(&h, b, 0);
    ck_assert_int_eq(verdict(&h), 1); /* order: put2 get put1 get */
    h_init(&h);
    a = put(&h, 0, 1);
    b = put(&h, 0, 2);
    done(&h, a, 0);
    done(&h, b, 0);
    c = get(&h, 0);
    done(&h, c, 2);
    d = get(&h, 0);
    done(&h, d, 1);
    ck_assert_int_eq(verdict(&h), 0);
}
END_TEST

START_TEST(test_cas_both_succeed)
{
    /* Two concurrent cas(0 -> x) cannot both succeed. */
    struct h h;
    h_init(&h);
    uint64_t a = cas(&h, 0, 0, 1);
    uint64_t b = cas(&h, 0, 0, 2);
    done(&h, a, 1);
    done(&h, b, 1);
    ck_assert_int_eq(verdict(&h), 0);
    h_init(&h);
    a = cas(&h, 0, 0, 1);
    b = cas(&h, 0, 0, 2);
    done(&h, a, 1);
    done(&h, b, 0);
    ck_assert_int_eq(verdict(&h), 1);
}
END_TEST

START_TEST(test_cas_fails_wrongly)
{
    struct h h;
    h_init(&h);
    uint64_t a = put(&h, 0, 5);
    done(&h, a, 0);
    uint64_t b = cas(&h, 0, 5, 6);
    done(&h, b, 0); /* the value was 5: it must succeed */
    ck_assert_int_eq(verdict(&h), 0);
}
END_TEST

START_TEST(test_unknown_outcome)
{
    /* A put whose outcome is unknown may have happened, or not. */
    for (uint64_t seen = 0; seen <= 1; seen++) {
        struct h h;
        h_init(&h);
        put(&h, 0, 1); /* never completes */
        uint64_t b = get(&h, 0);
        done(&h, b, seen);
        uint64_t c = get(&h, 0);
        done(&h, c, seen);
        ck_assert_int_eq(verdict(&h), 1);
    }
    /* ... but once seen, it cannot be unseen. */
    struct h h;
    h_init(&h);
    put(&h, 0, 1);
    uint64_t b = get(&h, 0);
    done(&h, b, 1);
    uint64_t c = get(&h, 0);
    done(&h, c, 0);
    ck_assert_int_eq(verdict(&h), 0);
}
END_TEST

START_TEST(test_no_effect_ignored)
{
    /* An operation known to have had no effect is left out. */
    struct h h;
    h_init(&h);
    uint64_t a = put(&h, 0, 1);
    sim_history_fail(&h.hist, a);
    uint64_t b = get(&h, 0);
    done(&h, b, 0);
    ck_assert_int_eq(verdict(&h), 1);
}
END_TEST

START_TEST(test_partitioned_by_key)
{
    /* Key 0 is fine, key 1 is not: the report names key 1. */
    struct h h;
    h_init(&h);
    uint64_t a = put(&h, 0, 1);
    done(&h, a, 0);
    uint64_t b = put(&h, 1, 2);
    done(&h, b, 0);
    uint64_t c = get(&h, 0);
    done(&h, c, 1);
    uint64_t d = get(&h, 1);
    done(&h, d, 0);
    struct sim_lin lin;
    ck_assert_int_eq(check(&h, 2, &lin), 0);
    ck_assert_uint_eq(lin.bad_key, 1);
}
END_TEST

START_TEST(test_segments_carry_values)
{
    /* Concurrent puts end the first segment in either value; the next
     * segment must start from one of them consistently. */
    struct h h;
    h_init(&h);
    uint64_t a = put(&h, 0, 1);
    uint64_t b = put(&h, 0, 2);
    done(&h, a, 0);
    done(&h, b, 0);
    uint64_t c = get(&h, 0);
    done(&h, c, 1);
    uint64_t d = cas(&h, 0, 1, 3);
    done(&h, d, 1);
    uint64_t e = get(&h, 0);
    done(&h, e, 3);
    struct sim_lin lin;
    ck_assert_int_eq(check(&h, 1, &lin), 1);
    ck_assert_uint_ge(lin.segments, 3);
}
END_TEST

START_TEST(test_many_concurrent)
{
    /* 12 overlapping puts (twice the clients of a default run) and a
     * final read of any of them: fine. A read of an unwritten value is
     * not, and the search proves it within its budget. */
    for (int bad = 0; bad <= 1; bad++) {
        struct h h;
        h_init(&h);
        uint64_t ids[12];
        for (int i = 0; i < 12; i++) {
            ids[i] = put(&h, 0, (uint64_t)i + 1);
        }
        for (int i = 0; i < 12; i++) {
            done(&h, ids[i], 0);
        }
        uint64_t g = get(&h, 0);
        done(&h, g, bad ? 13 : 7);
        struct sim_lin lin;
        ck_assert_int_eq(check(&h, 1, &lin), !bad);
        ck_assert_uint_eq(lin.inconclusive, 0);
    }
}
END_TEST

START_TEST(test_budget)
{
    /* With no room for the memo the verdict is "inconclusive", never
     * a false violation. (Wing-Gong search is exponential in the number
     * of mutually concurrent operations on one key; the simulator keeps
     * that number near its client count, and reports inconclusive keys.)
     */
    struct h h;
    h_init(&h);
    uint64_t ids[40];
    for (int i = 0; i < 40; i++) {
        ids[i] = cas(&h, 0, (uint64_t)i, (uint64_t)i + 1);
    }
    for (int i = 0; i < 40; i++) {
        done(&h, ids[i], 1);
    }
    struct sim_lin lin;
    int rv = sim_lincheck(&h.hist, 1, 64, &lin);
    sim_history_free(&h.hist);
    ck_assert_int_eq(rv, 1);
    ck_assert_uint_eq(lin.inconclusive, 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sim_lincheck");
    TCase *tc = tcase_create("histories");
    tcase_add_test(tc, test_sequential_ok);
    tcase_add_test(tc, test_initial_value);
    tcase_add_test(tc, test_concurrent_read_either);
    tcase_add_test(tc, test_stale_read);
    tcase_add_test(tc, test_reads_go_back);
    tcase_add_test(tc, test_cas_both_succeed);
    tcase_add_test(tc, test_cas_fails_wrongly);
    tcase_add_test(tc, test_unknown_outcome);
    tcase_add_test(tc, test_no_effect_ignored);
    tcase_add_test(tc, test_partitioned_by_key);
    tcase_add_test(tc, test_segments_carry_values);
    tcase_add_test(tc, test_many_concurrent);
    tcase_add_test(tc, test_budget);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
