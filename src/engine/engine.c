/*
 * engine/engine.c: creating and freeing an engine, its options, and the
 * read-only accessors.
 */
#include "engine/engine.h"

#include <string.h>

int craft_engine_options_init(craft_engine_options *o)
{
    if (o == NULL) {
        return CRAFT_EINVAL;
    }
    /* Copied from a static so padding bytes are written too (zero, as
     * static storage is), and the bytes equal a zeroed struct set by the
     * macro. */
    static const craft_engine_options d = CRAFT_ENGINE_OPTIONS_INIT;
    memcpy(o, &d, sizeof(d));
    return CRAFT_OK;
}

int craft_event_init(craft_event *ev)
{
    if (ev == NULL) {
        return CRAFT_EINVAL;
    }
    static const craft_event d = CRAFT_EVENT_INIT;
    memcpy(ev, &d, sizeof(d));
    return CRAFT_OK;
}

/* The smallest options struct accepted: every version has id. */
#define OPTIONS_MIN_SIZE                                                      \
    (offsetof(craft_engine_options, id) + sizeof(uint64_t))

static int copy_options(const craft_engine_options *in,
                        craft_engine_options *o)
{
    craft_engine_options_init(o);
    if (in->struct_size < OPTIONS_MIN_SIZE || in->struct_size > sizeof(*o)) {
        return CRAFT_ESTRUCT;
    }
    memcpy(o, in, in->struct_size);
    o->struct_size = sizeof(*o);
    if (o->id == CRAFT_NONE || o->election_ticks < 2 ||
        o->heartbeat_ticks == 0 || o->heartbeat_ticks >= o->election_ticks ||
        o->max_inflight == 0 || o->max_inflight > CRAFT_MAX_INFLIGHT ||
        o->max_msg_bytes == 0 || o->snapshot_chunk_bytes == 0 ||
        o->snapshot_chunk_bytes > CRAFT_MAX_ENTRY_BYTES ||
        o->catchup_rounds == 0) {
        return CRAFT_EINVAL;
    }
    /* A lease is only as good as the promise that followers will not
     * elect anyone else while they hear from us (thesis §6.4.1). */
    if (o->lease_reads && !o->check_quorum) {
        return CRAFT_EINVAL;
    }
    return CRAFT_OK;
}

int craft_engine_create(const craft_engine_options *opts, craft_engine **out)
{
    craft_engine_options o;
    struct craft_alloc al;
    int rv;

    if (opts == NULL || out == NULL) {
        return CRAFT_EINVAL;
    }
    rv = copy_options(opts, &o);
    if (rv != CRAFT_OK) {
        return rv;
    }
    rv = craft_alloc_from_public(o.allocator, &al);
    if (rv != CRAFT_OK) {
        return rv;
    }
    struct craft_engine *e = craft_calloc(&al, sizeof(*e));
    if (e == NULL) {
        return CRAFT_ENOMEM;
    }
    e->inflight_buf = craft_malloc(
        &al, (size_t)CRAFT_MAX_MEMBERS * o.max_inflight * sizeof(uint64_t));
    e->snap_conf_bytes = craft_malloc(&al, CRAFT_CONF_MAX_BYTES);
    e->conf_out = craft_malloc(&al, CRAFT_CONF_MAX_BYTES);
    if (e->inflight_buf == NULL || e->snap_conf_bytes == NULL ||
        e->conf_out == NULL) {
        craft_free(&al, e->inflight_buf);
        craft_free(&al, e->snap_conf_bytes);
        craft_free(&al, e->conf_out);
        craft_free(&al, e);
        return CRAFT_ENOMEM;
    }
    e->alloc = al;
    e->opts = o;
    e->opts.allocator = NULL; /* copied into alloc; the caller's may go */
    e->id = o.id;
    e->role = CRAFT_ROLE_FOLLOWER;
    e->rng = o.seed != 0 ? o.seed : o.id;
    craft_log_init(&e->log);
    craft_reset_election_timeout(e);
    *out = e;
    return CRAFT_OK;
}

void craft_engine_free(craft_engine *e)
{
    if (e == NULL) {
        return;
    }
    struct craft_alloc al = e->alloc;
    craft_log_free(&al, &e->log);
    craft_entry_vec_free(&al, &e->scratch);
    craft_free(&al, e->inflight_buf);
    craft_free(&al, e->snap_conf_bytes);
    craft_free(&al, e->conf_out);
    craft_free(&al, e->chunk);
    craft_free(&al, e->reads);
    craft_free(&al, e->rcpt);
    craft_free(&al, e);
}

#ifdef CRAFT_PLANTED_BUGS
void craft_engine_plant_bug(craft_engine *e, int bug)
{
    e->planted_bug = bug;
}
#endif

/* ---- restart from persisted state ----------------------------------- */

int craft_engine_load_hard_state(craft_engine *e, uint64_t term, uint64_t vote)
{
    if (e == NULL) {
        return CRAFT_EINVAL;
    }
    if (e->started || craft_log_last(&e->log) != 0) {
        return CRAFT_ESTATE;
    }
    e->term = term;
    e->vote = vote;
    return CRAFT_OK;
}

