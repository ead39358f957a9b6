/*
 * storage/snapshot.c: snapshot files, streamed chunk by chunk.
 *
 * A snapshot is written to a temporary file as its chunks arrive (never
 * held in memory), then the membership and a checksummed footer are
 * added, the file is synced, renamed to snapshot-<index>-<term> and the
 * directory synced: only then does it replace the previous one, whose
 * file is deleted, and the log segments it covers are deleted whole.
 * Memory stays constant whatever the snapshot's size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "codec/crc32c.h"
#include "storage/fs.h"

/* Closes a stream's temporary file, if any; the file itself stays (the
 * next stream's offset 0 truncates it, recovery ignores it). */
static void stream_drop(craft_file_storage *fs, struct fs_snap_stream *st)
{
    if (st->fd >= 0) {
        fs->io.close(fs->io.user, st->fd);
    }
    st->fd = -1;
}

void fs_snap_close(craft_file_storage *fs)
{
    if (fs->snap_fd >= 0) {
        fs->io.close(fs->io.user, fs->snap_fd);
    }
    fs->snap_fd = -1;
    stream_drop(fs, &fs->in);
    stream_drop(fs, &fs->lo);
    craft_free(&fs->alloc, fs->snap_conf);
    fs->snap_conf = NULL;
}

static int snap_corrupt(craft_file_storage *fs, const char *name,
                        uint64_t off, const char *what)
{
    if (fs_trace_on(fs, CRAFT_TRACE_STORAGE_CORRUPT)) {
        struct craft_trace_event ev;
        craft_trace_event_begin(&ev, CRAFT_TRACE_STORAGE_CORRUPT,
                                fs->node_id);
        craft_trace_event_u64(&ev, "offset", off);
        craft_trace_event_str(&ev, "file", name);
        craft_trace_event_i64(&ev, "error", CRAFT_ECORRUPT);
        fs_trace_emit(fs, &ev);
    }
    return fs_error(fs, CRAFT_ECORRUPT, "%s, offset %llu: %s", name,
                    (unsigned long long)off, what);
}

/* Checks snapshot file name (index, term) whole; keeps it open as the
 * current snapshot. */
