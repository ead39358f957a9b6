/*
 * tests/fuzz/fuzz_storage.c: the file storage's recovery on damaged data
 * directories.
 * covers: src/storage
 *
 * Once per process the target writes real data directories through the
 * file storage's own methods (a log over several segments with syncs
 * between batches, a conflicting suffix replaced, hard state changes, and
 * in one of them a snapshot that compacted the log) and keeps their files
 * in memory. Each input picks one and mutates its files: flipped and
 * overwritten bytes, truncated, extended, deleted, copied or added files.
 * The mutated directory is written out, opened and loaded the way a node
 * loads it (craft_node_create() runs the storage's load).
 *
 * Properties: no crash, no sanitizer report; open fails only with a
 * documented code; when it succeeds, the load succeeds and gives (unless
 * the metadata went with everything else: then a new, empty directory)
 *  - a hard state the directory held (the last one, or the one before
 *    when the last write is taken for torn);
 *  - the snapshot the directory held, whose bytes read back exactly or
 *    not at all (a checksum error);
 *  - log entries each equal to the entry written at that index, without
 *    a gap: never a wrong entry;
 *  - when only bytes were changed (no file cut, removed or added), every
 *    entry up to the last sync before the final one: damage to durable
 *    records is reported, not cut away as if it were a torn tail. The
 *    proof that a damaged record had been synced is a later record, intact,
 *    whose durable mark is past it (src/storage/README.md): so this holds
 *    unless the final write (its one record) is damaged as well, when the
 *    damage is indistinguishable from a torn tail after a power loss.
 */
#define _XOPEN_SOURCE 700

#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/conf.h"
#include "engine/engine.h"
#include "node/node.h"

#define MAX_FILES 32
#define MAX_INDEX 64
#define SNAP_BYTES 700

struct file {
    char name[80];
    uint8_t *data;
    size_t len;
};

struct tmpl {
    struct file f[MAX_FILES];
    size_t n;
    /* What was written. */
    uint64_t hs_term, hs_vote;           /* the last hard state */
    uint64_t prev_term, prev_vote;       /* the one before */
    uint64_t snap_index, snap_term;      /* 0: none */
    uint64_t last;                       /* last index of the log */
    uint64_t floor;                      /* last index of the batch before
                                            the final sync */
    char final_name[80];                 /* the final write: this file */
    size_t final_off;                    /* from this offset on */
    uint64_t term[MAX_INDEX + 1];        /* the final log, by index */
    uint32_t gen[MAX_INDEX + 1];
};

static struct tmpl tmpls[2];
static char base[256];
static int ready;

/* ---- helpers ------------------------------------------------------------ */

static void payload(uint8_t *p, size_t len, uint64_t index, uint32_t gen)
{
    uint64_t x = index * 0x9E3779B97F4A7C15ull ^ (gen + 1) * 0xC2B2AE3Dull;
    for (size_t k = 0; k < len; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[k] = (uint8_t)x;
    }
}

static size_t payload_len(uint64_t index, uint32_t gen)
{
    return 40 + (index * 37 + gen * 11) % 200;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rmrf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
    if (base[0] != '\0') {
        rmrf(base);
    }
}

static craft_file_storage *open_dir(const char *dir, int *rv, char *err,
                                    size_t cap)
{
    craft_file_storage_options o;
    craft_file_storage *fs = NULL;
    craft_file_storage_options_init(&o);
    o.segment_bytes = 4096;
    o.preallocate = 0;
    o.sync_mode = CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS;
    o.errbuf = err;
    o.errbuf_size = cap;
    *rv = craft_file_storage_open(dir, &o, &fs);
    return fs;
}

