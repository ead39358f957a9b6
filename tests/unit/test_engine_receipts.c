/*
 * Proposal receipts: every accepted proposal gets an (index,
 * term) receipt; the host matches the entry applied at that index to the
 * caller and reports CRAFT_ELOST when an entry of another term was applied
 * there instead. A proposal to a non-leader is refused with a leader hint.
 */
#include "engine_util.h"
#include "harness.h"

static struct host C;

static void others(uint64_t l, uint64_t *a, uint64_t *b)
{
    *a = l == 1 ? 2 : 1;
    *b = 6 - l - *a;
}

/*
 * The host-side check (what a runtime does when APPLY reaches the index of
 * a receipt): the proposal succeeded if the applied entry has the
 * receipt's term, and was lost otherwise (by Log Matching, same index and
 * term means the same entry). The reference host (src/host/) does exactly
 * this when it applies an entry.
 */
static int receipt_outcome(uint64_t receipt_term, uint64_t applied_term)
{
    return receipt_term == applied_term ? CRAFT_OK : CRAFT_ELOST;
}

static const struct host_receipt *receipt_of(struct host_node *nd, uint64_t id)
{
    for (size_t k = 0; k < nd->nreceipts; k++) {
        if (nd->receipts[k].id == id) {
            return &nd->receipts[k];
        }
    }
    ck_abort_msg("no receipt for %llu", (unsigned long long)id);
    return NULL;
}

/* A batch is one receipt: first index, term, count; the leader's sends of
 * the entries come before its own write (thesis §10.2.1). */
START_TEST(every_accepted_proposal_gets_a_receipt)
{
    eu_init(&C, 3, 1);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    uint64_t term = craft_engine_term(ld->e);
    uint64_t first = craft_engine_last_index(ld->e) + 1;
    craft_buf bufs[3] = {{"one", 3}, {"two", 3}, {"three", 5}};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = bufs;
    ev.nbufs = 3;
    ev.id = 41;
    host_step_raw(&C, ld, &ev);
    EU_ASSERT_TYPES(ld->acts, CRAFT_ACTION_PROPOSE_RESULT, CRAFT_ACTION_SEND,
                    CRAFT_ACTION_SEND, CRAFT_ACTION_APPEND);
    ck_assert_uint_eq(craft_action_id(ld->acts, 0), 41);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_OK);
    ck_assert_uint_eq(craft_action_index(ld->acts, 0), first);
    ck_assert_uint_eq(craft_action_term(ld->acts, 0), term);
    ck_assert_uint_eq(craft_action_count(ld->acts, 0), 3);
    ck_assert_uint_eq(craft_action_leader(ld->acts, 0), l);
    for (size_t k = 1; k <= 2; k++) {
        struct craft_msg m;
        eu_action_msg(ld->acts, k, &m);
        ck_assert_uint_eq(m.type, CRAFT_MSG_APPEND);
        ck_assert_uint_eq(m.n_entries, 3);
        ck_assert_uint_eq(m.index, first - 1);
    }
    ck_assert_uint_eq(craft_action_index(ld->acts, 3), first);
    ck_assert_uint_eq(craft_action_count(ld->acts, 3), 3);
    host_execute(&C, ld);
    host_propose(&C, ld, 42, "four", 4);
    struct host_result r = host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 42);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.index, first + 3);
    ck_assert_uint_eq(r.term, term);
    ck_assert_uint_eq(r.count, 1);
    host_deliver_all(&C);
    /* Applied with the receipt's term: all four settle CRAFT_OK. */
    ck_assert_uint_eq(ld->applied, first + 3);
    ck_assert_uint_eq(ld->nreceipts, 4);
    for (size_t k = 0; k < ld->nreceipts; k++) {
        ck_assert_int_eq(ld->receipts[k].status, CRAFT_OK);
        ck_assert_uint_eq(ld->applied_terms[ld->receipts[k].index], term);
    }
    host_free(&C);
}
END_TEST

