/*
 * host/run.c: the host's contract (include/craft/engine.h), once: the
 * actions of a step are carried out in list order, each by the handler
 * of its type. Ordering is all a host needs for Figure 2's "respond to
 * RPCs only after updating stable storage": the engine puts every write
 * before the sends that depend on it, so a handler that makes writes
 * durable before the next SEND goes (or stops the list until they are,
 * as the simulator does) keeps it.
 */
#include "host/host.h"

static host_action_fn handler(const struct host_ops *ops, int type)
{
    switch (type) {
    case CRAFT_ACTION_PERSIST_HARD_STATE:
        return ops->hard_state;
    case CRAFT_ACTION_APPEND:
        return ops->append;
    case CRAFT_ACTION_TRUNCATE:
        return ops->truncate;
    case CRAFT_ACTION_SEND:
        return ops->send;
    case CRAFT_ACTION_APPLY:
        return ops->apply;
    case CRAFT_ACTION_ROLE_CHANGE:
        return ops->role_change;
    case CRAFT_ACTION_PROPOSE_RESULT:
        return ops->propose_result;
    case CRAFT_ACTION_READ_RESULT:
        return ops->read_result;
    case CRAFT_ACTION_TRANSFER_RESULT:
        return ops->transfer_result;
    case CRAFT_ACTION_TAKE_SNAPSHOT:
        return ops->take_snapshot;
    case CRAFT_ACTION_SNAPSHOT_READ:
        return ops->snapshot_read;
    case CRAFT_ACTION_SNAPSHOT_WRITE:
        return ops->snapshot_write;
    case CRAFT_ACTION_SNAPSHOT_INSTALL:
        return ops->snapshot_install;
    default:
        return ops->unknown;
    }
}

int host_run(const struct host_ops *ops, void *ctx, craft_actions *a,
             size_t *next)
{
    size_t n = craft_actions_count(a);
    while (*next < n) {
        size_t i = *next;
        host_action_fn fn = handler(ops, craft_action_type(a, i));
        int rv = fn != NULL ? fn(ctx, a, i) : HOST_NEXT;
        if (rv == HOST_STOP) {
            return HOST_STOP;
        }
        *next = i + 1;
        if (rv == HOST_STOP_AFTER) {
            return *next < n ? HOST_STOP : HOST_NEXT;
        }
    }
    return HOST_NEXT;
}

const char *host_action_name(int type)
{
    static const char *const names[] = {
        "?", "PERSIST_HARD_STATE", "APPEND", "TRUNCATE", "SEND", "APPLY",
        "ROLE_CHANGE", "PROPOSE_RESULT", "READ_RESULT", "TRANSFER_RESULT",
        "TAKE_SNAPSHOT", "SNAPSHOT_READ", "SNAPSHOT_WRITE",
        "SNAPSHOT_INSTALL"};
    return type >= 1 && (size_t)type < sizeof(names) / sizeof(names[0])
               ? names[type]
               : "?";
}

const char *host_msg_name(uint32_t type)
{
    static const char *const names[] = {
        "?", "APPEND", "APPEND_RESP", "VOTE", "VOTE_RESP", "PREVOTE",
        "PREVOTE_RESP", "HEARTBEAT", "HEARTBEAT_RESP", "SNAPSHOT",
        "SNAPSHOT_RESP", "TIMEOUT_NOW", "READ_INDEX", "READ_INDEX_RESP"};
    return type >= 1 && type < sizeof(names) / sizeof(names[0]) ? names[type]
                                                                : "?";
}
