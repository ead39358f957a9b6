/*
 * storage/recover.c: checking the log at open and cutting a torn tail.
 *
 * Every segment but the last was synced whole before the next one was
 * created, so any damage in it is corruption. In the last one, the
 * records after the last sync may be torn in any way (pages reach the
 * disk in any order): a bad record there is cut off with everything after
 * it, unless a valid record after it carries a durable mark past it,
 * which proves the bad bytes had been synced: corruption.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "storage/fs.h"

static int corrupt(craft_file_storage *fs, const char *name, uint64_t off,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reports corruption in name at off: trace, message; CRAFT_ECORRUPT. */
static int corrupt(craft_file_storage *fs, const char *name, uint64_t off,
                   const char *fmt, ...)
{
    char msg[FS_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
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
                    (unsigned long long)off, msg);
}

/* Cuts the torn tail [x, garbage_end) of the last segment. */
static int cut_tail(craft_file_storage *fs, const char *name, uint64_t x,
                    uint64_t next, uint64_t garbage_end)
{
    int fd = fs->io.openat(fs->io.user, fs->dirfd, name, O_RDWR, 0);
    if (fd < 0) {
        return fs_io_fail(fs, 0, "open", name, fd);
    }
    int rv = fs->io.ftruncate(fs->io.user, fd, x);
    if (rv < 0) {
        fs->io.close(fs->io.user, fd);
        return fs_io_fail(fs, 0, "ftruncate", name, rv);
    }
    if (fs->prealloc && x < fs->seg_bytes) {
        /* best effort: a full disk only loses the preallocation */
        fs->io.fallocate(fs->io.user, fd, x, fs->seg_bytes - x);
    }
    rv = fs_datasync(fs, fd);
    fs->io.close(fs->io.user, fd);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "fdatasync", name, rv);
    }
    if (fs_trace_on(fs, CRAFT_TRACE_STORAGE_TAIL_TRUNCATED)) {
        struct craft_trace_event ev;
        craft_trace_event_begin(&ev, CRAFT_TRACE_STORAGE_TAIL_TRUNCATED,
                                fs->node_id);
        craft_trace_event_u64(&ev, "index", next);
        craft_trace_event_u64(&ev, "bytes", garbage_end - x);
        craft_trace_event_u64(&ev, "offset", x);
        craft_trace_event_str(&ev, "file", name);
        fs_trace_emit(fs, &ev);
    }
    return CRAFT_OK;
}

/* Scan callback: the term of the last valid record (terms never go
 * down along a log). */
static int note_term(void *ctx, const struct fs_rec *rec,
                     const unsigned char *payload, uint64_t off)
{
    (void)payload;
    (void)off;
    *(uint64_t *)ctx = rec->term;
    return 0;
}

/*
 * Checks segment-<first>: *seg gets its range, *last_term the term of its
 * last valid record (unchanged when it has none). *gone is set when it
 * was the debris of an interrupted creation and was deleted.
 */
static int check_segment(craft_file_storage *fs, uint64_t first, int is_last,
                         struct fs_seg *seg, uint64_t *last_term, int *gone)
{
    char name[FS_NAME_MAX];
    struct fs_reader r;
    struct fs_scan sc;
    uint64_t gend = 0, durable = 0, proof = 0;
    int rv;

    *gone = 0;
    fs_segment_name(name, first);
    int fd = fs->io.openat(fs->io.user, fs->dirfd, name, O_RDONLY, 0);
    if (fd < 0) {
        return fs_io_fail(fs, 0, "open", name, fd);
    }
    rv = fs_reader_init(&r, fs, fd, name);
    if (rv == CRAFT_OK) {
        rv = fs_scan_segment(&r, first, r.size, note_term, last_term, &sc);
    }
    if (rv != CRAFT_OK) {
        goto out;
    }
    if (sc.stop == FS_STOP_BAD && sc.end == 0) {
        /* A bad header. A segment is synced right after its header is
         * written, before any record goes in: so in the last segment,
         * with no valid record after it, it is an interrupted creation. */
        if (is_last) {
            rv = fs_scan_tail(&r, 0, first, &gend, &durable, &proof);
            if (rv != CRAFT_OK) {
                goto out;
            }
            if (durable == 0) {
                fs->io.close(fs->io.user, fd);
                fd = -1;
                rv = fs->io.unlinkat(fs->io.user, fs->dirfd, name);
                if (rv < 0) {
                    rv = fs_io_fail(fs, 0, "unlink", name, rv);
                    goto out;
                }
                if (gend > 0 &&
                    fs_trace_on(fs, CRAFT_TRACE_STORAGE_TAIL_TRUNCATED)) {
                    struct craft_trace_event ev;
                    craft_trace_event_begin(
                        &ev, CRAFT_TRACE_STORAGE_TAIL_TRUNCATED, fs->node_id);
                    craft_trace_event_u64(&ev, "index", first);
                    craft_trace_event_u64(&ev, "bytes", gend);
                    craft_trace_event_u64(&ev, "offset", 0);
                    craft_trace_event_str(&ev, "file", name);
                    fs_trace_emit(fs, &ev);
                }
                *gone = 1;
                rv = CRAFT_OK;
                goto out;
            }
        }
        rv = corrupt(fs, name, 0, "%s; the log is corrupt", sc.why);
        goto out;
    }
    /* After the last valid record: zeros (a clean end), or not. */
    rv = fs_scan_tail(&r, sc.end, sc.last + 1, &gend, &durable, &proof);
    if (rv != CRAFT_OK) {
        goto out;
    }
    if (gend > sc.end) {
        const char *why = sc.stop == FS_STOP_BAD
                              ? sc.why
                              : "non-zero bytes after the last record";
        if (!is_last) {
            rv = corrupt(fs, name, sc.end,
                         "%s, in a segment before the last one (it was "
                         "synced whole): the log is corrupt",
                         why);
            goto out;
        }
        if (durable > sc.end) {
            rv = corrupt(fs, name, sc.end,
                         "%s; the valid record at offset %llu says %llu "
                         "bytes had been synced, so this is corruption, "
                         "not a torn write",
                         why, (unsigned long long)proof,
                         (unsigned long long)durable);
            goto out;
        }
        fs->io.close(fs->io.user, fd);
        fd = -1;
        rv = cut_tail(fs, name, sc.end, sc.last + 1, gend);
        if (rv != CRAFT_OK) {
            goto out;
        }
    }
    seg->first = sc.first;
    seg->last = sc.last;
    seg->end = sc.end;
out:
    if (fd >= 0) {
        fs->io.close(fs->io.user, fd);
    }
    return rv;
}

