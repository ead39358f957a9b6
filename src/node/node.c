/*
 * node/node.c: a node's life cycle (create, bootstrap, start, shutdown,
 * free), loading its persisted state, its error message and fail-stop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/node.h"
#include "node/options.h"

/* ---- errors ---------------------------------------------------------- */

void nd_node_set_err(struct craft_node *n, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&n->err_mu);
    va_start(ap, fmt);
    vsnprintf(n->errmsg, sizeof(n->errmsg), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&n->err_mu);
}

size_t craft_node_errmsg(const craft_node *node, char *buf, size_t cap)
{
    if (node == NULL) {
        return 0;
    }
    struct craft_node *n = (struct craft_node *)(uintptr_t)node;
    pthread_mutex_lock(&n->err_mu);
    size_t len = strlen(n->errmsg);
    if (buf != NULL && cap > 0) {
        size_t k = len < cap - 1 ? len : cap - 1;
        memcpy(buf, n->errmsg, k);
        buf[k] = '\0';
    }
    pthread_mutex_unlock(&n->err_mu);
    return len;
}

void nd_node_fail(struct craft_node *n, int code, const char *op, int err)
{
    if (atomic_load(&n->failed)) {
        return;
    }
    atomic_store(&n->failed, code);
    nd_node_set_err(n, "storage %s failed: %s; the node stopped", op,
                    craft_strerror(err));
    struct craft_trace_event ev;
    if (nd_trace_enabled(n, CRAFT_TRACE_STORAGE_FAILED)) {
        nd_trace_begin(n, &ev, CRAFT_TRACE_STORAGE_FAILED);
        ev.f[1] = (struct trace_field){"op", CRAFT_FIELD_STR, 0, 0, op};
        ev.f[2] = (struct trace_field){"error", CRAFT_FIELD_I64, 0, err, NULL};
        ev.n = 3;
        nd_trace_emit(n, &ev);
    }
    nd_driver_fail_all(n, code);
    nd_call_wake_room(n);
}

int nd_node_on_own_thread(const struct craft_node *n)
{
    if (!atomic_load(&n->started)) {
        return 0;
    }
    pthread_t self = pthread_self();
    if (pthread_equal(self, n->driver_thread) ||
        pthread_equal(self, n->apply_thread)) {
        return 1;
    }
    /* A thread running the node's round as a guest (its callbacks). */
    struct craft_node *m = (struct craft_node *)(uintptr_t)n;
    pthread_mutex_lock(&m->in_mu);
    int guest = m->owner == ND_OWN_GUEST && pthread_equal(self, m->guest);
    pthread_mutex_unlock(&m->in_mu);
    return guest;
}

/* ---- loading ----------------------------------------------------------- */

struct craft_loader {
    struct craft_node *n;
    int any;
    uint64_t snap_index;
    uint64_t snap_term;
};

int craft_loader_hard_state(craft_loader *ld, uint64_t term, uint64_t vote)
{
    if (ld == NULL) {
        return CRAFT_EINVAL;
    }
    int rv = craft_engine_load_hard_state(ld->n->e, term, vote);
    if (rv == CRAFT_OK && (term != 0 || vote != 0)) {
        ld->any = 1;
    }
    return rv;
}

int craft_loader_snapshot(craft_loader *ld, uint64_t index, uint64_t term,
                          const void *conf, size_t conf_len)
{
    if (ld == NULL) {
        return CRAFT_EINVAL;
    }
    int rv = craft_engine_load_snapshot(ld->n->e, index, term, conf, conf_len);
    if (rv == CRAFT_OK) {
        ld->any = 1;
        ld->snap_index = index;
        ld->snap_term = term;
    }
    return rv;
}

int craft_loader_entry(craft_loader *ld, uint64_t index, uint64_t term,
                       uint32_t type, const void *data, size_t len)
{
    if (ld == NULL) {
        return CRAFT_EINVAL;
    }
    if (index != 0 && index <= ld->snap_index) {
        return CRAFT_OK; /* covered by the snapshot */
    }
    int rv = craft_engine_load_entry(ld->n->e, index, term, type, data, len);
    if (rv == CRAFT_OK) {
        ld->any = 1;
    }
    return rv;
}

/* ---- create ------------------------------------------------------------ */

