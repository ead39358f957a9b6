/*
 * Linearizable reads (thesis §6.4 ReadIndex, §6.4.1 leases):
 * when a READ_RESULT may be given, what a round of heartbeats confirms,
 * reads forwarded by followers, lease reads, and failing fast.
 */
#include "engine_util.h"
#include "harness.h"

static struct host C;

static void read_raw(struct host_node *nd, uint64_t id)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_READ;
    ev.id = id;
    host_step_raw(&C, nd, &ev);
}

static void others(uint64_t l, uint64_t *a, uint64_t *b)
{
    *a = l == 1 ? 2 : 1;
    *b = 6 - l - *a;
}

/*
 * ReadIndex: the read gets the commit index at once but is answered only
 * after a quorum acknowledged heartbeats sent after it arrived. Acks of
 * an earlier heartbeat do not count.
 */
START_TEST(read_waits_for_quorum_confirmed_after_request)
{
    eu_init(&C, 3, 1);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    uint64_t commit = craft_engine_commit_index(ld->e);

    /* A heartbeat goes out before the read; its acks are held back. */
    C.hold[a][l] = C.hold[b][l] = 1;
    host_tick(&C, ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(host_queued(&C, CRAFT_MSG_HEARTBEAT_RESP, 0, l), 2);

    read_raw(ld, 42);
    /* No READ_RESULT yet: a new round of heartbeats, one per follower. */
    ck_assert_uint_eq(craft_actions_count(ld->acts), 2);
    ck_assert_uint_eq(eu_count_sends(ld->acts, CRAFT_MSG_HEARTBEAT, a), 1);
    ck_assert_uint_eq(eu_count_sends(ld->acts, CRAFT_MSG_HEARTBEAT, b), 1);
    struct craft_msg hb;
    eu_action_msg(ld->acts, 0, &hb);
    uint64_t round = hb.ctx;
    host_execute(&C, ld);

    /* The old acks (earlier round) arrive: still no answer. */
    struct host_msg m;
    for (int k = 0; k < 2; k++) {
        host_take_msg(&C, CRAFT_MSG_HEARTBEAT_RESP, 0, l, &m);
        struct craft_msg d;
        eu_decode(m.bytes, m.len, &d);
        ck_assert_uint_lt(d.ctx, round);
        host_deliver_raw(&C, &m);
        ck_assert_int_eq(eu_count_type(ld->acts, CRAFT_ACTION_READ_RESULT),
                         0);
        host_execute(&C, ld);
    }
    /* The new heartbeats reach the followers; their acks come back one at
     * a time: one follower plus the leader is a quorum of three. */
    C.hold[a][l] = C.hold[b][l] = 0;
    C.hold[l][a] = C.hold[l][b] = 0;
    host_deliver(&C, 2); /* the two heartbeats */
    ck_assert_uint_eq(host_queued(&C, CRAFT_MSG_HEARTBEAT_RESP, 0, l), 2);
    host_take_msg(&C, CRAFT_MSG_HEARTBEAT_RESP, a, l, &m);
    host_deliver_raw(&C, &m);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_READ_RESULT);
    ck_assert_uint_eq(craft_action_id(ld->acts, 0), 42);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_OK);
    ck_assert_uint_eq(craft_action_index(ld->acts, 0), commit);
    ck_assert_uint_eq(craft_action_leader(ld->acts, 0), l);
    host_execute(&C, ld);
    /* The second ack changes nothing. */
    host_take_msg(&C, CRAFT_MSG_HEARTBEAT_RESP, b, l, &m);
    host_deliver_raw(&C, &m);
    ck_assert_int_eq(eu_count_type(ld->acts, CRAFT_ACTION_READ_RESULT), 0);
    host_execute(&C, ld);
    host_free(&C);
}
END_TEST

/* The read index is the commit index when the read arrived: entries
 * proposed later are not waited for. */
