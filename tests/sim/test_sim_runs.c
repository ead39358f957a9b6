/*
 * tests/sim/test_sim_runs.c: short runs of every profile at several
 * cluster sizes hold every check; bad options are refused; planted bugs
 * cannot be switched on in a release build.
 */
#include "simtest.h"

START_TEST(test_profiles)
{
    static const uint32_t sizes[] = {3, 5};
    for (int p = 0; sim_profile_names[p] != NULL; p++) {
        for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
            for (uint64_t seed = 1; seed <= 3; seed++) {
                struct sim_options o;
                struct sim_result r;
                sim_options_init(&o);
                ck_assert_int_eq(
                    sim_options_profile(&o, sim_profile_names[p]), 0);
                o.nodes = sizes[z];
                o.seed = seed * 1000 + (uint64_t)p;
                o.steps = 30000;
                int rv = sim_run(&o, &r);
                char spec[1024];
                sim_replay_spec(&o, spec, sizeof(spec));
                ck_assert_msg(rv == 0, "%s: %s: %s", spec,
                              sim_check_name(r.check), r.message);
                ck_assert_uint_ge(r.steps, o.steps);
                ck_assert_uint_gt(r.commits, 0);
                ck_assert_uint_gt(r.ops_ok, 0);
                ck_assert_uint_gt(r.calm_phases, 0);
            }
        }
    }
}
END_TEST

START_TEST(test_faults_happen)
{
    /* The default profile really injects every kind (but isolate, kept
     * for the figure8 profile so the default runs stay as they were). */
    struct sim_options o;
    struct sim_result r;
    sim_options_init(&o);
    o.steps = 300000;
    o.seed = 3;
    ck_assert_int_eq(sim_run(&o, &r), 0);
    for (int k = 0; k < SIM_K_COUNT; k++) {
        if (k == SIM_K_CLIENT || k == SIM_K_READ || k == SIM_K_ISOLATE) {
            continue;
        }
        ck_assert_msg(r.faults[k] > 0, "no %s fault", sim_kind_name(k));
    }
    ck_assert_uint_gt(r.reads_index, 0);
    ck_assert_uint_gt(r.snapshots_installed, 0);
    ck_assert_uint_gt(r.transfers_ok, 0);
    ck_assert_uint_gt(r.member_changes, 1);
}
END_TEST

START_TEST(test_figure8_isolates)
{
    struct sim_options o;
    struct sim_result r;
    sim_options_init(&o);
    ck_assert_int_eq(sim_options_profile(&o, "figure8"), 0);
    o.nodes = 3;
    o.steps = 100000;
    o.seed = 1;
    ck_assert_int_eq(sim_run(&o, &r), 0);
    ck_assert_uint_gt(r.faults[SIM_K_ISOLATE], 0);
    ck_assert_uint_gt(r.elections, 10);
    ck_assert_uint_gt(r.ops_ok, 0);
}
END_TEST

START_TEST(test_bad_options)
{
    struct sim_options o;
    struct sim_result r;
    sim_options_init(&o);
    o.nodes = 10;
    ck_assert_int_eq(sim_run(&o, &r), -1);
    sim_options_init(&o);
    o.keys = 0;
    ck_assert_int_eq(sim_run(&o, &r), -1);
    sim_options_init(&o);
    ck_assert_int_eq(sim_options_profile(&o, "nope"), -1);
}
END_TEST

START_TEST(test_no_planted_bugs_in_release)
{
#ifndef CRAFT_PLANTED_BUGS
    struct sim_options o;
    struct sim_result r;
    sim_options_init(&o);
    o.planted_bug = SIM_BUG_COMMIT_NO_QUORUM;
    ck_assert_int_eq(sim_run(&o, &r), -1);
    ck_assert_ptr_nonnull(strstr(r.message, "CRAFT_PLANTED_BUGS"));
#endif
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sim_runs");
    TCase *tc = tcase_create("runs");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_profiles);
    tcase_add_test(tc, test_faults_happen);
    tcase_add_test(tc, test_figure8_isolates);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_no_planted_bugs_in_release);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
