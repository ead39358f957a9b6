/*
 * tests/storage/test_storage_conformance.c: the craft_storage_ops
 * contract (craft/node.h), written once and run against every storage
 * craft ships: the in-memory test storage and the file storage (in each
 * sync mode, and with tiny segments so that every test crosses segment
 * boundaries). Each test names the contract sentence it checks.
 *
 * "Restart" closes and reopens the storage (the memory storage simply
 * stays); what it holds is read back through a node's load.
 */
#include "storage_test.h"

enum kind { MEM, FILE_FDATASYNC, FILE_DSYNC, FILE_DIRECT, FILE_SMALL,
            FILE_NONE };

static struct {
    enum kind kind;
    craft_mem_storage *ms;
    craft_file_storage *fs;
    char dir[512];
    craft_storage_ops ops;
} B;

static struct st_model M;

static void open_file(void)
{
    craft_file_storage_options o = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    char err[512] = "";
    o.errbuf = err;
    o.errbuf_size = sizeof(err);
    switch (B.kind) {
    case FILE_DSYNC:
        o.sync_mode = CRAFT_FILE_SYNC_DSYNC;
        break;
    case FILE_DIRECT:
        o.sync_mode = CRAFT_FILE_SYNC_DIRECT;
        break;
    case FILE_SMALL:
        o.segment_bytes = 4096;
        o.preallocate = 0;
        break;
    case FILE_NONE:
        o.sync_mode = CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS;
        break;
    default:
        break;
    }
    int rv = craft_file_storage_open(B.dir, &o, &B.fs);
    ck_assert_msg(rv == CRAFT_OK, "open: %s (%s)", craft_strerror(rv), err);
    ck_assert_int_eq(craft_file_storage_ops(B.fs, &B.ops), CRAFT_OK);
}

static void setup(enum kind k)
{
    memset(&B, 0, sizeof(B));
    memset(&M, 0, sizeof(M));
    B.kind = k;
    craft_storage_ops_init(&B.ops);
    if (k == MEM) {
        ck_assert_int_eq(craft_mem_storage_create(NULL, &B.ms), CRAFT_OK);
        ck_assert_int_eq(craft_mem_storage_ops(B.ms, &B.ops), CRAFT_OK);
        return;
    }
    st_tmpdir(B.dir, sizeof(B.dir), "conf");
    open_file();
}

static void setup_mem(void) { setup(MEM); }
static void setup_file(void) { setup(FILE_FDATASYNC); }
static void setup_dsync(void) { setup(FILE_DSYNC); }
static void setup_small(void) { setup(FILE_SMALL); }
static void setup_none(void) { setup(FILE_NONE); }

/* O_DIRECT needs a filesystem that has it; fall back to DSYNC (and say
 * so) where it does not. */
static void setup_direct(void)
{
    char probe[512];
    craft_file_storage *fs = NULL;
    craft_file_storage_options o = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    st_tmpdir(probe, sizeof(probe), "probe");
    o.sync_mode = CRAFT_FILE_SYNC_DIRECT;
    int rv = craft_file_storage_open(probe, &o, &fs);
    if (rv == CRAFT_OK) {
        /* O_DIRECT is only tried on the first segment */
        craft_storage_ops ops = CRAFT_STORAGE_OPS_INIT;
        unsigned char x = 1;
        craft_file_storage_ops(fs, &ops);
        rv = ops.append(ops.user, 1, 1, CRAFT_ENTRY_NORMAL, &x, 1);
        craft_file_storage_close(fs);
    }
    st_tmpdir_remove(probe);
    if (rv != CRAFT_OK) {
        fprintf(stderr, "conformance: O_DIRECT unsupported under TMPDIR; "
                        "the DIRECT case runs DSYNC\n");
        setup(FILE_DSYNC);
        return;
    }
    setup(FILE_DIRECT);
}

static void teardown(void)
{
    craft_mem_storage_free(B.ms);
    craft_file_storage_close(B.fs);
    if (B.dir[0] != '\0') {
        st_tmpdir_remove(B.dir);
    }
}

/* A restart: the storage as a new process would find it. */
static void restart(void)
{
    if (B.kind == MEM) {
        return;
    }
    craft_file_storage_close(B.fs);
    B.fs = NULL;
    craft_storage_ops_init(&B.ops);
    open_file();
}