/* Reads every file of dir into t. */
static void slurp(const char *dir, struct tmpl *t)
{
    static const char *const fixed[] = {"metadata", "hardstate", "lock"};
    char path[400];
    t->n = 0;
    /* The names the storage writes: the fixed ones, segments and the
     * snapshot, found by trying (no readdir order to depend on). */
    for (size_t k = 0; k < 3; k++) {
        snprintf(t->f[t->n].name, sizeof(t->f[0].name), "%s", fixed[k]);
        t->n++;
    }
    for (uint64_t first = 1; first <= MAX_INDEX; first++) {
        snprintf(t->f[t->n].name, sizeof(t->f[0].name), "segment-%020llu",
                 (unsigned long long)first);
        snprintf(path, sizeof(path), "%.300s/%.79s", dir, t->f[t->n].name);
        if (access(path, F_OK) == 0 && t->n < MAX_FILES - 1) {
            t->n++;
        }
    }
    if (t->snap_index != 0) {
        snprintf(t->f[t->n].name, sizeof(t->f[0].name),
                 "snapshot-%020llu-%020llu",
                 (unsigned long long)t->snap_index,
                 (unsigned long long)t->snap_term);
        t->n++;
    }
    for (size_t k = 0; k < t->n; k++) {
        snprintf(path, sizeof(path), "%.300s/%.79s", dir, t->f[k].name);
        FILE *f = fopen(path, "rb");
        FUZZ_CHECK(f != NULL, "template file %s missing", path);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        t->f[k].len = (size_t)size;
        t->f[k].data = malloc(t->f[k].len ? t->f[k].len : 1);
        FUZZ_CHECK(t->f[k].data != NULL &&
                       fread(t->f[k].data, 1, t->f[k].len, f) == t->f[k].len,
                   "reading %s", path);
        fclose(f);
    }
}

/* The log's last segment in dir and its size. */
static void tail_segment(const char *dir, char *name, size_t cap,
                         size_t *size)
{
    char path[400];
    struct stat sb;
    name[0] = '\0';
    *size = 0;
    for (uint64_t first = 1; first <= MAX_INDEX; first++) {
        char n[80];
        snprintf(n, sizeof(n), "segment-%020llu", (unsigned long long)first);
        snprintf(path, sizeof(path), "%.300s/%s", dir, n);
        if (stat(path, &sb) == 0) {
            snprintf(name, cap, "%s", n);
            *size = (size_t)sb.st_size;
        }
    }
    FUZZ_CHECK(name[0] != '\0', "template: no segment in %s", dir);
}

static void put_entries(const craft_storage_ops *st, struct tmpl *t,
                        uint64_t from, uint64_t to, uint64_t term,
                        uint32_t gen)
{
    uint8_t buf[512];
    for (uint64_t i = from; i <= to; i++) {
        size_t len = payload_len(i, gen);
        payload(buf, len, i, gen);
        FUZZ_CHECK(st->append(st->user, i, term, CRAFT_ENTRY_NORMAL, buf,
                              len) == CRAFT_OK,
                   "template append %llu", (unsigned long long)i);
        t->term[i] = term;
        t->gen[i] = gen;
    }
    t->last = to;
}

static void put_hs(const craft_storage_ops *st, struct tmpl *t, uint64_t term,
                   uint64_t vote)
{
    FUZZ_CHECK(st->save_hard_state(st->user, term, vote) == CRAFT_OK,
               "template hard state");
    t->prev_term = t->hs_term;
    t->prev_vote = t->hs_vote;
    t->hs_term = term;
    t->hs_vote = vote;
}

static void sync_all(const craft_storage_ops *st)
{
    FUZZ_CHECK(st->sync(st->user) == CRAFT_OK, "template sync");
}

static void snap_bytes(uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        p[k] = (uint8_t)(k * 13 + 7);
    }
}

