/*
 * storage/fs.h: the file storage's internal state (craft/storage.h is the
 * public contract, README.md in this directory the design).
 *
 * Written only against the public craft_storage_ops contract, libc and
 * src/util + the codec's CRC32C, like any user's storage would be.
 */
#ifndef CRAFT_STORAGE_FS_H
#define CRAFT_STORAGE_FS_H

#include <pthread.h>
#include <stdint.h>

#include "craft.h"
#include "storage/format.h"
#include "storage/io.h"
#include "util/alloc.h"
#include "util/trace.h"

#define FS_ERR_MAX 512
/* The write buffer: appends of a round collect here and go to the
 * segment in one write at sync (or when it is full). A multiple of the
 * O_DIRECT block. */
#define FS_WBUF_BYTES (1024u * 1024u)
#define FS_BLOCK 4096u
/* How far past the end of the log a preallocated tail is written with
 * zeros ahead of the records (log.c, zero_ahead). A multiple of
 * FS_BLOCK. */
#define FS_ZERO_AHEAD (1024u * 1024u)
/* The zeros are written from a buffer of this size (a multiple of
 * FS_BLOCK). */
#define FS_ZBUF_BYTES (256u * 1024u)
/* Reads of segments and snapshots go through a buffer of this size
 * (grown only for a record larger than it). */
#define FS_RBUF_BYTES (1024u * 1024u)
#define FS_SEGMENT_MIN (4u * 1024u)
#define FS_SEGMENT_MAX (1024u * 1024u * 1024u)

/* One log segment: a file segment-<first>. */
struct fs_seg {
    uint64_t first; /* index of its first record */
    uint64_t last;  /* index of its last record; first - 1 when empty */
    uint64_t end;   /* bytes in use: header and records (incl. buffered) */
};

/* A snapshot being written to its temporary file (fd -1: none). */
struct fs_snap_stream {
    const char *tmp; /* FS_SNAPSHOT_RECV_TMP or FS_SNAPSHOT_LOCAL_TMP */
    int fd;
    uint64_t index;
    uint64_t term;
    uint64_t len;
    uint32_t crc;
};

struct craft_file_storage {
    struct craft_alloc alloc;
    struct fs_io io;
    pthread_mutex_t mu;     /* serializes the methods */
    pthread_mutex_t err_mu; /* a leaf: the error message */
    char err[FS_ERR_MAX];
    char *dir;
    int dirfd;
    int lockfd;

    /* options */
    uint32_t sync_mode;
    uint64_t seg_bytes;
    int prealloc;
    uint64_t cluster_id;
    uint64_t node_id;
    void (*trace)(void *user, const craft_trace_event *ev);
    void *trace_user;
    int trace_level;

    /* The first failure of a write or sync (fail-stop): every later
     * method returns it. A failed fsync is never retried. */
    int failed;

    /* hard state */
    int hs_fd;
    uint64_t hs_seq;
    int hs_durable_slot; /* holds the last durable value */
    int hs_written_slot; /* holds the last value written */
    uint64_t term;
    uint64_t vote;

    /* log: segs[0 .. nsegs) in index order; the last one is the tail */
    struct fs_seg *segs;
    size_t nsegs;
    size_t segs_cap;
    int tail_fd;           /* the tail's descriptor, or -1 */
    int tail_dirty;        /* written since its last sync */
    uint64_t tail_synced;  /* bytes of the tail known durable */
    uint64_t tail_zeroed;  /* the tail's bytes below this were written
                            * (records or zeros): overwriting them needs
                            * no block allocation (log.c, zero_ahead) */
    unsigned char *wbuf_raw;
    unsigned char *wbuf;   /* aligned to FS_BLOCK */
    uint64_t woff;         /* file offset of wbuf[0] */
    size_t wlen;           /* bytes in wbuf; tail end = woff + wlen */
    size_t wpre;           /* O_DIRECT: wbuf[0, wpre) is already on disk */
    unsigned char *zbuf_raw;
    unsigned char *zbuf;   /* FS_ZBUF_BYTES of zeros, aligned; NULL when
                            * nothing is preallocated or synced */

    /* the current snapshot (index 0: none) */
    uint64_t snap_index;
    uint64_t snap_term;
    uint64_t snap_len;
    uint32_t snap_crc;
    unsigned char *snap_conf;
    size_t snap_conf_len;
    int snap_fd;
    char snap_name[FS_NAME_MAX];
    uint64_t rd_off; /* sequential reads are checked against snap_crc */
    uint32_t rd_crc;

    /* snapshots being written chunk by chunk: one received from the
     * leader, one taken locally (CRAFT_SNAPSHOT_F_LOCAL); each has its own
     * temporary file so neither disturbs the other */
    struct fs_snap_stream in;
    struct fs_snap_stream lo;

    unsigned char *rbuf;
    size_t rcap;
};

/* ---- util.c: errors, trace, small helpers ------------------------------- */

