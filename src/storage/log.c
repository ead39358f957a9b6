/*
 * storage/log.c: appending, truncating, syncing and loading the log.
 *
 * Appends are encoded into the write buffer; sync writes it to the tail
 * segment with one pwrite and makes it durable with one fdatasync (group
 * commit). Nothing is ever rewritten: a suffix truncation cuts the file
 * (and syncs the cut before anything is written over it, so no stale
 * record can reappear behind new ones), a prefix is dropped by deleting
 * whole segments. Appending costs the same at any log size: the tail's
 * position is kept in memory, no segment is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "codec/crc32c.h"
#include "storage/fs.h"

static int direct(const craft_file_storage *fs)
{
    return fs->sync_mode == CRAFT_FILE_SYNC_DIRECT;
}

uint64_t fs_last_index(const craft_file_storage *fs)
{
    if (fs->nsegs == 0) {
        return fs->snap_index;
    }
    uint64_t last = fs->segs[fs->nsegs - 1].last;
    return last > fs->snap_index ? last : fs->snap_index;
}

static void tail_name(const craft_file_storage *fs, char *buf)
{
    fs_segment_name(buf, fs->segs[fs->nsegs - 1].first);
}

int fs_wbuf_reset(craft_file_storage *fs, uint64_t end)
{
    if (!direct(fs)) {
        fs->woff = end;
        fs->wlen = 0;
        fs->wpre = 0;
        return CRAFT_OK;
    }
    /* O_DIRECT writes whole blocks: keep the partial block before end in
     * the buffer, read through a buffered descriptor. */
    char name[FS_NAME_MAX];
    fs->woff = end & ~(uint64_t)(FS_BLOCK - 1);
    fs->wpre = (size_t)(end - fs->woff);
    fs->wlen = fs->wpre;
    memset(fs->wbuf, 0, FS_BLOCK);
    if (fs->wpre == 0) {
        return CRAFT_OK;
    }
    tail_name(fs, name);
    int fd = fs->io.openat(fs->io.user, fs->dirfd, name, O_RDONLY, 0);
    if (fd < 0) {
        return fs_io_fail(fs, 1, "open", name, fd);
    }
    size_t done = 0;
    int rv = fs_pread_all(fs, fd, fs->wbuf, fs->wpre, fs->woff, &done);
    fs->io.close(fs->io.user, fd);
    if (rv < 0 || done != fs->wpre) {
        return fs_io_fail(fs, 1, "read", name, rv < 0 ? rv : -EIO);
    }
    return CRAFT_OK;
}

/*
 * pwrite of whole blocks for O_DIRECT: a short write (rare: a signal, a
 * device limit) may stop anywhere, but the next write must start on a
 * block boundary, so what follows the last whole block written is
 * written again (the same bytes: harmless). A write that makes no
 * progress, or only inside one block several times over, is an error.
 */
static int pwrite_direct(craft_file_storage *fs, int fd,
                         const unsigned char *p, size_t len, uint64_t off)
{
    int stalls = 0;
    while (len > 0) {
        size_t done = 0;
        int rv = fs->io.pwrite(fs->io.user, fd, p, len, off, &done);
        if (rv < 0) {
            return rv;
        }
        if (done == 0 || done > len) {
            return -EIO;
        }
        done &= ~(size_t)(FS_BLOCK - 1);
        if (done == 0) {
            if (++stalls == 8) {
                return -EIO;
            }
            continue;
        }
        stalls = 0;
        p += done;
        len -= done;
        off += done;
    }
    return 0;
}

/*
 * Writes zeros ahead of the end of the log in a preallocated tail.
 *
 * fallocate() reserves blocks but leaves them "unwritten": the first write
 * into one changes the file's block map, and the fdatasync after it must
 * then commit the filesystem's journal too, not only flush the data: on
 * ext4 and XFS that is the difference between a growing file's rate of
 * fdatasync and an in-place rewrite's (bench_storage prints both). So the
 * region the next records go to is written with zeros beforehand, one
 * FS_ZERO_AHEAD stretch at a time (one block map change per stretch, not
 * per sync); records then overwrite written blocks and a sync is a plain
 * data flush (with O_DSYNC or O_DIRECT: one write). Zeros are what
 * recovery reads past the last record anyway, written or not. Skipped
 * when a flush is large by itself (its block map change is paid once for
 * many bytes), and without preallocation or syncs.
 */
