/*
 * tests/unit/test_engine_election.c: leader election (§5.2, §5.4.1),
 * pre-vote (thesis §9.6), check-quorum and leader stickiness (thesis
 * §6.2, §4.2.3), with the exact actions of the steps that matter.
 */
#include "engine_util.h"
#include "harness.h"

static const uint64_t ids3[] = {1, 2, 3};

/* Ticks every up node in mask (bit id) once per round and delivers all
 * messages after each round, until some node in mask leads with a term
 * above min_term. Returns the leader. */
static uint64_t elect_among(struct host *net, unsigned mask,
                            uint64_t min_term, int max_rounds)
{
    for (int r = 0; r < max_rounds; r++) {
        for (uint64_t id = 1; id <= (uint64_t)net->n; id++) {
            struct host_node *nd = host_node(net, id);
            if ((mask & (1u << id)) && nd->up) {
                host_tick(net, host_node(net, id));
            }
        }
        host_deliver_all(net);
        for (uint64_t id = 1; id <= (uint64_t)net->n; id++) {
            struct host_node *nd = host_node(net, id);
            if ((mask & (1u << id)) && nd->up &&
                craft_engine_role(nd->e) == CRAFT_ROLE_LEADER &&
                craft_engine_term(nd->e) > min_term) {
                return id;
            }
        }
    }
    ck_abort_msg("no leader elected in %d rounds", max_rounds);
    return 0;
}

/* Ticks the leader once and delivers everything (a heartbeat round). */
static void heartbeat_round(struct host *net, uint64_t leader)
{
    host_tick(net, host_node(net, leader));
    host_deliver_all(net);
}

/* ---- split vote ------------------------------------------------------ */

START_TEST(split_vote_then_higher_term_wins)
{
    craft_engine_options o = eu_opts(1);
    o.pre_vote = 0;
    struct host net;
    eu_hosts(&net, 4, &o, 1);
    /* 1 and 2 time out in the same term. */
    eu_tick_until_active(&net, 1, 40);
    EU_EXPECT_STR(eu_out(&net, 1),
                  "ROLE C t=2 l=0 | HS t=2 v=1 | SEND >2 VOTE t=2 last=1/1 | "
                  "SEND >3 VOTE t=2 last=1/1 | SEND >4 VOTE t=2 last=1/1");
    eu_tick_until_active(&net, 2, 40);
    EU_EXPECT_STR(eu_out(&net, 2),
                  "ROLE C t=2 l=0 | HS t=2 v=2 | SEND >1 VOTE t=2 last=1/1 | "
                  "SEND >3 VOTE t=2 last=1/1 | SEND >4 VOTE t=2 last=1/1");
    /* 3 hears from 1 first, 4 from 2 first: the votes split 2-2. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_VOTE, 1, 3));
    EU_EXPECT_STR(eu_out(&net, 3),
                  "ROLE F t=2 l=0 | HS t=2 v=1 | SEND >1 VOTE_RESP t=2");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_VOTE, 2, 4));
    EU_EXPECT_STR(eu_out(&net, 4),
                  "ROLE F t=2 l=0 | HS t=2 v=2 | SEND >2 VOTE_RESP t=2");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_VOTE, 1, 4));
    EU_EXPECT_STR(eu_out(&net, 4), "SEND >1 VOTE_RESP t=2 REJECT");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_VOTE, 2, 3));
    EU_EXPECT_STR(eu_out(&net, 3), "SEND >2 VOTE_RESP t=2 REJECT");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_VOTE, 1, 2));
    EU_EXPECT_STR(eu_out(&net, 2), "SEND >1 VOTE_RESP t=2 REJECT");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_VOTE, 2, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "SEND >2 VOTE_RESP t=2 REJECT");
    /* Each candidate counts 2 grants (itself included) and 2 refusals:
     * neither reaches 3 of 4, both stay candidates. */
    ck_assert_uint_eq(host_deliver_all(&net), 6);
    EU_EXPECT_STR(eu_out(&net, 1), "");
    EU_EXPECT_STR(eu_out(&net, 2), "");
    ck_assert_int_eq(craft_engine_role(host_node(&net, 1)->e),
                     CRAFT_ROLE_CANDIDATE);
    ck_assert_int_eq(craft_engine_role(host_node(&net, 2)->e),
                     CRAFT_ROLE_CANDIDATE);
    /* Every node ticks; the first to time out starts term 3 and wins. */
    uint64_t first = 0;
    for (int t = 0; t < 40 && first == 0; t++) {
        for (uint64_t id = 1; id <= 4 && first == 0; id++) {
            host_tick(&net, host_node(&net, id));
            if (craft_actions_count(host_node(&net, id)->acts) > 0) {
                first = id;
            }
        }
    }
    ck_assert_uint_ne(first, 0);
    char want[512];
    snprintf(want, sizeof(want), "ROLE C t=3 l=0 | HS t=3 v=%llu",
             (unsigned long long)first);
    char *got = eu_out(&net, first);
    ck_assert_msg(strncmp(got, want, strlen(want)) == 0, "%s", got);
    free(got);
    host_deliver_all(&net);
    for (uint64_t id = 1; id <= 4; id++) {
        ck_assert_uint_eq(craft_engine_term(host_node(&net, id)->e), 3);
        ck_assert_uint_eq(craft_engine_leader(host_node(&net, id)->e), first);
    }
    ck_assert_int_eq(craft_engine_role(host_node(&net, first)->e),
                     CRAFT_ROLE_LEADER);
    eu_free(&net);
}
END_TEST

