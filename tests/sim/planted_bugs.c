/*
 * tests/sim/planted_bugs.c: the checks are not vacuous. Built only with
 * -DCRAFT_PLANTED_BUGS (against a library built the same way, never a
 * release build): each planted engine bug is switched on and the
 * simulator must report it, with the seed and a replay spec that
 * reproduces the same violation.
 */
#include <inttypes.h>
#include <stdio.h>

#include "simtest.h"

#ifndef CRAFT_PLANTED_BUGS
#error "planted_bugs.c needs -DCRAFT_PLANTED_BUGS"
#endif

/* Seeds tried in order until the bug shows. A stale read needs a leader
 * that does not know it was deposed, which pre-vote and check-quorum make
 * rare: about one seed in seven of the "net" profile shows it, so 100
 * seeds miss it with odds near 1e-7. */
#define MAX_SEEDS 100

static void expect(int bug, const char *profile, int check, int check2)
{
    struct sim_options o;
    struct sim_result r;
    uint64_t seed;
    int found = 0;
    for (seed = 1; seed <= MAX_SEEDS && !found; seed++) {
        sim_options_init(&o);
        ck_assert_int_eq(sim_options_profile(&o, profile), 0);
        o.seed = seed;
        o.steps = 200000;
        o.planted_bug = bug;
        int rv = sim_run(&o, &r);
        ck_assert_int_ge(rv, 0);
        found = rv == 1;
    }
    ck_assert_msg(found, "planted bug %d not found in %d seeds", bug,
                  MAX_SEEDS);
    ck_assert_msg(r.check == check || r.check == check2,
                  "bug %d reported as %s: %s", bug, sim_check_name(r.check),
                  r.message);
    ck_assert_uint_eq(r.seed, o.seed);

    /* The report names the seed and a command that replays it. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    sim_report_violation(f, "craft-sim", &o, &r);
    fclose(f);
    char seed_hex[32];
    snprintf(seed_hex, sizeof(seed_hex), "seed=0x%" PRIx64, o.seed);
    ck_assert_ptr_nonnull(strstr(text, seed_hex));
    ck_assert_ptr_nonnull(strstr(text, "craft-sim --replay '"));
    ck_assert_ptr_nonnull(strstr(text, sim_check_name(r.check)));
    printf("planted bug %d:\n%s", bug, text);

    /* Replaying the spec reproduces the same violation at the same step. */
    char spec[1024];
    sim_replay_spec(&o, spec, sizeof(spec));
    struct sim_options p;
    struct sim_result again;
    sim_options_init(&p);
    ck_assert_int_eq(sim_replay_parse(&p, spec), 0);
    ck_assert_int_eq(p.planted_bug, bug);
    ck_assert_int_eq(sim_run(&p, &again), 1);
    ck_assert_int_eq(again.check, r.check);
    ck_assert_uint_eq(again.violation_step, r.violation_step);
    ck_assert_uint_eq(again.trace_hash, r.trace_hash);
    ck_assert_str_eq(again.message, r.message);
    free(text);
}

START_TEST(test_commit_no_quorum)
{
    expect(SIM_BUG_COMMIT_NO_QUORUM, "default", SIM_V_COMMIT_NO_QUORUM,
           SIM_V_COMMIT_NO_QUORUM);
}
END_TEST

START_TEST(test_read_no_readindex)
{
    expect(SIM_BUG_READ_NO_READINDEX, "net", SIM_V_LINEARIZABILITY,
           SIM_V_LINEARIZABILITY);
}
END_TEST

START_TEST(test_vote_twice)
{
    expect(SIM_BUG_VOTE_TWICE, "default", SIM_V_DOUBLE_VOTE,
           SIM_V_ELECTION_SAFETY);
}
END_TEST

START_TEST(test_no_bug_no_violation)
{
    /* The same build with no bug planted is clean on those seeds. */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct sim_options o;
        struct sim_result r;
        sim_options_init(&o);
        o.seed = seed;
        o.steps = 100000;
        ck_assert_int_eq(sim_run(&o, &r), 0);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sim_planted_bugs");
    TCase *tc = tcase_create("planted");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_no_bug_no_violation);
    tcase_add_test(tc, test_commit_no_quorum);
    tcase_add_test(tc, test_read_no_readindex);
    tcase_add_test(tc, test_vote_twice);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
