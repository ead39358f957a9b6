/*
 * tests/unit/test_engine_replication.c: log replication (§5.3): the logs
 * of Figures 7 and 8 of the Raft paper, fast conflict backoff, probe and
 * replicate flow control, message size limits, and restart from persisted
 * state.
 */
#include "engine_util.h"
#include "harness.h"

/* Delivers election traffic only (pre-votes, votes and their answers)
 * until none is queued; appends stay queued. */
static void deliver_election(struct host *net)
{
    static const uint32_t types[] = {CRAFT_MSG_PREVOTE, CRAFT_MSG_PREVOTE_RESP,
                                     CRAFT_MSG_VOTE, CRAFT_MSG_VOTE_RESP};
    for (;;) {
        int any = 0;
        for (size_t k = 0; k < 4; k++) {
            while (host_deliver_one(net, types[k], 0, 0)) {
                any = 1;
            }
        }
        if (!any) {
            return;
        }
    }
}

static void heartbeat_round(struct host *net, uint64_t leader)
{
    host_tick(net, host_node(net, leader));
    host_deliver_all(net);
}

static void expect_progress(craft_engine *e, uint64_t peer, uint64_t match,
                            uint64_t next, int state)
{
    uint64_t m, n;
    int s;
    ck_assert_int_eq(craft_engine_progress(e, peer, &m, &n, &s), CRAFT_OK);
    ck_assert_uint_eq(m, match);
    ck_assert_uint_eq(n, next);
    ck_assert_int_eq(s, state);
}

/* ---- Figure 7 ------------------------------------------------------- */

/*
 * Figure 7: the leader of term 8 and followers (a)-(f). Entry 1 (term 1)
 * is our CONFIG entry; the others carry eu_payload(index, term).
 */
