/*
 * tests/sim/test_sim_determinism.c: a seed is a run. The same options
 * give the same trace, byte for byte, and the same trace hash, whether or
 * not the trace is written; another seed gives another run; a replay spec
 * reproduces the run it was printed for.
 */
#include <stdio.h>

#include "simtest.h"

#define STEPS 30000

static void opts(struct sim_options *o, uint64_t seed)
{
    sim_options_init(o);
    o->seed = seed;
    o->steps = STEPS;
}

/* Runs o, writing the text trace to a temporary file it returns. */
static FILE *traced(struct sim_options *o, struct sim_result *r)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    o->trace = f;
    ck_assert_int_eq(sim_run(o, r), 0);
    o->trace = NULL;
    rewind(f);
    return f;
}

START_TEST(test_same_seed_same_trace)
{
    struct sim_options o;
    struct sim_result a, b;
    opts(&o, 42);
    FILE *fa = traced(&o, &a);
    FILE *fb = traced(&o, &b);
    ck_assert_uint_eq(a.trace_hash, b.trace_hash);
    ck_assert_uint_eq(a.steps, b.steps);
    ck_assert_uint_eq(a.commits, b.commits);
    ck_assert_uint_eq(a.elections, b.elections);
    ck_assert_uint_eq(a.ops_ok, b.ops_ok);
    for (int k = 0; k < SIM_K_COUNT; k++) {
        ck_assert_uint_eq(a.faults[k], b.faults[k]);
    }
    /* Byte-identical text. */
    size_t bytes = 0;
    for (;;) {
        int x = fgetc(fa), y = fgetc(fb);
        ck_assert_int_eq(x, y);
        if (x == EOF) {
            break;
        }
        bytes++;
    }
    ck_assert_uint_gt(bytes, 100000);
    fclose(fa);
    fclose(fb);
}
END_TEST

START_TEST(test_trace_off_same_hash)
{
    struct sim_options o;
    struct sim_result a, b;
    opts(&o, 43);
    FILE *f = traced(&o, &a);
    fclose(f);
    ck_assert_int_eq(sim_run(&o, &b), 0);
    ck_assert_uint_eq(a.trace_hash, b.trace_hash);
}
END_TEST

START_TEST(test_other_seed_other_run)
{
    struct sim_options o;
    struct sim_result a, b;
    opts(&o, 44);
    ck_assert_int_eq(sim_run(&o, &a), 0);
    o.seed = 45;
    ck_assert_int_eq(sim_run(&o, &b), 0);
    ck_assert_uint_ne(a.trace_hash, b.trace_hash);
}
END_TEST

START_TEST(test_every_profile_deterministic)
{
    for (int p = 0; sim_profile_names[p] != NULL; p++) {
        struct sim_options o;
        struct sim_result a, b;
        opts(&o, 46 + (uint64_t)p);
        o.steps = 10000;
        ck_assert_int_eq(sim_options_profile(&o, sim_profile_names[p]), 0);
        ck_assert_int_eq(sim_run(&o, &a), 0);
        ck_assert_int_eq(sim_run(&o, &b), 0);
        ck_assert_msg(a.trace_hash == b.trace_hash, "profile %s",
                      sim_profile_names[p]);
    }
}
END_TEST

START_TEST(test_replay_spec)
{
    struct sim_options o, p;
    struct sim_result a, b;
    opts(&o, 0xdeadbeefcafeull);
    ck_assert_int_eq(sim_options_profile(&o, "net"), 0);
    o.nodes = 3;
    o.clients = 4;
    o.rate[SIM_K_DROP] = 123456;
    o.rate[SIM_K_CRASH] = 7000;
    char spec[1024], again[1024];
    sim_replay_spec(&o, spec, sizeof(spec));
    ck_assert_ptr_nonnull(strstr(spec, "seed=0xdeadbeefcafe"));
    ck_assert_ptr_nonnull(strstr(spec, "drop=123456ppm"));
    sim_options_init(&p);
    ck_assert_int_eq(sim_replay_parse(&p, spec), 0);
    sim_replay_spec(&p, again, sizeof(again));
    ck_assert_str_eq(spec, again);
    ck_assert_int_eq(sim_run(&o, &a), 0);
    ck_assert_int_eq(sim_run(&p, &b), 0);
    ck_assert_uint_eq(a.trace_hash, b.trace_hash);
    /* Rates in every notation, and bad specs. */
    ck_assert_int_eq(sim_replay_parse(&p, "drop=2%,dup=0.5,crash=10ppm"), 0);
    ck_assert_uint_eq(p.rate[SIM_K_DROP], 20000);
    ck_assert_uint_eq(p.rate[SIM_K_DUP], 500000);
    ck_assert_uint_eq(p.rate[SIM_K_CRASH], 10);
    ck_assert_int_ne(sim_replay_parse(&p, "nodes=10"), 0);
    ck_assert_int_ne(sim_replay_parse(&p, "drop=2"), 0);
    ck_assert_int_ne(sim_replay_parse(&p, "bogus=1"), 0);
    ck_assert_int_ne(sim_replay_parse(&p, "profile=nope"), 0);
}
END_TEST

START_TEST(test_pieces_equal_run)
{
    /* sim_create + sim_advance + sim_finish is sim_run. */
    struct sim_options o;
    struct sim_result a, b;
    opts(&o, 47);
    ck_assert_int_eq(sim_run(&o, &a), 0);
    struct sim *s;
    ck_assert_int_eq(sim_create(&o, &b, &s), 0);
    ck_assert_int_eq(sim_advance(s, 1000), 0);
    ck_assert_int_eq(sim_advance(s, 5000), 0);
    ck_assert_int_eq(sim_finish(s), 2);
    sim_destroy(s);
    ck_assert_uint_eq(a.trace_hash, b.trace_hash);
    ck_assert_uint_eq(a.steps, b.steps);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sim_determinism");
    TCase *tc = tcase_create("seed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_same_seed_same_trace);
    tcase_add_test(tc, test_trace_off_same_hash);
    tcase_add_test(tc, test_other_seed_other_run);
    tcase_add_test(tc, test_every_profile_deterministic);
    tcase_add_test(tc, test_replay_spec);
    tcase_add_test(tc, test_pieces_equal_run);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
