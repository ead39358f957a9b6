/*
 * tests/storage/test_storage_damage.c: damaged data directories the
 * storage fuzzer (tests/fuzz/fuzz_storage.c) found handled wrongly, and
 * the crash ordering behind one of them. Each must fail the open with
 * CRAFT_ECORRUPT rather than load a state that forgets a vote.
 */
#include "storage_test.h"

#include <fcntl.h>

static craft_file_storage *open_fs(const char *dir, int *rv)
{
    craft_file_storage_options o;
    craft_file_storage *fs = NULL;
    craft_file_storage_options_init(&o);
    o.segment_bytes = 4096;
    o.preallocate = 0;
    *rv = craft_file_storage_open(dir, &o, &fs);
    return fs;
}

/* A directory holding hard state (term, vote) and entries 1..n of term. */
static void make_dir(const char *dir, uint64_t term, uint64_t vote,
                     uint64_t n)
{
    int rv;
    craft_file_storage *fs = open_fs(dir, &rv);
    ck_assert_int_eq(rv, CRAFT_OK);
    craft_storage_ops st;
    craft_storage_ops_init(&st);
    ck_assert_int_eq(craft_file_storage_ops(fs, &st), CRAFT_OK);
    struct st_model m;
    memset(&m, 0, sizeof(m));
    ck_assert_int_eq(st.save_hard_state(st.user, 1, 0), CRAFT_OK);
    ck_assert_int_eq(st.sync(st.user), CRAFT_OK);
    ck_assert_int_eq(st.save_hard_state(st.user, term, vote), CRAFT_OK);
    for (uint64_t i = 1; i <= n; i++) {
        ck_assert_int_eq(st_append(&st, &m, i, term, 0, 32), CRAFT_OK);
    }
    ck_assert_int_eq(st.sync(st.user), CRAFT_OK);
    craft_file_storage_close(fs);
}

static void path_of(char *buf, size_t cap, const char *dir, const char *name)
{
    snprintf(buf, cap, "%.400s/%s", dir, name);
}

/* Metadata lost, hard state kept: the storage used to take the directory
 * for a new one and write the hard state anew, forgetting term and
 * vote. */
START_TEST(test_no_metadata_but_a_vote)
{
    char dir[512], path[600];
    st_tmpdir(dir, sizeof(dir), "damage");
    make_dir(dir, 3, 2, 0);
    path_of(path, sizeof(path), dir, "metadata");
    ck_assert_int_eq(unlink(path), 0);
    int rv;
    craft_file_storage *fs = open_fs(dir, &rv);
    ck_assert_int_eq(rv, CRAFT_ECORRUPT);
    ck_assert_ptr_null(fs);
    st_tmpdir_remove(dir);
}
END_TEST

/* A directory whose metadata is missing but whose hard state was never
 * written (an interrupted initialisation) is still taken as new. */
START_TEST(test_no_metadata_fresh_hardstate)
{
    char dir[512], path[600];
    st_tmpdir(dir, sizeof(dir), "damage");
    int rv;
    craft_file_storage *fs = open_fs(dir, &rv);
    ck_assert_int_eq(rv, CRAFT_OK);
    craft_file_storage_close(fs);
    path_of(path, sizeof(path), dir, "metadata");
    ck_assert_int_eq(unlink(path), 0);
    fs = open_fs(dir, &rv);
    ck_assert_int_eq(rv, CRAFT_OK);
    craft_file_storage_close(fs);
    st_tmpdir_remove(dir);
}
END_TEST

/* The newest hard state slot damaged while the log holds entries of its
 * term: the older slot is a term the log has passed. The open used to
 * succeed and the node's load to fail with CRAFT_EINVAL. */
START_TEST(test_hardstate_behind_log)
{
    char dir[512], path[600];
    st_tmpdir(dir, sizeof(dir), "damage");
    make_dir(dir, 4, 1, 3);
    /* Slots: seq 1 at 0 (creation), term 1 at 512, term 4 at 0. */
    path_of(path, sizeof(path), dir, "hardstate");
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char b;
    ck_assert_int_eq(pread(fd, &b, 1, 20), 1);
    b ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &b, 1, 20), 1);
    close(fd);
    int rv;
    craft_file_storage *fs = open_fs(dir, &rv);
    ck_assert_int_eq(rv, CRAFT_ECORRUPT);
    ck_assert_ptr_null(fs);
    st_tmpdir_remove(dir);
}
END_TEST

/* ---- the order of a sync ------------------------------------------------ */

