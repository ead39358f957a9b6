/*
 * node/apply.c: the apply thread. It owns the user's state machine: it
 * applies committed entries in log order, completes the proposals and
 * reads queued behind them in FIFO order, and takes and restores
 * snapshots. Error completions (timeouts, step-downs, shutdown) go in an
 * urgent list served before the FIFO, so a long apply backlog does not
 * delay them.
 */
#include <sched.h>
#include <string.h>

#include "node/node.h"

struct craft_snapshot_writer {
    struct craft_node *n;
    struct ap_take *t;
};

struct craft_snapshot_reader {
    struct craft_node *n;
    uint64_t index;
    uint64_t offset;
    int eof;
};

static void push_locked(struct craft_node *n, struct ap_item *it, int urgent)
{
    it->next = NULL;
    struct ap_item **head = urgent ? &n->urg_head : &n->ap_head;
    struct ap_item **tail = urgent ? &n->urg_tail : &n->ap_tail;
    if (*tail != NULL) {
        (*tail)->next = it;
    } else {
        *head = it;
    }
    *tail = it;
    atomic_store_explicit(&n->ap_work, 1, memory_order_release);
}

/* ap_mu held: wakes the apply thread unless it polls for work anyway. */
static void wake_locked(struct craft_node *n)
{
    n->ap_lazy = 0;
    if (n->apply_sleeping) {
        pthread_cond_signal(&n->ap_cv);
    }
}

void nd_apply_push(struct craft_node *n, struct ap_item *it, int urgent)
{
    pthread_mutex_lock(&n->ap_mu);
    push_locked(n, it, urgent);
    wake_locked(n);
    pthread_mutex_unlock(&n->ap_mu);
}

/* Entries nobody waits for (a follower's, no-ops): the apply thread is
 * woken once this many wait, or at the next tick (nd_apply_kick), so a
 * follower's apply thread is not woken for every entry. */
#define LAZY_ENTRIES 256

void nd_apply_push_lazy(struct craft_node *n, struct ap_item *it,
                        size_t entries)
{
    pthread_mutex_lock(&n->ap_mu);
    push_locked(n, it, 0);
    n->ap_lazy += entries;
    size_t most = n->opts.apply_queue_entries / 2;
    if (n->ap_lazy >= (most < LAZY_ENTRIES ? most : LAZY_ENTRIES)) {
        wake_locked(n);
    }
    pthread_mutex_unlock(&n->ap_mu);
}

void nd_apply_kick(struct craft_node *n)
{
    if (!atomic_load_explicit(&n->ap_work, memory_order_acquire)) {
        return;
    }
    pthread_mutex_lock(&n->ap_mu);
    if (n->ap_head != NULL || n->urg_head != NULL) {
        wake_locked(n);
    }
    pthread_mutex_unlock(&n->ap_mu);
}

