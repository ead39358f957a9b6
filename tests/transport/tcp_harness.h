/*
 * tests/transport/tcp_harness.h: clusters of craft_node over craft_tcp
 * on 127.0.0.1 ephemeral ports, with the memory or the file storage,
 * driven only through the public API. Header-only; each test_*.c is its
 * own Check program. Reuses the state machine and waiters of
 * tests/integration/node_harness.h.
 *
 * Each node's transport sits behind a shim (struct tn's transport ops),
 * so that a test can kill a node's transport while the node runs (sends
 * are then lost, like on a dead network stack) and restore a new one on
 * the same port.
 *
 * CRAFT_TEST_QUICK=1 in the environment (the sanitizer and valgrind runs
 * set it) scales the long scenarios down.
 */
#ifndef CRAFT_TCP_HARNESS_H
#define CRAFT_TCP_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "node_harness.h"

#define TN_MAX TC_MAX

static inline int tn_quick(void)
{
    const char *q = getenv("CRAFT_TEST_QUICK");
    return q != NULL && q[0] != '\0' && q[0] != '0';
}

/* ---- traces ------------------------------------------------------------ */

#define TR_MAX_LOG 512

struct trec {
    pthread_mutex_t mu;
    int count[64];
    int bad; /* a transport event whose fields are not the documented */
    char why[256];
    int nlog;
    char log[TR_MAX_LOG][160]; /* transport events, rendered */
    int quiet;
};

/* The documented fields of the transport events (craft/node.h). */
static const char *const TR_SHAPES[] = {
    [27] = "port:u address:s",
    [28] = "peer:u address:s",
    [29] = "peer:u remote:s",
    [30] = "peer:u direction:s reason:s errno:i",
    [31] = "peer:u direction:s reason:s remote:s",
    [32] = "peer:u bytes:u limit:u",
    [33] = "peer:u address:s reason:s errno:i retry_ms:u",
    [34] = "peer:u reason:s frames:u",
    [35] = "peer:u address:s source:s",
};

static inline void trec_init(struct trec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
}

static inline void trec_destroy(struct trec *r)
{
    pthread_mutex_destroy(&r->mu);
}

