/*
 * storage/io.c: the POSIX implementation of struct fs_io.
 */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/io.h"

static int neg_errno(void)
{
    return errno > 0 ? -errno : -EIO;
}

static int px_openat(void *user, int dirfd, const char *name, int flags,
                     int mode)
{
    (void)user;
    int fd;
    do {
        fd = openat(dirfd, name, flags | O_CLOEXEC, (mode_t)mode);
    } while (fd < 0 && errno == EINTR);
    return fd >= 0 ? fd : neg_errno();
}

static int px_close(void *user, int fd)
{
    (void)user;
    /* Linux closes the descriptor even when close fails: never retry. */
    return close(fd) == 0 || errno == EINTR ? 0 : neg_errno();
}

static int px_pwrite(void *user, int fd, const void *buf, size_t len,
                     uint64_t off, size_t *done)
{
    (void)user;
    ssize_t n;
    *done = 0;
    do {
        n = pwrite(fd, buf, len, (off_t)off);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return neg_errno();
    }
    *done = (size_t)n;
    return 0;
}

static int px_pread(void *user, int fd, void *buf, size_t len, uint64_t off,
                    size_t *done)
{
    (void)user;
    ssize_t n;
    *done = 0;
    do {
        n = pread(fd, buf, len, (off_t)off);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return neg_errno();
    }
    *done = (size_t)n;
    return 0;
}

/* A failed fdatasync/fsync is never retried: after EIO the kernel may
 * have dropped the dirty pages and a second call could succeed although
 * the data is gone (the storage then fail-stops). EINTR does not happen
 * for these calls on Linux. */
static int px_fdatasync(void *user, int fd)
{
    (void)user;
    return fdatasync(fd) == 0 ? 0 : neg_errno();
}

static int px_fsync(void *user, int fd)
{
    (void)user;
    return fsync(fd) == 0 ? 0 : neg_errno();
}

static int px_ftruncate(void *user, int fd, uint64_t len)
{
    (void)user;
    int rv;
    do {
        rv = ftruncate(fd, (off_t)len);
    } while (rv < 0 && errno == EINTR);
    return rv == 0 ? 0 : neg_errno();
}

static int px_fallocate(void *user, int fd, uint64_t off, uint64_t len)
{
    (void)user;
    int rv;
    do {
        rv = fallocate(fd, 0, (off_t)off, (off_t)len);
    } while (rv < 0 && errno == EINTR);
    return rv == 0 ? 0 : neg_errno();
}

static int px_fsize(void *user, int fd, uint64_t *size)
{
    (void)user;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return neg_errno();
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

static int px_seek(void *user, int fd, uint64_t off, int data,
                   uint64_t *res)
{
    (void)user;
    off_t r = lseek(fd, (off_t)off, data ? SEEK_DATA : SEEK_HOLE);
    if (r < 0) {
        return neg_errno();
    }
    *res = (uint64_t)r;
    return 0;
}

static int px_renameat(void *user, int dirfd, const char *from,
                       const char *to)
{
    (void)user;
    return renameat(dirfd, from, dirfd, to) == 0 ? 0 : neg_errno();
}

static int px_unlinkat(void *user, int dirfd, const char *name)
{
    (void)user;
    return unlinkat(dirfd, name, 0) == 0 ? 0 : neg_errno();
}

void fs_io_posix(struct fs_io *io)
{
    io->user = NULL;
    io->openat = px_openat;
    io->close = px_close;
    io->pwrite = px_pwrite;
    io->pread = px_pread;
    io->fdatasync = px_fdatasync;
    io->fsync = px_fsync;
    io->ftruncate = px_ftruncate;
    io->fallocate = px_fallocate;
    io->fsize = px_fsize;
    io->seek = px_seek;
    io->renameat = px_renameat;
    io->unlinkat = px_unlinkat;
}