START_TEST(proposal_to_non_leader_refused_with_hint)
{
    eu_init(&C, 3, 2);
    /* Nobody leads yet: no hint. */
    struct host_node *n1 = host_node(&C, 1);
    craft_buf b = {"x", 1};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = &b;
    ev.nbufs = 1;
    ev.id = 1;
    host_step_raw(&C, n1, &ev);
    EU_ASSERT_TYPES(n1->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_int_eq(craft_action_status(n1->acts, 0), CRAFT_ENOTLEADER);
    ck_assert_uint_eq(craft_action_leader(n1->acts, 0), CRAFT_NONE);
    ck_assert_uint_eq(craft_action_index(n1->acts, 0), 0);
    host_execute(&C, n1);

    uint64_t l = host_elect_ready(&C, 100);
    uint64_t a, bb;
    others(l, &a, &bb);
    struct host_node *fn = host_node(&C, a);
    uint64_t last = craft_engine_last_index(fn->e);
    ev.id = 2;
    host_step_raw(&C, fn, &ev);
    EU_ASSERT_TYPES(fn->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_uint_eq(craft_action_id(fn->acts, 0), 2);
    ck_assert_int_eq(craft_action_status(fn->acts, 0), CRAFT_ENOTLEADER);
    ck_assert_uint_eq(craft_action_leader(fn->acts, 0), l);
    ck_assert_uint_eq(craft_action_index(fn->acts, 0), 0);
    ck_assert_uint_eq(craft_action_term(fn->acts, 0), 0);
    ck_assert_uint_eq(craft_action_count(fn->acts, 0), 0);
    host_execute(&C, fn);
    ck_assert_uint_eq(craft_engine_last_index(fn->e), last);
    ck_assert_uint_eq(fn->nreceipts, 0);
    host_free(&C);
}
END_TEST

/* Elects a leader among the nodes other than `out` and returns it. */
static uint64_t elect_without(uint64_t out)
{
    for (int t = 0; t < 200; t++) {
        for (uint64_t x = 1; x <= (uint64_t)C.n; x++) {
            if (x != out) {
                host_tick(&C, host_node(&C, x));
            }
        }
        host_deliver_all(&C);
        for (uint64_t x = 1; x <= (uint64_t)C.n; x++) {
            if (x != out &&
                craft_engine_role(host_node(&C, x)->e) == CRAFT_ROLE_LEADER) {
                return x;
            }
        }
    }
    ck_abort_msg("no leader");
    return 0;
}

/*
 * A proposal whose index is overwritten is
 * reported lost. A leader cut off accepts a proposal (receipt (i, t));
 * the others elect a leader whose entries take index i in a later term;
 * when the old leader rejoins, its entry i is truncated and replaced, and
 * the APPLY at index i carries another term than the receipt: the host
 * reports CRAFT_ELOST.
 */
START_TEST(overwritten_proposal_reported_lost)
{
    eu_init(&C, 3, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    host_isolate(&C, l, 1);
    host_propose(&C, ld, 7, "doomed", 6);
    struct host_result r = host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 7);
    ck_assert_int_eq(r.status, CRAFT_OK);
    uint64_t i = r.index, t = r.term;
    ck_assert_uint_eq(i, 3);
    host_drop_all(&C);

    uint64_t nl = elect_without(l);
    struct host_node *nd = host_node(&C, nl);
    ck_assert_uint_gt(craft_engine_term(nd->e), t);
    host_propose(&C, nd, 8, "winner", 6);
    host_deliver_all(&C);
    ck_assert_uint_ge(craft_engine_commit_index(nd->e), i);
    uint64_t nterm = craft_engine_term(nd->e);

    /* The old leader rejoins. Find the append that overwrites index i. */
    host_isolate(&C, l, 0);
    int truncated = 0;
    for (int k = 0; k < 20 && !truncated; k++) {
        host_tick(&C, nd);
        struct host_msg m;
        while (!truncated && host_take_msg(&C, 0, 0, 0, &m)) {
            struct host_node *to = host_deliver_raw(&C, &m);
            if (to == ld) {
                long x = eu_find(ld->acts, 0, CRAFT_ACTION_TRUNCATE);
                if (x >= 0) {
                    /* TRUNCATE i, then APPEND from i in the new term,
                     * both before the ack. */
                    ck_assert_uint_eq(craft_action_index(ld->acts, (size_t)x),
                                      i);
                    long y = eu_find(ld->acts, (size_t)x, CRAFT_ACTION_APPEND);
                    ck_assert_int_eq(y, x + 1);
                    ck_assert_uint_eq(craft_action_index(ld->acts, (size_t)y),
                                      i);
                    uint64_t et;
                    ck_assert_int_eq(craft_action_entry(ld->acts, (size_t)y,
                                                        0, &et, NULL, NULL,
                                                        NULL),
                                     0);
                    ck_assert_uint_ne(et, t);
                    long z = eu_find(ld->acts, (size_t)y, CRAFT_ACTION_SEND);
                    ck_assert_int_gt(z, y);
                    truncated = 1;
                }
            }
            host_execute(&C, to);
        }
    }
    ck_assert(truncated);
    host_deliver_all(&C);
    host_tick(&C, nd);
    host_deliver_all(&C);

    /* The APPLY at index i carried another term. */
    ck_assert_uint_ge(ld->applied, i);
    ck_assert_uint_ne(ld->applied_terms[i], t);
    ck_assert_uint_le(ld->applied_terms[i], nterm);
    ck_assert_int_eq(receipt_outcome(t, ld->applied_terms[i]), CRAFT_ELOST);
    ck_assert_int_eq(receipt_of(ld, 7)->status, CRAFT_ELOST);
    /* The new leader's receipt settled OK, on every node's host that
     * issued it. */
    ck_assert_int_eq(receipt_of(nd, 8)->status, CRAFT_OK);
    /* And the doomed payload never reached any state machine. */
    for (uint64_t x = 1; x <= 3; x++) {
        struct host_node *y = host_node(&C, x);
        ck_assert_uint_eq(y->sm.len, nd->sm.len);
        ck_assert_mem_eq(y->sm.p, nd->sm.p, nd->sm.len);
    }
    host_free(&C);
}
END_TEST

/* The converse: an entry a deposed leader replicated to a majority is
 * kept by the next leader, so its receipt settles CRAFT_OK. */
START_TEST(receipt_survives_leader_change)
{
    eu_init(&C, 3, 4);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    /* Replicated to a and b, but the acks are lost: not committed. */
    C.cut[a][l] = C.cut[b][l] = 1;
    host_propose(&C, ld, 9, "kept", 4);
    host_deliver_all(&C);
    struct host_result r = host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 9);
    ck_assert_uint_lt(craft_engine_commit_index(ld->e), r.index);
    host_isolate(&C, l, 1);
    host_drop_all(&C);
    uint64_t nl = elect_without(l);
    host_deliver_all(&C);
    host_isolate(&C, l, 0);
    host_rounds(&C, 5);
    ck_assert_uint_eq(host_leader(&C), nl);
    ck_assert_uint_ge(ld->applied, r.index);
    ck_assert_uint_eq(ld->applied_terms[r.index], r.term);
    ck_assert_int_eq(receipt_of(ld, 9)->status, CRAFT_OK);
    host_free(&C);
}
END_TEST


/* Results of type PROPOSE_RESULT for id with status, counted. */
static size_t results_with(struct host_node *nd, uint64_t id, int status,
                           struct host_result *last)
{
    size_t n = 0;
    for (size_t k = 0; k < nd->nresults; k++) {
        const struct host_result *r = &nd->results[k];
        if (r->type == CRAFT_ACTION_PROPOSE_RESULT && r->id == id &&
            r->status == status) {
            n++;
            if (last != NULL) {
                *last = *r;
            }
        }
    }
    return n;
}

/*
 * With the option lost_receipts the engine answers a receipt again when
 * its entries are truncated by a new leader's: a PROPOSE_RESULT with the
 * same id and CRAFT_ELOST, in the step that removes them. A batch cut in
 * the middle is answered for the removed part only; the rest commits.
 * Without the option (1.0 behaviour) nothing more is said.
 */
static void lost_receipt_run(int lost_receipts)
{
    eu_setup(&C, 3, 5);
    C.opts.lost_receipts = lost_receipts;
    host_start(&C, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    /* Batch 11 (three entries): only its first reaches a and b. */
    host_propose(&C, ld, 10, "kept", 4);
    host_deliver_all(&C);
    host_isolate(&C, l, 1);
    const craft_buf bufs[3] = {{"x", 1}, {"y", 1}, {"z", 1}};
    host_propose_batch(&C, ld, 11, bufs, 3);
    struct host_result r = host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 11);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.count, 3);
    host_drop_all(&C);

    uint64_t nl = elect_without(l);
    struct host_node *nd = host_node(&C, nl);
    host_propose(&C, nd, 12, "winner", 6);
    host_deliver_all(&C);
    host_isolate(&C, l, 0);
    host_rounds(&C, 10);
    ck_assert_uint_eq(host_leader(&C), nl);
    ck_assert_uint_ge(ld->applied, r.index + 1);
    ck_assert_uint_ne(ld->applied_terms[r.index], r.term);

    struct host_result lost;
    if (!lost_receipts) {
        ck_assert_uint_eq(results_with(ld, 11, CRAFT_ELOST, NULL), 0);
        ck_assert_uint_eq(results_with(ld, 11, CRAFT_OK, NULL), 1);
        host_free(&C);
        return;
    }
    ck_assert_uint_eq(results_with(ld, 11, CRAFT_ELOST, &lost), 1);
    ck_assert_uint_eq(lost.index, r.index);
    ck_assert_uint_eq(lost.count, 3);
    ck_assert_uint_eq(lost.term, r.term);
    /* The committed proposal got no second answer. */
    ck_assert_uint_eq(results_with(ld, 10, CRAFT_ELOST, NULL), 0);
    host_free(&C);
}

