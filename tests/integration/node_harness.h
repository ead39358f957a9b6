/*
 * tests/integration/node_harness.h: clusters of craft_node in one process,
 * over craft_hub, driven only through the public API (craft.h +
 * craft/testing.h). Header-only: every test_*.c is its own Check program
 * (CK_FORK=no under the sanitizers and valgrind).
 *
 * Storage: craft_mem_storage, or with CRAFT_TEST_STORAGE=file the file
 * storage (craft/storage.h), one directory per node under TMPDIR, closed
 * at a crash and opened again (recovering) at the restart;
 * CRAFT_TEST_STORAGE_SYNC=dsync|direct|none picks its sync mode (default
 * fdatasync). Either way the node's storage goes through a thin wrapper
 * (struct tstore) that can make writes fail and remembers the latest
 * snapshot, so tests need not know which storage runs.
 *
 * The state machine (struct tfsm) sums 8-byte little-endian values; apply
 * returns the new count of applied values (8 bytes); a snapshot is
 * (count, sum, last index).
 *
 * tests/transport/tcp_harness.h builds its TCP clusters on this header:
 * the state machine, the waiters, the temporary directories and the
 * leader checks (tc_leader_among, tc_wait_for_leader) serve both.
 */
#ifndef CRAFT_NODE_HARNESS_H
#define CRAFT_NODE_HARNESS_H

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "craft.h"
#include "craft/testing.h"

#define TC_MAX 8

#define TEST_MAIN(suite_fn)                                                   \
    int main(void)                                                            \
    {                                                                         \
        SRunner *sr_ = srunner_create(suite_fn());                            \
        srunner_run_all(sr_, CK_NORMAL);                                      \
        int failed_ = srunner_ntests_failed(sr_);                             \
        srunner_free(sr_);                                                    \
        return failed_ == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                    \
    }

/* Generous: valgrind makes everything 20-50 times slower. */
#define TC_WAIT_MS 20000

static inline int64_t tc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void tc_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline void put_u64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) {
        p[k] = (unsigned char)(v >> (8 * k));
    }
}

static inline uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) {
        v |= (uint64_t)p[k] << (8 * k);
    }
    return v;
}

/* ---- the state machine ------------------------------------------------ */

struct tfsm {
    pthread_mutex_t mu;
    uint64_t count;
    uint64_t sum;
    uint64_t last; /* last index applied or restored */
    unsigned char result[8];
    atomic_int delay_us; /* slow apply */
    atomic_int restores;
    atomic_int snapshots;
    atomic_int fail_snapshot; /* the next snapshots fail */
};

/* A value whose apply fails (the entry still counts as applied). */
#define TFSM_BAD_VALUE UINT64_MAX

static inline void tfsm_init(struct tfsm *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
}

static inline void tfsm_destroy(struct tfsm *f)
{
    pthread_mutex_destroy(&f->mu);
}

static inline int tfsm_apply(void *user, uint64_t index, uint64_t term,
                      const void *data, size_t len, const void **result,
                      size_t *result_len)
{
    struct tfsm *f = user;
    (void)term;
    int delay = atomic_load(&f->delay_us);
    if (delay > 0) {
        usleep((useconds_t)delay);
    }
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_gt(index, f->last); /* in log order, exactly once */
    f->last = index;
    if (len == 8 && get_u64(data) == TFSM_BAD_VALUE) {
        pthread_mutex_unlock(&f->mu);
        return CRAFT_ECORRUPT;
    }
    if (len == 8) {
        f->sum += get_u64(data);
    }
    f->count++;
    put_u64(f->result, f->count);
    pthread_mutex_unlock(&f->mu);
    *result = f->result;
    *result_len = 8;
    return CRAFT_OK;
}

static inline int tfsm_snapshot(void *user, uint64_t index, uint64_t term,
                         craft_snapshot_writer *w)
{
    struct tfsm *f = user;
    unsigned char buf[24];
    (void)term;
    if (atomic_load(&f->fail_snapshot)) {
        return CRAFT_EIO;
    }
    pthread_mutex_lock(&f->mu);
    /* index is the last entry applied: f->last unless entries after it
     * were no-ops or configuration entries, which apply never sees */
    ck_assert_uint_ge(index, f->last);
    put_u64(buf, f->count);
    put_u64(buf + 8, f->sum);
    put_u64(buf + 16, index);
    pthread_mutex_unlock(&f->mu);
    atomic_fetch_add(&f->snapshots, 1);
    /* in two pieces, to exercise the writer */
    int rv = craft_snapshot_writer_write(w, buf, 10);
    return rv == CRAFT_OK ? craft_snapshot_writer_write(w, buf + 10, 14) : rv;
}

