/*
 * Leadership transfer (thesis §3.10): proposals stop, the
 * target is caught up, then gets TimeoutNow and campaigns at once,
 * bypassing pre-vote and leader stickiness; a transfer that does not
 * complete within an election timeout aborts and proposals resume.
 */
#include "engine_util.h"
#include "harness.h"

static struct host C;

static void others(uint64_t l, uint64_t *a, uint64_t *b)
{
    *a = l == 1 ? 2 : 1;
    *b = 6 - l - *a;
}

static void transfer_raw(struct host_node *nd, uint64_t id, uint64_t peer)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TRANSFER;
    ev.id = id;
    ev.peer = peer;
    host_step_raw(&C, nd, &ev);
}

static void propose_raw(struct host_node *nd, uint64_t id)
{
    craft_buf b = {"p", 1};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = &b;
    ev.nbufs = 1;
    ev.id = id;
    host_step_raw(&C, nd, &ev);
}

/*
 * The whole handover, step by step: the target lags, so the leader
 * refuses proposals and catches it up first; TimeoutNow goes out in the
 * step where the target's ack shows it holds the whole log; the target
 * campaigns at once with a real (not pre-) vote flagged as a transfer;
 * the third server grants it although it heard from the leader just now.
 */
START_TEST(catch_up_then_timeout_now_then_campaign)
{
    eu_init(&C, 3, 1); /* pre-vote and check-quorum on (defaults) */
    ck_assert_int_eq(C.opts.pre_vote, 1);
    ck_assert_int_eq(C.opts.check_quorum, 1);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t t, o;
    others(l, &t, &o);
    struct host_node *tg = host_node(&C, t);
    uint64_t term = craft_engine_term(ld->e);

    /* The target misses three entries. */
    C.hold[l][t] = 1;
    for (int i = 0; i < 3; i++) {
        host_propose(&C, ld, (uint64_t)i + 1, "x", 1);
    }
    host_deliver_all(&C);
    uint64_t last = craft_engine_last_index(ld->e);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), last);
    ck_assert_uint_lt(craft_engine_last_index(tg->e), last);
    host_drop(&C, 0, l, t);
    C.hold[l][t] = 0;

    host_clear_journal(ld);
    transfer_raw(ld, 50, t);
    /* Not caught up: no TimeoutNow, no result yet. */
    ck_assert_uint_eq(eu_count_sends(ld->acts, CRAFT_MSG_TIMEOUT_NOW, 0), 0);
    ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_TRANSFER_RESULT),
                      0);
    host_execute(&C, ld);

    /* Proposals are refused while the transfer runs, with the hint. */
    propose_raw(ld, 60);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_uint_eq(craft_action_id(ld->acts, 0), 60);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EBUSY);
    ck_assert_uint_eq(craft_action_leader(ld->acts, 0), l);
    host_execute(&C, ld);
    ck_assert_uint_eq(craft_engine_last_index(ld->e), last);

    /* Catch-up: deliver one message at a time and find the step in which
     * the leader sends TimeoutNow. */
    int sent = 0;
    for (int k = 0; k < 100 && !sent; k++) {
        struct host_msg m;
        if (!host_take_msg(&C, 0, 0, 0, &m)) {
            host_tick(&C, ld);
            continue;
        }
        struct host_node *to = host_deliver_raw(&C, &m);
        if (to == ld &&
            eu_count_sends(ld->acts, CRAFT_MSG_TIMEOUT_NOW, t) == 1) {
            /* It answers the target's ack of the last entry. */
            uint64_t match = 0;
            ck_assert_int_eq(
                craft_engine_progress(ld->e, t, &match, NULL, NULL), 0);
            ck_assert_uint_eq(match, last);
            sent = 1;
        }
        host_execute(&C, to);
    }
    ck_assert(sent);
    ck_assert_uint_eq(
        host_journal_count(ld, CRAFT_ACTION_SEND, CRAFT_MSG_TIMEOUT_NOW), 1);
    ck_assert_uint_eq(craft_engine_last_index(tg->e), last);

    /* The target campaigns at once: a real vote, no pre-vote, flagged. */
    host_deliver_one_raw(&C, CRAFT_MSG_TIMEOUT_NOW, l, t);
    EU_ASSERT_TYPES(tg->acts, CRAFT_ACTION_ROLE_CHANGE,
                    CRAFT_ACTION_PERSIST_HARD_STATE, CRAFT_ACTION_SEND,
                    CRAFT_ACTION_SEND);
    ck_assert_int_eq(craft_action_role(tg->acts, 0), CRAFT_ROLE_CANDIDATE);
    ck_assert_uint_eq(craft_action_term(tg->acts, 1), term + 1);
    ck_assert_uint_eq(craft_action_vote(tg->acts, 1), t);
    for (size_t i = 2; i < 4; i++) {
        struct craft_msg v;
        eu_action_msg(tg->acts, i, &v);
        ck_assert_uint_eq(v.type, CRAFT_MSG_VOTE);
        ck_assert_uint_eq(v.flags, CRAFT_MSG_F_TRANSFER);
        ck_assert_uint_eq(v.term, term + 1);
    }
    host_execute(&C, tg);

    /* The third server heard from the leader within the election timeout
     * (stickiness would drop a vote), but grants this one. */
    struct host_node *on = host_node(&C, o);
    host_deliver_one_raw(&C, CRAFT_MSG_VOTE, t, o);
    EU_ASSERT_TYPES(on->acts, CRAFT_ACTION_ROLE_CHANGE,
                    CRAFT_ACTION_PERSIST_HARD_STATE, CRAFT_ACTION_SEND);
    ck_assert_uint_eq(craft_action_vote(on->acts, 1), t);
    struct craft_msg r;
    eu_action_msg(on->acts, 2, &r);
    ck_assert_uint_eq(r.type, CRAFT_MSG_VOTE_RESP);
    ck_assert_uint_eq(r.flags, 0);
    host_execute(&C, on);

    /* The old leader steps down but reports nothing yet: the target has
     * not won. */
    host_deliver_one_raw(&C, CRAFT_MSG_VOTE, t, l);
    ck_assert_int_eq(eu_find(ld->acts, 0, CRAFT_ACTION_TRANSFER_RESULT), -1);
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_FOLLOWER);
    host_execute(&C, ld);
    host_deliver_all(&C);
    ck_assert_int_eq(craft_engine_role(tg->e), CRAFT_ROLE_LEADER);
    ck_assert_uint_eq(craft_engine_term(tg->e), term + 1);
    /* Once it hears from the target as leader, it reports success. */
    struct host_result res[2];
    ck_assert_uint_eq(
        host_results(ld, CRAFT_ACTION_TRANSFER_RESULT, 50, res, 2), 1);
    ck_assert_int_eq(res[0].status, CRAFT_OK);
    host_free(&C);
}
END_TEST

