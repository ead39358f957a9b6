/*
 * node/memstore.c: craft_mem_storage, the in-memory storage test helper
 * (craft/testing.h). Written only against craft_storage_ops, as a user's
 * storage would be.
 *
 * Entries live in a deque (dropping a prefix after a snapshot is cheap);
 * their payloads in reference-counted 1 MiB blocks, so appending does not
 * allocate per entry.
 *
 * Crash simulation (craft_mem_storage_crash): the log as of the last sync
 * is the current entries up to clean_last, followed by the synced
 * entries a truncation removed since (saved, which keeps their block
 * references); the hard state as of the last sync is d_term/d_vote.
 */
#include <pthread.h>
#include <string.h>

#include "craft/testing.h"
#include "util/alloc.h"

#define BLOCK_BYTES (1024u * 1024u)

struct mblock {
    size_t refs;
    size_t used;
    size_t cap;
    unsigned char data[];
};

struct ment {
    uint64_t term;
    uint32_t type;
    uint32_t len;
    const unsigned char *data;
    struct mblock *blk;
};

struct craft_mem_storage {
    struct craft_alloc alloc;
    pthread_mutex_t mu;
    int fail;
    uint64_t syncs;
    uint64_t term;
    uint64_t vote;
    /* log: e[start .. start+n) hold indexes first .. first+n-1 */
    struct ment *e;
    size_t start;
    size_t n;
    size_t cap;
    uint64_t first;
    struct mblock *cur;
    /* the state as of the last sync, for craft_mem_storage_crash */
    uint64_t d_term;
    uint64_t d_vote;
    uint64_t clean_last;  /* entries <= this are as they were synced */
    struct ment *saved;   /* synced entries clean_last + 1 .. since cut */
    size_t nsaved;
    /* the current snapshot */
    uint64_t snap_index;
    uint64_t snap_term;
    unsigned char *snap;
    size_t snap_len;
    unsigned char *snap_conf;
    size_t snap_conf_len;
    /* a snapshot being received */
    int in_active;
    uint64_t in_index;
    uint64_t in_term;
    unsigned char *in;
    size_t in_len;
    size_t in_cap;
};

static void block_put(craft_mem_storage *ms, struct mblock *b)
{
    if (b != NULL && --b->refs == 0 && b != ms->cur) {
        craft_free(&ms->alloc, b);
    }
}

/* Drops entries >= index. Entries that were synced are kept aside
 * (saved) so that a crash can bring them back. */
static int drop_tail(craft_mem_storage *ms, uint64_t index)
{
    uint64_t last = ms->first + ms->n - 1;
    if (ms->n == 0 || index > last) {
        return CRAFT_OK;
    }
    if (index < ms->first) {
        index = ms->first;
    }
    if (index <= ms->clean_last) {
        uint64_t top = ms->clean_last < last ? ms->clean_last : last;
        size_t k = (size_t)(top - index + 1);
        struct ment *sv = craft_malloc(&ms->alloc,
                                       (k + ms->nsaved) * sizeof(*sv));
        if (sv == NULL) {
            return CRAFT_ENOMEM;
        }
        memcpy(sv, &ms->e[ms->start + (index - ms->first)], k * sizeof(*sv));
        if (ms->nsaved > 0) {
            memcpy(sv + k, ms->saved, ms->nsaved * sizeof(*sv));
        }
        craft_free(&ms->alloc, ms->saved);
        ms->saved = sv;
        ms->nsaved += k;
        /* entries past top were never synced; the references of
         * index .. top now belong to saved */
        for (uint64_t i = last; i > top; i--) {
            block_put(ms, ms->e[ms->start + (i - ms->first)].blk);
        }
        ms->n = (size_t)(index - ms->first);
        ms->clean_last = index - 1;
        return CRAFT_OK;
    }
    while (ms->n > 0 && ms->first + ms->n - 1 >= index) {
        block_put(ms, ms->e[ms->start + ms->n - 1].blk);
        ms->n--;
    }
    return CRAFT_OK;
}

static void drop_saved(craft_mem_storage *ms)
{
    for (size_t k = 0; k < ms->nsaved; k++) {
        block_put(ms, ms->saved[k].blk);
    }
    craft_free(&ms->alloc, ms->saved);
    ms->saved = NULL;
    ms->nsaved = 0;
}

/* The current state is the synced one. */
static void mark_synced(craft_mem_storage *ms)
{
    drop_saved(ms);
    ms->clean_last = ms->first + ms->n - 1;
    ms->d_term = ms->term;
    ms->d_vote = ms->vote;
}

/* Drops entries <= index; the log then starts at index + 1 at the
 * earliest. */