static int init_sync(struct craft_node *n)
{
    /* All or nothing: the node is calloc'ed and freed on failure, and a
     * pthread object that failed to initialise needs no destroy. */
    if (pthread_mutex_init(&n->sd_mu, NULL) != 0) {
        return CRAFT_ENOMEM;
    }
    if (pthread_mutex_init(&n->in_mu, NULL) != 0) {
        goto err_sd;
    }
    if (nd_cond_init_mono(&n->in_cv) != CRAFT_OK) {
        goto err_in_mu;
    }
    if (pthread_cond_init(&n->status_cv, NULL) != 0) {
        goto err_in_cv;
    }
    if (pthread_mutex_init(&n->ap_mu, NULL) != 0) {
        goto err_status_cv;
    }
    if (pthread_cond_init(&n->ap_cv, NULL) != 0) {
        goto err_ap_mu;
    }
    if (pthread_cond_init(&n->restore_cv, NULL) != 0) {
        goto err_ap_cv;
    }
    if (pthread_mutex_init(&n->err_mu, NULL) != 0) {
        goto err_restore_cv;
    }
    if (pthread_mutex_init(&n->room_mu, NULL) != 0) {
        goto err_err_mu;
    }
    if (nd_cond_init_mono(&n->room_cv) != CRAFT_OK) {
        goto err_room_mu;
    }
    if (pthread_mutex_init(&n->pub_mu, NULL) != 0) {
        goto err_room_cv;
    }
    if (pthread_mutex_init(&n->wake_mu, NULL) != 0) {
        goto err_pub_mu;
    }
    if (pthread_mutex_init(&n->st_mu, NULL) != 0) {
        goto err_wake_mu;
    }
    return CRAFT_OK;

err_wake_mu:
    pthread_mutex_destroy(&n->wake_mu);
err_pub_mu:
    pthread_mutex_destroy(&n->pub_mu);
err_room_cv:
    pthread_cond_destroy(&n->room_cv);
err_room_mu:
    pthread_mutex_destroy(&n->room_mu);
err_err_mu:
    pthread_mutex_destroy(&n->err_mu);
err_restore_cv:
    pthread_cond_destroy(&n->restore_cv);
err_ap_cv:
    pthread_cond_destroy(&n->ap_cv);
err_ap_mu:
    pthread_mutex_destroy(&n->ap_mu);
err_status_cv:
    pthread_cond_destroy(&n->status_cv);
err_in_cv:
    pthread_cond_destroy(&n->in_cv);
err_in_mu:
    pthread_mutex_destroy(&n->in_mu);
err_sd:
    pthread_mutex_destroy(&n->sd_mu);
    return CRAFT_ENOMEM;
}

static void destroy_sync(struct craft_node *n)
{
    pthread_mutex_destroy(&n->st_mu);
    pthread_mutex_destroy(&n->wake_mu);
    pthread_mutex_destroy(&n->pub_mu);
    pthread_cond_destroy(&n->room_cv);
    pthread_mutex_destroy(&n->room_mu);
    pthread_mutex_destroy(&n->err_mu);
    pthread_cond_destroy(&n->restore_cv);
    pthread_cond_destroy(&n->ap_cv);
    pthread_mutex_destroy(&n->ap_mu);
    pthread_cond_destroy(&n->status_cv);
    pthread_cond_destroy(&n->in_cv);
    pthread_mutex_destroy(&n->in_mu);
    pthread_mutex_destroy(&n->sd_mu);
}

static void init_state(struct craft_node *n)
{
    struct driver *d = &n->d;
    d->role = craft_engine_role(n->e);
    d->term = craft_engine_term(n->e);
    d->leader = CRAFT_NONE;
    d->commit = craft_engine_commit_index(n->e);
    d->handed = craft_engine_applied_index(n->e);
    d->handed_term = craft_engine_snapshot_term(n->e);
    atomic_store(&n->q_role, d->role);
    atomic_store(&n->q_term, d->term);
    atomic_store(&n->q_commit, d->commit);
    atomic_store(&n->q_applied, d->handed);
    d->conf_n = craft_engine_member_count(n->e);
    for (size_t k = 0; k < d->conf_n && k < CRAFT_MAX_MEMBERS; k++) {
        craft_engine_member(n->e, k, &d->conf_ids[k], &d->conf_roles[k]);
    }
    nd_exec_publish_conf(n);
}

int craft_node_create(const craft_node_options *opts, craft_node **out)
{
    return craft_node_create_msg(opts, out, NULL, 0);
}

