/*
 * tests/integration/test_node_addr.c: members' addresses through
 * craft_node: bootstrap with addresses, a server added with one
 * (craft_node_add_peer_addr, craft_node_add_learner_addr), status and the
 * published membership (craft_node_membership, its version) on every
 * server, the old calls adding a server without an address, and the
 * argument errors.
 */
#include "node_harness.h"

static const char *const ADDRS[] = {"127.0.0.1:7001", "[::1]:7002",
                                    "localhost:7003"};

/* Like tc_launch, bootstrapping with ADDRS. */
static void launch_addr(struct tcluster *c, uint64_t id, int bootstrap)
{
    struct tnode *t = tc_node(c, id);
    craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
    craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    tc_storage_open(c, t);
    ts_ops(&t->store, &st);
    ck_assert_int_eq(craft_hub_transport(c->hub, id, &tr), CRAFT_OK);
    fsm.user = &t->fsm;
    fsm.apply = tfsm_apply;
    craft_node_options o = c->opts;
    o.id = id;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    o.engine = &c->eopts;
    ck_assert_int_eq(craft_node_create(&o, &t->node), CRAFT_OK);
    ck_assert_uint_eq(craft_node_membership_version(t->node), 0);
    if (bootstrap) {
        const uint64_t ids[] = {1, 2, 3};
        craft_buf addrs[3];
        for (int k = 0; k < 3; k++) {
            addrs[k].base = ADDRS[k];
            addrs[k].len = strlen(ADDRS[k]);
        }
        ck_assert_int_eq(craft_node_bootstrap_addr(t->node, ids, NULL, 3),
                         CRAFT_EINVAL);
        ck_assert_int_eq(craft_node_bootstrap_addr(t->node, ids, addrs, 3),
                         CRAFT_OK);
        ck_assert_uint_ge(craft_node_membership_version(t->node), 1);
    }
    ck_assert_int_eq(craft_hub_attach(c->hub, id, t->node), CRAFT_OK);
    ck_assert_int_eq(craft_node_start(t->node), CRAFT_OK);
    if ((int)id > c->n) {
        c->n = (int)id;
    }
}

/* The address of id in st; -1 when id is not a member. */
static int addr_in(const craft_status *st, uint64_t id, char *buf,
                   size_t cap)
{
    for (size_t k = 0; k < craft_status_member_count(st); k++) {
        uint64_t mid = 0;
        craft_status_member(st, k, &mid, NULL, NULL, NULL, NULL);
        if (mid != id) {
            continue;
        }
        const void *a = NULL;
        size_t len = 0;
        ck_assert_int_eq(craft_status_member_addr(st, k, &a, &len), CRAFT_OK);
        ck_assert_uint_lt(len, cap);
        if (len > 0) {
            memcpy(buf, a, len);
        } else {
            ck_assert_ptr_null(a);
        }
        buf[len] = 0;
        return (int)len;
    }
    return -1;
}

/* Waits until node at's published membership has id with address want
 * (NULL: id is not a member). */
static void wait_published(struct tcluster *c, uint64_t at, uint64_t id,
                           const char *want)
{
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    for (;;) {
        craft_status *st = NULL;
        uint64_t v = 0;
        char buf[CRAFT_MAX_ADDR_BYTES + 1];
        ck_assert_int_eq(craft_node_membership(tc_node(c, at)->node, &st, &v),
                         CRAFT_OK);
        int len = addr_in(st, id, buf, sizeof(buf));
        ck_assert_uint_eq(craft_status_commit_index(st), 0);
        ck_assert_uint_eq(craft_status_id(st), at);
        craft_status_free(st);
        /* a server just added may not have heard of any membership yet */
        if (v >= 1 &&
            (want == NULL ? len < 0 : (len >= 0 && strcmp(buf, want) == 0))) {
            return;
        }
        ck_assert_msg(tc_now_ms() < end, "node %llu never published %llu",
                      (unsigned long long)at, (unsigned long long)id);
        tc_sleep_ms(5);
    }
}

static int change(struct tcluster *c, int kind, uint64_t peer,
                  const char *addr)
{
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    for (;;) {
        struct twait w;
        tw_init(&w);
        craft_node *l = tc_node(c, tc_wait_leader(c))->node;
        size_t len = addr != NULL ? strlen(addr) : 0;
        int rv = kind == 0   ? craft_node_add_peer_addr(l, peer, addr, len, 0,
                                                        tw_cb, &w)
                 : kind == 1 ? craft_node_add_learner_addr(l, peer, addr, len,
                                                           0, tw_cb, &w)
                 : kind == 2 ? craft_node_add_learner(l, peer, 0, tw_cb, &w)
                             : craft_node_remove_peer(l, peer, 0, tw_cb, &w);
        ck_assert_int_eq(rv, CRAFT_OK);
        int st = tw_wait(&w, TC_WAIT_MS);
        tw_destroy(&w);
        if ((st != CRAFT_ENOTREADY && st != CRAFT_EBUSY &&
             st != CRAFT_ENOTLEADER) ||
            tc_now_ms() > end) {
            return st;
        }
        tc_sleep_ms(10);
    }
}