static void drop_head(craft_mem_storage *ms, uint64_t index)
{
    while (ms->n > 0 && ms->first <= index) {
        block_put(ms, ms->e[ms->start].blk);
        ms->start++;
        ms->n--;
        ms->first++;
    }
    if (ms->n == 0) {
        ms->start = 0;
        if (ms->first <= index) {
            ms->first = index + 1;
        }
    }
}

static int room(craft_mem_storage *ms)
{
    if (ms->start + ms->n < ms->cap) {
        return CRAFT_OK;
    }
    if (ms->start > 0) {
        memmove(ms->e, ms->e + ms->start, ms->n * sizeof(*ms->e));
        ms->start = 0;
        if (ms->n < ms->cap) {
            return CRAFT_OK;
        }
    }
    void *arr = ms->e;
    int rv = craft_grow(&ms->alloc, &arr, &ms->cap, ms->n + 1, sizeof(*ms->e));
    ms->e = arr;
    return rv;
}

static unsigned char *payload(craft_mem_storage *ms, size_t len,
                              struct mblock **blk)
{
    struct mblock *b = ms->cur;
    if (b == NULL || b->cap - b->used < len) {
        size_t cap = len > BLOCK_BYTES ? len : BLOCK_BYTES;
        struct mblock *nb = craft_malloc(&ms->alloc, sizeof(*nb) + cap);
        if (nb == NULL) {
            return NULL;
        }
        nb->refs = 0;
        nb->used = 0;
        nb->cap = cap;
        if (b != NULL && b->refs == 0) {
            craft_free(&ms->alloc, b);
        }
        ms->cur = b = nb;
    }
    unsigned char *p = b->data + b->used;
    b->used += len;
    b->refs++;
    *blk = b;
    return p;
}

/* ---- the storage methods -------------------------------------------- */

static int ms_load(void *user, craft_loader *ld)
{
    craft_mem_storage *ms = user;
    int rv = CRAFT_OK;
    pthread_mutex_lock(&ms->mu);
    if (ms->term != 0 || ms->vote != 0) {
        rv = craft_loader_hard_state(ld, ms->term, ms->vote);
    }
    if (rv == CRAFT_OK && ms->snap_index != 0) {
        rv = craft_loader_snapshot(ld, ms->snap_index, ms->snap_term,
                                   ms->snap_conf, ms->snap_conf_len);
    }
    for (size_t k = 0; rv == CRAFT_OK && k < ms->n; k++) {
        const struct ment *e = &ms->e[ms->start + k];
        rv = craft_loader_entry(ld, ms->first + k, e->term, e->type, e->data,
                                e->len);
    }
    pthread_mutex_unlock(&ms->mu);
    return rv;
}

static int ms_save_hard_state(void *user, uint64_t term, uint64_t vote)
{
    craft_mem_storage *ms = user;
    pthread_mutex_lock(&ms->mu);
    int rv = ms->fail;
    if (rv == CRAFT_OK) {
        ms->term = term;
        ms->vote = vote;
    }
    pthread_mutex_unlock(&ms->mu);
    return rv;
}

static int ms_append(void *user, uint64_t index, uint64_t term, uint32_t type,
                     const void *data, size_t len)
{
    craft_mem_storage *ms = user;
    pthread_mutex_lock(&ms->mu);
    int rv = ms->fail;
    if (rv != CRAFT_OK) {
        goto out;
    }
    if (ms->n == 0 && index > ms->snap_index) {
        ms->first = index;
    }
    if (index < ms->first || index > ms->first + ms->n) {
        rv = CRAFT_EINVAL; /* a gap, or before the snapshot */
        goto out;
    }
    rv = drop_tail(ms, index);
    if (rv != CRAFT_OK) {
        goto out;
    }
    rv = room(ms);
    if (rv != CRAFT_OK) {
        goto out;
    }
    struct ment *e = &ms->e[ms->start + ms->n];
    e->term = term;
    e->type = type;
    e->len = (uint32_t)len;
    e->blk = NULL;
    e->data = NULL;
    if (len > 0) {
        unsigned char *p = payload(ms, len, &e->blk);
        if (p == NULL) {
            rv = CRAFT_ENOMEM;
            goto out;
        }
        memcpy(p, data, len);
        e->data = p;
    }
    ms->n++;
out:
    pthread_mutex_unlock(&ms->mu);
    return rv;
}

static int ms_truncate(void *user, uint64_t index)
{
    craft_mem_storage *ms = user;
    pthread_mutex_lock(&ms->mu);
    int rv = ms->fail;
    if (rv == CRAFT_OK) {
        rv = drop_tail(ms, index);
    }
    pthread_mutex_unlock(&ms->mu);
    return rv;
}

