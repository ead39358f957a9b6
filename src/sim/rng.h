/*
 * sim/rng.h: the simulator's own pseudo-random numbers.
 *
 * Everything random in a run is drawn from splitmix64 streams derived from
 * the one 64-bit seed, so a seed replays exactly, on any machine and with
 * any compiler: only integer arithmetic, no floating point, no libc rand.
 * Each concern (network, disk, chaos, clients, ...) draws from its own
 * stream, so turning one chaos kind off leaves the others' draws alone.
 */
#ifndef CRAFT_SIM_RNG_H
#define CRAFT_SIM_RNG_H

#include <stdint.h>

struct sim_rng {
    uint64_t s;
};

static inline uint64_t sim_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Stream `stream` of seed. */
static inline void sim_rng_init(struct sim_rng *r, uint64_t seed,
                                uint64_t stream)
{
    uint64_t s = seed ^ (stream * 0xD1B54A32D192ED03ull);
    r->s = sim_splitmix(&s);
}

static inline uint64_t sim_rng_next(struct sim_rng *r)
{
    return sim_splitmix(&r->s);
}

/* Uniform in [0, n); 0 when n is 0. */
static inline uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
    return n == 0 ? 0 : sim_rng_next(r) % n;
}

/* Uniform in [lo, hi] (lo when hi < lo). */
static inline uint64_t sim_rng_range(struct sim_rng *r, uint64_t lo,
                                     uint64_t hi)
{
    return hi <= lo ? lo : lo + sim_rng_below(r, hi - lo + 1);
}

/* Rates are in parts per million. */
#define SIM_PPM 1000000u

/* True with probability ppm / 1e6. */
static inline int sim_rng_chance(struct sim_rng *r, uint32_t ppm)
{
    return ppm != 0 && sim_rng_below(r, SIM_PPM) < ppm;
}

#endif /* CRAFT_SIM_RNG_H */