START_TEST(read_index_is_commit_at_arrival)
{
    eu_init(&C, 3, 2);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    host_propose(&C, ld, 1, "x", 1);
    host_deliver_all(&C);
    uint64_t commit = craft_engine_commit_index(ld->e);
    ck_assert_uint_eq(commit, 3);
    host_event(&C, ld, CRAFT_EVENT_READ, 5, 0);
    host_propose(&C, ld, 2, "y", 1); /* index 4, after the read */
    host_deliver_all(&C);
    struct host_result r = host_result1(ld, CRAFT_ACTION_READ_RESULT, 5);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.index, 3);
    host_free(&C);
}
END_TEST

/* Condition (a): until the leader's no-op commits its commit index may lag,
 * so reads fail fast with CRAFT_ENOTREADY. */
START_TEST(not_ready_before_leader_commits_in_its_term)
{
    eu_init(&C, 3, 3);
    C.drop_type[CRAFT_MSG_APPEND_RESP] = 1;
    uint64_t l = host_elect(&C, 100);
    ck_assert_uint_ne(l, 0);
    struct host_node *ld = host_node(&C, l);
    host_deliver_all(&C);
    ck_assert_uint_lt(craft_engine_commit_index(ld->e),
                      craft_engine_last_index(ld->e));
    read_raw(ld, 7);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_READ_RESULT);
    ck_assert_uint_eq(craft_action_id(ld->acts, 0), 7);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_ENOTREADY);
    ck_assert_uint_eq(craft_action_leader(ld->acts, 0), l);
    host_execute(&C, ld);
    /* A follower's forwarded read fails the same way. */
    uint64_t a, b;
    others(l, &a, &b);
    host_event(&C, host_node(&C, a), CRAFT_EVENT_READ, 8, 0);
    host_deliver_all(&C);
    ck_assert_int_eq(
        host_result1(host_node(&C, a), CRAFT_ACTION_READ_RESULT, 8).status,
        CRAFT_ENOTREADY);
    /* Once the no-op commits, reads are served. */
    C.drop_type[CRAFT_MSG_APPEND_RESP] = 0;
    host_tick(&C, ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e),
                      craft_engine_last_index(ld->e));
    host_event(&C, ld, CRAFT_EVENT_READ, 9, 0);
    host_deliver_all(&C);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_READ_RESULT, 9).status,
                     CRAFT_OK);
    host_free(&C);
}
END_TEST

/* Reads arriving while a round is in flight share the next round: 50 reads
 * cost two rounds of heartbeats, not fifty. */
START_TEST(many_reads_share_one_round)
{
    eu_init(&C, 5, 4);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    host_clear_journal(ld);
    read_raw(ld, 1);
    ck_assert_uint_eq(eu_count_sends(ld->acts, CRAFT_MSG_HEARTBEAT, 0), 4);
    host_execute(&C, ld);
    for (uint64_t id = 2; id <= 50; id++) {
        read_raw(ld, id);
        /* Queued behind the round in flight: nothing to do now. */
        ck_assert_uint_eq(craft_actions_count(ld->acts), 0);
        host_execute(&C, ld);
    }
    host_deliver_all(&C);
    for (uint64_t id = 1; id <= 50; id++) {
        struct host_result r = host_result1(ld, CRAFT_ACTION_READ_RESULT, id);
        ck_assert_int_eq(r.status, CRAFT_OK);
    }
    /* Round 1 for read 1, round 2 for reads 2..50: 2 x 4 heartbeats. */
    ck_assert_uint_eq(
        host_journal_count(ld, CRAFT_ACTION_SEND, CRAFT_MSG_HEARTBEAT), 8);
    ck_assert_uint_eq(host_journal_count(ld, CRAFT_ACTION_READ_RESULT, 0), 50);
    host_free(&C);
}
END_TEST

/* A single-voter cluster is its own quorum: answered at once. */
START_TEST(single_voter_reads_at_once)
{
    eu_init(&C, 1, 5);
    ck_assert_uint_eq(host_elect(&C, 100), 1);
    struct host_node *nd = host_node(&C, 1);
    read_raw(nd, 3);
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_READ_RESULT);
    ck_assert_int_eq(craft_action_status(nd->acts, 0), CRAFT_OK);
    ck_assert_uint_eq(craft_action_index(nd->acts, 0), 2);
    host_execute(&C, nd);
    host_free(&C);
}
END_TEST

