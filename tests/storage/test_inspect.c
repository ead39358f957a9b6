/*
 * tests/storage/test_inspect.c: craft-inspect (src/tools/craft-inspect.c)
 * on directories in known states: its report, its exit status, --verify
 * and --dump, and that it changes nothing. The program is found through
 * CRAFT_INSPECT (set by `make storage-test`).
 */
#include <fcntl.h>
#include <sys/wait.h>

#include "storage/format.h"
#include "storage_test.h"

static char D[512];
static char OUT[1 << 16];

static void setup(void)
{
    st_tmpdir(D, sizeof(D), "inspect");
}

static void teardown(void)
{
    st_tmpdir_remove(D);
}

/* Runs craft-inspect with args and D; OUT gets its output; returns its
 * exit status. */
static int inspect(const char *args)
{
    const char *prog = getenv("CRAFT_INSPECT");
    char cmd[2048];
    ck_assert_msg(prog != NULL, "CRAFT_INSPECT is not set (run it through "
                                "make storage-test)");
    snprintf(cmd, sizeof(cmd), "%s %s '%s' 2>&1", prog, args, D);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(OUT, 1, sizeof(OUT) - 1, p);
    OUT[n] = '\0';
    int st = pclose(p);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void has(const char *s)
{
    ck_assert_msg(strstr(OUT, s) != NULL, "'%s' not in:\n%s", s, OUT);
}

static void hasnt(const char *s)
{
    ck_assert_msg(strstr(OUT, s) == NULL, "'%s' in:\n%s", s, OUT);
}

/* A directory: node 3 of cluster 9, hard state (4, 3), 200 entries in
 * 8 KiB segments ("entry number N"), a snapshot at 120, 5 more entries
 * written but not synced. */
static void make_dir(void)
{
    craft_file_storage *fs = NULL;
    craft_storage_ops ops = CRAFT_STORAGE_OPS_INIT;
    craft_file_storage_options o = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = st_conf(conf, 0);
    char d[64];
    o.segment_bytes = 8192;
    o.node_id = 3;
    o.cluster_id = 9;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_OK);
    craft_file_storage_ops(fs, &ops);
    ck_assert_int_eq(ops.save_hard_state(ops.user, 4, 3), CRAFT_OK);
    for (uint64_t i = 1; i <= 200; i++) {
        int n = snprintf(d, sizeof(d), "entry number %llu",
                         (unsigned long long)i);
        ck_assert_int_eq(ops.append(ops.user, i, i < 100 ? 2 : 4, 1, d,
                                    (size_t)n),
                         CRAFT_OK);
        if (i % 10 == 0) {
            ck_assert_int_eq(ops.sync(ops.user), CRAFT_OK);
        }
    }
    ck_assert_int_eq(ops.snapshot_write(ops.user, 120, 4, 0, "state!", 6,
                                        conf, clen, CRAFT_SNAPSHOT_F_LAST),
                     CRAFT_OK);
    for (uint64_t i = 201; i <= 205; i++) {
        int n = snprintf(d, sizeof(d), "entry number %llu",
                         (unsigned long long)i);
        ck_assert_int_eq(ops.append(ops.user, i, 4, 1, d, (size_t)n),
                         CRAFT_OK);
    }
    craft_file_storage_close(fs);
}

/* Record k's offset in its segment: "entry number N" is 16 bytes for
 * N >= 100 (a 56-byte record); segment 146 starts with index 146. */
static uint64_t off146(uint64_t index)
{
    return FS_SEG_HEADER_BYTES + (index - 146) * fs_rec_size(16);
}

