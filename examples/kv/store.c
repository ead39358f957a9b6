/*
 * examples/kv/store.c: craft-kv's state machine (see store.h).
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kv_ent {
    struct kv_ent *next;
    uint64_t hash;
    uint64_t expire; /* unix ms, 0: none */
    uint32_t klen;
    uint32_t vlen;
    char data[]; /* key, then value */
};

/* The largest key or value a log entry or snapshot may carry. */
#define KV_MAX_ITEM CRAFT_MAX_ENTRY_BYTES
#define SNAP_MAGIC "CRKV"
#define SNAP_VERSION 1u
enum { REC_END = 0, REC_KV = 1, REC_ADDR = 2, REC_CLOCK = 3 };

uint64_t kv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* FNV-1a, seeded per process so that keys chosen to collide in one
 * process do not in another. */
static uint64_t hash_key(const kv_store *s, const void *k, size_t n)
{
    const unsigned char *p = k;
    uint64_t h = 0xcbf29ce484222325ull ^ s->seed;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

int kv_store_init(kv_store *s)
{
    memset(s, 0, sizeof(*s));
    s->nbuckets = 1024;
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    if (s->buckets == NULL) {
        return -1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
              ((uint64_t)(uintptr_t)s >> 4);
    pthread_mutex_init(&s->addr_mu, NULL);
    return 0;
}

static void clear_table(kv_store *s)
{
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct kv_ent *e = s->buckets[i];
        while (e) {
            struct kv_ent *n = e->next;
            free(e);
            e = n;
        }
        s->buckets[i] = NULL;
    }
    s->count = 0;
    s->timed = 0;
    atomic_store(&s->keys, 0);
}

void kv_store_destroy(kv_store *s)
{
    if (s->buckets) {
        clear_table(s);
        free(s->buckets);
        s->buckets = NULL;
    }
    kvbuf_free(&s->reply);
    pthread_mutex_destroy(&s->addr_mu);
}

static struct kv_ent **find(kv_store *s, const void *k, size_t n,
                            uint64_t h)
{
    struct kv_ent **pp = &s->buckets[h & (s->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        struct kv_ent *e = *pp;
        if (e->hash == h && e->klen == n && memcmp(e->data, k, n) == 0) {
            return pp;
        }
    }
    return pp;
}

static void grow(kv_store *s)
{
    size_t nb = s->nbuckets * 2;
    struct kv_ent **b = calloc(nb, sizeof(*b));
    if (b == NULL) {
        return; /* longer chains, still correct */
    }
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct kv_ent *e = s->buckets[i];
        while (e) {
            struct kv_ent *n = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = n;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static void unlink_ent(kv_store *s, struct kv_ent **pp)
{
    struct kv_ent *e = *pp;
    *pp = e->next;
    s->timed -= e->expire != 0;
    free(e);
    s->count--;
    atomic_store(&s->keys, s->count);
}

/* The live entry of key k as of time now (an expired one is removed
 * when remove_expired, else ignored). */
static struct kv_ent **lookup(kv_store *s, const void *k, size_t n,
                              uint64_t now, int remove_expired)
{
    uint64_t h = hash_key(s, k, n);
    struct kv_ent **pp = find(s, k, n, h);
    if (*pp && (*pp)->expire != 0 && (*pp)->expire <= now) {
        if (remove_expired) {
            unlink_ent(s, pp);
            pp = find(s, k, n, h);
        }
        return NULL;
    }
    return *pp ? pp : NULL;
}

/* Sets key to value, replacing any entry. -1 when out of memory. */
static int put(kv_store *s, const void *k, size_t kn, const void *v,
               size_t vn, uint64_t expire)
{
    uint64_t h = hash_key(s, k, kn);
    struct kv_ent **pp = find(s, k, kn, h);
    struct kv_ent *e = malloc(sizeof(*e) + kn + vn);
    if (e == NULL) {
        return -1;
    }
    e->hash = h;
    e->expire = expire;
    e->klen = (uint32_t)kn;
    e->vlen = (uint32_t)vn;
    memcpy(e->data, k, kn);
    if (vn) {
        memcpy(e->data + kn, v, vn);
    }
    s->timed += expire != 0;
    if (*pp) {
        s->timed -= (*pp)->expire != 0;
        e->next = (*pp)->next;
        free(*pp);
        *pp = e;
        return 0;
    }
    e->next = NULL;
    *pp = e;
    s->count++;
    atomic_store(&s->keys, s->count);
    if (s->count > s->nbuckets) {
        grow(s);
    }
    return 0;
}

void kv_entry_encode(kvbuf *b, int op, unsigned flags, uint64_t now_ms,
                     uint64_t aux, const resp_arg *args, size_t nargs)
{
    unsigned char h[KV_ENTRY_HEADER] = {0};
    h[0] = (unsigned char)op;
    h[1] = (unsigned char)flags;
    put_u32(h + 4, (uint32_t)nargs);
    put_u64(h + 8, now_ms);
    put_u64(h + 16, aux);
    kvbuf_put(b, h, sizeof(h));
    for (size_t i = 0; i < nargs; i++) {
        unsigned char l[4];
        put_u32(l, (uint32_t)args[i].len);
        kvbuf_put(b, l, 4);
        kvbuf_put(b, args[i].p, args[i].len);
    }
}

/* Decodes the arguments of an entry into argv (at most cap); -1 when the
 * bytes are malformed. */
static int decode_args(const unsigned char *p, size_t len, uint32_t argc,
                       resp_arg *argv)
{
    size_t pos = KV_ENTRY_HEADER;
    for (uint32_t i = 0; i < argc; i++) {
        if (len - pos < 4) {
            return -1;
        }
        uint32_t n = get_u32(p + pos);
        pos += 4;
        if (n > KV_MAX_ITEM || len - pos < n) {
            return -1;
        }
        argv[i].p = (const char *)p + pos;
        argv[i].len = n;
        pos += n;
    }
    return pos == len ? 0 : -1;
}

static void set_addr(kv_store *s, uint64_t id, const char *a, size_t n)
{
    if (n > KV_MAX_ADDR || id == 0) {
        return;
    }
    pthread_mutex_lock(&s->addr_mu);
    size_t k;
    for (k = 0; k < s->naddr && s->addr_id[k] != id; k++) {
    }
    if (k == s->naddr) {
        if (s->naddr == KV_MAX_SERVERS) {
            k = 0; /* forget the oldest */
            memmove(&s->addr_id[0], &s->addr_id[1],
                    (KV_MAX_SERVERS - 1) * sizeof(s->addr_id[0]));
            memmove(&s->addr[0], &s->addr[1],
                    (KV_MAX_SERVERS - 1) * sizeof(s->addr[0]));
            k = KV_MAX_SERVERS - 1;
        } else {
            s->naddr++;
        }
    }
    s->addr_id[k] = id;
    memcpy(s->addr[k], a, n);
    s->addr[k][n] = '\0';
    pthread_mutex_unlock(&s->addr_mu);
}

int kv_store_addr(kv_store *s, uint64_t id, char *buf, size_t cap)
{
    int rv = -1;
    pthread_mutex_lock(&s->addr_mu);
    for (size_t k = 0; k < s->naddr; k++) {
        if (s->addr_id[k] == id && s->addr[k][0] != '\0') {
            size_t n = strlen(s->addr[k]);
            if (n < cap) {
                memcpy(buf, s->addr[k], n + 1);
                rv = 0;
            }
            break;
        }
    }
    pthread_mutex_unlock(&s->addr_mu);
    return rv;
}

static void apply_incr(kv_store *s, const resp_arg *key, int64_t delta,
                       uint64_t now)
{
    kvbuf *r = &s->reply;
    struct kv_ent **pp = lookup(s, key->p, key->len, now, 1);
    int64_t v = 0;
    uint64_t expire = 0;
    if (pp) {
        if (resp_parse_i64((*pp)->data + (*pp)->klen, (*pp)->vlen, &v)) {
            resp_error(r, "ERR value is not an integer or out of range");
            return;
        }
        expire = (*pp)->expire;
    }
    if ((delta > 0 && v > INT64_MAX - delta) ||
        (delta < 0 && v < INT64_MIN - delta)) {
        resp_error(r, "ERR increment or decrement would overflow");
        return;
    }
    v += delta;
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", (long long)v);
    if (put(s, key->p, key->len, num, (size_t)n, expire)) {
        resp_error(r, "ERR out of memory");
        return;
    }
    resp_int(r, v);
}

static void apply_set(kv_store *s, unsigned flags, uint64_t expire,
                      const resp_arg *a, uint64_t now)
{
    kvbuf *r = &s->reply;
    struct kv_ent **pp = lookup(s, a[0].p, a[0].len, now, 1);
    if (flags & KV_SET_GET) {
        if (pp) {
            resp_bulk(r, (*pp)->data + (*pp)->klen, (*pp)->vlen);
        } else {
            resp_null(r);
        }
    }
    if (((flags & KV_SET_NX) && pp) || ((flags & KV_SET_XX) && !pp)) {
        if (!(flags & KV_SET_GET)) {
            resp_null(r);
        }
        return;
    }
    if (put(s, a[0].p, a[0].len, a[1].p, a[1].len, expire)) {
        r->len = 0;
        resp_error(r, "ERR out of memory");
        return;
    }
    if (!(flags & KV_SET_GET)) {
        resp_simple(r, "OK");
    }
}

int kv_store_apply(void *user, uint64_t index, uint64_t term,
                   const void *data, size_t len, const void **result,
                   size_t *result_len)
{
    (void)index;
    (void)term;
    kv_store *s = user;
    const unsigned char *p = data;
    s->reply.len = 0;
    s->reply.oom = 0;
    if (len < KV_ENTRY_HEADER) {
        return CRAFT_EMALFORMED;
    }
    uint32_t argc = get_u32(p + 4);
    uint64_t t = get_u64(p + 8);
    uint64_t aux = get_u64(p + 16);
    /* Every argument takes at least its 4-byte length. */
    if (argc > (len - KV_ENTRY_HEADER) / 4 || argc > RESP_MAX_ARGS) {
        return CRAFT_EMALFORMED;
    }
    resp_arg stackv[8];
    resp_arg *argv = argc <= 8 ? stackv : malloc(argc * sizeof(*argv));
    if (argv == NULL) {
        return CRAFT_ENOMEM;
    }
    int rv = CRAFT_OK;
    if (decode_args(p, len, argc, argv)) {
        rv = CRAFT_EMALFORMED;
        goto out_free;
    }
    if (t > s->clock) {
        s->clock = t;
    }
    uint64_t now = s->clock;
    switch (p[0]) {
    case KV_OP_SET:
        if (argc != 2) {
            rv = CRAFT_EMALFORMED;
            break;
        }
        apply_set(s, p[1], aux, argv, now);
        break;
    case KV_OP_MSET:
        if (argc % 2 != 0) {
            rv = CRAFT_EMALFORMED;
            break;
        }
        for (uint32_t i = 0; i < argc; i += 2) {
            if (put(s, argv[i].p, argv[i].len, argv[i + 1].p,
                    argv[i + 1].len, 0)) {
                rv = CRAFT_ENOMEM;
                break;
            }
        }
        resp_simple(&s->reply, "OK");
        break;
    case KV_OP_DEL: {
        int64_t n = 0;
        for (uint32_t i = 0; i < argc; i++) {
            struct kv_ent **pp = lookup(s, argv[i].p, argv[i].len, now, 1);
            if (pp) {
                unlink_ent(s, pp);
                n++;
            }
        }
        resp_int(&s->reply, n);
        break;
    }
    case KV_OP_INCRBY:
        if (argc != 1) {
            rv = CRAFT_EMALFORMED;
            break;
        }
        apply_incr(s, &argv[0], (int64_t)aux, now);
        break;
    case KV_OP_ADDR:
        if (argc != 1) {
            rv = CRAFT_EMALFORMED;
            break;
        }
        set_addr(s, aux, argv[0].p, argv[0].len);
        resp_simple(&s->reply, "OK");
        break;
    case KV_OP_FLUSH:
        clear_table(s);
        resp_simple(&s->reply, "OK");
        break;
    default:
        rv = CRAFT_EMALFORMED;
        break;
    }
    atomic_fetch_add(&s->writes_applied, 1);
out_free:
    if (argv != stackv) {
        free(argv);
    }
    if (rv == CRAFT_OK && !s->reply.oom) {
        *result = s->reply.p;
        *result_len = s->reply.len;
    }
    return rv;
}

/* ---- snapshots ------------------------------------------------------- */

/* Records are gathered in a fixed buffer and handed to the writer in
 * 64 KiB pieces (large values go straight through). */
struct snapw {
    craft_snapshot_writer *w;
    unsigned char buf[64 * 1024];
    size_t len;
    int rv;
};

static void sw_put(struct snapw *sw, const void *p, size_t n)
{
    if (sw->rv != CRAFT_OK || n == 0) {
        return;
    }
    if (sw->len + n > sizeof(sw->buf)) {
        sw->rv = craft_snapshot_writer_write(sw->w, sw->buf, sw->len);
        sw->len = 0;
        if (sw->rv != CRAFT_OK) {
            return;
        }
        if (n > sizeof(sw->buf)) {
            sw->rv = craft_snapshot_writer_write(sw->w, p, n);
            return;
        }
    }
    memcpy(sw->buf + sw->len, p, n);
    sw->len += n;
}

int kv_store_snapshot(void *user, uint64_t index, uint64_t term,
                      craft_snapshot_writer *w)
{
    (void)index;
    (void)term;
    kv_store *s = user;
    struct snapw *sw = malloc(sizeof(*sw));
    if (sw == NULL) {
        return CRAFT_ENOMEM;
    }
    sw->w = w;
    sw->len = 0;
    sw->rv = CRAFT_OK;
    unsigned char h[17];
    memcpy(h, SNAP_MAGIC, 4);
    put_u32(h + 4, SNAP_VERSION);
    h[8] = REC_CLOCK;
    put_u64(h + 9, s->clock);
    sw_put(sw, h, sizeof(h));
    pthread_mutex_lock(&s->addr_mu);
    for (size_t k = 0; k < s->naddr; k++) {
        unsigned char r[13];
        size_t n = strlen(s->addr[k]);
        r[0] = REC_ADDR;
        put_u64(r + 1, s->addr_id[k]);
        put_u32(r + 9, (uint32_t)n);
        sw_put(sw, r, sizeof(r));
        sw_put(sw, s->addr[k], n);
    }
    pthread_mutex_unlock(&s->addr_mu);
    for (size_t i = 0; i < s->nbuckets && sw->rv == CRAFT_OK; i++) {
        for (struct kv_ent *e = s->buckets[i]; e; e = e->next) {
            unsigned char r[17];
            r[0] = REC_KV;
            put_u32(r + 1, e->klen);
            put_u32(r + 5, e->vlen);
            put_u64(r + 9, e->expire);
            sw_put(sw, r, sizeof(r));
            sw_put(sw, e->data, (size_t)e->klen + e->vlen);
        }
    }
    unsigned char end = REC_END;
    sw_put(sw, &end, 1);
    if (sw->rv == CRAFT_OK && sw->len) {
        sw->rv = craft_snapshot_writer_write(w, sw->buf, sw->len);
    }
    int rv = sw->rv;
    free(sw);
    if (rv == CRAFT_OK) {
        atomic_fetch_add(&s->snapshots, 1);
    }
    return rv;
}

/* Reads exactly n bytes; CRAFT_EMALFORMED at a premature end. */
static int rd(craft_snapshot_reader *r, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        size_t got = 0;
        int rv = craft_snapshot_reader_read(r, p, n, &got);
        if (rv != CRAFT_OK) {
            return rv;
        }
        if (got == 0) {
            return CRAFT_EMALFORMED;
        }
        p += got;
        n -= got;
    }
    return CRAFT_OK;
}

int kv_store_restore(void *user, uint64_t index, uint64_t term,
                     craft_snapshot_reader *r)
{
    (void)index;
    (void)term;
    kv_store *s = user;
    clear_table(s);
    pthread_mutex_lock(&s->addr_mu);
    s->naddr = 0;
    pthread_mutex_unlock(&s->addr_mu);
    s->clock = 0;
    unsigned char h[8];
    int rv = rd(r, h, 8);
    if (rv != CRAFT_OK) {
        return rv;
    }
    if (memcmp(h, SNAP_MAGIC, 4) != 0 || get_u32(h + 4) != SNAP_VERSION) {
        return CRAFT_EMALFORMED;
    }
    for (;;) {
        unsigned char t;
        if ((rv = rd(r, &t, 1)) != CRAFT_OK) {
            return rv;
        }
        if (t == REC_END) {
            break;
        }
        if (t == REC_CLOCK) {
            unsigned char b[8];
            if ((rv = rd(r, b, 8)) != CRAFT_OK) {
                return rv;
            }
            s->clock = get_u64(b);
        } else if (t == REC_ADDR) {
            unsigned char b[12];
            char a[KV_MAX_ADDR + 1];
            if ((rv = rd(r, b, 12)) != CRAFT_OK) {
                return rv;
            }
            uint32_t n = get_u32(b + 8);
            if (n > KV_MAX_ADDR) {
                return CRAFT_EMALFORMED;
            }
            if ((rv = rd(r, a, n)) != CRAFT_OK) {
                return rv;
            }
            set_addr(s, get_u64(b), a, n);
        } else if (t == REC_KV) {
            unsigned char b[16];
            if ((rv = rd(r, b, 16)) != CRAFT_OK) {
                return rv;
            }
            uint32_t kn = get_u32(b), vn = get_u32(b + 4);
            if (kn > KV_MAX_ITEM || vn > KV_MAX_ITEM) {
                return CRAFT_EMALFORMED;
            }
            struct kv_ent *e = malloc(sizeof(*e) + kn + vn);
            if (e == NULL) {
                return CRAFT_ENOMEM;
            }
            if ((rv = rd(r, e->data, (size_t)kn + vn)) != CRAFT_OK) {
                free(e);
                return rv;
            }
            e->klen = kn;
            e->vlen = vn;
            e->expire = get_u64(b + 8);
            e->hash = hash_key(s, e->data, kn);
            struct kv_ent **pp = find(s, e->data, kn, e->hash);
            if (*pp) { /* a duplicate key: the bytes are not ours */
                free(e);
                return CRAFT_EMALFORMED;
            }
            e->next = NULL;
            *pp = e;
            s->count++;
            s->timed += e->expire != 0;
            if (s->count > s->nbuckets) {
                grow(s);
            }
        } else {
            return CRAFT_EMALFORMED;
        }
    }
    atomic_store(&s->keys, s->count);
    atomic_fetch_add(&s->restores, 1);
    return CRAFT_OK;
}

/* ---- reads ----------------------------------------------------------- */

void kv_store_get(kv_store *s, const resp_arg *key, uint64_t now_ms,
                  kvbuf *out)
{
    struct kv_ent **pp = lookup(s, key->p, key->len, now_ms, 0);
    if (pp) {
        resp_bulk(out, (*pp)->data + (*pp)->klen, (*pp)->vlen);
    } else {
        resp_null(out);
    }
}

int kv_store_exists(kv_store *s, const resp_arg *key, uint64_t now_ms)
{
    return lookup(s, key->p, key->len, now_ms, 0) != NULL;
}

size_t kv_store_strlen(kv_store *s, const resp_arg *key, uint64_t now_ms)
{
    struct kv_ent **pp = lookup(s, key->p, key->len, now_ms, 0);
    return pp ? (*pp)->vlen : 0;
}

size_t kv_store_dbsize(kv_store *s, uint64_t now_ms)
{
    if (s->timed == 0) {
        return s->count;
    }
    /* Expired keys stay in the table until a write meets them (removing
     * them here, by this node's clock, would make the replicas differ),
     * so they are left out of the count instead. */
    size_t n = 0;
    for (size_t i = 0; i < s->nbuckets; i++) {
        for (const struct kv_ent *e = s->buckets[i]; e; e = e->next) {
            n += e->expire == 0 || e->expire > now_ms;
        }
    }
    return n;
}

int64_t kv_store_pttl(kv_store *s, const resp_arg *key, uint64_t now_ms)
{
    struct kv_ent **pp = lookup(s, key->p, key->len, now_ms, 0);
    if (pp == NULL) {
        return -2;
    }
    if ((*pp)->expire == 0) {
        return -1;
    }
    return (int64_t)((*pp)->expire - now_ms);
}
