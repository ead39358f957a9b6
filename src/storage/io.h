/*
 * storage/io.h: every system call the file storage makes on its files,
 * as a table. The storage uses the POSIX one; tests put a fault-injecting
 * one in its place (short writes, EIO, ENOSPC, a crash at any write or
 * sync) through fs_open_io(). Internal: not part of the ABI.
 *
 * Each function returns 0 (or a descriptor) on success and -errno on
 * failure. pwrite/pread may transfer fewer bytes than asked (*done);
 * the storage loops.
 */
#ifndef CRAFT_STORAGE_IO_H
#define CRAFT_STORAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "craft.h"

struct fs_io {
    void *user;
    /* openat(2) with O_CLOEXEC added; returns the descriptor. */
    int (*openat)(void *user, int dirfd, const char *name, int flags,
                  int mode);
    int (*close)(void *user, int fd);
    int (*pwrite)(void *user, int fd, const void *buf, size_t len,
                  uint64_t off, size_t *done);
    int (*pread)(void *user, int fd, void *buf, size_t len, uint64_t off,
                 size_t *done);
    int (*fdatasync)(void *user, int fd);
    /* fsync(2): files, and directories (to make names durable). */
    int (*fsync)(void *user, int fd);
    int (*ftruncate)(void *user, int fd, uint64_t len);
    /* fallocate(2) mode 0; -EOPNOTSUPP is taken as "no preallocation". */
    int (*fallocate)(void *user, int fd, uint64_t off, uint64_t len);
    int (*fsize)(void *user, int fd, uint64_t *size);
    /* lseek(2) with SEEK_DATA (data 1) or SEEK_HOLE (0) from off: *res
     * is where the next data (hole) starts; -ENXIO when there is no data
     * at or after off. A filesystem without holes may report data
     * everywhere: that is only slower. */
    int (*seek)(void *user, int fd, uint64_t off, int data, uint64_t *res);
    int (*renameat)(void *user, int dirfd, const char *from, const char *to);
    int (*unlinkat)(void *user, int dirfd, const char *name);
};

/* The POSIX implementation. */
void fs_io_posix(struct fs_io *io);

/*
 * craft_file_storage_open() with io instead of the POSIX calls (copied).
 * For tests only.
 */
int fs_open_io(const char *dir, const craft_file_storage_options *opts,
               const struct fs_io *io, craft_file_storage **out);

#endif /* CRAFT_STORAGE_IO_H */
