/*
 * Membership changes (thesis §4.1-§4.3: one server at a time,
 * learners caught up before promotion, a leader removing itself, removed
 * servers that cannot disrupt) and bootstrap (§5: a new cluster, a node
 * joining an existing one, a restart from persisted state).
 */
#include "engine_util.h"
#include "harness.h"

static struct host C;

static void others(uint64_t l, uint64_t *a, uint64_t *b)
{
    *a = l == 1 ? 2 : 1;
    *b = 6 - l - *a;
}

static void change_raw(struct host_node *nd, uint32_t type, uint64_t id,
                       uint64_t peer)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = type;
    ev.id = id;
    ev.peer = peer;
    host_step_raw(&C, nd, &ev);
}

/* Leader of voters 1..3 with node 4 (and 5) started empty, ready. */
static uint64_t three_and_spares(int n, uint64_t seed)
{
    eu_setup(&C, n, seed);
    host_start(&C, 3);
    return host_elect_ready(&C, 100);
}

/* Ticks only these nodes (a 0-terminated list) and delivers. */
static void run_only(const uint64_t *ids, int rounds)
{
    for (int t = 0; t < rounds; t++) {
        for (const uint64_t *p = ids; *p != 0; p++) {
            host_tick(&C, host_node(&C, *p));
        }
        host_deliver_all(&C);
    }
}

/*
 * A learner catching up and being promoted.
 * ADD_PEER appends a configuration with the new server as a learner; the
 * learner's acks advance its progress but never count toward a quorum
 * (shown by cutting the voters: the learner holds the entry, nothing
 * commits); once the addition commits and the learner is caught up, the
 * leader appends the promotion and answers the same id a second time.
 */
START_TEST(learner_catches_up_and_is_promoted)
{
    uint64_t l = three_and_spares(4, 1);
    struct host_node *ld = host_node(&C, l);
    struct host_node *ln = host_node(&C, 4);
    uint64_t a, b;
    others(l, &a, &b);
    for (int i = 0; i < 20; i++) {
        host_propose(&C, ld, 0, "history", 7);
        host_deliver_all(&C);
    }
    uint64_t commit0 = craft_engine_commit_index(ld->e);
    ck_assert_uint_eq(commit0, 22);
    uint64_t term = craft_engine_term(ld->e);

    change_raw(ld, CRAFT_EVENT_ADD_PEER, 5, 4);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_SEND, CRAFT_ACTION_SEND,
                    CRAFT_ACTION_SEND, CRAFT_ACTION_PROPOSE_RESULT,
                    CRAFT_ACTION_APPEND);
    ck_assert_uint_eq(craft_action_id(ld->acts, 3), 5);
    ck_assert_int_eq(craft_action_status(ld->acts, 3), CRAFT_OK);
    ck_assert_uint_eq(craft_action_index(ld->acts, 3), 23);
    ck_assert_uint_eq(craft_action_term(ld->acts, 3), term);
    ck_assert_uint_eq(craft_action_count(ld->acts, 3), 1);
    uint32_t type;
    ck_assert_int_eq(craft_action_entry(ld->acts, 4, 0, NULL, &type, NULL,
                                        NULL),
                     0);
    ck_assert_uint_eq(type, CRAFT_ENTRY_CONFIG);
    ck_assert_uint_eq(eu_count_sends(ld->acts, CRAFT_MSG_APPEND, 4), 1);
    /* In effect as soon as appended: 4 is a learner. */
    ck_assert_int_eq(host_member_role(ld, 4), CRAFT_LEARNER);
    ck_assert_uint_eq(craft_engine_member_count(ld->e), 4);
    host_execute(&C, ld);

    /* The voters are cut off: the learner alone gets everything. */
    C.cut[l][a] = C.cut[l][b] = 1;
    host_deliver_all(&C);
    uint64_t match = 0;
    ck_assert_int_eq(craft_engine_progress(ld->e, 4, &match, NULL, NULL), 0);
    ck_assert_uint_eq(match, 23);
    ck_assert_uint_eq(ln->last, 23);
    ck_assert_int_eq(host_member_role(ln, 4), CRAFT_LEARNER);
    /* Leader + learner hold entry 23, but a learner is no quorum. */
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), commit0);
    ck_assert_int_eq(host_member_role(ld, 4), CRAFT_LEARNER);
    struct host_result r[3];
    ck_assert_uint_eq(host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 5, r, 3), 1);

    /* Heal: the addition commits, the learner is caught up: promotion. */
    C.cut[l][a] = C.cut[l][b] = 0;
    host_tick(&C, ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 5, r, 3), 2);
    ck_assert_int_eq(r[1].status, CRAFT_OK);
    ck_assert_uint_eq(r[1].index, 24);
    ck_assert_uint_eq(r[1].term, term);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 24);
    host_tick(&C, ld);
    host_deliver_all(&C);
    for (uint64_t x = 1; x <= 4; x++) {
        struct host_node *nd = host_node(&C, x);
        ck_assert_int_eq(host_member_role(nd, 4), CRAFT_VOTER);
        ck_assert_uint_eq(craft_engine_member_count(nd->e), 4);
        ck_assert_uint_eq(nd->applied, 24);
    }
    ck_assert_mem_eq(ln->sm.p, ld->sm.p, ld->sm.len);
    /* Now 4 counts: with a and b cut, leader + 4 are 2 of 4: no commit;
     * with only b cut, leader + a + 4 are 3 of 4: commit. */
    C.cut[l][a] = C.cut[l][b] = 1;
    host_propose(&C, ld, 6, "x", 1);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 24);
    C.cut[l][a] = 0;
    host_tick(&C, ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 25);
    host_free(&C);
}
END_TEST