int craft_node_create_msg(const craft_node_options *opts, craft_node **out,
                          char *msg, size_t cap)
{
    struct nd_config cfg;
    struct craft_alloc al;
    int rv;

    if (msg != NULL && cap > 0) {
        msg[0] = '\0';
    }
    if (opts == NULL || out == NULL) {
        return nd_msgf(CRAFT_EINVAL, msg, cap, "%s is NULL",
                       opts == NULL ? "opts" : "out");
    }
    rv = nd_options_copy(opts, &cfg, msg, cap);
    if (rv != CRAFT_OK) {
        return rv;
    }
    rv = craft_alloc_from_public(cfg.eopts.allocator, &al);
    if (rv != CRAFT_OK) {
        return nd_msgf(rv, msg, cap,
                       "options.allocator: %s (struct_size or a NULL "
                       "method)",
                       craft_strerror(rv));
    }
    struct craft_node *n = craft_calloc(&al, sizeof(*n));
    if (n == NULL) {
        return nd_msgf(CRAFT_ENOMEM, msg, cap, "out of memory for the node");
    }
    n->alloc = al;
    n->opts = cfg.opts;
    n->st = cfg.st;
    n->tr = cfg.tr;
    n->fsm = cfg.fsm;
    n->eopts = cfg.eopts;
    n->id = cfg.opts.id;
    n->tick_ns = (int64_t)cfg.opts.tick_ms * 1000000;
    n->stop_item.kind = AP_STOP;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n->ncpu = cpus > 0 ? (int)cpus : 1;

    rv = init_sync(n);
    if (rv != CRAFT_OK) {
        nd_msgf(rv, msg, cap, "initialising locks: %s", craft_strerror(rv));
        goto err_free;
    }
    rv = craft_engine_create(&cfg.eopts, &n->e);
    if (rv != CRAFT_OK) {
        nd_msgf(rv, msg, cap,
                "options.engine rejected: %s%s", craft_strerror(rv),
                rv == CRAFT_EINVAL
                    ? " (election_ticks < 2, heartbeat_ticks 0 or >= "
                      "election_ticks, max_inflight 0 or too large, "
                      "max_msg_bytes, snapshot_chunk_bytes or "
                      "catchup_rounds 0, or lease_reads without "
                      "check_quorum)"
                    : "");
        goto err_sync;
    }
    n->eopts.allocator = NULL; /* the caller's may go now */
    rv = craft_actions_create(cfg.eopts.allocator, &n->acts);
    if (rv != CRAFT_OK) {
        nd_msgf(rv, msg, cap, "actions list: %s", craft_strerror(rv));
        goto err_engine;
    }

    struct craft_loader ld = {n, 0, 0, 0};
    rv = n->st.load(n->st.user, &ld);
    if (rv != CRAFT_OK) {
        int cb = rv;
        rv = rv < 0 ? rv : CRAFT_ECALLBACK;
        nd_msgf(rv, msg, cap, "storage->load returned %d: %s", cb,
                craft_strerror(rv));
        goto err_actions;
    }
    n->loaded = ld.any;
    n->loaded_snap_index = ld.snap_index;
    n->loaded_snap_term = ld.snap_term;
    init_state(n);
    *out = n;
    return CRAFT_OK;

err_actions:
    craft_actions_free(n->acts);
err_engine:
    craft_engine_free(n->e);
err_sync:
    destroy_sync(n);
err_free:
    craft_free(&al, n);
    return rv;
}

static int bootstrap(craft_node *n, const uint64_t *ids,
                     const craft_buf *addrs, size_t count)
{
    if (n == NULL || ids == NULL || count == 0) {
        return CRAFT_EINVAL;
    }
    if (count > CRAFT_MAX_MEMBERS) {
        return CRAFT_ETOOBIG;
    }
    pthread_mutex_lock(&n->sd_mu);
    int rv = CRAFT_OK;
    if (atomic_load(&n->closing)) {
        rv = CRAFT_ESHUTDOWN;
    } else if (atomic_load(&n->failed)) {
        rv = CRAFT_EIO;
    } else if (n->started || n->loaded) {
        rv = CRAFT_ESTATE;
    }
    if (rv == CRAFT_OK) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_BOOTSTRAP;
        ev.ids = ids;
        ev.nids = count;
        if (addrs != NULL) {
            ev.flags = CRAFT_EVENT_F_ADDR;
            ev.bufs = addrs;
            ev.nbufs = count;
        }
        rv = nd_driver_step(n, &ev);
        if (rv == CRAFT_OK) {
            nd_driver_settle(n);
            n->loaded = 1;
            if (atomic_load(&n->failed)) {
                rv = CRAFT_EIO;
            }
        }
    }
    pthread_mutex_unlock(&n->sd_mu);
    return rv;
}

int craft_node_bootstrap(craft_node *n, const uint64_t *ids, size_t count)
{
    return bootstrap(n, ids, NULL, count);
}

int craft_node_bootstrap_addr(craft_node *n, const uint64_t *ids,
                              const craft_buf *addrs, size_t count)
{
    if (addrs == NULL) {
        return CRAFT_EINVAL;
    }
    return bootstrap(n, ids, addrs, count);
}

