/*
 * storage/open.c: the public functions of craft/storage.h: options,
 * opening (directory, lock, metadata, recovery), the methods table,
 * errmsg and close.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fs.h"

static const craft_file_storage_options defaults =
    CRAFT_FILE_STORAGE_OPTIONS_INIT;

int craft_file_storage_options_init(craft_file_storage_options *o)
{
    if (o == NULL) {
        return CRAFT_EINVAL;
    }
    *o = defaults;
    return CRAFT_OK;
}

static void copy_err(char *buf, size_t cap, const char *msg)
{
    if (buf != NULL && cap > 0) {
        snprintf(buf, cap, "%s", msg);
    }
}

/* ---- the methods ----------------------------------------------------- */

static int m_load(void *user, craft_loader *ld)
{
    craft_file_storage *fs = user;
    pthread_mutex_lock(&fs->mu);
    int rv = fs_load(fs, ld);
    pthread_mutex_unlock(&fs->mu);
    return rv;
}

static int m_save_hard_state(void *user, uint64_t term, uint64_t vote)
{
    craft_file_storage *fs = user;
    pthread_mutex_lock(&fs->mu);
    int rv = fs_hs_save(fs, term, vote);
    pthread_mutex_unlock(&fs->mu);
    return rv;
}

static int m_append(void *user, uint64_t index, uint64_t term, uint32_t type,
                    const void *data, size_t len)
{
    craft_file_storage *fs = user;
    pthread_mutex_lock(&fs->mu);
    int rv = fs_append(fs, index, term, type, data, len);
    pthread_mutex_unlock(&fs->mu);
    return rv;
}

static int m_truncate(void *user, uint64_t index)
{
    craft_file_storage *fs = user;
    pthread_mutex_lock(&fs->mu);
    int rv = fs_truncate(fs, index);
    pthread_mutex_unlock(&fs->mu);
    return rv;
}

static int m_sync(void *user)
{
    craft_file_storage *fs = user;
    pthread_mutex_lock(&fs->mu);
    int rv = fs_sync(fs);
    pthread_mutex_unlock(&fs->mu);
    return rv;
}

static int m_snapshot_write(void *user, uint64_t index, uint64_t term,
                            uint64_t offset, const void *data, size_t len,
                            const void *conf, size_t conf_len,
                            uint32_t flags)
{
    craft_file_storage *fs = user;
    pthread_mutex_lock(&fs->mu);
    int rv = fs_snap_write(fs, index, term, offset, data, len, conf,
                           conf_len, flags);
    pthread_mutex_unlock(&fs->mu);
    return rv;
}

static int m_snapshot_read(void *user, uint64_t index, uint64_t offset,
                           void *buf, size_t count, size_t *n, int *last)
{
    craft_file_storage *fs = user;
    pthread_mutex_lock(&fs->mu);
    int rv = fs_snap_read(fs, index, offset, buf, count, n, last);
    pthread_mutex_unlock(&fs->mu);
    return rv;
}

int craft_file_storage_ops(craft_file_storage *fs, craft_storage_ops *ops)
{
    craft_storage_ops full;
    if (fs == NULL || ops == NULL) {
        return CRAFT_EINVAL;
    }
    if (ops->struct_size == 0 || ops->struct_size > sizeof(full)) {
        return CRAFT_ESTRUCT;
    }
    craft_storage_ops_init(&full);
    full.user = fs;
    full.load = m_load;
    full.save_hard_state = m_save_hard_state;
    full.append = m_append;
    full.truncate = m_truncate;
    full.sync = m_sync;
    full.snapshot_write = m_snapshot_write;
    full.snapshot_read = m_snapshot_read;
    full.flags = CRAFT_STORAGE_F_STREAM_LOCAL;
    uint32_t size = ops->struct_size;
    memcpy(ops, &full, size);
    ops->struct_size = size;
    return CRAFT_OK;
}

size_t craft_file_storage_errmsg(const craft_file_storage *fs, char *buf,
                                 size_t cap)
{
    if (fs == NULL) {
        return 0;
    }
    craft_file_storage *m = (craft_file_storage *)fs;
    pthread_mutex_lock(&m->err_mu);
    size_t len = strlen(m->err);
    copy_err(buf, cap, m->err);
    pthread_mutex_unlock(&m->err_mu);
    return len;
}

/* ---- opening --------------------------------------------------------- */

/* mkdir -p, syncing the parent of every directory it creates so that the
 * new name is durable. */