static const uint64_t fig7_leader[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
static const uint64_t fig7_a[] = {1, 1, 1, 4, 4, 5, 5, 6, 6};
static const uint64_t fig7_b[] = {1, 1, 1, 4};
static const uint64_t fig7_c[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6};
static const uint64_t fig7_d[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7};
static const uint64_t fig7_e[] = {1, 1, 1, 4, 4, 4, 4};
static const uint64_t fig7_f[] = {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3};
#define LEN(x) (sizeof(x) / sizeof((x)[0]))

struct fig7_case {
    uint64_t id;
    /* The follower's step on each append it receives, and the leader's
     * step on each answer, in order. */
    const char *follower[2];
    const char *leader[2];
    int round_trips;
};

START_TEST(figure7_logs_converge)
{
    struct host net;
    eu_hosts(&net, 7, NULL, 0);
    /* Hard state terms: the leader was in term 7; each follower in the
     * term of its last entry. */
    eu_set_disk(&net, 1, 7, 0, fig7_leader, LEN(fig7_leader));
    eu_set_disk(&net, 2, 6, 0, fig7_a, LEN(fig7_a));
    eu_set_disk(&net, 3, 4, 0, fig7_b, LEN(fig7_b));
    eu_set_disk(&net, 4, 6, 0, fig7_c, LEN(fig7_c));
    eu_set_disk(&net, 5, 7, 0, fig7_d, LEN(fig7_d));
    eu_set_disk(&net, 6, 4, 0, fig7_e, LEN(fig7_e));
    eu_set_disk(&net, 7, 3, 0, fig7_f, LEN(fig7_f));
    for (uint64_t id = 1; id <= 7; id++) {
        host_node_start(&net, host_node(&net, id));
    }
    /* The leader campaigns; a, b, e and f grant, c and d (more
     * up-to-date logs, §5.4.1) refuse. */
    eu_tick_until_active(&net, 1, 40);
    EU_EXPECT_STR(eu_out(&net, 1),
                  "ROLE P t=7 l=0 | SEND >2 PREVOTE t=8 last=10/6 | "
                  "SEND >3 PREVOTE t=8 last=10/6 | "
                  "SEND >4 PREVOTE t=8 last=10/6 | "
                  "SEND >5 PREVOTE t=8 last=10/6 | "
                  "SEND >6 PREVOTE t=8 last=10/6 | "
                  "SEND >7 PREVOTE t=8 last=10/6");
    deliver_election(&net);
    ck_assert_int_eq(craft_engine_role(host_node(&net, 1)->e), CRAFT_ROLE_LEADER);
    ck_assert_uint_eq(craft_engine_term(host_node(&net, 1)->e), 8);
    ck_assert_uint_eq(craft_engine_last_index(host_node(&net, 1)->e), 11);
    ck_assert(strstr(eu_steps_of(&net, 4)->trace.p, "SEND >1 VOTE_RESP t=8 REJECT"));
    ck_assert(strstr(eu_steps_of(&net, 5)->trace.p, "SEND >1 VOTE_RESP t=8 REJECT"));
    /* Every follower got one probe: prev = 10/6 with the no-op 11. */
    for (uint64_t id = 2; id <= 7; id++) {
        ck_assert_uint_eq(host_queued(&net, CRAFT_MSG_APPEND, 1, id), 1);
    }

    static const struct fig7_case cases[] = {
        /* (a) is missing entry 10: the hint points at its last entry. */
        {2,
         {"ROLE F t=8 l=1 | SEND >1 APPEND_RESP t=8 i=10 REJECT hint=9/6",
          "APPEND i=10 [6N,8O] | SEND >1 APPEND_RESP t=8 i=11"},
         {"SEND >2 APPEND t=8 prev=9/6 c=0 [6N,8O]", ""},
         2},
        /* (b) stops at 4: one round trip back to 4, not six. */
        {3,
         {"ROLE F t=8 l=1 | SEND >1 APPEND_RESP t=8 i=10 REJECT hint=4/4",
          "APPEND i=5 [4N,5N,5N,6N*3,8O] | SEND >1 APPEND_RESP t=8 i=11"},
         {"SEND >3 APPEND t=8 prev=4/4 c=0 [4N,5N,5N,6N*3,8O]", ""},
         2},
        /* (c) has an extra entry 11 of term 6: truncated. With a, b, c and
         * the leader, 11 is on a majority and commits. */
        {4,
         {"ROLE F t=8 l=1 | TRUNC i=11 | APPEND i=11 [8O] | "
          "SEND >1 APPEND_RESP t=8 i=11",
          NULL},
         {"APPLY i=1 [1C,1N,1N,4N,4N,5N,5N,6N*3,8O]", NULL},
         1},
        /* (d) has two extra entries of term 7: truncated from 11. */
        {5,
         {"ROLE F t=8 l=1 | TRUNC i=11 | APPEND i=11 [8O] | "
          "SEND >1 APPEND_RESP t=8 i=11",
          NULL},
         {"", NULL},
         1},
        /* (e): its entries 6 and 7 are of term 4 where the leader has 5:
         * the hint (7, term 4) lets the leader skip to its last entry of
         * term <= 4, index 5, at once. */
        {6,
         {"ROLE F t=8 l=1 | SEND >1 APPEND_RESP t=8 i=10 REJECT hint=7/4",
          "TRUNC i=6 | APPEND i=6 [5N,5N,6N*3,8O] | "
          "SEND >1 APPEND_RESP t=8 i=11 | "
          "APPLY i=1 [1C,1N,1N,4N,4N,5N,5N,6N*3,8O]"},
         {"SEND >6 APPEND t=8 prev=5/4 c=11 [5N,5N,6N*3,8O]", ""},
         2},
        /* (f): terms 2 and 3 from index 4 on. The hint (10, term 3) lets
         * the leader skip every index whose term is above 3: back to 3 in
         * one round trip instead of seven. */
        {7,
         {"ROLE F t=8 l=1 | SEND >1 APPEND_RESP t=8 i=10 REJECT hint=10/3",
          "TRUNC i=4 | APPEND i=4 [4N,4N,5N,5N,6N*3,8O] | "
          "SEND >1 APPEND_RESP t=8 i=11 | "
          "APPLY i=1 [1C,1N,1N,4N,4N,5N,5N,6N*3,8O]"},
         {"SEND >7 APPEND t=8 prev=3/1 c=11 [4N,4N,5N,5N,6N*3,8O]", ""},
         2},
    };
    for (size_t k = 0; k < LEN(cases); k++) {
        const struct fig7_case *c = &cases[k];
        int trips = 0;
        while (host_deliver_one(&net, CRAFT_MSG_APPEND, 1, c->id)) {
            ck_assert_int_lt(trips, 2);
            EU_EXPECT_STR(eu_out(&net, c->id), c->follower[trips]);
            ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, c->id, 1));
            EU_EXPECT_STR(eu_out(&net, 1), c->leader[trips]);
            trips++;
        }
        ck_assert_int_eq(trips, c->round_trips);
        ck_assert_uint_eq(host_queued(&net, 0, 1, c->id), 0);
        ck_assert_uint_eq(host_queued(&net, 0, c->id, 1), 0);
        eu_same_log(&net, c->id, 1);
        expect_progress(host_node(&net, 1)->e, c->id, 11, 12,
                        CRAFT_PROGRESS_STATE_REPLICATE);
    }
    /* One heartbeat: everyone applies through 11. */
    heartbeat_round(&net, 1);
    for (uint64_t id = 1; id <= 7; id++) {
        eu_same_log(&net, id, 1);
        ck_assert_uint_eq(host_node(&net, id)->applied, 11);
        ck_assert_uint_eq(craft_engine_commit_index(host_node(&net, id)->e), 11);
    }
    eu_free(&net);
}
END_TEST