/*
 * A follower forwards the read to the leader and answers with the leader's
 * read index, which may be past what the follower has applied: the host
 * serves the read once applied >= index.
 */
START_TEST(follower_read_forwarded_to_leader)
{
    eu_init(&C, 3, 6);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t f, g;
    others(l, &f, &g);
    struct host_node *fw = host_node(&C, f);
    host_propose(&C, ld, 1, "v", 1);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_commit_index(ld->e), 3);
    ck_assert_uint_eq(craft_engine_commit_index(fw->e), 2);

    read_raw(fw, 77);
    EU_ASSERT_TYPES(fw->acts, CRAFT_ACTION_SEND);
    struct craft_msg m;
    eu_action_msg(fw->acts, 0, &m);
    ck_assert_uint_eq(m.type, CRAFT_MSG_READ_INDEX);
    ck_assert_uint_eq(m.to, l);
    ck_assert_uint_eq(m.ctx, 77);
    host_execute(&C, fw);

    struct host_node *x = host_deliver_one_raw(&C, CRAFT_MSG_READ_INDEX, f, l);
    ck_assert_ptr_eq(x, ld);
    /* The leader confirms its leadership first. */
    ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_READ_RESULT), 0);
    ck_assert_uint_eq(eu_count_sends(ld->acts, CRAFT_MSG_READ_INDEX_RESP, 0),
                      0);
    ck_assert_uint_eq(eu_count_sends(ld->acts, CRAFT_MSG_HEARTBEAT, 0), 2);
    host_execute(&C, ld);
    /* Only g's ack: f's heartbeat (which would carry the commit) waits. */
    host_deliver_one_raw(&C, CRAFT_MSG_HEARTBEAT, l, g);
    host_execute(&C, host_node(&C, g));
    host_deliver_one_raw(&C, CRAFT_MSG_HEARTBEAT_RESP, g, l);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_SEND);
    eu_action_msg(ld->acts, 0, &m);
    ck_assert_uint_eq(m.type, CRAFT_MSG_READ_INDEX_RESP);
    ck_assert_uint_eq(m.to, f);
    ck_assert_uint_eq(m.ctx, 77);
    ck_assert_uint_eq(m.index, 3);
    ck_assert_uint_eq(m.flags, 0);
    host_execute(&C, ld);

    host_deliver_one_raw(&C, CRAFT_MSG_READ_INDEX_RESP, l, f);
    EU_ASSERT_TYPES(fw->acts, CRAFT_ACTION_READ_RESULT);
    ck_assert_uint_eq(craft_action_id(fw->acts, 0), 77);
    ck_assert_int_eq(craft_action_status(fw->acts, 0), CRAFT_OK);
    ck_assert_uint_eq(craft_action_index(fw->acts, 0), 3);
    host_execute(&C, fw);
    /* Not applied yet here: the host waits until it is. */
    ck_assert_uint_lt(fw->applied, 3);
    host_deliver_all(&C);
    ck_assert_uint_ge(fw->applied, 3);
    host_free(&C);
}
END_TEST

/* ---- leases ----------------------------------------------------------- */

START_TEST(lease_reads_need_check_quorum)
{
    craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
    craft_engine *e = NULL;
    o.id = 1;
    o.lease_reads = 1;
    o.check_quorum = 0;
    ck_assert_int_eq(craft_engine_create(&o, &e), CRAFT_EINVAL);
    ck_assert_ptr_null(e);
    o.check_quorum = 1;
    ck_assert_int_eq(craft_engine_create(&o, &e), CRAFT_OK);
    craft_engine_free(e);
    /* Off by default. */
    craft_engine_options d = CRAFT_ENGINE_OPTIONS_INIT;
    ck_assert_int_eq(d.lease_reads, 0);
}
END_TEST

static uint64_t lease_cluster(uint32_t et, uint64_t seed)
{
    eu_setup(&C, 3, seed);
    C.opts.lease_reads = 1;
    C.opts.election_ticks = et;
    host_start(&C, 3);
    return host_elect_ready(&C, 400);
}

