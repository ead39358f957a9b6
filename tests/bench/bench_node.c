/*
 * tests/bench/bench_node.c: the node runtime benchmark (`make bench`,
 * `make bench-node`). A program, not a timed test.
 *
 * A 3-node cluster in one process (craft_hub + craft_mem_storage, the
 * test helpers of craft/testing.h), 64-byte commands proposed on the
 * leader, each client waiting for its own commit (the entry committed and
 * applied on the leader). Two kinds of clients:
 *
 *  - threads: N OS threads, each calling craft_node_propose_wait in a
 *    loop (the way a C program with a thread per request uses craft);
 *  - async: N chains of craft_node_propose calls, each proposing again
 *    from its completion callback (on the apply thread).
 *
 * For 1, 64 and 256 clients of each kind it prints ops/s and the p50/p99
 * latency (call -> commit seen by the client), and what one op cost the
 * process: CPU time (us, getrusage: user + system, all threads) and
 * context switches. On a loaded machine the rate follows the CPU the
 * scheduler grants; the cost per op is the figure that compares.
 * Every run is made twice in the same process: with the runtime's fast
 * paths (the defaults: a call that waits runs the driver's round itself
 * when the driver is idle, the hub delivers into an idle node on the
 * sender's thread, bounded spins before sleeping) and with them off
 * (inline_rounds 0, spin_us 0: every hop a sleep and a wake-up), the
 * baseline printed next to it. Then:
 *
 *  - hops: where one proposal's time goes at 1 client (median per stage:
 *    call -> leader sends -> follower appends -> follower answers ->
 *    leader applies -> the caller has its result);
 *  - idle: CPU time of the whole process (3 idle nodes: ticks, heartbeats)
 *    over an idle period, as % of one core (getrusage);
 *  - timing under load: elections and leader changes during the load
 *    runs, and the longest gap between two messages from the leader to a
 *    follower (heartbeats must keep flowing: the election timeout is
 *    10-20 ticks of 10 ms);
 *  - wake-up ceiling: 256 OS threads that each block on a semaphore of
 *    their own until one server thread, taking their requests from a
 *    queue, posts it, with no Raft at all: the rate at which this machine
 *    can wake one blocked thread per op, which bounds "256 threads"
 *    above (every commit there wakes its blocked caller).
 *
 * Goals (printed beside the figures): 1 client >= 150k ops/s with p99 <=
 * 30 us (threads and async); 256 threads >= 500k ops/s, p99 <= 2 ms;
 * async 256 >= 1.7M ops/s, p99 <= 300 us; idle CPU < 1 % of a core. The
 * figures depend on the machine: the program prints the CPU count, and
 * the baseline measured beside them reads as a ratio.
 *
 * Usage: bench_node [seconds per run, default 2] [idle seconds, default
 * 10] [what: "tahiw" = threads, async, hops, idle, wake-up ceiling;
 * default all]
 * [only this client count] [1: skip the baseline]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "craft.h"
#include "craft/testing.h"

#define BENCH_NAME "bench_node"
#include "bench.h"

#define PAYLOAD 64
#define MAX_SAMPLES (8u * 1024u * 1024u)
#define N 3

/* ---- hop timestamps (one proposal in flight: the 1-client run) -------- */

static struct {
    atomic_int on;
    atomic_int leader;     /* index of the leader */
    _Atomic uint64_t seq;  /* the proposal being timed */
    _Atomic int64_t call, l_send, f_append, f_send, l_apply;
    atomic_int f_node;     /* the follower that appended first */
} hop;

static uint64_t seq_of(const void *data, size_t len)
{
    uint64_t v = 0;
    if (len >= 8) {
        memcpy(&v, data, 8);
    }
    return v;
}

static void stamp_once(_Atomic int64_t *t)
{
    int64_t zero = 0;
    atomic_compare_exchange_strong(t, &zero, now_ns());
}

/* ---- the state machine: a counter (bench.h) ---------------------------- */

static int counter_apply(void *user, uint64_t index, uint64_t term,
                         const void *data, size_t len, const void **result,
                         size_t *result_len)
{
    struct counter *c = user;
    (void)index;
    (void)term;
    if (atomic_load_explicit(&hop.on, memory_order_relaxed) &&
        c->k == atomic_load(&hop.leader) && seq_of(data, len) == hop.seq) {
        stamp_once(&hop.l_apply);
    }
    return counter_applied(c, result, result_len);
}