int craft_node_start(craft_node *n)
{
    if (n == NULL) {
        return CRAFT_EINVAL;
    }
    pthread_mutex_lock(&n->sd_mu);
    int rv = CRAFT_OK;
    if (atomic_load(&n->closing)) {
        rv = CRAFT_ESHUTDOWN;
    } else if (n->started) {
        rv = CRAFT_ESTATE;
    } else if (atomic_load(&n->failed)) {
        rv = CRAFT_EIO;
    }
    if (rv == CRAFT_OK && n->loaded_snap_index != 0) {
        rv = nd_apply_restore(n, n->loaded_snap_index, n->loaded_snap_term);
    }
    if (rv == CRAFT_OK) {
        int64_t now = nd_now_ns();
        n->d.next_tick = now + n->tick_ns;
        n->d.next_expire = now + n->tick_ns;
        nd_trace_u64(n, CRAFT_TRACE_NODE_STARTED, 3, "term", n->d.term,
                     "last_index", craft_engine_last_index(n->e),
                     "snapshot_index", n->loaded_snap_index);
        if (pthread_create(&n->apply_thread, NULL, nd_apply_main, n) != 0) {
            rv = CRAFT_ENOMEM;
        } else if (pthread_create(&n->driver_thread, NULL, nd_driver_main,
                                  n) != 0) {
            nd_apply_push(n, &n->stop_item, 0);
            pthread_join(n->apply_thread, NULL);
            rv = CRAFT_ENOMEM;
        } else {
            n->started = 1;
        }
    }
    pthread_mutex_unlock(&n->sd_mu);
    return rv;
}

int craft_node_shutdown(craft_node *n)
{
    if (n == NULL) {
        return CRAFT_EINVAL;
    }
    if (nd_node_on_own_thread(n)) {
        return CRAFT_ESTATE;
    }
    pthread_mutex_lock(&n->sd_mu);
    pthread_mutex_lock(&n->in_mu);
    atomic_store(&n->closing, 1);
    n->stop_req = 1;
    pthread_cond_signal(&n->in_cv);
    struct call *left = NULL;
    if (!n->started) {
        /* No driver will ever take these: complete them here. */
        left = n->req_head;
        n->req_head = n->req_tail = NULL;
    }
    pthread_mutex_unlock(&n->in_mu);
    nd_call_wake_room(n);
    if (n->started && !n->joined) {
        pthread_join(n->driver_thread, NULL);
        pthread_join(n->apply_thread, NULL);
        n->joined = 1;
    }
    while (left != NULL) {
        struct call *c = left;
        left = c->next;
        if (c->kind == CALL_STATUS) {
            c->res.status = nd_status_fill(n, &c->status);
            pthread_mutex_lock(&n->in_mu);
            c->done = 1;
            pthread_cond_broadcast(&n->status_cv);
            pthread_mutex_unlock(&n->in_mu);
        } else {
            c->res.status = CRAFT_ESHUTDOWN;
            c->res.leader = atomic_load(&n->q_leader);
            nd_call_complete(n, c);
        }
    }
    pthread_mutex_unlock(&n->sd_mu);
    return CRAFT_OK;
}

void craft_node_free(craft_node *n)
{
    if (n == NULL) {
        return;
    }
    if (craft_node_shutdown(n) != CRAFT_OK) {
        return; /* from its own thread: cannot free itself */
    }
    /* Leftovers: the apply queue is empty once its thread stopped (or
     * never started: only what bootstrap queued, which is nothing). */
    struct ap_item *it = n->ap_head;
    while (it != NULL) {
        struct ap_item *next = it->next;
        if (it->kind == AP_ENTRIES) {
            craft_free(&n->alloc, it);
        }
        it = next;
    }
    nd_driver_free(n);
    craft_actions_free(n->acts);
    craft_engine_free(n->e);
    destroy_sync(n);
    struct craft_alloc al = n->alloc;
    craft_free(&al, n);
}

/* ---- quick state ------------------------------------------------------ */

uint64_t craft_node_id(const craft_node *n)
{
    return n != NULL ? n->id : 0;
}

int craft_node_role(const craft_node *n)
{
    return n != NULL ? atomic_load(&((struct craft_node *)(uintptr_t)n)->q_role)
                     : 0;
}

uint64_t craft_node_term(const craft_node *n)
{
    return n != NULL ? atomic_load(&((struct craft_node *)(uintptr_t)n)->q_term)
                     : 0;
}

uint64_t craft_node_leader(const craft_node *n)
{
    return n != NULL
               ? atomic_load(&((struct craft_node *)(uintptr_t)n)->q_leader)
               : 0;
}

uint64_t craft_node_applied_index(const craft_node *n)
{
    return n != NULL
               ? atomic_load(&((struct craft_node *)(uintptr_t)n)->q_applied)
               : 0;
}
