/*
 * sim/inv_step.c: what the checker looks at after every step: the
 * actions in list order (role changes, hard state, truncations, appends,
 * snapshot installs), then the engine's commit index and role, then the
 * hand-over of committed entries. Persist-before-send is checked later,
 * when the host lets each message leave (inv_send.c).
 */
#include <inttypes.h>

#include "sim/inv.h"

static void install(struct sim *s, struct sim_node *n,
                    const struct craft_action *x)
{
    const struct sim_sentry *c = sim_inv_committed(s, x->index);
    if (c == NULL) {
        sim_fail(s, SIM_V_SNAPSHOT,
                 "node %" PRIu64 " installs a snapshot at %" PRIu64
                 " but only %" PRIu64 " entries are committed",
                 n->id, x->index, sim_win_last(&s->inv.committed));
        return;
    }
    if (c->term != x->term) {
        sim_fail(s, SIM_V_SNAPSHOT,
                 "node %" PRIu64 " installs a snapshot at %" PRIu64
                 " of term %" PRIu64 " but the committed entry there has "
                 "term %" PRIu64,
                 n->id, x->index, x->term, c->term);
        return;
    }
    sim_inv_compact(s, n, x->index, x->term, c->hash);
    if (n->commit < x->index) {
        n->commit = x->index;
    }
    if (n->applied < x->index) {
        n->applied = x->index;
    }
    s->res->snapshots_installed++;
}

/* The engine compacted its log after SNAPSHOT_TAKEN: so does the shadow
 * (entries up to a snapshot are committed and applied; no check needs
 * them any more). */
static void compacted(struct sim *s, struct sim_node *n, uint64_t index)
{
    if (index <= n->shadow.base || index > sim_win_last(&n->shadow)) {
        return;
    }
    const struct sim_sentry *e = sim_shadow_at(n, index);
    sim_inv_compact(s, n, index, e->term, e->hash);
}

void sim_inv_step(struct sim *s, struct sim_node *n, const craft_event *ev)
{
    const struct craft_actions *a = n->acts;
    for (size_t i = 0; i < a->n && !s->stop; i++) {
        const struct craft_action *x = &a->v[i];
        switch (x->type) {
        case CRAFT_ACTION_ROLE_CHANGE:
            sim_inv_role(s, n, x->role, x->term);
            break;
        case CRAFT_ACTION_PERSIST_HARD_STATE:
            sim_inv_hard_state(s, n, x->term, x->vote);
            break;
        case CRAFT_ACTION_TRUNCATE:
            sim_inv_truncate(s, n, x->index);
            break;
        case CRAFT_ACTION_APPEND:
            sim_inv_append(s, n, x->index, x->entries, (size_t)x->count);
            break;
        case CRAFT_ACTION_SNAPSHOT_INSTALL:
            install(s, n, x);
            break;
        default:
            break;
        }
    }
    if (s->stop) {
        return;
    }
    if (ev != NULL && ev->type == CRAFT_EVENT_SNAPSHOT_TAKEN) {
        compacted(s, n, ev->index);
    }
    const struct craft_engine *e = n->e;
    sim_inv_commit(s, n, e->commit);
    if (!s->stop && e->role != n->role) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " is in role %d but its last ROLE_CHANGE "
                 "said %d",
                 n->id, e->role, n->role);
        return;
    }
    for (size_t i = 0; i < a->n && !s->stop; i++) {
        const struct craft_action *x = &a->v[i];
        if (x->type == CRAFT_ACTION_APPLY) {
            sim_inv_engine_apply(s, n, x->index, (size_t)x->count);
        }
    }
    sim_inv_voters(s, n);
}