/* ---- Figure 8 ------------------------------------------------------- */

/*
 * Figure 8 with five servers. Our entry 1 is the bootstrap CONFIG and the
 * first leader's no-op is entry 2 (both committed everywhere), so the
 * figure's index 2 is our index 3 and its index 3 our 4. Plain Raft
 * (no pre-vote, no check-quorum), as in the paper; max_msg_bytes 16 with
 * a 32-byte entry, so the term-2 entry travels in a message of its own.
 * Returns in state (c): S1 leads term 4; S1, S2 and S3 store the term-2
 * entry 3; S1 and S2 store S1's no-op 4 (term 4); S1's append of 4 to S3
 * is held back in the queue.
 */
static uint8_t fig8_x[32];

static void fig8_to_c(struct host *net)
{
    craft_engine_options o = eu_opts(1);
    o.pre_vote = 0;
    o.check_quorum = 0;
    o.max_msg_bytes = 16;
    eu_hosts(net, 5, &o, 1);
    memset(fig8_x, 'x', sizeof(fig8_x));

    /* (a) S1 leads term 2; its no-op commits everywhere. It takes entry 3
     * (term 2) and replicates it to S2 only before it crashes. */
    eu_elect(net, 1);
    heartbeat_round(net, 1);
    host_propose(net, host_node(net, 1), 1, fig8_x, sizeof(fig8_x));
    EU_EXPECT_STR(eu_out(net, 1),
                  "RESULT id=1 OK i=3 t=2 n=1 l=1 | "
                  "SEND >2 APPEND t=2 prev=2/2 c=2 [2N] | "
                  "SEND >3 APPEND t=2 prev=2/2 c=2 [2N] | "
                  "SEND >4 APPEND t=2 prev=2/2 c=2 [2N] | "
                  "SEND >5 APPEND t=2 prev=2/2 c=2 [2N] | APPEND i=3 [2N]");
    ck_assert(host_deliver_one(net, CRAFT_MSG_APPEND, 1, 2));
    ck_assert(host_deliver_one(net, CRAFT_MSG_APPEND_RESP, 2, 1));
    EU_EXPECT_STR(eu_out(net, 1), ""); /* 2 of 5: not committed */
    ck_assert_uint_eq(host_node(net, 1)->applied, 2);
    host_drop(net, 0, 0, 0);
    host_crash(net, host_node(net, 1));

    /* (b) S5 is elected for term 3 by S3, S4 and itself, appends its
     * no-op at index 3 (term 3), and crashes before sending anything. */
    eu_tick_until_active(net, 5, 40);
    EU_EXPECT_STR(eu_out(net, 5),
                  "ROLE C t=3 l=0 | HS t=3 v=5 | SEND >1 VOTE t=3 last=2/2 | "
                  "SEND >2 VOTE t=3 last=2/2 | SEND >3 VOTE t=3 last=2/2 | "
                  "SEND >4 VOTE t=3 last=2/2");
    ck_assert(host_deliver_one(net, CRAFT_MSG_VOTE, 5, 2));
    EU_EXPECT_STR(eu_out(net, 2),
                  "ROLE F t=3 l=0 | HS t=3 v=0 | SEND >5 VOTE_RESP t=3 REJECT");
    ck_assert(host_deliver_one(net, CRAFT_MSG_VOTE, 5, 3));
    ck_assert(host_deliver_one(net, CRAFT_MSG_VOTE, 5, 4));
    ck_assert(host_deliver_one(net, CRAFT_MSG_VOTE_RESP, 3, 5));
    ck_assert(host_deliver_one(net, CRAFT_MSG_VOTE_RESP, 4, 5));
    EU_EXPECT_STR(eu_out(net, 5),
                  "ROLE L t=3 l=5 | SEND >1 APPEND t=3 prev=2/2 c=2 [3O] | "
                  "SEND >2 APPEND t=3 prev=2/2 c=2 [3O] | "
                  "SEND >3 APPEND t=3 prev=2/2 c=2 [3O] | "
                  "SEND >4 APPEND t=3 prev=2/2 c=2 [3O] | APPEND i=3 [3O]");
    host_drop(net, 0, 0, 0);
    host_crash(net, host_node(net, 5));

    /* (c) S1 restarts. Term 3 fails (S3 and S4 voted for S5); it is
     * elected in term 4 by S2, S3 and S4 and appends its no-op 4. */
    host_node_start(net, host_node(net, 1));
    eu_tick_until_active(net, 1, 40);
    EU_EXPECT_STR(eu_out(net, 1),
                  "ROLE C t=3 l=0 | HS t=3 v=1 | SEND >2 VOTE t=3 last=3/2 | "
                  "SEND >3 VOTE t=3 last=3/2 | SEND >4 VOTE t=3 last=3/2 | "
                  "SEND >5 VOTE t=3 last=3/2");
    host_deliver_all(net);
    ck_assert_int_eq(craft_engine_role(host_node(net, 1)->e), CRAFT_ROLE_CANDIDATE);
    eu_tick_until_active(net, 1, 40);
    deliver_election(net);
    ck_assert_int_eq(craft_engine_role(host_node(net, 1)->e), CRAFT_ROLE_LEADER);
    ck_assert_uint_eq(craft_engine_term(host_node(net, 1)->e), 4);
    /* S2 has entry 3 and takes 4. */
    ck_assert(host_deliver_one(net, CRAFT_MSG_APPEND, 1, 2));
    EU_EXPECT_STR(eu_out(net, 2),
                  "ROLE F t=4 l=1 | APPEND i=4 [4O] | "
                  "SEND >1 APPEND_RESP t=4 i=4");
    ck_assert(host_deliver_one(net, CRAFT_MSG_APPEND_RESP, 2, 1));
    EU_EXPECT_STR(eu_out(net, 1), "");
    /* S3 lacks 3: the leader backs off and sends the term-2 entry alone. */
    ck_assert(host_deliver_one(net, CRAFT_MSG_APPEND, 1, 3));
    EU_EXPECT_STR(eu_out(net, 3),
                  "ROLE F t=4 l=1 | "
                  "SEND >1 APPEND_RESP t=4 i=3 REJECT hint=2/2");
    ck_assert(host_deliver_one(net, CRAFT_MSG_APPEND_RESP, 3, 1));
    /* (S1 restarted: its commit index is 0 again.) */
    EU_EXPECT_STR(eu_out(net, 1), "SEND >3 APPEND t=4 prev=2/2 c=0 [2N]");
    ck_assert(host_deliver_one(net, CRAFT_MSG_APPEND, 1, 3));
    EU_EXPECT_STR(eu_out(net, 3),
                  "APPEND i=3 [2N] | SEND >1 APPEND_RESP t=4 i=3");
    /* The leader now knows that S1, S2 and S3 (a majority) store entry 3
     * of term 2. It must not commit it by counting replicas: nothing is
     * applied; it only streams the no-op next. */
    ck_assert(host_deliver_one(net, CRAFT_MSG_APPEND_RESP, 3, 1));
    EU_EXPECT_STR(eu_out(net, 1), "SEND >3 APPEND t=4 prev=3/2 c=0 [4O]");
    ck_assert_uint_eq(craft_engine_commit_index(host_node(net, 1)->e), 0);
    expect_progress(host_node(net, 1)->e, 3, 3, 5, CRAFT_PROGRESS_STATE_REPLICATE);
    /* S4's probe is lost; S5 is down. */
    ck_assert_uint_eq(host_drop(net, CRAFT_MSG_APPEND, 1, 4), 1);
    ck_assert_uint_eq(host_drop(net, CRAFT_MSG_APPEND, 1, 5), 1);
    ck_assert_uint_eq(host_queued(net, 0, 0, 0), 1); /* 1 -> 3: [4O] */
}

