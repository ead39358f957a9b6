/*
 * tests/integration/test_node_suspend.c: leases across a system suspend.
 *
 * The node measures ticks (and so leases, thesis §6.4.1) on a time base
 * that goes on counting while the system is suspended (CLOCK_BOOTTIME),
 * while its waits are timed on CLOCK_MONOTONIC, which stops. The test
 * replaces the time base (the node's clock hook) to stage a suspend: the
 * time base stands still, then jumps forward by ten election timeouts at
 * once, as CLOCK_BOOTTIME does on resume, while CLOCK_MONOTONIC does not.
 *
 * A leader cut off from its followers can answer a read only from its
 * lease. Before the suspend it does (the lease is valid: no time has
 * passed since a quorum confirmed it), which shows the test would see a
 * lease read; after the suspend it must not: the read fails instead of
 * returning state that a new leader elected meanwhile might have
 * overwritten.
 */
#include <stdatomic.h>

#include "node/node.h"
#include "node_harness.h"

/* The staged clock: the system's time base plus jump_ns, or frozen_ns
 * while that is not 0. */
static _Atomic int64_t frozen_ns;
static _Atomic int64_t jump_ns;

static int64_t staged_clock(void)
{
    int64_t f = atomic_load(&frozen_ns);
    return f != 0 ? f : nd_clock_system_ns() + atomic_load(&jump_ns);
}

static void clock_freeze(void)
{
    atomic_store(&frozen_ns, staged_clock());
}

/* Ends the freeze as a resume after a suspend of ns: the time base goes
 * on from where it stood plus ns. */
static void clock_resume_after(int64_t ns)
{
    int64_t f = atomic_load(&frozen_ns);
    atomic_store(&jump_ns, f + ns - nd_clock_system_ns());
    atomic_store(&frozen_ns, 0);
}

static int read_on(struct tcluster *c, uint64_t id, uint32_t timeout_ms)
{
    struct twait w;
    tw_init(&w);
    int rv = craft_node_read_linearizable(tc_node(c, id)->node, timeout_ms,
                                          tw_cb, &w);
    if (rv == CRAFT_OK) {
        rv = tw_wait(&w, TC_WAIT_MS);
    }
    tw_destroy(&w);
    return rv;
}

START_TEST(no_lease_read_after_suspend)
{
    struct tcluster c;
    tc_init(&c);
    c.eopts.lease_reads = 1;
    c.eopts.check_quorum = 1;
    c.eopts.election_ticks = 30;
    c.eopts.heartbeat_ticks = 3;
    atomic_store(&frozen_ns, 0);
    atomic_store(&jump_ns, 0);
    nd_clock_set_hook(staged_clock);
    tc_start(&c, 3);
    tc_commit(&c, 7);

    /* Freeze time on a leader that has just confirmed its leadership: a
     * read through it completes (from its lease or a fresh round, either
     * way the lease then runs for ticks that cannot pass while the clock
     * stands still). A leader change before the freeze: again. */
    uint64_t leader = 0;
    for (int attempt = 0; attempt < 50 && leader == 0; attempt++) {
        uint64_t l = tc_wait_leader(&c);
        clock_freeze();
        if (craft_node_role(tc_node(&c, l)->node) == CRAFT_ROLE_LEADER &&
            read_on(&c, l, 0) == CRAFT_OK) {
            leader = l;
        } else {
            clock_resume_after(0);
            tc_sleep_ms(20);
        }
    }
    ck_assert_uint_ne(leader, 0);

    /* Cut off, within its lease: the read is answered from the lease. */
    ck_assert_int_eq(craft_hub_isolate(c.hub, leader, 1), CRAFT_OK);
    ck_assert_int_eq(read_on(&c, leader, 0), CRAFT_OK);

    /* Suspended for ten election timeouts (30 ticks of 10 ms each): the
     * lease ran out while the system slept. The first read after resume
     * must not be answered from it. */
    clock_resume_after((int64_t)10 * 30 * 10 * 1000000);
    int st = read_on(&c, leader, 2000);
    ck_assert_msg(st != CRAFT_OK,
                  "a read was answered from a lease that expired during "
                  "the suspend");
    ck_assert_msg(st == CRAFT_ENOTLEADER || st == CRAFT_ESTEPPEDDOWN ||
                      st == CRAFT_ETIMEDOUT,
                  "read after suspend: %s", craft_strerror(st));

    ck_assert_int_eq(craft_hub_isolate(c.hub, leader, 0), CRAFT_OK);
    tc_free(&c);
    nd_clock_set_hook(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_suspend");
    TCase *tc = tcase_create("suspend");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, no_lease_read_after_suspend);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
