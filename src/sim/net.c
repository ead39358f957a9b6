/*
 * sim/net.c: message buffers. A message's buffer is kept when it goes back
 * to the pool, so the steady state allocates nothing.
 */
#include "sim/net.h"

#include <stdlib.h>
#include <string.h>

void sim_net_init(struct sim_net *n)
{
    memset(n, 0, sizeof(*n));
}

void sim_net_free(struct sim_net *n)
{
    while (n->free != NULL) {
        struct sim_msg *m = n->free;
        n->free = m->next;
        free(m->buf);
        free(m);
    }
}

static struct sim_msg *get(struct sim_net *n, size_t need)
{
    struct sim_msg *m = n->free;
    if (m != NULL) {
        n->free = m->next;
    } else {
        m = calloc(1, sizeof(*m));
        if (m == NULL) {
            return NULL;
        }
    }
    if (need > m->cap) {
        size_t cap = need < 256 ? 256 : need;
        uint8_t *b = realloc(m->buf, cap);
        if (b == NULL) {
            m->next = n->free;
            n->free = m;
            return NULL;
        }
        m->buf = b;
        m->cap = cap;
    }
    m->next = NULL;
    m->wire_len = 0;
    n->live++;
    return m;
}

void sim_msg_put(struct sim_net *n, struct sim_msg *m)
{
    m->next = n->free;
    n->free = m;
    n->live--;
}

/* Lays out m's variable parts in d->buf: entry descriptors, payloads,
 * chunk, membership bytes. */
static void deep_copy(struct sim_msg *d, const struct craft_msg *m)
{
    uint8_t *p = d->buf;
    d->m = *m;
    struct craft_entry *ents = (struct craft_entry *)(void *)p;
    p += m->n_entries * sizeof(struct craft_entry);
    for (size_t k = 0; k < m->n_entries; k++) {
        ents[k] = m->entries[k];
        ents[k].ref = NULL;
        if (m->entries[k].len > 0) {
            memcpy(p, m->entries[k].data, m->entries[k].len);
            ents[k].data = p;
            p += m->entries[k].len;
        } else {
            ents[k].data = NULL;
        }
    }
    d->m.entries = m->n_entries > 0 ? ents : NULL;
    if (m->len > 0) {
        memcpy(p, m->data, m->len);
        d->m.data = p;
        p += m->len;
    } else {
        d->m.data = NULL;
    }
    if (m->conf_len > 0) {
        memcpy(p, m->conf, m->conf_len);
        d->m.conf = p;
    } else {
        d->m.conf = NULL;
    }
}

static size_t deep_size(const struct craft_msg *m)
{
    size_t need = m->n_entries * sizeof(struct craft_entry) + m->len +
                  m->conf_len;
    for (size_t k = 0; k < m->n_entries; k++) {
        need += m->entries[k].len;
    }
    return need;
}

struct sim_msg *sim_msg_copy(struct sim_net *n, const struct craft_msg *m)
{
    struct sim_msg *d = get(n, deep_size(m));
    if (d != NULL) {
        deep_copy(d, m);
    }
    return d;
}

struct sim_msg *sim_msg_encode(struct sim_net *n, const struct craft_msg *m,
                               int *unencodable)
{
    size_t size = craft_msg_encoded_size(m);
    *unencodable = size == 0;
    if (size == 0) {
        return NULL;
    }
    struct sim_msg *d = get(n, size);
    if (d != NULL) {
        d->m = *m;
        d->m.entries = NULL;
        d->m.data = NULL;
        d->m.conf = NULL;
        d->wire_len = craft_msg_encode(m, d->buf);
    }
    return d;
}

struct sim_msg *sim_msg_clone(struct sim_net *n, const struct sim_msg *src)
{
    if (src->wire_len > 0) {
        struct sim_msg *d = get(n, src->wire_len);
        if (d != NULL) {
            d->m = src->m;
            d->wire_len = src->wire_len;
            memcpy(d->buf, src->buf, src->wire_len);
        }
        return d;
    }
    return sim_msg_copy(n, &src->m);
}

int sim_net_any_cut(const struct sim_net *n)
{
    for (unsigned a = 0; a < SIM_MAX_NODES; a++) {
        for (unsigned b = 0; b < SIM_MAX_NODES; b++) {
            if (n->cut[a][b]) {
                return 1;
            }
        }
    }
    return 0;
}
