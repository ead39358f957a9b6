/*
 * sim/disk.h: one node's simulated disk.
 *
 * Writes (hard state, truncate, append, snapshot) queue up in order and
 * become durable one after the other when their latency has passed, like
 * a write-ahead log and its fsyncs. A crash throws away everything not
 * durable yet; a torn crash keeps a prefix of the entries of the append
 * in progress (the torn record itself fails its checksum and is dropped).
 * Only durable state survives a restart.
 */
#ifndef CRAFT_SIM_DISK_H
#define CRAFT_SIM_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "codec/conf.h"
#include "codec/message.h"
#include "sim/rng.h"
#include "sim/win.h"

/* Payloads in the simulation are small: KV commands, configurations of up
 * to 9 members, no-ops. */
#define SIM_PAYLOAD_MAX 96u

struct sim_dentry {
    uint64_t term;
    uint32_t type;
    uint32_t len;
    uint8_t data[SIM_PAYLOAD_MAX];
};

struct sim_snap {
    uint64_t index;
    uint64_t term;
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t conf_len;
    uint8_t *data;
    size_t len;
    size_t cap;
};

enum sim_op_type {
    SIM_OP_HS = 1,
    SIM_OP_TRUNCATE,
    SIM_OP_APPEND,
    SIM_OP_SNAPSHOT
};

struct sim_op {
    uint64_t seq;
    uint64_t done_at;
    uint32_t type;
    int report;           /* SNAPSHOT: tell the engine when durable */
    uint64_t a, b;        /* HS: term, vote; TRUNCATE: index;
                             APPEND: first index, count */
    struct sim_snap *snap; /* SNAPSHOT (owned) */
};

/* What a batch of completed writes means for the engine. */
struct sim_done {
    int appended;                /* an APPEND became durable */
    uint64_t last_index, last_term; /* durable log end then */
    int snapshot;                /* a reported SNAPSHOT became durable */
    uint64_t snap_index, snap_term;
    int gap;                     /* an APPEND did not follow the log */
};

struct sim_disk {
    /* Durable. */
    uint64_t term;
    uint64_t vote;
    struct sim_win log;      /* struct sim_dentry */
    struct sim_snap snap[2]; /* [0] newest, [1] the one before (index 0:
                                none) */
    /* Queued writes, oldest first (rings). */
    struct sim_op *ops;
    size_t op_head, op_n, op_cap;
    struct sim_dentry *pend; /* entries of queued APPENDs */
    size_t p_head, p_n, p_cap;
    uint64_t seq;        /* last write queued */
    uint64_t durable;    /* last write durable */
    uint64_t busy_until; /* when the last queued write completes */
};

void sim_disk_init(struct sim_disk *d);
void sim_disk_free(struct sim_disk *d);

/* Queue writes; done_at = max(busy_until, now + latency). Each returns
 * the write's sequence number, 0 when out of memory (or, for append, when
 * a payload exceeds SIM_PAYLOAD_MAX). */
uint64_t sim_disk_hs(struct sim_disk *d, uint64_t term, uint64_t vote,
                     uint64_t done_at);
uint64_t sim_disk_truncate(struct sim_disk *d, uint64_t index,
                           uint64_t done_at);
uint64_t sim_disk_append(struct sim_disk *d, uint64_t index,
                         const struct craft_entry *ents, size_t count,
                         uint64_t done_at);
/* Takes ownership of snap (heap-allocated). */
uint64_t sim_disk_snapshot(struct sim_disk *d, struct sim_snap *snap,
                           int report, uint64_t done_at);

/* Completion time of write seq (0 if not queued). */
uint64_t sim_disk_done_at(const struct sim_disk *d, uint64_t seq);

/* Makes every queued write up to seq durable. */
void sim_disk_complete(struct sim_disk *d, uint64_t seq,
                       struct sim_done *done);

/* A crash: queued writes are lost, except that with torn set a prefix of
 * the entries of the first queued APPEND (if it comes first) survives,
 * how many drawn from rng. Returns entries that survived that way. */
size_t sim_disk_crash(struct sim_disk *d, int torn, struct sim_rng *rng);

/* Durable entry at index or NULL. */
static inline const struct sim_dentry *sim_disk_entry(const struct sim_disk *d,
                                                      uint64_t index)
{
    return (const struct sim_dentry *)sim_win_at(&d->log, index);
}

/* True when the durable state holds entry index with that term (a durable
 * snapshot at or past index counts: it holds only committed entries). */
int sim_disk_holds(const struct sim_disk *d, uint64_t index, uint64_t term);

void sim_snap_free(struct sim_snap *s);
/* Copies bytes into s->data at offset (growing it). -1: no memory. */
int sim_snap_write(struct sim_snap *s, uint64_t offset, const void *data,
                   size_t len);

#endif /* CRAFT_SIM_DISK_H */