int nd_on_apply_thread(const struct craft_node *n)
{
    return atomic_load(&n->started) &&
           pthread_equal(pthread_self(), n->apply_thread);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Polls *flag for up to ns. Every few checks it yields the CPU: on a
 * loaded machine the thread it waits for may be runnable on this very
 * CPU, and a plain spin would only delay it. */
int nd_spin_for(const atomic_int *flag, int64_t ns)
{
    int64_t end = 0;
    for (unsigned k = 0;; k++) {
        if (atomic_load_explicit(flag, memory_order_acquire)) {
            return 1;
        }
        if ((k & 31) == 31) {
            int64_t now = nd_now_ns();
            if (end == 0) {
                end = now + ns;
            } else if (now >= end) {
                return 0;
            }
            sched_yield();
        } else {
            cpu_relax();
        }
    }
}

/* Hands len bytes at the stream's offset to the storage (apply thread;
 * st_mu makes it one storage call at a time with the driver's). */
static int stream_chunk(struct craft_node *n, struct ap_take *t,
                        const void *data, size_t len)
{
    pthread_mutex_lock(&n->st_mu);
    int rv = n->st.snapshot_write(n->st.user, t->index, t->term, t->streamed,
                                  data, len, NULL, 0, CRAFT_SNAPSHOT_F_LOCAL);
    pthread_mutex_unlock(&n->st_mu);
    if (rv != CRAFT_OK) {
        /* The driver fails the node with it (fail-stop) once the take
         * comes back; later writes of this take fail at once. */
        t->st_rv = rv < 0 ? rv : CRAFT_ECALLBACK;
        return t->st_rv;
    }
    t->streamed += len;
    return CRAFT_OK;
}

int craft_snapshot_writer_write(craft_snapshot_writer *w, const void *data,
                                size_t len)
{
    if (w == NULL || (data == NULL && len > 0)) {
        return CRAFT_EINVAL;
    }
    struct ap_take *t = w->t;
    if (len == 0) {
        return CRAFT_OK;
    }
    if (t->st_rv != CRAFT_OK) {
        return t->st_rv;
    }
    const unsigned char *p = data;
    if (t->stream) {
        /* At most one chunk is held: what does not fill it goes to the
         * buffer, whole chunks of the caller's bytes go straight out. The
         * last chunk stays for the driver, which writes it with the
         * membership and CRAFT_SNAPSHOT_F_LAST. */
        size_t chunk = t->cap;
        while (len > 0) {
            if (t->len == chunk) {
                int rv = stream_chunk(w->n, t, t->buf, t->len);
                if (rv != CRAFT_OK) {
                    return rv;
                }
                t->len = 0;
            }
            if (t->len == 0 && len > chunk) {
                int rv = stream_chunk(w->n, t, p, chunk);
                if (rv != CRAFT_OK) {
                    return rv;
                }
                p += chunk;
                len -= chunk;
                continue;
            }
            size_t k = chunk - t->len < len ? chunk - t->len : len;
            memcpy(t->buf + t->len, p, k);
            t->len += k;
            p += k;
            len -= k;
        }
        return CRAFT_OK;
    }
    if (t->len + len < t->len) {
        return CRAFT_ETOOBIG;
    }
    void *buf = t->buf;
    int rv = craft_grow(&w->n->alloc, &buf, &t->cap, t->len + len, 1);
    if (rv != CRAFT_OK) {
        return rv;
    }
    t->buf = buf;
    memcpy(t->buf + t->len, p, len);
    t->len += len;
    return CRAFT_OK;
}

int craft_snapshot_reader_read(craft_snapshot_reader *r, void *buf,
                               size_t cap, size_t *nread)
{
    if (r == NULL || nread == NULL || (buf == NULL && cap > 0)) {
        return CRAFT_EINVAL;
    }
    *nread = 0;
    if (r->eof || cap == 0) {
        return CRAFT_OK;
    }
    struct craft_node *n = r->n;
    size_t got = 0;
    int last = 0;
    pthread_mutex_lock(&n->st_mu);
    int rv = n->st.snapshot_read(n->st.user, r->index, r->offset, buf, cap,
                                 &got, &last);
    pthread_mutex_unlock(&n->st_mu);
    if (rv != CRAFT_OK) {
        return rv < 0 ? rv : CRAFT_ECALLBACK;
    }
    if (got > cap || (got == 0 && !last)) {
        return CRAFT_EIO; /* the storage broke its contract */
    }
    r->offset += got;
    r->eof = last;
    *nread = got;
    return CRAFT_OK;
}

int nd_apply_restore(struct craft_node *n, uint64_t index, uint64_t term)
{
    struct craft_snapshot_reader r = {n, index, 0, 0};
    if (n->fsm.restore == NULL) {
        nd_node_set_err(n, "snapshot %llu: the state machine has no restore",
                        (unsigned long long)index);
        return CRAFT_EIO;
    }
    int rv = n->fsm.restore(n->fsm.user, index, term, &r);
    if (rv != CRAFT_OK) {
        nd_node_set_err(n, "restore of snapshot %llu failed: %s",
                        (unsigned long long)index, craft_strerror(rv));
        return rv < 0 ? rv : CRAFT_ECALLBACK;
    }
    atomic_store(&n->q_applied, index);
    return CRAFT_OK;
}

static void apply_batch(struct craft_node *n, struct ap_batch *b)
{
    for (size_t k = 0; k < b->n; k++) {
        struct ap_ent *e = &b->e[k];
        uint64_t index = b->first + k;
        const void *res = NULL;
        size_t res_len = 0;
        int status = CRAFT_OK;
        if (e->type == CRAFT_ENTRY_NORMAL) {
            int rv = n->fsm.apply(n->fsm.user, index, e->term, e->data,
                                  e->len, &res, &res_len);
            if (rv != CRAFT_OK) {
                status = CRAFT_ECALLBACK;
                res = NULL;
                res_len = 0;
                struct craft_trace_event ev;
                if (nd_trace_enabled(n, CRAFT_TRACE_APPLY_FAILED)) {
                    nd_trace_begin(n, &ev, CRAFT_TRACE_APPLY_FAILED);
                    ev.f[1] = (struct trace_field){"index", CRAFT_FIELD_U64,
                                                   index, 0, NULL};
                    ev.f[2] = (struct trace_field){"error", CRAFT_FIELD_I64,
                                                   0, rv, NULL};
                    ev.n = 3;
                    nd_trace_emit(n, &ev);
                }
            }
        }
        atomic_store_explicit(&n->q_applied, index, memory_order_release);
        /* Entry by entry: a slow state machine must not keep a paused
         * follower deaf (and its leader without a quorum) for a whole
         * batch. */
        atomic_fetch_sub_explicit(&n->backlog_entries, 1,
                                  memory_order_relaxed);
        atomic_fetch_sub_explicit(&n->backlog_bytes, e->len,
                                  memory_order_relaxed);
        if (e->prop != NULL) {
            struct call *c = e->prop;
            c->res.status = status;
            c->res.index = index;
            c->res.term = e->term;
            c->res.leader = n->id;
            c->res.data = res;
            c->res.len = res_len;
            nd_call_complete(n, c);
        }
    }
    nd_metric_add(n, CRAFT_METRIC_APPLIES, b->n);
    craft_free(&n->alloc, b);
}

static void take_snapshot(struct craft_node *n, struct ap_take *t)
{
    struct craft_snapshot_writer w = {n, t};
    int rv = CRAFT_OK;
    if (n->st.flags & CRAFT_STORAGE_F_STREAM_LOCAL) {
        /* Streamed: one chunk's buffer, allocated once per take. */
        size_t chunk = n->eopts.snapshot_chunk_bytes > 0
                           ? n->eopts.snapshot_chunk_bytes
                           : 256u * 1024u;
        t->buf = craft_malloc(&n->alloc, chunk);
        if (t->buf == NULL) {
            rv = CRAFT_ENOMEM;
        } else {
            t->cap = chunk;
            t->stream = 1;
        }
    }
    if (rv == CRAFT_OK) {
        rv = n->fsm.snapshot(n->fsm.user, t->index, t->term, &w);
    }
    t->status = rv == CRAFT_OK ? CRAFT_OK
                               : (rv < 0 ? rv : CRAFT_ECALLBACK);
    pthread_mutex_lock(&n->in_mu);
    t->next = n->snap_head;
    n->snap_head = t;
    atomic_store_explicit(&n->in_work, 1, memory_order_relaxed);
    nd_driver_wake_locked(n);
    pthread_mutex_unlock(&n->in_mu);
}

static void wake_driver_if_wanted(struct craft_node *n)
{
    if (atomic_load(&n->space_wanted)) {
        pthread_mutex_lock(&n->in_mu);
        nd_driver_wake_locked(n);
        pthread_mutex_unlock(&n->in_mu);
    }
}

static void run_list(struct craft_node *n, struct ap_item *it)
{
    while (it != NULL) {
        struct ap_item *next = it->next;
        nd_call_complete(n, (struct call *)(void *)it);
        it = next;
    }
}

static void run_urgent(struct craft_node *n)
{
    pthread_mutex_lock(&n->ap_mu);
    struct ap_item *it = n->urg_head;
    n->urg_head = n->urg_tail = NULL;
    pthread_mutex_unlock(&n->ap_mu);
    run_list(n, it);
}

/* Runs one FIFO item; *completed counts the calls it completed. Returns
 * 1 for the stop item. */
static int run_item(struct craft_node *n, struct ap_item *it, int *completed)
{
    switch (it->kind) {
    case AP_ENTRIES: {
        struct ap_batch *b = (struct ap_batch *)(void *)it;
        for (size_t k = 0; k < b->n; k++) {
            *completed += b->e[k].prop != NULL;
        }
        apply_batch(n, b);
        wake_driver_if_wanted(n);
        break;
    }
    case AP_DONE:
        (*completed)++;
        nd_call_complete(n, (struct call *)(void *)it);
        break;
    case AP_TAKE:
        take_snapshot(n, (struct ap_take *)(void *)it);
        break;
    case AP_RESTORE: {
        struct ap_restore *r = (struct ap_restore *)(void *)it;
        int rv = nd_apply_restore(n, r->index, r->term);
        pthread_mutex_lock(&n->ap_mu);
        r->status = rv;
        r->done = 1;
        pthread_cond_broadcast(&n->restore_cv);
        pthread_mutex_unlock(&n->ap_mu);
        break;
    }
    case AP_STOP:
        return 1;
    default:
        break;
    }
    return 0;
}

void nd_apply_run_until(struct craft_node *n, struct ap_item *target)
{
    int completed = 0;
    for (;;) {
        pthread_mutex_lock(&n->ap_mu);
        struct ap_item *urg = n->urg_head;
        n->urg_head = n->urg_tail = NULL;
        struct ap_item *it = n->ap_head;
        if (it != NULL) {
            n->ap_head = it->next;
            if (n->ap_head == NULL) {
                n->ap_tail = NULL;
            }
        }
        pthread_mutex_unlock(&n->ap_mu);
        run_list(n, urg);
        if (it == NULL) {
            return; /* not queued: nothing to wait for */
        }
        it->next = NULL;
        run_item(n, it, &completed);
        if (it == target) {
            return;
        }
    }
}

void *nd_apply_main(void *arg)
{
    struct craft_node *n = arg;
    int stop = 0;
    int completed = 0; /* calls completed by the last pass */
    int64_t spin = n->ncpu > 1 ? (int64_t)n->opts.spin_us * 1000 : 0;
    while (!stop) {
        pthread_mutex_lock(&n->ap_mu);
        while (n->urg_head == NULL && n->ap_head == NULL) {
            atomic_store_explicit(&n->ap_work, 0, memory_order_relaxed);
            n->ap_lazy = 0;
            if (completed > 0 && spin > 0 && nd_few_clients(n)) {
                /* A client was just answered: its next request comes
                 * soon. Poll a little instead of sleeping (pushers do
                 * not signal a thread that is not asleep). Only while
                 * few proposals are in flight: with many clients the
                 * CPU this poll burns is the one the woken clients
                 * need to make their next requests. */
                completed = 0;
                pthread_mutex_unlock(&n->ap_mu);
                nd_spin_for(&n->ap_work, spin);
                pthread_mutex_lock(&n->ap_mu);
                continue;
            }
            n->apply_sleeping = 1;
            pthread_cond_wait(&n->ap_cv, &n->ap_mu);
            n->apply_sleeping = 0;
        }
        struct ap_item *it = n->ap_head;
        n->ap_head = n->ap_tail = NULL;
        struct ap_item *urg = n->urg_head;
        n->urg_head = n->urg_tail = NULL;
        pthread_mutex_unlock(&n->ap_mu);
        completed = 0;
        if (urg != NULL) {
            run_list(n, urg);
            completed++;
        }
        while (it != NULL && !stop) {
            struct ap_item *next = it->next;
            stop = run_item(n, it, &completed);
            it = next;
        }
        if (!stop) {
            /* Calls the callbacks made: run their round here. */
            nd_driver_apply_turn(n);
        }
        nd_waiter_flush(n);
    }
    /* The driver queued every error completion before the stop item. */
    run_urgent(n);
    nd_waiter_flush(n);
    return NULL;
}
