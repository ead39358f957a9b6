/*
 * node/trace.c: emitting the node's structured trace events (the table of
 * ids, names and targets is util/trace.c).
 */
#include <stdarg.h>
#include <string.h>

#include "node/node.h"

/* ---- emitting ------------------------------------------------------ */

int nd_trace_enabled(const struct craft_node *n, int id)
{
    int level = craft_trace_level_of(id);
    return n->opts.trace != NULL && level != 0 &&
           level <= n->opts.trace_level;
}

void nd_trace_begin(struct craft_node *n, struct craft_trace_event *ev,
                    int id)
{
    craft_trace_event_begin(ev, id, n->id);
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