static int ms_sync(void *user)
{
    craft_mem_storage *ms = user;
    pthread_mutex_lock(&ms->mu);
    int rv = ms->fail;
    if (rv == CRAFT_OK) {
        ms->syncs++;
        mark_synced(ms);
    }
    pthread_mutex_unlock(&ms->mu);
    return rv;
}

static int grow_bytes(craft_mem_storage *ms, unsigned char **buf, size_t *cap,
                      size_t need)
{
    void *p = *buf;
    int rv = craft_grow(&ms->alloc, &p, cap, need, 1);
    *buf = p;
    return rv;
}

/* Makes the received (or given) bytes the current snapshot. */
static int make_current(craft_mem_storage *ms, uint64_t index, uint64_t term,
                        unsigned char *bytes, size_t len, const void *conf,
                        size_t conf_len)
{
    unsigned char *c = craft_malloc(&ms->alloc, conf_len ? conf_len : 1);
    if (c == NULL) {
        return CRAFT_ENOMEM;
    }
    if (conf_len > 0) {
        memcpy(c, conf, conf_len);
    }
    craft_free(&ms->alloc, ms->snap);
    craft_free(&ms->alloc, ms->snap_conf);
    ms->snap = bytes;
    ms->snap_len = len;
    ms->snap_conf = c;
    ms->snap_conf_len = conf_len;
    ms->snap_index = index;
    ms->snap_term = term;
    drop_head(ms, index);
    /* a completed snapshot counts as synced (the node syncs right after
     * it anyway): so does everything before it */
    mark_synced(ms);
    return CRAFT_OK;
}

static int ms_snapshot_write(void *user, uint64_t index, uint64_t term,
                             uint64_t offset, const void *data, size_t len,
                             const void *conf, size_t conf_len,
                             uint32_t flags)
{
    craft_mem_storage *ms = user;
    int last = (flags & CRAFT_SNAPSHOT_F_LAST) != 0;
    pthread_mutex_lock(&ms->mu);
    int rv = ms->fail;
    if (rv != CRAFT_OK) {
        goto out;
    }
    if (len > 0 && data == NULL) {
        rv = CRAFT_EINVAL;
        goto out;
    }
    if (offset == 0 && last) {
        /* A whole snapshot in one write (a local one): it does not
         * disturb one being received. */
        if (index <= ms->snap_index) {
            goto out; /* a newer one is current */
        }
        unsigned char *b = craft_malloc(&ms->alloc, len ? len : 1);
        if (b == NULL) {
            rv = CRAFT_ENOMEM;
            goto out;
        }
        if (len > 0) {
            memcpy(b, data, len);
        }
        rv = make_current(ms, index, term, b, len, conf, conf_len);
        if (rv != CRAFT_OK) {
            craft_free(&ms->alloc, b);
        }
        goto out;
    }
    if (offset == 0) {
        ms->in_active = 1;
        ms->in_index = index;
        ms->in_term = term;
        ms->in_len = 0;
    } else if (!ms->in_active || ms->in_index != index ||
               offset != ms->in_len) {
        rv = CRAFT_EINVAL;
        goto out;
    }
    rv = grow_bytes(ms, &ms->in, &ms->in_cap, ms->in_len + len);
    if (rv != CRAFT_OK) {
        goto out;
    }
    if (len > 0) {
        memcpy(ms->in + ms->in_len, data, len);
    }
    ms->in_len += len;
    if (last) {
        ms->in_active = 0;
        if (index > ms->snap_index) {
            rv = make_current(ms, index, term, ms->in, ms->in_len, conf,
                              conf_len);
            if (rv == CRAFT_OK) {
                ms->in = NULL;
                ms->in_len = ms->in_cap = 0;
            }
        }
    }
out:
    pthread_mutex_unlock(&ms->mu);
    return rv;
}

static int ms_snapshot_read(void *user, uint64_t index, uint64_t offset,
                            void *buf, size_t count, size_t *n, int *last)
{
    craft_mem_storage *ms = user;
    int rv = CRAFT_OK;
    pthread_mutex_lock(&ms->mu);
    if (index == 0 || index != ms->snap_index) {
        rv = CRAFT_ENOENT;
    } else if (offset > ms->snap_len) {
        rv = CRAFT_EINVAL;
    } else {
        size_t left = ms->snap_len - (size_t)offset;
        size_t k = left < count ? left : count;
        if (k > 0) {
            memcpy(buf, ms->snap + offset, k);
        }
        *n = k;
        *last = k == left;
    }
    pthread_mutex_unlock(&ms->mu);
    return rv;
}

/* ---- public ------------------------------------------------------------ */