/* ---- storage and transport wrappers: hop stamps, heartbeat gaps -------- */

struct wrap {
    int k;
    craft_storage_ops st;
    craft_transport_ops tr;
    /* leader -> follower send times, for the longest gap under load */
    _Atomic int64_t last_to[N + 1];
    _Atomic int64_t max_gap[N + 1];
};

static atomic_int gaps_on;

static int w_load(void *u, craft_loader *l)
{
    struct wrap *w = u;
    return w->st.load(w->st.user, l);
}
static int w_hs(void *u, uint64_t term, uint64_t vote)
{
    struct wrap *w = u;
    return w->st.save_hard_state(w->st.user, term, vote);
}
static int w_append(void *u, uint64_t index, uint64_t term, uint32_t type,
                    const void *data, size_t len)
{
    struct wrap *w = u;
    if (atomic_load_explicit(&hop.on, memory_order_relaxed) &&
        w->k != atomic_load(&hop.leader) && seq_of(data, len) == hop.seq) {
        int64_t zero = 0;
        if (atomic_compare_exchange_strong(&hop.f_append, &zero, now_ns())) {
            atomic_store(&hop.f_node, w->k);
        }
    }
    return w->st.append(w->st.user, index, term, type, data, len);
}
static int w_truncate(void *u, uint64_t index)
{
    struct wrap *w = u;
    return w->st.truncate(w->st.user, index);
}
static int w_sync(void *u)
{
    struct wrap *w = u;
    return w->st.sync != NULL ? w->st.sync(w->st.user) : CRAFT_OK;
}
static int w_snap_write(void *u, uint64_t index, uint64_t term,
                        uint64_t offset, const void *data, size_t len,
                        const void *conf, size_t conf_len, uint32_t flags)
{
    struct wrap *w = u;
    return w->st.snapshot_write(w->st.user, index, term, offset, data, len,
                                conf, conf_len, flags);
}
static int w_snap_read(void *u, uint64_t index, uint64_t offset, void *buf,
                       size_t count, size_t *n, int *last)
{
    struct wrap *w = u;
    return w->st.snapshot_read(w->st.user, index, offset, buf, count, n,
                               last);
}

static int w_send(void *u, uint64_t peer, const void *data, size_t len)
{
    struct wrap *w = u;
    if (atomic_load_explicit(&hop.on, memory_order_relaxed)) {
        if (w->k == atomic_load(&hop.leader)) {
            if (hop.call != 0) {
                stamp_once(&hop.l_send);
            }
        } else if (w->k == atomic_load(&hop.f_node) && hop.f_append != 0) {
            stamp_once(&hop.f_send);
        }
    }
    if (atomic_load_explicit(&gaps_on, memory_order_relaxed) && peer <= N) {
        int64_t t = now_ns();
        int64_t prev = atomic_exchange(&w->last_to[peer], t);
        if (prev != 0 && t - prev > atomic_load(&w->max_gap[peer])) {
            atomic_store(&w->max_gap[peer], t - prev);
        }
    }
    return w->tr.send(w->tr.user, peer, data, len);
}

/* ---- the cluster ------------------------------------------------------- */

struct cluster {
    craft_hub *hub;
    craft_mem_storage *ms[N];
    craft_node *node[N];
    struct counter fsm[N];
    struct wrap w[N];
    int leader;
};

/* fast: the defaults; !fast: the baseline, every fast path off. */
static void cluster_start(struct cluster *c, int fast)
{
    uint64_t ids[N] = {1, 2, 3};
    memset(c, 0, sizeof(*c));
    CHECK(craft_hub_create(NULL, &c->hub));
    for (int k = 0; k < N; k++) {
        craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
        craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
        craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
        craft_node_options o = CRAFT_NODE_OPTIONS_INIT;
        struct wrap *w = &c->w[k];
        w->k = k;
        craft_storage_ops_init(&w->st);
        craft_transport_ops_init(&w->tr);
        CHECK(craft_mem_storage_create(NULL, &c->ms[k]));
        CHECK(craft_mem_storage_ops(c->ms[k], &w->st));
        CHECK(craft_hub_transport(c->hub, ids[k], &w->tr));
        st.user = w;
        st.load = w_load;
        st.save_hard_state = w_hs;
        st.append = w_append;
        st.truncate = w_truncate;
        st.sync = w_sync;
        st.snapshot_write = w_snap_write;
        st.snapshot_read = w_snap_read;
        tr.user = w;
        tr.send = w_send;
        c->fsm[k].k = k;
        fsm.user = &c->fsm[k];
        fsm.apply = counter_apply;
        fsm.snapshot = counter_snapshot;
        fsm.restore = counter_restore;
        o.id = ids[k];
        o.storage = &st;
        o.transport = &tr;
        o.fsm = &fsm;
        o.request_timeout_ms = 30000;
        if (!fast) {
            o.inline_rounds = 0;
            o.spin_us = 0;
        }
        CHECK(craft_node_create(&o, &c->node[k]));
        CHECK(craft_node_bootstrap(c->node[k], ids, N));
        CHECK(craft_hub_attach(c->hub, ids[k], c->node[k]));
        CHECK(craft_node_start(c->node[k]));
    }
}