static int check_snapshot(craft_file_storage *fs, uint64_t index,
                          uint64_t term)
{
    char name[FS_NAME_MAX];
    unsigned char foot[FS_SNAP_FOOTER_BYTES];
    struct fs_snap_footer f;
    uint64_t size = 0;
    size_t done = 0;

    fs_snapshot_name(name, index, term);
    int fd = fs->io.openat(fs->io.user, fs->dirfd, name, O_RDONLY, 0);
    if (fd < 0) {
        return fs_io_fail(fs, 0, "open", name, fd);
    }
    fs->snap_fd = fd;
    int rv = fs->io.fsize(fs->io.user, fd, &size);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "fstat", name, rv);
    }
    if (size < FS_SNAP_FOOTER_BYTES) {
        return snap_corrupt(fs, name, 0, "shorter than a snapshot footer");
    }
    uint64_t foot_off = size - FS_SNAP_FOOTER_BYTES;
    rv = fs_pread_all(fs, fd, foot, sizeof(foot), foot_off, &done);
    if (rv < 0 || done != sizeof(foot)) {
        return fs_io_fail(fs, 0, "read", name, rv < 0 ? rv : -EIO);
    }
    rv = fs_snap_footer_decode(foot, &f);
    if (rv == CRAFT_EVERSION) {
        return fs_error(fs, CRAFT_EVERSION,
                        "%s: format version %u is newer than this build "
                        "reads (%u)",
                        name, (unsigned)f.version, FS_FORMAT_VERSION);
    }
    if (rv != CRAFT_OK) {
        return snap_corrupt(fs, name, foot_off,
                            rv == CRAFT_ECHECKSUM
                                ? "the footer fails its CRC32C"
                                : "the footer is malformed");
    }
    if (f.index != index || f.term != term) {
        return snap_corrupt(fs, name, foot_off,
                            "the footer's index or term differs from the "
                            "file name's");
    }
    if (f.data_len > size || size - f.data_len != (uint64_t)f.conf_len +
                                                      FS_SNAP_FOOTER_BYTES) {
        return snap_corrupt(fs, name, foot_off,
                            "the file's size does not match the footer's "
                            "lengths");
    }
    unsigned char *conf = craft_malloc(&fs->alloc, f.conf_len);
    if (conf == NULL) {
        return fs_error(fs, CRAFT_ENOMEM, "no memory for the membership");
    }
    fs->snap_conf = conf;
    fs->snap_conf_len = f.conf_len;
    rv = fs_pread_all(fs, fd, conf, f.conf_len, f.data_len, &done);
    if (rv < 0 || done != f.conf_len) {
        return fs_io_fail(fs, 0, "read", name, rv < 0 ? rv : -EIO);
    }
    if (craft_crc32c(0, conf, f.conf_len) != f.conf_crc) {
        return snap_corrupt(fs, name, f.data_len,
                            "the membership fails its CRC32C");
    }
    /* the data, streamed through the read buffer */
    rv = fs_rbuf_reserve(fs, FS_RBUF_BYTES);
    if (rv != CRAFT_OK) {
        return rv;
    }
    uint32_t crc = 0;
    for (uint64_t off = 0; off < f.data_len;) {
        size_t n = f.data_len - off > FS_RBUF_BYTES
                       ? FS_RBUF_BYTES
                       : (size_t)(f.data_len - off);
        rv = fs_pread_all(fs, fd, fs->rbuf, n, off, &done);
        if (rv < 0 || done != n) {
            return fs_io_fail(fs, 0, "read", name, rv < 0 ? rv : -EIO);
        }
        crc = craft_crc32c(crc, fs->rbuf, n);
        off += n;
    }
    if (crc != f.data_crc) {
        char what[128];
        snprintf(what, sizeof(what),
                 "the data (%llu bytes from offset 0) fails its CRC32C",
                 (unsigned long long)f.data_len);
        return snap_corrupt(fs, name, 0, what);
    }
    fs->snap_index = index;
    fs->snap_term = term;
    fs->snap_len = f.data_len;
    fs->snap_crc = f.data_crc;
    memcpy(fs->snap_name, name, sizeof(name));
    /* durable before acting on it (it was synced before its rename, but
     * after a process crash the rename itself may not be) */
    rv = fs_datasync(fs, fd);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "fdatasync", name, rv);
    }
    return CRAFT_OK;
}

int fs_snap_recover(craft_file_storage *fs, const uint64_t *idx,
                    const uint64_t *terms, size_t n)
{
    char name[FS_NAME_MAX];
    if (n == 0) {
        return CRAFT_OK;
    }
    size_t best = 0;
    for (size_t k = 1; k < n; k++) {
        if (idx[k] > idx[best] ||
            (idx[k] == idx[best] && terms[k] > terms[best])) {
            best = k;
        }
    }
    /* The newest one must be whole: it was synced before its rename.
     * Never fall back to an older one silently. */
    int rv = check_snapshot(fs, idx[best], terms[best]);
    if (rv != CRAFT_OK) {
        return rv;
    }
    for (size_t k = 0; k < n; k++) {
        if (k != best) {
            /* superseded: its deletion was interrupted */
            fs_snapshot_name(name, idx[k], terms[k]);
            fs->io.unlinkat(fs->io.user, fs->dirfd, name);
        }
    }
    return CRAFT_OK;
}

/* Completes the snapshot in fd (temporary file tmp): adds the membership
 * and the footer, syncs, renames, syncs the directory; then it is the
 * current one and the log prefix it covers goes. Consumes fd. */
