/*
 * tests/storage/faultio.h: a fault-injecting struct fs_io (the storage's
 * table of system calls, src/storage/io.h) for tests.
 *
 * It passes every call to POSIX and counts the "points" where a write or
 * a sync happens (pwrite, fdatasync, fsync, ftruncate, fallocate, rename,
 * unlink, creating a file). At point fail_at it injects one fault:
 *
 *   FI_EIO, FI_ENOSPC  the call fails with that errno (a failed fdatasync
 *                      also loses the file's unsynced writes, as Linux
 *                      does: fsyncgate)
 *   FI_SHORT           a pwrite writes half of the bytes and says so
 *   FI_CRASH_*         a power cut: the call (a pwrite: half of it, for
 *                      FI_CRASH_TORN) is the last one to reach the files,
 *                      every later call fails with EIO, and the files go
 *                      back to what was durable, following the mode:
 *     FI_CRASH_LOSE   every write and name change since its file's (or
 *                     the directory's) last sync is undone
 *     FI_CRASH_TORN   the same, but the interrupted pwrite keeps its first
 *                     half and the writes before it on that file stay
 *     FI_CRASH_REORDER like TORN, but of the unsynced writes of the file
 *                     being written, the first is undone and the later
 *                     ones stay (pages reach the disk in any order)
 *     FI_CRASH_KEEP   nothing is undone (a process crash: the kernel keeps
 *                     the page cache)
 *
 * O_DIRECT is taken off the flags (the tests' directories may be on a
 * filesystem without it, and the model is the disk anyway) but its rules
 * are kept: a write on such a descriptor whose buffer, length or offset
 * is not a multiple of 4 KiB fails with EINVAL, as the kernel's would,
 * and is counted in misaligned.
 *
 * Durability is modelled per file name: an undo log of the unsynced
 * writes (old bytes and size) is cleared by fdatasync/fsync of the file;
 * creations, renames and unlinks are undone unless the directory was
 * fsynced after them (unlinked and overwritten files are kept in a trash
 * until then). Real fdatasync calls are skipped: the model is the disk.
 */
#ifndef CRAFT_FAULTIO_H
#define CRAFT_FAULTIO_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/io.h"

enum fi_kind {
    FI_NONE = 0,
    FI_EIO,
    FI_ENOSPC,
    FI_SHORT,
    FI_CRASH_LOSE,
    FI_CRASH_TORN,
    FI_CRASH_REORDER,
    FI_CRASH_KEEP
};

#define FI_MAX_FILES 128
#define FI_MAX_FDS 256
#define FI_MAX_DIROPS 256

struct fi_undo {
    uint64_t off;        /* where the write went */
    uint64_t wlen;       /* how many bytes it wrote */
    size_t len;          /* bytes of old that are the old content */
    unsigned char *old;  /* old bytes in [off, off+len) (within old size) */
    uint64_t old_size;   /* the file's size before */
};

struct fi_file {
    char name[80];
    int used;
    struct fi_undo *u;
    size_t nu, cap;
};

enum fi_dirop_kind { FI_OP_CREATE = 1, FI_OP_RENAME, FI_OP_UNLINK };

struct fi_dirop {
    int kind;
    char a[80]; /* created / renamed from / unlinked */
    char b[80]; /* renamed to */
    char trash[80]; /* what was at b (rename) or a (unlink), kept */
};

struct fi {
    char dir[512];
    int dirfd; /* ours, for undoing */
    uint64_t points; /* write and sync points seen */
    uint64_t fail_at; /* 1-based; 0: never */
    int kind;
    int crashed;
    int injected;
    uint64_t trash_seq;
    struct fi_file files[FI_MAX_FILES];
    char fdname[FI_MAX_FDS][80]; /* "" for a directory or unknown fd */
    int fdused[FI_MAX_FDS];
    int fddsync[FI_MAX_FDS]; /* opened O_DSYNC: writes durable at once */
    int fddirect[FI_MAX_FDS]; /* opened O_DIRECT: 4 KiB aligned writes */
    uint64_t misaligned; /* O_DIRECT writes refused for their alignment */
    struct fi_dirop ops[FI_MAX_DIROPS];
    size_t nops;
};

static inline struct fi_file *fi_file(struct fi *f, const char *name,
                                      int make)
{
    struct fi_file *free_slot = NULL;
    for (int k = 0; k < FI_MAX_FILES; k++) {
        if (f->files[k].used && strcmp(f->files[k].name, name) == 0) {
            return &f->files[k];
        }
        if (!f->files[k].used && free_slot == NULL) {
            free_slot = &f->files[k];
        }
    }
    if (!make || free_slot == NULL) {
        return NULL;
    }
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = 1;
    snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
    return free_slot;
}

