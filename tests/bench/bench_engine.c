/*
 * bench_engine: throughput of the pure engine, the figure craft is judged
 * by. Three engines in one thread, driven through the public API only,
 * with an in-memory network and synchronous in-memory storage, 64-byte
 * entries (the setup of the usual "bar to beat": 1.3M commits/s with one
 * proposal per round, 4.5M commits/s in batches of 256).
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
 * three nodes (messages, proposals, PERSISTED, ...).
 *
 * Baselines, measured in the same run so results read as ratios on a
 * noisy machine:
 *  - fifo: 64-byte records memcpy'd into and out of a plain ring;
 *  - tick: craft_engine_step() of TICK events on an engine with no
 *    membership (the fixed cost of a step).
 *
 * The harness allocates nothing per message or entry: messages are copied
 * into one preallocated byte ring, storage is a preallocated ring of
 * entry slots (the engine compacts its log through the default snapshot
 * policy; the host answers TAKE_SNAPSHOT at once, its state machine being
 * a counter).
 *
 * Usage: bench_engine [seconds-per-run [runs [what]]]
 * Defaults: 2 s, 3 runs (the median is reported), what "ftabc" (the
 * baselines f and t, the workloads a, b and c); e.g. `bench_engine 0.5 1 b`
 * runs (b) alone, for a profiler.
 * Timing: clock_gettime(CLOCK_MONOTONIC).
 */
#include <craft.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODES 3
#define ENTRY 64
#define BATCH 256
#define PIPE_WINDOW 32               /* batches outstanding in (c) */
#define NET_BYTES (64u << 20)        /* network byte ring */
#define NET_MSGS (1u << 16)          /* messages queued at most */
#define STORE_SLOTS (1u << 16)       /* entries each storage keeps: more than
                                        the engine keeps between snapshots */
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

/* ---- network: a FIFO of messages in one byte ring --------------------- */

struct hdr {
    uint32_t to;
    uint32_t len;
    size_t off;
};

static struct {
    uint8_t *buf;
    size_t wpos; /* where the next message goes */
    struct hdr q[NET_MSGS];
    size_t head, tail;
} net;

static void net_send(uint64_t to, const void *b, size_t len)
{
    if (net.tail - net.head == NET_MSGS) {
        fail("network: too many messages queued", 0);
    }
    size_t off = net.wpos;
    if (len >= NET_BYTES) {
        fail("network: message larger than the ring", 0);
    }
    if (net.head == net.tail) {
        off = 0;
    } else {
        size_t rpos = net.q[net.head % NET_MSGS].off; /* oldest message */
        if (off >= rpos) { /* free: [off, end) and [0, rpos) */
            if (off + len > NET_BYTES) {
                off = 0; /* wrap; the tail of the ring stays unused */
                if (len >= rpos) {
                    fail("network: byte ring full", 0);
                }
            }
        } else if (off + len >= rpos) { /* free: [off, rpos) */
            fail("network: byte ring full", 0);
        }
    }
    memcpy(net.buf + off, b, len);
    net.wpos = off + len;
    net.q[net.tail++ % NET_MSGS] = (struct hdr){(uint32_t)to, (uint32_t)len,
                                                off};
}

/* ---- nodes ------------------------------------------------------------ */

struct slot {
    uint64_t term;
    uint32_t type, len;
    uint8_t data[ENTRY];
};

struct node {
    uint64_t id;
    craft_engine *e;
    craft_actions *acts;
    uint64_t term, vote;   /* durable hard state */
    struct slot *store;    /* durable entries, slot index % STORE_SLOTS */
    uint64_t last;
    uint64_t applied, applied_term;
    uint64_t apply_bytes;  /* what the "state machine" read */
};

static struct node nodes[NODES];
static const uint64_t ids[NODES] = {1, 2, 3};
static uint64_t steps;

static void step(struct node *n, const craft_event *ev);

