/*
 * tests/storage/test_storage_faults.c: the file storage under injected
 * faults (tests/storage/faultio.h).
 *
 * A deterministic workload (appends in rounds, syncs, hard states,
 * conflicts, truncations, local and received snapshots, across small
 * segments) runs once without faults to count its write and sync points.
 * Then it runs again for every point and every fault: a crash there (the
 * disk loses what was not synced, keeps a torn half of the interrupted
 * write, or keeps later writes but not earlier ones), EIO or ENOSPC there,
 * a short write there. After each run the directory is opened again and
 * must hold:
 *
 *  - no corruption: open succeeds (a crash is never "corrupt");
 *  - every entry whose sync returned OK (unless a later truncation that
 *    returned OK removed it), with its exact term and bytes;
 *  - after those, only entries that were written (nothing half-written:
 *    every entry is one that an append got, whole);
 *  - the hard state of the last save that returned OK, or the one whose
 *    save was interrupted;
 *  - the last snapshot whose LAST write returned OK, or the one whose
 *    LAST write was interrupted, with exactly its bytes.
 *
 * After EIO/ENOSPC the storage must stay stopped: no later sync returns
 * OK (a failed fsync is never retried as if the data were safe). After a
 * short write nothing fails at all. Every sync mode but the unsafe one
 * runs it; O_DIRECT writes must keep to 4 KiB alignment.
 */
#define _GNU_SOURCE /* SEEK_DATA */
#include "faultio.h"
#include "storage_test.h"

#define MAX_IDX 2048
#define GENS 8

struct val {
    uint64_t term, gen;
    uint32_t len;
};

/* What the workload did, as far as the storage said OK. */
struct model {
    /* the log as written (cur) and as of the last OK sync (dur) */
    struct val cur[MAX_IDX + 1];
    uint64_t cur_last;
    struct val dur[MAX_IDX + 1];
    uint64_t dur_last;
    /* lowest index a truncation removed since the last OK sync */
    uint64_t cut;
    /* values written at an index since the last OK sync */
    struct val since[MAX_IDX + 1][GENS];
    int nsince[MAX_IDX + 1];
    /* hard state */
    uint64_t hs_term, hs_vote;
    int hs_pending; /* a save that did not return OK */
    uint64_t hsp_term, hsp_vote;
    /* snapshots: the current one, and one whose LAST did not return */
    uint64_t snap_index, snap_term, snap_seed;
    size_t snap_len;
    int snap_pending;
    uint64_t sp_index, sp_term, sp_seed;
    size_t sp_len;
    uint64_t gen;
    uint64_t term;
};

static struct model W;
static uint32_t MODE;
static unsigned char SNAPBUF[1 << 16];

static void snap_fill(uint64_t seed, size_t len)
{
    st_payload(SNAPBUF, len, seed, 5);
}

static void note_since(uint64_t i, struct val v)
{
    if (W.nsince[i] < GENS) {
        W.since[i][W.nsince[i]++] = v;
    } else {
        W.since[i][GENS - 1] = v;
    }
}

static void model_synced(void)
{
    memcpy(W.dur, W.cur, sizeof(W.dur));
    W.dur_last = W.cur_last;
    W.cut = UINT64_MAX;
    memset(W.nsince, 0, sizeof(W.nsince));
}

/* ---- the workload ------------------------------------------------------ */

static uint64_t rng;

static unsigned rnd(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(rng >> 33);
}

static int do_append(const craft_storage_ops *ops, uint64_t index,
                     size_t len)
{
    static unsigned char buf[8192];
    struct val v = {W.term, ++W.gen, (uint32_t)len};
    st_payload(buf, len, index, v.gen);
    note_since(index, v); /* it may reach the disk even if it fails */
    int rv = ops->append(ops->user, index, v.term, CRAFT_ENTRY_NORMAL, buf,
                         len);
    if (rv == CRAFT_OK) {
        if (index <= W.cur_last && index < W.cut) {
            W.cut = index;
        }
        W.cur[index] = v;
        W.cur_last = index;
    } else if (index <= W.cur_last && index < W.cut) {
        W.cut = index; /* a failed append may have cut the log */
    }
    return rv;
}

static int do_hs(const craft_storage_ops *ops, uint64_t term, uint64_t vote)
{
    int rv = ops->save_hard_state(ops->user, term, vote);
    if (rv == CRAFT_OK) {
        W.hs_term = term;
        W.hs_vote = vote;
        W.term = term;
    } else {
        W.hs_pending = 1;
        W.hsp_term = term;
        W.hsp_vote = vote;
    }
    return rv;
}