/* ---- §5.4.1 election restriction ------------------------------------ */

START_TEST(vote_denied_to_older_log)
{
    /* Log: 1 (term 1), 2 and 3 (term 2); hard state term 2. */
    static const uint64_t terms[] = {1, 2, 2};
    static const uint64_t ids5[] = {1, 2, 3, 4, 5};
    craft_engine *e = eu_engine(NULL, 1, 2, 0, ids5, 5, terms, 3);
    craft_actions *a = eu_actions();
    /* Longer, but an older last term: denied. The term is still adopted. */
    struct craft_msg m = eu_msg(CRAFT_MSG_VOTE, 2, 1, 3);
    m.index = 5;
    m.log_term = 1;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "ROLE F t=3 l=0 | HS t=3 v=0 | "
                   "SEND >2 VOTE_RESP t=3 REJECT");
    /* Same last term, shorter: denied. */
    m = eu_msg(CRAFT_MSG_VOTE, 3, 1, 4);
    m.index = 2;
    m.log_term = 2;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "ROLE F t=4 l=0 | HS t=4 v=0 | "
                   "SEND >3 VOTE_RESP t=4 REJECT");
    /* A pre-vote with an older log is denied too, and changes nothing. */
    m = eu_msg(CRAFT_MSG_PREVOTE, 5, 1, 5);
    m.index = 3;
    m.log_term = 1;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "SEND >5 PREVOTE_RESP t=4 REJECT");
    ck_assert_uint_eq(craft_engine_term(e), 4);
    /* Same last term and as long: granted. */
    m = eu_msg(CRAFT_MSG_VOTE, 4, 1, 5);
    m.index = 3;
    m.log_term = 2;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "ROLE F t=5 l=0 | HS t=5 v=4 | SEND >4 VOTE_RESP t=5");
    craft_actions_free(a);
    craft_engine_free(e);

    /* Shorter but with a newer last term: granted. */
    e = eu_engine(NULL, 1, 2, 0, ids5, 5, terms, 3);
    a = eu_actions();
    m = eu_msg(CRAFT_MSG_VOTE, 2, 1, 3);
    m.index = 1;
    m.log_term = 3;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "ROLE F t=3 l=0 | HS t=3 v=2 | SEND >2 VOTE_RESP t=3");
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(candidate_with_stale_log_loses)
{
    /* Plain Raft: no pre-vote, no stickiness. */
    craft_engine_options o = eu_opts(1);
    o.pre_vote = 0;
    o.check_quorum = 0;
    struct host net;
    eu_hosts(&net, 3, &o, 1);
    eu_elect(&net, 1);
    /* Node 3 misses entry 3. */
    host_cut(&net, 1, 3, 1);
    host_propose(&net, host_node(&net, 1), 1, "x", 1);
    host_deliver_all(&net);
    heartbeat_round(&net, 1);
    ck_assert_uint_eq(craft_engine_commit_index(host_node(&net, 1)->e), 3);
    ck_assert_uint_eq(craft_engine_last_index(host_node(&net, 3)->e), 2);
    /* Leader 1 dies; 3 times out first (2 is not ticked) and asks. */
    host_crash(&net, host_node(&net, 1));
    host_drop(&net, 0, 0, 0);
    eu_tick_until_active(&net, 3, 40);
    EU_EXPECT_STR(eu_out(&net, 3),
                  "ROLE C t=3 l=0 | HS t=3 v=3 | SEND >1 VOTE t=3 last=2/2 | "
                  "SEND >2 VOTE t=3 last=2/2");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_VOTE, 3, 2));
    EU_EXPECT_STR(eu_out(&net, 2),
                  "ROLE F t=3 l=0 | HS t=3 v=0 | SEND >3 VOTE_RESP t=3 REJECT");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_VOTE_RESP, 2, 3));
    /* 1 (down) never answers, 2 refused: not a majority of refusals yet
     * (2 of 3 needed), so 3 stays a candidate until its timeout. */
    EU_EXPECT_STR(eu_out(&net, 3), "");
    ck_assert_int_eq(craft_engine_role(host_node(&net, 3)->e),
                     CRAFT_ROLE_CANDIDATE);
    /* 2, with the longer log, wins the next term; 3 catches up. */
    uint64_t l = elect_among(&net, (1u << 2) | (1u << 3), 3, 100);
    ck_assert_uint_eq(l, 2);
    heartbeat_round(&net, 2);
    eu_same_log(&net, 3, 2);
    ck_assert_uint_eq(host_entry_at(host_node(&net, 3), 3)->data.p[0], 'x');
    eu_free(&net);
}
END_TEST

