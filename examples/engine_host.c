/*
 * examples/engine_host.c: a host of the bare engine, written the way a
 * user writes one: with the public API (<craft.h>) only. Copy it as the
 * start of your own host; `make` builds it as build/examples/engine_host
 * and `make test` runs it.
 *
 * Three engines in one process form a cluster. The engine decides; the
 * host owns everything else:
 *  - network: one FIFO of message bytes. A SEND action's bytes
 *    (craft_action_message) are copied in; delivering them is a
 *    CRAFT_EVENT_MESSAGE on the destination engine.
 *  - storage, per node: the hard state (term, vote) and a log of entries
 *    copied from APPEND actions and cut by TRUNCATE. It survives a crash.
 *    Writes are synchronous, so once a step's actions are carried out the
 *    host reports its APPEND durable with CRAFT_EVENT_PERSISTED.
 *  - state machine, per node: a tiny key-value store fed by APPLY actions
 *    ("set <key> <value>" payloads). A crash loses it; a restarted node
 *    rebuilds it by re-applying the log (this host takes no snapshots).
 *  - time: one TICK event is one unit of logical time.
 *
 * The cluster elects a leader, commits proposals, loses the leader,
 * elects another, restarts the dead node from its storage and checks
 * that all three state machines agree.
 *
 * Usage: engine_host [scale]: scale (default 1) multiplies the number of
 * proposals, for steadier rates (`make demo-engine` runs it with 10).
 *
 * Carrying out actions in list order is all Raft's "respond only after
 * updating stable storage" asks of a host: the engine orders them.
 * Deterministic (fixed seeds); only the measured rates vary between runs.
 */
#include <craft.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODES 3
#define PAYLOAD 64           /* bytes per proposal */
#define BATCH 250            /* proposals per PROPOSE event */
#define KEYS 1000            /* distinct keys the proposals write */
#define KV_SLOTS 4096        /* hash table slots: a power of two > KEYS */
#define NET_SLOTS (1u << 14) /* messages in flight at most */

