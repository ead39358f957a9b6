/*
 * sim/params.c: the parameters of a run, drawn from its seed. By default
 * the engine's options are randomized too (timeouts, flow control, pre-vote
 * and check-quorum, lease reads, snapshot thresholds and chunk sizes), so
 * that many seeds cover many configurations.
 */
#include "sim/world.h"

static uint64_t pick(struct sim_rng *r, const uint64_t *v, size_t n)
{
    return v[sim_rng_below(r, n)];
}

void sim_params_draw(struct sim *s)
{
    struct sim_params *p = &s->par;
    struct sim_rng *r = &s->rng[SIM_RNG_PARAMS];
    int snapshots = s->opt.rate[SIM_K_SNAPSHOT] > 0;
    craft_engine_options_init(&p->eng);
    p->tick = 1000;
    p->lat_min = 20;
    p->lat_max = 200;
    p->disk_min = 10;
    p->disk_max = 150;
    p->skew_ppm = 50000;
    p->snap_pad = 256;
    if (snapshots) {
        p->eng.snapshot_entries = 64;
        p->eng.snapshot_trailing = 8;
        p->eng.snapshot_chunk_bytes = 64;
    }
    if (s->opt.randomize) {
        static const uint64_t inflight[] = {1, 2, 4, 32, 256};
        static const uint64_t msg_bytes[] = {40, 100, 400, 1u << 20};
        craft_engine_options *o = &p->eng;
        o->election_ticks = (uint32_t)sim_rng_range(r, 5, 20);
        o->heartbeat_ticks =
            (uint32_t)sim_rng_range(r, 1, o->election_ticks / 4);
        o->max_inflight = (uint32_t)pick(r, inflight, 5);
        o->max_msg_bytes = (uint32_t)pick(r, msg_bytes, 4);
        o->pre_vote = !sim_rng_chance(r, 100000);
        o->check_quorum = !sim_rng_chance(r, 100000);
        o->lease_reads = o->check_quorum && sim_rng_chance(r, 250000);
        if (snapshots) {
            o->snapshot_entries = sim_rng_range(r, 16, 256);
            o->snapshot_bytes =
                sim_rng_chance(r, 300000) ? sim_rng_range(r, 256, 4096) : 0;
            o->snapshot_trailing = sim_rng_range(r, 0, 24);
            o->snapshot_chunk_bytes = (uint32_t)sim_rng_range(r, 8, 256);
        }
        o->catchup_rounds = (uint32_t)sim_rng_range(r, 2, 10);
        p->lat_min = sim_rng_range(r, 10, 100);
        p->lat_max = p->lat_min + sim_rng_range(r, 20, 600);
        p->disk_min = sim_rng_range(r, 5, 100);
        p->disk_max = p->disk_min + sim_rng_range(r, 10, 400);
        if (s->opt.lease >= 0) {
            o->lease_reads = s->opt.lease;
            o->check_quorum |= s->opt.lease;
        }
        /* Leases assume clocks that drift less than the lease's margin
         * (thesis §6.4.1): keep the skew well inside it. */
        p->skew_ppm = (uint32_t)(o->lease_reads ? sim_rng_range(r, 0, 20000)
                                                : sim_rng_range(r, 0, 200000));
        p->snap_pad = (uint32_t)sim_rng_range(r, 0, 2048);
    }
    if (!s->opt.randomize && s->opt.lease >= 0) {
        p->eng.lease_reads = s->opt.lease;
        p->eng.check_quorum |= s->opt.lease;
    }
    p->min_voters = s->opt.nodes < 3 ? s->opt.nodes : 3;
    p->op_timeout = 6ull * p->eng.election_ticks;
    p->live_bound = 60ull * p->eng.election_ticks;
    p->chaos_min = 100;
    p->chaos_max = 400;
}
