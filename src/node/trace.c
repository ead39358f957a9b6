/*
 * node/trace.c: structured trace events. The table below is the contract
 * documented in craft/node.h; tests/integration/test_node_trace.c holds a
 * golden copy and fails when a name, target or id changes.
 */
#include <stdarg.h>
#include <string.h>

#include "node/node.h"

struct trace_def {
    const char *name;
    const char *target;
    int level;
};

#define T_NODE "craft.node"
#define T_ENGINE "craft.engine"

static const struct trace_def defs[] = {
    [CRAFT_TRACE_NODE_STARTED] = {"node.started", T_NODE, CRAFT_TRACE_INFO},
    [CRAFT_TRACE_NODE_STOPPED] = {"node.stopped", T_NODE, CRAFT_TRACE_INFO},
    [CRAFT_TRACE_ROLE_CHANGED] = {"role.changed", T_ENGINE,
                                  CRAFT_TRACE_DEBUG},
    [CRAFT_TRACE_ELECTION_STARTED] = {"election.started", T_ENGINE,
                                      CRAFT_TRACE_INFO},
    [CRAFT_TRACE_LEADER_ELECTED] = {"leader.elected", T_ENGINE,
                                    CRAFT_TRACE_INFO},
    [CRAFT_TRACE_LEADER_LOST] = {"leader.lost", T_ENGINE, CRAFT_TRACE_INFO},
    [CRAFT_TRACE_TERM_CHANGED] = {"term.changed", T_ENGINE,
                                  CRAFT_TRACE_INFO},
    [CRAFT_TRACE_MEMBERSHIP_CHANGED] = {"membership.changed", T_ENGINE,
                                        CRAFT_TRACE_INFO},
    [CRAFT_TRACE_SNAPSHOT_REQUESTED] = {"snapshot.requested", T_ENGINE,
                                        CRAFT_TRACE_DEBUG},
    [CRAFT_TRACE_SNAPSHOT_TAKEN] = {"snapshot.taken", T_NODE,
                                    CRAFT_TRACE_INFO},
    [CRAFT_TRACE_SNAPSHOT_INSTALLED] = {"snapshot.installed", T_NODE,
                                        CRAFT_TRACE_INFO},
    [CRAFT_TRACE_BACKPRESSURE_ON] = {"backpressure.on", T_NODE,
                                     CRAFT_TRACE_INFO},
    [CRAFT_TRACE_BACKPRESSURE_OFF] = {"backpressure.off", T_NODE,
                                      CRAFT_TRACE_INFO},
    [CRAFT_TRACE_SEND_DROPPED] = {"send.dropped", T_NODE, CRAFT_TRACE_WARN},
    [CRAFT_TRACE_MESSAGE_INVALID] = {"message.invalid", T_NODE,
                                     CRAFT_TRACE_WARN},
    [CRAFT_TRACE_STORAGE_FAILED] = {"storage.failed", T_NODE,
                                    CRAFT_TRACE_ERROR},
    [CRAFT_TRACE_APPLY_FAILED] = {"apply.failed", T_NODE, CRAFT_TRACE_WARN},
    [CRAFT_TRACE_COMMIT_ADVANCED] = {"commit.advanced", T_ENGINE,
                                     CRAFT_TRACE_DEBUG},
};

#define NDEFS ((int)(sizeof(defs) / sizeof(defs[0])))

static const struct trace_def *def_of(int id)
{
    return (id >= 1 && id < NDEFS) ? &defs[id] : NULL;
}

const char *craft_trace_name(int id)
{
    const struct trace_def *d = def_of(id);
    return d != NULL ? d->name : NULL;
}

const char *craft_trace_target(int id)
{
    const struct trace_def *d = def_of(id);
    return d != NULL ? d->target : NULL;
}

int craft_trace_event_id(const craft_trace_event *ev)
{
    return ev != NULL ? ev->id : 0;
}

int craft_trace_event_level(const craft_trace_event *ev)
{
    return ev != NULL ? ev->level : 0;
}

const char *craft_trace_event_name(const craft_trace_event *ev)
{
    return ev != NULL ? craft_trace_name(ev->id) : NULL;
}

const char *craft_trace_event_target(const craft_trace_event *ev)
{
    return ev != NULL ? craft_trace_target(ev->id) : NULL;
}

size_t craft_trace_event_field_count(const craft_trace_event *ev)
{
    return ev != NULL ? ev->n : 0;
}

int craft_trace_event_field(const craft_trace_event *ev, size_t k,
                            const char **key, int *type, uint64_t *u64,
                            int64_t *i64, const char **str)
{
    if (ev == NULL || k >= ev->n) {
        return CRAFT_EINVAL;
    }
    const struct trace_field *f = &ev->f[k];
    if (key != NULL) {
        *key = f->key;
    }
    if (type != NULL) {
        *type = f->type;
    }
    switch (f->type) {
    case CRAFT_FIELD_U64:
        if (u64 != NULL) {
            *u64 = f->u64;
        }
        break;
    case CRAFT_FIELD_I64:
        if (i64 != NULL) {
            *i64 = f->i64;
        }
        break;
    default:
        if (str != NULL) {
            *str = f->str;
        }
        break;
    }
    return CRAFT_OK;
}

/* ---- emitting ------------------------------------------------------ */

int nd_trace_enabled(const struct craft_node *n, int id)
{
    const struct trace_def *d = def_of(id);
    return n->opts.trace != NULL && d != NULL &&
           d->level <= n->opts.trace_level;
}

void nd_trace_begin(struct craft_node *n, struct craft_trace_event *ev,
                    int id)
{
    ev->id = id;
    ev->level = defs[id].level;
    ev->n = 1;
    memset(&ev->f[0], 0, sizeof(ev->f[0]));
    ev->f[0].key = "node_id";
    ev->f[0].type = CRAFT_FIELD_U64;
    ev->f[0].u64 = n->id;
}

void nd_trace_emit(struct craft_node *n, struct craft_trace_event *ev)
{
    n->opts.trace(n->opts.trace_user, ev);
}

void nd_trace_u64(struct craft_node *n, int id, int nf, ...)
{
    struct craft_trace_event ev;
    va_list ap;

    if (!nd_trace_enabled(n, id)) {
        return;
    }
    nd_trace_begin(n, &ev, id);
    va_start(ap, nf);
    for (int k = 0; k < nf && ev.n < CRAFT_TRACE_MAX_FIELDS; k++) {
        struct trace_field *f = &ev.f[ev.n++];
        memset(f, 0, sizeof(*f));
        f->key = va_arg(ap, const char *);
        f->type = CRAFT_FIELD_U64;
        f->u64 = va_arg(ap, uint64_t);
    }
    va_end(ap);
    nd_trace_emit(n, &ev);
}