/* The exact step: the learner's ack of an entry no voter has yet moves its
 * progress and nothing else. */
START_TEST(learner_ack_never_commits)
{
    uint64_t l = three_and_spares(4, 2);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 1, 4);
    host_rounds(&C, 3);
    ck_assert_int_eq(host_member_role(ld, 4), CRAFT_LEARNER);
    uint64_t commit = craft_engine_commit_index(ld->e);
    ck_assert_uint_eq(commit, craft_engine_last_index(ld->e));
    /* ADD_LEARNER answers once: no promotion follows. */
    host_rounds(&C, 30);
    ck_assert_int_eq(host_member_role(ld, 4), CRAFT_LEARNER);
    struct host_result r[3];
    ck_assert_uint_eq(host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 1, r, 3), 1);

    C.hold[a][l] = C.hold[b][l] = C.hold[4][l] = 1;
    host_propose(&C, ld, 2, "v", 1);
    host_deliver_all(&C);
    struct host_node *x =
        host_deliver_one_raw(&C, CRAFT_MSG_APPEND_RESP, 4, l);
    ck_assert_ptr_eq(x, ld);
    ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_APPLY), 0);
    host_execute(&C, ld);
    uint64_t match = 0;
    ck_assert_int_eq(craft_engine_progress(ld->e, 4, &match, NULL, NULL), 0);
    ck_assert_uint_eq(match, commit + 1);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), commit);
    /* One voter's ack commits it (2 of 3 voters). */
    host_deliver_one_raw(&C, CRAFT_MSG_APPEND_RESP, a, l);
    ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_APPLY), 1);
    host_execute(&C, ld);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), commit + 1);
    C.hold[a][l] = C.hold[b][l] = C.hold[4][l] = 0;
    host_free(&C);
}
END_TEST

/* A learner never campaigns, however long it hears nothing. */
START_TEST(learner_never_campaigns)
{
    uint64_t l = three_and_spares(4, 3);
    host_event(&C, host_node(&C, l), CRAFT_EVENT_ADD_LEARNER, 1, 4);
    host_rounds(&C, 3);
    struct host_node *ln = host_node(&C, 4);
    ck_assert_int_eq(host_member_role(ln, 4), CRAFT_LEARNER);
    host_isolate(&C, 4, 1);
    host_clear_journal(ln);
    for (int t = 0; t < 50 * 10; t++) {
        host_tick(&C, ln);
    }
    ck_assert_uint_eq(host_journal_count(ln, CRAFT_ACTION_SEND, 0), 0);
    ck_assert_int_eq(craft_engine_role(ln->e), CRAFT_ROLE_FOLLOWER);
    host_free(&C);
}
END_TEST

/*
 * PROMOTE of a learner that cannot catch up fails with CRAFT_ETIMEDOUT
 * within catchup_rounds election timeouts, and no promotion is appended.
 */
START_TEST(promote_unreachable_learner_times_out)
{
    eu_setup(&C, 4, 4);
    C.opts.catchup_rounds = 3;
    host_start(&C, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 1, 4);
    host_rounds(&C, 3);
    host_isolate(&C, 4, 1);
    host_propose(&C, ld, 2, "v", 1);
    host_deliver_all(&C);
    uint64_t last = craft_engine_last_index(ld->e);
    change_raw(ld, CRAFT_EVENT_PROMOTE, 3, 4);
    /* Nothing yet: the promotion waits for the learner. */
    ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_PROPOSE_RESULT), 0);
    ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_APPEND), 0);
    host_execute(&C, ld);
    /* Another change is refused meanwhile: one at a time. */
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 4, 5);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 4).status,
                     CRAFT_EBUSY);
    uint32_t budget = C.opts.catchup_rounds * C.opts.election_ticks;
    uint32_t t = 0;
    struct host_result r[3];
    while (host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 3, r, 3) == 0) {
        ck_assert_uint_lt(t, budget);
        host_tick_all(&C);
        host_deliver_all(&C);
        t++;
    }
    ck_assert_uint_eq(t, budget);
    ck_assert_uint_eq(host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 3, r, 3), 1);
    ck_assert_int_eq(r[0].status, CRAFT_ETIMEDOUT);
    ck_assert_uint_eq(craft_engine_last_index(ld->e), last);
    ck_assert_int_eq(host_member_role(ld, 4), CRAFT_LEARNER);
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    host_free(&C);
}
END_TEST

/* A learner that keeps falling behind (it takes one message every other
 * tick while the leader appends one entry per tick, so no round of
 * replication ever completes) is not promoted either. */