/* Exits with status 1 and a message unless ok. */
static void require(int ok, const char *fmt, ...)
{
    if (ok) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("engine_host: FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
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
};

/* Applies "set <key> <value>". Other commands are ignored here; a real
 * state machine would answer them with an error. */
static void kv_apply(struct kv *kv, const char *p, size_t len)
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

/* ---- nodes: an engine, its storage and its state machine -------------- */

struct stored_entry {
    uint64_t term;
    uint32_t type, len;
    size_t off; /* payload position in node.bytes */
};

struct node {
    uint64_t id;
    craft_engine *e; /* NULL while crashed */
    craft_actions *acts;
    /* storage: survives a crash */
    uint64_t term, vote;
    struct stored_entry *log; /* log[i] is index i; log[0] unused */
    uint64_t last, log_cap;
    uint8_t *bytes; /* payloads, in log order */
    size_t nbytes, bytes_cap;
    /* memory: lost in a crash */
    struct kv kv;
    uint64_t applied, chain; /* chain: a hash of every applied entry */
    uint64_t receipt;        /* last index of our last accepted proposal */
};

struct msg {
    uint64_t from, to; /* to 0: dropped */
    size_t len, cap;
    uint8_t *bytes; /* reused by later messages: no malloc per message */
};

static const uint64_t ids[NODES] = {1, 2, 3};
static struct node nodes[NODES];
static struct msg net[NET_SLOTS];
static size_t net_head, net_tail;
static uint64_t steps; /* engine steps taken, for the rate */

static void net_send(uint64_t from, uint64_t to, const void *b, size_t len)
{
    require(net_tail - net_head < NET_SLOTS, "network queue full");
    struct msg *m = &net[net_tail++ % NET_SLOTS];
    if (m->cap < len) {
        m->cap = len;
        m->bytes = realloc(m->bytes, len);
        require(m->bytes != NULL, "out of memory");
    }
    memcpy(m->bytes, b, len);
    m->from = from;
    m->to = to;
    m->len = len;
}

static void store_append(struct node *n, uint64_t index, uint64_t term,
                         uint32_t type, const void *data, size_t len)
{
    require(index == n->last + 1, "node %" PRIu64 ": append at %" PRIu64
            " after %" PRIu64, n->id, index, n->last);
    if (index >= n->log_cap) {
        n->log_cap = n->log_cap ? 2 * n->log_cap : 1024;
        n->log = realloc(n->log, n->log_cap * sizeof(*n->log));
    }
    if (n->nbytes + len > n->bytes_cap) {
        n->bytes_cap = 2 * (n->bytes_cap + len);
        n->bytes = realloc(n->bytes, n->bytes_cap);
    }
    require(n->log != NULL && n->bytes != NULL, "out of memory");
    if (len > 0) { /* a no-op entry has no payload, and data is NULL */
        memcpy(n->bytes + n->nbytes, data, len);
    }
    n->log[index] = (struct stored_entry){term, type, (uint32_t)len,
                                          n->nbytes};
    n->nbytes += len;
    n->last = index;
}

static void apply(struct node *n, uint64_t index, uint64_t term,
                  uint32_t type, const void *data, size_t len)
{
    require(index == n->applied + 1, "node %" PRIu64 ": apply %" PRIu64
            " after %" PRIu64, n->id, index, n->applied);
    uint64_t h[3] = {index, term, type};
    n->chain = fnv(fnv(n->chain, h, sizeof(h)), data, len);
    if (type == CRAFT_ENTRY_NORMAL) {
        kv_apply(&n->kv, data, len);
    }
    n->applied = index;
}

static void execute(struct node *n);

static void step(struct node *n, const craft_event *ev)
{
    int rv = craft_engine_step(n->e, ev, n->acts);
    require(rv == CRAFT_OK, "node %" PRIu64 ": step: %s", n->id,
            craft_strerror(rv));
    steps++;
    execute(n);
}

/* Carries out the actions of n's last step, in order. */
static void execute(struct node *n)
{
    craft_actions *a = n->acts;
    uint64_t durable = 0; /* the last index this step's APPENDs wrote */
    for (size_t i = 0; i < craft_actions_count(a); i++) {
        uint64_t index = craft_action_index(a, i), term;
        const void *data;
        size_t len, k, count = craft_action_count(a, i);
        uint32_t type;
        switch (craft_action_type(a, i)) {
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            n->term = craft_action_term(a, i);
            n->vote = craft_action_vote(a, i);
            break;
        case CRAFT_ACTION_TRUNCATE: /* delete entries >= index */
            if (index <= n->last) {
                n->nbytes = n->log[index].off;
                n->last = index - 1;
            }
            break;
        case CRAFT_ACTION_APPEND:
            for (k = 0; k < count; k++) {
                craft_action_entry(a, i, k, &term, &type, &data, &len);
                store_append(n, index + k, term, type, data, len);
            }
            durable = n->last;
            break;
        case CRAFT_ACTION_SEND:
            require(craft_action_message(a, i, &data, &len) == CRAFT_OK,
                    "cannot encode a message");
            net_send(n->id, craft_action_peer(a, i), data, len);
            break;
        case CRAFT_ACTION_APPLY:
            for (k = 0; k < count; k++) {
                craft_action_entry(a, i, k, &term, &type, &data, &len);
                apply(n, index + k, term, type, data, len);
            }
            break;
        case CRAFT_ACTION_PROPOSE_RESULT:
            require(craft_action_status(a, i) == CRAFT_OK, "proposal: %s",
                    craft_strerror(craft_action_status(a, i)));
            n->receipt = index + count - 1;
            break;
        case CRAFT_ACTION_ROLE_CHANGE:
            break; /* we ask craft_engine_role() when we need to know */
        default:
            require(0, "unexpected action %d", craft_action_type(a, i));
        }
    }
    if (durable != 0) { /* synchronous writes: durable already */
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_PERSISTED;
        ev.index = durable;
        ev.term = n->log[durable].term;
        step(n, &ev);
    }
}

static void start(struct node *n)
{
    craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
    o.id = n->id;
    o.seed = 0xC0FFEE + n->id;
    o.snapshot_entries = 0; /* this host takes no snapshots */
    o.snapshot_bytes = 0;
    require(craft_engine_create(&o, &n->e) == CRAFT_OK &&
                craft_actions_create(NULL, &n->acts) == CRAFT_OK,
            "cannot create engine %" PRIu64, n->id);
}

/* Delivers messages, and those they cause, until the network is quiet. */
static void deliver_all(void)
{
    while (net_head != net_tail) {
        struct msg *m = &net[net_head++ % NET_SLOTS];
        if (m->to == 0 || nodes[m->to - 1].e == NULL) {
            continue; /* dropped, or to a crashed node */
        }
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_MESSAGE;
        ev.data = m->bytes;
        ev.len = m->len;
        step(&nodes[m->to - 1], &ev);
    }
}

static void tick_all(void)
{
    for (int i = 0; i < NODES; i++) {
        if (nodes[i].e != NULL) {
            craft_event ev = CRAFT_EVENT_INIT;
            ev.type = CRAFT_EVENT_TICK;
            step(&nodes[i], &ev);
        }
    }
    deliver_all();
}

/* Ticks until a node leads in a term above `after`. */
static struct node *elect(uint64_t after)
{
    for (int t = 1; t <= 1000; t++) {
        tick_all();
        for (int i = 0; i < NODES; i++) {
            craft_engine *e = nodes[i].e;
            if (e != NULL && craft_engine_role(e) == CRAFT_ROLE_LEADER &&
                craft_engine_term(e) > after) {
                printf("leader elected: node %" PRIu64 " in term %" PRIu64
                       " after %d ticks\n", nodes[i].id,
                       craft_engine_term(e), t);
                return &nodes[i];
            }
        }
    }
    require(0, "no leader elected within 1000 ticks");
    return NULL;
}

/* Proposes `count` commands "set k<n> v<seq>", padded to PAYLOAD bytes,
 * in one PROPOSE event: they become one batch of consecutive entries. */
static void propose(struct node *l, size_t count)
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
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_PROPOSE;
    ev.bufs = bufs;
    ev.nbufs = count;
    step(l, &ev);
}