static inline int tfsm_restore(void *user, uint64_t index, uint64_t term,
                        craft_snapshot_reader *r)
{
    struct tfsm *f = user;
    unsigned char buf[24];
    size_t got = 0, n = 0;
    (void)term;
    do {
        int rv = craft_snapshot_reader_read(r, buf + got, sizeof(buf) - got,
                                            &n);
        if (rv != CRAFT_OK) {
            return rv;
        }
        got += n;
    } while (n > 0 && got < sizeof(buf));
    if (got != sizeof(buf) || get_u64(buf + 16) != index) {
        return CRAFT_ECORRUPT;
    }
    pthread_mutex_lock(&f->mu);
    f->count = get_u64(buf);
    f->sum = get_u64(buf + 8);
    f->last = index;
    pthread_mutex_unlock(&f->mu);
    atomic_fetch_add(&f->restores, 1);
    return CRAFT_OK;
}

/* Points *ops (initialised: CRAFT_FSM_OPS_INIT) at f. */
static inline void tfsm_ops(struct tfsm *f, craft_fsm_ops *ops)
{
    ops->user = f;
    ops->apply = tfsm_apply;
    ops->snapshot = tfsm_snapshot;
    ops->restore = tfsm_restore;
}

static inline void tfsm_read(struct tfsm *f, uint64_t *count, uint64_t *sum,
                             uint64_t *last)
{
    pthread_mutex_lock(&f->mu);
    if (count != NULL) {
        *count = f->count;
    }
    if (sum != NULL) {
        *sum = f->sum;
    }
    if (last != NULL) {
        *last = f->last;
    }
    pthread_mutex_unlock(&f->mu);
}

/* ---- a waiter for one asynchronous call -------------------------------- */

struct twait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls; /* how many times the callback ran: must end at 1 */
    int status;
    uint64_t index, term, leader;
    uint64_t value; /* 8-byte result, if any */
};