struct order {
    struct fs_io px;
    char names[64][80]; /* by descriptor */
    char synced[16][80];
    int nsynced;
};

static int o_openat(void *user, int dirfd, const char *name, int flags,
                    int mode)
{
    struct order *o = user;
    int fd = o->px.openat(o->px.user, dirfd, name, flags, mode);
    if (fd >= 0 && fd < 64) {
        snprintf(o->names[fd], sizeof(o->names[fd]), "%.79s", name);
    }
    return fd;
}

static int o_fdatasync(void *user, int fd)
{
    struct order *o = user;
    if (o->nsynced < 16 && fd >= 0 && fd < 64) {
        memcpy(o->synced[o->nsynced++], o->names[fd], 80);
    }
    return o->px.fdatasync(o->px.user, fd);
}

#define FWD(name, params, args)                                               \
    static int o_##name params                                                \
    {                                                                         \
        struct order *o = user;                                               \
        return o->px.name args;                                               \
    }
FWD(close, (void *user, int fd), (o->px.user, fd))
FWD(pwrite, (void *user, int fd, const void *buf, size_t len, uint64_t off,
             size_t *done), (o->px.user, fd, buf, len, off, done))
FWD(pread, (void *user, int fd, void *buf, size_t len, uint64_t off,
            size_t *done), (o->px.user, fd, buf, len, off, done))
FWD(fsync, (void *user, int fd), (o->px.user, fd))
FWD(ftruncate, (void *user, int fd, uint64_t len), (o->px.user, fd, len))
FWD(fallocate, (void *user, int fd, uint64_t off, uint64_t len),
    (o->px.user, fd, off, len))
FWD(fsize, (void *user, int fd, uint64_t *size), (o->px.user, fd, size))
FWD(seek, (void *user, int fd, uint64_t off, int data, uint64_t *res),
    (o->px.user, fd, off, data, res))
FWD(renameat, (void *user, int dirfd, const char *from, const char *to),
    (o->px.user, dirfd, from, to))
FWD(unlinkat, (void *user, int dirfd, const char *name),
    (o->px.user, dirfd, name))

/* A sync that carries a new term and entries of it makes the hard state
 * durable first: a crash between the two fdatasyncs then leaves a term
 * ahead of the log (consistent), never the reverse. */
START_TEST(test_sync_hardstate_first)
{
    char dir[512];
    st_tmpdir(dir, sizeof(dir), "damage");
    static struct order o;
    memset(&o, 0, sizeof(o));
    fs_io_posix(&o.px);
    struct fs_io io = {&o,         o_openat,   o_close,     o_pwrite,
                       o_pread,    o_fdatasync, o_fsync,    o_ftruncate,
                       o_fallocate, o_fsize,   o_seek,      o_renameat,
                       o_unlinkat};
    craft_file_storage_options opts;
    craft_file_storage_options_init(&opts);
    opts.preallocate = 0;
    craft_file_storage *fs = NULL;
    ck_assert_int_eq(fs_open_io(dir, &opts, &io, &fs), CRAFT_OK);
    craft_storage_ops st;
    craft_storage_ops_init(&st);
    ck_assert_int_eq(craft_file_storage_ops(fs, &st), CRAFT_OK);
    struct st_model m;
    memset(&m, 0, sizeof(m));
    ck_assert_int_eq(st.save_hard_state(st.user, 1, 0), CRAFT_OK);
    ck_assert_int_eq(st_append(&st, &m, 1, 1, 0, 16), CRAFT_OK);
    ck_assert_int_eq(st.sync(st.user), CRAFT_OK);
    o.nsynced = 0;
    ck_assert_int_eq(st.save_hard_state(st.user, 2, 3), CRAFT_OK);
    ck_assert_int_eq(st_append(&st, &m, 2, 2, 0, 16), CRAFT_OK);
    ck_assert_int_eq(st.sync(st.user), CRAFT_OK);
    ck_assert_int_eq(o.nsynced, 2);
    ck_assert_str_eq(o.synced[0], "hardstate");
    ck_assert_ptr_nonnull(strstr(o.synced[1], "segment-"));
    craft_file_storage_close(fs);
    st_tmpdir_remove(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("storage-damage");
    TCase *tc = tcase_create("damage");
    tcase_add_test(tc, test_no_metadata_but_a_vote);
    tcase_add_test(tc, test_no_metadata_fresh_hardstate);
    tcase_add_test(tc, test_hardstate_behind_log);
    tcase_add_test(tc, test_sync_hardstate_first);
    suite_add_tcase(s, tc);
    return s;
}

ST_TEST_MAIN(suite)
