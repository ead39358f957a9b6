/* node/options.h: checking and copying the node's versioned structs. */
#ifndef CRAFT_NODE_OPTIONS_H
#define CRAFT_NODE_OPTIONS_H

#include "craft.h"

struct nd_config {
    craft_node_options opts;
    craft_storage_ops st;
    craft_transport_ops tr;
    craft_fsm_ops fsm;
    craft_engine_options eopts;
};

/* Checks *in and everything it points to and copies it into *c.
 * CRAFT_EINVAL / CRAFT_ESTRUCT, with what was wrong in msg (cap bytes,
 * NUL-terminated; msg may be NULL). */
int nd_options_copy(const craft_node_options *in, struct nd_config *c,
                    char *msg, size_t cap);
/* Formats into msg (cap bytes, NUL-terminated; nothing when msg is NULL
 * or cap 0) and returns rv. */
int nd_msgf(int rv, char *msg, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
