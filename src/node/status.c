/*
 * node/status.c: status copies and result accessors.
 */
#include <string.h>

#include "node/node.h"

struct member {
    uint64_t id;
    int role;
    int state;
    uint64_t match;
    uint64_t next;
    uint32_t addr_len;
    unsigned char addr[CRAFT_MAX_ADDR_BYTES];
};

struct craft_status {
    struct craft_alloc alloc;
    uint64_t id;
    int role;
    uint64_t term;
    uint64_t leader;
    uint64_t commit;
    uint64_t applied;
    uint64_t last;
    uint64_t snapshot;
    size_t n;
    struct member m[];
};

/* The driver's thread, or any thread while no driver runs. */
int nd_status_fill(struct craft_node *n, craft_status **out)
{
    const craft_engine *e = n->e;
    size_t cnt = craft_engine_member_count(e);
    struct craft_status *st =
        craft_malloc(&n->alloc, sizeof(*st) + cnt * sizeof(st->m[0]));
    if (st == NULL) {
        return CRAFT_ENOMEM;
    }
    st->alloc = n->alloc;
    st->id = n->id;
    st->role = craft_engine_role(e);
    st->term = craft_engine_term(e);
    st->leader = craft_engine_leader(e);
    st->commit = craft_engine_commit_index(e);
    st->applied = atomic_load(&n->q_applied);
    st->last = craft_engine_last_index(e);
    st->snapshot = craft_engine_snapshot_index(e);
    st->n = cnt;
    for (size_t k = 0; k < cnt; k++) {
        struct member *m = &st->m[k];
        memset(m, 0, sizeof(*m));
        craft_engine_member(e, k, &m->id, &m->role);
        const void *addr = NULL;
        size_t len = 0;
        craft_engine_member_addr(e, k, &addr, &len);
        m->addr_len = (uint32_t)len;
        if (len > 0) {
            memcpy(m->addr, addr, len);
        }
        if (st->role == CRAFT_ROLE_LEADER) {
            craft_engine_progress(e, m->id, &m->match, &m->next, &m->state);
        }
    }
    *out = st;
    return CRAFT_OK;
}

void craft_status_free(craft_status *st)
{
    if (st != NULL) {
        struct craft_alloc al = st->alloc;
        craft_free(&al, st);
    }
}

#define STATUS_FIELD(name, rtype, field)                                      \
    rtype craft_status_##name(const craft_status *st)              \
    {                                                                         \
        return st != NULL ? (rtype)st->field : (rtype)0;                      \
    }

STATUS_FIELD(id, uint64_t, id)
STATUS_FIELD(role, int, role)
STATUS_FIELD(term, uint64_t, term)
STATUS_FIELD(leader, uint64_t, leader)
STATUS_FIELD(commit_index, uint64_t, commit)
STATUS_FIELD(applied_index, uint64_t, applied)
STATUS_FIELD(last_index, uint64_t, last)
STATUS_FIELD(snapshot_index, uint64_t, snapshot)
STATUS_FIELD(member_count, size_t, n)

int craft_status_member(const craft_status *st, size_t k,
                             uint64_t *id, int *role, uint64_t *match,
                             uint64_t *next, int *progress_state)
{
    if (st == NULL || k >= st->n) {
        return CRAFT_EINVAL;
    }
    const struct member *m = &st->m[k];
    if (id != NULL) {
        *id = m->id;
    }
    if (role != NULL) {
        *role = m->role;
    }
    if (match != NULL) {
        *match = m->match;
    }
    if (next != NULL) {
        *next = m->next;
    }
    if (progress_state != NULL) {
        *progress_state = m->state;
    }
    return CRAFT_OK;
}

int craft_status_member_addr(const craft_status *st, size_t k,
                             const void **addr, size_t *len)
{
    if (st == NULL || addr == NULL || len == NULL || k >= st->n) {
        return CRAFT_EINVAL;
    }
    const struct member *m = &st->m[k];
    *addr = m->addr_len > 0 ? m->addr : NULL;
    *len = m->addr_len;
    return CRAFT_OK;
}

/* ---- the published membership ------------------------------------------ */

uint64_t craft_node_membership_version(const craft_node *n)
{
    if (n == NULL) {
        return 0;
    }
    return atomic_load(&((struct craft_node *)(uintptr_t)n)->pub_version);
}

int craft_node_membership(craft_node *n, craft_status **out,
                          uint64_t *version)
{
    if (n == NULL || out == NULL) {
        return CRAFT_EINVAL;
    }
    /* Allocated outside the lock for the members seen now; retried in the
     * rare case the membership grew meanwhile. */
    size_t cap;
    pthread_mutex_lock(&n->pub_mu);
    cap = n->pub_n;
    pthread_mutex_unlock(&n->pub_mu);
    for (;;) {
        struct craft_status *st =
            craft_malloc(&n->alloc, sizeof(*st) + cap * sizeof(st->m[0]));
        if (st == NULL) {
            return CRAFT_ENOMEM;
        }
        memset(st, 0, sizeof(*st));
        pthread_mutex_lock(&n->pub_mu);
        if (n->pub_n > cap) { /* it grew meanwhile: again, larger */
            cap = n->pub_n;
            pthread_mutex_unlock(&n->pub_mu);
            craft_free(&n->alloc, st);
            continue;
        }
        st->n = n->pub_n;
        for (size_t k = 0; k < st->n; k++) {
            struct member *m = &st->m[k];
            const struct nd_member *p = &n->pub[k];
            memset(m, 0, sizeof(*m));
            m->id = p->id;
            m->role = p->role;
            m->addr_len = p->addr_len;
            memcpy(m->addr, p->addr, p->addr_len);
        }
        if (version != NULL) {
            *version = atomic_load(&n->pub_version);
        }
        pthread_mutex_unlock(&n->pub_mu);
        st->alloc = n->alloc;
        st->id = n->id;
        st->role = atomic_load(&n->q_role);
        st->term = atomic_load(&n->q_term);
        st->leader = atomic_load(&n->q_leader);
        st->applied = atomic_load(&n->q_applied);
        *out = st;
        return CRAFT_OK;
    }
}

/* ---- results --------------------------------------------------------- */

int craft_result_status(const craft_result *r)
{
    return r != NULL ? r->status : CRAFT_EINVAL;
}

uint64_t craft_result_index(const craft_result *r)
{
    return r != NULL ? r->index : 0;
}

uint64_t craft_result_term(const craft_result *r)
{
    return r != NULL ? r->term : 0;
}

uint64_t craft_result_leader(const craft_result *r)
{
    return r != NULL ? r->leader : 0;
}

int craft_result_data(const craft_result *r, const void **data, size_t *len)
{
    if (r == NULL || data == NULL || len == NULL) {
        return CRAFT_EINVAL;
    }
    *data = r->data;
    *len = r->len;
    return CRAFT_OK;
}

void craft_result_free(craft_result *r)
{
    if (r != NULL) {
        struct craft_alloc al = r->alloc;
        craft_free(&al, r);
    }
}