START_TEST(candidate_refused_by_majority_steps_back)
{
    /* 1 has an older log than 2 and 3. */
    craft_engine_options o = eu_opts(1);
    o.pre_vote = 0;
    craft_engine *e = eu_engine(&o, 1, 2, 0, ids3, 3,
                                (const uint64_t[]){1, 2}, 2);
    craft_actions *a = eu_actions();
    int t = 0;
    do {
        ck_assert_int_eq(eu_tick(e, a), CRAFT_OK);
    } while (craft_actions_count(a) == 0 && ++t < 40);
    EU_EXPECT(e, a,
              "ROLE C t=3 l=0 | HS t=3 v=1 | SEND >2 VOTE t=3 last=2/2 | "
              "SEND >3 VOTE t=3 last=2/2");
    struct craft_msg m = eu_msg(CRAFT_MSG_VOTE_RESP, 2, 1, 3);
    m.flags = CRAFT_MSG_F_REJECT;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m), "");
    m.from = 3;
    /* Two refusals of three: the election is lost, back to follower. */
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m), "ROLE F t=3 l=0");
    ck_assert_uint_eq(craft_engine_vote(e), 1);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

/* ---- stale leader --------------------------------------------------- */

START_TEST(stale_leader_append_rejected_and_steps_down)
{
    struct host net;
    eu_hosts(&net, 3, NULL, 1);
    eu_elect(&net, 1);
    heartbeat_round(&net, 1);
    /* 1 is cut off; 2 and 3 elect 2 (or 3) in term 3. */
    host_cut(&net, 1, 2, 1);
    host_cut(&net, 1, 3, 1);
    uint64_t l = elect_among(&net, (1u << 2) | (1u << 3), 2, 100);
    ck_assert_uint_eq(craft_engine_term(host_node(&net, l)->e), 3);
    uint64_t f = l == 2 ? 3 : 2;
    /* The old leader still believes it leads term 2 and takes a
     * proposal (it has not ticked into its check-quorum yet). */
    ck_assert_int_eq(craft_engine_role(host_node(&net, 1)->e), CRAFT_ROLE_LEADER);
    host_drop(&net, 0, 0, 0);
    host_propose(&net, host_node(&net, 1), 5, "stale", 5);
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=5 OK i=3 t=2 n=1 l=1 | "
                  "SEND >2 APPEND t=2 prev=2/2 c=2 [2N] | "
                  "SEND >3 APPEND t=2 prev=2/2 c=2 [2N] | APPEND i=3 [2N]");
    /* The partition heals. A follower of term 3 rejects the stale append
     * with its term, and changes nothing. */
    host_cut(&net, 1, 2, 0);
    host_cut(&net, 1, 3, 0);
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, f));
    EU_EXPECT_STR(eu_out(&net, f),
                  "SEND >1 APPEND_RESP t=3 i=0 REJECT hint=0/0");
    ck_assert_uint_eq(craft_engine_term(host_node(&net, f)->e), 3);
    ck_assert_uint_eq(craft_engine_leader(host_node(&net, f)->e), l);
    ck_assert_uint_eq(craft_engine_last_index(host_node(&net, f)->e), 3);
    /* The answer's higher term makes the stale leader step down. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, f, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "ROLE F t=3 l=0 | HS t=3 v=0");
    ck_assert_int_eq(craft_engine_role(host_node(&net, 1)->e),
                     CRAFT_ROLE_FOLLOWER);
    /* Its uncommitted entry 3 is replaced by the new leader's no-op. */
    host_deliver_all(&net);
    heartbeat_round(&net, l);
    heartbeat_round(&net, l);
    ck_assert_msg(strstr(eu_steps_of(&net, 1)->trace.p,
                         "TRUNC i=3 | APPEND i=3 [3O]") != NULL,
                  "%s", eu_steps_of(&net, 1)->trace.p);
    eu_same_log(&net, 1, l);
    ck_assert_uint_eq(host_node(&net, 1)->applied, 3);
    eu_free(&net);
}
END_TEST

