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
 * CRAFT_EINVAL / CRAFT_ESTRUCT. */
int nd_options_copy(const craft_node_options *in, struct nd_config *c);

#endif
