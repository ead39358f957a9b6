/*
 * tests/sim/test_sim_invariants.c: every invariant the simulator checks
 * catches a hand-corrupted state. Each test grows a small calm cluster,
 * corrupts one thing (an engine's state, a disk, the checker's record,
 * or an action list), lets the simulation go on, and expects exactly that
 * invariant to be reported.
 */
#include "simtest.h"

#define WARM 4000 /* steps: a leader is elected and its no-op commits */

static struct sim *quiet_cluster(struct sim_options *o, struct sim_result *r)
{
    sim_options_init(o);
    ck_assert_int_eq(sim_options_profile(o, "calm"), 0);
    o->nodes = 3;
    o->clients = 0; /* nothing moves but what the test does */
    o->randomize = 0;
    o->rate[SIM_K_WIRE] = 0;
    o->seed = 7;
    struct sim *s = st_cluster(o, r, 3, WARM);
    struct sim_node *l = st_leader(s);
    ck_assert_uint_ge(l->e->commit, 2);
    return s;
}

static struct sim_node *third(struct sim *s, struct sim_node *a,
                              struct sim_node *b)
{
    for (uint32_t k = 0; k < s->nslots; k++) {
        if (&s->node[k] != a && &s->node[k] != b) {
            return &s->node[k];
        }
    }
    ck_abort_msg("no third node");
    return NULL;
}

/* A client's put proposed at l, through the host's batching. */
static void propose(struct sim *s, struct sim_node *l, uint64_t value)
{
    uint64_t id = sim_history_invoke(&s->hist, SIM_CMD_PUT, 0, value, 0, 0);
    ck_assert_uint_ne(id, 0);
    sim_history_op(&s->hist, id)->node = l->slot;
    sim_propose_queue(s, l, id);
    sim_propose_flush(s, l);
    ck_assert_uint_eq(sim_history_op(&s->hist, id)->phase, SIM_OPP_PROPOSED);
}

/* Makes n a candidate of term with its own vote, as the engine would. */
static void make_candidate(struct sim_node *n, uint64_t term)
{
    struct craft_engine *e = n->e;
    e->term = term;
    e->vote = n->id;
    e->role = CRAFT_ROLE_CANDIDATE;
    e->leader = CRAFT_NONE;
    e->elec_conf = e->conf;
    for (uint32_t k = 0; k < e->conf.n; k++) {
        int self = e->conf.m[k].id == n->id;
        e->vote_granted[k] = (uint8_t)self;
        e->vote_responded[k] = (uint8_t)self;
    }
    n->role = CRAFT_ROLE_CANDIDATE;
    n->term = term;
}

static void grant(struct sim *s, struct sim_node *from, struct sim_node *to,
                  uint64_t term)
{
    struct craft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CRAFT_MSG_VOTE_RESP;
    m.from = from->id;
    m.to = to->id;
    m.term = term;
    st_deliver(s, &m);
}

START_TEST(test_election_safety)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s), *f = st_follower(s);
    /* f believes it runs for the leader's own term, and gets a vote. */
    make_candidate(f, l->e->term);
    grant(s, third(s, l, f), f, l->e->term);
    ST_ASSERT_VIOLATION(&r, SIM_V_ELECTION_SAFETY);
    sim_destroy(s);
}
END_TEST

START_TEST(test_double_vote)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s), *voter = NULL;
    for (uint32_t k = 0; k < s->nslots; k++) {
        struct sim_node *n = &s->node[k];
        if (n != l && n->hs_term == l->e->term && n->hs_vote == l->id) {
            voter = n;
        }
    }
    ck_assert_ptr_nonnull(voter);
    /* The voter's engine forgets its vote; another candidate asks. */
    voter->e->vote = CRAFT_NONE;
    voter->e->leader = CRAFT_NONE;
    struct sim_node *c = third(s, l, voter);
    struct craft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CRAFT_MSG_VOTE;
    m.from = c->id;
    m.to = voter->id;
    m.term = l->e->term;
    m.index = craft_log_last(&voter->e->log);
    m.log_term = craft_log_last_term(&voter->e->log);
    st_deliver(s, &m);
    ST_ASSERT_VIOLATION(&r, SIM_V_DOUBLE_VOTE);
    sim_destroy(s);
}
END_TEST

START_TEST(test_log_matching)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s), *f = st_follower(s);
    uint64_t last = craft_log_last(&l->e->log);
    ck_assert_uint_eq(craft_log_last(&f->e->log), last);
    propose(s, l, 1); /* the leader's entry last + 1 */
    /* A forged append gives f a different entry at the same index and
     * term. */
    struct sim_cmd c = {SIM_CMD_PUT, 0, 99, 99, 0};
    uint8_t buf[SIM_CMD_BYTES];
    sim_cmd_encode(&c, buf);
    struct craft_entry en = {l->e->term, CRAFT_ENTRY_NORMAL, SIM_CMD_BYTES,
                             buf, NULL};
    struct craft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CRAFT_MSG_APPEND;
    m.from = l->id;
    m.to = f->id;
    m.term = l->e->term;
    m.index = last;
    m.log_term = craft_log_term(&l->e->log, last);
    m.commit = f->e->commit;
    m.entries = &en;
    m.n_entries = 1;
    st_deliver(s, &m);
    ST_ASSERT_VIOLATION(&r, SIM_V_LOG_MATCHING);
    sim_destroy(s);
}
END_TEST