/* Writes template k into dir and reads it back into tmpls[k]. */
static void build(int k, const char *dir)
{
    struct tmpl *t = &tmpls[k];
    int rv;
    char err[512];
    craft_file_storage *fs = open_dir(dir, &rv, err, sizeof(err));
    FUZZ_CHECK(rv == CRAFT_OK, "template open: %s", err);
    craft_storage_ops st;
    craft_storage_ops_init(&st);
    FUZZ_CHECK(craft_file_storage_ops(fs, &st) == CRAFT_OK, "ops");

    put_hs(&st, t, 1, 0);
    sync_all(&st);
    for (uint64_t i = 1; i <= 20; i += 4) {
        put_entries(&st, t, i, i + 3, 1, 0);
        sync_all(&st);
    }
    put_hs(&st, t, 2, 2);
    put_entries(&st, t, 21, 25, 2, 0);
    sync_all(&st);
    put_entries(&st, t, 26, 30, 2, 0);
    sync_all(&st);
    /* A new leader's log replaces an uncommitted suffix. */
    FUZZ_CHECK(st.truncate(st.user, 27) == CRAFT_OK, "template truncate");
    put_entries(&st, t, 27, 34, 3, 1);
    sync_all(&st);
    if (k == 1) {
        uint8_t conf[CRAFT_CONF_MAX_BYTES], data[SNAP_BYTES];
        static struct craft_conf c; /* large: addresses */
        memset(&c, 0, sizeof(c));
        c.n = 3;
        for (uint32_t k = 0; k < 3; k++) {
            c.m[k].id = k + 1;
            c.m[k].role = k == 2 ? 1 : 1;
        }
        size_t clen = craft_conf_encode(&c, conf);
        snap_bytes(data, sizeof(data));
        FUZZ_CHECK(st.snapshot_write(st.user, 24, 2, 0, data, sizeof(data),
                                     conf, clen, CRAFT_SNAPSHOT_F_LAST) ==
                       CRAFT_OK,
                   "template snapshot");
        sync_all(&st);
        t->snap_index = 24;
        t->snap_term = 2;
    }
    put_hs(&st, t, 3, 1);
    put_entries(&st, t, 35, 40, 3, 1);
    sync_all(&st);
    put_entries(&st, t, 41, 41, 3, 1);
    sync_all(&st);
    t->floor = t->last;
    /* The final write: one record (segments are not preallocated, so a
     * file's size is what was written). */
    tail_segment(dir, t->final_name, sizeof(t->final_name), &t->final_off);
    put_entries(&st, t, 42, 42, 3, 1);
    sync_all(&st);
    char tail[80];
    size_t size;
    tail_segment(dir, tail, sizeof(tail), &size);
    if (strcmp(tail, t->final_name) != 0) {
        /* It went to a new segment: all of it is the final write. */
        memcpy(t->final_name, tail, sizeof(tail));
        t->final_off = 0;
    }
    craft_file_storage_close(fs);
    slurp(dir, t);
    rmrf(dir);
}

static void setup(void)
{
    /* TMPDIR, else /dev/shm (memory: many directories a second), else
     * /tmp. */
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0') {
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    }
    snprintf(base, sizeof(base), "%.200s/craft-fuzz-storage-XXXXXX", tmp);
    FUZZ_CHECK(mkdtemp(base) != NULL, "mkdtemp %s: %s", base,
               strerror(errno));
    atexit(cleanup);
    char dir[300];
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof(dir), "%.250s/t%d", base, k);
        build(k, dir);
    }
    ready = 1;
}

/* ---- loading what is left ------------------------------------------------ */

static int noop_send(void *user, uint64_t peer, const void *data, size_t len)
{
    (void)user;
    (void)peer;
    (void)data;
    (void)len;
    return CRAFT_OK;
}

static int noop_apply(void *user, uint64_t index, uint64_t term,
                      const void *data, size_t len, const void **result,
                      size_t *result_len)
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