static inline void trec_cb(void *user, const craft_trace_event *ev)
{
    struct trec *r = user;
    int id = craft_trace_event_id(ev);
    char shape[160] = "", line[160];
    size_t n = craft_trace_event_field_count(ev);
    int len = snprintf(line, sizeof(line), "%s", craft_trace_event_name(ev));
    for (size_t k = 0; k < n; k++) {
        const char *key, *str = NULL;
        int type;
        uint64_t u = 0;
        int64_t i = 0;
        craft_trace_event_field(ev, k, &key, &type, &u, &i, &str);
        if (len < (int)sizeof(line)) {
            len += type == CRAFT_FIELD_STR
                       ? snprintf(line + len, sizeof(line) - (size_t)len,
                                  " %s=%s", key, str)
                   : type == CRAFT_FIELD_I64
                       ? snprintf(line + len, sizeof(line) - (size_t)len,
                                  " %s=%lld", key, (long long)i)
                       : snprintf(line + len, sizeof(line) - (size_t)len,
                                  " %s=%llu", key, (unsigned long long)u);
        }
        if (k > 0) {
            size_t sl = strlen(shape);
            snprintf(shape + sl, sizeof(shape) - sl, "%s%s:%c",
                     sl > 0 ? " " : "", key,
                     type == CRAFT_FIELD_STR   ? 's'
                     : type == CRAFT_FIELD_I64 ? 'i'
                                               : 'u');
        }
    }
    pthread_mutex_lock(&r->mu);
    if (id > 0 && id < 64) {
        r->count[id]++;
    }
    if (id >= 27 && id <= 35) {
        if (strcmp(shape, TR_SHAPES[id]) != 0 ||
            strcmp(craft_trace_event_target(ev), "craft.transport") != 0) {
            r->bad++;
            snprintf(r->why, sizeof(r->why), "%s: '%s'",
                     craft_trace_event_name(ev), shape);
        }
        if (r->nlog < TR_MAX_LOG) {
            snprintf(r->log[r->nlog++], sizeof(r->log[0]), "%s", line);
        }
        if (!r->quiet && getenv("CRAFT_TEST_TRACE") != NULL) {
            fprintf(stderr, "trace: %s\n", line);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* How many logged transport events contain every one of the (up to 3,
 * NULL-ended) substrings. */
static inline int trec_find(struct trec *r, const char *a, const char *b,
                            const char *c)
{
    int found = 0;
    pthread_mutex_lock(&r->mu);
    for (int k = 0; k < r->nlog; k++) {
        if (strstr(r->log[k], a) != NULL &&
            (b == NULL || strstr(r->log[k], b) != NULL) &&
            (c == NULL || strstr(r->log[k], c) != NULL)) {
            found++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

/* Waits until trec_find(...) > 0. */
static inline void trec_wait(struct trec *r, const char *a, const char *b,
                             const char *c)
{
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    while (trec_find(r, a, b, c) == 0) {
        if (tc_now_ms() > end) {
            pthread_mutex_lock(&r->mu);
            for (int k = 0; k < r->nlog; k++) {
                fprintf(stderr, "  logged: %s\n", r->log[k]);
            }
            pthread_mutex_unlock(&r->mu);
            ck_abort_msg("no trace event '%s' '%s' '%s'", a, b ? b : "",
                         c ? c : "");
        }
        tc_sleep_ms(2);
    }
}

static inline void trec_check_shapes(struct trec *r)
{
    pthread_mutex_lock(&r->mu);
    int bad = r->bad;
    char why[256];
    snprintf(why, sizeof(why), "%s", r->why);
    pthread_mutex_unlock(&r->mu);
    ck_assert_msg(bad == 0, "transport trace with bad fields: %s", why);
}

/* ---- nodes ---------------------------------------------------------------- */

struct tn {
    uint64_t id;
    craft_node *node;
    craft_mem_storage *ms;
    craft_file_storage *fs;
    char dir[512];
    struct tfsm fsm;
    /* The transport behind the shim. */
    pthread_mutex_t shim_mu;
    craft_tcp *tcp;
    craft_transport_ops real;
    uint16_t port;
    char addr[64];
    /* Send timing, measured in the shim. */
    _Atomic int64_t send_max_ns;
    _Atomic uint64_t sends;
};

struct tnet {
    int use_file; /* file storage instead of memory */
    uint64_t cluster_id;
    struct tn n[TN_MAX];
    struct trec tr;
    craft_engine_options eopts;
    craft_node_options opts;
    craft_tcp_options topts; /* template; node_id and listen set per node */
    char base[400];          /* file storage: the temporary directory */
};

static inline struct tn *tn_of(struct tnet *c, uint64_t id)
{
    ck_assert_uint_ge(id, 1);
    ck_assert_uint_le(id, TN_MAX);
    return &c->n[id - 1];
}

static inline int64_t tn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The node's transport callback: forwards to the current craft_tcp, or
 * loses the bytes while it is killed; measures how long sends take. */
static inline int tn_shim_send(void *user, uint64_t peer, const void *data,
                               size_t len)
{
    struct tn *x = user;
    int64_t t0 = tn_now_ns();
    int rv = CRAFT_EIO;
    pthread_mutex_lock(&x->shim_mu);
    if (x->tcp != NULL) {
        rv = x->real.send(x->real.user, peer, data, len);
    }
    pthread_mutex_unlock(&x->shim_mu);
    int64_t d = tn_now_ns() - t0;
    int64_t m = atomic_load(&x->send_max_ns);
    while (d > m && !atomic_compare_exchange_weak(&x->send_max_ns, &m, d)) {
    }
    atomic_fetch_add(&x->sends, 1);
    return rv;
}

static inline void tn_init(struct tnet *c, int use_file)
{
    memset(c, 0, sizeof(*c));
    c->use_file = use_file;
    c->cluster_id = 0xc0ffee;
    trec_init(&c->tr);
    craft_engine_options_init(&c->eopts);
    craft_node_options_init(&c->opts);
    c->opts.tick_ms = 10;
    c->opts.request_timeout_ms = 10000;
    c->opts.trace = trec_cb;
    c->opts.trace_user = &c->tr;
    c->opts.trace_level = CRAFT_TRACE_WARN;
    craft_tcp_options_init(&c->topts);
    c->topts.cluster_id = c->cluster_id;
    c->topts.trace = trec_cb;
    c->topts.trace_user = &c->tr;
    c->topts.trace_level = CRAFT_TRACE_DEBUG;
    for (int k = 0; k < TN_MAX; k++) {
        c->n[k].id = (uint64_t)k + 1;
        tfsm_init(&c->n[k].fsm);
        pthread_mutex_init(&c->n[k].shim_mu, NULL);
    }
    if (use_file) {
        tc_mkdtemp(c->base, sizeof(c->base), "craft-tcp");
    }
}

/* Creates node id's transport (listening on port, 0: a free one). */
static inline void tn_tcp_up(struct tnet *c, uint64_t id, uint16_t port)
{
    struct tn *x = tn_of(c, id);
    char listen[64];
    craft_tcp *t = NULL;
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)port);
    craft_tcp_options o = c->topts;
    o.node_id = id;
    o.listen = listen;
    /* The old port may still be in TIME_WAIT: SO_REUSEADDR lets us bind,
     * but retry a little in case a socket is still closing. */
    int rv = CRAFT_EIO;
    for (int k = 0; k < 200 && rv != CRAFT_OK; k++) {
        rv = craft_tcp_create(&o, &t);
        if (rv != CRAFT_OK) {
            tc_sleep_ms(10);
        }
    }
    ck_assert_int_eq(rv, CRAFT_OK);
    craft_transport_ops real = CRAFT_TRANSPORT_OPS_INIT;
    ck_assert_int_eq(craft_tcp_transport(t, &real), CRAFT_OK);
    x->port = craft_tcp_port(t);
    ck_assert_uint_ne(x->port, 0);
    if (port != 0) {
        ck_assert_uint_eq(x->port, port);
    }
    snprintf(x->addr, sizeof(x->addr), "127.0.0.1:%u", (unsigned)x->port);
    if (x->node != NULL) {
        ck_assert_int_eq(craft_tcp_attach(t, x->node), CRAFT_OK);
    }
    pthread_mutex_lock(&x->shim_mu);
    x->real = real;
    x->tcp = t;
    pthread_mutex_unlock(&x->shim_mu);
}

/* Kills node id's transport: every connection closes, sends are lost. */
static inline void tn_tcp_kill(struct tnet *c, uint64_t id)
{
    struct tn *x = tn_of(c, id);
    pthread_mutex_lock(&x->shim_mu);
    craft_tcp *t = x->tcp;
    x->tcp = NULL;
    pthread_mutex_unlock(&x->shim_mu);
    craft_tcp_free(t);
}

/* Creates node id over its transport (tn_tcp_up first), bootstraps it
 * with ids[0..nids) at their addresses when nids > 0, starts it. */
static inline void tn_launch(struct tnet *c, uint64_t id, const uint64_t *ids,
                             size_t nids)
{
    struct tn *x = tn_of(c, id);
    craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
    craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    if (c->use_file) {
        if (x->fs == NULL) {
            craft_file_storage_options fo;
            craft_file_storage_options_init(&fo);
            fo.sync_mode = CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS;
            fo.preallocate = 0;
            fo.segment_bytes = 8u * 1024u * 1024u;
            fo.node_id = id;
            snprintf(x->dir, sizeof(x->dir), "%s/n%llu", c->base,
                     (unsigned long long)id);
            ck_assert_int_eq(craft_file_storage_open(x->dir, &fo, &x->fs),
                             CRAFT_OK);
        }
        ck_assert_int_eq(craft_file_storage_ops(x->fs, &st), CRAFT_OK);
    } else {
        if (x->ms == NULL) {
            ck_assert_int_eq(craft_mem_storage_create(NULL, &x->ms),
                             CRAFT_OK);
        }
        ck_assert_int_eq(craft_mem_storage_ops(x->ms, &st), CRAFT_OK);
    }
    tr.user = x;
    tr.send = tn_shim_send;
    tfsm_ops(&x->fsm, &fsm);
    craft_node_options o = c->opts;
    o.id = id;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    o.engine = &c->eopts;
    ck_assert_int_eq(craft_node_create(&o, &x->node), CRAFT_OK);
    if (nids > 0) {
        craft_buf addrs[TN_MAX];
        for (size_t k = 0; k < nids; k++) {
            struct tn *m = tn_of(c, ids[k]);
            ck_assert_uint_ne(m->port, 0); /* its transport is up */
            addrs[k].base = m->addr;
            addrs[k].len = strlen(m->addr);
        }
        ck_assert_int_eq(craft_node_bootstrap_addr(x->node, ids, addrs, nids),
                         CRAFT_OK);
    }
    pthread_mutex_lock(&x->shim_mu);
    if (x->tcp != NULL) {
        ck_assert_int_eq(craft_tcp_attach(x->tcp, x->node), CRAFT_OK);
    }
    pthread_mutex_unlock(&x->shim_mu);
    ck_assert_int_eq(craft_node_start(x->node), CRAFT_OK);
}

/* n nodes 1..n, bootstrapped as voters at their addresses. */
static inline void tn_start(struct tnet *c, int n)
{
    uint64_t ids[TN_MAX];
    for (int k = 0; k < n; k++) {
        ids[k] = (uint64_t)k + 1;
        tn_tcp_up(c, ids[k], 0);
    }
    for (int k = 0; k < n; k++) {
        tn_launch(c, ids[k], ids, (size_t)n);
    }
}

/* Stops node id: node shut down, transport freed, node freed; its
 * storage stays. */
static inline void tn_stop(struct tnet *c, uint64_t id)
{
    struct tn *x = tn_of(c, id);
    if (x->node != NULL) {
        craft_node_shutdown(x->node);
    }
    tn_tcp_kill(c, id);
    craft_node_free(x->node);
    x->node = NULL;
}

static inline void tn_free(struct tnet *c)
{
    for (int k = 0; k < TN_MAX; k++) {
        struct tn *x = &c->n[k];
        if (x->node != NULL) {
            craft_node_shutdown(x->node);
        }
    }
    for (int k = 0; k < TN_MAX; k++) {
        tn_tcp_kill(c, (uint64_t)k + 1);
    }
    for (int k = 0; k < TN_MAX; k++) {
        struct tn *x = &c->n[k];
        craft_node_free(x->node);
        x->node = NULL;
        craft_mem_storage_free(x->ms);
        craft_file_storage_close(x->fs);
        tfsm_destroy(&x->fsm);
        pthread_mutex_destroy(&x->shim_mu);
    }
    if (c->use_file) {
        tc_rmrf(c->base);
    }
    trec_check_shapes(&c->tr);
    trec_destroy(&c->tr);
}

/* The leader of the highest term (tc_leader_among; the other nodes of
 * that term need not know it yet). */
static inline uint64_t tn_leader_now(struct tnet *c)
{
    return tc_leader_among(TC_NODES(c->n), 0);
}

static inline uint64_t tn_wait_leader(struct tnet *c)
{
    return tc_wait_for_leader(TC_NODES(c->n), 0);
}

/* ---- many proposals -------------------------------------------------- */

/* Proposals in flight from one thread: up to `window` at once. */
struct tn_load {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    uint64_t ok, failed;
    uint64_t sum; /* of the values committed */
};

struct tn_prop {
    struct tn_load *l;
    uint64_t value;
};

static inline void tn_prop_cb(void *ctx, const craft_result *r)
{
    struct tn_prop *p = ctx;
    struct tn_load *l = p->l;
    pthread_mutex_lock(&l->mu);
    if (craft_result_status(r) == CRAFT_OK) {
        l->ok++;
        l->sum += p->value;
    } else {
        l->failed++;
    }
    l->inflight--;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    free(p);
}

/*
 * Commits count proposals through the current leader with window of them
 * in flight, values first, first+1, ... A proposal that fails (a leader
 * change, a timeout) may still have committed, so the tests compare the
 * servers' state machines with each other, not with the clients' view;
 * failed ones are replaced by new values until count succeeded. Returns
 * the number that failed.
 */
static inline uint64_t tn_commit_many(struct tnet *c, uint64_t first,
                                      uint64_t count, int window)
{
    struct tn_load l;
    memset(&l, 0, sizeof(l));
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    uint64_t next = first;
    int64_t deadline = tc_now_ms() + 20 * TC_WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&l.mu);
        while (l.inflight >= window ||
               (l.ok + (uint64_t)l.inflight >= count && l.inflight > 0)) {
            pthread_cond_wait(&l.cv, &l.mu);
        }
        uint64_t done = l.ok;
        pthread_mutex_unlock(&l.mu);
        if (done >= count) {
            break;
        }
        ck_assert_msg(tc_now_ms() < deadline, "only %llu of %llu committed",
                      (unsigned long long)done, (unsigned long long)count);
        uint64_t leader = tn_leader_now(c);
        if (leader == 0) {
            tc_sleep_ms(2);
            continue;
        }
        struct tn_prop *p = malloc(sizeof(*p));
        ck_assert_ptr_nonnull(p);
        p->l = &l;
        p->value = next++;
        unsigned char buf[8];
        put_u64(buf, p->value);
        pthread_mutex_lock(&l.mu);
        l.inflight++;
        pthread_mutex_unlock(&l.mu);
        int rv = craft_node_propose(tn_of(c, leader)->node, buf, 8, 0,
                                    tn_prop_cb, p);
        if (rv != CRAFT_OK) {
            pthread_mutex_lock(&l.mu);
            l.inflight--;
            l.failed++;
            pthread_mutex_unlock(&l.mu);
            free(p);
            tc_sleep_ms(1);
        }
    }
    uint64_t failed = l.failed;
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
    return failed;
}

/*
 * Proposals in the background while a test does something else: a thread
 * keeps up to `window` proposals in flight to whichever node leads. It
 * asserts nothing (Check's asserts belong to the test's thread); the test
 * reads how many committed.
 */
struct tn_bg {
    struct tnet *c;
    pthread_t th;
    atomic_int stop;
    int window;
    uint64_t next;
    struct tn_load l;
};

static inline void *tn_bg_main(void *arg)
{
    struct tn_bg *b = arg;
    while (!atomic_load(&b->stop)) {
        pthread_mutex_lock(&b->l.mu);
        int full = b->l.inflight >= b->window;
        pthread_mutex_unlock(&b->l.mu);
        uint64_t leader = full ? 0 : tn_leader_now(b->c);
        if (leader == 0) {
            tc_sleep_ms(1);
            continue;
        }
        struct tn_prop *p = malloc(sizeof(*p));
        if (p == NULL) {
            break;
        }
        p->l = &b->l;
        p->value = b->next++;
        unsigned char buf[8];
        put_u64(buf, p->value);
        pthread_mutex_lock(&b->l.mu);
        b->l.inflight++;
        pthread_mutex_unlock(&b->l.mu);
        if (craft_node_propose(tn_of(b->c, leader)->node, buf, 8, 0,
                               tn_prop_cb, p) != CRAFT_OK) {
            pthread_mutex_lock(&b->l.mu);
            b->l.inflight--;
            b->l.failed++;
            pthread_mutex_unlock(&b->l.mu);
            free(p);
            tc_sleep_ms(1);
        }
    }
    /* Wait for what is in flight (every proposal gets its callback). */
    pthread_mutex_lock(&b->l.mu);
    while (b->l.inflight > 0) {
        pthread_cond_wait(&b->l.cv, &b->l.mu);
    }
    pthread_mutex_unlock(&b->l.mu);
    return NULL;
}

static inline void tn_bg_start(struct tn_bg *b, struct tnet *c,
                               uint64_t first, int window)
{
    memset(b, 0, sizeof(*b));
    b->c = c;
    b->window = window;
    b->next = first;
    pthread_mutex_init(&b->l.mu, NULL);
    pthread_cond_init(&b->l.cv, NULL);
    ck_assert_int_eq(pthread_create(&b->th, NULL, tn_bg_main, b), 0);
}

static inline uint64_t tn_bg_ok(struct tn_bg *b)
{
    pthread_mutex_lock(&b->l.mu);
    uint64_t ok = b->l.ok;
    pthread_mutex_unlock(&b->l.mu);
    return ok;
}

/* Waits until at least n more proposals committed than at `from`. */
static inline void tn_bg_wait(struct tn_bg *b, uint64_t from, uint64_t n)
{
    int64_t end = tc_now_ms() + 4 * TC_WAIT_MS;
    while (tn_bg_ok(b) < from + n) {
        ck_assert_msg(tc_now_ms() < end, "background: %llu of %llu",
                      (unsigned long long)(tn_bg_ok(b) - from),
                      (unsigned long long)n);
        tc_sleep_ms(5);
    }
}

/* Stops the thread; returns how many committed. */
static inline uint64_t tn_bg_stop(struct tn_bg *b)
{
    atomic_store(&b->stop, 1);
    pthread_join(b->th, NULL);
    uint64_t ok = b->l.ok;
    pthread_cond_destroy(&b->l.cv);
    pthread_mutex_destroy(&b->l.mu);
    return ok;
}

/* Waits until node id applied at least index. */
static inline void tn_wait_applied(struct tnet *c, uint64_t id,
                                   uint64_t index, int timeout_ms)
{
    int64_t end = tc_now_ms() + timeout_ms;
    while (craft_node_applied_index(tn_of(c, id)->node) < index) {
        ck_assert_msg(tc_now_ms() < end,
                      "node %llu applied %llu, want %llu",
                      (unsigned long long)id,
                      (unsigned long long)craft_node_applied_index(
                          tn_of(c, id)->node),
                      (unsigned long long)index);
        tc_sleep_ms(5);
    }
}

/* Every running node's state machine has the same count and sum as the
 * leader's once all applied the leader's applied index. */
static inline void tn_check_converged(struct tnet *c)
{
    uint64_t l = tn_wait_leader(c);
    uint64_t idx = craft_node_applied_index(tn_of(c, l)->node);
    uint64_t cnt0 = 0, sum0 = 0;
    for (int k = 0; k < TN_MAX; k++) {
        if (c->n[k].node != NULL) {
            tn_wait_applied(c, c->n[k].id, idx, 4 * TC_WAIT_MS);
        }
    }
    tfsm_read(&tn_of(c, l)->fsm, &cnt0, &sum0, NULL);
    for (int k = 0; k < TN_MAX; k++) {
        struct tn *x = &c->n[k];
        if (x->node == NULL) {
            continue;
        }
        uint64_t last = 0;
        tfsm_read(&x->fsm, NULL, NULL, &last);
        /* Compare at the same index: wait until this one is there. */
        uint64_t cnt, sum;
        int64_t end = tc_now_ms() + TC_WAIT_MS;
        for (;;) {
            tfsm_read(&tn_of(c, l)->fsm, &cnt0, &sum0, &idx);
            tfsm_read(&x->fsm, &cnt, &sum, &last);
            if (last == idx || tc_now_ms() > end) {
                break;
            }
            tc_sleep_ms(5);
        }
        ck_assert_uint_eq(last, idx);
        ck_assert_uint_eq(sum, sum0);
    }
}

static inline uint64_t tn_tcp_metric(struct tnet *c, uint64_t at,
                                     uint64_t peer, int id)
{
    uint64_t v = 0;
    struct tn *x = tn_of(c, at);
    pthread_mutex_lock(&x->shim_mu);
    ck_assert_ptr_nonnull(x->tcp);
    ck_assert_int_eq(craft_tcp_metric(x->tcp, peer, id, &v), CRAFT_OK);
    pthread_mutex_unlock(&x->shim_mu);
    return v;
}

/* Waits until metric id of at's transport for peer satisfies v >= want
 * (or, with eq, v == want). */
static inline void tn_wait_metric(struct tnet *c, uint64_t at, uint64_t peer,
                                  int id, uint64_t want, int eq)
{
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    for (;;) {
        uint64_t v = tn_tcp_metric(c, at, peer, id);
        if (eq ? v == want : v >= want) {
            return;
        }
        ck_assert_msg(tc_now_ms() < end,
                      "node %llu: %s for %llu is %llu, want %s%llu",
                      (unsigned long long)at, craft_tcp_metric_name(id),
                      (unsigned long long)peer, (unsigned long long)v,
                      eq ? "" : ">= ", (unsigned long long)want);
        tc_sleep_ms(5);
    }
}

/* ---- raw sockets --------------------------------------------------------- */

static inline int tn_dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static inline void tn_write_all(int fd, const void *b, size_t n)
{
    const unsigned char *p = b;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return; /* the other end may have closed: that is a result */
        }
        p += w;
        n -= (size_t)w;
    }
}

