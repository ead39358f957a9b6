/*
 * node/exec.c: carrying out one actions list, in order (the engine's host
 * contract, craft/engine.h).
 *
 * Storage writes run at once, without a sync; a SEND waits for the writes
 * it depends on: every write before it in the list, and every earlier
 * unsynced write, except that a leader's sends at the head of a list
 * (replicating entries, thesis §10.2.1) wait only for term/vote,
 * truncation and snapshot writes. nd_driver_settle() then syncs once for
 * the whole round (group commit), releases the sends and reports
 * PERSISTED.
 */
#include <string.h>

#include "node/node.h"

static int storage_rv(struct craft_node *n, int rv, const char *op)
{
    if (rv != CRAFT_OK) {
        nd_node_fail(n, CRAFT_EIO, op, rv);
        return 0;
    }
    return 1;
}

void nd_exec_note_term(struct craft_node *n, uint64_t term)
{
    struct driver *d = &n->d;
    if (term != d->term) {
        nd_trace_u64(n, CRAFT_TRACE_TERM_CHANGED, 2, "term", term, "previous",
                     d->term);
        d->term = term;
        atomic_store(&n->q_term, term);
    }
}

static void remove_call(struct call **list, struct call *c)
{
    for (struct call **p = list; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            c->next = NULL;
            return;
        }
    }
}

static int is_membership(int kind)
{
    return kind == CALL_ADD_PEER || kind == CALL_ADD_LEARNER ||
           kind == CALL_PROMOTE || kind == CALL_REMOVE;
}

/* ADD_PEER is answered twice: the learner's configuration entry, then
 * the promotion's. PROMOTE appends only the promotion entry, and the
 * engine answers it once (engine.h's "answer once more" is read as "once
 * more than the learner's entry", which PROMOTE has none of). */
static int receipts_needed(int kind)
{
    return kind == CALL_ADD_PEER ? 2 : 1;
}

/* Leadership lost: the outcome of what this node proposed and is not
 * known committed is unknown. What is committed (a removed leader steps
 * down as its removal commits, thesis §4.2.2) completes when applied. */
static void stepped_down(struct craft_node *n)
{
    struct driver *d = &n->d;
    uint64_t commit = craft_engine_commit_index(n->e);
    nd_pending_truncate(n, commit + 1, CRAFT_ESTEPPEDDOWN);
    struct call **p = &d->reqs;
    while (*p != NULL) {
        struct call *c = *p;
        if (is_membership(c->kind) &&
            !(c->stage >= receipts_needed(c->kind) &&
              c->res.index <= commit)) {
            *p = c->next;
            nd_call_fail(n, c, CRAFT_ESTEPPEDDOWN);
        } else {
            p = &c->next;
        }
    }
}

void nd_exec_role(struct craft_node *n, int role, uint64_t term,
                  uint64_t leader)
{
    struct driver *d = &n->d;
    int old_role = d->role;
    uint64_t old_leader = d->leader;

    nd_exec_note_term(n, term);
    nd_trace_u64(n, CRAFT_TRACE_ROLE_CHANGED, 3, "role", (uint64_t)role,
                 "term", term, "leader", leader);
    if (role == CRAFT_ROLE_CANDIDATE && old_role != CRAFT_ROLE_CANDIDATE) {
        nd_metric_add(n, CRAFT_METRIC_ELECTIONS, 1);
    }
    if (role != old_role && (role == CRAFT_ROLE_CANDIDATE ||
                             role == CRAFT_ROLE_PRE_CANDIDATE)) {
        nd_trace_u64(n, CRAFT_TRACE_ELECTION_STARTED, 2, "term", term,
                     "prevote", (uint64_t)(role == CRAFT_ROLE_PRE_CANDIDATE));
    }
    if (leader != CRAFT_NONE && leader != old_leader) {
        d->retry_now = d->retry != NULL;
        nd_metric_add(n, CRAFT_METRIC_LEADER_CHANGES, 1);
        nd_trace_u64(n, CRAFT_TRACE_LEADER_ELECTED, 2, "term", term, "leader",
                     leader);
    } else if (leader == CRAFT_NONE && old_leader != CRAFT_NONE) {
        nd_trace_u64(n, CRAFT_TRACE_LEADER_LOST, 1, "term", term);
    }
    d->role = role;
    d->leader = leader;
    atomic_store(&n->q_role, role);
    atomic_store(&n->q_leader, leader);
    if (old_role == CRAFT_ROLE_LEADER && role != CRAFT_ROLE_LEADER) {
        stepped_down(n);
    }
}

