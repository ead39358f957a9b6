/*
 * tests/storage/test_file_storage.c: what the file storage promises
 * beyond craft_storage_ops (craft/storage.h): options and argument
 * checks, the directory, the lock, the metadata's ids and version,
 * recovery (torn tails cut and reported, corruption refused with the
 * file and offset), preallocation, compaction and its trace events.
 */
#include <fcntl.h>
#include <sys/wait.h>

#include "storage/format.h"
#include "storage_test.h"

/* ---- traces ----------------------------------------------------------- */

#define MAX_EV 64

struct ev {
    int id;
    char shape[160]; /* "key:u key:s" after node_id */
    uint64_t node_id;
    uint64_t u[8];
    char s[8][64];
};

static struct {
    int n;
    struct ev ev[MAX_EV];
} T;

static void on_trace(void *user, const craft_trace_event *e)
{
    (void)user;
    if (T.n >= MAX_EV) {
        return;
    }
    struct ev *v = &T.ev[T.n++];
    memset(v, 0, sizeof(*v));
    v->id = craft_trace_event_id(e);
    ck_assert_str_eq(craft_trace_event_target(e), "craft.storage");
    size_t n = craft_trace_event_field_count(e);
    ck_assert_uint_le(n, 8);
    for (size_t k = 0; k < n; k++) {
        const char *key = NULL, *str = NULL;
        int type = 0;
        uint64_t u = 0;
        int64_t i = 0;
        ck_assert_int_eq(craft_trace_event_field(e, k, &key, &type, &u, &i,
                                                 &str),
                         CRAFT_OK);
        if (k == 0) {
            ck_assert_str_eq(key, "node_id");
            v->node_id = u;
            continue;
        }
        char t = type == CRAFT_FIELD_U64 ? 'u'
                                         : (type == CRAFT_FIELD_I64 ? 'i' : 's');
        size_t len = strlen(v->shape);
        snprintf(v->shape + len, sizeof(v->shape) - len, "%s%s:%c",
                 len > 0 ? " " : "", key, t);
        v->u[k] = type == CRAFT_FIELD_I64 ? (uint64_t)i : u;
        if (type == CRAFT_FIELD_STR) {
            snprintf(v->s[k], sizeof(v->s[k]), "%s", str);
        }
    }
}

static const struct ev *find_ev(int id)
{
    for (int k = 0; k < T.n; k++) {
        if (T.ev[k].id == id) {
            return &T.ev[k];
        }
    }
    return NULL;
}

/* ---- fixture ---------------------------------------------------------- */

static char D[512];
static char ERR[512];
static craft_file_storage *FS;
static craft_storage_ops OPS;
static struct st_model M;

static void setup(void)
{
    memset(&T, 0, sizeof(T));
    memset(&M, 0, sizeof(M));
    ERR[0] = '\0';
    FS = NULL;
    st_tmpdir(D, sizeof(D), "file");
}

static void teardown(void)
{
    craft_file_storage_close(FS);
    FS = NULL;
    st_tmpdir_remove(D);
}

static void opts_init(craft_file_storage_options *o)
{
    craft_file_storage_options_init(o);
    o->errbuf = ERR;
    o->errbuf_size = sizeof(ERR);
    o->trace = on_trace;
    o->trace_level = CRAFT_TRACE_DEBUG;
}

static int open_with(craft_file_storage_options *o)
{
    craft_file_storage_close(FS);
    FS = NULL;
    ERR[0] = '\0';
    int rv = craft_file_storage_open(D, o, &FS);
    if (rv == CRAFT_OK) {
        craft_storage_ops_init(&OPS);
        ck_assert_int_eq(craft_file_storage_ops(FS, &OPS), CRAFT_OK);
    }
    return rv;
}

static int reopen(void)
{
    craft_file_storage_options o;
    opts_init(&o);
    return open_with(&o);
}

static void reopen_ok(void)
{
    int rv = reopen();
    ck_assert_msg(rv == CRAFT_OK, "open: %s: %s", craft_strerror(rv), ERR);
}

static void check_loaded(void)
{
    craft_node *node = NULL;
    int rv = st_node_load(&OPS, &node);
    ck_assert_msg(rv == CRAFT_OK, "load: %s", craft_strerror(rv));
    st_check_loaded(node, &M);
    craft_node_free(node);
}

static void append_range(uint64_t from, uint64_t to, size_t len)
{
    if (M.term == 0) {
        ck_assert_int_eq(OPS.save_hard_state(OPS.user, 1, 0), CRAFT_OK);
        M.term = 1;
    }
    for (uint64_t i = from; i <= to; i++) {
        ck_assert_int_eq(st_append(&OPS, &M, i, 1, 1, len), CRAFT_OK);
    }
}