static int cluster_leader(struct cluster *c)
{
    c->leader = bench_leader(c->node, N, 2000);
    return c->leader;
}

static void cluster_free(struct cluster *c)
{
    for (int k = 0; k < N; k++) {
        craft_hub_detach(c->hub, (uint64_t)k + 1);
        craft_node_free(c->node[k]);
    }
    for (int k = 0; k < N; k++) {
        craft_mem_storage_free(c->ms[k]);
    }
    craft_hub_free(c->hub);
}

static uint64_t metric_sum(struct cluster *c, int id)
{
    uint64_t s = 0;
    for (int k = 0; k < N; k++) {
        uint64_t v = 0;
        craft_node_metric(c->node[k], id, &v);
        s += v;
    }
    return s;
}

/* ---- results ----------------------------------------------------------- */

struct result {
    double rate;
    double p50;
    double p99;
    uint64_t failed;
    double cpu_us;  /* process CPU time per op (us): the cost, whatever
                       else the machine runs */
    double csw;     /* context switches per op */
};

/* CPU time (s) and context switches of the whole process so far. */
static void usage_now(double *cpu, double *csw)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    *csw = (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
}

/* ---- clients as OS threads in propose_wait ------------------------------ */

struct tclient {
    pthread_t th;
    craft_node *leader;
    atomic_int *stop;
    int64_t t_from, t_to; /* samples of calls started in the window */
    int64_t *lat;
    size_t nlat, cap;
    uint64_t done, failed;
    uint64_t seq;
};

static void *tclient_main(void *arg)
{
    struct tclient *t = arg;
    unsigned char payload[PAYLOAD];
    memset(payload, 0x5a, sizeof(payload));
    while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
        memcpy(payload, &t->seq, 8);
        int64_t t0 = now_ns();
        int rv = craft_node_propose_wait(t->leader, payload, PAYLOAD, 0, NULL);
        int64_t t1 = now_ns();
        t->seq++;
        if (rv != CRAFT_OK) {
            t->failed++;
            continue;
        }
        if (t0 >= t->t_from && t0 < t->t_to) {
            t->done++;
            if (t->nlat < t->cap) {
                t->lat[t->nlat++] = t1 - t0;
            }
        }
    }
    return NULL;
}

static int64_t *all_lat;

static struct result run_threads(struct cluster *c, int nthreads,
                                 double seconds)
{
    struct tclient *ts = calloc((size_t)nthreads, sizeof(*ts));
    atomic_int stop = 0;
    int64_t warm = 300000000; /* 0.3 s */
    int64_t t0 = now_ns();
    size_t cap = MAX_SAMPLES / (size_t)nthreads;
    for (int k = 0; k < nthreads; k++) {
        ts[k].leader = c->node[c->leader];
        ts[k].stop = &stop;
        ts[k].t_from = t0 + warm;
        ts[k].t_to = t0 + warm + (int64_t)(seconds * 1e9);
        ts[k].lat = all_lat + (size_t)k * cap;
        ts[k].cap = cap;
        ts[k].seq = (uint64_t)k << 40;
        if (pthread_create(&ts[k].th, NULL, tclient_main, &ts[k]) != 0) {
            fprintf(stderr, "bench_node: pthread_create failed\n");
            exit(1);
        }
    }
    double cpu0, csw0, cpu1, csw1;
    usleep((useconds_t)(warm / 1000));
    usage_now(&cpu0, &csw0);
    usleep((useconds_t)(seconds * 1e6));
    usage_now(&cpu1, &csw1);
    atomic_store(&stop, 1);
    struct result r;
    memset(&r, 0, sizeof(r));
    size_t n = 0;
    uint64_t done = 0;
    for (int k = 0; k < nthreads; k++) {
        pthread_join(ts[k].th, NULL);
        memmove(all_lat + n, ts[k].lat, ts[k].nlat * sizeof(int64_t));
        n += ts[k].nlat;
        done += ts[k].done;
        r.failed += ts[k].failed;
    }
    r.rate = (double)done / seconds;
    if (done > 0) {
        r.cpu_us = (cpu1 - cpu0) * 1e6 / (double)done;
        r.csw = (csw1 - csw0) / (double)done;
    }
    qsort(all_lat, n, sizeof(int64_t), cmp64);
    r.p50 = pct(all_lat, n, 0.50);
    r.p99 = pct(all_lat, n, 0.99);
    free(ts);
    return r;
}