void nd_exec_check_conf(struct craft_node *n, uint64_t index)
{
    struct driver *d = &n->d;
    size_t cnt = craft_engine_member_count(n->e);
    int same = cnt == d->conf_n;
    uint64_t voters = 0, learners = 0;
    for (size_t k = 0; k < cnt && k < CRAFT_MAX_MEMBERS; k++) {
        uint64_t id = 0;
        int role = 0;
        craft_engine_member(n->e, k, &id, &role);
        if (same && (d->conf_ids[k] != id || d->conf_roles[k] != role)) {
            same = 0;
        }
        d->conf_ids[k] = id;
        d->conf_roles[k] = role;
        if (role == CRAFT_VOTER) {
            voters++;
        } else {
            learners++;
        }
    }
    d->conf_n = cnt;
    if (!same) {
        nd_trace_u64(n, CRAFT_TRACE_MEMBERSHIP_CHANGED, 3, "voters", voters,
                     "learners", learners, "index", index);
    }
    nd_exec_publish_conf(n);
}

/* Whether member k of the engine's membership equals m. */
static int member_same(const craft_engine *e, size_t k,
                       const struct nd_member *m)
{
    uint64_t id = 0;
    int role = 0;
    const void *addr = NULL;
    size_t len = 0;
    craft_engine_member(e, k, &id, &role);
    craft_engine_member_addr(e, k, &addr, &len);
    return id == m->id && role == m->role && len == m->addr_len &&
           (len == 0 || memcmp(addr, m->addr, len) == 0);
}

void nd_exec_publish_conf(struct craft_node *n)
{
    size_t cnt = craft_engine_member_count(n->e);
    if (cnt > CRAFT_MAX_MEMBERS) {
        cnt = CRAFT_MAX_MEMBERS;
    }
    /* Only this thread writes the copy, so it may read it unlocked. */
    int same = cnt == n->pub_n;
    for (size_t k = 0; same && k < cnt; k++) {
        same = member_same(n->e, k, &n->pub[k]);
    }
    if (same) {
        return;
    }
    pthread_mutex_lock(&n->pub_mu);
    for (size_t k = 0; k < cnt; k++) {
        struct nd_member *m = &n->pub[k];
        const void *addr = NULL;
        size_t len = 0;
        craft_engine_member(n->e, k, &m->id, &m->role);
        craft_engine_member_addr(n->e, k, &addr, &len);
        m->addr_len = (uint32_t)len;
        if (len > 0) {
            memcpy(m->addr, addr, len);
        }
    }
    n->pub_n = cnt;
    atomic_fetch_add(&n->pub_version, 1);
    pthread_mutex_unlock(&n->pub_mu);
}

/* ---- results ------------------------------------------------------- */

static struct call *find_req(struct driver *d, uint64_t id)
{
    for (struct call *c = d->reqs; c != NULL; c = c->next) {
        if (c->id == id) {
            return c;
        }
    }
    return NULL;
}

