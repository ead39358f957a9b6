/*
 * tests/unit/test_engine_events.c: every event type of the engine core
 * (TICK, MESSAGE, PROPOSE, PERSISTED, BOOTSTRAP) with the exact actions it
 * produces: types, order and every field, messages decoded.
 */
#include "engine_util.h"
#include "harness.h"

static const uint64_t ids3[] = {1, 2, 3};
static const uint64_t t1[] = {1};

/* Three bootstrapped engines; node 1 leads term 2 with its no-op (entry 2)
 * committed everywhere and both followers in REPLICATE. */
static void leader3(struct host *net, const craft_engine_options *o)
{
    eu_hosts(net, 3, o, 1);
    eu_elect(net, 1);
    /* A heartbeat: the followers learn commit 2. */
    for (uint32_t t = 0; t < host_node(net, 1)->opts.heartbeat_ticks; t++) {
        host_tick(net, host_node(net, 1));
    }
    host_deliver_all(net);
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_uint_eq(craft_engine_commit_index(host_node(net, id)->e), 2);
        ck_assert_uint_eq(host_node(net, id)->applied, 2);
    }
}

/* ---- BOOTSTRAP ------------------------------------------------------ */

START_TEST(bootstrap_persists_term_and_config)
{
    craft_engine_options o = eu_opts(2);
    craft_engine *e = eu_create(&o);
    craft_actions *a = eu_actions();
    EU_STEP_EXPECT(e, a, eu_bootstrap(e, a, ids3, 3),
                   "HS t=1 v=0 | APPEND i=1 [1C]");
    /* The CONFIG payload is the membership 1, 2, 3, all voters. */
    const void *d;
    size_t len;
    ck_assert_int_eq(craft_action_entry(a, 1, 0, NULL, NULL, &d, &len),
                     CRAFT_OK);
    struct craft_conf c;
    ck_assert_int_eq(craft_conf_decode(d, len, &c), CRAFT_OK);
    ck_assert_uint_eq(c.n, 3);
    for (uint32_t k = 0; k < 3; k++) {
        ck_assert_uint_eq(c.m[k].id, ids3[k]);
        ck_assert_uint_eq(c.m[k].role, CRAFT_MEMBER_VOTER);
    }
    ck_assert_uint_eq(craft_engine_term(e), 1);
    ck_assert_uint_eq(craft_engine_vote(e), 0);
    ck_assert_uint_eq(craft_engine_last_index(e), 1);
    ck_assert_uint_eq(craft_engine_last_term(e), 1);
    ck_assert_uint_eq(craft_engine_commit_index(e), 0);
    ck_assert_int_eq(craft_engine_role(e), CRAFT_ROLE_FOLLOWER);
    ck_assert_uint_eq(craft_engine_leader(e), 0);
    /* The host reports the write: a follower has nothing to do. */
    EU_STEP_EXPECT(e, a, eu_persisted(e, a, 1, 1), "");
    ck_assert_uint_eq(craft_engine_persisted_index(e), 1);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(bootstrap_single_node_elects_itself)
{
    static const uint64_t one[] = {1};
    craft_engine_options o = eu_opts(1);
    craft_engine *e = eu_create(&o);
    craft_actions *a = eu_actions();
    EU_STEP_EXPECT(e, a, eu_bootstrap(e, a, one, 1),
                   "HS t=1 v=0 | APPEND i=1 [1C]");
    EU_STEP_EXPECT(e, a, eu_persisted(e, a, 1, 1), "");
    int ticks = 0;
    do {
        ck_assert_int_eq(eu_tick(e, a), CRAFT_OK);
        ticks++;
    } while (craft_actions_count(a) == 0 && ticks < 100);
    /* Timeout in [10, 20). The pre-vote is won at once, the vote too. */
    ck_assert_int_ge(ticks, 10);
    ck_assert_int_lt(ticks, 20);
    EU_EXPECT(e, a,
              "ROLE P t=1 l=0 | ROLE C t=2 l=0 | ROLE L t=2 l=1 | "
              "HS t=2 v=1 | APPEND i=2 [2O]");
    /* Alone, the leader commits as soon as its own write is durable. */
    EU_STEP_EXPECT(e, a, eu_persisted(e, a, 2, 2), "APPLY i=1 [1C,2O]");
    ck_assert_uint_eq(craft_engine_commit_index(e), 2);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(single_node_commits_on_own_persist)
{
    static const uint64_t one[] = {1};
    craft_engine *e = eu_engine(NULL, 1, 2, 1, one, 1,
                                (const uint64_t[]){1, 2}, 2);
    craft_actions *a = eu_actions();
    int t = 0;
    do {
        ck_assert_int_eq(eu_tick(e, a), CRAFT_OK);
    } while (craft_actions_count(a) == 0 && ++t < 40);
    EU_EXPECT(e, a,
              "ROLE P t=2 l=0 | ROLE C t=3 l=0 | ROLE L t=3 l=1 | "
              "HS t=3 v=1 | APPEND i=3 [3O]");
    /* An empty payload is a valid proposal. */
    craft_buf b[2] = {{NULL, 0}, {"x", 1}};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.id = 3;
    ev.bufs = b;
    ev.nbufs = 2;
    EU_STEP_EXPECT(e, a, craft_engine_step(e, &ev, a),
                   "RESULT id=3 OK i=4 t=3 n=2 l=1 | APPEND i=4 [3N,3N]");
    size_t len = 9;
    ck_assert_int_eq(craft_action_entry(a, 1, 0, NULL, NULL, NULL, &len),
                     CRAFT_OK);
    ck_assert_uint_eq(len, 0);
    /* Durable up to the no-op only: commit (and apply) that far. */
    EU_STEP_EXPECT(e, a, eu_persisted(e, a, 3, 3), "APPLY i=1 [1C,2N,3O]");
    EU_STEP_EXPECT(e, a, eu_persisted(e, a, 5, 3), "APPLY i=4 [3N,3N]");
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

/* ---- TICK ----------------------------------------------------------- */

/* Ticks a fresh follower until its election timeout fires; asserts the
 * quiet ticks before produced nothing. */
static int tick_to_timeout(craft_engine *e, craft_actions *a)
{
    for (int t = 1; t <= 40; t++) {
        ck_assert_int_eq(eu_tick(e, a), CRAFT_OK);
        if (craft_actions_count(a) > 0) {
            return t;
        }
    }
    ck_abort_msg("no election timeout within 40 ticks");
    return -1;
}

START_TEST(tick_follower_timeout_prevote)
{
    /* Entries 1 (config, term 1), 2 and 3 (term 3); hard state term 4. */
    static const uint64_t terms[] = {1, 3, 3};
    craft_engine *e = eu_engine(NULL, 1, 4, 0, ids3, 3, terms, 3);
    craft_actions *a = eu_actions();
    int t = tick_to_timeout(e, a);
    ck_assert_int_ge(t, 10);
    ck_assert_int_lt(t, 20);
    /* Pre-vote (thesis §9.6): role change, PREVOTE for term 5 with the
     * last log index/term to every other voter, and no hard state. */
    EU_EXPECT(e, a,
              "ROLE P t=4 l=0 | SEND >2 PREVOTE t=5 last=3/3 | "
              "SEND >3 PREVOTE t=5 last=3/3");
    ck_assert_uint_eq(craft_engine_term(e), 4);
    ck_assert_uint_eq(craft_engine_vote(e), 0);
    ck_assert_int_eq(craft_engine_role(e), CRAFT_ROLE_PRE_CANDIDATE);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(tick_follower_timeout_no_prevote)
{
    static const uint64_t terms[] = {1, 3, 3};
    craft_engine_options o = eu_opts(1);
    o.pre_vote = 0;
    craft_engine *e = eu_engine(&o, 1, 4, 0, ids3, 3, terms, 3);
    craft_actions *a = eu_actions();
    tick_to_timeout(e, a);
    /* §5.2: term + 1 and the vote for itself are durable before any
     * RequestVote leaves. */
    EU_EXPECT(e, a,
              "ROLE C t=5 l=0 | HS t=5 v=1 | SEND >2 VOTE t=5 last=3/3 | "
              "SEND >3 VOTE t=5 last=3/3");
    ck_assert_uint_eq(craft_engine_term(e), 5);
    ck_assert_uint_eq(craft_engine_vote(e), 1);
    ck_assert_int_eq(craft_engine_role(e), CRAFT_ROLE_CANDIDATE);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(tick_candidate_timeout_starts_new_term)
{
    craft_engine_options o = eu_opts(2);
    o.pre_vote = 0;
    craft_engine *e = eu_engine(&o, 2, 1, 0, ids3, 3, t1, 1);
    craft_actions *a = eu_actions();
    tick_to_timeout(e, a);
    EU_EXPECT(e, a,
              "ROLE C t=2 l=0 | HS t=2 v=2 | SEND >1 VOTE t=2 last=1/1 | "
              "SEND >3 VOTE t=2 last=1/1");
    /* Nobody answers: the next timeout (again in [10, 20)) starts term 3. */
    int t = tick_to_timeout(e, a);
    ck_assert_int_ge(t, 10);
    ck_assert_int_lt(t, 20);
    EU_EXPECT(e, a,
              "ROLE C t=3 l=0 | HS t=3 v=2 | SEND >1 VOTE t=3 last=1/1 | "
              "SEND >3 VOTE t=3 last=1/1");
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(tick_leader_heartbeats)
{
    struct host net;
    leader3(&net, NULL);
    host_tick(&net, host_node(&net, 1));
    EU_EXPECT_STR(eu_out(&net, 1),
                  "SEND >2 HEARTBEAT t=2 c=2 | SEND >3 HEARTBEAT t=2 c=2");
    /* A follower answers a heartbeat, and learns nothing new. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_HEARTBEAT, 1, 2));
    EU_EXPECT_STR(eu_out(&net, 2), "SEND >1 HEARTBEAT_RESP t=2");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_HEARTBEAT_RESP, 2, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "");
    eu_free(&net);
}
END_TEST

START_TEST(tick_heartbeat_period)
{
    craft_engine_options o = eu_opts(1);
    o.heartbeat_ticks = 3;
    struct host net;
    leader3(&net, &o);
    host_deliver_all(&net);
    /* Heartbeats every third tick only. */
    host_tick(&net, host_node(&net, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "");
    host_tick(&net, host_node(&net, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "");
    host_tick(&net, host_node(&net, 1));
    EU_EXPECT_STR(eu_out(&net, 1),
                  "SEND >2 HEARTBEAT t=2 c=2 | SEND >3 HEARTBEAT t=2 c=2");
    eu_free(&net);
}
END_TEST

/* The election timeout is random in [e, 2e) and a function of the seed
 * only: the same seed gives the same actions, byte for byte. */
START_TEST(tick_timeout_random_and_deterministic)
{
    int seen[20] = {0};
    for (uint64_t seed = 1; seed <= 200; seed++) {
        craft_engine_options o = eu_opts(1);
        o.seed = seed;
        craft_engine *x = eu_engine(&o, 1, 1, 0, ids3, 3, t1, 1);
        craft_engine *y = eu_engine(&o, 1, 1, 0, ids3, 3, t1, 1);
        craft_actions *ax = eu_actions(), *ay = eu_actions();
        int t = 0;
        do {
            ck_assert_int_eq(eu_tick(x, ax), CRAFT_OK);
            ck_assert_int_eq(eu_tick(y, ay), CRAFT_OK);
            eu_actions_eq(ax, ay);
            t++;
        } while (craft_actions_count(ax) == 0 && t < 40);
        ck_assert_int_ge(t, 10);
        ck_assert_int_lt(t, 20);
        seen[t]++;
        craft_actions_free(ax);
        craft_actions_free(ay);
        craft_engine_free(x);
        craft_engine_free(y);
    }
    for (int t = 10; t < 20; t++) {
        ck_assert_msg(seen[t] > 0, "timeout %d never drawn", t);
    }
}
END_TEST

START_TEST(tick_quiet_before_timeout)
{
    craft_engine *e = eu_engine(NULL, 1, 1, 0, ids3, 3, t1, 1);
    craft_actions *a = eu_actions();
    /* The timeout is at least election_ticks (10). */
    for (int t = 0; t < 9; t++) {
        EU_STEP_EXPECT(e, a, eu_tick(e, a), "");
    }
    ck_assert_int_eq(craft_engine_role(e), CRAFT_ROLE_FOLLOWER);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

/* ---- MESSAGE -------------------------------------------------------- */

START_TEST(message_append_written_before_ack)
{
    craft_engine *e = eu_engine(NULL, 2, 1, 0, ids3, 3, t1, 1);
    craft_actions *a = eu_actions();
    /* The leader of term 2 sends its no-op and a user entry. */
    uint8_t p[5] = "hello";
    struct craft_entry ents[2] = {{2, CRAFT_ENTRY_NOOP, 0, NULL, NULL},
                                  {2, CRAFT_ENTRY_NORMAL, 5, p, NULL}};
    struct craft_msg m = eu_msg(CRAFT_MSG_APPEND, 1, 2, 2);
    m.index = 1;
    m.log_term = 1;
    m.commit = 1;
    m.entries = ents;
    m.n_entries = 2;
    /* New term, new leader: role change and hard state; the entries are
     * written (APPEND) before the acknowledgement is sent (Figure 2); the
     * leader's commit index 1 makes entry 1 applicable. */
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "ROLE F t=2 l=1 | HS t=2 v=0 | APPEND i=2 [2O,2N] | "
                   "SEND >1 APPEND_RESP t=2 i=3 | APPLY i=1 [1C]");
    const void *d;
    size_t len;
    ck_assert_int_eq(craft_action_entry(a, 2, 1, NULL, NULL, &d, &len),
                     CRAFT_OK);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(d, "hello", 5);
    ck_assert_uint_eq(craft_engine_leader(e), 1);
    ck_assert_uint_eq(craft_engine_commit_index(e), 1);
    /* The host's report of the write changes nothing for a follower. */
    EU_STEP_EXPECT(e, a, eu_persisted(e, a, 3, 2), "");
    /* A second append of the same leader: no role change, no hard state. */
    struct craft_entry e4 = {2, CRAFT_ENTRY_NORMAL, 5, p, NULL};
    m.index = 3;
    m.log_term = 2;
    m.commit = 3;
    m.entries = &e4;
    m.n_entries = 1;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "APPEND i=4 [2N] | SEND >1 APPEND_RESP t=2 i=4 | "
                   "APPLY i=2 [2O,2N]");
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(message_vote_granted_after_persist)
{
    craft_engine *e = eu_engine(NULL, 3, 1, 0, ids3, 3, t1, 1);
    craft_actions *a = eu_actions();
    struct craft_msg m = eu_msg(CRAFT_MSG_VOTE, 1, 3, 2);
    m.index = 1;
    m.log_term = 1;
    /* The vote is durable (HS) before the grant leaves. */
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "ROLE F t=2 l=0 | HS t=2 v=1 | SEND >1 VOTE_RESP t=2");
    /* (A retransmitted request: see test_engine_regress.c.) */
    /* Another candidate of the same term is refused. */
    m.from = 2;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "SEND >2 VOTE_RESP t=2 REJECT");
    ck_assert_uint_eq(craft_engine_vote(e), 1);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(message_prevote_changes_nothing)
{
    craft_engine *e = eu_engine(NULL, 3, 1, 0, ids3, 3, t1, 1);
    craft_actions *a = eu_actions();
    struct craft_msg m = eu_msg(CRAFT_MSG_PREVOTE, 1, 3, 2);
    m.index = 1;
    m.log_term = 1;
    /* Granted in the term asked about; no term change, no vote. */
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m), "SEND >1 PREVOTE_RESP t=2");
    ck_assert_uint_eq(craft_engine_term(e), 1);
    ck_assert_uint_eq(craft_engine_vote(e), 0);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(message_heartbeat_commits)
{
    craft_engine *e = eu_engine(NULL, 2, 2, 0, ids3, 3,
                                (const uint64_t[]){1, 2}, 2);
    craft_actions *a = eu_actions();
    struct craft_msg m = eu_msg(CRAFT_MSG_HEARTBEAT, 1, 2, 2);
    m.commit = 2;
    EU_STEP_EXPECT(e, a, eu_inject(e, a, &m),
                   "ROLE F t=2 l=1 | SEND >1 HEARTBEAT_RESP t=2 | "
                   "APPLY i=1 [1C,2N]");
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

/* ---- PROPOSE -------------------------------------------------------- */

START_TEST(propose_leader_replicates_then_writes)
{
    struct host net;
    leader3(&net, NULL);
    uint8_t p[64];
    memset(p, 0xab, sizeof(p));
    host_propose(&net, host_node(&net, 1), 7, p, sizeof(p));
    /* The receipt, the appends to the followers, and the leader's own
     * write last: it runs in parallel with replication (thesis §10.2.1). */
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=7 OK i=3 t=2 n=1 l=1 | "
                  "SEND >2 APPEND t=2 prev=2/2 c=2 [2N] | "
                  "SEND >3 APPEND t=2 prev=2/2 c=2 [2N] | APPEND i=3 [2N]");
    eu_free(&net);
}
END_TEST

START_TEST(propose_follower_not_leader)
{
    struct host net;
    leader3(&net, NULL);
    host_propose(&net, host_node(&net, 2), 9, "x", 1);
    /* Not an error of the call: a result with the leader hint. */
    EU_EXPECT_STR(eu_out(&net, 2),
                  "RESULT id=9 ENOTLEADER i=0 t=0 n=0 l=1");
    ck_assert_uint_eq(craft_engine_last_index(host_node(&net, 2)->e), 2);
    eu_free(&net);

    /* A follower that knows no leader: hint CRAFT_NONE. */
    craft_engine *e = eu_engine(NULL, 2, 1, 0, ids3, 3, t1, 1);
    craft_actions *a = eu_actions();
    EU_STEP_EXPECT(e, a, eu_propose(e, a, 10, "x", 1),
                   "RESULT id=10 ENOTLEADER i=0 t=0 n=0 l=0");
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(propose_batch_is_one_append)
{
    struct host net;
    leader3(&net, NULL);
    craft_buf bufs[100];
    uint8_t data[100][8];
    for (int k = 0; k < 100; k++) {
        memset(data[k], k, sizeof(data[k]));
        bufs[k].base = data[k];
        bufs[k].len = sizeof(data[k]);
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.id = 42;
    ev.bufs = bufs;
    ev.nbufs = 100;
    struct host_node *ld = host_node(&net, 1);
    ld->hold_persist = 1;
    host_step(&net, ld, &ev);
    /* One receipt for indexes 3..102, one message per follower, and
     * exactly one APPEND action of the 100 entries. */
    EU_EXPECT_STR(eu_out(&net, 1),
                  "RESULT id=42 OK i=3 t=2 n=100 l=1 | "
                  "SEND >2 APPEND t=2 prev=2/2 c=2 [2N*100] | "
                  "SEND >3 APPEND t=2 prev=2/2 c=2 [2N*100] | "
                  "APPEND i=3 [2N*100]");
    for (size_t k = 0; k < 100; k++) {
        const void *d;
        size_t len;
        ck_assert_int_eq(craft_action_entry(ld->acts, 3, k, NULL, NULL, &d, &len),
                         CRAFT_OK);
        ck_assert_uint_eq(len, 8);
        ck_assert_mem_eq(d, data[k], 8);
    }
    /* The payloads were copied: the caller's buffers may go. */
    memset(data, 0, sizeof(data));
    host_persist_pending(&net, host_node(&net, 1));
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, 2));
    EU_EXPECT_STR(eu_out(&net, 2),
                  "APPEND i=3 [2N*100] | SEND >1 APPEND_RESP t=2 i=102");
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 2, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "APPLY i=3 [2N*100]");
    for (uint64_t i = 3; i <= 102; i++) {
        ck_assert_uint_eq(host_entry_at(host_node(&net, 2), i)->data.p[0], (uint8_t)(i - 3));
    }
    eu_free(&net);
}
END_TEST

/* ---- PERSISTED and commit ------------------------------------------- */

START_TEST(commit_needs_leader_persist_and_one_ack)
{
    struct host net;
    leader3(&net, NULL);
    struct host_node *ld = host_node(&net, 1);
    ld->hold_persist = 1;
    host_propose(&net, host_node(&net, 1), 1, "a", 1);
    /* Follower 2 acks; the leader's own write is not durable yet, so one
     * of three copies is known durable: no commit. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, 2));
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 2, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "");
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 2);
    /* Now the leader's write is durable: 2 of 3, entry 3 commits. */
    host_persist(&net, host_node(&net, 1), 3, 2);
    EU_EXPECT_STR(eu_out(&net, 1), "APPLY i=3 [2N]");
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 3);
    ck_assert_uint_eq(craft_engine_persisted_index(ld->e), 3);
    eu_free(&net);
}
END_TEST

START_TEST(commit_by_followers_alone)
{
    struct host net;
    leader3(&net, NULL);
    struct host_node *ld = host_node(&net, 1);
    ld->hold_persist = 1;
    host_propose(&net, host_node(&net, 1), 1, "a", 1);
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, 2));
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, 3));
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 2, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "");
    /* Both followers hold it durably: a quorum without the leader. */
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 3, 1));
    EU_EXPECT_STR(eu_out(&net, 1), "APPLY i=3 [2N]");
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 3);
    ck_assert_uint_eq(craft_engine_persisted_index(ld->e), 2);
    /* The late report of its own write changes nothing more. */
    host_persist(&net, host_node(&net, 1), 3, 2);
    EU_EXPECT_STR(eu_out(&net, 1), "");
    ck_assert_uint_eq(craft_engine_persisted_index(ld->e), 3);
    eu_free(&net);
}
END_TEST

