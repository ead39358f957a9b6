/*
 * engine/change.c: single-server membership changes (thesis §4.1-§4.3).
 *
 * One server is added or removed at a time, so any majority of the old
 * configuration overlaps any majority of the new one. A configuration
 * takes effect as soon as it is appended (§4.1), and the next change is
 * refused until it commits. New servers join as learners, which receive
 * entries but never count toward a quorum, and are promoted only once
 * caught up (§4.2.1).
 */
#include "engine/engine.h"

#include <string.h>

static void change_result(struct craft_engine *e, uint64_t id, int status,
                          uint64_t index)
{
    struct craft_action *x =
        craft_actions_push(e->out, CRAFT_ACTION_PROPOSE_RESULT);
    x->id = id;
    x->status = status;
    x->leader = e->leader;
    if (status == CRAFT_OK) {
        x->index = index;
        x->term = e->term;
        x->count = 1;
        craft_receipt_add(e, id, index, 1, e->term);
    }
}

/* Appends c as a CONFIG entry and replicates it. */
static uint64_t append_conf(struct craft_engine *e, const struct craft_conf *c)
{
    /* One change at a time, after an entry of our term committed
     * (thesis §4.1). */
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER && e->conf_index <= e->commit);
    CRAFT_ASSERT(craft_log_term(&e->log, e->commit) == e->term);
    uint8_t buf[CRAFT_CONF_MAX_BYTES];
    size_t len = craft_conf_encode(c, buf);
    craft_append_entry(e, e->term, CRAFT_ENTRY_CONFIG, buf, (uint32_t)len);
    craft_broadcast_append(e);
    return craft_log_last(&e->log);
}

static void promo_start(struct craft_engine *e, uint64_t peer, uint64_t id)
{
    e->promo.active = 1;
    e->promo.peer = peer;
    e->promo.id = id;
    e->promo.rounds = 0;
    e->promo.round_end = craft_log_last(&e->log);
    e->promo.round_start = e->ticks;
    e->promo.started = e->ticks;
}

void craft_promo_cancel(struct craft_engine *e, int status)
{
    if (e->promo.active) {
        e->promo.active = 0;
        change_result(e, e->promo.id, status, 0);
    }
}

static int validate(struct craft_engine *e, uint32_t type, uint64_t peer)
{
    if (e->role != CRAFT_ROLE_LEADER) {
        return CRAFT_ENOTLEADER;
    }
    /* Thesis §4.1 (the 2015 erratum): a leader must commit an entry of its
     * own term before it may append a configuration. Checked first: until
     * then the leader cannot even tell whether the latest configuration
     * is committed (a new cluster's bootstrap configuration is not, yet),
     * and "not ready, retry" is the true reason. */
    if (craft_log_term(&e->log, e->commit) != e->term) {
        return CRAFT_ENOTREADY;
    }
    if (e->transfer_target != CRAFT_NONE || e->promo.active ||
        e->conf_index > e->commit) {
        return CRAFT_EBUSY; /* one change at a time (§4.1) */
    }
    int k = craft_conf_index_of(e, peer);
    switch (type) {
    case CRAFT_EVENT_ADD_PEER:
    case CRAFT_EVENT_ADD_LEARNER:
        if (k >= 0) {
            return CRAFT_EEXIST;
        }
        if (e->conf.n >= CRAFT_MAX_MEMBERS) {
            return CRAFT_ETOOBIG;
        }
        return CRAFT_OK;
    case CRAFT_EVENT_PROMOTE:
        if (k < 0) {
            return CRAFT_EUNKNOWNPEER;
        }
        return e->conf.m[k].role == CRAFT_MEMBER_LEARNER ? CRAFT_OK
                                                         : CRAFT_EEXIST;
    default: /* REMOVE */
        if (k < 0) {
            return CRAFT_EUNKNOWNPEER;
        }
        if (e->conf.m[k].role == CRAFT_MEMBER_VOTER &&
            craft_conf_voters(&e->conf) == 1) {
            return CRAFT_EINVAL; /* the last voter */
        }
        return CRAFT_OK;
    }
}