START_TEST(test_leader_completeness)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s), *f = st_follower(s);
    uint64_t m = sim_win_last(&s->inv.committed);
    uint64_t term = l->e->term + 1;
    ck_assert_uint_ge(m, 2);
    /* f loses the committed tail of its log, then wins an election. */
    struct craft_engine *e = f->e;
    craft_log_truncate(&e->alloc, &e->log, m);
    e->commit = e->applied = e->persisted = m - 1;
    sim_win_truncate(&f->shadow, m);
    f->commit = f->applied = m - 1;
    make_candidate(f, term);
    grant(s, third(s, l, f), f, term);
    ST_ASSERT_VIOLATION(&r, SIM_V_LEADER_COMPLETENESS);
    sim_destroy(s);
}
END_TEST

START_TEST(test_state_machine_safety)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s), *f = st_follower(s);
    f->kv.hash ^= 1; /* f's state machine diverged */
    propose(s, l, 1);
    ck_assert_int_eq(sim_advance(s, r.steps + 2000), 1);
    ST_ASSERT_VIOLATION(&r, SIM_V_STATE_MACHINE_SAFETY);
    sim_destroy(s);
}
END_TEST

START_TEST(test_leader_append_only)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s);
    /* The leader's next actions truncate its own log. */
    craft_actions_clear(l->acts);
    ck_assert_int_eq(craft_actions_reserve(l->acts, 4), 0);
    struct craft_action *x = craft_actions_push(l->acts,
                                                CRAFT_ACTION_TRUNCATE);
    x->index = craft_log_last(&l->e->log);
    sim_inv_step(s, l, NULL);
    ST_ASSERT_VIOLATION(&r, SIM_V_LEADER_APPEND_ONLY);
    sim_destroy(s);
}
END_TEST

START_TEST(test_commit_decreased)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s);
    /* (Applied goes down with it: the engine's own invariant, asserted
     * in checked builds, is that nothing is applied uncommitted.) */
    l->e->commit--;
    if (l->e->applied > l->e->commit) {
        l->e->applied = l->e->commit;
    }
    st_event(s, l, CRAFT_EVENT_TICK, 0, 0);
    ST_ASSERT_VIOLATION(&r, SIM_V_COMMIT_DECREASED);
    sim_destroy(s);
}
END_TEST

START_TEST(test_commit_no_quorum)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s);
    /* Cut the leader off, then make it believe the followers have the
     * entry it proposes. */
    for (uint32_t k = 0; k < s->nslots; k++) {
        s->net.cut[l->slot][k] = s->net.cut[k][l->slot] = 1;
    }
    propose(s, l, 1);
    uint64_t last = craft_log_last(&l->e->log);
    for (uint32_t k = 0; k < l->e->conf.n; k++) {
        l->e->prs[k].match = last;
        l->e->prs[k].next = last + 1; /* match < next, as the engine keeps */
    }
    ck_assert_int_eq(sim_advance(s, r.steps + 500), 1);
    ST_ASSERT_VIOLATION(&r, SIM_V_COMMIT_NO_QUORUM);
    sim_destroy(s);
}
END_TEST

START_TEST(test_persist_before_send)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s), *f = st_follower(s);
    uint64_t last = sim_win_last(&f->disk.log);
    ck_assert_uint_eq(last, craft_log_last(&f->e->log));
    /* f's disk lost its last entry; the leader probes at that entry. */
    sim_win_truncate(&f->disk.log, last);
    struct craft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CRAFT_MSG_APPEND;
    m.from = l->id;
    m.to = f->id;
    m.term = l->e->term;
    m.index = last;
    m.log_term = craft_log_term(&f->e->log, last);
    m.commit = f->e->commit;
    st_deliver(s, &m);
    ST_ASSERT_VIOLATION(&r, SIM_V_PERSIST_BEFORE_SEND);
    sim_destroy(s);
}
END_TEST