static void on_propose_result(struct craft_node *n, craft_actions *a,
                              size_t i)
{
    struct driver *d = &n->d;
    uint64_t id = craft_action_id(a, i);
    int status = craft_action_status(a, i);
    uint64_t index = craft_action_index(a, i);
    uint64_t term = craft_action_term(a, i);
    uint64_t leader = craft_action_leader(a, i);

    if (d->batch_n > 0 && id == d->batch_id) {
        size_t cnt = d->batch_n;
        d->batch_n = 0;
        if (status == CRAFT_OK &&
            craft_action_count(a, i) == cnt) {
            /* Receipts at or past index from an older term were
             * overwritten by this batch. */
            nd_pending_truncate(n, index, CRAFT_ELOST);
            for (size_t k = 0; k < cnt; k++) {
                struct call *c = d->batch[k];
                c->res.index = index + k;
                c->res.term = term;
                nd_pending_push(n, index + k, term, c);
            }
        } else {
            for (size_t k = 0; k < cnt; k++) {
                d->batch[k]->res.leader = leader;
                nd_call_fail(n, d->batch[k],
                             status != CRAFT_OK ? status : CRAFT_EINVAL);
            }
        }
        return;
    }
    struct call *c = find_req(d, id);
    if (c == NULL || !is_membership(c->kind)) {
        return;
    }
    if (status != CRAFT_OK) {
        remove_call(&d->reqs, c);
        if (status == CRAFT_ENOTREADY && c->stage == 0) {
            c->next = d->retry; /* a fresh leader: ask again next tick */
            d->retry = c;
            return;
        }
        c->res.leader = leader;
        nd_call_fail(n, c, status);
        return;
    }
    c->stage++;
    c->res.index = index;
    c->res.term = term;
}

static void on_read_result(struct craft_node *n, craft_actions *a, size_t i)
{
    struct driver *d = &n->d;
    struct call *c = find_req(d, craft_action_id(a, i));
    if (c == NULL || c->kind != CALL_READ) {
        return;
    }
    remove_call(&d->reqs, c);
    int status = craft_action_status(a, i);
    c->res.leader = craft_action_leader(a, i);
    if (status == CRAFT_OK) {
        c->res.index = craft_action_index(a, i);
        c->res.term = d->term;
        if (c->res.index <= d->handed) {
            nd_call_done_fifo(n, c);
        } else {
            c->next = d->parked;
            d->parked = c;
        }
    } else if (status == CRAFT_ENOTREADY ||
               (status == CRAFT_ENOTLEADER && n->opts.wait_leader &&
                c->res.leader == CRAFT_NONE)) {
        /* A leader that has not committed in its term yet, or (with
         * wait_leader) no leader known: ask again next tick, or as soon
         * as a leader is known. */
        c->res.leader = CRAFT_NONE;
        c->next = d->retry;
        d->retry = c;
    } else {
        nd_call_fail(n, c, status);
    }
}

static void on_transfer_result(struct craft_node *n, craft_actions *a,
                               size_t i)
{
    struct driver *d = &n->d;
    struct call *c = find_req(d, craft_action_id(a, i));
    if (c == NULL || c->kind != CALL_TRANSFER) {
        return;
    }
    remove_call(&d->reqs, c);
    int status = craft_action_status(a, i);
    c->res.leader = status == CRAFT_OK ? craft_action_peer(a, i) : d->leader;
    nd_call_fail(n, c, status);
}

/* ---- handing committed entries to the apply thread ------------------ */

/* Reads parked until their index is handed out. */
static void release_reads(struct craft_node *n)
{
    struct driver *d = &n->d;
    struct call **p = &d->parked;
    while (*p != NULL) {
        struct call *c = *p;
        if (c->res.index <= d->handed) {
            *p = c->next;
            nd_call_done_fifo(n, c);
        } else {
            p = &c->next;
        }
    }
}

