/*
 * node/options.c: the init functions of the node's versioned structs and
 * the checks craft_node_create() makes on them.
 *
 * A struct from an older caller is smaller: the fields it lacks keep
 * their defaults. A struct_size of 0, larger than this library knows, or
 * too small to hold the required fields is CRAFT_ESTRUCT.
 */
#include <stddef.h>
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

/* Copies in (struct_size bytes) over dst, which holds the defaults. */
static int copy_sized(void *dst, const void *in, size_t full, size_t min)
{
    uint32_t size;
    memcpy(&size, in, sizeof(size));
    if (size == 0 || size > full || size < min) {
        return CRAFT_ESTRUCT;
    }
    memcpy(dst, in, size);
    memcpy(dst, &(uint32_t){(uint32_t)full}, sizeof(uint32_t));
    return CRAFT_OK;
}

int nd_options_copy(const craft_node_options *in, struct nd_config *c)
{
    int rv;

    craft_node_options_init(&c->opts);
    craft_storage_ops_init(&c->st);
    craft_transport_ops_init(&c->tr);
    craft_fsm_ops_init(&c->fsm);
    craft_engine_options_init(&c->eopts);

    rv = copy_sized(&c->opts, in, sizeof(c->opts),
                    END_OF(craft_node_options, fsm));
    if (rv != CRAFT_OK) {
        return rv;
    }
    const craft_node_options *o = &c->opts;
    if (o->id == CRAFT_NONE || o->storage == NULL || o->transport == NULL ||
        o->fsm == NULL) {
        return CRAFT_EINVAL;
    }
    if (o->tick_ms == 0 || o->request_timeout_ms == 0 ||
        o->apply_queue_entries == 0 || o->apply_queue_bytes == 0 ||
        o->peer_queue_messages == 0 || o->peer_queue_bytes == 0 ||
        o->max_pending == 0 || o->inbox_bytes == 0) {
        return CRAFT_EINVAL;
    }
    rv = copy_sized(&c->st, o->storage, sizeof(c->st),
                    END_OF(craft_storage_ops, snapshot_read));
    if (rv == CRAFT_OK) {
        rv = copy_sized(&c->tr, o->transport, sizeof(c->tr),
                        END_OF(craft_transport_ops, send));
    }
    if (rv == CRAFT_OK) {
        rv = copy_sized(&c->fsm, o->fsm, sizeof(c->fsm),
                        END_OF(craft_fsm_ops, apply));
    }
    if (rv == CRAFT_OK && o->engine != NULL) {
        rv = copy_sized(&c->eopts, o->engine, sizeof(c->eopts),
                        END_OF(craft_engine_options, struct_size));
    }
    if (rv != CRAFT_OK) {
        return rv;
    }
    if (c->st.load == NULL || c->st.save_hard_state == NULL ||
        c->st.append == NULL || c->st.truncate == NULL ||
        c->st.snapshot_write == NULL || c->st.snapshot_read == NULL ||
        c->tr.send == NULL || c->fsm.apply == NULL ||
        (c->fsm.snapshot != NULL && c->fsm.restore == NULL)) {
        return CRAFT_EINVAL;
    }
    /* The copies own nothing of the caller's. The allocator is read by
     * craft_node_create() before it returns. */
    c->eopts.id = o->id;
    c->eopts.allocator = c->opts.allocator;
    c->opts.storage = NULL;
    c->opts.transport = NULL;
    c->opts.fsm = NULL;
    c->opts.engine = NULL;
    c->opts.allocator = NULL;
    return CRAFT_OK;
}