/* Commits `total` proposals through leader l, `per` in each PROPOSE; each
 * round is delivered until quiet, after which the leader must have applied
 * it. Returns commits per second. */
static double commit(struct node *l, size_t total, size_t per)
{
    uint64_t first = l->applied + 1;
    double t0 = now();
    for (size_t round = 0; round * per < total; round++) {
        propose(l, per);
        deliver_all();
        require(l->applied >= l->receipt, "index %" PRIu64 " not committed"
                " after a round", l->receipt);
        if (round % 64 == 63) {
            tick_all(); /* time passes: heartbeats */
        }
    }
    double rate = (double)total / (now() - t0);
    printf("committed %zu entries (%" PRIu64 "..%" PRIu64 ", %zu per "
           "proposal): %.0f commits/s\n", total, first, l->applied, per, rate);
    return rate;
}

/* One tick lets heartbeats carry the commit index to the followers; then
 * every running node must have applied the same entries as the leader. */
static void check_agree(const struct node *l)
{
    tick_all();
    for (int i = 0; i < NODES; i++) {
        const struct node *n = &nodes[i];
        require(n->e == NULL ||
                    (n->applied == l->applied && n->chain == l->chain &&
                     kv_digest(&n->kv) == kv_digest(&l->kv)),
                "node %" PRIu64 " applied %" PRIu64 " (chain %016" PRIx64
                "), leader %" PRIu64 " (chain %016" PRIx64 ")", n->id,
                n->applied, n->chain, l->applied, l->chain);
    }
    printf("  check: running nodes applied identical entries 1..%" PRIu64
           " (chain %016" PRIx64 ")\n", l->applied, l->chain);
}

static void crash(struct node *n)
{
    craft_engine_free(n->e);
    craft_actions_free(n->acts);
    n->e = NULL;
    n->acts = NULL;
    memset(&n->kv, 0, sizeof(n->kv));
    n->applied = n->chain = n->receipt = 0;
    for (size_t i = net_head; i < net_tail; i++) { /* lost with it */
        struct msg *m = &net[i % NET_SLOTS];
        if (m->from == n->id || m->to == n->id) {
            m->to = 0;
        }
    }
}

