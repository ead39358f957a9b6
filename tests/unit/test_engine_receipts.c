/*
 * Proposal receipts: every accepted proposal gets an (index,
 * term) receipt; the host matches the entry applied at that index to the
 * caller and reports CRAFT_ELOST when an entry of another term was applied
 * there instead. A proposal to a non-leader is refused with a leader hint.
 */
#include "cluster3.h"
#include "harness.h"

static struct c3 C;

static void others(uint64_t l, uint64_t *a, uint64_t *b)
{
    *a = l == 1 ? 2 : 1;
    *b = 6 - l - *a;
}

/*
 * The host-side check (what a runtime does when APPLY reaches the index of
 * a receipt): the proposal succeeded if the applied entry has the
 * receipt's term, and was lost otherwise (by Log Matching, same index and
 * term means the same entry). cluster3.h's host does exactly this in
 * c3_settle_receipts.
 */
static int receipt_outcome(uint64_t receipt_term, uint64_t applied_term)
{
    return receipt_term == applied_term ? CRAFT_OK : CRAFT_ELOST;
}

static const struct c3_receipt *receipt_of(struct c3_node *nd, uint64_t id)
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
    c3_init(&C, 3, 1);
    uint64_t l = c3_elect_ready(&C, 100);
    struct c3_node *ld = c3_node(&C, l);
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
    c3_step_raw(ld, &ev);
    C3_ASSERT_TYPES(ld->acts, CRAFT_ACTION_PROPOSE_RESULT, CRAFT_ACTION_SEND,
                    CRAFT_ACTION_SEND, CRAFT_ACTION_APPEND);
    ck_assert_uint_eq(craft_action_id(ld->acts, 0), 41);
    ck_assert_int_eq(craft_action_status(ld->acts, 0), CRAFT_OK);
    ck_assert_uint_eq(craft_action_index(ld->acts, 0), first);
    ck_assert_uint_eq(craft_action_term(ld->acts, 0), term);
    ck_assert_uint_eq(craft_action_count(ld->acts, 0), 3);
    ck_assert_uint_eq(craft_action_leader(ld->acts, 0), l);
    for (size_t k = 1; k <= 2; k++) {
        struct craft_msg m;
        c3_action_msg(ld->acts, k, &m);
        ck_assert_uint_eq(m.type, CRAFT_MSG_APPEND);
        ck_assert_uint_eq(m.n_entries, 3);
        ck_assert_uint_eq(m.index, first - 1);
    }
    ck_assert_uint_eq(craft_action_index(ld->acts, 3), first);
    ck_assert_uint_eq(craft_action_count(ld->acts, 3), 3);
    c3_execute(&C, ld);
    c3_propose(&C, ld, 42, "four", 4);
    struct c3_result r = c3_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 42);
    ck_assert_int_eq(r.status, CRAFT_OK);
    ck_assert_uint_eq(r.index, first + 3);
    ck_assert_uint_eq(r.term, term);
    ck_assert_uint_eq(r.count, 1);
    c3_deliver_all(&C);
    /* Applied with the receipt's term: all four settle CRAFT_OK. */
    ck_assert_uint_eq(ld->applied, first + 3);
    ck_assert_uint_eq(ld->nreceipts, 4);
    for (size_t k = 0; k < ld->nreceipts; k++) {
        ck_assert_int_eq(ld->receipts[k].status, CRAFT_OK);
        ck_assert_uint_eq(ld->applied_terms[ld->receipts[k].index], term);
    }
    c3_free(&C);
}
END_TEST