static int do_sync(const craft_storage_ops *ops)
{
    int rv = ops->sync(ops->user);
    if (rv == CRAFT_OK) {
        model_synced();
    }
    return rv;
}

static int do_truncate(const craft_storage_ops *ops, uint64_t index)
{
    int rv = ops->truncate(ops->user, index);
    if (index <= W.cur_last && index < W.cut) {
        W.cut = index; /* done or maybe done */
    }
    if (rv == CRAFT_OK && index <= W.cur_last) {
        W.cur_last = index - 1;
    }
    return rv;
}

/* A snapshot at index of len bytes: one call (local) or in chunks. */
static int do_snapshot(const craft_storage_ops *ops, uint64_t index,
                       uint64_t term, size_t len, int chunks)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = st_conf(conf, 0);
    uint64_t seed = index * 31 + term;
    snap_fill(seed, len);
    size_t off = 0;
    int rv = CRAFT_OK;
    for (int c = 0; c < chunks && rv == CRAFT_OK; c++) {
        size_t k = c + 1 == chunks ? len - off : len / (size_t)chunks;
        int last = c + 1 == chunks;
        if (last) {
            W.snap_pending = 1;
            W.sp_index = index;
            W.sp_term = term;
            W.sp_seed = seed;
            W.sp_len = len;
        }
        rv = ops->snapshot_write(ops->user, index, term, off, SNAPBUF + off,
                                 k, last ? conf : NULL, last ? clen : 0,
                                 last ? CRAFT_SNAPSHOT_F_LAST : 0);
        off += k;
        if (last && rv == CRAFT_OK) {
            W.snap_pending = 0;
            if (index > W.snap_index) {
                W.snap_index = index;
                W.snap_term = term;
                W.snap_seed = seed;
                W.snap_len = len;
            }
        }
    }
    return rv;
}

/* Runs the workload until it ends or a call fails; returns the first
 * error (CRAFT_OK if none). */
static int workload(const craft_storage_ops *ops, uint64_t seed)
{
    int rv;
    rng = seed;
    W.term = 1;
    rv = do_hs(ops, 1, 1);
    for (int step = 0; rv == CRAFT_OK && step < 70; step++) {
        unsigned r = rnd();
        if (r % 9 == 0 && W.cur_last > W.snap_index + 3) {
            /* a conflict: a new term, its leader's entries replace ours */
            rv = do_hs(ops, W.term + 1, 0);
            if (rv == CRAFT_OK) {
                rv = do_append(ops, W.cur_last - r % 3, 40 + r % 100);
            }
        } else if (r % 11 == 0 && W.cur_last > W.snap_index + 2) {
            rv = do_truncate(ops, W.cur_last - r % 2);
        } else if (r % 13 == 0 && W.cur_last > W.snap_index) {
            uint64_t at = W.snap_index + 1 + r % (W.cur_last - W.snap_index);
            rv = do_snapshot(ops, at, W.cur[at].term, 200 + r % 3000, 1);
        } else if (r % 29 == 0) {
            /* from a leader, past our log */
            uint64_t at = W.cur_last + 3;
            rv = do_snapshot(ops, at, W.term, 5000 + r % 9000, 3);
            if (rv == CRAFT_OK) {
                W.cur_last = at;
            }
        }
        if (rv != CRAFT_OK) {
            break;
        }
        int n = 1 + (int)(r % 7);
        for (int k = 0; k < n && rv == CRAFT_OK; k++) {
            size_t len = (r >> 8) % 5 == 0 ? 1500 + r % 3000 : r % 200;
            rv = do_append(ops, W.cur_last + 1, len);
        }
        if (rv == CRAFT_OK && r % 5 != 0) {
            rv = do_sync(ops);
        }
    }
    if (rv == CRAFT_OK) {
        rv = do_sync(ops);
    }
    return rv;
}

/* ---- a run ----------------------------------------------------------------- */

static craft_file_storage_options opts(char *err, size_t cap)
{
    craft_file_storage_options o = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    o.sync_mode = MODE;
    o.segment_bytes = 12288; /* many rolls, and zeros written ahead */
    o.preallocate = 1;
    o.errbuf = err;
    o.errbuf_size = cap;
    return o;
}