/* Membership calls whose final receipt is in [first, last]. */
static void release_membership(struct craft_node *n, craft_actions *a,
                               size_t i, uint64_t first, uint64_t last)
{
    struct driver *d = &n->d;
    struct call **p = &d->reqs;
    while (*p != NULL) {
        struct call *c = *p;
        if (is_membership(c->kind) && c->stage >= receipts_needed(c->kind) &&
            c->res.index >= first && c->res.index <= last) {
            uint64_t term = 0;
            craft_action_entry(a, i, (size_t)(c->res.index - first), &term,
                               NULL, NULL, NULL);
            *p = c->next;
            if (term == c->res.term) {
                c->res.status = CRAFT_OK;
                nd_call_done_fifo(n, c);
            } else {
                nd_call_fail(n, c, CRAFT_ELOST);
            }
        } else {
            p = &c->next;
        }
    }
}

static void handout(struct craft_node *n, craft_actions *a, size_t i)
{
    struct driver *d = &n->d;
    uint64_t first = craft_action_index(a, i);
    size_t cnt = craft_action_count(a, i);
    size_t copy = 0, bytes = 0, cursor = 0;

    if (cnt == 0) {
        return;
    }
    /* Pass 1: room for the payloads that are not local proposals (those
     * are read from the proposal itself: no copy). */
    for (size_t k = 0; k < cnt; k++) {
        uint64_t term = 0, pterm = 0;
        size_t len = 0;
        craft_action_entry(a, i, k, &term, NULL, NULL, &len);
        struct call *c = nd_pending_peek(n, &cursor, first + k, &pterm);
        if (c == NULL || pterm != term) {
            copy += len;
        }
        bytes += len;
    }
    struct ap_batch *b = craft_malloc(
        &n->alloc, sizeof(*b) + cnt * sizeof(b->e[0]) + copy);
    if (b == NULL) {
        /* Committed entries are handed over exactly once: without memory
         * for them the node cannot go on. */
        nd_node_fail(n, CRAFT_ENOMEM, "apply queue", CRAFT_ENOMEM);
        return;
    }
    b->item.kind = AP_ENTRIES;
    b->first = first;
    b->n = cnt;
    b->bytes = bytes;
    unsigned char *arena = (unsigned char *)&b->e[cnt];
    uint64_t term = 0;
    for (size_t k = 0; k < cnt; k++) {
        struct ap_ent *e = &b->e[k];
        uint32_t type = 0;
        const void *data = NULL;
        size_t len = 0;
        uint64_t pterm = 0;
        craft_action_entry(a, i, k, &term, &type, &data, &len);
        e->term = term;
        e->type = type;
        e->len = (uint32_t)len;
        e->prop = NULL;
        struct call *c = nd_pending_take(n, first + k, &pterm);
        if (c != NULL && pterm == term) {
            e->prop = c;
            e->data = c->data;
        } else {
            if (c != NULL) {
                nd_call_fail(n, c, CRAFT_ELOST);
            }
            if (len > 0) {
                memcpy(arena, data, len);
            }
            e->data = arena;
            arena += len;
        }
    }
    size_t depth = atomic_fetch_add(&n->backlog_entries, cnt) + cnt;
    atomic_fetch_add(&n->backlog_bytes, bytes);
    if (depth > atomic_load_explicit(&n->m[CRAFT_METRIC_APPLY_QUEUE_MAX],
                                     memory_order_relaxed)) {
        nd_metric_set(n, CRAFT_METRIC_APPLY_QUEUE_MAX, depth);
    }
    d->handed = first + cnt - 1;
    d->handed_term = term;
    int waited = 0;
    for (size_t k = 0; k < cnt && !waited; k++) {
        waited = b->e[k].prop != NULL;
    }
    if (waited) {
        nd_apply_push(n, &b->item, 0);
    } else {
        nd_apply_push_lazy(n, &b->item, cnt);
    }
    release_membership(n, a, i, first, d->handed);
    if (d->parked != NULL) {
        release_reads(n);
    }
    if (d->take_want != 0 && d->take_want <= d->handed && !d->taking) {
        nd_exec_take_snapshot(n, NULL);
    }
}

/* ---- snapshots ------------------------------------------------------- */

