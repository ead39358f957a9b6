/*
 * sim/inv_read.c: what confirms a linearizable read (thesis §6.4).
 *
 * A leader may answer a read with its commit index only once a quorum of
 * its voters acknowledged a heartbeat that left it after the read
 * arrived: an acknowledgement of an older heartbeat proves leadership at
 * a time before the read, when a newer leader may already have existed.
 * With leases (§6.4.1) a read may be answered at once, but only while a
 * quorum acknowledged heartbeats sent less than the lease's length ago,
 * counted in the leader's ticks from when they were sent, not from when
 * the acknowledgements came back.
 *
 * The checker keeps, per leader and term, when (sim time and the
 * leader's tick) each heartbeat round first left it, and for each peer
 * the newest round it acknowledged; and when each read arrived (a
 * client's READ event, or a READ_INDEX a follower forwarded). It checks
 * every positive answer against them.
 */
#include <inttypes.h>
#include <string.h>

#include "sim/inv.h"

/* The tables belong to the node's current term: a new term (the only way
 * to lead again) starts them afresh. */
static void refresh(struct sim_node *n)
{
    uint64_t term = n->e->term;
    if (n->rd.term != term) {
        memset(&n->rd, 0, sizeof(n->rd));
        n->rd.term = term;
    }
}

void sim_inv_read_sent(struct sim *s, struct sim_node *n,
                       const struct craft_msg *m)
{
    (void)s;
    if (m->type != CRAFT_MSG_HEARTBEAT || m->term != n->e->term) {
        return;
    }
    refresh(n);
    struct sim_round *r = &n->rd.round[m->ctx % SIM_READ_ROUNDS];
    if (r->ctx != m->ctx || !r->known) {
        r->ctx = m->ctx;
        r->known = 1;
        r->time = s->now;
        r->tick = n->e->ticks;
    }
}

static void acked(struct sim_node *n, const struct craft_msg *m)
{
    struct sim_node_read *rd = &n->rd;
    const struct sim_round *r = &rd->round[m->ctx % SIM_READ_ROUNDS];
    if (m->from == 0 || m->from > SIM_MAX_NODES || !r->known ||
        r->ctx != m->ctx) {
        return;
    }
    uint32_t p = (uint32_t)(m->from - 1);
    if (r->time >= rd->ack_time[p]) {
        rd->ack_time[p] = r->time;
        rd->ack_tick[p] = r->tick;
        rd->acked[p] = 1;
    }
}

static void arrived(struct sim *s, struct sim_node *n, uint64_t from,
                    uint64_t id)
{
    struct sim_node_read *rd = &n->rd;
    struct sim_arrival *a = &rd->arr[rd->narr_next % SIM_READ_ARRIVALS];
    rd->narr_next++;
    a->used = 1;
    a->from = from;
    a->id = id;
    a->time = s->now;
    a->step = s->res->steps;
}

/* The arrival an answer of read id from `from` is for. A client may send
 * the same read again while the first waits. A step takes one event: an
 * answer in the step a copy arrived in is for that copy (at once: a
 * lease, a refusal); otherwise for the earliest waiting copy (rounds
 * answer reads in arrival order). */
static struct sim_arrival *find(struct sim *s, struct sim_node *n,
                                uint64_t from, uint64_t id)
{
    struct sim_arrival *best = NULL;
    for (uint32_t k = 0; k < SIM_READ_ARRIVALS; k++) {
        struct sim_arrival *a = &n->rd.arr[k];
        if (!a->used || a->from != from || a->id != id) {
            continue;
        }
        if (a->step == s->res->steps) {
            return a;
        }
        if (best == NULL || a->step < best->step) {
            best = a;
        }
    }
    return best;
}

/* Whether a quorum of the voters of c confirmed the read a: acknowledged
 * a heartbeat sent after it arrived or, for a lease read, within the
 * lease (a quorum of one: itself). *voters and *fresh say how many
 * there are and did. */
