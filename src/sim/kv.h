/*
 * sim/kv.h: the replicated state machine of the simulation, a small
 * key-value store of 64-bit values with put, get and compare-and-set,
 * and its snapshot format.
 */
#ifndef CRAFT_SIM_KV_H
#define CRAFT_SIM_KV_H

#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_KEYS 64u
#define SIM_CMD_BYTES 32u

enum sim_cmd_type {
    SIM_CMD_PUT = 1,  /* a: value */
    SIM_CMD_GET = 2,
    SIM_CMD_CAS = 3,  /* a: expected, b: new */
    SIM_CMD_MARK = 4, /* no effect: the liveness probe */
    SIM_CMD_INCR = 5  /* a: delta; result: the new value. Only in
                         histories read from files (craft-lincheck): the
                         simulator's store does not run it */
};

struct sim_cmd {
    uint32_t type;
    uint32_t key;
    uint64_t id; /* operation id in the history */
    uint64_t a, b;
};

/* Writes SIM_CMD_BYTES bytes. */
void sim_cmd_encode(const struct sim_cmd *c, uint8_t *buf);
/* 0 when buf is a command, -1 otherwise. */
int sim_cmd_decode(const void *buf, size_t len, struct sim_cmd *c);

struct sim_kv {
    uint64_t applied; /* last log index applied */
    uint64_t hash;    /* log prefix hash through applied */
    uint32_t nkeys;
    uint64_t val[SIM_MAX_KEYS];
};

void sim_kv_init(struct sim_kv *kv, uint32_t nkeys);
/* Applies c; returns the result: GET the value, CAS 1 on success else 0,
 * PUT and MARK 0. */
uint64_t sim_kv_exec(struct sim_kv *kv, const struct sim_cmd *c);

/* Snapshot bytes: header, values, pad bytes of a pattern, checksum. */
size_t sim_kv_snapshot_size(const struct sim_kv *kv, uint32_t pad);
void sim_kv_snapshot(const struct sim_kv *kv, uint64_t term, uint32_t pad,
                     uint8_t *out);
/* Restores *kv from snapshot bytes, which must be intact and say index
 * and term. -1 (kv untouched) otherwise. */
int sim_kv_restore(struct sim_kv *kv, const uint8_t *buf, size_t len,
                   uint64_t index, uint64_t term);

#endif /* CRAFT_SIM_KV_H */