START_TEST(lost_receipt_answered_with_elost)
{
    lost_receipt_run(1);
}
END_TEST

START_TEST(lost_receipt_silent_without_option)
{
    lost_receipt_run(0);
}
END_TEST

/* A batch cut in the middle: the removed part is lost, the start of it
 * commits (its APPLY carries the receipt's term). */
START_TEST(lost_receipt_partial_batch)
{
    eu_setup(&C, 3, 6);
    C.opts.lost_receipts = 1;
    C.opts.max_msg_bytes = 1; /* one entry per append message */
    host_start(&C, 3);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    host_deliver_all(&C);
    const craft_buf bufs[3] = {{"x", 1}, {"y", 1}, {"z", 1}};
    host_propose_batch(&C, ld, 21, bufs, 3);
    struct host_result r = host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 21);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.count, 3);
    /* Only the batch's first entry reaches a and b. */
    ck_assert_int_eq(host_deliver_one(&C, CRAFT_MSG_APPEND, l, a), 1);
    ck_assert_int_eq(host_deliver_one(&C, CRAFT_MSG_APPEND, l, b), 1);
    ck_assert_uint_eq(craft_engine_last_index(host_node(&C, a)->e), r.index);
    host_isolate(&C, l, 1);
    host_drop_all(&C);
    uint64_t nl = elect_without(l);
    host_deliver_all(&C);
    host_isolate(&C, l, 0);
    host_rounds(&C, 10);
    ck_assert_uint_eq(host_leader(&C), nl);

    struct host_result lost;
    ck_assert_uint_eq(results_with(ld, 21, CRAFT_ELOST, &lost), 1);
    ck_assert_uint_eq(lost.index, r.index + 1);
    ck_assert_uint_eq(lost.count, 2);
    ck_assert_uint_eq(lost.term, r.term);
    /* The first entry committed with the receipt's term. */
    ck_assert_uint_ge(ld->applied, r.index + 1);
    ck_assert_uint_eq(ld->applied_terms[r.index], r.term);
    ck_assert_uint_ne(ld->applied_terms[r.index + 1], r.term);
    host_free(&C);
}
END_TEST