static void check_loaded(void)
{
    craft_node *node = NULL;
    int rv = st_node_load(&B.ops, &node);
    ck_assert_msg(rv == CRAFT_OK, "load: %s", craft_strerror(rv));
    st_check_loaded(node, &M);
    craft_node_free(node);
}

static int sync_all(void)
{
    return B.ops.sync != NULL ? B.ops.sync(B.ops.user) : CRAFT_OK;
}

static void hard_state(uint64_t term, uint64_t vote)
{
    ck_assert_int_eq(B.ops.save_hard_state(B.ops.user, term, vote),
                     CRAFT_OK);
    M.term = term;
    M.vote = vote;
}

static void append_range(uint64_t from, uint64_t to, uint64_t term,
                         uint64_t gen, size_t len)
{
    for (uint64_t i = from; i <= to; i++) {
        ck_assert_int_eq(st_append(&B.ops, &M, i, term, gen, len), CRAFT_OK);
    }
}

/* A whole snapshot in one call (a local one) at index/term with bytes of
 * len from seed; membership variant v. */
static unsigned char snapbuf[1u << 20];
static void fill_snap(size_t len, uint64_t seed)
{
    st_payload(snapbuf, len, seed, 77);
}

static int snapshot_local(uint64_t index, uint64_t term, size_t len, int v)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = st_conf(conf, v);
    fill_snap(len, index);
    return B.ops.snapshot_write(B.ops.user, index, term, 0, snapbuf, len,
                                conf, clen, CRAFT_SNAPSHOT_F_LAST);
}

/* Reads the whole snapshot at index in pieces of step bytes and checks
 * it against seed; checks *last on every piece. */
static void check_snapshot_bytes(uint64_t index, size_t len, uint64_t seed,
                                 size_t step)
{
    static unsigned char got[1u << 20];
    size_t off = 0;
    fill_snap(len, seed);
    for (;;) {
        size_t n = 99;
        int last = -1;
        int rv = B.ops.snapshot_read(B.ops.user, index, off, got + off,
                                     step, &n, &last);
        ck_assert_int_eq(rv, CRAFT_OK);
        ck_assert_uint_le(n, step);
        off += n;
        ck_assert_uint_le(off, len);
        ck_assert_int_eq(last, off == len);
        if (last) {
            break;
        }
        ck_assert_uint_gt(n, 0);
    }
    ck_assert_uint_eq(off, len);
    ck_assert(memcmp(got, snapbuf, len) == 0);
}

/* ---- load ---------------------------------------------------------------- */

/* "An empty storage feeds nothing." */
START_TEST(load_empty_feeds_nothing)
{
    craft_node *node = NULL;
    check_loaded();
    restart();
    check_loaded();
    /* nothing loaded: the node may found a cluster */
    ck_assert_int_eq(st_node_load(&B.ops, &node), CRAFT_OK);
    uint64_t self = 1;
    ck_assert_int_eq(craft_node_bootstrap(node, &self, 1), CRAFT_OK);
    craft_node_free(node);
}
END_TEST

/* "feed the persisted state ...: the hard state, then the latest
 * complete snapshot's metadata if any, then the log entries in index
 * order." */
START_TEST(load_feeds_everything_in_order)
{
    hard_state(7, 2);
    append_range(1, 30, 3, 1, 40);
    append_range(31, 40, 7, 1, 0);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    ck_assert_int_eq(snapshot_local(12, 3, 1000, 0), CRAFT_OK);
    M.snap_index = 12;
    M.snap_term = 3;
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_loaded();
    restart();
    check_loaded();
    check_snapshot_bytes(12, 1000, 12, 4096);
}
END_TEST

/* ---- save_hard_state --------------------------------------------------- */

/* "record (term, vote), replacing the old one." */
START_TEST(hard_state_replaces)
{
    for (uint64_t t = 1; t <= 50; t++) {
        hard_state(t, t % 3);
        if (t % 7 == 0) {
            ck_assert_int_eq(sync_all(), CRAFT_OK);
        }
    }
    hard_state(51, 0);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_loaded();
    restart();
    check_loaded();
    hard_state(52, 3);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
}
END_TEST

/* ---- append ------------------------------------------------------------ */

/* "write one log entry at index (the log after index-1); data is
 * borrowed for the call." (st_append scribbles over the buffer after
 * each call.) "Entries of one round arrive one call each, then one
 * sync." */
