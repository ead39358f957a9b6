/*
 * storage/scan.c: reading log segments back, trusting nothing: every
 * length is bounded by the file and CRAFT_MAX_ENTRY_BYTES, every record's
 * CRC32C and index are checked before its payload is used.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/crc32c.h"
#include "storage/fs.h"

static void set_bad(struct fs_scan *out, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_bad(struct fs_scan *out, uint64_t off, const char *fmt, ...)
{
    va_list ap;
    out->stop = FS_STOP_BAD;
    out->end = off;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof(out->why), fmt, ap);
    va_end(ap);
}

int fs_scan_segment(struct fs_reader *r, uint64_t first, uint64_t limit,
                    fs_scan_cb cb, void *ctx, struct fs_scan *out)
{
    const unsigned char *p;
    memset(out, 0, sizeof(*out));
    if (limit > r->size) {
        limit = r->size;
    }
    out->first = first;
    out->last = first > 0 ? first - 1 : 0;
    if (limit < FS_SEG_HEADER_BYTES) {
        set_bad(out, 0, "the file is shorter than a segment header (%llu "
                        "bytes)",
                (unsigned long long)limit);
        return CRAFT_OK;
    }
    int rv = fs_reader_get(r, 0, FS_SEG_HEADER_BYTES, &p);
    if (rv != CRAFT_OK) {
        return rv;
    }
    uint64_t hfirst = 0;
    uint32_t version = 0;
    rv = fs_seg_header_decode(p, &hfirst, &version);
    if (rv == CRAFT_EVERSION) {
        set_bad(out, 0, "format version %u is newer than this build "
                        "reads (%u)",
                (unsigned)version, (unsigned)FS_FORMAT_VERSION);
        return CRAFT_OK;
    }
    if (rv != CRAFT_OK) {
        set_bad(out, 0, "bad segment header (%s)",
                rv == CRAFT_ECHECKSUM ? "CRC32C mismatch" : "no magic");
        return CRAFT_OK;
    }
    if (first != 0 && hfirst != first) {
        set_bad(out, 0, "the header's first index %llu differs from the "
                        "name's %llu",
                (unsigned long long)hfirst, (unsigned long long)first);
        return CRAFT_OK;
    }
    out->first = hfirst;
    out->last = hfirst - 1;
    uint64_t off = FS_SEG_HEADER_BYTES;
    uint64_t next = hfirst;
    out->end = off;
    for (;;) {
        struct fs_rec rec;
        if (off >= limit) {
            out->stop = FS_STOP_END;
            return CRAFT_OK;
        }
        if (limit - off < FS_REC_HEADER_BYTES) {
            rv = fs_reader_get(r, off, (size_t)(limit - off), &p);
            if (rv != CRAFT_OK) {
                return rv;
            }
            if (fs_all_zero(p, (size_t)(limit - off))) {
                out->stop = FS_STOP_END;
            } else {
                set_bad(out, off, "a partial record header (%llu bytes) "
                                  "at index %llu",
                        (unsigned long long)(limit - off),
                        (unsigned long long)next);
            }
            return CRAFT_OK;
        }
        rv = fs_reader_get(r, off, FS_REC_HEADER_BYTES, &p);
        if (rv != CRAFT_OK) {
            return rv;
        }
        if (fs_all_zero(p, FS_REC_HEADER_BYTES)) {
            out->stop = FS_STOP_END;
            return CRAFT_OK;
        }
        fs_rec_decode(p, &rec);
        uint32_t crc = craft_crc32c(0, p + 4, FS_REC_HEADER_BYTES - 4);
        if (rec.index != next) {
            set_bad(out, off, "record of index %llu where %llu was expected",
                    (unsigned long long)rec.index, (unsigned long long)next);
            return CRAFT_OK;
        }
        if (rec.reserved != 0) {
            set_bad(out, off, "record of index %llu has a reserved field "
                              "set (%llu)",
                    (unsigned long long)rec.index,
                    (unsigned long long)rec.reserved);
            return CRAFT_OK;
        }
        uint64_t size = fs_rec_size(rec.len);
        if (rec.len > CRAFT_MAX_ENTRY_BYTES || size > limit - off) {
            set_bad(out, off, "record of index %llu claims %llu bytes, "
                              "beyond the end of the segment",
                    (unsigned long long)rec.index,
                    (unsigned long long)rec.len);
            return CRAFT_OK;
        }
        const unsigned char *payload = NULL;
        if (rec.len > 0) {
            rv = fs_reader_get(r, off + FS_REC_HEADER_BYTES, rec.len,
                               &payload);
            if (rv != CRAFT_OK) {
                return rv;
            }
            crc = craft_crc32c(crc, payload, rec.len);
        }
        if (crc != rec.crc) {
            set_bad(out, off, "record of index %llu fails its CRC32C "
                              "(%llu bytes of payload)",
                    (unsigned long long)rec.index,
                    (unsigned long long)rec.len);
            return CRAFT_OK;
        }
        if (cb != NULL) {
            rv = cb(ctx, &rec, payload, off);
            if (rv < 0) {
                return rv;
            }
            if (rv > 0) {
                out->stop = FS_STOP_CB;
                out->end = off;
                return CRAFT_OK;
            }
        }
        off += size;
        out->count++;
        out->last = rec.index;
        out->end = off;
        next++;
    }
}

int fs_scan_tail(struct fs_reader *r, uint64_t x, uint64_t next,
                 uint64_t *garbage_end, uint64_t *durable_after,
                 uint64_t *proof_off)
{
    craft_file_storage *fs = r->fs;
    const unsigned char *p;
    int rv;
    *garbage_end = x;
    *durable_after = 0;
    *proof_off = 0;
    /* Where the non-zero bytes end. Only the extents holding data are
     * read: the unwritten rest of a preallocated segment is a hole to
     * SEEK_DATA. */
    for (uint64_t off = x; off < r->size;) {
        uint64_t d = off, h = r->size;
        rv = fs->io.seek(fs->io.user, r->fd, off, 1, &d);
        if (rv == -ENXIO) {
            break;
        }
        if (rv < 0 || d < off) {
            d = off; /* no SEEK_DATA: read it all */
        } else if (fs->io.seek(fs->io.user, r->fd, d, 0, &h) < 0 || h <= d ||
                   h > r->size) {
            h = r->size;
        }
        for (off = d; off < h;) {
            size_t n = h - off > FS_RBUF_BYTES ? FS_RBUF_BYTES
                                               : (size_t)(h - off);
            rv = fs_reader_get(r, off, n, &p);
            if (rv != CRAFT_OK) {
                return rv;
            }
            if (!fs_all_zero(p, n)) {
                size_t k = n;
                while (k > 0 && p[k - 1] == 0) {
                    k--;
                }
                *garbage_end = off + k;
            }
            off += n;
        }
    }
    /* A valid record there whose durable mark is past x proves that the
     * bytes at x were synced: then they are corrupt, not torn. Records
     * start at multiples of 8. */
    uint64_t start = (x + FS_REC_ALIGN - 1) & ~(uint64_t)(FS_REC_ALIGN - 1);
    for (uint64_t off = start; off + FS_REC_HEADER_BYTES <= *garbage_end;
         off += FS_REC_ALIGN) {
        struct fs_rec rec;
        rv = fs_reader_get(r, off, FS_REC_HEADER_BYTES, &p);
        if (rv != CRAFT_OK) {
            return rv;
        }
        fs_rec_decode(p, &rec);
        if (rec.mark <= x || rec.mark > r->size || rec.reserved != 0 ||
            rec.index < next || rec.len > CRAFT_MAX_ENTRY_BYTES ||
            fs_rec_size(rec.len) > r->size - off) {
            continue;
        }
        uint32_t crc = craft_crc32c(0, p + 4, FS_REC_HEADER_BYTES - 4);
        if (rec.len > 0) {
            rv = fs_reader_get(r, off + FS_REC_HEADER_BYTES, rec.len, &p);
            if (rv != CRAFT_OK) {
                return rv;
            }
            crc = craft_crc32c(crc, p, rec.len);
        }
        if (crc == rec.crc) {
            *durable_after = rec.mark;
            *proof_off = off;
            return CRAFT_OK;
        }
    }
    return CRAFT_OK;
}