static const char *kind_name(int k)
{
    static const char *names[] = {"none", "EIO", "ENOSPC", "short write",
                                  "crash (lose unsynced)", "crash (torn)",
                                  "crash (reordered)", "crash (process)"};
    return names[k];
}

/* Opens dir through a pass-through fault layer (no real syncs: fast) and
 * checks it against the model. */
static void check_dir(const char *dir, uint64_t point, int kind)
{
    struct fi f;
    struct fs_io io;
    char err[512] = "";
    craft_file_storage *fs = NULL;
    craft_storage_ops ops = CRAFT_STORAGE_OPS_INIT;
    craft_file_storage_options o = opts(err, sizeof(err));
    fi_init(&f, dir, 0, FI_NONE);
    fi_table(&f, &io);
    int rv = fs_open_io(dir, &o, &io, &fs);
    ck_assert_msg(rv == CRAFT_OK, "%s at point %llu: reopen: %s: %s",
                  kind_name(kind), (unsigned long long)point,
                  craft_strerror(rv), err);
    craft_file_storage_ops(fs, &ops);
    craft_node *node = NULL;
    rv = st_node_load(&ops, &node);
    ck_assert_msg(rv == CRAFT_OK, "%s at point %llu: load: %s",
                  kind_name(kind), (unsigned long long)point,
                  craft_strerror(rv));
    const struct craft_engine *e = st_engine(node);
    const struct craft_log *l = &e->log;
#define WHERE kind_name(kind), (unsigned long long)point
    /* hard state */
    int hs_ok = (e->term == W.hs_term && e->vote == W.hs_vote) ||
                (W.hs_pending && e->term == W.hsp_term &&
                 e->vote == W.hsp_vote);
    ck_assert_msg(hs_ok, "%s at point %llu: hard state (%llu, %llu), want "
                  "(%llu, %llu)", WHERE, (unsigned long long)e->term,
                  (unsigned long long)e->vote,
                  (unsigned long long)W.hs_term,
                  (unsigned long long)W.hs_vote);
    /* snapshot */
    uint64_t si = l->snap_index;
    int snap_ok = si == W.snap_index ||
                  (W.snap_pending && si == W.sp_index);
    ck_assert_msg(snap_ok, "%s at point %llu: snapshot %llu, want %llu",
                  WHERE, (unsigned long long)si,
                  (unsigned long long)W.snap_index);
    if (si != 0) {
        int pend = si != W.snap_index;
        uint64_t seed = pend ? W.sp_seed : W.snap_seed;
        size_t len = pend ? W.sp_len : W.snap_len;
        static unsigned char got[1 << 16];
        size_t n = 0;
        int last = 0;
        ck_assert_int_eq(ops.snapshot_read(ops.user, si, 0, got, sizeof(got),
                                           &n, &last),
                         CRAFT_OK);
        snap_fill(seed, len);
        ck_assert_msg(n == len && last && memcmp(got, SNAPBUF, n) == 0,
                      "%s at point %llu: snapshot bytes", WHERE);
    }
    /* the log: what was synced is there, then only whole written
     * entries */
    uint64_t must = W.dur_last;
    if (W.cut != UINT64_MAX && W.cut - 1 < must) {
        must = W.cut - 1;
    }
    uint64_t last = craft_log_last(l);
    ck_assert_msg(last >= must || last == si,
                  "%s at point %llu: the log ends at %llu, synced to %llu",
                  WHERE, (unsigned long long)last, (unsigned long long)must);
    if (last < must) {
        ck_assert_uint_ge(si, must); /* covered by the snapshot */
    }
    static unsigned char buf[8192];
    for (uint64_t i = si + 1; i <= last; i++) {
        const struct craft_entry *ent = craft_log_get(l, i);
        int ok = 0;
        struct val cand[GENS + 1];
        int nc = 0;
        if (i <= W.dur_last) {
            cand[nc++] = W.dur[i];
        }
        for (int k = 0; k < W.nsince[i]; k++) {
            cand[nc++] = W.since[i][k];
        }
        for (int k = 0; k < nc && !ok; k++) {
            if (i <= must && k > 0) {
                break; /* synced and not cut: only the synced value */
            }
            if (cand[k].term == ent->term && cand[k].len == ent->len) {
                st_payload(buf, ent->len, i, cand[k].gen);
                ok = ent->len == 0 || memcmp(buf, ent->data, ent->len) == 0;
            }
        }
        ck_assert_msg(ok, "%s at point %llu: entry %llu (term %llu, %u "
                      "bytes) is not one that was written there", WHERE,
                      (unsigned long long)i, (unsigned long long)ent->term,
                      ent->len);
    }
#undef WHERE
    craft_node_free(node);
    craft_file_storage_close(fs);
    fi_free(&f);
}

