/*
 * storage/format.h: the on-disk format of the file storage (README.md in
 * this directory has the picture). Little-endian; every structure carries
 * a CRC32C; decoders trust nothing they read.
 *
 * Shared by the storage and the craft-inspect tool.
 */
#ifndef CRAFT_STORAGE_FORMAT_H
#define CRAFT_STORAGE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* The format version this build writes and the newest it reads. */
#define FS_FORMAT_VERSION 1u

/* File names. */
#define FS_METADATA "metadata"
#define FS_METADATA_TMP "metadata.tmp"
#define FS_HARDSTATE "hardstate"
#define FS_HARDSTATE_TMP "hardstate.tmp"
#define FS_LOCK "lock"
#define FS_SEGMENT_PREFIX "segment-"
#define FS_SNAPSHOT_PREFIX "snapshot-"
/* Snapshots being written: a received one, and a local one (which may
 * arrive between two chunks of a received one). */
#define FS_SNAPSHOT_RECV_TMP "snapshot-receiving.tmp"
#define FS_SNAPSHOT_LOCAL_TMP "snapshot-local.tmp"
/* segment- + 20 digits, snapshot- + 20 + '-' + 20 digits, and a NUL. */
#define FS_NAME_MAX 64

/* ---- metadata: 64 bytes ------------------------------------------------
 *  0  8  magic "CRAFTDIR"
 *  8  4  format version
 * 12  4  reserved, 0
 * 16  8  cluster id (0: not set)
 * 24  8  node id (0: not set)
 * 32 28  reserved, 0
 * 60  4  CRC32C of bytes 0..59
 */
#define FS_META_BYTES 64u
struct fs_meta {
    uint32_t version;
    uint64_t cluster_id;
    uint64_t node_id;
};
void fs_meta_encode(unsigned char *p, const struct fs_meta *m);
/* 0, or CRAFT_EMALFORMED (magic), CRAFT_ECHECKSUM, CRAFT_EVERSION (newer
 * than FS_FORMAT_VERSION; m->version is set). */
int fs_meta_decode(const unsigned char *p, size_t len, struct fs_meta *m);

/* ---- hard state: two 64-byte slots at offsets 0 and 512 ----------------
 *  0  8  magic "CRAFTHST"
 *  8  8  sequence number (the higher valid slot is the current value)
 * 16  8  term
 * 24  8  vote
 * 32 28  reserved, 0
 * 60  4  CRC32C of bytes 0..59
 * The slots are in different disk sectors; a write goes to the slot that
 * does not hold the last synced value, so a torn write loses at most the
 * value being written.
 */
#define FS_HS_SLOT_BYTES 64u
#define FS_HS_SLOT_STRIDE 512u
#define FS_HS_FILE_BYTES 1024u
struct fs_hs {
    uint64_t seq;
    uint64_t term;
    uint64_t vote;
};
void fs_hs_encode(unsigned char *p, const struct fs_hs *h);
/* 0, CRAFT_EMALFORMED (no magic: e.g. never written), CRAFT_ECHECKSUM. */
int fs_hs_decode(const unsigned char *p, struct fs_hs *h);

/* ---- log segment -------------------------------------------------------
 * Header, 32 bytes:
 *  0  8  magic "CRAFTLOG"
 *  8  4  format version
 * 12  4  reserved, 0
 * 16  8  index of the first record
 * 24  4  reserved, 0
 * 28  4  CRC32C of bytes 0..27
 * Then records, each starting at a multiple of 8:
 *  0  4  CRC32C of bytes 4..39 and of the payload
 *  4  4  payload length
 *  8  8  index
 * 16  8  term
 * 24  4  entry type
 * 28  4  reserved, 0
 * 32  8  durable mark: how many bytes of this segment were durable
 *        (synced) when the record was written
 * 40  .  payload, then zero padding to a multiple of 8
 * The durable mark is what tells a torn tail from corruption at recovery:
 * a bad record below the mark of any valid record after it was durable.
 * After the last record the file holds zeros (preallocated) or ends.
 */
#define FS_SEG_HEADER_BYTES 32u
#define FS_REC_HEADER_BYTES 40u
#define FS_REC_ALIGN 8u
struct fs_rec {
    uint32_t crc;
    uint32_t len;
    uint64_t index;
    uint64_t term;
    uint32_t type;
    uint32_t reserved;
    uint64_t mark;
};
void fs_seg_header_encode(unsigned char *p, uint64_t first);
/* 0, CRAFT_EMALFORMED, CRAFT_ECHECKSUM, CRAFT_EVERSION. */
int fs_seg_header_decode(const unsigned char *p, uint64_t *first,
                         uint32_t *version);

/* Bytes a record with a payload of len takes (header, payload, pad). */
static inline uint64_t fs_rec_size(uint64_t len)
{
    return FS_REC_HEADER_BYTES + ((len + FS_REC_ALIGN - 1) & ~(uint64_t)7);
}
/* Writes the header of r (r->crc is computed over it and data) and
 * returns the CRC. */
uint32_t fs_rec_encode(unsigned char *p, const struct fs_rec *r,
                       const void *data);
/* Decodes a header (no CRC check). */
void fs_rec_decode(const unsigned char *p, struct fs_rec *r);
/* The CRC a record with header p and payload data must carry. */
uint32_t fs_rec_crc(const unsigned char *p, const void *data, size_t len);

/* ---- snapshot file -----------------------------------------------------
 * The snapshot's bytes, then the membership (conf) bytes, then a footer:
 *  0  8  magic "CRAFTSNP"
 *  8  4  format version
 * 12  4  conf length
 * 16  8  index
 * 24  8  term
 * 32  8  data length
 * 40  4  CRC32C of the data
 * 44  4  CRC32C of the conf
 * 48 12  reserved, 0
 * 60  4  CRC32C of bytes 0..59
 * The file's size must be data length + conf length + 64.
 */
#define FS_SNAP_FOOTER_BYTES 64u
#define FS_SNAP_CONF_MAX (1024u * 1024u)
struct fs_snap_footer {
    uint32_t version;
    uint32_t conf_len;
    uint64_t index;
    uint64_t term;
    uint64_t data_len;
    uint32_t data_crc;
    uint32_t conf_crc;
};
void fs_snap_footer_encode(unsigned char *p, const struct fs_snap_footer *f);
/* 0, CRAFT_EMALFORMED (magic, conf_len > FS_SNAP_CONF_MAX),
 * CRAFT_ECHECKSUM, CRAFT_EVERSION. */
int fs_snap_footer_decode(const unsigned char *p, struct fs_snap_footer *f);

/* ---- names ------------------------------------------------------------- */

/* "segment-00000000000000000042" into buf (FS_NAME_MAX bytes). */
void fs_segment_name(char *buf, uint64_t first);
/* 1 and *first when name is a segment's name, else 0. */
int fs_segment_parse(const char *name, uint64_t *first);
void fs_snapshot_name(char *buf, uint64_t index, uint64_t term);
int fs_snapshot_parse(const char *name, uint64_t *index, uint64_t *term);

/* Little-endian helpers. */
static inline void fs_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void fs_put64(unsigned char *p, uint64_t v)
{
    fs_put32(p, (uint32_t)v);
    fs_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t fs_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t fs_get64(const unsigned char *p)
{
    return (uint64_t)fs_get32(p) | (uint64_t)fs_get32(p + 4) << 32;
}

/* 1 when the len bytes at p are all zero. */
int fs_all_zero(const void *p, size_t len);

#endif /* CRAFT_STORAGE_FORMAT_H */