static void execute(struct node *n)
{
    craft_actions *a = n->acts;
    size_t count = craft_actions_count(a);
    uint64_t durable = 0;
    int snapshot = 0;
    for (size_t i = 0; i < count; i++) {
        int type = craft_action_type(a, i);
        uint64_t index = craft_action_index(a, i);
        size_t k, cnt = craft_action_count(a, i), len;
        const void *data;
        uint32_t etype;
        uint64_t term;
        switch (type) {
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            n->term = craft_action_term(a, i);
            n->vote = craft_action_vote(a, i);
            break;
        case CRAFT_ACTION_TRUNCATE:
            if (index <= n->last) {
                n->last = index - 1;
            }
            break;
        case CRAFT_ACTION_APPEND:
            for (k = 0; k < cnt; k++) {
                struct slot *s = &n->store[(index + k) % STORE_SLOTS];
                craft_action_entry(a, i, k, &s->term, &s->type, &data, &len);
                s->len = (uint32_t)(len < ENTRY ? len : ENTRY);
                if (s->len > 0) {
                    memcpy(s->data, data, s->len);
                }
            }
            n->last = index + cnt - 1;
            durable = n->last;
            break;
        case CRAFT_ACTION_SEND: {
            int rv = craft_action_message(a, i, &data, &len);
            if (rv != CRAFT_OK) {
                fail("craft_action_message", rv);
            }
            net_send(craft_action_peer(a, i), data, len);
            break;
        }
        case CRAFT_ACTION_APPLY:
            for (k = 0; k < cnt; k++) {
                craft_action_entry(a, i, k, &term, &etype, &data, &len);
                n->apply_bytes += len;
            }
            n->applied = index + cnt - 1;
            n->applied_term = term;
            break;
        case CRAFT_ACTION_PROPOSE_RESULT:
            if (craft_action_status(a, i) != CRAFT_OK) {
                fail("proposal", craft_action_status(a, i));
            }
            break;
        case CRAFT_ACTION_ROLE_CHANGE:
            break;
        case CRAFT_ACTION_TAKE_SNAPSHOT:
            snapshot = 1;
            break;
        default:
            fprintf(stderr, "bench_engine: unexpected action %d\n", type);
            exit(1);
        }
    }
    if (durable != 0) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_PERSISTED;
        ev.index = durable;
        ev.term = n->store[durable % STORE_SLOTS].term;
        step(n, &ev);
    }
    if (snapshot) { /* the state machine is a counter: instant snapshot */
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_SNAPSHOT_TAKEN;
        ev.index = n->applied;
        ev.term = n->applied_term;
        step(n, &ev);
    }
}

static void step(struct node *n, const craft_event *ev)
{
    int rv = craft_engine_step(n->e, ev, n->acts);
    if (rv != CRAFT_OK) {
        fail("craft_engine_step", rv);
    }
    steps++;
    execute(n);
}

/* Delivers one message: the head of the queue, popped only after the step
 * so that new sends cannot overwrite its bytes. */
static void deliver_one(void)
{
    struct hdr *h = &net.q[net.head % NET_MSGS];
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = net.buf + h->off;
    ev.len = h->len;
    step(&nodes[h->to - 1], &ev);
    net.head++;
}

static void deliver_all(void)
{
    while (net.head != net.tail) {
        deliver_one();
    }
}

static void cluster_up(void)
{
    memset(nodes, 0, sizeof(nodes));
    net.head = net.tail = net.wpos = 0;
    for (int i = 0; i < NODES; i++) {
        struct node *n = &nodes[i];
        craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
        n->id = ids[i];
        o.id = n->id;
        o.seed = 42 + n->id;
        int rv = craft_engine_create(&o, &n->e);
        if (rv == CRAFT_OK) {
            rv = craft_actions_create(NULL, &n->acts);
        }
        if (rv != CRAFT_OK) {
            fail("create", rv);
        }
        n->store = calloc(STORE_SLOTS, sizeof(*n->store));
        if (n->store == NULL) {
            fail("out of memory", 0);
        }
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_BOOTSTRAP;
        ev.ids = ids;
        ev.nids = NODES;
        step(n, &ev);
    }
}

static void cluster_down(void)
{
    for (int i = 0; i < NODES; i++) {
        craft_engine_free(nodes[i].e);
        craft_actions_free(nodes[i].acts);
        free(nodes[i].store);
    }
}