START_TEST(stale_leader_steps_down_on_newer_heartbeat)
{
    struct host net;
    eu_hosts(&net, 3, NULL, 1);
    eu_elect(&net, 1);
    heartbeat_round(&net, 1);
    host_cut(&net, 1, 2, 1);
    host_cut(&net, 1, 3, 1);
    uint64_t l = elect_among(&net, (1u << 2) | (1u << 3), 2, 100);
    host_drop(&net, 0, 0, 0);
    host_cut(&net, 1, 2, 0);
    host_cut(&net, 1, 3, 0);
    host_tick(&net, host_node(&net, l));
    ck_assert(host_deliver_one(&net, CRAFT_MSG_HEARTBEAT, l, 1));
    /* A message of a newer term from a leader: follow it. */
    char want[256];
    snprintf(want, sizeof(want),
             "ROLE F t=3 l=%llu | HS t=3 v=0 | SEND >%llu HEARTBEAT_RESP t=3",
             (unsigned long long)l, (unsigned long long)l);
    EU_EXPECT_STR(eu_out(&net, 1), want);
    ck_assert_uint_eq(craft_engine_leader(host_node(&net, 1)->e), l);
    eu_free(&net);
}
END_TEST

/* ---- check-quorum: a minority leader steps down ---------------------- */

