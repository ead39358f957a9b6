/*
 * tests/bench/bench_node.c: the node runtime benchmark (`make bench`,
 * `make bench-node`). A program, not a timed test.
 *
 * A 3-node cluster in one process (craft_hub + craft_mem_storage, the
 * test helpers of craft/testing.h), 16-byte proposals to the leader:
 *
 *  1. closed loop with 1, 16 and 256 concurrent proposers: each proposer
 *     proposes again from its completion callback (so a "proposer" is an
 *     outstanding request, not an OS thread); commits/s and p50/p99
 *     commit latency (propose call -> completion callback, which runs
 *     after the entry is committed and applied on the leader);
 *  2. open loop (proposals issued at a fixed rate from one thread) at half
 *     the 256-proposer rate, and at 500,000/s (half the target): p50/p99
 *     latency;
 *  3. the pure engine on its own: 3 engines in one thread, messages
 *     delivered synchronously, events stepped per second.
 *
 * Targets: >= 1,000,000 commits/s at 256 proposers; p99 <= 1 ms
 * at half that load. The figures depend on the machine: the program
 * prints the CPU count next to them.
 *
 * Usage: bench_node [seconds per run, default 2]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "craft.h"
#include "craft/testing.h"

#define PAYLOAD 16
#define MAX_SAMPLES (16u * 1024u * 1024u)

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int rv)
{
    fprintf(stderr, "bench_node: %s: %s\n", what, craft_strerror(rv));
    exit(1);
}

#define CHECK(call)                                                           \
    do {                                                                      \
        int rv_ = (call);                                                     \
        if (rv_ != CRAFT_OK) {                                                \
            die(#call, rv_);                                                  \
        }                                                                     \
    } while (0)

/* ---- the state machine: a counter -------------------------------------- */

struct counter {
    uint64_t applied;
    unsigned char result[8];
};

static int counter_apply(void *user, uint64_t index, uint64_t term,
                         const void *data, size_t len, const void **result,
                         size_t *result_len)
{
    struct counter *c = user;
    (void)index;
    (void)term;
    (void)data;
    (void)len;
    c->applied++;
    memcpy(c->result, &c->applied, 8);
    *result = c->result;
    *result_len = 8;
    return CRAFT_OK;
}

static int counter_snapshot(void *user, uint64_t index, uint64_t term,
                            craft_snapshot_writer *w)
{
    struct counter *c = user;
    (void)index;
    (void)term;
    return craft_snapshot_writer_write(w, &c->applied, 8);
}

static int counter_restore(void *user, uint64_t index, uint64_t term,
                           craft_snapshot_reader *r)
{
    struct counter *c = user;
    size_t n = 0;
    (void)index;
    (void)term;
    return craft_snapshot_reader_read(r, &c->applied, 8, &n);
}

/* ---- the cluster ------------------------------------------------------- */

#define N 3

struct cluster {
    craft_hub *hub;
    craft_mem_storage *ms[N];
    craft_node *node[N];
    struct counter fsm[N];
};

static void cluster_start(struct cluster *c)
{
    uint64_t ids[N] = {1, 2, 3};
    memset(c, 0, sizeof(*c));
    CHECK(craft_hub_create(NULL, &c->hub));
    for (int k = 0; k < N; k++) {
        craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
        craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
        craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
        craft_node_options o = CRAFT_NODE_OPTIONS_INIT;
        CHECK(craft_mem_storage_create(NULL, &c->ms[k]));
        CHECK(craft_mem_storage_ops(c->ms[k], &st));
        CHECK(craft_hub_transport(c->hub, ids[k], &tr));
        fsm.user = &c->fsm[k];
        fsm.apply = counter_apply;
        fsm.snapshot = counter_snapshot;
        fsm.restore = counter_restore;
        o.id = ids[k];
        o.storage = &st;
        o.transport = &tr;
        o.fsm = &fsm;
        o.request_timeout_ms = 30000;
        CHECK(craft_node_create(&o, &c->node[k]));
        CHECK(craft_node_bootstrap(c->node[k], ids, N));
        CHECK(craft_hub_attach(c->hub, ids[k], c->node[k]));
        CHECK(craft_node_start(c->node[k]));
    }
}

