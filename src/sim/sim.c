/*
 * sim/sim.c: a run: setting up the world, the event loop, and the final
 * checks. (What each event does is in dispatch.c.)
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/hash.h"
#include "sim/lincheck.h"
#include "sim/world.h"

/* Memo budget of the linearizability check, per segment (64-bit words). */
#define SIM_LIN_BUDGET (32u * 1024u * 1024u)

void sim_fail(struct sim *s, int check, const char *fmt, ...)
{
    struct sim_result *r = s->res;
    if (check > SIM_V_NONE && check < 64 && ((s->opt.skip >> check) & 1u)) {
        return; /* not reported: the run goes on */
    }
    if (!s->stop || s->stop == 2) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof(r->message), fmt, ap);
        va_end(ap);
        r->check = check;
        r->violation_step = r->steps;
        r->violations = check != SIM_V_NONE;
        sim_trace_note(s, "VIOLATION %s: %s", sim_check_name(check),
                       r->message);
    }
    s->stop = check != SIM_V_NONE ? 1 : -1;
}

void sim_push(struct sim *s, struct sim_ev *ev)
{
    if (sim_heap_push(&s->heap, ev) != 0) {
        sim_fail(s, SIM_V_NONE, "out of memory");
    }
}

struct sim_node *sim_node_of(struct sim *s, uint64_t id)
{
    return (id >= 1 && id <= s->nslots) ? &s->node[id - 1] : NULL;
}

/* ---- setup and teardown --------------------------------------------- */

static int setup(struct sim *s, const struct sim_options *o,
                 struct sim_result *r)
{
    memset(s, 0, sizeof(*s));
    s->opt = *o;
    s->res = r;
    s->trace = o->trace;
    memset(r, 0, sizeof(*r));
    r->seed = o->seed;
    if (o->nodes < 1 || o->nodes > SIM_MAX_NODES || o->keys < 1 ||
        o->keys > SIM_MAX_KEYS || o->clients > SIM_MAX_CLIENTS) {
        snprintf(r->message, sizeof(r->message),
                 "bad options: nodes 1..%u, keys 1..%u, clients 0..%u",
                 SIM_MAX_NODES, SIM_MAX_KEYS, SIM_MAX_CLIENTS);
        return -1;
    }
#ifndef CRAFT_PLANTED_BUGS
    if (o->planted_bug != SIM_BUG_NONE) {
        snprintf(r->message, sizeof(r->message),
                 "planted bugs need a build with -DCRAFT_PLANTED_BUGS");
        return -1;
    }
#endif
    for (int k = 0; k < SIM_RNG_COUNT; k++) {
        sim_rng_init(&s->rng[k], o->seed, (uint64_t)k);
    }
    sim_heap_init(&s->heap);
    sim_net_init(&s->net);
    sim_inv_init(&s->inv);
    sim_history_init(&s->hist);
    sim_params_draw(s);
    s->hash = sim_mix(SIM_HASH_INIT, o->seed);
    uint32_t spares = o->rate[SIM_K_MEMBER] > 0 ? 2 : 0;
    s->nslots = o->nodes + spares > SIM_MAX_NODES ? SIM_MAX_NODES
                                                   : o->nodes + spares;
    for (uint32_t k = 0; k < s->nslots; k++) {
        struct sim_node *n = &s->node[k];
        n->slot = k;
        n->id = (uint64_t)k + 1;
        n->inc = 1;
        n->founder = k < o->nodes;
        n->tick_period = s->par.tick;
        sim_disk_init(&n->disk);
        sim_win_init(&n->shadow, sizeof(struct sim_sentry));
        sim_win_init(&n->applyq, sizeof(struct sim_dentry));
    }
    return 0;
}

