/*
 * tests/storage/storage_test.h: helpers of the storage tests (Check
 * programs; each test_*.c is its own). A storage is driven through its
 * craft_storage_ops only; what it persisted is read back the way the
 * node reads it: craft_node_create() calls its load, and the test looks
 * at what the node's engine received (engine internals, visible to the
 * tests since they are built with the tree).
 */
#ifndef CRAFT_STORAGE_TEST_H
#define CRAFT_STORAGE_TEST_H


#include <check.h>
#include <errno.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/conf.h"
#include "craft.h"
#include "craft/testing.h"
#include "engine/engine.h"
#include "engine/log.h"
#include "node/node.h"
#include "storage/io.h"

#define ST_TEST_MAIN(suite_fn)                                                \
    int main(void)                                                            \
    {                                                                         \
        SRunner *sr_ = srunner_create(suite_fn());                            \
        srunner_run_all(sr_, CK_NORMAL);                                      \
        int failed_ = srunner_ntests_failed(sr_);                             \
        srunner_free(sr_);                                                    \
        return failed_ == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                    \
    }

/* ---- temporary directories ------------------------------------------- */

static inline void st_rmrf(const char *path)
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
            st_rmrf(sub);
        }
        if (d != NULL) {
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A fresh directory name under root (the directory is not created). */
static inline void st_tmpdir_in(char *buf, size_t cap, const char *root,
                                const char *tag)
{
    char tmpl[400];
    snprintf(tmpl, sizeof(tmpl), "%.300s/craft-%.20s-XXXXXX", root, tag);
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(buf, cap, "%s/data", tmpl);
}

/* A directory in memory (/dev/shm when there is one) for tests that do
 * not need a disk: the fault layer models durability itself. */
static inline void st_tmpdir_mem(char *buf, size_t cap, const char *tag)
{
    struct stat st;
    const char *root = getenv("CRAFT_TEST_MEMDIR");
    if (root == NULL || root[0] == '\0') {
        root = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
                       access("/dev/shm", W_OK) == 0
                   ? "/dev/shm"
                   : "/tmp";
    }
    st_tmpdir_in(buf, cap, root, tag);
}

/* A fresh directory name under TMPDIR (the directory is not created). */
static inline void st_tmpdir(char *buf, size_t cap, const char *tag)
{
    const char *t = getenv("TMPDIR");
    char tmpl[400];
    snprintf(tmpl, sizeof(tmpl), "%.300s/craft-%.20s-XXXXXX",
             t != NULL && t[0] != '\0' ? t : "/tmp", tag);
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(buf, cap, "%s/data", tmpl);
}

/* Removes the parent made by st_tmpdir. */
static inline void st_tmpdir_remove(const char *dir)
{
    char parent[512];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    st_rmrf(parent);
}

/* ---- payloads and memberships ----------------------------------------- */

/* The payload of entry index in generation gen: len bytes. */
static inline void st_payload(unsigned char *p, size_t len, uint64_t index,
                              uint64_t gen)
{
    uint64_t x = index * 0x9E3779B97F4A7C15ull ^ gen * 0xC2B2AE3D27D4EB4Full;
    for (size_t k = 0; k < len; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[k] = (unsigned char)x;
    }
}

/* The encoded membership {1, 2, 3} (valid bytes for snapshots). */
static inline size_t st_conf(uint8_t *buf, int variant)
{
    struct craft_conf c;
    memset(&c, 0, sizeof(c));
    c.n = 3;
    for (uint32_t k = 0; k < 3; k++) {
        c.m[k].id = k + 1 + (uint64_t)variant * 10;
        c.m[k].role = CRAFT_MEMBER_VOTER;
    }
    return craft_conf_encode(&c, buf);
}

/* ---- what a node loads ------------------------------------------------ */

static inline int st_noop_send(void *user, uint64_t peer, const void *data,
                               size_t len)
{
    (void)user;
    (void)peer;
    (void)data;
    (void)len;
    return CRAFT_OK;
}

static inline int st_noop_apply(void *user, uint64_t index, uint64_t term,
                                const void *data, size_t len,
                                const void **result, size_t *result_len)
{
    (void)user;
    (void)index;
    (void)term;
    (void)data;
    (void)len;
    (void)result;
    (void)result_len;
    return CRAFT_OK;
}

/*
 * Creates a node (never started) over st: its storage load runs. Returns
 * craft_node_create's code; on success *out is the node (free it).
 */
static inline int st_node_load(const craft_storage_ops *st, craft_node **out)
{
    craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    craft_node_options o = CRAFT_NODE_OPTIONS_INIT;
    tr.send = st_noop_send;
    fsm.apply = st_noop_apply;
    o.id = 1;
    o.storage = st;
    o.transport = &tr;
    o.fsm = &fsm;
    return craft_node_create(&o, out);
}

/* The engine behind a node, to read what was loaded. */
static inline const struct craft_engine *st_engine(craft_node *node)
{
    return ((struct craft_node *)node)->e;
}

/* ---- a model of the log ------------------------------------------------ */

#define ST_MAX_ENTRIES 4096

struct st_model {
    uint64_t term, vote;
    uint64_t snap_index, snap_term;
    uint64_t last; /* entries snap_index+1 .. last */
    uint64_t eterm[ST_MAX_ENTRIES + 1];
    uint64_t gen[ST_MAX_ENTRIES + 1];
    uint32_t len[ST_MAX_ENTRIES + 1];
};

/* Checks that the node loaded exactly the model. */
static inline void st_check_loaded(craft_node *node, const struct st_model *m)
{
    const struct craft_engine *e = st_engine(node);
    const struct craft_log *l = &e->log;
    static unsigned char buf[4u << 20];
    ck_assert_uint_eq(e->term, m->term);
    ck_assert_uint_eq(e->vote, m->vote);
    ck_assert_uint_eq(l->snap_index, m->snap_index);
    ck_assert_uint_eq(l->snap_term, m->snap_term);
    ck_assert_uint_eq(craft_log_last(l), m->last);
    for (uint64_t i = m->snap_index + 1; i <= m->last; i++) {
        const struct craft_entry *ent = craft_log_get(l, i);
        ck_assert_msg(ent->term == m->eterm[i], "index %llu: term %llu, "
                      "want %llu", (unsigned long long)i,
                      (unsigned long long)ent->term,
                      (unsigned long long)m->eterm[i]);
        ck_assert_uint_eq(ent->type, CRAFT_ENTRY_NORMAL);
        ck_assert_uint_eq(ent->len, m->len[i]);
        ck_assert_uint_le(m->len[i], sizeof(buf));
        st_payload(buf, m->len[i], i, m->gen[i]);
        ck_assert_msg(m->len[i] == 0 || memcmp(ent->data, buf, m->len[i]) == 0,
                      "index %llu: payload differs", (unsigned long long)i);
    }
}

/* Appends entry index (term, generation gen, len bytes) through st and
 * records it in the model (the log after index - 1). */
static inline int st_append(const craft_storage_ops *st, struct st_model *m,
                            uint64_t index, uint64_t term, uint64_t gen,
                            size_t len)
{
    static unsigned char buf[4u << 20];
    ck_assert_uint_le(len, sizeof(buf));
    ck_assert_uint_le(index, ST_MAX_ENTRIES);
    st_payload(buf, len, index, gen);
    int rv = st->append(st->user, index, term, CRAFT_ENTRY_NORMAL, buf, len);
    /* data is borrowed for the call only: scribble over it */
    memset(buf, 0xA5, len);
    if (rv == CRAFT_OK) {
        m->eterm[index] = term;
        m->gen[index] = gen;
        m->len[index] = (uint32_t)len;
        m->last = index;
    }
    return rv;
}

#endif /* CRAFT_STORAGE_TEST_H */
