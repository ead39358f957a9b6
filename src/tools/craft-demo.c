/*
 * craft-demo: a 3-node Raft cluster in one process (`make demo`).
 *
 * Three engines on the reference host (src/host/host.h): an in-memory
 * network of wire bytes, synchronous in-memory storage that survives a
 * crash, and, per node, a tiny key-value store fed by APPLY actions. The
 * cluster elects a leader, commits proposals in batches and one at a
 * time, loses its leader, elects another, restarts the dead node from its
 * storage, and checks that all three state machines agree.
 *
 * How a host carries out the engine's actions is written out, with the
 * public API only, in examples/engine_host.c: read that one to write your
 * own. This program leaves it to the reference host, like the tests and
 * the benchmark do. Deterministic (fixed seeds); only the measured rates
 * vary between runs.
 */
#include <craft.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/host.h"

#define NODES 3
#define PAYLOAD 64    /* bytes per proposal */
#define BATCH 250     /* proposals per PROPOSE event */
#define KEYS 1000     /* distinct keys the proposals write */
#define KV_SLOTS 4096 /* hash table slots: a power of two > KEYS */

/* Exits with status 1 and a message unless ok. */
static void require(int ok, const char *fmt, ...)
{
    if (ok) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("craft-demo: FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void host_failed(void *user, const char *file, int line,
                        const char *msg)
{
    (void)user;
    require(0, "%s:%d: %s", file, line, msg);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define FNV_INIT 0xcbf29ce484222325ull
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return h;
}

/* ---- the state machine: a tiny key-value store ------------------------ */

struct kv {
    struct {
        uint8_t klen, vlen; /* klen 0: free slot */
        char key[15];
        char val[PAYLOAD];
    } slot[KV_SLOTS];
    size_t count;
    uint64_t chain; /* a hash of every entry applied */
};

static struct kv kvs[NODES];

/* Applies "set <key> <value>". Other commands are ignored here; a real
 * state machine would answer them with an error. */
static void kv_set(struct kv *kv, const char *p, size_t len)
{
    const char *k = p + 4, *sp = len > 4 ? memchr(k, ' ', len - 4) : NULL;
    if (sp == NULL || memcmp(p, "set ", 4) != 0 || sp == k || sp - k > 15) {
        return;
    }
    size_t klen = (size_t)(sp - k), vlen = len - 5 - klen;
    size_t i = fnv(FNV_INIT, k, klen) & (KV_SLOTS - 1);
    while (kv->slot[i].klen != 0 &&
           (kv->slot[i].klen != klen || memcmp(kv->slot[i].key, k, klen))) {
        i = (i + 1) & (KV_SLOTS - 1); /* linear probing */
    }
    if (kv->slot[i].klen == 0) {
        require(++kv->count < KV_SLOTS / 2, "key-value store full");
        kv->slot[i].klen = (uint8_t)klen;
        memcpy(kv->slot[i].key, k, klen);
    }
    kv->slot[i].vlen = (uint8_t)(vlen < PAYLOAD ? vlen : PAYLOAD);
    memcpy(kv->slot[i].val, sp + 1, kv->slot[i].vlen);
}

/* A digest of the store's content, independent of its layout. */
static uint64_t kv_digest(const struct kv *kv)
{
    uint64_t d = kv->count;
    for (size_t i = 0; i < KV_SLOTS; i++) {
        if (kv->slot[i].klen != 0) {
            uint64_t h = fnv(FNV_INIT, kv->slot[i].key, kv->slot[i].klen);
            d += fnv(h ^ '=', kv->slot[i].val, kv->slot[i].vlen);
        }
    }
    return d;
}

/* The reference host's state machine interface. */
static void sm_apply(void *user, struct host_node *nd, uint64_t index,
                     uint64_t term, uint32_t type, const void *data,
                     size_t len)
{
    (void)user;
    struct kv *kv = &kvs[nd->id - 1];
    uint64_t h[3] = {index, term, type};
    kv->chain = fnv(fnv(kv->chain, h, sizeof(h)), data, len);
    if (type == CRAFT_ENTRY_NORMAL) {
        kv_set(kv, data, len);
    }
}

/* This demo takes no snapshots: a restarted node rebuilds its store by
 * applying the log again, from an empty one. */
static void sm_restore(void *user, struct host_node *nd, const void *data,
                       size_t len)
{
    (void)user;
    require(len == 0 && data == NULL, "no snapshots in this demo");
    memset(&kvs[nd->id - 1], 0, sizeof(kvs[0]));
}

static const struct host_sm kv_sm = {sm_apply, NULL, sm_restore, NULL};

/* ---- the cluster -------------------------------------------------------- */

static struct host cluster;

static uint64_t steps(void)
{
    uint64_t n = 0;
    for (int i = 0; i < NODES; i++) {
        n += cluster.nodes[i].steps;
    }
    return n;
}

/* Ticks until a node leads in a term above `after`. */
static struct host_node *elect(uint64_t after)
{
    for (int t = 1; t <= 1000; t++) {
        host_tick_all(&cluster);
        host_deliver_all(&cluster);
        uint64_t id = host_leader(&cluster);
        struct host_node *l = id != 0 ? host_node(&cluster, id) : NULL;
        if (l != NULL && craft_engine_term(l->e) > after) {
            printf("leader elected: node %" PRIu64 " in term %" PRIu64
                   " after %d ticks\n", l->id, craft_engine_term(l->e), t);
            return l;
        }
    }
    require(0, "no leader elected within 1000 ticks");
    return NULL;
}

/* Proposes `count` commands "set k<n> v<seq>", padded to PAYLOAD bytes,
 * in one PROPOSE event: they become one batch of consecutive entries.
 * Returns the last index they got. */
static uint64_t propose(struct host_node *l, size_t count)
{
    static uint64_t seq;
    static char payload[BATCH][PAYLOAD];
    craft_buf bufs[BATCH];
    for (size_t k = 0; k < count; k++, seq++) {
        char *p = payload[k];
        memset(p, '.', PAYLOAD);
        int w = snprintf(p, PAYLOAD, "set k%04u v%" PRIu64 " ",
                         (unsigned)(seq * 7919 % KEYS), seq);
        p[w] = '.'; /* overwrite snprintf's NUL */
        bufs[k] = (craft_buf){p, PAYLOAD};
    }
    uint64_t last = craft_engine_last_index(l->e);
    host_propose_batch(&cluster, l, seq, bufs, count);
    require(craft_engine_last_index(l->e) == last + count,
            "proposal refused by node %" PRIu64, l->id);
    return last + count;
}

/* Commits `total` proposals through leader l, `per` in each PROPOSE; each
 * round is delivered until quiet, after which the leader must have applied
 * it. Returns commits per second. */
static double commit(struct host_node *l, size_t total, size_t per)
{
    uint64_t first = l->applied + 1;
    double t0 = now();
    for (size_t round = 0; round * per < total; round++) {
        uint64_t receipt = propose(l, per);
        host_deliver_all(&cluster);
        require(l->applied >= receipt, "index %" PRIu64 " not committed"
                " after a round", receipt);
        if (round % 64 == 63) {
            host_tick_all(&cluster); /* time passes: heartbeats */
            host_deliver_all(&cluster);
        }
    }
    double rate = (double)total / (now() - t0);
    printf("committed %zu entries (%" PRIu64 "..%" PRIu64 ", %zu per "
           "proposal): %.0f commits/s\n", total, first, l->applied, per, rate);
    return rate;
}

/* One tick lets heartbeats carry the commit index to the followers; then
 * every running node must have applied the same entries as the leader. */
static void check_agree(const struct host_node *l)
{
    host_tick_all(&cluster);
    host_deliver_all(&cluster);
    const struct kv *lkv = &kvs[l->id - 1];
    for (int i = 0; i < NODES; i++) {
        const struct host_node *n = &cluster.nodes[i];
        const struct kv *kv = &kvs[i];
        require(!n->up || (n->applied == l->applied &&
                           kv->chain == lkv->chain &&
                           kv_digest(kv) == kv_digest(lkv)),
                "node %" PRIu64 " applied %" PRIu64 " (chain %016" PRIx64
                "), leader %" PRIu64 " (chain %016" PRIx64 ")", n->id,
                n->applied, kv->chain, l->applied, lkv->chain);
    }
    printf("  check: running nodes applied identical entries 1..%" PRIu64
           " (chain %016" PRIx64 ")\n", l->applied, lkv->chain);
}

int main(void)
{
    double t_start = now();
    printf("craft %s demo: %d engines in one process, in-memory network and "
           "storage, %d-byte proposals\n\n", craft_version_string(), NODES,
           PAYLOAD);

    /* 1. A new cluster: each founding server is bootstrapped with the
     *    same membership, then time passes until one of them leads. */
    host_setup(&cluster, NODES, 0xC0FFEE);
    cluster.fail = host_failed;
    cluster.record = 0; /* no journal: a long run */
    cluster.sm = &kv_sm;
    cluster.opts.snapshot_entries = 0; /* this demo takes no snapshots */
    cluster.opts.snapshot_bytes = 0;
    host_start(&cluster, NODES);
    struct host_node *l = elect(0);

    /* 2. Replicate: proposals in batches, then one at a time. */
    uint64_t steps0 = steps();
    double t0 = now();
    double batched = commit(l, 200000, BATCH);
    double step_rate = (double)(steps() - steps0) / (now() - t0);
    double single = commit(l, 100000, 1);
    check_agree(l);

    /* 3. The leader crashes: its engine is freed, its messages lost. The
     *    others elect a new leader in a later term and go on. */
    struct host_node *dead = l;
    uint64_t old_term = craft_engine_term(l->e);
    printf("\nleader %" PRIu64 " crashed (term %" PRIu64 ", commit %" PRIu64
           ")\n", dead->id, old_term, craft_engine_commit_index(l->e));
    host_crash(&cluster, dead);
    l = elect(old_term);
    commit(l, 50000, BATCH);
    commit(l, 5000, 1);
    check_agree(l);

    /* 4. The dead node restarts from its storage and catches up. */
    printf("\nnode %" PRIu64 " restarts from its storage: term %" PRIu64
           ", vote %" PRIu64 ", log 1..%" PRIu64 "\n", dead->id, dead->term,
           dead->vote, dead->last);
    host_node_start(&cluster, dead);
    int ticks = 0;
    while (dead->applied < l->applied && ticks < 1000) {
        host_tick_all(&cluster);
        host_deliver_all(&cluster);
        ticks++;
    }
    require(dead->applied == l->applied, "node %" PRIu64 " did not catch up",
            dead->id);
    printf("node %" PRIu64 " caught up to index %" PRIu64 " after %d "
           "tick(s)\n", dead->id, dead->applied, ticks);
    commit(l, 10000, BATCH);

    /* 5. All three state machines are identical. */
    check_agree(l);
    const struct kv *lkv = &kvs[l->id - 1];
    printf("all state machines agree: %zu keys, applied index %" PRIu64
           ", digest %016" PRIx64 "\n", lkv->count, l->applied,
           kv_digest(lkv));

    char what[64];
    snprintf(what, sizeof(what), "batched proposals (%d per PROPOSE)", BATCH);
    printf("\nrates (monotonic clock, first leader; they include the "
           "host's storage,\nits checks and the state machine: "
           "tests/bench/bench_engine.c measures the engine alone):\n"
           "  %-34s %10.0f commits/s\n  %-34s %10.0f commits/s\n"
           "  %-34s %10.0f steps/s\n"
           "  %" PRIu64 " engine steps in all, %.2f s\n", what, batched,
           "one proposal at a time", single, "engine steps (batched phase)",
           step_rate, steps(), now() - t_start);

    host_free(&cluster);
    return 0;
}
