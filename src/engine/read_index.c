/*
 * engine/read_index.c: linearizable reads without log writes (thesis
 * §6.4 ReadIndex, §6.4.1 leases).
 *
 * The leader records its commit index as the read index, then confirms it
 * is still leader by a round of heartbeats acknowledged by a quorum that
 * started after the read arrived. Reads waiting for the same round share
 * it. A read is only served once the leader has committed an entry of its
 * own term (its no-op), since before that its commit index may lag.
 */
#include "engine/engine.h"

uint64_t craft_read_ctx(const struct craft_engine *e)
{
    return e->read_round;
}

static void result_hint(struct craft_engine *e, uint64_t id, int status,
                        uint64_t index, uint64_t leader)
{
    struct craft_action *x =
        craft_actions_push(e->out, CRAFT_ACTION_READ_RESULT);
    x->id = id;
    x->status = status;
    x->index = index;
    x->leader = leader;
}

static void result(struct craft_engine *e, uint64_t id, int status,
                   uint64_t index)
{
    result_hint(e, id, status, index, e->leader);
}

/* Answers one read: locally, or to the follower that forwarded it. */
static void answer(struct craft_engine *e, const struct craft_read *r,
                   int status, uint64_t index)
{
    if (r->from == e->id) {
        result(e, r->id, status, index);
        return;
    }
    struct craft_msg *m = craft_send(e, CRAFT_MSG_READ_INDEX_RESP, r->from);
    m->ctx = r->id;
    m->index = index;
    if (status != CRAFT_OK) {
        /* codec/message.h: a refusal carries the leader hint in
         * hint_index; the reason goes in index, unused otherwise. */
        m->flags = CRAFT_MSG_F_REJECT;
        m->index = (uint64_t)(-(int64_t)status);
        m->hint_index = e->leader;
    }
}

static int lease_valid(const struct craft_engine *e)
{
    return e->opts.lease_reads && e->transfer_target == CRAFT_NONE &&
           !e->lease_revoked && e->ticks < e->lease_until;
}

static void start_round(struct craft_engine *e)
{
    e->read_round++;
    e->round_tick[e->read_round % 16] = e->ticks;
    craft_broadcast_heartbeat(e);
}

/* A read that arrived now needs a round that starts after it. */
static int round_in_flight(const struct craft_engine *e)
{
    return e->read_round > e->read_acked;
}

static void leader_read(struct craft_engine *e, uint64_t id, uint64_t from)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    struct craft_read r = {id, e->commit, 0, from};
    if (craft_log_term(&e->log, e->commit) != e->term) {
        answer(e, &r, CRAFT_ENOTREADY, 0);
        return;
    }
    if (craft_quorum(e) <= 1 && craft_is_voter(e, e->id)) {
        answer(e, &r, CRAFT_OK, e->commit); /* a quorum of one: us */
        return;
    }
    if (lease_valid(e) || CRAFT_BUG(e, CRAFT_BUG_READ_NO_READINDEX)) {
        answer(e, &r, CRAFT_OK, e->commit);
        return;
    }
    /* Room was reserved in the step prologue. */
    CRAFT_ASSERT(e->n_reads < e->cap_reads);
    r.round = e->read_round + 1;
    if (CRAFT_BUG(e, CRAFT_BUG_READ_OLD_ROUND) && round_in_flight(e)) {
        r.round = e->read_round;
    }
    e->reads[e->n_reads++] = r;
    if (!round_in_flight(e)) {
        start_round(e);
    }
}

void craft_on_read(struct craft_engine *e, uint64_t id)
{
    if (e->role == CRAFT_ROLE_LEADER) {
        leader_read(e, id, e->id);
        return;
    }
    if (e->leader == CRAFT_NONE || e->role != CRAFT_ROLE_FOLLOWER) {
        result(e, id, CRAFT_ENOTLEADER, 0);
        return;
    }
    /* A follower asks the leader for a read index and serves the read
     * itself once it has applied that far (thesis §6.4). */
    struct craft_msg *m = craft_send(e, CRAFT_MSG_READ_INDEX, e->leader);
    m->ctx = id;
}