START_TEST(figure8_d_uncommitted_entry_overwritten)
{
    struct host net;
    fig8_to_c(&net);
    host_drop(&net, 0, 0, 0);
    /* S1 never committed (so never applied) entry 3 of term 2: had it,
     * what follows would be a safety violation. */
    ck_assert_uint_eq(craft_engine_commit_index(host_node(&net, 1)->e), 0);
    ck_assert_uint_eq(host_node(&net, 1)->applied, 0);
    /* (d) S1 crashes; S5 restarts. Term 4 fails (everyone voted S1);
     * in term 5, S3 and S4 grant (S5's last term 3 beats their 2). */
    host_crash(&net, host_node(&net, 1));
    host_node_start(&net, host_node(&net, 5));
    eu_tick_until_active(&net, 5, 40);
    host_deliver_all(&net);
    EU_EXPECT_STR(eu_out(&net, 5), "ROLE F t=4 l=0");
    eu_tick_until_active(&net, 5, 40);
    deliver_election(&net);
    ck_assert_int_eq(craft_engine_role(host_node(&net, 5)->e), CRAFT_ROLE_LEADER);
    ck_assert_uint_eq(craft_engine_term(host_node(&net, 5)->e), 5);
    ck_assert(strstr(eu_steps_of(&net, 2)->trace.p, "SEND >5 VOTE_RESP t=5 REJECT"));
    /* S5 overwrites entry 3 on S3, though it was stored on a majority. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 5, 3));
    EU_EXPECT_STR(eu_out(&net, 3),
                  "ROLE F t=5 l=5 | "
                  "SEND >5 APPEND_RESP t=5 i=3 REJECT hint=3/2");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 3, 5));
    EU_EXPECT_STR(eu_out(&net, 5),
                  "SEND >3 APPEND t=5 prev=2/2 c=0 [3O,5O]");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 5, 3));
    EU_EXPECT_STR(eu_out(&net, 3),
                  "TRUNC i=3 | APPEND i=3 [3O,5O] | "
                  "SEND >5 APPEND_RESP t=5 i=4");
    host_deliver_all(&net);
    heartbeat_round(&net, 5);
    heartbeat_round(&net, 5);
    for (uint64_t id = 2; id <= 5; id++) {
        eu_same_log(&net, id, 5);
        ck_assert_uint_eq(host_node(&net, id)->applied, 4);
        ck_assert_uint_eq(host_entry_at(host_node(&net, id), 3)->term, 3);
    }
    ck_assert(strstr(eu_steps_of(&net, 2)->trace.p,
                     "TRUNC i=3 | APPEND i=3 [3O,5O]"));
    eu_free(&net);
}
END_TEST

START_TEST(figure8_e_current_term_entry_commits)
{
    struct host net;
    fig8_to_c(&net);
    /* (e) S1 gets its term-4 entry onto a majority (S1, S2, S3): it
     * commits, and entry 3 of term 2 with it. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, 3));
    EU_EXPECT_STR(eu_out(&net, 3),
                  "APPEND i=4 [4O] | SEND >1 APPEND_RESP t=4 i=4");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 3, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "APPLY i=1 [1C,2O,2N,4O]");
    ck_assert_uint_eq(craft_engine_commit_index(host_node(&net, 1)->e), 4);
    /* S1 crashes; S5 can never be elected: S2 and S3 refuse in every
     * term. */
    host_crash(&net, host_node(&net, 1));
    host_drop(&net, 0, 0, 0);
    host_node_start(&net, host_node(&net, 5));
    for (int t = 0; t < 200; t++) {
        host_tick(&net, host_node(&net, 5));
        host_deliver_all(&net);
        ck_assert_int_ne(craft_engine_role(host_node(&net, 5)->e),
                         CRAFT_ROLE_LEADER);
    }
    ck_assert_uint_gt(craft_engine_term(host_node(&net, 5)->e), 5);
    /* Someone else is, and S5 learns the committed entries. */
    uint64_t l = 0;
    for (int t = 0; t < 200 && l == 0; t++) {
        for (uint64_t id = 2; id <= 5; id++) {
            host_tick(&net, host_node(&net, id));
        }
        host_deliver_all(&net);
        for (uint64_t id = 2; id <= 5; id++) {
            if (craft_engine_role(host_node(&net, id)->e) == CRAFT_ROLE_LEADER) {
                l = id;
            }
        }
    }
    ck_assert_uint_ne(l, 0);
    ck_assert_uint_ne(l, 5);
    heartbeat_round(&net, l);
    heartbeat_round(&net, l);
    for (uint64_t id = 2; id <= 5; id++) {
        eu_same_log(&net, id, l);
        ck_assert_uint_eq(host_entry_at(host_node(&net, id), 3)->term, 2);
        ck_assert_mem_eq(host_entry_at(host_node(&net, id), 3)->data.p, fig8_x, 32);
        ck_assert_uint_eq(host_entry_at(host_node(&net, id), 4)->term, 4);
    }
    eu_free(&net);
}
END_TEST