/* The contrast: the same vote without the transfer flag is dropped by a
 * server that heard from its leader within the election timeout. */
START_TEST(vote_without_flag_is_ignored_by_sticky_follower)
{
    eu_init(&C, 3, 2);
    uint64_t l = host_elect_ready(&C, 100);
    uint64_t t, o;
    others(l, &t, &o);
    struct host_node *on = host_node(&C, o);
    uint64_t term = craft_engine_term(on->e);
    struct craft_msg v;
    memset(&v, 0, sizeof(v));
    v.type = CRAFT_MSG_VOTE;
    v.from = t;
    v.to = o;
    v.term = term + 1;
    v.index = craft_engine_last_index(on->e);
    v.log_term = craft_engine_last_term(on->e);
    uint8_t buf[128];
    size_t n = craft_msg_encode(&v, buf);
    ck_assert_uint_gt(n, 0);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = buf;
    ev.len = n;
    host_step_raw(&C, on, &ev);
    ck_assert_uint_eq(craft_actions_count(on->acts), 0);
    ck_assert_uint_eq(craft_engine_term(on->e), term);
    host_execute(&C, on);
    v.flags = CRAFT_MSG_F_TRANSFER;
    n = craft_msg_encode(&v, buf);
    ev.len = n;
    host_step_raw(&C, on, &ev);
    ck_assert_uint_eq(eu_count_sends(on->acts, CRAFT_MSG_VOTE_RESP, t), 1);
    ck_assert_uint_eq(craft_engine_term(on->e), term + 1);
    ck_assert_uint_eq(craft_engine_vote(on->e), t);
    host_execute(&C, on);
    host_drop_all(&C);
    host_free(&C);
}
END_TEST