START_TEST(promote_slow_learner_times_out)
{
    eu_setup(&C, 4, 5);
    C.opts.catchup_rounds = 3;
    host_start(&C, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 1, 4);
    host_rounds(&C, 3);
    C.hold[l][4] = 1;
    for (int i = 0; i < 20; i++) { /* 20 entries behind */
        host_propose(&C, ld, 0, "lag", 3);
        host_deliver_all(&C);
    }
    host_event(&C, ld, CRAFT_EVENT_PROMOTE, 3, 4);
    struct host_result r[3];
    uint32_t budget = C.opts.catchup_rounds * C.opts.election_ticks;
    uint32_t t = 0;
    while (host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 3, r, 3) == 0) {
        ck_assert_uint_lt(t, budget);
        host_propose(&C, ld, 0, "load", 4);
        host_tick_all(&C);
        host_deliver_all(&C);
        if (t % 2 == 1 && host_queued(&C, 0, l, 4) > 0) {
            struct host_msg m;
            host_take_msg(&C, 0, l, 4, &m);
            host_deliver_raw(&C, &m);
            host_execute(&C, host_node(&C, 4));
            host_deliver_all(&C);
        }
        t++;
    }
    ck_assert_uint_eq(host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 3, r, 3), 1);
    ck_assert_int_eq(r[0].status, CRAFT_ETIMEDOUT);
    ck_assert_int_eq(host_member_role(ld, 4), CRAFT_LEARNER);
    uint64_t match = 0;
    ck_assert_int_eq(craft_engine_progress(ld->e, 4, &match, NULL, NULL), 0);
    ck_assert_uint_gt(match, 0);
    C.hold[l][4] = 0;
    host_free(&C);
}
END_TEST

/*
 * A caught-up learner whose addition is slow to commit (here: the leader's
 * own disk is slow, and one voter is down) is promoted once the addition
 * commits: waiting for that commit is not a failed catch-up round.
 */
START_TEST(promotion_waits_for_addition_to_commit)
{
    uint64_t l = three_and_spares(4, 6);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    host_isolate(&C, a, 1);
    ld->hold_persist = 1;
    host_event(&C, ld, CRAFT_EVENT_ADD_PEER, 8, 4);
    uint64_t idx = craft_engine_last_index(ld->e);
    for (int t = 0; t < 15; t++) { /* 1.5 election timeouts */
        host_tick(&C, ld);
        host_tick(&C, host_node(&C, b));
        host_tick(&C, host_node(&C, 4));
        host_deliver_all(&C);
    }
    uint64_t match = 0;
    ck_assert_int_eq(craft_engine_progress(ld->e, 4, &match, NULL, NULL), 0);
    ck_assert_uint_eq(match, idx);
    ck_assert_uint_lt(craft_engine_commit_index(ld->e), idx);
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    struct host_result r[3];
    ck_assert_msg(host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 8, r, 3) == 1,
                  "second answer %d before the addition committed",
                  r[1].status);
    /* The disk catches up: the addition commits, the learner is
     * promoted. */
    ld->hold_persist = 0;
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PERSISTED;
    ev.index = ld->last;
    ev.term = host_entry_at(ld, ld->last)->term;
    host_step(&C, ld, &ev);
    host_deliver_all(&C);
    ck_assert_uint_eq(host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 8, r, 3), 2);
    ck_assert_int_eq(r[1].status, CRAFT_OK);
    ck_assert_uint_eq(r[1].index, idx + 1);
    ck_assert_int_eq(host_member_role(ld, 4), CRAFT_VOTER);
    host_free(&C);
}
END_TEST

/*
 * Removing the leader. It keeps leading (and
 * replicating) without counting itself until the removal commits, then
 * steps down in that step; the others elect a leader among themselves; the
 * removed server never campaigns and disrupts nothing.
 */