static void path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", D, name);
}

static void seg_path(char *buf, size_t cap, uint64_t first)
{
    char name[FS_NAME_MAX];
    fs_segment_name(name, first);
    path_of(buf, cap, name);
}

/* XORs the byte at off of file name with x. */
static void flip(const char *name, uint64_t off, unsigned char x)
{
    char p[700];
    unsigned char b;
    path_of(p, sizeof(p), name);
    int fd = open(p, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= x;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static uint64_t file_size(const char *name)
{
    char p[700];
    struct stat st;
    path_of(p, sizeof(p), name);
    if (stat(p, &st) != 0) {
        return UINT64_MAX;
    }
    return (uint64_t)st.st_size;
}

static int exists(const char *name)
{
    return file_size(name) != UINT64_MAX;
}

static const char *segname(uint64_t first)
{
    static char name[FS_NAME_MAX];
    fs_segment_name(name, first);
    return name;
}

/* Offset of record index (first 1) when every payload is 64 bytes. */
static uint64_t rec_off(uint64_t index)
{
    return FS_SEG_HEADER_BYTES + (index - 1) * fs_rec_size(64);
}

static size_t conf_bytes(uint8_t *buf)
{
    return st_conf(buf, 0);
}

/* ---- options and arguments -------------------------------------------- */

START_TEST(arguments)
{
    craft_file_storage_options o;
    craft_file_storage *fs = NULL;
    craft_storage_ops ops = CRAFT_STORAGE_OPS_INIT;
    opts_init(&o);
    ck_assert_int_eq(craft_file_storage_options_init(NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_file_storage_open(NULL, &o, &fs), CRAFT_EINVAL);
    ck_assert_int_eq(craft_file_storage_open("", &o, &fs), CRAFT_EINVAL);
    ck_assert_int_eq(craft_file_storage_open(D, &o, NULL), CRAFT_EINVAL);
    ck_assert_ptr_null(fs);
    o.struct_size = 0;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_ESTRUCT);
    o.struct_size = sizeof(o) + 8;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_ESTRUCT);
    ck_assert(strstr(ERR, "struct_size") != NULL);
    opts_init(&o);
    o.sync_mode = 0;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_EINVAL);
    ck_assert(strstr(ERR, "sync_mode") != NULL);
    o.sync_mode = 5;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_EINVAL);
    opts_init(&o);
    o.segment_bytes = 4095;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_EINVAL);
    o.segment_bytes = (1ull << 30) + 1;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_EINVAL);
    opts_init(&o);
    o.preallocate = 2;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_EINVAL);
    opts_init(&o);
    craft_allocator al = CRAFT_ALLOCATOR_INIT;
    o.allocator = &al; /* no functions */
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_EINVAL);
    al.struct_size = 0;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &fs), CRAFT_ESTRUCT);
    ck_assert_ptr_null(fs);
    ck_assert(!exists("")); /* nothing was created */
    /* an older caller's smaller struct: the rest is defaulted */
    craft_file_storage_options small;
    memset(&small, 0, sizeof(small));
    small.struct_size = (uint32_t)offsetof(craft_file_storage_options,
                                           cluster_id);
    small.sync_mode = CRAFT_FILE_SYNC_FDATASYNC;
    small.segment_bytes = 1 << 20;
    ck_assert_int_eq(craft_file_storage_open(D, &small, &fs), CRAFT_OK);
    craft_file_storage_close(fs);
    /* NULL options: the defaults */
    ck_assert_int_eq(craft_file_storage_open(D, NULL, &fs), CRAFT_OK);
    ck_assert_int_eq(craft_file_storage_ops(NULL, &ops), CRAFT_EINVAL);
    ck_assert_int_eq(craft_file_storage_ops(fs, NULL), CRAFT_EINVAL);
    ops.struct_size = 0;
    ck_assert_int_eq(craft_file_storage_ops(fs, &ops), CRAFT_ESTRUCT);
    ops.struct_size = sizeof(ops) + 1;
    ck_assert_int_eq(craft_file_storage_ops(fs, &ops), CRAFT_ESTRUCT);
    /* an older, smaller table gets only what it knows */
    ops.struct_size = (uint32_t)offsetof(craft_storage_ops, truncate);
    ops.truncate = NULL;
    ck_assert_int_eq(craft_file_storage_ops(fs, &ops), CRAFT_OK);
    ck_assert_ptr_nonnull(ops.append);
    ck_assert_ptr_null(ops.truncate);
    ck_assert_uint_eq(craft_file_storage_errmsg(NULL, NULL, 0), 0);
    ck_assert_uint_eq(craft_file_storage_errmsg(fs, NULL, 0), 0);
    craft_file_storage_close(fs);
    craft_file_storage_close(NULL);
}
END_TEST