/* One run with fault kind at point (0: none); returns the points seen. */
static uint64_t run(uint64_t point, int kind, uint64_t seed)
{
    char dir[512], err[512] = "";
    struct fi f;
    struct fs_io io;
    craft_file_storage *fs = NULL;
    craft_storage_ops ops = CRAFT_STORAGE_OPS_INIT;
    memset(&W, 0, sizeof(W));
    W.cut = UINT64_MAX;
    st_tmpdir_mem(dir, sizeof(dir), "fault");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    fi_init(&f, dir, point, kind);
    fi_table(&f, &io);
    craft_file_storage_options o = opts(err, sizeof(err));
    int rv = fs_open_io(dir, &o, &io, &fs);
    if (rv == CRAFT_OK) {
        craft_file_storage_ops(fs, &ops);
        rv = workload(&ops, seed);
        if (rv != CRAFT_OK && !fi_is_crash(kind)) {
            /* fail-stop: nothing works any more, a sync least of all */
            ck_assert_msg(ops.sync(ops.user) != CRAFT_OK,
                          "%s at point %llu: a sync succeeded after %s",
                          kind_name(kind), (unsigned long long)point,
                          craft_strerror(rv));
            ck_assert_int_ne(ops.append(ops.user, W.cur_last + 1, W.term, 1,
                                        "x", 1),
                             CRAFT_OK);
            char msg[512];
            ck_assert_uint_gt(craft_file_storage_errmsg(fs, msg, sizeof(msg)),
                              0);
        }
        if (kind == FI_SHORT || kind == FI_NONE) {
            ck_assert_msg(rv == CRAFT_OK, "%s at point %llu: %s (%s)",
                          kind_name(kind), (unsigned long long)point,
                          craft_strerror(rv),
                          (craft_file_storage_errmsg(fs, err, sizeof(err)),
                           err));
        }
        craft_file_storage_close(fs);
    }
    ck_assert_msg(f.misaligned == 0,
                  "%s at point %llu: %llu O_DIRECT writes not 4 KiB "
                  "aligned", kind_name(kind), (unsigned long long)point,
                  (unsigned long long)f.misaligned);
    uint64_t points = f.points;
    if (!f.crashed) {
        /* EIO/ENOSPC: the process lives on and the kernel keeps what it
         * has; the disk is what faultio left */
    }
    fi_free(&f);
    check_dir(dir, point, kind);
    st_tmpdir_remove(dir);
    return points;
}

static void every_point(uint32_t mode, uint64_t seed, const int *kinds,
                        int nkinds, uint64_t stride)
{
    MODE = mode;
    uint64_t points = run(0, FI_NONE, seed);
    ck_assert_uint_gt(points, 100);
    const char *only = getenv("CRAFT_FAULT_POINT");
    for (uint64_t p = 1; p <= points; p += stride) {
        if (only != NULL && (uint64_t)atoll(only) != p) {
            continue;
        }
        for (int k = 0; k < nkinds; k++) {
            run(p, kinds[k], seed);
        }
    }
}

static const int CRASHES[] = {FI_CRASH_LOSE, FI_CRASH_TORN, FI_CRASH_REORDER,
                              FI_CRASH_KEEP};
static const int ERRORS[] = {FI_EIO, FI_ENOSPC, FI_SHORT};

/* CRAFT_FAULT_SEEDS=N runs N workloads instead of 1 (a longer soak). */
static int seeds(void)
{
    const char *s = getenv("CRAFT_FAULT_SEEDS");
    int n = s != NULL ? atoi(s) : 1;
    return n > 0 ? n : 1;
}

START_TEST(crash_at_every_point_fdatasync)
{
    for (int s = 0; s < seeds(); s++) {
        every_point(CRAFT_FILE_SYNC_FDATASYNC, 1000 + (uint64_t)s, CRASHES,
                    4, 1);
    }
}
END_TEST

START_TEST(errors_at_every_point_fdatasync)
{
    for (int s = 0; s < seeds(); s++) {
        every_point(CRAFT_FILE_SYNC_FDATASYNC, 2000 + (uint64_t)s, ERRORS, 3,
                    1);
    }
}
END_TEST

