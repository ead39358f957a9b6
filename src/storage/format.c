/*
 * storage/format.c: encoding and checking the on-disk structures
 * (format.h documents every byte).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec/crc32c.h"
#include "craft.h"
#include "storage/format.h"

static const char META_MAGIC[8] = {'C', 'R', 'A', 'F', 'T', 'D', 'I', 'R'};
static const char HS_MAGIC[8] = {'C', 'R', 'A', 'F', 'T', 'H', 'S', 'T'};
static const char SEG_MAGIC[8] = {'C', 'R', 'A', 'F', 'T', 'L', 'O', 'G'};
static const char SNAP_MAGIC[8] = {'C', 'R', 'A', 'F', 'T', 'S', 'N', 'P'};

int fs_all_zero(const void *p, size_t len)
{
    const unsigned char *b = p;
    /* word at a time over the aligned middle */
    while (len > 0 && ((uintptr_t)b & 7u) != 0) {
        if (*b != 0) {
            return 0;
        }
        b++;
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        if (w != 0) {
            return 0;
        }
        b += 8;
        len -= 8;
    }
    while (len > 0) {
        if (*b != 0) {
            return 0;
        }
        b++;
        len--;
    }
    return 1;
}

/* ---- metadata ------------------------------------------------------ */

void fs_meta_encode(unsigned char *p, const struct fs_meta *m)
{
    memset(p, 0, FS_META_BYTES);
    memcpy(p, META_MAGIC, 8);
    fs_put32(p + 8, m->version);
    fs_put64(p + 16, m->cluster_id);
    fs_put64(p + 24, m->node_id);
    fs_put32(p + 60, craft_crc32c(0, p, 60));
}

int fs_meta_decode(const unsigned char *p, size_t len, struct fs_meta *m)
{
    if (len != FS_META_BYTES || memcmp(p, META_MAGIC, 8) != 0) {
        return CRAFT_EMALFORMED;
    }
    if (fs_get32(p + 60) != craft_crc32c(0, p, 60)) {
        return CRAFT_ECHECKSUM;
    }
    m->version = fs_get32(p + 8);
    m->cluster_id = fs_get64(p + 16);
    m->node_id = fs_get64(p + 24);
    if (m->version == 0) {
        return CRAFT_EMALFORMED;
    }
    return m->version > FS_FORMAT_VERSION ? CRAFT_EVERSION : CRAFT_OK;
}

/* ---- hard state ---------------------------------------------------- */

void fs_hs_encode(unsigned char *p, const struct fs_hs *h)
{
    memset(p, 0, FS_HS_SLOT_BYTES);
    memcpy(p, HS_MAGIC, 8);
    fs_put64(p + 8, h->seq);
    fs_put64(p + 16, h->term);
    fs_put64(p + 24, h->vote);
    fs_put32(p + 60, craft_crc32c(0, p, 60));
}

int fs_hs_decode(const unsigned char *p, struct fs_hs *h)
{
    if (memcmp(p, HS_MAGIC, 8) != 0) {
        return CRAFT_EMALFORMED;
    }
    if (fs_get32(p + 60) != craft_crc32c(0, p, 60)) {
        return CRAFT_ECHECKSUM;
    }
    h->seq = fs_get64(p + 8);
    h->term = fs_get64(p + 16);
    h->vote = fs_get64(p + 24);
    return CRAFT_OK;
}

/* ---- segments ------------------------------------------------------ */

void fs_seg_header_encode(unsigned char *p, uint64_t first)
{
    memset(p, 0, FS_SEG_HEADER_BYTES);
    memcpy(p, SEG_MAGIC, 8);
    fs_put32(p + 8, FS_FORMAT_VERSION);
    fs_put64(p + 16, first);
    fs_put32(p + 28, craft_crc32c(0, p, 28));
}

int fs_seg_header_decode(const unsigned char *p, uint64_t *first,
                         uint32_t *version)
{
    if (memcmp(p, SEG_MAGIC, 8) != 0) {
        return CRAFT_EMALFORMED;
    }
    if (fs_get32(p + 28) != craft_crc32c(0, p, 28)) {
        return CRAFT_ECHECKSUM;
    }
    *version = fs_get32(p + 8);
    *first = fs_get64(p + 16);
    if (*version == 0 || *first == 0) {
        return CRAFT_EMALFORMED;
    }
    return *version > FS_FORMAT_VERSION ? CRAFT_EVERSION : CRAFT_OK;
}

