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
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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

void sim_host_run(struct sim *s, struct sim_node *n)
{
    struct craft_actions *a = n->acts;
    while (n->next_act < a->n && !s->stop && n->up) {
        const struct craft_action *x = &a->v[n->next_act];
        uint64_t wait_next = 0;
        switch (x->type) {
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            n->barrier = submitted(
                s, n,
                sim_disk_hs(&n->disk, x->term, x->vote,
                            s->now + sim_disk_latency(s, n)));
            break;
        case CRAFT_ACTION_TRUNCATE:
            n->barrier = submitted(
                s, n,
                sim_disk_truncate(&n->disk, x->index,
                                  s->now + sim_disk_latency(s, n)));
            break;
        case CRAFT_ACTION_APPEND:
            n->barrier = submitted(
                s, n,
                sim_disk_append(&n->disk, x->index, x->entries,
                                (size_t)x->count,
                                s->now + sim_disk_latency(s, n)));
            break;
        case CRAFT_ACTION_SEND:
            if (n->barrier > n->disk.durable) {
                block(n, n->barrier);
                return;
            }
            sim_inv_send(s, n, &x->msg);
            if (!s->stop) {
                sim_net_send(s, n, &x->msg);
            }
            break;
        case CRAFT_ACTION_APPLY:
            sim_apply_queue(s, n, x->index, x->entries, (size_t)x->count);
            break;
        case CRAFT_ACTION_ROLE_CHANGE:
            break; /* seen by the checker */
        case CRAFT_ACTION_PROPOSE_RESULT:
            sim_propose_result(s, n, x);
            break;
        case CRAFT_ACTION_READ_RESULT:
            sim_client_read_result(s, n, x);
            break;
        case CRAFT_ACTION_TRANSFER_RESULT:
            if (x->status == CRAFT_OK) {
                s->res->transfers_ok++;
            }
            break;
        case CRAFT_ACTION_TAKE_SNAPSHOT:
            if (x->index > n->snap_want) {
                n->snap_want = x->index;
            }
            if (n->kv.applied >= n->snap_want) {
                n->snap_want = 0;
                sim_host_take_snapshot(s, n);
            }
            break;
        case CRAFT_ACTION_SNAPSHOT_READ:
            snapshot_read(s, n, x);
            break;
        case CRAFT_ACTION_SNAPSHOT_WRITE:
            wait_next = snapshot_write(s, n, x);
            if (wait_next != 0) {
                n->barrier = wait_next;
            }
            break;
        case CRAFT_ACTION_SNAPSHOT_INSTALL:
            snapshot_install(s, n, x);
            break;
        default:
            sim_fail(s, SIM_V_CONTRACT, "node %" PRIu64
                     ": unknown action type %u", n->id, x->type);
            return;
        }
        n->next_act++;
        if (wait_next != 0 && n->disk.durable < wait_next) {
            block(n, wait_next);
            return;
        }
    }
}
