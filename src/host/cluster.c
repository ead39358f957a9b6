/*
 * host/cluster.c: the synchronous in-memory cluster (host/host.h, layer
 * 2): starting and crashing nodes, stepping them, and how their actions
 * are carried out (the handlers given to host_run).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/actions.h"
#include "host/internal.h"

/* ---- set-up ------------------------------------------------------------- */

struct host_node *host_node(struct host *h, uint64_t id)
{
    if (id < 1 || id > (uint64_t)h->n) {
        HOST_FAIL(h, "no node %llu (the cluster has %d)",
                  (unsigned long long)id, h->n);
    }
    return &h->nodes[id - 1];
}

void host_setup(struct host *h, int n, uint64_t seed)
{
    memset(h, 0, sizeof(*h));
    if (n < 1 || n > HOST_MAX_NODES) {
        HOST_FAIL(h, "%d nodes: 1..%d", n, HOST_MAX_NODES);
    }
    h->n = n;
    h->seed = seed;
    h->record = 1;
    h->check = 1;
    craft_engine_options_init(&h->opts);
    for (int i = 0; i < n; i++) {
        struct host_node *nd = &h->nodes[i];
        nd->host = h;
        nd->id = (uint64_t)i + 1;
        nd->first = 1;
    }
}

static void node_opts(struct host *h, struct host_node *nd)
{
    nd->opts = h->opts;
    nd->opts.id = nd->id;
    if (nd->opts.seed == 0) {
        nd->opts.seed = h->seed * 131 + nd->id;
    }
}

static void create_engine(struct host *h, struct host_node *nd)
{
    if (nd->up) {
        HOST_FAIL(h, "node %llu is up already", (unsigned long long)nd->id);
    }
    if (nd->opts.struct_size == 0) {
        node_opts(h, nd);
    }
    craft_engine_options o = nd->opts;
    memset(&nd->heap, 0, sizeof(nd->heap));
    craft_allocator_init(&nd->alloc);
    nd->alloc.user = &nd->heap;
    nd->alloc.malloc = host_heap_malloc;
    nd->alloc.realloc = host_heap_realloc;
    nd->alloc.free = host_heap_free;
    if (o.allocator == NULL) {
        o.allocator = &nd->alloc;
    }
    int rv = craft_engine_create(&o, &nd->e);
    if (rv != CRAFT_OK) {
        HOST_FAIL(h, "node %llu: craft_engine_create: %s",
                  (unsigned long long)nd->id, craft_strerror(rv));
    }
    rv = craft_actions_create(nd->acts_alloc != NULL ? nd->acts_alloc
                                                     : &nd->alloc,
                              &nd->acts);
    if (rv != CRAFT_OK) {
        HOST_FAIL(h, "node %llu: craft_actions_create: %s",
                  (unsigned long long)nd->id, craft_strerror(rv));
    }
    nd->up = 1;
    nd->pending_index = 0;
    nd->pending_term = 0;
}

static void sm_restore(struct host *h, struct host_node *nd, const void *data,
                       size_t len)
{
    if (h->sm != NULL && h->sm->restore != NULL) {
        h->sm->restore(h->sm->user, nd, data, len);
    } else {
        host_bytes_set(h, &nd->sm, data, len);
    }
}

