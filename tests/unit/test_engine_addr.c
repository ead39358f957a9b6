/*
 * tests/unit/test_engine_addr.c: members' addresses in the engine. A
 * bootstrap with addresses, a server added with one (replicated to every
 * member, kept through its promotion, gone with its removal), addresses
 * carried by the snapshot membership bytes, the old event form adding a
 * member without an address (and writing the version 1 format), and the
 * errors. The engine never interprets an address: the tests use one
 * that is not even text.
 */
#include "engine_util.h"
#include "harness.h"

static struct host N;

static const char *const ADDRS[] = {"10.0.0.1:7001", "[::1]:7002",
                                    "node-3.example:7003"};

/* Asserts member id of node at's engine has address (addr, len). */
static void assert_addr(uint64_t at, uint64_t id, const void *addr,
                        size_t len)
{
    const craft_engine *e = host_node(&N, at)->e;
    size_t n = craft_engine_member_count(e);
    for (size_t k = 0; k < n; k++) {
        uint64_t mid = 0;
        ck_assert_int_eq(craft_engine_member(e, k, &mid, NULL), CRAFT_OK);
        if (mid != id) {
            continue;
        }
        const void *a = (const void *)1;
        size_t alen = 99;
        ck_assert_int_eq(craft_engine_member_addr(e, k, &a, &alen), CRAFT_OK);
        ck_assert_uint_eq(alen, len);
        if (len == 0) {
            ck_assert_ptr_null(a);
        } else {
            ck_assert_mem_eq(a, addr, len);
        }
        return;
    }
    ck_abort_msg("node %llu: %llu is not a member", (unsigned long long)at,
                 (unsigned long long)id);
}

static int is_member(uint64_t at, uint64_t id, int *role)
{
    const craft_engine *e = host_node(&N, at)->e;
    for (size_t k = 0; k < craft_engine_member_count(e); k++) {
        uint64_t mid = 0;
        craft_engine_member(e, k, &mid, role);
        if (mid == id) {
            return 1;
        }
    }
    return 0;
}

static int bootstrap_addr(uint64_t id, const uint64_t *ids,
                          const craft_buf *addrs, size_t n, uint32_t flags)
{
    struct host_node *nd = host_node(&N, id);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_BOOTSTRAP;
    ev.ids = ids;
    ev.nids = n;
    ev.bufs = addrs;
    ev.nbufs = addrs != NULL ? n : 0;
    ev.flags = flags;
    int rv = craft_engine_step(nd->e, &ev, nd->acts);
    if (rv == CRAFT_OK) {
        host_execute(&N, nd);
        if (nd->pending_index != 0) {
            host_persist_pending(&N, host_node(&N, id));
        }
    }
    return rv;
}

static int change(uint64_t at, uint32_t type, uint64_t id, uint64_t peer,
                  const void *addr, size_t len, uint32_t flags)
{
    struct host_node *nd = host_node(&N, at);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = type;
    ev.id = id;
    ev.peer = peer;
    ev.data = addr;
    ev.len = len;
    ev.flags = flags;
    int rv = craft_engine_step(nd->e, &ev, nd->acts);
    if (rv == CRAFT_OK) {
        host_execute(&N, nd);
        if (nd->pending_index != 0) {
            host_persist_pending(&N, host_node(&N, at));
        }
    }
    return rv;
}

/* Nodes 1..3 bootstrapped with ADDRS (node 4 empty, 5 too), 1 elected,
 * its no-op committed everywhere. */
static void setup(void)
{
    const uint64_t ids[] = {1, 2, 3};
    craft_buf addrs[3];
    for (int k = 0; k < 3; k++) {
        addrs[k].base = ADDRS[k];
        addrs[k].len = strlen(ADDRS[k]);
    }
    eu_hosts(&N, 5, NULL, 0);
    for (uint64_t id = 1; id <= 5; id++) {
        host_node_start(&N, host_node(&N, id));
    }
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_int_eq(bootstrap_addr(id, ids, addrs, 3, CRAFT_EVENT_F_ADDR),
                         CRAFT_OK);
        /* The first entry is the configuration, in the version 2 format. */
        ck_assert_uint_eq(host_entry_at(host_node(&N, id), 1)->type, CRAFT_ENTRY_CONFIG);
        ck_assert_uint_eq(host_entry_at(host_node(&N, id), 1)->data.p[0], 2);
    }
    eu_elect(&N, 1);
    host_deliver_all(&N);
    for (uint64_t at = 1; at <= 3; at++) {
        for (uint64_t id = 1; id <= 3; id++) {
            assert_addr(at, id, ADDRS[id - 1], strlen(ADDRS[id - 1]));
        }
    }
}