/* ---- flow control ---------------------------------------------------- */

START_TEST(probe_then_replicate_bounded_by_max_inflight)
{
    craft_engine_options o = eu_opts(1);
    o.max_inflight = 4;
    struct host net;
    eu_hosts(&net, 3, &o, 1);
    eu_tick_until_active(&net, 1, 40);
    deliver_election(&net);
    craft_engine *ld = host_node(&net, 1)->e;
    ck_assert_int_eq(craft_engine_role(ld), CRAFT_ROLE_LEADER);
    /* Both followers are probed with the no-op. */
    expect_progress(ld, 2, 0, 2, CRAFT_PROGRESS_STATE_PROBE);
    expect_progress(ld, 3, 0, 2, CRAFT_PROGRESS_STATE_PROBE);
    /* While a probe is out, nothing more is sent to that follower. */
    host_propose(&net, host_node(&net, 1), 1, "a", 1);
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=1 OK i=3 t=2 n=1 l=1 | APPEND i=3 [2N]");
    /* 2 acks the probe: replicate, and the rest is streamed. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, 2));
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 2, 1));
    EU_EXPECT_STR(eu_out(&net, 1),
                  "SEND >2 APPEND t=2 prev=2/2 c=2 [2N] | APPLY i=1 [1C,2O]");
    expect_progress(ld, 2, 2, 4, CRAFT_PROGRESS_STATE_REPLICATE);
    expect_progress(ld, 3, 0, 2, CRAFT_PROGRESS_STATE_PROBE);
    /* Three more proposals: one message each to 2, none to 3 (probing). */
    host_propose(&net, host_node(&net, 1), 2, "b", 1);
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=2 OK i=4 t=2 n=1 l=1 | "
                  "SEND >2 APPEND t=2 prev=3/2 c=2 [2N] | APPEND i=4 [2N]");
    host_propose(&net, host_node(&net, 1), 3, "c", 1);
    host_propose(&net, host_node(&net, 1), 4, "d", 1);
    ck_assert_uint_eq(host_queued(&net, CRAFT_MSG_APPEND, 1, 2), 4);
    /* The fifth waits: four appends are in flight. */
    host_propose(&net, host_node(&net, 1), 5, "e", 1);
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=5 OK i=7 t=2 n=1 l=1 | APPEND i=7 [2N]");
    ck_assert_uint_eq(host_queued(&net, CRAFT_MSG_APPEND, 1, 2), 4);
    expect_progress(ld, 2, 2, 7, CRAFT_PROGRESS_STATE_REPLICATE);
    /* One ack frees one slot: entry 7 goes out. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, 2));
    EU_EXPECT_STR(eu_out(&net, 2),
                  "APPEND i=3 [2N] | SEND >1 APPEND_RESP t=2 i=3 | "
                  "APPLY i=1 [1C,2O]");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 2, 1));
    EU_EXPECT_STR(eu_out(&net, 1),
                  "SEND >2 APPEND t=2 prev=6/2 c=3 [2N] | APPLY i=3 [2N]");
    ck_assert_uint_eq(host_queued(&net, CRAFT_MSG_APPEND, 1, 2), 4);
    /* Everything settles. */
    host_deliver_all(&net);
    heartbeat_round(&net, 1);
    for (uint64_t id = 1; id <= 3; id++) {
        eu_same_log(&net, id, 1);
        ck_assert_uint_eq(host_node(&net, id)->applied, 7);
    }
    expect_progress(ld, 3, 7, 8, CRAFT_PROGRESS_STATE_REPLICATE);
    eu_free(&net);
}
END_TEST

