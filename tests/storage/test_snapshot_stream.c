/*
 * tests/storage/test_snapshot_stream.c: a snapshot far larger than the
 * memory the node and the file storage may use for it. The state machine
 * is a key space of N records (key, value) generated from the key, so the
 * test itself holds none of it: its snapshot writes 32 MiB record by
 * record, its restore checks every byte read back against the generator.
 * A counting allocator given to the node and to the storage records their
 * peak: taking the snapshot, and restoring it at the next start, must stay
 * within a few chunks (the engine's snapshot_chunk_bytes) of what the node
 * used before.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "storage_test.h"

/* ---- a counting allocator ---------------------------------------------- */

/* Each block carries its size in front (16 bytes keep the alignment). */
#define HDR 16

static atomic_size_t cur_bytes;
static atomic_size_t peak_bytes;

static void note(size_t add, size_t sub)
{
    size_t now = atomic_fetch_add(&cur_bytes, add) + add;
    atomic_fetch_sub(&cur_bytes, sub);
    now -= sub;
    size_t p = atomic_load(&peak_bytes);
    while (now > p && !atomic_compare_exchange_weak(&peak_bytes, &p, now)) {
    }
}

static void *c_malloc(void *user, size_t size)
{
    (void)user;
    unsigned char *p = malloc(size + HDR);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, &size, sizeof(size));
    note(size, 0);
    return p + HDR;
}

static void *c_realloc(void *user, void *ptr, size_t size)
{
    (void)user;
    if (ptr == NULL) {
        return c_malloc(NULL, size);
    }
    unsigned char *p = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, p, sizeof(old));
    unsigned char *q = realloc(p, size + HDR);
    if (q == NULL) {
        return NULL;
    }
    memcpy(q, &size, sizeof(size));
    note(size, old);
    return q + HDR;
}

static void c_free(void *user, void *ptr)
{
    (void)user;
    if (ptr == NULL) {
        return;
    }
    unsigned char *p = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, p, sizeof(old));
    atomic_fetch_sub(&cur_bytes, old);
    free(p);
}

/* Restarts the peak at what is in use now; returns that. */
static size_t peak_reset(void)
{
    size_t now = atomic_load(&cur_bytes);
    atomic_store(&peak_bytes, now);
    return now;
}

/* ---- the key space -------------------------------------------------------- */

#define REC 64                     /* bytes per record: key + value */
#define NKEYS (512u * 1024u)       /* 32 MiB of records */
#define CHUNK (64u * 1024u)        /* the engine's snapshot_chunk_bytes */
#define BOUND (8u * CHUNK)         /* what taking or restoring may add */

static void record(unsigned char *p, uint64_t key)
{
    uint64_t x = key * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    memcpy(p, &key, 8);
    for (size_t k = 8; k < REC; k += 8) {
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 27;
        memcpy(p + k, &x, 8);
    }
}

struct space {
    uint64_t nkeys;    /* the state: keys 0 .. nkeys-1 exist */
    uint64_t restored; /* records the last restore read */
    int bad;           /* a restored record differed from the generator */
};

static int sp_apply(void *user, uint64_t index, uint64_t term,
                    const void *data, size_t len, const void **result,
                    size_t *result_len)
{
    struct space *s = user;
    (void)index;
    (void)term;
    (void)result;
    (void)result_len;
    if (len == 8) {
        memcpy(&s->nkeys, data, 8);
    }
    return CRAFT_OK;
}

static int sp_snapshot(void *user, uint64_t index, uint64_t term,
                       craft_snapshot_writer *w)
{
    struct space *s = user;
    unsigned char rec[REC];
    (void)index;
    (void)term;
    for (uint64_t k = 0; k < s->nkeys; k++) {
        record(rec, k);
        int rv = craft_snapshot_writer_write(w, rec, sizeof(rec));
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    return CRAFT_OK;
}

static int sp_restore(void *user, uint64_t index, uint64_t term,
                      craft_snapshot_reader *r)
{
    struct space *s = user;
    unsigned char buf[3 * REC + 7]; /* records straddle the reads */
    unsigned char want[REC];
    size_t have = 0, n = 0;
    (void)index;
    (void)term;
    s->restored = 0;
    s->bad = 0;
    for (;;) {
        int rv = craft_snapshot_reader_read(r, buf + have, sizeof(buf) - have,
                                            &n);
        if (rv != CRAFT_OK) {
            return rv;
        }
        if (n == 0) {
            break;
        }
        have += n;
        size_t k = 0;
        for (; k + REC <= have; k += REC) {
            record(want, s->restored);
            if (memcmp(want, buf + k, REC) != 0) {
                s->bad = 1;
            }
            s->restored++;
        }
        memmove(buf, buf + k, have - k);
        have -= k;
    }
    s->nkeys = s->restored;
    return have == 0 ? CRAFT_OK : CRAFT_ECORRUPT;
}

/* ---- a one-node cluster on the directory ------------------------------ */

struct runner {
    craft_allocator al;
    craft_file_storage *fs;
    craft_hub *hub;
    craft_node *node;
    struct space sp;
};

static void runner_open(struct runner *r, const char *dir)
{
    craft_file_storage_options so = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    char err[512] = "";
    craft_allocator_init(&r->al);
    r->al.malloc = c_malloc;
    r->al.realloc = c_realloc;
    r->al.free = c_free;
    so.node_id = 1;
    so.allocator = &r->al;
    so.errbuf = err;
    so.errbuf_size = sizeof(err);
    int rv = craft_file_storage_open(dir, &so, &r->fs);
    ck_assert_msg(rv == CRAFT_OK, "open: %s", err);
}

static void runner_create(struct runner *r)
{
    craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
    craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    craft_engine_options eo = CRAFT_ENGINE_OPTIONS_INIT;
    craft_node_options o = CRAFT_NODE_OPTIONS_INIT;
    ck_assert_int_eq(craft_file_storage_ops(r->fs, &st), CRAFT_OK);
    ck_assert_uint_eq(st.flags & CRAFT_STORAGE_F_STREAM_LOCAL,
                      CRAFT_STORAGE_F_STREAM_LOCAL);
    ck_assert_int_eq(craft_hub_create(NULL, &r->hub), CRAFT_OK);
    craft_hub_transport(r->hub, 1, &tr);
    fsm.user = &r->sp;
    fsm.apply = sp_apply;
    fsm.snapshot = sp_snapshot;
    fsm.restore = sp_restore;
    eo.snapshot_entries = 0; /* only the snapshot the test triggers */
    eo.snapshot_chunk_bytes = CHUNK;
    o.id = 1;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    o.engine = &eo;
    o.allocator = &r->al;
    o.tick_ms = 5;
    o.wait_leader = 1; /* the first proposal waits for the election */
    ck_assert_int_eq(craft_node_create(&o, &r->node), CRAFT_OK);
}

static void runner_start(struct runner *r)
{
    craft_hub_attach(r->hub, 1, r->node);
    ck_assert_int_eq(craft_node_start(r->node), CRAFT_OK);
}

static void runner_stop(struct runner *r)
{
    craft_hub_detach(r->hub, 1);
    craft_node_free(r->node);
    craft_hub_free(r->hub);
    craft_file_storage_close(r->fs);
}

struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
    int status;
    uint64_t index;
};