/* ---- clients as chains of async callbacks ------------------------------- */

struct arun {
    craft_node *leader;
    atomic_int stop;
    atomic_long outstanding;
    int64_t t_from, t_to;
    uint64_t done, failed;  /* apply thread of the leader only */
    size_t nlat;
};

struct achain {
    struct arun *run;
    int64_t start;
    uint64_t seq;
    unsigned char payload[PAYLOAD];
};

static void on_done(void *ctx, const craft_result *res);

static void issue(struct achain *p)
{
    struct arun *r = p->run;
    memcpy(p->payload, &p->seq, 8);
    p->seq++;
    p->start = now_ns();
    int rv = craft_node_propose(r->leader, p->payload, PAYLOAD, 0, on_done, p);
    if (rv != CRAFT_OK) {
        r->failed++;
        atomic_fetch_sub(&r->outstanding, 1);
    }
}

static void on_done(void *ctx, const craft_result *res)
{
    struct achain *p = ctx;
    struct arun *r = p->run;
    int64_t t = now_ns();
    if (craft_result_status(res) == CRAFT_OK) {
        if (p->start >= r->t_from && p->start < r->t_to) {
            r->done++;
            if (r->nlat < MAX_SAMPLES) {
                all_lat[r->nlat++] = t - p->start;
            }
        }
    } else {
        r->failed++;
    }
    if (!atomic_load(&r->stop)) {
        issue(p); /* closed loop: the next request of this chain */
    } else {
        atomic_fetch_sub(&r->outstanding, 1);
    }
}

static struct result run_async(struct cluster *c, int conc, double seconds)
{
    struct arun r;
    struct achain *ps = calloc((size_t)conc, sizeof(*ps));
    memset(&r, 0, sizeof(r));
    r.leader = c->node[c->leader];
    int64_t warm = 300000000;
    int64_t t0 = now_ns();
    r.t_from = t0 + warm;
    r.t_to = t0 + warm + (int64_t)(seconds * 1e9);
    atomic_store(&r.outstanding, conc);
    for (int k = 0; k < conc; k++) {
        ps[k].run = &r;
        ps[k].seq = (uint64_t)k << 40;
        memset(ps[k].payload, 0x5a, PAYLOAD);
        issue(&ps[k]);
    }
    double cpu0, csw0, cpu1, csw1;
    usleep((useconds_t)(warm / 1000));
    usage_now(&cpu0, &csw0);
    usleep((useconds_t)(seconds * 1e6));
    usage_now(&cpu1, &csw1);
    atomic_store(&r.stop, 1);
    while (atomic_load(&r.outstanding) > 0) {
        usleep(1000);
    }
    struct result res;
    memset(&res, 0, sizeof(res));
    res.rate = (double)r.done / seconds;
    if (r.done > 0) {
        res.cpu_us = (cpu1 - cpu0) * 1e6 / (double)r.done;
        res.csw = (csw1 - csw0) / (double)r.done;
    }
    qsort(all_lat, r.nlat, sizeof(int64_t), cmp64);
    res.p50 = pct(all_lat, r.nlat, 0.50);
    res.p99 = pct(all_lat, r.nlat, 0.99);
    res.failed = r.failed;
    free(ps);
    return res;
}

/* ---- hops ----------------------------------------------------------------- */

#define HOPS 6
static const char *const hop_names[HOPS] = {
    "call -> leader sends", "leader sends -> follower appends",
    "follower appends -> follower answers",
    "follower answers -> leader applies", "leader applies -> caller returns",
    "total"};

