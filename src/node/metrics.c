/*
 * node/metrics.c: counters and gauges, read one at a time or rendered in
 * the Prometheus text exposition format (version 0.0.4).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/node.h"

#define COUNTER 1
#define GAUGE 2

struct metric_def {
    const char *name;
    const char *help;
    int kind;
};

static const struct metric_def defs[NODE_METRICS] = {
    [CRAFT_METRIC_ELECTIONS] = {"craft_elections_total",
                                "Campaigns this node started.", COUNTER},
    [CRAFT_METRIC_LEADER_CHANGES] = {"craft_leader_changes_total",
                                     "Times this node saw a new leader.",
                                     COUNTER},
    [CRAFT_METRIC_PROPOSALS] = {"craft_proposals_total",
                                "Proposals accepted by craft_node_propose.",
                                COUNTER},
    [CRAFT_METRIC_PROPOSALS_FAILED] = {"craft_proposals_failed_total",
                                       "Proposals completed with an error.",
                                       COUNTER},
    [CRAFT_METRIC_COMMITS] = {"craft_commits_total",
                              "Log entries this node learned committed.",
                              COUNTER},
    [CRAFT_METRIC_APPLIES] = {"craft_applies_total",
                              "Log entries applied to the state machine.",
                              COUNTER},
    [CRAFT_METRIC_APPLY_LAG] = {"craft_apply_lag_entries",
                                "Commit index minus applied index.", GAUGE},
    [CRAFT_METRIC_APPLY_QUEUE] = {"craft_apply_queue_entries",
                                  "Entries waiting in the apply queue.",
                                  GAUGE},
    [CRAFT_METRIC_BYTES_SENT] = {"craft_sent_bytes_total",
                                 "Message bytes handed to the transport.",
                                 COUNTER},
    [CRAFT_METRIC_MESSAGES_SENT] = {"craft_sent_messages_total",
                                    "Messages handed to the transport.",
                                    COUNTER},
    [CRAFT_METRIC_MESSAGES_DROPPED] = {"craft_dropped_messages_total",
                                       "Messages dropped: full peer queue "
                                       "or transport error.",
                                       COUNTER},
    [CRAFT_METRIC_BYTES_RECEIVED] = {"craft_received_bytes_total",
                                     "Bytes received from peers.", COUNTER},
    [CRAFT_METRIC_MESSAGES_RECEIVED] = {"craft_received_messages_total",
                                        "Messages received from peers.",
                                        COUNTER},
    [CRAFT_METRIC_MESSAGES_INVALID] = {"craft_invalid_messages_total",
                                       "Received messages that did not "
                                       "decode or were refused.",
                                       COUNTER},
    [CRAFT_METRIC_SYNCS] = {"craft_syncs_total", "Storage syncs.", COUNTER},
    [CRAFT_METRIC_ENTRIES_WRITTEN] = {"craft_written_entries_total",
                                      "Log entries written to storage.",
                                      COUNTER},
    [CRAFT_METRIC_ENGINE_STEPS] = {"craft_engine_steps_total",
                                   "Events stepped through the engine.",
                                   COUNTER},
    [CRAFT_METRIC_READS] = {"craft_reads_total",
                            "Linearizable reads completed.", COUNTER},
    [CRAFT_METRIC_READS_FAILED] = {"craft_reads_failed_total",
                                   "Linearizable reads failed.", COUNTER},
    [CRAFT_METRIC_SNAPSHOTS_TAKEN] = {"craft_snapshots_taken_total",
                                      "Snapshots of the state machine "
                                      "taken.",
                                      COUNTER},
    [CRAFT_METRIC_SNAPSHOTS_INSTALLED] = {"craft_snapshots_installed_total",
                                          "Snapshots received and "
                                          "restored.",
                                          COUNTER},
    [CRAFT_METRIC_TERM] = {"craft_term", "Current term.", GAUGE},
    [CRAFT_METRIC_COMMIT_INDEX] = {"craft_commit_index",
                                   "Highest index known committed.", GAUGE},
    [CRAFT_METRIC_APPLIED_INDEX] = {"craft_applied_index",
                                    "Highest index applied.", GAUGE},
    [CRAFT_METRIC_IS_LEADER] = {"craft_is_leader",
                                "1 when this node is the leader.", GAUGE},
    [CRAFT_METRIC_BACKPRESSURE] = {"craft_backpressure_total",
                                   "Episodes of a full apply queue.",
                                   COUNTER},
    [CRAFT_METRIC_APPLY_QUEUE_MAX] = {"craft_apply_queue_max_entries",
                                      "Highest apply queue depth seen.",
                                      GAUGE},
};

static const struct metric_def *def_of(int id)
{
    return (id >= 1 && id < NODE_METRICS) ? &defs[id] : NULL;
}

const char *craft_metric_name(int id)
{
    const struct metric_def *d = def_of(id);
    return d != NULL ? d->name : NULL;
}

const char *craft_metric_help(int id)
{
    const struct metric_def *d = def_of(id);
    return d != NULL ? d->help : NULL;
}

int craft_metric_kind(int id)
{
    const struct metric_def *d = def_of(id);
    return d != NULL ? d->kind : 0;
}

static uint64_t value_of(const struct craft_node *n, int id)
{
    struct craft_node *m = (struct craft_node *)(uintptr_t)n;
    switch (id) {
    case CRAFT_METRIC_APPLY_LAG: {
        uint64_t c = atomic_load(&m->q_commit);
        uint64_t a = atomic_load(&m->q_applied);
        return c > a ? c - a : 0;
    }
    case CRAFT_METRIC_APPLY_QUEUE:
        return atomic_load(&m->backlog_entries);
    case CRAFT_METRIC_TERM:
        return atomic_load(&m->q_term);
    case CRAFT_METRIC_COMMIT_INDEX:
        return atomic_load(&m->q_commit);
    case CRAFT_METRIC_APPLIED_INDEX:
        return atomic_load(&m->q_applied);
    case CRAFT_METRIC_IS_LEADER:
        return atomic_load(&m->q_role) == CRAFT_ROLE_LEADER;
    default:
        return atomic_load_explicit(&m->m[id], memory_order_relaxed);
    }
}

int craft_node_metric(const craft_node *node, int id, uint64_t *value)
{
    if (node == NULL || value == NULL || def_of(id) == NULL) {
        return CRAFT_EINVAL;
    }
    *value = value_of(node, id);
    return CRAFT_OK;
}

/* snprintf into buf at *off, counting the full length past cap. */
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
    va_list ap;
    char *dst = NULL;
    size_t room = 0;
    if (buf != NULL && *off < cap) {
        dst = buf + *off;
        room = cap - *off;
    }
    va_start(ap, fmt);
    int k = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (k > 0) {
        *off += (size_t)k;
    }
}

int craft_node_metrics_text(const craft_node *node, char *buf, size_t cap,
                            size_t *len)
{
    size_t off = 0;
    if (node == NULL || len == NULL || (buf == NULL && cap != 0)) {
        return CRAFT_EINVAL;
    }
    for (int id = 1; id < NODE_METRICS; id++) {
        const struct metric_def *d = &defs[id];
        put(buf, cap, &off, "# HELP %s %s\n# TYPE %s %s\n%s{node=\"%" PRIu64
                            "\"} %" PRIu64 "\n",
            d->name, d->help, d->name, d->kind == COUNTER ? "counter" : "gauge",
            d->name, node->id, value_of(node, id));
    }
    *len = off;
    if (buf == NULL || off >= cap) {
        if (buf != NULL && cap > 0) {
            buf[cap - 1] = '\0';
        }
        return CRAFT_ETOOBIG;
    }
    return CRAFT_OK;
}
