/*
 * tests/integration/test_node_shutdown.c: shutdown with calls pending.
 * Every call that returned CRAFT_OK completes exactly once (here with
 * CRAFT_ESHUTDOWN, or normally when it was already committed); calls
 * after shutdown fail at once and never call back; status still works.
 */
#include "node_harness.h"

#define NPENDING 300

struct counted {
    atomic_int calls;
    atomic_int shutdown;
    atomic_int ok;
    atomic_int other;
};

static void count_cb(void *ctx, const craft_result *r)
{
    struct counted *c = ctx;
    atomic_fetch_add(&c->calls, 1);
    switch (craft_result_status(r)) {
    case CRAFT_ESHUTDOWN:
        atomic_fetch_add(&c->shutdown, 1);
        break;
    case CRAFT_OK:
        atomic_fetch_add(&c->ok, 1);
        break;
    default:
        atomic_fetch_add(&c->other, 1);
        break;
    }
}

static void never_cb(void *ctx, const craft_result *r)
{
    (void)ctx;
    (void)r;
    ck_abort_msg("a call that returned an error completed");
}

/* A leader whose followers are unreachable: nothing it is asked can
 * complete, and it stays leader (long election timeout) until shutdown. */
START_TEST(shutdown_with_calls_pending)
{
    struct tcluster c;
    struct counted props, reads, others;
    memset(&props, 0, sizeof(props));
    memset(&reads, 0, sizeof(reads));
    memset(&others, 0, sizeof(others));
    tc_init(&c);
    c.eopts.election_ticks = 300; /* 3 s: no step-down during the test */
    tc_start(&c, 3);
    tc_commit(&c, 1);
    uint64_t leader = tc_wait_leader(&c);
    craft_hub_isolate(c.hub, leader, 1);
    craft_node *n = tc_node(&c, leader)->node;
    unsigned char buf[8] = {1};
    for (int k = 0; k < NPENDING; k++) {
        ck_assert_int_eq(craft_node_propose(n, buf, 8, 60000, count_cb,
                                            &props),
                         CRAFT_OK);
        if (k % 10 == 0) {
            ck_assert_int_eq(craft_node_read_linearizable(n, 60000, count_cb,
                                                          &reads),
                             CRAFT_OK);
        }
    }
    ck_assert_int_eq(craft_node_add_peer(n, 7, 60000, count_cb, &others),
                     CRAFT_OK);
    ck_assert_int_eq(craft_node_transfer_leadership(n, leader % 3 + 1, 60000,
                                                    count_cb, &others),
                     CRAFT_OK);
    tc_sleep_ms(50);
    ck_assert_int_eq(craft_node_shutdown(n), CRAFT_OK);

    /* shutdown returned: every callback already ran, exactly once */
    ck_assert_int_eq(atomic_load(&props.calls), NPENDING);
    ck_assert_int_eq(atomic_load(&props.shutdown), NPENDING);
    ck_assert_int_eq(atomic_load(&reads.calls), NPENDING / 10);
    ck_assert_int_eq(atomic_load(&reads.shutdown), NPENDING / 10);
    ck_assert_int_eq(atomic_load(&others.calls), 2);
    ck_assert_int_eq(atomic_load(&others.ok), 0);

    /* After shutdown: errors at once, no callback. */
    ck_assert_int_eq(craft_node_propose(n, buf, 8, 0, never_cb, NULL),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_propose_wait(n, buf, 8, 0, NULL),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_read_linearizable(n, 0, never_cb, NULL),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_add_peer(n, 5, 0, never_cb, NULL),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_add_learner(n, 5, 0, never_cb, NULL),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_promote_learner(n, 5, 0, never_cb, NULL),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_remove_peer(n, 2, 0, never_cb, NULL),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_transfer_leadership(n, 2, 0, never_cb, NULL),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_trigger_snapshot(n, 0, never_cb, NULL),
                     CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_receive(n, buf, 8), CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_start(n), CRAFT_ESHUTDOWN);
    uint64_t ids[1] = {1};
    ck_assert_int_eq(craft_node_bootstrap(n, ids, 1), CRAFT_ESHUTDOWN);
    ck_assert_int_eq(craft_node_shutdown(n), CRAFT_OK); /* again: fine */
    craft_status *st = NULL;
    ck_assert_int_eq(craft_node_status(n, &st), CRAFT_OK);
    ck_assert_uint_eq(craft_status_id(st), leader);
    ck_assert_uint_ge(craft_status_commit_index(st), 1);
    craft_status_free(st);
    craft_hub_isolate(c.hub, leader, 0);
    tc_free(&c);
}
END_TEST