START_TEST(minority_leader_steps_down)
{
    struct host net;
    eu_hosts(&net, 5, NULL, 1);
    eu_elect(&net, 1);
    const uint32_t e = host_node(&net, 1)->opts.election_ticks;
    /* Leader ticks 1 .. e-1 with every heartbeat answered. */
    for (uint32_t t = 1; t < e; t++) {
        heartbeat_round(&net, 1);
    }
    /* Tick e: the quorum check passes, then a heartbeat goes out; the
     * partition {1, 2} | {3, 4, 5} forms before 3, 4, 5 can answer it. */
    host_tick(&net, host_node(&net, 1));
    ck_assert_int_eq(craft_engine_role(host_node(&net, 1)->e), CRAFT_ROLE_LEADER);
    for (uint64_t x = 3; x <= 5; x++) {
        host_cut(&net, 1, x, 1);
        host_cut(&net, 2, x, 1);
    }
    host_deliver_all(&net);
    /* A whole election timeout of ticks hearing only from 2. */
    for (uint32_t t = e + 1; t < 2 * e; t++) {
        host_tick(&net, host_node(&net, 1));
        EU_EXPECT_STR(eu_out(&net, 1),
                      "SEND >2 HEARTBEAT t=2 c=2 | SEND >3 HEARTBEAT t=2 c=2 | "
                      "SEND >4 HEARTBEAT t=2 c=2 | SEND >5 HEARTBEAT t=2 c=2");
        host_deliver_all(&net);
    }
    /* Tick 2e: 2 of 5 active, below a quorum: step down, same term. */
    host_tick(&net, host_node(&net, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "ROLE F t=2 l=0");
    ck_assert_uint_eq(craft_engine_term(host_node(&net, 1)->e), 2);
    ck_assert_uint_eq(craft_engine_leader(host_node(&net, 1)->e), 0);
    /* It no longer takes proposals. */
    host_propose(&net, host_node(&net, 1), 3, "x", 1);
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=3 ENOTLEADER i=0 t=0 n=0 l=0");
    /* The majority elects a leader of term 3; after healing, everyone
     * follows it. */
    host_drop(&net, 0, 0, 0);
    uint64_t l = elect_among(&net, (1u << 3) | (1u << 4) | (1u << 5), 2, 200);
    for (uint64_t x = 3; x <= 5; x++) {
        host_cut(&net, 1, x, 0);
        host_cut(&net, 2, x, 0);
    }
    heartbeat_round(&net, l);
    heartbeat_round(&net, l);
    for (uint64_t id = 1; id <= 5; id++) {
        ck_assert_uint_eq(craft_engine_term(host_node(&net, id)->e),
                          craft_engine_term(host_node(&net, l)->e));
        ck_assert_uint_eq(craft_engine_leader(host_node(&net, id)->e), l);
        eu_same_log(&net, id, l);
    }
    eu_free(&net);
}
END_TEST

START_TEST(connected_leader_stays)
{
    struct host net;
    eu_hosts(&net, 5, NULL, 1);
    eu_elect(&net, 1);
    /* With answers, check-quorum never fires. */
    for (int t = 0; t < 200; t++) {
        heartbeat_round(&net, 1);
        ck_assert_int_eq(craft_engine_role(host_node(&net, 1)->e),
                         CRAFT_ROLE_LEADER);
    }
    ck_assert_uint_eq(craft_engine_term(host_node(&net, 1)->e), 2);
    eu_free(&net);
}
END_TEST

/* ---- pre-vote: a rejoining node cannot bump the term ----------------- */

START_TEST(partitioned_node_cannot_bump_term)
{
    struct host net;
    eu_hosts(&net, 3, NULL, 1);
    eu_elect(&net, 1);
    heartbeat_round(&net, 1);
    host_cut(&net, 3, 1, 1);
    host_cut(&net, 3, 2, 1);
    /* 100 ticks of everyone: 3 times out again and again; the cluster
     * commits a proposal meanwhile. */
    int campaigns = 0;
    for (int t = 0; t < 100; t++) {
        if (t == 50) {
            host_propose(&net, host_node(&net, 1), 1, "during", 6);
        }
        for (uint64_t id = 1; id <= 3; id++) {
            host_tick(&net, host_node(&net, id));
        }
        struct host_node *n3 = host_node(&net, 3);
        if (craft_actions_count(n3->acts) > 0) {
            char want[256];
            snprintf(want, sizeof(want),
                     "ROLE P t=2 l=0 | SEND >1 PREVOTE t=3 last=2/2 | "
                     "SEND >2 PREVOTE t=3 last=2/2");
            EU_EXPECT_STR(eu_out(&net, 3), want);
            campaigns++;
        }
        host_deliver_all(&net);
        ck_assert_uint_eq(craft_engine_term(n3->e), 2);
        ck_assert_uint_eq(craft_engine_vote(n3->e), 1); /* from term 2 */
        ck_assert_uint_eq(n3->term, 2); /* nothing durable changed either */
        ck_assert_uint_eq(n3->vote, 1);
    }
    ck_assert_int_ge(campaigns, 5);
    ck_assert_int_eq(craft_engine_role(host_node(&net, 3)->e),
                     CRAFT_ROLE_PRE_CANDIDATE);
    ck_assert_uint_eq(craft_engine_commit_index(host_node(&net, 1)->e), 3);
    /* The partition heals while 3 is mid-pre-vote: its requests reach
     * servers that hear from their leader, which ignore them (no answer,
     * no change). */
    host_cut(&net, 3, 1, 0);
    host_cut(&net, 3, 2, 0);
    eu_tick_until_active(&net, 3, 40);
    ck_assert(host_deliver_one(&net, CRAFT_MSG_PREVOTE, 3, 2));
    EU_EXPECT_STR(eu_out(&net, 2), "");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_PREVOTE, 3, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "");
    /* The leader's next heartbeat brings 3 back, in the same term. */
    host_tick(&net, host_node(&net, 1));
    ck_assert(host_deliver_one(&net, CRAFT_MSG_HEARTBEAT, 1, 3));
    EU_EXPECT_STR(eu_out(&net, 3),
                  "ROLE F t=2 l=1 | SEND >1 HEARTBEAT_RESP t=2");
    host_deliver_all(&net);
    heartbeat_round(&net, 1);
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_uint_eq(craft_engine_term(host_node(&net, id)->e), 2);
        ck_assert_uint_eq(craft_engine_leader(host_node(&net, id)->e), 1);
        eu_same_log(&net, id, 1);
    }
    ck_assert_int_eq(craft_engine_role(host_node(&net, 1)->e), CRAFT_ROLE_LEADER);
    ck_assert_uint_eq(host_node(&net, 3)->applied, 3);
    eu_free(&net);
}
END_TEST