static void on_snapshot(void *ctx, const craft_result *res)
{
    struct done *d = ctx;
    pthread_mutex_lock(&d->mu);
    d->status = craft_result_status(res);
    d->index = craft_result_index(res);
    d->finished = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* Bytes of the current snapshot file in dir (snapshot-*-*, no .tmp). */
static uint64_t snapshot_file_bytes(const char *dir)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    uint64_t size = 0;
    int files = 0;
    ck_assert_ptr_nonnull(dp);
    while ((de = readdir(dp)) != NULL) {
        if (strncmp(de->d_name, "snapshot-", 9) == 0 &&
            strstr(de->d_name, ".tmp") == NULL) {
            char path[1024];
            struct stat sb;
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            ck_assert_int_eq(stat(path, &sb), 0);
            size = (uint64_t)sb.st_size;
            files++;
        }
    }
    closedir(dp);
    ck_assert_int_eq(files, 1);
    return size;
}

START_TEST(snapshot_larger_than_memory_bound)
{
    char dir[512];
    struct runner r;
    struct done d;
    memset(&r, 0, sizeof(r));
    memset(&d, 0, sizeof(d));
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    st_tmpdir(dir, sizeof(dir), "snapstream");

    runner_open(&r, dir);
    runner_create(&r);
    uint64_t self = 1;
    ck_assert_int_eq(craft_node_bootstrap(r.node, &self, 1), CRAFT_OK);
    runner_start(&r);
    uint64_t n = NKEYS;
    ck_assert_int_eq(craft_node_propose_wait(r.node, &n, sizeof(n), 60000,
                                             NULL),
                     CRAFT_OK);

    size_t base = peak_reset();
    ck_assert_int_eq(craft_node_trigger_snapshot(r.node, 120000, on_snapshot,
                                                 &d),
                     CRAFT_OK);
    pthread_mutex_lock(&d.mu);
    while (!d.finished) {
        pthread_cond_wait(&d.cv, &d.mu);
    }
    pthread_mutex_unlock(&d.mu);
    ck_assert_int_eq(d.status, CRAFT_OK);
    size_t took = atomic_load(&peak_bytes) - base;
    ck_assert_msg(took <= BOUND,
                  "taking a %u-byte snapshot used %zu bytes (bound %u)",
                  NKEYS * REC, took, BOUND);
    uint64_t index = d.index;
    runner_stop(&r);
    /* the whole key space is in the file (plus membership and footer) */
    ck_assert_uint_ge(snapshot_file_bytes(dir), (uint64_t)NKEYS * REC);

    /* The next start restores it, streamed, and gets every byte back. */
    memset(&r, 0, sizeof(r));
    runner_open(&r, dir);
    runner_create(&r);
    base = peak_reset();
    runner_start(&r);
    size_t restored = atomic_load(&peak_bytes) - base;
    ck_assert_msg(restored <= BOUND,
                  "restoring a %u-byte snapshot used %zu bytes (bound %u)",
                  NKEYS * REC, restored, BOUND);
    ck_assert_uint_eq(r.sp.restored, NKEYS);
    ck_assert_int_eq(r.sp.bad, 0);
    craft_status *st = NULL;
    ck_assert_int_eq(craft_node_status(r.node, &st), CRAFT_OK);
    ck_assert_uint_eq(craft_status_snapshot_index(st), index);
    craft_status_free(st);
    runner_stop(&r);
    ck_assert_uint_eq(atomic_load(&cur_bytes), 0);

    st_tmpdir_remove(dir);
    pthread_cond_destroy(&d.cv);
    pthread_mutex_destroy(&d.mu);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *s = suite_create("storage-snapshot-stream");
    TCase *tc = tcase_create("bounded");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, snapshot_larger_than_memory_bound);
    suite_add_tcase(s, tc);
    return s;
}

ST_TEST_MAIN(stream_suite)