/* Ticks until a leader exists and has committed its no-op. */
static struct node *elect(void)
{
    for (int t = 0; t < 1000; t++) {
        for (int i = 0; i < NODES; i++) {
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_TICK;
            step(&nodes[i], &ev);
        }
        deliver_all();
        for (int i = 0; i < NODES; i++) {
            craft_engine *e = nodes[i].e;
            if (craft_engine_role(e) == CRAFT_ROLE_LEADER &&
                nodes[i].applied == craft_engine_last_index(e)) {
                return &nodes[i];
            }
        }
    }
    fail("no leader elected", 0);
    return NULL;
}

static uint8_t payload[BATCH][ENTRY];
static craft_buf bufs[BATCH];

static void propose(struct node *l, size_t n)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = bufs;
    ev.nbufs = n;
    step(l, &ev);
}

/* ---- workloads --------------------------------------------------------- */

enum { W_ONE, W_BATCH, W_PIPE, W_COUNT };

static const char *const wname[W_COUNT] = {
    "(a) 1 proposal per round",
    "(b) 256 per PROPOSE, 1 batch per round",
    "(c) pipelined, 256 per PROPOSE, " XSTR(PIPE_WINDOW) " out",
};
static const double bar[W_COUNT] = {1.3e6, 4.5e6, 4.5e6};

struct result {
    double commits_s, events_s;
};

static struct result run(int w, double seconds)
{
    cluster_up();
    struct node *l = elect();
    uint64_t a0 = l->applied, s0 = steps, proposed = l->applied;
    double t0 = now(), t = t0;
    for (uint64_t it = 1;; it++) {
        switch (w) {
        case W_ONE:
            propose(l, 1);
            deliver_all();
            break;
        case W_BATCH:
            propose(l, BATCH);
            deliver_all();
            break;
        default:
            while (proposed - l->applied < (uint64_t)PIPE_WINDOW * BATCH) {
                propose(l, BATCH);
                proposed += BATCH;
            }
            for (size_t hop = net.tail - net.head; hop > 0; hop--) {
                deliver_one();
            }
            break;
        }
        if ((it & 63) == 0 && (t = now()) - t0 >= seconds) {
            break;
        }
    }
    struct result r;
    r.commits_s = (double)(l->applied - a0) / (t - t0);
    r.events_s = (double)(steps - s0) / (t - t0);
    if (craft_engine_role(l->e) != CRAFT_ROLE_LEADER) {
        fail("the leader lost its leadership during the run", 0);
    }
    deliver_all();
    cluster_down();
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
    net.buf = malloc(NET_BYTES);
    if (net.buf == NULL) {
        fail("out of memory", 0);
    }
    for (int k = 0; k < BATCH; k++) {
        memset(payload[k], 'a' + k % 26, ENTRY);
        bufs[k] = (craft_buf){payload[k], ENTRY};
    }

    printf("craft %s bench_engine: %d engines in one thread, in-memory "
           "network, synchronous in-memory storage, %d-byte entries\n"
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

    printf("\n%-40s %10s %21s %10s %6s %8s %8s %6s\n", "workload",
           "commits/s", "(min..max)", "events/s", "ev/c", "c/fifo",
           "ev/tick", "vs bar");
    for (int w = 0; w < W_COUNT; w++) {
        if (strchr(which, 'a' + w) == NULL) {
            continue;
        }
        double c[MAX_RUNS], ev[MAX_RUNS];
        for (int r = 0; r < runs; r++) {
            struct result res = run(w, seconds);
            c[r] = res.commits_s;
            ev[r] = res.events_s;
        }
        double cm = median(c, runs), em = median(ev, runs);
        snprintf(range, sizeof(range), "(%.0f..%.0f)", c[0], c[runs - 1]);
        printf("%-40s %10.0f %21s %10.0f %6.2f %8s %8s %5.2fx\n", wname[w],
               cm, range, em, em / cm, ratio(r1, sizeof(r1), cm, fifo_m),
               ratio(r2, sizeof(r2), em, tick_m), cm / bar[w]);
        fflush(stdout);
    }
    printf("\nev/c: engine events per commit. c/fifo: commits/s over the "
           "fifo baseline. ev/tick: events/s over the tick baseline.\n"
           "vs bar: commits/s over 1.3M/s (a) or 4.5M/s (b, c), the "
           "figures competing libraries report\n(on their hardware, not "
           "this machine's: read it as an indication only).\n");
    free(net.buf);
    return 0;
}