#define LOAD(h, nd, call)                                                     \
    do {                                                                      \
        int rv_ = (call);                                                     \
        if (rv_ != CRAFT_OK) {                                                \
            HOST_FAIL((h), "node %llu: %s: %s", (unsigned long long)nd->id,   \
                      #call, craft_strerror(rv_));                            \
        }                                                                     \
    } while (0)

void host_node_start(struct host *h, struct host_node *nd)
{
    create_engine(h, nd);
    LOAD(h, nd, craft_engine_load_hard_state(nd->e, nd->term, nd->vote));
    uint64_t from = nd->first;
    nd->applied = 0;
    nd->applied_term = 0;
    if (nd->snap.index != 0) {
        LOAD(h, nd, craft_engine_load_snapshot(nd->e, nd->snap.index,
                                                nd->snap.term, nd->snap.conf.p,
                                                nd->snap.conf.len));
        sm_restore(h, nd, nd->snap.data.p, nd->snap.data.len);
        nd->applied = nd->snap.index;
        nd->applied_term = nd->snap.term;
        if (from <= nd->snap.index) {
            from = nd->snap.index + 1;
        }
    } else {
        sm_restore(h, nd, NULL, 0);
    }
    for (uint64_t i = from; i <= nd->last; i++) {
        struct host_entry *en = host_entry_at(nd, i);
        LOAD(h, nd, craft_engine_load_entry(nd->e, i, en->term, en->type,
                                             en->data.p, en->data.len));
    }
}

void host_start(struct host *h, int voters)
{
    uint64_t ids[HOST_MAX_NODES];
    for (int i = 0; i < voters; i++) {
        ids[i] = (uint64_t)i + 1;
    }
    for (int i = 0; i < h->n; i++) {
        struct host_node *nd = &h->nodes[i];
        host_node_start(h, nd);
        if (i < voters) {
            craft_event ev;
            host_event_init(&ev, CRAFT_EVENT_BOOTSTRAP);
            ev.ids = ids;
            ev.nids = (size_t)voters;
            host_step(h, nd, &ev);
        }
    }
}

void host_init(struct host *h, int n, uint64_t seed)
{
    host_setup(h, n, seed);
    host_start(h, n);
}

void host_crash(struct host *h, struct host_node *nd)
{
    (void)h;
    craft_engine_free(nd->e);
    craft_actions_free(nd->acts);
    nd->e = NULL;
    nd->acts = NULL;
    nd->up = 0;
    nd->pending_open = 0;
    nd->pending_index = 0;
}

void host_free(struct host *h)
{
    for (int i = 0; i < h->n; i++) {
        struct host_node *nd = &h->nodes[i];
        if (nd->up) {
            host_crash(h, nd);
        }
        for (size_t k = 0; k < nd->log_cap; k++) {
            host_bytes_free(&nd->log[k].data);
        }
        free(nd->log);
        free(nd->applied_terms);
        host_bytes_free(&nd->snap.conf);
        host_bytes_free(&nd->snap.data);
        host_bytes_free(&nd->pending.conf);
        host_bytes_free(&nd->pending.data);
        host_bytes_free(&nd->sm);
        free(nd->journal);
        free(nd->results);
        free(nd->receipts);
    }
    for (size_t i = h->qhead; i < h->nq; i++) {
        free(h->q[i].bytes);
    }
    free(h->q);
    for (size_t i = 0; i < h->nspare; i++) {
        host_bytes_free(&h->spare[i]);
    }
    free(h->spare);
    struct craft_alloc al;
    craft_alloc_default(&al);
    craft_entry_vec_free(&al, &h->scratch);
    memset(h, 0, sizeof(*h));
}

/* ---- carrying out actions ----------------------------------------------- */

/* What a step left for after its actions. */
struct exec {
    struct host *h;
    struct host_node *nd;
    int take;
    struct host_chunk_req reads[64];
    size_t nreads;
};

static void on_truncate(struct exec *x, const struct craft_action *act)
{
    struct host_node *nd = x->nd;
    uint64_t idx = act->index;
    if (x->h->check) {
        /* Only what the log holds, never what this node applied (it is
         * committed). */
        HOST_CHECK(x->h, idx >= nd->first && idx <= nd->last);
        HOST_CHECK(x->h, idx > nd->applied);
    }
    if (idx <= nd->last) {
        nd->last = idx - 1;
    }
    if (nd->pending_index >= idx) {
        nd->pending_index = 0;
    }
}

static void on_append(struct exec *x, const struct craft_action *act)
{
    struct host *h = x->h;
    struct host_node *nd = x->nd;
    uint64_t idx = act->index;
    size_t cnt = (size_t)act->count;
    if (h->check) {
        /* Writes follow the log: a TRUNCATE came first where needed. */
        HOST_CHECK(h, cnt >= 1);
        HOST_CHECK(h, idx == nd->last + 1);
    }
    uint64_t term = 0;
    for (size_t k = 0; k < cnt; k++) {
        const struct craft_entry *en = &act->entries[k];
        term = en->term;
        host_disk_append(h, nd, idx + k, term, en->type, en->data, en->len);
    }
    nd->pending_index = nd->last;
    /* The term of the last entry written (looked up only when none was:
     * an empty APPEND, which check refuses). */
    nd->pending_term = cnt > 0 ? term : host_entry_at(nd, nd->last)->term;
}

static void on_apply(struct exec *x, const struct craft_action *act)
{
    struct host *h = x->h;
    struct host_node *nd = x->nd;
    uint64_t idx = act->index;
    size_t cnt = (size_t)act->count;
    if (h->check) {
        /* In order, exactly once, and only what is durable. */
        HOST_CHECK(h, idx == nd->applied + 1);
        HOST_CHECK(h, idx + cnt - 1 <= nd->last);
    }
    /* The knobs hold for the whole list: read once, not per entry. */
    const struct host_sm *sm =
        h->sm != NULL && h->sm->apply != NULL ? h->sm : NULL;
    int check = h->check, record = h->record;
    for (size_t k = 0; k < cnt; k++) {
        const struct craft_entry *en_k = &act->entries[k];
        uint64_t term = en_k->term;
        uint32_t type = en_k->type;
        const void *d = en_k->data;
        size_t len = en_k->len;
        if (check && idx + k >= nd->first) {
            struct host_entry *en = host_entry_at(nd, idx + k);
            HOST_CHECK(h, en->term == term && en->type == type &&
                              en->data.len == len &&
                              (len == 0 || memcmp(en->data.p, d, len) == 0));
        }
        if (sm != NULL) {
            sm->apply(sm->user, nd, idx + k, term, type, d, len);
        } else if (type == CRAFT_ENTRY_NORMAL) {
            uint32_t l32 = (uint32_t)len;
            host_bytes_put(h, &nd->sm, &l32, sizeof(l32));
            host_bytes_put(h, &nd->sm, d, len);
        }
        if (type == CRAFT_ENTRY_NORMAL) {
            nd->napplied_normal++;
        }
        if (record) {
            host_applied_term_set(h, nd, idx + k, term);
            host_settle_receipts(nd, idx + k, term);
        }
        nd->applied_term = term;
    }
    nd->applied = idx + cnt - 1;
}

static void on_role_change(struct exec *x, const struct craft_action *act)
{
    struct host_node *nd = x->nd;
    int role = act->role;
    if (role == CRAFT_ROLE_LEADER && nd->role != CRAFT_ROLE_LEADER) {
        nd->leader_since = nd->ticks;
    }
    nd->role = role;
    nd->leader = act->leader;
}

static int on_result(void *ctx, craft_actions *a, size_t i)
{
    struct exec *x = ctx;
    if (x->h->record) {
        host_record_result(x->h, x->nd, a, i);
    }
    return HOST_NEXT;
}

static int on_take_snapshot(void *ctx, craft_actions *a, size_t i)
{
    struct exec *x = ctx;
    x->nd->take_requests++;
    if (x->h->check) {
        HOST_CHECK(x->h, x->nd->applied >= craft_action_index(a, i));
    }
    x->take = 1;
    return HOST_NEXT;
}

static int on_snapshot_read(void *ctx, craft_actions *a, size_t i)
{
    struct exec *x = ctx;
    if (x->nreads == sizeof(x->reads) / sizeof(x->reads[0])) {
        HOST_FAIL(x->h, "more than %zu SNAPSHOT_READs in one step",
                  x->nreads);
    }
    struct host_chunk_req *r = &x->reads[x->nreads++];
    r->peer = craft_action_peer(a, i);
    r->index = craft_action_index(a, i);
    r->offset = craft_action_offset(a, i);
    r->count = craft_action_count(a, i);
    HOST_CHECK(x->h, r->count > 0);
    return HOST_NEXT;
}

static int on_snapshot_write(void *ctx, craft_actions *a, size_t i)
{
    struct exec *x = ctx;
    struct host *h = x->h;
    struct host_node *nd = x->nd;
    const void *d;
    size_t len;
    HOST_CHECK(h, craft_action_data(a, i, &d, &len) == CRAFT_OK);
    uint64_t off = craft_action_offset(a, i);
    if (off == 0) {
        nd->pending.index = craft_action_index(a, i);
        nd->pending.term = craft_action_term(a, i);
        nd->pending.data.len = 0;
        nd->pending_open = 1;
    }
    /* Chunks come in order, of the snapshot being written. */
    HOST_CHECK(h, nd->pending_open);
    HOST_CHECK(h, nd->pending.index == craft_action_index(a, i));
    HOST_CHECK(h, off == nd->pending.data.len);
    host_bytes_put(h, &nd->pending.data, d, len);
    if (craft_action_flags(a, i) & CRAFT_ACTION_F_LAST) {
        const void *conf;
        size_t conf_len;
        HOST_CHECK(h, craft_action_conf(a, i, &conf, &conf_len) == CRAFT_OK);
        /* Durable: it replaces the previous snapshot. */
        nd->snap.index = nd->pending.index;
        nd->snap.term = nd->pending.term;
        host_bytes_set(h, &nd->snap.conf, conf, conf_len);
        host_bytes_set(h, &nd->snap.data, nd->pending.data.p,
                       nd->pending.data.len);
        nd->pending_open = 0;
    }
    return HOST_NEXT;
}

static int on_snapshot_install(void *ctx, craft_actions *a, size_t i)
{
    struct exec *x = ctx;
    struct host *h = x->h;
    struct host_node *nd = x->nd;
    uint64_t idx = craft_action_index(a, i);
    HOST_CHECK(h, nd->snap.index == idx);
    HOST_CHECK(h, nd->snap.term == craft_action_term(a, i));
    sm_restore(h, nd, nd->snap.data.p, nd->snap.data.len);
    nd->applied = idx;
    nd->applied_term = nd->snap.term;
    /* The log up to idx may go; what follows stays unless a TRUNCATE
     * says otherwise. */
    if (nd->last < idx) {
        nd->last = idx;
    }
    nd->first = idx + 1;
    nd->installs++;
    return HOST_NEXT;
}

static int on_unknown(void *ctx, craft_actions *a, size_t i)
{
    struct exec *x = ctx;
    HOST_FAIL(x->h, "unknown action type %d", craft_action_type(a, i));
    return HOST_STOP;
}

/* ---- stepping ----------------------------------------------------------- */

/* Steps nd with ev. own is ev itself when the event is the host's own
 * (then a durability report is added to it in place), NULL when it is
 * the caller's (then it is copied first). In place, because the copy's
 * wide loads of an event whose fields were just stored one by one stall
 * on store forwarding: that was most of step_kind in the profile. */
static void step_kind(struct host *h, struct host_node *nd,
                      const craft_event *ev, craft_event *own, int kind,
                      int raw)
{
    if (!nd->up) {
        HOST_FAIL(h, "node %llu is down", (unsigned long long)nd->id);
    }
    craft_event with;
    if (h->coalesce_persist && nd->pending_index != 0 && !nd->hold_persist &&
        !(ev->flags & CRAFT_EVENT_F_PERSISTED) &&
        (ev->type == CRAFT_EVENT_TICK || ev->type == CRAFT_EVENT_MESSAGE ||
         ev->type == CRAFT_EVENT_PROPOSE)) {
        /* The last APPEND is durable (writes are synchronous): its report
         * rides on this step. */
        if (own == NULL) {
            with = *ev;
            own = &with;
        }
        own->flags |= CRAFT_EVENT_F_PERSISTED;
        own->index = nd->pending_index;
        own->term = nd->pending_term;
        ev = own;
    }
    nd->steps++;
    int rv = craft_engine_step(nd->e, ev, nd->acts);
    if (rv != CRAFT_OK) {
        HOST_FAIL(h, "node %llu: craft_engine_step (event %u): %s",
                  (unsigned long long)nd->id, ev->type, craft_strerror(rv));
    }
    if ((ev->type == CRAFT_EVENT_PERSISTED ||
         (ev->flags & CRAFT_EVENT_F_PERSISTED)) &&
        ev->index >= nd->pending_index) {
        nd->pending_index = 0; /* reported */
    }
    if (h->on_step != NULL) {
        h->on_step(h->user, nd, ev, kind);
    }
    if (!raw) {
        host_execute(h, nd);
    }
}

void host_step_raw(struct host *h, struct host_node *nd,
                   const craft_event *ev)
{
    step_kind(h, nd, ev, NULL, HOST_STEP_EVENT, 1);
}

void host_step(struct host *h, struct host_node *nd, const craft_event *ev)
{
    step_kind(h, nd, ev, NULL, HOST_STEP_EVENT, 0);
}

void host_step_own(struct host *h, struct host_node *nd, craft_event *ev,
                   int raw)
{
    step_kind(h, nd, ev, ev, HOST_STEP_EVENT, raw);
}

static void answer_read(struct host *h, struct host_node *nd,
                        const struct host_chunk_req *r)
{
    craft_event ev;
    host_event_init(&ev, CRAFT_EVENT_SNAPSHOT_CHUNK);
    ev.peer = r->peer;
    ev.index = r->index;
    ev.offset = r->offset;
    if (nd->snap.index != r->index || r->offset > nd->snap.data.len) {
        ev.flags = CRAFT_EVENT_F_FAILED;
    } else {
        size_t n = nd->snap.data.len - (size_t)r->offset;
        if (n > r->count) {
            n = (size_t)r->count;
        }
        ev.data = nd->snap.data.p + r->offset;
        ev.len = n;
        if (r->offset + n >= nd->snap.data.len) {
            ev.flags = CRAFT_EVENT_F_LAST;
        }
    }
    step_kind(h, nd, &ev, &ev, HOST_STEP_CHUNK, 0);
}

void host_answer_reads(struct host *h, struct host_node *nd)
{
    struct host_chunk_req rs[64];
    size_t n = nd->nreads;
    memcpy(rs, nd->reads, n * sizeof(rs[0]));
    nd->nreads = 0;
    for (size_t k = 0; k < n; k++) {
        answer_read(h, nd, &rs[k]);
    }
}

void host_take_snapshot(struct host *h, struct host_node *nd)
{
    const void *conf;
    size_t conf_len;
    int rv = craft_engine_conf_at(nd->e, nd->applied, &conf, &conf_len);
    if (rv != CRAFT_OK) {
        HOST_FAIL(h, "node %llu: craft_engine_conf_at(%llu): %s",
                  (unsigned long long)nd->id,
                  (unsigned long long)nd->applied, craft_strerror(rv));
    }
    /* The bytes are the engine's until its next step: stored first. */
    nd->snap.index = nd->applied;
    nd->snap.term = nd->applied_term;
    host_bytes_set(h, &nd->snap.conf, conf, conf_len);
    if (h->sm != NULL && h->sm->save != NULL) {
        nd->snap.data.len = 0;
        h->sm->save(h->sm->user, nd, &nd->snap.data);
    } else {
        host_bytes_set(h, &nd->snap.data, nd->sm.p, nd->sm.len);
    }
    if (h->compact) {
        host_log_drop_before(nd, nd->snap.index + 1);
    }
    craft_event ev;
    host_event_init(&ev, CRAFT_EVENT_SNAPSHOT_TAKEN);
    ev.index = nd->snap.index;
    ev.term = nd->snap.term;
    step_kind(h, nd, &ev, &ev, HOST_STEP_SNAPSHOT, 0);
}

void host_execute(struct host *h, struct host_node *nd)
{
    struct exec x;
    x.h = h;
    x.nd = nd;
    x.take = 0;
    x.nreads = 0;
    craft_actions *a = nd->acts;
    if (h->record) {
        for (size_t i = 0; i < craft_actions_count(a); i++) {
            host_record(h, nd, a, i);
        }
    }
    /* host_run's contract, in list order, but the common types read
     * their fields straight from the list (this is the library's own
     * host, built with it) instead of through a call per field: that
     * was most of the host's cost per action in bench_engine. */
    for (size_t i = 0, n = a->n; i < n; i++) {
        const struct craft_action *act = &a->v[i];
        switch (act->type) {
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            nd->term = act->term;
            nd->vote = act->vote;
            break;
        case CRAFT_ACTION_APPEND:
            on_append(&x, act);
            break;
        case CRAFT_ACTION_TRUNCATE:
            on_truncate(&x, act);
            break;
        case CRAFT_ACTION_SEND:
            host_enqueue_msg(h, nd->id, &act->msg);
            break;
        case CRAFT_ACTION_APPLY:
            on_apply(&x, act);
            break;
        case CRAFT_ACTION_ROLE_CHANGE:
            on_role_change(&x, act);
            break;
        /* The rare types keep their handlers on the public accessors. */
        case CRAFT_ACTION_PROPOSE_RESULT:
        case CRAFT_ACTION_READ_RESULT:
        case CRAFT_ACTION_TRANSFER_RESULT:
            on_result(&x, a, i);
            break;
        case CRAFT_ACTION_TAKE_SNAPSHOT:
            on_take_snapshot(&x, a, i);
            break;
        case CRAFT_ACTION_SNAPSHOT_READ:
            on_snapshot_read(&x, a, i);
            break;
        case CRAFT_ACTION_SNAPSHOT_WRITE:
            on_snapshot_write(&x, a, i);
            break;
        case CRAFT_ACTION_SNAPSHOT_INSTALL:
            on_snapshot_install(&x, a, i);
            break;
        default:
            on_unknown(&x, a, i);
            break;
        }
    }
    /* Writes are synchronous: the APPEND is durable now. */
    if (nd->pending_index != 0 && !nd->hold_persist && !h->coalesce_persist) {
        craft_event ev;
        host_event_init(&ev, CRAFT_EVENT_PERSISTED);
        ev.index = nd->pending_index;
        ev.term = nd->pending_term;
        step_kind(h, nd, &ev, &ev, HOST_STEP_PERSISTED, 0);
    }
    if (x.take && !nd->hold_take) {
        host_take_snapshot(h, nd);
    }
    for (size_t k = 0; k < x.nreads; k++) {
        if (nd->hold_chunks) {
            if (nd->nreads == sizeof(nd->reads) / sizeof(nd->reads[0])) {
                HOST_FAIL(h, "more than %zu SNAPSHOT_READs held",
                          nd->nreads);
            }
            nd->reads[nd->nreads++] = x.reads[k];
        } else {
            answer_read(h, nd, &x.reads[k]);
        }
    }
}

void host_event(struct host *h, struct host_node *nd, uint32_t type,
                uint64_t id, uint64_t peer)
{
    craft_event ev;
    host_event_init(&ev, type);
    ev.id = id;
    ev.peer = peer;
    host_step_own(h, nd, &ev, 0);
}

void host_tick(struct host *h, struct host_node *nd)
{
    nd->ticks++;
    host_event(h, nd, CRAFT_EVENT_TICK, 0, 0);
}

void host_tick_all(struct host *h)
{
    for (int i = 0; i < h->n; i++) {
        if (h->nodes[i].up) {
            host_tick(h, &h->nodes[i]);
        }
    }
}

void host_propose_batch(struct host *h, struct host_node *nd, uint64_t id,
                        const craft_buf *bufs, size_t n)
{
    craft_event ev;
    host_event_init(&ev, CRAFT_EVENT_PROPOSE);
    ev.id = id;
    ev.bufs = bufs;
    ev.nbufs = n;
    host_step_own(h, nd, &ev, 0);
}

void host_propose(struct host *h, struct host_node *nd, uint64_t id,
                  const void *data, size_t len)
{
    craft_buf b = {data, len};
    host_propose_batch(h, nd, id, &b, 1);
}

void host_persist(struct host *h, struct host_node *nd, uint64_t index,
                  uint64_t term)
{
    craft_event ev;
    host_event_init(&ev, CRAFT_EVENT_PERSISTED);
    ev.index = index;
    ev.term = term;
    host_step_own(h, nd, &ev, 0);
}

void host_flush_persist(struct host *h, int leaders_only)
{
    for (int i = 0; i < h->n; i++) {
        struct host_node *nd = &h->nodes[i];
        if (nd->up && nd->pending_index != 0 && !nd->hold_persist &&
            (!leaders_only || craft_engine_role(nd->e) == CRAFT_ROLE_LEADER)) {
            host_persist_pending(h, nd);
        }
    }
}

void host_persist_pending(struct host *h, struct host_node *nd)
{
    if (nd->pending_index == 0) {
        HOST_FAIL(h, "node %llu has no APPEND to report",
                  (unsigned long long)nd->id);
    }
    host_persist(h, nd, nd->pending_index, nd->pending_term);
}
