/*
 * util/trace.c: the table of structured trace events and the public
 * accessors of an event. The table is the contract documented in
 * craft/node.h; tests/integration/test_node_trace.c holds a golden copy
 * and fails when a name, target, level or id changes.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/trace.h"

struct trace_def {
    const char *name;
    const char *target;
    int level;
};

#define T_NODE "craft.node"
#define T_ENGINE "craft.engine"
#define T_STORAGE "craft.storage"
#define T_TRANSPORT "craft.transport"

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
    [CRAFT_TRACE_STORAGE_OPENED] = {"storage.opened", T_STORAGE,
                                    CRAFT_TRACE_INFO},
    [CRAFT_TRACE_STORAGE_TAIL_TRUNCATED] = {"storage.tail_truncated",
                                            T_STORAGE, CRAFT_TRACE_WARN},
    [CRAFT_TRACE_STORAGE_CORRUPT] = {"storage.corrupt", T_STORAGE,
                                     CRAFT_TRACE_ERROR},
    [CRAFT_TRACE_STORAGE_IO_FAILED] = {"storage.io_failed", T_STORAGE,
                                       CRAFT_TRACE_ERROR},
    [CRAFT_TRACE_STORAGE_SEGMENT_CREATED] = {"storage.segment_created",
                                             T_STORAGE, CRAFT_TRACE_DEBUG},
    [CRAFT_TRACE_STORAGE_LOG_TRUNCATED] = {"storage.log_truncated",
                                           T_STORAGE, CRAFT_TRACE_DEBUG},
    [CRAFT_TRACE_STORAGE_SNAPSHOT_SAVED] = {"storage.snapshot_saved",
                                            T_STORAGE, CRAFT_TRACE_INFO},
    [CRAFT_TRACE_STORAGE_COMPACTED] = {"storage.compacted", T_STORAGE,
                                       CRAFT_TRACE_DEBUG},
    [CRAFT_TRACE_TRANSPORT_LISTENING] = {"transport.listening", T_TRANSPORT,
                                         CRAFT_TRACE_INFO},
    [CRAFT_TRACE_TRANSPORT_CONNECTED] = {"transport.connected", T_TRANSPORT,
                                         CRAFT_TRACE_INFO},
    [CRAFT_TRACE_TRANSPORT_ACCEPTED] = {"transport.accepted", T_TRANSPORT,
                                        CRAFT_TRACE_INFO},
    [CRAFT_TRACE_TRANSPORT_DISCONNECTED] = {"transport.disconnected",
                                            T_TRANSPORT, CRAFT_TRACE_INFO},
    [CRAFT_TRACE_TRANSPORT_REFUSED] = {"transport.refused", T_TRANSPORT,
                                       CRAFT_TRACE_WARN},
    [CRAFT_TRACE_TRANSPORT_FRAME_TOO_BIG] = {"transport.frame_too_big",
                                             T_TRANSPORT, CRAFT_TRACE_WARN},
    [CRAFT_TRACE_TRANSPORT_CONNECT_FAILED] = {"transport.connect_failed",
                                              T_TRANSPORT, CRAFT_TRACE_INFO},
    [CRAFT_TRACE_TRANSPORT_DROPPED] = {"transport.dropped", T_TRANSPORT,
                                       CRAFT_TRACE_WARN},
    [CRAFT_TRACE_TRANSPORT_ADDRESS_CHANGED] = {"transport.address_changed",
                                               T_TRANSPORT, CRAFT_TRACE_INFO},
};

#define NDEFS ((int)(sizeof(defs) / sizeof(defs[0])))

static const struct trace_def *def_of(int id)
{
    return (id >= 1 && id < NDEFS && defs[id].name != NULL) ? &defs[id]
                                                              : NULL;
}

int craft_trace_level_of(int id)
{
    const struct trace_def *d = def_of(id);
    return d != NULL ? d->level : 0;
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

/* ---- building events ------------------------------------------------ */

void craft_trace_event_begin(struct craft_trace_event *ev, int id,
                             uint64_t node_id)
{
    ev->id = id;
    ev->level = craft_trace_level_of(id);
    ev->n = 0;
    craft_trace_event_u64(ev, "node_id", node_id);
}

static struct trace_field *next_field(struct craft_trace_event *ev,
                                      const char *key, int type)
{
    if (ev->n >= CRAFT_TRACE_MAX_FIELDS) {
        return NULL;
    }
    struct trace_field *f = &ev->f[ev->n++];
    memset(f, 0, sizeof(*f));
    f->key = key;
    f->type = type;
    return f;
}

void craft_trace_event_u64(struct craft_trace_event *ev, const char *key,
                           uint64_t v)
{
    struct trace_field *f = next_field(ev, key, CRAFT_FIELD_U64);
    if (f != NULL) {
        f->u64 = v;
    }
}

void craft_trace_event_i64(struct craft_trace_event *ev, const char *key,
                           int64_t v)
{
    struct trace_field *f = next_field(ev, key, CRAFT_FIELD_I64);
    if (f != NULL) {
        f->i64 = v;
    }
}

void craft_trace_event_str(struct craft_trace_event *ev, const char *key,
                           const char *s)
{
    struct trace_field *f = next_field(ev, key, CRAFT_FIELD_STR);
    if (f != NULL) {
        f->str = s;
    }
}

/* ---- a ready-made printer ------------------------------------------ */

static const char *level_name(int level)
{
    switch (level) {
    case CRAFT_TRACE_ERROR:
        return "ERROR";
    case CRAFT_TRACE_WARN:
        return "WARN";
    case CRAFT_TRACE_INFO:
        return "INFO";
    case CRAFT_TRACE_DEBUG:
        return "DEBUG";
    default:
        return "?";
    }
}

/* Appends to buf[*at..cap) like snprintf; *at stops at cap - 1 (the line
 * is cut, never overrun). */
static void put(char *buf, size_t cap, size_t *at, const char *fmt, ...)
{
    va_list ap;
    if (*at + 1 >= cap) {
        return;
    }
    va_start(ap, fmt);
    int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *at += (size_t)n < cap - *at ? (size_t)n : cap - *at - 1;
    }
}

void craft_trace_stderr(void *user, const craft_trace_event *ev)
{
    char line[1024];
    size_t at = 0;
    struct timespec ts;
    struct tm tm;

    (void)user;
    if (ev == NULL) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    put(line, sizeof(line), &at,
        "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %-5s %s %s",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, (long)(ts.tv_nsec / 1000),
        level_name(craft_trace_event_level(ev)),
        craft_trace_event_target(ev), craft_trace_event_name(ev));
    size_t nf = craft_trace_event_field_count(ev);
    for (size_t k = 0; k < nf; k++) {
        const char *key = NULL, *str = NULL;
        int type = 0;
        uint64_t u = 0;
        int64_t i = 0;
        craft_trace_event_field(ev, k, &key, &type, &u, &i, &str);
        switch (type) {
        case CRAFT_FIELD_U64:
            put(line, sizeof(line), &at, " %s=%" PRIu64, key, u);
            break;
        case CRAFT_FIELD_I64:
            put(line, sizeof(line), &at, " %s=%" PRId64, key, i);
            break;
        default:
            put(line, sizeof(line), &at, " %s=\"%s\"", key,
                str != NULL ? str : "");
            break;
        }
    }
    /* One write per line: lines of concurrent callers do not mix. */
    line[at < sizeof(line) - 1 ? at : sizeof(line) - 2] = '\0';
    at = strlen(line);
    line[at++] = '\n';
    line[at] = '\0';
    fputs(line, stderr);
}
