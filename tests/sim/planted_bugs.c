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

/* what: a profile name, or a replay spec ("profile=net,read=100%,...")
 * for a battery. */
static void expect(int bug, const char *what, int check, int check2)
{
    struct sim_options o;
    struct sim_result r;
    uint64_t seed;
    int found = 0;
    for (seed = 1; seed <= MAX_SEEDS && !found; seed++) {
        sim_options_init(&o);
        if (strchr(what, '=') != NULL) {
            ck_assert_int_eq(sim_replay_parse(&o, what), 0);
        } else {
            ck_assert_int_eq(sim_options_profile(&o, what), 0);
        }
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
    expect(SIM_BUG_READ_NO_READINDEX, "net", SIM_V_READ_ROUND,
           SIM_V_LINEARIZABILITY);
}
END_TEST

/* The batteries of the rules a wrong engine used to get away with (each
 * rule's planted bug; README "Tests that guard Raft's rules"). */

/* §5.3: commit = min(leaderCommit, index of the last new entry). */
START_TEST(test_follower_commit)
{
    expect(SIM_BUG_FOLLOWER_COMMIT, "default", SIM_V_FOLLOWER_COMMIT,
           SIM_V_FOLLOWER_COMMIT);
}
END_TEST

/* §5.4.2: a leader commits by counting only an entry of its term. */
START_TEST(test_commit_old_term)
{
    expect(SIM_BUG_COMMIT_OLD_TERM, "default", SIM_V_COMMIT_OWN_TERM,
           SIM_V_COMMIT_OWN_TERM);
}
END_TEST

/* The figure8 profile reaches Figure 8 itself: with the own-term check
 * skipped, the wrongly committed entry is overwritten by a later
 * leader. */
START_TEST(test_commit_old_term_figure8)
{
    expect(SIM_BUG_COMMIT_OLD_TERM, "profile=figure8,nodes=3,skip=0x20000",
           SIM_V_LEADER_COMPLETENESS, SIM_V_STATE_MACHINE_SAFETY);
}
END_TEST

/* §6.4: a read is answered from a heartbeat round started after it
 * arrived. Reads only through ReadIndex, no leases, long delays and
 * one-way cuts. */
START_TEST(test_read_old_round)
{
    expect(SIM_BUG_READ_OLD_ROUND,
           "profile=net,read=100%,lease=0,delay=5%,asym=5%", SIM_V_READ_ROUND,
           SIM_V_LINEARIZABILITY);
}
END_TEST

/* §6.4.1: a lease is timed from when its round was sent. Leases with
 * partitions and 8% drops. */
START_TEST(test_lease_from_ack)
{
    expect(SIM_BUG_LEASE_FROM_ACK,
           "profile=net,read=100%,lease=1,drop=8%,partition=2%",
           SIM_V_READ_ROUND, SIM_V_LINEARIZABILITY);
}
END_TEST

/* §7: an install keeps the log after the snapshot only when the entry at
 * its index has its term. Snapshots with partitions and crashes, and
 * leaders cut off with entries nobody else has. */
START_TEST(test_snapshot_keep)
{
    expect(SIM_BUG_SNAPSHOT_KEEP,
           "profile=snapshot,nodes=3,isolate=5%,crash=2%,partition=2%",
           SIM_V_SNAPSHOT_SUFFIX, SIM_V_RESTART);
}
END_TEST

/* Thesis §4.1: truncating an uncommitted configuration entry rolls the
 * membership back. */
START_TEST(test_conf_rollback)
{
    expect(SIM_BUG_CONF_NO_ROLLBACK, "member", SIM_V_MEMBERSHIP,
           SIM_V_MEMBERSHIP);
}
END_TEST

/* Calm phases: a lagging follower catches up in round trips bounded by
 * the logs' terms (the conflict hint), and with pre-vote no term rises
 * without a reason. */
START_TEST(test_slow_backoff)
{
    expect(SIM_BUG_SLOW_BACKOFF, "default", SIM_V_CATCHUP, SIM_V_CATCHUP);
}
END_TEST

START_TEST(test_no_prevote)
{
    expect(SIM_BUG_NO_PREVOTE, "default", SIM_V_CALM_TERM, SIM_V_CALM_TERM);
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
    tcase_add_test(tc, test_follower_commit);
    tcase_add_test(tc, test_commit_old_term);
    tcase_add_test(tc, test_commit_old_term_figure8);
    tcase_add_test(tc, test_read_old_round);
    tcase_add_test(tc, test_lease_from_ack);
    tcase_add_test(tc, test_snapshot_keep);
    tcase_add_test(tc, test_conf_rollback);
    tcase_add_test(tc, test_slow_backoff);
    tcase_add_test(tc, test_no_prevote);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