/* A caught-up target gets TimeoutNow in the TRANSFER step itself. */
START_TEST(caught_up_target_gets_timeout_now_at_once)
{
    eu_init(&C, 3, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t t, o;
    others(l, &t, &o);
    transfer_raw(ld, 1, t);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_SEND);
    struct craft_msg m;
    eu_action_msg(ld->acts, 0, &m);
    ck_assert_uint_eq(m.type, CRAFT_MSG_TIMEOUT_NOW);
    ck_assert_uint_eq(m.to, t);
    ck_assert_uint_eq(m.term, craft_engine_term(ld->e));
    host_execute(&C, ld);
    host_free(&C);
}
END_TEST

/* A transfer with pre-vote on completes. */
START_TEST(transfer_with_prevote_on)
{
    eu_setup(&C, 5, 4);
    C.opts.pre_vote = 1;
    host_start(&C, 5);
    uint64_t l = host_elect_ready(&C, 200);
    struct host_node *ld = host_node(&C, l);
    uint64_t t = l == 5 ? 4 : 5;
    struct host_node *tg = host_node(&C, t);
    for (int i = 0; i < 5; i++) {
        host_propose(&C, ld, (uint64_t)i + 1, "v", 1);
    }
    host_deliver_all(&C);
    uint64_t term = craft_engine_term(ld->e);
    host_clear_journal(tg);
    host_event(&C, ld, CRAFT_EVENT_TRANSFER, 77, t);
    for (int k = 0; k < 5 && craft_engine_role(tg->e) != CRAFT_ROLE_LEADER;
         k++) {
        host_deliver_all(&C);
        host_tick(&C, ld);
    }
    host_deliver_all(&C);
    struct host_result r = host_result1(ld, CRAFT_ACTION_TRANSFER_RESULT, 77);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.peer, t);
    ck_assert_int_eq(craft_engine_role(tg->e), CRAFT_ROLE_LEADER);
    ck_assert_uint_eq(craft_engine_term(tg->e), term + 1);
    ck_assert_uint_eq(host_leader(&C), t);
    /* No pre-vote round by the target. */
    ck_assert_uint_eq(
        host_journal_count(tg, CRAFT_ACTION_SEND, CRAFT_MSG_PREVOTE), 0);
    ck_assert_uint_eq(host_journal_count(tg, CRAFT_ACTION_SEND, CRAFT_MSG_VOTE),
                      4);
    /* Everyone follows t; the old leader redirects proposals. */
    for (uint64_t x = 1; x <= 5; x++) {
        ck_assert_uint_eq(craft_engine_leader(host_node(&C, x)->e), t);
    }
    host_propose(&C, ld, 100, "late", 4);
    struct host_result p = host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 100);
    ck_assert_int_eq(p.status, CRAFT_ENOTLEADER);
    ck_assert_uint_eq(p.leader, t);
    host_propose(&C, tg, 101, "new", 3);
    host_deliver_all(&C);
    ck_assert_int_eq(host_result1(tg, CRAFT_ACTION_PROPOSE_RESULT, 101).status,
                     CRAFT_OK);
    ck_assert_uint_eq(craft_engine_commit_index(tg->e),
                      craft_engine_last_index(tg->e));
    host_free(&C);
}
END_TEST

/* An unreachable target: the transfer aborts after an election timeout
 * with CRAFT_ETIMEDOUT, in that tick's step, and proposals resume. */
START_TEST(timeout_aborts_and_proposals_resume)
{
    eu_init(&C, 3, 5);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t t, o;
    others(l, &t, &o);
    host_isolate(&C, t, 1);
    host_event(&C, ld, CRAFT_EVENT_TRANSFER, 9, t);
    host_propose(&C, ld, 10, "x", 1);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 10).status,
                     CRAFT_EBUSY);
    uint32_t et = C.opts.election_ticks;
    for (uint32_t k = 1; k < et; k++) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_TICK;
        ld->ticks++;
        host_step_raw(&C, ld, &ev);
        ck_assert_uint_eq(
            eu_count_type(ld->acts, CRAFT_ACTION_TRANSFER_RESULT), 0);
        host_execute(&C, ld);
        host_deliver_all(&C);
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TICK;
    host_step_raw(&C, ld, &ev);
    long k = eu_find(ld->acts, 0, CRAFT_ACTION_TRANSFER_RESULT);
    ck_assert_int_ge(k, 0);
    ck_assert_uint_eq(craft_action_id(ld->acts, (size_t)k), 9);
    ck_assert_int_eq(craft_action_status(ld->acts, (size_t)k),
                     CRAFT_ETIMEDOUT);
    ck_assert_uint_eq(craft_action_peer(ld->acts, (size_t)k), t);
    host_execute(&C, ld);
    host_deliver_all(&C);
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    host_propose(&C, ld, 11, "y", 1);
    struct host_result r = host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 11);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.index, craft_engine_last_index(ld->e));
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), r.index);
    host_free(&C);
}
END_TEST