/* Methods given bad arguments return an error and say why. */
START_TEST(method_errors)
{
    char msg[512];
    unsigned char b[8];
    size_t n;
    int last;
    reopen_ok();
    ck_assert_int_eq(OPS.append(OPS.user, 2, 1, 1, "x", 1), CRAFT_EINVAL);
    ck_assert_uint_gt(craft_file_storage_errmsg(FS, msg, sizeof(msg)), 0);
    ck_assert(strstr(msg, "append at index 2") != NULL);
    ck_assert(strstr(msg, D) != NULL);
    ck_assert_int_eq(OPS.append(OPS.user, 1, 1, 1, NULL, 1), CRAFT_EINVAL);
    ck_assert_int_eq(OPS.append(OPS.user, 1, 1, 1, NULL,
                                (size_t)CRAFT_MAX_ENTRY_BYTES + 1),
                     CRAFT_ETOOBIG);
    ck_assert_int_eq(OPS.snapshot_write(OPS.user, 5, 1, 10, "x", 1, NULL, 0,
                                        0),
                     CRAFT_EINVAL);
    ck_assert_int_eq(OPS.snapshot_write(OPS.user, 5, 1, 0, "x", 1, NULL, 0,
                                        CRAFT_SNAPSHOT_F_LAST),
                     CRAFT_EINVAL);
    ck_assert_int_eq(OPS.snapshot_read(OPS.user, 5, 0, b, 8, &n, &last),
                     CRAFT_ENOENT);
    /* none of that stopped the storage */
    append_range(1, 3, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    /* the message is truncated to the buffer, the length is the full one */
    size_t full = craft_file_storage_errmsg(FS, msg, 5);
    ck_assert_uint_eq(strlen(msg), 4);
    ck_assert_uint_gt(full, 4);
}
END_TEST

/* ---- the directory, the lock, the metadata ----------------------------- */

START_TEST(directory_created)
{
    char deep[700];
    snprintf(deep, sizeof(deep), "%s/a/b/c", D);
    craft_file_storage *fs = NULL;
    ck_assert_int_eq(craft_file_storage_open(deep, NULL, &fs), CRAFT_OK);
    craft_file_storage_close(fs);
    char p[800];
    struct stat st;
    snprintf(p, sizeof(p), "%s/metadata", deep);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq((int)st.st_size, FS_META_BYTES);
    snprintf(p, sizeof(p), "%s/hardstate", deep);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq((int)st.st_size, FS_HS_FILE_BYTES);
    /* a file where the directory should be */
    snprintf(p, sizeof(p), "%s/metadata/x", deep);
    char err[512];
    craft_file_storage_options o = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    o.errbuf = err;
    o.errbuf_size = sizeof(err);
    ck_assert_int_eq(craft_file_storage_open(p, &o, &fs), CRAFT_EIO);
    ck_assert(strstr(err, "mkdir") != NULL);
}
END_TEST

START_TEST(lock_exclusive)
{
    craft_file_storage *second = NULL;
    craft_file_storage_options o;
    reopen_ok();
    opts_init(&o);
    ck_assert_int_eq(craft_file_storage_open(D, &o, &second), CRAFT_EBUSY);
    ck_assert_ptr_null(second);
    ck_assert_msg(strstr(ERR, "locked by another open storage") != NULL,
                  "%s", ERR);
    char pid[32];
    snprintf(pid, sizeof(pid), "process %ld", (long)getpid());
    ck_assert_msg(strstr(ERR, pid) != NULL, "%s", ERR);
    /* another process too */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        craft_file_storage *fs = NULL;
        int rv = craft_file_storage_open(D, NULL, &fs);
        _exit(rv == CRAFT_EBUSY ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* released by close */
    craft_file_storage_close(FS);
    FS = NULL;
    ck_assert_int_eq(craft_file_storage_open(D, &o, &second), CRAFT_OK);
    craft_file_storage_close(second);
}
END_TEST

START_TEST(ids_checked)
{
    craft_file_storage_options o;
    opts_init(&o);
    o.cluster_id = 7;
    o.node_id = 2;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    ck_assert_int_eq(reopen(), CRAFT_OK); /* 0: not checked */
    opts_init(&o);
    o.cluster_id = 7;
    o.node_id = 3;
    ck_assert_int_eq(open_with(&o), CRAFT_ESTATE);
    ck_assert_msg(strstr(ERR, "belongs to node 2, not to node 3") != NULL,
                  "%s", ERR);
    ck_assert(strstr(ERR, D) != NULL);
    o.cluster_id = 8;
    o.node_id = 2;
    ck_assert_int_eq(open_with(&o), CRAFT_ESTATE);
    ck_assert_msg(strstr(ERR, "belongs to cluster 7, not to cluster 8") !=
                      NULL,
                  "%s", ERR);
    /* trace events carry the directory's node id */
    T.n = 0;
    reopen_ok();
    const struct ev *v = find_ev(CRAFT_TRACE_STORAGE_OPENED);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(v->node_id, 2);
}
END_TEST

START_TEST(ids_bound_later)
{
    craft_file_storage_options o;
    reopen_ok(); /* created without ids */
    opts_init(&o);
    o.node_id = 5;
    ck_assert_int_eq(open_with(&o), CRAFT_OK); /* takes 5 */
    o.node_id = 6;
    ck_assert_int_eq(open_with(&o), CRAFT_ESTATE);
    o.node_id = 5;
    o.cluster_id = 9;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    o.cluster_id = 10;
    ck_assert_int_eq(open_with(&o), CRAFT_ESTATE);
}
END_TEST

START_TEST(newer_format_refused)
{
    unsigned char buf[FS_META_BYTES];
    struct fs_meta m = {FS_FORMAT_VERSION + 1, 0, 0};
    char p[700];
    reopen_ok();
    craft_file_storage_close(FS);
    FS = NULL;
    fs_meta_encode(buf, &m);
    path_of(p, sizeof(p), FS_METADATA);
    int fd = open(p, O_WRONLY);
    ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    close(fd);
    ck_assert_int_eq(reopen(), CRAFT_EVERSION);
    ck_assert_msg(strstr(ERR, "format version 2 is newer") != NULL, "%s",
                  ERR);
    /* a damaged one is corruption */
    m.version = FS_FORMAT_VERSION;
    fs_meta_encode(buf, &m);
    fd = open(p, O_WRONLY);
    ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    close(fd);
    reopen_ok();
    craft_file_storage_close(FS);
    FS = NULL;
    flip(FS_METADATA, 20, 1);
    ck_assert_int_eq(reopen(), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, "metadata, offset 0: fails its CRC32C") != NULL,
                  "%s", ERR);
}
END_TEST

/* A directory with a log but no metadata is not a fresh one. */
START_TEST(metadata_missing)
{
    char p[700];
    reopen_ok();
    append_range(1, 3, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    craft_file_storage_close(FS);
    FS = NULL;
    path_of(p, sizeof(p), FS_METADATA);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(reopen(), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, "metadata, offset 0: the file is missing") !=
                      NULL,
                  "%s", ERR);
}
END_TEST

/* ---- recovery --------------------------------------------------------- */

/* Records written after the last sync and torn are cut, reported exactly
 * (first index lost, bytes, offset, file) and never come back. */
START_TEST(torn_tail_cut_and_reported)
{
    reopen_ok();
    ck_assert_int_eq(OPS.save_hard_state(OPS.user, 1, 0), CRAFT_OK);
    M.term = 1;
    append_range(1, 10, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    append_range(11, 20, 64);
    /* closed without a sync: written, not durable; then record 15 torn
     * (as if its page never made it while later ones did) */
    craft_file_storage_close(FS);
    FS = NULL;
    flip(segname(1), rec_off(15) + 50, 0xFF);
    T.n = 0;
    reopen_ok();
    const struct ev *v = find_ev(CRAFT_TRACE_STORAGE_TAIL_TRUNCATED);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->shape, "index:u bytes:u offset:u file:s");
    ck_assert_uint_eq(v->u[1], 15);
    ck_assert_uint_eq(v->u[2], rec_off(21) - rec_off(15));
    ck_assert_uint_eq(v->u[3], rec_off(15));
    ck_assert_str_eq(v->s[4], segname(1));
    M.last = 14;
    check_loaded();
    /* new entries take the place; the cut ones are gone for good */
    append_range(15, 16, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    T.n = 0;
    reopen_ok();
    ck_assert_ptr_null(find_ev(CRAFT_TRACE_STORAGE_TAIL_TRUNCATED));
    check_loaded();
}
END_TEST

/* A partial record at the very end (the file ends inside it). */
START_TEST(torn_partial_record)
{
    craft_file_storage_options o;
    opts_init(&o);
    o.preallocate = 0;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    append_range(1, 5, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    append_range(6, 6, 64);
    craft_file_storage_close(FS);
    FS = NULL;
    char p[700];
    seg_path(p, sizeof(p), 1);
    ck_assert_int_eq(truncate(p, (off_t)(rec_off(6) + 30)), 0);
    T.n = 0;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    const struct ev *v = find_ev(CRAFT_TRACE_STORAGE_TAIL_TRUNCATED);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(v->u[1], 6);
    /* up to the last non-zero byte: the 30 bytes end with the zero
     * reserved field, after the type at offset 24 */
    ck_assert_uint_eq(v->u[2], 25);
    ck_assert_uint_eq(file_size(segname(1)), rec_off(6));
    M.last = 5;
    check_loaded();
}
END_TEST

/* Damage before data that was synced after it is corruption: the open
 * fails, naming the file and the offset; nothing is cut. */
START_TEST(corruption_before_synced_data)
{
    reopen_ok();
    append_range(1, 10, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    append_range(11, 20, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    craft_file_storage_close(FS);
    FS = NULL;
    flip(segname(1), rec_off(5) + 44, 0x01);
    T.n = 0;
    ck_assert_int_eq(reopen(), CRAFT_ECORRUPT);
    char want[200];
    snprintf(want, sizeof(want), "%s, offset %llu: record of index 5 fails "
             "its CRC32C",
             segname(1), (unsigned long long)rec_off(5));
    ck_assert_msg(strstr(ERR, want) != NULL, "%s", ERR);
    ck_assert(strstr(ERR, "corruption, not a torn write") != NULL);
    const struct ev *v = find_ev(CRAFT_TRACE_STORAGE_CORRUPT);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->shape, "offset:u file:s error:i");
    ck_assert_uint_eq(v->u[1], rec_off(5));
    ck_assert_str_eq(v->s[2], segname(1));
    ck_assert_int_eq((int64_t)v->u[3], CRAFT_ECORRUPT);
    /* refused again: it was not "repaired" */
    ck_assert_int_eq(reopen(), CRAFT_ECORRUPT);
    ck_assert_uint_eq(file_size(segname(1)), 64u * 1024u * 1024u);
}
END_TEST

/* Any damage in a segment before the last one is corruption. */
START_TEST(corruption_in_sealed_segment)
{
    craft_file_storage_options o;
    opts_init(&o);
    o.segment_bytes = 4096;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    append_range(1, 100, 64); /* 104-byte records: 39 per segment */
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    craft_file_storage_close(FS);
    FS = NULL;
    ck_assert(exists(segname(40)));
    ck_assert(exists(segname(79)));
    /* the last record of the first segment */
    flip(segname(1), rec_off(39), 0x10);
    ck_assert_int_eq(open_with(&o), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, "in a segment before the last one") != NULL,
                  "%s", ERR);
    flip(segname(1), rec_off(39), 0x10);
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    craft_file_storage_close(FS);
    FS = NULL;
    /* a segment deleted: a gap */
    char p[700];
    seg_path(p, sizeof(p), 40);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(open_with(&o), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, "the log has a gap") != NULL, "%s", ERR);
    /* the first one deleted: the log does not reach index 1 */
    seg_path(p, sizeof(p), 1);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(open_with(&o), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, "starts at index 79 but there is no snapshot") !=
                      NULL,
                  "%s", ERR);
}
END_TEST

/* A damaged segment header is corruption unless it is the last segment
 * and nothing was ever written in it (an interrupted creation). */
START_TEST(segment_header)
{
    craft_file_storage_options o;
    opts_init(&o);
    o.segment_bytes = 4096;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    append_range(1, 50, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    craft_file_storage_close(FS);
    FS = NULL;
    /* debris of a creation that never finished */
    char p[700];
    seg_path(p, sizeof(p), 51);
    int fd = open(p, O_RDWR | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "CRAFTL", 6, 0), 6);
    close(fd);
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    ck_assert(!exists(segname(51)));
    check_loaded();
    craft_file_storage_close(FS);
    FS = NULL;
    /* the header of a segment holding records */
    flip(segname(40), 3, 0x20);
    ck_assert_int_eq(open_with(&o), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, "bad segment header (no magic)") != NULL, "%s",
                  ERR);
}
END_TEST

