/*
 * tests/bench/bench_storage.c: the file storage alone, through its
 * craft_storage_ops, next to the raw speed of this machine's disk
 * measured in the same run.
 *
 *   bench_storage [--dir DIR] [--seconds S]
 *       raw rate: write 4 KiB + fdatasync in a loop (a growing file, and
 *       in place in a preallocated one); then appends/s of 64-byte
 *       entries at batch sizes 1, 16 and 256 per sync, in each sync mode.
 *       Goals: batch 1 >= 90 % of the raw rate (syncs/s), batch 256 >=
 *       100x the raw rate (entries/s).
 *   bench_storage --long [--minutes M] [--entries N] [--batch B]
 *       a long run (default: at least 3 minutes and 10 million entries,
 *       batch 16) with a snapshot and compaction every million entries:
 *       ops/s of every 10 s, and the last minute against the first (the
 *       per-append cost must stay flat). --sync none takes the disk's
 *       noise out (what is left is the storage's own cost per append).
 *   bench_storage --snapshot-mib N
 *       writes an N MiB snapshot in 1 MiB chunks (as one received from a
 *       leader arrives), reopens the storage (which checks it whole) and
 *       reads it back in chunks: time and peak resident memory.
 *
 * DIR defaults to $TMPDIR or /tmp: run it on the disk you care about.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "craft.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rv)
{
    fprintf(stderr, "bench_storage: %s: %s\n", what, craft_strerror(rv));
    exit(1);
}

static char base[512];

static void rmrf(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_storage: could not remove %s\n", dir);
    }
}

static void subdir(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", base, name);
    rmrf(buf);
}

/* ---- raw disk ---------------------------------------------------------- */

/* 4 KiB write + fdatasync per iteration for about secs seconds. grow: a
 * growing file (each write extends it); else in place in a file written
 * full beforehand. */
static double raw_rate(double secs, int grow)
{
    char path[600];
    static char buf[4096];
    memset(buf, 'x', sizeof(buf));
    snprintf(path, sizeof(path), "%s/raw", base);
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    long max = 1 << 20;
    if (!grow) {
        max = 4096; /* 16 MiB, rewritten in a ring */
        for (long i = 0; i < max; i++) {
            if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
                perror("write");
                exit(1);
            }
        }
        fsync(fd);
    }
    long n = 0;
    double t0 = now(), t;
    do {
        off_t off = (off_t)(n % max) * 4096;
        if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf) ||
            fdatasync(fd) != 0) {
            perror("raw write");
            exit(1);
        }
        n++;
        t = now();
    } while (t - t0 < secs);
    close(fd);
    unlink(path);
    return (double)n / (t - t0);
}

/* ---- the storage ------------------------------------------------------- */

static craft_file_storage *open_fs(const char *dir, uint32_t mode,
                                   craft_storage_ops *ops)
{
    craft_file_storage_options o = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    char err[512] = "";
    craft_file_storage *fs = NULL;
    o.sync_mode = mode;
    o.errbuf = err;
    o.errbuf_size = sizeof(err);
    int rv = craft_file_storage_open(dir, &o, &fs);
    if (rv != CRAFT_OK) {
        fprintf(stderr, "bench_storage: open %s: %s\n", dir, err);
        return NULL;
    }
    craft_storage_ops_init(ops);
    craft_file_storage_ops(fs, ops);
    return fs;
}

struct run {
    double entries_s;
    double syncs_s;
};

static struct run append_rate(uint32_t mode, int batch, double secs)
{
    char dir[600];
    craft_storage_ops ops;
    unsigned char data[64];
    struct run r = {0, 0};
    memset(data, 'e', sizeof(data));
    subdir(dir, sizeof(dir), "rate");
    craft_file_storage *fs = open_fs(dir, mode, &ops);
    if (fs == NULL) {
        return r;
    }
    if (ops.save_hard_state(ops.user, 1, 1) != CRAFT_OK) {
        die("save_hard_state", -1);
    }
    uint64_t index = 0, syncs = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < batch; k++) {
            index++;
            memcpy(data, &index, sizeof(index));
            int rv = ops.append(ops.user, index, 1, 1, data, sizeof(data));
            if (rv != CRAFT_OK) {
                die("append", rv);
            }
        }
        int rv = ops.sync(ops.user);
        if (rv != CRAFT_OK) {
            die("sync", rv);
        }
        syncs++;
        t = now();
    } while (t - t0 < secs);
    r.entries_s = (double)index / (t - t0);
    r.syncs_s = (double)syncs / (t - t0);
    craft_file_storage_close(fs);
    rmrf(dir);
    return r;
}

static const char *mode_name(uint32_t mode)
{
    switch (mode) {
    case CRAFT_FILE_SYNC_FDATASYNC:
        return "fdatasync";
    case CRAFT_FILE_SYNC_DSYNC:
        return "O_DSYNC";
    case CRAFT_FILE_SYNC_DIRECT:
        return "O_DIRECT";
    default:
        return "none (unsafe)";
    }
}

