/*
 * engine/membership.c: the current configuration and quorum arithmetic.
 *
 * A server uses the latest configuration in its log, committed or not
 * (thesis §4.1); when that entry is truncated away it falls back to the
 * previous one.
 */
#include "engine/engine.h"

#include <string.h>

int craft_conf_index_of(const struct craft_engine *e, uint64_t id)
{
    return craft_conf_find(&e->conf, id);
}

int craft_is_voter(const struct craft_engine *e, uint64_t id)
{
    int k = craft_conf_find(&e->conf, id);
    return k >= 0 && e->conf.m[k].role == CRAFT_MEMBER_VOTER;
}

uint32_t craft_quorum(const struct craft_engine *e)
{
    return e->quorum;
}

/*
 * Installs c as the configuration, keeping the progress of members that
 * stay (by id) and starting new ones in PROBE at the end of the log.
 * The in-flight rings are fixed slices of inflight_buf, one per slot, so
 * moving a member to another slot copies its ring contents.
 */
void craft_conf_set(struct craft_engine *e, const struct craft_conf *c,
                    uint64_t index)
{
    struct craft_progress old[CRAFT_MAX_MEMBERS];
    struct craft_conf prev = e->conf;
    uint32_t cap = e->opts.max_inflight;
    memcpy(old, e->prs, sizeof(old));

    CRAFT_ASSERT(craft_conf_check(c) == CRAFT_OK);
    for (uint32_t k = 0; k < c->n; k++) {
        struct craft_progress *p = &e->prs[k];
        uint64_t *ring = e->inflight_buf + (size_t)k * cap;
        int j = craft_conf_find(&prev, c->m[k].id);
        if (j >= 0 && (uint32_t)j == k) {
            continue; /* same slot: untouched */
        }
        memset(p, 0, sizeof(*p));
        /* A member that stays keeps its known match; flow control
         * restarts in PROBE rather than copying a ring another slot may
         * overwrite. */
        craft_progress_init(p, ring, cap, j >= 0 ? old[j].match : 0,
                            craft_log_last(&e->log) + 1);
        if (j >= 0) {
            p->recent_active = old[j].recent_active;
        }
    }
    e->conf = *c;
    e->conf_index = index;
    e->quorum = craft_conf_voters(c) / 2 + 1;
    /* The largest configuration a step can append: this one with a role
     * changed, or with one more member carrying the longest address (one
     * address-length byte more per member once addresses appear). */
    size_t reserve = craft_conf_encoded_size(c) + 10u + CRAFT_MAX_ADDR_BYTES +
                     c->n + 1u;
    e->conf_reserve =
        reserve < CRAFT_CONF_MAX_BYTES ? reserve : CRAFT_CONF_MAX_BYTES;
}

/*
 * A server campaigns in the configuration it is a voter of. Normally that
 * is the latest one (thesis §4.1). A server whose latest configuration
 * removed it, while that removal is not committed, still campaigns in the
 * previous one: otherwise a leader that appended its own removal and then
 * lost leadership before the others had the entry can leave them unable to
 * elect anyone (their configuration still needs its vote, and its longer
 * log makes it refuse theirs, §5.4.1). The two configurations differ by one
 * server, so their majorities overlap and safety is unchanged (§4.2).
 */
int craft_electable(const struct craft_engine *e, struct craft_conf *out)
{
    if (craft_is_voter(e, e->id)) {
        if (out != NULL) {
            *out = e->conf;
        }
        return 1;
    }
    if (e->conf_index <= e->commit || e->conf_index <= e->log.snap_index) {
        return 0;
    }
    struct craft_conf prev;
    craft_conf_at_index(e, e->conf_index - 1, &prev);
    int k = craft_conf_find(&prev, e->id);
    if (k < 0 || prev.m[k].role != CRAFT_MEMBER_VOTER) {
        return 0;
    }
    if (out != NULL) {
        *out = prev;
    }
    return 1;
}

void craft_conf_on_append(struct craft_engine *e, uint64_t index)
{
    CRAFT_ASSERT(index > e->log.snap_index &&
                 index <= craft_log_last(&e->log));
    const struct craft_entry *en = craft_log_get(&e->log, index);
    struct craft_conf c;
    /* Entries reach the log only after their CONFIG payload decoded (a
     * proposal is built by the engine, a received entry is checked in
     * step.c), so this cannot fail. */
    if (craft_conf_decode(en->data, en->len, &c) == CRAFT_OK) {
        craft_conf_set(e, &c, index);
    }
}

void craft_conf_rollback(struct craft_engine *e)
{
    if (e->conf_index <= craft_log_last(&e->log) ||
        CRAFT_BUG(e, CRAFT_BUG_CONF_NO_ROLLBACK)) {
        return;
    }
    for (uint64_t i = craft_log_last(&e->log); i > e->log.snap_index; i--) {
        if (craft_log_get(&e->log, i)->type == CRAFT_ENTRY_CONFIG) {
            craft_conf_on_append(e, i);
            return;
        }
    }
    struct craft_conf c = e->snap_conf;
    craft_conf_set(e, &c, e->snap_conf_index);
}