int craft_engine_load_snapshot(craft_engine *e, uint64_t index, uint64_t term,
                               const void *conf, size_t conf_len)
{
    struct craft_conf c;
    if (e == NULL || conf == NULL || index == 0 || term == 0 ||
        index > CRAFT_MAX_INDEX) {
        return CRAFT_EINVAL;
    }
    if (e->started || e->log.n != 0 || e->log.snap_index != 0) {
        return CRAFT_ESTATE;
    }
    if (term > e->term) {
        return CRAFT_EINVAL;
    }
    int rv = craft_conf_decode(conf, conf_len, &c);
    if (rv != CRAFT_OK) {
        return rv;
    }
    craft_log_compact(&e->alloc, &e->log, index, term);
    e->snap_conf = c;
    e->snap_conf_index = index;
    e->base_conf = c;
    e->base_conf_index = index;
    e->snapshot_index = index;
    e->snapshot_term = term;
    e->snap_conf_len = craft_conf_encode(&c, e->snap_conf_bytes);
    craft_conf_set(e, &c, index);
    /* A snapshot holds only committed, applied state. */
    e->commit = e->applied = e->persisted = index;
    return CRAFT_OK;
}

int craft_engine_load_entry(craft_engine *e, uint64_t index, uint64_t term,
                            uint32_t type, const void *data, size_t len)
{
    struct craft_conf c;
    if (e == NULL || (data == NULL && len > 0)) {
        return CRAFT_EINVAL;
    }
    if (e->started) {
        return CRAFT_ESTATE;
    }
    if (index != craft_log_last(&e->log) + 1 || term == 0 ||
        term < craft_log_last_term(&e->log) || term > e->term ||
        type < CRAFT_ENTRY_NORMAL || type > CRAFT_ENTRY_CONFIG) {
        return CRAFT_EINVAL;
    }
    if (len > CRAFT_MAX_ENTRY_BYTES) {
        return CRAFT_ETOOBIG;
    }
    if (type == CRAFT_ENTRY_CONFIG) {
        int rv = craft_conf_decode(data, len, &c);
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    int rv = craft_log_reserve(&e->alloc, &e->log, 1, len);
    if (rv != CRAFT_OK) {
        return rv;
    }
    craft_log_append(&e->alloc, &e->log, term, type, data, (uint32_t)len);
    e->persisted = index;
    e->commit_unknown = 1;
    if (type == CRAFT_ENTRY_CONFIG) {
        craft_conf_set(e, &c, index);
    }
    return CRAFT_OK;
}

/* ---- accessors ------------------------------------------------------ */

#define CRAFT_ENGINE_FIELD(name, rtype, expr)                                 \
    rtype craft_engine_##name(const craft_engine *e)                          \
    {                                                                         \
        return e != NULL ? (rtype)(expr) : (rtype)0;                          \
    }

CRAFT_ENGINE_FIELD(id, uint64_t, e->id)
CRAFT_ENGINE_FIELD(role, int, e->role)
CRAFT_ENGINE_FIELD(term, uint64_t, e->term)
CRAFT_ENGINE_FIELD(vote, uint64_t, e->vote)
CRAFT_ENGINE_FIELD(leader, uint64_t, e->leader)
CRAFT_ENGINE_FIELD(commit_index, uint64_t, e->commit)
CRAFT_ENGINE_FIELD(last_index, uint64_t, craft_log_last(&e->log))
CRAFT_ENGINE_FIELD(last_term, uint64_t, craft_log_last_term(&e->log))
CRAFT_ENGINE_FIELD(applied_index, uint64_t, e->applied)
CRAFT_ENGINE_FIELD(persisted_index, uint64_t, e->persisted)
CRAFT_ENGINE_FIELD(snapshot_index, uint64_t, e->snapshot_index)
CRAFT_ENGINE_FIELD(snapshot_term, uint64_t, e->snapshot_term)
CRAFT_ENGINE_FIELD(member_count, size_t, e->conf.n)
CRAFT_ENGINE_FIELD(commit_known, int, !e->commit_unknown)

int craft_engine_member(const craft_engine *e, size_t k, uint64_t *id,
                        int *role)
{
    if (e == NULL || k >= e->conf.n) {
        return CRAFT_EINVAL;
    }
    if (id != NULL) {
        *id = e->conf.m[k].id;
    }
    if (role != NULL) {
        *role = (int)e->conf.m[k].role;
    }
    return CRAFT_OK;
}

int craft_engine_member_addr(const craft_engine *e, size_t k,
                             const void **addr, size_t *len)
{
    if (e == NULL || addr == NULL || len == NULL || k >= e->conf.n) {
        return CRAFT_EINVAL;
    }
    const struct craft_member *m = &e->conf.m[k];
    *addr = m->addr_len > 0 ? m->addr : NULL;
    *len = m->addr_len;
    return CRAFT_OK;
}

int craft_engine_progress(const craft_engine *e, uint64_t peer,
                          uint64_t *match, uint64_t *next, int *state)
{
    if (e == NULL) {
        return CRAFT_EINVAL;
    }
    if (e->role != CRAFT_ROLE_LEADER) {
        return CRAFT_ENOTLEADER;
    }
    int k = craft_conf_find(&e->conf, peer);
    if (k < 0) {
        return CRAFT_EUNKNOWNPEER;
    }
    const struct craft_progress *p = &e->prs[k];
    int self = peer == e->id;
    if (match != NULL) {
        *match = self ? e->persisted : p->match;
    }
    if (next != NULL) {
        *next = self ? craft_log_last(&e->log) + 1 : p->next;
    }
    if (state != NULL) {
        *state = self ? CRAFT_PROGRESS_STATE_REPLICATE : (int)p->state;
    }
    return CRAFT_OK;
}
