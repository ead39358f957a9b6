/*
 * tests/chaos/faultshim.c: an LD_PRELOAD library for the chaos test
 * (tests/chaos/chaos.py). It lets the driver break one craft-kv process's
 * disk and wall clock from outside, without privileges (no tmpfs or loop
 * mount needed).
 *
 * The driver writes words into the file named by $CRAFT_CHAOS_CTL; the
 * shim rereads it when its modification time changes (looked at no more
 * than every 5 ms):
 *
 *   fsync-eio      fsync/fdatasync/sync_file_range fail with EIO (a disk
 *                  whose write-back failed: the data may be lost)
 *   enospc         writes to regular files, fallocate and ftruncate fail
 *                  with ENOSPC (a full disk); sockets and pipes still work
 *   realtime=NS    CLOCK_REALTIME (clock_gettime, gettimeofday, time) is
 *                  shifted by NS nanoseconds (signed): a wall clock jump
 *
 * No file or an empty one: no fault. CLOCK_BOOTTIME and CLOCK_MONOTONIC
 * are never shifted: Linux never steps them back, and craft times ticks,
 * leases and deadlines on them (their real forward "jump" is a pause or
 * a suspend, which the driver makes with SIGSTOP).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define F_FSYNC 1u
#define F_FULL 2u

static _Atomic unsigned g_flags;
static _Atomic int64_t g_realtime_ns;
static _Atomic int64_t g_next_check_ns;
static _Atomic int64_t g_mtime_ns = -1;

/* Straight to the kernel: the shim's own clock must not recurse. */
static int64_t raw_clock(clockid_t id)
{
    struct timespec ts;
    if (syscall(SYS_clock_gettime, id, &ts) != 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void refresh(void)
{
    int64_t now = raw_clock(CLOCK_MONOTONIC_COARSE);
    if (now < atomic_load(&g_next_check_ns)) {
        return;
    }
    atomic_store(&g_next_check_ns, now + 5000000);
    const char *path = getenv("CRAFT_CHAOS_CTL");
    struct stat st;
    if (path == NULL || stat(path, &st) != 0) {
        atomic_store(&g_flags, 0);
        atomic_store(&g_realtime_ns, 0);
        atomic_store(&g_mtime_ns, -1);
        return;
    }
    int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec +
                (int64_t)st.st_size;
    if (m == atomic_load(&g_mtime_ns)) {
        return;
    }
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        return;
    }
    buf[n] = '\0';
    unsigned flags = 0;
    int64_t rt = 0;
    for (char *save = NULL, *w = strtok_r(buf, " \t\r\n", &save); w != NULL;
         w = strtok_r(NULL, " \t\r\n", &save)) {
        if (strcmp(w, "fsync-eio") == 0) {
            flags |= F_FSYNC;
        } else if (strcmp(w, "enospc") == 0) {
            flags |= F_FULL;
        } else if (strncmp(w, "realtime=", 9) == 0) {
            rt = strtoll(w + 9, NULL, 10);
        }
    }
    atomic_store(&g_flags, flags);
    atomic_store(&g_realtime_ns, rt);
    atomic_store(&g_mtime_ns, m);
}

static unsigned flags_now(void)
{
    refresh();
    return atomic_load(&g_flags);
}

static int regular(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

#define REAL(ret, name, ...)                                                  \
    static ret (*real_##name)(__VA_ARGS__);                                   \
    if (real_##name == NULL) {                                                \
        *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                     \
    }

int fsync(int fd)
{
    REAL(int, fsync, int);
    if (flags_now() & F_FSYNC) {
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(int, fdatasync, int);
    if (flags_now() & F_FSYNC) {
        errno = EIO;
        return -1;
    }
    return real_fdatasync(fd);
}

int sync_file_range(int fd, off_t off, off_t n, unsigned int fl)
{
    REAL(int, sync_file_range, int, off_t, off_t, unsigned int);
    if (flags_now() & F_FSYNC) {
        errno = EIO;
        return -1;
    }
    return real_sync_file_range(fd, off, n, fl);
}

static int full_for(int fd)
{
    return (flags_now() & F_FULL) && regular(fd);
}

ssize_t write(int fd, const void *b, size_t n)
{
    REAL(ssize_t, write, int, const void *, size_t);
    if (n > 0 && full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_write(fd, b, n);
}

ssize_t pwrite(int fd, const void *b, size_t n, off_t off)
{
    REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
    if (n > 0 && full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwrite(fd, b, n, off);
}

ssize_t pwrite64(int fd, const void *b, size_t n, off_t off)
{
    return pwrite(fd, b, n, off);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    REAL(int, fallocate, int, int, off_t, off_t);
    if (full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
    return fallocate(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    REAL(int, posix_fallocate, int, off_t, off_t);
    if (full_for(fd)) {
        return ENOSPC;
    }
    return real_posix_fallocate(fd, off, len);
}

int posix_fallocate64(int fd, off_t off, off_t len)
{
    return posix_fallocate(fd, off, len);
}

int ftruncate(int fd, off_t len)
{
    REAL(int, ftruncate, int, off_t);
    /* Growing a file needs space; shrinking it frees some. */
    struct stat st;
    if (full_for(fd) && fstat(fd, &st) == 0 && len > st.st_size) {
        errno = ENOSPC;
        return -1;
    }
    return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len)
{
    return ftruncate(fd, len);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    REAL(int, clock_gettime, clockid_t, struct timespec *);
    int rv = real_clock_gettime(id, ts);
    if (rv == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        refresh();
        int64_t off = atomic_load(&g_realtime_ns);
        if (off != 0) {
            int64_t t = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + off;
            if (t < 0) {
                t = 0;
            }
            ts->tv_sec = (time_t)(t / 1000000000);
            ts->tv_nsec = (long)(t % 1000000000);
        }
    }
    return rv;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return -1;
    }
    /* glibc declares tv nonnull */
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *t)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (t != NULL) {
        *t = ts.tv_sec;
    }
    return ts.tv_sec;
}