static int finalize(craft_file_storage *fs, int fd, const char *tmp,
                    uint64_t index, uint64_t term, uint64_t data_len,
                    uint32_t data_crc, const void *conf, size_t conf_len)
{
    char name[FS_NAME_MAX];
    unsigned char foot[FS_SNAP_FOOTER_BYTES];
    struct fs_snap_footer f;
    const char *op = "write";

    unsigned char *c = craft_malloc(&fs->alloc, conf_len);
    if (c == NULL) {
        fs->io.close(fs->io.user, fd);
        fs->io.unlinkat(fs->io.user, fs->dirfd, tmp);
        return fs_error(fs, CRAFT_ENOMEM, "no memory for the membership");
    }
    memcpy(c, conf, conf_len);
    f.version = FS_FORMAT_VERSION;
    f.conf_len = (uint32_t)conf_len;
    f.index = index;
    f.term = term;
    f.data_len = data_len;
    f.data_crc = data_crc;
    f.conf_crc = craft_crc32c(0, conf, conf_len);
    fs_snap_footer_encode(foot, &f);
    int rv = fs_pwrite_all(fs, fd, conf, conf_len, data_len);
    if (rv == 0) {
        rv = fs_pwrite_all(fs, fd, foot, sizeof(foot), data_len + conf_len);
    }
    if (rv == 0) {
        op = "fdatasync";
        rv = fs_datasync(fs, fd);
    }
    fs_snapshot_name(name, index, term);
    if (rv == 0) {
        op = "rename";
        rv = fs->io.renameat(fs->io.user, fs->dirfd, tmp, name);
    }
    if (rv == 0) {
        op = "fsync";
        rv = fs_dirsync(fs);
    }
    if (rv < 0) {
        craft_free(&fs->alloc, c);
        fs->io.close(fs->io.user, fd);
        return fs_io_fail(fs, 1, op, strcmp(op, "fsync") == 0 ? fs->dir : tmp,
                          rv);
    }
    /* the new one is durable: the old one goes */
    if (fs->snap_fd >= 0) {
        fs->io.close(fs->io.user, fs->snap_fd);
        if (strcmp(fs->snap_name, name) != 0) {
            fs->io.unlinkat(fs->io.user, fs->dirfd, fs->snap_name);
        }
    }
    craft_free(&fs->alloc, fs->snap_conf);
    fs->snap_fd = fd;
    fs->snap_conf = c;
    fs->snap_conf_len = conf_len;
    fs->snap_index = index;
    fs->snap_term = term;
    fs->snap_len = data_len;
    fs->snap_crc = data_crc;
    fs->rd_off = 0;
    fs->rd_crc = 0;
    memcpy(fs->snap_name, name, sizeof(name));
    if (fs_trace_on(fs, CRAFT_TRACE_STORAGE_SNAPSHOT_SAVED)) {
        struct craft_trace_event ev;
        craft_trace_event_begin(&ev, CRAFT_TRACE_STORAGE_SNAPSHOT_SAVED,
                                fs->node_id);
        craft_trace_event_u64(&ev, "index", index);
        craft_trace_event_u64(&ev, "term", term);
        craft_trace_event_u64(&ev, "bytes", data_len);
        fs_trace_emit(fs, &ev);
    }
    size_t gone = fs_drop_prefix(fs, index);
    if (gone > 0 && fs_trace_on(fs, CRAFT_TRACE_STORAGE_COMPACTED)) {
        struct craft_trace_event ev;
        craft_trace_event_begin(&ev, CRAFT_TRACE_STORAGE_COMPACTED,
                                fs->node_id);
        craft_trace_event_u64(&ev, "index", index);
        craft_trace_event_u64(&ev, "segments", gone);
        fs_trace_emit(fs, &ev);
    }
    return CRAFT_OK;
}