static void check_loaded(const struct tmpl *t, const craft_storage_ops *st,
                         const struct craft_engine *e, int only_bytes,
                         int final_too, int no_meta)
{
    if (no_meta && e->term == 0 && e->vote == 0 &&
        craft_log_last(&e->log) == 0 && e->snapshot_index == 0) {
        return; /* everything was removed: a new, empty directory */
    }
    FUZZ_CHECK((e->term == t->hs_term && e->vote == t->hs_vote) ||
                   (e->term == t->prev_term && e->vote == t->prev_vote),
               "loaded hard state (%llu, %llu) was never the last or the one "
               "before",
               (unsigned long long)e->term, (unsigned long long)e->vote);
    uint64_t si = e->snapshot_index;
    FUZZ_CHECK(si == 0 || (si == t->snap_index &&
                           e->snapshot_term == t->snap_term),
               "loaded snapshot %llu/%llu that was never written",
               (unsigned long long)si,
               (unsigned long long)e->snapshot_term);
    if (si != 0) {
        uint8_t want[SNAP_BYTES], got[SNAP_BYTES + 16];
        size_t n = 0;
        int last = 0;
        snap_bytes(want, sizeof(want));
        int rv = st->snapshot_read(st->user, si, 0, got, sizeof(got), &n,
                                   &last);
        if (rv == CRAFT_OK) {
            FUZZ_CHECK(n == SNAP_BYTES && last &&
                           memcmp(got, want, SNAP_BYTES) == 0,
                       "the snapshot reads back %zu bytes, not what was "
                       "written",
                       n);
        }
    }
    const struct craft_log *l = &e->log;
    uint64_t last = craft_log_last(l);
    FUZZ_CHECK(last <= t->last, "loaded %llu entries, %llu were written",
               (unsigned long long)last, (unsigned long long)t->last);
    for (uint64_t i = l->snap_index + 1; i <= last; i++) {
        const struct craft_entry *ent = craft_log_get(l, i);
        uint8_t buf[512];
        size_t len = payload_len(i, t->gen[i]);
        payload(buf, len, i, t->gen[i]);
        FUZZ_CHECK(ent->term == t->term[i] && ent->type == CRAFT_ENTRY_NORMAL &&
                       ent->len == len && memcmp(ent->data, buf, len) == 0,
                   "loaded entry %llu is not the entry written there",
                   (unsigned long long)i);
    }
    if (only_bytes && !final_too) {
        FUZZ_CHECK(last >= t->floor,
                   "changed bytes lost durable entries silently: the log "
                   "ends at %llu, entries up to %llu were synced before the "
                   "last write",
                   (unsigned long long)last, (unsigned long long)t->floor);
        FUZZ_CHECK(si == t->snap_index,
                   "changed bytes lost the snapshot silently");
    }
}

static int known_open_error(int rv)
{
    return rv == CRAFT_ECORRUPT || rv == CRAFT_EVERSION ||
           rv == CRAFT_ESTATE || rv == CRAFT_EIO;
}

/* ---- the target ---------------------------------------------------------- */