/* With a valid lease a read is answered at once, without a round. */
START_TEST(lease_read_served_without_round)
{
    uint64_t l = lease_cluster(10, 7);
    struct host_node *ld = host_node(&C, l);
    host_tick(&C, ld);
    host_deliver_all(&C);
    read_raw(ld, 11);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_READ_RESULT);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_OK);
    ck_assert_uint_eq(craft_action_index(ld->acts, 0),
                      craft_engine_commit_index(ld->e));
    host_execute(&C, ld);
    host_free(&C);
}
END_TEST

/*
 * The lease runs from when the confirmed heartbeat was sent, not from when
 * its acks arrived: heartbeat sent at tick T, acks delivered at T+3; with
 * an election timeout of 10 (minus a 1-tick margin) the lease ends at T+9,
 * not at T+12.
 */
START_TEST(lease_timed_from_heartbeat_send)
{
    uint64_t l = lease_cluster(10, 8);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    /* Settle so that this leader's check-quorum stays happy. */
    host_tick(&C, ld);
    host_deliver_all(&C);
    /* The heartbeat of tick T reaches the followers; acks held. */
    C.hold[a][l] = C.hold[b][l] = 1;
    host_tick(&C, ld); /* T */
    host_deliver_all(&C);
    C.cut[l][a] = C.cut[l][b] = 1; /* later heartbeats are lost */
    for (int t = 1; t <= 3; t++) {
        host_tick(&C, ld);
    }
    host_drop(&C, CRAFT_MSG_HEARTBEAT, l, 0);
    C.hold[a][l] = C.hold[b][l] = 0;
    host_deliver_all(&C); /* acks of T arrive at T+3 */
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    for (int t = 3; t <= 8; t++) {
        read_raw(ld, (uint64_t)t);
        EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_READ_RESULT);
        ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_OK);
        host_execute(&C, ld);
        host_tick(&C, ld);
        host_drop_all(&C);
    }
    /* T+9: the lease is over; the read waits for a round. */
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    read_raw(ld, 9);
    ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_READ_RESULT), 0);
    host_execute(&C, ld);
    host_free(&C);
}
END_TEST

/*
 * A late ack must not stretch the lease: the leader keeps the send time of
 * recent rounds only; acks of a round older than that (delayed in the
 * network for 16 heartbeats here) confirm leadership at a time the leader
 * no longer knows, so they must not yield a lease ending later than the
 * round's own send time + election timeout.
 */
START_TEST(lease_not_stretched_by_very_late_ack)
{
    uint64_t l = lease_cluster(40, 9);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    C.hold[a][l] = C.hold[b][l] = 1;
    host_tick(&C, ld); /* T: round R */
    host_deliver_all(&C);
    C.cut[l][a] = C.cut[l][b] = 1;
    for (int t = 1; t <= 16; t++) {
        host_tick(&C, ld); /* rounds R+1..R+16 are lost */
    }
    host_drop(&C, CRAFT_MSG_HEARTBEAT, l, 0);
    C.hold[a][l] = C.hold[b][l] = 0;
    host_deliver_all(&C); /* round R confirmed at T+16 */
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    /* Round R was sent at T: the lease (40 - 4 margin) ends at T+36. */
    for (int t = 17; t <= 36; t++) {
        host_tick(&C, ld);
        host_drop_all(&C);
    }
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    read_raw(ld, 36);
    ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_READ_RESULT), 0);
    host_execute(&C, ld);
    host_free(&C);
}
END_TEST

/* No lease while a leadership transfer runs: the target may take over
 * before the lease would end. */
START_TEST(no_lease_during_transfer)
{
    uint64_t l = lease_cluster(10, 10);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    host_tick(&C, ld);
    host_deliver_all(&C);
    C.hold[l][a] = C.hold[l][b] = 1; /* the transfer cannot finish */
    host_event(&C, ld, CRAFT_EVENT_TRANSFER, 1, a);
    read_raw(ld, 12);
    ck_assert_uint_eq(eu_count_type(ld->acts, CRAFT_ACTION_READ_RESULT), 0);
    host_execute(&C, ld);
    host_free(&C);
}
END_TEST