uint32_t fs_rec_crc(const unsigned char *p, const void *data, size_t len)
{
    uint32_t crc = craft_crc32c(0, p + 4, FS_REC_HEADER_BYTES - 4);
    return craft_crc32c(crc, data, len);
}

uint32_t fs_rec_encode(unsigned char *p, const struct fs_rec *r,
                       const void *data)
{
    fs_put32(p + 4, r->len);
    fs_put64(p + 8, r->index);
    fs_put64(p + 16, r->term);
    fs_put32(p + 24, r->type);
    fs_put32(p + 28, 0);
    fs_put64(p + 32, r->mark);
    uint32_t crc = fs_rec_crc(p, data, r->len);
    fs_put32(p, crc);
    return crc;
}

void fs_rec_decode(const unsigned char *p, struct fs_rec *r)
{
    r->crc = fs_get32(p);
    r->len = fs_get32(p + 4);
    r->index = fs_get64(p + 8);
    r->term = fs_get64(p + 16);
    r->type = fs_get32(p + 24);
    r->reserved = fs_get32(p + 28);
    r->mark = fs_get64(p + 32);
}

/* ---- snapshots ----------------------------------------------------- */

void fs_snap_footer_encode(unsigned char *p, const struct fs_snap_footer *f)
{
    memset(p, 0, FS_SNAP_FOOTER_BYTES);
    memcpy(p, SNAP_MAGIC, 8);
    fs_put32(p + 8, f->version);
    fs_put32(p + 12, f->conf_len);
    fs_put64(p + 16, f->index);
    fs_put64(p + 24, f->term);
    fs_put64(p + 32, f->data_len);
    fs_put32(p + 40, f->data_crc);
    fs_put32(p + 44, f->conf_crc);
    fs_put32(p + 60, craft_crc32c(0, p, 60));
}

int fs_snap_footer_decode(const unsigned char *p, struct fs_snap_footer *f)
{
    if (memcmp(p, SNAP_MAGIC, 8) != 0) {
        return CRAFT_EMALFORMED;
    }
    if (fs_get32(p + 60) != craft_crc32c(0, p, 60)) {
        return CRAFT_ECHECKSUM;
    }
    f->version = fs_get32(p + 8);
    f->conf_len = fs_get32(p + 12);
    f->index = fs_get64(p + 16);
    f->term = fs_get64(p + 24);
    f->data_len = fs_get64(p + 32);
    f->data_crc = fs_get32(p + 40);
    f->conf_crc = fs_get32(p + 44);
    if (f->version == 0 || f->index == 0 || f->conf_len == 0 ||
        f->conf_len > FS_SNAP_CONF_MAX) {
        return CRAFT_EMALFORMED;
    }
    return f->version > FS_FORMAT_VERSION ? CRAFT_EVERSION : CRAFT_OK;
}

/* ---- names --------------------------------------------------------- */

void fs_segment_name(char *buf, uint64_t first)
{
    snprintf(buf, FS_NAME_MAX, FS_SEGMENT_PREFIX "%020" PRIu64, first);
}

/* Parses exactly 20 decimal digits at s into *v; returns s + 20 or NULL. */
static const char *parse20(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    for (int k = 0; k < 20; k++) {
        if (s[k] < '0' || s[k] > '9') {
            return NULL;
        }
        uint64_t d = (uint64_t)(s[k] - '0');
        if (x > (UINT64_MAX - d) / 10) {
            return NULL;
        }
        x = x * 10 + d;
    }
    *v = x;
    return s + 20;
}

int fs_segment_parse(const char *name, uint64_t *first)
{
    size_t pl = sizeof(FS_SEGMENT_PREFIX) - 1;
    if (strncmp(name, FS_SEGMENT_PREFIX, pl) != 0) {
        return 0;
    }
    const char *e = parse20(name + pl, first);
    return e != NULL && *e == '\0' && *first != 0;
}

void fs_snapshot_name(char *buf, uint64_t index, uint64_t term)
{
    snprintf(buf, FS_NAME_MAX,
             FS_SNAPSHOT_PREFIX "%020" PRIu64 "-%020" PRIu64, index, term);
}

int fs_snapshot_parse(const char *name, uint64_t *index, uint64_t *term)
{
    size_t pl = sizeof(FS_SNAPSHOT_PREFIX) - 1;
    if (strncmp(name, FS_SNAPSHOT_PREFIX, pl) != 0) {
        return 0;
    }
    const char *e = parse20(name + pl, index);
    if (e == NULL || *e != '-') {
        return 0;
    }
    e = parse20(e + 1, term);
    return e != NULL && *e == '\0' && *index != 0;
}