int craft_mem_storage_create(const craft_allocator *allocator,
                             craft_mem_storage **out)
{
    struct craft_alloc al;
    void *p;
    if (out == NULL) {
        return CRAFT_EINVAL;
    }
    int rv = craft_handle_alloc(allocator, sizeof(craft_mem_storage), &al, &p);
    if (rv != CRAFT_OK) {
        return rv;
    }
    craft_mem_storage *ms = p;
    ms->alloc = al;
    ms->first = 1;
    if (pthread_mutex_init(&ms->mu, NULL) != 0) {
        craft_free(&al, ms);
        return CRAFT_ENOMEM;
    }
    *out = ms;
    return CRAFT_OK;
}

void craft_mem_storage_free(craft_mem_storage *ms)
{
    if (ms == NULL) {
        return;
    }
    ms->clean_last = 0;
    drop_tail(ms, 0);
    drop_saved(ms);
    craft_free(&ms->alloc, ms->cur);
    craft_free(&ms->alloc, ms->e);
    craft_free(&ms->alloc, ms->snap);
    craft_free(&ms->alloc, ms->snap_conf);
    craft_free(&ms->alloc, ms->in);
    pthread_mutex_destroy(&ms->mu);
    struct craft_alloc al = ms->alloc;
    craft_free(&al, ms);
}

int craft_mem_storage_ops(craft_mem_storage *ms, craft_storage_ops *ops)
{
    craft_storage_ops full;
    if (ms == NULL || ops == NULL) {
        return CRAFT_EINVAL;
    }
    if (ops->struct_size == 0 || ops->struct_size > sizeof(full)) {
        return CRAFT_ESTRUCT;
    }
    craft_storage_ops_init(&full);
    full.user = ms;
    full.load = ms_load;
    full.save_hard_state = ms_save_hard_state;
    full.append = ms_append;
    full.truncate = ms_truncate;
    full.sync = ms_sync;
    full.snapshot_write = ms_snapshot_write;
    full.snapshot_read = ms_snapshot_read;
    uint32_t size = ops->struct_size;
    memcpy(ops, &full, size);
    ops->struct_size = size;
    return CRAFT_OK;
}

int craft_mem_storage_fail(craft_mem_storage *ms, int code)
{
    if (ms == NULL || code > 0) {
        return CRAFT_EINVAL;
    }
    pthread_mutex_lock(&ms->mu);
    ms->fail = code;
    pthread_mutex_unlock(&ms->mu);
    return CRAFT_OK;
}

int craft_mem_storage_crash(craft_mem_storage *ms)
{
    if (ms == NULL) {
        return CRAFT_EINVAL;
    }
    pthread_mutex_lock(&ms->mu);
    /* entries written since the sync go */
    while (ms->n > 0 && ms->first + ms->n - 1 > ms->clean_last) {
        block_put(ms, ms->e[ms->start + ms->n - 1].blk);
        ms->n--;
    }
    /* synced entries cut since come back (those a snapshot covers not) */
    int rv = CRAFT_OK;
    for (size_t k = 0; k < ms->nsaved; k++) {
        struct ment *e = &ms->saved[k];
        uint64_t index = ms->clean_last + 1 + k;
        if (index <= ms->snap_index) {
            block_put(ms, e->blk);
            continue;
        }
        if (ms->n == 0) {
            ms->first = index;
        }
        if (rv == CRAFT_OK) {
            rv = room(ms);
        }
        if (rv != CRAFT_OK) {
            block_put(ms, e->blk); /* no memory: lost, like a bad disk */
            continue;
        }
        ms->e[ms->start + ms->n++] = *e;
    }
    craft_free(&ms->alloc, ms->saved);
    ms->saved = NULL;
    ms->nsaved = 0;
    ms->clean_last = ms->first + ms->n - 1;
    ms->term = ms->d_term;
    ms->vote = ms->d_vote;
    ms->in_active = 0;
    ms->fail = CRAFT_EIO;
    pthread_mutex_unlock(&ms->mu);
    return rv;
}

#define MS_READ(name, expr)                                                   \
    uint64_t craft_mem_storage_##name(craft_mem_storage *ms)                  \
    {                                                                         \
        if (ms == NULL) {                                                     \
            return 0;                                                         \
        }                                                                     \
        pthread_mutex_lock(&ms->mu);                                          \
        uint64_t v = (expr);                                                  \
        pthread_mutex_unlock(&ms->mu);                                        \
        return v;                                                             \
    }

MS_READ(last_index, ms->n > 0 ? ms->first + ms->n - 1 : ms->snap_index)
MS_READ(snapshot_index, ms->snap_index)
MS_READ(term, ms->term)
MS_READ(vote, ms->vote)
MS_READ(syncs, ms->syncs)