static void finish_snap_waiters(struct craft_node *n, int status,
                                uint64_t index, uint64_t term)
{
    struct driver *d = &n->d;
    while (d->snap_waiters != NULL) {
        struct call *c = d->snap_waiters;
        d->snap_waiters = c->next;
        c->res.index = index;
        c->res.term = term;
        nd_call_fail(n, c, status);
    }
}

int nd_exec_take_snapshot(struct craft_node *n, struct call *trigger)
{
    struct driver *d = &n->d;
    if (trigger != NULL) {
        trigger->next = d->snap_waiters;
        d->snap_waiters = trigger;
    }
    if (d->taking) {
        return CRAFT_OK; /* the one in progress answers */
    }
    if (n->fsm.snapshot == NULL) {
        d->take_want = 0;
        finish_snap_waiters(n, CRAFT_ESTATE, 0, 0);
        return CRAFT_ESTATE;
    }
    if (d->take_want > d->handed) {
        return CRAFT_OK; /* once the asked index is handed out */
    }
    if (d->handed == 0 || d->handed <= craft_engine_snapshot_index(n->e)) {
        d->take_want = 0;
        finish_snap_waiters(n, CRAFT_ESTATE, 0, 0);
        return CRAFT_ESTATE;
    }
    const void *conf = NULL;
    size_t conf_len = 0;
    int rv = craft_engine_conf_at(n->e, d->handed, &conf, &conf_len);
    if (rv != CRAFT_OK) {
        d->take_want = 0;
        finish_snap_waiters(n, rv, 0, 0);
        return rv;
    }
    struct ap_take *t = craft_malloc(&n->alloc, sizeof(*t) + conf_len);
    if (t == NULL) {
        finish_snap_waiters(n, CRAFT_ENOMEM, 0, 0);
        return CRAFT_ENOMEM;
    }
    memset(t, 0, sizeof(*t));
    t->item.kind = AP_TAKE;
    t->index = d->handed;
    t->term = d->handed_term;
    t->conf_len = conf_len;
    memcpy(t->conf, conf, conf_len);
    d->taking = 1;
    d->take_want = 0;
    nd_apply_push(n, &t->item, 0);
    return CRAFT_OK;
}

static void do_sync(struct craft_node *n)
{
    struct driver *d = &n->d;
    if (d->write_seq <= d->synced_seq || atomic_load(&n->failed)) {
        return;
    }
    int rv = CRAFT_OK;
    if (n->st.sync != NULL) {
        pthread_mutex_lock(&n->st_mu);
        rv = n->st.sync(n->st.user);
        pthread_mutex_unlock(&n->st_mu);
    }
    if (!storage_rv(n, rv, "sync")) {
        return;
    }
    d->synced_seq = d->write_seq;
    nd_metric_add(n, CRAFT_METRIC_SYNCS, 1);
}