static int make_dirs(craft_file_storage *fs)
{
    size_t len = strlen(fs->dir);
    char *path = craft_malloc(&fs->alloc, len + 1);
    if (path == NULL) {
        return fs_error(fs, CRAFT_ENOMEM, "no memory");
    }
    memcpy(path, fs->dir, len + 1);
    int rv = CRAFT_OK;
    for (size_t k = 1; k <= len && rv == CRAFT_OK; k++) {
        if (k < len && path[k] != '/') {
            continue;
        }
        char saved = path[k];
        path[k] = '\0';
        if (mkdir(path, 0700) == 0) {
            /* the parent's entry for it */
            char *slash = strrchr(path, '/');
            const char *parent = ".";
            if (slash == path) {
                parent = "/";
            } else if (slash != NULL) {
                *slash = '\0';
                parent = path;
            }
            int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (pfd >= 0) {
                if (fs->sync_mode != CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS) {
                    fsync(pfd);
                }
                close(pfd);
            }
            if (slash != NULL && slash != path) {
                *slash = '/';
            }
        } else if (errno != EEXIST) {
            rv = fs_io_fail(fs, 0, "mkdir", path, -errno);
        }
        path[k] = saved;
    }
    craft_free(&fs->alloc, path);
    return rv;
}

static int take_lock(craft_file_storage *fs)
{
    int fd = fs->io.openat(fs->io.user, fs->dirfd, FS_LOCK,
                           O_RDWR | O_CREAT, 0600);
    if (fd < 0) {
        return fs_io_fail(fs, 0, "open", FS_LOCK, fd);
    }
    fs->lockfd = fd;
    /* flock: held per open file description, so a second open in the same
     * process conflicts too (fcntl locks would not). */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            char pid[32] = "";
            ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            return fs_error(fs, CRAFT_EBUSY,
                            "locked by another open storage (process %s): "
                            "a data directory serves one node at a time",
                            pid[0] != '\0' ? pid : "unknown");
        }
        return fs_io_fail(fs, 0, "flock", FS_LOCK, -errno);
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0) {
        size_t done = 0;
        fs->io.pwrite(fs->io.user, fd, pid, (size_t)n, 0, &done);
    }
    return CRAFT_OK;
}

static int write_meta(craft_file_storage *fs, const struct fs_meta *m)
{
    unsigned char buf[FS_META_BYTES];
    fs_meta_encode(buf, m);
    int fd = fs->io.openat(fs->io.user, fs->dirfd, FS_METADATA_TMP,
                           O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return fs_io_fail(fs, 0, "create", FS_METADATA_TMP, fd);
    }
    const char *op = "write";
    int rv = fs_pwrite_all(fs, fd, buf, sizeof(buf), 0);
    if (rv == 0) {
        op = "fdatasync";
        rv = fs_datasync(fs, fd);
    }
    fs->io.close(fs->io.user, fd);
    if (rv == 0) {
        op = "rename";
        rv = fs->io.renameat(fs->io.user, fs->dirfd, FS_METADATA_TMP,
                             FS_METADATA);
    }
    if (rv == 0) {
        op = "fsync";
        rv = fs_dirsync(fs);
    }
    return rv < 0 ? fs_io_fail(fs, 0, op, FS_METADATA, rv) : CRAFT_OK;
}

/* Reads the metadata; *fresh when the directory was never initialised. */
static int read_meta(craft_file_storage *fs, int *fresh)
{
    unsigned char buf[FS_META_BYTES + 1];
    struct fs_meta m;
    *fresh = 0;
    int fd = fs->io.openat(fs->io.user, fs->dirfd, FS_METADATA, O_RDONLY, 0);
    if (fd == -ENOENT) {
        *fresh = 1;
        return CRAFT_OK;
    }
    if (fd < 0) {
        return fs_io_fail(fs, 0, "open", FS_METADATA, fd);
    }
    size_t done = 0;
    int rv = fs_pread_all(fs, fd, buf, sizeof(buf), 0, &done);
    fs->io.close(fs->io.user, fd);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "read", FS_METADATA, rv);
    }
    rv = fs_meta_decode(buf, done, &m);
    if (rv == CRAFT_EVERSION) {
        return fs_error(fs, CRAFT_EVERSION,
                        FS_METADATA ": format version %u is newer than this "
                                    "build reads (%u): use a newer craft",
                        (unsigned)m.version, FS_FORMAT_VERSION);
    }
    if (rv != CRAFT_OK) {
        return fs_error(fs, CRAFT_ECORRUPT,
                        FS_METADATA ", offset 0: %s",
                        rv == CRAFT_ECHECKSUM
                            ? "fails its CRC32C"
                            : "not a craft metadata file (bad magic or size)");
    }
    if (fs->cluster_id != 0 && m.cluster_id != 0 &&
        fs->cluster_id != m.cluster_id) {
        return fs_error(fs, CRAFT_ESTATE,
                        "belongs to cluster %llu, not to cluster %llu: the "
                        "wrong data directory?",
                        (unsigned long long)m.cluster_id,
                        (unsigned long long)fs->cluster_id);
    }
    if (fs->node_id != 0 && m.node_id != 0 && fs->node_id != m.node_id) {
        return fs_error(fs, CRAFT_ESTATE,
                        "belongs to node %llu, not to node %llu: the wrong "
                        "data directory?",
                        (unsigned long long)m.node_id,
                        (unsigned long long)fs->node_id);
    }
    int bind = (fs->cluster_id != 0 && m.cluster_id == 0) ||
               (fs->node_id != 0 && m.node_id == 0);
    if (fs->cluster_id == 0) {
        fs->cluster_id = m.cluster_id;
    }
    if (fs->node_id == 0) {
        fs->node_id = m.node_id;
    }
    if (bind) {
        struct fs_meta nm = {FS_FORMAT_VERSION, fs->cluster_id, fs->node_id};
        return write_meta(fs, &nm);
    }
    return CRAFT_OK;
}