START_TEST(test_config_change)
{
    struct sim_options o;
    struct sim_result r;
    sim_options_init(&o);
    ck_assert_int_eq(sim_options_profile(&o, "calm"), 0);
    o.nodes = 3;
    o.clients = 0;
    o.randomize = 0;
    o.rate[SIM_K_WIRE] = 0;
    o.rate[SIM_K_MEMBER] = 1; /* spare servers to add */
    o.seed = 7;
    struct sim *s = st_cluster(&o, &r, 3, WARM);
    struct sim_node *l = st_leader(s);
    ck_assert_uint_eq(s->nslots, 5);
    st_event(s, l, CRAFT_EVENT_ADD_LEARNER, SIM_ADMIN_ID | 1, 4);
    ck_assert_uint_eq(r.violations, 0);
    /* The leader forgets that change is still uncommitted. */
    l->e->conf_index = 0;
    st_event(s, l, CRAFT_EVENT_ADD_LEARNER, SIM_ADMIN_ID | 2, 5);
    ST_ASSERT_VIOLATION(&r, SIM_V_CONFIG_CHANGE);
    sim_destroy(s);
}
END_TEST

START_TEST(test_liveness)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    /* A heal that does not heal. */
    sim_chaos_calm(s, 0);
    memset(s->net.cut, 1, sizeof(s->net.cut));
    ck_assert_int_eq(sim_advance(s, UINT64_MAX), 1);
    ST_ASSERT_VIOLATION(&r, SIM_V_LIVENESS);
    sim_destroy(s);
}
END_TEST

static struct sim_node *snapshotted_follower(struct sim *s,
                                             struct sim_result *r)
{
    struct sim_node *f = st_follower(s);
    sim_host_take_snapshot(s, f);
    ck_assert_int_eq(sim_advance(s, r->steps + 200), 0);
    ck_assert_uint_gt(f->disk.snap[0].index, 0);
    return f;
}

START_TEST(test_snapshot_corrupt)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *f = snapshotted_follower(s, &r);
    f->disk.snap[0].data[f->disk.snap[0].len / 2] ^= 0x5a;
    sim_node_crash(s, f, 0);
    sim_node_start(s, f);
    ST_ASSERT_VIOLATION(&r, SIM_V_SNAPSHOT);
    sim_destroy(s);
}
END_TEST

START_TEST(test_restart_refused)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *f = st_follower(s);
    struct sim_dentry *e = sim_win_at(&f->disk.log,
                                      sim_win_last(&f->disk.log));
    e->term = f->disk.term + 5; /* above the durable term */
    sim_node_crash(s, f, 0);
    sim_node_start(s, f);
    ST_ASSERT_VIOLATION(&r, SIM_V_RESTART);
    sim_destroy(s);
}
END_TEST

START_TEST(test_receipt)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *l = st_leader(s);
    /* An operation on its way gets a receipt naming an applied entry. */
    uint64_t id = sim_history_invoke(&s->hist, SIM_CMD_PUT, 0, 5, 0, 0);
    ck_assert_uint_ge(s->sm_max, 2);
    sim_client_receipt(s, l, id, CRAFT_OK, 2, sim_inv_committed(s, 2)->term,
                       l->id);
    ST_ASSERT_VIOLATION(&r, SIM_V_RECEIPT);
    sim_destroy(s);
}
END_TEST

START_TEST(test_contract_gap)
{
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    struct sim_node *f = st_follower(s);
    /* An APPEND that skips an index. */
    struct craft_entry en = {f->e->term, CRAFT_ENTRY_NOOP, 0, NULL, NULL};
    craft_actions_clear(f->acts);
    ck_assert_int_eq(craft_actions_reserve(f->acts, 4), 0);
    struct craft_action *x = craft_actions_push(f->acts,
                                                CRAFT_ACTION_APPEND);
    x->index = craft_log_last(&f->e->log) + 2;
    x->count = 1;
    x->entries = &en;
    sim_inv_step(s, f, NULL);
    ST_ASSERT_VIOLATION(&r, SIM_V_CONTRACT);
    sim_destroy(s);
}
END_TEST

START_TEST(test_clean_run)
{
    /* The cluster the tests corrupt is itself clean. */
    struct sim_options o;
    struct sim_result r;
    struct sim *s = quiet_cluster(&o, &r);
    ck_assert_int_eq(sim_advance(s, r.steps + 20000), 0);
    ck_assert_uint_eq(r.violations, 0);
    sim_destroy(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sim_invariants");
    TCase *tc = tcase_create("corrupted");
    tcase_add_test(tc, test_clean_run);
    tcase_add_test(tc, test_election_safety);
    tcase_add_test(tc, test_double_vote);
    tcase_add_test(tc, test_log_matching);
    tcase_add_test(tc, test_leader_completeness);
    tcase_add_test(tc, test_state_machine_safety);
    tcase_add_test(tc, test_leader_append_only);
    tcase_add_test(tc, test_commit_decreased);
    tcase_add_test(tc, test_commit_no_quorum);
    tcase_add_test(tc, test_persist_before_send);
    tcase_add_test(tc, test_config_change);
    tcase_add_test(tc, test_liveness);
    tcase_add_test(tc, test_snapshot_corrupt);
    tcase_add_test(tc, test_restart_refused);
    tcase_add_test(tc, test_receipt);
    tcase_add_test(tc, test_contract_gap);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