static void run_hops(struct cluster *c, double seconds, double med[HOPS])
{
    size_t cap = 1u << 20, n = 0;
    int64_t *d = malloc(cap * HOPS * sizeof(int64_t));
    unsigned char payload[PAYLOAD];
    memset(payload, 0x5a, sizeof(payload));
    craft_node *leader = c->node[c->leader];
    atomic_store(&hop.leader, c->leader);
    uint64_t seq = (uint64_t)1 << 62;
    int64_t end = now_ns() + (int64_t)(seconds * 1e9);
    while (now_ns() < end && n < cap) {
        seq++;
        atomic_store(&hop.seq, seq);
        atomic_store(&hop.l_send, 0);
        atomic_store(&hop.f_append, 0);
        atomic_store(&hop.f_send, 0);
        atomic_store(&hop.l_apply, 0);
        atomic_store(&hop.f_node, -1);
        atomic_store(&hop.call, 0);
        atomic_store(&hop.on, 1);
        memcpy(payload, &seq, 8);
        int64_t t0 = now_ns();
        atomic_store(&hop.call, t0);
        int rv = craft_node_propose_wait(leader, payload, PAYLOAD, 0, NULL);
        int64_t t5 = now_ns();
        atomic_store(&hop.on, 0);
        int64_t t1 = hop.l_send, t2 = hop.f_append, t3 = hop.f_send,
                t4 = hop.l_apply;
        if (rv != CRAFT_OK || t1 == 0 || t2 == 0 || t3 == 0 || t4 == 0 ||
            !(t0 <= t1 && t1 <= t2 && t2 <= t3 && t3 <= t4 && t4 <= t5)) {
            continue; /* a heartbeat got in the way; skip the sample */
        }
        int64_t *row = d + n * HOPS;
        row[0] = t1 - t0;
        row[1] = t2 - t1;
        row[2] = t3 - t2;
        row[3] = t4 - t3;
        row[4] = t5 - t4;
        row[5] = t5 - t0;
        n++;
    }
    int64_t *col = malloc((n ? n : 1) * sizeof(int64_t));
    for (int h = 0; h < HOPS; h++) {
        for (size_t k = 0; k < n; k++) {
            col[k] = d[k * HOPS + (size_t)h];
        }
        qsort(col, n, sizeof(int64_t), cmp64);
        med[h] = pct(col, n, 0.5);
    }
    free(col);
    free(d);
}

/* ---- idle CPU ------------------------------------------------------------- */

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double run_idle(double seconds)
{
    usleep(300000); /* let the last run's work settle */
    double c0 = cpu_s();
    int64_t t0 = now_ns();
    usleep((useconds_t)(seconds * 1e6));
    double c1 = cpu_s();
    int64_t t1 = now_ns();
    return 100.0 * (c1 - c0) / ((double)(t1 - t0) / 1e9);
}

/* ---- the report ------------------------------------------------------------ */

#define MODES 2 /* 0: fast paths (defaults), 1: baseline */

struct row {
    const char *name;
    const char *goal;
    int threads; /* 1: OS threads, 0: async */
    int clients;
    struct result r[MODES];
    int ran;
};