START_TEST(snapshot_corruption)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = conf_bytes(conf);
    static unsigned char data[100000];
    char name[FS_NAME_MAX];
    reopen_ok();
    append_range(1, 10, 64);
    memset(data, 0x5A, sizeof(data));
    ck_assert_int_eq(OPS.snapshot_write(OPS.user, 8, 1, 0, data, sizeof(data),
                                        conf, clen, CRAFT_SNAPSHOT_F_LAST),
                     CRAFT_OK);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    craft_file_storage_close(FS);
    FS = NULL;
    fs_snapshot_name(name, 8, 1);
    ck_assert_uint_eq(file_size(name), sizeof(data) + clen + 64);
    flip(name, 77777, 0x04);
    ck_assert_int_eq(reopen(), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, name) != NULL, "%s", ERR);
    ck_assert_msg(strstr(ERR, "the data (100000 bytes from offset 0) fails "
                              "its CRC32C") != NULL,
                  "%s", ERR);
    flip(name, 77777, 0x04);
    reopen_ok();
    craft_file_storage_close(FS);
    FS = NULL;
    /* the footer */
    flip(name, sizeof(data) + clen + 20, 0x04);
    ck_assert_int_eq(reopen(), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, "the footer fails its CRC32C") != NULL, "%s",
                  ERR);
    flip(name, sizeof(data) + clen + 20, 0x04);
    /* the membership */
    flip(name, sizeof(data) + 3, 0x04);
    ck_assert_int_eq(reopen(), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, "the membership fails its CRC32C") != NULL,
                  "%s", ERR);
    flip(name, sizeof(data) + 3, 0x04);
    /* a newer snapshot that is damaged is never skipped for the older */
    reopen_ok();
    ck_assert_int_eq(OPS.snapshot_write(OPS.user, 10, 1, 0, data, 10, conf,
                                        clen, CRAFT_SNAPSHOT_F_LAST),
                     CRAFT_OK);
    craft_file_storage_close(FS);
    FS = NULL;
    fs_snapshot_name(name, 10, 1);
    flip(name, 2, 0x01);
    ck_assert_int_eq(reopen(), CRAFT_ECORRUPT);
}
END_TEST