START_TEST(transfer_errors)
{
    eu_setup(&C, 4, 6);
    host_start(&C, 3); /* node 4 starts empty */
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t t, o;
    others(l, &t, &o);
    /* On a follower: not leader, with the hint. */
    transfer_raw(host_node(&C, t), 1, o);
    EU_ASSERT_TYPES(host_node(&C, t)->acts, CRAFT_ACTION_TRANSFER_RESULT);
    ck_assert_int_eq(craft_action_status(host_node(&C, t)->acts, 0),
                     CRAFT_ENOTLEADER);
    ck_assert_uint_eq(craft_action_leader(host_node(&C, t)->acts, 0), l);
    host_execute(&C, host_node(&C, t));
    /* To itself: done. */
    transfer_raw(ld, 2, l);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_TRANSFER_RESULT);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_OK);
    host_execute(&C, ld);
    /* To a stranger. */
    transfer_raw(ld, 3, 9);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_TRANSFER_RESULT);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EUNKNOWNPEER);
    ck_assert_uint_eq(craft_action_peer(ld->acts, 0), 9);
    host_execute(&C, ld);
    /* To a learner: it cannot lead. */
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 4, 4);
    host_deliver_all(&C);
    transfer_raw(ld, 5, 4);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_TRANSFER_RESULT);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EUNKNOWNPEER);
    host_execute(&C, ld);
    /* A second transfer while one runs. */
    host_isolate(&C, t, 1);
    host_propose(&C, ld, 6, "gap", 3); /* t lags: the first cannot finish */
    host_event(&C, ld, CRAFT_EVENT_TRANSFER, 7, t);
    transfer_raw(ld, 8, o);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_TRANSFER_RESULT);
    ck_assert_uint_eq(craft_action_id(ld->acts, 0), 8);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_EBUSY);
    host_execute(&C, ld);
    /* Nor a membership change. */
    host_event(&C, ld, CRAFT_EVENT_REMOVE, 9, 4);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 9).status,
                     CRAFT_EBUSY);
    host_free(&C);
}
END_TEST

/* A leader that loses leadership while transferring reports it. */
START_TEST(stepping_down_ends_transfer)
{
    eu_init(&C, 3, 7);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t t, o;
    others(l, &t, &o);
    host_isolate(&C, l, 1);
    host_propose(&C, ld, 1, "x", 1); /* t lags */
    host_event(&C, ld, CRAFT_EVENT_TRANSFER, 2, t);
    /* A higher-term append from o (as if o had won an election). */
    struct craft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CRAFT_MSG_HEARTBEAT;
    m.from = o;
    m.to = l;
    m.term = craft_engine_term(ld->e) + 1;
    uint8_t buf[128];
    size_t n = craft_msg_encode(&m, buf);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = buf;
    ev.len = n;
    host_step_raw(&C, ld, &ev);
    ck_assert_int_eq(eu_find(ld->acts, 0, CRAFT_ACTION_TRANSFER_RESULT), 0);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_ESTEPPEDDOWN);
    ck_assert_uint_eq(craft_action_id(ld->acts, 0), 2);
    host_execute(&C, ld);
    host_free(&C);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_transfer");
    TCase *tc = tcase_create("transfer");
    tcase_add_test(tc, catch_up_then_timeout_now_then_campaign);
    tcase_add_test(tc, vote_without_flag_is_ignored_by_sticky_follower);
    tcase_add_test(tc, caught_up_target_gets_timeout_now_at_once);
    tcase_add_test(tc, transfer_with_prevote_on);
    tcase_add_test(tc, timeout_aborts_and_proposals_resume);
    tcase_add_test(tc, transfer_errors);
    tcase_add_test(tc, stepping_down_ends_transfer);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
