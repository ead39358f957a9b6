/*
 * sim/lincheck.c: the search (see lincheck.h).
 */
#include "sim/lincheck.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hash.h"
#include "sim/kv.h"

#define NEVER UINT64_MAX

/* ---- the model: one register with put, get and compare-and-set ------ */

/* Applies op to value *v; 0 when the recorded outcome is impossible. */
static int model_step(const struct sim_hop *op, uint64_t *v)
{
    int known = op->status == SIM_HOP_OK;
    switch (op->type) {
    case SIM_CMD_PUT:
        *v = op->a;
        return 1;
    case SIM_CMD_GET:
        return !known || *v == op->out;
    case SIM_CMD_CAS:
        if (*v == op->a) {
            if (known && op->out == 0) {
                return 0;
            }
            *v = op->b;
            return 1;
        }
        return !known || op->out == 0;
    case SIM_CMD_INCR:
        *v += op->a;
        return !known || *v == op->out;
    default:
        return 1;
    }
}

static uint64_t ret_of(const struct sim_hop *op)
{
    return op->status == SIM_HOP_OK ? op->ret : NEVER;
}

/* ---- the event list ------------------------------------------------- */

struct lev {
    struct lev *prev, *next, *match;
    uint32_t op; /* position in the segment */
    int call;
    uint64_t time;
};

static void lift(struct lev *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev; /* a call is always followed by its return */
    struct lev *m = e->match;
    m->prev->next = m->next;
    if (m->next != NULL) {
        m->next->prev = m->prev;
    }
}

static void unlift(struct lev *e)
{
    struct lev *m = e->match;
    m->prev->next = m;
    if (m->next != NULL) {
        m->next->prev = m;
    }
    e->prev->next = e;
    e->next->prev = e;
}

/* ---- the memo: a set of (bitset, value) ---------------------------- */

struct memo {
    uint64_t *words; /* entries of (w + 1) words: value, bits */
    size_t w;        /* bitset words */
    size_t n, cap;   /* entries */
    uint32_t *slot;  /* open addressing: entry + 1, 0 empty */
    size_t slots;
    uint64_t budget; /* words */
};

static uint64_t memo_hash(const uint64_t *bits, size_t w, uint64_t v)
{
    uint64_t h = sim_mix(SIM_HASH_INIT, v);
    for (size_t k = 0; k < w; k++) {
        h = sim_mix(h, bits[k]);
    }
    return h;
}

static int memo_grow(struct memo *m)
{
    size_t cap = m->cap < 1024 ? 1024 : m->cap * 2;
    uint64_t *words = realloc(m->words, cap * (m->w + 1) * sizeof(uint64_t));
    if (words == NULL) {
        return -1;
    }
    m->words = words;
    m->cap = cap;
    size_t slots = cap * 2;
    uint32_t *slot = calloc(slots, sizeof(uint32_t));
    if (slot == NULL) {
        return -1;
    }
    free(m->slot);
    m->slot = slot;
    m->slots = slots;
    for (size_t i = 0; i < m->n; i++) {
        const uint64_t *ent = m->words + i * (m->w + 1);
        size_t s = (size_t)(memo_hash(ent + 1, m->w, ent[0]) % slots);
        while (slot[s] != 0) {
            s = (s + 1) % slots;
        }
        slot[s] = (uint32_t)(i + 1);
    }
    return 0;
}