static int zero_ahead(craft_file_storage *fs, size_t wrote)
{
    char name[FS_NAME_MAX];
    if (fs->zbuf == NULL || wrote >= FS_ZERO_AHEAD / 2) {
        return CRAFT_OK;
    }
    uint64_t end = fs->woff + fs->wlen;
    if (end + FS_ZERO_AHEAD / 2 <= fs->tail_zeroed) {
        return CRAFT_OK;
    }
    uint64_t from = end > fs->tail_zeroed ? end : fs->tail_zeroed;
    from = (from + FS_BLOCK - 1) & ~(uint64_t)(FS_BLOCK - 1);
    uint64_t to = (end + FS_ZERO_AHEAD) & ~(uint64_t)(FS_BLOCK - 1);
    uint64_t cap = fs->seg_bytes & ~(uint64_t)(FS_BLOCK - 1);
    if (to > cap) {
        to = cap;
    }
    while (from < to) {
        size_t n = to - from > FS_ZBUF_BYTES ? FS_ZBUF_BYTES
                                             : (size_t)(to - from);
        int rv = direct(fs)
                     ? pwrite_direct(fs, fs->tail_fd, fs->zbuf, n, from)
                     : fs_pwrite_all(fs, fs->tail_fd, fs->zbuf, n, from);
        if (rv < 0) {
            tail_name(fs, name);
            return fs_io_fail(fs, 1, "write", name, rv);
        }
        from += n;
        fs->tail_zeroed = from;
    }
    return CRAFT_OK;
}

int fs_flush(craft_file_storage *fs)
{
    char name[FS_NAME_MAX];
    if (fs->tail_fd < 0 || fs->wlen == fs->wpre) {
        return CRAFT_OK;
    }
    if (direct(fs)) {
        size_t n = (fs->wlen + FS_BLOCK - 1) & ~(size_t)(FS_BLOCK - 1);
        memset(fs->wbuf + fs->wlen, 0, n - fs->wlen);
        int rv = pwrite_direct(fs, fs->tail_fd, fs->wbuf, n, fs->woff);
        if (rv < 0) {
            tail_name(fs, name);
            return fs_io_fail(fs, 1, "write", name, rv);
        }
        uint64_t end = fs->woff + fs->wlen;
        uint64_t nb = end & ~(uint64_t)(FS_BLOCK - 1);
        size_t keep = (size_t)(end - nb);
        if (nb > fs->woff && keep > 0) {
            memmove(fs->wbuf, fs->wbuf + (nb - fs->woff), keep);
        }
        fs->woff = nb;
        fs->wlen = fs->wpre = keep;
        fs->tail_synced = end; /* O_DSYNC: durable on return */
        if (end > fs->tail_zeroed) {
            fs->tail_zeroed = end;
        }
        return zero_ahead(fs, n);
    }
    size_t wrote = fs->wlen;
    int rv = fs_pwrite_all(fs, fs->tail_fd, fs->wbuf, fs->wlen, fs->woff);
    if (rv < 0) {
        tail_name(fs, name);
        return fs_io_fail(fs, 1, "write", name, rv);
    }
    fs->woff += fs->wlen;
    fs->wlen = 0;
    if (fs->woff > fs->tail_zeroed) {
        fs->tail_zeroed = fs->woff;
    }
    if (fs->sync_mode == CRAFT_FILE_SYNC_DSYNC) {
        fs->tail_synced = fs->woff;
    } else {
        fs->tail_dirty = 1;
    }
    return zero_ahead(fs, wrote);
}

/* Copies len bytes into the write buffer, writing it out when full. */
static int wbuf_put(craft_file_storage *fs, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        if (fs->wlen == FS_WBUF_BYTES) {
            int rv = fs_flush(fs);
            if (rv != CRAFT_OK) {
                return rv;
            }
        }
        size_t k = FS_WBUF_BYTES - fs->wlen;
        if (k > len) {
            k = len;
        }
        if (p != NULL) {
            memcpy(fs->wbuf + fs->wlen, p, k);
            p += k;
        } else {
            memset(fs->wbuf + fs->wlen, 0, k);
        }
        fs->wlen += k;
        len -= k;
    }
    return CRAFT_OK;
}

void fs_close_tail(craft_file_storage *fs)
{
    if (fs->tail_fd >= 0) {
        fs->io.close(fs->io.user, fs->tail_fd);
    }
    fs->tail_fd = -1;
    fs->tail_dirty = 0;
    fs->woff = 0;
    fs->wlen = 0;
    fs->wpre = 0;
}

