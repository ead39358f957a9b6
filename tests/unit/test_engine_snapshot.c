/*
 * Snapshots: the policy that asks for one (TAKE_SNAPSHOT),
 * compaction on SNAPSHOT_TAKEN, and a lagging follower brought up to date
 * by a snapshot streamed in chunks through SNAPSHOT_READ / SNAPSHOT_CHUNK
 * on the leader and SNAPSHOT_WRITE / SNAPSHOT_INSTALL on the follower.
 */
#include <stdio.h>

#include "engine_util.h"
#include "harness.h"

static struct host C;

/* A 1-node cluster that elected itself: entries 1 (bootstrap config, 18
 * bytes) and 2 (no-op) are applied. */
static struct host_node *single(uint64_t entries, uint64_t bytes,
                              uint64_t trailing)
{
    eu_setup(&C, 1, 1);
    C.opts.snapshot_entries = entries;
    C.opts.snapshot_bytes = bytes;
    C.opts.snapshot_trailing = trailing;
    host_start(&C, 1);
    ck_assert_uint_eq(host_elect(&C, 100), 1);
    struct host_node *nd = host_node(&C, 1);
    ck_assert_uint_eq(nd->applied, 2);
    return nd;
}

/* Proposes payload on a single node and returns with the PERSISTED step's
 * actions not yet carried out (nd->acts), so a test can look at them. */
static void propose_raw(struct host_node *nd, const char *payload)
{
    nd->hold_persist = 1;
    host_propose(&C, nd, 0, payload, strlen(payload));
    nd->hold_persist = 0;
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PERSISTED;
    ev.index = nd->last;
    ev.term = host_entry_at(nd, nd->last)->term;
    host_step_raw(&C, nd, &ev);
}

START_TEST(policy_by_entries_once_until_taken)
{
    struct host_node *nd = single(5, 0, 2);
    nd->hold_take = 1;
    propose_raw(nd, "p3");
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
    host_execute(&C, nd);
    propose_raw(nd, "p4");
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
    host_execute(&C, nd);
    /* Entry 5 is the fifth applied since the start: the threshold. */
    propose_raw(nd, "p5");
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY, CRAFT_ACTION_TAKE_SNAPSHOT);
    ck_assert_uint_eq(craft_action_index(nd->acts, 0), 5);
    ck_assert_uint_eq(craft_action_count(nd->acts, 0), 1);
    ck_assert_uint_eq(craft_action_index(nd->acts, 1), 5);
    host_execute(&C, nd);
    /* Asked once: not again while the host has not answered. */
    for (int i = 6; i <= 15; i++) {
        propose_raw(nd, "more");
        EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
        host_execute(&C, nd);
    }
    ck_assert_int_eq(nd->take_requests, 1);
    ck_assert_uint_eq(nd->applied, 15);

    /* The host snapshots at its applied index (15 >= 5). The step has
     * nothing to do but compact. */
    nd->snap.index = 15;
    nd->snap.term = 2;
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_TAKEN;
    ev.index = 15;
    ev.term = 2;
    host_step_raw(&C, nd, &ev);
    ck_assert_uint_eq(craft_actions_count(nd->acts), 0);
    host_execute(&C, nd);
    ck_assert_uint_eq(craft_engine_snapshot_index(nd->e), 15);
    ck_assert_uint_eq(craft_engine_snapshot_term(nd->e), 2);

    /* The count restarts from the snapshot: 5 more entries. */
    for (int i = 16; i <= 19; i++) {
        propose_raw(nd, "again");
        EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
        host_execute(&C, nd);
    }
    propose_raw(nd, "twenty");
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY, CRAFT_ACTION_TAKE_SNAPSHOT);
    ck_assert_uint_eq(craft_action_index(nd->acts, 1), 20);
    host_execute(&C, nd);
    ck_assert_int_eq(nd->take_requests, 2);
    host_free(&C);
}
END_TEST

START_TEST(policy_by_bytes)
{
    /* Applied bytes so far: the 18-byte bootstrap configuration. */
    struct host_node *nd = single(0, 100, 2);
    nd->hold_take = 1;
    char p[31];
    memset(p, 'x', 30);
    p[30] = '\0';
    propose_raw(nd, p); /* 48 */
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
    host_execute(&C, nd);
    propose_raw(nd, p); /* 78 */
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
    host_execute(&C, nd);
    propose_raw(nd, p); /* 108 >= 100 */
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY, CRAFT_ACTION_TAKE_SNAPSHOT);
    ck_assert_uint_eq(craft_action_index(nd->acts, 1), 5);
    host_execute(&C, nd);
    for (int i = 0; i < 10; i++) {
        propose_raw(nd, p);
        EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
        host_execute(&C, nd);
    }
    /* Answer: the host's automatic answer (SNAPSHOT_TAKEN at applied). */
    host_take_snapshot(&C, nd);
    ck_assert_uint_eq(craft_engine_snapshot_index(nd->e), 15);
    propose_raw(nd, p); /* 30 since the snapshot */
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
    host_execute(&C, nd);
    propose_raw(nd, p);
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
    host_execute(&C, nd);
    propose_raw(nd, p);
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
    host_execute(&C, nd);
    propose_raw(nd, p); /* 120 */
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY, CRAFT_ACTION_TAKE_SNAPSHOT);
    host_execute(&C, nd);
    host_free(&C);
}
END_TEST

