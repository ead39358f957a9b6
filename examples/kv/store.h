/*
 * examples/kv/store.h: craft-kv's state machine: a hash table of binary
 * keys and values, the encoding of the writes that go through the Raft
 * log, and the snapshot format.
 *
 * Threads: the store is changed only by kv_store_apply and
 * kv_store_restore, which the node runs on its apply thread; the read
 * commands run there too (in linearizable-read callbacks), so the table
 * needs no lock. The registry of client addresses (which server serves
 * RESP where) is also read by the event loop and has its own lock.
 */
#ifndef CRAFT_KV_STORE_H
#define CRAFT_KV_STORE_H

#include <craft.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "resp.h"

/* Write operations (the first byte of a log entry). */
enum kv_op {
    KV_OP_SET = 1,    /* key value; flags, aux = expiry (unix ms, 0: none) */
    KV_OP_DEL = 2,    /* key...; reply: how many existed */
    KV_OP_INCRBY = 3, /* key; aux = delta (int64) */
    KV_OP_MSET = 4,   /* key value ... */
    KV_OP_ADDR = 5,   /* addr; aux = server id: its RESP address */
    KV_OP_FLUSH = 6   /* every key deleted */
};

#define KV_SET_NX 0x1u
#define KV_SET_XX 0x2u
#define KV_SET_GET 0x4u

#define KV_MAX_SERVERS 256
#define KV_MAX_ADDR 255

/* The entry header: op u8, flags u8, 2 bytes 0, argc u32, time u64 (the
 * proposer's wall clock, unix ms), aux u64; then argc times (u32 length,
 * bytes). Little-endian. */
#define KV_ENTRY_HEADER 24u

struct kv_ent;

typedef struct kv_store {
    struct kv_ent **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t timed;    /* entries with an expiry (DBSIZE scans only then) */
    uint64_t seed;
    uint64_t clock; /* the largest entry time applied: the replicated
                       clock that write expiries are judged by */
    kvbuf reply;    /* the last apply's reply (the proposer's result) */
    pthread_mutex_t addr_mu;
    uint64_t addr_id[KV_MAX_SERVERS];
    char addr[KV_MAX_SERVERS][KV_MAX_ADDR + 1];
    size_t naddr;
    atomic_uint_fast64_t keys; /* count, for other threads */
    atomic_uint_fast64_t writes_applied;
    atomic_uint_fast64_t snapshots;
    atomic_uint_fast64_t restores;
} kv_store;

int kv_store_init(kv_store *s);
void kv_store_destroy(kv_store *s);

/* Encodes a write into b: the header, then args. */
void kv_entry_encode(kvbuf *b, int op, unsigned flags, uint64_t now_ms,
                     uint64_t aux, const resp_arg *args, size_t nargs);

/* The fsm callbacks (craft_fsm_ops), user = the store. apply decodes the
 * entry without trusting it (a malformed one changes nothing and fails
 * with CRAFT_EMALFORMED) and returns the RESP reply as its result. */
int kv_store_apply(void *user, uint64_t index, uint64_t term,
                   const void *data, size_t len, const void **result,
                   size_t *result_len);
int kv_store_snapshot(void *user, uint64_t index, uint64_t term,
                      craft_snapshot_writer *w);
int kv_store_restore(void *user, uint64_t index, uint64_t term,
                     craft_snapshot_reader *r);

/* Reads (on the apply thread only): append the RESP reply to out. now_ms
 * is the caller's wall clock, against which reads judge expiry. */
void kv_store_get(kv_store *s, const resp_arg *key, uint64_t now_ms,
                  kvbuf *out);
int kv_store_exists(kv_store *s, const resp_arg *key, uint64_t now_ms);
size_t kv_store_strlen(kv_store *s, const resp_arg *key, uint64_t now_ms);
/* The number of keys not expired at now_ms (DBSIZE): the count, or a
 * scan when some key has an expiry. */
size_t kv_store_dbsize(kv_store *s, uint64_t now_ms);
/* Milliseconds to live: -2 no key, -1 no expiry. */
int64_t kv_store_pttl(kv_store *s, const resp_arg *key, uint64_t now_ms);

/* The RESP address of server id into buf (NUL-terminated); 0 when
 * known, -1 otherwise. Any thread. */
int kv_store_addr(kv_store *s, uint64_t id, char *buf, size_t cap);

uint64_t kv_now_ms(void);

#endif