START_TEST(proposal_to_non_leader_refused_with_hint)
{
    c3_init(&C, 3, 2);
    /* Nobody leads yet: no hint. */
    struct c3_node *n1 = c3_node(&C, 1);
    craft_buf b = {"x", 1};
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = &b;
    ev.nbufs = 1;
    ev.id = 1;
    c3_step_raw(n1, &ev);
    C3_ASSERT_TYPES(n1->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_int_eq(craft_action_status(n1->acts, 0), CRAFT_ENOTLEADER);
    ck_assert_uint_eq(craft_action_leader(n1->acts, 0), CRAFT_NONE);
    ck_assert_uint_eq(craft_action_index(n1->acts, 0), 0);
    c3_execute(&C, n1);

    uint64_t l = c3_elect_ready(&C, 100);
    uint64_t a, bb;
    others(l, &a, &bb);
    struct c3_node *fn = c3_node(&C, a);
    uint64_t last = craft_engine_last_index(fn->e);
    ev.id = 2;
    c3_step_raw(fn, &ev);
    C3_ASSERT_TYPES(fn->acts, CRAFT_ACTION_PROPOSE_RESULT);
    ck_assert_uint_eq(craft_action_id(fn->acts, 0), 2);
    ck_assert_int_eq(craft_action_status(fn->acts, 0), CRAFT_ENOTLEADER);
    ck_assert_uint_eq(craft_action_leader(fn->acts, 0), l);
    ck_assert_uint_eq(craft_action_index(fn->acts, 0), 0);
    ck_assert_uint_eq(craft_action_term(fn->acts, 0), 0);
    ck_assert_uint_eq(craft_action_count(fn->acts, 0), 0);
    c3_execute(&C, fn);
    ck_assert_uint_eq(craft_engine_last_index(fn->e), last);
    ck_assert_uint_eq(fn->nreceipts, 0);
    c3_free(&C);
}
END_TEST

/* Elects a leader among the nodes other than `out` and returns it. */
static uint64_t elect_without(uint64_t out)
{
    for (int t = 0; t < 200; t++) {
        for (uint64_t x = 1; x <= (uint64_t)C.n; x++) {
            if (x != out) {
                c3_tick(&C, c3_node(&C, x));
            }
        }
        c3_deliver_all(&C);
        for (uint64_t x = 1; x <= (uint64_t)C.n; x++) {
            if (x != out &&
                craft_engine_role(c3_node(&C, x)->e) == CRAFT_ROLE_LEADER) {
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
    c3_init(&C, 3, 3);
    uint64_t l = c3_elect_ready(&C, 100);
    struct c3_node *ld = c3_node(&C, l);
    c3_isolate(&C, l, 1);
    c3_propose(&C, ld, 7, "doomed", 6);
    struct c3_result r = c3_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 7);
    ck_assert_int_eq(r.status, CRAFT_OK);
    uint64_t i = r.index, t = r.term;
    ck_assert_uint_eq(i, 3);
    c3_drop_all(&C);

    uint64_t nl = elect_without(l);
    struct c3_node *nd = c3_node(&C, nl);
    ck_assert_uint_gt(craft_engine_term(nd->e), t);
    c3_propose(&C, nd, 8, "winner", 6);
    c3_deliver_all(&C);
    ck_assert_uint_ge(craft_engine_commit_index(nd->e), i);
    uint64_t nterm = craft_engine_term(nd->e);

    /* The old leader rejoins. Find the append that overwrites index i. */
    c3_isolate(&C, l, 0);
    int truncated = 0;
    for (int k = 0; k < 20 && !truncated; k++) {
        c3_tick(&C, nd);
        while (C.nq > 0 && !truncated) {
            struct c3_msg m = C.q[0];
            c3_take_msg(&C, 0, m.from, m.to, &m);
            struct c3_node *to = c3_deliver_raw(&C, &m);
            if (to == ld) {
                long x = c3_find(ld->acts, 0, CRAFT_ACTION_TRUNCATE);
                if (x >= 0) {
                    /* TRUNCATE i, then APPEND from i in the new term,
                     * both before the ack. */
                    ck_assert_uint_eq(craft_action_index(ld->acts, (size_t)x),
                                      i);
                    long y = c3_find(ld->acts, (size_t)x, CRAFT_ACTION_APPEND);
                    ck_assert_int_eq(y, x + 1);
                    ck_assert_uint_eq(craft_action_index(ld->acts, (size_t)y),
                                      i);
                    uint64_t et;
                    ck_assert_int_eq(craft_action_entry(ld->acts, (size_t)y,
                                                        0, &et, NULL, NULL,
                                                        NULL),
                                     0);
                    ck_assert_uint_ne(et, t);
                    long z = c3_find(ld->acts, (size_t)y, CRAFT_ACTION_SEND);
                    ck_assert_int_gt(z, y);
                    truncated = 1;
                }
            }
            c3_execute(&C, to);
        }
    }
    ck_assert(truncated);
    c3_deliver_all(&C);
    c3_tick(&C, nd);
    c3_deliver_all(&C);

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
        struct c3_node *y = c3_node(&C, x);
        ck_assert_uint_eq(y->sm.len, nd->sm.len);
        ck_assert_mem_eq(y->sm.p, nd->sm.p, nd->sm.len);
    }
    c3_free(&C);
}
END_TEST

/* The converse: an entry a deposed leader replicated to a majority is
 * kept by the next leader, so its receipt settles CRAFT_OK. */
START_TEST(receipt_survives_leader_change)
{
    c3_init(&C, 3, 4);
    uint64_t l = c3_elect_ready(&C, 100);
    struct c3_node *ld = c3_node(&C, l);
    uint64_t a, b;
    others(l, &a, &b);
    /* Replicated to a and b, but the acks are lost: not committed. */
    C.cut[a][l] = C.cut[b][l] = 1;
    c3_propose(&C, ld, 9, "kept", 4);
    c3_deliver_all(&C);
    struct c3_result r = c3_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 9);
    ck_assert_uint_lt(craft_engine_commit_index(ld->e), r.index);
    c3_isolate(&C, l, 1);
    c3_drop_all(&C);
    uint64_t nl = elect_without(l);
    c3_deliver_all(&C);
    c3_isolate(&C, l, 0);
    c3_run(&C, 5);
    ck_assert_uint_eq(c3_leader(&C), nl);
    ck_assert_uint_ge(ld->applied, r.index);
    ck_assert_uint_eq(ld->applied_terms[r.index], r.term);
    ck_assert_int_eq(receipt_of(ld, 9)->status, CRAFT_OK);
    c3_free(&C);
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
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
