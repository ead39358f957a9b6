/*
 * sim/disk.c: queued writes, durability and crashes.
 */
#include "sim/disk.h"

#include <stdlib.h>
#include <string.h>

void sim_disk_init(struct sim_disk *d)
{
    memset(d, 0, sizeof(*d));
    sim_win_init(&d->log, sizeof(struct sim_dentry));
}

void sim_snap_free(struct sim_snap *s)
{
    if (s != NULL) {
        free(s->data);
        s->data = NULL;
        s->len = s->cap = 0;
    }
}

static void drop_queue(struct sim_disk *d)
{
    for (size_t k = 0; k < d->op_n; k++) {
        struct sim_op *op = &d->ops[(d->op_head + k) % d->op_cap];
        if (op->snap != NULL) {
            sim_snap_free(op->snap);
            free(op->snap);
            op->snap = NULL;
        }
    }
    d->op_n = 0;
    d->op_head = 0;
    d->p_n = 0;
    d->p_head = 0;
}

void sim_disk_free(struct sim_disk *d)
{
    drop_queue(d);
    free(d->ops);
    free(d->pend);
    sim_win_free(&d->log);
    sim_snap_free(&d->snap[0]);
    sim_snap_free(&d->snap[1]);
    memset(d, 0, sizeof(*d));
}

int sim_snap_write(struct sim_snap *s, uint64_t offset, const void *data,
                   size_t len)
{
    size_t end = (size_t)offset + len;
    if (end > s->cap) {
        size_t cap = s->cap < 256 ? 256 : s->cap;
        while (cap < end) {
            cap *= 2;
        }
        uint8_t *p = realloc(s->data, cap);
        if (p == NULL) {
            return -1;
        }
        s->data = p;
        s->cap = cap;
    }
    if (len > 0) {
        memcpy(s->data + offset, data, len);
    }
    if (end > s->len) {
        s->len = end;
    }
    return 0;
}

static struct sim_op *push_op(struct sim_disk *d, uint32_t type,
                              uint64_t done_at)
{
    if (d->op_n == d->op_cap) {
        size_t cap = d->op_cap < 16 ? 16 : d->op_cap * 2;
        struct sim_op *v = malloc(cap * sizeof(*v));
        if (v == NULL) {
            return NULL;
        }
        for (size_t k = 0; k < d->op_n; k++) {
            v[k] = d->ops[(d->op_head + k) % d->op_cap];
        }
        free(d->ops);
        d->ops = v;
        d->op_head = 0;
        d->op_cap = cap;
    }
    struct sim_op *op = &d->ops[(d->op_head + d->op_n) % d->op_cap];
    d->op_n++;
    memset(op, 0, sizeof(*op));
    op->seq = ++d->seq;
    op->type = type;
    if (done_at < d->busy_until) {
        done_at = d->busy_until;
    }
    op->done_at = done_at;
    d->busy_until = done_at;
    return op;
}

uint64_t sim_disk_hs(struct sim_disk *d, uint64_t term, uint64_t vote,
                     uint64_t done_at)
{
    struct sim_op *op = push_op(d, SIM_OP_HS, done_at);
    if (op == NULL) {
        return 0;
    }
    op->a = term;
    op->b = vote;
    return op->seq;
}

uint64_t sim_disk_truncate(struct sim_disk *d, uint64_t index,
                           uint64_t done_at)
{
    struct sim_op *op = push_op(d, SIM_OP_TRUNCATE, done_at);
    if (op == NULL) {
        return 0;
    }
    op->a = index;
    return op->seq;
}

static int pend_reserve(struct sim_disk *d, size_t more)
{
    if (d->p_n + more <= d->p_cap) {
        return 0;
    }
    size_t cap = d->p_cap < 64 ? 64 : d->p_cap;
    while (cap < d->p_n + more) {
        cap *= 2;
    }
    struct sim_dentry *v = malloc(cap * sizeof(*v));
    if (v == NULL) {
        return -1;
    }
    for (size_t k = 0; k < d->p_n; k++) {
        v[k] = d->pend[(d->p_head + k) % d->p_cap];
    }
    free(d->pend);
    d->pend = v;
    d->p_head = 0;
    d->p_cap = cap;
    return 0;
}

uint64_t sim_disk_append(struct sim_disk *d, uint64_t index,
                         const struct craft_entry *ents, size_t count,
                         uint64_t done_at)
{
    for (size_t k = 0; k < count; k++) {
        if (ents[k].len > SIM_PAYLOAD_MAX) {
            return 0;
        }
    }
    if (pend_reserve(d, count) != 0) {
        return 0;
    }
    struct sim_op *op = push_op(d, SIM_OP_APPEND, done_at);
    if (op == NULL) {
        return 0;
    }
    op->a = index;
    op->b = count;
    for (size_t k = 0; k < count; k++) {
        struct sim_dentry *e = &d->pend[(d->p_head + d->p_n) % d->p_cap];
        d->p_n++;
        e->term = ents[k].term;
        e->type = ents[k].type;
        e->len = ents[k].len;
        if (e->len > 0) {
            memcpy(e->data, ents[k].data, e->len);
        }
    }
    return op->seq;
}