/* ---- failing fast ------------------------------------------------------ */

/* A server that knows no leader refuses at once, hint none. */
START_TEST(not_leader_without_known_leader)
{
    eu_init(&C, 3, 11);
    struct host_node *nd = host_node(&C, 1);
    read_raw(nd, 1);
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_READ_RESULT);
    ck_assert_int_eq(craft_action_status(nd->acts, 0), CRAFT_ENOTLEADER);
    ck_assert_uint_eq(craft_action_leader(nd->acts, 0), CRAFT_NONE);
    host_execute(&C, nd);
    host_free(&C);
}
END_TEST

/*
 * A read forwarded to a server that is no longer leader comes back
 * CRAFT_ENOTLEADER carrying that server's own idea of the leader, not the
 * follower's stale one: here l stepped down by check-quorum (its acks were
 * lost) and knows no leader, while f still hears nothing to the contrary.
 */
START_TEST(forwarded_read_refused_by_stepped_down_leader)
{
    eu_init(&C, 3, 12);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t f, g;
    others(l, &f, &g);
    struct host_node *fw = host_node(&C, f);
    host_isolate(&C, g, 1);
    C.cut[f][l] = 1;
    for (int t = 0; t < 3 * 10 &&
                    craft_engine_role(ld->e) == CRAFT_ROLE_LEADER;
         t++) {
        host_tick(&C, ld);
        host_deliver_all(&C);
    }
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_FOLLOWER);
    ck_assert_uint_eq(craft_engine_leader(ld->e), CRAFT_NONE);
    ck_assert_uint_eq(craft_engine_leader(fw->e), l);
    ck_assert_uint_eq(craft_engine_term(fw->e), craft_engine_term(ld->e));
    C.cut[f][l] = 0;
    host_event(&C, fw, CRAFT_EVENT_READ, 5, 0);
    host_deliver_all(&C);
    struct host_result r = host_result1(fw, CRAFT_ACTION_READ_RESULT, 5);
    ck_assert_int_eq(r.status, CRAFT_ENOTLEADER);
    ck_assert_uint_eq(r.leader, CRAFT_NONE);
    host_free(&C);
}
END_TEST

/* Pending reads fail with CRAFT_ESTEPPEDDOWN when a leader learns that
 * another was elected (check-quorum off: only the higher term deposes it). */
START_TEST(stepped_down_fails_pending_reads)
{
    eu_setup(&C, 3, 13);
    C.opts.check_quorum = 0;
    host_start(&C, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    host_isolate(&C, l, 1);
    for (uint64_t id = 1; id <= 3; id++) {
        host_event(&C, ld, CRAFT_EVENT_READ, id, 0);
    }
    host_drop_all(&C);
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
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    ck_assert_uint_eq(ld->nresults, 0); /* waiting, not answered */
    host_isolate(&C, l, 0);
    host_tick(&C, host_node(&C, nl));
    host_deliver_all(&C);
    ck_assert_int_eq(craft_engine_role(ld->e), CRAFT_ROLE_FOLLOWER);
    ck_assert_uint_eq(craft_engine_leader(ld->e), nl);
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_READ_RESULT, id).status,
                         CRAFT_ESTEPPEDDOWN);
    }
    host_free(&C);
}
END_TEST

/* Exact actions of the step in which a leader with pending reads sees a
 * higher term. */