START_TEST(append_round_then_sync)
{
    hard_state(5, 0);
    for (uint64_t round = 0; round < 20; round++) {
        uint64_t base = M.last;
        append_range(base + 1, base + 1 + round, 1 + round / 4, round,
                     (size_t)(round * 13) % 300);
        ck_assert_int_eq(sync_all(), CRAFT_OK);
    }
    check_loaded();
    restart();
    check_loaded();
}
END_TEST

/* "the log after index-1": appending at an index already in the log
 * replaces that entry and deletes everything after it. */
START_TEST(append_replaces_suffix)
{
    hard_state(9, 0);
    append_range(1, 20, 2, 1, 30);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    ck_assert_int_eq(st_append(&B.ops, &M, 8, 5, 2, 17), CRAFT_OK);
    ck_assert_uint_eq(M.last, 8);
    append_range(9, 11, 5, 2, 17);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_loaded();
    restart();
    check_loaded();
    /* and again at the very first index */
    ck_assert_int_eq(st_append(&B.ops, &M, 1, 9, 3, 5), CRAFT_OK);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
}
END_TEST

/* Entries of every size: empty, larger than any write buffer. */
START_TEST(append_sizes)
{
    hard_state(3, 1);
    size_t sizes[] = {0, 1, 7, 8, 9, 63, 64, 65, 4095, 4096, 4097,
                      70000, (size_t)1 << 20, ((size_t)3 << 20) + 5, 0, 3};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        ck_assert_int_eq(st_append(&B.ops, &M, k + 1, 3, 9, sizes[k]),
                         CRAFT_OK);
    }
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_loaded();
    restart();
    check_loaded();
}
END_TEST

/* "Every method returns CRAFT_OK or a negative code": appends that would
 * leave a gap are refused, and the log is unchanged. */
START_TEST(append_gap_refused)
{
    hard_state(3, 0);
    append_range(1, 5, 1, 1, 10);
    int rv = B.ops.append(B.ops.user, 7, 1, CRAFT_ENTRY_NORMAL, "x", 1);
    ck_assert_int_lt(rv, 0);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_loaded();
    restart();
    check_loaded();
}
END_TEST

/* ---- truncate ---------------------------------------------------------- */

/* "delete log entries >= index." */
START_TEST(truncate_suffix)
{
    hard_state(8, 1);
    append_range(1, 40, 2, 1, 100);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    ck_assert_int_eq(B.ops.truncate(B.ops.user, 25), CRAFT_OK);
    M.last = 24;
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_loaded();
    restart();
    check_loaded();
    /* beyond the end: nothing to delete */
    ck_assert_int_eq(B.ops.truncate(B.ops.user, 100), CRAFT_OK);
    /* new entries where the old ones were: never the old ones back */
    append_range(25, 30, 8, 2, 3);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
    /* everything */
    ck_assert_int_eq(B.ops.truncate(B.ops.user, 1), CRAFT_OK);
    M.last = 0;
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
    append_range(1, 3, 8, 3, 10);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
}
END_TEST

/* Truncations and appends interleaved within one round (one sync). */
START_TEST(truncate_within_round)
{
    hard_state(20, 0);
    append_range(1, 10, 1, 1, 50);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    append_range(11, 15, 2, 1, 50);
    ck_assert_int_eq(B.ops.truncate(B.ops.user, 13), CRAFT_OK);
    M.last = 12;
    append_range(13, 14, 3, 2, 60);
    ck_assert_int_eq(B.ops.truncate(B.ops.user, 6), CRAFT_OK);
    M.last = 5;
    append_range(6, 9, 4, 3, 70);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_loaded();
    restart();
    check_loaded();
}
END_TEST

/* ---- sync -------------------------------------------------------------- */

/* "make every write so far durable": what was written before a sync
 * survives a restart. */
START_TEST(sync_makes_durable)
{
    hard_state(2, 1);
    append_range(1, 100, 2, 1, 64);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
    /* a sync with nothing to write is fine too */
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
}
END_TEST

/* ---- snapshot_write ------------------------------------------------------ */

/* "With CRAFT_SNAPSHOT_F_LAST the new snapshot is complete: store conf
 * ... and make it the current one." "Log entries <= index may then be
 * dropped" (and are not loaded). */
