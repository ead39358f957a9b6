/*
 * sim/inv_send.c: persist-before-send (Figure 2: "respond to RPCs only
 * after updating stable storage"). Checked when a message leaves its
 * node, against what that node's disk durably holds at that moment: a
 * message may not promise anything a crash could take back. A vote grant
 * needs the durable vote, an acknowledged entry the durable entry, an
 * installed snapshot the durable snapshot, a vote request the candidate's
 * durable self-vote, a leader's message its durable term. (A message that
 * merely carries a newer term, e.g. a refusal, promises nothing.)
 */
#include <inttypes.h>

#include "sim/inv.h"

static const char *msg_name(uint32_t type)
{
    static const char *const names[] = {
        "?", "APPEND", "APPEND_RESP", "VOTE", "VOTE_RESP", "PREVOTE",
        "PREVOTE_RESP", "HEARTBEAT", "HEARTBEAT_RESP", "SNAPSHOT",
        "SNAPSHOT_RESP", "TIMEOUT_NOW", "READ_INDEX", "READ_INDEX_RESP"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

void sim_inv_send(struct sim *s, struct sim_node *n, const struct craft_msg *m)
{
    sim_inv_read_sent(s, n, m);
    const struct sim_disk *d = &n->disk;
    int granted = !(m->flags & CRAFT_MSG_F_REJECT);
    switch (m->type) {
    case CRAFT_MSG_VOTE:
        /* A candidate's own vote: lost in a crash, it could vote again
         * in the same term for someone else. */
        if (d->term != m->term || d->vote != n->id) {
            sim_fail(s, SIM_V_PERSIST_BEFORE_SEND,
                     "candidate %" PRIu64 " asks for votes in term %" PRIu64
                     " but its durable hard state is term %" PRIu64
                     " vote %" PRIu64,
                     n->id, m->term, d->term, d->vote);
        }
        return;
    case CRAFT_MSG_APPEND:
    case CRAFT_MSG_HEARTBEAT:
    case CRAFT_MSG_SNAPSHOT:
    case CRAFT_MSG_TIMEOUT_NOW:
        /* A leader's term (and so its self-vote) is durable. */
        if (m->term > d->term) {
            sim_fail(s, SIM_V_PERSIST_BEFORE_SEND,
                     "leader %" PRIu64 " sends %s of term %" PRIu64
                     " to %" PRIu64 " while its durable term is %" PRIu64,
                     n->id, msg_name(m->type), m->term, m->to, d->term);
        }
        return;
    default:
        break;
    }
    switch (m->type) {
    case CRAFT_MSG_VOTE_RESP:
        if (granted && (d->term != m->term || d->vote != m->to)) {
            sim_fail(s, SIM_V_PERSIST_BEFORE_SEND,
                     "node %" PRIu64 " grants its vote in term %" PRIu64
                     " to %" PRIu64 " but its durable vote is %" PRIu64
                     " in term %" PRIu64,
                     n->id, m->term, m->to, d->vote, d->term);
        }
        break;
    case CRAFT_MSG_APPEND_RESP: {
        if (!granted || m->index == 0 || m->index <= n->shadow.base) {
            break;
        }
        const struct sim_sentry *e = sim_shadow_at(n, m->index);
        uint64_t term = e != NULL ? e->term : 0;
        if (e == NULL || !sim_disk_holds(d, m->index, term)) {
            const struct sim_dentry *de = sim_disk_entry(d, m->index);
            sim_fail(s, SIM_V_PERSIST_BEFORE_SEND,
                     "node %" PRIu64 " acknowledges entry %" PRIu64
                     " (term %" PRIu64 ") to %" PRIu64
                     " but its disk %s",
                     n->id, m->index, term, m->to,
                     de == NULL ? "does not hold it yet"
                                : "holds another term there");
        }
        break;
    }
    case CRAFT_MSG_SNAPSHOT_RESP: {
        if (!(m->flags & CRAFT_MSG_F_LAST) || !granted) {
            break;
        }
        const struct sim_sentry *c = sim_inv_committed(s, m->index);
        if (d->snap[0].index < m->index &&
            (c == NULL || !sim_disk_holds(d, m->index, c->term))) {
            sim_fail(s, SIM_V_PERSIST_BEFORE_SEND,
                     "node %" PRIu64 " acknowledges snapshot %" PRIu64
                     " to %" PRIu64
                     " but its disk holds neither it nor the entry",
                     n->id, m->index, m->to);
        }
        break;
    }
    default:
        break;
    }
}
