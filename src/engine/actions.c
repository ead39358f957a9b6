/*
 * engine/actions.c: the action list and its public accessors.
 */
#include "engine/actions.h"

#include <stddef.h>
#include <string.h>

int craft_actions_create(const craft_allocator *allocator, craft_actions **out)
{
    struct craft_alloc al;
    void *p;
    if (out == NULL) {
        return CRAFT_EINVAL;
    }
    int rv = craft_handle_alloc(allocator, sizeof(struct craft_actions), &al, &p);
    if (rv != CRAFT_OK) {
        return rv;
    }
    struct craft_actions *a = p;
    a->alloc = al;
    *out = a;
    return CRAFT_OK;
}

void craft_actions_free(craft_actions *a)
{
    if (a == NULL) {
        return;
    }
    struct craft_alloc al = a->alloc;
    craft_free(&al, a->v);
    craft_free(&al, a->enc);
    craft_free(&al, a);
}

int craft_actions_reserve(struct craft_actions *a, size_t n)
{
    void *v = a->v;
    int rv = craft_grow(&a->alloc, &v, &a->cap, n, sizeof(*a->v));
    a->v = v;
    return rv;
}

void craft_actions_clear(struct craft_actions *a)
{
    a->n = 0;
    a->nsend = 0;
    a->encoded = 0;
}

struct craft_action *craft_actions_push(struct craft_actions *a, uint32_t type)
{
    /* Room is reserved before the step changes anything (step.c), so a
     * push cannot fail. */
    CRAFT_ASSERT(a->n < a->cap);
    struct craft_action *x = &a->v[a->n++];
    /* The profile showed zeroing the whole action (with its message) per
     * push dominating small steps: clear what the type uses only. */
    memset(x, 0, offsetof(struct craft_action, offset));
    if (type == CRAFT_ACTION_SEND) {
        a->nsend++;
        craft_msg_clear(&x->msg);
    } else if (type == CRAFT_ACTION_SNAPSHOT_READ ||
               type == CRAFT_ACTION_SNAPSHOT_WRITE) {
        memset(&x->offset, 0,
               offsetof(struct craft_action, entries) -
                   offsetof(struct craft_action, offset));
    }
    x->type = type;
    return x;
}

/* ---- public accessors ---------------------------------------------- */

static const struct craft_action *at(const craft_actions *a, size_t i)
{
    return (a != NULL && i < a->n) ? &a->v[i] : NULL;
}

size_t craft_actions_count(const craft_actions *a)
{
    return a != NULL ? a->n : 0;
}

int craft_action_type(const craft_actions *a, size_t i)
{
    const struct craft_action *x = at(a, i);
    return x != NULL ? (int)x->type : CRAFT_EINVAL;
}

#define CRAFT_ACTION_FIELD(name, rtype, expr)                                 \
    rtype craft_action_##name(const craft_actions *a, size_t i)               \
    {                                                                         \
        const struct craft_action *x = at(a, i);                              \
        return x != NULL ? (rtype)(expr) : (rtype)0;                          \
    }

CRAFT_ACTION_FIELD(term, uint64_t, x->term)
/* A SEND keeps its entry range in index/count for resolution only. */
CRAFT_ACTION_FIELD(index, uint64_t,
                   x->type == CRAFT_ACTION_SEND ? 0 : x->index)
CRAFT_ACTION_FIELD(vote, uint64_t, x->vote)
CRAFT_ACTION_FIELD(peer, uint64_t,
                   x->type == CRAFT_ACTION_SEND ? x->msg.to : x->peer)
static int is_snapshot_io(const struct craft_action *x)
{
    return x->type == CRAFT_ACTION_SNAPSHOT_READ ||
           x->type == CRAFT_ACTION_SNAPSHOT_WRITE;
}

