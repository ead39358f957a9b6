/*
 * sim/history.c: recording operations.
 */
#include "sim/history.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/kv.h"

void sim_history_init(struct sim_history *h)
{
    memset(h, 0, sizeof(*h));
}

void sim_history_free(struct sim_history *h)
{
    free(h->v);
    sim_history_init(h);
}

uint64_t sim_history_invoke(struct sim_history *h, uint32_t type,
                            uint32_t key, uint64_t a, uint64_t b,
                            uint32_t client)
{
    if (h->n == h->cap) {
        size_t cap = h->cap < 1024 ? 1024 : h->cap * 2;
        struct sim_hop *v = realloc(h->v, cap * sizeof(*v));
        if (v == NULL) {
            return 0;
        }
        h->v = v;
        h->cap = cap;
    }
    struct sim_hop *op = &h->v[h->n++];
    memset(op, 0, sizeof(*op));
    op->type = type;
    op->key = key;
    op->a = a;
    op->b = b;
    op->client = client;
    op->call = ++h->clock;
    return h->n;
}

void sim_history_complete(struct sim_history *h, uint64_t id, uint64_t out)
{
    struct sim_hop *op = sim_history_op(h, id);
    if (op != NULL && op->status == SIM_HOP_PENDING) {
        op->status = SIM_HOP_OK;
        op->out = out;
        op->ret = ++h->clock;
    }
}

void sim_history_fail(struct sim_history *h, uint64_t id)
{
    struct sim_hop *op = sim_history_op(h, id);
    if (op != NULL && op->status == SIM_HOP_PENDING) {
        op->status = SIM_HOP_FAILED;
    }
}

void sim_hop_format(const struct sim_history *h, uint64_t id, char *buf,
                    size_t len)
{
    const struct sim_hop *op = (id >= 1 && id <= h->n) ? &h->v[id - 1] : NULL;
    if (op == NULL) {
        snprintf(buf, len, "op %" PRIu64 ": none", id);
        return;
    }
    char what[96];
    switch (op->type) {
    case SIM_CMD_PUT:
        snprintf(what, sizeof(what), "put(k%u, %" PRIu64 ")", op->key, op->a);
        break;
    case SIM_CMD_GET:
        snprintf(what, sizeof(what), "get(k%u)%s", op->key,
                 op->path == SIM_PATH_READ ? " readindex" : " via log");
        break;
    case SIM_CMD_CAS:
        snprintf(what, sizeof(what), "cas(k%u, %" PRIu64 " -> %" PRIu64 ")",
                 op->key, op->a, op->b);
        break;
    default:
        snprintf(what, sizeof(what), "mark");
        break;
    }
    char res[48];
    if (op->status == SIM_HOP_OK) {
        if (op->type == SIM_CMD_CAS) {
            snprintf(res, sizeof(res), "%s", op->out ? "ok" : "failed");
        } else if (op->type == SIM_CMD_GET) {
            snprintf(res, sizeof(res), "%" PRIu64, op->out);
        } else {
            snprintf(res, sizeof(res), "ok");
        }
    } else {
        snprintf(res, sizeof(res), "%s",
                 op->status == SIM_HOP_FAILED ? "no effect" : "unknown");
    }
    char ret[32];
    if (op->ret != 0) {
        snprintf(ret, sizeof(ret), "%" PRIu64, op->ret);
    } else {
        snprintf(ret, sizeof(ret), "never");
    }
    snprintf(buf, len,
             "op %" PRIu64 " client %u node %u [%" PRIu64 ", %s] %s -> %s"
             " (index %" PRIu64 " term %" PRIu64 ")",
             id, op->client, op->node + 1, op->call, ret, what, res,
             op->index, op->term);
}
