/*
 * engine/step.c: validating an event, reserving what it may need, and
 * dispatching it. Everything that can fail happens before the engine
 * changes, so a failed step leaves it exactly as it was.
 */
#include "engine/engine.h"

#include <string.h>

size_t craft_actions_bound(const struct craft_engine *e)
{
    /* Sends: a full pipeline to every member (one more may join in this
     * step) and an answer to every pending read (all may complete or fail
     * at once), plus the handful of storage, role and result actions. */
    return 16 + (size_t)(e->conf.n + 1) * (e->opts.max_inflight + 4) +
           e->n_reads + 1 + e->n_rcpt;
}

/* Copies the caller's event into a full-size one: fields an older, smaller
 * struct lacks keep their defaults. */
static int copy_event(const craft_event *in, craft_event *ev)
{
    craft_event_init(ev);
    if (in->struct_size < offsetof(craft_event, type) + sizeof(in->type) ||
        in->struct_size > sizeof(*ev)) {
        return CRAFT_ESTRUCT;
    }
    memcpy(ev, in, in->struct_size);
    return CRAFT_OK;
}

static int validate_propose(const craft_event *ev, size_t *bytes)
{
    if (ev->bufs == NULL || ev->nbufs == 0) {
        return CRAFT_EINVAL;
    }
    if (ev->nbufs > CRAFT_MAX_PROPOSALS) {
        return CRAFT_ETOOBIG;
    }
    size_t sum = 0;
    for (size_t k = 0; k < ev->nbufs; k++) {
        if (ev->bufs[k].len > CRAFT_MAX_ENTRY_BYTES) {
            return CRAFT_ETOOBIG;
        }
        if (ev->bufs[k].len > 0 && ev->bufs[k].base == NULL) {
            return CRAFT_EINVAL;
        }
        sum += ev->bufs[k].len;
    }
    *bytes = sum;
    return CRAFT_OK;
}

/*
 * Semantic checks of a decoded message that the codec cannot make: it is
 * addressed to us, CONFIG payloads decode and entry terms are sane: none
 * above the message's term, none going down along the entries or below
 * the term of the entry they follow (Log Matching, §5.3: a leader's log
 * never has a term go down). (An append can never overwrite a committed
 * entry: craft_on_append only compares entries past its commit index.)
 */
/* Whether membership bytes decode. Out of line: the configuration it
 * decodes into is 17 KB of stack, which the hot path's frame need not
 * carry (nor probe). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int conf_valid(const uint8_t *data, size_t len)
{
    struct craft_conf c;
    return craft_conf_decode(data, len, &c);
}

static int validate_msg(const struct craft_engine *e,
                        const struct craft_msg *m, size_t *bytes)
{
    if (m->to != e->id || m->from == e->id) {
        return CRAFT_EINVAL;
    }
    size_t sum = 0;
    for (size_t k = 0; k < m->n_entries; k++) {
        const struct craft_entry *en = &m->entries[k];
        if (en->type == CRAFT_ENTRY_CONFIG) {
            int rv = conf_valid(en->data, en->len);
            if (rv != CRAFT_OK) {
                return rv;
            }
        }
        if (en->term > m->term || en->term == 0 ||
            en->term < (k > 0 ? m->entries[k - 1].term : m->log_term)) {
            return CRAFT_EMALFORMED;
        }
        sum += en->len;
    }
    if (m->type == CRAFT_MSG_SNAPSHOT) {
        int rv = conf_valid(m->conf, m->conf_len);
        if (rv != CRAFT_OK) {
            return rv;
        }
        /* A snapshot is the one way a log jumps ahead: one beyond
         * CRAFT_MAX_INDEX would leave no room for the entries after it
         * (next index = last + 1 wraps to 0). No correct leader has one. */
        if (m->index == 0 || m->index > CRAFT_MAX_INDEX || m->log_term == 0 ||
            m->log_term > m->term) {
            return CRAFT_EMALFORMED;
        }
    }
    *bytes = sum;
    return CRAFT_OK;
}

/* Leader stickiness (thesis §4.2.3): while a server believes a live
 * leader exists, it ignores requests to elect another, so a partitioned
 * or removed server cannot disrupt the cluster when it comes back. */
static int in_lease(const struct craft_engine *e)
{
    return e->opts.check_quorum && e->leader != CRAFT_NONE &&
           e->election_elapsed < e->opts.election_ticks;
}