START_TEST(addresses_through_the_node)
{
    struct tcluster c;
    tc_init(&c);
    for (uint64_t id = 1; id <= 3; id++) {
        launch_addr(&c, id, 1);
    }
    tc_commit(&c, 1);
    for (uint64_t at = 1; at <= 3; at++) {
        for (uint64_t id = 1; id <= 3; id++) {
            wait_published(&c, at, id, ADDRS[id - 1]);
        }
        /* The full status reports them too. */
        craft_status *st = NULL;
        char buf[CRAFT_MAX_ADDR_BYTES + 1];
        ck_assert_int_eq(craft_node_status(tc_node(&c, at)->node, &st),
                         CRAFT_OK);
        ck_assert_int_eq(addr_in(st, 2, buf, sizeof(buf)),
                         (int)strlen(ADDRS[1]));
        ck_assert_str_eq(buf, ADDRS[1]);
        const void *a;
        size_t len;
        ck_assert_int_eq(craft_status_member_addr(st, 3, &a, &len),
                         CRAFT_EINVAL);
        ck_assert_int_eq(craft_status_member_addr(NULL, 0, &a, &len),
                         CRAFT_EINVAL);
        ck_assert_int_eq(craft_status_member_addr(st, 0, NULL, &len),
                         CRAFT_EINVAL);
        craft_status_free(st);
    }

    /* A server added with its address: every server publishes it. */
    launch_addr(&c, 4, 0);
    uint64_t v0 = craft_node_membership_version(tc_node(&c, 1)->node);
    ck_assert_int_eq(change(&c, 0, 4, "10.9.8.7:9"), CRAFT_OK);
    for (uint64_t at = 1; at <= 4; at++) {
        wait_published(&c, at, 4, "10.9.8.7:9");
        wait_published(&c, at, 3, ADDRS[2]);
    }
    ck_assert_uint_gt(craft_node_membership_version(tc_node(&c, 1)->node),
                      v0);
    /* A learner with one; a learner the old way, without. */
    launch_addr(&c, 5, 0);
    launch_addr(&c, 6, 0);
    ck_assert_int_eq(change(&c, 1, 5, "[fe80::1]:1"), CRAFT_OK);
    ck_assert_int_eq(change(&c, 2, 6, NULL), CRAFT_OK);
    for (uint64_t at = 1; at <= 6; at++) {
        wait_published(&c, at, 5, "[fe80::1]:1");
        wait_published(&c, at, 6, "");
    }
    /* Removed: gone from the published membership. */
    ck_assert_int_eq(change(&c, 3, 5, NULL), CRAFT_OK);
    for (uint64_t at = 1; at <= 4; at++) {
        wait_published(&c, at, 5, NULL);
    }
    tc_free(&c);
}
END_TEST

START_TEST(address_argument_errors)
{
    struct tcluster c;
    struct twait w;
    char big[CRAFT_MAX_ADDR_BYTES + 1];
    memset(big, 'x', sizeof(big));
    tc_init(&c);
    tc_start(&c, 1);
    craft_node *n = tc_node(&c, 1)->node;
    ck_assert_int_eq(craft_node_add_peer_addr(NULL, 2, "a", 1, 0, NULL, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_add_peer_addr(n, 0, "a", 1, 0, NULL, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_add_peer_addr(n, 2, NULL, 1, 0, NULL, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_add_learner_addr(n, 2, big, sizeof(big), 0,
                                                 NULL, NULL),
                     CRAFT_ETOOBIG);
    ck_assert_int_eq(craft_node_membership(NULL, NULL, NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_membership(n, NULL, NULL), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_node_membership_version(NULL), 0);
    /* The longest address is accepted. */
    tw_init(&w);
    tc_wait_leader(&c);
    int st;
    do {
        ck_assert_int_eq(craft_node_add_learner_addr(n, 2, big,
                                                     CRAFT_MAX_ADDR_BYTES, 0,
                                                     tw_cb, &w),
                         CRAFT_OK);
        st = tw_wait(&w, TC_WAIT_MS);
        tw_destroy(&w);
        tw_init(&w);
    } while (st == CRAFT_ENOTREADY);
    tw_destroy(&w);
    ck_assert_int_eq(st, CRAFT_OK);
    big[CRAFT_MAX_ADDR_BYTES] = 0;
    wait_published(&c, 1, 2, big);
    craft_node_shutdown(n);
    /* After shutdown the published copy is still readable. */
    wait_published(&c, 1, 2, big);
    ck_assert_int_eq(craft_node_add_peer_addr(n, 3, "a", 1, 0, NULL, NULL),
                     CRAFT_ESHUTDOWN);
    tc_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_addr");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, addresses_through_the_node);
    tcase_add_test(tc, address_argument_errors);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
