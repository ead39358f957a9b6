/*
 * bench_engine: throughput of the pure engine, the figure craft is judged
 * by. Three engines in one thread on the reference host (src/host/host.h:
 * the same host the unit tests and the demo use), over the public API:
 * an in-memory network of wire bytes and synchronous in-memory storage,
 * 64-byte entries (the setup of the usual "bar to beat", canonical raft
 * in C with in-memory structs: 1.29M commits/s with one proposal per
 * round, 4.4M commits/s in batches of 256).
 *
 * Workloads:
 *  (a) one proposal per round: propose one entry on the leader, deliver
 *      every message (and those they cause) until the network is quiet;
 *  (b) one batch of 256 proposals per PROPOSE event per round, likewise;
 *  (c) pipelined: batches of 256 are proposed while earlier ones are still
 *      in flight: each iteration tops the leader up to PIPE_WINDOW batches
 *      proposed but not applied, then delivers one "hop" (the messages
 *      queued when the hop began; those they cause wait for the next).
 * A commit is an entry the leader applied. Events are engine steps on all
 * three nodes (messages, proposals, PERSISTED, ...). The host reports its
 * writes durable with the next event it steps on a node
 * (CRAFT_EVENT_F_PERSISTED, host knob coalesce_persist), as a host that
 * coalesces durability reports does: a round of one proposal is then five
 * steps (the proposal, an append at each follower, their two answers)
 * instead of eight.
 *
 * Baselines, measured in the same run so results read as ratios on a
 * noisy machine:
 *  - fifo: 64-byte records memcpy'd into and out of a plain ring;
 *  - tick: craft_engine_step() of TICK events on an engine with no
 *    membership (the fixed cost of a step).
 *
 * The host runs lean here: no journal, no cross-checks, a state machine
 * that counts bytes (so a snapshot is instant), and the durable log
 * compacted at each snapshot (the engine asks for one through its default
 * policy). Once warm it allocates nothing per message or entry: message
 * and entry buffers are reused.
 *
 * Usage: bench_engine [seconds-per-run [runs [what]]]
 * Defaults: 2 s, 3 runs (the median is reported), what "ftabc" (the
 * baselines f and t, the workloads a, b and c); e.g. `bench_engine 0.5 1 b`
 * runs (b) alone, for a profiler.
 * Timing: clock_gettime(CLOCK_MONOTONIC); the c/cpu-s column divides by
 * CLOCK_PROCESS_CPUTIME_ID instead (one thread: CPU seconds of the run).
 */
#include <craft.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/host.h"

#define NODES 3
#define ENTRY 64
#define BATCH 256
#define PIPE_WINDOW 32               /* batches outstanding in (c) */
#define MAX_RUNS 15
#define STR(x) #x
#define XSTR(x) STR(x)

static void fail(const char *what, int rv)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what,
            rv != 0 ? craft_strerror(rv) : "failed");
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this (single-threaded) process: on a machine shared with
 * other jobs, rates per CPU second leave out the time it waited for a
 * core. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the cluster -------------------------------------------------------- */

/* The state machine: it reads every payload; its state is the count. */
static uint64_t apply_bytes;

static void sm_apply(void *user, struct host_node *nd, uint64_t index,
                     uint64_t term, uint32_t type, const void *data,
                     size_t len)
{
    (void)user;
    (void)nd;
    (void)index;
    (void)term;
    (void)type;
    (void)data;
    apply_bytes += len;
}

static void sm_save(void *user, struct host_node *nd, struct host_bytes *out)
{
    (void)user;
    host_bytes_set(nd->host, out, &nd->applied, sizeof(nd->applied));
}

static void sm_restore(void *user, struct host_node *nd, const void *data,
                       size_t len)
{
    (void)user;
    (void)nd;
    (void)data;
    (void)len;
}

static const struct host_sm counter = {sm_apply, sm_save, sm_restore, NULL};

static struct host cl;

static uint64_t steps(void)
{
    uint64_t n = 0;
    for (int i = 0; i < cl.n; i++) {
        n += cl.nodes[i].steps;
    }
    return n;
}

