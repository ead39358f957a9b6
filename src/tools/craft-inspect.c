/*
 * craft-inspect: prints and checks a file storage's data directory
 * (craft/storage.h) without changing it: metadata, hard state, snapshots,
 * segments (index ranges, record counts, CRC status), what the next open
 * would do (cut a torn tail, delete leftovers) or refuse (corruption).
 *
 *   craft-inspect [--verify] [--dump [--from I] [--to J]] DIR
 *
 * Exit status: 0 the directory is sound (a torn tail, which the next open
 * cuts, is not corruption); 1 it is corrupt (the node would refuse to
 * start); 2 usage, or DIR cannot be read. --verify prints only problems
 * and the verdict.
 *
 * It reads the records with the storage's own scanner (src/storage), so
 * what it reports is what an open would find.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/crc32c.h"
#include "storage/fs.h"

static int verify_only;
static int dump;
static uint64_t dump_from = 0, dump_to = UINT64_MAX;
static int corrupt_count;
static int torn_count;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    if (verify_only) {
        return;
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void problem(const char *fmt, ...)
{
    va_list ap;
    corrupt_count++;
    printf("CORRUPT     ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void usage(FILE *f)
{
    fputs("usage: craft-inspect [--verify] [--dump [--from I] [--to J]] DIR\n"
          "  prints a craft file storage directory: metadata, hard state,\n"
          "  snapshots, log segments (index ranges, records, CRC status)\n"
          "  --verify   print only problems; exit 1 on any corruption\n"
          "  --dump     also print every log entry (index, term, type,\n"
          "             length, the first bytes); --from/--to limit it\n"
          "exit status: 0 sound (a torn tail is not corruption: the next\n"
          "open cuts it), 1 corrupt, 2 usage or I/O error\n",
          f);
}

/* ---- small helpers ---------------------------------------------------- */

static int read_file(int dirfd, const char *name, unsigned char *buf,
                     size_t cap, size_t *got)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    ssize_t n = pread(fd, buf, cap, 0);
    int e = errno;
    close(fd);
    if (n < 0) {
        return -e;
    }
    *got = (size_t)n;
    return 0;
}