START_TEST(bootstrap_with_addresses)
{
    setup();
    /* The bootstrap entries agree byte for byte. */
    eu_same_log(&N, 2, 1);
    eu_same_log(&N, 3, 1);
    const craft_engine *e = host_node(&N, 1)->e;
    const void *a;
    size_t len;
    ck_assert_int_eq(craft_engine_member_addr(e, 3, &a, &len), CRAFT_EINVAL);
    ck_assert_int_eq(craft_engine_member_addr(NULL, 0, &a, &len),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_engine_member_addr(e, 0, NULL, &len),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_engine_member_addr(e, 0, &a, NULL), CRAFT_EINVAL);
    eu_free(&N);
}
END_TEST

START_TEST(added_server_address_replicated_promoted_removed)
{
    setup();
    /* Opaque bytes, NULs included: the engine does not read them. */
    static const unsigned char addr4[] = {0, 1, 2, 0xff, 'x', 0};
    ck_assert_int_eq(change(1, CRAFT_EVENT_ADD_PEER, 40, 4, addr4,
                            sizeof(addr4), CRAFT_EVENT_F_ADDR),
                     CRAFT_OK);
    int role = 0;
    ck_assert(is_member(1, 4, &role));
    ck_assert_int_eq(role, CRAFT_LEARNER);
    assert_addr(1, 4, addr4, sizeof(addr4));
    host_deliver_all(&N);
    for (uint64_t at = 1; at <= 4; at++) {
        ck_assert(is_member(at, 4, NULL));
        assert_addr(at, 4, addr4, sizeof(addr4));
        assert_addr(at, 2, ADDRS[1], strlen(ADDRS[1]));
    }
    /* Caught up: the promotion keeps the address. */
    for (int t = 0; t < 50 && !(is_member(1, 4, &role) && role == CRAFT_VOTER);
         t++) {
        host_tick(&N, host_node(&N, 1));
        host_deliver_all(&N);
    }
    host_tick(&N, host_node(&N, 1));
    host_deliver_all(&N);
    for (uint64_t at = 1; at <= 4; at++) {
        ck_assert(is_member(at, 4, &role));
        ck_assert_int_eq(role, CRAFT_VOTER);
        assert_addr(at, 4, addr4, sizeof(addr4));
    }
    /* Removing 2 removes its address with it; the others keep theirs. */
    ck_assert_int_eq(change(1, CRAFT_EVENT_REMOVE, 41, 2, NULL, 0, 0),
                     CRAFT_OK);
    host_deliver_all(&N);
    for (uint64_t at = 1; at <= 4; at++) {
        if (at == 2) {
            continue;
        }
        ck_assert(!is_member(at, 2, NULL));
        assert_addr(at, 1, ADDRS[0], strlen(ADDRS[0]));
        assert_addr(at, 3, ADDRS[2], strlen(ADDRS[2]));
        assert_addr(at, 4, addr4, sizeof(addr4));
    }

    /* The membership bytes of a snapshot carry the addresses: an engine
     * loaded from them reports the same. */
    const craft_engine *e = host_node(&N, 1)->e;
    uint64_t last = craft_engine_last_index(e);
    const void *conf;
    size_t clen;
    ck_assert_int_eq(craft_engine_conf_at(e, last, &conf, &clen), CRAFT_OK);
    ck_assert_uint_eq(((const uint8_t *)conf)[0], 2);
    uint8_t copy[CRAFT_CONF_MAX_BYTES];
    memcpy(copy, conf, clen);
    craft_engine_options o = eu_opts(5);
    craft_engine *f = eu_create(&o);
    ck_assert_int_eq(craft_engine_load_hard_state(f, 2, 0), CRAFT_OK);
    ck_assert_int_eq(craft_engine_load_snapshot(f, last, 2, copy, clen),
                     CRAFT_OK);
    ck_assert_uint_eq(craft_engine_member_count(f), 3);
    for (size_t k = 0; k < 3; k++) {
        uint64_t id;
        const void *a;
        size_t len;
        craft_engine_member(f, k, &id, NULL);
        craft_engine_member_addr(f, k, &a, &len);
        if (id == 4) {
            ck_assert_uint_eq(len, sizeof(addr4));
            ck_assert_mem_eq(a, addr4, len);
        } else {
            ck_assert_uint_eq(len, strlen(ADDRS[id - 1]));
            ck_assert_mem_eq(a, ADDRS[id - 1], len);
        }
    }
    craft_engine_free(f);
    eu_free(&N);
}
END_TEST