START_TEST(persisted_stale_or_bogus_is_ignored)
{
    struct host net;
    leader3(&net, NULL);
    struct host_node *ld = host_node(&net, 1);
    ld->hold_persist = 1;
    host_propose(&net, host_node(&net, 1), 1, "a", 1);
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND, 1, 2));
    ck_assert(host_deliver_one(&net, CRAFT_MSG_APPEND_RESP, 2, 1));
    /* A report whose term is not the entry's (a write that was replaced):
     * ignored, so the leader still does not count itself. */
    host_persist(&net, host_node(&net, 1), 3, 1);
    EU_EXPECT_STR(eu_out(&net, 1), "");
    ck_assert_uint_eq(craft_engine_persisted_index(ld->e), 2);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 2);
    host_persist(&net, host_node(&net, 1), 3, 3);
    EU_EXPECT_STR(eu_out(&net, 1), "");
    ck_assert_uint_eq(craft_engine_persisted_index(ld->e), 2);
    /* Past the end of the log: ignored. */
    host_persist(&net, host_node(&net, 1), 4, 2);
    EU_EXPECT_STR(eu_out(&net, 1), "");
    ck_assert_uint_eq(craft_engine_persisted_index(ld->e), 2);
    /* An older index than already durable: ignored. */
    host_persist(&net, host_node(&net, 1), 1, 1);
    EU_EXPECT_STR(eu_out(&net, 1), "");
    ck_assert_uint_eq(craft_engine_persisted_index(ld->e), 2);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 2);
    /* The right report commits. */
    host_persist(&net, host_node(&net, 1), 3, 2);
    EU_EXPECT_STR(eu_out(&net, 1), "APPLY i=3 [2N]");
    eu_free(&net);
}
END_TEST