static void flip(const char *name, uint64_t off)
{
    char p[700];
    unsigned char b;
    snprintf(p, sizeof(p), "%s/%s", D, name);
    int fd = open(p, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 1;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

START_TEST(report_of_a_sound_directory)
{
    make_dir();
    ck_assert_int_eq(inspect(""), 0);
    has("metadata    format 1, cluster id 9, node id 3");
    has("lock        free");
    has("hard state  term 4, vote 3");
    has("snapshot    snapshot-00000000000000000120-00000000000000000004: "
        "index 120, term 4, 6 B of data");
    has("CRC ok");
    has("segment-00000000000000000001  index 1..145, 145 records");
    has("segment-00000000000000000146  index 146..205, 60 records");
    has("log         index 121..205 after the snapshot (85 entries)");
    has("verdict     OK\n");
    hasnt("CORRUPT");
    ck_assert_int_eq(inspect("--verify"), 0);
    hasnt("segments");
    has("verdict     OK");
}
END_TEST

START_TEST(dump_entries)
{
    make_dir();
    ck_assert_int_eq(inspect("--dump --from 199 --to 201"), 0);
    has("|entry number 199|");
    has("|entry number 201|");
    hasnt("|entry number 198|");
    hasnt("|entry number 202|");
    has("term 4");
}
END_TEST

START_TEST(torn_tail_is_not_corruption)
{
    make_dir();
    flip("segment-00000000000000000146", off146(203) + 45);
    ck_assert_int_eq(inspect(""), 0);
    has("TORN TAIL   segment-00000000000000000146, offset");
    has("from index 203 were never synced and will be cut at the next open");
    has("verdict     OK (a torn tail");
    /* nothing was cut: still there for the next open to report */
    ck_assert_int_eq(inspect("--verify"), 0);
    has("TORN TAIL");
}
END_TEST

START_TEST(corruption_found)
{
    char want[200];
    make_dir();
    flip("segment-00000000000000000001", FS_SEG_HEADER_BYTES + 45);
    ck_assert_int_eq(inspect("--verify"), 1);
    snprintf(want, sizeof(want), "CORRUPT     segment-00000000000000000001, "
                                 "offset %u: record of index 1 fails its "
                                 "CRC32C",
             FS_SEG_HEADER_BYTES);
    has(want);
    has("verdict     CORRUPT: 1 problem");
    flip("segment-00000000000000000001", FS_SEG_HEADER_BYTES + 45);
    ck_assert_int_eq(inspect("--verify"), 0);
    /* the snapshot */
    flip("snapshot-00000000000000000120-00000000000000000004", 2);
    ck_assert_int_eq(inspect(""), 1);
    has("CORRUPT     snapshot-00000000000000000120-00000000000000000004, "
        "offset 0: the data (6 bytes) fails its CRC32C");
    flip("snapshot-00000000000000000120-00000000000000000004", 2);
    /* the hard state, both slots */
    flip("hardstate", 20);
    flip("hardstate", FS_HS_SLOT_STRIDE + 20);
    ck_assert_int_eq(inspect("--verify"), 1);
    has("both slots are damaged");
}
END_TEST

START_TEST(not_a_directory)
{
    make_dir();
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nope", D);
    const char *prog = getenv("CRAFT_INSPECT");
    char cmd[1400];
    ck_assert_ptr_nonnull(prog);
    snprintf(cmd, sizeof(cmd), "%s '%s' >/dev/null 2>&1", prog, missing);
    int st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    snprintf(cmd, sizeof(cmd), "%s --bogus '%s' >/dev/null 2>&1", prog, D);
    st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    /* an empty directory is no craft directory */
    char empty[600];
    snprintf(empty, sizeof(empty), "%s/empty", D);
    ck_assert_int_eq(mkdir(empty, 0700), 0);
    snprintf(cmd, sizeof(cmd), "%s '%s' >/dev/null 2>&1", prog, empty);
    st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}
END_TEST

/* Inspecting an open (locked) directory says so and changes nothing. */
START_TEST(in_use)
{
    craft_file_storage *fs = NULL;
    make_dir();
    ck_assert_int_eq(craft_file_storage_open(D, NULL, &fs), CRAFT_OK);
    ck_assert_int_eq(inspect(""), 0);
    char pid[64];
    snprintf(pid, sizeof(pid), "lock        held by process %ld",
             (long)getpid());
    has(pid);
    craft_file_storage_close(fs);
}
END_TEST

static Suite *inspect_suite(void)
{
    Suite *s = suite_create("craft-inspect");
    TCase *tc = tcase_create("inspect");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, report_of_a_sound_directory);
    tcase_add_test(tc, dump_entries);
    tcase_add_test(tc, torn_tail_is_not_corruption);
    tcase_add_test(tc, corruption_found);
    tcase_add_test(tc, not_a_directory);
    tcase_add_test(tc, in_use);
    suite_add_tcase(s, tc);
    return s;
}

ST_TEST_MAIN(inspect_suite)
