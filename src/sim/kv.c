/*
 * sim/kv.c: the key-value state machine and its snapshots.
 */
#include "sim/kv.h"

#include <string.h>

#include "sim/hash.h"

#define CMD_MAGIC 0x4Bu          /* 'K' */
#define SNAP_MAGIC 0x50414E53u   /* "SNAP" */
#define SNAP_HEADER 48u

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

void sim_cmd_encode(const struct sim_cmd *c, uint8_t *buf)
{
    memset(buf, 0, SIM_CMD_BYTES);
    buf[0] = CMD_MAGIC;
    buf[1] = (uint8_t)c->type;
    buf[2] = (uint8_t)c->key;
    put64(buf + 8, c->id);
    put64(buf + 16, c->a);
    put64(buf + 24, c->b);
}

int sim_cmd_decode(const void *p, size_t len, struct sim_cmd *c)
{
    const uint8_t *buf = p;
    if (len != SIM_CMD_BYTES || buf[0] != CMD_MAGIC || buf[1] < SIM_CMD_PUT ||
        buf[1] > SIM_CMD_MARK || buf[2] >= SIM_MAX_KEYS) {
        return -1;
    }
    c->type = buf[1];
    c->key = buf[2];
    c->id = get64(buf + 8);
    c->a = get64(buf + 16);
    c->b = get64(buf + 24);
    return 0;
}

void sim_kv_init(struct sim_kv *kv, uint32_t nkeys)
{
    memset(kv, 0, sizeof(*kv));
    kv->nkeys = nkeys > SIM_MAX_KEYS ? SIM_MAX_KEYS : nkeys;
}

uint64_t sim_kv_exec(struct sim_kv *kv, const struct sim_cmd *c)
{
    uint64_t *v = c->key < kv->nkeys ? &kv->val[c->key] : NULL;
    switch (c->type) {
    case SIM_CMD_PUT:
        if (v != NULL) {
            *v = c->a;
        }
        return 0;
    case SIM_CMD_GET:
        return v != NULL ? *v : 0;
    case SIM_CMD_CAS:
        if (v != NULL && *v == c->a) {
            *v = c->b;
            return 1;
        }
        return 0;
    default:
        return 0;
    }
}

size_t sim_kv_snapshot_size(const struct sim_kv *kv, uint32_t pad)
{
    return SNAP_HEADER + 8u * kv->nkeys + pad + 8u;
}

static uint8_t pad_byte(uint64_t index, uint32_t j)
{
    return (uint8_t)sim_mix(index, j);
}

void sim_kv_snapshot(const struct sim_kv *kv, uint64_t term, uint32_t pad,
                     uint8_t *out)
{
    uint8_t *p = out;
    put32(p, SNAP_MAGIC);
    put32(p + 4, kv->nkeys);
    put64(p + 8, kv->applied);
    put64(p + 16, term);
    put64(p + 24, kv->hash);
    put32(p + 32, pad);
    memset(p + 36, 0, SNAP_HEADER - 36);
    p += SNAP_HEADER;
    for (uint32_t k = 0; k < kv->nkeys; k++, p += 8) {
        put64(p, kv->val[k]);
    }
    for (uint32_t j = 0; j < pad; j++) {
        *p++ = pad_byte(kv->applied, j);
    }
    put64(p, sim_hash_bytes(out, (size_t)(p - out)));
}

int sim_kv_restore(struct sim_kv *kv, const uint8_t *buf, size_t len,
                   uint64_t index, uint64_t term)
{
    if (len < SNAP_HEADER + 8u || get32(buf) != SNAP_MAGIC) {
        return -1;
    }
    uint32_t nkeys = get32(buf + 4);
    uint32_t pad = get32(buf + 32);
    if (nkeys > SIM_MAX_KEYS ||
        len != SNAP_HEADER + 8u * (size_t)nkeys + pad + 8u ||
        get64(buf + len - 8) != sim_hash_bytes(buf, len - 8) ||
        get64(buf + 8) != index || get64(buf + 16) != term) {
        return -1;
    }
    const uint8_t *p = buf + SNAP_HEADER + 8u * (size_t)nkeys;
    for (uint32_t j = 0; j < pad; j++) {
        if (p[j] != pad_byte(index, j)) {
            return -1;
        }
    }
    memset(kv, 0, sizeof(*kv));
    kv->nkeys = nkeys;
    kv->applied = index;
    kv->hash = get64(buf + 24);
    for (uint32_t k = 0; k < nkeys; k++) {
        kv->val[k] = get64(buf + SNAP_HEADER + 8u * k);
    }
    return 0;
}