static struct row rows[] = {
    {.name = "1 client, threads (propose_wait)",
     .goal = ">= 150k, p99 <= 30", .threads = 1, .clients = 1},
    {.name = "64 threads", .goal = "", .threads = 1, .clients = 64},
    {.name = "256 threads", .goal = ">= 500k, p99 <= 2000", .threads = 1,
     .clients = 256},
    {.name = "1 client, async callbacks", .goal = ">= 150k, p99 <= 30",
     .threads = 0, .clients = 1},
    {.name = "64 async", .goal = "", .threads = 0, .clients = 64},
    {.name = "256 async", .goal = ">= 1.7M, p99 <= 300", .threads = 0,
     .clients = 256},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void fmt_rate(char *buf, size_t cap, double r)
{
    if (r >= 1e6) {
        snprintf(buf, cap, "%.2fM", r / 1e6);
    } else {
        snprintf(buf, cap, "%.1fk", r / 1e3);
    }
}

static void print_cell(const struct result *r)
{
    char rate[32];
    fmt_rate(rate, sizeof(rate), r->rate);
    printf(" %8s %7.1f %8.1f %5.1f %4.2f |", rate, r->p50, r->p99, r->cpu_us,
           r->csw);
}

/* ---- the wake-up ceiling ----------------------------------------------- */

#define WAKE_THREADS 256

static struct {
    sem_t mine[WAKE_THREADS], req;
    pthread_mutex_t mu;
    int q[2 * WAKE_THREADS]; /* at most one request per client queued */
    unsigned qh, qt;
    atomic_int stop;
    _Atomic uint64_t ops;
} wk;

static void *wake_client(void *arg)
{
    int i = (int)(intptr_t)arg;
    while (!atomic_load(&wk.stop)) {
        pthread_mutex_lock(&wk.mu);
        wk.q[wk.qt++ % (2 * WAKE_THREADS)] = i;
        pthread_mutex_unlock(&wk.mu);
        sem_post(&wk.req);
        while (sem_wait(&wk.mine[i]) != 0) {
        }
        atomic_fetch_add_explicit(&wk.ops, 1, memory_order_relaxed);
    }
    return NULL;
}

static void *wake_server(void *arg)
{
    (void)arg;
    for (;;) {
        while (sem_wait(&wk.req) != 0) {
        }
        if (atomic_load(&wk.stop)) {
            return NULL;
        }
        pthread_mutex_lock(&wk.mu);
        int i = wk.q[wk.qh++ % (2 * WAKE_THREADS)];
        pthread_mutex_unlock(&wk.mu);
        sem_post(&wk.mine[i]);
    }
}

/* Ops/s of WAKE_THREADS blocked clients woken one per op (0 on failure). */
static double run_wake_ceiling(double seconds)
{
    pthread_t srv, cl[WAKE_THREADS];
    int started = 0;
    double rate = 0;
    memset(&wk, 0, sizeof(wk));
    pthread_mutex_init(&wk.mu, NULL);
    sem_init(&wk.req, 0, 0);
    for (int i = 0; i < WAKE_THREADS; i++) {
        sem_init(&wk.mine[i], 0, 0);
    }
    if (pthread_create(&srv, NULL, wake_server, NULL) != 0) {
        goto out;
    }
    for (; started < WAKE_THREADS; started++) {
        if (pthread_create(&cl[started], NULL, wake_client,
                           (void *)(intptr_t)started) != 0) {
            break;
        }
    }
    if (started == WAKE_THREADS) {
        usleep((useconds_t)(seconds / 4 * 1e6)); /* warm up */
        uint64_t o0 = atomic_load(&wk.ops);
        int64_t t0 = now_ns();
        usleep((useconds_t)(seconds * 1e6));
        uint64_t o1 = atomic_load(&wk.ops);
        rate = (double)(o1 - o0) * 1e9 / (double)(now_ns() - t0);
    }
    atomic_store(&wk.stop, 1);
    sem_post(&wk.req);
    pthread_join(srv, NULL);
    for (int i = 0; i < started; i++) {
        sem_post(&wk.mine[i]); /* a client blocked or about to block */
    }
    for (int i = 0; i < started; i++) {
        pthread_join(cl[i], NULL);
    }
out:
    for (int i = 0; i < WAKE_THREADS; i++) {
        sem_destroy(&wk.mine[i]);
    }
    sem_destroy(&wk.req);
    pthread_mutex_destroy(&wk.mu);
    return rate;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    double idle_s = argc > 2 ? atof(argv[2]) : 10.0;
    const char *what = argc > 3 ? argv[3] : "tahiw";
    int only = argc > 4 ? atoi(argv[4]) : 0; /* one client count */
    int modes = argc > 5 ? atoi(argv[5]) : MODES; /* 1: no baseline */
    if (seconds <= 0) {
        seconds = 2.0;
    }
    if (idle_s <= 0) {
        idle_s = 10.0;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 0) {
        load[0] = -1;
    }
    all_lat = malloc(MAX_SAMPLES * sizeof(int64_t));
    printf("bench_node: 3 nodes in one process (craft_mem_storage + "
           "craft_hub), %d-byte commands, each client waits for its commit; "
           "%ld CPUs, load average %.2f; %.1f s per run\n",
           PAYLOAD, cpus, load[0], seconds);

    double hops[MODES][HOPS];
    double idle[MODES] = {0, 0};
    uint64_t elections[MODES] = {0, 0}, changes[MODES] = {0, 0};
    double gap_ms[MODES] = {0, 0};
    memset(hops, 0, sizeof(hops));

    for (int m = 0; m < modes && m < MODES; m++) {
        struct cluster c;
        cluster_start(&c, m == 0);
        cluster_leader(&c);
        uint64_t e0 = metric_sum(&c, CRAFT_METRIC_ELECTIONS);
        uint64_t l0 = metric_sum(&c, CRAFT_METRIC_LEADER_CHANGES);
        atomic_store(&gaps_on, 1);
        for (size_t k = 0; k < NROWS; k++) {
            struct row *rw = &rows[k];
            if (strchr(what, rw->threads ? 't' : 'a') == NULL ||
                (only != 0 && rw->clients != only)) {
                continue;
            }
            if (craft_node_role(c.node[c.leader]) != CRAFT_ROLE_LEADER) {
                printf("  (the leader changed: node %d now)\n",
                       cluster_leader(&c) + 1);
            }
            rw->r[m] = rw->threads ? run_threads(&c, rw->clients, seconds)
                                   : run_async(&c, rw->clients, seconds);
            rw->ran = 1;
            if (rw->r[m].failed > 0) {
                printf("  (%s, %s: %llu proposals failed)\n", rw->name,
                       m == 0 ? "fast" : "baseline",
                       (unsigned long long)rw->r[m].failed);
            }
        }
        atomic_store(&gaps_on, 0);
        for (int p = 0; p < N; p++) {
            if (p == c.leader) {
                continue;
            }
            double g = (double)atomic_load(&c.w[c.leader].max_gap[p + 1]) /
                       1e6;
            if (g > gap_ms[m]) {
                gap_ms[m] = g;
            }
        }
        elections[m] = metric_sum(&c, CRAFT_METRIC_ELECTIONS) - e0;
        changes[m] = metric_sum(&c, CRAFT_METRIC_LEADER_CHANGES) - l0;
        if (strchr(what, 'h') != NULL) {
            run_hops(&c, seconds, hops[m]);
        }
        if (strchr(what, 'i') != NULL) {
            idle[m] = run_idle(idle_s);
        }
        cluster_free(&c);
    }

    printf("\n%-34s %-22s | %-37s | %-37s | %s\n", "clients",
           "goal: ops/s, us", "this run: ops/s  p50  p99  cpu csw",
           "baseline: ops/s  p50  p99  cpu csw", "ratio");
    for (size_t k = 0; k < NROWS; k++) {
        struct row *rw = &rows[k];
        if (!rw->ran) {
            continue;
        }
        printf("%-34s %-22s |", rw->name, rw->goal);
        print_cell(&rw->r[0]);
        print_cell(&rw->r[1]);
        printf(" %5.2fx\n",
               rw->r[1].rate > 0 ? rw->r[0].rate / rw->r[1].rate : 0.0);
    }
    if (strchr(what, 'h') != NULL) {
        printf("\nhops of one proposal at 1 client (propose_wait), median us:"
               "\n");
        for (int h = 0; h < HOPS; h++) {
            printf("  %-38s %8.1f   baseline %8.1f\n", hop_names[h],
                   hops[0][h], hops[1][h]);
        }
    }
    if (strchr(what, 'i') != NULL) {
        printf("\nidle CPU of the 3-node cluster over %.0f s: %.2f %% of a "
               "core (goal < 1 %%), baseline %.2f %%\n",
               idle_s, idle[0], idle[1]);
    }
    if (strchr(what, 'w') != NULL) {
        double ceil = run_wake_ceiling(seconds);
        printf("\nwake-up ceiling: %d OS threads, each blocked until one "
               "server thread posts it (no Raft): %.1fk ops/s",
               WAKE_THREADS, ceil / 1e3);
        for (size_t k = 0; k < NROWS; k++) {
            if (rows[k].ran && rows[k].threads &&
                rows[k].clients == WAKE_THREADS && ceil > 0) {
                printf("; %s reach %.2fx of it", rows[k].name,
                       rows[k].r[0].rate / ceil);
            }
        }
        printf("\n");
    }
    printf("timing under load: %llu elections, %llu leader changes "
           "(baseline %llu, %llu); longest gap between two messages from "
           "the leader to a follower %.1f ms (baseline %.1f ms; heartbeat "
           "every tick of 10 ms, election timeout 100-200 ms)\n",
           (unsigned long long)elections[0], (unsigned long long)changes[0],
           (unsigned long long)elections[1], (unsigned long long)changes[1],
           gap_ms[0], gap_ms[1]);
    free(all_lat);
    return 0;
}