static inline void fi_clear_undo(struct fi_file *ff)
{
    for (size_t k = 0; k < ff->nu; k++) {
        free(ff->u[k].old);
    }
    ff->nu = 0;
}

static inline uint64_t fi_size_at(struct fi *f, const char *name)
{
    struct stat st;
    if (fstatat(f->dirfd, name, &st, 0) != 0) {
        return 0;
    }
    return (uint64_t)st.st_size;
}

/* Records the content of name in [off, off + len) and its size, before a
 * change. */
static inline void fi_record(struct fi *f, const char *name, uint64_t off,
                             uint64_t len)
{
    struct fi_file *ff = fi_file(f, name, 1);
    if (ff == NULL) {
        abort();
    }
    if (ff->nu == ff->cap) {
        ff->cap = ff->cap ? ff->cap * 2 : 16;
        ff->u = realloc(ff->u, ff->cap * sizeof(*ff->u));
    }
    struct fi_undo *u = &ff->u[ff->nu++];
    u->off = off;
    u->wlen = len;
    u->old_size = fi_size_at(f, name);
    u->len = 0;
    u->old = NULL;
    if (off < u->old_size) {
        uint64_t end = off + len < u->old_size ? off + len : u->old_size;
        u->len = (size_t)(end - off);
        u->old = malloc(u->len ? u->len : 1);
        int fd = openat(f->dirfd, name, O_RDONLY);
        if (fd >= 0) {
            ssize_t n = pread(fd, u->old, u->len, (off_t)off);
            (void)n;
            close(fd);
        }
    }
}

/* Undoes the unsynced writes of ff, newest first, except those in
 * [keep_from, keep_to). When some are kept, an undone write that had
 * extended the file leaves zeros (the size stays: later writes are
 * there); otherwise the size goes back too. */
static inline void fi_undo_file(struct fi *f, struct fi_file *ff,
                                size_t keep_from, size_t keep_to)
{
    int fd = openat(f->dirfd, ff->name, O_RDWR);
    int keeps = keep_to > keep_from;
    if (fd < 0) {
        fi_clear_undo(ff);
        return;
    }
    for (size_t k = ff->nu; k-- > 0;) {
        if (k >= keep_from && k < keep_to) {
            continue;
        }
        struct fi_undo *u = &ff->u[k];
        if (u->len > 0) {
            ssize_t n = pwrite(fd, u->old, u->len, (off_t)u->off);
            (void)n;
        }
        if (keeps) {
            uint64_t from = u->off + u->len;
            static const unsigned char z[4096];
            while (from < u->off + u->wlen) {
                uint64_t n = u->off + u->wlen - from;
                if (n > sizeof(z)) {
                    n = sizeof(z);
                }
                ssize_t w = pwrite(fd, z, (size_t)n, (off_t)from);
                (void)w;
                from += n;
            }
            continue;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && (uint64_t)st.st_size != u->old_size) {
            if (ftruncate(fd, (off_t)u->old_size) != 0) {
                abort();
            }
        }
    }
    close(fd);
    fi_clear_undo(ff);
}

static inline void fi_trash_name(struct fi *f, char *buf)
{
    snprintf(buf, 80, ".fi-trash-%llu", (unsigned long long)++f->trash_seq);
}

/* The power cut: the files as the disk has them. */
static inline void fi_revert(struct fi *f, const char *current)
{
    for (int k = 0; k < FI_MAX_FILES; k++) {
        struct fi_file *ff = &f->files[k];
        if (!ff->used || ff->nu == 0) {
            continue;
        }
        int is_cur = current != NULL && strcmp(ff->name, current) == 0;
        if (f->kind == FI_CRASH_TORN && is_cur) {
            fi_undo_file(f, ff, 0, ff->nu); /* keeps them all */
        } else if (f->kind == FI_CRASH_REORDER && is_cur && ff->nu > 1) {
            fi_undo_file(f, ff, 1, ff->nu); /* the first is lost */
        } else {
            fi_undo_file(f, ff, 0, 0);
        }
    }
    /* name changes, newest first */
    while (f->nops > 0) {
        struct fi_dirop *op = &f->ops[--f->nops];
        switch (op->kind) {
        case FI_OP_CREATE:
            unlinkat(f->dirfd, op->a, 0);
            break;
        case FI_OP_RENAME:
            renameat(f->dirfd, op->b, f->dirfd, op->a);
            if (op->trash[0] != '\0') {
                renameat(f->dirfd, op->trash, f->dirfd, op->b);
            }
            break;
        case FI_OP_UNLINK:
            renameat(f->dirfd, op->trash, f->dirfd, op->a);
            break;
        }
    }
}