CRAFT_ACTION_FIELD(offset, uint64_t, is_snapshot_io(x) ? x->offset : 0)
CRAFT_ACTION_FIELD(flags, uint32_t, is_snapshot_io(x) ? x->flags : 0)
CRAFT_ACTION_FIELD(leader, uint64_t, x->leader)
CRAFT_ACTION_FIELD(id, uint64_t, x->id)
CRAFT_ACTION_FIELD(role, int, x->role)
CRAFT_ACTION_FIELD(status, int, x->status)
CRAFT_ACTION_FIELD(count, size_t,
                   x->type == CRAFT_ACTION_SEND ? 0 : x->count)

int craft_action_entry(const craft_actions *a, size_t i, size_t k,
                       uint64_t *term, uint32_t *type, const void **data,
                       size_t *len)
{
    const struct craft_action *x = at(a, i);
    if (x == NULL ||
        (x->type != CRAFT_ACTION_APPEND && x->type != CRAFT_ACTION_APPLY) ||
        k >= x->count) {
        return CRAFT_EINVAL;
    }
    const struct craft_entry *e = &x->entries[k];
    if (term != NULL) {
        *term = e->term;
    }
    if (type != NULL) {
        *type = e->type;
    }
    if (data != NULL) {
        *data = e->data;
    }
    if (len != NULL) {
        *len = e->len;
    }
    return CRAFT_OK;
}

static int bytes_of(const struct craft_action *x, const uint8_t *p, size_t n,
                    const void **data, size_t *len)
{
    if (x == NULL || x->type != CRAFT_ACTION_SNAPSHOT_WRITE || data == NULL ||
        len == NULL) {
        return CRAFT_EINVAL;
    }
    *data = p;
    *len = n;
    return CRAFT_OK;
}

int craft_action_data(const craft_actions *a, size_t i, const void **data,
                      size_t *len)
{
    const struct craft_action *x = at(a, i);
    return bytes_of(x, x ? x->data : NULL, x ? x->len : 0, data, len);
}

int craft_action_conf(const craft_actions *a, size_t i, const void **data,
                      size_t *len)
{
    const struct craft_action *x = at(a, i);
    return bytes_of(x, x ? x->conf : NULL, x ? x->conf_len : 0, data, len);
}

/* Encodes every SEND of the list at once into one buffer, so pointers
 * handed out earlier stay valid when later ones are asked for. */
static int encode_all(struct craft_actions *a)
{
    /* Both passes stop at the last SEND: the storage and apply actions
     * that often end a list need no look. */
    size_t total = 0, seen = 0, end = 0;
    for (size_t i = 0; seen < a->nsend; i++) {
        if (a->v[i].type == CRAFT_ACTION_SEND) {
            size_t n = craft_msg_encoded_size(&a->v[i].msg);
            if (n == 0) {
                return CRAFT_EINVAL; /* the engine built an invalid message */
            }
            a->v[i].enc_len = n;
            total += n;
            seen++;
            end = i + 1;
        }
    }
    if (total > a->enc_cap) {
        uint8_t *p = craft_realloc(&a->alloc, a->enc, total);
        if (p == NULL) {
            return CRAFT_ENOMEM;
        }
        a->enc = p;
        a->enc_cap = total;
    }
    size_t off = 0;
    for (size_t i = 0; i < end; i++) {
        struct craft_action *x = &a->v[i];
        if (x->type == CRAFT_ACTION_SEND) {
            x->enc_off = off;
            x->enc_len = craft_msg_encode_sized(&x->msg, a->enc + off,
                                                x->enc_len);
            off += x->enc_len;
        }
    }
    a->encoded = 1;
    return CRAFT_OK;
}

int craft_action_message(craft_actions *a, size_t i, const void **data,
                         size_t *len)
{
    const struct craft_action *x = at(a, i);
    if (x == NULL || x->type != CRAFT_ACTION_SEND || data == NULL ||
        len == NULL) {
        return CRAFT_EINVAL;
    }
    if (!a->encoded) {
        int rv = encode_all(a);
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    *data = a->enc + x->enc_off;
    *len = x->enc_len;
    return CRAFT_OK;
}