static int create_tmp(craft_file_storage *fs, const char *tmp, int *fd)
{
    *fd = fs->io.openat(fs->io.user, fs->dirfd, tmp,
                        O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (*fd < 0) {
        return fs_io_fail(fs, 1, "create", tmp, *fd);
    }
    return CRAFT_OK;
}

/* A chunk of a snapshot written through stream st: offset 0 starts it
 * (abandoning an unfinished one), the others must follow on; the last
 * one completes it unless a newer snapshot is already current. */
static int stream_chunk(craft_file_storage *fs, struct fs_snap_stream *st,
                        uint64_t index, uint64_t term, uint64_t offset,
                        const void *data, size_t len, const void *conf,
                        size_t conf_len, int last)
{
    int rv;
    if (offset == 0) {
        stream_drop(fs, st); /* abandoned */
        if (last && index <= fs->snap_index) {
            return CRAFT_OK; /* whole, and a newer one is current */
        }
        rv = create_tmp(fs, st->tmp, &st->fd);
        if (rv != CRAFT_OK) {
            st->fd = -1;
            return rv;
        }
        st->index = index;
        st->term = term;
        st->len = 0;
        st->crc = 0;
    } else if (st->fd < 0 || st->index != index || offset != st->len) {
        return fs_error(fs, CRAFT_EINVAL,
                        "snapshot_write at index %llu offset %llu: no such "
                        "%s snapshot being written at that offset",
                        (unsigned long long)index,
                        (unsigned long long)offset,
                        st == &fs->lo ? "local" : "received");
    }
    rv = fs_pwrite_all(fs, st->fd, data, len, st->len);
    if (rv < 0) {
        return fs_io_fail(fs, 1, "write", st->tmp, rv);
    }
    st->crc = craft_crc32c(st->crc, data, len);
    st->len += len;
    if (!last) {
        return CRAFT_OK;
    }
    int fd = st->fd;
    st->fd = -1;
    if (index <= fs->snap_index) {
        /* a newer one became current meanwhile */
        fs->io.close(fs->io.user, fd);
        fs->io.unlinkat(fs->io.user, fs->dirfd, st->tmp);
        return CRAFT_OK;
    }
    return finalize(fs, fd, st->tmp, index, st->term, st->len, st->crc,
                    conf, conf_len);
}

int fs_snap_write(craft_file_storage *fs, uint64_t index, uint64_t term,
                  uint64_t offset, const void *data, size_t len,
                  const void *conf, size_t conf_len, uint32_t flags)
{
    int last = (flags & CRAFT_SNAPSHOT_F_LAST) != 0;

    if (fs->failed != CRAFT_OK) {
        return fs->failed;
    }
    if ((len > 0 && data == NULL) || index == 0 ||
        (last && (conf == NULL || conf_len == 0 ||
                  conf_len > FS_SNAP_CONF_MAX))) {
        return fs_error(fs, CRAFT_EINVAL,
                        "snapshot_write at index %llu: bad arguments "
                        "(data %s, %zu bytes of membership)",
                        (unsigned long long)index,
                        data == NULL ? "NULL" : "set", conf_len);
    }
    /* A whole snapshot in one call (offset 0 and last) was taken locally:
     * like a local stream it must not disturb one being received. */
    int local = (flags & CRAFT_SNAPSHOT_F_LOCAL) || (offset == 0 && last);
    return stream_chunk(fs, local ? &fs->lo : &fs->in, index, term, offset,
                        data, len, conf, conf_len, last);
}

int fs_snap_read(craft_file_storage *fs, uint64_t index, uint64_t offset,
                 void *buf, size_t count, size_t *n, int *last)
{
    if (fs->failed != CRAFT_OK) {
        return fs->failed;
    }
    if (index == 0 || index != fs->snap_index) {
        return fs_error(fs, CRAFT_ENOENT,
                        "snapshot_read at index %llu: the current snapshot "
                        "is at %llu",
                        (unsigned long long)index,
                        (unsigned long long)fs->snap_index);
    }
    if (offset > fs->snap_len || n == NULL || last == NULL ||
        (buf == NULL && count > 0)) {
        return fs_error(fs, CRAFT_EINVAL,
                        "snapshot_read at offset %llu: bad arguments (the "
                        "snapshot has %llu bytes)",
                        (unsigned long long)offset,
                        (unsigned long long)fs->snap_len);
    }
    uint64_t left = fs->snap_len - offset;
    size_t k = left < count ? (size_t)left : count;
    size_t done = 0;
    int rv = fs_pread_all(fs, fs->snap_fd, buf, k, offset, &done);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "read", fs->snap_name, rv);
    }
    if (done != k) {
        return snap_corrupt(fs, fs->snap_name, offset + done,
                            "the file is shorter than its footer says");
    }
    /* Reads from the start on are checked against the data's CRC. */
    if (offset == 0) {
        fs->rd_off = 0;
        fs->rd_crc = 0;
    }
    if (offset == fs->rd_off) {
        fs->rd_crc = craft_crc32c(fs->rd_crc, buf, k);
        fs->rd_off += k;
        if (fs->rd_off == fs->snap_len && fs->rd_crc != fs->snap_crc) {
            fs->rd_off = UINT64_MAX;
            return snap_corrupt(fs, fs->snap_name, 0,
                                "the data fails its CRC32C (it changed "
                                "since the storage was opened)");
        }
    } else {
        fs->rd_off = UINT64_MAX;
    }
    *n = k;
    *last = offset + k == fs->snap_len;
    return CRAFT_OK;
}