START_TEST(removing_the_leader)
{
    eu_init(&C, 3, 7);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    uint64_t term = craft_engine_term(ld->e);

    C.hold[a][l] = C.hold[b][l] = 1;
    change_raw(ld, CRAFT_EVENT_REMOVE, 1, l);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_SEND, CRAFT_ACTION_SEND,
                    CRAFT_ACTION_PROPOSE_RESULT, CRAFT_ACTION_APPEND);
    ck_assert_uint_eq(eu_count_sends(ld->acts, CRAFT_MSG_APPEND, a), 1);
    ck_assert_uint_eq(eu_count_sends(ld->acts, CRAFT_MSG_APPEND, b), 1);
    uint64_t ridx = craft_action_index(ld->acts, 2);
    ck_assert_int_eq(craft_action_status(ld->acts, 2), CRAFT_OK);
    host_execute(&C, ld);
    /* In effect: l is no member, but still leads. */
    ck_assert_int_eq(host_member_role(ld, l), 0);
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    /* It still replicates what it accepts. */
    host_propose(&C, ld, 2, "during", 6);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 2).status,
                     CRAFT_OK);
    uint64_t pidx = craft_engine_last_index(ld->e);
    host_deliver_all(&C); /* to a and b; acks held */
    ck_assert_uint_eq(host_queued(&C, CRAFT_MSG_APPEND_RESP, 0, l), 4);

    /* a's acks: l + a would be a quorum of the old configuration, but l
     * does not count itself any more: {a, b} need both. */
    C.hold[a][l] = 0;
    while (host_queued(&C, CRAFT_MSG_APPEND_RESP, a, l) > 0) {
        host_deliver_one_raw(&C, CRAFT_MSG_APPEND_RESP, a, l);
        ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_APPLY), 0);
        host_execute(&C, ld);
    }
    ck_assert_uint_lt(craft_engine_commit_index(ld->e), ridx);
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);

    /* b's ack of the removal commits it: l steps down in that step. */
    C.hold[b][l] = 0;
    host_deliver_one_raw(&C, CRAFT_MSG_APPEND_RESP, b, l);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_ROLE_CHANGE, CRAFT_ACTION_APPLY);
    ck_assert_int_eq(craft_action_role(ld->acts, 0), CRAFT_ROLE_FOLLOWER);
    ck_assert_uint_eq(craft_action_term(ld->acts, 0), term);
    /* b's first ack covers the removal only: l steps down there, and
     * the entry after it is left to the next leader. */
    ck_assert_uint_eq(craft_action_index(ld->acts, 1) +
                          craft_action_count(ld->acts, 1) - 1,
                      ridx);
    host_execute(&C, ld);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), ridx);
    host_deliver_all(&C);

    /* The rest elect a leader; l, ticked all along, never campaigns. */
    host_clear_journal(ld);
    uint64_t nl = 0;
    for (int t = 0; t < 20 * 10; t++) {
        host_tick_all(&C);
        host_deliver_all(&C);
    }
    nl = host_leader(&C);
    ck_assert(nl == a || nl == b);
    ck_assert_uint_eq(host_journal_count(ld, CRAFT_ACTION_SEND, CRAFT_MSG_VOTE),
                      0);
    ck_assert_uint_eq(
        host_journal_count(ld, CRAFT_ACTION_SEND, CRAFT_MSG_PREVOTE), 0);
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_FOLLOWER);
    struct host_node *nd = host_node(&C, nl);
    uint64_t nterm = craft_engine_term(nd->e);
    ck_assert_uint_eq(craft_engine_member_count(nd->e), 2);
    host_propose(&C, nd, 3, "after", 5);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(nd->e),
                      craft_engine_last_index(nd->e));
    /* Everything l replicated survived, in l's term. */
    ck_assert_uint_ge(craft_engine_commit_index(nd->e), pidx);
    ck_assert_uint_ge(nd->applied, pidx);
    ck_assert_uint_eq(nd->applied_terms[pidx], term);
    host_rounds(&C, 50);
    ck_assert_uint_eq(host_leader(&C), nl);
    ck_assert_uint_eq(craft_engine_term(nd->e), nterm);
    host_free(&C);
}
END_TEST

/*
 * A follower removed while cut off never learns it and keeps campaigning
 * (pre-vote on or off); the others, hearing from their leader, ignore it
 * (§4.2.3): the leader and term never change.
 */
static void removed_follower_cannot_disrupt(int pre_vote)
{
    eu_setup(&C, 3, 8);
    C.opts.pre_vote = pre_vote;
    host_start(&C, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, f;
    others(l, &a, &f);
    host_isolate(&C, f, 1);
    host_event(&C, ld, CRAFT_EVENT_REMOVE, 1, f);
    host_deliver_all(&C);
    host_tick(&C, ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e),
                      craft_engine_last_index(ld->e));
    ck_assert_int_eq(host_member_role(ld, f), 0);
    uint64_t term = craft_engine_term(ld->e);
    for (int t = 0; t < 30; t++) { /* f times out alone */
        host_tick_all(&C);
        host_deliver_all(&C);
    }
    host_isolate(&C, f, 0);
    struct host_node *fn = host_node(&C, f);
    host_clear_journal(fn);
    for (int t = 0; t < 20 * 10; t++) {
        host_tick_all(&C);
        host_deliver_all(&C);
        ck_assert_uint_eq(host_leader(&C), l);
        ck_assert_uint_eq(craft_engine_term(ld->e), term);
        ck_assert_uint_eq(craft_engine_term(host_node(&C, a)->e), term);
    }
    /* It did try. */
    ck_assert_uint_gt(host_journal_count(fn, CRAFT_ACTION_SEND,
                                       pre_vote ? CRAFT_MSG_PREVOTE
                                                : CRAFT_MSG_VOTE),
                      0);
    host_propose(&C, ld, 2, "ok", 2);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e),
                      craft_engine_last_index(ld->e));
    host_free(&C);
}

START_TEST(removed_follower_cannot_disrupt_prevote)
{
    removed_follower_cannot_disrupt(1);
}
END_TEST

START_TEST(removed_follower_cannot_disrupt_no_prevote)
{
    removed_follower_cannot_disrupt(0);
}
END_TEST

/* Two concurrent membership changes, the second
 * refused with CRAFT_EBUSY; once the first commits it may be retried. */
START_TEST(two_concurrent_changes_second_refused)
{
    uint64_t l = three_and_spares(5, 9);
    struct host_node *ld = host_node(&C, l);
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 1, 4);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 1).status,
                     CRAFT_OK);
    uint64_t last = craft_engine_last_index(ld->e);
    change_raw(ld, CRAFT_EVENT_ADD_LEARNER, 2, 5);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_uint_eq(craft_action_id(ld->acts, 0), 2);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EBUSY);
    ck_assert_uint_eq(craft_action_leader(ld->acts, 0), l);
    host_execute(&C, ld);
    /* Any kind of change. */
    uint64_t a, b;
    others(l, &a, &b);
    host_event(&C, ld, CRAFT_EVENT_REMOVE, 3, b);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 3).status,
                     CRAFT_EBUSY);
    host_event(&C, ld, CRAFT_EVENT_PROMOTE, 4, 4);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 4).status,
                     CRAFT_EBUSY);
    ck_assert_uint_eq(craft_engine_last_index(ld->e), last);
    ck_assert_int_eq(host_member_role(ld, 5), 0);
    /* Committed: the next change goes through. */
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), last);
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 5, 5);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 5).status,
                     CRAFT_OK);
    ck_assert_int_eq(host_member_role(ld, 5), CRAFT_LEARNER);
    host_free(&C);
}
END_TEST

