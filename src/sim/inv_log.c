/*
 * sim/inv_log.c: each node's log as its actions describe it (the shadow
 * log), Log Matching (§5.3), Leader Append-Only (Figure 3) and at most one
 * uncommitted configuration change (thesis §4.1).
 */
#include <inttypes.h>

#include "sim/hash.h"
#include "sim/inv.h"

static void drop_confs_from(struct sim_node *n, uint64_t index)
{
    while (n->nconfs > 0 && n->confs[n->nconfs - 1] >= index) {
        n->nconfs--;
    }
}

static void push_conf(struct sim_node *n, uint64_t index)
{
    if (n->nconfs == sizeof(n->confs) / sizeof(n->confs[0])) {
        /* Keep the newest: only the last one matters for the check. */
        for (uint32_t k = 1; k < n->nconfs; k++) {
            n->confs[k - 1] = n->confs[k];
        }
        n->nconfs--;
    }
    n->confs[n->nconfs++] = index;
}

void sim_inv_truncate(struct sim *s, struct sim_node *n, uint64_t index)
{
    if (n->role == CRAFT_ROLE_LEADER) {
        sim_fail(s, SIM_V_LEADER_APPEND_ONLY,
                 "leader %" PRIu64 " of term %" PRIu64
                 " truncates its log from %" PRIu64,
                 n->id, n->term, index);
        return;
    }
    if (index <= n->commit) {
        sim_fail(s, SIM_V_STATE_MACHINE_SAFETY,
                 "node %" PRIu64 " truncates from %" PRIu64
                 " but committed %" PRIu64,
                 n->id, index, n->commit);
        return;
    }
    if (index <= n->shadow.base) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " truncates from %" PRIu64
                 ", inside its snapshot (%" PRIu64 ")",
                 n->id, index, n->shadow.base);
        return;
    }
    sim_win_truncate(&n->shadow, index);
    drop_confs_from(n, index);
}

/* Thesis §4.1: a leader appends a configuration only when the previous
 * one is committed, and (the 2015 erratum) only once it has committed an
 * entry of its own term. */
static void config_change(struct sim *s, struct sim_node *n, uint64_t index)
{
    uint64_t commit = n->e->commit;
    if (n->nconfs > 0 && n->confs[n->nconfs - 1] > commit) {
        sim_fail(s, SIM_V_CONFIG_CHANGE,
                 "leader %" PRIu64 " appends configuration %" PRIu64
                 " while configuration %" PRIu64
                 " is uncommitted (commit %" PRIu64 ")",
                 n->id, index, n->confs[n->nconfs - 1], commit);
        return;
    }
    const struct sim_sentry *c = sim_shadow_at(n, commit);
    uint64_t cterm = c != NULL ? c->term : n->base_term;
    if (cterm != n->term) {
        sim_fail(s, SIM_V_CONFIG_CHANGE,
                 "leader %" PRIu64 " of term %" PRIu64
                 " appends configuration %" PRIu64
                 " before committing an entry of its term (commit %" PRIu64
                 " is of term %" PRIu64 ")",
                 n->id, n->term, index, commit, cterm);
    }
}

void sim_inv_append(struct sim *s, struct sim_node *n, uint64_t index,
                    const struct craft_entry *ents, size_t count)
{
    uint64_t last = sim_win_last(&n->shadow);
    if (index != last + 1) {
        sim_fail(s, SIM_V_CONTRACT,
                 "node %" PRIu64 " appends at %" PRIu64
                 " but its log ends at %" PRIu64 " (no TRUNCATE before)",
                 n->id, index, last);
        return;
    }
    int ok;
    uint64_t prev = sim_shadow_hash(n, last, &ok);
    for (size_t k = 0; k < count && !s->stop; k++) {
        const struct craft_entry *en = &ents[k];
        uint64_t i = index + k;
        if (n->role == CRAFT_ROLE_LEADER && en->term != n->term) {
            sim_fail(s, SIM_V_LEADER_APPEND_ONLY,
                     "leader %" PRIu64 " of term %" PRIu64
                     " appends entry %" PRIu64 " of term %" PRIu64,
                     n->id, n->term, i, en->term);
            return;
        }
        uint64_t h = sim_prefix_hash(prev, i, en->term, en->type, en->data,
                                     en->len);
        uint64_t other;
        if (sim_inv_lm(s, i, en->term, h, &other) != 0) {
            sim_fail(s, SIM_V_LOG_MATCHING,
                     "node %" PRIu64 " holds entry %" PRIu64
                     " of term %" PRIu64
                     " after a log that differs from another node's log "
                     "holding the same entry",
                     n->id, i, en->term);
            return;
        }
        struct sim_sentry *x = sim_win_push(&n->shadow);
        if (x == NULL) {
            sim_fail(s, SIM_V_NONE, "out of memory");
            return;
        }
        x->term = en->term;
        x->hash = h;
        x->type = en->type;
        if (en->type == CRAFT_ENTRY_CONFIG) {
            if (n->role == CRAFT_ROLE_LEADER) {
                config_change(s, n, i);
            }
            push_conf(n, i);
        }
        prev = h;
    }
}