void craft_on_read_index(struct craft_engine *e, const struct craft_msg *m)
{
    if (e->role != CRAFT_ROLE_LEADER) {
        struct craft_read r = {m->ctx, 0, 0, m->from};
        answer(e, &r, CRAFT_ENOTLEADER, 0);
        return;
    }
    leader_read(e, m->ctx, m->from);
}

void craft_on_read_index_resp(struct craft_engine *e,
                              const struct craft_msg *m)
{
    if (m->flags & CRAFT_MSG_F_REJECT) {
        int status = (int)-(int64_t)m->index;
        if (status != CRAFT_ENOTREADY && status != CRAFT_ESTEPPEDDOWN) {
            status = CRAFT_ENOTLEADER;
        }
        /* The refusing server is the one we took for the leader: its own
         * idea of the leader is fresher than ours. */
        result_hint(e, m->ctx, status, 0, m->hint_index);
        return;
    }
    result(e, m->ctx, CRAFT_OK, m->index);
}

/* Called when a heartbeat answer raised some peer's read_ack. */
void craft_reads_on_ack(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    uint64_t acks[CRAFT_MAX_MEMBERS];
    uint32_t n = 0;
    for (uint32_t k = 0; k < e->conf.n; k++) {
        if (e->conf.m[k].role != CRAFT_MEMBER_VOTER) {
            continue;
        }
        uint64_t v = e->conf.m[k].id == e->id ? e->read_round
                                              : e->prs[k].read_ack;
        uint32_t j = n++;
        while (j > 0 && acks[j - 1] < v) {
            acks[j] = acks[j - 1];
            j--;
        }
        acks[j] = v;
    }
    uint64_t confirmed = n > 0 ? acks[craft_quorum(e) - 1] : 0;
    if (confirmed <= e->read_acked) {
        return;
    }
    e->read_acked = confirmed;
    /* A lease runs from when the confirmed round was sent, not from when
     * the acks came back (thesis §6.4.1): followers stop voting for others
     * only an election timeout after they heard it. A tenth is kept as a
     * margin for tick rates that differ between servers. Only the send
     * ticks of the last 16 rounds are kept: acks of an older round (very
     * late ones) prove leadership at a time no longer known, so they give
     * no lease (reading a recycled slot would date them too late). */
    uint32_t et = e->opts.election_ticks;
    if (e->read_round - confirmed < 16) {
        uint64_t sent = e->round_tick[confirmed % 16];
        if (CRAFT_BUG(e, CRAFT_BUG_LEASE_FROM_ACK)) {
            sent = e->ticks;
        }
        uint64_t until = sent + et - (et + 9) / 10;
        if (until > e->lease_until) {
            e->lease_until = until;
        }
    }
    size_t keep = 0;
    for (size_t i = 0; i < e->n_reads; i++) {
        struct craft_read r = e->reads[i];
        if (r.round <= confirmed) {
            answer(e, &r, CRAFT_OK, r.index);
        } else {
            e->reads[keep++] = r;
        }
    }
    e->n_reads = keep;
    if (keep > 0) {
        start_round(e);
    }
}

/* Heartbeat period: with leases a fresh round keeps the lease alive;
 * otherwise heartbeats carry the latest round for reads still waiting. */
void craft_reads_heartbeat_tick(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    if (e->opts.lease_reads) {
        e->read_round++;
        e->round_tick[e->read_round % 16] = e->ticks;
    }
    craft_broadcast_heartbeat(e);
}

void craft_reads_fail(struct craft_engine *e, int status)
{
    for (size_t i = 0; i < e->n_reads; i++) {
        answer(e, &e->reads[i], status, 0);
    }
    e->n_reads = 0;
    e->read_acked = e->read_round;
}