/* What was applied after the index the host snapshotted counts toward the
 * next request, in bytes as in entries. */
START_TEST(policy_counts_what_follows_the_snapshot)
{
    struct host_node *nd = single(0, 100, 2);
    nd->hold_take = 1;
    char p[31];
    memset(p, 'x', 30);
    p[30] = '\0';
    for (int i = 0; i < 3; i++) { /* 18 + 90 = 108: asks at 5 */
        propose_raw(nd, p);
        host_execute(&C, nd);
    }
    ck_assert_int_eq(nd->take_requests, 1);
    /* Two more (60 bytes) are applied before the host answers, with a
     * snapshot at 5. */
    propose_raw(nd, p);
    host_execute(&C, nd);
    propose_raw(nd, p);
    host_execute(&C, nd);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_TAKEN;
    ev.index = 5;
    ev.term = 2;
    host_step(&C, nd, &ev);
    ck_assert_uint_eq(craft_engine_snapshot_index(nd->e), 5);
    /* 60 + 30 = 90: not yet; 120: now. */
    propose_raw(nd, p);
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY);
    host_execute(&C, nd);
    propose_raw(nd, p);
    EU_ASSERT_TYPES(nd->acts, CRAFT_ACTION_APPLY, CRAFT_ACTION_TAKE_SNAPSHOT);
    host_execute(&C, nd);
    host_free(&C);
}
END_TEST

START_TEST(policy_disabled_never_asks)
{
    struct host_node *nd = single(0, 0, 2);
    for (int i = 0; i < 200; i++) {
        host_propose(&C, nd, 0, "abcdefgh", 8);
    }
    ck_assert_uint_eq(nd->applied, 202);
    ck_assert_int_eq(nd->take_requests, 0);
    host_free(&C);
}
END_TEST

START_TEST(taken_compacts_keeping_trailing)
{
    struct host_node *nd = single(0, 0, 3);
    for (int i = 3; i <= 20; i++) {
        host_propose(&C, nd, 0, "e", 1);
    }
    ck_assert_uint_eq(nd->applied, 20);
    const void *d;
    size_t len;
    /* Before: the whole log is there. */
    ck_assert_int_eq(craft_engine_conf_at(nd->e, 1, &d, &len), CRAFT_OK);
    ck_assert_int_eq(craft_engine_conf_at(nd->e, 0, &d, &len), CRAFT_ENOENT);

    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_TAKEN;
    /* Refused: beyond applied, wrong term, index 0; nothing changes. */
    ev.index = 21;
    ev.term = 2;
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_actions_count(nd->acts), 0);
    ev.index = 20;
    ev.term = 1;
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_EINVAL);
    ev.index = 0;
    ev.term = 2;
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_engine_snapshot_index(nd->e), 0);

    /* The host made a snapshot at 20 durable: the log keeps 18..20 (3
     * trailing entries) after entry 17, the new start. */
    ev.index = 20;
    ev.term = 2;
    host_step_raw(&C, nd, &ev);
    ck_assert_uint_eq(craft_actions_count(nd->acts), 0);
    host_execute(&C, nd);
    ck_assert_uint_eq(craft_engine_snapshot_index(nd->e), 20);
    ck_assert_uint_eq(craft_engine_snapshot_term(nd->e), 2);
    ck_assert_uint_eq(craft_engine_last_index(nd->e), 20);
    ck_assert_int_eq(craft_engine_conf_at(nd->e, 16, &d, &len), CRAFT_ENOENT);
    ck_assert_int_eq(craft_engine_conf_at(nd->e, 1, &d, &len), CRAFT_ENOENT);
    ck_assert_int_eq(craft_engine_conf_at(nd->e, 17, &d, &len), CRAFT_OK);
    ck_assert_int_eq(craft_engine_conf_at(nd->e, 18, &d, &len), CRAFT_OK);
    /* The snapshot's membership: this one voter. */
    ck_assert_int_eq(craft_engine_conf_at(nd->e, 0, &d, &len), CRAFT_OK);
    struct craft_conf cf;
    ck_assert_int_eq(craft_conf_decode(d, len, &cf), CRAFT_OK);
    ck_assert_uint_eq(cf.n, 1);
    ck_assert_uint_eq(cf.m[0].id, 1);
    ck_assert_uint_eq(cf.m[0].role, CRAFT_MEMBER_VOTER);
    /* An older snapshot changes nothing, even one whose entry is
     * compacted away (the host may finish a slow snapshot after a newer
     * one was installed). */
    ev.index = 19;
    ev.term = 2;
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_OK);
    ck_assert_uint_eq(craft_actions_count(nd->acts), 0);
    ev.index = 10;
    ck_assert_int_eq(craft_engine_step(nd->e, &ev, nd->acts), CRAFT_OK);
    ck_assert_uint_eq(craft_engine_snapshot_index(nd->e), 20);
    /* The engine keeps working after compaction. */
    host_propose(&C, nd, 0, "after", 5);
    ck_assert_uint_eq(nd->applied, 21);
    host_free(&C);
}
END_TEST