uint64_t sim_disk_snapshot(struct sim_disk *d, struct sim_snap *snap,
                           int report, uint64_t done_at)
{
    struct sim_op *op = push_op(d, SIM_OP_SNAPSHOT, done_at);
    if (op == NULL) {
        return 0;
    }
    op->snap = snap;
    op->report = report;
    return op->seq;
}

uint64_t sim_disk_done_at(const struct sim_disk *d, uint64_t seq)
{
    if (seq <= d->durable || d->op_n == 0) {
        return 0;
    }
    const struct sim_op *first = &d->ops[d->op_head];
    size_t k = (size_t)(seq - first->seq);
    if (k >= d->op_n) {
        return 0;
    }
    return d->ops[(d->op_head + k) % d->op_cap].done_at;
}

/* Writes count queued entries, the first at index, to the durable log. */
static void write_entries(struct sim_disk *d, uint64_t index, size_t count,
                          struct sim_done *done)
{
    for (size_t k = 0; k < count; k++, index++) {
        const struct sim_dentry *src = &d->pend[d->p_head];
        d->p_head = (d->p_head + 1) % d->p_cap;
        d->p_n--;
        if (index <= d->log.base) {
            continue; /* below the durable snapshot */
        }
        if (index > sim_win_last(&d->log) + 1) {
            done->gap = 1;
            continue;
        }
        sim_win_truncate(&d->log, index);
        struct sim_dentry *e = sim_win_push(&d->log);
        if (e == NULL) {
            done->gap = 1; /* out of memory: reported the same way */
            continue;
        }
        *e = *src;
    }
}

static void install_snapshot(struct sim_disk *d, struct sim_snap *s)
{
    if (s->index <= d->snap[0].index) {
        sim_snap_free(s);
        return;
    }
    sim_snap_free(&d->snap[1]);
    d->snap[1] = d->snap[0];
    d->snap[0] = *s;
    /* Entries up to the snapshot are in it. */
    sim_win_compact(&d->log, s->index);
}

static void complete_one(struct sim_disk *d, struct sim_op *op,
                         struct sim_done *done)
{
    switch (op->type) {
    case SIM_OP_HS:
        d->term = op->a;
        d->vote = op->b;
        break;
    case SIM_OP_TRUNCATE:
        sim_win_truncate(&d->log, op->a);
        break;
    case SIM_OP_APPEND:
        write_entries(d, op->a, (size_t)op->b, done);
        done->appended = 1;
        break;
    case SIM_OP_SNAPSHOT:
        if (op->report) {
            done->snapshot = 1;
            done->snap_index = op->snap->index;
            done->snap_term = op->snap->term;
        }
        install_snapshot(d, op->snap);
        free(op->snap);
        op->snap = NULL;
        break;
    default:
        break;
    }
}

void sim_disk_complete(struct sim_disk *d, uint64_t seq,
                       struct sim_done *done)
{
    memset(done, 0, sizeof(*done));
    while (d->op_n > 0 && d->ops[d->op_head].seq <= seq) {
        struct sim_op *op = &d->ops[d->op_head];
        complete_one(d, op, done);
        d->durable = op->seq;
        d->op_head = (d->op_head + 1) % d->op_cap;
        d->op_n--;
    }
    if (done->appended) {
        uint64_t last = sim_win_last(&d->log);
        const struct sim_dentry *e = sim_disk_entry(d, last);
        if (e != NULL) {
            done->last_index = last;
            done->last_term = e->term;
        } else {
            done->appended = 0;
        }
    }
}

size_t sim_disk_crash(struct sim_disk *d, int torn, struct sim_rng *rng)
{
    size_t kept = 0;
    if (torn && d->op_n > 0) {
        struct sim_op *op = &d->ops[d->op_head];
        if (op->type == SIM_OP_APPEND && op->b > 1) {
            struct sim_done done;
            kept = (size_t)sim_rng_below(rng, op->b);
            memset(&done, 0, sizeof(done));
            write_entries(d, op->a, kept, &done);
        }
    }
    drop_queue(d);
    d->durable = d->seq;
    d->busy_until = 0;
    return kept;
}

int sim_disk_holds(const struct sim_disk *d, uint64_t index, uint64_t term)
{
    if (index == 0 || index <= d->snap[0].index) {
        return 1;
    }
    const struct sim_dentry *e = sim_disk_entry(d, index);
    return e != NULL && e->term == term;
}