struct listing {
    uint64_t *segs;
    size_t nsegs, segs_cap;
    uint64_t *snap_idx;
    uint64_t *snap_term;
    size_t nsnaps, snaps_cap, terms_cap;
    int has_hardstate;
};

static int push(craft_file_storage *fs, uint64_t **arr, size_t *n,
                size_t *cap, uint64_t v)
{
    void *p = *arr;
    if (craft_grow(&fs->alloc, &p, cap, *n + 1, sizeof(uint64_t)) !=
        CRAFT_OK) {
        return fs_error(fs, CRAFT_ENOMEM, "no memory to list the directory");
    }
    *arr = p;
    (*arr)[(*n)++] = v;
    return CRAFT_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the directory; deletes the temporary files of interrupted
 * operations (none of them is in force). */
static int list_dir(craft_file_storage *fs, struct listing *ls)
{
    static const char *const temps[] = {FS_SNAPSHOT_RECV_TMP,
                                        FS_SNAPSHOT_LOCAL_TMP,
                                        FS_METADATA_TMP, FS_HARDSTATE_TMP};
    int fd = dup(fs->dirfd);
    if (fd < 0) {
        return fs_io_fail(fs, 0, "dup", fs->dir, -errno);
    }
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return fs_io_fail(fs, 0, "opendir", fs->dir, -errno);
    }
    rewinddir(d);
    int rv = CRAFT_OK;
    struct dirent *de;
    while (rv == CRAFT_OK && (de = readdir(d)) != NULL) {
        uint64_t a, b;
        if (fs_segment_parse(de->d_name, &a)) {
            rv = push(fs, &ls->segs, &ls->nsegs, &ls->segs_cap, a);
        } else if (fs_snapshot_parse(de->d_name, &a, &b)) {
            size_t n = ls->nsnaps;
            rv = push(fs, &ls->snap_idx, &ls->nsnaps, &ls->snaps_cap, a);
            if (rv == CRAFT_OK) {
                rv = push(fs, &ls->snap_term, &n, &ls->terms_cap, b);
            }
        } else if (strcmp(de->d_name, FS_HARDSTATE) == 0) {
            ls->has_hardstate = 1;
        } else {
            for (size_t k = 0; k < sizeof(temps) / sizeof(temps[0]); k++) {
                if (strcmp(de->d_name, temps[k]) == 0) {
                    fs->io.unlinkat(fs->io.user, fs->dirfd, temps[k]);
                }
            }
        }
    }
    closedir(d);
    if (rv == CRAFT_OK && ls->nsegs > 1) {
        qsort(ls->segs, ls->nsegs, sizeof(uint64_t), cmp_u64);
    }
    return rv;
}

static void free_listing(craft_file_storage *fs, struct listing *ls)
{
    craft_free(&fs->alloc, ls->segs);
    craft_free(&fs->alloc, ls->snap_idx);
    craft_free(&fs->alloc, ls->snap_term);
}