void craft_on_change(struct craft_engine *e, uint32_t type, uint64_t id,
                     uint64_t peer, const void *addr, size_t addr_len)
{
    CRAFT_ASSERT(type == CRAFT_EVENT_ADD_PEER || type == CRAFT_EVENT_ADD_LEARNER ||
                 type == CRAFT_EVENT_PROMOTE || type == CRAFT_EVENT_REMOVE);
    int rv = validate(e, type, peer);
    if (rv != CRAFT_OK) {
        change_result(e, id, rv, 0);
        return;
    }
    struct craft_conf c = e->conf;
    if (type == CRAFT_EVENT_PROMOTE) {
        promo_start(e, peer, id);
        craft_promo_check(e);
        return;
    }
    if (type == CRAFT_EVENT_REMOVE) {
        int k = craft_conf_find(&c, peer);
        c.m[k] = c.m[c.n - 1];
        c.n--;
    } else {
        c.m[c.n].id = peer;
        c.m[c.n].role = CRAFT_MEMBER_LEARNER;
        craft_member_set_addr(&c.m[c.n], addr, addr_len);
        c.n++;
    }
    uint64_t index = append_conf(e, &c);
    change_result(e, id, CRAFT_OK, index);
    if (type == CRAFT_EVENT_ADD_PEER) {
        promo_start(e, peer, id);
    }
}

/*
 * Catch-up rounds (thesis §4.2.1): each round replicates up to the last
 * index at its start. When a round completes within an election timeout
 * the learner is close enough to promote; after catchup_rounds rounds
 * without that, or as long in ticks, the promotion fails.
 */
void craft_promo_check(struct craft_engine *e)
{
    if (!e->promo.active || e->role != CRAFT_ROLE_LEADER) {
        return;
    }
    int k = craft_conf_index_of(e, e->promo.peer);
    if (k < 0 || e->conf.m[k].role != CRAFT_MEMBER_LEARNER) {
        craft_promo_cancel(e, CRAFT_ECANCELED);
        return;
    }
    uint64_t budget =
        (uint64_t)e->opts.catchup_rounds * e->opts.election_ticks;
    if (e->ticks - e->promo.started >= budget) {
        craft_promo_cancel(e, CRAFT_ETIMEDOUT);
        return;
    }
    if (e->prs[k].match < e->promo.round_end) {
        return;
    }
    int fast = e->ticks - e->promo.round_start < e->opts.election_ticks;
    if (fast && e->conf_index > e->commit) {
        /* Caught up, but the learner's own addition has not committed yet
         * (one change at a time). That wait is no failed round: keep
         * measuring with a fresh round, uncounted; the overall budget
         * above still bounds it. */
        e->promo.round_end = craft_log_last(&e->log);
        e->promo.round_start = e->ticks;
        return;
    }
    e->promo.rounds++;
    if (fast) {
        struct craft_conf c = e->conf;
        c.m[k].role = CRAFT_MEMBER_VOTER;
        e->promo.active = 0;
        uint64_t index = append_conf(e, &c);
        change_result(e, e->promo.id, CRAFT_OK, index);
        return;
    }
    if (e->promo.rounds >= e->opts.catchup_rounds) {
        craft_promo_cancel(e, CRAFT_ETIMEDOUT);
        return;
    }
    e->promo.round_end = craft_log_last(&e->log);
    e->promo.round_start = e->ticks;
}

/* Runs after the leader's commit index moved. A leader that removed
 * itself steps down once the removal commits (thesis §4.2.2): until then
 * it kept replicating without counting itself. */
void craft_after_commit(struct craft_engine *e)
{
    if (e->role != CRAFT_ROLE_LEADER) {
        return;
    }
    if (e->conf_index <= e->commit && craft_conf_index_of(e, e->id) < 0) {
        craft_become_follower(e, e->term, CRAFT_NONE);
        return;
    }
    craft_promo_check(e);
}
