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
    craft_engine_options d = CRAFT_ENGINE_OPTIONS_INIT;
    *o = d;
    return CRAFT_OK;
}

int craft_event_init(craft_event *ev)
{
    if (ev == NULL) {
        return CRAFT_EINVAL;
    }
    craft_event d = CRAFT_EVENT_INIT;
    *ev = d;
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
        o->max_msg_bytes == 0) {
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
    if (e->inflight_buf == NULL) {
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
    craft_free(&al, e);
}

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
    if (e == NULL || conf == NULL || index == 0 || term == 0) {
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