static int cluster_leader(struct cluster *c)
{
    for (int tries = 0; tries < 2000; tries++) {
        for (int k = 0; k < N; k++) {
            if (craft_node_role(c->node[k]) == CRAFT_ROLE_LEADER) {
                int agree = 1;
                for (int j = 0; j < N; j++) {
                    if (craft_node_leader(c->node[j]) != (uint64_t)k + 1) {
                        agree = 0;
                    }
                }
                if (agree) {
                    return k;
                }
            }
        }
        usleep(5000);
    }
    fprintf(stderr, "bench_node: no leader\n");
    exit(1);
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

/* ---- load ------------------------------------------------------------ */

struct run {
    craft_node *leader;
    atomic_int stop;
    atomic_long outstanding;
    uint64_t done;      /* completions: apply thread of the leader only */
    uint64_t failed;
    int64_t *lat;       /* samples, ns */
    size_t nlat;
    int64_t t_from;     /* count completions issued after this */
    unsigned char payload[PAYLOAD];
};

struct proposer {
    struct run *run;
    int64_t start;
};

static void on_done(void *ctx, const craft_result *res);

static void issue(struct proposer *p)
{
    struct run *r = p->run;
    p->start = now_ns();
    int rv = craft_node_propose(r->leader, r->payload, PAYLOAD, 0, on_done, p);
    if (rv != CRAFT_OK) {
        atomic_fetch_sub(&r->outstanding, 1);
        r->failed++;
    }
}

static void on_done(void *ctx, const craft_result *res)
{
    struct proposer *p = ctx;
    struct run *r = p->run;
    int64_t t = now_ns();
    if (craft_result_status(res) == CRAFT_OK) {
        if (p->start >= r->t_from) {
            r->done++;
            if (r->nlat < MAX_SAMPLES) {
                r->lat[r->nlat++] = t - p->start;
            }
        }
    } else {
        r->failed++;
    }
    if (p->run != NULL && !atomic_load(&r->stop)) {
        issue(p); /* closed loop: the next request of this proposer */
    } else {
        atomic_fetch_sub(&r->outstanding, 1);
    }
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(int64_t *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    size_t k = (size_t)(p * (double)(n - 1));
    return (double)v[k] / 1000.0; /* us */
}

static void drain(struct run *r)
{
    atomic_store(&r->stop, 1);
    while (atomic_load(&r->outstanding) > 0) {
        usleep(1000);
    }
}

struct result {
    double rate;
    double p50;
    double p99;
};

static struct result closed_loop(struct cluster *c, int leader, int conc,
                                 double seconds)
{
    struct run r;
    struct proposer *ps = calloc((size_t)conc, sizeof(*ps));
    memset(&r, 0, sizeof(r));
    r.leader = c->node[leader];
    r.lat = malloc(MAX_SAMPLES * sizeof(*r.lat));
    int64_t warm = 200000000; /* 0.2 s */
    int64_t t0 = now_ns();
    r.t_from = t0 + warm;
    atomic_store(&r.outstanding, conc);
    for (int k = 0; k < conc; k++) {
        ps[k].run = &r;
        issue(&ps[k]);
    }
    usleep((useconds_t)(warm / 1000));
    uint64_t applied0 = craft_node_applied_index(r.leader);
    int64_t t1 = now_ns();
    usleep((useconds_t)(seconds * 1e6));
    int64_t t2 = now_ns();
    uint64_t applied1 = craft_node_applied_index(r.leader);
    drain(&r);
    struct result res;
    res.rate = (double)(applied1 - applied0) / ((double)(t2 - t1) / 1e9);
    qsort(r.lat, r.nlat, sizeof(*r.lat), cmp64);
    res.p50 = pct(r.lat, r.nlat, 0.50);
    res.p99 = pct(r.lat, r.nlat, 0.99);
    if (r.failed > 0) {
        printf("  (%llu proposals failed)\n", (unsigned long long)r.failed);
    }
    free(r.lat);
    free(ps);
    return res;
}

/* Open loop: proposals issued at a fixed rate from this thread. */
static void on_paced(void *ctx, const craft_result *res)
{
    struct proposer *p = ctx;
    struct run *r = p->run;
    if (craft_result_status(res) == CRAFT_OK) {
        if (p->start >= r->t_from && r->nlat < MAX_SAMPLES) {
            r->lat[r->nlat++] = now_ns() - p->start;
        }
        r->done++;
    } else {
        r->failed++;
    }
    free(p);
    atomic_fetch_sub(&r->outstanding, 1);
}

static struct result open_loop(struct cluster *c, int leader, double rate,
                               double seconds)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    r.leader = c->node[leader];
    r.lat = malloc(MAX_SAMPLES * sizeof(*r.lat));
    int64_t t0 = now_ns();
    r.t_from = t0 + 200000000;
    int64_t end = r.t_from + (int64_t)(seconds * 1e9);
    uint64_t issued = 0;
    for (;;) {
        int64_t t = now_ns();
        if (t >= end) {
            break;
        }
        uint64_t due = (uint64_t)((double)(t - t0) / 1e9 * rate);
        while (issued < due) {
            struct proposer *p = malloc(sizeof(*p));
            p->run = &r;
            p->start = now_ns();
            atomic_fetch_add(&r.outstanding, 1);
            if (craft_node_propose(r.leader, r.payload, PAYLOAD, 0, on_paced,
                                   p) != CRAFT_OK) {
                atomic_fetch_sub(&r.outstanding, 1);
                free(p);
                r.failed++;
            }
            issued++;
        }
        struct timespec ts = {0, 50000}; /* 50 us */
        nanosleep(&ts, NULL);
    }
    drain(&r);
    struct result res;
    res.rate = (double)issued / ((double)(end - t0) / 1e9);
    qsort(r.lat, r.nlat, sizeof(*r.lat), cmp64);
    res.p50 = pct(r.lat, r.nlat, 0.50);
    res.p99 = pct(r.lat, r.nlat, 0.99);
    free(r.lat);
    return res;
}

/* ---- the engine alone ---------------------------------------------------- */

struct emsg {
    int to;
    size_t len;
    unsigned char *b;
};

struct eq {
    struct emsg *v;
    size_t n, cap;
};

static void eq_push(struct eq *q, int to, const void *b, size_t len)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 1024;
        q->v = realloc(q->v, q->cap * sizeof(*q->v));
    }
    q->v[q->n].to = to;
    q->v[q->n].len = len;
    q->v[q->n].b = malloc(len);
    memcpy(q->v[q->n].b, b, len);
    q->n++;
}

