/*
 * tests/integration/test_node_alloc.c: every allocation of a node goes
 * through its allocator. Failing each one in turn, during creation and
 * during a whole single-server life (bootstrap, start, proposals, a
 * snapshot, shutdown), never crashes and never leaks: the allocator's
 * count of live blocks is 0 after craft_node_free.
 */
#include "node_harness.h"

struct counting {
    atomic_long live;
    atomic_long calls;
    atomic_long fail_at; /* 1-based call number that fails; 0: none */
};

static int should_fail(struct counting *c)
{
    long k = atomic_fetch_add(&c->calls, 1) + 1;
    return k == atomic_load(&c->fail_at);
}

static void *c_malloc(void *user, size_t size)
{
    struct counting *c = user;
    if (should_fail(c)) {
        return NULL;
    }
    void *p = malloc(size);
    if (p != NULL) {
        atomic_fetch_add(&c->live, 1);
    }
    return p;
}

static void *c_realloc(void *user, void *ptr, size_t size)
{
    struct counting *c = user;
    if (should_fail(c)) {
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p != NULL && ptr == NULL) {
        atomic_fetch_add(&c->live, 1);
    }
    return p;
}

static void c_free(void *user, void *ptr)
{
    struct counting *c = user;
    if (ptr != NULL) {
        atomic_fetch_sub(&c->live, 1);
        free(ptr);
    }
}

static int one_life(struct counting *cnt, long fail_at, int *completed)
{
    struct tcluster c;
    craft_allocator al = CRAFT_ALLOCATOR_INIT;
    al.user = cnt;
    al.malloc = c_malloc;
    al.realloc = c_realloc;
    al.free = c_free;
    atomic_store(&cnt->calls, 0);
    atomic_store(&cnt->fail_at, fail_at);
    *completed = 0;

    tc_init(&c);
    struct tnode *t = tc_node(&c, 1);
    craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
    craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    ck_assert_int_eq(craft_mem_storage_create(NULL, &t->ms), CRAFT_OK);
    craft_mem_storage_ops(t->ms, &st);
    craft_hub_transport(c.hub, 1, &tr);
    tfsm_ops(&t->fsm, &fsm);
    craft_engine_options eo = CRAFT_ENGINE_OPTIONS_INIT;
    eo.snapshot_entries = 4;
    eo.snapshot_trailing = 1;
    craft_node_options o = CRAFT_NODE_OPTIONS_INIT;
    o.id = 1;
    o.tick_ms = 1;
    o.request_timeout_ms = 2000;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    o.engine = &eo;
    o.allocator = &al;

    craft_node *n = NULL;
    uint64_t self = 1;
    int rv = craft_node_create(&o, &n);
    if (rv != CRAFT_OK) {
        ck_assert_int_eq(rv, CRAFT_ENOMEM);
        ck_assert_ptr_null(n);
        goto out;
    }
    rv = craft_node_bootstrap(n, &self, 1);
    if (rv == CRAFT_OK) {
        rv = craft_node_start(n);
    }
    if (rv == CRAFT_OK) {
        /* until the single server leads (or its failure stopped it) */
        int64_t end = tc_now_ms() + 2000;
        while (craft_node_role(n) != CRAFT_ROLE_LEADER && tc_now_ms() < end) {
            tc_sleep_ms(1);
        }
        for (uint64_t v = 1; v <= 10; v++) {
            unsigned char buf[8];
            put_u64(buf, v);
            if (craft_node_propose_wait(n, buf, 8, 0, NULL) == CRAFT_OK) {
                (*completed)++;
            }
        }
    }
    craft_node_free(n);
out:
    tc_free(&c);
    ck_assert_int_eq(atomic_load(&cnt->live), 0);
    return rv;
}

START_TEST(fail_each_allocation)
{
    struct counting cnt;
    memset(&cnt, 0, sizeof(cnt));
    int completed = 0;
    /* The count of allocations of a whole life, none failing. */
    ck_assert_int_eq(one_life(&cnt, 0, &completed), CRAFT_OK);
    ck_assert_int_eq(completed, 10);
    long total = atomic_load(&cnt.calls);
    fprintf(stderr, "allocations in one life: %ld\n", total);
    ck_assert_int_gt(total, 10);
    /* Timing makes lives differ a little: go somewhat past the total. */
    for (long k = 1; k <= total + 20; k++) {
        one_life(&cnt, k, &completed);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_alloc");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, fail_each_allocation);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