static inline void fi_dir_synced(struct fi *f)
{
    for (size_t k = 0; k < f->nops; k++) {
        if (f->ops[k].trash[0] != '\0') {
            unlinkat(f->dirfd, f->ops[k].trash, 0);
        }
    }
    f->nops = 0;
}

static inline struct fi_dirop *fi_dirop(struct fi *f, int kind)
{
    if (f->nops == FI_MAX_DIROPS) {
        abort();
    }
    struct fi_dirop *op = &f->ops[f->nops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    return op;
}

/* A write or sync point: returns the fault to inject now, or FI_NONE.
 * After a crash every call fails. */
static inline int fi_point(struct fi *f)
{
    f->points++;
    if (getenv("FI_VERBOSE") != NULL) {
        fprintf(stderr, "point %llu\n", (unsigned long long)f->points);
    }
    if (f->fail_at != 0 && f->points == f->fail_at && !f->injected) {
        f->injected = 1;
        return f->kind;
    }
    return FI_NONE;
}

static inline int fi_is_crash(int kind)
{
    return kind >= FI_CRASH_LOSE;
}

static inline const char *fi_name_of(struct fi *f, int fd)
{
    return fd >= 0 && fd < FI_MAX_FDS && f->fdused[fd] ? f->fdname[fd] : "";
}

/* ---- the table ----------------------------------------------------------- */

static int fi_openat(void *user, int dirfd, const char *name, int flags,
                     int mode)
{
    struct fi *f = user;
    if (f->crashed) {
        return -EIO;
    }
    int existed = faccessat(dirfd, name, F_OK, 0) == 0;
    int writes = (flags & O_CREAT && !existed) ||
                 (flags & O_TRUNC && existed && fi_size_at(f, name) > 0);
    if (writes) {
        int k = fi_point(f);
        if (fi_is_crash(k)) {
            f->crashed = 1;
            fi_revert(f, NULL);
            return -EIO;
        }
        if (k == FI_EIO || k == FI_ENOSPC) {
            return k == FI_EIO ? -EIO : -ENOSPC;
        }
        if (flags & O_TRUNC && existed) {
            fi_record(f, name, 0, fi_size_at(f, name));
        }
    }
    int odirect = 0;
#ifdef O_DIRECT
    odirect = (flags & O_DIRECT) != 0;
    flags &= ~O_DIRECT;
#endif
    int fd = openat(dirfd, name, flags | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        return -errno;
    }
    if (flags & O_CREAT && !existed) {
        struct fi_dirop *op = fi_dirop(f, FI_OP_CREATE);
        snprintf(op->a, sizeof(op->a), "%s", name);
        struct fi_file *ff = fi_file(f, name, 1);
        fi_clear_undo(ff);
    }
    if (fd < FI_MAX_FDS) {
        f->fdused[fd] = 1;
        f->fddsync[fd] = (flags & O_DSYNC) == O_DSYNC;
        f->fddirect[fd] = odirect;
        snprintf(f->fdname[fd], sizeof(f->fdname[fd]), "%s", name);
    }
    return fd;
}

static int fi_close(void *user, int fd)
{
    struct fi *f = user;
    if (fd >= 0 && fd < FI_MAX_FDS) {
        f->fdused[fd] = 0;
    }
    close(fd);
    return 0;
}

static int fi_pwrite(void *user, int fd, const void *buf, size_t len,
                     uint64_t off, size_t *done)
{
    struct fi *f = user;
    const char *name = fi_name_of(f, fd);
    *done = 0;
    if (f->crashed) {
        return -EIO;
    }
    if (fd >= 0 && fd < FI_MAX_FDS && f->fddirect[fd] &&
        (((uintptr_t)buf | len | off) & 4095u) != 0) {
        f->misaligned++;
        return -EINVAL;
    }
    int k = fi_point(f);
    if (k == FI_EIO || k == FI_ENOSPC) {
        return k == FI_EIO ? -EIO : -ENOSPC;
    }
    size_t n = len;
    if (k == FI_SHORT || k == FI_CRASH_TORN || k == FI_CRASH_REORDER) {
        n = len / 2;
    }
    if (k == FI_CRASH_LOSE) {
        n = 0;
    }
    if (n > 0) {
        fi_record(f, name, off, n);
        ssize_t w = pwrite(fd, buf, n, (off_t)off);
        if (w < 0) {
            return -errno;
        }
        n = (size_t)w;
    }
    if (fi_is_crash(k)) {
        f->crashed = 1;
        if (k != FI_CRASH_KEEP) {
            fi_revert(f, name);
        }
        return -EIO;
    }
    if (fd < FI_MAX_FDS && f->fddsync[fd]) {
        struct fi_file *ff = fi_file(f, name, 0);
        if (ff != NULL) {
            fi_clear_undo(ff);
        }
    }
    *done = n;
    return 0;
}

static int fi_pread(void *user, int fd, void *buf, size_t len, uint64_t off,
                    size_t *done)
{
    struct fi *f = user;
    *done = 0;
    if (f->crashed) {
        return -EIO;
    }
    ssize_t n = pread(fd, buf, len, (off_t)off);
    if (n < 0) {
        return -errno;
    }
    *done = (size_t)n;
    return 0;
}

static int fi_sync(struct fi *f, int fd)
{
    const char *name = fi_name_of(f, fd);
    if (f->crashed) {
        return -EIO;
    }
    int k = fi_point(f);
    if (fi_is_crash(k)) {
        f->crashed = 1;
        if (k != FI_CRASH_KEEP) {
            fi_revert(f, NULL);
        }
        return -EIO;
    }
    if (name[0] == '\0') { /* the directory */
        if (k == FI_EIO) {
            return -EIO;
        }
        fi_dir_synced(f);
        return 0;
    }
    struct fi_file *ff = fi_file(f, name, 0);
    if (k == FI_EIO || k == FI_ENOSPC) {
        /* the kernel drops the dirty pages: the data is gone, and the
         * next fsync would succeed (which the storage must not trust) */
        if (ff != NULL) {
            fi_undo_file(f, ff, 0, 0);
        }
        return k == FI_EIO ? -EIO : -ENOSPC;
    }
    if (ff != NULL) {
        fi_clear_undo(ff);
    }
    return 0;
}

static int fi_fdatasync(void *user, int fd)
{
    return fi_sync(user, fd);
}

static int fi_fsync(void *user, int fd)
{
    return fi_sync(user, fd);
}

static int fi_ftruncate(void *user, int fd, uint64_t len)
{
    struct fi *f = user;
    const char *name = fi_name_of(f, fd);
    if (f->crashed) {
        return -EIO;
    }
    int k = fi_point(f);
    if (fi_is_crash(k)) {
        f->crashed = 1;
        if (k != FI_CRASH_KEEP) {
            fi_revert(f, NULL);
        }
        return -EIO;
    }
    if (k == FI_EIO || k == FI_ENOSPC) {
        return k == FI_EIO ? -EIO : -ENOSPC;
    }
    uint64_t size = fi_size_at(f, name);
    fi_record(f, name, len, size > len ? size - len : 0);
    return ftruncate(fd, (off_t)len) == 0 ? 0 : -errno;
}

static int fi_fallocate(void *user, int fd, uint64_t off, uint64_t len)
{
    struct fi *f = user;
    const char *name = fi_name_of(f, fd);
    if (f->crashed) {
        return -EIO;
    }
    int k = fi_point(f);
    if (fi_is_crash(k)) {
        f->crashed = 1;
        if (k != FI_CRASH_KEEP) {
            fi_revert(f, NULL);
        }
        return -EIO;
    }
    if (k == FI_EIO || k == FI_ENOSPC) {
        return k == FI_EIO ? -EIO : -ENOSPC;
    }
    fi_record(f, name, off, 0);
    return posix_fallocate(fd, (off_t)off, (off_t)len) == 0 ? 0 : -EOPNOTSUPP;
}

static int fi_fsize(void *user, int fd, uint64_t *size)
{
    struct fi *f = user;
    struct stat st;
    if (f->crashed) {
        return -EIO;
    }
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

static int fi_seek(void *user, int fd, uint64_t off, int data, uint64_t *res)
{
    struct fi *f = user;
    if (f->crashed) {
        return -EIO;
    }
    off_t r = lseek(fd, (off_t)off, data ? SEEK_DATA : SEEK_HOLE);
    if (r < 0) {
        return -errno;
    }
    *res = (uint64_t)r;
    return 0;
}

static int fi_renameat(void *user, int dirfd, const char *from, const char *to)
{
    struct fi *f = user;
    if (f->crashed) {
        return -EIO;
    }
    int k = fi_point(f);
    if (fi_is_crash(k)) {
        f->crashed = 1;
        if (k != FI_CRASH_KEEP) {
            fi_revert(f, NULL);
        }
        return -EIO;
    }
    if (k == FI_EIO || k == FI_ENOSPC) {
        return k == FI_EIO ? -EIO : -ENOSPC;
    }
    struct fi_dirop *op = fi_dirop(f, FI_OP_RENAME);
    snprintf(op->a, sizeof(op->a), "%s", from);
    snprintf(op->b, sizeof(op->b), "%s", to);
    if (faccessat(dirfd, to, F_OK, 0) == 0) {
        fi_trash_name(f, op->trash);
        renameat(dirfd, to, f->dirfd, op->trash);
    }
    if (renameat(dirfd, from, dirfd, to) != 0) {
        int e = errno;
        f->nops--;
        return -e;
    }
    /* the undo log follows the name */
    struct fi_file *src = fi_file(f, from, 0);
    struct fi_file *dst = fi_file(f, to, 0);
    if (dst != NULL) {
        fi_clear_undo(dst);
        dst->used = 0;
        free(dst->u);
        dst->u = NULL;
        dst->cap = 0;
    }
    if (src != NULL) {
        snprintf(src->name, sizeof(src->name), "%s", to);
    }
    for (int fd = 0; fd < FI_MAX_FDS; fd++) {
        if (f->fdused[fd] && strcmp(f->fdname[fd], from) == 0) {
            snprintf(f->fdname[fd], sizeof(f->fdname[fd]), "%s", to);
        }
    }
    return 0;
}

static int fi_unlinkat(void *user, int dirfd, const char *name)
{
    struct fi *f = user;
    if (f->crashed) {
        return -EIO;
    }
    int k = fi_point(f);
    if (fi_is_crash(k)) {
        f->crashed = 1;
        if (k != FI_CRASH_KEEP) {
            fi_revert(f, NULL);
        }
        return -EIO;
    }
    if (k == FI_EIO || k == FI_ENOSPC) {
        return k == FI_EIO ? -EIO : -ENOSPC;
    }
    if (faccessat(dirfd, name, F_OK, 0) != 0) {
        return -ENOENT;
    }
    struct fi_dirop *op = fi_dirop(f, FI_OP_UNLINK);
    snprintf(op->a, sizeof(op->a), "%s", name);
    fi_trash_name(f, op->trash);
    if (renameat(dirfd, name, f->dirfd, op->trash) != 0) {
        int e = errno;
        f->nops--;
        return -e;
    }
    struct fi_file *ff = fi_file(f, name, 0);
    if (ff != NULL) {
        /* its unsynced writes go with it (and come back if it does) */
        snprintf(ff->name, sizeof(ff->name), "%s", op->trash);
    }
    return 0;
}

/* Prepares f for the directory dir (which must exist). */
static inline void fi_init(struct fi *f, const char *dir, uint64_t fail_at,
                           int kind)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "%s", dir);
    f->dirfd = open(dir, O_RDONLY | O_DIRECTORY);
    f->fail_at = fail_at;
    f->kind = kind;
}

static inline void fi_table(struct fi *f, struct fs_io *io)
{
    io->user = f;
    io->openat = fi_openat;
    io->close = fi_close;
    io->pwrite = fi_pwrite;
    io->pread = fi_pread;
    io->fdatasync = fi_fdatasync;
    io->fsync = fi_fsync;
    io->ftruncate = fi_ftruncate;
    io->fallocate = fi_fallocate;
    io->fsize = fi_fsize;
    io->seek = fi_seek;
    io->renameat = fi_renameat;
    io->unlinkat = fi_unlinkat;
}

/* Ends a run: trash left by unsynced unlinks of a run that did not crash
 * is what a sync would have made of it. */
static inline void fi_free(struct fi *f)
{
    for (int k = 0; k < FI_MAX_FILES; k++) {
        fi_clear_undo(&f->files[k]);
        free(f->files[k].u);
    }
    fi_dir_synced(f);
    if (f->dirfd >= 0) {
        close(f->dirfd);
    }
}

#endif /* CRAFT_FAULTIO_H */