/* Sets the error message "craft file storage DIR: ..." and returns code. */
int fs_error(craft_file_storage *fs, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * A system call failed (err: -errno) on file name doing op: sets the
 * message, emits storage.io_failed and returns CRAFT_EIO. When fatal,
 * the storage fail-stops: every later method returns CRAFT_EIO.
 */
int fs_io_fail(craft_file_storage *fs, int fatal, const char *op,
               const char *name, int err);
int fs_trace_on(const craft_file_storage *fs, int id);
void fs_trace_emit(craft_file_storage *fs, struct craft_trace_event *ev);

/* Loops over short writes/reads. pread_all sets *done < len at EOF. */
int fs_pwrite_all(craft_file_storage *fs, int fd, const void *buf,
                  size_t len, uint64_t off);
int fs_pread_all(craft_file_storage *fs, int fd, void *buf, size_t len,
                 uint64_t off, size_t *done);
/* fdatasync / fsync of the directory, unless the mode is NONE. -errno. */
int fs_datasync(craft_file_storage *fs, int fd);
int fs_dirsync(craft_file_storage *fs);
/* Extra open flags of the tail segment and hard state in this mode. */
int fs_mode_flags(const craft_file_storage *fs, int segment);
/* Makes the read buffer at least n bytes. */
int fs_rbuf_reserve(craft_file_storage *fs, size_t n);

/* ---- util.c: buffered reads of a file ------------------------------- */

struct fs_reader {
    craft_file_storage *fs;
    int fd;
    const char *name;
    uint64_t size; /* bytes readable */
    uint64_t boff; /* file offset of fs->rbuf[0] */
    size_t blen;   /* valid bytes in fs->rbuf */
};

int fs_reader_init(struct fs_reader *r, craft_file_storage *fs, int fd,
                   const char *name);
/* Points *p at bytes [off, off + len) (len <= size - off). CRAFT_OK, or
 * CRAFT_EIO / CRAFT_ENOMEM. Valid until the next call. */
int fs_reader_get(struct fs_reader *r, uint64_t off, size_t len,
                  const unsigned char **p);

/* ---- scan.c: reading segments ----------------------------------------- */

enum fs_stop {
    FS_STOP_END = 1, /* at the limit, or a zero header: a clean end */
    FS_STOP_BAD = 2, /* a record that does not check out */
    FS_STOP_CB = 3   /* the callback asked to stop */
};

struct fs_scan {
    uint64_t first;  /* from the header */
    uint64_t count;  /* valid records */
    uint64_t last;   /* index of the last valid record (first - 1) */
    uint64_t end;    /* offset after the last valid record */
    int stop;        /* enum fs_stop */
    char why[160];   /* FS_STOP_BAD: what is wrong at offset end */
};

/*
 * Called for each valid record (payload borrowed for the call) at offset
 * off. Returns 0 to go on, > 0 to stop (FS_STOP_CB), < 0 an error the
 * scan returns.
 */
typedef int (*fs_scan_cb)(void *ctx, const struct fs_rec *rec,
                          const unsigned char *payload, uint64_t off);

/*
 * Checks the header (expects first when not 0; *header_bad tells a bad
 * header from an I/O error) and the records of a segment up to limit
 * bytes. Returns CRAFT_OK (see out->stop), CRAFT_ECORRUPT for a bad
 * header (message set), CRAFT_EIO, CRAFT_ENOMEM or the callback's error.
 */
int fs_scan_segment(struct fs_reader *r, uint64_t first, uint64_t limit,
                    fs_scan_cb cb, void *ctx, struct fs_scan *out);

/*
 * After a scan stopped at offset x (expecting index next): is the rest
 * of the file [x, size) all zeros (*garbage_end = x), or where does the
 * non-zero data end (*garbage_end), and does a valid record there claim
 * that bytes past x were durable (*durable_after: its mark, else 0)?
 */
int fs_scan_tail(struct fs_reader *r, uint64_t x, uint64_t next,
                 uint64_t *garbage_end, uint64_t *durable_after,
                 uint64_t *proof_off);

/* ---- recover.c: opening the log --------------------------------------- */

/* Checks the segments (firsts[0..n), sorted), cuts a torn tail, drops
 * segments the snapshot covers, opens the tail. */
int fs_recover_log(craft_file_storage *fs, const uint64_t *firsts,
                   size_t n);

/* ---- log.c: the log's write path -------------------------------------- */

int fs_append(craft_file_storage *fs, uint64_t index, uint64_t term,
              uint32_t type, const void *data, size_t len);
int fs_truncate(craft_file_storage *fs, uint64_t index);
int fs_sync(craft_file_storage *fs);
/* Writes the buffered records (no sync). */
int fs_flush(craft_file_storage *fs);
/* Sets the write position of the tail to end (O_DIRECT: reads the
 * partial block before it). */
int fs_wbuf_reset(craft_file_storage *fs, uint64_t end);
uint64_t fs_last_index(const craft_file_storage *fs);
/* Deletes the segments whose entries are all <= index (after a
 * snapshot). Returns how many. */
size_t fs_drop_prefix(craft_file_storage *fs, uint64_t index);
int fs_open_tail(craft_file_storage *fs);
void fs_close_tail(craft_file_storage *fs);
int fs_load(craft_file_storage *fs, craft_loader *ld);

/* ---- hardstate.c ------------------------------------------------------ */

int fs_hs_open(craft_file_storage *fs, int create);
int fs_hs_save(craft_file_storage *fs, uint64_t term, uint64_t vote);

/* ---- snapshot.c ------------------------------------------------------- */

/* Finds, checks and opens the current snapshot among the files named
 * snapshot-*; deletes older ones. */
int fs_snap_recover(craft_file_storage *fs, const uint64_t *idx,
                    const uint64_t *terms, size_t n);
int fs_snap_write(craft_file_storage *fs, uint64_t index, uint64_t term,
                  uint64_t offset, const void *data, size_t len,
                  const void *conf, size_t conf_len, uint32_t flags);
int fs_snap_read(craft_file_storage *fs, uint64_t index, uint64_t offset,
                 void *buf, size_t count, size_t *n, int *last);
void fs_snap_close(craft_file_storage *fs);

#endif /* CRAFT_STORAGE_FS_H */
