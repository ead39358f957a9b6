/*
 * node/options.c: the init functions of the node's versioned structs and
 * the checks craft_node_create() makes on them.
 *
 * A struct from an older caller is smaller: the fields it lacks keep
 * their defaults. A struct_size of 0, larger than this library knows, or
 * too small to hold the required fields is CRAFT_ESTRUCT.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "node/options.h"

/* Copying a static object gives the exact bytes of the init macro,
 * padding included (C11 6.7.9p10), as the struct-init test expects. */
#define DEFINE_INIT(fn, type, macro)                                          \
    int fn(type *p)                                                           \
    {                                                                         \
        static const type init = macro;                                       \
        if (p == NULL) {                                                      \
            return CRAFT_EINVAL;                                              \
        }                                                                     \
        memcpy(p, &init, sizeof(*p));                                         \
        return CRAFT_OK;                                                      \
    }

DEFINE_INIT(craft_node_options_init, craft_node_options,
            CRAFT_NODE_OPTIONS_INIT)
DEFINE_INIT(craft_storage_ops_init, craft_storage_ops, CRAFT_STORAGE_OPS_INIT)
DEFINE_INIT(craft_transport_ops_init, craft_transport_ops,
            CRAFT_TRANSPORT_OPS_INIT)
DEFINE_INIT(craft_fsm_ops_init, craft_fsm_ops, CRAFT_FSM_OPS_INIT)

#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

int nd_msgf(int rv, char *msg, size_t cap, const char *fmt, ...)
{
    if (msg != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return rv;
}

/* Copies in (struct_size bytes) over dst, which holds the defaults. */
static int copy_sized(void *dst, const void *in, size_t full, size_t min,
                      const char *what, char *msg, size_t cap)
{
    uint32_t size;
    memcpy(&size, in, sizeof(size));
    if (size == 0 || size > full || size < min) {
        return nd_msgf(CRAFT_ESTRUCT, msg, cap,
                       "%s: struct_size %u is %s (this library knows %zu "
                       "bytes, needs at least %zu); fill it with its init "
                       "function or macro",
                       what, (unsigned)size,
                       size == 0 ? "0" : size > full ? "too large"
                                                     : "too small",
                       full, min);
    }
    memcpy(dst, in, size);
    memcpy(dst, &(uint32_t){(uint32_t)full}, sizeof(uint32_t));
    return CRAFT_OK;
}

/* The name of the first zero field among the bounds, or NULL. */
static const char *zero_bound(const craft_node_options *o)
{
    if (o->tick_ms == 0) {
        return "tick_ms";
    }
    if (o->request_timeout_ms == 0) {
        return "request_timeout_ms";
    }
    if (o->apply_queue_entries == 0) {
        return "apply_queue_entries";
    }
    if (o->apply_queue_bytes == 0) {
        return "apply_queue_bytes";
    }
    if (o->peer_queue_messages == 0) {
        return "peer_queue_messages";
    }
    if (o->peer_queue_bytes == 0) {
        return "peer_queue_bytes";
    }
    if (o->max_pending == 0) {
        return "max_pending";
    }
    if (o->inbox_bytes == 0) {
        return "inbox_bytes";
    }
    return NULL;
}

/* The first required method missing, or NULL. */
static const char *missing_method(const struct nd_config *c)
{
    static const struct {
        size_t off;
        const char *name;
    } req[] = {
        {offsetof(struct nd_config, st.load), "storage->load"},
        {offsetof(struct nd_config, st.save_hard_state),
         "storage->save_hard_state"},
        {offsetof(struct nd_config, st.append), "storage->append"},
        {offsetof(struct nd_config, st.truncate), "storage->truncate"},
        {offsetof(struct nd_config, st.snapshot_write),
         "storage->snapshot_write"},
        {offsetof(struct nd_config, st.snapshot_read),
         "storage->snapshot_read"},
        {offsetof(struct nd_config, tr.send), "transport->send"},
        {offsetof(struct nd_config, fsm.apply), "fsm->apply"},
    };
    for (size_t k = 0; k < sizeof(req) / sizeof(req[0]); k++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)c + req[k].off, sizeof(fn));
        if (fn == NULL) {
            return req[k].name;
        }
    }
    if (c->fsm.snapshot != NULL && c->fsm.restore == NULL) {
        return "fsm->restore (fsm->snapshot is set)";
    }
    return NULL;
}

int nd_options_copy(const craft_node_options *in, struct nd_config *c,
                    char *msg, size_t cap)
{
    int rv;

    craft_node_options_init(&c->opts);
    craft_storage_ops_init(&c->st);
    craft_transport_ops_init(&c->tr);
    craft_fsm_ops_init(&c->fsm);
    craft_engine_options_init(&c->eopts);

    rv = copy_sized(&c->opts, in, sizeof(c->opts),
                    END_OF(craft_node_options, fsm), "options", msg, cap);
    if (rv != CRAFT_OK) {
        return rv;
    }
    const craft_node_options *o = &c->opts;
    if (o->id == CRAFT_NONE) {
        return nd_msgf(CRAFT_EINVAL, msg, cap, "options.id is 0 (CRAFT_NONE)");
    }
    if (o->storage == NULL || o->transport == NULL || o->fsm == NULL) {
        return nd_msgf(CRAFT_EINVAL, msg, cap, "options.%s is NULL",
                       o->storage == NULL     ? "storage"
                       : o->transport == NULL ? "transport"
                                              : "fsm");
    }
    const char *zero = zero_bound(o);
    if (zero != NULL) {
        return nd_msgf(CRAFT_EINVAL, msg, cap, "options.%s is 0", zero);
    }
    rv = copy_sized(&c->st, o->storage, sizeof(c->st),
                    END_OF(craft_storage_ops, snapshot_read), "storage ops",
                    msg, cap);
    if (rv == CRAFT_OK) {
        rv = copy_sized(&c->tr, o->transport, sizeof(c->tr),
                        END_OF(craft_transport_ops, send), "transport ops",
                        msg, cap);
    }
    if (rv == CRAFT_OK) {
        rv = copy_sized(&c->fsm, o->fsm, sizeof(c->fsm),
                        END_OF(craft_fsm_ops, apply), "fsm ops", msg, cap);
    }
    if (rv == CRAFT_OK && o->engine != NULL) {
        rv = copy_sized(&c->eopts, o->engine, sizeof(c->eopts),
                        END_OF(craft_engine_options, struct_size),
                        "engine options", msg, cap);
    }
    if (rv != CRAFT_OK) {
        return rv;
    }
    const char *missing = missing_method(c);
    if (missing != NULL) {
        return nd_msgf(CRAFT_EINVAL, msg, cap, "%s is NULL (required)",
                       missing);
    }
    /* The copies own nothing of the caller's. The allocator is read by
     * craft_node_create() before it returns. */
    c->eopts.id = o->id;
    c->eopts.allocator = c->opts.allocator;
    /* The node matches receipts to applied entries itself (pending.c). */
    c->eopts.lost_receipts = 0;
    c->opts.storage = NULL;
    c->opts.transport = NULL;
    c->opts.fsm = NULL;
    c->opts.engine = NULL;
    c->opts.allocator = NULL;
    return CRAFT_OK;
}
