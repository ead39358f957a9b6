/*
 * sim/inv_step.c: what the checker looks at after every step: the
 * actions in list order (role changes, hard state, truncations, appends,
 * snapshot installs), then the engine's commit index and role, then the
 * hand-over of committed entries. Persist-before-send is checked later,
 * when the host lets each message leave (inv_send.c).
 */
#include <inttypes.h>

#include "host/host.h"
#include "sim/inv.h"

/* Returns whether n's log held the snapshot's last entry (same index and
 * term) before the install: only then may entries after it stay (§7,
 * Figure 13 step 6). */
static int install(struct sim *s, struct sim_node *n,
                   const struct craft_action *x)
{
    const struct sim_sentry *old = sim_shadow_at(n, x->index);
    int match = x->index == n->shadow.base
                    ? n->base_term == x->term
                    : old != NULL && old->term == x->term;
    const struct sim_sentry *c = sim_inv_committed(s, x->index);
    if (c == NULL) {
        sim_fail(s, SIM_V_SNAPSHOT,
                 "node %" PRIu64 " installs a snapshot at %" PRIu64
                 " but only %" PRIu64 " entries are committed",
                 n->id, x->index, sim_win_last(&s->inv.committed));
        return match;
    }
    if (c->term != x->term) {
        sim_fail(s, SIM_V_SNAPSHOT,
                 "node %" PRIu64 " installs a snapshot at %" PRIu64
                 " of term %" PRIu64 " but the committed entry there has "
                 "term %" PRIu64,
                 n->id, x->index, x->term, c->term);
        return match;
    }
    sim_inv_compact(s, n, x->index, x->term, c->hash);
    if (n->commit < x->index) {
        n->commit = x->index;
    }
    if (n->applied < x->index) {
        n->applied = x->index;
    }
    s->res->snapshots_installed++;
    return match;
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

/* What the checker looks at in the action list (host_run's handlers). */
struct look {
    struct sim *s;
    struct sim_node *n;
    uint64_t stale_at; /* an install over a log whose entry there had
                          another term */
};

static int stopped(const struct look *l)
{
    return l->s->stop ? HOST_STOP_AFTER : HOST_NEXT;
}

static int on_role_change(void *ctx, craft_actions *a, size_t i)
{
    struct look *l = ctx;
    sim_inv_role(l->s, l->n, a->v[i].role, a->v[i].term);
    return stopped(l);
}

static int on_hard_state(void *ctx, craft_actions *a, size_t i)
{
    struct look *l = ctx;
    sim_inv_hard_state(l->s, l->n, a->v[i].term, a->v[i].vote);
    return stopped(l);
}

static int on_truncate(void *ctx, craft_actions *a, size_t i)
{
    struct look *l = ctx;
    sim_inv_truncate(l->s, l->n, a->v[i].index);
    return stopped(l);
}

static int on_append(void *ctx, craft_actions *a, size_t i)
{
    struct look *l = ctx;
    const struct craft_action *x = &a->v[i];
    sim_inv_append(l->s, l->n, x->index, x->entries, (size_t)x->count);
    return stopped(l);
}

static int on_install(void *ctx, craft_actions *a, size_t i)
{
    struct look *l = ctx;
    if (!install(l->s, l->n, &a->v[i])) {
        l->stale_at = a->v[i].index;
    }
    return stopped(l);
}

static int on_apply(void *ctx, craft_actions *a, size_t i)
{
    struct look *l = ctx;
    sim_inv_engine_apply(l->s, l->n, a->v[i].index, (size_t)a->v[i].count);
    return stopped(l);
}

/* First pass: the log and the role, in list order. */
static const struct host_ops log_ops = {
    .hard_state = on_hard_state,
    .append = on_append,
    .truncate = on_truncate,
    .role_change = on_role_change,
    .snapshot_install = on_install,
};

/* Last pass: the hand-over of committed entries. */
static const struct host_ops apply_ops = {
    .apply = on_apply,
};

void sim_inv_step(struct sim *s, struct sim_node *n, const craft_event *ev)
{
    struct look l = {s, n, 0};
    size_t next = 0;
    if (!s->stop) {
        host_run(&log_ops, &l, n->acts, &next);
    }
    if (s->stop) {
        return;
    }
    if (l.stale_at != 0 && sim_win_last(&n->shadow) > l.stale_at) {
        sim_fail(s, SIM_V_SNAPSHOT_SUFFIX,
                 "node %" PRIu64 " installs a snapshot at %" PRIu64
                 " over a log whose entry there has another term, and keeps "
                 "the entries after it (up to %" PRIu64 ")",
                 n->id, l.stale_at, sim_win_last(&n->shadow));
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
    next = 0;
    if (!s->stop) {
        host_run(&apply_ops, &l, n->acts, &next);
    }
    sim_inv_voters(s, n);
}