static void cluster_up(void)
{
    host_setup(&cl, NODES, 42);
    cl.record = 0;
    cl.check = 0;
    cl.compact = 1;
    cl.coalesce_persist = 1;
    cl.sm = &counter;
    host_start(&cl, NODES);
}

/* Ticks until a leader exists and has applied its no-op. */
static struct host_node *elect(void)
{
    for (int t = 0; t < 1000; t++) {
        host_tick_all(&cl);
        host_deliver_all(&cl);
        for (int i = 0; i < NODES; i++) {
            struct host_node *nd = &cl.nodes[i];
            if (craft_engine_role(nd->e) == CRAFT_ROLE_LEADER &&
                nd->applied == craft_engine_last_index(nd->e)) {
                return nd;
            }
        }
    }
    fail("no leader elected", 0);
    return NULL;
}

static uint8_t payload[BATCH][ENTRY];
static craft_buf bufs[BATCH];

/* ---- workloads --------------------------------------------------------- */

enum { W_ONE, W_BATCH, W_PIPE, W_COUNT };

static const char *const wname[W_COUNT] = {
    "(a) 1 proposal per round",
    "(b) 256 per PROPOSE, 1 batch per round",
    "(c) pipelined, 256 per PROPOSE, " XSTR(PIPE_WINDOW) " out",
};
/* Canonical raft (C, in-memory structs, no encoding), as its project
 * reports it. */
static const double bar[W_COUNT] = {1.29e6, 4.4e6, 4.4e6};

struct result {
    double commits_s, events_s, commits_cpu_s;
};

static struct result run(int w, double seconds)
{
    cluster_up();
    struct host_node *l = elect();
    uint64_t a0 = l->applied, s0 = steps(), proposed = l->applied;
    double c0 = cpu_now();
    double t0 = now(), t = t0;
    for (uint64_t it = 1;; it++) {
        switch (w) {
        case W_ONE:
            host_propose_batch(&cl, l, 0, bufs, 1);
            host_deliver_all(&cl);
            break;
        case W_BATCH:
            host_propose_batch(&cl, l, 0, bufs, BATCH);
            host_deliver_all(&cl);
            break;
        default:
            while (proposed - l->applied < (uint64_t)PIPE_WINDOW * BATCH) {
                host_propose_batch(&cl, l, 0, bufs, BATCH);
                proposed += BATCH;
            }
            host_deliver(&cl, cl.nq - cl.qhead); /* one hop */
            break;
        }
        if ((it & 63) == 0 && (t = now()) - t0 >= seconds) {
            break;
        }
    }
    double c1 = cpu_now();
    struct result r;
    r.commits_s = (double)(l->applied - a0) / (t - t0);
    r.commits_cpu_s = (double)(l->applied - a0) / (c1 - c0);
    r.events_s = (double)(steps() - s0) / (t - t0);
    if (craft_engine_role(l->e) != CRAFT_ROLE_LEADER) {
        fail("the leader lost its leadership during the run", 0);
    }
    host_deliver_all(&cl);
    host_free(&cl);
    return r;
}

/* Baseline 1: 64-byte records through a plain ring, memcpy in and out. */
static double baseline_fifo(double seconds)
{
    static uint8_t ring[4096][ENTRY];
    uint8_t out[ENTRY];
    uint64_t n = 0, sum = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 4096; k++) {
            payload[0][0] = (uint8_t)k;
            memcpy(ring[k], payload[0], ENTRY);
        }
        for (int k = 0; k < 4096; k++) {
            memcpy(out, ring[k], ENTRY);
            sum += out[0] + out[ENTRY - 1];
        }
        n += 4096;
    } while ((t = now()) - t0 < seconds);
    if (sum == 1) { /* keep the copies observable */
        puts("");
    }
    return (double)n / (t - t0);
}

/* Baseline 2: the fixed cost of a step (TICK on an engine with no
 * membership: it never campaigns, so no action results). */
static double baseline_tick(double seconds)
{
    craft_engine *e;
    craft_actions *a;
    craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
    o.id = 1;
    if (craft_engine_create(&o, &e) != CRAFT_OK ||
        craft_actions_create(NULL, &a) != CRAFT_OK) {
        fail("create", 0);
    }
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_TICK;
    uint64_t n = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 4096; k++) {
            if (craft_engine_step(e, &ev, a) != CRAFT_OK) {
                fail("tick", 0);
            }
        }
        n += 4096;
    } while ((t = now()) - t0 < seconds);
    craft_engine_free(e);
    craft_actions_free(a);
    return (double)n / (t - t0);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* "%8.4f" of x / base, or "-" when the baseline was not measured. */