static int is_from_leader(uint32_t type)
{
    return type == CRAFT_MSG_APPEND || type == CRAFT_MSG_HEARTBEAT ||
           type == CRAFT_MSG_SNAPSHOT;
}

/* Figure 2's term rules. Returns 0 when the message is to be dropped. */
static int handle_term(struct craft_engine *e, const struct craft_msg *m)
{
    int is_vote = m->type == CRAFT_MSG_VOTE || m->type == CRAFT_MSG_PREVOTE;
    if (m->term > e->term) {
        if (is_vote && in_lease(e) && !(m->flags & CRAFT_MSG_F_TRANSFER)) {
            return 0;
        }
        /* A pre-vote (or a grant of one) is about a term nobody is in
         * yet: it changes nothing (thesis §9.6). */
        if (m->type == CRAFT_MSG_PREVOTE ||
            (m->type == CRAFT_MSG_PREVOTE_RESP &&
             !(m->flags & CRAFT_MSG_F_REJECT))) {
            return 1;
        }
        if (e->transfer_target != CRAFT_NONE &&
            m->from == e->transfer_target) {
            /* The target is campaigning: the transfer is decided when we
             * learn who won (craft_transfer_observe_leader). */
            e->transfer_handover = 1;
        }
        craft_become_follower(e, m->term,
                              is_from_leader(m->type) ? m->from : CRAFT_NONE);
        return 1;
    }
    if (m->term < e->term) {
        if (m->type == CRAFT_MSG_APPEND || m->type == CRAFT_MSG_HEARTBEAT) {
            /* A stale leader: our reply carries our term and makes it step
             * down. With pre-vote and check-quorum this is how a leader
             * cut off in a partition learns it lost when it rejoins. */
            struct craft_msg *r =
                craft_send(e, CRAFT_MSG_APPEND_RESP, m->from);
            r->flags = CRAFT_MSG_F_REJECT;
        } else if (m->type == CRAFT_MSG_PREVOTE ||
                   m->type == CRAFT_MSG_VOTE) {
            /* Figure 2: "reply false" with our term, so a candidate stuck
             * in an old term (one no leader contacts, e.g. outside the
             * leader's configuration) learns it and can catch up. */
            struct craft_msg *r = craft_send(
                e,
                m->type == CRAFT_MSG_VOTE ? CRAFT_MSG_VOTE_RESP
                                          : CRAFT_MSG_PREVOTE_RESP,
                m->from);
            r->flags = CRAFT_MSG_F_REJECT;
        } else if (m->type == CRAFT_MSG_READ_INDEX ||
                   m->type == CRAFT_MSG_READ_INDEX_RESP) {
            /* Reads carry no state that a term could make stale: a read
             * forwarded in an older term is still answered (by a leader,
             * now), and an answer, even a refusal sent by a leader that
             * just stepped down, still completes the read. Dropping them
             * would leave the read without a result. */
            return 1;
        }
        return 0;
    }
    return 1;
}

static void dispatch(struct craft_engine *e, const struct craft_msg *m)
{
    switch (m->type) {
    case CRAFT_MSG_APPEND:
    case CRAFT_MSG_HEARTBEAT:
    case CRAFT_MSG_SNAPSHOT:
        if (e->role != CRAFT_ROLE_FOLLOWER) {
            /* §5.2: a candidate that hears from a leader of its term
             * returns to follower. */
            craft_become_follower(e, e->term, m->from);
        }
        if (m->type == CRAFT_MSG_APPEND) {
            craft_on_append(e, m);
        } else if (m->type == CRAFT_MSG_HEARTBEAT) {
            craft_on_heartbeat(e, m);
        } else {
            craft_on_snapshot(e, m);
        }
        break;
    case CRAFT_MSG_SNAPSHOT_RESP:
        if (e->role == CRAFT_ROLE_LEADER) {
            craft_on_snapshot_resp(e, m);
        }
        break;
    case CRAFT_MSG_TIMEOUT_NOW:
        craft_on_timeout_now(e, m);
        break;
    case CRAFT_MSG_READ_INDEX:
        craft_on_read_index(e, m);
        break;
    case CRAFT_MSG_READ_INDEX_RESP:
        craft_on_read_index_resp(e, m);
        break;
    case CRAFT_MSG_APPEND_RESP:
        if (e->role == CRAFT_ROLE_LEADER) {
            craft_on_append_resp(e, m);
        }
        break;
    case CRAFT_MSG_HEARTBEAT_RESP:
        if (e->role == CRAFT_ROLE_LEADER) {
            craft_on_heartbeat_resp(e, m);
        }
        break;
    case CRAFT_MSG_VOTE:
    case CRAFT_MSG_PREVOTE:
        craft_on_vote(e, m);
        break;
    case CRAFT_MSG_VOTE_RESP:
        craft_on_vote_resp(e, m);
        break;
    case CRAFT_MSG_PREVOTE_RESP:
        /* A grant is in the term we would campaign in; a refusal in the
         * responder's (equal, or handled above when higher). */
        if ((m->flags & CRAFT_MSG_F_REJECT) ? m->term == e->term
                                            : m->term == e->term + 1) {
            craft_on_vote_resp(e, m);
        }
        break;
    default:
        break; /* not (yet) handled by this engine: dropped */
    }
}