START_TEST(snapshot_local_becomes_current)
{
    hard_state(4, 0);
    append_range(1, 60, 4, 1, 200);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    ck_assert_int_eq(snapshot_local(50, 4, 5000, 1), CRAFT_OK);
    M.snap_index = 50;
    M.snap_term = 4;
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_snapshot_bytes(50, 5000, 50, 777);
    check_loaded();
    restart();
    check_loaded();
    check_snapshot_bytes(50, 5000, 50, 1 << 16);
    /* the membership comes back exactly */
    craft_node *node = NULL;
    ck_assert_int_eq(st_node_load(&B.ops, &node), CRAFT_OK);
    ck_assert_uint_eq(st_engine(node)->snap_conf.m[0].id, 11);
    craft_node_free(node);
    /* the log goes on after it */
    append_range(61, 70, 4, 2, 20);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
}
END_TEST

/* "offset 0 starts a new snapshot; the current one stays in force until
 * the new one completes." "The chunks of a snapshot received from the
 * leader arrive in order." */
START_TEST(snapshot_chunks_keep_current_until_last)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = st_conf(conf, 2);
    hard_state(6, 0);
    append_range(1, 10, 6, 1, 10);
    ck_assert_int_eq(snapshot_local(5, 6, 300, 0), CRAFT_OK);
    M.snap_index = 5;
    M.snap_term = 6;
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    /* a received one at 100, in uneven chunks */
    size_t len = 200000, off = 0, step = 1;
    fill_snap(len, 100);
    static unsigned char copy[1u << 20];
    memcpy(copy, snapbuf, len);
    while (off < len) {
        size_t k = step < len - off ? step : len - off;
        int last = off + k == len;
        int rv = B.ops.snapshot_write(B.ops.user, 100, 6, off, copy + off, k,
                                      last ? conf : NULL, last ? clen : 0,
                                      last ? CRAFT_SNAPSHOT_F_LAST : 0);
        ck_assert_int_eq(rv, CRAFT_OK);
        off += k;
        step = step * 3 + 1;
        if (!last) {
            /* not in force yet: the old one is */
            check_snapshot_bytes(5, 300, 5, 4096);
        }
    }
    M.snap_index = 100;
    M.snap_term = 6;
    M.last = 100;
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_snapshot_bytes(100, len, 100, 65536);
    /* the old one is gone */
    size_t n = 0;
    int lastf = 0;
    unsigned char b[8];
    ck_assert_int_eq(B.ops.snapshot_read(B.ops.user, 5, 0, b, 8, &n, &lastf),
                     CRAFT_ENOENT);
    /* the log was all <= 100: empty now; it goes on at 101 */
    check_loaded();
    append_range(101, 105, 6, 4, 9);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
    check_snapshot_bytes(100, len, 100, 100000);
}
END_TEST

/* A snapshot interrupted by a restart was never in force. */
START_TEST(snapshot_incomplete_not_in_force)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = st_conf(conf, 0);
    (void)clen;
    hard_state(6, 0);
    append_range(1, 10, 6, 1, 10);
    ck_assert_int_eq(snapshot_local(4, 6, 100, 0), CRAFT_OK);
    M.snap_index = 4;
    M.snap_term = 6;
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    fill_snap(5000, 9);
    ck_assert_int_eq(B.ops.snapshot_write(B.ops.user, 9, 6, 0, snapbuf, 5000,
                                          NULL, 0, 0),
                     CRAFT_OK);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
    check_snapshot_bytes(4, 100, 4, 33);
    if (B.kind != MEM) {
        /* and a chunk after the restart has nothing to continue */
        ck_assert_int_lt(B.ops.snapshot_write(B.ops.user, 9, 6, 5000,
                                              snapbuf, 10, NULL, 0, 0),
                         0);
    }
}
END_TEST

/* "a snapshot taken locally arrives in one call (offset 0 with
 * CRAFT_SNAPSHOT_F_LAST), possibly between two chunks of a received one
 * (whose index is then higher): it must not disturb it." */