int fs_open_tail(craft_file_storage *fs)
{
    char name[FS_NAME_MAX];
    fs_close_tail(fs);
    if (fs->nsegs == 0) {
        return CRAFT_OK;
    }
    const struct fs_seg *t = &fs->segs[fs->nsegs - 1];
    tail_name(fs, name);
    int fd = fs->io.openat(fs->io.user, fs->dirfd, name,
                           O_RDWR | fs_mode_flags(fs, 1), 0);
    if (fd == -EINVAL && direct(fs)) {
        return fs_error(fs, CRAFT_EINVAL,
                        "%s: O_DIRECT is not supported by this filesystem "
                        "(use another sync mode)",
                        name);
    }
    if (fd < 0) {
        return fs_io_fail(fs, 1, "open", name, fd);
    }
    fs->tail_fd = fd;
    fs->tail_synced = t->end;
    fs->tail_zeroed = t->end; /* what lies past it is not known */
    return fs_wbuf_reset(fs, t->end);
}

static int reserve_seg(craft_file_storage *fs)
{
    void *arr = fs->segs;
    int rv = craft_grow(&fs->alloc, &arr, &fs->segs_cap, fs->nsegs + 1,
                        sizeof(*fs->segs));
    fs->segs = arr;
    if (rv != CRAFT_OK) {
        return fs_error(fs, CRAFT_ENOMEM, "no memory for a new segment");
    }
    return CRAFT_OK;
}

/* Deletes the segments k.. (closing the tail if among them). */
static int delete_from(craft_file_storage *fs, size_t k)
{
    char name[FS_NAME_MAX];
    if (k >= fs->nsegs) {
        return CRAFT_OK;
    }
    fs_close_tail(fs);
    while (fs->nsegs > k) {
        fs_segment_name(name, fs->segs[fs->nsegs - 1].first);
        int rv = fs->io.unlinkat(fs->io.user, fs->dirfd, name);
        if (rv < 0) {
            return fs_io_fail(fs, 1, "unlink", name, rv);
        }
        fs->nsegs--;
    }
    return CRAFT_OK;
}

/* Seals the tail (synced whole before the next segment is written, so
 * recovery can treat any damage before the last segment as corruption)
 * and starts segment-<index>. */
static int roll(craft_file_storage *fs, uint64_t index)
{
    char name[FS_NAME_MAX];
    unsigned char hb[FS_SEG_HEADER_BYTES];
    int rv = reserve_seg(fs);
    if (rv != CRAFT_OK) {
        return rv;
    }
    if (fs->nsegs > 0) {
        struct fs_seg *t = &fs->segs[fs->nsegs - 1];
        if (t->last < t->first) {
            /* an empty tail that does not start at index */
            rv = delete_from(fs, fs->nsegs - 1);
            if (rv == CRAFT_OK && fs_dirsync(fs) < 0) {
                rv = fs_io_fail(fs, 1, "fsync", fs->dir, -EIO);
            }
            if (rv != CRAFT_OK) {
                return rv;
            }
        } else {
            rv = fs_flush(fs);
            if (rv != CRAFT_OK) {
                return rv;
            }
            if (fs->tail_dirty) {
                rv = fs_datasync(fs, fs->tail_fd);
                if (rv < 0) {
                    tail_name(fs, name);
                    return fs_io_fail(fs, 1, "fdatasync", name, rv);
                }
            }
            fs_close_tail(fs);
        }
    }
    fs_segment_name(name, index);
    int fd = fs->io.openat(fs->io.user, fs->dirfd, name,
                           O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return fs_io_fail(fs, 1, "create", name, fd);
    }
    const char *op = "fallocate";
    if (fs->prealloc) {
        rv = fs->io.fallocate(fs->io.user, fd, 0, fs->seg_bytes);
        if (rv == -EOPNOTSUPP) {
            rv = 0; /* the filesystem cannot: grow as we go */
        }
    }
    if (rv == 0) {
        op = "write";
        fs_seg_header_encode(hb, index);
        rv = fs_pwrite_all(fs, fd, hb, sizeof(hb), 0);
    }
    if (rv == 0) {
        op = "fdatasync";
        rv = fs_datasync(fs, fd);
    }
    fs->io.close(fs->io.user, fd);
    if (rv < 0) {
        /* nothing of the log is in it: remove it (best effort) */
        fs->io.unlinkat(fs->io.user, fs->dirfd, name);
        return fs_io_fail(fs, 1, op, name, rv);
    }
    rv = fs_dirsync(fs);
    if (rv < 0) {
        return fs_io_fail(fs, 1, "fsync", fs->dir, rv);
    }
    struct fs_seg *t = &fs->segs[fs->nsegs++];
    t->first = index;
    t->last = index - 1;
    t->end = FS_SEG_HEADER_BYTES;
    rv = fs_open_tail(fs);
    if (rv != CRAFT_OK) {
        if (fs->failed == CRAFT_OK) {
            fs->failed = rv;
        }
        return rv;
    }
    if (fs_trace_on(fs, CRAFT_TRACE_STORAGE_SEGMENT_CREATED)) {
        struct craft_trace_event ev;
        craft_trace_event_begin(&ev, CRAFT_TRACE_STORAGE_SEGMENT_CREATED,
                                fs->node_id);
        craft_trace_event_u64(&ev, "index", index);
        craft_trace_event_str(&ev, "file", name);
        fs_trace_emit(fs, &ev);
    }
    return CRAFT_OK;
}