/* 1: inserted (new), 0: present, -1: no memory, -2: over budget. */
static int memo_insert(struct memo *m, const uint64_t *bits, uint64_t v)
{
    if (m->n + 1 > m->cap / 4 * 3) {
        uint64_t cap = m->cap < 1024 ? 1024 : (uint64_t)m->cap * 2;
        if (cap * (m->w + 1) > m->budget || cap > UINT32_MAX / 2) {
            return -2;
        }
        if (memo_grow(m) != 0) {
            return -1;
        }
    }
    size_t s = (size_t)(memo_hash(bits, m->w, v) % m->slots);
    while (m->slot[s] != 0) {
        const uint64_t *ent = m->words + (size_t)(m->slot[s] - 1) * (m->w + 1);
        if (ent[0] == v && memcmp(ent + 1, bits, m->w * 8) == 0) {
            return 0;
        }
        s = (s + 1) % m->slots;
    }
    uint64_t *ent = m->words + m->n * (m->w + 1);
    ent[0] = v;
    memcpy(ent + 1, bits, m->w * 8);
    m->slot[s] = (uint32_t)(++m->n);
    return 1;
}

/* ---- value sets ---------------------------------------------------- */

struct vset {
    uint64_t *v;
    size_t n, cap;
};

static int vset_add(struct vset *s, uint64_t x)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] == x) {
            return 0;
        }
    }
    if (s->n == s->cap) {
        size_t cap = s->cap < 8 ? 8 : s->cap * 2;
        uint64_t *v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL) {
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

/* ---- one segment --------------------------------------------------- */

struct seg {
    const struct sim_history *h;
    const uint64_t *ids; /* op ids of the segment, by call time */
    size_t m;
    struct lev *ev;      /* 2m events + head */
    struct lev **order;
    uint64_t *bits;
    struct lev **stack;
    uint64_t *saved;
    struct memo memo;
};

static int cmp_lev(const void *a, const void *b)
{
    const struct lev *x = *(struct lev *const *)a;
    const struct lev *y = *(struct lev *const *)b;
    if (x->time != y->time) {
        return x->time < y->time ? -1 : 1;
    }
    /* Equal only for NEVER: returns in op order. */
    return x->op < y->op ? -1 : (x->op > y->op);
}

static int seg_build(struct seg *s)
{
    size_t m = s->m;
    s->ev = calloc(2 * m + 1, sizeof(struct lev));
    s->order = malloc(2 * m * sizeof(struct lev *));
    s->memo.w = (m + 63) / 64;
    s->bits = calloc(s->memo.w, sizeof(uint64_t));
    s->stack = malloc(m * sizeof(struct lev *));
    s->saved = malloc(m * sizeof(uint64_t));
    if (s->ev == NULL || s->order == NULL || s->bits == NULL ||
        s->stack == NULL || s->saved == NULL) {
        return -1;
    }
    for (size_t i = 0; i < m; i++) {
        const struct sim_hop *op = &s->h->v[s->ids[i] - 1];
        struct lev *c = &s->ev[1 + 2 * i];
        struct lev *r = &s->ev[2 + 2 * i];
        c->op = r->op = (uint32_t)i;
        c->call = 1;
        c->time = op->call;
        r->time = ret_of(op);
        c->match = r;
        s->order[2 * i] = c;
        s->order[2 * i + 1] = r;
    }
    qsort(s->order, 2 * m, sizeof(struct lev *), cmp_lev);
    struct lev *head = &s->ev[0];
    struct lev *prev = head;
    for (size_t i = 0; i < 2 * m; i++) {
        prev->next = s->order[i];
        s->order[i]->prev = prev;
        prev = s->order[i];
    }
    prev->next = NULL;
    return 0;
}

static void seg_free(struct seg *s)
{
    free(s->ev);
    free(s->order);
    free(s->bits);
    free(s->stack);
    free(s->saved);
    free(s->memo.words);
    free(s->memo.slot);
}

/* Explores every linearization from value v0, adding the values they end
 * in to out. 0, or -1 (memory) / -2 (budget). */
static int seg_explore(struct seg *s, uint64_t v0, struct vset *out)
{
    struct lev *head = &s->ev[0];
    struct lev *e = head->next;
    size_t depth = 0;
    uint64_t v = v0;
    for (;;) {
        if (head->next == NULL) {
            if (vset_add(out, v) != 0) {
                return -1;
            }
            e = NULL; /* backtrack */
        } else if (e->call) {
            const struct sim_hop *op = &s->h->v[s->ids[e->op] - 1];
            uint64_t nv = v;
            if (model_step(op, &nv)) {
                s->bits[e->op / 64] |= 1ull << (e->op % 64);
                int rv = memo_insert(&s->memo, s->bits, nv);
                if (rv < 0) {
                    return rv;
                }
                if (rv == 1) {
                    s->stack[depth] = e;
                    s->saved[depth] = v;
                    depth++;
                    v = nv;
                    lift(e);
                    e = head->next;
                    continue;
                }
                s->bits[e->op / 64] &= ~(1ull << (e->op % 64));
            }
            e = e->next;
            continue;
        } else {
            e = NULL; /* a return reached: its op must come earlier */
        }
        /* Backtrack. */
        if (depth == 0) {
            return 0;
        }
        depth--;
        struct lev *top = s->stack[depth];
        v = s->saved[depth];
        s->bits[top->op / 64] &= ~(1ull << (top->op % 64));
        unlift(top);
        e = top->next;
    }
}

/* The operation that wrote value v to key (values are unique), or 0. */
static uint64_t writer(const struct sim_history *h, uint32_t key, uint64_t v)
{
    for (size_t i = 0; i < h->n && v != 0; i++) {
        const struct sim_hop *op = &h->v[i];
        if (op->key == key && op->status != SIM_HOP_FAILED &&
            ((op->type == SIM_CMD_PUT && op->a == v) ||
             (op->type == SIM_CMD_CAS && op->b == v))) {
            return i + 1;
        }
    }
    return 0;
}

static void append(char *msg, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *msg, size_t len, size_t *off, const char *fmt, ...)
{
    if (*off >= len) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg + *off, len - *off, fmt, ap);
    va_end(ap);
    *off += n > 0 ? (size_t)n : 0;
}