/* ---- streaming to a lagging follower ---------------------------------- */

struct lag {
    uint64_t l, f, other;
    struct host_node *ld, *fw;
    uint64_t snap_index, snap_term;
    size_t snap_len;
};

static int contains(const uint8_t *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(p + i, s, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void payload(char *buf, size_t len, int i)
{
    for (size_t k = 0; k < len; k++) {
        buf[k] = (char)('a' + (i + (int)k) % 26);
    }
}

/*
 * Three voters; follower f is cut off while the leader commits n entries
 * of len bytes, then the leader snapshots at its last index (with the
 * given trailing entries kept), so that f can only catch up by snapshot.
 * The link is healed; nothing has been sent to f yet.
 */
static void lagging(struct lag *g, uint32_t chunk, int n, size_t len,
                    uint64_t trailing)
{
    eu_setup(&C, 3, 5);
    C.opts.snapshot_entries = 0;
    C.opts.snapshot_bytes = 0;
    C.opts.snapshot_trailing = trailing;
    C.opts.snapshot_chunk_bytes = chunk;
    host_start(&C, 3);
    g->l = host_elect_ready(&C, 100);
    g->f = g->l == 3 ? 2 : 3;
    g->other = 6 - g->l - g->f;
    g->ld = host_node(&C, g->l);
    g->fw = host_node(&C, g->f);
    host_isolate(&C, g->f, 1);
    char buf[4096];
    ck_assert_uint_le(len, sizeof(buf));
    for (int i = 0; i < n; i++) {
        payload(buf, len, i);
        host_propose(&C, g->ld, (uint64_t)i + 1, buf, len);
        host_deliver_all(&C);
    }
    host_tick(&C, g->ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(g->ld->applied, (uint64_t)n + 2);
    host_take_snapshot(&C, g->ld);
    g->snap_index = (uint64_t)n + 2;
    g->snap_term = craft_engine_term(g->ld->e);
    g->snap_len = g->ld->snap.data.len;
    ck_assert_uint_eq(craft_engine_snapshot_index(g->ld->e), g->snap_index);
    host_drop_all(&C);
    host_isolate(&C, g->f, 0);
    ck_assert_uint_eq(craft_engine_last_index(g->fw->e), 2);
}

/* Heartbeat, f's answer, and the probe that finds f needs the snapshot:
 * returns with the leader's first SNAPSHOT_READ held (hold_chunks). */
static void start_transfer(struct lag *g)
{
    g->ld->hold_chunks = 1;
    host_tick(&C, g->ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(g->ld->nreads, 1);
    ck_assert_uint_eq(g->ld->reads[0].peer, g->f);
    ck_assert_uint_eq(g->ld->reads[0].index, g->snap_index);
    ck_assert_uint_eq(g->ld->reads[0].offset, 0);
    int state = -1;
    ck_assert_int_eq(craft_engine_progress(g->ld->e, g->f, NULL, NULL, &state),
                     0);
    ck_assert_int_eq(state, CRAFT_PROGRESS_STATE_SNAPSHOT);
}

/* The leader answers its held SNAPSHOT_READ: exactly one SEND(SNAPSHOT). */
static void leader_sends_chunk(struct lag *g, uint64_t offset, int last)
{
    ck_assert_uint_eq(g->ld->nreads, 1);
    struct host_chunk_req r = g->ld->reads[0];
    g->ld->nreads = 0;
    ck_assert_uint_eq(r.offset, offset);
    ck_assert_uint_eq(r.count, C.opts.snapshot_chunk_bytes);
    size_t n = g->snap_len - (size_t)offset;
    if (n > r.count) {
        n = (size_t)r.count;
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_CHUNK;
    ev.peer = r.peer;
    ev.index = r.index;
    ev.offset = r.offset;
    ev.data = g->ld->snap.data.p + offset;
    ev.len = n;
    ev.flags = last ? CRAFT_EVENT_F_LAST : 0;
    host_step_raw(&C, g->ld, &ev);
    EU_ASSERT_TYPES(g->ld->acts, CRAFT_ACTION_SEND);
    struct craft_msg m;
    eu_action_msg(g->ld->acts, 0, &m);
    ck_assert_uint_eq(m.type, CRAFT_MSG_SNAPSHOT);
    ck_assert_uint_eq(m.to, g->f);
    ck_assert_uint_eq(m.index, g->snap_index);
    ck_assert_uint_eq(m.log_term, g->snap_term);
    ck_assert_uint_eq(m.offset, offset);
    ck_assert_uint_eq(m.len, n);
    ck_assert_uint_eq(m.flags, last ? CRAFT_MSG_F_LAST : 0);
    ck_assert_mem_eq(m.data, g->ld->snap.data.p + offset, n);
    host_execute(&C, g->ld);
}

START_TEST(stream_chunks_ack_driven_and_install_order)
{
    struct lag g;
    lagging(&g, 64, 40, 20, 0);
    size_t nchunks = (g.snap_len + 63) / 64;
    ck_assert_uint_ge(nchunks, 10);
    start_transfer(&g);
    for (size_t k = 0; k < nchunks; k++) {
        int last = k + 1 == nchunks;
        uint64_t off = k * 64;
        leader_sends_chunk(&g, off, last);

        /* The follower writes the chunk, then acknowledges the next
         * offset it wants. */
        struct host_node *f =
            host_deliver_one_raw(&C, CRAFT_MSG_SNAPSHOT, g.l, g.f);
        ck_assert_ptr_eq(f, g.fw);
        if (!last) {
            EU_ASSERT_TYPES(f->acts, CRAFT_ACTION_SNAPSHOT_WRITE,
                            CRAFT_ACTION_SEND);
            ck_assert_uint_eq(craft_action_flags(f->acts, 0), 0);
        } else {
            /* Persist the snapshot, restore it, then acknowledge. */
            EU_ASSERT_TYPES(f->acts, CRAFT_ACTION_SNAPSHOT_WRITE,
                            CRAFT_ACTION_SNAPSHOT_INSTALL, CRAFT_ACTION_SEND);
            ck_assert_uint_eq(craft_action_flags(f->acts, 0),
                              CRAFT_ACTION_F_LAST);
            ck_assert_uint_eq(craft_action_index(f->acts, 1), g.snap_index);
            ck_assert_uint_eq(craft_action_term(f->acts, 1), g.snap_term);
            /* It carries the membership: the leader's snapshot conf. */
            const void *conf, *lconf;
            size_t conf_len, lconf_len;
            ck_assert_int_eq(
                craft_action_conf(f->acts, 0, &conf, &conf_len), 0);
            ck_assert_int_eq(
                craft_engine_conf_at(g.ld->e, 0, &lconf, &lconf_len), 0);
            ck_assert_uint_eq(conf_len, lconf_len);
            ck_assert_mem_eq(conf, lconf, conf_len);
        }
        ck_assert_uint_eq(craft_action_index(f->acts, 0), g.snap_index);
        ck_assert_uint_eq(craft_action_term(f->acts, 0), g.snap_term);
        ck_assert_uint_eq(craft_action_offset(f->acts, 0), off);
        size_t resp = craft_actions_count(f->acts) - 1;
        struct craft_msg m;
        eu_action_msg(f->acts, resp, &m);
        ck_assert_uint_eq(m.type, CRAFT_MSG_SNAPSHOT_RESP);
        ck_assert_uint_eq(m.index, g.snap_index);
        ck_assert_uint_eq(m.flags, last ? CRAFT_MSG_F_LAST : 0);
        if (!last) {
            ck_assert_uint_eq(m.offset, off + 64);
        }
        host_execute(&C, f);

        /* The ack makes the leader read the next chunk at once: no tick
         * in between. */
        struct host_node *l =
            host_deliver_one_raw(&C, CRAFT_MSG_SNAPSHOT_RESP, g.f, g.l);
        ck_assert_ptr_eq(l, g.ld);
        if (!last) {
            EU_ASSERT_TYPES(l->acts, CRAFT_ACTION_SNAPSHOT_READ);
            ck_assert_uint_eq(craft_action_peer(l->acts, 0), g.f);
            ck_assert_uint_eq(craft_action_index(l->acts, 0), g.snap_index);
            ck_assert_uint_eq(craft_action_offset(l->acts, 0), off + 64);
            ck_assert_uint_eq(craft_action_count(l->acts, 0), 64);
        } else {
            /* Installed: replication continues after the snapshot. */
            ck_assert_int_eq(eu_count_type(l->acts, CRAFT_ACTION_SNAPSHOT_READ),
                             0);
            ck_assert_uint_ge(eu_count_sends(l->acts, CRAFT_MSG_APPEND, g.f),
                              1);
        }
        host_execute(&C, l);
    }
    uint64_t match = 0;
    int state = -1;
    ck_assert_int_eq(craft_engine_progress(g.ld->e, g.f, &match, NULL, &state),
                     0);
    ck_assert_uint_eq(match, g.snap_index);
    ck_assert_int_ne(state, CRAFT_PROGRESS_STATE_SNAPSHOT);
    /* The follower holds the leader's state and the snapshot's metadata. */
    ck_assert_uint_eq(g.fw->installs, 1);
    ck_assert_uint_eq(g.fw->snap.data.len, g.snap_len);
    ck_assert_mem_eq(g.fw->sm.p, g.ld->sm.p, g.ld->sm.len);
    ck_assert_uint_eq(craft_engine_snapshot_index(g.fw->e), g.snap_index);
    ck_assert_uint_eq(craft_engine_snapshot_term(g.fw->e), g.snap_term);
    ck_assert_uint_eq(craft_engine_commit_index(g.fw->e), g.snap_index);
    ck_assert_uint_eq(craft_engine_applied_index(g.fw->e), g.snap_index);
    ck_assert_uint_eq(craft_engine_last_index(g.fw->e), g.snap_index);
    /* And goes on replicating normally. */
    g.ld->hold_chunks = 0;
    host_propose(&C, g.ld, 99, "after", 5);
    host_deliver_all(&C);
    host_tick(&C, g.ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(g.fw->applied, g.snap_index + 1);
    ck_assert_uint_eq(g.fw->sm.len, g.ld->sm.len);
    ck_assert_mem_eq(g.fw->sm.p, g.ld->sm.p, g.ld->sm.len);
    host_free(&C);
}
END_TEST

/* Entries within snapshot_trailing of the snapshot still go as entries. */
START_TEST(trailing_entries_avoid_snapshot)
{
    struct lag g;
    /* The follower has 1..2; the leader keeps 20 trailing entries, so its
     * log starts after 12 - 20 < 2: the follower gets entries. */
    lagging(&g, 64, 10, 20, 20);
    host_tick(&C, g.ld);
    host_deliver_all(&C);
    host_tick(&C, g.ld);
    host_deliver_all(&C);
    ck_assert_int_eq(host_journal_count(g.ld, CRAFT_ACTION_SNAPSHOT_READ, 0), 0);
    ck_assert_uint_eq(g.fw->installs, 0);
    ck_assert_uint_eq(g.fw->applied, g.snap_index);
    ck_assert_mem_eq(g.fw->sm.p, g.ld->sm.p, g.ld->sm.len);
    host_free(&C);
}
END_TEST

START_TEST(resume_after_lost_chunk)
{
    struct lag g;
    lagging(&g, 64, 40, 20, 0);
    size_t nchunks = (g.snap_len + 63) / 64;
    start_transfer(&g);
    g.ld->hold_chunks = 0;
    /* Chunks 0..2 go through (answered automatically from now on). */
    ck_assert_uint_eq(g.ld->nreads, 1);
    host_answer_reads(&C, g.ld);
    for (int k = 0; k < 3; k++) {
        host_deliver(&C, 1); /* chunk k to f */
        host_deliver(&C, 1); /* its ack to the leader, which sends k+1 */
    }
    /* Chunk 3 is lost. Nothing moves until the leader's resend timer. */
    ck_assert_uint_eq(host_queued(&C, CRAFT_MSG_SNAPSHOT, g.l, g.f), 1);
    host_drop(&C, CRAFT_MSG_SNAPSHOT, g.l, g.f);
    ck_assert_uint_eq(g.fw->pending.data.len, 3 * 64);
    host_clear_journal(g.ld);
    int ticks = 0;
    while (host_journal_count(g.ld, CRAFT_ACTION_SNAPSHOT_READ, 0) == 0) {
        ck_assert_int_lt(ticks, C.opts.election_ticks);
        host_tick(&C, g.ld);
        ticks++;
    }
    /* Resumed at the acknowledged offset, not from the start. */
    for (size_t i = 0; i < g.ld->njournal; i++) {
        if (g.ld->journal[i].type == CRAFT_ACTION_SNAPSHOT_READ) {
            ck_assert_uint_eq(g.ld->journal[i].offset, 3 * 64);
            break;
        }
    }
    host_deliver_all(&C);
    ck_assert_uint_eq(g.fw->installs, 1);
    ck_assert_uint_eq(host_journal_count(g.fw, CRAFT_ACTION_SNAPSHOT_WRITE, 0),
                      nchunks);
    ck_assert_mem_eq(g.fw->snap.data.p, g.ld->snap.data.p, g.snap_len);
    ck_assert_mem_eq(g.fw->sm.p, g.ld->sm.p, g.ld->sm.len);
    host_free(&C);
}
END_TEST

/* A lost ack: the leader resends the acknowledged chunk, the follower
 * (already past it) answers with the offset it wants and the leader
 * resumes from there. */
START_TEST(resume_from_follower_offset_after_lost_ack)
{
    struct lag g;
    lagging(&g, 64, 40, 20, 0);
    start_transfer(&g);
    leader_sends_chunk(&g, 0, 0);
    host_deliver_all(&C); /* chunk 0 -> f, ack -> leader, read of 64 held */
    leader_sends_chunk(&g, 64, 0);
    host_deliver(&C, 1); /* chunk 1 -> f; f has 128 bytes */
    ck_assert_uint_eq(g.fw->pending.data.len, 128);
    host_drop(&C, CRAFT_MSG_SNAPSHOT_RESP, g.f, g.l);
    /* The leader re-reads from the last acknowledged offset, 64. */
    int ticks = 0;
    while (g.ld->nreads == 0) {
        ck_assert_int_lt(ticks, C.opts.election_ticks);
        host_tick(&C, g.ld);
        ticks++;
    }
    leader_sends_chunk(&g, 64, 0);
    struct host_node *f = host_deliver_one_raw(&C, CRAFT_MSG_SNAPSHOT, g.l, g.f);
    /* Nothing written: a refusal telling where to resume. */
    EU_ASSERT_TYPES(f->acts, CRAFT_ACTION_SEND);
    struct craft_msg m;
    eu_action_msg(f->acts, 0, &m);
    ck_assert_uint_eq(m.type, CRAFT_MSG_SNAPSHOT_RESP);
    ck_assert_uint_eq(m.flags, CRAFT_MSG_F_REJECT);
    ck_assert_uint_eq(m.offset, 128);
    host_execute(&C, f);
    struct host_node *l =
        host_deliver_one_raw(&C, CRAFT_MSG_SNAPSHOT_RESP, g.f, g.l);
    EU_ASSERT_TYPES(l->acts, CRAFT_ACTION_SNAPSHOT_READ);
    ck_assert_uint_eq(craft_action_offset(l->acts, 0), 128);
    host_execute(&C, l);
    g.ld->hold_chunks = 0;
    host_answer_reads(&C, g.ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(g.fw->installs, 1);
    ck_assert_mem_eq(g.fw->sm.p, g.ld->sm.p, g.ld->sm.len);
    host_free(&C);
}
END_TEST

/* The host cannot read the snapshot (e.g. replaced by a newer one): the
 * engine starts over with its newest snapshot. */
START_TEST(failed_read_restarts_with_newest_snapshot)
{
    struct lag g;
    lagging(&g, 64, 20, 20, 0);
    start_transfer(&g);
    struct host_chunk_req r = g.ld->reads[0];
    g.ld->nreads = 0;
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_CHUNK;
    ev.peer = r.peer;
    ev.index = r.index;
    ev.offset = r.offset;
    ev.flags = CRAFT_EVENT_F_FAILED;
    host_step_raw(&C, g.ld, &ev);
    EU_ASSERT_TYPES(g.ld->acts, CRAFT_ACTION_SNAPSHOT_READ);
    ck_assert_uint_eq(craft_action_offset(g.ld->acts, 0), 0);
    ck_assert_uint_eq(craft_action_index(g.ld->acts, 0), g.snap_index);
    host_execute(&C, g.ld);
    /* A stale answer (wrong offset) is ignored. */
    ev.flags = 0;
    ev.offset = 64;
    ev.data = "x";
    ev.len = 1;
    host_step_raw(&C, g.ld, &ev);
    ck_assert_uint_eq(craft_actions_count(g.ld->acts), 0);
    g.ld->hold_chunks = 0;
    host_answer_reads(&C, g.ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(g.fw->installs, 1);
    host_free(&C);
}
END_TEST

/*
 * The snapshot carries the membership: f misses the configuration entry
 * that added learner 4 (compacted away), and learns it from the snapshot.
 */
START_TEST(snapshot_carries_membership)
{
    eu_setup(&C, 4, 9);
    C.opts.snapshot_entries = 0;
    C.opts.snapshot_bytes = 0;
    C.opts.snapshot_trailing = 0;
    C.opts.snapshot_chunk_bytes = 32;
    host_start(&C, 3); /* node 4 starts empty */
    uint64_t l = host_elect_ready(&C, 100);
    uint64_t f = l == 3 ? 2 : 3;
    struct host_node *ld = host_node(&C, l);
    struct host_node *fw = host_node(&C, f);
    host_isolate(&C, f, 1);
    host_event(&C, ld, CRAFT_EVENT_ADD_LEARNER, 7, 4);
    ck_assert_int_eq(host_result1(ld, CRAFT_ACTION_PROPOSE_RESULT, 7).status,
                     CRAFT_OK);
    host_rounds(&C, 5);
    for (int i = 0; i < 10; i++) {
        host_propose(&C, ld, 0, "v", 1);
        host_deliver_all(&C);
    }
    host_tick(&C, ld);
    host_deliver_all(&C);
    host_take_snapshot(&C, ld);
    uint64_t s = craft_engine_snapshot_index(ld->e);
    ck_assert_uint_eq(s, craft_engine_last_index(ld->e));
    ck_assert_int_eq(host_member_role(fw, 4), 0);
    host_isolate(&C, f, 0);
    for (int t = 0; t < 3; t++) {
        host_tick(&C, ld);
        host_deliver_all(&C);
    }
    ck_assert_uint_eq(fw->installs, 1);
    ck_assert_uint_eq(fw->snap.index, s);
    ck_assert_uint_eq(fw->snap.term, craft_engine_term(ld->e));
    /* The membership bytes the host stored decode to the leader's. */
    struct craft_conf cf;
    ck_assert_int_eq(craft_conf_decode(fw->snap.conf.p, fw->snap.conf.len, &cf),
                     CRAFT_OK);
    ck_assert_uint_eq(cf.n, 4);
    ck_assert_int_eq(craft_conf_find(&cf, 4) >= 0, 1);
    ck_assert_uint_eq(cf.m[craft_conf_find(&cf, 4)].role,
                      CRAFT_MEMBER_LEARNER);
    /* And the engine took it as its membership. */
    ck_assert_uint_eq(craft_engine_member_count(fw->e), 4);
    ck_assert_int_eq(host_member_role(fw, 4), CRAFT_LEARNER);
    ck_assert_int_eq(host_member_role(fw, l), CRAFT_VOTER);
    const void *d;
    size_t len;
    ck_assert_int_eq(craft_engine_conf_at(fw->e, 0, &d, &len), CRAFT_OK);
    ck_assert_uint_eq(len, fw->snap.conf.len);
    ck_assert_mem_eq(d, fw->snap.conf.p, len);
    /* A restart from the stored snapshot metadata keeps it. */
    host_crash(&C, fw);
    host_node_start(&C, fw);
    ck_assert_uint_eq(craft_engine_snapshot_index(fw->e), s);
    ck_assert_uint_eq(craft_engine_commit_index(fw->e), s);
    ck_assert_int_eq(host_member_role(fw, 4), CRAFT_LEARNER);
    host_free(&C);
}
END_TEST

/*
 * Install discards conflicting entries: a deposed leader holds uncommitted
 * entries of its term past the new leader's snapshot index. The install
 * order is exactly [SNAPSHOT_WRITE(last), SNAPSHOT_INSTALL, TRUNCATE,
 * SEND(ack)].
 */
START_TEST(install_discards_conflicting_entries)
{
    eu_setup(&C, 3, 11);
    C.opts.snapshot_entries = 0;
    C.opts.snapshot_bytes = 0;
    C.opts.snapshot_trailing = 0;
    C.opts.snapshot_chunk_bytes = 1u << 20; /* one chunk */
    host_start(&C, 3);
    uint64_t old = host_elect_ready(&C, 100);
    struct host_node *od = host_node(&C, old);
    uint64_t oterm = craft_engine_term(od->e);
    host_isolate(&C, old, 1);
    for (int i = 0; i < 30; i++) {
        host_propose(&C, od, 0, "stale", 5);
    }
    uint64_t olast = craft_engine_last_index(od->e);
    ck_assert_uint_eq(olast, 32);
    ck_assert_uint_eq(craft_engine_commit_index(od->e), 2);
    host_drop_all(&C);
    /* The other two elect a leader and commit 10 entries. */
    uint64_t nl = 0;
    for (int t = 0; t < 200 && nl == 0; t++) {
        for (uint64_t id = 1; id <= 3; id++) {
            if (id != old) {
                host_tick(&C, host_node(&C, id));
            }
        }
        host_deliver_all(&C);
        for (uint64_t id = 1; id <= 3; id++) {
            if (id != old &&
                craft_engine_role(host_node(&C, id)->e) == CRAFT_ROLE_LEADER) {
                nl = id;
            }
        }
    }
    ck_assert_uint_ne(nl, 0);
    struct host_node *nd = host_node(&C, nl);
    for (int i = 0; i < 10; i++) {
        host_propose(&C, nd, 0, "fresh", 5);
        host_deliver_all(&C);
    }
    host_tick(&C, nd);
    host_deliver_all(&C);
    host_take_snapshot(&C, nd);
    uint64_t s = craft_engine_snapshot_index(nd->e);
    uint64_t sterm = craft_engine_term(nd->e);
    ck_assert_uint_eq(s, 13);
    ck_assert_uint_gt(sterm, oterm);
    ck_assert_uint_gt(olast, s);

    /* Heal: the old leader hears the new term and gets the snapshot. */
    host_isolate(&C, old, 0);
    nd->hold_chunks = 1;
    host_tick(&C, nd);
    host_deliver_all(&C);
    ck_assert_uint_eq(craft_engine_role(od->e), CRAFT_ROLE_FOLLOWER);
    ck_assert_uint_eq(nd->nreads, 1);
    nd->hold_chunks = 0;
    host_answer_reads(&C, nd);
    struct host_node *f = host_deliver_one_raw(&C, CRAFT_MSG_SNAPSHOT, nl, old);
    /* The conflicting suffix goes before the snapshot is written: a crash
     * between the two must not leave a snapshot followed by entries of an
     * older term (§7). */
    EU_ASSERT_TYPES(f->acts, CRAFT_ACTION_TRUNCATE,
                    CRAFT_ACTION_SNAPSHOT_WRITE,
                    CRAFT_ACTION_SNAPSHOT_INSTALL, CRAFT_ACTION_SEND);
    ck_assert_uint_eq(craft_action_index(f->acts, 0), s + 1);
    ck_assert_uint_eq(craft_action_flags(f->acts, 1), CRAFT_ACTION_F_LAST);
    ck_assert_uint_eq(craft_action_index(f->acts, 2), s);
    ck_assert_uint_eq(craft_action_term(f->acts, 2), sterm);
    host_execute(&C, f);
    ck_assert_uint_eq(craft_engine_last_index(od->e), s);
    ck_assert_uint_eq(craft_engine_last_term(od->e), sterm);
    ck_assert_uint_eq(od->last, s);
    host_deliver_all(&C);
    host_tick(&C, nd);
    host_deliver_all(&C);
    ck_assert_uint_eq(od->applied, s);
    ck_assert_uint_eq(od->sm.len, nd->sm.len);
    ck_assert_mem_eq(od->sm.p, nd->sm.p, nd->sm.len);
    /* None of the stale entries survived. */
    ck_assert(!contains(od->sm.p, od->sm.len, "stale"));
    host_free(&C);
}
END_TEST

/*
 * More than 100 chunks, with bounded memory: neither engine's live heap
 * grows by anything near the snapshot's size while it streams.
 */
START_TEST(hundreds_of_chunks_bounded_memory)
{
    struct lag g;
    const uint32_t chunk = 1024;
    lagging(&g, chunk, 1200, 200, 0);
    size_t nchunks = (g.snap_len + chunk - 1) / chunk;
    ck_assert_uint_gt(nchunks, 200);
    host_heap_mark(&g.ld->heap);
    host_heap_mark(&g.fw->heap);
    size_t ld0 = g.ld->heap.live, fw0 = g.fw->heap.live;
    host_clear_journal(g.ld);
    host_clear_journal(g.fw);
    /* No tick needed after the first: each ack pulls the next chunk. */
    host_tick(&C, g.ld);
    host_deliver_all(&C);
    ck_assert_uint_eq(g.fw->installs, 1);
    ck_assert_uint_eq(host_journal_count(g.fw, CRAFT_ACTION_SNAPSHOT_WRITE, 0),
                      nchunks);
    ck_assert_uint_eq(host_journal_count(g.ld, CRAFT_ACTION_SNAPSHOT_READ, 0),
                      nchunks);
    ck_assert_mem_eq(g.fw->sm.p, g.ld->sm.p, g.ld->sm.len);
    size_t ld_growth = g.ld->heap.peak - ld0;
    size_t fw_growth = g.fw->heap.peak - fw0;
    /* A few chunk-sized buffers at most; the snapshot is 240 KB. */
    ck_assert_msg(ld_growth <= 8 * chunk,
                  "leader heap grew by %zu for a %zu-byte snapshot",
                  ld_growth, g.snap_len);
    ck_assert_msg(fw_growth <= 8 * chunk,
                  "follower heap grew by %zu for a %zu-byte snapshot",
                  fw_growth, g.snap_len);
    ck_assert_uint_gt(g.snap_len, 200 * chunk);
    host_free(&C);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_snapshot");
    TCase *tc = tcase_create("policy");
    tcase_add_test(tc, policy_by_entries_once_until_taken);
    tcase_add_test(tc, policy_by_bytes);
    tcase_add_test(tc, policy_counts_what_follows_the_snapshot);
    tcase_add_test(tc, policy_disabled_never_asks);
    tcase_add_test(tc, taken_compacts_keeping_trailing);
    suite_add_tcase(s, tc);
    tc = tcase_create("stream");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stream_chunks_ack_driven_and_install_order);
    tcase_add_test(tc, trailing_entries_avoid_snapshot);
    tcase_add_test(tc, resume_after_lost_chunk);
    tcase_add_test(tc, resume_from_follower_offset_after_lost_ack);
    tcase_add_test(tc, failed_read_restarts_with_newest_snapshot);
    tcase_add_test(tc, snapshot_carries_membership);
    tcase_add_test(tc, install_discards_conflicting_entries);
    tcase_add_test(tc, hundreds_of_chunks_bounded_memory);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(suite)