/* ---- coalesced durability reports (CRAFT_EVENT_F_PERSISTED) -------- */

START_TEST(report_rides_on_propose_and_tick)
{
    static const uint64_t one[] = {1};
    craft_engine *e = eu_engine(NULL, 1, 2, 1, one, 1,
                                (const uint64_t[]){1, 2}, 2);
    craft_actions *a = eu_actions();
    int t = 0;
    do {
        ck_assert_int_eq(eu_tick(e, a), CRAFT_OK);
    } while (craft_actions_count(a) == 0 && ++t < 40);
    EU_EXPECT(e, a,
              "ROLE P t=2 l=0 | ROLE C t=3 l=0 | ROLE L t=3 l=1 | "
              "HS t=3 v=1 | APPEND i=3 [3O]");
    /* The no-op's report rides on the next proposal: one list holds what
     * the report does (commit and apply through 3) and the proposal's
     * own actions. */
    craft_buf b = {"x", 1};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.id = 3;
    ev.bufs = &b;
    ev.nbufs = 1;
    ev.flags = CRAFT_EVENT_F_PERSISTED;
    ev.index = 3;
    ev.term = 3;
    EU_STEP_EXPECT(e, a, craft_engine_step(e, &ev, a),
                   "RESULT id=3 OK i=4 t=3 n=1 l=1 | APPEND i=4 [3N] | "
                   "APPLY i=1 [1C,2N,3O]");
    ck_assert_uint_eq(craft_engine_persisted_index(e), 3);
    /* On a tick. */
    craft_event tick = CRAFT_EVENT_INIT;
    tick.type = CRAFT_EVENT_TICK;
    tick.flags = CRAFT_EVENT_F_PERSISTED;
    tick.index = 4;
    tick.term = 3;
    EU_STEP_EXPECT(e, a, craft_engine_step(e, &tick, a), "APPLY i=4 [3N]");
    ck_assert_uint_eq(craft_engine_persisted_index(e), 4);
    /* A stale report rides along harmlessly, as a PERSISTED event would. */
    tick.index = 4;
    tick.term = 2;
    EU_STEP_EXPECT(e, a, craft_engine_step(e, &tick, a), "");
    ck_assert_uint_eq(craft_engine_persisted_index(e), 4);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

START_TEST(report_refused_where_index_is_used)
{
    static const uint64_t one[] = {1};
    craft_engine_options o = eu_opts(1);
    craft_engine *e = eu_create(&o);
    craft_actions *a = eu_actions();
    /* Entry 1 written, not reported durable yet. */
    EU_STEP_EXPECT(e, a, eu_bootstrap(e, a, one, 1),
                   "HS t=1 v=0 | APPEND i=1 [1C]");
    static const uint32_t types[] = {
        CRAFT_EVENT_PERSISTED, CRAFT_EVENT_BOOTSTRAP,
        CRAFT_EVENT_SNAPSHOT_TAKEN, CRAFT_EVENT_SNAPSHOT_CHUNK};
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = types[k];
        ev.flags = CRAFT_EVENT_F_PERSISTED;
        ev.index = 1;
        ev.term = 1;
        ev.peer = 2;
        ev.ids = one;
        ev.nids = 1;
        ck_assert_int_eq(craft_engine_step(e, &ev, a), CRAFT_EINVAL);
        ck_assert_uint_eq(craft_actions_count(a), 0);
        ck_assert_uint_eq(craft_engine_persisted_index(e), 0);
    }
    /* A MESSAGE that does not decode: the step fails and the report is
     * not taken either. */
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = "garbage!!";
    ev.len = 9;
    ev.flags = CRAFT_EVENT_F_PERSISTED;
    ev.index = 1;
    ev.term = 1;
    ck_assert_int_ne(craft_engine_step(e, &ev, a), CRAFT_OK);
    ck_assert_uint_eq(craft_engine_persisted_index(e), 0);
    /* The same report on a tick is taken. */
    ev.type = CRAFT_EVENT_TICK;
    EU_STEP_EXPECT(e, a, craft_engine_step(e, &ev, a), "");
    ck_assert_uint_eq(craft_engine_persisted_index(e), 1);
    craft_actions_free(a);
    craft_engine_free(e);
}
END_TEST

