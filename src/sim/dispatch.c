/*
 * sim/dispatch.c: what each event of the agenda does. Most deliver one
 * event to one engine: that is a step. A node whose host is blocked on
 * its disk takes no event until the write it waits for is durable; its
 * events wait (in order) until then.
 */
#include <inttypes.h>
#include <string.h>

#include "sim/world.h"

/* After a step of n (m: the message delivered, NULL for other events):
 * trace it, check it, carry out its actions. */
static int stepped(struct sim *s, struct sim_node *n, const craft_event *ev,
                   const struct craft_msg *m, int rv)
{
    sim_trace_step(s, n, ev, m, rv);
    sim_trace_actions(s, n);
    n->next_act = 0;
    n->barrier = 0;
    if (rv == CRAFT_OK) {
        uint64_t commit_before = n->commit;
        sim_inv_step(s, n, m != NULL ? NULL : ev);
        if (!s->stop && m != NULL) {
            sim_inv_follower_commit(s, n, m, commit_before);
        }
        if (!s->stop) {
            sim_inv_membership(s, n);
        }
        if (!s->stop) {
            sim_inv_read_step(s, n, m != NULL ? NULL : ev, m);
        }
        if (!s->stop) {
            sim_host_run(s, n);
        }
    }
    return rv;
}

int sim_step(struct sim *s, struct sim_node *n, const craft_event *ev,
             const struct craft_msg *msg)
{
    s->res->steps++;
    int rv = msg != NULL ? craft_step_msg(n->e, msg, n->acts)
                         : craft_engine_step(n->e, ev, n->acts);
    return stepped(s, n, ev, msg, rv);
}

/* ---- events --------------------------------------------------------- */

/* A message arrives: as a struct (the engine's internal entry point) or,
 * for messages that went through the codec, as bytes. */
static void deliver(struct sim *s, struct sim_node *n, struct sim_msg *m)
{
    int rv;
    if (m->wire_len > 0) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_MESSAGE;
        ev.data = m->buf;
        ev.len = m->wire_len;
        s->res->steps++;
        rv = stepped(s, n, &ev, &m->m,
                     craft_engine_step(n->e, &ev, n->acts));
    } else {
        rv = sim_step(s, n, NULL, &m->m);
    }
    if (rv == CRAFT_OK && !s->stop) {
        sim_calm_delivered(s, n, &m->m, m->sent);
    }
    if (rv != CRAFT_OK && !s->stop) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " rejects message type %u from %" PRIu64
                 " (a message its peer's engine emitted): %s",
                 n->id, m->m.type, m->m.from, craft_strerror(rv));
    }
}

static int simple_step(struct sim *s, struct sim_node *n, uint32_t type,
                       uint64_t index, uint64_t term)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = type;
    ev.index = index;
    ev.term = term;
    return sim_step(s, n, &ev, NULL);
}

static void snapshot_taken(struct sim *s, struct sim_node *n, uint64_t index,
                           uint64_t term)
{
    int rv = simple_step(s, n, CRAFT_EVENT_SNAPSHOT_TAKEN, index, term);
    if (rv == CRAFT_EINVAL && s->res->steps > 0) {
        const struct craft_engine *e = n->e;
        if (index > e->log.snap_index && index <= e->applied &&
            index > e->snapshot_index &&
            craft_log_term(&e->log, index) == term) {
            sim_fail(s, SIM_V_CONTRACT,
                     "node %" PRIu64 " refuses SNAPSHOT_TAKEN %" PRIu64
                     " (term %" PRIu64 ") of an applied entry",
                     n->id, index, term);
        }
    }
}

static void chunk(struct sim *s, struct sim_node *n, const struct sim_ev *ev)
{
    const struct sim_snap *snap = NULL;
    for (int k = 0; k < 2; k++) {
        if (n->disk.snap[k].index == ev->b && ev->b != 0) {
            snap = &n->disk.snap[k];
        }
    }
    craft_event ce = CRAFT_EVENT_INIT;
    ce.type = CRAFT_EVENT_SNAPSHOT_CHUNK;
    ce.peer = ev->a;
    ce.index = ev->b;
    ce.offset = ev->c;
    if (snap == NULL || ev->c > snap->len) {
        ce.flags = CRAFT_EVENT_F_FAILED;
    } else {
        size_t len = snap->len - (size_t)ev->c;
        if (len > ev->count) {
            len = ev->count;
        }
        ce.data = snap->data + ev->c;
        ce.len = len;
        if (ev->c + len == snap->len) {
            ce.flags = CRAFT_EVENT_F_LAST;
        }
    }
    int rv = sim_step(s, n, &ce, NULL);
    if (rv != CRAFT_OK && !s->stop) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " rejects the chunk it asked for "
                 "(snapshot %" PRIu64 " offset %" PRIu64 "): %s",
                 n->id, ev->b, ev->c, craft_strerror(rv));
    }
}