void sim_inv_compact(struct sim *s, struct sim_node *n, uint64_t index,
                     uint64_t term, uint64_t hash)
{
    (void)s;
    sim_win_compact(&n->shadow, index);
    n->base_term = term;
    n->base_hash = hash;
    uint32_t keep = 0;
    for (uint32_t k = 0; k < n->nconfs; k++) {
        if (n->confs[k] > index) {
            n->confs[keep++] = n->confs[k];
        }
    }
    n->nconfs = keep;
}

int sim_inv_restart(struct sim *s, struct sim_node *n)
{
    const struct sim_disk *d = &n->disk;
    uint64_t base = d->snap[0].index;
    sim_win_reset(&n->shadow, base);
    n->base_hash = base > 0 ? n->kv.hash : 0;
    n->base_term = d->snap[0].term;
    n->nconfs = 0;
    if (base > 0) {
        const struct sim_sentry *c = sim_inv_committed(s, base);
        if (c != NULL && c->hash != n->base_hash) {
            sim_fail(s, SIM_V_SNAPSHOT,
                     "node %" PRIu64 " restarts from a snapshot at %" PRIu64
                     " that is not the committed state",
                     n->id, base);
            return -1;
        }
    }
    uint64_t prev = n->base_hash;
    for (uint64_t i = base + 1; i <= sim_win_last(&d->log); i++) {
        const struct sim_dentry *e = sim_disk_entry(d, i);
        uint64_t h = sim_prefix_hash(prev, i, e->term, e->type, e->data,
                                     e->len);
        uint64_t other;
        if (sim_inv_lm(s, i, e->term, h, &other) != 0) {
            sim_fail(s, SIM_V_LOG_MATCHING,
                     "node %" PRIu64 " restarts with entry %" PRIu64
                     " of term %" PRIu64
                     " after a log that differs from another node's log "
                     "holding the same entry (durable log inconsistent "
                     "with its snapshot?)",
                     n->id, i, e->term);
            return -1;
        }
        struct sim_sentry *x = sim_win_push(&n->shadow);
        if (x == NULL) {
            sim_fail(s, SIM_V_NONE, "out of memory");
            return -1;
        }
        x->term = e->term;
        x->hash = h;
        x->type = e->type;
        if (e->type == CRAFT_ENTRY_CONFIG) {
            push_conf(n, i);
        }
        prev = h;
    }
    return 0;
}

/* Thesis §4.1: a server uses the latest configuration in its log,
 * committed or not; when that entry is truncated away it falls back to
 * the previous one (or the snapshot's). */
void sim_inv_membership(struct sim *s, struct sim_node *n)
{
    uint64_t have = n->e->conf_index;
    if (n->nconfs > 0) {
        uint64_t want = n->confs[n->nconfs - 1];
        if (have != want) {
            sim_fail(s, SIM_V_MEMBERSHIP,
                     "node %" PRIu64 " uses the configuration of entry %" PRIu64
                     " but the latest in its log is entry %" PRIu64,
                     n->id, have, want);
        }
    } else if (have > n->shadow.base) {
        sim_fail(s, SIM_V_MEMBERSHIP,
                 "node %" PRIu64 " uses the configuration of entry %" PRIu64
                 " but its log (after %" PRIu64 ") holds none",
                 n->id, have, n->shadow.base);
    }
}