static uint64_t esteps;

/* Carries out the actions of engine k like a synchronous host. */
static void eexec(craft_engine **e, craft_actions **a, int k, struct eq *q,
                  uint64_t *applied)
{
    size_t n = craft_actions_count(a[k]);
    uint64_t pidx = 0, pterm = 0;
    for (size_t i = 0; i < n; i++) {
        int t = craft_action_type(a[k], i);
        if (t == CRAFT_ACTION_SEND) {
            const void *b;
            size_t len;
            CHECK(craft_action_message(a[k], i, &b, &len));
            eq_push(q, (int)craft_action_peer(a[k], i) - 1, b, len);
        } else if (t == CRAFT_ACTION_APPEND) {
            size_t cnt = craft_action_count(a[k], i);
            pidx = craft_action_index(a[k], i) + cnt - 1;
            craft_action_entry(a[k], i, cnt - 1, &pterm, NULL, NULL, NULL);
        } else if (t == CRAFT_ACTION_APPLY) {
            applied[k] += craft_action_count(a[k], i);
        }
    }
    if (pidx != 0) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_PERSISTED;
        ev.index = pidx;
        ev.term = pterm;
        CHECK(craft_engine_step(e[k], &ev, a[k]));
        esteps++;
        eexec(e, a, k, q, applied);
    }
}

