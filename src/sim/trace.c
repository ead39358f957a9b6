/*
 * sim/trace.c: the run's trace. Every step (the event and the actions it
 * produced) and every injected fault is folded into a 64-bit hash, so two
 * runs of one seed can be compared by one number; with a trace file the
 * same records are also written as text, one line per step.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "host/host.h"
#include "sim/hash.h"
#include "sim/world.h"

static const char *ev_name(uint32_t type)
{
    static const char *const names[] = {
        "?", "TICK", "MESSAGE", "PROPOSE", "PERSISTED", "BOOTSTRAP", "READ",
        "TRANSFER", "ADD_PEER", "ADD_LEARNER", "PROMOTE", "REMOVE",
        "SNAPSHOT_TAKEN", "SNAPSHOT_CHUNK"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

static const char *msg_name(uint32_t type)
{
    static const char *const names[] = {
        "?", "APPEND", "APPEND_RESP", "VOTE", "VOTE_RESP", "PREVOTE",
        "PREVOTE_RESP", "HEARTBEAT", "HEARTBEAT_RESP", "SNAPSHOT",
        "SNAPSHOT_RESP", "TIMEOUT_NOW", "READ_INDEX", "READ_INDEX_RESP"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

static const char *act_name(uint32_t type)
{
    static const char *const names[] = {
        "?", "HS", "APPEND", "TRUNCATE", "SEND", "APPLY", "ROLE",
        "PROPOSED", "READ_RESULT", "TRANSFER_RESULT", "TAKE_SNAPSHOT",
        "SNAPSHOT_READ", "SNAPSHOT_WRITE", "SNAPSHOT_INSTALL"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

static uint64_t mix_msg(uint64_t h, const struct craft_msg *m)
{
    h = sim_mix(h, ((uint64_t)m->type << 32) | m->flags);
    h = sim_mix(h, (m->from << 32) ^ m->to);
    h = sim_mix(h, m->term);
    h = sim_mix(h, m->index);
    h = sim_mix(h, m->log_term);
    h = sim_mix(h, m->commit ^ (m->ctx << 20) ^ (m->offset << 40));
    return sim_mix(h, m->n_entries ^ (m->len << 24));
}

void sim_trace_step(struct sim *s, const struct sim_node *n,
                    const craft_event *ev, const struct craft_msg *m,
                    int rv)
{
    uint64_t h = sim_mix(s->hash, s->now);
    h = sim_mix(h, n->id);
    if (m != NULL) {
        h = mix_msg(h, m);
    } else {
        h = sim_mix(h, ev->type);
        h = sim_mix(h, ev->id ^ (ev->peer << 48));
        h = sim_mix(h, ev->index ^ (ev->term << 32) ^ (ev->offset << 16));
    }
    s->hash = sim_mix(h, (uint64_t)(int64_t)rv);
    if (s->trace == NULL) {
        return;
    }
    fprintf(s->trace, "%" PRIu64 " t=%" PRIu64 " n%" PRIu64 " ",
            s->res->steps, s->now, n->id);
    if (m != NULL) {
        fprintf(s->trace,
                "%s from %" PRIu64 " term %" PRIu64 " index %" PRIu64
                " logterm %" PRIu64 " commit %" PRIu64 " entries %zu%s",
                msg_name(m->type), m->from, m->term, m->index, m->log_term,
                m->commit, m->n_entries,
                (m->flags & CRAFT_MSG_F_REJECT) ? " reject" : "");
    } else {
        fprintf(s->trace, "%s id %" PRIu64 " index %" PRIu64 " term %" PRIu64
                " peer %" PRIu64, ev_name(ev->type), ev->id, ev->index,
                ev->term, ev->peer);
    }
    if (rv != CRAFT_OK) {
        fprintf(s->trace, " -> %s", craft_strerror(rv));
    }
}

/* How the trace file shows an action's fields (host_run's handlers;
 * each stops after its one action). */
static int print_hs(void *ctx, craft_actions *a, size_t i)
{
    const struct craft_action *x = &a->v[i];
    fprintf(ctx, "(t%" PRIu64 ",v%" PRIu64 ")", x->term, x->vote);
    return HOST_STOP_AFTER;
}

static int print_send(void *ctx, craft_actions *a, size_t i)
{
    const struct craft_msg *m = &a->v[i].msg;
    fprintf(ctx, "(%s>%" PRIu64 " t%" PRIu64 " i%" PRIu64 " lt%" PRIu64
            " c%" PRIu64 " n%zu%s)", msg_name(m->type), m->to, m->term,
            m->index, m->log_term, m->commit, m->n_entries,
            (m->flags & CRAFT_MSG_F_REJECT) ? " rej" : "");
    return HOST_STOP_AFTER;
}

static int print_role(void *ctx, craft_actions *a, size_t i)
{
    const struct craft_action *x = &a->v[i];
    fprintf(ctx, "(%d t%" PRIu64 " l%" PRIu64 ")", x->role, x->term,
            x->leader);
    return HOST_STOP_AFTER;
}

static int print_other(void *ctx, craft_actions *a, size_t i)
{
    const struct craft_action *x = &a->v[i];
    fprintf(ctx, "(i%" PRIu64 " n%" PRIu64 " t%" PRIu64 " s%d)", x->index,
            x->count, x->term, x->status);
    return HOST_STOP_AFTER;
}

static const struct host_ops print_ops = {
    .hard_state = print_hs,
    .append = print_other,
    .truncate = print_other,
    .send = print_send,
    .apply = print_other,
    .role_change = print_role,
    .propose_result = print_other,
    .read_result = print_other,
    .transfer_result = print_other,
    .take_snapshot = print_other,
    .snapshot_read = print_other,
    .snapshot_write = print_other,
    .snapshot_install = print_other,
    .unknown = print_other,
};

void sim_trace_actions(struct sim *s, const struct sim_node *n)
{
    const struct craft_actions *a = n->acts;
    uint64_t h = s->hash;
    for (size_t i = 0; i < a->n; i++) {
        const struct craft_action *x = &a->v[i];
        h = sim_mix(h, ((uint64_t)x->type << 32) ^ (uint32_t)x->status);
        if (x->type == CRAFT_ACTION_SEND) {
            h = mix_msg(h, &x->msg);
        } else {
            h = sim_mix(h, x->index ^ (x->count << 40));
            h = sim_mix(h, x->term ^ (x->vote << 32) ^ (x->id << 16));
        }
    }
    s->hash = h;
    if (s->trace == NULL) {
        return;
    }
    if (a->n > 0) {
        fputs(" =>", s->trace);
    }
    size_t next = 0;
    while (next < a->n) {
        fprintf(s->trace, " %s", act_name(a->v[next].type));
        host_run(&print_ops, s->trace, n->acts, &next); /* one action */
    }
    fputc('\n', s->trace);
}

void sim_trace_fault(struct sim *s, int kind, uint64_t a, uint64_t b)
{
    s->hash = sim_mix(sim_mix(sim_mix(s->hash, 0xFA17u + (uint64_t)kind), a),
                      b);
    if (s->trace != NULL) {
        fprintf(s->trace, "-- t=%" PRIu64 " fault %s %" PRIu64 " %" PRIu64
                "\n", s->now, sim_kind_name(kind), a, b);
    }
}

void sim_trace_note(struct sim *s, const char *fmt, ...)
{
    if (s->trace == NULL) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->trace, "-- t=%" PRIu64 " ", s->now);
    vfprintf(s->trace, fmt, ap);
    fputc('\n', s->trace);
    va_end(ap);
}
