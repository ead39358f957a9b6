/*
 * engine/snapshot.c: log compaction (thesis §5) and the leader's side of
 * sending a snapshot in chunks.
 *
 * Snapshots are opaque: the host takes them, stores them and reads them
 * back in chunks when the engine asks (SNAPSHOT_READ), so the engine
 * never holds more than one chunk. The next chunk is read as soon as the
 * follower acknowledges the previous one; a transfer resumes from the
 * offset the follower asks for.
 */
#include "engine/engine.h"

#include <string.h>

int craft_chunk_reserve(struct craft_engine *e, size_t len)
{
    if (len <= e->chunk_cap) {
        return CRAFT_OK;
    }
    uint8_t *p = craft_realloc(&e->alloc, e->chunk, len);
    if (p == NULL) {
        return CRAFT_ENOMEM;
    }
    e->chunk = p;
    e->chunk_cap = len;
    return CRAFT_OK;
}

void craft_conf_at_index(const struct craft_engine *e, uint64_t index,
                         struct craft_conf *out)
{
    /* The latest configuration covers every index from its own on: only
     * an index before it needs the log searched (the profile showed this
     * scan on every snapshot). */
    if (index >= e->conf_index) {
        *out = e->conf;
        return;
    }
    uint64_t i = index < craft_log_last(&e->log) ? index
                                                 : craft_log_last(&e->log);
    for (; i > e->log.snap_index; i--) {
        const struct craft_entry *en = craft_log_get(&e->log, i);
        if (en->type == CRAFT_ENTRY_CONFIG &&
            craft_conf_decode(en->data, en->len, out) == CRAFT_OK) {
            return;
        }
    }
    *out = e->base_conf;
}

/* The snapshot policy: ask for a snapshot once enough was applied. */
void craft_snapshot_policy(struct craft_engine *e, uint64_t from, uint64_t to)
{
    CRAFT_ASSERT(from <= to && to <= e->applied);
    e->since_snap_entries += to - from + 1;
    if (e->opts.snapshot_bytes > 0) {
        e->since_snap_bytes += craft_log_bytes(&e->log, from, to);
    }
    if (e->snap_requested) {
        return;
    }
    if ((e->opts.snapshot_entries > 0 &&
         e->since_snap_entries >= e->opts.snapshot_entries) ||
        (e->opts.snapshot_bytes > 0 &&
         e->since_snap_bytes >= e->opts.snapshot_bytes)) {
        struct craft_action *x =
            craft_actions_push(e->out, CRAFT_ACTION_TAKE_SNAPSHOT);
        x->index = to;
        e->snap_requested = 1;
    }
}

/* Compacts the log up to the snapshot, keeping snapshot_trailing entries
 * so followers slightly behind still get entries, not a snapshot. */
static void compact(struct craft_engine *e)
{
    uint64_t keep = e->opts.snapshot_trailing;
    uint64_t upto = e->snapshot_index > keep ? e->snapshot_index - keep : 0;
    if (upto <= e->log.snap_index) {
        return;
    }
    craft_conf_at_index(e, upto, &e->base_conf);
    e->base_conf_index = upto;
    craft_log_compact(&e->alloc, &e->log, upto,
                      craft_log_term(&e->log, upto));
}

int craft_on_snapshot_taken(struct craft_engine *e, uint64_t index,
                            uint64_t term)
{
    if (index == 0 || index > e->applied) {
        return CRAFT_EINVAL;
    }
    if (index <= e->snapshot_index) {
        /* Older than what we have (e.g. a snapshot installed from the
         * leader meanwhile, its entries compacted): nothing to do. */
        return CRAFT_OK;
    }
    if (craft_log_term(&e->log, index) != term) {
        return CRAFT_EINVAL;
    }
    struct craft_conf c;
    craft_conf_at_index(e, index, &c);
    e->snapshot_index = index;
    e->snapshot_term = term;
    e->snap_conf = c;
    e->snap_conf_index = index;
    e->snap_conf_len = craft_conf_encode(&c, e->snap_conf_bytes);
    e->snap_requested = 0;
    /* What was applied after the snapshot counts toward the next one. */
    e->since_snap_entries = e->applied - index;
    e->since_snap_bytes = e->opts.snapshot_bytes > 0 && e->applied > index
                              ? craft_log_bytes(&e->log, index + 1, e->applied)
                              : 0;
    compact(e);
    return CRAFT_OK;
}

static void read_chunk(struct craft_engine *e, int slot)
{
    struct craft_progress *p = &e->prs[slot];
    CRAFT_ASSERT(p->state == CRAFT_PROGRESS_STATE_SNAPSHOT);
    struct craft_action *x =
        craft_actions_push(e->out, CRAFT_ACTION_SNAPSHOT_READ);
    x->peer = e->conf.m[slot].id;
    x->index = p->snap_index;
    x->offset = p->snap_offset;
    x->count = e->opts.snapshot_chunk_bytes;
    p->snap_reading = 1;
    p->snap_wait = 0;
}