/* The reference host's coalesce_persist: each follower's report rides on
 * its next message, the leader's on the first answer; a round of one
 * proposal takes five steps instead of eight, and commits the same. */
START_TEST(report_coalesced_by_host)
{
    struct host net;
    leader3(&net, NULL);
    net.coalesce_persist = 1;
    uint64_t before[4];
    for (uint64_t id = 1; id <= 3; id++) {
        before[id] = host_node(&net, id)->steps;
    }
    host_propose(&net, host_node(&net, 1), 1, "a", 1);
    host_deliver_all(&net);
    struct host_node *ld = host_node(&net, 1);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 3);
    ck_assert_uint_eq(ld->applied, 3);
    ck_assert_uint_eq(craft_engine_persisted_index(ld->e), 3);
    ck_assert_uint_eq(ld->steps - before[1], 3); /* PROPOSE, 2 answers */
    for (uint64_t id = 2; id <= 3; id++) {
        struct host_node *f = host_node(&net, id);
        ck_assert_uint_eq(f->steps - before[id], 1); /* the APPEND */
        /* Its write waits for its next step to be reported. */
        ck_assert_uint_eq(craft_engine_persisted_index(f->e), 2);
        ck_assert_uint_eq(f->pending_index, 3);
        host_tick(&net, f);
        ck_assert_uint_eq(craft_engine_persisted_index(f->e), 3);
        ck_assert_uint_eq(f->pending_index, 0);
    }
    eu_free(&net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_events");
    TCase *tc = tcase_create("bootstrap");
    tcase_add_test(tc, bootstrap_persists_term_and_config);
    tcase_add_test(tc, bootstrap_single_node_elects_itself);
    tcase_add_test(tc, single_node_commits_on_own_persist);
    suite_add_tcase(s, tc);

    tc = tcase_create("tick");
    tcase_add_test(tc, tick_follower_timeout_prevote);
    tcase_add_test(tc, tick_follower_timeout_no_prevote);
    tcase_add_test(tc, tick_candidate_timeout_starts_new_term);
    tcase_add_test(tc, tick_leader_heartbeats);
    tcase_add_test(tc, tick_heartbeat_period);
    tcase_add_test(tc, tick_quiet_before_timeout);
    tcase_add_test(tc, tick_timeout_random_and_deterministic);
    suite_add_tcase(s, tc);

    tc = tcase_create("message");
    tcase_add_test(tc, message_append_written_before_ack);
    tcase_add_test(tc, message_vote_granted_after_persist);
    tcase_add_test(tc, message_prevote_changes_nothing);
    tcase_add_test(tc, message_heartbeat_commits);
    suite_add_tcase(s, tc);

    tc = tcase_create("propose");
    tcase_add_test(tc, propose_leader_replicates_then_writes);
    tcase_add_test(tc, propose_follower_not_leader);
    tcase_add_test(tc, propose_batch_is_one_append);
    suite_add_tcase(s, tc);

    tc = tcase_create("persisted");
    tcase_add_test(tc, commit_needs_leader_persist_and_one_ack);
    tcase_add_test(tc, commit_by_followers_alone);
    tcase_add_test(tc, persisted_stale_or_bogus_is_ignored);
    tcase_add_test(tc, report_rides_on_propose_and_tick);
    tcase_add_test(tc, report_refused_where_index_is_used);
    tcase_add_test(tc, report_coalesced_by_host);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