static void engine_bench(double seconds, size_t batch)
{
    craft_engine *e[N];
    craft_actions *a[N];
    uint64_t ids[N] = {1, 2, 3}, applied[N] = {0, 0, 0};
    struct eq q = {NULL, 0, 0};
    for (int k = 0; k < N; k++) {
        craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
        o.id = ids[k];
        o.snapshot_entries = 0;
        o.snapshot_bytes = 0;
        CHECK(craft_engine_create(&o, &e[k]));
        CHECK(craft_actions_create(NULL, &a[k]));
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_BOOTSTRAP;
        ev.ids = ids;
        ev.nids = N;
        CHECK(craft_engine_step(e[k], &ev, a[k]));
        eexec(e, a, k, &q, applied);
    }
    /* Elect server 1: tick it alone until it leads. */
    while (craft_engine_role(e[0]) != CRAFT_ROLE_LEADER) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_TICK;
        CHECK(craft_engine_step(e[0], &ev, a[0]));
        eexec(e, a, 0, &q, applied);
        for (size_t m = 0; m < q.n; m++) {
            craft_event mv = CRAFT_EVENT_INIT;
            mv.type = CRAFT_EVENT_MESSAGE;
            mv.data = q.v[m].b;
            mv.len = q.v[m].len;
            if (craft_engine_step(e[q.v[m].to], &mv, a[q.v[m].to]) ==
                CRAFT_OK) {
                eexec(e, a, q.v[m].to, &q, applied);
            }
            free(q.v[m].b);
        }
        q.n = 0;
    }
    unsigned char payload[PAYLOAD] = {0};
    craft_buf bufs[256];
    for (int k = 0; k < 256; k++) {
        bufs[k].base = payload;
        bufs[k].len = PAYLOAD;
    }
    esteps = 0;
    uint64_t a0 = applied[0];
    int64_t t0 = now_ns(), t1;
    do {
        for (int r = 0; r < 64; r++) {
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_PROPOSE;
            ev.bufs = bufs;
            ev.nbufs = batch;
            CHECK(craft_engine_step(e[0], &ev, a[0]));
            esteps++;
            eexec(e, a, 0, &q, applied);
            /* deliver (a queue, so replies are handled as they come) */
            for (size_t m = 0; m < q.n; m++) {
                craft_event mv = CRAFT_EVENT_INIT;
                mv.type = CRAFT_EVENT_MESSAGE;
                mv.data = q.v[m].b;
                mv.len = q.v[m].len;
                if (craft_engine_step(e[q.v[m].to], &mv, a[q.v[m].to]) ==
                    CRAFT_OK) {
                    esteps++;
                    eexec(e, a, q.v[m].to, &q, applied);
                }
                free(q.v[m].b);
            }
            q.n = 0;
        }
        t1 = now_ns();
    } while (t1 - t0 < (int64_t)(seconds * 1e9));
    double secs = (double)(t1 - t0) / 1e9;
    printf("engine alone, proposals in batches of %3zu: %10.0f events/s, "
           "%10.0f entries committed/s\n",
           batch, (double)esteps / secs, (double)(applied[0] - a0) / secs);
    for (int k = 0; k < N; k++) {
        craft_actions_free(a[k]);
        craft_engine_free(e[k]);
    }
    free(q.v);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0) {
        seconds = 2.0;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_node: 3-node cluster in one process (craft_hub + "
           "craft_mem_storage), %d-byte proposals, %ld CPUs, %.1f s per "
           "run\n",
           PAYLOAD, cpus, seconds);

    struct cluster c;
    cluster_start(&c);
    int leader = cluster_leader(&c);
    const int concs[] = {1, 16, 256};
    double best = 0;
    printf("%-12s %14s %10s %10s\n", "proposers", "commits/s", "p50 us",
           "p99 us");
    for (size_t k = 0; k < sizeof(concs) / sizeof(concs[0]); k++) {
        struct result r = closed_loop(&c, leader, concs[k], seconds);
        printf("%-12d %14.0f %10.1f %10.1f\n", concs[k], r.rate, r.p50,
               r.p99);
        fflush(stdout);
        if (concs[k] == 256) {
            best = r.rate;
        }
    }
    struct result h = open_loop(&c, leader, best / 2, seconds);
    printf("%-12s %14.0f %10.1f %10.1f   (open loop, half the 256 rate)\n",
           "paced", h.rate, h.p50, h.p99);
    h = open_loop(&c, leader, 500000, seconds);
    printf("%-12s %14.0f %10.1f %10.1f   (open loop, half the target)\n",
           "paced", h.rate, h.p50, h.p99);
    uint64_t v = 0;
    craft_node_metric(c.node[leader], CRAFT_METRIC_SYNCS, &v);
    uint64_t w = 0;
    craft_node_metric(c.node[leader], CRAFT_METRIC_ENTRIES_WRITTEN, &w);
    printf("leader: %llu entries written in %llu syncs (%.1f per sync)\n",
           (unsigned long long)w, (unsigned long long)v,
           v ? (double)w / (double)v : 0.0);
    craft_node_metric(c.node[leader], CRAFT_METRIC_SNAPSHOTS_TAKEN, &v);
    printf("leader: %llu snapshots taken (engine policy: every 8192 "
           "entries)\n",
           (unsigned long long)v);
    if (craft_node_role(c.node[leader]) != CRAFT_ROLE_LEADER) {
        printf("note: the leader changed during the run\n");
    }
    cluster_free(&c);
    printf("the engine on its own (3 engines in one thread, messages "
           "delivered at once):\n");
    engine_bench(seconds, 1);
    engine_bench(seconds, 16);
    engine_bench(seconds, 256);
    printf("targets: >= 1000000 commits/s at 256 proposers; p99 <= 1000 us "
           "at half that load\n");
    return 0;
}