static void describe(const struct seg *s, uint32_t key, const struct vset *in,
                     char *msg, size_t len)
{
    size_t off = 0;
    char line[256];
    append(msg, len, &off,
           "key k%u: no linearization of these %zu operations, starting "
           "from value",
           key, s->m);
    for (size_t i = 0; i < in->n && i < 4; i++) {
        append(msg, len, &off, " %" PRIu64, in->v[i]);
    }
    for (size_t i = 0; i < s->m && i < 24; i++) {
        sim_hop_format(s->h, s->ids[i], line, sizeof(line));
        append(msg, len, &off, "\n    %s", line);
    }
    if (s->m > 24) {
        append(msg, len, &off, "\n    ... %zu more", s->m - 24);
    }
    /* Who wrote the values involved. */
    uint64_t vals[8];
    size_t nv = 0;
    for (size_t i = 0; i < in->n && nv < 4; i++) {
        vals[nv++] = in->v[i];
    }
    for (size_t i = 0; i < s->m && nv < 8; i++) {
        const struct sim_hop *op = &s->h->v[s->ids[i] - 1];
        if (op->type == SIM_CMD_GET && op->status == SIM_HOP_OK) {
            vals[nv++] = op->out;
        }
    }
    for (size_t i = 0; i < nv; i++) {
        uint64_t w = writer(s->h, key, vals[i]);
        if (w != 0) {
            sim_hop_format(s->h, w, line, sizeof(line));
            append(msg, len, &off, "\n  value %" PRIu64 " was written by %s",
                   vals[i], line);
        }
    }
}

/* Checks one segment from the values in *in, replacing them with the
 * values it may end in. 1 ok, 0 not linearizable, -1 memory, -2 budget. */