static int rates(double secs)
{
    printf("raw disk (%s), %.1f s each:\n", base, secs);
    double raw = raw_rate(secs, 1);
    double raw_inplace = raw_rate(secs, 0);
    printf("  4 KiB write + fdatasync, growing file:   %8.0f /s  (the "
           "baseline)\n",
           raw);
    printf("  4 KiB write + fdatasync, in place:       %8.0f /s\n",
           raw_inplace);
    uint32_t modes[] = {CRAFT_FILE_SYNC_FDATASYNC, CRAFT_FILE_SYNC_DSYNC,
                        CRAFT_FILE_SYNC_DIRECT};
    int batches[] = {1, 16, 256};
    int ok = 1;
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        printf("file storage, sync mode %s, 64-byte entries:\n",
               mode_name(modes[m]));
        for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
            struct run r = append_rate(modes[m], batches[b], secs);
            if (r.entries_s == 0) {
                printf("  (unavailable here)\n");
                break;
            }
            printf("  batch %3d: %10.0f entries/s %8.0f syncs/s  = %5.1f %% "
                   "of raw syncs/s (%5.1f %% of in place), %6.1fx raw in "
                   "entries/s\n",
                   batches[b], r.entries_s, r.syncs_s,
                   100.0 * r.syncs_s / raw, 100.0 * r.syncs_s / raw_inplace,
                   r.entries_s / raw);
            if (modes[m] == CRAFT_FILE_SYNC_FDATASYNC) {
                if (batches[b] == 1 && r.syncs_s < 0.9 * raw) {
                    ok = 0;
                }
                if (batches[b] == 256 && r.entries_s < 100.0 * raw) {
                    ok = 0;
                }
            }
        }
    }
    printf("goals (default mode): batch 1 >= 90 %% of raw, batch 256 >= 100x "
           "raw: %s\n",
           ok ? "met" : "NOT met (a loaded machine? see README)");
    return 0;
}

/* ---- the long run ------------------------------------------------------ */

static long rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int long_run(double minutes, uint64_t min_entries, int batch,
                    uint32_t mode)
{
    char dir[600];
    craft_storage_ops ops;
    unsigned char data[64];
    static unsigned char snap[1 << 20];
    const unsigned char conf[] = "bench membership";
    const uint64_t snap_every = 1000000;
    const double slice = 10.0;
    double rate[4096];
    int nslices = 0;

    memset(data, 'e', sizeof(data));
    memset(snap, 's', sizeof(snap));
    subdir(dir, sizeof(dir), "long");
    craft_file_storage *fs = open_fs(dir, mode, &ops);
    if (fs == NULL) {
        return 1;
    }
    ops.save_hard_state(ops.user, 1, 1);
    printf("long run in %s: sync mode %s, batch %d, 64-byte entries, a 1 "
           "MiB snapshot and compaction every %llu entries; at least %.0f "
           "minutes and %llu entries\n",
           dir, mode_name(mode), batch, (unsigned long long)snap_every,
           minutes,
           (unsigned long long)min_entries);
    fflush(stdout);
    uint64_t index = 0, last_snap = 0, slice_start_index = 0;
    double t0 = now(), ts = t0, t = t0;
    /* whole slices: the minutes compared are all there */
    while (((double)nslices * slice < minutes * 60.0 && nslices < 4096) ||
           index < min_entries) {
        for (int k = 0; k < batch; k++) {
            index++;
            memcpy(data, &index, sizeof(index));
            int rv = ops.append(ops.user, index, 1, 1, data, sizeof(data));
            if (rv != CRAFT_OK) {
                die("append", rv);
            }
        }
        int rv = ops.sync(ops.user);
        if (rv != CRAFT_OK) {
            die("sync", rv);
        }
        if (index - last_snap >= snap_every) {
            rv = ops.snapshot_write(ops.user, index, 1, 0, snap, sizeof(snap),
                                    conf, sizeof(conf),
                                    CRAFT_SNAPSHOT_F_LAST);
            if (rv != CRAFT_OK) {
                die("snapshot_write", rv);
            }
            last_snap = index;
        }
        t = now();
        if (t - ts >= slice && nslices < 4096) {
            rate[nslices++] = (double)(index - slice_start_index) / (t - ts);
            printf("  %6.0f s  %12llu entries  %9.0f entries/s  rss %ld "
                   "KiB\n",
                   t - t0, (unsigned long long)index, rate[nslices - 1],
                   rss_kib());
            fflush(stdout);
            ts = t;
            slice_start_index = index;
        }
    }
    craft_file_storage_close(fs);
    rmrf(dir);
    int per_min = (int)(60.0 / slice);
    if (nslices < 2 * per_min) {
        printf("too short to compare minutes\n");
        return 0;
    }
    double first = 0, lastm = 0;
    for (int k = 0; k < per_min; k++) {
        first += rate[k];
        lastm += rate[nslices - 1 - k];
    }
    first /= per_min;
    lastm /= per_min;
    printf("first minute %.0f entries/s, last minute %.0f entries/s: "
           "%+.1f %% over %llu entries (goal: within 10 %%)\n",
           first, lastm, 100.0 * (lastm - first) / first,
           (unsigned long long)index);
    return 0;
}