/* The peer needs entries we compacted: send it our newest snapshot. */
void craft_snapshot_start(struct craft_engine *e, int slot)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    CRAFT_ASSERT(e->snapshot_index >= e->log.snap_index &&
                 e->snapshot_index > 0);
    craft_progress_become_snapshot(&e->prs[slot], e->snapshot_index);
    read_chunk(e, slot);
}

void craft_on_snapshot_chunk(struct craft_engine *e, const craft_event *ev)
{
    int slot = craft_conf_index_of(e, ev->peer);
    if (e->role != CRAFT_ROLE_LEADER || slot < 0) {
        return;
    }
    struct craft_progress *p = &e->prs[slot];
    if (p->state != CRAFT_PROGRESS_STATE_SNAPSHOT || !p->snap_reading ||
        ev->index != p->snap_index || ev->offset != p->snap_offset) {
        return; /* stale answer */
    }
    p->snap_reading = 0;
    if (ev->flags & CRAFT_EVENT_F_FAILED) {
        /* The host no longer has it (a newer one replaced it). */
        craft_snapshot_start(e, slot);
        return;
    }
    if (p->snap_index != e->snapshot_index) {
        craft_snapshot_start(e, slot);
        return;
    }
    if (ev->len > 0) {
        /* Reserved in the prologue. An empty chunk (an empty snapshot, or
         * the end of one) reserved nothing: chunk may still be NULL. */
        memcpy(e->chunk, ev->data, ev->len);
    }
    struct craft_msg *m =
        craft_send_independent(e, CRAFT_MSG_SNAPSHOT, ev->peer);
    m->index = e->snapshot_index;
    m->log_term = e->snapshot_term;
    m->offset = ev->offset;
    m->data = e->chunk;
    m->len = ev->len;
    m->conf = e->snap_conf_bytes;
    m->conf_len = e->snap_conf_len;
    m->flags = (ev->flags & CRAFT_EVENT_F_LAST) ? CRAFT_MSG_F_LAST : 0;
    p->snap_wait = 0;
}

void craft_on_snapshot_resp(struct craft_engine *e, const struct craft_msg *m)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    int slot = craft_conf_index_of(e, m->from);
    if (slot < 0) {
        return;
    }
    struct craft_progress *p = &e->prs[slot];
    p->recent_active = 1;
    if (p->state != CRAFT_PROGRESS_STATE_SNAPSHOT ||
        m->index != p->snap_index) {
        return;
    }
    if (m->flags & CRAFT_MSG_F_LAST) {
        /* Installed: continue with entries after it (§7). */
        craft_progress_maybe_update(p, m->index);
        craft_progress_become_probe(p);
        craft_maybe_commit(e);
        if (e->role == CRAFT_ROLE_LEADER) {
            craft_send_append(e, slot, 1);
            craft_promo_check(e);
        }
        return;
    }
    if (p->snap_reading && m->offset == p->snap_offset) {
        return; /* that chunk is being read already */
    }
    p->snap_offset = m->offset;
    read_chunk(e, slot);
}

/* A chunk or its ack may be lost: resend from the acknowledged offset
 * after half an election timeout of silence. */
void craft_snapshot_tick(struct craft_engine *e)
{
    CRAFT_ASSERT(e->role == CRAFT_ROLE_LEADER);
    for (uint32_t k = 0; k < e->conf.n; k++) {
        struct craft_progress *p = &e->prs[k];
        if (p->state != CRAFT_PROGRESS_STATE_SNAPSHOT ||
            e->conf.m[k].id == e->id) {
            continue;
        }
        if (++p->snap_wait >= e->opts.election_ticks / 2 + 1) {
            read_chunk(e, (int)k);
        }
    }
}

int craft_engine_conf_at(const craft_engine *e, uint64_t index,
                         const void **data, size_t *len)
{
    struct craft_conf c;
    if (e == NULL || data == NULL || len == NULL) {
        return CRAFT_EINVAL;
    }
    if (index == 0 || index == e->snapshot_index) {
        if (e->snapshot_index == 0) {
            return CRAFT_ENOENT;
        }
        *data = e->snap_conf_bytes;
        *len = e->snap_conf_len;
        return CRAFT_OK;
    }
    if (index < e->log.snap_index || index > craft_log_last(&e->log)) {
        return CRAFT_ENOENT;
    }
    craft_conf_at_index(e, index, &c);
    *len = craft_conf_encode(&c, e->conf_out);
    *data = e->conf_out;
    return CRAFT_OK;
}