static inline void tw_init(struct twait *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static inline void tw_destroy(struct twait *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

static inline void tw_cb(void *ctx, const craft_result *r)
{
    struct twait *w = ctx;
    const void *data = NULL;
    size_t len = 0;
    craft_result_data(r, &data, &len);
    pthread_mutex_lock(&w->mu);
    w->calls++;
    w->status = craft_result_status(r);
    w->index = craft_result_index(r);
    w->term = craft_result_term(r);
    w->leader = craft_result_leader(r);
    if (len == 8) {
        w->value = get_u64(data);
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits for the callback; returns its status (ck_abort on timeout). */
static inline int tw_wait(struct twait *w, int timeout_ms)
{
    int64_t end = tc_now_ms() + timeout_ms;
    pthread_mutex_lock(&w->mu);
    while (w->calls == 0 && tc_now_ms() < end) {
        pthread_mutex_unlock(&w->mu);
        tc_sleep_ms(2);
        pthread_mutex_lock(&w->mu);
    }
    int calls = w->calls, status = w->status;
    pthread_mutex_unlock(&w->mu);
    ck_assert_msg(calls == 1, "callback ran %d times", calls);
    return status;
}

/* ---- clusters ------------------------------------------------------------ */

/* ---- storage ------------------------------------------------------------ */

/* The storage a node sees: the real one's methods, behind a switch that
 * makes writes fail (fail-stop tests) and a note of the latest snapshot. */
struct tstore {
    craft_storage_ops inner;
    pthread_mutex_t mu;
    int fail;
    uint64_t snap_index;
};

static inline int ts_failing(struct tstore *s)
{
    pthread_mutex_lock(&s->mu);
    int f = s->fail;
    pthread_mutex_unlock(&s->mu);
    return f;
}

static inline int ts_load(void *user, craft_loader *ld)
{
    struct tstore *s = user;
    return s->inner.load(s->inner.user, ld);
}

static inline int ts_save_hard_state(void *user, uint64_t term, uint64_t vote)
{
    struct tstore *s = user;
    int f = ts_failing(s);
    return f != 0 ? f : s->inner.save_hard_state(s->inner.user, term, vote);
}

static inline int ts_append(void *user, uint64_t index, uint64_t term,
                            uint32_t type, const void *data, size_t len)
{
    struct tstore *s = user;
    int f = ts_failing(s);
    return f != 0 ? f
                  : s->inner.append(s->inner.user, index, term, type, data,
                                    len);
}

static inline int ts_truncate(void *user, uint64_t index)
{
    struct tstore *s = user;
    int f = ts_failing(s);
    return f != 0 ? f : s->inner.truncate(s->inner.user, index);
}

static inline int ts_sync(void *user)
{
    struct tstore *s = user;
    int f = ts_failing(s);
    return f != 0 ? f : s->inner.sync(s->inner.user);
}

static inline int ts_snapshot_write(void *user, uint64_t index,
                                    uint64_t term, uint64_t offset,
                                    const void *data, size_t len,
                                    const void *conf, size_t conf_len,
                                    uint32_t flags)
{
    struct tstore *s = user;
    int f = ts_failing(s);
    if (f != 0) {
        return f;
    }
    int rv = s->inner.snapshot_write(s->inner.user, index, term, offset, data,
                                     len, conf, conf_len, flags);
    if (rv == CRAFT_OK && (flags & CRAFT_SNAPSHOT_F_LAST) != 0) {
        pthread_mutex_lock(&s->mu);
        if (index > s->snap_index) {
            s->snap_index = index;
        }
        pthread_mutex_unlock(&s->mu);
    }
    return rv;
}

static inline int ts_snapshot_read(void *user, uint64_t index,
                                   uint64_t offset, void *buf, size_t count,
                                   size_t *n, int *last)
{
    struct tstore *s = user;
    return s->inner.snapshot_read(s->inner.user, index, offset, buf, count,
                                  n, last);
}

/* The table a node gets: s wrapping s->inner. */
static inline void ts_ops(struct tstore *s, craft_storage_ops *ops)
{
    craft_storage_ops_init(ops);
    ops->user = s;
    ops->load = ts_load;
    ops->save_hard_state = ts_save_hard_state;
    ops->append = ts_append;
    ops->truncate = ts_truncate;
    ops->sync = ts_sync;
    ops->snapshot_write = ts_snapshot_write;
    ops->snapshot_read = ts_snapshot_read;
}

/* 1 when CRAFT_TEST_STORAGE=file. */
static inline int tc_file_storage(void)
{
    const char *s = getenv("CRAFT_TEST_STORAGE");
    return s != NULL && strcmp(s, "file") == 0;
}

static inline uint32_t tc_file_sync_mode(void)
{
    const char *s = getenv("CRAFT_TEST_STORAGE_SYNC");
    if (s == NULL || s[0] == '\0' || strcmp(s, "fdatasync") == 0) {
        return CRAFT_FILE_SYNC_FDATASYNC;
    }
    if (strcmp(s, "dsync") == 0) {
        return CRAFT_FILE_SYNC_DSYNC;
    }
    if (strcmp(s, "direct") == 0) {
        return CRAFT_FILE_SYNC_DIRECT;
    }
    if (strcmp(s, "none") == 0) {
        return CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS;
    }
    ck_abort_msg("CRAFT_TEST_STORAGE_SYNC=%s: fdatasync, dsync, direct or "
                 "none", s);
    return 0;
}

/* Makes a new directory TMPDIR/<name>-XXXXXX (TMPDIR or /tmp) and
 * writes its path to buf. */
static inline void tc_mkdtemp(char *buf, size_t cap, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[400];
    snprintf(tmpl, sizeof(tmpl), "%.300s/%.60s-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", name);
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_uint_lt(strlen(tmpl), cap);
    snprintf(buf, cap, "%s", tmpl);
}

static inline void tc_rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d != NULL && (de = readdir(d)) != NULL) {
            char sub[1024];
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            int n = snprintf(sub, sizeof(sub), "%.700s/%.250s", path,
                             de->d_name);
            (void)n;
            tc_rmrf(sub);
        }
        if (d != NULL) {
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

struct tnode {
    uint64_t id;
    craft_node *node;
    craft_mem_storage *ms;   /* memory storage (NULL with file storage) */
    craft_file_storage *fs;  /* file storage, open while the node runs */
    struct tstore store;
    struct tfsm fsm;
};

struct tcluster {
    int n;
    char dir[400]; /* file storage: the nodes' directories are in it */
    craft_hub *hub;
    struct tnode nodes[TC_MAX];
    craft_engine_options eopts;
    craft_node_options opts; /* template: id, tables set per node */
    void (*trace)(void *user, const craft_trace_event *ev);
    void *trace_user;
};

static inline struct tnode *tc_node(struct tcluster *c, uint64_t id)
{
    ck_assert_uint_ge(id, 1);
    ck_assert_uint_le(id, TC_MAX);
    return &c->nodes[id - 1];
}

/* Options every test starts from; tests tweak c->opts / c->eopts before
 * tc_start. */
static inline void tc_init(struct tcluster *c)
{
    memset(c, 0, sizeof(*c));
    ck_assert_int_eq(craft_hub_create(NULL, &c->hub), CRAFT_OK);
    craft_engine_options_init(&c->eopts);
    craft_node_options_init(&c->opts);
    c->opts.tick_ms = 10;
    c->opts.request_timeout_ms = 10000;
    for (int k = 0; k < TC_MAX; k++) {
        c->nodes[k].id = (uint64_t)k + 1;
        tfsm_init(&c->nodes[k].fsm);
        pthread_mutex_init(&c->nodes[k].store.mu, NULL);
    }
}

/* Makes sure node id's storage exists (and, for the file storage, is
 * open: a restart recovers the directory). */
static inline void tc_storage_open(struct tcluster *c, struct tnode *t)
{
    if (!tc_file_storage()) {
        if (t->ms == NULL) {
            ck_assert_int_eq(craft_mem_storage_create(NULL, &t->ms),
                             CRAFT_OK);
        }
        craft_storage_ops_init(&t->store.inner);
        ck_assert_int_eq(craft_mem_storage_ops(t->ms, &t->store.inner),
                         CRAFT_OK);
        return;
    }
    if (t->fs != NULL) {
        return;
    }
    if (c->dir[0] == '\0') {
        tc_mkdtemp(c->dir, sizeof(c->dir), "craft-cluster");
    }
    char dir[512], err[512] = "";
    snprintf(dir, sizeof(dir), "%s/n%llu", c->dir, (unsigned long long)t->id);
    craft_file_storage_options o = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    o.node_id = t->id;
    o.sync_mode = tc_file_sync_mode();
    o.segment_bytes = 1024 * 1024;
    o.errbuf = err;
    o.errbuf_size = sizeof(err);
    int rv = craft_file_storage_open(dir, &o, &t->fs);
    ck_assert_msg(rv == CRAFT_OK, "file storage: %s", err);
    craft_storage_ops_init(&t->store.inner);
    ck_assert_int_eq(craft_file_storage_ops(t->fs, &t->store.inner),
                     CRAFT_OK);
}

/* Makes every later write of node id's storage fail with code (0: stop
 * failing), to test the node's fail-stop. */
static inline void tc_storage_fail(struct tcluster *c, uint64_t id, int code)
{
    struct tnode *t = tc_node(c, id);
    pthread_mutex_lock(&t->store.mu);
    t->store.fail = code;
    pthread_mutex_unlock(&t->store.mu);
}

/* The index of the latest snapshot node id's storage completed (0:
 * none; 0 again for a snapshot it had before this cluster started). */
static inline uint64_t tc_snapshot_index(struct tcluster *c, uint64_t id)
{
    struct tnode *t = tc_node(c, id);
    pthread_mutex_lock(&t->store.mu);
    uint64_t v = t->store.snap_index;
    pthread_mutex_unlock(&t->store.mu);
    return v;
}

/* Creates (from its storage, made if needed) node id, attaches and starts
 * it; bootstraps it with ids[0..nids) first when nids > 0. */
static inline void tc_launch(struct tcluster *c, uint64_t id,
                             const uint64_t *ids, size_t nids)
{
    struct tnode *t = tc_node(c, id);
    craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
    craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    tc_storage_open(c, t);
    ts_ops(&t->store, &st);
    ck_assert_int_eq(craft_hub_transport(c->hub, id, &tr), CRAFT_OK);
    tfsm_ops(&t->fsm, &fsm);
    craft_node_options o = c->opts;
    o.id = id;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    o.engine = &c->eopts;
    o.trace = c->trace;
    o.trace_user = c->trace_user;
    ck_assert_int_eq(craft_node_create(&o, &t->node), CRAFT_OK);
    if (nids > 0) {
        ck_assert_int_eq(craft_node_bootstrap(t->node, ids, nids), CRAFT_OK);
    }
    ck_assert_int_eq(craft_hub_attach(c->hub, id, t->node), CRAFT_OK);
    ck_assert_int_eq(craft_node_start(t->node), CRAFT_OK);
    if ((int)id > c->n) {
        c->n = (int)id;
    }
}

/* n nodes 1..n bootstrapped as voters. */
static inline void tc_start(struct tcluster *c, int n)
{
    uint64_t ids[TC_MAX];
    for (int k = 0; k < n; k++) {
        ids[k] = (uint64_t)k + 1;
    }
    for (int k = 0; k < n; k++) {
        tc_launch(c, (uint64_t)k + 1, ids, (size_t)n);
    }
}

/* A crash: the node is freed (its storage stays). */
static inline void tc_crash(struct tcluster *c, uint64_t id)
{
    struct tnode *t = tc_node(c, id);
    ck_assert_ptr_nonnull(t->node);
    craft_hub_detach(c->hub, id);
    craft_node_free(t->node);
    t->node = NULL;
    /* the file storage is closed: the restart recovers it */
    craft_file_storage_close(t->fs);
    t->fs = NULL;
    /* A restart restores from the snapshot and re-applies the rest. */
    pthread_mutex_lock(&t->fsm.mu);
    t->fsm.count = t->fsm.sum = t->fsm.last = 0;
    pthread_mutex_unlock(&t->fsm.mu);
}

static inline void tc_free(struct tcluster *c)
{
    for (int k = 0; k < TC_MAX; k++) {
        struct tnode *t = &c->nodes[k];
        if (t->node != NULL) {
            craft_hub_detach(c->hub, t->id);
            craft_node_free(t->node);
            t->node = NULL;
        }
    }
    for (int k = 0; k < TC_MAX; k++) {
        craft_mem_storage_free(c->nodes[k].ms);
        craft_file_storage_close(c->nodes[k].fs);
        tfsm_destroy(&c->nodes[k].fsm);
        pthread_mutex_destroy(&c->nodes[k].store.mu);
    }
    craft_hub_free(c->hub);
    if (c->dir[0] != '\0') {
        tc_rmrf(c->dir);
    }
}

/* The running nodes of a cluster as the leader checks below take them,
 * from an array of structs with a `craft_node *node` member, server id k
 * + 1 at k: where the first node pointer is and the stride to the next
 * (tc_leader_among(TC_NODES(c->nodes), 1)). */
#define TC_NODES(arr) (const void *)&(arr)[0].node, sizeof((arr)[0])

static inline craft_node *tc_node_at(const void *first, size_t stride, int k)
{
    craft_node *n;
    memcpy(&n, (const char *)first + (size_t)k * stride, sizeof(n));
    return n;
}

/* The leader of the highest term among TC_MAX nodes (NULL: not running),
 * when no running node is in a later term; with agree, also when every
 * other node in that term names it as its leader. 0 otherwise. */
static inline uint64_t tc_leader_among(const void *first, size_t stride,
                                       int agree)
{
    uint64_t leader = 0, term = 0, max_term = 0;
    for (int k = 0; k < TC_MAX; k++) {
        craft_node *n = tc_node_at(first, stride, k);
        if (n == NULL) {
            continue;
        }
        uint64_t tt = craft_node_term(n);
        if (tt > max_term) {
            max_term = tt;
        }
        if (craft_node_role(n) == CRAFT_ROLE_LEADER && tt >= term) {
            leader = (uint64_t)k + 1;
            term = tt;
        }
    }
    if (leader == 0 || term < max_term) {
        return 0;
    }
    for (int k = 0; agree && k < TC_MAX; k++) {
        craft_node *n = tc_node_at(first, stride, k);
        if (n != NULL && (uint64_t)k + 1 != leader &&
            craft_node_term(n) == term && craft_node_leader(n) != leader) {
            return 0;
        }
    }
    return leader;
}

/* Polls tc_leader_among until it names a leader and returns it;
 * ck_abort after TC_WAIT_MS. */
static inline uint64_t tc_wait_for_leader(const void *first, size_t stride,
                                          int agree)
{
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    while (tc_now_ms() < end) {
        uint64_t l = tc_leader_among(first, stride, agree);
        if (l != 0) {
            return l;
        }
        tc_sleep_ms(5);
    }
    ck_abort_msg("no leader within %d ms", TC_WAIT_MS);
    return 0;
}

/* The leader of the highest term, when no running node is in a later
 * term and every other node in that term names it; or 0. */
static inline uint64_t tc_leader_now(struct tcluster *c)
{
    return tc_leader_among(TC_NODES(c->nodes), 1);
}

static inline uint64_t tc_wait_leader(struct tcluster *c)
{
    return tc_wait_for_leader(TC_NODES(c->nodes), 1);
}

/* Proposes value on node id and waits; returns the status. */
static inline int tc_propose(struct tcluster *c, uint64_t id, uint64_t value,
                             uint64_t *index)
{
    unsigned char buf[8];
    craft_result *r = NULL;
    put_u64(buf, value);
    int rv = craft_node_propose_wait(tc_node(c, id)->node, buf, 8, 0, &r);
    if (index != NULL) {
        *index = craft_result_index(r);
    }
    craft_result_free(r);
    return rv;
}

/* Proposes until it succeeds on the current leader; returns its index. */
static inline uint64_t tc_commit(struct tcluster *c, uint64_t value)
{
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    while (tc_now_ms() < end) {
        uint64_t l = tc_wait_leader(c);
        uint64_t index = 0;
        if (tc_propose(c, l, value, &index) == CRAFT_OK) {
            return index;
        }
        tc_sleep_ms(5);
    }
    ck_abort_msg("could not commit %llu", (unsigned long long)value);
    return 0;
}

/* Waits until every running node applied index. */
static inline void tc_wait_applied(struct tcluster *c, uint64_t index)
{
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    for (;;) {
        int all = 1;
        for (int k = 0; k < TC_MAX; k++) {
            struct tnode *t = &c->nodes[k];
            if (t->node != NULL && craft_node_applied_index(t->node) < index) {
                all = 0;
            }
        }
        if (all) {
            return;
        }
        ck_assert_msg(tc_now_ms() < end, "index %llu not applied everywhere",
                      (unsigned long long)index);
        tc_sleep_ms(5);
    }
}

/* Every running node's state machine holds the same (count, sum). */
static inline void tc_check_same_state(struct tcluster *c, uint64_t sum)
{
    for (int k = 0; k < TC_MAX; k++) {
        struct tnode *t = &c->nodes[k];
        if (t->node != NULL) {
            uint64_t s = 0;
            tfsm_read(&t->fsm, NULL, &s, NULL);
            ck_assert_msg(s == sum, "node %llu: sum %llu, want %llu",
                          (unsigned long long)t->id, (unsigned long long)s,
                          (unsigned long long)sum);
        }
    }
}

static inline uint64_t tc_metric(struct tcluster *c, uint64_t id, int metric)
{
    uint64_t v = 0;
    ck_assert_int_eq(craft_node_metric(tc_node(c, id)->node, metric, &v),
                     CRAFT_OK);
    return v;
}

/*
 * Does the engine implement event type? (An engine without it answers
 * CRAFT_EINVAL.) Probed on a scratch single-server engine that just
 * became leader.
 */
static inline int tc_engine_supports(uint32_t type)
{
    craft_engine_options o = CRAFT_ENGINE_OPTIONS_INIT;
    craft_engine *e = NULL;
    craft_actions *a = NULL;
    uint64_t self = 1;
    o.id = 1;
    ck_assert_int_eq(craft_engine_create(&o, &e), CRAFT_OK);
    ck_assert_int_eq(craft_actions_create(NULL, &a), CRAFT_OK);
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_BOOTSTRAP;
    ev.ids = &self;
    ev.nids = 1;
    ck_assert_int_eq(craft_engine_step(e, &ev, a), CRAFT_OK);
    craft_event_init(&ev);
    ev.type = type;
    ev.id = 1;
    ev.peer = 2;
    ev.index = 1;
    ev.term = 1;
    int rv = craft_engine_step(e, &ev, a);
    craft_actions_free(a);
    craft_engine_free(e);
    return rv != CRAFT_EINVAL;
}

#define TC_REQUIRE_ENGINE(type, what)                                         \
    do {                                                                      \
        if (!tc_engine_supports(type)) {                                      \
            fprintf(stderr,                                                   \
                    "PENDING %s: the engine does not implement %s yet "      \
                    "(CRAFT_EINVAL); test not run\n",                         \
                    __func__, what);                                          \
            return;                                                           \
        }                                                                     \
    } while (0)

#endif
