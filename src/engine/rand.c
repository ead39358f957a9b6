/*
 * engine/rand.c: the engine's only source of randomness, a splitmix64
 * stream seeded from the options, so runs are reproducible (§5.2 needs
 * randomized election timeouts, nothing needs entropy).
 */
#include "engine/engine.h"

uint64_t craft_rand(struct craft_engine *e)
{
    uint64_t z = (e->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* §5.2: each server picks its timeout at random in [T, 2T) so that split
 * votes are rare and resolve quickly. */
void craft_reset_election_timeout(struct craft_engine *e)
{
    uint32_t t = e->opts.election_ticks;
    e->election_elapsed = 0;
    e->election_timeout = t + (uint32_t)(craft_rand(e) % t);
}