/* ---- a large snapshot --------------------------------------------------- */

static int big_snapshot(uint64_t mib)
{
    char dir[600];
    craft_storage_ops ops;
    static unsigned char chunk[1 << 20];
    const unsigned char conf[] = "bench membership";
    subdir(dir, sizeof(dir), "snap");
    craft_file_storage *fs = open_fs(dir, CRAFT_FILE_SYNC_FDATASYNC, &ops);
    if (fs == NULL) {
        return 1;
    }
    /* as a follower would: the leader's term is durable before its
     * snapshot (open refuses a hard state behind the snapshot's term) */
    if (ops.save_hard_state(ops.user, 3, 0) != CRAFT_OK) {
        die("save_hard_state", -1);
    }
    long rss0 = rss_kib();
    double t0 = now();
    for (uint64_t k = 0; k < mib; k++) {
        memset(chunk, (int)(k & 0xff), sizeof(chunk));
        int last = k + 1 == mib;
        int rv = ops.snapshot_write(ops.user, 1000, 3, k << 20, chunk,
                                    sizeof(chunk), last ? conf : NULL,
                                    last ? sizeof(conf) : 0,
                                    last ? CRAFT_SNAPSHOT_F_LAST : 0);
        if (rv != CRAFT_OK) {
            die("snapshot_write", rv);
        }
    }
    double t1 = now();
    craft_file_storage_close(fs);
    fs = open_fs(dir, CRAFT_FILE_SYNC_FDATASYNC, &ops); /* checks it */
    if (fs == NULL) {
        return 1;
    }
    double t2 = now();
    uint64_t off = 0;
    for (;;) {
        size_t n = 0;
        int last = 0;
        int rv = ops.snapshot_read(ops.user, 1000, off, chunk, sizeof(chunk),
                                   &n, &last);
        if (rv != CRAFT_OK) {
            die("snapshot_read", rv);
        }
        if (n > 0 && chunk[0] != (unsigned char)((off >> 20) & 0xff)) {
            fprintf(stderr, "bench_storage: snapshot bytes differ\n");
            return 1;
        }
        off += n;
        if (last) {
            break;
        }
    }
    double t3 = now();
    craft_file_storage_close(fs);
    rmrf(dir);
    printf("snapshot of %llu MiB in 1 MiB chunks: written (and synced) in "
           "%.1f s, reopened (checked whole) in %.1f s, read back in %.1f "
           "s; peak resident memory %ld KiB (%ld KiB before it)\n",
           (unsigned long long)mib, t1 - t0, t2 - t1, t3 - t2, rss_kib(),
           rss0);
    return off == mib << 20 ? 0 : 1;
}

int main(int argc, char **argv)
{
    double secs = 2.0, minutes = 3.0;
    uint64_t entries = 10000000, snap_mib = 0;
    int lng = 0, batch = 16;
    uint32_t mode = CRAFT_FILE_SYNC_FDATASYNC;
    const char *dir = getenv("TMPDIR");
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--long") == 0) {
            lng = 1;
        } else if (strcmp(argv[k], "--dir") == 0 && k + 1 < argc) {
            dir = argv[++k];
        } else if (strcmp(argv[k], "--seconds") == 0 && k + 1 < argc) {
            secs = atof(argv[++k]);
        } else if (strcmp(argv[k], "--minutes") == 0 && k + 1 < argc) {
            minutes = atof(argv[++k]);
        } else if (strcmp(argv[k], "--entries") == 0 && k + 1 < argc) {
            entries = strtoull(argv[++k], NULL, 10);
        } else if (strcmp(argv[k], "--sync") == 0 && k + 1 < argc) {
            const char *m = argv[++k];
            mode = strcmp(m, "dsync") == 0    ? CRAFT_FILE_SYNC_DSYNC
                   : strcmp(m, "direct") == 0 ? CRAFT_FILE_SYNC_DIRECT
                   : strcmp(m, "none") == 0
                       ? CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS
                       : CRAFT_FILE_SYNC_FDATASYNC;
        } else if (strcmp(argv[k], "--batch") == 0 && k + 1 < argc) {
            batch = atoi(argv[++k]);
        } else if (strcmp(argv[k], "--snapshot-mib") == 0 && k + 1 < argc) {
            snap_mib = strtoull(argv[++k], NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [--dir DIR] [--seconds S] | --long "
                            "[--minutes M] [--entries N] [--batch B] "
                            "[--sync fdatasync|dsync|direct|none] | "
                            "--snapshot-mib N\n",
                    argv[0]);
            return 2;
        }
    }
    snprintf(base, sizeof(base), "%s/craft-bench-storage-%ld",
             dir != NULL && dir[0] != '\0' ? dir : "/tmp", (long)getpid());
    if (mkdir(base, 0700) != 0) {
        perror(base);
        return 1;
    }
    int rv;
    if (snap_mib > 0) {
        rv = big_snapshot(snap_mib);
    } else if (lng) {
        rv = long_run(minutes, entries, batch > 0 ? batch : 16, mode);
    } else {
        rv = rates(secs);
    }
    rmrf(base);
    return rv;
}
