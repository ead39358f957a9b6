/*
 * sim/host.c: the simulated host carries out an engine's actions exactly
 * as include/craft/engine.h asks:
 *
 *  - in list order;
 *  - storage actions go to the disk queue; a SEND waits until every
 *    storage action before it in the same list is durable (the node's
 *    driver blocks: it takes no event meanwhile), while a SEND with no
 *    write before it leaves at once, so a leader's own APPEND (after its
 *    SENDs) is written in parallel with replication (thesis §10.2.1);
 *  - PERSISTED is reported once an APPEND is durable;
 *  - APPLY goes to the state machine in order (possibly late: slow apply);
 *  - the final SNAPSHOT_WRITE is durable before the next action, and
 *    SNAPSHOT_INSTALL completes before the next action.
 *
 * Anything else a host may do, it does as late as the contract allows,
 * which is what exposes an engine that relies on more than the contract.
 * The list itself is walked by the reference host's host_run
 * (host/host.h); the handlers below are this host's.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "sim/hash.h"
#include "sim/world.h"

uint64_t sim_disk_latency(struct sim *s, struct sim_node *n)
{
    uint64_t lat = sim_rng_range(&s->rng[SIM_RNG_DISK], s->par.disk_min,
                                 s->par.disk_max);
    if (s->now < n->slow_disk_until) {
        lat *= 10;
    }
    return lat;
}

/* Schedules the completion of write seq (one event per distinct time). */
static void schedule_disk(struct sim *s, struct sim_node *n, uint64_t seq)
{
    uint64_t at = sim_disk_done_at(&n->disk, seq);
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    ev.time = at;
    ev.type = SIM_EV_DISK;
    ev.node = n->slot;
    ev.inc = n->inc;
    ev.a = seq;
    sim_push(s, &ev);
}

static uint64_t submitted(struct sim *s, struct sim_node *n, uint64_t seq)
{
    if (seq == 0) {
        sim_fail(s, SIM_V_NONE, "node %" PRIu64 ": out of memory or payload"
                 " over %u bytes", n->id, SIM_PAYLOAD_MAX);
        return 0;
    }
    schedule_disk(s, n, seq);
    return seq;
}

static void block(struct sim_node *n, uint64_t seq)
{
    n->blocked = 1;
    n->block_seq = seq;
    n->block_until = sim_disk_done_at(&n->disk, seq);
}

void sim_host_disk_done(struct sim *s, struct sim_node *n, uint64_t seq)
{
    struct sim_done done;
    sim_disk_complete(&n->disk, seq, &done);
    if (done.gap) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 ": an APPEND left a gap in the durable log",
                 n->id);
        return;
    }
    if (done.appended) {
        struct sim_ev ev;
        memset(&ev, 0, sizeof(ev));
        ev.time = s->now;
        ev.type = SIM_EV_PERSISTED;
        ev.node = n->slot;
        ev.inc = n->inc;
        ev.a = done.last_index;
        ev.b = done.last_term;
        sim_push(s, &ev);
    }
    if (done.snapshot) {
        struct sim_ev ev;
        memset(&ev, 0, sizeof(ev));
        ev.time = s->now;
        ev.type = SIM_EV_SNAP_TAKEN;
        ev.node = n->slot;
        ev.inc = n->inc;
        ev.a = done.snap_index;
        ev.b = done.snap_term;
        sim_push(s, &ev);
    }
    if (n->blocked && n->disk.durable >= n->block_seq) {
        n->blocked = 0;
        sim_host_run(s, n);
    }
}

void sim_host_take_snapshot(struct sim *s, struct sim_node *n)
{
    uint64_t a = n->kv.applied;
    if (a == 0 || a <= n->disk.snap[0].index || a <= n->snap_queued ||
        a <= n->shadow.base) {
        return;
    }
    const struct sim_sentry *e = sim_shadow_at(n, a);
    const void *conf;
    size_t conf_len;
    if (e == NULL ||
        craft_engine_conf_at(n->e, a, &conf, &conf_len) != CRAFT_OK ||
        conf_len > CRAFT_CONF_MAX_BYTES) {
        return;
    }
    struct sim_snap *snap = calloc(1, sizeof(*snap));
    size_t len = sim_kv_snapshot_size(&n->kv, s->par.snap_pad);
    if (snap == NULL || (snap->data = malloc(len)) == NULL) {
        free(snap);
        sim_fail(s, SIM_V_NONE, "out of memory");
        return;
    }
    snap->cap = snap->len = len;
    sim_kv_snapshot(&n->kv, e->term, s->par.snap_pad, snap->data);
    snap->index = a;
    snap->term = e->term;
    memcpy(snap->conf, conf, conf_len);
    snap->conf_len = conf_len;
    uint64_t at = s->now + sim_disk_latency(s, n);
    n->snap_queued = a;
    submitted(s, n, sim_disk_snapshot(&n->disk, snap, 1, at));
    sim_trace_note(s, "n%" PRIu64 " snapshot at %" PRIu64 " (term %" PRIu64
                   ", %zu bytes)", n->id, a, e->term, len);
}