/* While an ADD_PEER's learner is being caught up, other changes wait. */
START_TEST(change_refused_while_promotion_pending)
{
    uint64_t l = three_and_spares(5, 10);
    struct host_node *ld = host_node(&C, l);
    host_isolate(&C, 4, 1); /* 4 cannot catch up */
    host_event(&C, ld, CRAFT_EVENT_ADD_PEER, 1, 4);
    host_deliver_all(&C);
    host_tick(&C, ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e),
                      craft_engine_last_index(ld->e));
    change_raw(ld, CRAFT_EVENT_ADD_PEER, 2, 5);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EBUSY);
    host_execute(&C, ld);
    host_free(&C);
}
END_TEST

/* Thesis §4.1 (2015 erratum): no change before the leader committed an
 * entry of its own term. */
START_TEST(change_before_commit_in_term_not_ready)
{
    eu_setup(&C, 4, 11);
    host_start(&C, 3);
    C.drop_type[CRAFT_MSG_APPEND_RESP] = 1;
    uint64_t l = host_elect(&C, 100);
    ck_assert_uint_ne(l, 0);
    struct host_node *ld = host_node(&C, l);
    host_deliver_all(&C);
    ck_assert_uint_lt(craft_engine_commit_index(ld->e),
                      craft_engine_last_index(ld->e));
    uint32_t types[] = {CRAFT_EVENT_ADD_PEER, CRAFT_EVENT_ADD_LEARNER,
                        CRAFT_EVENT_REMOVE};
    for (int k = 0; k < 3; k++) {
        uint64_t peer = types[k] == CRAFT_EVENT_REMOVE ? (l == 1 ? 2 : 1) : 4;
        change_raw(ld, types[k], (uint64_t)k + 1, peer);
        EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_PROPOSE_RESULT);
        ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_ENOTREADY);
        ck_assert_uint_eq(craft_action_leader(ld->acts, 0), l);
        host_execute(&C, ld);
    }
    C.drop_type[CRAFT_MSG_APPEND_RESP] = 0;
    host_tick(&C, ld);
    host_deliver_all(&C);
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 9, 4);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 9).status,
                     CRAFT_OK);
    host_free(&C);
}
END_TEST

/* The same after a leader change, when the configuration was committed
 * under the previous leader. */
START_TEST(change_by_new_leader_before_its_noop_commits)
{
    eu_init(&C, 3, 12);
    uint64_t l = host_elect_ready(&C, 100);
    host_isolate(&C, l, 1);
    C.drop_type[CRAFT_MSG_APPEND_RESP] = 1;
    uint64_t nl = 0;
    for (int t = 0; t < 100 && nl == 0; t++) {
        for (uint64_t x = 1; x <= 3; x++) {
            if (x != l) {
                host_tick(&C, host_node(&C, x));
            }
        }
        host_deliver_all(&C);
        for (uint64_t x = 1; x <= 3; x++) {
            if (x != l &&
                craft_engine_role(host_node(&C, x)->e) == CRAFT_ROLE_LEADER) {
                nl = x;
            }
        }
    }
    ck_assert_uint_ne(nl, 0);
    struct host_node *nd = host_node(&C, nl);
    ck_assert_uint_ge(craft_engine_commit_index(nd->e), 1);
    change_raw(nd, CRAFT_EVENT_REMOVE, 1, l);
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_int_eq(craft_action_status(nd->acts, 0), CRAFT_ENOTREADY);
    host_execute(&C, nd);
    host_free(&C);
}
END_TEST

START_TEST(change_errors)
{
    uint64_t l = three_and_spares(4, 13);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    /* Existing voter. */
    change_raw(ld, CRAFT_EVENT_ADD_PEER, 1, a);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EEXIST);
    host_execute(&C, ld);
    change_raw(ld, CRAFT_EVENT_ADD_LEARNER, 2, l);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EEXIST);
    host_execute(&C, ld);
    /* Promote a voter. */
    change_raw(ld, CRAFT_EVENT_PROMOTE, 3, b);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EEXIST);
    host_execute(&C, ld);
    /* Unknown peers. */
    change_raw(ld, CRAFT_EVENT_REMOVE, 4, 7);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EUNKNOWNPEER);
    host_execute(&C, ld);
    change_raw(ld, CRAFT_EVENT_PROMOTE, 5, 7);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EUNKNOWNPEER);
    host_execute(&C, ld);
    /* Peer 0 is no peer at all: the call fails. */
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_ADD_PEER;
    ev.id = 6;
    ck_assert_int_eq(craft_engine_step(ld->e, &ev, ld->acts), CRAFT_EINVAL);
    /* A learner already present. */
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 7, 4);
    host_deliver_all(&C);
    change_raw(ld, CRAFT_EVENT_ADD_PEER, 8, 4);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EEXIST);
    host_execute(&C, ld);
    /* On a follower: not leader, with the hint. */
    struct host_node *fn = host_node(&C, a);
    change_raw(fn, CRAFT_EVENT_ADD_LEARNER, 9, 5);
    EU_ASSERT_TYPES(fn->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_int_eq(craft_action_status(fn->acts, 0), CRAFT_ENOTLEADER);
    ck_assert_uint_eq(craft_action_leader(fn->acts, 0), l);
    host_execute(&C, fn);
    host_free(&C);
}
END_TEST