/* The 1.0 event form: ADD_LEARNER without the flag ignores data/len. */
START_TEST(old_event_form_adds_without_address)
{
    setup();
    ck_assert_int_eq(change(1, CRAFT_EVENT_ADD_LEARNER, 40, 4, "stale", 5, 0),
                     CRAFT_OK);
    host_deliver_all(&N);
    assert_addr(1, 4, NULL, 0);
    assert_addr(4, 4, NULL, 0);
    assert_addr(4, 1, ADDRS[0], strlen(ADDRS[0]));
    eu_free(&N);

    /* A cluster bootstrapped without addresses writes version 1, as 1.0
     * did (and stale bufs are ignored without the flag). */
    const uint64_t ids[] = {1, 2, 3};
    craft_buf junk[3] = {{"a", 1}, {"b", 1}, {"c", 1}};
    eu_hosts(&N, 3, NULL, 0);
    host_node_start(&N, host_node(&N, 1));
    ck_assert_int_eq(bootstrap_addr(1, ids, junk, 3, 0), CRAFT_OK);
    ck_assert_uint_eq(host_entry_at(host_node(&N, 1), 1)->data.p[0], 1);
    ck_assert_uint_eq(host_entry_at(host_node(&N, 1), 1)->data.len, 9 + 9 * 3);
    assert_addr(1, 2, NULL, 0);
    eu_free(&N);
}
END_TEST

START_TEST(address_errors)
{
    setup();
    uint8_t big[CRAFT_MAX_ADDR_BYTES + 1];
    memset(big, 'a', sizeof(big));
    struct host_node *ld = host_node(&N, 1);
    char *before = eu_render(ld->e, ld->acts);
    ck_assert_int_eq(change(1, CRAFT_EVENT_ADD_PEER, 50, 4, big, sizeof(big),
                            CRAFT_EVENT_F_ADDR),
                     CRAFT_ETOOBIG);
    ck_assert_uint_eq(craft_actions_count(ld->acts), 0);
    ck_assert_int_eq(change(1, CRAFT_EVENT_ADD_LEARNER, 51, 4, NULL, 3,
                            CRAFT_EVENT_F_ADDR),
                     CRAFT_EINVAL);
    ck_assert(!is_member(1, 4, NULL));
    /* The longest address is fine. */
    ck_assert_int_eq(change(1, CRAFT_EVENT_ADD_LEARNER, 52, 4, big,
                            CRAFT_MAX_ADDR_BYTES, CRAFT_EVENT_F_ADDR),
                     CRAFT_OK);
    assert_addr(1, 4, big, CRAFT_MAX_ADDR_BYTES);
    free(before);
    eu_free(&N);

    /* Bootstrap: a missing or short address list, a NULL base, too long
     * an address; nothing changes. */
    const uint64_t ids[] = {1, 2, 3};
    craft_buf addrs[3] = {{"a", 1}, {"b", 1}, {"c", 1}};
    eu_hosts(&N, 3, NULL, 0);
    host_node_start(&N, host_node(&N, 1));
    craft_engine *e = host_node(&N, 1)->e;
    craft_actions *a = host_node(&N, 1)->acts;
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_BOOTSTRAP;
    ev.ids = ids;
    ev.nids = 3;
    ev.flags = CRAFT_EVENT_F_ADDR;
    ck_assert_int_eq(craft_engine_step(e, &ev, a), CRAFT_EINVAL);
    ev.bufs = addrs;
    ev.nbufs = 2;
    ck_assert_int_eq(craft_engine_step(e, &ev, a), CRAFT_EINVAL);
    ev.nbufs = 3;
    addrs[1].base = NULL;
    ck_assert_int_eq(craft_engine_step(e, &ev, a), CRAFT_EINVAL);
    addrs[1].base = big;
    addrs[1].len = sizeof(big);
    ck_assert_int_eq(craft_engine_step(e, &ev, a), CRAFT_ETOOBIG);
    ck_assert_uint_eq(craft_engine_term(e), 0);
    ck_assert_uint_eq(craft_engine_member_count(e), 0);
    addrs[1].len = 0; /* an empty address among others */
    ck_assert_int_eq(craft_engine_step(e, &ev, a), CRAFT_OK);
    ck_assert_uint_eq(craft_engine_member_count(e), 3);
    host_execute(&N, host_node(&N, 1));
    assert_addr(1, 1, "a", 1);
    assert_addr(1, 2, NULL, 0);
    assert_addr(1, 3, "c", 1);
    eu_free(&N);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_addr");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bootstrap_with_addresses);
    tcase_add_test(tc, added_server_address_replicated_promoted_removed);
    tcase_add_test(tc, old_event_form_adds_without_address);
    tcase_add_test(tc, address_errors);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