/* A snapshot taken locally, streamed (CRAFT_SNAPSHOT_F_LOCAL): it goes
 * to its own temporary file, interleaves with a received one without
 * disturbing it, an abandoned one is started over, and one not newer
 * than the current snapshot leaves no file behind. */
static void snap_bytes(unsigned char *p, size_t n, uint64_t off, int seed)
{
    for (size_t k = 0; k < n; k++) {
        p[k] = (unsigned char)((off + k) * 31u + (unsigned)seed);
    }
}

static void write_chunk(uint64_t index, uint64_t off, size_t n, int seed,
                        uint32_t flags)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = conf_bytes(conf);
    unsigned char buf[1000];
    ck_assert_uint_le(n, sizeof(buf));
    snap_bytes(buf, n, off, seed);
    int last = (flags & CRAFT_SNAPSHOT_F_LAST) != 0;
    int rv = OPS.snapshot_write(OPS.user, index, 1, off, buf, n,
                                last ? conf : NULL, last ? clen : 0, flags);
    ck_assert_msg(rv == CRAFT_OK, "write at %llu+%llu: %s: %s",
                  (unsigned long long)index, (unsigned long long)off,
                  craft_strerror(rv), ERR);
}

static void read_back(uint64_t index, uint64_t len, int seed)
{
    unsigned char got[700], want[700];
    uint64_t off = 0;
    int last = 0;
    while (!last) {
        size_t n = 0;
        ck_assert_int_eq(OPS.snapshot_read(OPS.user, index, off, got,
                                           sizeof(got), &n, &last),
                         CRAFT_OK);
        snap_bytes(want, n, off, seed);
        ck_assert_int_eq(memcmp(got, want, n), 0);
        off += n;
    }
    ck_assert_uint_eq(off, len);
}