START_TEST(snapshot_local_between_chunks)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = st_conf(conf, 1);
    static unsigned char recv[100000];
    hard_state(3, 0);
    append_range(1, 30, 3, 1, 10);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    fill_snap(sizeof(recv), 40);
    memcpy(recv, snapbuf, sizeof(recv));
    ck_assert_int_eq(B.ops.snapshot_write(B.ops.user, 40, 3, 0, recv, 30000,
                                          NULL, 0, 0),
                     CRAFT_OK);
    ck_assert_int_eq(snapshot_local(20, 3, 2000, 0), CRAFT_OK);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_snapshot_bytes(20, 2000, 20, 512);
    ck_assert_int_eq(B.ops.snapshot_write(B.ops.user, 40, 3, 30000,
                                          recv + 30000, 70000, conf, clen,
                                          CRAFT_SNAPSHOT_F_LAST),
                     CRAFT_OK);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    M.snap_index = 40;
    M.snap_term = 3;
    M.last = 40;
    check_snapshot_bytes(40, sizeof(recv), 40, 9999);
    check_loaded();
    restart();
    check_loaded();
    check_snapshot_bytes(40, sizeof(recv), 40, 1 << 20);
}
END_TEST

/* "a LAST write whose index is not newer than the current snapshot's
 * may be ignored": if it is, the current one stays whole. */
START_TEST(snapshot_older_last_ignored_or_taken)
{
    hard_state(3, 0);
    append_range(1, 30, 3, 1, 10);
    ck_assert_int_eq(snapshot_local(20, 3, 700, 0), CRAFT_OK);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    ck_assert_int_eq(snapshot_local(10, 3, 900, 1), CRAFT_OK);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    M.snap_index = 20;
    M.snap_term = 3;
    check_snapshot_bytes(20, 700, 20, 100);
    check_loaded();
    restart();
    check_loaded();
}
END_TEST

/* An empty snapshot (no bytes) is a snapshot too. */
START_TEST(snapshot_empty_data)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = st_conf(conf, 0);
    hard_state(3, 0);
    append_range(1, 3, 3, 1, 10);
    ck_assert_int_eq(B.ops.snapshot_write(B.ops.user, 2, 3, 0, NULL, 0, conf,
                                          clen, CRAFT_SNAPSHOT_F_LAST),
                     CRAFT_OK);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    M.snap_index = 2;
    M.snap_term = 3;
    check_snapshot_bytes(2, 0, 2, 10);
    restart();
    check_loaded();
    check_snapshot_bytes(2, 0, 2, 10);
}
END_TEST

/* ---- snapshot_read ------------------------------------------------------- */

/* "copy up to count bytes at offset ... set *n ... and *last to 1 when
 * they end the snapshot (else 0). CRAFT_ENOENT when the snapshot at index
 * is gone." */