static int confirmed(const struct sim_node *n, const struct craft_conf *c,
                     const struct sim_arrival *a, int lease,
                     uint32_t *voters, uint32_t *fresh)
{
    const struct craft_engine *e = n->e;
    uint32_t et = e->opts.election_ticks;
    *voters = 0;
    *fresh = 0;
    for (uint32_t k = 0; k < c->n; k++) {
        const struct craft_member *mb = &c->m[k];
        if (mb->role != CRAFT_MEMBER_VOTER) {
            continue;
        }
        (*voters)++;
        if (mb->id == n->id) {
            (*fresh)++;
            continue;
        }
        if (mb->id == 0 || mb->id > SIM_MAX_NODES ||
            !n->rd.acked[mb->id - 1]) {
            continue;
        }
        uint32_t p = (uint32_t)(mb->id - 1);
        if (lease ? n->rd.ack_tick[p] + et - (et + 9) / 10 > e->ticks
                  : n->rd.ack_time[p] >= a->time) {
            (*fresh)++;
        }
    }
    return *voters > 0 && *fresh >= *voters / 2 + 1;
}

/* Every answer, positive or not, consumes its arrival; a positive one is
 * checked. */
static void answered(struct sim *s, struct sim_node *n, uint64_t from,
                     uint64_t id, int ok)
{
    struct sim_arrival *a = find(s, n, from, id);
    if (a == NULL) {
        return; /* arrived in another term, or pushed out of the table */
    }
    a->used = 0;
    if (!ok) {
        return;
    }
    const struct craft_engine *e = n->e;
    if (e->role != CRAFT_ROLE_LEADER) {
        return;
    }
    /* Answered in the step it arrived in, with leases on: a lease read. */
    int lease = e->opts.lease_reads && a->step == s->res->steps;
    uint32_t voters, fresh;
    if (confirmed(n, &e->conf, a, lease, &voters, &fresh) || voters == 0) {
        return;
    }
    /* A single-server change keeps a majority of the configuration before
     * it inside every majority of the new one (thesis §4.1): leadership
     * confirmed by the previous configuration still holds. */
    if (e->conf_index > 0) {
        static struct craft_conf prev; /* large: addresses */
        uint32_t v2, f2;
        craft_conf_at_index(e, e->conf_index - 1, &prev);
        if (confirmed(n, &prev, a, lease, &v2, &f2)) {
            return;
        }
    }
    if (lease) {
        sim_fail(s, SIM_V_READ_ROUND,
                 "leader %" PRIu64 " serves read %" PRIu64
                 " from its lease at tick %" PRIu64
                 " but only %u of %u voters acknowledged a heartbeat sent "
                 "within the lease (%u ticks before now)",
                 n->id, id, e->ticks, fresh, voters,
                 e->opts.election_ticks - (e->opts.election_ticks + 9) / 10);
    } else {
        sim_fail(s, SIM_V_READ_ROUND,
                 "leader %" PRIu64 " answers read %" PRIu64 " (from %" PRIu64
                 ", arrived at t=%" PRIu64
                 ") but only %u of %u voters acknowledged a heartbeat sent "
                 "after it arrived",
                 n->id, id, from, a->time, fresh, voters);
    }
}

void sim_inv_read_step(struct sim *s, struct sim_node *n,
                       const craft_event *ev, const struct craft_msg *m)
{
    refresh(n);
    if (ev != NULL && ev->type == CRAFT_EVENT_READ) {
        arrived(s, n, n->id, ev->id);
    }
    if (m != NULL && m->type == CRAFT_MSG_READ_INDEX) {
        arrived(s, n, m->from, m->ctx);
    }
    if (m != NULL && m->type == CRAFT_MSG_HEARTBEAT_RESP &&
        m->term == n->e->term && n->e->role == CRAFT_ROLE_LEADER) {
        acked(n, m);
    }
    if (m != NULL && m->type == CRAFT_MSG_READ_INDEX_RESP) {
        return; /* a follower's result: the leader's index, checked there */
    }
    const struct craft_actions *acts = n->acts;
    for (size_t i = 0; i < acts->n && !s->stop; i++) {
        const struct craft_action *x = &acts->v[i];
        if (x->type == CRAFT_ACTION_READ_RESULT) {
            answered(s, n, n->id, x->id, x->status == CRAFT_OK);
        } else if (x->type == CRAFT_ACTION_SEND &&
                   x->msg.type == CRAFT_MSG_READ_INDEX_RESP) {
            answered(s, n, x->msg.to, x->msg.ctx,
                     !(x->msg.flags & CRAFT_MSG_F_REJECT));
        }
    }
}