/* The last voter cannot be removed. */
START_TEST(cannot_remove_last_voter)
{
    eu_init(&C, 1, 14);
    ck_assert_uint_eq(host_elect(&C, 100), 1);
    struct host_node *nd = host_node(&C, 1);
    change_raw(nd, CRAFT_EVENT_REMOVE, 1, 1);
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_int_eq(craft_action_status(nd->acts, 0), CRAFT_EINVAL);
    host_execute(&C, nd);
    host_free(&C);
}
END_TEST

/* Removing a learner and a follower works, and the removed follower stops
 * receiving entries. */
START_TEST(remove_follower)
{
    eu_init(&C, 3, 15);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    host_event(&C, ld, CRAFT_EVENT_REMOVE, 1, b);
    host_deliver_all(&C);
    host_tick(&C, ld);
    host_deliver_all(&C);
    ck_assert_int_eq(host_member_role(ld, b), 0);
    ck_assert_int_eq(craft_engine_progress(ld->e, b, NULL, NULL, NULL),
                     CRAFT_EUNKNOWNPEER);
    uint64_t blast = craft_engine_last_index(host_node(&C, b)->e);
    host_propose(&C, ld, 2, "x", 1);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e),
                      craft_engine_last_index(ld->e));
    ck_assert_uint_eq(craft_engine_last_index(host_node(&C, b)->e), blast);
    host_free(&C);
}
END_TEST

/* ---- bootstrap ---------------------------------------------------------- */

/* A new cluster: BOOTSTRAP makes entry 1 (term 1) the configuration. */
START_TEST(bootstrap_new_cluster)
{
    eu_setup(&C, 3, 16);
    for (int i = 0; i < 3; i++) {
        host_node_start(&C, &C.nodes[i]);
    }
    struct host_node *nd = host_node(&C, 2);
    uint64_t ids[] = {1, 2, 3};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_BOOTSTRAP;
    /* Refused: without ourselves, duplicates, id 0, empty. */
    uint64_t bad1[] = {1, 3};
    uint64_t bad2[] = {1, 2, 2};
    uint64_t bad3[] = {0, 2};
    ev.ids = bad1;
    ev.nids = 2;
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_EINVAL);
    ev.ids = bad2;
    ev.nids = 3;
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_EINVAL);
    ev.ids = bad3;
    ev.nids = 2;
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_EINVAL);
    ev.ids = ids;
    ev.nids = 0;
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_engine_term(nd->e), 0);

    ev.nids = 3;
    host_step_raw(&C, nd, &ev);
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_PERSIST_HARD_STATE,
                    CRAFT_ACTION_APPEND);
    ck_assert_uint_eq(craft_action_term(nd->acts, 0), 1);
    ck_assert_uint_eq(craft_action_vote(nd->acts, 0), 0);
    ck_assert_uint_eq(craft_action_index(nd->acts, 1), 1);
    ck_assert_uint_eq(craft_action_count(nd->acts, 1), 1);
    uint64_t term;
    uint32_t type;
    const void *d;
    size_t len;
    ck_assert_int_eq(craft_action_entry(nd->acts, 1, 0, &term, &type, &d,
                                        &len),
                     0);
    ck_assert_uint_eq(term, 1);
    ck_assert_uint_eq(type, CRAFT_ENTRY_CONFIG);
    struct craft_conf cf;
    ck_assert_int_eq(craft_conf_decode(d, len, &cf), CRAFT_OK);
    ck_assert_uint_eq(cf.n, 3);
    for (uint32_t k = 0; k < 3; k++) {
        ck_assert_uint_eq(cf.m[k].id, k + 1);
        ck_assert_uint_eq(cf.m[k].role, CRAFT_MEMBER_VOTER);
    }
    host_execute(&C, nd);
    ck_assert_uint_eq(craft_engine_member_count(nd->e), 3);
    /* Only once. */
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_ESTATE);
    /* The others too; then they elect a leader and commit. */
    for (uint64_t x = 1; x <= 3; x += 2) {
        host_step(&C, host_node(&C, x), &ev);
    }
    uint64_t l = host_elect_ready(&C, 100);
    host_propose(&C, host_node(&C, l), 1, "first", 5);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(host_node(&C, l)->e), 3);
    host_free(&C);
}
END_TEST

/*
 * A node joining an existing cluster starts empty: it has no membership,
 * never elects itself however long it waits, and joins when the leader
 * adds it.
 */