START_TEST(without_prevote_rejoining_node_disrupts)
{
    /* The contrast: with pre_vote off the same partition bumps 3's term,
     * and its first answer after healing deposes the leader. */
    craft_engine_options o = eu_opts(1);
    o.pre_vote = 0;
    struct host net;
    eu_hosts(&net, 3, &o, 1);
    eu_elect(&net, 1);
    heartbeat_round(&net, 1);
    host_cut(&net, 3, 1, 1);
    host_cut(&net, 3, 2, 1);
    for (int t = 0; t < 100; t++) {
        for (uint64_t id = 1; id <= 3; id++) {
            host_tick(&net, host_node(&net, id));
        }
        host_deliver_all(&net);
    }
    uint64_t t3 = craft_engine_term(host_node(&net, 3)->e);
    ck_assert_uint_gt(t3, 3);
    host_cut(&net, 3, 1, 0);
    host_cut(&net, 3, 2, 0);
    heartbeat_round(&net, 1);
    ck_assert_int_ne(craft_engine_role(host_node(&net, 1)->e), CRAFT_ROLE_LEADER);
    ck_assert_uint_ge(craft_engine_term(host_node(&net, 1)->e), t3);
    eu_free(&net);
}
END_TEST

/* ---- leader stickiness ---------------------------------------------- */

START_TEST(follower_with_live_leader_ignores_votes)
{
    struct host net;
    eu_hosts(&net, 3, NULL, 1);
    eu_elect(&net, 1);
    heartbeat_round(&net, 1);
    struct host_node *n2 = host_node(&net, 2);
    struct eu_state before = eu_state_of(n2->e);
    /* A vote request of a higher term with a log as good as anyone's. */
    struct craft_msg m = eu_msg(CRAFT_MSG_VOTE, 3, 2, 9);
    m.index = 2;
    m.log_term = 2;
    host_inject(&net, &m);
    EU_EXPECT_STR(eu_out(&net, 2), "");
    m.type = CRAFT_MSG_PREVOTE;
    host_inject(&net, &m);
    EU_EXPECT_STR(eu_out(&net, 2), "");
    EU_STATE_EQ(eu_state_of(n2->e), before);
    ck_assert_uint_eq(n2->term, 2);
    /* The leader too. */
    m = eu_msg(CRAFT_MSG_VOTE, 3, 1, 9);
    m.index = 2;
    m.log_term = 2;
    host_inject(&net, &m);
    EU_EXPECT_STR(eu_out(&net, 1), "");
    ck_assert_uint_eq(craft_engine_term(host_node(&net, 1)->e), 2);
    ck_assert_int_eq(craft_engine_role(host_node(&net, 1)->e), CRAFT_ROLE_LEADER);
    eu_free(&net);
}
END_TEST

START_TEST(no_stickiness_without_check_quorum)
{
    craft_engine_options o = eu_opts(1);
    o.check_quorum = 0;
    struct host net;
    eu_hosts(&net, 3, &o, 1);
    eu_elect(&net, 1);
    heartbeat_round(&net, 1);
    struct craft_msg m = eu_msg(CRAFT_MSG_VOTE, 3, 2, 9);
    m.index = 2;
    m.log_term = 2;
    host_inject(&net, &m);
    EU_EXPECT_STR(eu_out(&net, 2),
                  "ROLE F t=9 l=0 | HS t=9 v=3 | SEND >3 VOTE_RESP t=9");
    eu_free(&net);
}
END_TEST

/* ---- the vote is durable first, once per term, across restarts ------- */