static int check_segment(const struct sim_history *h, const uint64_t *ids,
                         size_t m, uint64_t budget, struct vset *in,
                         struct sim_lin *lin, uint32_t key)
{
    struct seg s;
    memset(&s, 0, sizeof(s));
    s.h = h;
    s.ids = ids;
    s.m = m;
    s.memo.budget = budget;
    struct vset out = {NULL, 0, 0};
    int rv = seg_build(&s);
    for (size_t i = 0; rv == 0 && i < in->n; i++) {
        rv = seg_explore(&s, in->v[i], &out);
    }
    lin->states += s.memo.n;
    if (rv == 0 && out.n == 0) {
        describe(&s, key, in, lin->message, sizeof(lin->message));
    }
    seg_free(&s);
    if (rv < 0) {
        free(out.v);
        return rv;
    }
    free(in->v);
    *in = out;
    return out.n > 0;
}

/* ---- the whole history --------------------------------------------- */

struct by_key {
    uint32_t key;
    uint64_t call;
    uint64_t id;
};

static int cmp_key_call(const void *a, const void *b)
{
    const struct by_key *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->call < y->call ? -1 : (x->call > y->call);
}

static int relevant(const struct sim_hop *op)
{
    if (op->status == SIM_HOP_OK) {
        return op->type != SIM_CMD_MARK;
    }
    return op->status == SIM_HOP_PENDING &&
           (op->type == SIM_CMD_PUT || op->type == SIM_CMD_CAS ||
            op->type == SIM_CMD_INCR);
}

/* Checks the m operations of one key (ids, by invocation), segment by
 * segment. 1 ok, 0 not linearizable, -1 memory, -2 budget. */
static int check_key(const struct sim_history *h, uint32_t key,
                     const uint64_t *ids, size_t m, uint64_t budget,
                     struct sim_lin *lin)
{
    lin->ops += m;
    struct vset in = {NULL, 0, 0};
    if (vset_add(&in, 0) != 0) {
        return -1;
    }
    size_t start = 0;
    uint64_t max_ret = 0;
    int rv = 1;
    for (size_t i = 0; i <= m && rv == 1; i++) {
        if (i == m || (i > start && h->v[ids[i] - 1].call > max_ret)) {
            lin->segments++;
            rv = check_segment(h, ids + start, i - start, budget, &in, lin,
                               key);
            start = i;
        }
        if (i < m) {
            uint64_t r = ret_of(&h->v[ids[i] - 1]);
            if (r > max_ret) {
                max_ret = r;
            }
        }
    }
    free(in.v);
    return rv;
}

int sim_lincheck(const struct sim_history *h, uint32_t nkeys,
                 uint64_t budget, struct sim_lin *lin)
{
    memset(lin, 0, sizeof(*lin));
    lin->ok = 1;
    uint64_t *ids = malloc((h->n + 1) * sizeof(uint64_t));
    struct by_key *all = malloc((h->n + 1) * sizeof(*all));
    if (ids == NULL || all == NULL) {
        free(ids);
        free(all);
        return -1;
    }
    /* Partition by key (P-compositionality), each key's operations in
     * the order they were invoked. */
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (h->v[i].key < nkeys && relevant(&h->v[i])) {
            all[n].key = h->v[i].key;
            all[n].call = h->v[i].call;
            all[n].id = i + 1;
            n++;
        }
    }
    qsort(all, n, sizeof(*all), cmp_key_call);
    for (size_t i = 0; i < n; i++) {
        ids[i] = all[i].id;
    }
    int rv = 1;
    size_t at = 0;
    for (uint32_t k = 0; k < nkeys; k++) {
        size_t m = 0;
        while (at + m < n && all[at + m].key == k) {
            m++;
        }
        rv = check_key(h, k, ids + at, m, budget, lin);
        at += m;
        lin->keys++;
        if (rv == -1) {
            break;
        }
        if (rv == -2) {
            lin->inconclusive++;
            rv = 1;
            continue;
        }
        if (rv == 0) {
            lin->ok = 0;
            lin->bad_key = k;
            break;
        }
    }
    free(ids);
    free(all);
    return rv == -1 ? -1 : lin->ok;
}