/* A new engine, loaded with what the node's storage holds. */
static void restart(struct node *n)
{
    start(n);
    require(craft_engine_load_hard_state(n->e, n->term, n->vote) ==
                CRAFT_OK, "node %" PRIu64 ": load_hard_state", n->id);
    for (uint64_t i = 1; i <= n->last; i++) {
        const struct stored_entry *s = &n->log[i];
        int rv = craft_engine_load_entry(n->e, i, s->term, s->type,
                                         n->bytes + s->off, s->len);
        require(rv == CRAFT_OK, "node %" PRIu64 ": load_entry %" PRIu64
                ": %s", n->id, i, craft_strerror(rv));
    }
}

int main(int argc, char **argv)
{
    size_t scale = argc > 1 ? strtoul(argv[1], NULL, 10) : 1;
    require(scale >= 1 && scale <= 1000, "usage: engine_host [scale 1..1000]");
    double t_start = now();
    printf("craft %s engine host: %d engines in one process, in-memory "
           "network and storage, %d-byte proposals\n\n",
           craft_version_string(), NODES, PAYLOAD);

    /* 1. A new cluster: each founding server is bootstrapped with the
     *    same membership, then time passes until one of them leads. */
    for (int i = 0; i < NODES; i++) {
        nodes[i].id = ids[i];
        start(&nodes[i]);
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_BOOTSTRAP;
        ev.ids = ids;
        ev.nids = NODES;
        step(&nodes[i], &ev);
    }
    struct node *l = elect(0);

    /* 2. Replicate: proposals in batches, then one at a time. */
    uint64_t steps0 = steps;
    double t0 = now();
    double batched = commit(l, 20000 * scale, BATCH);
    double step_rate = (double)(steps - steps0) / (now() - t0);
    double single = commit(l, 10000 * scale, 1);
    check_agree(l);

    /* 3. The leader crashes: its engine is freed, its messages lost. The
     *    others elect a new leader in a later term and go on. */
    struct node *dead = l;
    uint64_t old_term = craft_engine_term(l->e);
    printf("\nleader %" PRIu64 " crashed (term %" PRIu64 ", commit %" PRIu64
           ")\n", dead->id, old_term, craft_engine_commit_index(l->e));
    crash(dead);
    l = elect(old_term);
    commit(l, 5000 * scale, BATCH);
    commit(l, 1000 * scale, 1);
    check_agree(l);

    /* 4. The dead node restarts from its storage and catches up. */
    printf("\nnode %" PRIu64 " restarts from its storage: term %" PRIu64
           ", vote %" PRIu64 ", log 1..%" PRIu64 "\n", dead->id, dead->term,
           dead->vote, dead->last);
    restart(dead);
    int ticks = 0;
    while (dead->applied < l->applied && ticks < 1000) {
        tick_all();
        ticks++;
    }
    require(dead->applied == l->applied, "node %" PRIu64 " did not catch up",
            dead->id);
    printf("node %" PRIu64 " caught up to index %" PRIu64 " after %d "
           "tick(s)\n", dead->id, dead->applied, ticks);
    commit(l, 2000 * scale, BATCH);

    /* 5. All three state machines are identical. */
    check_agree(l);
    printf("all state machines agree: %zu keys, applied index %" PRIu64
           ", digest %016" PRIx64 "\n", l->kv.count, l->applied,
           kv_digest(&l->kv));

    char what[64];
    snprintf(what, sizeof(what), "batched proposals (%d per PROPOSE)", BATCH);
    printf("\nrates (monotonic clock, first leader; they include this "
           "host's own hashing,\nstorage and state machine: "
           "tests/bench/bench_engine.c measures the engine alone):\n"
           "  %-34s %10.0f commits/s\n  %-34s %10.0f commits/s\n"
           "  %-34s %10.0f steps/s\n"
           "  %" PRIu64 " engine steps in all, %.2f s\n", what, batched,
           "one proposal at a time", single, "engine steps (batched phase)",
           step_rate, steps, now() - t_start);

    for (int i = 0; i < NODES; i++) {
        crash(&nodes[i]);
        free(nodes[i].log);
        free(nodes[i].bytes);
    }
    for (size_t i = 0; i < NET_SLOTS; i++) {
        free(net[i].bytes);
    }
    return 0;
}