START_TEST(joining_node_waits_for_leader)
{
    eu_setup(&C, 4, 17);
    host_start(&C, 3);
    struct host_node *jn = host_node(&C, 4);
    ck_assert_uint_eq(craft_engine_member_count(jn->e), 0);
    uint64_t none[] = {4, 0};
    host_clear_journal(jn);
    run_only(none, 100 * 10); /* 100 election timeouts alone */
    ck_assert_uint_eq(jn->njournal, 0);
    ck_assert_int_eq(craft_engine_role(jn->e), CRAFT_ROLE_FOLLOWER);
    ck_assert_uint_eq(craft_engine_term(jn->e), 0);
    /* Reads and proposals are refused, no leader known. */
    host_event(&C, jn, CRAFT_EVENT_READ, 1, 0);
    ck_assert_int_eq(host_result1(jn, CRAFT_ACTION_READ_RESULT, 1).status,
                     CRAFT_ENOTLEADER);
    host_propose(&C, jn, 2, "x", 1);
    struct host_result r = host_result1(jn, CRAFT_ACTION_PROPOSE_RESULT, 2);
    ck_assert_int_eq(r.status, CRAFT_ENOTLEADER);
    ck_assert_uint_eq(r.leader, CRAFT_NONE);

    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    for (int i = 0; i < 5; i++) {
        host_propose(&C, ld, 0, "data", 4);
    }
    host_deliver_all(&C);
    host_event(&C, ld, CRAFT_EVENT_ADD_PEER, 3, 4);
    host_rounds(&C, 5);
    ck_assert_uint_eq(craft_engine_leader(jn->e), l);
    ck_assert_int_eq(host_member_role(jn, 4), CRAFT_VOTER);
    ck_assert_uint_eq(craft_engine_member_count(jn->e), 4);
    ck_assert_uint_eq(jn->applied, ld->applied);
    ck_assert_mem_eq(jn->sm.p, ld->sm.p, ld->sm.len);
    host_free(&C);
}
END_TEST

/* A joining node far behind a compacted log catches up by snapshot (its
 * membership comes with it) and is then promoted. */