static void admin(struct sim *s, struct sim_node *n, const struct sim_ev *ev)
{
    craft_event ce = CRAFT_EVENT_INIT;
    ce.type = (uint32_t)ev->a;
    ce.peer = ev->b;
    ce.id = ev->c;
    int rv = sim_step(s, n, &ce, NULL);
    if (rv == CRAFT_EINVAL && ev->a < 16) {
        s->no_admin[ev->a] = 1; /* not implemented (yet) */
        s->res->unsupported |= 1ull << ev->a;
    }
}

static void node_event(struct sim *s, struct sim_ev *ev)
{
    struct sim_node *n = &s->node[ev->node];
    if (ev->type == SIM_EV_MSG) {
        struct sim_msg *m = ev->p;
        if (!n->up || s->net.cut[ev->a][ev->node]) {
            sim_msg_put(&s->net, m);
            return;
        }
        if (n->blocked) {
            ev->time = n->block_until > s->now ? n->block_until : s->now;
            sim_push(s, ev);
            return;
        }
        deliver(s, n, m);
        sim_msg_put(&s->net, m);
        return;
    }
    if (ev->type == SIM_EV_REQUEST && !n->up) {
        sim_client_request(s, n, ev->a); /* tries elsewhere */
        return;
    }
    if (!n->up || (ev->inc != 0 && ev->inc != n->inc)) {
        return; /* for an incarnation that crashed */
    }
    if (n->blocked && ev->type != SIM_EV_DISK && ev->type != SIM_EV_APPLY) {
        ev->time = n->block_until > s->now ? n->block_until : s->now;
        sim_push(s, ev);
        return;
    }
    int rv;
    switch (ev->type) {
    case SIM_EV_TICK:
        rv = simple_step(s, n, CRAFT_EVENT_TICK, 0, 0);
        if (rv != CRAFT_OK && !s->stop) {
            sim_fail(s, SIM_V_CONTRACT, "node %" PRIu64 " rejects a tick: %s",
                     n->id, craft_strerror(rv));
        }
        if (n->up && n->inc == ev->inc) {
            sim_node_schedule_tick(s, n, ev->a + n->tick_period);
        }
        break;
    case SIM_EV_DISK:
        sim_host_disk_done(s, n, ev->a);
        break;
    case SIM_EV_PERSISTED:
        rv = simple_step(s, n, CRAFT_EVENT_PERSISTED, ev->a, ev->b);
        if (rv != CRAFT_OK && !s->stop) {
            sim_fail(s, SIM_V_CONTRACT,
                     "node %" PRIu64 " rejects PERSISTED %" PRIu64 ": %s",
                     n->id, ev->a, craft_strerror(rv));
        }
        break;
    case SIM_EV_SNAP_TAKEN:
        snapshot_taken(s, n, ev->a, ev->b);
        break;
    case SIM_EV_CHUNK:
        chunk(s, n, ev);
        break;
    case SIM_EV_REQUEST:
        sim_client_request(s, n, ev->a);
        break;
    case SIM_EV_APPLY:
        n->apply_scheduled = 0;
        sim_apply_drain(s, n);
        break;
    case SIM_EV_ADMIN:
        admin(s, n, ev);
        break;
    case SIM_EV_FLUSH:
        n->flush_scheduled = 0;
        sim_propose_flush(s, n);
        break;
    default:
        break;
    }
}

void sim_dispatch(struct sim *s, struct sim_ev *ev)
{
    switch (ev->type) {
    case SIM_EV_CHAOS:
        sim_chaos_roll(s);
        ev->time = s->now + s->par.tick;
        sim_push(s, ev);
        break;
    case SIM_EV_CLIENT:
        if (ev->b == 0) {
            sim_client_start(s, (uint32_t)ev->a);
        } else {
            sim_client_timeout(s, (uint32_t)ev->a, ev->b);
        }
        break;
    case SIM_EV_RESTART: {
        struct sim_node *n = &s->node[ev->node];
        if (!n->up && n->inc == ev->inc) {
            sim_node_start(s, n);
        }
        break;
    }
    default:
        node_event(s, ev);
        break;
    }
}