START_TEST(snapshot_read_contract)
{
    unsigned char b[64];
    size_t n = 0;
    int last = 0;
    hard_state(3, 0);
    append_range(1, 10, 3, 1, 10);
    /* none yet */
    ck_assert_int_eq(B.ops.snapshot_read(B.ops.user, 5, 0, b, 8, &n, &last),
                     CRAFT_ENOENT);
    ck_assert_int_eq(snapshot_local(5, 3, 100, 0), CRAFT_OK);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    /* random offsets and counts */
    fill_snap(100, 5);
    for (size_t off = 0; off <= 100; off += 7) {
        for (size_t cnt = 0; cnt <= 40; cnt += 13) {
            n = 999;
            last = -1;
            ck_assert_int_eq(B.ops.snapshot_read(B.ops.user, 5, off, b, cnt,
                                                 &n, &last),
                             CRAFT_OK);
            size_t want = 100 - off < cnt ? 100 - off : cnt;
            ck_assert_uint_eq(n, want);
            ck_assert_int_eq(last, off + n == 100);
            ck_assert(memcmp(b, snapbuf + off, n) == 0);
        }
    }
    /* at the end: nothing, and last */
    ck_assert_int_eq(B.ops.snapshot_read(B.ops.user, 5, 100, b, 8, &n, &last),
                     CRAFT_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(last, 1);
    /* another index: gone (or never there) */
    ck_assert_int_eq(B.ops.snapshot_read(B.ops.user, 4, 0, b, 8, &n, &last),
                     CRAFT_ENOENT);
    ck_assert_int_eq(snapshot_local(8, 3, 10, 0), CRAFT_OK);
    ck_assert_int_eq(B.ops.snapshot_read(B.ops.user, 5, 0, b, 8, &n, &last),
                     CRAFT_ENOENT);
    ck_assert_int_eq(B.ops.snapshot_read(B.ops.user, 8, 0, b, 64, &n, &last),
                     CRAFT_OK);
    ck_assert_uint_eq(n, 10);
    ck_assert_int_eq(last, 1);
}
END_TEST

/* A snapshot past the end of the log (received from a leader): the log
 * is empty after it and goes on right after the snapshot's index. */
START_TEST(snapshot_beyond_log)
{
    hard_state(9, 0);
    append_range(1, 5, 2, 1, 10);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    ck_assert_int_eq(snapshot_local(50, 9, 64, 0), CRAFT_OK);
    M.snap_index = 50;
    M.snap_term = 9;
    M.last = 50;
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_loaded();
    restart();
    check_loaded();
    /* at or below the snapshot: refused */
    ck_assert_int_lt(B.ops.append(B.ops.user, 50, 9, CRAFT_ENTRY_NORMAL, "x",
                                  1),
                     0);
    append_range(51, 60, 9, 2, 30);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
}
END_TEST

/* ---- a longer life ------------------------------------------------------- */

/* Many rounds of appends, conflicts, snapshots and restarts against the
 * model, the way a node drives a storage. */
START_TEST(mixed_life)
{
    uint64_t seed = 12345, term = 1, gen = 1;
    hard_state(1, 0);
    for (int round = 0; round < 300; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(seed >> 33);
        if (r % 11 == 0 && M.last > M.snap_index + 2) {
            /* a conflict: the leader's entries replace ours */
            uint64_t at = M.last - r % 3;
            term++;
            gen++;
            hard_state(term, 0);
            ck_assert_int_eq(st_append(&B.ops, &M, at, term, gen, r % 90),
                             CRAFT_OK);
        } else if (r % 13 == 0 && M.last > M.snap_index) {
            uint64_t at = M.snap_index + 1 + r % (M.last - M.snap_index);
            ck_assert_int_eq(snapshot_local(at, M.eterm[at], r % 3000, 0),
                             CRAFT_OK);
            M.snap_index = at;
            M.snap_term = M.eterm[at];
        } else if (r % 17 == 0) {
            ck_assert_int_eq(sync_all(), CRAFT_OK);
            restart();
            check_loaded();
            continue;
        }
        if (M.last + 40 < ST_MAX_ENTRIES) {
            append_range(M.last + 1, M.last + 1 + r % 9, term, gen,
                         r % 500);
        }
        if (round % 4 == 0) {
            ck_assert_int_eq(sync_all(), CRAFT_OK);
        }
    }
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    restart();
    check_loaded();
}
END_TEST

/* ---- the memory storage's power loss (craft_mem_storage_crash) ---- */

/* "forgets every write made since the last successful sync": appends
 * and the hard state go back; later writes fail until cleared. */
START_TEST(mem_crash_forgets_unsynced)
{
    hard_state(3, 1);
    append_range(1, 5, 3, 1, 20);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    struct st_model synced = M;
    append_range(6, 8, 3, 1, 20);
    ck_assert_int_eq(B.ops.save_hard_state(B.ops.user, 4, 2), CRAFT_OK);
    ck_assert_int_eq(craft_mem_storage_crash(B.ms), CRAFT_OK);
    ck_assert_int_eq(B.ops.append(B.ops.user, 6, 3, 1, "x", 1), CRAFT_EIO);
    ck_assert_int_eq(B.ops.sync(B.ops.user), CRAFT_EIO);
    ck_assert_int_eq(craft_mem_storage_fail(B.ms, 0), CRAFT_OK);
    M = synced;
    check_loaded();
    ck_assert_uint_eq(craft_mem_storage_last_index(B.ms), 5);
    ck_assert_uint_eq(craft_mem_storage_term(B.ms), 3);
    ck_assert_uint_eq(craft_mem_storage_vote(B.ms), 1);
    /* and it goes on from there */
    append_range(6, 7, 3, 2, 5);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    check_loaded();
    ck_assert_int_eq(craft_mem_storage_crash(NULL), CRAFT_EINVAL);
}
END_TEST

/* Synced entries a truncation removed since come back. */
START_TEST(mem_crash_undoes_truncation)
{
    hard_state(9, 0);
    append_range(1, 10, 2, 1, 30);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    struct st_model synced = M;
    ck_assert_int_eq(B.ops.truncate(B.ops.user, 7), CRAFT_OK);
    ck_assert_int_eq(st_append(&B.ops, &M, 4, 9, 2, 11), CRAFT_OK);
    append_range(5, 12, 9, 2, 11);
    ck_assert_int_eq(B.ops.truncate(B.ops.user, 3), CRAFT_OK);
    ck_assert_int_eq(craft_mem_storage_crash(B.ms), CRAFT_OK);
    ck_assert_int_eq(craft_mem_storage_fail(B.ms, 0), CRAFT_OK);
    M = synced;
    check_loaded();
    /* a second crash right away changes nothing */
    ck_assert_int_eq(craft_mem_storage_crash(B.ms), CRAFT_OK);
    ck_assert_int_eq(craft_mem_storage_fail(B.ms, 0), CRAFT_OK);
    check_loaded();
}
END_TEST

/* "a snapshot completed by a LAST write counts as synced, a snapshot
 * still being received is dropped". */
START_TEST(mem_crash_and_snapshots)
{
    hard_state(5, 0);
    append_range(1, 10, 5, 1, 30);
    ck_assert_int_eq(sync_all(), CRAFT_OK);
    append_range(11, 12, 5, 1, 30);
    ck_assert_int_eq(snapshot_local(11, 5, 100, 0), CRAFT_OK);
    M.snap_index = 11;
    M.snap_term = 5;
    fill_snap(500, 30);
    ck_assert_int_eq(B.ops.snapshot_write(B.ops.user, 30, 5, 0, snapbuf, 500,
                                          NULL, 0, 0),
                     CRAFT_OK);
    ck_assert_int_eq(craft_mem_storage_crash(B.ms), CRAFT_OK);
    ck_assert_int_eq(craft_mem_storage_fail(B.ms, 0), CRAFT_OK);
    check_loaded(); /* 12 too: it was written before the snapshot */
    check_snapshot_bytes(11, 100, 11, 64);
    ck_assert_int_lt(B.ops.snapshot_write(B.ops.user, 30, 5, 500, snapbuf,
                                          10, NULL, 0, 0),
                     0);
}
END_TEST

static Suite *conformance_suite(void)
{
    Suite *s = suite_create("storage-conformance");
    struct {
        const char *name;
        void (*setup)(void);
    } kinds[] = {
        {"memory", setup_mem},
        {"file", setup_file},
        {"file-dsync", setup_dsync},
        {"file-direct", setup_direct},
        {"file-small-segments", setup_small},
        {"file-nosync", setup_none},
    };
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        TCase *tc = tcase_create(kinds[k].name);
        tcase_add_checked_fixture(tc, kinds[k].setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, load_empty_feeds_nothing);
        tcase_add_test(tc, load_feeds_everything_in_order);
        tcase_add_test(tc, hard_state_replaces);
        tcase_add_test(tc, append_round_then_sync);
        tcase_add_test(tc, append_replaces_suffix);
        tcase_add_test(tc, append_sizes);
        tcase_add_test(tc, append_gap_refused);
        tcase_add_test(tc, truncate_suffix);
        tcase_add_test(tc, truncate_within_round);
        tcase_add_test(tc, sync_makes_durable);
        tcase_add_test(tc, snapshot_local_becomes_current);
        tcase_add_test(tc, snapshot_chunks_keep_current_until_last);
        tcase_add_test(tc, snapshot_incomplete_not_in_force);
        tcase_add_test(tc, snapshot_local_between_chunks);
        tcase_add_test(tc, snapshot_older_last_ignored_or_taken);
        tcase_add_test(tc, snapshot_empty_data);
        tcase_add_test(tc, snapshot_read_contract);
        tcase_add_test(tc, snapshot_beyond_log);
        tcase_add_test(tc, mixed_life);
        suite_add_tcase(s, tc);
    }
    TCase *tc = tcase_create("memory-crash");
    tcase_add_checked_fixture(tc, setup_mem, teardown);
    tcase_add_test(tc, mem_crash_forgets_unsynced);
    tcase_add_test(tc, mem_crash_undoes_truncation);
    tcase_add_test(tc, mem_crash_and_snapshots);
    suite_add_tcase(s, tc);
    return s;
}

ST_TEST_MAIN(conformance_suite)