START_TEST(snapshot_local_streamed)
{
    const uint32_t L = CRAFT_SNAPSHOT_F_LOCAL, E = CRAFT_SNAPSHOT_F_LAST;
    reopen_ok();
    ck_assert_uint_eq(OPS.flags & CRAFT_STORAGE_F_STREAM_LOCAL,
                      CRAFT_STORAGE_F_STREAM_LOCAL);
    append_range(1, 20, 64);
    /* local at 8 and received at 15, interleaved */
    write_chunk(8, 0, 1000, 1, L);
    write_chunk(8, 1000, 1000, 1, L);
    write_chunk(15, 0, 500, 2, 0);
    write_chunk(8, 2000, 1000, 1, L);
    ck_assert(exists(FS_SNAPSHOT_LOCAL_TMP));
    ck_assert(exists(FS_SNAPSHOT_RECV_TMP));
    write_chunk(8, 3000, 500, 1, L | E);
    ck_assert(!exists(FS_SNAPSHOT_LOCAL_TMP));
    read_back(8, 3500, 1);
    write_chunk(15, 500, 500, 2, E);
    read_back(15, 1000, 2);
    /* an abandoned local one, then the next starts over at offset 0 */
    write_chunk(18, 0, 700, 3, L);
    write_chunk(19, 0, 100, 4, L);
    ck_assert_int_eq(OPS.snapshot_write(OPS.user, 19, 1, 700, "x", 1, NULL,
                                        0, L),
                     CRAFT_EINVAL);
    write_chunk(19, 100, 100, 4, L | E);
    read_back(19, 200, 4);
    /* one not newer than the current snapshot is dropped, file and all */
    write_chunk(12, 0, 300, 5, L);
    write_chunk(12, 300, 300, 5, L | E);
    ck_assert(!exists(FS_SNAPSHOT_LOCAL_TMP));
    read_back(19, 200, 4);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    /* what a restart finds */
    M.snap_index = 19;
    M.snap_term = 1;
    reopen_ok();
    check_loaded();
    read_back(19, 200, 4);
}
END_TEST

