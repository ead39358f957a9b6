/*
 * sim/hash.h: cheap 64-bit mixing for the trace hash, log prefix hashes
 * and memo tables. Not cryptographic; collisions only weaken a check.
 */
#ifndef CRAFT_SIM_HASH_H
#define CRAFT_SIM_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SIM_HASH_INIT 0xCBF29CE484222325ull

/* Folds x into h. */
static inline uint64_t sim_mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 33);
}

static inline uint64_t sim_hash_bytes(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t h = sim_mix(SIM_HASH_INIT, len);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        h = sim_mix(h, w);
        b += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t w = 0;
        memcpy(&w, b, len);
        h = sim_mix(h, w);
    }
    return h;
}

/* The prefix hash of a log through entry (index, term, type, payload)
 * given the prefix hash through index - 1: equal prefix hashes mean equal
 * logs up to index (Log Matching, §5.3), with high probability. */
static inline uint64_t sim_prefix_hash(uint64_t prev, uint64_t index,
                                       uint64_t term, uint32_t type,
                                       const void *data, size_t len)
{
    uint64_t h = sim_mix(prev, index);
    h = sim_mix(h, term);
    h = sim_mix(h, type);
    return sim_mix(h, len > 0 ? sim_hash_bytes(data, len) : 0);
}

#endif /* CRAFT_SIM_HASH_H */