/* Shutdown under load on a healthy cluster: each proposal completes once,
 * applied ones with CRAFT_OK. */
START_TEST(shutdown_under_load)
{
    struct tcluster c;
    struct counted props;
    memset(&props, 0, sizeof(props));
    tc_init(&c);
    tc_start(&c, 3);
    tc_commit(&c, 1);
    uint64_t leader = tc_wait_leader(&c);
    craft_node *n = tc_node(&c, leader)->node;
    unsigned char buf[8] = {1};
    int accepted = 0;
    for (int k = 0; k < 5000; k++) {
        if (craft_node_propose(n, buf, 8, 0, count_cb, &props) == CRAFT_OK) {
            accepted++;
        }
    }
    ck_assert_int_eq(craft_node_shutdown(n), CRAFT_OK);
    ck_assert_int_eq(atomic_load(&props.calls), accepted);
    ck_assert_int_eq(atomic_load(&props.ok) + atomic_load(&props.shutdown) +
                         atomic_load(&props.other),
                     accepted);
    /* every OK proposal was applied here */
    uint64_t count = 0;
    tfsm_read(&tc_node(&c, leader)->fsm, &count, NULL, NULL);
    ck_assert_uint_ge(count, (uint64_t)atomic_load(&props.ok));
    tc_free(&c);
}
END_TEST

/* Calls queued on a node that was never started complete at shutdown,
 * on the thread calling it. */
START_TEST(shutdown_never_started)
{
    struct tcluster c;
    struct counted props;
    memset(&props, 0, sizeof(props));
    tc_init(&c);
    craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
    craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    struct tnode *t = tc_node(&c, 1);
    ck_assert_int_eq(craft_mem_storage_create(NULL, &t->ms), CRAFT_OK);
    craft_mem_storage_ops(t->ms, &st);
    craft_hub_transport(c.hub, 1, &tr);
    fsm.user = &t->fsm;
    fsm.apply = tfsm_apply;
    craft_node_options o = c.opts;
    o.id = 1;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    craft_node *n = NULL;
    ck_assert_int_eq(craft_node_create(&o, &n), CRAFT_OK);
    unsigned char buf[8] = {0};
    for (int k = 0; k < 10; k++) {
        ck_assert_int_eq(craft_node_propose(n, buf, 8, 0, count_cb, &props),
                         CRAFT_OK);
    }
    ck_assert_int_eq(craft_node_read_linearizable(n, 0, count_cb, &props),
                     CRAFT_OK);
    craft_status *s = NULL;
    ck_assert_int_eq(craft_node_status(n, &s), CRAFT_OK); /* before start */
    ck_assert_uint_eq(craft_status_last_index(s), 0);
    craft_status_free(s);
    ck_assert_int_eq(atomic_load(&props.calls), 0);
    craft_node_free(n); /* shuts down first */
    ck_assert_int_eq(atomic_load(&props.calls), 11);
    ck_assert_int_eq(atomic_load(&props.shutdown), 11);
    tc_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_shutdown");
    TCase *tc = tcase_create("shutdown");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shutdown_with_calls_pending);
    tcase_add_test(tc, shutdown_under_load);
    tcase_add_test(tc, shutdown_never_started);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