/* Reads are checked against the CRC too (bytes that rot after open). */
START_TEST(snapshot_read_checked)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = conf_bytes(conf);
    unsigned char data[3000], got[1000];
    char name[FS_NAME_MAX];
    size_t n;
    int last;
    reopen_ok();
    append_range(1, 3, 8);
    memset(data, 1, sizeof(data));
    ck_assert_int_eq(OPS.snapshot_write(OPS.user, 3, 1, 0, data, sizeof(data),
                                        conf, clen, CRAFT_SNAPSHOT_F_LAST),
                     CRAFT_OK);
    fs_snapshot_name(name, 3, 1);
    flip(name, 2500, 0x80);
    ck_assert_int_eq(OPS.snapshot_read(OPS.user, 3, 0, got, 1000, &n, &last),
                     CRAFT_OK);
    ck_assert_int_eq(OPS.snapshot_read(OPS.user, 3, 1000, got, 1000, &n,
                                       &last),
                     CRAFT_OK);
    ck_assert_int_eq(OPS.snapshot_read(OPS.user, 3, 2000, got, 1000, &n,
                                       &last),
                     CRAFT_ECORRUPT);
}
END_TEST

START_TEST(hard_state_slots)
{
    reopen_ok();
    ck_assert_int_eq(OPS.save_hard_state(OPS.user, 4, 1), CRAFT_OK);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    ck_assert_int_eq(OPS.save_hard_state(OPS.user, 5, 2), CRAFT_OK);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    craft_file_storage_close(FS);
    FS = NULL;
    /* the newer slot torn: the older value */
    uint64_t newer = 0;
    {
        char p[700];
        unsigned char buf[FS_HS_FILE_BYTES];
        struct fs_hs a, b;
        path_of(p, sizeof(p), FS_HARDSTATE);
        int fd = open(p, O_RDONLY);
        ck_assert_int_eq(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
        close(fd);
        ck_assert_int_eq(fs_hs_decode(buf, &a), CRAFT_OK);
        ck_assert_int_eq(fs_hs_decode(buf + FS_HS_SLOT_STRIDE, &b), CRAFT_OK);
        newer = a.seq > b.seq ? 0 : FS_HS_SLOT_STRIDE;
    }
    flip(FS_HARDSTATE, newer + 20, 0x01);
    reopen_ok();
    M.term = 4;
    M.vote = 1;
    check_loaded();
    /* and the next write goes over the damaged slot, not the good one */
    ck_assert_int_eq(OPS.save_hard_state(OPS.user, 6, 0), CRAFT_OK);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    reopen_ok();
    M.term = 6;
    M.vote = 0;
    check_loaded();
    craft_file_storage_close(FS);
    FS = NULL;
    flip(FS_HARDSTATE, 20, 0x01);
    flip(FS_HARDSTATE, FS_HS_SLOT_STRIDE + 20, 0x01);
    ck_assert_int_eq(reopen(), CRAFT_ECORRUPT);
    ck_assert_msg(strstr(ERR, "both slots are damaged") != NULL, "%s", ERR);
}
END_TEST

/* ---- files -------------------------------------------------------------- */

START_TEST(preallocation)
{
    craft_file_storage_options o;
    opts_init(&o);
    o.segment_bytes = 1 << 20;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    append_range(1, 3, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    ck_assert_uint_eq(file_size(segname(1)), 1u << 20);
    const struct ev *v = find_ev(CRAFT_TRACE_STORAGE_SEGMENT_CREATED);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->shape, "index:u file:s");
    ck_assert_uint_eq(v->u[1], 1);
    /* truncation keeps the reservation */
    ck_assert_int_eq(OPS.truncate(OPS.user, 2), CRAFT_OK);
    ck_assert_uint_eq(file_size(segname(1)), 1u << 20);
    craft_file_storage_close(FS);
    FS = NULL;
    st_tmpdir_remove(D);
    st_tmpdir(D, sizeof(D), "file");
    o.preallocate = 0;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    append_range(1, 3, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    ck_assert_uint_eq(file_size(segname(1)), rec_off(4));
}
END_TEST

/* A snapshot deletes the segments it covers whole, never rewriting one;
 * leftovers of an interrupted one are deleted at open. */
START_TEST(compaction)
{
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    size_t clen = conf_bytes(conf);
    craft_file_storage_options o;
    opts_init(&o);
    o.segment_bytes = 4096;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    append_range(1, 100, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    uint64_t size79 = file_size(segname(79));
    ck_assert_int_eq(OPS.snapshot_write(OPS.user, 80, 1, 0, "s", 1, conf,
                                        clen, CRAFT_SNAPSHOT_F_LAST),
                     CRAFT_OK);
    ck_assert(!exists(segname(1)));
    ck_assert(!exists(segname(40)));
    ck_assert(exists(segname(79))); /* holds 80.. */
    ck_assert_uint_eq(file_size(segname(79)), size79);
    const struct ev *v = find_ev(CRAFT_TRACE_STORAGE_COMPACTED);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->shape, "index:u segments:u");
    ck_assert_uint_eq(v->u[1], 80);
    ck_assert_uint_eq(v->u[2], 2);
    v = find_ev(CRAFT_TRACE_STORAGE_SNAPSHOT_SAVED);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->shape, "index:u term:u bytes:u");
    ck_assert_uint_eq(v->u[1], 80);
    ck_assert_uint_eq(v->u[3], 1);
    M.snap_index = 80;
    M.snap_term = 1;
    check_loaded();
    /* a leftover covered by the snapshot (its deletion was lost) */
    craft_file_storage_close(FS);
    FS = NULL;
    char p[700];
    seg_path(p, sizeof(p), 1);
    int fd = open(p, O_RDWR | O_CREAT, 0600);
    unsigned char hb[FS_SEG_HEADER_BYTES];
    fs_seg_header_encode(hb, 1);
    ck_assert_int_eq(pwrite(fd, hb, sizeof(hb), 0), (ssize_t)sizeof(hb));
    close(fd);
    /* and temporary files of interrupted snapshots */
    path_of(p, sizeof(p), "snapshot-receiving.tmp");
    fd = open(p, O_RDWR | O_CREAT, 0600);
    close(fd);
    T.n = 0;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    ck_assert(!exists(segname(1)));
    ck_assert(!exists("snapshot-receiving.tmp"));
    check_loaded();
    v = find_ev(CRAFT_TRACE_STORAGE_OPENED);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->shape,
                     "first_index:u last_index:u snapshot_index:u segments:u");
    ck_assert_uint_eq(v->u[1], 81);
    ck_assert_uint_eq(v->u[2], 100);
    ck_assert_uint_eq(v->u[3], 80);
    ck_assert_uint_eq(v->u[4], 1);
}
END_TEST