static const char *ratio(char *buf, size_t size, double x, double base)
{
    if (base > 0) {
        snprintf(buf, size, "%.4f", x / base);
    } else {
        snprintf(buf, size, "-");
    }
    return buf;
}

/* Runs fn `runs` times; returns the median, with min and max in *range. */
static double measure(double (*fn)(double), double seconds, int runs,
                      char *range, size_t size)
{
    double v[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        v[r] = fn(seconds);
    }
    double m = median(v, runs);
    snprintf(range, size, "(%.0f..%.0f)", v[0], v[runs - 1]);
    return m;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    const char *which = argc > 3 ? argv[3] : "ftabc";
    if (seconds <= 0 || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: %s [seconds-per-run [runs (1..%d) "
                "[what: f t a b c, default ftabc]]]\n", argv[0], MAX_RUNS);
        return 2;
    }
    for (int k = 0; k < BATCH; k++) {
        memset(payload[k], 'a' + k % 26, ENTRY);
        bufs[k] = (craft_buf){payload[k], ENTRY};
    }

    printf("craft %s bench_engine: %d engines in one thread on the "
           "reference host, in-memory network, synchronous in-memory "
           "storage, %d-byte entries\n"
           "%d run(s) of %.1f s each (baselines %.1f s); median "
           "(min..max)\n\n", craft_version_string(), NODES, ENTRY, runs,
           seconds, seconds / 2);

    char range[48], r1[16], r2[16];
    double fifo_m = 0, tick_m = 0;
    printf("%-40s %10s %21s\n", "baseline", "per second", "(min..max)");
    if (strchr(which, 'f') != NULL) {
        fifo_m = measure(baseline_fifo, seconds / 2, runs, range,
                         sizeof(range));
        printf("%-40s %10.0f %21s\n", "(f) fifo: 64-byte record memcpy "
               "in+out", fifo_m, range);
    }
    if (strchr(which, 't') != NULL) {
        tick_m = measure(baseline_tick, seconds / 2, runs, range,
                         sizeof(range));
        printf("%-40s %10.0f %21s\n", "(t) tick: empty craft_engine_step",
               tick_m, range);
    }

    printf("\n%-40s %10s %21s %10s %6s %8s %8s %6s %10s\n", "workload",
           "commits/s", "(min..max)", "events/s", "ev/c", "c/fifo",
           "ev/tick", "vs bar", "c/cpu-s");
    for (int w = 0; w < W_COUNT; w++) {
        if (strchr(which, 'a' + w) == NULL) {
            continue;
        }
        double c[MAX_RUNS], ev[MAX_RUNS], cc[MAX_RUNS];
        for (int r = 0; r < runs; r++) {
            struct result res = run(w, seconds);
            c[r] = res.commits_s;
            ev[r] = res.events_s;
            cc[r] = res.commits_cpu_s;
        }
        double cm = median(c, runs), em = median(ev, runs);
        double ccm = median(cc, runs);
        snprintf(range, sizeof(range), "(%.0f..%.0f)", c[0], c[runs - 1]);
        printf("%-40s %10.0f %21s %10.0f %6.2f %8s %8s %5.2fx %10.0f\n",
               wname[w], cm, range, em, em / cm,
               ratio(r1, sizeof(r1), cm, fifo_m),
               ratio(r2, sizeof(r2), em, tick_m), cm / bar[w], ccm);
        fflush(stdout);
    }
    printf("\nev/c: engine events per commit. c/fifo: commits/s over the "
           "fifo baseline. ev/tick: events/s over the tick baseline.\n"
           "c/cpu-s: commits per CPU second of this process (median), "
           "which leaves out time spent waiting for a core.\n"
           "vs bar: commits/s over canonical raft's 1.29M/s (a) or 4.4M/s "
           "(b, c), the figures it reports\n(on its hardware, not this "
           "machine's: read it as an indication only).\n");
    return 0;
}