START_TEST(vote_persisted_before_grant_and_kept)
{
    craft_engine_options o = eu_opts(1);
    o.pre_vote = 0;
    struct host net;
    eu_hosts(&net, 3, &o, 1);
    eu_tick_until_active(&net, 2, 40);
    ck_assert(host_deliver_one(&net, CRAFT_MSG_VOTE, 2, 1));
    EU_EXPECT_STR(eu_out(&net, 1),
                  "ROLE F t=2 l=0 | HS t=2 v=2 | SEND >2 VOTE_RESP t=2");
    ck_assert_uint_eq(host_node(&net, 1)->vote, 2);
    /* 1 restarts from its durable state before 3's request of the same
     * term arrives: it remembers its vote and refuses. */
    host_crash(&net, host_node(&net, 1));
    host_node_start(&net, host_node(&net, 1));
    ck_assert_uint_eq(craft_engine_term(host_node(&net, 1)->e), 2);
    ck_assert_uint_eq(craft_engine_vote(host_node(&net, 1)->e), 2);
    struct craft_msg m = eu_msg(CRAFT_MSG_VOTE, 3, 1, 2);
    m.index = 1;
    m.log_term = 1;
    host_inject(&net, &m);
    EU_EXPECT_STR(eu_out(&net, 1), "SEND >3 VOTE_RESP t=2 REJECT");
    eu_free(&net);
}
END_TEST

/* ---- a server without membership never campaigns -------------------- */

START_TEST(joining_node_never_campaigns)
{
    craft_engine_options o = eu_opts(4);
    craft_engine *e = eu_create(&o);
    craft_actions *a = eu_actions();
    for (int t = 0; t < 1000; t++) {
        EU_STEP_EXPECT(e, a, eu_tick(e, a), "");
    }
    ck_assert_int_eq(craft_engine_role(e), CRAFT_ROLE_FOLLOWER);
    ck_assert_uint_eq(craft_engine_term(e), 0);
    /* A leader brings it in: a configuration that does not include it
     * yet (1, 2, 3), so it still never campaigns, but it follows. */
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = eu_conf(ids3, 3, conf);
    struct craft_entry ents[2] = {{1, CRAFT_ENTRY_CONFIG, (uint32_t)clen, conf,
                                   NULL},
                                  {2, CRAFT_ENTRY_NOOP, 0, NULL, NULL}};
    struct craft_msg m = eu_msg(CRAFT_MSG_APPEND, 1, 4, 2);
    m.commit = 2;
    m.entries = ents;
    m.n_entries = 2;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "ROLE F t=2 l=1 | HS t=2 v=0 | APPEND i=1 [1C,2O] | "
                   "SEND >1 APPEND_RESP t=2 i=2 | APPLY i=1 [1C,2O]");
    for (int t = 0; t < 1000; t++) {
        EU_STEP_EXPECT(e, a, eu_tick(e, a), "");
    }
    ck_assert_uint_eq(craft_engine_term(e), 2);
    craft_actions_free(a);
    craft_engine_free(e);

    /* A restarted server whose configuration leaves it out: the same. */
    e = eu_engine(NULL, 4, 3, 0, ids3, 3, (const uint64_t[]){1, 2}, 2);
    a = eu_actions();
    for (int t = 0; t < 1000; t++) {
        EU_STEP_EXPECT(e, a, eu_tick(e, a), "");
    }
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_election");
    TCase *tc = tcase_create("election");
    tcase_add_test(tc, split_vote_then_higher_term_wins);
    tcase_add_test(tc, vote_denied_to_older_log);
    tcase_add_test(tc, candidate_with_stale_log_loses);
    tcase_add_test(tc, candidate_refused_by_majority_steps_back);
    tcase_add_test(tc, vote_persisted_before_grant_and_kept);
    tcase_add_test(tc, joining_node_never_campaigns);
    suite_add_tcase(s, tc);

    tc = tcase_create("stale_leader");
    tcase_add_test(tc, stale_leader_append_rejected_and_steps_down);
    tcase_add_test(tc, stale_leader_steps_down_on_newer_heartbeat);
    suite_add_tcase(s, tc);

    tc = tcase_create("check_quorum");
    tcase_add_test(tc, minority_leader_steps_down);
    tcase_add_test(tc, connected_leader_stays);
    suite_add_tcase(s, tc);

    tc = tcase_create("prevote");
    tcase_add_test(tc, partitioned_node_cannot_bump_term);
    tcase_add_test(tc, without_prevote_rejoining_node_disrupts);
    tcase_add_test(tc, follower_with_live_leader_ignores_votes);
    tcase_add_test(tc, no_stickiness_without_check_quorum);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