static const unsigned char zeros[FS_REC_ALIGN];

int fs_append(craft_file_storage *fs, uint64_t index, uint64_t term,
              uint32_t type, const void *data, size_t len)
{
    if (fs->failed != CRAFT_OK) {
        return fs->failed;
    }
    if (len > CRAFT_MAX_ENTRY_BYTES) {
        return fs_error(fs, CRAFT_ETOOBIG, "append at index %llu: %zu bytes "
                        "(at most %u)",
                        (unsigned long long)index, len,
                        (unsigned)CRAFT_MAX_ENTRY_BYTES);
    }
    uint64_t last = fs_last_index(fs);
    if ((data == NULL && len > 0) || index <= fs->snap_index ||
        index > last + 1) {
        return fs_error(fs, CRAFT_EINVAL,
                        "append at index %llu: the log ends at %llu and the "
                        "snapshot at %llu",
                        (unsigned long long)index, (unsigned long long)last,
                        (unsigned long long)fs->snap_index);
    }
    int rv;
    if (index <= last) {
        rv = fs_truncate(fs, index); /* the log after index - 1 */
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    uint64_t size = fs_rec_size(len);
    struct fs_seg *t = fs->nsegs > 0 ? &fs->segs[fs->nsegs - 1] : NULL;
    if (t == NULL || t->last + 1 != index ||
        (t->last >= t->first && t->end + size > fs->seg_bytes)) {
        rv = roll(fs, index);
        if (rv != CRAFT_OK) {
            return rv;
        }
        t = &fs->segs[fs->nsegs - 1];
    }
    struct fs_rec rec;
    rec.len = (uint32_t)len;
    rec.index = index;
    rec.term = term;
    rec.type = type;
    rec.reserved = 0;
    rec.mark = fs->tail_synced;
    if (FS_WBUF_BYTES - fs->wlen >= size) {
        /* the common case: straight into the buffer */
        unsigned char *p = fs->wbuf + fs->wlen;
        if (len > 0) {
            memcpy(p + FS_REC_HEADER_BYTES, data, len);
        }
        memset(p + FS_REC_HEADER_BYTES + len, 0,
               (size_t)size - FS_REC_HEADER_BYTES - len);
        fs_rec_encode(p, &rec, p + FS_REC_HEADER_BYTES);
        fs->wlen += (size_t)size;
    } else {
        unsigned char hb[FS_REC_HEADER_BYTES];
        fs_rec_encode(hb, &rec, data);
        rv = wbuf_put(fs, hb, sizeof(hb));
        if (rv == CRAFT_OK) {
            rv = wbuf_put(fs, data, len);
        }
        if (rv == CRAFT_OK) {
            rv = wbuf_put(fs, zeros, (size_t)size - sizeof(hb) - len);
        }
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    t->last = index;
    t->end += size;
    return CRAFT_OK;
}

struct find_ctx {
    uint64_t index;
};

static int find_cb(void *ctx, const struct fs_rec *rec,
                   const unsigned char *payload, uint64_t off)
{
    (void)payload;
    (void)off;
    return rec->index == ((struct find_ctx *)ctx)->index ? 1 : 0;
}

/* The offset of the record of index in segment k. */
static int offset_of(craft_file_storage *fs, size_t k, uint64_t index,
                     uint64_t *off)
{
    char name[FS_NAME_MAX];
    const struct fs_seg *s = &fs->segs[k];
    if (index <= s->first) {
        *off = FS_SEG_HEADER_BYTES;
        return CRAFT_OK;
    }
    fs_segment_name(name, s->first);
    int fd = fs->io.openat(fs->io.user, fs->dirfd, name, O_RDONLY, 0);
    if (fd < 0) {
        return fs_io_fail(fs, 1, "open", name, fd);
    }
    struct fs_reader r;
    struct fs_scan sc;
    struct find_ctx fc = {index};
    int rv = fs_reader_init(&r, fs, fd, name);
    if (rv == CRAFT_OK) {
        rv = fs_scan_segment(&r, s->first, s->end, find_cb, &fc, &sc);
    }
    fs->io.close(fs->io.user, fd);
    if (rv != CRAFT_OK) {
        if (fs->failed == CRAFT_OK) {
            fs->failed = CRAFT_EIO;
        }
        return CRAFT_EIO;
    }
    if (sc.stop != FS_STOP_CB) {
        fs->failed = CRAFT_ECORRUPT;
        return fs_error(fs, CRAFT_ECORRUPT,
                        "%s: index %llu not found while truncating (%s at "
                        "offset %llu): the segment changed under the "
                        "storage",
                        name, (unsigned long long)index,
                        sc.stop == FS_STOP_BAD ? sc.why : "end",
                        (unsigned long long)sc.end);
    }
    *off = sc.end;
    return CRAFT_OK;
}

int fs_truncate(craft_file_storage *fs, uint64_t index)
{
    char name[FS_NAME_MAX];
    if (fs->failed != CRAFT_OK) {
        return fs->failed;
    }
    if (index > fs_last_index(fs) || fs->nsegs == 0) {
        return CRAFT_OK;
    }
    if (fs_trace_on(fs, CRAFT_TRACE_STORAGE_LOG_TRUNCATED)) {
        struct craft_trace_event ev;
        craft_trace_event_begin(&ev, CRAFT_TRACE_STORAGE_LOG_TRUNCATED,
                                fs->node_id);
        craft_trace_event_u64(&ev, "index", index);
        fs_trace_emit(fs, &ev);
    }
    int rv = fs_flush(fs);
    if (rv != CRAFT_OK) {
        return rv;
    }
    if (index <= fs->segs[0].first || index <= fs->snap_index + 1) {
        /* nothing of the log stays */
        rv = delete_from(fs, 0);
        if (rv == CRAFT_OK) {
            rv = fs_dirsync(fs);
            if (rv < 0) {
                rv = fs_io_fail(fs, 1, "fsync", fs->dir, rv);
            }
        }
        return rv;
    }
    size_t k = 0;
    while (fs->segs[k].last < index) {
        k++;
    }
    uint64_t off = 0;
    rv = offset_of(fs, k, index, &off);
    if (rv != CRAFT_OK) {
        return rv;
    }
    /* The later segments go first, durably (newest first: a crash in
     * between leaves a prefix of the log). Cutting segment k first would
     * let a crash bring them back behind the cut: a gap. */
    if (k + 1 < fs->nsegs) {
        rv = delete_from(fs, k + 1);
        if (rv == CRAFT_OK && (rv = fs_dirsync(fs)) < 0) {
            rv = fs_io_fail(fs, 1, "fsync", fs->dir, rv);
        }
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    /* Cut, and make the cut durable before new records go over it. */
    int fd = fs->tail_fd;
    fs_segment_name(name, fs->segs[k].first);
    if (fd < 0) {
        fd = fs->io.openat(fs->io.user, fs->dirfd, name, O_RDWR, 0);
        if (fd < 0) {
            return fs_io_fail(fs, 1, "open", name, fd);
        }
    }
    const char *op = "ftruncate";
    rv = fs->io.ftruncate(fs->io.user, fd, off);
    if (rv == 0 && fs->prealloc && off < fs->seg_bytes) {
        /* best effort: the cut space back */
        fs->io.fallocate(fs->io.user, fd, off, fs->seg_bytes - off);
    }
    if (rv == 0) {
        op = "fdatasync";
        rv = fs_datasync(fs, fd);
    }
    if (fd != fs->tail_fd) {
        fs->io.close(fs->io.user, fd);
    }
    if (rv < 0) {
        return fs_io_fail(fs, 1, op, name, rv);
    }
    fs->segs[k].last = index - 1;
    fs->segs[k].end = off;
    if (fs->tail_fd < 0) {
        return fs_open_tail(fs);
    }
    fs->tail_dirty = 0;
    fs->tail_synced = off;
    fs->tail_zeroed = off; /* the cut space is preallocated anew */
    return fs_wbuf_reset(fs, off);
}

int fs_sync(craft_file_storage *fs)
{
    char name[FS_NAME_MAX];
    if (fs->failed != CRAFT_OK) {
        return fs->failed;
    }
    int rv = fs_flush(fs);
    if (rv != CRAFT_OK) {
        return rv;
    }
    /* The hard state needs nothing here: save_hard_state made it durable
     * before returning, so no entry of a term can be on disk before the
     * term is (hardstate.c). */
    if (fs->tail_dirty) {
        rv = fs_datasync(fs, fs->tail_fd);
        if (rv < 0) {
            tail_name(fs, name);
            return fs_io_fail(fs, 1, "fdatasync", name, rv);
        }
        fs->tail_dirty = 0;
        fs->tail_synced = fs->woff + fs->wlen;
    }
    return CRAFT_OK;
}

size_t fs_drop_prefix(craft_file_storage *fs, uint64_t index)
{
    char name[FS_NAME_MAX];
    size_t k = 0;
    while (k < fs->nsegs && fs->segs[k].last <= index) {
        k++;
    }
    if (k == 0) {
        return 0;
    }
    if (k == fs->nsegs) {
        fs_close_tail(fs); /* its buffered records are all <= index */
    }
    for (size_t j = 0; j < k; j++) {
        fs_segment_name(name, fs->segs[j].first);
        int rv = fs->io.unlinkat(fs->io.user, fs->dirfd, name);
        if (rv < 0 && rv != -ENOENT) {
            /* harmless: open deletes it again */
            fs_io_fail(fs, 0, "unlink", name, rv);
        }
    }
    memmove(fs->segs, fs->segs + k, (fs->nsegs - k) * sizeof(*fs->segs));
    fs->nsegs -= k;
    return k;
}

/* ---- load ------------------------------------------------------------ */

struct load_ctx {
    craft_file_storage *fs;
    craft_loader *ld;
};

static int load_cb(void *ctx, const struct fs_rec *rec,
                   const unsigned char *payload, uint64_t off)
{
    static const unsigned char empty[1];
    struct load_ctx *lc = ctx;
    (void)off;
    if (rec->index <= lc->fs->snap_index) {
        return 0;
    }
    int rv = craft_loader_entry(lc->ld, rec->index, rec->term, rec->type,
                                payload != NULL ? payload : empty, rec->len);
    return rv > 0 ? CRAFT_ECALLBACK : rv;
}

int fs_load(craft_file_storage *fs, craft_loader *ld)
{
    char name[FS_NAME_MAX];
    if (fs->failed != CRAFT_OK) {
        return fs->failed;
    }
    int rv = fs_flush(fs);
    if (rv != CRAFT_OK) {
        return rv;
    }
    if (fs->term != 0 || fs->vote != 0) {
        rv = craft_loader_hard_state(ld, fs->term, fs->vote);
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    if (fs->snap_index != 0) {
        rv = craft_loader_snapshot(ld, fs->snap_index, fs->snap_term,
                                   fs->snap_conf, fs->snap_conf_len);
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    struct load_ctx lc = {fs, ld};
    for (size_t k = 0; k < fs->nsegs; k++) {
        const struct fs_seg *s = &fs->segs[k];
        struct fs_reader r;
        struct fs_scan sc;
        fs_segment_name(name, s->first);
        int fd = fs->io.openat(fs->io.user, fs->dirfd, name, O_RDONLY, 0);
        if (fd < 0) {
            return fs_io_fail(fs, 0, "open", name, fd);
        }
        rv = fs_reader_init(&r, fs, fd, name);
        if (rv == CRAFT_OK) {
            rv = fs_scan_segment(&r, s->first, s->end, load_cb, &lc, &sc);
        }
        fs->io.close(fs->io.user, fd);
        if (rv != CRAFT_OK) {
            return rv;
        }
        if (sc.last != s->last) {
            return fs_error(fs, CRAFT_ECORRUPT,
                            "%s, offset %llu: %s: the segment changed since "
                            "the storage was opened",
                            name, (unsigned long long)sc.end,
                            sc.stop == FS_STOP_BAD ? sc.why
                                                   : "it ends early");
        }
    }
    return CRAFT_OK;
}
