/*
 * storage/util.c: error messages, trace events, I/O loops and the read
 * buffer of the file storage.
 */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "storage/fs.h"

int fs_error(craft_file_storage *fs, int code, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&fs->err_mu);
    int n = snprintf(fs->err, sizeof(fs->err), "craft file storage %s: ",
                     fs->dir);
    if (n >= 0 && (size_t)n < sizeof(fs->err)) {
        va_start(ap, fmt);
        vsnprintf(fs->err + n, sizeof(fs->err) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&fs->err_mu);
    return code;
}

int fs_trace_on(const craft_file_storage *fs, int id)
{
    int level = craft_trace_level_of(id);
    return fs->trace != NULL && level != 0 && level <= fs->trace_level;
}

void fs_trace_emit(craft_file_storage *fs, struct craft_trace_event *ev)
{
    fs->trace(fs->trace_user, ev);
}

int fs_io_fail(craft_file_storage *fs, int fatal, const char *op,
               const char *name, int err)
{
    int e = err < 0 ? -err : err;
    char why[128];
    /* strerror_r's GNU variant may return a static string */
    snprintf(why, sizeof(why), "%s", strerror(e));
    fs_error(fs, CRAFT_EIO, "%s %s failed: %s (errno %d)%s", op, name, why, e,
             fatal ? "; the storage stopped (fail-stop): reopen it to "
                     "recover from what is on disk"
                   : "");
    if (fatal && fs->failed == CRAFT_OK) {
        fs->failed = CRAFT_EIO;
    }
    if (fs_trace_on(fs, CRAFT_TRACE_STORAGE_IO_FAILED)) {
        struct craft_trace_event ev;
        craft_trace_event_begin(&ev, CRAFT_TRACE_STORAGE_IO_FAILED,
                                fs->node_id);
        craft_trace_event_str(&ev, "op", op);
        craft_trace_event_str(&ev, "file", name);
        craft_trace_event_i64(&ev, "errno", e);
        fs_trace_emit(fs, &ev);
    }
    return CRAFT_EIO;
}

int fs_pwrite_all(craft_file_storage *fs, int fd, const void *buf,
                  size_t len, uint64_t off)
{
    const unsigned char *p = buf;
    while (len > 0) {
        size_t done = 0;
        int rv = fs->io.pwrite(fs->io.user, fd, p, len, off, &done);
        if (rv < 0) {
            return rv;
        }
        if (done == 0 || done > len) {
            return -EIO; /* no progress: do not spin */
        }
        p += done;
        len -= done;
        off += done;
    }
    return 0;
}

int fs_pread_all(craft_file_storage *fs, int fd, void *buf, size_t len,
                 uint64_t off, size_t *done)
{
    unsigned char *p = buf;
    *done = 0;
    while (len > 0) {
        size_t n = 0;
        int rv = fs->io.pread(fs->io.user, fd, p, len, off, &n);
        if (rv < 0) {
            return rv;
        }
        if (n == 0 || n > len) {
            break; /* end of file */
        }
        p += n;
        len -= n;
        off += n;
        *done += n;
    }
    return 0;
}

int fs_datasync(craft_file_storage *fs, int fd)
{
    if (fs->sync_mode == CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS) {
        return 0;
    }
    return fs->io.fdatasync(fs->io.user, fd);
}

int fs_dirsync(craft_file_storage *fs)
{
    if (fs->sync_mode == CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS) {
        return 0;
    }
    return fs->io.fsync(fs->io.user, fs->dirfd);
}

int fs_mode_flags(const craft_file_storage *fs, int segment)
{
    switch (fs->sync_mode) {
    case CRAFT_FILE_SYNC_DSYNC:
        return O_DSYNC;
    case CRAFT_FILE_SYNC_DIRECT:
        return segment ? O_DIRECT | O_DSYNC : O_DSYNC;
    default:
        return 0;
    }
}

int fs_rbuf_reserve(craft_file_storage *fs, size_t n)
{
    if (fs->rcap >= n) {
        return CRAFT_OK;
    }
    size_t cap = n > FS_RBUF_BYTES ? n : FS_RBUF_BYTES;
    unsigned char *p = craft_malloc(&fs->alloc, cap);
    if (p == NULL) {
        return fs_error(fs, CRAFT_ENOMEM, "no memory for a %zu-byte read "
                                          "buffer", cap);
    }
    craft_free(&fs->alloc, fs->rbuf);
    fs->rbuf = p;
    fs->rcap = cap;
    return CRAFT_OK;
}

/* ---- reader ---------------------------------------------------------- */

int fs_reader_init(struct fs_reader *r, craft_file_storage *fs, int fd,
                   const char *name)
{
    r->fs = fs;
    r->fd = fd;
    r->name = name;
    r->boff = 0;
    r->blen = 0;
    int rv = fs->io.fsize(fs->io.user, fd, &r->size);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "fstat", name, rv);
    }
    return fs_rbuf_reserve(fs, FS_RBUF_BYTES);
}

int fs_reader_get(struct fs_reader *r, uint64_t off, size_t len,
                  const unsigned char **p)
{
    craft_file_storage *fs = r->fs;
    if (off >= r->boff && off + len <= r->boff + r->blen) {
        *p = fs->rbuf + (off - r->boff);
        return CRAFT_OK;
    }
    if (len > fs->rcap) {
        /* a record larger than the buffer: grow it (the length was
         * bounded by the caller against the file's size) */
        int rv = fs_rbuf_reserve(fs, len);
        if (rv != CRAFT_OK) {
            return rv;
        }
        r->blen = 0;
    }
    /* refill from off, as much as fits */
    uint64_t want = r->size - off;
    if (want > fs->rcap) {
        want = fs->rcap;
    }
    size_t done = 0;
    int rv = fs_pread_all(fs, r->fd, fs->rbuf, (size_t)want, off, &done);
    if (rv < 0) {
        r->blen = 0;
        return fs_io_fail(fs, 0, "read", r->name, rv);
    }
    r->boff = off;
    r->blen = done;
    if (done < len) {
        return fs_error(fs, CRAFT_EIO, "%s: short read at offset %llu",
                        r->name, (unsigned long long)off);
    }
    *p = fs->rbuf;
    return CRAFT_OK;
}
