/*
 * examples/node_cluster.c: a replicated key-value store on craft_node, the
 * runtime: three nodes in one process, each with its own driver and apply
 * threads, its own storage and its own copy of the state machine. Copy it
 * as the start of your own program; `make` builds it as
 * build/examples/node_cluster and `make test` runs it.
 *
 * It uses what a test of your application would: the in-memory storage
 * and the in-process transport hub of <craft/testing.h> (included by
 * <craft.h>). A real deployment gives each node its own file storage
 * (craft_file_storage_open) and a network transport instead; nothing
 * else changes.
 *
 * What it does: bootstraps the cluster, writes keys through the leader
 * (craft_node_propose_wait: the call returns once the write is committed
 * and applied), then reads a key on a follower with a linearizable read
 * (craft_node_read_wait: it sees every write that completed before it).
 */
#include <craft.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES 3
#define KEYS 16

/* ---- the state machine -------------------------------------------------- */

/* A map of KEYS small integer keys to values. Commands are 16 bytes:
 * "set" keys are [u64 key][u64 value]. apply and the read functions run
 * on the node's apply thread only, so the store needs no lock. */
struct store {
    uint64_t value[KEYS];
    uint64_t applied;
};

static int store_apply(void *user, uint64_t index, uint64_t term,
                       const void *data, size_t len, const void **result,
                       size_t *result_len)
{
    struct store *s = user;
    (void)term;
    (void)result;
    (void)result_len;
    s->applied = index;
    if (len != 16) {
        return CRAFT_EINVAL; /* the proposer gets CRAFT_ECALLBACK */
    }
    uint64_t key, value;
    memcpy(&key, data, 8);
    memcpy(&value, (const char *)data + 8, 8);
    if (key >= KEYS) {
        return CRAFT_EINVAL;
    }
    s->value[key] = value;
    return CRAFT_OK;
}

/* A snapshot is the whole map. */
static int store_snapshot(void *user, uint64_t index, uint64_t term,
                          craft_snapshot_writer *w)
{
    struct store *s = user;
    (void)index;
    (void)term;
    return craft_snapshot_writer_write(w, s->value, sizeof(s->value));
}

static int store_restore(void *user, uint64_t index, uint64_t term,
                         craft_snapshot_reader *r)
{
    struct store *s = user;
    (void)term;
    size_t got = 0, n;
    do {
        int rv = craft_snapshot_reader_read(r, (char *)s->value + got,
                                            sizeof(s->value) - got, &n);
        if (rv != CRAFT_OK) {
            return rv;
        }
        got += n;
    } while (n > 0 && got < sizeof(s->value));
    s->applied = index;
    return got == sizeof(s->value) ? CRAFT_OK : CRAFT_EINVAL;
}

/* ---- the cluster ------------------------------------------------------ */

struct server {
    uint64_t id;
    craft_mem_storage *storage;
    craft_node *node;
    struct store store;
};

static struct server servers[NODES];
static craft_hub *hub;

static void check(int rv, const char *what)
{
    if (rv != CRAFT_OK) {
        fprintf(stderr, "node_cluster: %s: %s\n", what, craft_strerror(rv));
        exit(1);
    }
}

static void start(struct server *sv, const uint64_t *ids)
{
    craft_storage_ops storage = CRAFT_STORAGE_OPS_INIT;
    craft_transport_ops transport = CRAFT_TRANSPORT_OPS_INIT;
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    fsm.user = &sv->store;
    fsm.apply = store_apply;
    fsm.snapshot = store_snapshot;
    fsm.restore = store_restore;
    check(craft_mem_storage_create(NULL, &sv->storage), "mem storage");
    check(craft_mem_storage_ops(sv->storage, &storage), "storage ops");
    check(craft_hub_transport(hub, sv->id, &transport), "hub transport");

    craft_node_options o = CRAFT_NODE_OPTIONS_INIT;
    o.id = sv->id;
    o.storage = &storage;
    o.transport = &transport;
    o.fsm = &fsm;
    o.wait_leader = 1; /* calls made during an election wait for it */
    check(craft_node_create(&o, &sv->node), "craft_node_create");
    check(craft_hub_attach(hub, sv->id, sv->node), "hub attach");
    check(craft_node_bootstrap(sv->node, ids, NODES), "bootstrap");
    check(craft_node_start(sv->node), "start");
}

/* Writes key = value through the leader: another node answers
 * CRAFT_ENOTLEADER with the leader's id, and we ask that one. */
static void put(uint64_t key, uint64_t value)
{
    uint8_t cmd[16];
    memcpy(cmd, &key, 8);
    memcpy(cmd + 8, &value, 8);
    uint64_t at = 1;
    for (int tries = 0; tries < 10; tries++) {
        craft_result *res = NULL;
        int rv = craft_node_propose_wait(servers[at - 1].node, cmd,
                                         sizeof(cmd), 5000, &res);
        uint64_t hint = res != NULL ? craft_result_leader(res) : 0;
        uint64_t index = res != NULL ? craft_result_index(res) : 0;
        craft_result_free(res);
        if (rv == CRAFT_OK) {
            printf("put k%" PRIu64 " = %" PRIu64 ": committed at index %"
                   PRIu64 " by node %" PRIu64 "\n", key, value, index, at);
            return;
        }
        if (rv != CRAFT_ENOTLEADER || hint == CRAFT_NONE) {
            check(rv, "propose");
        }
        at = hint;
    }
    check(CRAFT_ETIMEDOUT, "no leader took the write");
}

struct read {
    struct server *sv;
    uint64_t key;
    uint64_t value;
};

/* Runs on the reading node's apply thread once it applied the read
 * index: its store reflects every write completed before the read. */
static int read_key(void *ctx, uint64_t index)
{
    struct read *r = ctx;
    (void)index;
    r->value = r->sv->store.value[r->key];
    return CRAFT_OK;
}

int main(void)
{
    const uint64_t ids[NODES] = {1, 2, 3};
    check(craft_hub_create(NULL, &hub), "hub");
    for (int i = 0; i < NODES; i++) {
        servers[i].id = ids[i];
        start(&servers[i], ids);
    }
    printf("craft %s node cluster: %d nodes in one process\n",
           craft_version_string(), NODES);

    for (uint64_t k = 0; k < 4; k++) {
        put(k, 100 + k);
    }
    put(2, 7); /* overwrite */

    /* A linearizable read on a follower. */
    uint64_t leader = craft_node_leader(servers[0].node);
    struct server *follower = &servers[leader == 1 ? 1 : 0];
    struct read r = {follower, 2, 0};
    check(craft_node_read_wait(follower->node, 5000, read_key, &r), "read");
    printf("read k2 on node %" PRIu64 " (leader %" PRIu64 "): %" PRIu64 "\n",
           follower->id, leader, r.value);
    if (r.value != 7) {
        fprintf(stderr, "node_cluster: the read missed the last write\n");
        return 1;
    }

    for (int i = 0; i < NODES; i++) {
        craft_hub_detach(hub, servers[i].id);
        craft_node_free(servers[i].node);
        craft_mem_storage_free(servers[i].storage);
    }
    craft_hub_free(hub);
    printf("ok\n");
    return 0;
}