/*
 * Commit index after a restart: only the snapshot's index until a leader
 * says more (craft_engine_commit_known).
 */
START_TEST(commit_known_after_restart)
{
    eu_init(&C, 3, 7);
    uint64_t l = host_elect_ready(&C, 100);
    struct host_node *ld = host_node(&C, l);
    host_propose(&C, ld, 1, "a", 1);
    host_rounds(&C, 3);
    uint64_t commit = craft_engine_commit_index(ld->e);
    ck_assert_uint_ge(commit, 3);
    ck_assert_int_eq(craft_engine_commit_known(ld->e), 1);
    ck_assert_int_eq(craft_engine_commit_known(NULL), 0);

    uint64_t a, b;
    others(l, &a, &b);
    struct host_node *fa = host_node(&C, a);
    host_crash(&C, fa);
    host_node_start(&C, fa);
    /* Entries loaded, no leader heard yet. */
    ck_assert_uint_ge(craft_engine_last_index(fa->e), commit);
    ck_assert_uint_eq(craft_engine_commit_index(fa->e), fa->snap.index);
    ck_assert_int_eq(craft_engine_commit_known(fa->e), 0);
    host_rounds(&C, 3);
    ck_assert_int_eq(craft_engine_commit_known(fa->e), 1);
    ck_assert_uint_ge(craft_engine_commit_index(fa->e), commit);
    host_free(&C);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_receipts");
    TCase *tc = tcase_create("receipts");
    tcase_add_test(tc, every_accepted_proposal_gets_a_receipt);
    tcase_add_test(tc, proposal_to_non_leader_refused_with_hint);
    tcase_add_test(tc, overwritten_proposal_reported_lost);
    tcase_add_test(tc, receipt_survives_leader_change);
    tcase_add_test(tc, lost_receipt_answered_with_elost);
    tcase_add_test(tc, lost_receipt_silent_without_option);
    tcase_add_test(tc, lost_receipt_partial_batch);
    tcase_add_test(tc, commit_known_after_restart);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