static void fs_free(craft_file_storage *fs)
{
    fs_close_tail(fs);
    fs_snap_close(fs);
    if (fs->hs_fd >= 0) {
        fs->io.close(fs->io.user, fs->hs_fd);
    }
    if (fs->lockfd >= 0) {
        close(fs->lockfd); /* releases the lock */
    }
    if (fs->dirfd >= 0) {
        close(fs->dirfd);
    }
    craft_free(&fs->alloc, fs->segs);
    craft_free(&fs->alloc, fs->wbuf_raw);
    craft_free(&fs->alloc, fs->zbuf_raw);
    craft_free(&fs->alloc, fs->rbuf);
    craft_free(&fs->alloc, fs->dir);
    pthread_mutex_destroy(&fs->mu);
    pthread_mutex_destroy(&fs->err_mu);
    struct craft_alloc al = fs->alloc;
    craft_free(&al, fs);
}

static int check_options(const craft_file_storage_options *o)
{
    if (o->sync_mode < CRAFT_FILE_SYNC_FDATASYNC ||
        o->sync_mode > CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS) {
        return 0;
    }
    if (o->segment_bytes < FS_SEGMENT_MIN ||
        o->segment_bytes > FS_SEGMENT_MAX) {
        return 0;
    }
    return o->preallocate == 0 || o->preallocate == 1;
}

static int open_storage(craft_file_storage *fs)
{
    struct listing ls;
    int fresh = 0;
    memset(&ls, 0, sizeof(ls));

    int rv = make_dirs(fs);
    if (rv != CRAFT_OK) {
        return rv;
    }
    fs->dirfd = open(fs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs->dirfd < 0) {
        return fs_io_fail(fs, 0, "open", fs->dir, -errno);
    }
    rv = take_lock(fs);
    if (rv == CRAFT_OK) {
        rv = read_meta(fs, &fresh);
    }
    if (rv == CRAFT_OK) {
        rv = list_dir(fs, &ls);
    }
    if (rv != CRAFT_OK) {
        goto out;
    }
    if (fresh && (ls.nsegs > 0 || ls.nsnaps > 0)) {
        rv = fs_error(fs, CRAFT_ECORRUPT,
                      FS_METADATA ", offset 0: the file is missing but the "
                                  "directory holds %zu log segments and %zu "
                                  "snapshots: the state is corrupt",
                      ls.nsegs, ls.nsnaps);
        goto out;
    }
    /* an interrupted initialisation may have left a hardstate file:
     * nothing was in it, it is written anew */
    rv = fs_hs_open(fs, fresh);
    if (rv == CRAFT_OK && fresh) {
        struct fs_meta m = {FS_FORMAT_VERSION, fs->cluster_id, fs->node_id};
        rv = write_meta(fs, &m);
    }
    if (rv == CRAFT_OK) {
        rv = fs_snap_recover(fs, ls.snap_idx, ls.snap_term, ls.nsnaps);
    }
    if (rv == CRAFT_OK) {
        rv = fs_recover_log(fs, ls.segs, ls.nsegs);
    }
    if (rv == CRAFT_OK && fs_dirsync(fs) < 0) {
        rv = fs_io_fail(fs, 0, "fsync", fs->dir, -EIO);
    }
out:
    free_listing(fs, &ls);
    return rv;
}