static void seg_name(char *buf, const struct fs_seg *s)
{
    fs_segment_name(buf, s->first);
}

int fs_recover_log(craft_file_storage *fs, const uint64_t *firsts, size_t n)
{
    char a[FS_NAME_MAX], b[FS_NAME_MAX];
    int rv;

    if (n > 0) {
        fs->segs = craft_malloc(&fs->alloc, n * sizeof(*fs->segs));
        if (fs->segs == NULL) {
            return fs_error(fs, CRAFT_ENOMEM, "no memory for %zu segments",
                            n);
        }
        fs->segs_cap = n;
    }
    uint64_t last_term = 0;
    for (size_t k = 0; k < n; k++) {
        int gone = 0;
        struct fs_seg seg;
        rv = check_segment(fs, firsts[k], k + 1 == n, &seg, &last_term,
                           &gone);
        if (rv != CRAFT_OK) {
            return rv;
        }
        if (!gone) {
            fs->segs[fs->nsegs++] = seg;
        }
    }
    /* Segments a snapshot covers whole are leftovers of a compaction
     * (their deletion is not synced: they are harmless). */
    size_t dropped = fs_drop_prefix(fs, fs->snap_index);
    (void)dropped;
    if (fs->nsegs > 0) {
        const struct fs_seg *s0 = &fs->segs[0];
        if (fs->snap_index == 0 && s0->first != 1) {
            seg_name(a, s0);
            return corrupt(fs, a, 0,
                           "the log starts at index %llu but there is no "
                           "snapshot: a segment is missing",
                           (unsigned long long)s0->first);
        }
        if (fs->snap_index > 0 && s0->first > fs->snap_index + 1) {
            seg_name(a, s0);
            return corrupt(fs, a, 0,
                           "the log starts at index %llu but the snapshot "
                           "ends at %llu: a segment is missing",
                           (unsigned long long)s0->first,
                           (unsigned long long)fs->snap_index);
        }
    }
    for (size_t k = 1; k < fs->nsegs; k++) {
        if (fs->segs[k].first != fs->segs[k - 1].last + 1) {
            seg_name(a, &fs->segs[k - 1]);
            seg_name(b, &fs->segs[k]);
            return corrupt(fs, b, 0,
                           "the log has a gap: %s ends at index %llu but "
                           "this segment starts at %llu: a segment is "
                           "missing or truncated",
                           a, (unsigned long long)fs->segs[k - 1].last,
                           (unsigned long long)fs->segs[k].first);
        }
    }
    /* Figure 2: a server persists a term before it stores entries (or a
     * snapshot) of that term, and sync makes the hard state durable
     * first. A log ahead of the hard state means the hard state lost a
     * value it had made durable (its newest slot was damaged): the vote
     * of that term is gone, so this is corruption, not a torn write. */
    uint64_t top = last_term > fs->snap_term ? last_term : fs->snap_term;
    if (top > fs->term) {
        return corrupt(fs, FS_HARDSTATE, 0,
                       "holds term %llu but the %s has term %llu: a hard "
                       "state that was durable is lost",
                       (unsigned long long)fs->term,
                       last_term > fs->snap_term ? "log" : "snapshot",
                       (unsigned long long)top);
    }
    rv = fs_open_tail(fs);
    if (rv != CRAFT_OK) {
        return rv;
    }
    if (fs->tail_fd >= 0) {
        /* What was read may be in the page cache only (after a process
         * crash): make it durable before acting on it. */
        fs_segment_name(a, fs->segs[fs->nsegs - 1].first);
        rv = fs_datasync(fs, fs->tail_fd);
        if (rv < 0) {
            return fs_io_fail(fs, 0, "fdatasync", a, rv);
        }
    }
    return CRAFT_OK;
}