START_TEST(max_msg_bytes_splits_messages)
{
    craft_engine_options o = eu_opts(1);
    o.max_msg_bytes = 250;
    struct host net;
    eu_hosts(&net, 3, &o, 1);
    eu_elect(&net, 1);
    heartbeat_round(&net, 1);
    /* Six entries of 100 bytes: two per message. */
    static uint8_t p[6][100];
    craft_buf bufs[6];
    for (int k = 0; k < 6; k++) {
        memset(p[k], 'a' + k, 100);
        bufs[k].base = p[k];
        bufs[k].len = 100;
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.id = 1;
    ev.bufs = bufs;
    ev.nbufs = 6;
    host_step(&net, host_node(&net, 1), &ev);
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=1 OK i=3 t=2 n=6 l=1 | "
                  "SEND >2 APPEND t=2 prev=2/2 c=2 [2N,2N] | "
                  "SEND >2 APPEND t=2 prev=4/2 c=2 [2N,2N] | "
                  "SEND >2 APPEND t=2 prev=6/2 c=2 [2N,2N] | "
                  "SEND >3 APPEND t=2 prev=2/2 c=2 [2N,2N] | "
                  "SEND >3 APPEND t=2 prev=4/2 c=2 [2N,2N] | "
                  "SEND >3 APPEND t=2 prev=6/2 c=2 [2N,2N] | "
                  "APPEND i=3 [2N*6]");
    host_deliver_all(&net);
    /* 300 bytes: over the limit, sent alone; then 100 + 100 + 50 = 250
     * exactly fit; then 10. */
    static uint8_t big[300];
    memset(big, 'z', sizeof(big));
    craft_buf b2[5] = {{big, 300}, {p[0], 100}, {p[1], 100}, {p[2], 50},
                       {p[3], 10}};
    ev.id = 2;
    ev.bufs = b2;
    ev.nbufs = 5;
    host_step(&net, host_node(&net, 1), &ev);
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=2 OK i=9 t=2 n=5 l=1 | "
                  "SEND >2 APPEND t=2 prev=8/2 c=8 [2N] | "
                  "SEND >2 APPEND t=2 prev=9/2 c=8 [2N*3] | "
                  "SEND >2 APPEND t=2 prev=12/2 c=8 [2N] | "
                  "SEND >3 APPEND t=2 prev=8/2 c=8 [2N] | "
                  "SEND >3 APPEND t=2 prev=9/2 c=8 [2N*3] | "
                  "SEND >3 APPEND t=2 prev=12/2 c=8 [2N] | APPEND i=9 [2N*5]");
    host_deliver_all(&net);
    heartbeat_round(&net, 1);
    for (uint64_t id = 2; id <= 3; id++) {
        eu_same_log(&net, id, 1);
        ck_assert_uint_eq(host_node(&net, id)->applied, 13);
    }
    ck_assert_mem_eq(host_entry_at(host_node(&net, 2), 9)->data.p, big, 300);
    eu_free(&net);
}
END_TEST