/* SNAPSHOT_WRITE: chunks of the incoming snapshot. Returns the write to
 * wait for before the next action (the final chunk), 0 otherwise. */
static uint64_t snapshot_write(struct sim *s, struct sim_node *n,
                               const struct craft_action *x)
{
    struct sim_snap *in = &n->in;
    if (x->offset == 0) {
        in->len = 0;
        in->index = x->index;
        in->term = x->term;
        n->in_active = 1;
    } else if (!n->in_active || in->index != x->index ||
               x->offset > in->len) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " writes snapshot %" PRIu64
                 " at offset %" PRIu64 " but holds %zu bytes of snapshot %"
                 PRIu64, n->id, x->index, x->offset, in->len, in->index);
        return 0;
    }
    if (sim_snap_write(in, x->offset, x->data, x->len) != 0) {
        sim_fail(s, SIM_V_NONE, "out of memory");
        return 0;
    }
    in->len = (size_t)x->offset + x->len;
    if (!(x->flags & CRAFT_ACTION_F_LAST)) {
        return 0;
    }
    if (x->conf_len > CRAFT_CONF_MAX_BYTES) {
        sim_fail(s, SIM_V_CONTRACT, "node %" PRIu64
                 ": snapshot membership of %zu bytes", n->id, x->conf_len);
        return 0;
    }
    struct sim_snap *snap = calloc(1, sizeof(*snap));
    if (snap == NULL || sim_snap_write(snap, 0, in->data, in->len) != 0) {
        free(snap);
        sim_fail(s, SIM_V_NONE, "out of memory");
        return 0;
    }
    snap->index = x->index;
    snap->term = x->term;
    memcpy(snap->conf, x->conf, x->conf_len);
    snap->conf_len = x->conf_len;
    n->in_active = 0;
    uint64_t at = s->now + sim_disk_latency(s, n);
    return submitted(s, n, sim_disk_snapshot(&n->disk, snap, 0, at));
}

/* SNAPSHOT_INSTALL: restore the state machine from the snapshot just
 * made durable; it must be exactly the committed state at its index. */
static void snapshot_install(struct sim *s, struct sim_node *n,
                             const struct craft_action *x)
{
    const struct sim_snap *snap = &n->disk.snap[0];
    if (snap->index != x->index || snap->term != x->term) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " installs snapshot %" PRIu64
                 " (term %" PRIu64 ") but its durable snapshot is %" PRIu64
                 " (term %" PRIu64 ")",
                 n->id, x->index, x->term, snap->index, snap->term);
        return;
    }
    struct sim_kv kv;
    if (sim_kv_restore(&kv, snap->data, snap->len, x->index, x->term) != 0) {
        sim_fail(s, SIM_V_SNAPSHOT,
                 "node %" PRIu64 " received snapshot %" PRIu64
                 " corrupt: its %zu bytes do not form the snapshot the "
                 "leader's host wrote",
                 n->id, x->index, snap->len);
        return;
    }
    const struct sim_sentry *c = sim_inv_committed(s, x->index);
    if (c != NULL && c->hash != kv.hash) {
        sim_fail(s, SIM_V_SNAPSHOT,
                 "node %" PRIu64 " installs a snapshot at %" PRIu64
                 " that is not the committed state there",
                 n->id, x->index);
        return;
    }
    n->kv = kv;
    sim_apply_reset(s, n);
    sim_client_reads(s, n);
}

static void snapshot_read(struct sim *s, struct sim_node *n,
                          const struct craft_action *x)
{
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    ev.time = s->now + sim_disk_latency(s, n);
    ev.type = SIM_EV_CHUNK;
    ev.node = n->slot;
    ev.inc = n->inc;
    ev.a = x->peer;
    ev.b = x->index;
    ev.c = x->offset;
    ev.count = (uint32_t)(x->count > UINT32_MAX ? UINT32_MAX : x->count);
    sim_push(s, &ev);
}