static void write_file(const char *dir, const struct file *f)
{
    char path[400];
    snprintf(path, sizeof(path), "%.300s/%.79s", dir, f->name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FUZZ_CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
    size_t off = 0;
    while (off < f->len) {
        ssize_t w = write(fd, f->data + off, f->len - off);
        FUZZ_CHECK(w > 0, "write %s", path);
        off += (size_t)w;
    }
    close(fd);
}

/* Whether bytes of the final write changed, and bytes before it too
 * (files of the template, mutated only in place: only_bytes). */
static int final_too(const struct tmpl *t, const struct file *f, size_t n)
{
    int in_final = 0, before = 0;
    for (size_t k = 0; k < n; k++) {
        const struct file *o = NULL;
        for (size_t j = 0; j < t->n && o == NULL; j++) {
            if (strcmp(t->f[j].name, f[k].name) == 0) {
                o = &t->f[j];
            }
        }
        if (o == NULL || o->len != f[k].len) {
            continue; /* not only bytes: the caller does not ask */
        }
        size_t from = strcmp(f[k].name, t->final_name) == 0 ? t->final_off
                                                             : o->len;
        for (size_t b = 0; b < o->len; b++) {
            if (o->data[b] != f[k].data[b]) {
                if (b >= from) {
                    in_final = 1;
                } else {
                    before = 1;
                }
            }
        }
    }
    return in_final && before;
}

static const char *const extra_names[] = {
    "snapshot-receiving.tmp", "snapshot-local.tmp", "metadata.tmp",
    "hardstate.tmp", "segment-00000000000000000099",
    "segment-00000000000000000043",
    "snapshot-00000000000000000030-00000000000000000003", "junk"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        setup();
    }
    struct fuzz_in in = {data, size};
    const struct tmpl *t = &tmpls[fuzz_u8(&in) & 1u];

    /* A private copy of the files to mutate. */
    struct file f[MAX_FILES];
    size_t n = t->n;
    for (size_t k = 0; k < n; k++) {
        f[k] = t->f[k];
        f[k].data = malloc(f[k].len + 64);
        FUZZ_CHECK(f[k].data != NULL, "out of memory");
        memcpy(f[k].data, t->f[k].data, f[k].len);
    }
    int only_bytes = 1;
    for (int ops = 0; fuzz_more(&in) && ops < 16; ops++) {
        uint8_t op = fuzz_u8(&in);
        if (n == 0) {
            break;
        }
        struct file *x = &f[fuzz_u8(&in) % n];
        switch (op % 10) {
        case 0:
        case 1:
        case 2: { /* flip bits of one byte */
            uint32_t off = fuzz_u16(&in);
            uint8_t mask = fuzz_u8(&in);
            if (x->len > 0) {
                x->data[off % x->len] ^= mask ? mask : 1;
            }
            break;
        }
        case 3: { /* overwrite up to 8 bytes */
            uint32_t off = fuzz_u16(&in);
            size_t len;
            const uint8_t *b = fuzz_bytes(&in, 8, &len);
            for (size_t k = 0; k < len && x->len > 0; k++) {
                x->data[(off + k) % x->len] = b[k];
            }
            break;
        }
        case 4: /* cut the file */
            x->len = fuzz_u16(&in) % (x->len + 1);
            only_bytes = 0;
            break;
        case 5: { /* garbage at its end */
            size_t len;
            const uint8_t *b = fuzz_bytes(&in, 64, &len);
            uint8_t *p = realloc(x->data, x->len + len + 64);
            FUZZ_CHECK(p != NULL, "out of memory");
            x->data = p;
            memcpy(x->data + x->len, b, len);
            x->len += len;
            only_bytes = 0;
            break;
        }
        case 6: /* remove it */
            free(x->data);
            *x = f[--n];
            only_bytes = 0;
            break;
        case 7: { /* copy another file's bytes over it */
            const struct file *y = &f[fuzz_u8(&in) % n];
            uint8_t *p = malloc(y->len + 64);
            FUZZ_CHECK(p != NULL, "out of memory");
            memcpy(p, y->data, y->len);
            free(x->data);
            x->data = p;
            x->len = y->len;
            only_bytes = 0;
            break;
        }
        default: { /* a new file: a leftover, a stray segment or snapshot */
            if (n == MAX_FILES) {
                break;
            }
            struct file *y = &f[n++];
            const struct file *src = &f[fuzz_u8(&in) % (n - 1)];
            snprintf(y->name, sizeof(y->name), "%s",
                     extra_names[fuzz_u8(&in) % 8]);
            y->len = src->len;
            y->data = malloc(y->len + 64);
            FUZZ_CHECK(y->data != NULL, "out of memory");
            memcpy(y->data, src->data, y->len);
            only_bytes = 0;
            break;
        }
        }
    }

    char dir[300];
    snprintf(dir, sizeof(dir), "%.250s/d", base);
    rmrf(dir);
    FUZZ_CHECK(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno));
    for (size_t k = 0; k < n; k++) {
        /* Two files of one name (an added copy): the later wins. */
        write_file(dir, &f[k]);
#ifdef FUZZ_DEBUG
        fprintf(stderr, "  %s: %zu bytes\n", f[k].name, f[k].len);
#endif
    }

    int rv;
    char err[512] = "";
    craft_file_storage *fs = open_dir(dir, &rv, err, sizeof(err));
    if (rv != CRAFT_OK) {
        FUZZ_CHECK(known_open_error(rv), "open returned %d: %s", rv, err);
    } else {
        craft_storage_ops st;
        craft_storage_ops_init(&st);
        FUZZ_CHECK(craft_file_storage_ops(fs, &st) == CRAFT_OK, "ops");
        craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
        craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
        craft_node_options o = CRAFT_NODE_OPTIONS_INIT;
        tr.send = noop_send;
        fsm.apply = noop_apply;
        o.id = 1;
        o.storage = &st;
        o.transport = &tr;
        o.fsm = &fsm;
        craft_node *node = NULL;
        rv = craft_node_create(&o, &node);
        FUZZ_CHECK(rv == CRAFT_OK,
                   "the storage opened but its load failed (%d): it fed the "
                   "node state it should have refused at open",
                   rv);
        int no_meta = 1;
        for (size_t k = 0; k < n; k++) {
            no_meta &= strcmp(f[k].name, "metadata") != 0;
        }
        check_loaded(t, &st, ((struct craft_node *)node)->e, only_bytes,
                     final_too(t, f, n), no_meta);
        craft_node_free(node);
        craft_file_storage_close(fs);
    }
    for (size_t k = 0; k < n; k++) {
        free(f[k].data);
    }
    return 0;
}