START_TEST(crash_at_every_point_dsync)
{
    for (int s = 0; s < seeds(); s++) {
        every_point(CRAFT_FILE_SYNC_DSYNC, 3000 + (uint64_t)s, CRASHES, 4, 1);
    }
}
END_TEST

START_TEST(errors_at_every_point_dsync)
{
    for (int s = 0; s < seeds(); s++) {
        every_point(CRAFT_FILE_SYNC_DSYNC, 4000 + (uint64_t)s, ERRORS, 3, 1);
    }
}
END_TEST

/* O_DIRECT | O_DSYNC segments: whole 4 KiB blocks, the partial last
 * one written again with each sync (faultio keeps O_DIRECT's alignment
 * rules on any filesystem). */
START_TEST(crash_at_every_point_direct)
{
    for (int s = 0; s < seeds(); s++) {
        every_point(CRAFT_FILE_SYNC_DIRECT, 5000 + (uint64_t)s, CRASHES, 4,
                    1);
    }
}
END_TEST

START_TEST(errors_at_every_point_direct)
{
    for (int s = 0; s < seeds(); s++) {
        every_point(CRAFT_FILE_SYNC_DIRECT, 6000 + (uint64_t)s, ERRORS, 3,
                    1);
    }
}
END_TEST

/* The fault layer itself: a crash really loses unsynced writes (so the
 * tests above are not vacuous). */
START_TEST(faultio_loses_unsynced)
{
    char dir[512];
    struct fi f;
    struct fs_io io;
    craft_file_storage *fs = NULL;
    craft_storage_ops ops = CRAFT_STORAGE_OPS_INIT;
    char err[512];
    MODE = CRAFT_FILE_SYNC_FDATASYNC;
    craft_file_storage_options o = opts(err, sizeof(err));
    st_tmpdir_mem(dir, sizeof(dir), "fault");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    /* count the points of: open, hs, 3 appends + sync, 3 appends */
    fi_init(&f, dir, 0, FI_NONE);
    fi_table(&f, &io);
    ck_assert_int_eq(fs_open_io(dir, &o, &io, &fs), CRAFT_OK);
    craft_file_storage_ops(fs, &ops);
    ck_assert_int_eq(ops.save_hard_state(ops.user, 1, 0), CRAFT_OK);
    for (uint64_t i = 1; i <= 3; i++) {
        ck_assert_int_eq(ops.append(ops.user, i, 1, 1, "abc", 3), CRAFT_OK);
    }
    ck_assert_int_eq(ops.sync(ops.user), CRAFT_OK);
    for (uint64_t i = 4; i <= 6; i++) {
        ck_assert_int_eq(ops.append(ops.user, i, 1, 1, "abc", 3), CRAFT_OK);
    }
    uint64_t before_close = f.points;
    /* the close writes 4..6 (a point); crash exactly there, torn */
    f.fail_at = before_close + 1;
    f.kind = FI_CRASH_LOSE;
    craft_file_storage_close(fs);
    ck_assert_int_eq(f.crashed, 1);
    fi_free(&f);
    fi_init(&f, dir, 0, FI_NONE);
    fi_table(&f, &io);
    ck_assert_int_eq(fs_open_io(dir, &o, &io, &fs), CRAFT_OK);
    craft_file_storage_ops(fs, &ops);
    craft_node *node = NULL;
    ck_assert_int_eq(st_node_load(&ops, &node), CRAFT_OK);
    ck_assert_uint_eq(craft_log_last(&st_engine(node)->log), 3);
    craft_node_free(node);
    craft_file_storage_close(fs);
    fi_free(&f);
    st_tmpdir_remove(dir);
}
END_TEST

static Suite *fault_suite(void)
{
    Suite *s = suite_create("storage-faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, faultio_loses_unsynced);
    tcase_add_test(tc, crash_at_every_point_fdatasync);
    tcase_add_test(tc, errors_at_every_point_fdatasync);
    tcase_add_test(tc, crash_at_every_point_dsync);
    tcase_add_test(tc, errors_at_every_point_dsync);
    tcase_add_test(tc, crash_at_every_point_direct);
    tcase_add_test(tc, errors_at_every_point_direct);
    suite_add_tcase(s, tc);
    return s;
}

ST_TEST_MAIN(fault_suite)