START_TEST(lost_probe_resent_after_heartbeat)
{
    struct host net;
    eu_hosts(&net, 3, NULL, 1);
    eu_tick_until_active(&net, 1, 40);
    deliver_election(&net);
    /* The probe to 3 is lost. The heartbeat answer unblocks a new one. */
    ck_assert_uint_eq(host_drop(&net, CRAFT_MSG_APPEND, 1, 3), 1);
    host_deliver_all(&net);
    host_tick(&net, host_node(&net, 1));
    ck_assert(host_deliver_one(&net, CRAFT_MSG_HEARTBEAT, 1, 3));
    EU_EXPECT_STR(eu_out(&net, 3),
                  "ROLE F t=2 l=1 | SEND >1 HEARTBEAT_RESP t=2");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_HEARTBEAT_RESP, 3, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "SEND >3 APPEND t=2 prev=1/1 c=2 [2O]");
    host_deliver_all(&net);
    eu_same_log(&net, 3, 1);
    eu_free(&net);
}
END_TEST

/* ---- restart -------------------------------------------------------- */

START_TEST(restart_rediscovers_commit)
{
    struct host net;
    eu_hosts(&net, 3, NULL, 1);
    eu_elect(&net, 1);
    for (int k = 0; k < 3; k++) {
        char b[3] = {'v', (char)('0' + k), 0};
        host_propose(&net, host_node(&net, 1), (uint64_t)k, b, 2);
        host_deliver_all(&net);
    }
    /* Entry 6 reaches only the leader's disk. */
    host_cut(&net, 1, 2, 1);
    host_cut(&net, 1, 3, 1);
    host_propose(&net, host_node(&net, 1), 9, "lost", 4);
    host_deliver_all(&net);
    host_cut(&net, 1, 2, 0);
    host_cut(&net, 1, 3, 0);
    ck_assert_uint_eq(craft_engine_commit_index(host_node(&net, 1)->e), 5);
    for (uint64_t id = 1; id <= 3; id++) {
        host_crash(&net, host_node(&net, id));
    }
    host_drop(&net, 0, 0, 0);
    /* Everyone restarts from disk: hard state and log are back, the
     * commit index (volatile, Figure 2) is not. */
    for (uint64_t id = 1; id <= 3; id++) {
        host_node_start(&net, host_node(&net, id));
        craft_engine *e = host_node(&net, id)->e;
        ck_assert_uint_eq(craft_engine_term(e), 2);
        ck_assert_uint_eq(craft_engine_vote(e), 1);
        ck_assert_uint_eq(craft_engine_last_index(e), id == 1 ? 6 : 5);
        ck_assert_uint_eq(craft_engine_last_term(e), 2);
        ck_assert_uint_eq(craft_engine_commit_index(e), 0);
        ck_assert_uint_eq(craft_engine_applied_index(e), 0);
        ck_assert_uint_eq(craft_engine_persisted_index(e), id == 1 ? 6 : 5);
        ck_assert_int_eq(craft_engine_role(e), CRAFT_ROLE_FOLLOWER);
        ck_assert_uint_eq(craft_engine_leader(e), 0);
    }
    /* Node 2 is elected in term 3: 3 grants; 1, whose log is longer,
     * refuses (§5.4.1). */
    eu_tick_until_active(&net, 2, 40);
    deliver_election(&net);
    ck_assert_int_eq(craft_engine_role(host_node(&net, 2)->e), CRAFT_ROLE_LEADER);
    ck_assert(strstr(eu_steps_of(&net, 1)->trace.p,
                     "SEND >2 PREVOTE_RESP t=2 REJECT"));
    /* Its no-op (6, term 3) commits with 3's ack, and with it everything
     * before: the commit index is rediscovered. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 2, 3));
    EU_EXPECT_STR(eu_out(&net, 3),
                  "ROLE F t=3 l=2 | APPEND i=6 [3O] | "
                  "SEND >2 APPEND_RESP t=3 i=6");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 3, 2));
    EU_EXPECT_STR(eu_out(&net, 2), "APPLY i=1 [1C,2O,2N*3,3O]");
    /* Node 1's entry 6 of term 2 was never committed: replaced. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 2, 1));
    EU_EXPECT_STR(eu_out(&net, 1),
                  "ROLE F t=3 l=2 | TRUNC i=6 | APPEND i=6 [3O] | "
                  "SEND >2 APPEND_RESP t=3 i=6");
    host_deliver_all(&net);
    heartbeat_round(&net, 2);
    for (uint64_t id = 1; id <= 3; id++) {
        eu_same_log(&net, id, 2);
        ck_assert_uint_eq(host_node(&net, id)->applied, 6);
    }
    ck_assert_mem_eq(host_entry_at(host_node(&net, 1), 5)->data.p, "v2", 2);
    eu_free(&net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_replication");
    TCase *tc = tcase_create("figures");
    tcase_add_test(tc, figure7_logs_converge);
    tcase_add_test(tc, figure8_d_uncommitted_entry_overwritten);
    tcase_add_test(tc, figure8_e_current_term_entry_commits);
    suite_add_tcase(s, tc);

    tc = tcase_create("flow");
    tcase_add_test(tc, probe_then_replicate_bounded_by_max_inflight);
    tcase_add_test(tc, max_msg_bytes_splits_messages);
    tcase_add_test(tc, lost_probe_resent_after_heartbeat);
    suite_add_tcase(s, tc);

    tc = tcase_create("restart");
    tcase_add_test(tc, restart_rediscovers_commit);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