/* Closing writes what was appended (not synced): a process that exits
 * without a sync loses nothing the kernel got. */
START_TEST(close_writes_buffer)
{
    reopen_ok();
    append_range(1, 5, 64);
    craft_file_storage_close(FS);
    FS = NULL;
    reopen_ok();
    check_loaded();
}
END_TEST

/* Below the INFO level nothing is traced at DEBUG; without a trace
 * callback nothing is traced at all. */
START_TEST(trace_levels)
{
    craft_file_storage_options o;
    opts_init(&o);
    o.trace_level = CRAFT_TRACE_INFO;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    append_range(1, 3, 64);
    ck_assert_int_eq(OPS.sync(OPS.user), CRAFT_OK);
    ck_assert_ptr_nonnull(find_ev(CRAFT_TRACE_STORAGE_OPENED));
    ck_assert_ptr_null(find_ev(CRAFT_TRACE_STORAGE_SEGMENT_CREATED));
    T.n = 0;
    o.trace = NULL;
    ck_assert_int_eq(open_with(&o), CRAFT_OK);
    ck_assert_int_eq(T.n, 0);
}
END_TEST

static Suite *file_suite(void)
{
    Suite *s = suite_create("file-storage");
    TCase *tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, arguments);
    tcase_add_test(tc, method_errors);
    tcase_add_test(tc, directory_created);
    tcase_add_test(tc, lock_exclusive);
    tcase_add_test(tc, ids_checked);
    tcase_add_test(tc, ids_bound_later);
    tcase_add_test(tc, newer_format_refused);
    tcase_add_test(tc, metadata_missing);
    tcase_add_test(tc, torn_tail_cut_and_reported);
    tcase_add_test(tc, torn_partial_record);
    tcase_add_test(tc, corruption_before_synced_data);
    tcase_add_test(tc, corruption_in_sealed_segment);
    tcase_add_test(tc, segment_header);
    tcase_add_test(tc, snapshot_corruption);
    tcase_add_test(tc, snapshot_read_checked);
    tcase_add_test(tc, snapshot_local_streamed);
    tcase_add_test(tc, hard_state_slots);
    tcase_add_test(tc, preallocation);
    tcase_add_test(tc, compaction);
    tcase_add_test(tc, close_writes_buffer);
    tcase_add_test(tc, trace_levels);
    suite_add_tcase(s, tc);
    return s;
}

ST_TEST_MAIN(file_suite)
