/*
 * tests/integration/test_node_powerloss.c: power losses through
 * craft_mem_storage_crash(): a storage forgets every write since its last
 * sync. The nodes must have acknowledged only what was durable (Raft
 * Figure 2: a server answers after its log is on stable storage; a leader
 * counts itself only once its own write is durable, thesis §10.2.1):
 * after the whole cluster loses power at a random moment and restarts,
 * every acknowledged proposal is applied, in order, once.
 *
 * Memory storage only (the file storage's crashes are real ones, in
 * tests/storage/test_storage_crash.c and test_storage_faults.c).
 */
#include "node_harness.h"

/* Far above the sum of the values 1..m (m reaches 10^5 in a run on a fast
 * runtime, so 10^9 was not), so sum / MARK counts the marks. */
#define MARK 1000000000000000ull

struct prop {
    atomic_ullong acked_max; /* highest value acknowledged */
    atomic_ullong acked;     /* how many values were acknowledged */
    atomic_int inflight;
    atomic_int crashing;     /* the errors now come from the power loss */
    /* values that failed before the power loss: a leader that stepped
     * down (a loaded machine's stall) drops entries it never committed,
     * and later values may still commit after it, so they leave holes */
    atomic_int failed;
};

struct one {
    struct prop *p;
    uint64_t value;
};

static void on_done(void *ctx, const craft_result *res)
{
    struct one *o = ctx;
    if (craft_result_status(res) != CRAFT_OK) {
        if (!atomic_load(&o->p->crashing)) {
            atomic_fetch_add(&o->p->failed, 1);
        }
    } else {
        atomic_fetch_add(&o->p->acked, 1);
        unsigned long long cur = atomic_load(&o->p->acked_max);
        while (o->value > cur &&
               !atomic_compare_exchange_weak(&o->p->acked_max, &cur,
                                             o->value)) {
        }
    }
    atomic_fetch_sub(&o->p->inflight, 1);
    free(o);
}

/* Proposes 1, 2, 3, ... on the leader (each value once it was accepted)
 * for about ms milliseconds; returns the next value. */
static uint64_t propose_for(struct tcluster *c, struct prop *p,
                            uint64_t next, int ms)
{
    /* the window starts once a leader is known: an election may take
     * longer than the window on a loaded machine */
    uint64_t leader = tc_wait_leader(c);
    int64_t end = tc_now_ms() + ms;
    /* until at least one value is acknowledged too (generous bound) */
    int64_t last = end + 30000;
    while (tc_now_ms() < end ||
           (atomic_load(&p->acked_max) == 0 && tc_now_ms() < last)) {
        if (atomic_load(&p->inflight) >= 64) {
            tc_sleep_ms(1);
            continue;
        }
        unsigned char buf[8];
        struct one *o = malloc(sizeof(*o));
        o->p = p;
        o->value = next;
        put_u64(buf, next);
        atomic_fetch_add(&p->inflight, 1);
        int rv = craft_node_propose(tc_node(c, leader)->node, buf, 8, 0,
                                    on_done, o);
        if (rv != CRAFT_OK) {
            atomic_fetch_sub(&p->inflight, 1);
            free(o);
            tc_sleep_ms(1);
            continue;
        }
        next++;
    }
    return next;
}

static void power_loss(struct tcluster *c, int n, struct prop *p)
{
    atomic_store(&p->crashing, 1);
    /* every disk at the same instant, then the machines stop */
    for (int id = 1; id <= n; id++) {
        ck_assert_int_eq(craft_mem_storage_crash(tc_node(c, (uint64_t)id)->ms),
                         CRAFT_OK);
    }
    for (int id = 1; id <= n; id++) {
        tc_crash(c, (uint64_t)id);
        ck_assert_int_eq(craft_mem_storage_fail(tc_node(c, (uint64_t)id)->ms,
                                                0),
                         CRAFT_OK);
    }
}