START_TEST(stepped_down_exact_actions)
{
    eu_init(&C, 3, 14);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    C.cut[l][a] = C.cut[l][b] = 1;
    host_event(&C, ld, CRAFT_EVENT_READ, 1, 0);
    host_event(&C, ld, CRAFT_EVENT_READ, 2, 0);
    host_drop_all(&C);
    /* A heartbeat response from a higher term (a's new term). */
    struct craft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CRAFT_MSG_APPEND_RESP;
    m.flags = CRAFT_MSG_F_REJECT;
    m.from = a;
    m.to = l;
    m.term = craft_engine_term(ld->e) + 1;
    uint8_t buf[256];
    size_t n = craft_msg_encode(&m, buf);
    ck_assert_uint_gt(n, 0);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = buf;
    ev.len = n;
    host_step_raw(&C, ld, &ev);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_READ_RESULT,
                    CRAFT_ACTION_READ_RESULT, CRAFT_ACTION_ROLE_CHANGE,
                    CRAFT_ACTION_PERSIST_HARD_STATE);
    ck_assert_uint_eq(craft_action_id(ld->acts, 0), 1);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_ESTEPPEDDOWN);
    ck_assert_uint_eq(craft_action_id(ld->acts, 1), 2);
    ck_assert_int_eq(craft_action_status(ld->acts, 1), CRAFT_ESTEPPEDDOWN);
    ck_assert_int_eq(craft_action_role(ld->acts, 2), CRAFT_ROLE_FOLLOWER);
    host_execute(&C, ld);
    /* And from now on: not leader. */
    read_raw(ld, 3);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_READ_RESULT);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_ENOTLEADER);
    host_execute(&C, ld);
    host_free(&C);
}
END_TEST

/*
 * Reads during a partition: the leader cut off with a minority never
 * serves them (its rounds cannot complete), fails them with
 * CRAFT_ESTEPPEDDOWN when check-quorum makes it step down, refuses later
 * ones; the majority elects a leader that serves reads.
 */
START_TEST(partition_minority_refuses_majority_serves)
{
    eu_init(&C, 5, 15);
    uint64_t l = host_elect_ready(&C, 200);
    struct host_node *ld = host_node(&C, l);
    uint64_t mate = l == 1 ? 2 : 1; /* in the minority with l */
    int minority[HOST_MAX_NODES + 1] = {0};
    minority[l] = minority[mate] = 1;
    for (uint64_t x = 1; x <= 5; x++) {
        for (uint64_t y = 1; y <= 5; y++) {
            if (minority[x] != minority[y]) {
                C.cut[x][y] = 1;
            }
        }
    }
    host_drop_all(&C);
    for (uint64_t id = 1; id <= 5; id++) {
        host_event(&C, ld, CRAFT_EVENT_READ, id, 0);
    }
    /* Run for two election timeouts. */
    uint64_t nl = 0;
    for (int t = 0; t < 2 * 2 * 10; t++) {
        host_tick_all(&C);
        host_deliver_all(&C);
        if (t == 0) {
            ck_assert_uint_eq(ld->nresults, 0); /* one round: 2 of 5 */
        }
    }
    for (uint64_t id = 1; id <= 5; id++) {
        struct host_result r = host_result1(ld, CRAFT_ACTION_READ_RESULT, id);
        ck_assert_int_eq(r.status, CRAFT_ESTEPPEDDOWN);
    }
    ck_assert_int_ne(craft_engine_role(ld->e), CRAFT_ROLE_LEADER);
    host_event(&C, ld, CRAFT_EVENT_READ, 6, 0);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_READ_RESULT, 6).status,
                     CRAFT_ENOTLEADER);
    /* The majority side. */
    for (uint64_t id = 1; id <= 5; id++) {
        struct host_node *nd = host_node(&C, id);
        if (!minority[id] && craft_engine_role(nd->e) == CRAFT_ROLE_LEADER) {
            nl = id;
        }
    }
    ck_assert_uint_ne(nl, 0);
    struct host_node *nd = host_node(&C, nl);
    host_propose(&C, nd, 1, "w", 1);
    host_deliver_all(&C);
    uint64_t w = craft_engine_commit_index(nd->e);
    host_event(&C, nd, CRAFT_EVENT_READ, 7, 0);
    host_deliver_all(&C);
    struct host_result r = host_result1(nd, CRAFT_ACTION_READ_RESULT, 7);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.index, w);
    /* A follower of the majority reads through it too. */
    uint64_t fm = 0;
    for (uint64_t id = 1; id <= 5; id++) {
        if (!minority[id] && id != nl) {
            fm = id;
        }
    }
    host_event(&C, host_node(&C, fm), CRAFT_EVENT_READ, 8, 0);
    host_deliver_all(&C);
    r = host_result1(host_node(&C, fm), CRAFT_ACTION_READ_RESULT, 8);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.index, w);
    /* The minority's follower cannot read either. */
    host_event(&C, host_node(&C, mate), CRAFT_EVENT_READ, 9, 0);
    host_deliver_all(&C);
    r = host_result1(host_node(&C, mate), CRAFT_ACTION_READ_RESULT, 9);
    ck_assert_int_ne(r.status, CRAFT_OK);
    host_free(&C);
}
END_TEST