static inline void tn_put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

/* A hello as craft/tcp.h describes it. Returns its length. */
static inline size_t tn_hello(unsigned char *b, uint16_t version,
                              uint64_t cluster, uint64_t sender,
                              uint64_t receiver, const char *addr)
{
    size_t al = addr != NULL ? strlen(addr) : 0;
    memcpy(b, "CRFT", 4);
    tn_put_u16(b + 4, version);
    tn_put_u16(b + 6, 0);
    put_u64(b + 8, cluster);
    put_u64(b + 16, sender);
    put_u64(b + 24, receiver);
    b[32] = (unsigned char)al;
    if (al > 0) {
        memcpy(b + 33, addr, al);
    }
    return 33 + al;
}

/* Reads the 16-byte answer; returns its status, or -1 when the
 * connection closed (or timed out) without one. */
static inline int tn_read_ack(int fd, uint64_t *from)
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = recv(fd, b + got, sizeof(b) - got, 0);
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
    }
    ck_assert(memcmp(b, "CRFA", 4) == 0);
    if (from != NULL) {
        *from = get_u64(b + 8);
    }
    return b[6] | b[7] << 8;
}

/* Whether the other end closed fd (reads until EOF, within 5 s). */
static inline int tn_closed(int fd)
{
    unsigned char b[256];
    for (;;) {
        ssize_t n = recv(fd, b, sizeof(b), 0);
        if (n == 0) {
            return 1;
        }
        if (n < 0) {
            return errno == ECONNRESET;
        }
    }
}

#endif