START_TEST(joining_node_catches_up_by_snapshot)
{
    eu_setup(&C, 4, 19);
    C.opts.snapshot_entries = 0;
    C.opts.snapshot_bytes = 0;
    C.opts.snapshot_trailing = 0;
    C.opts.snapshot_chunk_bytes = 16;
    host_start(&C, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    struct host_node *jn = host_node(&C, 4);
    for (int i = 0; i < 30; i++) {
        host_propose(&C, ld, 0, "compacted", 9);
    }
    host_deliver_all(&C);
    host_take_snapshot(&C, ld);
    uint64_t s = craft_engine_snapshot_index(ld->e);
    ck_assert_uint_eq(s, 32);
    host_event(&C, ld, CRAFT_EVENT_ADD_PEER, 1, 4);
    host_rounds(&C, 5);
    ck_assert_uint_eq(jn->installs, 1);
    ck_assert_uint_eq(craft_engine_snapshot_index(jn->e), s);
    ck_assert_uint_gt(host_journal_count(jn, CRAFT_ACTION_SNAPSHOT_WRITE, 0),
                      1);
    struct host_result r[3];
    ck_assert_uint_eq(host_results(ld, CRAFT_ACTION_PROPOSE_RESULT, 1, r, 3), 2);
    ck_assert_int_eq(r[1].status, CRAFT_OK);
    for (uint64_t x = 1; x <= 4; x++) {
        ck_assert_int_eq(host_member_role(host_node(&C, x), 4), CRAFT_VOTER);
    }
    ck_assert_uint_eq(jn->applied, ld->applied);
    ck_assert_mem_eq(jn->sm.p, ld->sm.p, ld->sm.len);
    host_free(&C);
}
END_TEST

/* Loading persisted state: only before the first step, in order. */
START_TEST(restart_load_errors)
{
    craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
    craft_engine *e;
    craft_actions *a;
    o.id = 1;
    ck_assert_int_eq(craft_engine_create(&o, &e), 0);
    ck_assert_int_eq(craft_actions_create(NULL, &a), 0);
    struct craft_conf cf = {1, {{1, CRAFT_MEMBER_VOTER, 0, {0}}}};
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = craft_conf_encode(&cf, conf);
    ck_assert_int_eq(craft_engine_load_hard_state(e, 3, 1), 0);
    /* The snapshot's term may not exceed the hard state's. */
    ck_assert_int_eq(craft_engine_load_snapshot(e, 10, 4, conf, clen),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_engine_load_snapshot(e, 10, 2, conf, 3),
                     CRAFT_EMALFORMED);
    ck_assert_int_eq(craft_engine_load_snapshot(e, 10, 2, conf, clen), 0);
    /* Entries follow the snapshot. */
    ck_assert_int_eq(craft_engine_load_entry(e, 12, 2, CRAFT_ENTRY_NORMAL,
                                             "x", 1),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_engine_load_entry(e, 11, 1, CRAFT_ENTRY_NORMAL,
                                             "x", 1),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_engine_load_entry(e, 11, 3, CRAFT_ENTRY_NORMAL,
                                             "x", 1),
                     0);
    ck_assert_uint_eq(craft_engine_snapshot_index(e), 10);
    ck_assert_uint_eq(craft_engine_last_index(e), 11);
    ck_assert_uint_eq(craft_engine_commit_index(e), 10);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TICK;
    ck_assert_int_eq(craft_engine_step(e, &ev, a), 0);
    ck_assert_int_eq(craft_engine_load_hard_state(e, 3, 1), CRAFT_ESTATE);
    ck_assert_int_eq(craft_engine_load_entry(e, 12, 3, CRAFT_ENTRY_NORMAL,
                                             "x", 1),
                     CRAFT_ESTATE);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

/*
 * Restart from persisted state: hard state, snapshot metadata (index, term
 * and the membership bytes stored with it) and the log after it. A
 * follower with a snapshot restarts and catches up; then the whole
 * cluster restarts and goes on.
 */
START_TEST(restart_from_persisted_state)
{
    eu_setup(&C, 3, 18);
    C.opts.snapshot_entries = 10;
    C.opts.snapshot_bytes = 0;
    C.opts.snapshot_trailing = 2;
    host_start(&C, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    struct host_node *fn = host_node(&C, a);
    for (int i = 0; i < 15; i++) {
        host_propose(&C, ld, 0, "before", 6);
        host_deliver_all(&C);
    }
    host_tick(&C, ld);
    host_deliver_all(&C);
    /* Every node snapshotted by policy at 10. */
    ck_assert_uint_eq(fn->snap.index, 10);
    ck_assert_uint_eq(craft_engine_snapshot_index(fn->e), 10);
    uint64_t term = craft_engine_term(fn->e), vote = craft_engine_vote(fn->e);
    uint64_t last = craft_engine_last_index(fn->e);
    ck_assert_uint_eq(last, 17);

    host_crash(&C, fn);
    for (int i = 0; i < 5; i++) {
        host_propose(&C, ld, 0, "while down", 10);
        host_deliver_all(&C);
    }
    host_node_start(&C, fn);
    ck_assert_uint_eq(craft_engine_term(fn->e), term);
    ck_assert_uint_eq(craft_engine_vote(fn->e), vote);
    ck_assert_uint_eq(craft_engine_snapshot_index(fn->e), 10);
    ck_assert_uint_eq(craft_engine_snapshot_term(fn->e), fn->snap.term);
    ck_assert_uint_eq(craft_engine_last_index(fn->e), last);
    ck_assert_uint_eq(craft_engine_commit_index(fn->e), 10);
    ck_assert_uint_eq(craft_engine_applied_index(fn->e), 10);
    ck_assert_uint_eq(craft_engine_member_count(fn->e), 3);
    const void *d;
    size_t len;
    ck_assert_int_eq(craft_engine_conf_at(fn->e, 0, &d, &len), 0);
    ck_assert_uint_eq(len, fn->snap.conf.len);
    ck_assert_mem_eq(d, fn->snap.conf.p, len);
    host_rounds(&C, 3);
    ck_assert_uint_eq(fn->applied, ld->applied);
    ck_assert_mem_eq(fn->sm.p, ld->sm.p, ld->sm.len);

    /* The whole cluster goes down and comes back. */
    uint64_t commit = craft_engine_commit_index(ld->e);
    for (uint64_t x = 1; x <= 3; x++) {
        host_crash(&C, host_node(&C, x));
    }
    host_drop_all(&C);
    for (uint64_t x = 1; x <= 3; x++) {
        host_node_start(&C, host_node(&C, x));
    }
    uint64_t nl = host_elect_ready(&C, 200);
    struct host_node *nd = host_node(&C, nl);
    ck_assert_uint_gt(craft_engine_term(nd->e), term);
    ck_assert_uint_ge(craft_engine_commit_index(nd->e), commit);
    host_propose(&C, nd, 1, "after", 5);
    host_deliver_all(&C);
    host_tick(&C, nd);
    host_deliver_all(&C);
    for (uint64_t x = 1; x <= 3; x++) {
        struct host_node *y = host_node(&C, x);
        ck_assert_uint_eq(y->applied, craft_engine_commit_index(nd->e));
        ck_assert_uint_eq(y->sm.len, nd->sm.len);
        ck_assert_mem_eq(y->sm.p, nd->sm.p, nd->sm.len);
    }
    host_free(&C);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_membership");
    TCase *tc = tcase_create("membership");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, learner_catches_up_and_is_promoted);
    tcase_add_test(tc, learner_ack_never_commits);
    tcase_add_test(tc, learner_never_campaigns);
    tcase_add_test(tc, promote_unreachable_learner_times_out);
    tcase_add_test(tc, promote_slow_learner_times_out);
    tcase_add_test(tc, promotion_waits_for_addition_to_commit);
    tcase_add_test(tc, removing_the_leader);
    tcase_add_test(tc, removed_follower_cannot_disrupt_prevote);
    tcase_add_test(tc, removed_follower_cannot_disrupt_no_prevote);
    tcase_add_test(tc, two_concurrent_changes_second_refused);
    tcase_add_test(tc, change_refused_while_promotion_pending);
    tcase_add_test(tc, change_before_commit_in_term_not_ready);
    tcase_add_test(tc, change_by_new_leader_before_its_noop_commits);
    tcase_add_test(tc, change_errors);
    tcase_add_test(tc, cannot_remove_last_voter);
    tcase_add_test(tc, remove_follower);
    suite_add_tcase(s, tc);
    tc = tcase_create("bootstrap");
    tcase_add_test(tc, bootstrap_new_cluster);
    tcase_add_test(tc, joining_node_waits_for_leader);
    tcase_add_test(tc, joining_node_catches_up_by_snapshot);
    tcase_add_test(tc, restart_load_errors);
    tcase_add_test(tc, restart_from_persisted_state);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