static const char *human(uint64_t bytes, char *buf, size_t cap)
{
    if (bytes >= (1ull << 30)) {
        snprintf(buf, cap, "%.1f GiB", (double)bytes / (double)(1ull << 30));
    } else if (bytes >= (1ull << 20)) {
        snprintf(buf, cap, "%.1f MiB", (double)bytes / (double)(1ull << 20));
    } else if (bytes >= 1024) {
        snprintf(buf, cap, "%.1f KiB", (double)bytes / 1024.0);
    } else {
        snprintf(buf, cap, "%" PRIu64 " B", bytes);
    }
    return buf;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- the parts ----------------------------------------------------------- */

static void show_metadata(int dirfd)
{
    unsigned char buf[FS_META_BYTES + 1];
    size_t got = 0;
    struct fs_meta m;
    int rv = read_file(dirfd, FS_METADATA, buf, sizeof(buf), &got);
    if (rv == -ENOENT) {
        problem("metadata: missing (not a craft data directory, or its "
                "metadata was deleted)");
        return;
    }
    if (rv < 0) {
        problem("metadata: cannot read: %s", strerror(-rv));
        return;
    }
    rv = fs_meta_decode(buf, got, &m);
    if (rv == CRAFT_EVERSION) {
        problem("metadata: format version %u, newer than this tool reads "
                "(%u)",
                (unsigned)m.version, FS_FORMAT_VERSION);
        return;
    }
    if (rv != CRAFT_OK) {
        problem("metadata, offset 0: %s",
                rv == CRAFT_ECHECKSUM ? "fails its CRC32C"
                                      : "not a craft metadata file");
        return;
    }
    say("metadata    format %u, cluster id %" PRIu64 "%s, node id %" PRIu64
        "%s\n",
        (unsigned)m.version, m.cluster_id, m.cluster_id ? "" : " (not set)",
        m.node_id, m.node_id ? "" : " (not set)");
}

static void show_lock(int dirfd)
{
    int fd = openat(dirfd, FS_LOCK, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say("lock        none (never opened)\n");
        return;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        say("lock        free (no process has the storage open)\n");
    } else {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        say("lock        held by process %s: it is in use, what follows may "
            "change while it is read\n",
            pid[0] ? pid : "?");
    }
    close(fd);
}

static uint64_t show_hardstate(int dirfd)
{
    unsigned char buf[FS_HS_FILE_BYTES];
    size_t got = 0;
    struct fs_hs h[2];
    int rv = read_file(dirfd, FS_HARDSTATE, buf, sizeof(buf), &got);
    if (rv < 0) {
        problem("hardstate: %s", rv == -ENOENT ? "missing" : strerror(-rv));
        return 0;
    }
    if (got != sizeof(buf)) {
        problem("hardstate: %zu bytes, not %u", got, FS_HS_FILE_BYTES);
        return 0;
    }
    int r[2];
    r[0] = fs_hs_decode(buf, &h[0]);
    r[1] = fs_hs_decode(buf + FS_HS_SLOT_STRIDE, &h[1]);
    if (r[0] != CRAFT_OK && r[1] != CRAFT_OK) {
        problem("hardstate, offsets 0 and %u: both slots are damaged",
                FS_HS_SLOT_STRIDE);
        return 0;
    }
    int s = (r[0] == CRAFT_OK && r[1] == CRAFT_OK) ? (h[1].seq > h[0].seq)
                                                   : (r[0] == CRAFT_OK ? 0
                                                                       : 1);
    say("hard state  term %" PRIu64 ", vote %" PRIu64 "%s (slot %d, write #%"
        PRIu64 "; ",
        h[s].term, h[s].vote, h[s].vote ? "" : " (none)", s, h[s].seq);
    if (r[1 - s] == CRAFT_OK) {
        say("other slot: write #%" PRIu64 ")\n", h[1 - s].seq);
    } else {
        say("other slot %s)\n", r[1 - s] == CRAFT_ECHECKSUM
                                    ? "torn (its write was interrupted)"
                                    : "never written");
    }
    return h[s].term;
}

struct snapinfo {
    uint64_t index, term;
};

/* Checks the newest snapshot whole; returns its index (0: none). */
static uint64_t show_snapshots(craft_file_storage *fs, struct snapinfo *sn,
                               size_t n)
{
    char name[FS_NAME_MAX], hb[32];
    if (n == 0) {
        say("snapshot    none\n");
        return 0;
    }
    size_t best = 0;
    for (size_t k = 1; k < n; k++) {
        if (sn[k].index > sn[best].index ||
            (sn[k].index == sn[best].index && sn[k].term > sn[best].term)) {
            best = k;
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (k != best) {
            fs_snapshot_name(name, sn[k].index, sn[k].term);
            say("            %s: superseded (deleted at the next open)\n",
                name);
        }
    }
    fs_snapshot_name(name, sn[best].index, sn[best].term);
    int fd = openat(fs->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        problem("%s: cannot open: %s", name, strerror(errno));
        return 0;
    }
    struct stat st;
    unsigned char foot[FS_SNAP_FOOTER_BYTES];
    struct fs_snap_footer f;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < FS_SNAP_FOOTER_BYTES) {
        problem("%s, offset 0: shorter than a footer", name);
        close(fd);
        return 0;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (pread(fd, foot, sizeof(foot), (off_t)(size - sizeof(foot))) !=
        (ssize_t)sizeof(foot)) {
        problem("%s: cannot read its footer", name);
        close(fd);
        return 0;
    }
    int rv = fs_snap_footer_decode(foot, &f);
    if (rv != CRAFT_OK) {
        problem("%s, offset %" PRIu64 ": the footer %s", name,
                size - FS_SNAP_FOOTER_BYTES,
                rv == CRAFT_ECHECKSUM  ? "fails its CRC32C"
                : rv == CRAFT_EVERSION ? "has a newer format version"
                                       : "is malformed");
        close(fd);
        return 0;
    }
    if (f.index != sn[best].index || f.term != sn[best].term ||
        f.data_len > size ||
        size - f.data_len != (uint64_t)f.conf_len + FS_SNAP_FOOTER_BYTES) {
        problem("%s, offset %" PRIu64 ": the footer disagrees with the "
                "name or the file's size",
                name, size - FS_SNAP_FOOTER_BYTES);
        close(fd);
        return 0;
    }
    /* the data and the membership, streamed */
    static unsigned char buf[1 << 20];
    uint32_t crc = 0;
    int bad = 0;
    for (uint64_t off = 0; off < f.data_len && !bad;) {
        size_t k = f.data_len - off > sizeof(buf) ? sizeof(buf)
                                                  : (size_t)(f.data_len - off);
        if (pread(fd, buf, k, (off_t)off) != (ssize_t)k) {
            bad = 1;
            break;
        }
        crc = craft_crc32c(crc, buf, k);
        off += k;
    }
    uint32_t ccrc = 0;
    if (!bad && pread(fd, buf, f.conf_len, (off_t)f.data_len) ==
                    (ssize_t)f.conf_len) {
        ccrc = craft_crc32c(0, buf, f.conf_len);
    }
    close(fd);
    say("snapshot    %s: index %" PRIu64 ", term %" PRIu64 ", %s of data, "
        "%u bytes of membership",
        name, f.index, f.term, human(f.data_len, hb, sizeof(hb)),
        (unsigned)f.conf_len);
    if (bad || crc != f.data_crc) {
        say("\n");
        problem("%s, offset 0: the data (%" PRIu64 " bytes) fails its "
                "CRC32C",
                name, f.data_len);
        return f.index;
    }
    if (ccrc != f.conf_crc) {
        say("\n");
        problem("%s, offset %" PRIu64 ": the membership fails its CRC32C",
                name, f.data_len);
        return f.index;
    }
    say(", CRC ok\n");
    return f.index;
}

struct dump_ctx {
    uint64_t snap;
};

static int dump_cb(void *ctx, const struct fs_rec *rec,
                   const unsigned char *payload, uint64_t off)
{
    struct dump_ctx *d = ctx;
    if (!dump || rec->index < dump_from || rec->index > dump_to) {
        return 0;
    }
    printf("    %10" PRIu64 "  term %-6" PRIu64 " type %-2u %8u bytes  "
           "@%-9" PRIu64 "%s ",
           rec->index, rec->term, (unsigned)rec->type, (unsigned)rec->len,
           off, rec->index <= d->snap ? " (in the snapshot)" : "");
    uint32_t n = rec->len < 24 ? rec->len : 24;
    for (uint32_t k = 0; k < n; k++) {
        printf("%02x", payload[k]);
    }
    printf("%s  |", rec->len > n ? ".." : "");
    for (uint32_t k = 0; k < n; k++) {
        putchar(isprint(payload[k]) ? payload[k] : '.');
    }
    printf("|\n");
    return 0;
}

/* Checks segment first (last: whether it is the last one); fills *out.
 * Returns 0, or -1 when it could not be read at all. */
static int show_segment(craft_file_storage *fs, uint64_t first, int last,
                        uint64_t snap, struct fs_seg *out, int *gone)
{
    char name[FS_NAME_MAX], hb[32], hb2[32];
    struct fs_reader r;
    struct fs_scan sc;
    struct dump_ctx dc = {snap};
    uint64_t gend = 0, durable = 0, proof = 0;
    *gone = 0;
    fs_segment_name(name, first);
    int fd = openat(fs->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        problem("%s: cannot open: %s", name, strerror(errno));
        return -1;
    }
    int rv = fs_reader_init(&r, fs, fd, name);
    if (rv == CRAFT_OK) {
        rv = fs_scan_segment(&r, first, r.size, NULL, NULL, &sc);
    }
    if (rv == CRAFT_OK) {
        rv = fs_scan_tail(&r, sc.end, sc.last + 1, &gend, &durable, &proof);
    }
    if (rv != CRAFT_OK) {
        problem("%s: cannot read it", name);
        return -1;
    }
    if (sc.stop == FS_STOP_BAD && sc.end == 0) {
        close(fd);
        if (last && durable == 0) {
            say("  %s  an unfinished segment creation (%" PRIu64 " bytes "
                "of debris): deleted at the next open\n",
                name, gend);
            *gone = 1;
            return 0;
        }
        problem("%s, offset 0: %s", name, sc.why);
        return -1;
    }
    out->first = sc.first;
    out->last = sc.last;
    out->end = sc.end;
    say("  %s  ", name);
    if (sc.count > 0) {
        say("index %" PRIu64 "..%" PRIu64 ", %" PRIu64 " records", sc.first,
            sc.last, sc.count);
    } else {
        say("empty (would start at index %" PRIu64 ")", sc.first);
    }
    say(", %s used of %s", human(sc.end, hb, sizeof(hb)),
        human(r.size, hb2, sizeof(hb2)));
    if (sc.count > 0 && sc.last <= snap) {
        say(", all in the snapshot (deleted at the next open)");
    }
    if (gend <= sc.end) {
        say(", CRC ok\n");
    } else {
        say("\n");
    }
    if (dump && sc.count > 0) {
        struct fs_scan dsc;
        r.blen = 0;
        fs_scan_segment(&r, first, sc.end, dump_cb, &dc, &dsc);
    }
    close(fd);
    if (gend <= sc.end) {
        return 0;
    }
    const char *why = sc.stop == FS_STOP_BAD ? sc.why
                                             : "non-zero bytes after the "
                                               "last record";
    if (!last) {
        problem("%s, offset %" PRIu64 ": %s, in a segment before the last "
                "one",
                name, sc.end, why);
        return 0;
    }
    if (durable > sc.end) {
        problem("%s, offset %" PRIu64 ": %s, before data that had been "
                "synced (the record at offset %" PRIu64 " says %" PRIu64
                " bytes were durable)",
                name, sc.end, why, proof, durable);
        return 0;
    }
    torn_count++;
    printf("TORN TAIL   %s, offset %" PRIu64 ": %s; %" PRIu64 " bytes from "
           "index %" PRIu64 " were never synced and will be cut at the next "
           "open\n",
           name, sc.end, why, gend - sc.end, sc.last + 1);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--verify") == 0) {
            verify_only = 1;
        } else if (strcmp(argv[k], "--dump") == 0) {
            dump = 1;
        } else if (strcmp(argv[k], "--from") == 0 && k + 1 < argc) {
            dump_from = strtoull(argv[++k], NULL, 10);
        } else if (strcmp(argv[k], "--to") == 0 && k + 1 < argc) {
            dump_to = strtoull(argv[++k], NULL, 10);
        } else if (strcmp(argv[k], "--help") == 0 ||
                   strcmp(argv[k], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[k][0] == '-' || dir != NULL) {
            usage(stderr);
            return 2;
        } else {
            dir = argv[k];
        }
    }
    if (dir == NULL) {
        usage(stderr);
        return 2;
    }
    if (verify_only) {
        dump = 0;
    }
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        fprintf(stderr, "craft-inspect: %s: %s\n", dir, strerror(errno));
        return 2;
    }
    /* a storage handle for the scanner only: nothing is opened or
     * changed through it */
    static craft_file_storage fs;
    craft_alloc_default(&fs.alloc);
    fs_io_posix(&fs.io);
    pthread_mutex_init(&fs.err_mu, NULL);
    fs.dir = (char *)dir;
    fs.dirfd = dirfd;

    say("directory   %s\n", dir);
    show_metadata(dirfd);
    show_lock(dirfd);
    uint64_t term = show_hardstate(dirfd);
    (void)term;

    /* list */
    uint64_t *segs = NULL;
    size_t nsegs = 0, segcap = 0;
    struct snapinfo *snaps = NULL;
    size_t nsnaps = 0, snapcap = 0;
    DIR *d = fdopendir(dup(dirfd));
    struct dirent *de;
    int others = 0;
    while (d != NULL && (de = readdir(d)) != NULL) {
        uint64_t a, b;
        if (fs_segment_parse(de->d_name, &a)) {
            if (nsegs == segcap) {
                segcap = segcap ? segcap * 2 : 64;
                segs = realloc(segs, segcap * sizeof(*segs));
            }
            segs[nsegs++] = a;
        } else if (fs_snapshot_parse(de->d_name, &a, &b)) {
            if (nsnaps == snapcap) {
                snapcap = snapcap ? snapcap * 2 : 8;
                snaps = realloc(snaps, snapcap * sizeof(*snaps));
            }
            snaps[nsnaps].index = a;
            snaps[nsnaps++].term = b;
        } else if (strcmp(de->d_name, FS_SNAPSHOT_RECV_TMP) == 0 ||
                   strcmp(de->d_name, FS_SNAPSHOT_LOCAL_TMP) == 0 ||
                   strcmp(de->d_name, FS_METADATA_TMP) == 0 ||
                   strcmp(de->d_name, FS_HARDSTATE_TMP) == 0) {
            say("leftover    %s: an interrupted write, deleted at the next "
                "open\n",
                de->d_name);
        } else if (strcmp(de->d_name, ".") != 0 &&
                   strcmp(de->d_name, "..") != 0 &&
                   strcmp(de->d_name, FS_METADATA) != 0 &&
                   strcmp(de->d_name, FS_HARDSTATE) != 0 &&
                   strcmp(de->d_name, FS_LOCK) != 0) {
            others++;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    if (others > 0) {
        say("other       %d files craft does not know (left alone)\n",
            others);
    }
    uint64_t snap = show_snapshots(&fs, snaps, nsnaps);

    qsort(segs, nsegs, sizeof(*segs), cmp_u64);
    struct fs_seg *info = calloc(nsegs + 1, sizeof(*info));
    size_t ninfo = 0;
    say("segments    %zu\n", nsegs);
    if (dump) {
        printf("entries     index, term, type, length, file offset, first "
               "bytes\n");
    }
    for (size_t k = 0; k < nsegs; k++) {
        int gone = 0;
        if (show_segment(&fs, segs[k], k + 1 == nsegs, snap, &info[ninfo],
                         &gone) == 0 &&
            !gone) {
            ninfo++;
        }
    }
    /* the log as a whole */
    size_t s0 = 0;
    while (s0 < ninfo && info[s0].last <= snap && info[s0].last >= info[s0].first) {
        s0++;
    }
    while (s0 < ninfo && info[s0].last < info[s0].first &&
           info[s0].first <= snap) {
        s0++;
    }
    /* a damaged segment was reported: its range says nothing more */
    int gap = corrupt_count > 0;
    for (size_t k = s0 + 1; k < ninfo && !gap; k++) {
        if (info[k].first != info[k - 1].last + 1) {
            char a[FS_NAME_MAX], b[FS_NAME_MAX];
            fs_segment_name(a, info[k - 1].first);
            fs_segment_name(b, info[k].first);
            problem("%s: the log has a gap: %s ends at index %" PRIu64
                    ", this one starts at %" PRIu64,
                    b, a, info[k - 1].last, info[k].first);
            gap = 1;
        }
    }
    if (gap) {
        /* reported above */
    } else if (s0 < ninfo) {
        uint64_t from = info[s0].first > snap ? info[s0].first : snap + 1;
        uint64_t to = info[ninfo - 1].last;
        if (snap == 0 && info[s0].first != 1) {
            problem("the log starts at index %" PRIu64 " but there is no "
                    "snapshot: a segment is missing",
                    info[s0].first);
        } else if (snap > 0 && info[s0].first > snap + 1) {
            problem("the log starts at index %" PRIu64 " but the snapshot "
                    "ends at %" PRIu64 ": a segment is missing",
                    info[s0].first, snap);
        } else {
            if (to >= from) {
                say("log         index %" PRIu64 "..%" PRIu64 " after the "
                    "snapshot (%" PRIu64 " entries)\n",
                    from, to, to - from + 1);
            } else {
                say("log         empty after the snapshot\n");
            }
        }
    } else {
        say("log         empty\n");
    }
    free(info);
    free(segs);
    free(snaps);
    close(dirfd);
    craft_free(&fs.alloc, fs.rbuf);
    if (corrupt_count > 0) {
        printf("verdict     CORRUPT: %d problem%s; a node will not start on "
               "this directory\n",
               corrupt_count, corrupt_count > 1 ? "s" : "");
        return 1;
    }
    printf("verdict     OK%s\n",
           torn_count > 0 ? " (a torn tail, cut at the next open: the "
                            "entries in it were never synced)"
                          : "");
    return 0;
}
