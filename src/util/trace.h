/*
 * util/trace.h: the structured trace event handed to a trace callback
 * (craft_trace_event in craft/node.h is opaque) and the table of event
 * ids. Shared by the node runtime and the file storage, which emit events
 * through the same callback type.
 */
#ifndef CRAFT_UTIL_TRACE_H
#define CRAFT_UTIL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "craft.h"

#define CRAFT_TRACE_MAX_FIELDS 8

struct trace_field {
    const char *key;
    int type; /* enum craft_field_type */
    uint64_t u64;
    int64_t i64;
    const char *str;
};

struct craft_trace_event {
    int id;
    int level;
    size_t n;
    struct trace_field f[CRAFT_TRACE_MAX_FIELDS];
};

/* The level of event id (enum craft_trace_level), 0 for an unknown id. */
int craft_trace_level_of(int id);

/* Starts event id (a known one) with its first field, node_id. */
void craft_trace_event_begin(struct craft_trace_event *ev, int id,
                             uint64_t node_id);

/* Appends a field (ignored beyond CRAFT_TRACE_MAX_FIELDS). key and str
 * must outlive the event's emission. */
void craft_trace_event_u64(struct craft_trace_event *ev, const char *key,
                           uint64_t v);
void craft_trace_event_i64(struct craft_trace_event *ev, const char *key,
                           int64_t v);
void craft_trace_event_str(struct craft_trace_event *ev, const char *key,
                           const char *s);

#endif /* CRAFT_UTIL_TRACE_H */