/* The handlers of host_run (host/host.h): each carries out one action of
 * node n. A handler that made the run stop (a violation, a crash) ends
 * the list, as the loop's condition did. */
struct run {
    struct sim *s;
    struct sim_node *n;
};

static const struct craft_action *action(craft_actions *a, size_t i)
{
    return &a->v[i];
}

static int go_on(const struct run *r)
{
    return r->s->stop || !r->n->up ? HOST_STOP_AFTER : HOST_NEXT;
}

static int on_hard_state(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    const struct craft_action *x = action(a, i);
    r->n->barrier = submitted(
        r->s, r->n,
        sim_disk_hs(&r->n->disk, x->term, x->vote,
                    r->s->now + sim_disk_latency(r->s, r->n)));
    return go_on(r);
}

static int on_truncate(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    const struct craft_action *x = action(a, i);
    r->n->barrier = submitted(
        r->s, r->n,
        sim_disk_truncate(&r->n->disk, x->index,
                          r->s->now + sim_disk_latency(r->s, r->n)));
    return go_on(r);
}

static int on_append(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    const struct craft_action *x = action(a, i);
    r->n->barrier = submitted(
        r->s, r->n,
        sim_disk_append(&r->n->disk, x->index, x->entries, (size_t)x->count,
                        r->s->now + sim_disk_latency(r->s, r->n)));
    return go_on(r);
}

/* A SEND waits until every write before it is durable: the driver
 * blocks, taking no event meanwhile. */
static int on_send(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    const struct craft_action *x = action(a, i);
    if (r->n->barrier > r->n->disk.durable) {
        block(r->n, r->n->barrier);
        return HOST_STOP;
    }
    sim_inv_send(r->s, r->n, &x->msg);
    if (!r->s->stop) {
        sim_net_send(r->s, r->n, &x->msg);
    }
    return go_on(r);
}

static int on_apply(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    const struct craft_action *x = action(a, i);
    sim_apply_queue(r->s, r->n, x->index, x->entries, (size_t)x->count);
    return go_on(r);
}

static int on_propose_result(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    sim_propose_result(r->s, r->n, action(a, i));
    return go_on(r);
}

static int on_read_result(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    sim_client_read_result(r->s, r->n, action(a, i));
    return go_on(r);
}

static int on_transfer_result(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    if (action(a, i)->status == CRAFT_OK) {
        r->s->res->transfers_ok++;
    }
    return go_on(r);
}

static int on_take_snapshot(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    struct sim_node *n = r->n;
    const struct craft_action *x = action(a, i);
    if (x->index > n->snap_want) {
        n->snap_want = x->index;
    }
    if (n->kv.applied >= n->snap_want) {
        n->snap_want = 0;
        sim_host_take_snapshot(r->s, n);
    }
    return go_on(r);
}

static int on_snapshot_read(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    snapshot_read(r->s, r->n, action(a, i));
    return go_on(r);
}

/* The final chunk is durable before the next action. */
static int on_snapshot_write(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    uint64_t wait_next = snapshot_write(r->s, r->n, action(a, i));
    if (wait_next != 0) {
        r->n->barrier = wait_next;
        if (r->n->disk.durable < wait_next) {
            block(r->n, wait_next);
            return HOST_STOP_AFTER;
        }
    }
    return go_on(r);
}

static int on_snapshot_install(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    snapshot_install(r->s, r->n, action(a, i));
    return go_on(r);
}

static int on_unknown(void *ctx, craft_actions *a, size_t i)
{
    struct run *r = ctx;
    sim_fail(r->s, SIM_V_CONTRACT, "node %" PRIu64 ": unknown action type %u",
             r->n->id, action(a, i)->type);
    return HOST_STOP;
}

static const struct host_ops sim_host_ops = {
    .hard_state = on_hard_state,
    .append = on_append,
    .truncate = on_truncate,
    .send = on_send,
    .apply = on_apply,
    .role_change = NULL, /* seen by the checker */
    .propose_result = on_propose_result,
    .read_result = on_read_result,
    .transfer_result = on_transfer_result,
    .take_snapshot = on_take_snapshot,
    .snapshot_read = on_snapshot_read,
    .snapshot_write = on_snapshot_write,
    .snapshot_install = on_snapshot_install,
    .unknown = on_unknown,
};

void sim_host_run(struct sim *s, struct sim_node *n)
{
    if (s->stop || !n->up) {
        return;
    }
    struct run r = {s, n};
    host_run(&sim_host_ops, &r, n->acts, &n->next_act);
}