void nd_exec_snapshot_taken(struct craft_node *n, struct ap_take *t)
{
    struct driver *d = &n->d;
    d->taking = 0;
    if (atomic_load(&n->failed)) {
        goto out_free;
    }
    if (t->st_rv != CRAFT_OK) {
        /* a chunk the apply thread streamed failed: fail-stop */
        storage_rv(n, t->st_rv, "snapshot_write");
        finish_snap_waiters(n, CRAFT_EIO, 0, 0);
        goto out_free;
    }
    if (t->status != CRAFT_OK) {
        nd_node_set_err(n, "fsm snapshot at %llu failed: %s",
                        (unsigned long long)t->index,
                        craft_strerror(t->status));
        finish_snap_waiters(n, CRAFT_ECALLBACK, 0, 0);
        /* The engine asks once and waits for SNAPSHOT_TAKEN, which it
         * will not get: ask the state machine again once as many entries
         * as the policy wants were applied since. */
        if (n->eopts.snapshot_entries > 0 && d->take_want == 0) {
            d->take_want = t->index + n->eopts.snapshot_entries;
        }
        goto out_free;
    }
    if (t->index <= craft_engine_snapshot_index(n->e)) {
        /* A newer snapshot (received from the leader) won. */
        finish_snap_waiters(n, CRAFT_ESTATE, 0, 0);
        goto out_free;
    }
    /* Streamed: the chunks so far are in the storage; this is the last
     * one (a snapshot a received one overtook above is abandoned: the
     * storage starts over at the next local offset 0). */
    pthread_mutex_lock(&n->st_mu);
    int rv = n->st.snapshot_write(
        n->st.user, t->index, t->term, t->streamed, t->buf, t->len, t->conf,
        t->conf_len,
        CRAFT_SNAPSHOT_F_LAST | (t->stream ? CRAFT_SNAPSHOT_F_LOCAL : 0u));
    pthread_mutex_unlock(&n->st_mu);
    if (!storage_rv(n, rv, "snapshot_write")) {
        goto out_free;
    }
    d->hs_seq = ++d->write_seq;
    do_sync(n);
    if (atomic_load(&n->failed)) {
        goto out_free;
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_SNAPSHOT_TAKEN;
    ev.index = t->index;
    ev.term = t->term;
    rv = nd_driver_step(n, &ev);
    if (rv != CRAFT_OK) {
        nd_node_set_err(n, "engine refused SNAPSHOT_TAKEN at %llu: %s",
                        (unsigned long long)t->index, craft_strerror(rv));
        finish_snap_waiters(n, rv, 0, 0);
        goto out_free;
    }
    nd_metric_add(n, CRAFT_METRIC_SNAPSHOTS_TAKEN, 1);
    nd_trace_u64(n, CRAFT_TRACE_SNAPSHOT_TAKEN, 3, "index", t->index, "term",
                 t->term, "bytes", t->streamed + t->len);
    finish_snap_waiters(n, CRAFT_OK, t->index, t->term);
out_free:
    craft_free(&n->alloc, t->buf);
    craft_free(&n->alloc, t);
    if (d->take_want != 0 && !atomic_load(&n->failed)) {
        nd_exec_take_snapshot(n, NULL);
    }
}

static void defer_event(struct craft_node *n, const craft_event *ev,
                        unsigned char *buf)
{
    struct driver *d = &n->d;
    void *arr = d->defer;
    if (craft_grow(&n->alloc, &arr, &d->defer_cap, d->defer_n + 1,
                   sizeof(*d->defer)) != CRAFT_OK) {
        craft_free(&n->alloc, buf);
        return; /* the engine asks again (a lost chunk is retransmitted) */
    }
    d->defer = arr;
    d->defer[d->defer_n].ev = *ev;
    d->defer[d->defer_n].buf = buf;
    d->defer_n++;
}

static int locked_snapshot_read(struct craft_node *n, uint64_t index,
                                uint64_t offset, void *buf, size_t count,
                                size_t *got, int *last)
{
    pthread_mutex_lock(&n->st_mu);
    int rv = n->st.snapshot_read(n->st.user, index, offset, buf, count, got,
                                 last);
    pthread_mutex_unlock(&n->st_mu);
    return rv;
}

static void snapshot_read(struct craft_node *n, craft_actions *a, size_t i)
{
    craft_event ev = CRAFT_EVENT_INIT;
    size_t count = craft_action_count(a, i);
    size_t got = 0;
    int last = 0;
    ev.type = CRAFT_EVENT_SNAPSHOT_CHUNK;
    ev.peer = craft_action_peer(a, i);
    ev.index = craft_action_index(a, i);
    ev.offset = craft_action_offset(a, i);
    unsigned char *buf = craft_malloc(&n->alloc, count > 0 ? count : 1);
    int rv = buf == NULL ? CRAFT_ENOMEM
                         : locked_snapshot_read(n, ev.index, ev.offset, buf,
                                                count, &got, &last);
    if (rv != CRAFT_OK || got > count) {
        ev.flags = CRAFT_EVENT_F_FAILED;
    } else {
        ev.data = buf;
        ev.len = got;
        ev.flags = last ? CRAFT_EVENT_F_LAST : 0;
    }
    defer_event(n, &ev, buf);
}

static void install(struct craft_node *n, uint64_t index, uint64_t term)
{
    struct driver *d = &n->d;
    struct ap_restore r;
    memset(&r, 0, sizeof(r));
    r.item.kind = AP_RESTORE;
    r.index = index;
    r.term = term;
    do_sync(n);
    nd_apply_push(n, &r.item, 0);
    if (nd_on_apply_thread(n)) {
        /* A round run by the apply thread itself (between its items):
         * it runs what is queued before the restore, then the restore. */
        nd_apply_run_until(n, &r.item);
    }
    pthread_mutex_lock(&n->ap_mu);
    while (!r.done) {
        pthread_cond_wait(&n->restore_cv, &n->ap_mu);
    }
    pthread_mutex_unlock(&n->ap_mu);
    if (r.status != CRAFT_OK) {
        nd_node_fail(n, CRAFT_EIO, "restore", r.status);
        return;
    }
    /* Receipts the snapshot jumped over can no longer be matched. */
    uint64_t t;
    struct call *c = nd_pending_take(n, index, &t);
    if (c != NULL) {
        nd_call_fail(n, c, CRAFT_ELOST);
    }
    d->handed = index;
    d->handed_term = term;
    nd_metric_add(n, CRAFT_METRIC_SNAPSHOTS_INSTALLED, 1);
    nd_trace_u64(n, CRAFT_TRACE_SNAPSHOT_INSTALLED, 2, "index", index,
                 "term", term);
    release_reads(n);
}

/* ---- the list -------------------------------------------------------- */

void nd_exec_actions(struct craft_node *n)
{
    struct driver *d = &n->d;
    craft_actions *a = n->acts;
    size_t cnt = craft_actions_count(a);
    int conf = 0;
    const void *data, *cdata;
    size_t len, clen;

    for (size_t i = 0; i < cnt && !atomic_load(&n->failed); i++) {
        int type = craft_action_type(a, i);
        uint64_t index = craft_action_index(a, i);
        uint64_t term = craft_action_term(a, i);
        int rv;
        switch (type) {
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            pthread_mutex_lock(&n->st_mu);
            rv = n->st.save_hard_state(n->st.user, term,
                                       craft_action_vote(a, i));
            pthread_mutex_unlock(&n->st_mu);
            if (!storage_rv(n, rv, "save_hard_state")) {
                return;
            }
            d->hs_seq = ++d->write_seq;
            nd_exec_note_term(n, term);
            break;
        case CRAFT_ACTION_APPEND: {
            size_t k, c = craft_action_count(a, i);
            uint64_t et = 0;
            rv = CRAFT_OK;
            pthread_mutex_lock(&n->st_mu);
            for (k = 0; k < c && rv == CRAFT_OK; k++) {
                uint32_t et_type = 0;
                craft_action_entry(a, i, k, &et, &et_type, &data, &len);
                rv = n->st.append(n->st.user, index + k, et, et_type, data,
                                  len);
            }
            pthread_mutex_unlock(&n->st_mu);
            if (!storage_rv(n, rv, "append")) {
                return;
            }
            d->write_seq++;
            conf = 1;
            if (c > 0) {
                d->persist_index = index + c - 1;
                d->persist_term = et;
                d->persist_pending = 1;
            }
            nd_metric_add(n, CRAFT_METRIC_ENTRIES_WRITTEN, c);
            break;
        }
        case CRAFT_ACTION_TRUNCATE:
            pthread_mutex_lock(&n->st_mu);
            rv = n->st.truncate(n->st.user, index);
            pthread_mutex_unlock(&n->st_mu);
            if (!storage_rv(n, rv, "truncate")) {
                return;
            }
            d->hs_seq = ++d->write_seq;
            conf = 1;
            if (d->persist_pending && d->persist_index >= index) {
                d->persist_pending = 0;
            }
            nd_pending_truncate(n, index, CRAFT_ELOST);
            break;
        case CRAFT_ACTION_SEND: {
            /* A leader's messages wait only for its hard state (and
             * truncations, snapshots): its own log appends need not be
             * durable before it replicates them, so its fsync runs in
             * parallel with the followers' (thesis §10.2.1; the engine
             * counts the leader toward a quorum only once PERSISTED).
             * Anyone else's wait for every earlier write (Figure 3.1:
             * respond to RPCs only after updating stable storage). */
            uint64_t seq = d->role == CRAFT_ROLE_LEADER ? d->hs_seq
                                                       : d->write_seq;
            if (craft_action_message(a, i, &data, &len) == CRAFT_OK) {
                nd_send(n, craft_action_peer(a, i), data, len, seq);
            } else {
                nd_metric_add(n, CRAFT_METRIC_MESSAGES_DROPPED, 1);
            }
            break;
        }
        case CRAFT_ACTION_APPLY:
            handout(n, a, i);
            break;
        case CRAFT_ACTION_ROLE_CHANGE:
            nd_exec_role(n, craft_action_role(a, i), term,
                         craft_action_leader(a, i));
            break;
        case CRAFT_ACTION_PROPOSE_RESULT:
            on_propose_result(n, a, i);
            break;
        case CRAFT_ACTION_READ_RESULT:
            on_read_result(n, a, i);
            break;
        case CRAFT_ACTION_TRANSFER_RESULT:
            on_transfer_result(n, a, i);
            break;
        case CRAFT_ACTION_TAKE_SNAPSHOT:
            nd_trace_u64(n, CRAFT_TRACE_SNAPSHOT_REQUESTED, 1, "index", index);
            if (index > d->take_want) {
                d->take_want = index;
            }
            nd_exec_take_snapshot(n, NULL);
            break;
        case CRAFT_ACTION_SNAPSHOT_READ:
            snapshot_read(n, a, i);
            break;
        case CRAFT_ACTION_SNAPSHOT_WRITE: {
            uint32_t f = craft_action_flags(a, i);
            data = cdata = NULL;
            len = clen = 0;
            craft_action_data(a, i, &data, &len);
            craft_action_conf(a, i, &cdata, &clen);
            pthread_mutex_lock(&n->st_mu);
            rv = n->st.snapshot_write(
                n->st.user, index, term, craft_action_offset(a, i), data, len,
                cdata, clen, (f & CRAFT_ACTION_F_LAST) ? CRAFT_SNAPSHOT_F_LAST
                                                       : 0);
            pthread_mutex_unlock(&n->st_mu);
            if (!storage_rv(n, rv, "snapshot_write")) {
                return;
            }
            d->hs_seq = ++d->write_seq;
            if (f & CRAFT_ACTION_F_LAST) {
                do_sync(n); /* durable before the next action */
            }
            break;
        }
        case CRAFT_ACTION_SNAPSHOT_INSTALL:
            install(n, index, term);
            conf = 1;
            break;
        default:
            break;
        }
    }
    uint64_t commit = craft_engine_commit_index(n->e);
    if (commit > d->commit) {
        nd_metric_add(n, CRAFT_METRIC_COMMITS, commit - d->commit);
        nd_trace_u64(n, CRAFT_TRACE_COMMIT_ADVANCED, 1, "index", commit);
        d->commit = commit;
        atomic_store(&n->q_commit, commit);
    }
    if (conf) {
        nd_exec_check_conf(n, craft_engine_last_index(n->e));
    }
}

void nd_exec_sync(struct craft_node *n)
{
    do_sync(n);
}