/* Log bytes for a configuration the step may append; an engine without
 * one yet (never set) may still be handed a bootstrap's. */
static size_t craft_conf_reserve(const struct craft_engine *e)
{
    return e->conf_reserve > 0 ? e->conf_reserve : CRAFT_CONF_MAX_BYTES;
}

static int prologue(struct craft_engine *e, struct craft_actions *out,
                    size_t entries, size_t bytes)
{
    /* +1 entry: a new leader's no-op, or a configuration the step may
     * append (a promotion). Most steps find room already: the checks
     * stay here, the growing in the callees. */
    int rv;
    struct craft_log *l = &e->log;
    size_t need = bytes + craft_conf_reserve(e);
    if (l->start + l->n + entries + 1 > l->cap ||
        (need > 0 && craft_log_room(l) < need)) {
        rv = craft_log_reserve(&e->alloc, l, entries + 1, need);
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    /* One more pending read. */
    if (e->n_reads + 1 > e->cap_reads) {
        void *v = e->reads;
        rv = craft_grow(&e->alloc, &v, &e->cap_reads, e->n_reads + 1,
                        sizeof(*e->reads));
        if (rv != CRAFT_OK) {
            return rv;
        }
        e->reads = v;
    }
    /* One more receipt (a proposal or a membership change). */
    if (e->opts.lost_receipts) {
        rv = craft_receipts_reserve(e);
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    size_t bound = craft_actions_bound(e);
    if (bound > out->cap) {
        rv = craft_actions_reserve(out, bound);
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    CRAFT_ASSERT(e->out == NULL); /* steps do not nest */
    craft_actions_clear(out);
    e->out = out;
    e->started = 1;
    return CRAFT_OK;
}

static void epilogue(struct craft_engine *e)
{
    craft_flush_storage(e);
    craft_flush_apply(e);
    e->out = NULL;
    craft_engine_check(e);
}

/* A durability report carried by another event (CRAFT_EVENT_F_PERSISTED):
 * taken in as if a PERSISTED event had been stepped just before it. */
static void take_report(struct craft_engine *e, const craft_event *ev)
{
    if (ev != NULL && (ev->flags & CRAFT_EVENT_F_PERSISTED)) {
        craft_on_persisted(e, ev->index, ev->term);
    }
}

static int step_msg(struct craft_engine *e, const struct craft_msg *m,
                    struct craft_actions *out, const craft_event *report)
{
    size_t bytes = 0;
    int rv = validate_msg(e, m, &bytes);
    if (rv == CRAFT_OK && m->type == CRAFT_MSG_SNAPSHOT) {
        rv = craft_chunk_reserve(e, m->len + m->conf_len);
    }
    if (rv == CRAFT_OK) {
        rv = prologue(e, out, m->n_entries, bytes);
    }
    if (rv != CRAFT_OK) {
        craft_actions_clear(out);
        return rv;
    }
    take_report(e, report);
    if (handle_term(e, m)) {
        dispatch(e, m);
    }
    epilogue(e);
    return CRAFT_OK;
}

int craft_step_msg(struct craft_engine *e, const struct craft_msg *m,
                   struct craft_actions *out)
{
    return step_msg(e, m, out, NULL);
}

/* An address given with CRAFT_EVENT_F_ADDR: at most CRAFT_MAX_ADDR_BYTES,
 * and bytes behind a non-zero length. */
static int check_addr(const void *addr, size_t len)
{
    if (len > CRAFT_MAX_ADDR_BYTES) {
        return CRAFT_ETOOBIG;
    }
    return addr == NULL && len > 0 ? CRAFT_EINVAL : CRAFT_OK;
}

static int bootstrap_conf(struct craft_engine *e, const craft_event *ev,
                          struct craft_conf *c)
{
    int addrs = (ev->flags & CRAFT_EVENT_F_ADDR) != 0;
    if (ev->ids == NULL || ev->nids == 0) {
        return CRAFT_EINVAL;
    }
    if (ev->nids > CRAFT_MAX_MEMBERS) {
        return CRAFT_ETOOBIG;
    }
    if (addrs && (ev->bufs == NULL || ev->nbufs != ev->nids)) {
        return CRAFT_EINVAL;
    }
    if (e->term != 0 || craft_log_last(&e->log) != 0 || e->conf.n != 0) {
        return CRAFT_ESTATE;
    }
    c->n = 0;
    for (size_t k = 0; k < ev->nids; k++) {
        if (ev->ids[k] == CRAFT_NONE || craft_conf_find(c, ev->ids[k]) >= 0) {
            return CRAFT_EINVAL;
        }
        struct craft_member *m = &c->m[c->n];
        m->id = ev->ids[k];
        m->role = CRAFT_MEMBER_VOTER;
        m->addr_len = 0;
        if (addrs) {
            int rv = check_addr(ev->bufs[k].base, ev->bufs[k].len);
            if (rv != CRAFT_OK) {
                return rv;
            }
            craft_member_set_addr(m, ev->bufs[k].base, ev->bufs[k].len);
        }
        c->n++;
    }
    if (craft_conf_find(c, e->id) < 0) {
        return CRAFT_EINVAL;
    }
    return CRAFT_OK;
}

/* BOOTSTRAP, kept out of craft_engine_step so that the hot path's frame
 * does not carry a whole membership with its addresses. */
static int step_bootstrap(struct craft_engine *e, const craft_event *ev,
                          struct craft_actions *out)
{
    struct craft_conf conf;
    uint8_t confbuf[CRAFT_CONF_MAX_BYTES];
    int rv = bootstrap_conf(e, ev, &conf);
    size_t bytes = 0;
    if (rv == CRAFT_OK) {
        bytes = craft_conf_encode(&conf, confbuf);
        rv = prologue(e, out, 1, bytes);
    }
    if (rv != CRAFT_OK) {
        craft_actions_clear(out);
        return rv;
    }
    /* The first configuration is entry 1 of term 1 on every founding
     * server, so their logs agree from the start. */
    e->term = 1;
    craft_mark_hard_state(e);
    craft_append_entry(e, 1, CRAFT_ENTRY_CONFIG, confbuf, (uint32_t)bytes);
    craft_reset_election_timeout(e);
    epilogue(e);
    return CRAFT_OK;
}

/* Events whose index and term are free to carry a durability report
 * (CRAFT_EVENT_F_PERSISTED). */
static int carries_report(uint32_t type)
{
    switch (type) {
    case CRAFT_EVENT_TICK:
    case CRAFT_EVENT_MESSAGE:
    case CRAFT_EVENT_PROPOSE:
    case CRAFT_EVENT_READ:
    case CRAFT_EVENT_TRANSFER:
    case CRAFT_EVENT_ADD_PEER:
    case CRAFT_EVENT_ADD_LEARNER:
    case CRAFT_EVENT_PROMOTE:
    case CRAFT_EVENT_REMOVE:
        return 1;
    default:
        return 0;
    }
}

int craft_engine_step(craft_engine *e, const craft_event *in,
                      craft_actions *out)
{
    craft_event evbuf;
    struct craft_msg m;
    size_t bytes = 0;
    int rv;

    if (e == NULL || in == NULL || out == NULL) {
        if (out != NULL) {
            craft_actions_clear(out);
        }
        return CRAFT_EINVAL;
    }
    /* A caller built against this version passes a full struct: use it
     * as is. An older, smaller one is copied over defaults. */
    const craft_event *evp = in;
    if (in->struct_size != sizeof(craft_event)) {
        rv = copy_event(in, &evbuf);
        if (rv != CRAFT_OK) {
            craft_actions_clear(out);
            return rv;
        }
        evp = &evbuf;
    }
    if ((evp->flags & CRAFT_EVENT_F_PERSISTED) && !carries_report(evp->type)) {
        craft_actions_clear(out);
        return CRAFT_EINVAL;
    }
    switch (evp->type) {
    case CRAFT_EVENT_TICK:
    case CRAFT_EVENT_PERSISTED:
    case CRAFT_EVENT_READ:
        rv = prologue(e, out, 0, 0);
        break;
    case CRAFT_EVENT_ADD_PEER:
    case CRAFT_EVENT_ADD_LEARNER:
        if (evp->flags & CRAFT_EVENT_F_ADDR) {
            rv = check_addr(evp->data, evp->len);
            if (rv != CRAFT_OK) {
                break;
            }
        }
        /* fall through */
    case CRAFT_EVENT_TRANSFER:
    case CRAFT_EVENT_PROMOTE:
    case CRAFT_EVENT_REMOVE:
        rv = evp->peer == CRAFT_NONE ? CRAFT_EINVAL : prologue(e, out, 0, 0);
        break;
    case CRAFT_EVENT_SNAPSHOT_TAKEN:
        rv = evp->index == 0 ? CRAFT_EINVAL : prologue(e, out, 0, 0);
        break;
    case CRAFT_EVENT_SNAPSHOT_CHUNK:
        if (evp->peer == CRAFT_NONE || (evp->len > 0 && evp->data == NULL) ||
            (evp->flags & ~(CRAFT_EVENT_F_LAST | CRAFT_EVENT_F_FAILED))) {
            rv = CRAFT_EINVAL;
        } else if (evp->len > CRAFT_MAX_ENTRY_BYTES) {
            rv = CRAFT_ETOOBIG;
        } else {
            rv = craft_chunk_reserve(e, evp->len);
            if (rv == CRAFT_OK) {
                rv = prologue(e, out, 0, 0);
            }
        }
        break;
    case CRAFT_EVENT_MESSAGE:
        if (evp->data == NULL || evp->len == 0) {
            rv = CRAFT_EINVAL;
            break;
        }
        rv = craft_msg_decode(evp->data, evp->len, &m, &e->alloc, &e->scratch);
        if (rv == CRAFT_OK) {
            return step_msg(e, &m, out, evp);
        }
        break;
    case CRAFT_EVENT_PROPOSE:
        rv = validate_propose(evp, &bytes);
        if (rv == CRAFT_OK) {
            rv = prologue(e, out, evp->nbufs, bytes);
        }
        break;
    case CRAFT_EVENT_BOOTSTRAP:
        return step_bootstrap(e, evp, out);
    default:
        rv = CRAFT_EINVAL;
        break;
    }
    if (rv != CRAFT_OK) {
        craft_actions_clear(out);
        return rv;
    }

    take_report(e, evp);
    switch (evp->type) {
    case CRAFT_EVENT_TICK:
        craft_tick(e);
        break;
    case CRAFT_EVENT_PERSISTED:
        craft_on_persisted(e, evp->index, evp->term);
        break;
    case CRAFT_EVENT_PROPOSE:
        craft_on_propose(e, evp);
        break;
    case CRAFT_EVENT_READ:
        craft_on_read(e, evp->id);
        break;
    case CRAFT_EVENT_TRANSFER:
        craft_on_transfer(e, evp->id, evp->peer);
        break;
    case CRAFT_EVENT_ADD_PEER:
    case CRAFT_EVENT_ADD_LEARNER:
        if (evp->flags & CRAFT_EVENT_F_ADDR) {
            craft_on_change(e, evp->type, evp->id, evp->peer, evp->data,
                            evp->len);
        } else {
            craft_on_change(e, evp->type, evp->id, evp->peer, NULL, 0);
        }
        break;
    case CRAFT_EVENT_PROMOTE:
    case CRAFT_EVENT_REMOVE:
        craft_on_change(e, evp->type, evp->id, evp->peer, NULL, 0);
        break;
    case CRAFT_EVENT_SNAPSHOT_TAKEN:
        rv = craft_on_snapshot_taken(e, evp->index, evp->term);
        if (rv != CRAFT_OK) {
            e->out = NULL;
            craft_actions_clear(out);
            return rv;
        }
        break;
    case CRAFT_EVENT_SNAPSHOT_CHUNK:
        craft_on_snapshot_chunk(e, evp);
        break;
    default:
        break;
    }
    epilogue(e);
    return CRAFT_OK;
}