static void teardown(struct sim *s)
{
    struct sim_ev ev;
    while (sim_heap_pop(&s->heap, &ev)) {
        if (ev.type == SIM_EV_MSG) {
            sim_msg_put(&s->net, ev.p);
        }
    }
    for (uint32_t k = 0; k < s->nslots; k++) {
        struct sim_node *n = &s->node[k];
        craft_engine_free(n->e);
        craft_actions_free(n->acts);
        sim_disk_free(&n->disk);
        sim_win_free(&n->shadow);
        sim_win_free(&n->applyq);
        sim_snap_free(&n->in);
    }
    free(s->receipts);
    sim_heap_free(&s->heap);
    sim_net_free(&s->net);
    sim_inv_free(&s->inv);
    sim_history_free(&s->hist);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void start(struct sim *s)
{
    for (uint32_t k = 0; k < s->nslots && !s->stop; k++) {
        sim_node_boot(s, &s->node[k]);
    }
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    ev.time = s->par.tick;
    ev.type = SIM_EV_CHAOS;
    sim_push(s, &ev);
    for (uint32_t c = 0; c < s->opt.clients; c++) {
        memset(&ev, 0, sizeof(ev));
        ev.time = s->par.tick + sim_rng_below(&s->rng[SIM_RNG_CLIENT],
                                              s->par.tick);
        ev.type = SIM_EV_CLIENT;
        ev.a = c;
        sim_push(s, &ev);
    }
    /* The first phase is calm: a cluster must form before chaos. */
    sim_chaos_calm(s, 0);
}

static void progress(struct sim *s, double t0, uint64_t *next)
{
    if (s->opt.progress == NULL || s->opt.progress_every == 0 ||
        s->res->steps < *next) {
        return;
    }
    *next += s->opt.progress_every;
    double dt = wall() - t0;
    fprintf(s->opt.progress,
            "  seed 0x%" PRIx64 ": %" PRIu64 " steps (%.0f%%), %.0f steps/s, "
            "%" PRIu64 " ticks, %" PRIu64 " commits, %" PRIu64
            " elections\n",
            s->opt.seed, s->res->steps,
            100.0 * (double)s->res->steps / (double)s->opt.steps,
            dt > 0 ? (double)s->res->steps / dt : 0.0, sim_ticks(s),
            s->res->commits, s->res->elections);
    fflush(s->opt.progress);
}

static void check_history(struct sim *s)
{
    struct sim_result *r = s->res;
    for (size_t i = 0; i < s->hist.n; i++) {
        const struct sim_hop *op = &s->hist.v[i];
        if (op->client == SIM_PROBE_CLIENT) {
            continue;
        }
        if (op->status == SIM_HOP_OK) {
            r->ops_ok++;
        } else if (op->status == SIM_HOP_FAILED) {
            r->ops_failed++;
        } else {
            r->ops_unknown++;
        }
    }
    double t0 = wall();
    struct sim_lin *lin = malloc(sizeof(*lin));
    if (lin == NULL) {
        sim_fail(s, SIM_V_NONE, "out of memory");
        return;
    }
    int rv = sim_lincheck(&s->hist, s->opt.keys, SIM_LIN_BUDGET, lin);
    r->check_seconds = wall() - t0;
    r->lin_keys = lin->keys;
    r->lin_inconclusive = lin->inconclusive;
    if (rv < 0) {
        sim_fail(s, SIM_V_NONE, "out of memory in the checker");
    } else if (rv == 0) {
        s->stop = 0;
        sim_fail(s, SIM_V_LINEARIZABILITY, "%s", lin->message);
    }
    free(lin);
}

int sim_create(const struct sim_options *o, struct sim_result *r,
               struct sim **out)
{
    struct sim *s = malloc(sizeof(*s));
    if (s == NULL) {
        memset(r, 0, sizeof(*r));
        snprintf(r->message, sizeof(r->message), "out of memory");
        return -1;
    }
    if (setup(s, o, r) != 0) {
        free(s);
        return -1;
    }
    start(s);
    *out = s;
    return s->stop == -1 ? -1 : 0;
}

static int status(const struct sim *s)
{
    if (s->stop == -1) {
        return -1;
    }
    if (s->res->violations > 0) {
        return 1;
    }
    return s->stop == 2 ? 2 : 0;
}

/* The event loop. With final set, the final phase starts once the steps
 * reach the options' budget and the loop runs until the run ends;
 * otherwise it returns as soon as the steps reach `until`. */
static void loop(struct sim *s, uint64_t until, int final)
{
    struct sim_result *r = s->res;
    uint64_t next_progress = s->opt.progress_every;
    double t0 = wall();
    struct sim_ev ev;
    while (!s->stop && (final || r->steps < until) &&
           sim_heap_pop(&s->heap, &ev)) {
        if (ev.time > s->now) {
            s->now = ev.time;
        }
        sim_dispatch(s, &ev);
        if (final && r->steps >= s->opt.steps &&
            s->phase != SIM_PHASE_FINAL && !s->stop) {
            sim_chaos_calm(s, 1);
        }
        progress(s, t0, &next_progress);
    }
    r->seconds += wall() - t0;
    r->ticks = sim_ticks(s);
    r->trace_hash = s->hash;
}

int sim_advance(struct sim *s, uint64_t steps)
{
    loop(s, steps, 0);
    return status(s);
}

int sim_finish(struct sim *s)
{
    loop(s, 0, 1);
    if (s->stop == 2) {
        check_history(s);
        s->res->trace_hash = s->hash;
    }
    if (s->opt.history != NULL &&
        sim_history_write(&s->hist, s->opt.history) != 0) {
        sim_fail(s, SIM_V_NONE, "cannot write the history");
    }
    return status(s);
}

void sim_destroy(struct sim *s)
{
    if (s != NULL) {
        teardown(s);
        free(s);
    }
}

int sim_run(const struct sim_options *o, struct sim_result *r)
{
    struct sim *s;
    if (sim_create(o, r, &s) != 0) {
        if (r->message[0] == 0) {
            snprintf(r->message, sizeof(r->message), "cannot start");
        }
        return -1;
    }
    int rv = sim_finish(s);
    sim_destroy(s);
    return rv == 2 ? 0 : rv;
}