/*
 * The same partition with leases on: the minority leader may serve from
 * its lease only until the lease ends, and the majority cannot elect a new
 * leader before that, so no read on the old leader ever follows a write
 * the new leader committed.
 */
START_TEST(partition_with_leases_no_stale_read)
{
    eu_setup(&C, 5, 16);
    C.opts.lease_reads = 1;
    host_start(&C, 5);
    uint64_t l = host_elect_ready(&C, 200);
    struct host_node *ld = host_node(&C, l);
    host_tick(&C, ld);
    host_deliver_all(&C);
    uint64_t mate = l == 1 ? 2 : 1;
    int minority[HOST_MAX_NODES + 1] = {0};
    minority[l] = minority[mate] = 1;
    for (uint64_t x = 1; x <= 5; x++) {
        for (uint64_t y = 1; y <= 5; y++) {
            if (minority[x] != minority[y]) {
                C.cut[x][y] = 1;
            }
        }
    }
    int last_old_read = -1, first_new_commit = -1;
    uint64_t id = 100;
    for (int t = 0; t < 60; t++) {
        host_tick_all(&C);
        host_deliver_all(&C);
        size_t before = ld->nresults;
        host_event(&C, ld, CRAFT_EVENT_READ, ++id, 0);
        if (ld->nresults > before &&
            ld->results[ld->nresults - 1].status == CRAFT_OK) {
            last_old_read = t;
        }
        for (uint64_t x = 1; x <= 5; x++) {
            struct host_node *nd = host_node(&C, x);
            if (first_new_commit < 0 && !minority[x] &&
                craft_engine_role(nd->e) == CRAFT_ROLE_LEADER) {
                host_propose(&C, nd, 1, "w", 1);
                host_deliver_all(&C);
                if (craft_engine_commit_index(nd->e) ==
                    craft_engine_last_index(nd->e)) {
                    first_new_commit = t;
                }
            }
        }
    }
    ck_assert_int_ge(last_old_read, 0);   /* the lease was used */
    ck_assert_int_ge(first_new_commit, 0); /* the majority moved on */
    ck_assert_int_lt(last_old_read, first_new_commit);
    host_free(&C);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_reads");
    TCase *tc = tcase_create("read_index");
    tcase_add_test(tc, read_waits_for_quorum_confirmed_after_request);
    tcase_add_test(tc, read_index_is_commit_at_arrival);
    tcase_add_test(tc, not_ready_before_leader_commits_in_its_term);
    tcase_add_test(tc, many_reads_share_one_round);
    tcase_add_test(tc, single_voter_reads_at_once);
    tcase_add_test(tc, follower_read_forwarded_to_leader);
    suite_add_tcase(s, tc);
    tc = tcase_create("lease");
    tcase_add_test(tc, lease_reads_need_check_quorum);
    tcase_add_test(tc, lease_read_served_without_round);
    tcase_add_test(tc, lease_timed_from_heartbeat_send);
    tcase_add_test(tc, lease_not_stretched_by_very_late_ack);
    tcase_add_test(tc, no_lease_during_transfer);
    suite_add_tcase(s, tc);
    tc = tcase_create("fail_fast");
    tcase_add_test(tc, not_leader_without_known_leader);
    tcase_add_test(tc, forwarded_read_refused_by_stepped_down_leader);
    tcase_add_test(tc, stepped_down_fails_pending_reads);
    tcase_add_test(tc, stepped_down_exact_actions);
    tcase_add_test(tc, partition_minority_refuses_majority_serves);
    tcase_add_test(tc, partition_with_leases_no_stale_read);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
