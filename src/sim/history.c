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
                 op->path == SIM_PATH_READ  ? " readindex"
                 : op->path == SIM_PATH_LOG ? " via log"
                                            : "");
        break;
    case SIM_CMD_INCR:
        snprintf(what, sizeof(what), "incr(k%u, %" PRIu64 ")", op->key,
                 op->a);
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
        } else if (op->type == SIM_CMD_GET || op->type == SIM_CMD_INCR) {
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

/* An event of the written history: an invocation or a completion. */
struct hev {
    uint64_t time;
    uint64_t id;
    int call;
};

static int cmp_hev(const void *a, const void *b)
{
    const struct hev *x = a, *y = b;
    return x->time < y->time ? -1 : (x->time > y->time);
}

int sim_history_write(const struct sim_history *h, FILE *f)
{
    struct hev *ev = malloc((2 * h->n + 1) * sizeof(*ev));
    if (ev == NULL) {
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct sim_hop *op = &h->v[i];
        if (op->type == SIM_CMD_MARK) {
            continue;
        }
        ev[n++] = (struct hev){op->call, i + 1, 1};
        if (op->status == SIM_HOP_OK) {
            ev[n++] = (struct hev){op->ret, i + 1, 0};
        }
    }
    qsort(ev, n, sizeof(*ev), cmp_hev);
    fprintf(f, "# craft-lincheck history v1 (simulator)\n");
    for (size_t i = 0; i < n; i++) {
        const struct sim_hop *op = &h->v[ev[i].id - 1];
        unsigned long long pid = (unsigned long long)ev[i].id;
        if (!ev[i].call) {
            if (op->type == SIM_CMD_PUT) {
                fprintf(f, "ok p%llu\n", pid);
            } else {
                fprintf(f, "ok p%llu %" PRIu64 "\n", pid, op->out);
            }
            continue;
        }
        switch (op->type) {
        case SIM_CMD_PUT:
            fprintf(f, "invoke p%llu put k%u %" PRIu64 "\n", pid,
                    op->key, op->a);
            break;
        case SIM_CMD_GET:
            fprintf(f, "invoke p%llu get k%u\n", pid, op->key);
            break;
        case SIM_CMD_CAS:
            fprintf(f, "invoke p%llu cas k%u %" PRIu64 " %" PRIu64 "\n",
                    pid, op->key, op->a, op->b);
            break;
        default:
            fprintf(f, "invoke p%llu incr k%u %" PRIu64 "\n", pid,
                    op->key, op->a);
            break;
        }
        if (op->status == SIM_HOP_FAILED) {
            fprintf(f, "fail p%llu\n", pid);
        } else if (op->status == SIM_HOP_PENDING) {
            /* Its client gave up on it (a timeout): unknown outcome. */
            fprintf(f, "info p%llu\n", pid);
        }
    }
    free(ev);
    return ferror(f) ? -1 : 0;
}