static void check_after_restart(struct tcluster *c, int n, struct prop *p)
{
    uint64_t ids[TC_MAX];
    for (int k = 0; k < n; k++) {
        ids[k] = (uint64_t)k + 1;
    }
    for (int k = 0; k < n; k++) {
        tc_launch(c, ids[k], NULL, 0);
    }
    /* a commit in the new term commits everything before it (§5.4.2) */
    uint64_t index = tc_commit(c, MARK);
    tc_wait_applied(c, index);
    for (int id = 1; id <= n; id++) {
        uint64_t count = 0, sum = 0;
        tfsm_read(&tc_node(c, (uint64_t)id)->fsm, &count, &sum, NULL);
        /* the values are 1..m, then the marks: nothing twice, no hole */
        uint64_t marks = sum / MARK;
        uint64_t m = count - marks;
        ck_assert_uint_ge(marks, 1);
        /* every acknowledged value survived (a count: values are only
         * ever proposed once, and tfsm asserts each index applies once) */
        ck_assert_msg(m >= atomic_load(&p->acked),
                      "node %d: %llu values acknowledged, %llu survived", id,
                      (unsigned long long)atomic_load(&p->acked),
                      (unsigned long long)m);
        if (atomic_load(&p->failed) > 0) {
            continue; /* holes are allowed where values failed */
        }
        ck_assert_msg(sum - marks * MARK == m * (m + 1) / 2,
                      "node %d: %llu values summing to %llu: a hole or a "
                      "duplicate", id, (unsigned long long)m,
                      (unsigned long long)(sum - marks * MARK));
        ck_assert_msg(m >= atomic_load(&p->acked_max),
                      "node %d: value %llu was acknowledged but only 1..%llu "
                      "survived", id,
                      (unsigned long long)atomic_load(&p->acked_max),
                      (unsigned long long)m);
    }
}

static int memory_only(void)
{
    if (tc_file_storage()) {
        fprintf(stderr, "%s: memory storage only; skipped\n", __FILE__);
        return 0;
    }
    return 1;
}

/* A 3-node cluster loses power while proposals are acknowledged, three
 * times over. */
START_TEST(cluster_power_loss)
{
    struct tcluster c;
    static struct prop p;
    unsigned seed = (unsigned)time(NULL);
    if (!memory_only()) {
        return;
    }
    atomic_store(&p.acked_max, 0);
    atomic_store(&p.acked, 0);
    atomic_store(&p.inflight, 0);
    atomic_store(&p.crashing, 0);
    atomic_store(&p.failed, 0);
    tc_init(&c);
    c.eopts.snapshot_entries = 300; /* snapshots in between too */
    c.eopts.snapshot_trailing = 20;
    tc_start(&c, 3);
    uint64_t next = 1;
    for (int round = 0; round < 3; round++) {
        next = propose_for(&c, &p, next, 100 + (int)(rand_r(&seed) % 300));
        power_loss(&c, 3, &p);
        /* what was in flight completed with an error at the crash */
        ck_assert_int_eq(atomic_load(&p.inflight), 0);
        check_after_restart(&c, 3, &p);
        /* the next values follow what survived */
        uint64_t count = 0, sum = 0;
        tfsm_read(&tc_node(&c, 1)->fsm, &count, &sum, NULL);
        if (atomic_load(&p.failed) > 0) {
            break; /* the values no longer follow 1..m */
        }
        next = count - sum / MARK + 1;
        atomic_store(&p.acked_max, next - 1);
        atomic_store(&p.acked, next - 1);
        atomic_store(&p.crashing, 0);
    }
    ck_assert_uint_gt(next, 1);
    tc_free(&c);
}
END_TEST

/* One server alone: what it acknowledged was synced on its own disk. */
START_TEST(single_server_power_loss)
{
    struct tcluster c;
    static struct prop p;
    if (!memory_only()) {
        return;
    }
    atomic_store(&p.acked_max, 0);
    atomic_store(&p.acked, 0);
    atomic_store(&p.inflight, 0);
    atomic_store(&p.crashing, 0);
    atomic_store(&p.failed, 0);
    tc_init(&c);
    tc_start(&c, 1);
    propose_for(&c, &p, 1, 200);
    ck_assert_uint_gt(atomic_load(&p.acked_max), 0);
    uint64_t syncs = craft_mem_storage_syncs(tc_node(&c, 1)->ms);
    ck_assert_uint_gt(syncs, 0);
    power_loss(&c, 1, &p);
    check_after_restart(&c, 1, &p);
    tc_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_powerloss");
    TCase *tc = tcase_create("powerloss");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cluster_power_loss);
    tcase_add_test(tc, single_server_power_loss);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