int fs_open_io(const char *dir, const craft_file_storage_options *opts,
               const struct fs_io *io, craft_file_storage **out)
{
    craft_file_storage_options o = defaults;
    char *errbuf = opts != NULL ? opts->errbuf : NULL;
    size_t errcap = opts != NULL ? opts->errbuf_size : 0;

    if (opts != NULL) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(o)) {
            copy_err(errbuf, errcap, "craft file storage: options "
                                     "struct_size is 0 or larger than known");
            return CRAFT_ESTRUCT;
        }
        memcpy(&o, opts, opts->struct_size);
        o.struct_size = sizeof(o);
        if (opts->struct_size <= offsetof(craft_file_storage_options,
                                          errbuf_size)) {
            errbuf = NULL;
        }
    }
    if (dir == NULL || dir[0] == '\0' || out == NULL || io == NULL) {
        copy_err(errbuf, errcap, "craft file storage: NULL or empty "
                                 "directory, or NULL out");
        return CRAFT_EINVAL;
    }
    if (!check_options(&o)) {
        copy_err(errbuf, errcap,
                 "craft file storage: an option is out of range (sync_mode "
                 "1..4, segment_bytes 4 KiB..1 GiB, preallocate 0 or 1)");
        return CRAFT_EINVAL;
    }
    struct craft_alloc al;
    void *p = NULL;
    int rv = craft_handle_alloc(o.allocator, sizeof(craft_file_storage), &al,
                                &p);
    if (rv != CRAFT_OK) {
        copy_err(errbuf, errcap, rv == CRAFT_ENOMEM
                                     ? "craft file storage: no memory"
                                     : "craft file storage: bad allocator");
        return rv;
    }
    craft_file_storage *fs = p;
    fs->alloc = al;
    fs->io = *io;
    fs->dirfd = fs->lockfd = fs->hs_fd = fs->tail_fd = -1;
    fs->snap_fd = fs->in.fd = fs->lo.fd = -1;
    fs->in.tmp = FS_SNAPSHOT_RECV_TMP;
    fs->lo.tmp = FS_SNAPSHOT_LOCAL_TMP;
    fs->sync_mode = o.sync_mode;
    fs->seg_bytes = o.segment_bytes;
    fs->prealloc = o.preallocate;
    fs->cluster_id = o.cluster_id;
    fs->node_id = o.node_id;
    fs->trace = o.trace;
    fs->trace_user = o.trace_user;
    fs->trace_level = o.trace_level;
    if (pthread_mutex_init(&fs->mu, NULL) != 0) {
        craft_free(&al, fs);
        copy_err(errbuf, errcap, "craft file storage: no memory");
        return CRAFT_ENOMEM;
    }
    if (pthread_mutex_init(&fs->err_mu, NULL) != 0) {
        pthread_mutex_destroy(&fs->mu);
        craft_free(&al, fs);
        copy_err(errbuf, errcap, "craft file storage: no memory");
        return CRAFT_ENOMEM;
    }
    size_t dlen = strlen(dir);
    fs->dir = craft_malloc(&al, dlen + 1);
    fs->wbuf_raw = craft_malloc(&al, FS_WBUF_BYTES + FS_BLOCK);
    if (fs->dir == NULL || fs->wbuf_raw == NULL) {
        copy_err(errbuf, errcap, "craft file storage: no memory");
        fs_free(fs);
        return CRAFT_ENOMEM;
    }
    memcpy(fs->dir, dir, dlen + 1);
    fs->wbuf = (unsigned char *)(((uintptr_t)fs->wbuf_raw + FS_BLOCK - 1) &
                                 ~(uintptr_t)(FS_BLOCK - 1));
    if (fs->prealloc &&
        fs->sync_mode != CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS) {
        /* for log.c's zero_ahead */
        fs->zbuf_raw = craft_malloc(&al, FS_ZBUF_BYTES + FS_BLOCK);
        if (fs->zbuf_raw == NULL) {
            copy_err(errbuf, errcap, "craft file storage: no memory");
            fs_free(fs);
            return CRAFT_ENOMEM;
        }
        fs->zbuf = (unsigned char *)(((uintptr_t)fs->zbuf_raw + FS_BLOCK -
                                      1) &
                                     ~(uintptr_t)(FS_BLOCK - 1));
        memset(fs->zbuf, 0, FS_ZBUF_BYTES);
    }
    rv = open_storage(fs);
    if (rv != CRAFT_OK) {
        char msg[FS_ERR_MAX];
        craft_file_storage_errmsg(fs, msg, sizeof(msg));
        copy_err(errbuf, errcap, msg);
        fs_free(fs);
        return rv;
    }
    if (fs_trace_on(fs, CRAFT_TRACE_STORAGE_OPENED)) {
        struct craft_trace_event ev;
        uint64_t last = fs_last_index(fs);
        uint64_t first = fs->nsegs > 0 && fs->segs[0].first > fs->snap_index
                             ? fs->segs[0].first
                             : fs->snap_index + 1;
        craft_trace_event_begin(&ev, CRAFT_TRACE_STORAGE_OPENED, fs->node_id);
        craft_trace_event_u64(&ev, "first_index", first);
        craft_trace_event_u64(&ev, "last_index", last);
        craft_trace_event_u64(&ev, "snapshot_index", fs->snap_index);
        craft_trace_event_u64(&ev, "segments", fs->nsegs);
        fs_trace_emit(fs, &ev);
    }
    *out = fs;
    return CRAFT_OK;
}

int craft_file_storage_open(const char *dir,
                            const craft_file_storage_options *opts,
                            craft_file_storage **out)
{
    struct fs_io io;
    fs_io_posix(&io);
    return fs_open_io(dir, opts, &io, out);
}

void craft_file_storage_close(craft_file_storage *fs)
{
    if (fs == NULL) {
        return;
    }
    pthread_mutex_lock(&fs->mu);
    if (fs->failed == CRAFT_OK) {
        fs_flush(fs); /* written, not synced: only sync promises */
    }
    pthread_mutex_unlock(&fs->mu);
    fs_free(fs);
}
